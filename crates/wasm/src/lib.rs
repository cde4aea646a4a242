//! trakt-doctor in the browser: a thin wasm-bindgen layer over
//! [`trakt_doctor_core`] for the static page (`page/`, built by
//! `tools/build-page`). Two calls, both on the bytes of a HAR 1.2 file or a
//! trakt-doctor JSON Lines log:
//!
//! - [`lint`]: every exchange inspected as `trakt-doctor lint` does
//!   ([`Offline::lint`]) and redacted before it leaves, handed to JavaScript
//!   in batches as JSON (the records as the proxy's web view shows them), so
//!   a large file shows progress and never becomes one huge string;
//! - [`report`]: the Markdown report `trakt-doctor report` prints
//!   ([`report::from_records`]).
//!
//! The fingerprint key comes from the page (`crypto.getRandomValues`): the
//! core reads no random source itself. The logic is in the core; what is
//! here only turns its results into JSON, and is tested natively.

use serde::Serialize;
use trakt_doctor_core::exchange::Exchange;
use trakt_doctor_core::inspect::Offline;
use trakt_doctor_core::redact::Redactor;
use trakt_doctor_core::report::FixRecord;
use trakt_doctor_core::share::report::{self, Selection};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Where the linted exchanges go: a JavaScript object with a
    /// `batch(json, done)` method, called with a JSON array of the next
    /// exchanges and how many were read so far.
    pub type Batches;

    #[wasm_bindgen(method)]
    fn batch(this: &Batches, json: &str, done: u32);
}

/// Lints the exchanges in `input` (a HAR or a JSON Lines log) with a
/// redactor keyed by `key`, handing them to `sink.batch` every `every`
/// exchanges (and once at the end). Returns how many were read.
#[wasm_bindgen]
pub fn lint(input: &[u8], key: &[u8], every: u32, sink: &Batches) -> Result<u32, JsError> {
    let every = usize::try_from(every.max(1)).unwrap_or(1);
    let mut done = 0u32;
    let read = lint_batches(input, key, every, |json, count| {
        done = u32::try_from(count).unwrap_or(u32::MAX);
        sink.batch(json, done);
    });
    read.map_err(|e| JsError::new(&e))?;
    Ok(done)
}

/// The Markdown report of the failed exchanges in `input`, or of the
/// exchanges numbered `ids` when any are given, secrets replaced by
/// placeholders.
#[wasm_bindgen]
pub fn report(input: &[u8], key: &[u8], ids: Vec<u64>) -> Result<String, JsError> {
    markdown(input, key, &ids).map_err(|e| JsError::new(&e))
}

/// The version of trakt-doctor the page is built from.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// An exchange as the page shows it: the redacted record, and what auto-fix
/// would repair in its request (the web view's "repairs", on the redacted
/// request as there; judged at the moment it was sent).
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    exchange: &'a Exchange,
    repairs: Vec<FixRecord>,
}

fn shown(exchange: &Exchange) -> Shown<'_> {
    let repairs = trakt_doctor_core::resend::with_fixes(&exchange.request, exchange.started_at).1;
    Shown { exchange, repairs }
}

/// [`lint`] without JavaScript: `each(json, count)` gets a JSON array of up
/// to `every` linted, redacted exchanges and the count read so far.
pub fn lint_batches(
    input: &[u8],
    key: &[u8],
    every: usize,
    mut each: impl FnMut(&str, usize),
) -> Result<usize, String> {
    let offline = Offline::new(Redactor::new(key));
    let mut batch = String::from("[");
    let mut in_batch = 0usize;
    let mut count = 0usize;
    let mut failed = None;
    let read = trakt_doctor_core::read::each_exchange(input, |mut exchange: Exchange| {
        if failed.is_some() {
            return;
        }
        offline.lint(&mut exchange);
        if in_batch > 0 {
            batch.push(',');
        }
        match serde_json::to_string(&shown(&exchange)) {
            Ok(json) => batch.push_str(&json),
            Err(e) => {
                failed = Some(format!(
                    "exchange #{}: cannot write it as JSON: {e}",
                    exchange.id
                ));
                return;
            }
        }
        in_batch = in_batch.saturating_add(1);
        count = count.saturating_add(1);
        if in_batch >= every {
            batch.push(']');
            each(&batch, count);
            batch.clear();
            batch.push('[');
            in_batch = 0;
        }
    });
    read.map_err(|e| e.to_string())?;
    if let Some(e) = failed {
        return Err(e);
    }
    batch.push(']');
    // The last batch, also when empty: the page learns the count is final.
    each(&batch, count);
    Ok(count)
}

