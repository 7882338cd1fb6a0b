//! Test kit (feature `testkit`): real RocketMQ clusters in-process.
//!
//! [`EmbeddedCluster`] runs a rocketmq-namesrv 1.0.0 and a rocketmq-broker 1.0.0 inside the current Tokio runtime,
//! on free loopback ports, with a temporary store directory that is removed on drop. [`ClusterPair`] starts a
//! source and a target. A broker can be stopped and restarted on the same ports and store for fault tests.
//!
//! The store goes under `/dev/shm` when it has room (else the temp dir, or the directory [`TESTKIT_DIR_ENV`]
//! names), because a broker refuses writes once its file system is 90 % used by its own measure; a cluster does
//! not start where that would happen, and the error names the directories tried and their figures.
//!
//! ```no_run
//! # #![recursion_limit = "512"]
//! # async fn demo() -> Result<(), rocketmq_migration::MigrationError> {
//! use rocketmq_migration::testkit::ClusterPair;
//! let pair = ClusterPair::start().await?;
//! println!("source {} target {}", pair.source.name_server_addr(), pair.target.name_server_addr());
//! pair.shutdown().await;
//! # Ok(()) }
//! ```

mod broker;
mod cluster;
mod namesrv;
mod ports;
mod store_root;

pub use broker::{
    TestAuth, TEST_TRANSACTION_CHECK_INTERVAL_MS, TEST_TRANSACTION_OP_BATCH_INTERVAL_MS,
    TEST_TRANSACTION_TIMEOUT_MS,
};
pub use cluster::{ClusterPair, EmbeddedCluster};
pub use ports::{free_port, free_port_pair};
pub use store_root::TESTKIT_DIR_ENV;

/// A random suffix for topic and group names, so tests sharing clusters never collide.
pub fn unique_name(prefix: &str) -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{prefix}_{n:016x}")
}
