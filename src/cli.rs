//! The command line (a contract: see DESIGN.md). Definitions only; the
//! wiring lives in `app.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::fix::FixPolicy;
use crate::hosts::{HostName, ResolveRule};

/// `0.1.0 (Trakt contract of 2026-07-30)`: the version says what it checks against.
fn version_line() -> &'static str {
    static LINE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            crate::spec::trakt::contract_label()
        )
    });
    LINE.as_str()
}

const AFTER_HELP: &str = "\
Quick start:
  1. trakt-doctor ca trust             create the CA (a per-user folder; `trakt-doctor ca path`)
                                       and make this user's browsers and apps trust it
  2. trakt-doctor                      start the proxy on 127.0.0.1:8080
  3. point Stremio, a browser or an addon at http://127.0.0.1:8080, reproduce the Trakt error,
     and read why it happened in this terminal (or in --log FILE.jsonl)

Examples:
  trakt-doctor --log trakt.jsonl
  curl -x http://127.0.0.1:8080 --cacert \"$(trakt-doctor ca path)\" https://api.trakt.tv/users/settings
  npm install global-agent@3.0.0      (a Node addon or script, any maintained Node: 18, 20, 22, 24)
  GLOBAL_AGENT_HTTP_PROXY=http://127.0.0.1:8080 NODE_EXTRA_CA_CERTS=\"$(trakt-doctor ca path)\" \\
    node -r global-agent/bootstrap addon.js";

/// A local HTTPS debugging proxy that shows why Trakt (or Stremio's Trakt
/// bridge) rejected a request, and what to do about it.
#[derive(Debug, Parser)]
#[command(name = "trakt-doctor", version = version_line(), about, after_help = AFTER_HELP)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy (the default when no command is given).
    Run(RunArgs),
    /// Show, export, trust or regenerate the local certificate authority.
    Ca(CaArgs),
    /// Lint recorded traffic offline: HAR files (browser devtools) or trakt-doctor JSON Lines logs.
    /// Exit status: 0 clean, 1 error findings, 2 unreadable input.
    Lint(LintArgs),
    /// Print the rule catalogue.
    Rules(RulesArgs),
    /// Print the steps to route Stremio through the proxy (trust the CA, proxy settings per app).
    Stremio(StremioArgs),
    /// Ask Trakt once whether an access token works (GET /users/settings). Only when you run it.
    CheckToken(CheckTokenArgs),
    /// Write a Markdown report of failed exchanges to paste into a support thread or an issue
    /// (secrets replaced by placeholders). Exit status: 0 written, 2 unreadable input or nothing to report.
    Report(ReportArgs),
    /// Send one recorded request again (from a HAR or JSON Lines file), or print it as a curl command.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// Open the browser page on this computer: drop a HAR or log there, or give FILE to open it at
    /// once. The checks run in the browser; nothing is uploaded. Ctrl-C stops.
    #[command(after_help = OPEN_HELP)]
    Open(OpenArgs),
}

const OPEN_HELP: &str = "\
The page is the same one that can be published as a static site (page/ in the repository):
the same checks as `trakt-doctor lint`, compiled to WebAssembly, with the web view's detail pane.

Examples:
  trakt-doctor open stremio-web.har
  trakt-doctor open --listen 8090";

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// A HAR file or a trakt-doctor JSON Lines log for the page to open at start.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Address to serve the page on: this computer only; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = listen_address)]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A HAR file or a trakt-doctor JSON Lines log.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The exchange to report, by id (repeatable). Default: every failed exchange.
    #[arg(long = "id", value_name = "N")]
    pub ids: Vec<u64>,
    /// Also write a redacted HAR file of just these exchanges (and their resends).
    #[arg(long, value_name = "OUT.har")]
    pub har: Option<PathBuf>,
}

const REPLAY_HELP: &str = "\
Exit status: 0 Trakt accepted the request (2xx), 1 it did not (another status, or no answer),
2 nothing was sent (unreadable file, unknown id, missing secrets, a spent code or refresh token
without --force, a write without --yes or not confirmed). With --curl: 0 once printed.

