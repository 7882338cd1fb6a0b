//! `export`, `import`, `backlog`, `compare`: metadata migration and the batch-release gate, straight against the
//! clusters' admin APIs (no control plane needed).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rocketmq_migration::metadata::{
    self, Action, ConflictPolicy, ExportOptions, ImportOptions, ImportStatus, NamespaceMode,
};
use rocketmq_migration::release;
use rocketmq_migration::{
    ClusterConfig, ConfigError, ConfigErrorKind, MigrationError, MigrationRuntime,
};

use crate::{CliResult, Output};

/// Exit code while a backlog remains (`backlog`) or the clusters differ (`compare`).
const NOT_YET: u8 = 5;

/// One cluster's admin access.
#[derive(Args, Clone)]
pub(crate) struct ClusterArgs {
    /// Name server address(es), `host:port[;host:port]`.
    #[arg(long)]
    pub(crate) namesrv: String,
    /// AccessKey (with --secret-key).
    #[arg(long)]
    access_key: Option<String>,
    /// SecretKey.
    #[arg(long, env = "RMQ_MIGRATE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
}

impl ClusterArgs {
    pub(crate) fn config(&self) -> ClusterConfig {
        cluster(&self.namesrv, &self.access_key, &self.secret_key)
    }
}

pub(crate) fn cluster(addr: &str, ak: &Option<String>, sk: &Option<String>) -> ClusterConfig {
    let c = ClusterConfig::new(addr);
    match (ak, sk) {
        (Some(a), Some(s)) => c.credentials(a.clone(), s.clone()),
        _ => c,
    }
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Only this cluster's brokers (default: every broker of the name server).
    #[arg(long)]
    cluster_name: Option<String>,
    /// Keep %RETRY% and %DLQ% topics.
    #[arg(long)]
    include_retry_dlq: bool,
    /// Write here (default: standard output).
    #[arg(long, short)]
    file: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Conflict {
    Skip,
    Overwrite,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The metadata file (ours or `mqadmin exportMetadata`'s).
    #[arg(long, short)]
    file: PathBuf,
    /// Print the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Smallest queue count on the target.
    #[arg(long, default_value_t = 3)]
    min_queues: u32,
    /// Largest queue count on the target.
    #[arg(long, default_value_t = 16)]
    max_queues: u32,
    /// Same-name items with other settings.
    #[arg(long, value_enum, default_value_t = Conflict::Skip)]
    on_conflict: Conflict,
    /// Specified-namespace mode: import the chosen --topic / --group items into this namespace (default:
    /// cluster-migration mode, everything, namespaces from the names).
    #[arg(long)]
    namespace: Option<String>,
    /// A topic to import (specified-namespace mode; repeatable).
    #[arg(long = "topic", requires = "namespace")]
    topics: Vec<String>,
    /// A group to import (specified-namespace mode; repeatable).
    #[arg(long = "group", requires = "namespace")]
    groups: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Args)]
pub(crate) struct BacklogArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Only this group.
    #[arg(long)]
    group: Option<String>,
    /// Only this topic.
    #[arg(long)]
    topic: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Args)]
