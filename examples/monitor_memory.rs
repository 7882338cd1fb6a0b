//! Migration monitoring store: memory held and time taken with 1,000 topics over 6 h of 10 s ticks.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo run --release --features server --example monitor_memory
//! ```
//!
//! The store (default configuration: fine 10 s for 6 h, coarse 1 min for 7 d for the task and 10 min for 7 d per
//! topic) is filled tick by tick with synthetic cumulative values for every topic: source stored counts growing at
//! 5–44 messages/s, the target growing as the migration goes on (absent for every tenth topic: a gap), consumed
//! counts trailing by a fluctuating backlog, shim counters that restart every 2 h for a third of the topics, and
//! failovers and duplicates. Then it prints, as table rows:
//!
//! * `memory_bytes()` (the store's own count, from its capacities) and the process's resident set growth (VmRSS
//!   from `/proc/self/status`, before the store exists and after it is filled);
//! * the time of one tick (recording every topic, then ending the tick): p50, p99, max, mean;
//! * the time of a `series` query over the last 6 h (fine tier, RFC 3339 point times included) and over 7 d
//!   (coarse tier), for one topic and for the task, and of `latest` for every topic (a Prometheus scrape): medians
//!   of `MON_QUERIES` runs.
//!
//! Environment: `MON_TOPICS` (default 1,000), `MON_TICKS` (default 2,160 = 6 h; 60,480 = 7 d), `MON_QUERIES`
//! (default 50).

mod common;

use common::{env, loadavg, percentile};

use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use rocketmq_migration::server::monitor::bench::{BenchCluster, MonitorBench};

/// Seconds between ticks (the fine resolution).
const STEP: u64 = 10;

/// Resident set size in bytes (`VmRSS`).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1_024)
}

/// Median time of `runs` calls of `f`.
fn median_of(runs: u64, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    percentile(&times, 50.0)
}

/// Topic `i`'s cumulative values at tick `k` of `ticks`: source, target, failed over, duplicates.
fn synthetic(i: u64, k: u64, ticks: u64) -> (BenchCluster, BenchCluster, u64, u64) {
    let rate = 5 + i % 40;
    let stored = k * STEP * rate;
    let backlog = (i % 7) * 100 + k % 13;
    let consumed = stored.saturating_sub(backlog);
    // Shim counters of a third of the topics start over every 2 h (clients restarting).
    let counted = if i.is_multiple_of(3) { k % 720 } else { k };
    let sent = counted * STEP * rate * 9 / 10;
    let source = (
        Some(stored),
        Some(consumed),
        Some(backlog.min(stored)),
        sent,
        sent,
    );
    // The target takes a growing share: cumulative k² growth; every tenth topic is not created there yet.
    let target = if i.is_multiple_of(10) {
        (None, None, None, 0, 0)
    } else {
        let stored = k * k * STEP * rate / (2 * ticks.max(1));
        let sent = stored * 9 / 10;
        (Some(stored), Some(stored), Some(0), sent, sent)
    };
    (source, target, k / 100, k * (i % 5))
}

fn main() {
    let topics = env::<u64>("MON_TOPICS", 1_000);
    let ticks = env::<u64>("MON_TICKS", 2_160);
    let queries = env::<u64>("MON_QUERIES", 50);
    let names: Vec<String> = (0..topics)
        .map(|i| format!("TopicMigration-{i:05}"))
        .collect();
    let start = UNIX_EPOCH + Duration::from_secs(1_795_651_200);

    let rss_before = rss();
    let mut store = MonitorBench::default();
    let mut tick_times = Vec::with_capacity(ticks as usize);
    for k in 0..ticks {
        let at = start + Duration::from_secs(k * STEP);
        let begun = Instant::now();
        for (i, name) in (0u64..).zip(&names) {
            let (source, target, failed_over, duplicates) = synthetic(i, k, ticks);
            store.record(at, name, source, target, failed_over, duplicates);
        }
        store.end_tick(at);
        tick_times.push(begun.elapsed());
    }
    let rss_after = rss();
    let held = store.memory_bytes() as u64;
    let newest = start + Duration::from_secs(ticks.saturating_sub(1) * STEP);
    let since = |d: Duration| newest.checked_sub(d).unwrap_or(start);
    let six_hours = Duration::from_secs(6 * 3_600);
    let week = Duration::from_secs(7 * 24 * 3_600);

    let mut points = [0usize; 4];
    let topic = names.first().map(String::as_str);
    let cases = [
        ("series, one topic, 6 h", topic, six_hours),
        ("series, task, 6 h", None, six_hours),
        ("series, one topic, 7 d", topic, week),
        ("series, task, 7 d", None, week),
    ];
    let query_times: Vec<Duration> = cases
        .iter()
        .zip(&mut points)
        .map(|((_, t, back), n)| {
            median_of(queries, || {
                let doc = store.series(*t, since(*back), None).expect("watched");
                *n = doc.points.len();
                black_box(doc);
            })
        })
        .collect();
    let json_bytes = store
        .series(topic, since(six_hours), None)
        .map_or(0, |d| serde_json::to_vec(&d).map_or(0, |v| v.len()));
    let scrape = median_of(queries, || {
        for name in &names {
            black_box(store.latest(Some(name)));
        }
        black_box(store.latest(None));
    });

    tick_times.sort();
    let mean = tick_times.iter().sum::<Duration>() / tick_times.len().max(1) as u32;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "monitor store: {} topics, {} ticks of {STEP} s ({:.1} h), load {}",
        store.topic_count(),
        ticks,
        (ticks * STEP) as f64 / 3_600.0,
        loadavg()
    );
    println!();
    println!("| figure | result |");
    println!("|---|---|");
    println!(
        "| memory_bytes() | {held} B ({:.1} MiB), {} B per topic |",
        mib(held),
        held / topics.max(1)
    );
    println!(
        "| RSS growth (VmRSS after − before) | {} B ({:.1} MiB) |",
        rss_after.saturating_sub(rss_before),
        mib(rss_after.saturating_sub(rss_before))
    );
    println!(
        "| one tick of {topics} topics | p50 {:?}, p99 {:?}, max {:?}, mean {:?} |",
        percentile(&tick_times, 50.0),
        percentile(&tick_times, 99.0),
        percentile(&tick_times, 100.0),
        mean
    );
    for (((what, _, _), took), n) in cases.iter().zip(&query_times).zip(points) {
        println!("| {what} ({n} points) | median {took:?} |");
    }
    println!("| JSON of one topic's 6 h document | {json_bytes} B |");
    println!("| latest() for every topic and the task | median {scrape:?} |");

    let keep = topics / 2;
    store.retain(|t| {
        t.trim_start_matches("TopicMigration-")
            .parse::<u64>()
            .is_ok_and(|i| i < keep)
    });
    println!(
        "| memory_bytes() after retaining {keep} topics | {} B ({:.1} MiB) |",
        store.memory_bytes(),
        mib(store.memory_bytes() as u64)
    );
}
