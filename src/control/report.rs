//! What a producer or consumer tells the control plane about itself in each heartbeat.

use std::collections::BTreeMap;

use crate::control::wire::{AppliedPhase, BrokerClients, Counters, Role};
use crate::route::PhaseTable;

/// One client's part of a heartbeat.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    pub(crate) role: Role,
    pub(crate) group: String,
    pub(crate) topics: Vec<String>,
    pub(crate) applied: BTreeMap<String, AppliedPhase>,
    pub(crate) counters: Counters,
    /// The same counters per topic.
    pub(crate) per_topic: BTreeMap<String, Counters>,
    pub(crate) pinned: Vec<String>,
    /// Consumers: the client ids of their running raw clients per cluster.
    pub(crate) broker_clients: BrokerClients,
}

/// Which of the four clients registers with the control plane: named in its client id
/// (`<application>@<host>/<pid>/<kind>-<group>-<n>`) and in the log line of its registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// A `MigratingProducer`.
    Producer,
    /// A `MigratingTransactionProducer`.
    TransactionProducer,
    /// A `MigratingPushConsumer`.
    PushConsumer,
    /// A `MigratingLitePullConsumer`.
    LitePullConsumer,
}

/// The name in client ids: `producer`, `transaction-producer`, `consumer` or `lite-pull-consumer`.
impl std::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClientKind::Producer => "producer",
            ClientKind::TransactionProducer => "transaction-producer",
            ClientKind::PushConsumer => "consumer",
            ClientKind::LitePullConsumer => "lite-pull-consumer",
        })
    }
}

/// Implemented by the producer and consumer cores; the control client holds them weakly.
pub(crate) trait Reporter: Send + Sync {
    /// The client's current report.
    fn report(&self) -> Report;
}

/// Every topic of `table` as applied phases.
pub(crate) fn applied_from(table: &PhaseTable) -> BTreeMap<String, AppliedPhase> {
    table
        .topics()
        .map(|(t, _)| {
            let s = table.topic(t);
            (
                t.to_owned(),
                AppliedPhase {
                    phase: s.phase,
                    version: s.version,
                },
            )
        })
        .collect()
}
