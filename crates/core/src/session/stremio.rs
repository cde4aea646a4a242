//! Session state of the Stremio lens: what Stremio's traffic says only in
//! sequence. Whether the account had a Trakt link and the Trakt addon
//! (so an unlink or a removal is said only when it really happens), the
//! last Trakt event of each library item (against which a saved library
//! state is compared), the link flow's `state` and spent callback codes,
//! which token states were already told, and the app version.
//!
//! Pure like the rest of the session: times come from the exchanges.
//! Authkeys, tokens, codes and states are kept only as fingerprints.
use std::collections::{HashMap, HashSet};

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::exchange::{Exchange, Request};
use crate::lint::session::CODE_REUSED;
use crate::lint::stremio::{
    self as lens, ADDON_REMOVED, CLIENT_VERSION, LIBRARY_PROGRESS, STATE_MISMATCH, UNLINKED,
};
use crate::parsed::Parsed;
use crate::redact::Redactor;
use crate::report::Finding;
use crate::spec::stremio::{trakt_event_name, ADDON_PREFIX, API_HOST, CALLBACK_PATH, WEB_HOST};
use crate::text::{between, query_pairs, split_url, when};

/// Past this many entries a map of the session starts afresh: a long proxy
/// run must not grow without bound (forgetting only costs a repeated info).
const MAX_ENTRIES: usize = 4096;

/// Past this progress the core treats the credits as reached and rewinds
/// the library's offset (stremio-core's `CREDITS_THRESHOLD_COEF`, 0.9).
const CREDITS_PERCENT: f64 = 90.0;

/// How many authorize `state`s are remembered (several tabs may be open).
const MAX_STATES: usize = 16;

/// What is known of one Stremio account (by authKey fingerprint).
#[derive(Debug, Default, Clone, Copy)]
struct Account {
    /// The account's user had a Trakt link (`trakt` not null) when last seen.
    linked: Option<bool>,
    /// The addon collection held the Trakt addon when last seen.
    addon: Option<bool>,
    /// Trakt was unlinked in this session and the addon has not left since.
    unlinked: bool,
}

/// The last Trakt event of a library item: what Trakt was told.
#[derive(Debug, Clone)]
struct LastEvent {
    name: String,
    /// `libItemVideoID`: the episode, for a series.
    video: Option<String>,
    offset_ms: f64,
    duration_ms: f64,
    at: OffsetDateTime,
}

#[derive(Debug, Default)]
pub(crate) struct StremioSession {
    accounts: HashMap<String, Account>,
    events: HashMap<String, LastEvent>,
    /// Fingerprints of the states sent to the authorize page, oldest first.
    states: Vec<String>,
    callback_codes: HashMap<String, OffsetDateTime>,
    /// What was already said once (`rule|key`).
    told: HashSet<String>,
    /// The app as its last events described it.
    client: Option<String>,
}

fn insert_bounded<V>(map: &mut HashMap<String, V>, key: String, value: V) {
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, value);
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64).filter(|n| n.is_finite())
}

/// Whether an addon descriptor is the Trakt catalogue addon.
fn is_trakt_addon(addon: &Value) -> bool {
    addon
        .get("transportUrl")
        .and_then(Value::as_str)
        .is_some_and(|url| {
            let (host, path) = split_url(url);
            host.eq_ignore_ascii_case(WEB_HOST) && path.starts_with(ADDON_PREFIX)
        })
}

/// "stremio-web 5.0.0, shell 5.0.12" from an event's `app` object.
fn describe_app(app: &serde_json::Map<String, Value>, agent: Option<&str>) -> Option<String> {
    let text = |k: &str| app.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let version = text("appVersion")?;
    let mut out = format!("{} {version}", text("appType").unwrap_or("Stremio"));
    match text("shellVersion") {
        Some(shell) => out.push_str(&format!(", shell {shell}")),
        None => out.push_str(", no shell (a browser)"),
    }
    if let Some(server) = text("serverVersion") {
        out.push_str(&format!(", streaming server {server}"));
    }
    if let Some(agent) = agent.map(str::trim).filter(|a| !a.is_empty()) {
        let short: String = agent.chars().take(160).collect();
        out.push_str(&format!("; User-Agent {short}"));
    }
    Some(out)
}

