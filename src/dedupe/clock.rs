//! The millisecond clock of the in-memory store's TTLs: cheap enough to read on every dedupe check.
//!
//! On Linux it reads `CLOCK_MONOTONIC_COARSE`, the kernel's last tick (a few milliseconds of resolution, 4 ms at
//! the usual 250 Hz), from the vDSO without `rdtsc`. `Instant::now` reads the TSC behind an `lfence`, which costs
//! about 35 ns here and, worse, waits for the check's cache misses to complete before the clock is read, so
//! back-to-back checks cannot overlap their misses. TTLs are in milliseconds and far longer than a tick. Elsewhere
//! it falls back to `Instant`.

/// Milliseconds since the clock was made, wrapping every 49.7 days; monotonic between wraps.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    #[cfg(target_os = "linux")]
    epoch_ms: u64,
    #[cfg(not(target_os = "linux"))]
    epoch: std::time::Instant,
}

impl Clock {
    /// A clock reading 0 now.
    pub(super) fn new() -> Clock {
        Clock {
            #[cfg(target_os = "linux")]
            epoch_ms: coarse_ms(),
            #[cfg(not(target_os = "linux"))]
            epoch: std::time::Instant::now(),
        }
    }

    /// Milliseconds since [`Clock::new`], modulo 2^32.
    #[inline]
    pub(super) fn now(&self) -> u32 {
        #[cfg(target_os = "linux")]
        {
            coarse_ms().wrapping_sub(self.epoch_ms) as u32
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.epoch.elapsed().as_millis() as u32
        }
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC_COARSE)");
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn it_keeps_up_with_instant_within_a_tick() {
        let c = Clock::new();
        let t0 = Instant::now();
        let a = c.now();
        std::thread::sleep(Duration::from_millis(60));
        let b = c.now();
        let real = t0.elapsed().as_millis() as i64;
        assert!(b >= a, "monotonic: {a} then {b}");
        // One tick of resolution at each end (at most 10 ms at 100 Hz).
        let drift = (i64::from(b) - real).abs();
        assert!(drift <= 25, "clock {b} ms vs Instant {real} ms");
    }
}
