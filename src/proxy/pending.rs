//! An exchange in flight. It is logged exactly once: when it finishes, or,
//! if the future or body holding it is dropped first (client gone, shutdown),
//! with the reason it was cut short. This is how "nothing lost" is kept.
//! [`RecordingBody`] carries it while the response body streams.
//!
//! Once the response's last frame is handed to the client's connection, the
//! rest (response checks, diagnosis, session update, the log hand-off) is
//! [deferred](Finisher): it runs after the connection has written the
//! response, not in front of its last bytes. Nothing is lost on the way: an
//! exchange marked complete logs itself as complete if dropped before its
//! turn, and the session never judges a request before learning from the
//! exchanges already answered (the proxy drains the queue before inspecting).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use time::OffsetDateTime;

use super::body::Capture;
use super::stages::{Clock, Stage};

use crate::exchange::{ErrorKind, Exchange, ExchangeError, Request, Response};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::fix::FixPolicy;
use crate::inspect::{Answered, Begun, HeaderFix, Inspection, Inspector, Sent};
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
    response_body: Capture,
    /// The capture limit the response body was recorded with: how far a
    /// coded body is decoded.
    capture_limit: usize,
    abandon_reason: &'static str,
    /// The exchange this one resends, if it is a resend.
    replay_of: Option<u64>,
    /// Set once the shutdown grace period has run out: whatever is dropped
    /// after that was cut by the shutdown, not by the client.
    shutdown_cut: Arc<AtomicBool>,
    /// The stage timers (empty unless they are on).
    clock: Clock,
    /// When the whole response was handed to the client: the exchange is
    /// complete and only waits to be finished.
    completed: Option<Instant>,
    /// Where the exchange's inspection stands (`None` only while a step
    /// moves it on, and once it is finished).
    inspection: Option<Progress>,
}

/// The exchange's inspection at each of its stages: each step of
/// [`Inspection`] moves it on once, in the order the type allows.
enum Progress {
    Begun(Inspection<Begun>),
    Sent(Inspection<Sent>),
    Answered(Inspection<Answered>),
}

impl Progress {
    /// The last step, wherever the inspection stopped.
    fn finish(self, inspector: &Inspector, exchange: &mut Exchange) {
        match self {
            Progress::Begun(begun) => begun.finish(inspector, exchange),
            Progress::Sent(sent) => sent.finish(inspector, exchange),
            Progress::Answered(answered) => answered.finish(inspector, exchange),
        }
    }
}

#[derive(Default)]
pub struct PendingExchange {
    state: Option<Box<State>>,
}

