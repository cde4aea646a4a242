//! The Trakt API v2 as a table of endpoints, and route matching against it.
//!
//! A path template is a `/`-separated list of segments: a literal
//! (`scrobble`), a placeholder (`{id}`), or a placeholder limited to some
//! values (`{type:movies|shows}`).

/// The hosts that serve the Trakt API (production and staging).
pub const API_HOSTS: &[&str] = &["api.trakt.tv", "api-staging.trakt.tv"];

/// The website hosts, where the OAuth authorize page lives.
pub const WEBSITE_HOSTS: &[&str] = &["trakt.tv", "auth.trakt.tv", "staging.trakt.tv"];

/// The API version every request must name in `trakt-api-version`.
pub const API_VERSION: &str = "2";

/// Page sizes above this are clamped by Trakt (not rejected).
pub const MAX_PAGE_LIMIT: u64 = 250;

/// Values Trakt documents for `?extended=` (comma-separated).
pub const EXTENDED_VALUES: &[&str] = &[
    "full",
    "images",
    "min",
    "metadata",
    "noseasons",
    "episodes",
    "guest_stars",
    "comments",
    "vip",
];

/// Whether an endpoint needs an OAuth access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Required,
    Optional,
    None,
}

/// The request body an endpoint expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    None,
    /// `/scrobble/*`: `movie` or `episode` (+ `show`), `progress` 0–100.
    Scrobble,
    /// `/checkin`: like scrobble, without progress.
    Checkin,
    /// Bulk `movies`/`shows`/`seasons`/`episodes` arrays (sync, list items).
    Items,
    /// Like [`BodyShape::Items`], each item with a `rating` 1–10.
    Ratings,
    /// Like [`BodyShape::Items`], or `ids` of history entries.
    HistoryRemove,
    /// `/oauth/token`: code exchange or refresh.
    OAuthToken,
    /// `/oauth/revoke`.
    OAuthRevoke,
    /// `/oauth/device/code`.
    DeviceCode,
    /// `/oauth/device/token`.
    DeviceToken,
    /// A JSON object we do not check field by field (lists, comments, settings).
    Object,
}

#[derive(Debug)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: Auth,
    pub body: BodyShape,
    /// The status Trakt answers on success.
    pub success: u16,
}

const fn e(
    method: &'static str,
    path: &'static str,
    auth: Auth,
    body: BodyShape,
    success: u16,
) -> Endpoint {
    Endpoint {
        method,
        path,
        auth,
        body,
        success,
    }
}

use Auth::{None as Public, Optional, Required};
use BodyShape as B;

