//! Requests addressed to the proxy itself (not proxied): a small index
//! page, the CA certificate download (`/ca`), and a PAC file
//! (`/proxy.pac`) that sends only the intercepted hosts through the proxy.

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};

use super::body::{self, ProxyBody};
use super::Shared;

pub fn serve<B>(shared: &Shared, req: Request<B>) -> Response<ProxyBody> {
    let proxy_address = proxy_address(shared, &req);
    match req.uri().path() {
        "/" => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            format!(
                "trakt-doctor is running.\n\n\
                 CA certificate: http://{proxy_address}/ca\n\
                 PAC file:       http://{proxy_address}/proxy.pac\n\
                 Intercepted hosts: {}\n",
                intercepted_list(shared)
            ),
        ),
        "/ca" | "/ca.pem" | "/trakt-doctor-ca.pem" => {
            let mut response = text(StatusCode::OK, "application/x-pem-file", shared.ca_pem.clone());
            response.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"trakt-doctor-ca.pem\""),
            );
            response
        }
        "/proxy.pac" => text(
            StatusCode::OK,
            "application/x-ns-proxy-autoconfig",
            pac_file(shared, &proxy_address),
        ),
        other => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!(
                "trakt-doctor has no page at {other}. This address is a proxy: point your client's proxy setting at it.\n"
            ),
        ),
    }
}

fn intercepted_list(shared: &Shared) -> String {
    shared
        .settings
        .intercept
        .iter()
        .map(|h| h.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The address clients used to reach us (the Host header, when it is a
/// plain host:port), else the listen address.
fn proxy_address<B>(shared: &Shared, req: &Request<B>) -> String {
    let from_host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match from_host {
        Some(host) if host.contains(':') => host.to_string(),
        Some(host) => format!("{host}:{}", shared.local_addr.port()),
        None => shared.local_addr.to_string(),
    }
}

/// A PAC file: intercepted hosts go through the proxy, everything else DIRECT.
pub fn pac_file(shared: &Shared, proxy_address: &str) -> String {
    let hosts: Vec<String> = shared
        .settings
        .intercept
        .iter()
        .map(|h| format!("\"{}\"", h.as_str()))
        .collect();
    format!(
        "// trakt-doctor: send only the Trakt-related hosts through the debugging proxy.\n\
         function FindProxyForURL(url, host) {{\n  \
           var intercepted = [{}];\n  \
           host = host.toLowerCase();\n  \
           for (var i = 0; i < intercepted.length; i++) {{\n    \
             if (host === intercepted[i]) return \"PROXY {proxy_address}\";\n  \
           }}\n  \
           return \"DIRECT\";\n\
         }}\n",
        hosts.join(", ")
    )
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<ProxyBody> {
    let mut response = Response::new(body::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
