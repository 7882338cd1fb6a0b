//! Table changes other than phase moves: registering and deleting topics, a topic's write ratio and orderly flag,
//! and the acknowledgement of the source's dead letters. Each is one table version, persisted, published and
//! audited (see [`crate::server::state::table`]).

use crate::cluster::Cluster;
use crate::control::wire::{CheckResult, DlqReviewResult, GroupDeadLetters};
use crate::phase::Phase;
use crate::server::app::App;
use crate::server::error::ApiError;
use crate::server::limits;
use crate::server::state::audit::entry;
use crate::server::state::table::Draft;
use crate::topic_state::{validate_ratio, TopicState, DEFAULT_WRITE_RATIO};

use super::gates::Gates;
use super::plan::{self, refused_in, state_of};

/// `ratio` is a write ratio (0 to 1), or `400 invalid_request`.
fn ratio_ok(ratio: f64) -> Result<(), ApiError> {
    validate_ratio(ratio).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Register `topics` (all or nothing). Topics already registered are left as they are.
pub(crate) async fn register(
    app: &App,
    topics: &[String],
    ratio: Option<f64>,
    orderly: bool,
    actor: &str,
) -> Result<Vec<(String, TopicState, bool)>, ApiError> {
    if topics.is_empty() {
        return Err(ApiError::bad_request(
            "field \"topics\" must name at least one topic",
        ));
    }
    for t in topics {
        limits::topic_name("field \"topics\"", t).map_err(ApiError::invalid)?;
    }
    let ratio = ratio.unwrap_or(DEFAULT_WRITE_RATIO);
    ratio_ok(ratio)?;
    let _one = app.state.changes().await;
    let current = app.state.table();
    let mut draft = Draft::after(&current);
    let mut out = Vec::new();
    for t in topics {
        if let Some(s) = current.topics.get(t) {
            out.push((t.clone(), *s, false));
            continue;
        }
        let state = draft.put(
            t,
            TopicState {
                phase: Phase::Initial,
                write_ratio: ratio,
                version: 0,
                orderly,
                sealed: false,
            },
        );
        out.push((t.clone(), state, true));
        let line = draft.add(entry(
            actor,
            "register",
            t,
            None,
            Some(Phase::Initial),
            Some(ratio),
            draft.version(),
        ));
        line.orderly = orderly.then_some(true);
    }
    if draft.is_empty() {
        return Ok(out);
    }
    app.state.commit(draft)?;
    Ok(out)
}

/// Stop migrating `topic`; only while it is `Initial`.
pub(crate) async fn delete(app: &App, topic: &str, actor: &str) -> Result<(), ApiError> {
    let _one = app.state.changes().await;
    let current = app.state.table();
    let state = state_of(&current, topic)?;
    if state.phase != Phase::Initial {
        return Err(refused_in(
            "not_initial",
            topic,
            state.phase,
            "; roll it back to initial before deleting it",
        ));
    }
    let mut draft = Draft::after(&current);
    draft.next.topics.remove(topic);
    draft.next.dlq_reviewed.remove(topic);
    draft.add(entry(
        actor,
        "delete",
        topic,
        Some(Phase::Initial),
        None,
        None,
        draft.version(),
    ));
    app.state.commit(draft)
}

/// Set `topic`'s write ratio.
pub(crate) async fn set_ratio(
    app: &App,
    topic: &str,
    ratio: f64,
    actor: &str,
) -> Result<TopicState, ApiError> {
    ratio_ok(ratio)?;
    let (_one, current) = plan::begin(&app.state).await?;
    let state = state_of(&current, topic)?;
    let mut draft = Draft::after(&current);
    let new_state = draft.put(
        topic,
        TopicState {
            write_ratio: ratio,
            ..state
        },
    );
    let phase = Some(state.phase);
    draft.add(entry(
        actor,
        "write_ratio",
        topic,
        phase,
        phase,
        Some(ratio),
        draft.version(),
    ));
    app.state.commit(draft)?;
    Ok(new_state)
}

/// Mark `topic` orderly or not; only in `initial` or `dual_read` (before any message of it is written to the
/// target, so no key has moved yet).
pub(crate) async fn set_orderly(
    app: &App,
    topic: &str,
    orderly: bool,
    actor: &str,
) -> Result<TopicState, ApiError> {
    let _one = app.state.changes().await;
    let current = app.state.table();
    let state = state_of(&current, topic)?;
    if state.orderly == orderly {
        return Ok(state);
    }
    if !matches!(state.phase, Phase::Initial | Phase::DualRead) {
        return Err(refused_in(
            "orderly_locked",
            topic,
            state.phase,
            ": the orderly flag can change only in initial or dual_read, before any message of the topic is \
             written to the target",
        ));
    }
    let mut draft = Draft::after(&current);
    let new_state = draft.put(topic, TopicState { orderly, ..state });
    let phase = Some(state.phase);
    draft
        .add(entry(
            actor,
            "orderly",
            topic,
            phase,
            phase,
            None,
            draft.version(),
        ))
        .orderly = Some(orderly);
    app.state.commit(draft)?;
    tracing::info!(topic, orderly, actor, "orderly flag set");
    Ok(new_state)
}

/// Record that an operator reviewed the source's dead letters of `topic`'s groups: the count found now is
/// acknowledged (check `source_dlq_reviewed` passes until more arrive). Audited as action `dlq_reviewed`.
pub(crate) async fn review_dead_letters(
    app: &App,
    topic: &str,
    actor: &str,
) -> Result<DlqReviewResult, ApiError> {
    let _one = app.state.changes().await;
    let current = app.state.table();
    let state = state_of(&current, topic)?;
    let found = Gates::of(app)
        .dead_letters(topic, Cluster::Source)
        .await
        .map_err(|e| {
            ApiError::unavailable(format!(
                "could not count the source's dead letters of {topic:?}: {e}"
            ))
        })?;
    let reviewed: u64 = found.iter().map(|(_, n)| n).sum();
    let mut draft = Draft::after(&current);
    draft.next.dlq_reviewed.insert(topic.to_owned(), reviewed);
    let phase = Some(state.phase);
    draft
        .add(entry(
            actor,
            "dlq_reviewed",
            topic,
            phase,
            phase,
            None,
            draft.version(),
        ))
        .checks = vec![CheckResult {
        code: "source_dlq_reviewed".into(),
        passed: true,
        detail: format!(
            "{reviewed} dead letter(s) on the source acknowledged: {}",
            found
                .iter()
                .map(|(g, n)| format!("%DLQ%{g}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }];
    app.state.commit(draft)?;
    tracing::info!(topic, reviewed, actor, "source dead letters acknowledged");
    Ok(DlqReviewResult {
        topic: topic.to_owned(),
        reviewed,
        groups: found
            .into_iter()
            .map(|(group, n)| GroupDeadLetters {
                group,
                source: Some(n),
                target: None,
            })
            .collect(),
    })
}
