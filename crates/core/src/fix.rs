//! Auto-fix: repairs that a finding may carry, and the record of each
//! rewrite applied to a request before it left.
use std::collections::BTreeSet;

use bytes::Bytes;

use crate::exchange::Request;
use crate::lint;
use crate::report::{Finding, Fix, FixRecord};

/// Which fixes auto-fix applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FixPolicy {
    /// Auto-fix is off (the default).
    #[default]
    Off,
    /// Every rule that has a fix.
    All,
    /// Only these rule ids.
    Only(BTreeSet<String>),
}

/// The rule ids that have a fix.
pub(crate) fn fixable_rules() -> Vec<&'static str> {
    lint::catalogue()
        .into_iter()
        .filter(|r| r.autofix.is_some())
        .map(|r| r.id)
        .collect()
}

impl FixPolicy {
    /// Parses `--fix` (`all`) or `--fix=RULE,RULE`; unknown or unfixable ids are an error that lists the valid ones.
    pub fn parse(spec: &str) -> Result<FixPolicy, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "all" {
            return Ok(FixPolicy::All);
        }
        let valid = fixable_rules();
        let mut chosen = BTreeSet::new();
        for id in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !valid.contains(&id) {
                return Err(format!(
                    "`{id}` is not a rule auto-fix can repair; valid ids: {}",
                    valid.join(", ")
                ));
            }
            chosen.insert(id.to_string());
        }
        Ok(FixPolicy::Only(chosen))
    }

    /// Whether this policy repairs the findings of `rule`.
    pub fn enabled(&self, rule: &str) -> bool {
        match self {
            FixPolicy::Off => false,
            FixPolicy::All => true,
            FixPolicy::Only(rules) => rules.contains(rule),
        }
    }

    /// Whether auto-fix is off.
    pub fn is_off(&self) -> bool {
        matches!(self, FixPolicy::Off)
    }
}

/// Applies the enabled fixes carried by `findings` to a copy of `request`,
/// marks those findings `fixed`, and returns the new request with a record
/// of each rewrite. `None` when nothing was changed: the original request is
/// then forwarded untouched, byte for byte.
pub fn apply(
    request: &Request,
    findings: &mut [Finding],
    policy: &FixPolicy,
) -> Option<(Request, Vec<FixRecord>)> {
    if policy.is_off() {
        return None;
    }
    let mut fixed = request.clone();
    let mut records = Vec::new();
    let mut json: Option<serde_json::Value> = None;
    let mut body_changed = false;
    for finding in findings.iter_mut() {
        let Some(fix) = finding.fix.clone() else {
            continue;
        };
        if !policy.enabled(finding.rule.as_str()) || request.body.truncated && fix.touches_body() {
            continue;
        }
        let changed = match &fix {
            Fix::SetHeader { name, value } => set_header(&mut fixed, name, value),
            Fix::RenameHeader { from, to } => rename_header(&mut fixed, from, to),
            Fix::DedupeHeader { name } => dedupe_header(&mut fixed, name),
            Fix::StripBom => {
                let bytes = &fixed.body.bytes;
                if bytes.starts_with(b"\xEF\xBB\xBF") {
                    let before = format!("{} bytes starting EF BB BF", bytes.len());
                    fixed.body.bytes = bytes.slice(3..);
                    body_changed = true;
                    Some((before, format!("{} bytes", fixed.body.bytes.len())))
                } else {
                    None
                }
            }
            Fix::FormToJson => {
                let changed = form_to_json(&mut fixed, &mut json);
                body_changed |= changed.is_some();
                changed
            }
            Fix::BasicCredentialsToBody => {
                let changed = basic_credentials_to_body(&mut fixed, &mut json);
                body_changed |= changed.is_some();
                changed
            }
            Fix::SetJson { pointer, value } => {
                if json.is_none() {
                    json = fixed.body.json();
                }
                match json.as_mut().and_then(|j| j.pointer_mut(pointer)) {
                    Some(slot) if slot != value => {
                        let before = slot.to_string();
                        *slot = value.clone();
                        body_changed = true;
                        Some((before, value.to_string()))
                    }
                    _ => None,
                }
            }
        };
        if let Some((before, after)) = changed {
            finding.fixed = true;
            records.push(FixRecord {
                rule: finding.rule.clone(),
                location: finding.location.to_string(),
                before,
                after,
            });
        }
    }
    if records.is_empty() {
        return None;
    }
    if let Some(json) = json.filter(|_| body_changed) {
        fixed.body.bytes = Bytes::from(serde_json::to_vec(&json).unwrap_or_default());
    }
    if body_changed {
        fixed.body.size = fixed.body.bytes.len() as u64;
        // A repaired body that came compressed goes out as it is recorded:
        // decoded, without the coding's headers (no re-encoding to get wrong).
        crate::exchange::coding::send_decoded(&mut fixed.headers, &mut fixed.body);
        if fixed.headers.get("content-length").is_some() {
            let length = fixed.body.bytes.len().to_string();
            set_header(&mut fixed, "content-length", &length);
        }
    }
    Some((fixed, records))
}

