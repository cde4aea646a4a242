//! `trakt-doctor report` through the binary: traffic carrying every kind of
//! secret the redaction knows goes through the real proxy to the loopback
//! fake Trakt, then the report (Markdown and HAR) of its log must name the
//! failures and their diagnosis, and hold neither a secret nor any
//! fingerprint of one. Loopback only.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::*;

/// Each secret, as the client sends it (or the server answers it).
const ACCESS: &str = "accessTokenValue7f3a9c";
const REFRESH: &str = "refreshTokenValue2b8e1d";
const CLIENT_SECRET: &str = "clientSecretValue5c4f7a";
const CODE: &str = "oauthCodeValue9d1e3b";
const DEVICE_CODE: &str = "deviceCodeValue3a7c2e";
const VERIFIER: &str = "codeVerifierValue8b2d4f";
const ID_TOKEN: &str = "idTokenValue1f6a8c";
const TOKEN: &str = "plainTokenValue6e2b9d";
const AUTH_KEY: &str = "stremioAuthKeyValue4d8f1a";
const PASSWORD: &str = "passwordValue7c3e5b";
const COOKIE: &str = "cookieValue2a9f4c";
const BASIC_PASSWORD: &str = "basicPasswordValue5b1d7e";
const ANSWERED_ACCESS: &str = "answeredAccessValue3c8a6f";
const ANSWERED_REFRESH: &str = "answeredRefreshValue9e4b2d";

const ALL: &[&str] = &[
    ACCESS,
    REFRESH,
    CLIENT_SECRET,
    CODE,
    DEVICE_CODE,
    VERIFIER,
    ID_TOKEN,
    TOKEN,
    AUTH_KEY,
    PASSWORD,
    COOKIE,
    BASIC_PASSWORD,
    ANSWERED_ACCESS,
    ANSWERED_REFRESH,
];