/// Every endpoint trakt-doctor knows, grouped as Trakt's docs group them.
pub const ENDPOINTS: &[Endpoint] = &[
    // OAuth (the authorize page is on the website host, see WEBSITE_HOSTS).
    e("POST", "/oauth/token", Public, B::OAuthToken, 200),
    e("POST", "/oauth/revoke", Public, B::OAuthRevoke, 200),
    e("POST", "/oauth/device/code", Public, B::DeviceCode, 200),
    e("POST", "/oauth/device/token", Public, B::DeviceToken, 200),
    // Scrobble and checkin.
    e("POST", "/scrobble/start", Required, B::Scrobble, 201),
    e("POST", "/scrobble/pause", Required, B::Scrobble, 201),
    e("POST", "/scrobble/stop", Required, B::Scrobble, 201),
    e("POST", "/checkin", Required, B::Checkin, 201),
    e("DELETE", "/checkin", Required, B::None, 204),
    // Sync.
    e("GET", "/sync/last_activities", Required, B::None, 200),
    e("GET", "/sync/playback", Required, B::None, 200),
    e("GET", "/sync/playback/{type:movies|episodes}", Required, B::None, 200),
    e("DELETE", "/sync/playback/{playback_id}", Required, B::None, 204),
    e("GET", "/sync/collection/{type:movies|shows}", Required, B::None, 200),
    e("POST", "/sync/collection", Required, B::Items, 201),
    e("POST", "/sync/collection/remove", Required, B::Items, 200),
    e("GET", "/sync/watched/{type:movies|shows}", Required, B::None, 200),
    e("GET", "/sync/history", Required, B::None, 200),
    e("GET", "/sync/history/{type:movies|shows|seasons|episodes}", Required, B::None, 200),
    e("GET", "/sync/history/{type:movies|shows|seasons|episodes}/{id}", Required, B::None, 200),
    e("POST", "/sync/history", Required, B::Items, 201),
    e("POST", "/sync/history/remove", Required, B::HistoryRemove, 200),
    e("GET", "/sync/ratings", Required, B::None, 200),
    e("GET", "/sync/ratings/{type:movies|shows|seasons|episodes|all}", Required, B::None, 200),
    e("GET", "/sync/ratings/{type:movies|shows|seasons|episodes|all}/{rating}", Required, B::None, 200),
    e("POST", "/sync/ratings", Required, B::Ratings, 201),
    e("POST", "/sync/ratings/remove", Required, B::Items, 200),
    e("GET", "/sync/watchlist", Required, B::None, 200),
    e("GET", "/sync/watchlist/{type:movies|shows|seasons|episodes}", Required, B::None, 200),
    e("GET", "/sync/watchlist/{type:movies|shows|seasons|episodes}/{sort}", Required, B::None, 200),
    e("POST", "/sync/watchlist", Required, B::Items, 201),
    e("POST", "/sync/watchlist/remove", Required, B::Items, 200),
    e("POST", "/sync/watchlist/reorder", Required, B::Object, 200),
    e("GET", "/sync/favorites", Required, B::None, 200),
    e("GET", "/sync/favorites/{type:movies|shows}", Required, B::None, 200),
    e("GET", "/sync/favorites/{type:movies|shows}/{sort}", Required, B::None, 200),
    e("POST", "/sync/favorites", Required, B::Items, 201),
    e("POST", "/sync/favorites/remove", Required, B::Items, 200),
    // Recommendations.
    e("GET", "/recommendations/{type:movies|shows}", Required, B::None, 200),
    e("DELETE", "/recommendations/{type:movies|shows}/{id}", Required, B::None, 204),
    // Users.
    e("GET", "/users/settings", Required, B::None, 200),
    e("GET", "/users/{user}", Optional, B::None, 200),
    e("GET", "/users/{user}/stats", Optional, B::None, 200),
    e("GET", "/users/{user}/history", Optional, B::None, 200),
    e("GET", "/users/{user}/history/{type:movies|shows|seasons|episodes}", Optional, B::None, 200),
    e("GET", "/users/{user}/history/{type:movies|shows|seasons|episodes}/{id}", Optional, B::None, 200),
    e("GET", "/users/{user}/watched/{type:movies|shows}", Optional, B::None, 200),
    e("GET", "/users/{user}/watchlist", Optional, B::None, 200),
    e("GET", "/users/{user}/watchlist/{type:movies|shows|seasons|episodes}", Optional, B::None, 200),
    e("GET", "/users/{user}/watchlist/{type:movies|shows|seasons|episodes}/{sort}", Optional, B::None, 200),
    e("GET", "/users/{user}/ratings", Optional, B::None, 200),
    e("GET", "/users/{user}/ratings/{type:movies|shows|seasons|episodes|all}", Optional, B::None, 200),
    e("GET", "/users/{user}/ratings/{type:movies|shows|seasons|episodes|all}/{rating}", Optional, B::None, 200),
    e("GET", "/users/{user}/favorites", Optional, B::None, 200),
    e("GET", "/users/{user}/favorites/{type:movies|shows}", Optional, B::None, 200),
    e("GET", "/users/{user}/lists", Optional, B::None, 200),
    e("POST", "/users/{user}/lists", Required, B::Object, 201),
    e("GET", "/users/{user}/lists/{list}", Optional, B::None, 200),
    e("PUT", "/users/{user}/lists/{list}", Required, B::Object, 200),
    e("DELETE", "/users/{user}/lists/{list}", Required, B::None, 204),
    e("GET", "/users/{user}/lists/{list}/items", Optional, B::None, 200),
    e("GET", "/users/{user}/lists/{list}/items/{type:movie|show|season|episode|person|movies|shows|seasons|episodes|people}", Optional, B::None, 200),
    e("POST", "/users/{user}/lists/{list}/items", Required, B::Items, 201),
    e("POST", "/users/{user}/lists/{list}/items/remove", Required, B::Items, 200),
    // Search.
    e("GET", "/search/{type}", Optional, B::None, 200),
    e("GET", "/search/{id_type:trakt|imdb|tmdb|tvdb}/{id}", Optional, B::None, 200),
    // Movies.
    e("GET", "/movies/trending", Optional, B::None, 200),
    e("GET", "/movies/popular", Optional, B::None, 200),
    e("GET", "/movies/anticipated", Optional, B::None, 200),
    e("GET", "/movies/boxoffice", Optional, B::None, 200),
    e("GET", "/movies/updates", Optional, B::None, 200),
    e("GET", "/movies/updates/{start_date}", Optional, B::None, 200),
    e("GET", "/movies/{id}", Optional, B::None, 200),
    e("GET", "/movies/{id}/aliases", Optional, B::None, 200),
    e("GET", "/movies/{id}/releases/{country}", Optional, B::None, 200),
    e("GET", "/movies/{id}/translations", Optional, B::None, 200),
    e("GET", "/movies/{id}/people", Optional, B::None, 200),
    e("GET", "/movies/{id}/ratings", Optional, B::None, 200),
    e("GET", "/movies/{id}/related", Optional, B::None, 200),
    e("GET", "/movies/{id}/stats", Optional, B::None, 200),
    e("GET", "/movies/{id}/watching", Optional, B::None, 200),
    // Shows, seasons, episodes.
    e("GET", "/shows/trending", Optional, B::None, 200),
    e("GET", "/shows/popular", Optional, B::None, 200),
    e("GET", "/shows/anticipated", Optional, B::None, 200),
    e("GET", "/shows/updates", Optional, B::None, 200),
    e("GET", "/shows/{id}", Optional, B::None, 200),
    e("GET", "/shows/{id}/aliases", Optional, B::None, 200),
    e("GET", "/shows/{id}/translations", Optional, B::None, 200),
    e("GET", "/shows/{id}/people", Optional, B::None, 200),
    e("GET", "/shows/{id}/ratings", Optional, B::None, 200),
    e("GET", "/shows/{id}/related", Optional, B::None, 200),
    e("GET", "/shows/{id}/stats", Optional, B::None, 200),
    e("GET", "/shows/{id}/watching", Optional, B::None, 200),
    e("GET", "/shows/{id}/next_episode", Optional, B::None, 200),
    e("GET", "/shows/{id}/last_episode", Optional, B::None, 200),
    e("GET", "/shows/{id}/progress/watched", Required, B::None, 200),
    e("GET", "/shows/{id}/progress/collection", Required, B::None, 200),
    e("GET", "/shows/{id}/seasons", Optional, B::None, 200),
    e("GET", "/shows/{id}/seasons/{season}", Optional, B::None, 200),
    e("GET", "/shows/{id}/seasons/{season}/episodes/{episode}", Optional, B::None, 200),
    e("GET", "/shows/{id}/seasons/{season}/episodes/{episode}/ratings", Optional, B::None, 200),
    e("GET", "/shows/{id}/seasons/{season}/episodes/{episode}/stats", Optional, B::None, 200),
    // Calendars.
    e("GET", "/calendars/my/{kind:shows|movies|dvd}", Required, B::None, 200),
    e("GET", "/calendars/my/shows/new", Required, B::None, 200),
    e("GET", "/calendars/my/shows/premieres", Required, B::None, 200),
    e("GET", "/calendars/my/{kind:shows|movies|dvd}/{start_date}/{days}", Required, B::None, 200),
    e("GET", "/calendars/all/{kind:shows|movies|dvd}", Optional, B::None, 200),
    e("GET", "/calendars/all/{kind:shows|movies|dvd}/{start_date}/{days}", Optional, B::None, 200),
    // Lists and reference data.
    e("GET", "/lists/trending", Optional, B::None, 200),
    e("GET", "/lists/popular", Optional, B::None, 200),
    e("GET", "/lists/{list}", Optional, B::None, 200),
    e("GET", "/lists/{list}/items", Optional, B::None, 200),
    e("GET", "/genres/{type:movies|shows}", Public, B::None, 200),
    e("GET", "/languages/{type:movies|shows}", Public, B::None, 200),
    e("GET", "/countries/{type:movies|shows}", Public, B::None, 200),
    e("GET", "/certifications/{type:movies|shows}", Public, B::None, 200),
    e("GET", "/networks", Public, B::None, 200),
];

