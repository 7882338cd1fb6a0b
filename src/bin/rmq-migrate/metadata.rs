//! `export`, `import`, `backlog`, `compare`: metadata migration and the batch-release gate, straight against the
//! clusters' admin APIs (no control plane needed).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rocketmq_migration::metadata::{
    self, Action, ConflictPolicy, ExportOptions, ImportOptions, ImportStatus, NamespaceMode,
    Selection, SourceFacts,
};
use rocketmq_migration::release;
use rocketmq_migration::{Cluster, ClusterConfig, MigrationError};

use crate::files::{file_error, read_text};
use crate::ops::print_json;
use crate::runtime::{with_checked_runtime, with_runtime};
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

/// `cluster` with its client namespace, when given.
pub(crate) fn in_namespace(cluster: ClusterConfig, namespace: &Option<String>) -> ClusterConfig {
    match namespace {
        Some(ns) => cluster.namespace(ns.clone()),
        None => cluster,
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
    /// Export only this client namespace's items, under their short names (`MQ_INST_x%orders` as `orders`).
    #[arg(long)]
    namespace: Option<String>,
    /// Write here (default: standard output).
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Skip the connection check before exporting.
    #[arg(long)]
    no_check: bool,
}

/// `--on-conflict`: same-name items with other settings (`import`, `acl import`).
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Conflict {
    Skip,
    Overwrite,
}

impl Conflict {
    pub(crate) fn policy(self) -> ConflictPolicy {
        match self {
            Conflict::Skip => ConflictPolicy::Skip,
            Conflict::Overwrite => ConflictPolicy::Overwrite,
        }
    }
}

/// An import summary's opening words when it was a dry run.
pub(crate) fn dry_run_mark(dry_run: bool) -> &'static str {
    if dry_run {
        "DRY RUN (nothing changed) — "
    } else {
        ""
    }
}

/// An import summary's counts of each action.
pub(crate) fn action_counts(actions: &[Action]) -> String {
    let n = |act: Action| actions.iter().filter(|a| **a == act).count();
    format!(
        "{} create, {} update, {} unchanged, {} skip, {} failed",
        n(Action::Create),
        n(Action::Update),
        n(Action::Unchanged),
        n(Action::Skip),
        n(Action::Fail)
    )
}

