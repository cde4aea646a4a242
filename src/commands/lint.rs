//! `trakt-doctor lint FILE...`: replays each file's exchanges through the
//! same inspection as the proxy (one session per file) and reports them.

use crate::cli::{LintArgs, LintFormat};
use crate::error::{Context, Fatal};
use crate::exchange::Exchange;
use crate::inspect::Offline;
use crate::log::read;
use crate::log::{terminal::TerminalSink, Record, Sink};
use crate::redact::Redactor;
use crate::report::Severity;

/// What was found over all files.
#[derive(Default)]
struct Tally {
    exchanges: usize,
    errors: usize,
    warnings: usize,
}

impl Tally {
    fn count(&mut self, exchange: &Exchange) {
        let of = |severity| {
            exchange
                .findings
                .iter()
                .filter(|f| f.severity == severity)
                .count()
        };
        self.exchanges += 1;
        self.errors += of(Severity::Error);
        self.warnings += of(Severity::Warning);
    }
}

pub(crate) fn run(args: LintArgs) -> Result<i32, Fatal> {
    let redactor = redactor(&args)?;
    let mut tally = Tally::default();
    let mut report = Vec::new();
    let mut terminal = TerminalSink::stdout(true);
    for path in &args.files {
        let text = std::fs::read(path).context(&format!("cannot read {}", path.display()))?;
        let text = String::from_utf8_lossy(&text);
        let mut exchanges = read::exchanges(&text).context(&path.display().to_string())?;
        let offline = Offline::new(redactor.clone());
        for exchange in &mut exchanges {
            offline.lint(exchange);
            tally.count(exchange);
            match args.format {
                LintFormat::Text => terminal
                    .record(&Record::new(exchange))
                    .and_then(|()| terminal.end_batch())
                    .context("cannot write the report")?,
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
        LintFormat::Text => println!(
            "{} exchange(s) linted: {} error(s), {} warning(s)",
            tally.exchanges, tally.errors, tally.warnings
        ),
        LintFormat::Json => println!("{:#}", serde_json::Value::Array(report)),
    }
    Ok(if tally.errors > 0 { 1 } else { 0 })
}

/// The folder's fingerprint key, so fingerprints match the proxy's logs;
/// a key of this run only when the folder has none.
fn redactor(args: &LintArgs) -> Result<Redactor, Fatal> {
    let dir = args.certs.files()?.dir;
    Ok(match crate::fingerprint_key::load(&dir).map_err(Fatal)? {
        Some(redactor) => redactor,
        None => {
            eprintln!(
                    "trakt-doctor: no fingerprint key in {}: secrets are fingerprinted with a key of this run only \
                     (pass the proxy's --certs folder for fingerprints that match its logs)",
                    dir.display()
                );
            Redactor::random()
        }
    })
}
