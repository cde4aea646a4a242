//! Secrets and access through the real binary: what the diagnosis quotes,
//! what the warnings print, how fingerprints are keyed, what reaches the
//! operator's terminal, who may read the web view, and which spellings of
//! the proxy's own address it refuses to tunnel to. Loopback only.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn exchange_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the answer head (and what follows at once); a tunnel stays open.
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(url: &str, extra: &[&str]) -> (String, String) {
    let out = curl(
        &[
            &["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}"][..],
            extra,
            &[url],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = text[text.len().saturating_sub(3)..].to_string();
    (code, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diagnosis_quotes_the_redacted_body_and_escaped_keys_are_secret() {
    let ca = TestCa::new();
    let handler: Handler = Arc::new(|r: &Received| {
        if r.path.starts_with("/escaped") {
            Reply::json(
                422,
                r#"{"errors":{"access\u005ftoken":"escaped-secret-4b5c6d"}}"#,
            )
        } else {
            Reply::json(422, r#"{"errors":{"refresh_token":"plain-secret-8e9f0a"}}"#)
        }
    });
    let fake = FakeUpstream::start(&ca, handler).await;
    let (mut proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    for path in ["escaped", "plain"] {
        proxy.curl(&[
            "-H",
            "User-Agent: T/1",
            &format!("https://api.trakt.tv/{path}"),
        ]);
    }
    let records = wait_for_records(&log, 2);
    assert_eq!(proxy.interrupt(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in ["escaped-secret-4b5c6d", "plain-secret-8e9f0a"] {
        assert!(!text.contains(secret), "{secret} leaked into the log");
        assert!(
            !proxy.stdout().contains(secret),
            "{secret} leaked to stdout"
        );
    }
    for record in &records {
        let causes = record["diagnosis"]["causes"].to_string();
        assert!(
            causes.contains("Trakt says") && causes.contains("sha256:"),
            "{record}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_in_a_target_are_never_printed() {
    let proxy = ProxyProcess::start(&["--proxy-auth".into(), "alice:right-pass".into()]);
    let plain = exchange_raw(
        proxy.addr,
        b"GET http://bob:userinfo-pw-1a2b@api.trakt.tv/x HTTP/1.1\r\nHost: api.trakt.tv\r\n\r\n",
    )
    .await;
    assert!(plain.starts_with("HTTP/1.1 407"), "{plain}");
    let connect = exchange_raw(
        proxy.addr,
        b"CONNECT bob:userinfo-pw-3c4d@api.trakt.tv:443 HTTP/1.1\r\nHost: api.trakt.tv:443\r\n\r\n",
    )
    .await;
    assert!(
        connect.starts_with("HTTP/1.1 407") || connect.starts_with("HTTP/1.1 400"),
        "{connect}"
    );
    proxy.wait_for("two refusals", |p| {
        p.stderr().matches("refused").count() >= 2
    });
    let stderr = proxy.stderr();
    for secret in ["userinfo-pw-1a2b", "userinfo-pw-3c4d"] {
        assert!(!stderr.contains(secret), "{secret} printed:\n{stderr}");
    }
}

/// The first 8 hex digits of the plain SHA-256 of `text`: the old, guessable fingerprint.
fn plain_sha256(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fingerprint_in(text: &str) -> String {
    let at = text.find("token=sha256:").expect("a fingerprinted token") + "token=sha256:".len();
    text[at..at + 8].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprints_are_keyed_per_install_and_offline_lint_uses_the_same_key() {
    const TOKEN: &str = "keyed-token-5a6b7c";
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (mut proxy, log, dir) = logged_proxy(&fake, &ca, &[]);
    let url = format!("https://www.strem.io/trakt/watched.json?token={TOKEN}");
    proxy.curl(&[&url]);
    let records = wait_for_records(&log, 1);
    assert_eq!(proxy.interrupt(), Some(0));
    let logged = fingerprint_in(records[0]["request"]["url"].as_str().unwrap());
    assert_ne!(
        logged,
        plain_sha256(TOKEN),
        "a fingerprint must not be the plain hash"
    );
    let key = proxy.certs.path().join("trakt-doctor-fingerprint.key");
    assert!(key.exists(), "the key is kept beside the CA");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(!proxy.stderr().contains(key_text.trim()));
    assert!(!proxy.stdout().contains(key_text.trim()));

    // The same exchange, in clear, linted offline with and without the key.
    let clear = dir.path().join("clear.jsonl");
    std::fs::write(
        &clear,
        format!(
            "{}\n",
            serde_json::json!({"id": 1, "started_at": "2026-11-25T12:00:00Z", "duration_ms": 1.0,
                "request": {"method": "GET", "url": url}, "response": {"status": 200}})
        ),
    )
    .unwrap();
    let lint = |certs: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
            .args(["lint", "--format", "json", "--certs"])
            .arg(certs)
            .arg(&clear)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(fingerprint_in(&lint(proxy.certs.path())), logged);
    let elsewhere = tempfile::tempdir().unwrap();
    let other = fingerprint_in(&lint(elsewhere.path()));
    assert_ne!(other, logged, "another machine's fingerprint differs");
    assert!(
        !elsewhere
            .path()
            .join("trakt-doctor-fingerprint.key")
            .exists(),
        "lint creates no key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_never_reach_the_terminal_and_colour_needs_a_terminal() {
    let ca = TestCa::new();
    let handler: Handler = Arc::new(|r: &Received| {
        if r.path.starts_with("/sync/history") {
            Reply::json(201, r#"{"added":{"movies":1}}"#)
        } else {
            // Raw ESC and BEL in an upstream body, quoted by the diagnosis.
            Reply::json(422, "{\"message\":\"\x1b]0;upstream-title\x07\"}")
        }
    });
    let fake = FakeUpstream::start(&ca, handler).await;
    let mut proxy = ProxyProcess::start_coloured(&route_to(&fake, &ca));
    proxy.curl(&[
        "-H",
        "User-Agent: T/1",
        "https://api.trakt.tv/scrobble/start",
    ]);
    // A JSON escape decoded into ESC and BEL, quoted by a finding.
    proxy.curl(&[
        "-H",
        "User-Agent: T/1",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"movies":[{"watched_at":"\u001b]0;finding-title\u0007","ids":{"trakt":1}}]}"#,
        "https://api.trakt.tv/sync/history",
    ]);
    // Something for the diagnostics on stderr.
    exchange_raw(proxy.addr, b"CONNECT nohost HTTP/1.1\r\n\r\n").await;
    proxy.wait_for("both exchanges", |p| {
        p.stdout().contains("finding-title") && p.stdout().contains("upstream-title")
    });
    assert_eq!(proxy.interrupt(), Some(0));
    let stdout = proxy.stdout();
    let stderr = proxy.stderr();
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains('\x1b') && !text.contains('\x07'),
            "control characters reached {name}:\n{text:?}"
        );
    }
    assert!(stdout.contains(r"\u{1b}]0;finding-title\u{7}"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_proxy_auth_the_web_view_asks_for_the_same_credentials() {
    let proxy = ProxyProcess::start(&["--proxy-auth".into(), "alice:web-pass".into()]);
    let base = proxy.url();
    for path in [
        "/",
        "/download.har",
        "/download.jsonl",
        "/api/exchanges",
        "/api/state",
        "/app.js",
        "/render.js",
        "/page/",
    ] {
        let (code, head) = status_of(&format!("{base}{path}"), &[]);
        assert_eq!(code, "401", "{path} without credentials:\n{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: basic realm="),
            "{head}"
        );
        let (code, _) = status_of(&format!("{base}{path}"), &["-u", "alice:wrong"]);
        assert_eq!(code, "401", "{path} with wrong credentials");
        let (code, _) = status_of(&format!("{base}{path}"), &["-u", "alice:web-pass"]);
        assert_eq!(code, "200", "{path} with the credentials");
    }
    // What a client needs to set itself up stays public.
    for path in ["/ca", "/proxy.pac"] {
        let (code, _) = status_of(&format!("{base}{path}"), &[]);
        assert_eq!(code, "200", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_of_the_proxy_address_are_refused_as_loops() {
    let proxy = ProxyProcess::start(&[]);
    let port = proxy.addr.port();
    for host in [
        "127.1",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "0x7f000001",
        "127.0.0.1",
        "localhost",
    ] {
        let request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
        let answer = exchange_raw(proxy.addr, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 508"),
            "CONNECT {host}:{port} answered {answer}"
        );
        // A plain request through the proxy to the same spelling reaches its own pages, not a loop.
        let request = format!(
            "GET http://{host}:{port}/proxy.pac HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        );
        let answer = exchange_raw(proxy.addr, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 403"),
            "GET via {host}:{port} answered {answer}"
        );
    }
    // The log lines are written as the refusals happen: waited for, not raced.
    proxy.wait_for("a refusal line for each spelling", |p| {
        p.stderr().matches("trakt-doctor itself").count() >= 7
    });
}
