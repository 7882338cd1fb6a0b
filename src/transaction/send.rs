//! `send_message_in_transaction` and the normal sends, routed by phase with the shared dispatch.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use rocketmq_client_rust::{
    ClientResult, LocalTransactionState, MessageSend, SendDestination, SendMode, SendRequest,
    SendResult, TransactionSendResult,
};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

use super::core::{RawTx, TxCore};
use super::listener::ArgSlot;
use super::pending::{unconfirmed, Wait};
use super::MigratingTransactionProducer;
use crate::client::dispatch::{dispatch_on, FailoverPolicy};
use crate::client::failover::{certainly_not_reached, classify};
use crate::client::timed::timeout_twins;
use crate::client::writes::prepare;
use crate::cluster::Cluster;

impl MigratingTransactionProducer {
    /// Send a half message where the topic's phase routes it, run the local transaction through the listener, and
    /// end the transaction, as `TransactionMQProducer::send_message_in_transaction`. `arg` reaches the listener's
    /// `execute_local_transaction` unchanged.
    ///
    /// Fails over to the other cluster only where the phase allows it and the first cluster was certainly not
    /// reached (see [`MigratingTransactionProducer`]).
    pub async fn send_message_in_transaction<T, M>(
        &self,
        msg: M,
        arg: Option<T>,
    ) -> ClientResult<TransactionSendResult>
    where
        T: Any + Sync + Send,
        M: MessageTrait + Send + Sync,
    {
        let msg = prepare(msg);
        let id = MessageClientIDSetter::get_uniq_id(&msg)
            .map(|k| k.to_string())
            .unwrap_or_default();
        let arg = arg.map(|a| ArgSlot(Arc::new(a)));
        let core = &self.core;
        core.routed(msg, FailoverPolicy::NotReached, |raw, m| {
            core.half_send(raw, m, arg.clone(), &id)
        })
        .await
    }

    timeout_twins! {
        /// Send and wait for the result, as `DefaultMQProducer::send` (and `MessageSend::send_message` of the raw
        /// transactional producer); routed and failed over like
        /// [`MigratingProducer::send`](crate::MigratingProducer::send).
        send<M> / send_with_timeout<M>(msg: M) -> ClientResult<Option<SendResult>>
        where { M: MessageTrait + Send + Sync }
        => plain(prepare(msg));
    }

    async fn plain(&self, msg: Message, timeout: Option<u64>) -> ClientResult<Option<SendResult>> {
        self.core
            .routed(
                msg,
                FailoverPolicy::TimeoutOrUnreachable,
                |raw: Arc<RawTx>, m| async move {
                    let request = SendRequest {
                        message: m,
                        destination: SendDestination::Automatic,
                        mode: SendMode::AwaitResult,
                        timeout_millis: timeout,
                    };
                    raw.producer.write().await.send_message(request).await
                },
            )
            .await
    }
}

impl TxCore {
    /// Run `op` on the cluster the phase (and write ratio) of `msg`'s topic picks, once more on the other cluster
    /// where the phase and `policy` allow. The send's flight is held until its outcome is known (the producer
    /// reports a phase applied only after that) and carries the topic's counters.
    async fn routed<R, F, Fut>(
        &self,
        msg: Message,
        policy: FailoverPolicy,
        op: F,
    ) -> ClientResult<R>
    where
        F: Fn(Arc<RawTx>, Message) -> Fut,
        Fut: Future<Output = ClientResult<R>>,
    {
        let planned = self.writes.plan(msg.topic());
        let spare = planned.spare(&msg);
        dispatch_on(planned.route(policy), msg, spare, |c| self.client(c), op).await
    }

    /// One half send on `raw`'s cluster, tracking the transaction while the source may check it back.
    async fn half_send(
        &self,
        raw: Arc<RawTx>,
        msg: Message,
        arg: Option<ArgSlot>,
        id: &str,
    ) -> ClientResult<TransactionSendResult> {
        let cluster = raw.cluster;
        let tracked = cluster == Cluster::Source;
        let topic = msg.topic().to_string();
        let pending = &self.shared.pending;
        if tracked {
            pending.begin(id, &topic);
        }
        let result = raw
            .producer
            .read()
            .await
            .send_message_in_transaction(msg, arg)
            .await;
        let grace = self.linger.unconfirmed_grace;
        match &result {
            Ok(r) => {
                self.shared.counters.half_sent(cluster);
                let state = r
                    .local_transaction_state
                    .unwrap_or(LocalTransactionState::Unknown);
                if state == LocalTransactionState::Unknown {
                    self.shared.counters.unknown_at_send(cluster);
                    tracing::info!(group = %self.base.group, %cluster, topic, transaction_id = id,
                        "local transaction Unknown; the broker will check it back");
                }
                if tracked {
                    let wait = if state == LocalTransactionState::Unknown {
                        Wait::Unknown
                    } else {
                        unconfirmed(grace)
                    };
                    pending.settle(id, wait);
                }
            }
            Err(e) if tracked => {
                if certainly_not_reached(e) || classify(e).is_none() {
                    // Nothing stored (not reached, or refused by the broker): no check-back will come.
                    pending.remove(id);
                } else {
                    tracing::warn!(group = %self.base.group, %cluster, topic, transaction_id = id, error = ?e,
                        "half send failed after possibly reaching the source; kept pending for check-backs");
                    pending.settle(id, unconfirmed(grace));
                }
            }
            Err(_) => {}
        }
        result
    }
}
