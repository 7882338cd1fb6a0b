//! `MigratingLitePullConsumer` on the embedded clusters: merged polls, per-cluster commits, dedupe, pause/resume,
//! seek, assign, and a phase walk under a migrating producer.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_migration::dedupe::{KeyExtractor, UniqKey};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{Cluster, ErrorKind, MigratingLitePullConsumer, Phase, PhaseHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::support::clients::{cluster_of, message, producer};
use crate::support::{self, eventually};

fn key(m: &MessageExt) -> String {
    UniqKey.key(m).expect("every test message has a UNIQ_KEY")
}

fn queue(m: &MessageExt) -> MessageQueue {
    MessageQueue::from_parts(m.topic().clone(), m.broker_name.clone(), m.queue_id())
}

async fn lite(
    pair: &ClusterPair,
    phases: &PhaseHandle,
    group: &str,
    auto_commit: bool,
) -> MigratingLitePullConsumer {
    MigratingLitePullConsumer::builder(support::client())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .auto_commit(auto_commit)
        .pull_batch_size(8)
        .build()
        .expect("build")
}

/// A started raw producer per cluster, `[source, target]`.
async fn raw_producers(pair: &ClusterPair) -> Vec<DefaultMQProducer> {
    let mut out = Vec::new();
    for side in Cluster::BOTH {
        let mut p = DefaultMQProducer::builder(support::client())
            .producer_group(unique_name("lp_raw_pg"))
            .name_server_addr(pair.cluster(side).name_server_addr().to_owned())
            .build();
        p.start().await.expect("raw producer start");
        out.push(p);
    }
    out
}

/// Send `body` through `p` (to `mq` when given); returns the UNIQ_KEY and the queue it landed on.
async fn send(
    p: &DefaultMQProducer,
    topic: &str,
    body: &str,
    mq: Option<&MessageQueue>,
) -> (String, MessageQueue) {
    let msg = message(topic, body);
    let r = match mq {
        Some(q) => p.send_to_queue_with_timeout(msg, q.clone(), 5000).await,
        None => p.send_with_timeout(msg, 5000).await,
    }
    .expect("send")
    .expect("result");
    (
        r.msg_id.expect("msg id").to_string(),
        r.message_queue.expect("queue"),
    )
}

/// Poll (500 ms at a time) into `got` until `done(got)` holds or `limit` passes; returns whether it held.
async fn poll_until(
    c: &MigratingLitePullConsumer,
    got: &mut Vec<MessageExt>,
    limit: Duration,
    mut done: impl FnMut(&[MessageExt]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done(got) {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        got.extend(c.poll_with_timeout(500).await);
    }
}

fn counts(got: &[MessageExt]) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for m in got {
        *n.entry(key(m)).or_insert(0) += 1;
    }
    n
}

