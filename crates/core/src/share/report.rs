//! The shareable report: one Markdown document about failed exchanges (what
//! failed, the diagnosis and its findings, what was tried since, the client,
//! this build and its Trakt contract, the request and response) with every
//! secret replaced by a placeholder that names it (`<access token>`,
//! `<client secret>`): neither the secret nor its fingerprint, since a
//! fingerprint lets whoever reads the report test guesses.
//!
//! Pure: exchanges in, text and scrubbed exchanges out. The shell reads the
//! file (`trakt-doctor report`) or the web view's store.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use crate::exchange::{Body, Exchange, Headers};
use crate::redact::Redactor;

/// How the records write a fingerprint: `sha256:` and hex digits.
const MARK: &str = "sha256:";

/// Bodies longer than this many lines (or bytes) are cut in the report.
const BODY_LINES: usize = 60;
const BODY_BYTES: usize = 4000;

/// Which exchanges the report is about.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Every failed exchange (a status outside 2xx, an error, or an error
    /// finding) that is not
    /// itself a resend of another exchange in the records.
    Failed,
    /// These ids, in this order.
    Ids(&'a [u64]),
}

/// A report: the Markdown, and the scrubbed exchanges it covers (the
/// chosen ones and their resends), for a HAR beside it.
#[derive(Debug)]
pub struct Report {
    /// The report in Markdown.
    pub markdown: String,
    /// The scrubbed exchanges it covers, when they were kept.
    pub exchanges: Vec<Exchange>,
}

/// Why there is nothing to report.
#[derive(Debug, PartialEq, Eq)]
pub enum Nothing {
    /// The records hold no failed exchange.
    NoFailure,
    /// These ids are not in the records.
    Unknown(Vec<u64>),
}

impl std::fmt::Display for Nothing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Nothing::NoFailure => f.write_str(
                "no failed exchange (every status is 2xx, and none has an error or an error finding); choose one with --id",
            ),
            Nothing::Unknown(ids) => {
                let ids: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
                write!(f, "no exchange {} in the records", ids.join(", "))
            }
        }
    }
}

/// Why a report could not be made from records.
#[derive(Debug)]
pub enum Unmade {
    /// The records could not be read.
    Read(crate::read::ReadError),
    /// They hold nothing the report is about.
    Nothing(Nothing),
}

impl std::fmt::Display for Unmade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unmade::Read(e) => e.fmt(f),
            Unmade::Nothing(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Unmade {}

/// The report of `selection` among the records `reader` holds (a HAR or a
/// JSON Lines log), read once, one exchange at a time: each is explained as
/// the proxy would have ([`Offline::explain`](crate::inspect::Offline::explain),
/// one session over the file), then kept only if the report is about it.
/// `trakt-doctor report` and the browser page both make it here.
pub fn from_records(
    reader: impl std::io::BufRead,
    selection: Selection<'_>,
    redactor: &Redactor,
    keep_exchanges: bool,
) -> Result<Report, Unmade> {
    let offline = crate::inspect::Offline::new(redactor.clone());
    let mut builder = Builder::new(selection, redactor, keep_exchanges);
    crate::read::each_exchange(reader, |mut exchange| {
        offline.explain(&mut exchange);
        builder.push(&exchange);
    })
    .map_err(Unmade::Read)?;
    builder.finish().map_err(Unmade::Nothing)
}

/// The exchange this one is a resend of.
fn replay_of(ex: &Exchange) -> Option<u64> {
    ex.replay_of
}

/// Whether the exchange failed: no response, a status outside 2xx, or an
/// error finding whatever the status (Stremio's API answers its failures,
/// an expired Trakt token among them, with 200).
pub fn failed(ex: &Exchange) -> bool {
    ex.error.is_some()
        || ex
            .response
            .as_ref()
            .is_none_or(|r| !(200..300).contains(&r.status))
        || ex
            .findings
            .iter()
            .any(|f| !f.fixed && f.severity == crate::report::Severity::Error)
}

/// Builds the report of `selection` among `all`. `redactor` turns any secret
/// still in clear (a log written with --show-secrets, a browser's HAR) into a
/// fingerprint first; every fingerprint then becomes a placeholder, so its
/// key does not matter.
#[cfg(test)]
pub fn build(
    all: &[Exchange],
    selection: Selection<'_>,
    redactor: &Redactor,
) -> Result<Report, Nothing> {
    let mut builder = Builder::new(selection, redactor, true);
    for ex in all {
        builder.push(ex);
    }
    builder.finish()
}

/// A report made from exchanges read one at a time, in the records' order
/// ([`Builder::push`]), so a file of any size is read once and never held:
/// time is linear in the records, and memory holds what the report shows of
/// the chosen exchanges (their sections, bodies already cut), one line per
/// resend, and the records' ids (as ranges); the scrubbed exchanges
/// themselves only when a HAR of them is wanted.
pub struct Builder<'a> {
    selection: Selection<'a>,
    redactor: &'a Redactor,
    /// Keep the scrubbed exchanges, for a HAR beside the report.
    keep_exchanges: bool,
    /// Every id read ([`Selection::Failed`]: a failed resend of an exchange
    /// in the records is told as what was tried for that one instead).
    ids: IdRanges,
    /// [`Selection::Ids`]'s ids, and the chosen ones' places in `chosen`.
    wanted: HashSet<u64>,
    places: HashMap<u64, usize>,
    chosen: Vec<Chosen>,
    resends: Vec<Resend>,
    /// Who the records are about, hidden from the finished report.
    accounts: super::accounts::Accounts,
}

