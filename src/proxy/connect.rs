//! CONNECT: decide between decrypting (intercepted hosts) and a blind byte
//! tunnel (every other host), each step a function of its own:
//! read the target, decide, then accept TLS (or plain HTTP) and serve.
//! A decrypted connection with no request open for `--header-timeout` is
//! closed, HTTP/2 included, so idle clients give their slots back.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::Instrument;

use super::body::{self, ProxyBody};
use super::forward::{self, Target};
use super::io::Rewind;
use super::pending::DrainAfterPoll;
use super::shared::Shared;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Answers a CONNECT request and starts the tunnel behind it.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<ProxyBody> {
    let (host, port) = match connect_target(&req) {
        Ok(target) => target,
        Err(message) => {
            tracing::warn!(
                "refused CONNECT {}: {message}",
                crate::redact::without_userinfo(&req.uri().to_string())
            );
            return crate::respond::error(StatusCode::BAD_REQUEST, &message);
        }
    };
    if shared.is_self(&host, port).await {
        tracing::warn!("refused CONNECT {host}:{port}: that is trakt-doctor itself");
        return crate::respond::error(
            StatusCode::LOOP_DETECTED,
            "this CONNECT is addressed to trakt-doctor itself; refusing to loop",
        );
    }
    if shared.is_intercepted(&host) {
        let target = Target {
            scheme: "https",
            host,
            port,
        };
        let tracked = shared.clone();
        // Who asked, for the words if its TLS then refuses the certificate.
        let agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // A task of its own, still logged under the client connection's span.
        tracked.tasks.spawn(
            async move {
                match hyper::upgrade::on(req).await {
                    Ok(upgraded) => intercept(shared, target, agent, TokioIo::new(upgraded)).await,
                    Err(e) => tracing::debug!("CONNECT upgrade failed: {e}"),
                }
            }
            .in_current_span(),
        );
        return ok_response();
    }
    // Dial first, so an unreachable origin gets a 502 and not an empty tunnel.
    let upstream = match shared.dialer.connect(&host, port).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!("tunnel to {host}:{port} failed: {e}");
            return crate::respond::error(
                StatusCode::BAD_GATEWAY,
                &format!("trakt-doctor could not open a tunnel to {host}:{port}: {e}"),
            );
        }
    };
    let tracked = shared.clone();
    tracked.tasks.spawn(
        async move {
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => tunnel(&host, port, TokioIo::new(upgraded), upstream).await,
                Err(e) => tracing::debug!("CONNECT upgrade failed: {e}"),
            }
        }
        .in_current_span(),
    );
    ok_response()
}

fn ok_response() -> Response<ProxyBody> {
    Response::new(body::empty())
}

