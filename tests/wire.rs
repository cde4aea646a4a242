//! The wire as it is: Trakt's answers come compressed (the CDN in front of
//! it compresses whatever a client accepts), and trakt-doctor must read them
//! while passing them on untouched. Through the real binary, against the
//! fake upstream: for each coding (gzip, zlib deflate, raw deflate, br,
//! zstd, stacked `gzip, br`) the record holds the decoded, redacted text
//! with `encoding` and `wire_size`, no secret reaches the logs in any form,
//! and the client receives the upstream's encoded bytes byte for byte. Then
//! the failures: a truncated or corrupt gzip body, an unknown coding, a
//! coding on a 204, a gzip bomb, a coded 206 range; each is said in the
//! record (`decode_error` or `truncated`, a `response.encoding.*` finding)
//! while the proxy keeps serving and forwards the bytes as they came.
//!
//! The first tests check the fake CDN itself (tests/common/cdn.rs).
//! Loopback only.

mod common;

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

const SCROBBLE_422: &str = r#"{"errors":{"progress":["must be a number between 0 and 100"]}}"#;
const SCROBBLE_BODY: &str = r#"{"movie":{"ids":{"trakt":28}},"progress":140}"#;

/// A coding case: its name (sent to the fake in `x-test-coding`), the
/// client's `Accept-Encoding`, and the `Content-Encoding` expected back.
struct Case {
    name: &'static str,
    accept: &'static str,
    coding: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "gzip",
        accept: "gzip",
        coding: "gzip",
    },
    Case {
        name: "deflate-zlib",
        accept: "deflate",
        coding: "deflate",
    },
    Case {
        name: "deflate-raw",
        accept: "deflate",
        coding: "deflate",
    },
    Case {
        name: "br",
        accept: "br",
        coding: "br",
    },
    Case {
        name: "zstd",
        accept: "zstd",
        coding: "zstd",
    },
    Case {
        name: "gzip-br",
        accept: "gzip, br",
        coding: "gzip, br",
    },
];

fn access_token(case: &str) -> String {
    format!("wire-access-{case}-7d1f3a9c5e0b2468")
}

fn refresh_token(case: &str) -> String {
    format!("wire-refresh-{case}-0c9e8b7a6f5d4e3c")
}

fn token_json(case: &str) -> String {
    serde_json::json!({
        "access_token": access_token(case),
        "token_type": "bearer",
        "expires_in": 7776000,
        "refresh_token": refresh_token(case),
        "scope": "public",
        "created_at": 1_780_000_000,
    })
    .to_string()
}

/// Trakt's answers for the coding cases: the CDN's own negotiation for the
/// codings it makes, the test's encoded bytes for raw deflate and a stack.
fn coding_trakt() -> Handler {
    Arc::new(|r: &Received| {
        let case = r
            .headers
            .get("x-test-coding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let json = if r.path.starts_with("/oauth/token") {
            token_json(&case)
        } else {
            SCROBBLE_422.to_string()
        };
        let status = if r.path.starts_with("/oauth/token") {
            200
        } else {
            422
        };
        let reply = Reply::json(status, &json);
        match case.as_str() {
            "deflate-raw" => reply.encoded("deflate", encode_raw_deflate(json.as_bytes())),
            "gzip-br" => reply.encoded("gzip, br", encode_stacked("gzip, br", json.as_bytes())),
            _ => reply,
        }
    })
}

/// An answer as a client saw it: raw (still encoded) body.
struct Got {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request with curl through the proxy, the answer kept as it came
/// (no `--compressed`: curl does not decode, the test does).
fn curl_raw(proxy: &ProxyProcess, dir: &Path, args: &[&str]) -> Got {
    let head = dir.join("head.txt");
    let body = dir.join("body.bin");
    let _ = std::fs::remove_file(&head);
    let _ = std::fs::remove_file(&body);
    let head_s = head.display().to_string();
    let body_s = body.display().to_string();
    let out = proxy.curl(&[&["-D", head_s.as_str(), "-o", body_s.as_str()], args].concat());
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_curl_head(
        &std::fs::read_to_string(&head).unwrap(),
        std::fs::read(&body).unwrap_or_default(),
    )
}

/// The last header block curl wrote with `-D` (after any 1xx).
fn parse_curl_head(text: &str, body: Vec<u8>) -> Got {
    let block = text
        .split("\r\n\r\n")
        .filter(|b| b.starts_with("HTTP/"))
        .last()
        .unwrap_or_else(|| panic!("no answer head in {text:?}"));
    let mut lines = block.lines();
    let status_line = lines.next().unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line}"));
    let mut headers = http::HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(
                http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                http::HeaderValue::from_str(value.trim()).unwrap(),
            );
        }
    }
    Got {
        status,
        headers,
        body,
    }
}

