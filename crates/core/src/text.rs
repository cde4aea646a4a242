//! Text for machines and people, with no knowledge of Trakt: URL
//! splitting, percent-decoding and query pairs, edit distance (for "did you
//! mean"), and dates and durations as the findings word them.
//!
//! The bottom layer: it depends on no other module of the crate.
use std::borrow::Cow;

use time::{Duration, OffsetDateTime};

/// The lower-cased host and the path (without query) of a URL. Slices of it
/// unless the host has capitals: every exchange asks this several times.
pub(crate) fn host_and_path(url: &str) -> (Cow<'_, str>, &str) {
    let (host, path_and_query) = split_url(url);
    let path = path_and_query
        .split(['?', '#'])
        .next()
        .unwrap_or(path_and_query);
    (lowercase(host), path)
}

/// `text` in ASCII lower case, copied only when it has capitals.
pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The host (IPv6 in brackets) and the path with its query of an absolute
/// URL, as slices of it: `https://api.trakt.tv:443/a?b=1` gives
/// `("api.trakt.tv", "/a?b=1")`. Cheaper than parsing a URI, which the
/// inspection of every exchange would otherwise do several times.
pub fn split_url(url: &str) -> (&str, &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return ("", url);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.find(']') {
        Some(close) if authority.starts_with('[') => authority.get(..=close).unwrap_or(authority),
        _ => authority.split(':').next().unwrap_or(authority),
    };
    let path = if path.is_empty() || !path.starts_with('/') {
        "/"
    } else {
        path
    };
    (host, path)
}

/// The host, path and query of a URL in the plain form the proxy records
/// (`https://host[:port]/path[?query]`, only characters a URI parser takes
/// as they are), read without building an `http::Uri`; `None` for anything
/// else, which then goes through the parser as before.
pub(crate) fn plain_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let slash = rest.find('/')?;
    let (authority, path_and_query) = rest.split_at(slash);
    let (host, port) = authority.split_once(':').unwrap_or((authority, "0"));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let port_ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let path_ok = url.len() < 8192
        && path_and_query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b));
    if !(host_ok && port_ok && path_ok) {
        return None;
    }
    Some(match path_and_query.split_once('?') {
        Some((path, query)) => (host, path, Some(query)),
        None => (host, path_and_query, None),
    })
}

/// Levenshtein distance (for "did you mean" and key typos).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = Vec::with_capacity(previous.len());
    for (i, ca) in a.chars().enumerate() {
        current.clear();
        current.push(i.saturating_add(1));
        for (j, cb) in b.iter().enumerate() {
            let diagonal = previous.get(j).copied().unwrap_or(usize::MAX);
            let above = previous
                .get(j.saturating_add(1))
                .copied()
                .unwrap_or(usize::MAX);
            let left = current.last().copied().unwrap_or(usize::MAX);
            let cost = if ca == *cb {
                diagonal
            } else {
                diagonal.min(above).min(left).saturating_add(1)
            };
            current.push(cost);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().unwrap_or(0)
}

/// Decodes `%XX` escapes (lossy on invalid UTF-8).
pub(crate) fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let mut ahead = bytes.clone();
            if let (Some(hi), Some(lo)) = (ahead.next().and_then(hex), ahead.next().and_then(hex)) {
                out.push(hi.wrapping_shl(4) | lo);
                bytes = ahead;
                continue;
            }
        }
        out.push(b);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a query string into decoded pairs (`+` is a space).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// When a token issued at `created_at` (Unix seconds) with `expires_in`
/// seconds runs out. Both come from an upstream answer: a creation time
/// outside the calendar is no answer, and a lifetime that runs past the end
/// (or the start) of the calendar saturates there instead of overflowing.
pub(crate) fn expiry(created_at: i64, expires_in: i64) -> Option<OffsetDateTime> {
    let created = OffsetDateTime::from_unix_timestamp(created_at).ok()?;
    Some(created.saturating_add(Duration::seconds(expires_in)))
}

/// How long from `earlier` to `later` (negative when `later` comes first).
pub(crate) fn between(earlier: OffsetDateTime, later: OffsetDateTime) -> Duration {
    // Cannot overflow: two representable dates (years ±9999) are at most
    // about 6.3e11 s apart, far inside Duration's i64 seconds.
    #[allow(clippy::arithmetic_side_effects)]
    let d = later - earlier;
    d
}

