//! Copy as curl: a curl command that sends the same request (method, URL,
//! header fields, body bytes), quoted for a POSIX shell or for PowerShell.
//!
//! Secrets become environment variables by default
//! (`-H "authorization: Bearer $TRAKT_ACCESS_TOKEN"`, `$env:TRAKT_ACCESS_TOKEN`
//! in PowerShell), named as `trakt-doctor replay` reads them
//! ([`SecretKind::env_var`]); the values themselves only when the caller
//! asks for them and has them (a live exchange's original). A record read
//! from a log has fingerprints where its secrets were: those always become
//! variables.
//!
//! The command says exactly what was sent: `--globoff` and `--path-as-is`
//! keep the URL as written, `--data-raw` sends the body bytes without
//! curl's `@file` reading, and the fields curl adds on its own (User-Agent,
//! Accept, a form Content-Type) are removed when the request had none.
//! A variable's value goes in as it is: tokens need no encoding.
//!
//! The work is linear in the request's size: each text is scanned once for
//! fingerprints, each looked up in a map. A request with more than
//! [`MAX_SECRETS`] distinct secrets is refused rather than written (a
//! variable per kind cannot carry that many different values anyway).
use std::collections::HashMap;

use crate::exchange::Request;
use crate::redact::Redactor;
use crate::resend::{fingerprints, needed_secrets, SecretKind};

/// The most distinct secrets (fingerprints) a command names as variables.
/// A client's request carries a handful (a token, a refresh token, a client
/// secret); beyond this the request is refused with a message that says so.
pub(crate) const MAX_SECRETS: usize = 4096;

/// The shell the command is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// sh, bash, zsh: single quotes, `$VAR`.
    Posix,
    /// PowerShell 7.3 or later: `curl.exe`, single quotes with `''`, `$env:VAR`.
    PowerShell,
}

/// A piece of an argument: literal text, or a secret's variable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(&'static str),
}

/// One argument made of pieces.
type Arg = Vec<Piece>;

fn text(s: impl Into<String>) -> Arg {
    vec![Piece::Text(s.into())]
}

/// The header fields curl does not copy: the framing and the connection are its own.
const NOT_COPIED: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// The curl command for `request`. With `reveal`, secrets the request
/// holds are written as they are; otherwise as variables. Fails for a body
/// that cannot be a command-line argument (binary, or a NUL byte) in
/// PowerShell, and for a body cut at the capture limit.
pub fn command(request: &Request, shell: Shell, reveal: bool) -> Result<String, String> {
    if request.body.truncated {
        return Err(format!(
            "the request body was cut at the capture limit ({} of {} bytes captured): \
             a command would not send the same request",
            request.body.bytes.len(),
            request.body.size
        ));
    }
    let mut request = request.clone();
    // The record holds the decoded body: the command sends it uncompressed.
    crate::exchange::coding::send_decoded(&mut request.headers, &mut request.body);
    if !reveal {
        // Fingerprints mark where the secrets were; they never leave this function.
        let mut ex = crate::exchange::Exchange {
            id: 0,
            started_at: time::OffsetDateTime::UNIX_EPOCH,
            duration_ms: 0.0,
            request,
            response: None,
            error: None,
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        };
        Redactor::new(b"copy as curl").exchange(&mut ex);
        request = ex.request;
    }
    let needed = needed_secrets(&request);
    // Each fingerprint becomes the variable of the kind it first appears as
    // (URL, then headers, then body).
    let mut secrets: HashMap<&str, SecretKind> = HashMap::new();
    for n in &needed {
        secrets.entry(n.fingerprint.as_str()).or_insert(n.kind);
    }
    if secrets.len() > MAX_SECRETS {
        return Err(format!(
            "the request holds {} distinct secrets; copy as curl names at most {MAX_SECRETS} \
             as environment variables (one per kind), so a command would not send the same request",
            secrets.len()
        ));
    }
    let split = |s: &str| pieces(s, &secrets);
    let mut args: Vec<Arg> = Vec::new();
    let method = request.method.to_ascii_uppercase();
    let has_body = !request.body.bytes.is_empty();
    match method.as_str() {
        "GET" if !has_body => {}
        "HEAD" if !has_body => args.push(text("--head")),
        _ => {
            args.push(text("--request"));
            args.push(text(method.clone()));
        }
    }
    args.push(text("--globoff"));
    args.push(text("--path-as-is"));
    for (name, value) in request.headers.iter() {
        if NOT_COPIED.contains(&name) {
            continue;
        }
        args.push(text("--header"));
        // `Name:` alone would remove the field; `Name;` sends it empty.
        if value.is_empty() {
            args.push(text(format!("{name};")));
        } else {
            let mut arg = text(format!("{name}: "));
            arg.extend(split(value));
            args.push(arg);
        }
    }
    for (default, when) in [
        ("user-agent", true),
        ("accept", true),
        ("content-type", has_body),
    ] {
        if when && request.headers.get(default).is_none() {
            args.push(text("--header"));
            args.push(text(format!("{default}:")));
        }
    }
    let mut piped = None;
    if has_body {
        match request.body.text().filter(|t| !t.contains('\0')) {
            Some(body) => {
                args.push(text("--data-raw"));
                args.push(split(body));
            }
            None if shell == Shell::Posix => {
                use base64::Engine as _;
                piped = Some(base64::engine::general_purpose::STANDARD.encode(&request.body.bytes));
                args.push(text("--data-binary"));
                args.push(text("@-"));
            }
            None => {
                return Err(
                    "the body is binary: PowerShell cannot pass it as an argument; copy it for a POSIX shell".into(),
                )
            }
        }
    }
    args.push(split(&request.url));
    Ok(render(shell, &args, piped.as_deref()))
}

