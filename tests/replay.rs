//! `trakt-doctor replay` through the binary against the loopback fake
//! Trakt: a request recorded by the proxy is sent again as captured and
//! with auto-fix's repairs (a 400 becomes a 201), a spent refresh token is
//! refused before it is sent, copy as curl sends the same bytes when bash
//! runs it, and no secret is ever written by any of it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
const TOKEN: &str = "real-access-token-4f1d9c2b7a6e";
const REFRESH: &str = "real-refresh-token-8c3b1e5d";
const CLIENT_SECRET: &str = "real-client-secret-2a7f";
const MOVIE: &str = r#"{"movie":{"ids":{"trakt":28}},"progress":10}"#;

/// The exchange the proxy recorded first in `log`, and the fake it went to:
/// what each `trakt-doctor replay` here sends again.
struct Recorded<'a> {
    fake: &'a FakeUpstream,
    ca: &'a TestCa,
    certs: PathBuf,
    log: PathBuf,
    id: String,
}

impl<'a> Recorded<'a> {
    /// Waits for `proxy`'s first record in `log`.
    fn first(fake: &'a FakeUpstream, ca: &'a TestCa, proxy: &ProxyProcess, log: &Path) -> Self {
        let records = wait_for_records(log, 1);
        Recorded {
            fake,
            ca,
            certs: proxy.certs.path().to_path_buf(),
            log: log.to_path_buf(),
            id: records[0]["id"].as_u64().unwrap().to_string(),
        }
    }

    /// `trakt-doctor replay LOG --id ID` with `extra` and `env`.
    fn replay(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        self.replay_from(&self.log, extra, env)
    }

    /// Runs `trakt-doctor replay SOURCE --id ID` with `extra` and `env`, no
    /// terminal on stdin, routed to the fake and trusting its CA.
    fn replay_from(&self, source: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"));
        command
            .arg("replay")
            .arg(source)
            .args(["--id", &self.id])
            .args(extra)
            .arg("--certs")
            .arg(&self.certs)
            .args(route_to(self.fake, self.ca))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for kind in [
            "TRAKT_ACCESS_TOKEN",
            "TRAKT_REFRESH_TOKEN",
            "TRAKT_CLIENT_SECRET",
        ] {
            command.env_remove(kind);
        }
        command.envs(env.iter().copied());
        command.output().expect("run trakt-doctor replay")
    }
}

/// Asserts that `output` exited with `code` (showing what it said if not);
/// its stdout.
fn exited(output: &Output, code: i32) -> String {
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{stdout}{}",
        text(&output.stderr)
    );
    stdout
}

