//! OAuth rules: the token exchange and refresh, revoke, the device flow,
//! and the authorize page (which lives on the website host, not the API).
use serde_json::{Map, Value};

use super::{Contract, Finding, ParsedBody, Rule, Scope, Severity, Subject};
use crate::report::Fix;
use crate::spec::trakt::BodyShape;

pub(crate) const TOKEN_FIELD_MISSING: Rule = Rule {
    id: "oauth.token.field-missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`/oauth/token` lacks a field its grant needs (code, refresh_token, client_id, redirect_uri, grant_type; a code exchange also `client_secret` or PKCE's `code_verifier`).",
    why: "Trakt answers 400 (`invalid_request` / `invalid_grant`) to an incomplete exchange; the user then has to link again. A code exchange proves the app with its `client_secret` or, with PKCE, its `code_verifier` (Trakt's contract, projects/api/src/contracts/oauth; PKCE on the live API: trakt/trakt-api#367).",
    bad: "{\"code\":\"...\",\"client_id\":\"...\",\"grant_type\":\"authorization_code\"}",
    good: "{\"code\":\"...\",\"client_id\":\"...\",\"client_secret\":\"...\",\"redirect_uri\":\"urn:ietf:wg:oauth:2.0:oob\",\"grant_type\":\"authorization_code\"}",
    autofix: None,
    source: "Trakt contract: POST /oauth/token requires `code` or `refresh_token`, `client_id`, `client_secret`, `redirect_uri` and `grant_type` (contracts/oauth/schema/request/tokenRequestSchema.ts, tokenRefreshSchema.ts); Maintainer: trakt/trakt-api#367 (PKCE's `code_verifier` works on the live API in place of `client_secret`)",
};

pub(crate) const GRANT_TYPE: Rule = Rule {
    id: "oauth.token.grant-type",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`grant_type` is not `authorization_code` or `refresh_token`.",
    why: "Trakt supports only these two grants on `/oauth/token`; others get 400 `unsupported_grant_type`.",
    bad: "{\"grant_type\":\"password\", ...}",
    good: "{\"grant_type\":\"refresh_token\", \"refresh_token\":\"...\", ...}",
    autofix: None,
    source: "Trakt contract: the two POST /oauth/token bodies, `grant_type` `authorization_code` and `refresh_token` (contracts/oauth/schema/request/tokenRequestSchema.ts, tokenRefreshSchema.ts); trakt-doctor's own reading: the `unsupported_grant_type` answer",
};

pub(crate) const DEVICE_FIELD_MISSING: Rule = Rule {
    id: "oauth.device.field-missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A device-flow call lacks `client_id` (code), or `code`/`client_id` (token).",
    why: "Trakt answers 400 or 404 (invalid device_code) and the user never gets a code to enter at trakt.tv/activate.",
    bad: "POST /oauth/device/token {\"client_id\":\"...\"}",
    good: "POST /oauth/device/token {\"code\":\"<device_code>\",\"client_id\":\"...\",\"client_secret\":\"...\"}",
    autofix: None,
    source: "Trakt contract: POST /oauth/device/code requires `client_id`, POST /oauth/device/token `code`, `client_id` and `client_secret`, and contracts/oauth/index.ts answers 404 to an invalid device_code",
};

pub(crate) const REVOKE_FIELD_MISSING: Rule = Rule {
    id: "oauth.revoke.field-missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`/oauth/revoke` lacks `token` or `client_id`.",
    why:
        "Without them Trakt cannot revoke the token: it stays valid and the app connection lingers.",
    bad: "{\"token\":\"...\"}",
    good: "{\"token\":\"...\",\"client_id\":\"...\",\"client_secret\":\"...\"}",
    autofix: None,
    source: "Trakt contract: POST /oauth/revoke requires `token`, `client_id` and `client_secret` (contracts/oauth/index.ts)",
};

