//! The live web view, served on the proxy's own address: the page and its
//! assets (embedded in the binary), the exchange list and details as JSON
//! (with what "Resend with fixes" would repair), a server-sent-events stream
//! of new exchanges and [`notices`] (a client that refused the certificate),
//! HAR/JSONL downloads, and the actions: clear, toggle auto-fix, and on one
//! exchange resend, copy as curl and report ([`actions`]).
//!
//! Every request must name the proxy by IP address or `localhost` in its
//! Host header (no DNS rebinding), and come from this computer or carry the
//! `--proxy-auth` credentials ([`access`]). That lets anyone on this
//! computer (any process, any account) read the redacted list, the details
//! and the downloads.
//!
//! Acting is a capability of the person who started the proxy, not of a
//! place: every action (the POSTs: resend, edit and resend, copy as curl,
//! report, lint, clear, the auto-fix switch) needs the run's unlock secret,
//! which only the start banner prints, in the link
//! `http://ADDR/?unlock=SECRET` (as Jupyter's token link). Opening it
//! answers 303 to `/` with an `HttpOnly`, `SameSite=Strict` cookie holding
//! the secret ([`UNLOCK_COOKIE`]); the page is served with its per-run
//! token only to a request with that cookie, and without it shows a
//! read-only banner and no token. An action also needs, as before, the
//! token, a same-origin `Origin` (no CSRF) and a loopback peer
//! ([`refused_action`]). The secret is compared in constant time and never
//! logged.

mod actions;
mod notices;
pub(crate) mod store;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{broadcast, mpsc, watch};

use crate::auth::{basic_credentials_match, same_secret};
use crate::fix::FixPolicy;
use crate::hosts::HostName;
use crate::respond::{self, ProxyBody, HTML, JSON, TEXT};
use store::WebStore;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
// Shared with the browser page (page/): the look and the detail pane.
use crate::page::{APP_CSS, RENDER_JS};

/// Auto-fix's policy: the web view switches it at run time, the proxy
/// reads it for each request.
#[derive(Debug, Default)]
pub struct FixSwitch(RwLock<FixPolicy>);

impl FixSwitch {
    pub fn new(policy: FixPolicy) -> Self {
        FixSwitch(RwLock::new(policy))
    }

    pub fn get(&self) -> FixPolicy {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, policy: FixPolicy) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = policy;
    }
}

/// The cookie that carries the unlock secret, set by the start link: this
/// name and the web view's port (`trakt_doctor_unlock_8080`), since a
/// browser keeps one cookie per name and host whatever the port, and two
/// proxies on one computer would otherwise overwrite each other's.
pub(crate) const UNLOCK_COOKIE: &str = "trakt_doctor_unlock";

/// The unlock cookie's name for a request to the web view: [`UNLOCK_COOKIE`]
/// and the port its Host header names (80 without one).
fn unlock_cookie_name<B>(req: &Request<B>) -> String {
    let port = req
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
        .and_then(|authority| authority.port_u16())
        .unwrap_or(80);
    format!("{UNLOCK_COOKIE}_{port}")
}

/// What the web view may reach: its store, its token, the auto-fix switch,
/// the intercepted hosts it shows, and the proxy's stop signal (which ends
/// its event streams). Nothing else of the proxy.
pub struct WebContext {
    pub store: Arc<WebStore>,
    /// The per-run token the web view's actions must carry (CSRF): printed
    /// into the page for a browser that holds the unlock cookie.
    pub token: String,
    /// The per-run unlock secret: only the start banner prints it (in
    /// [`WebContext::unlock_link`]); actions need it as [`UNLOCK_COOKIE`].
    pub unlock: String,
    pub fix: Arc<FixSwitch>,
    pub intercepted: Vec<HostName>,
    /// Changes when the proxy starts shutting down.
    pub stop: watch::Receiver<bool>,
    /// Sends a stored exchange again (and keeps the live originals).
    pub resender: Arc<crate::proxy::resend::Resender>,
    /// The proxy's redactor: matches an edited draft's fingerprints to the
    /// secrets of the live original.
    pub redactor: crate::redact::Redactor,
}

impl WebContext {
    /// The web view's address with the unlock secret, for the start banner
    /// (and nothing else: it is never logged).
    pub fn unlock_link(&self, local: SocketAddr) -> String {
        format!("http://{local}/?unlock={}", self.unlock)
    }

    /// A client refused the certificate trakt-doctor made for `host` (it
    /// does not trust the CA; `alert` is what its TLS said): the page shows
    /// a banner, once per client and host.
    pub fn untrusted_ca(&self, host: &str, agent: Option<&str>, alert: &str) {
        self.store.notices.untrusted_ca(host, agent, alert);
    }

