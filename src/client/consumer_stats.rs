//! Consumer counters: totals, and per topic read.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use rocketmq_model::common::message::message_ext::MessageExt;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::control::wire::{ClusterCounters, Counters as WireCounters};
use crate::names;

/// A snapshot of a migrating consumer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsumerStats {
    /// Messages delivered by each cluster (`[source, target]`), before dedupe.
    pub received: [u64; 2],
    /// Messages passed to the application's listener, per cluster.
    pub delivered: [u64; 2],
    /// Deliveries acknowledged without calling the listener because their key was consumed already.
    pub duplicates_suppressed: u64,
    /// Duplicates suppressed, by the cluster the suppressed copy came from.
    pub duplicates_from: [u64; 2],
    /// Deliveries postponed because another delivery of the same key was being consumed.
    pub in_flight_retries: u64,
    /// Messages postponed because the dedupe store could not answer and fails closed
    /// ([`crate::dedupe::Begin::Unavailable`]).
    pub store_unavailable: u64,
    /// Target messages of orderly topics offered during `CuttingOver` and held back (each offer counts) until the
    /// source was sealed and drained.
    pub held_back: u64,
    /// Listener calls that failed or asked for a retry.
    pub listener_failures: u64,
}

impl ConsumerStats {
    /// Messages delivered by `cluster`, before dedupe.
    pub fn received_from(&self, cluster: Cluster) -> u64 {
        self.received[cluster.index()]
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: [AtomicU64; 2],
    pub(crate) delivered: [AtomicU64; 2],
    pub(crate) duplicates: [AtomicU64; 2],
    pub(crate) in_flight: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) held: AtomicU64,
    pub(crate) failures: AtomicU64,
}

impl Counters {
    pub(crate) fn add(a: &AtomicU64, n: usize) {
        a.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ConsumerStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConsumerStats {
            received: [l(&self.received[0]), l(&self.received[1])],
            delivered: [l(&self.delivered[0]), l(&self.delivered[1])],
            duplicates_suppressed: l(&self.duplicates[0]) + l(&self.duplicates[1]),
            duplicates_from: [l(&self.duplicates[0]), l(&self.duplicates[1])],
            in_flight_retries: l(&self.in_flight),
            store_unavailable: l(&self.unavailable),
            held_back: l(&self.held),
            listener_failures: l(&self.failures),
        }
    }
}

/// The property a redelivery from a group's retry topic carries its original topic in.
const RETRY_TOPIC_PROPERTY: &str = "RETRY_TOPIC";

/// The prefix of a consumer group's retry topic (`%RETRY%<group>`).
const RETRY_PREFIX: &str = "%RETRY%";

/// One topic's deliveries, per cluster (`[source, target]`).
#[derive(Debug, Default)]
struct TopicCount {
    received: [AtomicU64; 2],
    duplicates: [AtomicU64; 2],
}

/// A consumer's counts per topic it reads: messages received and duplicates suppressed, per cluster, under the
/// names the application subscribed with (or assigned queues of).
///
/// Only topics named by [`TopicCounts::track`] (the consumer's subscriptions and assignments) have an entry, so
/// the map cannot grow from whatever topics deliveries carry. A delivery is counted under its topic, or under the
/// original topic (`RETRY_TOPIC`) when it is a redelivery from the group's retry topic; a name still in the
/// cluster's client namespace is counted under its short name. A delivery of no tracked topic is counted in the
/// totals only.
#[derive(Debug, Default)]
pub(crate) struct TopicCounts {
    /// The client namespace in use on each cluster.
    namespaces: [Option<String>; 2],
    topics: RwLock<HashMap<String, TopicCount>>,
}

impl TopicCounts {
    /// Counts for a consumer whose clusters use `namespaces` (`[source, target]`).
    pub(crate) fn new(namespaces: [Option<String>; 2]) -> Self {
        TopicCounts {
            namespaces,
            topics: RwLock::default(),
        }
    }

    /// Counts for a consumer of `source` and `target`, with the namespaces they use.
    pub(crate) fn for_clusters(source: &ClusterConfig, target: &ClusterConfig) -> Self {
        let ns = |c: &ClusterConfig| c.namespace_in_use().map(str::to_owned);
        TopicCounts::new([ns(source), ns(target)])
    }

    /// Count deliveries of `topic` from now on (kept once added, so a topic subscribed again counts on).
    pub(crate) fn track(&self, topic: &str) {
        if !self.topics.read().contains_key(topic) {
            self.topics.write().entry(topic.to_owned()).or_default();
        }
    }

