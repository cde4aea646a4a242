//! Diagnosis: why Trakt answered as it did, in plain words, tied to the
//! findings that explain it, and what to do.
//!
//! Pure: (request, findings, response or error) -> [`Diagnosis`].
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exchange::{ErrorKind, Exchange, Response, UpstreamCause};
use crate::lint::{stremio as lens, Rule};
use crate::parsed::Parsed;
use crate::report::{Diagnosis, Finding, Severity};
use crate::spec::status;
use crate::spec::stremio;
use crate::spec::trakt::{Operation, API_HOSTS};
use crate::text::when;

/// Whether `host` is `domain` or one of its subdomains: `api.trakt.tv` is in
/// `trakt.tv`, `nottrakt.tv` is not.
fn in_domain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

struct Builder {
    summary: String,
    causes: Vec<String>,
    remedies: Vec<String>,
}

impl Builder {
    fn new(summary: impl Into<String>) -> Self {
        Builder {
            summary: summary.into(),
            causes: Vec::new(),
            remedies: Vec::new(),
        }
    }
    fn cause(&mut self, c: impl Into<String>) -> &mut Self {
        self.causes.push(c.into());
        self
    }
    fn remedy(&mut self, r: impl Into<String>) -> &mut Self {
        self.remedies.push(r.into());
        self
    }
    fn done(self) -> Option<Diagnosis> {
        Some(Diagnosis {
            summary: self.summary,
            causes: self.causes,
            remedies: self.remedies,
        })
    }
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers.get(name)
}

fn is_html(response: &Response) -> bool {
    header(response, "content-type").is_some_and(|ct| ct.contains("text/html"))
        || response
            .body
            .text()
            .is_some_and(|t| t.trim_start().starts_with('<'))
}

/// Explains an exchange; `None` when there is nothing to explain.
pub fn explain(exchange: &Exchange) -> Option<Diagnosis> {
    explain_with(&Parsed::of(&exchange.request), exchange, None)
}

/// [`explain`], knowing which Stremio app the session saw (`client`, from
/// its events): a Stremio diagnosis names it, so "update Stremio" can be
/// judged.
/// `parsed` is the exchange's request as read when it was inspected.
pub(crate) fn explain_with(
    parsed: &Parsed,
    exchange: &Exchange,
    client: Option<&str>,
) -> Option<Diagnosis> {
    let mut diagnosis = explain_alone(parsed, exchange);
    link_flow(parsed, exchange, &mut diagnosis);
    cut_on_the_way(parsed, exchange, &mut diagnosis);
    if let (Some(d), Some(client)) = (diagnosis.as_mut(), client) {
        name_the_app(parsed, d, client);
    }
    diagnosis
}

/// A compressed answer that was cut or corrupted: whatever its status, the
/// client got a body it could not read, and nobody's request was at fault.
fn cut_on_the_way(parsed: &Parsed, exchange: &Exchange, diagnosis: &mut Option<Diagnosis>) {
    let Some(problem) = exchange
        .response
        .as_ref()
        .and_then(|r| crate::lint::coding::problem(&r.body))
        .filter(|p| p.kind == crate::exchange::coding::ProblemKind::Corrupt)
    else {
        return;
    };
    let cause = format!(
        "the answer was cut or corrupted on the way: {}",
        problem.message
    );
    match diagnosis {
        Some(d) => d.causes.push(cause),
        None => {
            let host = &parsed.host;
            *diagnosis = Some(Diagnosis {
                summary: format!(
                    "The answer from {host} was cut or corrupted on the way: the client got a \
                     compressed body it cannot read"
                ),
                causes: vec![cause],
                remedies: vec![
                    "try again: a cut answer is usually a dropped connection or a hiccup of \
                     the CDN in front of the server, not the request"
                        .into(),
                    "if it happens every time, something between the client and the server \
                     (an antivirus, a VPN, another proxy) is altering compressed answers: try \
                     without it"
                        .into(),
                ],
            });
        }
    }
}

/// The generic cause the link flow's own checks replace with what they saw.
const COOKIE_GUESS: &str =
    "cookies or a cached page during the OAuth handshake: retry the link in a private window";

/// The remedy when findings explain a rejection and auto-fix repairs none.
const FIX_FINDINGS: &str = "fix the findings above in the client that sent the request";

/// What to do about the findings that explain a rejection: auto-fix for
/// those it repairs (named), the client for the rest.
fn remedy_for(findings: &[&Finding]) -> String {
    let ids = |fixable: bool| -> Vec<String> {
        let mut ids: Vec<String> = findings
            .iter()
            .filter(|f| f.fix.is_some() == fixable)
            .map(|f| format!("`{}`", f.rule))
            .collect();
        ids.dedup();
        ids
    };
    let (fixable, by_hand) = (ids(true), ids(false));
    match (fixable.is_empty(), by_hand.is_empty()) {
        (true, _) => FIX_FINDINGS.to_string(),
        (false, true) => format!(
            "auto-fix repairs this: run trakt-doctor with --fix, or use Resend with fixes in the web \
             view ({})",
            fixable.join(", ")
        ),
        (false, false) => format!(
            "auto-fix repairs {} (--fix, or Resend with fixes in the web view); fix {} in the \
             client that sent the request",
            fixable.join(", "),
            by_hand.join(", ")
        ),
    }
}

