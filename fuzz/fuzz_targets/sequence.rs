//! Fuzzes the whole inspection across a sequence of exchanges, as the proxy
//! runs it: each request is linted and checked against the session, fixed,
//! its response head checked, the finished exchange diagnosed and learnt
//! from, then redacted and written as a record; the records are read back
//! and replayed as `trakt-doctor lint` does. The inspector guards every
//! stage, so a bug shows as an `internal.*` finding: that fails the run too.
//!
//! Input: exchanges separated by `\n===\n`. Each starts with four bytes
//! (host, status, time gap, duration), then text:
//! `METHOD PATH` / request headers, blank line, request body, blank line,
//! response headers, blank line, response body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};
use trakt_doctor::fix::FixPolicy;
use trakt_doctor::inspect::Inspector;

const HOSTS: [&str; 8] = [
    "api.trakt.tv",
    "trakt.tv",
    "api.strem.io",
    "www.strem.io",
    "nottrakt.tv",
    "api.trakt.tv.example.org",
    "API.TRAKT.TV",
    "api-staging.trakt.tv",
];
const GAPS_MS: [i64; 8] = [
    0,
    300,
    1_000,
    5_000,
    86_400_000,
    -5_000,
    400_000_000_000,
    i64::MAX,
];
const DURATIONS_MS: [f64; 6] = [1.0, 0.0, -1.0, 1e300, f64::MAX, f64::NAN];

fn headers(text: &str) -> Headers {
    Headers(
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
    )
}

fn assert_no_internal(exchange: &Exchange) {
    if let Some(failed) = exchange
        .findings
        .iter()
        .find(|f| f.is(&trakt_doctor::lint::internal::INTERNAL))
    {
        panic!(
            "{} on {} {}",
            failed.message, exchange.request.method, exchange.request.url
        );
    }
}

fn one(inspector: &Inspector, chunk: &[u8], at: OffsetDateTime) -> Option<Exchange> {
    // The third byte (the time gap) is read by the caller.
    let (&[host, status, _, duration], rest) = chunk.split_first_chunk::<4>()?;
    let host = HOSTS[usize::from(host) % HOSTS.len()];
    let status = 100 + (u16::from(status) * 2) % 500;
    let text = String::from_utf8_lossy(rest);
    let mut sections = text.splitn(4, "\n\n");
    let head = sections.next().unwrap_or_default();
    let body = sections.next().unwrap_or_default().to_string();
    let response_head = sections.next().unwrap_or_default();
    let response_body = sections.next().unwrap_or_default().to_string();
    let (first, header_lines) = head.split_once('\n').unwrap_or((head, ""));
    let (method, path) = first.split_once(' ').unwrap_or(("GET", first));
    let request = Request {
        method: method.to_string(),
        url: format!("https://{host}/{}", path.trim_start_matches('/')),
        http_version: "HTTP/1.1".into(),
        headers: headers(header_lines),
        body: Body::complete(Bytes::from(body)),
    };
    let prepared = inspector.prepare(&request, at, &FixPolicy::All);
    let (mut findings, fixes) = (prepared.findings, prepared.fixes);
    let request = prepared.repaired.unwrap_or(request);
    let response_headers = headers(response_head);
    let (head_findings, _) =
        inspector.response_head(&request, status, &response_headers, &FixPolicy::All);
    findings.extend(head_findings);
    let mut exchange = Exchange {
        id: 1,
        started_at: at,
        duration_ms: DURATIONS_MS[usize::from(duration) % DURATIONS_MS.len()],
        request,
        response: Some(Response {
            status,
            http_version: "HTTP/1.1".into(),
            headers: response_headers,
            body: Body::complete(Bytes::from(response_body)),
        }),
        error: None,
        findings,
        fixes,
        diagnosis: None,
    };
    inspector.finish(&mut exchange);
    assert_no_internal(&exchange);
    trakt_doctor::redact::Redactor::new(b"fuzz").exchange(&mut exchange);
    Some(exchange)
}

fuzz_target!(|data: &[u8]| {
    let inspector = Inspector::new();
    let mut at = OffsetDateTime::UNIX_EPOCH.saturating_add(Duration::days(20_000));
    let mut records = Vec::new();
    let text_separator = b"\n===\n";
    let mut rest = data;
    for _ in 0..16 {
        let (chunk, next) = match rest
            .windows(text_separator.len())
            .position(|w| w == text_separator)
        {
            Some(i) => (&rest[..i], &rest[i + text_separator.len()..]),
            None => (rest, &[][..]),
        };
        if let Some(&gap) = chunk.get(2) {
            at = at.saturating_add(Duration::milliseconds(
                GAPS_MS[usize::from(gap) % GAPS_MS.len()],
            ));
        }
        if let Some(exchange) = one(&inspector, chunk, at) {
            // NaN durations are written as null, which the reader rightly refuses.
            if exchange.duration_ms.is_finite() {
                records.push(serde_json::to_string(&exchange).expect("a record serialises"));
            }
        }
        if next.is_empty() {
            break;
        }
        rest = next;
    }
    let exchanges = trakt_doctor::log::read::exchanges(&records.join("\n"))
        .expect("the proxy's own records read back");
    let offline = Inspector::new();
    for mut exchange in exchanges {
        offline.replay(&mut exchange);
        assert_no_internal(&exchange);
    }
});
