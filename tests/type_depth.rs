//! The four clients' futures keep their depth: this crate compiles them under a recursion limit of 116, short of
//! the compiler's default 128. An application's crate computes the layout of every shim future it holds
//! (`subscribe`, `start`, the sends), nested in its own; a shim future that nests deeper leaves it less room, and
//! past 128 its build fails with "queries overflow the depth limit".
//!
//! Measured with this file's limit lowered until it failed (rustc 1.95): `MigratingProducer::send` needs 109–110
//! (the raw `DefaultMQProducer::send` alone: 97–98; 117–118 before its two pass-through layers became plain
//! functions). The compiler caches what two futures share, so a future held after another here needs less than it
//! does alone in a crate; alone (one future per test crate), the deepest shim futures are `send_with_timeout`,
//! `send_batch_with_timeout` and the selector sends at 121–122 (the raw `send_with_timeout` alone: 109–110), the
//! shim's own cost being the same 12 levels as for `send`. The consumers' reconcile pass and the lite pull consumer's shutdown of a cluster's client are
//! boxed: unboxed, the push consumer's `subscribe` came to 122–125 and overflowed `benches/listen_path.rs`.
//!
//! Needs no broker: the consumers are not started (their reconcile returns at once), and the other futures are
//! made and dropped, not run.
#![recursion_limit = "116"]

mod unstarted;

use std::any::Any;
use std::future::Future;

use rocketmq_client_rust::{LocalTransactionState, MQPushConsumer, TransactionListener};
use rocketmq_migration::{
    Cluster, MigratingLitePullConsumer, MigratingProducer, MigratingPushConsumer,
    MigratingTransactionProducer,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::MessageTrait;
use unstarted::{clusters, msg, runtime};

/// A listener that commits nothing; its transactions are never run here.
struct Undecided;

impl TransactionListener for Undecided {
    fn execute_local_transaction(
        &self,
        _msg: &dyn MessageTrait,
        _arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        LocalTransactionState::Unknown
    }

    fn check_local_transaction(&self, _msg: &MessageExt) -> LocalTransactionState {
        LocalTransactionState::Unknown
    }
}

/// Make `fut` and drop it unpolled: its layout is computed here, which is what the recursion limit bounds.
fn hold<F: Future>(fut: F) {
    drop(fut);
}

#[tokio::test]
async fn a_push_consumer_subscribes_before_start_and_its_futures_stay_shallow() {
    let runtime = runtime();
    let (source, target) = clusters();
    let mut push = MigratingPushConsumer::builder(runtime.client())
        .consumer_group("depth_cg")
        .source(source)
        .target(target)
        .build()
        .expect("push consumer");
    push.subscribe("depth_topic", "*")
        .await
        .expect("subscribe before start");
    assert!(push.subscribed_topics(Cluster::Source).await.is_empty());
    hold(push.start());
}

#[tokio::test]
async fn a_lite_pull_consumer_subscribes_before_start_and_its_futures_stay_shallow() {
    let runtime = runtime();
    let (source, target) = clusters();
    let lite = MigratingLitePullConsumer::builder(runtime.client())
        .consumer_group("depth_lp_cg")
        .source(source)
        .target(target)
        .build()
        .expect("lite pull consumer");
    lite.subscribe("depth_topic")
        .await
        .expect("subscribe before start");
    assert!(lite.subscribed_topics(Cluster::Target).await.is_empty());
    hold(lite.start());
}

#[tokio::test]
async fn a_producers_send_futures_stay_shallow() {
    let runtime = runtime();
    let (source, target) = clusters();
    let producer = MigratingProducer::builder(runtime.client())
        .producer_group("depth_pg")
        .source(source)
        .target(target)
        .build()
        .expect("producer");
    hold(producer.send(msg()));
    hold(producer.send_with_callback(msg(), |_, _| {}));
}

#[tokio::test]
async fn a_transaction_producers_send_futures_stay_shallow() {
    let runtime = runtime();
    let (source, target) = clusters();
    let tx = MigratingTransactionProducer::builder(runtime.client())
        .producer_group("depth_tx_pg")
        .source(source)
        .target(target)
        .transaction_listener(Undecided)
        .build()
        .expect("transaction producer");
    hold(tx.send_message_in_transaction::<(), _>(msg(), None));
    hold(tx.send(msg()));
}
