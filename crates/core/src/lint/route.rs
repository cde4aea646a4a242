//! Route rules: the method and path against Trakt's contract, the values in
//! the path, and the query parameters.
//!
//! Severity follows what is known: a path the contract snapshot lacks is a
//! warning (a typo, a renamed endpoint, or one newer than the snapshot); a
//! method the path does not take, or a path value that cannot name a record,
//! is an error.

use serde_json::Value;

use super::{Finding, Rule, Scope, Severity, Subject};
use crate::spec::schema::{self, Kind, Schema};
use crate::spec::trakt::{self, BodyShape, RouteMatch, MAX_PAGE_LIMIT};
use crate::text::edit_distance;

pub(crate) const UNKNOWN: Rule = Rule {
    id: "route.unknown",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "The path is not in the snapshot of Trakt's contract.",
    why: "Trakt answers 404 to paths it does not have: usually a typo, a v1 path, or a stale client after an API change. It may also be an endpoint newer than the snapshot trakt-doctor was built with, so this is a warning.",
    bad: "POST /sync/histroy",
    good: "POST /sync/history",
    autofix: None,
    source: "Trakt contract: the paths of the snapshot's operations (Trakt may have added paths since, hence a warning)",
};

pub(crate) const METHOD: Rule = Rule {
    id: "route.method",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The path exists, but not with this HTTP method.",
    why: "Trakt answers 405 (Method Not Found) when, say, a scrobble is sent with GET.",
    bad: "GET /scrobble/start",
    good: "POST /scrobble/start",
    autofix: None,
    source: "Trakt contract: the methods the path's operations take; Trakt docs: guides/status-codes.md (405: method doesn't exist)",
};

pub(crate) const ID_MALFORMED: Rule = Rule {
    id: "route.id.malformed",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "An id in the path has the wrong shape (an IMDb id without `tt`, a non-numeric Trakt id, ...).",
    why: "Trakt cannot find the item and answers 404, or matches the wrong item.",
    bad: "GET /search/imdb/2015381",
    good: "GET /search/imdb/tt2015381",
    autofix: None,
    source: "Trakt contract: ids objects type `trakt`, `tmdb` and `tvdb` as integers and `imdb` as a string; Trakt docs: guides/status-codes.md (404: no record found); trakt-doctor's own reading: an IMDb id is `tt` and digits, as in Trakt's examples",
};

pub(crate) const RENAMED: Rule = Rule {
    id: "route.renamed",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "The endpoint was removed or renamed by Trakt.",
    why: "Trakt renamed some endpoints (2023: `recommended` charts became `favorited`, personal recommendations became favorites); clients written before still call the old paths and get 404.",
    bad: "GET /movies/recommended/weekly",
    good: "GET /movies/favorited/weekly",
    autofix: None,
    source: "Trakt contract: the snapshot has `/movies/favorited/{period}`, `/shows/favorited/{period}` and `/sync/favorites`, and none of the `recommended`/`recommendations` paths they replaced",
};

pub(crate) const PARAM_VALUE: Rule = Rule {
    id: "route.param.value",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A value in the path is not one the contract lists for it (`type`, `period`, `sort`, ...).",
    why: "Trakt's routes accept only their listed values there (`/search/movie`, not `/search/movies`); anything else is a path Trakt does not have (404), unless Trakt added the value after the snapshot.",
    bad: "GET /search/movies?query=heat",
    good: "GET /search/movie?query=heat",
    autofix: None,
    source: "Trakt contract: the values the operation lists for each path parameter",
};

pub(crate) const PARAM_NUMBER: Rule = Rule {
    id: "route.param.number",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A season, episode, rating or day count in the path is not a whole number in range.",
    why: "Trakt answers 404 (no such record) or 400 to `/seasons/one` or `/ratings/movies/11`.",
    bad: "GET /shows/tt0903747/seasons/S01",
    good: "GET /shows/tt0903747/seasons/1",
    autofix: None,
    source: "Trakt contract: `season` and `episode` are integers from 0, `days` an integer, a rating 1 to 10 (POST /sync/ratings); trakt-doctor's own reading: at most 33 `days`, and the status Trakt answers",
};

