//! Forwarding one request upstream: capture it, inspect it, send it,
//! stream the answer back, and log the exchange. Upstream failures become a
//! 502 (504 for a timeout) that says what failed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use time::OffsetDateTime;

use super::body::{
    self, BodyBudget, BodyTimedOut, Collected, IdleTimeout, PrefixedBody, ProxyBody,
};
use super::pending::{PendingExchange, RecordingBody};
use super::shared::Shared;
use super::stages::{self, Clock, Stage};
use crate::exchange::{self, Body, ErrorKind, ExchangeError, Headers};
use crate::lint;
use crate::respond;

/// Where a request is going: the scheme and authority it will be sent to.
#[derive(Debug, Clone)]
pub struct Target {
    pub scheme: &'static str,
    pub host: String,
    pub port: u16,
}

impl Target {
    fn default_port(&self) -> u16 {
        if self.scheme == "https" {
            443
        } else {
            80
        }
    }

    /// `https://host` or `https://host:8443`.
    pub fn origin(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            format!("{}://{host}", self.scheme)
        } else {
            format!("{}://{host}:{}", self.scheme, self.port)
        }
    }
}

/// The largest request head (target and header fields) the proxy accepts.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A 431 for a request whose head is over [`MAX_HEAD_BYTES`]. hyper's own
/// buffer limit only applies when a head arrives in pieces, so it is checked here too.
pub fn refuse_oversized_head<B>(req: &Request<B>) -> Option<Response<ProxyBody>> {
    let target = req.uri().authority().map_or(0, |a| a.as_str().len())
        + req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let size = target
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    (size > MAX_HEAD_BYTES).then(|| {
        respond::error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!(
                "the request head is {size} bytes; trakt-doctor accepts at most {MAX_HEAD_BYTES}"
            ),
        )
    })
}

/// Serves one request from a client, for the given target.
pub async fn serve(
    shared: Arc<Shared>,
    target: Target,
    budget: BodyBudget,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    if let Some(refusal) = refuse_oversized_head(&req) {
        return Ok(refusal);
    }
    let inspect = shared.is_intercepted(&target.host);
    let (parts, incoming) = req.into_parts();
    let req = Request::from_parts(
        parts,
        IdleTimeout::new(incoming, shared.settings.body_timeout),
    );
    let response = if inspect {
        inspected(&shared, &target, &budget, req).await
    } else {
        passthrough(&shared, &target, req).await
    };
    Ok(response)
}

fn upstream_uri(target: &Target, uri: &Uri) -> Result<Uri, http::Error> {
    Ok(upstream_url(target, uri)?.1)
}

/// The upstream URL as the record's text and as a parsed URI, formatted once.
fn upstream_url(target: &Target, uri: &Uri) -> Result<(String, Uri), http::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut text = target.origin();
    text.push_str(path);
    let parsed = text.parse::<Uri>()?;
    Ok((text, parsed))
}

/// The header fields that describe one connection, not the message.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes the header fields that describe one connection, not the message.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one look at the names first, since each
    // removal parses and hashes its name (nine of them, twice per
    // exchange, were 0.8 µs of every request).
    if !headers
        .keys()
        .any(|name| HOP_BY_HOP.contains(&name.as_str()))
    {
        return;
    }
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// A request to a host we do not inspect (plain HTTP through the proxy):
/// forwarded as it is, without capture.
async fn passthrough(
    shared: &Shared,
    target: &Target,
    req: Request<IdleTimeout<Incoming>>,
) -> Response<ProxyBody> {
    let (mut parts, incoming) = req.into_parts();
    let uri = match upstream_uri(target, &parts.uri) {
        Ok(uri) => uri,
        Err(e) => {
            return respond::error(StatusCode::BAD_REQUEST, &format!("bad request target: {e}"))
        }
    };
    parts.uri = uri;
    let client_version = parts.version;
    parts.version = http::Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    let req = Request::from_parts(parts, incoming.boxed_unsync());
    match send(shared, req, client_version).await {
        Ok(response) => {
            let (mut parts, incoming) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, incoming.map_err(body::BoxError::from).boxed_unsync())
        }
        Err(failure) => failure_response(&failure),
    }
}

