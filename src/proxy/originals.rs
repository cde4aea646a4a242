//! The original requests of live exchanges, secrets included, kept so the
//! user can resend them: the logs and the web view only ever hold the
//! redacted record, which lacks the tokens a resend needs.
//!
//! Memory only, by design: nothing here is ever written to disk, put in a
//! download or a log, or printed (its `Debug` shows ids and sizes). Bounded
//! like the web view's history (count and bytes, oldest out first), emptied
//! by the web view's Clear, and gone when the process exits. An exchange
//! evicted from here can still be resent from its record once the user
//! supplies the secrets by name (see [`crate::resend::needed_secrets`]).
//!
//! Its bounds are a tenth of the web view's history in count and a quarter
//! in bytes: every original holds the request's headers and body a second
//! time next to its record, and at 10,000 / 32 MiB the two stores together
//! were most of the proxy's memory after a busy minute (see
//! docs/performance.md). The newest exchanges are the ones resent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::exchange::{Body, Headers, Request};

/// The originals of the last 1,000 exchanges, at most 8 MiB of them (the
/// web view's history keeps 10,000 records; older ones are resent from the
/// record, asking for the secrets by name).
pub const MAX_RECORDS: usize = 1_000;
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Bodies up to this size are copied when kept (see [`Originals::keep`]).
const COPIED_BODY: usize = 64 * 1024;

#[derive(Default)]
struct Inner {
    /// By exchange id, in the order they were kept (about the id order).
    requests: VecDeque<(u64, Packed)>,
    bytes: usize,
}

pub struct Originals {
    inner: Mutex<Inner>,
    max_records: usize,
    max_bytes: usize,
}

impl std::fmt::Debug for Originals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the requests: they hold secrets.
        let inner = self.lock();
        f.debug_struct("Originals")
            .field("kept", &inner.requests.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

/// A request as kept: its text (method, URL, version and every header
/// name and value) in one buffer, each piece after its length, and its
/// body. Keeping a clone of the `Request` cost two allocations per header
/// field, about 25 on every request's path, for an original that is
/// rarely resent; this is one.
struct Packed {
    text: Box<[u8]>,
    body: Body,
}

impl Packed {
    /// `None` when a piece is too long to pack (over 4 GiB: never from a proxied request).
    fn of(request: &Request) -> Option<Packed> {
        let fields = request
            .headers
            .0
            .iter()
            .flat_map(|(name, value)| [name.as_str(), value.as_str()]);
        let pieces = [
            request.method.as_str(),
            request.url.as_str(),
            request.http_version.as_str(),
        ]
        .into_iter()
        .chain(fields);
        let len = pieces.clone().map(|p| p.len().saturating_add(4)).sum();
        let mut text = Vec::with_capacity(len);
        for piece in pieces {
            text.extend_from_slice(&u32::try_from(piece.len()).ok()?.to_le_bytes());
            text.extend_from_slice(piece.as_bytes());
        }
        let mut body = request.body.clone();
        // A body captured in one piece is a slice of the connection's read
        // buffer: held as is, it would keep that whole buffer (8 KiB and
        // more) alive for as long as the original is kept. A small one is
        // copied into bytes of its own.
        if body.bytes.len() <= COPIED_BODY {
            body.bytes = bytes::Bytes::copy_from_slice(&body.bytes);
        }
        Some(Packed {
            text: text.into_boxed_slice(),
            body,
        })
    }

    /// The request again; `None` only if the packed text were damaged.
    fn unpack(&self) -> Option<Request> {
        let mut pieces = Pieces(&self.text);
        let method = pieces.next()?;
        let url = pieces.next()?;
        let http_version = pieces.next()?;
        let mut headers = Vec::new();
        while !pieces.0.is_empty() {
            headers.push((pieces.next()?, pieces.next()?));
        }
        Some(Request {
            method,
            url,
            http_version,
            headers: Headers(headers),
            body: self.body.clone(),
        })
    }

    /// What one original costs: its bytes (the body's are shared with the
    /// captured record, but they are what keeps it alive).
    fn cost(&self) -> usize {
        self.text.len() + self.body.bytes.len()
    }
}

/// Reads [`Packed`] text piece by piece.
struct Pieces<'a>(&'a [u8]);