#[test]
fn poll_merges_both_clusters_once_and_commits_on_each_cluster() {
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let topic = unique_name("LpMergeTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualRead).unwrap();
        let raw = raw_producers(pair).await;

        // 10 on the source only, 10 on the target only, 10 stored on both (same UNIQ_KEY).
        let mut expected: HashSet<String> = HashSet::new();
        for (i, p) in raw.iter().enumerate() {
            for n in 0..10 {
                expected.insert(send(p, &topic, &format!("side {i} #{n}"), None).await.0);
            }
        }
        for n in 0..10 {
            let mut msg = message(&topic, &format!("both #{n}"));
            MessageClientIDSetter::set_uniq_id(&mut msg);
            let k = MessageClientIDSetter::get_uniq_id(&msg)
                .unwrap()
                .to_string();
            for p in &raw {
                let r = p
                    .send_with_timeout(msg.clone(), 5000)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(r.msg_id.unwrap().to_string(), k);
            }
            expected.insert(k);
        }

        let group = unique_name("lp_merge_cg");
        let c = lite(pair, &phases, &group, false).await;
        c.subscribe(&topic).await.expect("subscribe");
        c.start().await.expect("start");

        let mut got = Vec::new();
        // Every key arrives, and both clusters' copies of the shared ones were polled (the second suppressed).
        let all = poll_until(&c, &mut got, Duration::from_secs(90), |g| {
            let s = c.stats();
            counts(g).len() == expected.len() && s.received[0] >= 20 && s.received[1] >= 20
        })
        .await;
        assert!(
            all,
            "got {} of {} keys; {:?}",
            counts(&got).len(),
            expected.len(),
            c.stats()
        );
        // With auto-commit off, a returned key is in flight until the commit: its other copy is held back, and
        // suppressed as a duplicate once the commit made the key consumed.
        c.commit_sync().await;
        let suppressed = poll_until(&c, &mut got, Duration::from_secs(60), |_| {
            c.stats().duplicates_suppressed >= 10
        })
        .await;
        assert!(suppressed, "{:?}", c.stats());
        let n = counts(&got);
        assert!(n.keys().all(|k| expected.contains(k)), "only the keys sent");
        let twice: Vec<_> = n.iter().filter(|(_, v)| **v > 1).collect();
        assert!(twice.is_empty(), "returned more than once: {twice:?}");
        let stats = c.stats();
        assert_eq!(stats.duplicates_suppressed, 10, "{stats:?}");
        let from: HashSet<Cluster> = got
            .iter()
            .map(|m| cluster_of(pair, &m.broker_name))
            .collect();
        assert_eq!(from.len(), 2, "messages from both clusters");

        // Each cluster commits its own queues: 20 messages stored on each, all polled or suppressed.
        c.commit_sync().await;
        let queues = c.fetch_message_queues(&topic).await.expect("queues");
        assert_eq!(queues.len(), 8, "4 queues on each cluster: {queues:?}");
        let mut committed = [0i64; 2];
        for q in &queues {
            let side = c.cluster_of(q).await.expect("cluster of a route's queue");
            assert_eq!(side, cluster_of(pair, q.broker_name().as_str()));
            committed[side.index()] += c.committed(q).await.expect("committed").max(0);
        }
        assert_eq!(committed, [20, 20], "committed offsets per cluster");
        c.shutdown().await;

        // A new instance of the group starts after the committed offsets on both clusters.
        let c2 = lite(pair, &phases, &group, false).await;
        c2.subscribe(&topic).await.expect("subscribe");
        c2.start().await.expect("start");
        let markers = [
            send(&raw[0], &topic, "marker source", None).await.0,
            send(&raw[1], &topic, "marker target", None).await.0,
        ];
        let mut again = Vec::new();
        let both = poll_until(&c2, &mut again, Duration::from_secs(90), |g| {
            let n = counts(g);
            markers.iter().all(|m| n.contains_key(m))
        })
        .await;
        assert!(both, "markers from both clusters");
        let old: Vec<String> = again
            .iter()
            .map(key)
            .filter(|k| expected.contains(k))
            .collect();
        assert!(old.is_empty(), "committed messages polled again: {old:?}");
        c2.shutdown().await;
        for mut p in raw {
            p.shutdown().await;
        }
    });
}

