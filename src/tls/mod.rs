//! TLS: the local CA, the per-host leaf certificates it mints, and the
//! upstream client configuration.
//!
//! Every rustls configuration in the program is built here, on the `ring`
//! provider, so that the choice is made once.

pub mod ca;
pub mod leaf;
pub mod location;
pub(crate) mod problem;
pub mod trust;
pub mod upstream;

use std::sync::Arc;

pub use ca::{CaError, CaFiles, CertificateAuthority};
pub use leaf::{LeafCache, ServerConfigSource};
pub use location::Chosen;

/// The crypto provider used by every TLS configuration of the program.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
