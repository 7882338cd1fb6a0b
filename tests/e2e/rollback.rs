//! A topic walked Initial → Completed → Initial → Completed while two producers and two consumer instances of one
//! group run without pause: every acknowledged message reaches the listener at least once, none twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::dedupe::{Deduplicator, MemoryDeduplicator};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, Phase, PhaseHandle};

use crate::support::clients::{consumer, message, producer};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

/// What one producer task has done: acknowledged keys by cluster, and the newest table version it sent under.
#[derive(Default)]
struct Sent {
    acked: Mutex<HashMap<String, Cluster>>,
    failures: AtomicU64,
    sends_at_version: Mutex<(u64, u64)>, // (version, sends completed under it)
}

#[test]
fn walking_forward_back_and_forward_loses_nothing_and_delivers_once() {
    support::run(Duration::from_secs(600), async {
        let pair = &support::shared().pair;
        let topic = unique_name("WalkTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_write_ratio(&topic, 0.5).unwrap();

        // Two instances of one group, sharing one dedupe store (as instances sharing e.g. Redis would).
        let group = unique_name("walk_cg");
        let rec = Recorder::default();
        let dedupe: Arc<dyn Deduplicator> = Arc::new(MemoryDeduplicator::default());
        let mut c1 = consumer(pair, &phases, &group, &topic, &rec, Some(dedupe.clone())).await;
        let mut c2 = consumer(pair, &phases, &group, &topic, &rec, Some(dedupe.clone())).await;

        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let mut sent = Vec::new();
        for n in 0..2 {
            let p = producer(pair, &phases).await;
            let s = Arc::new(Sent::default());
            sent.push(s.clone());
            let (stop, phases, topic) = (stop.clone(), phases.clone(), topic.clone());
            let (src, dst) = (
                pair.source.broker_name().to_owned(),
                pair.target.broker_name().to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Acquire) {
                    let version = phases.snapshot().max_version();
                    match p
                        .send_with_timeout(message(&topic, &format!("p{n} m{i}")), 5000)
                        .await
                    {
                        Ok(Some(r)) => {
                            let broker = r
                                .message_queue
                                .as_ref()
                                .map(|q| q.broker_name().to_string())
                                .unwrap_or_default();
                            let cluster = if broker == src {
                                Cluster::Source
                            } else {
                                assert_eq!(broker, dst);
                                Cluster::Target
                            };
                            s.acked
                                .lock()
                                .insert(r.msg_id.unwrap().to_string(), cluster);
                        }
                        other => {
                            eprintln!("send failed: {other:?}");
                            s.failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let mut v = s.sends_at_version.lock();
                    *v = if v.0 == version {
                        (version, v.1 + 1)
                    } else {
                        (version, 1)
                    };
                    i += 1;
                }
                p
            }));
        }

        let mut walk: Vec<Phase> = Phase::ALL[1..].to_vec();
        walk.extend(Phase::ALL[..4].iter().rev());
        walk.extend(&Phase::ALL[1..]);
        let mut current = Phase::Initial;
        for next in walk {
            // Before a step that stops reading a cluster, everything acknowledged there must have been consumed.
            let dropped = Cluster::BOTH
                .into_iter()
                .find(|c| current.read_set().contains(*c) && !next.read_set().contains(*c));
            if let Some(side) = dropped {
                let keys: Vec<String> = sent
                    .iter()
                    .flat_map(|s| {
                        s.acked
                            .lock()
                            .iter()
                            .filter(|(_, c)| **c == side)
                            .map(|(k, _)| k.clone())
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let drained =
                    eventually(Duration::from_secs(90), || keys.iter().all(|k| rec.has(k))).await;
                assert!(drained, "{current} -> {next}: {side} not drained");
            }
            let state = phases.set_phase(&topic, next).unwrap();
            c1.reconcile().await.expect("reconcile c1");
            c2.reconcile().await.expect("reconcile c2");
            // Every producer has finished 20 sends decided under the new table, so none is still in flight
            // under the old one.
            let moved = eventually(Duration::from_secs(60), || {
                sent.iter().all(|s| {
                    let v = *s.sends_at_version.lock();
                    v.0 >= state.version && v.1 >= 20
                })
            })
            .await;
            assert!(moved, "producers did not move to {next}");
            let st = [c1.stats(), c2.stats()];
            println!(
                "{current:>15} -> {next:<15} received source {} target {}, duplicates suppressed {}",
                st[0].received[0] + st[1].received[0],
                st[0].received[1] + st[1].received[1],
                st[0].duplicates_suppressed + st[1].duplicates_suppressed
            );
            current = next;
        }

        stop.store(true, Ordering::Release);
        let mut producers = Vec::new();
        for t in tasks {
            producers.push(t.await.expect("producer task"));
        }
        let acked: Vec<String> = sent
            .iter()
            .flat_map(|s| s.acked.lock().keys().cloned().collect::<Vec<_>>())
            .collect();
        let all = eventually(Duration::from_secs(120), || {
            acked.iter().all(|k| rec.has(k))
        })
        .await;
        let lost: Vec<&String> = acked.iter().filter(|k| !rec.has(k)).collect();
        assert!(
            all,
            "lost {} of {}: {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(5)]
        );
        assert!(
            rec.duplicates().is_empty(),
            "duplicates reached the listener: {:?}",
            rec.duplicates()
        );
        let failures: u64 = sent
            .iter()
            .map(|s| s.failures.load(Ordering::Relaxed))
            .sum();
        assert_eq!(failures, 0, "sends failed without any fault injected");
        let by_cluster = |c: Cluster| {
            sent.iter()
                .map(|s| s.acked.lock().values().filter(|x| **x == c).count())
                .sum::<usize>()
        };
        assert!(by_cluster(Cluster::Source) > 0 && by_cluster(Cluster::Target) > 0);
        println!(
            "acked {} (source {}, target {}), received {}, lost 0",
            acked.len(),
            by_cluster(Cluster::Source),
            by_cluster(Cluster::Target),
            rec.count()
        );

        for mut p in producers {
            p.shutdown().await;
        }
        c1.shutdown().await;
        c2.shutdown().await;
    });
}
