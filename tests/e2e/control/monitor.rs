//! Migration monitoring end to end: the series of a topic in `dual_read_write` shows the write split per cluster
//! (stored rates from the brokers, the shim's per-topic send counts), consumption, and the whole task's series;
//! per-topic traffic counts a client's sends to that topic only.

use std::time::Duration;

use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::control::wire::MonitorDoc;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, MigratingProducer, MigratingPushConsumer, Phase};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::support::clients::message;
use crate::support::listener::Recorder;
use crate::support::plane::{self, advance_when_ready};
use crate::support::{client, eventually, run, shared};

fn sum(
    doc: &MonitorDoc,
    f: impl Fn(&rocketmq_migration::control::wire::MonitorPoint) -> u64,
) -> u64 {
    doc.points.iter().map(f).sum()
}

#[test]
fn the_monitor_series_shows_the_write_split_in_dual_read_write() {
    run(Duration::from_secs(240), async {
        let p = plane::start(|c| c.monitor_every = Duration::from_secs(1)).await;
        let pair = &shared().pair;
        let (topic, other, group) = (
            unique_name("mon"),
            unique_name("mon_other"),
            unique_name("mon_cg"),
        );
        pair.create_topic(&client(), &topic, 4).await.unwrap();
        pair.create_topic(&client(), &other, 2).await.unwrap();
        pair.target.create_group(&client(), &group).await.unwrap();
        p.admin
            .register(&[&topic, &other], Some(0.5))
            .await
            .unwrap();
        let ctl = p.client("monitor-app").await;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("mon_pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let rec = Recorder::default();
        let mut consumer = MigratingPushConsumer::builder(client())
            .consumer_group(&group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        consumer.subscribe(&topic, "*").await.unwrap();
        consumer.register_message_listener_concurrently(rec.listener());
        consumer.start().await.unwrap();
        for from in [Phase::Initial, Phase::DualRead] {
            advance_when_ready(&p.admin, &topic, from, Duration::from_secs(60)).await;
        }
        assert!(
            eventually(Duration::from_secs(10), || ctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::DualReadWrite)
            .await
        );
        // Three seconds of sends with the write ratio at 0.5, plus a few to the other topic.
        let n = 120;
        for i in 0..n {
            producer
                .send(message(&topic, &format!("split-{i}")))
                .await
                .unwrap();
            if i % 40 == 0 {
                producer.send(message(&other, "other")).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let stats = producer.stats();
        let (to_source, to_target) = (
            stats.sent_to(Cluster::Source),
            stats.sent_to(Cluster::Target),
        );
        assert!(to_source > 0 && to_target > 0, "{stats:?}");
        assert!(eventually(Duration::from_secs(60), || rec.count() == n).await);

        // The topic's series: each cluster's share of the shim's sends, stored there, consumed there.
        let mut doc = None;
        let mut last = None;
        for _ in 0..60 {
            let d = p.admin.monitor(Some(&topic), "300s", None).await.unwrap();
            let sent = sum(&d, |p| p.source.sent) + sum(&d, |p| p.target.sent);
            let consumed_target = d
                .points
                .iter()
                .any(|p| p.target.consumed_per_s.unwrap_or(0.0) > 0.0);
            if sent == n as u64 && consumed_target {
                doc = Some(d);
                break;
            }
            last = Some((sent, d));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let doc = doc.unwrap_or_else(|| {
            panic!("the monitor counts every send ({n}) and the target's consumption: {last:?}")
        });
        assert_eq!(doc.resolution_s, 1);
        assert_eq!(doc.topic.as_deref(), Some(topic.as_str()));
        let (doc_source, doc_target) = (sum(&doc, |p| p.source.sent), sum(&doc, |p| p.target.sent));
        assert!(
            doc_source > 0 && doc_target > 0,
            "both clusters written: {doc:?}"
        );
        for side in [
            |p: &rocketmq_migration::control::wire::MonitorPoint| p.source.stored_per_s,
            |p: &rocketmq_migration::control::wire::MonitorPoint| p.target.stored_per_s,
        ] {
            assert!(
                doc.points.iter().any(|p| side(p).unwrap_or(0.0) > 0.0),
                "messages stored on both clusters: {doc:?}"
            );
        }
        // The whole task's series counts both topics.
        let task = p.admin.monitor(None, "300s", None).await.unwrap();
        assert_eq!(task.topic, None);
        let task_sent = sum(&task, |p| p.source.sent) + sum(&task, |p| p.target.sent);
        assert!(task_sent >= n as u64 + 3, "task {task_sent}");
        // Merged points: fewer, same totals.
        let merged = p
            .admin
            .monitor(Some(&topic), "300s", Some(5))
            .await
            .unwrap();
        assert_eq!(merged.resolution_s, 5);
        assert_eq!(
            sum(&merged, |p| p.source.sent) + sum(&merged, |p| p.target.sent),
            n as u64
        );

        // Per-topic traffic: the producer's sends to the other topic are not counted for this one.
        let views = p.admin.topics().await.unwrap();
        let v = views.iter().find(|v| v.topic == topic).unwrap();
        assert_eq!(
            (v.source.sent_by_clients, v.target.sent_by_clients),
            (doc_source, doc_target)
        );
        let o = views.iter().find(|v| v.topic == other).unwrap();
        assert_eq!(o.source.sent_by_clients + o.target.sent_by_clients, 3);
        // The producer's totals are the sums over both topics.
        assert_eq!(
            (to_source, to_target),
            (
                doc_source + o.source.sent_by_clients,
                doc_target + o.target.sent_by_clients
            )
        );

        // Prometheus carries the last point per topic and for the task.
        let text = reqwest::get(format!("{}/metrics", p.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("rmq_migration_monitor_stored_per_second{topic=\"\",cluster=\"source\"}"),
            "{text}"
        );
        let e = p
            .admin
            .monitor(Some("never_registered"), "1h", None)
            .await
            .unwrap_err();
        assert_eq!(plane::refusal(&e).body.error, "unknown_topic");
        let e = p.admin.monitor(None, "yesterday", None).await.unwrap_err();
        assert!(plane::refusal(&e).body.message.contains("since"), "{e}");

        consumer.shutdown().await;
        producer.shutdown().await;
        ctl.shutdown();
    });
}
