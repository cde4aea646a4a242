//! The compressed answers (issue 27): a 1 MiB JSON answer, the watched
//! movies a Stremio sync fetches, sent plain (`big-json`), gzip-coded
//! (`big-gzip`) and br-coded (`big-br`) by the fake upstream, as the CDN in
//! front of Trakt and Stremio codes every answer for a client that accepts
//! it. The client sends `Accept-Encoding` and must receive the coded bytes
//! unchanged (a proxy that decoded or re-coded them counts an error);
//! trakt-doctor decodes its captured copy after the answer went out, so
//! the client's time per answer should stay near the plain JSON's while
//! the proxy's CPU per answer grows by the decoding.
//!
//! These run in the 1 MiB pass of [`crate::workloads::measure_all`], after the `big`
//! slice of the same route, so they add no slices (and no pauses) of
//! their own: a smoke run takes a second or two longer.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

use crate::client::{one, open, scrobble_request, send, Route};
use crate::workloads::{percentile, Measured};
use crate::Sizes;

/// Where the fake upstream serves the JSON answer.
pub const PATH: &str = "/sync/watched/movies";

/// How an answer travels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Coding {
    Identity,
    Gzip,
    Br,
}

const CODINGS: [Coding; 3] = [Coding::Identity, Coding::Gzip, Coding::Br];

impl Coding {
    /// Its name for `--only`.
    pub fn workload(self) -> &'static str {
        match self {
            Coding::Identity => "big-json",
            Coding::Gzip => "big-gzip",
            Coding::Br => "big-br",
        }
    }

    /// The `Content-Encoding` (and what the client accepts).
    fn name(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Br => Some("br"),
        }
    }

    fn index(self) -> usize {
        match self {
            Coding::Identity => 0,
            Coding::Gzip => 1,
            Coding::Br => 2,
        }
    }
}

/// Whether any of these workloads is chosen.
pub fn chosen(sizes: &Sizes) -> bool {
    CODINGS.iter().any(|c| sizes.runs(c.workload()))
}

// ---------- the answer ----------

/// The answer, plain and in each coding (built once, before any route is
/// measured: compressing it is no part of any figure).
pub struct Bodies {
    coded: [Bytes; 3],
}

impl Bodies {
    fn get(&self, coding: Coding) -> &Bytes {
        &self.coded[coding.index()]
    }
}

pub fn bodies() -> &'static Bodies {
    static BODIES: OnceLock<Bodies> = OnceLock::new();
    BODIES.get_or_init(|| {
        use std::io::Write;
        let json = watched_movies(1024 * 1024);
        // The levels a CDN compresses dynamic answers with: gzip's default
        // (6), brotli quality 5 (window 22), as tests/common/cdn.rs does.
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&json).expect("gzip");
        let gzip = gzip.finish().expect("gzip");
        let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
        br.write_all(&json).expect("br");
        let br = br.into_inner();
        Bodies {
            coded: [Bytes::from(json), Bytes::from(gzip), Bytes::from(br)],
        }
    })
}

/// A JSON array of watched movies as `GET /sync/watched/movies` answers,
/// as long as it stays within `limit` bytes (trakt-doctor's default
/// capture limit, 1 MiB, so it is decoded and linted whole). Varied
/// titles, ids and dates from a fixed seed, so it compresses about as
/// Trakt's answers do rather than as one repeated item would.
fn watched_movies(limit: usize) -> Vec<u8> {
    const WORDS: &str = "the of night last guardians galaxy return king dark river city lost \
        house winter summer blood star war love story man woman secret life death road fire ice \
        ghost shadow empire rising fall silent wild golden iron glass ocean mountain dream \
        machine kingdom final hunter storm garden edge";
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    let mut out = b"[".to_vec();
    for n in 0u64.. {
        let picked: Vec<&str> = (0..2 + next(3))
            .map(|_| words[next(words.len() as u64) as usize])
            .collect();
        let title: Vec<String> = picked
            .iter()
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect();
        let title = title.join(" ");
        let year = 1950 + next(75);
        let slug = format!("{}-{year}", picked.join("-"));
        let watched = format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
            15 + next(11),
            1 + next(12),
            1 + next(28),
            next(24),
            next(60),
            next(60)
        );
        let item = format!(
            r#"{{"plays":{},"last_watched_at":"{watched}","last_updated_at":"{watched}","movie":{{"title":"{title}","year":{year},"ids":{{"trakt":{},"slug":"{slug}","imdb":"tt{:07}","tmdb":{}}}}}}}"#,
            1 + next(5),
            1 + n * 7 + next(7),
            next(9_999_999),
            next(1_000_000)
        );
        // The item, its comma, and the closing bracket must fit.
        if out.len() + item.len() + 2 > limit {
            break;
        }
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out.push(b']');
    out
}

