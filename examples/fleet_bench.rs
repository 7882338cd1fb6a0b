#![recursion_limit = "512"]
//! Ten thousand clients: `FLEET_CLIENTS` real `ControlClient`s (default 10,000, all in this process) long-poll one
//! control plane that runs in a child process (this program re-executed with `FLEET_ROLE=server`), so its RSS and
//! CPU are its own.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo run --release --all-features --example fleet_bench
//! ```
//!
//! Every simulated instance is one `ControlClient` with the defaults (watch stream on a 30 s long-poll, stale after 30 s, backoff
//! 250 ms..30 s) plus a heartbeat every 5 s (the default `heartbeat_every`) over its own keep-alive connection, as
//! a producer built with `.control(..)` sends it: `POST /v1/clients/heartbeat` with its applied phase.
//!
//! 1. Steady state: over `FLEET_STEADY_SECS` (default 30) the server's CPU (utime + stime of the child from
//!    `/proc/<pid>/stat`, % of one core) and RSS (`VmRSS`, and the peak `VmHWM`), heartbeats answered per second.
//! 2. Propagation: `FLEET_ROUNDS` (default 5) forced advances / rollbacks; per client the time from the start of
//!    the call to its handle changing; p50/p99/max.
//! 3. Restart: the server is killed (SIGKILL), kept down `FLEET_DOWN_SECS` (default 10), started again on the same
//!    port from the same state file. Every client's status is sampled every 250 ms from the kill until
//!    `FLEET_AFTER_SECS` (default 40) after the restart: any STALE is counted. The reconnects' spread: server-side
//!    established connections (`/proc/net/tcp`) per second after the restart. Then one more advance must reach
//!    every client.
//!
//! Needs two file descriptors per instance on each side; the program raises its `RLIMIT_NOFILE` (as root up to
//! 65,536) and the child inherits it. `FLEET_HEARTBEATS` says how heartbeats travel: `own` (one keep-alive
//! connection per instance, as a real client; the default where the limit allows two per instance plus 1,024),
//! `shared` (one keep-alive pool for all instances; the default otherwise) or `fresh` (a new connection each).
//! `FLEET_WATCH=0` turns the clients' watch stream off (long-polls only, as before the stream).

#[cfg(not(all(feature = "testkit", feature = "server")))]
fn main() {
    eprintln!("fleet_bench needs --features testkit,server (or --all-features)");
}

#[cfg(all(feature = "testkit", feature = "server"))]
fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    fleet::main()
}

#[cfg(all(feature = "testkit", feature = "server"))]
mod common;

#[cfg(all(feature = "testkit", feature = "server"))]
mod fleet {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use rocketmq_migration::control::wire::{AppliedPhase, Heartbeat, Role, SyncStatus};
    use rocketmq_migration::control::{ControlApi, ControlClient};
    use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
    use rocketmq_migration::testkit::{unique_name, ClusterPair};
    use rocketmq_migration::{ClusterConfig, MigrationRuntime, Phase};

    use crate::common::{env, loadavg, ms, percentile, propagate, BoxError};

    const ADMIN_TOKEN: &str = "fleet-admin-token";

