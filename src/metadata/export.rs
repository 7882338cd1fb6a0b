//! Export topic configs and consumer groups from every master broker of a cluster.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rocketmq_client_rust::ClientRuntime;

use super::file::{ExportNotes, GroupEntry, MetadataFile, TopicEntry};
use super::system::{group_left_out, topic_left_out, OwnNames};
use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::error::{MigrationError, ToolErrorKind};

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Only the brokers of this cluster (`None`: every broker the name server knows).
    pub cluster_name: Option<String>,
    /// Keep `%RETRY%` and `%DLQ%` topics (left out by default).
    pub include_retry_and_dlq: bool,
}

/// Export from the cluster at `cluster` (name servers and optional AccessKey/SecretKey). With a namespace on
/// `cluster`, only that namespace's topics and groups are exported, under the application's short names.
///
/// A topic held by several masters is exported once with its queue counts **summed over those masters**, as
/// `mqadmin exportMetadata` does; `exportNotes.topics[..]` records each master's counts and says so. Permission
/// and order come from the first master (by broker name); a difference between masters is noted there too. A
/// group's settings come from the first master that has it.
pub async fn export(
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    options: &ExportOptions,
) -> Result<MetadataFile, MigrationError> {
    cluster.validate("cluster")?;
    let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
    let fail = |what: &str, e: String| {
        MigrationError::new(
            ToolErrorKind::Admin,
            None,
            format!("export from {}: {what}: {e}", cluster.name_server_addr),
        )
    };
    let cluster_name = options.cluster_name.as_deref();
    let topics = admin
        .topic_configs(cluster_name)
        .await
        .map_err(|e| fail("list topics", e));
    let groups = admin
        .group_configs(cluster_name)
        .await
        .map_err(|e| fail("list groups", e));
    // Brokers and clusters register their own names as topics.
    let own_names = admin
        .own_names()
        .await
        .map_err(|e| fail("read cluster info", e));
    admin.close().await;
    let (topics, groups) = (topics?, groups?);
    let own_names = OwnNames::from_cluster(own_names?);
    let mut notes = ExportNotes {
        name_server: cluster.name_server_addr.clone(),
        cluster: options.cluster_name.clone(),
        ..Default::default()
    };
    let mut file = MetadataFile {
        export_time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64,
        ..Default::default()
    };
    let masters = topics.len();
    for (broker, configs) in &topics {
        for c in configs {
            let Some(name) = c.topic_name.as_ref().map(|n| n.to_string()) else {
                continue;
            };
            let Some(name) = admin.short(&name) else {
                continue;
            };
            if let Some(why) =
                topic_left_out(&name, None, &own_names, options.include_retry_and_dlq)
            {
                notes
                    .left_out
                    .insert(format!("topic {name}"), why.reason().to_owned());
                continue;
            }
            let note = notes.topics.entry(name.clone()).or_default();
            note.brokers
                .insert(broker.clone(), [c.read_queue_nums, c.write_queue_nums]);
            match file.topic_config_table.get_mut(&name) {
                None => {
                    file.topic_config_table.insert(
                        name.clone(),
                        TopicEntry {
                            topic_name: name,
                            read_queue_nums: c.read_queue_nums,
                            write_queue_nums: c.write_queue_nums,
                            perm: c.perm,
                            topic_filter_type: serde_json::to_value(c.topic_filter_type)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_else(|| "SINGLE_TAG".into()),
                            topic_sys_flag: c.topic_sys_flag,
                            order: c.order,
                            attributes: c
                                .attributes
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect(),
                        },
                    );
                }
                Some(e) => {
                    e.read_queue_nums += c.read_queue_nums;
                    e.write_queue_nums += c.write_queue_nums;
                    if e.perm != c.perm || e.order != c.order {
                        note.derivation = format!(
                            "masters differ: perm {} / order {} kept from the first, {broker} has perm {} / order {}",
                            e.perm, e.order, c.perm, c.order
                        );
                    }
                }
            }
        }
    }
    for note in notes.topics.values_mut() {
        let how = if note.brokers.len() == 1 {
            format!("from its one master of {masters}")
        } else {
            format!(
                "summed over {} masters (as mqadmin exportMetadata does)",
                note.brokers.len()
            )
        };
        note.derivation = if note.derivation.is_empty() {
            how
        } else {
            format!("{how}; {}", note.derivation)
        };
    }
    for configs in groups.values() {
        for g in configs {
            let Some(name) = admin.short(g.group_name()) else {
                continue;
            };
            if let Some(why) = group_left_out(&name) {
                notes
                    .left_out
                    .insert(format!("group {name}"), why.reason().to_owned());
                continue;
            }
            file.subscription_group_table
                .entry(name.clone())
                .or_insert_with(|| GroupEntry {
                    group_name: name,
                    consume_enable: g.consume_enable(),
                    consume_from_min_enable: g.consume_from_min_enable(),
                    consume_broadcast_enable: g.consume_broadcast_enable(),
                    consume_message_orderly: g.consume_message_orderly(),
                    retry_queue_nums: g.retry_queue_nums(),
                    retry_max_times: g.retry_max_times(),
                    broker_id: g.broker_id(),
                    which_broker_when_consume_slowly: g.which_broker_when_consume_slowly(),
                    notify_consumer_ids_changed_enable: g.notify_consumer_ids_changed_enable(),
                    group_sys_flag: g.group_sys_flag(),
                    consume_timeout_minute: g.consume_timeout_minute(),
                    group_retry_policy: serde_json::to_value(g.group_retry_policy()).ok(),
                    attributes: g
                        .attributes()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                });
        }
    }
    tracing::info!(namesrv = %cluster.name_server_addr, topics = file.topic_config_table.len(),
        groups = file.subscription_group_table.len(), left_out = notes.left_out.len(), "metadata exported");
    file.export_notes = Some(notes);
    Ok(file)
}
