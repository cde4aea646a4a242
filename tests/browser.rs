//! The web view and the proxy in a real browser: Debian's headless Chromium,
//! driven by playwright-core (tests/browser/*.mjs). Needs `chromium`,
//! `certutil` (libnss3-tools), node and `npm install` in tests/browser;
//! `.ci/run` installs them. A missing piece fails with the command to run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::*;

const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn require_tools() {
    let missing: Vec<&str> = [
        ("/usr/bin/chromium", "apt-get install chromium"),
        ("/usr/bin/certutil", "apt-get install libnss3-tools"),
    ]
    .iter()
    .filter(|(path, _)| !Path::new(path).exists())
    .map(|(_, how)| *how)
    .collect();
    assert!(
        missing.is_empty(),
        "browser tests need: {} (or run .ci/run, which installs them)",
        missing.join("; ")
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "browser tests need playwright-core: run `npm install` in tests/browser (or run .ci/run)"
    );
}

/// A page server: a 200 HTML page that says `title` and the path asked for.
fn html_page(title: &'static str) -> Handler {
    Arc::new(move |r: &Received| Reply {
        headers: vec![("content-type".into(), "text/html".into())],
        ..Reply::json(
            200,
            &format!("<html><body>{title} {}</body></html>", r.path),
        )
    })
}

