//! The lite pull consumer's shared state (both clusters' raw consumers, subscriptions or assignments, claims,
//! results of the raw polls, paused queues), its shutdown and commits, and its report to the control plane.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientError, ClientResult, DefaultLitePullConsumer};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::builder::LitePullSettings;
use super::claims::{self, Claims};
use super::timing::PollControls;
use crate::client::base::ClientBase;
use crate::client::brokers::BrokerMap;
use crate::client::consumer_report;
use crate::client::sides::Sides;
use crate::cluster::Cluster;
use crate::control::report::{Report, Reporter};
use crate::error::{ErrorKind, MigrationError};
use crate::linger::{LingerSettings, Lingering};
use crate::reads::Sub;
use crate::route::{PhaseHandle, PhaseTable};

/// One cluster's running raw lite pull consumer and what it reads (subscribed topics or assigned queues).
pub(crate) type Side = crate::client::side::Side<DefaultLitePullConsumer>;

/// A shim error as the client error the raw consumer's API returns (logged: the raw API's errors carry little).
pub(crate) fn client_err(e: MigrationError) -> ClientError {
    tracing::warn!(error = %e, "lite pull consumer");
    match e.kind() {
        ErrorKind::QueueCluster | ErrorKind::Config => ClientError::illegal_argument_source(e),
        _ => ClientError::service_source("migrating lite pull consumer", e),
    }
}

/// What one raw poll returned.
pub(crate) type Batch = (Cluster, Vec<Arc<MessageExt>>);

/// Subscribe or assign: like the raw consumer, one or the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    None,
    Subscribe,
    Assign,
}

pub(crate) struct Core {
    /// Group, clusters and runtime.
    pub(crate) base: ClientBase,
    pub(crate) phases: PhaseHandle,
    pub(crate) settings: LitePullSettings,
    pub(crate) claims: Claims,
    pub(crate) brokers: BrokerMap,
    pub(crate) mode: Mutex<Mode>,
    pub(crate) subscriptions: Mutex<BTreeMap<String, Sub>>,
    // Per cluster: topic -> the queues of that cluster the application assigned.
    pub(crate) assigned: Mutex<[BTreeMap<String, Vec<MessageQueue>>; 2]>,
    pub(crate) sides: Sides<Side>,
    pub(crate) started: AtomicBool,
    pub(crate) applied: Mutex<Arc<PhaseTable>>,
    /// Poll timeout and auto-commit, as the application set them last.
    pub(crate) poll: PollControls,
    pub(crate) results_tx: mpsc::UnboundedSender<Batch>,
    // Held for the whole of a poll (and a seek): one poll at a time, as the raw consumer.
    pub(crate) results_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Batch>>,
    pub(crate) polling: Arc<[AtomicBool; 2]>,
    // Paused queues, and messages of them a pull already in flight returned (held until resumed).
    pub(crate) paused: Mutex<HashSet<(Cluster, MessageQueue)>>,
    pub(crate) held: Mutex<Vec<(Cluster, Arc<MessageExt>)>>,
    pub(crate) linger: LingerSettings,
    // Topics still read on a cluster their phase no longer reads.
    pub(crate) lingering: Lingering,
    // The client id each running side presents to its cluster's brokers.
    pub(crate) client_ids: Mutex<[Option<String>; 2]>,
}

impl Core {
    pub(crate) async fn set_subscription(&self, topic: &str, sub: Sub) -> ClientResult<()> {
        {
            let mut mode = self.mode.lock();
            if *mode == Mode::Assign {
                return Err(client_err(MigrationError::new(
                    ErrorKind::Subscribe,
                    None,
                    format!("subscribe {topic}: this consumer assigned queues; subscribe and assign are exclusive"),
                )));
            }
            *mode = Mode::Subscribe;
        }
        self.claims.shared.topics.track(topic);
        self.subscriptions.lock().insert(topic.to_owned(), sub);
        self.reconcile().await.map_err(client_err)
    }

    /// The cluster of `mq`; when its broker is not known yet, the routes of `mq`'s topic are fetched from the
    /// clusters its phase reads first.
    pub(crate) async fn cluster_of(&self, mq: &MessageQueue) -> Result<Cluster, MigrationError> {
        if !self.brokers.knows(mq) && self.started.load(Ordering::Acquire) {
            let read = self.phases.snapshot().phase(mq.topic_str()).read_set();
            for c in Cluster::BOTH.into_iter().filter(|c| read.contains(*c)) {
                if let Err(e) = self.fetch_on(c, mq.topic_str()).await {
                    tracing::warn!(cluster = %c, topic = mq.topic_str(), error = ?e, "route lookup failed");
                }
            }
        }
        self.brokers.cluster_of(mq)
    }

    /// `topic`'s queues on `c` (starting `c`'s client if needed); learns their brokers.
    pub(crate) async fn fetch_on(
        &self,
        c: Cluster,
        topic: &str,
    ) -> ClientResult<Vec<MessageQueue>> {
        let mut guard = self.sides[c].lock().await;
        if guard.is_none() {
            *guard = Some(self.start_side(c).await.map_err(client_err)?);
        }
        let Some(side) = guard.as_ref() else {
            return Err(ClientError::not_started());
        };
        let queues = side.consumer.fetch_message_queues(topic).await?;
        self.brokers.learn(c, &queues);
        Ok(queues)
    }