/// A step of the Trakt link (Stremio's link page, Trakt's sign-in and
/// authorize pages, Stremio's callback): what its cookies really do. Cookie
/// findings name the one site whose cookies to clear; a failed step without
/// them says the cookies are not the cause.
fn link_flow(parsed: &Parsed, exchange: &Exchange, diagnosis: &mut Option<Diagnosis>) {
    let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
    if !stremio::is_link_flow(host, path) {
        return;
    }
    let site = stremio::cookie_site(host);
    let open: Vec<&Finding> = exchange.findings.iter().filter(|f| !f.fixed).collect();
    let cookies: Vec<&&Finding> = open
        .iter()
        .filter(|f| f.rule.family() == "cookie")
        .collect();
    if let Some(first) = cookies.first() {
        let d = diagnosis.get_or_insert_with(|| Diagnosis {
            summary: format!(
                "The Trakt link may fail on {host}'s cookies: {}",
                first.message
            ),
            causes: cookies
                .iter()
                .map(|f| format!("{}: {}", f.rule, f.message))
                .collect(),
            remedies: Vec::new(),
        });
        d.causes.retain(|c| c != COOKIE_GUESS);
        if open
            .iter()
            .all(|f| f.rule.family() == "cookie" || f.severity == Severity::Info)
        {
            // Not the client's code: the browser's cookies for one site.
            d.remedies.retain(|r| r != FIX_FINDINGS);
        }
        d.remedies.push(format!(
            "clear the cookies of {site} only (browser settings → cookies and site data → {site}), then link again from Stremio: other sites' cookies play no part"
        ));
        return;
    }
    let status = exchange.response.as_ref().map(|r| r.status);
    let failed = status.is_some_and(|s| s >= 400)
        || open.iter().any(|f| {
            f.is(&lens::AUTHORIZE_API_HOST)
                || f.is(&crate::lint::oauth::AUTHORIZE_API_HOST)
                || f.is(&lens::CALLBACK_CODE)
                || f.is(&lens::STATE_MISMATCH)
                || f.is(&crate::lint::session::CODE_REUSED)
        });
    let Some(d) = diagnosis.as_mut().filter(|_| failed) else {
        return;
    };
    d.causes.retain(|c| c != COOKIE_GUESS);
    let size = exchange
        .request
        .headers
        .get_all("cookie")
        .map(str::len)
        .fold(0usize, usize::saturating_add);
    d.causes.push(if size == 0 {
        "the cookies are not the cause: this request carries none, so clearing the browser's cookies will not help".to_string()
    } else {
        format!("the cookies are not the cause: the Cookie header is {size} bytes, under the {} bytes nginx accepts by default, and no cookie name repeats, so clearing the browser's cookies will not help", crate::lint::cookie::HEADER_LINE_LIMIT)
    });
}

/// Names the Stremio app the session saw in a diagnosis of Stremio's traffic.
fn name_the_app(parsed: &Parsed, d: &mut Diagnosis, client: &str) {
    let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
    if host != stremio::API_HOST && host != stremio::WEB_HOST && !stremio::is_link_flow(host, path)
    {
        return;
    }
    let mut named = false;
    for remedy in &mut d.remedies {
        if remedy.starts_with(UPDATE_STREMIO) {
            remedy.push_str(&format!(" (this one is {client})"));
            named = true;
        }
    }
    if !named {
        d.causes
            .push(format!("Stremio app seen in this session: {client}"));
    }
}

fn explain_alone(parsed: &Parsed, exchange: &Exchange) -> Option<Diagnosis> {
    let host = parsed.host.as_str();
    let Some(response) = &exchange.response else {
        return no_answer(
            host,
            exchange.error.as_deref().unwrap_or("no response"),
            exchange.error_kind(),
        );
    };
    let status = response.status;
    if host == stremio::API_HOST || host == stremio::WEB_HOST {
        return stremio_bridge(exchange, status);
    }
    if !API_HOSTS.contains(&host) && !in_domain(host, "trakt.tv") {
        return None;
    }
    let path = &parsed.path;
    let operation = parsed.operation;
    // A navigation or a favicon is not an API call: a 404 on it says
    // nothing about ids. Only a block (403) or an outage concerns it.
    if crate::lint::is_browser_initiated(&exchange.request.headers)
        && !path.starts_with("/oauth/")
        && status != 403
        && !status::is_outage(status)
        && status != 500
    {
        return None;
    }
    if operation == Some(Operation::DeviceToken) {
        if let Some(d) = device_token(status) {
            return Some(d);
        }
    }
    if status < 400 {
        // `not_found` is what a write could not match (the sync additions
        // and removals, ratings, hidden items: all POST); a read's answer,
        // up to megabytes of history, is not searched for it.
        let read = ["GET", "HEAD"]
            .iter()
            .any(|m| exchange.request.method.eq_ignore_ascii_case(m));
        return if read {
            None
        } else {
            not_found_items(response)
        };
    }
    let findings = explaining(exchange, status);
    let meaning = status::meaning(status).unwrap_or("an error status Trakt does not document");
    let mut b = Builder::new(format!("{status} {meaning}"));
    if let Some(first) = findings.first() {
        // Said once: the summary quotes the first finding, the causes the rest.
        b.summary = format!("{status} because {} ({})", first.message, first.rule);
        for f in findings.iter().skip(1) {
            b.cause(format!("{}: {} at {}", f.rule, f.message, f.location));
        }
        b.remedy(remedy_for(&findings));
    }
    let answer = Answer::new(
        response,
        operation,
        !findings.is_empty(),
        exchange.started_at,
    );
    match status {
        400 => bad_request(&answer, &mut b),
        401 => unauthorized(&answer, &mut b),
        403 => forbidden(response, &mut b),
        404 => not_found(&answer, &mut b),
        409 => conflict(&answer, &mut b),
        412 => {
            b.remedy("send the body as JSON with Content-Type: application/json");
        }
        420 => account_limit(response, &mut b),
        422 => unprocessable(&answer, &mut b),
        423 => locked(response, &mut b),
        426 => vip_only(response, &mut b),
        429 => rate_limited(response, exchange.started_at, &mut b),
        500 => {
            b.cause("an error on Trakt's side, not in the request");
            b.remedy("retry later; if it persists for this exact request, open a Trakt support ticket with the logged request");
        }
        s if status::is_outage(s) => {
            b.cause(
                "Trakt (or Cloudflare in front of it) is overloaded or down: not the user's fault",
            );
            b.remedy("retry after 30 s with backoff; queue scrobbles instead of dropping them");
        }
        _ => {}
    }
    if !answer.explained && b.causes.is_empty() && b.remedies.is_empty() {
        if let Some(body) = response
            .body
            .text()
            .filter(|t| !t.is_empty() && !is_html(response))
        {
            b.cause(format!("Trakt says: {}", truncate(body, 300)));
        }
    }
    b.done()
}

