//! The inspection pipeline shared by the proxy and the offline linter:
//! lint a request (alone and against the session so far), auto-fix it,
//! check the response head, then, once the exchange is finished, diagnose
//! it and let the session learn from it.
//!
//! The order is a type: [`Inspector::begin`] gives an [`Inspection`] whose
//! methods are the only next steps (prepare or check the session, then the
//! answer's head, then finish), each consuming the stage it ends; the
//! proxy, the resend and the offline [`Inspector::replay`] all go through
//! it. The request's target ([`Parsed`]) is read once by the first step and
//! handed to every later check.
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
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

use time::OffsetDateTime;

use crate::diagnose;
use crate::exchange::{Exchange, Headers, Request};
use crate::fix::{self, FixPolicy};
use crate::lint::internal::INTERNAL;
use crate::lint::{self, headers, stremio};
use crate::parsed::Parsed;
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
/// The inspection pipeline over one session of exchanges (see the module doc): each exchange goes through [`Inspector::begin`].
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

    /// Starts the inspection of a request that arrived at `at`: the handle
    /// whose methods are the only next steps (see [`Inspection`]).
    pub fn begin(&self, at: OffsetDateTime) -> Inspection<Begun> {
        Inspection {
            parsed: OnceLock::new(),
            at,
            lint_later: None,
            stage: PhantomData,
        }
    }

    /// The session, also after a stage panicked while holding it: that
    /// exchange's update may be partial, but later exchanges are still judged.
    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn spent(&self, target: Target<'_>, at: OffsetDateTime) -> Vec<Finding> {
        if self.checks_off() {
            return Vec::new();
        }
        guarded("session check", || {
            self.session().spent(target.get(), target.request, at)
        })
        .unwrap_or_else(|f| vec![*f])
    }

    fn write_wait(&self, target: Target<'_>, at: OffsetDateTime) -> time::Duration {
        if self.checks_off() {
            return time::Duration::ZERO;
        }
        guarded("session check", || {
            self.session().write_wait(target.get(), target.request, at)
        })
        .unwrap_or_default()
    }

    /// The request's findings: its lint, then the session check.
    fn request_with(
        &self,
        target: Target<'_>,
        at: OffsetDateTime,
        check: impl FnOnce(&Request, &Parsed, OffsetDateTime) -> Vec<Finding>,
    ) -> Vec<Finding> {
        let mut findings = self.lint_with(target, at, check);
        findings.extend(self.session_check(target, at));
        findings
    }

    fn lint_with(
        &self,
        target: Target<'_>,
        at: OffsetDateTime,
        check: impl FnOnce(&Request, &Parsed, OffsetDateTime) -> Vec<Finding>,
    ) -> Vec<Finding> {
        if self.checks_off() {
            return Vec::new();
        }
        guarded("lint", || {
            let mut findings = check(target.request, target.get(), at);
            self.once_per_agent(target.request, &mut findings);
            findings
        })
        .unwrap_or_else(|f| vec![*f])
    }

    /// The request judged against the session so far (which learns it), in
    /// the order requests arrive.
    fn session_check(&self, target: Target<'_>, at: OffsetDateTime) -> Vec<Finding> {
        if self.checks_off() {
            return Vec::new();
        }
        match guarded("session check", || {
            self.session()
                .observe_parsed_request(target.get(), target.request, at)
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
    fn fix(
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
    fn response_head(
        &self,
        target: Target<'_>,
        status: u16,
        headers: &Headers,
        policy: &FixPolicy,
    ) -> (Vec<Finding>, Vec<HeaderFix>) {
        if self.checks_off() {
            return (Vec::new(), Vec::new());
        }
        guarded("response check", || {
            let mut findings = stremio::check_response_head(target.get(), status, headers);
            let fixes = fix::apply_to_response(&mut findings, headers, policy);
            (findings, fixes)
        })
        .unwrap_or_else(|failed| (vec![*failed], Vec::new()))
    }

    /// Completes a finished exchange: its diagnosis, and what the session learns from it.
    fn finish(&self, parsed: &OnceLock<Parsed>, exchange: &mut Exchange) {
        if self.checks_off() {
            return;
        }
        let read = guarded("request reading", || {
            parsed.get_or_init(|| Parsed::of(&exchange.request))
        });
        let parsed = match read {
            Ok(parsed) => parsed,
            Err(failed) => return exchange.findings.push(*failed),
        };
        if let Err(failed) = guarded("prediction check", || mark_contradicted(parsed, exchange)) {
            exchange.findings.push(*failed);
        }
        match guarded("response check", || {
            let mut findings = stremio::check_response(parsed, exchange);
            self.session()
                .once_per_token(parsed, exchange, &mut findings);
            findings.extend(lint::coding::check_response(exchange));
            findings.extend(lint::response::check(parsed, exchange));
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
            diagnose::explain_with(parsed, exchange, client.as_deref())
        }) {
            Ok(diagnosis) => exchange.diagnosis = diagnosis,
            Err(failed) => exchange.findings.push(*failed),
        }
        let learnt = guarded("session update", || {
            let mut session = self.session();
            if let Some((token, expires_at)) = stremio::getuser_token(parsed, exchange) {
                // Direct Trakt calls with Stremio's token are judged against this expiry.
                session.learn_expiry(&token, expires_at);
            }
            session.observe_parsed_exchange(parsed, exchange)
        });
        match learnt {
            Ok(told) => exchange.findings.extend(told),
            Err(failed) => exchange.findings.push(*failed),
        }
    }

    /// Runs the whole pipeline over a recorded exchange (offline linting):
    /// findings are recomputed, the recorded response is kept.
    pub fn replay(&self, exchange: &mut Exchange) {
        let (prepared, sent) =
            self.begin(exchange.started_at)
                .prepare(self, &exchange.request, &FixPolicy::Off);
        exchange.findings = prepared.findings;
        match &exchange.response {
            Some(response) => {
                let (head, _, answered) = sent.answer_head(
                    self,
                    &exchange.request,
                    response.status,
                    &response.headers,
                    &FixPolicy::Off,
                );
                exchange.findings.extend(head);
                answered.finish(self, exchange);
            }
            None => sent.finish(self, exchange),
        }
    }
}

/// The inspection has begun: the request arrived and is not sent yet.
#[derive(Debug)]
pub struct Begun;

/// The request was inspected and sent; its answer has not come.
#[derive(Debug)]
pub struct Sent;

/// The answer's head was inspected; its body is on the way.
#[derive(Debug)]
pub struct Answered;

/// One exchange's inspection, in the stage `S` ([`Begun`], [`Sent`],
/// [`Answered`]): its methods are the only next steps, and each step that
/// must not repeat consumes it. In order: [`Inspection::prepare`] (or
/// [`Inspection::check_session`] when nothing is to be fixed), then
/// [`Inspection::answer_head`], then [`Inspection::finish`]. An exchange
/// cut short (no answer, or no request sent) is finished where it stopped.
///
/// The request's target ([`Parsed`]: host, path, query, matched operation)
/// is read once, by the first step that needs it, and every later step
/// reads it from here. Every step is given the inspector this inspection
/// began on, and the request it began for (as captured or repaired:
/// auto-fix never changes the URL).
#[derive(Debug)]
pub struct Inspection<S> {
    /// Read by the first check that needs it: with the checks off, never.
    parsed: OnceLock<Parsed>,
    /// When the request arrived.
    at: OffsetDateTime,
    /// When the request's lint waits for the finish (nothing was to be
    /// fixed before sending): how its findings are reworded then.
    lint_later: Option<fn(&mut Vec<Finding>)>,
    stage: PhantomData<S>,
}

impl<S> Inspection<S> {
    /// The request's target, read the first time it is asked for.
    pub fn parsed(&self, request: &Request) -> &Parsed {
        self.parsed.get_or_init(|| Parsed::of(request))
    }

    /// `request`'s target, read by the first check that asks (inside its
    /// guard, and not at all with the checks off).
    fn target<'a>(&'a self, request: &'a Request) -> Target<'a> {
        Target {
            cell: &self.parsed,
            request,
        }
    }

    /// When the request arrived.
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    fn into_stage<T>(self) -> Inspection<T> {
        Inspection {
            parsed: self.parsed,
            at: self.at,
            lint_later: self.lint_later,
            stage: PhantomData,
        }
    }

    /// Completes the exchange, wherever the inspection stopped: the
    /// request's lint if it was left for now, the answer's checks, the
    /// diagnosis, and what the session learns. The last step.
    pub fn finish(self, inspector: &Inspector, exchange: &mut Exchange) {
        if let Some(reword) = self.lint_later {
            let mut findings =
                inspector.lint_with(self.target(&exchange.request), self.at, lint::check_parsed);
            reword(&mut findings);
            findings.append(&mut exchange.findings);
            exchange.findings = findings;
        }
        inspector.finish(&self.parsed, exchange);
    }
}

impl Inspection<Begun> {
    /// The same request arriving again at `at`: a resend that waited its
    /// turn after its checks before sending is judged when it goes.
    pub fn restart(self, at: OffsetDateTime) -> Inspection<Begun> {
        Inspection { at, ..self }
    }

    /// The spent single-use secrets `request` would send again at `at` (see
    /// [`Session::spent`]); records nothing. A resend asks before sending.
    pub fn spent(
        &self,
        inspector: &Inspector,
        request: &Request,
        at: OffsetDateTime,
    ) -> Vec<Finding> {
        inspector.spent(self.target(request), at)
    }

    /// How long `request` must wait at `at` to keep one write per second
    /// (see [`Session::write_wait`]).
    pub fn write_wait(
        &self,
        inspector: &Inspector,
        request: &Request,
        at: OffsetDateTime,
    ) -> time::Duration {
        inspector.write_wait(self.target(request), at)
    }

    /// The whole inspection of the request before it is sent: lint, session
    /// checks, then auto-fix under `policy`. Each stage is guarded.
    pub fn prepare(
        self,
        inspector: &Inspector,
        request: &Request,
        policy: &FixPolicy,
    ) -> (Prepared, Inspection<Sent>) {
        let mut findings =
            inspector.request_with(self.target(request), self.at, lint::check_parsed);
        let (repaired, fixes) = match inspector.fix(request, &mut findings, policy) {
            Some((repaired, fixes)) => (Some(repaired), fixes),
            None => (None, Vec::new()),
        };
        let prepared = Prepared {
            findings,
            fixes,
            repaired,
        };
        (prepared, self.into_stage())
    }

    /// The request judged against the session only (which must see
    /// requests in the order they arrive); its own lint, which changes
    /// nothing that is sent when auto-fix is off, runs at the finish, its
    /// findings put first as [`Inspection::prepare`] puts them and reworded
    /// by `reword`. Same findings, off the request's path.
    pub fn check_session(
        self,
        inspector: &Inspector,
        request: &Request,
        reword: fn(&mut Vec<Finding>),
    ) -> (Vec<Finding>, Inspection<Sent>) {
        let findings = inspector.session_check(self.target(request), self.at);
        let mut sent: Inspection<Sent> = self.into_stage();
        sent.lint_later = Some(reword);
        (findings, sent)
    }
}

impl Inspection<Sent> {
    /// Findings on the answer's head, and the header repairs auto-fix makes
    /// under `policy` (none when a stage failed).
    pub fn answer_head(
        self,
        inspector: &Inspector,
        request: &Request,
        status: u16,
        headers: &Headers,
        policy: &FixPolicy,
    ) -> (Vec<Finding>, Vec<HeaderFix>, Inspection<Answered>) {
        let (findings, fixes) =
            inspector.response_head(self.target(request), status, headers, policy);
        (findings, fixes, self.into_stage())
    }
}

/// A request and where its target is kept once read ([`Inspection`]'s).
#[derive(Clone, Copy)]
struct Target<'a> {
    cell: &'a OnceLock<Parsed>,
    request: &'a Request,
}

impl<'a> Target<'a> {
    /// The request's target, read now if no check read it before.
    fn get(self) -> &'a Parsed {
        self.cell.get_or_init(|| Parsed::of(self.request))
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
fn mark_contradicted(parsed: &Parsed, exchange: &mut Exchange) {
    if let Some(response) = exchange
        .response
        .as_ref()
        .filter(|_| trakt::is_trakt_host(&parsed.host))
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

    impl Inspector {
        /// A request's findings (lint, then session check) through its own inspection.
        fn request(&self, request: &Request, at: OffsetDateTime) -> Vec<Finding> {
            self.begin(at)
                .prepare(self, request, &FixPolicy::Off)
                .0
                .findings
        }

        /// Finishes `exchange` as an inspection begun for it and cut short would.
        fn finish_alone(&self, exchange: &mut Exchange) {
            self.begin(exchange.started_at).finish(self, exchange);
        }
    }

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
        let cell = OnceLock::new();
        let target = Target {
            cell: &cell,
            request: &request,
        };
        let first = inspector.request_with(target, AT, |_, _, _| panic!("boom"));
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
            let (prepared, _) = unchecked
                .begin(at)
                .prepare(&unchecked, &request, &FixPolicy::All);
            assert!(prepared.findings.is_empty() && prepared.repaired.is_none());
            let (session, sent) = unchecked
                .begin(at)
                .check_session(&unchecked, &request, |_| {});
            assert!(session.is_empty());
            let mut exchange = refused(request.clone());
            sent.finish(&unchecked, &mut exchange);
            assert!(exchange.findings.is_empty());
        }
        let begun = unchecked.begin(later);
        assert_eq!(
            begun.write_wait(&unchecked, &request, later),
            time::Duration::ZERO
        );
        let mut exchange = refused(request.clone());
        unchecked.finish_alone(&mut exchange);
        assert!(exchange.diagnosis.is_none() && exchange.findings.is_empty());
        // The same with the checks on finds and diagnoses.
        let checked = Inspector::new();
        assert!(!checked
            .begin(AT)
            .prepare(&checked, &request, &FixPolicy::All)
            .0
            .findings
            .is_empty());
        checked.finish_alone(&mut exchange);
        assert!(exchange.diagnosis.is_some());
    }

    #[test]
    fn the_request_is_read_by_the_first_check_and_carried_on() {
        let request = write("A1");
        let checked = Inspector::new();
        let (_, sent) = checked.begin(AT).check_session(&checked, &request, |_| {});
        assert_eq!(
            sent.parsed.get().map(|p| p.path.as_str()),
            Some("/sync/history")
        );
        let (_, _, answered) = sent.answer_head(
            &checked,
            &request,
            201,
            &Headers::default(),
            &FixPolicy::Off,
        );
        // Carried to the next stage as it was read.
        assert_eq!(
            answered.parsed.get().map(|p| p.path.as_str()),
            Some("/sync/history")
        );
    }

    #[test]
    #[cfg(feature = "without-checks")]
    fn the_request_is_not_read_with_the_checks_off() {
        let request = write("A1");
        let unchecked = Inspector::new().without_checks();
        let (_, sent) = unchecked
            .begin(AT)
            .check_session(&unchecked, &request, |_| {});
        let (_, _, answered) = sent.answer_head(
            &unchecked,
            &request,
            201,
            &Headers::default(),
            &FixPolicy::All,
        );
        assert!(answered.parsed.get().is_none());
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
                let inspection = inspector.begin(at);
                let target = inspection.target(&request);
                let mut findings = inspector.session_check(target, at);
                let t1 = std::time::Instant::now();
                findings.extend(inspector.lint_with(target, at, lint::check_parsed));
                let t2 = std::time::Instant::now();
                let mut exchange = answered.clone();
                exchange.findings = findings;
                let t3 = std::time::Instant::now();
                inspection.finish(&inspector, &mut exchange);
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
            let findings = inspector.request(&request, T0);
            assert!(has(&findings, "stremio.event.progress"));
            let mut exchange = answered(request.clone(), findings, 200);
            if let Some(response) = exchange.response.as_mut() {
                response.body = Body::complete(Bytes::from_static(answer.as_bytes()));
            }
            inspector.finish_alone(&mut exchange);
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
        inspector.finish_alone(&mut accepted);
        let malformed = accepted
            .findings
            .iter()
            .find(|f| f.rule == "route.id.malformed");
        assert!(malformed.is_some_and(|f| f.contradicted));
        let mut rejected = answered(request, findings, 404);
        inspector.finish_alone(&mut rejected);
        assert!(rejected.findings.iter().all(|f| !f.contradicted));
    }
}
