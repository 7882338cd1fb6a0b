//! One cluster's admin API, as the control plane, metadata export/import and the backlog check use it: does a topic
//! or group exist, which groups consume a topic, a group's backlog, how many messages a topic has stored, whether a
//! group has consumers online, every topic and group config per master, and creating them.
//!
//! Every question goes to each master broker explicitly where the broker answers per broker (asking by route
//! silently returns nothing for a group that never connected). Errors come back as text (check details, per-item
//! results).

use std::collections::BTreeSet;
use std::sync::Arc;

use cheetah_string::CheetahString;
use std::collections::BTreeMap;

use rocketmq_client_rust::{
    ClientError, ClientRuntime, ConsumerAdmin, ConsumerConnectionRead, DefaultMQAdminExt,
    MQAdminConsumerObservationReadExt, MQClientException, RouteAdmin, TopicAdmin,
};
use rocketmq_model::common::config::TopicConfig;
use rocketmq_model::common::mix_all::{is_sys_consumer_group, MASTER_ID};
use rocketmq_protocol::protocol::subscription::subscription_group_config::SubscriptionGroupConfig;

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
    "DEFAULT_PRODUCER",
    "CLIENT_INNER_PRODUCER",
    "SELF_TEST_P_GROUP",
];

/// Distinguishes admin clients of one process (a server restarted in-process gets new names).
static NEXT_ADMIN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Response codes: topic not exist, subscription group not exist.
pub(crate) const TOPIC_NOT_EXIST: i32 = 17;
const GROUP_NOT_EXIST: i32 = 26;

/// Whether `group` is a broker's own group rather than an application's.
pub(crate) fn is_system_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
        || group.starts_with("CID_ONSAPI_")
        || is_sys_consumer_group(group)
}

/// The broker's response code carried by `e`, however the client wrapped it.
pub(crate) fn response_code(e: &ClientError) -> Option<i32> {
    e.broker_response_code().or_else(|| {
        e.source_ref::<MQClientException>()
            .map(|x| x.response_code())
            .filter(|c| *c >= 0)
    })
}

/// The kind of failure an admin call met: per-item causes of an import and the connection check name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// The name server or broker could not be reached (refused, reset, timed out).
    Unreachable,
    /// The broker refused the credentials (wrong or missing AccessKey/SecretKey, bad signature).
    AuthenticationFailed,
    /// The credentials were accepted but lack the permission for this call.
    PermissionDenied,
    /// Anything else (the text says what).
    Other,
}

/// Broker response code for "no permission" (`ResponseCode::NoPermission`).
pub(crate) const NO_PERMISSION: i32 = 16;

/// What kind of failure `e` is: the broker's response code where there is one, else the error class of the
/// client error or of any error it wraps.
pub(crate) fn trouble_of(e: &ClientError) -> Trouble {
    use rocketmq_error::ErrorClass;
    if response_code(e) == Some(NO_PERMISSION) {
        // The broker answers both with NO_PERMISSION; only its remark tells them apart.
        let remark = remark(e).unwrap_or_default().to_ascii_lowercase();
        return if remark.contains("authentication") || remark.contains("credential") {
            Trouble::AuthenticationFailed
        } else {
            Trouble::PermissionDenied
        };
    }
    let mut classes = vec![e.descriptor().class()];
    let mut current: Option<&(dyn std::error::Error + 'static)> =
        std::error::Error::source(e.shared_error().as_ref());
    while let Some(err) = current {
        if let Some(x) = err.downcast_ref::<rocketmq_error::Error>() {
            classes.push(x.descriptor().class());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            ) {
                return Trouble::Unreachable;
            }
        }
        current = err.source();
    }
    if classes.contains(&ErrorClass::AUTHENTICATION) {
        Trouble::AuthenticationFailed
    } else if classes.contains(&ErrorClass::AUTHORIZATION) {
        Trouble::PermissionDenied
    } else if classes.iter().any(|c| {
        matches!(
            *c,
            ErrorClass::TIMEOUT | ErrorClass::UNAVAILABLE | ErrorClass::IO
        )
    }) {
        Trouble::Unreachable
    } else {
        Trouble::Other
    }
}

/// A failed admin call: its kind and what happened, in words.
#[derive(Clone, Debug)]
pub(crate) struct AdminFailure {
    pub(crate) trouble: Trouble,
    pub(crate) text: String,
}

impl AdminFailure {
    fn client(what: String, e: &ClientError) -> Self {
        AdminFailure {
            trouble: trouble_of(e),
            text: format!("{what}: {}", describe(e)),
        }
    }
}

