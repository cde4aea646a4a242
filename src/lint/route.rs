//! Route rules: the method and path against Trakt's endpoint table, the
//! ids in the path, and query parameters.

use super::{Finding, Rule, Severity, Subject};
use crate::spec::trakt::{BodyShape, RouteMatch, EXTENDED_VALUES, MAX_PAGE_LIMIT};

pub const UNKNOWN: Rule = Rule {
    id: "route.unknown",
    severity: Severity::Error,
    summary: "The path is not a Trakt API v2 endpoint.",
    why: "Trakt answers 404 (or 405) to paths it does not have: usually a typo, a v1 path, or a stale client after an API change.",
    bad: "POST /sync/histroy",
    good: "POST /sync/history",
    autofix: None,
};

pub const METHOD: Rule = Rule {
    id: "route.method",
    severity: Severity::Error,
    summary: "The path exists, but not with this HTTP method.",
    why: "Trakt answers 405 (Method Not Found) when, say, a scrobble is sent with GET.",
    bad: "GET /scrobble/start",
    good: "POST /scrobble/start",
    autofix: None,
};

pub const ID_MALFORMED: Rule = Rule {
    id: "route.id.malformed",
    severity: Severity::Error,
    summary: "An id in the path has the wrong shape (an IMDb id without `tt`, a non-numeric Trakt id, ...).",
    why: "Trakt cannot find the item and answers 404, or matches the wrong item.",
    bad: "GET /search/imdb/2015381",
    good: "GET /search/imdb/tt2015381",
    autofix: None,
};

pub const PARAM_NUMBER: Rule = Rule {
    id: "route.param.number",
    severity: Severity::Error,
    summary: "A season, episode, rating or day count in the path is not a whole number in range.",
    why: "Trakt answers 404 (no such record) or 400 to `/seasons/one` or `/ratings/movies/11`.",
    bad: "GET /shows/tt0903747/seasons/S01",
    good: "GET /shows/tt0903747/seasons/1",
    autofix: None,
};

pub const PAGINATION: Rule = Rule {
    id: "route.query.pagination",
    severity: Severity::Warning,
    summary: "`page` or `limit` is not a positive whole number.",
    why: "Trakt ignores or rejects such values (400), so the client may loop on page 1 or miss items.",
    bad: "GET /sync/history?page=0&limit=all",
    good: "GET /sync/history?page=1&limit=100",
    autofix: None,
};

pub const LIMIT_CLAMPED: Rule = Rule {
    id: "route.query.limit-clamped",
    severity: Severity::Info,
    summary: "`limit` is above 250; Trakt clamps it.",
    why: "Trakt returns at most 250 items per page whatever is asked; a client that expects more stops early. Read `X-Pagination-Page-Count`.",
    bad: "GET /sync/history?limit=1000",
    good: "GET /sync/history?limit=250&page=1 (then page=2, ...)",
    autofix: None,
};

pub const EXTENDED: Rule = Rule {
    id: "route.query.extended",
    severity: Severity::Warning,
    summary: "`extended` has a value Trakt does not document.",
    why: "Unknown levels are ignored, so the client gets the minimal objects (title, year, ids) it did not expect.",
    bad: "GET /movies/trending?extended=fulll",
    good: "GET /movies/trending?extended=full",
    autofix: None,
};

pub const SEARCH_QUERY: Rule = Rule {
    id: "route.search.query",
    severity: Severity::Error,
    summary: "A text search has no `query`, or an unknown search type.",
    why: "`/search/{type}` needs `?query=` and a type among movie, show, episode, person, list; otherwise Trakt answers 400/404 or returns nothing.",
    bad: "GET /search/movies?q=heat",
    good: "GET /search/movie?query=heat",
    autofix: None,
};

pub const BODY_MISSING: Rule = Rule {
    id: "route.body.missing",
    severity: Severity::Error,
    summary: "The endpoint expects a JSON body, but none is sent.",
    why: "Trakt cannot parse an empty body and answers 400 (or 422).",
    bad: "POST /scrobble/start  (empty body)",
    good: "POST /scrobble/start\n\n{\"movie\":{\"ids\":{\"imdb\":\"tt2015381\"}},\"progress\":1.5}",
    autofix: None,
};

pub const BODY_UNEXPECTED: Rule = Rule {
    id: "route.body.unexpected",
    severity: Severity::Warning,
    summary: "A body is sent with a GET or DELETE.",
    why: "Trakt ignores it; the client probably meant a POST (or put the data in the wrong place).",
    bad: "GET /sync/history\n\n{\"movies\":[...]}",
    good: "POST /sync/history\n\n{\"movies\":[...]}",
    autofix: None,
};

pub const RULES: &[&Rule] = &[
    &UNKNOWN,
    &METHOD,
    &ID_MALFORMED,
    &PARAM_NUMBER,
    &PAGINATION,
    &LIMIT_CLAMPED,
    &EXTENDED,
    &SEARCH_QUERY,
    &BODY_MISSING,
    &BODY_UNEXPECTED,
];

const SEARCH_TYPES: &[&str] = &["movie", "show", "episode", "person", "list"];

