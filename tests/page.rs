//! The browser page (page/, docs/browser.md): its committed wasm build is
//! fresh (SOURCE-HASH, computed as tools/build-page does), it fits its size
//! budget, and in headless Chromium (tests/browser/page.mjs, as the web
//! view's tests) it finds in every fixture file, as a HAR and as a JSON
//! Lines log, exactly what `trakt-doctor lint --format json` finds, served
//! by `trakt-doctor open`, with no request after load and no secret shown.

mod common;
mod corpus;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};
use trakt_doctor::inspect::Offline;
use trakt_doctor::redact::Redactor;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The budget for what a visitor downloads to run the checks: the wasm and
/// every script of the page, each gzip-compressed.
const BUDGET: usize = 2 * 1024 * 1024;

// ---- The build is fresh, and small.

/// Every file under `dir`, as paths relative to the repository with `/`.
fn files_under(dir: &Path, out: &mut Vec<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let relative = path.strip_prefix(repo()).unwrap();
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

/// SHA-256 in hex, as sha256sum prints it (ring: already the proxy's).
fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What tools/build-page writes to page/pkg/SOURCE-HASH: the SHA-256 of the
/// lines "HASH  PATH" (sha256sum's), one per file under crates/core and
/// crates/wasm and for Cargo.lock, sorted by path.
fn source_hash() -> String {
    let mut paths = Vec::new();
    files_under(&repo().join("crates/core"), &mut paths);
    files_under(&repo().join("crates/wasm"), &mut paths);
    paths.push("Cargo.lock".into());
    paths.sort();
    let mut listing = String::new();
    for path in &paths {
        let bytes = std::fs::read(repo().join(path)).unwrap();
        listing.push_str(&format!("{}  {path}\n", sha256(&bytes)));
    }
    format!("sha256:{}", sha256(listing.as_bytes()))
}

#[test]
fn the_committed_wasm_is_built_from_these_sources() {
    let recorded = std::fs::read_to_string(repo().join("page/pkg/SOURCE-HASH"))
        .expect("page/pkg/SOURCE-HASH is missing: run tools/build-page");
    assert_eq!(
        recorded.trim(),
        source_hash(),
        "page/pkg is stale: run tools/build-page (crates/core, crates/wasm or Cargo.lock changed since it was built)"
    );
}

fn gzip(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}

#[test]
fn the_wasm_and_scripts_fit_the_size_budget() {
    let page = repo().join("page");
    let files = [
        "pkg/trakt_doctor_wasm_bg.wasm",
        "pkg/trakt_doctor_wasm.js",
        "app.js",
        "render.js",
        "worker.js",
    ];
    let mut raw = 0;
    let mut compressed = 0;
    for name in files {
        let bytes = std::fs::read(page.join(name)).unwrap_or_else(|e| panic!("page/{name}: {e}"));
        raw += bytes.len();
        compressed += gzip(&bytes);
    }
    let message = format!(
        "the page's wasm and scripts: {raw} bytes, {compressed} bytes gzip-compressed (budget {BUDGET})"
    );
    println!("{message}");
    assert!(compressed < BUDGET, "over budget: {message}");
    // The build carries no path of the machine it was made on.
    let wasm = std::fs::read(page.join("pkg/trakt_doctor_wasm_bg.wasm")).unwrap();
    let text = String::from_utf8_lossy(&wasm);
    for local in ["/home/", "/work/", "/root/", "/Users/", ".cargo/registry"] {
        assert!(
            !text.contains(local),
            "the wasm names a local path ({local})"
        );
    }
}

// ---- The fixtures as files a user would open.

/// A fixture request with an answer: 400 when the fixture expects an error
/// (Trakt's empty error answer), 200 with an empty object otherwise, and
/// every seventh without any (the connection failed), so the files hold
/// each kind of outcome.
fn answered(id: u64, request: Request, expects_error: bool) -> Exchange {
    let response = (!id.is_multiple_of(7)).then(|| Response {
        status: if expects_error { 400 } else { 200 },
        http_version: "HTTP/1.1".into(),
        headers: Headers(vec![("content-type".into(), "application/json".into())]),
        body: Body::complete(Bytes::from_static(if expects_error { b"" } else { b"{}" })),
    });
    Exchange {
        id,
        started_at: corpus::at() + time::Duration::seconds(i64::try_from(id).unwrap()),
        duration_ms: 12.5,
        request,
        error: response
            .is_none()
            .then(|| "upstream failed: connection reset".to_string()),
        response,
        findings: Vec::new(),
        fixes: Vec::new(),
        diagnosis: None,
        replay_of: None,
    }
}

fn expects_error(f: &serde_json::Value) -> bool {
    f["expect"].as_array().is_some_and(|e| !e.is_empty())
}

fn corpus_exchanges() -> Vec<Exchange> {
    corpus::fixtures()
        .iter()
        .zip(1..)
        .map(|(f, id)| answered(id, corpus::request(f), expects_error(f)))
        .collect()
}

fn session_exchanges() -> Vec<Exchange> {
    corpus::session_fixtures()
        .iter()
        .zip(1..)
        .map(|(f, id)| answered(id, corpus::session_request(f), expects_error(f)))
        .collect()
}

/// A JSON Lines log as the proxy writes it: each record inspected and
/// redacted with the install's key.
fn proxy_log(exchanges: &[Exchange]) -> String {
    let offline = Offline::new(Redactor::new(b"the test install's fingerprint key"));
    let mut out = String::new();
    for ex in exchanges {
        let mut ex = ex.clone();
        offline.lint(&mut ex);
        out.push_str(trakt_doctor::log::Record::new(&ex).json());
        out.push('\n');
    }
    out
}

/// The files the page and `lint` are given: each fixture as a HAR (one on
/// one line as trakt-doctor writes it, one spread over lines as browsers
/// do, secrets in clear) and as the proxy's log.
fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let corpus = corpus_exchanges();
    let session = session_exchanges();
    let pretty = |text: String| {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        serde_json::to_string_pretty(&value).unwrap()
    };
    let files = [
        ("requests.har", trakt_doctor_core::har::document(&corpus)),
        ("requests.jsonl", proxy_log(&corpus)),
        (
            "stremio-core-session.har",
            pretty(trakt_doctor_core::har::document(&session)),
        ),
        ("stremio-core-session.jsonl", proxy_log(&session)),
    ];
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// `trakt-doctor lint --format json FILE`, parsed.
fn lint_json(file: &Path, certs: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .arg("lint")
        .arg("--format")
        .arg("json")
        .arg("--certs")
        .arg(certs)
        .arg(file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lint {}: {e}\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `trakt-doctor open FILE`, its address read from what it prints.
struct Open {
    child: Child,
    url: String,
}

impl Open {
    fn start(file: Option<&Path>) -> Open {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"));
        command
            .arg("open")
            .args(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .trim()
            .strip_prefix("trakt-doctor: the page is at ")
            .unwrap_or_else(|| panic!("open printed {first:?}"))
            .to_string();
        Open { child, url }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_tools() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the page's browser test needs chromium: apt-get install chromium (or run .ci/run)"
    );
    assert!(
        repo().join("tests/browser/node_modules/playwright-core").exists(),
        "the page's browser test needs playwright-core: run `npm install` in tests/browser (or run .ci/run)"
    );
}

#[test]
fn the_page_finds_what_lint_finds_in_every_fixture_file() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let files = fixture_files(tmp.path());
    let servers: Vec<Open> = files.iter().map(|f| Open::start(Some(f))).collect();
    let cases: Vec<serde_json::Value> = files
        .iter()
        .zip(&servers)
        .map(|(file, server)| {
            serde_json::json!({
                "name": file.file_name().unwrap().to_string_lossy(),
                "file": file,
                "url": server.url,
                "expected": lint_json(file, &certs),
            })
        })
        .collect();
    // One more: the page alone, the file picked as a user would.
    let plain = Open::start(None);
    let secrets = [corpus::TOKEN, "stremio-authkey-placeholder"];
    let config = serde_json::json!({
        "cases": cases,
        "pick": { "url": plain.url, "file": files[0], "expected": cases[0]["expected"] },
        "secrets": secrets,
    });
    // The expected findings are too long for a command line: in a file.
    let config_file = tmp.path().join("page-test.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let (ok, text) = common::node_script(&repo().join("tests/browser/page.mjs"), &config_file);
    assert!(ok, "{text}");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(text.contains(&format!("{name}: same findings")), "{text}");
    }
    assert!(
        text.contains("no request after load") && text.contains("OK"),
        "{text}"
    );
    println!("{text}");
}

#[test]
fn open_serves_the_page_with_its_types_and_policy_and_only_here() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("capture.har");
    std::fs::write(
        &file,
        trakt_doctor_core::har::document(&session_exchanges()),
    )
    .unwrap();
    let server = Open::start(Some(&file));
    assert!(server.url.ends_with("/?file=capture.har"), "{}", server.url);
    let base = server.url.trim_end_matches("?file=capture.har").to_string();
    let get = |path: &str, host: Option<&str>| {
        let mut args = vec![
            "--silent".to_string(),
            "--include".into(),
            format!("{base}{path}"),
        ];
        if let Some(host) = host {
            args.extend(["-H".into(), format!("Host: {host}")]);
        }
        let out = Command::new("curl")
            .args(&args)
            .output()
            .expect("curl is needed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wasm = get("pkg/trakt_doctor_wasm_bg.wasm", None);
    assert!(
        wasm.contains("content-type: application/wasm"),
        "{}",
        &wasm[..300.min(wasm.len())]
    );
    let script = get("worker.js", None);
    assert!(script.contains("content-type: text/javascript"), "{script}");
    let index = get("", None);
    assert!(
        index.contains("connect-src 'self'") && index.contains("cache-control: no-store"),
        "{index}"
    );
    assert!(get("file", None).contains("\"entries\""));
    assert!(get("../Cargo.toml", None).starts_with("HTTP/1.1 404"));
    // Another name for this computer (DNS rebinding) gets nothing.
    assert!(get("file", Some("attacker.example:80")).starts_with("HTTP/1.1 403"));
}