Secrets: a recorded request holds fingerprints where its secrets were. Supply them with
--secret NAME=VALUE, with --header (a whole field), or with environment variables:
TRAKT_ACCESS_TOKEN, TRAKT_REFRESH_TOKEN, TRAKT_CLIENT_SECRET, TRAKT_OAUTH_CODE,
TRAKT_DEVICE_CODE, TRAKT_CODE_VERIFIER, STREMIO_AUTH_KEY. They are never written to any output.

Examples:
  trakt-doctor replay trakt.jsonl --id 12 --fix --header 'Authorization: Bearer …'
  TRAKT_REFRESH_TOKEN=… TRAKT_CLIENT_SECRET=… trakt-doctor replay s.har --id 3 --yes
  trakt-doctor replay trakt.jsonl --id 12 --curl --shell powershell";

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A HAR file or a trakt-doctor JSON Lines log.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The id of the exchange to send again (as the log or the web view numbers it; in a browser's HAR, its position from 1).
    #[arg(long, value_name = "N")]
    pub id: u64,
    /// Apply auto-fix's repairs (every rule that has one) before sending.
    #[arg(long)]
    pub fix: bool,
    /// Replace (or add) a header field, e.g. 'Authorization: Bearer …' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A secret the record lacks, by name: access_token, refresh_token, client_secret, code, auth_key, … (repeatable).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,
    /// Send a write (POST, PUT, DELETE) without asking; needed when there is no terminal to ask on.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Send even an OAuth code or refresh token the file shows was already spent.
    #[arg(long)]
    pub force: bool,
    /// Also put secrets back into requests to this https HOST[:PORT] (a server of your own); by default only Trakt's and Stremio's intercepted hosts on 443 get them (repeatable).
    #[arg(long = "allow-host", value_name = "HOST[:PORT]", value_parser = crate::resend::SecretOrigin::parse)]
    pub allow_hosts: Vec<crate::resend::SecretOrigin>,
    /// Print the request as a curl command instead of sending it (secrets as environment variables).
    #[arg(long)]
    pub curl: bool,
    /// The shell the curl command is quoted for.
    #[arg(long, value_enum, default_value_t = CurlShell::Posix, requires = "curl")]
    pub shell: CurlShell,
    /// Also append the new exchange to this JSON Lines file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub log: Option<PathBuf>,
    /// Also trust this CA (PEM) for the upstream (repeatable).
    #[arg(long = "upstream-ca", value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Send HOST:PORT's connection to ADDR instead, keeping SNI and certificate checks (repeatable).
    #[arg(long = "resolve", value_name = "HOST:PORT=ADDR")]
    pub resolve: Vec<ResolveRule>,
    /// Seconds to wait for the upstream's answer.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = positive_seconds)]
    pub timeout: f64,
    /// Largest response body kept for the diagnosis, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub capture_limit: usize,
    // Secrets are fingerprinted with this folder's key, as the proxy's logs are,
    // so a spent refresh token in the file is recognised when it is sent again.
    #[command(flatten)]
    pub certs: CertsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CurlShell {
    Posix,
    Powershell,
}

#[derive(Debug, Args)]
pub struct StremioArgs {
    /// The system to give steps for (default: this one).
    #[arg(long, value_enum)]
    pub os: Option<crate::guide::Os>,
    /// The proxy address the steps should use.
    #[arg(
        long,
        env = "TRAKT_DOCTOR_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub proxy: SocketAddr,
    #[command(flatten)]
    pub certs: CertsArgs,
}

#[derive(Debug, Args)]
pub struct CheckTokenArgs {
    /// The Trakt access token to check (for Stremio's, log getUser with --show-secrets).
    #[arg(
        long,
        env = "TRAKT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: String,
    /// The client id the token was issued to (default: Stremio's Trakt app).
    #[arg(long, default_value = crate::spec::stremio::TRAKT_CLIENT_ID, value_name = "ID")]
    pub client_id: String,
    /// Also trust this CA (PEM) for the Trakt server (repeatable).
    #[arg(long = "upstream-ca", value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Send HOST:PORT's connection to ADDR instead (repeatable; for staging or tests).
    #[arg(long = "resolve", value_name = "HOST:PORT=ADDR")]
    pub resolve: Vec<ResolveRule>,
    /// Seconds to wait for Trakt's answer.
    #[arg(long, default_value_t = 15.0, value_name = "SECS", value_parser = positive_seconds)]
    pub timeout: f64,
    // The token is shown as a fingerprint made with this folder's key, as the proxy's logs show it.
    #[command(flatten)]
    pub certs: CertsArgs,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// HAR or JSON Lines files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    // Secrets are fingerprinted with this folder's key when it has one, so
    // they match the proxy's logs on this machine.
    #[command(flatten)]
    pub certs: CertsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RulesFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Address to listen on. Loopback by default; anything else needs --allow-lan.
    #[arg(
        long,
        env = "TRAKT_DOCTOR_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR",
        value_parser = listen_address
    )]
    pub listen: SocketAddr,

    /// Allow listening on a non-loopback address (anyone on the network can then use the proxy).
    #[arg(long, env = "TRAKT_DOCTOR_ALLOW_LAN")]
    pub allow_lan: bool,

    /// Repair malformed requests before they leave: every safe fix, or only the listed rule ids (--fix=RULE,RULE).
    #[arg(long, env = "TRAKT_DOCTOR_FIX", num_args = 0..=1, require_equals = true, default_missing_value = "all", value_name = "RULES", value_parser = parse_fix)]
    pub fix: Option<FixPolicy>,

    /// Append every intercepted exchange to this JSON Lines file.
    #[arg(long, env = "TRAKT_DOCTOR_LOG", value_name = "FILE.jsonl")]
    pub log: Option<PathBuf>,

    /// Write every intercepted exchange to this HAR 1.2 file (replaced at start; valid at every moment).
    #[arg(long, env = "TRAKT_DOCTOR_HAR", value_name = "FILE.har")]
    pub har: Option<PathBuf>,

    #[command(flatten)]
    pub certs: CertsArgs,

    /// Decrypt this host (repeatable). Default: api.trakt.tv, apiz.trakt.tv, auth.trakt.tv, trakt.tv, api.strem.io, www.strem.io.
    #[arg(long = "intercept", value_name = "HOST")]
    pub intercept: Vec<HostName>,

    /// Also trust this CA (PEM) for upstream servers (repeatable).
    #[arg(long = "upstream-ca", value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,

    /// Send HOST:PORT's upstream connections to ADDR instead, keeping SNI and certificate checks (repeatable).
    #[arg(long = "resolve", value_name = "HOST:PORT=ADDR")]
    pub resolve: Vec<ResolveRule>,

    /// Write tokens, client secrets, refresh tokens, OAuth codes and authKeys to the logs in clear.
    #[arg(long)]
    pub show_secrets: bool,

    /// Show only exchanges with findings or errors in the terminal.
    #[arg(long, short)]
    pub quiet: bool,

    /// Seconds to wait for an upstream response before answering 504.
    #[arg(long, env = "TRAKT_DOCTOR_UPSTREAM_TIMEOUT", default_value_t = 30.0, value_name = "SECS", value_parser = positive_seconds)]
    pub upstream_timeout: f64,

    /// Require these proxy credentials (USER:PASSWORD, Basic) from clients; for use with --allow-lan.
    #[arg(
        long,
        env = "TRAKT_DOCTOR_PROXY_AUTH",
        hide_env_values = true,
        value_name = "USER:PASSWORD"
    )]
    pub proxy_auth: Option<String>,

    /// Open client connections and tunnels allowed at once; more are answered 503.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Seconds a client may take to send a request head or finish a TLS handshake (slow clients are cut off); an intercepted connection (HTTP/1.1 or HTTP/2) with no request open this long is closed.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = positive_seconds)]
    pub header_timeout: f64,

    /// Seconds a request body may go without sending anything before the request is answered 408.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = positive_seconds)]
    pub body_timeout: f64,

    /// Bytes request bodies being captured may hold in all (each connection an eighth); beyond it they stream through unlinted.
    #[arg(long, default_value_t = 256 * 1024 * 1024, value_name = "BYTES", value_parser = positive_bytes)]
    pub body_memory: usize,

    /// Largest body captured (and linted), in bytes; larger bodies stream through untruncated.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub capture_limit: usize,

    /// Records (estimated JSON bytes) that may wait for a slow disk before new ones are dropped and counted.
    #[arg(long, default_value_t = crate::log::QUEUE_BYTES, value_name = "BYTES", value_parser = positive_bytes)]
    pub log_queue_limit: usize,
}

