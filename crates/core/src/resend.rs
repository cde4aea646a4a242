//! Resending a captured request: the pure decisions. Which request goes out
//! (as captured, with header overrides, with the secrets a redacted record
//! lacks filled in by name, with auto-fix's repairs), whether it may go at
//! all (a body cut at the capture limit cannot be resent as captured), and
//! what a write will change on the user's account, in words the CLI and
//! the web view both show before asking for confirmation.
//!
//! The shell ([`crate::proxy::resend`]) sends the result through the
//! proxy's own upstream client and inspection, and checks the session
//! rules (spent codes and refresh tokens, one write per second) that need
//! its state.
//!
//! Secrets: a live exchange's original request carries them; a record read
//! back from a file (or one evicted from memory) holds fingerprints
//! (`sha256:1a2b3c4d`) where they were. [`needed_secrets`] lists each by
//! kind and place; [`fill`] puts the user's values back, encoded for where
//! they go (a JSON string, a query or form value, a header).
use std::collections::{BTreeMap, HashSet};
use std::fmt;

use bytes::Bytes;
use time::OffsetDateTime;

use crate::exchange::{Body, Request};
use crate::fix::{self, FixPolicy};
use crate::redact::is_fingerprint;
use crate::report::{Finding, FixRecord};
use crate::spec::trakt::{Operation, API_HOSTS};
use crate::text::host_and_path;

/// A kind of secret the redaction replaces, as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretKind {
    /// An OAuth access token (`Authorization: Bearer`).
    AccessToken,
    /// An OAuth refresh token.
    RefreshToken,
    /// The OAuth client secret.
    ClientSecret,
    /// An OAuth authorization code.
    OAuthCode,
    /// A device code of the device flow.
    DeviceCode,
    /// A PKCE code verifier.
    CodeVerifier,
    /// Stremio's session key (`authKey`).
    AuthKey,
    /// An OpenID id token.
    IdToken,
    /// A password.
    Password,
    /// Anything else that was redacted (a cookie, another auth scheme):
    /// supply the whole header with `--header` instead.
    Credential,
}

impl SecretKind {
    /// Every kind, in the order the user is asked for them.
    pub const ALL: [SecretKind; 10] = [
        SecretKind::AccessToken,
        SecretKind::RefreshToken,
        SecretKind::ClientSecret,
        SecretKind::OAuthCode,
        SecretKind::DeviceCode,
        SecretKind::CodeVerifier,
        SecretKind::AuthKey,
        SecretKind::IdToken,
        SecretKind::Password,
        SecretKind::Credential,
    ];

    /// The name people use ("access token").
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "access token",
            SecretKind::RefreshToken => "refresh token",
            SecretKind::ClientSecret => "client secret",
            SecretKind::OAuthCode => "OAuth code",
            SecretKind::DeviceCode => "device code",
            SecretKind::CodeVerifier => "code verifier",
            SecretKind::AuthKey => "authKey",
            SecretKind::IdToken => "ID token",
            SecretKind::Password => "password",
            SecretKind::Credential => "credential",
        }
    }

    /// The identifier for `--secret ID=VALUE` and forms.
    pub fn id(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "access_token",
            SecretKind::RefreshToken => "refresh_token",
            SecretKind::ClientSecret => "client_secret",
            SecretKind::OAuthCode => "code",
            SecretKind::DeviceCode => "device_code",
            SecretKind::CodeVerifier => "code_verifier",
            SecretKind::AuthKey => "auth_key",
            SecretKind::IdToken => "id_token",
            SecretKind::Password => "password",
            SecretKind::Credential => "credential",
        }
    }

    /// The environment variable that may hold it (also what copy-as-curl writes).
    pub fn env_var(self) -> &'static str {
        match self {
            SecretKind::AccessToken => "TRAKT_ACCESS_TOKEN",
            SecretKind::RefreshToken => "TRAKT_REFRESH_TOKEN",
            SecretKind::ClientSecret => "TRAKT_CLIENT_SECRET",
            SecretKind::OAuthCode => "TRAKT_OAUTH_CODE",
            SecretKind::DeviceCode => "TRAKT_DEVICE_CODE",
            SecretKind::CodeVerifier => "TRAKT_CODE_VERIFIER",
            SecretKind::AuthKey => "STREMIO_AUTH_KEY",
            SecretKind::IdToken => "TRAKT_ID_TOKEN",
            SecretKind::Password => "TRAKT_PASSWORD",
            SecretKind::Credential => "TRAKT_CREDENTIAL",
        }
    }

    /// Reads a kind from its id, its environment variable or its name, in
    /// any case, with `-`, `_` and spaces alike (`refresh-token`, `authKey`).
    pub fn parse(raw: &str) -> Option<SecretKind> {
        let norm = |s: &str| -> String {
            s.chars()
                .filter(|c| !matches!(c, '-' | '_' | ' '))
                .flat_map(char::to_lowercase)
                .collect()
        };
        let wanted = norm(raw);
        SecretKind::ALL.into_iter().find(|kind| {
            [kind.id(), kind.env_var(), kind.name()]
                .iter()
                .any(|n| norm(n) == wanted)
                || wanted == "oauthcode" && *kind == SecretKind::OAuthCode
                || wanted == "authkey" && *kind == SecretKind::AuthKey
        })
    }

    /// The kind of the value of a secret JSON key, form field or query parameter.
    fn of_key(key: &str) -> SecretKind {
        match key.to_ascii_lowercase().as_str() {
            // `token` is what /oauth/revoke and Stremio's watched.json take: the access token.
            "access_token" | "token" => SecretKind::AccessToken,
            "refresh_token" => SecretKind::RefreshToken,
            "client_secret" => SecretKind::ClientSecret,
            "code" => SecretKind::OAuthCode,
            "device_code" => SecretKind::DeviceCode,
            "code_verifier" => SecretKind::CodeVerifier,
            "authkey" => SecretKind::AuthKey,
            "id_token" => SecretKind::IdToken,
            "password" => SecretKind::Password,
            _ => SecretKind::Credential,
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a redacted secret sits in a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// The URL (its query).
    Url,
    /// The header field's lower-cased name.
    Header(String),
    /// The body.
    Body,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Url => f.write_str("the URL"),
            Place::Header(name) => write!(f, "the {name} header"),
            Place::Body => f.write_str("the body"),
        }
    }
}

