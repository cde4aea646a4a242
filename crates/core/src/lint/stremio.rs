//! The Stremio lens: rules for Stremio's own Trakt traffic (the official
//! apps never call api.trakt.tv). Requests: the scrobble events sent to
//! `api.strem.io/api/events`. Responses: the link redirect from
//! `www.strem.io/trakt/auth/…`, the Trakt token in `getUser`, errors inside
//! Stremio's 200 answers, and the Trakt catalogue addon's errors.
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::oauth;
use super::{Finding, Rule, Scope, Severity, Subject};
use crate::exchange::{Exchange, Headers};
use crate::parsed::Parsed;
use crate::report::Fix;
use crate::spec::stremio::{
    trakt_event_name, ADDON_PREFIX, API_HOST, AUTH_PREFIX, CALLBACK_PATH, EXPIRY_WARNING_SECONDS,
    SIGN_IN_CALLS, WEB_HOST,
};
use crate::spec::trakt::API_HOSTS;
use crate::text::{between, expiry, query_pairs, when};

pub(crate) const AUTHORIZE_API_HOST: Rule = Rule {
    id: "stremio.authorize.api-host",
    severity: Severity::Error,
    scope: Scope::ResponseHead,
    summary: "Stremio's link flow redirects the browser to the authorize page on `api.trakt.tv`.",
    why: "Trakt's authorize page lives on `trakt.tv`; on the API host the sign-in ends in 400 Bad Request (trakt/trakt-api#646), so the Trakt account never links.",
    bad: "302 Location: https://api.trakt.tv/oauth/authorize?client_id=0e86…&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&response_type=code",
    good: "302 Location: https://trakt.tv/oauth/authorize?client_id=0e86…&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&response_type=code",
    autofix: Some("rewrites the redirect's Location to the trakt.tv host, keeping every query parameter"),
    source: "Maintainer: trakt/trakt-api#646 (Trakt staff: Stremio's link uses the wrong URL, the sign-in on api.trakt.tv ends in 400); Observed: Stremio/stremio-bugs#1427 (the authorize URL Stremio sends browsers to is on api.trakt.tv); Trakt contract: contracts/oauth/index.ts (the authorize page is on the website host)",
};

pub(crate) const TOKEN_EXPIRED: Rule = Rule {
    id: "stremio.trakt-token.expired",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "The Trakt token Stremio holds (getUser or login → trakt) has expired.",
    why: "Stremio shows \"Trakt authentication expired\" and stops scrobbling; the app has no refresh token, so only a new link helps.",
    bad: "\"trakt\":{\"created_at\":1700000000,\"expires_in\":86400} read 3 days later",
    good: "re-authenticate from Settings → Trakt → Authenticate",
    autofix: None,
    source: "Stremio source: stremio-core src/types/profile/user.rs (`TraktInfo` holds no refresh token) and src/types/profile/profile.rs (`Profile::has_trakt`: linked while now < created_at + expires_in); Maintainer: Stremio/stremio-core#803 (tokens live 24 h and have to be refreshed); Observed: Stremio/stremio-bugs#1427, #1405, #1436 (users link again after expiry)",
};

pub(crate) const TOKEN_EXPIRING: Rule = Rule {
    id: "stremio.trakt-token.expiring",
    severity: Severity::Warning,
    scope: Scope::Response,
    summary: "Stremio's Trakt token expires soon (within a day, or a quarter of its lifetime).",
    why: "Once it expires, scrobbles are silently lost until the user links Trakt again.",
    bad: "\"trakt\":{…,\"expires_in\":86400} with 3 hours left (a token linked a minute ago is not warned about)",
    good: "re-authenticate before a long watch session",
    autofix: None,
    source: "Stremio source: stremio-core src/types/profile/user.rs (no refresh token) and src/types/profile/profile.rs (`Profile::has_trakt`); Maintainer: Stremio/stremio-core#803 (tokens live 24 h); trakt-doctor's own reading: the threshold (a day, or a quarter of the lifetime)",
};

