//! `trakt-doctor ca trust` / `ca untrust`: the commands that make the
//! current user's trust store trust (or stop trusting) the CA, without
//! administrator rights:
//!
//! - Linux: the NSS database `~/.pki/nssdb` (Chromium, Chrome, Stremio's
//!   shells) through `certutil` from libnss3-tools, created first when
//!   absent (a user who never ran Chrome has none);
//! - macOS: the login keychain through `security` (macOS asks for the
//!   user's own password to change trust settings, not an administrator's);
//! - Windows: the CurrentUser Root store through `certutil -user` (Windows
//!   asks the user to confirm).
//!
//! The project does not shell out for its own logic; these are the
//! system's trust tools the user would otherwise type. [`trust_plan`] and
//! [`untrust_plan`] build the argument lists (pure, tested for every
//! system); [`run`] executes them without a shell, argument by argument.

use std::path::{Path, PathBuf};

use crate::guide::Os;

/// The NSS nickname of the CA (the one the manual steps use too).
pub(crate) const NSS_NICKNAME: &str = "trakt-doctor";

/// One run of a system tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: &'static str,
    pub args: Vec<String>,
    /// What the run changes, for the user.
    pub effect: String,
    /// Run again while it succeeds (to remove every copy of a nickname).
    pub repeat: bool,
}

impl Invocation {
    fn new(program: &'static str, args: &[&str], effect: String) -> Self {
        Invocation {
            program,
            args: args.iter().map(|a| a.to_string()).collect(),
            effect,
            repeat: false,
        }
    }

