//! The report: one table of every figure per route with its ratios to the
//! direct route, the bare proxy and mitmdump; the goals (ratios of
//! trakt-doctor to the bare and minimal proxies, with their spread over
//! rounds); and the same as one JSON object (`--json`).

use crate::compressed;
use crate::workloads::Figures;

pub(crate) fn ratio_of(value: f64, base: f64) -> Option<f64> {
    (base.is_finite() && base > 0.0 && value.is_finite()).then(|| value / base)
}

pub(crate) fn ratio(value: f64, base: f64) -> String {
    ratio_of(value, base).map_or("-".into(), |r| format!("{r:.2}x"))
}

/// Reads one figure of a route's results.
pub(crate) type Metric = fn(&Figures) -> Option<f64>;

/// Every figure: its label in the table, its key in the JSON, how to read it.
pub(crate) const ROWS: [(&str, &str, Metric); 24] = [
    ("latency p50 (ms)", "p50_ms", |f| Some(f.p50_ms)),
    ("latency p99 (ms)", "p99_ms", |f| Some(f.p99_ms)),
    ("throughput (req/s)", "rps", |f| Some(f.rps)),
    ("  CPU/req, proxy (us)", "proxy_cpu_us", |f| f.proxy_cpu_us),
    ("  CPU/req, client+upstream", "harness_cpu_us", |f| {
        f.harness_cpu_us
    }),
    ("  switches/req, proxy", "proxy_switches", |f| {
        f.proxy_switches
    }),
    ("new conn per req (req/s)", "handshake_rps", |f| {
        Some(f.handshake_rps).filter(|v| *v > 0.0)
    }),
    (
        "  CPU/conn, proxy (us)",
        "proxy_cpu_per_handshake_us",
        |f| f.proxy_cpu_per_handshake_us,
    ),
    ("1 MiB bodies (MiB/s)", "big_mbps", |f| {
        Some(f.big_mbps).filter(|v| *v > 0.0)
    }),
    ("1 MiB JSON, plain (MiB/s)", "big_json_mbps", |f| {
        f.answers.mbps(compressed::Coding::Identity)
    }),
    ("  p50, proxy idle (ms)", "big_json_alone_ms", |f| {
        f.answers.alone_ms(compressed::Coding::Identity)
    }),
    ("  CPU/answer, proxy (us)", "big_json_proxy_cpu_us", |f| {
        f.answers.proxy_cpu_us(compressed::Coding::Identity)
    }),
    ("1 MiB JSON, gzip (MiB/s)", "big_gzip_mbps", |f| {
        f.answers.mbps(compressed::Coding::Gzip)
    }),
    ("  p50, proxy idle (ms)", "big_gzip_alone_ms", |f| {
        f.answers.alone_ms(compressed::Coding::Gzip)
    }),
    ("  CPU/answer, proxy (us)", "big_gzip_proxy_cpu_us", |f| {
        f.answers.proxy_cpu_us(compressed::Coding::Gzip)
    }),
    ("1 MiB JSON, br (MiB/s)", "big_br_mbps", |f| {
        f.answers.mbps(compressed::Coding::Br)
    }),
    ("  p50, proxy idle (ms)", "big_br_alone_ms", |f| {
        f.answers.alone_ms(compressed::Coding::Br)
    }),
    ("  CPU/answer, proxy (us)", "big_br_proxy_cpu_us", |f| {
        f.answers.proxy_cpu_us(compressed::Coding::Br)
    }),
    ("RSS at start (MiB)", "rss_idle_mib", |f| f.rss_idle_mib),
    ("RSS before holding (MiB)", "rss_before_held_mib", |f| {
        f.rss_before_held_mib
    }),
    ("RSS holding conns (MiB)", "rss_held_mib", |f| {
        f.rss_held_mib
    }),
    ("RSS after long run (MiB)", "rss_after_soak_mib", |f| {
        f.rss_after_soak_mib
    }),
    ("  growth, 2nd half (MiB)", "rss_soak_growth_mib", |f| {
        f.rss_soak_growth_mib
    }),
    ("errors", "errors", |f| Some(f.errors as f64)),
];