/// A secret a record lacks: its kind, the fingerprint standing in for it,
/// and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NeededSecret {
    /// Which kind of secret.
    pub kind: SecretKind,
    /// The fingerprint the record holds in its place.
    pub fingerprint: String,
    /// Where it sits.
    pub place: Place,
}

/// The fingerprints in `text`: each one's byte range, in one pass.
pub(crate) fn fingerprints(text: &str) -> Vec<(usize, usize)> {
    const LEN: usize = "sha256:".len() + 8;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find("sha256:")) {
        let start = from.saturating_add(found);
        let end = start.saturating_add(LEN);
        let whole = text.get(start..end).is_some_and(is_fingerprint)
            && !text
                .as_bytes()
                .get(end)
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if whole {
            out.push((start, end));
        }
        from = start.saturating_add(1);
    }
    out
}

/// The key a value at `start` belongs to: the word before `"key": "`,
/// `\"key\":\"` or `key=`.
fn key_before(text: &str, start: usize) -> &str {
    let head = text.get(..start).unwrap_or_default();
    let key_end = head.trim_end_matches(['"', '\\', ':', '=', ' ']).len();
    let key_head = head.get(..key_end).unwrap_or_default();
    let key_start = key_head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i.saturating_add(1));
    key_head.get(key_start..).unwrap_or_default()
}

/// The secrets `request` lacks (fingerprints where secrets were), once
/// each, in the order they appear: time linear in the request's size (a
/// set, not a search of the list, tells which were seen).
pub fn needed_secrets(request: &Request) -> Vec<NeededSecret> {
    let mut out: Vec<NeededSecret> = Vec::new();
    let mut seen: HashSet<NeededSecret> = HashSet::new();
    let mut add = |kind: SecretKind, text: &str, (start, end): (usize, usize), place: Place| {
        let fingerprint = text.get(start..end).unwrap_or_default().to_string();
        let needed = NeededSecret {
            kind,
            fingerprint,
            place,
        };
        if !seen.contains(&needed) {
            seen.insert(needed.clone());
            out.push(needed);
        }
    };
    for span in fingerprints(&request.url) {
        let kind = SecretKind::of_key(&crate::text::percent_decode(key_before(
            &request.url,
            span.0,
        )));
        add(kind, &request.url, span, Place::Url);
    }
    for (name, value) in request.headers.iter() {
        for span in fingerprints(value) {
            let bearer = name == "authorization"
                && value
                    .trim_start()
                    .get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer "));
            let kind = if bearer {
                SecretKind::AccessToken
            } else {
                SecretKind::Credential
            };
            add(kind, value, span, Place::Header(name.to_string()));
        }
    }
    if let Some(text) = request.body.text() {
        for span in fingerprints(text) {
            let kind = SecretKind::of_key(key_before(text, span.0));
            add(kind, text, span, Place::Body);
        }
    }
    out
}

