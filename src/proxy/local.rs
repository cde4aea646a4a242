//! Requests addressed to the proxy itself (not proxied): a small index
//! page, the CA certificate download (`/ca`), and a PAC file
//! (`/proxy.pac`) that sends only the intercepted hosts through the proxy.

use std::net::SocketAddr;
use std::sync::Arc;

use http::header;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::shared::Shared;
use crate::guide::{stremio_steps, trust_step, Os};
use crate::respond::{self, ProxyBody, HTML, TEXT};

pub async fn serve(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !crate::web::host_allowed(host, shared.local_addr) {
        // A page reached through another name could be DNS rebinding.
        return respond::local(
            StatusCode::FORBIDDEN,
            TEXT,
            format!(
                "trakt-doctor answers only to http://{} (or localhost); the Host header named `{}`\n",
                shared.local_addr,
                host.unwrap_or("")
            ),
        );
    }
    if crate::web::handles(req.uri().path()) {
        let access = crate::web::access(shared.settings.proxy_auth.as_deref(), peer, &req);
        if let Some(refusal) = crate::web::refusal(access, req.uri().path()) {
            return refusal;
        }
        return crate::web::serve(&shared.web, peer, req).await;
    }
    let shared = &*shared;
    let proxy_address = proxy_address(shared, &req);
    match req.uri().path() {
        "/ca" if wants_html(&req) => {
            respond::local(StatusCode::OK, HTML, ca_page(&proxy_address))
        }
        "/ca" | "/ca.pem" | "/trakt-doctor-ca.pem" => respond::attachment(
            respond::local(
                StatusCode::OK,
                "application/x-pem-file",
                shared.ca_pem.clone(),
            ),
            "trakt-doctor-ca.pem",
        ),
        "/proxy.pac" => respond::local(
            StatusCode::OK,
            "application/x-ns-proxy-autoconfig",
            pac_file(shared, &proxy_address),
        ),
        other => respond::local(
            StatusCode::NOT_FOUND,
            TEXT,
            format!(
                "trakt-doctor has no page at {other}. This address is a proxy: point your client's proxy setting at it.\n"
            ),
        ),
    }
}

fn wants_html<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The CA page (as mitmproxy's mitm.it): the download and the trust steps per system.
fn ca_page(proxy_address: &str) -> String {
    let ca = "trakt-doctor-ca.pem";
    let steps: String = Os::ALL
        .iter()
        .map(|os| {
            format!(
                "<h2>{}</h2><p><code>{}</code></p><pre>{}</pre>",
                os.name(),
                escape(&trust_step(*os, ca)),
                escape(&stremio_steps(*os, proxy_address, ca))
            )
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>trakt-doctor CA</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         pre,code{{background:#f4f4f4;padding:.2rem .4rem;white-space:pre-wrap}}</style></head><body>\
         <h1>Trust the trakt-doctor CA</h1>\
         <p><a id=\"download\" href=\"/ca.pem\" download=\"{ca}\">Download {ca}</a>. \
         It is limited to the intercepted Trakt and Stremio domains and was created on this computer.</p>\
         {steps}</body></html>"
    )
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
