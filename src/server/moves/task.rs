//! Changes to the migration task (one per control plane, walked through the seed's five steps): create it (claiming
//! the target), enter its next step when that step's conditions hold (or by `force`, audited), pause and resume it
//! (a pause freezes every phase move), delete it, and run the metadata import through it.
//!
//! Each step's conditions are in [`super::steps`]. Phase moves and write-ratio changes are made only in `grayscale`
//! and never while paused (see `plan::moves_allowed`); registering topics is allowed in every step. The task's
//! claim on the target is kept in [`crate::server::claim`] (renewed by [`crate::server::background::renewal`]).

use std::time::SystemTime;

use super::steps::{conditions, listed};
use crate::cluster::Cluster;
use crate::control::wire::{
    AuditEntry, CreateTask, MetadataRequest, MetadataRun, PauseRequest, Paused, StepRecord,
    TaskAdvance, TaskCluster, TaskDoc, TaskStep,
};
use crate::error::MigrationError;
use crate::metadata::{self, ImportOptions, ImportReport, NamespaceMode, Selection};
use crate::phase::Phase;
use crate::server::app::App;
use crate::server::claim::{self, Claim, ClaimError};
use crate::server::error::ApiError;
use crate::server::state::audit::{entry, rfc3339};
use crate::server::state::table::State;

/// Longest task name.
const MAX_NAME: usize = 64;

/// Save `task` (`None`: no task) with the audit line of `action`, whose detail names the task.
fn save(
    state: &State,
    task: Option<TaskDoc>,
    named: &TaskDoc,
    actor: &str,
    action: &str,
    detail: String,
) -> Result<(), ApiError> {
    let e = task_entry(state, actor, action, named, detail);
    state.commit_task(task, vec![e])
}

/// An audit entry of a task action.
fn task_entry(
    state: &State,
    actor: &str,
    action: &str,
    task: &TaskDoc,
    detail: String,
) -> AuditEntry {
    let mut e = entry(actor, action, "", None, None, None, state.table().version);
    e.detail = Some(format!("task {:?}: {detail}", task.name));
    e
}

