//! `MigratingTransactionProducer`: a drop-in for `TransactionMQProducer` that writes to the cluster the topic's
//! phase names, and keeps the source side alive for the broker's transaction check-backs.

mod builder;
mod core;
mod linger;
mod listener;
mod pending;
mod send;
mod stats;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientError, ClientResult};

pub use builder::{
    MigratingTransactionProducerBuilder, DEFAULT_MAX_LINGER, DEFAULT_MIN_LINGER,
    DEFAULT_UNCONFIRMED_GRACE,
};
pub use stats::TransactionStats;

use crate::client::base::{client_debug, client_entry};
use crate::client::sides::Sides;
use crate::client::writes::Writes;
use crate::cluster::Cluster;
use crate::control::report::ClientKind;
use crate::route::PhaseHandle;
use builder::Parts;
use core::TxCore;
use listener::Shared;
use pending::Pending;
use stats::TxCounters;

/// A transactional producer for two clusters that routes each send by its topic's migration phase.
///
/// It has `TransactionMQProducer` 1.0.0's inherent methods (`start`, `shutdown`, `send_message_in_transaction`)
/// with the same signatures, plus the normal sends `send` and `send_with_timeout`. Clones share one producer.
///
/// # Routing, failover and the source side
///
/// * **Routing.** A half message goes where a normal send of its topic would go (the same [`TopicState`] decision
///   as [`MigratingProducer`](crate::MigratingProducer): source in `Initial`/`DualRead`, the write-ratio split in
///   `DualReadWrite`, target in `CuttingOver`/`Completed`). Its `UNIQ_KEY` (also its transaction id) is stamped
///   once, before the first attempt.
/// * **Failed half sends.** A half send fails over to the other cluster (only where the phase allows failover)
///   *only when the first cluster certainly was not reached* — the client could not start or connect, or there was
///   no route. Never after a timeout or a connection error mid-request: the first half message may be stored, and
///   the broker would check it back while the second one is committed, so one business transaction could become
///   two messages (or a commit on one cluster and a rollback on the other).
/// * **Check-backs.** A broker checks a half message back with a producer of the group connected to *that*
///   cluster. Both clusters' raw producers share the application's listener, wrapped per cluster so every
///   check-back is counted per cluster ([`TransactionStats`]). Source half messages are tracked as *pending* while
///   their local state was `Unknown` at send time (until a check-back answers commit or rollback), while the
///   half send is in flight, and for [`unconfirmed_grace`](MigratingTransactionProducerBuilder::unconfirmed_grace)
///   after a commit/rollback decided at send time (the raw client ends a transaction one-way, so the broker never
///   confirms it) or after a half send that failed after possibly reaching the broker.
/// * **Source retirement.** The source-side raw producer stays started while any of this producer's topics is not
///   yet `Completed` (`CuttingOver` still fails over to the source) or source transactions are pending, and at
///   least [`min_linger`](MigratingTransactionProducerBuilder::min_linger) after start (check-backs for half
///   messages an *earlier* process of the group left on the source reach whichever producer of the group is
///   connected; this process answers them through the listener and counts them as `foreign_checks`). When neither
///   holds it is shut down (INFO). Waiting for pending transactions is bounded by
///   [`max_linger`](MigratingTransactionProducerBuilder::max_linger): then a WARN names the undecided transaction
///   ids and the source side shuts down anyway (the broker keeps asking other members of the group, and gives up
///   after its `transactionCheckMax`). If a topic moves back from `Completed`, the next send to the source starts a
///   fresh source-side producer.
/// * **Normal sends** ([`send`](MigratingTransactionProducer::send),
///   [`send_with_timeout`](MigratingTransactionProducer::send_with_timeout)) route and fail over exactly like
///   `MigratingProducer`'s. They go through the same raw transactional producer (a second producer of the group
///   would receive check-backs without a listener), whose normal sends take `&mut self`: normal sends on one
///   cluster therefore run one at a time.
///
/// [`TopicState`]: crate::TopicState
///
/// ```no_run
/// # #![recursion_limit = "512"]
/// # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), Box<dyn std::error::Error>> {
/// use std::any::Any;
/// use rocketmq_client_rust::{LocalTransactionState, TransactionListener};
/// use rocketmq_migration::{ClusterConfig, MigratingTransactionProducer, PhaseHandle};
/// use rocketmq_model::common::message::{message_ext::MessageExt, message_single::Message, MessageTrait};
///
/// struct Orders;
/// impl TransactionListener for Orders {
///     fn execute_local_transaction(&self, _: &dyn MessageTrait, _: Option<&(dyn Any + Send + Sync)>)
///         -> LocalTransactionState { LocalTransactionState::Unknown /* decided later */ }
///     fn check_local_transaction(&self, _: &MessageExt) -> LocalTransactionState {
///         LocalTransactionState::CommitMessage
///     }
/// }
///
/// let mut producer = MigratingTransactionProducer::builder(rt)
///     .producer_group("orders_tx_pg")
///     .source(ClusterConfig::new("10.0.0.1:9876"))
///     .target(ClusterConfig::new("10.1.0.1:9876"))
///     .phases(PhaseHandle::new())
///     .transaction_listener(Orders)
///     .build()?;
/// producer.start().await?;
/// let msg = Message::builder().topic("orders").body(b"order 42".to_vec()).build()?;
/// let r = producer.send_message_in_transaction::<(), _>(msg, None).await?;
/// println!("{:?}", r.local_transaction_state);
/// producer.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MigratingTransactionProducer {
    core: Arc<TxCore>,
}

