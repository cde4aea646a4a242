//! Trakt behind Cloudflare: every answer carries `Server: cloudflare` and a
//! `CF-RAY`, Trakt's own JSON errors as much as Cloudflare's HTML pages
//! (the fake upstream sends them as the real CDN does, tests/common/cdn.rs).
//! A header present on every answer cannot tell who answered: the body and
//! its content type do. Through the real binary, loopback only.

mod common;

use std::sync::Arc;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_403_from_trakt_is_not_taken_for_cloudflares_block_page() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    // Trakt's API answers 403 (JSON, empty) without a trakt-api-key.
    proxy.curl(&[
        "-H",
        "User-Agent: CloudflareTest/1.0",
        "-H",
        "trakt-api-version: 2",
        "https://api.trakt.tv/movies/trending",
    ]);
    // Cloudflare's firewall answers its HTML block page without a User-Agent.
    proxy.curl(&[
        "-H",
        "User-Agent:",
        "-H",
        "trakt-api-version: 2",
        "https://api.trakt.tv/movies/trending",
    ]);
    let records = wait_for_records(&log, 2);
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record["response"]["status"], 403);
        assert_eq!(record["response"]["headers"]["server"], "cloudflare");
        assert!(record["response"]["headers"]["cf-ray"].is_string());
    }
    let api = &records[0]["diagnosis"];
    assert!(
        !api["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("Cloudflare"),
        "Trakt's own JSON 403 told as Cloudflare's firewall: {api}"
    );
    assert!(
        api["causes"].to_string().contains("trakt-api-key"),
        "the API key is the cause of Trakt's 403: {api}"
    );
    let block = &records[1]["diagnosis"];
    assert!(
        block["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("Cloudflare"),
        "{block}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_token_tells_trakts_403_from_cloudflares() {
    let ca = TestCa::new();
    let handler: Handler = Arc::new(|r: &Received| {
        let auth = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth.ends_with("blocked-token") {
            cloudflare_page(403)
        } else {
            Reply::json(403, "")
        }
    });
    let fake = FakeUpstream::start(&ca, handler).await;
    let run = |token: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trakt-doctor"))
            .args([
                "check-token",
                "--upstream-ca",
                ca.pem_path.to_str().unwrap(),
                "--resolve",
                &format!("api.trakt.tv:443={}", fake.addr),
            ])
            .env("TRAKT_TOKEN", token)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let blocked = run("blocked-token");
    assert!(blocked.contains("blocked: Cloudflare"), "{blocked}");
    let refused = run("other-app-token");
    assert!(
        refused.contains("refused: 403 for client id"),
        "Trakt's JSON 403 (behind Cloudflare, as every answer) is not a block: {refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflares_5xx_pages_are_explained_as_an_outage_not_quoted() {
    let ca = TestCa::new();
    let handler: Handler = Arc::new(|r: &Received| {
        let code = r
            .path
            .rsplit('=')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(520);
        cloudflare_page(code)
    });
    let fake = FakeUpstream::start(&ca, handler).await;
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &[]);
    let codes = [520, 521, 522];
    for code in codes {
        let out = proxy.curl(&[
            "-H",
            "User-Agent: CloudflareTest/1.0",
            "-w",
            "\n%{http_code}",
            &format!("https://api.trakt.tv/sync/last_activities?code={code}"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.ends_with(&format!("\n{code}")), "{text}");
        assert!(
            text.contains(&format!("{code}: ")),
            "the page reaches the client"
        );
    }
    let records = wait_for_records(&log, codes.len());
    for (record, code) in records.iter().zip(codes) {
        assert_eq!(record["response"]["status"], code);
        let causes = record["diagnosis"]["causes"].to_string();
        assert!(causes.contains("overloaded or down"), "{code}: {causes}");
        assert!(
            !causes.contains("<!DOCTYPE") && !causes.contains("<html"),
            "{code}: Cloudflare's HTML quoted as Trakt's words: {causes}"
        );
    }
}