    /// The command as a user would type it.
    pub fn display(&self) -> String {
        std::iter::once(self.program.to_string())
            .chain(self.args.iter().map(|a| super::location::shell_word(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The user's NSS database folder.
/// Beside the CA, what `ca trust` last did: the certificate it trusted and
/// when. The banner reads it instead of asking each system's store (slow,
/// and a process to run at every start).
fn trusted_note(dir: &Path) -> PathBuf {
    dir.join("trakt-doctor-ca.trusted")
}

/// Notes that `ca trust` trusted `pem` (the CA certificate) `on` a date.
pub(crate) fn note_trusted(dir: &Path, pem: &str, on: &str) -> std::io::Result<()> {
    std::fs::write(trusted_note(dir), format!("{on}\n{pem}"))
}

/// Forgets the note (`ca untrust`, or a regenerated CA).
pub(crate) fn forget_trusted(dir: &Path) {
    let _ = std::fs::remove_file(trusted_note(dir));
}

/// When `ca trust` trusted the CA whose certificate is `pem`, if it did.
pub(crate) fn trusted_on(dir: &Path, pem: &str) -> Option<String> {
    let note = std::fs::read_to_string(trusted_note(dir)).ok()?;
    let (on, trusted) = note.split_once('\n')?;
    (trusted.trim() == pem.trim()).then(|| on.trim().to_string())
}

pub(crate) fn nss_dir(home: &Path) -> PathBuf {
    home.join(".pki").join("nssdb")
}

/// The user's login keychain on macOS.
fn login_keychain(home: &Path) -> PathBuf {
    home.join("Library")
        .join("Keychains")
        .join("login.keychain-db")
}

/// Where [`trust_plan`] puts the CA, in words.
pub(crate) fn store_name(os: Os, home: &Path) -> String {
    match os {
        Os::Linux => format!("the NSS database {}", nss_dir(home).display()),
        Os::Macos => format!("the login keychain {}", login_keychain(home).display()),
        Os::Windows => "the current user's Trusted Root Certification Authorities store".into(),
    }
}

/// The runs that make `os` trust the CA `ca` for the user whose home is
/// `home`; `nss_exists` says whether the NSS database is already there.
pub(crate) fn trust_plan(os: Os, home: &Path, ca: &Path, nss_exists: bool) -> Vec<Invocation> {
    let ca = ca.display().to_string();
    match os {
        Os::Linux => {
            let db = format!("sql:{}", nss_dir(home).display());
            let mut plan = Vec::new();
            if !nss_exists {
                plan.push(Invocation::new(
                    "certutil",
                    &["-N", "--empty-password", "-d", &db],
                    format!(
                        "created an empty NSS database in {}",
                        nss_dir(home).display()
                    ),
                ));
            }
            plan.push(Invocation::new(
                "certutil",
                &["-A", "-d", &db, "-t", "C,,", "-n", NSS_NICKNAME, "-i", &ca],
                format!(
                    "added {ca} to {} as `{NSS_NICKNAME}`, trusted to identify web sites",
                    nss_dir(home).display()
                ),
            ));
            plan
        }
        Os::Macos => {
            let keychain = login_keychain(home).display().to_string();
            vec![Invocation::new(
                "security",
                &["add-trusted-cert", "-r", "trustRoot", "-k", &keychain, &ca],
                format!("added {ca} to {keychain}, trusted as a root for this user"),
            )]
        }
        Os::Windows => vec![Invocation::new(
            "certutil",
            &["-user", "-addstore", "Root", &ca],
            format!("added {ca} to the current user's Trusted Root Certification Authorities"),
        )],
    }
}

/// The runs that undo [`trust_plan`]: the CA whose SHA-1 thumbprint is
/// `sha1` (the id keychains and Windows stores use) leaves the store; on
/// Linux every certificate under the trakt-doctor nickname does.
pub(crate) fn untrust_plan(os: Os, home: &Path, sha1: &str) -> Vec<Invocation> {
    match os {
        Os::Linux => {
            let db = format!("sql:{}", nss_dir(home).display());
            let mut run = Invocation::new(
                "certutil",
                &["-D", "-d", &db, "-n", NSS_NICKNAME],
                format!(
                    "removed `{NSS_NICKNAME}` from the NSS database {}",
                    nss_dir(home).display()
                ),
            );
            run.repeat = true;
            vec![run]
        }
        Os::Macos => {
            let keychain = login_keychain(home).display().to_string();
            vec![Invocation::new(
                "security",
                &["delete-certificate", "-Z", sha1, "-t", &keychain],
                format!("removed the CA (SHA-1 {sha1}) and its trust settings from {keychain}"),
            )]
        }
        Os::Windows => vec![Invocation::new(
            "certutil",
            &["-user", "-delstore", "Root", sha1],
            format!(
                "removed the CA (SHA-1 {sha1}) from the current user's Trusted Root Certification Authorities"
            ),
        )],
    }
}

/// Where a missing tool comes from.
pub(crate) fn provider_of(os: Os, program: &str) -> String {
    match (os, program) {
        (Os::Linux, "certutil") => "certutil is not installed: install the package libnss3-tools \
             (Debian, Ubuntu; nss-tools on Fedora, nss on Arch) and run this again"
            .into(),
        _ => format!("{program} was not found on the PATH (it comes with the system)"),
    }
}

/// The SHA-1 thumbprint of a certificate, in upper-case hex (as Windows and
/// Keychain Access show it). SHA-1 only names the certificate here.
pub(crate) fn thumbprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// What running a plan did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// What changed, one line per successful run.
    pub changed: Vec<String>,
}

/// Runs `plan` in order, without a shell; stops at the first failure with
/// what the tool said (and how to get it when it is missing). A repeated
/// run stops quietly at its first failure (nothing left to remove).
pub(crate) fn run(os: Os, plan: &[Invocation]) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    for step in plan {
        // Bounded: one nickname never holds more than a handful of CAs.
        let rounds = if step.repeat { 32 } else { 1 };
        for round in 0..rounds {
            let output = std::process::Command::new(step.program)
                .args(&step.args)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => provider_of(os, step.program),
                    _ => format!("cannot run {}: {e}", step.program),
                })?;
            if output.status.success() {
                if round == 0 {
                    outcome.changed.push(step.effect.clone());
                }
                continue;
            }
            if step.repeat {
                // Nothing (more) under the nickname: done.
                break;
            }
            let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
            let said = if said.is_empty() {
                String::from_utf8_lossy(&output.stdout).trim().to_string()
            } else {
                said
            };
            return Err(format!(
                "`{}` failed ({}): {said}",
                step.display(),
                output
                    .status
                    .code()
                    .map_or("no exit status".to_string(), |c| format!("exit status {c}"))
            ));
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(plan: &[Invocation]) -> Vec<(String, Vec<String>)> {
        plan.iter()
            .map(|i| (i.program.to_string(), i.args.clone()))
            .collect()
    }

    fn owned(program: &str, list: &[&str]) -> (String, Vec<String>) {
        (
            program.to_string(),
            list.iter().map(|a| a.to_string()).collect(),
        )
    }

    #[test]
    fn linux_creates_the_nss_database_when_absent_then_adds_the_ca() {
        let home = Path::new("/home/ann");
        let ca = Path::new("/home/ann/.local/share/trakt-doctor/trakt-doctor-ca.pem");
        let db = "sql:/home/ann/.pki/nssdb";
        assert_eq!(
            args(&trust_plan(Os::Linux, home, ca, false)),
            vec![
                owned("certutil", &["-N", "--empty-password", "-d", db]),
                owned(
                    "certutil",
                    &[
                        "-A",
                        "-d",
                        db,
                        "-t",
                        "C,,",
                        "-n",
                        "trakt-doctor",
                        "-i",
                        "/home/ann/.local/share/trakt-doctor/trakt-doctor-ca.pem"
                    ]
                ),
            ]
        );
        assert_eq!(trust_plan(Os::Linux, home, ca, true).len(), 1);
        let untrust = untrust_plan(Os::Linux, home, "AB");
        assert_eq!(
            args(&untrust),
            vec![owned("certutil", &["-D", "-d", db, "-n", "trakt-doctor"])]
        );
        assert!(untrust[0].repeat);
    }

    #[test]
    fn macos_uses_the_login_keychain_and_removes_by_thumbprint() {
        let home = Path::new("/Users/ann");
        let keychain = "/Users/ann/Library/Keychains/login.keychain-db";
        assert_eq!(
            args(&trust_plan(Os::Macos, home, Path::new("/ca.pem"), false)),
            vec![owned(
                "security",
                &[
                    "add-trusted-cert",
                    "-r",
                    "trustRoot",
                    "-k",
                    keychain,
                    "/ca.pem"
                ]
            )]
        );
        assert_eq!(
            args(&untrust_plan(Os::Macos, home, "0A1B")),
            vec![owned(
                "security",
                &["delete-certificate", "-Z", "0A1B", "-t", keychain]
            )]
        );
    }

    #[test]
    fn windows_uses_the_current_user_root_store() {
        let home = Path::new(r"C:\Users\ann");
        let ca = Path::new(r"C:\Users\ann\AppData\Roaming\trakt-doctor\trakt-doctor-ca.pem");
        assert_eq!(
            args(&trust_plan(Os::Windows, home, ca, false)),
            vec![owned(
                "certutil",
                &[
                    "-user",
                    "-addstore",
                    "Root",
                    r"C:\Users\ann\AppData\Roaming\trakt-doctor\trakt-doctor-ca.pem"
                ]
            )]
        );
        assert_eq!(
            args(&untrust_plan(Os::Windows, home, "0A1B")),
            vec![owned("certutil", &["-user", "-delstore", "Root", "0A1B"])]
        );
        // Never the machine store, which needs an administrator.
        for step in trust_plan(Os::Windows, home, ca, false) {
            assert!(step.args.contains(&"-user".to_string()));
        }
    }

    #[test]
    fn commands_read_as_typed_and_a_missing_tool_names_its_package() {
        let plan = trust_plan(Os::Linux, Path::new("/home/a b"), Path::new("/c.pem"), true);
        assert_eq!(
            plan[0].display(),
            "certutil -A -d \"sql:/home/a b/.pki/nssdb\" -t C,, -n trakt-doctor -i /c.pem"
        );
        assert!(provider_of(Os::Linux, "certutil").contains("libnss3-tools"));
        assert_eq!(
            thumbprint(b"abc"),
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
    }
}
