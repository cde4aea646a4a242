//! The TLS configuration used to talk to the real (or a fake) upstream:
//! the system's trusted roots plus any `--upstream-ca` files. Certificate
//! verification is never turned off.

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};

/// Why the upstream trust store could not be built.
#[derive(Debug)]
pub struct UpstreamTlsError {
    pub path: Option<PathBuf>,
    pub detail: String,
}

impl std::fmt::Display for UpstreamTlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(path) => write!(f, "--upstream-ca {}: {}", path.display(), self.detail),
            None => write!(f, "upstream TLS: {}", self.detail),
        }
    }
}

impl std::error::Error for UpstreamTlsError {}

/// Builds the client configuration. The system roots are loaded when
/// `system_roots` is true; a system store that cannot be read is reported
/// through `tracing` and does not stop the proxy.
pub fn client_config(
    extra_cas: &[PathBuf],
    system_roots: bool,
) -> Result<ClientConfig, UpstreamTlsError> {
    let mut roots = RootCertStore::empty();
    if system_roots {
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::warn!("while loading the system's trusted certificates: {error}");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system root certificates");
    }
    for path in extra_cas {
        for cert in read_pem_certs(path)? {
            roots.add(cert).map_err(|e| UpstreamTlsError {
                path: Some(path.clone()),
                detail: e.to_string(),
            })?;
        }
    }
    let config = ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamTlsError {
            path: None,
            detail: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Reads every certificate of a PEM file; a file with none is an error.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, UpstreamTlsError> {
    let err = |detail: String| UpstreamTlsError {
        path: Some(path.to_path_buf()),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a valid PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(err("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}