impl PendingExchange {
    /// Opens the exchange of `request`, whose inspection `inspection` has begun.
    pub fn start(
        log: LogHandle,
        inspector: Arc<Inspector>,
        inspection: Inspection<Begun>,
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
                response_body: Capture::default(),
                capture_limit: 0,
                abandon_reason: "the client closed the connection before the response arrived",
                replay_of: None,
                shutdown_cut,
                clock: Clock::default(),
                completed: None,
                inspection: Some(Progress::Begun(inspection)),
            })),
        }
    }

    pub fn id(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.id)
    }

    pub fn request_mut(&mut self) -> Option<&mut Request> {
        self.state.as_mut().map(|s| &mut s.request)
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

    /// Inspects the request before it is sent ([`Inspection::prepare`]):
    /// its findings (reworded by `reword`) and fixes are recorded, and the
    /// repaired request, when auto-fix changed it, replaces the recorded
    /// one and is returned. Only once, before the answer.
    pub fn prepare(
        &mut self,
        policy: &FixPolicy,
        reword: fn(&mut Vec<Finding>),
    ) -> Option<&Request> {
        let s = self.state.as_mut()?;
        let Some(Progress::Begun(begun)) = s.inspection.take() else {
            return None;
        };
        let (mut prepared, sent) = begun.prepare(&s.inspector, &s.request, policy);
        s.inspection = Some(Progress::Sent(sent));
        reword(&mut prepared.findings);
        s.findings = prepared.findings;
        s.fixes = prepared.fixes;
        let repaired = prepared.repaired?;
        // The log shows the request that was actually sent; `fixes` has the before/after.
        s.request = repaired;
        Some(&s.request)
    }

    /// Judges the request against the session only and leaves its lint for
    /// the finish ([`Inspection::check_session`]; auto-fix off: no finding
    /// is needed before forwarding). `reword` adjusts the lint's findings
    /// as [`PendingExchange::prepare`] does.
    pub fn check_session(&mut self, reword: fn(&mut Vec<Finding>)) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        let Some(Progress::Begun(begun)) = s.inspection.take() else {
            return;
        };
        let (session, sent) = begun.check_session(&s.inspector, &s.request, reword);
        s.inspection = Some(Progress::Sent(sent));
        s.findings = session;
        s.fixes = Vec::new();
    }

    /// Inspects the answer's head ([`Inspection::answer_head`]): its
    /// findings and the fixes of the header repairs are recorded; the
    /// repairs are returned for the caller to apply. Only once.
    pub fn answer_head(
        &mut self,
        status: u16,
        headers: &crate::exchange::Headers,
        policy: &FixPolicy,
    ) -> Vec<(String, String)> {
        let Some(s) = self.state.as_mut() else {
            return Vec::new();
        };
        let Some(Progress::Sent(sent)) = s.inspection.take() else {
            return Vec::new();
        };
        let (findings, fixes, answered) =
            sent.answer_head(&s.inspector, &s.request, status, headers, policy);
        s.inspection = Some(Progress::Answered(answered));
        s.findings.extend(findings);
        fixes
            .into_iter()
            .map(|(name, value, record): HeaderFix| {
                s.fixes.push(record);
                (name, value)
            })
            .collect()
    }

    /// Hands over the stage timers from the response head on.
    pub fn set_clock(&mut self, clock: Clock) {
        if let Some(s) = self.state.as_mut() {
            s.clock = clock;
        }
    }

    /// Records the response head; its body is added as it streams.
    pub fn set_response(&mut self, response: Response) {
        if let Some(s) = self.state.as_mut() {
            s.response = Some(response);
        }
    }

    /// Adds a piece of the response body (up to `limit` bytes are kept);
    /// `length` is the whole body's length, when the answer gave it.
    pub fn push_response_body(&mut self, data: &Bytes, limit: usize, length: Option<u64>) {
        if let Some(s) = self.state.as_mut() {
            if let Some(response) = s.response.as_mut() {
                s.capture_limit = limit;
                response.body.size += data.len() as u64;
                let room = limit.saturating_sub(s.response_body.len());
                if data.len() > room {
                    response.body.truncated = true;
                }
                let planned = length.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
                s.response_body.push(
                    data.slice(..room.min(data.len())),
                    planned,
                    limit,
                    s.log.spare_bodies(),
                );
            }
        }
    }

    /// Logs the exchange (once); `error` says why it did not complete.
    pub fn finish(&mut self, error: Option<ExchangeError>) {
        let Some(mut s) = self.state.take() else {
            return;
        };
        s.clock.lap(if s.completed.is_some() {
            Stage::Queued
        } else {
            Stage::BodyRelay
        });
        if let Some(response) = s.response.as_mut() {
            response.body.bytes = std::mem::take(&mut s.response_body).into_bytes();
            // Here, after the client has the answer's bytes as they came:
            // decoding is never on the path that forwards them.
            crate::exchange::coding::decode_response(response, s.capture_limit);
        }
        let ended = s.completed.unwrap_or_else(Instant::now);
        let mut exchange = Exchange {
            id: s.id,
            started_at: s.started_at,
            duration_ms: ended.duration_since(s.started).as_secs_f64() * 1000.0,
            request: s.request,
            response: s.response,
            // The record keeps the message: its `error` string is a contract.
            error: error.map(|e| e.message),
            findings: s.findings,
            fixes: s.fixes,
            diagnosis: None,
            replay_of: s.replay_of,
        };
        // Finished where the inspection stopped (the request's lint first, if it waited).
        match s.inspection.take() {
            Some(progress) => progress.finish(&s.inspector, &mut exchange),
            None => s
                .inspector
                .begin(s.started_at)
                .finish(&s.inspector, &mut exchange),
        }
        s.clock.lap(Stage::Finish);
        s.log.send(exchange);
        s.clock.lap(Stage::Handoff);
        s.clock.total(Stage::Total);
    }
}

