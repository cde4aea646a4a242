//! The per-user certificate authority: load it from its folder (see
//! [`super::location`]), or create it there on first run, and mint leaf
//! certificates with it.
//!
//! The CA carries X.509 name constraints that limit it to the intercepted
//! domains, so a leaked key cannot impersonate any other site. The private
//! key file is created with mode 0600 (on Windows it inherits the ACL of the
//! user's profile folder, which only that user and administrators can read).

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

pub use super::location::{CaFiles, CA_CERT_FILE, CA_KEY_FILE};
use crate::hosts::{covering_domains, HostName};

const CA_COMMON_NAME: &str = "trakt-doctor local CA";
const CA_LIFETIME_DAYS: i64 = 3650;
/// Below the 398 days browsers accept for a leaf certificate.
const LEAF_LIFETIME_DAYS: i64 = 390;

/// Everything that can go wrong with the CA, each with the way out.
#[derive(Debug)]
pub enum CaError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    CorruptCertificate {
        path: PathBuf,
        detail: String,

        /// The command that repairs it (see [`CaFiles::regenerate_command`]).
        regenerate: String,
    },
    CorruptKey {
        path: PathBuf,
        detail: String,

        /// The command that repairs it (see [`CaFiles::regenerate_command`]).
        regenerate: String,
    },
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,

        /// The command that repairs it (see [`CaFiles::regenerate_command`]).
        regenerate: String,
    },
    HalfMissing {
        present: PathBuf,
        missing: PathBuf,

        /// The command that repairs it (see [`CaFiles::regenerate_command`]).
        regenerate: String,
    },
    Expired {
        path: PathBuf,

        /// The command that repairs it (see [`CaFiles::regenerate_command`]).
        regenerate: String,
    },
    HostNotCovered {
        host: String,
        cert: PathBuf,
        detail: String,

        /// The command that repairs it (see [`CaFiles::regenerate_command`]).
        regenerate: String,
    },
    Mint {
        host: String,
        detail: String,
    },
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let again = |command: &str| {
            format!("run `{command}` to create a new CA, then trust the new certificate (`trakt-doctor ca trust`)")
        };
        match self {
            CaError::Io { path, source } => {
                write!(f, "cannot access {}: {source}", path.display())?;
                if source.kind() == io::ErrorKind::PermissionDenied {
                    write!(
                        f,
                        " (choose a folder you can write with --certs DIR or {})",
                        super::location::CERTS_ENV
                    )?;
                }
                Ok(())
            }
            CaError::CorruptCertificate {
                path,
                detail,
                regenerate,
            } => write!(
                f,
                "the CA certificate {} is not a valid PEM certificate ({detail}); {}",
                path.display(),
                again(regenerate)
            ),
            CaError::CorruptKey {
                path,
                detail,
                regenerate,
            } => write!(
                f,
                "the CA key {} is not a valid PEM private key ({detail}); {}",
                path.display(),
                again(regenerate)
            ),
            CaError::KeyMismatch {
                cert,
                key,
                regenerate,
            } => write!(
                f,
                "the CA key {} does not belong to the certificate {}; {}",
                key.display(),
                cert.display(),
                again(regenerate)
            ),
            CaError::HalfMissing {
                present,
                missing,
                regenerate,
            } => write!(
                f,
                "{} exists but {} is missing; {}",
                present.display(),
                missing.display(),
                again(regenerate)
            ),
            CaError::Expired { path, regenerate } => write!(
                f,
                "the CA certificate {} has expired; {}",
                path.display(),
                again(regenerate)
            ),
            CaError::HostNotCovered {
                host,
                cert,
                detail,
                regenerate,
            } => write!(
                f,
                "the CA {} is limited to other domains and cannot sign for `{host}` ({detail}); {}",
                cert.display(),
                again(regenerate)
            ),
            CaError::Mint { host, detail } => {
                write!(f, "cannot mint a certificate for `{host}`: {detail}")
            }
        }
    }
}

