//! A broker of one cluster stopped during DualReadWrite: sends fail over, nothing acknowledged is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{Cluster, Phase, PhaseHandle};

use crate::support::clients::{consumer, message, producer};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

#[test]
fn source_broker_down_during_dual_read_write_fails_over_and_loses_nothing() {
    support::run(Duration::from_secs(400), async {
        // A pair of its own: this test stops a broker.
        let mut pair = ClusterPair::start().await.expect("pair");
        let topic = unique_name("FailoverTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualReadWrite).unwrap();
        phases.set_write_ratio(&topic, 0.5).unwrap();
        let rec = Recorder::default();
        let mut c = consumer(&pair, &phases, &unique_name("fo_cg"), &topic, &rec, None).await;
        let p = producer(&pair, &phases).await;

        // key -> (broker that acknowledged it, send number, phase of the test when it was sent)
        let acked = Arc::new(Mutex::new(HashMap::<String, (String, usize, usize)>::new()));
        let stage = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failures = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (p, acked, failures, stop, topic, stage) = (
                p.clone(),
                acked.clone(),
                failures.clone(),
                stop.clone(),
                topic.clone(),
                stage.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Acquire) {
                    match p
                        .send_with_timeout(message(&topic, &format!("m{i}")), 5000)
                        .await
                    {
                        Ok(Some(r)) => {
                            let broker = r
                                .message_queue
                                .map(|q| q.broker_name().to_string())
                                .unwrap_or_default();
                            acked.lock().insert(
                                r.msg_id.unwrap().to_string(),
                                (broker, i, stage.load(Ordering::Acquire)),
                            );
                        }
                        other => {
                            eprintln!("send failed: {other:?}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
            })
        };

        let source_broker = pair.source.broker_name().to_owned();
        let on_source = || {
            acked
                .lock()
                .values()
                .filter(|(b, _, _)| *b == source_broker)
                .count()
        };
        assert!(
            eventually(Duration::from_secs(60), || on_source() >= 30).await,
            "traffic reached the source"
        );
        stage.store(1, Ordering::Release);
        pair.source.stop_broker().await;
        stage.store(2, Ordering::Release);
        let before = p.stats();
        // While the source is down, sends keep being acknowledged (by the target).
        let acked_at_stop = acked.lock().len();
        assert!(
            eventually(Duration::from_secs(60), || acked.lock().len()
                >= acked_at_stop + 100)
            .await,
            "sends continue"
        );
        assert!(
            p.stats().failed_over_from[Cluster::Source.index()] > before.failed_over_from[0],
            "{:?}",
            p.stats()
        );
        stage.store(3, Ordering::Release);
        pair.source.restart_broker().await.expect("restart");
        stage.store(4, Ordering::Release);
        let on_source_at_restart = on_source();
        assert!(
            eventually(Duration::from_secs(90), || on_source()
                >= on_source_at_restart + 30)
            .await,
            "source takes sends again"
        );
        stop.store(true, Ordering::Release);
        task.await.expect("producer task");

        let keys: Vec<String> = acked.lock().keys().cloned().collect();
        let all = eventually(Duration::from_secs(120), || keys.iter().all(|k| rec.has(k))).await;
        let lost: Vec<(String, (String, usize, usize))> = {
            let a = acked.lock();
            keys.iter()
                .filter(|k| !rec.has(k))
                .map(|k| (k.clone(), a[k].clone()))
                .collect()
        };
        // stage: 0 before the stop, 1 while stopping, 2 stopped, 3 restarting, 4 after the restart
        if !all {
            // rocketmq-broker 1.0.0 can assign a queue offset that its consume queue already holds to a message
            // written right after a restart that followed a shutdown under load ("Build consume queue repeatedly
            // ... Diff: -20" in its log). Such a message is stored but no consumer can ever read it. Tell that
            // apart from a loss in the shim: a fresh raw consumer of the source, reading from the first offset,
            // must not see any of the missing messages either, while it does see every other message the source
            // acknowledged.
            let source_keys: Vec<String> = acked
                .lock()
                .iter()
                .filter(|(k, (b, _, _))| *b == source_broker && rec.has(k))
                .map(|(k, _)| k.clone())
                .collect();
            let raw = raw_read_all(pair.source.name_server_addr(), &topic, &source_keys).await;
            for (key, (broker, _, stage)) in &lost {
                assert_eq!(
                    broker, &source_broker,
                    "a message acknowledged by the target was lost: {key}"
                );
                assert_eq!(
                    *stage, 4,
                    "lost message {key} was not written after the restart"
                );
                assert!(
                    !raw.has(key),
                    "the broker serves {key}, but the migrating consumer never delivered it"
                );
            }
            eprintln!(
                "broker-level loss: {} message(s) acknowledged by the restarted source broker are unreadable \
                 by any consumer (upstream rocketmq-broker 1.0.0 recovery); the shim lost nothing: {lost:?}",
                lost.len()
            );
        }
        assert_eq!(
            failures.load(Ordering::Relaxed),
            0,
            "a send failed although the target was up"
        );
        println!(
            "acked {}, failed over {:?}, lost by the shim 0",
            keys.len(),
            p.stats().failed_over_from
        );

        c.shutdown().await;
        let mut p = p;
        p.shutdown().await;
        pair.shutdown().await;
    });
}

/// Read `topic` on one cluster with a fresh raw consumer group from the first offset, until every key in
/// `expected` arrived (or 60 s passed); returns what it read.
async fn raw_read_all(namesrv: &str, topic: &str, expected: &[String]) -> Recorder {
    use rocketmq_client_rust::DefaultMQPushConsumer;
    use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
    let rec = Recorder::default();
    let mut c = DefaultMQPushConsumer::builder(support::client())
        .consumer_group(unique_name("fo_audit_cg"))
        .name_server_addr(namesrv.to_owned())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    c.subscribe(topic, "*").await.expect("audit subscribe");
    c.register_message_listener_concurrently(rec.listener());
    c.start().await.expect("audit consumer start");
    let complete = eventually(Duration::from_secs(60), || {
        expected.iter().all(|k| rec.has(k))
    })
    .await;
    c.shutdown().await;
    assert!(
        complete,
        "the audit consumer could not read the source's other messages"
    );
    rec
}
