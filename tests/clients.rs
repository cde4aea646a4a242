//! Real Trakt client libraries through the real proxy: PyPI `pytrakt`,
//! `trakt-scrobbler`, `pakt` (a Plex-Trakt sync) and `trakt.py` (fuzeman's,
//! under Plex and Kodi scrobblers), npm `trakt.tv` (the
//! library Stremio addons use) and `@dvcol/trakt-http-client` (the Trakt
//! browser extension's client), each driven by a script in tests/clients/ as
//! its users drive it, against a loopback fake Trakt that answers any
//! well-formed call. The proxy's findings on that traffic must hold no false
//! error (judged against Trakt's contract, crates/core/src/spec/trakt-contract.json, and
//! its live behaviour, /work/shared/trakt-api.md section 9), and must still
//! name the libraries' real bugs. Each test prints a
//! `precision` line: requests, findings by severity, errors that are real
//! bugs, false errors.
//!
//! Needs a venv in target/clients-venv with tests/clients/requirements.txt,
//! one in target/clients-venv-traktpy with requirements-traktpy.txt
//! (trakt.py installs as `trakt`, as pytrakt does) and `npm ci` in
//! tests/clients; `.ci/run` installs them. A missing piece
//! fails with the command to run. Each run leaves the library's log and a
//! summary of its findings in target/client-reports/.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Hosts a library could call; all of them lead to the fake.
const TRAKT_HOSTS: &[&str] = &[
    "api.trakt.tv",
    "trakt.tv",
    "auth.trakt.tv",
    "apiz.trakt.tv",
    "api-staging.trakt.tv",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn clients_dir() -> PathBuf {
    manifest_dir().join("tests/clients")
}

fn venv_python() -> PathBuf {
    let venv = manifest_dir().join("target/clients-venv");
    if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    }
}

const PYTHON_INSTALL: &str = "python3 -m venv target/clients-venv && target/clients-venv/bin/pip install -r tests/clients/requirements.txt (or run .ci/run)";

fn require_python() -> PathBuf {
    let python = venv_python();
    let ok = python.exists()
        && Command::new(&python)
            .args([
                "-c",
                "import trakt, trakt_scrobbler, pakt, certifi, requests",
            ])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the client tests need pytrakt in a venv the test owns: {PYTHON_INSTALL}"
    );
    python
}

const TRAKTPY_INSTALL: &str = "python3 -m venv target/clients-venv-traktpy && target/clients-venv-traktpy/bin/pip install -r tests/clients/requirements-traktpy.txt (or run .ci/run)";

/// trakt.py installs as `trakt`, as pytrakt does: a venv of its own.
fn require_traktpy() -> PathBuf {
    let venv = manifest_dir().join("target/clients-venv-traktpy");
    let python = if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    };
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", "import trakt.interfaces.scrobble, certifi, requests"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the client tests need trakt.py in a venv the test owns: {TRAKTPY_INSTALL}"
    );
    python
}

fn require_node() {
    for package in [
        "trakt.tv",
        "global-agent",
        "@dvcol/trakt-http-client",
        "undici",
    ] {
        assert!(
            clients_dir().join("node_modules").join(package).exists(),
            "the client tests need npm `{package}`: run `npm ci` in tests/clients (or run .ci/run)"
        );
    }
}

/// Trakt's contract (generated from trakt/trakt-api, committed).
struct Contract {
    operations: Vec<Value>,
}

impl Contract {
    fn load() -> Contract {
        let path = manifest_dir().join("crates/core/src/spec/trakt-contract.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let data: Value = serde_json::from_str(&text).unwrap();
        Contract {
            operations: data["operations"].as_array().unwrap().clone(),
        }
    }

    /// The operation `method path` matches: literal segments equal, each
    /// `{param}` one segment (within its enumeration when it has one); the
    /// most literal match wins.
    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let segments = split(path);
        self.operations
            .iter()
            .filter(|op| op["method"] == method)
            .filter_map(|op| {
                let template = op["path"].as_str()?;
                let parts = split(template);
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, seg) in parts.iter().zip(&segments) {
                    if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        if let Some(values) = op["params"][name]["enum"].as_array() {
                            let allowed = |v: &str| values.iter().any(|e| e == v);
                            if !seg.split(',').all(allowed) {
                                return None;
                            }
                        }
                    } else if part != seg {
                        return None;
                    } else {
                        literal += 1;
                    }
                }
                Some((literal, op))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, op)| op)
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('?')
        .next()
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("%20", " "))
        .collect()
}

