//! `acl export` / `acl import`: ACL accounts (AccessKey, SecretKey, admin flag, topic and group permissions) from a
//! cluster or a `plain_acl.yml`, onto a target cluster. Secrets are never printed unless `--show-secrets`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rocketmq_migration::acl::{self, AclFile};
use rocketmq_migration::metadata::Action;
use rocketmq_migration::{Cluster, ConfigError, ConfigErrorKind, MigrationError, MigrationRuntime};

use crate::metadata::{precheck, ClusterArgs, Conflict};
use crate::{CliResult, Output};

#[derive(Subcommand)]
pub(crate) enum AclCommand {
    /// Read a cluster's accounts (its users and ACL entries) as a plain_acl.yml-shaped JSON document.
    Export(ExportArgs),
    /// Create the accounts of a plain_acl.yml or an export on a cluster (--dry-run prints the plan).
    Import(ImportArgs),
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Write here, secrets included (file mode 0600); default: standard output, secrets hidden.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Print the secrets on standard output too.
    #[arg(long)]
    show_secrets: bool,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// plain_acl.yml, or a file written by `acl export`.
    #[arg(long, short)]
    file: PathBuf,
    /// Print the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Accounts on the target with other settings.
    #[arg(long, value_enum, default_value_t = Conflict::Skip)]
    on_conflict: Conflict,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

pub(crate) async fn run(c: AclCommand) -> CliResult {
    match c {
        AclCommand::Export(a) => export(a).await,
        AclCommand::Import(a) => import(a).await,
    }
}

fn file_err(path: &std::path::Path, what: &str, e: std::io::Error) -> MigrationError {
    MigrationError::from(ConfigError::new(
        ConfigErrorKind::InvalidValue,
        "file",
        path.display().to_string(),
        what,
    ))
    .with_source(e)
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(text.as_bytes())
}

async fn export(a: ExportArgs) -> CliResult {
    let config = a.cluster.config();
    config.validate("cluster")?;
    let runtime = MigrationRuntime::new()?;
    if let Err(code) = precheck(Cluster::Source, &config, &runtime).await {
        runtime.shutdown().await;
        return Ok(code);
    }
    let result = acl::export(&config, runtime.client()).await;
    runtime.shutdown().await;
    let (mut file, left_out) = result?;
    for l in &left_out {
        eprintln!("left out (an account holds topic and group permissions only): {l}");
    }
    match &a.file {
        Some(path) => {
            let text = serde_json::to_string_pretty(&file).expect("serializable");
            write_private(path, &text).map_err(|e| file_err(path, "cannot be written", e))?;
            eprintln!(
                "exported {} account(s) to {} (secrets included; keep the file safe)",
                file.accounts.len(),
                path.display()
            );
        }
        None => {
            if !a.show_secrets {
                for acc in &mut file.accounts {
                    if acc.secret_key.is_some() {
                        acc.secret_key = Some("******".into());
                    }
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&file).expect("serializable")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(a: ImportArgs) -> CliResult {
    let text =
        std::fs::read_to_string(&a.file).map_err(|e| file_err(&a.file, "cannot be read", e))?;
    let file = AclFile::parse(&text, &a.file.display().to_string())?;
    let config = a.cluster.config();
    config.validate("cluster")?;
    let runtime = MigrationRuntime::new()?;
    if let Err(code) = precheck(Cluster::Target, &config, &runtime).await {
        runtime.shutdown().await;
        return Ok(code);
    }
    let policy = a.on_conflict.policy();
    let report = acl::import(&file, &config, runtime.client(), policy, !a.dry_run).await;
    runtime.shutdown().await;
    let report = report?;
    if a.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializable")
        );
    } else {
        println!(
            "{:<32} {:<10} {:<15} REASON",
            "ACCESS KEY", "ACTION", "CAUSE"
        );
        for r in &report.accounts {
            println!(
                "{:<32} {:<10} {:<15} {}",
                r.access_key,
                format!("{:?}", r.action).to_lowercase(),
                r.cause.map_or("-".to_owned(), |c| c.to_string()),
                r.reason
            );
        }
        let n = |act: Action| report.accounts.iter().filter(|r| r.action == act).count();
        println!(
            "{}{} create, {} update, {} unchanged, {} skip, {} failed",
            if report.dry_run {
                "DRY RUN (nothing changed) — "
            } else {
                ""
            },
            n(Action::Create),
            n(Action::Update),
            n(Action::Unchanged),
            n(Action::Skip),
            n(Action::Fail)
        );
    }
    let failed = report.failed();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else if failed == report.accounts.len() {
        ExitCode::from(7)
    } else {
        ExitCode::from(6)
    })
}
