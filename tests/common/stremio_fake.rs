//! A loopback fake of the servers Stremio's own client core talks to
//! (api.strem.io, www.strem.io's Trakt link and Trakt addon, v3-cinemeta)
//! plus Trakt's authorize page, for tests/stremio_core.rs. The answers follow
//! the types stremio-core deserialises (src/types/api/response.rs,
//! src/types/profile/user.rs, src/types/addon/manifest.rs): every API answer
//! is `{"result": …}` or `{"error": {"message", "code"}}`, and every answer
//! carries `Access-Control-Allow-Origin`, since the core fetches from a page
//! origin (simple CORS requests, no preflight). The answers go out through
//! the same fake CDN as every fake's (../common/cdn.rs): Chromium offers
//! `gzip, deflate, br, zstd`, so the core gets zstd bodies, chunked, with
//! Cloudflare's headers, as from the real api.strem.io.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{json, Value};

use super::{Handler, Received, Reply};

/// The hosts the fake answers for (its certificate names).
pub const STREMIO_HOSTS: &[&str] = &[
    "api.strem.io",
    "www.strem.io",
    "v3-cinemeta.strem.io",
    "api.trakt.tv",
    "trakt.tv",
];

/// The account the core logs into. Every value is distinctive so a test can
/// search the sinks for it.
pub const UID: &str = "5e1f00d15ea5e0000000cafe";
pub const EMAIL: &str = "core-test@example.com";
pub const PASSWORD: &str = "pw-core-test-7c1d9a3f";
pub const AUTH_KEY: &str = "authkey-core-test-0b7e4f2a91d3c6e5";
pub const TRAKT_TOKEN: &str = "trakt-token-core-test-58d0c3b9e1a7";
/// The code Trakt's (fake) consent page hands to the callback.
pub const OAUTH_CODE: &str = "oauth-code-core-test-3a9f";
pub const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
/// A movie and a series episode Cinemeta knows.
pub const MOVIE: &str = "tt0111161";
pub const SERIES: &str = "tt0903747";
pub const EPISODE: &str = "tt0903747:1:2";

/// The Trakt link on the account when the core logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraktLink {
    /// Linked a minute ago, for a day (Trakt's 2025 lifetime).
    Fresh,
    /// Linked three days ago for a day: expired two days ago.
    Expired,
    /// Never linked (`"trakt": null`).
    None,
}

/// The account's server-side state, changed by the link callback, saveUser
/// and addonCollectionSet as the real servers would.
#[derive(Debug)]
pub struct Account {
    pub trakt: Value,
    pub addons: Vec<Value>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn trakt_info(link: TraktLink) -> Value {
    match link {
        TraktLink::Fresh => {
            json!({"access_token": TRAKT_TOKEN, "created_at": now() - 60, "expires_in": 86400})
        }
        TraktLink::Expired => {
            json!({"access_token": TRAKT_TOKEN, "created_at": now() - 3 * 86400, "expires_in": 86400})
        }
        TraktLink::None => Value::Null,
    }
}

fn user(account: &Account) -> Value {
    json!({
        "_id": UID,
        "email": EMAIL,
        "fbId": null,
        "avatar": null,
        "lastModified": "2026-11-01T10:00:00.000Z",
        "dateRegistered": "2024-03-05T18:21:09.000Z",
        "trakt": account.trakt,
        "premium_expire": null,
        "gdpr_consent": {"tos": true, "privacy": true, "marketing": false, "from": "web"},
    })
}

/// Cinemeta's descriptor as Stremio's API stores it in a collection.
pub fn cinemeta_descriptor() -> Value {
    json!({
        "manifest": cinemeta_manifest(),
        "transportUrl": "https://v3-cinemeta.strem.io/manifest.json",
        "flags": {"official": true, "protected": true},
    })
}

fn cinemeta_manifest() -> Value {
    // No catalogs: the scenario opens no board, and an empty list keeps the core from fetching any.
    json!({
        "id": "com.linvo.cinemeta",
        "version": "3.0.13",
        "name": "Cinemeta",
        "description": "The official add-on for movie and series catalogs",
        "resources": ["catalog", "meta", "addon_catalog"],
        "types": ["movie", "series"],
        "idPrefixes": ["tt"],
        "catalogs": [],
    })
}

fn trakt_addon_manifest() -> Value {
    json!({
        "id": "org.stremio.trakt",
        "version": "1.0.0",
        "name": "Trakt Integration",
        "description": "Trakt watchlist and recommendations",
        "resources": ["catalog"],
        "types": ["movie", "series"],
        "idPrefixes": ["tt"],
        "catalogs": [
            {"type": "movie", "id": "trakt-watchlist", "name": "Trakt Watchlist"},
            {"type": "series", "id": "trakt-watchlist", "name": "Trakt Watchlist"},
        ],
    })
}

fn meta(kind: &str, id: &str) -> Option<Value> {
    match (kind, id) {
        ("movie", MOVIE) => Some(json!({
            "id": MOVIE, "type": "movie", "name": "The Shawshank Redemption",
            "releaseInfo": "1994", "released": "1994-10-14T00:00:00.000Z",
            "runtime": "142 min", "videos": [],
        })),
        ("series", SERIES) => {
            let videos: Vec<Value> = (1..=3)
                .map(|n| {
                    json!({
                        "id": format!("{SERIES}:1:{n}"), "title": format!("Episode {n}"),
                        "released": format!("2008-0{n}-20T00:00:00.000Z"), "season": 1, "episode": n,
                    })
                })
                .collect();
            Some(json!({
                "id": SERIES, "type": "series", "name": "Breaking Bad",
                "releaseInfo": "2008-2013", "released": "2008-01-20T00:00:00.000Z",
                "videos": videos,
            }))
        }
        _ => None,
    }
}

fn reply(status: u16, content_type: &str, body: String) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("access-control-allow-origin".into(), "*".into()),
        ],
        body: Bytes::from(body),
        ..Reply::default()
    }
}