/// Applies the enabled header fixes of response findings (Stremio's link
/// redirect): returns each header to set, with its record, and marks the
/// findings fixed. The logged response keeps the headers as received.
pub(crate) fn apply_to_response(
    findings: &mut [Finding],
    received: &crate::exchange::Headers,
    policy: &FixPolicy,
) -> Vec<(String, String, FixRecord)> {
    let mut out = Vec::new();
    for finding in findings.iter_mut() {
        if let (Some(Fix::SetHeader { name, value }), true) =
            (&finding.fix, policy.enabled(finding.rule.as_str()))
        {
            finding.fixed = true;
            out.push((
                name.clone(),
                value.clone(),
                FixRecord {
                    rule: finding.rule.clone(),
                    location: finding.location.to_string(),
                    before: format!("{name}: {}", received.get(name).unwrap_or("(absent)")),
                    after: format!("{name}: {value}"),
                },
            ));
        }
    }
    out
}

impl Fix {
    fn touches_body(&self) -> bool {
        matches!(
            self,
            Fix::StripBom | Fix::SetJson { .. } | Fix::FormToJson | Fix::BasicCredentialsToBody
        )
    }
}

/// [`Fix::FormToJson`]: the form's fields become `json`, the body's type JSON.
fn form_to_json(
    fixed: &mut Request,
    json: &mut Option<serde_json::Value>,
) -> Option<(String, String)> {
    // The body bytes stay the form until the end: the Basic credentials'
    // fix may have read them into `json` already.
    let fields = form_object(fixed)?;
    let count = fields.len();
    json.get_or_insert(serde_json::Value::Object(fields));
    set_header(fixed, "content-type", "application/json");
    Some((
        format!("a form-encoded body ({count} fields)"),
        format!("a JSON object of the same {count} fields, Content-Type: application/json"),
    ))
}

/// [`Fix::BasicCredentialsToBody`]: the Basic credentials become the body's
/// `client_id` and `client_secret`; the record names them, never their values.
fn basic_credentials_to_body(
    fixed: &mut Request,
    json: &mut Option<serde_json::Value>,
) -> Option<(String, String)> {
    if json.is_none() {
        *json = fixed
            .body
            .json()
            .or_else(|| form_object(fixed).map(serde_json::Value::Object));
    }
    let (id, secret) = fixed
        .headers
        .get("authorization")
        .and_then(lint::oauth::parse_basic)?;
    let object = json.as_mut()?.as_object_mut()?;
    object.insert("client_id".into(), id.into());
    object.insert("client_secret".into(), secret.into());
    fixed
        .headers
        .0
        .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
    Some((
        "Authorization: Basic (the client's id and secret)".into(),
        "no Authorization; client_id and client_secret in the JSON body".into(),
    ))
}

/// The fields of a form-encoded body (read as the lint reads one unlabelled).
fn form_object(request: &Request) -> Option<serde_json::Map<String, serde_json::Value>> {
    lint::oauth::parse_form(&request.body.bytes, false)
}

fn show(values: &[String]) -> String {
    if values.is_empty() {
        "(absent)".into()
    } else {
        values.join(", ")
    }
}

fn set_header(request: &mut Request, name: &str, value: &str) -> Option<(String, String)> {
    let headers = &mut request.headers.0;
    let before: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect();
    if let [only] = before.as_slice() {
        if only == value {
            return None;
        }
    }
    // The first field of that name takes the value; later ones go.
    let mut seen = false;
    headers.retain_mut(|(n, v)| {
        if !n.eq_ignore_ascii_case(name) {
            return true;
        }
        if seen {
            return false;
        }
        seen = true;
        *v = value.to_string();
        true
    });
    if !seen {
        headers.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Some((
        format!("{name}: {}", show(&before)),
        format!("{name}: {value}"),
    ))
}

fn rename_header(request: &mut Request, from: &str, to: &str) -> Option<(String, String)> {
    let headers = &mut request.headers.0;
    if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(to)) {
        return None;
    }
    let entry = headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(from))?;
    entry.0 = to.to_string();
    Some((format!("{from}: {}", entry.1), format!("{to}: {}", entry.1)))
}

