//! Selector sends: the application's selector picks the queue; in `DualReadWrite` it also picks the cluster.
//!
//! Key stickiness keeps the signatures of `DefaultMQProducer` (the argument `T` has no `Hash` bound): the
//! selector is first asked to choose among 10 000 placeholder queues, and the chosen index is the key's bucket.
//! A hash selector (`SelectMessageQueueByHash`, or any `hash(arg) % len`) gives one bucket per key, so one key
//! stays on one cluster while the ratio holds. Then the selector picks the real queue from that cluster's list.

use std::future::Future;
use std::sync::Arc;

use cheetah_string::CheetahString;

use rocketmq_client_rust::{
    ArcSendCallback, ClientError, ClientResult, DefaultMQProducer, SendResult,
};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

use super::core::Core;
use super::payload::Payload;
use super::send::{counting, to_callback as selector_callback};
use super::MigratingProducer;
use crate::client::dispatch::{FailoverPolicy, Planned, Route};
use crate::client::flight::Flight;
use crate::client::timed::timeout_twins;
use crate::cluster::Cluster;
use crate::topic_state::TopicState;

/// Stamp the UNIQ_KEY (kept if set) and read the topic's state from one snapshot; the guard counts the send as
/// running until dropped.
fn stamp_and_plan<M: MessageTrait>(
    msg: &mut M,
    core: &Core,
) -> (CheetahString, TopicState, Flight) {
    MessageClientIDSetter::set_uniq_id(msg);
    let topic = msg.topic().clone();
    let (state, flight) = core.writes.route(topic.as_str());
    (topic, state, flight)
}

/// A message bound for one queue.
type QueueSend = (Message, MessageQueue);

/// The first cluster, its send, and the send for the other cluster when there is one.
type Picked = (Cluster, QueueSend, Option<QueueSend>);

impl MigratingProducer {
    /// The failover path of a selector send (`flight`): the first cluster and the payload for it, and the payload
    /// for the other cluster when the selector found a queue there. Decides from `state`, the operation's one
    /// snapshot.
    async fn pick<M, S, T>(
        &self,
        flight: &Flight,
        state: &TopicState,
        msg: M,
        selector: &S,
        arg: &T,
    ) -> ClientResult<Picked>
    where
        M: MessageTrait,
        S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue>,
    {
        let (first, mut picked) = self.core.select(flight, state, &msg, selector, arg).await?;
        let spare_mq = picked[first.other().index()].take();
        let mq = picked[first.index()]
            .take()
            .ok_or_else(|| ClientError::illegal_argument("selector chose no queue"))?;
        let m = msg.into_message();
        let spare = spare_mq.map(|q| (m.clone(), q));
        Ok((first, (m, mq), spare))
    }

    timeout_twins! {
        /// Send with a queue selector, as `DefaultMQProducer::send_with_selector`. In `DualReadWrite` the cluster
        /// is key-sticky (see the module docs); failover goes to the queue the selector picks on the other cluster.
        send_with_selector<M, S, T> / send_with_selector_timeout<M, S, T>(msg: M, selector: S, arg: T)
            -> ClientResult<Option<SendResult>>
        where {
            M: MessageTrait + Send + Sync,
            S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue> + Send + Sync,
            T: Send + Sync,
        }
        => selector_send(msg, selector, arg);
    }

    async fn selector_send<M, S, T>(
        &self,
        msg: M,
        selector: S,
        arg: T,
        timeout: Option<u64>,
    ) -> ClientResult<Option<SendResult>>
    where
        M: MessageTrait + Send + Sync,
        S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue> + Send + Sync,
        T: Send + Sync,
    {
        self.selector_routed(
            msg,
            selector,
            arg,
            |p, (m, s, a)| async move {
                match timeout {
                    Some(t) => p.send_with_selector_timeout(m, s, a, t).await,
                    None => p.send_with_selector(m, s, a).await,
                }
            },
            |p, (m, q): QueueSend| m.send_to_queue(p, q, timeout),
        )
        .await
    }

