//! The harness's global allocator: mimalloc, as the trakt-doctor binary
//! uses, counting allocations in a child started with BENCH_ALLOCATIONS
//! (a deterministic measure of the work per request, unlike time on a busy
//! machine).

/// The same allocator as the trakt-doctor binary, so the child proxy runs
/// as it would; in the stage run it also counts allocations (a
/// deterministic measure of the work per request, unlike time on a busy machine).
#[global_allocator]
static ALLOCATOR: Counting = Counting;

pub(crate) static COUNTING: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
pub(crate) static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) struct Counting;

// The only unsafe code of the harness: a global allocator is an unsafe
// trait; this one forwards every call unchanged to mimalloc.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[inline]
pub(crate) fn count_allocation() {
    use std::sync::atomic::Ordering;
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// In a child started with BENCH_ALLOCATIONS=FILE: counts allocations and
/// writes the count to FILE on each SIGUSR1, so the harness can take the
/// difference over a known number of requests. Unix only.
pub(crate) fn serve_allocation_counts() {
    let Some(file) = std::env::var_os("BENCH_ALLOCATIONS") else {
        return;
    };
    COUNTING.store(true, std::sync::atomic::Ordering::Relaxed);
    #[cfg(unix)]
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
                return;
            };
            while usr1.recv().await.is_some() {
                let count = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
                let _ = std::fs::write(&file, count.to_string());
            }
        });
    });
}
