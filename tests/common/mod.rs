//! Shared test harness: a test CA, a fake upstream (hyper + rustls on
//! 127.0.0.1, HTTP/1.1 and HTTP/2) that answers as the CDN in front of
//! Trakt and Stremio does (compressed, chunked, Cloudflare's headers: see
//! cdn.rs), the real trakt-doctor binary started on an ephemeral port, and a
//! Rust client that goes through CONNECT. Everything talks to loopback only.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod cdn;
pub mod stremio_fake;

// Not every test file uses every helper.
#[allow(unused_imports)]
pub use cdn::{
    cloudflare_page, decode, decoded_body, encode, encode_raw_deflate, encode_stacked, negotiate,
    Coding, Sent,
};

/// Runs `node SCRIPT ARG` in the script's folder (where its node_modules
/// are): whether it succeeded, and what it printed (stdout, then stderr).
pub fn node_script(script: &Path, arg: impl AsRef<std::ffi::OsStr>) -> (bool, String) {
    let out = Command::new("node")
        .arg(script)
        .arg(arg)
        .current_dir(script.parent().unwrap_or(Path::new(".")))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "node is needed to run {} ({e}); install nodejs",
                script.display()
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Names the fake upstream's certificate is valid for.
pub const FAKE_NAMES: &[&str] = &[
    "api.trakt.tv",
    "apiz.trakt.tv",
    "auth.trakt.tv",
    "trakt.tv",
    "api.strem.io",
    "www.strem.io",
    "localhost",
];

/// A CA for the fake upstream, written to a PEM file the proxy can trust.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub pem_path: PathBuf,
    pub cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "fake upstream test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem_path = dir.path().join("fake-upstream-ca.pem");
        std::fs::write(&pem_path, cert.pem()).unwrap();
        TestCa {
            dir,
            pem_path,
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A TLS acceptor presenting a certificate for `names`, offering `alpn`.
    pub fn acceptor(&self, names: &[&str], alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
        let (chain, key) = self.leaf(names);
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }

    /// A server certificate for `names`, signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// What the fake upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The host the request was for (Host header or :authority).
    pub host: String,
    pub method: String,
    pub path: String,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// What the fake upstream's handler answers. The fake sends it as the CDN
/// would (see cdn.rs): compressed for a client that accepts it, chunked,
/// with Cloudflare's headers; a body whose `Content-Encoding` the handler
/// set is sent as given.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub delay: Duration,
    /// Send the body as given (no compression) with a Content-Length:
    /// only for a test that needs identity bodies (see [`Reply::plain`]).
    pub plain: bool,
}

impl Default for Reply {
    /// An empty 200.
    fn default() -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
            plain: false,
        }
    }
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
            ..Reply::default()
        }
    }

    /// This reply with its body sent as is, uncompressed and with a
    /// Content-Length, whatever the client accepts (Cloudflare's headers
    /// are still added).
    pub fn plain(self) -> Reply {
        Reply {
            plain: true,
            ..self
        }
    }

    /// This reply with a body already encoded by the test: `body` is sent
    /// byte for byte with `Content-Encoding: content_encoding`.
    pub fn encoded(self, content_encoding: &str, body: impl Into<Bytes>) -> Reply {
        let mut headers = self.headers;
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-encoding"));
        headers.push(("content-encoding".into(), content_encoding.into()));
        Reply {
            headers,
            body: body.into(),
            ..self
        }
    }
}

pub type Handler = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// A fake Trakt (or Stremio) server on 127.0.0.1 with TLS from a [`TestCa`],
/// behind a fake of the CDN in front of them (see cdn.rs).
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// What it answered, as sent (after the CDN: encoded bodies, its headers).
    pub sent: Arc<Mutex<Vec<Sent>>>,
}

impl FakeUpstream {
    pub async fn start(ca: &TestCa, handler: Handler) -> FakeUpstream {
        Self::start_named(ca, FAKE_NAMES, handler).await
    }

    /// Like [`FakeUpstream::start`], every reply [`Reply::plain`]: for a test
    /// that needs identity bodies throughout.
    pub async fn start_plain(ca: &TestCa, handler: Handler) -> FakeUpstream {
        let plain: Handler = Arc::new(move |r: &Received| handler(r).plain());
        Self::start_named(ca, FAKE_NAMES, plain).await
    }

