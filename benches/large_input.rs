//! `trakt-doctor report` and copy as curl on large input (issue 29): figures
//! for docs/performance.md, "Report and Copy as curl on large input".
//!
//!   cargo bench --bench large_input                      100,000 and 1,000,000 records
//!   cargo bench --bench large_input -- --records 200000  other sizes (repeatable)
//!   cargo bench --bench large_input -- --bin OTHER       the same runs with another build
//!   cargo bench --bench large_input -- --smoke           1,000 records (keeps it working)
//!   cargo bench --bench large_input -- --keep DIR        keep the generated logs in DIR
//!
//! A JSON Lines log is generated in a temporary folder from realistic
//! records (each made as the proxy makes and logs it: inspected, then
//! redacted): a scrobble, a history read with a 2 KB answer, a history write,
//! and 3 failures in 100 (an invalid refresh token, a rate-limited write,
//! an expired token), one of them resent. `trakt-doctor report FILE` then
//! runs as a child process, for every failure and for one (`--id 10`), and
//! on the same records written as a HAR; its wall time and peak resident
//! memory (from wait4, in a small helper process: see [`run`]) are printed. Copy as curl is timed in this process on a body
//! with 1,600 and 4,000 distinct secrets, and `replay --curl` through the
//! binary on a record holding 1,600. Figures only: nothing here fails on a
//! slow machine.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use trakt_doctor::curl::{command, Shell};
use trakt_doctor::exchange::{Body, Exchange, Headers, Request, Response};
use trakt_doctor::inspect::Inspector;
use trakt_doctor::redact::Redactor;

const API_KEY: &str = "0e861f52c7365efe6da5ea3e2e6641b8d25d87aca3133e8d4f7dc8487368d14b";
const TOKEN: &str = "5c0ae0a3f6dc4d3a0a94d5f7e4d5a7a1b4c5d6e7f8091a2b3c4d5e6f70819a2b";
const SCROBBLE: &str = r#"{"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28,"slug":"guardians-of-the-galaxy-2014","imdb":"tt2015381","tmdb":118340}},"progress":1.25,"app_version":"1.0","app_date":"2014-09-22"}"#;
const SCROBBLED: &str = r#"{"id":3373536619,"action":"start","progress":1.25,"sharing":{"twitter":false},"movie":{"title":"Guardians of the Galaxy","year":2014,"ids":{"trakt":28}}}"#;

