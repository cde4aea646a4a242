//! Log sinks and the writer thread that feeds them.
//!
//! The proxy hands each finished [`Exchange`] to a [`LogHandle`], which
//! never blocks: records go through a bounded queue ([`QUEUE_CAPACITY`]) to
//! one writer thread. That thread redacts secrets once (unless
//! `--show-secrets`) and passes the record to every sink in order. On
//! shutdown it drains the queue, flushes every sink and reports how many
//! records it wrote.
//!
//! The queue is bounded twice: by count ([`QUEUE_CAPACITY`] records, counted
//! rather than preallocated: a channel with that many slots made up front
//! held 1.5 MiB from the start) and by
//! size (`--log-queue-limit`, [`QUEUE_BYTES`] by default, measured as the
//! records' estimated JSON size), since one record can hold two 1 MiB bodies.
//! Should the writer fall that far behind (a stalled disk), new records are
//! dropped rather than slowing the proxy or growing without bound; each drop
//! is counted, warned about, and reported at shutdown. The writer keeps up
//! with well over the proxy's own rate, so in practice nothing is dropped.
//! The terminal writes from a thread of its own ([`detached`]), so a paused
//! terminal never holds up the log files.
//!
//! Under load the writer works in batches: it takes every record already
//! queued, lets the sinks write them out together, then pauses a moment so
//! the next batch can gather. Waking a sleeping thread for each record cost
//! the proxy more CPU than writing the record. A lone record is written at
//! once, and after it the writer waits in the queue rather than in a pause:
//! a quiet proxy's records then go out one by one, each a short piece of
//! work, instead of gathering into a burst that takes a core from the
//! proxy's next request on a machine with few of them.
//!
//! While records with large bodies keep coming, the writer keeps their
//! buffers (the body's, the record text's, the web view's compression
//! output) for the next one, and lets go of them once idle ([`spare`]).

pub mod detached;
pub mod har;
pub mod jsonl;
pub mod spare;
// Reading recorded files is pure: it lives in the core (the browser page reads them too).
pub use trakt_doctor_core::read;
pub mod terminal;

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::exchange::Exchange;
use crate::proxy::stages::{Clock, Stage};
use crate::redact::Redactor;
use spare::SpareBodies;

/// A destination for finished exchanges.
pub trait Sink: Send {
    /// A short name for error messages ("JSON Lines log app.jsonl").
    fn name(&self) -> String;
    /// Takes one record; the sink may hold it in a buffer until [`Sink::end_batch`].
    fn record(&mut self, record: &Record<'_>) -> std::io::Result<()>;
    /// Makes the records taken so far visible (written out, not yet synced).
    fn end_batch(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// At shutdown: writes everything out and makes it durable.
    fn flush(&mut self) -> std::io::Result<()>;
    /// The writer has had nothing to do for a while: let go of any buffer
    /// kept for reuse.
    fn idle(&mut self) {}
}

/// A finished exchange on its way to the sinks, with its JSON form made
/// on first use and shared: the JSON Lines log and the web view store the
/// same text, so it is serialised once.
pub struct Record<'a> {
    pub exchange: &'a Exchange,
    json: OnceCell<Arc<String>>,
    /// About how long the JSON will be: its buffer is sized once, not regrown.
    size_hint: usize,
    /// A buffer kept from an earlier large record, for this one's JSON.
    spare: std::cell::Cell<Option<Vec<u8>>>,
}

impl<'a> Record<'a> {
    pub fn new(exchange: &'a Exchange) -> Self {
        Record::with_size_hint(exchange, 0)
    }

    /// A record whose JSON is expected to be about `size_hint` bytes.
    pub fn with_size_hint(exchange: &'a Exchange, size_hint: usize) -> Self {
        Record {
            exchange,
            json: OnceCell::new(),
            size_hint,
            spare: std::cell::Cell::new(None),
        }
    }

    /// A record whose JSON, if large, is written into `spare` (a buffer an
    /// earlier large record gave back: see [`Record::into_spare`]).
    fn reusing(exchange: &'a Exchange, size_hint: usize, spare: Option<Vec<u8>>) -> Self {
        let record = Record::with_size_hint(exchange, size_hint);
        record.spare.set(spare);
        record
    }

    /// The buffer of a large record's JSON once no sink holds it any more
    /// (the web view keeps large records compressed), else the spare it
    /// was given and did not use.
    fn into_spare(self) -> Option<Vec<u8>> {
        match self.json.into_inner() {
            Some(json) if json.len() >= spare::LARGE => {
                Arc::try_unwrap(json).ok().map(String::into_bytes)
            }
            _ => self.spare.take(),
        }
    }

