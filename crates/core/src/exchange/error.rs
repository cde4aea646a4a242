//! Why an exchange has no (complete) response, as a kind the code can
//! match on and the message the record keeps.
//!
//! The JSONL/HAR records keep only the message (their `error` string is a
//! contract), so a record read back gets its kind from the message
//! ([`ErrorKind::of_recorded`]); the ways an upstream connection fails
//! share one opening there and come back as [`ErrorKind::UpstreamFailed`],
//! and the words after the URL name the cause ([`UpstreamCause`]).

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
    #[cfg(test)]
    pub(crate) fn as_recorded(self) -> ErrorKind {
        match self {
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamTls => ErrorKind::UpstreamFailed,
            other => other,
        }
    }

    /// Whether the client, not the network or the upstream, ended the exchange.
    #[cfg(test)]
    pub(crate) fn is_client_side(self) -> bool {
        matches!(
            self,
            ErrorKind::ClientClosed
                | ErrorKind::ClientBodyTooSlow
                | ErrorKind::ClientBodyUnreadable
        )
    }
}

/// Why no connection to the upstream, or no response on it: each cause
/// has its own words in the record's message (after "could not get a
/// response from URL: "), its own explanation and its own advice, so a
/// record read back tells them apart ([`UpstreamCause::of_recorded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamCause {
    /// The host name did not resolve.
    Dns,
    /// Nothing accepted the connection.
    Refused,
    /// The connection got no answer in time.
    ConnectTimeout,
    /// No route to the address.
    Unreachable,
    /// The address is trakt-doctor's own.
    Loop,
    /// The connection was reset.
    Reset,
    /// The upstream hung up before answering.
    Closed,
    /// The TLS handshake failed for a reason other than the certificate.
    Handshake,
    /// The upstream's certificate failed verification.
    Certificate,
    /// No response head within `--upstream-timeout` (its own message).
    Timeout,
    /// Anything else.
    Other,
}

impl UpstreamCause {
    const ALL: [UpstreamCause; 11] = [
        UpstreamCause::Dns,
        UpstreamCause::Refused,
        UpstreamCause::ConnectTimeout,
        UpstreamCause::Unreachable,
        UpstreamCause::Loop,
        UpstreamCause::Reset,
        UpstreamCause::Closed,
        UpstreamCause::Handshake,
        UpstreamCause::Certificate,
        UpstreamCause::Timeout,
        UpstreamCause::Other,
    ];

