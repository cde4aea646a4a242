//! HAR 1.2 entries of exchanges: what the HAR log sink writes, the web view
//! downloads and the report attaches. Pure: the shell owns the file.

use base64::Engine as _;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;

use crate::exchange::{Body, Exchange, Headers};

fn headers(headers: &Headers) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect(),
    )
}

fn query(url: &str) -> Value {
    let pairs = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(""))
        .map(crate::text::query_pairs)
        .unwrap_or_default();
    Value::Array(
        pairs
            .into_iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

fn mime(headers: &Headers) -> String {
    headers.get("content-type").unwrap_or("").to_string()
}

fn content(body: &Body, headers: &Headers) -> Value {
    let mut content = Map::new();
    content.insert("size".into(), json!(body.size));
    content.insert("mimeType".into(), json!(mime(headers)));
    match body.text() {
        Some(text) => {
            content.insert("text".into(), json!(text));
        }
        None => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&body.bytes);
            content.insert("text".into(), json!(encoded));
            content.insert("encoding".into(), json!("base64"));
        }
    }
    if let Some(coding) = body.coding.as_deref() {
        // HAR 1.2: `size` is the decoded length, `compression` the bytes saved.
        if let Some(saved) = body.size.checked_sub(coding.wire_size).filter(|s| *s > 0) {
            content.insert("compression".into(), json!(saved));
        }
        if let Some(problem) = &coding.problem {
            content.insert("comment".into(), json!(problem.message));
            return Value::Object(content);
        }
    }
    if body.truncated {
        content.insert(
            "comment".into(),
            json!("truncated by trakt-doctor's capture limit"),
        );
    }
    Value::Object(content)
}

/// The body's size on the wire: compressed when it was content-coded.
fn wire_size(body: &Body) -> u64 {
    body.coding.as_deref().map_or(body.size, |c| c.wire_size)
}

fn http_version(v: &str) -> &str {
    if v.is_empty() {
        "HTTP/1.1"
    } else {
        v
    }
}

/// The fields of a `json!({…})` object literal.
fn json_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One HAR entry for an exchange.
pub fn entry(ex: &Exchange) -> Value {
    let request = &ex.request;
    let mut har_request = Map::new();
    har_request.extend(json_object(json!({
        "method": request.method,
        "url": request.url,
        "httpVersion": http_version(&request.http_version),
        "cookies": [],
        "headers": headers(&request.headers),
        "queryString": query(&request.url),
        "headersSize": -1,
        "bodySize": request.body.size,
    })));
    if !request.body.is_empty() {
        let text = request.body.text().map(str::to_string).unwrap_or_else(|| {
            base64::engine::general_purpose::STANDARD.encode(&request.body.bytes)
        });
        har_request.insert(
            "postData".into(),
            json!({"mimeType": mime(&request.headers), "text": text}),
        );
    }
    let response = match &ex.response {
        Some(r) => json!({
            "status": r.status,
            "statusText": http::StatusCode::from_u16(r.status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""),
            "httpVersion": http_version(&r.http_version),
            "cookies": [],
            "headers": headers(&r.headers),
            "content": content(&r.body, &r.headers),
            "redirectURL": r.headers.get("location").unwrap_or(""),
            "headersSize": -1,
            "bodySize": wire_size(&r.body),
        }),
        // HAR needs a response: a failed exchange is status 0, as browsers record it.
        None => json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
            "_error": ex.error,
        }),
    };
    let mut recorded = json_object(json!({
        "id": ex.id,
        "error": ex.error,
        "findings": ex.findings,
        "fixes": ex.fixes,
        "diagnosis": ex.diagnosis,
    }));
    if let Some(original) = ex.replay_of {
        recorded.insert("replay_of".into(), json!(original));
    }
    json!({
        "startedDateTime": ex.started_at.format(&Rfc3339).unwrap_or_default(),
        "time": ex.duration_ms,
        "request": har_request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": ex.duration_ms, "receive": 0},
        "_trakt_doctor": recorded,
    })
}

/// A HAR 1.2 document of `exchanges`, as given: the web view's download has
/// the records, the report passes them scrubbed by [`crate::share::report::scrub`] first.
pub fn document(exchanges: &[Exchange]) -> String {
    let entries: Vec<Value> = exchanges.iter().map(entry).collect();
    json!({"log": {
        "version": "1.2",
        "creator": {"name": "trakt-doctor", "version": env!("CARGO_PKG_VERSION")},
        "pages": [],
        "entries": entries,
    }})
    .to_string()
}