#[derive(Debug, Args, Clone)]
pub struct CertsArgs {
    /// Folder holding the CA (trakt-doctor-ca.pem and its key). Default: a per-user folder
    /// (~/.local/share/trakt-doctor, ~/Library/Application Support/trakt-doctor,
    /// %APPDATA%\trakt-doctor), or ./certs when an earlier version left a CA there.
    #[arg(long, env = "TRAKT_DOCTOR_CERTS", value_name = "DIR")]
    pub certs: Option<PathBuf>,
}

impl CertsArgs {
    /// The CA folder these arguments choose (see `tls::location`).
    pub fn files(&self) -> Result<crate::tls::CaFiles, crate::error::Fatal> {
        crate::tls::CaFiles::locate(self.certs.as_deref()).map_err(crate::error::Fatal)
    }
}

#[derive(Debug, Args)]
pub struct CaArgs {
    #[command(subcommand)]
    pub action: CaAction,
}

#[derive(Debug, Subcommand)]
pub enum CaAction {
    /// Print the path of the CA certificate (the file to trust).
    Path {
        #[command(flatten)]
        certs: CertsArgs,
    },
    /// Print the CA certificate (PEM) to standard output, creating the CA if needed.
    Export {
        #[command(flatten)]
        certs: CertsArgs,
    },
    /// Make this user's browsers and apps trust the CA (creating it if needed); no administrator rights.
    /// Linux: the NSS database ~/.pki/nssdb (certutil, package libnss3-tools); macOS: the login
    /// keychain; Windows: the current user's Root store.
    Trust {
        #[command(flatten)]
        certs: CertsArgs,
    },
    /// Undo `ca trust`: remove the CA from this user's trust store.
    Untrust {
        #[command(flatten)]
        certs: CertsArgs,
    },
    /// Replace the CA with a new one (trust the new certificate afterwards).
    Regenerate {
        #[command(flatten)]
        certs: CertsArgs,
        /// Domains the new CA may sign for (repeatable; defaults to the standard intercepted hosts).
        #[arg(long = "intercept", value_name = "HOST")]
        intercept: Vec<HostName>,
    },
}

