//! One embedded cluster (namesrv + broker) and a source/target pair.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{ClientRuntime, ConsumerAdmin, DefaultMQAdminExt, DefaultMQProducer};
use rocketmq_protocol::protocol::subscription::subscription_group_config::SubscriptionGroupConfig;

use super::broker::{BrokerSpec, EmbeddedBroker, TestAuth};
use super::namesrv::EmbeddedNamesrv;
use crate::config::ClusterConfig;
use crate::error::{MigrationError, ToolErrorKind};

/// A namesrv and one broker running in this process, on free loopback ports, with a temporary store.
///
/// Dropping it cancels every task and deletes the store; [`EmbeddedCluster::shutdown`] stops it gracefully.
pub struct EmbeddedCluster {
    name: String,
    spec: BrokerSpec,
    broker: Option<EmbeddedBroker>,
    generation: u32,
    namesrv: EmbeddedNamesrv,
    // Declared last: removed after the broker and namesrv are gone.
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("name", &self.name)
            .field("namesrv", &self.namesrv.addr)
            .field("broker", &self.spec.addr())
            .field("broker_running", &self.broker.is_some())
            .finish()
    }
}

impl EmbeddedCluster {
    /// Start a cluster named `name` (broker `{name}-broker-a` in cluster `{name}Cluster`) in the current runtime.
    pub async fn start(name: &str) -> Result<Self, MigrationError> {
        Self::start_with(name, None).await
    }

    /// Start a cluster whose broker authenticates every request (see [`TestAuth`]); the name server does not.
    pub async fn start_with_auth(name: &str, auth: TestAuth) -> Result<Self, MigrationError> {
        Self::start_with(name, Some(auth)).await
    }

