//! Session state across exchanges, fed in order: OAuth codes and refresh
//! tokens already spent, token expiry and revocation learnt from earlier
//! responses, the write rate, and `Retry-After` windows. It turns "this
//! request is fine alone but wrong now" into findings.
//!
//! Pure: times come from the exchanges, never from the clock. Secrets are
//! kept only as fingerprints.
mod stremio;

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::exchange::{Exchange, Request};
use crate::lint::session::{
    CODE_REUSED, REFRESH_REUSED, RETRY_TOO_EARLY, TOKEN_EXPIRED, TOKEN_REVOKED, WRITE_TOO_FAST,
};
use crate::parsed::Parsed;
use crate::redact::Redactor;
use crate::report::Finding;
use crate::spec::stremio::is_link_flow;
use crate::spec::trakt::{is_oauth_path, Operation};
use crate::text::{between, expiry, when};

#[derive(Debug, Default)]
/// What a session of exchanges has shown so far (tokens issued and revoked, single-use secrets spent, write pace, 429 windows, Stremio's accounts), to judge the next request against.
pub struct Session {
    codes: HashMap<String, OffsetDateTime>,
    refreshed: HashMap<String, OffsetDateTime>,
    expiry: HashMap<String, OffsetDateTime>,
    revoked: HashSet<String>,
    last_write: HashMap<String, OffsetDateTime>,
    retry_until: HashMap<String, OffsetDateTime>,
    /// Makes the fingerprints that stand for tokens here and in findings.
    redactor: Redactor,
    /// What Stremio's traffic and the link flow say in sequence.
    stremio: stremio::StremioSession,
}

/// The bearer token of a request, if any.
pub fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers.get("authorization")?.trim();
    let (scheme, token) = value.split_once(char::is_whitespace)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().trim_matches('"'))
}

/// How much earlier than a second after the previous write a write may
/// arrive and still count as paced: clock and transport jitter, not haste.
const WRITE_PACE_TOLERANCE: Duration = Duration::milliseconds(50);

/// Whether a request writes (Trakt allows one write per second per token).
fn is_write(request: &Request) -> bool {
    matches!(
        request.method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "DELETE" | "PATCH"
    )
}

impl Session {
    /// A session whose fingerprints use a key of this run only.
    pub fn new() -> Self {
        Session::default()
    }

    /// A session whose findings show fingerprints made with `redactor`, so
    /// they match the fingerprints in the redacted records.
    pub fn with_redactor(redactor: Redactor) -> Self {
        Session {
            redactor,
            ..Session::default()
        }
    }

    /// Records that `token` expires at `expires_at` (learnt from Trakt or from Stremio's getUser).
    pub(crate) fn learn_expiry(&mut self, token: &str, expires_at: OffsetDateTime) {
        self.expiry
            .insert(self.redactor.fingerprint(token), expires_at);
    }

    /// How a single-use secret (an OAuth code, a refresh token) is known:
    /// its fingerprint, or, when it already is one (a redacted record read
    /// back), that fingerprint, so a recorded use and a resend with the real
    /// value meet under the same key.
    fn single_use_key(&self, secret: &str) -> String {
        if crate::redact::is_fingerprint(secret) {
            secret.to_string()
        } else {
            self.redactor.fingerprint(secret)
        }
    }

    /// The single-use secrets of an OAuth token request that were already
    /// spent (a code exchanged, a refresh token that succeeded): what
    /// [`Session::observe_request`] would flag, without recording anything.
    /// A resend checks this before it sends (at `at`).
    /// `parsed` is the request's target.
    pub fn spent(&self, parsed: &Parsed, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        let mut out = Vec::new();
        if !parsed.is_trakt_api_host() || parsed.operation != Some(Operation::OAuthToken) {
            return out;
        }
        let Some(body) = request.body.json() else {
            return out;
        };
        if let Some(code) = body.get("code").and_then(Value::as_str) {
            let fp = self.single_use_key(code);
            if let Some(first) = self.codes.get(&fp) {
                out.push(CODE_REUSED.finding(
                    "/code",
                    format!(
                        "this code ({fp}) was already exchanged at {}; codes are single-use",
                        when(*first, at)
                    ),
                ));
            }
        }
        if let Some(refresh) = body.get("refresh_token").and_then(Value::as_str) {
            let fp = self.single_use_key(refresh);
            if let Some(first) = self.refreshed.get(&fp) {
                out.push(REFRESH_REUSED.finding(
                    "/refresh_token",
                    format!("this refresh token ({fp}) was already used successfully at {}; Trakt invalidated it then", when(*first, at)),
                ));
            }
        }
        out
    }