impl CaError {
    /// The same error, advising `command` as the repair.
    fn repaired_by(mut self, command: String) -> Self {
        match &mut self {
            CaError::CorruptCertificate { regenerate, .. }
            | CaError::CorruptKey { regenerate, .. }
            | CaError::KeyMismatch { regenerate, .. }
            | CaError::HalfMissing { regenerate, .. }
            | CaError::Expired { regenerate, .. }
            | CaError::HostNotCovered { regenerate, .. } => *regenerate = command,
            CaError::Io { .. } | CaError::Mint { .. } => {}
        }
        self
    }
}

/// The repair advised until [`CaError::repaired_by`] knows the folder and hosts.
const REGENERATE: &str = "trakt-doctor ca regenerate";

impl std::error::Error for CaError {}

/// A loaded CA, able to mint leaf certificates.
pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// One key for every leaf: minting then costs a signature, not a key generation.
    leaf_key: KeyPair,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

/// How [`CertificateAuthority::load_or_create`] found the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaOrigin {
    Loaded,
    Created,
}

impl CertificateAuthority {
    /// Generates a new CA limited to the domains that cover `hosts`.
    pub fn generate(hosts: &[HostName]) -> Result<(Self, String), CaError> {
        if hosts.is_empty() {
            // An empty permitted list would leave the CA unconstrained.
            return Err(CaError::Mint {
                host: CA_COMMON_NAME.into(),
                detail: "a CA needs at least one intercepted host to be limited to".into(),
            });
        }
        let mint_err = |e: rcgen::Error| CaError::Mint {
            host: CA_COMMON_NAME.into(),
            detail: e.to_string(),
        };
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(mint_err)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, CA_COMMON_NAME);
        params.distinguished_name.push(
            DnType::OrganizationName,
            "trakt-doctor (local, per install)",
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        // Server certificates only: no client, code or e-mail signing through this CA.
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: covering_domains(hosts)
                .into_iter()
                .map(|d| GeneralSubtree::DnsName(d.to_string()))
                .collect(),
            // No IP address certificates at all.
            excluded_subtrees: vec![
                GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])),
                GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16])),
            ],
        });
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(CA_LIFETIME_DAYS);
        let cert = params.self_signed(&key).map_err(mint_err)?;
        let key_pem = key.serialize_pem();
        let cert_pem = cert.pem();
        let ca = Self::from_parts(cert_pem, cert.der().clone(), Issuer::new(params, key))?;
        Ok((ca, key_pem))
    }

    fn from_parts(
        cert_pem: String,
        cert_der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    ) -> Result<Self, CaError> {
        let leaf_key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| CaError::Mint {
                host: "leaf key".into(),
                detail: e.to_string(),
            })?;
        Ok(CertificateAuthority {
            cert_pem,
            cert_der,
            issuer,
            leaf_key,
        })
    }

    /// Parses a CA from its PEM texts; `cert_path`/`key_path` only name the
    /// files in errors.
    pub fn from_pem(
        cert_pem: &str,
        key_pem: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Self, CaError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| CaError::CorruptKey {
            regenerate: REGENERATE.into(),
            path: key_path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let corrupt_cert = |detail: String| CaError::CorruptCertificate {
            regenerate: REGENERATE.into(),
            path: cert_path.to_path_buf(),
            detail,
        };
        use rustls_pki_types::pem::PemObject;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| corrupt_cert(e.to_string()))?
            .into_owned();
        // Checked before anything is signed: a key of another kind otherwise
        // surfaces as an unsupported algorithm, which reads like a name problem.
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| corrupt_cert(e.to_string()))?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(CaError::KeyMismatch {
                regenerate: REGENERATE.into(),
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
            });
        }
        let issuer =
            Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| corrupt_cert(e.to_string()))?;
        Self::from_parts(cert_pem.to_string(), cert_der, issuer)
    }

    /// Loads the CA from `files`, or creates it there when neither file
    /// exists. A CA that exists is never overwritten here.
    pub fn load_or_create(
        files: &CaFiles,
        hosts: &[HostName],
    ) -> Result<(Self, CaOrigin), CaError> {
        Self::load_or_create_unrepaired(files, hosts)
            .map_err(|e| e.repaired_by(files.regenerate_command(hosts)))
    }

    fn load_or_create_unrepaired(
        files: &CaFiles,
        hosts: &[HostName],
    ) -> Result<(Self, CaOrigin), CaError> {
        let (cert_path, key_path) = (files.cert_path(), files.key_path());
        match (cert_path.exists(), key_path.exists()) {
            (false, false) => {
                let ca = Self::create(files, hosts)?;
                Ok((ca, CaOrigin::Created))
            }
            (true, false) => Err(CaError::HalfMissing {
                regenerate: REGENERATE.into(),
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(CaError::HalfMissing {
                regenerate: REGENERATE.into(),
                present: key_path,
                missing: cert_path,
            }),
            (true, true) => {
                let read = |p: &Path| {
                    fs::read_to_string(p).map_err(|source| CaError::Io {
                        path: p.to_path_buf(),
                        source,
                    })
                };
                let ca =
                    Self::from_pem(&read(&cert_path)?, &read(&key_path)?, &cert_path, &key_path)?;
                for host in hosts {
                    ca.check_covers(host.as_str(), &cert_path, &key_path)?;
                }
                Ok((ca, CaOrigin::Loaded))
            }
        }
    }

    /// Generates a CA and writes it to `files`, replacing any previous one.
    /// The key is written first to a temporary file (mode 0600) and renamed,
    /// so a crash never leaves a half-written or world-readable key.
    pub fn create(files: &CaFiles, hosts: &[HostName]) -> Result<Self, CaError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CaError::Io { path, source }
        };
        fs::create_dir_all(&files.dir).map_err(io_err(&files.dir))?;
        let (ca, key_pem) = Self::generate(hosts)?;
        write_atomically(&files.key_path(), key_pem.as_bytes(), true)
            .map_err(io_err(&files.key_path()))?;
        write_atomically(&files.cert_path(), ca.cert_pem.as_bytes(), false)
            .map_err(io_err(&files.cert_path()))?;
        Ok(ca)
    }

    /// What is risky about this CA and its files, one sentence each, for the
    /// operator to read at start: a key others may read, or a CA without
    /// name constraints (not made by trakt-doctor: it could sign for any site).
    pub fn warnings(&self, files: &CaFiles) -> Vec<String> {
        let mut warnings = Vec::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = files.key_path();
            if let Ok(meta) = fs::metadata(&key) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    warnings.push(format!(
                        "the CA key {} can be read by other users (mode {mode:03o}); \
                         anyone who reads it can impersonate the intercepted sites to this machine: \
                         run `chmod 600 {}`",
                        key.display(),
                        key.display()
                    ));
                }
            }
        }
        // On Windows the key inherits the ACL of the user's folder; nothing is checked.
        #[cfg(not(unix))]
        let _ = files;
        let constrained = x509_parser::parse_x509_certificate(&self.cert_der)
            .ok()
            .and_then(|(_, cert)| cert.name_constraints().ok().flatten().map(|_| ()))
            .is_some();
        if !constrained {
            warnings.push(format!(
                "the CA {} has no name constraints: it was not made by trakt-doctor and can sign \
                 for any site, so a leak of its key exposes every site this machine trusts it for; \
                 run `trakt-doctor ca regenerate` for a CA limited to the intercepted domains",
                files.cert_path().display()
            ));
        }
        warnings
    }

    /// The CA certificate in PEM (public; safe to serve and print).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Mints a leaf certificate for `host`, returning the chain and key for rustls.
    pub fn mint_leaf(
        &self,
        host: &str,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CaError> {
        let mint_err = |e: rcgen::Error| CaError::Mint {
            host: host.to_string(),
            detail: e.to_string(),
        };
        let mut params = CertificateParams::new(vec![host.to_string()]).map_err(mint_err)?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(LEAF_LIFETIME_DAYS);
        let cert = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(mint_err)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        Ok((vec![cert.der().clone()], key))
    }

    /// Proves that this CA can sign for `host` by minting a leaf and
    /// verifying it as a client would (this also checks the key matches the
    /// certificate, the validity period and the name constraints).
    pub fn check_covers(
        &self,
        host: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<(), CaError> {
        let (chain, _) = self.mint_leaf(host)?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der.clone())
            .map_err(|e| CaError::CorruptCertificate {
                regenerate: REGENERATE.into(),
                path: cert_path.to_path_buf(),
                detail: e.to_string(),
            })?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            super::provider(),
        )
        .build()
        .map_err(|e| CaError::CorruptCertificate {
            regenerate: REGENERATE.into(),
            path: cert_path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| CaError::Mint {
            host: host.to_string(),
            detail: e.to_string(),
        })?;
        match verifier.verify_server_cert(&chain[0], &[], &name, &[], UnixTime::now()) {
            Ok(_) => Ok(()),
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)) => {
                Err(CaError::KeyMismatch {
                    regenerate: REGENERATE.into(),
                    cert: cert_path.to_path_buf(),
                    key: key_path.to_path_buf(),
                })
            }
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)) => {
                Err(CaError::Expired {
                    regenerate: REGENERATE.into(),
                    path: cert_path.to_path_buf(),
                })
            }
            Err(other) => Err(CaError::HostNotCovered {
                regenerate: REGENERATE.into(),
                host: host.to_string(),
                cert: cert_path.to_path_buf(),
                detail: super::problem::handshake_problem(&other),
            }),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, so readers never see a partial file. With `private`, the file
