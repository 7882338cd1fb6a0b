//! One phase move checked before it is made: whether moves are allowed now, the expected phase and the step, the
//! readiness checks ([`super::gates`]); then either the refusal (audited, with the failing checks) or the move put
//! into a table [`Draft`].

use std::sync::Arc;

use tokio::sync::MutexGuard;

use super::gates::Gates;
use crate::control::wire::{AuditEntry, CheckResult, Direction, MoveResult, PhasesDoc, TaskStep};
use crate::phase::Phase;
use crate::server::app::App;
use crate::server::error::ApiError;
use crate::server::state::audit::entry;
use crate::server::state::table::{Draft, State};
use crate::topic_state::TopicState;

/// A move checked but not made yet.
pub(crate) struct PlannedMove {
    pub(super) topic: String,
    dir: Direction,
    pub(super) state: TopicState,
    pub(super) to: Phase,
    checks: Vec<CheckResult>,
}

impl PlannedMove {
    fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.code.as_str())
            .collect()
    }

    /// Every check passed.
    pub(crate) fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    fn action(&self) -> &'static str {
        match self.dir {
            Direction::Advance => "advance",
            Direction::Rollback => "rollback",
        }
    }

    /// The audit entry of this move (made or refused) at table `version`, with its checks.
    fn entry(&self, actor: &str, version: u64) -> AuditEntry {
        let mut e = entry(
            actor,
            self.action(),
            &self.topic,
            Some(self.state.phase),
            Some(self.to),
            None,
            version,
        );
        e.checks = self.checks.clone();
        e
    }
}

/// `topic`'s state in `table`, or `unknown_topic`.
pub(crate) fn state_of(table: &PhasesDoc, topic: &str) -> Result<TopicState, ApiError> {
    table
        .topics
        .get(topic)
        .copied()
        .ok_or_else(|| ApiError::unknown_topic(topic))
}

/// `409 code` naming the topic's current phase: `topic` is in `phase`, and `why` (which follows the phase in the
/// message) it cannot change so.
pub(crate) fn refused_in(code: &str, topic: &str, phase: Phase, why: &str) -> ApiError {
    ApiError::conflict(code, format!("topic {topic:?} is {phase}{why}")).at(phase)
}

/// Take the change lock for a phase move or a write-ratio change, if moves are allowed now
/// ([`moves_allowed`]); the lock and the current table.
pub(crate) async fn begin(state: &State) -> Result<(MutexGuard<'_, ()>, Arc<PhasesDoc>), ApiError> {
    let one = state.changes().await;
    moves_allowed(state)?;
    Ok((one, state.table()))
}

/// Phase moves and write-ratio changes are refused while clients hold a newer table, while the task is paused,
/// and outside its `grayscale` step (with no task, they are otherwise always allowed).
fn moves_allowed(state: &State) -> Result<(), ApiError> {
    state.not_diverged()?;
    let Some(task) = state.task() else {
        return Ok(());
    };
    if let Some(p) = &task.paused {
        return Err(ApiError::conflict(
            "paused",
            format!(
                "task {:?} is paused (by {} at {}{}): no phase move or write-ratio change until it is resumed",
                task.name,
                p.by,
                p.at,
                p.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
            ),
        ));
    }
    if task.step != TaskStep::Grayscale {
        return Err(ApiError::conflict(
            "task_step",
            format!(
                "task {:?} is in step {}: topics move only in step grayscale",
                task.name, task.step
            ),
        ));
    }
    Ok(())
}

/// Check one move of `topic` against `current` without changing anything.
pub(crate) async fn plan(
    app: &App,
    current: &PhasesDoc,
    topic: &str,
    dir: Direction,
    expected: Phase,
) -> Result<PlannedMove, ApiError> {
    let state = state_of(current, topic)?;
    if state.phase != expected {
        return Err(refused_in(
            "phase_mismatch",
            topic,
            state.phase,
            &format!(", not the expected {expected}"),
        ));
    }
    let to = match dir {
        Direction::Advance => state.phase.next(),
        Direction::Rollback => state.phase.previous(),
    };
    let Some(to) = to else {
        let way = match dir {
            Direction::Advance => "forward",
            Direction::Rollback => "back",
        };
        return Err(refused_in(
            "no_step",
            topic,
            state.phase,
            &format!(": there is no step {way} from it"),
        ));
    };
    let checks = Gates::of(app).run(topic, state.phase, to).await;
    Ok(PlannedMove {
        topic: topic.to_owned(),
        dir,
        state,
        to,
        checks,
    })
}

/// Audit a refused move (at the `current` table's version) and the error that says why.
pub(crate) fn refuse(state: &State, current: &PhasesDoc, p: &PlannedMove, actor: &str) -> ApiError {
    let failing = p.failing();
    tracing::warn!(topic = %p.topic, from = %p.state.phase, to = %p.to, actor, failing = ?failing, "phase move refused: readiness checks failed");
    let mut entry = p.entry(actor, current.version);
    entry.outcome = "refused".into();
    state.journal().append(entry);
    let mut e = ApiError::conflict(
        "not_ready",
        format!(
            "topic {:?} cannot move {} -> {}: failing checks {}",
            p.topic,
            p.state.phase,
            p.to,
            failing.join(", ")
        ),
    )
    .at(p.state.phase);
    e.body.checks = p.checks.clone();
    e
}

/// Put a planned move into `draft`; the result (its audit entry is in the draft).
pub(crate) fn apply(draft: &mut Draft, p: &PlannedMove, actor: &str) -> MoveResult {
    let forced = !p.ready();
    let new_state = draft.put(
        &p.topic,
        TopicState {
            phase: p.to,
            sealed: false,
            ..p.state
        },
    );
    let mut entry = p.entry(actor, draft.version());
    entry.forced = forced;
    draft.add(entry);
    if forced {
        tracing::warn!(topic = %p.topic, from = %p.state.phase, to = %p.to, actor, failing = ?p.failing(), "phase moved by FORCE despite failing checks");
    } else {
        tracing::info!(topic = %p.topic, from = %p.state.phase, to = %p.to, actor, version = new_state.version, "phase moved");
    }
    MoveResult {
        topic: p.topic.clone(),
        from: p.state.phase,
        to: p.to,
        state: new_state,
        forced,
        checks: p.checks.clone(),
    }
}
