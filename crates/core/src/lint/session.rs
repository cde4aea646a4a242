//! The session rules: requests that are fine alone but wrong given what came
//! before them (a spent code or refresh token, an expired or revoked token,
//! writes too fast, a retry inside a `Retry-After` window). The rules live
//! here with the others; [`crate::session`] tracks the state that finds them.
use super::{Rule, Scope};
use crate::report::Severity;

pub(crate) const CODE_REUSED: Rule = Rule {
    id: "session.oauth-code.reused",
    severity: Severity::Warning,
    scope: Scope::Session,
    summary: "An OAuth authorization code is exchanged a second time.",
    why: "Codes are single-use: the second exchange gets 400 `invalid_grant`. Usually a double submit, a retry, or two tabs finishing the link.",
    bad: "POST /oauth/token {\"code\":\"abc\",...}  twice",
    good: "exchange each code once; on failure start the authorize flow again",
    autofix: None,
    source: "trakt-doctor's own reading: RFC 6749 §4.1.2 makes a code single-use, which Trakt's sources do not restate (guides/authentication-oauth.md documents the 400 `invalid_grant` of a failed exchange)",
};

pub(crate) const REFRESH_REUSED: Rule = Rule {
    id: "session.refresh-token.reused",
    severity: Severity::Error,
    scope: Scope::Session,
    summary: "A refresh token that already succeeded is used again.",
    why: "Trakt's refresh tokens are single-use: every refresh returns a new refresh token and invalidates the old one, so the second use gets 400 `invalid_grant`.",
    bad: "refresh with R1 → 200 (R2 returned); refresh with R1 again",
    good: "store R2 after the first refresh and use it next time",
    autofix: None,
    source: "Trakt docs: guides/authentication-oauth.md (\"The refresh token used in the request is immediately invalidated\", a failed exchange answers 400 `invalid_grant`)",
};

pub(crate) const TOKEN_EXPIRED: Rule = Rule {
    id: "session.token.expired",
    severity: Severity::Error,
    scope: Scope::Session,
    summary: "The access token expired before this request.",
    why: "Trakt answers 401 once `created_at + expires_in` has passed (7 days now; 24 hours in 2025). Refresh, or link again.",
    bad: "Authorization: Bearer <token issued 8 days ago>",
    good: "refresh when less than an hour is left, then use the new token",
    autofix: None,
    source: "Trakt docs: guides/authentication-oauth.md (the access_token is valid for 7 days, read `expires_in`) and guides/status-codes.md (401: OAuth must be provided)",
};

pub(crate) const TOKEN_REVOKED: Rule = Rule {
    id: "session.token.revoked",
    severity: Severity::Error,
    scope: Scope::Session,
    summary: "The access token was revoked earlier in this session.",
    why: "After `/oauth/revoke` the token is dead: Trakt answers 401.",
    bad: "POST /oauth/revoke {token: T}, then GET /sync/... with T",
    good: "sign in again after revoking",
    autofix: None,
    source: "Trakt contract: POST /oauth/revoke revokes the access_token (contracts/oauth/index.ts); Trakt docs: guides/status-codes.md (401: OAuth must be provided)",
};

pub(crate) const WRITE_TOO_FAST: Rule = Rule {
    id: "session.write.too-fast",
    severity: Severity::Warning,
    scope: Scope::Session,
    summary:
        "A write (POST, PUT, DELETE) less than a second after the previous one with the same token.",
    why:
        "Trakt allows one write per second per user (AUTHED_API_POST_LIMIT); faster writes get 429.",
    bad: "two POST /sync/history 200 ms apart",
    good: "queue writes and send at most one per second",
    autofix: None,
    source: "Trakt docs: guides/rate-limiting.md (`AUTHED_API_POST_LIMIT`: 1 POST, PUT or DELETE per second per user, then 429)",
};

pub(crate) const RETRY_TOO_EARLY: Rule = Rule {
    id: "session.retry-after.early",
    severity: Severity::Warning,
    scope: Scope::Session,
    summary: "A request is sent before the `Retry-After` of an earlier 429 has elapsed.",
    why:
        "Trakt keeps answering 429 until the window passes; retrying early only extends the outage.",
    bad: "429 with Retry-After: 10, retried after 2 s",
    good: "wait the Retry-After seconds (or back off exponentially when absent)",
    autofix: None,
    source: "Trakt docs: guides/rate-limiting.md (429 with `Retry-After` in seconds, back off when it is absent)",
};

/// The session rules, in catalogue order.
pub const RULES: &[&Rule] = &[
    &CODE_REUSED,
    &REFRESH_REUSED,
    &TOKEN_EXPIRED,
    &TOKEN_REVOKED,
    &WRITE_TOO_FAST,
    &RETRY_TOO_EARLY,
];