/// A plausible Trakt object for the last meaningful segment of a path, so
/// the libraries can build their models from it.
fn movie() -> Value {
    json!({"title": "The Dark Knight", "year": 2008, "ids": {"trakt": 120, "slug": "the-dark-knight-2008", "imdb": "tt0468569", "tmdb": 155}})
}
fn show() -> Value {
    json!({"title": "Breaking Bad", "year": 2008, "ids": {"trakt": 1388, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396},
           "first_aired": "2008-01-21T02:00:00.000Z", "airs": {"day": "Sunday", "time": "21:00", "timezone": "America/New_York"}})
}
fn episode() -> Value {
    json!({"season": 1, "number": 1, "title": "Pilot", "ids": {"trakt": 62085, "tvdb": 349232, "imdb": "tt0959621", "tmdb": 62085},
           "first_aired": "2008-01-21T02:00:00.000Z"})
}
fn person() -> Value {
    json!({"name": "Bryan Cranston", "ids": {"trakt": 297737, "slug": "bryan-cranston", "imdb": "nm0186505", "tmdb": 17419}})
}
fn user() -> Value {
    json!({"username": "sean", "private": false, "name": "Sean", "vip": false, "ids": {"slug": "sean"}})
}
fn list() -> Value {
    json!({"name": "Favourites", "description": "", "privacy": "private", "display_numbers": false, "allow_comments": true,
           "sort_by": "rank", "sort_how": "asc", "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
           "item_count": 0, "comment_count": 0, "likes": 0, "type": "personal", "share_link": "https://trakt.tv/lists/55", "ids": {"trakt": 55, "slug": "favourites"}, "user": user()})
}
fn comment() -> Value {
    json!({"id": 417, "parent_id": 0, "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
           "comment": "A fine film, I watched it twice this week.", "spoiler": false, "review": false, "replies": 0, "likes": 0,
           "user_rating": null, "user": user()})
}

/// Answers every call with the contract's success status (201, 204, ...)
/// and a small body of the shape that path returns.
fn fake_trakt(contract: Arc<Contract>) -> Handler {
    Arc::new(move |r: &Received| {
        let path = r.path.split('?').next().unwrap_or_default().to_string();
        let segs = split(&path);
        let seg = |i: usize| segs.get(i).map(String::as_str).unwrap_or_default();
        let last = segs.last().map(String::as_str).unwrap_or_default();
        let status = contract
            .operation(&r.method, &path)
            .and_then(|op| op["success"].as_u64())
            .map_or(
                match r.method.as_str() {
                    "POST" => 201,
                    "DELETE" => 204,
                    _ => 200,
                },
                |s| s as u16,
            );
        // Trakt answers 204 when the user is watching nothing.
        if status == 204
            || (r.method == "GET" && segs.len() == 3 && seg(0) == "users" && last == "watching")
        {
            return Reply::json(204, "");
        }
        let body = match (r.method.as_str(), seg(0)) {
            ("POST", "oauth") if seg(1) == "device" && seg(2) == "code" => json!({
                "device_code": "fake-device-code", "user_code": "ABCD1234",
                "verification_url": "https://trakt.tv/activate", "expires_in": 600, "interval": 5}),
            ("POST", "oauth") if seg(1) == "revoke" => json!({}),
            ("POST", "oauth") => json!({
                "access_token": "fake-access-token-refreshed", "token_type": "bearer",
                "expires_in": 7_776_000, "refresh_token": "fake-refresh-token-refreshed",
                "scope": "public", "created_at": time::OffsetDateTime::now_utc().unix_timestamp()}),
            ("POST", "scrobble") => json!({"id": 3373536619_u64, "action": last, "progress": 50.0,
                "sharing": {"twitter": false, "tumblr": false}, "movie": movie()}),
            ("POST", "checkin") => {
                json!({"id": 3373536620_u64, "watched_at": "2026-11-25T20:00:00.000Z",
                "sharing": {"twitter": false, "tumblr": false}, "movie": movie()})
            }
            ("POST" | "PUT", "comments") => comment(),
            // Without `user`: pytrakt's UserList.create passes its own `user`
            // next to the answer's fields and raises on a duplicate.
            ("POST" | "PUT", "users") if segs.len() <= 4 && seg(2) == "lists" => {
                let mut list = list();
                list.as_object_mut().map(|l| l.remove("user"));
                list
            }
            ("POST" | "PUT", _) => json!({
                "added": {"movies": 1, "shows": 1, "seasons": 1, "episodes": 1},
                "existing": {"movies": 0, "shows": 0, "seasons": 0, "episodes": 0},
                "deleted": {"movies": 0, "shows": 0, "seasons": 0, "episodes": 0},
                "not_found": {"movies": [], "shows": [], "seasons": [], "episodes": [], "people": []}}),
            _ => get_body(&segs),
        };
        let mut reply = Reply::json(status, &body.to_string());
        if body.is_array() {
            for (name, value) in [
                ("x-pagination-page", "1"),
                ("x-pagination-limit", "10"),
                ("x-pagination-page-count", "1"),
                ("x-pagination-item-count", "0"),
            ] {
                reply.headers.push((name.into(), value.into()));
            }
        }
        reply
    })
}

