//! The captured exchange: one request, its response (or the error that took
//! its place), and what trakt-doctor made of it. This is the one record that
//! every log sink, the offline linter and the web view read.
//!
//! Pure data with serde: the JSON Lines record of DESIGN.md is exactly the
//! serialisation of [`Exchange`].
use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::report::{Diagnosis, Finding, FixRecord};

pub mod coding;
mod error;
pub mod json;
pub use error::{ErrorKind, ExchangeError, UpstreamCause};

/// Header fields in the order they came, names lower-cased. Serialised as a
/// JSON object; a name that repeats maps to an array of its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The fields in order, as `(name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Builds header fields from `(name, value)` pairs, names lower-cased.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Headers(
            pairs
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                .collect(),
        )
    }

    /// Captures an `http::HeaderMap`; values that are not UTF-8 are kept lossily.
    pub fn from_map(map: &http::HeaderMap) -> Self {
        Headers(
            map.iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        )
    }
}

impl Serialize for Headers {
    /// One entry per name, in the order names first appear: a string, or
    /// an array when the name repeats. Allocates nothing (this runs for
    /// both header maps of every record; a record has a handful of fields).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let first = |i: usize, name: &str| !self.0.iter().take(i).any(|(n, _)| n == name);
        let names = self
            .0
            .iter()
            .enumerate()
            .filter(|(i, (name, _))| first(*i, name))
            .count();
        let mut map = serializer.serialize_map(Some(names))?;
        for (i, (name, value)) in self.0.iter().enumerate() {
            if !first(i, name) {
                continue;
            }
            let repeated = self
                .0
                .iter()
                .skip(i.saturating_add(1))
                .any(|(n, _)| n == name);
            if repeated {
                map.serialize_entry(name, &ValuesNamed(&self.0, name))?;
            } else {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

/// Every value of a repeated header name, in order, as a JSON array.
struct ValuesNamed<'a>(&'a [(String, String)], &'a str);

impl Serialize for ValuesNamed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .iter()
                .filter(|(name, _)| name == self.1)
                .map(|(_, value)| value),
        )
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of header names to a string or an array of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some((name, values)) = access.next_entry::<String, OneOrMany>()? {
                    let name = name.to_ascii_lowercase();
                    match values {
                        OneOrMany::One(v) => out.push((name, v)),
                        OneOrMany::Many(vs) => {
                            out.extend(vs.into_iter().map(|v| (name.clone(), v)))
                        }
                    }
                }
                Ok(Headers(out))
            }
        }
        deserializer.deserialize_map(HeadersVisitor)
    }
}

/// A captured body: the first bytes (up to the capture limit) and the total size.
/// A content-coded body is kept decoded: `coding` says how it travelled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// The captured bytes (decoded when the body was content-coded).
    pub bytes: Bytes,
    /// Bytes seen in all; more than `bytes.len()` when truncated. For a
    /// coded body, the decoded bytes (the wire's are in `coding`).
    pub size: u64,
    /// Whether only the first bytes were kept (the capture limit).
    pub truncated: bool,
    /// Set when the body was content-coded (gzip, br, ...) and `bytes` are
    /// the decoded content. Boxed: most bodies are not coded.
    pub coding: Option<Box<coding::Coding>>,
}

impl Body {
    /// A body captured whole.
    pub fn complete(bytes: Bytes) -> Self {
        Body {
            size: bytes.len() as u64,
            bytes,
            truncated: false,
            coding: None,
        }
    }

    /// No body on the wire. A coded body of which nothing could be decoded
    /// is not empty: its record says why (`coding`).
    pub fn is_empty(&self) -> bool {
        self.size == 0 && self.coding.is_none()
    }

    /// The captured bytes as text, when they are UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// The body parsed as JSON (a leading byte order mark is tolerated).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.text()?.trim_start_matches('\u{feff}')).ok()
    }
}

#[derive(Serialize, Deserialize)]
struct BodyRepr {
    size: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wire_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decode_error: Option<coding::DecodeProblem>,
}

/// [`BodyRepr`] as written: the text borrowed, not copied (a body can be 1 MiB).
#[derive(Serialize)]
struct BodyReprOut<'a> {
    size: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wire_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decode_error: Option<&'a coding::DecodeProblem>,
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (text, base64) = match self.text() {
            Some(t) => (Some(t), None),
            None => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&self.bytes)),
            ),
        };
        let coding = self.coding.as_deref();
        BodyReprOut {
            size: self.size,
            truncated: self.truncated,
            text,
            base64,
            encoding: coding.map(|c| c.encoding.as_str()),
            wire_size: coding.map(|c| c.wire_size),
            decode_error: coding.and_then(|c| c.problem.as_ref()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = BodyRepr::deserialize(deserializer)?;
        let bytes = match (repr.text, repr.base64) {
            (Some(text), _) => Bytes::from(text),
            (None, Some(b64)) => Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(de::Error::custom)?,
            ),
            (None, None) => Bytes::new(),
        };
        let coding = repr.encoding.map(|encoding| {
            Box::new(coding::Coding {
                encoding,
                wire_size: repr.wire_size.unwrap_or(0),
                problem: repr.decode_error,
            })
        });
        Ok(Body {
            size: repr.size.max(bytes.len() as u64),
            bytes,
            truncated: repr.truncated,
            coding,
        })
    }
}