impl Drop for PendingExchange {
    fn drop(&mut self) {
        let Some(state) = self.state.as_ref() else {
            return;
        };
        if state.completed.is_some() {
            // The response went out whole; only its finishing had not run yet.
            return self.finish(None);
        }
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

impl PendingExchange {
    /// Marks the exchange complete (the whole response was handed to the
    /// client) and passes it to `finisher`, which finishes it shortly.
    fn complete(&mut self, finisher: &Arc<Finisher>) {
        if let Some(s) = self.state.as_mut() {
            s.completed = Some(Instant::now());
            s.clock.lap(Stage::BodyRelay);
            s.clock.total(Stage::OnPath);
            finisher.defer(std::mem::take(self));
        }
    }
}

/// Exchanges whose response has gone out, waiting for their finishing
/// (response checks, diagnosis, session, log hand-off). A task drains
/// them after the connection that completed one has written it; the proxy
/// also drains them before inspecting a request, so the session is always
/// up to date with every response already sent.
#[derive(Default)]
pub struct Finisher {
    queue: Mutex<VecDeque<PendingExchange>>,
}

impl Finisher {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<PendingExchange>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a completed exchange; the first one in an empty queue starts
    /// a drain (a task of the runtime, which runs once the current task,
    /// the client's connection, yields; finished at once outside a runtime).
    pub fn defer(self: &Arc<Self>, pending: PendingExchange) {
        let first = {
            let mut queue = self.lock();
            queue.push_back(pending);
            queue.len() == 1
        };
        if !first {
            return;
        }
        if DRAIN_AFTER_POLL.get() {
            // The connection being polled on this thread finishes it as soon
            // as that poll returns: no task, no wake-up of another thread.
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let finisher = self.clone();
                runtime.spawn(async move { finisher.drain() });
            }
            Err(_) => self.drain(),
        }
    }

    /// Finishes every queued exchange, oldest first.
    pub fn drain(&self) {
        loop {
            // Taken under the lock, finished outside it.
            let Some(mut next) = self.lock().pop_front() else {
                return;
            };
            next.finish(None);
        }
    }
}

thread_local! {
    /// Set while [`DrainAfterPoll`] polls a client connection on this thread.
    static DRAIN_AFTER_POLL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A client connection's future that, each time it has been polled (its
/// responses written as far as the socket takes them), finishes the
/// exchanges completed meanwhile — on the connection's own thread, instead
/// of a task spawned per response. HTTP/2 streams, which hyper runs as tasks
/// of their own, and resends fall back to [`Finisher::defer`]'s task.
pub struct DrainAfterPoll<'a, F> {
    connection: F,
    finisher: &'a Finisher,
}

impl<'a, F: std::future::Future + Unpin> DrainAfterPoll<'a, F> {
    pub fn new(finisher: &'a Finisher, connection: F) -> Self {
        Self {
            connection,
            finisher,
        }
    }
}

impl<F: std::future::Future + Unpin> std::future::Future for DrainAfterPoll<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        /// Puts the flag back even if the connection's poll unwinds.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                DRAIN_AFTER_POLL.set(self.0);
            }
        }
        let polled = {
            let _restore = Restore(DRAIN_AFTER_POLL.replace(true));
            Pin::new(&mut self.connection).poll(cx)
        };
        self.finisher.drain();
        polled
    }
}

/// Streams a response body to the client while copying its first bytes
/// into the pending exchange; completes the exchange when the body ends,
/// logs it failed when the body fails, or cut short when it is dropped
/// half-way (the client went away).
pub struct RecordingBody<B> {
    inner: B,
    pending: PendingExchange,
    limit: usize,
    /// The body's whole length, when the answer gave it (the capture's plan).
    length: Option<u64>,
    finisher: Arc<Finisher>,
}

impl<B: Body<Data = Bytes> + Unpin> RecordingBody<B> {
    pub fn new(
        inner: B,
        mut pending: PendingExchange,
        limit: usize,
        finisher: Arc<Finisher>,
    ) -> Self {
        pending.set_abandon_reason(
            "the client closed the connection before the whole response was sent",
        );
        if inner.is_end_stream() {
            pending.complete(&finisher);
        }
        RecordingBody {
            length: inner.size_hint().exact(),
            inner,
            pending,
            limit,
            finisher,
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
                    this.pending
                        .push_response_body(data, this.limit, this.length);
                }
                if this.inner.is_end_stream() {
                    this.pending.complete(&this.finisher);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                this.pending.finish(Some(ExchangeError::new(
                    ErrorKind::UpstreamBodyFailed,
                    format!("the upstream connection failed while sending the response body: {e}"),
                )));
            }
            Poll::Ready(None) => this.pending.complete(&this.finisher),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body as Captured, Headers};
    use crate::log::{Record, Sink};
    use http_body_util::{BodyExt, Full};

