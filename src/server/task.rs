//! The migration task (one per control plane): the seed's five steps an operator walks through, each entered only
//! when its conditions hold (or by `force`, audited), and the pause that freezes every phase move.
//!
//! | step entered | conditions (checked when asked, and again when entering) |
//! |---|---|
//! | `metadata` | `source_connection`, `target_connection`: the connection check of each cluster passes |
//! | `endpoints` | `metadata_imported`: an import ran through the control plane (`POST /v1/task/metadata`) and no item failed |
//! | `grayscale` | `topics_registered`: at least one topic; `endpoints_switched`: every topic has a live shim client and no consumer outside the shim |
//! | `completed` | `all_topics_completed`; the source decommission checklist: `no_source_consumers`, `nothing_due_on_source` |
//!
//! Phase moves and write-ratio changes are made only in `grayscale` and never while paused (see
//! `App::moves_allowed`); registering topics is allowed in every step. The task's claim on the target is kept in
//! [`super::claim`].

use std::sync::Arc;
use std::time::SystemTime;

use axum::http::StatusCode;

use super::app::{ApiError, App};
use super::audit::rfc3339;
use super::claim::{self, Claim, ClaimError};
use super::gates;
use crate::cluster::Cluster;
use crate::connection::ConnectionReport;
use crate::control::wire::{
    AuditEntry, CheckResult, CreateTask, EndpointClient, EndpointsView, MetadataRequest,
    MetadataRun, PauseRequest, Paused, StepRecord, TaskAdvance, TaskCluster, TaskDoc, TaskStep,
    TaskView, TopicEndpoints,
};
use crate::error::MigrationError;
use crate::metadata::{self, ImportOptions, ImportReport, NamespaceMode, Selection};
use crate::phase::Phase;

/// Longest task name.
const MAX_NAME: usize = 64;
/// Most items a check's detail lists before "and N more".
const LIST_AT_MOST: usize = 10;

fn check(code: &str, passed: bool, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        code: code.to_owned(),
        passed,
        detail: detail.into(),
    }
}

fn no_task() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_task",
        "no migration task: create one with POST /v1/task (rmq-migrate task create)",
    )
}

/// `a, b, c and 7 more`.
fn listed(items: &[String]) -> String {
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

/// An audit entry of a task action.
fn entry(app: &App, actor: &str, action: &str, task: &TaskDoc, detail: String) -> AuditEntry {
    let mut e = app.entry(actor, action, "", None, None, None, app.table().version);
    e.detail = Some(format!("task {:?}: {detail}", task.name));
    e
}

async fn cluster_of(app: &App, c: Cluster, description: &str) -> TaskCluster {
    let admin = &app.admin[c.index()];
    TaskCluster {
        description: description.to_owned(),
        name_server: app.clusters[c.index()].name_server_addr.clone(),
        namespace: admin.namespace().map(str::to_owned),
        clusters: match admin.cluster_names().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(cluster = %c, error = %e, "could not read the cluster names for the task");
                Vec::new()
            }
        },
    }
}

/// `POST /v1/task`: create the task (step `connect`) and claim the target. Refused when this control plane has a
/// task, or another live task claims the target.
pub(crate) async fn create(app: &App, req: &CreateTask, actor: &str) -> Result<TaskView, ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(|c| c.is_control()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "field \"name\" = {:?}: give 1-{MAX_NAME} printable characters",
                req.name
            ),
        ));
    }
    let _one = app.changes().await;
    if let Some(t) = app.task() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "task_exists",
            format!(
                "this control plane already runs task {:?} (step {}): one task per control plane",
                t.name, t.step
            ),
        ));
    }
    let id = format!("{:032x}", rand::random::<u128>());
    let mine = Claim::now(&id, name, &app.name.lock());
    claim::acquire(&app.admin[Cluster::Target.index()], &mine)
        .await
        .map_err(refused_claim)?;
    let now = rfc3339(SystemTime::now());
    let task = TaskDoc {
        name: name.to_owned(),
        id,
        source: cluster_of(app, Cluster::Source, &req.source_description).await,
        target: cluster_of(app, Cluster::Target, &req.target_description).await,
        created_at: now.clone(),
        step: TaskStep::Connect,
        steps: vec![StepRecord {
            step: TaskStep::Connect,
            at: now,
            actor: actor.to_owned(),
            forced: false,
        }],
        paused: None,
        connections: Vec::new(),
        metadata: None,
        completed_at: None,
        decommission: Vec::new(),
    };
    let e = entry(
        app,
        actor,
        "task_create",
        &task,
        "created in step connect".into(),
    );
    app.commit_task(Some(task.clone()), vec![e])?;
    tracing::info!(task = %task.name, id = %task.id, actor, "migration task created; target claimed");
    drop(_one);
    Ok(view_of(app, task).await)
}

