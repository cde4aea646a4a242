//! Wiring: turns parsed command-line arguments into a running proxy or a
//! CA action. Every failure here is a one-line message and exit status 2.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::check_token;
use crate::cli::{
    self, CaAction, CaArgs, Cli, Command, LintArgs, LintFormat, RulesFormat, RunArgs,
};
use crate::fix::FixPolicy;
use crate::guide;
use crate::hosts::{HostName, ResolveTable};
use crate::inspect::Inspector;
use crate::lint::catalogue;
use crate::log::detached::DetachedWriter;
use crate::log::read;
use crate::log::{self, har::HarSink, jsonl::JsonlSink, terminal::TerminalSink, Record, Sink};
use crate::proxy::{Proxy, ProxyParts, Settings};
use crate::redact::Redactor;
use crate::report::Severity;
use crate::tls::ca::{CaOrigin, CertificateAuthority};
use crate::tls::{upstream, CaFiles, LeafCache};
use crate::web::store::{WebSink, WebStore};

/// A failure that ends the program with a message and exit status 2.
#[derive(Debug)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

/// Runs the parsed command line; returns the process exit status.
pub fn main(cli: Cli) -> Result<i32, Fatal> {
    match cli.command {
        None => run(cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Ca(args)) => ca(args),
        Some(Command::Lint(args)) => lint_files(args),
        Some(Command::Stremio(args)) => {
            let ca = absolute(&CaFiles::new(&args.certs.certs).cert_path())
                .display()
                .to_string();
            let os = args.os.unwrap_or_else(guide::Os::current);
            println!(
                "Route Stremio through trakt-doctor on {}:\n{}",
                os.name(),
                guide::stremio_steps(os, &args.proxy.to_string(), &ca)
            );
            Ok(0)
        }
        Some(Command::CheckToken(args)) => check_token::run(args),
        Some(Command::Rules(args)) => {
            match args.format {
                RulesFormat::Text => print!("{}", catalogue::text()),
                RulesFormat::Markdown => print!("{}", catalogue::markdown()),
                RulesFormat::Json => println!("{:#}", catalogue::json()),
            }
            Ok(0)
        }
    }
}

