//! Every shim client reports its traffic per topic in its heartbeats, read back from `GET /v1/clients`: a producer,
//! a transactional producer, a push consumer and a lite pull consumer of two topics in different phases; and a
//! consumer of a namespaced cluster whose redeliveries come from the group's retry topic.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, LocalTransactionState, MQPushConsumer,
    TransactionListener,
};
use rocketmq_migration::control::wire::{ClientView, ClusterCounters, Counters, Role};
use rocketmq_migration::dedupe::{KeyExtractor, UniqKey};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{
    Cluster, MigratingLitePullConsumer, MigratingProducer, MigratingPushConsumer,
    MigratingTransactionProducer, Phase,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::MessageTrait;

use crate::support::clients::message;
use crate::support::listener::Recorder;
use crate::support::plane::{self, advance_when_ready, Plane};
use crate::support::{client, run, shared};

/// Commits every local transaction at send time.
struct Commit;

impl TransactionListener for Commit {
    fn execute_local_transaction(
        &self,
        _msg: &dyn MessageTrait,
        _arg: Option<&(dyn Any + Send + Sync)>,
    ) -> LocalTransactionState {
        LocalTransactionState::CommitMessage
    }

    fn check_local_transaction(&self, _msg: &MessageExt) -> LocalTransactionState {
        LocalTransactionState::CommitMessage
    }
}

/// The last heartbeat of the live client of `group` in `role`, if there is one.
async fn heartbeat_of(p: &Plane, role: Role, group: &str) -> Option<ClientView> {
    p.admin
        .clients()
        .await
        .expect("GET /v1/clients")
        .into_iter()
        .find(|c| c.live && c.heartbeat.role == role && c.heartbeat.group == group)
}

/// `(sent, received, duplicates_suppressed)` of one cluster.
type Traffic = (u64, u64, u64);

/// One topic's expected traffic: the topic, then the source's and the target's.
type Expected<'a> = (&'a str, Traffic, Traffic);

/// `(sent, received, duplicates_suppressed)` of one cluster's counters.
fn traffic(c: &ClusterCounters) -> Traffic {
    (c.sent, c.received, c.duplicates_suppressed)
}

/// The per-topic counters of `view` summed, per cluster.
fn sum(view: &ClientView) -> Counters {
    let mut total = Counters::default();
    for c in view.heartbeat.per_topic.values() {
        for (t, s) in [
            (&mut total.source, &c.source),
            (&mut total.target, &c.target),
        ] {
            t.sent += s.sent;
            t.received += s.received;
            t.failed_over += s.failed_over;
            t.failed += s.failed;
            t.duplicates_suppressed += s.duplicates_suppressed;
        }
    }
    total
}