/// The host and port of a CONNECT request, validated.
fn connect_target<B>(req: &Request<B>) -> Result<(String, u16), String> {
    let authority = req
        .uri()
        .authority()
        .ok_or_else(|| "CONNECT needs a HOST:PORT target".to_string())?;
    // Never repeat credentials (`user:pw@host:443`) in a message.
    let shown = crate::redact::without_userinfo(authority.as_str());
    let port = match (authority.port_u16(), authority.port()) {
        (Some(port), _) => port,
        // `http` keeps digits that do not fit in 16 bits as a port it cannot number.
        (None, Some(raw)) => {
            return Err(format!(
                "CONNECT target `{shown}` has port {raw}, out of range (1-65535)"
            ))
        }
        (None, None) if has_port_digits(authority.as_str()) => {
            return Err(format!(
                "CONNECT target `{shown}` has a port out of range (1-65535)"
            ))
        }
        (None, None) => return Err(format!("CONNECT target `{shown}` has no port")),
    };
    if port == 0 {
        return Err(format!("CONNECT target `{shown}` has port 0"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("CONNECT target `{shown}` has no host"));
    }
    Ok((host, port))
}

/// Whether an authority ends in `:` and digits (after any IPv6 brackets).
fn has_port_digits(authority: &str) -> bool {
    let after_host = authority.rsplit(']').next().unwrap_or(authority);
    after_host
        .rsplit_once(':')
        .is_some_and(|(_, digits)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Copies bytes both ways until either side closes. Never decrypts.
async fn tunnel<C>(host: &str, port: u16, mut client: C, mut upstream: TcpStream)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        Ok((up, down)) => {
            tracing::debug!("tunnel {host}:{port} closed ({up} bytes up, {down} down)")
        }
        Err(e) => tracing::debug!("tunnel {host}:{port} ended: {e}"),
    }
}

/// Decrypts an intercepted tunnel: peeks at the first bytes to tell a TLS
/// handshake from plain HTTP, then serves HTTP/1.1 or HTTP/2 on it.
async fn intercept<C>(shared: Arc<Shared>, target: Target, agent: Option<String>, mut client: C)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut first = vec![0u8; 4096];
    let read = tokio::time::timeout(shared.settings.header_timeout, client.read(&mut first)).await;
    let n = match read {
        Ok(Ok(0)) => return,
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            tracing::debug!("tunnel to {} closed: {e}", target.host);
            return;
        }
        Err(_) => {
            tracing::warn!("tunnel to {} sent nothing in time; closed", target.host);
            return;
        }
    };
    first.truncate(n);
    let is_tls = first[0] == TLS_HANDSHAKE;
    let stream = Rewind::new(Bytes::from(first), client);
    if !is_tls {
        let plain = Target {
            scheme: "http",
            ..target
        };
        return serve_http(shared, plain, stream).await;
    }
    let config = match shared.certs.server_config(&target.host) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("{e}");
            return;
        }
    };
    let timeout = shared.settings.header_timeout;
    let mut clock = super::stages::Clock::start();
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    let Ok(handshake) = tokio::time::timeout(timeout, handshake).await else {
        tracing::warn!(
            "TLS handshake for {} did not finish within {} s (--header-timeout); closed",
            target.host,
            timeout.as_secs_f64()
        );
        return;
    };
    match handshake {
        Ok(tls) => {
            clock.lap(super::stages::Stage::Tls);
            serve_http(shared, target, tls).await
        }
        Err(e) => match refused_certificate(&e) {
            Some(alert) if !TOLD_UNTRUSTED.swap(true, std::sync::atomic::Ordering::Relaxed) => {
                // The web view's banner says it too, once per client and host.
                shared.web.untrusted_ca(&target.host, agent.as_deref(), &alert);
                tracing::warn!(
                    "{}",
                    untrusted_ca_words(&target.host, agent.as_deref(), &alert, shared.local_addr)
                )
            }
            Some(alert) => {
                shared.web.untrusted_ca(&target.host, agent.as_deref(), &alert);
                tracing::debug!(
                    "a client refused the certificate for {} again ({alert})",
                    target.host
                )
            }
            None => tracing::warn!(
                "TLS handshake for {} failed: {e}. If the client reports a certificate error, \
                 it does not trust the trakt-doctor CA yet: download it from http://{}/ca and trust it",
                target.host,
                shared.local_addr
            ),
        },
    }
}

/// Whether the untrusted-CA explanation was given: once per run is enough
/// (every connection of that client fails the same way).
static TOLD_UNTRUSTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The alert a client's TLS sent when it refused the certificate trakt-doctor
/// minted (it does not trust the CA), if that is why the handshake failed.
fn refused_certificate(error: &std::io::Error) -> Option<String> {
    use rustls::AlertDescription as Alert;
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(
            alert @ (Alert::UnknownCA
            | Alert::BadCertificate
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate),
        ) => Some(format!("{alert:?}")),
        _ => None,
    }
}

/// The untrusted-CA explanation, in words: which client refused, that
/// `ca trust` is the fix for browsers and Stremio, and the programs that
/// keep trust stores of their own.
fn untrusted_ca_words(
    host: &str,
    agent: Option<&str>,
    alert: &str,
    local: std::net::SocketAddr,
) -> String {
    let who = agent.map_or_else(
        || "a client".to_string(),
        // A User-Agent is the client's text: shown with control characters
        // made visible, and not at any length.
        |a| {
            let shown: String = a.chars().take(120).collect();
            format!("a client ({})", crate::log::terminal::visible(&shown))
        },
    );
    format!(
        "{who} refused trakt-doctor's certificate for {host} (its TLS said {alert}): it does not \
         trust the trakt-doctor CA. Browsers and the Stremio apps: run `trakt-doctor ca trust` \
         (or download http://{local}/ca and trust it). {} Told once; later refusals are not \
         repeated",
        crate::guide::OWN_TRUST_STORES
    )
}

/// Most requests one client connection may have open at once (HTTP/2's
/// SETTINGS_MAX_CONCURRENT_STREAMS). hyper's default is 200; 100 is what
/// browsers expect of servers and bounds what one connection slot can hold.
const H2_MAX_STREAMS: u32 = 100;

