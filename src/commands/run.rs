//! `trakt-doctor` / `trakt-doctor run`: check the arguments into a
//! [`RunConfig`], open the CA, sinks and listener, serve until Ctrl-C or
//! SIGTERM, and say what was logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{self, RunArgs};
use crate::error::{Context, Fatal};
use crate::fix::FixPolicy;
use crate::guide;
use crate::hosts::{HostName, ResolveTable};
use crate::log::detached::DetachedWriter;
use crate::log::{self, har::HarSink, jsonl::JsonlSink, terminal::TerminalSink, Sink};
use crate::proxy::{Proxy, ProxyParts, Settings};
use crate::tls::ca::{CaOrigin, CertificateAuthority};
use crate::tls::{upstream, CaFiles, LeafCache};
use crate::web::store::{WebSink, WebStore};

/// The run's settings, checked and defaulted: everything [`run`] needs
/// from the command line, and nothing it has to validate again.
#[derive(Debug)]
pub(crate) struct RunConfig {
    pub listen: SocketAddr,
    /// Said at start when the proxy listens beyond this computer.
    pub lan_warning: Option<String>,
    /// The hosts to decrypt (the defaults when none were named), sorted, once each.
    pub hosts: Vec<HostName>,
    pub ca_files: CaFiles,
    /// The proxy's settings; `max_connections` is as asked, before the
    /// open-file limit is consulted.
    pub settings: Settings,
    pub upstream_ca: Vec<PathBuf>,
    pub resolve: ResolveTable,
    pub log: Option<PathBuf>,
    pub har: Option<PathBuf>,
    pub show_secrets: bool,
    pub quiet: bool,
    pub log_queue_limit: usize,
}

impl RunConfig {
    /// Checks what clap cannot (a non-loopback address needs `--allow-lan`,
    /// `--proxy-auth` needs a colon) and fills in the defaults.
    pub(crate) fn from_args(args: RunArgs) -> Result<RunConfig, Fatal> {
        let loopback = args.listen.ip().is_loopback();
        if !loopback && !args.allow_lan {
            return Err(Fatal(format!(
                "--listen {} is not a loopback address: anyone on your network could use the proxy. \
                 Add --allow-lan if that is what you want.",
                args.listen
            )));
        }
        if args.proxy_auth.as_deref().is_some_and(|a| !a.contains(':')) {
            return Err(Fatal::new("--proxy-auth must be USER:PASSWORD"));
        }
        let lan_warning = (!loopback).then(|| {
            format!(
                "listening on {}: anyone who can reach this address can use the proxy{}",
                args.listen,
                if args.proxy_auth.is_some() {
                    " (with the --proxy-auth credentials)"
                } else {
                    "; consider --proxy-auth"
                }
            )
        });
        let hosts = cli::intercept_hosts(&args.intercept);
        let settings = Settings {
            intercept: hosts.clone(),
            capture_limit: args.capture_limit,
            upstream_timeout: Duration::from_secs_f64(args.upstream_timeout),
            header_timeout: Duration::from_secs_f64(args.header_timeout),
            body_timeout: Duration::from_secs_f64(args.body_timeout),
            body_memory: args.body_memory,
            max_connections: args.max_connections as usize,
            proxy_auth: args.proxy_auth,
            fix: args.fix.unwrap_or_default(),
            ..Settings::default()
        };
        Ok(RunConfig {
            listen: args.listen,
            lan_warning,
            hosts,
            ca_files: args.certs.files()?,
            settings,
            upstream_ca: args.upstream_ca,
            resolve: ResolveTable::new(&args.resolve),
            log: args.log,
            har: args.har,
            show_secrets: args.show_secrets,
            quiet: args.quiet,
            log_queue_limit: args.log_queue_limit,
        })
    }
}