/// The open findings that explain a rejection with `status`: the errors,
/// else the warnings that predicted it.
fn explaining(exchange: &Exchange, status: u16) -> Vec<&Finding> {
    let errors: Vec<&Finding> = exchange
        .findings
        .iter()
        .filter(|f| !f.fixed && f.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        return errors;
    }
    // The rejection confirms the warnings that predicted it.
    exchange
        .findings
        .iter()
        .filter(|f| !f.fixed && f.severity == Severity::Warning && predicts(status, f))
        .collect()
}

/// What the per-status explanations read of Trakt's answer.
struct Answer<'a> {
    response: &'a Response,
    operation: Option<Operation>,
    /// Findings already explain the status.
    explained: bool,
    body: Option<Value>,
    /// The OAuth `error` and `error_description` of the body.
    oauth_error: Option<String>,
    description: String,
    /// When the request was sent: the dates in the answer are told against it.
    now: OffsetDateTime,
}

impl<'a> Answer<'a> {
    fn new(
        response: &'a Response,
        operation: Option<Operation>,
        explained: bool,
        now: OffsetDateTime,
    ) -> Self {
        let body = response.body.json();
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Answer {
            oauth_error: field("error"),
            description: field("error_description").unwrap_or_default(),
            response,
            operation,
            explained,
            body,
            now,
        }
    }
}

/// Whether a warning foretells this status: a path the contract lacks
/// foretells a 404, a body or query off its schema a 400 or 422.
fn predicts(status: u16, finding: &Finding) -> bool {
    match status {
        404 | 405 => finding.rule.family() == "route",
        400 | 412 | 422 => matches!(finding.rule.family(), "body" | "route"),
        _ => false,
    }
}

/// No response at all: the client gave up, or the way to Trakt failed.
fn no_answer(host: &str, error: &str, kind: Option<ErrorKind>) -> Option<Diagnosis> {
    // The error line shows the message: the summary names the cause only,
    // and each piece of advice is said once.
    if let Some(cause) = UpstreamCause::of_recorded(error) {
        let mut b = Builder::new(format!("No answer from {host}: {}", cause.title()));
        if cause == UpstreamCause::Timeout {
            b.summary = format!("No answer from {host} in time (--upstream-timeout)");
        }
        b.cause(cause.explanation());
        b.remedy(cause.advice());
        return b.done();
    }
    let mut b = Builder::new(format!("No answer from {host}: {error}"));
    match kind {
        Some(
            ErrorKind::ClientClosed
            | ErrorKind::ClientBodyTooSlow
            | ErrorKind::ClientBodyUnreadable,
        ) => {
            b.cause("the client gave up before the exchange completed (its own timeout, or the user navigated away)");
            b.remedy("nothing to fix on Trakt's side; if this repeats, check the client's timeout");
        }
        Some(ErrorKind::CutByShutdown) => {
            b.cause("trakt-doctor was stopped while the exchange was still in flight");
            b.remedy(
                "nothing to fix; repeat the request with the proxy running to see Trakt's answer",
            );
        }
        _ => {
            b.cause("the network between this machine and Trakt, a firewall, or Trakt being down");
            b.remedy("retry in a minute; check https://status.trakt.tv (or the status of Stremio's servers for strem.io hosts)");
            b.remedy(
                "if only trakt-doctor fails, check --resolve, --upstream-ca and --upstream-timeout",
            );
        }
    }
    b.done()
}

fn bad_request(a: &Answer, b: &mut Builder) {
    let description = &a.description;
    if a.oauth_error.as_deref() == Some("invalid_grant") {
        if a.explained {
            b.cause(format!("Trakt says invalid_grant: {description}"));
        } else {
            b.summary =
                format!("400 invalid_grant: Trakt refused the token exchange ({description})");
        }
        if description.contains("session not found") {
            b.cause("the refresh token was issued before Trakt's authentication migration and can no longer be exchanged");
        }
        b.cause("the code or refresh token was already used (both are single-use) or has expired");
        b.cause("redirect_uri differs from the one in the app's settings and the authorize request (it is case-sensitive)");
        b.remedy("sign in again (for Stremio: Settings → Trakt → Authenticate) and store the new refresh token after every refresh");
    } else if !a.explained {
        if let Some(error) = &a.oauth_error {
            b.cause(format!("Trakt says `{error}`: {description}"));
        }
        b.cause("a stale client after a Trakt API change: check for an update of the app or addon");
        b.cause("an expired or revoked token: sign out of Trakt in the app and sign in again (a clean re-authentication)");
        b.cause(COOKIE_GUESS);
        b.cause("the body was changed on the way (a proxy, antivirus or VPN rewriting traffic): compare the logged body with what the client meant to send");
    }
}