fn refused_claim(e: ClaimError) -> ApiError {
    match e {
        ClaimError::Held(other) => ApiError::new(
            StatusCode::CONFLICT,
            "target_claimed",
            format!(
                "the target is claimed by {other}: one migration task per target (stop that task, or wait {} s \
                 after its control plane stopped)",
                claim::CLAIM_TTL.as_secs()
            ),
        ),
        ClaimError::Unavailable(e) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "cluster_unavailable",
            format!("could not check or write the task claim on the target's name server: {e}"),
        ),
    }
}

/// `GET /v1/task`: the task and (with `checks`) its next step's conditions as they hold now.
pub(crate) async fn view(app: &App, checks: bool) -> Result<TaskView, ApiError> {
    let task = app.task().ok_or_else(no_task)?;
    if !checks {
        return Ok(TaskView {
            next: task.step.next(),
            task,
            checks: Vec::new(),
        });
    }
    Ok(view_of(app, task).await)
}

async fn view_of(app: &App, task: TaskDoc) -> TaskView {
    let next = task.step.next();
    let checks = match next {
        Some(to) => conditions(app, to).await.0,
        None => Vec::new(),
    };
    TaskView { task, next, checks }
}

/// The conditions to enter `to`, and the connection reports when they were run.
async fn conditions(app: &App, to: TaskStep) -> (Vec<CheckResult>, Vec<ConnectionReport>) {
    match to {
        TaskStep::Connect => (Vec::new(), Vec::new()),
        TaskStep::Metadata => {
            let mut checks = Vec::new();
            let mut reports = Vec::new();
            for c in Cluster::BOTH {
                let r = crate::connection::check(c, &app.clusters[c.index()], app.runtime.clone())
                    .await;
                checks.push(check(&format!("{c}_connection"), r.is_ok(), &r.summary));
                reports.push(r);
            }
            (checks, reports)
        }
        TaskStep::Endpoints => (vec![metadata_imported(app)], Vec::new()),
        TaskStep::Grayscale => {
            let topics = app.table().topics.len();
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

fn metadata_imported(app: &App) -> CheckResult {
    let code = "metadata_imported";
    let Some(run) = app.task().and_then(|t| t.metadata) else {
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
    let table = app.table();
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
    let mut connected = Vec::new();
    let mut due = Vec::new();
    for topic in table.topics.keys() {
        match gates::groups_of(app, topic, Cluster::Source).await {
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
            gates::backlog_zero(app, topic, Cluster::Source).await,
            gates::retry_backlog_zero(app, topic, Cluster::Source).await,
            gates::scheduled_zero(app, topic, Cluster::Source).await,
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

/// `POST /v1/task/advance`: enter the next step when its conditions hold (or with `force`).
pub(crate) async fn advance(
    app: &App,
    req: &TaskAdvance,
    actor: &str,
) -> Result<TaskView, ApiError> {
    let _one = app.changes().await;
    let mut task = app.task().ok_or_else(no_task)?;
    if task.step != req.expected {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "step_mismatch",
            format!(
                "task {:?} is in step {}, not the expected {}",
                task.name, task.step, req.expected
            ),
        ));
    }
    let Some(to) = task.step.next() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_step",
            format!(
                "task {:?} is completed: there is no step after it",
                task.name
            ),
        ));
    };
    if task.paused.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "paused",
            format!(
                "task {:?} is paused: resume it before entering step {to}",
                task.name
            ),
        ));
    }
    let (checks, reports) = conditions(app, to).await;
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.code.clone())
        .collect();
    if !reports.is_empty() {
        task.connections = reports;
    }
    let from = task.step;
    if !failing.is_empty() && !req.force {
        let mut e = entry(
            app,
            actor,
            "task_advance",
            &task,
            format!("{from} -> {to} refused: failing {}", failing.join(", ")),
        );
        e.outcome = "refused".into();
        e.checks = checks.clone();
        // The connection reports are kept: they say why the step cannot be entered.
        app.commit_task(Some(task.clone()), vec![e])?;
        tracing::warn!(task = %task.name, %from, %to, actor, failing = ?failing, "task step refused");
        let mut err = ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "task {:?} cannot enter step {to}: failing checks {}",
                task.name,
                failing.join(", ")
            ),
        );
        err.body.checks = checks;
        return Err(err);
    }
    let forced = !failing.is_empty();
    let now = rfc3339(SystemTime::now());
    task.step = to;
    task.steps.push(StepRecord {
        step: to,
        at: now.clone(),
        actor: actor.to_owned(),
        forced,
    });
    if to == TaskStep::Completed {
        task.completed_at = Some(now);
        task.decommission = checks.clone();
    }
    let mut e = entry(app, actor, "task_advance", &task, format!("{from} -> {to}"));
    e.forced = forced;
    e.checks = checks;
    app.commit_task(Some(task.clone()), vec![e])?;
    if forced {
        tracing::warn!(task = %task.name, %from, %to, actor, failing = ?failing, "task step entered by FORCE despite failing checks");
    } else {
        tracing::info!(task = %task.name, %from, %to, actor, "task step entered");
    }
    if to == TaskStep::Completed {
        if let Err(e) = claim::release(&app.admin[Cluster::Target.index()], &task.id).await {
            tracing::warn!(error = %e, "could not release the task claim on the target (it goes stale by itself)");
        }
    }
    drop(_one);
    Ok(view_of(app, task).await)
}

