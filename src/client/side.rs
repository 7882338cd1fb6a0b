//! One cluster's running raw consumer and what it reads (both consumers): the subscribed topics, the assigned
//! queues (the lite pull consumer's assign mode; the push consumer has none) and the topics whose routes it has seen.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rocketmq_model::common::message::message_queue::MessageQueue;

use super::subscriptions::{self, RawSubscriber};
use crate::cluster::Cluster;
use crate::error::{ErrorKind, MigrationError};
use crate::reads::Sub;

/// One cluster's running raw consumer `R` and what it reads.
pub(crate) struct Side<R> {
    pub(crate) consumer: R,
    /// Subscribe mode: topic → subscription.
    pub(crate) topics: BTreeMap<String, Sub>,
    /// Assign mode: this cluster's assigned queues.
    pub(crate) queues: HashSet<MessageQueue>,
    /// Topics whose queues this cluster's name server returned: it can really read them.
    pub(crate) verified: BTreeSet<String>,
}

impl<R> Side<R> {
    /// A started `consumer` already subscribed to `topics`, nothing verified yet.
    pub(crate) fn new(consumer: R, topics: BTreeMap<String, Sub>) -> Self {
        Side {
            consumer,
            topics,
            queues: HashSet::new(),
            verified: BTreeSet::new(),
        }
    }

    /// Whether it reads any topic or queue.
    pub(crate) fn reads_anything(&self) -> bool {
        !self.topics.is_empty() || !self.queues.is_empty()
    }

    /// The topics it reads: subscribed, or with assigned queues.
    pub(crate) fn topic_names(&self) -> BTreeSet<String> {
        self.topics
            .keys()
            .cloned()
            .chain(self.queues.iter().map(|q| q.topic_str().to_owned()))
            .collect()
    }
}

impl<R: RawSubscriber> Side<R> {
    /// Bring its subscriptions in line with `want` (a topic dropped is no longer verified either). Logged as
    /// `group`'s client of `cluster`. A failed subscribe ends the pass with a [`ErrorKind::Subscribe`] error
    /// naming the topic; what was done before it stays done (and recorded), the rest is tried again at the next
    /// pass.
    pub(crate) async fn sync(
        &mut self,
        want: BTreeMap<String, Sub>,
        (group, cluster): (&str, Cluster),
    ) -> Result<(), MigrationError> {
        let stale: Vec<String> = self
            .topics
            .keys()
            .filter(|t| !want.contains_key(*t))
            .cloned()
            .collect();
        for topic in stale {
            self.consumer.unsubscribe_from(&topic).await;
            self.topics.remove(&topic);
            self.verified.remove(&topic);
            tracing::info!(group, %cluster, topic, "unsubscribed");
        }
        for (topic, sub) in want {
            if self.topics.get(&topic) != Some(&sub) {
                if let Err(e) = self.consumer.subscribe_to(&topic, &sub).await {
                    let context = format!("subscribe {topic}");
                    return Err(
                        MigrationError::new(ErrorKind::Subscribe, Some(cluster), context)
                            .with_source(e),
                    );
                }
                tracing::info!(group, %cluster, topic, "subscribed");
                self.topics.insert(topic, sub);
            }
        }
        Ok(())
    }

    /// Look up the route of every topic it reads that is not verified yet (see [`subscriptions::verify`]; logged
    /// as `group`'s client of `cluster`), handing each route found to `seen`. Returns the topics verified now.
    pub(crate) async fn verify_pending(
        &mut self,
        who: (&str, Cluster),
        mut seen: impl FnMut(&[MessageQueue]),
    ) -> BTreeSet<String> {
        let pending: Vec<String> = self
            .topic_names()
            .into_iter()
            .filter(|t| !self.verified.contains(t))
            .collect();
        for topic in pending {
            if let Some(qs) = subscriptions::verify(&mut self.consumer, &topic, who).await {
                seen(&qs);
                self.verified.insert(topic);
            }
        }
        self.verified.clone()
    }
}
