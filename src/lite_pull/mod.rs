//! `MigratingLitePullConsumer`: a drop-in for `DefaultLitePullConsumer` that reads every cluster a topic's phase
//! reads.

mod builder;
mod claims;
mod core;
mod poll;
mod sides;
mod timing;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientError, ClientResult, MessageSelector};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use builder::MigratingLitePullConsumerBuilder;

use crate::client::base::{client_debug, client_entry, consumer_accessors};
use crate::client::brokers::BrokerMap;
use crate::client::consumer_stats::ConsumerStats;
use crate::client::sides::Sides;
use crate::cluster::Cluster;
use crate::control::report::ClientKind;
use crate::error::{ErrorKind, MigrationError};
use crate::linger::Lingering;
use crate::reads::{self, Sub};
use crate::route::PhaseTable;
use builder::Parts;
use claims::Claims;
use core::{client_err, Core, Mode};
use timing::PollControls;

/// A lite pull consumer for two clusters that follows each topic's read set. Same method names and signatures
/// as `DefaultLitePullConsumer` (every method takes `&self`).
///
/// **Poll.** `poll` polls both clusters' raw consumers concurrently and returns as soon as either returned
/// messages (the other cluster's batch, when it arrives later, is returned by the next poll), or empty after the
/// timeout.
///
/// **Offsets** are committed on the cluster each message came from, up to what `poll` returned (or suppressed as
/// a duplicate). The raw consumers run with auto-commit off; this consumer commits: with `auto_commit(true)` (the
/// default) at the first poll after each interval and at shutdown, otherwise at `commit_sync` / `commit` /
/// `commit_all` (both clusters), `commit_with_map` / `commit_sync_with_map` / `commit_with_set` (the named queues,
/// each on its cluster).
///
/// **Dedupe.** A message whose key was consumed already is not returned by `poll` (counted in
/// [`ConsumerStats::duplicates_suppressed`]). A key counts as consumed:
/// * with auto-commit on: when `poll` returns it;
/// * with auto-commit off: at the commit that covers its queue and offset; until then it is in flight, and a copy
///   from the other cluster is held back in memory (not returned) and tried again on later polls. Shutdown
///   without a commit releases the keys, so a redelivery is returned again.
///
/// **Seek back** replays the queue: messages of that queue below the highest offset polled before the seek are
/// returned again without the dedupe check; their copies on the other cluster stay suppressed.
///
/// **Queues** identify their cluster by broker name, learned from each cluster's route: `seek`, `assign`,
/// `pause`, `committed`, ... fail with an [`ErrorKind::QueueCluster`] error (the client error's source) naming the
/// queue when no cluster reading the topic has that broker, or both clusters have a broker of that name.
///
/// # Reading both clusters
///
/// One raw lite pull consumer per cluster, same group on both. Subscriptions (or assigned queues) follow each
/// topic's read set: entering a read-both phase subscribes on the target (a new target group starts from the
/// first offset); `Completed` drops the source and `Initial` the target; a cluster's client is shut down once no
/// topic reads it. `poll` merges what both return; offsets are committed on the cluster each message came from;
/// keys pass a [`crate::dedupe::Deduplicator`] (when a key counts as consumed: above).
///
/// ```no_run
/// # #![recursion_limit = "512"]
/// # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), Box<dyn std::error::Error>> {
/// use rocketmq_migration::{ClusterConfig, MigratingLitePullConsumer, PhaseHandle};
///
/// let consumer = MigratingLitePullConsumer::builder(rt)
///     .consumer_group("orders_cg")
///     .source(ClusterConfig::new("10.0.0.1:9876"))
///     .target(ClusterConfig::new("10.1.0.1:9876"))
///     .phases(PhaseHandle::new())
///     .auto_commit(false)
///     .build()?;
/// consumer.subscribe("orders").await?;
/// consumer.start().await?;
/// loop {
///     let msgs = consumer.poll().await;
///     for m in &msgs {
///         println!("{} from broker {}", m.msg_id(), m.broker_name);
///     }
///     consumer.commit_sync().await; // each cluster commits its own queues
/// }
/// # }
/// ```
pub struct MigratingLitePullConsumer {
    core: Arc<Core>,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

client_debug!(MigratingLitePullConsumer);
client_entry!(
    MigratingLitePullConsumer,
    MigratingLitePullConsumerBuilder,
    "DefaultLitePullConsumer"
);
consumer_accessors!(MigratingLitePullConsumer);

impl MigratingLitePullConsumer {
    fn from_parts(p: Parts) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let linger = p.settings.read.linger;
        let consumer = MigratingLitePullConsumer {
            core: Arc::new(Core {
                base: p.checked.base.clone(),
                phases: p.checked.phases.clone(),
                settings: p.settings,
                claims: Claims::new(p.shared),
                brokers: BrokerMap::default(),
                mode: Mutex::new(Mode::None),
                subscriptions: Mutex::new(BTreeMap::new()),
                assigned: Mutex::new(Default::default()),
                sides: Sides::default(),
                started: AtomicBool::new(false),
                applied: Mutex::new(Arc::new(PhaseTable::default())),
                poll: PollControls::new(p.poll),
                results_tx: tx,
                results_rx: tokio::sync::Mutex::new(rx),
                polling: Arc::new([AtomicBool::new(false), AtomicBool::new(false)]),
                paused: Mutex::new(HashSet::new()),
                held: Mutex::new(Vec::new()),
                linger,
                lingering: Lingering::default(),
                client_ids: Mutex::new([None, None]),
            }),
            watcher: Mutex::new(None),
        };
        p.checked
            .register(ClientKind::LitePullConsumer, consumer.core.clone());
        consumer
    }

