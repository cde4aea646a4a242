//! Content codings: how a body travelled (`Content-Encoding: gzip`, `br`,
//! `zstd`, `deflate`, stacked as `gzip, br`) and reading it back as the text
//! every check, sink and view works on.
//!
//! Trakt and Stremio sit behind a CDN that compresses every answer for a
//! client that accepts one, which every real client does; without decoding,
//! the record held base64 of compressed bytes: no diagnosis could read
//! Trakt's error, and the redactor could not see the tokens inside.
//!
//! Decoding is streaming and bounded: it stops at the capture limit of
//! decoded bytes and at [`MAX_EXPANSION`] times the compressed size, so a
//! decompression bomb costs at most one capture's worth of work. The
//! compressed bytes themselves are never kept: what cannot be decoded is
//! dropped, and the record says why ([`DecodeProblem`]).

use std::io::{BufRead, BufReader, Read};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Body, Headers, Request, Response};

/// How far a body may expand before decoding stops: gzip and deflate cannot
/// go past about 1032 to 1, and JSON from Trakt or Stremio compresses some
/// 5 to 20 to 1, so anything beyond is a bomb, not an answer.
pub(crate) const MAX_EXPANSION: usize = 1024;

/// Decoded bytes always allowed, whatever the ratio: a tiny compressed body
/// (an empty JSON array in a 20-byte gzip) is never suspect.
const EXPANSION_FLOOR: usize = 64 * 1024;

/// zstd windows larger than this are refused (RFC 9659: a decoder of
/// `Content-Encoding: zstd` need not accept more than 8 MB).
const ZSTD_MAX_WINDOW: u64 = 8 * 1024 * 1024;

/// How a recorded body travelled when it was content-coded. The body's
/// bytes are the decoded content; this keeps what the wire carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    /// The `Content-Encoding` as sent, e.g. `gzip` or `gzip, br`.
    pub encoding: String,
    /// Bytes on the wire (compressed), in all.
    pub wire_size: u64,
    /// Why the recorded bytes are not the whole decoded body, when they are not.
    pub problem: Option<DecodeProblem>,
}

/// Why a coded body could not be read whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeProblem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// In words, for the record and the finding.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
/// The kinds of [`DecodeProblem`].
pub enum ProblemKind {
    /// The bytes are not valid for the coding, or the stream ends early:
    /// the body was cut or corrupted on the way.
    Corrupt,
    /// A coding trakt-doctor does not read (e.g. `compress`).
    Unsupported,
    /// Decoding stopped at the capture limit, or the body expands more than
    /// [`MAX_EXPANSION`] times.
    TooLarge,
    /// A byte range of a coded body (`Content-Range`), which cannot be
    /// decoded apart from the rest.
    Partial,
}

/// One content coding, as `Content-Encoding` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Codec {
    fn parse(name: &str) -> Option<Codec> {
        match name.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Codec::Gzip),
            "deflate" => Some(Codec::Deflate),
            "br" => Some(Codec::Brotli),
            "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Deflate => "deflate",
            Codec::Brotli => "br",
            Codec::Zstd => "zstd",
        }
    }
}

/// The codings named by every `Content-Encoding` field, in the order they
/// were applied; `identity` is no coding. `None` when nothing is coded.
fn codings(headers: &Headers) -> Option<(String, Vec<&str>)> {
    let names: Vec<&str> = headers
        .get_all("content-encoding")
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.eq_ignore_ascii_case("identity"))
        .collect();
    if names.is_empty() {
        return None;
    }
    Some((names.join(", "), names))
}

/// What decoding a captured body gave.
struct Decoded {
    bytes: Vec<u8>,
    /// The decoded bytes stop before the end of the content.
    truncated: bool,
    problem: Option<DecodeProblem>,
}

/// Decodes `body` in place when `headers` say it is content-coded: its bytes
/// become the decoded content (at most `limit` of them), its [`Coding`] says
/// what the wire carried. `partial` is set for a byte range
/// (`Content-Range`). A body that is not coded, or already decoded, is left
/// as it is.
pub(crate) fn decode_body(body: &mut Body, headers: &Headers, limit: usize, partial: bool) {
    if body.coding.is_some() || body.is_empty() {
        return;
    }
    let Some((encoding, names)) = codings(headers) else {
        return;
    };
    let wire_complete = !body.truncated;
    let decoded = decode(&names, &body.bytes, wire_complete, partial, limit);
    let wire_size = body.size;
    let produced = decoded.bytes.len() as u64;
    body.bytes = Bytes::from(decoded.bytes);
    body.size = produced;
    body.truncated = decoded.truncated;
    body.coding = Some(Box::new(Coding {
        encoding,
        wire_size,
        problem: decoded.problem,
    }));
}