/// `trakt-doctor lint FILE...`: replays each file's exchanges through the
/// same pipeline as the proxy (one session per file).
fn lint_files(args: LintArgs) -> Result<i32, Fatal> {
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut count = 0usize;
    let mut report = Vec::new();
    let mut terminal = TerminalSink::stdout(true);
    let redactor = match crate::fingerprint_key::load(&args.certs.certs).map_err(Fatal)? {
        Some(redactor) => redactor,
        None => {
            eprintln!(
                "trakt-doctor: no fingerprint key in {}: secrets are fingerprinted with a key of this run only \
                 (pass the proxy's --certs folder for fingerprints that match its logs)",
                args.certs.certs.display()
            );
            Redactor::random()
        }
    };
    for path in &args.files {
        let text = std::fs::read(path)
            .map_err(|e| Fatal(format!("cannot read {}: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&text);
        let mut exchanges =
            read::exchanges(&text).map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
        let inspector = Inspector::with_redactor(redactor.clone());
        for exchange in &mut exchanges {
            inspector.replay(exchange);
            redactor.exchange(exchange);
            count += 1;
            errors += exchange
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            warnings += exchange
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count();
            match args.format {
                LintFormat::Text => {
                    terminal
                        .record(&Record::new(exchange))
                        .and_then(|()| terminal.end_batch())
                        .map_err(|e| Fatal(format!("cannot write the report: {e}")))?;
                }
                LintFormat::Json => report.push(serde_json::json!({
                    "file": path.display().to_string(),
                    "id": exchange.id,
                    "method": exchange.request.method,
                    "url": exchange.request.url,
                    "status": exchange.response.as_ref().map(|r| r.status),
                    "error": exchange.error,
                    "findings": exchange.findings,
                    "diagnosis": exchange.diagnosis,
                })),
            }
        }
    }
    match args.format {
        LintFormat::Text => {
            println!("{count} exchange(s) linted: {errors} error(s), {warnings} warning(s)")
        }
        LintFormat::Json => println!("{:#}", serde_json::Value::Array(report)),
    }
    Ok(if errors > 0 { 1 } else { 0 })
}

fn ca(args: CaArgs) -> Result<i32, Fatal> {
    match args.action {
        CaAction::Path { certs } => {
            let files = CaFiles::new(&certs.certs);
            println!("{}", absolute(&files.cert_path()).display())
        }
        CaAction::Export { certs } => {
            let files = CaFiles::new(&certs.certs);
            let (ca, _) =
                CertificateAuthority::load_or_create(&files, &crate::default_intercept_hosts())?;
            print!("{}", ca.cert_pem());
        }
        CaAction::Regenerate { certs, intercept } => {
            let files = CaFiles::new(&certs.certs);
            let hosts = cli::intercept_hosts(&intercept);
            CertificateAuthority::create(&files, &hosts)?;
            eprintln!(
                "trakt-doctor: a new CA for {} is in {}.\n\
                 Remove the old trakt-doctor CA from your trust store and trust this one instead.",
                host_list(&hosts),
                absolute(&files.cert_path()).display()
            );
        }
    }
    Ok(0)
}

fn host_list(hosts: &[HostName]) -> String {
    hosts
        .iter()
        .map(|h| h.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn run(args: RunArgs) -> Result<i32, Fatal> {
    if !args.listen.ip().is_loopback() && !args.allow_lan {
        return Err(Fatal(format!(
            "--listen {} is not a loopback address: anyone on your network could use the proxy. \
             Add --allow-lan if that is what you want.",
            args.listen
        )));
    }
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "trakt-doctor: WARNING: listening on {}: anyone who can reach this address can use the proxy{}",
            args.listen,
            if args.proxy_auth.is_some() { " (with the --proxy-auth credentials)" } else { "; consider --proxy-auth" }
        );
    }
    if args.proxy_auth.as_deref().is_some_and(|a| !a.contains(':')) {
        return Err(Fatal("--proxy-auth must be USER:PASSWORD".into()));
    }
    let hosts = cli::intercept_hosts(&args.intercept);
    let files = CaFiles::new(&args.certs.certs);
    let (ca, origin) = CertificateAuthority::load_or_create(&files, &hosts)?;
    let redactor = crate::fingerprint_key::load_or_create(&files.dir).map_err(Fatal)?;
    for warning in ca.warnings(&files) {
        eprintln!("trakt-doctor: WARNING: {warning}");
    }
    let ca_pem = ca.cert_pem().to_string();
    let upstream_tls = upstream::client_config(&args.upstream_ca, true)?;

    // The page's history: enough for a debugging session, bounded so the
    // proxy stays small (the JSONL log and HAR file keep everything).
    let web = WebStore::new(10_000, 32 * 1024 * 1024);
    let (terminal_out, terminal_dropped) = DetachedWriter::spawn(
        std::io::stdout(),
        "the terminal",
        log::detached::DETACHED_LIMIT,
    )
    .map_err(|e| Fatal(format!("cannot start the terminal output thread: {e}")))?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(TerminalSink::detached(terminal_out, args.quiet)),
        Box::new(WebSink(web.clone())),
    ];
    if let Some(path) = &args.log {
        let sink = JsonlSink::open(path)
            .map_err(|e| Fatal(format!("cannot open the log file {}: {e}", path.display())))?;
        sinks.push(Box::new(sink));
    }
    if let Some(path) = &args.har {
        let sink = HarSink::create(path).map_err(|e| {
            Fatal(format!(
                "cannot create the HAR file {}: {e}",
                path.display()
            ))
        })?;
        sinks.push(Box::new(sink));
    }

    // Two descriptors per connection must fit under the open-file limit.
    let mut max_connections = args.max_connections as usize;
    let mut limits_line = String::new();
    if let Some(files) = crate::proxy::fdlimit::raise() {
        let cap = crate::proxy::fdlimit::connection_cap(files.now);
        if cap < max_connections {
            limits_line = format!(
                "\n  Connections:  at most {cap}, not {max_connections} (--max-connections): this \
                 process may open {} files; raise the limit with `ulimit -n` to allow more",
                files.now
            );
            max_connections = cap;
        }
    }
    let settings = Settings {
        intercept: hosts.clone(),
        capture_limit: args.capture_limit,
        upstream_timeout: Duration::from_secs_f64(args.upstream_timeout),
        header_timeout: Duration::from_secs_f64(args.header_timeout),
        body_timeout: Duration::from_secs_f64(args.body_timeout),
        body_memory: args.body_memory,
        max_connections,
        proxy_auth: args.proxy_auth.clone(),
        fix: args.fix.clone().unwrap_or_default(),
        ..Settings::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal(format!("cannot start the async runtime: {e}")))?;
    let (log, writer) = log::spawn_with_bytes(
        sinks,
        (!args.show_secrets).then(|| redactor.clone()),
        args.log_queue_limit,
    );
    let parts = ProxyParts {
        settings,
        certs: Arc::new(LeafCache::new(ca)),
        ca_pem,
        upstream_tls,
        resolve: ResolveTable::new(&args.resolve),
        log,
        web,
        redactor,
    };
    let proxy = match runtime.block_on(Proxy::bind(args.listen, parts)) {
        Ok(proxy) => proxy,
        Err(e) => {
            writer.finish();
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                " (another program, maybe another trakt-doctor, uses it: pick another with --listen 127.0.0.1:PORT)"
            } else {
                ""
            };
            return Err(Fatal(format!(
                "cannot listen on {}: {e}{hint}",
                args.listen
            )));
        }
    };
    print_banner(&proxy, &files, origin, &hosts, &args, &limits_line);
    runtime.block_on(proxy.run(shutdown_signal()));
    // Drops whatever is still running; cut exchanges log themselves now.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let stats = writer.finish();
    let mut problems = String::new();
    if stats.sink_errors > 0 {
        problems.push_str(&format!(", {} write error(s)", stats.sink_errors));
    }
    if stats.dropped > 0 {
        problems.push_str(&format!(
            ", {} dropped because the log writer fell behind",
            stats.dropped
        ));
    }
    let unshown = terminal_dropped.load(std::sync::atomic::Ordering::Relaxed);
    if unshown > 0 {
        problems.push_str(&format!(
            ", {unshown} terminal line(s) not shown because the terminal was not reading"
        ));
    }
    eprintln!(
        "trakt-doctor: stopped; {} exchange(s) logged{problems}",
        stats.records
    );
    Ok(0)
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    eprintln!("trakt-doctor: stopping (finishing open exchanges)...");
}

fn print_banner(
    proxy: &Proxy,
    files: &CaFiles,
    origin: CaOrigin,
    hosts: &[HostName],
    args: &RunArgs,
    limits_line: &str,
) {
    let addr = proxy.local_addr();
    let ca_path = absolute(&files.cert_path());
    let ca = ca_path.display().to_string();
    let ca_state = match origin {
        CaOrigin::Created => "created now: trust it once, as below",
        CaOrigin::Loaded => "loaded",
    };
    let fix_line = match &args.fix {
        Some(FixPolicy::All) => {
            "\n  Auto-fix:     on (every safe fix; see `trakt-doctor rules`)".to_string()
        }
        Some(FixPolicy::Only(ids)) => format!(
            "\n  Auto-fix:     on for {}",
            ids.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    };
    let log_line = match &args.log {
        Some(path) => format!("\n  JSON Lines log: {}", path.display()),
        None => String::new(),
    } + &match &args.har {
        Some(path) => format!("\n  HAR file:     {}", path.display()),
        None => String::new(),
    };
    let os = guide::Os::current();
    let trust: String = guide::Os::ALL
        .iter()
        .map(|os| format!("  {:<8} {}\n", os.name(), guide::trust_step(*os, &ca)))
        .collect();
    eprintln!(
        "trakt-doctor {version}: listening on {addr}
  Decrypting:   {hosts} (every other host is tunnelled untouched)
  CA:           {ca} ({ca_state}){fix_line}{log_line}{limits_line}
  Web view:     http://{addr}/   (CA and trust steps: http://{addr}/ca, PAC: http://{addr}/proxy.pac)

Trust the CA once:
{trust}
Route Stremio through it ({os_name}; `trakt-doctor stremio --os OS` for another system):
{steps}
Press Ctrl-C to stop.",
        version = env!("CARGO_PKG_VERSION"),
        hosts = host_list(hosts),
        os_name = os.name(),
        steps = guide::stremio_steps(os, &addr.to_string(), &ca),
    );
}
