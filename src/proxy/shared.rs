//! The state every connection shares: the settings, the upstream client,
//! the log, the inspector, and what the web view may reach. Kept apart
//! from the accept loop so the connection handlers depend on it and not
//! on the module that spawns them.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::body;
use super::upstream::{self, Dialer};
use crate::fix::FixPolicy;
use crate::hosts::{HostName, ResolveTable};
use crate::inspect::Inspector;
use crate::log::LogHandle;
use crate::tls::ServerConfigSource;
use crate::web::store::WebStore;
use crate::web::{FixSwitch, WebContext};

/// Tunable limits and behaviour of a running proxy.
#[derive(Debug, Clone)]
pub struct Settings {
    pub intercept: Vec<HostName>,
    /// Bodies are captured (and linted) up to this many bytes.
    pub capture_limit: usize,
    /// How long to wait for an upstream response head.
    pub upstream_timeout: Duration,
    /// How long to wait for a TCP connection to the upstream.
    pub connect_timeout: Duration,
    /// How long a client may take to send a request head, and to finish the
    /// TLS handshake of an intercepted tunnel.
    pub header_timeout: Duration,
    /// How long a request body may go without sending anything.
    pub body_timeout: Duration,
    /// Bytes that request bodies being captured may hold in all; each
    /// connection may use an eighth of it (see [`body::BodyBudget`]).
    pub body_memory: usize,
    /// How long in-flight exchanges may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Which repairs auto-fix applies before a request leaves.
    pub fix: FixPolicy,
    /// Open client connections and tunnels allowed at once; more get a 503.
    pub max_connections: usize,
    /// `Proxy-Authorization: Basic` credentials required for proxying (`user:password`), if any.
    pub proxy_auth: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            intercept: crate::default_intercept_hosts(),
            capture_limit: 1024 * 1024,
            upstream_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            body_memory: 256 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(5),
            fix: FixPolicy::Off,
            max_connections: 1024,
            proxy_auth: None,
        }
    }
}

/// State shared by every connection.
pub struct Shared {
    pub settings: Settings,
    pub certs: Arc<dyn ServerConfigSource>,
    pub dialer: Dialer,
    pub upstream: upstream::Upstream,
    pub log: LogHandle,
    pub inspector: Arc<Inspector>,
    /// The CA certificate, served at `/ca`.
    pub ca_pem: String,
    pub local_addr: SocketAddr,
    /// What the web view may reach (its own narrow view of this state).
    pub web: Arc<WebContext>,
    /// Fingerprints secrets in what the proxy prints.
    pub redactor: crate::redact::Redactor,
    /// Auto-fix, which the web view can turn on and off at run time.
    fix: Arc<FixSwitch>,
    /// Set when the shutdown grace period runs out (see [`super::pending`]).
    pub shutdown_cut: Arc<AtomicBool>,
    /// The original requests of live exchanges, secrets included (memory only).
    pub originals: Arc<super::originals::Originals>,
    /// Sends a captured request again, through this proxy's client and inspection.
    pub resender: Arc<super::resend::Resender>,
    /// Exchanges answered in full, waiting for their finishing (see [`super::pending`]).
    pub finisher: Arc<super::pending::Finisher>,
    /// What request bodies being captured may hold in all.
    body_memory: Arc<tokio::sync::Semaphore>,
    /// Every connection and tunnel: the proxy's load, and what shutdown waits for.
    pub(super) tasks: TaskTracker,
    pub(super) stop: watch::Receiver<bool>,
}

impl Shared {
    /// The state of a proxy listening on `local_addr`; `stop` changes when it shuts down.
    pub(super) fn new(
        parts: ProxyParts,
        local_addr: SocketAddr,
        stop: watch::Receiver<bool>,
    ) -> Shared {
        let dialer = Dialer {
            resolve: parts.resolve,
            connect_timeout: parts.settings.connect_timeout,
            own: Some(local_addr),
        };
        let upstream = upstream::Upstream::new(dialer.clone(), parts.upstream_tls);
        let fix = Arc::new(FixSwitch::new(parts.settings.fix.clone()));
        let inspector = Inspector::with_redactor(parts.redactor.clone());
        // The benchmark's checks-off switch (nothing in release builds).
        let inspector = Arc::new(super::stages::checks_switch(inspector));
        let shutdown_cut = Arc::new(AtomicBool::new(false));
        let originals = super::originals::Originals::new(
            super::originals::MAX_RECORDS,
            super::originals::MAX_BYTES,
        );
        let finisher: Arc<super::pending::Finisher> = Arc::default();
        let resender = Arc::new(super::resend::Resender::new(
            upstream.clone(),
            parts.log.clone(),
            inspector.clone(),
            originals.clone(),
            super::resend::ResendLimits {
                capture_limit: parts.settings.capture_limit,
                upstream_timeout: parts.settings.upstream_timeout,
            },
            shutdown_cut.clone(),
            finisher.clone(),
        ));
        let web = Arc::new(WebContext {
            store: parts.web,
            token: crate::web::new_token(),
            unlock: crate::web::new_token(),
            fix: fix.clone(),
            intercepted: parts.settings.intercept.clone(),
            stop: stop.clone(),
            resender: resender.clone(),
            redactor: parts.redactor.clone(),
        });
        Shared {
            fix,
            web,
            body_memory: body::BodyBudget::total(parts.settings.body_memory),
            settings: parts.settings,
            certs: parts.certs,
            dialer,
            upstream,
            log: parts.log,
            inspector,
            originals,
            resender,
            redactor: parts.redactor,
            ca_pem: parts.ca_pem,
            local_addr,
            tasks: TaskTracker::new(),
            shutdown_cut,
            finisher,
            stop,
        }
    }

    pub fn fix_policy(&self) -> FixPolicy {
        self.fix.get()
    }

    /// A new connection's share of the body budget.
    pub fn body_budget(&self) -> body::BodyBudget {
        let per_connection = (self.settings.body_memory / 8).max(1);
        body::BodyBudget::new(per_connection, self.body_memory.clone())
    }

    pub fn is_intercepted(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.settings
            .intercept
            .iter()
            .any(|h| h.as_str().eq_ignore_ascii_case(host))
    }

    /// Whether the request carries the `--proxy-auth` credentials (always true without them).
    pub fn proxy_auth_ok<B>(&self, req: &Request<B>) -> bool {
        let Some(expected) = &self.settings.proxy_auth else {
            return true;
        };
        crate::auth::basic_credentials_match(
            req.headers()
                .get(http::header::PROXY_AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
            expected,
        )
    }

    /// Whether `host:port` is this proxy itself (a request that would loop),
    /// judged by the addresses the dialer would connect to, not by spelling.
    pub async fn is_self(&self, host: &str, port: u16) -> bool {
        self.dialer.is_own(host, port).await
    }
}

/// Everything needed to start a proxy.
pub struct ProxyParts {
    pub settings: Settings,
    pub certs: Arc<dyn ServerConfigSource>,
    pub ca_pem: String,
    pub upstream_tls: rustls::ClientConfig,
    pub resolve: ResolveTable,
    pub log: LogHandle,
    pub web: Arc<WebStore>,
    /// The per-install fingerprint key.
    pub redactor: crate::redact::Redactor,
}
