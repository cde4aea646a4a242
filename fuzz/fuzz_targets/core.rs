//! Fuzzes the pure core: any request (method, URL, headers, body) and any
//! response must lint, fix, diagnose and pass through the session without
//! panicking, and fixing must be idempotent. The inspector turns a panic in
//! a stage into an `internal.*` finding, so such a finding fails too.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};
use trakt_doctor::fix::{self, FixPolicy};

const HOSTS: [&str; 4] = ["api.trakt.tv", "trakt.tv", "api.strem.io", "www.strem.io"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let host = HOSTS[data[0] as usize % HOSTS.len()];
    let status = 100 + (u16::from(data[1]) * 2) % 500;
    let text = String::from_utf8_lossy(&data[2..]);
    let mut sections = text.splitn(3, "\n\n");
    let head = sections.next().unwrap_or_default();
    let body = sections.next().unwrap_or_default().to_string();
    let response_body = sections.next().unwrap_or_default().to_string();
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, path) = first.split_once(' ').unwrap_or(("POST", first));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Request {
        method: method.to_string(),
        url: format!("https://{host}/{}", path.trim_start_matches('/')),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers.clone()),
        body: Body::complete(Bytes::from(body)),
    };
    let at = time::OffsetDateTime::UNIX_EPOCH;
    let mut findings = trakt_doctor::lint::check(&request, at);
    if let Some((fixed, _)) = fix::apply(&request, &mut findings, &FixPolicy::All) {
        let mut again = trakt_doctor::lint::check(&fixed, at);
        assert!(
            fix::apply(&fixed, &mut again, &FixPolicy::All).is_none(),
            "fixing is not idempotent"
        );
    }
    let mut exchange = Exchange {
        id: 1,
        started_at: at,
        duration_ms: 1.0,
        request,
        response: Some(Response {
            status,
            http_version: "HTTP/1.1".into(),
            headers: Headers(headers),
            body: Body::complete(Bytes::from(response_body)),
        }),
        error: None,
        findings: Vec::new(),
        fixes: Vec::new(),
        diagnosis: None,
    };
    trakt_doctor::inspect::Inspector::new().replay(&mut exchange);
    if let Some(failed) = exchange
        .findings
        .iter()
        .find(|f| f.is(&trakt_doctor::lint::internal::INTERNAL))
    {
        panic!("{}", failed.message);
    }
    trakt_doctor::redact::Redactor::new(b"fuzz").exchange(&mut exchange);
});
