//! Body rules generated from Trakt's contract: each request body is checked
//! against its operation's schema, field by field.
//!
//! These are warnings: the contract is what Trakt documents, and Trakt's
//! server is sometimes more lenient than its own types. The hand-written body
//! rules (ids, dates, progress, ratings) speak first where they know what
//! Trakt really does; a place they already name is not named twice.

use super::{Finding, Rule, Scope, Severity, Subject};
use crate::spec::schema::{Problem, Validator};
use crate::spec::trakt::{self, BodyShape};

pub(crate) const REQUIRED: Rule = Rule {
    id: "body.schema.required",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A field Trakt's contract requires in this body is missing.",
    why: "Trakt reads the body by its contract; without the field it answers 400/422 or ignores the request's intent.",
    bad: "POST /users/me/lists\n\n{\"privacy\":\"private\"}",
    good: "POST /users/me/lists\n\n{\"name\":\"Watched with Dad\",\"privacy\":\"private\"}",
    autofix: None,
    source: "Trakt contract: the operation's body schema (required fields)",
};

pub(crate) const TYPE: Rule = Rule {
    id: "body.schema.type",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A field of the body has another JSON type than Trakt's contract says.",
    why: "A string where Trakt reads a number (or an object where it reads a list) is not understood: Trakt answers 400/422 or drops the field.",
    bad: "PUT /users/me/lists/watched-with-dad\n\n{\"allow_comments\":\"yes\"}",
    good: "PUT /users/me/lists/watched-with-dad\n\n{\"allow_comments\":true}",
    autofix: None,
    source: "Trakt contract: the operation's body schema (field types)",
};

pub(crate) const ENUM: Rule = Rule {
    id: "body.schema.enum",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A field of the body has a value outside the ones Trakt's contract lists.",
    why: "Fields such as `sort_how` or `type` take only listed values; Trakt rejects or ignores any other.",
    bad: "POST /users/me/lists\n\n{\"name\":\"Top\",\"sort_how\":\"down\"}",
    good: "POST /users/me/lists\n\n{\"name\":\"Top\",\"sort_how\":\"desc\"}",
    autofix: None,
    source: "Trakt contract: the operation's body schema (listed values)",
};

pub(crate) const RANGE: Rule = Rule {
    id: "body.schema.range",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A number, text or list in the body is outside the range Trakt's contract sets.",
    why: "Trakt refuses values outside their range (a rating of 11, an empty name, a year range of three years).",
    bad: "POST /users/me/smart-lists\n\n{\"name\":\"\",\"source\":\"trending\",\"media_type\":\"movies\"}",
    good: "POST /users/me/smart-lists\n\n{\"name\":\"Trending films\",\"source\":\"trending\",\"media_type\":\"movies\"}",
    autofix: None,
    source: "Trakt contract: the operation's body schema (minimum, maximum, lengths)",
};

/// The contract-schema rules, in catalogue order.
pub const RULES: &[&Rule] = &[&REQUIRED, &TYPE, &ENUM, &RANGE];

/// The request body checked against its operation's schema in the contract.
pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    let Some(endpoint) = s.endpoint() else { return };
    let (Some(schema), Some(value)) = (&endpoint.details().body_schema, s.json()) else {
        return;
    };
    // Hand-written rules name a body that is not an object where they read it.
    if !value.is_object() && !matches!(endpoint.body, BodyShape::Object) {
        return;
    }
    let contract = trakt::contract();
    let validator = Validator {
        shared: &contract.shared,
        request: true,
        sample: None,
    };
    // Where hand-written rules read the body (scrobbles, bulk items, OAuth),
    // they know which fields Trakt really needs: the contract's types are
    // stricter (a show rated by its seasons, a PKCE exchange without a secret).
    let hand_written = !matches!(endpoint.body, BodyShape::Object);
    let violations = validator
        .validate(value, schema)
        .into_iter()
        .filter(|v| !(hand_written && matches!(v.problem, Problem::Required { .. })));
    let named: Vec<String> = out
        .iter()
        .filter(|f| super::body::RULES.iter().any(|rule| f.is(rule)))
        .map(|f| f.location.to_string())
        .collect();
    let mut seen = Vec::new();
    for violation in violations {
        // Two parts of one schema (allOf) may say the same thing.
        if seen.contains(&violation) {
            continue;
        }
        seen.push(violation.clone());
        let place = if violation.pointer.is_empty() {
            "/".to_string()
        } else {
            violation.pointer.clone()
        };
        if named.iter().any(|n| overlaps(n, &place)) {
            continue;
        }
        let label = trakt::contract_label();
        let finding = match &violation.problem {
            Problem::Required { name } => REQUIRED.finding(
                place.as_str(),
                format!("`{name}` is required here by the {label}"),
            ),
            Problem::Type { expected, found } => TYPE.finding(
                place.as_str(),
                format!("`{place}` is a {found}; the {label} says {expected}"),
            ),
            Problem::Enum { allowed } => ENUM.finding(
                place.as_str(),
                format!("`{place}` is not one of {}", allowed.join(", ")),
            ),
            Problem::Range { bound } => RANGE.finding(
                place.as_str(),
                format!("`{place}` must be {bound} by the {label}"),
            ),
        };
        out.push(finding);
    }
}

/// Whether two JSON pointers name the same place, or one lies inside the
/// other. A finding about the whole body (`/`) covers only the whole body.
fn overlaps(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    inside(a, b) || inside(b, a)
}
