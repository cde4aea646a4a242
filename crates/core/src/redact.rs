//! Redaction of secrets before any log sink sees an exchange.
//!
//! Tokens, client secrets, refresh tokens, OAuth codes, Stremio's `authKey`
//! and URL credentials are replaced by a short fingerprint
//! (`sha256:1a2b3c4d`): two records that carry the same secret show the same
//! fingerprint, so a user can still see "the same token was sent twice"
//! without the token itself. A fingerprint is HMAC-SHA256 under a key that
//! never leaves this machine (the shell keeps it beside the CA and hands it
//! in as a [`Redactor`]), so a shared log cannot be used to test guesses.
//! Pure: works on [`Exchange`] values and strings.
// No `arithmetic_side_effects` here: the scanners' index sums are bounded by a
// slice's length (at most isize::MAX); checked forms of each would hide the logic.
#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::exchange::{Body, Exchange, Headers};
use crate::report::Diagnosis;
use crate::text::percent_decode;

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

fn is_secret_key(key: &[u8]) -> bool {
    SECRET_KEYS
        .iter()
        .any(|k| k.as_bytes().eq_ignore_ascii_case(key))
}

/// Redacts with one fingerprint key. Cloning is cheap (clones share their
/// recent fingerprints).
#[derive(Clone)]
pub struct Redactor {
    key: Hmac<Sha256>,
    recent: Arc<Mutex<Vec<(String, String)>>>,
}

/// How many secrets [`Redactor::fingerprint`] remembers: a client sends the
/// same token on every call, and the session and the log writer each
/// fingerprint it, so a few spare an HMAC on nearly every exchange.
const RECENT: usize = 16;

/// Longer secrets are not remembered (bounds the memory kept).
const RECENT_LONGEST: usize = 512;

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself is never printed.
        f.write_str("Redactor { .. }")
    }
}

impl Default for Redactor {
    /// A redactor with a fresh random key: fingerprints match within this
    /// process only. The shell gives the per-install key instead.
    fn default() -> Self {
        Redactor::random()
    }
}

