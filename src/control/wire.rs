//! The JSON documents the control plane and its clients exchange (`/v1/...`). Both sides use these types, so a
//! field renamed here is renamed on the wire for both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::route::PhaseTable;
use crate::setters::setters;
use crate::topic_state::TopicState;

/// The content type of the watch stream (`GET /v1/phases?wait=<s>&watch=1`): one [`PhasesDoc`] per line of
/// compact JSON; an empty line says the client holds the current table. A control plane without the stream
/// answers `application/json` (one table, as a long-poll).
pub const WATCH_CONTENT_TYPE: &str = "application/x-ndjson";

/// `GET /v1/phases`: the whole phase table and its version (also sent as the `ETag`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhasesDoc {
    /// Version of the whole table; every change raises it by one.
    pub version: u64,
    /// Every topic under migration.
    pub topics: BTreeMap<String, TopicState>,
    /// Per topic, how many dead letters of its consumer groups on the source an operator has reviewed
    /// (`rmq-migrate dlq ack`); check `source_dlq_reviewed` passes while the source holds no more than that.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dlq_reviewed: BTreeMap<String, u64>,
}

impl PhasesDoc {
    /// Table version `version` holding `topics`, no dead letters reviewed.
    pub fn new(version: u64, topics: BTreeMap<String, TopicState>) -> Self {
        PhasesDoc {
            version,
            topics,
            dlq_reviewed: BTreeMap::new(),
        }
    }

    setters! {
        /// Per topic, how many of the source's dead letters an operator has reviewed.
        with_dlq_reviewed(dlq_reviewed: BTreeMap<String, u64>) = dlq_reviewed;
    }

    /// The table as the data plane holds it.
    pub fn to_table(&self) -> PhaseTable {
        PhaseTable::from_topics(self.topics.clone())
    }

