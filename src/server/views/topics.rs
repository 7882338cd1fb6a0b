//! `GET /v1/topics` and `POST /v1/topics/{topic}/health-check`: each topic's state, its checks (from the last
//! background scan, or run now), its live clients, its traffic on each cluster and its names there.

use crate::cluster::Cluster;
use crate::control::wire::{ClientView, ClusterNames, ClusterTraffic, Role, TopicView};
use crate::server::app::App;
use crate::server::background::scanner;
use crate::server::error::ApiError;
use crate::server::readiness::Scanned;
use crate::server::state::audit::rfc3339;

use super::task::task_summary;

/// `GET /v1/topics`: every topic, its checks as of the last scan (or scanned now when its state moved since).
pub(crate) async fn list(app: &App) -> serde_json::Value {
    let table = app.state.table();
    let clients = app.registry.views();
    let mut out = Vec::with_capacity(table.topics.len());
    for (topic, state) in &table.topics {
        let scanned = scanner::current(app, topic, *state).await;
        out.push(topic_view(app, topic, &clients, scanned));
    }
    serde_json::json!({
        "version": table.version,
        "topics": out,
        "task": task_summary(app),
        "diverged": app.state.diverged(),
    })
}

/// `POST /v1/topics/{topic}/health-check`: run the topic's checks now (not from the last scan).
pub(crate) async fn health_check(app: &App, topic: &str) -> Result<TopicView, ApiError> {
    let table = app.state.table();
    let Some(state) = table.topics.get(topic) else {
        return Err(ApiError::unknown_topic(topic));
    };
    let scanned = scanner::scan(app, topic, *state).await;
    let clients = app.registry.views();
    Ok(topic_view(app, topic, &clients, scanned))
}

/// One topic as `GET /v1/topics` shows it: state, checks as of `scanned`, live clients, traffic, names.
fn topic_view(app: &App, topic: &str, clients: &[ClientView], scanned: Scanned) -> TopicView {
    let mine: Vec<_> = clients
        .iter()
        .filter(|v| v.live && v.heartbeat.topics.iter().any(|t| t == topic))
        .collect();
    let traffic = |c: Cluster| {
        let o = app.traffic.get(topic, c);
        // This topic's counters only (a client's totals cover all its topics); a client too old to report them
        // counts for none.
        let counters = |v: &&ClientView| {
            let t = v
                .heartbeat
                .per_topic
                .get(topic)
                .copied()
                .unwrap_or_default();
            match c {
                Cluster::Source => t.source,
                Cluster::Target => t.target,
            }
        };
        ClusterTraffic {
            stored: o.and_then(|o| o.stored),
            last_write_ms: o
                .filter(|o| o.changed > o.since)
                .map(|o| o.changed.elapsed().as_millis() as u64),
            sent_by_clients: mine
                .iter()
                .filter(|v| v.heartbeat.role == Role::Producer)
                .map(|v| counters(v).sent)
                .sum(),
            received_by_clients: mine
                .iter()
                .filter(|v| v.heartbeat.role == Role::Consumer)
                .map(|v| counters(v).received)
                .sum(),
        }
    };
    TopicView {
        topic: topic.to_owned(),
        state: scanned.state,
        advance: scanned.advance,
        rollback: scanned.rollback,
        clients: mine.iter().map(|v| v.heartbeat.client_id.clone()).collect(),
        source: traffic(Cluster::Source),
        target: traffic(Cluster::Target),
        dead_letters: scanned.dead_letters,
        names: ClusterNames {
            source: app.admin[Cluster::Source.index()].full(topic),
            target: app.admin[Cluster::Target.index()].full(topic),
        },
        checked_at: Some(rfc3339(scanned.at)),
    }
}