impl Redactor {
    /// A redactor keyed with `key` (the per-install key, or a test key).
    pub fn new(key: &[u8]) -> Self {
        // HMAC takes a key of any length (longer ones are hashed first), so
        // the all-zero fallback is never used; it only spares a panic path.
        let key = Hmac::<Sha256>::new_from_slice(key)
            .unwrap_or_else(|_| <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default()));
        Redactor {
            key,
            recent: Arc::default(),
        }
    }

    /// A redactor with a key of this process only, from the 128 random
    /// bits std seeds its hash maps with (the core reads no system source
    /// itself; the proxy gives the per-install key, the browser page its
    /// own random bytes).
    pub fn random() -> Self {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut key = Vec::with_capacity(32);
        for part in 0u8..4 {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u8(part);
            key.extend_from_slice(&hasher.finish().to_le_bytes());
        }
        Redactor::new(&key)
    }

    /// A short, stable stand-in for a secret: the first 32 bits of its
    /// HMAC-SHA256 under this redactor's key.
    pub fn fingerprint(&self, secret: &str) -> String {
        if secret.len() > RECENT_LONGEST {
            return self.sign(secret);
        }
        // Held in memory only, as the proxy holds the requests themselves;
        // a poisoned lock still holds whole entries (each is pushed whole).
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, fingerprint)) = recent.iter().find(|(s, _)| s == secret) {
            return fingerprint.clone();
        }
        let fingerprint = self.sign(secret);
        if recent.len() >= RECENT {
            recent.remove(0);
        }
        recent.push((secret.to_string(), fingerprint.clone()));
        fingerprint
    }

    fn sign(&self, secret: &str) -> String {
        use std::fmt::Write as _;
        let mut mac = self.key.clone();
        mac.update(secret.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(15);
        out.push_str("sha256:");
        for byte in tag.iter().take(4) {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    /// Redacts every secret in the exchange, in place: its URL, headers,
    /// bodies and fixes, and every text trakt-doctor wrote about it (the
    /// error, the findings, the diagnosis), since those quote URLs and bodies.
    pub fn exchange(&self, ex: &mut Exchange) {
        // Without a query, a fragment or credentials there is nothing to
        // redact in a URL (see `url`): most are left as they are, uncopied.
        if ex.request.url.contains(['?', '#', '@']) {
            ex.request.url = self.url(&ex.request.url);
        }
        self.headers(&mut ex.request.headers);
        self.body(&mut ex.request.body, &ex.request.headers);
        if let Some(response) = ex.response.as_mut() {
            self.headers(&mut response.headers);
            self.body(&mut response.body, &response.headers);
        }
        for fix in &mut ex.fixes {
            fix.before = self.header_line(&fix.before);
            fix.after = self.header_line(&fix.after);
            self.prose_in_place(&mut fix.location);
        }
        for finding in &mut ex.findings {
            self.prose_in_place(&mut finding.message);
            finding.location.edit(|text| self.prose_in_place(text));
        }
        if let Some(error) = ex.error.as_mut() {
            self.prose_in_place(error);
        }
        if let Some(diagnosis) = ex.diagnosis.as_mut() {
            self.diagnosis(diagnosis);
        }
    }

    /// Redacts a diagnosis: its summary, causes and remedies quote URLs,
    /// errors and response bodies.
    pub fn diagnosis(&self, diagnosis: &mut Diagnosis) {
        self.prose_in_place(&mut diagnosis.summary);
        for line in diagnosis
            .causes
            .iter_mut()
            .chain(diagnosis.remedies.iter_mut())
        {
            self.prose_in_place(line);
        }
    }

    fn prose_in_place(&self, line: &mut String) {
        if let Cow::Owned(redacted) = self.prose(line) {
            *line = redacted;
        }
    }

    /// Redacts free text (an error, a finding, a diagnosis): every URL in it
    /// as [`Redactor::url`] does, then every secret `key=value` or `"key": "value"`.
    pub(crate) fn prose<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        let urls = self.urls_in(raw);
        match self.text(&urls) {
            Cow::Owned(redacted) => Cow::Owned(redacted),
            Cow::Borrowed(_) => urls,
        }
    }

    /// Redacts each `scheme://…` run of `raw` (up to white space or a quote).
    fn urls_in<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut from = 0;
        while let Some(found) = raw.get(from..).and_then(|rest| rest.find("://")) {
            let separator = from + found;
            let start = part(raw, 0, separator)
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                .map_or(0, |(i, c)| i + c.len_utf8())
                .max(copied);
            let mut end = part(raw, separator, raw.len())
                .find(|c: char| c.is_whitespace() || "\"'<>`".contains(c))
                .map_or(raw.len(), |i| separator + i);
            // Punctuation that ends a sentence ends the URL: "… on https://x/?a=b: timeout".
            while end > separator + 3
                && raw
                    .get(..end)
                    .is_some_and(|head| head.ends_with([':', ',', ';', '.', ')', '!']))
            {
                end -= 1;
            }
            let found = part(raw, start, end);
            let redacted = self.url(&found);
            if redacted != found {
                let out = out.get_or_insert_with(|| String::with_capacity(raw.len()));
                out.push_str(&part(raw, copied, start));
                out.push_str(&redacted);
                copied = end;
            }
            from = end.max(separator + 3);
        }
        match out {
            None => Cow::Borrowed(raw),
            Some(mut out) => {
                out.push_str(&part(raw, copied, raw.len()));
                Cow::Owned(out)
            }
        }
    }

    /// Redacts header values: credentials keep their scheme, URLs lose secret query values.
    pub fn headers(&self, headers: &mut Headers) {
        for (name, value) in &mut headers.0 {
            if SECRET_HEADERS.contains(&name.as_str()) {
                *value = self.credential(value);
            } else if URL_HEADERS.contains(&name.as_str()) {
                *value = self.url(value);
            }
        }
    }

    /// A `name: value` line (as fix records show headers), or any other text.
    fn header_line(&self, line: &str) -> String {
        match line.split_once(": ") {
            Some((name, value)) if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) => {
                format!("{name}: {}", self.credential(value))
            }
            _ => self.prose(line).into_owned(),
        }
    }

    /// `Bearer abc` becomes `Bearer sha256:…`; cookies keep their names.
    fn credential(&self, value: &str) -> String {
        if value.contains('=') && !value.contains(' ') || value.contains("; ") {
            // A cookie list: name=value pairs.
            return value
                .split(';')
                .map(|pair| match pair.split_once('=') {
                    Some((name, v)) => format!("{name}={}", self.fingerprint(v.trim())),
                    None => pair.to_string(),
                })
                .collect::<Vec<_>>()
                .join(";");
        }
        match value.trim().split_once(char::is_whitespace) {
            Some((scheme, secret)) if !secret.trim().is_empty() => {
                format!("{scheme} {}", self.fingerprint(secret.trim()))
            }
            _ if value.is_empty() => String::new(),
            _ => self.fingerprint(value.trim()),
        }
    }

    /// Redacts the credentials (`user:password@`) and the secret query
    /// parameters of a URL (or of any `k=v&…` text after `?`).
    pub fn url(&self, raw: &str) -> String {
        let raw = self.userinfo(raw);
        let (head, fragment) = match raw.split_once('#') {
            Some((h, f)) => (h, Some(f)),
            None => (raw.as_ref(), None),
        };
        let mut out = match head.split_once('?') {
            Some((base, query)) => format!("{base}?{}", self.form(query)),
            None => head.to_string(),
        };
        if let Some(fragment) = fragment {
            out.push('#');
            // OAuth implicit flows put tokens in the fragment.
            out.push_str(&self.form(fragment));
        }
        out
    }

    /// `scheme://user:password@host/…` with the user and password replaced by one fingerprint.
    fn userinfo<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        if !raw.contains("://") {
            return Cow::Borrowed(raw);
        }
        match userinfo_parts(raw) {
            Some((head, userinfo, rest)) => {
                Cow::Owned(format!("{head}{}@{rest}", self.fingerprint(userinfo)))
            }
            None => Cow::Borrowed(raw),
        }
    }

    /// Redacts `k=v&k=v` text (query strings, form bodies).
    pub fn form(&self, query: &str) -> String {
        query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, value))
                    if is_secret_key(percent_decode(&key.replace('+', " ")).as_bytes())
                        && !value.is_empty() =>
                {
                    format!("{key}={}", self.fingerprint(value))
                }
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Redacts a body: JSON-looking text keeps its exact bytes except secret
    /// string values; form bodies lose secret field values. Binary bodies are
    /// left alone (they are shown as base64 and carry no known secrets).
    pub fn body(&self, body: &mut Body, headers: &Headers) {
        let Some(raw) = body.text() else { return };
        let is_form = headers
            .get("content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("x-www-form-urlencoded"));
        // Form fields may have percent-encoded names; the text scan catches the rest
        // (a JSON body sent with a form content type, as curl --data does).
        let redacted = if is_form {
            let form = self.form(raw);
            let redacted = self.text(&form).into_owned();
            (redacted != raw).then_some(redacted)
        } else {
            match self.text(raw) {
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
    /// JSON string (`\"code\":\"…\"`) and on `key=value` text. A JSON key
    /// written with escapes (`"access\u005ftoken"`) is decoded before it is judged.
    /// Text without secrets comes back borrowed, uncopied: most bodies have none.
    pub fn text<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        // Without a backslash no key can be written with escapes, and a
        // value is only ever replaced after a key followed by `:` or `=`:
        // only the words just before those need a look (a 1 MiB answer is
        // read at memchr's speed, not byte by byte).
        if memchr::memchr(b'\\', raw.as_bytes()).is_none() {
            self.scan_before_separators(raw)
        } else {
            self.scan_every_byte(raw)
        }
    }

    /// [`text`](Self::text) for text with a backslash: every byte is a
    /// possible start of a key, written plainly or with escapes.
    fn scan_every_byte<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        let bytes = raw.as_bytes();
        let mut out = Rewrite::new(raw);
        let mut i = 0;
        while let Some(&byte) = bytes.get(i) {
            if KEY_FIRST_BYTES.get(usize::from(byte)) != Some(&true) {
                i += 1;
                continue;
            }
            let after_word = i
                .checked_sub(1)
                .and_then(|before| bytes.get(before))
                .is_some_and(|&b| is_word_byte(b));
            let key_end = if byte == b'"' {
                escaped_secret_key(raw, i)
            } else if !after_word {
                secret_key_at(bytes, i).map(|len| i + len)
            } else {
                None
            };
            let Some(key_end) = key_end else {
                i += 1;
                continue;
            };
            match secret_value_span(bytes, key_end) {
                Some((start, end)) if end > start => {
                    out.replace(start, end, self);
                    i = end;
                }
                _ => i = key_end.max(i + 1),
            }
        }
        out.finish()
    }

    /// [`text`](Self::text) for text without a backslash. Only a key that
    /// starts a word and ends just before a `:` or `=` (past an optional
    /// quote and white space) has a value to replace, so the word before
    /// each separator is the one place to look; separators inside a value
    /// already replaced are passed over, as the byte-by-byte scan does.
    fn scan_before_separators<'a>(&self, raw: &'a str) -> Cow<'a, str> {
        let bytes = raw.as_bytes();
        let mut out = Rewrite::new(raw);
        let mut next = 0;
        for separator in memchr::memchr2_iter(b':', b'=', bytes) {
            if separator < next {
                continue;
            }
            let mut key_end = separator;
            while key_end > next && bytes.get(key_end - 1).is_some_and(u8::is_ascii_whitespace) {
                key_end -= 1;
            }
            if key_end > next && bytes.get(key_end - 1) == Some(&b'"') {
                key_end -= 1;
            }
            let mut word = key_end;
            while word > next
                && key_end - word <= LONGEST_KEY
                && bytes.get(word - 1).is_some_and(|&b| is_word_byte(b))
            {
                word -= 1;
            }
            let starts_word = !word
                .checked_sub(1)
                .and_then(|before| bytes.get(before))
                .is_some_and(|&b| is_word_byte(b));
            // The whole word must be a key (what `secret_key_at` finds at its
            // start, since a quote, space or separator follows it).
            let is_key = bytes.get(word..key_end).is_some_and(is_secret_key);
            if !starts_word || !is_key {
                continue;
            }
            if let Some((start, end)) = secret_value_span(bytes, key_end).filter(|(s, e)| e > s) {
                out.replace(start, end, self);
                next = end;
            }
        }
        out.finish()
    }
}

