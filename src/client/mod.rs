//! The machinery the four clients share: what every client is (group, clusters, runtime), the builders' common
//! settings and checks, the producers' mirrored raw settings, the route of one send with failover, the sends in
//! flight and the topics written, and the merge state both consumers read through, each cluster's raw client slot,
//! how a raw client is started, and the sends' `_timeout` twins.

pub(crate) mod base;
pub(crate) mod brokers;
pub(crate) mod builder;
pub(crate) mod consumer_report;
pub(crate) mod consumer_settings;
pub(crate) mod consumer_stats;
pub(crate) mod dispatch;
pub(crate) mod failover;
pub(crate) mod flight;
pub(crate) mod merge;
pub(crate) mod producer_settings;
pub(crate) mod producer_stats;
pub(crate) mod reconcile;
pub(crate) mod side;
pub(crate) mod sides;
pub(crate) mod start;
pub(crate) mod subscriptions;
pub(crate) mod timed;
pub(crate) mod writes;
