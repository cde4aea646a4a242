//! File descriptors: every client connection and tunnel holds about two
//! (the client's socket and the upstream's). Under the common soft limit of
//! 1,024 the proxy ran out long before `--max-connections`, and new clients
//! then hung in the listen queue instead of getting the 503. So at start the
//! soft limit is raised towards the hard one (as servers commonly do), and
//! the connection limit is lowered to what the descriptors allow.
//!
//! Windows has no per-process descriptor limit for sockets: nothing is
//! raised there and `--max-connections` applies as given.

/// Descriptors kept for everything but connections: standard streams, the
/// listener, log files, the certificate folder, the runtime's own.
const RESERVED: u64 = 64;

/// The soft limit on open files before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub now: u64,
}

/// Raises the soft limit on open files to the hard limit (on macOS at most
/// `OPEN_MAX`, 10,240, which is all `setrlimit` accepts there). `None` when
/// the platform has no such limit or it cannot be read.
#[cfg(unix)]
#[allow(clippy::useless_conversion)] // rlim_t is u64 on Linux and macOS, not on every Unix.
#[allow(unsafe_code)] // getrlimit and setrlimit, each with its SAFETY note.
pub fn raise() -> Option<FdLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let before = u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX);
    // An unlimited hard limit is capped: no proxy needs more than a million.
    let mut target = u64::try_from(limit.rlim_max)
        .unwrap_or(u64::MAX)
        .min(1 << 20);
    if cfg!(target_os = "macos") {
        target = target.min(10_240);
    }
    if target <= before {
        return Some(FdLimit {
            before,
            now: before,
        });
    }
    let raised = libc::rlimit {
        rlim_cur: libc::rlim_t::try_from(target).unwrap_or(limit.rlim_cur),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    let now = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        target
    } else {
        before
    };
    Some(FdLimit { before, now })
}

/// Windows: no descriptor limit applies to sockets.
#[cfg(not(unix))]
pub fn raise() -> Option<FdLimit> {
    None
}

/// The most connections `limit` open files can serve, two descriptors each.
pub fn connection_cap(limit: u64) -> usize {
    let cap = limit.saturating_sub(RESERVED) / 2;
    usize::try_from(cap).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_descriptors_per_connection_after_the_reserve() {
        assert_eq!(connection_cap(1024), 480);
        assert_eq!(connection_cap(256), 96);
        assert_eq!(connection_cap(10), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise().expect("Unix has RLIMIT_NOFILE");
        assert!(limit.now >= limit.before);
        // Raised once, a second call finds nothing left to raise.
        assert_eq!(raise().map(|l| l.before), Some(limit.now));
    }
}
