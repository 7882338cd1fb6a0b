//! Phase moves: one topic one step (`POST /v1/topics/{topic}/advance` and `/rollback`), or several topics in one
//! table version (`POST /v1/topics:advance` and `:rollback`), each behind its readiness checks (or `force`).

use std::collections::HashSet;

use super::plan::{self, PlannedMove};
use crate::control::wire::{
    BatchItemResult, BatchMode, BatchMoveRequest, BatchMoveResult, Direction, MoveRequest,
    MoveResult, PhasesDoc,
};
use crate::phase::Phase;
use crate::server::app::App;
use crate::server::error::ApiError;
use crate::server::limits::MAX_BATCH_TOPICS;
use crate::server::state::table::Draft;

/// Move `topic` one step in `dir`, if it is in `req.expected` and the readiness checks pass (or `force`).
pub(crate) async fn move_topic(
    app: &App,
    topic: &str,
    dir: Direction,
    req: &MoveRequest,
    actor: &str,
) -> Result<MoveResult, ApiError> {
    let (_one, current) = plan::begin(&app.state).await?;
    let p = plan::plan(app, &current, topic, dir, req.expected).await?;
    if !p.ready() && !req.force {
        return Err(plan::refuse(&app.state, &current, &p, actor));
    }
    let mut draft = Draft::after(&current);
    let result = plan::apply(&mut draft, &p, actor);
    app.state.commit(draft)?;
    after_move(app, &result);
    Ok(result)
}

/// Move several topics one step in one table version: the topics listed, or those `select` picks, each checked
/// against its expected phase. `each`: every topic whose checks pass (or all with `force`) moves, the others are
/// refused with their checks; `all_or_nothing`: nothing moves unless every topic can.
pub(crate) async fn move_batch(
    app: &App,
    dir: Direction,
    req: &BatchMoveRequest,
    actor: &str,
) -> Result<BatchMoveResult, ApiError> {
    let (_one, current) = plan::begin(&app.state).await?;
    let items = batch_items(app, &current, dir, req)?;
    let mut planned = Vec::new();
    let mut results = Vec::new();
    for (topic, expected) in &items {
        match plan::plan(app, &current, topic, dir, *expected).await {
            Ok(p) => planned.push(p),
            Err(e) => results.push(refused(topic.clone(), e)),
        }
    }
    let blocked = !results.is_empty() || planned.iter().any(|p| !p.ready() && !req.force);
    let mut draft = Draft::after(&current);
    let mut moved = Vec::new();
    for p in &planned {
        let go = (p.ready() || req.force) && !(req.mode == BatchMode::AllOrNothing && blocked);
        if go {
            moved.push(plan::apply(&mut draft, p, actor));
        } else {
            results.push(refused(
                p.topic.clone(),
                batch_refusal(app, &current, p, req, actor),
            ));
        }
    }
    if !moved.is_empty() {
        app.state.commit(draft)?;
        for r in &moved {
            after_move(app, r);
        }
    }
    results.extend(moved.into_iter().map(|r| BatchItemResult {
        topic: r.topic.clone(),
        moved: Some(r),
        refused: None,
    }));
    results.sort_by(|a, b| a.topic.cmp(&b.topic));
    let applied = results.iter().filter(|r| r.moved.is_some()).count();
    tracing::info!(direction = ?dir, mode = ?req.mode, topics = results.len(), moved = applied, actor, "batch move");
    Ok(BatchMoveResult {
        mode: req.mode,
        moved: applied,
        refused: results.len() - applied,
        results,
    })
}

/// A topic of a batch that does not move, and why.
fn refused(topic: String, e: ApiError) -> BatchItemResult {
    BatchItemResult {
        topic,
        moved: None,
        refused: Some(e.body),
    }
}

/// The refusal of a planned move of a batch (audited): its failing checks, or, for a topic that could move, that
/// another topic of the `all_or_nothing` batch cannot.
fn batch_refusal(
    app: &App,
    current: &PhasesDoc,
    p: &PlannedMove,
    req: &BatchMoveRequest,
    actor: &str,
) -> ApiError {
    let mut e = plan::refuse(&app.state, current, p, actor);
    if p.ready() || req.force {
        e.body.error = "batch_not_applied".into();
        e.body.message = format!(
            "topic {:?} could move {} -> {}, but another topic of the all_or_nothing batch cannot",
            p.topic, p.state.phase, p.to
        );
    }
    e
}

/// What follows a committed move: an orderly topic entering `cutting_over` may be sealed at once.
fn after_move(app: &App, r: &MoveResult) {
    if r.state.orderly && r.to == Phase::CuttingOver {
        app.wake_sealer();
    }
}

/// The `(topic, expected phase)` pairs of a batch: the listed ones, or those the selector picks (from the current
/// table, and for `ready` from the last readiness scan).
fn batch_items(
    app: &App,
    current: &PhasesDoc,
    dir: Direction,
    req: &BatchMoveRequest,
) -> Result<Vec<(String, Phase)>, ApiError> {
    match (req.topics.is_empty(), &req.select) {
        (false, Some(_)) => Err(ApiError::bad_request(
            "give either topics or select, not both",
        )),
        (true, None) => Err(ApiError::bad_request(
            "topics: give at least one topic (or a select)",
        )),
        (false, None) => {
            if req.topics.len() > MAX_BATCH_TOPICS {
                return Err(ApiError::bad_request(format!(
                    "topics: {} topics, at most {MAX_BATCH_TOPICS} per batch",
                    req.topics.len()
                )));
            }
            let mut seen = HashSet::new();
            for t in &req.topics {
                if !seen.insert(t.topic.as_str()) {
                    return Err(ApiError::bad_request(format!(
                        "topics: {:?} is listed twice",
                        t.topic
                    )));
                }
            }
            Ok(req
                .topics
                .iter()
                .map(|t| (t.topic.clone(), t.expected))
                .collect())
        }
        (true, Some(sel)) => Ok(current
            .topics
            .iter()
            .filter(|(_, s)| sel.phase.is_none_or(|p| s.phase == p))
            .filter(|(t, s)| {
                !sel.ready
                    || app.readiness.get(t, s).is_some_and(|scan| {
                        let checks = match dir {
                            Direction::Advance => &scan.advance,
                            Direction::Rollback => &scan.rollback,
                        };
                        !checks.is_empty() && checks.iter().all(|c| c.passed)
                    })
            })
            .map(|(t, s)| (t.clone(), s.phase))
            .collect()),
    }
}
