//! Auto-fix through the real proxy: each broken request that a strict fake
//! Trakt rejects fails without --fix and succeeds with it, and the JSONL log
//! shows the rewrite; a valid request reaches the upstream byte for byte.

mod common;

use bytes::Bytes;
use common::*;

const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
const TOKEN: &str = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b";
const SCROBBLE: &str = "https://api.trakt.tv/scrobble/start";
const HISTORY: &str = "https://api.trakt.tv/sync/history";
const MOVIE: &str = r#"{"movie":{"ids":{"trakt":28}},"progress":10}"#;

struct Broken {
    rule: &'static str,
    headers: Vec<String>,
    body: Vec<u8>,
    url: &'static str,
    rejected_with: u16,
}

fn headers(overrides: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut list: Vec<(String, String)> = vec![
        ("User-Agent".into(), "FixTest/1.0".into()),
        ("trakt-api-key".into(), CLIENT_ID.into()),
        ("trakt-api-version".into(), "2".into()),
        ("Authorization".into(), format!("Bearer {TOKEN}")),
        ("Content-Type".into(), "application/json".into()),
    ];
    for (name, value) in overrides {
        list.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        match value {
            Some(v) => list.push((name.to_string(), v.to_string())),
            // curl's way to send no such header at all.
            None => list.push((name.to_string(), String::new())),
        }
    }
    list.into_iter()
        .flat_map(|(n, v)| {
            [
                "-H".to_string(),
                if v.is_empty() {
                    format!("{n}:")
                } else {
                    format!("{n}: {v}")
                },
            ]
        })
        .collect()
}

