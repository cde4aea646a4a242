//! The inspection pipeline shared by the proxy and the offline linter:
//! lint a request (alone and against the session so far), auto-fix it,
//! check the response head, then, once the exchange is finished, diagnose
//! it and let the session learn from it.
//!
//! Every stage runs guarded: a bug in one (a panic) becomes an
//! `internal.inspection.failed` finding on that exchange instead of taking
//! the exchange down, so the request is still forwarded untouched, the
//! record is still written, and the offline linter goes on to the next entry.
//! This relies on panics unwinding (the default; `panic = "abort"` would
//! defeat it).
//!
//! Pure apart from the mutex that serialises the session.
use std::any::Any;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::diagnose;
use crate::exchange::{Exchange, Headers, Request};
use crate::fix::{self, FixPolicy};
use crate::lint::internal::INTERNAL;
use crate::lint::{self, headers, stremio};
use crate::redact::Redactor;
use crate::report::{Finding, FixRecord, Severity};
use crate::session::Session;
use crate::spec::trakt;

/// A response header auto-fix sets: `(name, value, record)`.
pub type HeaderFix = (String, String, FixRecord);

/// What the inspection of a request decides before it is sent.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Findings on the request, alone and against the session so far
    /// (those auto-fix repaired are marked fixed).
    pub findings: Vec<Finding>,
    /// What auto-fix changed, before and after.
    pub fixes: Vec<FixRecord>,
    /// The repaired request when auto-fix changed it; `None` sends the
    /// request as it came.
    pub repaired: Option<Request>,
}

