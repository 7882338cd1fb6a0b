//! Counters of the transactional producer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

use crate::client::producer_stats::ProducerStats;
use crate::cluster::Cluster;

/// A snapshot of a [`MigratingTransactionProducer`](super::MigratingTransactionProducer)'s transaction counters;
/// arrays are per cluster (`[source, target]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TransactionStats {
    /// Sends of every kind (half messages and normal sends), as a [`MigratingProducer`](crate::MigratingProducer)
    /// counts them.
    pub sends: ProducerStats,
    /// Half messages each cluster acknowledged.
    pub half_sent: [u64; 2],
    /// Transactions whose local state was `Unknown` when sent, so only a check-back could decide them.
    pub unknown_at_send: [u64; 2],
    /// Check-backs each cluster's broker sent to this producer (every answer counts, `Unknown` too).
    pub checks: [u64; 2],
    /// Check-backs that decided (commit or rollback) a transaction this producer was tracking as pending.
    pub resolved_by_check: [u64; 2],
    /// Check-backs for transactions this process did not send (e.g. left by an earlier process of the group).
    pub foreign_checks: [u64; 2],
    /// Source transactions still pending (see [`MigratingTransactionProducer`](super::MigratingTransactionProducer)).
    pub pending_source: u64,
    /// Pending source transactions given up on when the maximum linger ran out.
    pub abandoned: u64,
    /// Whether the source-side raw producer is running now.
    pub source_running: bool,
    /// How often the source-side producer was shut down because nothing needed it any more.
    pub source_retirements: u64,
}

#[derive(Debug, Default)]
pub(crate) struct TxCounters {
    half_sent: [AtomicU64; 2],
    unknown_at_send: [AtomicU64; 2],
    checks: [AtomicU64; 2],
    resolved_by_check: [AtomicU64; 2],
    foreign_checks: [AtomicU64; 2],
    abandoned: AtomicU64,
    source_retirements: AtomicU64,
    pub(crate) running: [AtomicBool; 2],
}

fn bump(a: &[AtomicU64; 2], c: Cluster) {
    a[c.index()].fetch_add(1, Ordering::Relaxed);
}

fn load(a: &[AtomicU64; 2]) -> [u64; 2] {
    [a[0].load(Ordering::Relaxed), a[1].load(Ordering::Relaxed)]
}

impl TxCounters {
    pub(crate) fn half_sent(&self, c: Cluster) {
        bump(&self.half_sent, c);
    }
    pub(crate) fn unknown_at_send(&self, c: Cluster) {
        bump(&self.unknown_at_send, c);
    }
    pub(crate) fn check(&self, c: Cluster) {
        bump(&self.checks, c);
    }
    pub(crate) fn resolved_by_check(&self, c: Cluster) {
        bump(&self.resolved_by_check, c);
    }
    pub(crate) fn foreign_check(&self, c: Cluster) {
        bump(&self.foreign_checks, c);
    }
    pub(crate) fn abandoned(&self, n: u64) {
        self.abandoned.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn retired(&self) {
        self.source_retirements.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self, sends: ProducerStats, pending_source: u64) -> TransactionStats {
        TransactionStats {
            sends,
            half_sent: load(&self.half_sent),
            unknown_at_send: load(&self.unknown_at_send),
            checks: load(&self.checks),
            resolved_by_check: load(&self.resolved_by_check),
            foreign_checks: load(&self.foreign_checks),
            pending_source,
            abandoned: self.abandoned.load(Ordering::Relaxed),
            source_running: self.running[Cluster::Source.index()].load(Ordering::Acquire),
            source_retirements: self.source_retirements.load(Ordering::Relaxed),
        }
    }
}
