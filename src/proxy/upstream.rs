//! Connections to upstream servers: the dialer (with `--resolve`
//! overrides and a connect timeout) and the pooled HTTP/1.1 + HTTP/2
//! client built on it, which PINGs its HTTP/2 connections and drops one
//! from the pool when a request on it is given up (see [`UpstreamClient`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{capture_connection, CaptureConnection};
use hyper_util::client::legacy::{Client, Error as LegacyError};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::body::ProxyBody;
use crate::exchange::{ExchangeError, UpstreamCause};
use crate::hosts::ResolveTable;

/// Opens TCP connections, honouring `--resolve` before DNS.
#[derive(Clone, Debug)]
pub struct Dialer {
    pub resolve: ResolveTable,
    pub connect_timeout: Duration,
    /// The proxy's own listening address: never dialled, so no request or
    /// tunnel can loop back into the proxy, however its address is spelled.
    pub own: Option<SocketAddr>,
}

impl Dialer {
    /// The addresses `host:port` stands for: a `--resolve` rule, else what
    /// the system resolver says (which also reads `127.1`, `2130706433` and
    /// `0x7f000001` as 127.0.0.1, as the connection would).
    async fn addresses(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        if let Some(addr) = self.resolve.lookup(host, port) {
            return Ok(vec![addr]);
        }
        let looked_up =
            tokio::time::timeout(self.connect_timeout, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| {
                    DialError::io(
                        std::io::ErrorKind::TimedOut,
                        UpstreamCause::Dns,
                        format!(
                            "looking up {host} took longer than {} s",
                            self.connect_timeout.as_secs_f64()
                        ),
                    )
                })?
                .map_err(|e| {
                    DialError::io(
                        e.kind(),
                        UpstreamCause::Dns,
                        format!("cannot resolve {host}: {}", os_words(&e)),
                    )
                })?;
        Ok(looked_up.collect())
    }

    /// Whether connecting to `host:port` would reach the proxy itself.
    pub async fn is_own(&self, host: &str, port: u16) -> bool {
        let Some(own) = self.own else { return false };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // Only a --resolve rule or our own port can lead back here: no DNS otherwise.
        if self.resolve.lookup(host, port).is_none() && port != own.port() {
            return false;
        }
        match self.addresses(host, port).await {
            Ok(addrs) => addrs.iter().any(|addr| is_own_address(*addr, own)),
            Err(_) => false,
        }
    }

    /// Connects to `host:port`, trying each address in turn. Failures are
    /// [`DialError`]s inside the `io::Error`, so they keep their cause.
    pub async fn connect(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = self.addresses(host, port).await?;
        if let Some(own) = self.own {
            if addrs.iter().any(|addr| is_own_address(*addr, own)) {
                return Err(DialError::io(
                    std::io::ErrorKind::InvalidInput,
                    UpstreamCause::Loop,
                    format!("{host}:{port} is trakt-doctor itself; refusing to loop"),
                ));
            }
        }
        let mut last_error = None;
        for addr in addrs {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => {
                    let (cause, detail) = match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => (
                            UpstreamCause::Refused,
                            format!("nothing accepts connections on {host}:{port} ({addr})"),
                        ),
                        std::io::ErrorKind::TimedOut => (
                            UpstreamCause::ConnectTimeout,
                            format!("{host}:{port} ({addr}) did not answer"),
                        ),
                        std::io::ErrorKind::NetworkUnreachable
                        | std::io::ErrorKind::HostUnreachable => (
                            UpstreamCause::Unreachable,
                            format!("no route to {host}:{port} ({addr}): {}", os_words(&e)),
                        ),
                        _ => (
                            UpstreamCause::Other,
                            format!("cannot connect to {host}:{port} ({addr}): {}", os_words(&e)),
                        ),
                    };
                    last_error = Some(DialError::io(e.kind(), cause, detail));
                }
                Err(_) => {
                    last_error = Some(DialError::io(
                        std::io::ErrorKind::TimedOut,
                        UpstreamCause::ConnectTimeout,
                        format!(
                            "{host}:{port} ({addr}) did not answer within {} s",
                            self.connect_timeout.as_secs_f64()
                        ),
                    ))
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            DialError::io(
                std::io::ErrorKind::NotFound,
                UpstreamCause::Dns,
                format!("{host} has no address"),
            )
        }))
    }
}

