//! The client runtime the shim recommends, sized so push-consumer listeners are never refused.
//!
//! rocketmq-client-rust runs every listener call (concurrent, orderly, transaction checks) on the runtime's
//! *metadata-io blocking lane*. Admission to that lane does not wait: once `max_concurrency + max_queue_depth`
//! calls are queued, the next one fails with `runtime.capacity.exhausted` (`BlockingQueueAdmission`), the
//! client counts it as a failed consume and redelivers the message about ten seconds later. With the lane's
//! default size (2×CPU running + 8×CPU queued, i.e. 4 + 16 on two cores) a single push consumer (20 listener
//! calls in flight by default) already overflows it, and a migrating consumer runs two.
//!
//! [`MigrationRuntime`] builds a [`RuntimeOwner`] whose metadata-io lane admits
//! [`RuntimeSettings::listener_concurrency`] running calls and [`RuntimeSettings::listener_queue_depth`] queued
//! ones, and a [`ClientRuntime`] on it. The migrating consumer builder defaults `consume_thread_min/max` to 16
//! per cluster, so even several migrating consumers on one runtime stay within the queue.

use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, TelemetryHandle};
use rocketmq_runtime::{BlockingPoolPolicy, RuntimeConfig, RuntimeOwner};

use crate::error::{ErrorKind, MigrationError};

/// Sizing of a [`MigrationRuntime`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Thread name prefix.
    pub thread_name: String,
    /// Tokio worker threads of the client runtime (default: available parallelism, at least 2).
    pub worker_threads: usize,
    /// Listener calls that may run at once across all consumers of this runtime.
    pub listener_concurrency: usize,
    /// Listener calls that may wait for a slot before admission is refused.
    pub listener_queue_depth: usize,
    /// How long a queued listener call may wait for a slot.
    pub listener_queue_timeout: Duration,
    /// How long one listener call may run before the client counts it as failed.
    pub listener_task_timeout: Duration,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism()
            .map_or(2, usize::from)
            .max(2);
        RuntimeSettings {
            thread_name: "rmq-migration".into(),
            worker_threads: cpus,
            listener_concurrency: 64,
            listener_queue_depth: 4096,
            listener_queue_timeout: Duration::from_secs(30),
            listener_task_timeout: Duration::from_secs(60),
        }
    }
}

impl RuntimeSettings {
    /// The `rocketmq_runtime` configuration these settings stand for.
    pub fn runtime_config(&self) -> Result<RuntimeConfig, MigrationError> {
        let blocking = (self.listener_concurrency * 2).clamp(16, 512);
        let mut cfg = RuntimeConfig::for_parallelism(self.thread_name.clone(), self.worker_threads)
            .with_max_blocking_threads(blocking)
            .map_err(|e| {
                MigrationError::new(ErrorKind::Start, None, "invalid runtime settings")
                    .with_source(e)
            })?;
        cfg.blocking_lane_policies.metadata_io = BlockingPoolPolicy {
            name: format!("{}.metadata-io", self.thread_name),
            max_concurrency: self.listener_concurrency.min(blocking),
            max_queue_depth: self.listener_queue_depth,
            queue_timeout: self.listener_queue_timeout,
            task_timeout: self.listener_task_timeout,
            warn_after: Duration::from_secs(5),
        };
        Ok(cfg)
    }
}

/// A client runtime for the migrating producer and consumer (and for plain clients next to them).
///
/// ```no_run
/// # #![recursion_limit = "512"]
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use rocketmq_migration::MigrationRuntime;
/// let runtime = MigrationRuntime::new()?;
/// let client_runtime = runtime.client(); // pass to MigratingProducer::builder / MigratingPushConsumer::builder
/// # let _ = client_runtime;
/// // ... shut producers and consumers down first, then:
/// runtime.shutdown().await;
/// # Ok(()) }
/// ```
pub struct MigrationRuntime {
    client: Arc<ClientRuntime>,
    owner: RuntimeOwner,
}

impl std::fmt::Debug for MigrationRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationRuntime").finish_non_exhaustive()
    }
}

impl MigrationRuntime {
    /// A runtime with [`RuntimeSettings::default`].
    pub fn new() -> Result<Self, MigrationError> {
        Self::with_settings(RuntimeSettings::default())
    }

    /// A runtime with `settings`. It owns its own Tokio thread pool; create it inside or outside Tokio.
    pub fn with_settings(settings: RuntimeSettings) -> Result<Self, MigrationError> {
        let fail = |what: &str| {
            MigrationError::new(ErrorKind::Start, None, format!("client runtime: {what}"))
        };
        let owner = RuntimeOwner::plan(settings.runtime_config()?)
            .map_err(|e| fail("plan").with_source(e))?
            .build()
            .map_err(|e| fail("build").with_source(e))?;
        let client = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .map_err(|e| fail("client").with_source(e))?;
        Ok(MigrationRuntime { client, owner })
    }

    /// The client runtime to build producers and consumers with.
    pub fn client(&self) -> Arc<ClientRuntime> {
        self.client.clone()
    }

    /// Stop every client of this runtime, then its tasks and threads. Shut producers and consumers down first.
    pub async fn shutdown(self) {
        let report = self.client.shutdown().await;
        if !report.is_healthy() {
            tracing::warn!(?report, "client runtime shut down with leftovers");
        }
        let report = self.owner.shutdown_tasks().await;
        if !report.is_healthy() {
            tracing::warn!(?report, "runtime tasks shut down with leftovers");
        }
        let _ = self.owner.shutdown_background();
    }
}
