//! The terminal sink: one readable line per exchange, then its findings,
//! fixes and diagnosis indented beneath. Colour only on a TTY (and never
//! with `NO_COLOR`). Every text that came from traffic has its control
//! characters shown as escapes, so a body cannot drive the terminal.

use std::borrow::Cow;
use std::io::{self, Write};

use time::macros::format_description;

use super::{Record, Sink};
use crate::exchange::Exchange;

/// ANSI styles, or nothing when colour is off.
#[derive(Clone, Copy)]
struct Style {
    on: bool,
}

/// `text` in an ANSI style when colour is on; written straight into the
/// line being rendered, without a String of its own.
struct Painted<'a, T: ?Sized> {
    on: bool,
    code: &'static str,
    text: &'a T,
}

impl<T: std::fmt::Display + ?Sized> std::fmt::Display for Painted<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.on {
            write!(f, "\x1b[{}m{}\x1b[0m", self.code, self.text)
        } else {
            self.text.fmt(f)
        }
    }
}

/// A severity's name padded to the width of the longest.
struct Padded(&'static str);

impl std::fmt::Display for Padded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<7}", self.0)
    }
}

impl Style {
    fn paint<'a, T: std::fmt::Display + ?Sized>(
        self,
        code: &'static str,
        text: &'a T,
    ) -> Painted<'a, T> {
        Painted {
            on: self.on,
            code,
            text,
        }
    }
    fn dim<'a, T: std::fmt::Display + ?Sized>(self, t: &'a T) -> Painted<'a, T> {
        self.paint("2", t)
    }
    fn bold<'a, T: std::fmt::Display + ?Sized>(self, t: &'a T) -> Painted<'a, T> {
        self.paint("1", t)
    }
    fn status(self, status: &u16) -> Painted<'_, u16> {
        let code = match *status {
            200..=299 => "32",
            300..=399 => "36",
            400..=499 => "33",
            _ => "31",
        };
        self.paint(code, status)
    }
    fn severity(self, severity: &Padded) -> Painted<'_, Padded> {
        let code = match severity.0 {
            "error" => "31;1",
            "warning" => "33",
            _ => "34",
        };
        self.paint(code, severity)
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
    colour_wanted(io::stdout().is_terminal())
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

/// `text` with every control character (C0, DEL, C1) and bidirectional
/// override shown as a visible escape (`\u{1b}`), so what a client or
/// server sent can neither drive the terminal (titles, colours, cursor
/// moves, clipboard writes) nor break a line in two.
pub fn visible(text: &str) -> Cow<'_, str> {
    fn hidden(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether to colour what goes to a stream: only a terminal, never with a
/// non-empty `NO_COLOR` (<https://no-color.org>).
pub fn colour_wanted(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Renders one exchange as the terminal shows it.
#[cfg(test)]
fn render(ex: &Exchange, s: Style) -> String {
    let mut text = String::new();
    render_into(&mut text, ex, s);
    text
}

/// Renders one exchange as the terminal shows it, at the end of `text`.
fn render_into(text: &mut String, ex: &Exchange, s: Style) {
    use std::fmt::Write as _;
    // Writing into a String cannot fail.
    let clock = ex
        .started_at
        .format(format_description!(
            "[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default();
    let v = visible;
    let target = ex
        .request
        .url
        .split_once("://")
        .map_or(ex.request.url.as_str(), |(_, rest)| rest);
    let target = v(target);
    let _ = write!(
        text,
        "{} {} {} {} ",
        s.dim(&clock),
        s.dim(&format_args!("#{}", ex.id)),
        s.bold(&*v(&ex.request.method)),
        target,
    );
    let _ = match (&ex.response, &ex.error) {
        (Some(r), None) => write!(text, "{}", s.status(&r.status)),
        (Some(r), Some(e)) => write!(
            text,
            "{} {}",
            s.status(&r.status),
            s.paint("31", &format_args!("({})", v(e)))
        ),
        (None, Some(e)) => write!(text, "{}", s.paint("31", &format_args!("failed: {}", v(e)))),
        (None, None) => write!(text, "{}", s.dim("no response")),
    };
    let _ = write!(
        text,
        " {}",
        s.dim(&format_args!("{:.1} ms", ex.duration_ms))
    );
    if !ex.fixes.is_empty() {
        let _ = write!(text, " {}", s.paint("35", "[fixed]"));
    }
    if let Some(original) = ex.replay_of {
        let _ = write!(
            text,
            " {}",
            s.paint("34", &format_args!("[resend of #{original}]"))
        );
    }
    text.push('\n');
    for finding in &ex.findings {
        let mark = if finding.fixed {
            " (fixed)"
        } else if finding.contradicted {
            " (yet Trakt accepted the request: this prediction was wrong)"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "    {} {} {}{} {}",
            s.severity(&Padded(finding.severity.as_str())),
            s.bold(&*v(finding.rule.as_str())),
            v(&finding.message),
            mark,
            s.dim(&format_args!("@ {}", v(&finding.location))),
        );
    }
    for fix in &ex.fixes {
        let _ = writeln!(
            text,
            "    {} {} {}: {} → {}",
            s.paint("35", "fix    "),
            s.bold(&*v(fix.rule.as_str())),
            v(&fix.location),
            v(&fix.before),
            v(&fix.after)
        );
    }
    if let Some(d) = &ex.diagnosis {
        let _ = writeln!(text, "    {} {}", s.paint("36;1", "why    "), v(&d.summary));
        for cause in &d.causes {
            let _ = writeln!(text, "           - {}", v(cause));
        }
        for remedy in &d.remedies {
            let _ = writeln!(text, "    {} {}", s.paint("32", "do     "), v(remedy));
        }
    }
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
        render_into(&mut self.pending, ex, self.style);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert!(matches!(visible("plain ünïcode"), Cow::Borrowed(_)));
        assert_eq!(
            visible("\u{1b}]0;title\u{7}\r\n\u{9b}x\u{202e}"),
            r"\u{1b}]0;title\u{7}\u{d}\u{a}\u{9b}x\u{202e}"
        );
        let ex: Exchange = serde_json::from_value(serde_json::json!({
            "id": 1, "started_at": "2026-11-25T12:00:00Z", "duration_ms": 1.0,
            "request": {"method": "GET\u{1b}[2J", "url": "https://api.trakt.tv/\u{1b}x"},
            "error": "bad\u{7}",
            "findings": [{"rule": "r", "severity": "error", "message": "`\u{1b}]0;t\u{7}`", "location": "/\u{1b}"}],
            "diagnosis": {"summary": "s\u{1b}", "causes": ["c\u{7}"], "remedies": ["r\u{1b}"]}
        }))
        .unwrap();
        let mut ex = ex;
        ex.replay_of = Some(4);
        let plain = render(&ex, Style { on: false });
        assert!(plain.contains("[resend of #4]"), "{plain}");
        assert!(
            !plain.contains('\u{1b}') && !plain.contains('\u{7}'),
            "{plain}"
        );
        let coloured = render(&ex, Style { on: true });
        assert!(
            !coloured.replace("\u{1b}[", "").contains('\u{1b}'),
            "{coloured}"
        );
    }
}
