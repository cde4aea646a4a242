//! What the CDN in front of Trakt and Stremio (Cloudflare) does to every
//! answer, applied by [`super::FakeUpstream`] to whatever a handler returns:
//!
//! - content negotiation: the strongest coding the request's
//!   `Accept-Encoding` offers (zstd, then br, then gzip; deflate, zlib-wrapped,
//!   only when nothing else is offered; `q=0` refuses), with
//!   `Content-Encoding`, `Vary: Accept-Encoding` and no `Content-Length`;
//!   never for 1xx/204/304, HEAD, an empty body, or a body the handler
//!   already encoded (it set `Content-Encoding`);
//! - a streamed body in several frames and no size: HTTP/1.1 goes out
//!   `Transfer-Encoding: chunked`, HTTP/2 without `content-length`;
//! - the header set: `Server: cloudflare`, `CF-RAY`, `cf-cache-status`,
//!   `Date`, `X-Request-Id`; on the Trakt hosts the `__cf_bm` cookie; on
//!   api.trakt.tv JSON answers `X-Ratelimit` (not on a 429: Trakt's abuse
//!   protection answers one without it) and, on a list, `X-Pagination-*`.
//!   A header the handler set is never replaced.
//!
//! A reply made with [`Reply::plain`] keeps its body as given (no coding)
//! with a `Content-Length`, as an origin without the CDN would send it.
//! [`cloudflare_page`] makes Cloudflare's own HTML pages (403 block page,
//! 520–524 errors).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, VARY};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{Received, Reply};

/// A content coding the fake can apply (and [`decode`] can undo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Zstd,
    Br,
    Gzip,
    /// zlib-wrapped deflate (RFC 9110's `deflate`).
    Deflate,
}

impl Coding {
    /// Cloudflare's order of preference, strongest first.
    pub const PREFERENCE: [Coding; 4] = [Coding::Zstd, Coding::Br, Coding::Gzip, Coding::Deflate];

    /// The token in `Content-Encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Br => "br",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding the CDN answers with for a request's `Accept-Encoding`
/// (every header line of it, joined): the strongest one offered with a
/// non-zero q. `*` offers any coding not named; `x-gzip` is gzip.
pub fn negotiate(accept_encoding: &str) -> Option<Coding> {
    let mut named: Vec<(String, f32)> = Vec::new();
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if token.is_empty() {
            continue;
        }
        let mut q = 1.0f32;
        for param in parts {
            if let Some((key, value)) = param.split_once('=') {
                if key.trim().eq_ignore_ascii_case("q") {
                    q = value.trim().parse().unwrap_or(0.0);
                }
            }
        }
        let token = if token == "x-gzip" {
            "gzip".to_string()
        } else {
            token
        };
        named.push((token, q));
    }
    let q_of = |token: &str| named.iter().find(|(t, _)| t == token).map(|(_, q)| *q);
    let acceptable = |coding: Coding| match q_of(coding.name()).or_else(|| q_of("*")) {
        Some(q) => q > 0.0,
        None => false,
    };
    // Deflate only when nothing stronger is acceptable: the order does that.
    Coding::PREFERENCE.into_iter().find(|c| acceptable(*c))
}

/// `data` encoded with `coding`.
pub fn encode(coding: Coding, data: &[u8]) -> Vec<u8> {
    match coding {
        Coding::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
        Coding::Br => {
            let mut writer = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
            writer.write_all(data).unwrap();
            writer.into_inner()
        }
        Coding::Gzip => {
            let mut writer =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            writer.write_all(data).unwrap();
            writer.finish().unwrap()
        }
        Coding::Deflate => {
            let mut writer =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            writer.write_all(data).unwrap();
            writer.finish().unwrap()
        }
    }
}

/// `data` as raw deflate (RFC 1951, no zlib wrapper), which some servers
/// send as `Content-Encoding: deflate`.
pub fn encode_raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut writer = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    writer.write_all(data).unwrap();
    writer.finish().unwrap()
}