    /// Counters: messages polled per cluster (`received`), returned by `poll` (`delivered`), suppressed
    /// duplicates, and messages held back because their key was in flight (`in_flight_retries`).
    pub fn stats(&self) -> ConsumerStats {
        self.core.claims.shared.counters.snapshot()
    }

    /// The cluster `message_queue` belongs to (by its broker name, from the clusters' routes).
    pub async fn cluster_of(
        &self,
        message_queue: &MessageQueue,
    ) -> Result<Cluster, MigrationError> {
        self.core.cluster_of(message_queue).await
    }

    /// Bring both clusters' clients in line with the phase table now (the consumer also does this on every
    /// phase change and every 5 seconds).
    pub async fn reconcile(&self) -> Result<(), MigrationError> {
        self.core.reconcile().await
    }

    /// Start the clients of the clusters the subscribed (or assigned) topics read, and follow the phase table.
    pub async fn start(&self) -> ClientResult<()> {
        if self.core.started.swap(true, Ordering::AcqRel) {
            return Err(ClientError::already_started());
        }
        if let Err(e) = self.core.reconcile().await {
            self.core.started.store(false, Ordering::Release);
            self.core.shutdown_sides().await;
            return Err(client_err(e));
        }
        let weak = Arc::downgrade(&self.core);
        *self.watcher.lock() = Some(tokio::spawn(reads::follow(
            weak,
            self.core.phases.clone(),
            |core: Arc<Core>| async move {
                let _ = core.reconcile().await;
                None
            },
        )));
        Ok(())
    }

    /// Stop following the phase table and shut both clients down. With auto-commit on, what `poll` returned is
    /// committed first; otherwise uncommitted keys are released.
    pub async fn shutdown(&self) {
        if let Some(w) = self.watcher.lock().take() {
            w.abort();
        }
        // Wait for a poll in progress.
        let _rx = self.core.results_rx.lock().await;
        self.core.started.store(false, Ordering::Release);
        self.core.shutdown_sides().await;
        self.core.claims.abort_pending();
    }

    /// Whether the consumer is started.
    pub async fn is_running(&self) -> bool {
        self.core.started.load(Ordering::Acquire)
    }

    /// Subscribe to `topic` with `"*"`.
    pub async fn subscribe(&self, topic: &str) -> ClientResult<()> {
        self.subscribe_with_expression(topic, "*").await
    }

