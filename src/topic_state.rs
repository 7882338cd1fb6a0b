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

#[cfg(test)]
mod tests {
    use super::*;

    fn drw(ratio: f64) -> TopicState {
        TopicState {
            phase: Phase::DualReadWrite,
            write_ratio: ratio,
            version: 1,
            ..Default::default()
        }
    }

    #[test]
    fn split_follows_the_ratio() {
        use rand::Rng;
        let mut rng = rand::rng();
        let s = drw(0.3);
        let n = 100_000;
        let to_target = (0..n)
            .filter(|_| s.write_cluster(rng.random::<f64>()) == Cluster::Target)
            .count();
        let share = to_target as f64 / n as f64;
        assert!((share - 0.3).abs() < 0.02, "share {share}");
        assert!((0..1000).all(|i| drw(0.0).write_cluster(i as f64 / 1000.0) == Cluster::Source));
        assert!((0..1000).all(|i| drw(1.0).write_cluster(i as f64 / 1000.0) == Cluster::Target));
    }

    #[test]
    fn non_split_phases_ignore_the_draw() {
        for (phase, want) in [
            (Phase::Initial, Cluster::Source),
            (Phase::DualRead, Cluster::Source),
            (Phase::CuttingOver, Cluster::Target),
            (Phase::Completed, Cluster::Target),
        ] {
            let s = TopicState {
                phase,
                write_ratio: 0.5,
                version: 1,
                ..Default::default()
            };
            assert_eq!(s.write_cluster(0.0), want);
            assert_eq!(s.write_cluster(0.99), want);
            assert_eq!(s.sticky_cluster(0), want);
            assert_eq!(s.sticky_cluster(9_999), want);
        }
    }

    #[test]
    fn sticky_keys_stay_put_and_only_move_forward_when_ratio_rises() {
        let low = drw(0.2);
        let high = drw(0.6);
        for bucket in 0..STICKY_BUCKETS {
            let a = low.sticky_cluster(bucket);
            assert_eq!(a, low.sticky_cluster(bucket), "stable for bucket {bucket}");
            if a == Cluster::Target {
                assert_eq!(high.sticky_cluster(bucket), Cluster::Target);
            }
        }
        let share = (0..STICKY_BUCKETS)
            .filter(|b| low.sticky_cluster(*b) == Cluster::Target)
            .count();
        assert_eq!(share, 2_000);
    }

    #[test]
    fn neighbouring_buckets_are_spread_over_both_clusters() {
        let s = drw(0.5);
        let targets = (5_000..5_020)
            .filter(|b| s.sticky_cluster(*b) == Cluster::Target)
            .count();
        assert!(
            (5..=15).contains(&targets),
            "{targets} of 20 neighbouring buckets on the target"
        );
        let mut seen = vec![false; STICKY_BUCKETS];
        for b in 0..STICKY_BUCKETS {
            seen[scramble(b)] = true;
        }
        assert!(seen.iter().all(|x| *x), "scramble is a permutation");
    }

    #[test]
    fn orderly_topics_keep_keys_on_the_source_until_cutover_and_never_fail_over() {
        let s = TopicState {
            orderly: true,
            ..drw(0.7)
        };
        assert!((0..STICKY_BUCKETS).all(|b| s.sticky_cluster(b) == Cluster::Source));
        assert!(!s.allows_failover());
        assert!(drw(0.7).allows_failover());
        let cut = TopicState {
            phase: Phase::CuttingOver,
            ..s
        };
        assert_eq!(cut.keyed_cluster(), Cluster::Target);
        // Unkeyed sends still follow the ratio.
        assert_eq!(s.write_cluster(0.1), Cluster::Target);
    }
}
