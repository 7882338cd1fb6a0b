//! The conditions of the migration task's steps (see [`super::task`]), checked when asked (`GET /v1/task`) and
//! again when entering a step:
//!
//! | step entered | conditions |
//! |---|---|
//! | `metadata` | `source_connection`, `target_connection`: the connection check of each cluster passes |
//! | `endpoints` | `metadata_imported`: an import ran through the control plane (`POST /v1/task/metadata`) and no item failed |
//! | `grayscale` | `topics_registered`: at least one topic; `endpoints_switched`: every topic has a live shim client and no consumer outside the shim |
//! | `completed` | `all_topics_completed`; the source decommission checklist: `no_source_consumers`, `nothing_due_on_source` |
//!
//! Also the endpoints of every topic that `endpoints_switched` reads (answered as such by `GET /v1/task/endpoints`).

use super::gates::{check, Gates, Lag};
use crate::cluster::Cluster;
use crate::connection::ConnectionReport;
use crate::control::wire::{CheckResult, EndpointClient, EndpointsView, TaskStep, TopicEndpoints};
use crate::metadata;
use crate::phase::Phase;
use crate::server::app::App;

/// Most items a check's detail lists before "and N more".
const LIST_AT_MOST: usize = 10;

/// `a, b, c and 7 more`.
pub(crate) fn listed(items: &[String]) -> String {
    let shown = items
        .iter()
        .take(LIST_AT_MOST)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    match items.len().saturating_sub(LIST_AT_MOST) {
        0 => shown,
        more => format!("{shown}; and {more} more"),
    }
}

/// The conditions to enter `to`, and the connection reports when they were run.
pub(crate) async fn conditions(
    app: &App,
    to: TaskStep,
) -> (Vec<CheckResult>, Vec<ConnectionReport>) {
    match to {
        TaskStep::Connect => (Vec::new(), Vec::new()),
        TaskStep::Metadata => {
            let mut checks = Vec::new();
            let mut reports = Vec::new();
            for c in Cluster::BOTH {
                let r = crate::connection::check(c, &app.clusters[c.index()], app.runtime.clone())
                    .await;
                checks.push(check(format!("{c}_connection"), r.is_ok(), &r.summary));
                reports.push(r);
            }
            (checks, reports)
        }
        TaskStep::Endpoints => (vec![metadata_imported(app)], Vec::new()),
        TaskStep::Grayscale => {
            let topics = app.state.table().topics.len();
            let registered = check(
                "topics_registered",
                topics > 0,
                if topics > 0 {
                    format!("{topics} topic(s) registered")
                } else {
                    "no topic is registered: register the topics to migrate (rmq-migrate register)"
                        .into()
                },
            );
            let view = endpoints(app).await;
            let waiting: Vec<String> = view
                .topics
                .iter()
                .filter(|t| !t.switched)
                .map(|t| {
                    if t.clients.iter().all(|c| !c.live) {
                        format!("{}: no live shim client", t.topic)
                    } else {
                        format!("{}: {}", t.topic, t.unmanaged.join(", "))
                    }
                })
                .collect();
            let switched = check(
                "endpoints_switched",
                topics > 0 && waiting.is_empty(),
                if waiting.is_empty() {
                    format!("every one of {topics} topic(s) has live shim clients and no consumer outside the shim")
                } else {
                    format!("not switched yet: {}", listed(&waiting))
                },
            );
            (vec![registered, switched], Vec::new())
        }
        TaskStep::Completed => (completion(app).await, Vec::new()),
    }
}

/// An import ran through the control plane and no item of it failed.
fn metadata_imported(app: &App) -> CheckResult {
    let code = "metadata_imported";
    let Some(run) = app.state.task().and_then(|t| t.metadata) else {
        return check(
            code,
            false,
            "no metadata import has run through the control plane: POST /v1/task/metadata (rmq-migrate task metadata)",
        );
    };
    let failed: Vec<String> = run
        .report
        .items
        .iter()
        .filter(|i| i.action == metadata::Action::Fail)
        .map(|i| format!("{:?} {}: {}", i.kind, i.source, i.reason))
        .collect();
    if failed.is_empty() {
        check(
            code,
            true,
            format!(
                "import at {} by {}: {} item(s), {} change(s), none failed",
                run.at,
                run.actor,
                run.report.items.len(),
                run.report.changes
            ),
        )
    } else {
        check(
            code,
            false,
            format!(
                "{} item(s) failed in the import at {}: {}",
                failed.len(),
                run.at,
                listed(&failed)
            ),
        )
    }
}