/// The fake upstream's answer to `GET PATH`: coded as the request accepts
/// (br before gzip, as the CDN prefers), plain otherwise.
pub fn answer(accept_encoding: Option<&http::HeaderValue>) -> http::Response<Full<Bytes>> {
    let accepts = |name: &str| {
        accept_encoding
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',').any(|token| {
                    let mut parts = token.split(';').map(str::trim);
                    parts.next().is_some_and(|t| t.eq_ignore_ascii_case(name))
                        && !parts.any(|p| p.replace(' ', "") == "q=0")
                })
            })
    };
    let coding = [Coding::Br, Coding::Gzip]
        .into_iter()
        .find(|c| c.name().is_some_and(accepts))
        .unwrap_or(Coding::Identity);
    let mut response = http::Response::new(Full::new(bodies().get(coding).clone()));
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert("vary", http::HeaderValue::from_static("Accept-Encoding"));
    if let Some(name) = coding.name() {
        headers.insert("content-encoding", http::HeaderValue::from_static(name));
    }
    response
}

/// The sizes, for the report's header: the JSON and each coding on the wire.
pub fn describe() -> serde_json::Value {
    let b = bodies();
    serde_json::json!({
        "path": PATH,
        "json_bytes": b.get(Coding::Identity).len(),
        "gzip_bytes": b.get(Coding::Gzip).len(),
        "br_bytes": b.get(Coding::Br).len(),
    })
}

/// The same, in words.
pub fn summary() -> String {
    let b = bodies();
    let json = b.get(Coding::Identity).len();
    let coded = |c: Coding| {
        let n = b.get(c).len();
        format!("{n} bytes ({:.1}:1)", json as f64 / n.max(1) as f64)
    };
    format!(
        "1 MiB JSON answer ({PATH}): {json} bytes; on the wire gzip {}, br {}",
        coded(Coding::Gzip),
        coded(Coding::Br)
    )
}

// ---------- the workload ----------

/// One coding's counts over slices.
#[derive(Default, Clone)]
struct Counts {
    answers: usize,
    secs: f64,
    /// The time of each batch's first answer, sent to a proxy with
    /// nothing left to do (ms).
    alone_ms: Vec<f64>,
    /// The proxy's CPU seconds over the batches whose reading succeeded,
    /// and how many answers those batches had.
    proxy_cpu: f64,
    cpu_answers: usize,
}

/// The counts of each coding (see [`crate::workloads::Tally`]).
#[derive(Default, Clone)]
pub struct Tally {
    counts: [Counts; 3],
}

impl Tally {
    pub fn absorb(&mut self, slice: &Tally) {
        for (total, part) in self.counts.iter_mut().zip(&slice.counts) {
            total.answers += part.answers;
            total.secs += part.secs;
            total.alone_ms.extend_from_slice(&part.alone_ms);
            total.proxy_cpu += part.proxy_cpu;
            total.cpu_answers += part.cpu_answers;
        }
    }

    pub fn figures(&self) -> Figures {
        let mut figures = Figures::default();
        for (i, c) in self.counts.iter().enumerate() {
            if c.answers == 0 {
                continue;
            }
            let json_mib = bodies().get(Coding::Identity).len() as f64 / 1_048_576.0;
            figures.mbps[i] =
                Some(c.answers as f64 * json_mib / c.secs).filter(|v| v.is_finite() && *v > 0.0);
            let mut alone = c.alone_ms.clone();
            alone.sort_by(f64::total_cmp);
            figures.alone_ms[i] = Some(percentile(&alone, 0.5)).filter(|v| v.is_finite());
            figures.proxy_cpu_us[i] =
                (c.cpu_answers > 0).then(|| c.proxy_cpu * 1e6 / c.cpu_answers as f64);
        }
        figures
    }
}

