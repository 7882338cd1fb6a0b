//! `GET /v1/task/endpoints`: per registered topic, its shim clients and the consumers of its groups outside the
//! shim (what the task's `endpoints_switched` condition reads).

use crate::control::wire::{EndpointClient, EndpointsView, TopicEndpoints};
use crate::server::app::App;

/// `GET /v1/task/endpoints`: per registered topic, its shim clients (with their latest heartbeat) and the
/// consumers of its groups outside the shim.
pub(crate) async fn endpoints(app: &App) -> EndpointsView {
    let clients = app.registry.views();
    let gates = app.gates();
    let mut out = Vec::new();
    for topic in app.state.table().topics.keys() {
        let mine: Vec<EndpointClient> = clients
            .iter()
            .filter(|v| v.heartbeat.topics.iter().any(|t| t == topic))
            .map(|v| EndpointClient {
                client_id: v.heartbeat.client_id.clone(),
                application: v.heartbeat.application.clone(),
                role: v.heartbeat.role.as_str().to_owned(),
                group: v.heartbeat.group.clone(),
                live: v.live,
                last_seen_ms: v.last_seen_ms,
            })
            .collect();
        let unmanaged = match gates.foreign_consumers(topic).await {
            Ok((foreign, _)) => foreign,
            Err(e) => vec![e],
        };
        let live = mine.iter().any(|c| c.live);
        out.push(TopicEndpoints {
            topic: topic.clone(),
            switched: live && unmanaged.is_empty(),
            clients: mine,
            unmanaged,
        });
    }
    EndpointsView { topics: out }
}
