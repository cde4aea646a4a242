//! `trakt-doctor replay FILE --id N`: sends one recorded request again,
//! in this process (no proxy running), through the same upstream client
//! settings (`--upstream-ca`, `--resolve`), inspection and terminal output
//! as the proxy; or prints it as a curl command (`--curl`).
//!
//! The file's exchanges are first read through the session, in order, so
//! the session rules judge the resend as the proxy would: an OAuth code or
//! refresh token the file shows spent is refused unless `--force`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{CurlShell, ReplayArgs};
use crate::curl::{self, Shell};
use crate::error::{Context, Fatal};
use crate::exchange::{Exchange, Request};
use crate::hosts::ResolveTable;
use crate::inspect::Inspector;
use crate::log::{self, jsonl::JsonlSink, terminal::TerminalSink, Sink};
use crate::proxy::originals::Originals;
use crate::proxy::resend::{ResendLimits, ResendOptions, Resender};
use crate::proxy::upstream::{Dialer, Upstream};
use crate::redact::Redactor;
use crate::resend::{self, Edits, Refusal, SecretKind, Secrets};

pub(crate) fn run(args: ReplayArgs) -> Result<i32, Fatal> {
    let text = std::fs::read_to_string(&args.file)
        .context(&format!("cannot read {}", args.file.display()))?;
    let exchanges = log::read::exchanges(&text)
        .map_err(|e| Fatal(format!("cannot read {}: {e}", args.file.display())))?;
    let Some(position) = exchanges.iter().position(|ex| ex.id == args.id) else {
        return Err(Fatal(format!(
            "{} has no exchange #{}; its ids are {}",
            args.file.display(),
            args.id,
            id_list(&exchanges)
        )));
    };
    refuse_ambiguous(&args, &exchanges)?;
    let edits = edits(&args)?;
    let record = &exchanges
        .get(position)
        .map(|ex| ex.request.clone())
        .unwrap_or_else(empty_request);
    if args.curl {
        return print_curl(&args, record, &edits);
    }
    ensure_secrets_stay_home(&args, record, &edits)?;
    let request = resend::prepare(record, &edits).map_err(|r| refused(&r))?;
    let redactor = crate::fingerprint_key::load(&args.certs.files()?.dir)
        .map_err(Fatal)?
        .unwrap_or_else(Redactor::random);
    warn_not_as_recorded(record, &edits, &redactor);
    confirm_write(&args, &request)?;
    let inspector = Arc::new(Inspector::with_redactor(redactor.clone()));
    // The session learns what the file shows, up to the exchange resent.
    for ex in exchanges.iter().take(position.saturating_add(1)) {
        inspector.replay(&mut ex.clone());
    }
    send(&args, request, inspector, redactor)
}

/// Logs appended to by runs before ids continued across runs hold an id
/// more than once: which one is meant is not guessed.
fn refuse_ambiguous(args: &ReplayArgs, exchanges: &[Exchange]) -> Result<(), Fatal> {
    let same: Vec<&Exchange> = exchanges.iter().filter(|ex| ex.id == args.id).collect();
    if same.len() < 2 {
        return Ok(());
    }
    let choices: Vec<String> = same
        .iter()
        .map(|ex| {
            let at = ex
                .started_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let target = ex.request.url.split(['?', '#']).next().unwrap_or_default();
            format!("  started {at}: {} {target}", ex.request.method)
        })
        .collect();
    Err(Fatal(format!(
        "{} holds exchange #{} {} times (runs that appended to it before ids went on \
         across runs); not sent, as which one is meant is not certain:\n{}\n\
         copy the line you mean into a file of its own and replay that",
        args.file.display(),
        args.id,
        same.len(),
        choices.join("\n")
    )))
}

/// The ids in a file, for an error message (the first few and the count).
fn id_list(exchanges: &[Exchange]) -> String {
    let ids: Vec<String> = exchanges
        .iter()
        .take(20)
        .map(|ex| ex.id.to_string())
        .collect();
    match exchanges.len() {
        0 => "none (the file is empty)".to_string(),
        n if n > ids.len() => format!("{} … ({n} in all)", ids.join(", ")),
        _ => ids.join(", "),
    }
}

fn empty_request() -> Request {
    Request {
        method: String::new(),
        url: String::new(),
        http_version: String::new(),
        headers: crate::exchange::Headers::default(),
        body: crate::exchange::Body::default(),
    }
}

