//! How a producer, plain or transactional, prepares a message ([`prepare`]) and what it keeps about the topics it
//! writes: the phase table it routes by, and per topic written its send counters and sends in flight; and the
//! heartbeat report built from them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::RwLock;
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

use super::dispatch::Planned;
use super::flight::{Flight, Written};
use super::producer_stats::ProducerStats;
use crate::control::report::{applied_from, Report};
use crate::control::wire::Role;
use crate::route::PhaseHandle;
use crate::topic_state::{draw, TopicState};

/// Stamp the UNIQ_KEY (kept if already set) and take the message as a `Message`, which can be copied for a retry.
pub(crate) fn prepare<M: MessageTrait>(mut msg: M) -> Message {
    MessageClientIDSetter::set_uniq_id(&mut msg);
    msg.into_message()
}

/// The routing state both producers share.
pub(crate) struct Writes {
    phases: PhaseHandle,
    // Topics this producer has sent to (plus any named up front), reported to the control plane, each with its
    // counters and running sends. Only routed topics get an entry, so it grows with the topics written.
    topics: RwLock<BTreeMap<String, Arc<Written>>>,
}

impl Writes {
    /// Routing by `phases`, with `topics` known as written from the start.
    pub(crate) fn new(phases: PhaseHandle, topics: BTreeSet<String>) -> Self {
        let topics = topics
            .into_iter()
            .map(|t| (t.clone(), Arc::new(Written::new(t))))
            .collect();
        Writes {
            phases,
            topics: RwLock::new(topics),
        }
    }

    /// The phase table this producer follows.
    pub(crate) fn phases(&self) -> &PhaseHandle {
        &self.phases
    }

    /// The topics this producer has written (or was told it writes), sorted.
    pub(crate) fn topics(&self) -> Vec<String> {
        self.topics.read().keys().cloned().collect()
    }

    /// The entry of `topic`, made on its first use. A topic seen before costs a read-locked lookup and a
    /// reference count, no allocation.
    fn written(&self, topic: &str) -> Arc<Written> {
        if let Some(w) = self.topics.read().get(topic) {
            return w.clone();
        }
        self.topics
            .write()
            .entry(topic.to_owned())
            .or_insert_with(|| Arc::new(Written::new(topic.to_owned())))
            .clone()
    }

    /// The phase state of `topic` for one operation, noting the topic as one this producer writes.
    pub(crate) fn state_of(&self, topic: &str) -> TopicState {
        self.written(topic);
        self.phases.topic(topic)
    }

    /// The phase state of `topic` for one send, and the guard that counts the send as running under it until
    /// dropped (keep it until the send's outcome is known) and carries the topic's counters for that outcome.
    pub(crate) fn route(&self, topic: &str) -> (TopicState, Flight) {
        let written = self.written(topic);
        let state = self.phases.topic(topic);
        let flight = written.start(&state);
        (state, flight)
    }

    /// A send on `topic` planned from one snapshot of its state: the first cluster is drawn by the topic's write
    /// ratio; the plan holds the send's flight.
    pub(crate) fn plan(&self, topic: &str) -> Planned {
        let (state, flight) = self.route(topic);
        Planned::new(state, state.write_cluster(draw()), flight)
    }

    /// The producer's counters: the sum over its topics.
    pub(crate) fn stats(&self) -> ProducerStats {
        let mut total = ProducerStats::default();
        for w in self.topics.read().values() {
            total.add(&w.counts().snapshot());
        }
        total
    }

