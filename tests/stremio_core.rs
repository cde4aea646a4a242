//! Stremio's own client core through the proxy: the npm package
//! `@stremio/stremio-core-web` (stremio-core compiled to WebAssembly, the code
//! Stremio Web and the v5 apps run) plays a session in Debian's headless
//! Chromium (tests/stremio_core/run.mjs), proxied through the trakt-doctor
//! binary to the loopback fake in tests/common/stremio_fake.rs. Three
//! accounts: Trakt linked during the session (with --fix), an expired link,
//! no link. Needs `chromium`, `certutil` (libnss3-tools), node and `npm ci`
//! in tests/stremio_core; `.ci/run` installs them. A missing piece fails
//! with the command to run.
//!
//! `RECORD_STREMIO_CORE=1 cargo test --test stremio_core` rewrites
//! tests/fixtures/stremio-core-session.jsonl (the linked session's requests,
//! secrets replaced by placeholders) for tests/lint_corpus.rs.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::stremio_fake::*;
use common::*;
use serde_json::{json, Value};

/// The app version the page hands to the core's init, as Stremio Web does.
const APP_VERSION: &str = "5.0.0-beta.24";
/// The hosts trakt-doctor decrypts and logs; Cinemeta is tunnelled.
const INTERCEPTED: &[&str] = &["api.strem.io", "www.strem.io", "api.trakt.tv", "trakt.tv"];

fn core_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stremio_core")
}