    /// Whether `req` carries the unlock cookie with this run's secret.
    fn unlocked<B>(&self, req: &Request<B>) -> bool {
        has_unlock_cookie(req, &self.unlock)
    }
}

/// Whether `req` carries an unlock cookie ([`UNLOCK_COOKIE`], with or
/// without a port) with the value `secret`: another proxy's cookie holds
/// another run's secret and never matches.
fn has_unlock_cookie<B>(req: &Request<B>, secret: &str) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| {
            name.strip_prefix(UNLOCK_COOKIE)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
        })
        .any(|(_, value)| same_secret(value.trim().as_bytes(), secret.as_bytes()))
}

/// The values of `unlock` in a query string.
fn unlock_values(query: Option<&str>) -> Vec<&str> {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name == "unlock")
        .map(|(_, value)| value)
        .collect()
}

/// A random token (32 hex digits) for this run: the page's token, and the
/// unlock secret.
pub(crate) fn new_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // The system RNG failing is not recoverable in any useful way; fall back to the clock.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the Host header names this proxy by IP literal or `localhost` and its port.
pub(crate) fn host_allowed(host: Option<&str>, local: SocketAddr) -> bool {
    let Some(host) = host else { return false };
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !host.ends_with(']') => {
            (name, port.parse::<u16>().ok())
        }
        _ => (host, Some(80)),
    };
    if port != Some(local.port()) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// Who may read the web view, its downloads and its API, which hold every
/// captured exchange: with `--proxy-auth`, whoever gives those credentials
/// (HTTP Basic, or as proxy credentials on a request sent through the proxy);
/// without it, clients on this computer only.
pub(crate) enum Access {
    Allowed,
    /// Answer 401 with a Basic challenge.
    NeedsCredentials,
    /// Answer 403: not a loopback client, and no credentials are configured.
    LoopbackOnly,
}

pub(crate) fn access<B>(proxy_auth: Option<&str>, peer: SocketAddr, req: &Request<B>) -> Access {
    let Some(expected) = proxy_auth else {
        return if peer.ip().to_canonical().is_loopback() {
            Access::Allowed
        } else {
            Access::LoopbackOnly
        };
    };
    let given = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    if basic_credentials_match(given(header::AUTHORIZATION), expected)
        || basic_credentials_match(given(header::PROXY_AUTHORIZATION), expected)
    {
        Access::Allowed
    } else {
        Access::NeedsCredentials
    }
}

/// The answer to a request [`access`] does not allow.
pub(crate) fn refusal(access: Access, path: &str) -> Option<Response<ProxyBody>> {
    match access {
        Access::Allowed => None,
        Access::NeedsCredentials => {
            tracing::debug!("asked for credentials for the web view ({path})");
            let mut response = respond::web(
                StatusCode::UNAUTHORIZED,
                TEXT,
                "trakt-doctor's web view needs the --proxy-auth credentials\n",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"trakt-doctor\", charset=\"UTF-8\""),
            );
            Some(response)
        }
        Access::LoopbackOnly => {
            tracing::warn!("refused the web view ({path}) to a client on another computer");
            Some(respond::web(
                StatusCode::FORBIDDEN,
                TEXT,
                "trakt-doctor's web view shows every captured exchange, so it answers only on \
                 this computer. To open it to others, start trakt-doctor with \
                 --proxy-auth USER:PASSWORD and sign in with those credentials.\n",
            ))
        }
    }
}

/// A file of the browser page under [`crate::page::PREFIX`].
fn page_file(path: &str) -> Response<ProxyBody> {
    match path
        .strip_prefix(crate::page::PREFIX)
        .and_then(crate::page::file)
    {
        Some((kind, bytes)) => respond::page_file(kind, bytes),
        None => respond::web(StatusCode::NOT_FOUND, TEXT, "not a file of the page\n"),
    }
}

/// Paths the web view answers; anything else falls through to the other local pages.
pub(crate) fn handles(path: &str) -> bool {
    matches!(
        path,
        "/" | "/app.js"
            | "/render.js"
            | "/app.css"
            | "/rules"
            | "/download.har"
            | "/download.jsonl"
    ) || path.starts_with("/api/")
        || path.starts_with(crate::page::PREFIX)
}