#[test]
fn pause_resume_and_seek_on_a_target_queue() {
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let topic = unique_name("LpSeekTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualRead).unwrap();
        let raw = raw_producers(pair).await;
        let c = lite(pair, &phases, &unique_name("lp_seek_cg"), true).await;
        c.subscribe(&topic).await.expect("subscribe");
        c.start().await.expect("start");

        let queues = c.fetch_message_queues(&topic).await.expect("queues");
        let q = queues
            .iter()
            .find(|q| cluster_of(pair, q.broker_name().as_str()) == Cluster::Target)
            .expect("a target queue")
            .clone();
        let other = queues
            .iter()
            .find(|o| {
                cluster_of(pair, o.broker_name().as_str()) == Cluster::Target
                    && o.queue_id() != q.queue_id()
            })
            .expect("another target queue")
            .clone();
        // First round: 4 on q, 4 on another target queue; all polled.
        let mut on_q = Vec::new();
        let mut on_other = Vec::new();
        for n in 0..4 {
            on_q.push(send(&raw[1], &topic, &format!("q #{n}"), Some(&q)).await.0);
            on_other.push(
                send(&raw[1], &topic, &format!("o #{n}"), Some(&other))
                    .await
                    .0,
            );
        }
        let mut got = Vec::new();
        let first = poll_until(&c, &mut got, Duration::from_secs(90), |g| {
            let n = counts(g);
            on_q.iter().chain(&on_other).all(|k| n.contains_key(k))
        })
        .await;
        assert!(first, "first round polled");

        // Paused: new messages of q stay unpolled while the other queue's arrive; resumed: they arrive.
        c.pause(vec![q.clone()]).await;
        assert!(c.is_paused(&q).await);
        let mut paused_q = Vec::new();
        let mut paused_other = Vec::new();
        for n in 0..3 {
            paused_q.push(send(&raw[1], &topic, &format!("pq #{n}"), Some(&q)).await.0);
            paused_other.push(
                send(&raw[1], &topic, &format!("po #{n}"), Some(&other))
                    .await
                    .0,
            );
        }
        let mut during = Vec::new();
        let others = poll_until(&c, &mut during, Duration::from_secs(90), |g| {
            let n = counts(g);
            paused_other.iter().all(|k| n.contains_key(k))
        })
        .await;
        assert!(others, "the other queue is polled while q is paused");
        let leaked: Vec<_> = during.iter().filter(|m| queue(m) == q).map(key).collect();
        assert!(
            leaked.is_empty(),
            "polled from the paused queue: {leaked:?}"
        );
        c.resume(vec![q.clone()]).await;
        assert!(!c.is_paused(&q).await);
        let resumed = poll_until(&c, &mut during, Duration::from_secs(90), |g| {
            let n = counts(g);
            paused_q.iter().all(|k| n.contains_key(k))
        })
        .await;
        assert!(resumed, "q is polled again after resume");

        // Seek q back to its start: its 7 messages are returned again (a replay, not suppressed); nothing else is.
        c.seek(&q, 0).await.expect("seek");
        let mut replay = Vec::new();
        let replayed = poll_until(&c, &mut replay, Duration::from_secs(90), |g| {
            let n = counts(g);
            on_q.iter().chain(&paused_q).all(|k| n.contains_key(k))
        })
        .await;
        assert!(
            replayed,
            "seek back replays the queue: {:?}",
            counts(&replay)
        );
        assert!(
            replay.iter().all(|m| queue(m) == q),
            "only q is replayed: {:?}",
            replay.iter().map(queue).collect::<Vec<_>>()
        );
        let n = counts(&replay);
        assert!(n.values().all(|v| *v == 1), "each replayed once: {n:?}");

        // Seek to the end: a message sent afterwards is the next one from q.
        c.seek_to_end(&q).await.expect("seek to end");
        let (last, _) = send(&raw[1], &topic, "after end", Some(&q)).await;
        let mut tail = Vec::new();
        assert!(
            poll_until(&c, &mut tail, Duration::from_secs(90), |g| counts(g)
                .contains_key(&last))
            .await,
            "the message after the end arrives"
        );
        assert!(
            tail.iter()
                .filter(|m| queue(m) == q)
                .all(|m| key(m) == last),
            "nothing before the end"
        );

        c.shutdown().await;
        for mut p in raw {
            p.shutdown().await;
        }
    });
}

#[test]
fn assign_reads_the_assigned_queues_of_both_clusters_and_names_unknown_queues() {
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let topic = unique_name("LpAssignTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualRead).unwrap();
        let raw = raw_producers(pair).await;
        let c = lite(pair, &phases, &unique_name("lp_assign_cg"), true).await;
        c.start().await.expect("start");

        let queues = c.fetch_message_queues(&topic).await.expect("queues");
        let pick: Vec<MessageQueue> = queues
            .iter()
            .filter(|q| q.queue_id() == 1)
            .cloned()
            .collect();
        assert_eq!(pick.len(), 2, "queue 1 of each cluster");
        c.assign(pick.clone()).await.expect("assign");
        let assignment = c.assignment().await.expect("assignment");
        assert_eq!(assignment, pick.iter().cloned().collect::<HashSet<_>>());

        let mut wanted = Vec::new();
        let mut not_assigned = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            for q in queues
                .iter()
                .filter(|q| cluster_of(pair, q.broker_name().as_str()).index() == i)
            {
                let (k, _) = send(p, &topic, &format!("to {q}"), Some(q)).await;
                if q.queue_id() == 1 {
                    wanted.push(k);
                } else {
                    not_assigned.push(k);
                }
            }
        }
        let mut got = Vec::new();
        let arrived = poll_until(&c, &mut got, Duration::from_secs(90), |g| {
            let n = counts(g);
            wanted.iter().all(|k| n.contains_key(k))
        })
        .await;
        assert!(arrived, "the assigned queues of both clusters are read");
        assert!(
            got.iter().all(|m| pick.contains(&queue(m))),
            "only assigned queues"
        );

        // A queue no cluster's route has is refused, naming it; nothing is half-applied.
        let bogus = MessageQueue::from_parts(topic.as_str(), "no-such-broker", 0);
        let e = c.cluster_of(&bogus).await.expect_err("unknown broker");
        assert_eq!(e.kind(), ErrorKind::QueueCluster);
        assert!(e.to_string().contains("no-such-broker"), "{e}");
        assert!(c.assign(vec![pick[0].clone(), bogus]).await.is_err());
        assert_eq!(
            c.assignment().await.expect("assignment"),
            pick.iter().cloned().collect::<HashSet<_>>()
        );
        // Subscribe and assign are exclusive, as on the raw consumer.
        assert!(c.subscribe(&topic).await.is_err());

        c.shutdown().await;
        for mut p in raw {
            p.shutdown().await;
        }
    });
}