fn get_body(segs: &[String]) -> Value {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["movies", id] if !is_feed(id) => movie(),
        ["shows", id] if !is_feed(id) => show(),
        ["shows", _, "seasons"] => {
            json!([{"number": 1, "ids": {"trakt": 3950, "tvdb": 30272, "tmdb": 3572},
            "episodes": [episode()]}])
        }
        ["shows", _, "seasons", _] => json!([episode()]),
        ["shows", _, "seasons", _, "episodes", _]
        | ["shows", _, "last_episode" | "next_episode"] => episode(),
        ["shows", _, "progress", _] => {
            json!({"aired": 1, "completed": 0, "seasons": [], "hidden_seasons": []})
        }
        ["people", id] if !is_feed(id) => person(),
        [_, _, "people"] | ["people", _, "movies" | "shows"] => json!({"cast": [], "crew": {}}),
        [.., "ratings"] if s[0] != "sync" && s[0] != "users" => {
            json!({"rating": 8.5, "votes": 100, "distribution": {"1": 0, "10": 50}})
        }
        [.., "stats"] => {
            json!({"watchers": 1, "plays": 1, "collectors": 1, "comments": 0, "lists": 0, "votes": 1})
        }
        ["users", "settings"] => {
            json!({"user": user(), "account": {"timezone": "UTC", "time_24hr": true},
            "connections": {}, "sharing_text": {}})
        }
        ["users", "requests"] | ["users", "requests", _] => json!([]),
        ["users", _] => user(),
        ["users", _, "lists", list_id] if *list_id != "collaborations" => list(),
        ["lists", id] if *id != "trending" && *id != "popular" => list(),
        ["sync", "last_activities"] => json!({"all": "2026-11-25T00:00:00.000Z",
            "movies": {"watched_at": "2026-11-25T00:00:00.000Z"}}),
        ["comments", id] if id.bytes().all(|b| b.is_ascii_digit()) => comment(),
        ["comments", _, "item"] => json!({"type": "movie", "movie": movie()}),
        ["certifications", _] => json!({"us": []}),
        // An id lookup: the show of that id.
        ["search", "trakt" | "imdb" | "tmdb" | "tvdb", _] => {
            json!([{"type": "show", "score": 1000.0, "show": show()}])
        }
        // A text search: one good match per type asked for.
        ["search", types] => types
            .split(',')
            .filter_map(|t| match t {
                "movie" => Some(json!({"type": "movie", "score": 1000.0, "movie": movie()})),
                "show" => Some(json!({"type": "show", "score": 1000.0, "show": show()})),
                "episode" => Some(json!({"type": "episode", "score": 1000.0, "show": show(), "episode": episode()})),
                "person" => Some(json!({"type": "person", "score": 1000.0, "person": person()})),
                _ => None,
            })
            .collect(),
        _ => json!([]),
    }
}

/// Path words that are feeds, not ids, after /movies, /shows or /people.
fn is_feed(word: &str) -> bool {
    matches!(
        word,
        "trending" | "popular" | "anticipated" | "boxoffice" | "hot" | "updates"
    )
}

