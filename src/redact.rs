//! Redaction of secrets before any log sink sees an exchange.
//!
//! Tokens, client secrets, refresh tokens, OAuth codes and Stremio's
//! `authKey` are replaced by a short fingerprint (`sha256:1a2b3c4d`): two
//! records that carry the same secret show the same fingerprint, so a user
//! can still see "the same token was sent twice" without the token itself.
//! Pure: works on [`Exchange`] values.
// No `arithmetic_side_effects` here: the scanner's index sums are bounded by a slice's length (at most isize::MAX), and checked forms of each would hide the logic.
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::string_slice))]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic))]

use std::borrow::Cow;

use bytes::Bytes;

use crate::exchange::{Body, Exchange, Headers};
use crate::spec::trakt::percent_decode;

/// JSON keys, form fields and query parameters whose values are secret.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_secret",
    "code",
    "device_code",
    "code_verifier",
    "id_token",
    "token",
    "authkey",
    "password",
];

/// Header fields whose whole value (after an auth scheme) is secret.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Header fields that carry URLs whose query may hold secrets.
const URL_HEADERS: &[&str] = &["location", "referer"];

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// A short, stable stand-in for a secret.
pub fn fingerprint(secret: &str) -> String {
    use std::fmt::Write as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let mut out = String::with_capacity(15);
    out.push_str("sha256:");
    for byte in digest.as_ref().iter().take(4) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Redacts every secret in the exchange, in place.
pub fn exchange(ex: &mut Exchange) {
    ex.request.url = url(&ex.request.url);
    headers(&mut ex.request.headers);
    body(&mut ex.request.body, &ex.request.headers);
    if let Some(response) = ex.response.as_mut() {
        headers(&mut response.headers);
        body(&mut response.body, &response.headers);
    }
    for fix in &mut ex.fixes {
        fix.before = header_line(&fix.before);
        fix.after = header_line(&fix.after);
    }
    for finding in &mut ex.findings {
        if let Cow::Owned(redacted) = text(&finding.message) {
            finding.message = redacted;
        }
    }
}

/// Redacts header values: credentials keep their scheme, URLs lose secret query values.
pub fn headers(headers: &mut Headers) {
    for (name, value) in &mut headers.0 {
        if SECRET_HEADERS.contains(&name.as_str()) {
            *value = credential(value);
        } else if URL_HEADERS.contains(&name.as_str()) {
            *value = url(value);
        }
    }
}

/// A `name: value` line (as fix records show headers), or any other text.
fn header_line(line: &str) -> String {
    match line.split_once(": ") {
        Some((name, value)) if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) => {
            format!("{name}: {}", credential(value))
        }
        _ => text(line).into_owned(),
    }
}

