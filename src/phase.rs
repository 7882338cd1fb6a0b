//! Migration phases, their order, and what each phase means for writes and reads.
//!
//! | phase | writes go to | reads come from |
//! |---|---|---|
//! | `Initial` | source | source |
//! | `DualRead` | source | source + target |
//! | `DualReadWrite` | source or target, random split by a per-topic ratio | source + target |
//! | `CuttingOver` | target | source + target |
//! | `Completed` | target | target |
//!
//! Topics that are not under migration behave as [`Phase::Initial`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::error::{ConfigError, ConfigErrorKind};

/// One step of a topic's migration from the source cluster to the target cluster.
///
/// Phases are ordered; every move is one step forward ([`Phase::next`]) or one step back
/// ([`Phase::previous`]), so every step is reversible by one.
///
/// ```
/// use rocketmq_migration::Phase;
/// assert_eq!(Phase::Initial.next(), Some(Phase::DualRead));
/// assert_eq!(Phase::Completed.next(), None);
/// assert_eq!(Phase::DualRead.previous(), Some(Phase::Initial));
/// assert_eq!("dual_read_write".parse::<Phase>().unwrap(), Phase::DualReadWrite);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Writes and reads use the source cluster only.
    #[default]
    Initial,
    /// Writes go to the source; consumers read both clusters.
    DualRead,
    /// Writes are split between the clusters by the topic's write ratio; consumers read both.
    DualReadWrite,
    /// Writes go to the target; consumers still drain the source.
    CuttingOver,
    /// Writes and reads use the target cluster only.
    Completed,
}

/// Where a phase sends new messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePlan {
    /// Every send goes to the source cluster.
    Source,
    /// Every send goes to the target cluster.
    Target,
    /// Each send draws a cluster: the target with probability equal to the topic's write ratio.
    Split,
}

/// Which clusters a phase consumes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadSet {
    /// The source cluster is read.
    pub source: bool,
    /// The target cluster is read.
    pub target: bool,
}

impl ReadSet {
    /// Whether `cluster` is in this read set.
    pub fn contains(self, cluster: Cluster) -> bool {
        match cluster {
            Cluster::Source => self.source,
            Cluster::Target => self.target,
        }
    }

    /// Whether both clusters are read.
    pub fn both(self) -> bool {
        self.source && self.target
    }
}

impl Phase {
    /// All phases in migration order.
    pub const ALL: [Phase; 5] = [
        Phase::Initial,
        Phase::DualRead,
        Phase::DualReadWrite,
        Phase::CuttingOver,
        Phase::Completed,
    ];

    /// The phase one step closer to `Completed`, or `None` at the end.
    pub fn next(self) -> Option<Phase> {
        match self {
            Phase::Initial => Some(Phase::DualRead),
            Phase::DualRead => Some(Phase::DualReadWrite),
            Phase::DualReadWrite => Some(Phase::CuttingOver),
            Phase::CuttingOver => Some(Phase::Completed),
            Phase::Completed => None,
        }
    }

    /// The phase one step closer to `Initial`, or `None` at the start.
    pub fn previous(self) -> Option<Phase> {
        match self {
            Phase::Initial => None,
            Phase::DualRead => Some(Phase::Initial),
            Phase::DualReadWrite => Some(Phase::DualRead),
            Phase::CuttingOver => Some(Phase::DualReadWrite),
            Phase::Completed => Some(Phase::CuttingOver),
        }
    }

    /// Where this phase sends new messages.
    ///
    /// ```
    /// use rocketmq_migration::{Phase, WritePlan};
    /// assert_eq!(Phase::DualRead.write_plan(), WritePlan::Source);
    /// assert_eq!(Phase::DualReadWrite.write_plan(), WritePlan::Split);
    /// assert_eq!(Phase::CuttingOver.write_plan(), WritePlan::Target);
    /// ```
    pub fn write_plan(self) -> WritePlan {
        match self {
            Phase::Initial | Phase::DualRead => WritePlan::Source,
            Phase::DualReadWrite => WritePlan::Split,
            Phase::CuttingOver | Phase::Completed => WritePlan::Target,
        }
    }