/// Runs `cmd` to completion within `limit`, killing it otherwise.
fn run(mut cmd: Command, limit: Duration) -> (bool, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.is_some(),
        "{cmd:?} ran over {limit:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    (status.is_some_and(|s| s.success()), out, err)
}

/// A command with no proxy settings inherited from the developer's shell.
fn clean_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
        "GLOBAL_AGENT_HTTP_PROXY",
        "GLOBAL_AGENT_HTTPS_PROXY",
        "GLOBAL_AGENT_NO_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// What one library sent, and what trakt-doctor said about it.
struct Run {
    library: &'static str,
    records: Vec<Value>,
    contract: Arc<Contract>,
    /// Driver steps that raised: the fake must let every library proceed.
    failed: Vec<Value>,
}

/// One finding on one request.
#[derive(Debug, Clone)]
struct Seen {
    rule: String,
    severity: String,
    message: String,
    location: String,
    method: String,
    path: String,
    template: Option<String>,
    body: String,
}

impl Run {
    fn findings(&self) -> Vec<Seen> {
        let mut all = Vec::new();
        for record in &self.records {
            let method = record["request"]["method"].as_str().unwrap_or_default();
            let url = record["request"]["url"].as_str().unwrap_or_default();
            let path = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or("/")
                .to_string();
            let template = self
                .contract
                .operation(method, path.split('?').next().unwrap_or_default())
                .and_then(|op| op["path"].as_str())
                .map(str::to_string);
            for f in record["findings"].as_array().into_iter().flatten() {
                all.push(Seen {
                    rule: f["rule"].as_str().unwrap_or_default().to_string(),
                    severity: f["severity"].as_str().unwrap_or_default().to_string(),
                    message: f["message"].as_str().unwrap_or_default().to_string(),
                    location: f["location"].as_str().unwrap_or_default().to_string(),
                    method: method.to_string(),
                    path: path.clone(),
                    template: template.clone(),
                    body: record["request"]["body"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        }
        all
    }

    /// Findings by rule and severity, and every error and warning in full.
    fn summary(&self) -> String {
        let findings = self.findings();
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for f in &findings {
            *counts
                .entry((f.severity.clone(), f.rule.clone()))
                .or_default() += 1;
        }
        let in_contract = self
            .records
            .iter()
            .filter(|r| {
                let method = r["request"]["method"].as_str().unwrap_or_default();
                let url = r["request"]["url"].as_str().unwrap_or_default();
                let path = url
                    .splitn(4, '/')
                    .nth(3)
                    .map_or("/".to_string(), |p| format!("/{p}"));
                self.contract
                    .operation(method, path.split('?').next().unwrap_or_default())
                    .is_some()
            })
            .count();
        let mut out = format!(
            "== {}: {} requests ({} match an operation of Trakt's contract), {} findings\n",
            self.library,
            self.records.len(),
            in_contract,
            findings.len()
        );
        for ((severity, rule), n) in &counts {
            out.push_str(&format!("   {n:4}  {severity:7}  {rule}\n"));
        }
        out.push_str("-- requests that match no operation of the contract:\n");
        for r in &self.records {
            let method = r["request"]["method"].as_str().unwrap_or_default();
            let url = r["request"]["url"].as_str().unwrap_or_default();
            let path = url
                .splitn(4, '/')
                .nth(3)
                .map_or("/".to_string(), |p| format!("/{p}"));
            if self
                .contract
                .operation(method, path.split('?').next().unwrap_or_default())
                .is_none()
            {
                out.push_str(&format!("   {method} {path}\n"));
            }
        }
        for severity in ["error", "warning"] {
            out.push_str(&format!("-- {severity} findings:\n"));
            for f in findings.iter().filter(|f| f.severity == severity) {
                out.push_str(&format!(
                    "   {}  {} {}  [{}]  at {}: {}\n",
                    f.rule,
                    f.method,
                    f.path,
                    f.template.as_deref().unwrap_or("not in contract"),
                    f.location,
                    f.message
                ));
            }
        }
        out
    }
}

/// Runs a driver through a fresh proxy and fake; returns its traffic.
fn drive(library: &'static str, command: impl FnOnce(&ProxyProcess) -> Command) -> Run {
    let contract = Arc::new(Contract::load());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ca = TestCa::new();
    let fake = runtime.block_on(FakeUpstream::start_named(
        &ca,
        TRAKT_HOSTS,
        fake_trakt(contract.clone()),
    ));
    let mut extra = Vec::new();
    for host in TRAKT_HOSTS {
        extra.push("--resolve".to_string());
        extra.push(format!("{host}:443={}", fake.addr));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (proxy, log, _dir) = logged_proxy(&fake, &ca, &extra);
    let (ok, out, err) = run(command(&proxy), Duration::from_secs(60));
    let report: Value = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!("{library} driver printed no report (ok={ok})\nstdout:\n{out}\nstderr:\n{err}")
        });
    assert!(
        ok,
        "{library} driver failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    let sent = fake.received().len();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut records = read_jsonl(&log);
    while records.len() < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        records = read_jsonl(&log);
    }
    assert_eq!(
        records.len(),
        sent,
        "every request the fake answered is in the log"
    );
    let reports = manifest_dir().join("target/client-reports");
    std::fs::create_dir_all(&reports).unwrap();
    // `@scope/name` → `scope-name`: one file per library, no folders.
    let file = library.trim_start_matches('@').replace('/', "-");
    std::fs::copy(&log, reports.join(format!("{file}.jsonl"))).unwrap();
    let run = Run {
        library,
        records,
        contract,
        failed: report["failed"].as_array().cloned().unwrap_or_default(),
    };
    let summary = run.summary();
    std::fs::write(reports.join(format!("{file}.txt")), &summary).unwrap();
    println!("{summary}");
    drop(proxy);
    runtime.shutdown_background();
    run
}

/// A real bug of a library that trakt-doctor reports: a finding whose rule
/// starts with `rule`, on `method path` (query left out), whose request body
/// holds `body_has` and whose message holds `message_has`. `required: false`
/// marks a finding that may be reported (the contract supports it) but need
/// not be.
struct Expect {
    why: &'static str,
    rule: &'static str,
    method: &'static str,
    path: &'static str,
    body_has: &'static str,
    message_has: &'static str,
    required: bool,
}

impl Expect {
    /// The same request and rule, whatever the message says.
    fn covers(&self, f: &Seen) -> bool {
        f.rule.starts_with(self.rule)
            && f.method == self.method
            && f.path.split('?').next() == Some(self.path)
            && f.body.contains(self.body_has)
    }

    fn matches(&self, f: &Seen) -> bool {
        self.covers(f) && f.message.contains(self.message_has)
    }
}

const fn bug(
    why: &'static str,
    rule: &'static str,
    method: &'static str,
    path: &'static str,
) -> Expect {
    Expect {
        why,
        rule,
        method,
        path,
        body_has: "",
        message_has: "",
        required: true,
    }
}

/// One line of figures: requests, findings by severity, the errors that are
/// real bugs (expected) and the false ones.
fn precision(run: &Run, real: &[Expect], findings: &[Seen]) -> String {
    let count = |severity: &str| findings.iter().filter(|f| f.severity == severity).count();
    let errors: Vec<&Seen> = findings.iter().filter(|f| f.severity == "error").collect();
    let expected = errors
        .iter()
        .filter(|f| real.iter().any(|e| e.covers(f)))
        .count();
    let flagged = run
        .records
        .iter()
        .filter(|r| r["findings"].as_array().is_some_and(|f| !f.is_empty()))
        .count();
    format!(
        "precision {}: {} requests ({} with findings); findings: {} error, {} warning, {} info; errors: {} real bugs (expected), {} false",
        run.library,
        run.records.len(),
        flagged,
        errors.len(),
        count("warning"),
        count("info"),
        expected,
        errors.len() - expected
    )
}

/// The verdict the issue asks for: every real bug reported, no error beyond
/// them, and none of the known false warnings.
fn judge(run: &Run, real: &[Expect]) {
    let findings = run.findings();
    let mut problems: Vec<String> = run
        .failed
        .iter()
        .map(|f| format!("driver step failed on the fake's answer: {f}"))
        .collect();
    for e in real.iter().filter(|e| e.required) {
        if findings.iter().any(|f| e.matches(f)) {
            continue;
        }
        match findings.iter().find(|f| e.covers(f)) {
            Some(f) => problems.push(format!(
                "real bug not named: {}: no `{}*` finding on {} {} mentions `{}` (there is {}: {})",
                e.why, e.rule, e.method, e.path, e.message_has, f.rule, f.message
            )),
            None => problems.push(format!(
                "real bug not reported: {} (expected `{}*` on {} {})",
                e.why, e.rule, e.method, e.path
            )),
        }
    }
    for f in findings.iter().filter(|f| f.severity == "error") {
        if !real.iter().any(|e| e.covers(f)) {
            problems.push(format!(
                "false error: {} on {} {} [{}] at {}: {}",
                f.rule,
                f.method,
                f.path,
                f.template.as_deref().unwrap_or("not in contract"),
                f.location,
                f.message
            ));
        }
    }
    // An empty JSON body on a DELETE is what these libraries always send;
    // Trakt ignores it (issue 13, "less noise").
    for f in findings
        .iter()
        .filter(|f| f.rule == "route.body.unexpected")
    {
        if f.method == "DELETE" && matches!(f.body.trim(), "" | "{}" | "null") {
            problems.push(format!(
                "false warning: {} on DELETE {} with body `{}`",
                f.rule, f.path, f.body
            ));
        }
    }
    // One generic User-Agent is one finding per client and session.
    let generic = findings
        .iter()
        .filter(|f| f.rule == "header.user-agent.generic")
        .count();
    if generic > 1 {
        problems.push(format!(
            "header.user-agent.generic reported {generic} times for one client; once is enough"
        ));
    }
    // Nothing may have left for a host other than Trakt's API, or its OAuth
    // host for the OAuth calls (the contract names auth.trakt.tv).
    for r in &run.records {
        let url = r["request"]["url"].as_str().unwrap_or_default();
        if !url.starts_with("https://api.trakt.tv/")
            && !url.starts_with("https://auth.trakt.tv/oauth/")
        {
            problems.push(format!("unexpected host: {url}"));
        }
    }
    println!("{}", precision(run, real, &findings));
    assert!(
        problems.is_empty(),
        "{}: {} problems\n{}\n\n{}",
        run.library,
        problems.len(),
        problems.join("\n"),
        run.summary()
    );
}

#[test]
fn pytrakt_through_the_proxy() {
    let python = require_python();
    let run = drive("pytrakt", |proxy| {
        let bundle = ca_bundle(&python, &proxy.ca_path());
        let mut cmd = clean_command(&python);
        cmd.arg(clients_dir().join("pytrakt_driver.py"))
            .env("HTTPS_PROXY", proxy.url())
            .env("REQUESTS_CA_BUNDLE", bundle);
        cmd
    });
    assert!(
        run.records.len() >= 100,
        "pytrakt sent {} requests",
        run.records.len()
    );
    // Verified in pytrakt 4.4.6's source: trakt/api.py TokenAuth adds
    // `trakt-api-key` only together with a token; TVShow.to_json(_singular)
    // puts IdsMixin.ids (itself `{"ids": {...}}`) under `ids`;
    // tv.dismiss_recommendation does not slugify the title;
    // tv.recommended_shows calls /shows/recommended/{period}; every write
    // follows the previous one at once.
    let show_ids = "\"ids\": {\"ids\": {";
    let real = [
        bug(
            "public call without trakt-api-key before login",
            "header.api-key.missing",
            "GET",
            "/search/movie",
        ),
        bug(
            "public call without trakt-api-key before login",
            "header.api-key.missing",
            "GET",
            "/shows/trending",
        ),
        Expect {
            body_has: show_ids,
            ..bug(
                "nested ids in a show body",
                "body.ids.",
                "POST",
                "/sync/watchlist",
            )
        },
        Expect {
            body_has: show_ids,
            ..bug(
                "nested ids in a show body",
                "body.ids.",
                "POST",
                "/sync/watchlist/remove",
            )
        },
        Expect {
            body_has: show_ids,
            ..bug(
                "nested ids in a show body",
                "body.ids.",
                "POST",
                "/sync/collection",
            )
        },
        Expect {
            body_has: show_ids,
            ..bug(
                "nested ids in a show body",
                "body.ids.",
                "POST",
                "/sync/collection/remove",
            )
        },
        Expect {
            body_has: show_ids,
            ..bug(
                "nested ids in a show comment",
                "body.ids.",
                "POST",
                "/comments",
            )
        },
        bug(
            "a title used as a path id",
            "route.id.malformed",
            "DELETE",
            "/recommendations/shows/The%20Walking%20Dead",
        ),
        Expect {
            message_has: "favorited",
            ..bug(
                "endpoint renamed in 2023",
                "route.",
                "GET",
                "/shows/recommended/weekly",
            )
        },
        bug(
            "writes about 50 ms apart",
            "session.write.too-fast",
            "POST",
            "/sync/history",
        ),
    ];
    judge(&run, &real);
}

#[test]
fn trakt_tv_through_the_proxy() {
    require_node();
    let run = drive("trakt.tv", |proxy| {
        let mut cmd = clean_command(Path::new("node"));
        cmd.arg(clients_dir().join("trakt_tv_driver.js"))
            .current_dir(clients_dir())
            .env("GLOBAL_AGENT_HTTP_PROXY", proxy.url())
            .env("NODE_EXTRA_CA_CERTS", proxy.ca_path());
        cmd
    });
    assert!(
        run.records.len() >= 100,
        "trakt.tv sent {} requests",
        run.records.len()
    );
    // Verified in trakt.tv 8.2.0's source: Trakt._call deletes every falsy
    // body field (`if (!req.body[k]) delete req.body[k]`), so `progress: 0`
    // never leaves; methods.json still has /movies/recommended/:period,
    // /shows/recommended/:period, /sync/recommendations and
    // /users/:username/recommendations; calls are not spaced.
    let real = [
        Expect {
            body_has: "\"episode\"",
            ..bug(
                "progress 0 dropped from a scrobble",
                "body.progress.missing",
                "POST",
                "/scrobble/start",
            )
        },
        Expect {
            message_has: "favorited",
            ..bug(
                "endpoint renamed in 2023",
                "route.",
                "GET",
                "/movies/recommended/weekly",
            )
        },
        Expect {
            message_has: "favorited",
            ..bug(
                "endpoint renamed in 2023",
                "route.",
                "GET",
                "/shows/recommended/weekly",
            )
        },
        Expect {
            message_has: "favorites",
            ..bug(
                "personal recommendations became favorites",
                "route.",
                "GET",
                "/sync/recommendations/movies/rank",
            )
        },
        Expect {
            message_has: "favorites",
            ..bug(
                "personal recommendations became favorites",
                "route.",
                "POST",
                "/sync/recommendations",
            )
        },
        Expect {
            message_has: "favorites",
            ..bug(
                "personal recommendations became favorites",
                "route.",
                "GET",
                "/users/sean/recommendations/movies/rank",
            )
        },
        bug(
            "writes milliseconds apart",
            "session.write.too-fast",
            "POST",
            "/scrobble/pause",
        ),
    ];
    judge(&run, &real);
}

#[test]
fn trakt_scrobbler_through_the_proxy() {
    let python = require_python();
    let home = tempfile::tempdir().unwrap();
    let run = drive("trakt-scrobbler", |proxy| {
        let bundle = ca_bundle(&python, &proxy.ca_path());
        let mut cmd = clean_command(&python);
        cmd.arg(clients_dir().join("trakt_scrobbler_driver.py"))
            .env("HTTPS_PROXY", proxy.url())
            .env("REQUESTS_CA_BUNDLE", bundle)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd
    });
    assert!(
        run.records.len() >= 10,
        "trakt-scrobbler sent {} requests",
        run.records.len()
    );
    // Verified in trakt-scrobbler 1.8.0's source: trakt_interface.search
    // sends `field=title` (Trakt reads `fields`) and `extended=False`
    // (a Python bool, not a level); scrobbles follow each other at once.
    let real = [
        Expect {
            message_has: "field",
            ..bug(
                "`field` where Trakt reads `fields`",
                "route.query",
                "GET",
                "/search/movie",
            )
        },
        bug(
            "`extended=False` is no extended level",
            "route.query.extended",
            "GET",
            "/search/movie",
        ),
        bug(
            "writes milliseconds apart",
            "session.write.too-fast",
            "POST",
            "/scrobble/pause",
        ),
    ];
    judge(&run, &real);
}

/// certifi's roots (what requests trusts by default) plus the proxy's CA, in
/// a file next to the CA: REQUESTS_CA_BUNDLE replaces the roots, it does not
/// add to them.
fn ca_bundle(python: &Path, ca: &Path) -> PathBuf {
    let out = Command::new(python)
        .args(["-c", "import certifi; print(certifi.where())"])
        .output()
        .unwrap();
    let certifi = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut bundle = std::fs::read_to_string(&certifi).unwrap();
    bundle.push('\n');
    bundle.push_str(&std::fs::read_to_string(ca).unwrap());
    let path = ca.with_file_name("requests-bundle.pem");
    std::fs::write(&path, bundle).unwrap();
    path
}

#[test]
fn pakt_through_the_proxy() {
    let python = require_python();
    let home = tempfile::tempdir().unwrap();
    let run = drive("pakt", |proxy| {
        let bundle = ca_bundle(&python, &proxy.ca_path());
        let mut cmd = clean_command(&python);
        cmd.arg(clients_dir().join("pakt_driver.py"))
            .env("HTTPS_PROXY", proxy.url())
            .env("SSL_CERT_FILE", bundle)
            .env("HOME", home.path());
        cmd
    });
    assert!(
        run.records.len() >= 15,
        "pakt sent {} requests",
        run.records.len()
    );
    // Verified in pakt 0.5.1's source (pakt/trakt.py): refresh_access_token
    // posts `refresh_token`, `client_id` and `grant_type` only. Trakt's
    // contract requires `redirect_uri` on a refresh (tokenRefreshSchema
    // extends tokenBaseSchema), and the live API refused refreshes without it
    // in 2026 (raycast/extensions#29215). The missing `client_secret` is only
    // a warning: apps issued no secret log in without one (trakt/trakt-api#367).
    let real = [bug(
        "refresh without `redirect_uri`",
        "oauth.token.field-missing",
        "POST",
        "/oauth/token",
    )];
    judge(&run, &real);
}

#[test]
fn dvcol_trakt_http_client_through_the_proxy() {
    require_node();
    let run = drive("@dvcol/trakt-http-client", |proxy| {
        let mut cmd = clean_command(Path::new("node"));
        cmd.arg(clients_dir().join("dvcol_trakt_http_client_driver.js"))
            .current_dir(clients_dir())
            .env("TRAKT_DOCTOR_PROXY", proxy.url())
            .env("NODE_EXTRA_CA_CERTS", proxy.ca_path());
        cmd
    });
    assert!(
        run.records.len() >= 25,
        "@dvcol/trakt-http-client sent {} requests",
        run.records.len()
    );
    // Verified in @dvcol/trakt-http-client 1.7.0's source: every OAuth body
    // carries client_id, client_secret and (token) redirect_uri as JSON, the
    // User-Agent is the app's, scrobble bodies keep `progress`. No error is
    // a real bug here. Writes are not paced by the library (the warnings
    // `session.write.too-fast` name the driver's back-to-back calls).
    let real: [Expect; 0] = [];
    judge(&run, &real);
}

#[test]
fn trakt_py_through_the_proxy() {
    let python = require_traktpy();
    let run = drive("trakt.py", |proxy| {
        let bundle = ca_bundle(&python, &proxy.ca_path());
        let mut cmd = clean_command(&python);
        cmd.arg(clients_dir().join("trakt_py_driver.py"))
            .env("HTTPS_PROXY", proxy.url())
            .env("REQUESTS_CA_BUNDLE", bundle);
        cmd
    });
    assert!(
        run.records.len() >= 20,
        "trakt.py sent {} requests",
        run.records.len()
    );
    // Verified in trakt.py 4.4.0's source: every OAuth body carries
    // client_id, client_secret and (token) redirect_uri as JSON; scrobbles
    // carry progress, app_version and app_date. No error is a real bug.
    let real: [Expect; 0] = [];
    // trakt/core/pagination.py (since 4.2, fuzeman/trakt.py cd971db, 2020)
    // sends a HEAD of the first page to read X-Pagination-* before paging:
    // HEAD on a GET route is answered as GET without the body (RFC 9110
    // 9.3.2), so it must draw no error (it drew route.method before).
    assert!(
        run.findings().iter().any(|f| f.method == "HEAD")
            || run.records.iter().any(|r| r["request"]["method"] == "HEAD"),
        "trakt.py sent no HEAD: the pagination case is not exercised"
    );
    judge(&run, &real);
}
