//! The rule for trakt-doctor's own failures: a stage of the inspection
//! ([`crate::inspect`]) that panicked on an exchange becomes this finding.
use super::{Rule, Scope};
use crate::report::Severity;

/// A stage of trakt-doctor's inspection failed on this exchange (a bug, said as a finding).
pub const INTERNAL: Rule = Rule {
    id: "internal.inspection.failed",
    severity: Severity::Warning,
    scope: Scope::Internal,
    summary: "trakt-doctor's own inspection of this exchange failed (a bug in trakt-doctor, not in the request).",
    why: "A stage of the inspection (lint, auto-fix, session, diagnosis) hit a bug and was skipped, so findings may be missing for this exchange. The exchange itself was forwarded and logged unchanged; the message names the stage and the error.",
    bad: "GET /movies/<an id that trips a bug in a rule>",
    good: "nothing to change in the request; report the record (it is redacted) to trakt-doctor",
    autofix: None,
    source: "trakt-doctor itself: a stage of its inspection failed, and the message names it",
};

/// The internal rules.
pub const RULES: &[&Rule] = &[&INTERNAL];