fn unauthorized(a: &Answer, b: &mut Builder) {
    if let Some(auth) = header(a.response, "www-authenticate") {
        b.cause(format!("Trakt says: {auth}"));
    }
    if !a.explained {
        b.cause("the access token is missing, expired (tokens last 7 days; 24 hours in 2025), or was revoked");
    }
    b.remedy(
        "refresh the token, or sign in to Trakt again (for Stremio: Settings → Trakt → Authenticate)",
    );
}

fn forbidden(response: &Response, b: &mut Builder) {
    // Every answer from Trakt passes Cloudflare and carries its `Server` and
    // `CF-RAY` headers; only a block is Cloudflare's own HTML page.
    if is_html(response) {
        b.summary = "403 from Cloudflare's firewall in front of Trakt, not from the API".into();
        b.cause("the request was blocked before reaching Trakt: a missing or generic User-Agent, or an IP address Cloudflare distrusts");
        b.remedy("send a descriptive User-Agent (AppName/1.2.3), or turn on --fix to add one; avoid VPN or datacenter IPs");
    } else {
        b.cause("the trakt-api-key (client id) is wrong, or the app is unapproved or its client id was revoked");
        b.cause("since July 2026 a free Trakt account may connect only one community app; another linked app may have displaced this one");
        b.remedy("check the client id at https://trakt.tv/oauth/applications; check the account's connected apps");
    }
}

fn not_found(a: &Answer, b: &mut Builder) {
    if !a.explained {
        b.cause("the ids do not match any Trakt item (check imdb `tt…` ids and numeric tmdb/tvdb ids), or the record was deleted");
    }
}

fn conflict(a: &Answer, b: &mut Builder) {
    let field = |name: &str| {
        a.body
            .as_ref()
            .and_then(|j| j.get(name))
            .and_then(Value::as_str)
    };
    let (watched, expires) = (field("watched_at"), field("expires_at"));
    let until = expires.map_or(String::new(), |e| format!(" until {}", moment(e, a.now)));
    match a.operation {
        Some(op) if op.is_scrobble() => {
            b.summary = format!(
                "409: this item was just scrobbled{}; Trakt ignores duplicates{until}",
                watched.map_or(String::new(), |w| format!(" (at {})", moment(w, a.now))),
            );
            b.remedy("treat 409 on /scrobble/stop as success: the play is already recorded");
        }
        Some(Operation::Checkin) => {
            b.summary = format!("409: a checkin is already in progress{until}");
            b.remedy("DELETE /checkin first, or use /scrobble/* from a media app");
        }
        _ => {}
    }
}

fn account_limit(response: &Response, b: &mut Builder) {
    if let Some(limit) = header(response, "x-account-limit") {
        b.cause(format!("the account limit is {limit}"));
    }
    b.cause(
        "the account reached a free-tier limit (lists, list items, watchlist or collection size)",
    );
    b.remedy("remove items, or upgrade to VIP; retrying will not help");
    if let Some(url) = header(response, "x-upgrade-url") {
        b.remedy(format!("upgrade: {url}"));
    }
}

fn unprocessable(a: &Answer, b: &mut Builder) {
    if let Some(body) = a.response.body.text().filter(|t| !t.is_empty()) {
        b.cause(format!("Trakt says: {}", truncate(body, 300)));
    }
    if a.operation == Some(Operation::ScrobbleStop) {
        b.cause("a stop under 1 % progress is ignored with 422");
    }
}

fn locked(response: &Response, b: &mut Builder) {
    let deactivated = header(response, "x-account-deactivated") == Some("true");
    b.cause(if deactivated {
        "the Trakt account is deactivated"
    } else {
        "the Trakt account is locked"
    });
    b.remedy("the user must contact Trakt support; API access is suspended until then");
}

fn vip_only(response: &Response, b: &mut Builder) {
    b.remedy(match header(response, "x-upgrade-url") {
        Some(url) => format!("this feature needs Trakt VIP: {url}"),
        None => "this feature needs Trakt VIP: https://app.trakt.tv/vip".to_string(),
    });
}

const UPDATE_STREMIO: &str = "update Stremio";

const UPDATE_OR_REPORT: &str =
    "update Stremio; if it is already the latest, report it to Stremio with the logged events";

const RELINK: &str = "start the link again from Stremio (Settings → Trakt → Authenticate) in a single tab, and do not reload or go back to the callback page";

const REAUTHENTICATE: &str = "re-authenticate: Stremio → Settings → Trakt Scrobbling → Authenticate (or stremio.com → account → Integrations)";

/// How one Stremio-lens finding explains the exchange.
struct StremioCase {
    rule: &'static Rule,
    /// The summary; `{message}` stands for the finding's message, which
    /// otherwise comes first among the causes.
    summary: &'static str,
    causes: &'static [&'static str],
    remedies: &'static [&'static str],
}