impl Pieces<'_> {
    fn next(&mut self) -> Option<String> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        let piece = rest.get(..len)?;
        self.0 = rest.get(len..)?;
        String::from_utf8(piece.to_vec()).ok()
    }
}

impl Originals {
    pub fn new(max_records: usize, max_bytes: usize) -> Arc<Originals> {
        Arc::new(Originals {
            inner: Mutex::new(Inner::default()),
            max_records,
            max_bytes,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps exchange `id`'s request as captured (before any repair). A
    /// large body is shared, not copied; evicts the oldest beyond the bounds.
    pub fn keep(&self, id: u64, request: &Request) {
        if self.max_records == 0 {
            return;
        }
        let Some(kept) = Packed::of(request) else {
            return;
        };
        let size = kept.cost();
        let mut inner = self.lock();
        inner.bytes += size;
        inner.requests.push_back((id, kept));
        while inner.requests.len() > self.max_records
            || inner.bytes > self.max_bytes && inner.requests.len() > 1
        {
            if let Some((_, old)) = inner.requests.pop_front() {
                inner.bytes -= old.cost();
            }
        }
    }

    /// The original request of exchange `id`, while it is kept.
    pub fn get(&self, id: u64) -> Option<Request> {
        self.lock()
            .requests
            .iter()
            .rev()
            .find(|(kept, _)| *kept == id)
            .and_then(|(_, request)| request.unpack())
    }

    /// Forgets every original (the web view's Clear).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.requests.clear();
        inner.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.lock().requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str, body: usize) -> Request {
        Request {
            method: "GET".into(),
            url: "https://api.trakt.tv/users/settings".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[("authorization", &format!("Bearer {token}"))]),
            body: Body::complete(vec![b'x'; body].into()),
        }
    }

    #[test]
    fn keeps_the_newest_within_both_bounds_and_clears() {
        let originals = Originals::new(3, usize::MAX);
        for id in 1..=5 {
            originals.keep(id, &request(&format!("T{id}"), 0));
        }
        assert_eq!(originals.len(), 3);
        assert!(originals.get(2).is_none());
        assert_eq!(
            originals.get(5).unwrap().headers.get("authorization"),
            Some("Bearer T5")
        );
        let by_bytes = Originals::new(100, 2_500);
        for id in 1..=5 {
            by_bytes.keep(id, &request("T", 1_000));
        }
        assert_eq!(by_bytes.len(), 2);
        assert!(by_bytes.get(3).is_none() && by_bytes.get(5).is_some());
        by_bytes.clear();
        assert!(by_bytes.is_empty() && by_bytes.get(5).is_none());
    }

    #[test]
    fn a_kept_request_comes_back_field_for_field() {
        let originals = Originals::new(10, usize::MAX);
        let mut captured = request("T", 10);
        captured.method = "POST".into();
        captured.url = "https://api.trakt.tv/scrobble/start?x=é".into();
        captured.headers = Headers::from_pairs(&[
            ("content-type", "application/json"),
            ("x-twice", "1"),
            ("empty", ""),
            ("x-twice", "2 \u{1F600} ünï"),
        ]);
        originals.keep(3, &captured);
        assert_eq!(originals.get(3).unwrap(), captured);
        let mut bare = request("", 0);
        bare.http_version = String::new();
        bare.headers = Headers::default();
        originals.keep(4, &bare);
        assert_eq!(originals.get(4).unwrap(), bare);
    }

    #[test]
    fn a_large_body_is_shared_a_small_one_copied_and_debug_shows_no_secret() {
        let originals = Originals::new(10, usize::MAX);
        let captured = request("SECRET-TOKEN", COPIED_BODY + 1);
        originals.keep(7, &captured);
        let kept = originals.get(7).unwrap();
        assert_eq!(kept.body.bytes.as_ptr(), captured.body.bytes.as_ptr());
        // A small one may be a slice of a read buffer: kept as bytes of its own.
        let small = request("SECRET-TOKEN", 64);
        originals.keep(8, &small);
        let kept = originals.get(8).unwrap();
        assert_ne!(kept.body.bytes.as_ptr(), small.body.bytes.as_ptr());
        assert_eq!(kept.body.bytes, small.body.bytes);
        assert!(!format!("{originals:?}").contains("SECRET"));
        let off = Originals::new(0, 0);
        off.keep(1, &captured);
        assert!(off.is_empty());
    }
}
