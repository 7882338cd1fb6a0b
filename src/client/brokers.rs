//! Which cluster a message queue belongs to, told by its broker name and learned from each cluster's routes (both
//! consumers: the lite pull consumer's queue calls, the push consumer's `send_message_back`).

use std::collections::HashMap;

use parking_lot::Mutex;
use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::cluster::Cluster;
use crate::error::{ErrorKind, MigrationError};

/// Who has a broker of a given name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    One(Cluster),
    /// Both clusters route to a broker of this name: its queues cannot be told apart.
    Both,
}

/// Broker name → cluster, from the queues each cluster's name server returned.
#[derive(Debug, Default)]
pub(crate) struct BrokerMap {
    names: Mutex<HashMap<String, Owner>>,
}

impl BrokerMap {
    /// `cluster`'s route has `queues`.
    pub(crate) fn learn<'q>(
        &self,
        cluster: Cluster,
        queues: impl IntoIterator<Item = &'q MessageQueue>,
    ) {
        let mut names = self.names.lock();
        for q in queues {
            let broker = q.broker_name().as_str();
            match names.get(broker).copied() {
                None => {
                    names.insert(broker.to_owned(), Owner::One(cluster));
                }
                Some(Owner::One(c)) if c != cluster => {
                    tracing::error!(broker, "both clusters have a broker of this name: its queues cannot be \
                        told apart by cluster (a lite pull consumer cannot seek, assign, pause or commit them by \
                        queue; a push consumer's send-back tries both clusters); rename one cluster's broker");
                    names.insert(broker.to_owned(), Owner::Both);
                }
                Some(_) => {}
            }
        }
    }

    /// The one cluster whose route has a broker named `broker`; `None` when none does yet, or both do.
    pub(crate) fn owner(&self, broker: &str) -> Option<Cluster> {
        match self.names.lock().get(broker) {
            Some(Owner::One(c)) => Some(*c),
            _ => None,
        }
    }

    /// Whether the owner of `mq`'s broker is known (one cluster or ambiguous).
    pub(crate) fn knows(&self, mq: &MessageQueue) -> bool {
        self.names.lock().contains_key(mq.broker_name().as_str())
    }

    /// The cluster `mq` belongs to; a [`ErrorKind::QueueCluster`] error naming the queue when no cluster's route
    /// has its broker, or both do.
    pub(crate) fn cluster_of(&self, mq: &MessageQueue) -> Result<Cluster, MigrationError> {
        let broker = mq.broker_name().as_str();
        match self.names.lock().get(broker).copied() {
            Some(Owner::One(c)) => Ok(c),
            Some(Owner::Both) => Err(MigrationError::new(
                ErrorKind::QueueCluster,
                None,
                format!(
                    "message queue {mq}: both clusters have a broker named {broker:?}, so the queue's cluster is \
                     ambiguous"
                ),
            )),
            None => Err(MigrationError::new(
                ErrorKind::QueueCluster,
                None,
                format!("message queue {mq}: no cluster reading the topic has a broker named {broker:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(broker: &str) -> MessageQueue {
        MessageQueue::from_parts("T", broker, 0)
    }

    #[test]
    fn queues_map_to_the_cluster_whose_route_has_their_broker() {
        let m = BrokerMap::default();
        m.learn(Cluster::Source, &[q("a"), q("shared")]);
        m.learn(Cluster::Target, &[q("b"), q("shared")]);
        assert_eq!(m.cluster_of(&q("a")).unwrap(), Cluster::Source);
        assert_eq!(m.cluster_of(&q("b")).unwrap(), Cluster::Target);
        let e = m.cluster_of(&q("shared")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::QueueCluster);
        assert!(e.to_string().contains("ambiguous"), "{e}");
        let e = m.cluster_of(&q("nowhere")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::QueueCluster);
        assert!(e.to_string().contains("\"nowhere\""), "{e}");
        assert!(!m.knows(&q("nowhere")));
        assert_eq!(m.owner("a"), Some(Cluster::Source));
        assert_eq!(m.owner("shared"), None, "ambiguous: no one owner");
        assert_eq!(m.owner("nowhere"), None);
    }
}
