//! A cache of TLS server configurations, one per intercepted host, each
//! carrying a leaf certificate minted by the local CA.
//!
//! The proxy only sees the [`ServerConfigSource`] trait, so tests can hand
//! it a CA of their own.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;

use super::ca::{CaError, CertificateAuthority};

/// Gives the TLS configuration to present to a client that asked for `host`.
pub trait ServerConfigSource: Send + Sync {
    fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError>;
}

/// Mints a leaf per host on first use and keeps it for the life of the process.
pub struct LeafCache {
    ca: CertificateAuthority,
    configs: RwLock<HashMap<String, Arc<ServerConfig>>>,
}

impl LeafCache {
    pub fn new(ca: CertificateAuthority) -> Self {
        LeafCache {
            ca,
            configs: RwLock::new(HashMap::new()),
        }
    }

    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    fn build(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let (chain, key) = self.ca.mint_leaf(host)?;
        let mint_err = |e: rustls::Error| CaError::Mint {
            host: host.to_string(),
            detail: e.to_string(),
        };
        let mut config = ServerConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()
            .map_err(mint_err)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(mint_err)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ServerConfigSource for LeafCache {
    fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let host = host.to_ascii_lowercase();
        if let Some(config) = self
            .configs
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&host)
        {
            return Ok(config.clone());
        }
        let config = self.build(&host)?;
        let mut configs = self
            .configs
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another task may have minted it meanwhile: keep the first one.
        Ok(configs.entry(host).or_insert(config).clone())
    }
}
