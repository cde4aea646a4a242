//! The CA's files ([`CaFiles`]) and where their folder is: `--certs DIR` or `TRAKT_DOCTOR_CERTS` when given,
//! else `./certs` when an earlier version left a CA there (so nothing the
//! user already trusts silently stops working), else one per-user folder in
//! the platform's data directory, so the proxy finds the same CA from any
//! working folder:
//!
//! - Linux (and other Unixes): `$XDG_DATA_HOME/trakt-doctor`, by default
//!   `~/.local/share/trakt-doctor`;
//! - macOS: `~/Library/Application Support/trakt-doctor`;
//! - Windows: `%APPDATA%\trakt-doctor` (the roaming profile, as
//!   `SHGetKnownFolderPath(FOLDERID_RoamingAppData)` answers).
//!
//! Written here rather than taken from the `directories` crate: its
//! `dirs-sys` dependency pulls in `option-ext` (MPL-2.0), which deny.toml's
//! permissive-only list refuses, and the rule is three environment lookups.
//!
//! [`default_dir`] and [`choose`] are pure (the environment and the working
//! folder are passed in) and tested for every system; [`CaFiles::locate`]
//! reads them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::guide::Os;
use crate::hosts::HostName;

/// File name of the CA certificate (the file users import).
pub const CA_CERT_FILE: &str = "trakt-doctor-ca.pem";
/// File name of the CA private key (never served, never logged).
pub const CA_KEY_FILE: &str = "trakt-doctor-ca.key";

/// Where the CA lives on disk, and how that folder was chosen (so advice
/// names `--certs DIR` when it is not the default).
#[derive(Debug, Clone)]
pub struct CaFiles {
    pub dir: PathBuf,
    pub chosen: Chosen,
    /// The per-user default folder, when there is one.
    pub default: Option<PathBuf>,
}

impl CaFiles {
    /// A folder given by the user (as `--certs DIR`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CaFiles {
            dir: dir.into(),
            chosen: Chosen::Given,
            default: None,
        }
    }

    /// The command that replaces this CA with one for every host of
    /// `hosts` in one go: the hosts are named unless they are the defaults,
    /// the folder unless it is the default one.
    pub fn regenerate_command(&self, hosts: &[HostName]) -> String {
        let mut command = "trakt-doctor ca regenerate".to_string();
        let (mut asked, mut defaults) = (hosts.to_vec(), crate::default_intercept_hosts());
        asked.sort();
        defaults.sort();
        if asked != defaults {
            for host in hosts {
                command.push_str(" --intercept ");
                command.push_str(host.as_str());
            }
        }
        command + &self.certs_flag()
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(CA_KEY_FILE)
    }
}

/// The environment variable that names the CA folder (also read by clap).
pub(crate) const CERTS_ENV: &str = "TRAKT_DOCTOR_CERTS";
/// The folder earlier versions used, relative to the working folder.
pub(crate) const LEGACY_DIR: &str = "certs";
/// The program's folder name inside the data directory.
const APP_DIR: &str = "trakt-doctor";

/// How the CA folder was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// `--certs DIR` or `TRAKT_DOCTOR_CERTS`.
    Given,
    /// The per-user data folder.
    Default,
    /// `./certs`, where an earlier version put the CA.
    Legacy,
}

/// The per-user data folder of trakt-doctor on `os`, from the environment
/// (`var`); `None` when the variable it rests on is unset or relative.
pub(crate) fn default_dir(os: Os, var: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| {
        var(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && !p.as_os_str().is_empty())
    };
    let base = match os {
        // XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
        Os::Linux => absolute("XDG_DATA_HOME")
            .or_else(|| absolute("HOME").map(|home| home.join(".local").join("share")))?,
        Os::Macos => absolute("HOME")?
            .join("Library")
            .join("Application Support"),
        Os::Windows => absolute("APPDATA")?,
    };
    Some(base.join(APP_DIR))
}

/// Chooses the CA folder: the given one (made absolute against `cwd`),
/// else `cwd/certs` when `legacy_has_ca`, else `default`.
pub(crate) fn choose(
    given: Option<&Path>,
    cwd: &Path,
    legacy_has_ca: bool,
    default: Option<PathBuf>,
) -> Result<(PathBuf, Chosen), String> {
    if let Some(dir) = given {
        return Ok((cwd.join(dir), Chosen::Given));
    }
    if legacy_has_ca {
        return Ok((cwd.join(LEGACY_DIR), Chosen::Legacy));
    }
    default.map(|dir| (dir, Chosen::Default)).ok_or_else(|| {
        "cannot tell where your data folder is (HOME, or APPDATA on Windows, is not set): \
         pass --certs DIR or set TRAKT_DOCTOR_CERTS"
            .to_string()
    })
}

impl CaFiles {
    /// The CA folder for this run: `given` (from `--certs` or
    /// `TRAKT_DOCTOR_CERTS`), `./certs` with a CA of an earlier version, or
    /// the per-user default. Always absolute.
    pub fn locate(given: Option<&Path>) -> Result<CaFiles, String> {
        let cwd =
            std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
        let legacy_has_ca = given.is_none() && cwd.join(LEGACY_DIR).join(CA_CERT_FILE).exists();
        let default = default_dir(Os::current(), &|name| std::env::var_os(name));
        let (dir, chosen) = choose(given, &cwd, legacy_has_ca, default.clone())?;
        Ok(CaFiles {
            dir: std::path::absolute(&dir).unwrap_or(dir),
            chosen,
            default,
        })
    }

