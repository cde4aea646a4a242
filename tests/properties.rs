//! Property tests of the pure core: linting and diagnosing never panic on
//! any input, fixing is idempotent, and a fixed JSON body is still valid
//! JSON with the same keys. The generators aim at what broke before:
//! percent-encoded and non-ASCII path segments, absurd numbers (`1e300`,
//! `-0`, `NaN`, integers past i64), deep JSON, odd `Retry-After`,
//! `expires_in` and `created_at`, hosts that only end like Trakt's; and one
//! property drives whole exchanges (request, fix, response) in sequence
//! through one inspector, session state included, as the proxy does.
//! Bounded: a few hundred cases each, seconds in all.

use std::collections::BTreeSet;

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};
use trakt_doctor::fix::{self, FixPolicy};
use trakt_doctor::lint;

fn at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-24 12:00 UTC)
}

fn header_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    let token = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b";
    let key = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
    let auth = prop_oneof![
        Just(None),
        Just(Some(format!("Bearer {token}"))),
        Just(Some(format!("bearer {token}"))),
        Just(Some(format!("BEARER   \"{token}\" "))),
        Just(Some(format!("Token {token}"))),
        Just(Some("Bearer undefined".to_string())),
    ];
    let api_key = prop_oneof![
        Just(vec![]),
        Just(vec![("trakt-api-key".to_string(), key.to_string())]),
        Just(vec![("trakt_api_key".to_string(), key.to_string())]),
        Just(vec![("api-key".to_string(), key.to_string())]),
        Just(vec![
            ("trakt-api-key".to_string(), key.to_string()),
            ("trakt-api-key".to_string(), key.to_string())
        ]),
    ];
    let version = prop_oneof![
        Just(vec![]),
        Just(vec!["2"]),
        Just(vec!["1"]),
        Just(vec!["2", "2"])
    ];
    let ua = prop_oneof![Just(None), Just(Some("App/1.0")), Just(Some("axios/1.6"))];
    let ct = prop_oneof![
        Just(None),
        Just(Some("application/json")),
        Just(Some("text/plain;charset=UTF-8"))
    ];
    (auth, api_key, version, ua, ct).prop_map(|(auth, api_key, version, ua, ct)| {
        let mut headers = api_key;
        headers.extend(
            version
                .into_iter()
                .map(|v| ("trakt-api-version".to_string(), v.to_string())),
        );
        if let Some(a) = auth {
            headers.push(("authorization".into(), a));
        }
        if let Some(u) = ua {
            headers.push(("user-agent".into(), u.into()));
        }
        if let Some(c) = ct {
            headers.push(("content-type".into(), c.into()));
        }
        headers
    })
}

fn number(n: u32, as_string: bool) -> Value {
    if as_string {
        Value::String(n.to_string())
    } else {
        Value::from(n)
    }
}

fn date() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1_000_000_000i64..1_800_000_000).prop_map(Value::from),
        (1_000_000_000_000i64..1_800_000_000_000).prop_map(Value::from),
        Just(Value::from("2014-09-01T11:10:11+02:00")),
        Just(Value::from("2014-09-01T09:10:11.000Z")),
        Just(Value::from("01/09/2014")),
        Just(Value::from("released")),
    ]
}

fn body_strategy() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    let scrobble = (0u32..200, any::<bool>(), 1u32..100_000, any::<bool>(), any::<bool>()).prop_map(
        |(progress, progress_str, id, id_str, bom)| {
            let body = serde_json::json!({"movie": {"ids": {"trakt": number(id, id_str)}}, "progress": number(progress, progress_str)});
            let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            bytes.extend(body.to_string().into_bytes());
            ("https://api.trakt.tv/scrobble/start", bytes)
        },
    );
    let history = (proptest::collection::vec((1u32..1000, any::<bool>(), date()), 0..4), any::<bool>()).prop_map(|(items, bom)| {
        let movies: Vec<Value> = items
            .into_iter()
            .map(|(id, id_str, watched)| serde_json::json!({"ids": {"tmdb": number(id, id_str)}, "watched_at": watched}))
            .collect();
        let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        bytes.extend(serde_json::json!({ "movies": movies }).to_string().into_bytes());
        ("https://api.trakt.tv/sync/history", bytes)
    });
    prop_oneof![scrobble, history]
}

