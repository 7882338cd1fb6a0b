//! `POST /v1/adopt`: resolve a divergence (see [`crate::server::state::divergence`]) by publishing a table above
//! every version a live client reported.
//!
//! * **adopt** takes the clients' newest state: per topic, the state with the newest version over the tables the
//!   clients ahead sent, where it is newer than the control plane's; the control plane's other topics stay.
//! * **force** keeps the control plane's own table and gives every topic the new version, so clients apply it
//!   (a topic moved back by more than one step is logged by the clients as a PHASE SKIP). Topics only the clients
//!   hold, past `initial` there, are published as `initial` (clients never drop a topic from their table).
//!
//! Either way the new table version is one above the newest version the control plane or any client knows, every
//! changed topic is audited (`adopt` or `adopt_force`), and the divergence starts over.

use crate::control::wire::{AdoptRequest, AdoptResult, AdoptedTopic};
use crate::phase::Phase;
use crate::server::error::ApiError;
use crate::server::state::audit::entry;
use crate::server::state::table::{Draft, State};
use crate::topic_state::{TopicState, DEFAULT_WRITE_RATIO};

/// Resolve the divergence as `req` asks; refused with `not_diverged` when no live client is ahead, and (adopt)
/// with `no_client_table` while no client ahead has sent its table yet.
pub(crate) async fn adopt(
    state: &State,
    req: &AdoptRequest,
    actor: &str,
) -> Result<AdoptResult, ApiError> {
    let _one = state.changes().await;
    let current = state.table();
    let Some(view) = state.diverged() else {
        return Err(ApiError::conflict(
            "not_diverged",
            format!(
                "no live client holds a newer table than this control plane (version {}): nothing to adopt",
                current.version
            ),
        ));
    };
    let (reported, newest) = state.divergence().reported(state.client_ttl());
    if !req.force && reported.topics.is_empty() && reported.version == 0 {
        return Err(ApiError::conflict(
            "no_client_table",
            format!(
                "{} client(s) are ahead but none has sent its table yet (they do after their next heartbeat): try \
                 again in a few seconds, or use --force to publish this control plane's own table",
                view.clients_ahead
            ),
        ));
    }
    let version = current.version.max(newest).max(view.newest_client_version) + 1;
    let mut draft = Draft::after(&current);
    draft.next.version = version;
    let next = &mut draft.next;
    let mut changed = Vec::new();
    if req.force {
        for s in next.topics.values_mut() {
            s.version = version;
        }
        // What the clients hold, per topic: their tables, else what their heartbeats said.
        let mut held: std::collections::BTreeMap<&str, (Phase, Option<TopicState>)> = view
            .topics
            .iter()
            .map(|t| (t.topic.as_str(), (t.client.phase, None)))
            .collect();
        for (t, s) in &reported.topics {
            held.insert(t, (s.phase, Some(*s)));
        }
        for (topic, (phase, state)) in held {
            match next.topics.get(topic) {
                Some(ours) if ours.phase != phase => changed.push(AdoptedTopic {
                    topic: topic.to_owned(),
                    from: Some(phase),
                    to: ours.phase,
                    version,
                }),
                Some(_) => {}
                None if phase != Phase::Initial => {
                    next.topics.insert(
                        topic.to_owned(),
                        TopicState {
                            phase: Phase::Initial,
                            write_ratio: state.map_or(DEFAULT_WRITE_RATIO, |s| s.write_ratio),
                            version,
                            orderly: state.is_some_and(|s| s.orderly),
                            sealed: false,
                        },
                    );
                    changed.push(AdoptedTopic {
                        topic: topic.to_owned(),
                        from: Some(phase),
                        to: Phase::Initial,
                        version,
                    });
                }
                None => {}
            }
        }
    } else {
        for (topic, s) in &reported.topics {
            let ours = current.topics.get(topic);
            if ours.is_some_and(|o| o.version >= s.version) {
                continue;
            }
            next.topics.insert(topic.clone(), *s);
            changed.push(AdoptedTopic {
                topic: topic.clone(),
                from: ours.map(|o| o.phase),
                to: s.phase,
                version: s.version,
            });
        }
        for (topic, n) in &reported.dlq_reviewed {
            let e = next.dlq_reviewed.entry(topic.clone()).or_default();
            *e = (*e).max(*n);
        }
    }
    let action = if req.force { "adopt_force" } else { "adopt" };
    for c in &changed {
        draft
            .add(entry(
                actor,
                action,
                &c.topic,
                c.from,
                Some(c.to),
                None,
                draft.version(),
            ))
            .forced = req.force;
    }
    let summary = draft.add(entry(actor, action, "", None, None, None, draft.version()));
    summary.forced = req.force;
    summary.detail = Some(format!(
        "{} live client(s) held table version {} (topics up to version {newest}) while this control plane held {}; {} \
         at version {version}, {} topic(s) changed",
        view.clients_ahead,
        view.newest_client_version,
        current.version,
        if req.force {
            "published this control plane's own table"
        } else {
            "adopted the clients' newest table"
        },
        changed.len()
    ));
    state.commit_anyway(draft)?;
    state.divergence().clear();
    tracing::warn!(
        actor,
        force = req.force,
        from_version = current.version,
        version,
        changed = changed.len(),
        "divergence resolved: clients will apply table version {version}"
    );
    Ok(AdoptResult {
        force: req.force,
        from_version: current.version,
        version,
        changed,
    })
}