/// Decodes a request's body in place when its headers say it is coded.
pub fn decode_request(request: &mut Request, limit: usize) {
    decode_body(&mut request.body, &request.headers, limit, false);
}

/// Decodes a response's body in place when its headers say it is coded; a
/// byte range (`Content-Range`) that cannot be decoded is said to be one.
pub fn decode_response(response: &mut Response, limit: usize) {
    let partial = response.status == 206 || response.headers.get("content-range").is_some();
    decode_body(&mut response.body, &response.headers, limit, partial);
}

/// Notes that a body read from a file whose text is already decoded (a
/// HAR: browsers and trakt-doctor write the decoded text) was coded on the
/// wire, so that sending it again leaves the coding headers out.
/// `wire_size` is the file's size on the wire, when it gives one.
pub(crate) fn mark_decoded(body: &mut Body, headers: &Headers, wire_size: Option<u64>) {
    if body.coding.is_some() || body.is_empty() {
        return;
    }
    if let Some((encoding, _)) = codings(headers) {
        body.coding = Some(Box::new(Coding {
            encoding,
            wire_size: wire_size.unwrap_or(body.size),
            problem: None,
        }));
    }
}

/// Decodes `wire` through the codings `names` (applied in that order, so
/// undone in reverse). `wire_complete` is false when the capture holds only
/// the first bytes of the body.
fn decode(
    names: &[&str],
    wire: &[u8],
    wire_complete: bool,
    partial: bool,
    limit: usize,
) -> Decoded {
    let codecs = match known_codecs(names) {
        Ok(codecs) => codecs,
        Err(unsupported) => return unsupported,
    };
    let ratio_cap = wire
        .len()
        .saturating_mul(MAX_EXPANSION)
        .max(EXPANSION_FLOOR);
    let cap = limit.min(ratio_cap);
    let mut out = Vec::new();
    let result = reader(&codecs, wire).and_then(|reader| {
        // One byte past the cap tells "exactly at the cap" from "more".
        reader
            .take(u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1))
            .read_to_end(&mut out)
    });
    let coding = describe(&codecs);
    match result {
        Ok(_) if out.len() > cap => {
            out.truncate(cap);
            let message = if cap < limit {
                format!(
                    "the {coding} body expands more than {MAX_EXPANSION} times its {} bytes: \
                     decoding stopped at {cap} bytes (a decompression bomb, or not an answer \
                     meant to be read)",
                    wire.len()
                )
            } else {
                format!(
                    "the {coding} body decodes to more than the capture limit ({limit} bytes): \
                     the first {limit} bytes are recorded, the rest streamed through unread"
                )
            };
            Decoded {
                bytes: out,
                truncated: true,
                problem: Some(DecodeProblem {
                    kind: ProblemKind::TooLarge,
                    message,
                }),
            }
        }
        Ok(_) => Decoded {
            bytes: out,
            truncated: !wire_complete,
            problem: None,
        },
        // The capture holds only the body's first bytes: its stream is
        // expected to end early, and what was decoded is kept.
        Err(_) if !wire_complete => Decoded {
            bytes: out,
            truncated: true,
            problem: None,
        },
        Err(error) if partial => Decoded {
            bytes: out,
            truncated: true,
            problem: Some(DecodeProblem {
                kind: ProblemKind::Partial,
                message: format!(
                    "the body is a byte range (Content-Range) of a {coding} representation, \
                     which cannot be decoded apart from the rest ({error})"
                ),
            }),
        },
        Err(error) => {
            let decoded = out.len();
            let message = if error.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "the {coding} body ends before its compressed stream does (after {} bytes on \
                     the wire, {decoded} decoded): the answer was cut on the way",
                    wire.len()
                )
            } else {
                format!(
                    "the body is not valid {coding} ({error}; {decoded} bytes decoded before it): \
                     the answer was corrupted on the way, or mislabelled"
                )
            };
            Decoded {
                bytes: out,
                truncated: true,
                problem: Some(DecodeProblem {
                    kind: ProblemKind::Corrupt,
                    message,
                }),
            }
        }
    }
}

/// The codecs for `names`, or the record of the first one trakt-doctor
/// cannot decode (nothing of the body is kept).
fn known_codecs(names: &[&str]) -> Result<Vec<Codec>, Decoded> {
    names
        .iter()
        .map(|name| {
            Codec::parse(name).ok_or_else(|| Decoded {
                bytes: Vec::new(),
                truncated: true,
                problem: Some(DecodeProblem {
                    kind: ProblemKind::Unsupported,
                    message: format!(
                        "the body is coded `{name}`, which trakt-doctor cannot decode: \
                         it was forwarded as it came and not recorded"
                    ),
                }),
            })
        })
        .collect()
}