fn parse_fix(raw: &str) -> Result<FixPolicy, String> {
    FixPolicy::parse(raw)
}

fn positive_bytes(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(format!("`{raw}` is not a positive number of bytes")),
    }
}

fn positive_seconds(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 86_400.0 => Ok(secs),
        Ok(0.0) => Err(
            "0 seconds would give up at once: give a number of seconds above 0 (e.g. 30)".into(),
        ),
        _ => Err(format!(
            "`{raw}` is not a number of seconds above 0 and below 86400 (e.g. 30)"
        )),
    }
}

/// `--listen`: an address and port (`127.0.0.1:8080`, `[::1]:8080`),
/// `localhost:PORT`, or a port alone (on 127.0.0.1). No other host name is
/// looked up: what the proxy listens on is never left to DNS.
fn listen_address(raw: &str) -> Result<SocketAddr, String> {
    let raw = raw.trim();
    let example =
        "give a port (8080), or an address and port (127.0.0.1:8080, localhost:8080, [::1]:8080)";
    if let Ok(port) = raw.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(address) = raw.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Some((host, port)) = raw.rsplit_once(':') {
        if host.eq_ignore_ascii_case("localhost") {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("`{port}` is not a port number: {example}"))?;
            return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
    Err(format!("`{raw}` is not an address to listen on: {example}"))
}

/// Parses the command line, as clap does, adding the closest flag to an
/// unknown one clap found nothing close to (`--lgo` for `--log`: clap's own
/// suggestions miss transpositions), and the way to choose a port to `-p`.
pub fn parse() -> Cli {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::CommandFactory;
    let mut error = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(error) => error,
    };
    if error.kind() == ErrorKind::UnknownArgument && error.get(ContextKind::SuggestedArg).is_none()
    {
        let unknown = match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) => arg.clone(),
            _ => String::new(),
        };
        if let Some(tip) = closest_flag(&Cli::command(), &unknown) {
            error.insert(ContextKind::SuggestedArg, ContextValue::String(tip));
        }
    }
    error.exit()
}

