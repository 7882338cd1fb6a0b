//! The listener each cluster's raw consumer calls: dedupe around the application's listener.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, ConsumeOrderlyContext,
    ConsumeOrderlyStatus, MessageListenerConcurrently, MessageListenerOrderly,
};
use rocketmq_model::common::message::message_ext::MessageExt;

use super::holdback::{Holdback, HOLD_RETRY};
use crate::client::consumer_stats::Counters;
use crate::client::merge::MergeShared;
use crate::cluster::Cluster;
use crate::dedupe::{Begin, Deduplicator};

/// The client unique key property.
const UNIQ_KEY: &str = "UNIQ_KEY";

thread_local! {
    static CONSUMING: Cell<Option<Cluster>> = const { Cell::new(None) };
}

/// The cluster the messages being consumed on this thread came from.
///
/// Inside a listener registered on a [`crate::MigratingPushConsumer`] this is `Some(Source)` or
/// `Some(Target)`; elsewhere `None`. (`MessageExt::broker_name` tells the broker as well.)
///
/// ```
/// assert_eq!(rocketmq_migration::consuming_cluster(), None);
/// ```
pub fn consuming_cluster() -> Option<Cluster> {
    CONSUMING.with(|c| c.get())
}

/// The application's listener, as registered.
#[derive(Clone)]
pub(crate) enum UserListener {
    Concurrently(Arc<dyn MessageListenerConcurrently>),
    Orderly(Arc<dyn MessageListenerOrderly>),
}

impl MergeShared {
    /// The key a retry of `m` is recognised by: the dedupe key, else the client unique key.
    fn retry_key(&self, m: &MessageExt) -> Option<String> {
        self.key
            .key(m)
            .or_else(|| m.properties().get(UNIQ_KEY).map(|k| k.to_string()))
    }

    /// Record how a concurrent listener call on messages from `cluster` ended: a failure sends every message of
    /// the call back as a retry on that cluster; a success settles retries seen again.
    fn record_outcome(&self, cluster: Cluster, msgs: &[&MessageExt], ok: bool) {
        if let Some(m) = msgs.first() {
            self.activity.delivered(cluster, m.topic().as_str());
        }
        let Some(max) = self.retries else { return };
        if ok {
            self.activity.settled(
                cluster,
                msgs.iter()
                    .filter_map(|m| Some((m.topic().as_str(), self.retry_key(m)?))),
            );
        } else {
            self.activity.failed(
                cluster,
                max,
                msgs.iter().filter_map(|m| {
                    Some((m.topic().as_str(), self.retry_key(m)?, m.reconsume_times))
                }),
            );
        }
    }
}

/// Keys begun for one listener call; aborted on drop unless committed (also when the listener panics). The keys
/// are borrowed from the delivered messages, and the first is held inline: a delivery of one message (the push
/// consumer's default batch) allocates nothing here.
struct Claim<'m, 'd> {
    dedupe: &'d dyn Deduplicator,
    /// (topic, key) pairs begun: the first, then the others.
    first: Option<(&'m str, Cow<'m, str>)>,
    rest: Vec<(&'m str, Cow<'m, str>)>,
    done: bool,
}

impl<'m, 'd> Claim<'m, 'd> {
    fn new(dedupe: &'d dyn Deduplicator) -> Self {
        Claim {
            dedupe,
            first: None,
            rest: Vec::new(),
            done: false,
        }
    }

    fn push(&mut self, topic: &'m str, key: Cow<'m, str>) {
        if self.first.is_none() {
            self.first = Some((topic, key));
        } else {
            self.rest.push((topic, key));
        }
    }

    fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.first
            .iter()
            .chain(&self.rest)
            .map(|(t, k)| (*t, k.as_ref()))
    }

    fn finish(mut self, success: bool) {
        for (t, k) in self.keys() {
            if success {
                self.dedupe.commit(t, k);
            } else {
                self.dedupe.abort(t, k);
            }
        }
        self.done = true;
    }
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        if !self.done {
            for (t, k) in self.keys() {
                self.dedupe.abort(t, k);
            }
        }
    }
}

