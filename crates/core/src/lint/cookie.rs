//! Cookies during the Trakt link flow: the cause users are most often told
//! to suspect ("clear your browser's cache and cookies"). What really goes
//! wrong with them is checked here, on the link flow's pages only (see
//! [`crate::spec::stremio::is_link_flow`]): a `Cookie` header too large for
//! the server, and a cookie name sent twice. Findings name cookies and the
//! site whose cookies to clear, never a cookie's value.
use super::{Finding, Rule, Scope, Severity, Subject};
use crate::spec::stremio::{cookie_site, is_link_flow};

/// nginx's default `large_client_header_buffers 4 8k`: one header line
/// (`Cookie: …` and its CRLF) must fit in 8192 bytes, or the answer is
/// 400 "Request Header Or Cookie Too Large".
pub(crate) const HEADER_LINE_LIMIT: usize = 8192;

pub(crate) const TOO_LARGE: Rule = Rule {
    id: "cookie.header.too-large",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "During the Trakt link, the browser sends a `Cookie` header too large for the server.",
    why: "nginx's default `large_client_header_buffers 4 8k` allows one header line of 8192 bytes: a longer `Cookie` line is answered 400 \"Request Header Or Cookie Too Large\" before the page (sign-in, authorize or Stremio's callback) runs, so the link cannot finish.",
    bad: "GET https://trakt.tv/oauth/authorize?…  Cookie: (9 KB of cookies for trakt.tv)",
    good: "clear the cookies of that one site (trakt.tv or strem.io), sign in again and link",
    autofix: None,
    source: "trakt-doctor's own reading: nginx's documented default (`large_client_header_buffers 4 8k`) answers 400 \"Request Header Or Cookie Too Large\" to a longer line, but neither Trakt's nor Stremio's servers are known to run with it",
};

pub(crate) const DUPLICATE: Rule = Rule {
    id: "cookie.name.duplicate",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "During the Trakt link, the browser sends the same cookie name twice.",
    why: "Two cookies with one name (set once for `trakt.tv` and once for `.trakt.tv`, or for two paths) reach the server together; it reads one of them, often the stale one, so the sign-in session or its CSRF check fails and the authorize page loops back to sign-in or answers 422.",
    bad: "Cookie: _traktsession=…; theme=dark; _traktsession=…",
    good: "Cookie: _traktsession=…; theme=dark",
    autofix: None,
    source: "trakt-doctor's own reading: RFC 6265 §5.4 sends both cookies of one name, and which one a server reads is up to it",
};

/// The cookie rules, in catalogue order.
pub const RULES: &[&Rule] = &[&TOO_LARGE, &DUPLICATE];

/// The `Cookie` fields of a request as one list (HTTP/2 sends one field per
/// cookie; a server behind an HTTP/1.1 hop sees them joined with `; `).
pub fn joined(subject: &Subject) -> String {
    subject
        .headers()
        .get_all("cookie")
        .collect::<Vec<_>>()
        .join("; ")
}

/// The cookie names that appear more than once, and whether their values differ.
pub fn repeated(cookies: &str) -> Vec<(String, bool)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out: Vec<(String, bool)> = Vec::new();
    for pair in cookies.split(';') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let value = value.trim();
        match seen.iter().find(|(n, _)| *n == name) {
            Some((_, first)) => {
                let conflicting = *first != value;
                match out.iter_mut().find(|(n, _)| n == name) {
                    Some(entry) => entry.1 |= conflicting,
                    None => out.push((name.to_string(), conflicting)),
                }
            }
            None => seen.push((name, value)),
        }
    }
    out
}

/// The cookie rules for a step of the Trakt link.
pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    if !is_link_flow(s.host(), s.path()) {
        return;
    }
    let cookies = joined(s);
    if cookies.is_empty() {
        return;
    }
    let site = cookie_site(s.host());
    // "Cookie: " + value + CRLF.
    let line = cookies.len().saturating_add(10);
    if line > HEADER_LINE_LIMIT {
        let count = cookies.split(';').filter(|p| !p.trim().is_empty()).count();
        out.push(TOO_LARGE.finding(
            "cookie",
            format!(
                "the Cookie header is {line} bytes ({count} cookies), over the 8192-byte header line nginx accepts by default: {} may answer 400 \"Request Header Or Cookie Too Large\"; clear the cookies of {site} (only that site)",
                s.host()
            ),
        ));
    }
    for (name, conflicting) in repeated(&cookies) {
        let how = if conflicting {
            "with different values"
        } else {
            "twice with the same value"
        };
        out.push(DUPLICATE.finding(
            "cookie",
            format!(
                "the cookie `{name}` is sent {how}: {} reads only one of them; clear the cookies of {site} (only that site)",
                s.host()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_found_with_whether_they_conflict() {
        assert_eq!(
            repeated("a=1; b=2; a=3; c=; c=; a=1"),
            [("a".to_string(), true), ("c".to_string(), false)]
        );
        assert!(repeated("a=1; b=2; flag; ; =x").is_empty());
    }
}
