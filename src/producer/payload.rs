//! What one send carries, one message or a batch of one topic, and the raw client's sends of each kind, so one
//! routing path serves both.

use std::future::Future;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{ClientError, ClientResult, DefaultMQProducer, SendResult};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

use crate::client::writes::prepare;
use crate::dedupe::BATCH_KEY_PROPERTY;

/// A send callback, as the raw client's callback sends take it.
pub(super) trait OnSent:
    Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static
{
}

impl<F> OnSent for F where F: Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static {}

/// A send callback boxed, so one path can serve every callback send.
pub(super) type BoxedCallback =
    Box<dyn Fn(Option<&SendResult>, Option<&ClientError>) + Send + Sync + 'static>;

/// A send's payload: its topic, how many messages a success stands for, and the raw client's sends of it, each
/// with the producer's send timeout (`timeout` `None`) or `timeout` milliseconds.
///
/// The waiting sends are three methods, not one taking an optional queue and timeout: a future holding several raw
/// futures nests as deep as the deepest (the raw `send_with_timeout` nests 12 levels deeper than the raw `send`,
/// `send_batch_with_timeout` 4 deeper than `send_batch`; see `tests/type_depth.rs`), and the application's crate
/// computes that depth. The callback sends share one method: alone in a crate the deepest of them needs 111,
/// below the sends with a timeout (122).
pub(super) trait Payload: Clone + Send + Sync + 'static {
    /// What the raw client's waiting send answers.
    type Answer: Into<Option<SendResult>> + Send;

    /// The topic the payload is sent to.
    fn topic(&self) -> &CheetahString;

    /// The number of messages a success stands for.
    fn count(&self) -> u64;

    /// Send and wait for the answer.
    fn send(self, p: DefaultMQProducer) -> impl Future<Output = ClientResult<Self::Answer>> + Send;

    /// Send and wait for the answer at most `timeout` milliseconds.
    fn send_with_timeout(
        self,
        p: DefaultMQProducer,
        timeout: u64,
    ) -> impl Future<Output = ClientResult<Self::Answer>> + Send;

    /// Send to `mq` and wait for the answer.
    fn send_to_queue(
        self,
        p: DefaultMQProducer,
        mq: MessageQueue,
        timeout: Option<u64>,
    ) -> impl Future<Output = ClientResult<Self::Answer>> + Send;

    /// Send (to `to`, where given) and report to `cb`.
    fn send_with_callback(
        self,
        p: DefaultMQProducer,
        to: Option<MessageQueue>,
        cb: BoxedCallback,
        timeout: Option<u64>,
    ) -> impl Future<Output = ClientResult<()>> + Send;
}

/// The messages of one batch send, prepared, and their topic (the first message's; the raw client refuses a batch
/// of several topics).
#[derive(Clone)]
pub(super) struct Batch {
    topic: CheetahString,
    msgs: Vec<Message>,
}

impl Batch {
    /// As [`prepare`] for each message, plus a copy of its key in [`BATCH_KEY_PROPERTY`]: the broker stores every
    /// message of a batch under the batch's `UNIQ_KEY`, and dedupe needs each message's own.
    pub(super) fn of<M: MessageTrait>(msgs: Vec<M>) -> Self {
        let msgs: Vec<Message> = msgs
            .into_iter()
            .map(|m| {
                let mut m = prepare(m);
                if let Some(key) = MessageClientIDSetter::get_uniq_id(&m) {
                    m.put_property(CheetahString::from_static_str(BATCH_KEY_PROPERTY), key);
                }
                m
            })
            .collect();
        let topic = msgs.first().map(|m| m.topic().clone()).unwrap_or_default();
        Batch { topic, msgs }
    }
}

/// `impl Payload for <type>`: `topic`, `count` and `raw` say what the payload `p` is sent to, stands for and hands
/// the raw client; then the raw client's eight sends of the type, each without and with a timeout: waiting, to a
/// queue, with a callback, to a queue with a callback. The raw client names its batch sends apart, so the two
/// impls differ only in these names.
macro_rules! raw_sends {
    (
        $ty:ty => $answer:ty,
        topic: |$tp:ident| $topic:expr, count: |$cp:ident| $count:expr, raw: |$p:ident| $raw:expr,
        [$send:ident, $send_t:ident, $q:ident, $q_t:ident],
        [$cb:ident, $cb_t:ident, $qcb:ident, $qcb_t:ident]
    ) => {
        impl Payload for $ty {
            type Answer = $answer;

            fn topic(&self) -> &CheetahString {
                let $tp = self;
                $topic
            }

            fn count(&self) -> u64 {
                let $cp = self;
                $count
            }

            async fn send(self, p: DefaultMQProducer) -> ClientResult<$answer> {
                let $p = self;
                p.$send($raw).await
            }

            async fn send_with_timeout(
                self,
                p: DefaultMQProducer,
                timeout: u64,
            ) -> ClientResult<$answer> {
                let $p = self;
                p.$send_t($raw, timeout).await
            }

            async fn send_to_queue(
                self,
                p: DefaultMQProducer,
                mq: MessageQueue,
                timeout: Option<u64>,
            ) -> ClientResult<$answer> {
                let $p = self;
                match timeout {
                    Some(t) => p.$q_t($raw, mq, t).await,
                    None => p.$q($raw, mq).await,
                }
            }

            async fn send_with_callback(
                self,
                p: DefaultMQProducer,
                to: Option<MessageQueue>,
                cb: BoxedCallback,
                timeout: Option<u64>,
            ) -> ClientResult<()> {
                let $p = self;
                match (to, timeout) {
                    (None, None) => p.$cb($raw, cb).await,
                    (None, Some(t)) => p.$cb_t($raw, cb, t).await,
                    (Some(mq), None) => p.$qcb($raw, mq, cb).await,
                    (Some(mq), Some(t)) => p.$qcb_t($raw, mq, cb, t).await,
                }
            }
        }
    };
}

raw_sends! {
    Message => Option<SendResult>,
    topic: |m| MessageTrait::topic(m), count: |_m| 1, raw: |m| m,
    [send, send_with_timeout, send_to_queue, send_to_queue_with_timeout],
    [send_with_callback, send_with_callback_timeout, send_to_queue_with_callback, send_to_queue_with_callback_timeout]
}

raw_sends! {
    Batch => SendResult,
    topic: |b| &b.topic, count: |b| b.msgs.len() as u64, raw: |b| b.msgs,
    [send_batch, send_batch_with_timeout, send_batch_to_queue, send_batch_to_queue_with_timeout],
    [
        send_batch_with_callback, send_batch_with_callback_timeout,
        send_batch_to_queue_with_callback, send_batch_to_queue_with_callback_timeout
    ]
}