pub(crate) const PAGINATION: Rule = Rule {
    id: "route.query.pagination",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "`page` or `limit` is not a positive whole number.",
    why: "Trakt ignores or rejects such values (400), so the client may loop on page 1 or miss items.",
    bad: "GET /sync/history?page=0&limit=all",
    good: "GET /sync/history?page=1&limit=100",
    autofix: None,
    source: "Trakt docs: guides/pagination.md (`page` and `limit`); Trakt contract: both are integers (`limit=all` where an operation types it as text)",
};

pub(crate) const LIMIT_CLAMPED: Rule = Rule {
    id: "route.query.limit-clamped",
    severity: Severity::Info,
    scope: Scope::Request,
    summary: "`limit` is above 250; Trakt clamps it.",
    why: "Trakt returns at most 250 items per page whatever is asked; a client that expects more stops early. Read `X-Pagination-Page-Count`.",
    bad: "GET /sync/history?limit=1000",
    good: "GET /sync/history?limit=250&page=1 (then page=2, ...)",
    autofix: None,
    source: "Trakt docs: guides/pagination.md (a `limit` above 250 is clamped, not rejected)",
};

pub(crate) const QUERY_MISSPELT: Rule = Rule {
    id: "route.query.misspelt",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A query parameter the operation does not read, one or two letters away from one it reads.",
    why: "Trakt silently ignores query parameters it does not know: `field=` where Trakt reads `fields`, or `extend=` for `extended`, returns the default answer and the client never learns why its option did nothing.",
    bad: "GET /movies/trending?extend=full",
    good: "GET /movies/trending?extended=full",
    autofix: None,
    source: "Trakt contract: the query parameters each operation reads; trakt-doctor's own reading: Trakt ignores the others rather than rejecting them",
};

pub(crate) const QUERY_UNKNOWN: Rule = Rule {
    id: "route.query.unknown",
    severity: Severity::Info,
    scope: Scope::Request,
    summary: "A query parameter the operation does not read.",
    why: "Trakt ignores query parameters an operation does not read; harmless, unless the client expects them to change the answer.",
    bad: "GET /movies/trending?sort=new",
    good: "GET /movies/trending",
    autofix: None,
    source: "Trakt contract: the query parameters each operation reads; trakt-doctor's own reading: Trakt ignores the others",
};

pub(crate) const QUERY_VALUE: Rule = Rule {
    id: "route.query.value",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A query parameter has a value of the wrong kind (not a number, not true/false, not among its listed values).",
    why: "Trakt ignores or rejects values it cannot read, so the filter or sort order the client asked for is not applied.",
    bad: "GET /sync/progress/up_next?sort_how=down",
    good: "GET /sync/progress/up_next?sort_how=desc",
    autofix: None,
    source: "Trakt contract: the type and listed values of each query parameter",
};

pub(crate) const EXTENDED: Rule = Rule {
    id: "route.query.extended",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "`extended` has a value Trakt does not document.",
    why: "Unknown levels are ignored, so the client gets the minimal objects (title, year, ids) it did not expect.",
    bad: "GET /movies/trending?extended=fulll",
    good: "GET /movies/trending?extended=full",
    autofix: None,
    source: "Trakt docs: guides/extended-info.md (`full`, `images`, `min`, `metadata`, comma-separated); Trakt contract: the `extended` values its operations read",
};

pub(crate) const SEARCH_QUERY: Rule = Rule {
    id: "route.search.query",
    severity: Severity::Info,
    scope: Scope::Request,
    summary: "A text search has no `query`.",
    why: "`/search/{type}` searches for the `?query=` text; without it Trakt has nothing to search for and returns nothing useful. The contract does not make `query` required, so this is only information.",
    bad: "GET /search/movies?q=heat",
    good: "GET /search/movie?query=heat",
    autofix: None,
    source: "Trakt contract: GET /search/{type} reads `query` and does not mark it required; Trakt docs: guides/search.md",
};

pub(crate) const BODY_MISSING: Rule = Rule {
    id: "route.body.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The endpoint expects a JSON body, but none is sent.",
    why: "Trakt cannot parse an empty body and answers 400 (or 422).",
    bad: "POST /scrobble/start  (empty body)",
    good: "POST /scrobble/start\n\n{\"movie\":{\"ids\":{\"imdb\":\"tt2015381\"}},\"progress\":1.5}",
    autofix: None,
    source: "Trakt contract: the operation's body schema has required fields; Trakt docs: guides/status-codes.md (400: request couldn't be parsed, 422: validation errors)",
};