/// What the fake sent for the `n`th request it received.
fn sent(fake: &FakeUpstream, n: usize) -> Sent {
    fake.sent()
        .get(n)
        .cloned()
        .unwrap_or_else(|| panic!("the fake sent no answer #{n}"))
}

/// The client got exactly the upstream's bytes and coding.
fn assert_passed_on(got: &Got, sent: &Sent, what: &str) {
    assert_eq!(got.status, sent.status, "{what}: status");
    let sent_coding = sent
        .headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        got.header("content-encoding").map(str::to_string),
        sent_coding,
        "{what}: Content-Encoding must reach the client as the upstream sent it"
    );
    assert!(
        got.body == sent.body[..],
        "{what}: the client must get the upstream's bytes unchanged ({} bytes sent, {} received)",
        sent.body.len(),
        got.body.len()
    );
}

fn rules(record: &Value) -> Vec<String> {
    record["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn encoding_rules(record: &Value) -> Vec<String> {
    rules(record)
        .into_iter()
        .filter(|r| r.starts_with("response.encoding."))
        .collect()
}

/// The record's response body says which coding it undid, and how large
/// the body was on the wire; no decode error, no encoding finding.
fn assert_decoded_cleanly(record: &Value, case: &Case, sent: &Sent) {
    let body = &record["response"]["body"];
    let what = case.name;
    assert_eq!(
        record["response"]["headers"]["content-encoding"], case.coding,
        "{what}: the record keeps the header as received: {record}"
    );
    let encoding = body["encoding"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no `encoding` in the body: {body}"));
    for token in case.coding.split(", ") {
        assert!(
            encoding.contains(token),
            "{what}: `encoding` {encoding} should name {token}"
        );
    }
    assert_eq!(
        body["wire_size"].as_u64(),
        Some(sent.body.len() as u64),
        "{what}: `wire_size` is the encoded size: {body}"
    );
    assert!(
        body.get("decode_error").is_none(),
        "{what}: unexpected decode error: {body}"
    );
    assert!(body.get("base64").is_none(), "{what}: {body}");
    assert_ne!(body["truncated"], true, "{what}: {body}");
    assert!(
        encoding_rules(record).is_empty(),
        "{what}: no encoding finding on a good body: {:?}",
        rules(record)
    );
}

/// Every string in a JSON document.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// `secret` appears nowhere in `text` (a JSONL or HAR file): not in clear,
/// not inside a base64 string, not inside what such a string decodes to
/// under any coding (a kept copy of the compressed body).
fn assert_no_leak(name: &str, text: &str, secret: &str) {
    assert!(!text.contains(secret), "{secret} leaked into {name}");
    let mut all = Vec::new();
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            strings(&v, &mut all);
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        strings(&v, &mut all);
    }
    for s in all {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s.trim()) else {
            continue;
        };
        let contains = |b: &[u8]| b.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!contains(&bytes), "{secret} leaked into {name} in base64");
        for coding in ["gzip", "deflate", "br", "zstd", "gzip, br"] {
            if let Ok(plain) = decode(coding, &bytes) {
                assert!(
                    !contains(&plain),
                    "{secret} leaked into {name} as base64 of {coding} bytes"
                );
            }
        }
    }
}

/// The proxy routed to `fake`, logging JSON Lines and a HAR file into a
/// fresh folder: (proxy, JSONL path, HAR path, folder).
fn logged_proxy_with_har(
    fake: &FakeUpstream,
    ca: &TestCa,
) -> (
    ProxyProcess,
    std::path::PathBuf,
    std::path::PathBuf,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let har = dir.path().join("wire.har");
    let mut args = vec![
        "--log".to_string(),
        log.display().to_string(),
        "--har".to_string(),
        har.display().to_string(),
    ];
    args.extend(route_to(fake, ca));
    (ProxyProcess::start(&args), log, har, dir)
}

