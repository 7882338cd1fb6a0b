//! An in-process broker that can be stopped and restarted on the same ports and store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rocketmq_broker::config::broker_config::BrokerConfig;
use rocketmq_broker::config::validated::ValidatedBrokerConfig;
use rocketmq_broker::{BrokerBootstrap, Builder as BrokerBuilder, Running};
use rocketmq_observability::TelemetryRuntimeGuard;
use rocketmq_runtime::RuntimeContext;
use rocketmq_store::MessageStoreConfig;

use super::ports::{free_port, free_port_pair};
use crate::error::{MigrationError, ToolErrorKind};

/// Test brokers scan for undecided transactional half messages every second (the broker's default is 30 s), so
/// transaction check-backs arrive within seconds.
pub const TEST_TRANSACTION_CHECK_INTERVAL_MS: u64 = 1_000;

/// A test broker checks a half message back once it is 2 s old (default 6 s). Kept above
/// [`TEST_TRANSACTION_OP_BATCH_INTERVAL_MS`]: the broker records a commit/rollback in batches, and a half message
/// checked before its decision is recorded would be asked about (and possibly committed) twice.
pub const TEST_TRANSACTION_TIMEOUT_MS: u64 = 2_000;

/// A test broker writes its commit/rollback records every 200 ms (default 3 s).
pub const TEST_TRANSACTION_OP_BATCH_INTERVAL_MS: u64 = 200;

/// How long a request may wait in a test broker's send (and transaction) queue, or hold the commit log, before the
/// broker refuses it as busy (`SYSTEM_BUSY`); the broker's defaults are 200 ms (queue) and 1 s (commit log).
///
/// The defaults are a production broker's flow control. A 2-core machine running a debug build, two brokers and
/// the whole suite at once routinely queues a send for longer: the broker then refused sends mid-test
/// (`broker.operation.failed`, a single broker to fail over to), which says nothing about the code under test.
pub(crate) const TEST_BUSY_WAIT_MS: u64 = 10_000;

/// Authentication on a test broker: every request must be signed by a known user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestAuth {
    /// The super user created at start (its AccessKey).
    pub admin_user: String,
    /// Its SecretKey.
    pub admin_password: String,
    /// Also check each call against the users' ACLs (super users pass every check).
    pub authorization: bool,
}

impl TestAuth {
    /// Authentication (not authorization) with super user `admin_user` / `admin_password`.
    pub fn new(admin_user: impl Into<String>, admin_password: impl Into<String>) -> Self {
        TestAuth {
            admin_user: admin_user.into(),
            admin_password: admin_password.into(),
            authorization: false,
        }
    }

    /// Check ACLs too.
    pub fn with_authorization(mut self) -> Self {
        self.authorization = true;
        self
    }
}

/// Ports, names and store of one broker; kept so a restart uses the very same ones.
#[derive(Clone, Debug)]
pub(crate) struct BrokerSpec {
    cluster_name: String,
    pub(crate) broker_name: String,
    listen_port: u16,
    ha_port: u16,
    store: PathBuf,
    namesrv_addr: String,
    pub(crate) auth: Option<TestAuth>,
}

