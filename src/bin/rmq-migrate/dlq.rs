//! `rmq-migrate dlq list | resend | ack`: the source's dead letters, before a topic leaves the source.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use rocketmq_migration::dlq::{self, ResendOutcome, ResendRequest};

use crate::metadata::ClusterArgs;
use crate::ops::{json, print_json};
use crate::runtime::with_runtime;
use crate::{CliResult, Output, Remote};

/// Exit code of `resend` when some dead letters were not sent.
const SOME_FAILED: u8 = 6;

/// Dead letters of a consumer group (`%DLQ%<group>`).
#[derive(Subcommand)]
pub(crate) enum DlqCommand {
    /// List a group's dead letters on a cluster (nothing is consumed or removed).
    List {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// The consumer group.
        #[arg(long)]
        group: String,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Send a group's dead letters on the source to their original topic on the target, keeping body, tags,
    /// keys, unique key and user properties; each is reported. Exit 6 when some were not sent.
    Resend(ResendArgs),
    /// Tell the control plane the source's dead letters of a topic's groups were reviewed (check
    /// `source_dlq_reviewed` passes until more arrive).
    Ack {
        #[command(flatten)]
        remote: Remote,
        /// The topic.
        topic: String,
    },
}

#[derive(Args)]
pub(crate) struct ResendArgs {
    /// Source name server(s).
    #[arg(long)]
    source_namesrv: String,
    /// Source AccessKey / SecretKey.
    #[arg(long)]
    source_access_key: Option<String>,
    #[arg(long, env = "RMQ_MIGRATE_SOURCE_SECRET_KEY", hide_env_values = true)]
    source_secret_key: Option<String>,
    /// Target name server(s).
    #[arg(long)]
    target_namesrv: String,
    /// Target AccessKey / SecretKey.
    #[arg(long)]
    target_access_key: Option<String>,
    #[arg(long, env = "RMQ_MIGRATE_TARGET_SECRET_KEY", hide_env_values = true)]
    target_secret_key: Option<String>,
    /// The consumer group.
    #[arg(long)]
    group: String,
    /// Only dead letters first sent to this topic (and the destination of those whose topic is unknown).
    #[arg(long)]
    topic: Option<String>,
    /// Start at this offset of each dead-letter queue (default: its first).
    #[arg(long)]
    from_offset: Option<i64>,
    /// At most this many.
    #[arg(long, default_value_t = ResendRequest::DEFAULT_LIMIT)]
    limit: usize,
    /// Report what would be sent; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

pub(crate) async fn run(cmd: DlqCommand) -> CliResult {
    match cmd {
        DlqCommand::List {
            cluster,
            group,
            limit,
            output,
        } => {
            let letters = with_runtime(async |client| {
                dlq::list(&cluster.config(), client, &group, limit).await
            })
            .await?;
            if output == Output::Json {
                return json(&letters);
            }
            println!(
                "{:<24} {:>8} {:<32} {:<34} {:<20} {:>9}",
                "BROKER", "OFFSET", "TOPIC", "UNIQ_KEY", "KEYS", "DELIVERED"
            );
            for l in &letters {
                println!(
                    "{:<24} {:>8} {:<32} {:<34} {:<20} {:>9}",
                    l.broker,
                    l.offset,
                    l.topic.as_deref().unwrap_or("?"),
                    l.uniq_key.as_deref().unwrap_or("-"),
                    l.keys.as_deref().unwrap_or("-"),
                    l.reconsume_times
                );
            }
            println!(
                "{} dead letter(s) of group {group} on {}",
                letters.len(),
                cluster.namesrv
            );
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Resend(a) => resend(a).await,
        DlqCommand::Ack { remote, topic } => {
            let r = crate::ops::api(&remote)?
                .review_dead_letters(&topic)
                .await?;
            if remote.output == Output::Json {
                return json(&r);
            }
            println!(
                "{topic}: {} dead letter(s) on the source acknowledged as reviewed",
                r.reviewed
            );
            for g in &r.groups {
                println!("  %DLQ%{}: {}", g.group, g.source.unwrap_or(0));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl ResendArgs {
    fn request(&self) -> ResendRequest {
        let mut req = ResendRequest::new(&self.group)
            .limit(self.limit)
            .dry_run(self.dry_run);
        req.topic = self.topic.clone();
        req.from_offset = self.from_offset;
        req
    }
}

async fn resend(a: ResendArgs) -> CliResult {
    let source = crate::metadata::cluster(
        &a.source_namesrv,
        &a.source_access_key,
        &a.source_secret_key,
    );
    let target = crate::metadata::cluster(
        &a.target_namesrv,
        &a.target_access_key,
        &a.target_secret_key,
    );
    let out =
        with_runtime(async |client| dlq::resend(&source, &target, client, &a.request()).await)
            .await?;
    let failed = out
        .iter()
        .filter(|r| !matches!(r.outcome, ResendOutcome::Sent(_) | ResendOutcome::WouldSend))
        .count();
    if a.output == Output::Json {
        print_json(&out);
    } else {
        for r in &out {
            let what = match &r.outcome {
                ResendOutcome::Sent(id) => format!("sent as {id}"),
                ResendOutcome::WouldSend => "would send (dry run)".to_owned(),
                ResendOutcome::Skipped(why) => format!("skipped: {why}"),
                ResendOutcome::Failed(why) => format!("FAILED: {why}"),
            };
            println!(
                "{} offset {:>8} {} -> {}: {what}",
                r.letter.broker,
                r.letter.offset,
                r.letter.uniq_key.as_deref().unwrap_or("-"),
                r.to_topic.as_deref().unwrap_or("?"),
            );
        }
        let last = out.iter().map(|r| r.letter.offset).max();
        println!(
            "{} dead letter(s) of group {}: {} {}, {failed} not sent{}",
            out.len(),
            a.group,
            out.len() - failed,
            if a.dry_run { "would be sent" } else { "sent" },
            last.map_or(String::new(), |o| format!(
                " (last offset {o}; --from-offset {} continues after it)",
                o + 1
            ))
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(SOME_FAILED)
    })
}
