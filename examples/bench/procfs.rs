//! What a process has used, read from /proc (Linux): CPU time, resident
//! memory and context switches. `None` where /proc cannot say.

/// Voluntary and involuntary context switches of all of a process's threads
/// (those still running: a thread that ended takes its count with it).
pub(crate) fn context_switches(pid: u32) -> Option<u64> {
    sum_over_threads(&pid.to_string(), "status", |status| {
        let counts = status.lines().filter_map(|line| {
            line.strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        });
        counts.reduce(|a, b| a + b)
    })
}

/// `read` of `/proc/PID/task/*/FILE` summed over the process's live threads;
/// `None` when no thread's file could be read.
pub(crate) fn sum_over_threads(
    pid: &str,
    file: &str,
    read: impl Fn(&str) -> Option<u64>,
) -> Option<u64> {
    let mut total = None;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(text) = std::fs::read_to_string(task.path().join(file)) else {
            continue;
        };
        if let Some(n) = read(&text) {
            total = Some(total.unwrap_or(0) + n);
        }
    }
    total
}

/// CPU time (user + system, all threads) a process has used, from
/// /proc (Linux, whose clock-tick unit USER_HZ is 100); `None` elsewhere.
pub(crate) fn cpu_secs(pid: &str) -> Option<f64> {
    // Nanoseconds on the CPU of every live thread (schedstat), where the
    // kernel keeps them; otherwise the process's clock ticks (10 ms each).
    let on_cpu = sum_over_threads(pid, "schedstat", |schedstat| {
        schedstat.split_whitespace().next()?.parse::<u64>().ok()
    });
    if let Some(nanos) = on_cpu {
        return Some(nanos as f64 / 1e9);
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resident memory of a process, from /proc (Linux); `None` elsewhere.
pub(crate) fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
