//! Content codings that could not be read: a compressed body cut or
//! corrupted on the way, a coding trakt-doctor does not decode, or one that
//! expands past what is captured. The body itself was decoded by
//! [`crate::exchange::coding`]; these rules say what its record lacks.
//!
//! Source: RFC 9110 §8.4 (Content-Encoding) and §12.5.3 (Accept-Encoding);
//! Trakt's and Stremio's answers are compressed by their CDN (Cloudflare)
//! whenever the client accepts a coding.

use super::{Finding, Rule, Scope, Severity};
use crate::exchange::coding::{DecodeProblem, ProblemKind};
use crate::exchange::{Body, Exchange, Request};

pub(crate) const RESPONSE_CORRUPT: Rule = Rule {
    id: "response.encoding.corrupt",
    severity: Severity::Warning,
    scope: Scope::Response,
    summary: "The answer's compressed body is cut short or not valid for its Content-Encoding.",
    why: "The client could not read this answer either: a gzip, br or zstd stream that ends early or breaks half-way means the answer was cut or corrupted between Trakt (or Stremio) and the client, by a dropped connection, a proxy or a CDN error. Whatever the status says, the client saw a broken body.",
    bad: "200 OK\nContent-Encoding: gzip\n\n<the first 40 bytes of a 300-byte gzip stream>",
    good: "200 OK\nContent-Encoding: gzip\n\n<a whole gzip stream>",
    autofix: None,
    source: "trakt-doctor's own reading: a body that does not decode by its Content-Encoding (RFC 9110 §8.4) is broken for any client",
};

pub(crate) const RESPONSE_UNSUPPORTED: Rule = Rule {
    id: "response.encoding.unsupported",
    severity: Severity::Info,
    scope: Scope::Response,
    summary: "The answer is coded in a way trakt-doctor cannot decode, or is a byte range of a coded body.",
    why: "trakt-doctor reads gzip, deflate, br and zstd; any other coding (or a Content-Range slice of a compressed body) is forwarded as it came but not recorded, so no check could read it.",
    bad: "200 OK\nContent-Encoding: compress",
    good: "200 OK\nContent-Encoding: gzip",
    autofix: None,
    source: "trakt-doctor itself: it decodes gzip, deflate, br and zstd, and no other coding",
};

pub(crate) const RESPONSE_TOO_LARGE: Rule = Rule {
    id: "response.encoding.too-large",
    severity: Severity::Info,
    scope: Scope::Response,
    summary: "The answer decodes to more than the capture limit, or expands far more than any real answer.",
    why: "Decoding stops at the capture limit (--capture-limit) and at 1024 times the compressed size, so a decompression bomb costs nothing; the record holds the start of the text, and checks that need the whole body skip it.",
    bad: "200 OK\nContent-Encoding: br\n\n<2 KB that decodes to 4 GB>",
    good: "200 OK\nContent-Encoding: br\n\n<2 KB that decodes to 40 KB>",
    autofix: None,
    source: "trakt-doctor itself: decoding stops at --capture-limit and at 1024 times the compressed size",
};

/// A request body whose Content-Encoding could not be decoded.
pub const REQUEST_UNDECODABLE: Rule = Rule {
    id: "body.encoding.undecodable",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "The request's compressed body is corrupt, cut, or coded in a way that cannot be decoded.",
    why: "A server reads a coded request body only if it can undo the coding; a broken gzip stream, or a coding it does not know, leaves it nothing to parse. Trakt's contract describes plain JSON bodies: sending them uncompressed is the safe way.",
    bad: "POST /scrobble/start\nContent-Encoding: compress\n\n<compressed bytes>",
    good: "POST /scrobble/start\nContent-Type: application/json\n\n{\"movie\":{\"ids\":{\"trakt\":1}},\"progress\":1.5}",
    autofix: None,
    source: "trakt-doctor's own reading: a coded body the server cannot decode leaves it nothing to parse (RFC 9110 §8.4), and the contract describes plain JSON bodies",
};

/// The content-coding rules, in catalogue order.
pub const RULES: &[&Rule] = &[
    &REQUEST_UNDECODABLE,
    &RESPONSE_CORRUPT,
    &RESPONSE_UNSUPPORTED,
    &RESPONSE_TOO_LARGE,
];

/// Why `body` could not be decoded whole, if it could not.
pub(crate) fn problem(body: &Body) -> Option<&DecodeProblem> {
    body.coding.as_deref()?.problem.as_ref()
}

/// The finding on a request whose coded body could not be decoded (one
/// that only ran past the capture limit is not linted, as any large body).
pub(crate) fn check_request(request: &Request, out: &mut Vec<Finding>) {
    if let Some(problem) = problem(&request.body).filter(|p| p.kind != ProblemKind::TooLarge) {
        out.push(REQUEST_UNDECODABLE.finding("/", problem.message.clone()));
    }
}

/// The finding on an answer whose coded body could not be decoded whole.
pub(crate) fn check_response(exchange: &Exchange) -> Option<Finding> {
    let problem = problem(&exchange.response.as_ref()?.body)?;
    let rule = match problem.kind {
        ProblemKind::Corrupt => &RESPONSE_CORRUPT,
        ProblemKind::Unsupported | ProblemKind::Partial => &RESPONSE_UNSUPPORTED,
        ProblemKind::TooLarge => &RESPONSE_TOO_LARGE,
    };
    Some(rule.finding("response body", problem.message.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::coding::decode_response;
    use crate::exchange::{testing, Headers, Request};
    use bytes::Bytes;

    fn answered_with(encoding: &str, wire: &'static [u8]) -> Exchange {
        let request = Request {
            method: "GET".into(),
            url: "https://api.trakt.tv/users/settings".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Body::default(),
        };
        let mut exchange = testing::answered(request, "");
        if let Some(response) = exchange.response.as_mut() {
            response.headers = Headers::from_pairs(&[("content-encoding", encoding)]);
            response.body = Body::complete(Bytes::from_static(wire));
            decode_response(response, 1 << 20);
        }
        exchange
    }

    #[test]
    fn each_problem_has_its_rule_and_a_readable_body_has_none() {
        let corrupt = check_response(&answered_with("gzip", b"\x1f\x8b\x08\x00garbage"));
        assert_eq!(
            corrupt.map(|f| f.rule.as_str().to_string()).as_deref(),
            Some("response.encoding.corrupt")
        );
        let unknown = check_response(&answered_with("compress", b"\x1f\x9d"));
        assert_eq!(unknown.map(|f| f.severity), Some(Severity::Info));
        let plain = check_response(&answered_with("identity", b"{}"));
        assert!(plain.is_none());
    }

    #[test]
    fn a_request_body_that_cannot_be_decoded_is_said_so_and_not_linted_as_json() {
        let mut request = Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/scrobble/start".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ]),
            body: Body::complete(Bytes::from_static(b"{\"progress\":1}")),
        };
        crate::exchange::coding::decode_request(&mut request, 1 << 20);
        let findings = crate::lint::check(&request, time::OffsetDateTime::UNIX_EPOCH);
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        assert!(rules.contains(&"body.encoding.undecodable"), "{rules:?}");
        assert!(!rules.contains(&"body.json.invalid"), "{rules:?}");
    }
}
