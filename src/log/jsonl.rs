//! The JSON Lines sink: one [`Exchange`] object per line, appended to a file.
//! Each record is flushed as it is written, so `tail -f` shows it at once and
//! a crash loses nothing that was logged.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::Sink;
use crate::exchange::Exchange;

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
            out: BufWriter::new(file),
        })
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> String {
        format!("the JSON Lines log {}", self.path.display())
    }

    fn record(&mut self, exchange: &Exchange) -> io::Result<()> {
        // One write per line, so a reader following the file sees whole lines.
        let mut line = serde_json::to_vec(exchange)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}
