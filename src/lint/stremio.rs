//! The Stremio lens: rules for Stremio's own Trakt traffic (the official
//! apps never call api.trakt.tv). Requests: the scrobble events sent to
//! `api.strem.io/api/events`. Responses: the link redirect from
//! `www.strem.io/trakt/auth/…`, the Trakt token in `getUser`, errors inside
//! Stremio's 200 answers, and the Trakt catalogue addon's errors.
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::oauth;
use super::{Finding, Rule, Scope, Severity, Subject};
use crate::exchange::{Exchange, Headers, Request};
use crate::report::Fix;
use crate::spec::stremio::{
    ADDON_PREFIX, API_HOST, AUTH_PREFIX, EXPIRY_WARNING_SECONDS, TRAKT_EVENTS, WEB_HOST,
};
use crate::spec::trakt::API_HOSTS;
use crate::text::{between, expiry, host_and_path, human, query_pairs};

pub const AUTHORIZE_API_HOST: Rule = Rule {
    id: "stremio.authorize.api-host",
    severity: Severity::Error,
    scope: Scope::ResponseHead,
    summary: "Stremio's link flow redirects the browser to the authorize page on `api.trakt.tv`.",
    why: "Trakt's authorize page lives on `trakt.tv`; on the API host the sign-in ends in 400 Bad Request (trakt/trakt-api#646), so the Trakt account never links.",
    bad: "302 Location: https://api.trakt.tv/oauth/authorize?client_id=0e86…&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&response_type=code",
    good: "302 Location: https://trakt.tv/oauth/authorize?client_id=0e86…&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&response_type=code",
    autofix: Some("rewrites the redirect's Location to the trakt.tv host, keeping every query parameter"),
};

pub const TOKEN_EXPIRED: Rule = Rule {
    id: "stremio.trakt-token.expired",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "The Trakt token Stremio holds (getUser → trakt) has expired.",
    why: "Stremio shows \"Trakt authentication expired\" and stops scrobbling; the app has no refresh token, so only a new link helps.",
    bad: "\"trakt\":{\"created_at\":1700000000,\"expires_in\":86400} read 3 days later",
    good: "re-authenticate from Settings → Trakt → Authenticate",
    autofix: None,
};

pub const TOKEN_EXPIRING: Rule = Rule {
    id: "stremio.trakt-token.expiring",
    severity: Severity::Warning,
    scope: Scope::Response,
    summary: "Stremio's Trakt token expires within a day.",
    why: "Once it expires, scrobbles are silently lost until the user links Trakt again.",
    bad: "\"trakt\":{…,\"expires_in\":86400} with 3 hours left",
    good: "re-authenticate before a long watch session",
    autofix: None,
};

pub const TOKEN_ABSENT: Rule = Rule {
    id: "stremio.trakt-token.absent",
    severity: Severity::Info,
    scope: Scope::Response,
    summary: "The Stremio account has no Trakt link (getUser → trakt is empty).",
    why: "Nothing will be scrobbled to Trakt and the Trakt catalogs are not installed.",
    bad: "\"trakt\": null",
    good: "link Trakt from Settings → Trakt → Authenticate",
    autofix: None,
};

pub const EVENT_ITEM_ID: Rule = Rule {
    id: "stremio.event.item-id",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A Trakt scrobble event carries an item id Trakt cannot match (not an IMDb `tt…` id).",
    why: "Stremio's servers scrobble by IMDb id; items from addons with other ids (kitsu:, tmdb:, local files) never reach Trakt.",
    bad: "\"libItemID\":\"kitsu:1376\"",
    good: "\"libItemID\":\"tt0903747\"",
    autofix: None,
};

pub const EVENT_VIDEO_ID: Rule = Rule {
    id: "stremio.event.video-id",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A series event has no `tt…:season:episode` video id.",
    why: "Without the season and episode Trakt cannot tell which episode is playing: the scrobble is dropped or lands on the show.",
    bad: "\"libItemType\":\"series\",\"libItemVideoID\":\"tt0903747\"",
    good: "\"libItemType\":\"series\",\"libItemVideoID\":\"tt0903747:1:2\"",
    autofix: None,
};

