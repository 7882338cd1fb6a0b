//! The user's `TransactionListener`, shared by both clusters' raw producers and wrapped per cluster so that a
//! check-back is attributed to the cluster that sent it and resolves the pending transaction it decides.

use std::any::Any;
use std::sync::Arc;

use rocketmq_client_rust::{ArcTransactionListener, LocalTransactionState, TransactionListener};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::MessageTrait;

use super::pending::Pending;
use super::stats::TxCounters;
use crate::cluster::Cluster;

/// What the wrappers of both clusters share.
pub(crate) struct Shared {
    pub(crate) group: String,
    pub(crate) user: ArcTransactionListener,
    /// Half messages on the source that may still be checked back.
    pub(crate) pending: Pending,
    pub(crate) counters: TxCounters,
}

/// The user's `arg` of `send_message_in_transaction`, shareable so a half send can be retried on the other
/// cluster. The wrapper hands the listener the inner value, so the listener downcasts to its own type as usual.
#[derive(Clone)]
pub(crate) struct ArgSlot(pub(crate) Arc<dyn Any + Send + Sync>);

/// The listener registered with one cluster's raw `TransactionMQProducer`.
pub(crate) struct ClusterListener {
    pub(crate) cluster: Cluster,
    pub(crate) shared: Arc<Shared>,
}

impl TransactionListener for ClusterListener {
    fn execute_local_transaction(
        &self,
        msg: &dyn MessageTrait,
        arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        let arg = arg.map(|a| match a.downcast_ref::<ArgSlot>() {
            Some(slot) => &*slot.0,
            None => a,
        });
        self.shared.user.execute_local_transaction(msg, arg)
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        let s = &self.shared;
        let cluster = self.cluster;
        let id = MessageClientIDSetter::get_uniq_id(msg)
            .map(|k| k.to_string())
            .unwrap_or_default();
        let state = s.user.check_local_transaction(msg);
        s.counters.check(cluster);
        let decided = !matches!(state, LocalTransactionState::Unknown);
        if cluster == Cluster::Target {
            tracing::debug!(group = %s.group, %cluster, transaction_id = %id, topic = %msg.topic(), ?state,
                "transaction check-back");
        } else if !s.pending.contains(&id) {
            s.counters.foreign_check(cluster);
            tracing::info!(group = %s.group, %cluster, transaction_id = %id, topic = %msg.topic(), ?state,
                "transaction check-back for a transaction this process did not send (or no longer tracks)");
        } else if decided && s.pending.remove(&id) {
            s.counters.resolved_by_check(cluster);
            tracing::info!(group = %s.group, %cluster, transaction_id = %id, topic = %msg.topic(), ?state,
                "transaction check-back decided a pending transaction");
        } else {
            tracing::debug!(group = %s.group, %cluster, transaction_id = %id, topic = %msg.topic(),
                "transaction check-back answered Unknown; the broker will ask again");
        }
        state
    }
}
