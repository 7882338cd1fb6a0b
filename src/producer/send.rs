//! The send methods of `DefaultMQProducer` 1.0.0, same names and signatures, routed by phase.

use std::future::Future;
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    ArcSendCallback, ClientError, ClientResult, DefaultMQProducer, SendResult,
};
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

use super::core::Core;
use super::payload::{Batch, BoxedCallback, OnSent, Payload};
use super::MigratingProducer;
use crate::client::dispatch::{dispatch_on, FailoverPolicy, Planned};
use crate::client::timed::timeout_twins;
use crate::client::writes::prepare;
use crate::cluster::Cluster;

fn runtime_handle() -> ClientResult<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current().map_err(|_| {
        ClientError::invalid_state("called inside a Tokio runtime", "no Tokio runtime")
    })
}

/// A callback that counts the outcome of the `planned` send on its topic and cluster and ends the send's flight
/// before calling `f`.
pub(super) fn counting<F>(
    planned: Planned,
    f: F,
) -> impl Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static
where
    F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
{
    let finish = planned.finish_once();
    move |r, e| {
        finish(e.is_none());
        f(r, e)
    }
}

pub(super) fn to_callback(
    cb: Option<ArcSendCallback>,
) -> impl Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static {
    move |r, e| {
        if let Some(cb) = &cb {
            match (r, e) {
                (Some(r), _) => cb.on_success(r),
                (_, Some(e)) => cb.on_exception(e),
                _ => {}
            }
        }
    }
}

impl MigratingProducer {
    /// Route one prepared message by its topic's phase, with failover where the phase allows.
    fn routed<R, F, Fut>(
        &self,
        msg: Message,
        retry_on_timeout: bool,
        op: F,
    ) -> impl Future<Output = ClientResult<R>> + use<'_, R, F, Fut>
    where
        F: Fn(DefaultMQProducer, Message) -> Fut,
        Fut: Future<Output = ClientResult<R>>,
    {
        let planned = self.core.writes.plan(msg.topic());
        self.run_planned(planned, msg, retry_on_timeout, op)
    }

    /// Run `op` with `payload` on the `planned` send's first cluster, and once more with a copy on the other
    /// cluster where the phase allows (after a timeout too when `retry_on_timeout`).
    async fn run_planned<P, R, F, Fut>(
        &self,
        planned: Planned,
        payload: P,
        retry_on_timeout: bool,
        op: F,
    ) -> ClientResult<R>
    where
        P: Clone,
        F: Fn(DefaultMQProducer, P) -> Fut,
        Fut: Future<Output = ClientResult<R>>,
    {
        let spare = planned.spare(&payload);
        let route = planned.route(FailoverPolicy::plain(retry_on_timeout));
        self.core.dispatch(route, payload, spare, op).await
    }