fn request(url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Request {
    Request {
        method: "POST".into(),
        url: url.into(),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers),
        body: Body::complete(Bytes::from(body)),
    }
}

fn fixed(req: &Request) -> Option<Request> {
    let mut findings = lint::check(req, at());
    fix::apply(req, &mut findings, &FixPolicy::All).map(|(r, _)| r)
}

fn keys(value: &Value, path: String, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{path}/{k}");
                out.insert(p.clone());
                keys(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                keys(v, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn parse(bytes: &[u8]) -> Option<Value> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fixing_is_idempotent(headers in header_strategy(), (url, body) in body_strategy()) {
        let original = request(url, headers, body);
        if let Some(once) = fixed(&original) {
            let twice = fixed(&once);
            prop_assert!(twice.is_none(), "a second pass changed {:?} into {:?}", once, twice);
        }
    }

    #[test]
    fn a_fixed_json_body_is_json_with_the_same_keys(headers in header_strategy(), (url, body) in body_strategy()) {
        let original = request(url, headers, body);
        if let Some(after) = fixed(&original) {
            let before = parse(&original.body.bytes).expect("the generated body is JSON");
            let after_json: Value = serde_json::from_slice(&after.body.bytes).expect("the fixed body is JSON");
            let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
            keys(&before, String::new(), &mut a);
            keys(&after_json, String::new(), &mut b);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn the_core_never_panics_on_arbitrary_requests(
        method in "[A-Z]{0,8}",
        path in "(/[a-z0-9_%{}.~-]{0,12}){0,6}",
        query in "[a-z=&0-9%+]{0,30}",
        headers in proptest::collection::vec(("[a-zA-Z_-]{1,20}", ".{0,40}"), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        status in 100u16..600,
        response_body in ".{0,200}",
    ) {
        let host = if status % 2 == 0 { "api.trakt.tv" } else { "trakt.tv" };
        let mut req = request(&format!("https://{host}{path}?{query}"), headers.clone(), body);
        req.method = method;
        let mut findings = lint::check(&req, at());
        let _ = fix::apply(&req, &mut findings, &FixPolicy::All);
        let exchange = Exchange {
            id: 1,
            started_at: at(),
            duration_ms: 1.0,
            request: req,
            response: Some(Response { status, http_version: "HTTP/1.1".into(), headers: Headers(headers), body: Body::complete(Bytes::from(response_body)) }),
            error: None,
            findings,
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        };
        let inspector = trakt_doctor::inspect::Inspector::new();
        let mut replayed = exchange.clone();
        inspector.replay(&mut replayed);
        let _ = trakt_doctor::diagnose::explain(&exchange);
    }
}

// ---- Hostile inputs: generators ------------------------------------------

/// Path segments that are not plain ASCII words: percent-encoded bytes
/// (valid UTF-8 or not), raw non-ASCII, look-alikes of ids.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{0,12}",
        Just("%E2%82%ACab".to_string()),
        Just("%E2%82%AC".to_string()),
        Just("tt%E2%82%AC1".to_string()),
        Just("%74%74123".to_string()),
        Just("%FF%FE".to_string()),
        Just("%".to_string()),
        Just("%2".to_string()),
        Just("%00".to_string()),
        Just("€ab".to_string()),
        Just("t€".to_string()),
        Just("TT0903747".to_string()),
        Just("9999999999999999999999".to_string()),
        Just("-0".to_string()),
        "(%[0-9A-F]{2}){1,6}",
        "[a-zé€✓\\u{1F600}%]{0,6}",
    ]
}

/// A Trakt route with hostile segments where ids and names go.
fn trakt_path() -> impl Strategy<Value = String> {
    (0usize..9, segment(), segment(), 0u8..3).prop_map(|(shape, a, b, n)| match shape {
        0 => format!("/movies/{a}"),
        1 => format!("/shows/{a}/seasons/{b}"),
        2 => format!("/shows/{a}/seasons/{n}/episodes/{b}"),
        3 => format!("/users/{a}/lists/{b}/items"),
        4 => format!("/search/{a}?query={b}&id_type=imdb"),
        5 => format!("/movies/{a}?id_type={b}"),
        6 => format!("/sync/playback/{a}"),
        7 => format!("/movies/updates/{a}"),
        _ => format!("/{a}/{b}"),
    })
}

/// Numbers as JSON text that overflow, underflow or are not numbers at all.
fn odd_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e300".to_string()),
        Just("-1e300".to_string()),
        Just("1e-300".to_string()),
        Just("-0".to_string()),
        Just("0".to_string()),
        Just("\"NaN\"".to_string()),
        Just("\"-0\"".to_string()),
        Just("\"1e300\"".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("18446744073709551615".to_string()),
        Just("99999999999999999999999999".to_string()),
        Just("null".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        (1_000_000_000i64..2_000_000_000).prop_map(|n| n.to_string()),
    ]
}

/// `Retry-After` values, sane and not.
fn retry_after() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("10".to_string()),
        Just("1e300".to_string()),
        Just("1e18".to_string()),
        Just("-1".to_string()),
        Just("-0".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("9223372036854775807".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
        Just("".to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
    ]
}

/// JSON nested `depth` levels deep (past serde_json's limit of 128 too).
fn nested(depth: usize, leaf: &str) -> String {
    let mut out = String::new();
    for i in 0..depth {
        out.push_str(if i % 2 == 0 { "{\"movies\":" } else { "[" });
    }
    out.push_str(leaf);
    for i in (0..depth).rev() {
        out.push(if i % 2 == 0 { '}' } else { ']' });
    }
    out
}

/// A request or response body: Trakt shapes with odd numbers, token
/// answers, Stremio getUser answers, deep nesting, or noise.
fn hostile_body() -> impl Strategy<Value = String> {
    prop_oneof![
        (odd_number(), odd_number()).prop_map(|(progress, id)| format!(
            r#"{{"movie":{{"ids":{{"trakt":{id},"imdb":"tt{id}"}}}},"progress":{progress}}}"#
        )),
        (odd_number(), odd_number()).prop_map(|(expires_in, created_at)| format!(
            r#"{{"access_token":"A1","refresh_token":"R1","expires_in":{expires_in},"created_at":{created_at},"code":"C1"}}"#
        )),
        (odd_number(), odd_number()).prop_map(|(expires_in, created_at)| format!(
            r#"{{"result":{{"_id":"5e1","authKey":"K","trakt":{{"access_token":"A1","expires_in":{expires_in},"created_at":{created_at}}}}}}}"#
        )),
        (odd_number(), odd_number()).prop_map(|(offset, duration)| format!(
            r#"{{"type":"Events","authKey":"K","events":[{{"eventName":"traktPlaying","player":{{"libItemID":"tt1","libItemType":"series","libItemVideoID":"tt1:€:2","libItemTimeOffset":{offset},"libItemTimeDuration":{duration}}}}}]}}"#
        )),
        (odd_number(), any::<bool>()).prop_map(|(n, date)| format!(
            r#"{{"movies":[{{"ids":{{"tmdb":{n}}},"watched_at":{}}}]}}"#,
            if date { "\"2014-09-01T09:10:11.000Z\"".to_string() } else { n.clone() }
        )),
        (1usize..300, odd_number()).prop_map(|(depth, leaf)| nested(depth, &leaf)),
        ".{0,60}",
    ]
}

/// Hosts: Trakt's and Stremio's, and ones that only look like them.
fn host() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        4 => Just("api.trakt.tv"),
        1 => Just("trakt.tv"),
        1 => Just("api.strem.io"),
        1 => Just("www.strem.io"),
        1 => Just("nottrakt.tv"),
        1 => Just("api.nottrakt.tv"),
        1 => Just("api.trakt.tv.example.org"),
        1 => Just("API.TRAKT.TV"),
        1 => Just("api.trakt.tv."),
        1 => Just("xn--trakt-tv.tv"),
        1 => Just("[::1]"),
    ]
}

/// One exchange of a sequence: what the client sends and what comes back.
#[derive(Debug, Clone)]
struct Step {
    host: &'static str,
    method: &'static str,
    path: String,
    token: Option<&'static str>,
    body: String,
    status: u16,
    retry_after: Option<String>,
    response_body: String,
    /// Milliseconds after the previous step (jumps of years included).
    gap_ms: i64,
    duration_ms: f64,
}

fn step() -> impl Strategy<Value = Step> {
    let path = prop_oneof![
        3 => trakt_path(),
        1 => Just("/oauth/token".to_string()),
        1 => Just("/oauth/revoke".to_string()),
        1 => Just("/api/getUser".to_string()),
        1 => Just("/api/events".to_string()),
        1 => Just("/sync/history".to_string()),
        1 => Just("/trakt/addon/5e1/catalog/movie/x.json".to_string()),
    ];
    let method = prop_oneof![Just("GET"), Just("POST"), Just("DELETE"), Just("PUT")];
    let token = prop_oneof![Just(None), Just(Some("A1")), Just(Some("A2"))];
    let status = prop_oneof![
        Just(200u16),
        Just(201),
        Just(401),
        Just(429),
        Just(302),
        100u16..600
    ];
    let gap = prop_oneof![
        0i64..2_000,
        Just(0),
        Just(-5_000),
        Just(400_000_000_000),
        Just(i64::MAX)
    ];
    let duration = prop_oneof![
        Just(1.0),
        Just(0.0),
        Just(-1.0),
        Just(1e300),
        Just(f64::MAX)
    ];
    (
        (host(), method, path, token, hostile_body()),
        (
            status,
            proptest::option::of(retry_after()),
            hostile_body(),
            gap,
            duration,
        ),
    )
        .prop_map(
            |(
                (host, method, path, token, body),
                (status, retry_after, response_body, gap_ms, duration_ms),
            )| Step {
                host,
                method,
                path,
                token,
                body,
                status,
                retry_after,
                response_body,
                gap_ms,
                duration_ms,
            },
        )
}

fn hostile_request(step: &Step) -> Request {
    let mut headers = vec![
        ("user-agent".to_string(), "Prop/1".to_string()),
        ("trakt-api-version".to_string(), "2".to_string()),
        ("trakt-api-key".to_string(), "k".to_string()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    if let Some(token) = step.token {
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    Request {
        method: step.method.into(),
        url: format!("https://{}{}", step.host, step.path),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers),
        body: Body::complete(Bytes::from(step.body.clone())),
    }
}

/// The whole inspection of one exchange, stage by stage as the proxy runs it.
fn inspect_like_the_proxy(
    inspector: &trakt_doctor::inspect::Inspector,
    step: &Step,
    at: time::OffsetDateTime,
) -> Exchange {
    let request = hostile_request(step);
    let (prepared, sent) = inspector
        .begin(at)
        .prepare(inspector, &request, &FixPolicy::All);
    let (mut findings, fixes) = (prepared.findings, prepared.fixes);
    let request = prepared.repaired.unwrap_or(request);
    let mut response_headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(value) = &step.retry_after {
        response_headers.push(("retry-after".into(), value.clone()));
    }
    if (300..400).contains(&step.status) {
        response_headers.push((
            "location".into(),
            format!(
                "https://api.trakt.tv/oauth/authorize?client_id={}",
                step.path
            ),
        ));
    }
    let response_headers = Headers(response_headers);
    let (head, _, answered) = sent.answer_head(
        inspector,
        &request,
        step.status,
        &response_headers,
        &FixPolicy::All,
    );
    findings.extend(head);
    let mut exchange = Exchange {
        id: 1,
        started_at: at,
        duration_ms: step.duration_ms,
        request,
        response: Some(Response {
            status: step.status,
            http_version: "HTTP/1.1".into(),
            headers: response_headers,
            body: Body::complete(Bytes::from(step.response_body.clone())),
        }),
        error: None,
        findings,
        fixes,
        diagnosis: None,
        replay_of: None,
    };
    answered.finish(inspector, &mut exchange);
    trakt_doctor::redact::Redactor::new(b"test").exchange(&mut exchange);
    exchange
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Requests and responses in sequence through one inspector (session
    /// state carried over): no stage fails, and every record can be written
    /// and read back for offline linting, which agrees it is not broken.
    #[test]
    fn sequences_of_hostile_exchanges_are_inspected_without_failure(
        steps in proptest::collection::vec(step(), 1..8)
    ) {
        let inspector = trakt_doctor::inspect::Inspector::new();
        let mut at = at();
        let mut records = Vec::new();
        for step in &steps {
            at = at.saturating_add(time::Duration::milliseconds(step.gap_ms));
            let exchange = inspect_like_the_proxy(&inspector, step, at);
            let internal: Vec<_> = exchange
                .findings
                .iter()
                .filter(|f| f.is(&trakt_doctor::lint::internal::INTERNAL))
                .collect();
            prop_assert!(internal.is_empty(), "{:?} on {:?}", internal, step);
            let line = serde_json::to_string(&exchange);
            prop_assert!(line.is_ok(), "{:?}", line);
            records.push(line.unwrap_or_default());
            let _ = trakt_doctor::log::har::entry(&exchange);
        }
        // The offline linter reads the same records back and replays them.
        let read = trakt_doctor::log::read::exchanges(&records.join("\n"));
        prop_assert!(read.is_ok(), "{:?}", read.err());
        let offline = trakt_doctor::inspect::Inspector::new();
        for mut exchange in read.unwrap_or_default() {
            offline.replay(&mut exchange);
            prop_assert!(
                !exchange.findings.iter().any(|f| f.is(&trakt_doctor::lint::internal::INTERNAL)),
                "{:?}",
                exchange.findings
            );
        }
    }

    /// The session alone, fed absurd numbers directly (no guard in between).
    #[test]
    fn the_session_survives_absurd_numbers(
        retry in retry_after(),
        (expires_in, created_at) in (odd_number(), odd_number()),
        duration_ms in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(1e300)],
        later_ms in prop_oneof![0i64..10_000, Just(i64::MAX), Just(i64::MIN)],
    ) {
        let mut session = trakt_doctor::session::Session::new();
        let mut get = hostile_request(&Step {
            host: "api.trakt.tv", method: "GET", path: "/sync/history".into(), token: Some("A1"),
            body: String::new(), status: 429, retry_after: None, response_body: String::new(), gap_ms: 0, duration_ms,
        });
        let response = |status: u16, headers: &[(&str, &str)], body: String| Some(Response {
            status, http_version: "HTTP/1.1".into(), headers: Headers::from_pairs(headers), body: Body::complete(Bytes::from(body)),
        });
        let mut exchange = Exchange {
            id: 1, started_at: at(), duration_ms, request: get.clone(),
            response: response(429, &[("retry-after", &retry)], String::new()),
            error: None, findings: vec![], fixes: vec![], diagnosis: None, replay_of: None,
        };
        session.observe_exchange(&exchange);
        get.url = "https://api.trakt.tv/oauth/token".into();
        exchange.request = get.clone();
        exchange.response = response(200, &[], format!(r#"{{"access_token":"A1","expires_in":{expires_in},"created_at":{created_at}}}"#));
        session.observe_exchange(&exchange);
        let _ = trakt_doctor::lint::stremio::getuser_token(
            &trakt_doctor::parsed::Parsed::of(&exchange.request),
            &exchange,
        );
        get.url = "https://api.trakt.tv/sync/history".into();
        let later = at().saturating_add(time::Duration::milliseconds(later_ms));
        let _ = session.observe_request(&get, later);
        let _ = session.observe_request(&get, at());
    }

    /// Hosts that merely end in "trakt.tv" get no Trakt diagnosis.
    #[test]
    fn only_trakt_domains_are_diagnosed_as_trakt(
        prefix in "[a-z0-9-]{1,10}",
        status in 400u16..600,
    ) {
        let url = format!("https://{prefix}trakt.tv/users/settings");
        let exchange = Exchange {
            id: 1, started_at: at(), duration_ms: 1.0,
            request: request(&url, vec![], vec![]),
            response: Some(Response { status, http_version: "HTTP/1.1".into(), headers: Headers::default(), body: Body::default() }),
            error: None, findings: vec![], fixes: vec![], diagnosis: None, replay_of: None,
        };
        prop_assert!(trakt_doctor::diagnose::explain(&exchange).is_none(), "{url}");
    }
}
