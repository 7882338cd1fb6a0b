//! What is the broker's own and never migrated: system topics and groups, the topics brokers and clusters register
//! under their own names, their request-reply topics, and (unless asked for) retry and dead-letter topics.
//!
//! An export asks the cluster for its broker and cluster names. An import of a file knows them only if the file is
//! ours (the export left them out already) or the importer asked the source (`--source-namesrv`); otherwise it
//! tells them by their shape: only the broker's own topics carry the *inherit* permission bit (application topics
//! never do: topics created by a send drop it, `mqadmin updateTopic` does not set it), and a cluster's reply topic
//! is `<cluster>_REPLY_TOPIC`. A shape is a guess, reported as such, and `--include` overrides it.

use std::collections::BTreeSet;

use super::file::{MetadataFile, TopicEntry};

/// Topics every broker creates for itself (Apache RocketMQ's `TopicValidator` system topics, plus the ones the
/// broker creates at start).
const SYSTEM_TOPICS: &[&str] = &[
    "TBW102",
    "SCHEDULE_TOPIC_XXXX",
    "OFFSET_MOVED_EVENT",
    "SELF_TEST_TOPIC",
    "BenchmarkTest",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "RMQ_SYS_TRACE_TOPIC",
    "CHECKPOINT_TOPIC",
    "rmq_sys_wheel_timer",
];

/// Permission bit only the broker's own topics (`TBW102`, cluster- and broker-name topics) carry.
const PERM_INHERIT: u32 = 1;

/// Suffix of a cluster's request-reply topic.
const REPLY_SUFFIX: &str = "_REPLY_TOPIC";

/// Why an item is left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LeftOut {
    /// It is the broker's own, certainly.
    Certain(String),
    /// It looks like the broker's own (by its shape); `--include` imports it anyway.
    Guess(String),
}

impl LeftOut {
    pub(crate) fn reason(&self) -> &str {
        match self {
            LeftOut::Certain(r) | LeftOut::Guess(r) => r,
        }
    }
}

/// The names brokers and clusters register as topics.
#[derive(Clone, Debug, Default)]
pub(crate) struct OwnNames {
    /// Broker and cluster names.
    pub(crate) names: BTreeSet<String>,
    /// The names came from the cluster itself (not from the file's shape).
    pub(crate) from_cluster: bool,
}

impl OwnNames {
    /// Names told by the cluster (an export, or an import with `--source-namesrv`).
    pub(crate) fn from_cluster(names: impl IntoIterator<Item = String>) -> Self {
        OwnNames {
            names: names.into_iter().collect(),
            from_cluster: true,
        }
    }

    /// Cluster names a file shows: `X` where the file holds `X_REPLY_TOPIC` and `X` with the inherit bit.
    pub(crate) fn from_file(file: &MetadataFile) -> Self {
        let names = file
            .topic_config_table
            .keys()
            .filter_map(|t| t.strip_suffix(REPLY_SUFFIX))
            .filter(|c| {
                file.topic_config_table
                    .get(*c)
                    .is_some_and(|e| e.perm & PERM_INHERIT != 0)
            })
            .map(str::to_owned)
            .collect();
        OwnNames {
            names,
            from_cluster: false,
        }
    }
}

