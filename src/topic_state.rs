//! One topic's migration state (phase, write ratio, version) and the decisions taken from it alone: where a send
//! goes (the write split, key-sticky buckets), whether it may fail over, and the draw the split uses.

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::phase::{Phase, WritePlan};

/// Default share of DualReadWrite sends that go to the target.
pub const DEFAULT_WRITE_RATIO: f64 = 0.5;

/// Number of virtual buckets used for key-sticky routing of selector sends.
pub(crate) const STICKY_BUCKETS: usize = 10_000;

/// The migration state of one topic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicState {
    /// The topic's phase.
    pub phase: Phase,
    /// Share of sends that go to the target in `DualReadWrite`, within `0.0..=1.0`.
    pub write_ratio: f64,
    /// Monotonic version of this topic's state; updates with an older version are ignored.
    pub version: u64,
    /// The topic carries per-key ordered messages (order-preserving cutover): keyed (selector) sends stay on the
    /// source until `CuttingOver` and never fail over, and orderly consumers hold the target's messages in
    /// `CuttingOver` until the source is [`sealed`](TopicState::sealed) and drained. See the README's
    /// "Order-preserving cutover".
    #[serde(default)]
    pub orderly: bool,
    /// Set in `CuttingOver` once every live producer of the topic has applied `CuttingOver` with no send from an
    /// earlier phase in flight: nothing more is written to the source. Cleared by every phase move.
    #[serde(default)]
    pub sealed: bool,
}

impl Default for TopicState {
    fn default() -> Self {
        TopicState {
            phase: Phase::Initial,
            write_ratio: DEFAULT_WRITE_RATIO,
            version: 0,
            orderly: false,
            sealed: false,
        }
    }
}

impl TopicState {
    /// Validate the write ratio: a number within `0.0..=1.0`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_ratio(self.write_ratio)
    }

    /// The cluster a plain (non-selector) send goes to. `draw` is a uniform sample from `0.0..1.0`.
    ///
    /// ```
    /// use rocketmq_migration::{Cluster, Phase, TopicState};
    /// let s = TopicState { phase: Phase::DualReadWrite, write_ratio: 0.25, version: 1, ..Default::default() };
    /// assert_eq!(s.write_cluster(0.10), Cluster::Target);
    /// assert_eq!(s.write_cluster(0.30), Cluster::Source);
    /// ```
    pub fn write_cluster(&self, draw: f64) -> Cluster {
        match self.phase.write_plan() {
            WritePlan::Source => Cluster::Source,
            WritePlan::Target => Cluster::Target,
            WritePlan::Split if draw < self.write_ratio => Cluster::Target,
            WritePlan::Split => Cluster::Source,
        }
    }

    /// Whether a failed send may be retried on the other cluster: in the phases that read both clusters, and never
    /// for an [`orderly`](TopicState::orderly) topic (a retried message would land behind later ones of its key).
    pub fn allows_failover(&self) -> bool {
        self.phase.allows_failover() && !self.orderly
    }

    /// The cluster a keyed (selector) send goes to when no failover is possible: the phase's write cluster, and
    /// the source for an orderly topic in `DualReadWrite` (its keys move in one step, at `CuttingOver`).
    ///
    /// ```
    /// use rocketmq_migration::{Cluster, Phase, TopicState};
    /// let s = TopicState { phase: Phase::DualReadWrite, write_ratio: 1.0, orderly: true, ..Default::default() };
    /// assert_eq!(s.keyed_cluster(), Cluster::Source);
    /// let s = TopicState { phase: Phase::CuttingOver, ..s };
    /// assert_eq!(s.keyed_cluster(), Cluster::Target);
    /// ```
    pub fn keyed_cluster(&self) -> Cluster {
        self.sticky_cluster(0)
    }

    /// The cluster a key-sticky send goes to, given the key's bucket in `0..10_000`.
    ///
    /// The bucket is first scrambled by a fixed permutation of `0..10_000` (hash selectors give neighbouring keys
    /// neighbouring buckets); scrambled buckets below `ratio × 10 000` go to the target. So while the ratio holds
    /// one key always lands on one cluster, and raising the ratio only moves keys from source to target. An
    /// [`orderly`](TopicState::orderly) topic keeps every key on the source in `DualReadWrite`.
    pub fn sticky_cluster(&self, bucket: usize) -> Cluster {
        match self.phase.write_plan() {
            WritePlan::Source => Cluster::Source,
            WritePlan::Target => Cluster::Target,
            WritePlan::Split if self.orderly => Cluster::Source,
            WritePlan::Split => {
                let cut = (self.write_ratio * STICKY_BUCKETS as f64).round() as usize;
                if scramble(bucket) < cut {
                    Cluster::Target
                } else {
                    Cluster::Source
                }
            }
        }
    }
}

/// A fixed permutation of `0..STICKY_BUCKETS` (7919 is coprime with 10 000) that spreads neighbouring buckets.
fn scramble(bucket: usize) -> usize {
    (bucket % STICKY_BUCKETS * 7919 + 1237) % STICKY_BUCKETS
}

pub(crate) fn validate_ratio(ratio: f64) -> Result<(), ConfigError> {
    if ratio.is_finite() && (0.0..=1.0).contains(&ratio) {
        Ok(())
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::InvalidRatio,
            "write_ratio",
            ratio.to_string(),
            "must be a number within 0.0..=1.0",
        ))
    }
}

/// A uniform draw in `0.0..1.0` for the write split.
pub(crate) fn draw() -> f64 {
    rand::random::<f64>()
}
