//! The sealer: an orderly topic in `cutting_over` is sealed (nothing more is written to the source) once every live
//! producer of it has applied `cutting_over`. Checked every second, on every heartbeat and after every move into
//! `cutting_over` ([`App::wake_sealer`]); each seal is a table change, audited as action `seal`.

use std::sync::Arc;
use std::time::Duration;

use super::worker;
use crate::control::wire::PhasesDoc;
use crate::phase::Phase;
use crate::server::app::App;
use crate::server::moves::gates::Gates;
use crate::server::state::audit::entry;
use crate::server::state::table::Draft;
use crate::topic_state::TopicState;

/// Seal every orderly topic in `cutting_over` whose live producers have all applied `cutting_over` (none is still
/// sending under an earlier state). Not before one client TTL has passed since the server started: the registry is
/// in memory, and producers must have had the time to report again.
pub(crate) async fn seal_ready(app: &App) {
    let waiting = |doc: &PhasesDoc| -> Vec<(String, TopicState)> {
        doc.topics
            .iter()
            .filter(|(_, s)| s.orderly && s.phase == Phase::CuttingOver && !s.sealed)
            .map(|(t, s)| (t.clone(), *s))
            .collect()
    };
    if waiting(&app.state.table()).is_empty() || app.started.elapsed() < app.registry.ttl() {
        return;
    }
    let _one = app.state.changes().await;
    let current = app.state.table();
    let mut draft = Draft::after(&current);
    let gates = Gates::of(app);
    for (topic, state) in waiting(&current) {
        let check = gates.producers_sealed(&topic, &state);
        if !check.passed {
            tracing::debug!(topic, detail = %check.detail, "orderly topic not sealed yet");
            continue;
        }
        draft.put(
            &topic,
            TopicState {
                sealed: true,
                ..state
            },
        );
        tracing::info!(topic, detail = %check.detail, "orderly topic SEALED: nothing more is written to the source");
        let phase = Some(state.phase);
        draft
            .add(entry(
                "control-plane",
                "seal",
                &topic,
                phase,
                phase,
                None,
                draft.version(),
            ))
            .checks = vec![check];
    }
    if draft.is_empty() {
        return;
    }
    if let Err(e) = app.state.commit(draft) {
        tracing::error!(error = ?e.body, "sealing not saved; will retry");
    }
}

/// Check for topics to seal when woken, and every second.
pub(crate) fn spawn(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    worker::spawn(
        app,
        |app| async move { seal_ready(&app).await },
        Duration::from_secs(1),
        Some(app.seal_check.clone()),
    )
}
