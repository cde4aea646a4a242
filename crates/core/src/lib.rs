//! The checks of [trakt-doctor](https://crates.io/crates/trakt-doctor), with
//! no I/O: the Trakt API contract and Stremio's bridge ([`spec`]), the
//! records of HTTP exchanges ([`exchange`]) and their readers ([`read`],
//! HAR and trakt-doctor's JSON Lines), the rules ([`lint`]), auto-fix
//! ([`fix`]), what a session of exchanges shows ([`session`]), the plain
//! words on why an answer came ([`diagnose`]), redaction of secrets
//! ([`redact`]), the pipeline that runs them in order ([`inspect`]), and
//! what a user hands on ([`share`], [`har`], [`curl`], [`resend`]).
//!
//! The proxy (`trakt-doctor`) and the browser page (`trakt-doctor-wasm`)
//! are built on it. No clock (every time is given), no file, no socket, no
//! C code: it builds for `wasm32-unknown-unknown`.

// Nothing here may panic on input: no slicing, unchecked arithmetic,
// unwrap, expect or panic outside tests; a module that needs an exception
// says why where it allows it.
#![cfg_attr(
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
// No function of the library is longer than clippy's default limit (100 lines).
#![deny(clippy::too_many_lines)]
#![deny(unreachable_pub)]
#![warn(missing_docs)]

// Bottom layer first (see tests/architecture.rs).
pub mod curl;
pub mod diagnose;
pub mod exchange;
pub mod fix;
pub mod har;
pub mod inspect;
pub mod lint;
pub mod parsed;
pub mod read;
pub mod redact;
pub mod report;
pub mod resend;
pub mod session;
pub mod share;
pub mod spec;
pub mod text;
