//! OAuth rules: the token exchange and refresh, revoke, the device flow,
//! and the authorize page (which lives on the website host, not the API).
use serde_json::{Map, Value};

use super::{Contract, Finding, Rule, Scope, Severity, Subject};
use crate::spec::trakt::BodyShape;

pub const TOKEN_FIELD_MISSING: Rule = Rule {
    id: "oauth.token.field-missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`/oauth/token` lacks a field its grant needs (code, refresh_token, client_id, client_secret, redirect_uri, grant_type).",
    why: "Trakt answers 400 (`invalid_request` / `invalid_grant`) to an incomplete exchange; the user then has to link again.",
    bad: "{\"code\":\"...\",\"client_id\":\"...\",\"grant_type\":\"authorization_code\"}",
    good: "{\"code\":\"...\",\"client_id\":\"...\",\"client_secret\":\"...\",\"redirect_uri\":\"urn:ietf:wg:oauth:2.0:oob\",\"grant_type\":\"authorization_code\"}",
    autofix: None,
};

pub const GRANT_TYPE: Rule = Rule {
    id: "oauth.token.grant-type",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`grant_type` is not `authorization_code` or `refresh_token`.",
    why: "Trakt supports only these two grants on `/oauth/token`; others get 400 `unsupported_grant_type`.",
    bad: "{\"grant_type\":\"password\", ...}",
    good: "{\"grant_type\":\"refresh_token\", \"refresh_token\":\"...\", ...}",
    autofix: None,
};

pub const DEVICE_FIELD_MISSING: Rule = Rule {
    id: "oauth.device.field-missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A device-flow call lacks `client_id` (code), or `code`/`client_id`/`client_secret` (token).",
    why: "Trakt answers 400 or 404 (invalid device_code) and the user never gets a code to enter at trakt.tv/activate.",
    bad: "POST /oauth/device/token {\"client_id\":\"...\"}",
    good: "POST /oauth/device/token {\"code\":\"<device_code>\",\"client_id\":\"...\",\"client_secret\":\"...\"}",
    autofix: None,
};

pub const REVOKE_FIELD_MISSING: Rule = Rule {
    id: "oauth.revoke.field-missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`/oauth/revoke` lacks `token`, `client_id` or `client_secret`.",
    why:
        "Without them Trakt cannot revoke the token: it stays valid and the app connection lingers.",
    bad: "{\"token\":\"...\"}",
    good: "{\"token\":\"...\",\"client_id\":\"...\",\"client_secret\":\"...\"}",
    autofix: None,
};

pub const AUTHORIZE_API_HOST: Rule = Rule {
    id: "oauth.authorize.api-host",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The OAuth authorize page is opened on `api.trakt.tv` instead of `trakt.tv`.",
    why: "Trakt's authorize page lives on the website host; on the API host the sign-in ends in 400 Bad Request (trakt/trakt-api#646, the Stremio link flow).",
    bad: "https://api.trakt.tv/oauth/authorize?response_type=code&client_id=...",
    good: "https://trakt.tv/oauth/authorize?response_type=code&client_id=...",
    autofix: None,
};

pub const AUTHORIZE_PARAM: Rule = Rule {
    id: "oauth.authorize.param",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The authorize URL lacks `client_id`, `redirect_uri` or `response_type=code`.",
    why: "Trakt shows an error page (400) instead of the consent screen, or redirects without a code.",
    bad: "https://trakt.tv/oauth/authorize?client_id=...",
    good: "https://trakt.tv/oauth/authorize?response_type=code&client_id=...&redirect_uri=...",
    autofix: None,
};

pub const RULES: &[&Rule] = &[
    &TOKEN_FIELD_MISSING,
    &GRANT_TYPE,
    &DEVICE_FIELD_MISSING,
    &REVOKE_FIELD_MISSING,
    &AUTHORIZE_API_HOST,
    &AUTHORIZE_PARAM,
];

pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    if s.path == "/oauth/authorize" {
        if s.contract == Contract::TraktApi {
            out.push(AUTHORIZE_API_HOST.finding(
                "host",
                format!(
                    "the authorize page is on trakt.tv, not {}: Trakt answers 400 here",
                    s.host
                ),
            ));
        }
        authorize_params(s, out);
        return;
    }
    let Some(endpoint) = s.endpoint() else { return };
    let Some(body) = s.json().and_then(Value::as_object) else {
        return;
    };
    match endpoint.body {
        BodyShape::OAuthToken => token(body, out),
        BodyShape::OAuthRevoke => require(
            body,
            &["token", "client_id", "client_secret"],
            &REVOKE_FIELD_MISSING,
            "/oauth/revoke",
            out,
        ),
        BodyShape::DeviceCode => require(
            body,
            &["client_id"],
            &DEVICE_FIELD_MISSING,
            "/oauth/device/code",
            out,
        ),
        BodyShape::DeviceToken => require(
            body,
            &["code", "client_id", "client_secret"],
            &DEVICE_FIELD_MISSING,
            "/oauth/device/token",
            out,
        ),
        // Not OAuth bodies: lint::body and the schema read them.
        BodyShape::Scrobble
        | BodyShape::Checkin
        | BodyShape::Items
        | BodyShape::Ratings
        | BodyShape::HistoryRemove
        | BodyShape::Comment
        | BodyShape::None
        | BodyShape::Object => {}
    }
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
        Some("authorization_code") => &["code", "client_id", "client_secret", "redirect_uri"],
        Some("refresh_token") => &[
            "refresh_token",
            "client_id",
            "client_secret",
            "redirect_uri",
        ],
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
                &["client_id", "client_secret"]
            } else {
                &["code", "client_id"]
            }
        }
    };
    require(body, needed, &TOKEN_FIELD_MISSING, "/oauth/token", out);
}

fn authorize_params(s: &Subject, out: &mut Vec<Finding>) {
    authorize_query(&s.query, out);
}

/// Checks the query of an authorize URL (also used on Stremio's link redirect).
pub fn authorize_query(query: &[(String, String)], out: &mut Vec<Finding>) {
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