    /// How long a write sent at `at` must wait to keep Trakt's one write per
    /// second per token; zero when it may go now (or is no write to Trakt).
    /// `parsed` is the request's target.
    pub fn write_wait(&self, parsed: &Parsed, request: &Request, at: OffsetDateTime) -> Duration {
        if !is_write(request) || is_oauth_path(&parsed.path) || !parsed.is_trakt_api_host() {
            return Duration::ZERO;
        }
        let Some(token) = bearer(request) else {
            return Duration::ZERO;
        };
        match self.last_write.get(&self.redactor.fingerprint(token)) {
            Some(previous) => {
                between(at, previous.saturating_add(Duration::seconds(1))).max(Duration::ZERO)
            }
            None => Duration::ZERO,
        }
    }

    /// Keeps each token state of Stremio's sign-in and getUser answers
    /// (expired, expiring, no link) to the first answer that shows it.
    /// `parsed` is the exchange's request target.
    pub(crate) fn once_per_token(
        &mut self,
        parsed: &Parsed,
        exchange: &Exchange,
        findings: &mut Vec<Finding>,
    ) {
        self.stremio
            .once_per_token(parsed, exchange, findings, &self.redactor);
    }

    /// The Stremio app and shell version its events named last (for diagnoses).
    pub(crate) fn stremio_client(&self) -> Option<String> {
        self.stremio.client().map(str::to_string)
    }

    /// Findings about a request given what came before it; records it.
    pub fn observe_request(&mut self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        self.observe_parsed_request(&Parsed::of(request), request, at)
    }

    /// [`Session::observe_request`] of a request whose target was already read.
    pub(crate) fn observe_parsed_request(
        &mut self,
        parsed: &Parsed,
        request: &Request,
        at: OffsetDateTime,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
        if host == crate::spec::stremio::API_HOST || is_link_flow(host, path) {
            out.extend(
                self.stremio
                    .observe_request(parsed, request, at, &self.redactor),
            );
        }
        if !parsed.is_trakt_api_host() {
            return out;
        }
        // The token's fingerprint keys the client here and the token below: made once.
        let token_fp = bearer(request).map(|s| self.redactor.fingerprint(s));
        let api_key_fp;
        let client_key = match &token_fp {
            Some(fp) => Some(fp.as_str()),
            // Only a 429 makes a client wait: no window, nothing to key.
            None if self.retry_until.is_empty() => None,
            None => {
                api_key_fp = request
                    .headers
                    .get("trakt-api-key")
                    .map(|s| self.redactor.fingerprint(s));
                api_key_fp.as_deref()
            }
        };
        if let Some(key) = client_key {
            if let Some(until) = self.retry_until.get(key) {
                if at < *until {
                    out.push(RETRY_TOO_EARLY.finding(
                        "/",
                        format!(
                            "sent {:.1} s before the Retry-After of the last 429 elapsed",
                            between(at, *until).as_seconds_f64()
                        ),
                    ));
                }
            }
        }
        if parsed.operation == Some(Operation::OAuthToken) {
            out.extend(self.spent(parsed, request, at));
            // A code is spent the moment it is sent; a refresh token only
            // once Trakt accepted it (see `observe_exchange`).
            let body = request.body.json();
            if let Some(code) = body
                .as_ref()
                .and_then(|b| b.get("code"))
                .and_then(Value::as_str)
            {
                let fp = self.single_use_key(code);
                self.codes.entry(fp).or_insert(at);
            }
            return out;
        }
        let Some(fp) = token_fp else {
            return out;
        };
        if self.revoked.contains(&fp) {
            out.push(TOKEN_REVOKED.finding(
                "authorization",
                format!("the token {fp} was revoked earlier in this session"),
            ));
        } else if let Some(expires_at) = self.expiry.get(&fp) {
            if at >= *expires_at {
                out.push(TOKEN_EXPIRED.finding(
                    "authorization",
                    format!("the token {fp} expired at {}", when(*expires_at, at)),
                ));
            }
        }
        if is_write(request) && !is_oauth_path(path) {
            if let Some(previous) = self.last_write.insert(fp.clone(), at) {
                let gap = between(previous, at);
                // Writes paced at exactly one a second arrive a few ms early
                // or late (timers, the network, the proxy's own clock): only a
                // gap short by more than that is really too fast.
                if gap < Duration::seconds(1).saturating_sub(WRITE_PACE_TOLERANCE) {
                    out.push(WRITE_TOO_FAST.finding(
                        "/",
                        format!(
                            "{} ms after the previous write with this token; Trakt allows one write per second (gaps within {} ms of a second are taken as paced)",
                            gap.whole_milliseconds(),
                            WRITE_PACE_TOLERANCE.whole_milliseconds()
                        ),
                    ));
                }
            }
        }
        out
    }

