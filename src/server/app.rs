//! The server's state and every change to it: registration, deletion, phase moves (compare-and-set behind the
//! readiness gates) and ratio changes. One change at a time; each is persisted, then published, then audited.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use parking_lot::Mutex;
use rocketmq_client_rust::ClientRuntime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::audit::{rfc3339, AuditLog};
use super::auth::Tokens;
use super::gates;
use super::metrics::Metrics;
use super::registry::Registry;
use super::scanner::Readiness;
use super::traffic::Traffic;
use super::ServerConfig;
use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::connection::ConnectionReport;
use crate::control::file::{read_json, replace_json};
use crate::control::wire::{
    AuditEntry, BatchItemResult, BatchMode, BatchMoveRequest, BatchMoveResult, CheckResult,
    Direction, DlqReviewResult, ErrorBody, GroupDeadLetters, MoveRequest, MoveResult, PhasesDoc,
    TaskDoc, TaskStep,
};
use crate::error::MigrationError;
use crate::phase::Phase;
use crate::route::{validate_ratio, TopicState, DEFAULT_WRITE_RATIO};

/// A refusal or failure, as the HTTP answer it becomes.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) body: ErrorBody,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: code.to_owned(),
                message: message.into(),
                current: None,
                checks: Vec::new(),
            },
        }
    }

    pub(crate) fn unknown_topic(topic: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_topic",
            format!("topic {topic:?} is not registered for migration"),
        )
    }

    fn storage(e: MigrationError) -> Self {
        tracing::error!(error = %e, "control plane: state change not saved; nothing changed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage",
            format!("state not saved, nothing changed: {e}"),
        )
    }
}

/// The state file: the phase table and the migration task, written together.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StoredState {
    #[serde(flatten)]
    table: PhasesDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<TaskDoc>,
}

/// Shared server state.
pub(crate) struct App {
    pub(crate) tokens: Tokens,
    state_file: PathBuf,
    table: watch::Sender<Arc<PhasesDoc>>,
    /// The published table's JSON, as the long-poll answers it.
    pub(crate) encoded: super::encoded::EncodedTable,
    mutate: tokio::sync::Mutex<()>,
    audit: Mutex<AuditLog>,
    pub(crate) registry: Registry,
    pub(crate) admin: [ClusterAdmin; 2],
    pub(crate) traffic: Traffic,
    pub(crate) quiet_window: Duration,
    sample_every: Duration,
    pub(crate) metrics: Metrics,
    sampler: Mutex<Option<JoinHandle<()>>>,
    sealer: Mutex<Option<JoinHandle<()>>>,
    seal_check: Arc<tokio::sync::Notify>,
    started: std::time::Instant,
    /// Every topic's checks as of the last background scan.
    pub(crate) readiness: Arc<Readiness>,
    scan_every: Duration,
    scanner: Mutex<Option<JoinHandle<()>>>,
    /// The connection check of each cluster, run at start (`/healthz` shows it).
    pub(crate) connections: Mutex<Vec<(Cluster, ConnectionReport)>>,
    /// The migration task, if one was created (changed only under `mutate`, saved with the table).
    task: Mutex<Option<TaskDoc>>,
    /// The clusters as configured (`[source, target]`).
    pub(crate) clusters: [crate::ClusterConfig; 2],
    /// The runtime the admin clients and metadata runs use.
    pub(crate) runtime: Arc<ClientRuntime>,
    /// This control plane as a claim on the target names it (set once bound).
    pub(crate) name: Mutex<String>,
    /// Migration monitoring: every topic's traffic over time.
    pub(crate) monitor: Mutex<super::monitor::Monitor>,
    monitor_every: Duration,
    monitoring: Mutex<Option<JoinHandle<()>>>,
    /// Live clients holding a newer table than this one (see [`super::divergence`]).
    pub(crate) divergence: super::divergence::Divergence,
}