    /// The exchange as one line of JSON (the JSONL record).
    pub fn json(&self) -> &str {
        self.shared_json()
    }

    /// The same text, for a sink that keeps it (no copy: records can hold a 1 MiB body).
    pub fn shared_json(&self) -> &Arc<String> {
        self.json.get_or_init(|| {
            // Serialising our own types cannot fail (string keys, finite
            // numbers), and serde_json writes UTF-8.
            // The same bytes as serde_json's, with the bodies escaped faster.
            let mut buffer = match self.spare.take() {
                Some(mut spare) if self.size_hint >= spare::LARGE => {
                    spare.clear();
                    spare.reserve(self.size_hint);
                    spare
                }
                unused => {
                    self.spare.set(unused);
                    Vec::with_capacity(self.size_hint.max(256))
                }
            };
            let _ = crate::exchange::json::write_exchange(&mut buffer, self.exchange);
            // Left as written, spare room and all: the web view trims what
            // it keeps as it is (most records it holds compressed), and a
            // large record's buffer serves the next one.
            Arc::new(String::from_utf8(buffer).unwrap_or_default())
        })
    }
}

/// Records written in one go before the sinks are asked to write them out.
const MAX_BATCH: usize = 512;

/// The pause after a batch of several records: the next ones gather
/// meanwhile, so a stream of requests wakes this thread (and the
/// terminal's) once a pause instead of once a record: fewer hand-offs
/// between threads on the cores the proxy shares. Far too short for a
/// person to notice.
const BATCH_PAUSE: Duration = Duration::from_millis(2);

/// The pause after a batch of `records`: none after a lone record (the
/// proxy is quiet, and a pause would only let records gather into a burst
/// of work that competes with its next request), [`BATCH_PAUSE`] after
/// several. Measured on 2 cores with one request at a time: trakt-doctor's
/// p99 latency went from 1.26x to 1.08x the minimal inspecting proxy's
/// (mean of nine alternating runs), CPU per request unchanged.
fn pause_after(records: usize) -> Option<Duration> {
    (records > 1).then_some(BATCH_PAUSE)
}

enum Message {
    /// A record and its estimated size, given back to the budget once written.
    Record(Box<Exchange>, usize),
    Stop,
}

/// Records that may wait for the writer before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Bytes of records (estimated JSON size) that may wait by default.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// About the size of an exchange's JSON record: its bodies (as base64 at
/// worst), header fields, URL and messages, plus the fixed fields.
fn estimated_size(ex: &Exchange) -> usize {
    let headers = |h: &crate::exchange::Headers| -> usize {
        h.iter().map(|(n, v)| n.len() + v.len() + 8).sum()
    };
    let body = |b: &crate::exchange::Body| b.bytes.len().saturating_mul(4) / 3;
    let mut size = 1024 + ex.request.url.len() + headers(&ex.request.headers);
    size = size.saturating_add(body(&ex.request.body));
    if let Some(response) = &ex.response {
        size = size
            .saturating_add(headers(&response.headers))
            .saturating_add(body(&response.body));
    }
    size.saturating_add(ex.error.as_ref().map_or(0, String::len))
        .saturating_add(ex.findings.len() * 256)
}

/// The proxy's side of the log: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LogHandle {
    tx: mpsc::Sender<Message>,
    next_id: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    /// Estimated bytes of the records waiting, and the most that may wait.
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    /// Records waiting, and the most that may wait.
    queued_records: Arc<AtomicUsize>,
    max_records: usize,
    /// Large body buffers the writer gives back for the next large body.
    spare: Arc<SpareBodies>,
}

impl LogHandle {
    /// Where the proxy takes a buffer for a large body it captures.
    pub fn spare_bodies(&self) -> &SpareBodies {
        &self.spare
    }

    /// The id for the next exchange (1, 2, 3, ... in the order they start).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Numbers the exchanges to come after `last` (the last id of a log
    /// this run appends to), so one log never holds an id twice.
    pub fn continue_after(&self, last: u64) {
        self.next_id
            .fetch_max(last.saturating_add(1), Ordering::Relaxed);
    }

