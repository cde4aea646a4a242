//! The lint corpus (tests/fixtures/requests.jsonl) as requests: one loader
//! for tests/lint_corpus.rs (rule ids) and tests/snapshots.rs (whole
//! findings), so both judge the very same requests.
//!
//! A fixture line has `name`, `method`, `url`, an optional `body` (text, or
//! JSON sent as its text), `base` (add the headers a well-behaved client
//! sends), `headers` (overrides: a string, an array to repeat the header,
//! `null` to leave it out), and the test's own fields (`expect`, `contract`).

use bytes::Bytes;
use serde_json::Value;
use trakt_doctor::exchange::{Body, Headers, Request};

pub const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
pub const TOKEN: &str = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b";

/// The moment every fixture is judged at.
pub fn at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-24 12:00 UTC)
}

/// The fixture lines, parsed.
pub fn fixtures() -> Vec<Value> {
    parse_lines(include_str!("../fixtures/requests.jsonl"))
}

/// The lines of tests/fixtures/stremio-core-session.jsonl: each request as
/// Stremio's own core sent it (see [`session_request`]).
pub fn session_fixtures() -> Vec<Value> {
    parse_lines(include_str!("../fixtures/stremio-core-session.jsonl"))
}

/// The request a line of the Stremio-core session describes: its headers
/// as recorded, its body as text.
pub fn session_request(f: &Value) -> Request {
    let headers = f["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Request {
        method: f["method"].as_str().unwrap_or_default().to_string(),
        url: f["url"].as_str().unwrap_or_default().to_string(),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers),
        body: Body::complete(Bytes::from(
            f["body"].as_str().unwrap_or_default().to_string(),
        )),
    }
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad fixture {line}: {e}"))
        })
        .collect()
}

/// The request a fixture line describes.
pub fn request(f: &Value) -> Request {
    let body = match f.get("body") {
        None => Bytes::new(),
        Some(Value::String(raw)) => Bytes::from(raw.clone()),
        Some(json) => Bytes::from(json.to_string()),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if f.get("base").and_then(Value::as_bool) == Some(true) {
        headers.push(("user-agent".into(), "StremioTraktAddon/1.4.0".into()));
        headers.push(("trakt-api-key".into(), CLIENT_ID.into()));
        headers.push(("trakt-api-version".into(), "2".into()));
        headers.push(("authorization".into(), format!("Bearer {TOKEN}")));
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
    }
    if let Some(overrides) = f.get("headers").and_then(Value::as_object) {
        for (name, value) in overrides {
            headers.retain(|(n, _)| n != name);
            match value {
                Value::String(v) => headers.push((name.clone(), v.clone())),
                Value::Array(vs) => {
                    for v in vs {
                        headers.push((name.clone(), v.as_str().unwrap_or_default().to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    Request {
        method: f["method"].as_str().unwrap_or_default().to_string(),
        url: f["url"].as_str().unwrap_or_default().to_string(),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers),
        body: Body::complete(body),
    }
}
