#![recursion_limit = "512"]
#![deny(unreachable_pub)]
#![warn(missing_docs)]
//! # rocketmq-migration
//!
//! Move an application from one Apache RocketMQ cluster (the *source*) to another (the *target*) with no downtime
//! and no lost messages, from inside the application. [`MigratingProducer`] and [`MigratingPushConsumer`] wrap
//! rocketmq-client-rust 1.0.0 clients for both clusters; an application changes only its constructors.
//!
//! ## Phases
//! Each topic is in one [`Phase`]; [`Phase::write_plan`] and [`Phase::read_set`] say where it writes and reads:
//!
//! | phase | writes go to | reads come from |
//! |---|---|---|
//! | `Initial` | source | source |
//! | `DualRead` | source | source + target |
//! | `DualReadWrite` | split by the topic's write ratio | source + target |
//! | `CuttingOver` | target | source + target |
//! | `Completed` | target | target |
//!
//! ## Routing
//! A [`PhaseHandle`] holds the per-topic table ([`TopicState`]: phase, write ratio, version), swapped atomically.
//! Each send loads one snapshot and decides from it. Selector sends in `DualReadWrite` are key-sticky; a send that
//! times out or finds its cluster unreachable is retried once on the other cluster in the phases that read both.
//! Every message carries its `UNIQ_KEY` from before the first attempt.
//!
//! ## Merge and dedupe
//! The consumer runs one raw push consumer per cluster and subscribes each according to the topic's read set.
//! Deliveries pass a [`dedupe::Deduplicator`] keyed by `UNIQ_KEY` (or a key of yours) before the listener, so a
//! message stored on both clusters reaches the application once. [`consuming_cluster`] tells a listener where its
//! messages came from.
//! [`MigratingLitePullConsumer`] does the same for `DefaultLitePullConsumer`: `poll` merges both clusters' raw
//! consumers, drops consumed keys, and commits offsets on the cluster each message came from.
//!
//! ## Control endpoint
//! The phase table has one writer API ([`PhaseHandle::apply`] with versions, or direct `set_*` calls); the HTTP
//! control plane (`rmq-migrate serve`; module `server`, feature `server`) publishes the table, and each process's
//! [`control::ControlClient`] applies it through the same API ([`PhaseHandle::apply_table`]).
//!
//! ## Runtime setup
//! Build clients on a [`MigrationRuntime`]: its listener lane is sized so push consumers are never refused
//! admission (`runtime.capacity.exhausted`) under load. See the [`runtime`](MigrationRuntime) docs.
//!
//! ## Test kit
//! Feature `testkit`: [`testkit::EmbeddedCluster`] and [`testkit::ClusterPair`] run rocketmq-namesrv and
//! rocketmq-broker 1.0.0 in-process for tests and demos.

#[cfg(feature = "admin")]
pub mod acl;
#[cfg(feature = "admin")]
mod admin;
mod client;
mod cluster;
mod config;
#[cfg(feature = "admin")]
pub mod connection;
mod consumer;
pub mod control;
pub mod dedupe;
#[cfg(feature = "admin")]
pub mod dlq;
#[cfg(feature = "admin")]
mod due;
mod error;
mod linger;
mod lite_pull;
#[cfg(feature = "admin")]
pub mod metadata;
mod names;
mod phase;
mod pin;
mod producer;
mod reads;
#[cfg(feature = "admin")]
pub mod release;
mod route;
mod setters;
mod topic_map;
mod topic_state;
mod transaction;

pub use cluster::Cluster;
pub use config::ClusterConfig;
pub use consumer::{
    consuming_cluster, ConsumerStats, MigratingPushConsumer, MigratingPushConsumerBuilder,
};
pub use error::{ConfigError, ConfigErrorKind, ErrorKind, MigrationError, ToolErrorKind};
pub use linger::{LingerSettings, DEFAULT_LINGER_MAX, DEFAULT_LINGER_QUIET};
pub use lite_pull::{MigratingLitePullConsumer, MigratingLitePullConsumerBuilder};
pub use phase::{Phase, ReadSet, WritePlan};
pub use pin::Pins;
pub use producer::{MigratingProducer, MigratingProducerBuilder, ProducerStats};
pub use route::{Applied, PhaseHandle, PhaseTable};
pub use topic_state::{TopicState, DEFAULT_WRITE_RATIO};
pub use transaction::{
    MigratingTransactionProducer, MigratingTransactionProducerBuilder, TransactionStats,
    DEFAULT_MAX_LINGER, DEFAULT_MIN_LINGER, DEFAULT_UNCONFIRMED_GRACE,
};
mod runtime;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use runtime::{MigrationRuntime, RuntimeSettings};
