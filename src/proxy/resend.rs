//! Resending a request on the user's behalf (the web view's Resend buttons
//! and `trakt-doctor replay`): the request [`crate::resend`] decided on goes
//! through the same steps as a client's — the inspection (lint, session
//! rules, auto-fix's repairs when asked), the proxy's upstream client, the
//! recording of the response — and is logged to every sink marked
//! `replay_of`. Before it leaves, the session rules are applied rather than
//! only reported: a spent OAuth code or refresh token is refused unless
//! forced, and a write waits for Trakt's one write per second.
//!
//! For the web view: `Shared::resender` (also `Proxy::resender`).
//! [`Resender::needed_secrets`] says what a form must ask for (nothing while
//! the original is kept), [`Resender::plan`] makes the request (with the
//! user's edits and secrets), [`crate::resend::describe_write`] the
//! confirmation text, [`crate::resend::with_fixes`] the "Resend with fixes"
//! preview, [`Resender::send`] sends it and returns the new exchange's id;
//! the web view's Clear also calls `resender.originals().clear()`. Copy as
//! curl is [`crate::curl::command`] on the planned (or original) request.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue};
use http_body_util::BodyExt;
use time::OffsetDateTime;

use super::body;
use super::originals::Originals;
use super::pending::{Finisher, PendingExchange, RecordingBody};
use super::upstream::Upstream;
use crate::exchange::{self, Body, ErrorKind, ExchangeError, Headers, Request};
use crate::fix::FixPolicy;
use crate::inspect::{Begun, Inspection, Inspector};
use crate::log::LogHandle;
use crate::resend::{self, Edits, NeededSecret, Refusal};

/// What a resend should do beyond sending the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResendOptions {
    /// Apply auto-fix's repairs (every rule that has one) before sending.
    pub fix: bool,
    /// Send even a spent OAuth code or refresh token.
    pub force: bool,
}