fn node(script: &str, config: serde_json::Value) -> (bool, String) {
    node_script(&browser_dir().join(script), config.to_string())
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_view_shows_traffic_live_and_explains_it() {
    require_tools();
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let args = route_to(&fake, &ca);
    let proxy = ProxyProcess::start(&args);
    let ca_path = proxy.ca_path().display().to_string();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "-x",
            &proxy.url(),
            "--cacert",
            &ca_path,
            "-H",
            "User-Agent: BrowserTest/1",
            "-H",
            "trakt-api-version: 2",
            "-H",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(format!("trakt-api-key: {CLIENT_ID}"));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let curls = vec![
        base(&["https://api.trakt.tv/movies/trending"]),
        base(&[
            "-H",
            "Authorization: Bearer t0k3n",
            "-H",
            "Content-Type: application/json",
            "--data",
            "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10,}",
            "https://api.trakt.tv/scrobble/start",
        ]),
        base(&["https://api.trakt.tv/shows/trending"]),
    ];
    let screenshot = artifacts().join("web-view.png");
    let (ok, output) = node(
        "ui.mjs",
        serde_json::json!({
            // The start link unlocks the actions; the plain address reads only.
            "page": proxy.unlock_url(),
            "plain": format!("{}/", proxy.url()),
            "curls": curls,
            "expectRows": 3,
            "errorRule": "body.json.invalid",
            "summary": "400 because the body is not JSON",
            "screenshot": screenshot,
        }),
    );
    assert!(ok, "{output}\nproxy stderr:\n{}", proxy.stderr());
    assert!(
        output.contains("rows appeared live")
            && output.contains("without the start link")
            && output.contains("OK"),
        "{output}"
    );
    assert!(
        std::fs::metadata(&screenshot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot"
    );
    println!("{output}screenshot: {}", screenshot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_through_the_proxy_trusts_the_ca_from_an_nss_database() {
    require_tools();
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, html_page("Stremio Trakt page")).await;
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log.jsonl");
    let mut args = vec!["--log".to_string(), log.display().to_string()];
    args.extend(route_to(&fake, &ca));
    let proxy = ProxyProcess::start(&args);
    let home = tmp.path().join("home");
    trust_in_nssdb(&home, &[&proxy.ca_path()]);
    let (ok, output) = node(
        "proxied.mjs",
        serde_json::json!({
            "proxy": proxy.url(),
            "url": "https://www.strem.io/trakt/hello",
            "home": home,
            "expect": "Stremio Trakt page /trakt/hello",
        }),
    );
    assert!(ok, "{output}\nproxy stderr:\n{}", proxy.stderr());
    let records = wait_for_records(&log, 1);
    assert!(
        records
            .iter()
            .any(|r| r["request"]["url"] == "https://www.strem.io/trakt/hello"),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detail_pane_resends_compares_copies_as_curl_and_reports() {
    require_tools();
    const SECRET: &str = "browserResendToken8c2f5a";
    const TYPED: &str = "browserTypedToken3e9d1b";
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    // Bodies up to 40 MB are captured whole (the eviction below needs one).
    let mut args = route_to(&fake, &ca);
    args.extend(["--capture-limit", "40000000", "--body-memory", "400000000"].map(String::from));
    let proxy = ProxyProcess::start(&args);
    let ca_path = proxy.ca_path().display().to_string();
    let bearer = format!("Authorization: Bearer {SECRET}");
    let key = format!("trakt-api-key: {CLIENT_ID}");
    let through = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["-x", &proxy.url(), "--cacert", &ca_path]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for h in ["User-Agent: BrowserResend/1", &key, &bearer] {
            v.push("-H".into());
            v.push(h.to_string());
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let curls = vec![
        through(&[
            "-H",
            "trakt-api-version: 2",
            "https://api.trakt.tv/users/settings",
        ]),
        // No trakt-api-version: Trakt answers 400, auto-fix adds it.
        through(&[
            "-H",
            "Content-Type: application/json",
            "--data",
            "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10}",
            "https://api.trakt.tv/scrobble/start",
        ]),
    ];
    // A GET with another token, then a 33 MB secret that evicts its original
    // (the originals hold 8 MiB; the redacted record is small).
    let tmp = tempfile::tempdir().unwrap();
    let huge = tmp.path().join("huge.json");
    std::fs::write(
        &huge,
        format!(r#"{{"refresh_token":"{}"}}"#, "x".repeat(33 << 20)),
    )
    .unwrap();
    let plain = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["-x", &proxy.url(), "--cacert", &ca_path]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let evict = vec![
        plain(&[
            "-H",
            "User-Agent: BrowserResend/1",
            "-H",
            "trakt-api-version: 2",
            "-H",
            &key,
            "-H",
            &format!("Authorization: Bearer {TYPED}"),
            "https://api.trakt.tv/users/settings?evicted=1",
        ]),
        plain(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", huge.display()),
            "https://api.trakt.tv/oauth/token",
        ]),
    ];
    let screenshot = artifacts().join("web-resend.png");
    let (ok, output) = node(
        "resend.mjs",
        serde_json::json!({
            "page": proxy.unlock_url(),
            "curls": curls,
            "evict": evict,
            "secret": SECRET,
            "typed": TYPED,
            "screenshot": screenshot,
        }),
    );
    assert!(ok, "{output}\nproxy stderr:\n{}", proxy.stderr());
    assert!(output.contains("OK"), "{output}");
    // What Trakt received: the 400 once as captured, then twice repaired.
    let scrobbles: Vec<Received> = fake
        .received()
        .into_iter()
        .filter(|r| r.path == "/scrobble/start")
        .collect();
    assert_eq!(scrobbles.len(), 4, "{scrobbles:?}");
    for sent in &scrobbles {
        assert_eq!(
            sent.headers.get("authorization").unwrap(),
            &format!("Bearer {SECRET}"),
            "each resend carries the captured token"
        );
    }
    assert_eq!(
        fake.bearers("/users/settings"),
        [SECRET, SECRET, TYPED, TYPED].map(|t| format!("Bearer {t}"))
    );
    println!("{output}screenshot: {}", screenshot.display());
}

/// `ca trust` for a user who never ran Chrome (no NSS database yet), then
/// Chromium loads a page through the proxy; `ca untrust`, and the same
/// load fails on the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_trust_makes_chromium_trust_the_proxy_and_ca_untrust_undoes_it() {
    require_tools();
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, html_page("Trakt page")).await;
    let proxy = ProxyProcess::start(&route_to(&fake, &ca));
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let ca_command = |action: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
            .args(["ca", action, "--certs"])
            .arg(proxy.certs.path())
            .env("HOME", &home)
            .output()
            .expect("run trakt-doctor");
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "ca {action}: {said}");
        said
    };
    let load = |profile: &str| {
        node(
            "proxied.mjs",
            serde_json::json!({
                "proxy": proxy.url(),
                "url": "https://api.trakt.tv/hello",
                "home": home,
                "profile": home.join(profile),
                "expect": "Trakt page /hello",
            }),
        )
    };

    let trusted = ca_command("trust");
    let nssdb = home.join(".pki/nssdb");
    assert!(
        trusted.contains(&format!(
            "created an empty NSS database in {}",
            nssdb.display()
        )) && trusted.contains("added ")
            && trusted.contains("Undo with `trakt-doctor ca untrust --certs")
            && trusted.contains("NODE_EXTRA_CA_CERTS")
            && trusted.contains("security.enterprise_roots.enabled"),
        "{trusted}"
    );
    // A proxy started on that CA now says it is trusted, not "trust it once".
    let banner = |home: &std::path::Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
            .args(["--listen", "127.0.0.1:0", "--certs"])
            .arg(proxy.certs.path())
            .env("HOME", home)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run trakt-doctor");
        let stderr = child.stderr.take().unwrap();
        let mut said = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap_or_default();
            said.push_str(&line);
            said.push('\n');
            if line.contains("Press Ctrl-C") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        said
    };
    let said = banner(&home);
    assert!(
        said.contains("The CA is trusted for this user") && !said.contains("Trust the CA once"),
        "{said}"
    );
    let (ok, output) = load("before");
    assert!(ok, "{output}\nproxy stderr:\n{}", proxy.stderr());

    let untrusted = ca_command("untrust");
    assert!(untrusted.contains("removed `trakt-doctor`"), "{untrusted}");
    assert!(banner(&home).contains("Trust the CA once"));
    let (ok, output) = load("after");
    assert!(!ok, "the page loaded without trust: {output}");
    assert!(output.contains("ERR_CERT_AUTHORITY_INVALID"), "{output}");
    // Nothing left: said, and still a success.
    assert!(ca_command("untrust").contains("nothing to remove"));
}

/// The web view as a person meets it: a client that refuses the
/// certificate (a banner says who, for which host, and the fix), then real
/// traffic (three-digit ids, a user's long list URL, several findings per
/// row, an auto-fixed one, a resend) at 1024 and 1400 px, and a detail pane
/// that marks each finding in the request and offers the repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_fits_1024_px_and_the_detail_points_into_the_request() {
    require_tools();
    const LONG_PATH: &str = "/users/sean-the-very-long-username/lists/my-favourite-movies-of-all-time-2024-edition/items/movies?extended=full&page=12&limit=250";
    let ca = TestCa::new();
    // Trakt, and Stremio's API failing inside a 200 (a finding in the answer).
    let trakt = strict_trakt();
    let handler: Handler = Arc::new(move |r: &Received| {
        if r.host.starts_with("api.strem.io") {
            Reply::json(
                200,
                r#"{"error":{"message":"Session does not exist","code":1}}"#,
            )
        } else {
            trakt(r)
        }
    });
    let fake = FakeUpstream::start(&ca, handler).await;
    let proxy = ProxyProcess::start(&route_to(&fake, &ca));
    let ca_path = proxy.ca_path().display().to_string();
    let key = format!("trakt-api-key: {CLIENT_ID}");
    let through = |headers: &[&str], extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["-x", &proxy.url(), "--cacert", &ca_path, "-H", &key]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for h in headers {
            v.push("-H".into());
            v.push(h.to_string());
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // A hundred and twenty quick reads: the ids run to three digits.
    let mut bulk: Vec<String> = Vec::new();
    for page in 1..=120 {
        bulk.push(format!(
            "https://api.trakt.tv/users/sean-the-very-long-username/history/episodes?page={page}&limit=100"
        ));
    }
    let bulk: Vec<&str> = bulk.iter().map(String::as_str).collect();
    let version = "trakt-api-version: 2";
    let bearer = "Authorization: Bearer browserLayoutToken5d1c";
    let scrobble_body = r#"{"movie":{"title":"Blade Runner 2049","year":2017,"ids":{"trakt":"28","imdb":"6320628"}},"progress":150,"app_version":"3.1"}"#;
    let long_url = format!("https://api.trakt.tv{LONG_PATH}");
    let curls = vec![
        through(&["User-Agent: LayoutTest/1.0", version], &bulk),
        // No trakt-api-version, a library's User-Agent, limit=250: three findings.
        through(&["User-Agent: python-requests/2.31.0"], &[&long_url]),
        // No trakt-api-version, a string trakt id, an imdb id without tt, progress 150.
        through(
            &[
                "User-Agent: Kodi-Scrobbler/3.1",
                bearer,
                "Content-Type: application/json",
            ],
            &[
                "--data",
                scrobble_body,
                "https://api.trakt.tv/scrobble/start",
            ],
        ),
        // Not JSON: a trailing comma.
        through(
            &[
                "User-Agent: LayoutTest/1.0",
                version,
                bearer,
                "Content-Type: application/json",
            ],
            &[
                "--data",
                r#"{"movies":[{"ids":{"trakt":28},"watched_at":"2024-03-01T20:00:00.000Z"},]}"#,
                "https://api.trakt.tv/sync/history",
            ],
        ),
        through(
            &[
                "User-Agent: LayoutTest/1.0",
                "Content-Type: application/json",
            ],
            &[
                "--data",
                r#"{"type":"DatastoreGet","authKey":"layoutAuthKey","collection":"libraryItem","all":true}"#,
                "https://api.strem.io/api/datastoreGet",
            ],
        ),
    ];
    // With auto-fix on: the fixed mark beside the badges (and a query
    // parameter Trakt does not read, for an info).
    let fixed = vec![through(
        &[
            "User-Agent: python-requests/2.31.0",
            bearer,
            "Content-Type: application/json",
        ],
        &[
            "--data",
            scrobble_body,
            "https://api.trakt.tv/scrobble/pause?app=kodi-trakt-scrobbler",
        ],
    )];
    let screenshot = artifacts().join("web-layout-1024.png");
    let (ok, output) = node(
        "layout.mjs",
        serde_json::json!({
            "page": proxy.unlock_url(),
            "untrusted": [["-A", "UntrustingClient/2.1", "-x", proxy.url(), "https://api.trakt.tv/users/settings"]],
            "agent": "UntrustingClient/2.1",
            "host": "api.trakt.tv",
            "curls": curls,
            "fixed": fixed,
            "count": 125,
            "longPath": LONG_PATH,
            "longPathRow": format!("api.trakt.tv{LONG_PATH}"),
            "scrobble": "api.trakt.tv/scrobble/start",
            "resend": "api.trakt.tv/scrobble/pause?app=kodi-trakt-scrobbler",
            "param": "app",
            "broken": "api.trakt.tv/sync/history",
            "stremio": "api.strem.io/api/datastoreGet",
            "pointers": [
                {"rule": "body.ids.invalid", "key": "\"imdb\""},
                {"rule": "body.progress.range", "key": "\"progress\""},
            ],
            "caretAt": "]",
            "screenshot": screenshot,
            "shots": artifacts(),
        }),
    );
    assert!(ok, "{output}\nproxy stderr:\n{}", proxy.stderr());
    assert!(output.contains("OK"), "{output}");
    println!("{output}screenshot: {}", screenshot.display());
}
