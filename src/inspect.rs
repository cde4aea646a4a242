//! The inspection pipeline shared by the proxy and the offline linter:
//! lint a request (alone and against the session so far), then, once the
//! exchange is finished, diagnose it and let the session learn from it.
//!
//! Pure apart from the mutex that serialises the session.

use std::collections::HashSet;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::diagnose;
use crate::exchange::{Exchange, Request};
use crate::lint::{self, headers, stremio, Finding, Severity};
use crate::session::Session;
use crate::spec::trakt;

#[derive(Debug, Default)]
pub struct Inspector {
    session: Mutex<Session>,
    /// User-Agents already told they are a library default: said once per
    /// client and session, not on every exchange.
    generic_agents: Mutex<HashSet<String>>,
}

/// How many distinct generic User-Agents are remembered; past it, each is said again.
const MAX_REMEMBERED_AGENTS: usize = 1024;

impl Inspector {
    pub fn new() -> Self {
        Inspector::default()
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Findings for a request about to be sent at `at`.
    pub fn request(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        let mut findings = lint::check(request, at);
        self.once_per_agent(request, &mut findings);
        findings.extend(self.session().observe_request(request, at));
        findings
    }

    fn once_per_agent(&self, request: &Request, findings: &mut Vec<Finding>) {
        let rule = headers::USER_AGENT_GENERIC.id;
        if !findings.iter().any(|f| f.rule == rule) {
            return;
        }
        let agent = request
            .headers
            .get("user-agent")
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut seen = self
            .generic_agents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.contains(&agent) {
            findings.retain(|f| f.rule != rule);
        } else if seen.len() < MAX_REMEMBERED_AGENTS {
            seen.insert(agent);
        }
    }

    /// Completes a finished exchange: its diagnosis, and what the session learns from it.
    pub fn finish(&self, exchange: &mut Exchange) {
        // Only Trakt's own answers judge the prediction: Stremio's bridge
        // answers 200 with its errors inside.
        let host = exchange
            .request
            .uri()
            .and_then(|u| u.host().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        if let Some(response) = exchange
            .response
            .as_ref()
            .filter(|_| trakt::is_trakt_host(&host))
        {
            if (200..300).contains(&response.status) {
                for finding in &mut exchange.findings {
                    finding.contradicted = finding.severity == Severity::Error && !finding.fixed;
                }
            }
        }
        let response_findings = stremio::check_response(exchange);
        exchange.findings.extend(response_findings);
        exchange.findings.extend(lint::response::check(exchange));
        exchange.diagnosis = diagnose::explain(exchange);
        let mut session = self.session();
        if let Some((token, expires_at)) = stremio::getuser_token(exchange) {
            // Direct Trakt calls with Stremio's token are judged against this expiry.
            session.learn_expiry(&token, expires_at);
        }
        session.observe_exchange(exchange);
    }

    /// Runs the whole pipeline over a recorded exchange (offline linting):
    /// findings are recomputed, the recorded response is kept.
    pub fn replay(&self, exchange: &mut Exchange) {
        exchange.findings = self.request(&exchange.request, exchange.started_at);
        if let Some(response) = &exchange.response {
            let head =
                stremio::check_response_head(&exchange.request, response.status, &response.headers);
            exchange.findings.extend(head);
        }
        self.finish(exchange);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::exchange::{Body, Headers, Response};

    const T0: OffsetDateTime = time::macros::datetime!(2026-11-24 12:00 UTC);

    fn get(url: &str, agent: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("user-agent", agent),
                ("trakt-api-version", "2"),
                (
                    "trakt-api-key",
                    "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
                ),
            ]),
            body: Body::complete(Bytes::new()),
        }
    }

    fn answered(request: Request, findings: Vec<Finding>, status: u16) -> Exchange {
        Exchange {
            id: 1,
            started_at: T0,
            duration_ms: 1.0,
            request,
            response: Some(Response {
                status,
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::complete(Bytes::from_static(b"[]")),
            }),
            error: None,
            findings,
            fixes: vec![],
            diagnosis: None,
        }
    }

    fn has(findings: &[Finding], rule: &str) -> bool {
        findings.iter().any(|f| f.rule == rule)
    }

    #[test]
    fn a_generic_user_agent_is_named_once_per_client() {
        let inspector = Inspector::new();
        let url = "https://api.trakt.tv/movies/trending";
        let generic = headers::USER_AGENT_GENERIC.id;
        assert!(has(
            &inspector.request(&get(url, "python-requests/2.32"), T0),
            generic
        ));
        assert!(!has(
            &inspector.request(&get(url, "python-requests/2.32"), T0),
            generic
        ));
        assert!(has(&inspector.request(&get(url, "axios/1.7"), T0), generic));
    }

    #[test]
    fn a_success_after_a_predicted_rejection_is_recorded() {
        let inspector = Inspector::new();
        // A title as a movie id: trakt-doctor predicts a 404.
        let request = get("https://api.trakt.tv/movies/Tron%20Legacy", "App/1.0");
        let findings = inspector.request(&request, T0);
        assert!(has(&findings, "route.id.malformed"));
        let mut accepted = answered(request.clone(), findings.clone(), 200);
        inspector.finish(&mut accepted);
        let malformed = accepted
            .findings
            .iter()
            .find(|f| f.rule == "route.id.malformed");
        assert!(malformed.is_some_and(|f| f.contradicted));
        let mut rejected = answered(request, findings, 404);
        inspector.finish(&mut rejected);
        assert!(rejected.findings.iter().all(|f| !f.contradicted));
    }
}
