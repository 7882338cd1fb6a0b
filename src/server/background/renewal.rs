//! The task's claim on the target (see [`crate::server::claim`]) kept while the task runs: taken (or renewed) at
//! start, then renewed every [`claim::RENEW_EVERY`].

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::control::wire::{TaskDoc, TaskStep};
use crate::error::MigrationError;
use crate::server::app::App;
use crate::server::claim::{self, Claim, ClaimError};

/// The running task (one not completed), and the outcome of taking or renewing its claim on the target now.
async fn claim_running(app: &App) -> Option<(TaskDoc, Result<(), ClaimError>)> {
    let task = app.state.task().filter(|t| t.step != TaskStep::Completed)?;
    let mine = Claim::now(&task.id, &task.name, &app.name.lock());
    let claimed = claim::acquire(&app.admin[Cluster::Target.index()], &mine).await;
    Some((task, claimed))
}

/// At start: with a task that is not completed, take (or renew) its claim on the target. Refused when another
/// live task claims the target; an unreachable target is logged and the claim is taken by the renewal loop.
pub(crate) async fn claim_at_start(app: &App) -> Result<(), MigrationError> {
    match claim_running(app).await {
        None | Some((_, Ok(()))) => Ok(()),
        Some((task, Err(ClaimError::Held(other)))) => Err(MigrationError::new(
            crate::ToolErrorKind::Server,
            None,
            format!(
                "task {:?}: the target is claimed by {other}; one migration task per target (stop that control \
                 plane, or wait {} s after it stopped)",
                task.name,
                claim::CLAIM_TTL.as_secs()
            ),
        )),
        Some((task, Err(ClaimError::Unavailable(e)))) => {
            tracing::warn!(task = %task.name, error = %e, "could not claim the target at start; will retry");
            Ok(())
        }
    }
}

/// Renew the task's claim every [`claim::RENEW_EVERY`] while the task runs.
pub(crate) fn spawn(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(claim::RENEW_EVERY).await;
            let Some(app) = weak.upgrade() else { return };
            match claim_running(&app).await {
                None | Some((_, Ok(()))) => {}
                Some((task, Err(ClaimError::Held(other)))) => {
                    tracing::error!(task = %task.name, other = %other, "ANOTHER TASK CLAIMS THE TARGET: two control planes migrate to one target")
                }
                Some((task, Err(ClaimError::Unavailable(e)))) => {
                    tracing::warn!(task = %task.name, error = %e, "could not renew the task claim on the target")
                }
            }
        }
    })
}