/// One segment of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'t> {
    Literal(&'t str),
    Param {
        name: &'t str,
        allowed: Option<&'t str>,
    },
}

pub fn segments(template: &str) -> impl Iterator<Item = Segment<'_>> {
    template.trim_start_matches('/').split('/').map(|seg| {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => match inner.split_once(':') {
                Some((name, allowed)) => Segment::Param {
                    name,
                    allowed: Some(allowed),
                },
                None => Segment::Param {
                    name: inner,
                    allowed: None,
                },
            },
            None => Segment::Literal(seg),
        }
    })
}

/// Every endpoint with its template split into segments, once per process:
/// routing runs on every request.
fn compiled() -> &'static [(&'static Endpoint, Vec<Segment<'static>>)] {
    static COMPILED: std::sync::LazyLock<Vec<(&'static Endpoint, Vec<Segment<'static>>)>> =
        std::sync::LazyLock::new(|| {
            ENDPOINTS
                .iter()
                .map(|endpoint| (endpoint, segments(endpoint.path).collect()))
                .collect()
        });
    &COMPILED
}

/// Placeholder values by name.
pub type Params = Vec<(&'static str, String)>;

/// How a request's method and path relate to the table.
#[derive(Debug)]
pub enum RouteMatch {
    /// A known endpoint; the placeholders' values by name.
    Found {
        endpoint: &'static Endpoint,
        params: Params,
    },
    /// The path exists, but not for this method.
    WrongMethod {
        allowed: Vec<&'static str>,
        path: &'static str,
    },
    /// No such path; the closest known one, if any is close.
    Unknown {
        suggestion: Option<&'static Endpoint>,
    },
}

/// Matches `path` (without query) against the table. Among templates that
/// fit, the one with the most literal segments wins (`/movies/trending`
/// over `/movies/{id}`).
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let parts: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    // How well a template fits: the number of segments it pins down, or None.
    let score = |template: &[Segment<'static>]| -> Option<usize> {
        if template.len() != parts.len() {
            return None;
        }
        let mut literals = 0;
        for (seg, part) in template.iter().zip(&parts) {
            match seg {
                Segment::Literal(lit) => {
                    if !lit.eq_ignore_ascii_case(part) {
                        return None;
                    }
                    literals += 1;
                }
                Segment::Param { allowed, .. } => {
                    if part.is_empty() {
                        return None;
                    }
                    if let Some(allowed) = allowed {
                        if !allowed.split('|').any(|a| a == *part) {
                            return None;
                        }
                        literals += 1;
                    }
                }
            }
        }
        Some(literals)
    };
    let mut best_any: Option<(usize, &'static Endpoint)> = None;
    let mut best_method: Option<(usize, &'static Endpoint, &[Segment<'static>])> = None;
    for (endpoint, template) in compiled() {
        if let Some(score) = score(template) {
            if best_any.is_none_or(|(s, _)| score > s) {
                best_any = Some((score, endpoint));
            }
            if endpoint.method.eq_ignore_ascii_case(method)
                && best_method.is_none_or(|(s, _, _)| score > s)
            {
                best_method = Some((score, endpoint, template));
            }
        }
    }
    let best_method = best_method.map(|(score, endpoint, template)| {
        let params: Params = template
            .iter()
            .zip(&parts)
            .filter_map(|(seg, part)| match seg {
                Segment::Param { name, .. } => Some((*name, percent_decode(part))),
                Segment::Literal(_) => None,
            })
            .collect();
        (score, endpoint, params)
    });
    match (best_method, best_any) {
        (Some((score, endpoint, params)), Some((any_score, _))) if score >= any_score => {
            RouteMatch::Found { endpoint, params }
        }
        (_, Some((_, closest))) => RouteMatch::WrongMethod {
            allowed: ENDPOINTS
                .iter()
                .filter(|e| e.path == closest.path)
                .map(|e| e.method)
                .collect(),
            path: closest.path,
        },
        (_, None) => RouteMatch::Unknown {
            suggestion: suggest(&parts),
        },
    }
}

