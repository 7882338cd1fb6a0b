//! Each cluster's running raw client of a migrating client, `None` while it is not running (it starts when a
//! topic first needs its cluster and may stop once none does), each behind its own async lock.

use std::collections::BTreeSet;
use std::ops::Index;

use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::Mutex;

use super::side::Side;
use super::subscriptions::RawSubscriber;
use crate::cluster::Cluster;

/// One slot per cluster, indexed by [`Cluster`].
pub(crate) struct Sides<S>([Mutex<Option<S>>; 2]);

impl<S> Default for Sides<S> {
    fn default() -> Self {
        Sides([Mutex::new(None), Mutex::new(None)])
    }
}

impl<S> Sides<S> {
    /// Whether `cluster`'s client is running (`false` while another task holds its slot).
    pub(crate) fn is_running(&self, cluster: Cluster) -> bool {
        self.0[cluster.index()]
            .try_lock()
            .is_ok_and(|s| s.is_some())
    }
}

impl<S> Index<Cluster> for Sides<S> {
    type Output = Mutex<Option<S>>;

    fn index(&self, cluster: Cluster) -> &Self::Output {
        &self.0[cluster.index()]
    }
}

impl<R: RawSubscriber> Sides<Side<R>> {
    /// The topics `cluster`'s client is subscribed to now, sorted (none while it is not running).
    pub(crate) async fn subscribed(&self, cluster: Cluster) -> Vec<String> {
        self[cluster]
            .lock()
            .await
            .as_ref()
            .map(|s| s.topics.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The topics `cluster`'s client reads now, subscribed or with assigned queues, sorted (none while it is not
    /// running).
    pub(crate) async fn reading(&self, cluster: Cluster) -> Vec<String> {
        self[cluster]
            .lock()
            .await
            .as_ref()
            .map(|s| s.topic_names().into_iter().collect())
            .unwrap_or_default()
    }

    /// Each running side's verified topics, after verifying what it reads that is not yet (see
    /// [`Side::verify_pending`]; logged as `group`'s), handing each route found to `seen`.
    pub(crate) async fn verified(
        &self,
        group: &str,
        mut seen: impl FnMut(Cluster, &[MessageQueue]),
    ) -> [BTreeSet<String>; 2] {
        let mut verified: [BTreeSet<String>; 2] = Default::default();
        for c in Cluster::BOTH {
            if let Some(side) = self[c].lock().await.as_mut() {
                verified[c.index()] = side.verify_pending((group, c), |qs| seen(c, qs)).await;
            }
        }
        verified
    }
}