pub(crate) const TOKEN_ABSENT: Rule = Rule {
    id: "stremio.trakt-token.absent",
    severity: Severity::Info,
    scope: Scope::Response,
    summary: "The Stremio account has no Trakt link (getUser → trakt is empty).",
    why: "Nothing will be scrobbled to Trakt and the Trakt catalogs are not installed.",
    bad: "\"trakt\": null",
    good: "link Trakt from Settings → Trakt → Authenticate",
    autofix: None,
    source: "Stremio source: stremio-core src/types/profile/user.rs (`trakt` is empty without a link) and src/models/ctx/update_trakt_addon.rs (the Trakt addon is installed after a link)",
};

pub(crate) const EVENT_ITEM_ID: Rule = Rule {
    id: "stremio.event.item-id",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A Trakt scrobble event carries an item id Trakt cannot match (not an IMDb `tt…` id).",
    why: "Stremio's servers scrobble by IMDb id; items from addons with other ids (kitsu:, tmdb:, local files) never reach Trakt.",
    bad: "\"libItemID\":\"kitsu:1376\"",
    good: "\"libItemID\":\"tt0903747\"",
    autofix: None,
    source: "Stremio source: stremio-core src/models/player.rs (the events carry the library item's id, `libItemID`); trakt-doctor's own reading: Stremio's closed server scrobbles by IMDb id, so other ids do not reach Trakt",
};

pub(crate) const EVENT_VIDEO_ID: Rule = Rule {
    id: "stremio.event.video-id",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A series event has no `tt…:season:episode` video id.",
    why: "Without the season and episode Trakt cannot tell which episode is playing: the scrobble is dropped or lands on the show.",
    bad: "\"libItemType\":\"series\",\"libItemVideoID\":\"tt0903747\"",
    good: "\"libItemType\":\"series\",\"libItemVideoID\":\"tt0903747:1:2\"",
    autofix: None,
    source: "Stremio source: stremio-core src/models/player.rs (`libItemVideoID` is `tt…:season:episode` for a series); trakt-doctor's own reading: without it Stremio's server cannot name the episode",
};

pub(crate) const EVENT_OFFSET: Rule = Rule {
    id: "stremio.event.offset",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary:
        "A Trakt event's time offset is negative, beyond the duration, or the duration is zero.",
    why: "Trakt receives a progress outside 0–100 % (422) or 0 %, so the play is not recorded.",
    bad: "\"libItemTimeOffset\":7300000,\"libItemTimeDuration\":7200000",
    good: "\"libItemTimeOffset\":3600000,\"libItemTimeDuration\":7200000",
    autofix: None,
    source: "Stremio source: stremio-core src/models/player.rs (`libItemTimeOffset` and `libItemTimeDuration` in ms); Trakt contract: contracts/scrobble/index.ts (a stop under 1 % answers 422); trakt-doctor's own reading: Stremio's server sends offset ÷ duration as the progress",
};

pub(crate) const EVENT_HAS_TRAKT: Rule = Rule {
    id: "stremio.event.has-trakt",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A Trakt event says `hasTrakt: false`.",
    why: "Stremio believes Trakt is not linked or its token expired, so nothing will be scrobbled.",
    bad: "{\"eventName\":\"traktPlaying\",\"player\":{…,\"hasTrakt\":false}}",
    good: "re-authenticate Trakt in Settings; the next events say `hasTrakt: true`",
    autofix: None,
    source: "Stremio source: stremio-core src/types/profile/profile.rs (`Profile::has_trakt`, the `hasTrakt` of each event: a token that has not expired)",
};

pub(crate) const EVENT_PROGRESS: Rule = Rule {
    id: "stremio.event.progress",
    severity: Severity::Info,
    scope: Scope::Request,
    summary: "The progress Trakt will receive for a scrobble event.",
    why: "Trakt scrobbles a stop above 80 %, saves 1–80 % as a pause, and ignores less than 1 %.",
    bad: "(informational)",
    good: "(informational)",
    autofix: None,
    source: "Trakt contract: contracts/scrobble/index.ts (a stop above 80 % scrobbles, 1 % to 79 % is a pause, under 1 % answers 422); trakt-doctor's own reading: Stremio's server sends offset ÷ duration as the progress",
};

pub(crate) const API_ERROR: Rule = Rule {
    id: "stremio.api.error",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "Stremio's API answered an error inside a 200 response.",
    why: "api.strem.io reports failures as `{\"error\": …}` with status 200; the app may show nothing while the call failed.",
    bad: "200 {\"error\":{\"message\":\"session does not exist\",\"code\":1}}",
    good: "200 {\"result\":{…}}",
    autofix: None,
    source: "Stremio source: stremio-core src/types/api/response.rs (an API answer is `{result}` or `{error: {message, code}}`)",
};

