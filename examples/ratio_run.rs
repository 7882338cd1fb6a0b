#![recursion_limit = "512"]
//! End-to-end throughput of the shims against the raw client on the same embedded brokers, in one process.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo run --release --all-features --example ratio_run
//! ```
//!
//! Producer: for every phase, raw `DefaultMQProducer` runs (R) and `MigratingProducer` runs (S) run in pairs whose
//! order alternates, R S | S R | R S ... (ABBA), so a drift over the run (the store grows with every message) falls
//! on both sides alike; each run sends `RATIO_MSGS` 1 KiB messages with `RATIO_INFLIGHT` sends in flight. The raw runs
//! send where the phase writes (source, target, or in `DualReadWrite` a raw producer per cluster picked by the same
//! 50 % draw), so the ratio is the shim's cost and nothing else.
//!
//! Consumer: for every phase, a new topic with a backlog of `RATIO_CONSUME_MSGS` numbered 1 KiB messages where the
//! phase reads (all on the source, all on the target, or half on each), every send checked. Then, after a warm-up
//! of each, raw push consumer runs (one consumer per cluster the phase reads) and `MigratingPushConsumer` runs
//! (dedupe on: the builder's default `MemoryDeduplicator`) run in pairs of alternating order the same way; each run is a new group from the
//! first offset and must see every backlog message (counted once each by the number in its body); throughput is
//! from the first delivery to the one that completes the set.
//!
//! Environment: `RATIO_MSGS` (default 5000), `RATIO_INFLIGHT` (64), `RATIO_PAIRS` (pairs per phase, 8),
//! `RATIO_PRODUCE_PHASES` (comma-separated phases, default all five), `RATIO_CONSUME_MSGS` (20000),
//! `RATIO_CONSUME_PHASES` (comma-separated phases, default all five),
//! `RATIO_CONSUME_LIMIT_SECS` (per consumer run, 300), `RATIO_NO_DEDUPE` (set: the shim consumer runs with
//! `without_dedupe()`, to split the dedupe cost from the rest), `RATIO_PART` (`all`, `producer` or `consumer`). Each figure
//! is printed with the load average at the time.

mod common;