fn request(method: &str, path: &str, body: &str) -> Request {
    let mut headers = vec![
        ("user-agent".into(), "StremioTraktAddon/1.4.0".into()),
        ("trakt-api-key".into(), API_KEY.into()),
        ("trakt-api-version".into(), "2".into()),
        ("authorization".into(), format!("Bearer {TOKEN}")),
    ];
    if !body.is_empty() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Request {
        method: method.into(),
        url: format!("https://api.trakt.tv{path}"),
        http_version: "HTTP/2".into(),
        headers: Headers(headers),
        body: Body::complete(Bytes::from(body.to_string())),
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut all = vec![("content-type".to_string(), "application/json".to_string())];
    all.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    Response {
        status,
        http_version: "HTTP/2".into(),
        headers: Headers(all),
        body: Body::complete(Bytes::from(body.to_string())),
    }
}

/// The records the log is made of, as the proxy logs them: inspected by
/// one session, then redacted.
fn templates() -> (Vec<Exchange>, Vec<Exchange>) {
    let history: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"id":{},"watched_at":"2026-11-{:02}T20:15:00.000Z","action":"scrobble","type":"movie","movie":{{"title":"Movie number {i}","year":{},"ids":{{"trakt":{},"slug":"movie-number-{i}","imdb":"tt{:07}","tmdb":{}}}}}}}"#,
                9_000_000 + i,
                i + 1,
                1990 + i,
                100 + i,
                2_000_000 + i,
                50_000 + i
            )
        })
        .collect();
    let history = format!("[{}]", history.join(","));
    let write = r#"{"movies":[{"watched_at":"2026-11-24T20:00:00.000Z","ids":{"trakt":28}}]}"#;
    let refresh = format!(
        r#"{{"refresh_token":"{TOKEN}","client_id":"{API_KEY}","client_secret":"{API_KEY}","redirect_uri":"urn:ietf:wg:oauth:2.0:oob","grant_type":"refresh_token"}}"#
    );
    let ok = [
        (
            request("POST", "/scrobble/start", SCROBBLE),
            response(201, &[], SCROBBLED),
        ),
        (
            request("GET", "/sync/history/movies?page=1&limit=12", ""),
            response(200, &[("x-pagination-page", "1")], &history),
        ),
        (
            request("POST", "/sync/history", write),
            response(
                201,
                &[],
                r#"{"added":{"movies":1,"episodes":0},"not_found":{"movies":[]}}"#,
            ),
        ),
    ];
    let failing = [
        (
            request("POST", "/oauth/token", &refresh),
            response(
                400,
                &[],
                r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#,
            ),
        ),
        (
            request("POST", "/sync/history", write),
            response(
                429,
                &[
                    ("retry-after", "1"),
                    (
                        "x-ratelimit",
                        r#"{"name":"AUTHED_API_POST_LIMIT","period":1,"limit":1,"remaining":0,"until":"2026-11-24T20:00:01Z"}"#,
                    ),
                ],
                r#"{"error":"rate limit exceeded"}"#,
            ),
        ),
        (
            request("GET", "/users/settings", ""),
            response(
                401,
                &[(
                    "www-authenticate",
                    r#"Bearer realm="trakt", error="invalid_token", error_description="The access token expired""#,
                )],
                "",
            ),
        ),
    ];
    let inspector = Inspector::new();
    let redactor = Redactor::new(b"bench key");
    let at = time::macros::datetime!(2026-11-24 20:00 UTC);
    let make = |(request, response): (Request, Response)| {
        let mut ex = Exchange {
            id: 1,
            started_at: at,
            duration_ms: 180.0,
            request,
            response: Some(response),
            error: None,
            findings: Vec::new(),
            fixes: Vec::new(),
            diagnosis: None,
            replay_of: None,
        };
        inspector.replay(&mut ex);
        redactor.exchange(&mut ex);
        ex
    };
    (
        ok.into_iter().map(make).collect(),
        failing.into_iter().map(make).collect(),
    )
}

