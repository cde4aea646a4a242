//! A lint rule's catalogue entry, and the constructor that ties every
//! finding to its rule (so ids and severities cannot drift apart).
use crate::report::{Finding, Location, RuleId, Severity};

/// What a rule judges, which says when in the inspection it can fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A request alone ([`crate::lint::check`]).
    Request,
    /// The status and headers of a response, before its body
    /// (the proxy can still fix them).
    ResponseHead,
    /// A finished exchange with its response body.
    Response,
    /// A request given the exchanges before it ([`crate::session`]).
    Session,
    /// trakt-doctor's own failure, not the exchange's.
    Internal,
}

/// One rule of the catalogue: what it checks, why Trakt cares, and how it is fixed.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, `family.subject.problem`.
    pub id: &'static str,
    pub severity: Severity,
    /// What the rule looks at, and so when it can fire.
    pub scope: Scope,
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
        location: impl Into<Location>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: RuleId::from_static(self.id),
            severity: self.severity,
            message: message.into(),
            location: location.into(),
            fixed: false,
            contradicted: false,
            fix: None,
        }
    }
}

impl Finding {
    /// Whether this finding was made by `rule`.
    pub fn is(&self, rule: &Rule) -> bool {
        self.rule.as_str() == rule.id
    }
}
