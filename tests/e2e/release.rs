//! Batch release without a control plane: pinned instances move in the seed's order, the backlog check gates the
//! last consumers, and nothing is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::dedupe::{Deduplicator, MemoryDeduplicator};
use rocketmq_migration::release;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{
    Cluster, MigratingProducer, MigratingPushConsumer, Phase, PhaseHandle, Pins,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use tokio::task::JoinHandle;

use crate::support::clients::message;
use crate::support::listener::Recorder;
use crate::support::{client, eventually, run, shared};

struct Sender {
    producer: MigratingProducer,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

async fn sender(topic: &str, pin: &str, acked: &Arc<Mutex<Vec<String>>>, name: &str) -> Sender {
    let pair = &shared().pair;
    let pins: Pins = pin.parse().unwrap();
    let mut producer = MigratingProducer::builder(client())
        .producer_group(format!("{topic}_pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(PhaseHandle::with_pins(pins))
        .build()
        .unwrap();
    producer.start().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn({
        let (p, stop, acked, topic, name) = (
            producer.clone(),
            stop.clone(),
            acked.clone(),
            topic.to_owned(),
            name.to_owned(),
        );
        async move {
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                let r = p.send(message(&topic, &format!("{name}-{i}"))).await;
                let id = r
                    .expect("no send fails during a batch release")
                    .expect("a result")
                    .msg_id
                    .unwrap();
                acked.lock().push(id.to_string());
                i += 1;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
    });
    Sender {
        producer,
        stop,
        task,
    }
}

impl Sender {
    async fn stop(mut self) -> MigratingProducer {
        self.stop.store(true, Ordering::Release);
        self.task.await.unwrap();
        self.producer.shutdown().await;
        self.producer
    }
}

async fn consumer(
    topic: &str,
    group: &str,
    pin: &str,
    rec: &Recorder,
    dedupe: &Arc<dyn Deduplicator>,
) -> MigratingPushConsumer {
    let pair = &shared().pair;
    let mut c = MigratingPushConsumer::builder(client())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(PhaseHandle::with_pins(pin.parse().unwrap()))
        .deduplicator(dedupe.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build()
        .unwrap();
    c.subscribe(topic, "*").await.unwrap();
    c.register_message_listener_concurrently(rec.listener());
    c.start().await.unwrap();
    c
}

/// Replace a consumer instance by one with other pins (a deployment batch).
async fn redeploy(
    c: &mut MigratingPushConsumer,
    topic: &str,
    group: &str,
    pin: &str,
    rec: &Recorder,
    dedupe: &Arc<dyn Deduplicator>,
) {
    c.shutdown().await;
    *c = consumer(topic, group, pin, rec, dedupe).await;
}

#[test]
fn pinned_batches_in_the_seed_order_lose_nothing_and_backlog_gates_the_last_consumers() {
    run(Duration::from_secs(300), async {
        let pair = &shared().pair;
        let topic = unique_name("batch");
        let group = format!("{topic}_cg");
        pair.create_topic(&client(), &topic, 4).await.unwrap();
        let rec = Recorder::default();
        let dedupe: Arc<dyn Deduplicator> = Arc::new(MemoryDeduplicator::default());
        let acked = Arc::new(Mutex::new(Vec::new()));
        let at = |p: Phase| format!("{topic}={p}");

        // Everything starts on the source.
        let mut c1 = consumer(&topic, &group, &at(Phase::Initial), &rec, &dedupe).await;
        let mut c2 = consumer(&topic, &group, &at(Phase::Initial), &rec, &dedupe).await;
        let p1 = sender(&topic, &at(Phase::Initial), &acked, "p1").await;
        let p2 = sender(&topic, &at(Phase::Initial), &acked, "p2").await;
        tokio::time::sleep(Duration::from_secs(1)).await;

        // 1-2: consumers read both clusters, one batch at a time.
        redeploy(&mut c1, &topic, &group, &at(Phase::DualRead), &rec, &dedupe).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        redeploy(&mut c2, &topic, &group, &at(Phase::DualRead), &rec, &dedupe).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        // 3-4: producers write the target, one batch at a time.
        let old = p1.stop().await;
        assert_eq!(old.stats().sent_to(Cluster::Target), 0);
        let p1 = sender(&topic, &at(Phase::CuttingOver), &acked, "p1b").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let old = p2.stop().await;
        let p2 = sender(&topic, &at(Phase::CuttingOver), &acked, "p2b").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(old.stats().sent_to(Cluster::Source) > 0);

        // Gate: the source backlog of the group must reach 0 before the last consumers leave it.
        let source = pair.source.cluster_config();
        let mut drained = false;
        for _ in 0..150 {
            let rows = release::backlog(&source, client(), Some(&group), Some(&topic))
                .await
                .unwrap();
            assert!(
                rows.iter().any(|r| r.topic == topic),
                "the group's topic is reported: {rows:?}"
            );
            if rows.iter().all(|r| r.unconsumed == 0) {
                drained = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(drained, "the source drains while consumers read both");
        // 5: the remaining consumers leave the source.
        redeploy(
            &mut c1,
            &topic,
            &group,
            &at(Phase::Completed),
            &rec,
            &dedupe,
        )
        .await;
        redeploy(
            &mut c2,
            &topic,
            &group,
            &at(Phase::Completed),
            &rec,
            &dedupe,
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let p1 = p1.stop().await;
        let p2 = p2.stop().await;
        assert_eq!(
            p1.stats().sent_to(Cluster::Source) + p2.stats().sent_to(Cluster::Source),
            0
        );

        let acked = acked.lock().clone();
        assert!(acked.len() > 200, "{} acked", acked.len());
        assert!(
            eventually(Duration::from_secs(60), || acked.iter().all(|k| rec.has(k))).await,
            "lost {} of {}",
            acked.iter().filter(|k| !rec.has(k)).count(),
            acked.len()
        );
        c1.shutdown().await;
        c2.shutdown().await;
    });
}

#[test]
fn backlog_reports_unconsumed_messages_until_a_consumer_drains_them() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let topic = unique_name("lag");
        let group = format!("{topic}_cg");
        pair.create_topic(&client(), &topic, 2).await.unwrap();
        let rec = Recorder::default();
        let dedupe: Arc<dyn Deduplicator> = Arc::new(MemoryDeduplicator::default());
        // The group consumes once (so it has offsets), then goes away while 12 messages arrive.
        let mut c = consumer(&topic, &group, "", &rec, &dedupe).await;
        let acked = Arc::new(Mutex::new(Vec::new()));
        let s = sender(&topic, "", &acked, "first").await;
        assert!(eventually(Duration::from_secs(30), || rec.count() >= 3).await);
        let _ = s.stop().await;
        assert!(
            eventually(Duration::from_secs(30), || acked
                .lock()
                .iter()
                .all(|k| rec.has(k)))
            .await
        );
        c.shutdown().await;
        let mut p = MigratingProducer::builder(client())
            .producer_group(unique_name("pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .build()
            .unwrap();
        p.start().await.unwrap();
        for i in 0..12 {
            p.send(message(&topic, &format!("late-{i}"))).await.unwrap();
        }
        let source = pair.source.cluster_config();
        let rows = release::backlog(&source, client(), Some(&group), Some(&topic))
            .await
            .unwrap();
        assert_eq!(
            rows.iter().map(|r| r.unconsumed).sum::<u64>(),
            12,
            "{rows:?}"
        );
        let mut c = consumer(&topic, &group, "", &rec, &dedupe).await;
        let mut left = u64::MAX;
        for _ in 0..100 {
            left = release::backlog(&source, client(), Some(&group), Some(&topic))
                .await
                .unwrap()
                .iter()
                .map(|r| r.unconsumed)
                .sum();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(left, 0);
        c.shutdown().await;
        p.shutdown().await;
    });
}
