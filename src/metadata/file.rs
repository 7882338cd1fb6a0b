//! The metadata file: the shape `mqadmin exportMetadata` writes (`topicConfigTable`, `subscriptionGroupTable`,
//! `exportTime`), plus our optional `exportNotes`. Parsing checks every item and names the item and field at fault.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{MigrationError, ToolErrorKind};

/// Permission bits a topic may carry: priority, read, write, inherit.
const PERM_MASK: i64 = 0b1111;

/// One topic as exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicEntry {
    /// Topic name.
    pub topic_name: String,
    /// Read queues. mqadmin sums them over the masters holding the topic, so any non-negative count is
    /// accepted; the importer's queue range decides what is created.
    pub read_queue_nums: u32,
    /// Write queues (summed over masters, like `read_queue_nums`).
    pub write_queue_nums: u32,
    /// Permission bits (`PermName`: 4 read, 2 write, 1 inherit, 8 priority).
    pub perm: u32,
    /// `SINGLE_TAG` or `MULTI_TAG`.
    pub topic_filter_type: String,
    /// System flag bits.
    pub topic_sys_flag: u32,
    /// Ordered topic.
    pub order: bool,
    /// Topic attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// One consumer group as exported (the settings a group carries across).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupEntry {
    /// Group name.
    pub group_name: String,
    /// Consumption enabled.
    pub consume_enable: bool,
    /// Start from the minimum offset when the group is new.
    pub consume_from_min_enable: bool,
    /// Broadcast consumption allowed.
    pub consume_broadcast_enable: bool,
    /// Orderly consumption.
    pub consume_message_orderly: bool,
    /// Retry queues (mqadmin sums them over the masters holding the group; kept as the file says).
    pub retry_queue_nums: i32,
    /// Maximum redeliveries before the dead-letter queue.
    pub retry_max_times: i32,
    /// Preferred broker id.
    pub broker_id: u64,
    /// Broker to read from when consumption is slow.
    pub which_broker_when_consume_slowly: u64,
    /// Notify consumers when the group's membership changes.
    pub notify_consumer_ids_changed_enable: bool,
    /// System flag bits.
    pub group_sys_flag: i32,
    /// Consume timeout, minutes.
    pub consume_timeout_minute: i32,
    /// The group's retry policy as the file writes it (`{"type": "CUSTOMIZED", "customizedRetryPolicy": ..}`);
    /// `None` keeps the target broker's default. A policy the target's model does not read in full is imported
    /// by its `type` with the broker's default steps, and the item's reason says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<Value>,
    /// Group attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Where a topic's exported queue counts came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicNote {
    /// Read/write queues per master broker holding the topic.
    pub brokers: BTreeMap<String, [u32; 2]>,
    /// How the exported counts were derived, in words.
    pub derivation: String,
}

/// Our additions to the mqadmin format (ignored by mqadmin).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportNotes {
    /// Name servers exported from.
    pub name_server: String,
    /// Cluster exported (`None`: all clusters).
    pub cluster: Option<String>,
    /// Per topic: queue counts per master and how the totals were derived.
    pub topics: BTreeMap<String, TopicNote>,
    /// Items left out (system topics and groups, retry/DLQ topics), with the reason.
    pub left_out: BTreeMap<String, String>,
}

/// A whole metadata file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataFile {
    /// Topics by name.
    pub topic_config_table: BTreeMap<String, TopicEntry>,
    /// Consumer groups by name.
    pub subscription_group_table: BTreeMap<String, GroupEntry>,
    /// Export time, milliseconds since the epoch.
    pub export_time: i64,
    /// The exporting tool's RocketMQ version, as mqadmin writes it (e.g. `V5_3_1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rocketmq_version: Option<String>,
    /// Our notes (absent in files from mqadmin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_notes: Option<ExportNotes>,
}

