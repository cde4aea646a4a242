//! The HAR 1.2 sink: one entry per exchange, with trakt-doctor's findings,
//! fixes and diagnosis in the `_trakt_doctor` custom field (HAR allows
//! fields starting with `_`). The file is valid JSON after every batch of
//! records the log writer hands over: the batch's entries overwrite the
//! closing brackets, which are then written again, so a crash or Ctrl-C
//! leaves a file that browsers' devtools can open.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use super::{Record, Sink};
use crate::exchange::{Body, Exchange, Headers};

const TRAILER: &str = "\n]}}\n";

pub struct HarSink {
    path: PathBuf,
    file: File,
    entries: u64,
    /// Whether the file currently ends with the closing brackets.
    closed: bool,
}

impl HarSink {
    /// Creates (or replaces) `path` with an empty HAR log.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        let head = json!({
            "version": "1.2",
            "creator": {"name": "trakt-doctor", "version": env!("CARGO_PKG_VERSION")},
        });
        let head = head.to_string();
        // `{"log":{"version":…,"creator":{…},"pages":[],"entries":[` then the trailer.
        let open = format!(
            "{{\"log\":{},\"pages\":[],\"entries\":[",
            &head[..head.len() - 1]
        );
        file.write_all(open.as_bytes())?;
        file.write_all(TRAILER.as_bytes())?;
        file.flush()?;
        Ok(HarSink {
            path: path.to_path_buf(),
            file,
            entries: 0,
            closed: true,
        })
    }
}

impl Sink for HarSink {
    fn name(&self) -> String {
        format!("the HAR file {}", self.path.display())
    }

    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        let entry = serde_json::to_string(&entry(record.exchange))?;
        if self.closed {
            self.file.seek(SeekFrom::End(-(TRAILER.len() as i64)))?;
            self.closed = false;
        }
        let separator = if self.entries > 0 { ",\n" } else { "\n" };
        self.file
            .write_all(format!("{separator}{entry}").as_bytes())?;
        self.entries += 1;
        Ok(())
    }

    fn end_batch(&mut self) -> io::Result<()> {
        if !self.closed {
            self.file.write_all(TRAILER.as_bytes())?;
            self.closed = true;
        }
        self.file.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.end_batch()?;
        self.file.sync_data()
    }
}

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
        .map(crate::spec::trakt::query_pairs)
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
    let mut content = json!({"size": body.size, "mimeType": mime(headers)});
    match body.text() {
        Some(text) => content["text"] = json!(text),
        None => {
            content["text"] = json!(base64::engine::general_purpose::STANDARD.encode(&body.bytes));
            content["encoding"] = json!("base64");
        }
    }
    if body.truncated {
        content["comment"] = json!("truncated by trakt-doctor's capture limit");
    }
    content
}

fn http_version(v: &str) -> &str {
    if v.is_empty() {
        "HTTP/1.1"
    } else {
        v
    }
}

/// One HAR entry for an exchange.
pub fn entry(ex: &Exchange) -> Value {
    let request = &ex.request;
    let mut har_request = json!({
        "method": request.method,
        "url": request.url,
        "httpVersion": http_version(&request.http_version),
        "cookies": [],
        "headers": headers(&request.headers),
        "queryString": query(&request.url),
        "headersSize": -1,
        "bodySize": request.body.size,
    });
    if !request.body.is_empty() {
        let text = request.body.text().map(str::to_string).unwrap_or_else(|| {
            base64::engine::general_purpose::STANDARD.encode(&request.body.bytes)
        });
        har_request["postData"] = json!({"mimeType": mime(&request.headers), "text": text});
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
            "bodySize": r.body.size,
        }),
        // HAR needs a response: a failed exchange is status 0, as browsers record it.
        None => json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
            "_error": ex.error,
        }),
    };
    json!({
        "startedDateTime": ex.started_at.format(&Rfc3339).unwrap_or_default(),
        "time": ex.duration_ms,
        "request": har_request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": ex.duration_ms, "receive": 0},
        "_trakt_doctor": {
            "id": ex.id,
            "error": ex.error,
            "findings": ex.findings,
            "fixes": ex.fixes,
            "diagnosis": ex.diagnosis,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Request, Response};
    use bytes::Bytes;

    fn exchange(id: u64, status: Option<u16>) -> Exchange {
        Exchange {
            id,
            started_at: time::macros::datetime!(2026-11-24 12:00 UTC),
            duration_ms: 12.5,
            request: Request {
                method: "POST".into(),
                url: "https://api.trakt.tv/scrobble/start?x=1".into(),
                http_version: "HTTP/2".into(),
                headers: Headers(vec![("content-type".into(), "application/json".into())]),
                body: Body::complete(Bytes::from_static(b"{\"progress\":1}")),
            },
            response: status.map(|status| Response {
                status,
                http_version: "HTTP/2".into(),
                headers: Headers::default(),
                body: Body::complete(Bytes::from_static(&[0xff, 0x00])),
            }),
            error: status.is_none().then(|| "refused".to_string()),
            findings: vec![crate::lint::body::JSON_TYPE.finding("/", "x")],
            fixes: vec![],
            diagnosis: None,
        }
    }

    #[test]
    fn the_file_is_valid_after_every_record_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.har");
        let mut sink = HarSink::create(&path).unwrap();
        let empty: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(empty["log"]["version"], "1.2");
        assert_eq!(empty["log"]["entries"].as_array().unwrap().len(), 0);
        for (i, status) in [Some(201), None, Some(400)].into_iter().enumerate() {
            sink.record(&Record::new(&exchange(i as u64 + 1, status)))
                .unwrap();
            sink.end_batch().unwrap();
            let har: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(har["log"]["entries"].as_array().unwrap().len(), i + 1);
        }
        let read = crate::log::read::exchanges(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].request.body.text(), Some("{\"progress\":1}"));
        assert_eq!(
            read[0].response.as_ref().unwrap().body.bytes,
            Bytes::from_static(&[0xff, 0x00])
        );
        assert_eq!(read[1].error.as_deref(), Some("refused"));
        assert_eq!(read[2].id, 3);
    }
}