    /// Subscribe to `topic` with a tag expression, on every cluster the topic's phase reads.
    pub async fn subscribe_with_expression(
        &self,
        topic: &str,
        sub_expression: &str,
    ) -> ClientResult<()> {
        self.core
            .set_subscription(topic, Sub::Expression(sub_expression.to_owned()))
            .await
    }

    /// Subscribe to `topic` with a server-side selector, on every cluster the topic's phase reads.
    pub async fn subscribe_with_selector(
        &self,
        topic: &str,
        selector: Option<MessageSelector>,
    ) -> ClientResult<()> {
        self.core
            .set_subscription(topic, Sub::Selector(selector))
            .await
    }

    /// Remove the subscription for `topic` on both clusters.
    pub async fn unsubscribe(&self, topic: &str) {
        self.core.subscriptions.lock().remove(topic);
        if let Err(e) = self.core.reconcile().await {
            tracing::warn!(topic, error = %e, "unsubscribe: change failed; will retry");
        }
    }

    /// The queues assigned to this consumer on both clusters (by rebalance, or by `assign`).
    pub async fn assignment(&self) -> ClientResult<HashSet<MessageQueue>> {
        let mut all = HashSet::new();
        let mut any = false;
        for c in Cluster::BOTH {
            if let Some(side) = self.core.sides[c].lock().await.as_ref() {
                any = true;
                all.extend(side.consumer.assignment().await?);
            }
        }
        if !any {
            return Err(ClientError::not_started());
        }
        Ok(all)
    }

    /// Assign queues of either cluster manually (replaces the previous assignment). Each queue is read from its
    /// cluster while the topic's phase reads that cluster. All or nothing: a queue whose cluster cannot be told
    /// fails the call, naming the queue.
    pub async fn assign(&self, message_queues: Vec<MessageQueue>) -> ClientResult<()> {
        if message_queues.is_empty() {
            return Err(ClientError::illegal_argument(
                "message queues can not be empty",
            ));
        }
        if *self.core.mode.lock() == Mode::Subscribe {
            return Err(client_err(MigrationError::new(
                ErrorKind::Subscribe,
                None,
                "assign: this consumer subscribed to topics; subscribe and assign are exclusive",
            )));
        }
        let mut by_cluster: [BTreeMap<String, Vec<MessageQueue>>; 2] = Default::default();
        for mq in message_queues {
            let c = self.core.cluster_of(&mq).await.map_err(client_err)?;
            by_cluster[c.index()]
                .entry(mq.topic_str().to_owned())
                .or_default()
                .push(mq);
        }
        *self.core.mode.lock() = Mode::Assign;
        for topic in by_cluster.iter().flat_map(|m| m.keys()) {
            self.core.claims.shared.topics.track(topic);
        }
        *self.core.assigned.lock() = by_cluster;
        self.core.reconcile().await.map_err(client_err)
    }

    /// Poll with the configured poll timeout (`poll_timeout_millis`, default 5000 ms).
    pub async fn poll(&self) -> Vec<MessageExt> {
        self.poll_with_timeout(self.core.poll.poll_timeout()).await
    }

    /// Poll both clusters for up to `timeout` milliseconds; see [`MigratingLitePullConsumer`].
    pub async fn poll_with_timeout(&self, timeout: u64) -> Vec<MessageExt> {
        self.core
            .poll(timeout)
            .await
            .into_iter()
            .map(|m| (*m).clone())
            .collect()
    }

    /// [`Self::poll`] without copying the messages.
    pub async fn poll_zero_copy(&self) -> Vec<Arc<MessageExt>> {
        self.core.poll(self.core.poll.poll_timeout()).await
    }

    /// [`Self::poll_with_timeout`] without copying the messages.
    pub async fn poll_with_timeout_zero_copy(&self, timeout: u64) -> Vec<Arc<MessageExt>> {
        self.core.poll(timeout).await
    }

    /// The default poll timeout in milliseconds.
    pub async fn poll_timeout_millis(&self) -> u64 {
        self.core.poll.poll_timeout()
    }

