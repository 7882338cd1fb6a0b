#![recursion_limit = "512"]
//! Control plane: conditional polls answered per second (the 304 path), and propagation latency from an advance to
//! "applied" on polling SDK clients.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo run --release --all-features --example control_plane_bench
//! ```
//!
//! 1. Polls/s: a loopback load generator (keep-alive HTTP/1.1 connections on their own thread, a minimal hand-written
//!    client so the generator costs little) sends `GET /v1/phases` with the current ETag in `If-None-Match`; every
//!    answer must be `304`. The baseline, run alternately in the same process and on the same server runtime, is a
//!    bare axum route answering `304` with an ETag: what HTTP alone costs. Server, generator and the embedded
//!    clusters share this machine's cores.
//! 2. Propagation: `CP_CLIENTS` `ControlClient`s with long-poll (`poll_wait` 30 s) each apply the table to their
//!    own `PhaseHandle`; an operator advances or rolls back a topic through `ControlApi` (forced, so readiness
//!    checks never refuse) and each client's latency is the time from the start of that call to its handle
//!    changing. p50/p99/max over all rounds and clients; the advance call's own duration is the reference.
//!
//! 3. Status (`CP_PART=status`): `CP_TOPICS` topics (default 1,000) registered, half of them created on both
//!    clusters; once the background scanner has scanned them all, `GET /v1/topics` (what `status --output json`
//!    reads) is timed `CP_ROUNDS` times: p50/p99/max, and the duration of one full scan of every topic.
//!
//! Environment: `CP_CONNS` (connections of the generator, default 32), `CP_SECONDS` (seconds per measured run,
//! default 5), `CP_PAIRS` (bare/control runs, default 3), `CP_CLIENTS` (default 100), `CP_ROUNDS` (default 20),
//! `CP_WORKERS` (server runtime worker threads, default 2), `CP_TOPICS` (default 1,000), `CP_PART` (`all`,
//! `polls`, `propagation` or `status`).

mod common;

use common::{env, loadavg, percentile, propagate, BoxError};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use rocketmq_migration::control::{ControlApi, ControlClient};
use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{MigrationRuntime, Phase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN_TOKEN: &str = "bench-admin-token";

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One keep-alive connection sending conditional GETs until `stop`; counts 304 answers, fails on anything else.
async fn poll_conn(
    addr: SocketAddr,
    path: &'static str,
    etag: String,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
) -> Result<(), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nIf-None-Match: {etag}\r\n\r\n");
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut len = 0;
        let end = loop {
            let n = s
                .read(&mut buf[len..])
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by the server".into());
            }
            len += n;
            if let Some(i) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if len == buf.len() {
                return Err("response head over 4 KiB".into());
            }
        };
        if !buf.starts_with(b"HTTP/1.1 304") {
            return Err(format!(
                "expected 304, got {:?}",
                String::from_utf8_lossy(&buf[..end.min(64)])
            ));
        }
        if end != len {
            return Err("unexpected bytes after a 304 head".into());
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Run the generator on its own thread (a single-threaded runtime) for `secs` after a 1 s warm-up. Polls/s.
fn generate(
    addr: SocketAddr,
    path: &'static str,
    etag: &str,
    conns: usize,
    secs: f64,
) -> Result<f64, BoxError> {
    let etag = etag.to_owned();
    let out = std::thread::spawn(move || -> Result<f64, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let stop = Arc::new(AtomicBool::new(false));
            let count = Arc::new(AtomicU64::new(0));
            let tasks: Vec<_> = (0..conns)
                .map(|_| {
                    tokio::spawn(poll_conn(
                        addr,
                        path,
                        etag.clone(),
                        stop.clone(),
                        count.clone(),
                    ))
                })
                .collect();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (c0, t0) = (count.load(Ordering::Relaxed), Instant::now());
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            let (c1, dt) = (count.load(Ordering::Relaxed), t0.elapsed());
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                t.await.map_err(|e| e.to_string())??;
            }
            Ok((c1 - c0) as f64 / dt.as_secs_f64())
        })
    })
    .join()
    .map_err(|_| "load generator panicked")??;
    Ok(out)
}

