//! `MigratingPushConsumer`: a drop-in for `DefaultMQPushConsumer` that reads every cluster a topic's phase reads.

mod builder;
pub(crate) mod holdback;
pub(crate) mod listener;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientError, ClientResult, DefaultMQPushConsumer, MQConsumer, MQPushConsumer,
    MessageListenerConcurrently, MessageListenerOrderly, MessageSelector,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::task::JoinHandle;

pub use crate::client::consumer_stats::ConsumerStats;
pub use builder::MigratingPushConsumerBuilder;
pub use listener::consuming_cluster;

use crate::client::base::{client_debug, client_entry, consumer_accessors, ClientBase};
use crate::client::brokers::BrokerMap;
use crate::client::builder::Checked;
use crate::client::consumer_report;
use crate::client::merge::MergeShared;
use crate::client::reconcile::{self, Reconcile, Reconciling};
use crate::client::sides::Sides;
use crate::client::start::start_consumer;
use crate::client::subscriptions::RawSubscriber;
use crate::cluster::Cluster;
use crate::control::report::{ClientKind, Report, Reporter};
use crate::error::{ErrorKind, MigrationError};
use crate::linger::{LingerSettings, Lingering};
use crate::reads::{self, Sub, VERIFY_TIMEOUT};
use crate::route::{PhaseHandle, PhaseTable};
use builder::ConsumerSettings;
use holdback::Holdback;
use listener::{MergeListener, UserListener};

/// How often a held orderly topic's source is checked for "sealed and drained".
const DRAIN_CHECK_EVERY: Duration = Duration::from_millis(500);

/// One cluster's running raw push consumer and what it is subscribed to.
type Side = crate::client::side::Side<DefaultMQPushConsumer>;

struct Core {
    // Group, clusters and runtime.
    base: ClientBase,
    phases: PhaseHandle,
    settings: ConsumerSettings,
    shared: Arc<MergeShared>,
    // Orderly cutover: which orderly topics' target messages wait for the sealed, drained source.
    holdback: Arc<Holdback>,
    subscriptions: Mutex<BTreeMap<String, Sub>>,
    listener: Mutex<Option<UserListener>>,
    sides: Sides<Side>,
    started: AtomicBool,
    suspended: AtomicBool,
    // Broker name -> cluster, learned from each side's route checks and from fetched queues.
    brokers: BrokerMap,
    // The table the subscriptions were last fully reconciled with (reported to the control plane as applied).
    applied: Mutex<Arc<PhaseTable>>,
    linger: LingerSettings,
    // Topics still read on a cluster their phase no longer reads.
    lingering: Lingering,
    // The client id each running side presents to its cluster's brokers.
    client_ids: Mutex<[Option<String>; 2]>,
}

/// A push consumer for two clusters that follows each topic's read set. Implements `MQPushConsumer` and
/// `MQConsumer`, so code written against those traits compiles unchanged.
///
/// # Reading both clusters
///
/// One raw push consumer per cluster, same group on both. Subscriptions follow each topic's read set: entering a
/// read-both phase subscribes on the target (a new target group starts from the first offset); reaching
/// `Completed` drops the source subscription, and a cluster's client is shut down once no topic reads it;
/// rollbacks subscribe again. Deliveries from both clusters pass a [`crate::dedupe::Deduplicator`] before the
/// application's listener.
///
/// ```no_run
/// # #![recursion_limit = "512"]
/// # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), Box<dyn std::error::Error>> {
/// use rocketmq_client_rust::{ConsumeConcurrentlyStatus, MQPushConsumer};
/// use rocketmq_migration::{consuming_cluster, ClusterConfig, MigratingPushConsumer, PhaseHandle};
///
/// let mut consumer = MigratingPushConsumer::builder(rt)
///     .consumer_group("orders_cg")
///     .source(ClusterConfig::new("10.0.0.1:9876"))
///     .target(ClusterConfig::new("10.1.0.1:9876"))
///     .phases(PhaseHandle::new())
///     .build()?;
/// consumer.subscribe("orders", "*").await?;
/// consumer.register_message_listener_concurrently(|msgs: &[&rocketmq_model::common::message::message_ext::MessageExt], _ctx: &_| {
///     println!("{} messages from {:?}", msgs.len(), consuming_cluster());
///     Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
/// });
/// consumer.start().await?;
/// # Ok(()) }
/// ```
pub struct MigratingPushConsumer {
    core: Arc<Core>,
    watcher: Option<JoinHandle<()>>,
}

