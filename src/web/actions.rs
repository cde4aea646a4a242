//! The web view's actions on one exchange: resend it (as captured, with
//! auto-fix's repairs, or as the user edited it) through the proxy's resend
//! engine, say beforehand what a write will change and which secrets a
//! record lacks, lint a draft without sending it (the edit form's findings
//! as the user types), copy it as a curl command, and the shareable
//! Markdown report. Each is a POST that [`super::action`] has already
//! checked (the start link's unlock cookie, token, origin, loopback
//! client): whoever may act here is the person who started the proxy, not
//! any process on this computer.
//!
//! The page only ever sees redacted records: the secrets a resend needs
//! come from the live original the engine keeps in memory, or from the
//! user, by name, for a record whose original is gone.

use http::{Response, StatusCode};
use serde::Deserialize;
use time::OffsetDateTime;

use super::store::{Corrupt, WebStore};
use super::WebContext;
use crate::exchange::{Body, Exchange, Headers, Request};
use crate::fix::FixPolicy;
use crate::proxy::resend::ResendOptions;
use crate::resend::{self as plan, Edits, Refusal, SecretKind, Secrets};
use crate::respond::{self, ProxyBody, JSON, TEXT};
use crate::share::report::{self, Selection};

/// Whether `path` is one of these actions.
pub(super) fn handles(path: &str) -> bool {
    path == "/api/lint" || exchange_action(path).is_some()
}

/// `/api/exchanges/{id}/{verb}` as (id, verb).
fn exchange_action(path: &str) -> Option<(u64, &str)> {
    let rest = path.strip_prefix("/api/exchanges/")?;
    let (id, verb) = rest.split_once('/')?;
    let id = id.parse().ok()?;
    matches!(verb, "report" | "prepare" | "resend" | "curl").then_some((id, verb))
}

/// The answer to one of these actions, `None` when `path` is not one.
pub(super) async fn answer(
    web: &WebContext,
    path: &str,
    body: &[u8],
) -> Option<Response<ProxyBody>> {
    if path == "/api/lint" {
        return Some(lint(body));
    }
    let (id, verb) = exchange_action(path)?;
    Some(match verb {
        "report" => report(web, id).await,
        "prepare" => prepare(web, id, body),
        "resend" => resend(web, id, body).await,
        "curl" => curl(web, id, body).await,
        _ => not_found(),
    })
}

/// Runs `work` on tokio's blocking pool, off the async workers that serve
/// the proxied traffic and the web view: copy as curl and the report take
/// time that grows with the records (a large body, every stored exchange),
/// and none of it may hold up a worker.
async fn off_the_workers(
    work: impl FnOnce() -> Response<ProxyBody> + Send + 'static,
) -> Response<ProxyBody> {
    match tokio::task::spawn_blocking(work).await {
        Ok(answer) => answer,
        Err(failed) => respond::web(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            format!("the work did not finish: {failed}\n"),
        ),
    }
}

fn not_found() -> Response<ProxyBody> {
    respond::web(
        StatusCode::NOT_FOUND,
        TEXT,
        "no such exchange (it may have been cleared)\n",
    )
}

fn bad_request(why: &str) -> Response<ProxyBody> {
    respond::web(StatusCode::BAD_REQUEST, TEXT, format!("{why}\n"))
}

/// A request as the edit form holds it: header fields in order, the body as text.
#[derive(Debug, Deserialize)]
pub(super) struct Draft {
    pub(super) method: String,
    pub(super) url: String,
    #[serde(default)]
    pub(super) headers: Vec<(String, String)>,
    #[serde(default)]
    pub(super) body: String,
}

impl Draft {
    /// The request, when the method is a token and the URL absolute http(s).
    pub(super) fn request(self) -> Result<Request, String> {
        let method = self.method.trim().to_ascii_uppercase();
        if method.is_empty() || http::Method::from_bytes(method.as_bytes()).is_err() {
            return Err(format!("`{}` is not an HTTP method", self.method));
        }
        let url = self.url.trim().to_string();
        let uri: http::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
            return Err(format!("`{url}` is not an absolute http(s) URL"));
        }
        let mut headers = Vec::new();
        for (name, value) in self.headers {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(&value).is_err()
            {
                return Err(format!("the header `{name}` is not a valid header field"));
            }
            headers.push((name, value));
        }
        Ok(Request {
            method,
            url,
            http_version: "HTTP/1.1".into(),
            headers: Headers(headers),
            body: Body::complete(bytes::Bytes::from(self.body)),
        })
    }
}

