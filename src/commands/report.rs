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
    let built = report::from_records(
        BufReader::with_capacity(1 << 16, file),
        selection,
        &redactor,
        args.har.is_some(),
    )
    .map_err(|unmade| Fatal(format!("{}: {unmade}", path.display())))?;
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
