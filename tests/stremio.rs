//! The Stremio lens through the real proxy: fake www.strem.io, api.strem.io
//! and Trakt servers on 127.0.0.1 answering as the real ones do.

mod common;

use std::sync::Arc;

use common::*;

const AUTH_KEY: &str = "stremio-authkey-5f1c9d2e7a";
const TRAKT_TOKEN: &str = "trakt-token-from-getuser-9b8a7c6d";
const AUTHORIZE: &str = "https://api.trakt.tv/oauth/authorize?client_id=0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&response_type=code&state=s123";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Stremio's servers and Trakt, as one fake that routes by host.
fn stremio_and_trakt() -> Handler {
    Arc::new(|r: &Received| {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let path = r.path.split('?').next().unwrap_or_default();
        match (r.host.as_str(), path) {
            ("www.strem.io", p) if p.starts_with("/trakt/auth/") => Reply {
                status: 302,
                headers: vec![("location".into(), AUTHORIZE.into())],
                body: bytes::Bytes::new(),
                ..Reply::default()
            },
            ("www.strem.io", "/trakt/auth_cb") => Reply {
                status: 200,
                headers: vec![(
                    "set-cookie".into(),
                    "sid=cookie-value-7d6c5b4a-set; Path=/; HttpOnly; Secure".into(),
                )],
                body: bytes::Bytes::from_static(b"<html>Trakt linked</html>"),
                ..Reply::default()
            },
            ("www.strem.io", p) if p.starts_with("/trakt/addon/") => Reply::json(
                200,
                r#"{"err":"Trakt authenticate error - please reauthenticate"}"#,
            ),
            ("api.trakt.tv", "/oauth/authorize") => Reply::json(400, r#"<html>Bad Request</html>"#),
            ("trakt.tv", "/oauth/authorize") => Reply::json(
                200,
                &format!(r#"{{"consent page for":"{}"}}"#, r.path.replace('"', "")),
            ),
            ("api.strem.io", "/api/getUser") => {
                let created = now();
                let trakt = match body["authKey"].as_str().unwrap_or_default() {
                    k if k.ends_with("fresh") => format!(
                        r#"{{"access_token":"{TRAKT_TOKEN}-fresh","created_at":{created},"expires_in":604800}}"#
                    ),
                    k if k.ends_with("soon") => format!(
                        r#"{{"access_token":"{TRAKT_TOKEN}-soon","created_at":{},"expires_in":86400}}"#,
                        created - 80_000
                    ),
                    k if k.ends_with("expired") => format!(
                        r#"{{"access_token":"{TRAKT_TOKEN}","created_at":{},"expires_in":86400}}"#,
                        // A minute more than two days ago (see the login's).
                        created - 3 * 86400 - 60
                    ),
                    k if k.ends_with("broken") => {
                        return Reply::json(
                            200,
                            r#"{"error":{"message":"session does not exist","code":1}}"#,
                        )
                    }
                    _ => "null".to_string(),
                };
                Reply::json(
                    200,
                    &format!(
                        r#"{{"result":{{"_id":"5e1","email":"a@b.c","authKey":"{AUTH_KEY}","trakt":{trakt}}}}}"#
                    ),
                )
            }
            ("api.strem.io", "/api/login") => Reply::json(
                200,
                &format!(
                    r#"{{"result":{{"authKey":"{AUTH_KEY}-expired","user":{{"_id":"5e1","email":"a@b.c","trakt":{{"access_token":"{TRAKT_TOKEN}","created_at":{},"expires_in":86400}}}}}}}}"#,
                    // A minute more than two days ago: `now()` is in whole
                    // seconds and the proxy judges at the request's start,
                    // which may lie in the second before this answer.
                    now() - 3 * 86400 - 60
                ),
            ),
            ("api.strem.io", "/api/events") => Reply::json(200, r#"{"result":{"success":true}}"#),
            ("api.trakt.tv", "/users/settings") => {
                let auth = r
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if auth == "Bearer good-token" {
                    Reply::json(200, r#"{"user":{"username":"sean","vip":false}}"#)
                } else {
                    Reply::json(401, "")
                }
            }
            _ => Reply::json(200, "{}"),
        }
    })
}

fn start(
    fake: &FakeUpstream,
    ca: &TestCa,
    dir: &tempfile::TempDir,
    extra: &[&str],
) -> (ProxyProcess, std::path::PathBuf) {
    let log = dir.path().join(format!("log-{}.jsonl", extra.len()));
    let mut args = vec!["--log".to_string(), log.display().to_string()];
    args.extend(route_to(fake, ca));
    args.extend(extra.iter().map(|s| s.to_string()));
    (ProxyProcess::start(&args), log)
}

/// Stops `proxy` (it must exit 0), then asserts that none of `secrets`
/// reached its log, stdout or stderr.
fn stop_without_leaks(proxy: &mut ProxyProcess, log: &std::path::Path, secrets: &[&str]) {
    assert_eq!(proxy.interrupt(), Some(0));
    let sinks = [
        std::fs::read_to_string(log).unwrap(),
        proxy.stdout(),
        proxy.stderr(),
    ];
    for (i, sink) in sinks.iter().enumerate() {
        for secret in secrets {
            assert!(!sink.contains(secret), "{secret} leaked in sink {i}");
        }
    }
}

fn rules(record: &serde_json::Value) -> Vec<String> {
    record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn post(proxy: &ProxyProcess, url: &str, body: &str) -> String {
    let ca = proxy.ca_path().display().to_string();
    let out = curl(&[
        "-x",
        &proxy.url(),
        "--cacert",
        &ca,
        "-H",
        "Content-Type: text/plain;charset=UTF-8",
        "--data",
        body,
        url,
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_redirect_to_the_api_host_is_flagged_and_fixed() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, stremio_and_trakt()).await;
    let dir = tempfile::tempdir().unwrap();

    // Without --fix: a browser-like client follows the redirect and lands on Trakt's 400.
    let (plain, plain_log) = start(&fake, &ca, &dir, &[]);
    let out = plain.curl(&[
        "-L",
        "-w",
        "\n%{http_code} %{url_effective}",
        "https://www.strem.io/trakt/auth/5e1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with(&format!("400 {AUTHORIZE}")), "{text}");
    let records = wait_for_records(&plain_log, 2);
    assert!(
        rules(&records[0]).contains(&"stremio.authorize.api-host".to_string()),
        "{:?}",
        records[0]
    );
    assert!(records[0]["diagnosis"]["summary"]
        .as_str()
        .unwrap()
        .contains("api.trakt.tv/oauth/authorize"));
    assert!(records[0]["diagnosis"]["remedies"]
        .to_string()
        .contains("--fix"));
    assert!(rules(&records[1]).contains(&"oauth.authorize.api-host".to_string()));
    assert!(records[1]["diagnosis"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("400 because the authorize page is on trakt.tv"));

    // With --fix: the redirect goes to trakt.tv with every parameter kept.
    let (fixing, fixed_log) = start(&fake, &ca, &dir, &["--fix"]);
    let out = fixing.curl(&[
        "-L",
        "-w",
        "\n%{http_code} %{url_effective}",
        "https://www.strem.io/trakt/auth/5e1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = AUTHORIZE.replace("https://api.trakt.tv/", "https://trakt.tv/");
    assert!(text.ends_with(&format!("200 {expected}")), "{text}");
    assert!(
        text.contains("state=s123") && text.contains("response_type=code"),
        "{text}"
    );
    let records = wait_for_records(&fixed_log, 2);
    let fix = &records[0]["fixes"][0];
    assert_eq!(fix["rule"], "stremio.authorize.api-host");
    assert!(fix["before"].as_str().unwrap().contains("api.trakt.tv"));
    assert!(fix["after"]
        .as_str()
        .unwrap()
        .contains("https://trakt.tv/oauth/authorize"));
    assert!(
        records[0]["diagnosis"].is_null(),
        "{}",
        records[0]["diagnosis"]
    );
    assert!(
        records[1]["findings"].as_array().unwrap().is_empty(),
        "{:?}",
        records[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getuser_token_states_events_and_addon_errors_are_explained_without_leaking_secrets() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, stremio_and_trakt()).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut proxy, log) = start(&fake, &ca, &dir, &[]);
    let get_user = "https://api.strem.io/api/getUser";
    for state in ["fresh", "soon", "expired", "absent", "broken"] {
        post(
            &proxy,
            get_user,
            &format!(r#"{{"type":"GetUser","authKey":"{AUTH_KEY}-{state}"}}"#),
        );
    }
    let events = format!(
        r#"{{"type":"Events","authKey":"{AUTH_KEY}","events":[{{"eventName":"traktPlaying","player":{{"libItemID":"tt0903747","libItemType":"series","libItemVideoID":"tt0903747:1:2","libItemTimeOffset":1500000,"libItemTimeDuration":3000000,"hasTrakt":false}}}}]}}"#
    );
    post(&proxy, "https://api.strem.io/api/events", &events);
    proxy.curl(&["https://www.strem.io/trakt/addon/5e1/catalog/movie/trakt-watchlist.json"]);
    // A direct Trakt call with the expired token Stremio holds.
    proxy.curl(&[
        "-H",
        "User-Agent: Script/1",
        "-H",
        "trakt-api-version: 2",
        "-H",
        "trakt-api-key: 0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
        "-H",
        &format!("Authorization: Bearer {TRAKT_TOKEN}"),
        "https://api.trakt.tv/users/settings",
    ]);
    let records = wait_for_records(&log, 8);
    assert_eq!(records.len(), 8);
    assert!(
        rules(&records[0]).is_empty(),
        "fresh: {:?}",
        records[0]["findings"]
    );
    assert!(records[0]["diagnosis"].is_null());
    assert_eq!(rules(&records[1]), ["stremio.trakt-token.expiring"]);
    assert_eq!(rules(&records[2]), ["stremio.trakt-token.expired"]);
    let expired = records[2]["diagnosis"]["summary"].as_str().unwrap();
    assert!(
        expired.contains("Trakt authentication expired"),
        "{expired}"
    );
    assert!(
        records[2]["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("days"),
        "{}",
        records[2]["findings"][0]
    );
    assert_eq!(rules(&records[3]), ["stremio.trakt-token.absent"]);
    assert_eq!(rules(&records[4]), ["stremio.api.error"]);
    assert!(records[4]["diagnosis"]["summary"]
        .as_str()
        .unwrap()
        .contains("session does not exist"));
    let event_rules = rules(&records[5]);
    assert!(
        event_rules.contains(&"stremio.event.has-trakt".to_string()),
        "{event_rules:?}"
    );
    let progress = records[5]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "stremio.event.progress")
        .unwrap();
    assert!(progress["message"].as_str().unwrap().contains("50.0 %"));
    assert_eq!(rules(&records[6]), ["stremio.addon.auth-error"]);
    assert!(
        rules(&records[7]).contains(&"session.token.expired".to_string()),
        "{:?}",
        records[7]["findings"]
    );
    assert_eq!(records[7]["response"]["status"], 401);

    stop_without_leaks(&mut proxy, &log, &[AUTH_KEY, TRAKT_TOKEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pac_file_routes_only_intercepted_hosts_through_the_proxy() {
    let proxy = ProxyProcess::start(&[]);
    let pac = String::from_utf8_lossy(&curl(&[&format!("{}/proxy.pac", proxy.url())]).stdout)
        .into_owned();
    let script = format!(
        "{pac}\nfor (const h of ['api.trakt.tv','TRAKT.TV','www.strem.io','api.strem.io','example.org','web.stremio.com','notapi.trakt.tv']) console.log(h + ' ' + FindProxyForURL('https://' + h + '/', h));"
    );
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("node is needed to evaluate the PAC file ({e}); install it, e.g. `apt-get install nodejs`"));
    let text = String::from_utf8_lossy(&out.stdout);
    let proxied = format!("PROXY {}", proxy.addr);
    for line in text.lines() {
        let (host, verdict) = line.split_once(' ').unwrap();
        let expected =
            if ["api.trakt.tv", "TRAKT.TV", "www.strem.io", "api.strem.io"].contains(&host) {
                proxied.as_str()
            } else {
                "DIRECT"
            };
        assert_eq!(verdict, expected, "{host}");
    }
    assert_eq!(
        text.lines().count(),
        7,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = curl(&["-H", "Accept: text/html", &format!("{}/ca", proxy.url())]);
    let html = String::from_utf8_lossy(&page.stdout);
    assert!(
        html.contains("Download trakt-doctor-ca.pem") && html.contains("certutil"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_token_reports_valid_and_invalid_tokens() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, stremio_and_trakt()).await;
    let run = |token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
            .args([
                "check-token",
                "--upstream-ca",
                ca.pem_path.to_str().unwrap(),
                "--resolve",
                &format!("api.trakt.tv:443={}", fake.addr),
            ])
            .env("TRAKT_TOKEN", token)
            .output()
            .unwrap()
    };
    let good = run("good-token");
    assert_eq!(good.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&good.stdout).contains("valid: token sha256:"));
    assert!(String::from_utf8_lossy(&good.stdout).contains("`sean`"));
    let bad = run("old-token");
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains("expired or revoked") && !text.contains("old-token"),
        "{text}"
    );
}

#[test]
fn the_stremio_command_prints_steps_for_each_system() {
    for os in ["windows", "macos", "linux"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
            .args(["stremio", "--os", os, "--proxy", "127.0.0.1:9999"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert!(
            text.contains("http://127.0.0.1:9999")
                && text.contains("untested")
                && text.contains("trakt-doctor-ca.pem"),
            "{text}"
        );
    }
}

/// What the real core showed (issue 15), through the proxy: the token on the
/// login answer told once, a browser's favicon not linted as an API call,
/// the unlink and the addon's removal said, a library state Trakt never
/// heard of, the app's version in the diagnosis, and the link flow's
/// cookies judged by what they are, with no cookie value in any sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_session_is_judged_as_the_gaps_of_issue_15_ask() {
    const COOKIE_SECRET: &str = "cookie-value-7d6c5b4a";
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, stremio_and_trakt()).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut proxy, log) = start(&fake, &ca, &dir, &[]);
    let api = |m: &str| format!("https://api.strem.io/api/{m}");
    let key = format!("{AUTH_KEY}-expired");
    // 0, 1: login then getUser, both with the expired token.
    post(
        &proxy,
        &api("login"),
        r#"{"type":"Auth","type":"Login","email":"a@b.c","password":"pw-secret","facebook":false}"#,
    );
    post(
        &proxy,
        &api("getUser"),
        &format!(r#"{{"type":"GetUser","authKey":"{key}"}}"#),
    );
    // 2: Chromium's favicon on the API host.
    proxy.curl(&[
        "-H",
        "sec-fetch-mode: no-cors",
        "-H",
        "sec-fetch-dest: image",
        "-H",
        "User-Agent: Mozilla/5.0 HeadlessChrome/120.0",
        "https://api.trakt.tv/favicon.ico",
    ]);
    // 3: events: the app's version, a pause at 10 %.
    let t = now() * 1000;
    post(
        &proxy,
        &api("events"),
        &format!(
            r#"{{"type":"Events","authKey":"{key}","events":[{{"eventName":"traktPaused","eventTime":{t},"eventNumber":1,"player":{{"libItemID":"tt2015381","libItemType":"movie","libItemVideoID":"tt2015381","libItemTimeOffset":720000,"libItemTimeDuration":7200000,"hasTrakt":true}},"app":{{"appType":"stremio-web","appVersion":"5.0.0-beta.20","shellVersion":"5.0.12","installationID":"inst"}}}}]}}"#
        ),
    );
    // 4: the library saved at 85 % with no event since.
    post(
        &proxy,
        &api("datastorePut"),
        &format!(
            r#"{{"authKey":"{key}","collection":"libraryItem","changes":[{{"_id":"tt2015381","type":"movie","state":{{"timeOffset":6120000,"duration":7200000}}}}]}}"#
        ),
    );
    // 5, 6: LogoutTrakt: saveUser with trakt null, the collection without the addon.
    post(
        &proxy,
        &api("saveUser"),
        &format!(r#"{{"type":"SaveUser","authKey":"{key}","_id":"5e1","trakt":null}}"#),
    );
    post(
        &proxy,
        &api("addonCollectionSet"),
        &format!(
            r#"{{"type":"AddonCollectionSet","authKey":"{key}","addons":[{{"transportUrl":"https://v3-cinemeta.strem.io/manifest.json"}}]}}"#
        ),
    );
    // 7: the authorize page with the session cookie twice.
    proxy.curl(&[
        "-H",
        &format!("Cookie: _traktsession={COOKIE_SECRET}; theme=dark; _traktsession=other-{COOKIE_SECRET}"),
        "https://trakt.tv/oauth/authorize?response_type=code&client_id=0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b&redirect_uri=https%3A%2F%2Fwww.strem.io%2Ftrakt%2Fauth_cb&state=s123",
    ]);
    // 8: a callback whose state is not the one sent.
    proxy.curl(&[
        "-H",
        &format!("Cookie: sid={COOKIE_SECRET}"),
        "https://www.strem.io/trakt/auth_cb?code=c0de&state=s999",
    ]);
    // 9: the authorize page on the API host, with ordinary cookies: 400, not the cookies.
    proxy.curl(&["-H", &format!("Cookie: sid={COOKIE_SECRET}"), AUTHORIZE]);
    let records = wait_for_records(&log, 10);
    assert_eq!(records.len(), 10);

    assert_eq!(rules(&records[0]), ["stremio.trakt-token.expired"]);
    let message = records[0]["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Z, 2 days")
            && message.ends_with(" ago")
            && !message.contains("+00:00:00"),
        "{message}"
    );
    assert!(
        rules(&records[1]).is_empty(),
        "{:?}",
        records[1]["findings"]
    );
    assert!(
        rules(&records[2]).is_empty(),
        "{:?}",
        records[2]["findings"]
    );

    assert_eq!(
        rules(&records[3]),
        ["stremio.event.progress", "stremio.client.version"]
    );
    assert_eq!(rules(&records[4]), ["stremio.library.progress"]);
    let diagnosis = records[4]["diagnosis"].to_string();
    assert!(
        diagnosis.contains("update Stremio")
            && diagnosis.contains("stremio-web 5.0.0-beta.20, shell 5.0.12"),
        "{diagnosis}"
    );
    assert_eq!(rules(&records[5]), ["stremio.trakt.unlinked"]);
    assert_eq!(rules(&records[6]), ["stremio.trakt-addon.removed"]);

    assert_eq!(rules(&records[7]), ["cookie.name.duplicate"]);
    let remedies = records[7]["diagnosis"]["remedies"].to_string();
    assert!(
        remedies.contains("clear the cookies of trakt.tv only"),
        "{remedies}"
    );
    assert_eq!(rules(&records[8]), ["stremio.link.state-mismatch"]);
    assert!(records[8]["diagnosis"]["remedies"]
        .to_string()
        .contains("single tab"));
    assert!(rules(&records[9]).contains(&"oauth.authorize.api-host".to_string()));
    let causes = records[9]["diagnosis"]["causes"].to_string();
    assert!(causes.contains("the cookies are not the cause"), "{causes}");

    stop_without_leaks(
        &mut proxy,
        &log,
        &[COOKIE_SECRET, AUTH_KEY, TRAKT_TOKEN, "pw-secret", "c0de"],
    );
}
