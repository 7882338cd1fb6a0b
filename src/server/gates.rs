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

use super::app::App;
use crate::cluster::Cluster;
use crate::control::wire::{CheckResult, GroupDeadLetters, Role};
use crate::phase::Phase;
use crate::route::TopicState;

/// Run every check the move `from` → `to` of `topic` needs.
pub(crate) async fn run(app: &App, topic: &str, from: Phase, to: Phase) -> Vec<CheckResult> {
    let mut out = vec![namespaces_match(app, topic)];
    if from == Phase::Initial && to == Phase::DualRead {
        out.push(target_topic_exists(app, topic).await);
        out.push(target_groups_exist(app, topic).await);
    }
    if Cluster::BOTH
        .iter()
        .any(|c| to.writes(*c) && !from.writes(*c))
    {
        out.push(unmanaged_consumers(app, topic).await);
    }
    for c in Cluster::BOTH {
        if to.writes(c) && !from.writes(c) {
            out.push(consumers_applied(app, topic, c));
        }
    }
    for c in Cluster::BOTH {
        if from.read_set().contains(c) && !to.read_set().contains(c) {
            out.push(producers_applied(app, topic, c));
            out.push(backlog_zero(app, topic, c).await);
            out.push(retry_backlog_zero(app, topic, c).await);
            out.push(scheduled_zero(app, topic, c).await);
            out.push(quiet(app, topic, c).await);
        }
    }
    let state = app.table().topics.get(topic).copied().unwrap_or_default();
    if from.read_set().contains(Cluster::Source) && !to.read_set().contains(Cluster::Source) {
        out.push(dlq_reviewed(app, topic).await);
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

/// Whether every live producer of `topic` has applied `cutting_over` at `state`'s version or later, with no send
/// from an earlier state running (producers report the oldest state a running send was routed under).
pub(crate) fn producers_sealed(app: &App, topic: &str, state: &TopicState) -> CheckResult {
    let code = "producers_sealed";
    let producers = app.registry.live_of(topic, Role::Producer);
    let behind: Vec<String> = producers
        .iter()
        .filter(|h| {
            !h.applied
                .get(topic)
                .is_some_and(|a| a.version >= state.version && !a.phase.writes(Cluster::Source))
        })
        .map(|h| {
            let at = h.applied.get(topic).map_or("initial".to_owned(), |a| {
                format!("{} v{}", a.phase, a.version)
            });
            format!("{} (applied {at})", h.client_id)
        })
        .collect();
    if behind.is_empty() {
        check(
            code,
            true,
            format!(
                "{} live producer client(s) applied cutting_over v{} or later",
                producers.len(),
                state.version
            ),
        )
    } else {
        check(
            code,
            false,
            format!(
                "live producers not yet on cutting_over v{}: {}",
                state.version,
                behind.join(", ")
            ),
        )
    }
}

/// Every live client of `topic` uses, on each cluster, the namespace the control plane asks that cluster's brokers
/// in; otherwise the control plane and the application would mean different topics by one name.
fn namespaces_match(app: &App, topic: &str) -> CheckResult {
    let code = "namespaces_match";
    let mut clients = app.registry.live_of(topic, Role::Producer);
    clients.extend(app.registry.live_of(topic, Role::Consumer));
    let show = |n: Option<&str>| n.map_or("none".to_owned(), |n| format!("{n:?}"));
    let mut wrong = Vec::new();
    for h in &clients {
        for c in Cluster::BOTH {
            let (mine, theirs) = (app.admin[c.index()].namespace(), h.namespaces.on(c));
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
        show(app.admin[0].namespace()),
        show(app.admin[1].namespace())
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

fn check(code: impl Into<String>, passed: bool, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        code: code.into(),
        passed,
        detail: detail.into(),
    }
}

async fn target_topic_exists(app: &App, topic: &str) -> CheckResult {
    let code = "target_topic_exists";
    match app.admin[Cluster::Target.index()].topic_exists(topic).await {
        Ok(true) => check(code, true, format!("topic {topic} exists on the target")),
        Ok(false) => check(code, false, format!("topic {topic} does not exist on the target: create it (rmq-migrate import, or mqadmin updateTopic) first")),
        Err(e) => check(code, false, format!("could not ask the target: {e}")),
    }
}

/// The consumer groups of `topic`: groups with offsets for it on the source, plus groups of shim consumers.
pub(crate) async fn groups_of(
    app: &App,
    topic: &str,
    c: Cluster,
) -> Result<BTreeSet<String>, String> {
    let mut groups = app.admin[c.index()].groups_of_topic(topic).await?;
    groups.extend(app.registry.groups_of(topic, Role::Consumer));
    Ok(groups)
}

async fn target_groups_exist(app: &App, topic: &str) -> CheckResult {
    let code = "target_groups_exist";
    let groups = match groups_of(app, topic, Cluster::Source).await {
        Ok(g) => g,
        Err(e) => {
            return check(
                code,
                false,
                format!("could not list the topic's groups on the source: {e}"),
            )
        }
    };
    if groups.is_empty() {
        return check(code, true, format!("no consumer group of {topic} is known"));
    }
    let mut missing = Vec::new();
    for g in &groups {
        match app.admin[Cluster::Target.index()].group_exists(g).await {
            Ok(true) => {}
            Ok(false) => missing.push(g.clone()),
            Err(e) => {
                return check(
                    code,
                    false,
                    format!("could not ask the target about group {g}: {e}"),
                )
            }
        }
    }
    if missing.is_empty() {
        check(code, true, format!("groups {groups:?} exist on the target"))
    } else {
        check(
            code,
            false,
            format!("groups missing on the target: {missing:?} (of {groups:?})"),
        )
    }
}

fn consumers_applied(app: &App, topic: &str, joining: Cluster) -> CheckResult {
    let code = "consumers_applied";
    let consumers = app.registry.live_of(topic, Role::Consumer);
    let behind: Vec<String> = consumers
        .iter()
        .filter(|h| {
            !h.applied
                .get(topic)
                .is_some_and(|a| a.phase.read_set().contains(joining))
        })
        .map(|h| {
            let at = h
                .applied
                .get(topic)
                .map_or("initial".to_owned(), |a| a.phase.to_string());
            format!("{} (applied {at})", h.client_id)
        })
        .collect();
    if behind.is_empty() {
        check(
            code,
            true,
            format!(
                "{} live consumer client(s) read the {joining}",
                consumers.len()
            ),
        )
    } else {
        check(
            code,
            false,
            format!(
                "live consumers not yet reading the {joining}: {}",
                behind.join(", ")
            ),
        )
    }
}

fn producers_applied(app: &App, topic: &str, dropped: Cluster) -> CheckResult {
    let code = "producers_applied";
    let producers = app.registry.live_of(topic, Role::Producer);
    let behind: Vec<String> = producers
        .iter()
        .filter(|h| {
            h.applied
                .get(topic)
                .map_or(Phase::Initial, |a| a.phase)
                .writes(dropped)
        })
        .map(|h| {
            let at = h
                .applied
                .get(topic)
                .map_or("initial".to_owned(), |a| a.phase.to_string());
            format!("{} (applied {at})", h.client_id)
        })
        .collect();
    if behind.is_empty() {
        check(
            code,
            true,
            format!(
                "{} live producer client(s) no longer write the {dropped}",
                producers.len()
            ),
        )
    } else {
        check(
            code,
            false,
            format!(
                "live producers still writing the {dropped}: {}",
                behind.join(", ")
            ),
        )
    }
}

/// Which per-group backlog a check reads.
#[derive(Clone, Copy)]
enum Lag {
    /// The topic's own queues.
    Topic,
    /// The group's retry topic.
    Retry,
}

/// The groups of `topic` on `c`, and a `"<where>: <count>"` line for each with unconsumed messages in `lag`.
async fn lagging(
    app: &App,
    topic: &str,
    c: Cluster,
    lag: Lag,
) -> Result<(BTreeSet<String>, Vec<String>), String> {
    let groups = groups_of(app, topic, c)
        .await
        .map_err(|e| format!("could not list the topic's groups on the {c}: {e}"))?;
    let admin = &app.admin[c.index()];
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

pub(crate) async fn backlog_zero(app: &App, topic: &str, c: Cluster) -> CheckResult {
    let code = format!("{c}_backlog_zero");
    match lagging(app, topic, c, Lag::Topic).await {
        Err(e) => check(code, false, e),
        Ok((groups, behind)) if behind.is_empty() => check(
            code,
            true,
            format!("no unconsumed message of {topic} on the {c} (groups {groups:?})"),
        ),
        Ok((_, behind)) => check(
            code,
            false,
            format!(
                "unconsumed messages of {topic} on the {c}: {}",
                behind.join(", ")
            ),
        ),
    }
}

/// Every group's retry topic on `c` is consumed (its retries are messages of the topic still due there).
pub(crate) async fn retry_backlog_zero(app: &App, topic: &str, c: Cluster) -> CheckResult {
    let code = format!("{c}_retry_backlog_zero");
    match lagging(app, topic, c, Lag::Retry).await {
        Err(e) => check(code, false, e),
        Ok((groups, behind)) if behind.is_empty() => check(
            code,
            true,
            format!("no unconsumed retry on the {c} (groups {groups:?})"),
        ),
        Ok((_, behind)) => check(
            code,
            false,
            format!(
                "unconsumed retries on the {c} (a group's retry topic holds retries of every topic it reads): {}",
                behind.join(", ")
            ),
        ),
    }
}

/// Nothing of `topic` (nor a retry of it) waits in `c`'s schedule: delay levels and the timer wheel.
pub(crate) async fn scheduled_zero(app: &App, topic: &str, c: Cluster) -> CheckResult {
    let code = format!("{c}_scheduled_zero");
    let s = match app.admin[c.index()].scheduled(topic).await {
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
                super::audit::rfc3339(
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
            format!("nothing of {topic} is scheduled on the {c} (delay levels, timer, retries)"),
        )
    } else {
        check(
            code,
            false,
            format!("{} scheduled on the {c}: {}", s.total(), parts.join("; ")),
        )
    }
}

/// The topic's groups' dead letters on the source, per group: `(group, count)`.
pub(crate) async fn dead_letters(
    app: &App,
    topic: &str,
    c: Cluster,
) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    for g in groups_of(app, topic, c).await? {
        let n = app.admin[c.index()].dead_letters(&g).await?;
        out.push((g, n));
    }
    Ok(out)
}

/// Dead letters of `topic`'s groups on both clusters (groups as the source and the shim clients know them).
pub(crate) async fn dead_letters_both(app: &App, topic: &str) -> Vec<GroupDeadLetters> {
    let groups = match groups_of(app, topic, Cluster::Source).await {
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
            let n = app.admin[c.index()].dead_letters(&g).await.ok();
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
async fn dlq_reviewed(app: &App, topic: &str) -> CheckResult {
    let code = "source_dlq_reviewed";
    let found = match dead_letters(app, topic, Cluster::Source).await {
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
    match app.table().dlq_reviewed.get(topic).copied() {
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
    app: &App,
    topic: &str,
) -> Result<(Vec<String>, usize), String> {
    let mut foreign = Vec::new();
    let mut seen = 0usize;
    for c in Cluster::BOTH {
        let shim = app.registry.broker_clients(c);
        let groups = groups_of(app, topic, c)
            .await
            .map_err(|e| format!("could not list the topic's groups on the {c}: {e}"))?;
        for g in groups {
            let conns = app.admin[c.index()]
                .connections(&g)
                .await
                .map_err(|e| format!("could not read group {g}'s connections on the {c}: {e}"))?;
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
async fn unmanaged_consumers(app: &App, topic: &str) -> CheckResult {
    let code = "unmanaged_consumers";
    let (foreign, seen) = match foreign_consumers(app, topic).await {
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

async fn quiet(app: &App, topic: &str, c: Cluster) -> CheckResult {
    let code = format!("{c}_quiet");
    let window = app.quiet_window;
    match app.admin[c.index()].stored(topic).await {
        Ok(stored) => app.traffic.observe(topic, c, stored),
        Err(e) => {
            app.traffic.unknown(topic, c);
            return check(
                code,
                false,
                format!("could not read {topic}'s offsets on the {c}: {e}"),
            );
        }
    }
    match app.traffic.get(topic, c) {
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