/// What the report keeps of a chosen exchange.
#[derive(Clone)]
struct Chosen {
    id: u64,
    replay_of: Option<u64>,
    /// Its section from the heading's text to the diagnosis.
    head: String,
    /// Its request and response.
    messages: String,
    exchange: Option<Exchange>,
}

/// What the report keeps of a resend: the line under "What was tried".
struct Resend {
    of: u64,
    line: String,
    exchange: Option<Exchange>,
}

impl<'a> Builder<'a> {
    /// A report on `selection`, fingerprinting with `redactor`'s key; `keep_exchanges` keeps the scrubbed exchanges too.
    pub fn new(selection: Selection<'a>, redactor: &'a Redactor, keep_exchanges: bool) -> Self {
        let wanted = match selection {
            Selection::Failed => HashSet::new(),
            Selection::Ids(ids) => ids.iter().copied().collect(),
        };
        Builder {
            selection,
            redactor,
            keep_exchanges,
            ids: IdRanges::default(),
            wanted,
            places: HashMap::new(),
            chosen: Vec::new(),
            resends: Vec::new(),
            accounts: super::accounts::Accounts::default(),
        }
    }

    /// Takes the next exchange of the records: kept (scrubbed, its section
    /// written) when the report is about it or it is a resend, else only
    /// its id.
    pub fn push(&mut self, ex: &Exchange) {
        // Every record may show who the account is, chosen or not.
        self.accounts.learn(ex);
        let chosen = match self.selection {
            Selection::Failed => {
                self.ids.insert(ex.id);
                failed(ex)
            }
            // The first record of each id.
            Selection::Ids(_) => self.wanted.contains(&ex.id) && !self.places.contains_key(&ex.id),
        };
        let resend_of = replay_of(ex).filter(|of| match self.selection {
            Selection::Failed => true,
            Selection::Ids(_) => self.wanted.contains(of),
        });
        if !chosen && resend_of.is_none() {
            return;
        }
        let ex = scrub(ex, self.redactor);
        let keep = self.keep_exchanges;
        if let Some(of) = resend_of {
            let mut line = tried_line(&ex);
            line.shrink_to_fit();
            self.resends.push(Resend {
                of,
                line,
                exchange: keep.then(|| ex.clone()),
            });
        }
        if chosen {
            // Kept until the end: without the slack their writing left.
            let (mut head, mut messages) = (head(&ex), messages(&ex));
            head.shrink_to_fit();
            messages.shrink_to_fit();
            self.places.insert(ex.id, self.chosen.len());
            self.chosen.push(Chosen {
                id: ex.id,
                replay_of: replay_of(&ex),
                head,
                messages,
                exchange: keep.then_some(ex),
            });
        }
    }