pub(crate) const DIRECT: &str = "direct";
pub(crate) const BARE: &str = "bare hyper proxy (floor)";
pub(crate) const LINT: &str = "trakt-doctor (lint)";
pub(crate) const LINT_FIX: &str = "trakt-doctor (lint + fix)";
pub(crate) const MINIMAL: &str = "minimal inspecting proxy";
pub(crate) const UNCHECKED: &str = "trakt-doctor, checks off";
pub(crate) const MITM: &str = "mitmdump";

pub(crate) fn find<'a>(results: &'a [(String, Figures)], name: &str) -> Option<&'a Figures> {
    results.iter().find(|(n, _)| n == name).map(|(_, f)| f)
}

/// One goal of issue 19: a ratio to the bare proxy in the same run.
pub(crate) struct Goal {
    pub(crate) key: &'static str,
    pub(crate) what: &'static str,
    pub(crate) ratio: Option<f64>,
    /// The goal, and whether the ratio must be at most (true) or at least it.
    pub(crate) bound: f64,
    pub(crate) at_most: bool,
}

/// The goals, each a ratio of trakt-doctor (lint) to the bare proxy.
/// The goals for the route `subject` (trakt-doctor (lint); the minimal
/// inspecting proxy, for comparison).
pub(crate) fn goals(results: &[(String, Figures)], subject: &str) -> Vec<Goal> {
    let (Some(direct), Some(bare), Some(lint)) = (
        find(results, DIRECT),
        find(results, BARE),
        find(results, subject),
    ) else {
        return Vec::new();
    };
    let fix = find(results, LINT_FIX).filter(|_| subject == LINT);
    let added =
        |get: fn(&Figures) -> f64| ratio_of(get(lint) - get(direct), get(bare) - get(direct));
    let vs_bare = |get: Metric| get(lint).zip(get(bare)).and_then(|(l, b)| ratio_of(l, b));
    vec![
        Goal {
            key: "cpu_per_request",
            what: "proxy CPU per request",
            ratio: vs_bare(|f| f.proxy_cpu_us),
            bound: 1.5,
            at_most: true,
        },
        Goal {
            key: "throughput_64",
            what: "throughput, 64 connections",
            ratio: vs_bare(|f| Some(f.rps)),
            bound: 0.75,
            at_most: false,
        },
        Goal {
            key: "p50_added",
            what: "p50 latency added over direct",
            ratio: added(|f| f.p50_ms),
            bound: 1.3,
            at_most: true,
        },
        Goal {
            key: "p99_added",
            what: "p99 latency added over direct",
            ratio: added(|f| f.p99_ms),
            bound: 1.5,
            at_most: true,
        },
        Goal {
            key: "handshakes",
            what: "new connection + TLS per request",
            ratio: vs_bare(|f| Some(f.handshake_rps).filter(|v| *v > 0.0)),
            bound: 0.97,
            at_most: false,
        },
        Goal {
            key: "big_bodies",
            what: "1 MiB responses (MiB/s)",
            ratio: vs_bare(|f| Some(f.big_mbps).filter(|v| *v > 0.0)),
            bound: 0.9,
            at_most: false,
        },
        Goal {
            key: "rss_held",
            what: "RSS holding connections",
            ratio: vs_bare(|f| f.rss_held_mib),
            bound: 1.3,
            at_most: true,
        },
        Goal {
            key: "fix_throughput",
            what: "lint + fix throughput vs lint only",
            ratio: fix.and_then(|f| ratio_of(f.rps, lint.rps)),
            bound: 0.95,
            at_most: false,
        },
    ]
}

/// The ratio of the goal `key` among `goals`, when it was measured.
pub(crate) fn ratio_for(goals: &[Goal], key: &str) -> Option<f64> {
    goals.iter().find(|g| g.key == key).and_then(|g| g.ratio)
}

/// A goal's ratio in each round (from that round's slices alone), for
/// the route `subject`: how far one run's ratio moves with the machine.
pub(crate) fn per_round(rounds: &[Vec<(String, Figures)>], subject: &str, key: &str) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|round| ratio_for(&goals(round, subject), key))
        .collect()
}

/// `min–max` of per-round ratios ("" when there are none).
pub(crate) fn spread(ratios: &[f64]) -> String {
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if ratios.is_empty() {
        String::new()
    } else {
        format!("{min:.2}-{max:.2}x")
    }
}

impl Goal {
    pub(crate) fn met(&self) -> Option<bool> {
        self.ratio.map(|r| {
            if self.at_most {
                r <= self.bound
            } else {
                r >= self.bound
            }
        })
    }
}

