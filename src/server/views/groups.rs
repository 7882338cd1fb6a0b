//! The group comparison (`GET /v1/groups`): every consumer group of either cluster, whether it exists on each,
//! who is connected to it (shim clients and clients outside the shim), the topics it reads with their phases, and
//! which groups are not switched yet.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::Cluster;
use crate::control::wire::{GroupClients, GroupTopic, GroupsView, Namespaces, Role};
use crate::server::app::App;
use crate::server::error::ApiError;

/// Compare the clusters' consumer groups now (asks both clusters' brokers about every group).
pub(crate) async fn compare(app: &App) -> Result<GroupsView, ApiError> {
    let unavailable = |c: Cluster, e: String| {
        ApiError::unavailable(format!("could not list the {c}'s consumer groups: {e}"))
    };
    let source = app.admin[Cluster::Source.index()]
        .groups()
        .await
        .map_err(|e| unavailable(Cluster::Source, e))?;
    let target = app.admin[Cluster::Target.index()]
        .groups()
        .await
        .map_err(|e| unavailable(Cluster::Target, e))?;
    // Topics per group as the shim consumers report them.
    let mut reported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for v in app.registry.views() {
        if v.heartbeat.role == Role::Consumer {
            reported
                .entry(v.heartbeat.group.clone())
                .or_default()
                .extend(v.heartbeat.topics.iter().cloned());
        }
    }
    let managed: BTreeSet<String> = reported.keys().cloned().collect();
    let all: BTreeSet<String> = source
        .iter()
        .chain(&target)
        .chain(&managed)
        .cloned()
        .collect();
    let rows = rows(app, all, &source, &target, &reported).await;
    let unmanaged_on_source = rows
        .iter()
        .filter(|r| !managed.contains(&r.group) && r.source > 0)
        .map(|r| r.group.clone())
        .collect();
    Ok(GroupsView {
        missing_on_target: source.difference(&target).cloned().collect(),
        not_switched: rows
            .iter()
            .filter(|r| !r.switched)
            .map(|r| r.group.clone())
            .collect(),
        clients: rows,
        source: source.into_iter().collect(),
        target: target.into_iter().collect(),
        unmanaged_on_source,
        managed: managed.into_iter().collect(),
        namespaces: Namespaces {
            source: app.admin[Cluster::Source.index()]
                .namespace()
                .map(str::to_owned),
            target: app.admin[Cluster::Target.index()]
                .namespace()
                .map(str::to_owned),
        },
    })
}

/// One row per group: connected clients per cluster against the shim clients' reported ids, topics and phases.
/// A cluster that cannot be asked about a group is logged and counted as 0.
async fn rows(
    app: &App,
    groups: BTreeSet<String>,
    source: &BTreeSet<String>,
    target: &BTreeSet<String>,
    reported: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<GroupClients> {
    let shim = [
        app.registry.broker_clients(Cluster::Source),
        app.registry.broker_clients(Cluster::Target),
    ];
    let table = app.state.table();
    let mut out = Vec::new();
    for g in groups {
        let mut row = GroupClients {
            group: g.clone(),
            on_source: source.contains(&g),
            on_target: target.contains(&g),
            ..Default::default()
        };
        let mut topics = reported.get(&g).cloned().unwrap_or_default();
        for c in Cluster::BOTH {
            let (conns, subscribed) = match app.admin[c.index()].consumers(&g).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(group = %g, cluster = %c, error = %e, "could not read the group's connections");
                    continue;
                }
            };
            topics.extend(subscribed);
            let ours = conns
                .iter()
                .filter(|(id, _)| shim[c.index()].contains(id))
                .count();
            row.outside_shim.extend(
                conns
                    .iter()
                    .filter(|(id, _)| !shim[c.index()].contains(id))
                    .map(|(id, addr)| format!("{c}: {id} at {addr}")),
            );
            match c {
                Cluster::Source => (row.source, row.source_shim) = (conns.len(), ours),
                Cluster::Target => (row.target, row.target_shim) = (conns.len(), ours),
            }
        }
        row.switched = row.outside_shim.is_empty();
        row.topics = topics
            .into_iter()
            .map(|t| GroupTopic {
                phase: table.topics.get(&t).map(|s| s.phase),
                topic: t,
            })
            .collect();
        out.push(row);
    }
    out
}
