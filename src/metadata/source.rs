//! What the source cluster says about a file's items (`import --source-namesrv`): which names are its brokers'
//! and clusters' own, and each topic's queue counts per master.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;

use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::error::{MigrationError, ToolErrorKind};

/// Facts read from the source cluster for an import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFacts {
    /// Broker and cluster names (brokers and clusters register them as topics).
    pub names: BTreeSet<String>,
    /// Per topic: `[read, write]` queues on each master holding it, by broker name.
    pub queues: BTreeMap<String, BTreeMap<String, [u32; 2]>>,
}

impl SourceFacts {
    /// Ask the source cluster at `cluster`.
    pub async fn read(
        cluster: &ClusterConfig,
        runtime: Arc<ClientRuntime>,
    ) -> Result<Self, MigrationError> {
        cluster.validate("source")?;
        let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
        let names = admin.own_names().await;
        let configs = admin.topic_configs(None).await;
        admin.close().await;
        let fail = |what: &str, e: String| {
            MigrationError::new(
                ToolErrorKind::Admin,
                Some(Cluster::Source),
                format!("ask the source {} {what}: {e}", cluster.name_server_addr),
            )
        };
        let names = names.map_err(|e| fail("for its broker and cluster names", e))?;
        let configs = configs.map_err(|e| fail("for its topics' queue counts", e))?;
        let mut queues: BTreeMap<String, BTreeMap<String, [u32; 2]>> = BTreeMap::new();
        for (broker, list) in configs {
            for c in list {
                if let Some(name) = &c.topic_name {
                    queues
                        .entry(name.to_string())
                        .or_default()
                        .insert(broker.clone(), [c.read_queue_nums, c.write_queue_nums]);
                }
            }
        }
        Ok(SourceFacts {
            names: names.into_iter().collect(),
            queues,
        })
    }
}