pub(crate) fn run(args: RunArgs) -> Result<i32, Fatal> {
    // First, before any thread of ours starts: it sets an allocator option.
    crate::proxy::memory::purge_freed_memory_at_once();
    let mut config = RunConfig::from_args(args)?;
    if let Some(warning) = &config.lan_warning {
        eprintln!("trakt-doctor: WARNING: {warning}");
    }
    let files = &config.ca_files;
    if let Some(note) = files.note() {
        eprintln!("trakt-doctor: {note}");
    }
    let (ca, origin) = CertificateAuthority::load_or_create(files, &config.hosts)
        .context(&format!("cannot use the CA in {}", files.dir.display()))?;
    let redactor = crate::fingerprint_key::load_or_create(&files.dir).map_err(Fatal)?;
    for warning in ca
        .warnings(files)
        .into_iter()
        .chain(crate::fingerprint_key::warnings(&files.dir))
    {
        eprintln!("trakt-doctor: WARNING: {warning}");
    }
    let ca_pem = ca.cert_pem().to_string();
    let upstream_tls = upstream::client_config(&config.upstream_ca, true)
        .context("cannot set up TLS to the upstream")?;
    // The page's history: enough for a debugging session, bounded so the
    // proxy stays small (the JSONL log and HAR file keep everything).
    let web = WebStore::new(10_000, 32 * 1024 * 1024);
    let Sinks {
        all: sinks,
        terminal_dropped,
    } = open_sinks(&config, &web)?;
    let limits_line = cap_connections(&mut config.settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (log, writer) = log::spawn_with_bytes(
        sinks,
        (!config.show_secrets).then(|| redactor.clone()),
        config.log_queue_limit,
    );
    if let Some(path) = &config.log {
        // Appending to a log: ids go on from its last one.
        if let Ok(Some(last)) = JsonlSink::last_id(path) {
            log.continue_after(last);
        }
    }
    let parts = ProxyParts {
        settings: config.settings.clone(),
        certs: Arc::new(LeafCache::new(ca)),
        ca_pem,
        upstream_tls,
        resolve: config.resolve.clone(),
        log,
        web,
        redactor,
    };
    let proxy = match runtime.block_on(Proxy::bind(config.listen, parts)) {
        Ok(proxy) => proxy,
        Err(e) => {
            writer.finish();
            return Err(cannot_listen(config.listen, &e));
        }
    };
    print_banner(&proxy, &config, origin, &limits_line);
    runtime.block_on(proxy.run(shutdown_signal()));
    // Drops whatever is still running; cut exchanges log themselves now.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let stats = writer.finish();
    let unshown = terminal_dropped.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("trakt-doctor: stopped; {}", stop_summary(&stats, unshown));
    Ok(0)
}

fn cannot_listen(listen: SocketAddr, e: &std::io::Error) -> Fatal {
    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
        " (another program, maybe another trakt-doctor, uses it: pick another with --listen 127.0.0.1:PORT)"
    } else {
        ""
    };
    Fatal(format!("cannot listen on {listen}: {e}{hint}"))
}

/// Where records go, and the count of terminal lines dropped because the
/// terminal was not reading.
struct Sinks {
    all: Vec<Box<dyn Sink>>,
    terminal_dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// The terminal, the web view, and the `--log` and `--har` files.
fn open_sinks(config: &RunConfig, web: &Arc<WebStore>) -> Result<Sinks, Fatal> {
    let (terminal_out, terminal_dropped) = DetachedWriter::spawn(
        std::io::stdout(),
        "the terminal",
        log::detached::DETACHED_LIMIT,
    )
    .context("cannot start the terminal output thread")?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(TerminalSink::detached(terminal_out, config.quiet)),
        Box::new(WebSink(web.clone())),
    ];
    if let Some(path) = &config.log {
        let sink = JsonlSink::open(path)
            .context(&format!("cannot open the log file {}", path.display()))?;
        sinks.push(Box::new(sink));
    }
    if let Some(path) = &config.har {
        let sink = HarSink::create(path)
            .context(&format!("cannot create the HAR file {}", path.display()))?;
        sinks.push(Box::new(sink));
    }
    Ok(Sinks {
        all: sinks,
        terminal_dropped,
    })
}

/// Lowers `max_connections` so two descriptors per connection fit under the
/// open-file limit (raised first as far as allowed); the banner line saying
/// so, or nothing.
fn cap_connections(settings: &mut Settings) -> String {
    let asked = settings.max_connections;
    let Some(files) = crate::proxy::fdlimit::raise() else {
        return String::new();
    };
    let cap = crate::proxy::fdlimit::connection_cap(files.now);
    if cap >= asked {
        return String::new();
    }
    settings.max_connections = cap;
    format!(
        "\n  Connections:  at most {cap}, not {asked} (--max-connections): this \
         process may open {} files; raise the limit with `ulimit -n` to allow more",
        files.now
    )
}

/// `N exchange(s) logged` and whatever went wrong with the logging.
fn stop_summary(stats: &log::WriterStats, unshown: u64) -> String {
    let mut summary = format!("{} exchange(s) logged", stats.records);
    if stats.sink_errors > 0 {
        summary.push_str(&format!(", {} write error(s)", stats.sink_errors));
    }
    if stats.dropped > 0 {
        summary.push_str(&format!(
            ", {} dropped because the log writer fell behind",
            stats.dropped
        ));
    }
    if unshown > 0 {
        summary.push_str(&format!(
            ", {unshown} terminal line(s) not shown because the terminal was not reading"
        ));
    }
    summary
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    stop_requested().await;
    eprintln!("trakt-doctor: stopping (finishing open exchanges)...");
}

/// Ctrl-C, or on Unix SIGTERM: what stops a command that serves until told.
pub(super) async fn stop_requested() {
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
}

