//! Lint cost on a typical scrobble request, printed with a baseline measured
//! in the same run (parsing the same body with serde_json, the least any
//! JSON-aware check must do). Run: `cargo bench --bench lint`.
//! Figures only; nothing here can fail on a slow machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use trakt_doctor::exchange::{Body, Headers, Request};

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
        black_box(inspector.request(black_box(&request), at));
    });
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
}
