//! The client runtime a subcommand's cluster calls run on: started for them, shut down after them whatever they
//! gave, and, where the subcommand wants it, the cluster's connection check first.

use std::process::ExitCode;
use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;
use rocketmq_migration::{connection, Cluster, ClusterConfig, MigrationError, MigrationRuntime};

/// What `op` gives on a fresh runtime's client; the runtime is shut down before this returns.
pub(crate) async fn with_runtime<T>(
    op: impl AsyncFnOnce(Arc<ClientRuntime>) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    let runtime = MigrationRuntime::new()?;
    let out = op(runtime.client()).await;
    runtime.shutdown().await;
    out
}

/// Like [`with_runtime`], but first (unless `check` is false) the connection check of `cluster`, the `side`:
/// when it fails, `op` does not run and the answer is `Ok(Err(code))`, the exit code of the check's cause.
pub(crate) async fn with_checked_runtime<T>(
    side: Cluster,
    cluster: &ClusterConfig,
    check: bool,
    op: impl AsyncFnOnce(Arc<ClientRuntime>) -> Result<T, MigrationError>,
) -> Result<Result<T, ExitCode>, MigrationError> {
    with_runtime(async |client| {
        if check {
            let report = connection::check(side, cluster, client.clone()).await;
            if let Some(cause) = report.cause {
                eprintln!(
                    "rmq-migrate: connection check of the {side} ({}) failed: {}",
                    cluster.name_server_addr, report.summary
                );
                return Ok(Err(ExitCode::from(cause.exit_code())));
            }
        }
        op(client).await.map(Ok)
    })
    .await
}