/// A fake Trakt that refuses everything, quoting tokens back in its answers
/// as a careless server (or a successful OAuth answer) would.
fn refusing_trakt() -> common::Handler {
    Arc::new(|r: &Received| {
        if r.path.starts_with("/oauth/") {
            Reply::json(
                400,
                &format!(
                    r#"{{"error":"invalid_grant","access_token":"{ANSWERED_ACCESS}","refresh_token":"{ANSWERED_REFRESH}"}}"#
                ),
            )
        } else {
            Reply::json(401, r#"{"error":"invalid_token"}"#)
        }
    })
}

fn generate_traffic(proxy: &ProxyProcess) {
    let json = ["-H", "Content-Type: application/json"];
    let trakt = [
        "-H",
        "trakt-api-version: 2",
        "-H",
        "trakt-api-key: public-client-id",
    ];
    let bearer = format!("Authorization: Bearer {ACCESS}");
    let cookie = format!("Cookie: session={COOKIE}; theme=dark");
    let get = [
        &trakt[..],
        &[
            "-H",
            &bearer,
            "-H",
            &cookie,
            "-H",
            "User-Agent: ReportTest/1.2",
        ],
        &["https://api.trakt.tv/sync/history"],
    ]
    .concat();
    proxy.curl(&get);
    let token_body = format!(
        r#"{{"code":"{CODE}","client_id":"public-client-id","client_secret":"{CLIENT_SECRET}","refresh_token":"{REFRESH}","code_verifier":"{VERIFIER}","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"authorization_code"}}"#
    );
    proxy.curl(
        &[
            &json[..],
            &["-d", &token_body, "https://api.trakt.tv/oauth/token"],
        ]
        .concat(),
    );
    let device_body = format!(
        r#"{{"code":"{DEVICE_CODE}","device_code":"{DEVICE_CODE}","client_id":"public-client-id","client_secret":"{CLIENT_SECRET}"}}"#
    );
    proxy.curl(
        &[
            &json[..],
            &[
                "-d",
                &device_body,
                "https://api.trakt.tv/oauth/device/token",
            ],
        ]
        .concat(),
    );
    let stremio = format!(
        r#"{{"type":"GetUser","authKey":"{AUTH_KEY}","id_token":"{ID_TOKEN}","password":"{PASSWORD}"}}"#
    );
    proxy.curl(
        &[
            &json[..],
            &["-d", &stremio, "https://api.strem.io/api/getUser"],
        ]
        .concat(),
    );
    proxy.curl(&[&format!(
        "https://www.strem.io/trakt/watched.json?token={TOKEN}&access_token={ACCESS}"
    )]);
    let basic = format!("reporter:{BASIC_PASSWORD}");
    proxy.curl(&["-u", &basic, "https://api.trakt.tv/users/settings"]);
}

/// Resends exchange `id` as captured through the web view's API (unlocked
/// by the start link, with the page's token).
fn resend_from_the_web_view(proxy: &ProxyProcess, id: u64) {
    let base = proxy.url();
    let key = proxy.web_key().args();
    let key: Vec<&str> = key.iter().map(String::as_str).collect();
    let resend = format!("{base}/api/exchanges/{id}/resend");
    let out = curl(
        &[
            &key[..],
            &["-X", "POST", "--data", r#"{"mode":"captured"}"#, &resend],
        ]
        .concat(),
    );
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(answer.contains("\"status\":401"), "{answer}");
}

fn report(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
        .arg("report")
        .args(args)
        .output()
        .unwrap()
}

fn assert_clean(what: &str, text: &str, fingerprints: &[String]) {
    for secret in ALL {
        assert!(
            !text.contains(secret),
            "{secret} leaked into {what}:\n{text}"
        );
    }
    for fingerprint in fingerprints {
        assert!(
            !text.contains(fingerprint.as_str()),
            "the fingerprint {fingerprint} leaked into {what}:\n{text}"
        );
    }
    assert!(
        !text.contains("sha256:"),
        "a fingerprint leaked into {what}:\n{text}"
    );
}

/// Every `sha256:…` fingerprint the log holds.
fn fingerprints_in(log: &str) -> Vec<String> {
    let mut out: Vec<String> = log
        .match_indices("sha256:")
        .map(|(at, _)| {
            log[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                .collect()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_and_its_har_name_the_failures_and_leak_no_secret_nor_fingerprint() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, refusing_trakt()).await;
    // A log as the proxy writes it (fingerprints), and one written with
    // --show-secrets (the secrets in clear): the report scrubs both.
    for extra in [&[][..], &["--show-secrets"][..]] {
        let (mut proxy, log, dir) = logged_proxy(&fake, &ca, extra);
        generate_traffic(&proxy);
        let records = wait_for_records(&log, 6);
        // One resend from the web view: the report lists it as what was tried.
        let history = records
            .iter()
            .find(|r| r["request"]["url"] == "https://api.trakt.tv/sync/history")
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        resend_from_the_web_view(&proxy, history);
        let records = wait_for_records(&log, 7);
        assert_eq!(proxy.interrupt(), Some(0));
        assert_eq!(records.len(), 7, "{records:?}");
        assert_eq!(records[6]["replay_of"], history);
        let logged = std::fs::read_to_string(&log).unwrap();
        let fingerprints = fingerprints_in(&logged);
        if extra.is_empty() {
            assert!(
                fingerprints.len() >= 8,
                "the log should hold fingerprints: {logged}"
            );
        } else {
            assert!(logged.contains(AUTH_KEY) && logged.contains(ACCESS));
        }

        let har = dir.path().join("shared.har");
        let out = report(&[log.to_str().unwrap(), "--har", har.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let markdown = String::from_utf8(out.stdout).unwrap();
        let har_text = std::fs::read_to_string(&har).unwrap();
        assert_clean("the Markdown report", &markdown, &fingerprints);
        assert_clean("the report's HAR", &har_text, &fingerprints);

        // The Markdown names each failure, its diagnosis and the client.
        assert!(
            markdown.contains("GET api.trakt.tv/sync/history: 401 Unauthorized"),
            "{markdown}"
        );
        assert!(
            markdown.contains("POST api.trakt.tv/oauth/token: 400 Bad Request"),
            "{markdown}"
        );
        assert!(markdown.contains("`ReportTest/1.2`"), "{markdown}");
        let history = records
            .iter()
            .find(|r| r["request"]["url"] == "https://api.trakt.tv/sync/history")
            .unwrap();
        let history_id = history["id"].as_u64().unwrap();
        let summary = history["diagnosis"]["summary"].as_str().unwrap();
        let summary_md = summary.replace('<', "\\<").replace('>', "\\>");
        assert!(
            !summary.contains("sha256:") && markdown.contains(&summary_md),
            "the diagnosis {summary:?} is missing:\n{markdown}"
        );
        // Placeholders say what was there.
        for placeholder in [
            "authorization: Bearer <access token>",
            "cookie: session=<cookie>; theme=<cookie>",
            "\"client_secret\": \"<client secret>\"",
            "\"refresh_token\": \"<refresh token>\"",
            "\"code\": \"<OAuth code>\"",
            "\"device_code\": \"<device code>\"",
            "\"code_verifier\": \"<code verifier>\"",
            "\"authKey\": \"<authKey>\"",
            "\"id_token\": \"<id token>\"",
            "\"password\": \"<password>\"",
            "?token=<token>&access_token=<access token>",
            "authorization: Basic <credentials>",
        ] {
            assert!(
                markdown.contains(placeholder),
                "{placeholder} missing:\n{markdown}"
            );
        }
        assert!(
            markdown.contains(env!("CARGO_PKG_VERSION")) && markdown.contains("Trakt contract of"),
            "{markdown}"
        );

        // The resend is what was tried for the first failure, not a failure of its own.
        let resend = records[6]["id"].as_u64().unwrap();
        assert!(
            markdown.contains(&format!("- Resent as #{resend} at ")),
            "{markdown}"
        );
        assert!(!markdown.contains("## 7."), "{markdown}");

        // The HAR holds the six exchanges and the resend, readable as HAR 1.2.
        let har_json: serde_json::Value = serde_json::from_str(&har_text).unwrap();
        let entries = har_json["log"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 7);
        assert!(entries
            .iter()
            .any(|e| e["_trakt_doctor"]["replay_of"] == history_id));

        // --id picks one; an unknown id is refused.
        let id = history_id.to_string();
        let one = report(&[log.to_str().unwrap(), "--id", &id]);
        let one = String::from_utf8(one.stdout).unwrap();
        assert!(one.contains("## 1. GET api.trakt.tv/sync/history"), "{one}");
        assert!(!one.contains("## 2."), "{one}");
        assert_clean("the report of one exchange", &one, &fingerprints);
        let unknown = report(&[log.to_str().unwrap(), "--id", "999999"]);
        assert_eq!(unknown.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("#999999"));
    }
}

/// Stremio's main failure comes in a 200: a getUser answer whose Trakt token
/// has expired. The report covers it (an error finding, whatever the
/// status), and names the account by placeholders only: its email, its
/// Stremio user id (also in the Trakt addon's URL) and its Trakt username.
#[test]
fn a_2xx_with_an_error_finding_is_reported_without_the_accounts_identity() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stremio.jsonl");
    let uid = "5e1f00d15ea5e0000000beef";
    let email = "jane.doe.report@example.com";
    let created = time::OffsetDateTime::now_utc().unix_timestamp() - 3 * 86_400;
    let line = |id: u64, method: &str, url: &str, body: &str, answer: &str| {
        serde_json::json!({
            "id": id, "started_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
            "duration_ms": 5.0,
            "request": {"method": method, "url": url, "http_version": "HTTP/1.1",
                "headers": {"content-type": "text/plain;charset=UTF-8"},
                "body": if body.is_empty() { serde_json::Value::Null } else { serde_json::json!({"size": body.len(), "text": body}) }},
            "response": {"status": 200, "http_version": "HTTP/1.1", "headers": {"content-type": "application/json"},
                "body": {"size": answer.len(), "text": answer}},
            "findings": [], "fixes": [], "diagnosis": null,
        })
        .to_string()
    };
    let records = [
        line(
            1,
            "POST",
            "https://api.strem.io/api/login",
            &format!(r#"{{"type":"Login","email":"{email}","password":"sha256:1a2b3c4d"}}"#),
            &format!(
                r#"{{"result":{{"authKey":"sha256:2b3c4d5e","user":{{"_id":"{uid}","email":"{email}","trakt":null}}}}}}"#
            ),
        ),
        line(
            2,
            "POST",
            "https://api.strem.io/api/getUser",
            r#"{"type":"GetUser","authKey":"sha256:2b3c4d5e"}"#,
            &format!(
                r#"{{"result":{{"_id":"{uid}","email":"{email}","trakt":{{"access_token":"sha256:3c4d5e6f","created_at":{created},"expires_in":86400}}}}}}"#
            ),
        ),
        line(
            3,
            "GET",
            &format!("https://www.strem.io/trakt/addon/{uid}/manifest.json"),
            "",
            r#"{"id":"org.stremio.trakt"}"#,
        ),
    ];
    std::fs::write(&log, records.join("\n") + "\n").unwrap();
    let out = report(&[log.to_str().unwrap()]);
    let markdown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        markdown.contains("stremio.trakt-token.expired"),
        "{markdown}"
    );
    assert!(markdown.contains("getUser"), "{markdown}");
    for identity in [uid, email] {
        assert!(!markdown.contains(identity), "{identity} in:\n{markdown}");
    }
    // Asked for by id, the addon's URL carries the user id: hidden too.
    let by_id = report(&[log.to_str().unwrap(), "--id", "3"]);
    let markdown = String::from_utf8_lossy(&by_id.stdout).into_owned();
    assert!(
        by_id.status.success(),
        "{}",
        String::from_utf8_lossy(&by_id.stderr)
    );
    assert!(
        markdown.contains("/trakt/addon/<Stremio user id>/manifest.json")
            && !markdown.contains(uid),
        "{markdown}"
    );
}