    pub fn send(&self, exchange: Exchange) {
        let size = estimated_size(&exchange);
        let waiting = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        // A record larger than the whole budget still goes when nothing waits.
        if waiting > 0 && waiting.saturating_add(size) > self.max_bytes {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.count_drop();
            return;
        }
        if self.queued_records.fetch_add(1, Ordering::Relaxed) >= self.max_records {
            self.queued_records.fetch_sub(1, Ordering::Relaxed);
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.count_drop();
            return;
        }
        if self
            .tx
            .send(Message::Record(Box::new(exchange), size))
            .is_err()
        {
            self.queued_records.fetch_sub(1, Ordering::Relaxed);
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            // Only after shutdown; say so rather than lose it silently.
            eprintln!(
                "trakt-doctor: an exchange finished after the log was closed and was not written"
            );
        }
    }

    fn count_drop(&self) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // The first drop, then every thousandth: a count, not a flood.
        if dropped == 1 || dropped.is_multiple_of(1000) {
            eprintln!(
                "trakt-doctor: the log writer is {QUEUE_CAPACITY} records or {} MiB behind \
                 (is the disk stalled?); {dropped} record(s) dropped so far",
                self.max_bytes / (1024 * 1024)
            );
        }
    }

    /// Records dropped because the writer was too far behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Owns the writer thread; [`LogWriter::finish`] drains and joins it.
pub struct LogWriter {
    tx: mpsc::Sender<Message>,
    thread: thread::JoinHandle<WriterStats>,
    dropped: Arc<AtomicU64>,
}

/// What the writer did, reported at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub records: u64,
    pub sink_errors: u64,
    /// Records the proxy dropped because the writer was too far behind.
    pub dropped: u64,
}

/// Starts the writer thread with these sinks; with a redactor (all but
/// `--show-secrets`), every record is redacted before any sink sees it.
pub fn spawn(sinks: Vec<Box<dyn Sink>>, redact: Option<Redactor>) -> (LogHandle, LogWriter) {
    spawn_with_limits(sinks, redact, QUEUE_CAPACITY, QUEUE_BYTES)
}

/// Like [`spawn`], with at most `max_bytes` of records waiting (`--log-queue-limit`).
pub fn spawn_with_bytes(
    sinks: Vec<Box<dyn Sink>>,
    redact: Option<Redactor>,
    max_bytes: usize,
) -> (LogHandle, LogWriter) {
    spawn_with_limits(sinks, redact, QUEUE_CAPACITY, max_bytes)
}

fn spawn_with_limits(
    sinks: Vec<Box<dyn Sink>>,
    redact: Option<Redactor>,
    capacity: usize,
    max_bytes: usize,
) -> (LogHandle, LogWriter) {
    let (tx, rx) = mpsc::channel::<Message>();
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let queued_records = Arc::new(AtomicUsize::new(0));
    let spare = Arc::new(SpareBodies::default());
    let waiting = Waiting {
        bytes: queued_bytes.clone(),
        records: queued_records.clone(),
        spare: spare.clone(),
    };
    let thread = thread::Builder::new()
        .name("trakt-doctor-log".into())
        .spawn(move || run_writer(rx, sinks, redact, &waiting))
        .unwrap_or_else(|e| panic!("cannot start the log writer thread: {e}"));
    let dropped = Arc::new(AtomicU64::new(0));
    let handle = LogHandle {
        tx: tx.clone(),
        next_id: Arc::new(AtomicU64::new(1)),
        dropped: dropped.clone(),
        queued_bytes,
        max_bytes,
        queued_records,
        max_records: capacity,
        spare,
    };
    (
        handle,
        LogWriter {
            tx,
            thread,
            dropped,
        },
    )
}

impl LogWriter {
    /// Writes everything still queued, flushes the sinks and stops the thread.
    pub fn finish(self) -> WriterStats {
        let _ = self.tx.send(Message::Stop);
        let stats = self.thread.join().unwrap_or_default();
        WriterStats {
            dropped: self.dropped.load(Ordering::Relaxed),
            ..stats
        }
    }
}

/// The sinks, and which of them have already said they fail.
struct Sinks {
    sinks: Vec<Box<dyn Sink>>,
    failing: Vec<bool>,
}

impl Sinks {
    /// Runs `op` on every sink in order; a failure is counted in `stats`
    /// and told once per sink, not once per record.
    fn each(
        &mut self,
        stats: &mut WriterStats,
        what: &str,
        mut op: impl FnMut(&mut dyn Sink) -> std::io::Result<()>,
    ) {
        for (sink, failing) in self.sinks.iter_mut().zip(&mut self.failing) {
            if let Err(e) = op(sink.as_mut()) {
                stats.sink_errors += 1;
                if !*failing {
                    *failing = true;
                    eprintln!(
                        "trakt-doctor: cannot {what} {}: {e} (further errors from it are counted, not shown)",
                        sink.name()
                    );
                }
            }
        }
    }
}

