//! Header rules: the four headers every Trakt call needs, the bearer token
//! where OAuth is required, and header hygiene.
use super::{Finding, ParsedBody, Rule, Scope, Severity, Subject};
use crate::report::Fix;
use crate::spec::trakt::{Auth, API_VERSION};

pub(crate) const API_VERSION_MISSING: Rule = Rule {
    id: "header.api-version.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The `trakt-api-version` header is missing.",
    why: "Trakt requires `trakt-api-version: 2` on every call; without it the request is not routed to API v2 and is rejected (400/404).",
    bad: "GET /users/settings\ntrakt-api-key: <client id>",
    good: "GET /users/settings\ntrakt-api-key: <client id>\ntrakt-api-version: 2",
    autofix: Some("adds `trakt-api-version: 2`"),
    source: "Trakt docs: guides/required-headers.md lists `trakt-api-version: 2` among the required headers (the status Trakt answers without it is not documented)",
};

pub(crate) const API_VERSION_WRONG: Rule = Rule {
    id: "header.api-version.wrong",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`trakt-api-version` is not `2`.",
    why: "Only version 2 of the API exists; any other value is rejected.",
    bad: "trakt-api-version: 1",
    good: "trakt-api-version: 2",
    autofix: Some("sets `trakt-api-version: 2`"),
    source: "Trakt docs: guides/required-headers.md (`trakt-api-version: 2`, \"API version to use\"), which does not say what Trakt answers to another value",
};

pub(crate) const API_KEY_MISSING: Rule = Rule {
    id: "header.api-key.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The `trakt-api-key` header (your client id) is missing.",
    why: "Trakt identifies the app by `trakt-api-key`; without it the call fails with 403 (invalid API key or unapproved app).",
    bad: "GET /movies/trending\ntrakt-api-version: 2",
    good: "GET /movies/trending\ntrakt-api-version: 2\ntrakt-api-key: <64 hex client id>",
    autofix: None,
    source: "Trakt docs: guides/required-headers.md (`trakt-api-key`, the app's client_id, is required) and guides/status-codes.md (403: invalid API key or unapproved app)",
};

pub(crate) const API_KEY_MISNAMED: Rule = Rule {
    id: "header.api-key.misnamed",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The client id is sent under another header name (`trakt_api_key`, `api-key`, ...).",
    why: "Trakt only reads `trakt-api-key`. Proxies and CDNs also drop header names with underscores, so `trakt_api_key` may never arrive: 403.",
    bad: "trakt_api_key: <client id>",
    good: "trakt-api-key: <client id>",
    autofix: Some("renames the header to `trakt-api-key`, keeping its value"),
    source: "Trakt docs: guides/required-headers.md names the header `trakt-api-key`, and guides/status-codes.md gives 403 for an invalid API key; trakt-doctor's own reading: proxies and CDNs may drop header names with underscores",
};

pub(crate) const API_KEY_MALFORMED: Rule = Rule {
    id: "header.api-key.malformed",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "`trakt-api-key` does not look like a client id (64 hexadecimal characters).",
    why: "A client id copied with quotes, spaces or the client secret instead makes Trakt answer 403.",
    bad: "trakt-api-key: \"0e861f52...\"",
    good: "trakt-api-key: 0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
    autofix: None,
    source: "Trakt docs: guides/authentication-oauth.md (the key is the app's Client ID); trakt-doctor's own reading: client ids are 64 hexadecimal characters (Stremio's is), a form Trakt does not document",
};

pub(crate) const CONTENT_TYPE_MISSING: Rule = Rule {
    id: "header.content-type.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "A request with a body has no `Content-Type`.",
    why: "Trakt parses bodies only as `application/json`; without the header it answers 412 (use application/json content type) or 400.",
    bad: "POST /scrobble/start\n\n{\"movie\":{...},\"progress\":10}",
    good: "POST /scrobble/start\nContent-Type: application/json\n\n{\"movie\":{...},\"progress\":10}",
    autofix: Some("adds `Content-Type: application/json` when the body is valid JSON"),
    source: "Trakt docs: guides/required-headers.md (`Content-Type: application/json`) and guides/status-codes.md (412: use application/json content type)",
};