fn still_serving(proxy: &ProxyProcess, fake: &FakeUpstream) {
    let before = fake.received().len();
    let out = proxy.curl(&[
        "-H",
        "User-Agent: WireTest/1.0",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "https://api.trakt.tv/users/settings",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "the proxy must keep serving: {}",
        proxy.stderr()
    );
    assert_eq!(fake.received().len(), before + 1);
}

/// The proxy's peak resident memory (Linux), in bytes.
fn peak_rss(proxy: &ProxyProcess) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.child.id())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

// ---------------------------------------------------------------------------
// The fake CDN itself.

#[test]
fn the_fake_cdn_negotiates_as_cloudflare_does() {
    let cases = [
        ("gzip, deflate, br, zstd", Some(Coding::Zstd)),
        ("gzip, deflate, br", Some(Coding::Br)),
        ("gzip, deflate", Some(Coding::Gzip)),
        ("deflate", Some(Coding::Deflate)),
        ("deflate, gzip;q=0.1", Some(Coding::Gzip)),
        ("br;q=0, gzip", Some(Coding::Gzip)),
        ("zstd;q=0, br;q=0.5, gzip;q=1.0", Some(Coding::Br)),
        ("ZSTD;Q=0.2", Some(Coding::Zstd)),
        ("x-gzip", Some(Coding::Gzip)),
        ("*", Some(Coding::Zstd)),
        ("*;q=0, gzip", Some(Coding::Gzip)),
        ("identity", None),
        ("gzip;q=0", None),
        ("compress", None),
        ("", None),
    ];
    for (accept, expected) in cases {
        assert_eq!(negotiate(accept), expected, "{accept:?}");
    }
    let text = SCROBBLE_422.as_bytes();
    for coding in Coding::PREFERENCE {
        let encoded = encode(coding, text);
        assert_eq!(decode(coding.name(), &encoded).unwrap(), text, "{coding:?}");
    }
    assert_eq!(
        decode("deflate", &encode_raw_deflate(text)).unwrap(),
        text,
        "raw deflate decodes as deflate"
    );
    assert_eq!(
        decode("gzip, br", &encode_stacked("gzip, br", text)).unwrap(),
        text
    );
    assert!(decode("compress", text).is_err());
    let page = cloudflare_page(403);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("<title>Attention Required! | Cloudflare</title>"));
    assert!(html.contains("Sorry, you have been blocked"));
    for status in [520, 521, 522, 523, 524] {
        let page = cloudflare_page(status);
        assert!(String::from_utf8_lossy(&page.body).contains(&format!("{status}: ")));
    }
}