/// A bare axum server answering every `GET /bare` with `304` and an ETag: the cost of HTTP alone.
async fn bare_server() -> Result<SocketAddr, BoxError> {
    let app = Router::new().route(
        "/bare",
        get(|| async {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut()
                .insert(header::ETAG, HeaderValue::from_static("\"1\""));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }),
    );
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let server = axum_server::from_tcp(listener)?;
    tokio::spawn(server.serve(app.into_make_service()));
    Ok(addr)
}

async fn polls_part(server: &ControlServer, api: &ControlApi) -> Result<String, BoxError> {
    let conns = env::<usize>("CP_CONNS", 32).max(1);
    let secs = env::<usize>("CP_SECONDS", 5).max(1) as f64;
    let pairs = env::<usize>("CP_PAIRS", 3).max(1);
    let etag = api.phases().await?.etag();
    let bare = bare_server().await?;
    println!(
        "\n== conditional polls (304 path): {conns} keep-alive connections, {secs} s per run =="
    );
    println!("{:>3} {:<8} {:>10}  load", "run", "server", "polls/s");
    let (mut b, mut c) = (Vec::new(), Vec::new());
    for i in 0..pairs {
        for (who, addr, path, etag) in [
            ("bare", bare, "/bare", "\"1\""),
            ("control", server.local_addr(), "/v1/phases", etag.as_str()),
        ] {
            let addr2 = addr;
            let etag = etag.to_owned();
            let rate = tokio::task::spawn_blocking(move || {
                generate(addr2, path, &etag, conns, secs).map_err(|e| e.to_string())
            })
            .await??;
            println!("{:>3} {:<8} {:>10.0}  {}", i + 1, who, rate, loadavg());
            if who == "bare" { &mut b } else { &mut c }.push(rate);
        }
    }
    let (mb, mc) = (median(&b), median(&c));
    Ok(format!(
        "polls/s (304): control {mc:.0}  bare axum {mb:.0}  ratio {:.3}  (target >= 20000: {})  load {}",
        mc / mb,
        if mc >= 20_000.0 { "met" } else { "MISSED" },
        loadavg()
    ))
}

async fn propagation_part(url: &str, api: &ControlApi, topic: &str) -> Result<String, BoxError> {
    let n = env::<usize>("CP_CLIENTS", 100).max(1);
    let rounds = env::<usize>("CP_ROUNDS", 20).max(1);
    let mut clients = Vec::with_capacity(n);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Phase, Instant)>();
    for i in 0..n {
        let c = ControlClient::builder(url)
            .application(format!("bench-{i}"))
            .poll_wait(Duration::from_secs(30))
            .build()
            .await?;
        let handle = c.phases();
        let mut changes = handle.subscribe_changes();
        let (tx, topic) = (tx.clone(), topic.to_owned());
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let at = Instant::now();
                let phase = handle.snapshot().phase(&topic);
                if tx.send((i, phase, at)).is_err() {
                    return;
                }
            }
        });
        clients.push(c);
    }
    // Every client has its long-poll outstanding before the first round.
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("\n== propagation: {n} long-polling clients, {rounds} rounds (advance / rollback, forced) ==");
    println!(
        "{:>5} {:<10} {:>9} {:>9} {:>9} {:>9}  load",
        "round", "to", "call ms", "p50 ms", "p99 ms", "max ms"
    );
    let mut all = Vec::with_capacity(n * rounds);
    let mut calls = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (to, call, lat) = propagate(api, topic, &mut rx, n, Duration::from_secs(60)).await?;
        println!(
            "{:>5} {:<10} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}",
            round + 1,
            to.to_string(),
            call.as_secs_f64() * 1e3,
            percentile(&lat, 50.0).as_secs_f64() * 1e3,
            percentile(&lat, 99.0).as_secs_f64() * 1e3,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            loadavg()
        );
        all.extend(lat);
        calls.push(call.as_secs_f64() * 1e3);
        // Let every client's next long-poll arrive before the next move (clients wait up to 500 ms after a new table).
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    for c in &clients {
        c.shutdown();
    }
    all.sort();
    let p99 = percentile(&all, 99.0);
    Ok(format!(
        "propagation to {n} clients ({} samples): p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  advance call median {:.1} ms  \
         (target p99 <= 200 ms: {})  load {}",
        all.len(),
        percentile(&all, 50.0).as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        median(&calls),
        if p99 <= Duration::from_millis(200) { "met" } else { "MISSED" },
        loadavg()
    ))
}

