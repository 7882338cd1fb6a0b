//! Import a metadata file into a target cluster: plan (create / update / unchanged / skip / fail, per item, with the
//! reason), then apply.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::ClientRuntime;
use rocketmq_model::common::config::TopicConfig;
use rocketmq_protocol::protocol::subscription::group_retry_policy::GroupRetryPolicy;
use rocketmq_protocol::protocol::subscription::subscription_group_config::SubscriptionGroupConfig;
use serde::{Deserialize, Serialize};

use super::cause::Cause;
use super::file::{GroupEntry, MetadataFile, TopicEntry};
use super::namespace::{into_namespace, namespace_of, NamespaceMode};
use super::source::SourceFacts;
use super::system::{group_left_out, topic_left_out, LeftOut, OwnNames};
use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};

/// Most topics, and most groups, one run imports (the rest fail with that cause), as in the seed.
pub const MAX_ITEMS_PER_RUN: usize = 1_000;

/// Longest topic name a broker accepts.
const TOPIC_MAX_LENGTH: usize = 127;
/// Longest group name a broker accepts.
const GROUP_MAX_LENGTH: usize = 255;

/// What to do with a same-name item on the target whose settings differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Leave it as it is (reported as skipped, cause `conflict`).
    #[default]
    Skip,
    /// Overwrite it with the file's settings.
    Overwrite,
}

/// Which of the file's items to import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// Every item (system items are still left out).
    #[default]
    All,
    /// Only these topics and groups (by name in the file); a kind with no names imports none of that kind. A name
    /// the file does not hold fails with cause `not_in_file`.
    Only {
        /// Topics to import.
        topics: BTreeSet<String>,
        /// Groups to import.
        groups: BTreeSet<String>,
    },
}

impl Selection {
    /// Only the named topics and groups.
    pub fn only(
        topics: impl IntoIterator<Item = impl Into<String>>,
        groups: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Selection::Only {
            topics: topics.into_iter().map(Into::into).collect(),
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }

    fn has(&self, kind: ItemKind, name: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Only { topics, groups } => match kind {
                ItemKind::Topic => topics.contains(name),
                ItemKind::Group => groups.contains(name),
            },
        }
    }
}

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Queue counts are clamped into this range (default 3..=16); clamped items are flagged. A file's counts are
    /// totals over the source's masters, so they may be far above the range.
    pub queue_range: (u32, u32),
    /// Namespace mode (default: cluster migration).
    pub namespace: NamespaceMode,
    /// Which items (default: all).
    pub selection: Selection,
    /// Same-name conflicts (default: skip).
    pub on_conflict: ConflictPolicy,
    /// Per-run limit for topics and for groups (default 1,000).
    pub limit: usize,
    /// Topics to import although their shape says they are a broker's own (a broker- or cluster-name topic, a
    /// reply topic). Certain system items are never imported.
    pub include: BTreeSet<String>,
    /// Import `%RETRY%` and `%DLQ%` topics too (left out by default: the target broker creates retry topics
    /// itself).
    pub include_retry_and_dlq: bool,
    /// What the source cluster says (its broker and cluster names, queue counts per master), when asked.
    pub source: Option<SourceFacts>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            queue_range: (3, 16),
            namespace: NamespaceMode::Cluster,
            selection: Selection::All,
            on_conflict: ConflictPolicy::Skip,
            limit: MAX_ITEMS_PER_RUN,
            include: BTreeSet::new(),
            include_retry_and_dlq: false,
            source: None,
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
        if let NamespaceMode::Specified { namespace } = &self.namespace {
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

/// Read and write queue counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    /// Read queues.
    pub read: u32,
    /// Write queues.
    pub write: u32,
}

impl std::fmt::Display for QueueCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.read == self.write {
            write!(f, "{}", self.read)
        } else {
            write!(f, "{}r/{}w", self.read, self.write)
        }
    }
}