/// Writes a log of `records` records: 3 failures in every 100, the first
/// of them resent once.
fn write_log(path: &Path, records: u64) -> u64 {
    let (ok, failing) = templates();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    for id in 1..=records {
        serde_json::to_writer(&mut out, &record(&ok, &failing, id)).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// Record `id` of a log: 3 failures in every 100, the first of them resent once.
fn record(ok: &[Exchange], failing: &[Exchange], id: u64) -> Exchange {
    let slot = id % 100;
    let mut ex = match slot {
        10 | 40 | 70 => failing[(slot / 30) as usize].clone(),
        11 => {
            let mut resend = failing[0].clone();
            resend.replay_of = Some(id - 1);
            resend
        }
        _ => ok[(id % 3) as usize].clone(),
    };
    ex.id = id;
    ex.started_at =
        time::macros::datetime!(2026-11-24 20:00 UTC) + time::Duration::seconds(id as i64);
    ex
}

/// The same records as a HAR (as trakt-doctor's HAR sink writes them: one
/// entry a line, so the document spans lines and is read entry by entry).
fn write_har(path: &Path, records: u64) -> u64 {
    let (ok, failing) = templates();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    out.write_all(
        br#"{"log":{"version":"1.2","creator":{"name":"large_input","version":"1"},"entries":["#,
    )
    .unwrap();
    for id in 1..=records {
        let ex = record(&ok, &failing, id);
        out.write_all(if id == 1 { b"\n" } else { b",\n" }).unwrap();
        serde_json::to_writer(&mut out, &trakt_doctor::log::har::entry(&ex)).unwrap();
    }
    out.write_all(b"\n]}}\n").unwrap();
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// What one run of the binary took: wall time, peak resident memory, exit status.
struct Run {
    wall: Duration,
    peak_rss_mib: Option<f64>,
    success: bool,
    output_bytes: u64,
}

/// Runs `bin args` with its standard output in `output`, through this
/// program started again as a small helper (`--measure`) that waits for it:
/// a child's peak resident memory counts the memory of the process that
/// started it (until its exec), so the helper, not this larger harness,
/// starts it.
fn run(bin: &Path, args: &[&str], output: &Path) -> Run {
    let started = Instant::now();
    let helper = Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        .arg(bin)
        .args(args)
        .stdout(std::fs::File::create(output).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let said = String::from_utf8_lossy(&helper.stderr);
    let mut words = said.split_whitespace();
    let success = words.next() == Some("ok");
    let peak_rss_mib = words
        .next()
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| kib / 1024.0);
    Run {
        wall,
        peak_rss_mib,
        success,
        output_bytes: std::fs::metadata(output).map(|m| m.len()).unwrap_or(0),
    }
}

/// The helper: runs the command, then says on standard error `ok` or
/// `failed` and the command's peak resident memory in KiB.
fn measure(command: &[String]) {
    let child = Command::new(&command[0])
        .args(&command[1..])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (success, peak_kib) = wait_with_peak(child);
    eprintln!(
        "{} {}",
        if success { "ok" } else { "failed" },
        peak_kib.map_or("?".into(), |k| k.to_string())
    );
}

/// Waits for `child` and reads its peak resident memory in KiB.
#[cfg(target_os = "linux")]
fn wait_with_peak(child: std::process::Child) -> (bool, Option<i64>) {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    #[allow(unsafe_code)]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // The harness's one system call without a std wrapper: wait4 is how a
    // child's peak resident memory is read (std's wait does not give it).
    // SAFETY: both pointers are to live locals of the right types; the pid
    // is our own child, not waited for elsewhere.
    #[allow(unsafe_code)]
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    drop(child);
    if waited != pid {
        return (false, None);
    }
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (success, Some(usage.ru_maxrss))
}

#[cfg(not(target_os = "linux"))]
fn wait_with_peak(mut child: std::process::Child) -> (bool, Option<i64>) {
    let success = child.wait().map(|s| s.success()).unwrap_or(false);
    (success, None)
}

/// How many sections (`## n.`) a report has, read line by line.
fn sections(report: &Path) -> usize {
    use std::io::BufRead;
    std::fs::File::open(report)
        .map(|f| {
            std::io::BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .filter(|l| l.starts_with("## "))
                .count()
        })
        .unwrap_or(0)
}

/// A request whose body holds `n` distinct secrets, about 32 bytes each.
fn many_secrets(n: usize) -> Request {
    let body = trakt_doctor::exchange::testing::body_with_secrets(n);
    let mut r = request("POST", "/sync/history", &body);
    r.headers.0.retain(|(n, _)| n != "authorization");
    r
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--measure") {
        return measure(&args[1..]);
    }
    let value = |flag: &str| -> Vec<String> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    };
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut sizes: Vec<u64> = value("--records")
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    if sizes.is_empty() {
        sizes = if smoke {
            vec![1_000]
        } else {
            vec![100_000, 1_000_000]
        };
    }
    let bin = value("--bin")
        .pop()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_trakt-doctor")));
    let dir = tempfile::tempdir().unwrap();
    // --keep DIR: the generated logs stay there (to profile a run by hand).
    let keep = value("--keep").pop().map(PathBuf::from);
    println!("binary: {}", bin.display());

    println!("\n## trakt-doctor report FILE (JSON Lines, 3 failures in 100)\n");
    println!("Every failure, then `--id 10` (one failure and its resend).\n");
    println!("| records | file MiB | report of | failures reported | wall s | records/s | peak RSS MiB | report MiB |");
    println!("|---|---|---|---|---|---|---|---|");
    for &records in &sizes {
        let log = dir.path().join(format!("log-{records}.jsonl"));
        let size = write_log(&log, records);
        let out = dir.path().join("report.md");
        for (what, extra) in [("every failure", &[][..]), ("--id 10", &["--id", "10"][..])] {
            let mut args = vec!["report", log.to_str().unwrap()];
            args.extend(extra);
            let r = run(&bin, &args, &out);
            let reported = sections(&out);
            println!(
                "| {records} | {:.0} | {what} | {reported} | {:.2}{} | {:.0} | {} | {:.2} |",
                mib(size),
                r.wall.as_secs_f64(),
                if r.success { "" } else { " (failed)" },
                records as f64 / r.wall.as_secs_f64(),
                r.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0}")),
                mib(r.output_bytes),
            );
        }
        match &keep {
            Some(keep) => {
                std::fs::create_dir_all(keep).unwrap();
                std::fs::rename(&log, keep.join(log.file_name().unwrap()))
                    .or_else(|_| std::fs::copy(&log, keep.join(log.file_name().unwrap())).map(drop))
                    .unwrap();
            }
            None => {
                let _ = std::fs::remove_file(&log);
            }
        }
    }

    println!("\n## trakt-doctor report FILE.har (the same records as a HAR)\n");
    println!("| records | file MiB | failures reported | wall s | records/s | peak RSS MiB | report MiB |");
    println!("|---|---|---|---|---|---|---|");
    for &records in &sizes {
        let har = dir.path().join(format!("log-{records}.har"));
        let size = write_har(&har, records);
        let out = dir.path().join("report.md");
        let r = run(&bin, &["report", har.to_str().unwrap()], &out);
        println!(
            "| {records} | {:.0} | {} | {:.2}{} | {:.0} | {} | {:.2} |",
            mib(size),
            sections(&out),
            r.wall.as_secs_f64(),
            if r.success { "" } else { " (failed)" },
            records as f64 / r.wall.as_secs_f64(),
            r.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0}")),
            mib(r.output_bytes),
        );
        let _ = std::fs::remove_file(&har);
    }

    println!("\n## Copy as curl, in this process (fastest of 3)\n");
    println!("| distinct secrets | body KB | command KB | time ms |");
    println!("|---|---|---|---|");
    for n in [1_600, 4_000] {
        let r = many_secrets(n);
        let mut best = Duration::MAX;
        let mut len = 0;
        for _ in 0..3 {
            let t = Instant::now();
            len = command(&r, Shell::Posix, false)
                .map(|c| c.len())
                .unwrap_or(0);
            best = best.min(t.elapsed());
        }
        println!(
            "| {n} | {:.1} | {:.1} | {:.2} |",
            r.body.bytes.len() as f64 / 1000.0,
            len as f64 / 1000.0,
            best.as_secs_f64() * 1000.0
        );
    }

    println!("\n## replay --curl on a record of 1,600 distinct secrets (the binary)\n");
    let mut ex = Exchange {
        id: 1,
        started_at: time::macros::datetime!(2026-11-24 20:00 UTC),
        duration_ms: 1.0,
        request: many_secrets(1_600),
        response: None,
        error: Some("timeout".into()),
        findings: Vec::new(),
        fixes: Vec::new(),
        diagnosis: None,
        replay_of: None,
    };
    Redactor::new(b"bench key").exchange(&mut ex);
    let file = dir.path().join("secrets.jsonl");
    std::fs::write(&file, format!("{}\n", serde_json::to_string(&ex).unwrap())).unwrap();
    let out = dir.path().join("curl.sh");
    let r = run(
        &bin,
        &["replay", file.to_str().unwrap(), "--id", "1", "--curl"],
        &out,
    );
    println!(
        "{:.3} s, peak RSS {} MiB, {} bytes of command{}",
        r.wall.as_secs_f64(),
        r.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0}")),
        r.output_bytes,
        if r.success { "" } else { " (failed)" }
    );
}
