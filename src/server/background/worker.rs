//! The loop a background task runs: work on the app, pause (for a while, or until woken), and again, until the app
//! is dropped (the app is held while working, never while pausing).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::server::app::App;

/// Spawn the loop: `work` on the app, then pause for `every` (or until `wake` is notified), until the app is gone.
pub(crate) fn spawn<W>(
    app: &Arc<App>,
    work: impl Fn(Arc<App>) -> W + Send + 'static,
    every: Duration,
    wake: Option<Arc<Notify>>,
) -> JoinHandle<()>
where
    W: Future<Output = ()> + Send,
{
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            let Some(app) = weak.upgrade() else { return };
            work(app).await;
            match &wake {
                None => tokio::time::sleep(every).await,
                Some(wake) => {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = wake.notified() => {}
                    }
                }
            }
        }
    })
}
