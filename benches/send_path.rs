//! Micro-benchmark: the migrating producer's own work per `send`, in every phase, with the raw client's call left
//! out (the only place it is: `MigratingProducer::send_path_without_client`, a hidden hook of feature `testkit`).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo bench --all-features --bench send_path
//! ```
//!
//! Each operation builds a 1 KiB message, as an application does before every send. The baseline row adds the
//! raw client's own first step, the `UNIQ_KEY` stamp; every phase row runs the shim's whole path instead: the
//! stamp, the routing decision, the send's flight record, the failover copy where the phase can fail over, and
//! the outcome's counters. A row's CPU minus the baseline's is what the shim adds to a send. The two-thread rows
//! run the same path from two threads on one topic at once (the lock and counter traffic a loaded producer
//! sees), reporting the slower thread. Medians of `BENCH_SAMPLES` (101) batches of `BENCH_BATCH` (20,000) sends.

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use common::{env_usize, loadavg, measure, print_own_cpu, print_rows, Counting, Row};
use rocketmq_migration::{MigratingProducer, MigrationRuntime, Phase, PhaseHandle};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_single::Message;

#[global_allocator]
static GLOBAL: Counting = Counting;

const TOPIC: &str = "BenchOrders";
const BODY: usize = 1024;

fn message() -> Message {
    Message::builder()
        .topic(TOPIC)
        .body(vec![b'x'; BODY])
        .build()
        .expect("message")
}

/// Poll a future that never waits (the hook's client and call are ready at once) to its end.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the send path without a client never waits"),
    }
}

fn send(p: &MigratingProducer) {
    black_box(ready(p.send_path_without_client(message())).expect("routed"));
}

/// `threads` threads running `op` batches at once; the slowest thread's medians (allocations are not counted: the
/// counter is process-wide).
fn contended(samples: usize, batch: usize, threads: usize, op: impl Fn(u64) + Sync) -> (f64, f64) {
    let barrier = std::sync::Barrier::new(threads);
    let results: Vec<(f64, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let (wall, cpu, _) = measure(samples, batch, &op);
                    (wall, cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect()
    });
    results.into_iter().fold((0.0, 0.0), |(w, c), (w2, c2)| {
        (f64::max(w, w2), f64::max(c, c2))
    })
}

fn main() {
    let samples = env_usize("BENCH_SAMPLES", 101).max(1);
    let batch = env_usize("BENCH_BATCH", 20_000).max(1);
    let runtime = MigrationRuntime::new().expect("client runtime");
    let phases = PhaseHandle::new();
    let producer = MigratingProducer::builder(runtime.client())
        .producer_group("bench_send_path_pg")
        .source(rocketmq_migration::ClusterConfig::new("127.0.0.1:9876"))
        .target(rocketmq_migration::ClusterConfig::new("127.0.0.1:9877"))
        .phases(phases.clone())
        .build()
        .expect("producer");

    let mut rows = Vec::new();
    let (wall, base, allocs) = measure(samples, batch, |_| {
        let mut m = message();
        MessageClientIDSetter::set_uniq_id(&mut m);
        black_box(m);
    });
    rows.push(Row {
        name: "baseline: build 1 KiB message + UNIQ_KEY",
        ns: wall,
        cpu: base,
        allocs,
        baseline: None,
        target: "",
    });
    const NAMES: [&str; 5] = [
        "shim send path, initial",
        "shim send path, dual_read",
        "shim send path, dual_read_write",
        "shim send path, cutting_over",
        "shim send path, completed",
    ];
    for (phase, name) in Phase::ALL.into_iter().zip(NAMES) {
        phases.set_phase(TOPIC, phase).expect("phase");
        let (ns, cpu, allocs) = measure(samples, batch, |_| send(&producer));
        rows.push(Row {
            name,
            ns,
            cpu,
            allocs,
            baseline: Some(("message + UNIQ_KEY", base)),
            target: "",
        });
    }
    const CONTENDED: [(Phase, &str); 2] = [
        (Phase::Initial, "2 threads, one topic, initial"),
        (
            Phase::DualReadWrite,
            "2 threads, one topic, dual_read_write",
        ),
    ];
    let (_, base2) = contended(samples, batch, 2, |_| {
        let mut m = message();
        MessageClientIDSetter::set_uniq_id(&mut m);
        black_box(m);
    });
    for (phase, name) in CONTENDED {
        phases.set_phase(TOPIC, phase).expect("phase");
        let (ns, cpu) = contended(samples, batch, 2, |_| send(&producer));
        rows.push(Row {
            name,
            ns,
            cpu,
            allocs: f64::NAN,
            baseline: Some(("message + UNIQ_KEY, 2 thr", base2)),
            target: "",
        });
    }

    println!();
    println!(
        "== send path: medians of {samples} batches x {batch} sends; wall clock and this thread's CPU time; load {} ==",
        loadavg()
    );
    print_rows(&rows);
    print_own_cpu(&rows, "send");
}
