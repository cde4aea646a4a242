//! Output written from a thread of its own, so a stalled reader (a paused
//! terminal, a Windows console in selection mode, a pipe nobody reads)
//! stalls only this output and never the log writer or the other sinks.
//!
//! What the owner writes is gathered until [`Write::flush`] and then handed
//! to the thread. At most [`DETACHED_LIMIT`] bytes may wait; beyond that the
//! text is dropped, its lines counted and warned about (first, then every
//! 1,000th) and the count is reported at shutdown. On drop, what is queued
//! gets a few seconds to be written; a reader that is still stalled then
//! loses it rather than keeping the program from exiting.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

/// Bytes of output that may wait for a stalled reader.
pub const DETACHED_LIMIT: usize = 1024 * 1024;

/// How long a drop waits for queued output to be written.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

pub struct DetachedWriter {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    /// Signalled by the thread when it has written everything and stopped.
    done: mpsc::Receiver<()>,
    gathered: Vec<u8>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    dropped_lines: Arc<AtomicU64>,
    what: &'static str,
}

impl DetachedWriter {
    /// Writes to `out` from a new thread; `what` names it in warnings
    /// ("the terminal"). Returns the writer and its count of dropped lines.
    pub fn spawn<W: Write + Send + 'static>(
        out: W,
        what: &'static str,
        limit: usize,
    ) -> io::Result<(Self, Arc<AtomicU64>)> {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let (done_tx, done) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let pending = queued.clone();
        thread::Builder::new()
            .name("trakt-doctor-output".into())
            .spawn(move || {
                let mut out = out;
                for chunk in rx {
                    // A reader that is gone (closed pipe) drops output, like a stalled one.
                    let _ = out.write_all(&chunk).and_then(|()| out.flush());
                    pending.fetch_sub(chunk.len(), Ordering::Relaxed);
                }
                let _ = done_tx.send(());
            })?;
        let dropped_lines = Arc::new(AtomicU64::new(0));
        Ok((
            DetachedWriter {
                tx: Some(tx),
                done,
                gathered: Vec::new(),
                queued,
                limit,
                dropped_lines: dropped_lines.clone(),
                what,
            },
            dropped_lines,
        ))
    }

    fn drop_chunk(&self, chunk: &[u8]) {
        let lines = chunk.iter().filter(|&&b| b == b'\n').count().max(1) as u64;
        let before = self.dropped_lines.fetch_add(lines, Ordering::Relaxed);
        let after = before + lines;
        // The first drop, then every thousandth line: a count, not a flood.
        if before == 0 || before / 1000 != after / 1000 {
            eprintln!(
                "trakt-doctor: {} is not reading its output (paused or stalled?); \
                 {after} line(s) not shown so far (the log files keep everything)",
                self.what
            );
        }
    }
}

impl Write for DetachedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.gathered.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Hands what was gathered to the thread, or drops it when too much waits.
    fn flush(&mut self) -> io::Result<()> {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.gathered);
        let waiting = self.queued.load(Ordering::Relaxed);
        // One chunk always goes through when nothing waits, however large.
        if waiting > 0 && waiting + chunk.len() > self.limit {
            self.drop_chunk(&chunk);
            return Ok(());
        }
        self.queued.fetch_add(chunk.len(), Ordering::Relaxed);
        let len = chunk.len();
        match self.tx.as_ref().map(|tx| tx.send(chunk)) {
            Some(Ok(())) => {}
            Some(Err(mpsc::SendError(chunk))) => {
                self.queued.fetch_sub(len, Ordering::Relaxed);
                self.drop_chunk(&chunk);
            }
            None => {}
        }
        Ok(())
    }
}

impl Drop for DetachedWriter {
    fn drop(&mut self) {
        let _ = self.flush();
        drop(self.tx.take());
        if self.done.recv_timeout(DRAIN_WAIT).is_err() {
            let waiting = self.queued.load(Ordering::Relaxed);
            if waiting > 0 {
                eprintln!(
                    "trakt-doctor: {} is still not reading its output; {waiting} byte(s) of it \
                     were not shown",
                    self.what
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// An output that blocks every write until opened, keeping what it got.
    #[derive(Clone, Default)]
    struct Gate {
        open: Arc<(Mutex<bool>, Condvar)>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (lock, cvar) = &*self.open;
            let mut open = lock.lock().unwrap_or_else(|p| p.into_inner());
            while !*open {
                open = cvar.wait(open).unwrap_or_else(|p| p.into_inner());
            }
            self.got
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_reader_costs_dropped_lines_not_a_blocked_writer() {
        let gate = Gate::default();
        let (mut out, dropped) =
            DetachedWriter::spawn(gate.clone(), "the test output", 100).unwrap();
        let started = std::time::Instant::now();
        for i in 0..50 {
            writeln!(out, "line {i:03} of the report").unwrap();
            out.flush().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "writes must not block"
        );
        // The first chunk went to the stalled thread, a few more wait, the rest were dropped.
        let lost = dropped.load(Ordering::Relaxed);
        assert!((40..50).contains(&lost), "dropped {lost}");
        {
            let (lock, cvar) = &*gate.open;
            *lock.lock().unwrap() = true;
            cvar.notify_all();
        }
        drop(out);
        let got = String::from_utf8(gate.got.lock().unwrap().clone()).unwrap();
        assert_eq!(got.lines().count() as u64 + lost, 50);
        assert!(got.starts_with("line 000"));
    }

    #[test]
    fn everything_is_written_when_the_reader_keeps_up() {
        let gate = Gate::default();
        *gate.open.0.lock().unwrap() = true;
        let (mut out, dropped) =
            DetachedWriter::spawn(gate.clone(), "the test output", DETACHED_LIMIT).unwrap();
        for i in 0..2_000 {
            writeln!(out, "line {i}").unwrap();
            out.flush().unwrap();
        }
        drop(out);
        assert_eq!(dropped.load(Ordering::Relaxed), 0);
        assert_eq!(
            gate.got
                .lock()
                .unwrap()
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            2_000
        );
    }
}
