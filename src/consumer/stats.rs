//! Consumer counters.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::cluster::Cluster;

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