/// Splits `value` at the fingerprints of known secrets, each becoming its
/// variable: one scan of `value`, one lookup per fingerprint found.
fn pieces(value: &str, secrets: &HashMap<&str, SecretKind>) -> Arg {
    let mut out = Vec::new();
    let mut copied = 0;
    for (start, end) in fingerprints(value) {
        let Some(kind) = value.get(start..end).and_then(|fp| secrets.get(fp)) else {
            continue;
        };
        let before = value.get(copied..start).unwrap_or_default();
        if !before.is_empty() {
            out.push(Piece::Text(before.to_string()));
        }
        out.push(Piece::Var(kind.env_var()));
        copied = end;
    }
    let rest = value.get(copied..).unwrap_or_default();
    if !rest.is_empty() || out.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    out
}

fn render(shell: Shell, args: &[Arg], piped: Option<&str>) -> String {
    let (program, continuation) = match shell {
        Shell::Posix => ("curl", " \\\n  "),
        Shell::PowerShell => ("curl.exe", " `\n  "),
    };
    let mut out = String::new();
    if let Some(b64) = piped {
        out.push_str(&format!("printf '%s' {} | base64 -d | ", posix_single(b64)));
    }
    out.push_str(program);
    let mut takes_value = false;
    for arg in args {
        let arg = &merged(arg);
        let quoted = match arg.as_slice() {
            [Piece::Text(t)] if bare(shell, t) => t.clone(),
            _ => match shell {
                Shell::Posix => posix(arg),
                Shell::PowerShell => powershell(arg),
            },
        };
        // An option and its value stay on one line; each option starts a new one.
        if takes_value {
            out.push(' ');
        } else {
            out.push_str(continuation);
        }
        out.push_str(&quoted);
        takes_value =
            matches!(arg.as_slice(), [Piece::Text(t)] if WITH_VALUE.contains(&t.as_str()));
    }
    out.push('\n');
    out
}

/// `arg` with adjacent literals joined.
fn merged(arg: &Arg) -> Arg {
    let mut out: Arg = Vec::with_capacity(arg.len());
    for piece in arg {
        match (out.last_mut(), piece) {
            (Some(Piece::Text(before)), Piece::Text(t)) => before.push_str(t),
            _ => out.push(piece.clone()),
        }
    }
    out
}

/// The options that take the next argument as their value.
const WITH_VALUE: &[&str] = &["--request", "--header", "--data-raw", "--data-binary"];

/// Whether `text` is one word that needs no quotes in `shell`: options,
/// methods, `@-`.
fn bare(shell: Shell, text: &str) -> bool {
    let safe = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.')
            || shell == Shell::Posix && c == '@'
    };
    !text.is_empty() && text.chars().all(safe) && !(shell == Shell::PowerShell && text == "-")
}

/// `'text'`, with each `'` written `'\''`: nothing inside is interpreted.
pub(crate) fn posix_single(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A POSIX word: single-quoted literals, `"$VAR"` for variables, adjacent.
/// An argument whose literals need no escaping in double quotes is written
/// as one double-quoted string, as people write it (`"Bearer $TOKEN"`).
fn posix(arg: &Arg) -> String {
    let plain = |t: &str| !t.contains(['$', '`', '"', '\\', '!']);
    let has_var = arg.iter().any(|p| matches!(p, Piece::Var(_)));
    if has_var
        && arg
            .iter()
            .all(|p| matches!(p, Piece::Var(_)) || matches!(p, Piece::Text(t) if plain(t)))
    {
        let mut out = String::from("\"");
        for (i, piece) in arg.iter().enumerate() {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => {
                    let next_extends = matches!(arg.get(i.saturating_add(1)), Some(Piece::Text(t)) if t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
                    if next_extends {
                        out.push_str(&format!("${{{v}}}"));
                    } else {
                        out.push_str(&format!("${v}"));
                    }
                }
            }
        }
        out.push('"');
        return out;
    }
    arg.iter()
        .map(|piece| match piece {
            Piece::Text(t) => posix_single(t),
            Piece::Var(v) => format!("\"${v}\""),
        })
        .collect()
}

/// Characters PowerShell reads as single quotes (it accepts the typographic ones too).
const PS_SINGLE_QUOTES: [char; 4] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}'];
/// Characters PowerShell reads as double quotes.
const PS_DOUBLE_QUOTES: [char; 4] = ['"', '\u{201C}', '\u{201D}', '\u{201E}'];