pub(crate) const ADDON_AUTH_ERROR: Rule = Rule {
    id: "stremio.addon.auth-error",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "The Trakt catalogue addon reports an authentication error.",
    why: "www.strem.io cannot use the stored Trakt token (expired or revoked), so the Watchlist and Recommendations catalogs show \"Trakt authenticate error - please reauthenticate\".",
    bad: "GET www.strem.io/trakt/addon/…/catalog/movie/trakt-watchlist.json → error",
    good: "re-authenticate Trakt in Stremio's Settings",
    autofix: None,
    source: "Observed: Stremio/stremio-bugs#2447 (the Watchlist catalog answers \"Trakt authenticate error - please reauthenticate\")",
};

pub(crate) const EVENTS_LOST: Rule = Rule {
    id: "stremio.events.lost",
    severity: Severity::Error,
    scope: Scope::Response,
    summary: "Stremio's server refused an events batch: the Trakt scrobbles and progress in it never reach Trakt.",
    why: "The apps send `traktPlaying`/`traktPaused` as events to api.strem.io, whose servers pass them to Trakt. When the call is refused (most often `session does not exist`: the Stremio login expired or was ended elsewhere), the batch is dropped and nothing in it is scrobbled; later batches fail the same way until the user logs in to Stremio again.",
    bad: "POST api.strem.io/api/events {…traktPlaying…} → 200 {\"error\":{\"message\":\"session does not exist\",\"code\":1}}",
    good: "POST api.strem.io/api/events {…traktPlaying…} → 200 {\"result\":{\"success\":true}}",
    autofix: None,
    source: "Stremio source: stremio-core src/models/player.rs and src/types/api/request.rs (trakt events go to Stremio's server as `APIRequest::Events`, which alone passes them to Trakt); Observed: the refusal is the server's own answer in this exchange (`{\"error\":{\"message\":\"session does not exist\"}}`, tests/stremio.rs)",
};

pub(crate) const UNLINKED: Rule = Rule {
    id: "stremio.trakt.unlinked",
    severity: Severity::Info,
    scope: Scope::Session,
    summary: "Stremio unlinks Trakt from the account (`saveUser` with `\"trakt\": null` after the account had a link).",
    why: "From here on nothing is scrobbled to Trakt and the Trakt catalogs stop working; a user who pressed Log out of Trakt by mistake sees it here. Said only when the account was seen linked before (every `saveUser` carries `trakt`, also for accounts that never had a link).",
    bad: "POST api.strem.io/api/saveUser {\"authKey\":…,\"_id\":…,\"trakt\":null,…} after getUser showed a Trakt token",
    good: "(informational) link again from Settings → Trakt → Authenticate if this was a mistake",
    autofix: None,
    source: "Stremio source: stremio-core src/models/ctx/update_profile.rs (`LogoutTrakt` empties `user.trakt`, saves the user and uninstalls the Trakt addon)",
};

pub(crate) const ADDON_REMOVED: Rule = Rule {
    id: "stremio.trakt-addon.removed",
    severity: Severity::Info,
    scope: Scope::Session,
    summary: "The Trakt addon leaves Stremio's addon collection (`addonCollectionSet` without it, after it was installed or after Trakt was unlinked).",
    why: "Without the addon the Trakt catalogs (Watchlist, Recommendations) disappear from Stremio; with the unlink it is the moment Trakt integration stops. Said only when the collection is known to have had the addon, or right after an unlink.",
    bad: "POST api.strem.io/api/addonCollectionSet {\"addons\":[…without www.strem.io/trakt/addon/…]} after the collection had it",
    good: "(informational) install the Trakt addon again from Settings → Trakt if this was a mistake",
    autofix: None,
    source: "Stremio source: stremio-core src/models/ctx/update_trakt_addon.rs (the addon at www.strem.io/trakt/addon/<uid>) and src/models/ctx/update_profile.rs (`LogoutTrakt` uninstalls it)",
};

