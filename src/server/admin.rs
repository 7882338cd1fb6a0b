//! Read-only questions the control plane asks one cluster's admin API: does a topic or group exist, which groups
//! consume a topic, a group's backlog, how many messages a topic has stored, whether a group has consumers online.
//!
//! Every question goes to each master broker explicitly where the broker answers per broker (asking by route
//! silently returns nothing for a group that never connected). Errors come back as text for the check details.

use std::collections::BTreeSet;
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    ClientError, ClientRuntime, ConsumerAdmin, ConsumerConnectionRead, DefaultMQAdminExt,
    MQAdminConsumerObservationReadExt, MQClientException, RouteAdmin, TopicAdmin,
};
use rocketmq_model::common::mix_all::{is_sys_consumer_group, MASTER_ID};

use crate::cluster::Cluster;
use crate::config::ClusterConfig;

/// Built-in groups every broker creates; never migrated, never reported.
const BUILTIN_GROUPS: &[&str] = &[
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "SCHEDULE_CONSUMER",
    "__MONITOR_CONSUMER",
    "DEFAULT_CONSUMER",
];

/// Distinguishes admin clients of one process (a server restarted in-process gets new names).
static NEXT_ADMIN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Response codes: topic not exist, subscription group not exist.
const TOPIC_NOT_EXIST: i32 = 17;
const GROUP_NOT_EXIST: i32 = 26;

/// Whether `group` is a broker's own group rather than an application's.
pub(crate) fn is_system_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group) || is_sys_consumer_group(group)
}

/// The broker's response code carried by `e`, however the client wrapped it.
fn response_code(e: &ClientError) -> Option<i32> {
    e.broker_response_code().or_else(|| {
        e.source_ref::<MQClientException>()
            .map(|x| x.response_code())
            .filter(|c| *c >= 0)
    })
}

fn describe(e: &ClientError) -> String {
    let mut s = format!("{e:?}");
    s.truncate(400);
    s
}

/// One cluster's admin client, started on first use.
pub(crate) struct ClusterAdmin {
    cluster: Cluster,
    config: ClusterConfig,
    runtime: Arc<ClientRuntime>,
    admin: tokio::sync::Mutex<Option<Arc<DefaultMQAdminExt>>>,
}

