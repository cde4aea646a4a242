//! Hardening: bad input, faults and load. Every case is bounded in time and
//! talks to loopback only. The proxy must keep serving, log every exchange
//! that reached it exactly once, and never leak a secret.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn exchange_raw(addr: std::net::SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn still_serving(proxy: &ProxyProcess) {
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/proxy.pac", proxy.url()),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "the proxy stopped serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_slow_clients_and_tls_on_the_plain_port_are_refused() {
    let proxy = ProxyProcess::start(&["--header-timeout".into(), "1".into()]);
    let huge = format!(
        "GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = exchange_raw(proxy.addr, huge.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(80)]
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = exchange_raw(
        proxy.addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A TLS ClientHello sent to the plain proxy port.
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
    ];
    let answer = exchange_raw(proxy.addr, &hello, Duration::from_secs(5)).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // Slow loris: half a request head, then nothing; cut off after --header-timeout.
    let started = std::time::Instant::now();
    let answer = exchange_raw(
        proxy.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "slow client held the connection {:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    proxy.wait_for("log lines", |p| {
        p.stderr().contains("not valid HTTP") && p.stderr().contains("in time")
    });
    still_serving(&proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_rejects_our_certificate_is_told_to_trust_the_ca() {
    let proxy = ProxyProcess::start(&[]);
    // curl without --cacert does not trust trakt-doctor's CA.
    for _ in 0..3 {
        let out = curl(&[
            "-A",
            "UntrustingClient/2.1",
            "-x",
            &proxy.url(),
            "https://api.trakt.tv/users/settings",
        ]);
        assert!(!out.status.success());
    }
    proxy.wait_for("the trust hint", |p| {
        p.stderr().contains("does not trust the trakt-doctor CA")
    });
    let said = proxy.stderr();
    // In words, once: who refused, the fix for browsers and Stremio, and the
    // programs that keep trust stores of their own.
    for words in [
        "a client (UntrustingClient/2.1) refused trakt-doctor's certificate for api.trakt.tv",
        "trakt-doctor ca trust",
        &format!("http://{}/ca", proxy.addr),
        "--cacert",
        "NODE_EXTRA_CA_CERTS",
        "REQUESTS_CA_BUNDLE",
        "security.enterprise_roots.enabled",
    ] {
        assert!(said.contains(words), "{words}: {said}");
    }
    assert_eq!(
        said.matches("refused trakt-doctor's certificate").count(),
        1,
        "{said}"
    );
    still_serving(&proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_bodies_and_vanishing_clients_still_leave_one_record_each() {
    let ca = TestCa::new();
    let slow_big: Handler = Arc::new(|r: &Received| {
        if r.path == "/big" {
            Reply {
                body: bytes::Bytes::from(vec![b'x'; 8 * 1024 * 1024]),
                ..Reply::json(200, "")
            }
        } else {
            Reply {
                delay: Duration::from_secs(3),
                ..Reply::json(200, "{}")
            }
        }
    });
    let fake = FakeUpstream::start(&ca, slow_big).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    // 1. A body shorter than its Content-Length, then the client goes away.
    let _ = proxy.curl(&[
        "-H",
        "Content-Length: 1000",
        "--data",
        "short",
        "--max-time",
        "2",
        "https://api.trakt.tv/sync/history",
    ]);
    // 2. The client gives up before the (slow) response arrives.
    let _ = proxy.curl(&["--max-time", "1", "https://api.trakt.tv/users/settings"]);
    // 3. The client stops reading a large response part-way.
    let _ = proxy.curl(&[
        "--max-filesize",
        "100000",
        "--limit-rate",
        "200k",
        "--max-time",
        "2",
        "-o",
        "/dev/null",
        "https://api.trakt.tv/big",
    ]);
    let records = wait_for_records(&log, 3);
    assert_eq!(records.len(), 3, "{records:?}");
    for record in &records {
        let error = record["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("client"),
            "each cut exchange says the client went away: {record}"
        );
    }
    assert!(
        records[2]["response"]["status"] == 200,
        "the response head was logged: {}",
        records[2]
    );
    still_serving(&proxy);
}

/// A TLS server that promises 1000 bytes, sends 10, and closes.
async fn resetting_upstream(ca: &TestCa) -> std::net::SocketAddr {
    let acceptor = ca.acceptor(FAKE_NAMES, &[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"partial\":").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_dies_mid_body_is_logged_with_the_reason() {
    let ca = TestCa::new();
    let upstream = resetting_upstream(&ca).await;
    let (proxy, log, _dir) = logged_proxy_at(upstream, &ca, &[]);
    let out = proxy.curl(&["https://api.trakt.tv/sync/last_activities"]);
    assert!(
        !out.status.success(),
        "the client must see the cut, not a complete body"
    );
    let records = wait_for_records(&log, 1);
    assert_eq!(records[0]["response"]["status"], 200);
    let error = records[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("upstream") || error.contains("client"),
        "{}",
        records[0]
    );
    still_serving(&proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_limit_clients_get_a_clean_503() {
    let proxy = ProxyProcess::start(&["--max-connections".into(), "50".into()]);
    let mut idle = Vec::new();
    // 2,000 idle clients, or as many as this process may open.
    for _ in 0..2000 {
        match TcpStream::connect(proxy.addr).await {
            Ok(stream) => idle.push(stream),
            Err(_) => break,
        }
    }
    assert!(
        idle.len() > 100,
        "could open only {} connections",
        idle.len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = exchange_raw(
        proxy.addr,
        b"GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("connection limit (50)"));
    proxy.wait_for("the limit log line", |p| {
        p.stderr().contains("connection limit (50) reached")
    });
    drop(idle);
    tokio::time::sleep(Duration::from_millis(500)).await;
    still_serving(&proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_are_required_when_configured() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let mut args = vec!["--proxy-auth".to_string(), "alice:s3cret-pass".to_string()];
    args.extend(route_to(&fake, &ca));
    let proxy = ProxyProcess::start(&args);
    let ca_path = proxy.ca_path().display().to_string();
    let url = "https://api.trakt.tv/movies/trending";
    let without = proxy.curl(&["-w", "%{http_code}", "-o", "/dev/null", url]);
    assert!(!without.status.success());
    let wrong = curl(&[
        "-x",
        &proxy.url(),
        "--proxy-user",
        "alice:nope",
        "--cacert",
        &ca_path,
        url,
    ]);
    assert!(!wrong.status.success());
    let right = curl(&[
        "-x",
        &proxy.url(),
        "--proxy-user",
        "alice:s3cret-pass",
        "--cacert",
        &ca_path,
        url,
    ]);
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert!(!proxy.stderr().contains("s3cret-pass"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_every_exchange_has_exactly_one_record_in_jsonl_and_har() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("load.jsonl");
    let har = dir.path().join("load.har");
    let mut args = vec![
        "--quiet".to_string(),
        "--log".into(),
        log.display().to_string(),
        "--har".into(),
        har.display().to_string(),
    ];
    args.extend(route_to(&fake, &ca));
    let mut proxy = ProxyProcess::start(&args);
    let our_ca = read_cert(&proxy.ca_path());
    let (clients, per_client) = (200, 50);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let our_ca = our_ca.clone();
        let addr = proxy.addr;
        tasks.push(tokio::spawn(async move {
            let tls = connect_through(addr, "api.trakt.tv", 443, &our_ca, &[b"http/1.1"]).await;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let mut ok = 0;
            for i in 0..per_client {
                let req = http::Request::get(format!("https://api.trakt.tv/movies/{c}-{i}"))
                    .header("host", "api.trakt.tv")
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .unwrap();
                sender.ready().await.unwrap();
                let response = sender.send_request(req).await.unwrap();
                http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap();
                ok += 1;
            }
            ok
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap();
    }
    assert_eq!(done, clients * per_client);
    let elapsed = started.elapsed();
    assert_eq!(proxy.interrupt(), Some(0));
    let records = read_jsonl(&log);
    assert_eq!(records.len(), clients * per_client, "JSONL records");
    let ids: std::collections::HashSet<u64> =
        records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), records.len(), "ids are unique");
    let har: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&har).unwrap()).unwrap();
    assert_eq!(
        har["log"]["entries"].as_array().unwrap().len(),
        clients * per_client,
        "HAR entries"
    );
    println!(
        "{} requests from {clients} clients in {elapsed:?}; 0 records lost",
        clients * per_client
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_middle_of_load_leaves_complete_valid_files() {
    let ca = TestCa::new();
    let slowish: Handler = Arc::new(|_r: &Received| Reply {
        delay: Duration::from_millis(20),
        ..Reply::json(200, "{}")
    });
    let fake = FakeUpstream::start(&ca, slowish).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cut.jsonl");
    let har = dir.path().join("cut.har");
    let mut args = vec![
        "--quiet".to_string(),
        "--log".into(),
        log.display().to_string(),
        "--har".into(),
        har.display().to_string(),
    ];
    args.extend(route_to(&fake, &ca));
    let proxy = ProxyProcess::start(&args);
    let ca_path = proxy.ca_path().display().to_string();
    let url = proxy.url();
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (ca_path, url) = (ca_path.clone(), url.clone());
            std::thread::spawn(move || {
                let urls: Vec<String> = (0..40)
                    .map(|i| format!("https://api.trakt.tv/movies/{i}"))
                    .collect();
                let mut args = vec![
                    "-x",
                    url.as_str(),
                    "--cacert",
                    ca_path.as_str(),
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}\n",
                ];
                args.extend(urls.iter().map(String::as_str));
                String::from_utf8_lossy(&curl(&args).stdout)
                    .lines()
                    .filter(|l| *l == "200")
                    .count()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &proxy.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let answered: usize = load.into_iter().map(|t| t.join().unwrap()).sum();
    proxy.wait_for("exit", |p| p.stderr().contains("exchange(s) logged"));
    let records = read_jsonl(&log);
    let har: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&har).unwrap())
        .expect("the HAR file is valid after SIGTERM");
    let entries = har["log"]["entries"].as_array().unwrap().len();
    assert_eq!(records.len(), entries, "JSONL and HAR agree");
    assert!(
        records.len() >= answered,
        "{} records for {answered} answered requests",
        records.len()
    );
    assert!(
        answered > 0 && answered < 320,
        "the signal came mid-load ({answered} answered)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_secrets_never_reach_any_output() {
    const SECRETS: [&str; 9] = [
        "hdr-bearer-7f3a9c",
        "json-refresh-5d2e1b",
        "query-token-9a8b7c",
        "form-secret-4c3d2e",
        "getuser-trakt-1a2b3c",
        "stremio-authkey-6e5f4d",
        "refused-token-1f2e3d",
        "tls-token-2e3d4c",
        "timeout-token-3d4c5b",
    ];
    let ca = TestCa::new();
    let leaky: Handler = Arc::new(|r: &Received| {
        if r.path.starts_with("/api/getUser") {
            Reply::json(
                200,
                r#"{"result":{"authKey":"stremio-authkey-6e5f4d","trakt":{"access_token":"getuser-trakt-1a2b3c","created_at":1700000000,"expires_in":86400}}}"#,
            )
        } else {
            Reply::json(
                200,
                &format!(
                    "{{\"echo\":{}}}",
                    serde_json::Value::String(String::from_utf8_lossy(&r.body).into_owned())
                ),
            )
        }
    });
    let fake = FakeUpstream::start(&ca, leaky).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("s.jsonl");
    let har = dir.path().join("s.har");
    // Exchanges that fail upstream: nothing listens (refused), a server whose
    // certificate names another host (TLS error), one that never answers (timeout).
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_addr = refused.local_addr().unwrap();
    drop(refused);
    let wrong_name = FakeUpstream::start_named(&ca, &["other.example"], echo()).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = silent.accept().await {
            holder.lock().unwrap().push(stream);
        }
    });
    let mut args = vec![
        "--log".to_string(),
        log.display().to_string(),
        "--har".into(),
        har.display().to_string(),
        "--upstream-timeout".into(),
        "1".into(),
        "--resolve".into(),
        format!("www.strem.io:1001={refused_addr}"),
        "--resolve".into(),
        format!("www.strem.io:1002={}", wrong_name.addr),
        "--resolve".into(),
        format!("www.strem.io:1003={silent_addr}"),
    ];
    args.extend(route_to(&fake, &ca));
    let mut proxy = ProxyProcess::start(&args);
    let ca_path = proxy.ca_path().display().to_string();
    let p = proxy.url();
    let base = [
        "-x",
        p.as_str(),
        "--cacert",
        ca_path.as_str(),
        "-H",
        "User-Agent: T/1",
    ];
    let run = |extra: &[&str]| curl(&[&base[..], extra].concat());
    run(&[
        "-H",
        "Authorization: Bearer hdr-bearer-7f3a9c",
        "https://api.trakt.tv/sync/last_activities",
    ]);
    run(&[
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"refresh_token":"json-refresh-5d2e1b","grant_type":"refresh_token"}"#,
        "https://api.trakt.tv/oauth/token",
    ]);
    run(&["https://www.strem.io/trakt/watched.json?token=query-token-9a8b7c"]);
    run(&[
        "--data",
        "client_secret=form-secret-4c3d2e&grant_type=x",
        "https://api.trakt.tv/oauth/token",
    ]);
    run(&[
        "--data",
        r#"{"type":"GetUser","authKey":"stremio-authkey-6e5f4d"}"#,
        "https://api.strem.io/api/getUser",
    ]);
    run(&["https://www.strem.io:1001/trakt/watched.json?token=refused-token-1f2e3d"]);
    run(&["https://www.strem.io:1002/trakt/watched.json?token=tls-token-2e3d4c"]);
    run(&["https://www.strem.io:1003/trakt/watched.json?token=timeout-token-3d4c5b"]);
    let records = wait_for_records(&log, 8);
    let failed: Vec<_> = records.iter().filter(|r| r["error"].is_string()).collect();
    assert_eq!(failed.len(), 3, "three failed exchanges: {records:?}");
    for record in failed {
        assert!(record["diagnosis"]["summary"].is_string(), "{record}");
    }
    let web = [
        String::from_utf8_lossy(&curl(&[&format!("{p}/download.jsonl")]).stdout).into_owned(),
        String::from_utf8_lossy(&curl(&[&format!("{p}/download.har")]).stdout).into_owned(),
        String::from_utf8_lossy(&curl(&[&format!("{p}/api/exchanges")]).stdout).into_owned(),
    ];
    assert_eq!(proxy.interrupt(), Some(0));
    let outputs = [
        ("jsonl", std::fs::read_to_string(&log).unwrap()),
        ("har", std::fs::read_to_string(&har).unwrap()),
        ("stdout", proxy.stdout()),
        ("stderr", proxy.stderr()),
        ("web jsonl", web[0].clone()),
        ("web har", web[1].clone()),
        ("web list", web[2].clone()),
    ];
    for (name, text) in &outputs {
        assert!(!text.is_empty() || *name == "web list", "{name} is empty");
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked into {name}");
        }
    }
    assert!(
        outputs[0].1.contains("sha256:"),
        "secrets are shown as fingerprints"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_certificate_for_another_host_is_refused_never_bypassed() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start_named(&ca, &["not-trakt.example"], echo()).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let out = proxy.curl(&[
        "-w",
        "\n%{http_code}",
        "https://api.trakt.tv/users/settings",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n502"), "{text}");
    assert!(
        fake.received().is_empty(),
        "no request may reach a server that failed verification"
    );
    let records = wait_for_records(&log, 1);
    assert!(records[0]["response"].is_null());
    assert_failure_told(
        &proxy,
        &text,
        &records[0],
        &[
            "the upstream's certificate is not trusted",
            "it is for not-trakt.example, not api.trakt.tv (wrong host name)",
        ],
        "pass its CA with --upstream-ca FILE",
    );
}

/// A server that does not speak TLS on the port the proxy dials (a plain
/// HTTP server there): a failed handshake, named as such, not a certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_speak_tls_is_a_failed_handshake() {
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = plain.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut stream, _)) = plain.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let ca = TestCa::new();
    let (proxy, log, _dir) = logged_proxy_at(addr, &ca, &[]);
    let out = proxy.curl(&[
        "-w",
        "\n%{http_code}",
        "https://api.trakt.tv/users/settings",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.ends_with("\n502"), "{text}");
    let records = wait_for_records(&log, 1);
    assert_failure_told(
        &proxy,
        &text,
        &records[0],
        &["the TLS handshake failed", "did not answer in TLS"],
        "is the server's HTTPS port",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_from_trakt_is_logged_and_explained_without_trouble() {
    let ca = TestCa::new();
    let broken: Handler =
        Arc::new(|_r: &Received| Reply::json(500, "{\"error\": \"oops\", truncated"));
    let fake = FakeUpstream::start(&ca, broken).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let out = proxy.curl(&[
        "-H",
        "User-Agent: T/1",
        "-w",
        "\n%{http_code}",
        "https://api.trakt.tv/movies/trending",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("\n500"));
    let records = wait_for_records(&log, 1);
    assert_eq!(
        records[0]["response"]["body"]["text"],
        "{\"error\": \"oops\", truncated"
    );
    let summary = records[0]["diagnosis"]["summary"].as_str().unwrap();
    assert!(summary.starts_with("500"), "{summary}");
    still_serving(&proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_longer_than_its_content_length_is_cut_there_and_the_rest_refused() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let our_ca = read_cert(&proxy.ca_path());
    let mut tls = connect_through(proxy.addr, "api.trakt.tv", 443, &our_ca, &[b"http/1.1"]).await;
    tls.write_all(b"POST /sync/history HTTP/1.1\r\nHost: api.trakt.tv\r\nContent-Length: 5\r\n\r\n{\"a\":1}garbage after the body\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("HTTP/1.1 400"),
        "the bytes after the declared body are not a request: {text}"
    );
    let records = wait_for_records(&log, 1);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["request"]["body"]["text"], "{\"a\":");
    assert_eq!(
        fake.received()[0].body.len(),
        5,
        "exactly the declared length went upstream"
    );
    still_serving(&proxy);
}

/// An HTTP/2-only TLS server that answers one request per connection and
/// then sends GOAWAY (graceful shutdown), counting connections.
async fn goaway_upstream(
    ca: &TestCa,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let acceptor = ca.acceptor(FAKE_NAMES, &[b"h2"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let (served_tx, mut served_rx) = tokio::sync::mpsc::channel::<()>(1);
                let service = hyper::service::service_fn(
                    move |_req: http::Request<hyper::body::Incoming>| {
                        let served_tx = served_tx.clone();
                        async move {
                            let _ = served_tx.send(()).await;
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(bytes::Bytes::from_static(b"{}")),
                            ))
                        }
                    },
                );
                let conn =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = served_rx.recv() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    });
    (addr, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_goaway_from_upstream_moves_the_next_request_to_a_new_connection() {
    let ca = TestCa::new();
    let (upstream, connections) = goaway_upstream(&ca).await;
    let (proxy, log, _dir) = logged_proxy_at(upstream, &ca, &[]);
    for _ in 0..3 {
        let out = proxy.curl(&[
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "https://api.trakt.tv/movies/trending",
        ]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    }
    let records = wait_for_records(&log, 3);
    assert!(
        records
            .iter()
            .all(|r| r["response"]["status"] == 200 && r["error"].is_null()),
        "{records:?}"
    );
    let opened = connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        opened >= 2,
        "after a GOAWAY the proxy must open a new upstream connection ({opened} opened)"
    );
}

/// This URL tripped a bug in the route linter (a byte slice inside `€`): the
/// stream was reset and the record lost. The inspection is guarded now, so
/// whether or not a rule still fails on it, the exchange must go through.
const INSPECTION_CRASHER: &str = "https://api.trakt.tv/movies/%E2%82%ACab";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_trips_an_inspection_bug_is_still_forwarded_and_logged() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    // With auto-fix on, so the fix stage runs too.
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &["--fix"]);
    let out = proxy.curl(&[
        "-H",
        "User-Agent: T/1",
        "-H",
        "trakt-api-version: 2",
        "-w",
        "\n%{http_code}",
        INSPECTION_CRASHER,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "200", "{text}");
    let echoed: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(echoed["path"], "/movies/%E2%82%ACab");
    assert_eq!(fake.received().len(), 1);
    let records = wait_for_records(&log, 1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["request"]["url"], INSPECTION_CRASHER);
    assert_eq!(records[0]["response"]["status"], 200);
    assert!(records[0]["error"].is_null(), "{}", records[0]);
    still_serving(&proxy);
}
