//! Import a metadata file into a target cluster: plan (create / update / unchanged / skip / fail, per item, with the
//! reason), then apply.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::ClientRuntime;
use rocketmq_model::common::config::TopicConfig;
use rocketmq_protocol::protocol::subscription::subscription_group_config::SubscriptionGroupConfig;
use serde::{Deserialize, Serialize};

use super::file::{GroupEntry, MetadataFile, TopicEntry};
use super::namespace::{into_namespace, namespace_of, NamespaceMode};
use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};

/// Most topics, and most groups, one run imports (the rest fail with that cause), as in the seed.
pub const MAX_ITEMS_PER_RUN: usize = 1_000;

/// What to do with a same-name item on the target whose settings differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Leave it as it is (reported as skipped).
    #[default]
    Skip,
    /// Overwrite it with the file's settings.
    Overwrite,
}

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Queue counts are clamped into this range (default 3..=16); clamped items are flagged.
    pub queue_range: (u32, u32),
    /// Namespace mode (default: cluster migration).
    pub namespace: NamespaceMode,
    /// Same-name conflicts (default: skip).
    pub on_conflict: ConflictPolicy,
    /// Per-run limit for topics and for groups (default 1,000).
    pub limit: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            queue_range: (3, 16),
            namespace: NamespaceMode::Cluster,
            on_conflict: ConflictPolicy::Skip,
            limit: MAX_ITEMS_PER_RUN,
        }
    }
}

impl ImportOptions {
    /// Check the options: a non-empty queue range starting at 1 or more, a namespace name for specified mode.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (lo, hi) = self.queue_range;
        if lo == 0 || lo > hi {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "queue_range",
                format!("{lo}..={hi}"),
                "must be a non-empty range starting at 1 or more",
            ));
        }
        if let NamespaceMode::Specified { namespace, .. } = &self.namespace {
            let ok = !namespace.is_empty()
                && namespace
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            if !ok {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "namespace",
                    namespace,
                    "must be 1 or more characters of A-Z a-z 0-9 _ -",
                ));
            }
        }
        Ok(())
    }
}

/// Topic or group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
}

/// What happens (dry run) or happened to one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not on the target: created.
    Create,
    /// On the target with other settings, overwritten (conflict policy `overwrite`).
    Update,
    /// On the target with the same settings.
    Unchanged,
    /// On the target with other settings, left alone (conflict policy `skip`), or not selected.
    Skip,
    /// Could not be imported; `reason` says why.
    Fail,
}

/// One item's plan or result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// Topic or group.
    pub kind: ItemKind,
    /// Name in the file.
    pub source: String,
    /// Name on the target.
    pub target: String,
    /// Target namespace.
    pub namespace: String,
    /// Create, update, unchanged, skip or fail.
    pub action: Action,
    /// The change was made (false in a dry run, and for unchanged/skip/fail).
    pub applied: bool,
    /// For clamped topics: what was clamped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamped: Option<String>,
    /// Why this action.
    pub reason: String,
}

/// Overall outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// No item failed.
    AllSucceeded,
    /// Some items failed.
    SomeFailed,
    /// Every item failed.
    AllFailed,
}

/// The result of [`plan`] or [`import`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Nothing was changed (a plan).
    pub dry_run: bool,
    /// Overall outcome.
    pub status: ImportStatus,
    /// Items created or updated (or that would be, in a dry run).
    pub changes: usize,
    /// Per item, topics then groups, by name.
    pub items: Vec<ItemResult>,
}

impl ImportReport {
    fn new(dry_run: bool, items: Vec<ItemResult>) -> Self {
        let failed = items.iter().filter(|i| i.action == Action::Fail).count();
        let status = if failed == 0 {
            ImportStatus::AllSucceeded
        } else if failed == items.len() {
            ImportStatus::AllFailed
        } else {
            ImportStatus::SomeFailed
        };
        let changes = items
            .iter()
            .filter(|i| matches!(i.action, Action::Create | Action::Update))
            .count();
        ImportReport {
            dry_run,
            status,
            changes,
            items,
        }
    }
}