impl ClusterAdmin {
    pub(crate) fn new(
        cluster: Cluster,
        config: ClusterConfig,
        runtime: Arc<ClientRuntime>,
    ) -> Self {
        ClusterAdmin {
            cluster,
            config,
            runtime,
            admin: tokio::sync::Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<Arc<DefaultMQAdminExt>, String> {
        let mut slot = self.admin.lock().await;
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let mut admin = match self.config.rpc_hook(None) {
            Some(hook) => DefaultMQAdminExt::with_rpc_hook(self.runtime.clone(), hook),
            None => DefaultMQAdminExt::new(self.runtime.clone()),
        };
        admin.set_namesrv_addr(self.config.name_server_addr.as_str());
        // Distinct names: two admins in one process (source and target) must not share a client instance.
        admin
            .client_config_mut()
            .set_instance_name(CheetahString::from(format!(
                "rmq-migrate-{}-{}-{}",
                self.cluster,
                std::process::id(),
                NEXT_ADMIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )));
        admin.start().await.map_err(|e| {
            format!(
                "start admin client for {} ({}): {}",
                self.cluster,
                self.config.name_server_addr,
                describe(&e)
            )
        })?;
        tracing::info!(cluster = %self.cluster, namesrv = %self.config.name_server_addr, "admin client started");
        let admin = Arc::new(admin);
        *slot = Some(admin.clone());
        Ok(admin)
    }

    /// Shut the admin client down (it starts again on next use).
    pub(crate) async fn close(&self) {
        if let Some(a) = self.admin.lock().await.take() {
            match Arc::try_unwrap(a) {
                Ok(mut a) => a.shutdown().await,
                Err(_) => {
                    tracing::debug!(cluster = %self.cluster, "admin client still in use at close; left to drop")
                }
            }
        }
    }

    /// Master broker addresses of every broker registered with the name server.
    async fn masters(&self, admin: &DefaultMQAdminExt) -> Result<Vec<CheetahString>, String> {
        let info = RouteAdmin::examine_broker_cluster_info(admin)
            .await
            .map_err(|e| format!("read cluster info: {}", describe(&e)))?;
        let masters: Vec<CheetahString> = info
            .broker_addr_table
            .iter()
            .flatten()
            .filter_map(|(_, bd)| bd.broker_addrs().get(&MASTER_ID).cloned())
            .collect();
        if masters.is_empty() {
            return Err("no master broker is registered with the name server".into());
        }
        Ok(masters)
    }

    /// Whether `topic` has a route (queues on some broker).
    pub(crate) async fn topic_exists(&self, topic: &str) -> Result<bool, String> {
        let admin = self.client().await?;
        match TopicAdmin::examine_topic_route_info(&*admin, topic.into()).await {
            Ok(Some(route)) => Ok(!route.queue_datas.is_empty()),
            Ok(None) => Ok(false),
            Err(e) if response_code(&e) == Some(TOPIC_NOT_EXIST) => Ok(false),
            Err(e) => Err(format!("read route of {topic}: {}", describe(&e))),
        }
    }

    /// Every application consumer group on every master.
    pub(crate) async fn groups(&self) -> Result<BTreeSet<String>, String> {
        let admin = self.client().await?;
        let mut out = BTreeSet::new();
        for m in self.masters(&admin).await? {
            let w = ConsumerAdmin::get_all_subscription_group(&*admin, m.clone(), 5_000)
                .await
                .map_err(|e| format!("list groups on {m}: {}", describe(&e)))?;
            out.extend(
                w.subscription_group_table
                    .keys()
                    .map(|g| g.to_string())
                    .filter(|g| !is_system_group(g)),
            );
        }
        Ok(out)
    }

    /// Whether `group` exists on every master.
    pub(crate) async fn group_exists(&self, group: &str) -> Result<bool, String> {
        let admin = self.client().await?;
        for m in self.masters(&admin).await? {
            match ConsumerAdmin::examine_subscription_group_config(&*admin, m.clone(), group.into())
                .await
            {
                Ok(_) => {}
                Err(e) if response_code(&e) == Some(GROUP_NOT_EXIST) => return Ok(false),
                Err(e) => return Err(format!("read group {group} on {m}: {}", describe(&e))),
            }
        }
        Ok(true)
    }

    /// Groups with consumers online for `topic` or with committed offsets for it (system groups left out).
    pub(crate) async fn groups_of_topic(&self, topic: &str) -> Result<BTreeSet<String>, String> {
        let admin = self.client().await?;
        let list = TopicAdmin::query_topic_consume_by_who(&*admin, topic.into())
            .await
            .map_err(|e| format!("query consumers of {topic}: {}", describe(&e)))?;
        Ok(list
            .group_list
            .iter()
            .map(|g| g.to_string())
            .filter(|g| !is_system_group(g))
            .collect())
    }

    /// Messages of `topic` stored but not consumed by `group`, summed over every master. A group without an offset
    /// for a queue counts that queue's whole content (it has consumed none of it).
    pub(crate) async fn backlog(&self, group: &str, topic: &str) -> Result<u64, String> {
        let admin = self.client().await?;
        let mut total = 0u64;
        for m in self.masters(&admin).await? {
            let stats = ConsumerAdmin::examine_consume_stats(
                &*admin,
                group.into(),
                Some(topic.into()),
                None,
                Some(m.clone()),
                None,
            )
            .await
            .map_err(|e| format!("read consume stats of {group} on {m}: {}", describe(&e)))?;
            total += stats
                .offset_table
                .iter()
                .filter(|(mq, _)| mq.topic().as_str() == topic)
                .map(|(_, w)| (w.get_broker_offset() - w.get_consumer_offset()).max(0) as u64)
                .sum::<u64>();
        }
        Ok(total)
    }

    /// Messages ever stored for `topic` (sum of the queues' max offsets); `None` when the topic has no route.
    pub(crate) async fn stored(&self, topic: &str) -> Result<Option<u64>, String> {
        let admin = self.client().await?;
        match TopicAdmin::examine_topic_stats(&*admin, topic.into(), None).await {
            Ok(t) if t.get_offset_table().is_empty() => Ok(None),
            Ok(t) => Ok(Some(
                t.get_offset_table()
                    .values()
                    .map(|o| o.get_max_offset().max(0) as u64)
                    .sum(),
            )),
            Err(e) if response_code(&e) == Some(TOPIC_NOT_EXIST) => Ok(None),
            Err(e) => Err(format!("read offsets of {topic}: {}", describe(&e))),
        }
    }

    /// Whether any consumer of `group` is connected to any master.
    pub(crate) async fn has_connections(&self, group: &str) -> Result<bool, String> {
        let admin = self.client().await?;
        for m in self.masters(&admin).await? {
            match MQAdminConsumerObservationReadExt::consumer_connection_at(
                &*admin,
                m.clone(),
                group.into(),
            )
            .await
            {
                Ok(ConsumerConnectionRead::Online(c)) if !c.get_connection_set().is_empty() => {
                    return Ok(true)
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "read connections of {group} on {m}: {}",
                        describe(&e)
                    ))
                }
            }
        }
        Ok(false)
    }
}
