//! How the allocator gives memory back. mimalloc (the binary's global
//! allocator) returns freed pages to the system only after a delay of 1 s,
//! and only when the allocator runs again: a proxy that goes idle after a
//! burst (forty 1 MiB answers, a throughput run) kept tens of MiB of freed
//! memory resident for as long as it stayed idle. With the delay at 0 they go
//! back when freed. Measured in the bench's full run, trakt-doctor (lint):
//! RSS before holding connections 108 -> 65 MiB, holding 1,000 connections
//! 97 -> 86 MiB, CPU per request unchanged within the run-to-run noise.

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (mimalloc.h); the
/// -sys crate leaves it out of its constants.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's own environment variable: when the user sets it, theirs wins.
const ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Makes mimalloc return freed memory to the system at once, unless the
/// user chose a delay with `MIMALLOC_PURGE_DELAY`. Harmless when mimalloc
/// is not the global allocator (only its unused options change).
#[allow(unsafe_code)] // one call into mimalloc's C API, with its SAFETY note.
pub(crate) fn purge_freed_memory_at_once() {
    if std::env::var_os(ENV).is_some() {
        return;
    }
    // SAFETY: mi_option_set takes no pointer: it stores a number in
    // mimalloc's option table. It is not synchronised, so it is called once,
    // from `run` before the proxy starts its threads.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)] // reads mimalloc's option table, as the function writes it.
    fn the_option_number_is_the_purge_delay() {
        // Its default (1,000 ms in mimalloc 3) tells it from every other option.
        if std::env::var_os(ENV).is_none() {
            // SAFETY: mi_option_get takes no pointer; nothing sets options in tests.
            assert_eq!(
                unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
                1000
            );
        }
    }
}
