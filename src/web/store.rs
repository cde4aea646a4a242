//! The web view's memory: the most recent exchanges (already redacted, as
//! every sink receives them) and a broadcast of each new one for the live
//! page. Bounded in count and bytes; the oldest go first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::exchange::Exchange;
use crate::log::{Record, Sink};
use crate::report::Severity;

/// What the live list shows of one exchange.
#[derive(Serialize)]
struct Summary<'a> {
    id: u64,
    #[serde(with = "time::serde::rfc3339")]
    started_at: time::OffsetDateTime,
    method: &'a str,
    host: &'a str,
    path: &'a str,
    status: Option<u16>,
    error: Option<&'a str>,
    duration_ms: f64,
    errors: usize,
    warnings: usize,
    infos: usize,
    fixed: bool,
    summary: Option<&'a str>,
    rules: Vec<&'a str>,
    /// The exchange this one resends, when it is a resend.
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_of: Option<u64>,
}

impl<'a> Summary<'a> {
    fn of(ex: &'a Exchange) -> Summary<'a> {
        let count = |s: Severity| {
            ex.findings
                .iter()
                .filter(|f| f.severity == s && !f.fixed)
                .count()
        };
        let (host, path) = crate::text::split_url(&ex.request.url);
        Summary {
            id: ex.id,
            started_at: ex.started_at,
            method: &ex.request.method,
            host,
            path,
            status: ex.response.as_ref().map(|r| r.status),
            error: ex.error.as_deref(),
            duration_ms: ex.duration_ms,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            fixed: !ex.fixes.is_empty(),
            summary: ex.diagnosis.as_ref().map(|d| d.summary.as_str()),
            rules: ex.findings.iter().map(|f| f.rule.as_str()).collect(),
            replay_of: ex.replay_of,
        }
    }
}

struct Stored {
    id: u64,
    /// The record as JSON: served as is, and read back for HAR downloads.
    full: Arc<String>,
    summary: Arc<str>,
}

#[derive(Default)]
struct Inner {
    records: VecDeque<Stored>,
    bytes: usize,
}

pub struct WebStore {
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<str>>,
    max_records: usize,
    max_bytes: usize,
}

impl WebStore {
    pub fn new(max_records: usize, max_bytes: usize) -> Arc<WebStore> {
        let (live, _) = broadcast::channel(1024);
        Arc::new(WebStore {
            inner: Mutex::new(Inner::default()),
            live,
            max_records,
            max_bytes,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, record: &Record<'_>) {
        let full = record.shared_json().clone();
        let summary: Arc<str> = serde_json::to_string(&Summary::of(record.exchange))
            .unwrap_or_default()
            .into();
        let mut inner = self.lock();
        inner.bytes += full.len() + summary.len();
        inner.records.push_back(Stored {
            id: record.exchange.id,
            full,
            summary: summary.clone(),
        });
        while inner.records.len() > self.max_records
            || inner.bytes > self.max_bytes && inner.records.len() > 1
        {
            if let Some(old) = inner.records.pop_front() {
                inner.bytes -= old.full.len() + old.summary.len();
            }
        }
        drop(inner);
        // No subscriber is fine: nobody has the page open.
        let _ = self.live.send(summary);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.live.subscribe()
    }

    /// Every stored summary, oldest first, as one JSON array.
    pub fn summaries(&self) -> String {
        let inner = self.lock();
        let mut out = String::from("[");
        for (i, r) in inner.records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&r.summary);
        }
        out.push(']');
        out
    }

    pub fn full(&self, id: u64) -> Option<Arc<String>> {
        self.lock()
            .records
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.full.clone())
    }

    /// The stored exchanges, oldest first (parsed back from their JSON).
    pub fn exchanges(&self) -> Vec<Exchange> {
        let fulls: Vec<Arc<String>> = self.lock().records.iter().map(|r| r.full.clone()).collect();
        fulls
            .iter()
            .filter_map(|full| serde_json::from_str(full).ok())
            .collect()
    }

    pub fn jsonl(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        for r in &inner.records {
            out.push_str(&r.full);
            out.push('\n');
        }
        out
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.records.clear();
        inner.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The sink that feeds the store from the log writer thread.
pub(crate) struct WebSink(pub Arc<WebStore>);

impl Sink for WebSink {
    fn name(&self) -> String {
        "the web view".into()
    }
    fn record(&mut self, record: &Record<'_>) -> std::io::Result<()> {
        self.0.push(record);
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exchange(id: u64) -> Exchange {
        serde_json::from_value(json!({"id": id, "started_at": "2026-11-24T12:00:00Z", "duration_ms": 1.0,
            "request": {"method": "GET", "url": "https://api.trakt.tv/sync/history?page=2"}, "response": {"status": 200}}))
        .unwrap()
    }

    #[test]
    fn keeps_the_newest_within_bounds_and_broadcasts() {
        let store = WebStore::new(3, usize::MAX);
        let mut live = store.subscribe();
        for id in 1..=5 {
            store.push(&Record::new(&exchange(id)));
        }
        assert_eq!(store.len(), 3);
        assert!(store.full(1).is_none() && store.full(5).is_some());
        let summaries: serde_json::Value = serde_json::from_str(&store.summaries()).unwrap();
        assert_eq!(summaries[0]["id"], 3);
        assert_eq!(summaries[2]["path"], "/sync/history?page=2");
        assert!(live.try_recv().unwrap().contains("\"id\":1"));
        let back = store.exchanges();
        assert_eq!(back.len(), 3);
        assert_eq!(
            back[2].request.url,
            "https://api.trakt.tv/sync/history?page=2"
        );
        store.clear();
        assert!(store.is_empty());
    }
}
