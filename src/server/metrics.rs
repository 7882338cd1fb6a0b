//! `GET /metrics`: Prometheus text exposition of the table, the clients and the server's own counters.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use super::app::App;
use crate::cluster::Cluster;
use crate::control::wire::SyncStatus;

/// Counters the server keeps about itself.
#[derive(Default)]
pub(crate) struct Metrics {
    // Route → status → count. A request takes the read lock and bumps an atomic; the write lock (and the route's
    // one allocation) is taken only the first time a route answers a status.
    requests: RwLock<HashMap<Box<str>, HashMap<u16, AtomicU64>>>,
    audit_failures: AtomicU64,
    heartbeats: AtomicU64,
}

impl Metrics {
    pub(crate) fn request(&self, route: &str, status: u16) {
        if let Some(n) = self.requests.read().get(route).and_then(|s| s.get(&status)) {
            n.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.requests
            .write()
            .entry(route.into())
            .or_default()
            .entry(status)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Every (route, status) count, sorted.
    fn requests(&self) -> BTreeMap<(String, u16), u64> {
        let mut out = BTreeMap::new();
        for (route, statuses) in self.requests.read().iter() {
            for (status, n) in statuses {
                out.insert((route.to_string(), *status), n.load(Ordering::Relaxed));
            }
        }
        out
    }

    pub(crate) fn audit_failed(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn heartbeat(&self) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
    }
}

/// Escape a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole exposition.
pub(crate) fn render(app: &App) -> String {
    let mut out = String::new();
    let table = app.table();
    let _ = writeln!(out, "# HELP rmq_migration_table_version Version of the phase table.\n# TYPE rmq_migration_table_version gauge");
    let _ = writeln!(out, "rmq_migration_table_version {}", table.version);
    let _ = writeln!(out, "# HELP rmq_migration_topic_phase Phase of each topic (0 initial, 1 dual_read, 2 dual_read_write, 3 cutting_over, 4 completed).\n# TYPE rmq_migration_topic_phase gauge");
    for (t, s) in &table.topics {
        let _ = writeln!(
            out,
            "rmq_migration_topic_phase{{topic=\"{}\",phase=\"{}\"}} {}",
            label(t),
            s.phase,
            s.phase.ordinal()
        );
    }
    let _ = writeln!(out, "# HELP rmq_migration_readiness_scan_seconds How long the last background scan of every topic's readiness checks took.\n# TYPE rmq_migration_readiness_scan_seconds gauge");
    let _ = writeln!(
        out,
        "rmq_migration_readiness_scan_seconds {}",
        app.readiness.last_round().as_secs_f64()
    );
    let _ = writeln!(out, "# HELP rmq_migration_topic_write_ratio Share of dual_read_write sends that go to the target.\n# TYPE rmq_migration_topic_write_ratio gauge");
    for (t, s) in &table.topics {
        let _ = writeln!(
            out,
            "rmq_migration_topic_write_ratio{{topic=\"{}\"}} {}",
            label(t),
            s.write_ratio
        );
    }
    let _ = writeln!(out, "# HELP rmq_migration_topic_stored_messages Messages ever stored for the topic on a cluster (sum of queue max offsets).\n# TYPE rmq_migration_topic_stored_messages gauge");
    for t in table.topics.keys() {
        for c in Cluster::BOTH {
            if let Some(n) = app.traffic.get(t, c).and_then(|o| o.stored) {
                let _ = writeln!(
                    out,
                    "rmq_migration_topic_stored_messages{{topic=\"{}\",cluster=\"{c}\"}} {n}",
                    label(t)
                );
            }
        }
    }
    if let Some(task) = app.task() {
        let _ = writeln!(out, "# HELP rmq_migration_task_step The migration task's step (0 connect, 1 metadata, 2 endpoints, 3 grayscale, 4 completed).\n# TYPE rmq_migration_task_step gauge");
        let step = crate::control::wire::TaskStep::ALL
            .iter()
            .position(|s| *s == task.step)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "rmq_migration_task_step{{task=\"{}\",step=\"{}\"}} {step}",
            label(&task.name),
            task.step
        );
        let _ = writeln!(out, "# HELP rmq_migration_task_paused 1 while the migration task is paused (phase moves refused).\n# TYPE rmq_migration_task_paused gauge");
        let _ = writeln!(
            out,
            "rmq_migration_task_paused{{task=\"{}\"}} {}",
            label(&task.name),
            u8::from(task.paused.is_some())
        );
    }
    monitoring(&mut out, app, table.topics.keys());
    let clients = app.registry.views();
    let _ = writeln!(out, "# HELP rmq_migration_client_live 1 while the client's heartbeats arrive within the TTL.\n# TYPE rmq_migration_client_live gauge");
    for v in &clients {
        let h = &v.heartbeat;
        let _ = writeln!(
            out,
            "rmq_migration_client_live{{client_id=\"{}\",role=\"{}\",group=\"{}\"}} {}",
            label(&h.client_id),
            h.role.as_str(),
            label(&h.group),
            u8::from(v.live)
        );
    }
    let diverged = app.diverged();
    let _ = writeln!(out, "# HELP rmq_migration_diverged 1 while live clients hold a newer phase table than this control plane (restored from an older state file); table changes are refused until `rmq-migrate adopt`.\n# TYPE rmq_migration_diverged gauge");
    let _ = writeln!(
        out,
        "rmq_migration_diverged {}",
        u8::from(diverged.is_some())
    );
    let _ = writeln!(out, "# HELP rmq_migration_clients_ahead Live clients holding a newer phase table than this control plane.\n# TYPE rmq_migration_clients_ahead gauge");
    let _ = writeln!(
        out,
        "rmq_migration_clients_ahead {}",
        diverged.map_or(0, |d| d.clients_ahead)
    );
    let _ = writeln!(out, "# HELP rmq_migration_client_stale 1 while the client reports its phase table STALE (or UNAUTHORIZED).\n# TYPE rmq_migration_client_stale gauge");
    for v in &clients {
        let h = &v.heartbeat;
        let _ = writeln!(
            out,
            "rmq_migration_client_stale{{client_id=\"{}\",status=\"{}\",reason=\"{}\"}} {}",
            label(&h.client_id),
            h.status.as_str(),
            label(h.status_reason.as_deref().unwrap_or_default()),
            u8::from(h.status != SyncStatus::Fresh)
        );
    }
    let _ = writeln!(out, "# HELP rmq_migration_client_messages_total Messages a client sent to or received from a cluster.\n# TYPE rmq_migration_client_messages_total counter");
    for v in &clients {
        let h = &v.heartbeat;
        for (c, k) in [
            (Cluster::Source, &h.counters.source),
            (Cluster::Target, &h.counters.target),
        ] {
            for (dir, n) in [
                ("sent", k.sent),
                ("received", k.received),
                ("failed_over", k.failed_over),
                ("failed", k.failed),
                ("duplicates_suppressed", k.duplicates_suppressed),
            ] {
                let _ = writeln!(out, "rmq_migration_client_messages_total{{client_id=\"{}\",cluster=\"{c}\",kind=\"{dir}\"}} {n}", label(&h.client_id));
            }
        }
    }
    let _ = writeln!(out, "# HELP rmq_migration_heartbeats_total Heartbeats received.\n# TYPE rmq_migration_heartbeats_total counter");
    let _ = writeln!(
        out,
        "rmq_migration_heartbeats_total {}",
        app.metrics.heartbeats.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "# HELP rmq_migration_audit_failures_total Audit log appends that failed.\n# TYPE rmq_migration_audit_failures_total counter");
    let _ = writeln!(
        out,
        "rmq_migration_audit_failures_total {}",
        app.metrics.audit_failures.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "# HELP rmq_migration_http_requests_total Requests answered, by route and status.\n# TYPE rmq_migration_http_requests_total counter");
    for ((route, status), n) in app.metrics.requests() {
        let _ = writeln!(
            out,
            "rmq_migration_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(&route)
        );
    }
    out
}

/// The migration monitoring's last point per topic and for the whole task (`topic=""`): stored and consumed rates
/// and backlog per cluster.
fn monitoring<'t>(out: &mut String, app: &App, topics: impl Iterator<Item = &'t String>) {
    let monitor = app.monitor.lock();
    let mut points = vec![(String::new(), monitor.latest(None))];
    points.extend(topics.map(|t| (t.clone(), monitor.latest(Some(t)))));
    drop(monitor);
    type Field = fn(&crate::control::wire::MonitorCluster) -> Option<f64>;
    let series: [(&str, &str, Field); 3] = [
        (
            "stored_per_second",
            "Messages stored per second over the last monitoring interval",
            |c| c.stored_per_s,
        ),
        (
            "consumed_per_second",
            "Messages consumed per second (consumer offsets) over the last monitoring interval",
            |c| c.consumed_per_s,
        ),
        (
            "backlog_messages",
            "Messages stored and not yet consumed at the end of the last monitoring interval",
            |c| c.backlog.map(|b| b as f64),
        ),
    ];
    for (name, help, field) in series {
        let _ = writeln!(out, "# HELP rmq_migration_monitor_{name} {help} (topic=\"\": the whole task).\n# TYPE rmq_migration_monitor_{name} gauge");
        for (topic, point) in &points {
            let Some(p) = point else { continue };
            for (c, side) in [(Cluster::Source, &p.source), (Cluster::Target, &p.target)] {
                if let Some(v) = field(side) {
                    let _ = writeln!(
                        out,
                        "rmq_migration_monitor_{name}{{topic=\"{}\",cluster=\"{c}\"}} {v}",
                        label(topic)
                    );
                }
            }
        }
    }
}
