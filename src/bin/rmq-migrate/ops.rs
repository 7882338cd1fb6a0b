//! Operator subcommands: thin calls to the control plane's API, printed as tables or JSON.

use std::process::ExitCode;

use rocketmq_migration::control::wire::{CheckResult, RegisterTopics};
use rocketmq_migration::control::ControlApi;
use rocketmq_migration::{ErrorKind, MigrationError, TopicState};
use serde::Serialize;

use crate::files::{file_error, read_text};
use crate::{CliResult, MoveArgs, Output, Remote};

pub(crate) fn api(r: &Remote) -> Result<ControlApi, MigrationError> {
    let token = match (&r.token, &r.token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(path)) => Some(read_text("token_file", path)?.trim().to_owned()),
        (None, None) => None,
    };
    let api = match &r.ca_cert {
        None => ControlApi::new(&r.endpoint, token)?,
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| file_error("ca_cert", path, "cannot be read", e))?;
            ControlApi::with_ca(&r.endpoint, token, &pem)?
        }
    };
    Ok(match &r.actor {
        Some(a) => api.actor(a.clone()),
        None => api,
    })
}

/// Print `v` as pretty JSON (`--output json`).
pub(crate) fn print_json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

/// Print `v` as pretty JSON (`--output json`), a success.
pub(crate) fn json<T: Serialize>(v: &T) -> CliResult {
    print_json(v);
    Ok(ExitCode::SUCCESS)
}

/// `passed` or the failing check codes.
pub(crate) fn readiness(checks: &[CheckResult]) -> String {
    let failing: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.code.as_str())
        .collect();
    if checks.is_empty() {
        "-".into()
    } else if failing.is_empty() {
        "ready".into()
    } else {
        format!("blocked: {}", failing.join(","))
    }
}

/// One readiness check as `health` and `task show` print it: `ok` or `FAILED`, the check's code, its detail.
pub(crate) fn check_line(c: &CheckResult) -> String {
    let outcome = if c.passed { "ok" } else { "FAILED" };
    format!("{outcome:<6} {:<28} {}", c.code, c.detail)
}

/// The control plane has no task (`404 no_task`).
fn is_no_task(e: &MigrationError) -> bool {
    rocketmq_migration::control::Refusal::of(e).is_some_and(|r| r.body.error == "no_task")
}

fn opt(n: Option<u64>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// `health`: run the topics' readiness checks now (status shows the last background scan). Exits 5 unless every
/// topic's next step is ready.
pub(crate) async fn health(r: &Remote, topics: &[String]) -> CliResult {
    let api = api(r)?;
    let mut views = Vec::new();
    for t in topics {
        views.push(api.health_check(t).await?);
    }
    let ready = views.iter().all(|v| v.advance.iter().all(|c| c.passed));
    if r.output == Output::Json {
        json(&views)?;
    } else {
        for v in &views {
            println!(
                "{} ({}, checked {}): next step {}",
                v.topic,
                v.state.phase,
                v.checked_at.as_deref().unwrap_or("-"),
                readiness(&v.advance)
            );
            for (way, checks) in [("advance", &v.advance), ("rollback", &v.rollback)] {
                for c in checks {
                    println!("  {way:<8} {}", check_line(c));
                }
            }
        }
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(5)
    })
}