    /// Learns from a finished exchange: issued and revoked tokens, spent refresh tokens, 429 windows.
    ///
    /// Returns what the exchange tells now that its answer is known (Stremio's
    /// unlink or addon removal, said only once the server accepted them).
    pub fn observe_exchange(&mut self, exchange: &Exchange) -> Vec<Finding> {
        self.observe_parsed_exchange(&Parsed::of(&exchange.request), exchange)
    }

    /// [`Session::observe_exchange`] of an exchange whose request target was already read.
    pub(crate) fn observe_parsed_exchange(
        &mut self,
        parsed: &Parsed,
        exchange: &Exchange,
    ) -> Vec<Finding> {
        let told = self
            .stremio
            .observe_exchange(parsed, exchange, &self.redactor);
        self.learn_from_trakt(parsed, exchange);
        told
    }

    /// What a finished exchange with Trakt teaches: issued and revoked
    /// tokens, spent refresh tokens, 429 windows.
    fn learn_from_trakt(&mut self, parsed: &Parsed, exchange: &Exchange) {
        let Some(response) = &exchange.response else {
            return;
        };
        if !parsed.is_trakt_api_host() {
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
            let key = bearer(&exchange.request)
                .map(|s| self.redactor.fingerprint(s))
                .or_else(|| {
                    exchange
                        .request
                        .headers
                        .get("trakt-api-key")
                        .map(|s| self.redactor.fingerprint(s))
                });
            if let (Some(seconds), Some(key)) = (seconds, key) {
                // The window starts when the 429 arrived. Both numbers come from
                // outside (a header, a recorded file): a window too long to
                // represent lasts until the end of time rather than overflowing.
                let took = Duration::saturating_seconds_f64(exchange.duration_ms / 1000.0)
                    .max(Duration::ZERO);
                let end = at
                    .saturating_add(took)
                    .saturating_add(Duration::saturating_seconds_f64(seconds));
                self.retry_until.insert(key, end);
            }
        }
        if !ok {
            return;
        }
        match parsed.operation {
            Some(Operation::OAuthToken | Operation::DeviceToken) => {
                if let Some(body) = exchange.request.body.json() {
                    if let Some(refresh) = body.get("refresh_token").and_then(Value::as_str) {
                        self.refreshed.insert(self.single_use_key(refresh), at);
                    }
                }
                if let Some(body) = response.body.json() {
                    let token = body.get("access_token").and_then(Value::as_str);
                    let created = body.get("created_at").and_then(Value::as_i64);
                    let lifetime = body.get("expires_in").and_then(Value::as_i64);
                    if let (Some(token), Some(created), Some(lifetime)) = (token, created, lifetime)
                    {
                        if let Some(expires_at) = expiry(created, lifetime) {
                            self.learn_expiry(token, expires_at);
                        }
                    }
                }
            }
            Some(Operation::OAuthRevoke) => {
                if let Some(token) = exchange
                    .request
                    .body
                    .json()
                    .and_then(|b| b.get("token").and_then(Value::as_str).map(str::to_string))
                {
                    self.revoked.insert(self.redactor.fingerprint(&token));
                }
            }
            Some(
                Operation::DeviceCode
                | Operation::Checkin
                | Operation::ScrobbleStart
                | Operation::ScrobblePause
                | Operation::ScrobbleStop,
            )
            | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Headers};
    use bytes::Bytes;
    use time::macros::datetime;

    fn request(method: &str, path: &str, token: Option<&str>, body: &str) -> Request {
        let mut headers = vec![("trakt-api-key".to_string(), "k".to_string())];
        if let Some(token) = token {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        Request {
            method: method.into(),
            url: format!("https://api.trakt.tv{path}"),
            http_version: "HTTP/1.1".into(),
            headers: Headers(headers),
            body: Body::complete(Bytes::from(body.to_string())),
        }
    }

    fn finished(
        request: Request,
        at: OffsetDateTime,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Exchange {
        let mut exchange = crate::exchange::testing::answered(request, body);
        exchange.started_at = at;
        exchange.duration_ms = 10.0;
        if let Some(response) = exchange.response.as_mut() {
            response.status = status;
            response.headers = Headers::from_pairs(headers);
        }
        exchange
    }

    fn rules(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.rule.as_str()).collect()
    }

    const T0: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

    #[test]
    fn a_code_exchanged_twice_is_flagged_the_second_time() {
        let mut s = Session::new();
        let body = r#"{"code":"abc","client_id":"c","client_secret":"s","redirect_uri":"r","grant_type":"authorization_code"}"#;
        assert!(s
            .observe_request(&request("POST", "/oauth/token", None, body), T0)
            .is_empty());
        let second = s.observe_request(
            &request("POST", "/oauth/token", None, body),
            T0 + Duration::seconds(2),
        );
        assert_eq!(rules(&second), ["session.oauth-code.reused"]);
    }

    #[test]
    fn a_refresh_token_is_spent_only_by_a_successful_refresh() {
        let mut s = Session::new();
        let body = r#"{"refresh_token":"R1","client_id":"c","client_secret":"s","redirect_uri":"r","grant_type":"refresh_token"}"#;
        let req = request("POST", "/oauth/token", None, body);
        assert!(s.observe_request(&req, T0).is_empty());
        // A failed attempt does not spend it.
        s.observe_exchange(&finished(req.clone(), T0, 502, &[], ""));
        assert!(s
            .observe_request(&req, T0 + Duration::seconds(5))
            .is_empty());
        s.observe_exchange(&finished(req.clone(), T0, 200, &[], r#"{"access_token":"A2","refresh_token":"R2","expires_in":604800,"created_at":1700000000}"#));
        assert_eq!(
            rules(&s.observe_request(&req, T0 + Duration::seconds(9))),
            ["session.refresh-token.reused"]
        );
    }

    impl Session {
        fn spent_now(&self, request: &Request) -> Vec<Finding> {
            self.spent(&Parsed::of(request), request, T0 + Duration::seconds(30))
        }
    }

    #[test]
    fn spent_secrets_are_found_without_recording_and_match_a_redacted_record() {
        let redactor = Redactor::new(b"install key");
        let mut s = Session::with_redactor(redactor.clone());
        let body = |refresh: &str| {
            format!(
                r#"{{"refresh_token":"{refresh}","client_id":"c","grant_type":"refresh_token"}}"#
            )
        };
        let real = request("POST", "/oauth/token", None, &body("R1"));
        assert!(s.spent_now(&real).is_empty());
        // The session learns from the redacted record, as `replay` reads it back from a log.
        let recorded = request(
            "POST",
            "/oauth/token",
            None,
            &body(&redactor.fingerprint("R1")),
        );
        s.observe_exchange(&finished(recorded, T0, 200, &[], "{}"));
        assert_eq!(rules(&s.spent_now(&real)), ["session.refresh-token.reused"]);
        assert!(s
            .spent_now(&request("POST", "/oauth/token", None, &body("R2")))
            .is_empty());
        // Checking records nothing: a code checked is not a code spent.
        let code = request("POST", "/oauth/token", None, r#"{"code":"C1"}"#);
        assert!(s.spent_now(&code).is_empty() && s.spent_now(&code).is_empty());
        s.observe_request(&code, T0);
        assert_eq!(rules(&s.spent_now(&code)), ["session.oauth-code.reused"]);
    }

    #[test]
    fn a_write_waits_until_a_second_after_the_last_one() {
        let mut s = Session::new();
        let write = request("POST", "/sync/history", Some("A"), "{}");
        assert_eq!(
            s.write_wait(&Parsed::of(&write), &write, T0),
            Duration::ZERO
        );
        s.observe_request(&write, T0);
        assert_eq!(
            s.write_wait(
                &Parsed::of(&write),
                &write,
                T0 + Duration::milliseconds(300)
            ),
            Duration::milliseconds(700)
        );
        assert_eq!(
            s.write_wait(&Parsed::of(&write), &write, T0 + Duration::seconds(2)),
            Duration::ZERO
        );
        let read = request("GET", "/sync/history", Some("A"), "");
        assert_eq!(s.write_wait(&Parsed::of(&read), &read, T0), Duration::ZERO);
    }

    #[test]
    fn expiry_learnt_from_the_token_response_is_enforced() {
        let mut s = Session::new();
        let created = T0.unix_timestamp();
        let issue = request(
            "POST",
            "/oauth/token",
            None,
            r#"{"code":"x","grant_type":"authorization_code"}"#,
        );
        s.observe_exchange(&finished(
            issue,
            T0,
            200,
            &[],
            &format!(r#"{{"access_token":"A1","expires_in":86400,"created_at":{created}}}"#),
        ));
        let use_it = request("GET", "/sync/last_activities", Some("A1"), "");
        assert!(s
            .observe_request(&use_it, T0 + Duration::hours(23))
            .is_empty());
        let late = s.observe_request(&use_it, T0 + Duration::hours(25));
        assert_eq!(rules(&late), ["session.token.expired"]);
        assert!(
            late[0].message.contains("1 h 0 min ago"),
            "{}",
            late[0].message
        );
    }

    #[test]
    fn a_revoked_token_is_flagged() {
        let mut s = Session::new();
        let revoke = request(
            "POST",
            "/oauth/revoke",
            None,
            r#"{"token":"A1","client_id":"c","client_secret":"s"}"#,
        );
        s.observe_exchange(&finished(revoke, T0, 200, &[], ""));
        let after = s.observe_request(
            &request("GET", "/sync/history", Some("A1"), ""),
            T0 + Duration::seconds(1),
        );
        assert_eq!(rules(&after), ["session.token.revoked"]);
    }

    #[test]
    fn writes_faster_than_one_per_second_are_flagged() {
        let mut s = Session::new();
        let write = request("POST", "/sync/history", Some("A1"), "{}");
        assert!(s.observe_request(&write, T0).is_empty());
        assert_eq!(
            rules(&s.observe_request(&write, T0 + Duration::milliseconds(300))),
            ["session.write.too-fast"]
        );
        assert!(s
            .observe_request(&write, T0 + Duration::milliseconds(1400))
            .is_empty());
        // Paced at a second, arriving a little early: jitter, not haste.
        assert!(s
            .observe_request(&write, T0 + Duration::milliseconds(2399))
            .is_empty());
        assert!(s
            .observe_request(&write, T0 + Duration::milliseconds(3359))
            .is_empty());
        assert_eq!(
            rules(&s.observe_request(&write, T0 + Duration::milliseconds(4300))),
            ["session.write.too-fast"]
        );
        // Another user's token has its own budget.
        assert!(s
            .observe_request(
                &request("POST", "/sync/history", Some("B"), "{}"),
                T0 + Duration::milliseconds(1500)
            )
            .is_empty());
    }

    #[test]
    fn retrying_before_retry_after_is_flagged() {
        let mut s = Session::new();
        let get = request("GET", "/sync/history", Some("A1"), "");
        s.observe_exchange(&finished(
            get.clone(),
            T0,
            429,
            &[("retry-after", "10")],
            "",
        ));
        assert_eq!(
            rules(&s.observe_request(&get, T0 + Duration::seconds(3))),
            ["session.retry-after.early"]
        );
        assert!(s
            .observe_request(&get, T0 + Duration::seconds(11))
            .is_empty());
    }

    /// Absurd numbers from an upstream or a recorded file must not overflow
    /// the time arithmetic (each of these panicked before).
    #[test]
    fn absurd_retry_after_values_do_not_overflow() {
        let get = request("GET", "/sync/history", Some("A1"), "");
        for value in [
            "1e300",
            "1e18",
            "9223372036854775807",
            "99999999999999999999999",
            "-1",
            "-0",
            "NaN",
            "inf",
            "-1e300",
            "",
        ] {
            let mut s = Session::new();
            s.observe_exchange(&finished(
                get.clone(),
                T0,
                429,
                &[("retry-after", value)],
                "",
            ));
            let later = s.observe_request(&get, T0 + Duration::seconds(3));
            // A window too long to represent lasts until the end of time; a bad one is ignored.
            let huge = [
                "1e300",
                "1e18",
                "9223372036854775807",
                "99999999999999999999999",
            ];
            if huge.contains(&value) {
                assert_eq!(rules(&later), ["session.retry-after.early"], "{value}");
            } else {
                assert!(later.is_empty(), "{value}: {later:?}");
            }
        }
    }

    #[test]
    fn an_absurd_recorded_duration_does_not_overflow() {
        let get = request("GET", "/sync/history", Some("A1"), "");
        for duration_ms in [1e300, f64::MAX, f64::INFINITY, f64::NAN, -1e300] {
            let mut s = Session::new();
            let mut exchange = finished(get.clone(), T0, 429, &[("retry-after", "10")], "");
            exchange.duration_ms = duration_ms;
            s.observe_exchange(&exchange);
            s.observe_request(&get, T0 + Duration::seconds(3));
        }
    }

    #[test]
    fn absurd_token_lifetimes_do_not_overflow() {
        let issue = request(
            "POST",
            "/oauth/token",
            None,
            r#"{"code":"x","grant_type":"authorization_code"}"#,
        );
        let created = T0.unix_timestamp();
        let use_it = request("GET", "/sync/last_activities", Some("A1"), "");
        for (expires_in, created_at) in [
            ("1e300".to_string(), created.to_string()),
            ("9223372036854775807".to_string(), created.to_string()),
            ("-9223372036854775808".to_string(), created.to_string()),
            ("99999999999999999999999".to_string(), created.to_string()),
            ("86400".to_string(), "9223372036854775807".to_string()),
            ("86400".to_string(), "-9223372036854775808".to_string()),
            ("86400".to_string(), "1e300".to_string()),
            ("-0".to_string(), created.to_string()),
            ("\"NaN\"".to_string(), created.to_string()),
        ] {
            let mut s = Session::new();
            s.observe_exchange(&finished(
                issue.clone(),
                T0,
                200,
                &[],
                &format!(
                    r#"{{"access_token":"A1","expires_in":{expires_in},"created_at":{created_at}}}"#
                ),
            ));
            let _ = s.observe_request(&use_it, T0 + Duration::hours(1));
        }
        // A negative lifetime means the token was dead on arrival.
        let mut s = Session::new();
        s.observe_exchange(&finished(
            issue,
            T0,
            200,
            &[],
            &format!(r#"{{"access_token":"A1","expires_in":-60,"created_at":{created}}}"#),
        ));
        assert_eq!(
            rules(&s.observe_request(&use_it, T0 + Duration::seconds(1))),
            ["session.token.expired"]
        );
    }

    #[test]
    fn other_hosts_are_ignored() {
        let mut s = Session::new();
        let mut req = request("POST", "/sync/history", Some("A1"), "{}");
        req.url = "https://example.org/sync/history".into();
        s.observe_request(&req, T0);
        assert!(s.observe_request(&req, T0).is_empty());
    }
}
