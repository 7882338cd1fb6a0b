//! Sends in flight, by topic and the state version they were routed under.
//!
//! A producer reports a topic's phase to the control plane as applied only once no send routed under an earlier
//! state of the topic is still running: "applied `CuttingOver`" then means "nothing more of mine will land on the
//! source", which is what sealing an orderly topic needs (and what the `producers_applied` gate means).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::control::wire::AppliedPhase;
use crate::phase::Phase;
use crate::route::TopicState;

/// Running sends of one topic: state version -> (phase of that version, count).
type ByVersion = BTreeMap<u64, (Phase, usize)>;

/// Counts of running sends per topic and state version.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    running: Mutex<HashMap<String, ByVersion>>,
}

impl Flights {
    /// Count one send of `topic` routed under `state` until the returned guard is dropped.
    pub(crate) fn start(self: &Arc<Self>, topic: &str, state: &TopicState) -> Flight {
        let mut running = self.running.lock();
        let versions = match running.get_mut(topic) {
            Some(v) => v,
            None => running.entry(topic.to_owned()).or_default(),
        };
        versions.entry(state.version).or_insert((state.phase, 0)).1 += 1;
        Flight {
            flights: self.clone(),
            topic: topic.to_owned(),
            version: state.version,
        }
    }

    /// What to report as applied for `topic` when the table says `current`: the oldest state a running send was
    /// routed under, if it is older than `current`.
    pub(crate) fn applied(&self, topic: &str, current: AppliedPhase) -> AppliedPhase {
        let running = self.running.lock();
        match running.get(topic).and_then(|v| v.iter().next()) {
            Some((version, (phase, _))) if *version < current.version => AppliedPhase {
                phase: *phase,
                version: *version,
            },
            _ => current,
        }
    }

    fn finish(&self, topic: &str, version: u64) {
        let mut running = self.running.lock();
        if let Some(versions) = running.get_mut(topic) {
            if let Some(entry) = versions.get_mut(&version) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    versions.remove(&version);
                }
            }
            if versions.is_empty() {
                running.remove(topic);
            }
        }
    }
}

/// One running send; dropping it (the send finished, or its callback ran) ends it.
#[derive(Debug)]
pub(crate) struct Flight {
    flights: Arc<Flights>,
    topic: String,
    version: u64,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.flights.finish(&self.topic, self.version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(phase: Phase, version: u64) -> TopicState {
        TopicState {
            phase,
            version,
            ..Default::default()
        }
    }

    #[test]
    fn a_running_send_from_an_older_state_holds_the_report_back() {
        let f = Arc::new(Flights::default());
        let now = AppliedPhase {
            phase: Phase::CuttingOver,
            version: 7,
        };
        let old = f.start("t", &state(Phase::DualReadWrite, 5));
        let same = f.start("t", &state(Phase::CuttingOver, 7));
        assert_eq!(
            f.applied("t", now),
            AppliedPhase {
                phase: Phase::DualReadWrite,
                version: 5
            }
        );
        assert_eq!(f.applied("u", now), now, "other topics are not affected");
        drop(old);
        assert_eq!(
            f.applied("t", now),
            now,
            "sends under the current state don't hold it back"
        );
        drop(same);
        assert!(f.running.lock().is_empty());
    }
}