pub(crate) const CLIENT_SECRET_MISSING: Rule = Rule {
    id: "oauth.client-secret.missing",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A refresh, device-token or revoke call sends no `client_secret` (and no PKCE `code_verifier`).",
    why: "Trakt's contract lists `client_secret` on these calls, and an app that was issued a secret gets 401 `invalid_client` without it. But PKCE works on the live API with `code_verifier` in place of the secret (trakt/trakt-api#367, a Trakt maintainer), and newer Trakt apps are issued no secret at all: then leaving it out is right. A warning, never an error.",
    bad: "POST /oauth/token {\"refresh_token\":\"...\",\"client_id\":\"...\",\"redirect_uri\":\"...\",\"grant_type\":\"refresh_token\"}   (an app that has a secret)",
    good: "POST /oauth/token {\"refresh_token\":\"...\",\"client_id\":\"...\",\"client_secret\":\"...\",\"redirect_uri\":\"...\",\"grant_type\":\"refresh_token\"}",
    autofix: None,
    source: "Trakt contract: POST /oauth/token (refresh), /oauth/device/token and /oauth/revoke require `client_secret`; Maintainer: trakt/trakt-api#367 (PKCE works on the live API with `code_verifier` in its place); Trakt docs: guides/pkce.md (the client secret is deprecated for sign-in, future apps may get none)",
};

pub(crate) const FORM_BODY: Rule = Rule {
    id: "oauth.body.form",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "An OAuth call (`/oauth/token`, `/oauth/device/*`, `/oauth/revoke`) sends a form-encoded body; Trakt reads JSON only.",
    why: "Since 2026-07 Trakt answers a form body on its OAuth endpoints `400 invalid_request \"client_id is required\"` (elgatito/plugin.video.elementum#1187): it wants `Content-Type: application/json` and the same fields as a JSON object. RFC 6749 libraries (requests-oauthlib, simple-oauth2) send forms by default.",
    bad: "POST /oauth/token\nContent-Type: application/x-www-form-urlencoded\n\ngrant_type=refresh_token&refresh_token=...&client_id=...",
    good: "POST /oauth/token\nContent-Type: application/json\n\n{\"grant_type\":\"refresh_token\",\"refresh_token\":\"...\",\"client_id\":\"...\"}",
    autofix: Some("rewrites the form's fields as a JSON object and sets `Content-Type: application/json`"),
    source: "Observed: elgatito/plugin.video.elementum#1187 (since 2026-07 a form body on Trakt's OAuth endpoints answers 400 `invalid_request` \"client_id is required\"); Trakt contract: the OAuth bodies are JSON objects",
};

pub(crate) const BASIC_CREDENTIALS: Rule = Rule {
    id: "oauth.basic-credentials",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "An OAuth call sends the client's id and secret as HTTP Basic credentials; Trakt reads them from the JSON body only.",
    why: "Trakt ignores `Authorization: Basic` on its OAuth endpoints (trakt/trakt-api#903) and answers 400 `client_id is required` or 401 `invalid_client`: `client_id` (and `client_secret`, where the app has one) belong in the JSON body, with no Authorization header.",
    bad: "POST /oauth/token\nAuthorization: Basic <base64 of client_id:client_secret>\n\n{\"grant_type\":\"refresh_token\",\"refresh_token\":\"...\"}",
    good: "POST /oauth/token\n\n{\"grant_type\":\"refresh_token\",\"refresh_token\":\"...\",\"client_id\":\"...\",\"client_secret\":\"...\"}",
    autofix: Some("moves the Basic credentials into the body's `client_id` and `client_secret` and removes the header"),
    source: "Observed: trakt/trakt-api#903 (HTTP Basic client credentials are not read); Trakt contract: `client_id` and `client_secret` are fields of the JSON body",
};

pub(crate) const AUTHORIZE_API_HOST: Rule = Rule {
    id: "oauth.authorize.api-host",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The OAuth authorize page is opened on `api.trakt.tv` instead of `trakt.tv`.",
    why: "Trakt's authorize page lives on the website host; on the API host the sign-in ends in 400 Bad Request (trakt/trakt-api#646, the Stremio link flow).",
    bad: "https://api.trakt.tv/oauth/authorize?response_type=code&client_id=...",
    good: "https://trakt.tv/oauth/authorize?response_type=code&client_id=...",
    autofix: None,
    source: "Maintainer: trakt/trakt-api#646 (Trakt staff: the authorize page on the API host is the wrong URL, the sign-in there ends in 400); Trakt contract: contracts/oauth/index.ts (the authorize page is on the website host, not the API host)",
};

pub(crate) const AUTHORIZE_PARAM: Rule = Rule {
    id: "oauth.authorize.param",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The authorize URL lacks `client_id`, `redirect_uri` or `response_type=code`.",
    why: "Trakt shows an error page (400) instead of the consent screen, or redirects without a code.",
    bad: "https://trakt.tv/oauth/authorize?client_id=...",
    good: "https://trakt.tv/oauth/authorize?response_type=code&client_id=...&redirect_uri=...",
    autofix: None,
    source: "Trakt contract: GET /oauth/authorize reads `response_type=code`, `client_id`, `redirect_uri` and `state` (contracts/oauth/index.ts); Trakt docs: guides/authentication-oauth.md (`redirect_uri` must match the app's exactly)",
};

