//! Where the CA lives and how it is repaired, as a user meets it: the
//! per-user default folder (under a temporary HOME, never the real one),
//! `./certs` of an earlier version, `TRAKT_DOCTOR_CERTS`, `ca path` on a
//! missing CA, and a repair command that works in one go.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// trakt-doctor in `cwd` with HOME (and nothing else) pointing into `home`.
fn trakt_doctor_in(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("TRAKT_DOCTOR_CERTS")
        .env("NO_COLOR", "1")
        .output()
        .expect("run trakt-doctor")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_ca_lives_in_the_per_user_data_folder_whatever_the_working_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    for dir in [&home, &one, &two] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let expected = home.join(".local/share/trakt-doctor/trakt-doctor-ca.pem");

    // No CA yet: `ca path` says so, with the absolute path, and fails.
    let missing = trakt_doctor_in(&one, &home, &["ca", "path"]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing.stderr));
    assert!(missing.stdout.is_empty());
    let said = text(&missing.stderr);
    assert!(
        said.contains("no CA at") && said.contains(&expected.display().to_string()),
        "{said}"
    );

    // Created from one folder, found from another.
    let export = trakt_doctor_in(&one, &home, &["ca", "export"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert!(expected.exists());
    assert!(
        !one.join("certs").exists(),
        "nothing is written in the working folder"
    );
    let path = trakt_doctor_in(&two, &home, &["ca", "path"]);
    assert!(path.status.success(), "{}", text(&path.stderr));
    assert_eq!(text(&path.stdout).trim(), expected.display().to_string());
    assert_eq!(
        std::fs::read_to_string(&expected).unwrap(),
        text(&export.stdout)
    );

    // XDG_DATA_HOME and TRAKT_DOCTOR_CERTS move it.
    let xdg = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .args(["ca", "path"])
        .current_dir(&two)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", tmp.path().join("data"))
        .env_remove("TRAKT_DOCTOR_CERTS")
        .output()
        .unwrap();
    assert!(text(&xdg.stderr).contains(
        &tmp.path()
            .join("data/trakt-doctor/trakt-doctor-ca.pem")
            .display()
            .to_string()
    ));
    let by_env = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .args(["ca", "export"])
        .current_dir(&two)
        .env("HOME", &home)
        .env("TRAKT_DOCTOR_CERTS", "relative-ca")
        .output()
        .unwrap();
    assert!(by_env.status.success(), "{}", text(&by_env.stderr));
    assert!(two.join("relative-ca/trakt-doctor-ca.pem").exists());
}

#[test]
fn a_ca_left_in_certs_by_an_earlier_version_is_still_used_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    // As the earlier version made it: ./certs of the working folder.
    let made = trakt_doctor_in(&work, &home, &["ca", "export", "--certs", "certs"]);
    assert!(made.status.success(), "{}", text(&made.stderr));

    let path = trakt_doctor_in(&work, &home, &["ca", "path"]);
    assert!(path.status.success(), "{}", text(&path.stderr));
    let legacy = work.join("certs/trakt-doctor-ca.pem");
    assert_eq!(text(&path.stdout).trim(), legacy.display().to_string());
    let note = text(&path.stderr);
    assert!(
        note.contains("earlier trakt-doctor") && note.contains(".local/share/trakt-doctor"),
        "{note}"
    );
    assert!(!home.join(".local/share/trakt-doctor").exists());

    // The proxy started there opens it too (a CA for other domains than
    // asked, so it stops before listening), and says why it uses it.
    let out = trakt_doctor_in(
        &work,
        &home,
        &["--listen", "127.0.0.1:0", "--intercept", "example.org"],
    );
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(
        said.contains("earlier trakt-doctor")
            && said.contains(&legacy.display().to_string())
            && said.contains("limited to other domains"),
        "{said}"
    );
}

/// The command between the backticks after "run `".
fn suggested(message: &str) -> Vec<String> {
    let start = message.find("run `").expect("a command to run") + 5;
    let end = start + message[start..].find('`').expect("closing backtick");
    message[start..end]
        .split_whitespace()
        .map(|w| w.trim_matches('"').to_string())
        .collect()
}

#[test]
fn the_repair_for_a_ca_made_for_other_hosts_works_in_one_go() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let certs = tmp.path().join("ca");
    let certs_arg = certs.to_str().unwrap();
    // A CA for other hosts than the proxy's: made first, then again before each round.
    let for_other_hosts = || {
        let made = trakt_doctor_in(
            tmp.path(),
            &home,
            &[
                "ca",
                "regenerate",
                "--intercept",
                "example.org",
                "--certs",
                certs_arg,
            ],
        );
        assert!(made.status.success(), "{}", text(&made.stderr));
    };
    for_other_hosts();

    for intercept in [
        vec![],
        vec!["--intercept", "api.trakt.tv", "--intercept", "trakt.tv"],
    ] {
        let mut run = vec!["--certs", certs_arg, "--listen", "127.0.0.1:0"];
        run.extend(&intercept);
        let refused = trakt_doctor_in(tmp.path(), &home, &run);
        assert_eq!(refused.status.code(), Some(2));
        let message = text(&refused.stderr);
        assert!(message.contains("limited to other domains"), "{message}");
        let command = suggested(&message);
        assert_eq!(
            command[..3],
            ["trakt-doctor", "ca", "regenerate"],
            "{message}"
        );
        assert!(
            message.contains(&format!("--certs {certs_arg}")),
            "the folder is named: {message}"
        );
        // Run it as suggested; then the proxy starts with the same arguments.
        let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
        let repaired = trakt_doctor_in(tmp.path(), &home, &args);
        assert!(repaired.status.success(), "{}", text(&repaired.stderr));
        let extra: Vec<String> = intercept.iter().map(|s| s.to_string()).collect();
        let kept = tempfile::TempDir::new_in(tmp.path()).unwrap();
        for file in ["trakt-doctor-ca.pem", "trakt-doctor-ca.key"] {
            std::fs::copy(certs.join(file), kept.path().join(file)).unwrap();
        }
        let proxy = ProxyProcess::start_with_certs(&extra, kept);
        assert!(proxy.stderr().contains("listening on"));
        // Back to a CA for other hosts for the next round.
        for_other_hosts();
    }
}

#[test]
fn a_missing_key_names_the_repair_with_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("ca");
    let certs_arg = certs.to_str().unwrap();
    let made = trakt_doctor_in(
        tmp.path(),
        tmp.path(),
        &["ca", "export", "--certs", certs_arg],
    );
    assert!(made.status.success());
    std::fs::remove_file(certs.join("trakt-doctor-ca.key")).unwrap();
    let out = trakt_doctor_in(
        tmp.path(),
        tmp.path(),
        &["--certs", certs_arg, "--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    assert!(message.contains("is missing"), "{message}");
    assert_eq!(
        suggested(&message),
        ["trakt-doctor", "ca", "regenerate", "--certs", certs_arg]
    );
}
