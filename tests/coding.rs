//! The same exchange gives the same findings, diagnosis and redacted record
//! whether the server compressed its answer (and the client its request)
//! or not, for every coding Trakt's and Stremio's CDN uses and stacks of
//! them: the property of issue 27. The bodies are real answers (Trakt's 422
//! to a scrobble, an OAuth token answer, Stremio's getUser with an expired
//! Trakt token, Trakt's invalid_grant) and arbitrary text.

use std::io::Write;

use bytes::Bytes;
use proptest::prelude::*;
use trakt_doctor::exchange::coding::{decode_request, decode_response};
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};
use trakt_doctor::fix::FixPolicy;
use trakt_doctor::inspect::Inspector;
use trakt_doctor::redact::Redactor;

const ACCESS: &str = "9f1c0ad6e1b44a3d8e2b7c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e";
const REFRESH: &str = "1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3";

fn at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-24 12:00 UTC)
}

#[derive(Debug, Clone, Copy)]
enum Codec {
    Gzip,
    Zlib,
    RawDeflate,
    Brotli,
    Zstd,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zlib | Codec::RawDeflate => "deflate",
            Codec::Brotli => "br",
            Codec::Zstd => "zstd",
        }
    }

    fn encode(self, data: &[u8]) -> Vec<u8> {
        let level = flate2::Compression::default();
        match self {
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Codec::Zlib => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Codec::RawDeflate => {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Codec::Brotli => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    w.write_all(data).unwrap();
                }
                out
            }
            Codec::Zstd => {
                ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
            }
        }
    }
}

fn codec() -> impl Strategy<Value = Codec> {
    prop_oneof![
        Just(Codec::Gzip),
        Just(Codec::Zlib),
        Just(Codec::RawDeflate),
        Just(Codec::Brotli),
        Just(Codec::Zstd),
    ]
}

/// `data` coded by `codecs` in order, and the `Content-Encoding` naming them.
fn coded(data: &[u8], codecs: &[Codec]) -> (Vec<u8>, String) {
    let mut wire = data.to_vec();
    for codec in codecs {
        wire = codec.encode(&wire);
    }
    let names: Vec<&str> = codecs.iter().map(|c| c.name()).collect();
    (wire, names.join(", "))
}

/// One exchange as a test case: the request and the answer, plain.
struct Case {
    method: &'static str,
    url: &'static str,
    request_headers: Vec<(&'static str, String)>,
    request_body: String,
    status: u16,
    response_body: String,
}

fn cases() -> Vec<Case> {
    let trakt = |extra: Vec<(&'static str, String)>| {
        let mut h = vec![
            ("content-type", "application/json".to_string()),
            ("trakt-api-version", "2".into()),
            (
                "trakt-api-key",
                "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b".into(),
            ),
            ("user-agent", "Addon/1.0".into()),
        ];
        h.extend(extra);
        h
    };
    let created = at().unix_timestamp() - 3 * 86_400 - 60;
    vec![
        Case {
            method: "POST",
            url: "https://api.trakt.tv/scrobble/start",
            request_headers: trakt(vec![("authorization", format!("Bearer {ACCESS}"))]),
            request_body: r#"{"movie":{"ids":{"trakt":28}},"progress":"1.25",}"#.into(),
            status: 422,
            response_body: r#"{"error":"progress must be a number between 0 and 100"}"#.into(),
        },
        Case {
            method: "POST",
            url: "https://api.trakt.tv/oauth/token",
            request_headers: trakt(vec![]),
            request_body: format!(
                r#"{{"refresh_token":"{REFRESH}","client_id":"0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b","client_secret":"5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b","grant_type":"refresh_token","redirect_uri":"urn:ietf:wg:oauth:2.0:oob"}}"#
            ),
            status: 200,
            response_body: format!(
                r#"{{"access_token":"{ACCESS}","token_type":"bearer","expires_in":7889238,"refresh_token":"{REFRESH}","scope":"public","created_at":1732443200}}"#
            ),
        },
        Case {
            method: "POST",
            url: "https://api.trakt.tv/oauth/token",
            request_headers: trakt(vec![]),
            request_body: format!(r#"{{"refresh_token":"{REFRESH}","grant_type":"refresh_token"}}"#),
            status: 401,
            response_body: r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#.into(),
        },
        Case {
            method: "POST",
            url: "https://api.strem.io/api/getUser",
            request_headers: vec![("content-type", "text/plain;charset=UTF-8".into())],
            request_body: r#"{"type":"GetUser","authKey":"authkey-coding-test-0b7e4f2a91d3"}"#.into(),
            status: 200,
            response_body: format!(
                r#"{{"result":{{"_id":"5e1f00d15ea5e0000000cafe","email":"a@b.c","trakt":{{"access_token":"{ACCESS}","created_at":{created},"expires_in":86400}}}}}}"#
            ),
        },
    ]
}

/// The whole inspection as the proxy runs it, then the redaction every sink
/// gets: with `codecs`, the request and the answer are coded on the wire
/// and decoded as the proxy decodes them.
fn inspected(case: &Case, request_codecs: &[Codec], response_codecs: &[Codec]) -> Exchange {
    let inspector = Inspector::with_redactor(Redactor::new(b"coding"));
    let mut headers: Vec<(String, String)> = case
        .request_headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    let mut body = case.request_body.as_bytes().to_vec();
    if !request_codecs.is_empty() {
        let (wire, encoding) = coded(&body, request_codecs);
        body = wire;
        headers.push(("content-encoding".into(), encoding));
    }
    let mut request = Request {
        method: case.method.into(),
        url: case.url.into(),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers),
        body: Body::complete(Bytes::from(body)),
    };
    decode_request(&mut request, 1 << 20);
    let (prepared, sent) = inspector
        .begin(at())
        .prepare(&inspector, &request, &FixPolicy::Off);
    let mut response_headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("server".into(), "cloudflare".into()),
    ];
    let mut wire = case.response_body.as_bytes().to_vec();
    if !response_codecs.is_empty() {
        let (coded, encoding) = coded(&wire, response_codecs);
        wire = coded;
        response_headers.push(("content-encoding".into(), encoding));
        response_headers.push(("vary".into(), "Accept-Encoding".into()));
    }
    let response_headers = Headers(response_headers);
    let (head, _, answered) = sent.answer_head(
        &inspector,
        &request,
        case.status,
        &response_headers,
        &FixPolicy::Off,
    );
    let mut findings = prepared.findings;
    findings.extend(head);
    let mut response = Response {
        status: case.status,
        http_version: "HTTP/1.1".into(),
        headers: response_headers,
        body: Body::complete(Bytes::from(wire)),
    };
    decode_response(&mut response, 1 << 20);
    let mut exchange = Exchange {
        id: 1,
        started_at: at(),
        duration_ms: 12.0,
        request,
        response: Some(response),
        error: None,
        findings,
        fixes: Vec::new(),
        diagnosis: None,
        replay_of: None,
    };
    answered.finish(&inspector, &mut exchange);
    Redactor::new(b"coding").exchange(&mut exchange);
    exchange
}