/// The long flag (of any command) closest to `unknown`, if one is close:
/// at most two edits, or the same letters in another order.
fn closest_flag(command: &clap::Command, unknown: &str) -> Option<String> {
    if matches!(unknown, "-p" | "--port") {
        return Some("--listen PORT".into());
    }
    let typed = unknown
        .trim_start_matches('-')
        .split('=')
        .next()
        .unwrap_or_default();
    if typed.len() < 2 {
        return None;
    }
    let sorted = |s: &str| {
        let mut letters: Vec<char> = s.chars().collect();
        letters.sort_unstable();
        letters
    };
    let mut flags: Vec<String> = Vec::new();
    let mut commands = vec![command];
    while let Some(command) = commands.pop() {
        flags.extend(
            command
                .get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string)),
        );
        commands.extend(command.get_subcommands());
    }
    flags
        .into_iter()
        .map(|flag| {
            let distance = if sorted(&flag) == sorted(typed) {
                1
            } else {
                crate::text::edit_distance(typed, &flag)
            };
            (distance, flag)
        })
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, flag)| format!("--{flag}"))
}

/// The intercepted hosts: the user's, or the defaults.
pub fn intercept_hosts(chosen: &[HostName]) -> Vec<HostName> {
    if chosen.is_empty() {
        crate::default_intercept_hosts()
    } else {
        let mut hosts = chosen.to_vec();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_is_the_default_command() {
        let cli =
            Cli::try_parse_from(["trakt-doctor", "--listen", "127.0.0.1:0", "--quiet"]).unwrap();
        assert!(cli.command.is_none());
        assert!(cli.run.quiet);
        assert!(cli.run.fix.is_none());
        let cli = Cli::try_parse_from(["trakt-doctor", "--fix"]).unwrap();
        assert_eq!(cli.run.fix, Some(FixPolicy::All));
        let cli = Cli::try_parse_from([
            "trakt-doctor",
            "--fix=body.json.bom,header.api-version.missing",
        ])
        .unwrap();
        assert!(matches!(cli.run.fix, Some(FixPolicy::Only(ref ids)) if ids.len() == 2));
        let cli =
            Cli::try_parse_from(["trakt-doctor", "run", "--intercept", "api.trakt.tv"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Run(ref r)) if r.intercept.len() == 1));
    }

    #[test]
    fn listen_takes_a_port_alone_and_localhost() {
        let listen = |raw: &str| {
            Cli::try_parse_from(["trakt-doctor", "--listen", raw]).map(|cli| cli.run.listen)
        };
        assert_eq!(
            listen("8081").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8081))
        );
        assert_eq!(
            listen("localhost:8082").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8082))
        );
        assert_eq!(listen("[::1]:8083").unwrap().port(), 8083);
        let err = listen("nowhere:8080").unwrap_err().to_string();
        assert!(
            err.contains("localhost:8080") && err.contains("(8080)"),
            "{err}"
        );
        let err = Cli::try_parse_from(["trakt-doctor", "--upstream-timeout", "0"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("above 0") && !err.contains("between 0"),
            "{err}"
        );
    }

    #[test]
    fn a_mistyped_flag_gets_the_closest_one() {
        let command = Cli::command();
        assert_eq!(closest_flag(&command, "--lgo").as_deref(), Some("--log"));
        assert_eq!(
            closest_flag(&command, "--intercep").as_deref(),
            Some("--intercept")
        );
        assert_eq!(
            closest_flag(&command, "-p").as_deref(),
            Some("--listen PORT")
        );
        assert_eq!(closest_flag(&command, "--zzzzzzzz"), None);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["trakt-doctor", "--listen", "nowhere"]).is_err());
        assert!(Cli::try_parse_from(["trakt-doctor", "--intercept", "10.0.0.1"]).is_err());
        assert!(Cli::try_parse_from(["trakt-doctor", "--resolve", "x"]).is_err());
        assert!(Cli::try_parse_from(["trakt-doctor", "--upstream-timeout", "-1"]).is_err());
        let err = Cli::try_parse_from(["trakt-doctor", "--fix=header.nope"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("valid ids") && err.contains("header.api-version.missing"),
            "{err}"
        );
        // A rule without a fix is refused too.
        assert!(Cli::try_parse_from(["trakt-doctor", "--fix=route.unknown"]).is_err());
    }
}