/// Every topic `completed`, and the source decommission checklist (run only once every topic is completed).
async fn completion(app: &App) -> Vec<CheckResult> {
    let table = app.state.table();
    let behind: Vec<String> = table
        .topics
        .iter()
        .filter(|(_, s)| s.phase != Phase::Completed)
        .map(|(t, s)| format!("{t} is {}", s.phase))
        .collect();
    let all = check(
        "all_topics_completed",
        !table.topics.is_empty() && behind.is_empty(),
        if table.topics.is_empty() {
            "no topic is registered".into()
        } else if behind.is_empty() {
            format!("all {} topic(s) are completed", table.topics.len())
        } else {
            format!(
                "{} topic(s) not completed: {}",
                behind.len(),
                listed(&behind)
            )
        },
    );
    if !all.passed {
        return vec![all];
    }
    let gates = Gates::of(app);
    let mut connected = Vec::new();
    let mut due = Vec::new();
    for topic in table.topics.keys() {
        match gates.groups_of(topic, Cluster::Source).await {
            Err(e) => connected.push(format!("{topic}: could not list its groups: {e}")),
            Ok(groups) => {
                for g in groups {
                    match app.admin[Cluster::Source.index()].connections(&g).await {
                        Ok(c) if c.is_empty() => {}
                        Ok(c) => connected.push(format!(
                            "group {g}: {}",
                            c.iter()
                                .map(|(id, addr)| format!("{id} at {addr}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        Err(e) => connected.push(format!("group {g}: {e}")),
                    }
                }
            }
        }
        for c in [
            gates.lag_zero(topic, Cluster::Source, Lag::Topic).await,
            gates.lag_zero(topic, Cluster::Source, Lag::Retry).await,
            gates.scheduled_zero(topic, Cluster::Source).await,
        ] {
            if !c.passed {
                due.push(format!("{topic}: {}", c.detail));
            }
        }
    }
    connected.dedup();
    vec![
        all,
        check(
            "no_source_consumers",
            connected.is_empty(),
            if connected.is_empty() {
                "no consumer of the topics' groups is connected to the source".into()
            } else {
                format!("still connected to the source: {}", listed(&connected))
            },
        ),
        check(
            "nothing_due_on_source",
            due.is_empty(),
            if due.is_empty() {
                "nothing unconsumed, retrying or scheduled of the topics is left on the source"
                    .into()
            } else {
                listed(&due)
            },
        ),
    ]
}

/// `GET /v1/task/endpoints`: per registered topic, its shim clients (with their latest heartbeat) and the
/// consumers of its groups outside the shim.
pub(crate) async fn endpoints(app: &App) -> EndpointsView {
    let clients = app.registry.views();
    let gates = Gates::of(app);
    let mut out = Vec::new();
    for topic in app.state.table().topics.keys() {
        let mine: Vec<EndpointClient> = clients
            .iter()
            .filter(|v| v.heartbeat.topics.iter().any(|t| t == topic))
            .map(|v| EndpointClient {
                client_id: v.heartbeat.client_id.clone(),
                application: v.heartbeat.application.clone(),
                role: v.heartbeat.role,
                group: v.heartbeat.group.clone(),
                live: v.live,
                last_seen_ms: v.last_seen_ms,
            })
            .collect();
        let unmanaged = match gates.foreign_consumers(topic).await {
            Ok((foreign, _)) => foreign,
            Err(e) => vec![e],
        };
        let live = mine.iter().any(|c| c.live);
        out.push(TopicEndpoints {
            topic: topic.clone(),
            switched: live && unmanaged.is_empty(),
            clients: mine,
            unmanaged,
        });
    }
    EndpointsView { topics: out }
}