/// `Bearer abc` becomes `Bearer sha256:…`; cookies keep their names.
fn credential(value: &str) -> String {
    if value.contains('=') && !value.contains(' ') || value.contains("; ") {
        // A cookie list: name=value pairs.
        return value
            .split(';')
            .map(|pair| match pair.split_once('=') {
                Some((name, v)) => format!("{name}={}", fingerprint(v.trim())),
                None => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join(";");
    }
    match value.trim().split_once(char::is_whitespace) {
        Some((scheme, secret)) if !secret.trim().is_empty() => {
            format!("{scheme} {}", fingerprint(secret.trim()))
        }
        _ if value.is_empty() => String::new(),
        _ => fingerprint(value.trim()),
    }
}

/// Redacts secret query parameters of a URL (or of any `k=v&…` text after `?`).
pub fn url(raw: &str) -> String {
    let (head, fragment) = match raw.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (raw, None),
    };
    let mut out = match head.split_once('?') {
        Some((base, query)) => format!("{base}?{}", form(query)),
        None => head.to_string(),
    };
    if let Some(fragment) = fragment {
        out.push('#');
        // OAuth implicit flows put tokens in the fragment.
        out.push_str(&form(fragment));
    }
    out
}

/// Redacts `k=v&k=v` text (query strings, form bodies).
pub fn form(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value))
                if is_secret_key(&percent_decode(&key.replace('+', " "))) && !value.is_empty() =>
            {
                format!("{key}={}", fingerprint(value))
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Redacts a body: JSON-looking text keeps its exact bytes except secret
/// string values; form bodies lose secret field values. Binary bodies are
/// left alone (they are shown as base64 and carry no known secrets).
pub fn body(body: &mut Body, headers: &Headers) {
    let Some(raw) = body.text() else { return };
    let is_form = headers
        .get("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("x-www-form-urlencoded"));
    // Form fields may have percent-encoded names; the text scan catches the rest
    // (a JSON body sent with a form content type, as curl --data does).
    let redacted = if is_form {
        let form = form(raw);
        let redacted = text(&form).into_owned();
        (redacted != raw).then_some(redacted)
    } else {
        match text(raw) {
            Cow::Owned(redacted) => Some(redacted),
            Cow::Borrowed(_) => None,
        }
    };
    if let Some(redacted) = redacted {
        body.bytes = Bytes::from(redacted);
    }
}

/// Replaces the value of every secret key in `raw`, leaving all other bytes
/// as they were. It scans for `key` followed by `:` or `=` rather than
/// parsing, so it also works on truncated or invalid JSON, on JSON held in a
/// JSON string (`\"code\":\"…\"`) and on `key=value` text.
/// Text without secrets comes back borrowed, uncopied: most bodies have none.
pub fn text(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if KEY_FIRST_BYTES.get(usize::from(byte)) != Some(&true) {
            i += 1;
            continue;
        }
        let starts_word = !i
            .checked_sub(1)
            .and_then(|before| bytes.get(before))
            .is_some_and(|&b| is_word_byte(b));
        let matched = if starts_word {
            secret_key_at(bytes, i)
        } else {
            None
        };
        let Some(key_len) = matched else {
            i += 1;
            continue;
        };
        match secret_value_span(bytes, i + key_len) {
            Some((start, end)) if end > start => {
                let out = out.get_or_insert_with(|| String::with_capacity(raw.len()));
                out.push_str(&part(raw, copied, start));
                out.push_str(&fingerprint(&part(raw, start, end)));
                copied = end;
                i = end;
            }
            _ => i += key_len,
        }
    }
    match out {
        None => Cow::Borrowed(raw),
        Some(mut out) => {
            out.push_str(&part(raw, copied, raw.len()));
            Cow::Owned(out)
        }
    }
}

/// `raw[from..to]`. The scanner only stops on ASCII bytes, so these are
/// character boundaries; were one not, the bytes are kept (lossily) rather
/// than dropped or panicking.
fn part(raw: &str, from: usize, to: usize) -> Cow<'_, str> {
    match raw.get(from..to) {
        Some(text) => Cow::Borrowed(text),
        None => String::from_utf8_lossy(raw.as_bytes().get(from..to).unwrap_or_default()),
    }
}

/// The bytes a secret key can start with, either case: the scan skips every
/// other byte without comparing keys.
// Evaluated at build time: an index out of bounds would fail the build.
#[allow(clippy::indexing_slicing)]
const KEY_FIRST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut k = 0;
    while k < SECRET_KEYS.len() {
        let first = SECRET_KEYS[k].as_bytes()[0];
        table[first.to_ascii_lowercase() as usize] = true;
        table[first.to_ascii_uppercase() as usize] = true;
        k += 1;
    }
    table
};

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The length of the secret key that starts at `i`, if one does as a whole word.
fn secret_key_at(bytes: &[u8], i: usize) -> Option<usize> {
    // Bodies are scanned on every exchange: compare bytes, no UTF-8 checks.
    SECRET_KEYS.iter().map(|k| k.as_bytes()).find_map(|key| {
        let end = i.checked_add(key.len())?;
        let whole_word = !bytes.get(end).is_some_and(|&b| is_word_byte(b));
        (whole_word && bytes.get(i..end)?.eq_ignore_ascii_case(key)).then_some(key.len())
    })
}