/// The longest secret key, in bytes.
const LONGEST_KEY: usize = {
    let mut longest = 0;
    let mut k = 0;
    while k < SECRET_KEYS.len() {
        // Evaluated at build time: an index out of bounds would fail the build.
        #[allow(clippy::indexing_slicing)]
        let len = SECRET_KEYS[k].len();
        if len > longest {
            longest = len;
        }
        k += 1;
    }
    longest
};

/// A text being redacted: borrowed until the first secret is replaced, then
/// copied up to each secret and its fingerprint put in its place.
struct Rewrite<'a> {
    raw: &'a str,
    out: Option<String>,
    copied: usize,
}

impl<'a> Rewrite<'a> {
    fn new(raw: &'a str) -> Self {
        Self {
            raw,
            out: None,
            copied: 0,
        }
    }

    /// Replaces `raw[start..end]` (after what was copied so far) by its fingerprint.
    fn replace(&mut self, start: usize, end: usize, redactor: &Redactor) {
        let raw = self.raw;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(raw.len()));
        out.push_str(&part(raw, self.copied, start));
        out.push_str(&redactor.fingerprint(&part(raw, start, end)));
        self.copied = end;
    }

    fn finish(self) -> Cow<'a, str> {
        match self.out {
            None => Cow::Borrowed(self.raw),
            Some(mut out) => {
                out.push_str(&part(self.raw, self.copied, self.raw.len()));
                Cow::Owned(out)
            }
        }
    }
}