/// A route's figures (see [`crate::workloads::Figures`]).
#[derive(Default, Clone)]
pub struct Figures {
    /// Answers per second, times the JSON's size (so the three compare
    /// with each other and with the `big` row, whatever the wire carried).
    mbps: [Option<f64>; 3],
    /// The median time of an answer sent to an idle proxy (the first of
    /// each batch): the client's latency, without the work the proxy still
    /// does for the answer before (back to back, that work competes with
    /// the next answer for the cores).
    alone_ms: [Option<f64>; 3],
    /// The proxy's CPU per answer, the work after the answer went out
    /// (decoding, capture, checks, the record) included.
    proxy_cpu_us: [Option<f64>; 3],
}

impl Figures {
    pub fn mbps(&self, coding: Coding) -> Option<f64> {
        self.mbps[coding.index()]
    }

    pub fn alone_ms(&self, coding: Coding) -> Option<f64> {
        self.alone_ms[coding.index()]
    }

    pub fn proxy_cpu_us(&self, coding: Coding) -> Option<f64> {
        self.proxy_cpu_us[coding.index()]
    }
}

/// The route's slice of each chosen coding: `count` answers each, back to
/// back on one keep-alive connection (opened, and the proxy's connection
/// upstream with it by one small request, before the clock starts), the
/// codings in an order that turns with `round`. After each batch the proxy
/// is left `sizes.settle` to finish its last answer (trakt-doctor decodes
/// after the answer went out) before its CPU is read; the same pause
/// comes before the first batch, for the `big` slice's leftover work, so
/// each batch's first answer finds the proxy idle.
pub async fn slice(m: &mut Measured, sizes: &Sizes, count: usize, round: usize) {
    let Ok(mut sender) = open(&m.route).await else {
        m.slice.errors += 1;
        return;
    };
    if one(&mut sender, &m.route, "/scrobble/start").await.is_err() {
        m.slice.errors += 1;
        return;
    }
    tokio::time::sleep(sizes.settle).await;
    for turn in 0..CODINGS.len() {
        let coding = CODINGS[(turn + round) % CODINGS.len()];
        if !sizes.runs(coding.workload()) {
            continue;
        }
        let cpu_before = m.proxy_cpu();
        let started = Instant::now();
        let mut answers = 0;
        let mut alone = None;
        let mut said = false;
        for n in 0..count {
            let sent = Instant::now();
            match fetch(&mut sender, &m.route, coding).await {
                Ok(()) => {
                    answers += 1;
                    if n == 0 {
                        alone = Some(sent.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                Err(e) => {
                    m.slice.errors += 1;
                    if !said {
                        eprintln!("{} {}: {e}", m.route.name, coding.workload());
                        said = true;
                    }
                    // The connection may be gone: a new one for what is left.
                    match open(&m.route).await {
                        Ok(fresh) => sender = fresh,
                        Err(_) => return,
                    }
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(sizes.settle).await;
        let cpu = cpu_before.zip(m.proxy_cpu()).map(|(b, a)| a - b);
        let counts = &mut m.slice.answers.counts[coding.index()];
        counts.answers += answers;
        counts.secs += secs;
        counts.alone_ms.extend(alone);
        if let Some(cpu) = cpu {
            counts.proxy_cpu += cpu;
            counts.cpu_answers += answers;
        }
    }
}

/// One answer in `coding`, checked to arrive as the fake sent it.
async fn fetch(
    sender: &mut SendRequest<Full<Bytes>>,
    route: &Route,
    coding: Coding,
) -> std::io::Result<()> {
    let mut request = scrobble_request(route, "/big");
    *request.uri_mut() = http::Uri::from_static(PATH);
    if let Some(name) = coding.name() {
        request.headers_mut().insert(
            http::header::ACCEPT_ENCODING,
            http::HeaderValue::from_static(name),
        );
    }
    let (head, bytes) = send(sender, request).await?;
    let status = head.status;
    let encoding = head
        .headers
        .get(http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let expected = bodies().get(coding);
    if status != http::StatusCode::OK || encoding.as_deref() != coding.name() || bytes != *expected
    {
        return Err(std::io::Error::other(format!(
            "expected {} {} bytes, got status {status}, content-encoding {encoding:?}, {} bytes",
            coding.name().unwrap_or("plain"),
            expected.len(),
            bytes.len()
        )));
    }
    Ok(())
}

/// How long the proxy is left after a batch before its CPU is read.
pub const SETTLE: Duration = Duration::from_millis(150);
/// The same in a smoke run (its figures are not read).
pub const SETTLE_SMOKE: Duration = Duration::from_millis(25);