/// What one item should become on the target.
enum Desired {
    Topic(TopicConfig),
    Group(SubscriptionGroupConfig),
}

struct Planned {
    result: ItemResult,
    desired: Option<Desired>,
}

fn topic_config(name: &str, e: &TopicEntry, read: u32, write: u32) -> TopicConfig {
    let mut c = TopicConfig::new(CheetahString::from(name));
    c.read_queue_nums = read;
    c.write_queue_nums = write;
    c.perm = e.perm;
    c.topic_filter_type =
        serde_json::from_value(serde_json::Value::String(e.topic_filter_type.clone()))
            .unwrap_or_default();
    c.topic_sys_flag = e.topic_sys_flag;
    c.order = e.order;
    c.attributes = e
        .attributes
        .iter()
        .map(|(k, v)| {
            (
                CheetahString::from(k.as_str()),
                CheetahString::from(v.as_str()),
            )
        })
        .collect::<HashMap<_, _>>();
    c
}

fn group_config(name: &str, e: &GroupEntry) -> SubscriptionGroupConfig {
    let mut g = SubscriptionGroupConfig::new(CheetahString::from(name));
    g.set_consume_enable(e.consume_enable);
    g.set_consume_from_min_enable(e.consume_from_min_enable);
    g.set_consume_broadcast_enable(e.consume_broadcast_enable);
    g.set_consume_message_orderly(e.consume_message_orderly);
    g.set_retry_queue_nums(e.retry_queue_nums);
    g.set_retry_max_times(e.retry_max_times);
    g.set_broker_id(e.broker_id);
    g.set_which_broker_when_consume_slowly(e.which_broker_when_consume_slowly);
    g.set_notify_consumer_ids_changed_enable(e.notify_consumer_ids_changed_enable);
    g.set_group_sys_flag(e.group_sys_flag);
    g.set_consume_timeout_minute(e.consume_timeout_minute);
    g.set_attributes(
        e.attributes
            .iter()
            .map(|(k, v)| {
                (
                    CheetahString::from(k.as_str()),
                    CheetahString::from(v.as_str()),
                )
            })
            .collect(),
    );
    g
}

/// The settings a topic import carries, for comparison with the target.
fn topic_diff(want: &TopicConfig, have: &TopicConfig) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |field: &str, w: String, h: String| {
        if w != h {
            d.push(format!("{field} {h} -> {w}"));
        }
    };
    cmp(
        "readQueueNums",
        want.read_queue_nums.to_string(),
        have.read_queue_nums.to_string(),
    );
    cmp(
        "writeQueueNums",
        want.write_queue_nums.to_string(),
        have.write_queue_nums.to_string(),
    );
    cmp("perm", want.perm.to_string(), have.perm.to_string());
    cmp("order", want.order.to_string(), have.order.to_string());
    d
}

fn group_diff(want: &SubscriptionGroupConfig, have: &SubscriptionGroupConfig) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |field: &str, w: String, h: String| {
        if w != h {
            d.push(format!("{field} {h} -> {w}"));
        }
    };
    cmp(
        "consumeEnable",
        want.consume_enable().to_string(),
        have.consume_enable().to_string(),
    );
    cmp(
        "consumeFromMinEnable",
        want.consume_from_min_enable().to_string(),
        have.consume_from_min_enable().to_string(),
    );
    cmp(
        "consumeBroadcastEnable",
        want.consume_broadcast_enable().to_string(),
        have.consume_broadcast_enable().to_string(),
    );
    cmp(
        "consumeMessageOrderly",
        want.consume_message_orderly().to_string(),
        have.consume_message_orderly().to_string(),
    );
    cmp(
        "retryQueueNums",
        want.retry_queue_nums().to_string(),
        have.retry_queue_nums().to_string(),
    );
    cmp(
        "retryMaxTimes",
        want.retry_max_times().to_string(),
        have.retry_max_times().to_string(),
    );
    cmp(
        "consumeTimeoutMinute",
        want.consume_timeout_minute().to_string(),
        have.consume_timeout_minute().to_string(),
    );
    d
}