fn main() -> Result<(), BoxError> {
    let workers = env::<usize>("CP_WORKERS", 2).max(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run(workers))
}

/// `GET /v1/topics` with `CP_TOPICS` topics, answered from the background scan.
async fn status_part(
    pair: &ClusterPair,
    rt: &std::sync::Arc<rocketmq_client_rust::ClientRuntime>,
    url: &str,
    api: &ControlApi,
) -> Result<String, BoxError> {
    let n = env::<usize>("CP_TOPICS", 1_000);
    let rounds = env::<usize>("CP_ROUNDS", 20).max(1);
    let names: Vec<String> = (0..n)
        .map(|i| unique_name(&format!("CpStatus{i}")))
        .collect();
    for (i, t) in names.iter().enumerate() {
        // Half exist on both clusters (their checks ask the brokers about backlogs and groups too).
        if i % 2 == 0 {
            pair.source.create_topic(rt, t, 2).await?;
            pair.target.create_topic(rt, t, 2).await?;
        }
    }
    for chunk in names.chunks(500) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        api.register(&refs, None).await?;
    }
    let http = reqwest::Client::new();
    // Wait for a full scan that covered every topic (the one running at registration may have missed some).
    let health = |http: reqwest::Client| async move {
        let v: serde_json::Value = http
            .get(format!("{url}/healthz"))
            .send()
            .await?
            .json()
            .await?;
        Ok::<_, BoxError>(v["readiness_scan_ms"].as_u64().unwrap_or(0))
    };
    let started = Instant::now();
    let first = api.topics().await?.len();
    let cold = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut scan_ms = health(http.clone()).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while scan_ms == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        scan_ms = health(http.clone()).await?;
    }
    let mut ms = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let body = http
            .get(format!("{url}/v1/topics"))
            .send()
            .await?
            .bytes()
            .await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(body.len() > n * 100, "a full answer");
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let line = format!(
        "status with {} topics: GET /v1/topics p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {rounds} calls; \
         one background scan of every topic {scan_ms} ms; the first call (cold, before any scan) {:.0} ms",
        first,
        pct(0.5),
        pct(0.99),
        ms[ms.len() - 1],
        cold.as_secs_f64() * 1e3
    );
    println!("{line}");
    Ok(line)
}

async fn run(workers: usize) -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
    let part = std::env::var("CP_PART").unwrap_or_else(|_| "all".into());
    let pair = ClusterPair::start().await?;
    let runtime = MigrationRuntime::new()?;
    let rt = runtime.client();
    let topic = unique_name("CpBench");
    pair.create_topic(&rt, &topic, 4).await?;
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(
        pair.source.cluster_config(),
        pair.target.cluster_config(),
        Token::new(ADMIN_TOKEN).ok_or("empty token")?,
    );
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.state_file = dir.path().join("state.json");
    config.audit_file = dir.path().join("audit.jsonl");
    let server = ControlServer::start(config, rt.clone()).await?;
    let url = format!("http://{}", server.local_addr());
    let api = ControlApi::new(&url, Some(ADMIN_TOKEN.into()))?.actor("bench");
    api.register(&[topic.as_str()], None).await?;
    println!(
        "control plane {url}, server runtime {workers} worker threads, {} cores, load {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let mut summary = Vec::new();
    if part == "all" || part == "polls" {
        summary.push(polls_part(&server, &api).await?);
    }
    if part == "all" || part == "propagation" {
        summary.push(propagation_part(&url, &api, &topic).await?);
    }
    if part == "all" || part == "status" {
        summary.push(status_part(&pair, &rt, &url, &api).await?);
    }
    println!("\n== summary ==");
    for l in &summary {
        println!("{l}");
    }
    server.shutdown().await;
    runtime.shutdown().await;
    pair.shutdown().await;
    Ok(())
}