    /// The `ETag` value for this version (a strong, quoted entity tag).
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

/// The `ETag` header value for table version `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// `POST /v1/topics`: register topics for migration (they start `Initial`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegisterTopics {
    /// Topic names.
    pub topics: Vec<String>,
    /// Initial write ratio (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_ratio: Option<f64>,
    /// Register the topics as orderly (order-preserving cutover); default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orderly: bool,
    /// Who asks (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl RegisterTopics {
    /// Register `topics` with the default write ratio, not orderly.
    pub fn new(topics: impl IntoIterator<Item = impl Into<String>>) -> Self {
        RegisterTopics {
            topics: topics.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    setters! {
        /// The initial write ratio (`None`: the control plane's default, 0.5).
        with_write_ratio(write_ratio: impl Into<Option<f64>>) = write_ratio.into();
        /// Register the topics as orderly (order-preserving cutover); default `false`.
        with_orderly(orderly: bool) = orderly;
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// `PUT /v1/topics/{topic}/orderly`: mark a topic orderly or not (only while no target write has happened:
/// `initial` or `dual_read`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrderlyRequest {
    /// Whether the topic is orderly.
    pub orderly: bool,
    /// Who asks (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl OrderlyRequest {
    /// Mark the topic orderly (`true`) or not.
    pub fn new(orderly: bool) -> Self {
        OrderlyRequest {
            orderly,
            actor: None,
        }
    }

    setters! {
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// `POST /v1/topics/{topic}/advance` and `/rollback`: a compare-and-set one step away from `expected`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MoveRequest {
    /// The phase the caller believes the topic is in; a different current phase is a conflict (409).
    pub expected: Phase,
    /// Move even though readiness checks fail (the audit log marks the move as forced).
    #[serde(default)]
    pub force: bool,
    /// Who asks (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl MoveRequest {
    /// One step away from `expected`, not forced.
    pub fn new(expected: Phase) -> Self {
        MoveRequest {
            expected,
            force: false,
            actor: None,
        }
    }

    setters! {
        /// Move although a check fails (audited as forced); default `false`.
        with_force(force: bool) = force;
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// One topic of a batch move and the phase the caller believes it is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchTopic {
    /// The topic.
    pub topic: String,
    /// Its expected phase (a different current phase refuses this topic with `phase_mismatch`).
    pub expected: Phase,
}

impl BatchTopic {
    /// `topic`, expected in phase `expected`.
    pub fn new(topic: impl Into<String>, expected: Phase) -> Self {
        BatchTopic {
            topic: topic.into(),
            expected,
        }
    }
}

/// Which topics a batch move picks when it lists none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchSelector {
    /// Only topics in this phase (each expected to be in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Only topics whose checks for this direction all passed in the last readiness scan.
    #[serde(default)]
    pub ready: bool,
}

impl BatchSelector {
    /// Topics in `phase` (`None`: any phase), and of those only the ready ones when `ready`.
    pub fn new(phase: impl Into<Option<Phase>>, ready: bool) -> Self {
        BatchSelector {
            phase: phase.into(),
            ready,
        }
    }
}

/// How a batch move treats a topic that cannot move.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BatchMode {
    /// Every topic that can move moves; the others are refused.
    #[default]
    Each,
    /// Nothing moves unless every topic can.
    AllOrNothing,
}

/// `POST /v1/topics:advance` / `POST /v1/topics:rollback`: several topics, one step each, in one table version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchMoveRequest {
    /// The topics with their expected phases (or `select`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<BatchTopic>,
    /// Pick the topics instead of listing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<BatchSelector>,
    /// `each` (default) or `all_or_nothing`.
    #[serde(default)]
    pub mode: BatchMode,
    /// Move although checks fail (each such move is audited as forced).
    #[serde(default)]
    pub force: bool,
    /// Who asks (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl BatchMoveRequest {
    /// A batch of the topics listed, each with its expected phase (mode `each`, not forced).
    pub fn listed(topics: impl IntoIterator<Item = BatchTopic>) -> Self {
        BatchMoveRequest {
            topics: topics.into_iter().collect(),
            ..Default::default()
        }
    }

    /// A batch of the topics `select` picks (mode `each`, not forced).
    pub fn selected(select: BatchSelector) -> Self {
        BatchMoveRequest {
            select: Some(select),
            ..Default::default()
        }
    }

    setters! {
        /// How a topic that cannot move is treated (default [`BatchMode::Each`]).
        with_mode(mode: BatchMode) = mode;
        /// Move although a check fails (audited as forced); default `false`.
        with_force(force: bool) = force;
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// One topic's outcome in a batch move: moved, or refused with the error a single move would give.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchItemResult {
    /// The topic.
    pub topic: String,
    /// The move made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<MoveResult>,
    /// Why it did not move (`phase_mismatch`, `not_ready` with its checks, `unknown_topic`, `no_step`,
    /// `batch_not_applied` for a ready topic of a refused all-or-nothing batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<ErrorBody>,
}

/// The answer to a batch move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchMoveResult {
    /// The mode it ran in.
    pub mode: BatchMode,
    /// Topics moved.
    pub moved: usize,
    /// Topics refused.
    pub refused: usize,
    /// Per topic, by name.
    pub results: Vec<BatchItemResult>,
}

/// `PUT /v1/topics/{topic}/write-ratio`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RatioRequest {
    /// Share of `DualReadWrite` sends that go to the target, within `0.0..=1.0`.
    pub write_ratio: f64,
    /// Who asks (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl RatioRequest {
    /// Send `write_ratio` of `DualReadWrite` sends to the target.
    pub fn new(write_ratio: f64) -> Self {
        RatioRequest {
            write_ratio,
            actor: None,
        }
    }

    setters! {
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// The direction of a phase move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// One step forward.
    Advance,
    /// One step back.
    Rollback,
}

/// One readiness check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// Stable check code, e.g. `target_topic_exists`, `consumers_applied`, `source_backlog_zero`.
    pub code: String,
    /// Whether the check passed.
    pub passed: bool,
    /// What was found, in words (which clients, which groups, how many messages).
    pub detail: String,
}

impl CheckResult {
    /// Check `code` passed or not, with what was found.
    pub fn new(code: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        CheckResult {
            code: code.into(),
            passed,
            detail: detail.into(),
        }
    }
}

/// The answer to an accepted move, ratio change or registration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MoveResult {
    /// The topic (empty for task actions).
    #[serde(default)]
    pub topic: String,
    /// Phase before.
    pub from: Phase,
    /// Phase after.
    pub to: Phase,
    /// The topic's new state.
    pub state: TopicState,
    /// The move was made although a check failed.
    pub forced: bool,
    /// The checks run for this move.
    pub checks: Vec<CheckResult>,
}

/// Every non-2xx answer of the control plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Stable error code: `unauthorized`, `unknown_topic`, `phase_mismatch`, `not_ready`, `invalid_request`, ...
    pub error: String,
    /// What happened, naming the field and value at fault.
    pub message: String,
    /// The topic's current phase, on a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Phase>,
    /// The readiness checks, when a move was refused because of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
}

impl ErrorBody {
    /// Error `error` (a stable code) with its message; no current phase, no checks.
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            message: message.into(),
            current: None,
            checks: Vec::new(),
        }
    }

    setters! {
        /// The topic's current phase (on a conflict).
        with_current(current: impl Into<Option<Phase>>) = current.into();
        /// The readiness checks that refused a move.
        with_checks(checks: Vec<CheckResult>) = checks;
    }
}

/// What kind of client sent a heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// A `MigratingProducer`.
    Producer,
    /// A `MigratingPushConsumer`.
    Consumer,
}

impl Role {
    /// `producer` or `consumer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }
}

/// How fresh a client's phase table is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[repr(u8)]
pub enum SyncStatus {
    /// The last poll succeeded within the grace period.
    #[default]
    Fresh,
    /// No successful poll for longer than the grace period; the last good table is in use.
    Stale,
    /// The control plane refused the credentials; polling stopped, the last good table is in use.
    Unauthorized,
}

