//! What the micro-benchmarks share: a counting global allocator, this thread's CPU clock, the batch timer with
//! its medians, and the summary table.

#![allow(dead_code)] // Each bench uses its own subset.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting allocations and live bytes.
pub struct Counting;

pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
pub static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; the counters have no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// This thread's CPU time: unlike the wall clock, it does not grow while other processes hold the cores.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Medians over `samples` batches of `batch` calls: wall ns/op and thread-CPU ns/op; and heap allocations per
/// call.
pub fn measure(samples: usize, batch: usize, mut op: impl FnMut(u64)) -> (f64, f64, f64) {
    let mut i = 0u64;
    for _ in 0..batch {
        op(i);
        i += 1;
    }
    let mut wall = Vec::with_capacity(samples);
    let mut cpu = Vec::with_capacity(samples);
    let mut allocs = 0u64;
    for _ in 0..samples {
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let c0 = thread_cpu();
        let t0 = Instant::now();
        for _ in 0..batch {
            op(i);
            i += 1;
        }
        let dt = t0.elapsed();
        let dc = thread_cpu() - c0;
        allocs += ALLOCS.load(Ordering::Relaxed) - a0;
        wall.push(dt.as_nanos() as f64 / batch as f64);
        cpu.push(dc.as_nanos() as f64 / batch as f64);
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (
        wall[wall.len() / 2],
        cpu[cpu.len() / 2],
        allocs as f64 / (samples * batch) as f64,
    )
}

/// One line of the summary table.
pub struct Row {
    pub name: &'static str,
    /// Wall-clock ns per op.
    pub ns: f64,
    /// This thread's CPU ns per op.
    pub cpu: f64,
    /// Heap allocations per op.
    pub allocs: f64,
    /// The row this one is compared with: its name and CPU ns per op.
    pub baseline: Option<(&'static str, f64)>,
    pub target: &'static str,
}

/// The load average (1, 5, 15 min), printed beside every figure.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `name` from the environment as a number, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Print `rows` as the summary table: wall and CPU ns per op, allocations per op, the CPU ratio against each row's
/// baseline, and the target.
pub fn print_rows(rows: &[Row]) {
    println!(
        "{:<44} {:>9} {:>9} {:>10} {:>28}  target",
        "operation", "wall ns", "cpu ns", "allocs/op", "cpu ratio vs baseline"
    );
    for r in rows {
        let ratio = r
            .baseline
            .map(|(n, b)| format!("{:.2}x {n}", r.cpu / b))
            .unwrap_or_default();
        println!(
            "{:<44} {:>9.1} {:>9.1} {:>10.3} {:>28}  {}",
            r.name, r.ns, r.cpu, r.allocs, ratio, r.target
        );
    }
}

/// Print, for every row with a baseline, the CPU it adds to the baseline's: the shim's own work `per` operation.
pub fn print_own_cpu(rows: &[Row], per: &str) {
    for r in rows {
        if let Some((_, b)) = r.baseline {
            println!(
                "{:<44} shim's own CPU per {per}: {:+.0} ns",
                r.name,
                r.cpu - b
            );
        }
    }
}
