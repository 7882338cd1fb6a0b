//! What a consumer (push or lite pull) reports to the control plane in its heartbeats: the topics it reads, the
//! phases its clients are in line with, its counters per cluster, the batch-release pins and its broker client ids.

use super::merge::MergeShared;
use crate::cluster::Cluster;
use crate::control::report::{applied_from, Report};
use crate::control::wire::{BrokerClients, ClusterCounters, Counters, Role};
use crate::route::{PhaseHandle, PhaseTable};

/// The report of a consumer of `group` that reads `topics` and has brought its clients in line with `applied`.
/// `client_ids`: the id each running side presents to its cluster's brokers.
pub(crate) fn report(
    shared: &MergeShared,
    group: &str,
    topics: Vec<String>,
    applied: &PhaseTable,
    phases: &PhaseHandle,
    client_ids: &[Option<String>; 2],
) -> Report {
    let s = shared.counters.snapshot();
    let side = |c: Cluster| ClusterCounters {
        received: s.received[c.index()],
        duplicates_suppressed: s.duplicates_from[c.index()],
        ..Default::default()
    };
    Report {
        role: Role::Consumer,
        group: group.to_owned(),
        per_topic: shared.topics.report(&topics),
        topics,
        applied: applied_from(applied),
        counters: Counters {
            source: side(Cluster::Source),
            target: side(Cluster::Target),
        },
        pinned: phases
            .snapshot()
            .pins()
            .map(|p| p.names())
            .unwrap_or_default(),
        broker_clients: BrokerClients {
            source: client_ids[0].iter().cloned().collect(),
            target: client_ids[1].iter().cloned().collect(),
        },
    }
}
