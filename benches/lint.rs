//! Lint cost on a typical scrobble request, printed with a baseline measured
//! in the same run (parsing the same body with serde_json, the least any
//! JSON-aware check must do). Run: `cargo bench --bench lint`.
//! Figures only; nothing here can fail on a slow machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};

/// Counts allocations, so the figures show what a change saves in them too.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// A global allocator is an unsafe trait; this one forwards every call
// unchanged to the system allocator.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by one call of `f`.
fn allocations(mut f: impl FnMut()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed).saturating_sub(before)
}

/// What the proxy does for one answered exchange with auto-fix off, in the
/// order it does it: the session check before forwarding, the response
/// head's check, then (after the response went out) the request's lint,
/// the finish (response checks, diagnosis, session update) and, on the
/// writer's thread, redaction.
fn exchange_pipeline(
    inspector: &trakt_doctor::inspect::Inspector,
    redactor: &trakt_doctor::redact::Redactor,
    request: &Request,
    at: time::OffsetDateTime,
) -> Exchange {
    let off = trakt_doctor::fix::FixPolicy::Off;
    let (mut findings, sent) = inspector
        .begin(at)
        .check_session(inspector, request, |_| {});
    let response = Response {
        status: 201,
        http_version: "HTTP/1.1".into(),
        headers: Headers(vec![("content-type".into(), "application/json".into())]),
        body: Body::complete(Bytes::from_static(ANSWER.as_bytes())),
    };
    let (head, _, answered) =
        sent.answer_head(inspector, request, response.status, &response.headers, &off);
    findings.extend(head);
    let mut exchange = Exchange {
        id: 1,
        started_at: at,
        duration_ms: 0.2,
        request: request.clone(),
        response: Some(response),
        error: None,
        findings,
        fixes: Vec::new(),
        diagnosis: None,
        replay_of: None,
    };
    // The request's lint runs here, its findings put first.
    answered.finish(inspector, &mut exchange);
    redactor.exchange(&mut exchange);
    exchange
}

/// The fake upstream's answer to a scrobble in the proxy benchmark.
const ANSWER: &str = r#"{"id":3373536619,"action":"start","progress":1.25,"sharing":{"twitter":false},"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28}}}"#;

fn scrobble() -> Request {
    let body = r#"{"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28,"slug":"guardians-of-the-galaxy-2014","imdb":"tt2015381","tmdb":118340}},"progress":1.25,"app_version":"1.0","app_date":"2014-09-22"}"#;
    Request {
        method: "POST".into(),
        url: "https://api.trakt.tv/scrobble/start".into(),
        http_version: "HTTP/2".into(),
        headers: Headers(vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "StremioTraktAddon/1.4.0".into()),
            (
                "trakt-api-key".into(),
                "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b".into(),
            ),
            ("trakt-api-version".into(), "2".into()),
            (
                "authorization".into(),
                "Bearer 5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b".into(),
            ),
        ]),
        body: Body::complete(Bytes::from(body)),
    }
}

/// Runs `f` repeatedly for about `budget` and returns nanoseconds per call (best of 5 rounds).
fn measure(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget / 5 {
            for _ in 0..100 {
                f();
            }
            n += 100;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke") || std::env::var_os("CI").is_some();
    let budget = if smoke {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(2)
    };
    let request = scrobble();
    let at = time::OffsetDateTime::now_utc();
    let baseline = measure(budget, || {
        let value: serde_json::Value =
            serde_json::from_slice(black_box(&request.body.bytes)).unwrap_or_default();
        black_box(value);
    });
    let lint = measure(budget, || {
        black_box(trakt_doctor::lint::check(black_box(&request), at));
    });
    let inspector = trakt_doctor::inspect::Inspector::new();
    let with_session = measure(budget, || {
        let (prepared, _) = inspector.begin(at).prepare(
            &inspector,
            black_box(&request),
            &trakt_doctor::fix::FixPolicy::Off,
        );
        black_box(prepared.findings);
    });
    let redactor = trakt_doctor::redact::Redactor::new(b"bench key");
    let mut at_exchange = at;
    let mut next = || {
        // A second apart: a scrobble per second is no "too fast" write.
        at_exchange += time::Duration::seconds(1);
        black_box(exchange_pipeline(
            &inspector,
            &redactor,
            black_box(&request),
            at_exchange,
        ));
    };
    let pipeline = measure(budget, &mut next);
    let lint_allocations = allocations(|| {
        black_box(trakt_doctor::lint::check(&request, at));
    });
    let pipeline_allocations = allocations(&mut next);
    println!(
        "lint of a typical /scrobble/start request{}",
        if smoke { " (smoke run)" } else { "" }
    );
    println!(
        "  {:<34} {:>9.0} ns  1.00x",
        "baseline: serde_json parse", baseline
    );
    println!(
        "  {:<34} {:>9.0} ns  {:.2}x",
        "lint::check",
        lint,
        lint / baseline
    );
    println!(
        "  {:<34} {:>9.0} ns  {:.2}x",
        "lint + session (Inspector)",
        with_session,
        with_session / baseline
    );
    println!(
        "  {:<34} {:>9.0} ns  {:.2}x",
        "whole exchange, fix off",
        pipeline,
        pipeline / baseline
    );
    println!("allocations: lint::check {lint_allocations}, whole exchange {pipeline_allocations}");
    // A large answer goes through the redactor on the log writer's thread:
    // its scan against one copy of the same bytes (the least any sink does).
    let answer = history_answer(1 << 20);
    let copy = measure(budget, || {
        black_box(black_box(answer.as_bytes()).to_vec());
    });
    let redaction = measure(budget, || {
        black_box(redactor.text(black_box(&answer)));
    });
    println!(
        "redaction of a {} KiB /sync/history answer",
        answer.len() / 1024
    );
    println!("  {:<34} {:>9.0} ns  1.00x", "baseline: one copy", copy);
    println!(
        "  {:<34} {:>9.0} ns  {:.2}x",
        "Redactor::text",
        redaction,
        redaction / copy
    );
}

/// A `/sync/history` answer of about `size` bytes, shaped as Trakt's.
fn history_answer(size: usize) -> String {
    let mut out = String::from("[");
    let mut id = 1u64;
    while out.len() < size {
        if id > 1 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"id":{id},"watched_at":"2026-11-2{}T20:1{}:00.000Z","action":"scrobble","type":"episode","episode":{{"season":1,"number":{},"title":"Episode {id}","ids":{{"trakt":{},"tvdb":{},"imdb":"tt{:07}","tmdb":{}}}}},"show":{{"title":"Show {}","year":2014,"ids":{{"trakt":{},"slug":"show-{}","tvdb":{},"imdb":"tt{:07}","tmdb":{}}}}}}}"#,
            id % 10, id % 10, id % 24, id + 1000, id + 2000, id, id + 3000, id % 50, id % 50, id % 50, id + 4000, id, id + 5000
        ));
        id += 1;
    }
    out.push(']');
    out
}