client_debug!(MigratingPushConsumer);
client_entry!(
    MigratingPushConsumer,
    MigratingPushConsumerBuilder,
    "DefaultMQPushConsumer"
);
consumer_accessors!(MigratingPushConsumer);

impl MigratingPushConsumer {
    /// Benchmark hook, not API: the listener `cluster`'s raw consumer calls for a delivery (counting, dedupe
    /// check and record, the consuming-cluster mark, the outcome's retry bookkeeping, around the registered
    /// listener), without a started client. `None` until a listener is registered. For `benches/listen_path.rs`.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub fn listen_path_without_client(
        &self,
        cluster: Cluster,
    ) -> Option<impl MessageListenerConcurrently + MessageListenerOrderly + 'static> {
        let user = self.core.listener.lock().clone()?;
        Some(MergeListener {
            cluster,
            shared: self.core.shared.clone(),
            holdback: self.core.holdback.clone(),
            user,
        })
    }

    fn from_parts((checked, settings, shared): (Checked, ConsumerSettings, MergeShared)) -> Self {
        let linger = settings.read.linger;
        let consumer = MigratingPushConsumer {
            core: Arc::new(Core {
                base: checked.base.clone(),
                phases: checked.phases.clone(),
                settings,
                shared: Arc::new(shared),
                holdback: Arc::new(Holdback::new(checked.phases.clone())),
                subscriptions: Mutex::new(BTreeMap::new()),
                listener: Mutex::new(None),
                sides: Sides::default(),
                started: AtomicBool::new(false),
                suspended: AtomicBool::new(false),
                brokers: BrokerMap::default(),
                applied: Mutex::new(Arc::new(PhaseTable::default())),
                linger,
                lingering: Lingering::default(),
                client_ids: Mutex::new([None, None]),
            }),
            watcher: None,
        };
        checked.register(ClientKind::PushConsumer, consumer.core.clone());
        consumer
    }

    /// Counters of deliveries per cluster and of suppressed duplicates.
    pub fn stats(&self) -> ConsumerStats {
        self.core.shared.counters.snapshot()
    }

    /// Bring both clusters' subscriptions in line with the phase table now (the consumer also does this on every
    /// phase change and every 5 seconds).
    pub async fn reconcile(&self) -> Result<(), MigrationError> {
        self.core.reconcile().await
    }

    async fn resubscribe(&mut self) -> ClientResult<()> {
        if self.core.started.load(Ordering::Acquire) {
            self.core.reconcile().await.map_err(|e| {
                ClientError::service_source("migrating consumer: subscription change", e)
            })?;
        }
        Ok(())
    }
}

impl Reporter for Core {
    fn report(&self) -> Report {
        let topics: Vec<String> = self.subscriptions.lock().keys().cloned().collect();
        let applied = self.applied.lock().clone();
        let ids = self.client_ids.lock().clone();
        consumer_report::report(
            &self.shared,
            &self.base.group,
            topics,
            &applied,
            &self.phases,
            &ids,
        )
    }
}

/// The phase table and the subscriptions one reconcile pass works from.
type Pass = (Arc<PhaseTable>, BTreeMap<String, Sub>);

impl Reconcile for Core {
    type Pass = Pass;

    fn group(&self) -> &str {
        &self.base.group
    }

    fn begin(&self) -> Option<Pass> {
        let started = self.started.load(Ordering::Acquire);
        started.then(|| (self.phases.snapshot(), self.subscriptions.lock().clone()))
    }