/// `data` encoded with every coding of a `Content-Encoding` value, in the
/// order listed (`"gzip, br"`: gzip first, then br over it).
pub fn encode_stacked(content_encoding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for token in codings(content_encoding) {
        let coding = Coding::PREFERENCE
            .into_iter()
            .find(|c| c.name() == token)
            .unwrap_or_else(|| panic!("the fake cannot encode {token}"));
        out = encode(coding, &out);
    }
    out
}

fn codings(content_encoding: &str) -> Vec<String> {
    content_encoding
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "identity")
        .collect()
}

/// Undoes a `Content-Encoding` (stacked codings last-applied first), for a
/// test client that asked for compression and must read the answer:
/// gzip/x-gzip, deflate (zlib-wrapped or raw), br, zstd, identity.
pub fn decode(content_encoding: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = data.to_vec();
    for token in codings(content_encoding).iter().rev() {
        let mut decoded = Vec::new();
        let read = match token.as_str() {
            "gzip" | "x-gzip" => {
                flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut decoded)
            }
            "deflate" => {
                let zlib = flate2::read::ZlibDecoder::new(&out[..]).read_to_end(&mut decoded);
                if zlib.is_err() {
                    decoded.clear();
                    flate2::read::DeflateDecoder::new(&out[..]).read_to_end(&mut decoded)
                } else {
                    zlib
                }
            }
            "br" => brotli::Decompressor::new(&out[..], 4096).read_to_end(&mut decoded),
            "zstd" => match ruzstd::decoding::StreamingDecoder::new(&out[..]) {
                Ok(mut reader) => reader.read_to_end(&mut decoded),
                Err(e) => return Err(format!("zstd: {e}")),
            },
            other => return Err(format!("unknown content coding {other}")),
        };
        read.map_err(|e| format!("{token}: {e}"))?;
        out = decoded;
    }
    Ok(out)
}

/// The body of an answer: `body` decoded per its `Content-Encoding` header
/// (none: as is). Panics on a body that does not decode.
pub fn decoded_body(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let coding: Vec<&str> = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    decode(&coding.join(","), body).unwrap_or_else(|e| panic!("the answer does not decode: {e}"))
}

/// A body sent in several frames with no size known in advance.
pub struct Chunked {
    frames: VecDeque<Bytes>,
}

impl Chunked {
    /// `body` in frames of at most 16 KiB, at least two when it has two bytes.
    pub fn new(body: Bytes) -> Chunked {
        let piece = (body.len() / 2).clamp(1, 16 * 1024);
        let mut frames = VecDeque::new();
        let mut rest = body;
        while !rest.is_empty() {
            let take = piece.min(rest.len());
            frames.push_back(rest.split_to(take));
        }
        Chunked { frames }
    }
}

impl http_body::Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.frames
                .pop_front()
                .map(|b| Ok(http_body::Frame::data(b))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }
}

/// An answer as it leaves the CDN.
#[derive(Debug, Clone)]
pub struct Wire {
    pub status: u16,
    pub headers: HeaderMap,
    /// The bytes on the wire (encoded when `Content-Encoding` says so).
    pub body: Bytes,
    /// Streamed without a size (chunked), or sent with its length.
    pub chunked: bool,
    pub delay: Duration,
}

/// What the fake sends back to the proxy for one request.
#[derive(Debug, Clone)]
pub struct Sent {
    pub host: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
    /// The body's bytes as sent (encoded).
    pub body: Bytes,
}

fn header(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).unwrap()
}

fn set_default(headers: &mut HeaderMap, name: &str, value: impl AsRef<str>) {
    let name = header(name);
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_str(value.as_ref()).unwrap());
    }
}

/// A process-wide sequence mixed into pseudo-random ids (splitmix64).
fn next_random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A `CF-RAY` value: 16 hex digits and the data centre (`8f3c2a1b4d5e6f70-AMS`).
pub fn cf_ray() -> String {
    format!("{:016x}-AMS", next_random())
}

