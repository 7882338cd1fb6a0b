//! The loop a background task runs: work on the app, pause, and again, until the app is dropped (the app is held
//! while working, never while pausing).

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::server::app::App;

/// Spawn the loop: `work` on the app, then `pause`, until the app is gone.
pub(crate) fn spawn<W, P>(
    app: &Arc<App>,
    work: impl Fn(Arc<App>) -> W + Send + 'static,
    pause: impl Fn() -> P + Send + 'static,
) -> JoinHandle<()>
where
    W: Future<Output = ()> + Send,
    P: Future<Output = ()> + Send,
{
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            let Some(app) = weak.upgrade() else { return };
            work(app).await;
            pause().await;
        }
    })
}