/// `gzip`, or `gzip then br` for stacked codings.
fn describe(codecs: &[Codec]) -> String {
    codecs
        .iter()
        .map(|codec| codec.name())
        .collect::<Vec<_>>()
        .join(" then ")
}

/// A reader of the decoded content: the codings undone last-applied first.
fn reader<'a>(codecs: &[Codec], wire: &'a [u8]) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut reader: Box<dyn Read + 'a> = Box::new(wire);
    for codec in codecs.iter().rev() {
        reader = match codec {
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Codec::Deflate => deflate_reader(reader)?,
            Codec::Brotli => Box::new(brotli_decompressor::Decompressor::new(reader, 8 * 1024)),
            Codec::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                    reader,
                    ZSTD_MAX_WINDOW,
                )
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            ),
        };
    }
    Ok(reader)
}

/// `deflate` is zlib-wrapped per RFC 9110, but servers (and old IIS) also
/// send raw deflate: read the zlib header when there is one.
fn deflate_reader<'a>(inner: Box<dyn Read + 'a>) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::new(inner);
    let head = buffered.fill_buf()?;
    let zlib = match head {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && u16::from_be_bytes([*cmf, *flg]).checked_rem(31) == Some(0)
        }
        _ => false,
    };
    Ok(if zlib {
        Box::new(flate2::bufread::ZlibDecoder::new(buffered))
    } else {
        Box::new(flate2::bufread::DeflateDecoder::new(buffered))
    })
}

