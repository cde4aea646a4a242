//! Linting: pure checks of a captured request against the contract it must
//! meet. Each problem found is a [`Finding`] with a stable rule id.

pub mod body;
pub mod catalogue;
pub mod coding;
pub mod cookie;
pub mod headers;
pub mod internal;
pub mod oauth;
pub mod response;
pub mod route;
pub mod rule;
pub mod schema;
pub mod session;
pub mod stremio;

use time::OffsetDateTime;

use crate::exchange::{Headers, Request};
use crate::report::{Finding, Severity};
use crate::spec::trakt::{self, Endpoint, RouteMatch};
pub use rule::{Rule, Scope, SourceKind};

/// Which contract a request must meet, by host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// api.trakt.tv and apiz.trakt.tv: the Trakt API v2; also the OAuth
    /// calls on auth.trakt.tv.
    TraktApi,
    /// trakt.tv and auth.trakt.tv's pages (the OAuth authorize page).
    TraktWebsite,
    /// api.strem.io and www.strem.io: Stremio's Trakt bridge.
    Stremio,
    /// Anything else: no Trakt rules apply.
    Other,
}

/// The body, parsed once for every rule (and for auto-fix).
#[derive(Debug)]
pub enum ParsedBody {
    Empty,
    Json(serde_json::Value),
    /// Not JSON: the parser's message with line and column.
    Invalid(String),
    /// Not UTF-8, or larger than the capture limit: not linted.
    Unlinted(&'static str),
}

/// A request prepared for the rules: split URL, matched route, parsed body.
pub struct Subject<'a> {
    pub request: &'a Request,
    pub method: String,
    pub host: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub contract: Contract,
    pub route: Option<RouteMatch>,
    pub has_bom: bool,
    pub body: ParsedBody,
    /// When the request was sent (dates "in the future" are judged against it).
    pub at: OffsetDateTime,
}

