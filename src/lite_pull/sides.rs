//! Each cluster's raw `DefaultLitePullConsumer`, brought in line with what the topics' read sets want.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rocketmq_model::common::message::message_queue::MessageQueue;

use super::core::{Core, Mode, Side};
use crate::client::reconcile::{self, Reconcile, Reconciling};
use crate::client::start::start_consumer;
use crate::cluster::Cluster;
use crate::error::{ErrorKind, MigrationError};
use crate::reads::{self, Sub};
use crate::route::PhaseTable;

/// What one reconcile pass works from: the phase table, the subscriptions and the queues assigned per cluster.
pub(crate) struct Pass {
    snapshot: Arc<PhaseTable>,
    subs: BTreeMap<String, Sub>,
    assigned: [BTreeMap<String, Vec<MessageQueue>>; 2],
}

impl Reconcile for Core {
    type Pass = Pass;

    fn group(&self) -> &str {
        &self.base.group
    }

    fn begin(&self) -> Option<Pass> {
        self.started.load(Ordering::Acquire).then(|| Pass {
            snapshot: self.phases.snapshot(),
            subs: self.subscriptions.lock().clone(),
            assigned: self.assigned.lock().clone(),
        })
    }

    /// Read on `c` the topics and assigned queues the phases read there, plus the topics that left `c`'s read set
    /// and still linger there (see `crate::linger`: until nothing came from `c` for the quiet window).
    async fn bring_side(&self, c: Cluster, pass: &Pass) -> Result<(), MigrationError> {
        let mut topics = reads::for_cluster(&pass.subs, &pass.snapshot, c);
        let held = self.sides.subscribed(c).await;
        let linger = (&self.claims.shared.activity, &self.linger);
        let nothing_else = || async { None };
        let lingering = (&mut topics, &pass.subs);
        self.lingering
            .pass(
                (&self.base.group, c),
                held.iter(),
                lingering,
                linger,
                nothing_else,
            )
            .await;
        let queues: HashSet<MessageQueue> =
            reads::for_cluster(&pass.assigned[c.index()], &pass.snapshot, c)
                .into_values()
                .flatten()
                .collect();
        self.reconcile_side(c, topics, queues).await
    }

    async fn record(&self, pass: &Pass) {
        self.record_applied(&pass.snapshot).await;
    }
}

impl Core {
    /// Bring both clusters' raw consumers in line with the phase table; then record the phases applied.
    pub(crate) fn reconcile(&self) -> Reconciling<'_> {
        Box::pin(reconcile::pass(self))
    }

    async fn reconcile_side(
        &self,
        c: Cluster,
        topics: BTreeMap<String, Sub>,
        queues: HashSet<MessageQueue>,
    ) -> Result<(), MigrationError> {
        let mut guard = self.sides[c].lock().await;
        let fail = |what: String| MigrationError::new(ErrorKind::Subscribe, Some(c), what);
        if topics.is_empty() && queues.is_empty() {
            // A side started only to look up queues stays; one that read topics which no longer read it goes.
            if guard.as_ref().is_some_and(Side::reads_anything) {
                if let Some(side) = guard.take() {
                    self.close_side(c, side).await;
                    tracing::info!(group = %self.base.group, cluster = %c,
                        "no topic reads this cluster any more: lite pull client shut down");
                }
            }
            return Ok(());
        }
        if guard.is_none() {
            *guard = Some(self.start_side(c).await?);
        }
        let Some(side) = guard.as_mut() else {
            return Ok(());
        };
        side.sync(topics, (self.base.group.as_str(), c)).await?;
        if side.queues != queues {
            if queues.is_empty() {
                // The raw consumer refuses an empty assignment: a side left without queues is closed.
                if let Some(side) = guard.take() {
                    self.close_side(c, side).await;
                }
                return Ok(());
            }
            side.consumer
                .assign(queues.iter().cloned().collect())
                .await
                .map_err(|e| fail(format!("assign {} queues", queues.len())).with_source(e))?;
            tracing::info!(group = %self.base.group, cluster = %c, queues = queues.len(), "lite pull: assigned");
            side.verified
                .retain(|t| queues.iter().any(|q| q.topic_str() == t));
            side.queues = queues;
        }
        Ok(())
    }

    /// Start `c`'s raw consumer with nothing to read yet.
    pub(crate) async fn start_side(&self, c: Cluster) -> Result<Side, MigrationError> {
        let (mut consumer, client_id) = self.settings.build_raw(&self.base, c).map_err(|e| {
            MigrationError::new(ErrorKind::Start, Some(c), "build lite pull consumer")
                .with_source(e)
        })?;
        start_consumer(&mut consumer, "migrating lite pull consumer", &self.base, c).await?;
        tracing::info!(group = %self.base.group, cluster = %c, client_id, "lite pull client started");
        self.client_ids.lock()[c.index()] = Some(client_id);
        Ok(Side::new(consumer, BTreeMap::new()))
    }

    /// Commit what poll took from `c` (with auto-commit on), then shut its client down. Boxed as
    /// [`Core::reconcile`] is: the raw consumer's shutdown nests deep, and this runs inside `start` and `assign`.
    fn close_side(&self, c: Cluster, side: Side) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.close_side_now(c, side))
    }

    async fn close_side_now(&self, c: Cluster, side: Side) {
        self.client_ids.lock()[c.index()] = None;
        if self.poll.auto_commit() {
            self.commit_cluster(c, &side.consumer, |_, _| true, None, false)
                .await;
        }
        side.consumer.shutdown().await;
    }

    pub(crate) async fn shutdown_sides(&self) {
        for c in Cluster::BOTH {
            let side = self.sides[c].lock().await.take();
            if let Some(side) = side {
                self.close_side(c, side).await;
                tracing::info!(group = %self.base.group, cluster = %c, "lite pull client shut down");
            }
        }
    }

    /// Report a topic's phase as applied only once every cluster it reads has answered for the topic's queues.
    async fn record_applied(&self, snapshot: &crate::route::PhaseTable) {
        let verified = self
            .sides
            .verified(&self.base.group, |c, qs| self.brokers.learn(c, qs))
            .await;
        let read = self.read_topics();
        let mut applied = self.applied.lock();
        let next = reads::applied_table(snapshot, |t| read.contains(t), &verified, &applied);
        *applied = Arc::new(next);
    }

    /// Topics this consumer reads: subscribed, or with assigned queues.
    pub(crate) fn read_topics(&self) -> BTreeSet<String> {
        match *self.mode.lock() {
            Mode::Assign => self
                .assigned
                .lock()
                .iter()
                .flat_map(|m| m.keys().cloned())
                .collect(),
            _ => self.subscriptions.lock().keys().cloned().collect(),
        }
    }
}
