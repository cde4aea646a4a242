//! The two reference proxies, built from the same parts as trakt-doctor
//! (hyper server and pooled client, rustls on both sides), each in a child
//! process: the bare proxy (the floor: it only forwards) and the minimal
//! inspecting proxy (both bodies captured and parsed, one JSON line per
//! exchange: the least any logging proxy does).

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::alloc::serve_allocation_counts;
use crate::proxies::{free_loopback_addr, start_child};
use crate::upstream::{provider, Upstream};

/// The floor: a bare TLS-intercepting proxy built from the same parts as
/// trakt-doctor (hyper server and pooled client, rustls on both sides), that
/// only forwards: no capture, lint, fix or log. Runs in a child process like
/// trakt-doctor, presenting the fake upstream's own certificate.
pub(crate) fn spawn_bare_proxy(
    upstream: &Upstream,
    dir: &Path,
    env: &[(&str, &OsStr)],
    inspect: bool,
) -> (Child, SocketAddr) {
    let addr = free_loopback_addr();
    let args = [
        addr.to_string(),
        upstream.addr.to_string(),
        dir.display().to_string(),
        if inspect { "inspect" } else { "bare" }.to_string(),
    ];
    let stderr = if inspect {
        "stderr-inspect.txt"
    } else {
        "stderr-bare.txt"
    };
    let child = start_child("--child-bare-proxy", &args, addr, &dir.join(stderr), env);
    (child, addr)
}

/// One exchange as the least inspecting proxy logs it: both bodies parsed
/// (or kept as text).
#[derive(serde::Serialize)]
pub(crate) struct MinimalRecord {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) request_headers: Vec<(String, String)>,
    pub(crate) request_body: Option<serde_json::Value>,
    pub(crate) status: u16,
    pub(crate) response_headers: Vec<(String, String)>,
    pub(crate) response_body: Option<serde_json::Value>,
}

/// The writer thread of the least inspecting proxy: one JSON line per
/// record, flushed when no more are waiting.
pub(crate) fn minimal_log(path: PathBuf) -> std::sync::mpsc::Sender<Vec<u8>> {
    use std::io::Write;
    let (send, receive) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let Ok(file) = std::fs::File::create(path) else {
            return;
        };
        let mut out = std::io::BufWriter::new(file);
        while let Ok(line) = receive.recv() {
            let _ = out.write_all(&line);
            while let Ok(line) = receive.try_recv() {
                let _ = out.write_all(&line);
            }
            let _ = out.flush();
        }
    });
    send
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type BareClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<trakt_doctor::proxy::upstream::Dialer>,
    http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>,
>;

/// The request as the bare proxy sends it on: absolute URI, no Host.
pub(crate) fn to_upstream(parts: &mut http::request::Parts) {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("https://api.trakt.tv{path}").parse().expect("uri");
    parts.headers.remove(http::header::HOST);
}

/// The bare proxy's forwarding: bodies streamed through untouched.
pub(crate) async fn forward_bare(
    client: BareClient,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
    let (mut parts, body) = req.into_parts();
    to_upstream(&mut parts);
    client
        .request(http::Request::from_parts(parts, body.boxed_unsync()))
        .await
}