use common::paired::{median, raw_first, Ratios};
use common::{env, loadavg, BoxError};

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ClientRuntime, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{
    Cluster, MigratingProducer, MigratingPushConsumer, MigrationRuntime, Phase, PhaseHandle,
    WritePlan,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

const BODY: usize = 1024;

/// One phase's measured pairs: per pair, raw and shim msgs/s and process CPU µs per message.
#[derive(Default)]
struct Samples {
    // [raw, shim] per pair, in run order.
    rate: Vec<[f64; 2]>,
    cpu_us: Vec<[f64; 2]>,
}

impl Samples {
    fn push(&mut self, rate: [f64; 2], cpu_us: [f64; 2]) {
        self.rate.push(rate);
        self.cpu_us.push(cpu_us);
    }

    /// The phase's summary line: each side's median, the median of the per-pair ratios with its bootstrap 95 %
    /// interval and every pair's ratio, for throughput (against `target`) and for CPU per message.
    fn line(&self, part: &str, phase: &str, target: f64) -> String {
        let side = |v: &[[f64; 2]], i: usize| median(&v.iter().map(|p| p[i]).collect::<Vec<_>>());
        let ratios = |v: &[[f64; 2]]| Ratios(v.iter().map(|p| p[1] / p[0]).collect());
        let (rate, cpu) = (ratios(&self.rate), ratios(&self.cpu_us));
        let (m, lo, hi) = rate.summary();
        let verdict = match (m >= target, lo >= target, hi < target) {
            (true, true, _) => "met, whole interval",
            (true, false, _) => "met by the median, interval reaches below",
            (false, _, true) => "MISSED, whole interval",
            (false, _, false) => "MISSED by the median, interval reaches above",
        };
        format!(
            "{part} {phase} raw {:>6.0} shim {:>6.0} msgs/s; shim/raw {} (target >= {target}: {verdict}); \
             cpu µs/msg raw {:.1} shim {:.1}, shim/raw {}; load {}",
            side(&self.rate, 0),
            side(&self.rate, 1),
            rate.describe(),
            side(&self.cpu_us, 0),
            side(&self.cpu_us, 1),
            cpu.describe(),
            loadavg()
        )
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
    let n = env::<usize>("RATIO_MSGS", 5000);
    let inflight = env::<usize>("RATIO_INFLIGHT", 64).max(1);
    let pairs = env::<usize>("RATIO_PAIRS", 8).max(1);
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
        "{:<14} {:>3} {:<4} {:>10} {:>10} {:>7}  load",
        "phase", "run", "who", "msgs/s", "cpu µs/msg", "failed"
    );
    for phase in phases_from("RATIO_PRODUCE_PHASES")? {
        phases.set_phase(&topic, phase)?;
        // Warm-up: routes, connections, the shim's target client (started on first use).
        let warm = (n / 5).max(200);
        produce(&Sender::Raw(raw.clone(), phase), &topic, warm, inflight).await;
        produce(&Sender::Shim(shim.clone()), &topic, warm, inflight).await;
        let mut samples = Samples::default();
        for i in 0..pairs {
            let (mut rates, mut cpus) = ([0.0; 2], [0.0; 2]);
            let mut order = [
                ("raw", Sender::Raw(raw.clone(), phase)),
                ("shim", Sender::Shim(shim.clone())),
            ];
            if !raw_first(i) {
                order.reverse();
            }
            for (who, sender) in order {
                let cpu0 = process_cpu();
                let (rate, failed) = produce(&sender, &topic, n, inflight).await;
                // Process CPU (every thread, brokers included) per message sent.
                let cpu_us = (process_cpu().saturating_sub(cpu0)).as_secs_f64() * 1e6 / n as f64;
                println!(
                    "{:<14} {:>3} {:<4} {:>10.0} {:>10.1} {:>7}  {}",
                    phase.to_string(),
                    i + 1,
                    who,
                    rate,
                    cpu_us,
                    failed,
                    loadavg()
                );
                let side = usize::from(who != "raw");
                (rates[side], cpus[side]) = (rate, cpu_us);
            }
            samples.push(rates, cpus);
        }
        let line = samples.line("producer", &format!("{:<14}", phase.to_string()), 0.98);
        println!("{line}");
        summary.push(line);
    }
    shim.shutdown().await;
    raw_src.shutdown().await;
    raw_dst.shutdown().await;
    Ok(())
}

/// A backlog message: 1 KiB whose first 8 bytes are its sequence number (little-endian), so the consumer side can
/// count each message once and notice redeliveries and strays.
fn numbered(topic: &str, seq: u64) -> Result<Message, BoxError> {
    let mut body = vec![b'x'; BODY];
    body[..8].copy_from_slice(&seq.to_le_bytes());
    Ok(Message::builder().topic(topic).body(body).build()?)
}

/// Sends messages `seqs` to `topic` through `producer`, `inflight` at a time, and checks every result: any failed
/// send is an error naming how many failed and the first failure (with the disk hint for `broker.operation.failed`,
/// which the embedded broker answers when its store's file system is past 90 % used by its measure,
/// `(total − available) / total`; the test kit keeps stores in `/dev/shm` when it can).
async fn backlog(
    producer: &DefaultMQProducer,
    cluster: &str,
    topic: &str,
    seqs: std::ops::Range<u64>,
    inflight: usize,
) -> Result<(), BoxError> {
    let total = seqs.end - seqs.start;
    let next = Arc::new(AtomicU64::new(seqs.start));
    let ok = Arc::new(AtomicU64::new(0));
    let first_err: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(inflight);
    for _ in 0..inflight {
        let (next, ok, failed, first_err, producer, topic) = (
            next.clone(),
            ok.clone(),
            failed.clone(),
            first_err.clone(),
            producer.clone(),
            topic.to_owned(),
        );
        let end = seqs.end;
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= end {
                    break;
                }
                let res = match numbered(&topic, seq) {
                    Ok(m) => producer
                        .send_with_timeout(m, 10_000)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match res {
                    Ok(Some(_)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_err
                            .lock()
                            .get_or_insert_with(|| "send returned no result".into());
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_err.lock().get_or_insert(e);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    if failed > 0 || ok != total {
        let err = first_err.lock().clone().unwrap_or_default();
        let hint = if err.contains("broker.operation.failed") {
            " (the embedded broker refuses writes when its store's file system is past 90 % used as (total − available) / total: check `df` of the store, /dev/shm or RMQ_TESTKIT_DIR)"
        } else {
            ""
        };
        return Err(format!(
            "backlog on {cluster}, topic {topic}: {failed} of {total} sends failed, {ok} stored; first error: {err}{hint}"
        )
        .into());
    }
    Ok(())
}

/// Counts each backlog message once (by the sequence number in its body) and notes the first delivery and the one
/// that completes the set. Deliveries of a message already counted, and messages that are not from the backlog,
/// are counted apart and never complete the set.
struct Tally {
    n: usize,
    seen: Vec<AtomicBool>,
    distinct: AtomicUsize,
    repeated: AtomicU64,
    stray: AtomicU64,
    /// Wall clock and process CPU time (every thread: brokers, clients, listeners) at the first delivery and at
    /// the one that completed the set.
    first: Mutex<Option<(Instant, Duration)>>,
    done: Mutex<Option<(Instant, Duration)>>,
}

/// CPU time (user + system) of the whole process so far.
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

impl Tally {
    fn new(n: usize) -> Arc<Tally> {
        Arc::new(Tally {
            n,
            seen: (0..n).map(|_| AtomicBool::new(false)).collect(),
            distinct: AtomicUsize::new(0),
            repeated: AtomicU64::new(0),
            stray: AtomicU64::new(0),
            first: Mutex::new(None),
            done: Mutex::new(None),
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
            t.first.lock().get_or_insert_with(|| (now, process_cpu()));
            for m in msgs {
                let seq = m
                    .body()
                    .filter(|b| b.len() == BODY)
                    .map(|b| u64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as usize)
                    .filter(|&s| s < t.n);
                match seq {
                    None => {
                        t.stray.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(s) if t.seen[s].swap(true, Ordering::AcqRel) => {
                        t.repeated.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => {
                        if t.distinct.fetch_add(1, Ordering::AcqRel) + 1 == t.n {
                            *t.done.lock() = Some((Instant::now(), process_cpu()));
                        }
                    }
                }
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    /// Waits until every backlog message has arrived; then msgs/s from the first delivery to the last new one, and
    /// the process's CPU microseconds per message over the same span. After `limit` it is an error saying how far
    /// the run got.
    async fn wait(&self, who: &str, limit: Duration) -> Result<(f64, f64), BoxError> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let (Some((a, ca)), Some((b, cb))) = (*self.first.lock(), *self.done.lock()) {
                let cpu_us = (cb.saturating_sub(ca)).as_secs_f64() * 1e6 / self.n as f64;
                return Ok((self.n as f64 / (b - a).as_secs_f64(), cpu_us));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Err(format!(
            "{who}: {} of {} backlog messages delivered within {:?} ({} repeated, {} stray)",
            self.distinct.load(Ordering::Relaxed),
            self.n,
            limit,
            self.repeated.load(Ordering::Relaxed),
            self.stray.load(Ordering::Relaxed)
        )
        .into())
    }
}

/// One consumer run's figures.
struct RunResult {
    rate: f64,
    /// Process CPU (all threads, brokers included) per message from the first delivery to the last new one.
    cpu_us: f64,
    /// From `start()` to the last new delivery (includes rebalance and the first pulls).
    total: Duration,
    repeated: u64,
    stray: u64,
    /// Shim only: deliveries the deduplicator kept from the listener.
    dups_suppressed: Option<u64>,
}

fn limit() -> Duration {
    Duration::from_secs(env::<usize>("RATIO_CONSUME_LIMIT_SECS", 300) as u64)
}

async fn consume_raw(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    topic: &str,
    phase: Phase,
    n: usize,
) -> Result<RunResult, BoxError> {
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
    let start = Instant::now();
    for c in &mut consumers {
        c.start().await?;
    }
    let rate = tally
        .wait(&format!("raw consumer group {group}"), limit())
        .await;
    for mut c in consumers {
        c.shutdown().await;
    }
    let total = tally.done.lock().map(|d| d.0 - start).unwrap_or_default();
    let (rate, cpu_us) = rate?;
    Ok(RunResult {
        rate,
        cpu_us,
        total,
        repeated: tally.repeated.load(Ordering::Relaxed),
        stray: tally.stray.load(Ordering::Relaxed),
        dups_suppressed: None,
    })
}

async fn consume_shim(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    phases: &PhaseHandle,
    topic: &str,
    n: usize,
) -> Result<RunResult, BoxError> {
    let tally = Tally::new(n);
    let group = unique_name("ratio_shim_cg");
    // No `.deduplicator(..)`: the builder's default, a fresh `MemoryDeduplicator`, is the one measured.
    let mut b = MigratingPushConsumer::builder(rt.clone())
        .consumer_group(group.clone())
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset);
    if std::env::var_os("RATIO_NO_DEDUPE").is_some() {
        b = b.without_dedupe();
    }
    let mut c = b.build()?;
    c.subscribe(topic, "*").await?;
    c.register_message_listener_concurrently(tally.listener());
    let start = Instant::now();
    c.start().await?;
    let rate = tally
        .wait(&format!("shim consumer group {group}"), limit())
        .await;
    let dups = c.stats().duplicates_suppressed;
    c.shutdown().await;
    let total = tally.done.lock().map(|d| d.0 - start).unwrap_or_default();
    let (rate, cpu_us) = rate?;
    Ok(RunResult {
        rate,
        cpu_us,
        total,
        repeated: tally.repeated.load(Ordering::Relaxed),
        stray: tally.stray.load(Ordering::Relaxed),
        dups_suppressed: Some(dups),
    })
}

/// The phases listed in `var` (comma-separated), all five when unset.
fn phases_from(var: &str) -> Result<Vec<Phase>, BoxError> {
    match std::env::var(var) {
        Err(_) => Ok(Phase::ALL.to_vec()),
        Ok(list) => list
            .split(',')
            .map(|p| p.trim().parse::<Phase>().map_err(BoxError::from))
            .collect(),
    }
}

async fn consumer_part(
    pair: &ClusterPair,
    rt: &Arc<ClientRuntime>,
    summary: &mut Vec<String>,
) -> Result<(), BoxError> {
    let n = env::<usize>("RATIO_CONSUME_MSGS", 20_000).max(2);
    let pairs = env::<usize>("RATIO_PAIRS", 8).max(1);
    let inflight = env::<usize>("RATIO_INFLIGHT", 64).max(1);
    let phases = PhaseHandle::new();
    let mut src = raw_producer(rt, pair.source.name_server_addr()).await?;
    let mut dst = raw_producer(rt, pair.target.name_server_addr()).await?;
    println!(
        "\n== consumer: backlog {n} x 1 KiB per phase, new group from the first offset per run, \
         warm-up R S then {pairs} R/S pairs per phase, shim dedupe on (default MemoryDeduplicator) =="
    );
    println!(
        "{:<16} {:>3} {:<4} {:>10} {:>10} {:>9} {:>6} {:>6}  load",
        "phase", "run", "who", "msgs/s", "cpu µs/msg", "start→end", "repeat", "dedup"
    );
    for phase in phases_from("RATIO_CONSUME_PHASES")? {
        // A topic per phase: its backlog is read whole by every run, each in a group of its own.
        let topic = unique_name("RatioConsume");
        pair.create_topic(rt, &topic, 8).await?;
        phases.set_phase(&topic, phase)?;
        // The backlog where the phase reads: all on the source or the target, or half on each (distinct
        // messages, so the raw baseline of one consumer per cluster sees each once, as the shim does).
        let reads = phase.read_set();
        let n64 = n as u64;
        let t0 = Instant::now();
        match (
            reads.contains(Cluster::Source),
            reads.contains(Cluster::Target),
        ) {
            (true, true) => {
                backlog(&src, "source", &topic, 0..n64 / 2, inflight).await?;
                backlog(&dst, "target", &topic, n64 / 2..n64, inflight).await?;
            }
            (true, false) => backlog(&src, "source", &topic, 0..n64, inflight).await?,
            (false, true) => backlog(&dst, "target", &topic, 0..n64, inflight).await?,
            (false, false) => return Err(format!("phase {phase} reads no cluster").into()),
        }
        println!(
            "{:<16} backlog of {n} stored in {:.1} s, 0 failed sends",
            phase.to_string(),
            t0.elapsed().as_secs_f64()
        );
        let mut samples = Samples::default();
        for i in 0..=pairs {
            let (mut rates, mut cpus) = ([0.0; 2], [0.0; 2]);
            // The warm-up (run 0) goes raw first; then pair order alternates.
            let order = if i == 0 || raw_first(i - 1) {
                ["raw", "shim"]
            } else {
                ["shim", "raw"]
            };
            for who in order {
                let res = if who == "raw" {
                    consume_raw(pair, rt, &topic, phase, n).await?
                } else {
                    consume_shim(pair, rt, &phases, &topic, n).await?
                };
                println!(
                    "{:<16} {:>3} {:<4} {:>10.0} {:>10.1} {:>8.2}s {:>6} {:>6}  {}",
                    phase.to_string(),
                    if i == 0 {
                        "w".to_string()
                    } else {
                        i.to_string()
                    },
                    who,
                    res.rate,
                    res.cpu_us,
                    res.total.as_secs_f64(),
                    res.repeated,
                    res.dups_suppressed
                        .map_or_else(|| "-".to_string(), |d| d.to_string()),
                    loadavg()
                );
                if res.stray > 0 {
                    return Err(format!("{who} run {i}: {} stray messages", res.stray).into());
                }
                let side = usize::from(who != "raw");
                (rates[side], cpus[side]) = (res.rate, res.cpu_us);
            }
            if i > 0 {
                samples.push(rates, cpus);
            }
        }
        let line = samples.line("consumer", &format!("{:<16}", phase.to_string()), 0.95);
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
    println!(
        "\n== summary: per phase, the median of the per-pair ratios shim/raw, [its bootstrap 95 % interval], (each pair) =="
    );
    for l in &summary {
        println!("{l}");
    }
    runtime.shutdown().await;
    pair.shutdown().await;
    Ok(())
}
