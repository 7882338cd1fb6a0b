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

/// One sample of `rmq_migration_<name>` with `labels` (their values escaped).
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl Display) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
        .collect();
    let _ = writeln!(out, "rmq_migration_{name}{{{}}} {value}", labels.join(","));
}

/// A gauge family with one sample per client: its labels and value from `each`.
fn per_client(
    out: &mut String,
    name: &str,
    help: &str,
    clients: &[ClientView],
    each: impl Fn(&ClientView) -> ([(&'static str, &str); 3], u8),
) {
    family(out, name, "gauge", help);
    for v in clients {
        let (labels, value) = each(v);
        sample(out, name, &labels, value);
    }
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
        let phase = s.phase.to_string();
        sample(
            out,
            "topic_phase",
            &[("topic", t), ("phase", &phase)],
            s.phase.ordinal(),
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
        sample(out, "topic_write_ratio", &[("topic", t)], s.write_ratio);
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
                sample(
                    out,
                    "topic_stored_messages",
                    &[("topic", t), ("cluster", c.as_str())],
                    n,
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
        sample(
            out,
            "task_step",
            &[("task", &task.name), ("step", task.step.as_str())],
            step,
        );
        family(
            out,
            "task_paused",
            "gauge",
            "1 while the migration task is paused (phase moves refused).",
        );
        sample(
            out,
            "task_paused",
            &[("task", &task.name)],
            u8::from(task.paused.is_some()),
        );
    }
    monitoring(out, x.monitor, table.topics.keys());
    per_client(
        out,
        "client_live",
        "1 while the client's heartbeats arrive within the TTL.",
        x.clients,
        |v| {
            let h = &v.heartbeat;
            let labels = [
                ("client_id", h.client_id.as_str()),
                ("role", h.role.as_str()),
                ("group", h.group.as_str()),
            ];
            (labels, u8::from(v.live))
        },
    );
    single(out, "diverged", "gauge", "1 while live clients hold a newer phase table than this control plane (restored from an older state file); table changes are refused until `rmq-migrate adopt`.", u8::from(x.diverged.is_some()));
    single(
        out,
        "clients_ahead",
        "gauge",
        "Live clients holding a newer phase table than this control plane.",
        x.diverged.as_ref().map_or(0, |d| d.clients_ahead),
    );
    per_client(
        out,
        "client_stale",
        "1 while the client reports its phase table STALE (or UNAUTHORIZED).",
        x.clients,
        |v| {
            let h = &v.heartbeat;
            let labels = [
                ("client_id", h.client_id.as_str()),
                ("status", h.status.as_str()),
                ("reason", h.status_reason.as_deref().unwrap_or_default()),
            ];
            (labels, u8::from(h.status != SyncStatus::Fresh))
        },
    );
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
            for (kind, n) in [
                ("sent", k.sent),
                ("received", k.received),
                ("failed_over", k.failed_over),
                ("failed", k.failed),
                ("duplicates_suppressed", k.duplicates_suppressed),
            ] {
                let labels = [
                    ("client_id", h.client_id.as_str()),
                    ("cluster", c.as_str()),
                    ("kind", kind),
                ];
                sample(out, "client_messages_total", &labels, n);
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
        let status = status.to_string();
        sample(
            out,
            "http_requests_total",
            &[("route", route), ("status", &status)],
            n,
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
                    let labels = [("topic", topic.as_str()), ("cluster", c.as_str())];
                    sample(out, &format!("monitor_{name}"), &labels, v);
                }
            }
        }
    }
}