fn clamp(n: u32, (lo, hi): (u32, u32)) -> u32 {
    n.clamp(lo, hi)
}

/// Select, rename, clamp and limit: every item of the file as a first plan (before looking at the target).
fn select(file: &MetadataFile, opts: &ImportOptions) -> Vec<Planned> {
    let mut out = Vec::new();
    let (chosen_topics, chosen_groups, namespace) = match &opts.namespace {
        NamespaceMode::Cluster => (None, None, None),
        NamespaceMode::Specified {
            namespace,
            topics,
            groups,
        } => (Some(topics), Some(groups), Some(namespace.as_str())),
    };
    let target_name = |name: &str| match namespace {
        Some(ns) => (into_namespace(name, ns), ns.to_owned()),
        None => (name.to_owned(), namespace_of(name).to_owned()),
    };
    let fail = |kind, source: &str, reason: String| Planned {
        result: ItemResult {
            kind,
            source: source.to_owned(),
            target: String::new(),
            namespace: String::new(),
            action: Action::Fail,
            applied: false,
            clamped: None,
            reason,
        },
        desired: None,
    };
    // Names asked for in specified mode that the file does not hold.
    for (kind, chosen, present) in [
        (
            ItemKind::Topic,
            chosen_topics,
            file.topic_config_table.keys().collect::<Vec<_>>(),
        ),
        (
            ItemKind::Group,
            chosen_groups,
            file.subscription_group_table.keys().collect::<Vec<_>>(),
        ),
    ] {
        for name in chosen.into_iter().flatten() {
            if !present.contains(&name) {
                out.push(fail(
                    kind,
                    name,
                    "selected, but the file does not hold it".into(),
                ));
            }
        }
    }
    let mut count = 0;
    for (name, e) in &file.topic_config_table {
        if chosen_topics.is_some_and(|c| !c.contains(name)) {
            continue;
        }
        count += 1;
        if count > opts.limit {
            out.push(fail(
                ItemKind::Topic,
                name,
                format!(
                    "over the per-run limit of {} topics; import it in another run",
                    opts.limit
                ),
            ));
            continue;
        }
        let (target, ns) = target_name(name);
        let (read, write) = (
            clamp(e.read_queue_nums, opts.queue_range),
            clamp(e.write_queue_nums, opts.queue_range),
        );
        let clamped = (read != e.read_queue_nums || write != e.write_queue_nums).then(|| {
            format!(
                "queues clamped into {}..={}: read {} -> {read}, write {} -> {write}",
                opts.queue_range.0, opts.queue_range.1, e.read_queue_nums, e.write_queue_nums
            )
        });
        out.push(Planned {
            result: ItemResult {
                kind: ItemKind::Topic,
                source: name.clone(),
                target: target.clone(),
                namespace: ns,
                action: Action::Create,
                applied: false,
                clamped,
                reason: String::new(),
            },
            desired: Some(Desired::Topic(topic_config(&target, e, read, write))),
        });
    }
    let mut count = 0;
    for (name, e) in &file.subscription_group_table {
        if chosen_groups.is_some_and(|c| !c.contains(name)) {
            continue;
        }
        count += 1;
        if count > opts.limit {
            out.push(fail(
                ItemKind::Group,
                name,
                format!(
                    "over the per-run limit of {} groups; import it in another run",
                    opts.limit
                ),
            ));
            continue;
        }
        let (target, ns) = target_name(name);
        out.push(Planned {
            result: ItemResult {
                kind: ItemKind::Group,
                source: name.clone(),
                target: target.clone(),
                namespace: ns,
                action: Action::Create,
                applied: false,
                clamped: None,
                reason: String::new(),
            },
            desired: Some(Desired::Group(group_config(&target, e))),
        });
    }
    out.sort_by(|a, b| (a.result.kind, &a.result.source).cmp(&(b.result.kind, &b.result.source)));
    out
}

