//! Idle and stalled HTTP/2 connections (issue 27): on the client side an
//! idle decrypted connection is closed after `--header-timeout`, so idle
//! HTTP/2 clients cannot hold every `--max-connections` slot; on the
//! upstream side a pooled HTTP/2 connection that stalls costs one
//! `--upstream-timeout`, not one per later request. Loopback only; every
//! wait is bounded in seconds.

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP/2 client connection through the proxy to api.trakt.tv, and a
/// channel that says when the connection ended.
struct H2Client {
    send: SendRequest<Empty<Bytes>>,
    ended: tokio::sync::oneshot::Receiver<Instant>,
}

async fn h2_client(
    proxy: std::net::SocketAddr,
    proxy_ca: &rustls_pki_types::CertificateDer<'static>,
) -> H2Client {
    let tls = connect_through(proxy, "api.trakt.tv", 443, proxy_ca, &[b"h2"]).await;
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(&b"h2"[..]),
        "h2 negotiated"
    );
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("h2 handshake through the proxy");
    let (tx, ended) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = conn.await;
        let _ = tx.send(Instant::now());
    });
    H2Client { send, ended }
}

/// GET `path` on `send`; the status and body, within `wait`.
async fn get(send: &mut SendRequest<Empty<Bytes>>, path: &str, wait: Duration) -> (u16, String) {
    let req = http::Request::get(format!("https://api.trakt.tv{path}"))
        .header("trakt-api-version", "2")
        .header("user-agent", "h2-idle-test/1")
        .body(Empty::new())
        .unwrap();
    let answer = async {
        let response = send.send_request(req).await.expect("an answer");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(wait, answer)
        .await
        .unwrap_or_else(|_| panic!("no answer to {path} within {wait:?}"))
}

/// Opens a tunnel and says what the proxy answered to the CONNECT.
async fn connect_answer(proxy: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(b"CONNECT api.trakt.tv:443 HTTP/1.1\r\nHost: api.trakt.tv:443\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("an answer to CONNECT")
        .unwrap_or(0);
    String::from_utf8_lossy(&head[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_free_their_slots_after_the_header_timeout() {
    // 3 s: long enough for ten clients to connect before the first is idle.
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let mut args = route_to(&fake, &ca);
    args.extend(["--max-connections", "10", "--header-timeout", "3"].map(String::from));
    let proxy = ProxyProcess::start(&args);
    let proxy_ca = read_cert(&proxy.ca_path());

    // Ten clients, one request each, then quiet: every slot is taken.
    let mut clients = Vec::new();
    for _ in 0..10 {
        let mut client = h2_client(proxy.addr, &proxy_ca).await;
        let (status, _) = get(
            &mut client.send,
            "/movies/trending",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(status, 200);
        clients.push((client, Instant::now()));
    }
    let answer = connect_answer(proxy.addr).await;
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "an 11th client while ten are open: {answer}"
    );

    // Each is closed by the proxy once quiet for 3 s, within a few seconds more.
    for (i, (client, quiet_since)) in clients.into_iter().enumerate() {
        let ended = tokio::time::timeout(Duration::from_secs(10), client.ended)
            .await
            .unwrap_or_else(|_| panic!("idle connection {i} still open after 10 s"))
            .expect("the connection task ended");
        let idle = ended.duration_since(quiet_since);
        assert!(
            idle >= Duration::from_millis(2500) && idle < Duration::from_secs(7),
            "connection {i} closed after {idle:?} idle (--header-timeout 3)"
        );
        drop(client.send);
    }

    // The slots are free: an 11th client gets through.
    let mut late = h2_client(proxy.addr, &proxy_ca).await;
    let (status, _) = get(&mut late.send, "/movies/trending", Duration::from_secs(10)).await;
    assert_eq!(status, 200, "a client after the idle ones were closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_request_is_not_idleness() {
    let ca = TestCa::new();
    // Answers after 3 s, longer than the 1 s header timeout.
    let slow = Arc::new(|_: &Received| Reply {
        delay: Duration::from_secs(3),
        ..Reply::json(200, "{}")
    });
    let fake = FakeUpstream::start(&ca, slow).await;
    let mut args = route_to(&fake, &ca);
    args.extend(["--header-timeout", "1", "--upstream-timeout", "10"].map(String::from));
    let proxy = ProxyProcess::start(&args);
    let proxy_ca = read_cert(&proxy.ca_path());
    let mut client = h2_client(proxy.addr, &proxy_ca).await;
    let (status, body) = get(
        &mut client.send,
        "/movies/trending",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    // Quiet afterwards: closed as any idle connection is.
    let ended = tokio::time::timeout(Duration::from_secs(8), client.ended).await;
    assert!(ended.is_ok(), "idle after its answer, still open after 8 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http1_connection_is_closed_after_the_header_timeout_too() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let mut args = route_to(&fake, &ca);
    args.extend(["--header-timeout", "1"].map(String::from));
    let proxy = ProxyProcess::start(&args);
    let proxy_ca = read_cert(&proxy.ca_path());
    let mut tls = connect_through(proxy.addr, "api.trakt.tv", 443, &proxy_ca, &[b"http/1.1"]).await;
    tls.write_all(
        b"GET /movies/trending HTTP/1.1\r\nHost: api.trakt.tv\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the answer, then wait for the proxy to close the quiet connection.
    let closed = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    assert!(
        closed.is_ok(),
        "an idle HTTP/1.1 connection still open after 8 s"
    );
}

/// A TLS stream that goes silent (reads and writes never complete) once
/// `frozen` is set: an upstream connection that stalled.
struct Freezable<S> {
    inner: S,
    frozen: Arc<AtomicBool>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Freezable<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.frozen.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Freezable<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.frozen.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.frozen.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An HTTP/2-only upstream on 127.0.0.1 that answers 200 "ok", except that
/// a request for `/stall` freezes its whole connection. Returns its address
/// and the number of connections it accepted.
async fn stalling_upstream(ca: &TestCa) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let acceptor = ca.acceptor(FAKE_NAMES, &[b"h2"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let frozen = Arc::new(AtomicBool::new(false));
                let io = Freezable {
                    inner: tls,
                    frozen: frozen.clone(),
                };
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let frozen = frozen.clone();
                        async move {
                            if req.uri().path() == "/stall" {
                                frozen.store(true, Ordering::SeqCst);
                                std::future::pending::<()>().await;
                            }
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from_static(b"ok"),
                            )))
                        }
                    });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(io), service)
                    .await;
            });
        }
    });
    (addr, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_http2_connection_costs_one_timeout() {
    let ca = TestCa::new();
    let (upstream, connections) = stalling_upstream(&ca).await;
    let mut args = route_to_addr(upstream, &ca);
    args.extend(["--upstream-timeout", "2"].map(String::from));
    let proxy = ProxyProcess::start(&args);
    let proxy_ca = read_cert(&proxy.ca_path());
    let mut client = h2_client(proxy.addr, &proxy_ca).await;

    // The pooled connection is reused while it answers.
    for _ in 0..2 {
        let (status, body) = get(
            &mut client.send,
            "/movies/trending",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one pooled upstream connection"
    );

    // It stalls: that request waits out the timeout once.
    let started = Instant::now();
    let (status, _) = get(&mut client.send, "/stall", Duration::from_secs(10)).await;
    assert_eq!(status, 504, "the stalled request");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // The next requests get a fresh connection, and it is pooled in turn: a
    // 504 here would be the request waiting on the stalled connection.
    for i in 0..3 {
        let (status, body) = get(
            &mut client.send,
            "/movies/trending",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (200, "ok"),
            "request {i} after the stall"
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "one fresh upstream connection"
    );
}
