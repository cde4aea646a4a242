//! Findings and diagnoses through the real proxy: broken requests sent with
//! curl to a strict fake Trakt; the JSONL log must name the mistake and
//! explain the status Trakt answered.

mod common;

use common::*;

const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
const TOKEN: &str = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b";

struct Probe {
    name: &'static str,
    args: Vec<String>,
    status: u16,
    rule: Option<&'static str>,
    summary: &'static str,
}

fn good_headers() -> Vec<String> {
    [
        "User-Agent: DiagnoseTest/1.0".to_string(),
        format!("trakt-api-key: {CLIENT_ID}"),
        "trakt-api-version: 2".to_string(),
        format!("Authorization: Bearer {TOKEN}"),
    ]
    .iter()
    .flat_map(|h| ["-H".to_string(), h.clone()])
    .collect()
}

fn without(header: &str) -> Vec<String> {
    let mut args = good_headers();
    let pos = args
        .iter()
        .position(|a| a.to_lowercase().starts_with(&header.to_lowercase()))
        .unwrap();
    args[pos] = format!("{header}:");
    args
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mistake_is_found_and_the_status_explained() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let (proxy, log, _tmp) = logged_proxy(&fake, &ca, &[]);
    let ca_path = proxy.ca_path().display().to_string();
    let scrobble = "https://api.trakt.tv/scrobble/start";
    let json = ["-H", "Content-Type: application/json"];
    // The clean request goes first: later ones are sent faster than Trakt's
    // one write per second, which trakt-doctor rightly reports.
    let probes = vec![
        Probe {
            name: "good scrobble",
            args: with(
                good_headers(),
                &[
                    json[0],
                    json[1],
                    "--data",
                    "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10}",
                    scrobble,
                ],
            ),
            status: 201,
            rule: None,
            summary: "",
        },
        Probe {
            name: "no user agent",
            args: with(
                without("User-Agent"),
                &["https://api.trakt.tv/users/settings"],
            ),
            status: 403,
            rule: Some("header.user-agent.missing"),
            summary: "Cloudflare",
        },
        Probe {
            name: "no api version",
            args: with(
                without("trakt-api-version"),
                &["https://api.trakt.tv/users/settings"],
            ),
            status: 400,
            rule: Some("header.api-version.missing"),
            summary: "400 because `trakt-api-version: 2` is missing",
        },
        Probe {
            name: "broken json",
            args: with(
                good_headers(),
                &[
                    json[0],
                    json[1],
                    "--data",
                    "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10,}",
                    scrobble,
                ],
            ),
            status: 400,
            rule: Some("body.json.invalid"),
            summary: "400 because the body is not JSON",
        },
        Probe {
            name: "form content type",
            args: with(
                good_headers(),
                &[
                    "--data",
                    "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10}",
                    scrobble,
                ],
            ),
            status: 412,
            rule: Some("header.content-type.wrong"),
            summary: "412 because",
        },
        Probe {
            name: "no token",
            args: with(
                without("Authorization"),
                &[
                    json[0],
                    json[1],
                    "--data",
                    "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":10}",
                    scrobble,
                ],
            ),
            status: 401,
            rule: Some("header.authorization.missing"),
            summary: "401 because",
        },
        Probe {
            name: "progress out of range",
            args: with(
                good_headers(),
                &[
                    json[0],
                    json[1],
                    "--data",
                    "{\"movie\":{\"ids\":{\"trakt\":28}},\"progress\":5400}",
                    scrobble,
                ],
            ),
            status: 422,
            rule: Some("body.progress.range"),
            summary: "422 because",
        },
        Probe {
            name: "imdb without tt",
            args: with(
                good_headers(),
                &[
                    json[0],
                    json[1],
                    "--data",
                    "{\"movie\":{\"ids\":{\"imdb\":\"2015381\"}},\"progress\":10}",
                    scrobble,
                ],
            ),
            status: 404,
            rule: Some("body.ids.invalid"),
            summary: "404 because",
        },
    ];
    for probe in &probes {
        let mut curl_args = vec![
            "-x".to_string(),
            proxy.url(),
            "--cacert".into(),
            ca_path.clone(),
            "-o".into(),
            "/dev/null".into(),
            "-w".into(),
            "%{http_code}".into(),
        ];
        curl_args.extend(probe.args.iter().cloned());
        let refs: Vec<&str> = curl_args.iter().map(String::as_str).collect();
        let out = curl(&refs);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            probe.status.to_string(),
            "{}",
            probe.name
        );
    }
    let records = wait_for_records(&log, probes.len());
    assert_eq!(records.len(), probes.len());
    for (probe, record) in probes.iter().zip(&records) {
        let rules: Vec<&str> = record["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        match probe.rule {
            Some(rule) => {
                assert!(
                    rules.contains(&rule),
                    "{}: expected {rule} in {rules:?}",
                    probe.name
                );
                let summary = record["diagnosis"]["summary"].as_str().unwrap_or_default();
                assert!(
                    summary.contains(probe.summary),
                    "{}: summary `{summary}`",
                    probe.name
                );
                assert!(
                    !record["diagnosis"]["remedies"]
                        .as_array()
                        .unwrap()
                        .is_empty(),
                    "{}",
                    probe.name
                );
            }
            None => {
                assert!(rules.is_empty(), "{}: {rules:?}", probe.name);
                assert!(record["diagnosis"].is_null(), "{}", probe.name);
            }
        }
    }
    // The terminal shows the findings and the explanation under each line.
    let terminal = proxy.stdout();
    assert!(
        terminal.contains("error   header.user-agent.missing"),
        "{terminal}"
    );
    assert!(
        terminal.contains("why     403 from Cloudflare"),
        "{terminal}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_refresh_token_is_caught_across_exchanges() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let (proxy, log, _tmp) = logged_proxy(&fake, &ca, &[]);
    let body = format!(
        r#"{{"refresh_token":"R1-secret-refresh","client_id":"{CLIENT_ID}","client_secret":"S","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"refresh_token"}}"#
    );
    for expected in ["200", "400"] {
        let out = proxy.curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "User-Agent: T/1",
            "-H",
            "trakt-api-version: 2",
            "-H",
            &format!("trakt-api-key: {CLIENT_ID}"),
            "-H",
            "Content-Type: application/json",
            "--data",
            &body,
            "https://api.trakt.tv/oauth/token",
        ]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
    let records = wait_for_records(&log, 2);
    assert!(records[0]["findings"].as_array().unwrap().is_empty());
    let second = &records[1];
    assert_eq!(
        second["findings"][0]["rule"],
        "session.refresh-token.reused"
    );
    assert!(
        second["diagnosis"]["summary"]
            .as_str()
            .unwrap()
            .contains("because this refresh token"),
        "{}",
        second["diagnosis"]
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("R1-secret-refresh") && !text.contains("new-access"),
        "secrets must be fingerprinted"
    );
}
