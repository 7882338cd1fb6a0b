//! Order-preserving cutover, consumer side: in `CuttingOver`, an orderly topic's messages from the target wait
//! until the source is sealed (no producer writes it any more) and this consumer group has consumed every message
//! of the topic on the source.
//!
//! Holding happens in the target's orderly listener: a held batch answers `SuspendCurrentQueueAMoment`, so the
//! raw consumer keeps it at the head of its queue and offers it again; nothing is reordered or sent to a retry
//! topic. Release is decided by the consumer's watch loop ([`super::Core::release_drained`]): once the topic's
//! state is sealed and every source queue's consumed offset has reached its max offset, the topic's current
//! version is released and stays released until its state changes.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::phase::Phase;
use crate::route::PhaseHandle;

/// How long the target's queue is suspended before a held batch is offered again.
pub(crate) const HOLD_RETRY: Duration = Duration::from_millis(200);

/// Which orderly topics' target messages are held, and which were released.
pub(crate) struct Holdback {
    phases: PhaseHandle,
    // topic -> the state version whose source was found sealed and drained.
    released: Mutex<HashMap<String, u64>>,
}

impl Holdback {
    pub(crate) fn new(phases: PhaseHandle) -> Self {
        Holdback {
            phases,
            released: Mutex::new(HashMap::new()),
        }
    }

    /// Whether messages of `topic` from the target must wait now.
    pub(crate) fn holds(&self, topic: &str) -> bool {
        let s = self.phases.topic(topic);
        s.orderly
            && s.phase == Phase::CuttingOver
            && self.released.lock().get(topic) != Some(&s.version)
    }

    /// Of `topics`, those held now: `(topic, version, sealed)`.
    pub(crate) fn held<'a>(
        &self,
        topics: impl IntoIterator<Item = &'a String>,
    ) -> Vec<(String, u64, bool)> {
        let snapshot = self.phases.snapshot();
        let released = self.released.lock();
        topics
            .into_iter()
            .filter_map(|t| {
                let s = snapshot.topic(t);
                (s.orderly
                    && s.phase == Phase::CuttingOver
                    && released.get(t.as_str()) != Some(&s.version))
                .then(|| (t.clone(), s.version, s.sealed))
            })
            .collect()
    }

    /// Deliver `topic`'s target messages from now on, while its state stays at `version`.
    pub(crate) fn release(&self, topic: &str, version: u64) {
        self.released.lock().insert(topic.to_owned(), version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_orderly_topics_in_cutting_over_are_held_until_released_at_their_version() {
        let phases = PhaseHandle::new();
        let h = Holdback::new(phases.clone());
        phases.set_phase("plain", Phase::CuttingOver).unwrap();
        phases.set_orderly("o", true).unwrap();
        phases.set_phase("o", Phase::DualReadWrite).unwrap();
        assert!(!h.holds("plain") && !h.holds("o"));
        phases.set_phase("o", Phase::CuttingOver).unwrap();
        assert!(h.holds("o"));
        let sealed = phases.seal("o").unwrap();
        let topics = ["o".to_owned(), "plain".to_owned()];
        assert_eq!(
            h.held(&topics),
            vec![("o".to_owned(), sealed.version, true)]
        );
        h.release("o", sealed.version);
        assert!(!h.holds("o"));
        // A later state (e.g. a rollback and a new cutover) is held again.
        phases.set_phase("o", Phase::DualReadWrite).unwrap();
        phases.set_phase("o", Phase::CuttingOver).unwrap();
        assert!(h.holds("o"));
        phases.set_phase("o", Phase::Completed).unwrap();
        assert!(!h.holds("o"));
    }
}