/// A hyper HTTP/1.1 or HTTP/2 connection straight to the fake (no proxy).
async fn fake_client(
    ca: &TestCa,
    fake: &FakeUpstream,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(fake.addr).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls_pki_types::ServerName::try_from("api.trakt.tv").unwrap(),
            stream,
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_answers_compressed_chunked_and_with_cloudflares_headers() {
    let ca = TestCa::new();
    let list = r#"[{"movie":{"title":"A"}},{"movie":{"title":"B"}},{"movie":{"title":"C"}}]"#;
    let handler: Handler = Arc::new(move |r: &Received| match r.path.as_str() {
        "/plain" => Reply::json(200, SCROBBLE_422).plain(),
        "/empty" => Reply::json(204, ""),
        _ => Reply::json(200, list),
    });
    let fake = FakeUpstream::start(&ca, handler).await;

    // HTTP/1.1: a browser's Accept-Encoding gets zstd, chunked.
    let tls = fake_client(&ca, &fake, b"http/1.1").await;
    let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let get = |path: &str, accept: Option<&str>| {
        let mut req = http::Request::get(format!("https://api.trakt.tv{path}"))
            .header("host", "api.trakt.tv")
            .header("authorization", "Bearer x");
        if let Some(accept) = accept {
            req = req.header("accept-encoding", accept);
        }
        req.body(Empty::<Bytes>::new()).unwrap()
    };
    h1.ready().await.unwrap();
    let response = h1
        .send_request(get(
            "/movies/trending?page=2&limit=2",
            Some("gzip, deflate, br, zstd"),
        ))
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let h = &parts.headers;
    assert_eq!(h["content-encoding"], "zstd");
    assert_eq!(h["transfer-encoding"], "chunked");
    assert!(!h.contains_key("content-length"));
    assert_eq!(h["vary"], "Accept-Encoding");
    assert_eq!(h["server"], "cloudflare");
    assert_eq!(h["cf-cache-status"], "DYNAMIC");
    let ray = h["cf-ray"].to_str().unwrap();
    assert!(
        ray.len() == 20 && ray[..16].chars().all(|c| c.is_ascii_hexdigit()) && &ray[16..] == "-AMS",
        "{ray}"
    );
    assert!(h.contains_key("date") && h.contains_key("x-request-id"));
    assert!(h["set-cookie"].to_str().unwrap().starts_with("__cf_bm="));
    let limit: Value = serde_json::from_str(h["x-ratelimit"].to_str().unwrap()).unwrap();
    assert_eq!(limit["name"], "AUTHED_API_GET_LIMIT");
    assert_eq!(h["x-pagination-page"], "2");
    assert_eq!(h["x-pagination-limit"], "2");
    assert_eq!(h["x-pagination-item-count"], "3");
    assert_eq!(h["x-pagination-page-count"], "2");
    assert_eq!(decoded_body(h, &bytes), list.as_bytes());
    assert_eq!(
        fake.sent()[0].body,
        bytes,
        "`sent` keeps the bytes on the wire"
    );

    // No Accept-Encoding: identity, still chunked. A plain reply: sized.
    h1.ready().await.unwrap();
    let response = h1
        .send_request(get("/movies/trending", None))
        .await
        .unwrap();
    assert!(!response.headers().contains_key("content-encoding"));
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes, list.as_bytes());
    h1.ready().await.unwrap();
    let response = h1.send_request(get("/plain", Some("gzip"))).await.unwrap();
    assert!(!response.headers().contains_key("content-encoding"));
    assert_eq!(
        response.headers()["content-length"],
        SCROBBLE_422.len().to_string().as_str()
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes, SCROBBLE_422.as_bytes());
    h1.ready().await.unwrap();
    let response = h1.send_request(get("/empty", Some("gzip"))).await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(!response.headers().contains_key("content-encoding"));

    // HTTP/2: br for `gzip, br`, no content-length.
    let tls = fake_client(&ca, &fake, b"h2").await;
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("https://api.trakt.tv/movies/trending")
        .header("accept-encoding", "gzip, br")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = h2.send_request(req).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.headers()["content-encoding"], "br");
    assert!(!response.headers().contains_key("content-length"));
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(decoded_body(&parts.headers, &bytes), list.as_bytes());
    let limit: Value =
        serde_json::from_str(parts.headers["x-ratelimit"].to_str().unwrap()).unwrap();
    assert_eq!(limit["name"], "UNAUTHED_API_GET_LIMIT");
}

// ---------------------------------------------------------------------------
// Each coding, end to end.

/// How a case's request is sent through the proxy.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// curl over HTTP/1.1, answer kept raw.
    Curl,
    /// A hyper client over HTTP/2 that decodes the answer itself.
    RustH2,
}

/// What to ask: the scrobble that Trakt answers 422, or the token exchange.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ask {
    Scrobble,
    Token,
}

impl Ask {
    fn url(self) -> &'static str {
        match self {
            Ask::Scrobble => "https://api.trakt.tv/scrobble/start",
            Ask::Token => "https://api.trakt.tv/oauth/token",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Ask::Scrobble => SCROBBLE_BODY,
            Ask::Token => {
                r#"{"code":"wire-code-4e5f6a","client_id":"wire-client","client_secret":"wire-secret-9b8a","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"authorization_code"}"#
            }
        }
    }
}

