//! The fixture corpus: requests as real clients send them, good and broken.
//! Every valid one must lint without errors (nor warnings); every broken one
//! must produce exactly the rule ids it lists.

use std::collections::BTreeSet;

use serde_json::Value;
use trakt_doctor::exchange::Request;
use trakt_doctor::lint::Scope;

mod corpus;

struct Case {
    name: String,
    /// The line of Trakt's contract an expectation rests on, where the
    /// contract (not the old hand-written table) decided it.
    contract: Option<String>,
    request: Request,
    expect: BTreeSet<String>,
}

fn load() -> Vec<Case> {
    corpus::fixtures()
        .iter()
        .map(|f| Case {
            name: f["name"].as_str().unwrap().to_string(),
            contract: f
                .get("contract")
                .and_then(Value::as_str)
                .map(str::to_string),
            request: corpus::request(f),
            expect: f["expect"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

use corpus::at;

#[test]
fn the_corpus_is_large_and_covers_every_stateless_rule() {
    let cases = load();
    assert!(cases.len() >= 80, "only {} fixtures", cases.len());
    let valid = cases.iter().filter(|c| c.expect.is_empty()).count();
    assert!(
        valid >= 30 && cases.len() - valid >= 50,
        "{valid} valid of {}",
        cases.len()
    );
    let covered: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.expect.iter().map(String::as_str))
        .collect();
    for rule in trakt_doctor::lint::catalogue() {
        // Only request rules can fire on a request alone: session rules need several
        // exchanges, response rules a response (tested in src/session.rs,
        // src/lint/response.rs, tests/stremio.rs), internal ones a stage that panics
        // (src/inspect.rs). body.not-linted needs a truncated or non-UTF-8 body, which
        // this text corpus cannot carry (tests/bounds.rs sends one); likewise
        // body.encoding.undecodable a compressed body (src/lint/coding.rs, tests/coding.rs).
        let stateful = rule.scope != Scope::Request
            || rule.id == trakt_doctor::lint::body::NOT_LINTED.id
            || rule.id == trakt_doctor::lint::coding::REQUEST_UNDECODABLE.id;
        assert!(
            stateful || covered.contains(rule.id),
            "no fixture exercises {}",
            rule.id
        );
    }
}

#[test]
fn every_fixture_yields_exactly_its_expected_rules() {
    let mut failures = Vec::new();
    for case in load() {
        let findings = trakt_doctor::lint::check(&case.request, at());
        let got: BTreeSet<String> = findings.iter().map(|f| f.rule.to_string()).collect();
        if got != case.expect {
            let because = case
                .contract
                .as_deref()
                .map_or(String::new(), |c| format!(" (contract: {c})"));
            failures.push(format!(
                "{}{because}: expected {:?}, got {:?}",
                case.name, case.expect, findings
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One full session of Stremio's own client core (stremio-core-web 0.62,
/// recorded by tests/stremio_core.rs with RECORD_STREMIO_CORE=1: login, the
/// Trakt link with --fix, InstallTraktAddon, a movie and an episode played,
/// LogoutTrakt, logout), secrets replaced by placeholders. Every request must
/// lint to exactly the rules the live proxy reported on it, and none may be
/// an error or a warning: this is what Stremio really sends.
#[test]
fn a_real_stremio_core_session_lints_as_recorded() {
    let severity: std::collections::BTreeMap<&str, trakt_doctor::report::Severity> =
        trakt_doctor::lint::catalogue()
            .into_iter()
            .map(|r| (r.id, r.severity))
            .collect();
    let mut failures = Vec::new();
    let mut methods = BTreeSet::new();
    let mut lines = 0;
    for f in corpus::session_fixtures() {
        lines += 1;
        let request = corpus::session_request(&f);
        if let Some(method) = request.url.strip_prefix("https://api.strem.io/api/") {
            methods.insert(method.to_string());
        }
        let expect: BTreeSet<String> = f["expect"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let findings = trakt_doctor::lint::check(&request, at());
        let got: BTreeSet<String> = findings.iter().map(|f| f.rule.to_string()).collect();
        if got != expect {
            failures.push(format!(
                "{}: expected {expect:?}, got {findings:?}",
                f["name"]
            ));
        }
        for id in &got {
            if matches!(
                severity.get(id.as_str()),
                Some(
                    trakt_doctor::report::Severity::Error | trakt_doctor::report::Severity::Warning
                )
            ) {
                failures.push(format!("{}: {id} on what Stremio really sends", f["name"]));
            }
        }
        let line = f.to_string();
        assert!(
            !line.contains("authkey-core-test") && !line.contains("pw-core-test"),
            "a secret in the fixture: {line}"
        );
    }
    assert!(lines >= 20, "only {lines} requests");
    for method in [
        "login",
        "getUser",
        "events",
        "datastorePut",
        "addonCollectionSet",
        "saveUser",
        "logout",
    ] {
        assert!(
            methods.contains(method),
            "the session has no {method}: {methods:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} request(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
