#![recursion_limit = "512"]
//! End-to-end tests on embedded source and target clusters, in one process.

mod access;
mod control;
mod edges;
mod failover;
mod input;
mod lite_pull;
mod merge;
mod metadata;
mod mqadmin_file;
mod namespaced;
mod per_topic_counts;
#[cfg(feature = "redis")]
mod redis;
mod release;
mod rollback;
mod routing;
mod runtime;
mod selector;
mod send_api;
mod support;
mod testkit;
mod transaction;
