//! What an inspection reports, as the records carry it: the severity and
//! [`Finding`] of a rule, the [`Fix`] a finding may carry and the
//! [`FixRecord`] of one applied, and the [`Diagnosis`] of an exchange.
//!
//! Plain serde data, one layer above [`text`](crate::text): the exchange
//! model, the rules, auto-fix and the diagnosis all build on it, and it
//! builds on none of them (so none of them has to import another sideways
//! just for a type).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use serde::{Deserialize, Serialize};

/// How sure we are that the upstream will reject the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    /// Trakt (or Stremio's bridge) will reject the request.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem found in one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id, `family.subject.problem` (e.g. `header.api-version.missing`).
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// A header name, a JSON pointer, a query parameter, or `/` for the whole request.
    pub location: String,
    /// Whether auto-fix repaired it before the request left.
    #[serde(default)]
    pub fixed: bool,
    /// Trakt answered with success although this finding predicted a
    /// rejection: the prediction was wrong (or Trakt is more lenient than its
    /// contract), and the record says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contradicted: bool,
    /// The repair, when one is certain (not logged: the `fixes` list shows what was applied).
    #[serde(skip)]
    pub fix: Option<Fix>,
}

impl Finding {
    /// Attaches the repair for this finding.
    pub fn with_fix(mut self, fix: Fix) -> Finding {
        self.fix = Some(fix);
        self
    }
}

/// One rewrite, as the logs show it: which rule, where, and the text before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRecord {
    pub rule: String,
    pub location: String,
    pub before: String,
    pub after: String,
}

/// A repair whose intended result is certain. Pure data: applying it is
/// the job of [`apply`](crate::fix::apply) in the auto-fix mode.
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

/// The explanation attached to a failed (or quietly incomplete) exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub summary: String,
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub remedies: Vec<String>,
}
