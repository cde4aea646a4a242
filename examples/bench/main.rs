//! The benchmark harness: the same workloads direct to a fake upstream,
//! through a bare forwarding proxy (the floor), through trakt-doctor (lint
//! on; lint + fix on), and through mitmdump when it is installed (or with
//! --mitmproxy, installed into target/bench-venv). Loopback only, bounded in
//! time; prints one table with ratios measured in the same run, and the CPU
//! time each proxy spends per request. Figures only: nothing here fails on a
//! slow machine. Every proxy is started first and the workloads run in
//! rounds, each route taking its slice in turn, so that a busy moment on a
//! shared machine falls on all routes alike.
//!
//!   cargo run --release --features bench-stages --example bench             full run (about 5 minutes)
//!   cargo run --features bench-stages --example bench -- --smoke            a few requests each (CI keeps it working)
//!   cargo run --release --features bench-stages --example bench -- --mitmproxy   also compare with mitmdump
//!   cargo run --release --features bench-stages --example bench -- --without-mitmproxy   skip it even if installed
//!   cargo run --release --features bench-stages --example bench -- --stages       also the per-stage table (the proxy's own timers)
//!   cargo run --release --features bench-stages --example bench -- --json         also one JSON object with every figure and ratio
//!   cargo run --release --features bench-stages --example bench -- --quick        latency, throughput and CPU only (for iterating)
//!   cargo run --release --features bench-stages --example bench -- --help
//!
//! The feature `bench-stages` builds the proxy's instruments in (its stage
//! timers and its checks-off switch, src/proxy/stages.rs); release builds
//! of trakt-doctor do not carry them, so the harness requires it.
//!
//! The 1 MiB pass also sends a 1 MiB JSON answer plain, gzip-coded and
//! br-coded (`--only big-json,big-gzip,big-br`; bench/compressed.rs): the
//! client accepts the coding and receives the coded bytes, trakt-doctor
//! decodes its captured copy after the answer went out.
//!
//! Each proxy runs in a child process (this program started again with
//! --child-proxy, trakt-doctor's own entry point, or --child-bare-proxy) so
//! its CPU time and resident memory can be read on their own.
//!
//! The harness's modules: upstream (the fake Trakt), client (routes and
//! requests), workloads and memory (what is measured), procfs (reading a
//! process's CPU and memory), proxies (trakt-doctor in a child), bare (the
//! reference proxies), mitmproxy, report, stages (`--stages`), compressed
//! (the coded 1 MiB answers), alloc (the counting allocator).

mod alloc;
mod bare;
mod client;
mod compressed;
mod memory;
mod mitmproxy;
mod procfs;
mod proxies;
mod report;
mod stages;
mod upstream;
mod workloads;

use std::process::Command;
use std::time::{Duration, Instant};

use bare::{child_bare_proxy, spawn_bare_proxy};
use client::Route;
use memory::memory;
use mitmproxy::spawn_mitmdump;
use proxies::{child_proxy, spawn_trakt_doctor, Checks};
use report::{report, report_json, BARE, DIRECT, LINT, LINT_FIX, MINIMAL, MITM, UNCHECKED};
use stages::{measure_stages, report_stages};
use upstream::start_upstream;
use workloads::{measure_all, Figures, Measured, Tally};

pub(crate) struct Sizes {
    pub(crate) latency_requests: usize,
    pub(crate) throughput_secs: f64,
    pub(crate) connections: usize,
    pub(crate) handshakes: usize,
    pub(crate) big_requests: usize,
    pub(crate) held_connections: usize,
    pub(crate) soak_requests: usize,
    /// How many slices each workload is cut into (see [`measure_all`]).
    pub(crate) rounds: usize,
    /// The pause after a batch of compressed answers before the proxy's
    /// CPU is read (its decoding runs after the answer went out).
    pub(crate) settle: Duration,
    /// Latency, throughput and CPU only: no handshakes, big bodies or memory.
    pub(crate) quick: bool,
    /// `--only`: the workloads to run (all when empty).
    pub(crate) only: Vec<String>,
}

/// The workloads `--only` can pick, in the order they run.
pub(crate) const WORKLOADS: [&str; 8] = [
    "latency",
    "throughput",
    "handshakes",
    "big",
    "big-json",
    "big-gzip",
    "big-br",
    "memory",
];
/// The routes `--routes` can pick.
pub(crate) const ROUTES: [&str; 7] = [
    "direct",
    "bare",
    "minimal",
    "unchecked",
    "lint",
    "fix",
    "mitmdump",
];

impl Sizes {
    pub(crate) fn runs(&self, workload: &str) -> bool {
        let chosen = self.only.is_empty() || self.only.iter().any(|w| w == workload);
        chosen && (!self.quick || matches!(workload, "latency" | "throughput"))
    }
}

