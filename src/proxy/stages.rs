//! The benchmark's instruments inside the proxy: per-stage timers of the
//! request path (the bench's `--stages` table) and the switch that turns
//! every check off (its `unchecked` route, to measure what the checks cost).
//!
//! Both exist only with the cargo feature `bench-stages`, which the
//! benchmark harness (examples/bench) requires and release builds do not
//! carry. Without it every item here is an empty inline function or a
//! zero-sized value: the call sites (one line per stage) compile to nothing,
//! and the binary holds neither the timers nor the environment variables
//! that turn them on (`stages/off.rs`). With it, `stages/timers.rs`.

/// A stage of the proxy's work, in the order an exchange meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A client connection: from `accept` to the CONNECT request in hand.
    Accept,
    /// The TLS handshake inside an intercepted tunnel.
    Tls,
    /// From the request head's bytes being read to the handler starting
    /// (hyper's parse and dispatch).
    Head,
    /// Opening the record: upstream URL, hop-by-hop fields, the header copy.
    Start,
    /// Reading (capturing) the request body.
    Capture,
    /// The session check of the request; with auto-fix on, also its lint
    /// and the fixes (their findings are needed before it is sent).
    Prepare,
    /// Upstream: pool checkout and writing the request.
    UpstreamSend,
    /// Upstream: waiting for the response head after the request was written.
    UpstreamFirstByte,
    /// The response head: inspected, repaired, recorded.
    ResponseHead,
    /// The response body relayed (and recorded) to the client.
    BodyRelay,
    /// The request's path through the proxy: head read to the response's
    /// last frame handed to the client's connection.
    OnPath,
    /// After the response: waiting for the finisher's turn.
    Queued,
    /// After the response: the request's lint (auto-fix off), the response
    /// checks, diagnosis and session update.
    Finish,
    /// Handing the record to the log writer's queue.
    Handoff,
    /// The whole exchange inside the proxy: handler start to record handed off.
    Total,
    /// The log writer thread: redacting one record.
    Redact,
    /// The log writer thread: serialising one record and passing it to every sink.
    Sinks,
}

#[cfg(feature = "bench-stages")]
mod timers;
#[cfg(feature = "bench-stages")]
pub use timers::*;

#[cfg(not(feature = "bench-stages"))]
mod off;
#[cfg(not(feature = "bench-stages"))]
pub use off::*;