/// Sort a delivery into fresh messages (to consume) and report whether any must be retried later (its key is in
/// flight elsewhere, or the store cannot answer and fails closed). The fresh messages are `msgs` itself, unless
/// some are left out.
fn triage<'a, 'm, 'd>(
    cluster: Cluster,
    shared: &'d MergeShared,
    dedupe: &'d dyn Deduplicator,
    msgs: &'a [&'m MessageExt],
) -> (Cow<'a, [&'m MessageExt]>, Claim<'m, 'd>, bool) {
    // `None` while every message so far is fresh.
    let mut fresh: Option<Vec<&'m MessageExt>> = None;
    let mut claim = Claim::new(dedupe);
    let mut in_flight = false;
    for (i, &m) in msgs.iter().enumerate() {
        let topic = m.topic().as_str();
        let keep = match shared.key.key_ref(m) {
            None => true,
            Some(k) => match dedupe.begin(topic, &k) {
                Begin::Proceed => {
                    claim.push(topic, k);
                    true
                }
                Begin::Duplicate => {
                    Counters::add(&shared.counters.duplicates[cluster.index()], 1);
                    shared.topics.duplicate(cluster, m);
                    tracing::debug!(key = %k, broker = %m.broker_name, "duplicate suppressed");
                    false
                }
                Begin::InFlight => {
                    in_flight = true;
                    false
                }
                Begin::Unavailable => {
                    Counters::add(&shared.counters.unavailable, 1);
                    tracing::debug!(key = %k, broker = %m.broker_name, "dedupe store unavailable: retry later");
                    in_flight = true;
                    false
                }
            },
        };
        match (&mut fresh, keep) {
            (Some(f), true) => f.push(m),
            (None, false) => fresh = Some(msgs[..i].to_vec()),
            _ => {}
        }
    }
    let fresh = fresh.map_or(Cow::Borrowed(msgs), Cow::Owned);
    (fresh, claim, in_flight)
}

pub(crate) struct MergeListener {
    pub(crate) cluster: Cluster,
    pub(crate) shared: Arc<MergeShared>,
    /// The consumer's orderly-cutover hold-back of target messages.
    pub(crate) holdback: Arc<Holdback>,
    pub(crate) user: UserListener,
}

impl MergeListener {
    /// Mark this thread as consuming from this cluster and count the delivery `msgs`, in total and per topic.
    /// `None` when dedupe is off: the whole delivery then goes to the listener and is counted as delivered here.
    fn enter(&self, msgs: &[&MessageExt]) -> (ClusterScope, Option<&dyn Deduplicator>) {
        let scope = ClusterScope::enter(self.cluster);
        let counters = &self.shared.counters;
        let n = msgs.len();
        Counters::add(&counters.received[self.cluster.index()], n);
        self.shared
            .topics
            .received(self.cluster, msgs.iter().copied());
        let dedupe = self.shared.dedupe.as_deref();
        if dedupe.is_none() {
            Counters::add(&counters.delivered[self.cluster.index()], n);
        }
        (scope, dedupe)
    }
}

struct ClusterScope;

impl ClusterScope {
    fn enter(c: Cluster) -> Self {
        CONSUMING.with(|x| x.set(Some(c)));
        ClusterScope
    }
}

impl Drop for ClusterScope {
    fn drop(&mut self) {
        CONSUMING.with(|x| x.set(None));
    }
}

impl MessageListenerConcurrently for MergeListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        ctx: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let UserListener::Concurrently(user) = &self.user else {
            return Ok(ConsumeConcurrentlyStatus::ReconsumeLater);
        };
        let status = self.consume_concurrently(user.as_ref(), msgs, ctx);
        let ok = matches!(status, Ok(ConsumeConcurrentlyStatus::ConsumeSuccess));
        self.shared.record_outcome(self.cluster, msgs, ok);
        status
    }
}

