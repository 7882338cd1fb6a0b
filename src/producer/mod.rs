//! `MigratingProducer`: a drop-in for `DefaultMQProducer` that writes to the cluster the topic's phase names.

mod builder;
mod core;
mod payload;
mod queues;
mod select;
mod send;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocketmq_client_rust::{ClientError, ClientResult};
use tokio::sync::OnceCell;

pub use crate::client::producer_stats::ProducerStats;
pub use builder::MigratingProducerBuilder;

use crate::client::base::{client_debug, client_entry};
use crate::client::builder::Checked;
use crate::client::producer_settings::ProducerSettings;
use crate::client::writes::Writes;
use crate::cluster::Cluster;
use crate::control::report::ClientKind;
use crate::route::PhaseHandle;
use core::{Core, QueueCache};

/// A producer for two clusters that routes each send by its topic's migration phase.
///
/// It has the inherent send methods of `DefaultMQProducer` 1.0.0 with the same names and signatures; an
/// application changes only the constructor. Clones share one producer, like `DefaultMQProducer`'s.
///
/// # Routing and failover
///
/// * `Initial`, `DualRead`: source. `CuttingOver`, `Completed`: target. `DualReadWrite`: a random draw against the
///   topic's write ratio; selector sends are key-sticky (see [`MigratingProducer::send_with_selector`]).
/// * Every message gets its `UNIQ_KEY` before the first attempt, so a copy on either cluster carries one key.
/// * Failover: where consumers read both clusters (`DualRead`, `DualReadWrite`, `CuttingOver`), a send that fails
///   with a timeout or an unreachable/route-less cluster is retried once on the other cluster. Never in
///   `Initial` or `Completed`.
/// * The target client starts on first use, so the shim can be adopted before the target is reachable.
///
/// ```no_run
/// # #![recursion_limit = "512"]
/// # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), Box<dyn std::error::Error>> {
/// use rocketmq_migration::{ClusterConfig, MigratingProducer, Phase, PhaseHandle};
/// use rocketmq_model::common::message::message_single::Message;
///
/// let phases = PhaseHandle::new();
/// let mut producer = MigratingProducer::builder(rt)
///     .producer_group("orders_pg")
///     .source(ClusterConfig::new("10.0.0.1:9876"))
///     .target(ClusterConfig::new("10.1.0.1:9876"))
///     .phases(phases.clone())
///     .build()?;
/// producer.start().await?;
/// phases.set_phase("orders", Phase::DualReadWrite)?;
/// let msg = Message::builder().topic("orders").body(b"hello".to_vec()).build()?;
/// producer.send(msg).await?;
/// producer.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MigratingProducer {
    core: Arc<Core>,
}

client_debug!(MigratingProducer);
client_entry!(
    MigratingProducer,
    MigratingProducerBuilder,
    "DefaultMQProducer"
);

impl MigratingProducer {
    fn from_parts((checked, settings): (Checked, ProducerSettings)) -> Self {
        let producer = MigratingProducer {
            core: Arc::new(Core {
                base: checked.base.clone(),
                settings,
                clients: [OnceCell::new(), OnceCell::new()],
                started: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                queues: QueueCache::default(),
                writes: Writes::new(checked.phases.clone(), BTreeSet::new()),
            }),
        };
        checked.register(ClientKind::Producer, producer.core.clone());
        producer
    }

    /// Start the source-side client. The target-side client starts when a topic first writes to it.
    pub async fn start(&mut self) -> ClientResult<()> {
        if self.core.stopped.load(Ordering::Acquire) {
            return Err(ClientError::shutting_down());
        }
        self.core.started.store(true, Ordering::Release);
        self.core.client(Cluster::Source).await.map(|_| ())
    }

    /// Shut down both clusters' clients. Sends fail afterwards.
    pub async fn shutdown(&mut self) {
        self.core.stopped.store(true, Ordering::Release);
        for c in Cluster::BOTH {
            if let Some(p) = self.core.clients[c.index()].get() {
                p.clone().shutdown().await;
                tracing::info!(group = %self.core.base.group, cluster = %c, "migrating producer: client shut down");
            }
        }
    }

    /// The phase table this producer follows.
    pub fn phases(&self) -> &PhaseHandle {
        self.core.writes.phases()
    }

    /// Counters of sends per cluster.
    pub fn stats(&self) -> ProducerStats {
        self.core.writes.stats()
    }

    /// Whether the client of `cluster` has been started.
    pub fn is_connected(&self, cluster: Cluster) -> bool {
        self.core.clients[cluster.index()].initialized()
    }
}