impl std::fmt::Display for AdminFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<AdminFailure> for String {
    fn from(f: AdminFailure) -> String {
        f.text
    }
}

impl From<String> for AdminFailure {
    fn from(text: String) -> Self {
        AdminFailure {
            trouble: Trouble::Other,
            text,
        }
    }
}

/// The broker's remark carried by `e` (e.g. "Authentication credentials are invalid"), if any.
fn remark(e: &ClientError) -> Option<String> {
    e.source_ref::<MQClientException>()
        .and_then(|x| x.error_message().map(str::to_owned))
}

/// `e` in words for details and logs: the client error, and the broker's response code and remark where there
/// is one (the client error's own text leaves them out).
pub(crate) fn describe(e: &ClientError) -> String {
    let mut s = format!("{e:?}");
    s.truncate(400);
    if let Some(code) = response_code(e) {
        s.push_str(&format!(" (broker code {code}"));
        if let Some(r) = remark(e) {
            s.push_str(&format!(": {r}"));
        }
        s.push(')');
    }
    s
}

/// One cluster's admin client, started on first use.
pub(crate) struct ClusterAdmin {
    cluster: Cluster,
    config: ClusterConfig,
    runtime: Arc<ClientRuntime>,
    admin: tokio::sync::Mutex<Option<Arc<DefaultMQAdminExt>>>,
    // Masters of every cluster, reused for a few seconds (an import asks per item).
    masters: parking_lot::Mutex<Option<(std::time::Instant, Masters)>>,
}

/// `(broker name, master address)` pairs.
type Masters = Vec<(String, CheetahString)>;

/// How long the master list is reused.
const MASTERS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