/// Decide each item's action against what the target holds now.
async fn decide(admin: &ClusterAdmin, item: &mut Planned, policy: ConflictPolicy) {
    let r = &mut item.result;
    let existing = match &item.desired {
        None => return,
        Some(Desired::Topic(want)) => admin
            .topic_config(&r.target)
            .await
            .map(|have| have.map(|have| topic_diff(want, &have))),
        Some(Desired::Group(want)) => admin
            .group_config(&r.target)
            .await
            .map(|have| have.map(|have| group_diff(want, &have))),
    };
    match existing {
        Err(e) => {
            r.action = Action::Fail;
            r.reason = format!("could not read the target: {e}");
        }
        Ok(None) => {
            r.action = Action::Create;
            r.reason = "not on the target".into();
        }
        Ok(Some(diff)) if diff.is_empty() => {
            r.action = Action::Unchanged;
            r.reason = "on the target with the same settings".into();
        }
        Ok(Some(diff)) => match policy {
            ConflictPolicy::Skip => {
                r.action = Action::Skip;
                r.reason = format!(
                    "on the target with other settings ({}); conflict policy skip",
                    diff.join(", ")
                );
            }
            ConflictPolicy::Overwrite => {
                r.action = Action::Update;
                r.reason = format!(
                    "on the target with other settings ({}); conflict policy overwrite",
                    diff.join(", ")
                );
            }
        },
    }
}

async fn run(
    file: &MetadataFile,
    target: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    opts: &ImportOptions,
    apply: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, MigrationError> {
    target.validate("target")?;
    opts.validate()?;
    let admin = ClusterAdmin::new(Cluster::Target, target.clone(), runtime);
    let mut items = select(file, opts);
    let total = items.len();
    for (i, item) in items.iter_mut().enumerate() {
        decide(&admin, item, opts.on_conflict).await;
        if apply && matches!(item.result.action, Action::Create | Action::Update) {
            let written = match item.desired.take() {
                Some(Desired::Topic(c)) => admin.put_topic(c).await,
                Some(Desired::Group(g)) => admin.put_group(g).await,
                None => Ok(()),
            };
            match written {
                Ok(()) => item.result.applied = true,
                Err(e) => {
                    tracing::warn!(item = %item.result.source, error = %e, "import: item failed");
                    item.result.action = Action::Fail;
                    item.result.reason = format!("write failed: {e}");
                }
            }
        }
        progress(i + 1, total);
    }
    admin.close().await;
    let report = ImportReport::new(!apply, items.into_iter().map(|p| p.result).collect());
    let by: BTreeMap<String, usize> = report.items.iter().fold(BTreeMap::new(), |mut m, i| {
        *m.entry(format!("{:?}", i.action).to_lowercase())
            .or_default() += 1;
        m
    });
    tracing::info!(target = %target.name_server_addr, dry_run = !apply, status = ?report.status, actions = ?by, "metadata import");
    Ok(report)
}

/// Plan an import without changing anything (`--dry-run`).
pub async fn plan(
    file: &MetadataFile,
    target: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    opts: &ImportOptions,
) -> Result<ImportReport, MigrationError> {
    run(file, target, runtime, opts, false, &|_, _| {}).await
}

/// Import `file` into `target`. `progress(done, total)` is called after each item. Re-running an import that
/// succeeded reports every item `unchanged` and changes nothing.
pub async fn import(
    file: &MetadataFile,
    target: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    opts: &ImportOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, MigrationError> {
    run(file, target, runtime, opts, true, progress).await
}
