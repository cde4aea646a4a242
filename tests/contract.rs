//! Conformance with Trakt's own contract, generated from the committed
//! snapshot (`crates/core/src/spec/trakt-contract.json`): for every operation, valid
//! requests lint with no error and no warning; for every body schema, broken
//! variants each get a finding that names the broken place.
//!
//! The requests are built from the contract alone (each enumeration value of
//! each path placeholder, each body alternative, with and without a token
//! where OAuth is optional), so this tests trakt-doctor's reading of the
//! contract against the contract, not against our own examples.

use bytes::Bytes;
use serde_json::{json, Map, Value};
use trakt_doctor::exchange::{Body, Headers, Request};
use trakt_doctor::lint;
use trakt_doctor::report::{Finding, Severity};
use trakt_doctor::spec::schema::{Kind, Schema};
use trakt_doctor::spec::trakt::{self, Auth, Endpoint, Server};

const CLIENT_ID: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
const TOKEN: &str = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b";

fn at() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-24 12:00 UTC)
}

fn resolve(schema: &Schema) -> &Schema {
    trakt::contract().resolve(schema)
}

/// A value a person would put in a path placeholder of this name and schema.
fn path_values(name: &str, schema: &Schema) -> Vec<String> {
    let schema = resolve(schema);
    if let Some(allowed) = &schema.allowed {
        return allowed
            .iter()
            .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            .collect();
    }
    let any = schema.any_of.iter().map(resolve).find_map(|s| s.kind);
    let value = match (name, schema.kind.or(any)) {
        (_, Some(Kind::Integer)) => match name {
            "days" => "7",
            "year" => "2024",
            "month" => "5",
            _ => "1",
        },
        ("start_date", _) => "2026-01-01",
        ("country" | "countryCode", _) => "us",
        ("language", _) => "en",
        ("rating", _) => "8",
        ("id_type", _) => "imdb",
        ("id", _) => "tt0903747",
        ("sort" | "sort_by", _) => "rank",
        ("sort_how", _) => "asc",
        ("type", _) => "movies",
        ("comment_type", _) => "reviews",
        ("all_data", _) => "true",
        _ => "my-list-42",
    };
    vec![value.to_string()]
}

/// Every alternative body the schema allows, each with its required fields
/// and its optional objects and lists (the contract leaves the item of a
/// scrobble or a sync optional in its types; a body without one names nothing).
fn examples(schema: &Schema, depth: usize) -> Vec<Value> {
    example_named(schema, depth, "")
}

fn example_named(schema: &Schema, depth: usize, name: &str) -> Vec<Value> {
    let schema = resolve(schema);
    if depth > 12 {
        return vec![json!({})];
    }
    if !schema.all_of.is_empty() {
        // Every part at once: each alternative of the parts, merged.
        let mut merged = vec![json!({})];
        for part in &schema.all_of {
            let options = example_named(part, depth + 1, name);
            merged = merged
                .iter()
                .flat_map(|base| {
                    options.iter().take(6).map(move |option| {
                        let mut base = base.clone();
                        if let (Some(b), Some(o)) = (base.as_object_mut(), option.as_object()) {
                            b.extend(o.clone());
                        }
                        base
                    })
                })
                .collect();
        }
        return merged;
    }
    if !schema.any_of.is_empty() {
        return schema
            .any_of
            .iter()
            .flat_map(|alt| example_named(alt, depth + 1, name))
            .collect();
    }
    let mut base = vec![match schema.kind {
        _ if schema.allowed.is_some() => schema.allowed.as_ref().unwrap()[0].clone(),
        Some(Kind::String) if name == "grant_type" => json!("authorization_code"),
        Some(Kind::String) if name == "imdb" => json!("tt0903747"),
        Some(Kind::String) if name == "slug" => json!("breaking-bad"),
        Some(Kind::String) => match schema.format.as_deref() {
            Some("date-time") => json!("2026-01-01T20:00:00.000Z"),
            Some("date") => json!("2026-01-01"),
            _ => json!("x".repeat(schema.min_length.unwrap_or(1).max(1) as usize)),
        },
        Some(Kind::Integer) => json!(schema.minimum.map_or(1, |m| m.max(1.0) as i64)),
        Some(Kind::Number) => json!(schema.minimum.map_or(1.5, |m| m.max(1.5))),
        Some(Kind::Boolean) => json!(true),
        Some(Kind::Array) => {
            let items = schema
                .items
                .as_deref()
                .map_or(vec![json!({})], |i| example_named(i, depth + 1, name));
            json!([items[0].clone()])
        }
        Some(Kind::Object) | None if schema.properties.is_some() => json!({}),
        Some(Kind::Object) => json!({}),
        None => json!("x"),
    }];
    if let (Some(properties), Some(Value::Object(_))) = (&schema.properties, base.first()) {
        let structured = |s: &Schema| {
            let s = resolve(s);
            matches!(s.kind, Some(Kind::Object | Kind::Array)) || !s.any_of.is_empty()
        };
        // A refresh is the other grant: a code exchange is enough here.
        let wanted: Vec<&String> = properties
            .iter()
            .filter(|(n, s)| schema.required.contains(n) || structured(s))
            .map(|(n, _)| n)
            .filter(|n| *n != "refresh_token" || schema.required.contains(n))
            .collect();
        for name in wanted {
            let Some(sub) = properties.get(name) else {
                continue;
            };
            let options = example_named(sub, depth + 1, name);
            // Each alternative of a required field gives its own body.
            let mut next = Vec::new();
            for body in &base {
                for option in options.iter().take(4) {
                    let mut body = body.clone();
                    body.as_object_mut()
                        .unwrap()
                        .insert(name.clone(), option.clone());
                    next.push(body);
                }
            }
            base = next;
        }
    }
    for body in &mut base {
        // A refresh names its grant.
        if let Some(object) = body.as_object_mut() {
            if object.contains_key("refresh_token") && object.contains_key("grant_type") {
                object.insert("grant_type".into(), json!("refresh_token"));
            }
        }
    }
    base
}

