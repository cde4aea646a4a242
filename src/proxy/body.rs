//! Body plumbing: read a request body up to the capture limit, and replay
//! what was read in front of the rest. (Recording a response body as it
//! streams is [`super::pending::RecordingBody`]: it feeds the pending
//! exchange's [`Capture`].)
//!
//! Two bounds keep clients from holding the proxy's memory: a request body
//! that stops arriving for `--body-timeout` fails ([`IdleTimeout`]), and the
//! bodies being captured share a budget of bytes ([`BodyBudget`]), per
//! connection and in all; a body that does not fit streams through unlinted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::log::spare::SpareBodies;

// The body of every answer and forwarded request is defined with the
// proxy's own answers, so the web view needs nothing from the proxy.
pub use crate::respond::{empty, full, BoxError, ProxyBody};

/// A request body read as far as the capture limit allows.
pub enum Collected<B> {
    /// The whole body fit.
    Complete(Bytes),
    /// The body is larger than the limit: what was read, and the rest still unread.
    Partial { read: Bytes, rest: B },
    /// The body budget ran out first: what was read, and the rest still unread.
    OverBudget { read: Bytes, rest: B },
}

/// Bytes that request bodies being captured may hold: per connection and
/// for the whole proxy. Cheap to clone; clones share the budgets.
#[derive(Clone)]
pub struct BodyBudget {
    connection: Arc<Semaphore>,
    total: Arc<Semaphore>,
}

impl BodyBudget {
    /// A connection's budget (`per_connection` bytes) drawing on `total`.
    pub fn new(per_connection: usize, total: Arc<Semaphore>) -> Self {
        let per_connection = per_connection.min(Semaphore::MAX_PERMITS);
        BodyBudget {
            connection: Arc::new(Semaphore::new(per_connection)),
            total,
        }
    }

    /// The shared budget of the whole proxy.
    pub fn total(bytes: usize) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)))
    }

    /// An empty reservation, given back when dropped.
    pub fn reserve(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
        }
    }
}

/// Bytes taken from a [`BodyBudget`] for one body, given back on drop.
pub struct Reservation {
    budget: BodyBudget,
    held: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

impl Reservation {
    /// Takes `bytes` more from both budgets, or nothing if either is short.
    pub fn take(&mut self, bytes: usize) -> bool {
        let Ok(n) = u32::try_from(bytes) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        let Ok(connection) = self.budget.connection.clone().try_acquire_many_owned(n) else {
            return false;
        };
        let Ok(total) = self.budget.total.clone().try_acquire_many_owned(n) else {
            return false;
        };
        match &mut self.held {
            Some((held_connection, held_total)) => {
                held_connection.merge(connection);
                held_total.merge(total);
            }
            None => self.held = Some((connection, total)),
        }
        true
    }
}

/// The error of a request body that stopped arriving.
#[derive(Debug)]
pub struct BodyTimedOut(pub Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the client sent no request body data for {} s (--body-timeout)",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// A body that fails with [`BodyTimedOut`] when no frame arrives for `idle`.
/// The clock runs only while the reader waits on the client: a slow reader
/// (the upstream) does not count against the client.
pub struct IdleTimeout<B> {
    inner: B,
    idle: Duration,
    /// Set when the reader starts waiting; none while frames flow, so a
    /// request without a body never allocates a timer.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> IdleTimeout<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        IdleTimeout {
            inner,
            idle,
            deadline: None,
        }
    }
}

impl<B> Body for IdleTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.deadline = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(idle))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads `body` until it ends or more than `limit` bytes have arrived, or
/// `reservation` cannot take the next piece.
pub async fn collect_up_to<B>(
    mut body: B,
    limit: usize,
    mut reservation: Option<&mut Reservation>,
) -> Result<Collected<B>, B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut chunks = Chunks::default();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let fits = reservation
                .as_deref_mut()
                .is_none_or(|r| r.take(data.len()));
            chunks.push(data);
            if !fits {
                return Ok(Collected::OverBudget {
                    read: chunks.into_bytes(),
                    rest: body,
                });
            }
            if chunks.len() > limit {
                return Ok(Collected::Partial {
                    read: chunks.into_bytes(),
                    rest: body,
                });
            }
        }
    }
    Ok(Collected::Complete(chunks.into_bytes()))
}