/// The Stremio-lens findings that explain an exchange, most telling first.
const STREMIO: &[StremioCase] = &[
    StremioCase {
        rule: &lens::AUTHORIZE_API_HOST,
        summary: "Stremio's Trakt link redirects to api.trakt.tv/oauth/authorize, where Trakt answers 400 Bad Request",
        causes: &["Trakt's authorize page is on trakt.tv; Trakt staff confirmed Stremio uses the wrong URL (trakt/trakt-api#646)"],
        remedies: &[
            "run trakt-doctor with --fix: the redirect is rewritten to trakt.tv with the same parameters",
            "or, on the Trakt error page, remove `api.` from the address bar and press Enter",
        ],
    },
    StremioCase {
        rule: &lens::TOKEN_EXPIRED,
        summary: "Stremio's Trakt token has expired: Stremio shows \"Trakt authentication expired\" and scrobbles are lost",
        causes: &["Trakt access tokens last 7 days (24 hours in 2025) and the Stremio app holds no refresh token (stremio-core#803, PR #821)"],
        remedies: &[REAUTHENTICATE],
    },
    StremioCase {
        rule: &lens::ADDON_AUTH_ERROR,
        summary: "The Trakt catalogue addon cannot use the stored Trakt token (\"Trakt authenticate error - please reauthenticate\")",
        causes: &["the token on Stremio's servers expired or was revoked (stremio-bugs#2447)"],
        remedies: &[REAUTHENTICATE],
    },
    StremioCase {
        rule: &lens::EVENTS_LOST,
        summary: "Stremio's server refused the playback events: these Trakt scrobbles are lost",
        causes: &["the Stremio session behind this app is gone (\"session does not exist\": the login expired or was ended on another device); Stremio's servers pass scrobbles to Trakt only for a live session"],
        remedies: &["log in to Stremio again (Settings → Log out, then log in): scrobbling resumes with the next playback; what was watched meanwhile can be marked watched on trakt.tv"],
    },
    StremioCase {
        rule: &lens::API_ERROR,
        summary: "Stremio's API failed inside a 200 answer: {message}",
        causes: &["api.strem.io reports errors as {\"error\": …} with status 200"],
        remedies: &["sign out of Stremio and in again if the error is about the session; otherwise retry later"],
    },
    StremioCase {
        rule: &lens::TOKEN_EXPIRING,
        summary: "Stremio's Trakt token expires within a day",
        causes: &[],
        remedies: &[REAUTHENTICATE],
    },
    StremioCase {
        rule: &lens::EVENT_HAS_TRAKT,
        summary: "Stremio will not scrobble this playback: it believes Trakt is not linked or its token expired",
        causes: &[],
        remedies: &[REAUTHENTICATE],
    },
    StremioCase {
        rule: &lens::CALLBACK_CODE,
        summary: "The Trakt link fails at Stremio's callback: {message}",
        causes: &[],
        remedies: &[RELINK, "on Trakt's page, press Yes to allow Stremio"],
    },
    StremioCase {
        rule: &lens::STATE_MISMATCH,
        summary: "The Trakt link fails at Stremio's callback: {message}",
        causes: &[],
        remedies: &[RELINK],
    },
    StremioCase {
        rule: &crate::lint::session::CODE_REUSED,
        summary: "The Trakt link's callback is replayed: {message}",
        causes: &[],
        remedies: &["if the first callback linked the account, nothing is wrong; otherwise start the link again from Stremio (Settings → Trakt → Authenticate) in a single tab"],
    },
    StremioCase {
        rule: &lens::UNLINKED,
        summary: "Trakt is unlinked from this Stremio account: from here on nothing is scrobbled",
        causes: &[],
        remedies: &["if this was a mistake, link again: Stremio → Settings → Trakt → Authenticate"],
    },
    StremioCase {
        rule: &lens::ADDON_REMOVED,
        summary: "The Trakt addon leaves Stremio's addon collection: the Trakt catalogs disappear",
        causes: &[],
        remedies: &["if this was a mistake, install it again: Stremio → Settings → Trakt (or link Trakt again, which installs it)"],
    },
    StremioCase {
        rule: &lens::LIBRARY_PROGRESS,
        summary: "Trakt holds another progress than Stremio's library: the player did not report the change",
        causes: &[],
        remedies: &[UPDATE_OR_REPORT],
    },
    StremioCase {
        rule: &lens::EVENT_VIDEO_ID,
        summary: "Trakt cannot tell which episode is playing: {message}",
        causes: &[],
        remedies: &[UPDATE_OR_REPORT],
    },
    StremioCase {
        rule: &lens::EVENT_OFFSET,
        summary: "Trakt receives no valid progress: {message}",
        causes: &[],
        remedies: &[UPDATE_OR_REPORT],
    },
];

/// Explains Stremio's own Trakt traffic from the Stremio-lens findings.
fn stremio_bridge(exchange: &Exchange, status: u16) -> Option<Diagnosis> {
    for case in STREMIO {
        let open = exchange
            .findings
            .iter()
            .find(|f| f.is(case.rule) && !f.fixed);
        if let Some(f) = open {
            let mut b = if case.summary.contains("{message}") {
                Builder::new(case.summary.replace("{message}", &f.message))
            } else {
                let mut b = Builder::new(case.summary);
                b.cause(f.message.clone());
                b
            };
            b.causes.extend(case.causes.iter().map(|c| c.to_string()));
            b.remedies
                .extend(case.remedies.iter().map(|r| r.to_string()));
            return b.done();
        }
    }
    if status >= 400 {
        let mut b = Builder::new(format!("{status} from Stremio's servers"));
        b.cause("a failure on Stremio's side (api.strem.io / www.strem.io), not Trakt's");
        b.remedy("retry later; if it persists, report it to Stremio with the logged exchange");
        return b.done();
    }
    None
}

/// A date Trakt wrote (ISO 8601) as every diagnosis shows dates; any other text as it came.
fn moment(text: &str, now: OffsetDateTime) -> String {
    OffsetDateTime::parse(text, &Rfc3339).map_or_else(|_| text.to_string(), |at| when(at, now))
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", text.get(..i).unwrap_or(text)),
        None => text.to_string(),
    }
}

