//! Linting: pure checks of a captured request against the contract it must
//! meet. Each problem found is a [`Finding`] with a stable rule id.

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}