    /// Subscribe `c`'s client to what the phases read there, plus the topics that left `c`'s read set and still
    /// linger there (see `crate::linger`; a topic goes once its retries are consumed too).
    async fn bring_side(&self, c: Cluster, (snapshot, subs): &Pass) -> Result<(), MigrationError> {
        let mut want = reads::for_cluster(subs, snapshot, c);
        let held = self.sides.subscribed(c).await;
        // Every instance's retries: the group's retry topic on this cluster must be consumed too (one look for all
        // the topics about to be released; asked only when some are).
        let retries_due = || async {
            self.shared.retries.as_ref()?;
            let retry_topic = format!("%RETRY%{}", self.base.group);
            match self.drained(c, &retry_topic).await {
                Ok(None) => None,
                Ok(Some(behind)) => Some(format!("retry topic behind at {behind}")),
                Err(e) => Some(format!("cannot read the retry topic's offsets: {e}")),
            }
        };
        let linger = (&self.shared.activity, &self.linger);
        let group = (self.base.group.as_str(), c);
        self.lingering
            .pass(group, held.iter(), (&mut want, subs), linger, retries_due)
            .await;
        self.reconcile_side(c, want).await
    }

    async fn record(&self, (snapshot, subs): &Pass) {
        self.record_applied(snapshot, subs).await;
    }
}

impl Core {
    /// Bring both clusters' subscriptions in line with the phase table; then record the phases applied.
    fn reconcile(&self) -> Reconciling<'_> {
        Box::pin(reconcile::pass(self))
    }

    /// Report a topic's phase as applied only once every cluster it reads has answered for the topic's queues (a
    /// started client alone proves nothing: it starts even when its name server is unreachable).
    async fn record_applied(&self, snapshot: &PhaseTable, subs: &BTreeMap<String, Sub>) {
        let verified = self
            .sides
            .verified(&self.base.group, |c, qs| self.brokers.learn(c, qs))
            .await;
        let mut applied = self.applied.lock();
        let next = reads::applied_table(snapshot, |t| subs.contains_key(t), &verified, &applied);
        *applied = Arc::new(next);
    }

    /// Release every held orderly topic whose source is sealed and fully consumed by this group. Returns whether
    /// a topic is still held.
    async fn release_drained(&self) -> bool {
        if !matches!(*self.listener.lock(), Some(UserListener::Orderly(_))) {
            return false;
        }
        let topics: Vec<String> = self.subscriptions.lock().keys().cloned().collect();
        let held = self.holdback.held(&topics);
        let mut still_held = false;
        for (topic, version, sealed) in held {
            if !sealed {
                tracing::debug!(group = %self.base.group, topic, "orderly topic: holding target messages until the source is sealed");
                still_held = true;
                continue;
            }
            match self.source_drained(&topic).await {
                Ok(None) => {
                    self.holdback.release(&topic, version);
                    tracing::info!(group = %self.base.group, topic, version,
                        "orderly topic: source sealed and drained; delivering target messages");
                }
                Ok(Some(behind)) => {
                    tracing::debug!(group = %self.base.group, topic, behind, "orderly topic: source not drained yet");
                    still_held = true;
                }
                Err(e) => {
                    tracing::warn!(group = %self.base.group, topic, error = %e,
                        "orderly topic: cannot check the source's offsets; target messages stay held");
                    still_held = true;
                }
            }
        }
        still_held
    }

    /// `None` when this group has consumed every message of `topic` on the source, else the first queue behind
    /// (`"queue: consumed/max"`).
    async fn source_drained(&self, topic: &str) -> Result<Option<String>, MigrationError> {
        self.drained(Cluster::Source, topic).await
    }

    /// `None` when this group has consumed every message of `topic` on `c`, else the first queue behind
    /// (`"queue: consumed/max"`). Queues this instance consumes are read from memory; the others (other instances
    /// of the group) from the broker.
    async fn drained(&self, c: Cluster, topic: &str) -> Result<Option<String>, MigrationError> {
        use rocketmq_client_rust::ReadOffsetType;
        let fail = |what: &str| MigrationError::new(ErrorKind::Subscribe, Some(c), what.to_owned());
        let mut guard = self.sides[c].lock().await;
        let side = guard
            .as_mut()
            .ok_or_else(|| fail("the client is not running"))?;
        let store = side
            .consumer
            .offset_store()
            .ok_or_else(|| fail("the source client has no offset store"))?;
        let queues = tokio::time::timeout(
            VERIFY_TIMEOUT,
            side.consumer.fetch_subscribe_message_queues(topic),
        )
        .await
        .map_err(|_| fail("route lookup timed out"))?
        .map_err(|e| fail("route lookup").with_source(e))?;
        for mq in queues {
            let max = side
                .consumer
                .max_offset(&mq)
                .await
                .map_err(|e| fail("max offset").with_source(e))?;
            if max <= 0 {
                continue;
            }
            let mut consumed = store.read_offset(&mq, ReadOffsetType::ReadFromMemory).await;
            if consumed < 0 {
                consumed = store.read_offset(&mq, ReadOffsetType::ReadFromStore).await;
            }
            if consumed < max {
                return Ok(Some(format!(
                    "{}/{}: {consumed}/{max}",
                    mq.broker_name(),
                    mq.queue_id()
                )));
            }
        }
        Ok(None)
    }

    async fn reconcile_side(
        &self,
        c: Cluster,
        want: BTreeMap<String, Sub>,
    ) -> Result<(), MigrationError> {
        let mut guard = self.sides[c].lock().await;
        let fail = |what: String| MigrationError::new(ErrorKind::Subscribe, Some(c), what);
        match guard.as_mut() {
            None if want.is_empty() => Ok(()),
            Some(_) if want.is_empty() => {
                if let Some(mut side) = guard.take() {
                    self.client_ids.lock()[c.index()] = None;
                    side.consumer.shutdown().await;
                    tracing::info!(group = %self.base.group, cluster = %c, "no topic reads this cluster any more: client shut down");
                }
                Ok(())
            }
            None => {
                let Some(user) = self.listener.lock().clone() else {
                    return Err(MigrationError::new(
                        ErrorKind::NotStarted,
                        Some(c),
                        "no message listener registered",
                    ));
                };
                let (mut consumer, client_id) = self.settings.build_raw(&self.base, c);
                for (topic, sub) in &want {
                    consumer
                        .subscribe_to(topic, sub)
                        .await
                        .map_err(|e| fail(format!("subscribe {topic}")).with_source(e))?;
                }
                let merge = MergeListener {
                    cluster: c,
                    shared: self.shared.clone(),
                    holdback: self.holdback.clone(),
                    user: user.clone(),
                };
                match user {
                    UserListener::Concurrently(_) => {
                        consumer.register_message_listener_concurrently(merge)
                    }
                    UserListener::Orderly(_) => consumer.register_message_listener_orderly(merge),
                }
                start_consumer(&mut consumer, "migrating push consumer", &self.base, c).await?;
                if self.suspended.load(Ordering::Acquire) {
                    consumer.suspend().await;
                }
                tracing::info!(group = %self.base.group, cluster = %c, client_id, topics = ?want.keys().collect::<Vec<_>>(),
                    "consumer client started");
                self.client_ids.lock()[c.index()] = Some(client_id);
                *guard = Some(Side::new(consumer, want));
                Ok(())
            }
            Some(side) => side.sync(want, (self.base.group.as_str(), c)).await,
        }
    }

    async fn shutdown_sides(&self) {
        for c in Cluster::BOTH {
            if let Some(mut side) = self.sides[c].lock().await.take() {
                self.client_ids.lock()[c.index()] = None;
                side.consumer.shutdown().await;
                tracing::info!(group = %self.base.group, cluster = %c, "consumer client shut down");
            }
        }
    }
}