/// After a key ending at `i`: the byte range of its value, for `"key": "v"`,
/// `\"key\":\"v\"` and `key=v`.
fn secret_value_span(bytes: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let escaped_quote =
        |at: usize| bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'"');
    if escaped_quote(i) {
        i += 2;
    } else if bytes.get(i) == Some(&b'"') {
        i += 1;
    }
    i = skip_ws(bytes, i);
    match bytes.get(i)? {
        b'=' => {
            let start = i + 1;
            let rest = bytes.get(start..).unwrap_or_default();
            let len = rest
                .iter()
                .position(|&b| {
                    b == b'&' || b == b'"' || b == b'\\' || b == b'#' || b.is_ascii_whitespace()
                })
                .unwrap_or(rest.len());
            Some((start, start + len))
        }
        b':' => {
            i = skip_ws(bytes, i + 1);
            if escaped_quote(i) {
                let start = i + 2;
                let rest = bytes.get(start..).unwrap_or_default();
                let len = rest
                    .windows(2)
                    .position(|w| w == b"\\\"")
                    .unwrap_or(rest.len());
                Some((start, start + len))
            } else if bytes.get(i) == Some(&b'"') {
                let end = string_end(bytes, i).unwrap_or(bytes.len());
                Some((i + 1, end))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Index of the closing quote of the JSON string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "a1b2c3d4e5f6secret";

    #[test]
    fn json_secrets_become_fingerprints_and_the_rest_is_untouched() {
        let raw = format!(
            r#"{{"code": "{TOKEN}", "client_id":"abc", "nested":{{"access_token":"{TOKEN}"}}, "n":1}}"#
        );
        let out = text(&raw);
        assert!(!out.contains(TOKEN), "{out}");
        assert!(out.contains(r#""client_id":"abc""#));
        assert!(out.contains(&format!(r#""code": "{}""#, fingerprint(TOKEN))));
        assert!(out.ends_with(r#", "n":1}"#));
    }

    #[test]
    fn text_without_secrets_is_not_copied_and_keys_match_in_any_case() {
        assert!(matches!(
            text(r#"{"movie":{"title":"Tron","ids":{"trakt":1}}}"#),
            Cow::Borrowed(_)
        ));
        let raw = format!(r#"{{"ACCESS_TOKEN":"{TOKEN}","Code":"{TOKEN}"}}"#);
        let out = text(&raw);
        assert!(matches!(out, Cow::Owned(_)));
        assert!(!out.contains(TOKEN), "{out}");
    }

    #[test]
    fn truncated_json_and_escapes_are_handled() {
        let raw = format!(r#"{{"refresh_token":"{TOKEN}\"x", "authKey":"{TOKEN}"#);
        let out = text(&raw);
        assert!(!out.contains(TOKEN), "{out}");
        assert_eq!(text(r#"{"a":"b\"","#), r#"{"a":"b\"","#);
    }

    #[test]
    fn json_inside_json_strings_and_plain_pairs() {
        let nested = format!(r#"{{"body":"{{\"refresh_token\":\"{TOKEN}\",\"n\":1}}"}}"#);
        let out = text(&nested);
        assert!(!out.contains(TOKEN), "{out}");
        assert!(out.contains(r#"\"n\":1"#), "{out}");
        let raw = format!("see https://x/cb?code={TOKEN}&state=1 and device_code: \"{TOKEN}\"");
        let pairs = text(&raw);
        assert!(
            !pairs.contains(TOKEN) && pairs.contains("state=1"),
            "{pairs}"
        );
        // Words that merely contain a key are left alone.
        assert_eq!(
            text(r#"{"codes":"x","barcode":"y"}"#),
            r#"{"codes":"x","barcode":"y"}"#
        );
    }

    #[test]
    fn urls_headers_and_forms() {
        let u = url(&format!(
            "https://www.strem.io/trakt/auth_cb?code={TOKEN}&state=x#access_token={TOKEN}"
        ));
        assert!(!u.contains(TOKEN) && u.contains("state=x"), "{u}");
        let mut h = Headers(vec![
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("location".into(), format!("https://x/?token={TOKEN}")),
            ("cookie".into(), format!("a={TOKEN}; b=2")),
            ("trakt-api-key".into(), "public".into()),
        ]);
        headers(&mut h);
        assert_eq!(
            h.get("authorization").unwrap(),
            format!("Bearer {}", fingerprint(TOKEN))
        );
        for (_, v) in h.iter() {
            assert!(!v.contains(TOKEN), "{v}");
        }
        assert_eq!(h.get("trakt-api-key"), Some("public"));
        assert_eq!(
            form(&format!("client_secret={TOKEN}&grant_type=x")),
            format!("client_secret={}&grant_type=x", fingerprint(TOKEN))
        );
        assert!(!form(&format!("client%5Fsecret={TOKEN}")).contains(TOKEN));
    }

    #[test]
    fn fix_records_of_secret_headers_are_redacted() {
        let mut ex: Exchange = serde_json::from_str(r#"{"id":1,"started_at":"2026-01-01T00:00:00Z","duration_ms":1,"request":{"method":"GET","url":"https://api.trakt.tv/"},"response":null}"#).unwrap();
        ex.fixes.push(crate::fix::FixRecord {
            rule: "header.authorization.scheme".into(),
            location: "authorization".into(),
            before: format!("authorization: bearer {TOKEN}"),
            after: format!("authorization: Bearer {TOKEN}"),
        });
        exchange(&mut ex);
        assert_eq!(
            ex.fixes[0].after,
            format!("authorization: Bearer {}", fingerprint(TOKEN))
        );
        assert!(!ex.fixes[0].before.contains(TOKEN));
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        assert_eq!(fingerprint("x"), fingerprint("x"));
        assert_ne!(fingerprint("x"), fingerprint("y"));
        assert_eq!(fingerprint("x").len(), "sha256:".len() + 8);
    }
}