/// Polling `/oauth/device/token` gives statuses their own meaning.
fn device_token(status: u16) -> Option<Diagnosis> {
    let (_, summary, remedy) = status::DEVICE_TOKEN.iter().find(|(s, _, _)| *s == status)?;
    let mut b = Builder::new(*summary);
    b.remedy(*remedy);
    b.done()
}

fn rate_limited(response: &Response, now: OffsetDateTime, b: &mut Builder) {
    let limit: Option<Value> =
        header(response, "x-ratelimit").and_then(|v| serde_json::from_str(v).ok());
    match &limit {
        Some(l) => {
            let name = l.get("name").and_then(Value::as_str).unwrap_or("?");
            b.cause(format!(
                "limit {name}: {} calls per {} s, {} remaining, until {}",
                l.get("limit").map_or("?".into(), Value::to_string),
                l.get("period").map_or("?".into(), Value::to_string),
                l.get("remaining").map_or("?".into(), Value::to_string),
                l.get("until")
                    .and_then(Value::as_str)
                    .map_or("?".to_string(), |u| moment(u, now)),
            ));
            if name.contains("POST") {
                b.cause("Trakt allows one write (POST, PUT, DELETE) per second per user");
            }
        }
        None => {
            b.cause("no X-Ratelimit header: the 429 may come from Trakt's abuse protection rather than the API limiter");
        }
    }
    match header(response, "retry-after") {
        Some(seconds) => b.remedy(format!(
            "wait {seconds} s (Retry-After) before the next request"
        )),
        None => b.remedy("back off exponentially with jitter"),
    };
    b.remedy("GET limits are 500 calls per 5 minutes: sync less often, use /sync/last_activities to skip unchanged data");
}

