//! `GET /metrics`: the Prometheus text exposition of the table, the task, the monitoring, the clients and the
//! server's own counters, from the inputs the route gathers ([`Exposed`]).

use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::time::Duration;

use parking_lot::Mutex;

use crate::cluster::Cluster;
use crate::control::wire::{
    ClientView, DivergenceView, MonitorCluster, PhasesDoc, SyncStatus, TaskDoc, TaskStep,
};
use crate::server::monitor::Monitor;
use crate::server::traffic::Traffic;

/// What the exposition shows.
pub(crate) struct Exposed<'a> {
    /// The current table.
    pub(crate) table: &'a PhasesDoc,
    /// How long the last background readiness scan took.
    pub(crate) scan_took: Duration,
    /// Stored counts per topic and cluster.
    pub(crate) traffic: &'a Traffic,
    /// The migration task, if any.
    pub(crate) task: Option<TaskDoc>,
    /// The monitoring store (its newest points).
    pub(crate) monitor: &'a Mutex<Monitor>,
    /// Every known client.
    pub(crate) clients: &'a [ClientView],
    /// Live clients ahead of the table, if any.
    pub(crate) diverged: Option<DivergenceView>,
    /// Heartbeats received.
    pub(crate) heartbeats: u64,
    /// Audit log appends that failed.
    pub(crate) audit_failures: u64,
    /// Requests answered, by route and status.
    pub(crate) requests: BTreeMap<(String, u16), u64>,
}

/// Escape a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `# HELP` and `# TYPE` lines of `rmq_migration_<name>`.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP rmq_migration_{name} {help}\n# TYPE rmq_migration_{name} {kind}"
    );
}

/// A family of one unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "rmq_migration_{name} {value}");
}

/// The whole exposition.
pub(crate) fn render(x: &Exposed) -> String {
    let mut text = String::new();
    let out = &mut text;
    let table = x.table;
    single(
        out,
        "table_version",
        "gauge",
        "Version of the phase table.",
        table.version,
    );
    family(out, "topic_phase", "gauge", "Phase of each topic (0 initial, 1 dual_read, 2 dual_read_write, 3 cutting_over, 4 completed).");
    for (t, s) in &table.topics {
        let _ = writeln!(
            out,
            "rmq_migration_topic_phase{{topic=\"{}\",phase=\"{}\"}} {}",
            label(t),
            s.phase,
            s.phase.ordinal()
        );
    }
    single(
        out,
        "readiness_scan_seconds",
        "gauge",
        "How long the last background scan of every topic's readiness checks took.",
        x.scan_took.as_secs_f64(),
    );
    family(
        out,
        "topic_write_ratio",
        "gauge",
        "Share of dual_read_write sends that go to the target.",
    );
    for (t, s) in &table.topics {
        let _ = writeln!(
            out,
            "rmq_migration_topic_write_ratio{{topic=\"{}\"}} {}",
            label(t),
            s.write_ratio
        );
    }
    family(
        out,
        "topic_stored_messages",
        "gauge",
        "Messages ever stored for the topic on a cluster (sum of queue max offsets).",
    );
    for t in table.topics.keys() {
        for c in Cluster::BOTH {
            if let Some(n) = x.traffic.get(t, c).and_then(|o| o.stored) {
                let _ = writeln!(
                    out,
                    "rmq_migration_topic_stored_messages{{topic=\"{}\",cluster=\"{c}\"}} {n}",
                    label(t)
                );
            }
        }
    }
    if let Some(task) = &x.task {
        family(out, "task_step", "gauge", "The migration task's step (0 connect, 1 metadata, 2 endpoints, 3 grayscale, 4 completed).");
        let step = TaskStep::ALL
            .iter()
            .position(|s| *s == task.step)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "rmq_migration_task_step{{task=\"{}\",step=\"{}\"}} {step}",
            label(&task.name),
            task.step
        );
        family(
            out,
            "task_paused",
            "gauge",
            "1 while the migration task is paused (phase moves refused).",
        );
        let _ = writeln!(
            out,
            "rmq_migration_task_paused{{task=\"{}\"}} {}",
            label(&task.name),
            u8::from(task.paused.is_some())
        );
    }
    monitoring(out, x.monitor, table.topics.keys());
    family(
        out,
        "client_live",
        "gauge",
        "1 while the client's heartbeats arrive within the TTL.",
    );
    for v in x.clients {
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
    single(out, "diverged", "gauge", "1 while live clients hold a newer phase table than this control plane (restored from an older state file); table changes are refused until `rmq-migrate adopt`.", u8::from(x.diverged.is_some()));
    single(
        out,
        "clients_ahead",
        "gauge",
        "Live clients holding a newer phase table than this control plane.",
        x.diverged.as_ref().map_or(0, |d| d.clients_ahead),
    );
    family(
        out,
        "client_stale",
        "gauge",
        "1 while the client reports its phase table STALE (or UNAUTHORIZED).",
    );
    for v in x.clients {
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
    family(
        out,
        "client_messages_total",
        "counter",
        "Messages a client sent to or received from a cluster.",
    );
    for v in x.clients {
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
    single(
        out,
        "heartbeats_total",
        "counter",
        "Heartbeats received.",
        x.heartbeats,
    );
    single(
        out,
        "audit_failures_total",
        "counter",
        "Audit log appends that failed.",
        x.audit_failures,
    );
    family(
        out,
        "http_requests_total",
        "counter",
        "Requests answered, by route and status.",
    );
    for ((route, status), n) in &x.requests {
        let _ = writeln!(
            out,
            "rmq_migration_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(route)
        );
    }
    text
}

/// The migration monitoring's last point per topic and for the whole task (`topic=""`): stored and consumed rates
/// and backlog per cluster.
fn monitoring<'t>(
    out: &mut String,
    monitor: &Mutex<Monitor>,
    topics: impl Iterator<Item = &'t String>,
) {
    let monitor = monitor.lock();
    let mut points = vec![(String::new(), monitor.latest(None))];
    points.extend(topics.map(|t| (t.clone(), monitor.latest(Some(t)))));
    drop(monitor);
    type Field = fn(&MonitorCluster) -> Option<f64>;
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
        family(
            out,
            &format!("monitor_{name}"),
            "gauge",
            &format!("{help} (topic=\"\": the whole task)."),
        );
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
