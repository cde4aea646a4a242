//! The instruments of a `bench-stages` build (see the parent module).
//!
//! Per-stage timings of the request path, for the benchmark's `--stages`
//! table: where an exchange's wall time goes inside the proxy. Off unless the
//! environment variable [`ENV`] names a file when the proxy starts. Off, a
//! stage mark is one relaxed load of a flag and a branch. On, each stage's duration is kept
//! (bounded, [`MAX_SAMPLES`] per stage) and, when the proxy stops, every
//! stage's median and 99th percentile are written to that file as one JSON
//! object. Timings are wall time on the proxy's clock, so they include
//! waiting for a CPU on a busy machine.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::Stage;
use crate::inspect::Inspector;
use crate::respond::ProxyBody;

/// The environment variable that turns the timers on: the file to write them to.
pub const ENV: &str = "TRAKT_DOCTOR_STAGES";

/// Samples kept per stage; later ones are not recorded.
const MAX_SAMPLES: usize = 1 << 20;

impl Stage {
    pub const ALL: [Stage; 17] = [
        Stage::Accept,
        Stage::Tls,
        Stage::Head,
        Stage::Start,
        Stage::Capture,
        Stage::Prepare,
        Stage::UpstreamSend,
        Stage::UpstreamFirstByte,
        Stage::ResponseHead,
        Stage::BodyRelay,
        Stage::OnPath,
        Stage::Queued,
        Stage::Finish,
        Stage::Handoff,
        Stage::Total,
        Stage::Redact,
        Stage::Sinks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Accept => "accept + CONNECT",
            Stage::Tls => "TLS handshake",
            Stage::Head => "request head parse",
            Stage::Start => "record opened (URL, headers)",
            Stage::Capture => "request body capture",
            Stage::Prepare => "session check (+ lint, fix if fixing)",
            Stage::UpstreamSend => "upstream send",
            Stage::UpstreamFirstByte => "upstream first byte",
            Stage::ResponseHead => "response head inspect",
            Stage::BodyRelay => "response body relay",
            Stage::OnPath => "= on the request's path",
            Stage::Queued => "after: finish queued",
            Stage::Finish => "after: lint, checks, diagnosis, session",
            Stage::Handoff => "after: log queue hand-off",
            Stage::Total => "total, head read to record queued",
            Stage::Redact => "writer: redaction",
            Stage::Sinks => "writer: serialisation + sinks",
        }
    }

    /// The stage's name in the JSON summary.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Accept => "accept",
            Stage::Tls => "tls",
            Stage::Head => "head",
            Stage::Start => "start",
            Stage::Capture => "capture",
            Stage::Prepare => "prepare",
            Stage::UpstreamSend => "upstream_send",
            Stage::UpstreamFirstByte => "upstream_first_byte",
            Stage::ResponseHead => "response_head",
            Stage::BodyRelay => "body_relay",
            Stage::OnPath => "on_path",
            Stage::Queued => "queued",
            Stage::Finish => "finish",
            Stage::Handoff => "handoff",
            Stage::Total => "total",
            Stage::Redact => "redact",
            Stage::Sinks => "sinks",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

struct Recorder {
    path: std::path::PathBuf,
    samples: Vec<Mutex<Vec<u32>>>,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();

/// Reads [`ENV`] once, at the proxy's start.
pub fn init_from_env() {
    let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) else {
        return;
    };
    let recorder = RECORDER.get_or_init(|| Recorder {
        path: path.into(),
        samples: Stage::ALL.iter().map(|_| Mutex::default()).collect(),
    });
    ENABLED.store(!recorder.samples.is_empty(), Ordering::Relaxed);
}

/// Whether the timers are on.
#[inline]
fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Records one duration of `stage` (nothing when the timers are off).
fn record(stage: Stage, took: Duration) {
    if !enabled() {
        return;
    }
    let Some(recorder) = RECORDER.get() else {
        return;
    };
    let index = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
    if let Some(samples) = recorder.samples.get(index) {
        let mut samples = samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() < MAX_SAMPLES {
            samples.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
        }
    }
}

/// A stopwatch over consecutive stages: each [`lap`](Clock::lap) records
/// the time since the previous one. Empty (and free) when the timers are off.
#[derive(Debug, Default, Clone, Copy)]
pub struct Clock {
    times: Option<(Instant, Instant)>,
}

impl Clock {
    /// Starts now (when the timers are on).
    #[inline]
    pub fn start() -> Clock {
        Clock::since(None)
    }

    /// Starts when this thread's connection last read bytes (the request
    /// head the handler is about to get), else now.
    #[inline]
    pub fn from_last_read() -> Clock {
        Clock::since(take_last_read())
    }

    /// Starts at `at` if given (an earlier instant), else now.
    #[inline]
    fn since(at: Option<Instant>) -> Clock {
        if !enabled() {
            return Clock { times: None };
        }
        let at = at.unwrap_or_else(Instant::now);
        Clock {
            times: Some((at, at)),
        }
    }

    /// Records the time since the last lap as `stage`.
    #[inline]
    pub fn lap(&mut self, stage: Stage) {
        if let Some((_, last)) = self.times.as_mut() {
            let now = Instant::now();
            record(stage, now.duration_since(*last));
            *last = now;
        }
    }