/// Secret values the user supplied, by kind. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<SecretKind, String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values themselves are never shown.
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    /// No secrets.
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Supplies the secret of `kind`.
    pub fn set(&mut self, kind: SecretKind, value: impl Into<String>) {
        self.0.insert(kind, value.into());
    }

    /// The secret of `kind`, if supplied.
    pub fn get(&self, kind: SecretKind) -> Option<&str> {
        self.0.get(&kind).map(String::as_str)
    }

    /// Whether the secret of `kind` was supplied.
    pub fn contains(&self, kind: SecretKind) -> bool {
        self.0.contains_key(&kind)
    }

    /// Parses `NAME=VALUE` (`--secret refresh_token=…`).
    pub fn parse_assignment(raw: &str) -> Result<(SecretKind, String), String> {
        let (name, value) = raw
            .split_once('=')
            .ok_or_else(|| format!("`{}` is not NAME=VALUE", name_only(raw)))?;
        let kind = SecretKind::parse(name).ok_or_else(|| {
            format!(
                "`{name}` is not a secret trakt-doctor knows; one of: {}",
                SecretKind::ALL.map(SecretKind::id).join(", ")
            )
        })?;
        Ok((kind, value.to_string()))
    }
}

/// What the user typed before a value, never the value itself.
fn name_only(raw: &str) -> &str {
    raw.split_once('=').map_or("…", |(name, _)| name)
}

/// `value` as it is written at a spot whose text begins right after `head`:
/// inside a JSON string (escaped once more inside JSON held in a JSON
/// string), as a query or form value (percent-encoded), or as is.
fn encoded_for(head: &str, value: &str, place: &Place) -> String {
    let json = |v: &str| {
        let quoted = serde_json::to_string(v).unwrap_or_default();
        quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or_default()
            .to_string()
    };
    match place {
        Place::Header(_) => value.to_string(),
        _ if head.ends_with("\\\"") => json(&json(value)),
        _ if head.ends_with('"') => json(value),
        _ if head.ends_with('=') => percent_encode(value),
        _ => value.to_string(),
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Replaces each fingerprint of `wanted` in `text` by its value.
fn fill_text(text: &str, place: &Place, values: &BTreeMap<&str, &str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in fingerprints(text) {
        let Some(value) = text.get(start..end).and_then(|fp| values.get(fp)) else {
            continue;
        };
        out.push_str(text.get(copied..start).unwrap_or_default());
        out.push_str(&encoded_for(
            text.get(..start).unwrap_or_default(),
            value,
            place,
        ));
        copied = end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// The supplied secrets that are not the ones recorded: `(kind, recorded
/// fingerprint, the given value's fingerprint)`, for a warning (the user
/// may mean to send a newer token). `fingerprint` must be the key the
/// record was made with; a value recorded with escapes may differ
/// harmlessly.
pub fn not_as_recorded(
    needed: &[NeededSecret],
    secrets: &Secrets,
    fingerprint: impl Fn(&str) -> String,
) -> Vec<(SecretKind, String, String)> {
    needed
        .iter()
        .filter_map(|n| {
            let given = fingerprint(secrets.get(n.kind)?);
            (given != n.fingerprint).then(|| (n.kind, n.fingerprint.clone(), given))
        })
        .collect()
}

/// Why a request cannot be resent (yet).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Only the first bytes of the body were captured.
    Truncated {
        /// The bytes captured.
        captured: usize,
        /// The body's whole size.
        size: u64,
    },
    /// The record lacks these secrets: supply them by name.
    MissingSecrets(Vec<NeededSecret>),
    /// A supplied value or header cannot be sent.
    Invalid(String),
    /// A single-use secret (OAuth code, refresh token) was already spent;
    /// forcing sends it anyway.
    Spent(Vec<Finding>),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Truncated { captured, size } => write!(
                f,
                "the request body was cut at the capture limit ({captured} of {size} bytes \
                 captured), so it cannot be resent as captured (raise --capture-limit)"
            ),
            Refusal::MissingSecrets(needed) => {
                let names: Vec<String> = needed
                    .iter()
                    .map(|n| match n.kind {
                        SecretKind::Credential => format!(
                            "the {} in {} (supply the whole header with --header)",
                            n.fingerprint, n.place
                        ),
                        kind => format!(
                            "the {kind} ({}) in {}: --secret {}=… or ${}",
                            n.fingerprint,
                            n.place,
                            kind.id(),
                            kind.env_var()
                        ),
                    })
                    .collect();
                write!(
                    f,
                    "the record holds fingerprints, not the secrets, so it needs: {}",
                    names.join("; ")
                )
            }
            Refusal::Invalid(why) => f.write_str(why),
            Refusal::Spent(findings) => {
                let said: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
                write!(
                    f,
                    "{}; sending it again will fail with invalid_grant (force the resend to send it anyway)",
                    said.join("; ")
                )
            }
        }
    }
}

/// What to change before resending.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    /// Header fields that replace every field of their name (or are added).
    pub headers: Vec<(String, String)>,
    /// Values for the secrets a record lacks.
    pub secrets: Secrets,
}

