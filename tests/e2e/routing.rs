//! For each phase: sends land where the table says, and the consumer reads what the table says.

use std::time::Duration;

use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, LingerSettings, Phase, PhaseHandle, WritePlan};

use crate::support::clients::{cluster_of, consumer_lingering, message, producer, raw_send};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

#[test]
fn each_phase_writes_and_reads_where_the_table_says() {
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let topic = unique_name("RouteTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        let mut producer = producer(pair, &phases).await;
        let rec = Recorder::default();
        // Without linger: the source is dropped the moment Completed stops reading it (lingering is tested in
        // `edges` and `lite_pull`).
        let mut consumer = consumer_lingering(
            pair,
            &phases,
            &unique_name("route_cg"),
            &topic,
            &rec,
            None,
            LingerSettings::off(),
        )
        .await;

        // Written to the target before anything reads it: found once the target group attaches.
        let early = raw_send(pair, Cluster::Target, &topic, "early").await;
        assert!(
            !producer.is_connected(Cluster::Target),
            "target client starts lazily"
        );

        for phase in Phase::ALL {
            phases.set_phase(&topic, phase).expect("set phase");
            consumer.reconcile().await.expect("reconcile");
            let read = phase.read_set();
            for side in Cluster::BOTH {
                let subscribed = consumer.subscribed_topics(side).await.contains(&topic);
                assert_eq!(
                    subscribed,
                    read.contains(side),
                    "{phase}: {side} subscription"
                );
            }
            let mut landed = [0usize; 2];
            let mut keys = Vec::new();
            for i in 0..40 {
                let r = producer
                    .send_with_timeout(message(&topic, &format!("{phase} {i}")), 5000)
                    .await
                    .expect("send")
                    .expect("sync result");
                let mq = r.message_queue.expect("queue");
                landed[cluster_of(pair, mq.broker_name().as_str()).index()] += 1;
                keys.push(r.msg_id.expect("msg id").to_string());
            }
            match phase.write_plan() {
                WritePlan::Source => assert_eq!(landed, [40, 0], "{phase}"),
                WritePlan::Target => assert_eq!(landed, [0, 40], "{phase}"),
                WritePlan::Split => assert!(landed[0] > 0 && landed[1] > 0, "{phase}: {landed:?}"),
            }
            let all = eventually(Duration::from_secs(60), || keys.iter().all(|k| rec.has(k))).await;
            assert!(
                all,
                "{phase}: {} of 40 received",
                keys.iter().filter(|k| rec.has(k)).count()
            );
            if read.target {
                assert!(
                    eventually(Duration::from_secs(60), || rec.has(&early)).await,
                    "{phase}: early target message"
                );
            }
        }

        // Completed: the source is no longer read; its client is gone.
        assert!(!consumer.is_connected(Cluster::Source));
        let stray = raw_send(pair, Cluster::Source, &topic, "stray").await;
        let marker = producer
            .send_with_timeout(message(&topic, "marker"), 5000)
            .await
            .unwrap()
            .unwrap();
        let marker = marker.msg_id.unwrap().to_string();
        assert!(eventually(Duration::from_secs(60), || rec.has(&marker)).await);
        assert!(
            !rec.has(&stray),
            "a Completed topic must not be read from the source"
        );
        assert!(
            rec.duplicates().is_empty(),
            "duplicates: {:?}",
            rec.duplicates()
        );
        let stats = producer.stats();
        assert_eq!(stats.sent.iter().sum::<u64>(), 201);

        consumer.shutdown().await;
        producer.shutdown().await;
    });
}

#[test]
fn an_unreachable_target_does_not_matter_while_topics_are_initial() {
    support::run(Duration::from_secs(120), async {
        let pair = &support::shared().pair;
        let topic = unique_name("LazyTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let nowhere = rocketmq_migration::ClusterConfig::new(format!(
            "127.0.0.1:{}",
            rocketmq_migration::testkit::free_port().unwrap()
        ));
        let phases = PhaseHandle::new();
        let mut p = rocketmq_migration::MigratingProducer::builder(support::client())
            .producer_group(unique_name("lazy_pg"))
            .source(pair.source.cluster_config())
            .target(nowhere.clone())
            .phases(phases.clone())
            .build()
            .unwrap();
        p.start().await.expect("starts without the target");
        let rec = Recorder::default();
        let mut c = rocketmq_migration::MigratingPushConsumer::builder(support::client())
            .consumer_group(unique_name("lazy_cg"))
            .source(pair.source.cluster_config())
            .target(nowhere)
            .phases(phases.clone())
            .consume_from_where(rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        c.subscribe(topic.as_str(), "*").await.unwrap();
        c.register_message_listener_concurrently(rec.listener());
        c.start().await.expect("starts without the target");
        let mut keys = Vec::new();
        for i in 0..10 {
            let r = p
                .send_with_timeout(message(&topic, &format!("lazy {i}")), 5000)
                .await
                .unwrap()
                .unwrap();
            keys.push(r.msg_id.unwrap().to_string());
        }
        assert!(eventually(Duration::from_secs(60), || keys.iter().all(|k| rec.has(k))).await);
        assert!(!p.is_connected(Cluster::Target));
        assert!(!c.is_connected(Cluster::Target));
        c.shutdown().await;
        p.shutdown().await;
    });
}
