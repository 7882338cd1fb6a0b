//! Under load, the recommended runtime admits every listener call: no message comes back as a redelivery.

use std::time::Duration;

use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Phase, PhaseHandle};

use crate::support::clients::{consumer, message, producer};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

#[test]
fn two_thousand_messages_through_both_consumers_without_admission_failures() {
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let topic = unique_name("LoadTopic");
        pair.create_topic(&support::client(), &topic, 8)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualReadWrite).unwrap();
        let p = producer(pair, &phases).await;
        let mut keys = Vec::new();
        // Send before the consumer starts, so it meets a backlog of 2,000 messages on two clusters at once.
        for chunk in 0..20 {
            let mut sends = tokio::task::JoinSet::new();
            for i in 0..100 {
                let (p, topic) = (p.clone(), topic.clone());
                // Spawned: the shim's send futures are Send, like the raw client's.
                sends.spawn(async move {
                    p.send_with_timeout(message(&topic, &format!("load {chunk} {i}")), 10_000)
                        .await
                });
            }
            for r in sends.join_all().await {
                keys.push(
                    r.expect("send")
                        .expect("result")
                        .msg_id
                        .unwrap()
                        .to_string(),
                );
            }
        }
        let rec = Recorder::default();
        let mut c = consumer(pair, &phases, &unique_name("load_cg"), &topic, &rec, None).await;
        let all = eventually(Duration::from_secs(120), || keys.iter().all(|k| rec.has(k))).await;
        assert!(all, "received {} of {}", rec.count(), keys.len());
        let redelivered = rec.0.lock().redelivered;
        assert_eq!(
            redelivered, 0,
            "listener calls were refused and redelivered"
        );
        assert_eq!(c.stats().listener_failures, 0);
        c.shutdown().await;
        let mut p = p;
        p.shutdown().await;
    });
}