/// Serialises an empty body as `null`.
mod optional_body {
    use super::Body;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(body: &Body, s: S) -> Result<S::Ok, S::Error> {
        if body.is_empty() {
            s.serialize_none()
        } else {
            body.serialize(s)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
        Ok(Option::<Body>::deserialize(d)?.unwrap_or_default())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A request as captured (and, after auto-fix, as sent).
pub struct Request {
    /// The method as the client sent it.
    pub method: String,
    /// The absolute URL, e.g. `https://api.trakt.tv/scrobble/start`.
    pub url: String,
    #[serde(default)]
    /// `HTTP/1.1`, `HTTP/2`, … as HAR spells it.
    pub http_version: String,
    #[serde(default)]
    /// The header fields in order.
    pub headers: Headers,
    #[serde(default, with = "optional_body")]
    /// The body.
    pub body: Body,
}

impl Request {
    /// The parsed URL; `None` when the recorded URL does not parse.
    pub fn uri(&self) -> Option<http::Uri> {
        self.url.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A response as captured.
pub struct Response {
    /// The status code.
    pub status: u16,
    #[serde(default)]
    /// `HTTP/1.1`, `HTTP/2`, … as HAR spells it.
    pub http_version: String,
    #[serde(default)]
    /// The header fields in order.
    pub headers: Headers,
    #[serde(default, with = "optional_body")]
    /// The body.
    pub body: Body,
}

/// One finished exchange, as every sink receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    /// The exchange's number in this run (resends refer to it).
    pub id: u64,
    #[serde(with = "time::serde::rfc3339")]
    /// When the request arrived.
    pub started_at: OffsetDateTime,
    /// From the request's arrival to the end of the answer, in milliseconds.
    pub duration_ms: f64,
    /// The request.
    pub request: Request,
    /// The response, when one came.
    pub response: Option<Response>,
    /// Why there is no (complete) response: the upstream failed, timed
    /// out, or a side hung up mid-body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    /// What the checks found, on the request and on the answer.
    pub findings: Vec<Finding>,
    #[serde(default)]
    /// What auto-fix changed, before and after.
    pub fixes: Vec<FixRecord>,
    #[serde(default)]
    /// Why the answer came, in plain words, when there is something to explain.
    pub diagnosis: Option<Diagnosis>,
    /// When this exchange is a resend (trakt-doctor sent it again on the
    /// user's request), the id of the exchange it repeats. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<u64>,
}

/// HTTP version as HAR and the logs spell it.
impl Exchange {
    /// Applies `edit` to every text trakt-doctor wrote about the exchange
    /// (its fixes, findings, error and diagnosis), which may quote a URL or
    /// a body: for the report's placeholders.
    pub(crate) fn edit_prose(&mut self, edit: impl Fn(&mut String) + Copy) {
        for fix in &mut self.fixes {
            edit(&mut fix.before);
            edit(&mut fix.after);
            edit(&mut fix.location);
        }
        for finding in &mut self.findings {
            edit(&mut finding.message);
            finding.location.edit(edit);
        }
        if let Some(error) = self.error.as_mut() {
            edit(error);
        }
        if let Some(diagnosis) = self.diagnosis.as_mut() {
            edit(&mut diagnosis.summary);
            diagnosis
                .causes
                .iter_mut()
                .chain(diagnosis.remedies.iter_mut())
                .for_each(edit);
        }
    }
}

/// The HTTP version as HAR and the logs spell it (`HTTP/1.1`, `HTTP/2`, …).
pub fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// Exchanges for the unit tests of the modules that judge them.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;

    /// A JSON array body holding `n` distinct secrets under the five keys
    /// the redactor knows, about 32 bytes each (Copy as curl's worst case:
    /// 1,600 in 50 KB).
    pub fn body_with_secrets(n: usize) -> String {
        let keys = [
            "access_token",
            "refresh_token",
            "password",
            "code",
            "client_secret",
        ];
        let items: Vec<String> = (0..n)
            .zip(keys.iter().cycle())
            .map(|(i, key)| format!(r#"{{"{key}":"v{i:07}-secret"}}"#))
            .collect();
        format!("[{}]", items.join(","))
    }

    /// `request` answered 200 with `body` (HTTP/1.1, no headers), started
    /// at 2026-11-24 12:00 UTC, nothing judged yet.
    pub fn answered(request: Request, body: &str) -> Exchange {
        Exchange {
            id: 1,
            started_at: time::macros::datetime!(2026-11-24 12:00 UTC),
            duration_ms: 1.0,
            request,
            response: Some(Response {
                status: 200,
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::complete(Bytes::from(body.to_string())),
            }),
            error: None,
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_with_repeated_names() {
        let headers = Headers(vec![
            ("content-type".into(), "application/json".into()),
            ("x-a".into(), "1".into()),
            ("x-a".into(), "2".into()),
        ]);
        let json = serde_json::to_string(&headers).unwrap();
        assert_eq!(
            json,
            r#"{"content-type":"application/json","x-a":["1","2"]}"#
        );
        let back: Headers = serde_json::from_str(&json).unwrap();
        assert_eq!(back, headers);
    }

    #[test]
    fn bodies_serialise_as_text_or_base64() {
        let text = Body::complete(Bytes::from_static(b"{\"a\":1}"));
        let json = serde_json::to_value(&text).unwrap();
        assert_eq!(json["text"], "{\"a\":1}");
        let binary = Body::complete(Bytes::from_static(&[0xff, 0x00, 0x10]));
        let json = serde_json::to_string(&binary).unwrap();
        assert!(json.contains("base64"));
        let back: Body = serde_json::from_str(&json).unwrap();
        assert_eq!(back, binary);
    }

    #[test]
    fn empty_bodies_are_null() {
        let request = Request {
            method: "GET".into(),
            url: "https://api.trakt.tv/".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::default(),
            body: Body::default(),
        };
        let json = serde_json::to_value(&request).unwrap();
        assert!(json["body"].is_null());
        let back: Request = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
    }
}
