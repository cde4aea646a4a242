//! Property tests of the pure core: linting and diagnosing never panic on
//! any input, fixing is idempotent, and a fixed JSON body is still valid
//! JSON with the same keys.

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
        };
        let inspector = trakt_doctor::inspect::Inspector::new();
        let mut replayed = exchange.clone();
        inspector.replay(&mut replayed);
        let _ = trakt_doctor::diagnose::explain(&exchange);
    }
}
