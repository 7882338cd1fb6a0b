//! The lite pull consumer's poll timeout and auto-commit: as built ([`PollSettings`]) and as the application may
//! change them while the consumer runs ([`PollControls`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::error::{ConfigError, ConfigErrorKind};

/// `DefaultLitePullConsumer`'s default poll timeout.
const DEFAULT_POLL_TIMEOUT_MILLIS: u64 = 5000;
/// `DefaultLitePullConsumer`'s default auto-commit interval.
const DEFAULT_AUTO_COMMIT_INTERVAL_MILLIS: u64 = 5000;
/// The raw consumer's lower bound for the auto-commit interval.
const MIN_AUTO_COMMIT_INTERVAL_MILLIS: u64 = 1000;

/// The builder's poll timeout and auto-commit settings (`DefaultLitePullConsumer`'s defaults).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollSettings {
    pub(crate) poll_timeout_millis: u64,
    pub(crate) auto_commit: bool,
    pub(crate) auto_commit_interval_millis: u64,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            poll_timeout_millis: DEFAULT_POLL_TIMEOUT_MILLIS,
            auto_commit: true,
            auto_commit_interval_millis: DEFAULT_AUTO_COMMIT_INTERVAL_MILLIS,
        }
    }
}

impl PollSettings {
    /// Refuses an auto-commit interval under the raw consumer's minimum, naming the field.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.auto_commit_interval_millis < MIN_AUTO_COMMIT_INTERVAL_MILLIS {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "auto_commit_interval_millis",
                self.auto_commit_interval_millis.to_string(),
                "must be at least 1000 ms (the raw consumer's minimum)",
            ));
        }
        Ok(())
    }
}

/// The running consumer's poll timeout and auto-commit, changeable through its setters, and when the next
/// automatic commit is due.
pub(crate) struct PollControls {
    poll_timeout: AtomicU64,
    auto_commit: AtomicBool,
    interval: AtomicU64,
    next_commit: Mutex<Instant>,
}

impl PollControls {
    /// Controls starting from the built settings; the first automatic commit is due at once.
    pub(crate) fn new(s: PollSettings) -> Self {
        PollControls {
            poll_timeout: AtomicU64::new(s.poll_timeout_millis),
            auto_commit: AtomicBool::new(s.auto_commit),
            interval: AtomicU64::new(s.auto_commit_interval_millis),
            next_commit: Mutex::new(Instant::now()),
        }
    }

    /// The poll timeout `poll()` uses, in milliseconds.
    pub(crate) fn poll_timeout(&self) -> u64 {
        self.poll_timeout.load(Ordering::Acquire)
    }

    /// Set the poll timeout `poll()` uses.
    pub(crate) fn set_poll_timeout(&self, millis: u64) {
        self.poll_timeout.store(millis, Ordering::Release);
    }

    /// Whether auto-commit is on.
    pub(crate) fn auto_commit(&self) -> bool {
        self.auto_commit.load(Ordering::Acquire)
    }

    /// Turn auto-commit on or off.
    pub(crate) fn set_auto_commit(&self, on: bool) {
        self.auto_commit.store(on, Ordering::Release);
    }

    /// The auto-commit interval in milliseconds.
    pub(crate) fn interval(&self) -> u64 {
        self.interval.load(Ordering::Acquire)
    }

    /// Set the auto-commit interval; one under the raw consumer's minimum is ignored and logged, as the raw
    /// consumer does.
    pub(crate) fn set_interval(&self, millis: u64) {
        if millis < MIN_AUTO_COMMIT_INTERVAL_MILLIS {
            tracing::warn!(
                interval_millis = millis,
                "auto-commit interval under 1000 ms ignored"
            );
            return;
        }
        self.interval.store(millis, Ordering::Release);
    }

    /// Whether an automatic commit is due at `now`; when it is, the next one is due an interval later.
    pub(crate) fn commit_due(&self, now: Instant) -> bool {
        let mut next = self.next_commit.lock();
        if now < *next {
            return false;
        }
        *next = now + Duration::from_millis(self.interval());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_due_at_once_then_once_per_interval() {
        let c = PollControls::new(PollSettings::default());
        let t0 = Instant::now();
        assert!(c.commit_due(t0));
        assert!(!c.commit_due(t0 + Duration::from_millis(4999)));
        assert!(c.commit_due(t0 + Duration::from_millis(5000)));
    }

    #[test]
    fn an_interval_under_the_minimum_is_refused_at_build_and_ignored_at_run() {
        let s = PollSettings {
            auto_commit_interval_millis: 999,
            ..PollSettings::default()
        };
        let e = s.check().expect_err("999 ms is under the minimum");
        assert!(e.to_string().contains("auto_commit_interval_millis"), "{e}");
        let c = PollControls::new(PollSettings::default());
        c.set_interval(999);
        assert_eq!(c.interval(), 5000);
        c.set_interval(1000);
        assert_eq!(c.interval(), 1000);
    }
}
