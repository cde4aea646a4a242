//! Why an exchange has no (complete) response, as a kind the code can
//! match on and the message the record keeps.
//!
//! The JSONL/HAR records keep only the message (their `error` string is a
//! contract), so a record read back gets its kind from the message
//! ([`ErrorKind::of_recorded`]); the three ways an upstream connection
//! fails share one wording there and come back as
//! [`ErrorKind::UpstreamFailed`].

use std::fmt;

use super::Exchange;

/// What went wrong, from the exchange's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The client hung up before the exchange completed.
    ClientClosed,
    /// The client stopped sending its request body (`--body-timeout`).
    ClientBodyTooSlow,
    /// The client's request body failed otherwise.
    ClientBodyUnreadable,
    /// No connection to the upstream: refused, unreachable, not resolved.
    UpstreamUnreachable,
    /// The TLS handshake with the upstream failed (its certificate, most often).
    UpstreamTls,
    /// No response head within `--upstream-timeout`.
    UpstreamTimeout,
    /// Any other failure before the upstream's response head.
    UpstreamFailed,
    /// The upstream failed while sending the response body.
    UpstreamBodyFailed,
    /// Still in flight when the shutdown grace period ran out.
    CutByShutdown,
    /// A message this version does not know (a record from elsewhere).
    Other,
}

impl ErrorKind {
    /// The kind of a message as the proxy writes it in a record.
    pub fn of_recorded(message: &str) -> ErrorKind {
        if message.starts_with("the client closed the connection") {
            ErrorKind::ClientClosed
        } else if message.starts_with("cut short by trakt-doctor's shutdown") {
            ErrorKind::CutByShutdown
        } else if message.contains("(--body-timeout)") {
            ErrorKind::ClientBodyTooSlow
        } else if message.starts_with("the client's request body could not be read") {
            ErrorKind::ClientBodyUnreadable
        } else if message.contains("(--upstream-timeout)") {
            ErrorKind::UpstreamTimeout
        } else if message
            .starts_with("the upstream connection failed while sending the response body")
        {
            ErrorKind::UpstreamBodyFailed
        } else if message.starts_with("trakt-doctor could not get a response from") {
            ErrorKind::UpstreamFailed
        } else {
            ErrorKind::Other
        }
    }

    /// The kind a record of this kind reads back as.
    pub fn as_recorded(self) -> ErrorKind {
        match self {
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamTls => ErrorKind::UpstreamFailed,
            other => other,
        }
    }

    /// Whether the client, not the network or the upstream, ended the exchange.
    pub fn is_client_side(self) -> bool {
        matches!(
            self,
            ErrorKind::ClientClosed
                | ErrorKind::ClientBodyTooSlow
                | ErrorKind::ClientBodyUnreadable
        )
    }
}

/// Why an exchange has no (complete) response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeError {
    pub kind: ErrorKind,
    /// What the record's `error` says.
    pub message: String,
}

impl ExchangeError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ExchangeError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExchangeError {}

impl Exchange {
    /// The kind of the exchange's error, if it has one.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_deref().map(ErrorKind::of_recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_messages_read_back_as_their_kind() {
        let cases = [
            (ErrorKind::ClientClosed, "the client closed the connection before the response arrived"),
            (ErrorKind::ClientClosed, "the client closed the connection while sending the request"),
            (ErrorKind::CutByShutdown, "cut short by trakt-doctor's shutdown: the exchange was still in flight"),
            (ErrorKind::ClientBodyTooSlow, "the client sent no request body data for 2 s (--body-timeout); answered 408 and closed"),
            (ErrorKind::ClientBodyUnreadable, "the client's request body could not be read: error reading a body"),
            (ErrorKind::UpstreamTimeout, "trakt-doctor gave up on https://api.trakt.tv/x: no response within 30 s (--upstream-timeout)"),
            (ErrorKind::UpstreamBodyFailed, "the upstream connection failed while sending the response body: reset"),
            (ErrorKind::UpstreamTls, "trakt-doctor could not get a response from https://api.trakt.tv/x: invalid peer certificate"),
            (ErrorKind::UpstreamUnreachable, "trakt-doctor could not get a response from https://api.trakt.tv/x: Connection refused"),
            (ErrorKind::Other, "timeout"),
        ];
        for (kind, message) in cases {
            assert_eq!(
                ErrorKind::of_recorded(message),
                kind.as_recorded(),
                "{message}"
            );
        }
        assert!(ErrorKind::ClientClosed.is_client_side());
        assert!(!ErrorKind::UpstreamTimeout.is_client_side());
    }
}
