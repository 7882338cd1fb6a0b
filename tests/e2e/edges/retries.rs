//! Retries and delayed messages across the walk: every acknowledged message reaches the listener, and a delay
//! longer than anyone waits keeps `completed` refused with the scheduled count.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::control::wire::CheckResult;
use rocketmq_migration::release::{self, BacklogKind};
use rocketmq_migration::{MigratingProducer, Phase};
use rocketmq_model::common::message::message_single::Message;

use super::{prepare, shim_consumer, shim_producer, Ledger, Prepared};
use crate::support::clients::by_key;
use crate::support::plane::{self, advance_when_ready, refusal};
use crate::support::{client, eventually, run, shared};

fn msg(topic: &str, body: &str) -> Message {
    Message::builder()
        .topic(topic)
        .body(body.as_bytes().to_vec())
        .build()
        .unwrap()
}

/// One round of an ordinary application's sends: plain, keyed (selector), batched, delayed (level 3 = 10 s or
/// level 4 = 30 s). Returns the bodies acknowledged.
async fn send_round(p: &MigratingProducer, topic: &str, i: usize) -> Vec<String> {
    let mut acked = Vec::new();
    match i % 4 {
        0 => {
            let b = format!("plain-{i}");
            if p.send(msg(topic, &b)).await.is_ok_and(|r| r.is_some()) {
                acked.push(b);
            }
        }
        1 => {
            let b = format!("keyed-{i}");
            let m = Message::builder()
                .topic(topic)
                .key(format!("order-{}", i % 7))
                .body(b.as_bytes().to_vec())
                .build()
                .unwrap();
            if p.send_with_selector(m, by_key, format!("order-{}", i % 7))
                .await
                .is_ok_and(|r| r.is_some())
            {
                acked.push(b);
            }
        }
        2 => {
            let bodies: Vec<String> = (0..3).map(|j| format!("batch-{i}-{j}")).collect();
            let msgs: Vec<Message> = bodies.iter().map(|b| msg(topic, b)).collect();
            if p.send_batch(msgs).await.is_ok() {
                acked.extend(bodies);
            }
        }
        _ => {
            let level = if i % 8 == 3 { 3 } else { 4 };
            let b = format!("delayed-L{level}-{i}");
            let m = Message::builder()
                .topic(topic)
                .body(b.as_bytes().to_vec())
                .delay_level(level)
                .build()
                .unwrap();
            if p.send(m).await.is_ok_and(|r| r.is_some()) {
                acked.push(b);
            }
        }
    }
    acked
}

/// Every body ending in a multiple of 5 fails its first delivery.
fn flaky(body: &str) -> bool {
    body.rsplit('-')
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n % 5 == 0)
}

