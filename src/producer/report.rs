//! The heartbeat report of a producer, plain or transactional.

use std::collections::BTreeSet;

use parking_lot::RwLock;

use super::Counters;
use crate::cluster::Cluster;
use crate::control::report::{applied_from, Report};
use crate::control::wire::{AppliedPhase, ClusterCounters, Counters as WireCounters, Role};
use crate::route::PhaseHandle;

/// What a producer of `group` reports: the topics it wrote, its per-cluster counters, its pins, and per topic the
/// phase it applied, passed through `applied` (the plain producer holds a phase back while sends routed under an
/// earlier state are still running; see `flight.rs`).
pub(crate) fn producer_report(
    group: &str,
    topics: &RwLock<BTreeSet<String>>,
    counters: &Counters,
    phases: &PhaseHandle,
    applied: impl Fn(&str, AppliedPhase) -> AppliedPhase,
) -> Report {
    let s = counters.snapshot();
    let side = |c: Cluster| ClusterCounters {
        sent: s.sent[c.index()],
        failed_over: s.failed_over_from[c.index()],
        failed: s.failed[c.index()],
        ..Default::default()
    };
    let table = phases.snapshot();
    Report {
        role: Role::Producer,
        group: group.to_owned(),
        topics: topics.read().iter().cloned().collect(),
        applied: applied_from(&table)
            .into_iter()
            .map(|(t, a)| {
                let a = applied(&t, a);
                (t, a)
            })
            .collect(),
        counters: WireCounters {
            source: side(Cluster::Source),
            target: side(Cluster::Target),
        },
        pinned: table.pins().map(|p| p.names()).unwrap_or_default(),
    }
}