fn request_id() -> String {
    let (a, b) = (next_random(), next_random());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn alphanumerics(n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
    (0..n)
        .map(|_| SET[(next_random() % SET.len() as u64) as usize] as char)
        .collect()
}

fn http_date(at: time::OffsetDateTime) -> String {
    at.format(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap()
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn is_trakt(host: &str) -> bool {
    host == "trakt.tv" || host.ends_with(".trakt.tv")
}

/// Cloudflare's bot-management cookie, as it sets it on the Trakt hosts.
fn cf_bm_cookie(now: time::OffsetDateTime) -> String {
    let expires = (now + time::Duration::minutes(30))
        .format(time::macros::format_description!(
            "[weekday repr:short], [day]-[month repr:short]-[year repr:last_two] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    format!(
        "__cf_bm={}-{}-1.0.1.1-{}; path=/; expires={expires}; domain=.trakt.tv; HttpOnly; Secure; SameSite=None",
        alphanumerics(43),
        now.unix_timestamp(),
        alphanumerics(86),
    )
}

/// Trakt's `X-Ratelimit` for a request: the limit it counts against.
fn ratelimit(r: &Received, now: time::OffsetDateTime) -> String {
    let authed = r.headers.contains_key("authorization");
    let (name, period, limit, remaining) = match (r.method.as_str(), authed) {
        ("GET" | "HEAD", true) => ("AUTHED_API_GET_LIMIT", 300, 1000, 999),
        ("GET" | "HEAD", false) => ("UNAUTHED_API_GET_LIMIT", 300, 1000, 999),
        (_, _) => ("AUTHED_API_POST_LIMIT", 1, 1, 0),
    };
    serde_json::json!({
        "name": name,
        "period": period,
        "limit": limit,
        "remaining": remaining,
        "until": rfc3339(now + time::Duration::seconds(period)),
    })
    .to_string()
}

/// `X-Pagination-*` for a GET list answer (a JSON array) from api.trakt.tv.
fn pagination(r: &Received, items: usize) -> [(&'static str, String); 4] {
    let query = r.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let page = param("page").unwrap_or(1).max(1);
    let limit = param("limit").unwrap_or(10).clamp(1, 250);
    let pages = items.div_ceil(limit).max(1);
    [
        ("x-pagination-page", page.to_string()),
        ("x-pagination-limit", limit.to_string()),
        ("x-pagination-page-count", pages.to_string()),
        ("x-pagination-item-count", items.to_string()),
    ]
}

/// `reply` as the CDN sends it back for `r`.
pub fn through_cdn(r: &Received, reply: Reply) -> Wire {
    let mut headers = HeaderMap::new();
    for (name, value) in &reply.headers {
        headers.append(header(name), HeaderValue::from_str(value).unwrap());
    }
    let status = reply.status;
    let mut body = reply.body;
    let now = time::OffsetDateTime::now_utc();

    set_default(&mut headers, "date", http_date(now));
    set_default(&mut headers, "server", "cloudflare");
    set_default(&mut headers, "cf-ray", cf_ray());
    set_default(&mut headers, "cf-cache-status", "DYNAMIC");
    set_default(&mut headers, "x-request-id", request_id());
    if is_trakt(&r.host) {
        let has_cf_bm = headers
            .get_all("set-cookie")
            .iter()
            .any(|v| v.as_bytes().starts_with(b"__cf_bm="));
        if !has_cf_bm {
            headers.append(
                header("set-cookie"),
                HeaderValue::from_str(&cf_bm_cookie(now)).unwrap(),
            );
        }
    }
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if r.host == "api.trakt.tv" && json {
        if status != 429 {
            set_default(&mut headers, "x-ratelimit", ratelimit(r, now));
        }
        let paged = headers
            .keys()
            .any(|k| k.as_str().starts_with("x-pagination-"));
        if r.method == "GET" && status == 200 && !paged {
            let array = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.as_array().map(Vec::len));
            if let Some(items) = array {
                for (name, value) in pagination(r, items) {
                    set_default(&mut headers, name, value);
                }
            }
        }
    }

    let bodiless = r.method == "HEAD" || matches!(status, 100..=199 | 204 | 304);
    let encoded = headers.contains_key(CONTENT_ENCODING);
    if !reply.plain && !bodiless && !body.is_empty() && !encoded {
        let accept: Vec<&str> = r
            .headers
            .get_all("accept-encoding")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if let Some(coding) = negotiate(&accept.join(",")) {
            body = Bytes::from(encode(coding, &body));
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.name()));
            headers.remove(CONTENT_LENGTH);
            let varies = headers
                .get_all(VARY)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.to_ascii_lowercase().contains("accept-encoding"));
            if !varies {
                headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
            }
        }
    }
    let chunked = !reply.plain && !body.is_empty() && !headers.contains_key(CONTENT_LENGTH);
    Wire {
        status,
        headers,
        body,
        chunked,
        delay: reply.delay,
    }
}

/// Cloudflare's own HTML page for `status`, as its edge answers it (not the
/// origin): the 403 "Attention Required!" block page (its firewall), or the
/// 520, 521, 522, 523, 524 error pages when the origin fails. Compressed
/// like every answer; the page's Ray ID is the answer's `CF-RAY`.
pub fn cloudflare_page(status: u16) -> Reply {
    let ray = cf_ray();
    let ray_id = ray.split('-').next().unwrap_or_default().to_string();
    let (title, heading, detail) = match status {
        403 => (
            "Attention Required! | Cloudflare".to_string(),
            "Sorry, you have been blocked",
            "This website is using a security service to protect itself from online attacks. The action you just performed triggered the security solution.",
        ),
        520 => (
            "520: Web server is returning an unknown error".to_string(),
            "Web server is returning an unknown error",
            "There is an unknown connection issue between Cloudflare and the origin web server.",
        ),
        521 => (
            "521: Web server is down".to_string(),
            "Web server is down",
            "The web server is not returning a connection.",
        ),
        522 => (
            "522: Connection timed out".to_string(),
            "Connection timed out",
            "The initial connection between Cloudflare's network and the origin web server timed out.",
        ),
        523 => (
            "523: Origin is unreachable".to_string(),
            "Origin is unreachable",
            "Cloudflare is unable to reach the origin web server.",
        ),
        524 => (
            "524: A timeout occurred".to_string(),
            "A timeout occurred",
            "Cloudflare was able to complete a TCP connection to the origin server, but did not receive a timely HTTP response.",
        ),
        other => panic!("Cloudflare has no page of its own for {other}"),
    };
    let body = format!(
        "<!DOCTYPE html>\n<!--[if lt IE 7]> <html class=\"no-js ie6 oldie\" lang=\"en-US\"> <![endif]-->\n\
         <html class=\"no-js\" lang=\"en-US\">\n<head>\n<title>{title}</title>\n\
         <meta charset=\"UTF-8\" />\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n\
         <meta name=\"robots\" content=\"noindex, nofollow\" />\n\
         <link rel=\"stylesheet\" id=\"cf_styles-css\" href=\"/cdn-cgi/styles/cf.errors.css\" />\n</head>\n\
         <body>\n<div id=\"cf-wrapper\">\n<div id=\"cf-error-details\" class=\"cf-error-details-wrapper\">\n\
         <h1 data-translate=\"block_headline\">{heading}</h1>\n\
         <h2 class=\"cf-subheadline\">Error code {status}</h2>\n\
         <p>{detail}</p>\n\
         <div class=\"cf-error-footer cf-wrapper\">\n\
         <p><span class=\"cf-footer-item\">Cloudflare Ray ID: <strong class=\"font-semibold\">{ray_id}</strong></span>\n\
         <span class=\"cf-footer-item\">Performance &amp; security by <a rel=\"noopener noreferrer\" href=\"https://www.cloudflare.com/5xx-error-landing\" target=\"_blank\">Cloudflare</a></span></p>\n\
         </div>\n</div>\n</div>\n</body>\n</html>\n"
    );
    Reply {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=UTF-8".into()),
            (
                "cache-control".into(),
                "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"
                    .into(),
            ),
            ("expires".into(), "Thu, 01 Jan 1970 00:00:01 GMT".into()),
            ("referrer-policy".into(), "same-origin".into()),
            ("x-frame-options".into(), "SAMEORIGIN".into()),
            ("server".into(), "cloudflare".into()),
            ("cf-ray".into(), ray),
        ],
        body: Bytes::from(body),
        ..Reply::default()
    }
}
