#![recursion_limit = "512"]
//! `rmq-migrate`: run the control plane, operate a migration through it, or watch a whole one in `demo`.
//!
//! Exit codes: 0 done; 1 failed (unreachable, bad answer, lost messages in `demo`); 2 bad usage or input (a
//! malformed metadata file); 3 refused by the control plane (a bad request, a conflict or a failing readiness
//! check); 4 the token was refused; 5 not yet (`backlog`: messages remain; `compare`: the target lacks or differs);
//! 6 `import`: some items failed; 7 `import`: every item failed; 8–13 the connection check (`check`, and before
//! `export` / `import`) failed: 8 name server unreachable, 9 no broker registered, 10 broker unreachable,
//! 11 authentication failed, 12 permission denied, 13 another broker error.

mod acl;
mod check;
mod demo;
mod dlq;
mod files;
mod metadata;
mod ops;
mod runtime;
mod serve;
mod task;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rocketmq_migration::{ErrorKind, MigrationError, Phase, ToolErrorKind};

#[derive(Parser)]
#[command(
    name = "rmq-migrate",
    version,
    about = "Zero-downtime RocketMQ cluster migration: control plane and operator tool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane (HTTP API, readiness gates, state file, audit log).
    Serve(serve::ServeArgs),
    /// Every topic: phase, ratio, readiness of the next step, live clients, traffic per cluster.
    Status(Remote),
    /// Run topics' readiness checks now (status answers from the last background scan); exits 5 unless every
    /// topic's next step is ready.
    Health {
        #[command(flatten)]
        remote: Remote,
        /// Topic names.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Register topics for migration (they start `initial`).
    Register {
        #[command(flatten)]
        remote: Remote,
        /// Topic names.
        #[arg(required = true)]
        topics: Vec<String>,
        /// Initial write ratio for dual_read_write.
        #[arg(long)]
        write_ratio: Option<f64>,
        /// Register them as orderly: per-key order is kept across the cutover (see the README).
        #[arg(long)]
        orderly: bool,
    },
    /// Remove topics from the migration (only while `initial`).
    Remove {
        #[command(flatten)]
        remote: Remote,
        /// Topic names.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Mark a topic orderly or not (only in initial or dual_read).
    Orderly {
        #[command(flatten)]
        remote: Remote,
        /// The topic.
        topic: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        value: String,
    },
    /// Move a topic one step forward (gates on unless --force).
    Advance(MoveArgs),
    /// Move a topic one step back (gates on unless --force).
    Rollback(MoveArgs),
    /// Set the share of dual_read_write sends that go to the target.
    Ratio {
        #[command(flatten)]
        remote: Remote,
        /// The topic.
        topic: String,
        /// Within 0.0..=1.0.
        ratio: f64,
    },
    /// Migration monitoring: per cluster stored and consumed rate, backlog and shim counts over time, for the
    /// whole task or one topic.
    Monitor {
        #[command(flatten)]
        remote: Remote,
        /// One topic (default: the whole task).
        #[arg(long)]
        topic: Option<String>,
        /// From: unix milliseconds, or a time ago (600s, 30m, 6h, 7d).
        #[arg(long, default_value = "10m")]
        since: String,
        /// Seconds per printed point (points are merged).
        #[arg(long)]
        resolution: Option<u64>,
    },
    /// Registered clients, their applied phases and counters.
    Clients(Remote),
    /// Resolve a divergence (live clients hold a newer table than the control plane, as after a restore from an
    /// older state file): take the clients' newest table, or with --force publish the control plane's own.
    Adopt {
        #[command(flatten)]
        remote: Remote,
        /// Keep the control plane's table and publish it above every client's version (clients then apply it;
        /// topics they hold past initial that it lacks become initial).
        #[arg(long)]
        force: bool,
    },
    /// Consumer groups: missing on the target, or connected to the source without the shim.
    Groups(Remote),
    /// The audit log.
    Audit {
        #[command(flatten)]
        remote: Remote,
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
        /// The last N entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The migration task: its five steps (connect, metadata, endpoints, grayscale, completed), pause/resume.
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// ACL accounts: export a cluster's, import a plain_acl.yml or an export into a cluster.
    #[command(subcommand)]
    Acl(acl::AclCommand),
    /// Can this tool reach a cluster with these credentials? Names the cause when not (exit 8–13).
    Check(check::CheckArgs),
    /// Export topics and consumer groups as JSON (mqadmin exportMetadata format).
    Export(metadata::ExportArgs),
    /// Import a metadata file into a cluster (--dry-run prints the plan).
    Import(metadata::ImportArgs),
    /// Unconsumed messages per group and topic on a cluster; exits 5 while any remain.
    Backlog(metadata::BacklogArgs),
    /// Topics and groups the source has and the target lacks, and queue-count or permission differences; exits 5
    /// when there are any.
    Compare(metadata::CompareArgs),
    /// Dead letters of a consumer group: list, resend to the target, acknowledge as reviewed.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Two embedded clusters, the control plane, producers and consumers through the shim: every topic walked
    /// through all phases via the HTTP API with the gates on; prints traffic per phase and cluster, and lost.
    Demo(demo::DemoArgs),
}

/// How to reach the control plane.
#[derive(Args, Clone)]
struct Remote {
    /// Control plane URL.
    #[arg(
        long,
        env = "RMQ_MIGRATE_ENDPOINT",
        default_value = "http://127.0.0.1:7080"
    )]
    endpoint: String,
    /// Bearer token (admin token for changes). Prefer the environment variable or --token-file.
    #[arg(long, env = "RMQ_MIGRATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// PEM CA certificate to trust for an https endpoint.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Your name, recorded in the audit log.
    #[arg(long, env = "USER")]
    actor: Option<String>,
}

