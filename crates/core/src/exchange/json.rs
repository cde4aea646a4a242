//! The JSON Lines record of an [`Exchange`], written by hand for speed: the
//! same bytes as `serde_json::to_writer(out, exchange)`, with the bodies'
//! text escaped here instead of by serde_json.
//!
//! serde_json escapes a string one byte at a time; for a 1 MiB body that
//! was about a tenth of the proxy's CPU per large answer. [`write_str`]
//! copies 32 bytes at a time when none of them needs escaping (the usual
//! case outside JSON punctuation) and escapes exactly as serde_json does
//! otherwise. Every other field is still written by serde_json, so only the
//! record's outline is repeated here; the tests hold it byte for byte to
//! the derived `Serialize` (which stays the format's definition, for every
//! other serializer), so a field added to [`Exchange`] and not here fails them.

use base64::Engine as _;
use serde::Serialize;

use super::{Body, Exchange, Headers};

/// Appends `exchange` to `out` as one line of JSON (no newline), exactly
/// as serde_json serialises it.
pub fn write_exchange(out: &mut Vec<u8>, exchange: &Exchange) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"id\":");
    value(out, &exchange.id)?;
    out.extend_from_slice(b",\"started_at\":");
    time::serde::rfc3339::serialize(
        &exchange.started_at,
        &mut serde_json::Serializer::new(&mut *out),
    )?;
    field(out, "duration_ms", &exchange.duration_ms)?;

    let request = &exchange.request;
    out.extend_from_slice(b",\"request\":{\"method\":");
    value(out, &request.method)?;
    field(out, "url", &request.url)?;
    field(out, "http_version", &request.http_version)?;
    head_and_body(out, &request.headers, &request.body)?;

    out.extend_from_slice(b",\"response\":");
    match &exchange.response {
        None => out.extend_from_slice(b"null"),
        Some(response) => {
            out.extend_from_slice(b"{\"status\":");
            value(out, &response.status)?;
            field(out, "http_version", &response.http_version)?;
            head_and_body(out, &response.headers, &response.body)?;
        }
    }
    if let Some(error) = &exchange.error {
        field(out, "error", error)?;
    }
    field(out, "findings", &exchange.findings)?;
    field(out, "fixes", &exchange.fixes)?;
    field(out, "diagnosis", &exchange.diagnosis)?;
    if let Some(replay_of) = exchange.replay_of {
        field(out, "replay_of", &replay_of)?;
    }
    out.push(b'}');
    Ok(())
}

fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    serde_json::to_writer(out, value)
}

/// `,"name":value`: a member after the first (`name` is a plain key, nothing to escape).
fn field<T: Serialize + ?Sized>(out: &mut Vec<u8>, name: &str, v: &T) -> serde_json::Result<()> {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    value(out, v)
}

/// `,"headers":{..},"body":..}`: the end of a request or response object.
fn head_and_body(out: &mut Vec<u8>, headers: &Headers, body: &Body) -> serde_json::Result<()> {
    field(out, "headers", headers)?;
    out.extend_from_slice(b",\"body\":");
    write_body(out, body)?;
    out.push(b'}');
    Ok(())
}

