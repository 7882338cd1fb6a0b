//! Half messages on the source cluster whose outcome the broker may still ask this producer about.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Why a half message is still pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The half send is running.
    InFlight,
    /// The local transaction answered `Unknown`: only a check-back resolves it.
    Unknown,
    /// Commit/rollback went out one-way (the broker never confirms it), or the half send failed after it may have
    /// reached the broker. If the broker did not get the decision it checks back; pending until `until`.
    Unconfirmed {
        /// When the broker, had it missed the decision, would have checked back already.
        until: Instant,
    },
}

#[derive(Clone, Debug)]
struct Entry {
    topic: String,
    wait: Wait,
}

/// Pending transactions by transaction id (the message's `UNIQ_KEY`, which is also the id a check-back carries).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Pending {
    /// Note a half send about to start.
    pub(crate) fn begin(&self, id: &str, topic: &str) {
        self.entries.lock().insert(
            id.to_owned(),
            Entry {
                topic: topic.to_owned(),
                wait: Wait::InFlight,
            },
        );
    }

    /// Record what the half send ended with; ignored if a check-back resolved `id` meanwhile.
    pub(crate) fn settle(&self, id: &str, wait: Wait) {
        if let Some(e) = self.entries.lock().get_mut(id) {
            e.wait = wait;
        }
    }

    /// Forget `id` (its send certainly stored nothing, or a check-back resolved it). Whether it was pending.
    pub(crate) fn remove(&self, id: &str) -> bool {
        self.entries.lock().remove(id).is_some()
    }

    /// Whether `id` is pending.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.entries.lock().contains_key(id)
    }

    /// Drop `Unconfirmed` entries past their time; the ids and topics still pending, sorted.
    pub(crate) fn live(&self, now: Instant) -> Vec<(String, String)> {
        let mut entries = self.entries.lock();
        entries.retain(|_, e| !matches!(e.wait, Wait::Unconfirmed { until } if until <= now));
        let mut ids: Vec<(String, String)> = entries
            .iter()
            .map(|(id, e)| (id.clone(), e.topic.clone()))
            .collect();
        ids.sort();
        ids
    }

    /// Forget everything (after giving up on the rest).
    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }
}

/// The `Unconfirmed` deadline for a decision made now.
pub(crate) fn unconfirmed(grace: Duration) -> Wait {
    Wait::Unconfirmed {
        until: Instant::now() + grace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_stays_until_resolved_unconfirmed_expires_and_a_resolved_send_is_not_revived() {
        let p = Pending::default();
        p.begin("a", "T");
        p.settle("a", Wait::Unknown);
        p.begin("b", "T");
        p.settle("b", unconfirmed(Duration::ZERO));
        p.begin("c", "T");
        assert!(p.remove("c"), "resolved by a check-back while in flight");
        p.settle("c", Wait::Unknown);
        let live = p.live(Instant::now());
        assert_eq!(live, vec![("a".to_owned(), "T".to_owned())]);
        assert!(p.remove("a"));
        assert!(p.live(Instant::now()).is_empty());
    }
}
