//! Auto-fix: repairs that a finding may carry, and the record of each
//! rewrite applied to a request before it left.

use serde::{Deserialize, Serialize};

/// One rewrite, as the logs show it: which rule, where, and the text before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRecord {
    pub rule: String,
    pub location: String,
    pub before: String,
    pub after: String,
}

/// A repair whose intended result is certain. Pure data: applying it is
/// the job of [`apply`](crate::fix) in the auto-fix mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Set a header (replacing every value it had).
    SetHeader { name: String, value: String },
    /// Rename a header, keeping its value.
    RenameHeader { from: String, to: String },
    /// Remove repeated identical values of a header, keeping the first.
    DedupeHeader { name: String },
    /// Remove a UTF-8 byte order mark from the start of the body.
    StripBom,
    /// Replace the JSON value at a pointer.
    SetJson {
        pointer: String,
        value: serde_json::Value,
    },
}
