//! `MigratingTransactionProducer` on the embedded brokers: half messages go where the phase routes them, and the
//! source keeps answering check-backs after its topic reached `Completed`, until nothing is pending there.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{
    DefaultMQPushConsumer, LocalTransactionState, MQPushConsumer, TransactionListener,
    TransactionSendResult,
};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{Cluster, MigratingTransactionProducer, Phase, PhaseHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::MessageTrait;

use crate::support::clients::{cluster_of, consumer, message, raw_send};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

/// The application's local transactions: the state at send time comes as the send's `arg` (`Unknown` without
/// one); a check-back answers whatever the test decided for that transaction id so far (`Unknown` until then).
#[derive(Clone, Default)]
struct Ledger {
    decided: Arc<Mutex<HashMap<String, LocalTransactionState>>>,
    checked: Arc<Mutex<HashMap<String, usize>>>,
}

impl Ledger {
    fn decide(&self, id: &str, state: LocalTransactionState) {
        self.decided.lock().insert(id.to_owned(), state);
    }
    fn checks(&self, id: &str) -> usize {
        self.checked.lock().get(id).copied().unwrap_or(0)
    }
}

impl TransactionListener for Ledger {
    fn execute_local_transaction(
        &self,
        _msg: &dyn MessageTrait,
        arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        arg.and_then(|a| a.downcast_ref::<LocalTransactionState>())
            .copied()
            .unwrap_or(LocalTransactionState::Unknown)
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        let id = MessageClientIDSetter::get_uniq_id(msg)
            .map(|k| k.to_string())
            .unwrap_or_default();
        *self.checked.lock().entry(id.clone()).or_default() += 1;
        self.decided
            .lock()
            .get(&id)
            .copied()
            .unwrap_or(LocalTransactionState::Unknown)
    }
}

async fn tx_producer(
    pair: &ClusterPair,
    phases: &PhaseHandle,
    ledger: &Ledger,
) -> MigratingTransactionProducer {
    let mut p = MigratingTransactionProducer::builder(support::client())
        .producer_group(unique_name("tx_pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .transaction_listener(ledger.clone())
        // No earlier process of this fresh group left half messages: no minimum linger needed.
        .min_linger(Duration::ZERO)
        .max_linger(Duration::from_secs(120))
        .unconfirmed_grace(Duration::from_secs(5))
        .build()
        .expect("transaction producer build");
    p.start().await.expect("transaction producer start");
    p
}

/// The transaction id (UNIQ_KEY) and the cluster that stored the half message.
fn landed(pair: &ClusterPair, r: &TransactionSendResult) -> (String, Cluster) {
    let sr = r.send_result.as_ref().expect("send result");
    let mq = sr.message_queue.as_ref().expect("queue");
    (
        sr.msg_id.as_ref().expect("msg id").to_string(),
        cluster_of(pair, mq.broker_name().as_str()),
    )
}

async fn raw_consumer(pair: &ClusterPair, topic: &str, rec: &Recorder) -> DefaultMQPushConsumer {
    let mut c = DefaultMQPushConsumer::builder(support::client())
        .consumer_group(unique_name("tx_raw_cg"))
        .name_server_addr(pair.source.name_server_addr().to_owned())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    c.subscribe(topic, "*").await.expect("subscribe");
    c.register_message_listener_concurrently(rec.listener());
    c.start().await.expect("raw consumer start");
    c
}

#[test]
fn unknown_transactions_are_decided_by_check_backs_to_the_source_after_completed() {
    support::run(Duration::from_secs(240), async {
        let pair = &support::shared().pair;
        let topic = unique_name("TxTopic");
        // One queue: a marker sent last is consumed after everything committed before it.
        pair.create_topic(&support::client(), &topic, 1)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        let ledger = Ledger::default();
        let mut p = tx_producer(pair, &phases, &ledger).await;

        // Initial: both half messages go to the source; the local transactions do not know their outcome yet.
        let mut sent = Vec::new();
        for body in ["to commit", "to roll back"] {
            let r = p
                .send_message_in_transaction::<(), _>(message(&topic, body), None)
                .await
                .expect("send in transaction");
            assert_eq!(
                r.local_transaction_state,
                Some(LocalTransactionState::Unknown)
            );
            let (id, cluster) = landed(pair, &r);
            assert_eq!(
                cluster,
                Cluster::Source,
                "Initial routes the half message to the source"
            );
            sent.push(id);
        }
        let (commit_id, rollback_id) = (sent[0].clone(), sent[1].clone());
        let mut expected = sent.clone();
        expected.sort();
        assert_eq!(p.pending_source_transactions(), expected);
        assert_eq!(p.stats().unknown_at_send, [2, 0]);

        // The topic moves on to Completed while both transactions are open.
        for phase in Phase::ALL.into_iter().skip(1) {
            phases.set_phase(&topic, phase).expect("set phase");
        }
        assert_eq!(phases.snapshot().phase(&topic), Phase::Completed);
        // Check-backs keep arriving at the source-side producer, which stays up for them.
        let asked = eventually(Duration::from_secs(60), || {
            ledger.checks(&commit_id) > 0 && ledger.checks(&rollback_id) > 0
        })
        .await;
        assert!(
            asked,
            "the source broker checked both back: {:?}",
            p.stats()
        );
        assert!(
            p.is_connected(Cluster::Source),
            "source side stays up while transactions are pending: {:?}",
            p.stats()
        );
        assert_eq!(p.stats().pending_source, 2);

        // The application learns the outcomes; the next check-backs decide them.
        let rec = Recorder::default();
        let mut source_reader = raw_consumer(pair, &topic, &rec).await;
        ledger.decide(&commit_id, LocalTransactionState::CommitMessage);
        ledger.decide(&rollback_id, LocalTransactionState::RollbackMessage);
        assert!(
            eventually(Duration::from_secs(60), || rec.has(&commit_id)).await,
            "the committed message is delivered from the source: {:?}",
            p.stats()
        );

        // Nothing pending and the topic Completed: the source-side producer shuts itself down.
        let retired = eventually(Duration::from_secs(60), || {
            let s = p.stats();
            !s.source_running && s.source_retirements == 1
        })
        .await;
        let stats = p.stats();
        assert!(retired, "source side retired: {stats:?}");
        assert!(!p.is_connected(Cluster::Source));
        assert!(p.pending_source_transactions().is_empty());
        assert_eq!(stats.resolved_by_check, [2, 0], "{stats:?}");
        assert_eq!(stats.half_sent, [2, 0], "{stats:?}");
        assert_eq!(stats.abandoned, 0, "{stats:?}");
        assert_eq!(stats.foreign_checks, [0, 0], "{stats:?}");

        // A marker written after both decisions arrives after anything they could have committed.
        let marker = raw_send(pair, Cluster::Source, &topic, "marker").await;
        assert!(eventually(Duration::from_secs(60), || rec.has(&marker)).await);
        assert!(
            !rec.has(&rollback_id),
            "a rolled back transaction is never delivered"
        );
        assert!(
            rec.duplicates().is_empty(),
            "exactly once: {:?}",
            rec.duplicates()
        );
        assert_eq!(rec.count(), 2, "the committed message and the marker");

        source_reader.shutdown().await;
        p.shutdown().await;
    });
}

#[test]
fn a_transaction_sent_in_completed_goes_to_the_target_and_the_source_side_retires() {
    support::run(Duration::from_secs(240), async {
        let pair = &support::shared().pair;
        let topic = unique_name("TxDoneTopic");
        pair.create_topic(&support::client(), &topic, 2)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::Completed).expect("phase");
        let ledger = Ledger::default();
        let rec = Recorder::default();
        let mut reader = consumer(pair, &phases, &unique_name("tx_cg"), &topic, &rec, None).await;
        let mut p = tx_producer(pair, &phases, &ledger).await;

        let r = p
            .send_message_in_transaction(
                message(&topic, "committed at once"),
                Some(LocalTransactionState::CommitMessage),
            )
            .await
            .expect("send in transaction");
        assert_eq!(
            r.local_transaction_state,
            Some(LocalTransactionState::CommitMessage)
        );
        let (id, cluster) = landed(pair, &r);
        assert_eq!(
            cluster,
            Cluster::Target,
            "Completed routes the half message to the target"
        );
        let rolled = p
            .send_message_in_transaction(
                message(&topic, "rolled back at once"),
                Some(LocalTransactionState::RollbackMessage),
            )
            .await
            .expect("send in transaction");
        let (rolled_id, _) = landed(pair, &rolled);
        let plain = p
            .send_with_timeout(message(&topic, "plain"), 5000)
            .await
            .expect("plain send")
            .expect("result");
        let plain_id = plain.msg_id.clone().expect("msg id").to_string();
        assert_eq!(
            cluster_of(
                pair,
                plain.message_queue.as_ref().unwrap().broker_name().as_str()
            ),
            Cluster::Target
        );

        assert!(
            eventually(Duration::from_secs(60), || rec.has(&id)
                && rec.has(&plain_id))
            .await,
            "delivered from the target"
        );
        // Every topic Completed and nothing sent to the source: the source side shuts down.
        assert!(
            eventually(Duration::from_secs(60), || !p.is_connected(Cluster::Source)).await,
            "{:?}",
            p.stats()
        );
        let stats = p.stats();
        assert_eq!(stats.half_sent, [0, 2], "{stats:?}");
        assert_eq!(stats.sends.sent, [0, 3], "{stats:?}");
        assert_eq!(stats.source_retirements, 1, "{stats:?}");
        assert!(!rec.has(&rolled_id), "rolled back at send: never delivered");
        assert!(rec.duplicates().is_empty(), "{:?}", rec.duplicates());

        reader.shutdown().await;
        p.shutdown().await;
    });
}