/// Runs one stage of the inspection; a panic in it becomes an
/// [`INTERNAL`] finding that names the stage and the panic message.
fn guarded<T>(stage: &str, run: impl FnOnce() -> T) -> Result<T, Box<Finding>> {
    panic::catch_unwind(AssertUnwindSafe(run)).map_err(|payload| {
        Box::new(INTERNAL.finding(
            "/",
            format!(
                "trakt-doctor's {stage} failed on this exchange and was skipped ({}); the exchange was not changed. This is a bug in trakt-doctor: please report it",
                panic_message(payload.as_ref())
            ),
        ))
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[derive(Debug, Default)]
pub struct Inspector {
    session: Mutex<Session>,
    /// User-Agents already told they are a library default: said once per
    /// client and session, not on every exchange.
    generic_agents: Mutex<HashSet<String>>,
    /// Every stage skipped: nothing found, fixed, learnt or diagnosed. Only
    /// for measuring what the checks cost (the benchmark's `unchecked` route);
    /// absent from builds without the `without-checks` feature.
    #[cfg(feature = "without-checks")]
    checks_off: bool,
}

/// How many distinct generic User-Agents are remembered; past it, each is said again.
const MAX_REMEMBERED_AGENTS: usize = 1024;

impl Inspector {
    /// An inspector whose findings fingerprint tokens with a key of this run only.
    pub fn new() -> Self {
        Inspector::default()
    }

    /// An inspector whose findings fingerprint tokens with `redactor`'s key
    /// (the per-install key), as the redacted records do.
    pub fn with_redactor(redactor: Redactor) -> Self {
        Inspector {
            session: Mutex::new(Session::with_redactor(redactor)),
            generic_agents: Mutex::default(),
            #[cfg(feature = "without-checks")]
            checks_off: false,
        }
    }

    /// This inspector with every stage skipped: requests and answers pass
    /// unjudged, the session learns nothing, nothing is diagnosed. Only for
    /// measuring what the checks cost (feature `without-checks`).
    #[cfg(feature = "without-checks")]
    pub fn without_checks(mut self) -> Self {
        self.checks_off = true;
        self
    }

    /// Whether every stage is skipped ([`Inspector::without_checks`]).
    #[cfg(feature = "without-checks")]
    #[inline]
    fn checks_off(&self) -> bool {
        self.checks_off
    }

    /// Never, in a build without the switch: the branches fold away.
    #[cfg(not(feature = "without-checks"))]
    #[inline(always)]
    fn checks_off(&self) -> bool {
        false
    }

    /// The session, also after a stage panicked while holding it: that
    /// exchange's update may be partial, but later exchanges are still judged.
    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The whole inspection of a request about to be sent at `at`: lint,
    /// session checks, then auto-fix under `policy`. Each stage is guarded.
    pub fn prepare(&self, request: &Request, at: OffsetDateTime, policy: &FixPolicy) -> Prepared {
        let mut findings = self.request(request, at);
        let (repaired, fixes) = match self.fix(request, &mut findings, policy) {
            Some((repaired, fixes)) => (Some(repaired), fixes),
            None => (None, Vec::new()),
        };
        Prepared {
            findings,
            fixes,
            repaired,
        }
    }

    /// The spent single-use secrets a request would send again (see
    /// [`Session::spent`]); records nothing.
    pub fn spent(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        if self.checks_off() {
            return Vec::new();
        }
        guarded("session check", || self.session().spent(request, at)).unwrap_or_else(|f| vec![*f])
    }

    /// How long a write must wait to keep one write per second (see [`Session::write_wait`]).
    pub fn write_wait(&self, request: &Request, at: OffsetDateTime) -> time::Duration {
        if self.checks_off() {
            return time::Duration::ZERO;
        }
        guarded("session check", || self.session().write_wait(request, at)).unwrap_or_default()
    }

    /// Findings for a request about to be sent at `at`.
    pub fn request(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        self.request_with(request, at, lint::check)
    }

    /// [`Inspector::request`] with the linter as a parameter (tests inject a failing one).
    fn request_with(
        &self,
        request: &Request,
        at: OffsetDateTime,
        check: impl FnOnce(&Request, OffsetDateTime) -> Vec<Finding>,
    ) -> Vec<Finding> {
        let mut findings = self.lint_with(request, at, check);
        findings.extend(self.session_check(request, at));
        findings
    }

    /// The request's own findings (lint, generic agents said once): the
    /// first part of [`Inspector::request`]. Needs no session, so it may
    /// run after the request was sent when nothing is to be fixed.
    pub fn lint_request(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        self.lint_with(request, at, lint::check)
    }

    fn lint_with(
        &self,
        request: &Request,
        at: OffsetDateTime,
        check: impl FnOnce(&Request, OffsetDateTime) -> Vec<Finding>,
    ) -> Vec<Finding> {
        if self.checks_off() {
            return Vec::new();
        }
        guarded("lint", || {
            let mut findings = check(request, at);
            self.once_per_agent(request, &mut findings);
            findings
        })
        .unwrap_or_else(|f| vec![*f])
    }

    /// The request judged against the session so far (which learns it):
    /// the second part of [`Inspector::request`], in the order requests arrive.
    pub fn session_check(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
        if self.checks_off() {
            return Vec::new();
        }
        match guarded("session check", || {
            self.session().observe_request(request, at)
        }) {
            Ok(findings) => findings,
            Err(failed) => vec![*failed],
        }
    }

    fn once_per_agent(&self, request: &Request, findings: &mut Vec<Finding>) {
        let rule = &headers::USER_AGENT_GENERIC;
        if !findings.iter().any(|f| f.is(rule)) {
            return;
        }
        let agent = request
            .headers
            .get("user-agent")
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut seen = self
            .generic_agents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.contains(&agent) {
            findings.retain(|f| !f.is(rule));
        } else if seen.len() < MAX_REMEMBERED_AGENTS {
            seen.insert(agent);
        }
    }

    /// Auto-fix under `policy`: the repaired request and what was done, or
    /// `None` to send the request as it is (also when the fixer failed: then
    /// `findings` gains an internal finding and keeps its other marks).
    pub fn fix(
        &self,
        request: &Request,
        findings: &mut Vec<Finding>,
        policy: &FixPolicy,
    ) -> Option<(Request, Vec<FixRecord>)> {
        if policy.is_off() {
            return None;
        }
        // The usual case on the request's path: nothing this policy would
        // fix. Then neither the findings nor the request (which fixing
        // copies whole) are copied: `fix::apply` would return `None`.
        if !findings
            .iter()
            .any(|f| f.fix.is_some() && policy.enabled(f.rule.as_str()))
        {
            return None;
        }
        // Fixing marks findings as fixed; a failure half-way must not leave such marks.
        let mut attempt = findings.clone();
        match guarded("auto-fix", || fix::apply(request, &mut attempt, policy)) {
            Ok(result) => {
                *findings = attempt;
                result
            }
            Err(failed) => {
                findings.push(*failed);
                None
            }
        }
    }

    /// Findings on a response head, and the header repairs auto-fix makes
    /// under `policy` (none when a stage failed).
    pub fn response_head(
        &self,
        request: &Request,
        status: u16,
        headers: &Headers,
        policy: &FixPolicy,
    ) -> (Vec<Finding>, Vec<HeaderFix>) {
        if self.checks_off() {
            return (Vec::new(), Vec::new());
        }
        guarded("response check", || {
            let mut findings = stremio::check_response_head(request, status, headers);
            let fixes = fix::apply_to_response(&mut findings, headers, policy);
            (findings, fixes)
        })
        .unwrap_or_else(|failed| (vec![*failed], Vec::new()))
    }

    /// Completes a finished exchange: its diagnosis, and what the session learns from it.
    pub fn finish(&self, exchange: &mut Exchange) {
        if self.checks_off() {
            return;
        }
        if let Err(failed) = guarded("prediction check", || mark_contradicted(exchange)) {
            exchange.findings.push(*failed);
        }
        match guarded("response check", || {
            let mut findings = stremio::check_response(exchange);
            self.session().once_per_token(exchange, &mut findings);
            findings.extend(lint::coding::check_response(exchange));
            findings.extend(lint::response::check(exchange));
            findings
        }) {
            Ok(findings) => {
                exchange.findings.extend(findings);
                stremio::settle_refused_events(exchange);
            }
            Err(failed) => exchange.findings.push(*failed),
        }
        let client = guarded("session read", || self.session().stremio_client())
            .ok()
            .flatten();
        match guarded("diagnosis", || {
            diagnose::explain_with(exchange, client.as_deref())
        }) {
            Ok(diagnosis) => exchange.diagnosis = diagnosis,
            Err(failed) => exchange.findings.push(*failed),
        }
        let learnt = guarded("session update", || {
            let mut session = self.session();
            if let Some((token, expires_at)) = stremio::getuser_token(exchange) {
                // Direct Trakt calls with Stremio's token are judged against this expiry.
                session.learn_expiry(&token, expires_at);
            }
            session.observe_exchange(exchange)
        });
        match learnt {
            Ok(told) => exchange.findings.extend(told),
            Err(failed) => exchange.findings.push(*failed),
        }
    }

    /// Runs the whole pipeline over a recorded exchange (offline linting):
    /// findings are recomputed, the recorded response is kept.
    pub fn replay(&self, exchange: &mut Exchange) {
        exchange.findings = self
            .prepare(&exchange.request, exchange.started_at, &FixPolicy::Off)
            .findings;
        if let Some(response) = &exchange.response {
            let (head, _) = self.response_head(
                &exchange.request,
                response.status,
                &response.headers,
                &FixPolicy::Off,
            );
            exchange.findings.extend(head);
        }
        self.finish(exchange);
    }
}

/// Recorded exchanges read back (a HAR, a log) as `trakt-doctor lint`,
/// `trakt-doctor report` and the browser page inspect them: one session
/// over the file in order, each exchange given the inspection the proxy
/// would have made. One place, so the page and the commands cannot drift.
#[derive(Debug)]
pub struct Offline {
    inspector: Inspector,
    redactor: Redactor,
}

impl Offline {
    /// Inspects with `redactor`'s key (the per-install key, or the page's
    /// random one), so findings fingerprint tokens as the records do.
    pub fn new(redactor: Redactor) -> Self {
        Offline {
            inspector: Inspector::with_redactor(redactor.clone()),
            redactor,
        }
    }

    /// The redactor whose key the fingerprints are made with.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `trakt-doctor lint`: the findings and diagnosis recomputed, then
    /// every secret in the exchange redacted, ready to be shown.
    pub fn lint(&self, exchange: &mut Exchange) {
        self.inspector.replay(exchange);
        self.redactor.exchange(exchange);
    }

    /// `trakt-doctor report`: an exchange read without trakt-doctor's
    /// findings (a browser's HAR) gets the inspection the proxy would have
    /// made; a record that carries the proxy's own findings keeps them (the
    /// session still learns from it). Not redacted: the report replaces
    /// secrets by placeholders itself.
    pub fn explain(&self, exchange: &mut Exchange) {
        let findings = std::mem::take(&mut exchange.findings);
        let diagnosis = exchange.diagnosis.take();
        self.inspector.replay(exchange);
        if !findings.is_empty() || diagnosis.is_some() {
            exchange.findings = findings;
            exchange.diagnosis = diagnosis;
        }
    }
}

/// A 2xx from Trakt itself after a predicted rejection marks the prediction
/// contradicted. Only Trakt's own answers judge it: Stremio's bridge answers
/// 200 with its errors inside.
fn mark_contradicted(exchange: &mut Exchange) {
    let host = exchange.request.host().unwrap_or_default();
    if let Some(response) = exchange
        .response
        .as_ref()
        .filter(|_| trakt::is_trakt_host(&host))
    {
        if (200..300).contains(&response.status) {
            for finding in &mut exchange.findings {
                finding.contradicted = finding.severity == Severity::Error && !finding.fixed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Body, Response};
    use bytes::Bytes;

    const AT: OffsetDateTime = time::macros::datetime!(2026-11-24 12:00 UTC);

    fn write(token: &str) -> Request {
        Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/sync/history".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("authorization", &format!("Bearer {token}")),
                ("trakt-api-key", "k"),
                ("trakt-api-version", "2"),
                ("content-type", "application/json"),
            ]),
            body: Body::complete(Bytes::from_static(b"{}")),
        }
    }

    #[test]
    fn a_panicking_stage_becomes_an_internal_finding_naming_it() {
        let failed = guarded("lint", || -> u8 {
            panic!("byte index 2 is not a char boundary")
        })
        .unwrap_err();
        assert_eq!(failed.rule, "internal.inspection.failed");
        assert_eq!(failed.severity, Severity::Warning);
        assert!(
            failed.message.contains("lint")
                && failed
                    .message
                    .contains("byte index 2 is not a char boundary"),
            "{}",
            failed.message
        );
        let formatted = guarded("diagnosis", || -> u8 { panic!("{} apples", 3) }).unwrap_err();
        assert!(
            formatted.message.contains("3 apples"),
            "{}",
            formatted.message
        );
        assert_eq!(guarded("lint", || 7).ok(), Some(7));
    }

    #[test]
    fn a_failing_linter_does_not_stop_the_session_checks() {
        let inspector = Inspector::new();
        let request = write("A1");
        let first = inspector.request_with(&request, AT, |_, _| panic!("boom"));
        assert_eq!(
            first.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
            ["internal.inspection.failed"]
        );
        assert!(first[0].message.contains("lint") && first[0].message.contains("boom"));
        // The session saw the first write, so a second one 100 ms later is too fast.
        let second = inspector.request(&request, AT + time::Duration::milliseconds(100));
        assert!(
            second.iter().any(|f| f.rule == "session.write.too-fast"),
            "{second:?}"
        );
    }

    #[test]
    fn a_panic_while_holding_the_session_does_not_disable_it() {
        let inspector = Inspector::new();
        let poisoned = guarded("session update", || {
            let _session = inspector.session();
            panic!("half-way through an update");
        });
        assert!(poisoned.is_err());
        assert!(inspector.session.is_poisoned());
        let request = write("A1");
        assert!(!inspector
            .request(&request, AT)
            .iter()
            .any(|f| f.is(&INTERNAL)));
        let again = inspector.request(&request, AT + time::Duration::milliseconds(100));
        assert!(
            again.iter().any(|f| f.rule == "session.write.too-fast"),
            "{again:?}"
        );
    }

    /// `request` sent at [`AT`] and never answered: the upstream refused the connection.
    fn refused(request: Request) -> Exchange {
        Exchange {
            id: 1,
            started_at: AT,
            duration_ms: 1.0,
            request,
            response: None,
            error: Some("connection refused".into()),
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        }
    }

    #[test]
    fn replay_of_an_ordinary_exchange_has_no_internal_finding() {
        let inspector = Inspector::new();
        let mut exchange = refused(write("A1"));
        inspector.replay(&mut exchange);
        assert!(exchange.diagnosis.is_some());
        assert!(!exchange.findings.iter().any(|f| f.is(&INTERNAL)));
    }

    #[test]
    #[cfg(feature = "without-checks")]
    fn without_checks_nothing_is_found_learnt_or_diagnosed() {
        let unchecked = Inspector::new().without_checks();
        // Missing headers the linter names, and a second write 100 ms after the first.
        let mut request = write("A1");
        request.headers = Headers::from_pairs(&[("content-type", "application/json")]);
        let later = AT + time::Duration::milliseconds(100);
        for at in [AT, later] {
            let prepared = unchecked.prepare(&request, at, &FixPolicy::All);
            assert!(prepared.findings.is_empty() && prepared.repaired.is_none());
            assert!(unchecked.session_check(&request, at).is_empty());
            assert!(unchecked.lint_request(&request, at).is_empty());
        }
        assert_eq!(unchecked.write_wait(&request, later), time::Duration::ZERO);
        let mut exchange = refused(request.clone());
        unchecked.finish(&mut exchange);
        assert!(exchange.diagnosis.is_none() && exchange.findings.is_empty());
        // The same with the checks on finds and diagnoses.
        let checked = Inspector::new();
        assert!(!checked
            .prepare(&request, AT, &FixPolicy::All)
            .findings
            .is_empty());
        checked.finish(&mut exchange);
        assert!(exchange.diagnosis.is_some());
    }

    /// What the checks cost per exchange, stage by stage, for the bench's
    /// scrobble (request and answer as the bench sends them).
    #[test]
    #[ignore = "timing, run with --release --ignored --nocapture"]
    fn what_the_checks_of_a_scrobble_cost() {
        let request = Request {
            method: "POST".into(),
            url: "https://api.trakt.tv/scrobble/start".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("host", "api.trakt.tv"),
                ("content-type", "application/json"),
                ("user-agent", "trakt-doctor-bench/1.0"),
                ("trakt-api-key", "0e861f52c7365efe6da5ea3e2e6641b8"),
                ("trakt-api-version", "2"),
                ("authorization", "Bearer 638c6d35a1b2c3d4e5f6"),
                ("content-length", "207"),
            ]),
            body: Body::complete(Bytes::from_static(br#"{"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28,"slug":"guardians-of-the-galaxy-2014","imdb":"tt2015381","tmdb":118340}},"progress":1.25,"app_version":"1.0","app_date":"2014-09-22"}"#)),
        };
        let mut answered = crate::exchange::testing::answered(
            request.clone(),
            r#"{"id":3373536619,"action":"start","progress":1.25,"sharing":{"twitter":false},"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28}}}"#,
        );
        if let Some(r) = answered.response.as_mut() {
            r.status = 201;
            r.headers = Headers::from_pairs(&[
                ("content-type", "application/json"),
                ("content-length", "153"),
            ]);
        }
        let inspector = Inspector::new();
        let n = 50_000u32;
        for _ in 0..2 {
            let (mut session, mut lint, mut finish) = (0.0, 0.0, 0.0);
            let started = std::time::Instant::now();
            for i in 0..n {
                let at = AT + time::Duration::milliseconds(i64::from(i));
                let t = std::time::Instant::now();
                let mut findings = inspector.session_check(&request, at);
                let t1 = std::time::Instant::now();
                findings.extend(inspector.lint_request(&request, at));
                let t2 = std::time::Instant::now();
                let mut exchange = answered.clone();
                exchange.findings = findings;
                let t3 = std::time::Instant::now();
                inspector.finish(&mut exchange);
                let t4 = std::time::Instant::now();
                session += (t1 - t).as_secs_f64();
                lint += (t2 - t1).as_secs_f64();
                finish += (t4 - t3).as_secs_f64();
                std::hint::black_box(exchange);
            }
            let us = |s: f64| s * 1e6 / f64::from(n);
            println!(
                "per exchange: session check {:.2} us, request lint {:.2} us, finish (answer checks, diagnosis, session update) {:.2} us; loop {:.2} us",
                us(session),
                us(lint),
                us(finish),
                us(started.elapsed().as_secs_f64())
            );
        }
    }

    const T0: OffsetDateTime = time::macros::datetime!(2026-11-24 12:00 UTC);

    fn get(url: &str, agent: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[
                ("user-agent", agent),
                ("trakt-api-version", "2"),
                (
                    "trakt-api-key",
                    "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b",
                ),
            ]),
            body: Body::complete(Bytes::new()),
        }
    }

    fn answered(request: Request, findings: Vec<Finding>, status: u16) -> Exchange {
        Exchange {
            id: 1,
            started_at: T0,
            duration_ms: 1.0,
            request,
            response: Some(Response {
                status,
                http_version: "HTTP/1.1".into(),
                headers: Headers::default(),
                body: Body::complete(Bytes::from_static(b"[]")),
            }),
            error: None,
            findings,
            fixes: vec![],
            diagnosis: None,
            replay_of: None,
        }
    }

    fn has(findings: &[Finding], rule: &str) -> bool {
        findings.iter().any(|f| f.rule == rule)
    }

    #[test]
    fn a_refused_events_batch_is_told_as_lost_scrobbles_not_as_progress_sent() {
        let events = r#"{"type":"Events","authKey":"K","events":[{"eventName":"traktPlaying","player":{"libItemID":"tt0903747","libItemType":"series","libItemName":"Breaking Bad","libItemVideoID":"tt0903747:1:2","libItemTimeOffset":1500000,"libItemTimeDuration":3000000,"hasTrakt":true}},{"eventName":"traktPaused","player":{"libItemID":"tt0903747","libItemType":"series","libItemName":"Breaking Bad","libItemVideoID":"tt0903747:1:2","libItemTimeOffset":1600000,"libItemTimeDuration":3000000,"hasTrakt":true}},{"eventName":"playerStopped"}]}"#;
        let request = Request {
            method: "POST".into(),
            url: "https://api.strem.io/api/events".into(),
            http_version: "HTTP/1.1".into(),
            headers: Headers::from_pairs(&[("content-type", "text/plain;charset=UTF-8")]),
            body: Body::complete(Bytes::from_static(events.as_bytes())),
        };
        for (answer, lost) in [
            (
                r#"{"error":{"message":"Session does not exist","code":1}}"#,
                true,
            ),
            (r#"{"result":{"success":true}}"#, false),
        ] {
            let inspector = Inspector::new();
            let findings = inspector.prepare(&request, T0, &FixPolicy::Off).findings;
            assert!(has(&findings, "stremio.event.progress"));
            let mut exchange = answered(request.clone(), findings, 200);
            if let Some(response) = exchange.response.as_mut() {
                response.body = Body::complete(Bytes::from_static(answer.as_bytes()));
            }
            inspector.finish(&mut exchange);
            assert_eq!(has(&exchange.findings, "stremio.events.lost"), lost);
            assert_eq!(has(&exchange.findings, "stremio.event.progress"), !lost);
            assert!(!has(&exchange.findings, "stremio.api.error"));
            if lost {
                let finding = exchange
                    .findings
                    .iter()
                    .find(|f| f.rule == "stremio.events.lost");
                let message = &finding.map(|f| f.message.clone()).unwrap_or_default();
                assert!(
                    message.contains("2 Trakt event(s) for Breaking Bad (tt0903747:1:2)"),
                    "{message}"
                );
                assert!(
                    message.contains("Session does not exist")
                        && message.contains("log in to Stremio again")
                        || message.contains("Log in to Stremio again"),
                    "{message}"
                );
                let diagnosis = exchange
                    .diagnosis
                    .as_ref()
                    .map(|d| d.summary.clone())
                    .unwrap_or_default();
                assert!(!diagnosis.is_empty());
            }
        }
    }

    #[test]
    fn a_generic_user_agent_is_named_once_per_client() {
        let inspector = Inspector::new();
        let url = "https://api.trakt.tv/movies/trending";
        let generic = headers::USER_AGENT_GENERIC.id;
        assert!(has(
            &inspector.request(&get(url, "python-requests/2.32"), T0),
            generic
        ));
        assert!(!has(
            &inspector.request(&get(url, "python-requests/2.32"), T0),
            generic
        ));
        assert!(has(&inspector.request(&get(url, "axios/1.7"), T0), generic));
    }

    #[test]
    fn a_success_after_a_predicted_rejection_is_recorded() {
        let inspector = Inspector::new();
        // A title as a movie id: trakt-doctor predicts a 404.
        let request = get("https://api.trakt.tv/movies/Tron%20Legacy", "App/1.0");
        let findings = inspector.request(&request, T0);
        assert!(has(&findings, "route.id.malformed"));
        let mut accepted = answered(request.clone(), findings.clone(), 200);
        inspector.finish(&mut accepted);
        let malformed = accepted
            .findings
            .iter()
            .find(|f| f.rule == "route.id.malformed");
        assert!(malformed.is_some_and(|f| f.contradicted));
        let mut rejected = answered(request, findings, 404);
        inspector.finish(&mut rejected);
        assert!(rejected.findings.iter().all(|f| !f.contradicted));
    }
}