    async fn start_with(name: &str, auth: Option<TestAuth>) -> Result<Self, MigrationError> {
        let parent = super::store_root::parent_dir()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("rmq-{name}-"))
            .tempdir_in(&parent)
            .map_err(|e| {
                MigrationError::new(
                    ToolErrorKind::Cluster,
                    None,
                    format!(
                        "cluster {name}: cannot create its store directory in {} (set {} to another directory)",
                        parent.display(),
                        super::store_root::TESTKIT_DIR_ENV
                    ),
                )
                .with_source(e)
            })?;
        let namesrv = EmbeddedNamesrv::start(name, dir.path()).await?;
        let mut spec = BrokerSpec::new(name, dir.path(), &namesrv.addr)?;
        spec.auth = auth;
        let broker = EmbeddedBroker::start(&spec, 0).await?;
        tracing::info!(cluster = name, namesrv = %namesrv.addr, broker = %spec.addr(), "embedded cluster up");
        Ok(EmbeddedCluster {
            name: name.to_owned(),
            spec,
            broker: Some(broker),
            generation: 0,
            namesrv,
            _dir: dir,
        })
    }

    /// The temporary directory holding this cluster's namesrv config and broker store (removed on drop).
    pub fn root_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `127.0.0.1:<port>` of the name server.
    pub fn name_server_addr(&self) -> &str {
        &self.namesrv.addr
    }

    /// The broker's name (`{name}-broker-a`).
    pub fn broker_name(&self) -> &str {
        &self.spec.broker_name
    }

    /// `127.0.0.1:<port>` of the broker.
    pub fn broker_addr(&self) -> String {
        self.spec.addr()
    }

    /// Connection settings for this cluster.
    pub fn cluster_config(&self) -> ClusterConfig {
        let c = ClusterConfig::new(self.namesrv.addr.clone());
        match &self.spec.auth {
            Some(a) => c.credentials(a.admin_user.clone(), a.admin_password.clone()),
            None => c,
        }
    }

    /// Whether the broker is running.
    pub fn broker_running(&self) -> bool {
        self.broker.is_some()
    }

    /// Stop the broker (ports and store are released; the namesrv keeps running).
    pub async fn stop_broker(&mut self) {
        if let Some(mut b) = self.broker.take() {
            b.shutdown().await;
            tracing::info!(cluster = %self.name, broker = %self.spec.addr(), "embedded broker stopped");
        }
    }

    /// Start the broker again on the same ports and store. No-op if it runs.
    pub async fn restart_broker(&mut self) -> Result<(), MigrationError> {
        if self.broker.is_some() {
            return Ok(());
        }
        self.generation += 1;
        // The old listeners close asynchronously; retry briefly while a port is still held.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match EmbeddedBroker::start(&self.spec, self.generation).await {
                Ok(b) => {
                    self.broker = Some(b);
                    tracing::info!(cluster = %self.name, broker = %self.spec.addr(), "embedded broker restarted");
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(error = %e, "broker restart failed, retrying");
                    self.generation += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Create `topic` with `queues` read/write queues on the broker and wait until the name server routes it.
    pub async fn create_topic(
        &self,
        runtime: &Arc<ClientRuntime>,
        topic: &str,
        queues: i32,
    ) -> Result<(), MigrationError> {
        let err = |what: &str| {
            MigrationError::new(
                ToolErrorKind::Cluster,
                None,
                format!("cluster {}: create topic {topic}: {what}", self.name),
            )
        };
        let mut admin = DefaultMQProducer::builder(runtime.clone())
            .producer_group(super::unique_name("testkit_admin"))
            .name_server_addr(self.namesrv.addr.clone())
            .build();
        admin
            .start()
            .await
            .map_err(|e| err("start client").with_source(e))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let result = async {
            loop {
                let attempt = admin
                    .create_topic("TBW102", topic, queues, HashMap::new())
                    .await;
                if attempt.is_ok() {
                    if let Ok(mqs) = admin.fetch_publish_message_queues(topic).await {
                        if mqs.len() >= queues as usize {
                            return Ok(());
                        }
                    }
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(match attempt {
                        Err(e) => err("not routed within 30 s").with_source(e),
                        Ok(()) => err("not routed within 30 s"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        .await;
        admin.shutdown().await;
        result
    }

    /// Create (or update) consumer group `group` on the broker, as `mqadmin updateSubGroup` does.
    pub async fn create_group(
        &self,
        runtime: &Arc<ClientRuntime>,
        group: &str,
    ) -> Result<(), MigrationError> {
        let err = |what: &str| {
            MigrationError::new(
                ToolErrorKind::Cluster,
                None,
                format!("cluster {}: create group {group}: {what}", self.name),
            )
        };
        let mut admin = DefaultMQAdminExt::new(runtime.clone());
        admin.set_namesrv_addr(self.namesrv.addr.as_str());
        admin
            .client_config_mut()
            .set_instance_name(CheetahString::from(super::unique_name("testkit_admin")));
        admin
            .start()
            .await
            .map_err(|e| err("start admin client").with_source(e))?;
        let config = SubscriptionGroupConfig::new(CheetahString::from(group));
        let result = ConsumerAdmin::create_and_update_subscription_group_config(
            &admin,
            CheetahString::from(self.spec.addr()),
            config,
        )
        .await
        .map_err(|e| err("update subscription group").with_source(e));
        admin.shutdown().await;
        result
    }

    /// Stop broker and namesrv gracefully.
    pub async fn shutdown(mut self) {
        self.stop_broker().await;
        self.namesrv.shutdown().await;
    }
}

/// A source and a target cluster.
#[derive(Debug)]
pub struct ClusterPair {
    /// The cluster migrated away from.
    pub source: EmbeddedCluster,
    /// The cluster migrated to.
    pub target: EmbeddedCluster,
}

impl ClusterPair {
    /// Start `src` and `dst` clusters with distinct names, ports and stores.
    pub async fn start() -> Result<Self, MigrationError> {
        let tag = super::unique_name("").trim_start_matches('_')[..6].to_owned();
        let source = EmbeddedCluster::start(&format!("src{tag}")).await?;
        let target = EmbeddedCluster::start(&format!("dst{tag}")).await?;
        Ok(ClusterPair { source, target })
    }

    /// Create `topic` on both clusters.
    pub async fn create_topic(
        &self,
        runtime: &Arc<ClientRuntime>,
        topic: &str,
        queues: i32,
    ) -> Result<(), MigrationError> {
        self.source.create_topic(runtime, topic, queues).await?;
        self.target.create_topic(runtime, topic, queues).await
    }

    /// The cluster for `side`.
    pub fn cluster(&self, side: crate::Cluster) -> &EmbeddedCluster {
        match side {
            crate::Cluster::Source => &self.source,
            crate::Cluster::Target => &self.target,
        }
    }

    /// The cluster for `side`, mutably (to stop or restart its broker).
    pub fn cluster_mut(&mut self, side: crate::Cluster) -> &mut EmbeddedCluster {
        match side {
            crate::Cluster::Source => &mut self.source,
            crate::Cluster::Target => &mut self.target,
        }
    }

    /// Stop both clusters gracefully.
    pub async fn shutdown(self) {
        self.source.shutdown().await;
        self.target.shutdown().await;
    }
}
