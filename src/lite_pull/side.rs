//! One cluster's running raw lite pull consumer and what it reads (subscribed topics or assigned queues).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rocketmq_client_rust::DefaultLitePullConsumer;
use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::client::subscriptions::Subscribed;
use crate::reads::Sub;

/// One cluster's running raw consumer and what it reads.
pub(crate) struct Side {
    pub(crate) consumer: DefaultLitePullConsumer,
    /// Subscribe mode: topic → subscription.
    pub(crate) topics: BTreeMap<String, Sub>,
    /// Assign mode: this cluster's assigned queues.
    pub(crate) queues: HashSet<MessageQueue>,
    /// Topics whose queues this cluster's name server returned: it can really read them.
    pub(crate) verified: BTreeSet<String>,
}

impl Subscribed for Side {
    type Raw = DefaultLitePullConsumer;

    fn subscriptions(&self) -> &BTreeMap<String, Sub> {
        &self.topics
    }

    fn parts_mut(
        &mut self,
    ) -> (
        &mut DefaultLitePullConsumer,
        &mut BTreeMap<String, Sub>,
        &mut BTreeSet<String>,
    ) {
        (&mut self.consumer, &mut self.topics, &mut self.verified)
    }
}

impl Side {
    pub(crate) fn reads_anything(&self) -> bool {
        !self.topics.is_empty() || !self.queues.is_empty()
    }

    pub(crate) fn topic_names(&self) -> BTreeSet<String> {
        self.topics
            .keys()
            .cloned()
            .chain(self.queues.iter().map(|q| q.topic_str().to_owned()))
            .collect()
    }
}