/// The OAuth rules, in catalogue order.
pub const RULES: &[&Rule] = &[
    &TOKEN_FIELD_MISSING,
    &GRANT_TYPE,
    &DEVICE_FIELD_MISSING,
    &REVOKE_FIELD_MISSING,
    &CLIENT_SECRET_MISSING,
    &FORM_BODY,
    &BASIC_CREDENTIALS,
    &AUTHORIZE_API_HOST,
    &AUTHORIZE_PARAM,
];

/// The OAuth rules: the token, device and revoke calls and the authorize page.
pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    if s.path() == "/oauth/authorize" {
        if s.contract() == Contract::TraktApi {
            out.push(AUTHORIZE_API_HOST.finding(
                "host",
                format!(
                    "the authorize page is on trakt.tv, not {}: Trakt answers 400 here",
                    s.host()
                ),
            ));
        }
        authorize_params(s, out);
        return;
    }
    let Some(endpoint) = s.endpoint() else { return };
    if !reads_json_only(endpoint.body) {
        return;
    }
    let basic = basic_credentials(s);
    if basic.is_some() {
        out.push(
            BASIC_CREDENTIALS
                .finding(
                    "authorization",
                    "Trakt does not read HTTP Basic client credentials on its OAuth endpoints: \
                     send `client_id` (and `client_secret`, where the app has one) in the JSON \
                     body, and no Authorization header",
                )
                .with_fix(Fix::BasicCredentialsToBody),
        );
    }
    let form = form_fields(s);
    if let Some(fields) = &form {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        out.push(
            FORM_BODY
                .finding(
                    "/",
                    format!(
                        "the body is form-encoded ({}); Trakt's OAuth endpoints read JSON only \
                         and answer a form `400 invalid_request \"client_id is required\"`: send \
                         `Content-Type: application/json` and the same fields as a JSON object",
                        names.join(", ")
                    ),
                )
                .with_fix(Fix::FormToJson),
        );
    }
    let Some(mut body) = form.or_else(|| s.json().and_then(Value::as_object).cloned()) else {
        return;
    };
    // Credentials moved by auto-fix are not missing: they are in the wrong place.
    if let Some(credentials) = basic {
        for (field, value) in [
            ("client_id", credentials.0),
            ("client_secret", credentials.1),
        ] {
            body.entry(field).or_insert(Value::String(value));
        }
    }
    let pkce = present(&body, "code_verifier");
    match endpoint.body {
        BodyShape::OAuthToken => token(&body, out),
        BodyShape::OAuthRevoke => require(
            &body,
            &["token", "client_id"],
            &REVOKE_FIELD_MISSING,
            "/oauth/revoke",
            out,
        ),
        BodyShape::DeviceCode => require(
            &body,
            &["client_id"],
            &DEVICE_FIELD_MISSING,
            "/oauth/device/code",
            out,
        ),
        BodyShape::DeviceToken => require(
            &body,
            &["code", "client_id"],
            &DEVICE_FIELD_MISSING,
            "/oauth/device/token",
            out,
        ),
        _ => {}
    }
    let secret_listed = matches!(
        endpoint.body,
        BodyShape::OAuthRevoke | BodyShape::DeviceToken
    ) || (endpoint.body == BodyShape::OAuthToken
        && body.get("grant_type").and_then(Value::as_str) == Some("refresh_token"));
    if secret_listed && !pkce && !present(&body, "client_secret") {
        out.push(CLIENT_SECRET_MISSING.finding(
            "/client_secret",
            "no `client_secret`: needed if your app has a client secret; apps without one, or \
             using PKCE with `code_verifier`, leave it out",
        ));
    }
}

/// The OAuth calls whose body Trakt reads as JSON only (the authorize page
/// is a browser's GET, not one of them).
pub(crate) fn reads_json_only(shape: BodyShape) -> bool {
    matches!(
        shape,
        BodyShape::OAuthToken
            | BodyShape::OAuthRevoke
            | BodyShape::DeviceCode
            | BodyShape::DeviceToken
    )
}