/// The request as the form shows it again (the repaired one).
fn draft_json(request: &Request) -> serde_json::Value {
    serde_json::json!({
        "method": request.method,
        "url": request.url,
        "headers": request.headers.0,
        "body": String::from_utf8_lossy(&request.body.bytes),
    })
}

/// Lints a draft without sending it: its findings, and what auto-fix
/// would repair (the repaired request). Findings against the session (a
/// spent refresh token) come with the resend itself, which records them.
fn lint(body: &[u8]) -> Response<ProxyBody> {
    let draft = match serde_json::from_slice::<Draft>(body) {
        Ok(draft) => draft,
        Err(e) => return bad_request(&format!("expected {{method, url, headers, body}}: {e}")),
    };
    let request = match draft.request() {
        Ok(request) => request,
        Err(why) => return bad_request(&why),
    };
    let mut findings = crate::lint::check(&request, OffsetDateTime::now_utc());
    let repaired = crate::fix::apply(&request, &mut findings, &FixPolicy::All);
    let (repaired, fixes) = match repaired {
        Some((repaired, fixes)) => (Some(draft_json(&repaired)), fixes),
        None => (None, Vec::new()),
    };
    let answer = serde_json::json!({
        "findings": findings,
        "fixes": fixes,
        "repaired": repaired,
    });
    respond::web(StatusCode::OK, JSON, answer.to_string())
}

/// `/api/exchanges/{id}/repairs` as the id.
pub(super) fn repairs_path(path: &str) -> Option<u64> {
    path.strip_prefix("/api/exchanges/")?
        .strip_suffix("/repairs")?
        .parse()
        .ok()
}

/// What "Resend with fixes" would repair in exchange `id`, as its
/// preview does (on the redacted record, so the page sees no secret):
/// the page names the repairs beside the diagnosis and marks the findings
/// they settle. A read, not an action: nothing is sent.
pub(super) fn repairs(web: &WebContext, id: u64) -> Response<ProxyBody> {
    let record = match record(&web.store, id) {
        Ok(record) => record,
        Err(why) => return unavailable(why),
    };
    let repairs = plan::with_fixes(&record.request, OffsetDateTime::now_utc()).1;
    respond::web(
        StatusCode::OK,
        JSON,
        serde_json::json!({ "repairs": repairs }).to_string(),
    )
}

/// What the curl menu asks for.
#[derive(Debug, Deserialize)]
struct CurlAsk {
    /// `posix` or `powershell`.
    #[serde(default)]
    shell: String,
    /// The request with auto-fix's repairs.
    #[serde(default)]
    fixed: bool,
    /// The captured secrets themselves instead of environment variables.
    #[serde(default)]
    reveal: bool,
}

/// Copy as curl: the command for the exchange (or its repaired version),
/// secrets as environment variables unless the user asks for the values,
/// which only a live exchange's original has. The record is read, repaired
/// and written as a command off the async workers.
async fn curl(web: &WebContext, id: u64, body: &[u8]) -> Response<ProxyBody> {
    let ask = match serde_json::from_slice::<CurlAsk>(body) {
        Ok(ask) => ask,
        Err(e) => return bad_request(&format!("expected {{shell, fixed, reveal}}: {e}")),
    };
    let shell = match ask.shell.as_str() {
        "posix" | "" => crate::curl::Shell::Posix,
        "powershell" => crate::curl::Shell::PowerShell,
        other => return bad_request(&format!("`{other}` is not a shell: posix or powershell")),
    };
    let store = std::sync::Arc::clone(&web.store);
    let resender = std::sync::Arc::clone(&web.resender);
    off_the_workers(move || {
        // The live original, unpacked here too: it may be large.
        let original = resender.originals().get(id);
        curl_command(&store, id, original, &ask, shell)
    })
    .await
}

