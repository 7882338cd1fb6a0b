//! Compare two clusters' metadata: what the source has and the target lacks, and settings that differ.

use serde::{Deserialize, Serialize};

use super::file::MetadataFile;

/// A topic on both clusters whose settings differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDifference {
    /// The topic.
    pub topic: String,
    /// `field source -> target` for each differing field.
    pub fields: Vec<String>,
}

/// The result of [`compare`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Topics on the source, not on the target.
    pub topics_missing_on_target: Vec<String>,
    /// Groups on the source, not on the target.
    pub groups_missing_on_target: Vec<String>,
    /// Topics on both with different queue counts, permission or order.
    pub topic_differences: Vec<TopicDifference>,
}

impl Comparison {
    /// Whether the target has everything the source has, with the same settings.
    pub fn is_empty(&self) -> bool {
        self.topics_missing_on_target.is_empty()
            && self.groups_missing_on_target.is_empty()
            && self.topic_differences.is_empty()
    }
}

/// Compare `source` with `target` (both exported with the same options).
///
/// ```
/// use rocketmq_migration::metadata::{compare, parse};
/// let s = parse(r#"{"topicConfigTable":{"a":{"readQueueNums":8,"writeQueueNums":8,"perm":6},"b":{"readQueueNums":4,"writeQueueNums":4}}}"#, "s").unwrap();
/// let t = parse(r#"{"topicConfigTable":{"a":{"readQueueNums":4,"writeQueueNums":8,"perm":6}}}"#, "t").unwrap();
/// let c = compare(&s, &t);
/// assert_eq!(c.topics_missing_on_target, vec!["b"]);
/// assert_eq!(c.topic_differences[0].fields, vec!["readQueueNums 8 -> 4"]);
/// ```
pub fn compare(source: &MetadataFile, target: &MetadataFile) -> Comparison {
    let mut c = Comparison::default();
    for (name, s) in &source.topic_config_table {
        let Some(t) = target.topic_config_table.get(name) else {
            c.topics_missing_on_target.push(name.clone());
            continue;
        };
        let mut fields = Vec::new();
        for (field, a, b) in [
            (
                "readQueueNums",
                s.read_queue_nums.to_string(),
                t.read_queue_nums.to_string(),
            ),
            (
                "writeQueueNums",
                s.write_queue_nums.to_string(),
                t.write_queue_nums.to_string(),
            ),
            ("perm", s.perm.to_string(), t.perm.to_string()),
            ("order", s.order.to_string(), t.order.to_string()),
        ] {
            if a != b {
                fields.push(format!("{field} {a} -> {b}"));
            }
        }
        if !fields.is_empty() {
            c.topic_differences.push(TopicDifference {
                topic: name.clone(),
                fields,
            });
        }
    }
    c.groups_missing_on_target = source
        .subscription_group_table
        .keys()
        .filter(|g| !target.subscription_group_table.contains_key(*g))
        .cloned()
        .collect();
    c
}