#[derive(Args)]
struct MoveArgs {
    #[command(flatten)]
    remote: Remote,
    /// The topic(s). Several topics (or --all-ready / --phase) move as one batch in one table version.
    topics: Vec<String>,
    /// The phase you expect the topic to be in (default: its current phase, read first; one topic only).
    #[arg(long)]
    expected: Option<Phase>,
    /// Move even though readiness checks fail (recorded as forced in the audit log).
    #[arg(long)]
    force: bool,
    /// Batch: every topic whose checks for this direction passed in the last readiness scan.
    #[arg(long)]
    all_ready: bool,
    /// Batch: only topics in this phase.
    #[arg(long)]
    phase: Option<Phase>,
    /// Batch: move every topic that can (default: all or nothing).
    #[arg(long)]
    each: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(match cli.command {
            Command::Serve(_) => "info,rocketmq=warn,rocketmq_client_rust=warn,rocketmq_remoting=warn",
            _ => "warn,rocketmq=error,rocketmq_client_rust=error,rocketmq_broker=error,rocketmq_namesrv=error,rocketmq_store=error,rocketmq_remoting=error,rocketmq_transport=off",
        })
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let result = match cli.command {
        Command::Serve(a) => serve::run(a).await,
        Command::Status(r) => ops::status(&r).await,
        Command::Health { remote, topics } => ops::health(&remote, &topics).await,
        Command::Register {
            remote,
            topics,
            write_ratio,
            orderly,
        } => ops::register(&remote, &topics, write_ratio, orderly).await,
        Command::Remove { remote, topics } => ops::remove(&remote, &topics).await,
        Command::Orderly {
            remote,
            topic,
            value,
        } => ops::orderly(&remote, &topic, value == "on").await,
        Command::Advance(m) => ops::move_topic(&m, false).await,
        Command::Rollback(m) => ops::move_topic(&m, true).await,
        Command::Ratio {
            remote,
            topic,
            ratio,
        } => ops::ratio(&remote, &topic, ratio).await,
        Command::Monitor {
            remote,
            topic,
            since,
            resolution,
        } => ops::monitor(&remote, topic.as_deref(), &since, resolution).await,
        Command::Clients(r) => ops::clients(&r).await,
        Command::Adopt { remote, force } => ops::adopt(&remote, force).await,
        Command::Groups(r) => ops::groups(&r).await,
        Command::Audit {
            remote,
            topic,
            limit,
        } => ops::audit(&remote, topic.as_deref(), limit).await,
        Command::Check(a) => check::run(a).await,
        Command::Task(c) => task::run(c).await,
        Command::Acl(c) => acl::run(c).await,
        Command::Export(a) => metadata::export(a).await,
        Command::Import(a) => metadata::import(a).await,
        Command::Backlog(a) => metadata::backlog(a).await,
        Command::Dlq(c) => dlq::run(c).await,
        Command::Compare(a) => metadata::compare(a).await,
        Command::Demo(d) => demo::run(d).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rmq-migrate: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::Refused => 3,
                ErrorKind::Unauthorized => 4,
                ErrorKind::Config | ErrorKind::Tool(ToolErrorKind::Metadata) => 2,
                _ => 1,
            })
        }
    }
}

/// What a subcommand returns.
type CliResult = Result<ExitCode, MigrationError>;