/// Header fields a resend does not copy: the message framing and the
/// connection are the new request's own.
const NOT_COPIED: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// Puts the user's secret values where `request` has their fingerprints;
/// refuses, naming them, when some are missing.
pub fn fill(request: &Request, secrets: &Secrets) -> Result<Request, Refusal> {
    let needed = needed_secrets(request);
    let missing: Vec<NeededSecret> = needed
        .iter()
        .filter(|n| n.kind == SecretKind::Credential || !secrets.contains(n.kind))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::MissingSecrets(missing));
    }
    for (kind, value) in &secrets.0 {
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(Refusal::Invalid(format!(
                "the {kind} given is empty or holds control characters"
            )));
        }
    }
    let values: BTreeMap<&str, &str> = needed
        .iter()
        .filter_map(|n| Some((n.fingerprint.as_str(), secrets.get(n.kind)?)))
        .collect();
    if values.is_empty() {
        return Ok(request.clone());
    }
    let mut filled = request.clone();
    filled.url = fill_text(&request.url, &Place::Url, &values);
    for (name, value) in &mut filled.headers.0 {
        *value = fill_text(value, &Place::Header(name.clone()), &values);
    }
    if let Some(text) = request.body.text() {
        let body = fill_text(text, &Place::Body, &values);
        if body != text {
            filled.body = Body::complete(Bytes::from(body));
        }
    }
    Ok(filled)
}

/// Replaces (or adds) header fields: each named field loses its other values.
pub fn override_headers(request: &mut Request, overrides: &[(String, String)]) {
    for (name, value) in overrides {
        let name = name.trim().to_ascii_lowercase();
        request.headers.0.retain(|(n, _)| *n != name);
        request.headers.0.push((name, value.trim().to_string()));
    }
}

/// Parses a `Name: value` header line (`--header`).
pub fn parse_header(raw: &str) -> Result<(String, String), String> {
    let (name, value) = raw.split_once(':').ok_or_else(|| {
        format!(
            "`{}` is not `Name: value`",
            raw.split(':').next().unwrap_or_default()
        )
    })?;
    let valid_name = !name.trim().is_empty()
        && name
            .trim()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name || value.chars().any(|c| c == '\r' || c == '\n') {
        return Err(format!("`{}` is not a valid header field", name.trim()));
    }
    Ok((name.trim().to_ascii_lowercase(), value.trim().to_string()))
}

/// The request a resend sends (before auto-fix's repairs, which the shell
/// applies through the inspection as auto-fix mode does): the source with
/// the edits made and its secrets filled in. Refused when the body was cut
/// at the capture limit, when secrets are missing, or when the URL is not
/// an absolute http(s) URL.
pub fn prepare(source: &Request, edits: &Edits) -> Result<Request, Refusal> {
    if source.body.truncated {
        return Err(Refusal::Truncated {
            captured: source.body.bytes.len(),
            size: source.body.size,
        });
    }
    let absolute = source
        .uri()
        .is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !absolute {
        // Only the URL's start: its query (and userinfo) may hold secrets.
        let shown = crate::redact::without_userinfo(&source.url);
        let shown = shown.split(['?', '#']).next().unwrap_or_default();
        return Err(Refusal::Invalid(format!(
            "`{}` is not an absolute http(s) URL",
            shown
        )));
    }
    let mut request = source.clone();
    // The record holds the decoded body: it goes out uncompressed.
    crate::exchange::coding::send_decoded(&mut request.headers, &mut request.body);
    request
        .headers
        .0
        .retain(|(name, _)| !NOT_COPIED.contains(&name.as_str()));
    override_headers(&mut request, &edits.headers);
    fill(&request, &edits.secrets)
}

/// The request with auto-fix's repairs (every rule that has one) and what
/// they changed, as the web view previews "Resend with fixes" and copy as
/// curl writes the fixed version. Linting and fixing only: the session
/// rules need the shell's state.
pub fn with_fixes(request: &Request, at: OffsetDateTime) -> (Request, Vec<FixRecord>) {
    let mut findings = crate::lint::check(request, at);
    match fix::apply(request, &mut findings, &FixPolicy::All) {
        Some((fixed, records)) => (fixed, records),
        None => (request.clone(), Vec::new()),
    }
}

/// Whether sending `method` may change something on the server.
pub(crate) fn is_write(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    )
}

