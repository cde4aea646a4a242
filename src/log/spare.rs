//! Large body buffers kept for reuse while traffic is busy.
//!
//! The allocator gives a freed block back to the system at once (mimalloc
//! with no purge delay, see `proxy/memory.rs`, which keeps an idle proxy
//! small), so every large buffer was fresh memory the kernel had to fault
//! in and zero: a 1 MiB answer cost the proxy about 870 page faults (its
//! capture, its record's text, the web view's compression output), a third
//! of its CPU for that answer. The log writer hands a large captured body's
//! buffer back here once its record is written, and the proxy captures the
//! next large body into it. The writer lets go of everything kept once it
//! has had nothing to do for [`IDLE`], so an idle proxy holds nothing extra.

use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

/// A body at least this large is captured into a kept buffer when one is
/// free, and its buffer kept after its record is written. Below it a fresh
/// allocation comes from the allocator's own small pages.
pub const LARGE: usize = 64 * 1024;

/// How many buffers are kept at most: one being filled while the writer
/// still writes the one before is the common case.
const KEEP: usize = 2;

/// How long the writer waits with nothing to do before letting go of the
/// buffers kept for reuse.
pub const IDLE: Duration = Duration::from_millis(250);

/// Buffers of large bodies, given back by the log writer and taken by the
/// proxy for the next large body. Shared by [`super::LogHandle`] clones.
#[derive(Default)]
pub struct SpareBodies {
    kept: Mutex<Vec<BytesMut>>,
}

impl SpareBodies {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BytesMut>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An empty buffer with room for `capacity` bytes: the smallest kept one
    /// that is large enough, else a new one (rounded up to a whole
    /// [`LARGE`], so a body a little larger than the last fits the same buffer
    /// next time).
    pub fn take(&self, capacity: usize) -> BytesMut {
        self.take_kept(capacity).unwrap_or_else(|| {
            BytesMut::with_capacity(capacity.div_ceil(LARGE).saturating_mul(LARGE))
        })
    }

    /// The smallest kept buffer with room for `capacity` bytes, if any.
    fn take_kept(&self, capacity: usize) -> Option<BytesMut> {
        let mut kept = self.lock();
        let best = kept
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i)?;
        Some(kept.swap_remove(best))
    }

    /// Keeps `body`'s buffer for the next large body, when nothing else
    /// holds it and it is large; the smallest kept one makes room.
    pub fn give(&self, body: Bytes) {
        if body.len() < LARGE {
            return;
        }
        let Ok(mut buffer) = body.try_into_mut() else {
            return;
        };
        buffer.clear();
        let mut kept = self.lock();
        if kept.len() < KEEP {
            kept.push(buffer);
        } else if let Some(smallest) = kept.iter_mut().min_by_key(|b| b.capacity()) {
            if smallest.capacity() < buffer.capacity() {
                *smallest = buffer;
            }
        }
    }

    /// Lets go of every kept buffer.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Bytes of room held in kept buffers.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.lock().iter().map(BytesMut::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(len: usize) -> Bytes {
        let mut buffer = BytesMut::with_capacity(len);
        buffer.resize(len, b'x');
        buffer.freeze()
    }

    #[test]
    fn a_large_body_given_back_is_the_buffer_taken_next() {
        let spare = SpareBodies::default();
        let given = body(LARGE * 4);
        let address = given.as_ptr();
        spare.give(given);
        let taken = spare.take(LARGE * 3);
        assert_eq!(taken.as_ptr(), address, "the same memory, not a new block");
        assert!(taken.is_empty() && taken.capacity() >= LARGE * 4);
        assert_eq!(spare.held(), 0, "taken, so no longer kept");
    }

    #[test]
    fn small_shared_or_too_small_buffers_are_not_used() {
        let spare = SpareBodies::default();
        spare.give(body(LARGE - 1));
        let shared = body(LARGE);
        let other_owner = shared.clone();
        spare.give(shared);
        assert_eq!(
            spare.held(),
            0,
            "a small body and a shared one are not kept"
        );
        drop(other_owner);
        spare.give(body(LARGE));
        assert!(
            spare.take_kept(LARGE * 2).is_none(),
            "a kept buffer too small for the body is not handed out"
        );
        let fresh = spare.take(LARGE + 1);
        assert_eq!(fresh.capacity(), LARGE * 2, "rounded up to whole blocks");
        assert!(spare.take_kept(LARGE).is_some());
    }

    #[test]
    fn at_most_two_are_kept_the_largest_ones_and_clear_lets_go() {
        let spare = SpareBodies::default();
        for blocks in [2, 1, 3] {
            spare.give(body(LARGE * blocks));
        }
        assert_eq!(spare.held(), LARGE * 5, "the 3- and 2-block buffers stay");
        spare.clear();
        assert_eq!(spare.held(), 0);
    }
}