async fn send_h2(
    sender: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    ask: Ask,
    case: &Case,
) -> Got {
    let req = http::Request::post(ask.url())
        .header("content-type", "application/json")
        .header("user-agent", "WireTest/1.0")
        .header("trakt-api-version", "2")
        .header("trakt-api-key", "wire-client")
        .header("authorization", "Bearer wire-bearer-1a2b3c")
        .header("accept-encoding", case.accept)
        .header("x-test-coding", case.name)
        .body(Full::new(Bytes::from_static(ask.body().as_bytes())))
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Got {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

async fn each_coding(ask: Ask, client: Client) {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, coding_trakt()).await;
    let (mut proxy, log, har, dir) = logged_proxy_with_har(&fake, &ca);
    let mut h2 = match client {
        Client::RustH2 => {
            let our_ca = read_cert(&proxy.ca_path());
            let tls = connect_through(proxy.addr, "api.trakt.tv", 443, &our_ca, &[b"h2"]).await;
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            Some(sender)
        }
        Client::Curl => None,
    };
    for (i, case) in CASES.iter().enumerate() {
        let got = match h2.as_mut() {
            Some(sender) => send_h2(sender, ask, case).await,
            None => curl_raw(
                &proxy,
                dir.path(),
                &[
                    "--http1.1",
                    "-H",
                    "Content-Type: application/json",
                    "-H",
                    "User-Agent: WireTest/1.0",
                    "-H",
                    "trakt-api-version: 2",
                    "-H",
                    "trakt-api-key: wire-client",
                    "-H",
                    "Authorization: Bearer wire-bearer-1a2b3c",
                    "-H",
                    &format!("Accept-Encoding: {}", case.accept),
                    "-H",
                    &format!("x-test-coding: {}", case.name),
                    "--data",
                    ask.body(),
                    ask.url(),
                ],
            ),
        };
        let sent = sent(&fake, i);
        let what = format!("{ask:?} {} via {client:?}", case.name);
        assert_eq!(
            sent.headers["content-encoding"], case.coding,
            "{what}: the fake sent the coding the case is about"
        );
        assert_passed_on(&got, &sent, &what);
        let expected = match ask {
            Ask::Scrobble => SCROBBLE_422.to_string(),
            Ask::Token => token_json(case.name),
        };
        assert_eq!(
            decoded_body(&got.headers, &got.body),
            expected.as_bytes(),
            "{what}: the client can decode what it got"
        );

        let records = wait_for_records(&log, i + 1);
        let record = records
            .get(i)
            .unwrap_or_else(|| panic!("{what}: no record #{i}"));
        assert_eq!(record["request"]["url"], ask.url(), "{what}");
        assert_decoded_cleanly(record, case, &sent);
        let text = record["response"]["body"]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no decoded text: {record}"));
        match ask {
            Ask::Scrobble => {
                assert_eq!(text, SCROBBLE_422, "{what}: the decoded JSON, as sent");
                assert_eq!(record["response"]["status"], 422);
                let causes = record["diagnosis"]["causes"].to_string();
                assert!(
                    causes.contains("must be a number between 0 and 100"),
                    "{what}: the diagnosis reads the decoded answer: {causes}"
                );
            }
            Ask::Token => {
                assert_eq!(record["response"]["status"], 200);
                let json: Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
                for key in ["access_token", "refresh_token"] {
                    let v = json[key].as_str().unwrap_or_default();
                    assert!(v.starts_with("sha256:"), "{what}: {key} is {v:?}");
                }
                assert_eq!(json["token_type"], "bearer", "{what}");
                assert_eq!(json["expires_in"], 7776000, "{what}");
                assert_eq!(json["created_at"], 1_780_000_000, "{what}");
            }
        }
    }
    drop(h2);
    assert_eq!(proxy.interrupt(), Some(0));
    let jsonl = std::fs::read_to_string(&log).unwrap();
    let har_text = std::fs::read_to_string(&har).unwrap();
    let har_json: Value = serde_json::from_str(&har_text).expect("the HAR is JSON");
    let entries = har_json["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), CASES.len(), "one HAR entry per exchange");
    for entry in entries {
        let content = &entry["response"]["content"];
        let text = content["text"].as_str().unwrap_or_default();
        assert!(
            content["encoding"].is_null() && !text.is_empty(),
            "the HAR holds the decoded text, not base64 of the coded bytes: {content}"
        );
        assert!(
            serde_json::from_str::<Value>(text).is_ok(),
            "HAR text is the decoded JSON: {text}"
        );
    }
    for case in CASES {
        for secret in [access_token(case.name), refresh_token(case.name)] {
            assert_no_leak("the JSONL log", &jsonl, &secret);
            assert_no_leak("the HAR file", &har_text, &secret);
            assert!(
                !proxy.stdout().contains(&secret),
                "{secret} reached the terminal"
            );
        }
    }
    for secret in ["wire-secret-9b8a", "wire-code-4e5f6a", "wire-bearer-1a2b3c"] {
        assert_no_leak("the JSONL log", &jsonl, secret);
        assert_no_leak("the HAR file", &har_text, secret);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coded_422_is_recorded_decoded_and_passed_on_unchanged_to_curl() {
    each_coding(Ask::Scrobble, Client::Curl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coded_422_is_recorded_decoded_and_passed_on_unchanged_over_http2() {
    each_coding(Ask::Scrobble, Client::RustH2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coded_token_answer_is_recorded_decoded_and_redacted_to_curl() {
    each_coding(Ask::Token, Client::Curl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coded_token_answer_is_recorded_decoded_and_redacted_over_http2() {
    each_coding(Ask::Token, Client::RustH2).await;
}

// ---------------------------------------------------------------------------
// Codings that cannot be read, or should not be.

/// Gzip bytes of `mib` MiB of zeros, made cheaply: one MiB of zeros is
/// deflated twice with a sync flush; the second block (byte-aligned, every
/// match within zeros) decodes to one MiB of zeros after any zeros, so it is
/// repeated; the trailer's CRC is combined from the one MiB's, not computed.
fn gzip_zeros(mib: u32) -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    const MIB: usize = 1 << 20;
    let zeros = vec![0u8; MIB];
    let mut deflate = Compress::new(Compression::best(), false);
    let mut block = |input: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(256 * 1024);
        let before = deflate.total_in();
        deflate.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(deflate.total_in() - before, input.len() as u64);
        out
    };
    let first = block(&zeros, FlushCompress::Sync);
    let again = block(&zeros, FlushCompress::Sync);
    let end = block(&[], FlushCompress::Finish);
    let mut one = Crc::new();
    one.update(&zeros);
    let mut crc = Crc::new();
    for _ in 0..mib {
        crc.combine(&one);
    }
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&first);
    for _ in 1..mib {
        out.extend_from_slice(&again);
    }
    out.extend_from_slice(&end);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((u64::from(mib) * MIB as u64) as u32).to_le_bytes());
    out
}

#[test]
fn the_gzip_bomb_is_a_valid_gzip_of_zeros() {
    let small = gzip_zeros(16);
    let plain = decode("gzip", &small).unwrap();
    assert_eq!(plain.len(), 16 << 20);
    assert!(plain.iter().all(|b| *b == 0));
    let bomb = gzip_zeros(1024);
    assert!(bomb.len() < 1_100_000, "{} bytes", bomb.len());
    let double = encode(Coding::Gzip, &bomb);
    assert!(double.len() < 16 * 1024, "{} bytes", double.len());
}

/// A JSON answer of a few KB that does not compress to nothing.
fn history_json() -> String {
    let items: Vec<Value> = (0..120)
        .map(|i| {
            serde_json::json!({
                "id": 1_000_000 + i * 7919,
                "watched_at": format!("2026-0{}-{:02}T{:02}:{:02}:00.000Z", 1 + i % 9, 1 + i % 28, i % 24, (i * 13) % 60),
                "action": if i % 3 == 0 { "scrobble" } else { "watch" },
                "movie": {"title": format!("Film {}", i * 31 % 97), "year": 1950 + i % 70, "ids": {"trakt": i * 17 + 3, "imdb": format!("tt{:07}", i * 104_729 % 9_999_999)}},
            })
        })
        .collect();
    Value::Array(items).to_string()
}

/// Trakt answering `odd` to everything but `/users/settings` (which
/// [`still_serving`] asks).
fn odd_trakt(odd: Reply) -> Handler {
    Arc::new(move |r: &Received| {
        if r.path.starts_with("/users/settings") {
            Reply::json(200, "{}")
        } else {
            odd.clone()
        }
    })
}

/// `args` sent with curl through a proxy routed to a fake answering `odd`:
/// the proxy (still running), the fake, the client's answer (checked to be
/// the bytes the fake sent), and the record.
struct Odd {
    proxy: ProxyProcess,
    fake: FakeUpstream,
    got: Got,
    record: Value,
    _dir: tempfile::TempDir,
}

async fn odd_answer(odd: Reply, args: &[&str]) -> Odd {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, odd_trakt(odd)).await;
    let (proxy, log, dir) = logged_proxy(&fake, &ca, &[]);
    let base = ["--http1.1", "-H", "User-Agent: WireTest/1.0"];
    let got = curl_raw(&proxy, dir.path(), &[&base[..], args].concat());
    let sent = sent(&fake, 0);
    let record = wait_for_records(&log, 1)
        .into_iter()
        .next()
        .expect("a record of the exchange");
    assert_passed_on(&got, &sent, "the odd answer");
    Odd {
        proxy,
        fake,
        got,
        record,
        _dir: dir,
    }
}

/// The record says the body could not be (wholly) decoded: the body
/// carries `decode_error` (in words, or as `{kind, message}`) or
/// `truncated`, with the `encoding` it could not undo.
fn assert_told_undecodable(record: &Value, what: &str) {
    let body = &record["response"]["body"];
    let error = &body["decode_error"];
    let told = match error {
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => o
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        _ => false,
    };
    assert!(
        told || body["truncated"] == true,
        "{what}: the body must carry `decode_error` (or `truncated`): {body}; findings {:?}",
        rules(record)
    );
    assert!(
        body["encoding"].is_string(),
        "{what}: the body names the coding it could not undo: {body}"
    );
}

fn assert_rule(record: &Value, rule: &str, what: &str) {
    assert!(
        rules(record).iter().any(|r| r == rule),
        "{what}: expected the finding {rule}; findings: {:?}",
        rules(record)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_gzip_body_is_told_corrupt_and_passed_on_as_it_came() {
    let gz = encode(Coding::Gzip, history_json().as_bytes());
    let cut = gz[..gz.len() / 2].to_vec();
    let odd = odd_answer(
        Reply::json(200, "").encoded("gzip", cut),
        &[
            "-H",
            "Accept-Encoding: gzip",
            "https://api.trakt.tv/sync/history",
        ],
    )
    .await;
    assert_eq!(odd.got.body.len(), gz.len() / 2);
    assert_eq!(odd.record["response"]["status"], 200);
    assert_told_undecodable(&odd.record, "truncated gzip");
    assert_rule(&odd.record, "response.encoding.corrupt", "truncated gzip");
    still_serving(&odd.proxy, &odd.fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_gzip_body_is_told_corrupt_and_passed_on_as_it_came() {
    let gz = encode(Coding::Gzip, history_json().as_bytes());
    // The first deflate block's type set to 3, which does not exist.
    let mut bad_block = gz.clone();
    bad_block[10] |= 0b110;
    // A whole deflate stream with a wrong CRC-32 in the trailer.
    let mut bad_crc = gz.clone();
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 0xff;
    for (what, body) in [("bad block type", bad_block), ("bad CRC", bad_crc)] {
        let odd = odd_answer(
            Reply::json(200, "").encoded("gzip", body.clone()),
            &[
                "-H",
                "Accept-Encoding: gzip",
                "https://api.trakt.tv/sync/history",
            ],
        )
        .await;
        assert_eq!(odd.got.body, body, "{what}");
        assert_told_undecodable(&odd.record, what);
        assert_rule(&odd.record, "response.encoding.corrupt", what);
        still_serving(&odd.proxy, &odd.fake);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_coding_is_told_unsupported_and_passed_on_as_it_came() {
    // `compress` (LZW, .Z): its magic, then bytes trakt-doctor cannot read.
    let mut lzw = vec![0x1f, 0x9d, 0x90];
    lzw.extend((0u8..=255).map(|b| b.wrapping_mul(37)));
    let odd = odd_answer(
        Reply::json(200, "").encoded("compress", lzw.clone()),
        &[
            "-H",
            "Accept-Encoding: compress, gzip",
            "https://api.trakt.tv/sync/history",
        ],
    )
    .await;
    assert_eq!(odd.got.header("content-encoding"), Some("compress"));
    assert_eq!(odd.got.body, lzw);
    assert_told_undecodable(&odd.record, "compress");
    assert_rule(&odd.record, "response.encoding.unsupported", "compress");
    assert!(
        !rules(&odd.record)
            .iter()
            .any(|r| r == "response.encoding.corrupt"),
        "an unknown coding is not a corrupt body: {:?}",
        rules(&odd.record)
    );
    still_serving(&odd.proxy, &odd.fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coding_on_a_204_has_nothing_to_decode() {
    let odd = odd_answer(
        Reply::json(204, "").encoded("gzip", Bytes::new()),
        &[
            "-H",
            "Accept-Encoding: gzip",
            "-H",
            "Authorization: Bearer wire-bearer-1a2b3c",
            "-X",
            "DELETE",
            "https://api.trakt.tv/checkin",
        ],
    )
    .await;
    assert_eq!(odd.got.status, 204);
    assert_eq!(odd.got.header("content-encoding"), Some("gzip"));
    assert!(odd.got.body.is_empty());
    let response = &odd.record["response"];
    assert_eq!(response["status"], 204);
    assert_eq!(response["headers"]["content-encoding"], "gzip");
    assert!(
        response["body"].is_null() || response["body"].get("decode_error").is_none(),
        "an empty body is not an undecodable one: {response}"
    );
    assert!(
        !rules(&odd.record)
            .iter()
            .any(|r| r == "response.encoding.corrupt"),
        "{:?}",
        rules(&odd.record)
    );
    still_serving(&odd.proxy, &odd.fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coded_206_range_is_not_taken_for_the_whole_body() {
    let gz = encode(Coding::Gzip, history_json().as_bytes());
    assert!(gz.len() > 400, "{}", gz.len());
    let part = gz[100..300].to_vec();
    let odd = odd_answer(
        Reply {
            status: 206,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "content-range".into(),
                    format!("bytes 100-299/{}", gz.len()),
                ),
            ],
            ..Reply::default()
        }
        .encoded("gzip", part.clone()),
        &[
            "-H",
            "Accept-Encoding: gzip",
            "-H",
            "Range: bytes=100-299",
            "https://api.trakt.tv/sync/history",
        ],
    )
    .await;
    assert_eq!(odd.got.status, 206);
    assert_eq!(odd.got.body, part);
    assert_eq!(
        odd.got.header("content-range"),
        Some(format!("bytes 100-299/{}", gz.len()).as_str())
    );
    assert_told_undecodable(&odd.record, "206 range of a gzip body");
    assert!(
        !encoding_rules(&odd.record).is_empty(),
        "a response.encoding.* finding says the range could not be read: {:?}",
        rules(&odd.record)
    );
    still_serving(&odd.proxy, &odd.fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_stops_at_the_capture_limit_and_memory_stays_small() {
    // 1 GiB of zeros: about 1 MB as gzip, about 4 KB as gzip of that gzip.
    let bomb = Bytes::from(gzip_zeros(1024));
    let double = Bytes::from(encode(Coding::Gzip, &bomb));
    let cases = [("gzip", bomb.clone()), ("gzip, gzip", double.clone())];
    let handler: Handler = Arc::new(move |r: &Received| {
        let reply = Reply::json(200, "");
        match r.path.as_str() {
            "/sync/history/single" => reply.encoded("gzip", bomb.clone()),
            "/sync/history/double" => reply.encoded("gzip, gzip", double.clone()),
            _ => Reply::json(200, "{}"),
        }
    });
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, handler).await;
    let (proxy, log, dir) = logged_proxy(&fake, &ca, &[]);
    let baseline = peak_rss(&proxy);
    for (i, ((coding, body), path)) in cases.iter().zip(["single", "double"]).enumerate() {
        let got = curl_raw(
            &proxy,
            dir.path(),
            &[
                "--http1.1",
                "-H",
                "User-Agent: WireTest/1.0",
                "-H",
                "Accept-Encoding: gzip",
                &format!("https://api.trakt.tv/sync/history/{path}"),
            ],
        );
        let sent = sent(&fake, i);
        assert_passed_on(&got, &sent, coding);
        assert_eq!(got.body.len(), body.len(), "{coding}");
        let record = wait_for_records(&log, i + 1)
            .into_iter()
            .nth(i)
            .expect("a record");
        let logged = &record["response"]["body"];
        assert_told_undecodable(&record, coding);
        assert_rule(&record, "response.encoding.too-large", coding);
        let text_len = logged["text"]
            .as_str()
            .map_or(0, str::len)
            .max(logged["base64"].as_str().map_or(0, str::len));
        assert!(
            text_len <= 1 << 21,
            "{coding}: the record holds at most the capture limit ({text_len} bytes)"
        );
    }
    let peak = peak_rss(&proxy);
    if let (Some(before), Some(peak)) = (baseline, peak) {
        assert!(
            peak < before + 192 * 1024 * 1024,
            "the proxy's peak memory went from {} MiB to {} MiB on a gzip bomb",
            before >> 20,
            peak >> 20
        );
    }
    still_serving(&proxy, &fake);
}