/// The outcome of a resend that was sent: the new exchange's id (its
/// record, marked `replay_of`, is in every sink) and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resent {
    pub id: u64,
    pub replay_of: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Resent {
    /// Whether the upstream accepted the request (a 2xx).
    pub fn accepted(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// How long a resend waits and how much of its answer it keeps (the proxy's own settings).
#[derive(Debug, Clone, Copy)]
pub struct ResendLimits {
    pub capture_limit: usize,
    pub upstream_timeout: Duration,
}

/// Sends requests again through the proxy's client and inspection.
pub struct Resender {
    upstream: Upstream,
    log: LogHandle,
    inspector: Arc<Inspector>,
    originals: Arc<Originals>,
    capture_limit: usize,
    upstream_timeout: Duration,
    shutdown_cut: Arc<AtomicBool>,
    /// The proxy's queue of answered exchanges waiting for their finishing.
    finisher: Arc<Finisher>,
    /// One resend at a time: the write pacing is judged against the last one.
    sending: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Resender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resender")
            .field("originals", &self.originals)
            .finish_non_exhaustive()
    }
}

/// The longest a resent write waits for the write rate (Trakt allows one a second).
const MAX_WRITE_WAIT: Duration = Duration::from_secs(1);

impl Resender {
    pub fn new(
        upstream: Upstream,
        log: LogHandle,
        inspector: Arc<Inspector>,
        originals: Arc<Originals>,
        limits: ResendLimits,
        shutdown_cut: Arc<AtomicBool>,
        finisher: Arc<Finisher>,
    ) -> Resender {
        let ResendLimits {
            capture_limit,
            upstream_timeout,
        } = limits;
        Resender {
            upstream,
            log,
            inspector,
            originals,
            capture_limit,
            upstream_timeout,
            shutdown_cut,
            finisher,
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// The originals of live exchanges (`get`, `clear`).
    pub fn originals(&self) -> &Arc<Originals> {
        &self.originals
    }

    /// The request exchange `id` was: its original while it is kept, else
    /// `record` (the redacted record the caller has: the web view's store,
    /// a file), whose secrets must then be supplied.
    pub fn source(&self, id: u64, record: Option<&Request>) -> Option<Request> {
        self.originals.get(id).or_else(|| record.cloned())
    }

    /// The secrets the user must supply to resend exchange `id` (none while
    /// its original is kept).
    pub fn needed_secrets(&self, id: u64, record: Option<&Request>) -> Vec<NeededSecret> {
        self.source(id, record)
            .map(|source| resend::needed_secrets(&source))
            .unwrap_or_default()
    }

    /// Decides the request to resend for exchange `id` (see
    /// [`crate::resend::prepare`]): from its original, else from `record`.
    pub fn plan(
        &self,
        id: u64,
        record: Option<&Request>,
        edits: &Edits,
    ) -> Result<Request, Refusal> {
        let source = self.source(id, record).ok_or_else(|| {
            Refusal::Invalid(format!(
                "exchange #{id} is no longer in memory: resend it from its record"
            ))
        })?;
        resend::prepare(&source, edits)
    }

    /// Sends `request` as a resend of exchange `replay_of` and waits for
    /// the whole answer. Refused (nothing sent) when it carries a spent
    /// OAuth code or refresh token and `options.force` is off. Confirming a
    /// write ([`crate::resend::describe_write`]) is the caller's job.
    pub async fn send(
        &self,
        replay_of: u64,
        request: Request,
        options: ResendOptions,
    ) -> Result<Resent, Refusal> {
        let begun = self.inspector.begin(OffsetDateTime::now_utc());
        let spent = begun.spent(&self.inspector, &request, OffsetDateTime::now_utc());
        if let Some(refusal) = resend::refuse_spent(spent, options.force) {
            return Err(refusal);
        }
        let _one_at_a_time = self.sending.lock().await;
        let wait = begun.write_wait(&self.inspector, &request, OffsetDateTime::now_utc());
        if wait.is_positive() {
            let wait = Duration::try_from(wait).unwrap_or(MAX_WRITE_WAIT);
            tokio::time::sleep(wait.min(MAX_WRITE_WAIT)).await;
        }
        Ok(self.exchange(replay_of, request, begun, options).await)
    }

    /// One inspected, logged exchange, as `forward` makes for a client;
    /// `begun` is the inspection the checks before sending began.
    async fn exchange(
        &self,
        replay_of: u64,
        request: Request,
        begun: Inspection<Begun>,
        options: ResendOptions,
    ) -> Resent {
        let started_at = OffsetDateTime::now_utc();
        let mut pending = PendingExchange::start(
            self.log.clone(),
            self.inspector.clone(),
            // Sent now, after waiting its turn: judged at this time.
            begun.restart(started_at),
            started_at,
            Instant::now(),
            request.clone(),
            self.shutdown_cut.clone(),
        );
        pending.set_replay_of(replay_of);
        pending.set_abandon_reason("trakt-doctor stopped before the resend was answered");
        let id = pending.id();
        // A resend can itself be resent, as any live exchange.
        self.originals.keep(id, &request);
        let policy = if options.fix {
            FixPolicy::All
        } else {
            FixPolicy::Off
        };
        // The record shows what was sent; `fixes` has the before/after.
        let sent = match pending.prepare(&policy, |_| {}) {
            Some(repaired) => repaired.clone(),
            None => request,
        };
        let outcome = match http_request(&sent) {
            Ok(req) => self.send_upstream(req).await,
            Err(e) => Err(ExchangeError::new(
                ErrorKind::Other,
                format!("the request cannot be sent again: {e}"),
            )),
        };
        match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                self.record_answer(pending, response).await;
                Resent {
                    id,
                    replay_of,
                    status: Some(status),
                    error: None,
                }
            }
            Err(failure) => {
                let error = failure.message.clone();
                pending.finish(Some(failure));
                Resent {
                    id,
                    replay_of,
                    status: None,
                    error: Some(error),
                }
            }
        }
    }

    async fn send_upstream(
        &self,
        req: http::Request<body::ProxyBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, ExchangeError> {
        let target = crate::redact::without_userinfo(&req.uri().to_string()).into_owned();
        let client = self.upstream.for_version(http::Version::HTTP_11);
        match tokio::time::timeout(self.upstream_timeout, client.request(req)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(super::upstream::failure(&e, &target)),
            Err(_) => Err(ExchangeError::new(
                ErrorKind::UpstreamTimeout,
                format!(
                    "trakt-doctor gave up on {target}: no response within {} s",
                    self.upstream_timeout.as_secs_f64()
                ),
            )),
        }
    }

    /// Records the answer's head (inspected as a client's would be) and its
    /// body up to the capture limit; the exchange is logged when it ends.
    async fn record_answer(
        &self,
        mut pending: PendingExchange,
        response: http::Response<hyper::body::Incoming>,
    ) {
        let (parts, incoming) = response.into_parts();
        let headers = Headers::from_map(&parts.headers);
        let status = parts.status.as_u16();
        // No client receives this answer: the response-header repairs are not applied.
        let _ = pending.answer_head(status, &headers, &FixPolicy::Off);
        pending.set_response(exchange::Response {
            status,
            http_version: exchange::version_name(parts.version).to_string(),
            headers,
            body: Body::default(),
        });
        let mut recording =
            RecordingBody::new(incoming, pending, self.capture_limit, self.finisher.clone());
        // Read to the end (kept up to the capture limit); the recording logs it.
        while let Some(frame) = recording.frame().await {
            if frame.is_err() {
                break;
            }
        }
        drop(recording);
        // Finished now rather than on the runtime's next turn: the caller
        // (the web view, `replay`) reports on the exchange as logged.
        self.finisher.drain();
    }
}

/// The `http` request for a recorded one: its method, URL, header fields
/// (the framing ones are the client's to set) and body.
fn http_request(request: &Request) -> Result<http::Request<body::ProxyBody>, http::Error> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str())
        .version(http::Version::HTTP_11);
    for (name, value) in request.headers.iter() {
        if matches!(
            name,
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder.body(body::full(request.body.bytes.clone()))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::hosts::{ResolveRule, ResolveTable};
    use crate::log::{Record, Sink};
    use crate::proxy::{Proxy, ProxyParts, Settings};
    use crate::resend::SecretKind;
    use crate::tls::{CertificateAuthority, LeafCache};
    use crate::web::store::WebStore;

    const TOKEN: &str = "live-secret-token-93b1";

    /// Keeps each record's JSON.
    struct Collect(Arc<Mutex<Vec<String>>>);

    impl Sink for Collect {
        fn name(&self) -> String {
            "a test sink".into()
        }
        fn record(&mut self, record: &Record<'_>) -> std::io::Result<()> {
            self.0.lock().unwrap().push(record.json().to_string());
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A plain-HTTP upstream on loopback that notes each Authorization it gets.
    async fn upstream(seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        seen.lock().unwrap().push(auth);
                        async {
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from_static(b"{}"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    async fn wait_for(records: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..500 {
            if records.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let records = records.lock().unwrap();
        assert!(records.len() >= n, "{} record(s)", records.len());
        records
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_live_exchange_is_resent_with_its_kept_secrets_until_cleared() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let upstream_addr = upstream(seen.clone()).await;
        let hosts = crate::default_intercept_hosts();
        let (authority, ca_pem) = CertificateAuthority::generate(&hosts).unwrap();
        let records = Arc::new(Mutex::new(Vec::new()));
        let redactor = crate::redact::Redactor::new(b"test key");
        let (log, writer) = crate::log::spawn(
            vec![Box::new(Collect(records.clone()))],
            Some(redactor.clone()),
        );
        let parts = ProxyParts {
            settings: Settings::default(),
            certs: Arc::new(LeafCache::new(authority)),
            ca_pem,
            upstream_tls: crate::tls::upstream::client_config(&[], false).unwrap(),
            resolve: ResolveTable::new(&[ResolveRule {
                host: "api.trakt.tv".into(),
                port: 80,
                addr: upstream_addr,
            }]),
            log,
            web: WebStore::new(10, 1 << 20),
            redactor,
        };
        let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), parts)
            .await
            .unwrap();
        let addr = proxy.local_addr();
        let resender = proxy.resender();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(proxy.run(async {
            let _ = stopped.await;
        }));
        // A client's plain-HTTP request to an intercepted host, through the proxy.
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(
                format!(
                    "GET http://api.trakt.tv/users/settings HTTP/1.1\r\nHost: api.trakt.tv\r\n\
                     Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let first = wait_for(&records, 1).await.remove(0);
        let id = first["id"].as_u64().unwrap();

        // Live: the original with its token is kept; nothing needs supplying.
        assert!(resender.needed_secrets(id, None).is_empty());
        let request = resender.plan(id, None, &Edits::default()).unwrap();
        let resent = resender
            .send(id, request, ResendOptions::default())
            .await
            .unwrap();
        assert!(resent.accepted(), "{resent:?}");
        assert_eq!(
            *seen.lock().unwrap(),
            [format!("Bearer {TOKEN}"), format!("Bearer {TOKEN}")]
        );
        let second = wait_for(&records, 2).await.remove(1);
        assert_eq!(second["id"].as_u64(), Some(resent.id));
        assert_eq!(second["replay_of"].as_u64(), Some(id));
        // The resend is itself live: it can be resent in turn.
        assert!(resender.originals().get(resent.id).is_some());

        // Cleared: only the redacted record is left, and it asks for the token.
        resender.originals().clear();
        assert!(resender.plan(id, None, &Edits::default()).is_err());
        let record: crate::exchange::Exchange = serde_json::from_value(first).unwrap();
        let needed = resender.needed_secrets(id, Some(&record.request));
        assert_eq!(needed.len(), 1);
        assert_eq!(needed[0].kind, SecretKind::AccessToken);
        assert!(matches!(
            resender.plan(id, Some(&record.request), &Edits::default()),
            Err(Refusal::MissingSecrets(_))
        ));

        let _ = stop.send(());
        running.await.unwrap();
        drop(resender);
        writer.finish();
        for json in records.lock().unwrap().iter() {
            assert!(!json.contains(TOKEN), "{json}");
        }
    }
}