impl SyncStatus {
    /// `fresh`, `stale` or `unauthorized`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Fresh => "fresh",
            SyncStatus::Stale => "stale",
            SyncStatus::Unauthorized => "unauthorized",
        }
    }

    /// The status whose discriminant (`status as u8`) is `b`.
    pub(crate) fn from_u8(b: u8) -> Option<SyncStatus> {
        [
            SyncStatus::Fresh,
            SyncStatus::Stale,
            SyncStatus::Unauthorized,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }
}

/// The phase a client has put into effect for one topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppliedPhase {
    /// The phase.
    pub phase: Phase,
    /// The topic state version it came with.
    pub version: u64,
}

impl AppliedPhase {
    /// `phase`, as of topic state version `version`.
    pub fn new(phase: Phase, version: u64) -> Self {
        AppliedPhase { phase, version }
    }
}

/// One cluster's counters of one client since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClusterCounters {
    /// Messages sent to this cluster (producers).
    pub sent: u64,
    /// Messages received from this cluster (consumers).
    pub received: u64,
    /// Sends to this cluster that failed and were retried on the other one.
    pub failed_over: u64,
    /// Sends to this cluster that failed and were not retried.
    pub failed: u64,
    /// Deliveries from this cluster kept from the listener as duplicates (consumers).
    pub duplicates_suppressed: u64,
}

/// Counters per cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counters {
    /// Source cluster.
    pub source: ClusterCounters,
    /// Target cluster.
    pub target: ClusterCounters,
}

impl Counters {
    /// The counters of the source and of the target.
    pub fn new(source: ClusterCounters, target: ClusterCounters) -> Self {
        Counters { source, target }
    }
}

/// The client ids one shim instance's raw clients present to each cluster's brokers, exactly as the brokers list
/// them among a group's consumer connections (`<ip>@<instance name>`). The control plane tells shim consumers
/// from consumers outside the shim by them (check `unmanaged_consumers`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BrokerClients {
    /// Client ids on the source's brokers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<String>,
    /// Client ids on the target's brokers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
}

impl BrokerClients {
    /// The client ids on the source and on the target.
    pub fn new(source: Vec<String>, target: Vec<String>) -> Self {
        BrokerClients { source, target }
    }

    /// Whether no client id is listed.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty() && self.target.is_empty()
    }

    /// The ids on `cluster`.
    pub fn on(&self, cluster: crate::Cluster) -> &[String] {
        [&self.source, &self.target][cluster.index()]
    }
}

/// The client namespace a shim instance uses on each cluster (`None`: none). The control plane compares them
/// with its own (check `namespaces_match`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Namespaces {
    /// On the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// On the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Namespaces {
    /// The namespace on the source and on the target (`None`: none).
    pub fn new(source: Option<String>, target: Option<String>) -> Self {
        Namespaces { source, target }
    }

    /// Whether neither cluster has a namespace.
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.target.is_none()
    }

    /// The namespace on `cluster`.
    pub fn on(&self, cluster: crate::Cluster) -> Option<&str> {
        [&self.source, &self.target][cluster.index()].as_deref()
    }

    /// The namespaces of a client's two clusters.
    pub(crate) fn of(clusters: &[crate::ClusterConfig; 2]) -> Self {
        let ns = |c: &crate::ClusterConfig| c.namespace_in_use().map(str::to_owned);
        Namespaces {
            source: ns(&clusters[0]),
            target: ns(&clusters[1]),
        }
    }
}

/// `POST /v1/clients/heartbeat`: what one producer or consumer instance has applied and done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Heartbeat {
    /// Unique per instance and process (`<application>@<host>/<pid>/<role>-<n>` unless set).
    pub client_id: String,
    /// The application's name.
    pub application: String,
    /// Producer or consumer.
    pub role: Role,
    /// Producer or consumer group.
    pub group: String,
    /// Topics this client sends to (producers) or subscribes to (consumers).
    pub topics: Vec<String>,
    /// Per topic, the phase this client has put into effect.
    pub applied: BTreeMap<String, AppliedPhase>,
    /// Counters per cluster, over all of this client's topics.
    pub counters: Counters,
    /// The same counters per topic (empty from clients older than the per-topic counts; the control plane then
    /// counts that client's traffic for none of its topics rather than all of them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_topic: BTreeMap<String, Counters>,
    /// How fresh this client's table is.
    #[serde(default)]
    pub status: SyncStatus,
    /// While `status` is STALE: why the polls give no usable table (`unreachable`, `http_error`, `older_table`,
    /// `invalid_table`, `unreadable_table`, `oversized_table`, `wrong_content_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Topics this instance is pinned to a phase for, ignoring the control plane.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<String>,
    /// Consumers: the client ids their raw clients present to each cluster's brokers.
    #[serde(default, skip_serializing_if = "BrokerClients::is_empty")]
    pub broker_clients: BrokerClients,
    /// The client namespace this instance uses on each cluster.
    #[serde(default, skip_serializing_if = "Namespaces::is_empty")]
    pub namespaces: Namespaces,
    /// Version of the whole phase table this instance's control client applied (absent from clients older than
    /// the divergence check). A version newer than the control plane's own table means the control plane was
    /// restored from an older state file: see [`DivergenceView`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_version: Option<u64>,
}

