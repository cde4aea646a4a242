//! Session state across exchanges, fed in order: OAuth codes and refresh
//! tokens already spent, token expiry and revocation learnt from earlier
//! responses, the write rate, and `Retry-After` windows. It turns "this
//! request is fine alone but wrong now" into findings.
//!
//! Pure: times come from the exchanges, never from the clock. Secrets are
//! kept only as fingerprints.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::exchange::{Exchange, Request};
use crate::lint::{Finding, Rule, Severity};
use crate::redact::fingerprint;
use crate::spec::trakt::API_HOSTS;

pub const CODE_REUSED: Rule = Rule {
    id: "session.oauth-code.reused",
    severity: Severity::Error,
    summary: "An OAuth authorization code is exchanged a second time.",
    why: "Codes are single-use: the second exchange gets 400 `invalid_grant`. Usually a double submit, a retry, or two tabs finishing the link.",
    bad: "POST /oauth/token {\"code\":\"abc\",...}  twice",
    good: "exchange each code once; on failure start the authorize flow again",
    autofix: None,
};

pub const REFRESH_REUSED: Rule = Rule {
    id: "session.refresh-token.reused",
    severity: Severity::Error,
    summary: "A refresh token that already succeeded is used again.",
    why: "Trakt's refresh tokens are single-use: every refresh returns a new refresh token and invalidates the old one, so the second use gets 400 `invalid_grant`.",
    bad: "refresh with R1 → 200 (R2 returned); refresh with R1 again",
    good: "store R2 after the first refresh and use it next time",
    autofix: None,
};

pub const TOKEN_EXPIRED: Rule = Rule {
    id: "session.token.expired",
    severity: Severity::Error,
    summary: "The access token expired before this request.",
    why: "Trakt answers 401 once `created_at + expires_in` has passed (7 days now; 24 hours in 2025). Refresh, or link again.",
    bad: "Authorization: Bearer <token issued 8 days ago>",
    good: "refresh when less than an hour is left, then use the new token",
    autofix: None,
};

pub const TOKEN_REVOKED: Rule = Rule {
    id: "session.token.revoked",
    severity: Severity::Error,
    summary: "The access token was revoked earlier in this session.",
    why: "After `/oauth/revoke` the token is dead: Trakt answers 401.",
    bad: "POST /oauth/revoke {token: T}, then GET /sync/... with T",
    good: "sign in again after revoking",
    autofix: None,
};

pub const WRITE_TOO_FAST: Rule = Rule {
    id: "session.write.too-fast",
    severity: Severity::Warning,
    summary:
        "A write (POST, PUT, DELETE) less than a second after the previous one with the same token.",
    why:
        "Trakt allows one write per second per user (AUTHED_API_POST_LIMIT); faster writes get 429.",
    bad: "two POST /sync/history 200 ms apart",
    good: "queue writes and send at most one per second",
    autofix: None,
};

pub const RETRY_TOO_EARLY: Rule = Rule {
    id: "session.retry-after.early",
    severity: Severity::Warning,
    summary: "A request is sent before the `Retry-After` of an earlier 429 has elapsed.",
    why:
        "Trakt keeps answering 429 until the window passes; retrying early only extends the outage.",
    bad: "429 with Retry-After: 10, retried after 2 s",
    good: "wait the Retry-After seconds (or back off exponentially when absent)",
    autofix: None,
};

pub const RULES: &[&Rule] = &[
    &CODE_REUSED,
    &REFRESH_REUSED,
    &TOKEN_EXPIRED,
    &TOKEN_REVOKED,
    &WRITE_TOO_FAST,
    &RETRY_TOO_EARLY,
];

#[derive(Debug, Default)]
pub struct Session {
    codes: HashMap<String, OffsetDateTime>,
    refreshed: HashMap<String, OffsetDateTime>,
    expiry: HashMap<String, OffsetDateTime>,
    revoked: HashSet<String>,
    last_write: HashMap<String, OffsetDateTime>,
    retry_until: HashMap<String, OffsetDateTime>,
}

/// The bearer token of a request, if any.
pub fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers.get("authorization")?.trim();
    let (scheme, token) = value.split_once(char::is_whitespace)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().trim_matches('"'))
}

fn json_body(request_or_response_body: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(request_or_response_body).ok()?;
    serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()
}