/// A request to an intercepted host: captured, inspected, logged. Each
/// step is a function below; any of them may answer the client itself.
async fn inspected(
    shared: &Shared,
    target: &Target,
    budget: &BodyBudget,
    req: Request<IdleTimeout<Incoming>>,
) -> Response<ProxyBody> {
    let mut clock = Clock::from_last_read();
    clock.lap(Stage::Head);
    let started_at = OffsetDateTime::now_utc();
    let (mut parts, incoming) = req.into_parts();
    let (mut pending, url) = match start_exchange(shared, target, &mut parts, started_at) {
        Ok(started) => started,
        Err(e) => {
            return respond::error(StatusCode::BAD_REQUEST, &format!("bad request target: {e}"))
        }
    };
    clock.lap(Stage::Start);
    // Held until the response head is here: the captured body lives that long.
    let mut reservation = budget.reserve();
    let captured =
        match capture_request_body(shared, &mut pending, incoming, &mut reservation).await {
            Ok(captured) => captured,
            Err(failure) => return failure_response(&failure),
        };
    clock.lap(Stage::Capture);
    // The session judges this request knowing every exchange already answered.
    shared.finisher.drain();
    let mut upstream_body = inspect_request(shared, &mut pending, &mut parts, captured);
    clock.lap(Stage::Prepare);
    let written = stages::stamp_end(&mut upstream_body);
    parts.uri = url;
    let client_version = parts.version;
    parts.version = http::Version::HTTP_11;
    parts.headers.remove(header::HOST);
    let req = Request::from_parts(parts, upstream_body);
    let sent = send(shared, req, client_version).await;
    clock.lap_split(written, Stage::UpstreamSend, Stage::UpstreamFirstByte);
    match sent {
        Ok(response) => answer(shared, pending, response, clock),
        Err(failure) => {
            let answer = failure_response(&failure);
            pending.finish(Some(failure));
            answer
        }
    }
}

/// Opens the exchange's record: the request head as it will be sent
/// (without the fields that only describe the client's connection), and
/// the upstream URL.
fn start_exchange(
    shared: &Shared,
    target: &Target,
    parts: &mut http::request::Parts,
    started_at: OffsetDateTime,
) -> Result<(PendingExchange, Uri), http::Error> {
    let started = Instant::now();
    let (text, url) = upstream_url(target, &parts.uri)?;
    strip_hop_by_hop(&mut parts.headers);
    let record = exchange::Request {
        method: parts.method.as_str().to_owned(),
        url: text,
        http_version: exchange::version_name(parts.version).to_string(),
        headers: Headers::from_map(&parts.headers),
        body: Body::default(),
    };
    let mut pending = PendingExchange::start(
        shared.log.clone(),
        shared.inspector.clone(),
        shared.inspector.begin(started_at),
        started_at,
        started,
        record,
        shared.shutdown_cut.clone(),
    );
    pending.set_abandon_reason("the client closed the connection while sending the request");
    Ok((pending, url))
}

/// A request body as captured for the record, and as it goes upstream.
struct CapturedBody {
    captured: Body,
    upstream: ProxyBody,
    /// The body did not fit in the body budget: it was not linted.
    over_budget: bool,
}

/// Reads the request body up to the capture limit; a body that stops
/// arriving is answered 408, one that fails 400 (the exchange is logged
/// with that answer's message).
async fn capture_request_body(
    shared: &Shared,
    pending: &mut PendingExchange,
    incoming: IdleTimeout<Incoming>,
    reservation: &mut body::Reservation,
) -> Result<CapturedBody, ExchangeError> {
    let limit = shared.settings.capture_limit;
    let collected = match body::collect_up_to(incoming, limit, Some(reservation)).await {
        Ok(collected) => collected,
        Err(e) if e.is::<BodyTimedOut>() => {
            let failure = ExchangeError::new(
                ErrorKind::ClientBodyTooSlow,
                format!("{e}; answered 408 and closed"),
            );
            pending.finish(Some(failure.clone()));
            return Err(failure);
        }
        Err(e) => {
            let failure = ExchangeError::new(
                ErrorKind::ClientBodyUnreadable,
                format!("the client's request body could not be read: {e}"),
            );
            pending.finish(Some(failure.clone()));
            return Err(failure);
        }
    };
    pending.set_abandon_reason("the client closed the connection before the response arrived");
    let over_budget = matches!(collected, Collected::OverBudget { .. });
    if over_budget {
        tracing::warn!(
            "a request body did not fit in the memory set aside for bodies (--body-memory): \
             it is forwarded without being linted"
        );
    }
    Ok(match collected {
        Collected::Complete(bytes) => CapturedBody {
            captured: Body::complete(bytes.clone()),
            upstream: body::full(bytes),
            over_budget,
        },
        Collected::Partial { read, rest } | Collected::OverBudget { read, rest } => CapturedBody {
            captured: Body {
                bytes: read.slice(..limit.min(read.len())),
                size: read.len() as u64,
                truncated: true,
                coding: None,
            },
            upstream: PrefixedBody::new(read, rest).boxed_unsync(),
            over_budget,
        },
    })
}