/// The least inspecting proxy's forwarding: both bodies captured and parsed,
/// one JSON record per exchange handed to the writer thread.
pub(crate) async fn forward_inspecting(
    client: BareClient,
    log: std::sync::mpsc::Sender<Vec<u8>>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, BoxError> {
    let (mut parts, body) = req.into_parts();
    to_upstream(&mut parts);
    let sent = body.collect().await?.to_bytes();
    let text = |(n, v): (&http::HeaderName, &http::HeaderValue)| {
        (n.to_string(), v.to_str().unwrap_or("").to_string())
    };
    let mut record = MinimalRecord {
        method: parts.method.to_string(),
        url: parts.uri.to_string(),
        request_headers: parts.headers.iter().map(text).collect(),
        request_body: logged_body(&sent),
        status: 0,
        response_headers: Vec::new(),
        response_body: None,
    };
    let body = Full::new(sent)
        .map_err(|never| match never {})
        .boxed_unsync();
    let (head, answer) = client
        .request(http::Request::from_parts(parts, body))
        .await?
        .into_parts();
    let answer = answer.collect().await?.to_bytes();
    record.status = head.status.as_u16();
    record.response_headers = head.headers.iter().map(text).collect();
    record.response_body = logged_body(&answer);
    if let Ok(mut line) = serde_json::to_vec(&record) {
        line.push(b'\n');
        let _ = log.send(line);
    }
    Ok(http::Response::from_parts(head, Full::new(answer)))
}

/// A body as the least inspecting proxy logs it: parsed when it is JSON,
/// else as its text (a proxy that logs what it sees keeps a body it could
/// not parse too: the 1 MiB workload's answer is plain text).
pub(crate) fn logged_body(bytes: &Bytes) -> Option<serde_json::Value> {
    serde_json::from_slice(bytes).ok().or_else(|| {
        std::str::from_utf8(bytes)
            .ok()
            .map(|text| serde_json::Value::String(text.to_string()))
    })
}

pub(crate) fn child_bare_proxy(args: &[String]) {
    use hyper_util::rt::TokioTimer;
    use rustls_pki_types::pem::PemObject;
    serve_allocation_counts();
    let listen: SocketAddr = args[0].parse().expect("listen address");
    let upstream: SocketAddr = args[1].parse().expect("upstream address");
    let dir = PathBuf::from(&args[2]);
    // The least inspection any logging proxy does: both bodies captured and
    // parsed, one JSON record per exchange written by a thread of its own.
    let log = (args.get(3).map(String::as_str) == Some("inspect"))
        .then(|| minimal_log(dir.join("minimal.jsonl")));
    let cert = CertificateDer::from_pem_file(dir.join("upstream-leaf.pem")).expect("leaf");
    let key = PrivateKeyDer::from_pem_file(dir.join("upstream-leaf.key")).expect("key");
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("cert");
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let upstream_tls =
        trakt_doctor::tls::upstream::client_config(&[dir.join("upstream-ca.pem")], false)
            .expect("upstream tls");
    let dialer = trakt_doctor::proxy::upstream::Dialer {
        resolve: trakt_doctor::hosts::ResolveTable::new(&[trakt_doctor::hosts::ResolveRule {
            host: "api.trakt.tv".into(),
            port: 443,
            addr: upstream,
        }]),
        connect_timeout: Duration::from_secs(10),
        own: None,
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(upstream_tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(dialer);
    type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>;
    let client: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await.expect("bind");
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (acceptor, client, log) = (acceptor.clone(), client.clone(), log.clone());
            tokio::spawn(async move {
                // The CONNECT: answered 200, then TLS and HTTP inside it.
                let connect =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (acceptor, client) = (acceptor.clone(), client.clone());
                        let log = log.clone();
                        tokio::spawn(async move {
                            let Ok(upgraded) = hyper::upgrade::on(req).await else {
                                return;
                            };
                            let Ok(tls) = acceptor.accept(TokioIo::new(upgraded)).await else {
                                return;
                            };
                            let io = TokioIo::new(tls);
                            let builder =
                                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                            let _ = match log {
                                None => {
                                    let forward = hyper::service::service_fn(move |req| {
                                        forward_bare(client.clone(), req)
                                    });
                                    builder.serve_connection(io, forward).await
                                }
                                Some(log) => {
                                    let forward = hyper::service::service_fn(move |req| {
                                        forward_inspecting(client.clone(), log.clone(), req)
                                    });
                                    builder.serve_connection(io, forward).await
                                }
                            };
                        });
                        async {
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), connect)
                    .with_upgrades()
                    .await;
            });
        }
    });
}
