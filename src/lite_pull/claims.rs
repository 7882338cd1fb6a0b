//! Dedupe for a pull consumer: which polled messages `poll` returns, and when their keys count as consumed.
//!
//! * A message whose key is consumed already (its copy from the other cluster, or a redelivery) is not returned;
//!   it counts in `duplicates_suppressed`.
//! * With auto-commit on, a returned message's key counts as consumed when `poll` returns it (the same moment the
//!   raw consumer treats it as consumed: its offset is committed by a later poll).
//! * With auto-commit off, returned keys are claimed (in flight) at poll and count as consumed at the commit that
//!   covers their queue and offset (`commit_sync`, `commit_all`, `commit_with_map`, `commit_with_set`); until then
//!   a copy from the other cluster is held back, not returned.
//! * A message whose key is in flight elsewhere (or whose store cannot answer and fails closed) is parked in memory
//!   and tried again on every poll; commits keep its queue's offset below it, so it is not committed unread.
//! * A seek back on a queue replays that queue: messages of the queue below the highest offset polled before the
//!   seek are returned again without the dedupe check. Their copies on the other cluster stay suppressed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::client::consumer_stats::Counters;
use crate::client::merge::MergeShared;
use crate::cluster::Cluster;
use crate::dedupe::Begin;

/// A queue of one cluster.
type QueueKey = (Cluster, MessageQueue);

/// A key returned by poll and not yet committed (auto-commit off).
#[derive(Debug)]
struct Pending {
    offset: i64,
    topic: String,
    key: String,
}

#[derive(Default)]
struct State {
    pending: HashMap<QueueKey, Vec<Pending>>,
    parked: VecDeque<(Cluster, Arc<MessageExt>)>,
    // Highest queue offset + 1 polled per queue.
    polled_to: HashMap<QueueKey, i64>,
    // The offset a commit of the queue may move to: past everything returned or suppressed (parked messages cap it).
    done_to: HashMap<QueueKey, i64>,
    // Offsets below this are a replay after a seek back: returned without the dedupe check.
    replay_until: HashMap<QueueKey, i64>,
}

/// The poll-side dedupe state of one consumer.
pub(crate) struct Claims {
    pub(crate) shared: MergeShared,
    state: Mutex<State>,
}

/// The queue a polled message came from (topic without namespace, as the raw consumer returns it).
pub(crate) fn queue_of(m: &MessageExt) -> MessageQueue {
    MessageQueue::from_parts(m.topic().clone(), m.broker_name.clone(), m.queue_id())
}

impl Claims {
    pub(crate) fn new(shared: MergeShared) -> Self {
        Claims {
            shared,
            state: Mutex::new(State::default()),
        }
    }

    fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Sort what `cluster` returned into what poll returns; parks what must wait.
    pub(crate) fn admit(
        &self,
        cluster: Cluster,
        msgs: Vec<Arc<MessageExt>>,
        auto_commit: bool,
    ) -> Vec<Arc<MessageExt>> {
        Counters::add(&self.counters().received[cluster.index()], msgs.len());
        self.shared
            .topics
            .received(cluster, msgs.iter().map(|m| m.as_ref()));
        if let Some(m) = msgs.first() {
            self.shared.activity.delivered(cluster, m.topic().as_str());
        }
        let mut st = self.state.lock();
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            let q = (cluster, queue_of(&m));
            let off = m.queue_offset();
            let to = st.polled_to.entry(q.clone()).or_insert(0);
            *to = (*to).max(off + 1);
            let done = st.done_to.entry(q.clone()).or_insert(0);
            *done = (*done).max(off + 1);
            if let Some(until) = st.replay_until.get(&q).copied() {
                if off < until {
                    out.push(m);
                    continue;
                }
                st.replay_until.remove(&q);
            }
            if self.decide(&mut st, cluster, q, m.clone(), auto_commit) {
                out.push(m);
            }
        }
        Counters::add(&self.counters().delivered[cluster.index()], out.len());
        out
    }

    /// Try the parked messages again; returns those that may now be returned.
    pub(crate) fn retry_parked(&self, auto_commit: bool) -> Vec<(Cluster, Arc<MessageExt>)> {
        let mut st = self.state.lock();
        let parked = std::mem::take(&mut st.parked);
        let mut out = Vec::new();
        for (c, m) in parked {
            let q = (c, queue_of(&m));
            // `decide` parks it again when it still has to wait.
            if self.decide(&mut st, c, q, m.clone(), auto_commit) {
                Counters::add(&self.counters().delivered[c.index()], 1);
                out.push((c, m));
            }
        }
        out
    }

    /// Whether `m` is returned now. Parks it when its key is in flight elsewhere or the store cannot answer.
    fn decide(
        &self,
        st: &mut State,
        cluster: Cluster,
        q: QueueKey,
        m: Arc<MessageExt>,
        auto_commit: bool,
    ) -> bool {
        let Some(dedupe) = self.shared.dedupe.as_deref() else {
            return true;
        };
        let Some(key) = self.shared.key.key_ref(&m) else {
            return true;
        };
        let topic = m.topic().as_str();
        match dedupe.begin(topic, &key) {
            Begin::Proceed => {
                if auto_commit {
                    dedupe.commit(topic, &key);
                } else {
                    st.pending.entry(q).or_default().push(Pending {
                        offset: m.queue_offset(),
                        topic: topic.to_owned(),
                        key: key.into_owned(),
                    });
                }
                true
            }
            Begin::Duplicate => {
                Counters::add(&self.counters().duplicates[cluster.index()], 1);
                self.shared.topics.duplicate(cluster, &m);
                tracing::debug!(key = %key, broker = %m.broker_name, "duplicate suppressed");
                false
            }
            Begin::InFlight => {
                Counters::add(&self.counters().in_flight, 1);
                st.parked.push_back((cluster, m.clone()));
                false
            }
            Begin::Unavailable => {
                Counters::add(&self.counters().unavailable, 1);
                tracing::debug!(key = %key, broker = %m.broker_name, "dedupe store unavailable: message parked");
                st.parked.push_back((cluster, m.clone()));
                false
            }
        }
    }

    /// Commit the claimed keys of `cluster`'s queues that `covers(queue, offset)` selects. Returns the offset
    /// each queue of `cluster` may be committed to: past what poll returned or suppressed, but never past a
    /// parked message.
    pub(crate) fn commit(
        &self,
        cluster: Cluster,
        covers: impl Fn(&MessageQueue, i64) -> bool,
    ) -> HashMap<MessageQueue, i64> {
        let mut st = self.state.lock();
        if let Some(dedupe) = self.shared.dedupe.as_deref() {
            for ((c, q), list) in st.pending.iter_mut() {
                if *c != cluster {
                    continue;
                }
                list.retain(|p| {
                    if covers(q, p.offset) {
                        dedupe.commit(&p.topic, &p.key);
                        false
                    } else {
                        true
                    }
                });
            }
            st.pending.retain(|_, l| !l.is_empty());
        }
        let mut offsets: HashMap<MessageQueue, i64> = st
            .done_to
            .iter()
            .filter(|((c, _), _)| *c == cluster)
            .map(|((_, q), o)| (q.clone(), *o))
            .collect();
        for (c, m) in &st.parked {
            if *c == cluster {
                let e = offsets.entry(queue_of(m)).or_insert(i64::MAX);
                *e = (*e).min(m.queue_offset());
            }
        }
        offsets
    }

    /// A seek on `cluster`'s `mq` to `offset`: what was polled below the previous position is replayed without the
    /// dedupe check; parked messages of the queue are dropped (a seek back polls them again; a seek forward skips
    /// them, as the application asked); a commit of the queue moves to `offset` until poll passes it.
    pub(crate) fn seeked(&self, cluster: Cluster, mq: &MessageQueue, offset: i64) {
        let mut st = self.state.lock();
        let q = (cluster, mq.clone());
        if let Some(to) = st.polled_to.get(&q).copied() {
            st.replay_until.insert(q.clone(), to);
        }
        st.done_to.insert(q, offset);
        st.parked
            .retain(|(c, m)| !(*c == cluster && queue_of(m) == *mq));
    }

    /// Drop every uncommitted claim (the keys are released so a redelivery is consumed again): used at shutdown
    /// without commit.
    pub(crate) fn abort_pending(&self) {
        let mut st = self.state.lock();
        if let Some(dedupe) = self.shared.dedupe.as_deref() {
            for list in st.pending.values() {
                for p in list {
                    dedupe.abort(&p.topic, &p.key);
                }
            }
        }
        st.pending.clear();
        st.parked.clear();
    }
}
