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
pub use crate::parsed::Contract;
use crate::parsed::Parsed;
use crate::report::{Finding, Severity};
use crate::spec::trakt::{Endpoint, RouteMatch};
pub use rule::{Rule, Scope, SourceKind};

/// The body, parsed once for every rule (and for auto-fix).
#[derive(Debug)]
pub enum ParsedBody {
    /// No body.
    Empty,
    /// A JSON body, parsed.
    Json(serde_json::Value),
    /// Not JSON: the parser's message with line and column.
    Invalid(String),
    /// Not UTF-8, or larger than the capture limit: not linted.
    Unlinted(&'static str),
}

/// A request prepared for the rules: its target read once ([`Parsed`]), its body parsed.
pub struct Subject<'a> {
    /// The request as captured.
    pub request: &'a Request,
    /// Its method, host, path, query, contract and route.
    pub parsed: &'a Parsed,
    /// Whether the body starts with a UTF-8 byte order mark.
    pub has_bom: bool,
    /// The body, parsed once for every rule.
    pub body: ParsedBody,
    /// When the request was sent (dates "in the future" are judged against it).
    pub at: OffsetDateTime,
}

impl<'a> Subject<'a> {
    /// `request` (whose target is `parsed`) sent at `at`, its body parsed.
    pub fn new(request: &'a Request, parsed: &'a Parsed, at: OffsetDateTime) -> Subject<'a> {
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
            parsed,
            has_bom,
            body,
            at,
        }
    }

    /// The request's headers.
    pub fn headers(&self) -> &Headers {
        &self.request.headers
    }

    /// The method in upper case.
    pub fn method(&self) -> &str {
        &self.parsed.method
    }

    /// The lower-cased host.
    pub fn host(&self) -> &str {
        &self.parsed.host
    }

    /// The path without query, runs of slashes as one.
    pub fn path(&self) -> &str {
        &self.parsed.path
    }

    /// The query's pairs.
    pub fn query(&self) -> &[(String, String)] {
        &self.parsed.query
    }

    /// The contract the request must meet.
    pub fn contract(&self) -> Contract {
        self.parsed.contract
    }

    /// The matched route, for a call to Trakt's API only (the rules judge
    /// no other request against the API's routes).
    pub fn route(&self) -> Option<&RouteMatch> {
        self.parsed
            .route
            .as_ref()
            .filter(|_| self.parsed.contract == Contract::TraktApi)
    }

    /// The matched endpoint, when the route is known.
    pub fn endpoint(&self) -> Option<&'static Endpoint> {
        match self.route() {
            Some(RouteMatch::Found { endpoint, .. }) => Some(endpoint),
            _ => None,
        }
    }

    /// The value of the path placeholder `name` in the matched route.
    pub fn param(&self, name: &str) -> Option<&str> {
        match self.route() {
            Some(RouteMatch::Found { params, .. }) => params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    /// The body as JSON, when it is.
    pub fn json(&self) -> Option<&serde_json::Value> {
        match &self.body {
            ParsedBody::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// Lints one request; findings come out in a stable order (by family, then position).
pub fn check(request: &Request, at: OffsetDateTime) -> Vec<Finding> {
    check_parsed(request, &Parsed::of(request), at)
}

/// [`check`] of a request whose target was already read.
pub(crate) fn check_parsed(request: &Request, parsed: &Parsed, at: OffsetDateTime) -> Vec<Finding> {
    check_subject(&Subject::new(request, parsed, at))
}

/// Whether the browser made this request on its own: a navigation, or a
/// subresource it loads for a page (favicon, image, style, frame…). Such a
/// request is not an API call and carries no API headers. Only the
/// browser's own `Sec-Fetch-*` headers say so: a script's call without them
/// is linted as before. A script's `fetch()` is `mode: cors`, `dest: empty`.
pub(crate) fn is_browser_initiated(headers: &Headers) -> bool {
    let mode = headers.get("sec-fetch-mode").map(str::trim);
    let dest = headers.get("sec-fetch-dest").map(str::trim);
    matches!(mode, Some(m) if m.eq_ignore_ascii_case("navigate") || m.eq_ignore_ascii_case("no-cors"))
        || matches!(dest, Some(d) if !d.is_empty() && !d.eq_ignore_ascii_case("empty"))
}

pub(crate) fn check_subject(subject: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    coding::check_request(subject.request, &mut out);
    if subject.contract() != Contract::Other {
        cookie::check(subject, &mut out);
    }
    match subject.contract() {
        // A browser opening the authorize page sends no API headers: only the OAuth rules apply.
        Contract::TraktApi if subject.path() == "/oauth/authorize" => {
            oauth::check(subject, &mut out)
        }
        // A browser's CORS preflight asks whether it may call; it is not the call.
        Contract::TraktApi if subject.method() == "OPTIONS" => {}
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

/// The rule with this id, if the catalogue has it.
pub fn rule(id: &str) -> Option<&'static Rule> {
    catalogue().into_iter().find(|r| r.id == id)
}
