//! The client side: a route (direct, or through a proxy's CONNECT tunnel)
//! with its TLS configuration, opening a keep-alive connection on it, and
//! one scrobble (or `/big`) request as a Trakt client sends it.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::upstream::provider;

/// The request body of every scrobble.
pub(crate) const SCROBBLE: &str = r#"{"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28,"slug":"guardians-of-the-galaxy-2014","imdb":"tt2015381","tmdb":118340}},"progress":1.25,"app_version":"1.0","app_date":"2014-09-22"}"#;

#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) name: String,
    /// Where to open TCP connections.
    pub(crate) connect_to: SocketAddr,
    /// `Some` when `connect_to` is a proxy: the CONNECT target.
    pub(crate) tunnel: Option<(String, u16)>,
    /// The name in the URL and SNI.
    pub(crate) host: String,
    /// One client configuration per route, trusting that route's CA; like
    /// a browser, it keeps TLS sessions and resumes them on new connections.
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) pid: Option<u32>,
}

impl Route {
    pub(crate) fn new(
        name: &str,
        connect_to: SocketAddr,
        tunnel: Option<(&str, u16)>,
        host: &str,
        trust: CertificateDer<'static>,
        pid: Option<u32>,
    ) -> Route {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(trust).expect("a usable CA certificate");
        let mut tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Route {
            name: name.to_string(),
            connect_to,
            tunnel: tunnel.map(|(host, port)| (host.to_string(), port)),
            host: host.to_string(),
            tls: Arc::new(tls),
            pid,
        }
    }
}

pub(crate) async fn open(route: &Route) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let mut stream = TcpStream::connect(route.connect_to).await?;
    stream.set_nodelay(true)?;
    if let Some((host, port)) = &route.tunnel {
        stream
            .write_all(
                format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").as_bytes(),
            )
            .await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await? == 0 {
                return Err(std::io::Error::other("proxy closed during CONNECT"));
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 200") && !head.starts_with(b"HTTP/1.0 200") {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&head).into_owned(),
            ));
        }
    }
    let name = ServerName::try_from(route.host.clone()).map_err(std::io::Error::other)?;
    let tls = tokio_rustls::TlsConnector::from(route.tls.clone())
        .connect(name, stream)
        .await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(sender)
}

pub(crate) fn scrobble_request(route: &Route, path: &str) -> http::Request<Full<Bytes>> {
    let authority = match &route.tunnel {
        Some((host, port)) if *port != 443 => format!("{host}:{port}"),
        _ => route.host.clone(),
    };
    let (method, body) = if path == "/big" {
        ("GET", "")
    } else {
        ("POST", SCROBBLE)
    };
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .header("content-type", "application/json")
        .header("user-agent", "trakt-doctor-bench/1.0")
        .header(
            "trakt-api-key",
            "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
        )
        .header("trakt-api-version", "2")
        .header(
            "authorization",
            "Bearer 5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b",
        )
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request")
}

/// One scrobble (or `/big`) request on `sender`: the answer's length.
pub(crate) async fn one(
    sender: &mut SendRequest<Full<Bytes>>,
    route: &Route,
    path: &str,
) -> std::io::Result<usize> {
    let (_, bytes) = send(sender, scrobble_request(route, path)).await?;
    Ok(bytes.len())
}

/// Sends `request` once the connection is ready: the answer's head and its whole body.
pub(crate) async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: http::Request<Full<Bytes>>,
) -> std::io::Result<(http::response::Parts, Bytes)> {
    sender.ready().await.map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let (head, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((head, bytes))
}