impl StremioSession {
    /// The app and shell version the last events named, for diagnoses.
    pub(crate) fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }

    fn tell_once(&mut self, key: String) -> bool {
        if self.told.len() >= MAX_ENTRIES {
            self.told.clear();
        }
        self.told.insert(key)
    }

    fn account(&mut self, key: &str) -> &mut Account {
        if self.accounts.len() >= MAX_ENTRIES && !self.accounts.contains_key(key) {
            self.accounts.clear();
        }
        self.accounts.entry(key.to_string()).or_default()
    }

    /// Findings about a request to Stremio's API or in the link flow, given what came before.
    pub(crate) fn observe_request(
        &mut self,
        parsed: &Parsed,
        request: &Request,
        at: OffsetDateTime,
        redactor: &Redactor,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
        if path == "/oauth/authorize" {
            if let Some((_, state)) = parsed.query.iter().find(|(k, _)| k == "state") {
                self.remember_state(redactor.fingerprint(state));
            }
            return out;
        }
        if host == WEB_HOST && path == CALLBACK_PATH {
            self.callback(&parsed.query, at, redactor, &mut out);
            return out;
        }
        if host != API_HOST {
            return out;
        }
        let Some(body) = request.body.json() else {
            return out;
        };
        match path {
            "/api/events" => self.events(request, &body, at, &mut out),
            "/api/datastorePut" => self.library(&body, at, &mut out),
            _ => {}
        }
        out
    }

    /// What an accepted `saveUser` or `addonCollectionSet` changes: the
    /// Trakt link and the Trakt addon. Only an accepted call counts: a
    /// refused one (the session gone, say) changed nothing at Stremio.
    fn account_change(
        &mut self,
        path: &str,
        body: &Value,
        key: Option<String>,
        out: &mut Vec<Finding>,
    ) {
        match path {
            "/api/saveUser" => {
                if let (Some(key), Some(trakt)) = (key, body.get("trakt")) {
                    let account = self.account(&key);
                    if trakt.is_null() {
                        if account.linked == Some(true) {
                            account.unlinked = true;
                            out.push(UNLINKED.finding(
                                "/trakt",
                                "Trakt is unlinked from this Stremio account: scrobbling to Trakt stops here (if this was a mistake, link again: Settings → Trakt → Authenticate)",
                            ));
                        }
                        account.linked = Some(false);
                    } else {
                        account.linked = Some(true);
                    }
                }
            }
            "/api/addonCollectionSet" => {
                if let (Some(key), Some(addons)) =
                    (key, body.get("addons").and_then(Value::as_array))
                {
                    let has = addons.iter().any(is_trakt_addon);
                    let account = self.account(&key);
                    if !has && (account.addon == Some(true) || account.unlinked) {
                        out.push(ADDON_REMOVED.finding(
                            "/addons",
                            "the Trakt addon leaves the addon collection: the Trakt catalogs disappear and, with Trakt unlinked, nothing reaches Trakt any more (if this was a mistake, install it again from Settings → Trakt)",
                        ));
                        account.unlinked = false;
                    }
                    account.addon = Some(has);
                }
            }
            _ => {}
        }
    }

    fn remember_state(&mut self, fingerprint: String) {
        self.states.retain(|s| *s != fingerprint);
        if self.states.len() >= MAX_STATES {
            self.states.remove(0);
        }
        self.states.push(fingerprint);
    }

    fn callback(
        &mut self,
        query: &[(String, String)],
        at: OffsetDateTime,
        redactor: &Redactor,
        out: &mut Vec<Finding>,
    ) {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if !self.states.is_empty() {
            match param("state") {
                Some(state) if self.states.contains(&redactor.fingerprint(state)) => {}
                Some(_) => out.push(STATE_MISMATCH.finding(
                    "query state",
                    "the callback's state is not the one sent to Trakt's authorize page in this session: an old tab or a second link finished this flow; start the link again in one tab",
                )),
                None => out.push(STATE_MISMATCH.finding(
                    "query state",
                    "the callback has no state, but the authorize page was sent one: start the link again in one tab",
                )),
            }
        }
        if let Some(code) = param("code").filter(|c| !c.is_empty()) {
            let fp = redactor.fingerprint(code);
            match self.callback_codes.get(&fp) {
                Some(first) => out.push(CODE_REUSED.finding(
                    "query code",
                    format!("this code ({fp}) already reached Stremio's callback at {}; codes are single-use, so this second callback fails (a reload or the back button)", when(*first, at)),
                )),
                None => insert_bounded(&mut self.callback_codes, fp, at),
            }
        }
    }

    fn events(
        &mut self,
        request: &Request,
        body: &Value,
        at: OffsetDateTime,
        out: &mut Vec<Finding>,
    ) {
        let Some(events) = body.get("events").and_then(Value::as_array) else {
            return;
        };
        for (i, event) in events.iter().enumerate() {
            if let Some(app) = event.get("app").and_then(Value::as_object) {
                if let Some(text) = describe_app(app, request.headers.get("user-agent")) {
                    if self.client.as_deref() != Some(text.as_str()) {
                        out.push(
                            CLIENT_VERSION.finding(
                                format!("/events/{i}/app"),
                                format!("Stremio app: {text}"),
                            ),
                        );
                        self.client = Some(text);
                    }
                }
            }
            let Some(name) = trakt_event_name(event) else {
                continue;
            };
            let Some(player) = event.get("player") else {
                continue;
            };
            let item = player.get("libItemID").and_then(Value::as_str);
            let offset = number(player.get("libItemTimeOffset"));
            let duration = number(player.get("libItemTimeDuration"));
            if let (Some(item), Some(offset_ms), Some(duration_ms)) = (item, offset, duration) {
                // The event's own time (ms): events leave in batches every 30 s.
                let when_sent = event
                    .get("eventTime")
                    .and_then(Value::as_i64)
                    .and_then(|ms| {
                        OffsetDateTime::from_unix_timestamp_nanos(
                            i128::from(ms).saturating_mul(1_000_000),
                        )
                        .ok()
                    })
                    .unwrap_or(at);
                insert_bounded(
                    &mut self.events,
                    item.to_string(),
                    LastEvent {
                        name: name.to_string(),
                        video: player
                            .get("libItemVideoID")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        offset_ms,
                        duration_ms,
                        at: when_sent,
                    },
                );
            }
        }
    }

    /// A saved library state against what the Trakt events told Trakt.
    fn library(&mut self, body: &Value, at: OffsetDateTime, out: &mut Vec<Finding>) {
        let Some(changes) = body.get("changes").and_then(Value::as_array) else {
            return;
        };
        for (i, change) in changes.iter().enumerate() {
            let Some(item) = change.get("_id").and_then(Value::as_str) else {
                continue;
            };
            let Some(last) = self.events.get(item).cloned() else {
                continue;
            };
            let offset = number(change.pointer("/state/timeOffset"));
            let duration = number(change.pointer("/state/duration"));
            let (Some(offset), Some(duration)) = (offset, duration) else {
                continue;
            };
            if duration <= 0.0 || last.duration_ms <= 0.0 {
                continue;
            }
            let saved_at = change
                .get("_mtime")
                .and_then(Value::as_str)
                .and_then(|t| {
                    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
                })
                .unwrap_or(at);
            let told = last.offset_ms / last.duration_ms * 100.0;
            let playing = last.name == "traktPlaying";
            // After traktPlaying Trakt lets the progress run on by itself.
            let expected = if playing {
                let ran = between(last.at, saved_at)
                    .max(Duration::ZERO)
                    .as_seconds_f64()
                    * 1000.0;
                ((last.offset_ms + ran) / last.duration_ms * 100.0).min(100.0)
            } else {
                told
            };
            let saved = offset / duration * 100.0;
            // The state of another episode (the next one) is not comparable.
            let video = change.pointer("/state/video_id").and_then(Value::as_str);
            if video.is_some() && last.video.is_some() && video != last.video.as_deref() {
                continue;
            }
            // Past the credits (90 %) the core rewinds the saved offset to 0
            // (1 for the next episode) on purpose.
            if offset <= 1.0 && expected > CREDITS_PERCENT {
                continue;
            }
            let tolerance = if playing { 5.0 } else { 2.0 };
            if (saved - expected).abs() <= tolerance {
                continue;
            }
            if !self.tell_once(format!(
                "{}|{item}|{}",
                LIBRARY_PROGRESS.id,
                last.at.unix_timestamp()
            )) {
                continue;
            }
            let running = if playing {
                format!(", running on to about {expected:.1} % by then")
            } else {
                String::new()
            };
            out.push(LIBRARY_PROGRESS.finding(
                format!("/changes/{i}/state/timeOffset"),
                format!(
                    "{item}: the library saves {saved:.1} % ({offset:.0} of {duration:.0} ms), but Trakt was last told {told:.1} % by {} at {}{running}: the player did not report since, so Trakt holds {expected:.1} %",
                    last.name,
                    when(last.at, at)
                ),
            ));
        }
    }

    /// Learns from a finished exchange: whether the account has a Trakt
    /// link, whether its collection holds the Trakt addon, and the state
    /// Stremio's link redirect sends to the authorize page.
    /// Learns from a finished exchange; returns what it tells about the
    /// account (an unlink, the Trakt addon removed), known only once
    /// Stremio's server accepted the change.
    pub(crate) fn observe_exchange(
        &mut self,
        parsed: &Parsed,
        exchange: &Exchange,
        redactor: &Redactor,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let Some(response) = &exchange.response else {
            return out;
        };
        let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
        if host == API_HOST
            && matches!(path, "/api/saveUser" | "/api/addonCollectionSet")
            && lens::accepted(exchange)
        {
            if let Some(body) = exchange.request.body.json() {
                let key = body
                    .get("authKey")
                    .and_then(Value::as_str)
                    .map(|k| redactor.fingerprint(k));
                self.account_change(path, &body, key, &mut out);
            }
        }
        if host == WEB_HOST && (300..400).contains(&response.status) {
            if let Some(location) = response.headers.get("location") {
                let (_, target) = split_url(location);
                if target.starts_with("/oauth/authorize") {
                    let query = target.split_once('?').map_or("", |(_, q)| q);
                    if let Some((_, state)) =
                        query_pairs(query).into_iter().find(|(k, _)| k == "state")
                    {
                        self.remember_state(redactor.fingerprint(&state));
                    }
                }
            }
            return out;
        }
        if host != API_HOST {
            return out;
        }
        let Some(key) = lens::auth_key(exchange).map(|k| redactor.fingerprint(&k)) else {
            return out;
        };
        if let Some(trakt) = lens::user_trakt(parsed, exchange) {
            let account = self.account(&key);
            account.linked = Some(!trakt.is_null());
            if !trakt.is_null() {
                // A link again: its later absence is news again.
                self.told
                    .remove(&format!("{}|{key}", lens::TOKEN_ABSENT.id));
            }
        }
        if path == "/api/addonCollectionGet" {
            if let Some(addons) = response
                .body
                .json()
                .and_then(|j| j.pointer("/result/addons").cloned())
                .and_then(|a| a.as_array().cloned())
            {
                let has = addons.iter().any(is_trakt_addon);
                self.account(&key).addon = Some(has);
            }
        }
        out
    }

    /// Keeps the token findings of a getUser or login answer to the first
    /// answer that shows each token state: the core asks login, then
    /// getUser, and both carry the same token.
    pub(crate) fn once_per_token(
        &mut self,
        parsed: &Parsed,
        exchange: &Exchange,
        findings: &mut Vec<Finding>,
        redactor: &Redactor,
    ) {
        let about_token = |f: &Finding| {
            f.is(&lens::TOKEN_ABSENT) || f.is(&lens::TOKEN_EXPIRED) || f.is(&lens::TOKEN_EXPIRING)
        };
        // Nothing to keep to once (every Trakt exchange): parse no body for it.
        if !findings.iter().any(about_token) {
            return;
        }
        let token = lens::getuser_token(parsed, exchange).map(|(t, _)| redactor.fingerprint(&t));
        let account = lens::auth_key(exchange).map(|k| redactor.fingerprint(&k));
        let mut keep = Vec::with_capacity(findings.len());
        for finding in findings.drain(..) {
            let subject = if finding.is(&lens::TOKEN_ABSENT) {
                account.clone()
            } else if finding.is(&lens::TOKEN_EXPIRED) || finding.is(&lens::TOKEN_EXPIRING) {
                token.clone().or_else(|| account.clone())
            } else {
                None
            };
            let fresh = match subject {
                Some(subject) => self.tell_once(format!("{}|{subject}", finding.rule)),
                None => true,
            };
            if fresh {
                keep.push(finding);
            }
        }
        *findings = keep;
    }
}