/// What both imports (`import`, `acl import`) take: the file, the target cluster, a dry run and what to do with
/// same-name items.
#[derive(Args)]
pub(crate) struct ApplyArgs {
    /// The file to import: for `import` a metadata file (ours or `mqadmin exportMetadata`'s), for `acl import`
    /// plain_acl.yml or a file written by `acl export`.
    #[arg(long, short)]
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Same-name items (accounts, for `acl import`) with other settings on the target.
    #[arg(long, value_enum, default_value_t = Conflict::Skip)]
    pub(crate) on_conflict: Conflict,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    apply: ApplyArgs,
    /// Smallest queue count on the target.
    #[arg(long, default_value_t = 3)]
    min_queues: u32,
    /// Largest queue count on the target.
    #[arg(long, default_value_t = 16)]
    max_queues: u32,
    /// Specified-namespace mode: import into this namespace (`<namespace>%<name>`; default: cluster-migration
    /// mode, namespaces from the names).
    #[arg(long)]
    namespace: Option<String>,
    /// Import only this topic (repeatable; either mode). With any --topic/--group/--*-from, only the named items
    /// are imported.
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// Import only this group (repeatable; either mode).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Topics to import, one per line (`#` starts a comment).
    #[arg(long)]
    topics_from: Option<PathBuf>,
    /// Groups to import, one per line (`#` starts a comment).
    #[arg(long)]
    groups_from: Option<PathBuf>,
    /// Import this topic although its shape says it is a broker's own (broker- or cluster-name topic, reply
    /// topic); repeatable.
    #[arg(long)]
    include: Vec<String>,
    /// Import %RETRY% and %DLQ% topics too (the target broker creates retry topics itself).
    #[arg(long)]
    include_retry_dlq: bool,
    /// Ask this source cluster which names are its brokers' and clusters' and how many queues each master has.
    #[arg(long)]
    source_namesrv: Option<String>,
    /// Source AccessKey (with --source-secret-key).
    #[arg(long)]
    source_access_key: Option<String>,
    /// Source SecretKey.
    #[arg(long, env = "RMQ_MIGRATE_SOURCE_SECRET_KEY", hide_env_values = true)]
    source_secret_key: Option<String>,
    /// Print only the items that failed (the summary still counts every item).
    #[arg(long)]
    only_failed: bool,
    /// Skip the connection check before importing.
    #[arg(long)]
    no_check: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// Names from `--topics-from` / `--groups-from`: one per line, blank lines and `#` comments ignored.
fn names_from(field: &str, path: &Path) -> Result<Vec<String>, MigrationError> {
    let text = read_text(field, path)?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
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
    /// The client namespace the group and topic live in on this cluster (give them short).
    #[arg(long)]
    namespace: Option<String>,
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
    /// The source's client namespace: compare its items under their short names.
    #[arg(long)]
    source_namespace: Option<String>,
    /// The target's client namespace.
    #[arg(long)]
    target_namespace: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

pub(crate) async fn export(a: ExportArgs) -> CliResult {
    let opts = ExportOptions {
        cluster_name: a.cluster_name.clone(),
        include_retry_and_dlq: a.include_retry_dlq,
    };
    let source = in_namespace(a.cluster.config(), &a.namespace);
    source.validate("cluster")?;
    let exported = with_checked_runtime(Cluster::Source, &source, !a.no_check, async |client| {
        metadata::export(&source, client, &opts).await
    })
    .await?;
    let file = match exported {
        Ok(file) => file,
        Err(code) => return Ok(code),
    };
    let text = serde_json::to_string_pretty(&file).expect("serializable");
    match &a.file {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| file_error("file", path, "cannot be written", e))?;
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
    let text = read_text("file", &a.apply.file)?;
    let file = metadata::parse(&text, &a.apply.file.display().to_string())?;
    let mut topics = a.topics.clone();
    let mut groups = a.groups.clone();
    if let Some(p) = &a.topics_from {
        topics.extend(names_from("topics_from", p)?);
    }
    if let Some(p) = &a.groups_from {
        groups.extend(names_from("groups_from", p)?);
    }
    let selected = !topics.is_empty()
        || !groups.is_empty()
        || a.topics_from.is_some()
        || a.groups_from.is_some();
    let mut opts = ImportOptions {
        queue_range: (a.min_queues, a.max_queues),
        namespace: match &a.namespace {
            None => NamespaceMode::Cluster,
            Some(ns) => NamespaceMode::Specified {
                namespace: ns.clone(),
            },
        },
        selection: if selected {
            Selection::only(topics, groups)
        } else {
            Selection::All
        },
        on_conflict: a.apply.on_conflict.policy(),
        include: a.include.iter().cloned().collect(),
        include_retry_and_dlq: a.include_retry_dlq,
        ..ImportOptions::default()
    };
    opts.validate()?;
    let target = a.apply.cluster.config();
    let imported = with_checked_runtime(Cluster::Target, &target, !a.no_check, async |client| {
        if let Some(addr) = &a.source_namesrv {
            let source = cluster(addr, &a.source_access_key, &a.source_secret_key);
            opts.source = Some(SourceFacts::read(&source, client.clone()).await?);
        }
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
        let report = if a.apply.dry_run {
            metadata::plan(&file, &target, client, &opts).await
        } else {
            metadata::import(&file, &target, client, &opts, &|done, _| {
                bar.set_position(done as u64)
            })
            .await
        };
        bar.finish_and_clear();
        report
    })
    .await?;
    let report = match imported {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    if a.output == Output::Json {
        let mut shown = report.clone();
        if a.only_failed {
            shown.items.retain(|i| i.action == Action::Fail);
        }
        print_json(&shown);
    } else {
        println!(
            "{:<6} {:<40} {:<40} {:<12} {:<10} {:<15} {:<24} REASON",
            "KIND", "SOURCE", "TARGET", "NAMESPACE", "ACTION", "CAUSE", "QUEUES"
        );
        for i in report
            .items
            .iter()
            .filter(|i| !a.only_failed || i.action == Action::Fail)
        {
            println!(
                "{:<6} {:<40} {:<40} {:<12} {:<10} {:<15} {:<24} {}",
                format!("{:?}", i.kind).to_lowercase(),
                i.source,
                i.target,
                i.namespace,
                format!("{:?}", i.action).to_lowercase(),
                i.cause.map_or("-".to_owned(), |c| c.to_string()),
                i.queues.as_ref().map_or("-".to_owned(), |q| q.to_string()),
                i.reason
            );
        }
        let actions: Vec<Action> = report.items.iter().map(|i| i.action).collect();
        println!(
            "{}{:?}: {}{}",
            dry_run_mark(report.dry_run),
            report.status,
            action_counts(&actions),
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
    let cluster = in_namespace(a.cluster.config(), &a.namespace);
    let rows = with_runtime(async |client| {
        release::backlog(&cluster, client, a.group.as_deref(), a.topic.as_deref()).await
    })
    .await?;
    let remaining: u64 = rows.iter().map(|r| r.unconsumed).sum();
    if a.output == Output::Json {
        print_json(&rows);
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
    let opts = ExportOptions::default();
    let source = in_namespace(
        cluster(
            &a.source_namesrv,
            &a.source_access_key,
            &a.source_secret_key,
        ),
        &a.source_namespace,
    );
    let target = in_namespace(
        cluster(
            &a.target_namesrv,
            &a.target_access_key,
            &a.target_secret_key,
        ),
        &a.target_namespace,
    );
    let (source, target) = with_runtime(async |client| {
        let source = metadata::export(&source, client.clone(), &opts).await;
        let target = metadata::export(&target, client, &opts).await;
        Ok((source?, target?))
    })
    .await?;
    let c = metadata::compare(&source, &target);
    if a.output == Output::Json {
        print_json(&c);
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
