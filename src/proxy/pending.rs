//! An exchange in flight. It is logged exactly once: when it finishes, or,
//! if the future or body holding it is dropped first (client gone, shutdown),
//! with the reason it was cut short. This is how "nothing lost" is kept.
//! [`RecordingBody`] carries it while the response body streams.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use time::OffsetDateTime;

use super::body::Chunks;

use crate::exchange::{ErrorKind, Exchange, ExchangeError, Request, Response};
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
    /// The exchange this one resends, if it is a resend.
    replay_of: Option<u64>,
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
                replay_of: None,
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

    /// Marks the exchange as a resend of exchange `id` (`replay_of` in every sink).
    pub fn set_replay_of(&mut self, id: u64) {
        if let Some(s) = self.state.as_mut() {
            s.replay_of = Some(id);
        }
    }

    /// What the record says if the client goes away now (always a
    /// [`ErrorKind::ClientClosed`]).
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
    pub fn finish(&mut self, error: Option<ExchangeError>) {
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
            // The record keeps the message: its `error` string is a contract.
            error: error.map(|e| e.message),
            findings: s.findings,
            fixes: s.fixes,
            diagnosis: None,
            replay_of: s.replay_of,
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
        let error = if state.shutdown_cut.load(Ordering::Relaxed) {
            ExchangeError::new(
                ErrorKind::CutByShutdown,
                "cut short by trakt-doctor's shutdown: the exchange was still in flight when the \
                 shutdown grace period ran out",
            )
        } else {
            ExchangeError::new(ErrorKind::ClientClosed, state.abandon_reason)
        };
        self.finish(Some(error));
    }
}

/// Streams a response body to the client while copying its first bytes
/// into the pending exchange; logs the exchange when the body ends, fails,
/// or is dropped half-way (the client went away).
pub struct RecordingBody<B> {
    inner: B,
    pending: PendingExchange,
    limit: usize,
}

impl<B: Body<Data = Bytes> + Unpin> RecordingBody<B> {
    pub fn new(inner: B, mut pending: PendingExchange, limit: usize) -> Self {
        pending.set_abandon_reason(
            "the client closed the connection before the whole response was sent",
        );
        if inner.is_end_stream() {
            pending.finish(None);
        }
        RecordingBody {
            inner,
            pending,
            limit,
        }
    }
}

impl<B> Body for RecordingBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.pending.push_response_body(data, this.limit);
                }
                if this.inner.is_end_stream() {
                    this.pending.finish(None);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                this.pending.finish(Some(ExchangeError::new(
                    ErrorKind::UpstreamBodyFailed,
                    format!("the upstream connection failed while sending the response body: {e}"),
                )));
            }
            Poll::Ready(None) => this.pending.finish(None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
