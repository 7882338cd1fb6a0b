//! Queue lists per cluster: which cluster owns a queue, and the selector path of key-sticky sends.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rocketmq_client_rust::{ClientError, ClientResult};
use rocketmq_model::common::message::message_queue::MessageQueue;

use super::core::Core;
use crate::client::flight::Flight;
use crate::cluster::Cluster;
use crate::phase::WritePlan;
use crate::topic_state::{draw, TopicState, STICKY_BUCKETS};

/// Route data older than this is fetched again (the client refreshes its own routes every 30 s).
const QUEUE_TTL: Duration = Duration::from_secs(30);

/// `STICKY_BUCKETS` placeholder queues: the application's selector picks one, and its index is the key's bucket.
static BUCKET_QUEUES: LazyLock<Vec<MessageQueue>> = LazyLock::new(|| {
    (0..STICKY_BUCKETS as i32)
        .map(|i| MessageQueue::from_parts("", "", i))
        .collect()
});

impl Core {
    /// The publish queues of `topic` on `cluster` (cached for 30 s).
    pub(crate) async fn queues(
        &self,
        cluster: Cluster,
        topic: &str,
    ) -> ClientResult<Arc<Vec<MessageQueue>>> {
        let key = (cluster, topic.to_owned());
        if let Some((at, list)) = self.queues.lists.lock().get(&key) {
            if at.elapsed() < QUEUE_TTL {
                return Ok(list.clone());
            }
        }
        let mut p = self.client(cluster).await?;
        let list = Arc::new(p.fetch_publish_message_queues(topic).await?);
        {
            let mut owners = self.queues.owners.lock();
            for mq in list.iter() {
                owners.entry(mq.broker_name().to_string()).or_default()[cluster.index()] = true;
            }
        }
        self.queues
            .lists
            .lock()
            .insert(key, (Instant::now(), list.clone()));
        Ok(list)
    }

    /// Forget cached queues of `topic` on `cluster` (after a failed send to one of them).
    pub(crate) fn forget_queues(&self, cluster: Cluster, topic: &str) {
        self.queues
            .lists
            .lock()
            .remove(&(cluster, topic.to_owned()));
    }

    /// The cluster that owns `mq`'s broker. A broker name known on both clusters goes by the topic's phase.
    pub(crate) async fn owner_of(
        &self,
        state: &TopicState,
        mq: &MessageQueue,
    ) -> ClientResult<Cluster> {
        let broker = mq.broker_name().to_string();
        for refreshed in [false, true] {
            let known = self.queues.owners.lock().get(&broker).copied();
            match known {
                Some([true, false]) => return Ok(Cluster::Source),
                Some([false, true]) => return Ok(Cluster::Target),
                Some([true, true]) => return Ok(state.write_cluster(draw())),
                _ if refreshed => break,
                _ => {
                    for c in Cluster::BOTH {
                        // Contact the target only once the topic is under migration.
                        if c == Cluster::Target && state.phase == crate::Phase::Initial {
                            continue;
                        }
                        self.forget_queues(c, mq.topic_str());
                        if let Err(e) = self.queues(c, mq.topic_str()).await {
                            tracing::debug!(cluster = %c, topic = mq.topic_str(), error = ?e, "queue lookup failed");
                        }
                    }
                }
            }
        }
        Err(ClientError::broker_not_found(&broker))
    }

    /// For a selector send of `flight`'s topic: the first cluster (key-sticky in DualReadWrite) and the queue the
    /// selector picks on each cluster it can use. The first cluster's queue is `None` only if its route could not
    /// be fetched.
    pub(crate) async fn select<M, S, T>(
        &self,
        flight: &Flight,
        state: &TopicState,
        msg: &M,
        selector: &S,
        arg: &T,
    ) -> ClientResult<(Cluster, [Option<MessageQueue>; 2])>
    where
        S: Fn(&[MessageQueue], &M, &T) -> Option<MessageQueue>,
    {
        let topic = flight.topic();
        let first = match state.phase.write_plan() {
            WritePlan::Split => {
                let bucket =
                    selector(&BUCKET_QUEUES, msg, arg).map_or(0, |q| q.queue_id().max(0) as usize);
                state.sticky_cluster(bucket)
            }
            _ => state.write_cluster(0.0),
        };
        let mut picked: [Option<MessageQueue>; 2] = [None, None];
        let mut first_err = None;
        for c in [first, first.other()] {
            match self.queues(c, topic).await {
                Ok(list) if !list.is_empty() => picked[c.index()] = selector(&list, msg, arg),
                Ok(_) => {}
                Err(e) if c == first => first_err = Some(e),
                Err(e) => tracing::debug!(cluster = %c, topic, error = ?e, "no failover queue"),
            }
        }
        match (
            picked[first.index()].is_some(),
            picked[first.other().index()].is_some(),
            first_err,
        ) {
            (true, _, _) => Ok((first, picked)),
            // The first cluster has no usable route: start on the other one (still one attempt each).
            (false, true, _) if state.allows_failover() => {
                tracing::warn!(topic, from = %first, to = %first.other(), "no route on the first cluster, using the other");
                flight.counts().failed_over_from(first);
                Ok((first.other(), picked))
            }
            (_, _, Some(e)) => Err(e),
            _ => Err(ClientError::illegal_argument(format!(
                "the selector chose no queue of topic {topic} on the {first} cluster"
            ))),
        }
    }
}