/// Collects every problem of a file before anything is created.
struct Problems<'a> {
    source: &'a str,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, item: &str, field: &str, value: &Value, rule: &str) {
        self.list.push(format!("{item}.{field} = {value}: {rule}"));
    }

    fn int(
        &mut self,
        item: &str,
        obj: &Map<String, Value>,
        field: &str,
        default: Option<i64>,
        min: i64,
        max: i64,
    ) -> i64 {
        match obj.get(field) {
            None | Some(Value::Null) => default.unwrap_or_else(|| {
                self.list.push(format!("{item}.{field}: missing"));
                0
            }),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => n,
                Some(_) => {
                    self.add(item, field, v, &format!("must be within {min}..={max}"));
                    0
                }
                None => {
                    self.add(item, field, v, "must be an integer");
                    0
                }
            },
        }
    }

    fn boolean(
        &mut self,
        item: &str,
        obj: &Map<String, Value>,
        field: &str,
        default: bool,
    ) -> bool {
        match obj.get(field) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.add(item, field, v, "must be true or false");
                default
            }
        }
    }

    fn attributes(&mut self, item: &str, obj: &Map<String, Value>) -> BTreeMap<String, String> {
        match obj.get("attributes") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    other => {
                        self.add(item, &format!("attributes.{k}"), other, "must be a string");
                        None
                    }
                })
                .collect(),
            Some(v) => {
                self.add(item, "attributes", v, "must be an object of strings");
                BTreeMap::new()
            }
        }
    }

    fn retry_policy(&mut self, item: &str, obj: &Map<String, Value>) -> Option<Value> {
        match obj.get("groupRetryPolicy") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(v) => {
                self.add(item, "groupRetryPolicy", v, "must be an object");
                None
            }
        }
    }

    fn name(&mut self, item: &str, key: &str, obj: &Map<String, Value>, field: &str) -> String {
        match obj.get(field) {
            None | Some(Value::Null) => key.to_owned(),
            Some(Value::String(s)) if s == key => key.to_owned(),
            Some(v) => {
                self.add(item, field, v, &format!("must equal the table key {key:?}"));
                key.to_owned()
            }
        }
    }
}

