#![recursion_limit = "512"]
#![deny(unreachable_pub)]
#![warn(missing_docs)]
//! # rocketmq-migration
//!
//! Move an application from one Apache RocketMQ cluster (the *source*) to another (the *target*) with no downtime
//! and no lost messages, from inside the application.
//!
//! See the crate README for the manual.

mod cluster;
mod config;
mod consumer;
pub mod dedupe;
mod error;
mod phase;
mod producer;
mod route;

pub use cluster::Cluster;
pub use config::ClusterConfig;
pub use consumer::{
    consuming_cluster, ConsumerStats, MigratingPushConsumer, MigratingPushConsumerBuilder,
};
pub use error::{ConfigError, ConfigErrorKind, ErrorKind, MigrationError};
pub use phase::{Phase, ReadSet, WritePlan};
pub use producer::{MigratingProducer, MigratingProducerBuilder, ProducerStats};
pub use route::{Applied, PhaseHandle, PhaseTable, TopicState, DEFAULT_WRITE_RATIO};
mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use runtime::{MigrationRuntime, RuntimeSettings};
