//! trakt-doctor: a local HTTPS debugging proxy for Trakt and Stremio's Trakt bridge.
//!
//! The crate is a pure core (text, spec, report, exchange, lint, fix,
//! session, diagnose, redact, inspect: no I/O, no clock, nothing that can
//! panic on input) inside a thin async shell ([`proxy`], [`tls`], [`log`],
//! `web`); the README's Architecture section draws the layers. The binary
//! in `main.rs` only wires the command line ([`cli`]) to these modules
//! through [`app`] and `commands`.

// No function of the library is longer than clippy's default limit (100
// lines); tests/ and examples/ are not held to it.
#![deny(clippy::too_many_lines)]
// Items are crate-internal unless the crate offers them (see the `pub` modules).
#![deny(unreachable_pub)]

/// Declares a module of the pure core: outside tests it denies every
/// construct that can panic on input (slicing, unchecked arithmetic, unwrap,
/// expect, panic), so no request, response or file can crash the inspection.
/// One list for the whole core; a module that needs an exception says why
/// where it allows it.
macro_rules! core {
    ($($vis:vis mod $name:ident;)*) => {$(
        #[cfg_attr(
            not(test),
            deny(
                clippy::indexing_slicing,
                clippy::string_slice,
                clippy::arithmetic_side_effects,
                clippy::unwrap_used,
                clippy::expect_used,
                clippy::panic
            )
        )]
        $vis mod $name;
    )*};
}

// The pure core, bottom layer first (see README, Architecture).
core! {
    pub(crate) mod text;
    pub mod report;
    pub mod spec;
    pub mod exchange;
    pub mod lint;
    pub mod fix;
    pub mod session;
    pub mod diagnose;
    pub mod redact;
    pub mod inspect;
    pub mod resend;
    pub mod curl;
}

// The shell: I/O, async, the command line.
pub mod app;
pub(crate) mod auth;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod error;
pub(crate) mod fingerprint_key;
pub(crate) mod guide;
pub mod hosts;
pub mod log;
pub mod proxy;
pub(crate) mod respond;
pub(crate) mod share;
pub mod tls;
pub(crate) mod web;

/// The hosts decrypted when the user names none with `--intercept`: Trakt's
/// API hosts (apiz.trakt.tv is the private production one), auth.trakt.tv
/// where Trakt's contract sends OAuth, the website for the authorize page,
/// and Stremio's bridge.
pub const DEFAULT_INTERCEPT_HOSTS: [&str; 6] = [
    "api.trakt.tv",
    "apiz.trakt.tv",
    "auth.trakt.tv",
    "trakt.tv",
    "api.strem.io",
    "www.strem.io",
];

/// [`DEFAULT_INTERCEPT_HOSTS`] as validated host names.
pub fn default_intercept_hosts() -> Vec<hosts::HostName> {
    DEFAULT_INTERCEPT_HOSTS
        .iter()
        .filter_map(|h| h.parse().ok())
        .collect()
}