#[cfg(test)]
mod tests {
    use crate::exchange::testing::answered;
    use crate::exchange::{Body, Headers, Request};
    use crate::report::Finding;
    use crate::session::Session;
    use bytes::Bytes;
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    /// When the exchanges made by [`answered`] start.
    const T0: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

    fn call(method: &str, body: &str) -> Request {
        Request {
            method: "POST".into(),
            url: format!("https://api.strem.io/api/{method}"),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[("content-type", "text/plain;charset=UTF-8")]),
            body: Body::complete(Bytes::from(body.to_string())),
        }
    }

    fn get(url: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Body::default(),
        }
    }

    fn rules(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.rule.as_str()).collect()
    }

    const LINKED: &str = r#"{"result":{"_id":"u1","trakt":{"access_token":"T","created_at":1795000000,"expires_in":604800}}}"#;
    const ADDON: &str = r#"{"transportUrl":"https://www.strem.io/trakt/addon/u1/manifest.json","manifest":{"id":"org.stremio.trakt"}}"#;
    const CINEMETA: &str = r#"{"transportUrl":"https://v3-cinemeta.strem.io/manifest.json","manifest":{"id":"com.linvo.cinemeta"}}"#;

    #[test]
    fn unlinking_and_removing_the_addon_are_said_only_when_they_really_happen() {
        let mut s = Session::new();
        let save = call(
            "saveUser",
            r#"{"type":"SaveUser","authKey":"K","_id":"u1","trakt":null}"#,
        );
        // What Stremio's API answers a change it took, and one it refused.
        let took = |r: &Request| answered(r.clone(), r#"{"result":{"success":true}}"#);
        let refused = |r: &Request| {
            answered(
                r.clone(),
                r#"{"error":{"message":"session does not exist","code":1}}"#,
            )
        };
        // An account never seen linked: every saveUser carries trakt: null.
        assert!(s.observe_exchange(&took(&save)).is_empty());
        let without = call(
            "addonCollectionSet",
            &format!(r#"{{"type":"AddonCollectionSet","authKey":"K","addons":[{CINEMETA}]}}"#),
        );
        assert!(s.observe_exchange(&took(&without)).is_empty());

        // Linked (getUser showed a token), with the addon installed.
        s.observe_exchange(&answered(
            call("getUser", r#"{"type":"GetUser","authKey":"K"}"#),
            LINKED,
        ));
        let with = call(
            "addonCollectionSet",
            &format!(
                r#"{{"type":"AddonCollectionSet","authKey":"K","addons":[{CINEMETA},{ADDON}]}}"#
            ),
        );
        assert!(s.observe_exchange(&took(&with)).is_empty());
        // Nothing is inferred from a change the server refused, nor sent alone.
        assert!(s.observe_request(&save, T0).is_empty());
        assert!(s.observe_exchange(&refused(&save)).is_empty());
        assert!(s.observe_exchange(&refused(&without)).is_empty());
        assert_eq!(
            rules(&s.observe_exchange(&took(&save))),
            ["stremio.trakt.unlinked"]
        );
        // Said once: a second save of the unlinked user is ordinary.
        assert!(s.observe_exchange(&took(&save)).is_empty());
        assert_eq!(
            rules(&s.observe_exchange(&took(&without))),
            ["stremio.trakt-addon.removed"]
        );
        assert!(s.observe_exchange(&took(&without)).is_empty());
        // Another account's collection was never seen with the addon.
        let other = call(
            "addonCollectionSet",
            &format!(r#"{{"type":"AddonCollectionSet","authKey":"L","addons":[{CINEMETA}]}}"#),
        );
        assert!(s.observe_exchange(&took(&other)).is_empty());
    }

    #[test]
    fn the_addon_removed_after_an_unlink_is_said_even_if_the_collection_was_unknown() {
        let mut s = Session::new();
        s.observe_exchange(&answered(
            call(
                "login",
                r#"{"type":"Auth","type":"Login","email":"a@b.c","password":"p"}"#,
            ),
            &LINKED
                .replace(r#""_id":"u1","#, r#""authKey":"K","user":{"_id":"u1","#)
                .replace("}}}", "}}}}"),
        ));
        let save = call(
            "saveUser",
            r#"{"type":"SaveUser","authKey":"K","_id":"u1","trakt":null}"#,
        );
        let took = |r: &Request| answered(r.clone(), r#"{"result":{"success":true}}"#);
        assert_eq!(
            rules(&s.observe_exchange(&took(&save))),
            ["stremio.trakt.unlinked"]
        );
        let without = call(
            "addonCollectionSet",
            &format!(r#"{{"type":"AddonCollectionSet","authKey":"K","addons":[{CINEMETA}]}}"#),
        );
        assert_eq!(
            rules(&s.observe_exchange(&took(&without))),
            ["stremio.trakt-addon.removed"]
        );
    }

    fn events(name: &str, offset: i64, at: OffsetDateTime) -> Request {
        call(
            "events",
            &format!(
                r#"{{"type":"Events","authKey":"K","events":[{{"eventName":"{name}","eventTime":{},"player":{{"libItemID":"tt2015381","libItemType":"movie","libItemVideoID":"tt2015381","libItemTimeOffset":{offset},"libItemTimeDuration":7200000,"hasTrakt":true}},"app":{{"appType":"stremio-web","appVersion":"5.0.0-beta.20","shellVersion":null,"installationID":"i-secret"}}}}]}}"#,
                at.unix_timestamp() * 1000
            ),
        )
    }

    fn put(offset: i64, at: OffsetDateTime) -> Request {
        call(
            "datastorePut",
            &format!(
                r#"{{"authKey":"K","collection":"libraryItem","changes":[{{"_id":"tt2015381","type":"movie","_mtime":"{}","state":{{"timeOffset":{offset},"duration":7200000}}}}]}}"#,
                crate::text::iso(at)
            ),
        )
    }

    #[test]
    fn library_progress_is_compared_with_what_the_events_told_trakt() {
        let mut s = Session::new();
        // No event for the item yet: nothing to compare.
        assert!(s.observe_request(&put(3_600_000, T0), T0).is_empty());
        let first = s.observe_request(&events("traktPaused", 720_000, T0), T0);
        assert_eq!(rules(&first), ["stremio.client.version"]);
        assert!(
            first[0].message.contains("stremio-web 5.0.0-beta.20")
                && !first[0].message.contains("i-secret"),
            "{}",
            first[0].message
        );
        // Paused at 10 %, saved at 10 %: they agree.
        assert!(s
            .observe_request(
                &put(720_000, T0 + Duration::minutes(1)),
                T0 + Duration::minutes(1)
            )
            .is_empty());
        // Saved at 85 % with no event since: Trakt still holds 10 %.
        let later = T0 + Duration::minutes(5);
        let found = s.observe_request(&put(6_120_000, later), later);
        assert_eq!(rules(&found), ["stremio.library.progress"]);
        assert!(
            found[0].message.contains("85.0 %") && found[0].message.contains("10.0 %"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].message.contains("2026-11-24T12:00:00Z, 5 min ago"),
            "{}",
            found[0].message
        );
        // Said once per event, not on every save.
        assert!(s.observe_request(&put(6_200_000, later), later).is_empty());
        // Paused past the credits: the core rewinds the saved offset to 0 on purpose.
        let credits = T0 + Duration::minutes(7);
        assert!(s
            .observe_request(&events("traktPaused", 6_900_000, credits), credits)
            .is_empty());
        assert!(s.observe_request(&put(0, credits), credits).is_empty());
        // Playing from 10 %: twenty minutes later the library at ~26.7 % agrees.
        let resumed = T0 + Duration::minutes(10);
        assert!(s
            .observe_request(&events("traktPlaying", 720_000, resumed), resumed)
            .is_empty());
        let on = resumed + Duration::minutes(20);
        assert!(s.observe_request(&put(1_920_000, on), on).is_empty());
    }

    #[test]
    fn the_link_callback_is_held_to_its_state_and_its_code_is_single_use() {
        let mut s = Session::new();
        // No authorize seen: the state cannot be judged.
        assert!(s
            .observe_request(
                &get("https://www.strem.io/trakt/auth_cb?code=c0&state=zzz"),
                T0
            )
            .is_empty());
        s.observe_request(
            &get("https://trakt.tv/oauth/authorize?response_type=code&client_id=x&state=s123"),
            T0,
        );
        assert!(s
            .observe_request(
                &get("https://www.strem.io/trakt/auth_cb?code=qz-one&state=s123"),
                T0
            )
            .is_empty());
        assert_eq!(
            rules(&s.observe_request(
                &get("https://www.strem.io/trakt/auth_cb?code=c2&state=s999"),
                T0
            )),
            ["stremio.link.state-mismatch"]
        );
        let again = s.observe_request(
            &get("https://www.strem.io/trakt/auth_cb?code=qz-one&state=s123"),
            T0 + Duration::seconds(30),
        );
        assert_eq!(rules(&again), ["session.oauth-code.reused"]);
        // Not the code itself (a word no fingerprint's hex can contain).
        assert!(!again[0].message.contains("qz-one"), "{}", again[0].message);
    }

    #[test]
    fn the_state_in_stremios_link_redirect_counts_as_sent() {
        let mut s = Session::new();
        let mut redirect = answered(get("https://www.strem.io/trakt/auth/u1"), "");
        if let Some(r) = redirect.response.as_mut() {
            r.status = 302;
            r.headers = Headers::from_pairs(&[(
                "location",
                "https://api.trakt.tv/oauth/authorize?client_id=x&state=abc&response_type=code",
            )]);
        }
        s.observe_exchange(&redirect);
        assert!(s
            .observe_request(
                &get("https://www.strem.io/trakt/auth_cb?code=c&state=abc"),
                T0
            )
            .is_empty());
        assert_eq!(
            rules(&s.observe_request(&get("https://www.strem.io/trakt/auth_cb?code=d"), T0)),
            ["stremio.link.state-mismatch"]
        );
    }

    #[test]
    fn an_expired_token_is_told_on_the_first_answer_that_shows_it() {
        let mut s = Session::new();
        let expired = r#"{"access_token":"T","created_at":1700000000,"expires_in":86400}"#;
        let login = answered(
            call(
                "login",
                r#"{"type":"Auth","type":"Login","email":"a@b.c","password":"p"}"#,
            ),
            &format!(r#"{{"result":{{"authKey":"K","user":{{"_id":"u1","trakt":{expired}}}}}}}"#),
        );
        let get_user = answered(
            call("getUser", r#"{"type":"GetUser","authKey":"K"}"#),
            &format!(r#"{{"result":{{"_id":"u1","trakt":{expired}}}}}"#),
        );
        let (login_target, get_user_target) = (
            crate::parsed::Parsed::of(&login.request),
            crate::parsed::Parsed::of(&get_user.request),
        );
        let mut on_login = crate::lint::stremio::check_response(&login_target, &login);
        assert_eq!(rules(&on_login), ["stremio.trakt-token.expired"]);
        assert_eq!(on_login[0].location.as_str(), "response /result/user/trakt");
        s.once_per_token(&login_target, &login, &mut on_login);
        assert_eq!(rules(&on_login), ["stremio.trakt-token.expired"]);
        let mut on_get_user = crate::lint::stremio::check_response(&get_user_target, &get_user);
        assert_eq!(rules(&on_get_user), ["stremio.trakt-token.expired"]);
        s.once_per_token(&get_user_target, &get_user, &mut on_get_user);
        assert!(on_get_user.is_empty(), "{on_get_user:?}");
        // A fresh session (a new proxy run) tells it again, on getUser this time.
        let mut fresh = Session::new();
        let mut again = crate::lint::stremio::check_response(&get_user_target, &get_user);
        fresh.once_per_token(&get_user_target, &get_user, &mut again);
        assert_eq!(rules(&again), ["stremio.trakt-token.expired"]);
    }
}
