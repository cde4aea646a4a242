//! The terminal sink: one readable line per exchange, then its findings,
//! fixes and diagnosis indented beneath. Colour only on a TTY (and never
//! with `NO_COLOR`).

use std::io::{self, Write};

use time::macros::format_description;

use super::{Record, Sink};
use crate::exchange::Exchange;
use crate::lint::Severity;

/// ANSI styles, or nothing when colour is off.
#[derive(Clone, Copy)]
struct Style {
    on: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
    fn status(self, status: u16) -> String {
        let code = match status {
            200..=299 => "32",
            300..=399 => "36",
            400..=499 => "33",
            _ => "31",
        };
        self.paint(code, &status.to_string())
    }
    fn severity(self, severity: Severity) -> String {
        let code = match severity {
            Severity::Error => "31;1",
            Severity::Warning => "33",
            Severity::Info => "34",
        };
        self.paint(code, &format!("{:<7}", severity.as_str()))
    }
}

pub struct TerminalSink<W: Write + Send> {
    out: W,
    style: Style,
    quiet: bool,
    /// What this batch printed, written out in one go at its end.
    pending: String,
}

/// Whether standard output gets colour: a terminal, and no `NO_COLOR`.
fn stdout_color() -> bool {
    use std::io::IsTerminal;
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

impl TerminalSink<io::Stdout> {
    /// Writes to standard output, coloured when it is a terminal.
    pub fn stdout(quiet: bool) -> Self {
        TerminalSink::new(io::stdout(), stdout_color(), quiet)
    }
}

impl TerminalSink<super::detached::DetachedWriter> {
    /// Like [`TerminalSink::stdout`], through `out`: a [`DetachedWriter`](super::detached::DetachedWriter)
    /// on standard output, so a paused terminal drops lines instead of stalling the log.
    pub fn detached(out: super::detached::DetachedWriter, quiet: bool) -> Self {
        TerminalSink::new(out, stdout_color(), quiet)
    }
}

impl<W: Write + Send> TerminalSink<W> {
    pub fn new(out: W, color: bool, quiet: bool) -> Self {
        TerminalSink {
            out,
            style: Style { on: color },
            quiet,
            pending: String::new(),
        }
    }
}

/// Renders one exchange as the terminal shows it.
fn render(ex: &Exchange, s: Style) -> String {
    let clock = ex
        .started_at
        .format(format_description!(
            "[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default();
    let target = ex
        .request
        .url
        .split_once("://")
        .map_or(ex.request.url.as_str(), |(_, rest)| rest);
    let outcome = match (&ex.response, &ex.error) {
        (Some(r), None) => s.status(r.status),
        (Some(r), Some(e)) => format!(
            "{} {}",
            s.status(r.status),
            s.paint("31", &format!("({e})"))
        ),
        (None, Some(e)) => s.paint("31", &format!("failed: {e}")),
        (None, None) => s.dim("no response"),
    };
    let fixed = if ex.fixes.is_empty() {
        String::new()
    } else {
        format!(" {}", s.paint("35", "[fixed]"))
    };
    let mut text = format!(
        "{} {} {} {} {} {}{}\n",
        s.dim(&clock),
        s.dim(&format!("#{}", ex.id)),
        s.bold(&ex.request.method),
        target,
        outcome,
        s.dim(&format!("{:.1} ms", ex.duration_ms)),
        fixed,
    );
    for finding in &ex.findings {
        let mark = if finding.fixed { " (fixed)" } else { "" };
        text.push_str(&format!(
            "    {} {} {}{} {}\n",
            s.severity(finding.severity),
            s.bold(&finding.rule),
            finding.message,
            mark,
            s.dim(&format!("@ {}", finding.location)),
        ));
    }
    for fix in &ex.fixes {
        text.push_str(&format!(
            "    {} {} {}: {} → {}\n",
            s.paint("35", "fix    "),
            s.bold(&fix.rule),
            fix.location,
            fix.before,
            fix.after
        ));
    }
    if let Some(d) = &ex.diagnosis {
        text.push_str(&format!(
            "    {} {}\n",
            s.paint("36;1", "why    "),
            d.summary
        ));
        for cause in &d.causes {
            text.push_str(&format!("           - {cause}\n"));
        }
        for remedy in &d.remedies {
            text.push_str(&format!("    {} {remedy}\n", s.paint("32", "do     ")));
        }
    }
    text
}

impl<W: Write + Send> Sink for TerminalSink<W> {
    fn name(&self) -> String {
        "the terminal".into()
    }

    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        let ex = record.exchange;
        let interesting = ex.error.is_some() || !ex.findings.is_empty() || ex.diagnosis.is_some();
        if self.quiet && !interesting {
            return Ok(());
        }
        self.pending.push_str(&render(ex, self.style));
        Ok(())
    }

    fn end_batch(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let written = self.out.write_all(self.pending.as_bytes());
            self.pending.clear();
            written?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.end_batch()
    }
}