/// What the writer gives back to the queue's bounds as it writes.
struct Waiting {
    bytes: Arc<AtomicUsize>,
    records: Arc<AtomicUsize>,
    /// Where written records' large body buffers go back to the proxy.
    spare: Arc<SpareBodies>,
}

fn run_writer(
    rx: mpsc::Receiver<Message>,
    sinks: Vec<Box<dyn Sink>>,
    redact: Option<Redactor>,
    waiting: &Waiting,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let failing = vec![false; sinks.len()];
    let mut sinks = Sinks { sinks, failing };
    let mut stopping = false;
    // The last large record's JSON buffer, for the next large one.
    let mut spare_json: Option<Vec<u8>> = None;
    // Whether buffers are kept for reuse (let go after a while with nothing to do).
    let mut holding = false;
    while !stopping {
        let first = if holding {
            match rx.recv_timeout(spare::IDLE) {
                Ok(message) => Ok(message),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    spare_json = None;
                    waiting.spare.clear();
                    for sink in &mut sinks.sinks {
                        sink.idle();
                    }
                    holding = false;
                    rx.recv()
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            rx.recv()
        };
        let Ok(first) = first else { break };
        let mut batch = 0;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Record(mut exchange, size) => {
                    let mut clock = Clock::start();
                    if let Some(redactor) = &redact {
                        redactor.exchange(&mut exchange);
                    }
                    clock.lap(Stage::Redact);
                    let record = Record::reusing(&exchange, size, spare_json.take());
                    sinks.each(&mut stats, "write to", |sink| sink.record(&record));
                    spare_json = record.into_spare();
                    clock.lap(Stage::Sinks);
                    if let Some(response) = exchange.response.take() {
                        waiting.spare.give(response.body.bytes);
                    }
                    holding |= size >= spare::LARGE;
                    drop(exchange);
                    waiting.bytes.fetch_sub(size, Ordering::Relaxed);
                    waiting.records.fetch_sub(1, Ordering::Relaxed);
                    stats.records += 1;
                    batch += 1;
                }
                Message::Stop => {
                    stopping = true;
                    break;
                }
            }
            if batch < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        sinks.each(&mut stats, "write to", |sink| sink.end_batch());
        if let Some(pause) = pause_after(batch).filter(|_| !stopping) {
            thread::sleep(pause);
        }
    }
    sinks.each(&mut stats, "flush", |sink| sink.flush());
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that holds the writer up until it is let go, counting what it gets.
    struct Stalled {
        gate: Arc<Mutex<()>>,
        seen: Arc<AtomicU64>,
    }

    impl Sink for Stalled {
        fn name(&self) -> String {
            "a stalled sink".into()
        }
        fn record(&mut self, _: &Record<'_>) -> std::io::Result<()> {
            drop(self.gate.lock().unwrap_or_else(|p| p.into_inner()));
            self.seen.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn exchange(id: u64) -> Exchange {
        serde_json::from_value(
            serde_json::json!({"id": id, "started_at": "2026-11-25T12:00:00Z",
            "duration_ms": 1.0, "request": {"method": "GET", "url": "https://api.trakt.tv/x"}}),
        )
        .unwrap()
    }

    #[test]
    fn a_writer_that_falls_behind_drops_and_counts_instead_of_blocking() {
        let gate = Arc::new(Mutex::new(()));
        let seen = Arc::new(AtomicU64::new(0));
        let held = gate.lock().unwrap();
        let sink = Stalled {
            gate: gate.clone(),
            seen: seen.clone(),
        };
        let (log, writer) = spawn_with_limits(vec![Box::new(sink)], None, 4, QUEUE_BYTES);
        let started = std::time::Instant::now();
        for id in 1..=20 {
            log.send(exchange(id));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "send must not block"
        );
        // At most the queue plus the one record the stalled sink holds got through.
        assert!(log.dropped() >= 15, "dropped {}", log.dropped());
        drop(held);
        let stats = writer.finish();
        assert_eq!(stats.dropped, log.dropped());
        assert_eq!(stats.records + stats.dropped, 20);
        assert_eq!(seen.load(Ordering::Relaxed), stats.records);
    }

    #[test]
    fn large_records_are_dropped_by_size_long_before_the_count_limit() {
        let gate = Arc::new(Mutex::new(()));
        let seen = Arc::new(AtomicU64::new(0));
        let held = gate.lock().unwrap();
        let sink = Stalled {
            gate: gate.clone(),
            seen: seen.clone(),
        };
        let (log, writer) = spawn_with_bytes(vec![Box::new(sink)], None, 1024 * 1024);
        for id in 1..=20 {
            let mut big = exchange(id);
            big.request.body = crate::exchange::Body::complete(vec![b'x'; 256 * 1024].into());
            log.send(big);
        }
        // 1 MiB holds three of these 256 KiB bodies (as JSON), one more is with the sink.
        let dropped = log.dropped();
        assert!(dropped >= 15, "dropped {dropped}");
        drop(held);
        // Once written, records give their bytes back: the queue takes big records again.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while seen.load(Ordering::Relaxed) < 20 - dropped {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never caught up"
            );
            thread::sleep(Duration::from_millis(5));
        }
        let mut big = exchange(21);
        big.request.body = crate::exchange::Body::complete(vec![b'x'; 256 * 1024].into());
        log.send(big);
        assert_eq!(log.dropped(), dropped);
        let stats = writer.finish();
        assert_eq!(stats.records + stats.dropped, 21);
    }

    /// A sink that notes where each record's JSON lies, and when it is told the writer is idle.
    struct Addresses {
        seen: Arc<Mutex<Vec<usize>>>,
        idle: Arc<AtomicU64>,
    }

    impl Sink for Addresses {
        fn name(&self) -> String {
            "addresses".into()
        }
        fn record(&mut self, record: &Record<'_>) -> std::io::Result<()> {
            let address = record.shared_json().as_ptr() as usize;
            self.seen.lock().unwrap().push(address);
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn idle(&mut self) {
            self.idle.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn large_records_reuse_their_buffers_until_the_writer_is_idle() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let idle = Arc::new(AtomicU64::new(0));
        let sink = Addresses {
            seen: seen.clone(),
            idle: idle.clone(),
        };
        let (log, writer) = spawn(vec![Box::new(sink)], None);
        let written = |n: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while seen.lock().unwrap().len() < n {
                assert!(std::time::Instant::now() < deadline, "not written");
                thread::sleep(Duration::from_millis(1));
            }
        };
        let large = |id: u64| {
            let request = exchange(id).request;
            let mut answered = crate::exchange::testing::answered(request, "");
            if let Some(response) = answered.response.as_mut() {
                response.body = crate::exchange::Body::complete(vec![b'x'; 256 * 1024].into());
            }
            answered
        };
        log.send(large(1));
        written(1);
        // The body's buffer is back for the proxy's next large capture.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while log.spare_bodies().held() < 256 * 1024 {
            assert!(std::time::Instant::now() < deadline, "never given back");
            thread::sleep(Duration::from_millis(1));
        }
        log.send(large(2));
        written(2);
        let addresses = seen.lock().unwrap().clone();
        assert_eq!(
            addresses[0], addresses[1],
            "the second record's JSON reused the first's buffer"
        );
        // Idle for a while: everything kept is let go, the sinks are told.
        thread::sleep(spare::IDLE * 3);
        assert_eq!(log.spare_bodies().held(), 0);
        assert_eq!(idle.load(Ordering::Relaxed), 1);
        writer.finish();
    }

    #[test]
    fn a_lone_record_is_followed_by_no_pause_a_batch_by_one() {
        assert_eq!(pause_after(0), None);
        assert_eq!(pause_after(1), None);
        assert_eq!(pause_after(2), Some(BATCH_PAUSE));
        assert_eq!(pause_after(MAX_BATCH), Some(BATCH_PAUSE));
    }

    #[test]
    fn every_record_is_written_when_the_writer_keeps_up() {
        let seen = Arc::new(AtomicU64::new(0));
        let sink = Stalled {
            gate: Arc::new(Mutex::new(())),
            seen: seen.clone(),
        };
        let (log, writer) = spawn(vec![Box::new(sink)], Some(Redactor::random()));
        for id in 1..=5_000 {
            log.send(exchange(id));
        }
        let stats = writer.finish();
        assert_eq!((stats.records, stats.dropped), (5_000, 0));
        assert_eq!(seen.load(Ordering::Relaxed), 5_000);
    }
}