/// How long a connection closed for idleness may take to say goodbye (an
/// HTTP/2 GOAWAY waits for the client's answer to a PING) before it is
/// simply dropped: a client that went silent must not keep its slot.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves decrypted HTTP/1.1 or HTTP/2 requests for one intercepted host.
///
/// A connection with no request open for `--header-timeout` is closed
/// gracefully, whatever its protocol: HTTP/1.1 gets this from hyper's
/// header timeout (the wait for the next request head), HTTP/2 has no such
/// timer in hyper, so [`Activity`] counts the open requests and
/// [`Activity::idle_for`] ends the connection. Without it, idle HTTP/2
/// connections (which browsers keep for reuse) held their
/// `--max-connections` slots for good. Keep-alive PINGs close a connection
/// whose client stopped answering even while a request is open.
async fn serve_http<S>(shared: Arc<Shared>, target: Target, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let idle_limit = shared.settings.header_timeout;
    let activity = Activity::new();
    let service = {
        let shared = shared.clone();
        let target = target.clone();
        let budget = shared.body_budget();
        let activity = activity.clone();
        service_fn(move |req| {
            // Taken before the request is served, released when its answer has been sent.
            let open = activity.open();
            let answer = forward::serve(shared.clone(), target.clone(), budget.clone(), req);
            async move {
                let response = answer.await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| OpenBody { body, _open: open }),
                )
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_limit);
    builder
        .http2()
        .timer(TokioTimer::new())
        // A client that does not answer a PING within the header timeout is gone.
        .keep_alive_interval(idle_limit)
        .keep_alive_timeout(idle_limit)
        .max_concurrent_streams(H2_MAX_STREAMS);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stop = shared.stop.clone();
    let finisher = &shared.finisher;
    let result = tokio::select! {
        result = DrainAfterPoll::new(finisher, conn.as_mut()) => result,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            DrainAfterPoll::new(finisher, conn).await
        }
        _ = activity.idle_for(idle_limit) => {
            tracing::debug!(
                "tunnel to {}: no request for {} s (--header-timeout); closing it",
                target.host,
                idle_limit.as_secs_f64()
            );
            conn.as_mut().graceful_shutdown();
            let closing = DrainAfterPoll::new(finisher, conn.as_mut());
            tokio::time::timeout(IDLE_CLOSE_GRACE, closing)
                .await
                .unwrap_or(Ok(()))
        }
    };
    if let Err(e) = result {
        match e.downcast_ref::<hyper::Error>() {
            Some(hyper_error) => super::io::report_connection_error(
                &format!("tunnel to {}", target.host),
                hyper_error,
            ),
            None => tracing::warn!("tunnel to {}: {e}", target.host),
        }
    }
}

/// The requests open on one client connection, watched so the connection
/// can tell when it has been idle long enough to close.
#[derive(Clone)]
struct Activity(Arc<watch::Sender<usize>>);

impl Activity {
    fn new() -> Self {
        Activity(Arc::new(watch::Sender::new(0)))
    }

    /// Counts a request as open until the returned guard is dropped.
    fn open(&self) -> Open {
        self.0.send_modify(|n| *n += 1);
        Open(self.0.clone())
    }

    /// Completes once no request has been open for `limit` in a row.
    async fn idle_for(&self, limit: Duration) {
        let mut open = self.0.subscribe();
        loop {
            // The sender lives in `self`: these waits cannot fail while we run.
            if open.wait_for(|n| *n == 0).await.is_err() {
                return std::future::pending().await;
            }
            match tokio::time::timeout(limit, open.changed()).await {
                Err(_elapsed) => return,
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return std::future::pending().await,
            }
        }
    }
}

/// One open request; dropping it (the answer sent, or the request given
/// up) closes it.
struct Open(Arc<watch::Sender<usize>>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body that keeps its request counted as open until hyper has
/// sent it all (or dropped it): a long download is not idleness.
struct OpenBody {
    body: ProxyBody,
    _open: Open,
}

impl hyper::body::Body for OpenBody {
    type Data = Bytes;
    type Error = body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(target: &str) -> Result<(String, u16), String> {
        let req = Request::builder()
            .method("CONNECT")
            .uri(target)
            .body(())
            .unwrap();
        connect_target(&req)
    }

    #[test]
    fn connect_targets_need_host_and_nonzero_port() {
        assert_eq!(
            connect("API.trakt.tv:443").unwrap(),
            ("api.trakt.tv".into(), 443)
        );
        assert_eq!(connect("[::1]:8443").unwrap(), ("::1".into(), 8443));
        assert!(connect("api.trakt.tv:0").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn idleness_is_a_full_limit_without_an_open_request() {
        let limit = Duration::from_secs(10);
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        activity.idle_for(limit).await;
        assert_eq!(started.elapsed(), limit, "idle from the start");

        // A request open past the limit, then one that ends at 4 s: idle at 14 s.
        let long = activity.open();
        let started = tokio::time::Instant::now();
        let watcher = activity.clone();
        let idle = tokio::spawn(async move { watcher.idle_for(limit).await });
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert!(!idle.is_finished(), "closed while a request was open");
        drop(long);
        let short = activity.open();
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(short);
        idle.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(39));
    }

    #[test]
    fn a_port_beyond_65535_is_out_of_range_not_missing() {
        let err = connect("api.trakt.tv:99999").unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        let err = connect("[::1]:70000").unwrap_err();
        assert!(err.contains("out of range"), "{err}");
    }
}