/// `POST /v1/task/pause` (`pause = true`) and `/resume`.
pub(crate) async fn pause(
    app: &App,
    pause: bool,
    req: &PauseRequest,
    actor: &str,
) -> Result<TaskDoc, ApiError> {
    let _one = app.changes().await;
    let mut task = app.task().ok_or_else(no_task)?;
    if task.paused.is_some() == pause {
        return Ok(task);
    }
    task.paused = pause.then(|| Paused {
        by: actor.to_owned(),
        at: rfc3339(SystemTime::now()),
        reason: req.reason.clone().filter(|r| !r.trim().is_empty()),
    });
    let (action, detail) = if pause {
        (
            "pause",
            format!(
                "paused{}",
                req.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        )
    } else {
        ("resume", "resumed".to_owned())
    };
    let e = entry(app, actor, action, &task, detail);
    app.commit_task(Some(task.clone()), vec![e])?;
    if pause {
        tracing::warn!(task = %task.name, actor, reason = ?req.reason, "task PAUSED: phase moves are refused until it is resumed");
    } else {
        tracing::info!(task = %task.name, actor, "task resumed");
    }
    Ok(task)
}

/// `DELETE /v1/task`: drop the task and its claim, only while no topic has left `initial` or once completed.
pub(crate) async fn delete(app: &App, actor: &str) -> Result<(), ApiError> {
    let _one = app.changes().await;
    let task = app.task().ok_or_else(no_task)?;
    let moved: Vec<String> = app
        .table()
        .topics
        .iter()
        .filter(|(_, s)| s.phase != Phase::Initial)
        .map(|(t, s)| format!("{t} is {}", s.phase))
        .collect();
    if task.step != TaskStep::Completed && !moved.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "topics_moved",
            format!(
                "task {:?} has topics under way ({}): roll them back to initial, or complete the task, before deleting it",
                task.name,
                listed(&moved)
            ),
        ));
    }
    let e = entry(
        app,
        actor,
        "task_delete",
        &task,
        format!("deleted in step {}", task.step),
    );
    app.commit_task(None, vec![e])?;
    if let Err(e) = claim::release(&app.admin[Cluster::Target.index()], &task.id).await {
        tracing::warn!(error = %e, "could not release the task claim on the target (it goes stale by itself)");
    }
    tracing::info!(task = %task.name, actor, "migration task deleted");
    Ok(())
}

