//! Diagnosis: why Trakt answered as it did, in plain words, tied to the
//! findings that explain it, and what to do.
//!
//! Pure: (request, findings, response or error) -> [`Diagnosis`].
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use serde_json::Value;

use crate::exchange::{Exchange, Response};
use crate::report::{Diagnosis, Finding, Severity};
use crate::spec::stremio;
use crate::spec::trakt::API_HOSTS;

/// Whether `host` is `domain` or one of its subdomains: `api.trakt.tv` is in
/// `trakt.tv`, `nottrakt.tv` is not.
fn in_domain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Trakt's documented meaning of a status code.
pub fn status_meaning(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request: the request couldn't be parsed",
        401 => "Unauthorized: OAuth must be provided (missing, expired or revoked token)",
        403 => "Forbidden: invalid API key or unapproved app",
        404 => "Not Found: the method exists, but no record was found",
        405 => "Method Not Found: the method doesn't exist",
        409 => "Conflict: the resource was already created",
        412 => "Precondition Failed: use the application/json content type",
        420 => "Account Limit Exceeded: list count, item count, etc.",
        422 => "Unprocessable Entity: validation errors",
        423 => "Locked User Account: the user has to contact Trakt support",
        426 => "VIP Only: the user must upgrade to VIP",
        429 => "Rate Limit Exceeded",
        500 => "Server Error on Trakt's side",
        502..=504 => "Service Unavailable: Trakt's servers are overloaded (try again in 30 s)",
        520..=522 => "Service Unavailable: a Cloudflare error between Cloudflare and Trakt",
        _ => return None,
    })
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

fn is_cloudflare(response: &Response) -> bool {
    header(response, "server").is_some_and(|s| s.eq_ignore_ascii_case("cloudflare"))
        || header(response, "cf-ray").is_some()
}

