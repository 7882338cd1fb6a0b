//! Readiness checks run before a phase move. Each is a named code with a pass/fail and a detail.
//!
//! | move | checks |
//! |---|---|
//! | entering `DualRead` from `Initial` | `target_topic_exists`, `target_groups_exist` |
//! | a cluster joins the write set (`DualRead`→`DualReadWrite` adds the target, `CuttingOver`→`DualReadWrite` adds the source) | `consumers_applied` |
//! | a cluster leaves the read set (`CuttingOver`→`Completed` drops the source, `DualRead`→`Initial` drops the target) | `producers_applied`, `<cluster>_backlog_zero`, `<cluster>_quiet` |
//! | a cluster joins the write set | also `unmanaged_consumers` (every consumer of the topic's groups on either cluster is a shim client) |
//! | a cluster leaves the read set | also `<cluster>_retry_backlog_zero`, `<cluster>_scheduled_zero` |
//! | the source leaves the read set (`CuttingOver`→`Completed`) | also `source_dlq_reviewed` |
//! | `CuttingOver`→`Completed` of an orderly topic | also `source_sealed` |
//!
//! | every move | `namespaces_match` (every live client of the topic uses the control plane's namespace on each cluster) |
//!
//! Sealing itself (not a move) uses `producers_sealed`: every live producer of the topic applied `CuttingOver`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::control::wire::{AppliedPhase, CheckResult, GroupDeadLetters, Heartbeat, Role};
use crate::phase::Phase;
use crate::server::app::App;
use crate::server::registry::Registry;
use crate::server::state::table::Published;
use crate::server::traffic::Traffic;
use crate::topic_state::TopicState;

/// What the checks read: the clusters' admin clients, the shim clients' reports, the traffic samples, the published
/// table and the quiet window.
pub(crate) struct Gates<'a> {
    /// The clusters' admin clients (`[source, target]`).
    pub(crate) admin: &'a [ClusterAdmin; 2],
    /// The shim clients' heartbeats.
    pub(crate) registry: &'a Registry,
    /// The stored counts observed (the quiet-window check records its own sample here).
    pub(crate) traffic: &'a Traffic,
    /// The table (a topic's orderly and sealed flags, the dead letters acknowledged).
    pub(crate) table: &'a Published,
    /// How long a cluster leaving the read set must have received nothing.
    pub(crate) quiet_window: Duration,
}

/// Which per-group backlog a check reads.
#[derive(Clone, Copy)]
pub(crate) enum Lag {
    /// The topic's own queues (`<cluster>_backlog_zero`).
    Topic,
    /// The group's retry topic (`<cluster>_retry_backlog_zero`).
    Retry,
}

/// A check result.
pub(crate) fn check(
    code: impl Into<String>,
    passed: bool,
    detail: impl Into<String>,
) -> CheckResult {
    CheckResult {
        code: code.into(),
        passed,
        detail: detail.into(),
    }
}

/// A check of what the live `clients` of `topic` applied: passed when `ok` holds for each one's applied state of the
/// topic (`None`: nothing applied yet); otherwise the detail lists the others as `<client id> (applied <state>)`,
/// a state shown by `shown`.
fn clients_applied(
    code: &str,
    clients: &[Heartbeat],
    topic: &str,
    ok: impl Fn(Option<&AppliedPhase>) -> bool,
    shown: impl Fn(&AppliedPhase) -> String,
    passed: impl FnOnce(usize) -> String,
    failed: impl FnOnce(String) -> String,
) -> CheckResult {
    let behind: Vec<String> = clients
        .iter()
        .filter(|h| !ok(h.applied.get(topic)))
        .map(|h| {
            let at = h.applied.get(topic).map_or("initial".to_owned(), &shown);
            format!("{} (applied {at})", h.client_id)
        })
        .collect();
    if behind.is_empty() {
        check(code, true, passed(clients.len()))
    } else {
        check(code, false, failed(behind.join(", ")))
    }
}

impl<'a> Gates<'a> {
    /// The inputs as `app` holds them.
    pub(crate) fn of(app: &'a App) -> Self {
        Gates {
            admin: &app.admin,
            registry: &app.registry,
            traffic: &app.traffic,
            table: app.state.published(),
            quiet_window: app.quiet_window,
        }
    }