/// `POST /v1/task/metadata`: import topics and groups into the target (from the request's file, or exported from
/// the source now); the report of a run that changed something is kept with the task.
pub(crate) async fn run_metadata(
    app: &App,
    req: &MetadataRequest,
    actor: &str,
) -> Result<ImportReport, ApiError> {
    let task = app.task().ok_or_else(no_task)?;
    if task.step == TaskStep::Completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "task_step",
            format!("task {:?} is completed", task.name),
        ));
    }
    let failed = |status: StatusCode, code: &str, e: MigrationError| {
        ApiError::new(status, code, e.to_string())
    };
    let (file, from) = match &req.file {
        Some(v) => (
            metadata::parse(&v.to_string(), "request field \"file\"")
                .map_err(|e| failed(StatusCode::BAD_REQUEST, "invalid_request", e))?,
            "file",
        ),
        None => (
            metadata::export(
                &app.clusters[Cluster::Source.index()],
                app.runtime.clone(),
                &metadata::ExportOptions::default(),
            )
            .await
            .map_err(|e| failed(StatusCode::BAD_GATEWAY, "cluster_unavailable", e))?,
            "source",
        ),
    };
    let mut target = app.clusters[Cluster::Target.index()].clone();
    let opts = ImportOptions {
        namespace: match target.namespace.take().filter(|n| !n.is_empty()) {
            Some(namespace) => NamespaceMode::Specified { namespace },
            None => NamespaceMode::Cluster,
        },
        selection: if req.topics.is_empty() && req.groups.is_empty() {
            Selection::All
        } else {
            Selection::only(req.topics.clone(), req.groups.clone())
        },
        on_conflict: if req.overwrite {
            metadata::ConflictPolicy::Overwrite
        } else {
            metadata::ConflictPolicy::Skip
        },
        ..ImportOptions::default()
    };
    let report = if req.dry_run {
        metadata::plan(&file, &target, app.runtime.clone(), &opts).await
    } else {
        metadata::import(&file, &target, app.runtime.clone(), &opts, &|_, _| {}).await
    }
    .map_err(|e| failed(StatusCode::BAD_GATEWAY, "cluster_unavailable", e))?;
    if req.dry_run {
        return Ok(report);
    }
    let _one = app.changes().await;
    let mut task = app.task().ok_or_else(no_task)?;
    let failures = report
        .items
        .iter()
        .filter(|i| i.action == metadata::Action::Fail)
        .count();
    let detail = format!(
        "metadata import from the {from}: {} item(s), {} change(s), {failures} failed",
        report.items.len(),
        report.changes
    );
    task.metadata = Some(MetadataRun {
        at: rfc3339(SystemTime::now()),
        actor: actor.to_owned(),
        from: from.to_owned(),
        report: report.clone(),
    });
    let e = entry(app, actor, "task_metadata", &task, detail.clone());
    app.commit_task(Some(task), vec![e])?;
    tracing::info!(actor, %detail, "task metadata import");
    Ok(report)
}

/// `GET /v1/task/endpoints`: per registered topic, its shim clients (with their latest heartbeat) and the
/// consumers of its groups outside the shim.
pub(crate) async fn endpoints(app: &App) -> EndpointsView {
    let clients = app.registry.views();
    let mut out = Vec::new();
    for topic in app.table().topics.keys() {
        let mine: Vec<EndpointClient> = clients
            .iter()
            .filter(|v| v.heartbeat.topics.iter().any(|t| t == topic))
            .map(|v| EndpointClient {
                client_id: v.heartbeat.client_id.clone(),
                application: v.heartbeat.application.clone(),
                role: v.heartbeat.role.as_str().to_owned(),
                group: v.heartbeat.group.clone(),
                live: v.live,
                last_seen_ms: v.last_seen_ms,
            })
            .collect();
        let unmanaged = match gates::foreign_consumers(app, topic).await {
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

/// At start: with a task that is not completed, take (or renew) its claim on the target. Refused when another
/// live task claims the target; an unreachable target is logged and the claim is taken by the renewal loop.
pub(crate) async fn claim_at_start(app: &App) -> Result<(), MigrationError> {
    let Some(task) = app.task().filter(|t| t.step != TaskStep::Completed) else {
        return Ok(());
    };
    let mine = Claim::now(&task.id, &task.name, &app.name.lock());
    match claim::acquire(&app.admin[Cluster::Target.index()], &mine).await {
        Ok(()) => Ok(()),
        Err(ClaimError::Held(other)) => Err(MigrationError::new(
            crate::ErrorKind::Server,
            None,
            format!(
                "task {:?}: the target is claimed by {other}; one migration task per target (stop that control \
                 plane, or wait {} s after it stopped)",
                task.name,
                claim::CLAIM_TTL.as_secs()
            ),
        )),
        Err(ClaimError::Unavailable(e)) => {
            tracing::warn!(task = %task.name, error = %e, "could not claim the target at start; will retry");
            Ok(())
        }
    }
}

/// Renew the task's claim every [`claim::RENEW_EVERY`] while the task runs.
pub(crate) fn spawn_claim_renewal(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(claim::RENEW_EVERY).await;
            let Some(app) = weak.upgrade() else { return };
            let Some(task) = app.task().filter(|t| t.step != TaskStep::Completed) else {
                continue;
            };
            let mine = Claim::now(&task.id, &task.name, &app.name.lock());
            match claim::acquire(&app.admin[Cluster::Target.index()], &mine).await {
                Ok(()) => {}
                Err(ClaimError::Held(other)) => {
                    tracing::error!(task = %task.name, other = %other, "ANOTHER TASK CLAIMS THE TARGET: two control planes migrate to one target")
                }
                Err(ClaimError::Unavailable(e)) => {
                    tracing::warn!(task = %task.name, error = %e, "could not renew the task claim on the target")
                }
            }
        }
    })
}