/// A topic's queue counts: in the file, per source master where known, and as created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueReport {
    /// As the file says: the total over the source's masters (mqadmin sums them).
    pub in_file: QueueCounts,
    /// Per source master, by broker name, where the file's notes or the source say it (empty otherwise).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_master: BTreeMap<String, QueueCounts>,
    /// Where `per_master` came from: `file` (our export's notes) or `source` (`--source-namesrv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_master_from: Option<String>,
    /// As created (or to be created) on the target: clamped into the queue range.
    pub created: QueueCounts,
}

impl std::fmt::Display for QueueReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.in_file)?;
        if !self.per_master.is_empty() {
            let per: Vec<String> = self
                .per_master
                .iter()
                .map(|(b, q)| format!("{b} {q}"))
                .collect();
            write!(f, " ({})", per.join(", "))?;
        }
        write!(f, " -> {}", self.created)
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
    /// For topics: queue counts in the file, per source master where known, and as created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<QueueReport>,
    /// For failed and skipped items: why, as a code (`system_item`, `conflict`, `limit_exceeded`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Why this action, in words.
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
    /// Added to the reason once the action is decided.
    note: Option<String>,
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

/// The group's config, and a note when its retry policy could be read only by its type.
fn group_config(name: &str, e: &GroupEntry) -> (SubscriptionGroupConfig, Option<String>) {
    let mut g = group_settings(name, e);
    let Some(value) = &e.group_retry_policy else {
        return (g, None);
    };
    match serde_json::from_value::<GroupRetryPolicy>(value.clone()) {
        Ok(policy) => {
            g.set_group_retry_policy(policy);
            (g, None)
        }
        Err(full) => {
            // Keep the type (what decides the delays' shape) with the broker's default steps.
            let typed = value
                .get("type")
                .cloned()
                .map(|t| serde_json::json!({ "type": t }))
                .and_then(|v| serde_json::from_value::<GroupRetryPolicy>(v).ok());
            let note = match typed {
                Some(policy) => {
                    let kind = value["type"].as_str().unwrap_or("?").to_owned();
                    g.set_group_retry_policy(policy);
                    format!("groupRetryPolicy: {full}; imported as type {kind} with the broker's default steps")
                }
                None => format!(
                    "groupRetryPolicy {value} not understood ({full}); the target's default policy applies"
                ),
            };
            (g, Some(note))
        }
    }
}