fn request(method: &str, path: &str, token: bool, body: Option<&Value>) -> Request {
    request_on("api.trakt.tv", method, path, token, body)
}

fn request_on(host: &str, method: &str, path: &str, token: bool, body: Option<&Value>) -> Request {
    let mut headers = vec![
        ("user-agent".to_string(), "ConformanceTest/1.0".to_string()),
        ("trakt-api-key".into(), CLIENT_ID.into()),
        ("trakt-api-version".into(), "2".into()),
    ];
    if token {
        headers.push(("authorization".into(), format!("Bearer {TOKEN}")));
    }
    let bytes = match body {
        Some(body) => {
            headers.push(("content-type".into(), "application/json".into()));
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    Request {
        method: method.into(),
        url: format!("https://{host}{path}"),
        http_version: "HTTP/1.1".into(),
        headers: Headers(headers),
        body: Body::complete(bytes),
    }
}

/// Every concrete path of an operation: each enumeration value of each placeholder.
fn paths(endpoint: &Endpoint) -> Vec<String> {
    let mut paths = vec![String::new()];
    for segment in endpoint.path.trim_matches('/').split('/') {
        let values = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => endpoint
                .params
                .get(name)
                .map_or_else(|| vec!["x".to_string()], |s| path_values(name, s)),
            None => vec![segment.to_string()],
        };
        paths = paths
            .iter()
            .flat_map(|p| values.iter().map(move |v| format!("{p}/{v}")))
            .collect();
    }
    if endpoint.path.ends_with('/') {
        for p in &mut paths {
            p.push('/');
        }
    }
    paths
}

fn loud(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect()
}

#[test]
fn every_operation_accepts_its_valid_requests() {
    let contract = trakt::contract();
    let mut operations = 0;
    let mut requests = 0;
    let mut failures = Vec::new();
    for endpoint in &contract.endpoints {
        let tokens: &[bool] = match endpoint.auth {
            Auth::Required => &[true],
            Auth::Optional => &[true, false],
            Auth::None => &[false],
        };
        let bodies: Vec<Option<Value>> = match &endpoint.details().body_schema {
            Some(schema) => examples(schema, 0).into_iter().map(Some).collect(),
            None => vec![None],
        };
        for path in paths(endpoint) {
            for token in tokens {
                for body in &bodies {
                    let host = match endpoint.server {
                        Server::Api => "api.trakt.tv",
                        Server::Auth => "auth.trakt.tv",
                    };
                    // The authorize page's parameters are a browser's, not the contract's types.
                    let path = if endpoint.path == "/oauth/authorize" {
                        format!("{path}?response_type=code&client_id={CLIENT_ID}&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&state=xyz")
                    } else {
                        path.clone()
                    };
                    let req = request_on(host, &endpoint.method, &path, *token, body.as_ref());
                    requests += 1;
                    let findings = lint::check(&req, at());
                    let loud = loud(&findings);
                    if !loud.is_empty() {
                        failures.push(format!(
                            "{} {path} (token: {token}, body: {}): {:?}",
                            endpoint.method,
                            body.as_ref().map_or("none".into(), Value::to_string),
                            loud.iter()
                                .map(|f| format!("{} {} {}", f.rule, f.location, f.message))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
        operations += 1;
    }
    println!(
        "contract conformance: {operations} operations of the {}, {requests} valid requests",
        trakt::contract_label()
    );
    assert_eq!(operations, 334);
    assert!(
        failures.is_empty(),
        "{} valid request(s) got an error or a warning:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Ways to break one top-level field of a valid body, with the schema's reason.
fn breakages(schema: &Schema) -> Vec<(String, &'static str, Option<Value>)> {
    let schema = resolve(schema);
    let mut out = Vec::new();
    let Some(properties) = &schema.properties else {
        return out;
    };
    for (name, sub) in properties {
        let sub = resolve(sub);
        if schema.required.contains(name) {
            out.push((name.clone(), "missing required field", None));
        }
        let wrong = match sub.kind {
            Some(Kind::String) => Some(json!(12345)),
            Some(Kind::Integer | Kind::Number) => Some(json!("not a number")),
            Some(Kind::Boolean) => Some(json!("yes")),
            Some(Kind::Array) => Some(json!("not a list")),
            Some(Kind::Object) => Some(json!(42)),
            None => None,
        };
        if let Some(wrong) = wrong {
            out.push((name.clone(), "wrong type", Some(wrong)));
        }
        if let Some(max) = sub.maximum {
            out.push((name.clone(), "out of range", Some(json!(max + 1.0))));
        }
        if sub.allowed.is_some() {
            out.push((
                name.clone(),
                "unknown enum value",
                Some(json!("no-such-value")),
            ));
        }
    }
    out
}

#[test]
fn every_body_schema_names_each_broken_field() {
    let contract = trakt::contract();
    let mut checked = 0;
    let mut failures = Vec::new();
    for endpoint in contract
        .endpoints
        .iter()
        .filter(|e| e.details().body_schema.is_some())
    {
        let schema = endpoint.details().body_schema.as_ref().unwrap();
        let schema_resolved = resolve(schema);
        // Alternatives: break each alternative's fields within that alternative.
        let alternatives: Vec<&Schema> = if schema_resolved.any_of.is_empty() {
            vec![schema_resolved]
        } else {
            schema_resolved.any_of.iter().map(resolve).collect()
        };
        let path = paths(endpoint).remove(0);
        for alternative in alternatives {
            let Some(valid) = examples(alternative, 0).into_iter().next() else {
                continue;
            };
            for (field, how, replacement) in breakages(alternative) {
                let mut body = valid.clone();
                let Some(object) = body.as_object_mut() else {
                    continue;
                };
                match &replacement {
                    None => {
                        object.remove(&field);
                    }
                    Some(v) => {
                        object.insert(field.clone(), v.clone());
                    }
                }
                // A field the other alternatives share may let another one fit:
                // only fields every alternative types alike are broken there.
                if schema_resolved.any_of.len() > 1 && fits_another(schema_resolved, &body) {
                    continue;
                }
                let req = request(&endpoint.method, &path, true, Some(&body));
                let findings = lint::check(&req, at());
                let pointer = format!("/{field}");
                let named = loud(&findings).iter().any(|f| {
                    f.location == pointer || f.location == "/" && how == "missing required field"
                });
                checked += 1;
                if !named {
                    failures.push(format!(
                        "{} {} with {how} `{field}` ({body}): {:?}",
                        endpoint.method,
                        endpoint.path,
                        findings
                            .iter()
                            .map(|f| format!("{} {}", f.rule, f.location))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    println!("contract conformance: {checked} broken bodies");
    assert!(checked > 100, "only {checked} broken variants");
    assert!(
        failures.is_empty(),
        "{} broken body/bodies not named:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Whether the broken body still fits one of the schema's alternatives.
fn fits_another(schema: &Schema, body: &Value) -> bool {
    let validator = trakt_doctor::spec::schema::Validator {
        shared: &trakt::contract().shared,
        request: true,
        sample: None,
    };
    schema
        .any_of
        .iter()
        .any(|alt| validator.validate(body, alt).is_empty())
}

#[test]
fn a_body_alternative_mixing_fields_still_fits() {
    // The contract's alternatives overlap; a body may name ids two ways.
    let body = json!({"movie": {"ids": {"trakt": 1, "imdb": "tt2015381"}}, "progress": 12.5});
    let req = request("POST", "/scrobble/start", true, Some(&body));
    assert!(loud(&lint::check(&req, at())).is_empty());
    let _ = Map::<String, Value>::new();
}
