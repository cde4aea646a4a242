//! The HAR 1.2 sink: one entry per exchange, with trakt-doctor's findings,
//! fixes and diagnosis in the `_trakt_doctor` custom field (HAR allows
//! fields starting with `_`). The file is valid JSON after every batch of
//! records the log writer hands over: the batch's entries overwrite the
//! closing brackets, which are then written again, so a crash or Ctrl-C
//! leaves a file that browsers' devtools can open.
//!
//! A write that fails (a full disk) leaves the file cut mid-entry. The sink
//! remembers where the last good batch ended; once writing works again it
//! cuts the file back there and carries on, so the file is valid again and
//! only the entries of the failed batches are missing (the terminal says how
//! many; the JSON Lines log has them).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::json;

use super::{Record, Sink};
pub use trakt_doctor_core::har::entry;

const TRAILER: &str = "\n]}}\n";

/// What the HAR sink writes to: a file it can seek in and cut back.
pub trait HarFile: Write + Seek + Send {
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    fn sync_data(&mut self) -> io::Result<()>;
}

impl HarFile for File {
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

pub struct HarSink<F: HarFile = File> {
    name: String,
    file: F,
    entries: u64,
    /// Whether the file currently ends with the closing brackets.
    closed: bool,
    /// Length and entry count of the file after the last batch that was
    /// written whole: a valid HAR file to cut back to after a failure.
    good_len: u64,
    good_entries: u64,
    /// Entries written since `good_len` (lost if the batch fails).
    in_batch: u64,
    /// A write failed since `good_len`: the file must be cut back first.
    damaged: bool,
    /// Entries lost to failed writes, and how many of those were reported.
    lost: u64,
    lost_reported: u64,
}

impl HarSink<File> {
    /// Creates (or replaces) `path` with an empty HAR log.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        HarSink::new(file, format!("the HAR file {}", path.display()))
    }
}

impl<F: HarFile> HarSink<F> {
    /// Starts an empty HAR log in `file`; `name` names it in messages.
    pub fn new(mut file: F, name: String) -> io::Result<Self> {
        let head = json!({
            "version": "1.2",
            "creator": {"name": "trakt-doctor", "version": env!("CARGO_PKG_VERSION")},
        });
        let head = head.to_string();
        // `{"log":{"version":…,"creator":{…},"pages":[],"entries":[` then the trailer.
        let open = format!(
            "{{\"log\":{},\"pages\":[],\"entries\":[",
            head.strip_suffix('}').unwrap_or(&head)
        );
        file.write_all(open.as_bytes())?;
        file.write_all(TRAILER.as_bytes())?;
        file.flush()?;
        let good_len = (open.len() + TRAILER.len()) as u64;
        Ok(HarSink {
            name,
            file,
            entries: 0,
            closed: true,
            good_len,
            good_entries: 0,
            in_batch: 0,
            damaged: false,
            lost: 0,
            lost_reported: 0,
        })
    }

    /// Entries that failed to reach the file so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Notes a failed write: this batch's entries will be cut back out.
    fn failed(&mut self, error: io::Error) -> io::Error {
        self.damaged = true;
        self.lost += self.in_batch;
        self.in_batch = 0;
        error
    }

    /// Cuts a damaged file back to the end of the last whole batch.
    fn repair(&mut self) -> io::Result<()> {
        if !self.damaged {
            return Ok(());
        }
        // The failed entry overwrote the closing brackets: write them again.
        let entries_end = self.good_len - TRAILER.len() as u64;
        self.file.set_len(entries_end)?;
        self.file.seek(SeekFrom::Start(entries_end))?;
        self.file.write_all(TRAILER.as_bytes())?;
        self.entries = self.good_entries;
        self.closed = true;
        self.damaged = false;
        Ok(())
    }

    fn write_entry(&mut self, entry: &str) -> io::Result<()> {
        self.repair()?;
        if self.closed {
            self.file.seek(SeekFrom::End(-(TRAILER.len() as i64)))?;
            self.closed = false;
        }
        let separator = if self.entries > 0 { ",\n" } else { "\n" };
        self.file
            .write_all(format!("{separator}{entry}").as_bytes())?;
        self.entries += 1;
        Ok(())
    }

    fn close_batch(&mut self) -> io::Result<()> {
        self.repair()?;
        if !self.closed {
            self.file.write_all(TRAILER.as_bytes())?;
            self.closed = true;
        }
        self.file.flush()?;
        self.good_len = self.file.stream_position()?;
        self.good_entries = self.entries;
        self.in_batch = 0;
        if self.lost > self.lost_reported {
            eprintln!(
                "trakt-doctor: {} is valid again after failed writes; {} exchange(s) are missing \
                 from it (the JSON Lines log, if any, has them)",
                self.name,
                self.lost - self.lost_reported
            );
            self.lost_reported = self.lost;
        }
        Ok(())
    }
}

