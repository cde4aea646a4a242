//! The command line as a user meets it: the `ca` commands, and the clear
//! one-line errors (exit status 2, never a panic) for bad configuration.

mod common;

use std::process::{Command, Output};

fn trakt_doctor(args: &[&str]) -> Output {
    // A command without --certs must never touch the real user's CA folder.
    static HOME: std::sync::LazyLock<tempfile::TempDir> =
        std::sync::LazyLock::new(|| tempfile::tempdir().unwrap());
    Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .args(args)
        .env("HOME", HOME.path())
        .env("APPDATA", HOME.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("TRAKT_DOCTOR_CERTS")
        .env("NO_COLOR", "1")
        .output()
        .expect("run trakt-doctor")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clear_failure(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn ca_export_path_and_regenerate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    let export = trakt_doctor(&["ca", "export", "--certs", certs]);
    assert!(export.status.success(), "{}", stderr(&export));
    let pem = String::from_utf8_lossy(&export.stdout).into_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(!pem.contains("PRIVATE KEY"));

    let path = trakt_doctor(&["ca", "path", "--certs", certs]);
    let printed = String::from_utf8_lossy(&path.stdout).trim().to_string();
    assert_eq!(std::fs::read_to_string(&printed).unwrap(), pem);

    let again = trakt_doctor(&["ca", "export", "--certs", certs]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        pem,
        "export must not replace the CA"
    );

    let regen = trakt_doctor(&[
        "ca",
        "regenerate",
        "--certs",
        certs,
        "--intercept",
        "api.trakt.tv",
        "--intercept",
        "example.org",
    ]);
    assert!(regen.status.success(), "{}", stderr(&regen));
    assert!(stderr(&regen).contains("trust this one"));
    assert_ne!(std::fs::read_to_string(&printed).unwrap(), pem);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("trakt-doctor-ca.key");
        assert_eq!(
            std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn a_corrupt_ca_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    assert!(trakt_doctor(&["ca", "export", "--certs", certs])
        .status
        .success());
    std::fs::write(dir.path().join("trakt-doctor-ca.pem"), "garbage").unwrap();
    let out = trakt_doctor(&["--certs", certs, "--listen", "127.0.0.1:0"]);
    assert_clear_failure(&out, "ca regenerate");
    std::fs::write(dir.path().join("trakt-doctor-ca.key"), [0xff, 0xfe, 0x00]).unwrap();
    let out = trakt_doctor(&["ca", "export", "--certs", certs]);
    assert_clear_failure(&out, "trakt-doctor-ca.key");
}

#[test]
fn intercepting_a_host_outside_the_ca_explains_how_to_regenerate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    assert!(trakt_doctor(&["ca", "export", "--certs", certs])
        .status
        .success());
    let out = trakt_doctor(&[
        "--certs",
        certs,
        "--listen",
        "127.0.0.1:0",
        "--intercept",
        "bank.example",
    ]);
    assert_clear_failure(&out, "ca regenerate --intercept bank.example");
}

#[test]
fn unsafe_or_unusable_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    let lan = trakt_doctor(&["--certs", certs, "--listen", "0.0.0.0:0"]);
    assert_clear_failure(&lan, "--allow-lan");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let busy = trakt_doctor(&["--certs", certs, "--listen", &addr]);
    assert_clear_failure(&busy, "--listen 127.0.0.1:PORT");

    let no_log = trakt_doctor(&[
        "--certs",
        certs,
        "--listen",
        "127.0.0.1:0",
        "--log",
        "/nonexistent-dir/x.jsonl",
    ]);
    assert_clear_failure(&no_log, "cannot open the log file");

    let missing_ca = trakt_doctor(&[
        "--certs",
        certs,
        "--listen",
        "127.0.0.1:0",
        "--upstream-ca",
        "/nonexistent.pem",
    ]);
    assert_clear_failure(&missing_ca, "--upstream-ca /nonexistent.pem");

    let bad_flag = trakt_doctor(&["--listen", "not-an-address"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(stderr(&bad_flag).contains("--listen"));
}

#[test]
fn help_explains_the_quick_start() {
    let out = trakt_doctor(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in ["--intercept", "--resolve", "--log", "Quick start", "ca"] {
        assert!(text.contains(needle), "help lacks {needle}");
    }
}

const HAR: &str = r#"{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"entries":[
 {"startedDateTime":"2026-11-24T10:00:00.000Z","time":50,
  "request":{"method":"POST","url":"https://api.trakt.tv/scrobble/start","httpVersion":"HTTP/1.1",
   "headers":[{"name":"Content-Type","value":"application/json"},{"name":"User-Agent","value":"Addon/1.0"},
              {"name":"trakt-api-version","value":"2"},{"name":"trakt-api-key","value":"0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b"},
              {"name":"Authorization","value":"Bearer secret-token-value"}],
   "postData":{"mimeType":"application/json","text":"{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10,}"}},
  "response":{"status":400,"httpVersion":"HTTP/1.1","headers":[],"content":{"size":0,"mimeType":"application/json"}}},
 {"startedDateTime":"2026-11-24T10:00:05.000Z","time":40,
  "request":{"method":"GET","url":"https://www.strem.io/unrelated","httpVersion":"HTTP/1.1","headers":[]},
  "response":{"status":200,"httpVersion":"HTTP/1.1","headers":[],"content":{"size":0}}}]}}"#;

#[test]
fn lint_reads_a_har_and_exits_1_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("stremio-web.har");
    std::fs::write(&har, HAR).unwrap();
    let out = trakt_doctor(&["lint", har.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("body.json.invalid"), "{text}");
    assert!(text.contains("400 because the body is not JSON"), "{text}");
    assert!(text.contains("2 exchange(s) linted: 1 error(s)"), "{text}");
    assert!(!text.contains("secret-token-value"));

    let json = trakt_doctor(&["lint", "--format", "json", har.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 2);
    assert_eq!(report[0]["findings"][0]["rule"], "body.json.invalid");
    assert_eq!(report[0]["status"], 400);
}

/// An entry whose inspection trips a bug (this URL panicked in the route
/// linter) is reported, and the linter goes on to the next entry.
#[test]
fn lint_goes_on_past_an_entry_that_trips_an_inspection_bug() {
    let entry = |url: &str| {
        format!(
            r#"{{"startedDateTime":"2026-11-24T10:00:00.000Z","time":1e300,
  "request":{{"method":"GET","url":"{url}","httpVersion":"HTTP/1.1","headers":[{{"name":"User-Agent","value":"A/1"}},{{"name":"trakt-api-version","value":"2"}}]}},
  "response":{{"status":429,"httpVersion":"HTTP/1.1","headers":[{{"name":"Retry-After","value":"1e300"}}],"content":{{"size":0}}}}}}"#
        )
    };
    let har = format!(
        r#"{{"log":{{"version":"1.2","creator":{{"name":"t","version":"1"}},"entries":[{},{}]}}}}"#,
        entry("https://api.trakt.tv/movies/%E2%82%ACab"),
        entry("https://api.trakt.tv/movies/trending")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crasher.har");
    std::fs::write(&path, har).unwrap();
    let out = trakt_doctor(&["lint", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}: {text}{}",
        out.status.code(),
        stderr(&out)
    );
    assert!(text.contains("2 exchange(s) linted"), "{text}");
    let json = trakt_doctor(&["lint", "--format", "json", path.to_str().unwrap()]);
    assert!(
        matches!(json.status.code(), Some(0 | 1)),
        "{}",
        stderr(&json)
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 2);
    assert_eq!(report[0]["url"], "https://api.trakt.tv/movies/%E2%82%ACab");
    assert_eq!(report[1]["status"], 429);
}

#[test]
fn lint_reads_its_own_jsonl_and_exits_0_when_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("clean.jsonl");
    let record = r#"{"id":1,"started_at":"2026-11-24T10:00:00Z","duration_ms":3.0,"request":{"method":"GET","url":"https://api.trakt.tv/movies/trending","http_version":"HTTP/1.1","headers":{"user-agent":"A/1","trakt-api-version":"2","trakt-api-key":"0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b"},"body":null},"response":{"status":200,"headers":{},"body":null},"findings":[],"fixes":[],"diagnosis":null}"#;
    std::fs::write(&log, format!("{record}\n{record}\n")).unwrap();
    let out = trakt_doctor(&["lint", log.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("2 exchange(s) linted: 0 error(s), 0 warning(s)"));
}

#[test]
fn lint_of_unreadable_input_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, "{\"id\":1}\nnot json\n").unwrap();
    assert_clear_failure(&trakt_doctor(&["lint", broken.to_str().unwrap()]), "line 1");
    assert_clear_failure(
        &trakt_doctor(&["lint", "/nonexistent.har"]),
        "cannot read /nonexistent.har",
    );
}

#[test]
fn rules_prints_the_catalogue() {
    let out = trakt_doctor(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("header.api-version.missing (error, auto-fix)"));
    assert!(text.contains("session.refresh-token.reused"));
    assert!(text.contains("  source: Trakt docs: guides/rate-limiting.md"));
    let json = trakt_doctor(&["rules", "--format", "json"]);
    let rules: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(rules.as_array().unwrap().len() >= 40);
    for rule in rules.as_array().unwrap() {
        assert!(!rule["source"].as_str().unwrap().is_empty(), "{rule}");
        assert!(
            !rule["source_kinds"].as_array().unwrap().is_empty(),
            "{rule}"
        );
    }
}
