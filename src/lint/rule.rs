//! A lint rule's catalogue entry, and the constructor that ties every
//! finding to its rule (so ids and severities cannot drift apart).
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

use crate::report::{Finding, Severity};

/// One rule of the catalogue: what it checks, why Trakt cares, and how it is fixed.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, `family.subject.problem`.
    pub id: &'static str,
    pub severity: Severity,
    /// One line: what the rule checks.
    pub summary: &'static str,
    /// Why Trakt (or Stremio's bridge) cares, with the status it causes.
    pub why: &'static str,
    /// A request that breaks the rule.
    pub bad: &'static str,
    /// The same request done right.
    pub good: &'static str,
    /// What auto-fix does, or `None` when the intended request is not certain.
    pub autofix: Option<&'static str>,
}

impl Rule {
    pub fn finding(
        &'static self,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: self.id.to_string(),
            severity: self.severity,
            message: message.into(),
            location: location.into(),
            fixed: false,
            contradicted: false,
            fix: None,
        }
    }
}