fn cases() -> Vec<Broken> {
    let bearer_lower = format!("bearer {TOKEN}");
    let bearer_spaced = format!("Bearer   \"{TOKEN}\" ");
    let mut duplicated = headers(&[]);
    duplicated.extend(["-H".to_string(), "trakt-api-version: 2".to_string()]);
    vec![
        Broken {
            rule: "header.api-version.missing",
            headers: headers(&[("trakt-api-version", None)]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 400,
        },
        Broken {
            rule: "header.api-version.wrong",
            headers: headers(&[("trakt-api-version", Some("1"))]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 400,
        },
        Broken {
            rule: "header.api-key.misnamed",
            headers: headers(&[("trakt-api-key", None), ("trakt_api_key", Some(CLIENT_ID))]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 403,
        },
        Broken {
            rule: "header.content-type.missing",
            headers: headers(&[("Content-Type", None)]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 412,
        },
        Broken {
            rule: "header.content-type.wrong",
            headers: headers(&[("Content-Type", Some("text/plain;charset=UTF-8"))]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 412,
        },
        Broken {
            rule: "header.user-agent.missing",
            headers: headers(&[("User-Agent", None)]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 403,
        },
        Broken {
            rule: "header.authorization.scheme",
            headers: headers(&[("Authorization", Some(&bearer_lower))]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 401,
        },
        Broken {
            rule: "header.authorization.format",
            headers: headers(&[("Authorization", Some(&bearer_spaced))]),
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 401,
        },
        Broken {
            rule: "header.duplicate",
            headers: duplicated,
            body: MOVIE.into(),
            url: SCROBBLE,
            rejected_with: 400,
        },
        Broken {
            rule: "body.json.bom",
            headers: headers(&[]),
            body: [b"\xEF\xBB\xBF".as_slice(), MOVIE.as_bytes()].concat(),
            url: SCROBBLE,
            rejected_with: 400,
        },
        Broken {
            rule: "body.number.string",
            headers: headers(&[]),
            body: br#"{"movie":{"ids":{"trakt":"28"}},"progress":"45.5"}"#.to_vec(),
            url: SCROBBLE,
            rejected_with: 422,
        },
        Broken {
            rule: "body.date.format",
            headers: headers(&[]),
            body: br#"{"movies":[{"ids":{"trakt":28},"watched_at":1409562611}]}"#.to_vec(),
            url: HISTORY,
            rejected_with: 422,
        },
    ]
}

fn send(proxy: &ProxyProcess, case: &Broken, dir: &std::path::Path, n: usize) -> String {
    let body_file = dir.join(format!("body-{n}"));
    std::fs::write(&body_file, &case.body).unwrap();
    let ca = proxy.ca_path().display().to_string();
    let data = format!("@{}", body_file.display());
    let url = proxy.url();
    let mut args: Vec<&str> = vec![
        "-x",
        &url,
        "--cacert",
        &ca,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-binary",
        &data,
    ];
    args.extend(case.headers.iter().map(String::as_str));
    args.push(case.url);
    String::from_utf8_lossy(&curl(&args).stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fix_turns_a_rejected_request_into_an_accepted_one() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let tmp = tempfile::tempdir().unwrap();
    let plain_log = tmp.path().join("plain.jsonl");
    let fixed_log = tmp.path().join("fixed.jsonl");
    let mut plain_args = vec!["--log".to_string(), plain_log.display().to_string()];
    plain_args.extend(route_to(&fake, &ca));
    let mut fix_args = vec![
        "--fix".to_string(),
        "--log".to_string(),
        fixed_log.display().to_string(),
    ];
    fix_args.extend(route_to(&fake, &ca));
    let plain = ProxyProcess::start(&plain_args);
    let fixing = ProxyProcess::start(&fix_args);
    let cases = cases();
    for (n, case) in cases.iter().enumerate() {
        // Trakt allows one write per second per user; stay clear of it.
        std::thread::sleep(std::time::Duration::from_millis(1050));
        assert_eq!(
            send(&plain, case, tmp.path(), n),
            case.rejected_with.to_string(),
            "{} without --fix",
            case.rule
        );
        assert!(
            send(&fixing, case, tmp.path(), n).starts_with('2'),
            "{} with --fix",
            case.rule
        );
    }
    let records = wait_for_records(&fixed_log, cases.len());
    for (case, record) in cases.iter().zip(&records) {
        let fixes = record["fixes"].as_array().unwrap();
        assert!(
            fixes.iter().any(|f| f["rule"] == case.rule),
            "{}: {fixes:?}",
            case.rule
        );
        let finding = record["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == case.rule)
            .unwrap();
        assert_eq!(finding["fixed"], true, "{}", case.rule);
        assert!(
            record["diagnosis"].is_null(),
            "{}: {}",
            case.rule,
            record["diagnosis"]
        );
    }
    // Fixes are shown in the terminal, secrets stay redacted in before/after.
    let terminal = fixing.stdout();
    assert!(terminal.contains("[fixed]"), "{terminal}");
    assert!(
        terminal.contains("fix     header.api-version.missing"),
        "{terminal}"
    );
    let log_text = std::fs::read_to_string(&fixed_log).unwrap();
    assert!(!log_text.contains(TOKEN));
    let plain_records = wait_for_records(&plain_log, cases.len());
    assert!(plain_records
        .iter()
        .all(|r| r["fixes"].as_array().unwrap().is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_request_passes_through_byte_for_byte_with_fix_on() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let mut args = vec!["--fix".to_string()];
    args.extend(route_to(&fake, &ca));
    let proxy = ProxyProcess::start(&args);
    // Odd but valid spacing and key order must survive untouched.
    let body = "{ \"progress\" : 10,\n  \"movie\": {\"ids\": {\"imdb\": \"tt2015381\"}} }";
    let case = Broken {
        rule: "none",
        headers: headers(&[]),
        body: body.into(),
        url: SCROBBLE,
        rejected_with: 0,
    };
    assert_eq!(send(&proxy, &case, proxy.certs.path(), 0), "201");
    let received = fake.received();
    assert_eq!(received[0].body, Bytes::from(body));
    assert_eq!(received[0].headers["user-agent"], "FixTest/1.0");
    assert_eq!(
        received[0]
            .headers
            .get_all("trakt-api-version")
            .iter()
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_chosen_fixes_are_applied() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, strict_trakt()).await;
    let mut args = vec!["--fix=header.user-agent.missing".to_string()];
    args.extend(route_to(&fake, &ca));
    let proxy = ProxyProcess::start(&args);
    let both = Broken {
        rule: "",
        headers: headers(&[("User-Agent", None), ("trakt-api-version", None)]),
        body: MOVIE.into(),
        url: SCROBBLE,
        rejected_with: 0,
    };
    // The User-Agent is added, the version is not: the fake now answers 400 instead of 403.
    assert_eq!(send(&proxy, &both, proxy.certs.path(), 0), "400");
    assert!(fake.received()[0].headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("trakt-doctor-autofix/"));
}

/// Found by the `core` fuzz target: a misnamed key sent three times, two of
/// them alike. The first pass renamed one and left a repeat that only a second
/// pass removed; one pass must do all a second would.
#[test]
fn fixing_once_leaves_nothing_for_a_second_pass() {
    use trakt_doctor::exchange::{Body, Headers, Request};
    use trakt_doctor::fix::{self, FixPolicy};
    let request = Request {
        method: "GET".into(),
        url: "https://api.trakt.tv/movies/trending".into(),
        http_version: "HTTP/1.1".into(),
        headers: Headers(vec![
            ("user-agent".into(), "FixTest/1.0".into()),
            ("trakt-api-version".into(), "2".into()),
            ("api_key".into(), CLIENT_ID.into()),
            ("api_key".into(), "other".into()),
            ("api_key".into(), "other".into()),
        ]),
        body: Body::complete(Bytes::new()),
    };
    let at = time::OffsetDateTime::UNIX_EPOCH;
    let mut findings = trakt_doctor::lint::check(&request, at);
    let (fixed, _) = fix::apply(&request, &mut findings, &FixPolicy::All).expect("a first fix");
    let mut again = trakt_doctor::lint::check(&fixed, at);
    assert_eq!(
        fix::apply(&fixed, &mut again, &FixPolicy::All).map(|(_, records)| records),
        None
    );
}

/// A compressed request body that auto-fix repairs goes out as it is
/// recorded, decoded, with consistent headers: no Content-Encoding, a
/// length that fits. Without --fix the client's bytes go out unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repaired_compressed_body_is_sent_plain_with_consistent_headers() {
    let ca = TestCa::new();
    let fake = FakeUpstream::start(&ca, echo()).await;
    let broken = r#"{"movie":{"ids":{"trakt":28}},"progress":"10"}"#;
    let mut with_coding = headers(&[]);
    with_coding.extend(["-H".to_string(), "Content-Encoding: gzip".to_string()]);
    let case = Broken {
        rule: "body.number.string",
        headers: with_coding,
        body: encode(Coding::Gzip, broken.as_bytes()),
        url: SCROBBLE,
        rejected_with: 0,
    };
    let (plain, log, dir) = logged_proxy(&fake, &ca, &[]);
    assert_eq!(send(&plain, &case, dir.path(), 0), "200");
    let as_sent = fake.received().pop().unwrap();
    assert_eq!(
        as_sent.body,
        Bytes::from(case.body.clone()),
        "passed on unchanged"
    );
    assert_eq!(as_sent.headers["content-encoding"], "gzip");
    // The record holds the decoded text, and names the coding.
    let record = &wait_for_records(&log, 1)[0];
    assert_eq!(record["request"]["body"]["text"], broken);
    assert_eq!(record["request"]["body"]["encoding"], "gzip");
    assert!(record["findings"]
        .to_string()
        .contains("body.number.string"));
    drop(plain);

    let (fixing, log, dir) = logged_proxy(&fake, &ca, &["--fix"]);
    assert_eq!(send(&fixing, &case, dir.path(), 1), "200");
    let repaired = fake.received().pop().unwrap();
    let fixed = r#"{"movie":{"ids":{"trakt":28}},"progress":10}"#;
    assert_eq!(repaired.body, Bytes::from(fixed));
    assert!(repaired.headers.get("content-encoding").is_none());
    if let Some(length) = repaired.headers.get("content-length") {
        assert_eq!(length.to_str().unwrap(), fixed.len().to_string());
    }
    let record = &wait_for_records(&log, 1)[0];
    assert_eq!(record["request"]["body"]["text"], fixed);
    assert!(record["request"]["headers"]
        .get("content-encoding")
        .is_none());
}