    fn admin(&self, c: Cluster) -> &ClusterAdmin {
        &self.admin[c.index()]
    }

    /// Run every check the move `from` → `to` of `topic` needs.
    pub(crate) async fn run(&self, topic: &str, from: Phase, to: Phase) -> Vec<CheckResult> {
        let mut out = vec![self.namespaces_match(topic)];
        if from == Phase::Initial && to == Phase::DualRead {
            out.push(self.target_topic_exists(topic).await);
            out.push(self.target_groups_exist(topic).await);
        }
        if Cluster::BOTH
            .iter()
            .any(|c| to.writes(*c) && !from.writes(*c))
        {
            out.push(self.unmanaged_consumers(topic).await);
        }
        for c in Cluster::BOTH {
            if to.writes(c) && !from.writes(c) {
                out.push(self.consumers_applied(topic, c));
            }
        }
        for c in Cluster::BOTH {
            if from.read_set().contains(c) && !to.read_set().contains(c) {
                out.push(self.producers_applied(topic, c));
                out.push(self.lag_zero(topic, c, Lag::Topic).await);
                out.push(self.lag_zero(topic, c, Lag::Retry).await);
                out.push(self.scheduled_zero(topic, c).await);
                out.push(self.quiet(topic, c).await);
            }
        }
        let state = self
            .table
            .current()
            .topics
            .get(topic)
            .copied()
            .unwrap_or_default();
        if from.read_set().contains(Cluster::Source) && !to.read_set().contains(Cluster::Source) {
            out.push(self.dlq_reviewed(topic).await);
        }
        if state.orderly && from == Phase::CuttingOver && to == Phase::Completed {
            out.push(check(
                "source_sealed",
                state.sealed,
                if state.sealed {
                    "the source is sealed: every producer applied cutting_over"
                } else {
                    "the orderly topic's source is not sealed yet: a live producer has not applied cutting_over \
                     (see /v1/clients)"
                },
            ));
        }
        out
    }

    /// Whether every live producer of `topic` has applied `cutting_over` at `state`'s version or later, with no
    /// send from an earlier state running (producers report the oldest state a running send was routed under).
    pub(crate) fn producers_sealed(&self, topic: &str, state: &TopicState) -> CheckResult {
        clients_applied(
            "producers_sealed",
            &self.registry.live_of(topic, Role::Producer),
            topic,
            |a| a.is_some_and(|a| a.version >= state.version && !a.phase.writes(Cluster::Source)),
            |a| format!("{} v{}", a.phase, a.version),
            |n| {
                format!(
                    "{n} live producer client(s) applied cutting_over v{} or later",
                    state.version
                )
            },
            |behind| {
                format!(
                    "live producers not yet on cutting_over v{}: {behind}",
                    state.version
                )
            },
        )
    }

    /// Every live client of `topic` uses, on each cluster, the namespace the control plane asks that cluster's
    /// brokers in; otherwise the control plane and the application would mean different topics by one name.
    fn namespaces_match(&self, topic: &str) -> CheckResult {
        let code = "namespaces_match";
        let mut clients = self.registry.live_of(topic, Role::Producer);
        clients.extend(self.registry.live_of(topic, Role::Consumer));
        let show = |n: Option<&str>| n.map_or("none".to_owned(), |n| format!("{n:?}"));
        let mut wrong = Vec::new();
        for h in &clients {
            for c in Cluster::BOTH {
                let (mine, theirs) = (self.admin(c).namespace(), h.namespaces.on(c));
                if mine != theirs {
                    wrong.push(format!(
                        "{} uses namespace {} on the {c}, the control plane {}",
                        h.client_id,
                        show(theirs),
                        show(mine)
                    ));
                }
            }
        }
        let ours = format!(
            "source {}, target {}",
            show(self.admin[0].namespace()),
            show(self.admin[1].namespace())
        );
        if wrong.is_empty() {
            check(
                code,
                true,
                format!(
                    "{} live client(s) use the control plane's namespaces ({ours})",
                    clients.len()
                ),
            )
        } else {
            check(
                code,
                false,
                format!(
                    "{}; set serve --source-namespace / --target-namespace, or the clients' ClusterConfig::namespace,                  so both mean the same topics",
                    wrong.join("; ")
                ),
            )
        }
    }