/// The closest template to an unknown path, by edit distance over literal
/// segments (placeholders match anything); `None` when nothing is close.
fn suggest(parts: &[&str]) -> Option<&'static Endpoint> {
    let mut best: Option<(usize, &'static Endpoint)> = None;
    for endpoint in ENDPOINTS {
        let segs: Vec<Segment> = segments(endpoint.path).collect();
        let mut cost = segs.len().abs_diff(parts.len()) * 4;
        for (seg, part) in segs.iter().zip(parts) {
            if let Segment::Literal(lit) = seg {
                cost += edit_distance(&lit.to_ascii_lowercase(), &part.to_ascii_lowercase());
            }
        }
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, endpoint));
        }
    }
    best.filter(|(cost, _)| *cost <= 3).map(|(_, e)| e)
}

/// Levenshtein distance (for "did you mean" and key typos).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = current;
        }
    }
    row[b.len()]
}

/// Decodes `%XX` escapes (lossy on invalid UTF-8).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a query string into decoded pairs (`+` is a space).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        for (i, a) in ENDPOINTS.iter().enumerate() {
            assert!(a.path.starts_with('/'), "{}", a.path);
            for b in &ENDPOINTS[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "duplicate {} {}",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn literal_routes_win_over_placeholders() {
        match match_route("GET", "/movies/trending") {
            RouteMatch::Found { endpoint, params } => {
                assert_eq!(endpoint.path, "/movies/trending");
                assert!(params.is_empty());
            }
            other => panic!("{other:?}"),
        }
        match match_route("GET", "/shows/tt0903747/seasons/1/episodes/2") {
            RouteMatch::Found { params, .. } => {
                assert_eq!(
                    params,
                    vec![
                        ("id", "tt0903747".into()),
                        ("season", "1".into()),
                        ("episode", "2".into())
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_methods_and_unknown_paths() {
        match match_route("GET", "/scrobble/start") {
            RouteMatch::WrongMethod { allowed, .. } => assert_eq!(allowed, vec!["POST"]),
            other => panic!("{other:?}"),
        }
        match match_route("POST", "/sync/histroy") {
            RouteMatch::Unknown { suggestion } => {
                assert_eq!(suggestion.unwrap().path, "/sync/history")
            }
            other => panic!("{other:?}"),
        }
        match match_route("GET", "/completely/else/here") {
            RouteMatch::Unknown { suggestion } => assert!(suggestion.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("history", "histroy"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