pub(crate) const CONTENT_TYPE_WRONG: Rule = Rule {
    id: "header.content-type.wrong",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The body is sent with a `Content-Type` other than `application/json`.",
    why: "Trakt answers 412 (Precondition Failed: use application/json content type) to form or text bodies.",
    bad: "Content-Type: application/x-www-form-urlencoded",
    good: "Content-Type: application/json",
    autofix: Some("sets `Content-Type: application/json` when the body is valid JSON"),
    source: "Trakt docs: guides/required-headers.md (`Content-Type: application/json`) and guides/status-codes.md (412: use application/json content type)",
};

pub(crate) const USER_AGENT_MISSING: Rule = Rule {
    id: "header.user-agent.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "No `User-Agent` header.",
    why: "Trakt sits behind Cloudflare, whose firewall blocks requests without a User-Agent with a 403 HTML page (\"Sorry, you have been blocked\").",
    bad: "GET /users/settings  (no User-Agent)",
    good: "User-Agent: MyAddon/1.2.0 (+https://example.org)",
    autofix: Some("adds a descriptive `User-Agent` naming trakt-doctor's auto-fix"),
    source: "Trakt docs: guides/required-headers.md lists User-Agent among the required headers; Observed: Cloudflare's 403 HTML \"Sorry, you have been blocked\" page for requests without one (trakt/trakt-api#670, #804, #478, raycast/extensions#25669, PNRxA/openposterdb#62), which outdates Trakt's 2017 \"we don't currently use the user agent\" (vankasteelj/trakt.tv#40)",
};

pub(crate) const USER_AGENT_GENERIC: Rule = Rule {
    id: "header.user-agent.generic",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "The `User-Agent` is an HTTP library's default (python-requests, axios, okhttp, ...).",
    why: "Cloudflare's firewall in front of Trakt blocks some library defaults with a 403 HTML page; Trakt asks for `AppName/version`.",
    bad: "User-Agent: python-requests/2.31.0",
    good: "User-Agent: MyScript/1.0.0",
    autofix: None,
    source: "Observed: Cloudflare blocks or challenges some library and outdated User-Agents (l3uddz/traktarr#180, rama1997/More-Like-This#39); Trakt docs: guides/required-headers.md suggests `MyAppName/1.0.0`",
};

pub(crate) const AUTHORIZATION_MISSING: Rule = Rule {
    id: "header.authorization.missing",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "This endpoint requires OAuth, but no `Authorization: Bearer` token is sent.",
    why: "Scrobble, checkin, sync and private user calls need the user's access token; without it Trakt answers 401.",
    bad: "POST /scrobble/start  (no Authorization)",
    good: "Authorization: Bearer <access_token>",
    autofix: None,
    source: "Trakt contract: the operation's OAuth requirement (route `metadata.auth`, or the \"OAuth Required\" marker of its description); Trakt docs: guides/required-headers.md (all POST, PUT and DELETE calls need a token) and guides/status-codes.md (401: OAuth must be provided)",
};

pub(crate) const AUTHORIZATION_SCHEME: Rule = Rule {
    id: "header.authorization.scheme",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "`Authorization` does not use the `Bearer` scheme as written.",
    why: "Trakt expects exactly `Bearer <access_token>`; `Token x`, `OAuth x` or a bare token are rejected with 401.",
    bad: "Authorization: bearer 7c9f...",
    good: "Authorization: Bearer 7c9f...",
    autofix: Some("rewrites a `bearer`/`BEARER` scheme as `Bearer`; other schemes stay findings"),
    source: "Trakt docs: guides/required-headers.md (`Authorization: Bearer [access_token]`); trakt-doctor's own reading: that Trakt refuses a lower-case `bearer` is not known (RFC 7235 makes the scheme case-insensitive)",
};