impl Heartbeat {
    /// The heartbeat of client `client_id` of `application`, a `role` of `group`: no topics, zero counters,
    /// status fresh, nothing pinned. Set the rest with the `with_*` methods.
    pub fn new(
        client_id: impl Into<String>,
        application: impl Into<String>,
        role: Role,
        group: impl Into<String>,
    ) -> Self {
        Heartbeat {
            client_id: client_id.into(),
            application: application.into(),
            role,
            group: group.into(),
            topics: Vec::new(),
            applied: BTreeMap::new(),
            counters: Counters::default(),
            per_topic: BTreeMap::new(),
            status: SyncStatus::default(),
            status_reason: None,
            pinned: Vec::new(),
            broker_clients: BrokerClients::default(),
            namespaces: Namespaces::default(),
            table_version: None,
        }
    }

    setters! {
        /// The topics the client sends to or subscribes to.
        with_topics(topics: impl IntoIterator<Item = impl Into<String>>) =
            topics.into_iter().map(Into::into).collect();
        /// Per topic, the phase the client has put into effect.
        with_applied(applied: BTreeMap<String, AppliedPhase>) = applied;
        /// Counters per cluster over all of the client's topics.
        with_counters(counters: Counters) = counters;
        /// Counters per cluster per topic.
        with_per_topic(per_topic: BTreeMap<String, Counters>) = per_topic;
        /// Topics the client is pinned to a phase for.
        with_pinned(pinned: Vec<String>) = pinned;
        /// The client ids the client's raw clients present to each cluster's brokers (consumers).
        with_broker_clients(broker_clients: BrokerClients) = broker_clients;
        /// The client namespace in use on each cluster.
        with_namespaces(namespaces: Namespaces) = namespaces;
        /// The version of the whole phase table the client applied.
        with_table_version(table_version: impl Into<Option<u64>>) = table_version.into();
    }

    /// How fresh the client's table is, and (while stale) why: a code such as `unreachable`.
    pub fn with_status(mut self, status: SyncStatus, reason: Option<String>) -> Self {
        self.status = status;
        self.status_reason = reason;
        self
    }
}

/// The answer to `POST /v1/clients/heartbeat`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HeartbeatAnswer {
    /// Always `true` (the heartbeat was recorded).
    pub ok: bool,
    /// The control plane's table version.
    pub version: u64,
    /// The status the heartbeat reported.
    #[serde(default)]
    pub status: SyncStatus,
    /// The client holds a newer table than the control plane (it diverged): send it with
    /// `POST /v1/clients/table`, so that `rmq-migrate adopt` can take it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub send_table: bool,
}

impl HeartbeatAnswer {
    /// A recorded heartbeat (`ok`) that reported `status`, answered with table version `version`.
    pub fn new(version: u64, status: SyncStatus) -> Self {
        HeartbeatAnswer {
            ok: true,
            version,
            status,
            send_table: false,
        }
    }

    setters! {
        /// Ask the client to send its table (it holds a newer one than the control plane).
        with_send_table(send_table: bool) = send_table;
    }
}

/// `POST /v1/clients/table`: the table a client holds, sent when its heartbeat's answer asked for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientTable {
    /// The client id of the heartbeat that was answered `send_table`.
    pub client_id: String,
    /// The whole table, as the client last applied it.
    pub table: PhasesDoc,
}

impl ClientTable {
    /// Client `client_id`'s table.
    pub fn new(client_id: impl Into<String>, table: PhasesDoc) -> Self {
        ClientTable {
            client_id: client_id.into(),
            table,
        }
    }
}

/// One topic a client holds at a newer version than the control plane's table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicAhead {
    /// The topic.
    pub topic: String,
    /// The control plane's phase and version of it (`None`: not in its table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<AppliedPhase>,
    /// The newest phase and version a live client reported for it.
    pub client: AppliedPhase,
    /// The client that reported it.
    pub client_id: String,
}

/// `GET /v1/divergence` (also in `/healthz` and `GET /v1/topics`): live clients have applied table or topic
/// versions newer than the control plane's own table, as after a restart from an older (or missing) state file.
/// Until an operator runs `rmq-migrate adopt` (take the clients' newest table) or `adopt --force` (publish the
/// control plane's own table above every client's version), every change to the table is refused with
/// `diverged`: the clients would ignore it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DivergenceView {
    /// The control plane's table version.
    pub table_version: u64,
    /// The newest whole-table version a live client reported.
    pub newest_client_version: u64,
    /// How many live clients are ahead.
    pub clients_ahead: usize,
    /// Some of them (at most 10), sorted.
    pub clients: Vec<String>,
    /// Topics held at newer versions than the control plane's (at most 100, sorted).
    pub topics: Vec<TopicAhead>,
    /// How many clients have sent their table (`rmq-migrate adopt` needs at least one).
    pub tables_received: usize,
    /// When the control plane first saw a client ahead (RFC 3339 UTC).
    pub since: String,
}