pub const EVENT_OFFSET: Rule = Rule {
    id: "stremio.event.offset",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary:
        "A Trakt event's time offset is negative, beyond the duration, or the duration is zero.",
    why: "Trakt receives a progress outside 0–100 % (422) or 0 %, so the play is not recorded.",
    bad: "\"libItemTimeOffset\":7300000,\"libItemTimeDuration\":7200000",
    good: "\"libItemTimeOffset\":3600000,\"libItemTimeDuration\":7200000",
    autofix: None,
};

pub const EVENT_HAS_TRAKT: Rule = Rule {
    id: "stremio.event.has-trakt",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A Trakt event says `hasTrakt: false`.",
    why: "Stremio believes Trakt is not linked or its token expired, so nothing will be scrobbled.",
    bad: "{\"eventName\":\"traktPlaying\",\"player\":{…,\"hasTrakt\":false}}",
    good: "re-authenticate Trakt in Settings; the next events say `hasTrakt: true`",
    autofix: None,
};

pub const EVENT_PROGRESS: Rule = Rule {
    id: "stremio.event.progress",
    severity: Severity::Info,
    scope: Scope::Request,
    summary: "The progress Trakt will receive for a scrobble event.",
    why: "Trakt scrobbles a stop above 80 %, saves 1–80 % as a pause, and ignores less than 1 %.",
    bad: "(informational)",
    good: "(informational)",
    autofix: None,
};

pub const API_ERROR: Rule = Rule {
    id: "stremio.api.error",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "Stremio's API answered an error inside a 200 response.",
    why: "api.strem.io reports failures as `{\"error\": …}` with status 200; the app may show nothing while the call failed.",
    bad: "200 {\"error\":{\"message\":\"session does not exist\",\"code\":1}}",
    good: "200 {\"result\":{…}}",
    autofix: None,
};

pub const ADDON_AUTH_ERROR: Rule = Rule {
    id: "stremio.addon.auth-error",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "The Trakt catalogue addon reports an authentication error.",
    why: "www.strem.io cannot use the stored Trakt token (expired or revoked), so the Watchlist and Recommendations catalogs show \"Trakt authenticate error - please reauthenticate\".",
    bad: "GET www.strem.io/trakt/addon/…/catalog/movie/trakt-watchlist.json → error",
    good: "re-authenticate Trakt in Stremio's Settings",
    autofix: None,
};

pub const RULES: &[&Rule] = &[
    &AUTHORIZE_API_HOST,
    &TOKEN_EXPIRED,
    &TOKEN_EXPIRING,
    &TOKEN_ABSENT,
    &EVENT_ITEM_ID,
    &EVENT_VIDEO_ID,
    &EVENT_OFFSET,
    &EVENT_HAS_TRAKT,
    &EVENT_PROGRESS,
    &API_ERROR,
    &ADDON_AUTH_ERROR,
];

