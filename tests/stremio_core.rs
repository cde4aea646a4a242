//! Stremio's own client core through the proxy: the npm package
//! `@stremio/stremio-core-web` (stremio-core compiled to WebAssembly, the code
//! Stremio Web and the v5 apps run) plays a session in Debian's headless
//! Chromium (tests/stremio_core/run.mjs), proxied through the trakt-doctor
//! binary to the loopback fake in tests/common/stremio_fake.rs. Three
//! accounts: Trakt linked during the session (with --fix), an expired link,
//! no link. The first two also run with an older release still in use,
//! 0.47.8 (npm alias `stremio-core-web-old`): its page dispatches
//! `PullUserFromAPI` without args and has no player `Seek`, and the lens
//! must read what it sends as it reads 0.62. Needs `chromium`, `certutil`
//! (libnss3-tools), node and `npm ci` in tests/stremio_core; `.ci/run`
//! installs them. A missing piece fails with the command to run.
//!
//! `RECORD_STREMIO_CORE=1 cargo test --test stremio_core` rewrites
//! tests/fixtures/stremio-core-session.jsonl (the linked session's requests,
//! secrets replaced by placeholders) for tests/lint_corpus.rs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::stremio_fake::*;
use common::*;
use serde_json::{json, Value};

/// The app version the page hands to the core's init, as Stremio Web does.
const APP_VERSION: &str = "5.0.0-beta.24";

/// Which release of the core plays the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Core {
    /// `@stremio/stremio-core-web` 0.62, in dist/.
    Current,
    /// `stremio-core-web-old` (npm alias of `@stremio/stremio-core-web`
    /// 0.47.8, still in use), in dist/old/: `PullUserFromAPI` takes no
    /// args and the player has no `Seek` action (a seek is a jump between
    /// two `TimeChanged`).
    Old,
}

/// The version the old core's package must be: the assertions below read
/// what this release sends.
const OLD_CORE_VERSION: &str = "0.47.8";

