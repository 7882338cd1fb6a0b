//! `GET /healthz`: the control plane answers; with the table's version and size, the divergence, the last readiness
//! scan's duration, each cluster's connection check made at start, and the task.

use super::task::task_summary;
use crate::server::app::App;

/// The health document; `clusters` carries the connection check of each cluster made at start (absent until it
/// has run), with its cause when a cluster cannot be used.
pub(crate) fn health(app: &App) -> serde_json::Value {
    let t = app.state.table();
    let clusters: serde_json::Map<String, serde_json::Value> = app
        .connections
        .lock()
        .iter()
        .map(|(side, r)| {
            (
                side.to_string(),
                serde_json::to_value(r).unwrap_or_default(),
            )
        })
        .collect();
    let diverged = app.state.diverged();
    serde_json::json!({
        "status": if diverged.is_some() { "diverged" } else { "ok" },
        "diverged": diverged,
        "version": t.version,
        "topics": t.topics.len(),
        "readiness_scan_ms": app.readiness.last_round().as_millis() as u64,
        "clusters": clusters,
        "task": task_summary(app),
    })
}