    async fn target_topic_exists(&self, topic: &str) -> CheckResult {
        let code = "target_topic_exists";
        match self.admin(Cluster::Target).topic_exists(topic).await {
            Ok(true) => check(code, true, format!("topic {topic} exists on the target")),
            Ok(false) => check(code, false, format!("topic {topic} does not exist on the target: create it (rmq-migrate import, or mqadmin updateTopic) first")),
            Err(e) => check(code, false, format!("could not ask the target: {e}")),
        }
    }

    /// The consumer groups of `topic`: groups with offsets for it on the source, plus groups of shim consumers.
    pub(crate) async fn groups_of(
        &self,
        topic: &str,
        c: Cluster,
    ) -> Result<BTreeSet<String>, String> {
        let mut groups = self.admin(c).groups_of_topic(topic).await?;
        groups.extend(self.registry.groups_of(topic, Role::Consumer));
        Ok(groups)
    }

    /// The groups of `topic` (as the source and the shim clients know them), and those missing on the target.
    async fn missing_on_target(
        &self,
        topic: &str,
    ) -> Result<(BTreeSet<String>, Vec<String>), String> {
        let groups = self
            .groups_of(topic, Cluster::Source)
            .await
            .map_err(|e| format!("could not list the topic's groups on the source: {e}"))?;
        let mut missing = Vec::new();
        for g in &groups {
            let exists = self
                .admin(Cluster::Target)
                .group_exists(g)
                .await
                .map_err(|e| format!("could not ask the target about group {g}: {e}"))?;
            if !exists {
                missing.push(g.clone());
            }
        }
        Ok((groups, missing))
    }

    async fn target_groups_exist(&self, topic: &str) -> CheckResult {
        let code = "target_groups_exist";
        match self.missing_on_target(topic).await {
            Err(e) => check(code, false, e),
            Ok((groups, _)) if groups.is_empty() => {
                check(code, true, format!("no consumer group of {topic} is known"))
            }
            Ok((groups, missing)) if missing.is_empty() => {
                check(code, true, format!("groups {groups:?} exist on the target"))
            }
            Ok((groups, missing)) => check(
                code,
                false,
                format!("groups missing on the target: {missing:?} (of {groups:?})"),
            ),
        }
    }

    fn consumers_applied(&self, topic: &str, joining: Cluster) -> CheckResult {
        clients_applied(
            "consumers_applied",
            &self.registry.live_of(topic, Role::Consumer),
            topic,
            |a| a.is_some_and(|a| a.phase.read_set().contains(joining)),
            |a| a.phase.to_string(),
            |n| format!("{n} live consumer client(s) read the {joining}"),
            |behind| format!("live consumers not yet reading the {joining}: {behind}"),
        )
    }

    fn producers_applied(&self, topic: &str, dropped: Cluster) -> CheckResult {
        clients_applied(
            "producers_applied",
            &self.registry.live_of(topic, Role::Producer),
            topic,
            |a| !a.map_or(Phase::Initial, |a| a.phase).writes(dropped),
            |a| a.phase.to_string(),
            |n| format!("{n} live producer client(s) no longer write the {dropped}"),
            |behind| format!("live producers still writing the {dropped}: {behind}"),
        )
    }

    /// The groups of `topic` on `c`, and a `"<where>: <count>"` line for each with unconsumed messages in `lag`.
    async fn lagging(
        &self,
        topic: &str,
        c: Cluster,
        lag: Lag,
    ) -> Result<(BTreeSet<String>, Vec<String>), String> {
        let groups = self
            .groups_of(topic, c)
            .await
            .map_err(|e| format!("could not list the topic's groups on the {c}: {e}"))?;
        let admin = self.admin(c);
        let mut behind = Vec::new();
        for g in &groups {
            let (n, place) = match lag {
                Lag::Topic => (admin.backlog(g, topic).await, g.clone()),
                Lag::Retry => (admin.retry_backlog(g).await, crate::due::retry_topic(g)),
            };
            match n {
                Ok(0) => {}
                Ok(n) => behind.push(format!("{place}: {n}")),
                Err(e) => return Err(format!("could not read {place}'s backlog on the {c}: {e}")),
            }
        }
        Ok((groups, behind))
    }