impl Core {
    /// The page's config for this core: where it is built, its action shapes.
    fn config(self) -> Value {
        match self {
            Core::Current => json!({"dist": core_dir().join("dist")}),
            Core::Old => json!({
                "dist": core_dir().join("dist/old"),
                "pullUserArgs": false,
                "seek": false,
            }),
        }
    }
}
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
    for package in [
        "playwright-core",
        "esbuild",
        "@stremio/stremio-core-web",
        "stremio-core-web-old",
    ] {
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
    let old = core_dir().join("node_modules/stremio-core-web-old/package.json");
    let old: Value = serde_json::from_str(&std::fs::read_to_string(old).unwrap()).unwrap();
    assert_eq!(
        old["version"], OLD_CORE_VERSION,
        "tests/stremio_core/package.json's stremio-core-web-old is the release these tests read; `npm ci` there"
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

/// What one session left behind.
struct Session {
    records: Vec<Value>,
    /// Requests that reached the fake through trakt-doctor (intercepted hosts only).
    received: Vec<Received>,
    /// Every sink a secret could reach: the JSONL log, the terminal's stdout and stderr.
    sinks: Vec<(&'static str, String)>,
    driver: String,
    core: Core,
}

/// Plays the scenario with an account in `link` state through a proxy
/// started with `extra` flags; prints what happened and checks what holds
/// in every session ([`check_common`]).
async fn play(link: TraktLink, extra: &[&str], scenario: Value) -> Session {
    play_core(Core::Current, link, extra, scenario).await
}

/// [`play`] with the given release of the core.
async fn play_core(core: Core, link: TraktLink, extra: &[&str], scenario: Value) -> Session {
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
    trust_in_nssdb(&home, &[&proxy.ca_path(), &ca.pem_path]);
    let mut config = json!({
        "proxy": proxy.addr.to_string(),
        "hosts": STREMIO_HOSTS,
        "home": home,
        "appVersion": APP_VERSION,
        "email": EMAIL,
        "password": PASSWORD,
        "streamUrl": "http://127.0.0.1:9/stream.mkv",
        "movie": {"type": "movie", "id": MOVIE, "video": MOVIE, "duration": 8_520_000, "seekTo": 6_390_000, "hash": "8e245d9679d31e12"},
        "series": {"type": "series", "id": SERIES, "video": EPISODE, "duration": 2_880_000, "seekTo": 2_620_000, "hash": "1f0e2d3c4b5a6978"},
    });
    if let (Some(config), Some(scenario), Some(release)) = (
        config.as_object_mut(),
        scenario.as_object(),
        core.config().as_object(),
    ) {
        config.extend(release.clone());
        config.extend(scenario.clone());
    }
    let (ok, text) = tokio::task::spawn_blocking(move || {
        node_script(&core_dir().join("run.mjs"), config.to_string())
    })
    .await
    .unwrap();
    assert!(
        ok,
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
        (
            "the JSONL log",
            std::fs::read_to_string(&log).unwrap_or_default(),
        ),
        ("stdout", proxy.stdout()),
        ("stderr", proxy.stderr()),
    ];
    let session = Session {
        records,
        received,
        sinks,
        driver: text,
        core,
    };
    println!("{}\n{}", session.driver, summary(&session.records));
    check_common(&session);
    session
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

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The requests every session must show, as the core sends them (so a new
/// core version that changes them fails here first).
fn check_what_the_core_sends(session: &Session) {
    let names: BTreeSet<String> = session.records.iter().map(name).collect();
    for method in [
        "login",
        "getUser",
        "addonCollectionGet",
        "datastoreGet",
        "datastoreMeta",
        "datastorePut",
        "getModal",
        "getNotification",
        "events",
        "logout",
    ] {
        assert!(
            names.contains(method),
            "no {method}:\n{}",
            summary(&session.records)
        );
    }
    for r in &session.received {
        if r.host != "api.strem.io" {
            continue;
        }
        let body = String::from_utf8_lossy(&r.body);
        assert_eq!(r.method, "POST", "{}", r.path);
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/plain;charset=UTF-8"),
            "{}",
            r.path
        );
        assert!(r.headers.get("authorization").is_none(), "{}", r.path);
        let method = r.path.trim_start_matches("/api/");
        match method {
            "login" => assert!(
                body.starts_with(r#"{"type":"Auth","type":"Login","#),
                "{body}"
            ),
            "datastoreGet" | "datastoreMeta" | "datastorePut" => {
                let json: Value = serde_json::from_str(&body).unwrap_or_default();
                assert!(json.get("type").is_none(), "{method}: {body}");
                assert!(json.get("authKey").is_some(), "{method}: {body}");
            }
            "getModal" | "getNotification" | "seekLog" => {
                assert!(!body.contains("authKey"), "{method}: {body}")
            }
            _ => assert!(
                body.contains(&format!(r#""authKey":"{AUTH_KEY}""#)),
                "{method}: {body}"
            ),
        }
    }
}

/// The `events` batch the core flushed at logout: (eventName, hasTrakt) in order.
fn events_sent(session: &Session) -> Vec<(String, Option<bool>)> {
    session
        .received
        .iter()
        .filter(|r| r.path == "/api/events")
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            body["events"].as_array().cloned().unwrap_or_default()
        })
        .map(|e| {
            (
                e["eventName"].as_str().unwrap_or_default().to_string(),
                e["player"]["hasTrakt"].as_bool(),
            )
        })
        .collect()
}

/// Asserts the exact rule ids on every exchange: `expected` names the
/// requests with findings (one set per occurrence, in order, the last one
/// standing for any further occurrence); every other exchange must have none.
fn check_findings(session: &Session, expected: &BTreeMap<&str, Vec<BTreeSet<String>>>) {
    let all = summary(&session.records);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for record in &session.records {
        let request = name(record);
        let key = request.split('?').next().unwrap_or_default().to_string();
        let occurrence = seen.entry(key.clone()).or_default();
        let got: BTreeSet<String> = rules(record).into_iter().collect();
        let want = expected
            .get(key.as_str())
            .and_then(|sets| sets.get(*occurrence).or(sets.last()))
            .cloned()
            .unwrap_or_default();
        assert_eq!(got, want, "{request} (#{occurrence})\n{all}");
        *occurrence += 1;
    }
}

/// What holds in every session: each request that reached the fake through
/// the proxy was logged once, the core sent what 0.62 sends (0.47.8 sends
/// the same API calls in the same shapes), and no secret
/// reached a sink.
fn check_common(session: &Session) {
    // Query strings are compared without their values: the log redacts the OAuth code.
    let without_query = |url: &str| url.split('?').next().unwrap_or_default().to_string();
    let mut logged: Vec<String> = session
        .records
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["request"]["method"].as_str().unwrap_or_default(),
                without_query(url(r))
            )
        })
        .collect();
    let mut sent: Vec<String> = session
        .received
        .iter()
        .map(|r| format!("{} https://{}{}", r.method, r.host, without_query(&r.path)))
        .collect();
    logged.sort();
    sent.sort();
    assert_eq!(
        logged, sent,
        "every request that went through the proxy is logged once"
    );
    check_what_the_core_sends(session);
    for secret in [AUTH_KEY, PASSWORD, TRAKT_TOKEN, OAUTH_CODE] {
        for (sink, text) in &session.sinks {
            assert!(!text.contains(secret), "{secret} reached {sink}");
        }
    }
}

/// The Trakt events of two plays (movie, episode). 0.62: pause, resume,
/// seek, and the pause Unload sends with playerStopped. 0.47: pause, resume
/// and the playing its TimeChanged sends on the seek's jump; its Unload
/// sends playerStopped alone (src/models/player.rs at that release).
fn trakt_events_per_session(core: Core) -> usize {
    match core {
        Core::Current => 8,
        Core::Old => 6,
    }
}

/// The Trakt event names in the order the core sent them.
fn trakt_event_names(session: &Session) -> Vec<String> {
    events_sent(session)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("trakt"))
        .collect()
}

fn trakt_events(session: &Session) -> Vec<Option<bool>> {
    events_sent(session)
        .into_iter()
        .filter(|(name, _)| name.starts_with("trakt"))
        .map(|(_, has)| has)
        .collect()
}

/// Asserts that the core sent all its Trakt events, each with `hasTrakt`
/// set to `has_trakt`.
fn check_trakt_events(session: &Session, has_trakt: bool) {
    let trakt = trakt_events(session);
    assert_eq!(
        trakt.len(),
        trakt_events_per_session(session.core),
        "{:?}",
        events_sent(session)
    );
    assert!(trakt.iter().all(|h| *h == Some(has_trakt)), "{trakt:?}");
    if session.core == Core::Old {
        // Per play: pause, resume, the seek's jump; nothing at Unload.
        let play = ["traktPaused", "traktPlaying", "traktPlaying"];
        assert_eq!(trakt_event_names(session), [play, play].concat());
    }
}

/// Asserts the rules on the `events` exchange: the client version once,
/// and each of `per_event` once per Trakt event.
fn check_event_rules(session: &Session, per_event: &[&str]) {
    let mut want = BTreeMap::from([("stremio.client.version".to_string(), 1)]);
    for rule in per_event {
        want.insert(rule.to_string(), trakt_events_per_session(session.core));
    }
    assert_eq!(event_rule_counts(session), want);
}

/// Every Trakt event's progress as the lens reads it is the event's own
/// `libItemTimeOffset / libItemTimeDuration`, at the event's index: what
/// each release puts in `player` is read right.
fn check_progress_read(session: &Session) {
    let records: Vec<&Value> = session
        .records
        .iter()
        .filter(|r| name(r) == "events")
        .collect();
    let bodies: Vec<Value> = session
        .received
        .iter()
        .filter(|r| r.path == "/api/events")
        .map(|r| serde_json::from_slice(&r.body).unwrap_or_default())
        .collect();
    assert_eq!(records.len(), bodies.len());
    let mut checked = 0;
    for (record, body) in records.iter().zip(&bodies) {
        let findings = record["findings"].as_array().cloned().unwrap_or_default();
        for (i, event) in body["events"].as_array().into_iter().flatten().enumerate() {
            let event_name = event["eventName"].as_str().unwrap_or_default();
            if !event_name.starts_with("trakt") {
                continue;
            }
            let offset = event["player"]["libItemTimeOffset"]
                .as_f64()
                .unwrap_or(-1.0);
            let duration = event["player"]["libItemTimeDuration"]
                .as_f64()
                .unwrap_or(0.0);
            assert!(duration > 0.0, "{event}");
            let want = format!(
                "{event_name}: Trakt receives progress {:.1} %",
                offset * 100.0 / duration
            );
            let at = format!("/events/{i}/player/libItemTimeOffset");
            assert!(
                findings
                    .iter()
                    .any(|f| f["rule"] == "stremio.event.progress"
                        && f["location"] == at.as_str()
                        && f["message"] == want.as_str()),
                "no `{want}` at {at}: {findings:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, trakt_events_per_session(session.core));
}

/// The rule ids of the `events` exchange, counted.
fn event_rule_counts(session: &Session) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in session.records.iter().filter(|r| name(r) == "events") {
        for rule in rules(record) {
            *counts.entry(rule).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_trakt_during_a_session_with_fix() {
    linking_with_fix(Core::Current).await;
}

/// The older core (0.47.8) in the same session: the same lens findings on
/// the same calls (its PullUserFromAPI and seek differ only in what the page
/// dispatches, not in what reaches the network).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_core_linking_trakt_during_a_session_with_fix() {
    linking_with_fix(Core::Old).await;
}

async fn linking_with_fix(core: Core) {
    let session = play_core(
        core,
        TraktLink::None,
        &["--fix"],
        json!({"link": true, "installTrakt": true, "logoutTrakt": true}),
    )
    .await;
    let link = format!("www.strem.io/trakt/auth/{UID}");
    let expected = BTreeMap::from([
        // The token state is told once per token, on the first answer that shows it.
        ("login", vec![set(&["stremio.trakt-token.absent"])]),
        (
            "getUser",
            // Before the link (told at login already), then after it: a token
            // linked a minute ago for Trakt's 24 h lifetime is not "expiring"
            // (the warning starts at a quarter of the lifetime left).
            vec![BTreeSet::new(), BTreeSet::new()],
        ),
        (link.as_str(), vec![set(&["stremio.authorize.api-host"])]),
        (
            "addonCollectionSet",
            vec![BTreeSet::new(), set(&["stremio.trakt-addon.removed"])],
        ),
        ("saveUser", vec![set(&["stremio.trakt.unlinked"])]),
        (
            "events",
            vec![set(&["stremio.event.progress", "stremio.client.version"])],
        ),
    ]);
    check_findings(&session, &expected);

    // --fix sent the browser to trakt.tv: the link completed and the core saw it.
    let redirect = session.records.iter().find(|r| name(r) == link).unwrap();
    assert_eq!(redirect["response"]["status"], 302);
    assert_eq!(redirect["fixes"][0]["rule"], "stremio.authorize.api-host");
    assert!(
        redirect["fixes"][0]["after"]
            .as_str()
            .unwrap_or_default()
            .contains("https://trakt.tv/oauth/authorize?client_id="),
        "{redirect}"
    );
    assert!(redirect["diagnosis"].is_null(), "{redirect}");
    let names: Vec<String> = session.records.iter().map(name).collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("trakt.tv/oauth/authorize")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("api.trakt.tv")),
        "{names:?}"
    );
    assert!(names.contains(&format!("www.strem.io/trakt/addon/{UID}/manifest.json")));
    // InstallTraktAddon then LogoutTrakt: the addon goes in, then out, and the link is dropped.
    let sets: Vec<String> = session
        .received
        .iter()
        .filter(|r| r.path == "/api/addonCollectionSet")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(sets.len(), 2, "{}", summary(&session.records));
    let trakt_addon = format!("https://www.strem.io/trakt/addon/{UID}/manifest.json");
    assert!(sets.iter().any(|b| b.contains(&trakt_addon)));
    assert!(sets.iter().any(|b| !b.contains(&trakt_addon)));
    assert!(session.received.iter().any(|r| r.path == "/api/saveUser"
        && String::from_utf8_lossy(&r.body).contains(r#""trakt":null"#)));
    // Every Trakt event says hasTrakt: true and gets its progress.
    check_trakt_events(&session, true);
    check_event_rules(&session, &["stremio.event.progress"]);
    check_progress_read(&session);
    if core == Core::Current {
        record_fixture(&session);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_trakt_link_is_reported_and_relinking_hits_the_api_host() {
    expired_link(Core::Current).await;
}

/// The older core (0.47.8): its login answer shows the same expired token,
/// its events the same `hasTrakt: false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_core_an_expired_trakt_link_is_reported() {
    expired_link(Core::Old).await;
}

async fn expired_link(core: Core) {
    let session = play_core(
        core,
        TraktLink::Expired,
        &[],
        json!({"link": true, "installTrakt": false, "logoutTrakt": false}),
    )
    .await;
    let link = format!("www.strem.io/trakt/auth/{UID}");
    // The expired token is told on login's answer, the first to show it, and
    // not again on each getUser. The favicon Chromium fetches on api.trakt.tv
    // is the browser's own request, not an API call: no findings.
    let expected = BTreeMap::from([
        ("login", vec![set(&["stremio.trakt-token.expired"])]),
        (link.as_str(), vec![set(&["stremio.authorize.api-host"])]),
        (
            "api.trakt.tv/oauth/authorize",
            vec![set(&["oauth.authorize.api-host"])],
        ),
        (
            "events",
            vec![set(&[
                "stremio.event.has-trakt",
                "stremio.event.progress",
                "stremio.client.version",
            ])],
        ),
    ]);
    check_findings(&session, &expected);
    let login = session.records.iter().find(|r| name(r) == "login").unwrap();
    let told = login["findings"][0]["message"].as_str().unwrap_or_default();
    assert!(told.contains("ago"), "{told}");
    assert!(
        session
            .records
            .iter()
            .any(|r| name(r).starts_with("api.trakt.tv/favicon.ico")),
        "Chromium fetched no favicon on the Trakt host: {}",
        summary(&session.records)
    );
    // Without --fix the browser lands on Trakt's 400.
    let authorize = session
        .records
        .iter()
        .find(|r| name(r).starts_with("api.trakt.tv/oauth/authorize"))
        .unwrap();
    assert_eq!(authorize["response"]["status"], 400);
    let redirect = session.records.iter().find(|r| name(r) == link).unwrap();
    assert!(redirect["fixes"].as_array().is_none_or(|f| f.is_empty()));
    assert!(redirect["diagnosis"]["remedies"]
        .to_string()
        .contains("--fix"));
    // The core still sends Trakt events, with hasTrakt: false, each warned about.
    check_trakt_events(&session, false);
    check_event_rules(
        &session,
        &["stremio.event.has-trakt", "stremio.event.progress"],
    );
    check_progress_read(&session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_trakt_link_warns_on_every_trakt_event() {
    let session = play(
        TraktLink::None,
        &[],
        json!({"link": false, "installTrakt": false, "logoutTrakt": false}),
    )
    .await;
    let expected = BTreeMap::from([
        ("login", vec![set(&["stremio.trakt-token.absent"])]),
        (
            "events",
            vec![set(&[
                "stremio.event.has-trakt",
                "stremio.event.progress",
                "stremio.client.version",
            ])],
        ),
    ]);
    check_findings(&session, &expected);
    check_trakt_events(&session, false);
    assert_eq!(
        event_rule_counts(&session)["stremio.event.has-trakt"],
        trakt_events_per_session(session.core)
    );
}

/// The fixture file for tests/lint_corpus.rs.
fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stremio-core-session.jsonl")
}

/// With RECORD_STREMIO_CORE set, writes the session's requests (as the fake
/// received them, secrets replaced by placeholders) in the lint corpus'
/// format, each expecting the request rules the live proxy reported on it.
fn record_fixture(session: &Session) {
    if std::env::var_os("RECORD_STREMIO_CORE").is_none() {
        return;
    }
    let scrub = |text: &str| {
        text.replace(AUTH_KEY, "stremio-authkey-placeholder")
            .replace(PASSWORD, "password-placeholder")
            .replace(TRAKT_TOKEN, "trakt-token-placeholder")
            .replace(OAUTH_CODE, "oauth-code-placeholder")
    };
    let request_rules: BTreeSet<&str> = trakt_doctor::lint::catalogue()
        .into_iter()
        .filter(|r| r.scope == trakt_doctor::lint::Scope::Request)
        .map(|r| r.id)
        .collect();
    let mut used = vec![false; session.records.len()];
    let mut lines = Vec::new();
    for (i, r) in session.received.iter().enumerate() {
        let path = r.path.split('?').next().unwrap_or_default();
        let target = format!("https://{}{}", r.host, path);
        let found = session.records.iter().enumerate().position(|(j, rec)| {
            !used[j]
                && rec["request"]["method"] == r.method.as_str()
                && url(rec).split('?').next() == Some(target.as_str())
        });
        let Some(j) = found else {
            panic!("no record for {} {target}", r.method)
        };
        used[j] = true;
        let expect: BTreeSet<String> = rules(&session.records[j])
            .into_iter()
            .filter(|id| request_rules.contains(id.as_str()))
            .collect();
        let mut headers = serde_json::Map::new();
        for (name, value) in &r.headers {
            // The placeholders change the body's length; the corpus sends the body as is.
            if name == "content-length" {
                continue;
            }
            let value = scrub(value.to_str().unwrap_or_default());
            headers.insert(name.as_str().to_string(), Value::String(value));
        }
        let mut line = json!({
            "name": format!("stremio-core {:02} {} {}", i + 1, r.method, path),
            "method": r.method,
            "url": scrub(&format!("https://{}{}", r.host, r.path)),
            "headers": headers,
            "expect": expect,
        });
        if !r.body.is_empty() {
            line["body"] = Value::String(scrub(&String::from_utf8_lossy(&r.body)));
        }
        lines.push(line.to_string());
    }
    let text = lines.join("\n") + "\n";
    for secret in [AUTH_KEY, PASSWORD, TRAKT_TOKEN, OAUTH_CODE] {
        assert!(!text.contains(secret));
    }
    std::fs::write(fixture_path(), text).unwrap();
    println!(
        "recorded {} requests into {}",
        lines.len(),
        fixture_path().display()
    );
}