    /// The report, once every record was pushed.
    pub fn finish(mut self) -> Result<Report, Nothing> {
        let accounts = std::mem::take(&mut self.accounts);
        let order: Vec<usize> = match self.selection {
            Selection::Failed => {
                self.ids.settle();
                let ids = &self.ids;
                (0..self.chosen.len())
                    .filter(|&i| {
                        self.chosen
                            .get(i)
                            .and_then(|c| c.replay_of)
                            .is_none_or(|of| !ids.contains(of))
                    })
                    .collect()
            }
            Selection::Ids(ids) => {
                let unknown: Vec<u64> = ids
                    .iter()
                    .copied()
                    .filter(|id| !self.places.contains_key(id))
                    .collect();
                if !unknown.is_empty() {
                    return Err(Nothing::Unknown(unknown));
                }
                ids.iter()
                    .filter_map(|id| self.places.get(id).copied())
                    .collect()
            }
        };
        if order.is_empty() {
            return Err(Nothing::NoFailure);
        }
        let mut by_original: HashMap<u64, Vec<&Resend>> = HashMap::new();
        for resend in &self.resends {
            by_original.entry(resend.of).or_default().push(resend);
        }
        let header = header(order.len());
        let size = order
            .iter()
            .filter_map(|&i| self.chosen.get(i))
            .map(|c| {
                c.head
                    .len()
                    .saturating_add(c.messages.len())
                    .saturating_add(80)
            })
            .chain(self.resends.iter().map(|r| r.line.len().saturating_add(1)))
            .fold(header.len(), usize::saturating_add);
        let mut markdown = String::with_capacity(size);
        markdown.push_str(&header);
        // Each part moves into the report as it is written (an id asked for
        // twice is copied), so the parts and the report are not both held whole.
        let mut uses: HashMap<usize, usize> = HashMap::new();
        for &i in &order {
            let n = uses.entry(i).or_default();
            *n = n.saturating_add(1);
        }
        let mut parts: Vec<Option<Chosen>> = self.chosen.into_iter().map(Some).collect();
        let mut exchanges = Vec::new();
        let none = Vec::new();
        for (n, &i) in order.iter().enumerate() {
            let left = uses.entry(i).or_default();
            *left = left.saturating_sub(1);
            let part = match parts.get_mut(i) {
                Some(slot) if *left == 0 => slot.take(),
                Some(slot) => slot.clone(),
                None => None,
            };
            let Some(chosen) = part else { continue };
            let resends = by_original.get(&chosen.id).unwrap_or(&none);
            let _ = write!(markdown, "\n## {}. {}", n.saturating_add(1), chosen.head);
            let lines: Vec<&str> = resends.iter().map(|r| r.line.as_str()).collect();
            tried(&mut markdown, &lines);
            markdown.push_str(&chosen.messages);
            exchanges.extend(chosen.exchange);
            exchanges.extend(resends.iter().filter_map(|r| r.exchange.clone()));
        }
        // The account is known once every record was read: hidden last.
        let hidden = match accounts.hide(&markdown) {
            Cow::Owned(done) => Some(done),
            Cow::Borrowed(_) => None,
        };
        if let Some(done) = hidden {
            markdown = done;
        }
        exchanges.iter_mut().for_each(|ex| accounts.hide_in(ex));
        Ok(Report {
            markdown,
            exchanges,
        })
    }
}

/// A set of ids kept as ranges: a log's ids run 1, 2, 3, …, so a million
/// of them take a few bytes (ids in any order take 16 bytes each).
#[derive(Debug, Default)]
struct IdRanges(Vec<(u64, u64)>);

impl IdRanges {
    fn insert(&mut self, id: u64) {
        match self.0.last_mut() {
            Some((start, end)) if (*start..=*end).contains(&id) => {}
            Some((_, end)) if end.checked_add(1) == Some(id) => *end = id,
            _ => self.0.push((id, id)),
        }
    }

    /// Sorts and merges the ranges, for [`IdRanges::contains`].
    fn settle(&mut self) {
        self.0.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.0.len());
        for &(start, end) in &self.0 {
            match merged.last_mut() {
                Some((_, last)) if start <= last.saturating_add(1) => *last = (*last).max(end),
                _ => merged.push((start, end)),
            }
        }
        self.0 = merged;
    }

    /// Whether `id` was inserted (once settled).
    fn contains(&self, id: u64) -> bool {
        let after = self.0.partition_point(|&(start, _)| start <= id);
        after
            .checked_sub(1)
            .and_then(|i| self.0.get(i))
            .is_some_and(|&(_, end)| id <= end)
    }
}

fn header(count: usize) -> String {
    format!(
        "# trakt-doctor report\n\n\
         {count} exchange(s) recorded by a local debugging proxy, explained by \
         trakt-doctor {version} ({contract}). Secrets are replaced by placeholders \
         such as `<access token>`, and the account's email, Stremio user id and Trakt \
         username by `<email>`, `<Stremio user id>` and `<Trakt username>`.\n",
        version = env!("CARGO_PKG_VERSION"),
        contract = crate::spec::trakt::contract_label(),
    )
}