    /// Set the default poll timeout in milliseconds.
    pub async fn set_poll_timeout_millis(&self, timeout_millis: u64) {
        self.core.poll.set_poll_timeout(timeout_millis);
    }

    /// The queues of `topic` on every cluster the topic's phase reads (starting a cluster's client if needed).
    pub async fn fetch_message_queues(&self, topic: &str) -> ClientResult<Vec<MessageQueue>> {
        if !self.core.started.load(Ordering::Acquire) {
            return Err(ClientError::not_started());
        }
        let read = self.core.phases.snapshot().phase(topic).read_set();
        let mut all = Vec::new();
        for c in Cluster::BOTH.into_iter().filter(|c| read.contains(*c)) {
            let queues = self.core.fetch_on(c, topic).await.map_err(|e| {
                tracing::warn!(topic, cluster = %c, error = ?e, "fetch_message_queues failed on this cluster");
                e
            })?;
            all.extend(queues);
        }
        Ok(all)
    }

    /// The committed offset of `message_queue`, read on its cluster.
    pub async fn committed(&self, message_queue: &MessageQueue) -> ClientResult<i64> {
        let raw = self.core.raw_for(message_queue).await?;
        raw.committed(message_queue).await
    }

    /// Commit what `poll` returned, on both clusters; returns the first cluster's error.
    pub async fn commit_all(&self) -> ClientResult<()> {
        self.core.commit_all().await.map_err(client_err)
    }

    /// Same as [`Self::commit_all`], logging a failure.
    pub async fn commit(&self) {
        if let Err(e) = self.commit_all().await {
            tracing::warn!(error = ?e, "commit failed");
        }
    }

    /// Same as [`Self::commit_all`], logging a failure (the raw consumer's alias).
    pub async fn commit_sync(&self) {
        self.commit().await;
    }

    /// Commit explicit offsets, each queue on its cluster. A queue whose cluster cannot be told is skipped and
    /// logged at ERROR (naming it); the others are committed.
    pub async fn commit_with_map(&self, offset_map: HashMap<MessageQueue, i64>, persist: bool) {
        let mut by_cluster: [HashMap<MessageQueue, i64>; 2] = Default::default();
        for (mq, off) in offset_map {
            match self.core.cluster_of(&mq).await {
                Ok(c) => {
                    by_cluster[c.index()].insert(mq, off);
                }
                Err(e) => {
                    tracing::error!(error = %e, offset = off, "commit_with_map: offset not committed")
                }
            }
        }
        for c in Cluster::BOTH {
            let map = std::mem::take(&mut by_cluster[c.index()]);
            if map.is_empty() {
                continue;
            }
            let guard = self.core.sides[c].lock().await;
            let Some(side) = guard.as_ref() else {
                tracing::error!(cluster = %c, queues = map.len(), "commit_with_map: this cluster's client is not running");
                continue;
            };
            let covers = |q: &MessageQueue, o: i64| map.get(q).is_some_and(|to| o < *to);
            self.core
                .commit_cluster(c, &side.consumer, covers, Some(&map), persist)
                .await;
        }
    }

    /// Same as [`Self::commit_with_map`] (the raw consumer's alias).
    pub async fn commit_sync_with_map(
        &self,
        offset_map: HashMap<MessageQueue, i64>,
        persist: bool,
    ) {
        self.commit_with_map(offset_map, persist).await;
    }

    /// Commit what `poll` returned from `message_queues`, each on its cluster.
    pub async fn commit_with_set(&self, message_queues: HashSet<MessageQueue>, persist: bool) {
        let mut by_cluster: [HashSet<MessageQueue>; 2] = Default::default();
        for mq in message_queues {
            match self.core.cluster_of(&mq).await {
                Ok(c) => {
                    by_cluster[c.index()].insert(mq);
                }
                Err(e) => tracing::error!(error = %e, "commit_with_set: queue not committed"),
            }
        }
        for c in Cluster::BOTH {
            let set = std::mem::take(&mut by_cluster[c.index()]);
            if set.is_empty() {
                continue;
            }
            let guard = self.core.sides[c].lock().await;
            let Some(side) = guard.as_ref() else { continue };
            self.core
                .commit_cluster(c, &side.consumer, |q, _| set.contains(q), None, persist)
                .await;
        }
    }