    /// What a producer of `group` reports: the topics it wrote, its per-cluster counters in total and per topic,
    /// its pins, and per topic the phase it applied, which is held back while a send routed under an earlier
    /// state of the topic is still running (see `flight.rs`).
    pub(crate) fn report(&self, group: &str) -> Report {
        let written: Vec<(String, Arc<Written>)> = self
            .topics
            .read()
            .iter()
            .map(|(t, w)| (t.clone(), w.clone()))
            .collect();
        let mut total = ProducerStats::default();
        let per_topic = written
            .iter()
            .map(|(t, w)| {
                let s = w.counts().snapshot();
                total.add(&s);
                (t.clone(), s.wire())
            })
            .collect();
        let table = self.phases.snapshot();
        let by_name: BTreeMap<&str, &Arc<Written>> =
            written.iter().map(|(t, w)| (t.as_str(), w)).collect();
        Report {
            role: Role::Producer,
            group: group.to_owned(),
            topics: written.iter().map(|(t, _)| t.clone()).collect(),
            applied: applied_from(&table)
                .into_iter()
                .map(|(t, a)| {
                    let a = by_name.get(t.as_str()).map_or(a, |w| w.applied(a));
                    (t, a)
                })
                .collect(),
            counters: total.wire(),
            per_topic,
            pinned: table.pins().map(|p| p.names()).unwrap_or_default(),
            broker_clients: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::phase::Phase;

    #[test]
    fn counts_go_to_the_topic_routed_and_the_totals_are_their_sum() {
        let phases = PhaseHandle::new();
        phases.set_phase("b", Phase::DualReadWrite).unwrap();
        let w = Writes::new(phases, BTreeSet::from(["named".to_owned()]));
        for _ in 0..3 {
            let (_, f) = w.route("a");
            f.counts().sent(Cluster::Source, 1);
        }
        let (_, f) = w.route("b");
        f.counts().sent(Cluster::Target, 5);
        f.counts().failed_over_from(Cluster::Source);
        drop(f);
        let (_, again) = w.route("a");
        assert!(
            Arc::ptr_eq(again.written(), &w.written("a")),
            "a topic seen before reuses its entry"
        );
        drop(again);

        let r = w.report("pg");
        assert_eq!(r.topics, ["a", "b", "named"]);
        assert_eq!(
            r.per_topic.keys().collect::<Vec<_>>(),
            r.topics.iter().collect::<Vec<_>>(),
            "one entry per reported topic"
        );
        assert_eq!(
            (r.per_topic["a"].source.sent, r.per_topic["a"].target.sent),
            (3, 0)
        );
        assert_eq!(
            (r.per_topic["b"].source.sent, r.per_topic["b"].target.sent),
            (0, 5)
        );
        assert_eq!(r.per_topic["b"].source.failed_over, 1);
        assert_eq!(r.per_topic["named"], Default::default());
        assert_eq!((r.counters.source.sent, r.counters.target.sent), (3, 5));
        assert_eq!(r.counters.source.failed_over, 1);
        assert_eq!(w.stats().sent, [3, 5]);
        assert_eq!(w.stats().failed_over_from, [1, 0]);
    }

    #[test]
    fn a_planned_send_copies_for_failover_only_where_the_phase_can_and_counts_its_outcome() {
        let phases = PhaseHandle::new();
        phases.set_phase("dual", Phase::DualRead).unwrap();
        phases.set_phase("done", Phase::Completed).unwrap();
        let w = Writes::new(phases, BTreeSet::new());

        let p = w.plan("fresh").count(3);
        assert_eq!((p.first, p.count), (Cluster::Source, 3));
        assert_eq!(p.spare(&"m"), None, "initial: no failover, no copy");
        p.finish(true);

        let p = w.plan("dual");
        assert_eq!(p.first, Cluster::Source);
        assert_eq!(p.spare(&"m"), Some("m"), "dual_read: a copy for the target");
        p.finish(false);

        let p = w.plan("done");
        assert_eq!(p.first, Cluster::Target);
        assert_eq!(p.spare(&"m"), None, "completed: no failover, no copy");
        p.finish(true);

        let stats = w.stats();
        assert_eq!(stats.sent, [3, 1]);
        assert_eq!(stats.failed, [1, 0]);
    }

    #[test]
    fn an_operation_without_a_send_notes_the_topic_uncounted() {
        let w = Writes::new(PhaseHandle::new(), BTreeSet::new());
        assert_eq!(w.state_of("q").phase, Phase::Initial);
        assert_eq!(w.topics(), ["q"]);
        assert_eq!(w.stats(), ProducerStats::default());
    }
}