/// A copy of `ex` with every secret and every fingerprint replaced by a placeholder.
pub fn scrub(ex: &Exchange, redactor: &Redactor) -> Exchange {
    let mut ex = ex.clone();
    redactor.exchange(&mut ex);
    let edit = |text: &mut String| {
        if let Cow::Owned(done) = placeholders(text) {
            *text = done;
        }
    };
    edit(&mut ex.request.url);
    scrub_headers(&mut ex.request.headers);
    if scrub_body(&mut ex.request.body) {
        hide_length(&mut ex.request.headers);
    }
    if let Some(response) = ex.response.as_mut() {
        scrub_headers(&mut response.headers);
        if scrub_body(&mut response.body) {
            hide_length(&mut response.headers);
        }
    }
    ex.edit_prose(edit);
    ex
}

/// Credential headers name their placeholder by field (and scheme); any
/// other header by the text around each fingerprint.
fn scrub_headers(headers: &mut Headers) {
    for (name, value) in &mut headers.0 {
        let fixed = match name.as_str() {
            "authorization"
                if value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("bearer") =>
            {
                Some("access token")
            }
            "authorization" => Some("credentials"),
            "proxy-authorization" => Some("proxy credentials"),
            "cookie" | "set-cookie" => Some("cookie"),
            _ => None,
        };
        let done = match fixed {
            Some(kind) => replace_marks(value, |_, _| kind),
            None => placeholders(value),
        };
        if let Cow::Owned(done) = done {
            *value = done;
        }
    }
}

/// Returns whether a secret was replaced (the message's Content-Length would
/// then tell the hidden secrets' length).
fn scrub_body(body: &mut Body) -> bool {
    let Some(text) = body.text() else {
        return false;
    };
    let Cow::Owned(done) = placeholders(text) else {
        return false;
    };
    {
        // The size said how much was captured; the placeholder changes it.
        let grown = done.len() as u64;
        let cut = body.size.saturating_sub(body.bytes.len() as u64);
        body.bytes = bytes::Bytes::from(done);
        body.size = grown.saturating_add(cut);
    }
    true
}

/// Drops Content-Length from a message whose body lost a secret.
fn hide_length(headers: &mut Headers) {
    headers
        .0
        .retain(|(name, _)| !name.eq_ignore_ascii_case("content-length"));
}

/// Replaces every fingerprint in `text` with a placeholder named after what
/// precedes it (`"refresh_token": "sha256:…"` gives `<refresh token>`).
pub fn placeholders(text: &str) -> Cow<'_, str> {
    replace_marks(text, kind_of)
}

/// Replaces every `sha256:` + hex run with `<kind>`, `kind` chosen from the
/// text before it (as already rewritten) and the text after it.
fn replace_marks<'a>(text: &'a str, kind: impl Fn(&str, &str) -> &'static str) -> Cow<'a, str> {
    if !text.contains(MARK) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, from)) = rest.split_once(MARK) {
        out.push_str(before);
        let hex = from.bytes().take_while(u8::is_ascii_hexdigit).count();
        let (Some(_), Some(after)) = (from.get(..hex), from.get(hex..)) else {
            out.push_str(MARK);
            rest = from;
            continue;
        };
        if hex == 0 {
            out.push_str(MARK);
        } else {
            let name = kind(&out, after);
            out.push('<');
            out.push_str(name);
            out.push('>');
        }
        rest = after;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// What a fingerprint stood for, from the key, field or words before it.
fn kind_of(before: &str, after: &str) -> &'static str {
    if before.ends_with("://") && after.starts_with('@') {
        return "user:password";
    }
    let trimmed = before.trim_end_matches(|c: char| "\"'\\ :=(\t".contains(c));
    let word_start = trimmed
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '%'))
        .map_or(0, |(i, c)| i.saturating_add(c.len_utf8()));
    let word = crate::text::percent_decode(trimmed.get(word_start..).unwrap_or_default())
        .to_ascii_lowercase();
    let previous = trimmed
        .get(..word_start)
        .unwrap_or_default()
        .split_whitespace()
        .next_back()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match word.as_str() {
        "bearer" => "access token",
        "basic" | "authorization" => "credentials",
        "access_token" => "access token",
        "refresh_token" => "refresh token",
        "client_secret" => "client secret",
        "code" => "OAuth code",
        "device_code" => "device code",
        "code_verifier" => "code verifier",
        "id_token" => "id token",
        "authkey" => "authKey",
        "password" => "password",
        "cookie" | "set-cookie" => "cookie",
        "token" => match previous.as_str() {
            "refresh" => "refresh token",
            "access" => "access token",
            "id" => "id token",
            _ => "token",
        },
        _ => "secret",
    }
}

