//! `rmq-migrate task ...`: the migration task's five steps through the control plane.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rocketmq_migration::control::wire::{
    CheckResult, CreateTask, MetadataRequest, Paused, TaskDoc, TaskStep, TaskView,
};
use rocketmq_migration::{ConfigError, ConfigErrorKind, MigrationError};

use crate::ops::{api, check_line, print_json};
use crate::{CliResult, Output, Remote};

/// The task's subcommands.
#[derive(Subcommand)]
pub(crate) enum TaskCommand {
    /// The task: its step, what blocks the next one (checked now), paused or not. Exits 5 when the next step's
    /// conditions do not hold.
    Show(Remote),
    /// Create the migration task (step connect) and claim the target for it.
    Create {
        #[command(flatten)]
        remote: Remote,
        /// The task's name.
        name: String,
        /// What you call the source (e.g. "IDC cluster").
        #[arg(long, default_value = "")]
        source_description: String,
        /// What you call the target.
        #[arg(long, default_value = "")]
        target_description: String,
    },
    /// Enter the next step (refused with the failing conditions unless --force).
    Advance {
        #[command(flatten)]
        remote: Remote,
        /// The step you expect the task to be in (default: its current step, read first).
        #[arg(long)]
        expected: Option<TaskStep>,
        /// Enter the next step although a condition fails (audited as forced).
        #[arg(long)]
        force: bool,
    },
    /// Refuse every phase move and write-ratio change until `task resume` (clients keep working).
    Pause {
        #[command(flatten)]
        remote: Remote,
        /// Why, for everyone who looks.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Allow phase moves again.
    Resume(Remote),
    /// Import topics and groups into the target through the control plane (the metadata step); the report is
    /// kept with the task. Exits 6 when some items failed, 7 when all did.
    Metadata(MetadataArgs),
    /// Per registered topic: its shim clients with their latest heartbeat, and consumers outside the shim.
    /// Exits 5 while a topic is not switched.
    Endpoints(Remote),
    /// Drop the task and its claim on the target (while every topic is initial, or once completed).
    Delete(Remote),
}

#[derive(Args)]
pub(crate) struct MetadataArgs {
    #[command(flatten)]
    remote: Remote,
    /// A metadata file (mqadmin exportMetadata or rmq-migrate export); default: the control plane exports from
    /// the source now.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Only these topics (repeat).
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// Only these groups (repeat).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Overwrite same-name items whose settings differ.
    #[arg(long)]
    overwrite: bool,
    /// Plan only; nothing is changed or kept.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) async fn run(c: TaskCommand) -> CliResult {
    match c {
        TaskCommand::Show(r) => {
            let v = api(&r)?.task(true).await?;
            print_view(&r, &v)?;
            Ok(if v.checks.iter().all(|c| c.passed) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(5)
            })
        }
        TaskCommand::Create {
            remote,
            name,
            source_description,
            target_description,
        } => {
            let v = api(&remote)?
                .create_task(
                    CreateTask::new(name)
                        .with_source_description(source_description)
                        .with_target_description(target_description),
                )
                .await?;
            print_view(&remote, &v)?;
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Advance {
            remote,
            expected,
            force,
        } => {
            let api = api(&remote)?;
            let expected = match expected {
                Some(s) => s,
                None => api.task(false).await?.task.step,
            };
            let v = api.advance_task(expected, force).await?;
            print_view(&remote, &v)?;
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Pause { remote, reason } => {
            let t = api(&remote)?.pause(reason.as_deref()).await?;
            print_task(&remote, &t)
        }
        TaskCommand::Resume(r) => {
            let t = api(&r)?.resume().await?;
            print_task(&r, &t)
        }
        TaskCommand::Metadata(a) => metadata(a).await,
        TaskCommand::Endpoints(r) => {
            let v = api(&r)?.endpoints().await?;
            let all = v.topics.iter().all(|t| t.switched);
            if r.output == Output::Json {
                print_json(&v);
            } else {
                for t in &v.topics {
                    println!(
                        "{} {}",
                        t.topic,
                        if t.switched {
                            "switched"
                        } else {
                            "NOT SWITCHED"
                        }
                    );
                    for c in &t.clients {
                        println!(
                            "  {:<9} {:<24} {:<24} {} last heartbeat {} ms ago{}",
                            c.role.as_str(),
                            c.group,
                            c.application,
                            c.client_id,
                            c.last_seen_ms,
                            if c.live { "" } else { " (STALE)" }
                        );
                    }
                    for u in &t.unmanaged {
                        println!("  outside the shim: {u}");
                    }
                }
            }
            Ok(if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(5)
            })
        }
        TaskCommand::Delete(r) => {
            api(&r)?.delete_task().await?;
            println!("task deleted; the claim on the target is released");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn metadata(a: MetadataArgs) -> CliResult {
    let file = match &a.file {
        None => None,
        Some(p) => {
            let bad = |why: &str| {
                MigrationError::from(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "file",
                    p.display().to_string(),
                    why,
                ))
            };
            let text =
                std::fs::read_to_string(p).map_err(|e| bad("cannot be read").with_source(e))?;
            Some(serde_json::from_str(&text).map_err(|e| bad("is not JSON").with_source(e))?)
        }
    };
    let report = api(&a.remote)?
        .run_metadata(
            MetadataRequest::default()
                .with_file(file)
                .with_topics(a.topics)
                .with_groups(a.groups)
                .with_overwrite(a.overwrite)
                .with_dry_run(a.dry_run),
        )
        .await?;
    if a.remote.output == Output::Json {
        print_json(&report);
    } else {
        for i in &report.items {
            println!(
                "{:<6} {:<40} {:<9} {}",
                format!("{:?}", i.kind).to_lowercase(),
                i.target,
                format!("{:?}", i.action).to_lowercase(),
                i.reason
            );
        }
        println!(
            "{}: {} item(s), {} change(s){}",
            format!("{:?}", report.status).to_lowercase(),
            report.items.len(),
            report.changes,
            if report.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        );
    }
    use rocketmq_migration::metadata::ImportStatus;
    Ok(match report.status {
        ImportStatus::AllSucceeded => ExitCode::SUCCESS,
        ImportStatus::SomeFailed => ExitCode::from(6),
        ImportStatus::AllFailed => ExitCode::from(7),
    })
}

fn print_task(r: &Remote, t: &TaskDoc) -> CliResult {
    if r.output == Output::Json {
        print_json(t);
        return Ok(ExitCode::SUCCESS);
    }
    println!("task {:?}: step {}", t.name, t.step);
    match &t.paused {
        Some(p) => println!("{}", paused(p)),
        None => println!("not paused"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `PAUSED by <who> at <when>[: <reason>]`.
fn paused(p: &Paused) -> String {
    let reason = p.reason.as_deref().map(|r| format!(": {r}"));
    format!(
        "PAUSED by {} at {}{}",
        p.by,
        p.at,
        reason.unwrap_or_default()
    )
}

fn print_view(r: &Remote, v: &TaskView) -> Result<(), MigrationError> {
    if r.output == Output::Json {
        print_json(v);
        return Ok(());
    }
    let t = &v.task;
    println!("task {:?} (id {}), created {}", t.name, t.id, t.created_at);
    let side = |name: &str, c: &rocketmq_migration::control::wire::TaskCluster| {
        println!(
            "  {name}: {} {}{}{}",
            c.name_server,
            if c.description.is_empty() {
                String::new()
            } else {
                format!("({}) ", c.description)
            },
            c.namespace
                .as_deref()
                .map(|n| format!("namespace {n} "))
                .unwrap_or_default(),
            if c.clusters.is_empty() {
                String::new()
            } else {
                format!("clusters {}", c.clusters.join(","))
            }
        )
    };
    side("source", &t.source);
    side("target", &t.target);
    for s in TaskStep::ALL {
        let entered = t.steps.iter().rev().find(|r| r.step == s);
        let mark = if s == t.step {
            "->"
        } else if s < t.step {
            "ok"
        } else {
            "  "
        };
        println!(
            "  {mark} {:<10} {}",
            s.as_str(),
            entered
                .map(|e| format!(
                    "entered {} by {}{}",
                    e.at,
                    e.actor,
                    if e.forced { " (FORCED)" } else { "" }
                ))
                .unwrap_or_default()
        );
    }
    if let Some(p) = &t.paused {
        println!("{}: phase moves are refused", paused(p));
    }
    if let Some(m) = &t.metadata {
        println!(
            "metadata: imported from the {} at {} by {}: {} item(s), {} change(s), {:?}",
            m.from,
            m.at,
            m.actor,
            m.report.items.len(),
            m.report.changes,
            m.report.status
        );
    }
    if let Some(at) = &t.completed_at {
        println!("completed at {at}; source decommission checklist:");
        print_checks(&t.decommission);
    }
    if let Some(next) = v.next {
        println!("to enter {next}:");
        print_checks(&v.checks);
    }
    Ok(())
}

fn print_checks(checks: &[CheckResult]) {
    for c in checks {
        println!("  {}", check_line(c));
    }
}