/// A cluster could not be asked (`502 cluster_unavailable`).
fn unavailable(e: MigrationError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

/// Drop the task's claim on the target (a failure is logged: the claim goes stale by itself).
async fn release_claim(app: &App, task: &TaskDoc) {
    if let Err(e) = claim::release(&app.admin[Cluster::Target.index()], &task.id).await {
        tracing::warn!(error = %e, "could not release the task claim on the target (it goes stale by itself)");
    }
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
pub(crate) async fn create(app: &App, req: &CreateTask, actor: &str) -> Result<TaskDoc, ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(format!(
            "field \"name\" = {:?}: give 1-{MAX_NAME} printable characters",
            req.name
        )));
    }
    let _one = app.state.changes().await;
    if let Some(t) = app.state.task() {
        return Err(ApiError::conflict(
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
    save(
        &app.state,
        Some(task.clone()),
        &task,
        actor,
        "task_create",
        "created in step connect".into(),
    )?;
    tracing::info!(task = %task.name, id = %task.id, actor, "migration task created; target claimed");
    Ok(task)
}

fn refused_claim(e: ClaimError) -> ApiError {
    match e {
        ClaimError::Held(other) => ApiError::conflict(
            "target_claimed",
            format!(
                "the target is claimed by {other}: one migration task per target (stop that task, or wait {} s \
                 after its control plane stopped)",
                claim::CLAIM_TTL.as_secs()
            ),
        ),
        ClaimError::Unavailable(e) => ApiError::unavailable(format!(
            "could not check or write the task claim on the target's name server: {e}"
        )),
    }
}

/// `POST /v1/task/advance`: enter the next step when its conditions hold (or with `force`).
pub(crate) async fn advance(
    app: &App,
    req: &TaskAdvance,
    actor: &str,
) -> Result<TaskDoc, ApiError> {
    let _one = app.state.changes().await;
    let mut task = app.state.task().ok_or_else(ApiError::no_task)?;
    if task.step != req.expected {
        return Err(ApiError::conflict(
            "step_mismatch",
            format!(
                "task {:?} is in step {}, not the expected {}",
                task.name, task.step, req.expected
            ),
        ));
    }
    let Some(to) = task.step.next() else {
        return Err(ApiError::conflict(
            "no_step",
            format!(
                "task {:?} is completed: there is no step after it",
                task.name
            ),
        ));
    };
    if task.paused.is_some() {
        return Err(ApiError::conflict(
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
        let mut e = task_entry(
            &app.state,
            actor,
            "task_advance",
            &task,
            format!("{from} -> {to} refused: failing {}", failing.join(", ")),
        );
        e.outcome = "refused".into();
        e.checks = checks.clone();
        // The connection reports are kept: they say why the step cannot be entered.
        app.state.commit_task(Some(task.clone()), vec![e])?;
        tracing::warn!(task = %task.name, %from, %to, actor, failing = ?failing, "task step refused");
        let mut err = ApiError::conflict(
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
    let mut e = task_entry(
        &app.state,
        actor,
        "task_advance",
        &task,
        format!("{from} -> {to}"),
    );
    e.forced = forced;
    e.checks = checks;
    app.state.commit_task(Some(task.clone()), vec![e])?;
    if forced {
        tracing::warn!(task = %task.name, %from, %to, actor, failing = ?failing, "task step entered by FORCE despite failing checks");
    } else {
        tracing::info!(task = %task.name, %from, %to, actor, "task step entered");
    }
    if to == TaskStep::Completed {
        release_claim(app, &task).await;
    }
    Ok(task)
}

/// `POST /v1/task/pause` (`pause = true`) and `/resume`.
pub(crate) async fn pause(
    state: &State,
    pause: bool,
    req: &PauseRequest,
    actor: &str,
) -> Result<TaskDoc, ApiError> {
    let _one = state.changes().await;
    let mut task = state.task().ok_or_else(ApiError::no_task)?;
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
    save(state, Some(task.clone()), &task, actor, action, detail)?;
    if pause {
        tracing::warn!(task = %task.name, actor, reason = ?req.reason, "task PAUSED: phase moves are refused until it is resumed");
    } else {
        tracing::info!(task = %task.name, actor, "task resumed");
    }
    Ok(task)
}

/// `DELETE /v1/task`: drop the task and its claim, only while no topic has left `initial` or once completed.
pub(crate) async fn delete(app: &App, actor: &str) -> Result<(), ApiError> {
    let _one = app.state.changes().await;
    let task = app.state.task().ok_or_else(ApiError::no_task)?;
    let moved: Vec<String> = app
        .state
        .table()
        .topics
        .iter()
        .filter(|(_, s)| s.phase != Phase::Initial)
        .map(|(t, s)| format!("{t} is {}", s.phase))
        .collect();
    if task.step != TaskStep::Completed && !moved.is_empty() {
        return Err(ApiError::conflict(
            "topics_moved",
            format!(
                "task {:?} has topics under way ({}): roll them back to initial, or complete the task, before deleting it",
                task.name,
                listed(&moved)
            ),
        ));
    }
    save(
        &app.state,
        None,
        &task,
        actor,
        "task_delete",
        format!("deleted in step {}", task.step),
    )?;
    release_claim(app, &task).await;
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
    let task = app.state.task().ok_or_else(ApiError::no_task)?;
    if task.step == TaskStep::Completed {
        return Err(ApiError::conflict(
            "task_step",
            format!("task {:?} is completed", task.name),
        ));
    }
    let (file, from) = match &req.file {
        Some(v) => (
            metadata::parse(&v.to_string(), "request field \"file\"")
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            "file",
        ),
        None => (
            metadata::export(
                &app.clusters[Cluster::Source.index()],
                app.runtime.clone(),
                &metadata::ExportOptions::default(),
            )
            .await
            .map_err(unavailable)?,
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
    .map_err(unavailable)?;
    if req.dry_run {
        return Ok(report);
    }
    let _one = app.state.changes().await;
    let mut task = app.state.task().ok_or_else(ApiError::no_task)?;
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
    let e = task_entry(&app.state, actor, "task_metadata", &task, detail.clone());
    app.state.commit_task(Some(task), vec![e])?;
    tracing::info!(actor, %detail, "task metadata import");
    Ok(report)
}