/// One exchange's section from the heading's text (after `## n. `) to its
/// diagnosis and findings; "What was tried" and the messages follow.
fn head(ex: &Exchange) -> String {
    let mut out = String::new();
    let (host, path) = crate::text::host_and_path(&ex.request.url);
    let _ = write!(
        out,
        "{} {host}{path}: {}\n\n",
        ex.request.method,
        prose(&outcome(ex))
    );
    let _ = writeln!(out, "- **When:** {}", when(ex));
    let _ = writeln!(
        out,
        "- **Request:** `{} {}`",
        ex.request.method,
        inline(&ex.request.url)
    );
    let _ = writeln!(out, "- **Outcome:** {}", prose(&outcome(ex)));
    let agent = ex
        .request
        .headers
        .get("user-agent")
        .unwrap_or("(none sent)");
    let _ = writeln!(out, "- **Client (User-Agent):** `{}`", inline(agent));
    let _ = writeln!(out, "- **Exchange:** #{}", ex.id);
    if let Some(of) = replay_of(ex) {
        let _ = writeln!(out, "- **A resend of:** #{of}");
    }
    diagnosis(&mut out, ex);
    out
}

/// An exchange's request and response, as its section ends.
fn messages(ex: &Exchange) -> String {
    let mut out = String::new();
    let _ = write!(out, "\n### Request\n\n");
    message(
        &mut out,
        &format!(
            "{} {} {}",
            ex.request.method,
            ex.request.url,
            version(&ex.request.http_version)
        ),
        &ex.request.headers,
        &ex.request.body,
    );
    let _ = write!(out, "\n### Response\n\n");
    match &ex.response {
        Some(r) => message(
            &mut out,
            &format!("{} {}", version(&r.http_version), status_line(r.status)),
            &r.headers,
            &r.body,
        ),
        None => {
            let _ = writeln!(out, "No response was received.");
        }
    }
    out
}

fn diagnosis(out: &mut String, ex: &Exchange) {
    let _ = write!(out, "\n### Diagnosis\n\n");
    match &ex.diagnosis {
        Some(d) => {
            let _ = writeln!(out, "{}", prose(&d.summary));
            if !d.causes.is_empty() {
                let _ = write!(out, "\nWhy:\n\n");
                for cause in &d.causes {
                    let _ = writeln!(out, "- {}", prose(cause));
                }
            }
            if !d.remedies.is_empty() {
                let _ = write!(out, "\nWhat to do:\n\n");
                for remedy in &d.remedies {
                    let _ = writeln!(out, "- {}", prose(remedy));
                }
            }
        }
        None => {
            let _ = writeln!(out, "trakt-doctor has no diagnosis for this exchange.");
        }
    }
    if !ex.findings.is_empty() {
        let _ = write!(out, "\nFindings:\n\n");
        for f in &ex.findings {
            let note = match (f.fixed, f.contradicted) {
                (true, _) => " (repaired by auto-fix before it left)",
                (false, true) => " (yet Trakt accepted it)",
                _ => "",
            };
            let _ = writeln!(
                out,
                "- **{}** `{}` at `{}`: {}{note}",
                f.severity.as_str(),
                f.rule,
                inline(&f.location),
                prose(&f.message)
            );
        }
    }
    if !ex.fixes.is_empty() {
        let _ = write!(out, "\nRepairs auto-fix applied:\n\n");
        for fix in &ex.fixes {
            let _ = writeln!(
                out,
                "- `{}` at `{}`: `{}` became `{}`",
                fix.rule,
                inline(&fix.location),
                inline(&fix.before),
                inline(&fix.after)
            );
        }
    }
}