impl MQConsumer for MigratingPushConsumer {
    /// Send a message back for a later retry, to the cluster that owns `broker_name`.
    async fn send_message_back(
        &mut self,
        msg: MessageExt,
        delay_level: i32,
        broker_name: &str,
    ) -> ClientResult<()> {
        // A broker of this name on one cluster only: that cluster; unknown or on both: each running side.
        let clusters: Vec<Cluster> = match self.core.brokers.owner(broker_name) {
            Some(c) => vec![c],
            None => Cluster::BOTH.to_vec(),
        };
        let mut last = None;
        for c in clusters {
            let mut side = self.core.sides[c].lock().await;
            if let Some(side) = side.as_mut() {
                match side
                    .consumer
                    .send_message_back(msg.clone(), delay_level, broker_name)
                    .await
                {
                    Ok(()) => return Ok(()),
                    Err(e) => last = Some(e),
                }
            }
        }
        Err(last.unwrap_or_else(|| ClientError::broker_not_found(broker_name)))
    }

    /// The queues of `topic` on every cluster the topic's phase reads.
    async fn fetch_subscribe_message_queues(
        &mut self,
        topic: &str,
    ) -> ClientResult<Vec<MessageQueue>> {
        let read = self.core.phases.snapshot().phase(topic).read_set();
        let mut all = Vec::new();
        let mut any = false;
        for c in Cluster::BOTH.into_iter().filter(|c| read.contains(*c)) {
            let mut side = self.core.sides[c].lock().await;
            if let Some(side) = side.as_mut() {
                any = true;
                let queues = side.consumer.fetch_subscribe_message_queues(topic).await?;
                self.core.brokers.learn(c, &queues);
                all.extend(queues);
            }
        }
        if !any {
            return Err(ClientError::not_started());
        }
        Ok(all)
    }
}

