//! trakt-doctor: a local HTTPS debugging proxy for Trakt and Stremio's Trakt bridge.
//!
//! The pure core (text, spec, report, exchange, lint, fix, session,
//! diagnose, redact, inspect: no I/O, no clock, nothing that can panic on
//! input) is the crate `trakt-doctor-core` (crates/core); this crate is the
//! thin async shell around it ([`proxy`], [`tls`], [`log`],
//! `web`); CONTRIBUTING.md's Architecture section draws the layers. The binary
//! in `main.rs` only wires the command line ([`cli`]) to these modules
//! through [`app`] and `commands`.

// No function of the library is longer than clippy's default limit (100
// lines); tests/ and examples/ are not held to it.
#![deny(clippy::too_many_lines)]
// Items are crate-internal unless the crate offers them (see the `pub` modules).
#![deny(unreachable_pub)]

// The pure core is its own crate (crates/core, no I/O, builds for the
// browser); its modules keep their paths here.
pub(crate) use trakt_doctor_core::text;
pub use trakt_doctor_core::{
    curl, diagnose, exchange, fix, inspect, lint, parsed, redact, report, resend, session, spec,
};

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
pub(crate) mod page;
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
