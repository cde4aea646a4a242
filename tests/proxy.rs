//! Integration tests of the proxy core: the real binary, a fake upstream on
//! 127.0.0.1, and real clients (curl and a hyper client through CONNECT).

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn log_args(dir: &tempfile::TempDir) -> (std::path::PathBuf, Vec<String>) {
    let path = dir.path().join("log.jsonl");
    (
        path.clone(),
        vec!["--log".into(), path.display().to_string()],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercepts_get_and_post_over_http1_and_http2_and_logs_them() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (mut proxy, log, _tmp) = logged_proxy(&fake, &ca, &[]);
    let bearer = format!("Authorization: Bearer {TOKEN}");

    let get = proxy.curl(&[
        "--http1.1",
        "-H",
        &bearer,
        "-H",
        "trakt-api-version: 2",
        "https://api.trakt.tv/users/settings?extended=full",
    ]);
    assert!(
        get.status.success(),
        "{}",
        String::from_utf8_lossy(&get.stderr)
    );
    let echoed: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(echoed["path"], "/users/settings?extended=full");

    let body = format!(
        r#"{{"movie":{{"ids":{{"imdb":"tt2015381"}}}},"progress":12.5,"refresh_token":"{TOKEN}"}}"#
    );
    let post = proxy.curl(&[
        "--http2",
        "-H",
        "content-type: application/json",
        "--data",
        &body,
        "-w",
        "\n%{http_version}",
        "https://api.trakt.tv/scrobble/start",
    ]);
    assert!(
        post.status.success(),
        "{}",
        String::from_utf8_lossy(&post.stderr)
    );
    let out = String::from_utf8_lossy(&post.stdout);
    assert!(
        out.ends_with("\n2"),
        "curl should have spoken HTTP/2 to the proxy: {out}"
    );

    // The fake upstream got exactly what the client sent.
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].body, Bytes::from(body.clone()));
    assert_eq!(
        received[0].headers["authorization"],
        format!("Bearer {TOKEN}").as_str()
    );

    let records = wait_for_records(&log, 2);
    assert_eq!(records.len(), 2, "{records:?}");
    let get_record = &records[0];
    assert_eq!(get_record["request"]["method"], "GET");
    assert_eq!(
        get_record["request"]["url"],
        "https://api.trakt.tv/users/settings?extended=full"
    );
    assert_eq!(get_record["request"]["http_version"], "HTTP/1.1");
    assert_eq!(get_record["request"]["headers"]["trakt-api-version"], "2");
    assert_eq!(get_record["response"]["status"], 200);
    assert!(get_record["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(get_record["started_at"].as_str().unwrap().contains('T'));
    let auth = get_record["request"]["headers"]["authorization"]
        .as_str()
        .unwrap();
    assert!(auth.starts_with("Bearer sha256:"), "{auth}");

    let post_record = &records[1];
    assert_eq!(post_record["request"]["http_version"], "HTTP/2");
    let logged_body = post_record["request"]["body"]["text"].as_str().unwrap();
    assert!(logged_body.contains(r#""progress":12.5"#), "{logged_body}");
    assert!(
        logged_body.contains(r#""refresh_token":"sha256:"#),
        "{logged_body}"
    );
    assert_eq!(post_record["request"]["body"]["size"], body.len());
    assert!(post_record["response"]["body"]["text"]
        .as_str()
        .unwrap()
        .contains("scrobble/start"));

    let whole_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !whole_log.contains(TOKEN),
        "a secret reached the log in clear"
    );
    assert_eq!(proxy.interrupt(), Some(0));
    let terminal = proxy.stdout();
    assert!(
        terminal.contains("GET api.trakt.tv/users/settings?extended=full 200"),
        "{terminal}"
    );
    assert!(!terminal.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_one_client_connection_alive_for_several_requests() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (proxy, log, _tmp) = logged_proxy(&fake, &ca, &[]);
    let out = proxy.curl(&[
        "--http1.1",
        "-w",
        "\n%{num_connects}\n",
        "https://api.trakt.tv/movies/trending",
        "https://api.trakt.tv/shows/trending",
        "https://api.trakt.tv/calendars/my/shows",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let connects: Vec<&str> = text.lines().filter(|l| l.len() == 1).collect();
    assert_eq!(
        connects,
        ["1", "0", "0"],
        "curl should reuse its connection: {text}"
    );
    assert_eq!(wait_for_records(&log, 3).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_client_multiplexes_http2_and_the_upstream_side_speaks_http2() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (proxy, log, _tmp) = logged_proxy(&fake, &ca, &[]);
    let our_ca = read_cert(&proxy.ca_path());
    let tls = connect_through(proxy.addr, "api.trakt.tv", 443, &our_ca, &[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut tasks = Vec::new();
    for i in 0..5 {
        let mut sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let req = http::Request::post(format!("https://api.trakt.tv/sync/history?n={i}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(format!(r#"{{"n":{i}}}"#))))
                .unwrap();
            let response = sender.send_request(req).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let body = task.await.unwrap();
        let echoed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echoed["body"], format!(r#"{{"n":{i}}}"#));
    }
    let received = fake.received();
    assert_eq!(received.len(), 5);
    assert!(received.iter().all(|r| r.version == http::Version::HTTP_2));
    assert_eq!(wait_for_records(&log, 5).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_are_tunnelled_without_decryption() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let tmp = tempfile::tempdir().unwrap();
    let (log, args) = log_args(&tmp);
    let proxy = ProxyProcess::start(&args);
    let url = format!("https://localhost:{}/anything", fake.addr.port());
    // Trusting only the origin's CA works: the client sees the origin's own certificate.
    let through = curl(&[
        "-x",
        &proxy.url(),
        "--cacert",
        ca.pem_path.to_str().unwrap(),
        &url,
    ]);
    assert!(
        through.status.success(),
        "{}",
        String::from_utf8_lossy(&through.stderr)
    );
    assert!(String::from_utf8_lossy(&through.stdout).contains("/anything"));
    // Trusting only our CA fails: nothing was minted for this host.
    let ours = proxy.curl(&[&url]);
    assert!(!ours.status.success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        read_jsonl(&log).is_empty(),
        "tunnelled traffic must not be logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_gets_502_and_a_record_with_the_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let tmp = tempfile::tempdir().unwrap();
    let (log, mut args) = log_args(&tmp);
    args.extend(["--resolve".into(), format!("api.trakt.tv:443={dead}")]);
    let proxy = ProxyProcess::start(&args);
    let out = proxy.curl(&[
        "-w",
        "\n%{http_code}",
        "https://api.trakt.tv/sync/last_activities",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n502"), "{text}");
    assert!(text.contains("could not get a response"), "{text}");
    let records = wait_for_records(&log, 1);
    assert!(records[0]["response"].is_null());
    assert_failure_told(
        &proxy,
        &text,
        &records[0],
        &["the connection was refused", &format!("({dead})")],
        "check the address and port (and any --resolve rule)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_gets_504_after_the_timeout() {
    let ca = TestCa::new();
    let slow: Handler = Arc::new(|_r: &Received| Reply {
        delay: Duration::from_secs(5),
        ..Reply::json(200, "{}")
    });
    let fake = FakeUpstream::start(&ca, slow).await;
    let tmp = tempfile::tempdir().unwrap();
    let (log, mut args) = log_args(&tmp);
    args.extend(route_to(&fake, &ca));
    args.extend(["--upstream-timeout".into(), "0.5".into()]);
    let proxy = ProxyProcess::start(&args);
    let out = proxy.curl(&[
        "-w",
        "\n%{http_code}",
        "https://api.trakt.tv/users/settings",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n504"), "{text}");
    let records = wait_for_records(&log, 1);
    assert!(records[0]["response"].is_null());
    assert_failure_told(
        &proxy,
        &text,
        &records[0],
        &["no response within 0.5 s"],
        "allow more time with --upstream-timeout SECONDS",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_upstream_certificate_is_refused_with_502() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let tmp = tempfile::tempdir().unwrap();
    let (log, mut args) = log_args(&tmp);
    // Routed to the fake, but its CA is not trusted.
    args.extend([
        "--resolve".into(),
        format!("api.trakt.tv:443={}", fake.addr),
    ]);
    let proxy = ProxyProcess::start(&args);
    let out = proxy.curl(&[
        "-w",
        "\n%{http_code}",
        "https://api.trakt.tv/users/settings",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n502"), "{text}");
    assert!(fake.received().is_empty());
    let records = wait_for_records(&log, 1);
    assert_failure_told(
        &proxy,
        &text,
        &records[0],
        &[
            "the upstream's certificate is not trusted",
            "unknown issuer",
        ],
        "pass its CA with --upstream-ca FILE",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_flushes_every_record_and_exits_zero() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (mut proxy, log, _tmp) = logged_proxy(&fake, &ca, &[]);
    let ca_path = proxy.ca_path().display().to_string();
    let urls: Vec<String> = (0..12)
        .map(|i| format!("https://api.trakt.tv/movies/{i}"))
        .collect();
    let mut curl_args = vec![
        "-x",
        proxy.url().leak(),
        "--cacert",
        ca_path.as_str(),
        "--parallel",
    ];
    curl_args.extend(urls.iter().map(|u| u.as_str()));
    let out = curl(&curl_args);
    assert!(out.status.success());
    assert_eq!(proxy.interrupt(), Some(0));
    assert_eq!(read_jsonl(&log).len(), 12);
    assert!(
        proxy.stderr().contains("12 exchange(s) logged"),
        "{}",
        proxy.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_through_and_the_record_says_truncated() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let tmp = tempfile::tempdir().unwrap();
    let (log, mut args) = log_args(&tmp);
    args.extend(route_to(&fake, &ca));
    args.extend(["--capture-limit".into(), "1000".into()]);
    let proxy = ProxyProcess::start(&args);
    let big = tmp.path().join("big.json");
    let body = format!("[{}1]", "1,".repeat(5000));
    std::fs::write(&big, &body).unwrap();
    let out = proxy.curl(&[
        "-H",
        "content-type: application/json",
        "--data-binary",
        &format!("@{}", big.display()),
        "https://api.trakt.tv/sync/history",
    ]);
    assert!(out.status.success());
    assert_eq!(
        fake.received()[0].body.len(),
        body.len(),
        "the whole body must reach the upstream"
    );
    let records = wait_for_records(&log, 1);
    let logged = &records[0]["request"]["body"];
    assert_eq!(logged["truncated"], true);
    assert_eq!(logged["size"], body.len());
    assert_eq!(logged["text"].as_str().unwrap().len(), 1000);
    // The echoed response is larger than the limit too.
    assert_eq!(records[0]["response"]["body"]["truncated"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_malformed_requests_are_refused_and_the_proxy_keeps_serving() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let tmp = tempfile::tempdir().unwrap();
    let (_log, mut args) = log_args(&tmp);
    args.extend(route_to(&fake, &ca));
    let proxy = ProxyProcess::start(&args);

    let answer = |request: &'static [u8]| {
        let addr = proxy.addr;
        async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(request).await.unwrap();
            let mut out = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    let garbage = answer(b"\x00\x01\x02garbage\r\n\r\n").await;
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );
    let bad_line = answer(b"GET\r\n\r\n").await;
    assert!(
        bad_line.is_empty() || bad_line.starts_with("HTTP/1.1 400"),
        "{bad_line}"
    );
    let no_port = answer(b"CONNECT api.trakt.tv HTTP/1.1\r\nHost: api.trakt.tv\r\n\r\n").await;
    assert!(no_port.starts_with("HTTP/1.1 400"), "{no_port}");
    let port_zero =
        answer(b"CONNECT api.trakt.tv:0 HTTP/1.1\r\nHost: api.trakt.tv:0\r\n\r\n").await;
    assert!(
        port_zero.starts_with("HTTP/1.1 400") && port_zero.contains("port 0"),
        "{port_zero}"
    );
    // Not TLS and not HTTP inside an intercepted tunnel.
    let inside = answer(
        b"CONNECT api.trakt.tv:443 HTTP/1.1\r\nHost: api.trakt.tv:443\r\n\r\nhello there\r\n\r\n",
    )
    .await;
    assert!(inside.starts_with("HTTP/1.1 200"), "{inside}");
    // A loop back into the proxy itself.
    let own = format!("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n\r\n", proxy.addr);
    let own = answer(own.leak().as_bytes()).await;
    assert!(own.starts_with("HTTP/1.1 508"), "{own}");

    proxy.wait_for("a log line about the bad bytes", |p| {
        p.stderr().contains("not valid HTTP")
    });
    assert!(proxy.stderr().contains("refused CONNECT"));
    // Still serving.
    let out = proxy.curl(&["https://api.trakt.tv/ok"]);
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_proxy_requests_are_forwarded() {
    // A plain-HTTP origin on loopback, not intercepted.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(
                |req: http::Request<hyper::body::Incoming>| async move {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        format!("plain {}", req.uri()),
                    ))))
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    let proxy = ProxyProcess::start(&[]);
    let out = curl(&["-x", &proxy.url(), &format!("http://{origin}/hello?x=1")]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "plain /hello?x=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_serves_its_ca_and_a_pac_file() {
    let proxy = ProxyProcess::start(&[]);
    let ca = curl(&[&format!("{}/ca", proxy.url())]);
    assert_eq!(
        String::from_utf8_lossy(&ca.stdout),
        std::fs::read_to_string(proxy.ca_path()).unwrap()
    );
    let pac = String::from_utf8_lossy(&curl(&[&format!("{}/proxy.pac", proxy.url())]).stdout)
        .into_owned();
    assert!(pac.contains("FindProxyForURL"));
    assert!(pac.contains("\"api.trakt.tv\"") && pac.contains("\"www.strem.io\""));
    assert!(pac.contains(&format!("PROXY {}", proxy.addr)), "{pac}");
    let key = curl(&[
        &format!("{}/trakt-doctor-ca.key", proxy.url()),
        "-w",
        "%{http_code}",
    ]);
    assert!(String::from_utf8_lossy(&key.stdout).ends_with("404"));
}

/// A log appended to by several runs holds each id once: a new run numbers
/// its exchanges after the log's last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_go_on_across_runs_appending_to_one_log() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let (mut first, log, _dir) = logged_proxy(&fake, &ca, &[]);
    for _ in 0..2 {
        first.curl(&[
            "-s",
            "-o",
            "/dev/null",
            "https://api.trakt.tv/movies/trending",
        ]);
    }
    wait_for_records(&log, 2);
    first.interrupt();
    let log_arg = log.display().to_string();
    let mut args = vec!["--log".to_string(), log_arg];
    args.extend(route_to(&fake, &ca));
    let mut second = ProxyProcess::start(&args);
    second.curl(&[
        "-s",
        "-o",
        "/dev/null",
        "https://api.trakt.tv/movies/trending",
    ]);
    let records = wait_for_records(&log, 3);
    second.interrupt();
    let ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
}