/// Lints a request to a Stremio host: the scrobble events.
pub fn check_request(s: &Subject, out: &mut Vec<Finding>) {
    if s.host != API_HOST || s.path != "/api/events" {
        return;
    }
    let Some(events) = s
        .json()
        .and_then(|b| b.get("events"))
        .and_then(Value::as_array)
    else {
        return;
    };
    for (i, event) in events.iter().enumerate() {
        let name = event
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !TRAKT_EVENTS.contains(&name) {
            continue;
        }
        let at = format!("/events/{i}/player");
        let Some(player) = event.get("player").and_then(Value::as_object) else {
            continue;
        };
        let text = |k: &str| player.get(k).and_then(Value::as_str).unwrap_or_default();
        let item = text("libItemID");
        if !super::route::is_imdb_id(item) {
            out.push(EVENT_ITEM_ID.finding(
                format!("{at}/libItemID"),
                format!("{name}: `{item}` is not an IMDb id; Trakt cannot match it"),
            ));
        }
        if text("libItemType") == "series" {
            let video = text("libItemVideoID");
            let parts: Vec<&str> = video.split(':').collect();
            let numbered = parts.len() == 3
                && parts
                    .iter()
                    .skip(1)
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if !numbered {
                out.push(EVENT_VIDEO_ID.finding(
                    format!("{at}/libItemVideoID"),
                    format!("{name}: series video id `{video}` is not `tt…:season:episode`"),
                ));
            }
        }
        if player.get("hasTrakt") == Some(&Value::Bool(false)) {
            out.push(EVENT_HAS_TRAKT.finding(
                format!("{at}/hasTrakt"),
                format!("{name} with hasTrakt: false: Stremio thinks Trakt is not linked or expired, nothing will be scrobbled"),
            ));
        }
        let offset = player.get("libItemTimeOffset").and_then(Value::as_f64);
        let duration = player.get("libItemTimeDuration").and_then(Value::as_f64);
        match (offset, duration) {
            (Some(offset), Some(duration)) if duration > 0.0 && (0.0..=duration).contains(&offset) => {
                out.push(EVENT_PROGRESS.finding(
                    format!("{at}/libItemTimeOffset"),
                    format!("{name}: Trakt receives progress {:.1} %", offset / duration * 100.0),
                ));
            }
            (Some(offset), Some(duration)) => out.push(EVENT_OFFSET.finding(
                format!("{at}/libItemTimeOffset"),
                format!("{name}: offset {offset} ms against duration {duration} ms gives no valid progress"),
            )),
            _ => {}
        }
    }
}