fn group_settings(name: &str, e: &GroupEntry) -> SubscriptionGroupConfig {
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

/// A compared setting of a `C`: its name and how to read it.
type Field<C> = (&'static str, fn(&C) -> String);

/// The fields among `fields` on which `have` differs from `want`, in that order, each as `<field> <have> -> <want>`.
fn differences<C>(want: &C, have: &C, fields: &[Field<C>]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(field, read)| {
            let (w, h) = (read(want), read(have));
            (w != h).then(|| format!("{field} {h} -> {w}"))
        })
        .collect()
}

/// The settings a topic import carries, for comparison with the target.
fn topic_diff(want: &TopicConfig, have: &TopicConfig) -> Vec<String> {
    differences(
        want,
        have,
        &[
            ("readQueueNums", |t| t.read_queue_nums.to_string()),
            ("writeQueueNums", |t| t.write_queue_nums.to_string()),
            ("perm", |t| t.perm.to_string()),
            ("order", |t| t.order.to_string()),
        ],
    )
}

/// The settings a group import carries, for comparison with the target.
fn group_diff(want: &SubscriptionGroupConfig, have: &SubscriptionGroupConfig) -> Vec<String> {
    differences(
        want,
        have,
        &[
            ("consumeEnable", |g| g.consume_enable().to_string()),
            ("consumeFromMinEnable", |g| {
                g.consume_from_min_enable().to_string()
            }),
            ("consumeBroadcastEnable", |g| {
                g.consume_broadcast_enable().to_string()
            }),
            ("consumeMessageOrderly", |g| {
                g.consume_message_orderly().to_string()
            }),
            ("retryQueueNums", |g| g.retry_queue_nums().to_string()),
            ("retryMaxTimes", |g| g.retry_max_times().to_string()),
            ("consumeTimeoutMinute", |g| {
                g.consume_timeout_minute().to_string()
            }),
            ("groupRetryPolicy", |g| {
                serde_json::to_string(g.group_retry_policy()).unwrap_or_default()
            }),
        ],
    )
}

/// Why `name` is not a name a broker accepts, or `None`.
fn invalid_name(kind: ItemKind, name: &str) -> Option<String> {
    let max = match kind {
        ItemKind::Topic => TOPIC_MAX_LENGTH,
        ItemKind::Group => GROUP_MAX_LENGTH,
    };
    if name.is_empty() {
        Some("the name is empty".into())
    } else if name.len() > max {
        Some(format!(
            "the name is {} characters; a broker accepts at most {max}",
            name.len()
        ))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
            .map(|c| format!("the name holds {c:?}; a broker accepts only A-Z a-z 0-9 % | _ -"))
    }
}

fn clamp(n: u32, (lo, hi): (u32, u32)) -> u32 {
    n.clamp(lo, hi)
}

/// A plan row for an item that is not imported.
fn not_imported(
    kind: ItemKind,
    source: &str,
    action: Action,
    cause: Cause,
    reason: String,
) -> Box<Planned> {
    Box::new(Planned {
        result: ItemResult {
            kind,
            source: source.to_owned(),
            target: String::new(),
            namespace: String::new(),
            action,
            applied: false,
            clamped: None,
            queues: None,
            cause: Some(cause),
            reason,
        },
        desired: None,
        note: None,
    })
}

/// A topic's queue counts: in the file, per master (the source's word first, then the file's notes), created.
fn queue_report(
    file: &MetadataFile,
    opts: &ImportOptions,
    name: &str,
    e: &TopicEntry,
) -> QueueReport {
    let counts = |[read, write]: [u32; 2]| QueueCounts { read, write };
    let from_source = opts
        .source
        .as_ref()
        .and_then(|s| s.queues.get(name))
        .map(|m| (m.clone(), "source"));
    let from_file = || {
        file.export_notes
            .as_ref()
            .and_then(|n| n.topics.get(name))
            .filter(|n| !n.brokers.is_empty())
            .map(|n| (n.brokers.clone(), "file"))
    };
    let (per_master, from) = match from_source.or_else(from_file) {
        Some((m, from)) => (
            m.into_iter().map(|(b, q)| (b, counts(q))).collect(),
            Some(from.to_owned()),
        ),
        None => (BTreeMap::new(), None),
    };
    QueueReport {
        in_file: counts([e.read_queue_nums, e.write_queue_nums]),
        per_master,
        per_master_from: from,
        created: counts([
            clamp(e.read_queue_nums, opts.queue_range),
            clamp(e.write_queue_nums, opts.queue_range),
        ]),
    }
}

/// Select, leave out, check names, rename, clamp and limit: every item of the file as a first plan (before
/// looking at the target).
fn select(file: &MetadataFile, opts: &ImportOptions) -> Vec<Planned> {
    let mut out = Vec::new();
    let own = match &opts.source {
        Some(facts) => OwnNames::from_cluster(facts.names.iter().cloned()),
        None => OwnNames::from_file(file),
    };
    let namespace = match &opts.namespace {
        NamespaceMode::Cluster => None,
        NamespaceMode::Specified { namespace } => Some(namespace.as_str()),
    };
    let target_name = |name: &str| match namespace {
        Some(ns) => (into_namespace(name, ns), ns.to_owned()),
        None => (name.to_owned(), namespace_of(name).to_owned()),
    };
    // Names selected that the file does not hold.
    if let Selection::Only { topics, groups } = &opts.selection {
        for (kind, chosen, present) in [
            (
                ItemKind::Topic,
                topics,
                &file.topic_config_table.keys().collect::<BTreeSet<_>>(),
            ),
            (
                ItemKind::Group,
                groups,
                &file.subscription_group_table.keys().collect(),
            ),
        ] {
            for name in chosen.iter().filter(|n| !present.contains(n)) {
                out.push(*not_imported(
                    kind,
                    name,
                    Action::Fail,
                    Cause::NotInFile,
                    "selected, but the file does not hold it".into(),
                ));
            }
        }
    }
    let mut counts = BTreeMap::<ItemKind, usize>::new();
    // Checks common to topics and groups; `Err` is the row of an item not imported.
    let mut admit = |kind: ItemKind,
                     name: &str,
                     left_out: Option<LeftOut>|
     -> Result<(String, String), Box<Planned>> {
        if let Some(why) = invalid_name(kind, name) {
            return Err(not_imported(
                kind,
                name,
                Action::Fail,
                Cause::InvalidName,
                why,
            ));
        }
        // A guess gives way to `include` or to naming the item in the selection.
        let asked =
            opts.include.contains(name) || matches!(&opts.selection, Selection::Only { .. });
        if let Some(why) = left_out.filter(|l| matches!(l, LeftOut::Certain(_)) || !asked) {
            return Err(not_imported(
                kind,
                name,
                Action::Skip,
                Cause::SystemItem,
                why.reason().to_owned(),
            ));
        }
        let count = counts.entry(kind).or_default();
        *count += 1;
        if *count > opts.limit {
            let what = if kind == ItemKind::Topic {
                "topics"
            } else {
                "groups"
            };
            return Err(not_imported(
                kind,
                name,
                Action::Fail,
                Cause::LimitExceeded,
                format!(
                    "over the per-run limit of {} {what}; import it in another run",
                    opts.limit
                ),
            ));
        }
        let (target, ns) = target_name(name);
        if let Some(why) = invalid_name(kind, &target) {
            return Err(not_imported(
                kind,
                name,
                Action::Fail,
                Cause::InvalidName,
                format!("target name {target:?}: {why}"),
            ));
        }
        Ok((target, ns))
    };
    let row = |kind, source: &str, target: String, namespace: String| ItemResult {
        kind,
        source: source.to_owned(),
        target,
        namespace,
        action: Action::Create,
        applied: false,
        clamped: None,
        queues: None,
        cause: None,
        reason: String::new(),
    };
    for (name, e) in &file.topic_config_table {
        if !opts.selection.has(ItemKind::Topic, name) {
            continue;
        }
        let left_out = topic_left_out(name, Some(e), &own, opts.include_retry_and_dlq);
        let (target, ns) = match admit(ItemKind::Topic, name, left_out) {
            Ok(names) => names,
            Err(skipped) => {
                out.push(*skipped);
                continue;
            }
        };
        let queues = queue_report(file, opts, name, e);
        let (read, write) = (queues.created.read, queues.created.write);
        let mut result = row(ItemKind::Topic, name, target.clone(), ns);
        result.clamped = (queues.created != queues.in_file).then(|| {
            format!(
                "queues clamped into {}..={}: read {} -> {read}, write {} -> {write}",
                opts.queue_range.0, opts.queue_range.1, e.read_queue_nums, e.write_queue_nums
            )
        });
        result.queues = Some(queues);
        out.push(Planned {
            result,
            desired: Some(Desired::Topic(topic_config(&target, e, read, write))),
            note: None,
        });
    }
    for (name, e) in &file.subscription_group_table {
        if !opts.selection.has(ItemKind::Group, name) {
            continue;
        }
        let (target, ns) = match admit(ItemKind::Group, name, group_left_out(name)) {
            Ok(names) => names,
            Err(skipped) => {
                out.push(*skipped);
                continue;
            }
        };
        let (config, note) = group_config(&target, e);
        out.push(Planned {
            result: row(ItemKind::Group, name, target.clone(), ns),
            desired: Some(Desired::Group(config)),
            note,
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
            r.cause = Some(e.trouble.into());
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
                r.cause = Some(Cause::Conflict);
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
        if let Some(note) = &item.note {
            item.result.reason = format!("{}; {note}", item.result.reason);
        }
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
                    item.result.cause = Some(e.trouble.into());
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
