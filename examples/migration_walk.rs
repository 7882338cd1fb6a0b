#![recursion_limit = "512"]
//! The main job: two embedded clusters, producers and consumers through the shim, topics walked through all five
//! phases, back to Initial and forward again, with a per-phase account of what went where.
//!
//! ```text
//! cargo run --release --features testkit --example migration_walk
//! ```
//!
//! Exits non-zero if any acknowledged message was lost or delivered twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, MQPushConsumer,
};
use rocketmq_migration::dedupe::{Deduplicator, KeyExtractor, MemoryDeduplicator, UniqKey};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{
    consuming_cluster, Cluster, MigratingProducer, MigratingPushConsumer, MigrationRuntime, Phase,
    PhaseHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
const SENDS_PER_STEP: usize = 150;

/// Per key: the walk step it was sent in and the cluster that acknowledged it.
type Acked = Mutex<HashMap<String, (usize, Cluster)>>;
/// Per key: deliveries to the application and the cluster of the first one.
type Received = Mutex<HashMap<String, (usize, Cluster)>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
    let pair = ClusterPair::start().await?;
    let runtime = MigrationRuntime::new()?;
    let rt = runtime.client();
    let topics = [unique_name("Orders"), unique_name("Payments")];
    for t in &topics {
        pair.create_topic(&rt, t, 4).await?;
    }
    println!(
        "source {}  target {}",
        pair.source.name_server_addr(),
        pair.target.name_server_addr()
    );

    let phases = PhaseHandle::new();
    let group = unique_name("walk_cg");
    let received: Arc<Received> = Arc::default();
    let dedupe: Arc<dyn Deduplicator> = Arc::new(MemoryDeduplicator::default());
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let mut c = MigratingPushConsumer::builder(rt.clone())
            .consumer_group(group.clone())
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .phases(phases.clone())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .deduplicator(dedupe.clone())
            .build()?;
        for t in &topics {
            c.subscribe(t.as_str(), "*").await?;
        }
        let rec = received.clone();
        c.register_message_listener_concurrently(
            move |msgs: &[&MessageExt],
                  _: &ConsumeConcurrentlyContext|
                  -> ClientResult<ConsumeConcurrentlyStatus> {
                let cluster = consuming_cluster().unwrap_or(Cluster::Source);
                let mut r = rec.lock();
                for m in msgs {
                    let key = UniqKey.key(m).unwrap_or_default();
                    r.entry(key).or_insert((0, cluster)).0 += 1;
                }
                Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
            },
        );
        c.start().await?;
        consumers.push(c);
    }

    let step = Arc::new(AtomicUsize::new(0));
    let acked: Arc<Acked> = Arc::default();
    let sends = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..PRODUCERS {
        let mut p = MigratingProducer::builder(rt.clone())
            .producer_group(unique_name("walk_pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .phases(phases.clone())
            .build()?;
        p.start().await?;
        let (step, acked, sends, stop, topics) = (
            step.clone(),
            acked.clone(),
            sends.clone(),
            stop.clone(),
            topics.clone(),
        );
        let (src, dst) = (
            pair.source.broker_name().to_owned(),
            pair.target.broker_name().to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Acquire) {
                let s = step.load(Ordering::Acquire);
                let topic = &topics[i % topics.len()];
                let msg = Message::builder()
                    .topic(topic.as_str())
                    .body(format!("p{n} m{i}").into_bytes())
                    .build()?;
                if let Ok(Some(r)) = p.send_with_timeout(msg, 5000).await {
                    let broker = r
                        .message_queue
                        .map(|q| q.broker_name().to_string())
                        .unwrap_or_default();
                    let cluster = if broker == src {
                        Cluster::Source
                    } else if broker == dst {
                        Cluster::Target
                    } else {
                        continue;
                    };
                    acked.lock().insert(
                        r.msg_id.map(|k| k.to_string()).unwrap_or_default(),
                        (s, cluster),
                    );
                }
                sends.fetch_add(1, Ordering::Release);
                i += 1;
            }
            p.shutdown().await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }

    // Initial, forward to Completed, back to Initial, forward to Completed.
    let mut walk = vec![Phase::Initial];
    walk.extend(&Phase::ALL[1..]);
    walk.extend(Phase::ALL[..4].iter().rev());
    walk.extend(&Phase::ALL[1..]);
    let mut dup_at_step = Vec::new();
    for (i, phase) in walk.iter().enumerate() {
        let previous = if i == 0 { Phase::Initial } else { walk[i - 1] };
        // Like the control plane's readiness gate: drain a cluster before a step stops reading it.
        for side in Cluster::BOTH {
            if previous.read_set().contains(side) && !phase.read_set().contains(side) {
                wait_drained(&acked, &received, Some(side)).await?;
            }
        }
        for t in &topics {
            phases.set_phase(t, *phase)?;
        }
        for c in &consumers {
            c.reconcile().await?;
        }
        step.store(i, Ordering::Release);
        let start = sends.load(Ordering::Acquire);
        while sends.load(Ordering::Acquire) < start + SENDS_PER_STEP {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        dup_at_step.push(
            consumers
                .iter()
                .map(|c| c.stats().duplicates_suppressed)
                .sum::<u64>(),
        );
    }
    stop.store(true, Ordering::Release);
    for t in tasks {
        t.await?.map_err(|e| e.to_string())?;
    }
    wait_drained(&acked, &received, None).await?;

    println!(
        "\n{:>4} {:<16} {:>12} {:>12} {:>14} {:>14} {:>11} {:>5}",
        "step",
        "phase",
        "sent source",
        "sent target",
        "recv source",
        "recv target",
        "dup suppr.",
        "lost"
    );
    let (total_lost, twice) = report(&walk, &acked, &received, &dup_at_step);
    for mut c in consumers {
        c.shutdown().await;
    }
    runtime.shutdown().await;
    pair.shutdown().await;
    if total_lost > 0 || twice > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Wait until every acknowledged message (on `side`, or on both) reached the application.
async fn wait_drained(
    acked: &Acked,
    received: &Received,
    side: Option<Cluster>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let missing = {
            let (a, r) = (acked.lock(), received.lock());
            a.iter()
                .filter(|(k, (_, c))| side.is_none_or(|s| s == *c) && !r.contains_key(*k))
                .count()
        };
        if missing == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{missing} acknowledged messages not received within 120 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Print the per-step table; returns (lost, delivered twice).
fn report(
    walk: &[Phase],
    acked: &Acked,
    received: &Received,
    dup_at_step: &[u64],
) -> (usize, usize) {
    let (acked, received) = (acked.lock(), received.lock());
    let mut total_lost = 0;
    for (i, phase) in walk.iter().enumerate() {
        let mut sent = [0; 2];
        let mut recv = [0; 2];
        let mut lost = 0;
        for (k, (s, c)) in acked.iter() {
            if *s != i {
                continue;
            }
            sent[c.index()] += 1;
            match received.get(k) {
                Some((_, rc)) => recv[rc.index()] += 1,
                None => lost += 1,
            }
        }
        let dup = dup_at_step[i] - if i == 0 { 0 } else { dup_at_step[i - 1] };
        total_lost += lost;
        println!(
            "{i:>4} {:<16} {:>12} {:>12} {:>14} {:>14} {dup:>11} {lost:>5}",
            phase.as_str(),
            sent[0],
            sent[1],
            recv[0],
            recv[1]
        );
    }
    let twice = received.values().filter(|(n, _)| *n > 1).count();
    println!(
        "\nacknowledged {}, received {}, lost {total_lost}, delivered twice {twice}",
        acked.len(),
        received.len()
    );
    (total_lost, twice)
}
