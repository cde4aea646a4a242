//! The workloads and their figures: latency (sequential requests on one
//! connection), throughput (many connections at once, with the CPU each
//! side spends), a new connection per request, and 1 MiB answers; run in
//! rounds so that every route meets the same moments of a shared machine.

use std::process::Child;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

use crate::client::{one, open, Route};
use crate::compressed;
use crate::procfs::{context_switches, cpu_secs, rss_mib};
use crate::Sizes;

#[derive(Default, Clone)]
pub(crate) struct Figures {
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) rps: f64,
    pub(crate) handshake_rps: f64,
    pub(crate) big_mbps: f64,
    /// The 1 MiB JSON answer, plain and coded (bench/compressed.rs).
    pub(crate) answers: compressed::Figures,
    /// Resident memory of the proxy: started, before any request.
    pub(crate) rss_idle_mib: Option<f64>,
    /// Before and while holding many connections open.
    pub(crate) rss_before_held_mib: Option<f64>,
    pub(crate) rss_held_mib: Option<f64>,
    /// After the long run, and its growth over the run's second half (the
    /// first half fills the web view's bounded history).
    pub(crate) rss_after_soak_mib: Option<f64>,
    pub(crate) rss_soak_growth_mib: Option<f64>,
    /// CPU time per request in the throughput workload: this process (load
    /// generator and fake upstream) and the proxy's process.
    pub(crate) harness_cpu_us: Option<f64>,
    pub(crate) proxy_cpu_us: Option<f64>,
    /// Context switches of the proxy's threads per request in the same
    /// workload: how often it hands work between threads or waits.
    pub(crate) proxy_switches: Option<f64>,
    /// The proxy's CPU time per new connection (CONNECT, TLS handshake and
    /// one request) in the handshake workload.
    pub(crate) proxy_cpu_per_handshake_us: Option<f64>,
    pub(crate) errors: usize,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A route under measurement: how to reach it, its proxy process (none for
/// direct), and what its slices of each workload have gathered so far.
pub(crate) struct Measured {
    pub(crate) route: Route,
    pub(crate) child: Option<Child>,
    /// The keep-alive connection the latency slices share (one per route,
    /// as one client sending one request after another).
    pub(crate) latency_sender: Option<SendRequest<Full<Bytes>>>,
    /// The slice being measured.
    pub(crate) slice: Tally,
    /// Every slice so far.
    pub(crate) total: Tally,
    /// Each round's slices (one per workload), by round.
    pub(crate) rounds: Vec<Tally>,
}

/// Sums over slices (one, a round's, or all of a route's); turned into
/// [`Figures`] once every round ran.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) latency_ms: Vec<f64>,
    pub(crate) requests: usize,
    pub(crate) request_secs: f64,
    /// CPU seconds (this process; the proxy) and the proxy's context
    /// switches over the throughput slices; `None` once a reading failed.
    pub(crate) harness_cpu: Option<f64>,
    pub(crate) proxy_cpu: Option<f64>,
    pub(crate) switches: Option<u64>,
    pub(crate) handshakes: usize,
    pub(crate) handshake_secs: f64,
    pub(crate) handshake_cpu: Option<f64>,
    pub(crate) big_bytes: usize,
    pub(crate) big_secs: f64,
    pub(crate) answers: compressed::Tally,
    /// Resident memory once started, before any request.
    pub(crate) rss_idle: Option<f64>,
    pub(crate) errors: usize,
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            harness_cpu: Some(0.0),
            proxy_cpu: Some(0.0),
            switches: Some(0),
            handshake_cpu: Some(0.0),
            ..Tally::default()
        }
    }

    /// Adds a slice's counts.
    pub(crate) fn absorb(&mut self, slice: &Tally) {
        self.latency_ms.extend_from_slice(&slice.latency_ms);
        self.requests += slice.requests;
        self.request_secs += slice.request_secs;
        add(&mut self.harness_cpu, slice.harness_cpu);
        add(&mut self.proxy_cpu, slice.proxy_cpu);
        add(&mut self.switches, slice.switches);
        self.handshakes += slice.handshakes;
        self.handshake_secs += slice.handshake_secs;
        add(&mut self.handshake_cpu, slice.handshake_cpu);
        self.big_bytes += slice.big_bytes;
        self.big_secs += slice.big_secs;
        self.answers.absorb(&slice.answers);
        self.errors += slice.errors;
    }
}