/// Asserts that `output` is a refusal (exit status 2); what it said.
fn refusal(output: &Output) -> String {
    exited(output, 2);
    text(&output.stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that none of `secrets` appears in any of `files` or `outputs`.
fn no_secret_written(secrets: &[&str], files: &[&Path], outputs: &[&Output]) {
    for file in files {
        let written = std::fs::read_to_string(file).unwrap_or_default();
        for secret in secrets {
            assert!(
                !written.contains(secret),
                "{} holds a secret:\n{written}",
                file.display()
            );
        }
    }
    for output in outputs {
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        for secret in secrets {
            assert!(!all.contains(secret), "the output holds a secret:\n{all}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_400_is_replayed_as_captured_then_fixed_into_a_201() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("s.har");
    let har_arg = har.display().to_string();
    let (proxy, log, _logdir) = logged_proxy(&fake, &ca, &["--har", &har_arg]);
    // No trakt-api-version: the strict fake answers 400.
    let sent = proxy.curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "User-Agent: ReplayTest/1.0",
        "-H",
        &format!("trakt-api-key: {CLIENT_ID}"),
        "-H",
        &format!("Authorization: Bearer {TOKEN}"),
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        MOVIE,
        "https://api.trakt.tv/scrobble/start",
    ]);
    assert_eq!(text(&sent.stdout), "400");
    let recorded = Recorded::first(&fake, &ca, &proxy, &log);
    let id = &recorded.id;
    let out = dir.path().join("replay.jsonl");
    let out_arg = out.display().to_string();

    // A write without --yes and without a terminal is not sent.
    let unconfirmed = recorded.replay(&[], &[("TRAKT_ACCESS_TOKEN", TOKEN)]);
    let said = refusal(&unconfirmed);
    assert!(
        said.contains("--yes") && said.contains("scrobble"),
        "{said}"
    );
    // Without the token, the error names it and the variable that can hold it.
    let no_token = recorded.replay(&["--yes"], &[]);
    let said = refusal(&no_token);
    assert!(
        said.contains("access token") && said.contains("TRAKT_ACCESS_TOKEN"),
        "{said}"
    );
    assert_eq!(fake.received().len(), 1, "nothing may be sent when refused");

    // As captured: the same 400, marked as a resend, exit status 1.
    let as_captured = recorded.replay(
        &["--yes", "--log", &out_arg],
        &[("TRAKT_ACCESS_TOKEN", TOKEN)],
    );
    let stdout = exited(&as_captured, 1);
    assert!(
        stdout.contains("400") && stdout.contains(&format!("[resend of #{id}]")),
        "{stdout}"
    );
    assert!(stdout.contains("header.api-version.missing"), "{stdout}");
    let received = fake.received();
    assert_eq!(received.len(), 2);
    let (original, resent) = (&received[0], &received[1]);
    assert_eq!(resent.method, original.method);
    assert_eq!(resent.path, original.path);
    assert_eq!(resent.body, original.body);
    for name in [
        "authorization",
        "trakt-api-key",
        "content-type",
        "user-agent",
    ] {
        assert_eq!(
            resent.headers.get(name),
            original.headers.get(name),
            "{name}"
        );
    }
    assert!(resent.headers.get("trakt-api-version").is_none());

    // With fixes, from the HAR this time, the token given by --header: 201, exit 0.
    let fixed = recorded.replay_from(
        &har,
        &[
            "--fix",
            "--yes",
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
            "--log",
            &out_arg,
        ],
        &[],
    );
    let stdout = exited(&fixed, 0);
    assert!(
        stdout.contains("201") && stdout.contains("[fixed]"),
        "{stdout}"
    );
    let last = fake.received().pop().unwrap();
    assert_eq!(last.headers.get("trakt-api-version").unwrap(), "2");
    assert_eq!(
        last.headers.get("authorization").unwrap(),
        &format!("Bearer {TOKEN}")
    );
    assert_eq!(last.body, original.body);

    // Every replay is recorded with replay_of and the fix that was made.
    let replays = read_jsonl(&out);
    assert_eq!(replays.len(), 2);
    assert!(replays
        .iter()
        .all(|r| r["replay_of"].as_u64().map(|n| n.to_string()) == Some(id.clone())));
    assert_eq!(replays[1]["response"]["status"], 201);
    assert_eq!(replays[1]["fixes"][0]["rule"], "header.api-version.missing");
    // The proxy's own record has no replay_of: the field is only there when set.
    assert!(read_jsonl(&log)[0].get("replay_of").is_none());

    no_secret_written(
        &[TOKEN],
        &[&log, &har, &out],
        &[&unconfirmed, &no_token, &as_captured, &fixed],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_refresh_token_is_refused_unless_forced() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let (proxy, log, dir) = logged_proxy(&fake, &ca, &[]);
    let body = format!(
        r#"{{"refresh_token":"{REFRESH}","client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"refresh_token"}}"#
    );
    let sent = proxy.curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "User-Agent: ReplayTest/1.0",
        "-H",
        "Content-Type: application/json",
        "-H",
        "trakt-api-version: 2",
        "-H",
        &format!("trakt-api-key: {CLIENT_ID}"),
        "--data-binary",
        &body,
        "https://api.trakt.tv/oauth/token",
    ]);
    assert_eq!(text(&sent.stdout), "200");
    let recorded = Recorded::first(&fake, &ca, &proxy, &log);
    let out = dir.path().join("replay.jsonl");
    let out_arg = out.display().to_string();
    let secrets = [
        ("TRAKT_REFRESH_TOKEN", REFRESH),
        ("TRAKT_CLIENT_SECRET", CLIENT_SECRET),
    ];

    let refused = recorded.replay(&["--yes", "--log", &out_arg], &secrets);
    let said = refusal(&refused);
    assert!(
        said.contains("already used") && said.contains("--force"),
        "{said}"
    );
    assert_eq!(fake.received().len(), 1, "a refused resend sends nothing");

    // Forced: sent, and Trakt (the fake) says invalid_grant, as predicted.
    let forced = recorded.replay(
        &[
            "--yes",
            "--force",
            "--log",
            &out_arg,
            "--secret",
            &format!("refresh_token={REFRESH}"),
        ],
        &[("TRAKT_CLIENT_SECRET", CLIENT_SECRET)],
    );
    let stdout = exited(&forced, 1);
    assert!(
        stdout.contains("400") && stdout.contains("session.refresh-token.reused"),
        "{stdout}"
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].body, received[0].body);
    no_secret_written(
        &[REFRESH, CLIENT_SECRET],
        &[&log, &out],
        &[&refused, &forced],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_as_curl_run_by_bash_sends_what_was_recorded() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (proxy, log, dir) = logged_proxy(&fake, &ca, &[]);
    let body = "{\"title\":\"L'été \\\"$HOME\\\" `x` $(id)\",\n \"note\":\"naïve — ✓\"}\n";
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, body).unwrap();
    let body_arg = format!("@{}", body_file.display());
    let sent = proxy.curl(&[
        "-o",
        "/dev/null",
        "--globoff",
        "-X",
        "PUT",
        "-H",
        "User-Agent: Curl \"Test\" it's $USER",
        "-H",
        "X-Quote: a 'b' \"c\" \\d",
        "-H",
        &format!("Authorization: Bearer {TOKEN}"),
        "-H",
        "Content-Type: application/json; charset=utf-8",
        "--data-binary",
        &body_arg,
        "https://api.trakt.tv/users/me/lists/1?x=[1]&y=a%20b&z=$",
    ]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let recorded = Recorded::first(&fake, &ca, &proxy, &log);

    let printed = recorded.replay(&["--curl"], &[]);
    let command = exited(&printed, 0);
    assert!(
        command.contains("$TRAKT_ACCESS_TOKEN") && !command.contains(TOKEN),
        "{command}"
    );
    // bash runs the command as printed; a function adds what reaches the fake.
    let shim = format!(
        "curl() {{ command curl --silent --show-error --max-time 20 -o /dev/null --cacert '{}' --connect-to 'api.trakt.tv:443:{}' \"$@\"; }}\n",
        ca.pem_path.display(),
        fake.addr
    );
    let ran = Command::new("bash")
        .arg("-c")
        .arg(format!("{shim}{command}"))
        .env("TRAKT_ACCESS_TOKEN", TOKEN)
        .env("HOME", "/nonexistent-home")
        .output()
        .expect("bash");
    assert!(ran.status.success(), "{}\n{command}", text(&ran.stderr));
    let received = fake.received();
    assert_eq!(received.len(), 2, "{command}");
    let (original, copied) = (&received[0], &received[1]);
    assert_eq!(copied.method, "PUT");
    assert_eq!(copied.path, original.path);
    assert_eq!(copied.body, original.body);
    assert_eq!(copied.body, body.as_bytes());
    let names = |r: &Received| {
        let mut names: Vec<String> = r
            .headers
            .keys()
            .map(|n| n.as_str().to_string())
            .filter(|n| n != "host" && n != "content-length")
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(copied), names(original));
    for name in names(original) {
        assert_eq!(
            copied
                .headers
                .get_all(name.as_str())
                .iter()
                .collect::<Vec<_>>(),
            original
                .headers
                .get_all(name.as_str())
                .iter()
                .collect::<Vec<_>>(),
            "{name}"
        );
    }
    // The PowerShell form is printed too (not run: no PowerShell here).
    let ps = recorded.replay(&["--curl", "--shell", "powershell"], &[]);
    let ps = text(&ps.stdout);
    assert!(
        ps.starts_with("curl.exe")
            && ps.contains("${env:TRAKT_ACCESS_TOKEN}")
            && !ps.contains(TOKEN),
        "{ps}"
    );
}

/// A shared log or HAR is untrusted input: the secrets `replay` puts back
/// (from the environment or `--secret`) go only over https to the
/// intercepted hosts on 443, or to a host `--allow-host` names; anything
/// else is refused, naming the host, before a byte is sent. No message
/// prints a secret from the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cannot_send_a_restored_secret_anywhere_but_where_it_was_captured() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let own = FakeUpstream::start_named(&ca, &["127.0.0.1", "localhost"], echo()).await;
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let record = |url: &str| {
        format!(
            r#"{{"id":1,"started_at":"2026-11-25T12:00:00Z","duration_ms":1,"request":{{"method":"GET","url":"{url}","http_version":"HTTP/1.1","headers":{{"user-agent":"Hostile/1","authorization":"Bearer sha256:1a2b3c4d"}},"body":null}},"response":null,"error":"x","findings":[],"fixes":[],"diagnosis":null}}"#
        )
    };
    let recorded = Recorded {
        fake: &fake,
        ca: &ca,
        certs: certs.clone(),
        log: dir.path().join("unused.jsonl"),
        id: "1".into(),
    };
    let file = dir.path().join("hostile.jsonl");
    let own_port = own.addr.port();
    for (url, names) in [
        (
            format!("https://127.0.0.1:{own_port}/users/settings"),
            "127.0.0.1:",
        ),
        (
            "http://api.trakt.tv/users/settings".to_string(),
            "http://api.trakt.tv:80",
        ),
        (
            "https://api.trakt.tv:8443/users/settings".to_string(),
            "api.trakt.tv:8443",
        ),
        ("https://evil.example/collect".to_string(), "evil.example"),
    ] {
        std::fs::write(&file, record(&url)).unwrap();
        let refused = recorded.replay_from(&file, &[], &[("TRAKT_ACCESS_TOKEN", TOKEN)]);
        let said = refusal(&refused);
        assert!(
            said.contains("only into https requests") && said.contains(names),
            "{url}: {said}"
        );
        no_secret_written(&[TOKEN], &[], &[&refused]);
    }
    assert!(own.received().is_empty() && fake.received().is_empty());

    // A server of the user's own, named: the token goes there.
    std::fs::write(
        &file,
        record(&format!("https://127.0.0.1:{own_port}/users/settings")),
    )
    .unwrap();
    let allowed = recorded.replay_from(
        &file,
        &["--allow-host", &format!("127.0.0.1:{own_port}")],
        &[("TRAKT_ACCESS_TOKEN", TOKEN)],
    );
    exited(&allowed, 0);
    assert_eq!(own.bearers("/users/settings"), [format!("Bearer {TOKEN}")]);

    // The intercepted host itself, on 443 over https, gets it as before.
    std::fs::write(&file, record("https://api.trakt.tv/users/settings")).unwrap();
    exited(
        &recorded.replay_from(&file, &[], &[("TRAKT_ACCESS_TOKEN", TOKEN)]),
        0,
    );
    assert_eq!(fake.bearers("/users/settings"), [format!("Bearer {TOKEN}")]);

    // A URL that is not absolute is named without its query's secrets.
    std::fs::write(
        &file,
        record("/sync/history?access_token=query-secret-77e1&x=1")
            .replace(r#""authorization":"Bearer sha256:1a2b3c4d""#, r#""x":"y""#),
    )
    .unwrap();
    let relative = recorded.replay_from(&file, &[], &[]);
    let said = refusal(&relative);
    assert!(said.contains("not an absolute"), "{said}");
    no_secret_written(&["query-secret-77e1"], &[], &[&relative]);
}

/// A log that holds an id twice (appended to by runs before ids went on
/// across runs) is not guessed at: `replay --id` refuses, with the choices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_the_file_holds_twice_is_refused_with_the_choices() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let dir = tempfile::tempdir().unwrap();
    let line = |at: &str, path: &str| {
        format!(
            r#"{{"id":1,"started_at":"{at}","duration_ms":1,"request":{{"method":"GET","url":"https://api.trakt.tv{path}","http_version":"HTTP/1.1","headers":{{"user-agent":"A/1"}},"body":null}},"response":null,"error":"x","findings":[],"fixes":[],"diagnosis":null}}"#
        )
    };
    let file = dir.path().join("appended.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            line("2026-11-24T10:00:00Z", "/movies/trending"),
            line("2026-11-25T11:00:00Z", "/shows/popular")
        ),
    )
    .unwrap();
    let recorded = Recorded {
        fake: &fake,
        ca: &ca,
        certs: dir.path().to_path_buf(),
        log: file.clone(),
        id: "1".into(),
    };
    let said = refusal(&recorded.replay(&[], &[]));
    assert!(
        said.contains("2 times")
            && said.contains("2026-11-24T10:00:00Z: GET https://api.trakt.tv/movies/trending")
            && said.contains("2026-11-25T11:00:00Z: GET https://api.trakt.tv/shows/popular"),
        "{said}"
    );
    assert!(fake.received().is_empty());
}