/// [`curl`]'s work: the stored record (or the live `original`), repaired
/// when asked, as a command.
fn curl_command(
    store: &WebStore,
    id: u64,
    original: Option<Request>,
    ask: &CurlAsk,
    shell: crate::curl::Shell,
) -> Response<ProxyBody> {
    let record = match record(store, id) {
        Ok(record) => record,
        Err(why) => return unavailable(why),
    };
    let request = match original {
        Some(original) => original,
        None if ask.reveal => {
            return conflict(&serde_json::json!({
                "error": "the captured secrets of this exchange are no longer in memory: the command can only name them as environment variables",
            }))
        }
        // The record's fingerprints become variables.
        None => record.request,
    };
    let request = if ask.fixed {
        plan::with_fixes(&request, OffsetDateTime::now_utc()).0
    } else {
        request
    };
    match crate::curl::command(&request, shell, ask.reveal) {
        Ok(command) => respond::web(StatusCode::OK, "text/plain; charset=utf-8", command),
        Err(why) => conflict(&serde_json::json!({ "error": why })),
    }
}

/// The Markdown report of one stored exchange, with its resends, made off
/// the async workers (it reads every stored exchange).
async fn report(web: &WebContext, id: u64) -> Response<ProxyBody> {
    let store = std::sync::Arc::clone(&web.store);
    off_the_workers(move || {
        // Every fingerprint becomes a placeholder, so any key will do.
        let redactor = crate::redact::Redactor::random();
        let ids = [id];
        let mut builder = report::Builder::new(Selection::Ids(&ids), &redactor, false);
        for exchange in store.exchanges() {
            builder.push(&exchange);
        }
        match builder.finish() {
            Ok(built) => respond::web(
                StatusCode::OK,
                "text/markdown; charset=utf-8",
                built.markdown,
            ),
            Err(_) => not_found(),
        }
    })
    .await
}

/// What the page asks to resend.
#[derive(Debug, Deserialize)]
struct Ask {
    /// `captured`, `fixed` or `edited`.
    #[serde(default)]
    mode: String,
    /// The edited request (mode `edited`), as the form holds it.
    #[serde(default)]
    draft: Option<Draft>,
    /// Secret values the user typed, by kind id (`access_token`).
    #[serde(default)]
    secrets: std::collections::BTreeMap<String, String>,
    /// The user confirmed the write.
    #[serde(default)]
    confirmed: bool,
    /// Send a spent OAuth code or refresh token anyway.
    #[serde(default)]
    force: bool,
}

/// The stored (redacted) record of exchange `id`: `Err(None)` when there is
/// none, `Err(Some(_))` when it cannot be read back.
fn record(store: &WebStore, id: u64) -> Result<Exchange, Option<Corrupt>> {
    match store.full(id) {
        Some(Ok(full)) => serde_json::from_str(full.as_str()).map_err(|_| None),
        Some(Err(corrupt)) => Err(Some(corrupt)),
        None => Err(None),
    }
}

/// The answer when [`record`] has none: 404, or 500 with the reason.
fn unavailable(why: Option<Corrupt>) -> Response<ProxyBody> {
    match why {
        None => not_found(),
        Some(corrupt) => respond::web(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            format!("{corrupt}\n"),
        ),
    }
}

/// The request a resend of `record` sends, before auto-fix: from the live
/// original (or the record and the user's secrets), edited when asked.
fn planned(web: &WebContext, record: &Exchange, ask: Ask) -> Result<Request, Refusal> {
    let mut secrets = Secrets::new();
    for (id, value) in ask.secrets {
        let kind = SecretKind::parse(&id).ok_or_else(|| {
            Refusal::Invalid(format!("`{id}` is not a secret trakt-doctor knows"))
        })?;
        if !value.is_empty() {
            secrets.set(kind, value);
        }
    }
    let edits = Edits {
        headers: Vec::new(),
        secrets,
    };
    let live = web.resender.originals().get(record.id).is_some();
    if ask.mode != "edited" && live {
        return web.resender.plan(record.id, Some(&record.request), &edits);
    }
    let request = if ask.mode == "edited" {
        let draft = ask
            .draft
            .ok_or_else(|| Refusal::Invalid("an edited resend needs the edited request".into()))?;
        let edited = draft.request().map_err(Refusal::Invalid)?;
        ensure_intercepted(web, &edited, &record.request)?;
        edited
    } else {
        record.request.clone()
    };
    // The draft shows fingerprints where the secrets were: the live original
    // still has them; the rest are asked for by name.
    let known = known_secrets(web, record);
    plan::prepare(
        &plan::restore_in_place(request, &record.request, &known),
        &edits,
    )
}

