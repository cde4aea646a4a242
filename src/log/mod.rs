//! Log sinks and the writer thread that feeds them.
//!
//! The proxy hands each finished [`Exchange`] to a [`LogHandle`], which
//! never blocks: records go through an unbounded channel to one writer
//! thread. That thread redacts secrets once (unless `--show-secrets`) and
//! passes the record to every sink in order. On shutdown the thread drains
//! the channel, flushes every sink and reports how many records it wrote.

pub mod har;
pub mod jsonl;
pub mod read;
pub mod terminal;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use crate::exchange::Exchange;

/// A destination for finished exchanges.
pub trait Sink: Send {
    /// A short name for error messages ("JSON Lines log app.jsonl").
    fn name(&self) -> String;
    fn record(&mut self, exchange: &Exchange) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;
}

enum Message {
    Record(Box<Exchange>),
    Stop,
}

/// The proxy's side of the log: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LogHandle {
    tx: mpsc::Sender<Message>,
    next_id: Arc<AtomicU64>,
}

impl LogHandle {
    /// The id for the next exchange (1, 2, 3, ... in the order they start).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn send(&self, exchange: Exchange) {
        if self.tx.send(Message::Record(Box::new(exchange))).is_err() {
            // Only after shutdown; say so rather than lose it silently.
            eprintln!(
                "trakt-doctor: an exchange finished after the log was closed and was not written"
            );
        }
    }
}

/// Owns the writer thread; [`LogWriter::finish`] drains and joins it.
pub struct LogWriter {
    tx: mpsc::Sender<Message>,
    thread: thread::JoinHandle<WriterStats>,
}

/// What the writer did, reported at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub records: u64,
    pub sink_errors: u64,
}

/// Starts the writer thread with these sinks.
pub fn spawn(sinks: Vec<Box<dyn Sink>>, redact: bool) -> (LogHandle, LogWriter) {
    let (tx, rx) = mpsc::channel::<Message>();
    let thread = thread::Builder::new()
        .name("trakt-doctor-log".into())
        .spawn(move || run_writer(rx, sinks, redact))
        .unwrap_or_else(|e| panic!("cannot start the log writer thread: {e}"));
    let handle = LogHandle {
        tx: tx.clone(),
        next_id: Arc::new(AtomicU64::new(1)),
    };
    (handle, LogWriter { tx, thread })
}

impl LogWriter {
    /// Writes everything still queued, flushes the sinks and stops the thread.
    pub fn finish(self) -> WriterStats {
        let _ = self.tx.send(Message::Stop);
        self.thread.join().unwrap_or_default()
    }
}

fn run_writer(
    rx: mpsc::Receiver<Message>,
    mut sinks: Vec<Box<dyn Sink>>,
    redact: bool,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let mut failing = vec![false; sinks.len()];
    let mut report = |stats: &mut WriterStats,
                      index: usize,
                      name: String,
                      what: &str,
                      e: std::io::Error| {
        stats.sink_errors += 1;
        // One line per failing sink, not one per record.
        if !failing[index] {
            failing[index] = true;
            eprintln!("trakt-doctor: cannot {what} {name}: {e} (further errors from it are counted, not shown)");
        }
    };
    for message in rx {
        match message {
            Message::Record(mut exchange) => {
                if redact {
                    crate::redact::exchange(&mut exchange);
                }
                for (i, sink) in sinks.iter_mut().enumerate() {
                    if let Err(e) = sink.record(&exchange) {
                        report(&mut stats, i, sink.name(), "write to", e);
                    }
                }
                stats.records += 1;
            }
            Message::Stop => break,
        }
    }
    for (i, sink) in sinks.iter_mut().enumerate() {
        if let Err(e) = sink.flush() {
            report(&mut stats, i, sink.name(), "flush", e);
        }
    }
    stats
}