/// The header overrides and secrets from the flags and the environment
/// (a `--secret` wins over its variable).
fn edits(args: &ReplayArgs) -> Result<Edits, Fatal> {
    let headers = args
        .headers
        .iter()
        .map(|raw| resend::parse_header(raw).map_err(|e| Fatal(format!("--header: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut secrets = Secrets::new();
    for kind in SecretKind::ALL {
        if let Ok(value) = std::env::var(kind.env_var()) {
            if !value.is_empty() {
                secrets.set(kind, value);
            }
        }
    }
    for raw in &args.secrets {
        let (kind, value) =
            Secrets::parse_assignment(raw).map_err(|e| Fatal(format!("--secret: {e}")))?;
        secrets.set(kind, value);
    }
    Ok(Edits { headers, secrets })
}

/// Says which supplied secrets are not the recorded ones (by fingerprint
/// only): fine for a newer token, a mistake otherwise. Only meaningful with
/// the key the record was made with (`--certs`).
fn warn_not_as_recorded(record: &Request, edits: &Edits, redactor: &Redactor) {
    let mut after_headers = record.clone();
    resend::override_headers(&mut after_headers, &edits.headers);
    let needed = resend::needed_secrets(&after_headers);
    for (kind, recorded, given) in
        resend::not_as_recorded(&needed, &edits.secrets, |s| redactor.fingerprint(s))
    {
        eprintln!(
            "trakt-doctor: note: the {kind} given ({given}) is not the one recorded ({recorded})"
        );
    }
}

/// A file is untrusted input: secrets from the environment or `--secret`
/// are put back only into https requests to the intercepted hosts on 443
/// (or a host `--allow-host` names), wherever the file says it goes.
fn ensure_secrets_stay_home(
    args: &ReplayArgs,
    record: &Request,
    edits: &Edits,
) -> Result<(), Fatal> {
    let mut after_headers = record.clone();
    resend::override_headers(&mut after_headers, &edits.headers);
    if resend::needed_secrets(&after_headers).is_empty() {
        return Ok(());
    }
    let mut allowed = resend::SecretOrigin::https(crate::DEFAULT_INTERCEPT_HOSTS);
    allowed.extend(args.allow_hosts.iter().cloned());
    resend::ensure_secret_destination(&after_headers, &allowed).map_err(|refusal| {
        Fatal(format!(
            "not sent: {refusal} (--allow-host HOST[:PORT] allows a server of your own)"
        ))
    })
}

/// A refusal as the one-line fatal message (exit status 2).
fn refused(refusal: &Refusal) -> Fatal {
    let hint = match refusal {
        Refusal::Spent(_) => " (--force)",
        _ => "",
    };
    Fatal(format!("not sent: {refusal}{hint}"))
}

/// `--curl`: the request (with the header overrides, repaired with
/// `--fix`) as a command; secrets stay variables.
fn print_curl(args: &ReplayArgs, record: &Request, edits: &Edits) -> Result<i32, Fatal> {
    let mut request = record.clone();
    resend::override_headers(&mut request, &edits.headers);
    if args.fix {
        request = resend::with_fixes(&request, time::OffsetDateTime::now_utc()).0;
    }
    let shell = match args.shell {
        CurlShell::Posix => Shell::Posix,
        CurlShell::Powershell => Shell::PowerShell,
    };
    let command =
        curl::command(&request, shell, false).map_err(|e| Fatal(format!("--curl: {e}")))?;
    print!("{command}");
    Ok(0)
}

/// A write is sent only when confirmed: `--yes`, or `y` on a terminal.
fn confirm_write(args: &ReplayArgs, request: &Request) -> Result<(), Fatal> {
    let Some(effect) = resend::describe_write(request) else {
        return Ok(());
    };
    if args.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Fatal(format!(
            "not sent: {} is a write. {effect} Pass --yes to send it (there is no terminal to ask on)",
            request.method
        )));
    }
    eprint!("{effect} Send it? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Fatal::new("not sent: not confirmed"))
    }
}

/// Sends the request through an in-process resender, printing the new
/// exchange as the proxy's terminal would; 0 when it was accepted.
fn send(
    args: &ReplayArgs,
    request: Request,
    inspector: Arc<Inspector>,
    redactor: Redactor,
) -> Result<i32, Fatal> {
    let tls = crate::tls::upstream::client_config(&args.upstream_ca, true)
        .context("cannot set up TLS to the upstream")?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(TerminalSink::stdout(false))];
    if let Some(path) = &args.log {
        let sink = JsonlSink::open(path)
            .context(&format!("cannot open the log file {}", path.display()))?;
        sinks.push(Box::new(sink));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Every record is redacted before any sink sees it, as the proxy's are.
    let (log, writer) = log::spawn(sinks, Some(redactor));
    if let Some(Ok(Some(last))) = args.log.as_deref().map(JsonlSink::last_id) {
        log.continue_after(last);
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let outcome = runtime.block_on(async {
        let upstream = Upstream::new(
            Dialer {
                resolve: ResolveTable::new(&args.resolve),
                connect_timeout: timeout,
                own: None,
            },
            tls,
        );
        let resender = Resender::new(
            upstream,
            log,
            inspector,
            Originals::new(0, 0),
            ResendLimits {
                capture_limit: args.capture_limit,
                upstream_timeout: timeout,
            },
            Arc::new(AtomicBool::new(false)),
            Arc::default(),
        );
        let options = ResendOptions {
            fix: args.fix,
            force: args.force,
        };
        resender.send(args.id, request, options).await
    });
    writer.finish();
    match outcome {
        Ok(resent) if resent.accepted() => Ok(0),
        Ok(_) => Ok(1),
        Err(refusal) => Err(refused(&refusal)),
    }
}
