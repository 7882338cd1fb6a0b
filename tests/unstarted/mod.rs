//! What the tests of clients built but never started share (`tests/type_depth.rs`, `tests/spawnable.rs`): a client
//! runtime, two clusters nothing listens on, and one message. No broker is started and nothing connects.

use rocketmq_migration::{ClusterConfig, MigrationRuntime};
use rocketmq_model::common::message::message_single::Message;

/// A client runtime left running until the test process ends (its shutdown is the raw client's future, whose
/// depth is not the shim's to keep down).
pub fn runtime() -> &'static MigrationRuntime {
    Box::leak(Box::new(MigrationRuntime::new().expect("client runtime")))
}

/// A source and a target no client ever reaches (the clients are not started).
pub fn clusters() -> (ClusterConfig, ClusterConfig) {
    (
        ClusterConfig::new("127.0.0.1:1"),
        ClusterConfig::new("127.0.0.1:2"),
    )
}

/// One message on a topic no broker has.
pub fn msg() -> Message {
    Message::builder()
        .topic("unstarted_topic")
        .body(b"x".to_vec())
        .build()
        .expect("message")
}