/// Parse and check a metadata file (ours or `mqadmin exportMetadata`'s). `source` names the file in errors.
/// Every item is checked; all problems are reported together, so nothing is imported from a malformed file.
///
/// ```
/// use rocketmq_migration::metadata::parse;
/// let err = parse(r#"{"topicConfigTable":{"orders":{"readQueueNums":-1,"writeQueueNums":4,"perm":6}}}"#, "m.json")
///     .unwrap_err();
/// assert!(err.to_string().contains("topicConfigTable[\"orders\"].readQueueNums = -1"), "{err}");
/// ```
pub fn parse(text: &str, source: &str) -> Result<MetadataFile, MigrationError> {
    let fail = |what: String| MigrationError::new(ToolErrorKind::Metadata, None, what);
    let root: Value = serde_json::from_str(text).map_err(|e| {
        fail(format!(
            "{source}: not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
        .with_source(e)
    })?;
    let Value::Object(root) = root else {
        return Err(fail(format!("{source}: the top level must be an object with topicConfigTable and subscriptionGroupTable")));
    };
    let mut p = Problems {
        source,
        list: Vec::new(),
    };
    let mut file = MetadataFile {
        export_time: root.get("exportTime").and_then(Value::as_i64).unwrap_or(0),
        rocketmq_version: root
            .get("rocketmqVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Default::default()
    };
    let table = |p: &mut Problems, field: &str| -> Map<String, Value> {
        match root.get(field) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(v) => {
                p.list
                    .push(format!("{field} = {v}: must be an object keyed by name"));
                Map::new()
            }
        }
    };
    for (key, v) in table(&mut p, "topicConfigTable") {
        let item = format!("topicConfigTable[{key:?}]");
        let Value::Object(obj) = v else {
            p.add(&item, "(entry)", &v, "must be an object");
            continue;
        };
        let topic_name = p.name(&item, &key, &obj, "topicName");
        // Totals over masters: any count a broker could hold (Java int) is accepted.
        let read = p.int(&item, &obj, "readQueueNums", None, 0, i64::from(i32::MAX));
        let write = p.int(&item, &obj, "writeQueueNums", None, 0, i64::from(i32::MAX));
        let perm = match obj.get("perm") {
            None | Some(Value::Null) => 6,
            Some(v) => {
                match v.as_i64() {
                    Some(n) if n >= 0 && n & !PERM_MASK == 0 => n,
                    Some(_) => {
                        p.add(&item, "perm", v, "unknown permission bits (allowed: 8 priority, 4 read, 2 write, 1 inherit)");
                        0
                    }
                    None => {
                        p.add(&item, "perm", v, "must be an integer");
                        0
                    }
                }
            }
        };
        let filter = match obj.get("topicFilterType") {
            None | Some(Value::Null) => "SINGLE_TAG".to_owned(),
            Some(Value::String(s)) if s == "SINGLE_TAG" || s == "MULTI_TAG" => s.clone(),
            Some(v) => {
                p.add(
                    &item,
                    "topicFilterType",
                    v,
                    "must be SINGLE_TAG or MULTI_TAG",
                );
                "SINGLE_TAG".to_owned()
            }
        };
        let sys = p.int(&item, &obj, "topicSysFlag", Some(0), 0, i64::from(u32::MAX));
        let order = p.boolean(&item, &obj, "order", false);
        let attributes = p.attributes(&item, &obj);
        file.topic_config_table.insert(
            key,
            TopicEntry {
                topic_name,
                read_queue_nums: read as u32,
                write_queue_nums: write as u32,
                perm: perm as u32,
                topic_filter_type: filter,
                topic_sys_flag: sys as u32,
                order,
                attributes,
            },
        );
    }
    for (key, v) in table(&mut p, "subscriptionGroupTable") {
        let item = format!("subscriptionGroupTable[{key:?}]");
        let Value::Object(obj) = v else {
            p.add(&item, "(entry)", &v, "must be an object");
            continue;
        };
        let entry = GroupEntry {
            group_name: p.name(&item, &key, &obj, "groupName"),
            consume_enable: p.boolean(&item, &obj, "consumeEnable", true),
            consume_from_min_enable: p.boolean(&item, &obj, "consumeFromMinEnable", true),
            consume_broadcast_enable: p.boolean(&item, &obj, "consumeBroadcastEnable", true),
            consume_message_orderly: p.boolean(&item, &obj, "consumeMessageOrderly", false),
            // mqadmin sums retry queues over the masters too.
            retry_queue_nums: p.int(
                &item,
                &obj,
                "retryQueueNums",
                Some(1),
                0,
                i64::from(i32::MAX),
            ) as i32,
            retry_max_times: p.int(&item, &obj, "retryMaxTimes", Some(16), -1, 1024) as i32,
            broker_id: p.int(&item, &obj, "brokerId", Some(0), 0, i64::MAX) as u64,
            which_broker_when_consume_slowly: p.int(
                &item,
                &obj,
                "whichBrokerWhenConsumeSlowly",
                Some(1),
                0,
                i64::MAX,
            ) as u64,
            notify_consumer_ids_changed_enable: p.boolean(
                &item,
                &obj,
                "notifyConsumerIdsChangedEnable",
                true,
            ),
            group_sys_flag: p.int(&item, &obj, "groupSysFlag", Some(0), 0, i64::from(i32::MAX))
                as i32,
            consume_timeout_minute: p.int(&item, &obj, "consumeTimeoutMinute", Some(15), 0, 100_000)
                as i32,
            group_retry_policy: p.retry_policy(&item, &obj),
            attributes: p.attributes(&item, &obj),
        };
        file.subscription_group_table.insert(key, entry);
    }
    if let Some(notes) = root.get("exportNotes").filter(|v| !v.is_null()) {
        match serde_json::from_value::<ExportNotes>(notes.clone()) {
            Ok(n) => file.export_notes = Some(n),
            Err(e) => p.list.push(format!("exportNotes: {e}")),
        }
    }
    if p.list.is_empty() {
        Ok(file)
    } else {
        let n = p.list.len();
        Err(fail(format!(
            "{}: {n} problem{} (nothing was imported): {}",
            p.source,
            if n == 1 { "" } else { "s" },
            p.list.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_written_mqadmin_file_parses_with_defaults() {
        let text = r#"{
          "topicConfigTable": {
            "orders": {"topicName":"orders","readQueueNums":16,"writeQueueNums":16,"perm":6,"topicFilterType":"SINGLE_TAG","topicSysFlag":0,"order":false,"attributes":{}},
            "nsA%pay": {"readQueueNums":2,"writeQueueNums":2,"perm":4,"order":true}
          },
          "subscriptionGroupTable": {
            "orders_cg": {"groupName":"orders_cg","consumeEnable":true,"consumeFromMinEnable":true,"consumeBroadcastEnable":false,"consumeMessageOrderly":true,"retryQueueNums":1,"retryMaxTimes":3,"groupRetryPolicy":{"type":"CUSTOMIZED"},"brokerId":0,"whichBrokerWhenConsumeSlowly":1,"notifyConsumerIdsChangedEnable":true,"groupSysFlag":0,"consumeTimeoutMinute":15,"subscriptionDataSet":null,"attributes":{}}
          },
          "exportTime": 1732500000000
        }"#;
        let f = parse(text, "mq.json").unwrap();
        assert_eq!(
            f.topic_config_table["nsA%pay"].topic_filter_type,
            "SINGLE_TAG"
        );
        assert!(f.topic_config_table["nsA%pay"].order);
        let g = &f.subscription_group_table["orders_cg"];
        assert!(g.consume_message_orderly && !g.consume_broadcast_enable);
        assert_eq!(g.retry_max_times, 3);
        assert_eq!(f.export_time, 1_732_500_000_000);
    }

    #[test]
    fn totals_over_masters_and_odd_names_are_not_malformed() {
        // BenchmarkTest as mqadmin writes it for two masters; an empty name is an item failure at import, not a
        // reason to refuse the file.
        let text = r#"{"rocketmqVersion":"V5_3_1","topicConfigTable":{
            "BenchmarkTest":{"readQueueNums":2048,"writeQueueNums":2048,"perm":6},
            "":{"readQueueNums":4,"writeQueueNums":4}}}"#;
        let f = parse(text, "two-masters.json").unwrap();
        assert_eq!(f.topic_config_table["BenchmarkTest"].read_queue_nums, 2048);
        assert!(f.topic_config_table.contains_key(""));
        assert_eq!(f.rocketmq_version.as_deref(), Some("V5_3_1"));
        let e = parse(
            r#"{"topicConfigTable":{"t":{"readQueueNums":4294967296,"writeQueueNums":1}}}"#,
            "m.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("readQueueNums = 4294967296: must be within 0..=2147483647"),
            "{e}"
        );
    }

    #[test]
    fn the_other_shapes_mqadmin_and_the_broker_write_parse_too() {
        // `mqadmin exportMetadata -b ADDR -t` (and a broker's own store/config/topics.json): the raw wrapper with
        // its dataVersion and no exportTime; `-g`: groups with a forbiddenTable.
        let topics = r#"{"dataVersion":{"counter":7,"stateVersion":0,"timestamp":1764720000000},
            "topicConfigTable":{"orders":{"readQueueNums":8,"writeQueueNums":8,"perm":6,"topicName":"orders"}}}"#;
        let f = parse(topics, "topic.json").unwrap();
        assert_eq!(f.topic_config_table["orders"].read_queue_nums, 8);
        assert!(f.subscription_group_table.is_empty());
        let groups = r#"{"dataVersion":{"counter":3},"forbiddenTable":{},
            "subscriptionGroupTable":{"orders_cg":{"groupName":"orders_cg","retryMaxTimes":4}}}"#;
        let f = parse(groups, "subscriptionGroup.json").unwrap();
        assert_eq!(f.subscription_group_table["orders_cg"].retry_max_times, 4);
        assert!(f.topic_config_table.is_empty());
    }

    #[test]
    fn every_problem_is_named_by_item_and_field() {
        let text = r#"{
          "topicConfigTable": {
            "a": {"readQueueNums":-1,"writeQueueNums":4,"perm":6},
            "b": {"readQueueNums":4,"writeQueueNums":4,"perm":22},
            "": {"readQueueNums":4,"writeQueueNums":4},
            "c": {"topicName":"d","readQueueNums":4,"writeQueueNums":4}
          },
          "subscriptionGroupTable": {"g": {"retryMaxTimes":"many"}, "h": {"groupRetryPolicy": 3}}
        }"#;
        let e = parse(text, "bad.json").unwrap_err().to_string();
        for want in [
            "bad.json: 5 problems",
            "topicConfigTable[\"a\"].readQueueNums = -1",
            "topicConfigTable[\"b\"].perm = 22: unknown permission bits",
            "subscriptionGroupTable[\"h\"].groupRetryPolicy = 3: must be an object",
            "topicConfigTable[\"c\"].topicName = \"d\"",
            "subscriptionGroupTable[\"g\"].retryMaxTimes = \"many\": must be an integer",
        ] {
            assert!(e.contains(want), "missing {want:?} in {e}");
        }
        let e = parse("{\"topicConfigTable\": [", "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.json: not JSON (line 1"), "{e}");
        let e = parse(
            "{\"topicConfigTable\":{\"t\":{\"writeQueueNums\":1}}}",
            "m.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("readQueueNums: missing"), "{e}");
    }
}