/// Why `topic` is left out, or `None` to keep it. `entry` is the topic's settings where known (an import's file).
pub(crate) fn topic_left_out(
    topic: &str,
    entry: Option<&TopicEntry>,
    own: &OwnNames,
    include_retry_and_dlq: bool,
) -> Option<LeftOut> {
    let certain = |r: &str| Some(LeftOut::Certain(r.to_owned()));
    if SYSTEM_TOPICS.contains(&topic) || topic.to_ascii_lowercase().starts_with("rmq_sys_") {
        return certain("the broker's system topic");
    }
    if own.names.contains(topic) {
        return certain(if own.from_cluster {
            "a broker or cluster name (the cluster registers its own name as a topic)"
        } else {
            "a cluster name (the file holds its request-reply topic)"
        });
    }
    if let Some(cluster) = topic.strip_suffix(REPLY_SUFFIX) {
        if own.names.contains(cluster) {
            return certain("a cluster's request-reply topic");
        }
        if !own.from_cluster {
            return Some(LeftOut::Guess(format!(
                "named like the request-reply topic of a cluster {cluster:?}; --include {topic} imports it"
            )));
        }
    }
    if topic.starts_with("%RETRY%") || topic.starts_with("%DLQ%") {
        if !include_retry_and_dlq {
            return certain("a retry or dead-letter topic (the target broker creates retry topics itself, with the group's retryQueueNums; --include-retry-dlq keeps them)");
        }
        return None;
    }
    if !own.from_cluster && entry.is_some_and(|e| e.perm & PERM_INHERIT != 0) {
        return Some(LeftOut::Guess(format!(
            "looks like a broker- or cluster-name topic (perm {} has the inherit bit, which only the broker's own \
             topics carry); --source-namesrv lets the source say, --include {topic} imports it",
            entry.map_or(0, |e| e.perm)
        )));
    }
    None
}

/// Why `group` is left out, or `None` to keep it.
pub(crate) fn group_left_out(group: &str) -> Option<LeftOut> {
    crate::admin::is_system_group(group)
        .then(|| LeftOut::Certain("the broker's built-in group".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(perm: u32, queues: u32) -> TopicEntry {
        TopicEntry {
            topic_name: String::new(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: 0,
            order: false,
            attributes: Default::default(),
        }
    }

    #[test]
    fn system_items_are_recognised() {
        let own = OwnNames::from_cluster(["broker-a".to_owned(), "DefaultCluster".to_owned()]);
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
            "DefaultCluster_REPLY_TOPIC",
            "%RETRY%g",
            "%DLQ%g",
        ] {
            assert!(
                matches!(
                    topic_left_out(t, None, &own, false),
                    Some(LeftOut::Certain(_))
                ),
                "{t}"
            );
        }
        assert!(topic_left_out("orders_REPLY_TOPIC", None, &own, false).is_none());
        assert!(topic_left_out("%RETRY%g", None, &own, true).is_none());
        assert!(topic_left_out("orders", Some(&entry(7, 1)), &own, false).is_none());
        assert!(topic_left_out("nsA%orders", None, &own, false).is_none());
        for g in [
            "TOOLS_CONSUMER",
            "CID_RMQ_SYS_TRANS",
            "SELF_TEST_C_GROUP",
            "FILTERSRV_CONSUMER",
            "CID_ONSAPI_OWNER",
        ] {
            assert!(group_left_out(g).is_some(), "{g}");
        }
        assert!(group_left_out("orders_cg").is_none());
    }

    #[test]
    fn a_file_alone_tells_cluster_names_for_sure_and_broker_names_by_shape() {
        let mut file = MetadataFile::default();
        for (name, perm, q) in [
            ("DefaultCluster", 7, 32),
            ("DefaultCluster_REPLY_TOPIC", 6, 2),
            ("broker-a", 7, 1),
            ("broker-b", 1, 1),
            ("orders", 6, 16),
            ("Other_REPLY_TOPIC", 6, 1),
        ] {
            file.topic_config_table.insert(name.into(), entry(perm, q));
        }
        let own = OwnNames::from_file(&file);
        let left = |t: &str| topic_left_out(t, file.topic_config_table.get(t), &own, false);
        assert!(matches!(left("DefaultCluster"), Some(LeftOut::Certain(_))));
        assert!(matches!(
            left("DefaultCluster_REPLY_TOPIC"),
            Some(LeftOut::Certain(_))
        ));
        assert!(matches!(left("broker-a"), Some(LeftOut::Guess(_))));
        assert!(matches!(left("broker-b"), Some(LeftOut::Guess(_))));
        assert!(matches!(left("Other_REPLY_TOPIC"), Some(LeftOut::Guess(_))));
        assert_eq!(left("orders"), None);
    }
}