    /// Like [`lap`](Clock::lap), splitting the time since the last lap where
    /// `split` was set (when that lies between): before it is `first`, after it `second`.
    pub fn lap_split(&mut self, split: Stamp, first: Stage, second: Stage) {
        let Some((_, last)) = self.times.as_mut() else {
            return;
        };
        let now = Instant::now();
        match split.get().filter(|s| *s >= *last && *s <= now) {
            Some(split) => {
                record(first, split.duration_since(*last));
                record(second, now.duration_since(split));
            }
            None => record(second, now.duration_since(*last)),
        }
        *last = now;
    }

    /// Records the time since the clock started as `stage`.
    pub fn total(&self, stage: Stage) {
        if let Some((started, _)) = self.times {
            record(stage, started.elapsed());
        }
    }
}

/// Where a body's last frame was taken, when the timers are on: marks the
/// end of writing a request upstream.
#[derive(Debug, Clone, Default)]
pub struct Stamp(Option<Arc<OnceLock<Instant>>>);

impl Stamp {
    fn new() -> Stamp {
        Stamp(enabled().then(Arc::default))
    }

    fn set(&self) {
        if let Some(cell) = &self.0 {
            let _ = cell.set(Instant::now());
        }
    }

    fn get(&self) -> Option<Instant> {
        self.0.as_ref().and_then(|c| c.get().copied())
    }
}

/// A stamp set when `body`'s last frame is taken (the end of "upstream
/// send"); with the timers on, `body` is wrapped to set it.
pub fn stamp_end(body: &mut ProxyBody) -> Stamp {
    let stamp = Stamp::new();
    if stamp.0.is_some() {
        let inner = std::mem::replace(body, crate::respond::empty());
        *body = StampOnEnd {
            inner,
            stamp: stamp.clone(),
        }
        .boxed_unsync();
    }
    stamp
}

/// A body that stamps when its last frame is taken.
struct StampOnEnd<B> {
    inner: B,
    stamp: Stamp,
}

impl<B> Body for StampOnEnd<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.stamp.set();
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

std::thread_local! {
    /// When the connection being served on this thread last read bytes:
    /// the start of the request head that the handler is about to get.
    static LAST_READ: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Notes that a client connection just read bytes (timers on only).
#[inline]
pub fn note_read() {
    if enabled() {
        LAST_READ.with(|c| c.set(Some(Instant::now())));
    }
}

/// The last read on this thread, taken (timers on only).
fn take_last_read() -> Option<Instant> {
    if !enabled() {
        return None;
    }
    LAST_READ.with(|c| c.take())
}

/// The environment variable that runs the proxy without its checks, to
/// measure what they cost (the benchmark's `unchecked` route). Any
/// non-empty value turns them off; the proxy warns at start.
pub const NO_CHECKS_ENV: &str = "TRAKT_DOCTOR_BENCH_NO_CHECKS";

/// `inspector`, or the same with every check off when [`NO_CHECKS_ENV`] is set.
pub fn checks_switch(inspector: Inspector) -> Inspector {
    if std::env::var_os(NO_CHECKS_ENV).is_none_or(|v| v.is_empty()) {
        return inspector;
    }
    tracing::warn!(
        "{NO_CHECKS_ENV} is set: requests are forwarded and logged without any check \
         (no lint, fix, session, contract check or diagnosis); it exists for the benchmark"
    );
    inspector.without_checks()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted
        .get(index)
        .map_or(f64::NAN, |n| f64::from(*n) / 1000.0)
}

/// The stages' medians and 99th percentiles in µs, with their counts, as JSON.
pub fn summary() -> Option<serde_json::Value> {
    let recorder = RECORDER.get()?;
    let mut stages = Vec::new();
    for (stage, samples) in Stage::ALL.iter().zip(&recorder.samples) {
        let mut samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
        samples.sort_unstable();
        stages.push(serde_json::json!({
            "stage": stage.key(),
            "name": stage.name(),
            "count": samples.len(),
            "p50_us": percentile(&samples, 0.5),
            "p99_us": percentile(&samples, 0.99),
        }));
    }
    Some(serde_json::json!({ "stages": stages }))
}

/// Writes the summary to [`ENV`]'s file (when the timers are on).
pub fn write_summary() {
    let (Some(recorder), Some(summary)) = (RECORDER.get(), summary()) else {
        return;
    };
    if let Err(e) = std::fs::write(&recorder.path, summary.to_string()) {
        tracing::warn!(
            "cannot write the stage timings to {}: {e}",
            recorder.path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_is_empty_and_records_nothing_when_the_timers_are_off() {
        // The timers are only ever turned on by the environment variable, which tests never set.
        assert!(!enabled());
        let mut clock = Clock::start();
        assert!(clock.times.is_none());
        clock.lap(Stage::Capture);
        assert!(Stamp::new().0.is_none());
        assert!(take_last_read().is_none());
        assert!(summary().is_none());
    }

    #[test]
    fn percentiles_read_nanoseconds_as_microseconds() {
        let sorted = [1_000, 2_000, 3_000];
        assert_eq!(percentile(&sorted, 0.5), 2.0);
        assert_eq!(percentile(&sorted, 0.99), 3.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