/// A count from the environment (the profiling overrides of a workload's size).
fn env_count(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|n| n.parse().ok())
}

/// The commit the harness was built from, when git can say (for comparing runs).
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    Some(commit).filter(|c| !c.is_empty())
}

const HELP: &str = "trakt-doctor's benchmark harness: the same workloads direct, through a bare
forwarding proxy (the floor), through trakt-doctor (checks off; lint; lint + fix)
and through mitmdump when installed. Loopback only; figures only, never a failure on speed.
Every route is started first; each workload then runs in five rounds, every
route taking its slice in turn, so the ratios compare the same minutes.

usage: cargo run --release --features bench-stages --example bench -- [options]

  --smoke               a few requests each (CI keeps the harness working)
  --quick               latency, throughput and CPU per request only (for iterating)
  --stages              also the per-stage table from trakt-doctor's own timers
                        (TRAKT_DOCTOR_STAGES; off in production; with
                        BENCH_STAGES_FIX=1 in the environment, auto-fix on)
  --json                also one JSON object with every figure, ratio and goal
  --mitmproxy           install mitmdump into target/bench-venv and compare
  --without-mitmproxy   skip mitmdump even if installed
  --only LIST           only these workloads: latency, throughput, handshakes,
                        big, big-json, big-gzip, big-br, memory (comma-separated;
                        for profiling one of them; big-json, big-gzip, big-br:
                        a 1 MiB JSON answer plain, gzip- and br-coded, the
                        client receiving the coded bytes)
  --routes LIST         only these routes: direct, bare, minimal, unchecked, lint,
                        fix, mitmdump (minimal: the bare proxy plus the least
                        inspection any logging proxy does: both bodies parsed or
                        kept as text, a JSON line each; unchecked: trakt-doctor
                        with every check off, TRAKT_DOCTOR_BENCH_NO_CHECKS, so
                        lint minus unchecked is what the checks cost)
  --help                this text

