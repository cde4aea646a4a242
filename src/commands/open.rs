//! `trakt-doctor open [FILE]`: serves the browser page (embedded, see
//! [`crate::page`]) on this computer and prints its address; with FILE, the
//! page opens it at start, fetching it from the same address (`/file`).
//! The page then checks it in the browser as it would a dropped file.
//!
//! Only loopback addresses, and only requests that name this computer in
//! their Host header (no DNS rebinding): the file may hold secrets.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::cli::OpenArgs;
use crate::error::{Context, Fatal};
use crate::page;
use crate::respond::{self, ProxyBody, TEXT};

/// The file the page is to open, read once at start.
struct Given {
    name: String,
    bytes: Bytes,
}

pub(crate) fn run(args: OpenArgs) -> Result<i32, Fatal> {
    if !args.listen.ip().is_loopback() {
        return Err(Fatal(format!(
            "--listen {}: `open` serves your file, so it listens on this computer only (127.0.0.1, ::1)",
            args.listen
        )));
    }
    let given = args.file.as_ref().map(read).transpose()?.map(Arc::new);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .context(&format!("cannot listen on {}", args.listen))?;
        let addr = listener
            .local_addr()
            .context("cannot read the address listened on")?;
        println!(
            "trakt-doctor: the page is at {}",
            url(addr, given.as_deref())
        );
        println!("Open it in your browser; nothing is uploaded anywhere. Ctrl-C stops.");
        tokio::select! {
            () = accept(listener, given) => Ok(0),
            () = super::run::stop_requested() => Ok(0),
        }
    })
}

fn read(path: &PathBuf) -> Result<Given, Fatal> {
    let bytes = std::fs::read(path).context(&format!("cannot read {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    Ok(Given {
        name,
        bytes: bytes.into(),
    })
}

/// The address to open: the page, and the file it is to load.
fn url(addr: SocketAddr, given: Option<&Given>) -> String {
    match given {
        Some(given) => format!("http://{addr}/?file={}", query_escape(&given.name)),
        None => format!("http://{addr}/"),
    }
}

/// `text` for a query string: unreserved characters kept, the rest %XX.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn accept(listener: tokio::net::TcpListener, given: Option<Arc<Given>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let given = given.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = answer(&req, given.as_deref());
                async move { Ok::<_, Infallible>(answer) }
            });
            // A client that hangs up mid-answer ends only its connection.
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer to one request: a page file, the given file, or a refusal.
fn answer(req: &Request<Incoming>, given: Option<&Given>) -> Response<ProxyBody> {
    if !names_this_computer(req) {
        return respond::local(
            StatusCode::FORBIDDEN,
            TEXT,
            "trakt-doctor open answers requests for 127.0.0.1, [::1] or localhost only\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond::local(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET only\n");
    }
    let path = req.uri().path().trim_start_matches('/');
    if path == "file" {
        return match given {
            Some(given) => {
                let mut response =
                    respond::page_file("application/octet-stream", given.bytes.clone());
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store"),
                );
                response
            }
            None => respond::local(
                StatusCode::NOT_FOUND,
                TEXT,
                "no file given to trakt-doctor open\n",
            ),
        };
    }
    match page::file(path) {
        Some((kind, bytes)) => respond::page_file(kind, bytes),
        None => respond::local(StatusCode::NOT_FOUND, TEXT, "not a file of the page\n"),
    }
}

/// Whether the Host header names this computer by address or as `localhost`.
fn names_this_computer(req: &Request<Incoming>) -> bool {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !host.ends_with(']') =>
        {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_names_the_file_escaped() {
        let given = Given {
            name: "my capture (1).har".into(),
            bytes: Bytes::new(),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], 4000));
        assert_eq!(
            url(addr, Some(&given)),
            "http://127.0.0.1:4000/?file=my%20capture%20%281%29.har"
        );
        assert_eq!(url(addr, None), "http://127.0.0.1:4000/");
    }
}