fn ok(result: Value) -> Reply {
    reply(
        200,
        "application/json; charset=utf-8",
        json!({ "result": result }).to_string(),
    )
}

/// Stremio's API reports failures inside a 200, as `{"error": …}`.
fn api_error(message: &str, code: u64) -> Reply {
    reply(
        200,
        "application/json; charset=utf-8",
        json!({"error": {"message": message, "code": code}}).to_string(),
    )
}

fn redirect(location: &str) -> Reply {
    Reply {
        headers: vec![
            ("location".into(), location.into()),
            ("access-control-allow-origin".into(), "*".into()),
        ],
        ..reply(302, "text/html", String::new())
    }
}

fn html(status: u16, text: &str) -> Reply {
    reply(
        status,
        "text/html; charset=utf-8",
        format!("<!doctype html><html><body>{text}</body></html>"),
    )
}

/// The fake's handler and the account state it changes.
pub fn stremio_servers(link: TraktLink) -> (Handler, Arc<Mutex<Account>>) {
    let account = Arc::new(Mutex::new(Account {
        trakt: trakt_info(link),
        addons: vec![cinemeta_descriptor()],
    }));
    let state = account.clone();
    let handler: Handler = Arc::new(move |r: &Received| {
        let path = r.path.split('?').next().unwrap_or_default().to_string();
        let query = r.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
        if r.method == "OPTIONS" {
            return Reply {
                headers: vec![
                    ("access-control-allow-origin".into(), "*".into()),
                    ("access-control-allow-methods".into(), "GET, POST".into()),
                    ("access-control-allow-headers".into(), "content-type".into()),
                ],
                ..reply(204, "text/plain", String::new())
            };
        }
        let mut account = state.lock().unwrap_or_else(|e| e.into_inner());
        match r.host.as_str() {
            "api.strem.io" => api(&path, &r.body, &mut account),
            "www.strem.io" if path == format!("/trakt/auth/{UID}") => redirect(&format!(
                "https://api.trakt.tv/oauth/authorize?client_id={CLIENT_ID}&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&response_type=code"
            )),
            "www.strem.io" if path == "/trakt/auth_cb" => {
                if query.contains(&format!("code={OAUTH_CODE}")) {
                    account.trakt = trakt_info(TraktLink::Fresh);
                    html(200, "Trakt is now linked to your Stremio account.")
                } else {
                    html(500, "Internal Server Error")
                }
            }
            "www.strem.io" if path == format!("/trakt/addon/{UID}/manifest.json") => reply(
                200,
                "application/json; charset=utf-8",
                trakt_addon_manifest().to_string(),
            ),
            // Trakt's authorize page on its API host ends in 400 (trakt/trakt-api#646).
            "api.trakt.tv" if path == "/oauth/authorize" => html(400, "Bad Request"),
            // Trakt's consent page, approved at once: back to the callback with a code.
            "trakt.tv" if path == "/oauth/authorize" => {
                redirect(&format!("https://www.strem.io/trakt/auth_cb?code={OAUTH_CODE}"))
            }
            "v3-cinemeta.strem.io" => cinemeta(&path),
            _ => html(404, "Not Found"),
        }
    });
    (handler, account)
}

fn cinemeta(path: &str) -> Reply {
    let json_reply = |v: Value| reply(200, "application/json; charset=utf-8", v.to_string());
    if path == "/manifest.json" {
        return json_reply(cinemeta_manifest());
    }
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    match parts.as_slice() {
        ["meta", kind, file] => match meta(kind, file.trim_end_matches(".json")) {
            Some(m) => json_reply(json!({ "meta": m })),
            None => reply(404, "application/json", "{}".into()),
        },
        ["stream", _, _] => json_reply(json!({"streams": []})),
        ["subtitles", _, _] => json_reply(json!({"subtitles": []})),
        _ => reply(404, "application/json", "{}".into()),
    }
}

fn api(path: &str, body: &[u8], account: &mut Account) -> Reply {
    let Some(method) = path.strip_prefix("/api/") else {
        return html(404, "Not Found");
    };
    // The core sends `{"type":"Auth","type":"Login",…}` to login: serde_json keeps the last key.
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    let signed_in = text("authKey") == AUTH_KEY;
    match method {
        "login" => {
            if text("email") == EMAIL && text("password") == PASSWORD {
                ok(json!({"authKey": AUTH_KEY, "user": user(account)}))
            } else {
                api_error("Wrong email or password", 2)
            }
        }
        // Called without an authKey by the core.
        "getModal" | "getNotification" => ok(Value::Null),
        "seekLog" => ok(json!({"success": true})),
        _ if !signed_in => api_error("session does not exist", 1),
        "getUser" => ok(user(account)),
        "saveUser" => {
            if let Some(trakt) = body.get("trakt") {
                account.trakt = trakt.clone();
            }
            ok(json!({"success": true}))
        }
        "addonCollectionGet" => ok(json!({
            "addons": account.addons,
            "lastModified": "2026-11-01T10:00:00.000Z",
        })),
        "addonCollectionSet" => {
            if let Some(addons) = body.get("addons").and_then(Value::as_array) {
                account.addons = addons.clone();
            }
            ok(json!({"success": true}))
        }
        "datastoreMeta" => ok(json!([])),
        "datastoreGet" => ok(json!([])),
        "datastorePut" | "events" | "logout" => ok(json!({"success": true})),
        other => api_error(&format!("the fake does not know {other}"), 0),
    }
}