fn dedupe_header(request: &mut Request, name: &str) -> Option<(String, String)> {
    let headers = &mut request.headers.0;
    let before = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .count();
    let mut seen: Vec<String> = Vec::new();
    headers.retain(|(n, v)| {
        if !n.eq_ignore_ascii_case(name) {
            return true;
        }
        if seen.contains(v) {
            return false;
        }
        seen.push(v.clone());
        true
    });
    let after = seen.len();
    (after < before).then(|| (format!("{name} ×{before}"), format!("{name} ×{after}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Headers};

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/scrobble/start".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(headers),
            body: Body::complete(Bytes::from(body.to_string())),
        }
    }

    fn run(req: &Request, policy: &FixPolicy) -> Option<(Request, Vec<FixRecord>, Vec<Finding>)> {
        let mut findings = lint::check(req, time::OffsetDateTime::UNIX_EPOCH);
        apply(req, &mut findings, policy).map(|(r, f)| (r, f, findings))
    }

    const GOOD: &[(&str, &str)] = &[
        ("user-agent", "A/1"),
        (
            "trakt-api-key",
            "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
        ),
        ("trakt-api-version", "2"),
        ("authorization", "Bearer abc"),
        ("content-type", "application/json"),
    ];

    #[test]
    fn an_rfc6749_token_request_becomes_the_json_trakt_reads() {
        // What requests-oauthlib sends: a form body and Basic client credentials.
        let basic = "Basic MGU4NjFmNTJjNzM2NWVmZTZkYTVlYTNlMmU2NjQxYjhkMjVkODdhY2EzMTMzZThkNGY3ZGM4NDg3MzY4ZDE0YjpzM2NyM3Q=";
        let mut req = request(
            &[
                ("user-agent", "A/1"),
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", basic),
            ],
            "grant_type=refresh_token&refresh_token=r%2B1&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob",
        );
        req.url = "https://api.trakt.tv/oauth/token".into();
        let (fixed, records, findings) = run(&req, &FixPolicy::All).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&fixed.body.bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "grant_type": "refresh_token",
                "refresh_token": "r+1",
                "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
                "client_id": "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
                "client_secret": "s3cr3t",
            })
        );
        assert_eq!(fixed.headers.get("content-type"), Some("application/json"));
        assert_eq!(fixed.headers.get("authorization"), None);
        assert!(findings.iter().all(|f| f.fixed), "{findings:?}");
        let said = format!("{records:?}");
        assert!(!said.contains("s3cr3t") && !said.contains("r+1"), "{said}");
        // Fixed, the request is what Trakt wants: nothing left to find.
        assert!(run(&fixed, &FixPolicy::All).is_none());
        assert!(lint::check(&fixed, time::OffsetDateTime::UNIX_EPOCH).is_empty());
    }

    #[test]
    fn a_clean_request_is_not_touched() {
        let req = request(GOOD, r#"{"movie":{"ids":{"trakt":28}},"progress":10}"#);
        assert!(run(&req, &FixPolicy::All).is_none());
        let broken = request(
            &GOOD[1..],
            r#"{"movie":{"ids":{"trakt":28}},"progress":10}"#,
        );
        assert!(run(&broken, &FixPolicy::Off).is_none());
    }

    #[test]
    fn body_fixes_recompute_content_length_and_mark_findings() {
        let mut headers = GOOD.to_vec();
        headers.push(("content-length", "52"));
        let req = request(
            &headers,
            "\u{feff}{\"movie\":{\"ids\":{\"trakt\":\"28\"}},\"progress\":10}",
        );
        let (fixed, records, findings) = run(&req, &FixPolicy::All).unwrap();
        assert_eq!(
            &fixed.body.bytes[..],
            br#"{"movie":{"ids":{"trakt":28}},"progress":10}"#
        );
        assert_eq!(
            fixed.headers.get("content-length"),
            Some(fixed.body.bytes.len().to_string().as_str())
        );
        let rules: Vec<&str> = records.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(rules, ["body.json.bom", "body.number.string"]);
        assert!(findings.iter().all(|f| f.fixed));
    }

    #[test]
    fn header_fixes_keep_other_headers_in_place() {
        let req = request(
            &[
                (
                    "trakt_api_key",
                    "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
                ),
                ("authorization", "bearer  abc"),
                ("x-other", "1"),
            ],
            "",
        );
        let (fixed, records, _) = run(&req, &FixPolicy::All).unwrap();
        assert_eq!(fixed.headers.0[0].0, "trakt-api-key");
        assert_eq!(fixed.headers.get("authorization"), Some("Bearer abc"));
        assert_eq!(fixed.headers.get("x-other"), Some("1"));
        assert_eq!(fixed.headers.get("trakt-api-version"), Some("2"));
        assert!(fixed
            .headers
            .get("user-agent")
            .unwrap()
            .starts_with("trakt-doctor-autofix/"));
        assert!(records
            .iter()
            .any(|r| r.before == "trakt-api-version: (absent)"));
    }

    #[test]
    fn only_enabled_rules_are_applied() {
        let policy = FixPolicy::parse("header.api-version.missing").unwrap();
        let req = request(&GOOD[..0], "");
        let (fixed, records, findings) = run(&req, &policy).unwrap();
        assert_eq!(records.len(), 1);
        assert!(fixed.headers.get("user-agent").is_none());
        assert!(findings
            .iter()
            .any(|f| f.rule == "header.user-agent.missing" && !f.fixed));
        assert!(FixPolicy::parse("route.unknown").is_err());
    }
}