/// `remove`: take topics out of the migration (each only while `initial`; the first refusal stops, exit 3).
pub(crate) async fn remove(r: &Remote, topics: &[String]) -> CliResult {
    let api = api(r)?;
    for t in topics {
        api.delete(t).await?;
        println!("{t}: removed");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn status(r: &Remote) -> CliResult {
    let api = api(r)?;
    let topics = api.topics().await?;
    if r.output == Output::Json {
        return json(&topics);
    }
    if let Some(d) = api.divergence().await? {
        print_divergence(&d);
    }
    match api.task(false).await {
        Ok(v) => println!(
            "task {:?}: step {}{}",
            v.task.name,
            v.task.step,
            v.task
                .paused
                .as_ref()
                .map(|p| format!(", PAUSED by {} at {}: phase moves are refused", p.by, p.at))
                .unwrap_or_default()
        ),
        Err(e) if is_no_task(&e) => {}
        Err(e) => return Err(e),
    }
    println!(
        "{:<32} {:<16} {:>5} {:>7} {:<40} {:>7} {:>10} {:>10} {:>7} {:>7}",
        "TOPIC",
        "PHASE",
        "RATIO",
        "VERSION",
        "NEXT STEP",
        "CLIENTS",
        "SRC STORED",
        "TGT STORED",
        "SRC DLQ",
        "TGT DLQ"
    );
    for t in &topics {
        let dlq =
            |side: fn(&rocketmq_migration::control::wire::GroupDeadLetters) -> Option<u64>| {
                let known: Vec<u64> = t.dead_letters.iter().filter_map(side).collect();
                opt((known.len() == t.dead_letters.len()).then(|| known.iter().sum()))
            };
        println!(
            "{:<32} {:<16} {:>5.2} {:>7} {:<40} {:>7} {:>10} {:>10} {:>7} {:>7}",
            t.topic,
            phase_flags(&t.state),
            t.state.write_ratio,
            t.state.version,
            readiness(&t.advance),
            t.clients.len(),
            opt(t.source.stored),
            opt(t.target.stored),
            dlq(|g| g.source),
            dlq(|g| g.target)
        );
    }
    for t in topics.iter().filter(|t| !t.dead_letters.is_empty()) {
        for g in t
            .dead_letters
            .iter()
            .filter(|g| g.source.unwrap_or(0) + g.target.unwrap_or(0) > 0)
        {
            println!(
                "  {}: dead letters of group {}: source {}, target {}",
                t.topic,
                g.group,
                opt(g.source),
                opt(g.target)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The phase, with `orderly` and `sealed` marks: `cutting_over [o,s]`.
fn phase_flags(s: &TopicState) -> String {
    match (s.orderly, s.sealed) {
        (false, _) => s.phase.as_str().to_owned(),
        (true, false) => format!("{} [o]", s.phase.as_str()),
        (true, true) => format!("{} [o,s]", s.phase.as_str()),
    }
}

pub(crate) async fn register(
    r: &Remote,
    topics: &[String],
    ratio: Option<f64>,
    orderly: bool,
) -> CliResult {
    let out = api(r)?
        .register_topics(
            RegisterTopics::new(topics)
                .with_write_ratio(ratio)
                .with_orderly(orderly),
        )
        .await?;
    if r.output == Output::Json {
        return json(&out);
    }
    for t in out {
        let what = if t.registered {
            "registered"
        } else {
            "already registered"
        };
        println!(
            "{:<32} {what} ({}{}, version {})",
            t.topic,
            t.state.phase,
            if t.state.orderly { ", orderly" } else { "" },
            t.state.version
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Several topics (or a selection) one step, as one batch; exit 3 when any is refused.
async fn move_batch(m: &MoveArgs, back: bool) -> CliResult {
    use rocketmq_migration::control::wire::{
        BatchMode, BatchMoveRequest, BatchSelector, BatchTopic,
    };
    let api = api(&m.remote)?;
    let usage = |why: &str| {
        MigrationError::from(rocketmq_migration::ConfigError::new(
            rocketmq_migration::ConfigErrorKind::InvalidValue,
            "topics",
            m.topics.join(" "),
            why,
        ))
    };
    if m.expected.is_some() {
        return Err(usage(
            "--expected names one topic's phase; a batch reads each topic's current phase",
        ));
    }
    let selecting = m.all_ready || m.phase.is_some();
    if selecting && !m.topics.is_empty() {
        return Err(usage(
            "list topics or select them (--all-ready, --phase), not both",
        ));
    }
    if !selecting && m.topics.is_empty() {
        return Err(usage("name at least one topic"));
    }
    let req = if selecting {
        BatchMoveRequest::selected(BatchSelector::new(m.phase, m.all_ready))
    } else {
        let table = api.phases().await?;
        let mut topics = Vec::with_capacity(m.topics.len());
        for t in &m.topics {
            let phase = table.topics.get(t).map(|s| s.phase).ok_or_else(|| {
                MigrationError::new(
                    ErrorKind::Refused,
                    None,
                    format!("topic {t:?} is not registered for migration"),
                )
            })?;
            topics.push(BatchTopic::new(t.clone(), phase));
        }
        BatchMoveRequest::listed(topics)
    }
    .with_mode(if m.each {
        BatchMode::Each
    } else {
        BatchMode::AllOrNothing
    })
    .with_force(m.force);
    let r = if back {
        api.rollback_batch(req).await?
    } else {
        api.advance_batch(req).await?
    };
    if m.remote.output == Output::Json {
        json(&r)?;
    } else {
        for item in &r.results {
            match (&item.moved, &item.refused) {
                (Some(mv), _) => println!(
                    "{}: {} -> {} (version {}){}",
                    item.topic,
                    mv.from,
                    mv.to,
                    mv.state.version,
                    if mv.forced { " FORCED" } else { "" }
                ),
                (None, Some(e)) => {
                    println!("{}: refused ({}): {}", item.topic, e.error, e.message);
                    for c in e.checks.iter().filter(|c| !c.passed) {
                        println!("  [FAIL] {}: {}", c.code, c.detail);
                    }
                }
                (None, None) => {}
            }
        }
        println!("{} moved, {} refused ({:?})", r.moved, r.refused, r.mode);
    }
    Ok(if r.refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

pub(crate) async fn move_topic(m: &MoveArgs, back: bool) -> CliResult {
    if m.topics.len() != 1 || m.all_ready || m.phase.is_some() {
        return move_batch(m, back).await;
    }
    let topic = &m.topics[0];
    let api = api(&m.remote)?;
    let expected = match m.expected {
        Some(p) => p,
        None => api
            .phases()
            .await?
            .topics
            .get(topic)
            .map(|s| s.phase)
            .ok_or_else(|| {
                MigrationError::new(
                    ErrorKind::Refused,
                    None,
                    format!("topic {topic:?} is not registered for migration"),
                )
            })?,
    };
    let result = if back {
        api.rollback(topic, expected, m.force).await
    } else {
        api.advance(topic, expected, m.force).await
    };
    let moved = match result {
        Ok(moved) => moved,
        Err(e) => {
            if let Some(refusal) = rocketmq_migration::control::Refusal::of(&e) {
                for c in &refusal.body.checks {
                    eprintln!(
                        "  [{}] {}: {}",
                        if c.passed { "ok" } else { "FAIL" },
                        c.code,
                        c.detail
                    );
                }
            }
            return Err(e);
        }
    };
    if m.remote.output == Output::Json {
        return json(&moved);
    }
    println!(
        "{}: {} -> {} (version {}){}",
        moved.topic,
        moved.from,
        moved.to,
        moved.state.version,
        if moved.forced { " FORCED" } else { "" }
    );
    for c in &moved.checks {
        println!(
            "  [{}] {}: {}",
            if c.passed { "ok" } else { "FAIL" },
            c.code,
            c.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn orderly(r: &Remote, topic: &str, orderly: bool) -> CliResult {
    let state = api(r)?.set_orderly(topic, orderly).await?;
    let on = if state.orderly { "on" } else { "off" };
    let line = format!("{topic}: orderly {on} (version {})", state.version);
    setting_changed(r, &state, &line)
}

pub(crate) async fn ratio(r: &Remote, topic: &str, ratio: f64) -> CliResult {
    let state = api(r)?.set_write_ratio(topic, ratio).await?;
    let line = format!(
        "{topic}: write ratio {} (version {})",
        state.write_ratio, state.version
    );
    setting_changed(r, &state, &line)
}

/// A topic's state after one of its settings changed: as JSON, or `line`.
fn setting_changed(r: &Remote, state: &TopicState, line: &str) -> CliResult {
    if r.output == Output::Json {
        return json(state);
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// `monitor`: one line per point, both clusters side by side.
pub(crate) async fn monitor(
    r: &Remote,
    topic: Option<&str>,
    since: &str,
    resolution: Option<u64>,
) -> CliResult {
    let doc = api(r)?.monitor(topic, since, resolution).await?;
    if r.output == Output::Json {
        return json(&doc);
    }
    let rate = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
    println!(
        "{} every {} s",
        topic.unwrap_or("whole task"),
        doc.resolution_s
    );
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>7} {:>7} | {:>9} {:>9} {:>9} {:>7} {:>7} | {:>6} {:>6}",
        "AT",
        "SRC ST/s",
        "SRC CO/s",
        "SRC LAG",
        "SENT",
        "RECV",
        "TGT ST/s",
        "TGT CO/s",
        "TGT LAG",
        "SENT",
        "RECV",
        "FAILOV",
        "DUPS"
    );
    for p in &doc.points {
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>7} {:>7} | {:>9} {:>9} {:>9} {:>7} {:>7} | {:>6} {:>6}",
            p.at.trim_end_matches('Z'),
            rate(p.source.stored_per_s),
            rate(p.source.consumed_per_s),
            opt(p.source.backlog),
            p.source.sent,
            p.source.received,
            rate(p.target.stored_per_s),
            rate(p.target.consumed_per_s),
            opt(p.target.backlog),
            p.target.sent,
            p.target.received,
            p.failed_over,
            p.duplicates
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `adopt`: resolve a divergence (the clients' newest table, or with `force` the control plane's own).
pub(crate) async fn adopt(r: &Remote, force: bool) -> CliResult {
    let api = api(r)?;
    let result = api.adopt(force).await?;
    if r.output == Output::Json {
        return json(&result);
    }
    println!(
        "{} at table version {} (was {}); clients apply it with their next poll",
        if force {
            "published this control plane's own table"
        } else {
            "adopted the clients' newest table"
        },
        result.version,
        result.from_version
    );
    for c in &result.changed {
        let from = c.from.map_or("(none)".to_owned(), |p| p.to_string());
        if force {
            println!("  {}: clients move {from} -> {}", c.topic, c.to);
        } else {
            println!("  {}: {from} -> {} (version {})", c.topic, c.to, c.version);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The divergence banner `status` prints first.
fn print_divergence(d: &rocketmq_migration::control::wire::DivergenceView) {
    println!(
        "DIVERGED since {}: {} live client(s) hold a newer phase table (newest version {}) than this control plane \
         (version {}); table changes are refused. Run `rmq-migrate adopt` (take theirs) or `adopt --force` \
         (publish this one).",
        d.since, d.clients_ahead, d.newest_client_version, d.table_version
    );
    for t in &d.topics {
        let ours = t.control_plane.map_or("absent".to_owned(), |a| {
            format!("{} (v{})", a.phase, a.version)
        });
        println!(
            "  {}: control plane {ours}, client {} (v{}) e.g. {}",
            t.topic, t.client.phase, t.client.version, t.client_id
        );
    }
}

pub(crate) async fn clients(r: &Remote) -> CliResult {
    let clients = api(r)?.clients().await?;
    if r.output == Output::Json {
        return json(&clients);
    }
    println!(
        "{:<60} {:<9} {:<5} {:<12} {:>9} {:>9} {:>9} {:>9}",
        "CLIENT", "ROLE", "LIVE", "STATUS", "SENT SRC", "SENT TGT", "RECV SRC", "RECV TGT"
    );
    for c in &clients {
        let h = &c.heartbeat;
        println!(
            "{:<60} {:<9} {:<5} {:<12} {:>9} {:>9} {:>9} {:>9}",
            h.client_id,
            h.role.as_str(),
            c.live,
            h.status.as_str(),
            h.counters.source.sent,
            h.counters.target.sent,
            h.counters.source.received,
            h.counters.target.received
        );
        for (topic, a) in &h.applied {
            if h.topics.contains(topic) {
                println!("    {topic}: applied {} (version {})", a.phase, a.version);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn groups(r: &Remote) -> CliResult {
    let g = api(r)?.groups().await?;
    if r.output == Output::Json {
        return json(&g);
    }
    println!("missing on target:   {}", list(&g.missing_on_target));
    println!("unmanaged on source: {}", list(&g.unmanaged_on_source));
    println!("managed by the shim: {}", list(&g.managed));
    println!("not yet switched:    {}", list(&g.not_switched));
    if !g.clients.is_empty() {
        println!();
        println!(
            "{:<40} {:<7} {:>12} {:>12} {:<9} TOPICS (PHASE)",
            "GROUP", "ON", "SRC (SHIM)", "TGT (SHIM)", "SWITCHED"
        );
        for c in &g.clients {
            let on = match (c.on_source, c.on_target) {
                (true, true) => "both",
                (true, false) => "source",
                (false, true) => "target",
                (false, false) => "-",
            };
            let topics: Vec<String> = c
                .topics
                .iter()
                .map(|t| {
                    format!(
                        "{} ({})",
                        t.topic,
                        t.phase.map_or("not registered".into(), |p| p.to_string())
                    )
                })
                .collect();
            println!(
                "{:<40} {:<7} {:>12} {:>12} {:<9} {}",
                c.group,
                on,
                format!("{} ({})", c.source, c.source_shim),
                format!("{} ({})", c.target, c.target_shim),
                if c.switched { "yes" } else { "NO" },
                topics.join(", ")
            );
            for o in &c.outside_shim {
                println!("    outside the shim: {o}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

pub(crate) async fn audit(r: &Remote, topic: Option<&str>, limit: usize) -> CliResult {
    let entries = api(r)?.audit(topic, limit).await?;
    if r.output == Output::Json {
        return json(&entries);
    }
    for e in &entries {
        let step = match (e.from, e.to) {
            (Some(f), Some(t)) => format!("{f} -> {t}"),
            (None, Some(t)) => format!("-> {t}"),
            (Some(f), None) => format!("{f} ->"),
            (None, None) => String::new(),
        };
        println!(
            "{:>5} {} {:<12} {:<32} {:<32} {}{} by {}",
            e.seq,
            e.time,
            e.action,
            e.topic,
            e.detail.as_deref().unwrap_or(&step),
            e.outcome,
            if e.forced { " FORCED" } else { "" },
            e.actor
        );
    }
    Ok(ExitCode::SUCCESS)
}