/// Why the dialer could not connect: the cause, and the words that say
/// where. Carried inside an `io::Error` through hyper's connector.
#[derive(Debug)]
pub struct DialError {
    pub cause: UpstreamCause,
    pub detail: String,
}

impl DialError {
    fn io(kind: std::io::ErrorKind, cause: UpstreamCause, detail: String) -> std::io::Error {
        std::io::Error::new(kind, DialError { cause, detail })
    }
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for DialError {}

/// An OS error's text without its ` (os error 111)` tail.
fn os_words(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Whether a connection to `addr` reaches a listener on `own`.
fn is_own_address(addr: SocketAddr, own: SocketAddr) -> bool {
    if addr.port() != own.port() {
        return false;
    }
    let ip = addr.ip().to_canonical();
    let own_ip = own.ip().to_canonical();
    // Connecting to 0.0.0.0 or :: reaches this machine.
    ip == own_ip
        || ip.is_unspecified()
        || own_ip.is_unspecified() && (ip.is_loopback() || is_this_machine(ip))
}

/// Whether `ip` is one of this machine's addresses: only those can be bound.
fn is_this_machine(ip: std::net::IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

impl tower_service::Service<http::Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let dialer = self.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "URL without a host")
                })?
                .to_string();
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                });
            dialer.connect(&host, port).await.map(TokioIo::new)
        })
    }
}

/// How often an HTTP/2 connection to an upstream is PINGed when it has
/// received nothing, in use or idle in the pool, and how long the answer may
/// take: one that stalls is closed within the two (30 s, the default
/// `--upstream-timeout`) instead of waiting in the pool for the next request.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled client to upstream servers (hyper-util's legacy client) that
/// takes a connection out of the pool when a request on it is given up
/// before its answer came: the caller's `--upstream-timeout`, or its client
/// going away. An HTTP/2 connection that stalled otherwise stayed pooled,
/// and every later request to that host waited out the timeout on it too.
/// The pool has no eviction call; a poisoned connection (hyper-util's
/// [`Connected::poison`](hyper_util::client::legacy::connect::Connected::poison))
/// is what it drops at the next checkout. Requests still in flight on it
/// finish; it closes when they have.
#[derive(Clone)]
pub struct UpstreamClient {
    pooled: Client<HttpsConnector<Dialer>, ProxyBody>,
}

impl UpstreamClient {
    /// Sends `req` on a pooled (or new) connection. Dropping the future
    /// before it completes poisons the connection the request went out on.
    pub fn request(
        &self,
        mut req: http::Request<ProxyBody>,
    ) -> impl Future<Output = Result<http::Response<Incoming>, LegacyError>> + Send + 'static {
        let connection = capture_connection(&mut req);
        let answer = self.pooled.request(req);
        async move {
            let mut unanswered = PoisonOnDrop(Some(connection));
            let result = answer.await;
            // Answered, or failed in a way hyper already judged: the pool decides.
            unanswered.0 = None;
            result
        }
    }
}

/// Poisons the captured connection when dropped still holding it.
struct PoisonOnDrop(Option<CaptureConnection>);

impl Drop for PoisonOnDrop {
    fn drop(&mut self) {
        let Some(captured) = self.0.take() else {
            return;
        };
        // None: still connecting; a connection that never came is not pooled.
        let connection = captured.connection_metadata();
        if let Some(connected) = connection.as_ref() {
            tracing::debug!(
                "an upstream request was given up before its answer; its connection leaves the pool"
            );
            connected.poison();
        }
    }
}