    /// Whether auto-commit is on.
    pub async fn is_auto_commit(&self) -> bool {
        self.core.poll.auto_commit()
    }

    /// Turn auto-commit on or off.
    pub async fn set_auto_commit(&self, auto_commit: bool) {
        self.core.poll.set_auto_commit(auto_commit);
    }

    /// The auto-commit interval in milliseconds.
    pub async fn auto_commit_interval_millis(&self) -> u64 {
        self.core.poll.interval()
    }

    /// Set the auto-commit interval; values under 1000 ms are ignored, as by the raw consumer (logged).
    pub async fn set_auto_commit_interval_millis(&self, interval_millis: u64) {
        self.core.poll.set_interval(interval_millis);
    }

    /// Stop fetching from `message_queues` (each on its cluster). From the return of this call, `poll` returns
    /// nothing of these queues until `resume`, also what a pull already in flight brings (it is held back, not
    /// dropped). A queue whose cluster cannot be told is logged at ERROR, naming it.
    pub async fn pause(&self, message_queues: Vec<MessageQueue>) {
        for (c, qs) in self.core.split(message_queues, "pause").await {
            self.core
                .paused
                .lock()
                .extend(qs.iter().map(|q| (c, q.clone())));
            if let Some(side) = self.core.sides[c].lock().await.as_ref() {
                side.consumer.pause(qs).await;
            }
        }
    }

    /// Resume fetching from `message_queues` (each on its cluster); what was held back is returned first.
    pub async fn resume(&self, message_queues: Vec<MessageQueue>) {
        for (c, qs) in self.core.split(message_queues, "resume").await {
            if let Some(side) = self.core.sides[c].lock().await.as_ref() {
                side.consumer.resume(qs.clone()).await;
            }
            self.core.release(c, &qs);
        }
    }

    /// Whether `message_queue` is paused on its cluster.
    pub async fn is_paused(&self, message_queue: &MessageQueue) -> bool {
        match self.core.raw_for(message_queue).await {
            Ok(raw) => raw.is_paused(message_queue).await,
            Err(_) => false,
        }
    }

    /// Move `message_queue` (on its cluster) to `offset`; see [`MigratingLitePullConsumer`] for the replay.
    pub async fn seek(&self, message_queue: &MessageQueue, offset: i64) -> ClientResult<()> {
        self.core.seek(message_queue, Some(offset), false).await
    }

    /// Move `message_queue` to its first offset.
    pub async fn seek_to_begin(&self, message_queue: &MessageQueue) -> ClientResult<()> {
        self.core.seek(message_queue, None, false).await
    }

    /// Move `message_queue` to its end.
    pub async fn seek_to_end(&self, message_queue: &MessageQueue) -> ClientResult<()> {
        self.core.seek(message_queue, None, true).await
    }

    /// The offset of `message_queue` for `timestamp`, on its cluster.
    pub async fn offset_for_timestamp(
        &self,
        message_queue: &MessageQueue,
        timestamp: u64,
    ) -> ClientResult<i64> {
        let raw = self.core.raw_for(message_queue).await?;
        raw.offset_for_timestamp(message_queue, timestamp).await
    }

    /// The broker's max offset of `message_queue`, on its cluster.
    pub async fn max_offset(&self, message_queue: &MessageQueue) -> ClientResult<i64> {
        let raw = self.core.raw_for(message_queue).await?;
        raw.max_offset(message_queue).await
    }

    /// The broker's min offset of `message_queue`, on its cluster.
    pub async fn min_offset(&self, message_queue: &MessageQueue) -> ClientResult<i64> {
        let raw = self.core.raw_for(message_queue).await?;
        raw.min_offset(message_queue).await
    }

    /// The consumer group.
    pub fn consumer_group(&self) -> String {
        self.core.base.group.clone()
    }
}

impl Drop for MigratingLitePullConsumer {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.lock().take() {
            w.abort();
        }
    }
}