environment: BENCH_KEEP=1 keeps the run's folder (logs, CAs, stderr);
BENCH_BIG_REQUESTS=N sends N 1 MiB answers of each kind instead of 40, BENCH_HANDSHAKES=N
opens N new connections instead of 300 (for profiling)
";
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child-proxy") => return child_proxy(&args[1..]),
        Some("--child-bare-proxy") => return child_bare_proxy(&args[1..]),
        _ => {}
    }
    let known = [
        "--smoke",
        "--quick",
        "--stages",
        "--json",
        "--mitmproxy",
        "--without-mitmproxy",
    ];
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return;
    }
    // `--only a,b` and `--routes a,b` take a list; every other option is a flag.
    let mut only = Vec::new();
    let mut routes = Vec::new();
    let mut flags = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (list, allowed): (&mut Vec<String>, &[&str]) = match arg.as_str() {
            "--only" => (&mut only, &WORKLOADS),
            "--routes" => (&mut routes, &ROUTES),
            flag if known.contains(&flag) => {
                flags.push(flag.to_string());
                continue;
            }
            unknown => {
                eprint!("bench: unknown option {unknown}\n\n{HELP}");
                std::process::exit(2);
            }
        };
        let Some(value) = rest.next() else {
            eprintln!("bench: {arg} needs a list, one of {}", allowed.join(", "));
            std::process::exit(2);
        };
        for item in value.split(',').filter(|i| !i.is_empty()) {
            if !allowed.contains(&item) {
                eprintln!(
                    "bench: {arg}: unknown {item:?}, expected one of {}",
                    allowed.join(", ")
                );
                std::process::exit(2);
            }
            list.push(item.to_string());
        }
    }
    let args = flags;
    let route_wanted = |name: &str| routes.is_empty() || routes.iter().any(|r| r == name);
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let smoke = has("--smoke");
    let quick = has("--quick");
    let want_stages = has("--stages");
    let want_json = has("--json");
    let install_mitm = has("--mitmproxy");
    let skip_mitm = has("--without-mitmproxy");
    let sizes = if smoke {
        Sizes {
            latency_requests: 20,
            throughput_secs: 0.3,
            connections: 8,
            handshakes: 5,
            big_requests: 2,
            held_connections: 20,
            soak_requests: 320,
            // Two, so that the rotation itself is exercised.
            rounds: 2,
            settle: compressed::SETTLE_SMOKE,
            quick,
            only: only.clone(),
        }
    } else {
        Sizes {
            latency_requests: 3000,
            throughput_secs: 4.0,
            connections: 64,
            // BENCH_HANDSHAKES, BENCH_BIG_REQUESTS: more of those, for profiling them.
            handshakes: env_count("BENCH_HANDSHAKES").unwrap_or(300),
            big_requests: env_count("BENCH_BIG_REQUESTS").unwrap_or(40),
            held_connections: 1000,
            soak_requests: 100_000,
            rounds: 5,
            settle: compressed::SETTLE,
            quick,
            only,
        }
    };
    // BENCH_KEEP=1 keeps the folder (logs, CAs, the proxies' stderr) to look at.
    let keep = std::env::var_os("BENCH_KEEP").is_some();
    let dir = tempfile::Builder::new()
        .prefix("trakt-doctor-bench")
        .disable_cleanup(keep)
        .tempdir()
        .expect("temp dir");
    if keep {
        eprintln!("bench: keeping {}", dir.path().display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The coded answers are compressed before any route is measured.
    let answers = compressed::chosen(&sizes).then(compressed::describe);
    let started = Instant::now();
    let (results, rounds, stages) = runtime.block_on(async {
        let upstream = start_upstream(dir.path()).await;
        // Every route is started first and measured in turns (see measure_all).
        let mut measured = Vec::new();
        if route_wanted("direct") {
            let direct = Route::new(DIRECT, upstream.addr, None, "api.trakt.tv", upstream.ca_der.clone(), None);
            measured.push(Measured::new(direct, None));
        }
        for (wanted, name, inspect) in [("bare", BARE, false), ("minimal", MINIMAL, true)] {
            if route_wanted(wanted) {
                let (child, addr) = spawn_bare_proxy(&upstream, dir.path(), &[], inspect);
                let route = Route::new(name, addr, Some(("api.trakt.tv", 443)), "api.trakt.tv", upstream.ca_der.clone(), Some(child.id()));
                measured.push(Measured::new(route, Some(child)));
            }
        }
        for (wanted, name, checks) in [("unchecked", UNCHECKED, Checks::Off), ("lint", LINT, Checks::Lint), ("fix", LINT_FIX, Checks::Fix)] {
            if !route_wanted(wanted) {
                continue;
            }
            let (child, addr, ca) = spawn_trakt_doctor(&upstream, dir.path(), checks, None);
            let route = Route::new(name, addr, Some(("api.trakt.tv", 443)), "api.trakt.tv", ca, Some(child.id()));
            measured.push(Measured::new(route, Some(child)));
        }
        let mitmdump = if skip_mitm || !route_wanted("mitmdump") { None } else { spawn_mitmdump(&upstream, dir.path(), install_mitm) };
        if let Some((child, addr, ca)) = mitmdump {
            let route = Route::new(MITM, addr, Some(("localhost", upstream.addr.port())), "localhost", ca, Some(child.id()));
            measured.push(Measured::new(route, Some(child)));
        } else if !skip_mitm && route_wanted("mitmdump") {
            eprintln!("mitmdump not found: run with --mitmproxy to install it into target/bench-venv and compare");
        }
        measure_all(&mut measured, &sizes).await;
        let rounds: Vec<Vec<(String, Figures)>> = (0..sizes.rounds)
            .map(|i| {
                measured
                    .iter_mut()
                    .map(|m| {
                        let figures = m.rounds.get_mut(i).map(Tally::figures).unwrap_or_default();
                        (m.route.name.clone(), figures)
                    })
                    .collect()
            })
            .collect();
        let mut results = Vec::new();
        for m in &mut measured {
            let mut figures = m.total.figures();
            if sizes.runs("memory") {
                memory(&m.route, &sizes, &mut figures).await;
            }
            m.stop();
            results.push((m.route.name.clone(), figures));
        }
        let stages = if want_stages {
            let (requests, handshakes) = if smoke { (50, 5) } else { (sizes.latency_requests, 100) };
            measure_stages(&upstream, dir.path(), requests, handshakes).await
        } else {
            None
        };
        (results, rounds, stages)
    });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mode = match (smoke, quick) {
        (true, _) => "smoke",
        (false, true) => "quick",
        (false, false) => "full",
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("trakt-doctor bench ({mode}) on {cores} cores, {seconds:.0} s, loopback only");
    if answers.is_some() {
        println!("{}", compressed::summary());
    }
    report(&results, &rounds);
    if want_stages {
        match &stages {
            Some(stages) => report_stages(stages),
            None => eprintln!("bench: the stage timings could not be read"),
        }
    }
    if want_json {
        let mut header = serde_json::json!({
            "mode": mode,
            "cores": cores,
            "seconds": seconds,
            "commit": git_commit(),
        });
        if let Some(answers) = answers {
            header["answers"] = answers;
        }
        println!();
        println!(
            "{}",
            report_json(&results, &rounds, header, stages.as_ref())
        );
    }
}
