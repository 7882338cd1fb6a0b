//! Bringing one cluster's raw consumer's subscriptions in line with what it should read (both consumers): what is
//! no longer wanted is unsubscribed, what is new or changed is subscribed.

use std::collections::BTreeMap;

use rocketmq_client_rust::{ClientResult, DefaultLitePullConsumer, DefaultMQPushConsumer};

use rocketmq_model::common::message::message_queue::MessageQueue;

use super::side::Side;
use crate::cluster::Cluster;
use crate::error::{ErrorKind, MigrationError};
use crate::reads::{self, Sub, VERIFY_TIMEOUT};

/// The subscribe calls of a raw consumer, as [`sync`] makes them.
#[allow(async_fn_in_trait)]
pub(crate) trait RawSubscriber {
    /// Subscribe `topic` as `sub` says.
    async fn subscribe_to(&mut self, topic: &str, sub: &Sub) -> ClientResult<()>;
    /// Stop reading `topic`.
    async fn unsubscribe_from(&mut self, topic: &str);
    /// `topic`'s queues on this consumer's cluster, from its name server.
    async fn route_queues(&mut self, topic: &str) -> ClientResult<Vec<MessageQueue>>;
}

impl RawSubscriber for DefaultMQPushConsumer {
    async fn subscribe_to(&mut self, topic: &str, sub: &Sub) -> ClientResult<()> {
        match sub {
            Sub::Expression(e) => {
                self.subscribe(topic, reads::tag_expression(e).as_ref())
                    .await
            }
            Sub::Selector(s) => self.subscribe_with_selector(topic, s.clone()).await,
        }
    }

    async fn unsubscribe_from(&mut self, topic: &str) {
        self.unsubscribe(topic).await
    }

    async fn route_queues(&mut self, topic: &str) -> ClientResult<Vec<MessageQueue>> {
        self.fetch_subscribe_message_queues(topic).await
    }
}

impl RawSubscriber for DefaultLitePullConsumer {
    async fn subscribe_to(&mut self, topic: &str, sub: &Sub) -> ClientResult<()> {
        match sub {
            Sub::Expression(e) => {
                self.subscribe_with_expression(topic, &reads::tag_expression(e))
                    .await
            }
            Sub::Selector(s) => self.subscribe_with_selector(topic, s.clone()).await,
        }
    }

    async fn unsubscribe_from(&mut self, topic: &str) {
        self.unsubscribe(topic).await
    }

    async fn route_queues(&mut self, topic: &str) -> ClientResult<Vec<MessageQueue>> {
        self.fetch_message_queues(topic).await
    }
}
/// Bring `side`'s subscriptions in line with `want` (a topic dropped is no longer verified either). Logged as
/// `group`'s client of `cluster`. A failed subscribe ends the pass with a [`ErrorKind::Subscribe`] error naming
/// the topic; what was done before it stays done (and recorded), the rest is tried again at the next pass.
pub(crate) async fn sync<R: RawSubscriber>(
    side: &mut Side<R>,
    want: BTreeMap<String, Sub>,
    (group, cluster): (&str, Cluster),
) -> Result<(), MigrationError> {
    let Side {
        consumer,
        topics,
        verified,
        ..
    } = side;
    let stale: Vec<String> = topics
        .keys()
        .filter(|t| !want.contains_key(*t))
        .cloned()
        .collect();
    for topic in stale {
        consumer.unsubscribe_from(&topic).await;
        topics.remove(&topic);
        verified.remove(&topic);
        tracing::info!(group, %cluster, topic, "unsubscribed");
    }
    for (topic, sub) in want {
        if topics.get(&topic) != Some(&sub) {
            if let Err(e) = consumer.subscribe_to(&topic, &sub).await {
                let context = format!("subscribe {topic}");
                return Err(
                    MigrationError::new(ErrorKind::Subscribe, Some(cluster), context)
                        .with_source(e),
                );
            }
            tracing::info!(group, %cluster, topic, "subscribed");
            topics.insert(topic, sub);
        }
    }
    Ok(())
}

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
