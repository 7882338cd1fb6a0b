//! What every cluster's listener (push consumer) or claim (lite pull consumer) shares: the dedupe store and key,
//! the counters, and the activity that decides how long a cluster is read on.

use std::sync::Arc;

use super::builder::DedupeChoice;
use super::consumer_stats::{Counters, TopicCounts};
use crate::config::ClusterConfig;
use crate::dedupe::{Deduplicator, KeyExtractor};
use crate::linger::Activity;

/// The merge state both clusters' deliveries go through.
pub(crate) struct MergeShared {
    pub(crate) dedupe: Option<Arc<dyn Deduplicator>>,
    pub(crate) key: Arc<dyn KeyExtractor>,
    pub(crate) counters: Counters,
    /// The same counts (received, duplicates) per topic read.
    pub(crate) topics: TopicCounts,
    /// Deliveries and outstanding retries per cluster, for lingering after a cluster leaves a read set.
    pub(crate) activity: Activity,
    /// Clustering push consumers: the deliveries a message gets before the broker moves it to the dead letters
    /// (negative: the broker's default); `None` where a failure is not retried (broadcasting, lite pull).
    pub(crate) retries: Option<i32>,
}

impl MergeShared {
    /// The merge state of a consumer of `clusters` with the builder's dedupe choice.
    pub(crate) fn new(
        dedupe: DedupeChoice,
        clusters: &[ClusterConfig; 2],
        retries: Option<i32>,
    ) -> Self {
        let (dedupe, key) = dedupe.resolve();
        MergeShared {
            dedupe,
            key,
            counters: Counters::default(),
            topics: TopicCounts::for_clusters(&clusters[0], &clusters[1]),
            activity: Activity::default(),
            retries,
        }
    }
}
