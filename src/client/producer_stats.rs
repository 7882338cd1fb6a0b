//! Producer counters.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::cluster::Cluster;
use crate::control::wire::{ClusterCounters, Counters as WireCounters};

/// A snapshot of a migrating producer's counters, per cluster (`[source, target]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProducerStats {
    /// Sends acknowledged by each cluster (a batch counts once per message).
    pub sent: [u64; 2],
    /// Sends that failed on each cluster and were retried on the other.
    pub failed_over_from: [u64; 2],
    /// Sends that failed for good, by the cluster of the last attempt.
    pub failed: [u64; 2],
}

impl ProducerStats {
    /// Acknowledged sends on `cluster`.
    pub fn sent_to(&self, cluster: Cluster) -> u64 {
        self.sent[cluster.index()]
    }

    /// Add `other`'s counts to these (a producer's totals are the sum of its topics' counts).
    pub(crate) fn add(&mut self, other: &ProducerStats) {
        for i in 0..2 {
            self.sent[i] += other.sent[i];
            self.failed_over_from[i] += other.failed_over_from[i];
            self.failed[i] += other.failed[i];
        }
    }

    /// These counts as the control plane's per-cluster counters.
    pub(crate) fn wire(&self) -> WireCounters {
        let side = |c: Cluster| ClusterCounters {
            sent: self.sent[c.index()],
            failed_over: self.failed_over_from[c.index()],
            failed: self.failed[c.index()],
            ..Default::default()
        };
        WireCounters {
            source: side(Cluster::Source),
            target: side(Cluster::Target),
        }
    }
}

/// The send counters of one topic a producer writes (the producer's totals are their sum).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: [AtomicU64; 2],
    failed_over_from: [AtomicU64; 2],
    failed: [AtomicU64; 2],
}

impl Counters {
    /// `n` messages acknowledged by `c`.
    pub(crate) fn sent(&self, c: Cluster, n: u64) {
        self.sent[c.index()].fetch_add(n, Ordering::Relaxed);
    }
    /// A send failed on `c` and is retried on the other cluster.
    pub(crate) fn failed_over_from(&self, c: Cluster) {
        self.failed_over_from[c.index()].fetch_add(1, Ordering::Relaxed);
    }
    /// A send failed for good, its last attempt on `c`.
    pub(crate) fn failed(&self, c: Cluster) {
        self.failed[c.index()].fetch_add(1, Ordering::Relaxed);
    }
    /// The counts now.
    pub(crate) fn snapshot(&self) -> ProducerStats {
        let load =
            |a: &[AtomicU64; 2]| [a[0].load(Ordering::Relaxed), a[1].load(Ordering::Relaxed)];
        ProducerStats {
            sent: load(&self.sent),
            failed_over_from: load(&self.failed_over_from),
            failed: load(&self.failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_wire_counters_keep_each_cluster_apart() {
        let a = Counters::default();
        a.sent(Cluster::Source, 3);
        a.failed_over_from(Cluster::Target);
        let b = Counters::default();
        b.sent(Cluster::Target, 5);
        b.failed(Cluster::Target);
        let mut total = ProducerStats::default();
        total.add(&a.snapshot());
        total.add(&b.snapshot());
        assert_eq!(
            total,
            ProducerStats {
                sent: [3, 5],
                failed_over_from: [0, 1],
                failed: [0, 1],
            }
        );
        let w = total.wire();
        assert_eq!((w.source.sent, w.target.sent), (3, 5));
        assert_eq!((w.source.failed_over, w.target.failed_over), (0, 1));
        assert_eq!((w.source.failed, w.target.failed), (0, 1));
        assert_eq!(w.source.received + w.target.received, 0);
    }
}