fn tried(out: &mut String, lines: &[&str]) {
    let _ = write!(out, "\n### What was tried\n\n");
    if lines.is_empty() {
        let _ = writeln!(out, "No resend of this exchange is in the records.");
        return;
    }
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

/// A resend's line under "What was tried".
fn tried_line(r: &Exchange) -> String {
    let errors = r
        .findings
        .iter()
        .filter(|f| f.severity == crate::report::Severity::Error && !f.fixed)
        .count();
    let mut line = format!("- Resent as #{} at {}: {}", r.id, when(r), outcome(r));
    if !r.fixes.is_empty() {
        let rules: Vec<&str> = r.fixes.iter().map(|f| f.rule.as_str()).collect();
        let _ = write!(line, ", with the repairs {}", rules.join(", "));
    }
    let _ = write!(line, "; {errors} error finding(s)");
    if let Some(d) = r.diagnosis.as_ref().filter(|_| failed(r)) {
        let _ = write!(line, ". {}", d.summary);
    }
    prose(&line)
}

fn outcome(ex: &Exchange) -> String {
    match (&ex.response, &ex.error) {
        (Some(r), None) => status_line(r.status),
        (Some(r), Some(e)) => format!("{}, then {e}", status_line(r.status)),
        (None, Some(e)) => format!("no response ({e})"),
        (None, None) => "no response".to_string(),
    }
}

fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

fn when(ex: &Exchange) -> String {
    let at = ex.started_at.format(&Rfc3339).unwrap_or_default();
    format!("{at} ({} ms)", ex.duration_ms.round())
}

fn version(v: &str) -> &str {
    if v.is_empty() {
        "HTTP/1.1"
    } else {
        v
    }
}

/// Free text for Markdown: `<` and `>` escaped, so a placeholder is shown
/// rather than taken for an HTML tag, and on one line.
fn prose(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('<', "\\<")
        .replace('>', "\\>")
        .replace(['\r', '\n'], " ")
}

/// Text for an inline code span: on one line, without backticks to end it.
fn inline(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('`', "'")
}

/// A message block: start line, headers, blank line, body (pretty, cut).
fn message(out: &mut String, start: &str, headers: &Headers, body: &Body) {
    let mut block = String::new();
    block.push_str(start);
    block.push('\n');
    for (name, value) in headers.iter() {
        let _ = writeln!(block, "{name}: {value}");
    }
    if !body.is_empty() {
        block.push('\n');
        block.push_str(&shown_body(body, headers));
        block.push('\n');
    }
    // A fence longer than any run of backticks inside.
    let longest = block.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.saturating_add(1).max(3));
    let _ = write!(out, "{fence}http\n{block}{fence}\n");
}