/// Runs the inspection ([`Inspection::prepare`](crate::inspect::Inspection::prepare))
/// on the captured request and applies auto-fix's repairs to what is sent;
/// returns the body to send upstream. With auto-fix off nothing found
/// changes what is sent: only the session check (which must see requests
/// in the order they arrive) runs now, the lint after the response (same
/// findings, same order).
fn inspect_request(
    shared: &Shared,
    pending: &mut PendingExchange,
    parts: &mut http::request::Parts,
    body: CapturedBody,
) -> ProxyBody {
    let mut upstream_body = body.upstream;
    let id = pending.id();
    let reword: fn(&mut Vec<crate::report::Finding>) = if body.over_budget {
        explain_over_budget
    } else {
        |_| {}
    };
    let policy = shared.fix_policy();
    let Some(request) = pending.request_mut() else {
        return upstream_body;
    };
    request.body = body.captured;
    // Checked and recorded as its text; what is sent stays the client's bytes.
    exchange::coding::decode_request(request, shared.settings.capture_limit);
    // Kept as captured, secrets and all, in memory only, for a resend.
    shared.originals.keep(id, request);
    if policy.is_off() {
        pending.check_session(reword);
        return upstream_body;
    }
    let captured = request.body.bytes.clone();
    // The inspector's stages are guarded: a bug in one becomes a finding,
    // and the request goes out as it came.
    if let Some(repaired) = pending.prepare(&policy, reword) {
        if repaired.body.bytes != captured {
            upstream_body = body::full(repaired.body.bytes.clone());
        }
        parts.headers = header_map(&repaired.headers);
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    upstream_body
}

/// Says why a body that did not fit in the body budget was not linted.
fn explain_over_budget(findings: &mut Vec<crate::report::Finding>) {
    for finding in findings {
        if finding.rule == lint::body::NOT_LINTED.id {
            finding.message = "the body was not linted: it did not fit in the memory \
                trakt-doctor sets aside for request bodies (--body-memory, in all and an \
                eighth per connection)"
                .into();
        }
    }
}

/// The upstream's answer: its head inspected (and repaired by auto-fix),
/// recorded, and its body streamed to the client while being recorded.
fn answer(
    shared: &Shared,
    mut pending: PendingExchange,
    response: Response<Incoming>,
    mut clock: Clock,
) -> Response<ProxyBody> {
    let (mut parts, incoming) = response.into_parts();
    let headers = Headers::from_map(&parts.headers);
    let status = parts.status.as_u16();
    for (name, value) in pending.answer_head(status, &headers, &shared.fix_policy()) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            parts.headers.insert(name, value);
        }
    }
    pending.set_response(exchange::Response {
        status,
        http_version: exchange::version_name(parts.version).to_string(),
        headers,
        body: Body::default(),
    });
    strip_hop_by_hop(&mut parts.headers);
    clock.lap(Stage::ResponseHead);
    pending.set_clock(clock);
    let recording = RecordingBody::new(
        incoming,
        pending,
        shared.settings.capture_limit,
        shared.finisher.clone(),
    );
    Response::from_parts(
        parts,
        recording.map_err(body::BoxError::from).boxed_unsync(),
    )
}

/// Rebuilds header fields from the captured (and repaired) list.
fn header_map(headers: &Headers) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.0.len());
    for (name, value) in headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// The proxy's answer in place of a response it could not get: the
/// status says whose fault it was (408 and 400 the client's, 504 a
/// timeout, 502 any other upstream failure).
fn failure_response(failure: &ExchangeError) -> Response<ProxyBody> {
    let status = match failure.kind {
        ErrorKind::ClientBodyTooSlow => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::ClientBodyUnreadable => StatusCode::BAD_REQUEST,
        ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::UpstreamUnreachable
        | ErrorKind::UpstreamTls
        | ErrorKind::UpstreamFailed
        | ErrorKind::UpstreamBodyFailed
        | ErrorKind::ClientClosed
        | ErrorKind::CutByShutdown
        | ErrorKind::Other => StatusCode::BAD_GATEWAY,
    };
    respond::error(status, &failure.for_client())
}

async fn send(
    shared: &Shared,
    req: Request<ProxyBody>,
    client_version: http::Version,
) -> Result<Response<Incoming>, ExchangeError> {
    // Formatted only for an error message: a clone shares the URI's bytes.
    let uri = req.uri().clone();
    let target = || uri.to_string();
    let timeout = shared.settings.upstream_timeout;
    match tokio::time::timeout(
        timeout,
        shared.upstream.for_version(client_version).request(req),
    )
    .await
    {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(super::upstream::failure(&e, &target())),
        Err(_) => Err(ExchangeError::new(
            ErrorKind::UpstreamTimeout,
            format!(
                "trakt-doctor gave up on {}: no response within {} s (--upstream-timeout)",
                target(),
                timeout.as_secs_f64()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn connection_fields_go_and_the_message_fields_stay() {
        let mut headers = map(&[
            ("content-type", "application/json"),
            ("connection", "keep-alive, x-hop"),
            ("keep-alive", "timeout=5"),
            ("x-hop", "1"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trakt-api-version", "2"),
        ]);
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["content-type", "trakt-api-version"]);
        // Without any, nothing changes.
        let mut plain = map(&[("content-type", "application/json"), ("x-a", "1")]);
        let before = plain.clone();
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain, before);
        // A field named only in Connection is still removed.
        let mut listed = map(&[("connection", "x-only"), ("x-only", "1"), ("x-b", "2")]);
        strip_hop_by_hop(&mut listed);
        assert_eq!(
            listed.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-b"]
        );
    }
}