client_debug!(MigratingTransactionProducer);
client_entry!(
    MigratingTransactionProducer,
    MigratingTransactionProducerBuilder,
    "TransactionMQProducer"
);

impl MigratingTransactionProducer {
    fn from_parts(parts: Parts) -> Self {
        let Parts {
            checked,
            settings,
            listener,
            linger,
        } = parts;
        let topics: BTreeSet<String> = settings.topics().collect();
        let shared = Arc::new(Shared {
            group: checked.base.group.clone(),
            user: listener,
            pending: Pending::default(),
            counters: TxCounters::default(),
        });
        let producer = MigratingTransactionProducer {
            core: Arc::new(TxCore {
                base: checked.base.clone(),
                settings,
                linger,
                shared,
                clients: Sides::default(),
                started: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                started_at: Mutex::new(None),
                writes: Writes::new(checked.phases.clone(), topics),
            }),
        };
        checked.register(ClientKind::TransactionProducer, producer.core.clone());
        producer
    }

    /// Start the source-side client and the task that shuts it down once nothing needs it. The target-side client
    /// starts when a topic first writes to it. Must be called inside a Tokio runtime.
    pub async fn start(&mut self) -> ClientResult<()> {
        if self.core.stopped.load(Ordering::Acquire) {
            return Err(ClientError::shutting_down());
        }
        if self.core.started.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        *self.core.started_at.lock() = Some(Instant::now());
        let started = match self.core.client(Cluster::Source).await {
            Ok(_) => linger::spawn_watcher(&self.core),
            Err(e) => Err(e),
        };
        if started.is_err() {
            // Not started: a later `start` tries again from the beginning.
            self.core.stop_client(Cluster::Source).await;
            self.core.started.store(false, Ordering::Release);
        }
        started
    }

    /// Shut down both clusters' clients; sends fail afterwards. Source transactions still pending are named in a
    /// WARN: the broker checks them back with another producer of the group, or gives up after its check limit.
    pub async fn shutdown(&mut self) {
        self.core.stopped.store(true, Ordering::Release);
        let pending = self.core.shared.pending.live(Instant::now());
        if !pending.is_empty() {
            tracing::warn!(group = %self.core.base.group, pending = ?pending,
                "transaction producer shut down with undecided source transactions (id, topic)");
        }
        for c in Cluster::BOTH {
            self.core.stop_client(c).await;
        }
    }

    /// The phase table this producer follows.
    pub fn phases(&self) -> &PhaseHandle {
        self.core.writes.phases()
    }

    /// Counters of sends, half messages and check-backs per cluster, the pending source transactions, and whether
    /// the source-side producer runs.
    pub fn stats(&self) -> TransactionStats {
        self.core.stats()
    }

    /// Whether the raw producer of `cluster` is running now (the source one stops once nothing needs it).
    pub fn is_connected(&self, cluster: Cluster) -> bool {
        self.core.shared.counters.running[cluster.index()].load(Ordering::Acquire)
    }

    /// Ids (`UNIQ_KEY`s) of the source transactions still pending, sorted.
    pub fn pending_source_transactions(&self) -> Vec<String> {
        self.core
            .shared
            .pending
            .live(Instant::now())
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::any::Any;

    use rocketmq_client_rust::{LocalTransactionState, TransactionListener};
    use rocketmq_model::common::message::message_ext::MessageExt;
    use rocketmq_model::common::message::MessageTrait;

    use super::*;
    use crate::config::ClusterConfig;
    use crate::control::report::Reporter;
    use crate::phase::Phase;

    struct Unknown;

    impl TransactionListener for Unknown {
        fn execute_local_transaction(
            &self,
            _msg: &dyn MessageTrait,
            _arg: Option<&(dyn Any + Send + Sync)>,
        ) -> LocalTransactionState {
            LocalTransactionState::Unknown
        }

        fn check_local_transaction(&self, _msg: &MessageExt) -> LocalTransactionState {
            LocalTransactionState::Unknown
        }
    }

    #[test]
    fn applied_phase_waits_for_sends_routed_under_the_older_state() {
        let rt = crate::MigrationRuntime::new().expect("runtime");
        let phases = PhaseHandle::new();
        let p = MigratingTransactionProducer::builder(rt.client())
            .producer_group("tx_applied_pg")
            .source(ClusterConfig::new("127.0.0.1:1"))
            .target(ClusterConfig::new("127.0.0.1:2"))
            .phases(phases.clone())
            .transaction_listener(Unknown)
            .build()
            .expect("valid settings");
        phases.set_phase("t", Phase::DualRead).unwrap();
        let (routed, flight) = p.core.writes.route("t");
        assert_eq!(routed.phase, Phase::DualRead);
        phases.set_phase("t", Phase::DualReadWrite).unwrap();
        let applied = |p: &MigratingTransactionProducer| p.core.report().applied["t"];
        assert_eq!(
            (applied(&p).phase, applied(&p).version),
            (Phase::DualRead, routed.version),
            "a send routed under dual_read is still running"
        );
        drop(flight);
        assert_eq!(applied(&p).phase, Phase::DualReadWrite);
        assert!(applied(&p).version > routed.version);
    }
}
