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
            let mut line = Vec::with_capacity(line_len);
            line.extend_from_slice(json.as_bytes());
            line.push(b'\n');
            return self.out.get_mut().write_all(&line);
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
