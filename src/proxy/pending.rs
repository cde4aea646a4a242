//! An exchange in flight. It is logged exactly once: when it finishes, or,
//! if the future or body holding it is dropped first (client gone, shutdown),
//! with the reason it was cut short. This is how "nothing lost" is kept.

use std::time::Instant;

use bytes::Bytes;
use time::OffsetDateTime;

use super::body::Chunks;

use crate::exchange::{Exchange, Request, Response};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::inspect::Inspector;
use crate::log::LogHandle;
use crate::report::{Finding, FixRecord};

struct State {
    log: LogHandle,
    inspector: Arc<Inspector>,
    id: u64,
    started_at: OffsetDateTime,
    started: Instant,
    request: Request,
    findings: Vec<Finding>,
    fixes: Vec<FixRecord>,
    response: Option<Response>,
    response_body: Chunks,
    abandon_reason: &'static str,
    /// Set once the shutdown grace period has run out: whatever is dropped
    /// after that was cut by the shutdown, not by the client.
    shutdown_cut: Arc<AtomicBool>,
}

pub struct PendingExchange {
    state: Option<Box<State>>,
}

impl PendingExchange {
    pub fn start(
        log: LogHandle,
        inspector: Arc<Inspector>,
        started_at: OffsetDateTime,
        started: Instant,
        request: Request,
        shutdown_cut: Arc<AtomicBool>,
    ) -> Self {
        let id = log.next_id();
        PendingExchange {
            state: Some(Box::new(State {
                log,
                inspector,
                id,
                started_at,
                started,
                request,
                findings: Vec::new(),
                fixes: Vec::new(),
                response: None,
                response_body: Chunks::default(),
                abandon_reason: "the client closed the connection before the response arrived",
                shutdown_cut,
            })),
        }
    }

    pub fn id(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.id)
    }

    pub fn request(&self) -> Option<&Request> {
        self.state.as_ref().map(|s| &s.request)
    }

    pub fn request_mut(&mut self) -> Option<&mut Request> {
        self.state.as_mut().map(|s| &mut s.request)
    }

    pub fn set_findings(&mut self, findings: Vec<Finding>, fixes: Vec<FixRecord>) {
        if let Some(s) = self.state.as_mut() {
            s.findings = findings;
            s.fixes = fixes;
        }
    }

    pub fn add_findings(&mut self, findings: Vec<Finding>) {
        if let Some(s) = self.state.as_mut() {
            s.findings.extend(findings);
        }
    }

    pub fn add_fix(&mut self, fix: FixRecord) {
        if let Some(s) = self.state.as_mut() {
            s.fixes.push(fix);
        }
    }

    pub fn set_abandon_reason(&mut self, reason: &'static str) {
        if let Some(s) = self.state.as_mut() {
            s.abandon_reason = reason;
        }
    }

    /// Records the response head; its body is added as it streams.
    pub fn set_response(&mut self, response: Response) {
        if let Some(s) = self.state.as_mut() {
            s.response = Some(response);
        }
    }

    pub fn push_response_body(&mut self, data: &Bytes, limit: usize) {
        if let Some(s) = self.state.as_mut() {
            if let Some(response) = s.response.as_mut() {
                response.body.size += data.len() as u64;
                let room = limit.saturating_sub(s.response_body.len());
                if data.len() > room {
                    response.body.truncated = true;
                }
                s.response_body.push(data.slice(..room.min(data.len())));
            }
        }
    }

    /// Logs the exchange (once); `error` says why it did not complete.
    pub fn finish(&mut self, error: Option<String>) {
        let Some(mut s) = self.state.take() else {
            return;
        };
        if let Some(response) = s.response.as_mut() {
            response.body.bytes = std::mem::take(&mut s.response_body).into_bytes();
        }
        let mut exchange = Exchange {
            id: s.id,
            started_at: s.started_at,
            duration_ms: s.started.elapsed().as_secs_f64() * 1000.0,
            request: s.request,
            response: s.response,
            error,
            findings: s.findings,
            fixes: s.fixes,
            diagnosis: None,
        };
        s.inspector.finish(&mut exchange);
        s.log.send(exchange);
    }
}

impl Drop for PendingExchange {
    fn drop(&mut self) {
        let Some(state) = self.state.as_ref() else {
            return;
        };
        let reason = if state.shutdown_cut.load(Ordering::Relaxed) {
            "cut short by trakt-doctor's shutdown: the exchange was still in flight when the \
             shutdown grace period ran out"
        } else {
            state.abandon_reason
        };
        self.finish(Some(reason.to_string()));
    }
}