/// `POST /v1/adopt`: resolve a divergence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdoptRequest {
    /// `false`: take the newest state of every topic the clients hold (their tables merged, newest version per
    /// topic). `true`: keep the control plane's own table and publish it at a version above every client's, so
    /// clients apply it (topics only the clients hold, not `initial` there, are published as `initial`).
    #[serde(default)]
    pub force: bool,
    /// Who asks, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl AdoptRequest {
    /// Take the clients' newest table (`force = false`), or publish the control plane's own above theirs.
    pub fn new(force: bool) -> Self {
        AdoptRequest { force, actor: None }
    }

    setters! {
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// One topic an adoption changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdoptedTopic {
    /// The topic.
    pub topic: String,
    /// Its phase in the control plane's table before (`None`: not in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Phase>,
    /// Its phase after.
    pub to: Phase,
    /// Its version after.
    pub version: u64,
}

/// The answer to `POST /v1/adopt`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdoptResult {
    /// `true` for `--force` (the control plane's own table was kept).
    pub force: bool,
    /// The table version before.
    pub from_version: u64,
    /// The new table version (above every version a client reported).
    pub version: u64,
    /// Topics whose state changed in the control plane's table (adopt), or whose phase the clients will change
    /// (force).
    pub changed: Vec<AdoptedTopic>,
}

/// `GET /v1/clients`: one registered client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientView {
    /// The last heartbeat.
    #[serde(flatten)]
    pub heartbeat: Heartbeat,
    /// Heartbeats arrive within the TTL.
    pub live: bool,
    /// Milliseconds since the last heartbeat.
    pub last_seen_ms: u64,
}

/// Traffic of one topic on one cluster as the control plane sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClusterTraffic {
    /// Messages ever written to the topic on this cluster (sum of queue max offsets); `None` when unknown.
    pub stored: Option<u64>,
    /// Milliseconds since the stored count last changed; `None` when it has not been observed to change.
    pub last_write_ms: Option<u64>,
    /// Messages of this topic sent here by live shim producers (sum of their per-topic counters).
    pub sent_by_clients: u64,
    /// Messages of this topic received from here by live shim consumers.
    pub received_by_clients: u64,
}

/// Dead letters of one consumer group per cluster (`%DLQ%<group>`; a group's dead-letter topic holds the dead
/// letters of every topic the group reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupDeadLetters {
    /// The consumer group.
    pub group: String,
    /// Dead letters on the source; `None` when the source could not be asked.
    pub source: Option<u64>,
    /// Dead letters on the target; `None` when the target could not be asked.
    pub target: Option<u64>,
}

/// `POST /v1/topics/{topic}/dlq-reviewed`: an operator has reviewed the source's dead letters of the topic's
/// groups (listed, resent, or judged not worth resending).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqReviewRequest {
    /// Who asks (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl DlqReviewRequest {
    setters! {
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// The answer to a dead-letter review: what was acknowledged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlqReviewResult {
    /// The topic.
    pub topic: String,
    /// Dead letters on the source acknowledged (the sum over the topic's groups).
    pub reviewed: u64,
    /// Per group.
    pub groups: Vec<GroupDeadLetters>,
}

/// `GET /v1/topics`: one topic with its readiness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicView {
    /// The topic.
    pub topic: String,
    /// Its state.
    pub state: TopicState,
    /// Checks for the next step forward (empty in `Completed`).
    pub advance: Vec<CheckResult>,
    /// Checks for one step back (empty in `Initial`).
    pub rollback: Vec<CheckResult>,
    /// Live clients of the topic, by id.
    pub clients: Vec<String>,
    /// Traffic on the source.
    pub source: ClusterTraffic,
    /// Traffic on the target.
    pub target: ClusterTraffic,
    /// Dead letters of the topic's consumer groups per cluster.
    #[serde(default)]
    pub dead_letters: Vec<GroupDeadLetters>,
    /// The topic's name on each cluster's brokers (in the cluster's namespace, if any).
    #[serde(default)]
    pub names: ClusterNames,
    /// When `advance`, `rollback` and `dead_letters` were evaluated (RFC 3339): the last background scan, or now
    /// for a health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

/// One application name as each cluster's brokers know it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClusterNames {
    /// On the source.
    pub source: String,
    /// On the target.
    pub target: String,
}