    /// Which clusters this phase reads.
    ///
    /// ```
    /// use rocketmq_migration::{Cluster, Phase};
    /// assert!(Phase::Initial.read_set().contains(Cluster::Source));
    /// assert!(!Phase::Initial.read_set().contains(Cluster::Target));
    /// assert!(Phase::CuttingOver.read_set().both());
    /// assert!(!Phase::Completed.read_set().contains(Cluster::Source));
    /// ```
    pub fn read_set(self) -> ReadSet {
        match self {
            Phase::Initial => ReadSet {
                source: true,
                target: false,
            },
            Phase::DualRead | Phase::DualReadWrite | Phase::CuttingOver => ReadSet {
                source: true,
                target: true,
            },
            Phase::Completed => ReadSet {
                source: false,
                target: true,
            },
        }
    }

    /// Whether this phase writes to `cluster` (both do in `DualReadWrite`).
    ///
    /// ```
    /// use rocketmq_migration::{Cluster, Phase};
    /// assert!(Phase::DualReadWrite.writes(Cluster::Target));
    /// assert!(!Phase::DualRead.writes(Cluster::Target));
    /// ```
    pub fn writes(self, cluster: Cluster) -> bool {
        match self.write_plan() {
            WritePlan::Source => cluster == Cluster::Source,
            WritePlan::Target => cluster == Cluster::Target,
            WritePlan::Split => true,
        }
    }

    /// Position in migration order: `Initial` is 0, `Completed` is 4.
    pub fn ordinal(self) -> u8 {
        match self {
            Phase::Initial => 0,
            Phase::DualRead => 1,
            Phase::DualReadWrite => 2,
            Phase::CuttingOver => 3,
            Phase::Completed => 4,
        }
    }

    /// Whether a failed send may be retried on the other cluster in this phase.
    ///
    /// Only where consumers read both clusters, so a message written to either one is still consumed.
    pub fn allows_failover(self) -> bool {
        self.read_set().both()
    }

    /// The snake_case name used on the wire and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Initial => "initial",
            Phase::DualRead => "dual_read",
            Phase::DualReadWrite => "dual_read_write",
            Phase::CuttingOver => "cutting_over",
            Phase::Completed => "completed",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::InvalidPhase,
                    "phase",
                    s,
                    "expected one of initial, dual_read, dual_read_write, cutting_over, completed",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_previous_are_inverse() {
        for p in Phase::ALL {
            if let Some(n) = p.next() {
                assert_eq!(n.previous(), Some(p));
            }
            if let Some(q) = p.previous() {
                assert_eq!(q.next(), Some(p));
            }
        }
        assert_eq!(Phase::Initial.previous(), None);
        assert_eq!(Phase::Completed.next(), None);
    }

    #[test]
    fn plans_match_the_table() {
        use Cluster::*;
        let table = [
            (Phase::Initial, WritePlan::Source, true, false),
            (Phase::DualRead, WritePlan::Source, true, true),
            (Phase::DualReadWrite, WritePlan::Split, true, true),
            (Phase::CuttingOver, WritePlan::Target, true, true),
            (Phase::Completed, WritePlan::Target, false, true),
        ];
        for (phase, write, src, dst) in table {
            assert_eq!(phase.write_plan(), write, "{phase}");
            assert_eq!(phase.read_set().contains(Source), src, "{phase}");
            assert_eq!(phase.read_set().contains(Target), dst, "{phase}");
            assert_eq!(phase.allows_failover(), src && dst, "{phase}");
        }
    }

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Phase>(&json).unwrap(), p);
        }
    }

    #[test]
    fn unknown_name_is_an_invalid_phase_error_naming_the_value() {
        let err = "dual-read".parse::<Phase>().unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidPhase);
        assert_eq!(err.field(), "phase");
        assert_eq!(err.value(), "dual-read");
        assert!(serde_json::from_str::<Phase>("\"DualRead\"").is_err());
    }
}
