//! `trakt-doctor report FILE [--id N]… [--har OUT]`: the Markdown report of
//! failed exchanges on standard output, secrets replaced by placeholders
//! (see [`crate::share::report`]), and on request the HAR of just those.

use crate::cli::ReportArgs;
use crate::error::{Context, Fatal};
use crate::exchange::Exchange;
use crate::inspect::Inspector;
use crate::log::read;
use crate::redact::Redactor;
use crate::share::report::{self, Selection};

pub(crate) fn run(args: ReportArgs) -> Result<i32, Fatal> {
    let path = &args.file;
    let text = std::fs::read(path).context(&format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let mut exchanges = read::exchanges(&text).context(&path.display().to_string())?;
    // Every fingerprint becomes a placeholder, so any key will do: a key of
    // this run keeps the folder's key out of it.
    let redactor = Redactor::random();
    explain(&mut exchanges, &redactor);
    let selection = if args.ids.is_empty() {
        Selection::Failed
    } else {
        Selection::Ids(&args.ids)
    };
    let built = report::build(&exchanges, selection, &redactor)
        .map_err(|nothing| Fatal(format!("{}: {nothing}", path.display())))?;
    if let Some(out) = &args.har {
        std::fs::write(out, crate::share::har(&built.exchanges))
            .context(&format!("cannot write {}", out.display()))?;
        eprintln!(
            "trakt-doctor: wrote {} exchange(s) to {}, secrets replaced by placeholders",
            built.exchanges.len(),
            super::absolute(out).display()
        );
    }
    print!("{}", built.markdown);
    Ok(0)
}

/// Gives exchanges read without trakt-doctor's findings (a browser's HAR)
/// the inspection the proxy would have made, with one session over the file
/// in order; records that carry the proxy's own findings keep them.
fn explain(exchanges: &mut [Exchange], redactor: &Redactor) {
    let inspector = Inspector::with_redactor(redactor.clone());
    for exchange in exchanges {
        let mut replayed = exchange.clone();
        inspector.replay(&mut replayed);
        if exchange.findings.is_empty() && exchange.diagnosis.is_none() {
            exchange.findings = replayed.findings;
            exchange.diagnosis = replayed.diagnosis;
        }
    }
}