/// Explains an exchange; `None` when there is nothing to explain.
pub fn explain(exchange: &Exchange) -> Option<Diagnosis> {
    let findings: Vec<&Finding> = exchange
        .findings
        .iter()
        .filter(|f| !f.fixed && f.severity == Severity::Error)
        .collect();
    let path = exchange
        .request
        .uri()
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let host = exchange.request.host().unwrap_or_default();
    let Some(response) = &exchange.response else {
        let error = exchange.error.as_deref().unwrap_or("no response");
        let mut b = Builder::new(format!("No answer from {host}: {error}"));
        if error.contains("client closed") {
            b.cause("the client gave up before the exchange completed (its own timeout, or the user navigated away)");
            b.remedy("nothing to fix on Trakt's side; if this repeats, check the client's timeout");
        } else {
            b.cause("the network between this machine and Trakt, a firewall, or Trakt being down");
            b.remedy("retry in a minute; check https://status.trakt.tv (or the status of Stremio's servers for strem.io hosts)");
            b.remedy(
                "if only trakt-doctor fails, check --resolve, --upstream-ca and --upstream-timeout",
            );
        }
        return b.done();
    };
    let status = response.status;
    if host == stremio::API_HOST || host == stremio::WEB_HOST {
        return stremio_bridge(exchange, status);
    }
    if !API_HOSTS.contains(&host.as_str()) && !in_domain(&host, "trakt.tv") {
        return None;
    }
    if path == "/oauth/device/token" {
        if let Some(d) = device_token(status) {
            return Some(d);
        }
    }
    if status < 400 {
        return not_found_items(response);
    }
    let meaning = status_meaning(status).unwrap_or("an error status Trakt does not document");
    let mut b = Builder::new(format!("{status} {meaning}"));
    let explained = !findings.is_empty();
    if let Some(first) = findings.first() {
        b.summary = format!("{status} because {} ({})", first.message, first.rule);
        for f in &findings {
            b.cause(format!("{}: {} at {}", f.rule, f.message, f.location));
        }
        b.remedy("fix the findings above in the client (or run trakt-doctor with --fix where a fix exists)");
    }
    let error_body = response.body.json();
    let oauth_error = error_body
        .as_ref()
        .and_then(|b| b.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let description = error_body
        .as_ref()
        .and_then(|b| b.get("error_description"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match status {
        400 if oauth_error.as_deref() == Some("invalid_grant") => {
            if explained {
                b.cause(format!("Trakt says invalid_grant: {description}"));
            } else {
                b.summary =
                    format!("400 invalid_grant: Trakt refused the token exchange ({description})");
            }
            if description.contains("session not found") {
                b.cause("the refresh token was issued before Trakt's authentication migration and can no longer be exchanged");
            }
            b.cause(
                "the code or refresh token was already used (both are single-use) or has expired",
            );
            b.cause("redirect_uri differs from the one in the app's settings and the authorize request (it is case-sensitive)");
            b.remedy("sign in again (for Stremio: Settings → Trakt → Authenticate) and store the new refresh token after every refresh");
        }
        400 if !explained => {
            if let Some(error) = &oauth_error {
                b.cause(format!("Trakt says `{error}`: {description}"));
            }
            b.cause(
                "a stale client after a Trakt API change: check for an update of the app or addon",
            );
            b.cause("an expired or revoked token: sign out of Trakt in the app and sign in again (a clean re-authentication)");
            b.cause("cookies or a cached page during the OAuth handshake: retry the link in a private window");
            b.cause("the body was changed on the way (a proxy, antivirus or VPN rewriting traffic): compare the logged body with what the client meant to send");
        }
        401 => {
            if let Some(auth) = header(response, "www-authenticate") {
                b.cause(format!("Trakt says: {auth}"));
            }
            if !explained {
                b.cause("the access token is missing, expired (tokens last 7 days; 24 hours in 2025), or was revoked");
            }
            b.remedy("refresh the token, or sign in to Trakt again (for Stremio: Settings → Trakt → Authenticate)");
        }
        403 if is_html(response) || is_cloudflare(response) => {
            b.summary = "403 from Cloudflare's firewall in front of Trakt, not from the API".into();
            b.cause("the request was blocked before reaching Trakt: a missing or generic User-Agent, or an IP address Cloudflare distrusts");
            b.remedy("send a descriptive User-Agent (AppName/1.2.3), or turn on --fix to add one; avoid VPN or datacenter IPs");
        }
        403 => {
            b.cause("the trakt-api-key (client id) is wrong, or the app is unapproved or its client id was revoked");
            b.cause("since July 2026 a free Trakt account may connect only one community app; another linked app may have displaced this one");
            b.remedy("check the client id at https://trakt.tv/oauth/applications; check the account's connected apps");
        }
        409 => {
            let json = error_body.clone().unwrap_or(Value::Null);
            let watched = json.get("watched_at").and_then(Value::as_str);
            let expires = json.get("expires_at").and_then(Value::as_str);
            if path.starts_with("/scrobble/") {
                b.summary = format!(
                    "409: this item was just scrobbled{}; Trakt ignores duplicates{}",
                    watched.map_or(String::new(), |w| format!(" (at {w})")),
                    expires.map_or(String::new(), |e| format!(" until {e}"))
                );
                b.remedy("treat 409 on /scrobble/stop as success: the play is already recorded");
            } else if path == "/checkin" {
                b.summary = format!(
                    "409: a checkin is already in progress{}",
                    expires.map_or(String::new(), |e| format!(" until {e}"))
                );
                b.remedy("DELETE /checkin first, or use /scrobble/* from a media app");
            }
        }
        412 => {
            b.remedy("send the body as JSON with Content-Type: application/json");
        }
        420 => {
            if let Some(limit) = header(response, "x-account-limit") {
                b.cause(format!("the account limit is {limit}"));
            }
            b.cause("the account reached a free-tier limit (lists, list items, watchlist or collection size)");
            b.remedy("remove items, or upgrade to VIP; retrying will not help");
            if let Some(url) = header(response, "x-upgrade-url") {
                b.remedy(format!("upgrade: {url}"));
            }
        }
        422 => {
            if let Some(body) = response.body.text().filter(|t| !t.is_empty()) {
                b.cause(format!("Trakt says: {}", truncate(body, 300)));
            }
            if path == "/scrobble/stop" {
                b.cause("a stop under 1 % progress is ignored with 422");
            }
        }
        423 => {
            let deactivated = header(response, "x-account-deactivated") == Some("true");
            b.cause(if deactivated {
                "the Trakt account is deactivated"
            } else {
                "the Trakt account is locked"
            });
            b.remedy("the user must contact Trakt support; API access is suspended until then");
        }
        426 => {
            b.remedy(match header(response, "x-upgrade-url") {
                Some(url) => format!("this feature needs Trakt VIP: {url}"),
                None => "this feature needs Trakt VIP: https://app.trakt.tv/vip".to_string(),
            });
        }
        429 => rate_limited(response, &mut b),
        500 => {
            b.cause("an error on Trakt's side, not in the request");
            b.remedy("retry later; if it persists for this exact request, open a Trakt support ticket with the logged request");
        }
        502..=504 | 520..=522 | 529 => {
            b.cause(
                "Trakt (or Cloudflare in front of it) is overloaded or down: not the user's fault",
            );
            b.remedy("retry after 30 s with backoff; queue scrobbles instead of dropping them");
        }
        404 if !explained => {
            b.cause("the ids do not match any Trakt item (check imdb `tt…` ids and numeric tmdb/tvdb ids), or the record was deleted");
        }
        _ => {}
    }
    if !explained && b.causes.is_empty() && b.remedies.is_empty() {
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

/// Explains Stremio's own Trakt traffic from the Stremio-lens findings.
fn stremio_bridge(exchange: &Exchange, status: u16) -> Option<Diagnosis> {
    let open = |rule: &str| {
        exchange
            .findings
            .iter()
            .find(|f| f.rule == rule && !f.fixed)
    };
    let reauthenticate = "re-authenticate: Stremio → Settings → Trakt Scrobbling → Authenticate (or stremio.com → account → Integrations)";
    if let Some(f) = open("stremio.authorize.api-host") {
        let mut b = Builder::new("Stremio's Trakt link redirects to api.trakt.tv/oauth/authorize, where Trakt answers 400 Bad Request");
        b.cause(f.message.clone());
        b.cause("Trakt's authorize page is on trakt.tv; Trakt staff confirmed Stremio uses the wrong URL (trakt/trakt-api#646)");
        b.remedy("run trakt-doctor with --fix: the redirect is rewritten to trakt.tv with the same parameters");
        b.remedy("or, on the Trakt error page, remove `api.` from the address bar and press Enter");
        return b.done();
    }
    if let Some(f) = open("stremio.trakt-token.expired") {
        let mut b = Builder::new("Stremio's Trakt token has expired: Stremio shows \"Trakt authentication expired\" and scrobbles are lost");
        b.cause(f.message.clone());
        b.cause("Trakt access tokens last 7 days (24 hours in 2025) and the Stremio app holds no refresh token (stremio-core#803, PR #821)");
        b.remedy(reauthenticate);
        return b.done();
    }
    if let Some(f) = open("stremio.addon.auth-error") {
        let mut b = Builder::new("The Trakt catalogue addon cannot use the stored Trakt token (\"Trakt authenticate error - please reauthenticate\")");
        b.cause(f.message.clone());
        b.cause("the token on Stremio's servers expired or was revoked (stremio-bugs#2447)");
        b.remedy(reauthenticate);
        return b.done();
    }
    if let Some(f) = open("stremio.api.error") {
        let mut b = Builder::new(format!(
            "Stremio's API failed inside a 200 answer: {}",
            f.message
        ));
        b.cause("api.strem.io reports errors as {\"error\": …} with status 200");
        b.remedy("sign out of Stremio and in again if the error is about the session; otherwise retry later");
        return b.done();
    }
    if let Some(f) = open("stremio.trakt-token.expiring") {
        let mut b = Builder::new("Stremio's Trakt token expires within a day");
        b.cause(f.message.clone());
        b.remedy(reauthenticate);
        return b.done();
    }
    if let Some(f) = open("stremio.event.has-trakt") {
        let mut b = Builder::new("Stremio will not scrobble this playback: it believes Trakt is not linked or its token expired");
        b.cause(f.message.clone());
        b.remedy(reauthenticate);
        return b.done();
    }
    if status >= 400 {
        let mut b = Builder::new(format!("{status} from Stremio's servers"));
        b.cause("a failure on Stremio's side (api.strem.io / www.strem.io), not Trakt's");
        b.remedy("retry later; if it persists, report it to Stremio with the logged exchange");
        return b.done();
    }
    None
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", text.get(..i).unwrap_or(text)),
        None => text.to_string(),
    }
}

fn device_token(status: u16) -> Option<Diagnosis> {
    let (summary, remedy) = match status {
        400 => (
            "400 Pending: the user has not approved the code yet (this is normal while polling)",
            "keep polling every `interval` seconds until `expires_in` runs out",
        ),
        404 => (
            "404: invalid device_code",
            "send the `device_code` from /oauth/device/code, not the `user_code`",
        ),
        409 => (
            "409: this code was already approved and used",
            "stop polling; use the token you already received",
        ),
        410 => (
            "410: the device code expired",
            "start again with /oauth/device/code",
        ),
        418 => (
            "418: the user denied the app",
            "stop polling; ask the user to approve at trakt.tv/activate",
        ),
        429 => (
            "429 Slow Down: polling faster than `interval`",
            "poll no more often than the `interval` returned by /oauth/device/code",
        ),
        _ => return None,
    };
    let mut b = Builder::new(summary);
    b.remedy(remedy);
    b.done()
}

fn rate_limited(response: &Response, b: &mut Builder) {
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
                l.get("until").and_then(Value::as_str).unwrap_or("?"),
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
    // Most 2xx answers have no such key: look before parsing them.
    if !response.body.text()?.contains("\"not_found\"") {
        return None;
    }
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
        }
    }

    const SETTINGS: &str = "https://api.trakt.tv/users/settings";

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
        ex.findings[0].fixed = true;
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
            assert!(status_meaning(status).is_some(), "{status}");
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
    fn upstream_failures_and_other_hosts() {
        let failed = explain(&exchange("GET", SETTINGS, None, &[], "")).unwrap();
        assert!(failed.summary.contains("connection refused"));
        assert!(explain(&exchange("GET", "https://example.org/", Some(500), &[], "")).is_none());
    }
}