/// is created with mode 0600 on Unix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::Chosen;

    fn hosts(names: &[&str]) -> Vec<HostName> {
        names.iter().map(|h| h.parse().unwrap()).collect()
    }

    #[test]
    fn creates_then_loads_the_same_ca() {
        let dir = tempdir();
        let files = CaFiles::new(&dir);
        let default = hosts(&crate::DEFAULT_INTERCEPT_HOSTS);
        let (first, origin) = CertificateAuthority::load_or_create(&files, &default).unwrap();
        assert_eq!(origin, CaOrigin::Created);
        let (second, origin) = CertificateAuthority::load_or_create(&files, &default).unwrap();
        assert_eq!(origin, CaOrigin::Loaded);
        assert_eq!(first.cert_pem(), second.cert_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(files.key_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn name_constraints_refuse_other_domains() {
        let (ca, _) =
            CertificateAuthority::generate(&hosts(&["api.trakt.tv", "trakt.tv"])).unwrap();
        let p = Path::new("ca.pem");
        assert!(ca.check_covers("api.trakt.tv", p, p).is_ok());
        assert!(ca.check_covers("auth.trakt.tv", p, p).is_ok());
        let err = ca.check_covers("bank.example", p, p).unwrap_err();
        assert!(CertificateAuthority::generate(&[]).is_err());
        assert!(matches!(err, CaError::HostNotCovered { .. }), "{err}");
        assert!(err.to_string().contains("`trakt-doctor ca regenerate`"));
    }

    #[test]
    fn the_repair_command_covers_every_host_and_names_the_folder_in_one_go() {
        let dir = tempdir();
        let files = CaFiles::new(&dir);
        CertificateAuthority::create(&files, &hosts(&["example.org"])).unwrap();
        // Not one host per round: every host of the set, and this folder.
        let wanted = hosts(&["trakt.tv", "api.trakt.tv", "bank.example"]);
        let err = CertificateAuthority::load_or_create(&files, &wanted).unwrap_err();
        assert!(matches!(err, CaError::HostNotCovered { .. }), "{err}");
        let command = format!(
            "`trakt-doctor ca regenerate --intercept trakt.tv --intercept api.trakt.tv \
             --intercept bank.example --certs {}`",
            dir.display()
        );
        assert!(err.to_string().contains(&command), "{err}");
        // The default hosts in the default folder: the plain command.
        let default = CaFiles {
            chosen: Chosen::Default,
            ..files.clone()
        };
        assert_eq!(
            default.regenerate_command(&crate::default_intercept_hosts()),
            "trakt-doctor ca regenerate"
        );
        // A missing key names the same repair.
        fs::remove_file(files.key_path()).unwrap();
        let err = CertificateAuthority::load_or_create(&files, &wanted).unwrap_err();
        assert!(matches!(err, CaError::HalfMissing { .. }), "{err}");
        assert!(err.to_string().contains(&command), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_and_mismatched_files_give_clear_errors() {
        let dir = tempdir();
        let files = CaFiles::new(&dir);
        let default = hosts(&["trakt.tv"]);
        CertificateAuthority::create(&files, &default).unwrap();
        let good_key = fs::read_to_string(files.key_path()).unwrap();

        fs::write(files.cert_path(), "not a certificate").unwrap();
        let err = CertificateAuthority::load_or_create(&files, &default).unwrap_err();
        assert!(matches!(err, CaError::CorruptCertificate { .. }), "{err}");
        assert!(err.to_string().contains("ca regenerate"));

        // A certificate from another CA with this key: the key does not match.
        let (other, _) = CertificateAuthority::generate(&default).unwrap();
        fs::write(files.cert_path(), other.cert_pem()).unwrap();
        let err = CertificateAuthority::load_or_create(&files, &default).unwrap_err();
        assert!(matches!(err, CaError::KeyMismatch { .. }), "{err}");
        // ... also when that other CA is limited to other domains: the key is the problem.
        let (elsewhere, _) = CertificateAuthority::generate(&hosts(&["example.org"])).unwrap();
        fs::write(files.cert_path(), elsewhere.cert_pem()).unwrap();
        let err = CertificateAuthority::load_or_create(&files, &default).unwrap_err();
        assert!(matches!(err, CaError::KeyMismatch { .. }), "{err}");
        assert!(
            !err.to_string().contains("limited to other domains"),
            "{err}"
        );
        // ... and when the key is of another kind than the certificate's.
        fs::write(files.cert_path(), other.cert_pem()).unwrap();
        let ed25519 = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        fs::write(files.key_path(), ed25519.serialize_pem()).unwrap();
        let err = CertificateAuthority::load_or_create(&files, &default).unwrap_err();
        assert!(matches!(err, CaError::KeyMismatch { .. }), "{err}");

        fs::write(files.key_path(), "-----BEGIN PRIVATE KEY-----\ngarbage\n").unwrap();
        let err = CertificateAuthority::load_or_create(&files, &default).unwrap_err();
        assert!(matches!(err, CaError::CorruptKey { .. }), "{err}");

        fs::write(files.key_path(), good_key).unwrap();
        fs::remove_file(files.cert_path()).unwrap();
        let err = CertificateAuthority::load_or_create(&files, &default).unwrap_err();
        assert!(matches!(err, CaError::HalfMissing { .. }), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_ca_is_for_server_certificates_only() {
        let (ca, _) = CertificateAuthority::generate(&hosts(&["trakt.tv"])).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(ca.cert_der()).unwrap();
        let eku = cert
            .extended_key_usage()
            .unwrap()
            .expect("an EKU extension");
        assert!(eku.value.server_auth);
        assert!(!eku.value.client_auth && !eku.value.code_signing && !eku.value.any);
        assert!(eku.value.other.is_empty());
        // Leaves still verify under it.
        let p = Path::new("ca.pem");
        assert!(ca.check_covers("api.trakt.tv", p, p).is_ok());
    }

    #[test]
    fn a_readable_key_and_an_unconstrained_ca_are_warned_about() {
        let dir = tempdir();
        let files = CaFiles::new(&dir);
        let default = hosts(&["trakt.tv"]);
        let ca = CertificateAuthority::create(&files, &default).unwrap();
        assert!(ca.warnings(&files).is_empty(), "{:?}", ca.warnings(&files));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(files.key_path(), fs::Permissions::from_mode(0o644)).unwrap();
            let warnings = ca.warnings(&files);
            assert!(
                warnings.len() == 1 && warnings[0].contains("read by other users"),
                "{warnings:?}"
            );
            fs::set_permissions(files.key_path(), fs::Permissions::from_mode(0o600)).unwrap();
        }
        // Someone else's CA: no name constraints.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Some Corp CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        fs::write(files.cert_path(), cert.pem()).unwrap();
        fs::write(files.key_path(), key.serialize_pem()).unwrap();
        let (foreign, _) = CertificateAuthority::load_or_create(&files, &default).unwrap();
        let warnings = foreign.warnings(&files);
        assert!(
            warnings.iter().any(|w| w.contains("no name constraints")),
            "{warnings:?}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "trakt-doctor-ca-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }
}