fn path_of(url: &str) -> (String, String) {
    match url.parse::<http::Uri>() {
        Ok(uri) => (
            uri.host().unwrap_or_default().to_ascii_lowercase(),
            uri.path().to_string(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

fn clock(at: OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02} UTC", at.hour(), at.minute(), at.second())
}

impl Session {
    pub fn new() -> Self {
        Session::default()
    }

    /// Records that `token` expires at `expires_at` (learnt from Trakt or from Stremio's getUser).
    pub fn learn_expiry(&mut self, token: &str, expires_at: OffsetDateTime) {
        self.expiry.insert(fingerprint(token), expires_at);
    }

    /// Findings about a request given what came before it; records it.
    pub fn observe_request(&mut self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        let mut out = Vec::new();
        let (host, path) = path_of(&request.url);
        if !API_HOSTS.contains(&host.as_str()) {
            return out;
        }
        let client_key = bearer(request)
            .map(fingerprint)
            .or_else(|| request.headers.get("trakt-api-key").map(fingerprint));
        if let Some(key) = &client_key {
            if let Some(until) = self.retry_until.get(key) {
                if at < *until {
                    out.push(RETRY_TOO_EARLY.finding(
                        "/",
                        format!(
                            "sent {:.1} s before the Retry-After of the last 429 elapsed",
                            (*until - at).as_seconds_f64()
                        ),
                    ));
                }
            }
        }
        if path == "/oauth/token" {
            if let Some(body) = json_body(&request.body.bytes) {
                if let Some(code) = body.get("code").and_then(Value::as_str) {
                    let fp = fingerprint(code);
                    match self.codes.get(&fp) {
                        Some(first) => out.push(CODE_REUSED.finding(
                            "/code",
                            format!("this code ({fp}) was already exchanged at {}; codes are single-use", clock(*first)),
                        )),
                        None => {
                            self.codes.insert(fp, at);
                        }
                    }
                }
                if let Some(refresh) = body.get("refresh_token").and_then(Value::as_str) {
                    let fp = fingerprint(refresh);
                    if let Some(first) = self.refreshed.get(&fp) {
                        out.push(REFRESH_REUSED.finding(
                            "/refresh_token",
                            format!("this refresh token ({fp}) was already used successfully at {}; Trakt invalidated it then", clock(*first)),
                        ));
                    }
                }
            }
            return out;
        }
        let Some(token) = bearer(request) else {
            return out;
        };
        let fp = fingerprint(token);
        if self.revoked.contains(&fp) {
            out.push(TOKEN_REVOKED.finding(
                "authorization",
                format!("the token {fp} was revoked earlier in this session"),
            ));
        } else if let Some(expires_at) = self.expiry.get(&fp) {
            if at >= *expires_at {
                out.push(TOKEN_EXPIRED.finding(
                    "authorization",
                    format!(
                        "the token {fp} expired at {} ({} ago)",
                        expires_at,
                        human(at - *expires_at)
                    ),
                ));
            }
        }
        let is_write = matches!(
            request.method.to_ascii_uppercase().as_str(),
            "POST" | "PUT" | "DELETE" | "PATCH"
        );
        if is_write && !path.starts_with("/oauth/") {
            if let Some(previous) = self.last_write.insert(fp.clone(), at) {
                let gap = at - previous;
                if gap < Duration::seconds(1) {
                    out.push(WRITE_TOO_FAST.finding(
                        "/",
                        format!("{} ms after the previous write with this token; Trakt allows one write per second", gap.whole_milliseconds()),
                    ));
                }
            }
        }
        out
    }

    /// Learns from a finished exchange: issued and revoked tokens, spent refresh tokens, 429 windows.
    pub fn observe_exchange(&mut self, exchange: &Exchange) {
        let Some(response) = &exchange.response else {
            return;
        };
        let (host, path) = path_of(&exchange.request.url);
        if !API_HOSTS.contains(&host.as_str()) {
            return;
        }
        let at = exchange.started_at;
        let ok = (200..300).contains(&response.status);
        if response.status == 429 {
            let seconds = response
                .headers
                .get("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0);
            let key = bearer(&exchange.request).map(fingerprint).or_else(|| {
                exchange
                    .request
                    .headers
                    .get("trakt-api-key")
                    .map(fingerprint)
            });
            if let (Some(seconds), Some(key)) = (seconds, key) {
                let end = at
                    + Duration::milliseconds(exchange.duration_ms as i64)
                    + Duration::seconds_f64(seconds);
                self.retry_until.insert(key, end);
            }
        }
        if !ok {
            return;
        }
        match path.as_str() {
            "/oauth/token" | "/oauth/device/token" => {
                if let Some(body) = json_body(&exchange.request.body.bytes) {
                    if let Some(refresh) = body.get("refresh_token").and_then(Value::as_str) {
                        self.refreshed.insert(fingerprint(refresh), at);
                    }
                }
                if let Some(body) = json_body(&response.body.bytes) {
                    let token = body.get("access_token").and_then(Value::as_str);
                    let created = body.get("created_at").and_then(Value::as_i64);
                    let lifetime = body.get("expires_in").and_then(Value::as_i64);
                    if let (Some(token), Some(created), Some(lifetime)) = (token, created, lifetime)
                    {
                        if let Ok(created) = OffsetDateTime::from_unix_timestamp(created) {
                            self.learn_expiry(token, created + Duration::seconds(lifetime));
                        }
                    }
                }
            }
            "/oauth/revoke" => {
                if let Some(token) = json_body(&exchange.request.body.bytes)
                    .and_then(|b| b.get("token").and_then(Value::as_str).map(str::to_string))
                {
                    self.revoked.insert(fingerprint(&token));
                }
            }
            _ => {}
        }
    }
}

/// "3 h 12 min", "2 days 4 h".
pub fn human(d: Duration) -> String {
    let minutes = d.whole_minutes().abs();
    if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{} days {} h", minutes / (24 * 60), (minutes / 60) % 24)
    }
}