pub(crate) const AUTHORIZATION_FORMAT: Rule = Rule {
    id: "header.authorization.format",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The bearer token has extra spaces or quotes around it.",
    why: "The token is compared byte for byte: `Bearer  \"abc\"` is not the token `abc`, so Trakt answers 401.",
    bad: "Authorization: Bearer  \"7c9f...\" ",
    good: "Authorization: Bearer 7c9f...",
    autofix: Some("removes the extra whitespace and quotes"),
    source: "Trakt docs: guides/required-headers.md (`Authorization: Bearer [access_token]`) and guides/status-codes.md (401: OAuth must be provided); trakt-doctor's own reading: quotes or extra spaces make the token another value",
};

pub(crate) const AUTHORIZATION_PLACEHOLDER: Rule = Rule {
    id: "header.authorization.placeholder",
    severity: Severity::Error,
    scope: Scope::Request,
    summary: "The bearer token is a placeholder (`undefined`, `null`, empty).",
    why: "A client that lost its token (not logged in, storage cleared, token expired and dropped) sends `Bearer undefined`: Trakt answers 401.",
    bad: "Authorization: Bearer undefined",
    good: "Authorization: Bearer <the user's access_token>",
    autofix: None,
    source: "Trakt docs: guides/required-headers.md (the header carries the user's access_token) and guides/status-codes.md (401: OAuth must be provided)",
};

pub(crate) const DUPLICATE: Rule = Rule {
    id: "header.duplicate",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A header is sent more than once.",
    why: "Repeated Trakt headers are joined or one of them is picked; two different api keys or tokens make the result unpredictable (401/403).",
    bad: "trakt-api-version: 2\ntrakt-api-version: 2",
    good: "trakt-api-version: 2",
    autofix: Some("drops each value sent again (the first of each stays); different values stay a finding"),
    source: "trakt-doctor's own reading: RFC 9110 §5.3 lets a server join repeated fields or pick one of them, and how Trakt reads them is not documented",
};

pub(crate) const NON_ASCII: Rule = Rule {
    id: "header.non-ascii",
    severity: Severity::Warning,
    scope: Scope::Request,
    summary: "A header value contains non-ASCII characters.",
    why: "Typographic quotes or invisible characters pasted into a key or token make it a different value: Trakt answers 401/403, and some servers answer 400.",
    bad: "trakt-api-key: “0e861f...”",
    good: "trakt-api-key: 0e861f...",
    autofix: None,
    source: "trakt-doctor's own reading: a pasted typographic quote or invisible character makes a key or token another value (401 or 403 by guides/status-codes.md), but no Trakt source says how it treats non-ASCII header values, and the rule covers every header",
};

/// The header rules, in catalogue order.
pub const RULES: &[&Rule] = &[
    &API_VERSION_MISSING,
    &API_VERSION_WRONG,
    &API_KEY_MISSING,
    &API_KEY_MISNAMED,
    &API_KEY_MALFORMED,
    &CONTENT_TYPE_MISSING,
    &CONTENT_TYPE_WRONG,
    &USER_AGENT_MISSING,
    &USER_AGENT_GENERIC,
    &AUTHORIZATION_MISSING,
    &AUTHORIZATION_SCHEME,
    &AUTHORIZATION_FORMAT,
    &AUTHORIZATION_PLACEHOLDER,
    &DUPLICATE,
    &NON_ASCII,
];

/// Header names clients use by mistake for `trakt-api-key`.
const API_KEY_ALIASES: &[&str] = &[
    "trakt_api_key",
    "trakt-api_key",
    "trakt-apikey",
    "trakt-key",
    "api-key",
    "api_key",
    "apikey",
    "x-api-key",
    "client-id",
    "client_id",
    "trakt-client-id",
    "x-trakt-api-key",
];

/// Default User-Agent prefixes of HTTP libraries.
const GENERIC_AGENTS: &[&str] = &[
    "python-requests/",
    "python-urllib",
    "python-httpx/",
    "aiohttp/",
    "axios/",
    "node-fetch",
    "node",
    "undici",
    "got (",
    "okhttp/",
    "go-http-client/",
    "java/",
    "apache-httpclient/",
    "dart:io",
    "dart/",
    "reqwest/",
    "curl/",
    "wget/",
    "libcurl",
    "postmanruntime/",
    "insomnia/",
];