/// Most topics one batch move names.
pub(crate) const MAX_BATCH: usize = 1_000;

/// A move checked but not made yet.
struct PlannedMove {
    topic: String,
    dir: Direction,
    state: TopicState,
    to: Phase,
    checks: Vec<CheckResult>,
}

impl PlannedMove {
    fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.code.as_str())
            .collect()
    }

    fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    fn action(&self) -> &'static str {
        match self.dir {
            Direction::Advance => "advance",
            Direction::Rollback => "rollback",
        }
    }
}

impl App {
    pub(crate) fn open(
        config: &ServerConfig,
        runtime: Arc<ClientRuntime>,
    ) -> Result<Arc<App>, MigrationError> {
        let stored: Option<StoredState> = read_json(&config.state_file)?;
        let missing = stored.is_none();
        let StoredState { table: doc, task } = stored.unwrap_or_default();
        for (topic, state) in &doc.topics {
            state.validate().map_err(|e| {
                MigrationError::from(e).with_context(format!(
                    "state file {}: topic {topic:?}",
                    config.state_file.display()
                ))
            })?;
        }
        let audit = AuditLog::open(&config.audit_file)?;
        if missing && audit.next_seq() > 1 {
            tracing::error!(state_file = %config.state_file.display(), audit_file = %config.audit_file.display(),
                audit_entries = audit.next_seq() - 1,
                "the state file is missing but the audit log has entries: starting from an EMPTY table. Clients that \
                 applied phases from the lost table will report newer versions; until `rmq-migrate adopt` (or \
                 `adopt --force`) the control plane reports `diverged` and refuses every table change");
        } else if missing {
            tracing::warn!(state_file = %config.state_file.display(),
                "no state file: starting from an empty table (clients that report newer versions will make it \
                 `diverged`)");
        }
        let monitor = super::monitor::Monitor::new(monitor_config(config.monitor_every))?;
        tracing::info!(
            version = doc.version,
            topics = doc.topics.len(),
            audit_entries = audit.next_seq() - 1,
            task = task.as_ref().map(|t| t.name.as_str()),
            step = task.as_ref().map(|t| t.step.as_str()),
            "control plane state loaded"
        );
        let (table, _) = watch::channel(Arc::new(doc));
        Ok(Arc::new(App {
            tokens: Tokens {
                admin: config.admin_token.clone(),
                client: config.client_token.clone(),
            },
            state_file: config.state_file.clone(),
            table,
            encoded: Default::default(),
            mutate: tokio::sync::Mutex::new(()),
            audit: Mutex::new(audit),
            registry: Registry::new(config.client_ttl),
            admin: [
                ClusterAdmin::new(Cluster::Source, config.source.clone(), runtime.clone()),
                ClusterAdmin::new(Cluster::Target, config.target.clone(), runtime.clone()),
            ],
            traffic: Traffic::default(),
            quiet_window: config.quiet_window,
            sample_every: config.sample_every,
            metrics: Metrics::default(),
            sampler: Mutex::new(None),
            sealer: Mutex::new(None),
            seal_check: Arc::new(tokio::sync::Notify::new()),
            started: std::time::Instant::now(),
            connections: Mutex::new(Vec::new()),
            readiness: Arc::default(),
            scan_every: config.scan_every,
            scanner: Mutex::new(None),
            task: Mutex::new(task),
            clusters: [config.source.clone(), config.target.clone()],
            runtime,
            name: Mutex::new(String::new()),
            monitor: Mutex::new(monitor),
            monitor_every: config.monitor_every,
            monitoring: Mutex::new(None),
            divergence: Default::default(),
        }))
    }

    /// The current table.
    pub(crate) fn table(&self) -> Arc<PhasesDoc> {
        self.table.borrow().clone()
    }

    /// A receiver notified on every published change.
    pub(crate) fn watch(&self) -> watch::Receiver<Arc<PhasesDoc>> {
        self.table.subscribe()
    }

