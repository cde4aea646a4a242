//! The web view's HTTP surface with curl: the page, the JSON API, the event
//! stream, and the guards on it (Host header, the start link's unlock
//! cookie, token, origin).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_api_and_stream_serve_exchanges_and_actions_are_guarded() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let proxy = ProxyProcess::start(&route_to(&fake, &ca));
    let base = proxy.url();
    let html = String::from_utf8_lossy(&curl(&[&format!("{base}/")]).stdout).into_owned();
    assert!(html.contains("<script src=\"/app.js\"></script>"), "{html}");
    // The browser page, to check a HAR file, is linked and served with its types.
    assert!(html.contains("href=\"/page/\""), "{html}");
    let wasm = curl(&[
        "--include",
        &format!("{base}/page/pkg/trakt_doctor_wasm_bg.wasm"),
    ])
    .stdout;
    let head = String::from_utf8_lossy(&wasm[..wasm.len().min(600)]).to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/wasm") && head.contains("'wasm-unsafe-eval'"),
        "{head}"
    );
    let render =
        String::from_utf8_lossy(&curl(&[&format!("{base}/render.js")]).stdout).into_owned();
    assert!(render.contains("function bodyBlock"), "{render}");
    let key = proxy.web_key();
    let cookie_header = format!("Cookie: {}", key.cookie);

    // The event stream delivers a new exchange as it happens.
    let stream_url = format!("{base}/api/stream");
    let stream = std::thread::spawn(move || curl(&["-N", "--max-time", "3", &stream_url]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ca_path = proxy.ca_path().display().to_string();
    curl(&[
        "-x",
        &base,
        "--cacert",
        &ca_path,
        "https://api.trakt.tv/movies/trending",
    ]);
    let streamed = String::from_utf8_lossy(&stream.join().unwrap().stdout).into_owned();
    assert!(
        streamed.contains("data: {") && streamed.contains("/movies/trending"),
        "{streamed}"
    );

    let list: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/api/exchanges")]).stdout).unwrap();
    let id = list[0]["id"].as_u64().unwrap();
    let full: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/api/exchanges/{id}")]).stdout).unwrap();
    assert_eq!(
        full["request"]["url"],
        "https://api.trakt.tv/movies/trending"
    );
    let jsonl =
        String::from_utf8_lossy(&curl(&[&format!("{base}/download.jsonl")]).stdout).into_owned();
    assert_eq!(jsonl.lines().count(), 1);

    let code = |args: &[&str]| {
        String::from_utf8_lossy(
            &curl(&[&["-o", "/dev/null", "-w", "%{http_code}"], args].concat()).stdout,
        )
        .into_owned()
    };
    // DNS rebinding: another name for our address is refused.
    assert_eq!(
        code(&["-H", "Host: evil.example", &format!("{base}/api/exchanges")]),
        "403"
    );
    // Actions need the unlock cookie, the token and a same origin.
    let clear = format!("{base}/api/clear");
    assert_eq!(code(&["-X", "POST", &clear]), "403");
    assert_eq!(code(&["-X", "POST", "-H", &cookie_header, &clear]), "403");
    assert_eq!(
        code(&[
            "-X",
            "POST",
            "-H",
            &cookie_header,
            "-H",
            "x-trakt-doctor-token: wrong",
            &clear
        ]),
        "403"
    );
    let token_header = format!("x-trakt-doctor-token: {}", key.token);
    assert_eq!(
        code(&[
            "-X",
            "POST",
            "-H",
            &cookie_header,
            "-H",
            &token_header,
            "-H",
            "Origin: http://evil.example",
            &clear
        ]),
        "403"
    );
    assert_eq!(
        code(&[
            "-X",
            "POST",
            "-H",
            &cookie_header,
            "-H",
            &token_header,
            "-H",
            &format!("Origin: {base}"),
            &clear
        ]),
        "200"
    );
    let after: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/api/exchanges")]).stdout).unwrap();
    assert!(after.as_array().unwrap().is_empty());
    let fix = format!("{base}/api/fix");
    assert_eq!(
        code(&[
            "-X",
            "POST",
            "-H",
            &cookie_header,
            "-H",
            &token_header,
            "--data",
            "{\"enabled\":true}",
            &fix
        ]),
        "200"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/api/state")]).stdout).unwrap();
    assert_eq!(state["fix"], true);
    let rules = String::from_utf8_lossy(&curl(&[&format!("{base}/rules")]).stdout).into_owned();
    assert!(rules.contains("id=\"body.json.invalid\""));
    // Each rule says where its certainty comes from, under the severity policy.
    let rule = trakt_doctor::lint::rule("body.json.invalid").unwrap();
    assert!(rules.contains(&format!("<b>Source:</b> {}", rule.source)));
    assert!(rules.contains("never an error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_har_file_is_written_live_and_lint_reads_it_back() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("session.har");
    let mut args = vec!["--har".to_string(), har.display().to_string()];
    args.extend(route_to(&fake, &ca));
    let mut proxy = ProxyProcess::start(&args);
    for url in [
        "https://api.trakt.tv/movies/trending",
        "https://api.trakt.tv/users/settings",
    ] {
        proxy.curl(&["-H", "User-Agent: T/1", url]);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&har).unwrap_or_default();
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&text);
        if let Ok(v) = &parsed {
            if v["log"]["entries"].as_array().map_or(0, |e| e.len()) == 2 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "HAR not valid with 2 entries while running: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(proxy.interrupt(), Some(0));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .args(["lint", har.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("header.api-version.missing") && text.contains("2 exchange(s) linted"),
        "{text}"
    );
}

/// POSTs `body` to one of the web view's actions with the unlock cookie
/// and the page's token of `key`; gives the status and the answer.
fn act(base: &str, key: &WebKey, path: &str, body: &str) -> (String, String) {
    post(base, key.args(), path, body)
}

/// POSTs `body` to `path` with the curl arguments `args` (headers); gives
/// the status and the answer.
fn post(base: &str, mut args: Vec<String>, path: &str, body: &str) -> (String, String) {
    let url = format!("{base}{path}");
    args.extend(
        [
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data",
            body,
            "-w",
            "\n%{http_code}",
            &url,
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = curl(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answer, code) = text.rsplit_once('\n').unwrap();
    (code.to_string(), answer.to_string())
}

/// Posts `body` to the action at `path`, asserts that it answered 200 and
/// returns the JSON it answered.
fn act_ok(base: &str, key: &WebKey, path: &str, body: &str) -> serde_json::Value {
    let (code, answer) = act(base, key, path, body);
    assert_eq!(code, "200", "{answer}");
    serde_json::from_str(&answer).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lint_and_report_actions_are_guarded_and_the_report_holds_no_secret() {
    const SECRET: &str = "webReportSecret4f7a2c";
    let ca = TestCa::new();
    let refusing: Handler =
        std::sync::Arc::new(|_: &Received| Reply::json(401, r#"{"error":"invalid_token"}"#));
    let fake = FakeUpstream::start(&ca, refusing).await;
    let proxy = ProxyProcess::start(&route_to(&fake, &ca));
    let base = proxy.url();
    let key = proxy.web_key();
    proxy.curl(&[
        "-H",
        &format!("Authorization: Bearer {SECRET}"),
        "-H",
        "User-Agent: WebReport/2",
        "https://api.trakt.tv/sync/history",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let id = loop {
        let list: serde_json::Value =
            serde_json::from_slice(&curl(&[&format!("{base}/api/exchanges")]).stdout).unwrap();
        if let Some(id) = list[0]["id"].as_u64() {
            break id;
        }
        assert!(std::time::Instant::now() < deadline, "no exchange stored");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };

    // Without the token (the unlock cookie alone), neither action answers.
    let report = format!("/api/exchanges/{id}/report");
    assert_eq!(act(&base, &key.with_token("wrong"), &report, "{}").0, "403");
    assert_eq!(
        act(&base, &key.with_token("wrong"), "/api/lint", "{}").0,
        "403"
    );

    let (code, markdown) = act(&base, &key, &report, "{}");
    assert_eq!(code, "200", "{markdown}");
    assert!(
        markdown.contains("GET api.trakt.tv/sync/history: 401 Unauthorized")
            && markdown.contains("authorization: Bearer <access token>")
            && markdown.contains("`WebReport/2`"),
        "{markdown}"
    );
    assert!(
        !markdown.contains(SECRET) && !markdown.contains("sha256:"),
        "{markdown}"
    );
    assert_eq!(
        act(&base, &key, "/api/exchanges/999999/report", "{}").0,
        "404"
    );

    // A draft is linted without being sent: findings, and the repaired request.
    let before = fake.received().len();
    let draft = serde_json::json!({
        "method": "POST",
        "url": "https://api.trakt.tv/scrobble/start",
        "headers": [["content-type", "application/json"], ["trakt-api-key", "x"]],
        "body": "{\"movie\":{\"ids\":{\"trakt\":1}},\"progress\":5}",
    });
    let linted = act_ok(&base, &key, "/api/lint", &draft.to_string());
    let rules: Vec<&str> = linted["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"header.api-version.missing"), "{linted}");
    let repaired = &linted["repaired"]["headers"];
    assert!(
        repaired
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "trakt-api-version" && h[1] == "2"),
        "{linted}"
    );
    assert_eq!(fake.received().len(), before, "linting must not send");
    let bad = serde_json::json!({"method": "GET", "url": "not a url"});
    assert_eq!(act(&base, &key, "/api/lint", &bad.to_string()).0, "400");
}

/// Waits for the web view to hold `n` exchanges; gives them, oldest first.
fn stored(base: &str, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list: serde_json::Value =
            serde_json::from_slice(&curl(&[&format!("{base}/api/exchanges")]).stdout).unwrap();
        let list = list.as_array().unwrap().clone();
        if list.len() >= n || std::time::Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The id of the exchange for `path` in the summaries `list`.
fn id_of(list: &[serde_json::Value], path: &str) -> u64 {
    list.iter()
        .find(|s| s["path"] == path)
        .and_then(|s| s["id"].as_u64())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_from_the_web_view_are_confirmed_marked_and_refuse_a_spent_refresh_token() {
    const TOKEN: &str = "webResendAccess5e1c9b";
    const REFRESH: &str = "webResendRefresh7d3a2f";
    const TYPED: &str = "webResendTyped2b6e4d";
    const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    // Bodies up to 40 MB are captured whole (the eviction below needs one).
    let (mut proxy, log, dir) = logged_proxy(
        &fake,
        &ca,
        &["--capture-limit", "40000000", "--body-memory", "400000000"],
    );
    let base = proxy.url();
    let key = proxy.web_key();
    let common = [
        "-H".to_string(),
        "User-Agent: WebResend/1".to_string(),
        "-H".to_string(),
        "trakt-api-version: 2".to_string(),
        "-H".to_string(),
        format!("trakt-api-key: {CLIENT_ID}"),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v = common.to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        proxy.curl(&args);
    };
    run(with(&[
        "-H",
        &format!("Authorization: Bearer {TOKEN}"),
        "https://api.trakt.tv/users/settings",
    ]));
    let refresh_body = format!(
        r#"{{"refresh_token":"{REFRESH}","client_id":"{CLIENT_ID}","client_secret":"S","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"refresh_token"}}"#
    );
    run(with(&[
        "-H",
        "Content-Type: application/json",
        "--data",
        &refresh_body,
        "https://api.trakt.tv/oauth/token",
    ]));
    let list = stored(&base, 2);
    let (get, refresh) = (
        id_of(&list, "/users/settings"),
        id_of(&list, "/oauth/token"),
    );

    // Without the token (the unlock cookie alone): refused.
    let resend_get = format!("/api/exchanges/{get}/resend");
    assert_eq!(
        act(&base, &key.with_token("wrong"), &resend_get, "{}").0,
        "403"
    );

    // A GET resends at once, with the captured token, marked replay_of.
    let answer = act_ok(&base, &key, &resend_get, r#"{"mode":"captured"}"#);
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["exchange"]["replay_of"], get, "{answer}");
    let settings: Vec<Received> = fake
        .received()
        .into_iter()
        .filter(|r| r.path == "/users/settings")
        .collect();
    assert_eq!(settings.len(), 2);
    assert_eq!(
        settings[1].headers.get("authorization").unwrap(),
        &format!("Bearer {TOKEN}")
    );

    // An edited request goes only to an intercepted host, over https, on the
    // original's port: the token put back into it must not leave for another
    // host, nor in clear.
    let before = fake.received().len();
    for (url, named) in [
        (
            "https://elsewhere.example/users/settings",
            "https://elsewhere.example:443",
        ),
        (
            "http://api.trakt.tv/users/settings",
            "http://api.trakt.tv:80",
        ),
        (
            "https://api.trakt.tv:8443/users/settings",
            "https://api.trakt.tv:8443",
        ),
    ] {
        let elsewhere = serde_json::json!({
            "mode": "edited",
            "confirmed": true,
            "draft": {"method": "GET", "url": url, "headers": [], "body": ""},
        });
        let (code, refused) = act(&base, &key, &resend_get, &elsewhere.to_string());
        assert_eq!(code, "409", "{refused}");
        assert!(
            refused.contains("only into https requests") && refused.contains(named),
            "{refused}"
        );
    }
    assert_eq!(fake.received().len(), before, "nothing was sent");

    // A resend of that resend: its source's original still has the token.
    let again = answer["id"].as_u64().unwrap();
    let (code, answer) = act(
        &base,
        &key,
        &format!("/api/exchanges/{again}/resend"),
        r#"{"mode":"captured"}"#,
    );
    assert_eq!(code, "200", "{answer}");

    // A write says what it changes and is not sent unconfirmed.
    let prepare = format!("/api/exchanges/{refresh}/prepare");
    let prepared = act_ok(&base, &key, &prepare, r#"{"mode":"captured"}"#);
    assert_eq!(prepared["write"], true);
    assert!(
        prepared["change"]
            .as_str()
            .unwrap()
            .contains("refresh token"),
        "{prepared}"
    );
    let tokens_sent = || {
        fake.received()
            .iter()
            .filter(|r| r.path == "/oauth/token")
            .count()
    };
    let resend_refresh = format!("/api/exchanges/{refresh}/resend");
    let (code, unconfirmed) = act(&base, &key, &resend_refresh, r#"{"mode":"captured"}"#);
    assert_eq!(code, "409", "{unconfirmed}");
    assert!(unconfirmed.contains("\"confirm\":true"), "{unconfirmed}");
    // Confirmed, the spent refresh token is still refused before it leaves.
    let (code, spent) = act(
        &base,
        &key,
        &resend_refresh,
        r#"{"mode":"captured","confirmed":true}"#,
    );
    assert_eq!(code, "409", "{spent}");
    let spent: serde_json::Value = serde_json::from_str(&spent).unwrap();
    assert_eq!(spent["spent"], true, "{spent}");
    assert_eq!(tokens_sent(), 1, "the spent refresh token was sent again");

    // Copy as curl: variables by default, the value only when asked.
    let curl_path = format!("/api/exchanges/{get}/curl");
    let (code, command) = act(&base, &key, &curl_path, r#"{"shell":"posix"}"#);
    assert_eq!(code, "200", "{command}");
    assert!(
        command.contains("$TRAKT_ACCESS_TOKEN") && !command.contains(TOKEN),
        "{command}"
    );
    let (_, revealed) = act(
        &base,
        &key,
        &curl_path,
        r#"{"shell":"posix","reveal":true}"#,
    );
    assert!(revealed.contains(TOKEN), "{revealed}");

    // An exchange whose original was evicted (a 33 MB secret outweighs the
    // originals' 8 MiB; its record, redacted, is small) asks for its
    // secret by name, and is sent with the value given.
    run(with(&[
        "-H",
        &format!("Authorization: Bearer {TYPED}"),
        "https://api.trakt.tv/users/settings?evicted=1",
    ]));
    let huge = dir.path().join("huge.json");
    std::fs::write(
        &huge,
        format!(r#"{{"refresh_token":"{}"}}"#, "x".repeat(33 << 20)),
    )
    .unwrap();
    run(with(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", huge.display()),
        "https://api.trakt.tv/oauth/token",
    ]));
    let evicted = id_of(&stored(&base, 6), "/users/settings?evicted=1");
    let prepared = act_ok(
        &base,
        &key,
        &format!("/api/exchanges/{evicted}/prepare"),
        r#"{"mode":"captured"}"#,
    );
    assert_eq!(prepared["missing"][0]["id"], "access_token", "{prepared}");
    assert_eq!(prepared["missing"][0]["name"], "access token", "{prepared}");
    let resend_evicted = format!("/api/exchanges/{evicted}/resend");
    assert_eq!(
        act(&base, &key, &resend_evicted, r#"{"mode":"captured"}"#).0,
        "409"
    );
    let curl_evicted = format!("/api/exchanges/{evicted}/curl");
    assert_eq!(
        act(&base, &key, &curl_evicted, r#"{"reveal":true}"#).0,
        "409",
        "the real value of an evicted exchange is gone"
    );
    let with_secret = serde_json::json!({"mode": "captured", "secrets": {"access_token": TYPED}});
    let (code, answer) = act(&base, &key, &resend_evicted, &with_secret.to_string());
    assert_eq!(code, "200", "{answer}");
    assert_eq!(
        fake.bearers("/users/settings"),
        [TOKEN, TOKEN, TOKEN, TYPED, TYPED].map(|t| format!("Bearer {t}")),
    );

    // Clear drops the originals with the records.
    let clear = act(&base, &key, "/api/clear", "{}");
    assert_eq!(clear.0, "200");
    assert_eq!(
        act(&base, &key, &resend_get, r#"{"mode":"captured"}"#).0,
        "404"
    );

    // Nothing of it wrote a secret.
    let records = wait_for_records(&log, 7);
    assert_eq!(records.len(), 7, "{records:?}");
    assert_eq!(proxy.interrupt(), Some(0));
    assert!(records.iter().any(|r| r["replay_of"] == get), "{records:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [TOKEN, REFRESH, TYPED] {
        assert!(!text.contains(secret), "{secret} reached the log");
    }
}

/// A large answer's record, which the web view holds compressed, reads back
/// from the page's API and downloads exactly as the log file wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_record_reads_back_from_the_page_as_the_log_wrote_it() {
    let ca = TestCa::new();
    let items: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                r#"{{"id":{},"watched_at":"2026-11-{:02}T12:00:00.000Z","action":"scrobble","type":"movie","movie":{{"title":"Film {}","year":{},"ids":{{"trakt":{},"slug":"film-{i}"}}}}}}"#,
                9_000_000 + i * 37,
                1 + i % 28,
                i * 7 % 500,
                1950 + i % 70,
                1000 + i * 13
            )
        })
        .collect();
    let body = format!("[{}]", items.join(","));
    assert!(body.len() > 200 * 1024);
    let answer = body.clone();
    let fake = FakeUpstream::start(
        &ca,
        std::sync::Arc::new(move |_: &Received| Reply::json(200, &answer)),
    )
    .await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let got = proxy.curl(&["https://api.trakt.tv/sync/history"]);
    assert_eq!(got.stdout, body.as_bytes());
    assert_eq!(wait_for_records(&log, 1).len(), 1);
    let written = std::fs::read_to_string(&log).unwrap();
    let line = written.lines().next().unwrap();
    assert!(line.len() > 200 * 1024 && line.contains("Film 499"));

    let base = proxy.url();
    let id = stored(&base, 1)[0]["id"].as_u64().unwrap();
    let full = curl(&[&format!("{base}/api/exchanges/{id}")]).stdout;
    assert!(full == line.as_bytes(), "the record differs from the log's");
    let jsonl = curl(&[&format!("{base}/download.jsonl")]).stdout;
    assert!(
        jsonl == written.as_bytes(),
        "the download differs from the log"
    );
    let har: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/download.har")]).stdout).unwrap();
    assert_eq!(
        har["log"]["entries"][0]["response"]["content"]["text"],
        body.as_str()
    );
}

/// "Loopback" is not "this user": any process or account on this computer
/// may read the (redacted) web view, but only the link the start banner
/// printed unlocks acting: copy as curl with the real secrets, resend,
/// clear, the auto-fix switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_start_link_unlocks_reveal_and_resend() {
    const SECRET: &str = "unlockGateAccess9d4e2a";
    const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let dir = tempfile::tempdir().unwrap();
    let (log, har) = (dir.path().join("log.jsonl"), dir.path().join("log.har"));
    let mut args = vec![
        "--log".to_string(),
        log.display().to_string(),
        "--har".to_string(),
        har.display().to_string(),
    ];
    args.extend(route_to(&fake, &ca));
    let mut proxy = ProxyProcess::start(&args);
    let base = proxy.url();
    proxy.curl(&[
        "-H",
        "User-Agent: UnlockGate/1",
        "-H",
        "trakt-api-version: 2",
        "-H",
        &format!("trakt-api-key: {CLIENT_ID}"),
        "-H",
        &format!("Authorization: Bearer {SECRET}"),
        "https://api.trakt.tv/users/settings",
    ]);
    let id = stored(&base, 1)[0]["id"].as_u64().unwrap();
    let unlock_url = proxy.unlock_url();
    let unlock = unlock_url.rsplit_once("/?unlock=").unwrap().1.to_string();
    assert_eq!(
        unlock_url,
        format!("{base}/?unlock={unlock}"),
        "{}",
        proxy.stderr()
    );
    assert!(
        unlock.len() == 32 && unlock.bytes().all(|b| b.is_ascii_hexdigit()),
        "{unlock}"
    );
    let get = |url: &str, extra: &[&str]| -> (String, String) {
        let out = curl(&[extra, &["-D", "-", url]].concat());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (head.to_ascii_lowercase(), body.to_string())
    };
    let read_only = |what: &str, (head, page): &(String, String)| {
        assert!(head.starts_with("http/1.1 200"), "{what}: {head}");
        assert!(!head.contains("set-cookie"), "{what}: {head}");
        assert_eq!(page_token(page), "", "{what}: a token in the page");
        assert!(
            page.contains("id=\"locked\"")
                && page.contains("open the link trakt-doctor printed when it started"),
            "{what}: no read-only banner: {page}"
        );
        assert!(
            !page.contains(&unlock),
            "{what}: the unlock secret in the page"
        );
    };

    // A local client without the link gets the read-only page, no token in
    // it; a wrong unlock secret is answered the same way.
    let plain = get(&format!("{base}/"), &[]);
    read_only("GET /", &plain);
    let guessed = format!("{base}/?unlock={}", "0".repeat(32));
    read_only("a wrong unlock secret", &get(&guessed, &[]));
    read_only(
        "a wrong unlock cookie",
        &get(
            &format!("{base}/"),
            &[
                "-H",
                &format!("Cookie: trakt_doctor_unlock={}", "0".repeat(32)),
            ],
        ),
    );
    // Reading stays open to it: the list, the details and the downloads, redacted.
    let downloaded = curl(&[&format!("{base}/download.har")]);
    let downloaded = String::from_utf8_lossy(&downloaded.stdout);
    assert!(
        downloaded.contains("/users/settings") && !downloaded.contains(SECRET),
        "{downloaded}"
    );
    let detail = curl(&[&format!("{base}/api/exchanges/{id}")]);
    assert!(String::from_utf8_lossy(&detail.stdout).contains("sha256:"));

    // Whatever token it finds (none, the empty one in the page, a guess,
    // even the real one had it leaked), with or without a same Origin, it
    // can neither reveal nor resend, clear nor switch auto-fix.
    let key = proxy.web_key();
    let sent = fake.received().len();
    let reveal = format!("/api/exchanges/{id}/curl");
    let resend = format!("/api/exchanges/{id}/resend");
    let origin = format!("Origin: {base}");
    let wrong_cookie = format!("Cookie: trakt_doctor_unlock={}", "0".repeat(32));
    let found = page_token(&plain.1);
    for token in ["", found.as_str(), "wrong", key.token.as_str()] {
        for extra in [None, Some(&origin), Some(&wrong_cookie)] {
            let mut headers = vec!["-H".to_string(), format!("x-trakt-doctor-token: {token}")];
            headers.extend(extra.iter().flat_map(|h| ["-H".to_string(), h.to_string()]));
            for (path, body) in [
                (reveal.as_str(), r#"{"shell":"posix","reveal":true}"#),
                (reveal.as_str(), r#"{"shell":"posix"}"#),
                (resend.as_str(), r#"{"mode":"captured","confirmed":true}"#),
                (resend.as_str(), r#"{"mode":"fixed","confirmed":true}"#),
                ("/api/clear", "{}"),
                ("/api/fix", r#"{"enabled":true}"#),
            ] {
                let (code, answer) = post(&base, headers.clone(), path, body);
                assert_eq!(code, "403", "{path} with {headers:?}: {answer}");
                assert!(!answer.contains(SECRET), "{answer}");
            }
        }
    }
    assert_eq!(
        fake.received().len(),
        sent,
        "a locked client sent a request"
    );
    assert_eq!(
        stored(&base, 1).len(),
        1,
        "a locked client cleared the list"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/api/state")]).stdout).unwrap();
    assert_eq!(state["fix"], false, "a locked client switched auto-fix");

    // The start link: 303 to / with the cookie, HttpOnly and SameSite=Strict.
    let (head, _) = get(&unlock_url, &["-o", "/dev/null"]);
    assert!(head.starts_with("http/1.1 303"), "{head}");
    assert!(head.contains("\r\nlocation: /\r\n"), "{head}");
    let set_cookie = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    let attributes: Vec<&str> = set_cookie["set-cookie:".len()..]
        .split(';')
        .map(str::trim)
        .collect();
    assert_eq!(
        attributes,
        [
            format!("trakt_doctor_unlock_{}={unlock}", proxy.addr.port()).as_str(),
            "httponly",
            "samesite=strict",
            "path=/"
        ],
        "{set_cookie}"
    );
    assert_eq!(
        key.cookie,
        format!("trakt_doctor_unlock_{}={unlock}", proxy.addr.port())
    );

    // With it, the page carries the token and no banner, and the same calls work.
    let (_, page) = get(
        &format!("{base}/"),
        &["-H", &format!("Cookie: {}", key.cookie)],
    );
    assert_eq!(page_token(&page), key.token);
    assert!(!page.contains("id=\"locked\"") && !page.contains(&unlock));
    for extra in [None, Some(&origin)] {
        let mut headers = key.args();
        headers.extend(extra.iter().flat_map(|h| ["-H".to_string(), h.to_string()]));
        let (code, command) = post(
            &base,
            headers.clone(),
            &reveal,
            r#"{"shell":"posix","reveal":true}"#,
        );
        assert_eq!(code, "200", "{command}");
        assert!(command.contains(SECRET), "{command}");
        let (code, answer) = post(&base, headers, &resend, r#"{"mode":"captured"}"#);
        assert_eq!(code, "200", "{answer}");
        assert!(answer.contains("\"status\":200"), "{answer}");
    }
    assert_eq!(fake.bearers("/users/settings").len(), 3);

    // The secret is shown once, in the banner: never in a log line, a record,
    // the HAR file or the terminal's exchange lines.
    wait_for_records(&log, 3);
    assert_eq!(proxy.interrupt(), Some(0));
    let stderr = proxy.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&unlock)).collect();
    assert!(
        lines.len() == 1 && lines[0].trim_start().starts_with("Web view:"),
        "{lines:?}"
    );
    assert!(!proxy.stdout().contains(&unlock), "{}", proxy.stdout());
    for file in [&log, &har] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.is_empty() && !text.contains(&unlock),
            "{}",
            file.display()
        );
        assert!(!text.contains(SECRET), "{}", file.display());
    }
}

/// A client that refuses trakt-doctor's certificate never shows in the
/// list: `/api/state` and the event stream carry a notice that says who
/// refused, for which host, and the fix (`ca trust`, and the programs with
/// trust stores of their own). And the detail's repairs: what "Resend with
/// fixes" would change, readable without acting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_certificate_is_a_notice_and_the_repairs_are_named() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let proxy = ProxyProcess::start(&route_to(&fake, &ca));
    let base = proxy.url();
    let state = || -> serde_json::Value {
        serde_json::from_slice(&curl(&[&format!("{base}/api/state")]).stdout).unwrap()
    };
    assert_eq!(state()["notices"], serde_json::json!([]));

    let stream_url = format!("{base}/api/stream");
    let stream = std::thread::spawn(move || curl(&["-N", "--max-time", "3", &stream_url]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    // curl without --cacert: it does not trust the CA.
    for _ in 0..2 {
        let out = curl(&[
            "-A",
            "UntrustingClient/2.1",
            "-x",
            &base,
            "https://api.trakt.tv/users/settings",
        ]);
        assert!(!out.status.success());
    }
    let streamed = String::from_utf8_lossy(&stream.join().unwrap().stdout).into_owned();
    assert_eq!(
        streamed.matches("event: notice\n").count(),
        1,
        "told once: {streamed}"
    );
    let notices = state()["notices"].clone();
    assert_eq!(notices.as_array().unwrap().len(), 1, "{notices}");
    let notice = &notices[0];
    assert_eq!(notice["kind"], "untrusted-ca");
    assert_eq!(notice["client"], "UntrustingClient/2.1");
    assert_eq!(notice["host"], "api.trakt.tv");
    let words = format!(
        "{} {} {}",
        notice["message"].as_str().unwrap(),
        notice["fix"].as_str().unwrap(),
        notice["own_trust_stores"].as_str().unwrap()
    );
    for said in [
        "A client (UntrustingClient/2.1) refused trakt-doctor's certificate for api.trakt.tv",
        "`trakt-doctor ca trust`",
        "--cacert",
        "NODE_EXTRA_CA_CERTS",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "security.enterprise_roots.enabled",
    ] {
        assert!(words.contains(said), "{said}: {words}");
    }
    assert!(streamed.contains("UntrustingClient/2.1"), "{streamed}");

    // No trakt-api-version: Resend with fixes would add it.
    proxy.curl(&[
        "-H",
        "User-Agent: RepairsTest/1",
        "-H",
        "trakt-api-key: 0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
        "https://api.trakt.tv/movies/trending",
    ]);
    let list = stored(&base, 1);
    let id = id_of(&list, "/movies/trending");
    let repairs: serde_json::Value =
        serde_json::from_slice(&curl(&[&format!("{base}/api/exchanges/{id}/repairs")]).stdout)
            .unwrap();
    let repairs = repairs["repairs"].as_array().unwrap();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert_eq!(repairs[0]["rule"], "header.api-version.missing");
    assert_eq!(repairs[0]["location"], "trakt-api-version");
    let missing = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/api/exchanges/999/repairs"),
    ]);
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");
    // Nothing was sent to find out.
    assert_eq!(fake.received().len(), 1);
}
