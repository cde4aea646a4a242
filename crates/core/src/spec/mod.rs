//! The contracts as data: the Trakt API v2 endpoint table and header
//! contract. No I/O. The single source for linting, diagnosis and the docs.
//!
//! Facts come from ../shared/trakt-api.md (Trakt's developer guides and its
//! ts-rest contracts in the public trakt/trakt-api repository).

pub mod schema;
pub mod status;
pub mod stremio;
pub mod trakt;