impl MergeListener {
    /// Hand a batch's `fresh` messages to the user's listener through `consume` (with none to hand, the batch
    /// succeeded as `done`), counting them as delivered, and settle `claim` with the outcome (`succeeded` says
    /// which statuses are a success); a failure is counted. Returns the listener's status and whether it succeeded.
    fn consume_fresh<S>(
        &self,
        fresh: &[&MessageExt],
        claim: Claim<'_, '_>,
        done: S,
        succeeded: impl Fn(&S) -> bool,
        consume: impl FnOnce(&[&MessageExt]) -> ClientResult<S>,
    ) -> (ClientResult<S>, bool) {
        let counters = &self.shared.counters;
        let status = if fresh.is_empty() {
            Ok(done)
        } else {
            Counters::add(&counters.delivered[self.cluster.index()], fresh.len());
            consume(fresh)
        };
        let ok = status.as_ref().is_ok_and(&succeeded);
        claim.finish(ok);
        if !ok {
            Counters::add(&counters.failures, 1);
        }
        (status, ok)
    }

    fn consume_concurrently(
        &self,
        user: &dyn MessageListenerConcurrently,
        msgs: &[&MessageExt],
        ctx: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let (_scope, dedupe) = self.enter(msgs);
        let counters = &self.shared.counters;
        let Some(dedupe) = dedupe else {
            return user.consume_message(msgs, ctx);
        };
        let (fresh, claim, in_flight) = triage(self.cluster, &self.shared, dedupe, msgs);
        let (status, ok) = self.consume_fresh(
            &fresh,
            claim,
            ConsumeConcurrentlyStatus::ConsumeSuccess,
            |s| matches!(s, ConsumeConcurrentlyStatus::ConsumeSuccess),
            |fresh| user.consume_message(fresh, ctx),
        );
        if !ok {
            return status;
        }
        if in_flight {
            // Consumed keys are committed, so the redelivery only waits for the in-flight one.
            Counters::add(&counters.in_flight, 1);
            return Ok(ConsumeConcurrentlyStatus::ReconsumeLater);
        }
        status
    }
}

impl MessageListenerOrderly for MergeListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        ctx: &mut ConsumeOrderlyContext,
    ) -> ClientResult<ConsumeOrderlyStatus> {
        let UserListener::Orderly(user) = &self.user else {
            return Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment);
        };
        if self.cluster == Cluster::Target {
            // Order-preserving cutover: an orderly topic's target messages wait for the sealed, drained source.
            // Suspending keeps this batch at the head of its queue; nothing is reordered.
            if let Some(m) = msgs
                .iter()
                .find(|m| self.holdback.holds(m.topic().as_str()))
            {
                Counters::add(&self.shared.counters.held, msgs.len());
                tracing::trace!(topic = %m.topic(), queue = m.queue_id, n = msgs.len(),
                    "target messages held until the source is sealed and drained");
                ctx.set_suspend_current_queue_time_millis(HOLD_RETRY.as_millis() as i64);
                return Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment);
            }
        }
        if let Some(m) = msgs.first() {
            self.shared
                .activity
                .delivered(self.cluster, m.topic().as_str());
        }
        let (_scope, dedupe) = self.enter(msgs);
        let counters = &self.shared.counters;
        let Some(dedupe) = dedupe else {
            return user.consume_message(msgs, ctx);
        };
        let (fresh, claim, in_flight) = triage(self.cluster, &self.shared, dedupe, msgs);
        if in_flight {
            // Keep the queue's order: consume nothing of this batch until the other delivery settles.
            drop(claim);
            Counters::add(&counters.in_flight, 1);
            return Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment);
        }
        #[allow(deprecated)]
        let succeeded = |s: &ConsumeOrderlyStatus| {
            matches!(
                s,
                ConsumeOrderlyStatus::Success | ConsumeOrderlyStatus::Commit
            )
        };
        self.consume_fresh(
            &fresh,
            claim,
            ConsumeOrderlyStatus::Success,
            succeeded,
            |fresh| user.consume_message(fresh, ctx),
        )
        .0
    }
}
