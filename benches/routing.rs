//! Micro-benchmarks: the per-send routing decision, the in-memory dedupe check with 1 M keys held, and the phase
//! table swap. A counting global allocator reports heap allocations per operation and the live bytes of the
//! dedupe store.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo bench --all-features --bench routing
//! ```
//!
//! Criterion prints its usual estimates per benchmark; the closing summary prints, per operation, the medians of
//! 101 timed batches (wall-clock ns/op and this thread's CPU ns/op, which a busy machine inflates less), allocations
//! per op, the ratio against the baseline measured in the same run, and the
//! target. `BENCH_SAMPLES` (default 101) and `BENCH_BATCH` (default 20 000) size the summary.

use std::alloc::Layout;
use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

mod common;

use common::{env_usize, loadavg, measure, print_rows, Counting, Row, LIVE};
use criterion::{BatchSize, Criterion};
use rocketmq_migration::dedupe::{
    Begin, Deduplicator, MemoryDeduplicator, MemoryDeduplicatorConfig,
};
use rocketmq_migration::{Cluster, Phase, PhaseHandle, PhaseTable};

#[global_allocator]
static GLOBAL: Counting = Counting;

const TOPICS: usize = 100;
const HELD_KEYS: usize = 1_000_000;
const TOPIC: &str = "BenchOrders";

/// A UNIQ_KEY-shaped key (32 upper-case hex digits) for `n`, built on the stack.
struct Key([u8; 32]);

impl Key {
    fn new(n: u64) -> Key {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut b = *b"7F0000010000A1B2C3D4000000000000";
        for i in 0..16 {
            b[31 - i] = HEX[((n >> (4 * i)) & 0xF) as usize];
        }
        Key(b)
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

fn phase_table() -> PhaseHandle {
    let phases = PhaseHandle::new();
    for i in 0..TOPICS {
        phases
            .set_phase(&format!("topic{i}"), Phase::DualReadWrite)
            .expect("valid topic");
    }
    phases
}

/// The decision one send takes: load the snapshot, look the topic up, draw the split.
#[inline(always)]
fn route(phases: &PhaseHandle, topic: &str) -> Cluster {
    // `PhaseHandle::topic` is what the producers call per send: an `ArcSwap` load guard and the hashed lookup.
    phases.topic(topic).write_cluster(rand::random::<f64>())
}

/// A store holding `HELD_KEYS` consumed keys, capacity `HELD_KEYS` (a new key evicts the oldest), and the live heap
/// bytes it took.
fn held_store() -> (MemoryDeduplicator, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let d = MemoryDeduplicator::new(MemoryDeduplicatorConfig {
        capacity: HELD_KEYS,
        ..Default::default()
    });
    for n in 0..HELD_KEYS as u64 {
        let k = Key::new(n);
        assert_eq!(d.begin(TOPIC, k.as_str()), Begin::Proceed);
        d.commit(TOPIC, k.as_str());
    }
    let bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(d.len(), HELD_KEYS);
    (d, bytes)
}

/// The baseline of the dedupe check: a mutex-guarded `HashSet<String>` of the same keys.
fn held_baseline() -> (Mutex<HashSet<String>>, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let mut s = HashSet::with_capacity(0);
    for n in 0..HELD_KEYS as u64 {
        s.insert(format!("{TOPIC}\u{1}{}", Key::new(n).as_str()));
    }
    let bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    (Mutex::new(s), bytes)
}

/// A 1 M-entry `HashMap<u64, u64>` of pre-hashed keys (`splitmix64(n)`), the memory-latency floor of a lookup.
fn held_slots() -> HashMap<u64, u64, foldhash::fast::FixedState> {
    (0..HELD_KEYS as u64).map(|n| (splitmix64(n), n)).collect()
}

/// The memory latency floor of this machine: a pointer chase through a random cycle of 64-byte lines over 32 MiB
/// (the size of the 1 M-key table), 2 MiB-aligned, and with `huge` advised for transparent huge pages like the
/// table. Each load's address comes from the previous load, so nothing overlaps: this is what one cache miss (and
/// its TLB miss) costs, and a check that must miss once cannot be faster in latency.
fn chase_32_mib(samples: usize, batch: usize, huge: bool) -> (f64, f64, f64) {
    const SIZE: usize = 32 << 20;
    const LINE: usize = 64;
    let lines = SIZE / LINE;
    let layout = Layout::from_size_align(SIZE, 2 << 20).expect("layout");
    // SAFETY: non-zero size; freed below with the same layout.
    let base = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!base.is_null());
    let advice = if huge {
        libc::MADV_HUGEPAGE
    } else {
        libc::MADV_NOHUGEPAGE
    };
    // SAFETY: `base..base + SIZE` is our allocation.
    unsafe { libc::madvise(base.cast(), SIZE, advice) };
    let mut order: Vec<usize> = (0..lines).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..lines).rev() {
        x = splitmix64(x);
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    for w in 0..lines {
        let (from, to) = (order[w], order[(w + 1) % lines]);
        // SAFETY: both offsets are line starts inside the allocation, aligned for usize.
        unsafe { *(base.add(from * LINE) as *mut usize) = to * LINE };
    }
    let mut at = order[0] * LINE;
    let r = measure(samples, batch, |_| {
        // SAFETY: every stored offset is a line start inside the allocation.
        at = unsafe { *(base.add(at) as *const usize) };
    });
    black_box(at);
    // SAFETY: allocated above with `layout`.
    unsafe { std::alloc::dealloc(base, layout) };
    r
}

fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn baseline_contains(set: &Mutex<HashSet<String>>, key: &str) -> bool {
    let mut buf = [0u8; 64];
    let scoped = scoped_on_stack(&mut buf, key);
    set.lock().expect("not poisoned").contains(scoped)
}

fn scoped_on_stack<'a>(buf: &'a mut [u8; 64], key: &str) -> &'a str {
    let t = TOPIC.len();
    buf[..t].copy_from_slice(TOPIC.as_bytes());
    buf[t] = 1;
    buf[t + 1..t + 1 + key.len()].copy_from_slice(key.as_bytes());
    std::str::from_utf8(&buf[..t + 1 + key.len()]).expect("ascii")
}