/// What resending a write will change, in a sentence for the confirmation
/// ("This will add entries to your Trakt watched history."); `None` for a
/// read, which is resent without asking.
pub fn describe_write(request: &Request) -> Option<String> {
    let method = request.method.to_ascii_uppercase();
    if !is_write(&method) {
        return None;
    }
    let (host, path) = host_and_path(&request.url);
    let what = if API_HOSTS.contains(&host.as_ref()) || host == "auth.trakt.tv" {
        trakt_effect(&method, path)
    } else if host.ends_with("strem.io") {
        format!("send {method} {path} to Stremio's API, which may change your Stremio account or library")
    } else {
        format!("send {method} {path} to {host}, which may change data there")
    };
    Some(format!("This will {what}."))
}

/// What a write to Trakt's API at `path` changes on the user's account.
fn trakt_effect(method: &str, path: &str) -> String {
    let removes = path.ends_with("/remove") || method == "DELETE";
    let on = |thing: &str| {
        if removes {
            format!("remove {thing} from your Trakt account")
        } else {
            format!("add {thing} to your Trakt account")
        }
    };
    match Operation::of(path) {
        Some(Operation::ScrobbleStart) => {
            return "start a scrobble on your Trakt account (shown as watching now)".into()
        }
        Some(Operation::ScrobblePause) => {
            return "pause a scrobble on your Trakt account (saved as playback progress)".into()
        }
        Some(Operation::ScrobbleStop) => {
            return "stop a scrobble on your Trakt account (at 80 % or more it adds a history entry)"
                .into()
        }
        Some(Operation::Checkin) if method == "DELETE" => {
            return "cancel the check-in in progress on your Trakt account".into()
        }
        Some(Operation::Checkin) => {
            return "check you in on your Trakt account (shown as watching now, then added to your history)".into()
        }
        Some(Operation::OAuthToken | Operation::DeviceToken) => {
            return "exchange an OAuth code or refresh token for new tokens: each works only once, so the one your app holds may stop working".into()
        }
        Some(Operation::OAuthRevoke) => {
            return "revoke the access token: the app signed in with it is signed out".into()
        }
        Some(Operation::DeviceCode) => {
            return "start a new device sign-in (a new code to enter on trakt.tv)".into()
        }
        None => {}
    }
    let section = |name: &str| path.starts_with(&format!("/sync/{name}"));
    if section("history") {
        on("history entries (watched plays)")
    } else if section("ratings") {
        on("ratings")
    } else if section("watchlist") {
        on("watchlist items")
    } else if section("collection") {
        on("collection items")
    } else if section("favorites") {
        on("favorites")
    } else if section("playback") {
        "remove a saved playback progress from your Trakt account".into()
    } else if path.contains("/lists") {
        format!("change your lists on Trakt ({method} {path})")
    } else if path.starts_with("/comments") || path.contains("/comments") {
        format!("post or change a comment on Trakt ({method} {path})")
    } else {
        format!("send {method} {path} to Trakt, which may change your account")
    }
}

/// A finding list's single-use secrets that were spent, as a refusal
/// (unless forced); `None` when nothing was spent.
pub fn refuse_spent(spent: Vec<Finding>, force: bool) -> Option<Refusal> {
    (!spent.is_empty() && !force).then_some(Refusal::Spent(spent))
}

