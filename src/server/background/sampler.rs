//! The traffic sampler: every registered topic's stored count on both clusters, read every `sample_every` into
//! [`crate::server::traffic`] (what the quiet-window check and `GET /v1/topics` read).

use std::sync::Arc;

use super::worker;
use crate::cluster::Cluster;
use crate::server::app::App;

/// Sample every registered topic's stored count on both clusters, every `sample_every`.
pub(crate) fn spawn(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let every = app.sample_every;
    worker::spawn(
        app,
        |app| async move {
            let topics: Vec<String> = app.state.table().topics.keys().cloned().collect();
            for topic in &topics {
                for c in Cluster::BOTH {
                    if let Err(e) = app.traffic.sample(&app.admin[c.index()], topic, c).await {
                        tracing::debug!(topic, cluster = %c, error = %e, "traffic sample failed");
                    }
                }
            }
        },
        every,
        None,
    )
}