    /// A selector send: where the phase cannot fail over, `keyed` sends with the application's selector on the
    /// key's cluster; elsewhere the selector picks a queue on each cluster and `queued` sends to the first one,
    /// failing over to the other.
    async fn selector_routed<M, S, T, R, K, KFut, Q, QFut>(
        &self,
        mut msg: M,
        selector: S,
        arg: T,
        keyed: K,
        queued: Q,
    ) -> ClientResult<R>
    where
        M: MessageTrait,
        S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue>,
        K: Fn(DefaultMQProducer, (M, S, T)) -> KFut,
        KFut: Future<Output = ClientResult<R>>,
        Q: Fn(DefaultMQProducer, QueueSend) -> QFut,
        QFut: Future<Output = ClientResult<R>>,
    {
        let (_, state, flight) = stamp_and_plan(&mut msg, &self.core);
        if !state.allows_failover() {
            let route = Route::new(
                &flight,
                state,
                state.keyed_cluster(),
                FailoverPolicy::plain(false),
            );
            return self
                .core
                .dispatch(route, (msg, selector, arg), None, keyed)
                .await;
        }
        let (first, payload, spare) = self.pick(&flight, &state, msg, &selector, &arg).await?;
        let route = Route::new(&flight, state, first, FailoverPolicy::plain(true));
        self.core.dispatch(route, payload, spare, queued).await
    }

    timeout_twins! {
        /// As `DefaultMQProducer::send_with_selector_callback`; in failover phases the send runs in the
        /// background. The twin with a timeout needs `'static` selector and argument types, as the raw one does.
        send_with_selector_callback<M, S, T> / send_with_selector_callback_timeout<M, S, T>
            (msg: M, selector: S, arg: T, send_callback: Option<ArcSendCallback>) -> ClientResult<()>
        where {
            M: MessageTrait + Send + Sync,
            S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue> + Send + Sync,
            T: Send + Sync,
        }
        twin where { S: 'static, T: 'static, }
        => selector_callback_send(msg, selector, arg, send_callback);
    }

    async fn selector_callback_send<M, S, T>(
        &self,
        mut msg: M,
        selector: S,
        arg: T,
        send_callback: Option<ArcSendCallback>,
        timeout: Option<u64>,
    ) -> ClientResult<()>
    where
        M: MessageTrait + Send + Sync,
        S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue> + Send + Sync,
        T: Send + Sync,
    {
        let (topic, state, flight) = stamp_and_plan(&mut msg, &self.core);
        let f = selector_callback(send_callback);
        if !state.allows_failover() {
            let c = state.keyed_cluster();
            let p = self.core.client(c).await?;
            let cb = counting(Planned::new(state, c, flight), f);
            // The raw client's `_timeout` variant needs 'static selector types; route the timeout through the
            // queue-addressed path instead, with the queue the selector picks.
            return match timeout {
                None => {
                    let cb: ArcSendCallback = Arc::new(cb);
                    p.send_with_selector_callback(msg, selector, arg, Some(cb))
                        .await
                }
                Some(t) => {
                    let mq = self
                        .core
                        .queues(c, topic.as_str())
                        .await
                        .map(|list| selector(&list, &msg, &arg))?
                        .ok_or_else(|| ClientError::illegal_argument("selector chose no queue"))?;
                    p.send_to_queue_with_callback_timeout(msg, mq, cb, t).await
                }
            };
        }
        let (first, payload, spare) = self.pick(&flight, &state, msg, &selector, &arg).await?;
        self.spawn_routed(
            Planned::new(state, first, flight),
            payload,
            spare,
            move |p, (m, q): QueueSend| m.send_to_queue(p, q, timeout),
            f,
        )
    }

    /// As `DefaultMQProducer::send_oneway_with_selector`.
    pub async fn send_oneway_with_selector<M, S, T>(
        &self,
        msg: M,
        selector: S,
        arg: T,
    ) -> ClientResult<()>
    where
        M: MessageTrait + Send + Sync,
        S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue> + Send + Sync + 'static,
        T: Send + Sync + 'static,
    {
        self.selector_routed(
            msg,
            selector,
            arg,
            |p, (m, s, a)| async move { p.send_oneway_with_selector(m, s, a).await },
            |p, (m, q)| async move { p.send_oneway_to_queue(m, q).await },
        )
        .await
    }
}
