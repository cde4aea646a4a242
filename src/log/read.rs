//! Readers for recorded traffic: HAR 1.2 files (as browsers' devtools
//! export them) and trakt-doctor's own JSON Lines logs. Both become
//! [`Exchange`]s for the offline linter.

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exchange::{coding, Body, Exchange, Headers, Request, Response};

/// Why a file could not be read, with the place when known.
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Reads a HAR or JSON Lines text, deciding by its content.
pub fn exchanges(text: &str) -> Result<Vec<Exchange>, ReadError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    // A HAR file is one JSON object with a `log` member; JSONL has one object per line.
    if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        if value.get("log").is_some() {
            return har(value);
        }
    }
    jsonl(trimmed)
}

/// How far a compressed body in an old record is decoded: the largest
/// capture limit a record could have been written with is far below.
const OLD_RECORD_DECODE_LIMIT: usize = 64 * 1024 * 1024;

fn jsonl(text: &str) -> Result<Vec<Exchange>, ReadError> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut exchange: Exchange = serde_json::from_str(line).map_err(|e| {
            ReadError(format!(
                "line {}: not a trakt-doctor JSON Lines record nor a HAR file: {e}",
                number.saturating_add(1)
            ))
        })?;
        // Records written before trakt-doctor decoded bodies hold the
        // compressed bytes (base64): read them as the text they carry.
        coding::decode_request(&mut exchange.request, OLD_RECORD_DECODE_LIMIT);
        if let Some(response) = exchange.response.as_mut() {
            coding::decode_response(response, OLD_RECORD_DECODE_LIMIT);
        }
        out.push(exchange);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Har {
    log: HarLog,
}

