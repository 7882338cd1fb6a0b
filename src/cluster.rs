//! The two clusters of a migration.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One side of a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cluster {
    /// The cluster being migrated away from (e.g. self-built).
    Source,
    /// The cluster being migrated to (e.g. a managed cloud cluster).
    Target,
}

impl Cluster {
    /// Both clusters, source first.
    pub const BOTH: [Cluster; 2] = [Cluster::Source, Cluster::Target];

    /// The other cluster.
    ///
    /// ```
    /// use rocketmq_migration::Cluster;
    /// assert_eq!(Cluster::Source.other(), Cluster::Target);
    /// ```
    pub fn other(self) -> Cluster {
        match self {
            Cluster::Source => Cluster::Target,
            Cluster::Target => Cluster::Source,
        }
    }

    /// `0` for the source, `1` for the target: an index into per-cluster arrays.
    pub fn index(self) -> usize {
        match self {
            Cluster::Source => 0,
            Cluster::Target => 1,
        }
    }

    /// `"source"` or `"target"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cluster::Source => "source",
            Cluster::Target => "target",
        }
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