// Some questions are asked only by the control plane (feature `server`).
#[cfg_attr(not(feature = "server"), allow(dead_code))]
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
            masters: parking_lot::Mutex::new(None),
        }
    }

    pub(crate) async fn client(&self) -> Result<Arc<DefaultMQAdminExt>, String> {
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

    /// This cluster's client namespace (`None`: none, or an empty one).
    pub(crate) fn namespace(&self) -> Option<&str> {
        self.config.namespace_in_use()
    }

    /// This cluster's name of the application's topic or group `name` (in the cluster's namespace, if any).
    pub(crate) fn full(&self, name: &str) -> String {
        crate::names::full(self.namespace(), name)
    }

    /// The application's name of this cluster's `full` name; `None` when it lies outside the namespace.
    pub(crate) fn short(&self, full: &str) -> Option<String> {
        crate::names::short(self.namespace(), full)
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
    async fn masters(&self, admin: &DefaultMQAdminExt) -> Result<Vec<CheetahString>, AdminFailure> {
        Ok(self
            .masters_of(admin, None)
            .await?
            .into_iter()
            .map(|(_, addr)| addr)
            .collect())
    }

    /// `(broker name, master address)` of every broker, or of the brokers of cluster `cluster_name`.
    pub(crate) async fn masters_of(
        &self,
        admin: &DefaultMQAdminExt,
        cluster_name: Option<&str>,
    ) -> Result<Vec<(String, CheetahString)>, AdminFailure> {
        if cluster_name.is_none() {
            if let Some((at, m)) = self.masters.lock().as_ref() {
                if at.elapsed() < MASTERS_TTL {
                    return Ok(m.clone());
                }
            }
        }
        let info = RouteAdmin::examine_broker_cluster_info(admin)
            .await
            .map_err(|e| AdminFailure::client("read cluster info".into(), &e))?;
        let mut masters: Vec<(String, CheetahString)> = info
            .broker_addr_table
            .iter()
            .flatten()
            .filter(|(_, bd)| cluster_name.is_none_or(|c| bd.cluster() == c))
            .filter_map(|(name, bd)| {
                bd.broker_addrs()
                    .get(&MASTER_ID)
                    .map(|a| (name.to_string(), a.clone()))
            })
            .collect();
        masters.sort();
        if masters.is_empty() {
            return Err(AdminFailure::from(match cluster_name {
                Some(c) => {
                    format!("no master broker of cluster {c:?} is registered with the name server")
                }
                None => "no master broker is registered with the name server".to_owned(),
            }));
        }
        if cluster_name.is_none() {
            *self.masters.lock() = Some((std::time::Instant::now(), masters.clone()));
        }
        Ok(masters)
    }

    /// Names brokers and clusters register as topics: every broker name and cluster name.
    pub(crate) async fn own_names(&self) -> Result<Vec<String>, String> {
        let (mut names, clusters) = self.broker_and_cluster_names().await?;
        names.extend(clusters);
        Ok(names)
    }

    /// Every broker name and every cluster name the name server reports.
    async fn broker_and_cluster_names(&self) -> Result<(Vec<String>, Vec<String>), String> {
        let admin = self.client().await?;
        let info = RouteAdmin::examine_broker_cluster_info(&*admin)
            .await
            .map_err(|e| format!("read cluster info: {}", describe(&e)))?;
        let names = |t: Option<Vec<String>>| t.unwrap_or_default();
        Ok((
            names(
                info.broker_addr_table
                    .map(|t| t.keys().map(|b| b.to_string()).collect()),
            ),
            names(
                info.cluster_addr_table
                    .map(|t| t.keys().map(|c| c.to_string()).collect()),
            ),
        ))
    }

    /// Every topic config on every master (of `cluster_name`, or all), by broker name.
    pub(crate) async fn topic_configs(
        &self,
        cluster_name: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<TopicConfig>>, String> {
        self.on_every_master(
            cluster_name,
            "list topic configs",
            |admin, addr| async move {
                let w = TopicAdmin::get_all_topic_config(&*admin, addr, 10_000).await?;
                Ok(w.topic_config_table()
                    .map(|t| t.values().cloned().collect())
                    .unwrap_or_default())
            },
        )
        .await
    }

    /// Every subscription group config on every master (of `cluster_name`, or all), by broker name.
    pub(crate) async fn group_configs(
        &self,
        cluster_name: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<SubscriptionGroupConfig>>, String> {
        self.on_every_master(cluster_name, "list groups", |admin, addr| async move {
            let w = ConsumerAdmin::get_all_subscription_group(&*admin, addr, 10_000).await?;
            Ok(w.subscription_group_table.into_values().collect())
        })
        .await
    }

    /// What `read` gives on every master (of `cluster_name`, or all), by broker name. `what` (`list groups`)
    /// names the read in an error, with the broker and its address.
    async fn on_every_master<T, Fut>(
        &self,
        cluster_name: Option<&str>,
        what: &str,
        read: impl Fn(Arc<DefaultMQAdminExt>, CheetahString) -> Fut,
    ) -> Result<BTreeMap<String, T>, String>
    where
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let admin = self.client().await?;
        let mut out = BTreeMap::new();
        for (broker, addr) in self.masters_of(&admin, cluster_name).await? {
            let got = read(admin.clone(), addr.clone())
                .await
                .map_err(|e| format!("{what} on {broker} ({addr}): {}", describe(&e)))?;
            out.insert(broker, got);
        }
        Ok(out)
    }

    /// What `read` gives on the first master that has the item: a master answering response code `absent` does
    /// not have it; `None` when no master has. `what` (`read topic t`) names the read in an error.
    async fn on_first_master<T, Fut>(
        &self,
        what: &str,
        absent: i32,
        read: impl Fn(Arc<DefaultMQAdminExt>, CheetahString) -> Fut,
    ) -> Result<Option<T>, AdminFailure>
    where
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let admin = self.client().await?;
        for m in self.masters(&admin).await? {
            match read(admin.clone(), m.clone()).await {
                Ok(c) => return Ok(Some(c)),
                Err(e) if response_code(&e) == Some(absent) => {}
                Err(e) => return Err(AdminFailure::client(format!("{what} on {m}"), &e)),
            }
        }
        Ok(None)
    }

    /// The config of `topic` on the first master that has it.
    pub(crate) async fn topic_config(
        &self,
        topic: &str,
    ) -> Result<Option<TopicConfig>, AdminFailure> {
        let what = format!("read topic {topic}");
        self.on_first_master(&what, TOPIC_NOT_EXIST, |admin, m| async move {
            TopicAdmin::examine_topic_config(&*admin, m, topic.into()).await
        })
        .await
    }

    /// The config of `group` on the first master that has it.
    pub(crate) async fn group_config(
        &self,
        group: &str,
    ) -> Result<Option<SubscriptionGroupConfig>, AdminFailure> {
        let what = format!("read group {group}");
        self.on_first_master(&what, GROUP_NOT_EXIST, |admin, m| async move {
            ConsumerAdmin::examine_subscription_group_config(&*admin, m, group.into()).await
        })
        .await
    }

    /// Create or update `config` on every master.
    pub(crate) async fn put_topic(&self, config: TopicConfig) -> Result<(), AdminFailure> {
        let admin = self.client().await?;
        for m in self.masters(&admin).await? {
            TopicAdmin::create_and_update_topic_config(&*admin, m.clone(), config.clone())
                .await
                .map_err(|e| AdminFailure::client(format!("write topic config on {m}"), &e))?;
        }
        Ok(())
    }

    /// Create or update `config` on every master.
    pub(crate) async fn put_group(
        &self,
        config: SubscriptionGroupConfig,
    ) -> Result<(), AdminFailure> {
        let admin = self.client().await?;
        for m in self.masters(&admin).await? {
            ConsumerAdmin::create_and_update_subscription_group_config(
                &*admin,
                m.clone(),
                config.clone(),
            )
            .await
            .map_err(|e| AdminFailure::client(format!("write group config on {m}"), &e))?;
        }
        Ok(())
    }

    /// Unconsumed messages per `(group, topic)`, summed over every master: for `group` (or every application
    /// group; with `topic`, every group that consumes it), on `topic` (or every topic the group has offsets for).
    /// A group asked about a topic it has no offsets for counts the whole topic (it has consumed none of it).
    /// Retry topics count (their messages are still due); dead-letter topics do not (never consumed).
    pub(crate) async fn lag(
        &self,
        group: Option<&str>,
        topic: Option<&str>,
    ) -> Result<BTreeMap<(String, String), u64>, String> {
        let groups: Vec<String> = match (group, topic) {
            (Some(g), _) => vec![g.to_owned()],
            (None, Some(t)) => self.groups_of_topic(t).await?.into_iter().collect(),
            (None, None) => self.groups().await?.into_iter().collect(),
        };
        let admin = self.client().await?;
        let masters = self.masters(&admin).await?;
        let mut out = BTreeMap::new();
        for g in groups {
            let full_group = self.full(&g);
            for m in &masters {
                let stats = ConsumerAdmin::examine_consume_stats(
                    &*admin,
                    full_group.as_str().into(),
                    None,
                    None,
                    Some(m.clone()),
                    None,
                )
                .await
                .map_err(|e| format!("read consume stats of {g} on {m}: {}", describe(&e)))?;
                for (mq, w) in &stats.offset_table {
                    let Some(topic) = self.short(mq.topic()) else {
                        continue;
                    };
                    if topic.starts_with("%DLQ%") {
                        continue;
                    }
                    let lag = (w.get_broker_offset() - w.get_consumer_offset()).max(0) as u64;
                    *out.entry((g.clone(), topic)).or_default() += lag;
                }
            }
        }
        // The broker reports nothing for a group without offsets on a topic it is not (or no longer) subscribed
        // to; asked about that pair explicitly, the group has consumed none of what is stored.
        if let (Some(g), Some(t)) = (group, topic) {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                out.entry((g.to_owned(), t.to_owned()))
            {
                if let Some(n) = self.retained(t).await? {
                    slot.insert(n);
                }
            }
        }
        Ok(out)
    }

    /// Whether `topic` has a route (queues on some broker).
    pub(crate) async fn topic_exists(&self, topic: &str) -> Result<bool, String> {
        let admin = self.client().await?;
        let topic = self.full(topic);
        match TopicAdmin::examine_topic_route_info(&*admin, topic.as_str().into()).await {
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
                    .filter(|g| !is_system_group(g))
                    .filter_map(|g| self.short(g)),
            );
        }
        Ok(out)
    }

    /// Whether `group` exists on every master.
    pub(crate) async fn group_exists(&self, group: &str) -> Result<bool, String> {
        let admin = self.client().await?;
        let group = self.full(group);
        let group = group.as_str();
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
        let topic = self.full(topic);
        let list = TopicAdmin::query_topic_consume_by_who(&*admin, topic.as_str().into())
            .await
            .map_err(|e| format!("query consumers of {topic}: {}", describe(&e)))?;
        Ok(list
            .group_list
            .iter()
            .filter(|g| !is_system_group(g))
            .filter_map(|g| self.short(g))
            .collect())
    }

    /// Messages of `topic` stored but not consumed by `group`, summed over every master. A group without an offset
    /// for a queue counts that queue's whole content (it has consumed none of it).
    pub(crate) async fn backlog(&self, group: &str, topic: &str) -> Result<u64, String> {
        Ok(self.consumption(group, topic).await?.1)
    }

    /// `group`'s committed offsets on `topic` summed over its queues on every master (messages it has consumed,
    /// counting from each queue's start), and its backlog there (as [`ClusterAdmin::backlog`]).
    pub(crate) async fn consumption(&self, group: &str, topic: &str) -> Result<(u64, u64), String> {
        let admin = self.client().await?;
        let (group, topic) = (self.full(group), self.full(topic));
        let (group, topic) = (group.as_str(), topic.as_str());
        let mut total = 0u64;
        let mut consumed = 0u64;
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
            for (_, w) in stats
                .offset_table
                .iter()
                .filter(|(mq, _)| mq.topic().as_str() == topic)
            {
                total += (w.get_broker_offset() - w.get_consumer_offset()).max(0) as u64;
                consumed += w.get_consumer_offset().max(0) as u64;
            }
        }
        Ok((consumed, total))
    }

    /// Messages ever stored for `topic` (sum of the queues' max offsets); `None` when the topic has no route.
    pub(crate) async fn stored(&self, topic: &str) -> Result<Option<u64>, String> {
        self.offsets_sum(topic, |max, _| max).await
    }

    /// Messages of `topic` still stored (sum over queues of max − min offset); `None` when the topic has no route.
    pub(crate) async fn retained(&self, topic: &str) -> Result<Option<u64>, String> {
        self.offsets_sum(topic, |max, min| max - min).await
    }

    /// Sum `per_queue(max, min)` (floored at 0) over `topic`'s queues; `None` when the topic has no route.
    async fn offsets_sum(
        &self,
        topic: &str,
        per_queue: impl Fn(i64, i64) -> i64,
    ) -> Result<Option<u64>, String> {
        let admin = self.client().await?;
        let topic = self.full(topic);
        let topic = topic.as_str();
        match TopicAdmin::examine_topic_stats(&*admin, topic.into(), None).await {
            Ok(t) if t.get_offset_table().is_empty() => Ok(None),
            Ok(t) => Ok(Some(
                t.get_offset_table()
                    .values()
                    .map(|o| per_queue(o.get_max_offset(), o.get_min_offset()).max(0) as u64)
                    .sum(),
            )),
            Err(e) if response_code(&e) == Some(TOPIC_NOT_EXIST) => Ok(None),
            Err(e) => Err(format!("read offsets of {topic}: {}", describe(&e))),
        }
    }

    /// `(client id, client address)` of every consumer of `group` connected to any master.
    pub(crate) async fn connections(&self, group: &str) -> Result<Vec<(String, String)>, String> {
        Ok(self.consumers(group).await?.0)
    }

    /// Every consumer of `group` connected to any master as `(client id, client address)`, and the topics they
    /// subscribe to (short names; retry topics left out).
    pub(crate) async fn consumers(
        &self,
        group: &str,
    ) -> Result<(Vec<(String, String)>, BTreeSet<String>), String> {
        let admin = self.client().await?;
        let group = self.full(group);
        let group = group.as_str();
        let mut out = BTreeSet::new();
        let mut topics = BTreeSet::new();
        for m in self.masters(&admin).await? {
            match MQAdminConsumerObservationReadExt::consumer_connection_at(
                &*admin,
                m.clone(),
                group.into(),
            )
            .await
            {
                Ok(ConsumerConnectionRead::Online(c)) => {
                    out.extend(c.get_connection_set().iter().map(|x| {
                        (
                            x.get_client_id().to_string(),
                            x.get_client_addr().to_string(),
                        )
                    }));
                    topics.extend(
                        c.get_subscription_table()
                            .keys()
                            .filter(|t| !t.starts_with("%RETRY%"))
                            .filter_map(|t| self.short(t)),
                    );
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
        Ok((out.into_iter().collect(), topics))
    }

    /// The cluster names the name server reports (the cluster's identity, as the task records it).
    pub(crate) async fn cluster_names(&self) -> Result<Vec<String>, String> {
        let mut names = self.broker_and_cluster_names().await?.1;
        names.sort();
        Ok(names)
    }

    /// The name server KV entry `namespace`/`key`; `None` when there is none.
    pub(crate) async fn kv_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, String> {
        let admin = self.client().await?;
        let value = RouteAdmin::get_kv_config(&*admin, namespace.into(), key.into())
            .await
            .map_err(|e| format!("read name server KV {namespace}/{key}: {}", describe(&e)))?;
        Ok(Some(value.to_string()).filter(|v| !v.is_empty()))
    }

    /// Set the name server KV entry `namespace`/`key` on every name server.
    pub(crate) async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<(), String> {
        let admin = self.client().await?;
        RouteAdmin::create_and_update_kv_config(&*admin, namespace.into(), key.into(), value.into())
            .await
            .map_err(|e| format!("write name server KV {namespace}/{key}: {}", describe(&e)))
    }

    /// Delete the name server KV entry `namespace`/`key` on every name server.
    pub(crate) async fn kv_delete(&self, namespace: &str, key: &str) -> Result<(), String> {
        let admin = self.client().await?;
        RouteAdmin::delete_kv_config(&*admin, namespace.into(), key.into())
            .await
            .map_err(|e| format!("delete name server KV {namespace}/{key}: {}", describe(&e)))
    }
}