    /// `msgs` were delivered by `cluster`.
    pub(crate) fn received<'m>(
        &self,
        cluster: Cluster,
        msgs: impl IntoIterator<Item = &'m MessageExt>,
    ) {
        let topics = self.topics.read();
        for m in msgs {
            if let Some(t) = self.entry(&topics, cluster, m) {
                t.received[cluster.index()].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `m`, delivered by `cluster`, was kept from the application as a duplicate.
    pub(crate) fn duplicate(&self, cluster: Cluster, m: &MessageExt) {
        let topics = self.topics.read();
        if let Some(t) = self.entry(&topics, cluster, m) {
            t.duplicates[cluster.index()].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters of each of `topics` (zero for one without deliveries), as a heartbeat reports them.
    pub(crate) fn report<'t>(
        &self,
        topics: impl IntoIterator<Item = &'t String>,
    ) -> BTreeMap<String, WireCounters> {
        let map = self.topics.read();
        topics
            .into_iter()
            .map(|t| {
                let counts = map.get(t.as_str()).map_or_else(WireCounters::default, |c| {
                    let side = |cl: Cluster| ClusterCounters {
                        received: c.received[cl.index()].load(Ordering::Relaxed),
                        duplicates_suppressed: c.duplicates[cl.index()].load(Ordering::Relaxed),
                        ..Default::default()
                    };
                    WireCounters {
                        source: side(Cluster::Source),
                        target: side(Cluster::Target),
                    }
                });
                (t.clone(), counts)
            })
            .collect()
    }

    /// The entry `m` counts under, if its topic is tracked. No allocation unless the name has to be taken out of
    /// the cluster's namespace.
    fn entry<'a>(
        &self,
        topics: &'a HashMap<String, TopicCount>,
        cluster: Cluster,
        m: &MessageExt,
    ) -> Option<&'a TopicCount> {
        let topic = application_topic(m);
        if let Some(t) = topics.get(topic) {
            return Some(t);
        }
        let ns = self.namespaces[cluster.index()].as_deref()?;
        topics.get(names::short(Some(ns), topic)?.as_str())
    }
}

/// The topic a delivery belongs to: its own, or for a redelivery from a retry topic the original one.
fn application_topic(m: &MessageExt) -> &str {
    let topic = m.topic().as_str();
    if topic.starts_with(RETRY_PREFIX) {
        if let Some(original) = m.properties().get(RETRY_TOPIC_PROPERTY) {
            return original.as_str();
        }
    }
    topic
}

#[cfg(test)]
mod tests {
    use cheetah_string::CheetahString;
    use rocketmq_model::common::message::MessageTrait;

    use super::*;

    fn message(topic: &str, retry_topic: Option<&str>) -> MessageExt {
        let mut m = MessageExt::default();
        m.set_topic(CheetahString::from(topic));
        if let Some(t) = retry_topic {
            m.put_property(
                CheetahString::from_static_str(RETRY_TOPIC_PROPERTY),
                CheetahString::from(t),
            );
        }
        m
    }

    fn counts(c: &TopicCounts, topics: &[&str]) -> Vec<(String, [u64; 2], [u64; 2])> {
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        c.report(&names)
            .into_iter()
            .map(|(t, w)| {
                (
                    t,
                    [w.source.received, w.target.received],
                    [
                        w.source.duplicates_suppressed,
                        w.target.duplicates_suppressed,
                    ],
                )
            })
            .collect()
    }

    #[test]
    fn deliveries_count_under_the_subscribed_topic() {
        let c = TopicCounts::new([None, Some("ns".into())]);
        c.track("a");
        c.track("b");
        c.track("a");
        let a = message("a", None);
        let b = message("b", None);
        c.received(Cluster::Source, [&a, &a, &a]);
        c.received(Cluster::Target, [&b, &b]);
        c.duplicate(Cluster::Target, &b);
        // A redelivery from the group's retry topic counts under the original topic (as the broker names it, in
        // the target's namespace), whatever the delivered message's topic.
        let retry = message("%RETRY%cg", Some("ns%b"));
        c.received(Cluster::Target, [&retry]);
        // The source has no namespace: a full name there is a different topic.
        let foreign = message("ns%b", None);
        let untracked = message("zzz", None);
        let retry_untracked = message("%RETRY%cg", Some("zzz"));
        c.received(Cluster::Source, [&foreign, &untracked, &retry_untracked]);
        c.duplicate(Cluster::Source, &untracked);
        assert_eq!(
            counts(&c, &["a", "b", "never"]),
            [
                ("a".to_owned(), [3, 0], [0, 0]),
                ("b".to_owned(), [0, 3], [0, 1]),
                ("never".to_owned(), [0, 0], [0, 0]),
            ]
        );
        assert_eq!(
            c.topics.read().len(),
            2,
            "only tracked topics have an entry"
        );
    }
}