/// What must not depend on the coding: everything but the coding headers
/// and the body's wire description.
fn comparable(exchange: &Exchange) -> serde_json::Value {
    let mut value = serde_json::to_value(exchange).unwrap();
    for side in ["request", "response"] {
        let part = &mut value[side];
        if let Some(headers) = part["headers"].as_object_mut() {
            headers.remove("content-encoding");
            headers.remove("vary");
        }
        if let Some(body) = part["body"].as_object_mut() {
            body.remove("encoding");
            body.remove("wire_size");
        }
    }
    value
}

fn stack() -> impl Strategy<Value = Vec<Codec>> {
    prop::collection::vec(codec(), 1..=2)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn real_answers_give_the_same_record_whatever_their_coding(
        which in 0usize..4,
        response_codecs in stack(),
        request_coded in any::<bool>(),
        request_codec in codec(),
    ) {
        let cases = cases();
        let case = &cases[which];
        let request_codecs = if request_coded { vec![request_codec] } else { Vec::new() };
        let plain = inspected(case, &[], &[]);
        let coded = inspected(case, &request_codecs, &response_codecs);
        prop_assert_eq!(comparable(&coded), comparable(&plain));
        let record = serde_json::to_string(&coded).unwrap();
        prop_assert!(!record.contains(ACCESS) && !record.contains(REFRESH), "{}", record);
        let body = &coded.response.as_ref().unwrap().body;
        prop_assert!(body.coding.is_some() && body.text().is_some());
    }

    #[test]
    fn any_text_reads_the_same_compressed(
        text in "\\PC{0,400}",
        response_codecs in stack(),
    ) {
        let case = Case {
            method: "GET",
            url: "https://api.trakt.tv/users/settings",
            request_headers: vec![("user-agent", "Addon/1.0".into())],
            request_body: String::new(),
            status: 400,
            response_body: format!(r#"{{"error":{},"access_token":"{ACCESS}"}}"#, serde_json::Value::String(text)),
        };
        let plain = inspected(&case, &[], &[]);
        let coded = inspected(&case, &[], &response_codecs);
        prop_assert_eq!(comparable(&coded), comparable(&plain));
    }
}

#[test]
fn every_case_has_the_findings_it_is_here_for() {
    // The cases exercise what compression used to hide: Trakt's own error
    // text in the diagnosis, the token answer's redaction, Stremio's expiry.
    let rules = |e: &Exchange| -> Vec<String> {
        e.findings
            .iter()
            .map(|f| f.rule.as_str().to_string())
            .collect()
    };
    let cases = cases();
    let scrobble = inspected(&cases[0], &[], &[Codec::Brotli]);
    let summary = &scrobble.diagnosis.as_ref().unwrap().summary;
    let causes = scrobble.diagnosis.as_ref().unwrap().causes.join(" ");
    assert!(
        summary.contains("progress must be a number")
            || causes.contains("progress must be a number"),
        "{summary} / {causes}"
    );
    let token = inspected(&cases[1], &[], &[Codec::Zstd]);
    let text = token.response.as_ref().unwrap().body.text().unwrap();
    assert!(
        text.contains("\"token_type\":\"bearer\"") && !text.contains(ACCESS),
        "{text}"
    );
    let expired = inspected(&cases[3], &[], &[Codec::Gzip, Codec::Brotli]);
    assert!(
        rules(&expired).contains(&"stremio.trakt-token.expired".to_string()),
        "{:?}",
        rules(&expired)
    );
}
