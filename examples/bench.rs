//! The benchmark harness: the same workloads direct to a fake upstream,
//! through a bare forwarding proxy (the floor), through trakt-doctor (lint
//! on; lint + fix on), and through mitmdump when it is installed (or with
//! --mitmproxy, installed into target/bench-venv). Loopback only, bounded in
//! time; prints one table with ratios measured in the same run, and the CPU
//! time each proxy spends per request. Figures only: nothing here fails on a
//! slow machine. Every proxy is started first and the workloads run in
//! rounds, each route taking its slice in turn, so that a busy moment on a
//! shared machine falls on all routes alike.
//!
//!   cargo run --release --example bench             full run (about 5 minutes)
//!   cargo run --example bench -- --smoke            a few requests each (CI keeps it working)
//!   cargo run --release --example bench -- --mitmproxy   also compare with mitmdump
//!   cargo run --release --example bench -- --without-mitmproxy   skip it even if installed
//!   cargo run --release --example bench -- --stages       also the per-stage table (the proxy's own timers)
//!   cargo run --release --example bench -- --json         also one JSON object with every figure and ratio
//!   cargo run --release --example bench -- --quick        latency, throughput and CPU only (for iterating)
//!   cargo run --release --example bench -- --help
//!
//! The 1 MiB pass also sends a 1 MiB JSON answer plain, gzip-coded and
//! br-coded (`--only big-json,big-gzip,big-br`; bench/compressed.rs): the
//! client accepts the coding and receives the coded bytes, trakt-doctor
//! decodes its captured copy after the answer went out.
//!
//! Each proxy runs in a child process (this program started again with
//! --child-proxy, trakt-doctor's own entry point, or --child-bare-proxy) so
//! its CPU time and resident memory can be read on their own.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "bench/compressed.rs"]
mod compressed;

const SCROBBLE: &str = r#"{"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28,"slug":"guardians-of-the-galaxy-2014","imdb":"tt2015381","tmdb":118340}},"progress":1.25,"app_version":"1.0","app_date":"2014-09-22"}"#;
const ANSWER: &str = r#"{"id":3373536619,"action":"start","progress":1.25,"sharing":{"twitter":false},"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28}}}"#;

struct Sizes {
    latency_requests: usize,
    throughput_secs: f64,
    connections: usize,
    handshakes: usize,
    big_requests: usize,
    held_connections: usize,
    soak_requests: usize,
    /// How many slices each workload is cut into (see [`measure_all`]).
    rounds: usize,
    /// The pause after a batch of compressed answers before the proxy's
    /// CPU is read (its decoding runs after the answer went out).
    settle: Duration,
    /// Latency, throughput and CPU only: no handshakes, big bodies or memory.
    quick: bool,
    /// `--only`: the workloads to run (all when empty).
    only: Vec<String>,
}

/// The workloads `--only` can pick, in the order they run.
const WORKLOADS: [&str; 8] = [
    "latency",
    "throughput",
    "handshakes",
    "big",
    "big-json",
    "big-gzip",
    "big-br",
    "memory",
];
/// The routes `--routes` can pick.
const ROUTES: [&str; 7] = [
    "direct",
    "bare",
    "minimal",
    "unchecked",
    "lint",
    "fix",
    "mitmdump",
];

