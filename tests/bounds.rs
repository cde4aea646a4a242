//! Bounds and honest records: what a stalled terminal, a silent client, a
//! short file-descriptor limit or a shutdown do to the proxy, and what the
//! records then say. Loopback only; every wait is bounded in seconds.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `bytes` and reads the answer until the proxy closes or `wait` passes.
async fn exchange_raw(addr: std::net::SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_cut_by_shutdown_says_so_not_that_the_client_left() {
    let ca = TestCa::new();
    let slow: Handler = Arc::new(|_r: &Received| Reply {
        delay: Duration::from_secs(30),
        ..Reply::json(200, "{}")
    });
    let fake = FakeUpstream::start(&ca, slow).await;
    let (mut proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let url = proxy.url();
    let ca_path = proxy.ca_path().display().to_string();
    let client = std::thread::spawn(move || {
        curl(&[
            "-x",
            &url,
            "--cacert",
            &ca_path,
            "https://api.trakt.tv/users/settings",
        ])
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.received().is_empty() {
        assert!(Instant::now() < deadline, "the request never reached Trakt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.interrupt();
    let _ = client.join();
    let records = read_jsonl(&log);
    assert_eq!(records.len(), 1, "{records:?}");
    let error = records[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("shutdown"), "{error}");
    assert!(!error.contains("client closed"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_named_in_connection_are_neither_sent_nor_recorded_as_sent() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let out = proxy.curl(&[
        "--http1.1",
        "-H",
        "Connection: X-Hop-Only",
        "-H",
        "X-Hop-Only: for-the-proxy",
        "-H",
        "X-Kept: end-to-end",
        "https://api.trakt.tv/users/settings",
    ]);
    assert!(out.status.success(), "{out:?}");
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].headers.get("x-hop-only").is_none());
    assert!(received[0].headers.get("x-kept").is_some());
    let records = wait_for_records(&log, 1);
    let headers = records[0]["request"]["headers"].to_string().to_lowercase();
    assert!(headers.contains("x-kept"), "{headers}");
    assert!(
        !headers.contains("x-hop-only") && !headers.contains("\"connection\""),
        "the record shows headers that were never sent: {headers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_port_beyond_65535_is_called_out_of_range() {
    let proxy = ProxyProcess::start(&[]);
    let answer = exchange_raw(
        proxy.addr,
        b"CONNECT api.trakt.tv:99999 HTTP/1.1\r\nHost: api.trakt.tv:99999\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("out of range"), "{answer}");
    assert!(!answer.contains("no port"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_terminal_drops_its_lines_but_never_holds_up_the_log_file() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let mut args = vec!["--log".to_string(), log.display().to_string()];
    args.extend(route_to(&fake, &ca));
    // Nobody reads its standard output: the pipe (64 KiB) fills after a few lines.
    let mut proxy = ProxyProcess::start_stalled(&args);
    let ca_path = proxy.ca_path().display().to_string();
    let url = proxy.url();
    // Each exchange prints a 32 KiB line: 80 of them overflow the pipe and the 1 MiB queue.
    for round in 0..2 {
        let urls: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "https://api.trakt.tv/movies/{round}{i}?pad={}",
                    "p".repeat(32 * 1024)
                )
            })
            .collect();
        let mut curl_args = vec![
            "--http1.1",
            "-x",
            url.as_str(),
            "--cacert",
            ca_path.as_str(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
        ];
        curl_args.extend(urls.iter().map(String::as_str));
        let out = curl(&curl_args);
        let answered = String::from_utf8_lossy(&out.stdout).matches("200").count();
        assert_eq!(answered, 40, "{out:?}");
        // The first round written before the second is sent: the writer
        // passes the terminal each batch as one chunk, and a chunk always goes
        // through when nothing waits, so 80 records in one batch would show
        // no drop at all. The second round then finds the first still waiting.
        wait_for_records(&log, 40 * (round + 1));
    }
    let records = wait_for_records(&log, 80);
    assert_eq!(
        records.len(),
        80,
        "the JSON Lines log fell behind the stalled terminal"
    );
    proxy.wait_for("the warning", |p| {
        p.stderr()
            .contains("the terminal is not reading its output")
    });
    let started = Instant::now();
    proxy.interrupt();
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = proxy.stderr();
    assert!(stderr.contains("80 exchange(s) logged"), "{stderr}");
    assert!(stderr.contains("terminal line(s) not shown"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_finishes_is_cut_off_after_the_header_timeout() {
    let proxy = ProxyProcess::start(&["--header-timeout".into(), "1".into()]);
    let mut tunnel = tunnel(proxy.addr, "api.trakt.tv", 443).await;
    // The first byte of a TLS record, then nothing.
    tunnel.write_all(&[0x16]).await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(6), tunnel.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the half-open handshake was still open after {:?}",
        started.elapsed()
    );
    proxy.wait_for("the log line", |p| {
        p.stderr()
            .contains("TLS handshake for api.trakt.tv did not finish within 1 s")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_stops_arriving_is_answered_408_and_recorded() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &["--body-timeout", "1"]);
    let proxy_ca = read_cert(&proxy.ca_path());
    let mut tls = connect_through(proxy.addr, "api.trakt.tv", 443, &proxy_ca, &[b"http/1.1"]).await;
    tls.write_all(
        b"POST /sync/history HTTP/1.1\r\nHost: api.trakt.tv\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"movies\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(8), tls.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let records = wait_for_records(&log, 1);
    let error = records[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("--body-timeout"), "{error}");
    assert!(fake.received().is_empty(), "a half body was forwarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_beyond_the_body_memory_streams_through_unlinted() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    // An eighth of 80,000 bytes per connection: a 50,000-byte body does not fit.
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &["--body-memory", "80000"]);
    let body = format!("{{\"movies\":[{{\"title\":\"{}\"}}]}}", "m".repeat(50_000));
    let out = proxy.curl(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &body,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "https://api.trakt.tv/sync/history",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{out:?}");
    assert_eq!(fake.received()[0].body.len(), body.len(), "forwarded whole");
    let records = wait_for_records(&log, 1);
    let findings = records[0]["findings"].to_string();
    assert!(
        findings.contains("body.not-linted") && findings.contains("--body-memory"),
        "{findings}"
    );
}

/// Under a low open-file limit, tunnels beyond what the descriptors allow
/// get the documented 503 at once instead of hanging in the listen queue.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_low_file_limit_extra_clients_get_a_503_not_a_hang() {
    let launch = Launch {
        nofile: Some(256),
        ..Launch::default()
    };
    let proxy = ProxyProcess::launch(&[], tempfile::tempdir().unwrap(), launch);
    proxy.wait_for("the lowered limit in the banner", |p| {
        p.stderr()
            .contains("at most 96, not 1024 (--max-connections)")
    });
    // Somewhere to tunnel to that accepts and keeps every connection.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_addr = target.local_addr().unwrap();
    let kept = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((stream, _)) = target.accept().await {
            kept.push(stream);
        }
    });
    let mut tunnels = Vec::new();
    let (mut opened, mut refused) = (0, 0);
    for _ in 0..150 {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        let request = format!("CONNECT {target_addr} HTTP/1.1\r\nHost: {target_addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head)).await;
        let head = match read {
            Ok(Ok(_)) => String::from_utf8_lossy(&head).into_owned(),
            _ => panic!(
                "client {} got no answer ({opened} tunnels open); stderr:\n{}",
                opened + refused + 1,
                proxy.stderr()
            ),
        };
        match &head[..] {
            "HTTP/1.1 200" => opened += 1,
            "HTTP/1.1 503" => refused += 1,
            other => panic!("unexpected answer {other}"),
        }
        tunnels.push(stream);
    }
    assert!(
        opened >= 90 && refused > 0,
        "{opened} opened, {refused} refused"
    );
    assert!(
        !proxy.stderr().contains("cannot accept"),
        "{}",
        proxy.stderr()
    );
    kept.abort();
}

#[cfg(unix)]
#[test]
fn a_ca_key_others_can_read_is_warned_about_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let certs = tempfile::tempdir().unwrap();
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .args(["ca", "export", "--certs"])
        .arg(certs.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let key = certs.path().join("trakt-doctor-ca.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let proxy = ProxyProcess::start_with_certs(&[], certs);
    proxy.wait_for("the warning", |p| {
        p.stderr().contains("WARNING: the CA key") && p.stderr().contains("chmod 600")
    });
}

#[cfg(unix)]
#[test]
fn a_fingerprint_key_others_can_read_is_warned_about_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let certs = tempfile::tempdir().unwrap();
    let key = certs.path().join("trakt-doctor-fingerprint.key");
    std::fs::write(&key, format!("{}\n", "5a".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let proxy = ProxyProcess::start_with_certs(&[], certs);
    proxy.wait_for("the warning", |p| {
        p.stderr().contains("WARNING: the fingerprint key")
            && p.stderr().contains("mode 644")
            && p.stderr().contains("chmod 600")
    });
}