impl Measured {
    pub(crate) fn new(route: Route, child: Option<Child>) -> Measured {
        Measured {
            route,
            child,
            latency_sender: None,
            slice: Tally::new(),
            total: Tally::new(),
            rounds: Vec::new(),
        }
    }

    /// Counts the slice just measured in the totals and in round `round`'s.
    pub(crate) fn end_slice(&mut self, round: usize) {
        let slice = std::mem::replace(&mut self.slice, Tally::new());
        self.total.absorb(&slice);
        while self.rounds.len() <= round {
            self.rounds.push(Tally::new());
        }
        if let Some(this_round) = self.rounds.get_mut(round) {
            this_round.absorb(&slice);
        }
    }

    pub(crate) fn proxy_cpu(&self) -> Option<f64> {
        self.route.pid.and_then(|pid| cpu_secs(&pid.to_string()))
    }

    pub(crate) fn stop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Adds one slice's reading to a sum that stays `None` once any reading failed.
pub(crate) fn add<T: std::ops::Add<Output = T>>(total: &mut Option<T>, part: Option<T>) {
    *total = total.take().zip(part).map(|(t, p)| t + p);
}

/// The pause before each slice of a workload.
pub(crate) const SLICE_PAUSE: Duration = Duration::from_millis(200);

/// Runs the workloads in rounds: each round gives every route one slice
/// of the workload, in turn, starting one route later than the round
/// before and every other round in the opposite order, after a short
/// pause. On a shared machine a busy moment (a neighbour's build, a
/// compaction) then falls on every route alike instead of on whichever
/// route happened to run then, so the ratios compare like with like.
/// Memory is measured after, route by route (it holds connections open).
pub(crate) async fn measure_all(measured: &mut [Measured], sizes: &Sizes) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    for m in measured.iter_mut() {
        if let Some(pid) = m.route.pid {
            m.total.rss_idle = rss_mib(pid);
        }
    }
    let rounds = sizes.rounds;
    let share = |total: usize| total.div_ceil(rounds).max(1);
    for workload in ["latency", "throughput", "handshakes", "big"] {
        // The 1 MiB pass also carries the JSON answers, plain and coded.
        let answers = workload == "big" && compressed::chosen(sizes);
        if !sizes.runs(workload) && !answers {
            continue;
        }
        for round in 0..rounds {
            let routes = measured.len();
            for turn in 0..routes {
                // Every other round backwards, so no route always follows
                // the same one (whose leftover work, a log flushed or
                // connections closed, would fall on it each time).
                let place = if round % 2 == 0 {
                    turn
                } else {
                    routes - 1 - turn
                };
                let Some(m) = measured.get_mut((place + round) % routes) else {
                    continue;
                };
                // A moment for the route before to settle.
                tokio::time::sleep(SLICE_PAUSE).await;
                match workload {
                    "latency" => latency_slice(m, share(sizes.latency_requests)).await,
                    "throughput" => {
                        let secs = sizes.throughput_secs / rounds as f64;
                        throughput_slice(m, sizes.connections, secs).await;
                    }
                    "handshakes" => handshake_slice(m, share(sizes.handshakes)).await,
                    _ => {
                        if sizes.runs("big") {
                            big_slice(m, share(sizes.big_requests)).await;
                        }
                        if answers {
                            let count = share(sizes.big_requests);
                            compressed::slice(m, sizes, count, round).await;
                        }
                    }
                }
                m.end_slice(round);
            }
        }
    }
}

/// Sequential requests on the route's one keep-alive connection (opened,
/// and warmed with ten requests, on its first slice).
pub(crate) async fn latency_slice(m: &mut Measured, requests: usize) {
    let mut sender = match m.latency_sender.take() {
        Some(sender) => sender,
        None => match open(&m.route).await {
            Ok(mut sender) => {
                for _ in 0..10 {
                    let _ = one(&mut sender, &m.route, "/scrobble/start").await;
                }
                sender
            }
            Err(e) => {
                eprintln!("{}: cannot connect: {e}", m.route.name);
                m.slice.errors += 1;
                return;
            }
        },
    };
    for _ in 0..requests {
        let start = Instant::now();
        match one(&mut sender, &m.route, "/scrobble/start").await {
            Ok(_) => m
                .slice
                .latency_ms
                .push(start.elapsed().as_secs_f64() * 1000.0),
            Err(_) => {
                // A new connection on the next slice.
                m.slice.errors += 1;
                return;
            }
        }
    }
    m.latency_sender = Some(sender);
}