impl<'a> Subject<'a> {
    pub fn new(request: &'a Request, at: OffsetDateTime) -> Subject<'a> {
        let pairs = |query: Option<&str>| query.map(crate::text::query_pairs).unwrap_or_default();
        let (host, path, query) = match crate::text::plain_url(&request.url) {
            Some((host, path, query)) => {
                (host.to_ascii_lowercase(), path.to_string(), pairs(query))
            }
            None => {
                let uri = request.uri();
                let host = uri
                    .as_ref()
                    .and_then(|u| u.host())
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let path = uri.as_ref().map_or("/", |u| u.path()).to_string();
                (host, path, pairs(uri.as_ref().and_then(|u| u.query())))
            }
        };
        // `//oauth/device/code` is the same call to Trakt as `/oauth/device/code`
        // (one popular library sends it so): every rule reads one spelling.
        let path = if path.contains("//") {
            collapse_slashes(&path)
        } else {
            path
        };
        let method = request.method.to_ascii_uppercase();
        let contract = if trakt::API_HOSTS.contains(&host.as_str())
            || (trakt::AUTH_HOSTS.contains(&host.as_str())
                && path.starts_with("/oauth/")
                && path != "/oauth/authorize")
        {
            Contract::TraktApi
        } else if trakt::WEBSITE_HOSTS.contains(&host.as_str())
            || trakt::AUTH_HOSTS.contains(&host.as_str())
        {
            Contract::TraktWebsite
        } else if host == crate::spec::stremio::API_HOST || host == crate::spec::stremio::WEB_HOST {
            Contract::Stremio
        } else {
            Contract::Other
        };
        let route = (contract == Contract::TraktApi)
            .then(|| trakt::match_route_with_query(&method, &path, &query));
        let raw = &request.body.bytes[..];
        let has_bom = raw.starts_with(b"\xEF\xBB\xBF");
        let undecodable = coding::problem(&request.body)
            .is_some_and(|p| p.kind != crate::exchange::coding::ProblemKind::TooLarge);
        let body = if undecodable {
            ParsedBody::Unlinted("its Content-Encoding could not be decoded")
        } else if request.body.truncated {
            ParsedBody::Unlinted("larger than the capture limit")
        } else if raw.is_empty() {
            ParsedBody::Empty
        } else {
            let raw = if has_bom {
                raw.get(3..).unwrap_or_default()
            } else {
                raw
            };
            match std::str::from_utf8(raw) {
                Err(_) => ParsedBody::Unlinted("not UTF-8 text"),
                Ok(text) => match serde_json::from_str(text) {
                    Ok(value) => ParsedBody::Json(value),
                    Err(e) => ParsedBody::Invalid(e.to_string()),
                },
            }
        };
        Subject {
            request,
            method,
            host,
            path,
            query,
            contract,
            route,
            has_bom,
            body,
            at,
        }
    }

    pub fn headers(&self) -> &Headers {
        &self.request.headers
    }

    /// The matched endpoint, when the route is known.
    pub fn endpoint(&self) -> Option<&'static Endpoint> {
        match &self.route {
            Some(RouteMatch::Found { endpoint, .. }) => Some(endpoint),
            _ => None,
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        match &self.route {
            Some(RouteMatch::Found { params, .. }) => params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    pub fn json(&self) -> Option<&serde_json::Value> {
        match &self.body {
            ParsedBody::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// `path` with every run of slashes written as one.
fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c != '/' || !out.ends_with('/') {
            out.push(c);
        }
    }
    out
}

/// Lints one request; findings come out in a stable order (by family, then position).
pub fn check(request: &Request, at: OffsetDateTime) -> Vec<Finding> {
    check_subject(&Subject::new(request, at))
}

/// Whether the browser made this request on its own: a navigation, or a
/// subresource it loads for a page (favicon, image, style, frame…). Such a
/// request is not an API call and carries no API headers. Only the
/// browser's own `Sec-Fetch-*` headers say so: a script's call without them
/// is linted as before. A script's `fetch()` is `mode: cors`, `dest: empty`.
pub fn is_browser_initiated(headers: &Headers) -> bool {
    let mode = headers.get("sec-fetch-mode").map(str::trim);
    let dest = headers.get("sec-fetch-dest").map(str::trim);
    matches!(mode, Some(m) if m.eq_ignore_ascii_case("navigate") || m.eq_ignore_ascii_case("no-cors"))
        || matches!(dest, Some(d) if !d.is_empty() && !d.eq_ignore_ascii_case("empty"))
}

pub fn check_subject(subject: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    coding::check_request(subject.request, &mut out);
    if subject.contract != Contract::Other {
        cookie::check(subject, &mut out);
    }
    match subject.contract {
        // A browser opening the authorize page sends no API headers: only the OAuth rules apply.
        Contract::TraktApi if subject.path == "/oauth/authorize" => oauth::check(subject, &mut out),
        // A browser's CORS preflight asks whether it may call; it is not the call.
        Contract::TraktApi if subject.method == "OPTIONS" => {}
        // A navigation or a favicon is not an API call either: no API
        // headers, no route; an OAuth body (a form) is still read.
        Contract::TraktApi if is_browser_initiated(subject.headers()) => {
            oauth::check(subject, &mut out)
        }
        Contract::TraktApi => {
            headers::check(subject, &mut out);
            route::check(subject, &mut out);
            body::check(subject, &mut out);
            schema::check(subject, &mut out);
            oauth::check(subject, &mut out);
        }
        Contract::TraktWebsite => oauth::check(subject, &mut out),
        Contract::Stremio => stremio::check_request(subject, &mut out),
        Contract::Other => {}
    }
    out
}

/// Every rule, in catalogue order.
pub fn catalogue() -> Vec<&'static Rule> {
    let mut rules: Vec<&'static Rule> = Vec::new();
    rules.extend(headers::RULES);
    rules.extend(route::RULES);
    rules.extend(body::RULES);
    rules.extend(schema::RULES);
    rules.extend(oauth::RULES);
    rules.extend(cookie::RULES);
    rules.extend(response::RULES);
    rules.extend(coding::RULES);
    rules.extend(stremio::RULES);
    rules.extend(session::RULES);
    rules.extend(internal::RULES);
    rules
}

pub fn rule(id: &str) -> Option<&'static Rule> {
    catalogue().into_iter().find(|r| r.id == id)
}