pub(crate) async fn serve(
    web: &WebContext,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/") => page(web, &req),
        (Method::GET, "/app.js") => {
            respond::web(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS)
        }
        (Method::GET, "/render.js") => {
            respond::web(StatusCode::OK, "text/javascript; charset=utf-8", RENDER_JS)
        }
        // The browser page, to open a HAR or log file (checked in the browser).
        (Method::GET, p) if p.starts_with(crate::page::PREFIX) => page_file(p),
        (Method::GET, "/app.css") => {
            respond::web(StatusCode::OK, "text/css; charset=utf-8", APP_CSS)
        }
        (Method::GET, "/rules") => respond::web(StatusCode::OK, HTML, rules_page()),
        (Method::GET, "/api/exchanges") => {
            respond::web(StatusCode::OK, JSON, web.store.summaries())
        }
        (Method::GET, "/api/state") => {
            let state = serde_json::json!({
                "fix": !web.fix.get().is_off(),
                "count": web.store.len(),
                "intercepted": web.intercepted.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
                "notices": web.store.notices.all(),
            });
            respond::web(StatusCode::OK, JSON, state.to_string())
        }
        (Method::GET, "/api/stream") => stream(web),
        (Method::GET, "/download.jsonl") => respond::download(
            web.store.jsonl(),
            "application/x-ndjson",
            "trakt-doctor.jsonl",
        ),
        (Method::GET, "/download.har") => respond::download(
            crate::share::har(&web.store.exchanges()),
            JSON,
            "trakt-doctor.har",
        ),
        (Method::GET, p) if p.starts_with("/api/exchanges/") => match actions::repairs_path(p) {
            Some(id) => actions::repairs(web, id),
            None => match p["/api/exchanges/".len()..]
                .parse::<u64>()
                .ok()
                .and_then(|id| web.store.full(id))
            {
                Some(Ok(full)) => respond::web(StatusCode::OK, JSON, full.as_str().to_owned()),
                Some(Err(corrupt)) => respond::web(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    TEXT,
                    format!("{corrupt}\n"),
                ),
                None => respond::web(
                    StatusCode::NOT_FOUND,
                    TEXT,
                    "no such exchange (it may have been cleared)\n",
                ),
            },
        },
        (Method::POST, "/api/clear") | (Method::POST, "/api/fix") => action(web, peer, req).await,
        (Method::POST, p) if actions::handles(p) => action(web, peer, req).await,
        _ => respond::web(StatusCode::NOT_FOUND, TEXT, "not found\n"),
    }
}

/// The read-only banner of a page served without the unlock cookie.
const LOCKED_BANNER: &str = "<p id=\"locked\" class=\"locked\" role=\"status\">Read-only: resend, \
     edit and resend, copy as curl, report, clear and the auto-fix switch are locked. To unlock them, \
     open the link trakt-doctor printed when it started (<code>http://&hellip;/?unlock=&hellip;</code>).</p>";

/// The page: with the start link's secret, a 303 to `/` that sets the
/// unlock cookie; with the cookie, the page and its token; otherwise the
/// read-only page, without the token (a wrong secret is answered so too).
fn page<B>(web: &WebContext, req: &Request<B>) -> Response<ProxyBody> {
    let asked = unlock_values(req.uri().query());
    if asked
        .iter()
        .any(|value| same_secret(value.as_bytes(), web.unlock.as_bytes()))
    {
        tracing::info!("the web view was unlocked with the start link");
        let mut response = respond::web(
            StatusCode::SEE_OTHER,
            TEXT,
            "unlocked: the web view is at /\n",
        );
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, HeaderValue::from_static("/"));
        if let Ok(cookie) = HeaderValue::from_str(&format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            unlock_cookie_name(req),
            web.unlock
        )) {
            headers.insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    if !asked.is_empty() {
        tracing::warn!("the web view was opened with a wrong unlock secret: it is read-only");
    }
    let (token, banner) = if web.unlocked(req) {
        (web.token.as_str(), "")
    } else {
        ("", LOCKED_BANNER)
    };
    let page = INDEX
        .replace("{{TOKEN}}", token)
        .replace("{{LOCKED}}", banner)
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"));
    respond::web(StatusCode::OK, HTML, page)
}