/// Whether `s` is an IMDb id: `tt` and at least five digits.
pub fn is_imdb_id(s: &str) -> bool {
    s.len() >= 7 && s.starts_with("tt") && s[2..].bytes().all(|b| b.is_ascii_digit())
}

fn is_uint(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    match &s.route {
        Some(RouteMatch::Unknown { suggestion }) => {
            if s.path == "/oauth/authorize" {
                return; // oauth.authorize.api-host says it better.
            }
            let hint = suggestion.map_or(String::new(), |e| {
                format!("; did you mean {} {}?", e.method, e.path)
            });
            out.push(UNKNOWN.finding(
                "/",
                format!("{} {} is not a Trakt API endpoint{hint}", s.method, s.path),
            ));
            return;
        }
        Some(RouteMatch::WrongMethod { allowed, path }) => {
            out.push(METHOD.finding(
                "/",
                format!("{path} takes {}, not {}", allowed.join(" or "), s.method),
            ));
            return;
        }
        _ => {}
    }
    let Some(endpoint) = s.endpoint() else { return };
    check_path_params(s, endpoint.path, out);
    check_query(s, out);
    let has_body = !s.request.body.is_empty();
    if endpoint.body == BodyShape::None
        && has_body
        && matches!(s.method.as_str(), "GET" | "DELETE" | "HEAD")
    {
        out.push(BODY_UNEXPECTED.finding(
            "/",
            format!(
                "{} {} takes no body; it will be ignored",
                s.method, endpoint.path
            ),
        ));
    }
    if endpoint.body != BodyShape::None && !has_body {
        out.push(BODY_MISSING.finding(
            "/",
            format!("{} {} needs a JSON body", s.method, endpoint.path),
        ));
    }
}

fn check_path_params(s: &Subject, template: &str, out: &mut Vec<Finding>) {
    if let Some(id) = s.param("id") {
        let id_type = s.param("id_type");
        let problem = match id_type {
            Some("imdb") if !is_imdb_id(id) => Some(format!(
                "`{id}` is not an IMDb id (`tt` followed by digits)"
            )),
            Some("trakt" | "tmdb" | "tvdb") if !is_uint(id) => Some(format!(
                "a {} id is a number, not `{id}`",
                id_type.unwrap_or_default()
            )),
            None if id.len() > 2 && id[..2].eq_ignore_ascii_case("tt") && !is_imdb_id(id) => Some(
                format!("`{id}` looks like an IMDb id but is not `tt` followed by digits"),
            ),
            None if id.bytes().any(|b| b.is_ascii_uppercase() || b == b' ') => Some(format!(
                "`{id}` is neither a Trakt id, a slug (lower case, dashes) nor an IMDb id"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            out.push(ID_MALFORMED.finding(format!("path {{id}} in {template}"), problem));
        }
    }
    for (name, max) in [
        ("season", None),
        ("episode", None),
        ("days", Some(33)),
        ("rating", Some(10)),
    ] {
        if let Some(value) = s.param(name) {
            let ok = is_uint(value)
                && value
                    .parse::<u32>()
                    .is_ok_and(|n| max.is_none_or(|m| n >= 1 && n <= m));
            if !ok {
                let range = max.map_or(String::new(), |m| format!(" from 1 to {m}"));
                out.push(PARAM_NUMBER.finding(
                    format!("path {{{name}}}"),
                    format!("{name} `{value}` is not a whole number{range}"),
                ));
            }
        }
    }
    if template == "/search/{type}" {
        let types = s.param("type").unwrap_or_default();
        if let Some(bad) = types.split(',').find(|t| !SEARCH_TYPES.contains(t)) {
            out.push(SEARCH_QUERY.finding(
                "path {type}",
                format!("`{bad}` is not a search type ({})", SEARCH_TYPES.join(", ")),
            ));
        }
        if !s
            .query
            .iter()
            .any(|(k, v)| k == "query" && !v.trim().is_empty())
        {
            out.push(SEARCH_QUERY.finding("query", "a text search needs `?query=`"));
        }
    }
}

fn check_query(s: &Subject, out: &mut Vec<Finding>) {
    for (key, value) in &s.query {
        match key.as_str() {
            "page" | "limit" => {
                match value.parse::<u64>() {
                    Ok(n) if n >= 1 => {
                        if key == "limit" && n > MAX_PAGE_LIMIT {
                            out.push(LIMIT_CLAMPED.finding(
                            "query limit",
                            format!("limit={n} is clamped to {MAX_PAGE_LIMIT}; page through the rest"),
                        ));
                        }
                    }
                    _ => out.push(PAGINATION.finding(
                        format!("query {key}"),
                        format!("{key}=`{value}` is not a positive whole number"),
                    )),
                }
            }
            "extended" => {
                for level in value.split(',') {
                    if !EXTENDED_VALUES.contains(&level.trim()) {
                        out.push(EXTENDED.finding(
                            "query extended",
                            format!(
                                "extended=`{level}` is not one of {}",
                                EXTENDED_VALUES.join(", ")
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}