/// A 2xx sync answer that still lost items: `not_found` lists what Trakt could not match.
fn not_found_items(response: &Response) -> Option<Diagnosis> {
    // Most 2xx answers have no such key: look (in the bytes, without
    // checking a 1 MiB answer is UTF-8 first) before parsing them.
    memchr::memmem::find(&response.body.bytes, b"\"not_found\"")?;
    let json = response.body.json()?;
    let not_found = json.get("not_found")?.as_object()?;
    let mut missing = Vec::new();
    for (kind, items) in not_found {
        if let Some(items) = items.as_array().filter(|a| !a.is_empty()) {
            missing.push(format!("{} {kind}", items.len()));
            for item in items.iter().take(3) {
                missing.push(format!("  not found: {item}"));
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let mut b = Builder::new(format!(
        "{} accepted, but Trakt could not match some items (not_found)",
        response.status
    ));
    for m in missing {
        b.cause(m);
    }
    b.remedy("check the ids of those items: imdb ids are `tt` + digits, tmdb/tvdb/trakt ids are numbers, and the type (movie vs show) must be right");
    b.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Headers, Request};
    use bytes::Bytes;

    fn exchange(
        method: &str,
        url: &str,
        status: Option<u16>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Exchange {
        Exchange {
            id: 1,
            started_at: time::OffsetDateTime::UNIX_EPOCH,
            duration_ms: 1.0,
            request: Request {
                method: method.into(),
                url: url.into(),
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::default(),
            },
            response: status.map(|status| Response {
                status,
                http_version: "HTTP/1.1".into(),
                headers: Headers::from_pairs(headers),
                body: Body::complete(Bytes::from(body.to_string())),
            }),
            error: status.is_none().then(|| "connection refused".to_string()),
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        }
    }

    const SETTINGS: &str = "https://api.trakt.tv/users/settings";

    #[test]
    fn a_rejection_confirms_the_warning_that_foretold_it() {
        let url = "https://api.trakt.tv/movies/recommended/weekly";
        let renamed = crate::lint::route::RENAMED.finding(
            "/",
            "GET /movies/recommended/{period} is gone; call GET /movies/favorited/{period}",
        );
        let mut ex = exchange("GET", url, Some(404), &[], "");
        ex.findings = vec![renamed.clone()];
        let d = explain(&ex).expect("a diagnosis");
        assert!(d.summary.starts_with("404 because"), "{}", d.summary);
        assert!(d.summary.contains("favorited"), "{}", d.summary);
        // A failure of another kind is not blamed on it.
        let mut other = exchange("GET", url, Some(503), &[], "");
        other.findings = vec![renamed];
        assert!(!explain(&other)
            .expect("a diagnosis")
            .summary
            .contains("because"));
    }

    #[test]
    fn no_answer_is_explained_by_its_kind() {
        let causes = |error: &str| {
            let mut ex = exchange("GET", SETTINGS, None, &[], "");
            ex.error = Some(error.to_string());
            explain(&ex).map(|d| d.causes.join(" ")).unwrap_or_default()
        };
        assert!(
            causes("the client closed the connection before the response arrived")
                .contains("the client gave up")
        );
        assert!(
            causes("cut short by trakt-doctor's shutdown: the exchange was still in flight")
                .contains("trakt-doctor was stopped")
        );
        assert!(causes("connection refused").contains("the network"));
    }

    #[test]
    fn success_needs_no_diagnosis_but_not_found_items_do() {
        assert!(explain(&exchange("GET", SETTINGS, Some(200), &[], "{}")).is_none());
        let body = r#"{"added":{"movies":0},"not_found":{"movies":[{"ids":{"imdb":"2015381"}}],"shows":[]}}"#;
        let d = explain(&exchange(
            "POST",
            "https://api.trakt.tv/sync/history",
            Some(201),
            &[],
            body,
        ))
        .unwrap();
        assert!(d.summary.contains("not_found"), "{d:?}");
        assert!(d.causes.iter().any(|c| c.contains("2015381")));
        // A read's answer is not a write's result, whatever it holds.
        let listing = exchange(
            "GET",
            "https://api.trakt.tv/sync/history",
            Some(200),
            &[],
            body,
        );
        assert!(explain(&listing).is_none());
    }

    #[test]
    fn only_trakt_hosts_get_trakt_diagnoses() {
        for url in [
            "https://nottrakt.tv/users/settings",
            "https://api.nottrakt.tv/users/settings",
            "https://trakt.tv.example.org/users/settings",
        ] {
            assert!(
                explain(&exchange("GET", url, Some(401), &[], "")).is_none(),
                "{url}"
            );
        }
        for url in ["https://trakt.tv/x", "https://sub.trakt.tv/x", SETTINGS] {
            assert!(
                explain(&exchange("GET", url, Some(401), &[], "")).is_some(),
                "{url}"
            );
        }
    }

    #[test]
    fn findings_explain_the_status() {
        let mut ex = exchange(
            "POST",
            "https://api.trakt.tv/scrobble/start",
            Some(400),
            &[],
            "",
        );
        ex.findings.push(crate::lint::body::JSON_INVALID.finding(
            "/",
            "the body is not JSON: trailing comma at line 1 column 54",
        ));
        let d = explain(&ex).unwrap();
        assert!(
            d.summary.starts_with("400 because the body is not JSON"),
            "{}",
            d.summary
        );
        assert!(d.summary.contains("line 1 column 54"));
        // Said once: the summary holds it, the causes do not repeat it, and
        // with no auto-fix for it, --fix is not offered.
        assert!(
            !d.causes.iter().any(|c| c.contains("line 1 column 54")),
            "{d:?}"
        );
        assert_eq!(d.remedies, [FIX_FINDINGS]);
        // A finding auto-fix repairs is named with the way to apply it.
        ex.findings.push(
            crate::lint::headers::API_VERSION_MISSING
                .finding(
                    "trakt-api-version",
                    "the `trakt-api-version` header is missing",
                )
                .with_fix(crate::report::Fix::SetHeader {
                    name: "trakt-api-version".into(),
                    value: "2".into(),
                }),
        );
        let d = explain(&ex).unwrap();
        assert_eq!(d.causes.len(), 1, "{d:?}");
        let remedy = d.remedies.first().cloned().unwrap_or_default();
        assert!(
            remedy.contains("auto-fix repairs `header.api-version.missing`")
                && remedy.contains("--fix")
                && remedy.contains("fix `body.json.invalid` in the client"),
            "{remedy}"
        );
        ex.findings[0].fixed = true;
        ex.findings.truncate(1);
        assert!(!explain(&ex).unwrap().summary.contains("because"));
    }

    #[test]
    fn cloudflare_403_is_told_apart_from_an_api_key_403() {
        let waf = explain(&exchange(
            "GET",
            SETTINGS,
            Some(403),
            &[("content-type", "text/html"), ("server", "cloudflare")],
            "<html>Sorry, you have been blocked</html>",
        ))
        .unwrap();
        assert!(waf.summary.contains("Cloudflare"), "{waf:?}");
        let key = explain(&exchange(
            "GET",
            SETTINGS,
            Some(403),
            &[("content-type", "application/json")],
            "",
        ))
        .unwrap();
        assert!(
            key.causes.iter().any(|c| c.contains("trakt-api-key")),
            "{key:?}"
        );
    }

    #[test]
    fn invalid_grant_and_rate_limits_are_read_from_the_response() {
        let grant = explain(&exchange(
            "POST",
            "https://api.trakt.tv/oauth/token",
            Some(400),
            &[],
            r#"{"error":"invalid_grant","error_description":"session not found"}"#,
        ))
        .unwrap();
        assert!(grant.summary.contains("invalid_grant"));
        assert!(grant.causes.iter().any(|c| c.contains("migration")));
        let limit = r#"{"name":"AUTHED_API_POST_LIMIT","period":1,"limit":1,"remaining":0,"until":"2026-01-01T00:00:01Z"}"#;
        let rate = explain(&exchange(
            "POST",
            "https://api.trakt.tv/sync/history",
            Some(429),
            &[("x-ratelimit", limit), ("retry-after", "1")],
            "",
        ))
        .unwrap();
        assert!(rate
            .causes
            .iter()
            .any(|c| c.contains("AUTHED_API_POST_LIMIT")));
        assert!(rate.remedies.iter().any(|r| r.contains("wait 1 s")));
    }

    #[test]
    fn every_documented_status_has_a_meaning_and_a_diagnosis() {
        for status in [
            400, 401, 403, 404, 405, 409, 412, 420, 422, 423, 426, 429, 500, 502, 503, 504, 520,
            521, 522,
        ] {
            assert!(status::meaning(status).is_some(), "{status}");
            let d = explain(&exchange("GET", SETTINGS, Some(status), &[], "")).unwrap();
            assert!(
                d.summary.starts_with(&status.to_string()),
                "{status}: {d:?}"
            );
        }
    }

    #[test]
    fn device_polling_and_scrobble_conflicts_read_as_what_they_are() {
        let pending = explain(&exchange(
            "POST",
            "https://api.trakt.tv/oauth/device/token",
            Some(400),
            &[],
            "",
        ))
        .unwrap();
        assert!(pending.summary.contains("Pending"));
        let dup = explain(&exchange(
            "POST",
            "https://api.trakt.tv/scrobble/stop",
            Some(409),
            &[],
            r#"{"watched_at":"2026-01-01T10:00:00Z","expires_at":"2026-01-01T11:00:00Z"}"#,
        ))
        .unwrap();
        assert!(
            dup.summary.contains("already") || dup.summary.contains("just scrobbled"),
            "{dup:?}"
        );
        assert!(dup.remedies.iter().any(|r| r.contains("success")));
    }

    #[test]
    fn a_browsers_own_requests_get_no_api_diagnosis() {
        let mut favicon = exchange(
            "GET",
            "https://api.trakt.tv/favicon.ico",
            Some(404),
            &[],
            "",
        );
        favicon.request.headers =
            Headers::from_pairs(&[("sec-fetch-mode", "no-cors"), ("sec-fetch-dest", "image")]);
        assert!(explain(&favicon).is_none());
        // The same path from a script is an API call that found nothing.
        favicon.request.headers = Headers::default();
        assert!(explain(&favicon).is_some());
        // A browser blocked by Cloudflare is still told so.
        let mut blocked = exchange(
            "GET",
            "https://api.trakt.tv/",
            Some(403),
            &[("server", "cloudflare")],
            "<html>blocked</html>",
        );
        blocked.request.headers = Headers::from_pairs(&[("sec-fetch-mode", "navigate")]);
        assert!(explain(&blocked).unwrap().summary.contains("Cloudflare"));
    }

    #[test]
    fn dates_in_answers_read_as_iso_utc_with_how_far_they_are() {
        let mut dup = exchange(
            "POST",
            "https://api.trakt.tv/scrobble/stop",
            Some(409),
            &[],
            r#"{"watched_at":"2026-01-01T10:00:00.000Z","expires_at":"2026-01-01T11:00:00.000Z"}"#,
        );
        dup.started_at = time::macros::datetime!(2026-01-01 10:30 UTC);
        let summary = explain(&dup).unwrap().summary;
        assert!(
            summary.contains("2026-01-01T10:00:00Z, 30 min ago")
                && summary.contains("until 2026-01-01T11:00:00Z, in 30 min"),
            "{summary}"
        );
    }

    #[test]
    fn the_link_flow_names_the_site_whose_cookies_to_clear_or_clears_the_cookies() {
        let url = "https://www.strem.io/trakt/auth/5e1";
        let mut dup = exchange("GET", url, Some(200), &[], "");
        dup.findings.push(
            crate::lint::cookie::DUPLICATE
                .finding("cookie", "the cookie `sid` is sent with different values"),
        );
        let d = explain(&dup).expect("a diagnosis");
        assert!(d.summary.contains("cookies"), "{d:?}");
        assert_eq!(
            d.remedies,
            ["clear the cookies of strem.io only (browser settings → cookies and site data → strem.io), then link again from Stremio: other sites' cookies play no part"]
        );
        // A 400 on Trakt's authorize page with ordinary cookies: not the cookies.
        let mut failed = exchange(
            "GET",
            "https://trakt.tv/oauth/authorize?client_id=x&response_type=code",
            Some(400),
            &[],
            "",
        );
        failed.request.headers = Headers::from_pairs(&[("cookie", "a=1; b=2")]);
        let d = explain(&failed).expect("a diagnosis");
        assert!(!d.causes.iter().any(|c| c == COOKIE_GUESS), "{d:?}");
        assert!(
            d.causes
                .iter()
                .any(|c| c
                    .starts_with("the cookies are not the cause: the Cookie header is 8 bytes")),
            "{d:?}"
        );
        // Elsewhere the generic guess stays.
        let api = explain(&exchange("GET", SETTINGS, Some(400), &[], "")).unwrap();
        assert!(api.causes.iter().any(|c| c == COOKIE_GUESS), "{api:?}");
    }

    #[test]
    fn stremio_diagnoses_name_the_app_the_session_saw() {
        let mut ex = exchange(
            "POST",
            "https://api.strem.io/api/events",
            Some(200),
            &[],
            "{}",
        );
        ex.findings
            .push(crate::lint::stremio::EVENT_VIDEO_ID.finding(
                "/events/0/player/libItemVideoID",
                "series video id `tt1` is not `tt…:season:episode`",
            ));
        let d = explain_with(
            &Parsed::of(&ex.request),
            &ex,
            Some("stremio-web 5.0.0, shell 5.0.12"),
        )
        .unwrap();
        assert!(
            d.remedies.iter().any(|r| r.starts_with("update Stremio")
                && r.ends_with("(this one is stremio-web 5.0.0, shell 5.0.12)")),
            "{d:?}"
        );
        let mut api_error = exchange(
            "POST",
            "https://api.strem.io/api/getUser",
            Some(200),
            &[],
            "",
        );
        api_error
            .findings
            .push(crate::lint::stremio::API_ERROR.finding("response /error", "x"));
        let d = explain_with(
            &Parsed::of(&api_error.request),
            &api_error,
            Some("stremio-web 5.0.0"),
        )
        .unwrap();
        assert!(
            d.causes
                .iter()
                .any(|c| c == "Stremio app seen in this session: stremio-web 5.0.0"),
            "{d:?}"
        );
        // A Trakt diagnosis does not name it.
        let settings = exchange("GET", SETTINGS, Some(401), &[], "");
        let d = explain_with(
            &Parsed::of(&settings.request),
            &settings,
            Some("stremio-web 5.0.0"),
        )
        .unwrap();
        assert!(!d.causes.iter().any(|c| c.contains("stremio-web")), "{d:?}");
    }

    #[test]
    fn upstream_failures_and_other_hosts() {
        let failed = explain(&exchange("GET", SETTINGS, None, &[], "")).unwrap();
        assert!(failed.summary.contains("connection refused"));
        assert!(explain(&exchange("GET", "https://example.org/", Some(500), &[], "")).is_none());
    }
}