/// The fields of a form-encoded body sent to an OAuth call, if it is one.
pub(crate) fn form_fields(s: &Subject) -> Option<Map<String, Value>> {
    if !s.endpoint().is_some_and(|e| reads_json_only(e.body)) {
        return None;
    }
    if !matches!(s.body, ParsedBody::Invalid(_)) {
        return None;
    }
    let labelled = s
        .headers()
        .get("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("x-www-form-urlencoded"));
    parse_form(&s.request.body.bytes, labelled)
}

/// A body's fields when it reads as a form: labelled so, or text with `=`
/// that is not a JSON object. Each value is a string.
pub(crate) fn parse_form(body: &[u8], labelled: bool) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if !labelled && (text.starts_with('{') || !text.contains('=')) {
        return None;
    }
    let fields: Map<String, Value> = crate::text::query_pairs(text)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    (!fields.is_empty()).then_some(fields)
}

/// The client id and secret of `Authorization: Basic` on an OAuth call.
pub(crate) fn basic_credentials(s: &Subject) -> Option<(String, String)> {
    if !s.endpoint().is_some_and(|e| reads_json_only(e.body)) {
        return None;
    }
    parse_basic(s.headers().get("authorization")?)
}

/// `Basic base64(id:secret)` as the id and the secret.
pub(crate) fn parse_basic(raw: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let (scheme, encoded) = raw.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((
        crate::text::percent_decode(id),
        crate::text::percent_decode(secret),
    ))
}

fn present(body: &Map<String, Value>, field: &str) -> bool {
    body.get(field)
        .and_then(Value::as_str)
        .is_some_and(|v| !v.trim().is_empty())
}

fn require(
    body: &Map<String, Value>,
    fields: &[&str],
    rule: &'static Rule,
    what: &str,
    out: &mut Vec<Finding>,
) {
    for field in fields {
        if !present(body, field) {
            out.push(rule.finding(format!("/{field}"), format!("{what} needs `{field}`")));
        }
    }
}

fn token(body: &Map<String, Value>, out: &mut Vec<Finding>) {
    let grant = body.get("grant_type").and_then(Value::as_str);
    let pkce = present(body, "code_verifier");
    let needed: &[&str] = match grant {
        Some("authorization_code") if pkce => &["code", "client_id", "redirect_uri"],
        Some("authorization_code") => {
            if !present(body, "client_secret") {
                out.push(TOKEN_FIELD_MISSING.finding(
                    "/client_secret",
                    "/oauth/token needs `client_secret`, or PKCE's `code_verifier` for an app \
                     without a secret",
                ));
            }
            &["code", "client_id", "redirect_uri"]
        }
        // `client_secret` is judged by the caller: a warning, as PKCE apps have none.
        Some("refresh_token") => &["refresh_token", "client_id", "redirect_uri"],
        Some(other) => {
            out.push(GRANT_TYPE.finding(
                "/grant_type",
                format!("grant_type `{other}` is not `authorization_code` or `refresh_token`"),
            ));
            return;
        }
        None => {
            out.push(TOKEN_FIELD_MISSING.finding("/grant_type", "`grant_type` is missing"));
            if present(body, "refresh_token") {
                &["client_id"]
            } else {
                &["code", "client_id"]
            }
        }
    };
    require(body, needed, &TOKEN_FIELD_MISSING, "/oauth/token", out);
}

fn authorize_params(s: &Subject, out: &mut Vec<Finding>) {
    authorize_query(s.query(), out);
}

/// Checks the query of an authorize URL (also used on Stremio's link redirect).
pub(crate) fn authorize_query(query: &[(String, String)], out: &mut Vec<Finding>) {
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match get("client_id") {
        None | Some("") => {
            out.push(AUTHORIZE_PARAM.finding("query client_id", "`client_id` is missing"))
        }
        Some(id) if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            out.push(AUTHORIZE_PARAM.finding(
                "query client_id",
                format!("`client_id` `{id}` is not 64 hexadecimal characters"),
            ))
        }
        Some(_) => {}
    }
    if get("redirect_uri").is_none_or(str::is_empty) {
        out.push(AUTHORIZE_PARAM.finding("query redirect_uri", "`redirect_uri` is missing"));
    }
    match get("response_type") {
        Some("code") => {}
        Some(other) => out.push(AUTHORIZE_PARAM.finding(
            "query response_type",
            format!("`response_type` is `{other}`; Trakt supports `code`"),
        )),
        None => out.push(
            AUTHORIZE_PARAM.finding("query response_type", "`response_type=code` is missing"),
        ),
    }
}