/// `connections` keep-alive connections (opened before the clock starts)
/// sending requests for `secs`: the requests done and the CPU each took
/// the harness and the proxy. The proxy's CPU is read after a short pause,
/// so the work it finishes after the last answer (the log writer's) is
/// counted for it, not for the route measured next.
pub(crate) async fn throughput_slice(m: &mut Measured, connections: usize, secs: f64) {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        match open(&m.route).await {
            Ok(sender) => senders.push(sender),
            Err(_) => m.slice.errors += 1,
        }
    }
    let cpu_before = (cpu_secs("self"), m.proxy_cpu());
    let switches_before = m.route.pid.and_then(context_switches);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for mut sender in senders {
        let route = m.route.clone();
        tasks.push(tokio::spawn(async move {
            let (mut done, mut errors) = (0usize, 0usize);
            while Instant::now() < deadline {
                match one(&mut sender, &route, "/scrobble/start").await {
                    Ok(_) => done += 1,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (done, errors)
        }));
    }
    let mut done = 0;
    for task in tasks {
        let (ok, errors) = task.await.unwrap_or((0, 1));
        done += ok;
        m.slice.errors += errors;
    }
    m.slice.request_secs += started.elapsed().as_secs_f64();
    m.slice.requests += done;
    add(
        &mut m.slice.harness_cpu,
        cpu_before.0.zip(cpu_secs("self")).map(|(b, a)| a - b),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let proxy_cpu = cpu_before.1.zip(m.proxy_cpu()).map(|(b, a)| a - b);
    add(&mut m.slice.proxy_cpu, proxy_cpu);
    add(
        &mut m.slice.switches,
        switches_before
            .zip(m.route.pid.and_then(context_switches))
            .map(|(b, a)| a.saturating_sub(b)),
    );
}

/// A new connection (and TLS handshake) per request.
pub(crate) async fn handshake_slice(m: &mut Measured, count: usize) {
    let cpu_before = m.proxy_cpu();
    let started = Instant::now();
    let mut done = 0;
    for _ in 0..count {
        let ok = match open(&m.route).await {
            Ok(mut sender) => one(&mut sender, &m.route, "/scrobble/start").await.is_ok(),
            Err(_) => false,
        };
        if ok {
            done += 1;
        } else {
            m.slice.errors += 1;
        }
    }
    m.slice.handshake_secs += started.elapsed().as_secs_f64();
    m.slice.handshakes += done;
    let proxy_cpu = cpu_before.zip(m.proxy_cpu()).map(|(b, a)| a - b);
    add(&mut m.slice.handshake_cpu, proxy_cpu);
}

/// 1 MiB answers on one keep-alive connection (opened before the clock starts).
pub(crate) async fn big_slice(m: &mut Measured, count: usize) {
    let Ok(mut sender) = open(&m.route).await else {
        m.slice.errors += 1;
        return;
    };
    let started = Instant::now();
    for _ in 0..count {
        match one(&mut sender, &m.route, "/big").await {
            Ok(n) => m.slice.big_bytes += n,
            Err(_) => m.slice.errors += 1,
        }
    }
    m.slice.big_secs += started.elapsed().as_secs_f64();
}

impl Tally {
    /// The route's figures from its slices.
    pub(crate) fn figures(&mut self) -> Figures {
        self.latency_ms.sort_by(f64::total_cmp);
        let per = |total: Option<f64>, count: usize| {
            total.filter(|_| count > 0).map(|t| t * 1e6 / count as f64)
        };
        let rate = |count: f64, secs: f64| if secs > 0.0 { count / secs } else { 0.0 };
        Figures {
            p50_ms: percentile(&self.latency_ms, 0.50),
            p99_ms: percentile(&self.latency_ms, 0.99),
            rps: rate(self.requests as f64, self.request_secs),
            handshake_rps: rate(self.handshakes as f64, self.handshake_secs),
            big_mbps: rate(self.big_bytes as f64 / 1_048_576.0, self.big_secs),
            answers: self.answers.figures(),
            rss_idle_mib: self.rss_idle,
            harness_cpu_us: per(self.harness_cpu, self.requests),
            proxy_cpu_us: per(self.proxy_cpu, self.requests),
            proxy_switches: self
                .switches
                .filter(|_| self.requests > 0)
                .map(|n| n as f64 / self.requests as f64),
            proxy_cpu_per_handshake_us: per(self.handshake_cpu, self.handshakes),
            errors: self.errors,
            ..Figures::default()
        }
    }
}
