//! trakt-doctor under test: each route's proxy runs in a child process
//! (this program started again), so its CPU time and memory are its own.
//! trakt-doctor runs as `trakt-doctor run` does, with its checks on, with
//! `--fix`, or with every check off (the feature `bench-stages` switch).

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;

use crate::alloc::serve_allocation_counts;
use crate::upstream::Upstream;

/// How trakt-doctor runs on a route.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Checks {
    /// As users run it: every check, no fix.
    Lint,
    /// With `--fix`.
    Fix,
    /// Every check skipped (`TRAKT_DOCTOR_BENCH_NO_CHECKS`): the proxy,
    /// capture and sinks alone, so the difference to `Lint` is what the
    /// checks cost.
    Off,
}

/// This program again, running trakt-doctor exactly as `trakt-doctor run`
/// does (terminal and web-view sinks, plus a JSONL log), with its own
/// CA in `dir`, routing api.trakt.tv to the fake upstream.
pub(crate) fn spawn_trakt_doctor(
    upstream: &Upstream,
    dir: &Path,
    checks: Checks,
    stages: Option<&Path>,
) -> (Child, SocketAddr, CertificateDer<'static>) {
    let name = match checks {
        Checks::Lint => "",
        Checks::Fix => "-fix",
        Checks::Off => "-unchecked",
    };
    let certs = dir.join(if stages.is_some() {
        "certs-stages".to_string()
    } else {
        format!("certs{name}")
    });
    let addr = free_loopback_addr();
    let mut args = vec![
        "run".to_string(),
        "--listen".into(),
        addr.to_string(),
        "--certs".into(),
        certs.display().to_string(),
        "--upstream-ca".into(),
        upstream.ca_pem_path.display().to_string(),
        "--resolve".into(),
        format!("api.trakt.tv:443={}", upstream.addr),
        "--log".into(),
        certs.join("bench.jsonl").display().to_string(),
    ];
    if checks == Checks::Fix {
        args.push("--fix".into());
    }
    let stderr = dir.join(format!("stderr{name}.txt"));
    let allocations = dir.join("allocations.txt");
    let mut env: Vec<(&str, &OsStr)> = match stages {
        Some(file) => vec![
            (trakt_doctor::proxy::stages::ENV, file.as_os_str()),
            ("BENCH_ALLOCATIONS", allocations.as_os_str()),
        ],
        None => Vec::new(),
    };
    if checks == Checks::Off {
        env.push((trakt_doctor::proxy::stages::NO_CHECKS_ENV, OsStr::new("1")));
    }
    let child = start_child("--child-proxy", &args, addr, &stderr, &env);
    use rustls_pki_types::pem::PemObject;
    let ca = CertificateDer::from_pem_file(certs.join("trakt-doctor-ca.pem")).expect("child CA");
    (child, addr, ca)
}

/// Starts this program again in `mode` and waits until it listens on
/// `addr`. Its banner and any error go to `stderr`, shown if it does not start.
pub(crate) fn start_child(
    mode: &str,
    args: &[String],
    addr: SocketAddr,
    stderr: &Path,
    env: &[(&str, &OsStr)],
) -> Child {
    let exe = std::env::current_exe().expect("current exe");
    let file = std::fs::File::create(stderr).expect("stderr file");
    let mut child = Command::new(exe)
        .arg(mode)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {mode}: {e}"));
    if !wait_for_listener(addr) {
        let _ = child.kill();
        let said = std::fs::read_to_string(stderr).unwrap_or_default();
        panic!("{mode} did not start listening on {addr}:\n{said}");
    }
    child
}

/// A loopback address with a port nobody listens on (yet).
pub(crate) fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// Waits (up to 30 s) until something accepts connections at `addr`.
pub(crate) fn wait_for_listener(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The child: trakt-doctor's own entry point with the given arguments.
pub(crate) fn child_proxy(args: &[String]) {
    use clap::Parser;
    serve_allocation_counts();
    let cli = trakt_doctor::cli::Cli::parse_from(
        std::iter::once("trakt-doctor".to_string()).chain(args.iter().cloned()),
    );
    // As the binary runs: its diagnostics set up (spans and events cost).
    trakt_doctor::app::init_diagnostics();
    if let Err(fatal) = trakt_doctor::app::main(cli) {
        eprintln!("bench: the child proxy stopped: {fatal}");
        std::process::exit(2);
    }
}
