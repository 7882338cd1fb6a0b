//! The measured surface of the monitoring store for `examples/monitor_memory.rs`: the store is crate-private, so
//! the example drives it through this wrapper. Not an API; it may change with the example.

use std::time::{Duration, SystemTime};

use super::{ClusterSample, Monitor, MonitorConfig, TopicSample};
use crate::control::wire::{MonitorDoc, MonitorPoint};

/// One cluster's cumulative values, as plain numbers: stored, consumed and backlog (`None`: unknown), sent,
/// received.
pub type BenchCluster = (Option<u64>, Option<u64>, Option<u64>, u64, u64);

/// A monitoring store with the default configuration.
#[derive(Debug)]
pub struct MonitorBench {
    monitor: Monitor,
}

impl Default for MonitorBench {
    fn default() -> Self {
        MonitorBench {
            monitor: Monitor::new(MonitorConfig::default())
                .expect("the default configuration is valid"),
        }
    }
}

impl MonitorBench {
    /// Record one topic's cumulative values at `at`.
    pub fn record(
        &mut self,
        at: SystemTime,
        topic: &str,
        source: BenchCluster,
        target: BenchCluster,
        failed_over: u64,
        duplicates: u64,
    ) {
        let cluster = |(stored, consumed, backlog, sent, received): BenchCluster| ClusterSample {
            stored,
            consumed,
            backlog,
            sent,
            received,
        };
        let sample = TopicSample {
            source: cluster(source),
            target: cluster(target),
            failed_over,
            duplicates,
        };
        self.monitor.record(at, topic, sample);
    }

    /// End the tick at `at`.
    pub fn end_tick(&mut self, at: SystemTime) {
        self.monitor.end_tick(at);
    }

    /// The series of `topic` (`None`: the task) since `since`, as its wire document.
    pub fn series(
        &self,
        topic: Option<&str>,
        since: SystemTime,
        resolution: Option<Duration>,
    ) -> Option<MonitorDoc> {
        let series = self.monitor.series(topic, since, resolution)?;
        Some(series.into_doc(topic.map(str::to_owned)))
    }

    /// The newest fine point of `topic` (`None`: the task).
    pub fn latest(&self, topic: Option<&str>) -> Option<MonitorPoint> {
        self.monitor.latest(topic)
    }

    /// Keep only the topics `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&str) -> bool) {
        self.monitor.retain(keep);
    }

    /// Topics watched.
    pub fn topic_count(&self) -> usize {
        self.monitor.topic_count()
    }

    /// Bytes the store holds now.
    pub fn memory_bytes(&self) -> usize {
        self.monitor.memory_bytes()
    }
}
