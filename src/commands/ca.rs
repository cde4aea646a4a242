//! `trakt-doctor ca path|export|trust|untrust|regenerate`: the CA's file,
//! its PEM, this user's trust in it, a new one. Every message names the
//! CA by its absolute path.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::{self, CaAction, CaArgs};
use crate::error::{Context, Fatal};
use crate::guide::Os;
use crate::tls::ca::CertificateAuthority;
use crate::tls::{trust, CaFiles};

pub(crate) fn run(args: CaArgs) -> Result<i32, Fatal> {
    match args.action {
        CaAction::Path { certs } => {
            let files = located(&certs)?;
            let path = files.cert_path();
            if !path.exists() {
                eprintln!(
                    "trakt-doctor: there is no CA at {} yet: the proxy creates it on its first run \
                     (or run `trakt-doctor ca trust{}` to create and trust it now)",
                    path.display(),
                    files.certs_flag()
                );
                return Ok(1);
            }
            println!("{}", path.display())
        }
        CaAction::Export { certs } => {
            let files = located(&certs)?;
            let ca = open(&files)?;
            print!("{}", ca.cert_pem());
        }
        CaAction::Trust { certs } => {
            let files = located(&certs)?;
            let ca = open(&files)?;
            return trust_it(&files, &ca, true);
        }
        CaAction::Untrust { certs } => {
            let files = located(&certs)?;
            let ca = open(&files)?;
            return trust_it(&files, &ca, false);
        }
        CaAction::Regenerate { certs, intercept } => {
            let files = located(&certs)?;
            let hosts = cli::intercept_hosts(&intercept);
            CertificateAuthority::create(&files, &hosts).context(&format!(
                "cannot create a new CA in {}",
                files.dir.display()
            ))?;
            eprintln!(
                "trakt-doctor: a new CA for {} is in {}.\n\
                 Remove the old trakt-doctor CA from your trust store and trust this one instead \
                 (`trakt-doctor ca trust{}` does both for this user).",
                super::host_list(&hosts),
                files.cert_path().display(),
                files.certs_flag()
            );
        }
    }
    Ok(0)
}

/// The CA folder, saying so when it is `./certs` of an earlier version.
fn located(certs: &cli::CertsArgs) -> Result<CaFiles, Fatal> {
    let files = certs.files()?;
    if let Some(note) = files.note() {
        eprintln!("trakt-doctor: {note}");
    }
    Ok(files)
}

/// The CA of `files`, created for the default hosts when there is none;
/// one that exists is used whatever hosts it covers.
fn open(files: &CaFiles) -> Result<CertificateAuthority, Fatal> {
    let hosts = if files.cert_path().exists() || files.key_path().exists() {
        Vec::new()
    } else {
        crate::default_intercept_hosts()
    };
    let (ca, origin) = CertificateAuthority::load_or_create(files, &hosts)
        .context(&format!("cannot use the CA in {}", files.dir.display()))?;
    if origin == crate::tls::ca::CaOrigin::Created {
        eprintln!(
            "trakt-doctor: created a new CA in {}",
            files.cert_path().display()
        );
    }
    Ok(ca)
}

/// `ca trust` (`add`) or `ca untrust`: runs the system's trust tool for
/// this user and says what changed and how to undo it.
fn trust_it(files: &CaFiles, ca: &CertificateAuthority, add: bool) -> Result<i32, Fatal> {
    let os = Os::current();
    let home = home(os)?;
    let cert = files.cert_path();
    let plan = if add {
        if os == Os::Linux {
            // certutil -N needs the folder; creating it is all the shell does here.
            std::fs::create_dir_all(trust::nss_dir(&home)).context(&format!(
                "cannot create {}",
                trust::nss_dir(&home).display()
            ))?;
        }
        let nss_exists = trust::nss_dir(&home).join("cert9.db").exists();
        trust::trust_plan(os, &home, &cert, nss_exists)
    } else {
        trust::untrust_plan(os, &home, &trust::thumbprint(ca.cert_der()))
    };
    let outcome = trust::run(os, &plan).map_err(|e| {
        Fatal(format!(
            "cannot {} the CA {} in {}: {e}",
            if add { "trust" } else { "untrust" },
            cert.display(),
            trust::store_name(os, &home)
        ))
    })?;
    for change in &outcome.changed {
        eprintln!("trakt-doctor: {change}");
    }
    let flag = files.certs_flag();
    if add {
        if let Ok(pem) = std::fs::read_to_string(&cert) {
            let on = time::OffsetDateTime::now_utc().date().to_string();
            // Only the banner's wording depends on it.
            let _ = trust::note_trusted(&files.dir, &pem, &on);
        }
        eprintln!(
            "trakt-doctor: this user's browsers and apps that read {} now trust the CA \
             (restart them to pick it up). Undo with `trakt-doctor ca untrust{flag}`.\n\
             trakt-doctor: {}",
            trust::store_name(os, &home),
            crate::guide::OWN_TRUST_STORES
        );
    } else if outcome.changed.is_empty() {
        eprintln!(
            "trakt-doctor: nothing to remove: {} did not hold the CA",
            trust::store_name(os, &home)
        );
    } else {
        eprintln!("trakt-doctor: trust it again with `trakt-doctor ca trust{flag}`.");
    }
    if !add {
        trust::forget_trusted(&files.dir);
    }
    Ok(0)
}

/// The user's home folder (`HOME`, or `USERPROFILE` on Windows).
fn home(os: Os) -> Result<PathBuf, Fatal> {
    home_of(os, &|name| std::env::var_os(name)).map_err(Fatal)
}

/// The home folder of the user on `os`, from the environment (`var`): only
/// an absolute one, since the trust store is found from it.
fn home_of(os: Os, var: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, String> {
    let name = match os {
        Os::Windows => "USERPROFILE",
        Os::Macos | Os::Linux => "HOME",
    };
    var(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .ok_or_else(|| format!("{name} is not set: cannot find this user's trust store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &'static str, value: &'static str) -> impl Fn(&str) -> Option<OsString> {
        move |asked| (asked == name).then(|| OsString::from(value))
    }

    #[test]
    fn each_system_finds_the_home_in_its_own_variable() {
        assert_eq!(
            home_of(Os::Linux, &env("HOME", "/home/ann")),
            Ok(PathBuf::from("/home/ann"))
        );
        assert_eq!(
            home_of(Os::Macos, &env("HOME", "/Users/ann")),
            Ok(PathBuf::from("/Users/ann"))
        );
        // Windows does not read HOME (set by some shells, to a Unix-style path).
        let error = home_of(Os::Windows, &env("HOME", "/home/ann")).unwrap_err();
        assert!(error.contains("USERPROFILE"), "{error}");
        #[cfg(windows)]
        assert_eq!(
            home_of(Os::Windows, &env("USERPROFILE", r"C:\Users\ann")),
            Ok(PathBuf::from(r"C:\Users\ann"))
        );
        #[cfg(unix)]
        assert_eq!(
            home_of(Os::Windows, &env("USERPROFILE", "/users/ann")),
            Ok(PathBuf::from("/users/ann"))
        );
        // A relative home names no trust store.
        let error = home_of(Os::Linux, &env("HOME", "ann")).unwrap_err();
        assert!(error.contains("HOME is not set"), "{error}");
        assert!(home_of(Os::Macos, &|_| None).is_err());
    }
}