impl BrokerSpec {
    pub(crate) fn new(name: &str, root: &Path, namesrv_addr: &str) -> Result<Self, MigrationError> {
        Ok(BrokerSpec {
            cluster_name: format!("{name}Cluster"),
            broker_name: format!("{name}-broker-a"),
            listen_port: free_port_pair()?,
            ha_port: free_port()?,
            store: root.join("store"),
            namesrv_addr: namesrv_addr.to_owned(),
            auth: None,
        })
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.listen_port)
    }

    fn validated(&self) -> Result<ValidatedBrokerConfig, MigrationError> {
        let root = self.store.to_string_lossy().into_owned();
        let mut bc = BrokerConfig {
            broker_ip1: "127.0.0.1".into(),
            listen_port: u32::from(self.listen_port),
            store_path_root_dir: root.clone().into(),
            namesrv_addr: Some(self.namesrv_addr.clone().into()),
            // Transaction check-backs within seconds instead of half a minute (see the constants).
            transaction_check_interval: TEST_TRANSACTION_CHECK_INTERVAL_MS,
            transaction_timeout: TEST_TRANSACTION_TIMEOUT_MS,
            transaction_op_batch_interval: TEST_TRANSACTION_OP_BATCH_INTERVAL_MS,
            // A loaded build machine must not make the broker refuse sends as busy (see the constant).
            wait_time_mills_in_send_queue: TEST_BUSY_WAIT_MS,
            wait_time_mills_in_transaction_queue: TEST_BUSY_WAIT_MS,
            ..BrokerConfig::default()
        };
        bc.broker_identity.broker_name = self.broker_name.clone().into();
        bc.broker_identity.broker_cluster_name = self.cluster_name.clone().into();
        bc.broker_server_config.bind_address = "127.0.0.1".to_owned();
        bc.broker_server_config.listen_port = u32::from(self.listen_port);
        // Users and ACLs live in the store, not in the home directory the broker defaults to (`~/config/auth`).
        bc.auth_config_path = format!("{root}/auth").into();
        if let Some(auth) = &self.auth {
            bc.authentication_enabled = true;
            bc.authorization_enabled = auth.authorization;
            bc.init_authentication_user =
                format!("{}:{}", auth.admin_user, auth.admin_password).into();
        }
        let msc = MessageStoreConfig {
            store_path_root_dir: root.into(),
            ha_listen_port: usize::from(self.ha_port),
            ha_listen_address: std::net::IpAddr::from([127, 0, 0, 1]),
            // Test-sized files, written out in full when created (the store preallocates them): with the defaults a
            // broker takes ~500 MiB before its first message (a 410 MiB index file, 5.7 MiB per queue, 64 MiB of
            // commit log after our first cut from 1 GiB). These keep a test cluster to tens of MiB, which matters
            // because the store lives in memory (`/dev/shm`, see `store_root`).
            mapped_file_size_commit_log: 32 * 1024 * 1024,
            mapped_file_size_consume_queue: 30_000 * 20,
            max_hash_slot_num: 50_000,
            max_index_num: 200_000,
            // A busy build machine's disk must not make the broker refuse writes mid-test.
            disk_max_used_space_ratio: 95,
            disk_space_warning_level_ratio: 98,
            disk_space_clean_forcibly_ratio: 97,
            os_page_cache_busy_timeout_mills: TEST_BUSY_WAIT_MS,
            ..MessageStoreConfig::default()
        };
        ValidatedBrokerConfig::try_from_parts(bc, msc).map_err(|e| {
            MigrationError::new(
                ToolErrorKind::Cluster,
                None,
                format!("broker {}: invalid config", self.broker_name),
            )
            .with_source(e)
        })
    }
}

pub(crate) struct EmbeddedBroker {
    running: Option<BrokerBootstrap<Running>>,
    ctx: RuntimeContext,
}

impl EmbeddedBroker {
    pub(crate) async fn start(spec: &BrokerSpec, generation: u32) -> Result<Self, MigrationError> {
        let err = |what: &str| {
            MigrationError::new(
                ToolErrorKind::Cluster,
                None,
                format!("broker {} ({}): {what}", spec.broker_name, spec.addr()),
            )
        };
        let ctx = RuntimeContext::try_from_current(format!("{}-gen{generation}", spec.broker_name))
            .map_err(|e| err("runtime context").with_source(e))?;
        let running =
            BrokerBuilder::new(ctx.service_context("broker"), TelemetryRuntimeGuard::noop())
                .with_validated_config(spec.validated()?)
                .build()
                .initialize()
                .await
                .map_err(|e| err("initialize").with_source(e))?
                .start()
                .await
                .map_err(|e| err("start").with_source(e))?;
        Ok(EmbeddedBroker {
            running: Some(running),
            ctx,
        })
    }

    pub(crate) async fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            if tokio::time::timeout(Duration::from_secs(40), running.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("embedded broker did not shut down within 40 s");
            }
        }
        let report = self.ctx.shutdown_tasks(Duration::from_secs(5)).await;
        if !report.is_healthy() {
            tracing::debug!(
                ?report,
                "embedded broker left tasks behind; they were cancelled"
            );
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        // Cannot await here: cancel every task of this broker and release the store by dropping it.
        let _ = self.ctx.shutdown_tasks_now();
        drop(self.running.take());
    }
}