pub(crate) fn report(results: &[(String, Figures)], rounds: &[Vec<(String, Figures)>]) {
    let direct = &results[0].1;
    let bare = find(results, BARE);
    let mitm = find(results, MITM);
    println!();
    println!(
        "{:<28} {:>12} {:>10} {:>10} {:>12}",
        "route / workload", "value", "vs direct", "vs bare", "vs mitmdump"
    );
    for (name, figures) in results {
        println!("{name}");
        for (label, _, get) in &ROWS {
            let Some(value) = get(figures) else { continue };
            if *label == "errors" && value == 0.0 {
                continue;
            }
            let versus = |other: Option<&Figures>| {
                other.and_then(get).map_or("-".into(), |o| ratio(value, o))
            };
            println!(
                "  {label:<26} {value:>12.3} {:>10} {:>10} {:>12}",
                versus(Some(direct)),
                versus(bare),
                versus(mitm)
            );
        }
    }
    let goals_of_lint = goals(results, LINT);
    let floor = goals(results, MINIMAL);
    let unchecked = goals(results, UNCHECKED);
    if !goals_of_lint.is_empty() {
        println!();
        println!("goals of issue 19 (trakt-doctor (lint) against the bare proxy, this run):");
        println!(
            "  {:<54} {:<9} {:<13} {:<10} checks off",
            "", "", "its rounds", "minimal"
        );
        for goal in &goals_of_lint {
            let of = |others: &[Goal]| {
                ratio_for(others, goal.key).map_or(String::new(), |r| format!("{r:.2}x"))
            };
            println!(
                "  {:<36} {:>8} {} {:<5} {:<9} {:<13} {:<10} {}",
                goal.what,
                goal.ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                if goal.at_most { "<=" } else { ">=" },
                format!("{:.2}x", goal.bound),
                match goal.met() {
                    Some(true) => "met",
                    Some(false) => "not met",
                    None => "not measured",
                },
                spread(&per_round(rounds, LINT, goal.key)),
                of(&floor),
                of(&unchecked)
            );
        }
    }
}

/// Every figure and ratio of the run as one JSON object (`--json`).
pub(crate) fn report_json(
    results: &[(String, Figures)],
    rounds: &[Vec<(String, Figures)>],
    header: serde_json::Value,
    stages: Option<&serde_json::Value>,
) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let number = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    let mut routes = Map::new();
    for (name, figures) in results {
        let mut values = Map::new();
        for (_, key, get) in &ROWS {
            values.insert((*key).into(), get(figures).map_or(Value::Null, number));
        }
        let mut ratios = Map::new();
        for (versus, other) in [
            ("vs_direct", DIRECT),
            ("vs_bare", BARE),
            ("vs_mitmdump", MITM),
        ] {
            let Some(other) = find(results, other) else {
                continue;
            };
            let mut these = Map::new();
            for (_, key, get) in &ROWS {
                let r = get(figures)
                    .zip(get(other))
                    .and_then(|(v, o)| ratio_of(v, o));
                these.insert((*key).into(), r.map_or(Value::Null, number));
            }
            ratios.insert(versus.into(), Value::Object(these));
        }
        routes.insert(
            name.clone(),
            json!({"figures": Value::Object(values), "ratios": Value::Object(ratios)}),
        );
    }
    let floor = goals(results, MINIMAL);
    let unchecked = goals(results, UNCHECKED);
    let goals: Vec<Value> = goals(results, LINT)
        .iter()
        .map(|g| {
            let of = |others: &[Goal]| ratio_for(others, g.key).map_or(Value::Null, number);
            let in_rounds: Vec<Value> = per_round(rounds, LINT, g.key)
                .into_iter()
                .map(number)
                .collect();
            json!({"goal": g.key, "what": g.what, "ratio": g.ratio.map_or(Value::Null, number),
                   "bound": g.bound, "at_most": g.at_most, "met": g.met(),
                   "rounds": in_rounds,
                   "minimal_inspecting_proxy": of(&floor),
                   "checks_off": of(&unchecked)})
        })
        .collect();
    let mut out = header;
    out["routes"] = Value::Object(routes);
    out["goals"] = Value::Array(goals);
    if let Some(stages) = stages {
        out["stages"] = stages.clone();
    }
    out
}