/// `raw[from..to]`. The scanners only stop on ASCII bytes, so these are
/// character boundaries; were one not, the bytes are kept (lossily) rather
/// than dropped or panicking.
fn part(raw: &str, from: usize, to: usize) -> Cow<'_, str> {
    match raw.get(from..to) {
        Some(text) => Cow::Borrowed(text),
        None => String::from_utf8_lossy(raw.as_bytes().get(from..to).unwrap_or_default()),
    }
}

/// Whether `text` is a fingerprint as [`Redactor::fingerprint`] writes it
/// (`sha256:` and eight lower-case hex digits): what a redacted record holds
/// in place of a secret.
pub(crate) fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 8
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A target's parts around its userinfo: `http://user:pw@host/` gives
/// (`http://`, `user:pw`, `host/`), `user:pw@host:443` gives (``, `user:pw`, `host:443`).
fn userinfo_parts(target: &str) -> Option<(&str, &str, &str)> {
    let authority_start = target.find("://").map_or(0, |s| s + 3);
    let (head, rest) = target.split_at_checked(authority_start)?;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest.get(..authority_len)?.rfind('@')?;
    Some((head, rest.get(..at)?, rest.get(at + 1..)?))
}

/// A request target without its credentials, for messages: `user:pw@host:443`
/// (a CONNECT target) becomes `host:443`, `http://user:pw@host/` becomes `http://host/`.
pub fn without_userinfo(target: &str) -> Cow<'_, str> {
    match userinfo_parts(target) {
        Some((head, _, rest)) => Cow::Owned(format!("{head}{rest}")),
        None => Cow::Borrowed(target),
    }
}