pub(crate) const LIBRARY_PROGRESS: Rule = Rule {
    id: "stremio.library.progress",
    severity: Severity::Info,
    scope: Scope::Session,
    summary: "The progress in the library state (`datastorePut`) disagrees with what the Trakt events gave Trakt.",
    why: "Trakt only knows the progress of the last `traktPlaying`/`traktPaused` event (running on from a `traktPlaying`); when the library item saved later says something else, the player did not report the change, so Trakt records a different progress (or no scrobble above 80 %).",
    bad: "traktPaused at 10 % then datastorePut with state.timeOffset at 85 % and no event",
    good: "(informational) the player sends traktPaused/traktPlaying whenever playback moves",
    autofix: None,
    source: "Stremio source: stremio-core src/models/player.rs (Trakt events on pause, resume and seek); trakt-doctor's own reading: Trakt learns only the progress those events carry",
};

pub(crate) const CLIENT_VERSION: Rule = Rule {
    id: "stremio.client.version",
    severity: Severity::Info,
    scope: Scope::Session,
    summary: "The Stremio app and shell version, read from the `app` object of its events and the User-Agent (said once per version).",
    why: "\"Update Stremio\" is a common remedy; the version the user runs decides whether it applies.",
    bad: "(informational)",
    good: "{\"eventName\":…,\"app\":{\"appType\":\"stremio-web\",\"appVersion\":\"5.0.0\",\"shellVersion\":\"5.0.12\",…}}",
    autofix: None,
    source: "Stremio source: stremio-core-web src/env.rs (each event's `app` object: appType, appVersion, shellVersion)",
};

pub(crate) const CALLBACK_CODE: Rule = Rule {
    id: "stremio.link.callback-code",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "Trakt sends the browser back to Stremio's link callback without an authorization `code`.",
    why: "www.strem.io/trakt/auth_cb can only link the account with the code Trakt issues; without it (the user denied access, or Trakt answered `error=…`) the link fails, whatever the cookies.",
    bad: "GET https://www.strem.io/trakt/auth_cb?error=access_denied&state=…",
    good: "GET https://www.strem.io/trakt/auth_cb?code=…&state=…",
    autofix: None,
    source: "Trakt contract: POST /oauth/token exchanges the `code` (contracts/oauth/schema/request/tokenRequestSchema.ts); Observed: markflaisz/stremio-trakt-auth#2 (Trakt sends the browser to www.strem.io/trakt/auth_cb?code=…)",
};

pub(crate) const STATE_MISMATCH: Rule = Rule {
    id: "stremio.link.state-mismatch",
    severity: Severity::Warning,
    scope: Scope::Session,
    summary: "The link callback's `state` is not the one sent to Trakt's authorize page.",
    why: "The state ties the callback to the link that asked for it: a different one means an old tab, a second link started meanwhile, or a stale page from the cache finishing the flow, and the callback is refused.",
    bad: "authorize ?state=s123, then auth_cb ?code=…&state=s999",
    good: "authorize ?state=s123, then auth_cb ?code=…&state=s123",
    autofix: None,
    source: "trakt-doctor's own reading: RFC 6749 §10.12 has a client refuse a callback whose `state` it did not send, but www.strem.io is closed source and the authorize URL Stremio builds carries no `state` (Stremio/stremio-bugs#1427)",
};

/// The Stremio-lens rules, in catalogue order.
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
    &EVENTS_LOST,
    &UNLINKED,
    &ADDON_REMOVED,
    &LIBRARY_PROGRESS,
    &CLIENT_VERSION,
    &CALLBACK_CODE,
    &STATE_MISMATCH,
];

