//! The inspection pipeline shared by the proxy and the offline linter:
//! lint a request (alone and against the session so far), then, once the
//! exchange is finished, diagnose it and let the session learn from it.
//!
//! Pure apart from the mutex that serialises the session.

use std::sync::Mutex;

use time::OffsetDateTime;

use crate::diagnose;
use crate::exchange::{Exchange, Request};
use crate::lint::{self, stremio, Finding};
use crate::redact::Redactor;
use crate::session::Session;

#[derive(Debug, Default)]
pub struct Inspector {
    session: Mutex<Session>,
}

impl Inspector {
    /// An inspector whose findings fingerprint tokens with a key of this run only.
    pub fn new() -> Self {
        Inspector::default()
    }

    /// An inspector whose findings fingerprint tokens with `redactor`'s key
    /// (the per-install key), as the redacted records do.
    pub fn with_redactor(redactor: Redactor) -> Self {
        Inspector {
            session: Mutex::new(Session::with_redactor(redactor)),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Findings for a request about to be sent at `at`.
    pub fn request(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        let mut findings = lint::check(request, at);
        findings.extend(self.session().observe_request(request, at));
        findings
    }

    /// Completes a finished exchange: its diagnosis, and what the session learns from it.
    pub fn finish(&self, exchange: &mut Exchange) {
        let response_findings = stremio::check_response(exchange);
        exchange.findings.extend(response_findings);
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
