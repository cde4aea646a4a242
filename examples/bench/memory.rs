//! Memory of a proxy process: with many connections held open, then over a
//! long run of requests (whether it grows once its bounded history is full).

use std::time::Duration;

use crate::client::{one, open, Route};
use crate::procfs::rss_mib;
use crate::workloads::Figures;
use crate::Sizes;

/// How long a proxy is left alone before its memory is read.
pub(crate) const SETTLE: Duration = Duration::from_millis(1500);

/// Memory of the proxy process with many connections held open, then over
/// a long run.
pub(crate) async fn memory(route: &Route, sizes: &Sizes, figures: &mut Figures) {
    if let Some(pid) = route.pid {
        // Allocators return freed memory to the system after a delay
        // (mimalloc: 1 s): let the 1 MiB bodies' buffers go first.
        tokio::time::sleep(SETTLE).await;
        figures.rss_before_held_mib = rss_mib(pid);
        if std::env::var_os("BENCH_MEMORY_TRACE").is_some() {
            for wait in [1u64, 2, 4] {
                tokio::time::sleep(Duration::from_secs(wait)).await;
                eprintln!(
                    "{}: RSS {:?} MiB after {wait} s more",
                    route.name,
                    rss_mib(pid)
                );
            }
        }
        let mut held = Vec::new();
        for _ in 0..sizes.held_connections {
            match open(route).await {
                Ok(mut sender) => {
                    if one(&mut sender, route, "/scrobble/start").await.is_ok() {
                        held.push(sender);
                    }
                }
                Err(_) => figures.errors += 1,
            }
        }
        figures.rss_held_mib = rss_mib(pid);
        drop(held);
        figures.errors += soak(route, sizes.soak_requests / 2).await;
        tokio::time::sleep(SETTLE).await;
        let halfway = rss_mib(pid);
        figures.errors += soak(route, sizes.soak_requests / 2).await;
        tokio::time::sleep(SETTLE).await;
        figures.rss_after_soak_mib = rss_mib(pid);
        figures.rss_soak_growth_mib = halfway.zip(figures.rss_after_soak_mib).map(|(b, a)| a - b);
    }
}

/// `requests` requests over 16 keep-alive connections; returns the errors.
pub(crate) async fn soak(route: &Route, requests: usize) -> usize {
    const CONNECTIONS: usize = 16;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let route = route.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut sender) = open(&route).await else {
                return 1;
            };
            for _ in 0..requests / CONNECTIONS {
                if one(&mut sender, &route, "/scrobble/start").await.is_err() {
                    return 1;
                }
            }
            0
        }));
    }
    let mut errors = 0;
    for task in tasks {
        errors += task.await.unwrap_or(1);
    }
    errors
}
