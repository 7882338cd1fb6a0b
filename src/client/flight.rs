//! What a producer keeps per topic it writes: the topic's send counters, and its sends in flight by the state
//! version they were routed under.
//!
//! A producer reports a topic's phase to the control plane as applied only once no send routed under an earlier
//! state of the topic is still running: "applied `CuttingOver`" then means "nothing more of mine will land on the
//! source", which is what sealing an orderly topic needs (and what the `producers_applied` gate means).
//!
//! One [`Written`] per topic, created the first time the producer routes a send of the topic (or names it up
//! front); a send looks it up once and carries it in its [`Flight`], so counting the outcome and ending the send
//! touch only this topic's entry and allocate nothing.

use std::sync::Arc;

use parking_lot::Mutex;

use super::producer_stats::Counters;
use crate::control::wire::AppliedPhase;
use crate::phase::Phase;
use crate::topic_state::TopicState;

/// One state version sends of a topic are running under: (version, phase of that version, running sends).
type Running = (u64, Phase, usize);

/// One topic a producer writes: its send counters and its sends running.
#[derive(Debug)]
pub(crate) struct Written {
    name: String,
    counts: Counters,
    // Sorted by version; a few entries at most (the versions a phase change overlapped), kept allocated.
    running: Mutex<Vec<Running>>,
}

impl Written {
    /// A topic named `name`, nothing sent yet.
    pub(crate) fn new(name: String) -> Self {
        Written {
            name,
            counts: Counters::default(),
            running: Mutex::new(Vec::new()),
        }
    }

    /// The topic's send counters.
    pub(crate) fn counts(&self) -> &Counters {
        &self.counts
    }

    /// Count one send routed under `state` as running until the returned guard is dropped.
    pub(crate) fn start(self: &Arc<Self>, state: &TopicState) -> Flight {
        let mut running = self.running.lock();
        match running.binary_search_by_key(&state.version, |r| r.0) {
            Ok(i) => running[i].2 += 1,
            Err(i) => running.insert(i, (state.version, state.phase, 1)),
        }
        Flight {
            topic: self.clone(),
            version: state.version,
        }
    }

    /// What to report as applied for this topic when the table says `current`: the oldest state a running send
    /// was routed under, if it is older than `current`.
    pub(crate) fn applied(&self, current: AppliedPhase) -> AppliedPhase {
        match self.running.lock().first() {
            Some(&(version, phase, _)) if version < current.version => {
                AppliedPhase { phase, version }
            }
            _ => current,
        }
    }

    fn finish(&self, version: u64) {
        let mut running = self.running.lock();
        if let Ok(i) = running.binary_search_by_key(&version, |r| r.0) {
            running[i].2 -= 1;
            if running[i].2 == 0 {
                running.remove(i);
            }
        }
    }
}

/// One running send: its topic (and so the counters its outcome goes to); dropping it (the send finished, or its
/// callback ran) ends it.
#[derive(Debug)]
pub(crate) struct Flight {
    topic: Arc<Written>,
    version: u64,
}

impl Flight {
    /// The topic sent to.
    pub(crate) fn topic(&self) -> &str {
        &self.topic.name
    }

    /// The topic's send counters, where this send's outcome is counted.
    pub(crate) fn counts(&self) -> &Counters {
        &self.topic.counts
    }

    /// The topic's entry, for counting an outcome reported after the guard is gone.
    pub(crate) fn written(&self) -> &Arc<Written> {
        &self.topic
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.topic.finish(self.version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;

    fn state(phase: Phase, version: u64) -> TopicState {
        TopicState {
            phase,
            version,
            ..Default::default()
        }
    }

    #[test]
    fn a_running_send_from_an_older_state_holds_the_report_back() {
        let t = Arc::new(Written::new("t".into()));
        let u = Arc::new(Written::new("u".into()));
        let now = AppliedPhase {
            phase: Phase::CuttingOver,
            version: 7,
        };
        let same = t.start(&state(Phase::CuttingOver, 7));
        let old = t.start(&state(Phase::DualReadWrite, 5));
        let old_too = t.start(&state(Phase::DualReadWrite, 5));
        assert_eq!(
            t.applied(now),
            AppliedPhase {
                phase: Phase::DualReadWrite,
                version: 5
            }
        );
        assert_eq!(u.applied(now), now, "other topics are not affected");
        drop(old);
        assert_eq!(
            t.applied(now).version,
            5,
            "one send of version 5 still runs"
        );
        drop(old_too);
        assert_eq!(
            t.applied(now),
            now,
            "sends under the current state don't hold it back"
        );
        drop(same);
        assert!(t.running.lock().is_empty());
    }

    #[test]
    fn a_flight_counts_on_its_own_topic() {
        let t = Arc::new(Written::new("orders".into()));
        let f = t.start(&state(Phase::Initial, 1));
        assert_eq!(f.topic(), "orders");
        f.counts().sent(Cluster::Source, 2);
        f.written().counts().failed(Cluster::Target);
        drop(f);
        let s = t.counts().snapshot();
        assert_eq!((s.sent, s.failed), ([2, 0], [0, 1]));
    }
}