/// [`report`] without JavaScript.
pub fn markdown(input: &[u8], key: &[u8], ids: &[u64]) -> Result<String, String> {
    let selection = if ids.is_empty() {
        Selection::Failed
    } else {
        Selection::Ids(ids)
    };
    report::from_records(input, selection, &Redactor::new(key), false)
        .map(|built| built.markdown)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a test key of the page, 32 bytes";

    fn log() -> String {
        let token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let line = |id: u32, status: u16| {
            format!(
                r#"{{"id":{id},"started_at":"2024-01-01T00:00:00Z","duration_ms":1.0,"request":{{"method":"GET","url":"https://api.trakt.tv/sync/history","http_version":"HTTP/1.1","headers":{{"authorization":"Bearer {token}"}},"body":null}},"response":{{"status":{status},"http_version":"HTTP/1.1","headers":{{}},"body":null}}}}"#
            )
        };
        format!("{}\n{}\n{}\n", line(1, 200), line(2, 401), line(3, 200))
    }

    #[test]
    fn batches_hold_every_exchange_redacted_and_count_up() {
        let mut seen = Vec::new();
        let count = lint_batches(log().as_bytes(), KEY, 2, |json, done| {
            let batch: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
            seen.push((batch.len(), done, json.to_string()));
        })
        .unwrap();
        assert_eq!(count, 3);
        let sizes: Vec<(usize, usize)> = seen.iter().map(|(n, d, _)| (*n, *d)).collect();
        assert_eq!(sizes, [(2, 2), (1, 3)]);
        assert!(seen
            .iter()
            .all(|(_, _, json)| !json.contains("0123456789abcdef")));
        assert!(seen[0].2.contains("sha256:"), "{}", seen[0].2);
    }

    #[test]
    fn the_same_findings_as_the_core_gives() {
        let mut exchanges = trakt_doctor_core::read::exchanges(&log()).unwrap();
        let offline = Offline::new(Redactor::new(KEY));
        for ex in &mut exchanges {
            offline.lint(ex);
        }
        let mut batches = Vec::new();
        let mut repairs = Vec::new();
        lint_batches(log().as_bytes(), KEY, 100, |json, _| {
            for mut shown in serde_json::from_str::<Vec<serde_json::Value>>(json).unwrap() {
                repairs.push(shown.as_object_mut().unwrap().remove("repairs").unwrap());
                batches.push(shown);
            }
        })
        .unwrap();
        // Auto-fix would add the missing API version to each request.
        assert!(
            repairs
                .iter()
                .all(|r| r.to_string().contains("header.api-version.missing")),
            "{repairs:?}"
        );
        let expected: Vec<serde_json::Value> = exchanges
            .iter()
            .map(|ex| serde_json::to_value(ex).unwrap())
            .collect();
        assert_eq!(batches, expected);
        assert!(
            batches[1]["findings"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
                || batches[1]["diagnosis"].is_object()
        );
    }

    #[test]
    fn a_file_that_is_neither_is_an_error() {
        let err = lint_batches(b"not json\n", KEY, 10, |_, _| {}).unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn the_report_replaces_secrets_by_placeholders() {
        let markdown = markdown(log().as_bytes(), KEY, &[]).unwrap();
        assert!(markdown.contains("#2"), "{markdown}");
        assert!(!markdown.contains("0123456789abcdef"));
        assert!(!markdown.contains("sha256:"));
        let none = super::markdown(log().as_bytes(), KEY, &[9]).unwrap_err();
        assert!(none.contains("#9"), "{none}");
    }
}
