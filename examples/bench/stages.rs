//! The per-stage table (`--stages`): trakt-doctor run once more with its
//! own stage timers on (feature `bench-stages`, TRAKT_DOCTOR_STAGES), and
//! the allocations per request in it and in the bare proxy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bare::spawn_bare_proxy;
use crate::client::{one, open, Route};
use crate::proxies::{spawn_trakt_doctor, Checks};
use crate::report::{BARE, LINT};
use crate::upstream::Upstream;
use crate::workloads::percentile;

/// Asks the stage child for its allocation count (SIGUSR1) and reads it.
pub(crate) async fn allocation_count(pid: u32, dir: &Path) -> Option<u64> {
    let file = dir.join("allocations.txt");
    let _ = std::fs::remove_file(&file);
    let sent = Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    let deadline = Instant::now() + Duration::from_secs(3);
    while sent && Instant::now() < deadline {
        if let Some(count) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return Some(count);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Runs trakt-doctor (lint) with its stage timers on: `requests` sequential
/// requests on one keep-alive connection (as the latency workload), then
/// `handshakes` new connections; stops it (SIGTERM: it writes its timings
/// as it shuts down) and reads them. Linux/Unix only (the `kill` command).
pub(crate) async fn measure_stages(
    upstream: &Upstream,
    dir: &Path,
    requests: usize,
    handshakes: usize,
) -> Option<serde_json::Value> {
    let file = dir.join("stages.json");
    // BENCH_STAGES_FIX=1: the same table with auto-fix on (what it adds to the path).
    let fix = std::env::var_os("BENCH_STAGES_FIX").is_some();
    if fix {
        eprintln!("bench: the stage table below is for trakt-doctor (lint + fix)");
    }
    let checks = if fix { Checks::Fix } else { Checks::Lint };
    let (mut child, addr, ca) = spawn_trakt_doctor(upstream, dir, checks, Some(&file));
    let route = Route::new(
        LINT,
        addr,
        Some(("api.trakt.tv", 443)),
        "api.trakt.tv",
        ca,
        Some(child.id()),
    );
    let mut samples = Vec::with_capacity(requests);
    let mut allocations = None;
    if let Ok(mut sender) = open(&route).await {
        for _ in 0..10 {
            let _ = one(&mut sender, &route, "/scrobble/start").await;
        }
        let before = allocation_count(child.id(), dir).await;
        for _ in 0..requests {
            let start = Instant::now();
            if one(&mut sender, &route, "/scrobble/start").await.is_ok() {
                samples.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        // Lets the finishing and the log writer catch up before counting.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = allocation_count(child.id(), dir).await;
        allocations = before
            .zip(after)
            .filter(|_| !samples.is_empty())
            .map(|(b, a)| a.saturating_sub(b) as f64 / samples.len() as f64);
    }
    for _ in 0..handshakes {
        if let Ok(mut sender) = open(&route).await {
            let _ = one(&mut sender, &route, "/scrobble/start").await;
        }
    }
    samples.sort_by(f64::total_cmp);
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while stopped && Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    // The floor's allocations over as many requests, for comparison.
    let counts = dir.join("allocations.txt");
    let (mut bare, addr) = spawn_bare_proxy(
        upstream,
        dir,
        &[("BENCH_ALLOCATIONS", counts.as_os_str())],
        false,
    );
    let bare_route = Route::new(
        BARE,
        addr,
        Some(("api.trakt.tv", 443)),
        "api.trakt.tv",
        upstream.ca_der.clone(),
        Some(bare.id()),
    );
    let mut bare_allocations = None;
    if let Ok(mut sender) = open(&bare_route).await {
        for _ in 0..10 {
            let _ = one(&mut sender, &bare_route, "/scrobble/start").await;
        }
        let before = allocation_count(bare.id(), dir).await;
        let mut done = 0;
        for _ in 0..requests {
            if one(&mut sender, &bare_route, "/scrobble/start")
                .await
                .is_ok()
            {
                done += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = allocation_count(bare.id(), dir).await;
        bare_allocations = before
            .zip(after)
            .filter(|_| done > 0)
            .map(|(b, a)| a.saturating_sub(b) as f64 / done as f64);
    }
    let _ = bare.kill();
    let _ = bare.wait();
    let text = std::fs::read_to_string(&file).ok()?;
    let mut value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["bare_allocations_per_request"] = serde_json::json!(bare_allocations);
    value["client_p50_ms"] = serde_json::json!(percentile(&samples, 0.5));
    value["allocations_per_request"] = serde_json::json!(allocations);
    value["requests"] = serde_json::json!(requests);
    Some(value)
}

pub(crate) fn report_stages(stages: &serde_json::Value) {
    println!();
    println!(
        "stages inside trakt-doctor (lint), its own timers; {} sequential requests on one \
         connection (client-side p50 {:.3} ms; allocations per request in the proxy: {:.1}, \
         bare proxy {:.1}):",
        stages["requests"],
        stages["client_p50_ms"].as_f64().unwrap_or(f64::NAN),
        stages["allocations_per_request"]
            .as_f64()
            .unwrap_or(f64::NAN),
        stages["bare_allocations_per_request"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    println!(
        "  {:<38} {:>10} {:>10} {:>8}",
        "stage", "p50 (us)", "p99 (us)", "count"
    );
    for stage in stages["stages"].as_array().into_iter().flatten() {
        println!(
            "  {:<38} {:>10.1} {:>10.1} {:>8}",
            stage["name"].as_str().unwrap_or("?"),
            stage["p50_us"].as_f64().unwrap_or(f64::NAN),
            stage["p99_us"].as_f64().unwrap_or(f64::NAN),
            stage["count"]
        );
    }
}