impl MQPushConsumer for MigratingPushConsumer {
    /// Start the clients of the clusters the subscribed topics read, and follow the phase table from now on.
    async fn start(&mut self) -> ClientResult<()> {
        if self.core.listener.lock().is_none() {
            return Err(ClientError::config_missing("message listener"));
        }
        self.core.started.store(true, Ordering::Release);
        if let Err(e) = self.core.reconcile().await {
            self.core.started.store(false, Ordering::Release);
            self.core.shutdown_sides().await;
            return Err(ClientError::service_source("migrating consumer start", e));
        }
        let weak = Arc::downgrade(&self.core);
        self.watcher = Some(tokio::spawn(reads::follow(
            weak,
            self.core.phases.clone(),
            // While an orderly topic's target messages are held, check its source for "sealed and drained"
            // twice a second.
            |core: Arc<Core>| async move {
                let _ = core.reconcile().await;
                core.release_drained().await.then_some(DRAIN_CHECK_EVERY)
            },
        )));
        Ok(())
    }

    /// Stop following the phase table and shut both clients down.
    async fn shutdown(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
        self.core.started.store(false, Ordering::Release);
        self.core.shutdown_sides().await;
    }

    fn register_message_listener_concurrently<ML>(&mut self, message_listener: ML)
    where
        ML: MessageListenerConcurrently + Send + Sync + 'static,
    {
        *self.core.listener.lock() = Some(UserListener::Concurrently(Arc::new(message_listener)));
    }

    fn register_message_listener_orderly<ML>(&mut self, message_listener: ML)
    where
        ML: MessageListenerOrderly + Send + Sync + 'static,
    {
        *self.core.listener.lock() = Some(UserListener::Orderly(Arc::new(message_listener)));
    }

    async fn subscribe(
        &mut self,
        topic: impl Into<CheetahString>,
        sub_expression: impl Into<CheetahString>,
    ) -> ClientResult<()> {
        let topic = topic.into().to_string();
        let expr = sub_expression.into().to_string();
        self.core.shared.topics.track(&topic);
        self.core
            .subscriptions
            .lock()
            .insert(topic, Sub::Expression(expr));
        self.resubscribe().await
    }

    async fn subscribe_with_selector(
        &mut self,
        topic: &str,
        selector: Option<MessageSelector>,
    ) -> ClientResult<()> {
        self.core.shared.topics.track(topic);
        self.core
            .subscriptions
            .lock()
            .insert(topic.to_owned(), Sub::Selector(selector));
        self.resubscribe().await
    }

    async fn unsubscribe(&mut self, topic: &str) {
        self.core.subscriptions.lock().remove(topic);
        if let Err(e) = self.resubscribe().await {
            tracing::warn!(topic, error = ?e, "unsubscribe: subscription change failed; will retry");
        }
    }

    async fn suspend(&self) {
        self.core.suspended.store(true, Ordering::Release);
        for c in Cluster::BOTH {
            if let Some(side) = self.core.sides[c].lock().await.as_ref() {
                side.consumer.suspend().await;
            }
        }
    }

    async fn resume(&self) {
        self.core.suspended.store(false, Ordering::Release);
        for c in Cluster::BOTH {
            if let Some(side) = self.core.sides[c].lock().await.as_ref() {
                side.consumer.resume().await;
            }
        }
    }
}

impl Drop for MigratingPushConsumer {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
    }
}