pub(crate) const BODY_UNEXPECTED: Rule = Rule {
    id: "route.body.unexpected",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A body is sent with a GET or DELETE.",
    why: "Trakt ignores it; the client probably meant a POST (or put the data in the wrong place). An empty JSON body (`{}` or `null`) on a DELETE is not flagged.",
    bad: "GET /sync/history\n\n{\"movies\":[...]}",
    good: "POST /sync/history\n\n{\"movies\":[...]}",
    autofix: None,
    source: "Trakt contract: the operation takes no body; trakt-doctor's own reading: Trakt ignores one",
};

/// The route rules, in catalogue order.
pub const RULES: &[&Rule] = &[
    &UNKNOWN,
    &RENAMED,
    &METHOD,
    &ID_MALFORMED,
    &PARAM_VALUE,
    &PARAM_NUMBER,
    &PAGINATION,
    &LIMIT_CLAMPED,
    &QUERY_MISSPELT,
    &QUERY_UNKNOWN,
    &QUERY_VALUE,
    &EXTENDED,
    &SEARCH_QUERY,
    &BODY_MISSING,
    &BODY_UNEXPECTED,
];

/// The id types `/search/{id_type}/{id}` looks up.
const ID_TYPES: &[&str] = &["trakt", "imdb", "tmdb", "tvdb"];

/// Query parameters Trakt reads on every list it pages through; an operation
/// the contract lists without them still accepts them silently.
const PAGING: &[&str] = &["page", "limit"];

/// Whether `s` is an IMDb id: `tt` and at least five digits.
pub(crate) fn is_imdb_id(s: &str) -> bool {
    s.len() >= 7
        && s.strip_prefix("tt")
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

/// `tt` (any case) and a digit: meant as an IMDb id, whatever follows.
fn meant_as_imdb(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes
        .get(..2)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"tt"))
        && bytes.get(2).is_some_and(u8::is_ascii_digit)
}

fn is_uint(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The route rules: the path, method, placeholders and query against the contract.
pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    let (endpoint, invalid) = match s.route() {
        Some(RouteMatch::Unknown { suggestion }) => {
            if s.path() == "/oauth/authorize" {
                return; // oauth.authorize.api-host says it better.
            }
            let hint = suggestion.map_or(String::new(), |e| {
                format!("; did you mean {} {}?", e.method, e.path)
            });
            out.push(UNKNOWN.finding(
                "/",
                format!(
                    "{} {} is not in the {}: a typo, a renamed endpoint, or one newer than this snapshot{hint}",
                    s.method(),
                    s.path(),
                    trakt::contract_label()
                ),
            ));
            return;
        }
        Some(RouteMatch::Renamed(renamed)) => {
            out.push(RENAMED.finding(
                "/",
                format!(
                    "{} {} is gone from Trakt's API; call {} instead",
                    renamed.method, renamed.path, renamed.replacement
                ),
            ));
            return;
        }
        Some(RouteMatch::WrongMethod { allowed, path }) => {
            out.push(METHOD.finding(
                "/",
                format!("{path} takes {}, not {}", allowed.join(" or "), s.method()),
            ));
            return;
        }
        Some(RouteMatch::Found {
            endpoint, invalid, ..
        }) => (*endpoint, invalid),
        None => return,
    };
    check_path_params(s, endpoint, invalid, out);
    check_query(s, endpoint, out);
    check_body_presence(s, endpoint, out);
}

fn check_body_presence(s: &Subject, endpoint: &trakt::Endpoint, out: &mut Vec<Finding>) {
    let raw = &s.request.body.bytes;
    let has_body = !raw.is_empty();
    if endpoint.body == BodyShape::None
        && has_body
        && matches!(s.method(), "GET" | "DELETE" | "HEAD")
    {
        // `{}` or `null` on a DELETE is what many HTTP libraries send by default.
        let empty_json = s
            .json()
            .is_some_and(|v| v.is_null() || v.as_object().is_some_and(|o| o.is_empty()));
        let blank = raw.iter().all(u8::is_ascii_whitespace);
        if !empty_json && !blank {
            out.push(BODY_UNEXPECTED.finding(
                "/",
                format!(
                    "{} {} takes no body; it will be ignored",
                    s.method(),
                    endpoint.path
                ),
            ));
        }
    }
    if !has_body
        && endpoint
            .details()
            .body_schema
            .as_ref()
            .is_some_and(needs_fields)
    {
        out.push(BODY_MISSING.finding(
            "/",
            format!("{} {} needs a JSON body", s.method(), endpoint.path),
        ));
    }
}