#[derive(Deserialize)]
struct HarLog {
    #[serde(default)]
    entries: Vec<HarEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarEntry {
    #[serde(default)]
    started_date_time: String,
    #[serde(default)]
    time: f64,
    request: HarRequest,
    response: Option<HarResponse>,
    #[serde(default, rename = "_trakt_doctor")]
    trakt_doctor: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    http_version: String,
    #[serde(default)]
    headers: Vec<HarHeader>,
    post_data: Option<HarPostData>,
    /// The whole body's size: more than the text when the capture was cut.
    #[serde(default)]
    body_size: Option<i64>,
}

#[derive(Deserialize)]
struct HarHeader {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct HarPostData {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarResponse {
    status: i64,
    #[serde(default)]
    http_version: String,
    #[serde(default)]
    headers: Vec<HarHeader>,
    content: Option<HarContent>,
    /// Bytes on the wire: compressed when the answer was content-coded.
    #[serde(default)]
    body_size: Option<i64>,
}

#[derive(Deserialize)]
struct HarContent {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    size: Option<i64>,
}

fn headers(list: Vec<HarHeader>) -> Headers {
    Headers(
        list.into_iter()
            // HTTP/2 pseudo-headers (:authority, ...) are not header fields.
            .filter(|h| !h.name.starts_with(':'))
            .map(|h| (h.name.to_ascii_lowercase(), h.value))
            .collect(),
    )
}

fn har(value: Value) -> Result<Vec<Exchange>, ReadError> {
    let har: Har = serde_json::from_value(value)
        .map_err(|e| ReadError(format!("not a valid HAR 1.2 file: {e}")))?;
    let mut out = Vec::new();
    for (i, entry) in har.log.entries.into_iter().enumerate() {
        let started_at = OffsetDateTime::parse(&entry.started_date_time, &Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut body = entry
            .request
            .post_data
            .and_then(|p| p.text)
            .map(|t| Body::complete(Bytes::from(t)))
            .unwrap_or_default();
        // A body cut at the capture limit says so by its size, in trakt-doctor's
        // own HAR only. Elsewhere a size above the text is a hand edit (a token
        // cut out before sharing) or a browser's wire size: the text is trusted.
        let own = entry.trakt_doctor.is_some();
        if let Some(size) = entry.request.body_size.and_then(|s| u64::try_from(s).ok()) {
            if own && size > body.size {
                body.size = size;
                body.truncated = true;
            }
        }
        let request_headers = headers(entry.request.headers);
        // The text of a HAR is decoded (browsers, trakt-doctor): a coded body
        // is sent again without its coding.
        coding::mark_decoded(&mut body, &request_headers, None);
        let response = entry.response.filter(|r| r.status > 0).map(|r| {
            let body = match r.content {
                Some(HarContent {
                    text: Some(text),
                    encoding,
                    size,
                }) => {
                    let bytes = if encoding.as_deref() == Some("base64") {
                        base64::engine::general_purpose::STANDARD
                            .decode(text.as_bytes())
                            .map(Bytes::from)
                            .unwrap_or_else(|_| Bytes::from(text))
                    } else {
                        Bytes::from(text)
                    };
                    let mut body = Body::complete(bytes);
                    if let Some(size) = size.filter(|s| own && *s as u64 > body.size) {
                        body.size = size as u64;
                        body.truncated = true;
                    }
                    body
                }
                _ => Body::default(),
            };
            let headers = headers(r.headers);
            let mut body = body;
            coding::mark_decoded(
                &mut body,
                &headers,
                r.body_size.and_then(|s| u64::try_from(s).ok()),
            );
            Response {
                status: u16::try_from(r.status).unwrap_or(0),
                http_version: r.http_version,
                headers,
                body,
            }
        });
        let recorded = entry.trakt_doctor.unwrap_or(Value::Null);
        let error = recorded
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(Exchange {
            id: recorded
                .get("id")
                .and_then(Value::as_u64)
                .unwrap_or((i as u64).saturating_add(1)),
            started_at,
            duration_ms: entry.time.max(0.0),
            request: Request {
                method: entry.request.method,
                url: entry.request.url,
                http_version: entry.request.http_version,
                headers: request_headers,
                body,
            },
            error: error.or_else(|| {
                response
                    .is_none()
                    .then(|| "no response was recorded".to_string())
            }),
            response,
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: recorded.get("replay_of").and_then(Value::as_u64),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_devtools_har() {
        let har = r#"{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"entries":[
          {"startedDateTime":"2026-01-02T03:04:05.678Z","time":12.5,
           "request":{"method":"POST","url":"https://api.trakt.tv/scrobble/start","httpVersion":"h2",
             "headers":[{"name":":authority","value":"api.trakt.tv"},{"name":"Content-Type","value":"application/json"}],
             "bodySize":40,"postData":{"mimeType":"application/json","text":"{\"progress\":1}"}},
           "response":{"status":201,"httpVersion":"h2","headers":[],"content":{"size":2,"mimeType":"application/json","text":"e30=","encoding":"base64"}}}]}}"#;
        let exchanges = exchanges(har).unwrap();
        assert_eq!(exchanges.len(), 1);
        let ex = &exchanges[0];
        assert_eq!(
            ex.request.headers.get("content-type"),
            Some("application/json")
        );
        assert!(ex.request.headers.get(":authority").is_none());
        assert_eq!(ex.request.body.text(), Some("{\"progress\":1}"));
        assert!(!ex.request.body.truncated);
        assert_eq!(ex.response.as_ref().unwrap().body.text(), Some("{}"));
        assert_eq!(ex.started_at.year(), 2026);
    }

    #[test]
    fn reads_jsonl_and_reports_bad_lines() {
        let line = r#"{"id":3,"started_at":"2026-01-02T03:04:05Z","duration_ms":1.0,"request":{"method":"GET","url":"https://api.trakt.tv/x","headers":{},"body":null},"response":null,"error":"timeout","findings":[],"fixes":[],"diagnosis":null}"#;
        let read = exchanges(&format!("{line}\n{line}\n")).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].error.as_deref(), Some("timeout"));
        let err = exchanges(&format!("{line}\n{{broken\n")).unwrap_err();
        assert!(err.0.starts_with("line 2:"), "{err}");
        assert!(exchanges("{\"log\": 5}").is_err());
    }
}