    /// Every group of `topic` on `c` has consumed `lag`: the topic's own queues, or its retry topic (whose retries
    /// are messages of the topic still due there).
    pub(crate) async fn lag_zero(&self, topic: &str, c: Cluster, lag: Lag) -> CheckResult {
        let code = match lag {
            Lag::Topic => format!("{c}_backlog_zero"),
            Lag::Retry => format!("{c}_retry_backlog_zero"),
        };
        match self.lagging(topic, c, lag).await {
            Err(e) => check(code, false, e),
            Ok((groups, behind)) if behind.is_empty() => check(
                code,
                true,
                match lag {
                    Lag::Topic => {
                        format!("no unconsumed message of {topic} on the {c} (groups {groups:?})")
                    }
                    Lag::Retry => format!("no unconsumed retry on the {c} (groups {groups:?})"),
                },
            ),
            Ok((_, behind)) => check(
                code,
                false,
                match lag {
                    Lag::Topic => format!(
                        "unconsumed messages of {topic} on the {c}: {}",
                        behind.join(", ")
                    ),
                    Lag::Retry => format!(
                        "unconsumed retries on the {c} (a group's retry topic holds retries of every topic it reads): {}",
                        behind.join(", ")
                    ),
                },
            ),
        }
    }

    /// Nothing of `topic` (nor a retry of it) waits in `c`'s schedule: delay levels and the timer wheel.
    pub(crate) async fn scheduled_zero(&self, topic: &str, c: Cluster) -> CheckResult {
        let code = format!("{c}_scheduled_zero");
        let s = match self.admin(c).scheduled(topic).await {
            Ok(s) => s,
            Err(e) => {
                return check(
                    code,
                    false,
                    format!(
                        "could not count the messages of {topic} still scheduled on the {c}: {e} (consumers keep \
                         reading the {c} for their linger window after it leaves the read set)"
                    ),
                )
            }
        };
        let mut parts = Vec::new();
        if s.topic > 0 {
            let latest = s.latest_timer_ms.map_or(String::new(), |ms| {
                format!(
                    "; the latest timer message is due at {}",
                    crate::server::state::audit::rfc3339(
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64)
                    )
                )
            });
            parts.push(format!(
                "{} message(s) sent to {topic} with a delay level or delivery time, not delivered yet{latest}",
                s.topic
            ));
        }
        for (g, n) in &s.retries {
            parts.push(format!(
                "{n} retry(ies) of group {g} waiting out their delay"
            ));
        }
        if !s.incomplete.is_empty() {
            parts.push(format!(
                "the count is incomplete: {} (consumers keep reading the {c} for their linger window)",
                s.incomplete.join("; ")
            ));
        }
        if parts.is_empty() {
            check(
                code,
                true,
                format!(
                    "nothing of {topic} is scheduled on the {c} (delay levels, timer, retries)"
                ),
            )
        } else {
            check(
                code,
                false,
                format!("{} scheduled on the {c}: {}", s.total(), parts.join("; ")),
            )
        }
    }

    /// The topic's groups' dead letters on `c`, per group: `(group, count)`.
    pub(crate) async fn dead_letters(
        &self,
        topic: &str,
        c: Cluster,
    ) -> Result<Vec<(String, u64)>, String> {
        let mut out = Vec::new();
        for g in self.groups_of(topic, c).await? {
            let n = self.admin(c).dead_letters(&g).await?;
            out.push((g, n));
        }
        Ok(out)
    }

    /// Dead letters of `topic`'s groups on both clusters (groups as the source and the shim clients know them).
    pub(crate) async fn dead_letters_both(&self, topic: &str) -> Vec<GroupDeadLetters> {
        let groups = match self.groups_of(topic, Cluster::Source).await {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!(topic, error = %e, "could not list the topic's groups for dead letters");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for g in groups {
            let mut row = GroupDeadLetters {
                group: g.clone(),
                ..Default::default()
            };
            for c in Cluster::BOTH {
                let n = self.admin(c).dead_letters(&g).await.ok();
                match c {
                    Cluster::Source => row.source = n,
                    Cluster::Target => row.target = n,
                }
            }
            out.push(row);
        }
        out
    }

    /// The source's dead letters of the topic's groups are 0, or no more than the operator acknowledged.
    async fn dlq_reviewed(&self, topic: &str) -> CheckResult {
        let code = "source_dlq_reviewed";
        let found = match self.dead_letters(topic, Cluster::Source).await {
            Ok(f) => f,
            Err(e) => {
                return check(
                    code,
                    false,
                    format!("could not count the dead letters on the source: {e}"),
                )
            }
        };
        let total: u64 = found.iter().map(|(_, n)| n).sum();
        let listed = found
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(g, n)| format!("{}: {n}", crate::due::dlq_topic(g)))
            .collect::<Vec<_>>()
            .join(", ");
        match self.table.current().dlq_reviewed.get(topic).copied() {
            _ if total == 0 => check(code, true, "no dead letter on the source"),
            Some(r) if total <= r => check(
                code,
                true,
                format!("{total} dead letter(s) on the source ({listed}), reviewed by an operator ({r} acknowledged)"),
            ),
            reviewed => check(
                code,
                false,
                format!(
                    "{total} dead letter(s) on the source ({listed}){}: review them (rmq-migrate dlq list / dlq resend), \
                     then acknowledge with rmq-migrate dlq ack {topic}",
                    reviewed.map_or(String::new(), |r| format!(", {} more than acknowledged", total - r))
                ),
            ),
        }
    }

    /// The consumers connected for `topic`'s groups on either cluster that are not shim clients, as
    /// `group <g> on the <cluster>: client <id> at <address>`, and how many connections there are in all.
    pub(crate) async fn foreign_consumers(
        &self,
        topic: &str,
    ) -> Result<(Vec<String>, usize), String> {
        let mut foreign = Vec::new();
        let mut seen = 0usize;
        for c in Cluster::BOTH {
            let shim = self.registry.broker_clients(c);
            let groups = self
                .groups_of(topic, c)
                .await
                .map_err(|e| format!("could not list the topic's groups on the {c}: {e}"))?;
            for g in groups {
                let conns = self.admin(c).connections(&g).await.map_err(|e| {
                    format!("could not read group {g}'s connections on the {c}: {e}")
                })?;
                for (client_id, addr) in conns {
                    seen += 1;
                    if !shim.contains(&client_id) {
                        foreign.push(format!(
                            "group {g} on the {c}: client {client_id} at {addr}"
                        ));
                    }
                }
            }
        }
        Ok((foreign, seen))
    }

    /// Every client connected for a consumer group of `topic`, on either cluster, is a shim client: a raw consumer
    /// would not see what is written to the other cluster.
    async fn unmanaged_consumers(&self, topic: &str) -> CheckResult {
        let code = "unmanaged_consumers";
        let (foreign, seen) = match self.foreign_consumers(topic).await {
            Ok(found) => found,
            Err(e) => return check(code, false, e),
        };
        if foreign.is_empty() {
            check(
                code,
                true,
                format!("all {seen} consumer connection(s) of the topic's groups are shim clients"),
            )
        } else {
            check(
                code,
                false,
                format!(
                    "consumers outside the shim would miss what is written to the other cluster: {} (stop them or \
                     build them with the shim)",
                    foreign.join("; ")
                ),
            )
        }
    }

    async fn quiet(&self, topic: &str, c: Cluster) -> CheckResult {
        let code = format!("{c}_quiet");
        let window = self.quiet_window;
        if let Err(e) = self.traffic.sample(self.admin(c), topic, c).await {
            return check(
                code,
                false,
                format!("could not read {topic}'s offsets on the {c}: {e}"),
            );
        }
        match self.traffic.get(topic, c) {
            None => check(code, false, format!("{topic} has not been observed on the {c} yet")),
            Some(o) if o.since.elapsed() < window => check(
                code,
                false,
                format!(
                    "{topic} on the {c} observed for {:.1} s only; the quiet window is {:.1} s",
                    o.since.elapsed().as_secs_f64(),
                    window.as_secs_f64()
                ),
            ),
            Some(o) if o.quiet_for() < window => check(
                code,
                false,
                format!(
                    "{topic} on the {c} received a message {:.1} s ago (quiet window {:.1} s): a producer not using the shim may still write there",
                    o.quiet_for().as_secs_f64(),
                    window.as_secs_f64()
                ),
            ),
            Some(o) => check(
                code,
                true,
                format!(
                    "no new message of {topic} on the {c} for {:.1} s ({} stored)",
                    o.quiet_for().as_secs_f64(),
                    o.stored.map_or("none".to_owned(), |n| n.to_string())
                ),
            ),
        }
    }
}