/// The body as the report shows it: JSON pretty-printed, then cut.
fn shown_body(body: &Body, headers: &Headers) -> String {
    let Some(text) = body.text() else {
        let kind = headers.get("content-type").unwrap_or("binary data");
        return format!("({kind}, {} bytes, not shown)", body.size);
    };
    let text = text.trim_start_matches('\u{feff}');
    let pretty = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string());
    let mut shown = String::new();
    let mut lines = 0usize;
    let mut cut = false;
    for line in pretty.lines() {
        if lines >= BODY_LINES || shown.len().saturating_add(line.len()) > BODY_BYTES {
            cut = true;
            break;
        }
        shown.push_str(line);
        shown.push('\n');
        lines = lines.saturating_add(1);
    }
    if cut || body.truncated {
        let _ = writeln!(
            shown,
            "… (cut: the body has {} bytes; the HAR has what was captured)",
            body.size
        );
    }
    shown.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zq9secretValue7Xw";

    fn exchange(json: &str) -> Exchange {
        serde_json::from_str(json).unwrap()
    }

    /// An exchange carrying `SECRET` where the redaction knows to look for
    /// `kind`, as the request and (for bodies) the response.
    fn with_secret(id: u64, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Exchange {
        let mut ex = exchange(&format!(
            r#"{{"id":{id},"started_at":"2026-03-04T05:06:07Z","duration_ms":12.4,
               "request":{{"method":"POST","url":{url:?},"http_version":"HTTP/1.1","headers":{{"user-agent":"Addon/1.0"}}}},
               "response":{{"status":401,"headers":{{"content-type":"application/json"}},"body":{{"size":2,"text":"{{}}"}}}}}}"#
        ));
        for (name, value) in headers {
            ex.request
                .headers
                .0
                .push((name.to_string(), value.to_string()));
        }
        if let Some(body) = body {
            ex.request.body = Body::complete(bytes::Bytes::from(body.to_string()));
            ex.request
                .headers
                .0
                .push(("content-type".into(), "application/json".into()));
        }
        ex
    }

    fn report_of(ex: Exchange) -> String {
        let redactor = Redactor::new(b"the proxy's key");
        let all = [ex];
        let report = build(&all, Selection::Failed, &redactor).unwrap();
        let har = serde_json::to_string(&report.exchanges).unwrap();
        let fingerprint = redactor.fingerprint(SECRET);
        for text in [&report.markdown, &har] {
            assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
            assert!(
                !text.contains(&fingerprint),
                "its fingerprint leaked:\n{text}"
            );
            assert!(!text.contains(MARK), "a fingerprint leaked:\n{text}");
        }
        report.markdown
    }

    #[test]
    fn a_bearer_token_becomes_access_token() {
        let md = report_of(with_secret(
            1,
            "https://api.trakt.tv/sync/history",
            &[("authorization", &format!("Bearer {SECRET}"))],
            None,
        ));
        assert!(md.contains("authorization: Bearer <access token>"), "{md}");
    }

    #[test]
    fn basic_and_proxy_credentials_and_cookies_are_named() {
        let md = report_of(with_secret(
            1,
            "https://api.trakt.tv/x",
            &[
                ("authorization", &format!("Basic {SECRET}")),
                ("proxy-authorization", &format!("Basic {SECRET}")),
                ("cookie", &format!("session={SECRET}; theme=dark")),
            ],
            None,
        ));
        assert!(md.contains("authorization: Basic <credentials>"), "{md}");
        assert!(
            md.contains("proxy-authorization: Basic <proxy credentials>"),
            "{md}"
        );
        assert!(md.contains("cookie: session=<cookie>"), "{md}");
    }

    #[test]
    fn every_secret_key_of_a_body_gets_its_name() {
        for (key, name) in [
            ("access_token", "access token"),
            ("refresh_token", "refresh token"),
            ("client_secret", "client secret"),
            ("code", "OAuth code"),
            ("device_code", "device code"),
            ("code_verifier", "code verifier"),
            ("id_token", "id token"),
            ("token", "token"),
            ("authKey", "authKey"),
            ("password", "password"),
        ] {
            let body = format!(r#"{{"{key}":"{SECRET}","client_id":"public-id"}}"#);
            let md = report_of(with_secret(
                1,
                "https://api.trakt.tv/oauth/token",
                &[],
                Some(&body),
            ));
            // Pretty-printed, with the placeholder in place of the value.
            assert!(
                md.contains(&format!("  \"{key}\": \"<{name}>\",")),
                "{key}:\n{md}"
            );
            assert!(md.contains("\"client_id\": \"public-id\""), "{md}");
        }
    }

    #[test]
    fn a_body_that_lost_a_secret_does_not_tell_its_length() {
        let body = format!(r#"{{"refresh_token":"{SECRET}"}}"#);
        let mut ex = with_secret(1, "https://api.trakt.tv/oauth/token", &[], Some(&body));
        let length = body.len().to_string();
        ex.request
            .headers
            .0
            .push(("content-length".into(), length.clone()));
        let md = report_of(ex);
        assert!(!md.contains("content-length"), "{md}");
        // A body with no secret keeps its length.
        let mut plain = with_secret(2, "https://api.trakt.tv/sync/history", &[], Some("{}"));
        plain
            .request
            .headers
            .0
            .push(("content-length".into(), "2".into()));
        assert!(report_of(plain).contains("content-length: 2"));
    }

    #[test]
    fn secrets_in_the_url_query_fragment_and_credentials() {
        let md = report_of(with_secret(
            1,
            &format!("https://bob:{SECRET}@www.strem.io/trakt/cb?code={SECRET}&state=s#access_token={SECRET}"),
            &[("referer", &format!("https://x.test/?token={SECRET}"))],
            None,
        ));
        assert!(
            md.contains("https://<user:password>@www.strem.io/trakt/cb?code=<OAuth code>&state=s#access_token=<access token>"),
            "{md}"
        );
        assert!(
            md.contains("referer: https://x.test/?token=<token>"),
            "{md}"
        );
    }

    #[test]
    fn fingerprints_already_in_a_record_become_placeholders_everywhere() {
        // A record as the proxy logs it: fingerprints, in every text it wrote.
        let redactor = Redactor::new(b"the proxy's key");
        let fp = redactor.fingerprint(SECRET);
        let mut ex = with_secret(
            7,
            &format!("https://api.trakt.tv/oauth/token?access_token={fp}"),
            &[("authorization", &format!("Bearer {fp}"))],
            Some(&format!(r#"{{"refresh_token":"{fp}"}}"#)),
        );
        ex.error = Some(format!("gave up on token {fp}"));
        ex.diagnosis = Some(crate::report::Diagnosis {
            summary: format!("this refresh token ({fp}) was already used"),
            causes: vec![format!("the token {fp} expired")],
            remedies: vec!["sign in again".into()],
        });
        let md = report_of(ex);
        assert!(
            md.contains("this refresh token (\\<refresh token\\>) was already used"),
            "{md}"
        );
        assert!(md.contains("sign in again"), "{md}");
    }

    #[test]
    fn the_report_names_the_failure_and_what_was_tried() {
        let mut failed = with_secret(3, "https://api.trakt.tv/scrobble/start", &[], None);
        failed.diagnosis = Some(crate::report::Diagnosis {
            summary: "Trakt refused the token".into(),
            causes: vec![],
            remedies: vec![],
        });
        let mut resend = with_secret(4, "https://api.trakt.tv/scrobble/start", &[], None);
        resend.replay_of = Some(3);
        resend.response.as_mut().unwrap().status = 201;
        let ok = {
            let mut ok = with_secret(5, "https://api.trakt.tv/users/settings", &[], None);
            ok.response.as_mut().unwrap().status = 200;
            ok
        };
        let all = [failed, resend, ok];
        let redactor = Redactor::random();
        let report = build(&all, Selection::Failed, &redactor).unwrap();
        let md = &report.markdown;
        assert!(
            md.contains("## 1. POST api.trakt.tv/scrobble/start: 401 Unauthorized"),
            "{md}"
        );
        assert!(md.contains("Trakt refused the token"), "{md}");
        assert!(md.contains("- Resent as #4 at "), "{md}");
        assert!(md.contains("201 Created"), "{md}");
        assert!(md.contains("`Addon/1.0`"), "{md}");
        assert!(md.contains(&crate::spec::trakt::contract_label()), "{md}");
        assert!(!md.contains("/users/settings"), "{md}");
        let ids: Vec<u64> = report.exchanges.iter().map(|e| e.id).collect();
        assert_eq!(ids, [3, 4]);
        assert_eq!(
            build(&all, Selection::Ids(&[9]), &redactor).unwrap_err(),
            Nothing::Unknown(vec![9])
        );
        assert_eq!(
            build(&all[2..], Selection::Failed, &redactor).unwrap_err(),
            Nothing::NoFailure
        );
    }

    #[test]
    fn records_pushed_one_at_a_time_keep_what_the_report_needs() {
        // A failed resend read before its original is still told as what was
        // tried for it, not reported on its own.
        let mut resend = with_secret(4, "https://api.trakt.tv/scrobble/start", &[], None);
        resend.replay_of = Some(3);
        let original = with_secret(3, "https://api.trakt.tv/scrobble/start", &[], None);
        let mut ok = with_secret(5, "https://api.trakt.tv/users/settings", &[], None);
        ok.response.as_mut().unwrap().status = 200;
        let redactor = Redactor::random();
        let mut builder = Builder::new(Selection::Failed, &redactor, false);
        for ex in [&resend, &ok, &original] {
            builder.push(ex);
        }
        // Only the chosen exchange's section is kept, and no exchange without a HAR.
        assert_eq!(builder.chosen.len(), 2);
        assert_eq!(builder.resends.len(), 1);
        let report = builder.finish().unwrap();
        let md = &report.markdown;
        assert!(
            md.contains("## 1. POST api.trakt.tv/scrobble/start"),
            "{md}"
        );
        assert!(
            md.contains("- **Exchange:** #3") && !md.contains("## 2."),
            "{md}"
        );
        assert!(md.contains("- Resent as #4 at "), "{md}");
        assert!(report.exchanges.is_empty());
        // Ids: in the order asked, each with its resends.
        let mut builder = Builder::new(Selection::Ids(&[4, 3]), &redactor, true);
        for ex in [&resend, &ok, &original] {
            builder.push(ex);
        }
        let report = builder.finish().unwrap();
        let ids: Vec<u64> = report.exchanges.iter().map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 4]);
        let (first, second) = report.markdown.split_once("## 2.").unwrap();
        assert!(
            first.contains("#4") && second.contains("- Resent as #4"),
            "{}",
            report.markdown
        );
    }

    #[test]
    fn ids_are_kept_as_ranges() {
        let mut ids = IdRanges::default();
        for id in (1..=1000).chain([5, 2000, 1500, 1501, 0, 999, u64::MAX]) {
            ids.insert(id);
        }
        ids.settle();
        assert_eq!(
            ids.0,
            [(0, 1000), (1500, 1501), (2000, 2000), (u64::MAX, u64::MAX)]
        );
        for id in [0, 1, 500, 1000, 1500, 1501, 2000, u64::MAX] {
            assert!(ids.contains(id), "{id}");
        }
        for id in [1001, 1499, 1502, 1999, 2001, u64::MAX - 1] {
            assert!(!ids.contains(id), "{id}");
        }
    }

    #[test]
    fn long_bodies_are_cut_and_fences_outlast_backticks() {
        let mut ex = with_secret(1, "https://api.trakt.tv/x", &[], None);
        let items: Vec<String> = (0..500).map(|i| format!("{{\"n\":{i}}}")).collect();
        let body = format!("[{}]", items.join(","));
        ex.response.as_mut().unwrap().body = Body::complete(bytes::Bytes::from(body));
        ex.request.body = Body::complete(bytes::Bytes::from_static(b"a ```` b"));
        let md = report_of(ex);
        assert!(md.contains("… (cut: the body has"), "{md}");
        assert!(md.len() < 20_000, "{}", md.len());
        assert!(md.contains("`````http\n"), "{md}");
    }
}