/// Whether a body schema requires something (an empty body cannot satisfy it).
fn needs_fields(schema: &Schema) -> bool {
    let contract = trakt::contract();
    let validator = schema::Validator {
        shared: &contract.shared,
        request: true,
        sample: None,
    };
    !validator
        .validate(&Value::Object(serde_json::Map::new()), schema)
        .is_empty()
}

fn check_path_params(
    s: &Subject,
    endpoint: &trakt::Endpoint,
    invalid: &[String],
    out: &mut Vec<Finding>,
) {
    let contract = trakt::contract();
    for name in invalid {
        let value = s.param(name).unwrap_or_default();
        let Some(schema) = endpoint.params.get(name) else {
            continue;
        };
        let schema = contract.resolve(schema);
        if let Some(allowed) = &schema.allowed {
            let values: Vec<String> = allowed.iter().map(schema::show).collect();
            let close = values
                .iter()
                .find(|v| edit_distance(v, &value.to_ascii_lowercase()) <= 2);
            let hint = close.map_or(String::new(), |v| format!("; did you mean `{v}`?"));
            out.push(PARAM_VALUE.finding(
                format!("path {{{name}}}"),
                format!(
                    "{name} `{value}` is not one of {} in {}{hint}",
                    values.join(", "),
                    endpoint.path
                ),
            ));
        } else if schema.kind == Some(Kind::Integer) {
            let floor = schema
                .minimum
                .map_or(String::new(), |m| format!(" from {m}"));
            out.push(PARAM_NUMBER.finding(
                format!("path {{{name}}}"),
                format!("{name} `{value}` is not a whole number{floor}"),
            ));
        }
    }
    check_ids(s, endpoint, out);
    if let Some(date) = s.param("start_date") {
        if !invalid.iter().any(|n| n == "start_date") && !looks_like_date(date) {
            out.push(PARAM_VALUE.finding(
                "path {start_date}",
                format!("start_date `{date}` is not a date (YYYY-MM-DD)"),
            ));
        }
    }
    for (name, max) in [("days", 33u32), ("rating", 10)] {
        let Some(value) = s.param(name) else { continue };
        if invalid.iter().any(|n| n == name) {
            continue;
        }
        // Ratings may be a comma list (`8,9,10`).
        let ok = value
            .split(',')
            .all(|v| is_uint(v) && v.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n)));
        if !ok {
            out.push(PARAM_NUMBER.finding(
                format!("path {{{name}}}"),
                format!("{name} `{value}` is not a whole number from 1 to {max}"),
            ));
        }
    }
}

/// `2026-01-31`, or a full ISO 8601 time that starts with one (Trakt reads both).
fn looks_like_date(value: &str) -> bool {
    let day = value.get(..10).unwrap_or(value);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    value.len() >= 10 && time::Date::parse(day, format).is_ok()
}

fn check_ids(s: &Subject, endpoint: &trakt::Endpoint, out: &mut Vec<Finding>) {
    let root = endpoint.path.split('/').nth(1).unwrap_or_default();
    let media = matches!(
        root,
        "movies" | "shows" | "people" | "search" | "recommendations"
    );
    let Some(id) = s.param("id") else { return };
    let id_type = s.param("id_type");
    let problem = match id_type {
        Some("imdb") if !is_imdb_id(id) && !id.starts_with("nm") => Some(format!(
            "`{id}` is not an IMDb id (`tt` followed by digits)"
        )),
        Some(kind @ ("trakt" | "tmdb" | "tvdb")) if !is_uint(id) => {
            Some(format!("a {kind} id is a number, not `{id}`"))
        }
        Some(kind) if !ID_TYPES.contains(&kind) => {
            out.push(PARAM_VALUE.finding(
                "path {id_type}",
                format!("id type `{kind}` is not one of {}", ID_TYPES.join(", ")),
            ));
            None
        }
        None if media && meant_as_imdb(id) && !is_imdb_id(id) => Some(format!(
            "`{id}` looks like an IMDb id but is not `tt` followed by digits"
        )),
        None if media && id.bytes().any(|b| b.is_ascii_uppercase() || b == b' ') => Some(format!(
            "`{id}` is neither a Trakt id, a slug (lower case, dashes) nor an IMDb id"
        )),
        _ => None,
    };
    if let Some(problem) = problem {
        out.push(ID_MALFORMED.finding(format!("path {{id}} in {}", endpoint.path), problem));
    }
}

