//! Cost of the per-send routing decision and of the default deduplicator.
//!
//! `cargo bench --bench routing`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rocketmq_migration::dedupe::{Deduplicator, MemoryDeduplicator};
use rocketmq_migration::{Phase, PhaseHandle};

fn routing(c: &mut Criterion) {
    let phases = PhaseHandle::new();
    for i in 0..100 {
        phases
            .set_phase(&format!("topic{i}"), Phase::DualReadWrite)
            .unwrap();
    }
    c.bench_function("snapshot + split decision (100 migrating topics)", |b| {
        b.iter(|| {
            let snap = phases.snapshot();
            let state = snap.topic(black_box("topic42"));
            black_box(state.write_cluster(rand::random::<f64>()))
        })
    });
}

fn dedupe(c: &mut Criterion) {
    let d = MemoryDeduplicator::default();
    let mut n = 0u64;
    c.bench_function("memory dedupe begin + commit (new key)", |b| {
        b.iter(|| {
            n += 1;
            let key = format!("AC11000100002A9F0000{n:012X}");
            black_box(d.begin("bench", &key));
            d.commit("bench", &key);
        })
    });
}

criterion_group!(benches, routing, dedupe);
criterion_main!(benches);