/// A body as `Body`'s `Serialize` writes it inside a record: `null` when
/// empty, else its size, whether it was cut, its text or base64, and how it
/// was coded on the wire.
fn write_body(out: &mut Vec<u8>, body: &Body) -> serde_json::Result<()> {
    if body.is_empty() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    out.extend_from_slice(b"{\"size\":");
    value(out, &body.size)?;
    if body.truncated {
        out.extend_from_slice(b",\"truncated\":true");
    }
    match body.text() {
        Some(text) => {
            out.extend_from_slice(b",\"text\":");
            write_str(out, text);
        }
        None => {
            out.extend_from_slice(b",\"base64\":");
            write_str(
                out,
                &base64::engine::general_purpose::STANDARD.encode(&body.bytes),
            );
        }
    }
    if let Some(coding) = body.coding.as_deref() {
        field(out, "encoding", &coding.encoding)?;
        field(out, "wire_size", &coding.wire_size)?;
        if let Some(problem) = &coding.problem {
            field(out, "decode_error", problem)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// Appends `text` as a JSON string, escaped byte for byte as serde_json
/// escapes it (`\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`, other control
/// bytes as `\u00xx`, nothing else).
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.len() < SHORT {
        // serde_json itself: as fast on short text, and the same bytes.
        let _ = serde_json::to_writer(out, text);
    } else {
        write_str_by_blocks(out, text);
    }
}

/// [`write_str`] for long text: 32 bytes at a time.
fn write_str_by_blocks(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len().saturating_add(2));
    out.push(b'"');
    let (blocks, rest) = bytes.as_chunks::<32>();
    for block in blocks {
        // Branch-free over the block, so the compiler can test it whole.
        if block.iter().fold(false, |any, &b| any | needs_escape(b)) {
            block.iter().for_each(|&b| push_escaped(out, b));
        } else {
            out.extend_from_slice(block);
        }
    }
    rest.iter().for_each(|&b| push_escaped(out, b));
    out.push(b'"');
}

/// Text shorter than this is left to serde_json (a request's JSON body).
const SHORT: usize = 1024;

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// How serde_json escapes each byte: 0 for none, `u` for `\u00xx`, else
/// the letter after the backslash.
// Evaluated while compiling: an index out of range fails the build, it
// cannot panic at run time.
#[allow(clippy::indexing_slicing)]
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

fn push_escaped(out: &mut Vec<u8>, byte: u8) {
    // A table, not a match: the bytes of JSON text alternate unpredictably.
    match ESCAPE.get(usize::from(byte)).copied().unwrap_or(0) {
        0 => out.push(byte),
        b'u' => {
            out.extend_from_slice(b"\\u00");
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
        letter => out.extend_from_slice(&[b'\\', letter]),
    }
}

/// The lower-case hex digit of `nibble` (0..=15), as serde_json writes it.
fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 {
        b'0'.wrapping_add(nibble)
    } else {
        b'a'.wrapping_add(nibble.wrapping_sub(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{testing, Request, Response};
    use crate::report::{Diagnosis, Finding, FixRecord, RuleId, Severity};
    use bytes::Bytes;

    fn slow(text: &str) -> Vec<u8> {
        serde_json::to_vec(text).unwrap()
    }

    fn fast(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_str(&mut out, text);
        let mut by_blocks = Vec::new();
        write_str_by_blocks(&mut by_blocks, text);
        assert_eq!(out, by_blocks);
        out
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..=0x7f).map(char::from).collect();
        let long_clean = "x".repeat(1024 * 1024);
        let json_like =
            r#"{"title":"Dune","ids":{"trakt":1},"overview":"a \"spice\" \\ story"}"#.repeat(500);
        // An escape at every position around the 32-byte blocks' edges.
        let mut edges = Vec::new();
        for at in 0..70 {
            for c in ['"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é'] {
                let mut s = "a".repeat(70);
                s.insert(at, c);
                edges.push(s);
            }
        }
        let unicode = "Amélie — 君の名は。 🎬 \u{2028}\u{feff}".repeat(40);
        let mut cases = vec![
            String::new(),
            "a".into(),
            "\"".into(),
            every_ascii.clone(),
            every_ascii.repeat(3),
            long_clean,
            json_like,
            unicode,
        ];
        cases.extend(edges);
        for case in &cases {
            assert_eq!(fast(case), slow(case), "{:?}", &case[..case.len().min(80)]);
        }
    }

    /// An exchange with every field set, so a field the writer misses shows.
    fn full(request_body: Body, response_body: Body) -> Exchange {
        let request = Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/scrobble/start?q=\"x\"".into(),
            http_version: "HTTP/2".into(),
            headers: Headers::from_pairs(&[
                ("Content-Type", "application/json"),
                ("x-a", "1"),
                ("x-a", "2\u{1}"),
            ]),
            body: request_body,
        };
        let mut exchange = testing::answered(request, "");
        exchange.id = 42;
        exchange.duration_ms = 12.345_678;
        exchange.response = Some(Response {
            status: 201,
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[("content-type", "text/plain")]),
            body: response_body,
        });
        exchange.error = Some("the upstream hung up \"mid-body\"".into());
        exchange.replay_of = Some(7);
        exchange.findings = vec![Finding {
            rule: RuleId::from_static("body.test.rule"),
            severity: Severity::Warning,
            message: "a \"quoted\" message".into(),
            location: "/movie/ids".into(),
            fixed: true,
            contradicted: true,
            fix: None,
        }];
        exchange.fixes = vec![FixRecord {
            rule: RuleId::from_static("header.test.rule"),
            location: "trakt-api-version".into(),
            before: "".into(),
            after: "2".into(),
        }];
        exchange.diagnosis = Some(Diagnosis {
            summary: "Trakt said no".into(),
            causes: vec!["a cause".into()],
            remedies: vec!["a remedy\n".into()],
        });
        exchange
    }

    fn record(exchange: &Exchange) -> String {
        let mut out = Vec::new();
        write_exchange(&mut out, exchange).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_are_byte_identical_to_the_derived_serialisation() {
        let limit = 1024 * 1024;
        let at_limit = Bytes::from(vec![b'y'; limit]);
        let bodies = [
            Body::default(),
            Body::complete(Bytes::from_static(b"{\"a\":\"b\\\\c\"}\n")),
            Body::complete(Bytes::from_static(&[0xff, 0x00, 0x10, b'"'])),
            Body::complete(at_limit.clone()),
            Body {
                bytes: at_limit,
                size: limit as u64 + 5,
                truncated: true,
                coding: None,
            },
            // Cut inside a multi-byte character: not UTF-8, so base64.
            Body {
                bytes: Bytes::from_static(&[b'a', 0xc3]),
                size: 3,
                truncated: true,
                coding: None,
            },
            // Nothing captured of a body that had bytes.
            Body {
                bytes: Bytes::new(),
                size: 10,
                truncated: true,
                coding: None,
            },
            // Decoded from gzip, and one that could not be decoded whole.
            Body {
                bytes: Bytes::from_static(b"{\"error\":\"x\"}"),
                size: 13,
                truncated: false,
                coding: Some(Box::new(super::super::coding::Coding {
                    encoding: "gzip, br".into(),
                    wire_size: 40,
                    problem: None,
                })),
            },
            Body {
                bytes: Bytes::from_static(b"{\"err"),
                size: 6,
                truncated: true,
                coding: Some(Box::new(super::super::coding::Coding {
                    encoding: "gzip".into(),
                    wire_size: 20,
                    problem: Some(super::super::coding::DecodeProblem {
                        kind: super::super::coding::ProblemKind::Corrupt,
                        message: "cut \"on\" the way".into(),
                    }),
                })),
            },
        ];
        for request_body in &bodies {
            for response_body in &bodies {
                let exchange = full(request_body.clone(), response_body.clone());
                assert_eq!(record(&exchange), serde_json::to_string(&exchange).unwrap());
            }
        }
        // The optional parts left out, as the derive leaves them out.
        let mut bare = full(Body::default(), Body::default());
        bare.response = None;
        bare.error = None;
        bare.replay_of = None;
        bare.findings.clear();
        bare.fixes.clear();
        bare.diagnosis = None;
        assert_eq!(record(&bare), serde_json::to_string(&bare).unwrap());
        let mut odd = bare.clone();
        odd.duration_ms = f64::NAN;
        assert_eq!(record(&odd), serde_json::to_string(&odd).unwrap());
    }

    #[test]
    fn records_read_back_as_the_same_exchange() {
        let exchange = full(
            Body::complete(Bytes::from_static(b"\"\\\x01")),
            Body::complete(Bytes::from_static(&[0xff, 0xfe])),
        );
        let back: Exchange = serde_json::from_str(&record(&exchange)).unwrap();
        assert_eq!(back.request, exchange.request);
        assert_eq!(back.response, exchange.response);
        assert_eq!(back.replay_of, Some(7));

        let mut coded = Body::complete(Bytes::from_static(b"{}"));
        coded.coding = Some(Box::new(super::super::coding::Coding {
            encoding: "br".into(),
            wire_size: 6,
            problem: Some(super::super::coding::DecodeProblem {
                kind: super::super::coding::ProblemKind::TooLarge,
                message: "stopped".into(),
            }),
        }));
        let exchange = full(Body::default(), coded);
        let back: Exchange = serde_json::from_str(&record(&exchange)).unwrap();
        assert_eq!(back.response, exchange.response);
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::exchange::{testing, Request};
    use bytes::Bytes;

    #[test]
    #[ignore = "timing, run with --release --ignored --nocapture"]
    fn small_records_are_not_slower() {
        let request = Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/scrobble/start".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("content-type", "application/json"),
                ("trakt-api-version", "2"),
                ("trakt-api-key", "[redacted]"),
                ("authorization", "Bearer [redacted]"),
                ("user-agent", "trakt-doctor-bench/1.0"),
                ("host", "api.trakt.tv"),
            ]),
            body: Body::complete(Bytes::from_static(br#"{"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28,"slug":"guardians-of-the-galaxy-2014","imdb":"tt2015381","tmdb":118340}},"progress":1.25,"app_version":"1.0","app_date":"2014-09-22"}"#)),
        };
        let mut exchange = testing::answered(
            request,
            r#"{"id":3373536619,"action":"start","progress":1.25,"sharing":{"twitter":false},"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28}}}"#,
        );
        if let Some(r) = exchange.response.as_mut() {
            r.headers = Headers::from_pairs(&[
                ("content-type", "application/json"),
                ("content-length", "160"),
                ("x-ratelimit", "{\"name\":\"UNAUTHED_API_GET_LIMIT\"}"),
            ]);
        }
        let big = {
            let mut e = exchange.clone();
            if let Some(r) = e.response.as_mut() {
                r.body = Body::complete(Bytes::from(vec![b'x'; 1 << 20]));
            }
            e
        };
        let big_json = {
            let mut e = exchange.clone();
            if let Some(r) = e.response.as_mut() {
                let item = r#"{"type":"movie","movie":{"title":"Dune: Part Two","year":2024,"ids":{"trakt":1,"slug":"dune-part-two-2024"}},"overview":"Paul Atreides unites with Chani and the Fremen while seeking revenge against the conspirators who destroyed his family."},"#;
                r.body = Body::complete(Bytes::from(item.repeat((1 << 20) / item.len())));
            }
            e
        };
        for (name, ex, n) in [
            ("small", &exchange, 200_000u32),
            ("1 MiB", &big, 200),
            ("1 MiB JSON", &big_json, 200),
        ] {
            for _ in 0..2 {
                let t = std::time::Instant::now();
                for _ in 0..n {
                    let mut out = Vec::with_capacity(2048);
                    serde_json::to_writer(&mut out, ex).unwrap();
                    std::hint::black_box(&out);
                }
                let derived = t.elapsed() / n;
                let t = std::time::Instant::now();
                for _ in 0..n {
                    let mut out = Vec::with_capacity(2048);
                    write_exchange(&mut out, ex).unwrap();
                    std::hint::black_box(&out);
                }
                let by_hand = t.elapsed() / n;
                println!("{name}: derived {derived:?}, by hand {by_hand:?}");
            }
        }
    }
}