pub(crate) struct CompareArgs {
    /// Source name server(s).
    #[arg(long)]
    source_namesrv: String,
    /// Target name server(s).
    #[arg(long)]
    target_namesrv: String,
    /// Source AccessKey / SecretKey.
    #[arg(long)]
    source_access_key: Option<String>,
    #[arg(long, hide = true)]
    source_secret_key: Option<String>,
    /// Target AccessKey / SecretKey.
    #[arg(long)]
    target_access_key: Option<String>,
    #[arg(long, hide = true)]
    target_secret_key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

fn config_err(field: &str, value: String, reason: &str, e: std::io::Error) -> MigrationError {
    MigrationError::from(ConfigError::new(
        ConfigErrorKind::InvalidValue,
        field,
        value,
        reason,
    ))
    .with_source(e)
}

pub(crate) async fn export(a: ExportArgs) -> CliResult {
    let runtime = MigrationRuntime::new()?;
    let opts = ExportOptions {
        cluster_name: a.cluster_name.clone(),
        include_retry_and_dlq: a.include_retry_dlq,
    };
    let file = metadata::export(&a.cluster.config(), runtime.client(), &opts).await;
    runtime.shutdown().await;
    let file = file?;
    let text = serde_json::to_string_pretty(&file).expect("serializable");
    match &a.file {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| {
                config_err("file", path.display().to_string(), "cannot be written", e)
            })?;
            eprintln!(
                "exported {} topics and {} groups to {} ({} system items left out)",
                file.topic_config_table.len(),
                file.subscription_group_table.len(),
                path.display(),
                file.export_notes.as_ref().map_or(0, |n| n.left_out.len())
            );
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn import(a: ImportArgs) -> CliResult {
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| config_err("file", a.file.display().to_string(), "cannot be read", e))?;
    let file = metadata::parse(&text, &a.file.display().to_string())?;
    let opts = ImportOptions {
        queue_range: (a.min_queues, a.max_queues),
        namespace: match &a.namespace {
            None => NamespaceMode::Cluster,
            Some(ns) => NamespaceMode::Specified {
                namespace: ns.clone(),
                topics: a.topics.clone(),
                groups: a.groups.clone(),
            },
        },
        on_conflict: match a.on_conflict {
            Conflict::Skip => ConflictPolicy::Skip,
            Conflict::Overwrite => ConflictPolicy::Overwrite,
        },
        ..ImportOptions::default()
    };
    let runtime = MigrationRuntime::new()?;
    let total = (file.topic_config_table.len() + file.subscription_group_table.len()) as u64;
    let bar = if a.output == Output::Table && std::io::stderr().is_terminal() && total > 20 {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} items {msg}").expect("template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let report = if a.dry_run {
        metadata::plan(&file, &a.cluster.config(), runtime.client(), &opts).await
    } else {
        metadata::import(
            &file,
            &a.cluster.config(),
            runtime.client(),
            &opts,
            &|done, _| bar.set_position(done as u64),
        )
        .await
    };
    bar.finish_and_clear();
    runtime.shutdown().await;
    let report = report?;
    if a.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializable")
        );
    } else {
        println!(
            "{:<6} {:<40} {:<40} {:<12} {:<10} REASON",
            "KIND", "SOURCE", "TARGET", "NAMESPACE", "ACTION"
        );
        for i in &report.items {
            let action = format!("{:?}", i.action).to_lowercase();
            let clamped = i
                .clamped
                .as_deref()
                .map_or(String::new(), |c| format!(" [{c}]"));
            println!(
                "{:<6} {:<40} {:<40} {:<12} {:<10} {}{clamped}",
                format!("{:?}", i.kind).to_lowercase(),
                i.source,
                i.target,
                i.namespace,
                action,
                i.reason
            );
        }
        let count = |act: Action| report.items.iter().filter(|i| i.action == act).count();
        println!(
            "{}{:?}: {} create, {} update, {} unchanged, {} skip, {} failed{}",
            if report.dry_run {
                "DRY RUN (nothing changed) — "
            } else {
                ""
            },
            report.status,
            count(Action::Create),
            count(Action::Update),
            count(Action::Unchanged),
            count(Action::Skip),
            count(Action::Fail),
            if report.changes == 0 && !report.dry_run {
                " — nothing changed: the target already matches"
            } else {
                ""
            }
        );
    }
    Ok(match report.status {
        ImportStatus::AllSucceeded => ExitCode::SUCCESS,
        ImportStatus::SomeFailed => ExitCode::from(6),
        ImportStatus::AllFailed => ExitCode::from(7),
    })
}

pub(crate) async fn backlog(a: BacklogArgs) -> CliResult {
    let runtime = MigrationRuntime::new()?;
    let rows = release::backlog(
        &a.cluster.config(),
        runtime.client(),
        a.group.as_deref(),
        a.topic.as_deref(),
    )
    .await;
    runtime.shutdown().await;
    let rows = rows?;
    let remaining: u64 = rows.iter().map(|r| r.unconsumed).sum();
    if a.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serializable")
        );
    } else {
        println!(
            "{:<40} {:<40} {:<11} {:>12}",
            "GROUP", "TOPIC", "KIND", "DUE"
        );
        for r in &rows {
            let kind = match r.kind {
                release::BacklogKind::Unconsumed => "unconsumed",
                release::BacklogKind::Retry => "retry",
                release::BacklogKind::Scheduled => "scheduled",
            };
            println!(
                "{:<40} {:<40} {:<11} {:>12}",
                r.group, r.topic, kind, r.unconsumed
            );
        }
        println!(
            "{remaining} message(s) still due on {} (unconsumed, retries, scheduled)",
            a.cluster.namesrv
        );
    }
    Ok(if remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_YET)
    })
}

pub(crate) async fn compare(a: CompareArgs) -> CliResult {
    let runtime = MigrationRuntime::new()?;
    let opts = ExportOptions::default();
    let source = metadata::export(
        &cluster(
            &a.source_namesrv,
            &a.source_access_key,
            &a.source_secret_key,
        ),
        runtime.client(),
        &opts,
    )
    .await;
    let target = metadata::export(
        &cluster(
            &a.target_namesrv,
            &a.target_access_key,
            &a.target_secret_key,
        ),
        runtime.client(),
        &opts,
    )
    .await;
    runtime.shutdown().await;
    let (source, target) = (source?, target?);
    let c = metadata::compare(&source, &target);
    if a.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c).expect("serializable")
        );
    } else {
        println!(
            "topics missing on the target: {}",
            list(&c.topics_missing_on_target)
        );
        println!(
            "groups missing on the target: {}",
            list(&c.groups_missing_on_target)
        );
        for d in &c.topic_differences {
            println!("topic {} differs: {}", d.topic, d.fields.join(", "));
        }
        if c.is_empty() {
            println!("the target has every topic and group of the source, with the same queue counts and permissions");
        }
    }
    Ok(if c.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_YET)
    })
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}