    /// The raw consumer of `mq`'s cluster.
    pub(crate) async fn raw_for(&self, mq: &MessageQueue) -> ClientResult<DefaultLitePullConsumer> {
        let c = self.cluster_of(mq).await.map_err(client_err)?;
        let guard = self.sides[c].lock().await;
        guard
            .as_ref()
            .map(|s| s.consumer.clone())
            .ok_or_else(ClientError::not_started)
    }

    /// `queues` by cluster; those whose cluster cannot be told are logged, naming them.
    pub(crate) async fn split(
        &self,
        queues: Vec<MessageQueue>,
        op: &str,
    ) -> Vec<(Cluster, Vec<MessageQueue>)> {
        let mut by: [Vec<MessageQueue>; 2] = Default::default();
        for mq in queues {
            match self.cluster_of(&mq).await {
                Ok(c) => by[c.index()].push(mq),
                Err(e) => tracing::error!(error = %e, "{op}: queue skipped"),
            }
        }
        let [s, t] = by;
        [(Cluster::Source, s), (Cluster::Target, t)]
            .into_iter()
            .filter(|(_, q)| !q.is_empty())
            .collect()
    }

    /// Commit both clusters up to what poll returned.
    pub(crate) async fn commit_all(&self) -> Result<(), MigrationError> {
        for c in Cluster::BOTH {
            let guard = self.sides[c].lock().await;
            if let Some(side) = guard.as_ref() {
                self.commit_cluster(c, &side.consumer, |_, _| true, None, false)
                    .await;
            }
        }
        Ok(())
    }

    /// Commit on `c`: the claimed keys `covers` selects become consumed, and `c`'s queues move to what poll
    /// returned (or to `explicit` offsets), never past a parked message.
    pub(crate) async fn commit_cluster(
        &self,
        c: Cluster,
        raw: &DefaultLitePullConsumer,
        covers: impl Fn(&MessageQueue, i64) -> bool,
        explicit: Option<&HashMap<MessageQueue, i64>>,
        persist: bool,
    ) {
        let done = self.claims.commit(c, &covers);
        let offsets: HashMap<MessageQueue, i64> = match explicit {
            Some(map) => map
                .iter()
                .map(|(q, o)| (q.clone(), done.get(q).map_or(*o, |d| (*o).min(*d))))
                .collect(),
            None => done
                .into_iter()
                .filter(|(q, o)| covers(q, *o - 1))
                .collect(),
        };
        if offsets.is_empty() {
            return;
        }
        tracing::debug!(group = %self.base.group, cluster = %c, queues = offsets.len(), "commit");
        raw.commit_with_map(offsets, persist).await;
    }

    /// Seek `mq` on its cluster: to `offset`, else to the end (`to_end`) or the beginning.
    pub(crate) async fn seek(
        &self,
        mq: &MessageQueue,
        offset: Option<i64>,
        to_end: bool,
    ) -> ClientResult<()> {
        let c = self.cluster_of(mq).await.map_err(client_err)?;
        // No poll runs while seeking: what was polled before the seek is sorted out below.
        let mut rx = self.results_rx.lock().await;
        let raw = {
            let guard = self.sides[c].lock().await;
            guard
                .as_ref()
                .map(|s| s.consumer.clone())
                .ok_or_else(ClientError::not_started)?
        };
        let to = match (offset, to_end) {
            (Some(o), _) => {
                raw.seek(mq, o).await?;
                o
            }
            (None, false) => {
                let o = raw.min_offset(mq).await?;
                raw.seek_to_begin(mq).await?;
                o
            }
            (None, true) => {
                let o = raw.max_offset(mq).await?;
                raw.seek_to_end(mq).await?;
                o
            }
        };
        // The raw seek waited for this cluster's poll in progress; wait until its batch is queued, then drop what
        // it took from this queue (the seek decides where the queue continues).
        let wait_until = Instant::now() + Duration::from_secs(30);
        while self.polling[c.index()].load(Ordering::Acquire) && Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut keep = Vec::new();
        while let Ok((bc, msgs)) = rx.try_recv() {
            let msgs: Vec<_> = if bc == c {
                msgs.into_iter()
                    .filter(|m| claims::queue_of(m) != *mq)
                    .collect()
            } else {
                msgs
            };
            keep.push((bc, msgs));
        }
        for b in keep {
            let _ = self.results_tx.send(b);
        }
        self.held
            .lock()
            .retain(|(hc, m)| !(*hc == c && claims::queue_of(m) == *mq));
        self.claims.seeked(c, mq, to);
        Ok(())
    }
}

impl Reporter for Core {
    fn report(&self) -> Report {
        let topics: Vec<String> = self.read_topics().into_iter().collect();
        let applied = self.applied.lock().clone();
        let ids = self.client_ids.lock().clone();
        let shared = &self.claims.shared;
        consumer_report::report(
            shared,
            &self.base.group,
            topics,
            &applied,
            &self.phases,
            &ids,
        )
    }
}
