//! The transactional producer's shared state: both clusters' raw producers (the source one shut down once nothing
//! needs it), the application's listener and pending source transactions, and routing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientError, ClientResult, TransactionMQProducer};

use super::builder::Linger;
use super::listener::{ClusterListener, Shared};
use super::stats::TransactionStats;
use crate::client::base::ClientBase;
use crate::client::producer_settings::ProducerSettings;
use crate::client::sides::Sides;
use crate::client::start::start;
use crate::client::writes::Writes;
use crate::cluster::Cluster;
use crate::control::report::{Report, Reporter};

/// One cluster's started raw producer. Transactions take the lock shared; normal sends (which take `&mut self`
/// in the raw API) and shutdown take it exclusively.
pub(crate) struct RawTx {
    pub(crate) cluster: Cluster,
    pub(crate) producer: tokio::sync::RwLock<TransactionMQProducer>,
}

pub(crate) struct TxCore {
    /// Group, clusters and runtime.
    pub(crate) base: ClientBase,
    pub(crate) settings: ProducerSettings,
    pub(crate) linger: Linger,
    pub(crate) shared: Arc<Shared>,
    pub(crate) clients: Sides<Arc<RawTx>>,
    pub(crate) started: AtomicBool,
    pub(crate) stopped: AtomicBool,
    pub(crate) started_at: Mutex<Option<Instant>>,
    // Routing by the phase table; the topics written (seeded with the builder's `topics`), each with its send
    // counters and sends in flight.
    pub(crate) writes: Writes,
}

impl TxCore {
    pub(crate) fn stats(&self) -> TransactionStats {
        self.shared.counters.snapshot(
            self.writes.stats(),
            self.shared.pending.live(Instant::now()).len() as u64,
        )
    }

    /// The started raw producer of `cluster`, starting one on first use (or again, after the source side was
    /// retired and a topic needs it back).
    pub(crate) async fn client(&self, cluster: Cluster) -> ClientResult<Arc<RawTx>> {
        if self.stopped.load(Ordering::Acquire) || !self.started.load(Ordering::Acquire) {
            return Err(ClientError::not_started());
        }
        let mut slot = self.clients[cluster].lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let cfg = self.base.cluster(cluster);
        let listener = ClusterListener {
            cluster,
            shared: self.shared.clone(),
        };
        let mut p = self
            .settings
            .build_transactional(&self.base, cluster, listener);
        start(
            &mut p,
            "migrating transaction producer",
            &self.base,
            cluster,
        )
        .await?;
        tracing::info!(group = %self.base.group, %cluster, namesrv = %cfg.name_server_addr,
            "migrating transaction producer: client started");
        let c = Arc::new(RawTx {
            cluster,
            producer: tokio::sync::RwLock::new(p),
        });
        *slot = Some(c.clone());
        self.shared.counters.running[cluster.index()].store(true, Ordering::Release);
        Ok(c)
    }

    /// Shut down `cluster`'s raw producer, if running; waits for sends in progress on it. Whether one ran.
    pub(crate) async fn stop_client(&self, cluster: Cluster) -> bool {
        let taken = self.clients[cluster].lock().await.take();
        let Some(c) = taken else {
            return false;
        };
        self.shared.counters.running[cluster.index()].store(false, Ordering::Release);
        c.producer.write().await.shutdown().await;
        tracing::info!(group = %self.base.group, %cluster, "migrating transaction producer: client shut down");
        true
    }

    /// Whether a topic of this producer may still send to the source: any topic not yet `Completed`, or no topic
    /// known yet (nothing says the source is done).
    pub(crate) fn source_needed(&self) -> bool {
        let topics = self.writes.topics();
        let table = self.writes.phases().snapshot();
        topics.is_empty()
            || topics
                .iter()
                .any(|t| table.topic(t).phase != crate::Phase::Completed)
    }
}

impl Reporter for TxCore {
    fn report(&self) -> Report {
        self.writes.report(&self.base.group)
    }
}