    /// The words the record's message says after the URL; fixed, since
    /// records are read back by them.
    pub fn title(self) -> &'static str {
        match self {
            UpstreamCause::Dns => "the host name does not resolve (DNS)",
            UpstreamCause::Refused => "the connection was refused",
            UpstreamCause::ConnectTimeout => "the connection timed out",
            UpstreamCause::Unreachable => "the network or host is unreachable",
            UpstreamCause::Loop => "the address is trakt-doctor itself",
            UpstreamCause::Reset => "the connection was reset",
            UpstreamCause::Closed => "the upstream closed the connection",
            UpstreamCause::Handshake => "the TLS handshake failed",
            UpstreamCause::Certificate => "the upstream's certificate is not trusted",
            UpstreamCause::Timeout => "no response within",
            UpstreamCause::Other => "the request failed",
        }
    }

    /// What probably happened, for the diagnosis.
    pub fn explanation(self) -> &'static str {
        match self {
            UpstreamCause::Dns => "the name did not resolve: a typo, no internet connection, or a failing DNS server",
            UpstreamCause::Refused => "nothing accepts connections at that address and port: a wrong --resolve rule, a server that is down, or a firewall that rejects",
            UpstreamCause::ConnectTimeout => "the connection got no answer: no internet connection, or a firewall or VPN that drops packets",
            UpstreamCause::Unreachable => "this machine has no route to that address: the network is down, or a VPN or IPv6 set-up lacks a route",
            UpstreamCause::Loop => "the address leads back to trakt-doctor itself, which would loop",
            UpstreamCause::Reset => "the server or something on the way (a firewall, antivirus or VPN) cut the connection",
            UpstreamCause::Closed => "the upstream hung up before it answered",
            UpstreamCause::Handshake => "the server at that address did not complete a TLS handshake with trakt-doctor: not an HTTPS port, or an HTTPS-inspecting firewall or antivirus in the way",
            UpstreamCause::Certificate => "the certificate the upstream presented fails verification: something on the way (antivirus, company proxy) replaced it, a test server's CA is not trusted, or this machine's clock is wrong",
            UpstreamCause::Timeout => "the upstream took the request but sent no response head within --upstream-timeout",
            UpstreamCause::Other => "the network between this machine and Trakt, a firewall, or Trakt being down",
        }
    }

    /// What to do, said once wherever the failure is shown.
    pub fn advice(self) -> &'static str {
        match self {
            UpstreamCause::Dns => "check the internet connection and the host name (`nslookup HOST`); a --resolve HOST:PORT=ADDR rule overrides DNS",
            UpstreamCause::Refused => "check the address and port (and any --resolve rule); if it is Trakt's own address, retry in a minute and check https://status.trakt.tv",
            UpstreamCause::ConnectTimeout => "check the internet connection and any firewall or VPN, then retry in a minute",
            UpstreamCause::Unreachable => "check the network connection or VPN",
            UpstreamCause::Loop => "point the --resolve rule or the URL at the real server",
            UpstreamCause::Reset => "retry; if it repeats, pause software that inspects HTTPS (antivirus, VPN) or check https://status.trakt.tv",
            UpstreamCause::Closed => "retry; if it repeats, check https://status.trakt.tv",
            UpstreamCause::Handshake => "check that the address (and any --resolve rule) is the server's HTTPS port",
            UpstreamCause::Certificate => "if you trust what presents this certificate (a test server, a company proxy), pass its CA with --upstream-ca FILE; trakt-doctor never skips the check",
            UpstreamCause::Timeout => "retry later and check https://status.trakt.tv, or allow more time with --upstream-timeout SECONDS",
            UpstreamCause::Other => "retry in a minute; check https://status.trakt.tv (or the status of Stremio's servers for strem.io hosts); if only trakt-doctor fails, check --resolve, --upstream-ca and --upstream-timeout",
        }
    }

    /// The kind an exchange failing this way has.
    pub fn kind(self) -> ErrorKind {
        match self {
            UpstreamCause::Dns
            | UpstreamCause::Refused
            | UpstreamCause::ConnectTimeout
            | UpstreamCause::Unreachable
            | UpstreamCause::Loop => ErrorKind::UpstreamUnreachable,
            UpstreamCause::Handshake | UpstreamCause::Certificate => ErrorKind::UpstreamTls,
            UpstreamCause::Timeout => ErrorKind::UpstreamTimeout,
            UpstreamCause::Reset | UpstreamCause::Closed | UpstreamCause::Other => {
                ErrorKind::UpstreamFailed
            }
        }
    }

    /// The record's `error` for a request to `target` that failed this way.
    pub fn message(self, target: &str, detail: &str) -> String {
        format!(
            "trakt-doctor could not get a response from {target}: {}: {detail}",
            self.title()
        )
    }

    /// The cause a recorded message names; `None` for messages that are
    /// not about the upstream (or from a version that did not say).
    pub fn of_recorded(message: &str) -> Option<UpstreamCause> {
        match ErrorKind::of_recorded(message) {
            ErrorKind::UpstreamTimeout => Some(UpstreamCause::Timeout),
            ErrorKind::UpstreamFailed => {
                let rest = message.split_once(": ").map_or("", |(_, rest)| rest);
                Some(
                    UpstreamCause::ALL
                        .into_iter()
                        .find(|cause| rest.starts_with(cause.title()))
                        .unwrap_or(UpstreamCause::Other),
                )
            }
            _ => None,
        }
    }
}

/// Why an exchange has no (complete) response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeError {
    /// What went wrong, by kind.
    pub kind: ErrorKind,
    /// What the record's `error` says.
    pub message: String,
}

impl ExchangeError {
    /// An error of `kind` that the record words as `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ExchangeError {
            kind,
            message: message.into(),
        }
    }
}

impl ExchangeError {
    /// The proxy's answer body in place of the upstream's: what happened,
    /// then, when the upstream failed, what to do (once).
    pub fn for_client(&self) -> String {
        match UpstreamCause::of_recorded(&self.message) {
            Some(cause) => format!("{}\nWhat to do: {}", self.message, cause.advice()),
            None => self.message.clone(),
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
    pub(crate) fn error_kind(&self) -> Option<ErrorKind> {
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
