//! `rmq-migrate demo`: the whole product on one machine. Two embedded clusters, the control plane, producers and
//! consumers through the shim following it, and every topic advanced through all five phases through the HTTP API
//! with the readiness gates on. Prints each phase's traffic per cluster, then lost (exit code 1 unless 0).

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, MQPushConsumer,
};
use rocketmq_migration::control::{ControlApi, ControlClient, Refusal};
use rocketmq_migration::dedupe::{KeyExtractor, UniqKey};
use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{
    ErrorKind, MigratingProducer, MigratingPushConsumer, MigrationError, MigrationRuntime, Phase,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

use crate::CliResult;

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Topics to migrate.
    #[arg(long, default_value_t = 3)]
    topics: usize,
    /// Seconds of traffic observed in each phase.
    #[arg(long, default_value_t = 2.0)]
    dwell: f64,
    /// Milliseconds between two sends of one topic's producer.
    #[arg(long, default_value_t = 10)]
    send_every_ms: u64,
    /// Seconds the control plane requires a cluster to be quiet before it leaves a read set.
    #[arg(long, default_value_t = 2.0)]
    quiet_window: f64,
    /// After the walk, keep the clusters, the control plane and the clients running (with fresh topics in
    /// `initial` to move from the web console), print the console's address and the admin token, until Ctrl-C.
    #[arg(long)]
    hold: bool,
}

/// One migrating topic with its producer, consumer and bookkeeping.
struct Lane {
    topic: String,
    producer: MigratingProducer,
    consumer: MigratingPushConsumer,
    acked: Arc<Mutex<HashSet<String>>>,
    received: Arc<Mutex<HashMap<String, usize>>>,
    failed: Arc<AtomicUsize>,
}

fn fail(what: impl Into<String>) -> MigrationError {
    MigrationError::new(ErrorKind::Control, None, what)
}

