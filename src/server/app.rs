//! `App`: everything one running control plane shares between its routes and its background tasks, built from the
//! [`ServerConfig`]: the state, the clusters' admin clients, the client registry, the traffic and readiness caches,
//! the monitoring store, the server's counters, and the handles of the background tasks (stopped by
//! [`App::close`]). The logic lives in the modules that take it: `moves`, `background`, `views`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rocketmq_client_rust::ClientRuntime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::auth::Tokens;
use super::config::ServerConfig;
use super::encoded::EncodedTable;
use super::metrics::Metrics;
use super::monitor::{Monitor, MonitorConfig};
use super::readiness::Readiness;
use super::registry::Registry;
use super::state::table::State;
use super::traffic::Traffic;
use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::connection::ConnectionReport;
use crate::error::MigrationError;

/// Shared server state.
pub(crate) struct App {
    /// The tokens requests are checked against.
    pub(crate) tokens: Tokens,
    /// The phase table, the task, their persistence and audit trail.
    pub(crate) state: State,
    /// The published table's JSON, as the long-poll answers it.
    pub(crate) encoded: Arc<EncodedTable>,
    /// The shim clients' last heartbeats.
    pub(crate) registry: Registry,
    /// The clusters' admin clients (`[source, target]`).
    pub(crate) admin: [ClusterAdmin; 2],
    /// Every topic's stored count on each cluster, as sampled.
    pub(crate) traffic: Traffic,
    /// How long a cluster leaving the read set must have received nothing.
    pub(crate) quiet_window: Duration,
    /// How often each topic's stored count is sampled.
    pub(crate) sample_every: Duration,
    /// How often the readiness of every topic is scanned.
    pub(crate) scan_every: Duration,
    /// How often the monitoring takes a point.
    pub(crate) monitor_every: Duration,
    /// The server's own counters.
    pub(crate) metrics: Metrics,
    /// Wakes the sealer (a heartbeat arrived, or an orderly topic entered `cutting_over`).
    pub(crate) seal_check: Arc<Notify>,
    /// When the server started (the sealer waits one client TTL from here).
    pub(crate) started: Instant,
    /// Every topic's checks as of the last background scan.
    pub(crate) readiness: Arc<Readiness>,
    /// The connection check of each cluster, run at start (`/healthz` shows it).
    pub(crate) connections: Mutex<Vec<(Cluster, ConnectionReport)>>,
    /// The clusters as configured (`[source, target]`).
    pub(crate) clusters: [crate::ClusterConfig; 2],
    /// The runtime the admin clients and metadata runs use.
    pub(crate) runtime: Arc<ClientRuntime>,
    /// This control plane as a claim on the target names it (set once bound).
    pub(crate) name: Mutex<String>,
    /// Migration monitoring: every topic's traffic over time.
    pub(crate) monitor: Mutex<Monitor>,
    /// The background tasks, aborted by [`App::close`].
    background: Mutex<Vec<JoinHandle<()>>>,
}

impl App {
    /// Load the state and build everything else from `config`.
    pub(crate) fn open(
        config: &ServerConfig,
        runtime: Arc<ClientRuntime>,
    ) -> Result<Arc<App>, MigrationError> {
        let state = State::open(config)?;
        let monitor = Monitor::new(MonitorConfig::every(config.monitor_every))?;
        state.log_loaded();
        Ok(Arc::new(App {
            tokens: Tokens {
                admin: config.admin_token.clone(),
                client: config.client_token.clone(),
            },
            state,
            encoded: Default::default(),
            registry: Registry::new(config.client_ttl),
            admin: [
                ClusterAdmin::new(Cluster::Source, config.source.clone(), runtime.clone()),
                ClusterAdmin::new(Cluster::Target, config.target.clone(), runtime.clone()),
            ],
            traffic: Traffic::default(),
            quiet_window: config.quiet_window,
            sample_every: config.sample_every,
            scan_every: config.scan_every,
            monitor_every: config.monitor_every,
            metrics: Metrics::default(),
            seal_check: Arc::new(Notify::new()),
            started: Instant::now(),
            readiness: Arc::default(),
            connections: Mutex::new(Vec::new()),
            clusters: [config.source.clone(), config.target.clone()],
            runtime,
            name: Mutex::new(String::new()),
            monitor: Mutex::new(monitor),
            background: Mutex::new(Vec::new()),
        }))
    }

    /// Look for topics to seal now (a heartbeat arrived, or an orderly topic entered `cutting_over`).
    pub(crate) fn wake_sealer(&self) {
        self.seal_check.notify_one();
    }

    /// Keep a background task's handle, to stop it at [`App::close`].
    pub(crate) fn keep(&self, task: JoinHandle<()>) {
        self.background.lock().push(task);
    }

    /// Stop the background tasks and the admin clients.
    pub(crate) async fn close(&self) {
        for t in self.background.lock().drain(..) {
            t.abort();
        }
        for a in &self.admin {
            a.close().await;
        }
    }
}