impl Sizes {
    fn runs(&self, workload: &str) -> bool {
        let chosen = self.only.is_empty() || self.only.iter().any(|w| w == workload);
        chosen && (!self.quick || matches!(workload, "latency" | "throughput"))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

// ---------- the fake upstream ----------

struct Upstream {
    addr: SocketAddr,
    ca_der: CertificateDer<'static>,
    ca_pem_path: PathBuf,
}

async fn start_upstream(dir: &Path) -> Upstream {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "bench upstream CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let ca_pem_path = dir.join("upstream-ca.pem");
    std::fs::write(&ca_pem_path, ca_cert.pem()).expect("write ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["api.trakt.tv".to_string(), "localhost".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    std::fs::write(dir.join("upstream-leaf.pem"), leaf.pem()).expect("write leaf");
    std::fs::write(dir.join("upstream-leaf.key"), leaf_key.serialize_pem()).expect("write key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("cert");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let big = Bytes::from(vec![b'x'; 1024 * 1024]);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let big = big.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let big = big.clone();
                        async move {
                            if req.uri().path() == compressed::PATH {
                                let accept = req.headers().get(http::header::ACCEPT_ENCODING);
                                return Ok(compressed::answer(accept));
                            }
                            let is_big = req.uri().path() == "/big";
                            let _ = req.into_body().collect().await;
                            let body = if is_big {
                                big
                            } else {
                                Bytes::from_static(ANSWER.as_bytes())
                            };
                            let mut response = http::Response::new(Full::new(body));
                            *response.status_mut() = if is_big {
                                http::StatusCode::OK
                            } else {
                                http::StatusCode::CREATED
                            };
                            response.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Upstream {
        addr,
        ca_der: ca_cert.der().clone(),
        ca_pem_path,
    }
}

// ---------- routes and the client ----------

#[derive(Clone)]
struct Route {
    name: String,
    /// Where to open TCP connections.
    connect_to: SocketAddr,
    /// `Some` when `connect_to` is a proxy: the CONNECT target.
    tunnel: Option<(String, u16)>,
    /// The name in the URL and SNI.
    host: String,
    /// One client configuration per route, trusting that route's CA; like
    /// a browser, it keeps TLS sessions and resumes them on new connections.
    tls: Arc<rustls::ClientConfig>,
    pid: Option<u32>,
}

impl Route {
    fn new(
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

async fn open(route: &Route) -> std::io::Result<SendRequest<Full<Bytes>>> {
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

fn scrobble_request(route: &Route, path: &str) -> http::Request<Full<Bytes>> {
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

async fn one(
    sender: &mut SendRequest<Full<Bytes>>,
    route: &Route,
    path: &str,
) -> std::io::Result<usize> {
    sender.ready().await.map_err(std::io::Error::other)?;
    let response = sender
        .send_request(scrobble_request(route, path))
        .await
        .map_err(std::io::Error::other)?;
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok(bytes.len())
}

// ---------- workloads ----------

#[derive(Default, Clone)]
struct Figures {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    handshake_rps: f64,
    big_mbps: f64,
    /// The 1 MiB JSON answer, plain and coded (bench/compressed.rs).
    answers: compressed::Figures,
    /// Resident memory of the proxy: started, before any request.
    rss_idle_mib: Option<f64>,
    /// Before and while holding many connections open.
    rss_before_held_mib: Option<f64>,
    rss_held_mib: Option<f64>,
    /// After the long run, and its growth over the run's second half (the
    /// first half fills the web view's bounded history).
    rss_after_soak_mib: Option<f64>,
    rss_soak_growth_mib: Option<f64>,
    /// CPU time per request in the throughput workload: this process (load
    /// generator and fake upstream) and the proxy's process.
    harness_cpu_us: Option<f64>,
    proxy_cpu_us: Option<f64>,
    /// Context switches of the proxy's threads per request in the same
    /// workload: how often it hands work between threads or waits.
    proxy_switches: Option<f64>,
    /// The proxy's CPU time per new connection (CONNECT, TLS handshake and
    /// one request) in the handshake workload.
    proxy_cpu_per_handshake_us: Option<f64>,
    errors: usize,
}

/// How long a proxy is left alone before its memory is read.
const SETTLE: Duration = Duration::from_millis(1500);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A route under measurement: how to reach it, its proxy process (none for
/// direct), and what its slices of each workload have gathered so far.
struct Measured {
    route: Route,
    child: Option<Child>,
    /// The keep-alive connection the latency slices share (one per route,
    /// as one client sending one request after another).
    latency_sender: Option<SendRequest<Full<Bytes>>>,
    /// The slice being measured.
    slice: Tally,
    /// Every slice so far.
    total: Tally,
    /// Each round's slices (one per workload), by round.
    rounds: Vec<Tally>,
}

/// Sums over slices (one, a round's, or all of a route's); turned into
/// [`Figures`] once every round ran.
#[derive(Default)]
struct Tally {
    latency_ms: Vec<f64>,
    requests: usize,
    request_secs: f64,
    /// CPU seconds (this process; the proxy) and the proxy's context
    /// switches over the throughput slices; `None` once a reading failed.
    harness_cpu: Option<f64>,
    proxy_cpu: Option<f64>,
    switches: Option<u64>,
    handshakes: usize,
    handshake_secs: f64,
    handshake_cpu: Option<f64>,
    big_bytes: usize,
    big_secs: f64,
    answers: compressed::Tally,
    /// Resident memory once started, before any request.
    rss_idle: Option<f64>,
    errors: usize,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            harness_cpu: Some(0.0),
            proxy_cpu: Some(0.0),
            switches: Some(0),
            handshake_cpu: Some(0.0),
            ..Tally::default()
        }
    }

    /// Adds a slice's counts.
    fn absorb(&mut self, slice: &Tally) {
        self.latency_ms.extend_from_slice(&slice.latency_ms);
        self.requests += slice.requests;
        self.request_secs += slice.request_secs;
        add(&mut self.harness_cpu, slice.harness_cpu);
        add(&mut self.proxy_cpu, slice.proxy_cpu);
        add(&mut self.switches, slice.switches);
        self.handshakes += slice.handshakes;
        self.handshake_secs += slice.handshake_secs;
        add(&mut self.handshake_cpu, slice.handshake_cpu);
        self.big_bytes += slice.big_bytes;
        self.big_secs += slice.big_secs;
        self.answers.absorb(&slice.answers);
        self.errors += slice.errors;
    }
}

impl Measured {
    fn new(route: Route, child: Option<Child>) -> Measured {
        Measured {
            route,
            child,
            latency_sender: None,
            slice: Tally::new(),
            total: Tally::new(),
            rounds: Vec::new(),
        }
    }

    /// Counts the slice just measured in the totals and in round `round`'s.
    fn end_slice(&mut self, round: usize) {
        let slice = std::mem::replace(&mut self.slice, Tally::new());
        self.total.absorb(&slice);
        while self.rounds.len() <= round {
            self.rounds.push(Tally::new());
        }
        if let Some(this_round) = self.rounds.get_mut(round) {
            this_round.absorb(&slice);
        }
    }

    fn proxy_cpu(&self) -> Option<f64> {
        self.route.pid.and_then(|pid| cpu_secs(&pid.to_string()))
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Adds one slice's reading to a sum that stays `None` once any reading failed.
fn add<T: std::ops::Add<Output = T>>(total: &mut Option<T>, part: Option<T>) {
    *total = total.take().zip(part).map(|(t, p)| t + p);
}

/// The pause before each slice of a workload.
const SLICE_PAUSE: Duration = Duration::from_millis(200);

/// Runs the workloads in rounds: each round gives every route one slice
/// of the workload, in turn, starting one route later than the round
/// before and every other round in the opposite order, after a short
/// pause. On a shared machine a busy moment (a neighbour's build, a
/// compaction) then falls on every route alike instead of on whichever
/// route happened to run then, so the ratios compare like with like.
/// Memory is measured after, route by route (it holds connections open).
async fn measure_all(measured: &mut [Measured], sizes: &Sizes) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    for m in measured.iter_mut() {
        if let Some(pid) = m.route.pid {
            m.total.rss_idle = rss_mib(pid);
        }
    }
    let rounds = sizes.rounds;
    let share = |total: usize| total.div_ceil(rounds).max(1);
    for workload in ["latency", "throughput", "handshakes", "big"] {
        // The 1 MiB pass also carries the JSON answers, plain and coded.
        let answers = workload == "big" && compressed::chosen(sizes);
        if !sizes.runs(workload) && !answers {
            continue;
        }
        for round in 0..rounds {
            let routes = measured.len();
            for turn in 0..routes {
                // Every other round backwards, so no route always follows
                // the same one (whose leftover work, a log flushed or
                // connections closed, would fall on it each time).
                let place = if round % 2 == 0 {
                    turn
                } else {
                    routes - 1 - turn
                };
                let Some(m) = measured.get_mut((place + round) % routes) else {
                    continue;
                };
                // A moment for the route before to settle.
                tokio::time::sleep(SLICE_PAUSE).await;
                match workload {
                    "latency" => latency_slice(m, share(sizes.latency_requests)).await,
                    "throughput" => {
                        let secs = sizes.throughput_secs / rounds as f64;
                        throughput_slice(m, sizes.connections, secs).await;
                    }
                    "handshakes" => handshake_slice(m, share(sizes.handshakes)).await,
                    _ => {
                        if sizes.runs("big") {
                            big_slice(m, share(sizes.big_requests)).await;
                        }
                        if answers {
                            let count = share(sizes.big_requests);
                            compressed::slice(m, sizes, count, round).await;
                        }
                    }
                }
                m.end_slice(round);
            }
        }
    }
}

/// Sequential requests on the route's one keep-alive connection (opened,
/// and warmed with ten requests, on its first slice).
async fn latency_slice(m: &mut Measured, requests: usize) {
    let mut sender = match m.latency_sender.take() {
        Some(sender) => sender,
        None => match open(&m.route).await {
            Ok(mut sender) => {
                for _ in 0..10 {
                    let _ = one(&mut sender, &m.route, "/scrobble/start").await;
                }
                sender
            }
            Err(e) => {
                eprintln!("{}: cannot connect: {e}", m.route.name);
                m.slice.errors += 1;
                return;
            }
        },
    };
    for _ in 0..requests {
        let start = Instant::now();
        match one(&mut sender, &m.route, "/scrobble/start").await {
            Ok(_) => m
                .slice
                .latency_ms
                .push(start.elapsed().as_secs_f64() * 1000.0),
            Err(_) => {
                // A new connection on the next slice.
                m.slice.errors += 1;
                return;
            }
        }
    }
    m.latency_sender = Some(sender);
}

/// `connections` keep-alive connections (opened before the clock starts)
/// sending requests for `secs`: the requests done and the CPU each took
/// the harness and the proxy. The proxy's CPU is read after a short pause,
/// so the work it finishes after the last answer (the log writer's) is
/// counted for it, not for the route measured next.
async fn throughput_slice(m: &mut Measured, connections: usize, secs: f64) {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        match open(&m.route).await {
            Ok(sender) => senders.push(sender),
            Err(_) => m.slice.errors += 1,
        }
    }
    let cpu_before = (cpu_secs("self"), m.proxy_cpu());
    let switches_before = m.route.pid.and_then(context_switches);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for mut sender in senders {
        let route = m.route.clone();
        tasks.push(tokio::spawn(async move {
            let (mut done, mut errors) = (0usize, 0usize);
            while Instant::now() < deadline {
                match one(&mut sender, &route, "/scrobble/start").await {
                    Ok(_) => done += 1,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (done, errors)
        }));
    }
    let mut done = 0;
    for task in tasks {
        let (ok, errors) = task.await.unwrap_or((0, 1));
        done += ok;
        m.slice.errors += errors;
    }
    m.slice.request_secs += started.elapsed().as_secs_f64();
    m.slice.requests += done;
    add(
        &mut m.slice.harness_cpu,
        cpu_before.0.zip(cpu_secs("self")).map(|(b, a)| a - b),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let proxy_cpu = cpu_before.1.zip(m.proxy_cpu()).map(|(b, a)| a - b);
    add(&mut m.slice.proxy_cpu, proxy_cpu);
    add(
        &mut m.slice.switches,
        switches_before
            .zip(m.route.pid.and_then(context_switches))
            .map(|(b, a)| a.saturating_sub(b)),
    );
}

/// A new connection (and TLS handshake) per request.
async fn handshake_slice(m: &mut Measured, count: usize) {
    let cpu_before = m.proxy_cpu();
    let started = Instant::now();
    let mut done = 0;
    for _ in 0..count {
        let ok = match open(&m.route).await {
            Ok(mut sender) => one(&mut sender, &m.route, "/scrobble/start").await.is_ok(),
            Err(_) => false,
        };
        if ok {
            done += 1;
        } else {
            m.slice.errors += 1;
        }
    }
    m.slice.handshake_secs += started.elapsed().as_secs_f64();
    m.slice.handshakes += done;
    let proxy_cpu = cpu_before.zip(m.proxy_cpu()).map(|(b, a)| a - b);
    add(&mut m.slice.handshake_cpu, proxy_cpu);
}

/// 1 MiB answers on one keep-alive connection (opened before the clock starts).
async fn big_slice(m: &mut Measured, count: usize) {
    let Ok(mut sender) = open(&m.route).await else {
        m.slice.errors += 1;
        return;
    };
    let started = Instant::now();
    for _ in 0..count {
        match one(&mut sender, &m.route, "/big").await {
            Ok(n) => m.slice.big_bytes += n,
            Err(_) => m.slice.errors += 1,
        }
    }
    m.slice.big_secs += started.elapsed().as_secs_f64();
}

impl Tally {
    /// The route's figures from its slices.
    fn figures(&mut self) -> Figures {
        self.latency_ms.sort_by(f64::total_cmp);
        let per = |total: Option<f64>, count: usize| {
            total.filter(|_| count > 0).map(|t| t * 1e6 / count as f64)
        };
        let rate = |count: f64, secs: f64| if secs > 0.0 { count / secs } else { 0.0 };
        Figures {
            p50_ms: percentile(&self.latency_ms, 0.50),
            p99_ms: percentile(&self.latency_ms, 0.99),
            rps: rate(self.requests as f64, self.request_secs),
            handshake_rps: rate(self.handshakes as f64, self.handshake_secs),
            big_mbps: rate(self.big_bytes as f64 / 1_048_576.0, self.big_secs),
            answers: self.answers.figures(),
            rss_idle_mib: self.rss_idle,
            harness_cpu_us: per(self.harness_cpu, self.requests),
            proxy_cpu_us: per(self.proxy_cpu, self.requests),
            proxy_switches: self
                .switches
                .filter(|_| self.requests > 0)
                .map(|n| n as f64 / self.requests as f64),
            proxy_cpu_per_handshake_us: per(self.handshake_cpu, self.handshakes),
            errors: self.errors,
            ..Figures::default()
        }
    }
}

/// Voluntary and involuntary context switches of all of a process's threads
/// (those still running: a thread that ended takes its count with it).
fn context_switches(pid: u32) -> Option<u64> {
    sum_over_threads(&pid.to_string(), "status", |status| {
        let counts = status.lines().filter_map(|line| {
            line.strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        });
        counts.reduce(|a, b| a + b)
    })
}

/// `read` of `/proc/PID/task/*/FILE` summed over the process's live threads;
/// `None` when no thread's file could be read.
fn sum_over_threads(pid: &str, file: &str, read: impl Fn(&str) -> Option<u64>) -> Option<u64> {
    let mut total = None;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(text) = std::fs::read_to_string(task.path().join(file)) else {
            continue;
        };
        if let Some(n) = read(&text) {
            total = Some(total.unwrap_or(0) + n);
        }
    }
    total
}

/// Memory of the proxy process with many connections held open, then over
/// a long run.
async fn memory(route: &Route, sizes: &Sizes, figures: &mut Figures) {
    if let Some(pid) = route.pid {
        // Allocators return freed memory to the system after a delay
        // (mimalloc: 1 s): let the 1 MiB bodies' buffers go first.
        tokio::time::sleep(SETTLE).await;
        figures.rss_before_held_mib = rss_mib(pid);
        if std::env::var_os("BENCH_MEMORY_TRACE").is_some() {
            for wait in [1u64, 2, 4] {
                tokio::time::sleep(Duration::from_secs(wait)).await;
                eprintln!(
                    "{}: RSS {:?} MiB after {wait} s more",
                    route.name,
                    rss_mib(pid)
                );
            }
        }
        let mut held = Vec::new();
        for _ in 0..sizes.held_connections {
            match open(route).await {
                Ok(mut sender) => {
                    if one(&mut sender, route, "/scrobble/start").await.is_ok() {
                        held.push(sender);
                    }
                }
                Err(_) => figures.errors += 1,
            }
        }
        figures.rss_held_mib = rss_mib(pid);
        drop(held);
        figures.errors += soak(route, sizes.soak_requests / 2).await;
        tokio::time::sleep(SETTLE).await;
        let halfway = rss_mib(pid);
        figures.errors += soak(route, sizes.soak_requests / 2).await;
        tokio::time::sleep(SETTLE).await;
        figures.rss_after_soak_mib = rss_mib(pid);
        figures.rss_soak_growth_mib = halfway.zip(figures.rss_after_soak_mib).map(|(b, a)| a - b);
    }
}

/// `requests` requests over 16 keep-alive connections; returns the errors.
async fn soak(route: &Route, requests: usize) -> usize {
    const CONNECTIONS: usize = 16;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let route = route.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut sender) = open(&route).await else {
                return 1;
            };
            for _ in 0..requests / CONNECTIONS {
                if one(&mut sender, &route, "/scrobble/start").await.is_err() {
                    return 1;
                }
            }
            0
        }));
    }
    let mut errors = 0;
    for task in tasks {
        errors += task.await.unwrap_or(1);
    }
    errors
}

/// CPU time (user + system, all threads) a process has used, from
/// /proc (Linux, whose clock-tick unit USER_HZ is 100); `None` elsewhere.
fn cpu_secs(pid: &str) -> Option<f64> {
    // Nanoseconds on the CPU of every live thread (schedstat), where the
    // kernel keeps them; otherwise the process's clock ticks (10 ms each).
    let on_cpu = sum_over_threads(pid, "schedstat", |schedstat| {
        schedstat.split_whitespace().next()?.parse::<u64>().ok()
    });
    if let Some(nanos) = on_cpu {
        return Some(nanos as f64 / 1e9);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resident memory of a process, from /proc (Linux); `None` elsewhere.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

// ---------- the proxies under test ----------

/// How trakt-doctor runs on a route.
#[derive(Clone, Copy, PartialEq)]
enum Checks {
    /// As users run it: every check, no fix.
    Lint,
    /// With `--fix`.
    Fix,
    /// Every check skipped (`TRAKT_DOCTOR_BENCH_NO_CHECKS`): the proxy,
    /// capture and sinks alone, so the difference to `Lint` is what the
    /// checks cost.
    Off,
}

/// This program again, running trakt-doctor exactly as `trakt-doctor run`
/// does (terminal and web-view sinks, plus a JSONL log), with its own
/// CA in `dir`, routing api.trakt.tv to the fake upstream.
fn spawn_trakt_doctor(
    upstream: &Upstream,
    dir: &Path,
    checks: Checks,
    stages: Option<&Path>,
) -> (Child, SocketAddr, CertificateDer<'static>) {
    let name = match checks {
        Checks::Lint => "",
        Checks::Fix => "-fix",
        Checks::Off => "-unchecked",
    };
    let certs = dir.join(if stages.is_some() {
        "certs-stages".to_string()
    } else {
        format!("certs{name}")
    });
    let addr = free_loopback_addr();
    let mut args = vec![
        "run".to_string(),
        "--listen".into(),
        addr.to_string(),
        "--certs".into(),
        certs.display().to_string(),
        "--upstream-ca".into(),
        upstream.ca_pem_path.display().to_string(),
        "--resolve".into(),
        format!("api.trakt.tv:443={}", upstream.addr),
        "--log".into(),
        certs.join("bench.jsonl").display().to_string(),
    ];
    if checks == Checks::Fix {
        args.push("--fix".into());
    }
    let stderr = dir.join(format!("stderr{name}.txt"));
    let allocations = dir.join("allocations.txt");
    let mut env: Vec<(&str, &OsStr)> = match stages {
        Some(file) => vec![
            (trakt_doctor::proxy::stages::ENV, file.as_os_str()),
            ("BENCH_ALLOCATIONS", allocations.as_os_str()),
        ],
        None => Vec::new(),
    };
    if checks == Checks::Off {
        env.push((trakt_doctor::proxy::shared::NO_CHECKS_ENV, OsStr::new("1")));
    }
    let child = start_child("--child-proxy", &args, addr, &stderr, &env);
    use rustls_pki_types::pem::PemObject;
    let ca = CertificateDer::from_pem_file(certs.join("trakt-doctor-ca.pem")).expect("child CA");
    (child, addr, ca)
}

/// Starts this program again in `mode` and waits until it listens on
/// `addr`. Its banner and any error go to `stderr`, shown if it does not start.
fn start_child(
    mode: &str,
    args: &[String],
    addr: SocketAddr,
    stderr: &Path,
    env: &[(&str, &OsStr)],
) -> Child {
    let exe = std::env::current_exe().expect("current exe");
    let file = std::fs::File::create(stderr).expect("stderr file");
    let mut child = Command::new(exe)
        .arg(mode)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {mode}: {e}"));
    if !wait_for_listener(addr) {
        let _ = child.kill();
        let said = std::fs::read_to_string(stderr).unwrap_or_default();
        panic!("{mode} did not start listening on {addr}:\n{said}");
    }
    child
}

/// A count from the environment (the profiling overrides of a workload's size).
fn env_count(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|n| n.parse().ok())
}

/// A loopback address with a port nobody listens on (yet).
fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// Waits (up to 30 s) until something accepts connections at `addr`.
fn wait_for_listener(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The child: trakt-doctor's own entry point with the given arguments.
fn child_proxy(args: &[String]) {
    use clap::Parser;
    serve_allocation_counts();
    let cli = trakt_doctor::cli::Cli::parse_from(
        std::iter::once("trakt-doctor".to_string()).chain(args.iter().cloned()),
    );
    // As the binary runs: its diagnostics set up (spans and events cost).
    trakt_doctor::app::init_diagnostics();
    if let Err(fatal) = trakt_doctor::app::main(cli) {
        eprintln!("bench: the child proxy stopped: {fatal}");
        std::process::exit(2);
    }
}

/// The floor: a bare TLS-intercepting proxy built from the same parts as
/// trakt-doctor (hyper server and pooled client, rustls on both sides), that
/// only forwards: no capture, lint, fix or log. Runs in a child process like
/// trakt-doctor, presenting the fake upstream's own certificate.
fn spawn_bare_proxy(
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
struct MinimalRecord {
    method: String,
    url: String,
    request_headers: Vec<(String, String)>,
    request_body: Option<serde_json::Value>,
    status: u16,
    response_headers: Vec<(String, String)>,
    response_body: Option<serde_json::Value>,
}

/// The writer thread of the least inspecting proxy: one JSON line per
/// record, flushed when no more are waiting.
fn minimal_log(path: PathBuf) -> std::sync::mpsc::Sender<Vec<u8>> {
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BareClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<trakt_doctor::proxy::upstream::Dialer>,
    http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>,
>;

/// The request as the bare proxy sends it on: absolute URI, no Host.
fn to_upstream(parts: &mut http::request::Parts) {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("https://api.trakt.tv{path}").parse().expect("uri");
    parts.headers.remove(http::header::HOST);
}

/// The bare proxy's forwarding: bodies streamed through untouched.
async fn forward_bare(
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
async fn forward_inspecting(
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
fn logged_body(bytes: &Bytes) -> Option<serde_json::Value> {
    serde_json::from_slice(bytes).ok().or_else(|| {
        std::str::from_utf8(bytes)
            .ok()
            .map(|text| serde_json::Value::String(text.to_string()))
    })
}

fn child_bare_proxy(args: &[String]) {
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

/// mitmdump, when installed (or installed on request into target/bench-venv).
fn spawn_mitmdump(
    upstream: &Upstream,
    dir: &Path,
    install: bool,
) -> Option<(Child, SocketAddr, CertificateDer<'static>)> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv");
    let venv_bin = venv.join(if cfg!(windows) {
        "Scripts/mitmdump.exe"
    } else {
        "bin/mitmdump"
    });
    let program = if venv_bin.exists() {
        venv_bin.clone()
    } else if Command::new("mitmdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        PathBuf::from("mitmdump")
    } else if install {
        eprintln!("installing mitmproxy into {} (pip)...", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join(if cfg!(windows) {
                "Scripts/pip.exe"
            } else {
                "bin/pip"
            }))
            .args(["install", "--quiet", "mitmproxy"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not install mitmproxy; skipping the comparison");
            return None;
        }
        venv_bin
    } else {
        return None;
    };
    let addr = free_loopback_addr();
    let confdir = dir.join("mitmproxy");
    let child = Command::new(program)
        .args([
            "-q",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &addr.port().to_string(),
        ])
        .args(["--set", &format!("confdir={}", confdir.display())])
        .args([
            "--set",
            &format!(
                "ssl_verify_upstream_trusted_ca={}",
                upstream.ca_pem_path.display()
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let ca_path = confdir.join("mitmproxy-ca-cert.pem");
    if !wait_for_listener(addr) || !ca_path.exists() {
        return None;
    }
    use rustls_pki_types::pem::PemObject;
    let ca = CertificateDer::from_pem_file(&ca_path).ok()?;
    Some((child, addr, ca))
}

// ---------- the report ----------

fn ratio_of(value: f64, base: f64) -> Option<f64> {
    (base.is_finite() && base > 0.0 && value.is_finite()).then(|| value / base)
}

fn ratio(value: f64, base: f64) -> String {
    ratio_of(value, base).map_or("-".into(), |r| format!("{r:.2}x"))
}

/// Reads one figure of a route's results.
type Metric = fn(&Figures) -> Option<f64>;

/// Every figure: its label in the table, its key in the JSON, how to read it.
const ROWS: [(&str, &str, Metric); 24] = [
    ("latency p50 (ms)", "p50_ms", |f| Some(f.p50_ms)),
    ("latency p99 (ms)", "p99_ms", |f| Some(f.p99_ms)),
    ("throughput (req/s)", "rps", |f| Some(f.rps)),
    ("  CPU/req, proxy (us)", "proxy_cpu_us", |f| f.proxy_cpu_us),
    ("  CPU/req, client+upstream", "harness_cpu_us", |f| {
        f.harness_cpu_us
    }),
    ("  switches/req, proxy", "proxy_switches", |f| {
        f.proxy_switches
    }),
    ("new conn per req (req/s)", "handshake_rps", |f| {
        Some(f.handshake_rps).filter(|v| *v > 0.0)
    }),
    (
        "  CPU/conn, proxy (us)",
        "proxy_cpu_per_handshake_us",
        |f| f.proxy_cpu_per_handshake_us,
    ),
    ("1 MiB bodies (MiB/s)", "big_mbps", |f| {
        Some(f.big_mbps).filter(|v| *v > 0.0)
    }),
    ("1 MiB JSON, plain (MiB/s)", "big_json_mbps", |f| {
        f.answers.mbps(compressed::Coding::Identity)
    }),
    ("  p50, proxy idle (ms)", "big_json_alone_ms", |f| {
        f.answers.alone_ms(compressed::Coding::Identity)
    }),
    ("  CPU/answer, proxy (us)", "big_json_proxy_cpu_us", |f| {
        f.answers.proxy_cpu_us(compressed::Coding::Identity)
    }),
    ("1 MiB JSON, gzip (MiB/s)", "big_gzip_mbps", |f| {
        f.answers.mbps(compressed::Coding::Gzip)
    }),
    ("  p50, proxy idle (ms)", "big_gzip_alone_ms", |f| {
        f.answers.alone_ms(compressed::Coding::Gzip)
    }),
    ("  CPU/answer, proxy (us)", "big_gzip_proxy_cpu_us", |f| {
        f.answers.proxy_cpu_us(compressed::Coding::Gzip)
    }),
    ("1 MiB JSON, br (MiB/s)", "big_br_mbps", |f| {
        f.answers.mbps(compressed::Coding::Br)
    }),
    ("  p50, proxy idle (ms)", "big_br_alone_ms", |f| {
        f.answers.alone_ms(compressed::Coding::Br)
    }),
    ("  CPU/answer, proxy (us)", "big_br_proxy_cpu_us", |f| {
        f.answers.proxy_cpu_us(compressed::Coding::Br)
    }),
    ("RSS at start (MiB)", "rss_idle_mib", |f| f.rss_idle_mib),
    ("RSS before holding (MiB)", "rss_before_held_mib", |f| {
        f.rss_before_held_mib
    }),
    ("RSS holding conns (MiB)", "rss_held_mib", |f| {
        f.rss_held_mib
    }),
    ("RSS after long run (MiB)", "rss_after_soak_mib", |f| {
        f.rss_after_soak_mib
    }),
    ("  growth, 2nd half (MiB)", "rss_soak_growth_mib", |f| {
        f.rss_soak_growth_mib
    }),
    ("errors", "errors", |f| Some(f.errors as f64)),
];

const DIRECT: &str = "direct";
const BARE: &str = "bare hyper proxy (floor)";
const LINT: &str = "trakt-doctor (lint)";
const LINT_FIX: &str = "trakt-doctor (lint + fix)";
const MINIMAL: &str = "minimal inspecting proxy";
const UNCHECKED: &str = "trakt-doctor, checks off";
const MITM: &str = "mitmdump";

fn find<'a>(results: &'a [(String, Figures)], name: &str) -> Option<&'a Figures> {
    results.iter().find(|(n, _)| n == name).map(|(_, f)| f)
}

/// One goal of issue 19: a ratio to the bare proxy in the same run.
struct Goal {
    key: &'static str,
    what: &'static str,
    ratio: Option<f64>,
    /// The goal, and whether the ratio must be at most (true) or at least it.
    bound: f64,
    at_most: bool,
}

/// The goals, each a ratio of trakt-doctor (lint) to the bare proxy.
/// The goals for the route `subject` (trakt-doctor (lint); the minimal
/// inspecting proxy, for comparison).
fn goals(results: &[(String, Figures)], subject: &str) -> Vec<Goal> {
    let (Some(direct), Some(bare), Some(lint)) = (
        find(results, DIRECT),
        find(results, BARE),
        find(results, subject),
    ) else {
        return Vec::new();
    };
    let fix = find(results, LINT_FIX).filter(|_| subject == LINT);
    let added =
        |get: fn(&Figures) -> f64| ratio_of(get(lint) - get(direct), get(bare) - get(direct));
    let vs_bare = |get: Metric| get(lint).zip(get(bare)).and_then(|(l, b)| ratio_of(l, b));
    vec![
        Goal {
            key: "cpu_per_request",
            what: "proxy CPU per request",
            ratio: vs_bare(|f| f.proxy_cpu_us),
            bound: 1.5,
            at_most: true,
        },
        Goal {
            key: "throughput_64",
            what: "throughput, 64 connections",
            ratio: vs_bare(|f| Some(f.rps)),
            bound: 0.75,
            at_most: false,
        },
        Goal {
            key: "p50_added",
            what: "p50 latency added over direct",
            ratio: added(|f| f.p50_ms),
            bound: 1.3,
            at_most: true,
        },
        Goal {
            key: "p99_added",
            what: "p99 latency added over direct",
            ratio: added(|f| f.p99_ms),
            bound: 1.5,
            at_most: true,
        },
        Goal {
            key: "handshakes",
            what: "new connection + TLS per request",
            ratio: vs_bare(|f| Some(f.handshake_rps).filter(|v| *v > 0.0)),
            bound: 0.97,
            at_most: false,
        },
        Goal {
            key: "big_bodies",
            what: "1 MiB responses (MiB/s)",
            ratio: vs_bare(|f| Some(f.big_mbps).filter(|v| *v > 0.0)),
            bound: 0.9,
            at_most: false,
        },
        Goal {
            key: "rss_held",
            what: "RSS holding connections",
            ratio: vs_bare(|f| f.rss_held_mib),
            bound: 1.3,
            at_most: true,
        },
        Goal {
            key: "fix_throughput",
            what: "lint + fix throughput vs lint only",
            ratio: fix.and_then(|f| ratio_of(f.rps, lint.rps)),
            bound: 0.95,
            at_most: false,
        },
    ]
}

/// The ratio of the goal `key` among `goals`, when it was measured.
fn ratio_for(goals: &[Goal], key: &str) -> Option<f64> {
    goals.iter().find(|g| g.key == key).and_then(|g| g.ratio)
}

/// A goal's ratio in each round (from that round's slices alone), for
/// the route `subject`: how far one run's ratio moves with the machine.
fn per_round(rounds: &[Vec<(String, Figures)>], subject: &str, key: &str) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|round| ratio_for(&goals(round, subject), key))
        .collect()
}

/// `min–max` of per-round ratios ("" when there are none).
fn spread(ratios: &[f64]) -> String {
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if ratios.is_empty() {
        String::new()
    } else {
        format!("{min:.2}-{max:.2}x")
    }
}

impl Goal {
    fn met(&self) -> Option<bool> {
        self.ratio.map(|r| {
            if self.at_most {
                r <= self.bound
            } else {
                r >= self.bound
            }
        })
    }
}

fn report(results: &[(String, Figures)], rounds: &[Vec<(String, Figures)>]) {
    let direct = &results[0].1;
    let bare = find(results, BARE);
    let mitm = find(results, MITM);
    println!();
    println!(
        "{:<28} {:>12} {:>10} {:>10} {:>12}",
        "route / workload", "value", "vs direct", "vs bare", "vs mitmdump"
    );
    for (name, figures) in results {
        println!("{name}");
        for (label, _, get) in &ROWS {
            let Some(value) = get(figures) else { continue };
            if *label == "errors" && value == 0.0 {
                continue;
            }
            let versus = |other: Option<&Figures>| {
                other.and_then(get).map_or("-".into(), |o| ratio(value, o))
            };
            println!(
                "  {label:<26} {value:>12.3} {:>10} {:>10} {:>12}",
                versus(Some(direct)),
                versus(bare),
                versus(mitm)
            );
        }
    }
    let goals_of_lint = goals(results, LINT);
    let floor = goals(results, MINIMAL);
    let unchecked = goals(results, UNCHECKED);
    if !goals_of_lint.is_empty() {
        println!();
        println!("goals of issue 19 (trakt-doctor (lint) against the bare proxy, this run):");
        println!(
            "  {:<54} {:<9} {:<13} {:<10} checks off",
            "", "", "its rounds", "minimal"
        );
        for goal in &goals_of_lint {
            let of = |others: &[Goal]| {
                ratio_for(others, goal.key).map_or(String::new(), |r| format!("{r:.2}x"))
            };
            println!(
                "  {:<36} {:>8} {} {:<5} {:<9} {:<13} {:<10} {}",
                goal.what,
                goal.ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                if goal.at_most { "<=" } else { ">=" },
                format!("{:.2}x", goal.bound),
                match goal.met() {
                    Some(true) => "met",
                    Some(false) => "not met",
                    None => "not measured",
                },
                spread(&per_round(rounds, LINT, goal.key)),
                of(&floor),
                of(&unchecked)
            );
        }
    }
}

/// Every figure and ratio of the run as one JSON object (`--json`).
fn report_json(
    results: &[(String, Figures)],
    rounds: &[Vec<(String, Figures)>],
    header: serde_json::Value,
    stages: Option<&serde_json::Value>,
) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let number = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    let mut routes = Map::new();
    for (name, figures) in results {
        let mut values = Map::new();
        for (_, key, get) in &ROWS {
            values.insert((*key).into(), get(figures).map_or(Value::Null, number));
        }
        let mut ratios = Map::new();
        for (versus, other) in [
            ("vs_direct", DIRECT),
            ("vs_bare", BARE),
            ("vs_mitmdump", MITM),
        ] {
            let Some(other) = find(results, other) else {
                continue;
            };
            let mut these = Map::new();
            for (_, key, get) in &ROWS {
                let r = get(figures)
                    .zip(get(other))
                    .and_then(|(v, o)| ratio_of(v, o));
                these.insert((*key).into(), r.map_or(Value::Null, number));
            }
            ratios.insert(versus.into(), Value::Object(these));
        }
        routes.insert(
            name.clone(),
            json!({"figures": Value::Object(values), "ratios": Value::Object(ratios)}),
        );
    }
    let floor = goals(results, MINIMAL);
    let unchecked = goals(results, UNCHECKED);
    let goals: Vec<Value> = goals(results, LINT)
        .iter()
        .map(|g| {
            let of = |others: &[Goal]| ratio_for(others, g.key).map_or(Value::Null, number);
            let in_rounds: Vec<Value> = per_round(rounds, LINT, g.key)
                .into_iter()
                .map(number)
                .collect();
            json!({"goal": g.key, "what": g.what, "ratio": g.ratio.map_or(Value::Null, number),
                   "bound": g.bound, "at_most": g.at_most, "met": g.met(),
                   "rounds": in_rounds,
                   "minimal_inspecting_proxy": of(&floor),
                   "checks_off": of(&unchecked)})
        })
        .collect();
    let mut out = header;
    out["routes"] = Value::Object(routes);
    out["goals"] = Value::Array(goals);
    if let Some(stages) = stages {
        out["stages"] = stages.clone();
    }
    out
}

// ---------- the per-stage timings ----------

/// Asks the stage child for its allocation count (SIGUSR1) and reads it.
async fn allocation_count(pid: u32, dir: &Path) -> Option<u64> {
    let file = dir.join("allocations.txt");
    let _ = std::fs::remove_file(&file);
    let sent = Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    let deadline = Instant::now() + Duration::from_secs(3);
    while sent && Instant::now() < deadline {
        if let Some(count) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return Some(count);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Runs trakt-doctor (lint) with its stage timers on: `requests` sequential
/// requests on one keep-alive connection (as the latency workload), then
/// `handshakes` new connections; stops it (SIGTERM: it writes its timings
/// as it shuts down) and reads them. Linux/Unix only (the `kill` command).
async fn measure_stages(
    upstream: &Upstream,
    dir: &Path,
    requests: usize,
    handshakes: usize,
) -> Option<serde_json::Value> {
    let file = dir.join("stages.json");
    // BENCH_STAGES_FIX=1: the same table with auto-fix on (what it adds to the path).
    let fix = std::env::var_os("BENCH_STAGES_FIX").is_some();
    if fix {
        eprintln!("bench: the stage table below is for trakt-doctor (lint + fix)");
    }
    let checks = if fix { Checks::Fix } else { Checks::Lint };
    let (mut child, addr, ca) = spawn_trakt_doctor(upstream, dir, checks, Some(&file));
    let route = Route::new(
        LINT,
        addr,
        Some(("api.trakt.tv", 443)),
        "api.trakt.tv",
        ca,
        Some(child.id()),
    );
    let mut samples = Vec::with_capacity(requests);
    let mut allocations = None;
    if let Ok(mut sender) = open(&route).await {
        for _ in 0..10 {
            let _ = one(&mut sender, &route, "/scrobble/start").await;
        }
        let before = allocation_count(child.id(), dir).await;
        for _ in 0..requests {
            let start = Instant::now();
            if one(&mut sender, &route, "/scrobble/start").await.is_ok() {
                samples.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        // Lets the finishing and the log writer catch up before counting.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = allocation_count(child.id(), dir).await;
        allocations = before
            .zip(after)
            .filter(|_| !samples.is_empty())
            .map(|(b, a)| a.saturating_sub(b) as f64 / samples.len() as f64);
    }
    for _ in 0..handshakes {
        if let Ok(mut sender) = open(&route).await {
            let _ = one(&mut sender, &route, "/scrobble/start").await;
        }
    }
    samples.sort_by(f64::total_cmp);
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while stopped && Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    // The floor's allocations over as many requests, for comparison.
    let counts = dir.join("allocations.txt");
    let (mut bare, addr) = spawn_bare_proxy(
        upstream,
        dir,
        &[("BENCH_ALLOCATIONS", counts.as_os_str())],
        false,
    );
    let bare_route = Route::new(
        BARE,
        addr,
        Some(("api.trakt.tv", 443)),
        "api.trakt.tv",
        upstream.ca_der.clone(),
        Some(bare.id()),
    );
    let mut bare_allocations = None;
    if let Ok(mut sender) = open(&bare_route).await {
        for _ in 0..10 {
            let _ = one(&mut sender, &bare_route, "/scrobble/start").await;
        }
        let before = allocation_count(bare.id(), dir).await;
        let mut done = 0;
        for _ in 0..requests {
            if one(&mut sender, &bare_route, "/scrobble/start")
                .await
                .is_ok()
            {
                done += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = allocation_count(bare.id(), dir).await;
        bare_allocations = before
            .zip(after)
            .filter(|_| done > 0)
            .map(|(b, a)| a.saturating_sub(b) as f64 / done as f64);
    }
    let _ = bare.kill();
    let _ = bare.wait();
    let text = std::fs::read_to_string(&file).ok()?;
    let mut value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["bare_allocations_per_request"] = serde_json::json!(bare_allocations);
    value["client_p50_ms"] = serde_json::json!(percentile(&samples, 0.5));
    value["allocations_per_request"] = serde_json::json!(allocations);
    value["requests"] = serde_json::json!(requests);
    Some(value)
}

fn report_stages(stages: &serde_json::Value) {
    println!();
    println!(
        "stages inside trakt-doctor (lint), its own timers; {} sequential requests on one \
         connection (client-side p50 {:.3} ms; allocations per request in the proxy: {:.1}, \
         bare proxy {:.1}):",
        stages["requests"],
        stages["client_p50_ms"].as_f64().unwrap_or(f64::NAN),
        stages["allocations_per_request"]
            .as_f64()
            .unwrap_or(f64::NAN),
        stages["bare_allocations_per_request"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    println!(
        "  {:<38} {:>10} {:>10} {:>8}",
        "stage", "p50 (us)", "p99 (us)", "count"
    );
    for stage in stages["stages"].as_array().into_iter().flatten() {
        println!(
            "  {:<38} {:>10.1} {:>10.1} {:>8}",
            stage["name"].as_str().unwrap_or("?"),
            stage["p50_us"].as_f64().unwrap_or(f64::NAN),
            stage["p99_us"].as_f64().unwrap_or(f64::NAN),
            stage["count"]
        );
    }
}

/// The commit the harness was built from, when git can say (for comparing runs).
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    Some(commit).filter(|c| !c.is_empty())
}

const HELP: &str = "trakt-doctor's benchmark harness: the same workloads direct, through a bare
forwarding proxy (the floor), through trakt-doctor (checks off; lint; lint + fix)
and through mitmdump when installed. Loopback only; figures only, never a failure on speed.
Every route is started first; each workload then runs in five rounds, every
route taking its slice in turn, so the ratios compare the same minutes.

usage: cargo run --release --example bench -- [options]

  --smoke               a few requests each (CI keeps the harness working)
  --quick               latency, throughput and CPU per request only (for iterating)
  --stages              also the per-stage table from trakt-doctor's own timers
                        (TRAKT_DOCTOR_STAGES; off in production; with
                        BENCH_STAGES_FIX=1 in the environment, auto-fix on)
  --json                also one JSON object with every figure, ratio and goal
  --mitmproxy           install mitmdump into target/bench-venv and compare
  --without-mitmproxy   skip mitmdump even if installed
  --only LIST           only these workloads: latency, throughput, handshakes,
                        big, big-json, big-gzip, big-br, memory (comma-separated;
                        for profiling one of them; big-json, big-gzip, big-br:
                        a 1 MiB JSON answer plain, gzip- and br-coded, the
                        client receiving the coded bytes)
  --routes LIST         only these routes: direct, bare, minimal, unchecked, lint,
                        fix, mitmdump (minimal: the bare proxy plus the least
                        inspection any logging proxy does: both bodies parsed or
                        kept as text, a JSON line each; unchecked: trakt-doctor
                        with every check off, TRAKT_DOCTOR_BENCH_NO_CHECKS, so
                        lint minus unchecked is what the checks cost)
  --help                this text

environment: BENCH_KEEP=1 keeps the run's folder (logs, CAs, stderr);
BENCH_BIG_REQUESTS=N sends N 1 MiB answers of each kind instead of 40, BENCH_HANDSHAKES=N
opens N new connections instead of 300 (for profiling)
";

/// The same allocator as the trakt-doctor binary, so the child proxy runs
/// as it would; in the stage run it also counts allocations (a
/// deterministic measure of the work per request, unlike time on a busy machine).
#[global_allocator]
static ALLOCATOR: Counting = Counting;

static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Counting;

// The only unsafe code of the harness: a global allocator is an unsafe
// trait; this one forwards every call unchanged to mimalloc.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count_allocation() {
    use std::sync::atomic::Ordering;
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// In a child started with BENCH_ALLOCATIONS=FILE: counts allocations and
/// writes the count to FILE on each SIGUSR1, so the harness can take the
/// difference over a known number of requests. Unix only.
fn serve_allocation_counts() {
    let Some(file) = std::env::var_os("BENCH_ALLOCATIONS") else {
        return;
    };
    COUNTING.store(true, std::sync::atomic::Ordering::Relaxed);
    #[cfg(unix)]
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
                return;
            };
            while usr1.recv().await.is_some() {
                let count = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
                let _ = std::fs::write(&file, count.to_string());
            }
        });
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child-proxy") => return child_proxy(&args[1..]),
        Some("--child-bare-proxy") => return child_bare_proxy(&args[1..]),
        _ => {}
    }
    let known = [
        "--smoke",
        "--quick",
        "--stages",
        "--json",
        "--mitmproxy",
        "--without-mitmproxy",
    ];
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return;
    }
    // `--only a,b` and `--routes a,b` take a list; every other option is a flag.
    let mut only = Vec::new();
    let mut routes = Vec::new();
    let mut flags = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (list, allowed): (&mut Vec<String>, &[&str]) = match arg.as_str() {
            "--only" => (&mut only, &WORKLOADS),
            "--routes" => (&mut routes, &ROUTES),
            flag if known.contains(&flag) => {
                flags.push(flag.to_string());
                continue;
            }
            unknown => {
                eprint!("bench: unknown option {unknown}\n\n{HELP}");
                std::process::exit(2);
            }
        };
        let Some(value) = rest.next() else {
            eprintln!("bench: {arg} needs a list, one of {}", allowed.join(", "));
            std::process::exit(2);
        };
        for item in value.split(',').filter(|i| !i.is_empty()) {
            if !allowed.contains(&item) {
                eprintln!(
                    "bench: {arg}: unknown {item:?}, expected one of {}",
                    allowed.join(", ")
                );
                std::process::exit(2);
            }
            list.push(item.to_string());
        }
    }
    let args = flags;
    let route_wanted = |name: &str| routes.is_empty() || routes.iter().any(|r| r == name);
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let smoke = has("--smoke");
    let quick = has("--quick");
    let want_stages = has("--stages");
    let want_json = has("--json");
    let install_mitm = has("--mitmproxy");
    let skip_mitm = has("--without-mitmproxy");
    let sizes = if smoke {
        Sizes {
            latency_requests: 20,
            throughput_secs: 0.3,
            connections: 8,
            handshakes: 5,
            big_requests: 2,
            held_connections: 20,
            soak_requests: 320,
            // Two, so that the rotation itself is exercised.
            rounds: 2,
            settle: compressed::SETTLE_SMOKE,
            quick,
            only: only.clone(),
        }
    } else {
        Sizes {
            latency_requests: 3000,
            throughput_secs: 4.0,
            connections: 64,
            // BENCH_HANDSHAKES, BENCH_BIG_REQUESTS: more of those, for profiling them.
            handshakes: env_count("BENCH_HANDSHAKES").unwrap_or(300),
            big_requests: env_count("BENCH_BIG_REQUESTS").unwrap_or(40),
            held_connections: 1000,
            soak_requests: 100_000,
            rounds: 5,
            settle: compressed::SETTLE,
            quick,
            only,
        }
    };
    // BENCH_KEEP=1 keeps the folder (logs, CAs, the proxies' stderr) to look at.
    let keep = std::env::var_os("BENCH_KEEP").is_some();
    let dir = tempfile::Builder::new()
        .prefix("trakt-doctor-bench")
        .disable_cleanup(keep)
        .tempdir()
        .expect("temp dir");
    if keep {
        eprintln!("bench: keeping {}", dir.path().display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The coded answers are compressed before any route is measured.
    let answers = compressed::chosen(&sizes).then(compressed::describe);
    let started = Instant::now();
    let (results, rounds, stages) = runtime.block_on(async {
        let upstream = start_upstream(dir.path()).await;
        // Every route is started first and measured in turns (see measure_all).
        let mut measured = Vec::new();
        if route_wanted("direct") {
            let direct = Route::new(DIRECT, upstream.addr, None, "api.trakt.tv", upstream.ca_der.clone(), None);
            measured.push(Measured::new(direct, None));
        }
        for (wanted, name, inspect) in [("bare", BARE, false), ("minimal", MINIMAL, true)] {
            if route_wanted(wanted) {
                let (child, addr) = spawn_bare_proxy(&upstream, dir.path(), &[], inspect);
                let route = Route::new(name, addr, Some(("api.trakt.tv", 443)), "api.trakt.tv", upstream.ca_der.clone(), Some(child.id()));
                measured.push(Measured::new(route, Some(child)));
            }
        }
        for (wanted, name, checks) in [("unchecked", UNCHECKED, Checks::Off), ("lint", LINT, Checks::Lint), ("fix", LINT_FIX, Checks::Fix)] {
            if !route_wanted(wanted) {
                continue;
            }
            let (child, addr, ca) = spawn_trakt_doctor(&upstream, dir.path(), checks, None);
            let route = Route::new(name, addr, Some(("api.trakt.tv", 443)), "api.trakt.tv", ca, Some(child.id()));
            measured.push(Measured::new(route, Some(child)));
        }
        let mitmdump = if skip_mitm || !route_wanted("mitmdump") { None } else { spawn_mitmdump(&upstream, dir.path(), install_mitm) };
        if let Some((child, addr, ca)) = mitmdump {
            let route = Route::new(MITM, addr, Some(("localhost", upstream.addr.port())), "localhost", ca, Some(child.id()));
            measured.push(Measured::new(route, Some(child)));
        } else if !skip_mitm && route_wanted("mitmdump") {
            eprintln!("mitmdump not found: run with --mitmproxy to install it into target/bench-venv and compare");
        }
        measure_all(&mut measured, &sizes).await;
        let rounds: Vec<Vec<(String, Figures)>> = (0..sizes.rounds)
            .map(|i| {
                measured
                    .iter_mut()
                    .map(|m| {
                        let figures = m.rounds.get_mut(i).map(Tally::figures).unwrap_or_default();
                        (m.route.name.clone(), figures)
                    })
                    .collect()
            })
            .collect();
        let mut results = Vec::new();
        for m in &mut measured {
            let mut figures = m.total.figures();
            if sizes.runs("memory") {
                memory(&m.route, &sizes, &mut figures).await;
            }
            m.stop();
            results.push((m.route.name.clone(), figures));
        }
        let stages = if want_stages {
            let (requests, handshakes) = if smoke { (50, 5) } else { (sizes.latency_requests, 100) };
            measure_stages(&upstream, dir.path(), requests, handshakes).await
        } else {
            None
        };
        (results, rounds, stages)
    });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mode = match (smoke, quick) {
        (true, _) => "smoke",
        (false, true) => "quick",
        (false, false) => "full",
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("trakt-doctor bench ({mode}) on {cores} cores, {seconds:.0} s, loopback only");
    if answers.is_some() {
        println!("{}", compressed::summary());
    }
    report(&results, &rounds);
    if want_stages {
        match &stages {
            Some(stages) => report_stages(stages),
            None => eprintln!("bench: the stage timings could not be read"),
        }
    }
    if want_json {
        let mut header = serde_json::json!({
            "mode": mode,
            "cores": cores,
            "seconds": seconds,
            "commit": git_commit(),
        });
        if let Some(answers) = answers {
            header["answers"] = answers;
        }
        println!();
        println!(
            "{}",
            report_json(&results, &rounds, header, stages.as_ref())
        );
    }
}