/// Why an action is refused: it needs the unlock cookie, the page's token,
/// a same-origin `Origin` (or none) and a loopback client (besides
/// [`access`]).
fn refused_action<B>(
    web: &WebContext,
    peer: SocketAddr,
    req: &Request<B>,
) -> Option<Response<ProxyBody>> {
    let unlocked = web.unlocked(req);
    let token_ok = req
        .headers()
        .get("x-trakt-doctor-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| same_secret(t.as_bytes(), web.token.as_bytes()));
    let origin_ok = match req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(origin) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            origin == format!("http://{host}")
        }
    };
    if peer.ip().to_canonical().is_loopback() && unlocked && token_ok && origin_ok {
        return None;
    }
    tracing::warn!(
        "refused web action {} (unlock cookie, token, origin or peer not allowed)",
        req.uri().path()
    );
    Some(respond::web(
        StatusCode::FORBIDDEN,
        TEXT,
        "forbidden: actions need the web view opened from the link trakt-doctor printed when it \
         started (http://…/?unlock=…), the page's token, the same origin and a loopback client\n",
    ))
}

async fn action(web: &WebContext, peer: SocketAddr, req: Request<Incoming>) -> Response<ProxyBody> {
    if let Some(refused) = refused_action(web, peer, &req) {
        return refused;
    }
    let path = req.uri().path().to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if let Some(answer) = actions::answer(web, &path, &body).await {
        return answer;
    }
    match path.as_str() {
        "/api/clear" => {
            web.store.clear();
            // The originals go with the records: nothing of them outlives a Clear.
            web.resender.originals().clear();
            respond::web(StatusCode::OK, JSON, "{\"cleared\":true}")
        }
        _ => {
            let enabled = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("enabled").and_then(|e| e.as_bool()));
            let Some(enabled) = enabled else {
                return respond::web(
                    StatusCode::BAD_REQUEST,
                    TEXT,
                    "expected {\"enabled\": true|false}\n",
                );
            };
            web.fix.set(if enabled {
                FixPolicy::All
            } else {
                FixPolicy::Off
            });
            tracing::info!(
                "auto-fix turned {} from the web view",
                if enabled { "on" } else { "off" }
            );
            respond::web(StatusCode::OK, JSON, format!("{{\"fix\":{enabled}}}"))
        }
    }
}

fn rules_page() -> String {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>trakt-doctor rules</title>\
         <link rel=\"stylesheet\" href=\"/app.css\"></head><body class=\"doc\"><h1>Rule catalogue</h1>",
    );
    html.push_str(&format!(
        "<p class=\"policy\">{}</p><p>Each rule names its source, in citations of these kinds:</p><ul>",
        escape(&crate::lint::catalogue::policy_plain())
    ));
    for kind in crate::lint::SourceKind::ALL {
        html.push_str(&format!(
            "<li><b>{}</b>: {}</li>",
            escape(kind.label()),
            escape(&kind.meaning().replace('`', ""))
        ));
    }
    html.push_str("</ul>");
    for rule in crate::lint::catalogue() {
        html.push_str(&format!(
            "<section id=\"{id}\"><h2><code>{id}</code> <span class=\"sev {sev}\">{sev}</span></h2><p>{summary}</p>\
             <p><b>Why it matters:</b> {why}</p><p class=\"source\"><b>Source:</b> {source}</p><p><b>Auto-fix:</b> {fix}</p><p>Bad:</p><pre>{bad}</pre><p>Good:</p><pre>{good}</pre></section>",
            id = rule.id,
            sev = rule.severity.as_str(),
            summary = escape(rule.summary),
            why = escape(rule.why),
            source = escape(rule.source),
            fix = escape(rule.autofix.unwrap_or("none (the intended request is not certain)")),
            bad = escape(rule.bad),
            good = escape(rule.good),
        ));
    }
    html.push_str("</body></html>");
    html
}