pub(crate) async fn run(a: DemoArgs) -> CliResult {
    let started = Instant::now();
    let pair = ClusterPair::start().await?;
    let runtime = MigrationRuntime::new()?;
    let rt = runtime.client();

    // The control plane, with a random admin token, on a free port.
    let dir = std::env::temp_dir().join(unique_name("rmq-migrate-demo"));
    std::fs::create_dir_all(&dir).map_err(|e| fail("create demo state dir").with_source(e))?;
    let token = unique_name("token");
    let mut config = ServerConfig::new(
        pair.source.cluster_config(),
        pair.target.cluster_config(),
        Token::new(&token).expect("non-empty"),
    );
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.state_file = dir.join("state.json");
    config.audit_file = dir.join("audit.jsonl");
    config.client_ttl = Duration::from_secs(5);
    config.quiet_window = Duration::from_secs_f64(a.quiet_window);
    config.sample_every = Duration::from_millis(500);
    let server = ControlServer::start(config, rt.clone()).await?;
    let url = format!("http://{}", server.local_addr());
    let api = ControlApi::new(&url, Some(token.clone()))?.actor("demo");
    println!(
        "source namesrv {}  target namesrv {}  control plane {url}",
        pair.source.name_server_addr(),
        pair.target.name_server_addr()
    );

    // Topics exist on both clusters; their groups on the target (what `rmq-migrate import` does).
    let names = [
        "orders", "payments", "audit", "shipping", "billing", "events",
    ];
    let mut lanes = Vec::new();
    let control = ControlClient::builder(&url)
        .application("demo-app")
        .poll_wait(Duration::from_secs(10))
        .heartbeat_every(Duration::from_millis(500))
        .cache_file(dir.join("phases-cache.json"))
        .build()
        .await?;
    for i in 0..a.topics.max(1) {
        lanes.push(lane(&pair, &rt, &control, unique_name(names[i % names.len()])).await?);
    }
    let topics: Vec<&str> = lanes.iter().map(|l| l.topic.as_str()).collect();
    api.register(&topics, Some(0.5)).await?;

    // Steady traffic on every topic for the whole walk.
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    let every = Duration::from_millis(a.send_every_ms);
    for lane in &lanes {
        senders.push(send_steadily(lane, every, stop.clone()));
    }

    println!();
    println!(
        "{:<16} {:<30} {:>9} {:>9} {:>9} {:>9}  GATES",
        "PHASE", "TOPIC", "SENT SRC", "SENT TGT", "RECV SRC", "RECV TGT"
    );
    let dwell = Duration::from_secs_f64(a.dwell);
    let mut last: Vec<([u64; 2], [u64; 2])> = lanes.iter().map(|_| ([0; 2], [0; 2])).collect();
    tokio::time::sleep(dwell).await;
    print_rows(
        Phase::Initial,
        &lanes,
        &mut last,
        &vec![String::from("-"); lanes.len()],
    );
    for from in [
        Phase::Initial,
        Phase::DualRead,
        Phase::DualReadWrite,
        Phase::CuttingOver,
    ] {
        let mut gates = Vec::new();
        for lane in &lanes {
            gates.push(advance(&api, &lane.topic, from).await?);
        }
        let to = from.next().expect("not the last phase");
        let deadline = Instant::now() + Duration::from_secs(30);
        while lanes
            .iter()
            .any(|l| control.phases().snapshot().phase(&l.topic) != to)
        {
            if Instant::now() > deadline {
                return Err(fail(format!("clients did not pick up {to} within 30 s")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(dwell).await;
        print_rows(to, &lanes, &mut last, &gates);
    }

    stop.store(true, Ordering::Release);
    for s in senders {
        let _ = s.await;
    }
    // Everything acknowledged must arrive.
    let deadline = Instant::now() + Duration::from_secs(60);
    let lost = loop {
        let lost: usize = lanes
            .iter()
            .map(|l| {
                let r = l.received.lock();
                l.acked
                    .lock()
                    .iter()
                    .filter(|k| !r.contains_key(*k))
                    .count()
            })
            .sum();
        if lost == 0 || Instant::now() > deadline {
            break lost;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let acked: usize = lanes.iter().map(|l| l.acked.lock().len()).sum();
    let twice: usize = lanes
        .iter()
        .map(|l| l.received.lock().values().filter(|n| **n > 1).count())
        .sum();
    let failed: usize = lanes.iter().map(|l| l.failed.load(Ordering::Relaxed)).sum();
    let suppressed: u64 = lanes
        .iter()
        .map(|l| l.consumer.stats().duplicates_suppressed)
        .sum();
    let audit = api.audit(None, 1_000).await?;
    println!();
    println!(
        "{} topics walked initial -> completed through the API with gates on ({} audit entries, {} forced); \
         acked {acked}, send failures {failed}, delivered twice {twice}, duplicates kept from listeners {suppressed}",
        lanes.len(),
        audit.len(),
        audit.iter().filter(|e| e.forced).count()
    );
    println!("lost = {lost}   ({:.1} s)", started.elapsed().as_secs_f64());

    if a.hold {
        let console = (url.as_str(), token.as_str());
        hold(&a, &pair, &rt, (&control, &api), console, &mut lanes).await?;
    }

    for mut l in lanes {
        l.consumer.shutdown().await;
        l.producer.shutdown().await;
    }
    control.shutdown();
    server.shutdown().await;
    runtime.shutdown().await;
    pair.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(if lost == 0 && twice == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Send to `lane`'s topic every `every` until `stop`, counting acknowledged and failed sends.
fn send_steadily(
    lane: &Lane,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (p, topic, acked, failed) = (
        lane.producer.clone(),
        lane.topic.clone(),
        lane.acked.clone(),
        lane.failed.clone(),
    );
    tokio::spawn(async move {
        let mut i = 0u64;
        while !stop.load(Ordering::Acquire) {
            let msg = Message::builder()
                .topic(topic.as_str())
                .body(format!("demo {i}").into_bytes())
                .build()
                .expect("message");
            match p.send(msg).await {
                Ok(Some(r)) => {
                    if let Some(id) = r.msg_id {
                        acked.lock().insert(id.to_string());
                    }
                }
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            i += 1;
            tokio::time::sleep(every).await;
        }
    })
}

/// `demo --hold`: after the walk, fresh topics in `initial` with their own clients, steady traffic on every topic,
/// and the console's address and admin token (`console`) printed, until Ctrl-C.
async fn hold(
    a: &DemoArgs,
    pair: &ClusterPair,
    rt: &Arc<rocketmq_client_rust::ClientRuntime>,
    (control, api): (&ControlClient, &ControlApi),
    (url, token): (&str, &str),
    lanes: &mut Vec<Lane>,
) -> Result<(), MigrationError> {
    let mut fresh = Vec::new();
    for i in 0..a.topics.max(1) {
        let l = lane(pair, rt, control, unique_name(&format!("console_{i}"))).await?;
        fresh.push(l.topic.clone());
        lanes.push(l);
    }
    let names: Vec<&str> = fresh.iter().map(String::as_str).collect();
    api.register(&names, Some(0.5)).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let every = Duration::from_millis(a.send_every_ms.max(50));
    let senders: Vec<_> = lanes
        .iter()
        .map(|l| send_steadily(l, every, stop.clone()))
        .collect();
    println!();
    println!(
        "holding: both clusters, the control plane and the clients of {} topics keep running ({} walked, {} \
         fresh in initial to move from the console)",
        lanes.len(),
        lanes.len() - fresh.len(),
        fresh.len()
    );
    println!("console: {url}/");
    println!("admin token: {token}");
    println!("Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| fail("wait for Ctrl-C").with_source(e))?;
    stop.store(true, Ordering::Release);
    for s in senders {
        let _ = s.await;
    }
    Ok(())
}

/// Create `topic` on both clusters and its group on the target, and start its shim producer and consumer.
async fn lane(
    pair: &ClusterPair,
    rt: &Arc<rocketmq_client_rust::ClientRuntime>,
    control: &ControlClient,
    topic: String,
) -> Result<Lane, MigrationError> {
    let rt = rt.clone();
    let group = format!("{topic}_cg");
    pair.create_topic(&rt, &topic, 4).await?;
    pair.target.create_group(&rt, &group).await?;
    let mut producer = MigratingProducer::builder(rt.clone())
        .producer_group(format!("{topic}_pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .control(control)
        .build()?;
    producer
        .start()
        .await
        .map_err(|e| fail("producer start").with_source(e))?;
    let received: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut consumer = MigratingPushConsumer::builder(rt.clone())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .control(control)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build()?;
    consumer
        .subscribe(topic.as_str(), "*")
        .await
        .map_err(|e| fail("subscribe").with_source(e))?;
    let rec = received.clone();
    consumer.register_message_listener_concurrently(
        move |msgs: &[&MessageExt],
              _: &ConsumeConcurrentlyContext|
              -> ClientResult<ConsumeConcurrentlyStatus> {
            let mut r = rec.lock();
            for m in msgs {
                *r.entry(UniqKey.key(m).unwrap_or_default()).or_default() += 1;
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        },
    );
    consumer
        .start()
        .await
        .map_err(|e| fail("consumer start").with_source(e))?;
    Ok(Lane {
        topic,
        producer,
        consumer,
        acked: Arc::default(),
        received,
        failed: Arc::default(),
    })
}

/// Advance one topic, retrying while its gates are not ready yet; returns the checks that let it through.
async fn advance(api: &ControlApi, topic: &str, from: Phase) -> Result<String, MigrationError> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut reported = false;
    loop {
        match api.advance(topic, from, false).await {
            Ok(moved) if moved.checks.is_empty() => return Ok("(none for this step)".into()),
            Ok(moved) => {
                let codes: Vec<&str> = moved.checks.iter().map(|c| c.code.as_str()).collect();
                return Ok(format!("{} passed", codes.join(", ")));
            }
            Err(e) if e.kind() == ErrorKind::Refused && Instant::now() < deadline => {
                let Some(r) = Refusal::of(&e).filter(|r| r.body.error == "not_ready") else {
                    return Err(e);
                };
                if !reported {
                    for c in r.body.checks.iter().filter(|c| !c.passed) {
                        println!(
                            "  (waiting: {topic} {} -> {}: {} — {})",
                            from,
                            from.next().expect("next"),
                            c.code,
                            c.detail
                        );
                    }
                    reported = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn print_rows(phase: Phase, lanes: &[Lane], last: &mut [([u64; 2], [u64; 2])], gates: &[String]) {
    for (i, l) in lanes.iter().enumerate() {
        let sent = l.producer.stats().sent;
        let recv = l.consumer.stats().delivered;
        let (ps, pr) = last[i];
        println!(
            "{:<16} {:<30} {:>9} {:>9} {:>9} {:>9}  {}",
            phase.as_str(),
            l.topic,
            sent[0] - ps[0],
            sent[1] - ps[1],
            recv[0] - pr[0],
            recv[1] - pr[1],
            gates[i]
        );
        last[i] = (sent, recv);
    }
}