/// Makes `headers` and `body` describe the body as it is recorded
/// (decoded): the `Content-Encoding` and `Content-Length` of the coded
/// original go. For sending a recorded body again (auto-fix, resend,
/// replay, Copy as curl): trakt-doctor never keeps the compressed bytes.
pub(crate) fn send_decoded(headers: &mut Headers, body: &mut Body) {
    if body.coding.take().is_some() {
        headers.0.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("content-encoding")
                && !name.eq_ignore_ascii_case("content-length")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const JSON: &str = r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}"#;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn coded(encoding: &str, wire: Vec<u8>) -> (Body, Headers) {
        (
            Body::complete(Bytes::from(wire)),
            Headers::from_pairs(&[("content-encoding", encoding)]),
        )
    }

    fn decoded(encoding: &str, wire: Vec<u8>, limit: usize) -> Body {
        let (mut body, headers) = coded(encoding, wire);
        decode_body(&mut body, &headers, limit, false);
        body
    }

    #[test]
    fn every_supported_coding_decodes_to_the_text() {
        for (encoding, wire) in [
            ("gzip", gzip(JSON.as_bytes())),
            ("x-gzip", gzip(JSON.as_bytes())),
            ("deflate", zlib(JSON.as_bytes())),
            ("deflate", raw_deflate(JSON.as_bytes())),
            ("br", br(JSON.as_bytes())),
            ("zstd", zstd(JSON.as_bytes())),
            ("gzip, br", br(&gzip(JSON.as_bytes()))),
            ("zstd, identity, gzip", gzip(&zstd(JSON.as_bytes()))),
            ("GZIP", gzip(JSON.as_bytes())),
        ] {
            let wire_size = wire.len() as u64;
            let body = decoded(encoding, wire, 1 << 20);
            assert_eq!(body.text(), Some(JSON), "{encoding}");
            assert_eq!(body.size, JSON.len() as u64);
            assert!(!body.truncated, "{encoding}");
            let coding = body.coding.as_deref().unwrap();
            assert_eq!(coding.wire_size, wire_size);
            assert_eq!(coding.problem, None, "{encoding}");
        }
    }

    #[test]
    fn stacked_fields_are_read_in_order() {
        let mut body = Body::complete(Bytes::from(br(&gzip(JSON.as_bytes()))));
        let headers =
            Headers::from_pairs(&[("content-encoding", "gzip"), ("content-encoding", "br")]);
        decode_body(&mut body, &headers, 1 << 20, false);
        assert_eq!(body.text(), Some(JSON));
        assert_eq!(body.coding.unwrap().encoding, "gzip, br");
    }

    #[test]
    fn identity_and_uncoded_bodies_are_left_alone() {
        for headers in [
            Headers::default(),
            Headers::from_pairs(&[("content-encoding", "identity")]),
        ] {
            let mut body = Body::complete(Bytes::from_static(JSON.as_bytes()));
            decode_body(&mut body, &headers, 1 << 20, false);
            assert_eq!(body.text(), Some(JSON));
            assert!(body.coding.is_none());
        }
    }

    #[test]
    fn a_cut_stream_keeps_what_decoded_and_says_it_was_cut() {
        let mut wire = gzip(JSON.repeat(50).as_bytes());
        wire.truncate(wire.len() / 2);
        let body = decoded("gzip", wire, 1 << 20);
        let problem = body.coding.as_ref().unwrap().problem.clone().unwrap();
        assert_eq!(problem.kind, ProblemKind::Corrupt);
        assert!(
            problem.message.contains("cut on the way"),
            "{}",
            problem.message
        );
        assert!(body.truncated);
        assert!(JSON.repeat(50).starts_with(body.text().unwrap()));
    }

    #[test]
    fn corrupt_bytes_are_dropped_not_recorded() {
        let mut wire = gzip(JSON.as_bytes());
        if let Some(byte) = wire.get_mut(12) {
            *byte ^= 0xff;
        }
        for (encoding, wire) in [
            ("gzip", wire),
            ("br", b"not brotli at all".to_vec()),
            ("zstd", b"nope".to_vec()),
        ] {
            let body = decoded(encoding, wire, 1 << 20);
            assert!(body.truncated, "{encoding}");
            let problem = body.coding.as_ref().unwrap().problem.clone().unwrap();
            assert_eq!(problem.kind, ProblemKind::Corrupt, "{encoding}");
            assert!(problem.message.contains("corrupted"), "{}", problem.message);
        }
    }

    #[test]
    fn an_unknown_coding_records_nothing_of_the_body() {
        let body = decoded("compress", b"\x1f\x9d\x90secret-token".to_vec(), 1 << 20);
        assert!(body.bytes.is_empty());
        assert!(body.truncated);
        let coding = body.coding.unwrap();
        assert_eq!(coding.wire_size, 15);
        assert_eq!(coding.problem.unwrap().kind, ProblemKind::Unsupported);
    }

    #[test]
    fn a_bomb_stops_at_the_expansion_ratio() {
        // 64 MiB of zeros: about 64 KiB of gzip, far past 1024 to 1 once decoded whole.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let wire = e.finish().unwrap();
        let started = std::time::Instant::now();
        let body = decoded("gzip", wire.clone(), 256 << 20);
        assert!(body.bytes.len() <= wire.len() * MAX_EXPANSION);
        let problem = body.coding.unwrap().problem.unwrap();
        assert_eq!(problem.kind, ProblemKind::TooLarge);
        assert!(
            problem.message.contains("decompression bomb"),
            "{}",
            problem.message
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn decoding_stops_at_the_capture_limit() {
        let text = JSON.repeat(100);
        let body = decoded("br", br(text.as_bytes()), 1000);
        assert_eq!(body.bytes.len(), 1000);
        assert!(body.truncated);
        let problem = body.coding.unwrap().problem.unwrap();
        assert_eq!(problem.kind, ProblemKind::TooLarge);
        assert!(problem.message.contains("capture limit"));
    }

    #[test]
    fn a_capture_cut_by_the_limit_keeps_its_decoded_start_without_a_problem() {
        let text = JSON.repeat(200);
        let mut wire = gzip(text.as_bytes());
        let wire_seen = wire.len() as u64;
        wire.truncate(wire.len() / 2);
        let mut body = Body {
            size: wire_seen,
            bytes: Bytes::from(wire),
            truncated: true,
            coding: None,
        };
        decode_body(
            &mut body,
            &Headers::from_pairs(&[("content-encoding", "gzip")]),
            1 << 20,
            false,
        );
        assert!(body.truncated);
        // Deflate hands out what it decoded so far: a start of the text.
        let start = body.text().unwrap();
        assert!(!start.is_empty() && text.starts_with(start), "{start}");
        let coding = body.coding.unwrap();
        assert_eq!(coding.wire_size, wire_seen);
        assert_eq!(coding.problem, None);
    }

    #[test]
    fn a_byte_range_that_cannot_decode_is_partial_not_corrupt() {
        let wire = gzip(JSON.as_bytes());
        let (mut body, headers) = coded("gzip", wire.get(10..).unwrap().to_vec());
        decode_body(&mut body, &headers, 1 << 20, true);
        assert_eq!(
            body.coding.unwrap().problem.unwrap().kind,
            ProblemKind::Partial
        );
    }

    #[test]
    fn a_decoded_body_is_sent_without_its_coding_headers() {
        let (mut body, headers) = coded("gzip", gzip(JSON.as_bytes()));
        let mut headers = Headers(
            headers
                .0
                .into_iter()
                .chain([
                    ("content-length".to_string(), "99".to_string()),
                    ("content-type".into(), "application/json".into()),
                ])
                .collect(),
        );
        decode_body(&mut body, &headers, 1 << 20, false);
        send_decoded(&mut headers, &mut body);
        assert_eq!(
            headers,
            Headers::from_pairs(&[("content-type", "application/json")])
        );
        assert!(body.coding.is_none());
        assert_eq!(body.text(), Some(JSON));
    }
}