/// The User-Agent auto-fix adds when a client sends none.
pub(crate) fn autofix_user_agent() -> String {
    format!(
        "trakt-doctor-autofix/{} (client sent no User-Agent)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The header rules for a call to Trakt's API.
pub fn check(s: &Subject, out: &mut Vec<Finding>) {
    let h = s.headers();
    // Trakt's contract sends OAuth calls with their JSON body alone: no API
    // key, no API version (the client id is in the body).
    if !s.path().starts_with("/oauth/") {
        check_api_version(s, out);
        check_api_key(s, out);
    }
    check_content_type(s, out);

    match h.get("user-agent").map(str::trim) {
        None | Some("") => out.push(
            USER_AGENT_MISSING
                .finding(
                    "user-agent",
                    "no User-Agent: Cloudflare in front of Trakt blocks such requests with 403",
                )
                .with_fix(Fix::SetHeader {
                    name: "user-agent".into(),
                    value: autofix_user_agent(),
                }),
        ),
        Some(ua) => {
            let generic = GENERIC_AGENTS.iter().any(|g| {
                ua.as_bytes()
                    .get(..g.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(g.as_bytes()))
            });
            if generic {
                out.push(USER_AGENT_GENERIC.finding(
                    "user-agent",
                    format!("`{ua}` is a library default; send `YourApp/version`"),
                ));
            }
        }
    }

    check_authorization(s, out);

    // Each name once (as spelt first); most requests repeat none, so
    // nothing is collected until a name turns out to be repeated.
    for (i, (name, _)) in h.iter().enumerate() {
        if h.iter().take(i).any(|(earlier, _)| earlier == name) {
            continue;
        }
        if name == "cookie" || h.get_all(name).nth(1).is_none() {
            continue;
        }
        let values: Vec<&str> = h.get_all(name).collect();
        let identical = values.windows(2).all(|w| w.first() == w.last());
        let finding = DUPLICATE.finding(
            name,
            if identical {
                format!(
                    "`{name}` is sent {} times with the same value",
                    values.len()
                )
            } else {
                format!(
                    "`{name}` is sent {} times with different values",
                    values.len()
                )
            },
        );
        // Any value sent twice is dropped, even beside different ones:
        // fixing must not leave a repeat that a second pass would find
        // (after `api_key` is renamed, say).
        let repeated = values
            .iter()
            .enumerate()
            .any(|(i, v)| values.iter().take(i).any(|earlier| earlier == v));
        out.push(if repeated {
            finding.with_fix(Fix::DedupeHeader { name: name.into() })
        } else {
            finding
        });
    }
    for (name, value) in h.iter() {
        if !value.is_ascii() {
            out.push(NON_ASCII.finding(name, format!("`{name}` contains non-ASCII characters")));
        }
    }
}

fn check_api_version(s: &Subject, out: &mut Vec<Finding>) {
    let h = s.headers();
    match h.get("trakt-api-version") {
        None => out.push(
            API_VERSION_MISSING
                .finding("trakt-api-version", "`trakt-api-version: 2` is missing")
                .with_fix(Fix::SetHeader {
                    name: "trakt-api-version".into(),
                    value: API_VERSION.into(),
                }),
        ),
        Some(v) if v.trim() != API_VERSION => out.push(
            API_VERSION_WRONG
                .finding(
                    "trakt-api-version",
                    format!("`trakt-api-version` is `{v}`, not `2`"),
                )
                .with_fix(Fix::SetHeader {
                    name: "trakt-api-version".into(),
                    value: API_VERSION.into(),
                }),
        ),
        Some(_) => {}
    }
}

fn check_api_key(s: &Subject, out: &mut Vec<Finding>) {
    let h = s.headers();
    match h.get("trakt-api-key") {
        Some(key) => {
            let key = key.trim();
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(API_KEY_MALFORMED.finding(
                    "trakt-api-key",
                    format!("`trakt-api-key` has {} characters; a client id is 64 hexadecimal characters", key.chars().count()),
                ));
            }
        }
        None => {
            let alias = h
                .iter()
                .map(|(n, _)| n)
                .find(|n| API_KEY_ALIASES.contains(&n.to_ascii_lowercase().as_str()));
            match alias {
                Some(alias) => out.push(
                    API_KEY_MISNAMED
                        .finding(alias, format!("the client id is sent as `{alias}`; Trakt only reads `trakt-api-key`"))
                        .with_fix(Fix::RenameHeader {
                            from: alias.into(),
                            to: "trakt-api-key".into(),
                        }),
                ),
                None => out.push(API_KEY_MISSING.finding("trakt-api-key", "`trakt-api-key` (the app's client id) is missing")),
            }
        }
    }
}

fn check_content_type(s: &Subject, out: &mut Vec<Finding>) {
    // A form body on an OAuth call: oauth.body.form's fix sets the type with the body.
    if s.request.body.is_empty() || super::oauth::form_fields(s).is_some() {
        return;
    }
    let fix = || {
        matches!(s.body, ParsedBody::Json(_)).then(|| Fix::SetHeader {
            name: "content-type".into(),
            value: "application/json".into(),
        })
    };
    let finding = match s.headers().get("content-type") {
        None => CONTENT_TYPE_MISSING.finding(
            "content-type",
            "the body is sent without `Content-Type: application/json`",
        ),
        Some(ct) => {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media == "application/json" {
                return;
            }
            CONTENT_TYPE_WRONG.finding(
                "content-type",
                format!("`Content-Type: {ct}`; Trakt wants `application/json`"),
            )
        }
    };
    out.push(match fix() {
        Some(fix) => finding.with_fix(fix),
        None => finding,
    });
}

fn check_authorization(s: &Subject, out: &mut Vec<Finding>) {
    // Client credentials on an OAuth call are oauth.basic-credentials', not a wrong Bearer.
    if super::oauth::basic_credentials(s).is_some() {
        return;
    }
    let required = s.endpoint().is_some_and(|e| e.auth == Auth::Required);
    let Some(raw) = s.headers().get("authorization") else {
        if required {
            out.push(AUTHORIZATION_MISSING.finding(
                "authorization",
                format!(
                    "{} {} requires `Authorization: Bearer <access_token>`",
                    s.method(),
                    s.path()
                ),
            ));
        }
        return;
    };
    let trimmed = raw.trim();
    let (scheme, rest) = trimmed
        .split_once(char::is_whitespace)
        .unwrap_or((trimmed, ""));
    let token = rest.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if scheme != "Bearer" {
            out.push(
                AUTHORIZATION_SCHEME
                    .finding(
                        "authorization",
                        format!("the scheme is written `{scheme}`; Trakt expects `Bearer`"),
                    )
                    .with_fix(Fix::SetHeader {
                        name: "authorization".into(),
                        value: format!("Bearer {token}"),
                    }),
            );
        }
    } else {
        out.push(AUTHORIZATION_SCHEME.finding(
            "authorization",
            if rest.is_empty() {
                "`Authorization` holds a bare value without the `Bearer ` scheme".to_string()
            } else {
                format!("`Authorization` uses the `{scheme}` scheme; Trakt expects `Bearer`")
            },
        ));
        return;
    }
    let placeholder = [
        "",
        "undefined",
        "null",
        "none",
        "nil",
        "[object object]",
        "<token>",
        "token",
    ];
    if placeholder.iter().any(|p| p.eq_ignore_ascii_case(token)) {
        out.push(AUTHORIZATION_PLACEHOLDER.finding(
            "authorization",
            format!("the bearer token is `{token}`: the client has no token to send"),
        ));
        return;
    }
    // `raw` is not exactly `{scheme} {token}` (compared without building it).
    if raw.strip_prefix(scheme).and_then(|r| r.strip_prefix(' ')) != Some(token) {
        let clean = format!("Bearer {token}");
        out.push(
            AUTHORIZATION_FORMAT
                .finding(
                    "authorization",
                    "the token has extra whitespace or quotes around it",
                )
                .with_fix(Fix::SetHeader {
                    name: "authorization".into(),
                    value: clean,
                }),
        );
    }
}
