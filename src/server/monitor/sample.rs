//! What the caller observes of one topic at one tick: cumulative values, as counted so far.

/// One topic on one cluster, cumulative as observed now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClusterSample {
    /// Messages ever stored (sum of the topic's queue max offsets); `None` when unknown (the topic does not exist
    /// there, or the query failed).
    pub(crate) stored: Option<u64>,
    /// Messages ever consumed: the sum over the topic's consumer groups of their committed offsets; `None` when
    /// unknown.
    pub(crate) consumed: Option<u64>,
    /// Messages stored but not yet consumed, now (a level, not a count); `None` when unknown.
    pub(crate) backlog: Option<u64>,
    /// Messages the shim clients sent to this cluster, summed over the clients (drops when a client restarts or
    /// leaves).
    pub(crate) sent: u64,
    /// Messages the shim clients received from this cluster, summed over the clients (may drop likewise).
    pub(crate) received: u64,
}

/// One topic at one tick: both clusters plus the shim clients' per-topic counters, cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopicSample {
    /// On the source.
    pub(crate) source: ClusterSample,
    /// On the target.
    pub(crate) target: ClusterSample,
    /// Sends the shim clients retried on the other cluster, summed over the clients (may drop likewise).
    pub(crate) failed_over: u64,
    /// Deliveries the shim consumers suppressed as duplicates, summed over the clients (may drop likewise).
    pub(crate) duplicates: u64,
}