impl<F: HarFile> Sink for HarSink<F> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        let entry = serde_json::to_string(&entry(record.exchange))?;
        self.in_batch += 1;
        self.write_entry(&entry).map_err(|e| self.failed(e))
    }

    fn end_batch(&mut self) -> io::Result<()> {
        self.close_batch().map_err(|e| self.failed(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.end_batch()?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Exchange, Headers, Request, Response};
    use bytes::Bytes;
    use serde_json::Value;

    fn exchange(id: u64, status: Option<u16>) -> Exchange {
        Exchange {
            id,
            started_at: time::macros::datetime!(2026-11-24 12:00 UTC),
            duration_ms: 12.5,
            request: Request {
                method: "POST".into(),
                url: "https://api.trakt.tv/scrobble/start?x=1".into(),
                http_version: "HTTP/2".into(),
                headers: Headers(vec![("content-type".into(), "application/json".into())]),
                body: Body::complete(Bytes::from_static(b"{\"progress\":1}")),
            },
            response: status.map(|status| Response {
                status,
                http_version: "HTTP/2".into(),
                headers: Headers::default(),
                body: Body::complete(Bytes::from_static(&[0xff, 0x00])),
            }),
            error: status.is_none().then(|| "refused".to_string()),
            findings: vec![crate::lint::body::JSON_TYPE.finding("/", "x")],
            fixes: vec![],
            diagnosis: None,
            replay_of: None,
        }
    }

    #[test]
    fn the_file_is_valid_after_every_record_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.har");
        let mut sink = HarSink::create(&path).unwrap();
        let empty: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(empty["log"]["version"], "1.2");
        assert_eq!(empty["log"]["entries"].as_array().unwrap().len(), 0);
        for (i, status) in [Some(201), None, Some(400)].into_iter().enumerate() {
            sink.record(&Record::new(&exchange(i as u64 + 1, status)))
                .unwrap();
            sink.end_batch().unwrap();
            let har: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(har["log"]["entries"].as_array().unwrap().len(), i + 1);
        }
        let read = crate::log::read::exchanges(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].request.body.text(), Some("{\"progress\":1}"));
        assert_eq!(
            read[0].response.as_ref().unwrap().body.bytes,
            Bytes::from_static(&[0xff, 0x00])
        );
        assert_eq!(read[1].error.as_deref(), Some("refused"));
        assert_eq!(read[2].id, 3);
        assert!(read.iter().all(|ex| ex.replay_of.is_none()));
    }

    #[test]
    fn a_resend_and_a_cut_request_body_read_back_as_recorded() {
        let mut resend = exchange(4, Some(201));
        resend.replay_of = Some(2);
        resend.request.body = Body {
            bytes: Bytes::from_static(b"{\"progr"),
            size: 5_000,
            truncated: true,
            coding: None,
        };
        let entry = entry(&resend);
        assert_eq!(entry["_trakt_doctor"]["replay_of"], 2);
        assert!(super::entry(&exchange(1, None))["_trakt_doctor"]
            .get("replay_of")
            .is_none());
        let har = json!({"log": {"version": "1.2", "entries": [entry]}});
        let read = crate::log::read::exchanges(&har.to_string()).unwrap();
        assert_eq!(read[0].replay_of, Some(2));
        assert!(read[0].request.body.truncated);
        assert_eq!(read[0].request.body.size, 5_000);
    }

    /// A file in memory whose writes fail while `full` is set, after
    /// taking part of the bytes, as a disk that fills up does.
    struct FillingDisk {
        data: std::io::Cursor<Vec<u8>>,
        full: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Write for FillingDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.full.load(std::sync::atomic::Ordering::Relaxed) {
                if buf.len() > 1 {
                    // Half of it lands before the disk is full.
                    return self.data.write(&buf[..buf.len() / 2]);
                }
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.data.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seek for FillingDisk {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.data.seek(pos)
        }
    }

    impl HarFile for FillingDisk {
        fn set_len(&mut self, len: u64) -> io::Result<()> {
            self.data.get_mut().truncate(len as usize);
            Ok(())
        }
        fn sync_data(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn text(sink: &HarSink<FillingDisk>) -> String {
        String::from_utf8(sink.file.data.get_ref().clone()).unwrap()
    }

    #[test]
    fn after_a_full_disk_the_file_is_valid_again_with_only_the_failed_entries_missing() {
        let full = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let disk = FillingDisk {
            data: std::io::Cursor::new(Vec::new()),
            full: full.clone(),
        };
        let mut sink = HarSink::new(disk, "the test HAR".into()).unwrap();
        let write = |sink: &mut HarSink<FillingDisk>, id: u64| {
            let record = sink.record(&Record::new(&exchange(id, Some(200))));
            record.and_then(|()| sink.end_batch())
        };
        write(&mut sink, 1).unwrap();
        full.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(write(&mut sink, 2).is_err());
        assert!(
            serde_json::from_str::<Value>(&text(&sink)).is_err(),
            "cut mid-entry"
        );
        assert!(write(&mut sink, 3).is_err());
        full.store(false, std::sync::atomic::Ordering::Relaxed);
        write(&mut sink, 4).unwrap();
        let har: Value = serde_json::from_str(&text(&sink)).expect("valid again");
        let ids: Vec<u64> = har["log"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["_trakt_doctor"]["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1, 4]);
        assert_eq!(sink.lost(), 2);
        // A failure with nothing after it is repaired by the final flush.
        full.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(write(&mut sink, 5).is_err());
        full.store(false, std::sync::atomic::Ordering::Relaxed);
        sink.flush().unwrap();
        let har: Value = serde_json::from_str(&text(&sink)).expect("valid at exit");
        assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 2);
        assert_eq!(sink.lost(), 3);
    }
}
