//! Stremio's Trakt bridge as data: the hosts and endpoints the official
//! apps use instead of api.trakt.tv (see ../shared/stremio.md).
/// Stremio's API: every call is `POST /api/<name>` with a JSON body whose
/// `type` names the call and whose `authKey` identifies the user.
pub(crate) const API_HOST: &str = "api.strem.io";

/// Stremio's website: the Trakt link flow and the Trakt catalogue addon.
pub(crate) const WEB_HOST: &str = "www.strem.io";

/// Where the app sends the browser to link Trakt (`/trakt/auth/<user id>`).
pub(crate) const AUTH_PREFIX: &str = "/trakt/auth/";

/// The Trakt catalogue addon (`/trakt/addon/<user id>/manifest.json`, catalogs, metas).
pub(crate) const ADDON_PREFIX: &str = "/trakt/addon/";

/// Stremio's Trakt OAuth app (public: it appears in the authorize URL).
pub const TRAKT_CLIENT_ID: &str =
    "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";

/// Analytics events that Stremio's servers turn into Trakt scrobbles.
pub(crate) const TRAKT_EVENTS: &[&str] = &["traktPlaying", "traktPaused"];

/// The `eventName` of an analytics event in an `events` call, when it is one
/// of [`TRAKT_EVENTS`].
pub(crate) fn trakt_event_name(event: &serde_json::Value) -> Option<&str> {
    let name = event.get("eventName")?.as_str()?;
    TRAKT_EVENTS.contains(&name).then_some(name)
}

/// Below this much time left (or a quarter of the token's lifetime, if shorter), a token is
/// about to expire (Stremio cannot refresh it itself).
pub(crate) const EXPIRY_WARNING_SECONDS: i64 = 24 * 60 * 60;

/// The calls that answer `{authKey, user}`: the user carries the same
/// `trakt` object as getUser's answer.
pub(crate) const SIGN_IN_CALLS: &[&str] = &[
    "/api/login",
    "/api/loginWithToken",
    "/api/register",
    "/api/authWithFacebook",
];

/// Where Trakt sends the browser back with `code` and `state` after the authorize page.
pub(crate) const CALLBACK_PATH: &str = "/trakt/auth_cb";

/// Whether a request belongs to the Trakt link flow as the browser walks
/// it: Stremio's `/trakt/auth/<id>` and `/trakt/auth_cb` pages, and
/// Trakt's pages (sign-in, authorize; the authorize page also when it is
/// wrongly opened on the API host).
pub(crate) fn is_link_flow(host: &str, path: &str) -> bool {
    let trakt_site = host == "trakt.tv" || host.ends_with(".trakt.tv");
    let api = crate::spec::trakt::API_HOSTS.contains(&host);
    (host == WEB_HOST && (path.starts_with(AUTH_PREFIX) || path == CALLBACK_PATH))
        || (trakt_site && !api)
        || (api && path == "/oauth/authorize")
}

/// The site whose cookies a request to `host` carries, as a browser's
/// settings name it (Settings → Privacy → cookies and site data).
pub(crate) fn cookie_site(host: &str) -> &str {
    if host == "strem.io" || host.ends_with(".strem.io") {
        "strem.io"
    } else if host == "trakt.tv" || host.ends_with(".trakt.tv") {
        "trakt.tv"
    } else {
        host
    }
}