    /// Like [`FakeUpstream::start`], with a certificate for `names` only.
    pub async fn start_named(ca: &TestCa, names: &[&str], handler: Handler) -> FakeUpstream {
        let acceptor = ca.acceptor(names, &[b"h2", b"http/1.1"]);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let sent_log = sent.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let handler = handler.clone();
                let log = log.clone();
                let sent_log = sent_log.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req: http::Request<Incoming>| {
                        let handler = handler.clone();
                        let log = log.clone();
                        let sent_log = sent_log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let host = parts
                                .uri
                                .host()
                                .map(str::to_string)
                                .or_else(|| {
                                    parts
                                        .headers
                                        .get("host")
                                        .and_then(|h| h.to_str().ok())
                                        .map(|h| h.split(':').next().unwrap_or("").to_string())
                                })
                                .unwrap_or_default();
                            let received = Received {
                                host,
                                method: parts.method.to_string(),
                                path: parts
                                    .uri
                                    .path_and_query()
                                    .map_or("/".into(), |p| p.to_string()),
                                version: parts.version,
                                headers: parts.headers,
                                body,
                            };
                            let reply = handler(&received);
                            let wire = cdn::through_cdn(&received, reply);
                            sent_log.lock().unwrap().push(Sent {
                                host: received.host.clone(),
                                method: received.method.clone(),
                                path: received.path.clone(),
                                status: wire.status,
                                headers: wire.headers.clone(),
                                body: wire.body.clone(),
                            });
                            log.lock().unwrap().push(received);
                            tokio::time::sleep(wire.delay).await;
                            let body = if wire.chunked {
                                Either::Right(cdn::Chunked::new(wire.body))
                            } else {
                                Either::Left(Full::new(wire.body))
                            };
                            let mut response = http::Response::new(body);
                            *response.status_mut() =
                                http::StatusCode::from_u16(wire.status).unwrap();
                            *response.headers_mut() = wire.headers;
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        FakeUpstream {
            addr,
            received,
            sent,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// What the fake answered, in order, as sent.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The Authorization headers of the requests received on paths that
    /// start with `path_prefix`, in order.
    pub fn bearers(&self, path_prefix: &str) -> Vec<String> {
        self.received()
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
            .collect()
    }
}

/// An echoing handler: answers 200 with a JSON description of the request.
pub fn echo() -> Handler {
    Arc::new(|r: &Received| {
        Reply::json(
            200,
            &serde_json::json!({
                "method": r.method,
                "path": r.path,
                "body": String::from_utf8_lossy(&r.body),
            })
            .to_string(),
        )
    })
}

/// The real trakt-doctor binary, running on an ephemeral loopback port.
pub struct ProxyProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub certs: tempfile::TempDir,
    pub stderr: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
    /// The read end of a standard output nobody reads (see [`ProxyProcess::start_stalled`]).
    pub stalled_stdout: Option<std::process::ChildStdout>,
}

/// How [`ProxyProcess::launch`] starts the binary.
#[derive(Default)]
pub struct Launch {
    /// Leave standard output unread, as a paused terminal does.
    pub stall_stdout: bool,
    /// Start under this file-descriptor limit (soft and hard; Unix `ulimit -n`).
    pub nofile: Option<u64>,
    /// Leave `NO_COLOR` unset (the proxy must still print no colour into pipes).
    pub colour: bool,
}

impl ProxyProcess {
    /// Starts the proxy with `args` (plus --listen and --certs) and waits for its banner.
    pub fn start(args: &[String]) -> ProxyProcess {
        let certs = tempfile::tempdir().unwrap();
        Self::start_with_certs(args, certs)
    }

    pub fn start_with_certs(args: &[String], certs: tempfile::TempDir) -> ProxyProcess {
        Self::launch(args, certs, Launch::default())
    }

    /// Like [`ProxyProcess::start`], without `NO_COLOR`: the proxy must still
    /// print no colour codes, its output being pipes.
    pub fn start_coloured(args: &[String]) -> ProxyProcess {
        let launch = Launch {
            colour: true,
            ..Launch::default()
        };
        Self::launch(args, tempfile::tempdir().unwrap(), launch)
    }

    /// Starts the proxy with a standard output that nobody reads.
    pub fn start_stalled(args: &[String]) -> ProxyProcess {
        let launch = Launch {
            stall_stdout: true,
            ..Launch::default()
        };
        Self::launch(args, tempfile::tempdir().unwrap(), launch)
    }

    pub fn launch(args: &[String], certs: tempfile::TempDir, launch: Launch) -> ProxyProcess {
        let mut command = match launch.nofile {
            // `ulimit -n` sets the soft and the hard limit; exec keeps the pid.
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_trakt-doctor"));
                sh
            }
            None => Command::new(env!("CARGO_BIN_EXE_trakt-doctor")),
        };
        if launch.colour {
            command.env_remove("NO_COLOR");
        } else {
            command.env("NO_COLOR", "1");
        }
        let mut child = command
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--certs")
            .arg(certs.path())
            .args(args)
            .env("RUST_LOG", "trakt_doctor=debug,warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start trakt-doctor");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { break };
                // Kept before the address is announced, so a test that reads
                // stderr once the proxy has started finds the line.
                {
                    let mut all = sink.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    if let (Some(tx), Ok(addr)) = (tx.take(), rest.trim().parse::<SocketAddr>()) {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let out_pipe = child.stdout.take().unwrap();
        let sink = stdout.clone();
        let mut stalled_stdout = None;
        if launch.stall_stdout {
            stalled_stdout = Some(out_pipe);
        } else {
            std::thread::spawn(move || {
                for line in BufReader::new(out_pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut all = sink.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "trakt-doctor did not start; stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        ProxyProcess {
            child,
            addr,
            certs,
            stderr,
            stdout,
            stalled_stdout,
        }
    }

    pub fn ca_path(&self) -> PathBuf {
        self.certs.path().join("trakt-doctor-ca.pem")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The web view's unlock link, as the start banner printed it
    /// (`http://ADDR/?unlock=SECRET`): what allows acting on the web view.
    pub fn unlock_url(&self) -> String {
        let find = |p: &ProxyProcess| {
            p.stderr()
                .lines()
                .filter(|line| line.trim_start().starts_with("Web view:"))
                .flat_map(str::split_whitespace)
                .find(|word| word.contains("/?unlock="))
                .map(str::to_string)
        };
        self.wait_for("the unlock link in the start banner", |p| find(p).is_some());
        find(self).unwrap()
    }

    /// The unlock cookie and the page token, as a browser gets them by
    /// opening [`ProxyProcess::unlock_url`]: what a curl client needs to act.
    pub fn web_key(&self) -> WebKey {
        let opened = curl(&["-D", "-", "-o", "/dev/null", &self.unlock_url()]);
        let head = String::from_utf8_lossy(&opened.stdout).into_owned();
        assert!(
            head.starts_with("HTTP/1.1 303"),
            "the unlock link answered:\n{head}"
        );
        let cookie = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("set-cookie").then(|| {
                    value
                        .split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                })
            })
            .unwrap_or_else(|| panic!("the unlock link set no cookie:\n{head}"));
        let page = curl(&[
            "-H",
            &format!("Cookie: {cookie}"),
            &format!("{}/", self.url()),
        ]);
        let token = page_token(&String::from_utf8_lossy(&page.stdout));
        assert_eq!(token.len(), 32, "the unlocked page has no token");
        WebKey { cookie, token }
    }

    /// Runs curl through this proxy, trusting its CA.
    pub fn curl(&self, args: &[&str]) -> std::process::Output {
        let url = self.url();
        let ca = self.ca_path().display().to_string();
        curl(&[&["-x", url.as_str(), "--cacert", ca.as_str()], args].concat())
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Sends SIGINT and waits for the process to exit; returns its exit code.
    pub fn interrupt(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill is available");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads collect the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "trakt-doctor did not stop after SIGINT; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `predicate` holds for the stdout/stderr text, or panics.
    pub fn wait_for(&self, what: &str, predicate: impl Fn(&ProxyProcess) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !predicate(self) {
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; stderr:\n{}\nstdout:\n{}",
                    self.stderr(),
                    self.stdout()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What acting on the web view takes: the unlock cookie the start link sets
/// (`trakt_doctor_unlock_PORT=SECRET`) and the page's token.
#[derive(Clone, Debug)]
pub struct WebKey {
    pub cookie: String,
    pub token: String,
}

impl WebKey {
    /// The curl arguments that send both.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-H".into(),
            format!("Cookie: {}", self.cookie),
            "-H".into(),
            format!("x-trakt-doctor-token: {}", self.token),
        ]
    }

    /// The same cookie with another token.
    pub fn with_token(&self, token: &str) -> WebKey {
        WebKey {
            cookie: self.cookie.clone(),
            token: token.into(),
        }
    }
}

/// The token printed into the web view's page (empty on a read-only page).
pub fn page_token(html: &str) -> String {
    let marker = "name=\"trakt-doctor-token\" content=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no token meta in the page:\n{html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Arguments that route the default hosts to a fake upstream and trust its CA.
pub fn route_to(fake: &FakeUpstream, ca: &TestCa) -> Vec<String> {
    route_to_addr(fake.addr, ca)
}

/// Arguments that route the default hosts to `addr` and trust `ca` upstream.
pub fn route_to_addr(addr: SocketAddr, ca: &TestCa) -> Vec<String> {
    let mut args = vec![
        "--upstream-ca".to_string(),
        ca.pem_path.display().to_string(),
    ];
    for host in trakt_doctor::DEFAULT_INTERCEPT_HOSTS {
        args.push("--resolve".into());
        args.push(format!("{host}:443={addr}"));
    }
    args
}

/// Starts the proxy routed to `fake`, logging JSON Lines into a fresh
/// temporary folder, with `extra` flags: (proxy, log path, folder).
pub fn logged_proxy(
    fake: &FakeUpstream,
    ca: &TestCa,
    extra: &[&str],
) -> (ProxyProcess, PathBuf, tempfile::TempDir) {
    logged_proxy_at(fake.addr, ca, extra)
}

/// Like [`logged_proxy`], for an upstream at `addr` that is not a [`FakeUpstream`].
pub fn logged_proxy_at(
    addr: SocketAddr,
    ca: &TestCa,
    extra: &[&str],
) -> (ProxyProcess, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let mut args = vec!["--log".to_string(), log.display().to_string()];
    args.extend(route_to_addr(addr, ca));
    args.extend(extra.iter().map(|s| s.to_string()));
    (ProxyProcess::start(&args), log, dir)
}

/// Reads every record of a JSON Lines log.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A line still being written has no newline yet: it is not a record yet.
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSONL line {line}: {e}"))
        })
        .collect()
}

/// Waits until the log has at least `n` records.
pub fn wait_for_records(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = read_jsonl(path);
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs curl; fails with a message that says how to install it when missing.
pub fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("curl is needed by the integration tests ({e}); install it, e.g. `apt-get install curl`")
        })
}

/// A CONNECT tunnel through the proxy to `host:port`: the stream after the 200.
pub async fn tunnel(proxy: SocketAddr, host: &str, port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(
            format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert!(
            n > 0,
            "proxy closed during CONNECT: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "CONNECT answered {head}");
    stream
}

/// A Rust client: CONNECT through the proxy, TLS trusting `ca`, then one
/// hyper connection (HTTP/1.1 or HTTP/2 per ALPN).
pub async fn connect_through(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    ca: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let stream = tunnel(proxy, host, port).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(host.to_string()).unwrap(), stream)
        .await
        .unwrap()
}

/// Reads a PEM certificate file.
pub fn read_cert(path: &Path) -> CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path).unwrap()
}

/// A fake Trakt that rejects mistakes the way Trakt documents (and is
/// reported) to: 403 HTML from "Cloudflare" without a User-Agent, 400 for a
/// wrong API version or unparsable JSON, 403 without an API key, 412 for a
/// non-JSON content type, 401 for a bad bearer header, 422 for a bad
/// progress, 404 for ids it cannot match, `invalid_grant` for a reused
/// refresh token. Written independently of trakt-doctor's own rules.
pub fn strict_trakt() -> Handler {
    let refreshed = Arc::new(Mutex::new(Vec::<String>::new()));
    Arc::new(move |r: &Received| {
        let header = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if header("user-agent").is_none() {
            return cloudflare_page(403);
        }
        let repeated = ["trakt-api-version", "trakt-api-key", "authorization"]
            .iter()
            .any(|h| r.headers.get_all(*h).iter().count() > 1);
        if repeated || header("trakt-api-version").as_deref() != Some("2") {
            return Reply::json(400, "");
        }
        if header("trakt-api-key").is_none() {
            return Reply::json(403, "");
        }
        let json: Option<serde_json::Value> = if r.body.is_empty() {
            None
        } else {
            if header("content-type").as_deref() != Some("application/json") {
                return Reply::json(412, "");
            }
            match serde_json::from_slice(&r.body) {
                Ok(v) => Some(v),
                Err(_) => return Reply::json(400, ""),
            }
        };
        let path = r.path.split('?').next().unwrap_or("").to_string();
        let needs_token = path.starts_with("/scrobble/")
            || path.starts_with("/sync/")
            || path == "/users/settings";
        if needs_token {
            match header("authorization") {
                Some(auth)
                    if auth.starts_with("Bearer ")
                        && auth.len() > 7
                        && !auth[7..].contains([' ', '"']) => {}
                _ => {
                    return Reply {
                        headers: vec![(
                            "www-authenticate".into(),
                            "Bearer realm=\"trakt\", error=\"invalid_token\"".into(),
                        )],
                        ..Reply::json(401, "")
                    }
                }
            }
        }
        if path == "/oauth/token" {
            let refresh = json
                .as_ref()
                .and_then(|j| j.get("refresh_token"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            if let Some(refresh) = refresh {
                let mut used = refreshed.lock().unwrap();
                if used.contains(&refresh) {
                    return Reply::json(
                        400,
                        r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#,
                    );
                }
                used.push(refresh);
            }
            return Reply::json(
                200,
                r#"{"access_token":"new-access","token_type":"bearer","expires_in":604800,"refresh_token":"new-refresh","scope":"public","created_at":1700000000}"#,
            );
        }
        if path.starts_with("/scrobble/") {
            let body = json.unwrap_or_default();
            let progress = body.get("progress").and_then(|p| p.as_f64());
            match progress {
                Some(p) if (0.0..=100.0).contains(&p) && !(path == "/scrobble/stop" && p < 1.0) => {
                }
                _ => {
                    return Reply::json(
                        422,
                        r#"{"errors":{"progress":["must be a number between 0 and 100"]}}"#,
                    )
                }
            }
            let item = body.get("movie").or_else(|| body.get("episode"));
            let ids = item.and_then(|i| i.get("ids")).and_then(|i| i.as_object());
            let matchable = ids.is_some_and(|ids| {
                ids.iter().any(|(k, v)| match k.as_str() {
                    "trakt" | "tmdb" | "tvdb" => v.is_u64(),
                    "imdb" => v.as_str().is_some_and(|s| s.starts_with("tt")),
                    "slug" => v.is_string(),
                    _ => false,
                })
            });
            if !matchable {
                return Reply::json(404, "");
            }
            return Reply::json(201, r#"{"id":3373536619,"action":"start","progress":10}"#);
        }
        if r.method == "POST" {
            if let Some(json) = &json {
                if !dates_are_utc_strings(json) {
                    return Reply::json(
                        422,
                        r#"{"errors":{"watched_at":["is not a valid date"]}}"#,
                    );
                }
            }
            return Reply::json(201, r#"{"added":{"movies":1},"not_found":{"movies":[]}}"#);
        }
        Reply::json(200, "{}")
    })
}

/// Whether every `watched_at`/`collected_at`/`rated_at` in `value` is an ISO 8601 UTC string.
fn dates_are_utc_strings(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().all(|(k, v)| {
            let is_date = matches!(k.as_str(), "watched_at" | "collected_at" | "rated_at");
            let ok = !is_date
                || v.as_str().is_some_and(|s| {
                    s == "released"
                        || (s.ends_with('Z') && s.len() >= 20 && s.as_bytes()[10] == b'T')
                });
            ok && dates_are_utc_strings(v)
        }),
        serde_json::Value::Array(items) => items.iter().all(dates_are_utc_strings),
        _ => true,
    }
}

/// Checks how an upstream failure reaches a person: the proxy's answer
/// body, the record's `error` and diagnosis, and the terminal say `words`,
/// give `advice` exactly once each, and show no Rust debug output.
pub fn assert_failure_told(
    proxy: &ProxyProcess,
    body: &str,
    record: &serde_json::Value,
    words: &[&str],
    advice: &str,
) {
    let error = record["error"].as_str().unwrap_or_default();
    let diagnosis = record["diagnosis"].to_string();
    proxy.wait_for("the terminal block", |p| p.stdout().contains(advice));
    let terminal = proxy.stdout();
    for word in words {
        assert!(body.contains(word), "`{word}` not in the answer: {body}");
        assert!(error.contains(word), "`{word}` not in the record: {error}");
    }
    assert_eq!(body.matches(advice).count(), 1, "{body}");
    assert_eq!(terminal.matches(advice).count(), 1, "{terminal}");
    assert_eq!(diagnosis.matches(advice).count(), 1, "{diagnosis}");
    for text in [body, error, diagnosis.as_str(), terminal.as_str()] {
        for debug in [
            "client error (",
            "Other(",
            "OtherError",
            "Custom {",
            "os error",
            "Kind(",
        ] {
            assert!(
                !text.contains(debug),
                "Rust debug output `{debug}` in: {text}"
            );
        }
    }
}

/// Trusts `cas` in an NSS database under `home` (created empty), as a Linux
/// user does; Chromium started with that HOME trusts them. Needs `certutil`.
pub fn trust_in_nssdb(home: &Path, cas: &[&Path]) {
    let nssdb = home.join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    let run = |args: &[&str]| {
        let out = Command::new("certutil")
            .args(args)
            .output()
            .expect("certutil");
        assert!(
            out.status.success(),
            "certutil {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["-N", "-d", &db, "--empty-password"]);
    for (i, ca) in cas.iter().enumerate() {
        let name = format!("test-ca-{i}");
        run(&[
            "-A",
            "-d",
            &db,
            "-t",
            "C,,",
            "-n",
            &name,
            "-i",
            ca.to_str().unwrap(),
        ]);
    }
}