#[test]
fn a_phase_walk_under_a_producer_loses_nothing_and_polls_nothing_twice() {
    support::run(Duration::from_secs(420), async {
        let pair = &support::shared().pair;
        let topic = unique_name("LpWalkTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        let c = Arc::new(lite(pair, &phases, &unique_name("lp_walk_cg"), true).await);
        c.subscribe(&topic).await.expect("subscribe");
        c.start().await.expect("start");
        assert!(
            !c.is_connected(Cluster::Target),
            "Initial does not read the target"
        );

        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (c, seen, stop) = (c.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Acquire) {
                    for m in c.poll_with_timeout(300).await {
                        *seen.lock().entry(key(&m)).or_insert(0) += 1;
                    }
                }
            })
        };
        let acked: Arc<Mutex<HashMap<String, Cluster>>> = Arc::default();
        let sender = {
            let p = producer(pair, &phases).await;
            let (acked, stop, topic) = (acked.clone(), stop.clone(), topic.clone());
            let (src, tgt) = (
                pair.source.broker_name().to_owned(),
                pair.target.broker_name().to_owned(),
            );
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Acquire) {
                    if let Ok(Some(r)) = p
                        .send_with_timeout(message(&topic, &format!("walk {i}")), 5000)
                        .await
                    {
                        let broker = r
                            .message_queue
                            .as_ref()
                            .map(|q| q.broker_name().to_string());
                        let side = match broker.as_deref() {
                            Some(b) if b == src => Cluster::Source,
                            Some(b) if b == tgt => Cluster::Target,
                            other => panic!("unknown broker {other:?}"),
                        };
                        acked.lock().insert(r.msg_id.unwrap().to_string(), side);
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                p
            })
        };

        let mut current = Phase::Initial;
        for next in &Phase::ALL[1..] {
            // Let traffic flow in this phase, then drain a cluster before it leaves the read set.
            let before = acked.lock().len();
            assert!(
                eventually(Duration::from_secs(60), || acked.lock().len()
                    >= before + 40)
                .await,
                "the producer keeps sending in {current:?}"
            );
            if let Some(side) = Cluster::BOTH
                .into_iter()
                .find(|s| current.read_set().contains(*s) && !next.read_set().contains(*s))
            {
                let keys: Vec<String> = acked
                    .lock()
                    .iter()
                    .filter(|(_, s)| **s == side)
                    .map(|(k, _)| k.clone())
                    .collect();
                assert!(
                    eventually(Duration::from_secs(90), || {
                        let s = seen.lock();
                        keys.iter().all(|k| s.contains_key(k))
                    })
                    .await,
                    "{side} drained before {current:?} -> {next:?}"
                );
            }
            phases.set_phase(&topic, *next).unwrap();
            current = *next;
            if current == Phase::DualRead {
                assert!(
                    eventually(Duration::from_secs(60), || c.is_connected(Cluster::Target)).await,
                    "DualRead starts the target client"
                );
            }
        }
        let before = acked.lock().len();
        assert!(
            eventually(Duration::from_secs(60), || acked.lock().len()
                >= before + 40)
            .await
        );
        stop.store(true, Ordering::Release);
        let mut p = sender.await.expect("sender");
        p.shutdown().await;
        let acked = acked.lock().clone();
        // The poller stopped with the producer; poll the rest here.
        poller.await.expect("poller");
        let mut rest = Vec::new();
        let all = poll_until(&c, &mut rest, Duration::from_secs(90), |g| {
            let n = counts(g);
            let s = seen.lock();
            acked.keys().all(|k| s.contains_key(k) || n.contains_key(k))
        })
        .await;
        for m in &rest {
            *seen.lock().entry(key(m)).or_insert(0) += 1;
        }
        let seen = seen.lock().clone();
        let lost: Vec<_> = acked.keys().filter(|k| !seen.contains_key(*k)).collect();
        assert!(
            all && lost.is_empty(),
            "lost {} of {}: {lost:?}",
            lost.len(),
            acked.len()
        );
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "polled twice: {twice:?}");
        let by_side = |s: Cluster| acked.values().filter(|c| **c == s).count();
        assert!(
            by_side(Cluster::Source) > 0 && by_side(Cluster::Target) > 0,
            "both clusters written"
        );
        assert!(
            eventually(Duration::from_secs(90), || !c.is_connected(Cluster::Source)).await,
            "Completed shuts the source client down once its linger (quiet 15 s) ends"
        );
        c.shutdown().await;
    });
}