fn require_tools() {
    let mut missing: Vec<String> = [
        ("/usr/bin/chromium", "apt-get install chromium"),
        ("/usr/bin/certutil", "apt-get install libnss3-tools"),
    ]
    .iter()
    .filter(|(path, _)| !Path::new(path).exists())
    .map(|(_, how)| how.to_string())
    .collect();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("apt-get install nodejs npm".into());
    }
    for package in ["playwright-core", "esbuild", "@stremio/stremio-core-web"] {
        if !core_dir().join("node_modules").join(package).exists() {
            missing.push(format!(
                "`npm ci` in tests/stremio_core (no {package} in its node_modules)"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "the Stremio core test needs: {} (or run .ci/run, which installs them)",
        missing.join("; ")
    );
}

/// Bundles the core's worker and the page once per test binary.
fn build() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        let out = Command::new("node")
            .arg("build.mjs")
            .current_dir(core_dir())
            .output()
            .map_err(|e| format!("node build.mjs: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "node build.mjs failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Trusts `cas` in an NSS database under `home`, as a Linux user does.
fn trust(home: &Path, cas: &[&Path]) {
    let nssdb = home.join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    let run = |args: &[&str]| {
        let out = Command::new("certutil")
            .args(args)
            .output()
            .expect("certutil");
        assert!(
            out.status.success(),
            "certutil {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["-N", "-d", &db, "--empty-password"]);
    for (i, ca) in cas.iter().enumerate() {
        let name = format!("test-ca-{i}");
        run(&[
            "-A",
            "-d",
            &db,
            "-t",
            "C,,",
            "-n",
            &name,
            "-i",
            ca.to_str().unwrap(),
        ]);
    }
}

/// What one session left behind.
struct Session {
    records: Vec<Value>,
    /// Requests that reached the fake through trakt-doctor (intercepted hosts only).
    received: Vec<Received>,
    /// Every sink a secret could reach: the JSONL log, the terminal's stdout and stderr.
    sinks: Vec<(&'static str, String)>,
    driver: String,
}

/// Plays the scenario with an account in `link` state through a proxy
/// started with `extra` flags.
async fn play(link: TraktLink, extra: &[&str], scenario: Value) -> Session {
    require_tools();
    build();
    let ca = TestCa::new();
    let (handler, _account) = stremio_servers(link);
    let fake = FakeUpstream::start_named(&ca, STREMIO_HOSTS, handler).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let mut args = vec![
        "--log".to_string(),
        log.display().to_string(),
        "--upstream-ca".to_string(),
        ca.pem_path.display().to_string(),
    ];
    for host in STREMIO_HOSTS {
        args.push("--resolve".into());
        args.push(format!("{host}:443={}", fake.addr));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut proxy = ProxyProcess::start(&args);
    let home = dir.path().join("home");
    trust(&home, &[&proxy.ca_path(), &ca.pem_path]);
    let mut config = json!({
        "proxy": proxy.addr.to_string(),
        "hosts": STREMIO_HOSTS,
        "home": home,
        "dist": core_dir().join("dist"),
        "appVersion": APP_VERSION,
        "email": EMAIL,
        "password": PASSWORD,
        "streamUrl": "http://127.0.0.1:9/stream.mkv",
        "movie": {"type": "movie", "id": MOVIE, "video": MOVIE, "duration": 8_520_000, "seekTo": 6_390_000, "hash": "8e245d9679d31e12"},
        "series": {"type": "series", "id": SERIES, "video": EPISODE, "duration": 2_880_000, "seekTo": 2_620_000, "hash": "1f0e2d3c4b5a6978"},
    });
    if let (Some(config), Some(scenario)) = (config.as_object_mut(), scenario.as_object()) {
        config.extend(scenario.clone());
    }
    let driver = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(core_dir().join("run.mjs"))
            .arg(config.to_string())
            .current_dir(core_dir())
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("node is needed ({e}); install nodejs"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&driver.stdout),
        String::from_utf8_lossy(&driver.stderr)
    );
    assert!(
        driver.status.success(),
        "the core's session failed:\n{text}\nproxy stderr:\n{}",
        proxy.stderr()
    );
    assert_eq!(proxy.interrupt(), Some(0));
    let received: Vec<Received> = fake
        .received()
        .into_iter()
        .filter(|r| INTERCEPTED.contains(&r.host.as_str()))
        .collect();
    let records = read_jsonl(&log);
    let sinks = vec![
        ("the JSONL log", std::fs::read_to_string(&log).unwrap_or_default()),
        ("stdout", proxy.stdout()),
        ("stderr", proxy.stderr()),
    ];
    Session {
        records,
        received,
        sinks,
        driver: text,
    }
}

fn url(record: &Value) -> &str {
    record["request"]["url"].as_str().unwrap_or_default()
}

/// `api.strem.io/api/login` → `login`; other hosts: the path.
fn name(record: &Value) -> String {
    let url = url(record);
    url.strip_prefix("https://api.strem.io/api/")
        .map(str::to_string)
        .unwrap_or_else(|| url.trim_start_matches("https://").to_string())
}

fn rules(record: &Value) -> Vec<String> {
    record["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn severities(record: &Value) -> Vec<(String, String)> {
    record["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or_default().to_string(),
                        f["severity"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One line per exchange: the request and its rule ids, for failure messages and the report.
fn summary(records: &[Value]) -> String {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {} -> {} {:?}",
                r["request"]["method"].as_str().unwrap_or_default(),
                name(r),
                r["response"]["status"],
                rules(r)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_trakt_during_a_session_with_fix() {
    let session = play(
        TraktLink::None,
        &["--fix"],
        json!({"link": true, "installTrakt": true, "logoutTrakt": true}),
    )
    .await;
    println!("{}\n{}", session.driver, summary(&session.records));
    check_common(&session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_trakt_link() {
    let session = play(
        TraktLink::Expired,
        &[],
        json!({"link": true, "installTrakt": false, "logoutTrakt": false}),
    )
    .await;
    println!("{}\n{}", session.driver, summary(&session.records));
    check_common(&session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_trakt_link() {
    let session = play(
        TraktLink::None,
        &[],
        json!({"link": false, "installTrakt": false, "logoutTrakt": false}),
    )
    .await;
    println!("{}\n{}", session.driver, summary(&session.records));
    check_common(&session);
}

/// What holds in every session: each request that reached the fake through
/// the proxy was logged, and no secret reached a sink.
fn check_common(session: &Session) {
    let logged: Vec<String> = session.records.iter().map(|r| url(r).to_string()).collect();
    let sent: Vec<String> = session
        .received
        .iter()
        .map(|r| format!("https://{}{}", r.host, r.path))
        .collect();
    let mut a = logged.clone();
    let mut b = sent.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "logged vs sent");
    for secret in [AUTH_KEY, PASSWORD, TRAKT_TOKEN, OAUTH_CODE] {
        for (sink, text) in &session.sinks {
            assert!(!text.contains(secret), "{secret} reached {sink}");
        }
    }
    let _ = severities;
    let _: BTreeSet<String> = BTreeSet::new();
}
