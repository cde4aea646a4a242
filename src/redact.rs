//! Redaction of secrets before any log sink sees an exchange.
//!
//! Tokens, client secrets, refresh tokens, OAuth codes and Stremio's
//! `authKey` are replaced by a short fingerprint (`sha256:1a2b3c4d`): two
//! records that carry the same secret show the same fingerprint, so a user
//! can still see "the same token was sent twice" without the token itself.
//! Pure: works on [`Exchange`] values.

use bytes::Bytes;

use crate::exchange::{Body, Exchange, Headers};

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
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// Header fields that carry URLs whose query may hold secrets.
const URL_HEADERS: &[&str] = &["location", "referer"];

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// A short, stable stand-in for a secret.
pub fn fingerprint(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let hex: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
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
        fix.before = text(&fix.before);
        fix.after = text(&fix.after);
    }
    for finding in &mut ex.findings {
        finding.message = text(&finding.message);
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
            Some((key, value)) if is_secret_key(&percent_decode(key)) && !value.is_empty() => {
                format!("{key}={}", fingerprint(value))
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' => {
                match (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Redacts a body: JSON-looking text keeps its exact bytes except secret
/// string values; form bodies lose secret field values. Binary bodies are
/// left alone (they are shown as base64 and carry no known secrets).
pub fn body(body: &mut Body, headers: &Headers) {
    let Some(raw) = body.text() else { return };
    let is_form = headers
        .get("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("x-www-form-urlencoded"));
    let redacted = if is_form { form(raw) } else { text(raw) };
    if redacted != raw {
        body.bytes = Bytes::from(redacted);
    }
}

/// Replaces the string value of every secret JSON key in `raw`, leaving all
/// other bytes as they were. Works on truncated or invalid JSON too, since it
/// only scans for `"key" : "value"`.
pub fn text(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let Some(key_end) = string_end(bytes, i) else { break };
        let key = &raw[i + 1..key_end];
        let mut j = skip_ws(bytes, key_end + 1);
        if j < bytes.len() && bytes[j] == b':' && is_secret_key(key) {
            j = skip_ws(bytes, j + 1);
            if j < bytes.len() && bytes[j] == b'"' {
                let value_end = string_end(bytes, j).unwrap_or(bytes.len());
                let value = &raw[j + 1..value_end];
                if !value.is_empty() {
                    out.push_str(&raw[copied..j + 1]);
                    out.push_str(&fingerprint(value));
                    copied = value_end;
                }
                i = value_end + 1;
                continue;
            }
        }
        i = key_end + 1;
    }
    out.push_str(&raw[copied.min(raw.len())..]);
    out
}

/// Index of the closing quote of the JSON string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
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
    fn truncated_json_and_escapes_are_handled() {
        let out = text(&format!(r#"{{"refresh_token":"{TOKEN}\"x", "authKey":"{TOKEN}"#));
        assert!(!out.contains(TOKEN), "{out}");
        assert_eq!(text(r#"{"a":"b\"","#), r#"{"a":"b\"","#);
    }

    #[test]
    fn urls_headers_and_forms() {
        let u = url(&format!("https://www.strem.io/trakt/auth_cb?code={TOKEN}&state=x#access_token={TOKEN}"));
        assert!(!u.contains(TOKEN) && u.contains("state=x"), "{u}");
        let mut h = Headers(vec![
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("location".into(), format!("https://x/?token={TOKEN}")),
            ("cookie".into(), format!("a={TOKEN}; b=2")),
            ("trakt-api-key".into(), "public".into()),
        ]);
        headers(&mut h);
        assert_eq!(h.get("authorization").unwrap(), format!("Bearer {}", fingerprint(TOKEN)));
        for (_, v) in h.iter() {
            assert!(!v.contains(TOKEN), "{v}");
        }
        assert_eq!(h.get("trakt-api-key"), Some("public"));
        assert_eq!(form(&format!("client_secret={TOKEN}&grant_type=x")), format!("client_secret={}&grant_type=x", fingerprint(TOKEN)));
        assert!(!form(&format!("client%5Fsecret={TOKEN}")).contains(TOKEN));
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        assert_eq!(fingerprint("x"), fingerprint("x"));
        assert_ne!(fingerprint("x"), fingerprint("y"));
        assert_eq!(fingerprint("x").len(), "sha256:".len() + 8);
    }
}
