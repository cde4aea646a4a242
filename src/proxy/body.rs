//! Body plumbing: read a request body up to the capture limit, replay what
//! was read in front of the rest, and record a response body while it
//! streams to the client.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

use super::pending::PendingExchange;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response the proxy sends and every request it forwards.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A request body read as far as the capture limit allows.
pub enum Collected<B> {
    /// The whole body fit.
    Complete(Bytes),
    /// The body is larger than the limit: what was read, and the rest still unread.
    Partial { read: Bytes, rest: B },
}

/// Reads `body` until it ends or more than `limit` bytes have arrived.
pub async fn collect_up_to<B>(mut body: B, limit: usize) -> Result<Collected<B>, B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut chunks = Chunks::default();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            chunks.push(data);
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

/// Streams a response body to the client while copying its first bytes
/// into the pending exchange; logs the exchange when the body ends, fails,
/// or is dropped half-way (the client went away).
pub struct RecordingBody<B> {
    inner: B,
    pending: PendingExchange,
    limit: usize,
}

impl<B: Body<Data = Bytes> + Unpin> RecordingBody<B> {
    pub fn new(inner: B, mut pending: PendingExchange, limit: usize) -> Self {
        pending.set_abandon_reason(
            "the client closed the connection before the whole response was sent",
        );
        if inner.is_end_stream() {
            pending.finish(None);
        }
        RecordingBody {
            inner,
            pending,
            limit,
        }
    }
}

impl<B> Body for RecordingBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.pending.push_response_body(data, this.limit);
                }
                if this.inner.is_end_stream() {
                    this.pending.finish(None);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                this.pending.finish(Some(format!(
                    "the upstream connection failed while sending the response body: {e}"
                )));
            }
            Poll::Ready(None) => this.pending.finish(None),
            Poll::Pending => {}
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn collects_small_bodies_whole_and_large_ones_partly() {
        let small = Full::new(Bytes::from_static(b"hello"));
        match collect_up_to(small, 10).await.unwrap() {
            Collected::Complete(b) => assert_eq!(&b[..], b"hello"),
            Collected::Partial { .. } => panic!("a 5-byte body fits in 10"),
        }
        let big = Full::new(Bytes::from(vec![7u8; 100]));
        match collect_up_to(big, 10).await.unwrap() {
            Collected::Complete(_) => panic!("100 bytes do not fit in 10"),
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
}