/// The longest a secret key can be with every byte written as `\uXXXX`.
const LONGEST_ESCAPED_KEY: usize = 6 * 16;

/// When the JSON string opening at `open` is a secret key written with
/// escapes, the index of its closing quote.
fn escaped_secret_key(raw: &str, open: usize) -> Option<usize> {
    let bytes = raw.as_bytes();
    let mut i = open + 1;
    let mut escaped = false;
    while i <= open + LONGEST_ESCAPED_KEY {
        let Some(&b) = bytes.get(i) else {
            break;
        };
        match b {
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'"' if escaped => {
                let key: String = serde_json::from_str(raw.get(open..=i)?).ok()?;
                return is_secret_key(key.as_bytes()).then_some(i);
            }
            // A key is letters, digits and `_` (escaped or not): most strings stop here at once.
            b if is_word_byte(b) => i += 1,
            _ => return None,
        }
    }
    None
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
    // A quote may open a key written with escapes.
    table[b'"' as usize] = true;
    table
};

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The length of the secret key that starts at `i`, if one does as a whole word.
fn secret_key_at(bytes: &[u8], i: usize) -> Option<usize> {
    // Bodies are scanned on every exchange: compare bytes, no UTF-8 checks.
    let first = bytes.get(i)?.to_ascii_lowercase();
    SECRET_KEYS.iter().map(|k| k.as_bytes()).find_map(|key| {
        // Keys are lower case: most start with another letter than this word.
        if key.first() != Some(&first) {
            return None;
        }
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

    fn r() -> Redactor {
        Redactor::new(b"a test key")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Looking only before separators changes nothing: the same text
        /// comes out as from the byte-by-byte scan, for text without backslashes.
        #[test]
        fn scan_before_separators_matches_the_byte_by_byte_scan(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "access_token", "ACCESS_TOKEN", "Refresh_Token", "client_secret", "code",
                "Code", "device_code", "code_verifier", "id_token", "token", "authKey",
                "AUTHKEY", "password", "barcode", "codes", "xtoken", "_code", "tokens",
                "\"", ":", "=", "&", "?", " ", ",", "{", "}", "[", "]", "\n", "_", "-",
                "abc123", "x", "é", "😀", "null", "1", "Bearer",
            ]), 0..48)
        ) {
            let text: String = pieces.concat();
            let redactor = r();
            proptest::prop_assert_eq!(
                redactor.scan_before_separators(&text),
                redactor.scan_every_byte(&text)
            );
        }
    }

    #[test]
    fn a_large_body_without_secrets_is_not_copied_and_one_secret_at_its_end_is_found() {
        let mut body = "x".repeat(1 << 20);
        assert!(matches!(r().text(&body), Cow::Borrowed(_)));
        body.push_str(&format!(r#","access_token":"{TOKEN}""#));
        let out = r().text(&body);
        assert!(!out.contains(TOKEN));
        assert!(out.contains(&r().fingerprint(TOKEN)));
    }

    const TOKEN: &str = "a1b2c3d4e5f6secret";

    #[test]
    fn a_url_without_query_fragment_or_credentials_has_nothing_to_redact() {
        // What lets `exchange` leave such URLs uncopied.
        for url in [
            "https://api.trakt.tv/scrobble/start",
            "https://api.trakt.tv/users/code/token",
            "http://127.0.0.1:8080/oauth/token/access_token=x",
            "https://api.strem.io/api/getUser",
        ] {
            assert_eq!(r().url(url), url);
        }
    }

    #[test]
    fn remembered_fingerprints_are_the_ones_computed_afresh() {
        let (remembering, clone) = (r(), r().clone());
        let secrets: Vec<String> = (0..3 * RECENT).map(|i| format!("token-{i}")).collect();
        for round in 0..3 {
            for secret in secrets.iter().take(RECENT + round) {
                let fresh = Redactor::new(b"a test key").fingerprint(secret);
                assert_eq!(remembering.fingerprint(secret), fresh, "{secret}");
                assert_eq!(clone.fingerprint(secret), fresh, "{secret}");
            }
        }
        assert_ne!(
            r().fingerprint("x"),
            Redactor::new(b"another key").fingerprint("x")
        );
        let long = "y".repeat(RECENT_LONGEST + 1);
        assert_eq!(r().fingerprint(&long), remembering.fingerprint(&long));
        assert!(remembering.recent.lock().map_or(0, |r| r.len()) <= RECENT);
    }

    #[test]
    fn json_secrets_become_fingerprints_and_the_rest_is_untouched() {
        let raw = format!(
            r#"{{"code": "{TOKEN}", "client_id":"abc", "nested":{{"access_token":"{TOKEN}"}}, "n":1}}"#
        );
        let out = r().text(&raw);
        assert!(!out.contains(TOKEN), "{out}");
        assert!(out.contains(r#""client_id":"abc""#));
        assert!(out.contains(&format!(r#""code": "{}""#, r().fingerprint(TOKEN))));
        assert!(out.ends_with(r#", "n":1}"#));
    }

    #[test]
    fn text_without_secrets_is_not_copied_and_keys_match_in_any_case() {
        assert!(matches!(
            r().text(r#"{"movie":{"title":"Tron","ids":{"trakt":1}}}"#),
            Cow::Borrowed(_)
        ));
        let raw = format!(r#"{{"ACCESS_TOKEN":"{TOKEN}","Code":"{TOKEN}"}}"#);
        let out = r().text(&raw);
        assert!(matches!(out, Cow::Owned(_)));
        assert!(!out.contains(TOKEN), "{out}");
    }

    #[test]
    fn truncated_json_and_escapes_are_handled() {
        let raw = format!(r#"{{"refresh_token":"{TOKEN}\"x", "authKey":"{TOKEN}"#);
        let out = r().text(&raw);
        assert!(!out.contains(TOKEN), "{out}");
        assert_eq!(r().text(r#"{"a":"b\"","#), r#"{"a":"b\"","#);
    }

    #[test]
    fn json_inside_json_strings_and_plain_pairs() {
        let nested = format!(r#"{{"body":"{{\"refresh_token\":\"{TOKEN}\",\"n\":1}}"}}"#);
        let out = r().text(&nested);
        assert!(!out.contains(TOKEN), "{out}");
        assert!(out.contains(r#"\"n\":1"#), "{out}");
        let raw = format!("see https://x/cb?code={TOKEN}&state=1 and device_code: \"{TOKEN}\"");
        let pairs = r().text(&raw);
        assert!(
            !pairs.contains(TOKEN) && pairs.contains("state=1"),
            "{pairs}"
        );
        // Words that merely contain a key are left alone.
        assert_eq!(
            r().text(r#"{"codes":"x","barcode":"y"}"#),
            r#"{"codes":"x","barcode":"y"}"#
        );
    }

    #[test]
    fn urls_headers_and_forms() {
        let u = r().url(&format!(
            "https://www.strem.io/trakt/auth_cb?code={TOKEN}&state=x#access_token={TOKEN}"
        ));
        assert!(!u.contains(TOKEN) && u.contains("state=x"), "{u}");
        let mut h = Headers(vec![
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("location".into(), format!("https://x/?token={TOKEN}")),
            ("cookie".into(), format!("a={TOKEN}; b=2")),
            ("trakt-api-key".into(), "public".into()),
        ]);
        r().headers(&mut h);
        assert_eq!(
            h.get("authorization").unwrap(),
            format!("Bearer {}", r().fingerprint(TOKEN))
        );
        for (_, v) in h.iter() {
            assert!(!v.contains(TOKEN), "{v}");
        }
        assert_eq!(h.get("trakt-api-key"), Some("public"));
        assert_eq!(
            r().form(&format!("client_secret={TOKEN}&grant_type=x")),
            format!("client_secret={}&grant_type=x", r().fingerprint(TOKEN))
        );
        assert!(!r()
            .form(&format!("client%5Fsecret={TOKEN}"))
            .contains(TOKEN));
    }

    #[test]
    fn fix_records_of_secret_headers_are_redacted() {
        let mut ex: Exchange = serde_json::from_str(r#"{"id":1,"started_at":"2026-01-01T00:00:00Z","duration_ms":1,"request":{"method":"GET","url":"https://api.trakt.tv/"},"response":null}"#).unwrap();
        ex.fixes.push(crate::report::FixRecord {
            rule: crate::report::RuleId::from_static("header.authorization.scheme"),
            location: "authorization".into(),
            before: format!("authorization: bearer {TOKEN}"),
            after: format!("authorization: Bearer {TOKEN}"),
        });
        r().exchange(&mut ex);
        assert_eq!(
            ex.fixes[0].after,
            format!("authorization: Bearer {}", r().fingerprint(TOKEN))
        );
        assert!(!ex.fixes[0].before.contains(TOKEN));
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        assert_eq!(r().fingerprint("x"), r().fingerprint("x"));
        assert_ne!(r().fingerprint("x"), r().fingerprint("y"));
        assert_eq!(r().fingerprint("x").len(), "sha256:".len() + 8);
    }

    #[test]
    fn fingerprints_are_the_first_bits_of_hmac_sha256() {
        // The known answer of HMAC-SHA256 (Wikipedia's example): the same
        // fingerprints as before the switch from ring, so old logs still match.
        let redactor = Redactor::new(b"key");
        assert_eq!(
            redactor.fingerprint("The quick brown fox jumps over the lazy dog"),
            "sha256:f7bc83f4"
        );
        // A key longer than SHA-256's block is hashed first, as RFC 2104 says.
        let long = Redactor::new(&[0xaa; 131]);
        assert_eq!(
            long.fingerprint("Test Using Larger Than Block-Size Key - Hash Key First"),
            "sha256:60e43159"
        );
    }

    #[test]
    fn fingerprints_are_keyed_and_are_not_the_plain_hash() {
        use sha2::Digest as _;
        let plain = Sha256::digest(TOKEN.as_bytes());
        let plain: String = plain[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(r().fingerprint(TOKEN), format!("sha256:{plain}"));
        assert_ne!(
            Redactor::new(b"another key").fingerprint(TOKEN),
            r().fingerprint(TOKEN)
        );
        assert_ne!(
            Redactor::random().fingerprint(TOKEN),
            Redactor::random().fingerprint(TOKEN)
        );
        assert!(!format!("{:?}", r()).contains("test key"));
    }

    #[test]
    fn keys_written_with_json_escapes_are_secret_keys() {
        for raw in [
            format!(r#"{{"access\u005ftoken":"{TOKEN}"}}"#),
            format!(r#"{{"\u0063ode" : "{TOKEN}", "n":1}}"#),
            format!(r#"{{"refresh\u005Ftoken":"{TOKEN}""#),
        ] {
            let out = r().text(&raw);
            assert!(!out.contains(TOKEN), "{raw} -> {out}");
        }
        // An escaped key that is not secret, and escapes inside values, stay as they were.
        let raw = r#"{"ti\u0074le":"a\u0062c","code_x":"\u0001"}"#;
        assert_eq!(r().text(raw), raw);
    }

    #[test]
    fn errors_diagnoses_and_urls_in_prose_are_redacted() {
        let mut ex: Exchange = serde_json::from_str(r#"{"id":1,"started_at":"2026-01-01T00:00:00Z","duration_ms":1,"request":{"method":"GET","url":"https://www.strem.io/trakt/watched.json?token=a1b2c3d4e5f6secret"},"response":null}"#).unwrap();
        ex.error = Some(format!(
            "trakt-doctor gave up on https://www.strem.io/trakt/watched.json?access%5Ftoken={TOKEN}: no response"
        ));
        ex.diagnosis = Some(Diagnosis {
            summary: format!("No answer from https://u:{TOKEN}@www.strem.io/: x"),
            causes: vec![format!("Trakt says: {{\"refresh_token\":\"{TOKEN}\"}}")],
            remedies: vec![format!("see \"https://x/cb#code={TOKEN}\"")],
        });
        r().exchange(&mut ex);
        let json = serde_json::to_string(&ex).unwrap();
        assert!(!json.contains(TOKEN), "{json}");
        let error = ex.error.unwrap_or_default();
        assert!(error.ends_with(": no response"), "{error}");
        assert!(error.contains(&r().fingerprint(TOKEN)), "{error}");
    }

    #[test]
    fn credentials_in_urls_and_targets() {
        let u = r().url(&format!("http://bob:{TOKEN}@example.test:8080/x?y=1"));
        assert_eq!(
            u,
            format!(
                "http://{}@example.test:8080/x?y=1",
                r().fingerprint(&format!("bob:{TOKEN}"))
            )
        );
        assert_eq!(
            r().url("http://example.test/a@b"),
            "http://example.test/a@b"
        );
        assert_eq!(
            without_userinfo(&format!("bob:{TOKEN}@api.trakt.tv:443")),
            "api.trakt.tv:443"
        );
        assert_eq!(
            without_userinfo(&format!("http://bob:{TOKEN}@h/p?q=@")),
            "http://h/p?q=@"
        );
        assert_eq!(without_userinfo("api.trakt.tv:443"), "api.trakt.tv:443");
    }
}
