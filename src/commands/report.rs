//! `trakt-doctor report FILE [--id N]… [--har OUT]`: the Markdown report of
//! failed exchanges on standard output, secrets replaced by placeholders
//! (see [`crate::share::report`]), and on request the HAR of just those.
//!
//! The file is read once, record by record (a HAR entry by entry): each is
//! explained, then kept only if the report is about it ([`report::Builder`]),
//! so time and memory grow linearly with the file and the failures chosen.

use std::io::BufReader;

use crate::cli::ReportArgs;
use crate::error::{Context, Fatal};
use crate::exchange::Exchange;
use crate::inspect::Inspector;
use crate::log::read;
use crate::redact::Redactor;
use crate::share::report::{self, Selection};

pub(crate) fn run(args: ReportArgs) -> Result<i32, Fatal> {
    let path = &args.file;
    let file = std::fs::File::open(path).context(&format!("cannot read {}", path.display()))?;
    // Every fingerprint becomes a placeholder, so any key will do: a key of
    // this run keeps the folder's key out of it.
    let redactor = Redactor::random();
    let selection = if args.ids.is_empty() {
        Selection::Failed
    } else {
        Selection::Ids(&args.ids)
    };
    let inspector = Inspector::with_redactor(redactor.clone());
    let mut builder = report::Builder::new(selection, &redactor, args.har.is_some());
    read::each_exchange(BufReader::with_capacity(1 << 16, file), |mut exchange| {
        explain(&inspector, &mut exchange);
        builder.push(&exchange);
    })
    .context(&path.display().to_string())?;
    let built = builder
        .finish()
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

/// Gives an exchange read without trakt-doctor's findings (a browser's HAR)
/// the inspection the proxy would have made, with one session over the file
/// in order; a record that carries the proxy's own findings keeps them (the
/// session still learns from it).
fn explain(inspector: &Inspector, exchange: &mut Exchange) {
    let findings = std::mem::take(&mut exchange.findings);
    let diagnosis = exchange.diagnosis.take();
    inspector.replay(exchange);
    if !findings.is_empty() || diagnosis.is_some() {
        exchange.findings = findings;
        exchange.diagnosis = diagnosis;
    }
}