/// The pooled clients, one per protocol choice: a request goes upstream in
/// the HTTP version its client spoke when it can (HTTP/2 clients may still get
/// HTTP/1.1 from a server without h2), so the proxy changes the traffic it
/// debugs as little as possible.
#[derive(Clone)]
pub struct Upstream {
    /// ALPN offers h2 and http/1.1.
    pub any: UpstreamClient,
    /// ALPN offers http/1.1 only.
    pub http1: UpstreamClient,
}

impl Upstream {
    pub fn new(dialer: Dialer, tls: rustls::ClientConfig) -> Self {
        Upstream {
            any: client(dialer.clone(), tls.clone()),
            http1: client_http1(dialer, tls),
        }
    }

    /// The client for a request whose client spoke `version`.
    pub fn for_version(&self, version: http::Version) -> &UpstreamClient {
        if version == http::Version::HTTP_2 {
            &self.any
        } else {
            &self.http1
        }
    }
}

fn pooled(connector: HttpsConnector<Dialer>) -> UpstreamClient {
    let pooled = Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .http2_keep_alive_interval(H2_PING_INTERVAL)
        .http2_keep_alive_timeout(H2_PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .build(connector);
    UpstreamClient { pooled }
}

/// The pooled client: TLS with ALPN (h2, http/1.1) for https, plain for http.
pub fn client(dialer: Dialer, tls: rustls::ClientConfig) -> UpstreamClient {
    pooled(
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(dialer),
    )
}

fn client_http1(dialer: Dialer, tls: rustls::ClientConfig) -> UpstreamClient {
    pooled(
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(dialer),
    )
}

/// An upstream request that failed: its cause and the record's message.
pub fn failure(error: &hyper_util::client::legacy::Error, target: &str) -> ExchangeError {
    let (cause, detail) = classify(error, error.is_connect());
    ExchangeError::new(cause.kind(), cause.message(target, &detail))
}

/// The cause of an upstream failure and the words that say where, from
/// its chain of sources: the dialer's own [`DialError`], a rustls error
/// (the certificate, or the handshake), an OS error's kind, or hyper's
/// reason. `connecting` says whether the connection was being set up (an
/// end of stream there is a failed TLS handshake). Never Rust debug output.
pub(crate) fn classify(
    error: &(dyn std::error::Error + 'static),
    connecting: bool,
) -> (UpstreamCause, String) {
    let mut found_io = None;
    let mut found_hyper = None;
    let mut next = Some(error);
    // Bounded: a chain is a handful of wrappers deep.
    for _ in 0..32 {
        let Some(cause) = next else { break };
        if let Some(dial) = cause.downcast_ref::<DialError>() {
            return (dial.cause, dial.detail.clone());
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            let words = crate::tls::problem::handshake_problem(tls);
            return match tls {
                rustls::Error::InvalidCertificate(_) => (UpstreamCause::Certificate, words),
                _ => (UpstreamCause::Handshake, words),
            };
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            found_hyper.get_or_insert(hyper);
        }
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => {
                found_io.get_or_insert(io);
                // An io::Error hides the error it wraps from `source()`
                // (which skips to that error's own source): step into it.
                match io.get_ref() {
                    Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                    None => cause.source(),
                }
            }
            None => cause.source(),
        };
    }
    if let Some(io) = found_io {
        use std::io::ErrorKind as K;
        let words = os_words(io);
        return match io.kind() {
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                (UpstreamCause::Reset, words)
            }
            K::UnexpectedEof if connecting => (
                UpstreamCause::Handshake,
                "the server closed the connection during the handshake".into(),
            ),
            K::UnexpectedEof => (UpstreamCause::Closed, words),
            K::TimedOut => (UpstreamCause::ConnectTimeout, words),
            K::ConnectionRefused => (UpstreamCause::Refused, words),
            _ => (UpstreamCause::Other, words),
        };
    }
    if let Some(hyper) = found_hyper {
        if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
            return (
                UpstreamCause::Closed,
                "it closed the connection before a complete response".into(),
            );
        }
        return (UpstreamCause::Other, hyper.to_string());
    }
    (UpstreamCause::Other, innermost(error))
}