/// The pieces of a body as they arrived, kept without copying (a `Bytes`
/// clone shares its buffer) and joined once, at the end: growing one buffer
/// instead reallocated and copied a 1 MiB body about twenty times.
#[derive(Default)]
pub struct Chunks {
    parts: Vec<Bytes>,
    len: usize,
}

impl Chunks {
    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.parts.push(data);
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole body: the single piece itself, or one copy into a buffer of the exact size.
    pub fn into_bytes(mut self) -> Bytes {
        if self.parts.len() <= 1 {
            return self.parts.pop().unwrap_or_default();
        }
        let mut joined = BytesMut::with_capacity(self.len);
        for part in &self.parts {
            joined.extend_from_slice(part);
        }
        joined.freeze()
    }
}

/// A response body captured as it streams. The first piece is kept as it
/// is (most answers come in one); from the second on, each piece is copied
/// while it is still fresh in the cache into one buffer planned for the
/// whole body, a kept one when the body is large ([`SpareBodies`]). Joining
/// the pieces at the end instead was a cold 1 MiB copy into fresh memory
/// on the connection's path, a quarter of its CPU for a 1 MiB answer.
#[derive(Default)]
pub enum Capture {
    #[default]
    Empty,
    One(Bytes),
    Joined(BytesMut),
}

impl Capture {
    pub fn len(&self) -> usize {
        match self {
            Capture::Empty => 0,
            Capture::One(piece) => piece.len(),
            Capture::Joined(buffer) => buffer.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `data`. `planned` is the room the whole capture will take as far
    /// as known (its Content-Length, at most the capture limit; 0 when not
    /// known), `limit` the most it may take.
    pub fn push(&mut self, data: Bytes, planned: usize, limit: usize, spare: &SpareBodies) {
        if data.is_empty() {
            return;
        }
        *self = match std::mem::take(self) {
            Capture::Empty => Capture::One(data),
            Capture::One(first) => {
                let whole = first.len().saturating_add(data.len());
                let mut buffer = room_for(planned.max(whole), spare);
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&data);
                Capture::Joined(buffer)
            }
            Capture::Joined(mut buffer) => {
                let whole = buffer.len().saturating_add(data.len());
                if whole > buffer.capacity() {
                    // No length was given (a chunked answer): grow by
                    // doubling, as a Vec would, but into whole blocks.
                    let mut larger = room_for(whole.saturating_mul(2).min(limit.max(whole)), spare);
                    larger.extend_from_slice(&buffer);
                    buffer = larger;
                }
                buffer.extend_from_slice(&data);
                Capture::Joined(buffer)
            }
        };
    }

    /// The captured body.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Capture::Empty => Bytes::new(),
            Capture::One(piece) => piece,
            Capture::Joined(buffer) => buffer.freeze(),
        }
    }
}

/// An empty buffer for `capacity` bytes: a kept one for a large body.
fn room_for(capacity: usize, spare: &SpareBodies) -> BytesMut {
    if capacity >= crate::log::spare::LARGE {
        spare.take(capacity)
    } else {
        BytesMut::with_capacity(capacity)
    }
}

/// Replays bytes already read, then streams the rest of the body.
pub struct PrefixedBody<B> {
    prefix: Option<Bytes>,
    rest: B,
}

impl<B> PrefixedBody<B> {
    pub fn new(prefix: Bytes, rest: B) -> Self {
        PrefixedBody {
            prefix: Some(prefix).filter(|p| !p.is_empty()),
            rest,
        }
    }
}

