//! `trakt-doctor check-token`: one explicit call to Trakt's
//! `GET /users/settings` with a token the user gives, reported as valid,
//! expired or revoked, or blocked. Never run automatically.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use time::OffsetDateTime;

use crate::cli::CheckTokenArgs;
use crate::error::{Context, Fatal};
use crate::exchange::{Body, Exchange, Headers, Request, Response};
use crate::hosts::ResolveTable;
use crate::log::terminal::visible;
use crate::proxy::body;
use crate::proxy::upstream::{self, Dialer};
use crate::redact::Redactor;
use crate::tls;

const URL: &str = "https://api.trakt.tv/users/settings";

/// The verdict on a token, from Trakt's answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Valid { user: String },
    Invalid,
    Blocked,
    WrongClient,
    Other(u16),
}

/// Reads Trakt's answer (pure).
pub(crate) fn verdict(status: u16, headers: &Headers, body: &[u8]) -> Verdict {
    // Trakt's own answers carry Cloudflare's headers too (`CF-RAY`,
    // `Server: cloudflare`): only an HTML page is Cloudflare's block.
    let html = headers
        .get("content-type")
        .is_some_and(|c| c.contains("text/html"))
        || body.trim_ascii_start().starts_with(b"<");
    match status {
        200 => {
            let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let user = json["user"]["username"].as_str().unwrap_or("?").to_string();
            Verdict::Valid { user }
        }
        401 => Verdict::Invalid,
        403 if html => Verdict::Blocked,
        403 => Verdict::WrongClient,
        other => Verdict::Other(other),
    }
}

pub(crate) fn run(args: CheckTokenArgs) -> Result<i32, Fatal> {
    let token = args
        .token
        .trim()
        .trim_start_matches("Bearer ")
        .trim()
        .to_string();
    if token.is_empty() {
        return Err(Fatal::new("--token is empty"));
    }
    let exchange = ask_trakt(&args, &token)?;
    let redactor = crate::fingerprint_key::load(&args.certs.files()?.dir)
        .map_err(Fatal)?
        .unwrap_or_else(crate::redact::Redactor::random);
    Ok(report(&args, &redactor, &token, &exchange))
}

/// The request check-token sends: Trakt's required headers and the token.
fn request_headers(args: &CheckTokenArgs, token: &str) -> Headers {
    Headers(vec![
        (
            "user-agent".to_string(),
            format!("trakt-doctor/{} (check-token)", env!("CARGO_PKG_VERSION")),
        ),
        ("trakt-api-version".to_string(), "2".to_string()),
        ("trakt-api-key".to_string(), args.client_id.clone()),
        ("authorization".to_string(), format!("Bearer {token}")),
        ("content-type".to_string(), "application/json".to_string()),
    ])
}

/// Sends the one request and returns it with Trakt's answer as an exchange.
fn ask_trakt(args: &CheckTokenArgs, token: &str) -> Result<Exchange, Fatal> {
    let tls = tls::upstream::client_config(&args.upstream_ca, true)
        .context("cannot set up TLS to Trakt")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let headers = request_headers(args, token);
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc();
    let (status, response_headers, bytes) = runtime
        .block_on(fetch(args, tls, &headers))
        .context("could not reach Trakt")?;
    Ok(Exchange {
        id: 1,
        started_at,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        request: Request {
            method: "GET".into(),
            url: URL.into(),
            http_version: "HTTP/1.1".into(),
            headers,
            body: Body::default(),
        },
        response: Some(Response {
            status,
            http_version: String::new(),
            headers: response_headers,
            body: Body::complete(bytes),
        }),
        error: None,
        findings: Vec::new(),
        fixes: Vec::new(),
        diagnosis: None,
        replay_of: None,
    })
}

/// `GET /users/settings`, within `--timeout` for the head and again for the body.
async fn fetch(
    args: &CheckTokenArgs,
    tls: rustls::ClientConfig,
    headers: &Headers,
) -> Result<(u16, Headers, Bytes), String> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let client = upstream::client(
        Dialer {
            resolve: ResolveTable::new(&args.resolve),
            connect_timeout: timeout,
            own: None,
        },
        tls,
    );
    let mut builder = http::Request::get(URL);
    for (name, value) in headers.iter() {
        builder = builder.header(name, value);
    }
    let request = builder.body(body::empty()).map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| format!("Trakt did not answer within {} s", args.timeout))?
        .map_err(|e| upstream::in_words(&e))?;
    let (parts, incoming) = response.into_parts();
    let bytes = tokio::time::timeout(timeout, incoming.collect())
        .await
        .map_err(|_| "Trakt's answer did not finish in time".to_string())?
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        parts.status.as_u16(),
        Headers::from_map(&parts.headers),
        bytes,
    ))
}

/// Prints the verdict (and the diagnosis, if any); returns the exit status.
fn report(args: &CheckTokenArgs, redactor: &Redactor, token: &str, exchange: &Exchange) -> i32 {
    let (status, headers, bytes) = match &exchange.response {
        Some(r) => (r.status, &r.headers, &r.body.bytes[..]),
        None => return 1,
    };
    let fingerprint = redactor.fingerprint(token);
    let (line, code) = match verdict(status, headers, bytes) {
        Verdict::Valid { user } => (format!("valid: token {fingerprint} works for Trakt user `{user}`"), 0),
        Verdict::Invalid => (format!("expired or revoked: Trakt answered 401 to token {fingerprint}; sign in to Trakt again"), 1),
        Verdict::Blocked => ("blocked: Cloudflare in front of Trakt refused the request (403 HTML); try another network".to_string(), 1),
        Verdict::WrongClient => (format!("refused: 403 for client id {}; the token may belong to another app, or the app was revoked", args.client_id), 1),
        Verdict::Other(code) => (format!("unexpected: Trakt answered {code}"), 1),
    };
    // The user name and the diagnosis come from Trakt's answer: no control characters.
    println!("{}", visible(&line));
    if let Some(mut diagnosis) = crate::diagnose::explain(exchange) {
        redactor.diagnosis(&mut diagnosis);
        println!("  why: {}", visible(&diagnosis.summary));
        for remedy in diagnosis.remedies {
            println!("  do:  {}", visible(&remedy));
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_trakts_answers() {
        let json = Headers(vec![("content-type".into(), "application/json".into())]);
        let html = Headers(vec![("content-type".into(), "text/html".into())]);
        assert_eq!(
            verdict(200, &json, br#"{"user":{"username":"sean"}}"#),
            Verdict::Valid {
                user: "sean".into()
            }
        );
        assert_eq!(verdict(401, &json, b""), Verdict::Invalid);
        assert_eq!(verdict(403, &html, b"<html>"), Verdict::Blocked);
        assert_eq!(verdict(403, &json, b""), Verdict::WrongClient);
        assert_eq!(verdict(503, &json, b""), Verdict::Other(503));
    }
}