/// Findings on a response head: the link redirect to the authorize page on
/// the API host (with the fix that sends it to trakt.tv instead), and the
/// authorize parameters it carries.
pub fn check_response_head(request: &Request, status: u16, headers: &Headers) -> Vec<Finding> {
    let mut out = Vec::new();
    let (host, path) = host_and_path(&request.url);
    if host != WEB_HOST || !path.starts_with(AUTH_PREFIX) || !(300..400).contains(&status) {
        return out;
    }
    let Some(location) = headers.get("location") else {
        return out;
    };
    let Ok(target) = location.parse::<http::Uri>() else {
        return out;
    };
    let target_host = target.host().unwrap_or_default().to_ascii_lowercase();
    if target.path() != "/oauth/authorize" {
        return out;
    }
    if API_HOSTS.contains(&target_host.as_str()) {
        let fixed = format!(
            "https://trakt.tv/oauth/authorize{}",
            target.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        out.push(
            AUTHORIZE_API_HOST
                .finding("response location", format!("the link redirect goes to {target_host}/oauth/authorize; Trakt answers 400 there"))
                .with_fix(Fix::SetHeader {
                    name: "location".into(),
                    value: fixed,
                }),
        );
    }
    let mut params = Vec::new();
    oauth::authorize_query(
        &target.query().map(query_pairs).unwrap_or_default(),
        &mut params,
    );
    for mut finding in params {
        finding.location = format!("response location {}", finding.location).into();
        out.push(finding);
    }
    out
}

/// The Trakt token in a getUser answer: `(access_token, expires_at)`.
pub fn getuser_token(exchange: &Exchange) -> Option<(String, OffsetDateTime)> {
    let trakt = getuser_trakt(exchange)?;
    let token = trakt.get("access_token")?.as_str()?.to_string();
    let created = trakt.get("created_at")?.as_i64()?;
    let lifetime = trakt.get("expires_in")?.as_i64()?;
    Some((token, expiry(created, lifetime)?))
}

/// `result.trakt` of a getUser answer: `Some(Value::Null)` when absent.
fn getuser_trakt(exchange: &Exchange) -> Option<Value> {
    let (host, path) = host_and_path(&exchange.request.url);
    if host != API_HOST || path != "/api/getUser" {
        return None;
    }
    let json = exchange.response.as_ref().and_then(|r| r.body.json())?;
    let result = json.get("result")?;
    Some(result.get("trakt").cloned().unwrap_or(Value::Null))
}

/// Findings on a finished response body from a Stremio host.
pub fn check_response(exchange: &Exchange) -> Vec<Finding> {
    let mut out = Vec::new();
    let (host, path) = host_and_path(&exchange.request.url);
    let Some(response) = &exchange.response else {
        return out;
    };
    if host == API_HOST {
        if let Some(error) = exchange
            .response
            .as_ref()
            .and_then(|r| r.body.json())
            .and_then(|j| j.get("error").cloned())
            .filter(|e| !e.is_null())
        {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string());
            out.push(API_ERROR.finding("response /error", format!("{path} failed: {message}")));
        }
        match getuser_trakt(exchange) {
            Some(Value::Null) => out.push(TOKEN_ABSENT.finding("response /result/trakt", "this Stremio account has no Trakt link")),
            Some(_) => match getuser_token(exchange) {
                Some((_, expires)) => {
                    let now = exchange.started_at;
                    let left = between(now, expires);
                    if left <= Duration::ZERO {
                        out.push(TOKEN_EXPIRED.finding(
                            "response /result/trakt",
                            format!("Stremio's Trakt token expired at {} ({} ago)", expires, human(left)),
                        ));
                    } else if left < Duration::seconds(EXPIRY_WARNING_SECONDS) {
                        out.push(TOKEN_EXPIRING.finding(
                            "response /result/trakt",
                            format!("Stremio's Trakt token expires in {} (at {})", human(left), expires),
                        ));
                    }
                }
                None => out.push(TOKEN_EXPIRED.finding(
                    "response /result/trakt",
                    "the Trakt token has no usable created_at/expires_in: Stremio treats it as expired",
                )),
            },
            None => {}
        }
    }
    if host == WEB_HOST && path.starts_with(ADDON_PREFIX) {
        let text = response
            .body
            .text()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if response.status >= 400
            || text.contains("reauthenticate")
            || text.contains("authenticate error")
        {
            out.push(ADDON_AUTH_ERROR.finding(
                "response",
                format!(
                    "the Trakt addon answered {} with an authentication error",
                    response.status
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Response};
    use bytes::Bytes;

    fn get_user(trakt: &str) -> Exchange {
        Exchange {
            id: 1,
            started_at: time::macros::datetime!(2026-11-24 12:00 UTC),
            duration_ms: 1.0,
            request: Request {
                method: "POST".into(),
                url: "https://api.strem.io/api/getUser".into(),
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::default(),
            },
            response: Some(Response {
                status: 200,
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::complete(Bytes::from(format!(
                    r#"{{"result":{{"_id":"5e1","trakt":{trakt}}}}}"#
                ))),
            }),
            error: None,
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        }
    }

    fn rules(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.rule.as_str()).collect()
    }

    /// Stremio's answer is input: absurd lifetimes and creation times must
    /// not overflow (the largest integers panicked before).
    #[test]
    fn absurd_token_lifetimes_in_get_user_do_not_overflow() {
        let created = 1_795_000_000i64;
        for (expires_in, created_at) in [
            ("9223372036854775807", created.to_string()),
            ("-9223372036854775808", created.to_string()),
            ("1e300", created.to_string()),
            ("99999999999999999999999", created.to_string()),
            ("-0", created.to_string()),
            ("\"NaN\"", created.to_string()),
            ("86400", "9223372036854775807".to_string()),
            ("86400", "-9223372036854775808".to_string()),
            ("86400", "1e300".to_string()),
        ] {
            let exchange = get_user(&format!(
                r#"{{"access_token":"T","created_at":{created_at},"expires_in":{expires_in}}}"#
            ));
            let _ = getuser_token(&exchange);
            let _ = check_response(&exchange);
        }
        // A lifetime past the end of the calendar never expires; one before its start always has.
        let forever = get_user(&format!(
            r#"{{"access_token":"T","created_at":{created},"expires_in":9223372036854775807}}"#
        ));
        assert_eq!(rules(&check_response(&forever)), [] as [&str; 0]);
        let never = get_user(&format!(
            r#"{{"access_token":"T","created_at":{created},"expires_in":-9223372036854775808}}"#
        ));
        assert_eq!(
            rules(&check_response(&never)),
            ["stremio.trakt-token.expired"]
        );
    }
}
