#![recursion_limit = "512"]
//! Listener admission under load: `MigrationRuntime` against a client runtime on the current Tokio runtime
//! (`RuntimeContext::from_current`, the blocking-lane defaults).
//!
//! ```text
//! cargo run --features testkit --example runtime_compare -- migration   # the shim's recommended runtime
//! cargo run --features testkit --example runtime_compare -- current     # RuntimeContext::from_current
//! ```
//!
//! Sends 2,000 messages split over two embedded clusters (DualReadWrite), then starts a migrating consumer on the
//! backlog and reports how many reached the listener within 90 s and how many were redeliveries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocketmq_client_rust::{
    ClientResult, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, MQPushConsumer, TelemetryHandle,
};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{
    MigratingProducer, MigratingPushConsumer, MigrationRuntime, Phase, PhaseHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

const MESSAGES: usize = 2_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "migration".into());
    let pair = ClusterPair::start().await?;
    let mut owned = None;
    let rt: Arc<ClientRuntime> = match mode.as_str() {
        "current" => {
            let ctx = rocketmq_runtime::RuntimeContext::try_from_current("client")?;
            ClientRuntime::try_new(
                ctx.service_context("client"),
                ClientRuntimeConfig::default(),
                TelemetryHandle::noop(),
            )?
        }
        _ => owned.insert(MigrationRuntime::new()?).client(),
    };
    let topic = unique_name("Load");
    pair.create_topic(&rt, &topic, 8).await?;
    let phases = PhaseHandle::new();
    phases.set_phase(&topic, Phase::DualReadWrite)?;
    let mut producer = MigratingProducer::builder(rt.clone())
        .producer_group(unique_name("pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .build()?;
    producer.start().await?;
    for chunk in 0..MESSAGES / 100 {
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..100 {
            let (p, topic) = (producer.clone(), topic.clone());
            sends.spawn(async move {
                let msg = Message::builder()
                    .topic(topic.as_str())
                    .body(format!("{chunk} {i}").into_bytes())
                    .build()?;
                p.send_with_timeout(msg, 10_000).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
        }
        for r in sends.join_all().await {
            r.map_err(|e| e.to_string())?;
        }
    }

    let received = Arc::new(AtomicUsize::new(0));
    let redelivered = Arc::new(AtomicUsize::new(0));
    let mut consumer = MigratingPushConsumer::builder(rt.clone())
        .consumer_group(unique_name("cg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build()?;
    consumer.subscribe(topic.as_str(), "*").await?;
    let (r, d) = (received.clone(), redelivered.clone());
    consumer.register_message_listener_concurrently(
        move |msgs: &[&MessageExt],
              _: &ConsumeConcurrentlyContext|
              -> ClientResult<ConsumeConcurrentlyStatus> {
            for m in msgs {
                r.fetch_add(1, Ordering::Relaxed);
                if m.reconsume_times > 0 {
                    d.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        },
    );
    let started = Instant::now();
    consumer.start().await?;
    while received.load(Ordering::Relaxed) < MESSAGES && started.elapsed() < Duration::from_secs(90)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "runtime={mode}: {} of {MESSAGES} received in {:.2?}, {} redelivered, stats {:?}",
        received.load(Ordering::Relaxed),
        started.elapsed(),
        redelivered.load(Ordering::Relaxed),
        consumer.stats()
    );
    consumer.shutdown().await;
    producer.shutdown().await;
    if let Some(o) = owned {
        o.shutdown().await;
    }
    pair.shutdown().await;
    Ok(())
}