/// Wait (up to 30 s) until the client of `group` in `role` reports `want` per topic, as `(source, target)`
/// `(sent, received, duplicates_suppressed)` triples; then check that its per-topic keys are its topics and that
/// its totals are the sums of its per-topic counts.
async fn expect_per_topic(p: &Plane, role: Role, group: &str, want: &[Expected<'_>]) -> ClientView {
    let want: BTreeMap<String, (Traffic, Traffic)> = want
        .iter()
        .map(|(t, s, g)| (t.to_string(), (*s, *g)))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let view = heartbeat_of(p, role, group).await;
        let got: Option<BTreeMap<String, _>> = view.as_ref().map(|v| {
            v.heartbeat
                .per_topic
                .iter()
                .map(|(t, c)| (t.clone(), (traffic(&c.source), traffic(&c.target))))
                .collect()
        });
        if got.as_ref() == Some(&want) {
            let view = view.expect("a heartbeat");
            let hb = &view.heartbeat;
            assert_eq!(
                hb.per_topic.keys().collect::<Vec<_>>(),
                hb.topics.iter().collect::<Vec<_>>(),
                "one per-topic entry for each of the client's topics"
            );
            assert_eq!(
                hb.counters,
                sum(&view),
                "{role:?} {group}: the totals are the sums over the topics"
            );
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{role:?} {group}: per-topic counts {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn per_topic_counts_reach_the_control_plane_from_every_client() {
    run(Duration::from_secs(300), async {
        let p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        // Topic a stays initial (source); topic b is moved to cutting_over (target).
        let a = unique_name("per_topic_a");
        let b = unique_name("per_topic_b");
        let push_group = unique_name("per_topic_cg");
        let lite_group = unique_name("per_topic_lite_cg");
        for t in [&a, &b] {
            pair.create_topic(&client(), t, 2).await.unwrap();
        }
        for g in [&push_group, &lite_group] {
            pair.target.create_group(&client(), g).await.unwrap();
        }
        p.admin.register(&[&a, &b], None).await.unwrap();
        let ctl = p.client("per-topic-app").await;

        let rec = Recorder::default();
        let mut push = MigratingPushConsumer::builder(client())
            .consumer_group(&push_group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        push.subscribe(a.as_str(), "*").await.unwrap();
        push.subscribe(b.as_str(), "*").await.unwrap();
        push.register_message_listener_concurrently(rec.listener());
        push.start().await.unwrap();

        let lite = MigratingLitePullConsumer::builder(client())
            .consumer_group(&lite_group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        lite.subscribe(&a).await.unwrap();
        lite.subscribe(&b).await.unwrap();
        lite.start().await.unwrap();

        for from in [Phase::Initial, Phase::DualRead, Phase::DualReadWrite] {
            advance_when_ready(&p.admin, &b, from, Duration::from_secs(60)).await;
        }
        assert!(
            crate::support::eventually(Duration::from_secs(10), || {
                ctl.phases().snapshot().phase(&b) == Phase::CuttingOver
            })
            .await,
            "the client follows b to cutting_over"
        );

        let producer_group = unique_name("per_topic_pg");
        let mut producer = MigratingProducer::builder(client())
            .producer_group(&producer_group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let tx_group = unique_name("per_topic_tx_pg");
        let mut tx = MigratingTransactionProducer::builder(client())
            .producer_group(&tx_group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .transaction_listener(Commit)
            .min_linger(Duration::ZERO)
            .build()
            .unwrap();
        tx.start().await.unwrap();

        // The plain producer: 3 messages to a (source), 5 to b (target), two of b's as one batch.
        let mut acked = HashSet::new();
        for i in 0..3 {
            let r = producer.send(message(&a, &format!("a{i}"))).await.unwrap();
            acked.insert(r.unwrap().msg_id.unwrap().to_string());
        }
        for i in 0..3 {
            let r = producer.send(message(&b, &format!("b{i}"))).await.unwrap();
            acked.insert(r.unwrap().msg_id.unwrap().to_string());
        }
        producer
            .send_batch(vec![message(&b, "b3"), message(&b, "b4")])
            .await
            .unwrap();
        // The transactional producer: 2 committed messages to a (source).
        for i in 0..2 {
            let r = tx
                .send_message_in_transaction::<(), _>(message(&a, &format!("tx{i}")), None)
                .await
                .unwrap();
            assert_eq!(
                r.local_transaction_state,
                Some(LocalTransactionState::CommitMessage)
            );
        }
        let stats = producer.stats();
        assert_eq!((stats.sent, stats.failed), ([3, 5], [0, 0]));

        // Both consumers get all 10 messages: a's 5 from the source, b's 5 from the target.
        assert!(
            crate::support::eventually(Duration::from_secs(60), || rec.count() == 10).await,
            "push consumer got {} of 10",
            rec.count()
        );
        assert!(acked.iter().all(|k| rec.has(k)));
        assert!(rec.duplicates().is_empty());
        let mut polled = HashSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while polled.len() < 10 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "lite pull consumer got {} of 10",
                polled.len()
            );
            for m in lite.poll_with_timeout(1000).await {
                polled.insert(UniqKey.key(&m).unwrap_or_default());
            }
        }

        let none = (0, 0, 0);
        let producer_view = expect_per_topic(
            &p,
            Role::Producer,
            &producer_group,
            &[(&a, (3, 0, 0), none), (&b, none, (5, 0, 0))],
        )
        .await;
        assert_eq!(
            (
                producer_view.heartbeat.counters.source.sent,
                producer_view.heartbeat.counters.target.sent
            ),
            (3, 5)
        );
        expect_per_topic(&p, Role::Producer, &tx_group, &[(&a, (2, 0, 0), none)]).await;
        for group in [&push_group, &lite_group] {
            let view = expect_per_topic(
                &p,
                Role::Consumer,
                group,
                &[(&a, (0, 5, 0), none), (&b, none, (0, 5, 0))],
            )
            .await;
            let c = &view.heartbeat.counters;
            assert_eq!((c.source.received, c.target.received), (5, 5), "{group}");
        }
        assert_eq!(
            tx.stats().sends.sent[Cluster::Source.index()],
            2,
            "the transactional producer's totals are kept"
        );

        lite.shutdown().await;
        push.shutdown().await;
        producer.shutdown().await;
        tx.shutdown().await;
        ctl.shutdown();
    });
}

#[test]
fn a_namespaced_consumer_counts_retry_redeliveries_under_the_subscribed_topic() {
    run(Duration::from_secs(180), async {
        let pair = &shared().pair;
        let ns = unique_name("MQ_INST_pt");
        let topic = unique_name("per_topic_ns");
        let group = unique_name("per_topic_ns_cg");
        pair.source
            .create_topic(&client(), &format!("{ns}%{topic}"), 2)
            .await
            .unwrap();
        pair.source
            .create_group(&client(), &format!("{ns}%{group}"))
            .await
            .unwrap();
        let source = pair.source.cluster_config().namespace(ns.clone());
        let s = source.clone();
        let p = plane::start(move |c| c.source = s).await;
        p.admin.register(&[&topic], None).await.unwrap();
        let ctl = p.client("per-topic-ns").await;
        let producer_group = unique_name("per_topic_ns_pg");
        let mut producer = MigratingProducer::builder(client())
            .producer_group(&producer_group)
            .source(source.clone())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        // The listener fails the first delivery of "again": the broker redelivers it from %RETRY%<ns>%<group>.
        let deliveries = Arc::new(Mutex::new(Vec::<(String, i32)>::new()));
        let seen = deliveries.clone();
        let mut consumer = MigratingPushConsumer::builder(client())
            .consumer_group(&group)
            .source(source.clone())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .max_reconsume_times(3)
            .build()
            .unwrap();
        consumer.subscribe(topic.as_str(), "*").await.unwrap();
        consumer.register_message_listener_concurrently(
            move |msgs: &[&MessageExt], _: &ConsumeConcurrentlyContext| {
                let mut seen = seen.lock();
                let mut status = ConsumeConcurrentlyStatus::ConsumeSuccess;
                for m in msgs {
                    let body = String::from_utf8_lossy(m.body_slice()).into_owned();
                    if body == "again" && m.reconsume_times == 0 {
                        status = ConsumeConcurrentlyStatus::ReconsumeLater;
                    }
                    seen.push((body, m.reconsume_times));
                }
                Ok(status)
            },
        );
        consumer.start().await.unwrap();

        for body in ["one", "two", "three", "again"] {
            producer.send(message(&topic, body)).await.unwrap();
        }
        assert!(
            crate::support::eventually(Duration::from_secs(90), || {
                seen_again(&deliveries.lock())
            })
            .await,
            "the redelivery of \"again\" arrives: {:?}",
            deliveries.lock()
        );
        let delivered = deliveries.lock().len() as u64;
        assert!(delivered >= 5, "{:?}", deliveries.lock());

        let none = (0, 0, 0);
        expect_per_topic(
            &p,
            Role::Producer,
            &producer_group,
            &[(&topic, (4, 0, 0), none)],
        )
        .await;
        // Every delivery, the redelivery from the retry topic too, counts under the short name subscribed.
        let view = expect_per_topic(
            &p,
            Role::Consumer,
            &group,
            &[(&topic, (0, delivered, 0), none)],
        )
        .await;
        assert_eq!(view.heartbeat.topics, [topic.as_str()]);
        consumer.shutdown().await;
        producer.shutdown().await;
        ctl.shutdown();
    });
}

/// Whether "again" was delivered again after its failed first delivery.
fn seen_again(deliveries: &[(String, i32)]) -> bool {
    deliveries
        .iter()
        .any(|(b, times)| b == "again" && *times > 0)
}