/// `GET /v1/groups`: consumer groups compared across the clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupsView {
    /// Non-system groups on the source.
    pub source: Vec<String>,
    /// Non-system groups on the target.
    pub target: Vec<String>,
    /// Groups on the source that the target does not have.
    pub missing_on_target: Vec<String>,
    /// Groups with consumers connected to the source that no shim client has registered (consumers that will not
    /// follow the phases).
    pub unmanaged_on_source: Vec<String>,
    /// Groups registered by shim clients.
    pub managed: Vec<String>,
    /// Every group of either cluster (and every group shim clients report): whether it exists on each cluster,
    /// how many clients per cluster and how many of those are shim clients, the topics it reads with their
    /// phases, and whether it has switched (every connected client is a shim client).
    #[serde(default)]
    pub clients: Vec<GroupClients>,
    /// Groups not yet switched: some consumer connected to either cluster is not a shim client (it will not
    /// follow the phases), as the seed's group comparison lists them.
    #[serde(default)]
    pub not_switched: Vec<String>,
    /// The control plane's namespace per cluster: groups are listed by their short names, and live on each
    /// cluster as `<namespace>%<group>`.
    #[serde(default, skip_serializing_if = "Namespaces::is_empty")]
    pub namespaces: Namespaces,
}

/// The clients connected for one consumer group, per cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupClients {
    /// The consumer group.
    pub group: String,
    /// Clients connected to the source.
    pub source: usize,
    /// Of those, shim clients.
    pub source_shim: usize,
    /// Clients connected to the target.
    pub target: usize,
    /// Of those, shim clients.
    pub target_shim: usize,
    /// Every connected client is a shim client.
    pub switched: bool,
    /// Connected clients that are not shim clients, as `<cluster>: <client id> at <address>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside_shim: Vec<String>,
    /// The group exists on the source.
    #[serde(default)]
    pub on_source: bool,
    /// The group exists on the target.
    #[serde(default)]
    pub on_target: bool,
    /// Topics the group's connected consumers subscribe to (on either cluster, and as shim clients report),
    /// with their migration phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<GroupTopic>,
}

/// One topic a consumer group reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupTopic {
    /// The topic.
    pub topic: String,
    /// Its phase; `None` when the topic is not registered for migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

/// The five steps of a migration task, in order (the seed's seamless migration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStep {
    /// Both clusters reachable with the control plane's credentials (the connection check).
    Connect,
    /// Topics and groups imported into the target through the control plane.
    Metadata,
    /// Applications switched to the shim clients: every registered topic's clients are shim clients.
    Endpoints,
    /// Topics move through their phases (the only step in which phase moves are made).
    Grayscale,
    /// Every topic `completed`; the source can be decommissioned.
    Completed,
}

impl TaskStep {
    /// Every step, in order.
    pub const ALL: [TaskStep; 5] = [
        TaskStep::Connect,
        TaskStep::Metadata,
        TaskStep::Endpoints,
        TaskStep::Grayscale,
        TaskStep::Completed,
    ];

    /// The step as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStep::Connect => "connect",
            TaskStep::Metadata => "metadata",
            TaskStep::Endpoints => "endpoints",
            TaskStep::Grayscale => "grayscale",
            TaskStep::Completed => "completed",
        }
    }

    /// The step after this one (`None` for `completed`).
    pub fn next(self) -> Option<TaskStep> {
        let i = TaskStep::ALL.iter().position(|s| *s == self)?;
        TaskStep::ALL.get(i + 1).copied()
    }
}

impl std::fmt::Display for TaskStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskStep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStep::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a task step (connect, metadata, endpoints, grayscale, completed)"
                )
            })
    }
}

/// One cluster as the task records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskCluster {
    /// What the operator calls it (free text, e.g. "self-built IDC cluster").
    #[serde(default)]
    pub description: String,
    /// Name server address(es) the control plane uses.
    pub name_server: String,
    /// The namespace in use on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Cluster names its name server reported when the task was created or connected (the cluster's identity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
}

/// When a step was entered, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepRecord {
    /// The step entered.
    pub step: TaskStep,
    /// RFC 3339 UTC time.
    pub at: String,
    /// Who moved the task into it.
    pub actor: String,
    /// Entered although a condition failed.
    #[serde(default)]
    pub forced: bool,
}

/// The task is paused: no phase move or write-ratio change is made until it is resumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Paused {
    /// Who paused it.
    pub by: String,
    /// RFC 3339 UTC time.
    pub at: String,
    /// Why, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The last metadata import run through the control plane (step `metadata`).
#[cfg(feature = "admin")]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetadataRun {
    /// RFC 3339 UTC time it finished.
    pub at: String,
    /// Who ran it.
    pub actor: String,
    /// `source` (exported from the source cluster by the control plane) or `file` (a file given in the request).
    pub from: String,
    /// The import's report (dry runs are not kept).
    pub report: crate::metadata::ImportReport,
}

