//! Where an embedded cluster keeps its files, chosen so that its broker accepts writes.
//!
//! A rocketmq-store 1.0.0 broker measures its disk as `(total − available) / total` of the file system holding its
//! store and refuses every write (`broker.operation.failed`, the store's "disk full" flag) above 90 %, whatever its
//! config says (the ratio is clamped to at most 0.90). On thin-provisioned build machines that measure is far above
//! what `df` shows as `Use%`: a 252 GB volume with 43 GB available measures 83 % while `df` prints 54 %, and a debug
//! build of this crate takes away another ~20 GB. So the test kit prefers memory-backed `/dev/shm`, falls back to
//! the system temp dir, and refuses to start a cluster where the broker would refuse writes, naming the directory
//! and the figures, instead of letting every send of a test fail.
//!
//! `RMQ_TESTKIT_DIR=<dir>` chooses the parent directory explicitly (it is still checked).

use std::path::{Path, PathBuf};

use crate::error::{MigrationError, ToolErrorKind};

/// The environment variable naming the parent directory of embedded clusters' temp dirs.
pub const TESTKIT_DIR_ENV: &str = "RMQ_TESTKIT_DIR";

/// The broker refuses writes above 90 % by its measure; starting a cluster leaves this much margin for what the
/// test itself writes and for other processes on the machine.
const MAX_USED_AT_START: f64 = 0.85;

/// `/dev/shm` is used only with at least this much room (a test cluster writes tens of MiB, most tests two).
const MIN_SHM_AVAILABLE: u64 = 2 * 1024 * 1024 * 1024;

/// The disk figures of one candidate directory, by the broker's own measure.
#[derive(Clone, Copy, Debug)]
struct Usage {
    total: u64,
    available: u64,
}

impl Usage {
    fn of(dir: &Path) -> std::io::Result<Usage> {
        Ok(Usage {
            total: fs2::total_space(dir)?,
            available: fs2::available_space(dir)?,
        })
    }

    /// `(total − available) / total`, as rocketmq-store computes it.
    fn used_ratio(self) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        self.total.saturating_sub(self.available) as f64 / self.total as f64
    }

    fn describe(self) -> String {
        format!(
            "{:.1} % used by the broker's measure ((total − available) / total, {} GiB available of {} GiB)",
            self.used_ratio() * 100.0,
            self.available >> 30,
            self.total >> 30
        )
    }
}

/// The parent directory for a new cluster's temp dir: `RMQ_TESTKIT_DIR`, else `/dev/shm`, else the temp dir; the
/// first whose broker disk measure is at most 85 %. An error names every candidate and why it was passed over.
pub(crate) fn parent_dir() -> Result<PathBuf, MigrationError> {
    let explicit = std::env::var_os(TESTKIT_DIR_ENV).map(PathBuf::from);
    let candidates: Vec<(PathBuf, u64)> = match explicit {
        Some(dir) => vec![(dir, 0)],
        None => vec![
            (PathBuf::from("/dev/shm"), MIN_SHM_AVAILABLE),
            (std::env::temp_dir(), 0),
        ],
    };
    let mut passed_over = Vec::new();
    for (dir, min_available) in candidates {
        if !dir.is_dir() {
            passed_over.push(format!("{}: not a directory", dir.display()));
            continue;
        }
        match Usage::of(&dir) {
            Err(e) => passed_over.push(format!("{}: disk figures unavailable: {e}", dir.display())),
            Ok(usage) if usage.available < min_available => passed_over.push(format!(
                "{}: {} GiB available, {} GiB wanted",
                dir.display(),
                usage.available >> 30,
                min_available >> 30
            )),
            Ok(usage) if usage.used_ratio() > MAX_USED_AT_START => {
                passed_over.push(format!("{}: {}", dir.display(), usage.describe()))
            }
            Ok(usage) => {
                tracing::debug!(dir = %dir.display(), usage = %usage.describe(), "embedded cluster store");
                return Ok(dir);
            }
        }
    }
    Err(MigrationError::new(
        ToolErrorKind::Cluster,
        None,
        format!(
            "no directory where an embedded broker would accept writes (it refuses them above 90 % used; the test \
             kit wants at most {:.0} % at start): {}; free disk space or set {TESTKIT_DIR_ENV} to a directory on \
             another file system",
            MAX_USED_AT_START * 100.0,
            passed_over.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_used_ratio_is_the_brokers_measure_not_dfs() {
        // 252 GB volume, 49 GB used, 43 GB available (thin provisioned): df says 54 %, the broker 83 %.
        let usage = Usage {
            total: 252 << 30,
            available: 43 << 30,
        };
        assert!(
            (usage.used_ratio() - 0.829).abs() < 0.001,
            "{}",
            usage.used_ratio()
        );
        assert!(usage.describe().contains("82.9 %"), "{}", usage.describe());
        assert_eq!(
            Usage {
                total: 0,
                available: 0
            }
            .used_ratio(),
            1.0
        );
    }

    #[test]
    fn a_chosen_parent_is_a_directory_with_room() {
        let dir = parent_dir().expect("this machine has a directory with room");
        assert!(dir.is_dir(), "{}", dir.display());
        let usage = Usage::of(&dir).expect("disk figures");
        assert!(
            usage.used_ratio() <= MAX_USED_AT_START,
            "{}",
            usage.describe()
        );
    }
}
