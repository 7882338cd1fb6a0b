//! Order-preserving cutover: an orderly topic walked Initial → Completed through the control plane under keyed
//! load keeps every key's sequence in order, with the cutover happening while the source still has a backlog.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, MQPushConsumer,
};
use rocketmq_migration::control::wire::RegisterTopics;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{
    consuming_cluster, Cluster, MigratingProducer, MigratingPushConsumer, Phase,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;

use crate::support::clients::{by_key, cluster_of, message};
use crate::support::plane::{self, advance_when_ready, refusal};
use crate::support::{client, eventually, run, shared};

const KEYS: usize = 6;

/// key -> (sequence number, cluster) in the order the listener saw them.
type Seen = HashMap<String, Vec<(u32, Cluster)>>;

/// Per key, the clusters must run source… then target… (one switch at most), and `what` names the view.
fn assert_one_switch(key: &str, clusters: &[Cluster], what: &str) {
    let switches = clusters.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches <= 1 && clusters.first() != Some(&Cluster::Target) || clusters.is_empty(),
        "{what}: key {key} moved between clusters more than once (or started on the target): {clusters:?}"
    );
}

#[test]
fn orderly_cutover_keeps_every_keys_sequence_in_order() {
    run(Duration::from_secs(300), async {
        let p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let topic = unique_name("orderly");
        pair.create_topic(&client(), &topic, 4).await.unwrap();
        let group = unique_name("ocg");
        pair.target.create_group(&client(), &group).await.unwrap();
        p.admin
            .register_topics(RegisterTopics::new([&topic]).with_orderly(true))
            .await
            .unwrap();
        let ctl = p.client("orderly-app").await;
        assert!(
            eventually(Duration::from_secs(10), || ctl
                .phases()
                .snapshot()
                .topic(&topic)
                .orderly)
            .await
        );

        // An orderly listener that records every key's sequence; while `stall` is set it is slow on source
        // messages, so the cutover happens with a source backlog (the case that reorders without the hold).
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let stall = Arc::new(AtomicBool::new(false));
        let mut consumer = MigratingPushConsumer::builder(client())
            .consumer_group(&group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        consumer.subscribe(topic.as_str(), "*").await.unwrap();
        let (s2, stall2) = (seen.clone(), stall.clone());
        consumer.register_message_listener_orderly(
            move |msgs: &[&MessageExt],
                  _ctx: &mut ConsumeOrderlyContext|
                  -> ClientResult<ConsumeOrderlyStatus> {
                let cluster = consuming_cluster().expect("inside a migrating listener");
                if cluster == Cluster::Source && stall2.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(30));
                }
                let mut s = s2.lock();
                for m in msgs {
                    let body = String::from_utf8_lossy(m.body_slice()).to_string();
                    let (key, seq) = body.split_once(':').unwrap();
                    s.entry(key.to_owned())
                        .or_default()
                        .push((seq.parse().unwrap(), cluster));
                }
                Ok(ConsumeOrderlyStatus::Success)
            },
        );
        consumer.start().await.unwrap();

        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("opg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();

        // One sequential sender per key (per-key FIFO needs one sender at a time per key, as with the raw client).
        let stop = Arc::new(AtomicBool::new(false));
        let landed: Arc<Mutex<HashMap<String, Vec<Cluster>>>> = Arc::default();
        let mut senders = Vec::new();
        for k in 0..KEYS {
            let (producer, stop, landed, topic) = (
                producer.clone(),
                stop.clone(),
                landed.clone(),
                topic.clone(),
            );
            senders.push(tokio::spawn(async move {
                let key = format!("key-{k}");
                let mut seq = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let sent = producer
                        .send_with_selector(
                            message(&topic, &format!("{key}:{seq}")),
                            by_key,
                            key.clone(),
                        )
                        .await;
                    match sent {
                        Ok(Some(r)) => {
                            let broker = r.message_queue.expect("queue").broker_name().to_string();
                            landed
                                .lock()
                                .entry(key.clone())
                                .or_default()
                                .push(cluster_of(&shared().pair, &broker));
                            seq += 1;
                        }
                        // Resend the same sequence number (a new message): the listener check allows the repeat.
                        other => {
                            tracing::warn!(key, seq, ?other, "keyed send failed; resending");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                seq
            }));
        }

        let step = Duration::from_secs(60);
        advance_when_ready(&p.admin, &topic, Phase::Initial, step).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        advance_when_ready(&p.admin, &topic, Phase::DualRead, step).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Keys have not moved yet: the flag is locked from here on.
        let e = p.admin.set_orderly(&topic, false).await.unwrap_err();
        assert_eq!(refusal(&e).body.error, "orderly_locked", "{e}");

        stall.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        advance_when_ready(&p.admin, &topic, Phase::DualReadWrite, step).await;
        let sealed = eventually(Duration::from_secs(30), || {
            let s = ctl.phases().snapshot().topic(&topic);
            s.phase == Phase::CuttingOver && s.sealed
        })
        .await;
        assert!(sealed, "the source was never sealed");
        tokio::time::sleep(Duration::from_secs(1)).await;
        stall.store(false, Ordering::Relaxed);
        let held = consumer.stats().held_back;
        assert!(
            held > 0,
            "target messages arrived before the source was drained and were held: {held}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        advance_when_ready(&p.admin, &topic, Phase::CuttingOver, step).await;
        tokio::time::sleep(Duration::from_secs(1)).await;

        stop.store(true, Ordering::Relaxed);
        let mut expected: HashMap<String, u32> = HashMap::new();
        for (k, h) in senders.into_iter().enumerate() {
            expected.insert(format!("key-{k}"), h.await.unwrap());
        }
        let all = eventually(Duration::from_secs(90), || {
            let s = seen.lock();
            expected.iter().all(|(k, n)| {
                s.get(k)
                    .is_some_and(|v| v.iter().any(|(seq, _)| *seq + 1 == *n))
            })
        })
        .await;
        assert!(all, "not everything was delivered: expected {expected:?}");

        let seen = seen.lock().clone();
        let landed = landed.lock().clone();
        for (key, n) in &expected {
            assert!(*n > 20, "{key}: only {n} messages sent");
            let got = &seen[key];
            // In order, each sequence number once (a resent number may repeat right after itself).
            let mut seqs: Vec<u32> = got.iter().map(|(s, _)| *s).collect();
            seqs.dedup();
            assert_eq!(
                seqs,
                (0..*n).collect::<Vec<_>>(),
                "{key}: out of order, lost or duplicated"
            );
            assert_one_switch(key, &landed[key], "stored");
            let consumed: Vec<Cluster> = got.iter().map(|(_, c)| *c).collect();
            assert_one_switch(key, &consumed, "consumed");
            assert_eq!(
                landed[key].first(),
                Some(&Cluster::Source),
                "{key} started on the source"
            );
            assert_eq!(
                landed[key].last(),
                Some(&Cluster::Target),
                "{key} ended on the target"
            );
        }
        let audit = p.admin.audit(Some(&topic), 100).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "seal" && e.actor == "control-plane"),
            "the seal is audited: {audit:?}"
        );
        let ps = producer.stats();
        assert_eq!(
            ps.failed_over_from,
            [0, 0],
            "orderly topics never fail over"
        );

        consumer.shutdown().await;
        producer.shutdown().await;
        ctl.shutdown();
    });
}