/// `GET /v1/task`: the migration task (one per control plane).
#[cfg(feature = "admin")]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskDoc {
    /// The task's name.
    pub name: String,
    /// Random id; the claim on the target carries it.
    pub id: String,
    /// The source cluster.
    pub source: TaskCluster,
    /// The target cluster.
    pub target: TaskCluster,
    /// RFC 3339 UTC time of creation.
    pub created_at: String,
    /// The step the task is in.
    pub step: TaskStep,
    /// Every step entered, oldest first.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// Set while the task is paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Paused>,
    /// The last connection check of each cluster (step `connect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<crate::connection::ConnectionReport>,
    /// The last metadata import run through the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataRun>,
    /// RFC 3339 UTC time the task reached `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// The source decommission checklist, as checked when the task completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decommission: Vec<CheckResult>,
}

/// `GET /v1/task` answer: the task and the conditions of its next step as they hold now.
#[cfg(feature = "admin")]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskView {
    /// The task.
    pub task: TaskDoc,
    /// The next step (`None` once completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<TaskStep>,
    /// The conditions to enter it, checked now.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
}

/// `POST /v1/task`: create the migration task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateTask {
    /// The task's name (1-64 characters).
    pub name: String,
    /// What the operator calls the source.
    #[serde(default)]
    pub source_description: String,
    /// What the operator calls the target.
    #[serde(default)]
    pub target_description: String,
    /// Who asks, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl CreateTask {
    /// A task named `name`, the clusters without descriptions.
    pub fn new(name: impl Into<String>) -> Self {
        CreateTask {
            name: name.into(),
            ..Default::default()
        }
    }

    setters! {
        /// What the operator calls the source.
        with_source_description(source_description: impl Into<String>) = source_description.into();
        /// What the operator calls the target.
        with_target_description(target_description: impl Into<String>) = target_description.into();
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// `POST /v1/task/advance`: enter the next step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskAdvance {
    /// The step the task must be in now.
    pub expected: TaskStep,
    /// Enter the next step although a condition fails (audited as forced).
    #[serde(default)]
    pub force: bool,
    /// Who asks, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl TaskAdvance {
    /// Enter the step after `expected`, not forced.
    pub fn new(expected: TaskStep) -> Self {
        TaskAdvance {
            expected,
            force: false,
            actor: None,
        }
    }

    setters! {
        /// Enter the next step although a condition fails (audited as forced); default `false`.
        with_force(force: bool) = force;
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// `POST /v1/task/pause` and `/resume`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseRequest {
    /// Why (pause only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who asks, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl PauseRequest {
    setters! {
        /// Why (pause only).
        with_reason(reason: impl Into<String>) = Some(reason.into());
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// `POST /v1/task/metadata`: import topics and groups into the target through the control plane.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetadataRequest {
    /// A metadata file (as `mqadmin exportMetadata` or `rmq-migrate export` writes it); absent: the control
    /// plane exports from the source now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<serde_json::Value>,
    /// Only these topics (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Only these groups (empty: all; with `topics` given and no groups, no groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Overwrite same-name items whose settings differ (default: leave them).
    #[serde(default)]
    pub overwrite: bool,
    /// Plan only; nothing is changed or kept.
    #[serde(default)]
    pub dry_run: bool,
    /// Who asks, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl MetadataRequest {
    setters! {
        /// Import this metadata file (`None`: the control plane exports from the source).
        with_file(file: impl Into<Option<serde_json::Value>>) = file.into();
        /// Only these topics (empty: all).
        with_topics(topics: Vec<String>) = topics;
        /// Only these groups (empty: all; with topics given and no groups, no groups).
        with_groups(groups: Vec<String>) = groups;
        /// Overwrite same-name items whose settings differ; default `false`.
        with_overwrite(overwrite: bool) = overwrite;
        /// Plan only; default `false`.
        with_dry_run(dry_run: bool) = dry_run;
        /// Name who asks (recorded in the audit log).
        with_actor(actor: impl Into<String>) = Some(actor.into());
    }
}

/// `GET /v1/task/endpoints`: per registered topic, its shim clients and the clients outside the shim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointsView {
    /// Per topic, by name.
    pub topics: Vec<TopicEndpoints>,
}

/// One topic's clients.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopicEndpoints {
    /// The topic.
    pub topic: String,
    /// Shim clients that sent or subscribed to it (live or recently seen).
    pub clients: Vec<EndpointClient>,
    /// Consumers of the topic's groups connected to either cluster that are not shim clients, as
    /// `<cluster>: <group>: <client id> at <address>`.
    #[serde(default)]
    pub unmanaged: Vec<String>,
    /// The topic's endpoints are switched: at least one live shim client and no consumer outside the shim.
    pub switched: bool,
}