/// Where a restored secret may be sent: an https origin (host and port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretOrigin {
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl SecretOrigin {
    /// `host` or `host:port` (443 when no port is given), as `--allow-host` takes it.
    pub fn parse(raw: &str) -> Result<SecretOrigin, String> {
        let raw = raw.trim().trim_end_matches('.');
        let (host, port) = match raw.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => (
                host.trim_start_matches('[').trim_end_matches(']'),
                port.parse::<u16>()
                    .map_err(|_| format!("`{port}` in `{raw}` is not a port number"))?,
            ),
            _ => (raw, 443),
        };
        if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
            return Err(format!("`{raw}` is not HOST or HOST:PORT"));
        }
        Ok(SecretOrigin {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The intercepted hosts on https's port: where captured secrets come from.
    pub fn https(hosts: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<SecretOrigin> {
        hosts
            .into_iter()
            .map(|h| SecretOrigin {
                host: h.as_ref().to_ascii_lowercase(),
                port: 443,
            })
            .collect()
    }
}

impl fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == 443 {
            f.write_str(&self.host)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A request's scheme, host and port, or why it has none. The message
/// never holds the URL's path or query: they may carry secrets.
fn origin_of(request: &Request) -> Result<(String, String, u16), Refusal> {
    let uri = request
        .uri()
        .filter(|u| u.host().is_some())
        .ok_or_else(|| {
            Refusal::Invalid("the request's URL is not an absolute http(s) URL".into())
        })?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Ok((scheme, host, port))
}

/// Secrets put back into a request (from the user, the environment or the
/// proxy's memory) go only over https to one of `allowed`: a shared log or
/// HAR is untrusted input, and its URL must not carry them anywhere else.
/// The refusal names the destination (scheme, host and port, nothing of
/// the path or query) and the allowed ones.
pub fn ensure_secret_destination(
    request: &Request,
    allowed: &[SecretOrigin],
) -> Result<(), Refusal> {
    let (scheme, host, port) = origin_of(request)?;
    let fits = scheme == "https" && allowed.iter().any(|o| o.host == host && o.port == port);
    if fits {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    Err(Refusal::Invalid(format!(
        "secrets are put back only into https requests to where they were captured ({}), \
         and this one goes to {scheme}://{host}:{port}",
        names.join(", ")
    )))
}

/// Where each fingerprint of `request` stands: the part (URL, a header, the
/// body) and the key it is the value of (a query or JSON key, `""` in a path).
fn fingerprint_spots(request: &Request) -> Vec<(Place, String, String)> {
    let mut spots = Vec::new();
    let mut scan = |text: &str, place: Place| {
        for (start, end) in fingerprints(text) {
            let key = spot_key(text, start, &place);
            let fingerprint = text.get(start..end).unwrap_or_default().to_string();
            spots.push((place.clone(), key, fingerprint));
        }
    };
    scan(&request.url, Place::Url);
    for (name, value) in request.headers.iter() {
        scan(value, Place::Header(name.to_string()));
    }
    if let Some(text) = request.body.text() {
        scan(text, Place::Body);
    }
    spots
}

fn spot_key(text: &str, start: usize, place: &Place) -> String {
    let key = key_before(text, start);
    match place {
        Place::Url => crate::text::percent_decode(key),
        _ => key.to_string(),
    }
}

/// `request` (an edited draft) with each fingerprint of `known` (mapped to
/// the secret's text as recorded) turned back into it only where `recorded` had that fingerprint: the same
/// part and key. Moved anywhere else (a path, another header, an unknown
/// query or JSON key) it stays a fingerprint, so no secret goes where the
/// redactor would not find it in the new record.
pub fn restore_in_place(
    mut request: Request,
    recorded: &Request,
    known: &std::collections::HashMap<String, String>,
) -> Request {
    if known.is_empty() {
        return request;
    }
    let spots = fingerprint_spots(recorded);
    let restore = |text: &str, place: &Place| -> String {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in fingerprints(text) {
            let fingerprint = text.get(start..end).unwrap_or_default();
            let key = spot_key(text, start, place);
            let recorded_here = spots
                .iter()
                .any(|(p, k, f)| p == place && *k == key && f == fingerprint);
            let Some(secret) = known.get(fingerprint).filter(|_| recorded_here) else {
                continue;
            };
            // `known` holds each secret as the text it was (escapes and
            // percent-encoding kept): it goes back byte for byte.
            out.push_str(text.get(copied..start).unwrap_or_default());
            out.push_str(secret);
            copied = end;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    };
    request.url = restore(&request.url, &Place::Url);
    for (name, value) in &mut request.headers.0 {
        *value = restore(value, &Place::Header(name.clone()));
    }
    if let Some(text) = request.body.text() {
        let restored = restore(text, &Place::Body);
        if restored != text {
            request.body = Body::complete(Bytes::from(restored));
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Headers;
    use crate::redact::Redactor;

    const AT: OffsetDateTime = time::macros::datetime!(2026-11-25 12:00 UTC);

    fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(headers),
            body: Body::complete(Bytes::from(body.to_string())),
        }
    }

    fn redacted(request: &Request) -> Request {
        let redactor = Redactor::new(b"k");
        let mut ex: crate::exchange::Exchange = serde_json::from_value(serde_json::json!({
            "id": 1, "started_at": "2026-11-25T12:00:00Z", "duration_ms": 1.0,
            "request": request}))
        .unwrap();
        redactor.exchange(&mut ex);
        ex.request
    }

    const REFRESH: &str = r#"{"refresh_token":"R-1\"x","client_id":"id","client_secret":"S/2","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"refresh_token"}"#;

    #[test]
    fn a_redacted_record_names_each_secret_it_lacks_and_filling_restores_the_original() {
        let original = request(
            "POST",
            "https://api.trakt.tv/oauth/token?code=C%2B1&x=1",
            &[
                ("authorization", "Bearer A1"),
                ("content-type", "application/json"),
                ("cookie", "s=1"),
            ],
            REFRESH,
        );
        let record = redacted(&original);
        let needed = needed_secrets(&record);
        let kinds: Vec<(SecretKind, &Place)> = needed.iter().map(|n| (n.kind, &n.place)).collect();
        assert_eq!(
            kinds,
            [
                (SecretKind::OAuthCode, &Place::Url),
                (
                    SecretKind::AccessToken,
                    &Place::Header("authorization".into())
                ),
                (SecretKind::Credential, &Place::Header("cookie".into())),
                (SecretKind::RefreshToken, &Place::Body),
                (SecretKind::ClientSecret, &Place::Body),
            ]
        );
        assert!(needed.iter().all(|n| is_fingerprint(&n.fingerprint)));
        // Without the cookie's header, the values restore the exact request.
        let mut secrets = Secrets::new();
        secrets.set(SecretKind::OAuthCode, "C+1");
        secrets.set(SecretKind::AccessToken, "A1");
        secrets.set(SecretKind::RefreshToken, "R-1\"x");
        secrets.set(SecretKind::ClientSecret, "S/2");
        let missing = fill(&record, &secrets).unwrap_err();
        assert!(
            matches!(&missing, Refusal::MissingSecrets(m) if m.len() == 1 && m[0].kind == SecretKind::Credential),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("--header"), "{missing}");
        let edits = Edits {
            headers: vec![("Cookie".into(), "s=1".into())],
            secrets,
        };
        let sent = prepare(&record, &edits).unwrap();
        assert_eq!(sent.url, "https://api.trakt.tv/oauth/token?code=C%2B1&x=1");
        assert_eq!(sent.headers.get("authorization"), Some("Bearer A1"));
        assert_eq!(sent.headers.get("cookie"), Some("s=1"));
        assert_eq!(sent.body.text(), Some(REFRESH));
        assert_eq!(sent.body.json(), original.body.json());
    }

    #[test]
    fn missing_secrets_are_named_with_their_flag_and_variable() {
        let record = redacted(&request(
            "POST",
            "https://api.strem.io/api/datastorePut",
            &[],
            r#"{"authKey":"K1","collection":"libraryItem"}"#,
        ));
        let refusal = prepare(&record, &Edits::default()).unwrap_err();
        let said = refusal.to_string();
        assert!(
            said.contains("authKey")
                && said.contains("STREMIO_AUTH_KEY")
                && said.contains("--secret auth_key="),
            "{said}"
        );
        assert!(!said.contains("K1"));
    }

    #[test]
    fn secrets_inside_json_held_in_a_json_string_are_escaped_twice() {
        let original = request(
            "POST",
            "https://api.trakt.tv/x",
            &[],
            r#"{"body":"{\"access_token\":\"a\\\\b\"}"}"#,
        );
        let record = redacted(&original);
        assert_eq!(needed_secrets(&record)[0].kind, SecretKind::AccessToken);
        let mut secrets = Secrets::new();
        secrets.set(SecretKind::AccessToken, "a\\b");
        let filled = fill(&record, &secrets).unwrap();
        assert_eq!(filled.body.text(), original.body.text());
    }

    #[test]
    fn restored_secrets_go_only_over_https_to_an_allowed_origin() {
        let allowed = SecretOrigin::https(["api.trakt.tv", "api.strem.io"]);
        let to = |url: &str| ensure_secret_destination(&request("GET", url, &[], ""), &allowed);
        assert!(to("https://api.trakt.tv/sync/history").is_ok());
        assert!(to("https://API.trakt.tv.:443/x").is_ok());
        for url in [
            "http://api.trakt.tv/sync/history",
            "https://api.trakt.tv:8443/sync/history",
            "https://evil.example/api.trakt.tv",
            "https://api.trakt.tv.evil.example/",
            "/sync/history?access_token=s3cret",
        ] {
            let refused = to(url).unwrap_err().to_string();
            assert!(
                !refused.contains("s3cret") && !refused.contains("/sync"),
                "{refused}"
            );
        }
        assert_eq!(
            SecretOrigin::parse("127.0.0.1:8443"),
            Ok(SecretOrigin {
                host: "127.0.0.1".into(),
                port: 8443
            })
        );
        assert_eq!(SecretOrigin::parse("my.server").map(|o| o.port), Ok(443));
        assert!(SecretOrigin::parse("https://x/").is_err());
        assert!(SecretOrigin::parse("x:99999").is_err());
    }

    #[test]
    fn a_truncated_body_cannot_be_resent_as_captured() {
        let mut cut = request(
            "POST",
            "https://api.trakt.tv/sync/history",
            &[],
            "{\"movies\":[",
        );
        cut.body.size = 5_000_000;
        cut.body.truncated = true;
        let refusal = prepare(&cut, &Edits::default()).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::Truncated {
                captured: 11,
                size: 5_000_000
            }
        ));
        assert!(refusal.to_string().contains("capture limit"));
    }

    #[test]
    fn a_live_original_goes_as_captured_without_framing_headers() {
        let original = request(
            "GET",
            "https://api.trakt.tv/users/settings",
            &[
                ("host", "api.trakt.tv"),
                ("authorization", "Bearer A1"),
                ("content-length", "0"),
            ],
            "",
        );
        let sent = prepare(&original, &Edits::default()).unwrap();
        assert_eq!(
            sent.headers,
            Headers::from_pairs(&[("authorization", "Bearer A1")])
        );
        let edited = prepare(
            &original,
            &Edits {
                headers: vec![parse_header("Authorization: Bearer B2").unwrap()],
                ..Edits::default()
            },
        )
        .unwrap();
        assert_eq!(edited.headers.get("authorization"), Some("Bearer B2"));
        assert!(parse_header("X-A\r\nB: c").is_err() && parse_header("nocolon").is_err());
        assert!(prepare(&request("GET", "/relative", &[], ""), &Edits::default()).is_err());
    }

    #[test]
    fn with_fixes_applies_what_auto_fix_would() {
        let bad = request(
            "POST",
            "https://api.trakt.tv/sync/history",
            &[
                ("user-agent", "App/1.0"),
                (
                    "trakt-api-key",
                    "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
                ),
                ("authorization", "Bearer A1"),
                ("content-type", "application/json"),
            ],
            r#"{"movies":[{"ids":{"trakt":1}}]}"#,
        );
        let (fixed, records) = with_fixes(&bad, AT);
        assert_eq!(fixed.headers.get("trakt-api-version"), Some("2"));
        assert!(records
            .iter()
            .any(|r| r.rule.as_str() == "header.api-version.missing"));
        let (same, none) = with_fixes(&fixed, AT);
        assert!(none.is_empty());
        assert_eq!(same, fixed);
    }

    #[test]
    fn writes_say_what_they_change_and_reads_say_nothing() {
        let say = |method: &str, path: &str| {
            describe_write(&request(
                method,
                &format!("https://api.trakt.tv{path}"),
                &[],
                "",
            ))
        };
        assert_eq!(say("GET", "/sync/history"), None);
        assert!(say("POST", "/sync/history")
            .unwrap()
            .contains("add history entries"));
        assert!(say("POST", "/sync/history/remove")
            .unwrap()
            .contains("remove history"));
        assert!(say("POST", "/sync/ratings").unwrap().contains("ratings"));
        assert!(say("POST", "/scrobble/stop")
            .unwrap()
            .contains("history entry"));
        assert!(say("POST", "/oauth/token").unwrap().contains("only once"));
        assert!(say("DELETE", "/checkin").unwrap().contains("cancel"));
        let stremio = describe_write(&request(
            "POST",
            "https://api.strem.io/api/datastorePut",
            &[],
            "",
        ));
        assert!(stremio.unwrap().contains("Stremio"));
    }

    #[test]
    fn secrets_other_than_the_recorded_ones_are_told_apart() {
        let redactor = Redactor::new(b"k");
        let record = redacted(&request(
            "GET",
            "https://api.trakt.tv/users/settings",
            &[("authorization", "Bearer A1")],
            "",
        ));
        let needed = needed_secrets(&record);
        let mut secrets = Secrets::new();
        secrets.set(SecretKind::AccessToken, "A1");
        assert!(not_as_recorded(&needed, &secrets, |s| redactor.fingerprint(s)).is_empty());
        secrets.set(SecretKind::AccessToken, "A2");
        let differ = not_as_recorded(&needed, &secrets, |s| redactor.fingerprint(s));
        assert_eq!(differ.len(), 1);
        assert_eq!(differ[0].0, SecretKind::AccessToken);
        assert_eq!(differ[0].2, redactor.fingerprint("A2"));
    }

    #[test]
    fn secret_names_are_read_leniently() {
        for raw in [
            "access_token",
            "access-token",
            "TRAKT_ACCESS_TOKEN",
            "Access Token",
        ] {
            assert_eq!(
                SecretKind::parse(raw),
                Some(SecretKind::AccessToken),
                "{raw}"
            );
        }
        assert_eq!(SecretKind::parse("authKey"), Some(SecretKind::AuthKey));
        assert_eq!(SecretKind::parse("oauth-code"), Some(SecretKind::OAuthCode));
        assert_eq!(SecretKind::parse("nope"), None);
        let (kind, value) = Secrets::parse_assignment("refresh-token=a=b").unwrap();
        assert_eq!((kind, value.as_str()), (SecretKind::RefreshToken, "a=b"));
        let err = Secrets::parse_assignment("bogus=SECRETVALUE").unwrap_err();
        assert!(!err.contains("SECRETVALUE"), "{err}");
        let mut secrets = Secrets::new();
        secrets.set(SecretKind::AccessToken, "SECRETVALUE");
        assert!(!format!("{secrets:?}").contains("SECRETVALUE"));
    }
}
