//! The control plane goes away during DualReadWrite: clients keep working on their last table and resync after.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::control::wire::SyncStatus;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, MigratingProducer, MigratingPushConsumer, Phase};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::support::clients::message;
use crate::support::listener::Recorder;
use crate::support::plane::{self, advance_when_ready};
use crate::support::{client, eventually, run, shared};

#[test]
fn clients_keep_working_while_the_control_plane_is_down_and_resync_when_it_returns() {
    run(Duration::from_secs(240), async {
        let mut p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let topic = unique_name("outage");
        let group = unique_name("cg");
        pair.create_topic(&client(), &topic, 2).await.unwrap();
        pair.target.create_group(&client(), &group).await.unwrap();
        p.admin.register(&[&topic], None).await.unwrap();

        let pctl = p.client("outage-producer").await;
        let cctl = p.client("outage-consumer").await;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&pctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let rec = Recorder::default();
        let mut consumer = MigratingPushConsumer::builder(client())
            .consumer_group(&group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&cctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        consumer.subscribe(&topic, "*").await.unwrap();
        consumer.register_message_listener_concurrently(rec.listener());
        consumer.start().await.unwrap();

        advance_when_ready(&p.admin, &topic, Phase::Initial, Duration::from_secs(30)).await;
        advance_when_ready(&p.admin, &topic, Phase::DualRead, Duration::from_secs(30)).await;
        assert!(
            eventually(Duration::from_secs(10), || pctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::DualReadWrite)
            .await
        );

        // Steady traffic from here to the end.
        let acked = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let sender = tokio::spawn({
            let (producer, acked, errors, stop, topic) = (
                producer.clone(),
                acked.clone(),
                errors.clone(),
                stop.clone(),
                topic.clone(),
            );
            async move {
                let mut i = 0;
                while !stop.load(Ordering::Acquire) {
                    match producer.send(message(&topic, &format!("m{i}"))).await {
                        Ok(Some(r)) => acked.lock().push(r.msg_id.unwrap().to_string()),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;

        p.stop().await;
        assert!(
            eventually(Duration::from_secs(10), || pctl.status()
                == SyncStatus::Stale
                && cctl.status() == SyncStatus::Stale)
            .await,
            "both clients turn STALE"
        );
        let during = acked.lock().len();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            acked.lock().len() > during + 20,
            "sends go on while the control plane is down"
        );
        assert_eq!(
            pctl.phases().snapshot().phase(&topic),
            Phase::DualReadWrite,
            "fail-static"
        );

        p.restart().await;
        assert!(
            eventually(Duration::from_secs(15), || pctl.status()
                == SyncStatus::Fresh
                && cctl.status() == SyncStatus::Fresh)
            .await,
            "both clients resync"
        );
        advance_when_ready(
            &p.admin,
            &topic,
            Phase::DualReadWrite,
            Duration::from_secs(30),
        )
        .await;
        assert!(
            eventually(Duration::from_secs(10), || pctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::CuttingOver
                && cctl.phases().snapshot().phase(&topic) == Phase::CuttingOver)
            .await
        );
        let target_before = producer.stats().sent_to(Cluster::Target);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let source_now = producer.stats().sent_to(Cluster::Source);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            producer.stats().sent_to(Cluster::Source),
            source_now,
            "CuttingOver writes the target only"
        );
        assert!(producer.stats().sent_to(Cluster::Target) > target_before);

        stop.store(true, Ordering::Release);
        sender.await.unwrap();
        assert_eq!(errors.load(Ordering::Relaxed), 0, "no send failed");
        let acked = acked.lock().clone();
        assert!(
            eventually(Duration::from_secs(60), || acked.iter().all(|k| rec.has(k))).await,
            "lost {} of {}",
            acked.iter().filter(|k| !rec.has(k)).count(),
            acked.len()
        );
        assert!(rec.duplicates().is_empty());
        let clients = p.admin.clients().await.unwrap();
        assert_eq!(clients.iter().filter(|c| c.live).count(), 2, "{clients:?}");
        consumer.shutdown().await;
        producer.shutdown().await;
        p.stop().await;
    });
}