impl<B> Body for PrefixedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[test]
    fn chunks_join_in_order_and_a_single_piece_is_not_copied() {
        let piece = Bytes::from_static(b"whole");
        let mut one = Chunks::default();
        one.push(piece.clone());
        one.push(Bytes::new());
        let joined = one.into_bytes();
        assert_eq!(joined.as_ptr(), piece.as_ptr());
        let mut many = Chunks::default();
        for part in ["a", "bc", "", "def"] {
            many.push(Bytes::from(part));
        }
        assert_eq!(many.len(), 6);
        assert_eq!(&many.into_bytes()[..], b"abcdef");
        assert!(Chunks::default().into_bytes().is_empty());
    }

    #[test]
    fn a_one_piece_capture_is_not_copied_and_more_pieces_join_in_order() {
        let spare = SpareBodies::default();
        let piece = Bytes::from_static(b"whole");
        let mut one = Capture::default();
        one.push(piece.clone(), 0, 100, &spare);
        one.push(Bytes::new(), 0, 100, &spare);
        assert_eq!(one.into_bytes().as_ptr(), piece.as_ptr());
        let mut many = Capture::default();
        for part in ["a", "bc", "", "def", "ghij"] {
            many.push(Bytes::from(part), 0, 100, &spare);
        }
        assert_eq!(many.len(), 10);
        assert_eq!(&many.into_bytes()[..], b"abcdefghij");
        assert!(Capture::default().into_bytes().is_empty());
    }

    #[test]
    fn a_large_capture_fills_a_kept_buffer_planned_for_the_whole_body() {
        use crate::log::spare::LARGE;
        let spare = SpareBodies::default();
        let mut kept = BytesMut::with_capacity(LARGE * 4);
        kept.resize(LARGE * 4, 0);
        let kept = kept.freeze();
        let address = kept.as_ptr();
        spare.give(kept);
        let piece = Bytes::from(vec![b'x'; LARGE / 2]);
        let mut capture = Capture::default();
        for _ in 0..6 {
            // Content-Length: 3 blocks.
            capture.push(piece.clone(), LARGE * 3, LARGE * 16, &spare);
        }
        let body = capture.into_bytes();
        assert_eq!(body.as_ptr(), address, "captured into the kept buffer");
        assert_eq!(body.len(), LARGE * 3);
        assert!(body.iter().all(|b| *b == b'x'));
        // Without a length (chunked), it grows into whole blocks.
        let mut capture = Capture::default();
        for _ in 0..6 {
            capture.push(piece.clone(), 0, LARGE * 16, &spare);
        }
        assert_eq!(capture.len(), LARGE * 3);
        match &capture {
            Capture::Joined(buffer) => assert_eq!(buffer.capacity() % LARGE, 0),
            _ => panic!("six pieces are joined"),
        }
    }

    #[tokio::test]
    async fn collects_small_bodies_whole_and_large_ones_partly() {
        let small = Full::new(Bytes::from_static(b"hello"));
        match collect_up_to(small, 10, None).await.unwrap() {
            Collected::Complete(b) => assert_eq!(&b[..], b"hello"),
            _ => panic!("a 5-byte body fits in 10"),
        }
        let big = Full::new(Bytes::from(vec![7u8; 100]));
        match collect_up_to(big, 10, None).await.unwrap() {
            Collected::Complete(_) | Collected::OverBudget { .. } => {
                panic!("100 bytes do not fit in 10")
            }
            Collected::Partial { read, rest } => {
                let whole = PrefixedBody::new(read, rest)
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes();
                assert_eq!(whole.len(), 100);
            }
        }
    }

    #[tokio::test]
    async fn bodies_share_a_budget_per_connection_and_in_all() {
        let total = BodyBudget::total(10);
        let first = BodyBudget::new(6, total.clone());
        let second = BodyBudget::new(6, total.clone());
        let mut a = first.reserve();
        assert!(a.take(4));
        let mut b = first.reserve();
        assert!(!b.take(3), "the connection has 2 bytes left");
        assert!(b.take(2));
        let mut c = second.reserve();
        assert!(!c.take(5), "the proxy has 4 bytes left");
        assert!(c.take(4));
        drop((a, b));
        assert_eq!(
            total.available_permits(),
            6,
            "a dropped reservation gives its bytes back"
        );
        let body = Full::new(Bytes::from(vec![1u8; 8]));
        let mut d = second.reserve();
        match collect_up_to(body, 100, Some(&mut d)).await.unwrap() {
            Collected::OverBudget { read, .. } => assert_eq!(read.len(), 8),
            _ => panic!("8 bytes do not fit in the 2 left on the connection"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_fails_after_the_idle_time() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let body = IdleTimeout::new(ReceiverBody(rx), Duration::from_secs(30));
        tx.send(Bytes::from_static(b"{")).await.unwrap();
        let started = tokio::time::Instant::now();
        let err = match collect_up_to(body, 1000, None).await {
            Err(e) => e,
            Ok(_) => panic!("the body never ended"),
        };
        assert!(err.is::<BodyTimedOut>(), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        drop(tx);
    }

    /// A body fed piece by piece from a channel; it ends when the sender goes.
    struct ReceiverBody(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for ReceiverBody {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }
}
