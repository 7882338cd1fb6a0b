#![recursion_limit = "512"]
//! Dedupe by a business key with your own store.
//!
//! Two producers that do not use the shim each write the same 20 orders, one to the source and one to the target
//! (a double write during a migration, say): the copies carry different `UNIQ_KEY`s but the same `orderId` user
//! property. A `MigratingPushConsumer` in `dual_read` reads both clusters; a custom [`KeyExtractor`] keys each
//! message by `orderId` (falling back to the message keys, then to `UNIQ_KEY`), and a custom [`Deduplicator`] — a
//! journal file of consumed keys, so a restarted process still knows what it consumed — keeps the second copy of
//! every order from the listener.
//!
//! ```text
//! cargo run --features testkit --example business_key_dedupe
//! ```
//!
//! Exits non-zero unless the listener saw each of the 20 orders exactly once.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQProducer,
    MQPushConsumer,
};
use rocketmq_migration::dedupe::{Begin, Deduplicator, KeyExtractor, UniqKey};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{Cluster, MigratingPushConsumer, MigrationRuntime, Phase, PhaseHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

/// The business key: the `orderId` user property, else the first message key, else the client `UNIQ_KEY`.
fn order_key(msg: &MessageExt) -> Option<String> {
    msg.property(&CheetahString::from_static_str("orderId"))
        .map(|k| format!("order:{k}"))
        .or_else(|| {
            msg.property(&CheetahString::from_static_str("KEYS"))
                .and_then(|k| k.as_str().split(' ').next().map(|k| format!("key:{k}")))
        })
        .or_else(|| UniqKey.key(msg))
}

/// Your own store: consumed keys are appended to a journal file and reloaded at start; keys being consumed are
/// held in memory (a crash mid-consume lets the redelivery through, which is what you want).
struct JournalDeduplicator {
    path: PathBuf,
    state: Mutex<(HashSet<String>, HashSet<String>)>, // (consumed, consuming)
}

impl JournalDeduplicator {
    fn open(path: PathBuf) -> std::io::Result<Self> {
        let consumed = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(e),
        };
        Ok(JournalDeduplicator {
            path,
            state: Mutex::new((consumed, HashSet::new())),
        })
    }
}

impl Deduplicator for JournalDeduplicator {
    fn begin(&self, topic: &str, key: &str) -> Begin {
        let key = &format!("{topic}/{key}");
        let mut s = self.state.lock();
        if s.0.contains(key) {
            Begin::Duplicate
        } else if !s.1.insert(key.to_owned()) {
            Begin::InFlight
        } else {
            Begin::Proceed
        }
    }

    fn commit(&self, topic: &str, key: &str) {
        let key = &format!("{topic}/{key}");
        let mut s = self.state.lock();
        s.1.remove(key);
        if s.0.insert(key.to_owned()) {
            let written = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .and_then(|mut f| writeln!(f, "{key}"));
            if let Err(e) = written {
                eprintln!("journal append failed for {key}: {e} (kept in memory)");
            }
        }
    }

    fn abort(&self, topic: &str, key: &str) {
        self.state.lock().1.remove(&format!("{topic}/{key}"));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pair = ClusterPair::start().await?;
    let runtime = MigrationRuntime::new()?;
    let rt = runtime.client();
    let topic = unique_name("Orders");
    pair.create_topic(&rt, &topic, 4).await?;

    let phases = PhaseHandle::new();
    phases.set_phase(&topic, Phase::DualRead)?;
    let journal = std::env::temp_dir().join(format!("{}.journal", unique_name("dedupe")));
    let store = Arc::new(JournalDeduplicator::open(journal.clone())?);
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();

    let mut consumer = MigratingPushConsumer::builder(rt.clone())
        .consumer_group(unique_name("orders_cg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .key_extractor(Arc::new(order_key))
        .deduplicator(store.clone())
        .build()?;
    consumer.subscribe(topic.as_str(), "*").await?;
    let rec = seen.clone();
    consumer.register_message_listener_concurrently(
        move |msgs: &[&MessageExt],
              _: &ConsumeConcurrentlyContext|
              -> ClientResult<ConsumeConcurrentlyStatus> {
            let mut r = rec.lock();
            for m in msgs {
                *r.entry(order_key(m).unwrap_or_default()).or_default() += 1;
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        },
    );
    consumer.start().await?;

    // The same 20 orders written to each cluster by plain producers.
    for side in Cluster::BOTH {
        let mut p = DefaultMQProducer::builder(rt.clone())
            .producer_group(unique_name("plain_pg"))
            .name_server_addr(pair.cluster(side).name_server_addr().to_owned())
            .build();
        p.start().await?;
        for order in 0..20 {
            let msg = Message::builder()
                .topic(topic.as_str())
                .body(format!("order {order}").into_bytes())
                .raw_property("orderId", format!("{order:04}"))?
                .build()?;
            p.send(msg).await?;
        }
        p.shutdown().await;
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.lock().len() < 20 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the second copies time to arrive and be suppressed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.stats().received_from(Cluster::Source)
        + consumer.stats().received_from(Cluster::Target)
        < 40
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = consumer.stats();
    consumer.shutdown().await;
    let seen = seen.lock().clone();
    let once = seen.values().filter(|n| **n == 1).count();
    let journaled = std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .lines()
        .count();
    println!(
        "received {} from the source and {} from the target; listener saw {} orders ({} exactly once); \
         duplicates suppressed {}; journal {} holds {journaled} keys",
        stats.received_from(Cluster::Source),
        stats.received_from(Cluster::Target),
        seen.len(),
        once,
        stats.duplicates_suppressed,
        journal.display()
    );
    let _ = std::fs::remove_file(&journal);
    runtime.shutdown().await;
    pair.shutdown().await;
    if seen.len() == 20 && once == 20 {
        Ok(())
    } else {
        Err(format!("expected each of 20 orders exactly once, saw {seen:?}").into())
    }
}
