//! The readiness cache: every topic's next-step and previous-step checks and its groups' dead letters as of its last
//! scan (made by [`super::background::scanner`]), kept with their time, so `GET /v1/topics` answers from memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::control::wire::{CheckResult, GroupDeadLetters};
use crate::topic_state::TopicState;

/// One topic's checks as of one scan.
#[derive(Clone, Debug)]
pub(crate) struct Scanned {
    /// The state the checks were run for.
    pub(crate) state: TopicState,
    /// Checks for the next step forward.
    pub(crate) advance: Vec<CheckResult>,
    /// Checks for one step back.
    pub(crate) rollback: Vec<CheckResult>,
    /// Dead letters of the topic's groups per cluster.
    pub(crate) dead_letters: Vec<GroupDeadLetters>,
    /// When the scan finished.
    pub(crate) at: SystemTime,
}

/// The cache of scans, and what wakes the scanner early.
#[derive(Default)]
pub(crate) struct Readiness {
    scans: RwLock<HashMap<String, Scanned>>,
    wake: Arc<Notify>,
    /// Duration of the last full scan, milliseconds (0 before the first).
    last_round_ms: AtomicU64,
}

impl Readiness {
    /// The cached scan of `topic` if it was made for `state`.
    pub(crate) fn get(&self, topic: &str, state: &TopicState) -> Option<Scanned> {
        self.scans
            .read()
            .get(topic)
            .filter(|s| s.state.phase == state.phase && s.state.version == state.version)
            .cloned()
    }

    /// Keep `s` as `topic`'s scan.
    pub(crate) fn put(&self, topic: &str, s: Scanned) {
        self.scans.write().insert(topic.to_owned(), s);
    }

    /// Forget topics no longer in the table.
    pub(crate) fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.scans.write().retain(|t, _| keep(t));
    }

    /// Scan again soon (a topic was registered, or an operator asked).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// What [`Readiness::wake`] notifies.
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// How long the last full scan took.
    pub(crate) fn last_round(&self) -> Duration {
        Duration::from_millis(self.last_round_ms.load(Ordering::Relaxed))
    }

    /// A full scan took `took`.
    pub(crate) fn set_last_round(&self, took: Duration) {
        self.last_round_ms
            .store(took.as_millis() as u64, Ordering::Relaxed);
    }
}