/// "3 h 12 min", "2 days 4 h" (the magnitude: the caller says "ago" or "in").
pub(crate) fn human(d: Duration) -> String {
    let minutes = d.whole_minutes().abs();
    if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{} days {} h", minutes / (24 * 60), (minutes / 60) % 24)
    }
}

/// A moment in ISO 8601 UTC to the second: `2026-11-22T10:00:00Z`.
pub(crate) fn iso(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A moment as every finding and diagnosis shows it: ISO 8601 UTC, then how
/// far it is from `now` (`2026-11-22T10:00:00Z, 3 days 0 h ago`). `now` is
/// passed in (the exchange's time), so the text is the same on replay.
pub(crate) fn when(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = between(now, at);
    let relative = if d.whole_minutes() == 0 {
        "less than a minute ".to_string() + if d.is_negative() { "ago" } else { "from now" }
    } else if d.is_negative() {
        format!("{} ago", human(d))
    } else {
        format!("in {}", human(d))
    };
    format!("{}, {relative}", iso(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_path() {
        assert_eq!(
            split_url("https://api.trakt.tv/sync/history?page=2"),
            ("api.trakt.tv", "/sync/history?page=2")
        );
        assert_eq!(split_url("http://user@[::1]:8080/x#f"), ("[::1]", "/x#f"));
        assert_eq!(
            split_url("https://Api.Trakt.tv:8443"),
            ("Api.Trakt.tv", "/")
        );
        assert_eq!(split_url("/relative"), ("", "/relative"));
        assert_eq!(
            host_and_path("https://API.trakt.tv/oauth/token?x=1#y"),
            (Cow::Borrowed("api.trakt.tv"), "/oauth/token")
        );
    }

    /// The shortcut reads what the URI parser reads, and leaves to it every
    /// URL it is not sure of.
    #[test]
    fn plain_urls_split_as_the_uri_parser_splits_them() {
        for url in [
            "https://api.trakt.tv/scrobble/start",
            "https://API.Trakt.tv:443/movies/trending?page=2&limit=10",
            "http://127.0.0.1:8080/sync/history?type=movies%20x&x=a+b",
            "https://api.trakt.tv/search/movie?query=tron:legacy@1982",
            "https://api.trakt.tv/?",
            "https://api.trakt.tv/a?b?c",
        ] {
            let (host, path, query) = plain_url(url).expect(url);
            let uri: http::Uri = url.parse().expect(url);
            assert_eq!(Some(host), uri.host(), "{url}");
            assert_eq!(path, uri.path(), "{url}");
            assert_eq!(query, uri.query(), "{url}");
        }
        for url in [
            "https://api.trakt.tv",
            "https://api.trakt.tv?x=1",
            "https://user:pw@api.trakt.tv/x",
            "https://[::1]:8080/x",
            "https://api.trakt.tv:abc/x",
            "https://api.trakt.tv/a b",
            "https://api.trakt.tv/a#frag",
            "https://api.trakt.tv/\"quoted\"",
            "/relative",
            "ftp://api.trakt.tv/x",
        ] {
            assert_eq!(plain_url(url), None, "{url}");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("history", "histroy"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn moments_read_as_iso_utc_and_how_long_ago() {
        use time::macros::datetime;
        let now = datetime!(2026-11-25 10:00 UTC);
        assert_eq!(
            when(datetime!(2026-11-22 10:00 UTC), now),
            "2026-11-22T10:00:00Z, 3 days 0 h ago"
        );
        assert_eq!(
            when(datetime!(2026-11-25 13:12 +02:00), now),
            "2026-11-25T11:12:00Z, in 1 h 12 min"
        );
        assert_eq!(
            when(datetime!(2026-11-25 09:59:30 UTC), now),
            "2026-11-25T09:59:30Z, less than a minute ago"
        );
        // The ends of the calendar print without panicking.
        let _ = when(time::PrimitiveDateTime::MIN.assume_utc(), now);
        let _ = when(time::PrimitiveDateTime::MAX.assume_utc(), now);
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("%E2%82%ACab"), "€ab");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%20b"), "a b");
    }
}