/// A PowerShell single-quoted string: no interpolation; each quote
/// character is doubled.
pub(crate) fn powershell_single(text: &str) -> String {
    let mut out = String::with_capacity(text.len().saturating_add(2));
    out.push('\'');
    for c in text.chars() {
        if PS_SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A PowerShell argument: a single-quoted literal; with variables, one
/// double-quoted string when its literals are safe there, else an
/// expression joining single-quoted literals and `$env:` variables.
fn powershell(arg: &Arg) -> String {
    let has_var = arg.iter().any(|p| matches!(p, Piece::Var(_)));
    if !has_var {
        let all: String = arg
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t.as_str()),
                Piece::Var(_) => None,
            })
            .collect();
        return powershell_single(&all);
    }
    let plain = |t: &str| !t.contains(['$', '`']) && !t.contains(PS_DOUBLE_QUOTES);
    if arg
        .iter()
        .all(|p| matches!(p, Piece::Var(_)) || matches!(p, Piece::Text(t) if plain(t)))
    {
        let mut out = String::from("\"");
        for piece in arg {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(&format!("${{env:{v}}}")),
            }
        }
        out.push('"');
        return out;
    }
    let parts: Vec<String> = arg
        .iter()
        .map(|piece| match piece {
            Piece::Text(t) => powershell_single(t),
            Piece::Var(v) => format!("$env:{v}"),
        })
        .collect();
    format!("({})", parts.join(" + "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Headers};
    use bytes::Bytes;

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/sync/history?extended=full&x[]=1".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(headers),
            body: Body::complete(Bytes::from(body.to_string())),
        }
    }

    #[test]
    fn secrets_become_variables_unless_revealed() {
        let r = request(
            &[
                ("authorization", "Bearer REAL-TOKEN"),
                ("content-type", "application/json"),
                ("user-agent", "App/1"),
            ],
            r#"{"refresh_token":"REAL-REFRESH","n":1}"#,
        );
        let posix = command(&r, Shell::Posix, false).unwrap();
        assert!(
            posix.contains(r#"--header "authorization: Bearer $TRAKT_ACCESS_TOKEN""#),
            "{posix}"
        );
        assert!(
            posix.contains(r#"'{"refresh_token":"'"$TRAKT_REFRESH_TOKEN"'","n":1}'"#),
            "{posix}"
        );
        assert!(
            !posix.contains("REAL") && !posix.contains("sha256:"),
            "{posix}"
        );
        let ps = command(&r, Shell::PowerShell, false).unwrap();
        assert!(ps.starts_with("curl.exe"), "{ps}");
        assert!(
            ps.contains(r#""authorization: Bearer ${env:TRAKT_ACCESS_TOKEN}""#),
            "{ps}"
        );
        assert!(
            ps.contains(r#"('{"refresh_token":"' + $env:TRAKT_REFRESH_TOKEN + '","n":1}')"#),
            "{ps}"
        );
        let revealed = command(&r, Shell::Posix, true).unwrap();
        assert!(
            revealed.contains("'authorization: Bearer REAL-TOKEN'"),
            "{revealed}"
        );
        // Curl's own defaults are removed only when the request had no such field.
        assert!(
            !posix.contains("'user-agent:'") && posix.contains("'accept:'"),
            "{posix}"
        );
    }

    #[test]
    fn powershell_quoting_doubles_quotes_and_interpolates_nothing() {
        assert_eq!(powershell_single("it's $HOME `n"), "'it''s $HOME `n'");
        assert_eq!(powershell_single("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(
            powershell(&vec![Piece::Text("a$b ".into()), Piece::Var("V")]),
            "('a$b ' + $env:V)"
        );
        assert_eq!(
            powershell(&vec![
                Piece::Text("say \u{201C}hi\u{201D} ".into()),
                Piece::Var("V")
            ]),
            "('say \u{201C}hi\u{201D} ' + $env:V)"
        );
        let r = request(&[("x-q", "it's \"q\"")], "{\"a\":\"it's $5\"}\n");
        let ps = command(&r, Shell::PowerShell, false).unwrap();
        assert!(ps.contains(r#"'x-q: it''s "q"'"#), "{ps}");
        assert!(ps.contains("'{\"a\":\"it''s $5\"}\n'"), "{ps}");
        assert!(ps.contains(" `\n  "), "{ps}");
    }

    #[test]
    fn posix_quoting_and_variable_names() {
        assert_eq!(posix_single("it's"), r"'it'\''s'");
        assert_eq!(
            posix(&vec![Piece::Var("V"), Piece::Text("_x".into())]),
            "\"${V}_x\""
        );
        assert_eq!(
            posix(&vec![Piece::Text("$".into()), Piece::Var("V")]),
            "'$'\"$V\""
        );
    }

    /// A request whose body holds `n` distinct secrets under five keys,
    /// about 32 bytes each (the issue's case: 1,600 in 50 KB).
    fn many_secrets(n: usize) -> Request {
        request(
            &[("content-type", "application/json")],
            &crate::exchange::testing::body_with_secrets(n),
        )
    }

    /// The fastest of three runs of copy as curl on `r`, and its command.
    fn fastest(r: &Request) -> (std::time::Duration, String) {
        let mut best = None;
        let mut command_text = String::new();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            command_text = command(r, Shell::Posix, false).unwrap();
            let took = t.elapsed();
            best = Some(best.map_or(took, |b: std::time::Duration| b.min(took)));
        }
        (best.unwrap(), command_text)
    }

    #[test]
    fn many_distinct_secrets_take_time_linear_in_the_body() {
        // The issue's request: 1,600 distinct secrets in a 50 KB body took
        // 55 s a click (the time grew with the cube of their number).
        let r = many_secrets(1600);
        assert!(
            (45_000..60_000).contains(&r.body.bytes.len()),
            "{}",
            r.body.bytes.len()
        );
        let started = std::time::Instant::now();
        let posix = command(&r, Shell::Posix, false).unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(posix.matches("$TRAKT_").count(), 1600);
        assert!(!posix.contains("sha256:"));
        // Ten times the secrets (and the body) take about ten times as long:
        // allow 30 (a quadratic pass would take 100, the old cubic one 1000).
        let (small, _) = fastest(&many_secrets(400));
        let (large, text) = fastest(&many_secrets(4000));
        assert_eq!(text.matches("$TRAKT_").count(), 4000);
        assert!(
            large < small * 30,
            "400 secrets: {small:?}; 4,000: {large:?}"
        );
    }

    #[test]
    fn more_distinct_secrets_than_the_cap_are_refused() {
        let r = many_secrets(MAX_SECRETS + 1);
        let refused = command(&r, Shell::Posix, false).unwrap_err();
        assert!(
            refused.contains("4097 distinct secrets") && refused.contains("at most 4096"),
            "{refused}"
        );
        // Revealed, the values are written as they are: nothing to name.
        assert!(command(&r, Shell::Posix, true).is_ok());
    }

    #[test]
    fn only_whole_fingerprints_become_variables_each_as_its_first_kind() {
        let r = request(
            &[("authorization", "Bearer sha256:0123abcd")],
            r#"{"token":"sha256:0123abcd","x":"sha256:0123abcdef","code":"sha256:99999999"}"#,
        );
        // Fingerprints already in a record are fingerprinted again when not
        // revealed; revealed, the record's own are the secrets named.
        let posix = command(&r, Shell::Posix, true).unwrap();
        assert!(
            posix.contains(r#""authorization: Bearer $TRAKT_ACCESS_TOKEN""#),
            "{posix}"
        );
        assert!(
            posix.contains(r#"'{"token":"'"$TRAKT_ACCESS_TOKEN"'","x":"sha256:0123abcdef","code":"'"$TRAKT_OAUTH_CODE"'"}'"#),
            "{posix}"
        );
    }

    #[test]
    fn empty_headers_methods_and_bodies_curl_would_change() {
        let mut r = request(&[("x-empty", "")], "");
        r.method = "GET".into();
        let posix = command(&r, Shell::Posix, false).unwrap();
        assert!(
            posix.contains("'x-empty;'") && !posix.contains("--request"),
            "{posix}"
        );
        r.body = Body::complete(Bytes::from_static(&[0xff, 0, 1]));
        let binary = command(&r, Shell::Posix, false).unwrap();
        assert!(
            binary.starts_with("printf '%s' '/wAB' | base64 -d | curl"),
            "{binary}"
        );
        assert!(
            binary.contains("--request GET") && binary.contains("--data-binary @-"),
            "{binary}"
        );
        assert!(command(&r, Shell::PowerShell, false).is_err());
        r.body.truncated = true;
        assert!(command(&r, Shell::Posix, false).is_err());
    }
}
