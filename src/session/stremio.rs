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
use crate::redact::Redactor;
use crate::report::Finding;
use crate::spec::stremio::{ADDON_PREFIX, API_HOST, CALLBACK_PATH, TRAKT_EVENTS, WEB_HOST};
use crate::text::{between, host_and_path, query_pairs, split_url, when};

/// Past this many entries a map of the session starts afresh: a long proxy
/// run must not grow without bound (forgetting only costs a repeated info).
const MAX_ENTRIES: usize = 4096;

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
        request: &Request,
        at: OffsetDateTime,
        redactor: &Redactor,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let (host, path) = host_and_path(&request.url);
        let query = || {
            request
                .url
                .split_once('?')
                .map(|(_, q)| query_pairs(q.split('#').next().unwrap_or_default()))
                .unwrap_or_default()
        };
        if path == "/oauth/authorize" {
            if let Some((_, state)) = query().into_iter().find(|(k, _)| k == "state") {
                self.remember_state(redactor.fingerprint(&state));
            }
            return out;
        }
        if host == WEB_HOST && path == CALLBACK_PATH {
            self.callback(&query(), at, redactor, &mut out);
            return out;
        }
        if host != API_HOST {
            return out;
        }
        let Some(body) = request.body.json() else {
            return out;
        };
        let key = body
            .get("authKey")
            .and_then(Value::as_str)
            .map(|k| redactor.fingerprint(k));
        match path.as_str() {
            "/api/events" => self.events(request, &body, at, &mut out),
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
            "/api/datastorePut" => self.library(&body, at, &mut out),
            _ => {}
        }
        out
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

    fn events(&mut self, request: &Request, body: &Value, at: OffsetDateTime, out: &mut Vec<Finding>) {
        let Some(events) = body.get("events").and_then(Value::as_array) else {
            return;
        };
        for (i, event) in events.iter().enumerate() {
            if let Some(app) = event.get("app").and_then(Value::as_object) {
                if let Some(text) = describe_app(app, request.headers.get("user-agent")) {
                    if self.client.as_deref() != Some(text.as_str()) {
                        out.push(CLIENT_VERSION.finding(
                            format!("/events/{i}/app"),
                            format!("Stremio app: {text}"),
                        ));
                        self.client = Some(text);
                    }
                }
            }
            let name = event
                .get("eventName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !TRAKT_EVENTS.contains(&name) {
                continue;
            }
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
                        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms).saturating_mul(1_000_000)).ok()
                    })
                    .unwrap_or(at);
                insert_bounded(
                    &mut self.events,
                    item.to_string(),
                    LastEvent {
                        name: name.to_string(),
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
                let ran = between(last.at, saved_at).max(Duration::ZERO).as_seconds_f64() * 1000.0;
                ((last.offset_ms + ran) / last.duration_ms * 100.0).min(100.0)
            } else {
                told
            };
            let saved = offset / duration * 100.0;
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
    pub(crate) fn observe_exchange(&mut self, exchange: &Exchange, redactor: &Redactor) {
        let Some(response) = &exchange.response else {
            return;
        };
        let (host, path) = host_and_path(&exchange.request.url);
        if host == WEB_HOST && (300..400).contains(&response.status) {
            if let Some(location) = response.headers.get("location") {
                let (_, target) = split_url(location);
                if target.starts_with("/oauth/authorize") {
                    let query = target.split_once('?').map_or("", |(_, q)| q);
                    if let Some((_, state)) = query_pairs(query).into_iter().find(|(k, _)| k == "state") {
                        self.remember_state(redactor.fingerprint(&state));
                    }
                }
            }
            return;
        }
        if host != API_HOST {
            return;
        }
        let Some(key) = lens::auth_key(exchange).map(|k| redactor.fingerprint(&k)) else {
            return;
        };
        if let Some(trakt) = lens::user_trakt(exchange) {
            let account = self.account(&key);
            account.linked = Some(!trakt.is_null());
            if !trakt.is_null() {
                // A link again: its later absence is news again.
                self.told.remove(&format!("{}|{key}", lens::TOKEN_ABSENT.id));
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
    }

    /// Keeps the token findings of a getUser or login answer to the first
    /// answer that shows each token state: the core asks login, then
    /// getUser, and both carry the same token.
    pub(crate) fn once_per_token(
        &mut self,
        exchange: &Exchange,
        findings: &mut Vec<Finding>,
        redactor: &Redactor,
    ) {
        let token = lens::getuser_token(exchange).map(|(t, _)| redactor.fingerprint(&t));
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
