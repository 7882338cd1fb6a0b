//! Micro-benchmark: the migrating push consumer's own work per delivery, with the raw client left out (the only
//! place it is: `MigratingPushConsumer::listen_path_without_client`, a hidden hook of feature `testkit`).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo bench --all-features --bench listen_path
//! ```
//!
//! Each operation delivers one 1 KiB message (the push consumer's default batch of one) to the listener the raw
//! consumer would call, whose application listener does nothing. Before each delivery the message gets its
//! `UNIQ_KEY` (a new one, or the same one for the duplicate row), as the raw client hands over a new message per
//! delivery; the baseline row is only that property write. A row's CPU minus the baseline's is what the shim adds
//! to a delivery: the received counts (total and per topic), the dedupe check and its record, the consuming-
//! cluster mark and the outcome's retry bookkeeping. The dedupe store is the default in-memory one (100,000 keys):
//! the new-key row runs it full, evicting, as a long-running consumer does. Medians of `BENCH_SAMPLES` (101)
//! batches of `BENCH_BATCH` (20,000) deliveries.

mod common;

use std::hint::black_box;
use std::io::Write as _;

use cheetah_string::CheetahString;
use common::{env_usize, loadavg, measure, print_own_cpu, print_rows, Counting, Row};
use rocketmq_client_rust::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, MQPushConsumer,
    MessageListenerConcurrently,
};
use rocketmq_migration::{
    Cluster, ClusterConfig, MigratingPushConsumer, MigrationRuntime, Phase, PhaseHandle,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

#[global_allocator]
static GLOBAL: Counting = Counting;

const TOPIC: &str = "BenchOrders";
const BODY: usize = 1024;

fn delivered() -> MessageExt {
    let mut m = MessageExt {
        message: Message::builder()
            .topic(TOPIC)
            .body(vec![b'x'; BODY])
            .build()
            .expect("message"),
        ..MessageExt::default()
    };
    m.set_broker_name(CheetahString::from_static_str("broker-a"));
    m.set_queue_id(0);
    m
}

/// Give `m` the key `i` (16 hex digits: stored inline, no allocation) as its `UNIQ_KEY`.
fn stamp(m: &mut MessageExt, i: u64) {
    let mut buf = [0u8; 16];
    write!(&mut buf[..], "{i:016x}").expect("16 digits");
    let key = std::str::from_utf8(&buf).expect("ascii");
    m.put_property(
        CheetahString::from_static_str("UNIQ_KEY"),
        CheetahString::from(key),
    );
    m.set_queue_offset(i as i64);
}

fn consumer(
    runtime: &MigrationRuntime,
    phases: &PhaseHandle,
    dedupe: bool,
) -> MigratingPushConsumer {
    let b = MigratingPushConsumer::builder(runtime.client())
        .consumer_group(if dedupe {
            "bench_listen_cg"
        } else {
            "bench_listen_nodedupe_cg"
        })
        .source(ClusterConfig::new("127.0.0.1:9876"))
        .target(ClusterConfig::new("127.0.0.1:9877"))
        .phases(phases.clone());
    let b = if dedupe { b } else { b.without_dedupe() };
    let mut c = b.build().expect("consumer");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(c.subscribe(TOPIC, "*")).expect("subscribe");
    c.register_message_listener_concurrently(
        |msgs: &[&MessageExt], _: &ConsumeConcurrentlyContext| {
            black_box(msgs);
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        },
    );
    c
}

fn main() {
    let samples = env_usize("BENCH_SAMPLES", 101).max(1);
    let batch = env_usize("BENCH_BATCH", 20_000).max(1);
    let runtime = MigrationRuntime::new().expect("client runtime");
    let phases = PhaseHandle::new();
    let with = consumer(&runtime, &phases, true);
    let without = consumer(&runtime, &phases, false);
    let ctx = ConsumeConcurrentlyContext::new(MessageQueue::from_parts(TOPIC, "broker-a", 0));
    let mut m = delivered();
    let mut next = 0u64;

    let mut rows = Vec::new();
    let (wall, base, allocs) = measure(samples, batch, |_| {
        next += 1;
        stamp(&mut m, next);
        black_box(&m);
    });
    rows.push(Row {
        name: "baseline: new UNIQ_KEY on the message",
        ns: wall,
        cpu: base,
        allocs,
        baseline: None,
        target: "",
    });
    let deliver = |l: &dyn MessageListenerConcurrently, m: &MessageExt| {
        let status = l.consume_message(&[m], &ctx).expect("consumed");
        assert_eq!(status, ConsumeConcurrentlyStatus::ConsumeSuccess);
    };
    for (phase, cluster, name) in [
        (Phase::Initial, Cluster::Source, "initial, source, new key"),
        (
            Phase::Completed,
            Cluster::Target,
            "completed, target, new key",
        ),
    ] {
        phases.set_phase(TOPIC, phase).expect("phase");
        let l = with.listen_path_without_client(cluster).expect("listener");
        let (ns, cpu, allocs) = measure(samples, batch, |_| {
            next += 1;
            stamp(&mut m, next);
            deliver(&l, &m);
        });
        rows.push(Row {
            name,
            ns,
            cpu,
            allocs,
            baseline: Some(("new UNIQ_KEY", base)),
            target: "",
        });
    }
    phases.set_phase(TOPIC, Phase::DualRead).expect("phase");
    let l = with
        .listen_path_without_client(Cluster::Target)
        .expect("listener");
    next += 1;
    stamp(&mut m, next);
    deliver(&l, &m);
    let (ns, cpu, allocs) = measure(samples, batch, |_| {
        stamp(&mut m, next);
        deliver(&l, &m);
    });
    rows.push(Row {
        name: "dual_read, target, duplicate (suppressed)",
        ns,
        cpu,
        allocs,
        baseline: Some(("new UNIQ_KEY", base)),
        target: "",
    });
    phases.set_phase(TOPIC, Phase::Initial).expect("phase");
    let l = without
        .listen_path_without_client(Cluster::Source)
        .expect("listener");
    let (ns, cpu, allocs) = measure(samples, batch, |_| {
        next += 1;
        stamp(&mut m, next);
        deliver(&l, &m);
    });
    rows.push(Row {
        name: "initial, source, dedupe off",
        ns,
        cpu,
        allocs,
        baseline: Some(("new UNIQ_KEY", base)),
        target: "",
    });

    println!();
    println!(
        "== listen path: medians of {samples} batches x {batch} deliveries of one message; wall clock and this \
         thread's CPU time; load {} ==",
        loadavg()
    );
    print_rows(&rows);
    print_own_cpu(&rows, "delivery");
}
