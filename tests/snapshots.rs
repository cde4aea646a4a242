//! Snapshots of the whole finding for every fixture (issue 28): not only the
//! rule ids that tests/lint_corpus.rs checks, but each finding's severity,
//! location, message and fix, what auto-fix (`--fix`, every rule) makes of
//! the request, and what the repaired request still draws. A changed word in
//! a message shows up here as a diff to review.
//!
//! One snapshot per fixture, named from the fixture's name:
//! `tests/snapshots/requests/` for tests/fixtures/requests.jsonl, and
//! `tests/snapshots/stremio-core-session/` for the Stremio lens on
//! tests/fixtures/stremio-core-session.jsonl. The fixtures carry requests
//! only (no answer), so there is no diagnosis to pin.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test --test snapshots`
//! rewrites them (or `cargo insta review` with cargo-insta), then read the
//! diff before committing. With `CI=true` a mismatch fails and nothing is written.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use trakt_doctor::exchange::Request;
use trakt_doctor::fix::FixPolicy;
use trakt_doctor::report::Finding;

// The same requests as tests/lint_corpus.rs: one loader serves both.
mod corpus;
use corpus::at;

struct Case {
    name: String,
    request: Request,
}

/// tests/fixtures/requests.jsonl, as tests/lint_corpus.rs reads it.
fn corpus() -> Vec<Case> {
    corpus::fixtures()
        .iter()
        .map(|f| Case {
            name: f["name"].as_str().unwrap().to_string(),
            request: corpus::request(f),
        })
        .collect()
}

/// tests/fixtures/stremio-core-session.jsonl: each request as Stremio's core sent it.
fn stremio_core_session() -> Vec<Case> {
    corpus::session_fixtures()
        .iter()
        .map(|f| Case {
            name: f["name"].as_str().unwrap().to_string(),
            request: corpus::session_request(f),
        })
        .collect()
}

/// A snapshot's file name from a fixture's name: lower case, runs of
/// anything but letters and digits as one `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Text with the characters a reader cannot see (control characters, a
/// byte order mark, zero-width and non-breaking spaces) written as escapes.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || matches!(
                c,
                '\u{a0}' | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
            )
        {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// The request as it would go out: request line, headers (quoted, so
/// spaces at either end show), and the body with its length in bytes.
fn render_request(out: &mut String, request: &Request) {
    let _ = writeln!(out, "{} {}", request.method, visible(&request.url));
    for (name, value) in &request.headers.0 {
        let _ = writeln!(out, "  {}: {:?}", visible(name), value);
    }
    let body = &request.body.bytes;
    if body.is_empty() {
        let _ = writeln!(out, "  (no body)");
    } else {
        let _ = writeln!(
            out,
            "  body ({} bytes): {}",
            body.len(),
            visible(&String::from_utf8_lossy(body))
        );
    }
}

fn render_finding(out: &mut String, finding: &Finding) {
    let _ = writeln!(
        out,
        "- {} {}{}",
        finding.severity.as_str(),
        finding.rule,
        if finding.fixed { " (fixed)" } else { "" }
    );
    let _ = writeln!(
        out,
        "  at: {} ({:?})",
        visible(finding.location.as_str()),
        finding.location.kind()
    );
    let _ = writeln!(out, "  message: {}", visible(&finding.message));
    if let Some(fix) = &finding.fix {
        let _ = writeln!(out, "  fix: {fix:?}");
    }
}

/// Everything the linter says about one request, as text to review.
fn render(case: &Case) -> String {
    let mut out = String::new();
    out.push_str("request:\n");
    render_request(&mut out, &case.request);

    let mut findings = trakt_doctor::lint::check(&case.request, at());
    let fixed = trakt_doctor::fix::apply(&case.request, &mut findings, &FixPolicy::All);

    let _ = writeln!(out, "\nfindings: {}", findings.len());
    for finding in &findings {
        render_finding(&mut out, finding);
    }

    match fixed {
        None if findings.iter().any(|f| f.fix.is_some()) => {
            out.push_str("\nauto-fix: nothing to change\n");
        }
        None => {}
        Some((repaired, records)) => {
            out.push_str("\nauto-fix (--fix, every rule):\n");
            for record in &records {
                let _ = writeln!(
                    out,
                    "- {} at {}: {} -> {}",
                    record.rule,
                    visible(&record.location),
                    visible(&record.before),
                    visible(&record.after)
                );
            }
            out.push_str("\nrepaired request:\n");
            render_request(&mut out, &repaired);
            let after = trakt_doctor::lint::check(&repaired, at());
            let _ = writeln!(out, "\nfindings on the repaired request: {}", after.len());
            for finding in &after {
                let _ = writeln!(out, "- {} {}", finding.severity.as_str(), finding.rule);
            }
        }
    }
    out
}

/// Checks one snapshot per case under `tests/snapshots/<dir>/`, going on past
/// a mismatch so that one run lists them all, and fails on a snapshot file
/// that no fixture writes any more (a fixture renamed or removed).
fn check_all(dir: &str, cases: &[Case]) {
    let mut names = BTreeSet::new();
    let mut failed = Vec::new();
    for case in cases {
        let name = slug(&case.name);
        assert!(
            names.insert(name.clone()),
            "two fixtures in {dir} make the snapshot name {name}"
        );
        let text = render(case);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(format!("snapshots/{dir}"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(case.name.as_str());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name.as_str(), text));
        }));
        if outcome.is_err() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "{} snapshot(s) in tests/snapshots/{dir} differ (see the diffs above; \
         `INSTA_UPDATE=always cargo test --test snapshots` rewrites them after an intended change):\n{}",
        failed.len(),
        failed.join("\n")
    );

    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(dir);
    let stale: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .filter_map(|entry| {
            let file = entry.ok()?.file_name().into_string().ok()?;
            let name = file.strip_suffix(".snap")?;
            (!names.contains(name)).then(|| file.clone())
        })
        .collect();
    assert!(
        stale.is_empty(),
        "snapshot(s) in {} that no fixture writes (delete them): {stale:?}",
        folder.display()
    );
}

#[test]
fn every_fixture_of_the_lint_corpus_renders_as_its_snapshot() {
    let cases = corpus();
    assert!(cases.len() >= 80, "only {} fixtures", cases.len());
    check_all("requests", &cases);
}

#[test]
fn every_request_of_the_stremio_core_session_renders_as_its_snapshot() {
    let cases = stremio_core_session();
    assert!(cases.len() >= 20, "only {} requests", cases.len());
    check_all("stremio-core-session", &cases);
}

#[test]
fn snapshot_names_are_readable_file_names() {
    assert_eq!(
        slug("add to history: movies and an episode"),
        "add-to-history-movies-and-an-episode"
    );
    assert_eq!(
        slug("stremio-core 01 POST /api/login"),
        "stremio-core-01-post-api-login"
    );
    assert_eq!(slug("  odd -- name!  "), "odd-name");
}