    /// Benchmark hook, not API: the whole path of [`Self::send`] (key stamp, routing, the send's flight, the
    /// failover copy where the phase allows, counting) with the raw client's call left out; the answer is the
    /// cluster the send was routed to. Needs no started client. For `benches/send_path.rs`.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub async fn send_path_without_client<M: MessageTrait>(&self, msg: M) -> ClientResult<Cluster> {
        let msg = prepare(msg);
        let planned = self.core.writes.plan(msg.topic());
        let spare = planned.spare(&msg);
        let route = planned.route(FailoverPolicy::plain(true));
        let no_client = |c| std::future::ready(Ok::<Cluster, ClientError>(c));
        dispatch_on(route, msg, spare, no_client, |c, m| {
            drop(m);
            std::future::ready(Ok(c))
        })
        .await
    }

    /// A send on `topic` to the cluster that owns `mq`'s broker (queue-addressed sends never fail over: the
    /// queue exists on one cluster only).
    async fn queue_plan(&self, topic: &CheetahString, mq: &MessageQueue) -> ClientResult<Planned> {
        let (state, flight) = self.core.writes.route(topic.as_str());
        let cluster = self.core.owner_of(&state, mq).await?;
        Ok(Planned::new(state, cluster, flight))
    }

    /// A queue-addressed send's plan and the started client of its cluster.
    async fn queue_client(
        &self,
        topic: &CheetahString,
        mq: &MessageQueue,
    ) -> ClientResult<(Planned, DefaultMQProducer)> {
        let planned = self.queue_plan(topic, mq).await?;
        let p = self.core.client(planned.first).await?;
        Ok((planned, p))
    }

    /// Run a failover-capable send in the background and report its outcome to `f`, like an async send.
    pub(super) fn spawn_routed<P, F, Op, Fut>(
        &self,
        planned: Planned,
        payload: P,
        spare: Option<P>,
        op: Op,
        f: F,
    ) -> ClientResult<()>
    where
        P: Send + 'static,
        F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
        Op: Fn(DefaultMQProducer, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ClientResult<Option<SendResult>>> + Send,
    {
        let handle = runtime_handle()?;
        let core: Arc<Core> = self.core.clone();
        handle.spawn(async move {
            let r = core
                .dispatch(
                    planned.route(FailoverPolicy::plain(true)),
                    payload,
                    spare,
                    op,
                )
                .await;
            drop(planned);
            match r {
                Ok(Some(sr)) => f(Some(&sr), None),
                Ok(None) => f(None, None),
                Err(e) => f(None, Some(&e)),
            }
        });
        Ok(())
    }

    /// A callback send as `planned`: where the phase cannot fail over, `direct` hands the payload and a counting
    /// callback to the raw client's callback send; elsewhere `routed` runs in the background with one failover
    /// (see [`Self::spawn_routed`]) and reports to `f`.
    async fn callback_routed<P, D, DFut, Op, Fut, F>(
        &self,
        planned: Planned,
        payload: P,
        direct: D,
        routed: Op,
        f: F,
    ) -> ClientResult<()>
    where
        P: Clone + Send + 'static,
        D: FnOnce(DefaultMQProducer, P, BoxedCallback) -> DFut,
        DFut: Future<Output = ClientResult<()>>,
        Op: Fn(DefaultMQProducer, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ClientResult<Option<SendResult>>> + Send,
        F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
    {
        if !planned.state.allows_failover() {
            let p = self.core.client(planned.first).await?;
            return direct(p, payload, Box::new(counting(planned, f))).await;
        }
        let spare = Some(payload.clone());
        self.spawn_routed(planned, payload, spare, routed, f)
    }

    /// Send and wait for the result, as `DefaultMQProducer::send`.
    pub async fn send<M>(&self, msg: M) -> ClientResult<Option<SendResult>>
    where
        M: MessageTrait + Send + Sync,
    {
        self.routed(prepare(msg), true, |p, m| async move { p.send(m).await })
            .await
    }

    // Not a `timeout_twins!` entry with `send`: the raw `send_with_timeout` future nests 12 levels deeper than the
    // raw `send`, and one future holding either would give `send` that depth too (see `tests/type_depth.rs`).
    /// Send with a timeout in milliseconds, as `DefaultMQProducer::send_with_timeout`.
    pub async fn send_with_timeout<M>(
        &self,
        msg: M,
        timeout: u64,
    ) -> ClientResult<Option<SendResult>>
    where
        M: MessageTrait + Send + Sync,
    {
        self.routed(prepare(msg), true, |p, m| async move {
            p.send_with_timeout(m, timeout).await
        })
        .await
    }

    timeout_twins! {
        /// Send asynchronously and report to `send_callback`, as `DefaultMQProducer::send_with_callback`.
        ///
        /// In phases with failover the send (and its one retry on the other cluster) runs as a background task.
        send_with_callback<M, F> / send_with_callback_timeout<F, M>(msg: M, send_callback: F) -> ClientResult<()>
        where {
            M: MessageTrait + Send + Sync,
            F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
        }
        => callback_send(prepare(msg), send_callback);

        /// Send to a queue, as `DefaultMQProducer::send_to_queue`. The queue's broker decides the cluster; no
        /// failover (the queue exists on one cluster only).
        send_to_queue<M> / send_to_queue_with_timeout<M>(msg: M, mq: MessageQueue)
            -> ClientResult<Option<SendResult>>
        where { M: MessageTrait + Send + Sync }
        => to_queue(prepare(msg), mq);

        /// As `DefaultMQProducer::send_to_queue_with_callback`; the queue's broker decides the cluster.
        send_to_queue_with_callback<M, F> / send_to_queue_with_callback_timeout<M, F>
            (msg: M, mq: MessageQueue, send_callback: F) -> ClientResult<()>
        where {
            M: MessageTrait + Send + Sync,
            F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
        }
        => queue_callback_send(prepare(msg), mq, send_callback);

        /// As `DefaultMQProducer::send_batch_to_queue`; the queue's broker decides the cluster.
        send_batch_to_queue<M> / send_batch_to_queue_with_timeout<M>(msgs: Vec<M>, mq: MessageQueue)
            -> ClientResult<SendResult>
        where { M: MessageTrait + Send + Sync }
        => to_queue(Batch::of(msgs), mq);

        /// As `DefaultMQProducer::send_batch_with_callback`; failover phases send in a background task.
        send_batch_with_callback<M, F> / send_batch_with_callback_timeout<M, F>(msgs: Vec<M>, f: F)
            -> ClientResult<()>
        where {
            M: MessageTrait + Send + Sync,
            F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
        }
        => callback_send(Batch::of(msgs), f);

        /// As `DefaultMQProducer::send_batch_to_queue_with_callback`; the queue's broker decides the cluster.
        send_batch_to_queue_with_callback<M, F> / send_batch_to_queue_with_callback_timeout<M, F>
            (msgs: Vec<M>, mq: MessageQueue, f: F) -> ClientResult<()>
        where {
            M: MessageTrait + Send + Sync,
            F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static,
        }
        => queue_callback_send(Batch::of(msgs), mq, f);
    }

    /// Send a batch (one topic), as `DefaultMQProducer::send_batch`. The whole batch goes to one cluster.
    pub async fn send_batch<M>(&self, msgs: Vec<M>) -> ClientResult<SendResult>
    where
        M: MessageTrait + Send + Sync,
    {
        self.batch(msgs, |p, b| b.send(p)).await
    }

    // Not a `timeout_twins!` entry with `send_batch`, as for `send_with_timeout` (here 4 levels deeper).
    /// As [`Self::send_batch`], with a timeout in milliseconds.
    pub async fn send_batch_with_timeout<M>(
        &self,
        msgs: Vec<M>,
        timeout: u64,
    ) -> ClientResult<SendResult>
    where
        M: MessageTrait + Send + Sync,
    {
        self.batch(msgs, move |p, b| b.send_with_timeout(p, timeout))
            .await
    }

    /// A batch routed by phase, failed over (after a timeout too) where the phase allows; `op` is the raw send.
    fn batch<M, F, Fut>(
        &self,
        msgs: Vec<M>,
        op: F,
    ) -> impl Future<Output = ClientResult<SendResult>> + use<'_, M, F, Fut>
    where
        M: MessageTrait,
        F: Fn(DefaultMQProducer, Batch) -> Fut,
        Fut: Future<Output = ClientResult<SendResult>>,
    {
        let batch = Batch::of(msgs);
        let planned = self.core.writes.plan(batch.topic()).count(batch.count());
        self.run_planned(planned, batch, true, op)
    }

    /// A callback send of `payload` (see [`Self::callback_routed`]).
    async fn callback_send<P, F>(&self, payload: P, f: F, timeout: Option<u64>) -> ClientResult<()>
    where
        P: Payload,
        F: OnSent,
    {
        let planned = self
            .core
            .writes
            .plan(payload.topic())
            .count(payload.count());
        self.callback_routed(
            planned,
            payload,
            move |p, m, cb| m.send_with_callback(p, None, cb, timeout),
            move |p, m| async move {
                let answer = match timeout {
                    Some(t) => m.send_with_timeout(p, t).await,
                    None => m.send(p).await,
                };
                answer.map(Into::into)
            },
            f,
        )
        .await
    }

    /// Send without waiting for a result, as `DefaultMQProducer::send_oneway`. An immediate connection failure
    /// fails over where the phase allows.
    pub async fn send_oneway<M>(&self, msg: M) -> ClientResult<()>
    where
        M: MessageTrait + Send + Sync,
    {
        self.routed(
            prepare(msg),
            true,
            |p, m| async move { p.send_oneway(m).await },
        )
        .await
    }

    /// A waiting send of `payload` to `mq`, on the cluster that owns the queue's broker.
    fn to_queue<P: Payload>(
        &self,
        payload: P,
        mq: MessageQueue,
        timeout: Option<u64>,
    ) -> impl Future<Output = ClientResult<P::Answer>> + use<'_, P> {
        self.queue_send(payload, mq, move |p, m, q| m.send_to_queue(p, q, timeout))
    }

    /// Run `op` with `payload` and `mq` on the cluster that owns the queue's broker (no failover).
    async fn queue_send<P, R, F, Fut>(&self, payload: P, mq: MessageQueue, op: F) -> ClientResult<R>
    where
        P: Payload,
        F: Fn(DefaultMQProducer, P, MessageQueue) -> Fut,
        Fut: Future<Output = ClientResult<R>>,
    {
        let planned = self.queue_plan(payload.topic(), &mq).await?;
        let planned = planned.count(payload.count());
        self.core
            .dispatch(
                planned.route(FailoverPolicy::plain(false)),
                (payload, mq),
                None,
                |p, (m, q)| op(p, m, q),
            )
            .await
    }

    /// A callback send of `payload` to `mq`, on the cluster that owns the queue's broker.
    async fn queue_callback_send<P, F>(
        &self,
        payload: P,
        mq: MessageQueue,
        f: F,
        timeout: Option<u64>,
    ) -> ClientResult<()>
    where
        P: Payload,
        F: OnSent,
    {
        let (planned, p) = self.queue_client(payload.topic(), &mq).await?;
        let cb = counting(planned.count(payload.count()), f);
        payload
            .send_with_callback(p, Some(mq), Box::new(cb), timeout)
            .await
    }

    /// As `DefaultMQProducer::send_oneway_to_queue`; the queue's broker decides the cluster.
    pub async fn send_oneway_to_queue<M>(&self, msg: M, mq: MessageQueue) -> ClientResult<()>
    where
        M: MessageTrait + Send + Sync,
    {
        self.queue_send(prepare(msg), mq, |p, m, q| async move {
            p.send_oneway_to_queue(m, q).await
        })
        .await
    }

    /// Request/reply, as `DefaultMQProducer::request`. Fails over only when the first cluster was unreachable
    /// (a timed-out request may have been answered, and its copy would be suppressed as a duplicate).
    pub async fn request<M>(
        &self,
        msg: M,
        timeout: u64,
    ) -> ClientResult<Box<dyn MessageTrait + Send>>
    where
        M: MessageTrait + Send + Sync,
    {
        self.routed(prepare(msg), false, |p, m| async move {
            p.request(m, timeout).await
        })
        .await
    }

    /// As `DefaultMQProducer::request_with_callback`, routed by phase (no failover).
    pub async fn request_with_callback<F, M>(
        &self,
        msg: M,
        request_callback: F,
        timeout: u64,
    ) -> ClientResult<()>
    where
        F: Fn(Option<&dyn MessageTrait>, Option<&ClientError>) + Send + Sync + 'static,
        M: MessageTrait + Send + Sync,
    {
        let msg = prepare(msg);
        let planned = self.core.writes.plan(msg.topic());
        let p = self.core.client(planned.first).await?;
        let finish = planned.finish_once();
        let counted = move |reply: Option<&dyn MessageTrait>, e: Option<&ClientError>| {
            finish(e.is_none());
            request_callback(reply, e)
        };
        p.request_with_callback(msg, counted, timeout).await
    }

    /// The publish queues of `topic` on every cluster the topic's phase writes to (both in `DualReadWrite`).
    /// Queue-addressed sends with any of them go to the cluster that owns the queue's broker.
    pub async fn fetch_publish_message_queues(
        &mut self,
        topic: &str,
    ) -> ClientResult<Vec<MessageQueue>> {
        let state = self.core.writes.state_of(topic);
        let clusters: &[Cluster] = match state.phase.write_plan() {
            crate::WritePlan::Source => &[Cluster::Source],
            crate::WritePlan::Target => &[Cluster::Target],
            crate::WritePlan::Split => &Cluster::BOTH,
        };
        let mut all = Vec::new();
        for c in clusters {
            self.core.forget_queues(*c, topic);
            all.extend(self.core.queues(*c, topic).await?.iter().cloned());
        }
        Ok(all)
    }
}