/// One shim client of a topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointClient {
    /// The client id.
    pub client_id: String,
    /// The application.
    pub application: String,
    /// Producer or consumer.
    pub role: Role,
    /// Its group.
    pub group: String,
    /// Heartbeats arrive within the TTL.
    pub live: bool,
    /// Milliseconds since its most recent heartbeat.
    pub last_seen_ms: u64,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Sequence number, from 1.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub time: String,
    /// Who asked (the request's `actor`, else the peer address).
    pub actor: String,
    /// `register`, `delete`, `advance`, `rollback`, `write_ratio`, `orderly`, or `seal` (by the control plane
    /// itself, actor `control-plane`).
    pub action: String,
    /// The topic (empty for task actions).
    #[serde(default)]
    pub topic: String,
    /// Phase before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Phase>,
    /// Phase after (for refused moves: the phase asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Phase>,
    /// Write ratio after, for ratio changes and registrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_ratio: Option<f64>,
    /// Orderly flag after, for `orderly` changes and orderly registrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orderly: Option<bool>,
    /// The move was made although a check failed.
    pub forced: bool,
    /// `applied` or `refused`.
    pub outcome: String,
    /// The readiness checks and their results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// Table version after the change (unchanged for refusals).
    pub version: u64,
    /// Task actions (`task_create`, `task_advance`, `task_metadata`, `pause`, `resume`, `task_delete`): what
    /// happened, in words (the topic is empty for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Migration monitoring: the time series of one topic, or of the whole task (the sum over its topics), oldest
/// point first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MonitorDoc {
    /// The topic; absent for the whole task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Seconds each point covers.
    pub resolution_s: u64,
    /// The points, oldest first, one per `resolution_s`.
    pub points: Vec<MonitorPoint>,
}

/// One interval of a monitoring series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MonitorPoint {
    /// Start of the interval, RFC 3339 UTC.
    pub at: String,
    /// On the source.
    pub source: MonitorCluster,
    /// On the target.
    pub target: MonitorCluster,
    /// Sends the shim clients retried on the other cluster during the interval.
    pub failed_over: u64,
    /// Deliveries the shim consumers suppressed as duplicates during the interval.
    pub duplicates: u64,
}

/// One cluster over one interval of a monitoring series. A `null` rate or backlog is a gap: unknown (the topic
/// did not exist there, a query failed, or a total went down), not zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MonitorCluster {
    /// Messages stored per second (growth of the sum of the topic's queue max offsets).
    pub stored_per_s: Option<f64>,
    /// Messages consumed per second (growth of the sum over the topic's consumer groups of committed offsets).
    pub consumed_per_s: Option<f64>,
    /// Messages stored and not yet consumed at the end of the interval.
    pub backlog: Option<u64>,
    /// Messages the shim clients sent to this cluster during the interval.
    pub sent: u64,
    /// Messages the shim clients received from this cluster during the interval.
    pub received: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn j(doc: &impl Serialize) -> serde_json::Value {
        serde_json::to_value(doc).unwrap()
    }

    #[test]
    fn built_documents_serialize_as_the_literals_did() {
        assert_eq!(
            j(&RegisterTopics::new(["a", "b"]).with_orderly(true)),
            json!({"topics": ["a", "b"], "orderly": true})
        );
        assert_eq!(
            j(&RegisterTopics::new(["a"])
                .with_write_ratio(0.3)
                .with_actor("ops")),
            json!({"topics": ["a"], "write_ratio": 0.3, "actor": "ops"})
        );
        assert_eq!(
            j(
                &BatchMoveRequest::selected(BatchSelector::new(Phase::Initial, true))
                    .with_mode(BatchMode::AllOrNothing)
                    .with_force(true)
            ),
            json!({"select": {"phase": "initial", "ready": true}, "mode": "all_or_nothing", "force": true})
        );
        assert_eq!(
            j(&BatchMoveRequest::listed([BatchTopic::new(
                "t",
                Phase::DualRead
            )])),
            json!({"topics": [{"topic": "t", "expected": "dual_read"}], "mode": "each", "force": false})
        );
        assert_eq!(
            j(&CreateTask::new("n").with_source_description("IDC")),
            json!({"name": "n", "source_description": "IDC", "target_description": ""})
        );
        assert_eq!(
            j(&MetadataRequest::default()
                .with_file(None)
                .with_topics(vec!["t".into()])
                .with_dry_run(true)),
            json!({"topics": ["t"], "overwrite": false, "dry_run": true})
        );
        assert_eq!(
            j(&ErrorBody::new("http", "boom")),
            json!({"error": "http", "message": "boom"})
        );
        assert_eq!(
            j(&HeartbeatAnswer::new(7, SyncStatus::Stale)),
            json!({"ok": true, "version": 7, "status": "stale"})
        );
        let hb = Heartbeat::new("id", "app", Role::Consumer, "g")
            .with_topics(["t"])
            .with_status(SyncStatus::Stale, Some("unreachable".into()))
            .with_table_version(3);
        assert_eq!(
            j(&hb),
            json!({
                "client_id": "id", "application": "app", "role": "consumer", "group": "g",
                "topics": ["t"], "applied": {}, "counters": serde_json::to_value(Counters::default()).unwrap(),
                "status": "stale", "status_reason": "unreachable", "table_version": 3
            })
        );
    }
}
