//! The subscribe calls of both raw consumers ([`RawSubscriber`]), through which a [`super::side::Side`] changes
//! what it reads, and the route check that tells whether a cluster can really read a topic ([`verify`]).

use rocketmq_client_rust::{ClientResult, DefaultLitePullConsumer, DefaultMQPushConsumer};

use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::cluster::Cluster;
use crate::reads::{self, Sub, VERIFY_TIMEOUT};

/// The subscribe calls of a raw consumer, as [`Side::sync`](super::side::Side::sync) makes them, and its route
/// lookup, as [`verify`] makes it.
#[allow(async_fn_in_trait)]
pub(crate) trait RawSubscriber {
    /// Subscribe `topic` as `sub` says.
    async fn subscribe_to(&mut self, topic: &str, sub: &Sub) -> ClientResult<()>;
    /// Stop reading `topic`.
    async fn unsubscribe_from(&mut self, topic: &str);
    /// `topic`'s queues on this consumer's cluster, from its name server.
    async fn route_queues(&mut self, topic: &str) -> ClientResult<Vec<MessageQueue>>;
}

/// [`RawSubscriber`] for a raw consumer type whose tag-expression subscribe is `$subscribe` and whose route lookup
/// is `$route` (the two raw consumers name them differently; the rest is the same).
macro_rules! raw_subscriber {
    ($raw:ty, $subscribe:ident, $route:ident) => {
        impl RawSubscriber for $raw {
            async fn subscribe_to(&mut self, topic: &str, sub: &Sub) -> ClientResult<()> {
                match sub {
                    Sub::Expression(e) => self.$subscribe(topic, &*reads::tag_expression(e)).await,
                    Sub::Selector(s) => self.subscribe_with_selector(topic, s.clone()).await,
                }
            }

            async fn unsubscribe_from(&mut self, topic: &str) {
                self.unsubscribe(topic).await
            }

            async fn route_queues(&mut self, topic: &str) -> ClientResult<Vec<MessageQueue>> {
                self.$route(topic).await
            }
        }
    };
}

raw_subscriber!(
    DefaultMQPushConsumer,
    subscribe,
    fetch_subscribe_message_queues
);
raw_subscriber!(
    DefaultLitePullConsumer,
    subscribe_with_expression,
    fetch_message_queues
);

/// `topic`'s queues on `consumer`'s cluster, when its name server answers with some within [`VERIFY_TIMEOUT`]:
/// only then can the cluster really read the topic. Otherwise `None`, with a WARN saying why (logged as
/// `group`'s client of `cluster`): the topic's new phase is not reported as applied until a later pass succeeds.
pub(crate) async fn verify<C: RawSubscriber>(
    consumer: &mut C,
    topic: &str,
    (group, cluster): (&str, Cluster),
) -> Option<Vec<MessageQueue>> {
    match tokio::time::timeout(VERIFY_TIMEOUT, consumer.route_queues(topic)).await {
        Ok(Ok(qs)) if !qs.is_empty() => return Some(qs),
        Ok(Ok(_)) => tracing::warn!(group, %cluster, topic,
            "topic has no queues on this cluster yet; not reporting the new phase as applied"),
        Ok(Err(e)) => tracing::warn!(group, %cluster, topic, error = ?e,
            "cannot read the topic's route on this cluster; not reporting the new phase as applied"),
        Err(_) => tracing::warn!(group, %cluster, topic,
            "route lookup timed out on this cluster; not reporting the new phase as applied"),
    }
    None
}