    /// A sink that keeps every exchange it is given.
    struct Kept(Arc<Mutex<Vec<Exchange>>>);

    impl Sink for Kept {
        fn name(&self) -> String {
            "kept".into()
        }
        fn record(&mut self, record: &Record<'_>) -> std::io::Result<()> {
            let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
            kept.push(record.exchange.clone());
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn answered(log: &LogHandle) -> PendingExchange {
        let request = Request {
            method: "GET".into(),
            url: "https://api.trakt.tv/movies/trending".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Captured::default(),
        };
        let inspector = Arc::new(Inspector::new());
        let now = OffsetDateTime::now_utc();
        let mut pending = PendingExchange::start(
            log.clone(),
            inspector.clone(),
            inspector.begin(now),
            now,
            Instant::now(),
            request,
            Arc::new(AtomicBool::new(false)),
        );
        pending.set_response(Response {
            status: 200,
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Captured::default(),
        });
        pending
    }

    /// Runs `exercise` with a log whose records it returns once written.
    fn logged(exercise: impl FnOnce(&LogHandle)) -> Vec<Exchange> {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (log, writer) = crate::log::spawn(vec![Box::new(Kept(kept.clone()))], None);
        exercise(&log);
        drop(log);
        writer.finish();
        let records = kept.lock().unwrap().clone();
        records
    }

    #[test]
    fn a_completed_exchange_dropped_before_its_turn_is_logged_once_as_complete() {
        let records = logged(|log| {
            let finisher = Arc::new(Finisher::default());
            // Queued without a drain, as when the runtime stops before the finisher's turn.
            let mut pending = answered(log);
            pending.state.as_mut().unwrap().completed = Some(Instant::now());
            finisher.lock().push_back(pending);
            drop(finisher);
        });
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].error, None,
            "a complete exchange is not an abandoned one"
        );
        assert_eq!(records[0].response.as_ref().map(|r| r.status), Some(200));
    }

    #[test]
    fn an_exchange_dropped_before_completing_is_still_logged_as_cut_short() {
        let records = logged(|log| drop(answered(log)));
        assert_eq!(records.len(), 1);
        assert!(records[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("client closed")));
    }

    #[test]
    fn a_lint_left_for_the_finish_gives_the_findings_an_inline_lint_gives_in_order() {
        // Missing version and key headers, a generic agent: lint findings to compare.
        let request = Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/scrobble/start".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[("user-agent", "python-requests/2.32")]),
            body: Captured::complete(Bytes::from_static(b"{\"progress\": 10}")),
        };
        let at = OffsetDateTime::now_utc();
        let inspector = Inspector::new();
        let inline: Vec<_> = inspector
            .begin(at)
            .prepare(&inspector, &request, &FixPolicy::Off)
            .0
            .findings
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert!(inline.len() >= 2, "{inline:?}");
        let records = logged(|log| {
            let inspector = Arc::new(Inspector::new());
            let mut pending = PendingExchange::start(
                log.clone(),
                inspector.clone(),
                inspector.begin(at),
                at,
                Instant::now(),
                request.clone(),
                Arc::new(AtomicBool::new(false)),
            );
            pending.check_session(|_| {});
            pending.finish(None);
        });
        let deferred: Vec<_> = records[0].findings.iter().map(|f| f.rule.clone()).collect();
        assert_eq!(
            deferred.get(..inline.len()),
            Some(&inline[..]),
            "{deferred:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_relayed_body_is_finished_after_the_relay_and_logged_once() {
        let finisher = Arc::new(Finisher::default());
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (log, writer) = crate::log::spawn(vec![Box::new(Kept(kept.clone()))], None);
        let body = RecordingBody::new(
            Full::new(Bytes::from_static(b"[]")),
            answered(&log),
            1024,
            finisher.clone(),
        );
        let relayed = body.collect().await.unwrap().to_bytes();
        assert_eq!(&relayed[..], b"[]");
        // The finishing waits for the relaying task to yield; the next
        // request's inspection would drain it first, as this does (the
        // drain task may hold it already: then it is finished there).
        finisher.drain();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while kept.lock().unwrap().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(finisher.lock().is_empty());
        drop(log);
        writer.finish();
        let records = kept.lock().unwrap().clone();
        assert_eq!(records.len(), 1, "logged exactly once");
        assert_eq!(records[0].error, None);
        let body = &records[0].response.as_ref().unwrap().body;
        assert_eq!((&body.bytes[..], body.size), (&b"[]"[..], 2));
    }
}
