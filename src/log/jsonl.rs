//! The JSON Lines sink: one [`Exchange`](crate::exchange::Exchange) object per line, appended to a file.
//! Each batch of records is written out as soon as the writer has it, so
//! `tail -f` shows it at once and a crash loses nothing that was logged.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Record, Sink};

pub struct JsonlSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlSink {
    /// Opens (or creates) `path` for appending.
    /// The largest exchange id among the last records of the log at `path`
    /// (none for a new or empty file): a run appending to it numbers its
    /// exchanges after it, so ids stay unique across runs of one log. Only
    /// the file's tail is read (records are written about in id order).
    pub fn last_id(path: &Path) -> io::Result<Option<u64>> {
        use std::io::{Read, Seek, SeekFrom};
        const TAIL: u64 = 4 * 1024 * 1024;
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let length = file.metadata()?.len();
        let start = length.saturating_sub(TAIL);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.take(TAIL).read_to_end(&mut tail)?;
        Ok(tail
            .split(|b| *b == b'\n')
            // The first piece may be a line's end when the tail starts mid-line.
            .skip(usize::from(start > 0))
            .filter_map(|line| {
                let rest = line.strip_prefix(b"{\"id\":")?;
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                std::str::from_utf8(rest.get(..digits)?)
                    .ok()?
                    .parse::<u64>()
                    .ok()
            })
            .max())
    }

    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonlSink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(64 * 1024, file),
        })
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> String {
        format!("the JSON Lines log {}", self.path.display())
    }

    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        // Each write holds whole lines, so a reader following the file
        // never sees half a record: a line that does not fit goes after
        // what is buffered, one that is larger than the buffer on its own.
        let json = record.json();
        let line_len = json.len() + 1;
        if line_len > self.out.capacity() - self.out.buffer().len() {
            self.out.flush()?;
        }
        if line_len > self.out.capacity() {
            // One write of the record and its newline, without copying the
            // record (it can hold a 1 MiB body) into a line of its own.
            return write_all_vectored(self.out.get_mut(), json.as_bytes(), b"\n");
        }
        self.out.write_all(json.as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn end_batch(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}

/// Writes `first` then `second` to `out`, in one call when `out` takes both
/// (a file does: `writev`), resuming where a partial write stopped.
fn write_all_vectored(out: &mut impl Write, first: &[u8], second: &[u8]) -> io::Result<()> {
    let (mut first, mut second) = (first, second);
    while !first.is_empty() || !second.is_empty() {
        let written = match out.write_vectored(&[io::IoSlice::new(first), io::IoSlice::new(second)])
        {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_first = written.min(first.len());
        first = first.get(from_first..).unwrap_or_default();
        let from_second = written.saturating_sub(from_first).min(second.len());
        second = second.get(from_second..).unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_id_is_the_largest_of_the_logs_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        assert_eq!(JsonlSink::last_id(&path).unwrap(), None);
        std::fs::write(&path, "").unwrap();
        assert_eq!(JsonlSink::last_id(&path).unwrap(), None);
        // Finished out of order, and a line cut by a crash at the end.
        std::fs::write(
            &path,
            "{\"id\":1,\"x\":1}\n{\"id\":12,\"x\":1}\n{\"id\":11,\"x\":1}\n{\"id\":",
        )
        .unwrap();
        assert_eq!(JsonlSink::last_id(&path).unwrap(), Some(12));
    }
    use crate::exchange::{testing, Body, Request};
    use crate::log::Record;
    use bytes::Bytes;

    /// Takes at most `max` bytes a call, as a pipe or a full disk may.
    struct Trickle {
        taken: Vec<u8>,
        max: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            let n = buf.len().min(self.max);
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_vectored_writes_resume_where_they_stopped() {
        for max in [1, 2, 3, 7, 100] {
            let mut out = Trickle {
                taken: Vec::new(),
                max,
                calls: 0,
            };
            write_all_vectored(&mut out, b"{\"a\":1}", b"\n").unwrap();
            assert_eq!(out.taken, b"{\"a\":1}\n", "max {max}");
            assert!(out.calls >= 2, "max {max}");
        }
    }

    #[test]
    fn a_record_larger_than_the_buffer_is_one_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut sink = JsonlSink::open(&path).unwrap();
        let request = Request {
            method: "GET".into(),
            url: "https://api.trakt.tv/sync/history".into(),
            http_version: "HTTP/1.1".into(),
            headers: Default::default(),
            body: Body::default(),
        };
        let small = testing::answered(request.clone(), "{}");
        let mut big = testing::answered(request, "");
        if let Some(response) = big.response.as_mut() {
            response.body = Body::complete(Bytes::from("\"x\"".repeat(100_000)));
        }
        for exchange in [&small, &big, &small] {
            sink.record(&Record::new(exchange)).unwrap();
        }
        sink.flush().unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        let expected: String = [&small, &big, &small]
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        assert!(written.len() > 300_000);
        assert_eq!(written, expected);
    }
}
