//! `acl export` / `acl import`: ACL accounts (AccessKey, SecretKey, admin flag, topic and group permissions) from a
//! cluster or a `plain_acl.yml`, onto a target cluster. Secrets are never printed unless `--show-secrets`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rocketmq_migration::acl::{self, AclFile};
use rocketmq_migration::metadata::Action;
use rocketmq_migration::Cluster;

use crate::files::{file_error, read_text};
use crate::metadata::{action_counts, dry_run_mark, ApplyArgs, ClusterArgs};
use crate::ops::print_json;
use crate::runtime::with_checked_runtime;
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
    apply: ApplyArgs,
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
    let exported = with_checked_runtime(Cluster::Source, &config, true, async |client| {
        acl::export(&config, client).await
    })
    .await?;
    let (mut file, left_out) = match exported {
        Ok(exported) => exported,
        Err(code) => return Ok(code),
    };
    for l in &left_out {
        eprintln!("left out (an account holds topic and group permissions only): {l}");
    }
    match &a.file {
        Some(path) => {
            let text = serde_json::to_string_pretty(&file).expect("serializable");
            write_private(path, &text)
                .map_err(|e| file_error("file", path, "cannot be written", e))?;
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
            print_json(&file);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(a: ImportArgs) -> CliResult {
    let text = read_text("file", &a.apply.file)?;
    let file = AclFile::parse(&text, &a.apply.file.display().to_string())?;
    let config = a.apply.cluster.config();
    config.validate("cluster")?;
    let policy = a.apply.on_conflict.policy();
    let imported = with_checked_runtime(Cluster::Target, &config, true, async |client| {
        acl::import(&file, &config, client, policy, !a.apply.dry_run).await
    })
    .await?;
    let report = match imported {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    if a.output == Output::Json {
        print_json(&report);
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
        let actions: Vec<Action> = report.accounts.iter().map(|r| r.action).collect();
        println!(
            "{}{}",
            dry_run_mark(report.dry_run),
            action_counts(&actions)
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