fn criterion_benches(c: &mut Criterion) {
    let phases = phase_table();
    let mut g = c.benchmark_group("routing");
    g.bench_function("baseline: split draw only", |b| {
        b.iter(|| black_box(rand::random::<f64>()))
    });
    g.bench_function("decision, migrating topic (100 in table)", |b| {
        b.iter(|| black_box(route(&phases, black_box("topic42"))))
    });
    g.bench_function("decision, topic not in table", |b| {
        b.iter(|| black_box(route(&phases, black_box("unlisted"))))
    });
    g.finish();

    let mut g = c.benchmark_group("phase table swap");
    let mut flip = false;
    g.bench_function("set_phase (100 topics)", |b| {
        b.iter(|| {
            flip = !flip;
            let to = if flip {
                Phase::CuttingOver
            } else {
                Phase::DualReadWrite
            };
            black_box(phases.set_phase("topic42", to).expect("valid"))
        })
    });
    let table = phases.snapshot();
    g.bench_function("baseline: clone 100-topic table", |b| {
        b.iter(|| black_box(PhaseTable::clone(&table)))
    });
    g.finish();

    let (d, _) = held_store();
    let mut g = c.benchmark_group("dedupe, 1 M keys held");
    g.measurement_time(Duration::from_secs(5));
    let mut n = 0u64;
    g.bench_function("begin, held key (duplicate)", |b| {
        b.iter(|| {
            n = (n + 7919) % HELD_KEYS as u64;
            let k = Key::new(n);
            black_box(d.begin(TOPIC, k.as_str()))
        })
    });
    let mut fresh = HELD_KEYS as u64 * 4;
    g.bench_function("begin + commit, new key (evicts the oldest)", |b| {
        b.iter_batched(
            || {
                fresh += 1;
                Key::new(fresh)
            },
            |k| {
                black_box(d.begin(TOPIC, k.as_str()));
                d.commit(TOPIC, k.as_str());
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    drop(d);
    let (set, _) = held_baseline();
    let mut g = c.benchmark_group("dedupe, 1 M keys held");
    let mut n = 0u64;
    g.bench_function("baseline: Mutex<HashSet<String>> contains", |b| {
        b.iter(|| {
            n = (n + 7919) % HELD_KEYS as u64;
            let k = Key::new(n);
            black_box(baseline_contains(&set, k.as_str()))
        })
    });
    g.finish();
}

fn summary() {
    let samples = env_usize("BENCH_SAMPLES", 101).max(1);
    let batch = env_usize("BENCH_BATCH", 20_000).max(1);
    let mut rows = Vec::new();

    let phases = phase_table();
    let (draw_wall, draw, draw_a) = measure(samples, batch, |_| {
        black_box(rand::random::<f64>());
    });
    rows.push(Row {
        name: "baseline: split draw only",
        ns: draw_wall,
        cpu: draw,
        allocs: draw_a,
        baseline: None,
        target: "",
    });
    let (ns, cpu, a) = measure(samples, batch, |_| {
        black_box(route(&phases, black_box("topic42")));
    });
    rows.push(Row {
        name: "routing decision, migrating topic",
        ns,
        cpu,
        allocs: a,
        baseline: Some(("split draw only", draw)),
        target: "<= 50 ns, 0 allocs",
    });
    let (ns, cpu, a) = measure(samples, batch, |_| {
        black_box(route(&phases, black_box("unlisted")));
    });
    rows.push(Row {
        name: "routing decision, topic not in table",
        ns,
        cpu,
        allocs: a,
        baseline: Some(("split draw only", draw)),
        target: "<= 50 ns, 0 allocs",
    });
    let table = phases.snapshot();
    let swap_batch = (batch / 20).max(1);
    let (clone_ns_wall, clone_ns, clone_a) = measure(samples, swap_batch, |_| {
        black_box(PhaseTable::clone(&table));
    });
    rows.push(Row {
        name: "baseline: clone 100-topic table",
        ns: clone_ns_wall,
        cpu: clone_ns,
        allocs: clone_a,
        baseline: None,
        target: "",
    });
    let (ns, cpu, a) = measure(samples, swap_batch, |i| {
        let to = if i % 2 == 0 {
            Phase::CuttingOver
        } else {
            Phase::DualReadWrite
        };
        black_box(phases.set_phase("topic42", to).expect("valid"));
    });
    rows.push(Row {
        name: "phase table swap (set_phase, 100 topics)",
        ns,
        cpu,
        allocs: a,
        baseline: Some(("clone 100-topic table", clone_ns)),
        target: "(none)",
    });
    drop(table);

    let (set, base_bytes) = held_baseline();
    let (base_ns_wall, base_ns, base_a) = measure(samples, batch, |i| {
        let k = Key::new((i * 7919) % HELD_KEYS as u64);
        black_box(baseline_contains(&set, k.as_str()));
    });
    drop(set);
    rows.push(Row {
        name: "baseline: Mutex<HashSet<String>> contains",
        ns: base_ns_wall,
        cpu: base_ns,
        allocs: base_a,
        baseline: None,
        target: "",
    });
    // What one dedupe check is made of, each measured alone: the clock read (for TTLs), the hash of the scoped key,
    // and one lookup of a pre-hashed u64 in a 1 M-entry table (the memory latency floor of any hash-table store).
    let (ns, cpu, a) = measure(samples, batch, |_| {
        black_box(std::time::Instant::now());
    });
    rows.push(Row {
        name: "part: Instant::now()",
        ns,
        cpu,
        allocs: a,
        baseline: None,
        target: "",
    });
    let (ns, cpu, a) = measure(samples, batch, |i| {
        let k = Key::new((i * 7919) % HELD_KEYS as u64);
        let mut buf = [0u8; 64];
        let scoped = scoped_on_stack(&mut buf, k.as_str());
        black_box(xxhash_rust::xxh3::xxh3_128_with_seed(scoped.as_bytes(), 7));
    });
    rows.push(Row {
        name: "part: key formatting + XXH3-128 of the key",
        ns,
        cpu,
        allocs: a,
        baseline: None,
        target: "",
    });
    for (huge, name) in [
        (false, "part: dependent random load, 32 MiB (4K)"),
        (true, "part: dependent random load, 32 MiB (huge)"),
    ] {
        let (ns, cpu, a) = chase_32_mib(samples, batch, huge);
        rows.push(Row {
            name,
            ns,
            cpu,
            allocs: a,
            baseline: None,
            target: "",
        });
    }
    let slots = held_slots();
    let (floor_wall, floor, floor_a) = measure(samples, batch, |i| {
        let n = (i * 7919) % HELD_KEYS as u64;
        black_box(slots.get(&splitmix64(n)));
    });
    drop(slots);
    rows.push(Row {
        name: "part: HashMap<u64,u64> get, 1 M (foldhash)",
        ns: floor_wall,
        cpu: floor,
        allocs: floor_a,
        baseline: None,
        target: "",
    });
    let (d, bytes) = held_store();
    let (ns, cpu, a) = measure(samples, batch, |i| {
        let k = Key::new((i * 7919) % HELD_KEYS as u64);
        black_box(d.begin(TOPIC, k.as_str()));
    });
    rows.push(Row {
        name: "dedupe begin, held key (duplicate)",
        ns,
        cpu,
        allocs: a,
        baseline: Some(("u64 map get", floor)),
        target: "<= 150 ns",
    });
    let (ns, cpu, a) = measure(samples, batch, |i| {
        let k = Key::new(HELD_KEYS as u64 * 4 + i);
        black_box(d.begin(TOPIC, k.as_str()));
        d.commit(TOPIC, k.as_str());
    });
    rows.push(Row {
        name: "dedupe begin + commit, new key",
        ns,
        cpu,
        allocs: a,
        baseline: Some(("HashSet contains", base_ns)),
        target: "<= 150 ns",
    });
    assert_eq!(d.len(), HELD_KEYS, "the store holds 1 M keys throughout");
    drop(d);

    println!();
    println!(
        "== summary: medians of {samples} batches x {batch} calls (swap: x {swap_batch}); wall clock and this thread's CPU time; load {} ==",
        loadavg()
    );
    print_rows(&rows);
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "dedupe store, {HELD_KEYS} keys held: {:.1} MiB live heap ({:.0} B/key); baseline HashSet<String>: {:.1} MiB \
         ({:.0} B/key), ratio {:.2}x; target <= 64 MiB",
        mib(bytes),
        bytes as f64 / HELD_KEYS as f64,
        mib(base_bytes),
        base_bytes as f64 / HELD_KEYS as f64,
        bytes as f64 / base_bytes.max(1) as f64
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    if std::env::var_os("BENCH_SUMMARY_ONLY").is_none() {
        criterion_benches(&mut c);
        c.final_summary();
    }
    summary();
}