#[test]
fn retries_delays_and_batches_walked_to_completed_lose_nothing() {
    run(Duration::from_secs(600), async {
        let p = plane::start(|c| c.quiet_window = Duration::from_secs(3)).await;
        let Prepared { topic, group, ctl } = prepare(&p, "edge_retry", 4, "orders-service").await;
        let producer = Arc::new(shim_producer(&ctl).await);
        let ledger = Ledger::default();
        let mut consumer = shim_consumer(&ctl, &group).build().unwrap();
        consumer.subscribe(&topic, "*").await.unwrap();
        consumer.register_message_listener_concurrently(ledger.listener(flaky));
        consumer.start().await.unwrap();

        let acked = Arc::new(Mutex::new(HashSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let (producer, topic, acked, stop) =
                (producer.clone(), topic.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Acquire) {
                    let got = send_round(&producer, &topic, i).await;
                    acked.lock().extend(got);
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            })
        };

        tokio::time::sleep(Duration::from_secs(2)).await;
        for from in [Phase::Initial, Phase::DualRead, Phase::DualReadWrite] {
            advance_when_ready(&p.admin, &topic, from, Duration::from_secs(120)).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // cutting_over -> completed as soon as the gates allow, remembering what they waited for.
        let mut waited_for: HashSet<String> = HashSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            match p.admin.advance(&topic, Phase::CuttingOver, false).await {
                Ok(_) => break,
                Err(e) => {
                    let r = refusal(&e);
                    assert_eq!(r.body.error, "not_ready", "{e}");
                    waited_for.extend(
                        r.body
                            .checks
                            .iter()
                            .filter(|c: &&CheckResult| !c.passed)
                            .map(|c| c.code.clone()),
                    );
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "completed never allowed: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        assert!(
            waited_for.contains("source_scheduled_zero"),
            "delayed messages sent to the source just before cutting_over were waited for: {waited_for:?}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Release);
        sender.await.unwrap();

        let acked = acked.lock().clone();
        let all = eventually(Duration::from_secs(150), || {
            ledger.missing(&acked).is_empty()
        })
        .await;
        let missing = ledger.missing(&acked);
        assert!(
            all,
            "{} of {} acknowledged messages never reached the listener: {:?}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(20)]
        );
        {
            let l = ledger.0.lock();
            assert!(
                l.twice.is_empty(),
                "consumed twice: {:?}",
                &l.twice[..l.twice.len().min(20)]
            );
            assert!(
                l.failed[0] > 0 && l.retried[0] > 0,
                "retries on the source were exercised: failed {:?}, retried {:?}",
                l.failed,
                l.retried
            );
            assert!(acked.iter().any(|b| b.starts_with("delayed-L4")));
        }
        // The source side lingered past completed and then let go by itself (quiet 15 s), long before the
        // 10-minute cap.
        assert!(
            eventually(Duration::from_secs(120), || !consumer
                .is_connected(rocketmq_migration::Cluster::Source))
            .await,
            "the source-side client retires once nothing more is due there"
        );
        consumer.shutdown().await;
        ctl.shutdown();
    });
}

#[test]
fn a_delay_beyond_the_wait_keeps_completed_refused_with_the_scheduled_count() {
    run(Duration::from_secs(300), async {
        let p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let Prepared { topic, group, ctl } = prepare(&p, "edge_long", 2, "timeouts-service").await;
        let producer = shim_producer(&ctl).await;
        let ledger = Ledger::default();
        let mut consumer = shim_consumer(&ctl, &group).build().unwrap();
        consumer.subscribe(&topic, "*").await.unwrap();
        consumer.register_message_listener_concurrently(ledger.listener(|_| false));
        consumer.start().await.unwrap();
        producer.send(msg(&topic, "plain")).await.unwrap();

        advance_when_ready(&p.admin, &topic, Phase::Initial, Duration::from_secs(60)).await;
        assert!(
            eventually(Duration::from_secs(10), || ctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::DualRead)
            .await
        );
        // Order time-outs: one an hour out by delay level (16 = 30 min), one by timer (delivery in one hour).
        let by_level = Message::builder()
            .topic(&topic)
            .body(b"timeout-by-level".to_vec())
            .delay_level(16)
            .build()
            .unwrap();
        producer.send(by_level).await.unwrap().expect("sent");
        let by_timer = Message::builder()
            .topic(&topic)
            .body(b"timeout-by-timer".to_vec())
            .delay_secs(3600)
            .build()
            .unwrap();
        producer.send(by_timer).await.unwrap().expect("sent");
        for from in [Phase::DualRead, Phase::DualReadWrite] {
            advance_when_ready(&p.admin, &topic, from, Duration::from_secs(60)).await;
        }

        // Every other check passes in time; the scheduled count never goes away.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let scheduled = loop {
            let e = p
                .admin
                .advance(&topic, Phase::CuttingOver, false)
                .await
                .expect_err("completed is refused while messages are scheduled on the source");
            let r = refusal(&e);
            let failing: Vec<&CheckResult> = r.body.checks.iter().filter(|c| !c.passed).collect();
            if failing.len() == 1 {
                break failing[0].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "other checks kept failing: {failing:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert_eq!(scheduled.code, "source_scheduled_zero");
        assert!(
            scheduled.detail.starts_with("2 scheduled on the source")
                && scheduled.detail.contains("2 message(s) sent to"),
            "{}",
            scheduled.detail
        );
        assert!(
            scheduled.detail.contains("latest timer message is due at"),
            "{}",
            scheduled.detail
        );

        // The batch-release gate sees them too.
        let rows = release::backlog(
            &pair.source.cluster_config(),
            client(),
            Some(&group),
            Some(&topic),
        )
        .await
        .unwrap();
        let row = rows
            .iter()
            .find(|r| r.kind == BacklogKind::Scheduled && r.topic == topic)
            .unwrap_or_else(|| panic!("a scheduled row: {rows:?}"));
        assert_eq!(row.unconsumed, 2, "{rows:?}");
        assert_eq!(
            p.admin.phases().await.unwrap().topics[&topic].phase,
            Phase::CuttingOver
        );
        consumer.shutdown().await;
        ctl.shutdown();
    });
}