/// An edited request goes only to a host this proxy intercepts, over https,
/// on the port the original went to: the secrets put back into it were
/// captured there and must not leave for another host, or in clear, because
/// a URL was edited.
fn ensure_intercepted(
    web: &WebContext,
    request: &Request,
    original: &Request,
) -> Result<(), Refusal> {
    let port = original
        .uri()
        .filter(|u| u.scheme_str() == Some("https"))
        .and_then(|u| u.port_u16())
        .unwrap_or(443);
    let allowed: Vec<plan::SecretOrigin> = web
        .intercepted
        .iter()
        .map(|h| plan::SecretOrigin {
            host: h.as_str().to_ascii_lowercase(),
            port,
        })
        .collect();
    plan::ensure_secret_destination(request, &allowed)
}

/// The secrets the live original of `record` holds, by fingerprint (the
/// engine keeps a resend's own request too); none once it was evicted.
fn known_secrets(web: &WebContext, record: &Exchange) -> std::collections::HashMap<String, String> {
    web.resender
        .originals()
        .get(record.id)
        .map(|original| secrets_by_fingerprint(&original, &web.redactor))
        .unwrap_or_default()
}

/// The refusal as the page shows it: the message, and for missing secrets
/// the fields to ask for.
fn refusal_json(refusal: &Refusal) -> serde_json::Value {
    let missing: Vec<serde_json::Value> = match refusal {
        Refusal::MissingSecrets(needed) => {
            let mut seen = Vec::new();
            needed
                .iter()
                .filter(|n| {
                    // `seen` holds each kind once: a handful, whatever the count of secrets.
                    let new = !seen.contains(&n.kind);
                    if new {
                        seen.push(n.kind);
                    }
                    new
                })
                .map(|n| {
                    serde_json::json!({
                        "id": n.kind.id(),
                        "name": n.kind.name(),
                        "place": n.place.to_string(),
                        // A cookie or another scheme: only a whole header can replace it.
                        "byName": n.kind != SecretKind::Credential,
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    };
    serde_json::json!({
        "error": refusal.to_string(),
        "missing": missing,
        "spent": matches!(refusal, Refusal::Spent(_)),
    })
}

fn ask_of(body: &[u8]) -> Result<Ask, String> {
    serde_json::from_slice::<Ask>(body)
        .map_err(|e| format!("expected {{mode, draft, secrets, confirmed}}: {e}"))
}

/// A resend's ask and the record it resends, or the answer why not (400
/// for a malformed ask, then 404 or 500 as [`unavailable`] says).
fn ask_and_record(
    web: &WebContext,
    id: u64,
    body: &[u8],
) -> Result<(Ask, Exchange), Box<Response<ProxyBody>>> {
    let ask = ask_of(body).map_err(|why| Box::new(bad_request(&why)))?;
    let record = record(&web.store, id).map_err(|why| Box::new(unavailable(why)))?;
    Ok((ask, record))
}

/// What a resend will do, before it is sent: the request line, whether it
/// is a write and what it changes, the repairs (mode `fixed`), or why it
/// cannot go yet (the secrets to ask for).
fn prepare(web: &WebContext, id: u64, body: &[u8]) -> Response<ProxyBody> {
    let (ask, record) = match ask_and_record(web, id, body) {
        Ok(both) => both,
        Err(answer) => return *answer,
    };
    let fixed = ask.mode == "fixed";
    // The preview is made on the redacted request: the page never sees a secret.
    let shown = match &ask.draft {
        Some(draft) if ask.mode == "edited" => Draft {
            method: draft.method.clone(),
            url: draft.url.clone(),
            headers: draft.headers.clone(),
            body: draft.body.clone(),
        }
        .request()
        .unwrap_or_else(|_| record.request.clone()),
        _ => record.request.clone(),
    };
    let fixes = if fixed {
        plan::with_fixes(&shown, OffsetDateTime::now_utc()).1
    } else {
        Vec::new()
    };
    let change = plan::describe_write(&shown);
    let mut answer = serde_json::json!({
        "draft": {"method": shown.method, "url": shown.url},
        "write": change.is_some(),
        "change": change,
        "fixes": fixes,
        "missing": [],
        "refusal": null,
    });
    if let Err(refusal) = planned(web, &record, ask) {
        let json = refusal_json(&refusal);
        answer["missing"] = json["missing"].clone();
        if !matches!(refusal, Refusal::MissingSecrets(_)) {
            answer["refusal"] = json["error"].clone();
        }
    }
    respond::web(StatusCode::OK, JSON, answer.to_string())
}

/// Sends the resend and answers with the new exchange's record, once the
/// log has it (the side-by-side view needs it).
async fn resend(web: &WebContext, id: u64, body: &[u8]) -> Response<ProxyBody> {
    let (ask, record) = match ask_and_record(web, id, body) {
        Ok(both) => both,
        Err(answer) => return *answer,
    };
    let (confirmed, force, fix) = (ask.confirmed, ask.force, ask.mode == "fixed");
    let request = match planned(web, &record, ask) {
        Ok(request) => request,
        Err(refusal) => return conflict(&refusal_json(&refusal)),
    };
    if let Some(change) = plan::describe_write(&request).filter(|_| !confirmed) {
        return conflict(&serde_json::json!({
            "error": format!("{change} Confirm to send it."),
            "confirm": true,
        }));
    }
    let resent = match web
        .resender
        .send(id, request, ResendOptions { fix, force })
        .await
    {
        Ok(resent) => resent,
        Err(refusal) => return conflict(&refusal_json(&refusal)),
    };
    // The record reaches the store through the log writer: wait for it a little.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let full = loop {
        if let Some(full) = web.store.full(resent.id) {
            break Some(full);
        }
        if tokio::time::Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let exchange: serde_json::Value = full
        .and_then(Result::ok)
        .and_then(|f| serde_json::from_str(f.as_str()).ok())
        .unwrap_or(serde_json::Value::Null);
    let answer = serde_json::json!({
        "id": resent.id,
        "replay_of": resent.replay_of,
        "status": resent.status,
        "error": resent.error,
        "exchange": exchange,
    });
    respond::web(StatusCode::OK, JSON, answer.to_string())
}

fn conflict(answer: &serde_json::Value) -> Response<ProxyBody> {
    respond::web(StatusCode::CONFLICT, JSON, answer.to_string())
}

/// The secrets of `original` by their fingerprint under `redactor`: every
/// piece of it the redaction may have fingerprinted (a credential after its
/// scheme, a cookie value, URL credentials, a query, form or JSON string
/// value), as the raw text it was. An edited draft shows fingerprints where
/// the secrets were; putting these back restores them byte for byte.
pub(super) fn secrets_by_fingerprint(
    original: &Request,
    redactor: &crate::redact::Redactor,
) -> std::collections::HashMap<String, String> {
    /// Enough for any request a client sends; a huge body is not searched past it.
    const MAX_CANDIDATES: usize = 4096;
    let mut candidates: Vec<&str> = Vec::new();
    fn pieces(text: &str) -> Vec<&str> {
        let trimmed = text.trim();
        let mut found: Vec<&str> = vec![trimmed];
        found.extend(
            trimmed
                .split_once(char::is_whitespace)
                .map(|(_, rest)| rest.trim()),
        );
        found.extend(
            trimmed
                .split(['"', '\\', '&', '=', '?', '#', ';', '/', ','])
                .map(str::trim),
        );
        // A JSON string's raw content (escapes kept), which may hold spaces and quotes.
        let bytes = trimmed.as_bytes();
        let mut open: Option<usize> = None;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match (b, open) {
                (b'\\', Some(_)) => i += 1,
                (b'"', Some(start)) => {
                    found.extend(trimmed.get(start + 1..i));
                    open = None;
                }
                (b'"', None) => open = Some(i),
                _ => {}
            }
            i += 1;
        }
        // URL credentials, `user:password` before the host.
        if let Some((_, rest)) = trimmed.split_once("://") {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            found.extend(authority.rsplit_once('@').map(|(userinfo, _)| userinfo));
        }
        found
    }
    let mut texts: Vec<&str> = vec![&original.url];
    texts.extend(original.headers.iter().map(|(_, value)| value));
    texts.extend(original.body.text());
    for text in texts {
        for piece in pieces(text) {
            if !piece.is_empty() && candidates.len() < MAX_CANDIDATES {
                candidates.push(piece);
            }
        }
    }
    candidates
        .into_iter()
        .map(|value| (redactor.fingerprint(value), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;

    #[tokio::test(flavor = "current_thread")]
    async fn curl_and_report_work_leaves_the_async_worker_free() {
        // One worker: were the work run on it, the task that lets the work
        // finish could not run until the work gave up waiting.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::current().id();
        let work = tokio::spawn(off_the_workers(move || {
            let released = wait
                .recv_timeout(std::time::Duration::from_secs(10))
                .is_ok();
            let status = if released && std::thread::current().id() != worker {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            respond::web(status, TEXT, "")
        }));
        tokio::task::yield_now().await;
        go.send(()).unwrap();
        assert_eq!(work.await.unwrap().status(), StatusCode::OK);
    }

    #[test]
    fn a_redacted_request_gets_its_secrets_back_from_the_original() {
        let redactor = Redactor::new(b"install key");
        let original = Request {
            method: "POST".into(),
            url: "https://bob:pass%20word@api.trakt.tv/oauth/token?code=c0de&state=s#access_token=fr4g".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("authorization", "Bearer t0ken-1"),
                ("cookie", "a=c00kie; b=2"),
                ("content-type", "application/json"),
            ]),
            body: Body::complete(bytes::Bytes::from_static(
                br#"{"refresh_token":"r3fresh","client_secret":"with space \"q\"","nested":"{\"authKey\":\"k3y\"}"}"#,
            )),
        };
        let mut ex: crate::exchange::Exchange = serde_json::from_value(serde_json::json!({
            "id": 1, "started_at": "2026-01-01T00:00:00Z", "duration_ms": 1.0,
            "request": original, "response": null,
        }))
        .unwrap();
        redactor.exchange(&mut ex);
        let redacted = ex.request;
        assert!(redacted
            .headers
            .get("authorization")
            .unwrap()
            .contains("sha256:"));
        let known = secrets_by_fingerprint(&original, &redactor);
        let restored = plan::restore_in_place(redacted.clone(), &redacted, &known);
        assert_eq!(restored.url, original.url);
        for ((name, value), (_, was)) in restored.headers.iter().zip(original.headers.iter()) {
            assert_eq!(value, was, "{name}");
        }
        assert_eq!(restored.body.text(), original.body.text());

        // A fingerprint moved to another place (a custom header, the path,
        // another JSON key) stays a fingerprint: no secret goes where the
        // redactor would not look for it in the new record.
        let bearer = redacted.headers.get("authorization").unwrap().to_string();
        let fingerprint = bearer.trim_start_matches("Bearer ").to_string();
        let mut moved = redacted.clone();
        moved
            .headers
            .0
            .push(("x-debug".into(), fingerprint.clone()));
        moved.url = format!("https://api.trakt.tv/users/{fingerprint}/history");
        moved.body = Body::complete(bytes::Bytes::from(format!(r#"{{"note":"{fingerprint}"}}"#)));
        let restored = plan::restore_in_place(moved, &redacted, &known);
        assert_eq!(restored.headers.get("x-debug"), Some(fingerprint.as_str()));
        assert_eq!(
            restored.headers.get("authorization"),
            Some("Bearer t0ken-1")
        );
        assert!(restored.url.contains(&fingerprint) && !restored.url.contains("t0ken-1"));
        assert!(!restored.body.text().unwrap().contains("t0ken-1"));
    }
}
