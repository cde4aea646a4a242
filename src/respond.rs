//! The proxy's own answers: its local pages, the web view and its error
//! answers all come from here, so the headers they carry (content type,
//! no caching, and the web view's security headers) are set in one place.
//!
//! Below both [`crate::proxy`] and [`crate::web`]: neither needs the other
//! to answer a request.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response the proxy sends and every request it forwards.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const JSON: &str = "application/json";

pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// An answer with this content type and body, and nothing else.
fn plain(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A page or file of the proxy's own (index, `/ca`, PAC): never cached.
pub(crate) fn local(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ProxyBody> {
    let mut response = plain(status, content_type, body);
    no_store(response.headers_mut());
    response
}

/// An answer of the web view: never cached, never sniffed or framed, and
/// only its own scripts and styles run.
pub(crate) fn web(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ProxyBody> {
    let mut response = local(status, content_type, body);
    secure(response.headers_mut());
    response
}

/// A file of the browser page (`trakt-doctor open`, the web view's
/// `/page/`): as [`web`], and the page may also run its wasm, start its
/// worker and connect back to where it came from, nowhere else.
pub(crate) fn page_file(content_type: &'static str, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut response = local(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

/// The page's Content-Security-Policy: its own files only, wasm allowed,
/// no connection but to its own origin.
pub(crate) const PAGE_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A body that streams for as long as it lives (the web view's events): never cached.
pub(crate) fn streaming(body: ProxyBody, content_type: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    no_store(headers);
    response
}

/// A web view download: `body` saved as `name`.
pub(crate) fn download(
    body: String,
    content_type: &'static str,
    name: &'static str,
) -> Response<ProxyBody> {
    attachment(web(StatusCode::OK, content_type, body), name)
}

/// Makes a browser save `response` as `name`.
pub(crate) fn attachment(mut response: Response<ProxyBody>, name: &str) -> Response<ProxyBody> {
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A plain-text answer from the proxy itself in place of the upstream's
/// (refusals, upstream failures), marked so a client can tell.
pub(crate) fn error(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let mut response = plain(status, TEXT, format!("{message}\n"));
    response
        .headers_mut()
        .insert("x-trakt-doctor", HeaderValue::from_static("error"));
    response
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The web view's security headers.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_answer_carries_its_headers() {
        let page = web(StatusCode::OK, HTML, "<p>");
        for name in [
            "cache-control",
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy",
        ] {
            assert!(page.headers().contains_key(name), "{name}");
        }
        // The CA page has an inline style: no policy that would block it.
        let ca = local(StatusCode::OK, HTML, "<p>");
        assert_eq!(ca.headers()["cache-control"], "no-store");
        assert!(!ca.headers().contains_key("content-security-policy"));
        let failed = error(StatusCode::BAD_GATEWAY, "no answer");
        assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(failed.headers()["x-trakt-doctor"], "error");
        assert_eq!(failed.headers()["content-type"], TEXT);
        let saved = download("{}".into(), JSON, "x.har");
        assert_eq!(
            saved.headers()["content-disposition"],
            "attachment; filename=\"x.har\""
        );
        assert!(saved.headers().contains_key("content-security-policy"));
    }
}
