//! The proxy: the only async code. It accepts client connections, answers
//! CONNECT (decrypting intercepted hosts, tunnelling the rest), forwards
//! plain-HTTP proxy requests, serves its own pages, and shuts down gracefully.

pub mod body;
pub mod connect;
pub mod fdlimit;
pub mod forward;
pub mod io;
pub mod local;
pub mod memory;
pub mod originals;
pub mod pending;
pub mod resend;
pub mod shared;
pub mod stages;
pub mod upstream;

pub use shared::{ProxyParts, Settings, Shared};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::Instrument;

use body::ProxyBody;
use forward::Target;

/// A bound proxy, ready to [`run`](Proxy::run).
pub struct Proxy {
    listener: TcpListener,
    shared: Arc<Shared>,
    stop_tx: watch::Sender<bool>,
}

impl Proxy {
    pub async fn bind(listen: SocketAddr, parts: ProxyParts) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(listen).await?;
        stages::init_from_env();
        let local_addr = listener.local_addr()?;
        let (stop_tx, stop) = watch::channel(false);
        let shared = Arc::new(Shared::new(parts, local_addr, stop));
        Ok(Proxy {
            listener,
            shared,
            stop_tx,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The web view's link with this run's unlock secret: for the start
    /// banner only (whoever opens it may resend and reveal secrets).
    pub fn unlock_link(&self) -> String {
        self.shared.web.unlock_link(self.shared.local_addr)
    }

    /// What resends this proxy's exchanges (and holds their originals).
    pub fn resender(&self) -> Arc<resend::Resender> {
        self.shared.resender.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting, asks every
    /// connection to finish, and waits for them up to the grace period.
    /// Whatever is still running after that is dropped when the runtime
    /// shuts down, and logs itself as cut short.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Proxy {
            listener,
            shared,
            stop_tx,
        } = self;
        tokio::pin!(shutdown);
        let mut accept_errors = 0u64;
        let mut backoff = ACCEPT_BACKOFF_MIN;
        let mut refused = 0u64;
        let mut connections = 0u64;
        let mut last_report = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        backoff = ACCEPT_BACKOFF_MIN;
                        let _ = stream.set_nodelay(true);
                        // Every connection and tunnel is a tracked task: that count is the load.
                        if shared.tasks.len() >= shared.settings.max_connections {
                            refused += 1;
                            if last_report.elapsed() >= Duration::from_secs(5) {
                                tracing::warn!(
                                    "connection limit ({}) reached: answered 503 to {refused} new connection(s); raise --max-connections if this is expected",
                                    shared.settings.max_connections
                                );
                                last_report = std::time::Instant::now();
                                refused = 0;
                            }
                            tokio::spawn(refuse_busy(stream, shared.settings.max_connections));
                            continue;
                        }
                        connections += 1;
                        // Every line logged for this client carries its address and number.
                        let span = tracing::info_span!("connection", id = connections, %peer);
                        let accepted = stages::Clock::start();
                        shared
                            .tasks
                            .spawn(serve_client(shared.clone(), stream, peer, accepted).instrument(span));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: said once, then
                        // counted; waiting longer each time, so it neither spins nor floods.
                        accept_errors += 1;
                        if accept_errors == 1 {
                            tracing::warn!(
                                "cannot accept a connection: {e}{}; retrying with back-off \
                                 (further errors are counted and reported at shutdown)",
                                if is_out_of_files(&e) { " (out of file descriptors: lower --max-connections or raise `ulimit -n`)" } else { "" }
                            );
                        }
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    }
                },
            }
        }
        drop(listener);
        if accept_errors > 1 {
            tracing::warn!("{accept_errors} connection(s) could not be accepted during this run");
        }
        let _ = stop_tx.send(true);
        shared.tasks.close();
        let grace = shared.settings.shutdown_grace;
        if tokio::time::timeout(grace, shared.tasks.wait())
            .await
            .is_err()
        {
            shared.shutdown_cut.store(true, Ordering::Relaxed);
            tracing::warn!(
                "{} connection(s) still open after {:?}; closing them",
                shared.tasks.len(),
                grace
            );
        }
        // Whatever was answered in full and not yet finished is logged now, as complete.
        shared.finisher.drain();
        stages::write_summary();
    }
}

/// The first and the longest wait after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(50);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Whether an accept failed because the process or system is out of descriptors.
#[cfg(unix)]
fn is_out_of_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Windows: sockets have no descriptor limit of their own.
#[cfg(not(unix))]
fn is_out_of_files(_: &std::io::Error) -> bool {
    false
}

/// Answers a connection over the limit with a plain 503 and closes it.
async fn refuse_busy(mut stream: TcpStream, limit: usize) {
    use tokio::io::AsyncWriteExt;
    let body = format!("trakt-doctor is at its connection limit ({limit}); retry shortly\n");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        stream.write_all(response.as_bytes()),
    )
    .await;
    let _ = stream.shutdown().await;
}

/// Serves one client connection to the proxy port (HTTP/1.1 with CONNECT upgrades).
/// `accepted` started when it was accepted (a stage timer).
async fn serve_client(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    accepted: stages::Clock,
) {
    let service = {
        let shared = shared.clone();
        let budget = shared.body_budget();
        service_fn(move |req: Request<Incoming>| {
            if req.method() == Method::CONNECT {
                accepted.total(stages::Stage::Accept);
            }
            route(shared.clone(), peer, budget.clone(), req)
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.settings.header_timeout)
        .max_buf_size(64 * 1024);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stop = shared.stop.clone();
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        io::report_connection_error("proxy connection", &e);
    }
}

/// Dispatches one request on the proxy port.
async fn route(
    shared: Arc<Shared>,
    peer: SocketAddr,
    budget: body::BodyBudget,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    if let Some(refusal) = forward::refuse_oversized_head(&req) {
        tracing::warn!(
            "refused a request head larger than {} bytes",
            forward::MAX_HEAD_BYTES
        );
        return Ok(refusal);
    }
    let proxied = req.method() == Method::CONNECT || req.uri().authority().is_some();
    if proxied && !shared.proxy_auth_ok(&req) {
        tracing::warn!(
            "refused {} {}: missing or wrong Proxy-Authorization",
            req.method(),
            // The target may carry credentials or a token: never print them in clear.
            shared
                .redactor
                .url(&crate::redact::without_userinfo(&req.uri().to_string()))
        );
        let mut response = crate::respond::error(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "trakt-doctor requires proxy credentials (--proxy-auth): set them in the client's proxy settings",
        );
        response.headers_mut().insert(
            http::header::PROXY_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"trakt-doctor\""),
        );
        return Ok(response);
    }
    if req.method() == Method::CONNECT {
        return Ok(connect::handle(shared, req).await);
    }
    let uri = req.uri().clone();
    match (uri.scheme_str(), uri.host()) {
        (Some(scheme), Some(host)) => {
            let scheme = if scheme.eq_ignore_ascii_case("https") {
                "https"
            } else {
                "http"
            };
            let port = uri
                .port_u16()
                .unwrap_or(if scheme == "https" { 443 } else { 80 });
            if shared.is_self(host, port).await {
                return Ok(local::serve(shared, peer, req).await);
            }
            let target = Target {
                scheme,
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
                port,
            };
            forward::serve(shared, target, budget, req).await
        }
        _ if uri.authority().is_none() => Ok(local::serve(shared, peer, req).await),
        _ => Ok(crate::respond::error(
            StatusCode::BAD_REQUEST,
            "the request target is neither a path nor an absolute URL",
        )),
    }
}
