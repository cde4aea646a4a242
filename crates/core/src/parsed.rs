//! A request's target read once: its method, host, path and query, the
//! contract its host answers to, and the operation of Trakt's contract it
//! calls. Made when the request is inspected ([`crate::inspect::Inspector::begin`])
//! and handed to every later check of the exchange, which would otherwise
//! split the URL and match the route again each.
//!
//! Kept beside the exchange, never in its record: it is derived from the
//! recorded URL and method.
use crate::exchange::Request;
use crate::spec::trakt::{self, Endpoint, Operation, RouteMatch};

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

/// What the checks read of a request's method and URL, computed once.
#[derive(Debug)]
pub struct Parsed {
    /// The method in upper case.
    pub method: String,
    /// The host, lower-cased (empty when the URL has none).
    pub host: String,
    /// The path without query, runs of slashes written as one:
    /// `//oauth/device/code` is the same call to Trakt as `/oauth/device/code`
    /// (one popular library sends it so), and every check reads one spelling.
    pub path: String,
    /// The query's pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Which contract the request must meet, by host and path.
    pub contract: Contract,
    /// The operation of Trakt's contract it calls, for a request to Trakt's
    /// API or OAuth hosts (`None` for any other host).
    pub route: Option<RouteMatch>,
    /// The named operation at its path (OAuth, check-in, scrobble), whatever the host.
    pub operation: Option<Operation>,
}

impl Parsed {
    /// Reads `request`'s method and URL (without building an `http::Uri`
    /// for the plain URLs the proxy records).
    pub fn of(request: &Request) -> Parsed {
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
        let path = if path.contains("//") {
            collapse_slashes(&path)
        } else {
            path
        };
        let method = request.method.to_ascii_uppercase();
        let contract = contract(&host, &path);
        // Trakt's answers are judged against the contract on its OAuth host
        // too (the authorize page's route is no API call, but its answer is
        // still Trakt's).
        let route = (trakt::API_HOSTS.contains(&host.as_str())
            || trakt::AUTH_HOSTS.contains(&host.as_str()))
        .then(|| trakt::match_route_with_query(&method, &path, &query));
        let operation = Operation::of(&path);
        Parsed {
            method,
            host,
            path,
            query,
            contract,
            route,
            operation,
        }
    }

    /// Whether the request went to one of Trakt's API hosts.
    pub(crate) fn is_trakt_api_host(&self) -> bool {
        trakt::API_HOSTS.contains(&self.host.as_str())
    }

    /// The matched operation of Trakt's contract, when the route is known.
    pub fn endpoint(&self) -> Option<&'static Endpoint> {
        match &self.route {
            Some(RouteMatch::Found { endpoint, .. }) => Some(endpoint),
            _ => None,
        }
    }
}

/// The contract a request to `host` at `path` must meet.
fn contract(host: &str, path: &str) -> Contract {
    if trakt::API_HOSTS.contains(&host)
        || (trakt::AUTH_HOSTS.contains(&host)
            && path.starts_with("/oauth/")
            && path != "/oauth/authorize")
    {
        Contract::TraktApi
    } else if trakt::WEBSITE_HOSTS.contains(&host) || trakt::AUTH_HOSTS.contains(&host) {
        Contract::TraktWebsite
    } else if host == crate::spec::stremio::API_HOST || host == crate::spec::stremio::WEB_HOST {
        Contract::Stremio
    } else {
        Contract::Other
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Headers};

    fn request(method: &str, url: &str) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Body::default(),
        }
    }

    #[test]
    fn a_request_is_read_into_host_path_query_and_route() {
        let parsed = Parsed::of(&request(
            "get",
            "https://API.trakt.tv//users/me/watched/shows?extended=min",
        ));
        assert_eq!(parsed.method, "GET");
        assert_eq!(parsed.host, "api.trakt.tv");
        assert_eq!(parsed.path, "/users/me/watched/shows");
        assert_eq!(parsed.query, [("extended".to_string(), "min".to_string())]);
        assert_eq!(parsed.contract, Contract::TraktApi);
        assert_eq!(
            parsed.endpoint().map(|e| e.path.as_str()),
            Some("/users/{id}/watched/shows")
        );
        let scrobble = Parsed::of(&request("POST", "https://api.trakt.tv/scrobble/stop"));
        assert_eq!(scrobble.operation, Some(Operation::ScrobbleStop));
    }

    #[test]
    fn only_trakt_hosts_are_routed() {
        let stremio = Parsed::of(&request("POST", "https://api.strem.io/api/getUser"));
        assert_eq!(stremio.contract, Contract::Stremio);
        assert!(stremio.route.is_none());
        let authorize = Parsed::of(&request("GET", "https://trakt.tv/oauth/authorize?x=1"));
        assert_eq!(authorize.contract, Contract::TraktWebsite);
        assert!(authorize.route.is_none());
        let auth = Parsed::of(&request("GET", "https://auth.trakt.tv/oauth/authorize"));
        assert_eq!(auth.contract, Contract::TraktWebsite);
        assert!(auth.route.is_some());
    }
}
