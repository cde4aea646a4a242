//! What Trakt's status codes mean, as its API documentation words them,
//! and the statuses Trakt's device-code polling gives its own meaning.
//! Data for the diagnosis ([`crate::diagnose`]).
/// Trakt's documented meaning of each status (or range of statuses).
const MEANINGS: &[(u16, u16, &str)] = &[
    (400, 400, "Bad Request: the request couldn't be parsed"),
    (
        401,
        401,
        "Unauthorized: OAuth must be provided (missing, expired or revoked token)",
    ),
    (403, 403, "Forbidden: invalid API key or unapproved app"),
    (
        404,
        404,
        "Not Found: the method exists, but no record was found",
    ),
    (405, 405, "Method Not Found: the method doesn't exist"),
    (409, 409, "Conflict: the resource was already created"),
    (
        412,
        412,
        "Precondition Failed: use the application/json content type",
    ),
    (
        420,
        420,
        "Account Limit Exceeded: list count, item count, etc.",
    ),
    (422, 422, "Unprocessable Entity: validation errors"),
    (
        423,
        423,
        "Locked User Account: the user has to contact Trakt support",
    ),
    (426, 426, "VIP Only: the user must upgrade to VIP"),
    (429, 429, "Rate Limit Exceeded"),
    (500, 500, "Server Error on Trakt's side"),
    (
        502,
        504,
        "Service Unavailable: Trakt's servers are overloaded (try again in 30 s)",
    ),
    (
        520,
        522,
        "Service Unavailable: a Cloudflare error between Cloudflare and Trakt",
    ),
    // Not in Trakt's table: Cloudflare's own statuses for its link to the
    // origin (Cloudflare's documentation of 5xx errors).
    (
        523,
        527,
        "Cloudflare could not reach Trakt's servers, or timed out or failed TLS talking to them",
    ),
    (
        530,
        530,
        "Cloudflare could not reach Trakt's servers (an error page of Cloudflare's own)",
    ),
];

/// Trakt's documented meaning of a status code.
pub fn meaning(status: u16) -> Option<&'static str> {
    MEANINGS
        .iter()
        .find(|(low, high, _)| (*low..=*high).contains(&status))
        .map(|(_, _, meaning)| *meaning)
}

/// What each status means while a device polls `/oauth/device/token`, and
/// what the client should do: `(status, meaning, remedy)`.
pub(crate) const DEVICE_TOKEN: &[(u16, &str, &str)] = &[
    (
        400,
        "400 Pending: the user has not approved the code yet (this is normal while polling)",
        "keep polling every `interval` seconds until `expires_in` runs out",
    ),
    (
        404,
        "404: invalid device_code",
        "send the `device_code` from /oauth/device/code, not the `user_code`",
    ),
    (
        409,
        "409: this code was already approved and used",
        "stop polling; use the token you already received",
    ),
    (
        410,
        "410: the device code expired",
        "start again with /oauth/device/code",
    ),
    (
        418,
        "418: the user denied the app",
        "stop polling; ask the user to approve at trakt.tv/activate",
    ),
    (
        429,
        "429 Slow Down: polling faster than `interval`",
        "poll no more often than the `interval` returned by /oauth/device/code",
    ),
];

/// Statuses Trakt answers when it (or Cloudflare in front of it) is
/// overloaded or down: never the client's fault.
pub(crate) fn is_outage(status: u16) -> bool {
    // 520-527 and 530 are Cloudflare's own: the origin errored, refused,
    // timed out (522, 524), was unreachable (523) or failed TLS (525, 526).
    matches!(status, 502..=504 | 520..=527 | 529 | 530)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meanings_cover_ranges_and_only_documented_statuses() {
        assert_eq!(meaning(429), Some("Rate Limit Exceeded"));
        assert_eq!(meaning(503), meaning(502));
        assert_eq!(meaning(521), meaning(520));
        assert_eq!(meaning(418), None);
        assert_eq!(meaning(529), None);
        assert!(is_outage(529) && !is_outage(500));
    }
}
