//! Readers for recorded traffic: HAR 1.2 files (as browsers' devtools
//! export them) and trakt-doctor's own JSON Lines logs. Both become
//! [`Exchange`]s for the offline linter.

use std::collections::HashMap;
use std::io::{BufRead, Read as _};

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    let mut out = Vec::new();
    each_exchange(text.as_bytes(), |exchange| out.push(exchange))?;
    Ok(out)
}

/// Reads a HAR or JSON Lines file from `reader` one exchange at a time, in
/// order, handing each to `each`: memory holds one line (one record) or one
/// HAR entry at a time, never the whole file.
///
/// JSON Lines are read line by line (a line that is not valid UTF-8 is read
/// lossily). A HAR is one JSON document: its entries are read one by one
/// from the stream when the document spans lines, as devtools and
/// trakt-doctor write it; a HAR written on a single line is held whole
/// while its entries are read.
pub fn each_exchange(
    mut reader: impl BufRead,
    mut each: impl FnMut(Exchange),
) -> Result<(), ReadError> {
    let mut line = Vec::new();
    let mut number = 0usize;
    // The first line that is not blank decides what the file is.
    loop {
        line.clear();
        if read_line(&mut reader, &mut line)? == 0 {
            return Ok(());
        }
        number = number.saturating_add(1);
        if number == 1 {
            if let Some(rest) = line.strip_prefix(BOM) {
                line = rest.to_vec();
            }
        }
        if !blank(&line) {
            break;
        }
    }
    // A HAR file is one JSON object with a `log` member; JSONL has one object per line.
    match serde_json::from_slice::<HashMap<String, IgnoredAny>>(&line) {
        Ok(members) if members.contains_key("log") => {
            har(&mut serde_json::Deserializer::from_slice(&line), &mut each)?;
            rest_is_blank(reader)
        }
        // An object that goes on past its first line: a HAR (a record is one line).
        Err(e) if e.is_eof() => har(
            &mut serde_json::Deserializer::from_reader(line.as_slice().chain(reader)),
            &mut each,
        ),
        _ => {
            each(record(&line, number)?);
            loop {
                line.clear();
                if read_line(&mut reader, &mut line)? == 0 {
                    return Ok(());
                }
                number = number.saturating_add(1);
                if !blank(&line) {
                    each(record(&line, number)?);
                }
            }
        }
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> Result<usize, ReadError> {
    reader
        .read_until(b'\n', line)
        .map_err(|e| ReadError(format!("cannot read: {e}")))
}

fn blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// After a HAR on one line, nothing but white space.
fn rest_is_blank(mut reader: impl BufRead) -> Result<(), ReadError> {
    let mut line = Vec::new();
    while read_line(&mut reader, &mut line)? > 0 {
        if !blank(&line) {
            return Err(ReadError(
                "not a valid HAR 1.2 file: more text follows the HAR document".into(),
            ));
        }
        line.clear();
    }
    Ok(())
}

/// How far a compressed body in an old record is decoded: the largest
/// capture limit a record could have been written with is far below.
const OLD_RECORD_DECODE_LIMIT: usize = 64 * 1024 * 1024;

/// One JSON Lines record, line `number` of the file.
fn record(line: &[u8], number: usize) -> Result<Exchange, ReadError> {
    let line = String::from_utf8_lossy(line);
    let mut exchange: Exchange = serde_json::from_str(&line).map_err(|e| {
        ReadError(format!(
            "line {number}: not a trakt-doctor JSON Lines record nor a HAR file: {e}"
        ))
    })?;
    // Records written before trakt-doctor decoded bodies hold the
    // compressed bytes (base64): read them as the text they carry.
    coding::decode_request(&mut exchange.request, OLD_RECORD_DECODE_LIMIT);
    if let Some(response) = exchange.response.as_mut() {
        coding::decode_response(response, OLD_RECORD_DECODE_LIMIT);
    }
    Ok(exchange)
}

/// Reads a HAR document from `de`, its entries one by one.
fn har<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    each: &mut dyn FnMut(Exchange),
) -> Result<(), ReadError> {
    let invalid = |e: serde_json::Error| ReadError(format!("not a valid HAR 1.2 file: {e}"));
    let mut entries = 0usize;
    let found = HarDocument {
        each,
        entries: &mut entries,
    }
    .deserialize(&mut *de)
    .map_err(invalid)?;
    de.end().map_err(invalid)?;
    if found {
        Ok(())
    } else {
        Err(ReadError(
            "not a valid HAR 1.2 file nor trakt-doctor JSON Lines: a JSON object without `log`"
                .into(),
        ))
    }
}

/// The HAR document: `{"log": {"entries": [...]}}`, each entry handed on
/// as it is read. Deserialises to whether it had a `log`.
struct HarDocument<'a> {
    each: &'a mut dyn FnMut(Exchange),
    entries: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for HarDocument<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HarDocument<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a HAR document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "log" if !found => {
                    found = true;
                    map.next_value_seed(HarLogSeed {
                        each: &mut *self.each,
                        entries: &mut *self.entries,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// The `log` object: its `entries`, read one by one.
struct HarLogSeed<'a> {
    each: &'a mut dyn FnMut(Exchange),
    entries: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for HarLogSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HarLogSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the HAR's log object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "entries" {
                map.next_value_seed(HarEntries {
                    each: &mut *self.each,
                    entries: &mut *self.entries,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `entries` array, each entry made an exchange as soon as it is read.
struct HarEntries<'a> {
    each: &'a mut dyn FnMut(Exchange),
    entries: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for HarEntries<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for HarEntries<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the HAR's entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<HarEntry>()? {
            (self.each)(exchange(*self.entries, entry));
            *self.entries = self.entries.saturating_add(1);
        }
        Ok(())
    }
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

/// The exchange of the HAR's entry number `i` (from 0).
fn exchange(i: usize, entry: HarEntry) -> Exchange {
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
    Exchange {
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
    }
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
        // Records are handed on as they are read: those before a bad line too.
        let mut ids = Vec::new();
        let err = each_exchange(format!("\n{line}\n\n{{broken\n").as_bytes(), |ex| {
            ids.push(ex.id)
        });
        assert_eq!(ids, [3]);
        assert!(err.unwrap_err().0.starts_with("line 4:"));
    }

    #[test]
    fn a_har_is_read_entry_by_entry_however_it_is_laid_out() {
        let entry = r#"{"startedDateTime":"2026-01-02T03:04:05Z","time":1,"request":{"method":"GET","url":"https://api.trakt.tv/x","headers":[]},"response":{"status":200,"headers":[],"content":{"text":"{}"}}}"#;
        let one_line = format!(
            r#"{{"_note":{{"log":1}},"log":{{"version":"1.2","entries":[{entry},{entry}],"pages":[]}}}}"#
        );
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&one_line).unwrap())
                .unwrap();
        for text in [
            one_line.clone(),
            pretty.clone(),
            format!("\u{feff}\n{pretty}\n\n"),
        ] {
            let mut ids = Vec::new();
            // A small buffer: the pretty document is read through many refills.
            let reader = std::io::BufReader::with_capacity(16, text.as_bytes());
            each_exchange(reader, |ex| ids.push(ex.id)).unwrap();
            assert_eq!(ids, [1, 2], "{text}");
        }
        assert!(exchanges("{\n\"x\": 1\n}")
            .unwrap_err()
            .0
            .contains("without `log`"));
        assert!(exchanges(&format!("{one_line}\n{{}}")).is_err());
        assert!(exchanges(&format!("{pretty}\n{{}}")).is_err());
    }
}