/// The text of the deepest cause (wrappers such as "client error
/// (Connect)" say nothing a person can act on).
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}

/// An upstream failure in words: its cause and where ("the connection was
/// refused: nothing accepts connections on ..."), then what to do.
pub fn in_words(error: &(dyn std::error::Error + 'static)) -> String {
    let (cause, detail) = classify(error, false);
    format!("{}: {detail}; {}", cause.title(), cause.advice())
}

/// The chain of causes of an error, joined: "connection error: broken pipe"
/// (for failures that are not the upstream's, such as a client connection's).
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_addresses_are_recognised_in_any_form() {
        let own: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for addr in [
            "127.0.0.1:8080",
            "0.0.0.0:8080",
            "[::ffff:127.0.0.1]:8080",
            "[::]:8080",
        ] {
            assert!(is_own_address(addr.parse().unwrap(), own), "{addr}");
        }
        for addr in [
            "127.0.0.1:8081",
            "127.0.0.2:8080",
            "192.0.2.1:8080",
            "[::1]:8080",
        ] {
            assert!(!is_own_address(addr.parse().unwrap(), own), "{addr}");
        }
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(is_own_address("127.0.0.5:8080".parse().unwrap(), any));
        assert!(is_own_address("[::1]:8080".parse().unwrap(), any));
        assert!(!is_own_address("192.0.2.1:8080".parse().unwrap(), any));
    }

    /// A wrapper like hyper-util's "client error (Connect)", whose source is `inner`.
    #[derive(Debug)]
    struct Wrapper(Box<dyn std::error::Error + Send + Sync>);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    fn wrapped(io: std::io::Error) -> Wrapper {
        Wrapper(Box::new(io))
    }

    #[test]
    fn each_cause_is_told_apart_through_the_chain_in_words() {
        let dial = |cause, detail: &str| {
            wrapped(DialError::io(
                std::io::ErrorKind::Other,
                cause,
                detail.into(),
            ))
        };
        // As hyper-rustls reports it: an io::Error around tokio-rustls's io::Error around rustls's.
        let tls = |e: rustls::Error| {
            wrapped(std::io::Error::other(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e,
            )))
        };
        let cases: Vec<(Wrapper, bool, UpstreamCause, &str)> = vec![
            (
                dial(
                    UpstreamCause::Dns,
                    "cannot resolve x.invalid: Name or service not known",
                ),
                true,
                UpstreamCause::Dns,
                "cannot resolve x.invalid",
            ),
            (
                dial(UpstreamCause::Refused, "nothing accepts connections on a:1"),
                true,
                UpstreamCause::Refused,
                "nothing accepts",
            ),
            (
                tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                )),
                true,
                UpstreamCause::Certificate,
                "it is signed by an unknown issuer",
            ),
            (
                tls(rustls::Error::AlertReceived(
                    rustls::AlertDescription::ProtocolVersion,
                )),
                true,
                UpstreamCause::Handshake,
                "alert \"protocol version\"",
            ),
            (
                wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                false,
                UpstreamCause::Reset,
                "reset",
            ),
            (
                wrapped(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                true,
                UpstreamCause::Handshake,
                "during the handshake",
            ),
            (
                wrapped(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                false,
                UpstreamCause::Closed,
                "",
            ),
        ];
        for (error, connecting, cause, words) in cases {
            let (found, detail) = classify(&error, connecting);
            assert_eq!(found, cause, "{detail}");
            assert!(detail.contains(words), "{detail}");
            for debug in ["client error", "Other(", "Custom {", "kind:"] {
                assert!(!detail.contains(debug), "{detail}");
            }
        }
        // The message names the cause once, and reads back as it.
        let (cause, detail) = classify(&dial(UpstreamCause::Refused, "nothing here"), true);
        let message = cause.message("https://api.trakt.tv/x", &detail);
        assert_eq!(
            message,
            "trakt-doctor could not get a response from https://api.trakt.tv/x: \
             the connection was refused: nothing here"
        );
        assert_eq!(UpstreamCause::of_recorded(&message), Some(cause));
    }
}
