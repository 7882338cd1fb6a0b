//! Helpers the benchmark examples share: run-length settings from the environment, the machine's load, latency
//! percentiles, and timing one phase move to every long-polling client. Each example uses a part of it.
#![allow(dead_code)]

pub mod paired;

use std::str::FromStr;
use std::time::{Duration, Instant};

use rocketmq_migration::control::ControlApi;
use rocketmq_migration::Phase;

/// The error type of the examples' `main`s.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The environment variable `name` parsed, or `default` when it is unset or does not parse.
pub fn env<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), printed beside every figure.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The `p`-th percentile (nearest rank) of `sorted`; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// Milliseconds of `d`.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What each client's watcher sends when its table changes: (client index, the topic's phase, when).
pub type Applied = tokio::sync::mpsc::UnboundedReceiver<(usize, Phase, Instant)>;

/// One move of `topic`, forced (advance from `initial`, roll back otherwise), timed to each of the `n` clients
/// reporting on `rx`: (the phase moved to, the call's own time, every client's latency from the call's start,
/// sorted). Fails when a client has not applied it within `within`.
pub async fn propagate(
    api: &ControlApi,
    topic: &str,
    rx: &mut Applied,
    n: usize,
    within: Duration,
) -> Result<(Phase, Duration, Vec<Duration>), BoxError> {
    while rx.try_recv().is_ok() {}
    let current = api.phases().await?.to_table().phase(topic);
    let t0 = Instant::now();
    let moved = if current == Phase::Initial {
        api.advance(topic, current, true).await?
    } else {
        api.rollback(topic, current, true).await?
    };
    let call = t0.elapsed();
    let to = moved.state.phase;
    let mut seen = vec![None; n];
    let mut left = n;
    let deadline = tokio::time::Instant::now() + within;
    while left > 0 {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((i, phase, at))) if phase == to && seen[i].is_none() => {
                seen[i] = Some(at.saturating_duration_since(t0));
                left -= 1;
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("watchers ended".into()),
            Err(_) => {
                return Err(format!(
                    "{left} of {n} clients did not apply {to} within {} s",
                    within.as_secs()
                )
                .into())
            }
        }
    }
    let mut lat: Vec<Duration> = seen.into_iter().flatten().collect();
    lat.sort();
    Ok((to, call, lat))
}
