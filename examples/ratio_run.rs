#![recursion_limit = "512"]
//! End-to-end throughput of the shims against the raw client on the same embedded brokers, in one process.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo run --release --all-features --example ratio_run
//! ```
//!
//! Producer: for every phase, raw `DefaultMQProducer` runs (R) and `MigratingProducer` runs (S) alternate
//! R S R S ...; each run sends `RATIO_MSGS` 1 KiB messages with `RATIO_INFLIGHT` sends in flight. The raw runs
//! send where the phase writes (source, target, or in `DualReadWrite` a raw producer per cluster picked by the same
//! 50 % draw), so the ratio is the shim's cost and nothing else.
//!
//! Consumer: a backlog of `RATIO_CONSUME_MSGS` 1 KiB messages per topic, then alternating runs of a raw push
//! consumer (one per cluster the phase reads) and a `MigratingPushConsumer` with a `MemoryDeduplicator`, each in
//! a new group from the first offset; throughput is the first to the last delivery. Phases `Initial` (backlog on
//! the source) and `DualReadWrite` (half the backlog on each cluster, two raw consumers as the baseline).
//!
//! Environment: `RATIO_MSGS` (default 5000), `RATIO_INFLIGHT` (64), `RATIO_PAIRS` (R/S pairs per phase, 3),
//! `RATIO_CONSUME_MSGS` (20000), `RATIO_PART` (`all`, `producer` or `consumer`). Each figure is printed with the
//! load average at the time.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ClientRuntime, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
};
use rocketmq_migration::dedupe::{Deduplicator, MemoryDeduplicator};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{
    Cluster, MigratingProducer, MigratingPushConsumer, MigrationRuntime, Phase, PhaseHandle,
    WritePlan,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const BODY: usize = 1024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn message(topic: &str) -> Result<Message, BoxError> {
    Ok(Message::builder()
        .topic(topic)
        .body(vec![b'x'; BODY])
        .build()?)
}

/// Who sends in one run.
#[derive(Clone)]
enum Sender {
    /// Raw producers of the source and the target; the phase picks as the shim would.
    Raw([DefaultMQProducer; 2], Phase),
    Shim(MigratingProducer),
}

impl Sender {
    async fn send(&self, msg: Message) -> bool {
        match self {
            Sender::Raw(p, phase) => {
                let c = match phase.write_plan() {
                    WritePlan::Source => Cluster::Source,
                    WritePlan::Target => Cluster::Target,
                    WritePlan::Split if rand::random::<f64>() < 0.5 => Cluster::Target,
                    WritePlan::Split => Cluster::Source,
                };
                matches!(p[c.index()].send(msg).await, Ok(Some(_)))
            }
            Sender::Shim(p) => matches!(p.send(msg).await, Ok(Some(_))),
        }
    }
}

/// `n` sends of 1 KiB messages to `topic`, `inflight` at a time. Returns msgs/s and the number of failed sends.
async fn produce(sender: &Sender, topic: &str, n: usize, inflight: usize) -> (f64, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(inflight);
    for _ in 0..inflight {
        let (next, failed, sender, topic) = (
            next.clone(),
            failed.clone(),
            sender.clone(),
            topic.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let ok = match message(&topic) {
                    Ok(m) => sender.send(m).await,
                    Err(_) => false,
                };
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    ((n - failed) as f64 / secs, failed)
}

async fn raw_producer(rt: &Arc<ClientRuntime>, namesrv: &str) -> ClientResult<DefaultMQProducer> {
    let mut p = DefaultMQProducer::builder(rt.clone())
        .producer_group(unique_name("ratio_raw_pg"))
        .name_server_addr(namesrv.to_owned())
        .build();
    p.start().await?;
    Ok(p)
}

async fn producer_part(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    summary: &mut Vec<String>,
) -> Result<(), BoxError> {
    let n = env_usize("RATIO_MSGS", 5000);
    let inflight = env_usize("RATIO_INFLIGHT", 64).max(1);
    let pairs = env_usize("RATIO_PAIRS", 3).max(1);
    let topic = unique_name("RatioSend");
    pair.create_topic(rt, &topic, 8).await?;
    let phases = PhaseHandle::new();
    let mut shim = MigratingProducer::builder(rt.clone())
        .producer_group(unique_name("ratio_pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .build()?;
    shim.start().await?;
    let mut raw_src = raw_producer(rt, pair.source.name_server_addr()).await?;
    let mut raw_dst = raw_producer(rt, pair.target.name_server_addr()).await?;
    let raw = [raw_src.clone(), raw_dst.clone()];

    println!(
        "\n== producer: {n} x 1 KiB per run, {inflight} in flight, {pairs} R/S pairs per phase =="
    );
    println!(
        "{:<14} {:>3} {:<4} {:>10} {:>7}  load",
        "phase", "run", "who", "msgs/s", "failed"
    );
    for phase in Phase::ALL {
        phases.set_phase(&topic, phase)?;
        // Warm-up: routes, connections, the shim's target client (started on first use).
        let warm = (n / 5).max(200);
        produce(&Sender::Raw(raw.clone(), phase), &topic, warm, inflight).await;
        produce(&Sender::Shim(shim.clone()), &topic, warm, inflight).await;
        let (mut r, mut s) = (Vec::new(), Vec::new());
        for i in 0..pairs {
            for (who, sender) in [
                ("raw", Sender::Raw(raw.clone(), phase)),
                ("shim", Sender::Shim(shim.clone())),
            ] {
                let (rate, failed) = produce(&sender, &topic, n, inflight).await;
                println!(
                    "{:<14} {:>3} {:<4} {:>10.0} {:>7}  {}",
                    phase.to_string(),
                    i + 1,
                    who,
                    rate,
                    failed,
                    loadavg()
                );
                if who == "raw" { &mut r } else { &mut s }.push(rate);
            }
        }
        let (mr, ms) = (median(&r), median(&s));
        let line = format!(
            "producer {:<14} raw {:>8.0} msgs/s  shim {:>8.0} msgs/s  ratio {:.3}  (target >= 0.98: {})  load {}",
            phase.to_string(),
            mr,
            ms,
            ms / mr,
            if ms / mr >= 0.98 { "met" } else { "MISSED" },
            loadavg()
        );
        println!("{line}");
        summary.push(line);
    }
    shim.shutdown().await;
    raw_src.shutdown().await;
    raw_dst.shutdown().await;
    Ok(())
}

/// Counts deliveries and notes the first and the `n`-th.
struct Tally {
    n: usize,
    count: AtomicUsize,
    first: Mutex<Option<Instant>>,
    done: Mutex<Option<Instant>>,
    redelivered: AtomicU64,
}

impl Tally {
    fn new(n: usize) -> Arc<Tally> {
        Arc::new(Tally {
            n,
            count: AtomicUsize::new(0),
            first: Mutex::new(None),
            done: Mutex::new(None),
            redelivered: AtomicU64::new(0),
        })
    }

    fn listener(
        self: &Arc<Tally>,
    ) -> impl Fn(
        &[&MessageExt],
        &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus>
           + Send
           + Sync
           + 'static {
        let t = self.clone();
        move |msgs: &[&MessageExt], _: &ConsumeConcurrentlyContext| {
            let now = Instant::now();
            t.first.lock().get_or_insert(now);
            for m in msgs {
                if m.reconsume_times() > 0 {
                    t.redelivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            let before = t.count.fetch_add(msgs.len(), Ordering::AcqRel);
            if before < t.n && before + msgs.len() >= t.n {
                *t.done.lock() = Some(now);
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    /// msgs/s from the first to the `n`-th delivery, once all arrived within `limit`.
    async fn wait(&self, limit: Duration) -> Option<f64> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let (Some(a), Some(b)) = (*self.first.lock(), *self.done.lock()) {
                return Some(self.n as f64 / (b - a).as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }
}

async fn consume_raw(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    topic: &str,
    phase: Phase,
    n: usize,
) -> Result<Option<f64>, BoxError> {
    let tally = Tally::new(n);
    let group = unique_name("ratio_raw_cg");
    let mut consumers = Vec::new();
    for side in Cluster::BOTH {
        if !phase.read_set().contains(side) {
            continue;
        }
        let mut c = DefaultMQPushConsumer::builder(rt.clone())
            .consumer_group(group.clone())
            .name_server_addr(pair.cluster(side).name_server_addr().to_owned())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        c.subscribe(topic, "*").await?;
        c.register_message_listener_concurrently(tally.listener());
        consumers.push(c);
    }
    for c in &mut consumers {
        c.start().await?;
    }
    let rate = tally.wait(Duration::from_secs(300)).await;
    for mut c in consumers {
        c.shutdown().await;
    }
    Ok(rate)
}

async fn consume_shim(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    phases: &PhaseHandle,
    topic: &str,
    n: usize,
) -> Result<(Option<f64>, u64), BoxError> {
    let tally = Tally::new(n);
    let dedupe: Arc<dyn Deduplicator> = Arc::new(MemoryDeduplicator::default());
    let mut c = MigratingPushConsumer::builder(rt.clone())
        .consumer_group(unique_name("ratio_shim_cg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .deduplicator(dedupe)
        .build()?;
    c.subscribe(topic, "*").await?;
    c.register_message_listener_concurrently(tally.listener());
    c.start().await?;
    let rate = tally.wait(Duration::from_secs(300)).await;
    let dups = c.stats().duplicates_suppressed;
    c.shutdown().await;
    Ok((rate, dups))
}

async fn consumer_part(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    summary: &mut Vec<String>,
) -> Result<(), BoxError> {
    let n = env_usize("RATIO_CONSUME_MSGS", 20_000).max(2);
    let pairs = env_usize("RATIO_PAIRS", 3).max(1);
    let inflight = env_usize("RATIO_INFLIGHT", 64).max(1);
    let phases = PhaseHandle::new();
    let mut src = raw_producer(rt, pair.source.name_server_addr()).await?;
    let mut dst = raw_producer(rt, pair.target.name_server_addr()).await?;
    println!("\n== consumer: backlog {n} x 1 KiB, new group per run, {pairs} R/S pairs per phase, shim dedupe on ==");
    println!(
        "{:<14} {:>3} {:<4} {:>10} {:>6}  load",
        "phase", "run", "who", "msgs/s", "dups"
    );
    for phase in [Phase::Initial, Phase::DualReadWrite] {
        let topic = unique_name("RatioConsume");
        pair.create_topic(rt, &topic, 8).await?;
        phases.set_phase(&topic, phase)?;
        // The backlog, where the phase reads: all on the source, or half on each cluster.
        if phase.read_set().contains(Cluster::Target) {
            produce(
                &Sender::Raw([src.clone(), dst.clone()], Phase::Initial),
                &topic,
                n / 2,
                inflight,
            )
            .await;
            produce(
                &Sender::Raw([src.clone(), dst.clone()], Phase::Completed),
                &topic,
                n - n / 2,
                inflight,
            )
            .await;
        } else {
            produce(
                &Sender::Raw([src.clone(), dst.clone()], Phase::Initial),
                &topic,
                n,
                inflight,
            )
            .await;
        }
        let (mut r, mut s) = (Vec::new(), Vec::new());
        for i in 0..pairs {
            let rate = consume_raw(pair, rt, &topic, phase, n).await?;
            println!(
                "{:<14} {:>3} {:<4} {:>10.0} {:>6}  {}",
                phase.to_string(),
                i + 1,
                "raw",
                rate.unwrap_or(0.0),
                "-",
                loadavg()
            );
            r.push(rate.unwrap_or(0.0));
            let (rate, dups) = consume_shim(pair, rt, &phases, &topic, n).await?;
            println!(
                "{:<14} {:>3} {:<4} {:>10.0} {:>6}  {}",
                phase.to_string(),
                i + 1,
                "shim",
                rate.unwrap_or(0.0),
                dups,
                loadavg()
            );
            s.push(rate.unwrap_or(0.0));
        }
        let (mr, ms) = (median(&r), median(&s));
        let line = format!(
            "consumer {:<14} raw {:>8.0} msgs/s  shim {:>8.0} msgs/s  ratio {:.3}  (target >= 0.95: {})  load {}",
            phase.to_string(),
            mr,
            ms,
            ms / mr,
            if ms / mr >= 0.95 { "met" } else { "MISSED" },
            loadavg()
        );
        println!("{line}");
        summary.push(line);
    }
    src.shutdown().await;
    dst.shutdown().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
    let part = std::env::var("RATIO_PART").unwrap_or_else(|_| "all".into());
    let pair = ClusterPair::start().await?;
    let runtime = MigrationRuntime::new()?;
    let rt = runtime.client();
    println!(
        "source {}  target {}  load {}",
        pair.source.name_server_addr(),
        pair.target.name_server_addr(),
        loadavg()
    );
    let mut summary = Vec::new();
    if part == "all" || part == "producer" {
        producer_part(&pair, &rt, &mut summary).await?;
    }
    if part == "all" || part == "consumer" {
        consumer_part(&pair, &rt, &mut summary).await?;
    }
    println!("\n== summary (medians) ==");
    for l in &summary {
        println!("{l}");
    }
    runtime.shutdown().await;
    pair.shutdown().await;
    Ok(())
}
