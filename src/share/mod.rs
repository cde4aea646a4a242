//! What a user hands to someone else: a Markdown report of failed exchanges
//! for a support thread or an issue ([`report`]), and the HAR of just those
//! exchanges. Both carry placeholders (`<access token>`) where the records
//! carry secrets or their fingerprints: a fingerprint would still let whoever
//! reads the report test guesses.

// The report is pure (no I/O, no clock), held to the core's rules.
core! {
    pub(crate) mod accounts;
    pub(crate) mod report;
}

use crate::exchange::Exchange;

/// A HAR 1.2 document of `exchanges`, as given: the web view's download has
/// the records, the report passes them scrubbed by [`report::scrub`] first.
pub(crate) fn har(exchanges: &[Exchange]) -> String {
    let entries: Vec<serde_json::Value> = exchanges.iter().map(crate::log::har::entry).collect();
    serde_json::json!({"log": {
        "version": "1.2",
        "creator": {"name": "trakt-doctor", "version": env!("CARGO_PKG_VERSION")},
        "pages": [],
        "entries": entries,
    }})
    .to_string()
}