    /// Register `topics` (all or nothing). Topics already registered are left as they are.
    pub(crate) async fn register(
        &self,
        topics: &[String],
        ratio: Option<f64>,
        orderly: bool,
        actor: &str,
    ) -> Result<Vec<(String, TopicState, bool)>, ApiError> {
        if topics.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "field \"topics\" must name at least one topic",
            ));
        }
        for t in topics {
            super::limits::topic_name("field \"topics\"", t).map_err(ApiError::invalid)?;
        }
        let ratio = ratio.unwrap_or(DEFAULT_WRITE_RATIO);
        validate_ratio(ratio).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
        })?;
        let _one = self.mutate.lock().await;
        let current = self.table();
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        let mut out = Vec::new();
        let mut entries = Vec::new();
        for t in topics {
            if let Some(s) = current.topics.get(t) {
                out.push((t.clone(), *s, false));
                continue;
            }
            let state = TopicState {
                phase: Phase::Initial,
                write_ratio: ratio,
                version: next.version,
                orderly,
                sealed: false,
            };
            next.topics.insert(t.clone(), state);
            out.push((t.clone(), state, true));
            let mut entry = self.entry(
                actor,
                "register",
                t,
                None,
                Some(Phase::Initial),
                Some(ratio),
                next.version,
            );
            entry.orderly = orderly.then_some(true);
            entries.push(entry);
        }
        if entries.is_empty() {
            return Ok(out);
        }
        self.commit(next, entries)?;
        Ok(out)
    }

    /// Stop migrating `topic`; only while it is `Initial`.
    pub(crate) async fn delete(&self, topic: &str, actor: &str) -> Result<(), ApiError> {
        let _one = self.mutate.lock().await;
        let current = self.table();
        let state = current
            .topics
            .get(topic)
            .ok_or_else(|| ApiError::unknown_topic(topic))?;
        if state.phase != Phase::Initial {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "not_initial",
                format!(
                    "topic {topic:?} is {}; roll it back to initial before deleting it",
                    state.phase
                ),
            );
            e.body.current = Some(state.phase);
            return Err(e);
        }
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        next.topics.remove(topic);
        next.dlq_reviewed.remove(topic);
        let entry = self.entry(
            actor,
            "delete",
            topic,
            Some(Phase::Initial),
            None,
            None,
            next.version,
        );
        self.commit(next, vec![entry])
    }

    /// Move `topic` one step in `dir`, if it is in `req.expected` and the readiness checks pass (or `force`).
    pub(crate) async fn move_topic(
        &self,
        topic: &str,
        dir: Direction,
        req: &MoveRequest,
        actor: &str,
    ) -> Result<MoveResult, ApiError> {
        let _one = self.mutate.lock().await;
        self.moves_allowed()?;
        let current = self.table();
        let plan = self.plan_move(&current, topic, dir, req.expected).await?;
        if !plan.ready() && !req.force {
            return Err(self.refuse(&current, &plan, actor));
        }
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        let (result, entry) = self.apply_move(&mut next, &plan, actor);
        self.commit(next, vec![entry])?;
        self.after_move(&result);
        Ok(result)
    }

    /// Move several topics one step in one table version: the topics listed, or those `select` picks, each
    /// checked against its expected phase. `each`: every topic whose checks pass (or all with `force`) moves, the
    /// others are refused with their checks; `all_or_nothing`: nothing moves unless every topic can.
    pub(crate) async fn move_batch(
        &self,
        dir: Direction,
        req: &BatchMoveRequest,
        actor: &str,
    ) -> Result<BatchMoveResult, ApiError> {
        let _one = self.mutate.lock().await;
        self.moves_allowed()?;
        let current = self.table();
        let items = self.batch_items(&current, dir, req)?;
        let mut planned = Vec::new();
        let mut results = Vec::new();
        for (topic, expected) in &items {
            match self.plan_move(&current, topic, dir, *expected).await {
                Ok(p) => planned.push(p),
                Err(e) => results.push(BatchItemResult {
                    topic: topic.clone(),
                    moved: None,
                    refused: Some(e.body),
                }),
            }
        }
        let blocked = !results.is_empty() || planned.iter().any(|p| !p.ready() && !req.force);
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        let mut entries = Vec::new();
        let mut moved = Vec::new();
        for p in &planned {
            let go = (p.ready() || req.force) && !(req.mode == BatchMode::AllOrNothing && blocked);
            if go {
                let (r, entry) = self.apply_move(&mut next, p, actor);
                entries.push(entry);
                moved.push(r);
            } else {
                let mut e = self.refuse(&current, p, actor);
                if p.ready() || req.force {
                    e.body.error = "batch_not_applied".into();
                    e.body.message = format!(
                        "topic {:?} could move {} -> {}, but another topic of the all_or_nothing batch cannot",
                        p.topic, p.state.phase, p.to
                    );
                }
                results.push(BatchItemResult {
                    topic: p.topic.clone(),
                    moved: None,
                    refused: Some(e.body),
                });
            }
        }
        if !moved.is_empty() {
            self.commit(next, entries)?;
            for r in &moved {
                self.after_move(r);
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

    /// The `(topic, expected phase)` pairs of a batch: the listed ones, or those the selector picks (from the
    /// current table, and for `ready` from the last readiness scan).
    fn batch_items(
        &self,
        current: &PhasesDoc,
        dir: Direction,
        req: &BatchMoveRequest,
    ) -> Result<Vec<(String, Phase)>, ApiError> {
        let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m);
        match (req.topics.is_empty(), &req.select) {
            (false, Some(_)) => Err(bad("give either topics or select, not both".into())),
            (true, None) => Err(bad("topics: give at least one topic (or a select)".into())),
            (false, None) => {
                if req.topics.len() > MAX_BATCH {
                    return Err(bad(format!(
                        "topics: {} topics, at most {MAX_BATCH} per batch",
                        req.topics.len()
                    )));
                }
                let mut seen = std::collections::HashSet::new();
                for t in &req.topics {
                    if !seen.insert(t.topic.as_str()) {
                        return Err(bad(format!("topics: {:?} is listed twice", t.topic)));
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
                        || self.readiness.get(t, s).is_some_and(|scan| {
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

    /// Check one move of `topic` against `current` without changing anything.
    async fn plan_move(
        &self,
        current: &PhasesDoc,
        topic: &str,
        dir: Direction,
        expected: Phase,
    ) -> Result<PlannedMove, ApiError> {
        let state = *current
            .topics
            .get(topic)
            .ok_or_else(|| ApiError::unknown_topic(topic))?;
        if state.phase != expected {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "phase_mismatch",
                format!(
                    "topic {topic:?} is {}, not the expected {expected}",
                    state.phase
                ),
            );
            e.body.current = Some(state.phase);
            return Err(e);
        }
        let to = match dir {
            Direction::Advance => state.phase.next(),
            Direction::Rollback => state.phase.previous(),
        };
        let Some(to) = to else {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "no_step",
                format!(
                    "topic {topic:?} is {}: there is no step {} from it",
                    state.phase,
                    match dir {
                        Direction::Advance => "forward",
                        Direction::Rollback => "back",
                    }
                ),
            );
            e.body.current = Some(state.phase);
            return Err(e);
        };
        let checks = gates::run(self, topic, state.phase, to).await;
        Ok(PlannedMove {
            topic: topic.to_owned(),
            dir,
            state,
            to,
            checks,
        })
    }

    /// The audit entry of a planned move (made or refused) at table `version`, with its checks.
    fn move_entry(&self, p: &PlannedMove, actor: &str, version: u64) -> AuditEntry {
        let mut entry = self.entry(
            actor,
            p.action(),
            &p.topic,
            Some(p.state.phase),
            Some(p.to),
            None,
            version,
        );
        entry.checks = p.checks.clone();
        entry
    }

    /// Audit a refused move and the error that says why.
    fn refuse(&self, current: &PhasesDoc, p: &PlannedMove, actor: &str) -> ApiError {
        let failing = p.failing();
        tracing::warn!(topic = %p.topic, from = %p.state.phase, to = %p.to, actor, failing = ?failing, "phase move refused: readiness checks failed");
        let mut entry = self.move_entry(p, actor, current.version);
        entry.outcome = "refused".into();
        self.audit_append(entry);
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!(
                "topic {:?} cannot move {} -> {}: failing checks {}",
                p.topic,
                p.state.phase,
                p.to,
                failing.join(", ")
            ),
        );
        e.body.current = Some(p.state.phase);
        e.body.checks = p.checks.clone();
        e
    }

    /// Put a planned move into `next` (whose version is already the new one); the result and its audit entry.
    fn apply_move(
        &self,
        next: &mut PhasesDoc,
        p: &PlannedMove,
        actor: &str,
    ) -> (MoveResult, AuditEntry) {
        let forced = !p.ready();
        let new_state = TopicState {
            phase: p.to,
            version: next.version,
            sealed: false,
            ..p.state
        };
        next.topics.insert(p.topic.clone(), new_state);
        let mut entry = self.move_entry(p, actor, next.version);
        entry.forced = forced;
        if forced {
            tracing::warn!(topic = %p.topic, from = %p.state.phase, to = %p.to, actor, failing = ?p.failing(), "phase moved by FORCE despite failing checks");
        } else {
            tracing::info!(topic = %p.topic, from = %p.state.phase, to = %p.to, actor, version = new_state.version, "phase moved");
        }
        (
            MoveResult {
                topic: p.topic.clone(),
                from: p.state.phase,
                to: p.to,
                state: new_state,
                forced,
                checks: p.checks.clone(),
            },
            entry,
        )
    }

    /// What follows a committed move.
    fn after_move(&self, r: &MoveResult) {
        if r.state.orderly && r.to == Phase::CuttingOver {
            self.seal_check.notify_one();
        }
    }

    /// Set `topic`'s write ratio.
    pub(crate) async fn set_ratio(
        &self,
        topic: &str,
        ratio: f64,
        actor: &str,
    ) -> Result<TopicState, ApiError> {
        validate_ratio(ratio).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
        })?;
        let _one = self.mutate.lock().await;
        self.moves_allowed()?;
        let current = self.table();
        let state = *current
            .topics
            .get(topic)
            .ok_or_else(|| ApiError::unknown_topic(topic))?;
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        let new_state = TopicState {
            write_ratio: ratio,
            version: next.version,
            ..state
        };
        next.topics.insert(topic.to_owned(), new_state);
        let entry = self.entry(
            actor,
            "write_ratio",
            topic,
            Some(state.phase),
            Some(state.phase),
            Some(ratio),
            next.version,
        );
        self.commit(next, vec![entry])?;
        Ok(new_state)
    }

    /// Mark `topic` orderly or not; only in `initial` or `dual_read` (before any message of it is written to the
    /// target, so no key has moved yet).
    pub(crate) async fn set_orderly(
        &self,
        topic: &str,
        orderly: bool,
        actor: &str,
    ) -> Result<TopicState, ApiError> {
        let _one = self.mutate.lock().await;
        let current = self.table();
        let state = *current
            .topics
            .get(topic)
            .ok_or_else(|| ApiError::unknown_topic(topic))?;
        if state.orderly == orderly {
            return Ok(state);
        }
        if !matches!(state.phase, Phase::Initial | Phase::DualRead) {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "orderly_locked",
                format!(
                    "topic {topic:?} is {}: the orderly flag can change only in initial or dual_read, before \
                     any message of the topic is written to the target",
                    state.phase
                ),
            );
            e.body.current = Some(state.phase);
            return Err(e);
        }
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        let new_state = TopicState {
            orderly,
            version: next.version,
            ..state
        };
        next.topics.insert(topic.to_owned(), new_state);
        let mut entry = self.entry(
            actor,
            "orderly",
            topic,
            Some(state.phase),
            Some(state.phase),
            None,
            next.version,
        );
        entry.orderly = Some(orderly);
        self.commit(next, vec![entry])?;
        tracing::info!(topic, orderly, actor, "orderly flag set");
        Ok(new_state)
    }

    /// Record that an operator reviewed the source's dead letters of `topic`'s groups: the count found now is
    /// acknowledged (check `source_dlq_reviewed` passes until more arrive). Audited as action `dlq_reviewed`.
    pub(crate) async fn review_dead_letters(
        &self,
        topic: &str,
        actor: &str,
    ) -> Result<DlqReviewResult, ApiError> {
        let _one = self.mutate.lock().await;
        let current = self.table();
        let state = *current
            .topics
            .get(topic)
            .ok_or_else(|| ApiError::unknown_topic(topic))?;
        let found = gates::dead_letters(self, topic, Cluster::Source)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "cluster_unavailable",
                    format!("could not count the source's dead letters of {topic:?}: {e}"),
                )
            })?;
        let reviewed: u64 = found.iter().map(|(_, n)| n).sum();
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        next.dlq_reviewed.insert(topic.to_owned(), reviewed);
        let mut entry = self.entry(
            actor,
            "dlq_reviewed",
            topic,
            Some(state.phase),
            Some(state.phase),
            None,
            next.version,
        );
        entry.checks = vec![CheckResult {
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
        self.commit(next, vec![entry])?;
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

    /// Seal every orderly topic in `cutting_over` whose live producers have all applied `cutting_over` (none is
    /// still sending under an earlier state). Not before one client TTL has passed since the server started: the
    /// registry is in memory, and producers must have had the time to report again.
    pub(crate) async fn seal_ready(&self) {
        let waiting = |doc: &PhasesDoc| -> Vec<(String, TopicState)> {
            doc.topics
                .iter()
                .filter(|(_, s)| s.orderly && s.phase == Phase::CuttingOver && !s.sealed)
                .map(|(t, s)| (t.clone(), *s))
                .collect()
        };
        if waiting(&self.table()).is_empty() || self.started.elapsed() < self.registry.ttl() {
            return;
        }
        let _one = self.mutate.lock().await;
        let current = self.table();
        let mut next = PhasesDoc::clone(&current);
        next.version += 1;
        let mut entries = Vec::new();
        for (topic, state) in waiting(&current) {
            let check = gates::producers_sealed(self, &topic, &state);
            if !check.passed {
                tracing::debug!(topic, detail = %check.detail, "orderly topic not sealed yet");
                continue;
            }
            let sealed = TopicState {
                sealed: true,
                version: next.version,
                ..state
            };
            next.topics.insert(topic.clone(), sealed);
            tracing::info!(topic, detail = %check.detail, "orderly topic SEALED: nothing more is written to the source");
            let mut entry = self.entry(
                "control-plane",
                "seal",
                &topic,
                Some(state.phase),
                Some(state.phase),
                None,
                next.version,
            );
            entry.checks = vec![check];
            entries.push(entry);
        }
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.commit(next, entries) {
            tracing::error!(error = ?e.body, "sealing not saved; will retry");
        }
    }

    /// Check for topics to seal on every heartbeat and phase move, and every second.
    pub(crate) fn spawn_sealer(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            loop {
                let Some(a) = app.upgrade() else { return };
                let notified = a.seal_check.clone();
                a.seal_ready().await;
                drop(a);
                tokio::select! {
                    _ = notified.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        *self.sealer.lock() = Some(task);
    }

    /// A heartbeat arrived: producers may have applied `cutting_over`.
    pub(crate) fn heartbeat_seen(&self) {
        self.seal_check.notify_one();
    }

    /// Live clients holding a newer table than this one, if any.
    pub(crate) fn diverged(&self) -> Option<crate::control::wire::DivergenceView> {
        self.divergence.view(&self.table(), self.registry.ttl())
    }

    /// Persist, publish, audit. Nothing changes unless the state file was replaced; refused while clients hold a
    /// newer table (they would ignore this one).
    fn commit(&self, next: PhasesDoc, entries: Vec<AuditEntry>) -> Result<(), ApiError> {
        if let Some(d) = self.diverged() {
            return Err(diverged(&d));
        }
        self.commit_anyway(next, entries)
    }

    /// [`App::commit`] without the divergence check (for the adoption that resolves it).
    pub(crate) fn commit_anyway(
        &self,
        next: PhasesDoc,
        entries: Vec<AuditEntry>,
    ) -> Result<(), ApiError> {
        let task = self.task.lock().clone();
        self.save(&next, task)?;
        self.table.send_replace(Arc::new(next));
        for e in entries {
            self.audit_append(e);
        }
        Ok(())
    }

    /// Replace the task (under the change lock, see [`App::changes`]): persist with the current table, then
    /// audit.
    pub(crate) fn commit_task(
        &self,
        task: Option<TaskDoc>,
        entries: Vec<AuditEntry>,
    ) -> Result<(), ApiError> {
        self.save(&self.table(), task.clone())?;
        *self.task.lock() = task;
        for e in entries {
            self.audit_append(e);
        }
        Ok(())
    }

    fn save(&self, table: &PhasesDoc, task: Option<TaskDoc>) -> Result<(), ApiError> {
        let state = StoredState {
            table: table.clone(),
            task,
        };
        super::disk::write(|| replace_json(&self.state_file, &state)).map_err(ApiError::storage)
    }

    /// Hold this while changing the task: changes are made one at a time.
    pub(crate) async fn changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.mutate.lock().await
    }

    /// The migration task, if any.
    pub(crate) fn task(&self) -> Option<TaskDoc> {
        self.task.lock().clone()
    }

    /// Phase moves and write-ratio changes are refused while clients hold a newer table, while the task is
    /// paused, and outside its `grayscale` step (with no task, they are otherwise always allowed).
    fn moves_allowed(&self) -> Result<(), ApiError> {
        if let Some(d) = self.diverged() {
            return Err(diverged(&d));
        }
        let task = self.task.lock();
        let Some(task) = task.as_ref() else {
            return Ok(());
        };
        if let Some(p) = &task.paused {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "paused",
                format!(
                    "task {:?} is paused (by {} at {}{}): no phase move or write-ratio change until it is resumed",
                    task.name,
                    p.by,
                    p.at,
                    p.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
                ),
            ));
        }
        if task.step != TaskStep::Grayscale {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "task_step",
                format!(
                    "task {:?} is in step {}: topics move only in step grayscale",
                    task.name, task.step
                ),
            ));
        }
        Ok(())
    }

    /// Append to the audit log (a failed append is logged and counted; the change itself stands).
    pub(crate) fn audit_append(&self, entry: AuditEntry) {
        if let Err(e) = super::disk::write(|| self.audit.lock().append(entry)) {
            self.metrics.audit_failed();
            tracing::error!(error = %e, "control plane: audit log append FAILED (the change itself is saved)");
        }
    }

    /// Audit entries, oldest first.
    pub(crate) fn audit(&self, topic: Option<&str>, limit: usize) -> Vec<AuditEntry> {
        self.audit.lock().entries(topic, limit)
    }

    // Every field of an audit line; a struct literal at each call site would be longer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn entry(
        &self,
        actor: &str,
        action: &str,
        topic: &str,
        from: Option<Phase>,
        to: Option<Phase>,
        write_ratio: Option<f64>,
        version: u64,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            time: rfc3339(SystemTime::now()),
            actor: actor.to_owned(),
            action: action.to_owned(),
            topic: topic.to_owned(),
            from,
            to,
            write_ratio,
            orderly: None,
            forced: false,
            outcome: "applied".into(),
            checks: Vec::new(),
            version,
            detail: None,
        }
    }

    /// Sample every registered topic's stored count on both clusters, every `sample_every`.
    pub(crate) fn spawn_sampler(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        let every = self.sample_every;
        let task = tokio::spawn(async move {
            loop {
                let Some(app) = app.upgrade() else { return };
                let topics: Vec<String> = app.table().topics.keys().cloned().collect();
                for topic in &topics {
                    for c in Cluster::BOTH {
                        app.sample(topic, c).await;
                    }
                }
                drop(app);
                tokio::time::sleep(every).await;
            }
        });
        *self.sampler.lock() = Some(task);
    }

    /// Read `topic`'s stored count on `c` now and record it.
    pub(crate) async fn sample(&self, topic: &str, c: Cluster) {
        match self.admin[c.index()].stored(topic).await {
            Ok(stored) => self.traffic.observe(topic, c, stored),
            Err(e) => {
                tracing::debug!(topic, cluster = %c, error = %e, "traffic sample failed");
                self.traffic.unknown(topic, c);
            }
        }
    }

    /// Scan every topic's readiness in the background (see [`super::scanner`]).
    pub(crate) fn spawn_scanner(self: &Arc<Self>) {
        *self.scanner.lock() = Some(super::scanner::spawn(self, self.scan_every));
    }

    /// How often the monitoring takes a point.
    pub(crate) fn monitor_every(&self) -> Duration {
        self.monitor_every
    }

    /// Take a monitoring point of every topic every `monitor_every` (see [`super::monitor::Feed`]).
    pub(crate) fn spawn_monitor(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        let every = self.monitor_every;
        let task = tokio::spawn(async move {
            let mut feed = super::monitor::Feed::default();
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(app) = app.upgrade() else { return };
                feed.step(&app, SystemTime::now()).await;
            }
        });
        *self.monitoring.lock() = Some(task);
    }

    /// Stop the sampler, the scanner and the admin clients.
    pub(crate) async fn close(&self) {
        if let Some(t) = self.monitoring.lock().take() {
            t.abort();
        }
        if let Some(t) = self.scanner.lock().take() {
            t.abort();
        }
        if let Some(t) = self.sampler.lock().take() {
            t.abort();
        }
        if let Some(t) = self.sealer.lock().take() {
            t.abort();
        }
        for a in &self.admin {
            a.close().await;
        }
    }
}

/// The monitoring store's tiers for points every `every`: fine for 6 h, coarse as the defaults (1 min for the
/// task, 10 min per topic, 7 days), a step of more than 3 points (at least 30 s) a gap.
fn monitor_config(every: Duration) -> super::monitor::MonitorConfig {
    use super::monitor::{MonitorConfig, Tier};
    let d = MonitorConfig::default();
    MonitorConfig {
        fine: Tier::new(every, d.fine.retention),
        max_step: d.max_step.max(every * 3),
        ..d
    }
}

/// The refusal of a table change while clients hold a newer table.
pub(crate) fn diverged(d: &crate::control::wire::DivergenceView) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "diverged",
        format!(
            "{} live client(s) (e.g. {}) hold a newer phase table than this control plane (version {}; newest \
             client version {}): it was restored from an older or missing state file. Nothing changed. Run \
             `rmq-migrate adopt` to take the clients' newest table, or `rmq-migrate adopt --force` to publish this \
             control plane's own table above theirs",
            d.clients_ahead,
            d.clients.first().map_or("?", String::as_str),
            d.table_version,
            d.newest_client_version
        ),
    )
}