fn check_query(s: &Subject, endpoint: &trakt::Endpoint, out: &mut Vec<Finding>) {
    let contract = trakt::contract();
    for (key, value) in s.query() {
        let Some(schema) = endpoint.details().query.get(key.as_str()) else {
            unknown_query_key(key, endpoint, out);
            continue;
        };
        let schema = contract.resolve(schema);
        match key.as_str() {
            "page" | "limit" => pagination(key, value, schema, out),
            "extended" => extended(value, schema, out),
            _ => query_value(key, value, schema, out),
        }
    }
    if endpoint.path == "/search/{type}"
        && !s
            .query()
            .iter()
            .any(|(k, v)| k == "query" && !v.trim().is_empty())
    {
        out.push(SEARCH_QUERY.finding("query", "a text search needs `?query=`"));
    }
}

fn unknown_query_key(key: &str, endpoint: &trakt::Endpoint, out: &mut Vec<Finding>) {
    if PAGING.contains(&key) {
        return;
    }
    let lower = key.to_ascii_lowercase();
    let reach = if lower.len() <= 5 { 1 } else { 2 };
    let close = endpoint
        .details()
        .query
        .keys()
        .find(|known| **known == lower || edit_distance(known, &lower) <= reach);
    match close {
        Some(known) => out.push(QUERY_MISSPELT.finding(
            format!("query {key}"),
            format!("Trakt does not read `{key}` here and ignores it; did you mean `{known}`?"),
        )),
        None => out.push(QUERY_UNKNOWN.finding(
            format!("query {key}"),
            format!(
                "{} does not read `{key}` (by the {}); Trakt ignores it",
                endpoint.path,
                trakt::contract_label()
            ),
        )),
    }
}

fn pagination(key: &str, value: &str, schema: &Schema, out: &mut Vec<Finding>) {
    if key == "limit" && value == "all" && schema.kind == Some(Kind::String) {
        return; // Trakt's "limitless" lists take limit=all.
    }
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

fn extended(value: &str, schema: &Schema, out: &mut Vec<Finding>) {
    let contract = trakt::contract();
    // The contract types `extended` per operation in TypeScript only; the
    // snapshot keeps every level any operation reads (plus the levels
    // Trakt's guide documents), and enumerations where the schema has them.
    let known: Vec<String> = match &schema.allowed {
        Some(allowed) => allowed.iter().map(schema::show).collect(),
        None => {
            let mut known = contract.extended.clone();
            for level in trakt::DOCUMENTED_EXTENDED {
                if !known.iter().any(|k| k == level) {
                    known.push((*level).to_string());
                }
            }
            known
        }
    };
    for level in value.split(',').map(str::trim) {
        if !known.iter().any(|k| k == level) {
            out.push(EXTENDED.finding(
                "query extended",
                format!("extended=`{level}` is not one of {}", known.join(", ")),
            ));
        }
    }
}

fn query_value(key: &str, value: &str, schema: &Schema, out: &mut Vec<Finding>) {
    let problem = if let Some(allowed) = &schema.allowed {
        let values: Vec<String> = allowed.iter().map(schema::show).collect();
        value
            .split(',')
            .find(|v| !values.iter().any(|a| a == v.trim()))
            .map(|bad| format!("{key}=`{bad}` is not one of {}", values.join(", ")))
    } else {
        match schema.kind {
            Some(Kind::Boolean) if !matches!(value, "true" | "false" | "1" | "0" | "") => {
                Some(format!("{key}=`{value}` is not true or false"))
            }
            Some(Kind::Integer) if value.trim().parse::<i64>().is_err() => {
                Some(format!("{key}=`{value}` is not a whole number"))
            }
            Some(Kind::Number) if value.trim().parse::<f64>().is_err() => {
                Some(format!("{key}=`{value}` is not a number"))
            }
            _ => None,
        }
    };
    if let Some(problem) = problem {
        out.push(QUERY_VALUE.finding(format!("query {key}"), problem));
    }
}