fn print_banner(proxy: &Proxy, config: &RunConfig, origin: CaOrigin, limits_line: &str) {
    let addr = proxy.local_addr();
    let ca_path = super::absolute(&config.ca_files.cert_path());
    let ca = ca_path.display().to_string();
    let ca_state = match origin {
        CaOrigin::Created => "created now: trust it once, as below",
        CaOrigin::Loaded if config.ca_files.chosen == crate::tls::Chosen::Legacy => {
            "loaded from ./certs of an earlier version"
        }
        CaOrigin::Loaded => "loaded",
    };
    let fix_line = match &config.settings.fix {
        FixPolicy::All => {
            "\n  Auto-fix:     on (every safe fix; see `trakt-doctor rules`)".to_string()
        }
        FixPolicy::Only(ids) => format!(
            "\n  Auto-fix:     on for {}",
            ids.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        FixPolicy::Off => String::new(),
    };
    let log_line = match &config.log {
        Some(path) => format!("\n  JSON Lines log: {}", path.display()),
        None => String::new(),
    } + &match &config.har {
        Some(path) => format!("\n  HAR file:     {}", path.display()),
        None => String::new(),
    };
    let os = guide::Os::current();
    let trusted = std::fs::read_to_string(&ca_path)
        .ok()
        .and_then(|pem| crate::tls::trust::trusted_on(&config.ca_files.dir, &pem));
    let trust = match trusted {
        Some(on) => format!(
            "The CA is trusted for this user (`trakt-doctor ca trust`, {on}): browsers and the \
             Stremio apps accept it. {}",
            guide::OWN_TRUST_STORES
        ),
        None => format!(
            "Trust the CA once, for this user: {}",
            guide::trust_line(os, &ca, &config.ca_files.certs_flag())
        ),
    };
    eprintln!(
        "trakt-doctor {version}: listening on {addr}
  Decrypting:   {hosts} (every other host is tunnelled untouched)
  CA:           {ca} ({ca_state}){fix_line}{log_line}{limits_line}
  Web view:     {unlock}   (this link allows resending and revealing secrets: keep it to yourself)
  CA, PAC:      http://{addr}/ca (CA and trust steps), http://{addr}/proxy.pac

{trust}

Route Stremio through it ({os_name}; `trakt-doctor stremio --os OS` for another system):
{steps}
Press Ctrl-C to stop.",
        version = env!("CARGO_PKG_VERSION"),
        // The one place the unlock secret is shown.
        unlock = proxy.unlock_link(),
        hosts = super::host_list(&config.hosts),
        os_name = os.name(),
        steps = guide::route_steps(os, &addr.to_string(), &ca),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<RunConfig, Fatal> {
        let cli = cli::Cli::try_parse_from(["trakt-doctor", "run"].iter().chain(args))
            .expect("the arguments parse");
        match cli.command {
            Some(cli::Command::Run(args)) => RunConfig::from_args(args),
            _ => panic!("not a run command"),
        }
    }

    #[test]
    fn a_lan_address_needs_allow_lan_and_is_then_warned_about() {
        let refused = config(&["--listen", "0.0.0.0:8080"]).unwrap_err();
        assert!(refused.0.contains("--allow-lan"), "{refused}");
        let allowed = config(&["--listen", "0.0.0.0:8080", "--allow-lan"]).unwrap();
        let warning = allowed.lan_warning.unwrap();
        assert!(warning.contains("consider --proxy-auth"), "{warning}");
        let with_auth = config(&[
            "--listen",
            "0.0.0.0:8080",
            "--allow-lan",
            "--proxy-auth",
            "a:b",
        ])
        .unwrap();
        assert!(with_auth
            .lan_warning
            .unwrap()
            .contains("with the --proxy-auth credentials"));
        assert!(config(&[]).unwrap().lan_warning.is_none());
    }

    #[test]
    fn proxy_auth_needs_a_user_and_a_password() {
        let refused = config(&["--proxy-auth", "alice"]).unwrap_err();
        assert_eq!(refused.0, "--proxy-auth must be USER:PASSWORD");
        let accepted = config(&["--proxy-auth", "alice:pw"]).unwrap();
        assert_eq!(accepted.settings.proxy_auth.as_deref(), Some("alice:pw"));
    }

    #[test]
    fn defaults_and_units_are_filled_in() {
        let defaults = config(&[]).unwrap();
        assert_eq!(defaults.hosts, crate::default_intercept_hosts());
        assert_eq!(defaults.settings.intercept, defaults.hosts);
        assert_eq!(defaults.settings.fix, FixPolicy::Off);
        assert_eq!(defaults.settings.max_connections, 1024);
        let tuned = config(&[
            "--fix",
            "--upstream-timeout",
            "2.5",
            "--intercept",
            "b.example",
            "--intercept",
            "a.example",
            "--intercept",
            "b.example",
        ])
        .unwrap();
        assert_eq!(tuned.settings.fix, FixPolicy::All);
        assert_eq!(tuned.settings.upstream_timeout, Duration::from_millis(2500));
        let hosts: Vec<&str> = tuned.hosts.iter().map(HostName::as_str).collect();
        assert_eq!(hosts, ["a.example", "b.example"]);
    }

    #[test]
    fn the_stop_summary_names_each_loss() {
        let clean = log::WriterStats {
            records: 3,
            sink_errors: 0,
            dropped: 0,
        };
        assert_eq!(stop_summary(&clean, 0), "3 exchange(s) logged");
        let lossy = log::WriterStats {
            records: 3,
            sink_errors: 1,
            dropped: 2,
        };
        assert_eq!(
            stop_summary(&lossy, 4),
            "3 exchange(s) logged, 1 write error(s), 2 dropped because the log writer fell behind, \
             4 terminal line(s) not shown because the terminal was not reading"
        );
    }
}
