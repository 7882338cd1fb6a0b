//! What is the broker's own and never migrated: system topics and groups.

/// Topics every broker creates for itself.
const SYSTEM_TOPICS: &[&str] = &[
    "TBW102",
    "SCHEDULE_TOPIC_XXXX",
    "OFFSET_MOVED_EVENT",
    "SELF_TEST_TOPIC",
    "BenchmarkTest",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
];

/// Why `topic` is left out of an export, or `None` to keep it. `broker_and_cluster_names` are the names brokers
/// and clusters register as topics.
pub(crate) fn topic_left_out(
    topic: &str,
    broker_and_cluster_names: &[String],
    include_retry_and_dlq: bool,
) -> Option<&'static str> {
    let lower = topic.to_ascii_lowercase();
    if SYSTEM_TOPICS.contains(&topic) || lower.starts_with("rmq_sys_") {
        Some("system topic")
    } else if broker_and_cluster_names.iter().any(|n| n == topic) {
        Some("broker or cluster name topic")
    } else if topic
        .strip_suffix("_REPLY_TOPIC")
        .is_some_and(|c| broker_and_cluster_names.iter().any(|n| n == c))
    {
        Some("a cluster's request-reply topic")
    } else if !include_retry_and_dlq && (topic.starts_with("%RETRY%") || topic.starts_with("%DLQ%"))
    {
        Some("retry or dead-letter topic (export with retry and DLQ topics to keep it)")
    } else {
        None
    }
}

/// Why `group` is left out of an export, or `None` to keep it.
pub(crate) fn group_left_out(group: &str) -> Option<&'static str> {
    crate::admin::is_system_group(group).then_some("broker built-in group")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_items_are_recognised() {
        let names = vec!["broker-a".to_owned(), "DefaultCluster".to_owned()];
        for t in [
            "TBW102",
            "SCHEDULE_TOPIC_XXXX",
            "RMQ_SYS_TRACE_TOPIC",
            "rmq_sys_wheel_timer",
            "OFFSET_MOVED_EVENT",
            "SELF_TEST_TOPIC",
            "BenchmarkTest",
            "TRANS_CHECK_MAX_TIME_TOPIC",
            "broker-a",
            "DefaultCluster",
            "%RETRY%g",
            "%DLQ%g",
        ] {
            assert!(topic_left_out(t, &names, false).is_some(), "{t}");
        }
        assert!(topic_left_out("DefaultCluster_REPLY_TOPIC", &names, false).is_some());
        assert!(topic_left_out("orders_REPLY_TOPIC", &names, false).is_none());
        assert!(topic_left_out("%RETRY%g", &names, true).is_none());
        assert!(topic_left_out("orders", &names, false).is_none());
        assert!(topic_left_out("nsA%orders", &names, false).is_none());
        for g in [
            "TOOLS_CONSUMER",
            "CID_RMQ_SYS_TRANS",
            "SELF_TEST_C_GROUP",
            "FILTERSRV_CONSUMER",
        ] {
            assert!(group_left_out(g).is_some(), "{g}");
        }
        assert!(group_left_out("orders_cg").is_none());
    }
}
