//! What a producer, plain or transactional, keeps about the topics it writes: the phase table it routes by, the
//! topics it has sent to, and its sends in flight; and the heartbeat report built from them.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard};

use super::flight::{Flight, Flights};
use super::Counters;
use crate::cluster::Cluster;
use crate::control::report::{applied_from, Report};
use crate::control::wire::{ClusterCounters, Counters as WireCounters, Role};
use crate::route::{PhaseHandle, TopicState};

/// The routing state both producers share.
pub(crate) struct Writes {
    phases: PhaseHandle,
    // Topics this producer has sent to (plus any named up front), reported to the control plane.
    topics: RwLock<BTreeSet<String>>,
    // Sends running, by the topic state they were routed under.
    flights: Arc<Flights>,
}

impl Writes {
    /// Routing by `phases`, with `topics` known as written from the start.
    pub(crate) fn new(phases: PhaseHandle, topics: BTreeSet<String>) -> Self {
        Writes {
            phases,
            topics: RwLock::new(topics),
            flights: Arc::new(Flights::default()),
        }
    }

    /// The phase table this producer follows.
    pub(crate) fn phases(&self) -> &PhaseHandle {
        &self.phases
    }

    /// The topics this producer has written (or was told it writes).
    pub(crate) fn topics(&self) -> RwLockReadGuard<'_, BTreeSet<String>> {
        self.topics.read()
    }

    /// The phase state of `topic` for one operation, noting the topic as one this producer writes.
    pub(crate) fn state_of(&self, topic: &str) -> TopicState {
        if !self.topics.read().contains(topic) {
            self.topics.write().insert(topic.to_owned());
        }
        self.phases.topic(topic)
    }

    /// The phase state of `topic` for one send, and the guard that counts the send as running under it until
    /// dropped (keep it until the send's outcome is known).
    pub(crate) fn route(&self, topic: &str) -> (TopicState, Flight) {
        let state = self.state_of(topic);
        let flight = self.flights.start(topic, &state);
        (state, flight)
    }

    /// What a producer of `group` reports: the topics it wrote, its per-cluster counters, its pins, and per topic
    /// the phase it applied, which is held back while a send routed under an earlier state of the topic is still
    /// running (see `flight.rs`).
    pub(crate) fn report(&self, group: &str, counters: &Counters) -> Report {
        let s = counters.snapshot();
        let side = |c: Cluster| ClusterCounters {
            sent: s.sent[c.index()],
            failed_over: s.failed_over_from[c.index()],
            failed: s.failed[c.index()],
            ..Default::default()
        };
        let table = self.phases.snapshot();
        Report {
            role: Role::Producer,
            group: group.to_owned(),
            topics: self.topics.read().iter().cloned().collect(),
            applied: applied_from(&table)
                .into_iter()
                .map(|(t, a)| {
                    let a = self.flights.applied(&t, a);
                    (t, a)
                })
                .collect(),
            counters: WireCounters {
                source: side(Cluster::Source),
                target: side(Cluster::Target),
            },
            per_topic: Default::default(),
            pinned: table.pins().map(|p| p.names()).unwrap_or_default(),
            broker_clients: Default::default(),
        }
    }
}
