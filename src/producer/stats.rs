//! Producer counters.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::cluster::Cluster;

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
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: [AtomicU64; 2],
    failed_over_from: [AtomicU64; 2],
    failed: [AtomicU64; 2],
}

impl Counters {
    pub(crate) fn sent(&self, c: Cluster, n: u64) {
        self.sent[c.index()].fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn failed_over_from(&self, c: Cluster) {
        self.failed_over_from[c.index()].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn failed(&self, c: Cluster) {
        self.failed[c.index()].fetch_add(1, Ordering::Relaxed);
    }
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
