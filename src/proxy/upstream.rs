//! Connections to upstream servers: the dialer (with `--resolve`
//! overrides and a connect timeout) and the pooled HTTP/1.1 + HTTP/2
//! client built on it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::body::ProxyBody;
use crate::exchange::ErrorKind;
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
        Ok(
            tokio::time::timeout(self.connect_timeout, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| timed_out(format!("looking up {host} took too long")))?
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))?
                .collect(),
        )
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

    /// Connects to `host:port`, trying each address in turn.
    pub async fn connect(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = self.addresses(host, port).await?;
        if let Some(own) = self.own {
            if addrs.iter().any(|addr| is_own_address(*addr, own)) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
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
                    last_error = Some(std::io::Error::new(
                        e.kind(),
                        format!("cannot connect to {host}:{port} ({addr}): {e}"),
                    ))
                }
                Err(_) => {
                    last_error = Some(timed_out(format!(
                        "connecting to {host}:{port} ({addr}) took longer than {:?}",
                        self.connect_timeout
                    )))
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host} has no address"),
            )
        }))
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

fn timed_out(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, message)
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

pub type UpstreamClient = Client<HttpsConnector<Dialer>, ProxyBody>;

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
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
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

/// What kind of failure an upstream request error is: a TLS failure
/// anywhere in its causes, else a failed connection, else something later.
pub fn kind(error: &hyper_util::client::legacy::Error) -> ErrorKind {
    kind_of_chain(error, error.is_connect())
}

fn kind_of_chain(error: &(dyn std::error::Error + 'static), connecting: bool) -> ErrorKind {
    let mut source = Some(error);
    while let Some(cause) = source {
        // An io::Error hides the error it wraps from `source()`: look inside.
        let inner = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if cause.is::<rustls::Error>() || inner.is_some_and(|i| i.is::<rustls::Error>()) {
            return ErrorKind::UpstreamTls;
        }
        source = cause.source();
    }
    if connecting {
        ErrorKind::UpstreamUnreachable
    } else {
        ErrorKind::UpstreamFailed
    }
}

/// The chain of causes of an error, joined: "client error (Connect): tcp connect error: refused".
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

    #[test]
    fn a_tls_failure_is_told_from_a_refused_connection() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            kind_of_chain(&refused, true),
            ErrorKind::UpstreamUnreachable
        );
        assert_eq!(kind_of_chain(&refused, false), ErrorKind::UpstreamFailed);
        // As tokio-rustls reports a bad certificate: a rustls error inside an io::Error.
        let certificate = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(kind_of_chain(&certificate, true), ErrorKind::UpstreamTls);
    }
}