    pub(super) fn main() -> Result<(), BoxError> {
        raise_nofile();
        if std::env::var("FLEET_ROLE").as_deref() == Ok("server") {
            // As `rmq-migrate serve` (`#[tokio::main]`): one worker per core.
            return tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve());
        }
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run())
    }

    /// Soft (and, as root, hard) `RLIMIT_NOFILE` up to 65,536.
    fn raise_nofile() {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscalls on a local struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
                return;
            }
            let want = 65_536;
            let raised = libc::rlimit {
                rlim_cur: want.max(l.rlim_cur),
                rlim_max: want.max(l.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                l.rlim_cur = l.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &l);
            }
        }
    }

    /// The soft `RLIMIT_NOFILE` now in effect.
    fn nofile_limit() -> u64 {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a plain syscall on a local struct.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
            return 1_024;
        }
        l.rlim_cur
    }

    /// The child: a control plane on `FLEET_LISTEN` with the state in `FLEET_DIR`, against the parent's clusters.
    async fn serve() -> Result<(), BoxError> {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            )
            .init();
        let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} not set"));
        let source: ClusterConfig = serde_json::from_str(&var("FLEET_SOURCE")?)?;
        let target: ClusterConfig = serde_json::from_str(&var("FLEET_TARGET")?)?;
        let dir = PathBuf::from(var("FLEET_DIR")?);
        let runtime = MigrationRuntime::new()?;
        let mut config = ServerConfig::new(
            source,
            target,
            Token::new(ADMIN_TOKEN).ok_or("empty token")?,
        );
        config.listen = var("FLEET_LISTEN")?.parse()?;
        config.state_file = dir.join("state.json");
        config.audit_file = dir.join("audit.jsonl");
        let server = ControlServer::start(config, runtime.client()).await?;
        println!("listening {}", server.local_addr());
        std::future::pending::<()>().await;
        Ok(())
    }

    struct ServerProcess {
        child: Child,
        addr: SocketAddr,
    }

    /// Start the child; returns once it listens (or fails with what it printed).
    fn spawn_server(
        listen: SocketAddr,
        dir: &Path,
        pair: &ClusterPair,
    ) -> Result<ServerProcess, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .env("FLEET_ROLE", "server")
            .env("FLEET_LISTEN", listen.to_string())
            .env("FLEET_DIR", dir)
            .env(
                "FLEET_SOURCE",
                serde_json::to_string(&pair.source.cluster_config())?,
            )
            .env(
                "FLEET_TARGET",
                serde_json::to_string(&pair.target.cluster_config())?,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("control plane did not start: {line:?}"))?
            .parse()?;
        Ok(ServerProcess { child, addr })
    }

    /// (CPU seconds, RSS MiB, peak RSS MiB) of a process.
    fn proc_stats(pid: u32) -> (f64, f64, f64) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let cpu = (ticks(11) + ticks(12)) / hz;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (cpu, kb("VmRSS:"), kb("VmHWM:"))
    }

    /// Established TCP connections whose local port is `port` (the server's side), from `/proc/net/tcp`.
    fn established_on(port: u16) -> usize {
        let want = format!(":{port:04X} ");
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter(|l| {
                let mut f = l.split_whitespace();
                let local = f.nth(1).unwrap_or("");
                let state = f.nth(1).unwrap_or("");
                state == "01" && format!("{local} ").ends_with(&want)
            })
            .count()
    }

    /// One simulated instance: its client and the counters its heartbeat task bumps.
    struct Instance {
        client: ControlClient,
    }

    #[derive(Default)]
    struct Beats {
        ok: AtomicU64,
        failed: AtomicU64,
    }

    /// Every `every`, post this instance's heartbeat (as `heartbeat_loop` does for a producer built with
    /// `.control(..)`): over its own keep-alive connection, or over `shared` (one client for all instances; see
    /// `FLEET_HEARTBEATS`).
    fn spawn_heartbeats(
        i: usize,
        client: ControlClient,
        url: String,
        topic: String,
        beats: Arc<Beats>,
        shared: Option<&reqwest::Client>,
    ) -> Result<(), BoxError> {
        let every = Duration::from_secs(5);
        let http = match shared {
            Some(http) => http.clone(),
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .pool_idle_timeout(Duration::from_secs(90))
                .build()?,
        };
        let client_id = format!("fleet@bench/{}/producer-fleet_pg-{i}", std::process::id());
        tokio::spawn(async move {
            loop {
                let status = client.status();
                let s = client.phases().snapshot().topic(&topic);
                let hb = Heartbeat::new(client_id.clone(), "fleet", Role::Producer, "fleet_pg")
                    .with_topics([&topic])
                    .with_applied(BTreeMap::from([(
                        topic.clone(),
                        AppliedPhase::new(s.phase, s.version),
                    )]))
                    .with_status(
                        status,
                        (status == SyncStatus::Stale)
                            .then(|| client.status_reason().unwrap_or("").to_owned()),
                    )
                    .with_table_version(client.version());
                let r = http
                    .post(format!("{url}/v1/clients/heartbeat"))
                    .timeout(Duration::from_secs(5))
                    .json(&hb)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => beats.ok.fetch_add(1, Ordering::Relaxed),
                    _ => beats.failed.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(every).await;
            }
        });
        Ok(())
    }

    async fn run() -> Result<(), BoxError> {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            )
            .init();
        let n = env::<usize>("FLEET_CLIENTS", 10_000).max(1);
        let rounds = env::<usize>("FLEET_ROUNDS", 5).max(1);
        let steady = env::<usize>("FLEET_STEADY_SECS", 30).max(1) as u64;
        let down = env::<usize>("FLEET_DOWN_SECS", 10) as u64;
        let after = env::<usize>("FLEET_AFTER_SECS", 40) as u64;
        let pair = ClusterPair::start().await?;
        let runtime = MigrationRuntime::new()?;
        let topic = unique_name("Fleet");
        pair.create_topic(&runtime.client(), &topic, 4).await?;
        let dir = tempfile::tempdir()?;
        let mut server = spawn_server(SocketAddr::from(([127, 0, 0, 1], 0)), dir.path(), &pair)?;
        let url = format!("http://{}", server.addr);
        let api = ControlApi::new(&url, Some(ADMIN_TOKEN.into()))?.actor("fleet-bench");
        api.register(&[topic.as_str()], None).await?;
        println!(
            "control plane {url} (pid {}), {n} clients, {} cores, load {}",
            server.child.id(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            loadavg()
        );

        // Two keep-alive connections per instance (its long-poll and its heartbeat) need 2n descriptors on each
        // side. Where RLIMIT_NOFILE cannot give that (a container's hard limit), the instances' heartbeats share
        // one keep-alive pool (as many kept connections as heartbeats in flight at once): each heartbeat still
        // costs the server one HTTP/1.1 request on a kept connection, without a descriptor per instance.
        let limit = nofile_limit();
        let own_fits = (2 * n as u64 + 1_024) <= limit;
        let mode = std::env::var("FLEET_HEARTBEATS")
            .unwrap_or_else(|_| if own_fits { "own" } else { "shared" }.into());
        let shared = match mode.as_str() {
            "own" => None,
            "shared" => Some(
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .build()?,
            ),
            "fresh" => Some(
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .pool_max_idle_per_host(0)
                    .build()?,
            ),
            other => return Err(format!("FLEET_HEARTBEATS={other}: own, shared or fresh").into()),
        };
        let watch = env::<usize>("FLEET_WATCH", 1) != 0;
        println!(
            "tables {}",
            if watch {
                "on the watch stream (FLEET_WATCH=0: long-polls)"
            } else {
                "by long-polls (FLEET_WATCH=0)"
            }
        );
        println!(
            "RLIMIT_NOFILE {limit}: heartbeats {}",
            match mode.as_str() {
                "own" => "over one keep-alive connection per instance",
                "shared" => "over one keep-alive pool shared by all instances",
                _ => "over a new connection each",
            }
        );

        // The fleet: built 64 at a time, each with a watcher and its heartbeats.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Phase, Instant)>();
        let beats = Arc::new(Beats::default());
        let started = Instant::now();
        let mut fleet: Vec<Instance> = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
            let built = futures::future::join_all(chunk.iter().map(|_| {
                ControlClient::builder(url.clone())
                    .application("fleet")
                    .watch(watch)
                    .build()
            }))
            .await;
            for (i, c) in chunk.iter().copied().zip(built) {
                let client = c?;
                let handle = client.phases();
                let mut changes = handle.subscribe_changes();
                let (tx, t) = (tx.clone(), topic.clone());
                tokio::spawn(async move {
                    while changes.changed().await.is_ok() {
                        let at = Instant::now();
                        if tx.send((i, handle.snapshot().phase(&t), at)).is_err() {
                            return;
                        }
                    }
                });
                spawn_heartbeats(
                    i,
                    client.clone(),
                    url.clone(),
                    topic.clone(),
                    beats.clone(),
                    shared.as_ref(),
                )?;
                fleet.push(Instance { client });
            }
        }
        println!(
            "built {n} clients in {:.1} s; client process RSS {:.0} MiB",
            started.elapsed().as_secs_f64(),
            proc_stats(std::process::id()).1
        );
        // Let every long-poll park and the heartbeats reach their period.
        tokio::time::sleep(Duration::from_secs(10)).await;

        // 1. Steady state.
        let pid = server.child.id();
        let (c0, _, _) = proc_stats(pid);
        let (b0, t0) = (beats.ok.load(Ordering::Relaxed), Instant::now());
        let mut rss_max: f64 = 0.0;
        while t0.elapsed() < Duration::from_secs(steady) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss_max = rss_max.max(proc_stats(pid).1);
        }
        let (c1, rss, hwm) = proc_stats(pid);
        let secs = t0.elapsed().as_secs_f64();
        let cpu = (c1 - c0) / secs * 100.0;
        let beat_rate = (beats.ok.load(Ordering::Relaxed) - b0) as f64 / secs;
        let conns = established_on(server.addr.port());
        let steady_line = format!(
            "steady state, {n} clients ({conns} server-side connections), {secs:.0} s: server CPU {cpu:.1} % of one core, \
             RSS {rss:.0} MiB (max sampled {rss_max:.0}, peak VmHWM {hwm:.0}; target <= 512 MiB: {}), \
             heartbeats {beat_rate:.0}/s answered, {} failed; load {}",
            if hwm <= 512.0 { "met" } else { "MISSED" },
            beats.failed.load(Ordering::Relaxed),
            loadavg()
        );
        println!("{steady_line}");

        // 2. Propagation.
        println!(
            "\n{:>5} {:<10} {:>9} {:>9} {:>9} {:>9} {:>8}  load",
            "round", "to", "call ms", "p50 ms", "p99 ms", "max ms", "srv CPU%"
        );
        let mut all = Vec::with_capacity(n * rounds);
        for round in 0..rounds {
            let (cpu0, _, _) = proc_stats(pid);
            let w0 = Instant::now();
            let (to, call, lat) =
                propagate(&api, &topic, &mut rx, n, Duration::from_secs(120)).await?;
            let (cpu1, _, _) = proc_stats(pid);
            println!(
                "{:>5} {:<10} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.0}  {}",
                round + 1,
                to.to_string(),
                ms(call),
                ms(percentile(&lat, 50.0)),
                ms(percentile(&lat, 99.0)),
                ms(lat.last().copied().unwrap_or_default()),
                (cpu1 - cpu0) / w0.elapsed().as_secs_f64() * 100.0,
                loadavg()
            );
            all.extend(lat);
            // Let every client's next long-poll park before the next move.
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        all.sort();
        let p99 = percentile(&all, 99.0);
        let prop_line =
            format!(
            "propagation to {n} clients ({} samples): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
             (target p99 <= 1 s: {}); server peak RSS {:.0} MiB; load {}",
            all.len(),
            ms(percentile(&all, 50.0)),
            ms(p99),
            ms(all.last().copied().unwrap_or_default()),
            if p99 <= Duration::from_secs(1) { "met" } else { "MISSED" },
            proc_stats(pid).2,
            loadavg()
        );
        println!("{prop_line}");

        // 3. Restart: kill, keep down, start again on the same port from the same state file.
        let port = server.addr.port();
        let hwm_before = proc_stats(pid).2;
        let killed = Instant::now();
        server.child.kill()?;
        server.child.wait()?;
        println!("\nkilled the control plane; down {down} s");
        let stale_seen = Arc::new(std::sync::Mutex::new(vec![false; n]));
        let clients: Arc<Vec<ControlClient>> =
            Arc::new(fleet.iter().map(|f| f.client.clone()).collect());
        let watch_until = killed + Duration::from_secs(down + after) + Duration::from_secs(5);
        let sampler = {
            let (stale_seen, clients) = (stale_seen.clone(), clients.clone());
            tokio::spawn(async move {
                while Instant::now() < watch_until {
                    {
                        let mut s = stale_seen.lock().unwrap_or_else(|e| e.into_inner());
                        for (i, c) in clients.iter().enumerate() {
                            if c.status() != SyncStatus::Fresh {
                                s[i] = true;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(down)).await;
        let t_start = Instant::now();
        server = spawn_server(SocketAddr::from(([127, 0, 0, 1], port)), dir.path(), &pair)?;
        let startup = t_start.elapsed();
        let back = Instant::now();
        let pid = server.child.id();
        println!(
            "started again on port {port} after {:.1} s down (start-up {:.0} ms)",
            back.duration_since(killed).as_secs_f64(),
            ms(startup)
        );
        println!(
            "{:>4} {:>11} {:>9} {:>9} {:>9}",
            "s", "server conns", "new", "CPU%", "RSS MiB"
        );
        let (mut prev, mut prev_cpu) = (0usize, proc_stats(pid).0);
        let mut per_sec = Vec::new();
        for s in 1..=after {
            tokio::time::sleep_until((back + Duration::from_secs(s)).into()).await;
            let c = established_on(port);
            let (cpu, rss, _) = proc_stats(pid);
            println!(
                "{s:>4} {c:>11} {:>9} {:>9.0} {rss:>9.0}",
                c.saturating_sub(prev),
                (cpu - prev_cpu) * 100.0
            );
            per_sec.push(c.saturating_sub(prev));
            (prev, prev_cpu) = (c, cpu);
        }
        sampler.await?;
        let stale: usize = stale_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| **s)
            .count();
        let stale_now = clients
            .iter()
            .filter(|c| c.status() != SyncStatus::Fresh)
            .count();
        let peak_sec = per_sec.iter().copied().max().unwrap_or(0);
        let half = per_sec
            .iter()
            .scan(0usize, |acc, x| {
                *acc += x;
                Some(*acc)
            })
            .position(|acc| acc * 2 >= prev)
            .map_or(0, |i| i + 1);
        let (to, _, lat) = propagate(&api, &topic, &mut rx, n, Duration::from_secs(120)).await?;
        let restart_line = format!(
            "restart after {down} s down: {stale} of {n} clients ever STALE (now {stale_now}) (target 0: {}); \
             reconnects spread: peak {peak_sec} new connections in one second, half of the {prev} back after {half} s; \
             then an advance to {to} reached all {n}: p50 {:.1} ms, p99 {:.1} ms; server RSS peak before {hwm_before:.0} MiB, \
             after restart {:.0} MiB; load {}",
            if stale == 0 { "met" } else { "MISSED" },
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 99.0)),
            proc_stats(pid).2,
            loadavg()
        );
        println!("{restart_line}");

        println!("\n== summary ==\n{steady_line}\n{prop_line}\n{restart_line}");
        for f in &fleet {
            f.client.shutdown();
        }
        server.child.kill()?;
        server.child.wait()?;
        runtime.shutdown().await;
        pair.shutdown().await;
        Ok(())
    }
}
