//! Trakt's answers against its contract: a success whose body lacks a field
//! the contract promises, or carries it with another type, means Trakt
//! changed under the client (the "API change vs old client" cause), not that
//! the request was wrong. Only information, one finding per answer.

use super::{Finding, Rule, Scope, Severity};
use crate::exchange::Exchange;
use crate::parsed::Parsed;
use crate::spec::schema::{Problem, Validator};
use crate::spec::trakt::{self, RouteMatch};

pub(crate) const SCHEMA: Rule = Rule {
    id: "response.schema",
    severity: Severity::Info,
    scope: Scope::Response,
    summary: "Trakt's success answer differs from the shape its contract promises.",
    why: "A field the contract promises that is missing, or has another type, is what breaks a client after Trakt changes its API: the request was fine, the client's reading of the answer is what fails.",
    bad: "200 OK\n\n[{\"watchers\":12,\"movie\":{\"title\":\"Tron\",\"ids\":\"tron\"}}]",
    good: "200 OK\n\n[{\"watchers\":12,\"movie\":{\"title\":\"Tron\",\"year\":2010,\"ids\":{\"trakt\":1,\"slug\":\"tron-legacy-2010\"}}}]",
    autofix: None,
    source: "Trakt contract: the operation's success response schema",
};

/// The answer rules.
pub const RULES: &[&Rule] = &[&SCHEMA];

/// Items of each list looked at: enough to see a changed shape, cheap on a page of 250.
const SAMPLE: usize = 5;
/// Places quoted in the one finding.
const QUOTED: usize = 3;

/// The finding for a finished exchange with Trakt, if its success answer departs from the contract.
/// `parsed` is the request's target, its route matched when it was inspected
/// (for Trakt's API and OAuth hosts only).
pub fn check(parsed: &Parsed, exchange: &Exchange) -> Option<Finding> {
    let response = exchange.response.as_ref()?;
    if !(200..300).contains(&response.status) || response.body.truncated {
        return None;
    }
    let Some(RouteMatch::Found {
        endpoint, invalid, ..
    }) = &parsed.route
    else {
        return None;
    };
    if !invalid.is_empty() || response.status != endpoint.success {
        return None;
    }
    let schema = endpoint.details().response.as_ref()?;
    let body = response.body.json()?;
    let contract = trakt::contract();
    let validator = Validator {
        shared: &contract.shared,
        request: false,
        sample: Some(SAMPLE),
    };
    let violations = validator.validate(&body, schema);
    let first = violations.first()?;
    let quoted: Vec<String> = violations
        .iter()
        .take(QUOTED)
        .map(|v| {
            let place = if v.pointer.is_empty() {
                "/"
            } else {
                v.pointer.as_str()
            };
            match &v.problem {
                Problem::Required { name } => format!("`{name}` is missing at {place}"),
                Problem::Type { expected, found } => {
                    format!("{place} is a {found}, not {expected}")
                }
                Problem::Enum { allowed } => {
                    format!("{place} is not one of {}", allowed.join(", "))
                }
                Problem::Range { bound } => format!("{place} is not {bound}"),
            }
        })
        .collect();
    let more = violations.len().saturating_sub(QUOTED);
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    let place = if first.pointer.is_empty() {
        "/"
    } else {
        first.pointer.as_str()
    };
    Some(SCHEMA.finding(
        format!("response {place}"),
        format!(
            "Trakt's answer is not what the {} promises for {} {}: {}{tail}. If the client fails to read it, Trakt changed under it: update the client",
            trakt::contract_label(),
            endpoint.method,
            endpoint.path,
            quoted.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::exchange::{Body, Headers, Request};

    fn answer(url: &str, status: u16, body: &str) -> Exchange {
        let request = Request {
            method: "GET".into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Body::complete(Bytes::new()),
        };
        let mut exchange = crate::exchange::testing::answered(request, body);
        if let Some(response) = exchange.response.as_mut() {
            response.status = status;
        }
        exchange
    }

    const TRENDING: &str = "https://api.trakt.tv/movies/trending";

    /// [`check`] of an exchange, its request read here.
    fn checked(exchange: &Exchange) -> Option<Finding> {
        check(&Parsed::of(&exchange.request), exchange)
    }

    #[test]
    fn an_answer_in_the_promised_shape_says_nothing() {
        let body = r#"[{"watchers":12,"movie":{"title":"Tron","year":2010,"ids":{"trakt":1,"slug":"tron-legacy-2010","imdb":"tt1104001","tmdb":20526}}}]"#;
        assert_eq!(checked(&answer(TRENDING, 200, body)), None);
    }

    #[test]
    fn a_changed_answer_is_one_finding_naming_its_places() {
        let body = r#"[{"watchers":"12","movie":{"year":2010,"ids":{"trakt":1,"slug":"tron"}}}]"#;
        let finding = checked(&answer(TRENDING, 200, body)).expect("a finding");
        assert_eq!(finding.rule, "response.schema");
        assert_eq!(finding.severity, Severity::Info);
        assert!(
            finding.message.contains("/0/watchers is a string"),
            "{}",
            finding.message
        );
        assert!(
            finding.message.contains("`title` is missing"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn failures_and_other_hosts_are_not_judged() {
        assert_eq!(checked(&answer(TRENDING, 404, "{}")), None);
        assert_eq!(
            checked(&answer("https://api.strem.io/movies/trending", 200, "{}")),
            None
        );
        assert_eq!(checked(&answer(TRENDING, 200, "not json")), None);
    }
}