/// A body fed from a channel (the event stream).
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Server-sent events: one `data:` line per new exchange summary, and an
/// `event: notice` for each new [`notices::Notice`].
fn stream(web: &WebContext) -> Response<ProxyBody> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut live = web.store.subscribe();
    let mut notices = web.store.notices.subscribe();
    let mut stop = web.stop.clone();
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b": connected\n\n"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let chunk = tokio::select! {
                message = live.recv() => match message {
                    Ok(summary) => Bytes::from(format!("data: {summary}\n\n")),
                    // The page missed some: it reloads the list.
                    Err(broadcast::error::RecvError::Lagged(n)) => Bytes::from(format!("event: lagged\ndata: {n}\n\n")),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                // A notice (a client refused the certificate): the page shows a banner.
                message = notices.recv() => match message {
                    Ok(notice) => Bytes::from(format!("event: notice\ndata: {notice}\n\n")),
                    // Missed: the page reads them all again from /api/state.
                    Err(broadcast::error::RecvError::Lagged(_)) => Bytes::from_static(b"event: notice\ndata: {}\n\n"),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tokio::time::sleep(Duration::from_secs(15)) => Bytes::from_static(b": keep-alive\n\n"),
                _ = stop.changed() => break,
            };
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    respond::streaming(
        ChannelBody(rx)
            .map_err(|never| match never {})
            .boxed_unsync(),
        "text/event-stream",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip_literals_and_localhost_on_our_port_are_allowed() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(host_allowed(Some("127.0.0.1:8080"), local));
        assert!(host_allowed(Some("localhost:8080"), local));
        assert!(host_allowed(Some("[::1]:8080"), local));
        assert!(!host_allowed(Some("evil.example:8080"), local));
        assert!(!host_allowed(Some("127.0.0.1:9090"), local));
        assert!(!host_allowed(Some("127.0.0.1"), local));
        assert!(!host_allowed(None, local));
        assert_eq!(new_token().len(), 32);
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn the_unlock_secret_is_read_from_its_cookie_and_the_start_link() {
        let secret = new_token();
        let with = |cookies: &[&str]| {
            let mut req = Request::post("/api/clear");
            for cookie in cookies {
                req = req.header(header::COOKIE, *cookie);
            }
            has_unlock_cookie(&req.body(()).unwrap(), &secret)
        };
        assert!(with(&[&format!("{UNLOCK_COOKIE}={secret}")]));
        assert!(with(&[&format!("a=1; {UNLOCK_COOKIE}={secret}; b=2")]));
        assert!(with(&["a=1", &format!("{UNLOCK_COOKIE}={secret}")]));
        assert!(!with(&[]));
        assert!(!with(&[&format!("{UNLOCK_COOKIE}={}", new_token())]));
        assert!(!with(&[&format!("{UNLOCK_COOKIE}={}", &secret[..31])]));
        assert!(!with(&[&format!("{UNLOCK_COOKIE}=")]));
        assert!(!with(&[&format!("other={secret}")]));
        // Two proxies on one computer: each one's cookie by its port, both sent.
        let other_run = new_token();
        assert!(with(&[&format!(
            "{UNLOCK_COOKIE}_8081={other_run}; {UNLOCK_COOKIE}_8080={secret}"
        )]));
        assert!(!with(&[&format!("{UNLOCK_COOKIE}_8081={other_run}")]));
        assert!(!with(&[&format!("{UNLOCK_COOKIE}x={secret}")]));
        let to = |host: Option<&str>| {
            let mut req = Request::get("/?unlock=x");
            if let Some(host) = host {
                req = req.header(header::HOST, host);
            }
            unlock_cookie_name(&req.body(()).unwrap())
        };
        assert_eq!(to(Some("127.0.0.1:8080")), "trakt_doctor_unlock_8080");
        assert_eq!(to(Some("[::1]:9000")), "trakt_doctor_unlock_9000");
        assert_eq!(to(Some("localhost")), "trakt_doctor_unlock_80");
        assert_eq!(to(None), "trakt_doctor_unlock_80");
        assert_eq!(unlock_values(Some("unlock=abc")), ["abc"]);
        assert_eq!(unlock_values(Some("x=1&unlock=abc&unlock=d")), ["abc", "d"]);
        assert!(unlock_values(Some("unlocked=abc")).is_empty());
        assert!(unlock_values(None).is_empty());
    }

    #[test]
    fn without_credentials_only_loopback_clients_read_the_web_view() {
        use base64::Engine as _;
        let get = |auth: Option<&str>| {
            let mut req = Request::get("/download.har");
            if let Some(auth) = auth {
                req = req.header(header::AUTHORIZATION, auth);
            }
            req.body(()).unwrap()
        };
        let lan: SocketAddr = "192.168.1.20:50000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:50000".parse().unwrap();
        let allowed = |a: Access| matches!(a, Access::Allowed);
        assert!(matches!(
            access(None, lan, &get(None)),
            Access::LoopbackOnly
        ));
        assert!(allowed(access(None, local, &get(None))));
        assert!(allowed(access(None, mapped, &get(None))));
        let right = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pw")
        );
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:no")
        );
        let auth = Some("alice:pw");
        for peer in [lan, local] {
            assert!(matches!(
                access(auth, peer, &get(None)),
                Access::NeedsCredentials
            ));
            assert!(matches!(
                access(auth, peer, &get(Some(&wrong))),
                Access::NeedsCredentials
            ));
            assert!(allowed(access(auth, peer, &get(Some(&right)))));
        }
        let refused = refusal(Access::LoopbackOnly, "/").unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let challenge = refusal(Access::NeedsCredentials, "/").unwrap();
        assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
        assert!(challenge.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
