//! What an inspection reports, as the records carry it: the severity and
//! [`Finding`] of a rule, the [`Fix`] a finding may carry and the
//! [`FixRecord`] of one applied, and the [`Diagnosis`] of an exchange.
//!
//! Plain serde data that imports nothing of the crate: the exchange model,
//! the rules, auto-fix and the diagnosis all build on it, so none of them
//! has to import another sideways just for a type.
use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How sure we are that the upstream will reject the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; Trakt will not reject the request for it.
    Info,
    /// Trakt may reject the request, or a client may misread the answer.
    Warning,
    /// Trakt (or Stremio's bridge) will reject the request.
    Error,
}

impl Severity {
    /// The severity as the records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A rule's stable id, `family.subject.problem` (e.g.
/// `header.api-version.missing`). Serialised as the plain string; a finding
/// made here borrows its rule's id, one read back from a record owns it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(Cow<'static, str>);

impl RuleId {
    /// The id of a rule defined in the code.
    pub const fn from_static(id: &'static str) -> RuleId {
        RuleId(Cow::Borrowed(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The family: the id's first part (`route` of `route.renamed`).
    pub(crate) fn family(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

impl From<String> for RuleId {
    fn from(id: String) -> RuleId {
        RuleId(Cow::Owned(id))
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Tests and tools compare ids with text; inside the crate, compare a
/// finding with its rule (`Finding::is`) instead.
impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// What a finding's location names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationKind {
    /// The request as a whole (`/`).
    Request,
    /// A place in the JSON body, as a JSON pointer (`/movie/ids/imdb`).
    Body,
    /// A header, by name (`trakt-api-key`).
    Header,
    /// A query parameter (`query limit`).
    Query,
    /// A value in the path (`path {id}`).
    Path,
    /// The host the request went to (`host`).
    Host,
    /// A place in the answer (`response /0/movie`).
    Response,
}

/// Where a finding points. Records carry it as the text people read
/// (`/movie/ids`, `query limit`, `trakt-api-key`: the JSONL/HAR format), and
/// the kind is read from that text once, here, instead of by every reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    kind: LocationKind,
    text: String,
}

impl Location {
    /// What the location names (a header, a JSON pointer, …).
    pub fn kind(&self) -> LocationKind {
        self.kind
    }

    /// The location as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Rewrites the text (redaction does); the kind is read again from it.
    pub fn edit(&mut self, change: impl FnOnce(&mut String)) {
        change(&mut self.text);
        *self = Location::from(std::mem::take(&mut self.text));
    }

    /// The JSON pointer, when the location is a place in the body.
    pub fn pointer(&self) -> Option<&str> {
        matches!(self.kind, LocationKind::Body | LocationKind::Request)
            .then_some(self.text.as_str())
    }
}

impl From<String> for Location {
    fn from(text: String) -> Location {
        let kind = if text == "/" {
            LocationKind::Request
        } else if text.starts_with('/') {
            LocationKind::Body
        } else if text == "query" || text.starts_with("query ") {
            LocationKind::Query
        } else if text.starts_with("path ") {
            LocationKind::Path
        } else if text == "host" {
            LocationKind::Host
        } else if text.starts_with("response ") {
            LocationKind::Response
        } else {
            LocationKind::Header
        };
        Location { kind, text }
    }
}

impl From<&str> for Location {
    fn from(text: &str) -> Location {
        Location::from(text.to_string())
    }
}

impl std::ops::Deref for Location {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<&str> for Location {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for Location {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Location, D::Error> {
        String::deserialize(deserializer).map(Location::from)
    }
}

/// One problem found in one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that found it.
    pub rule: RuleId,
    /// How sure the rule is that the request will be rejected.
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
    /// A header name, a JSON pointer, a query parameter, or `/` for the whole request.
    pub location: Location,
    /// Whether auto-fix repaired it before the request left.
    #[serde(default)]
    pub fixed: bool,
    /// Trakt answered with success although this finding predicted a
    /// rejection: the prediction was wrong (or Trakt is more lenient than its
    /// contract), and the record says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contradicted: bool,
    /// The repair, when one is certain (not logged: the `fixes` list shows what was applied).
    #[serde(skip)]
    pub fix: Option<Fix>,
}

impl Finding {
    /// Attaches the repair for this finding.
    pub(crate) fn with_fix(mut self, fix: Fix) -> Finding {
        self.fix = Some(fix);
        self
    }
}

/// One rewrite, as the logs show it: which rule, where, and the text before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRecord {
    /// The rule whose finding was repaired.
    pub rule: RuleId,
    /// Where the change was made.
    pub location: String,
    /// The text before.
    pub before: String,
    /// The text after.
    pub after: String,
}

/// A repair whose intended result is certain. Pure data: applying it is
/// the job of [`apply`](crate::fix::apply) in the auto-fix mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Set a header (replacing every value it had).
    SetHeader {
        /// The header's name.
        name: String,
        /// Its new value.
        value: String,
    },
    /// Rename a header, keeping its value.
    RenameHeader {
        /// The name it has.
        from: String,
        /// The name it gets.
        to: String,
    },
    /// Remove repeated identical values of a header, keeping the first.
    DedupeHeader {
        /// The header's name.
        name: String,
    },
    /// Remove a UTF-8 byte order mark from the start of the body.
    StripBom,
    /// Replace the JSON value at a pointer.
    SetJson {
        /// Where, as a JSON pointer.
        pointer: String,
        /// The new value.
        value: serde_json::Value,
    },
    /// Rewrite a form-encoded body as a JSON object of its fields, with
    /// `Content-Type: application/json` (Trakt's OAuth calls read JSON only).
    FormToJson,
    /// Move `Authorization: Basic` client credentials into the body's
    /// `client_id` and `client_secret` and drop the header. The values are
    /// read when the fix is applied, so no secret is held in a finding.
    BasicCredentialsToBody,
}

/// The explanation attached to a failed (or quietly incomplete) exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// One line: what happened.
    pub summary: String,
    #[serde(default)]
    /// Why, line by line.
    pub causes: Vec<String>,
    #[serde(default)]
    /// What to do, line by line.
    pub remedies: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_keep_their_text_and_know_their_kind() {
        let cases = [
            ("/", LocationKind::Request),
            ("/movie/ids/imdb", LocationKind::Body),
            ("trakt-api-key", LocationKind::Header),
            ("query limit", LocationKind::Query),
            ("path {id} in /movies/{id}", LocationKind::Path),
            ("host", LocationKind::Host),
            ("response /0/movie", LocationKind::Response),
        ];
        for (text, kind) in cases {
            let location = Location::from(text);
            assert_eq!(location.kind(), kind, "{text}");
            let json = serde_json::to_string(&location).unwrap();
            assert_eq!(json, serde_json::to_string(text).unwrap());
            assert_eq!(serde_json::from_str::<Location>(&json).unwrap(), location);
        }
        assert_eq!(Location::from("/movie").pointer(), Some("/movie"));
        assert_eq!(Location::from("query limit").pointer(), None);
    }

    #[test]
    fn a_finding_serialises_as_the_records_have_always_carried_it() {
        let finding = Finding {
            rule: RuleId::from_static("header.api-version.missing"),
            severity: Severity::Error,
            message: "m".into(),
            location: "trakt-api-version".into(),
            fixed: false,
            contradicted: false,
            fix: Some(Fix::StripBom),
        };
        let json = serde_json::to_string(&finding).unwrap();
        assert_eq!(
            json,
            r#"{"rule":"header.api-version.missing","severity":"error","message":"m","location":"trakt-api-version","fixed":false}"#
        );
        let back: Finding = serde_json::from_str(&json).unwrap();
        assert_eq!(back.rule, finding.rule);
        assert_eq!(back.rule, "header.api-version.missing");
    }
}