    /// What the user should know about the choice, once per command: a CA
    /// of an earlier version found in `./certs` is used, not the default.
    pub fn note(&self) -> Option<String> {
        (self.chosen == Chosen::Legacy).then(|| {
            let default = match &self.default {
                Some(dir) => format!(" instead of the per-user folder {}", dir.display()),
                None => String::new(),
            };
            format!(
                "using the CA in {} (made by an earlier trakt-doctor, and maybe already trusted){default}; \
                 pass --certs {} (or set {CERTS_ENV}) to keep using it from any folder",
                self.dir.display(),
                shell_word(&self.dir.display().to_string()),
            )
        })
    }

    /// `--certs DIR` when this folder is not the one chosen by default (so a
    /// suggested command acts on this CA wherever it is run), else nothing.
    pub fn certs_flag(&self) -> String {
        match self.chosen {
            Chosen::Default => String::new(),
            Chosen::Given | Chosen::Legacy => {
                format!(" --certs {}", shell_word(&self.dir.display().to_string()))
            }
        }
    }
}

/// `word`, quoted when a shell would split or expand it.
pub(crate) fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:\\+=,@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn each_system_has_its_data_folder() {
        let unix = env(&[("HOME", "/home/ann")]);
        assert_eq!(
            default_dir(Os::Linux, &unix),
            Some(PathBuf::from("/home/ann/.local/share/trakt-doctor"))
        );
        let xdg = env(&[("HOME", "/home/ann"), ("XDG_DATA_HOME", "/data/ann")]);
        assert_eq!(
            default_dir(Os::Linux, &xdg),
            Some(PathBuf::from("/data/ann/trakt-doctor"))
        );
        // A relative XDG_DATA_HOME is ignored, as the XDG specification says.
        let relative = env(&[("HOME", "/home/ann"), ("XDG_DATA_HOME", "data")]);
        assert_eq!(
            default_dir(Os::Linux, &relative),
            Some(PathBuf::from("/home/ann/.local/share/trakt-doctor"))
        );
        assert_eq!(
            default_dir(Os::Macos, &env(&[("HOME", "/Users/ann")])),
            Some(PathBuf::from(
                "/Users/ann/Library/Application Support/trakt-doctor"
            ))
        );
        assert_eq!(default_dir(Os::Linux, &env(&[])), None);
        assert_eq!(default_dir(Os::Macos, &env(&[])), None);
        assert_eq!(default_dir(Os::Windows, &env(&[("HOME", "/x")])), None);
        #[cfg(windows)]
        assert_eq!(
            default_dir(
                Os::Windows,
                &env(&[("APPDATA", r"C:\Users\ann\AppData\Roaming")])
            ),
            Some(PathBuf::from(r"C:\Users\ann\AppData\Roaming\trakt-doctor"))
        );
        #[cfg(unix)]
        assert_eq!(
            default_dir(Os::Windows, &env(&[("APPDATA", "/roaming")])),
            Some(PathBuf::from("/roaming/trakt-doctor"))
        );
    }

    #[test]
    fn given_beats_an_earlier_certs_folder_which_beats_the_default() {
        let cwd = Path::new("/work");
        let default = Some(PathBuf::from("/home/ann/.local/share/trakt-doctor"));
        assert_eq!(
            choose(Some(Path::new("my-ca")), cwd, true, default.clone()).unwrap(),
            (PathBuf::from("/work/my-ca"), Chosen::Given)
        );
        assert_eq!(
            choose(Some(Path::new("/abs")), cwd, false, None).unwrap(),
            (PathBuf::from("/abs"), Chosen::Given)
        );
        assert_eq!(
            choose(None, cwd, true, default.clone()).unwrap(),
            (PathBuf::from("/work/certs"), Chosen::Legacy)
        );
        assert_eq!(
            choose(None, cwd, false, default.clone()).unwrap(),
            (default.clone().unwrap(), Chosen::Default)
        );
        let lost = choose(None, cwd, false, None).unwrap_err();
        assert!(lost.contains("--certs DIR"), "{lost}");
    }

    #[test]
    fn only_a_folder_other_than_the_default_is_named_in_commands() {
        let files = |chosen| CaFiles {
            dir: PathBuf::from("/tmp/my ca"),
            chosen,
            default: Some(PathBuf::from("/home/ann/.local/share/trakt-doctor")),
        };
        assert_eq!(files(Chosen::Default).certs_flag(), "");
        assert_eq!(files(Chosen::Given).certs_flag(), " --certs \"/tmp/my ca\"");
        assert!(files(Chosen::Default).note().is_none());
        let note = files(Chosen::Legacy).note().unwrap();
        assert!(
            note.contains("/tmp/my ca") && note.contains(".local/share/trakt-doctor"),
            "{note}"
        );
        assert_eq!(shell_word("/tmp/x-1/certs"), "/tmp/x-1/certs");
        assert_eq!(shell_word(r"C:\Users\ann"), r"C:\Users\ann");
    }
}