/// Lints a request to a Stremio host: the link callback and the scrobble events.
pub(crate) fn check_request(s: &Subject, out: &mut Vec<Finding>) {
    if s.host() == WEB_HOST && s.path() == CALLBACK_PATH {
        callback(s, out);
        return;
    }
    if s.host() != API_HOST || s.path() != "/api/events" {
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
        let Some(name) = trakt_event_name(event) else {
            continue;
        };
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

/// The callback from Trakt's authorize page: without a code there is nothing to link.
fn callback(s: &Subject, out: &mut Vec<Finding>) {
    let param = |name: &str| {
        s.query()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("code").is_some_and(|c| !c.is_empty()) {
        return;
    }
    let message = match param("error") {
        Some(error) => format!(
            "Trakt sent the browser back with `error={error}` and no code{}: the link fails (access_denied: the user pressed No on Trakt's page)",
            param("error_description").map_or(String::new(), |d| format!(" ({d})"))
        ),
        None => "the callback has no `code`: Stremio cannot link the account (a bookmarked or reloaded callback page, or a link started elsewhere)".to_string(),
    };
    out.push(CALLBACK_CODE.finding("query code", message));
}

/// Findings on a response head: the link redirect to the authorize page on
/// the API host (with the fix that sends it to trakt.tv instead), and the
/// authorize parameters it carries.
/// `parsed` is the request's target, read when it was inspected.
pub(crate) fn check_response_head(parsed: &Parsed, status: u16, headers: &Headers) -> Vec<Finding> {
    let mut out = Vec::new();
    let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
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

/// The Trakt token in a getUser or login answer: `(access_token, expires_at)`.
pub fn getuser_token(parsed: &Parsed, exchange: &Exchange) -> Option<(String, OffsetDateTime)> {
    let trakt = user_trakt(parsed, exchange)?;
    let token = trakt.get("access_token")?.as_str()?.to_string();
    let created = trakt.get("created_at")?.as_i64()?;
    let lifetime = trakt.get("expires_in")?.as_i64()?;
    Some((token, expiry(created, lifetime)?))
}

/// How much time left makes a token "about to expire": a day, or a quarter of
/// its lifetime when that is shorter. Trakt's tokens live 24 h since March
/// 2025 and Stremio holds no refresh token, so a day would warn about every
/// token linked a minute ago; a quarter leaves a warning that means something
/// (under 6 h of a 24 h token, the last day of a 3-month one).
fn expiry_warning(parsed: &Parsed, exchange: &Exchange) -> Duration {
    let lifetime = user_trakt(parsed, exchange)
        .and_then(|trakt| trakt.get("expires_in")?.as_i64())
        .unwrap_or(EXPIRY_WARNING_SECONDS);
    Duration::seconds(EXPIRY_WARNING_SECONDS.min(lifetime / 4))
}

/// The Stremio user in an answer that carries one: `result` of getUser,
/// `result.user` of login and the other sign-in calls (they answer
/// `{authKey, user}`).
fn answered_user(parsed: &Parsed, exchange: &Exchange) -> Option<Value> {
    let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
    if host != API_HOST {
        return None;
    }
    let json = exchange.response.as_ref().and_then(|r| r.body.json())?;
    let result = json.get("result")?;
    if path == "/api/getUser" {
        Some(result.clone())
    } else if SIGN_IN_CALLS.contains(&path) {
        result.get("user").cloned()
    } else {
        None
    }
}

/// `trakt` of the user a getUser or login answer carries: `Some(Value::Null)` when absent.
pub(crate) fn user_trakt(parsed: &Parsed, exchange: &Exchange) -> Option<Value> {
    let user = answered_user(parsed, exchange)?;
    Some(user.get("trakt").cloned().unwrap_or(Value::Null))
}

/// The authKey of the account an exchange is about: in the request body
/// (every call but the sign-in ones), or in a sign-in answer.
pub fn auth_key(exchange: &Exchange) -> Option<String> {
    let from_request = exchange
        .request
        .body
        .json()
        .and_then(|b| b.get("authKey").and_then(Value::as_str).map(str::to_string));
    from_request.or_else(|| {
        exchange
            .response
            .as_ref()
            .and_then(|r| r.body.json())
            .and_then(|j| {
                j.pointer("/result/authKey")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
    })
}

/// Whether Stremio's API took a call: a 2xx without an `error` in its answer.
pub(crate) fn accepted(exchange: &Exchange) -> bool {
    exchange.response.as_ref().is_some_and(|r| {
        (200..300).contains(&r.status)
            && r.body
                .json()
                .and_then(|j| j.get("error").cloned())
                .is_none_or(|e| e.is_null())
    })
}

/// The events of a refused batch that were meant for Trakt, said as lost
/// (none when the batch held no Trakt event: nothing of Trakt's was lost).
fn lost_events(exchange: &Exchange, why: &str) -> Option<Finding> {
    let body = exchange.request.body.json()?;
    let events = body.get("events")?.as_array()?;
    let mut titles: Vec<String> = Vec::new();
    let mut count: usize = 0;
    for event in events {
        if crate::spec::stremio::trakt_event_name(event).is_none() {
            continue;
        }
        count = count.saturating_add(1);
        let player = event.get("player");
        let text = |k: &str| player.and_then(|p| p.get(k)).and_then(Value::as_str);
        let title = text("libItemName")
            .or_else(|| text("libItemID"))
            .unwrap_or("an item");
        let video = text("libItemVideoID").filter(|v| v.contains(':'));
        let title = match video {
            Some(video) => format!("{title} ({video})"),
            None => title.to_string(),
        };
        if !titles.contains(&title) {
            titles.push(title);
        }
    }
    if count == 0 {
        return None;
    }
    Some(EVENTS_LOST.finding(
        "response /error",
        format!(
            "Stremio's server refused this events batch ({why}): its {count} Trakt event(s) for {} \
             never reach Trakt, so nothing of it is scrobbled. Log in to Stremio again (Settings → \
             Log out, then log in) for scrobbling to resume",
            titles.join(", ")
        ),
    ))
}

/// A refused events batch sent nothing to Trakt: the request's "Trakt
/// receives progress" lines are no longer true, so they go; the lost
/// scrobbles are said by [`EVENTS_LOST`].
pub(crate) fn settle_refused_events(exchange: &mut Exchange) {
    if exchange.findings.iter().any(|f| f.is(&EVENTS_LOST)) {
        exchange.findings.retain(|f| !f.is(&EVENT_PROGRESS));
    }
}

/// Findings on a finished answer from a Stremio host; `parsed` is the
/// request's target, read when it was inspected.
pub(crate) fn check_response(parsed: &Parsed, exchange: &Exchange) -> Vec<Finding> {
    let mut out = Vec::new();
    let (host, path) = (parsed.host.as_str(), parsed.path.as_str());
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
            if path == "/api/events" {
                out.extend(lost_events(exchange, &message));
            } else {
                out.push(API_ERROR.finding("response /error", format!("{path} failed: {message}")));
            }
        } else if path == "/api/events" && response.status >= 400 {
            out.extend(lost_events(
                exchange,
                &format!("status {}", response.status),
            ));
        }
        let at = if path == "/api/getUser" {
            "response /result/trakt"
        } else {
            "response /result/user/trakt"
        };
        match user_trakt(parsed, exchange) {
            Some(Value::Null) => out.push(TOKEN_ABSENT.finding(at, "this Stremio account has no Trakt link")),
            Some(_) => match getuser_token(parsed, exchange) {
                Some((_, expires)) => {
                    let now = exchange.started_at;
                    let left = between(now, expires);
                    if left <= Duration::ZERO {
                        out.push(TOKEN_EXPIRED.finding(
                            at,
                            format!("Stremio's Trakt token expired at {}", when(expires, now)),
                        ));
                    } else if left < expiry_warning(parsed, exchange) {
                        out.push(TOKEN_EXPIRING.finding(
                            at,
                            format!("Stremio's Trakt token expires at {}", when(expires, now)),
                        ));
                    }
                }
                None => out.push(TOKEN_EXPIRED.finding(
                    at,
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
    use crate::exchange::testing::answered;
    use crate::exchange::Body;
    use crate::exchange::Request;

    fn get_user(trakt: &str) -> Exchange {
        answered(
            Request {
                method: "POST".into(),
                url: "https://api.strem.io/api/getUser".into(),
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::default(),
            },
            &format!(r#"{{"result":{{"_id":"5e1","trakt":{trakt}}}}}"#),
        )
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
            let parsed = Parsed::of(&exchange.request);
            let _ = getuser_token(&parsed, &exchange);
            let _ = check_response(&parsed, &exchange);
        }
        // A lifetime past the end of the calendar never expires; one before its start always has.
        let forever = get_user(&format!(
            r#"{{"access_token":"T","created_at":{created},"expires_in":9223372036854775807}}"#
        ));
        assert_eq!(
            rules(&check_response(&Parsed::of(&forever.request), &forever)),
            [] as [&str; 0]
        );
        let never = get_user(&format!(
            r#"{{"access_token":"T","created_at":{created},"expires_in":-9223372036854775808}}"#
        ));
        assert_eq!(
            rules(&check_response(&Parsed::of(&never.request), &never)),
            ["stremio.trakt-token.expired"]
        );
    }
}
