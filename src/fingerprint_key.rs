//! The per-install fingerprint key: 32 random bytes kept beside the CA as
//! `trakt-doctor-fingerprint.key`, created on the proxy's first run, never
//! printed or logged. Fingerprints in the logs are HMAC-SHA256 under it, so
//! they match the same token on this machine and reveal nothing elsewhere.
//!
//! On Unix the file is created with mode 0600, and the proxy warns at start
//! when others can read it ([`warnings`]). On Windows it inherits the ACL
//! of its folder; under the user's profile (the default for a per-user
//! install) only that user and administrators can read it.
//!
//! Shell: reads and writes files, then hands a [`Redactor`] to the pure core.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::redact::Redactor;
use crate::tls::ca::write_atomically;

/// File name of the key, in the CA folder.
pub(crate) const KEY_FILE: &str = "trakt-doctor-fingerprint.key";

const KEY_BYTES: usize = 32;

/// Where the key of the CA folder `dir` lives.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// The key of `dir`, created there when it is missing (the proxy).
pub(crate) fn load_or_create(dir: &Path) -> Result<Redactor, String> {
    if let Some(redactor) = load(dir)? {
        return Ok(redactor);
    }
    let mut key = [0u8; KEY_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| "cannot draw a random fingerprint key from the system".to_string())?;
    let file = path(dir);
    fs::create_dir_all(dir)
        .and_then(|()| write_atomically(&file, hex(&key).as_bytes(), true))
        .map_err(|e| format!("cannot create the fingerprint key {}: {e}", file.display()))?;
    // Another process may have written its own key at the same moment: use what is on disk.
    load(dir)?.ok_or_else(|| format!("the fingerprint key {} vanished", file.display()))
}

/// The key of `dir` when there is one (offline tools never create it).
pub(crate) fn load(dir: &Path) -> Result<Option<Redactor>, String> {
    let file = path(dir);
    let text = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read the fingerprint key {}: {e}",
                file.display()
            ))
        }
    };
    match unhex(text.trim()) {
        Some(key) if key.len() == KEY_BYTES => Ok(Some(Redactor::new(&key))),
        _ => Err(format!(
            "{} is not a trakt-doctor fingerprint key; delete it to make a new one \
             (fingerprints in earlier logs will then no longer match)",
            file.display()
        )),
    }
}

/// What is risky about the key of `dir`, one sentence each, for the
/// operator to read at start: a key others may read (Unix; on Windows the
/// file inherits its folder's ACL and nothing is checked).
pub(crate) fn warnings(dir: &Path) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = path(dir);
        let Ok(meta) = fs::metadata(&file) else {
            return Vec::new();
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return Vec::new();
        }
        vec![format!(
            "the fingerprint key {} can be read by other users (mode {mode:03o}); \
             anyone who reads it can test guessed tokens against the fingerprints in your logs: \
             run `chmod 600 {}`",
            file.display(),
            file.display()
        )]
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Vec::new()
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.push('\n');
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_then_loaded_and_corruption_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.fingerprint("t"), again.fingerprint("t"));
        assert_eq!(
            load(dir.path()).unwrap().unwrap().fingerprint("t"),
            first.fingerprint("t")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(warnings(dir.path()).is_empty());
        fs::write(path(dir.path()), "not hex\n").unwrap();
        let error = load(dir.path()).unwrap_err();
        assert!(error.contains("delete it"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(warnings(dir.path()).is_empty(), "no key, nothing to say");
        load_or_create(dir.path()).unwrap();
        assert!(warnings(dir.path()).is_empty());
        for mode in [0o644, 0o604, 0o640] {
            fs::set_permissions(path(dir.path()), fs::Permissions::from_mode(mode)).unwrap();
            let said = warnings(dir.path());
            assert!(
                said.len() == 1
                    && said[0].contains("can be read by other users")
                    && said[0].contains(&format!("mode {mode:03o}"))
                    && said[0].contains("chmod 600"),
                "{said:?}"
            );
        }
        fs::set_permissions(path(dir.path()), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(warnings(dir.path()).is_empty());
    }
}
