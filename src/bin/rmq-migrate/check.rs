//! `check`: the connection check with named causes (the seed's step 1), against one cluster.

use std::process::ExitCode;

use clap::Args;
use rocketmq_migration::connection;
use rocketmq_migration::Cluster;

use crate::metadata::ClusterArgs;
use crate::ops::print_json;
use crate::runtime::with_runtime;
use crate::{CliResult, Output};

#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

pub(crate) async fn run(a: CheckArgs) -> CliResult {
    let config = a.cluster.config();
    config.validate("cluster")?;
    let report =
        with_runtime(async |client| Ok(connection::check(Cluster::Source, &config, client).await))
            .await?;
    if a.output == Output::Json {
        print_json(&report);
    } else {
        println!("{:<13} {:<44} {:<6} DETAIL", "STEP", "TARGET", "OK");
        for p in &report.probes {
            println!(
                "{:<13} {:<44} {:<6} {}",
                p.step,
                p.target,
                if p.ok { "ok" } else { "FAILED" },
                p.detail
            );
        }
        println!("{}", report.summary);
    }
    Ok(match report.cause {
        None => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c.exit_code()),
    })
}
