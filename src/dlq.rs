//! Dead letters: messages a consumer group failed to consume `max_reconsume_times` times, which the broker moved
//! to the group's dead-letter topic `%DLQ%<group>`. Nothing consumes them by itself, so a migration must not
//! forget the source's: [`list`] reads them (CLI `rmq-migrate dlq list`), [`resend`] sends them to their
//! original topic on the target, keeping body, tags, keys, the client unique key and user properties, each
//! reported (CLI `rmq-migrate dlq resend [--dry-run]`). Reading commits no offset; the dead letters stay where
//! they are. The control plane's check `source_dlq_reviewed` asks an operator to decide before `completed`.
//!
//! A resend is not remembered: running it twice sends twice (a migrating consumer's dedupe suppresses the second
//! copy within its window, by the unique key). Each run prints the offsets it covered; `from_offset` continues
//! after them.

use std::collections::BTreeMap;
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{ClientRuntime, DefaultMQProducer, TopicAdmin};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::{MessageTrait, STRING_HASH_SET};
use serde::{Deserialize, Serialize};

use crate::admin::{describe, response_code, ClusterAdmin, TOPIC_NOT_EXIST};
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::due::{dlq_topic, property, SCAN_LIMIT};
use crate::error::ToolErrorKind;
use crate::error::{ErrorKind, MigrationError};
use crate::setters::setters;

/// One dead letter as stored on the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The consumer group whose dead letter it is.
    pub group: String,
    /// The broker holding it.
    pub broker: String,
    /// Its offset in the broker's `%DLQ%<group>` queue.
    pub offset: i64,
    /// The topic it was first sent to (the `RETRY_TOPIC` property), when known.
    pub topic: Option<String>,
    /// The client unique key (`UNIQ_KEY`).
    pub uniq_key: Option<String>,
    /// Message keys.
    pub keys: Option<String>,
    /// Tags.
    pub tags: Option<String>,
    /// Deliveries that failed before it was moved here.
    pub reconsume_times: i32,
    /// When the broker stored it here (ms since the epoch).
    pub store_timestamp: i64,
    /// Body size in bytes.
    pub body_bytes: usize,
    /// User properties (system properties left out).
    pub properties: BTreeMap<String, String>,
}

/// What happened to one dead letter in [`resend`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum ResendOutcome {
    /// Sent to the target; the target's message id.
    Sent(String),
    /// `dry_run`: would have been sent.
    WouldSend,
    /// Not sent, and why (no original topic known, or another topic than asked for).
    Skipped(String),
    /// The send failed, and why.
    Failed(String),
}

/// One dead letter and what [`resend`] did with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resent {
    /// The dead letter.
    pub letter: DeadLetter,
    /// The target topic it was (or would be) sent to.
    pub to_topic: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: ResendOutcome,
}

fn admin_error(cluster: &ClusterConfig, e: String) -> MigrationError {
    MigrationError::new(
        ToolErrorKind::Admin,
        None,
        format!("dead letters on {}: {e}", cluster.name_server_addr),
    )
}

fn letter(group: &str, m: &MessageExt) -> DeadLetter {
    DeadLetter {
        group: group.to_owned(),
        broker: m.broker_name.to_string(),
        offset: m.queue_offset,
        topic: property(m, "RETRY_TOPIC").map(str::to_owned),
        uniq_key: property(m, "UNIQ_KEY").map(str::to_owned),
        keys: property(m, "KEYS").map(str::to_owned),
        tags: property(m, "TAGS").map(str::to_owned),
        reconsume_times: m.reconsume_times,
        store_timestamp: m.store_timestamp,
        body_bytes: m.body_slice().len(),
        properties: m
            .properties()
            .iter()
            .filter(|(k, _)| !STRING_HASH_SET.contains(k.as_str()))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Read `group`'s dead letters on `admin`'s cluster from `from_offset` (per queue; default its first), at most
/// `limit`, with each message.
async fn read(
    admin: &ClusterAdmin,
    group: &str,
    from_offset: Option<i64>,
    limit: usize,
) -> Result<Vec<(DeadLetter, MessageExt)>, String> {
    let client = admin.client().await?;
    let topic = admin.full(&dlq_topic(group));
    let stats = match TopicAdmin::examine_topic_stats(&*client, topic.as_str().into(), None).await {
        Ok(s) => s,
        Err(e) if response_code(&e) == Some(TOPIC_NOT_EXIST) => return Ok(Vec::new()),
        Err(e) => return Err(format!("read offsets of {topic}: {}", describe(&e))),
    };
    let masters: BTreeMap<String, CheetahString> =
        admin.masters_of(&client, None).await?.into_iter().collect();
    let mut queues: Vec<_> = stats.get_offset_table().iter().collect();
    queues.sort_by_key(|(mq, _)| (mq.broker_name().to_string(), mq.queue_id()));
    let mut out = Vec::new();
    let mut budget = SCAN_LIMIT.min(limit as u64);
    for (mq, o) in queues {
        let Some(addr) = masters.get(mq.broker_name().as_str()) else {
            return Err(format!(
                "broker {} of {topic} has no master registered",
                mq.broker_name()
            ));
        };
        let from = from_offset.map_or(o.get_min_offset(), |f| f.max(o.get_min_offset()));
        let mut found = Vec::new();
        admin
            .scan(
                &client,
                addr,
                mq,
                from..o.get_max_offset(),
                &mut budget,
                |m| found.push((letter(group, m), m.clone())),
            )
            .await?;
        // The original topic as the application names it (the resend producer adds the target's namespace).
        for (l, _) in &mut found {
            l.topic = l.topic.take().map(|t| admin.short(&t).unwrap_or(t));
        }
        out.extend(found);
    }
    Ok(out)
}

/// `group`'s dead letters on `cluster` (every master), oldest first per broker, at most `limit`.
pub async fn list(
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    group: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, MigrationError> {
    cluster.validate("cluster")?;
    let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
    let r = read(&admin, group, None, limit).await;
    admin.close().await;
    Ok(r.map_err(|e| admin_error(cluster, e))?
        .into_iter()
        .map(|(l, _)| l)
        .collect())
}

/// The message to send for dead letter `m`: original body, flag, tags, keys, unique key and user properties,
/// to `topic`.
fn copy_of(m: &MessageExt, topic: &str) -> Result<Message, String> {
    let mut msg = Message::builder()
        .topic(topic)
        .body(m.body_slice().to_vec())
        .build()
        .map_err(|e| format!("build message: {e}"))?;
    msg.set_flag(m.flag());
    for key in ["TAGS", "KEYS", "UNIQ_KEY"] {
        if let Some(v) = property(m, key) {
            msg.put_property(CheetahString::from(key), CheetahString::from(v));
        }
    }
    for (k, v) in m.properties() {
        if !STRING_HASH_SET.contains(k.as_str()) {
            msg.put_property(k.clone(), v.clone());
        }
    }
    Ok(msg)
}

/// Which dead letters [`resend`] sends, and whether it sends them: built from [`ResendRequest::new`].
///
/// ```
/// use rocketmq_migration::dlq::ResendRequest;
///
/// // Report what would be sent of the first 100 dead letters of `order-consumers` first sent to `orders`.
/// let req = ResendRequest::new("order-consumers").topic("orders").limit(100).dry_run(true);
/// assert_eq!(req.topic.as_deref(), Some("orders"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResendRequest {
    /// The consumer group whose dead-letter topic `%DLQ%<group>` is read.
    pub group: String,
    /// Only dead letters first sent to this topic; a dead letter without a known original topic goes here too.
    /// `None`: every dead letter goes to its original topic, one without a known original topic is skipped.
    pub topic: Option<String>,
    /// Where to start in each dead-letter queue (`None`: at its first offset).
    pub from_offset: Option<i64>,
    /// At most this many dead letters (default [`ResendRequest::DEFAULT_LIMIT`]).
    pub limit: usize,
    /// Send nothing: report what would be sent (default: false).
    pub dry_run: bool,
}

impl ResendRequest {
    /// The default [`ResendRequest::limit`] (the CLI's `--limit` default too).
    pub const DEFAULT_LIMIT: usize = 10_000;

    /// Every dead letter of `group` from the start, at most [`ResendRequest::DEFAULT_LIMIT`], sent.
    pub fn new(group: impl Into<String>) -> Self {
        ResendRequest {
            group: group.into(),
            topic: None,
            from_offset: None,
            limit: Self::DEFAULT_LIMIT,
            dry_run: false,
        }
    }

    setters! {
        /// Only dead letters first sent to `topic` (and those without a known original topic, sent to `topic`).
        topic(topic: impl Into<String>) = Some(topic.into());
        /// Start each dead-letter queue at `from_offset` (to continue after an earlier run's offsets).
        from_offset(from_offset: i64) = Some(from_offset);
        /// At most `limit` dead letters.
        limit(limit: usize) = limit;
        /// Send nothing when `dry_run`: report what would be sent.
        dry_run(dry_run: bool) = dry_run;
    }
}

/// Send the dead letters `req` selects on `source` to their original topic on `target` (see
/// [`ResendRequest::topic`] for which topic that is), each reported; with [`ResendRequest::dry_run`] nothing is
/// sent.
pub async fn resend(
    source: &ClusterConfig,
    target: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    req: &ResendRequest,
) -> Result<Vec<Resent>, MigrationError> {
    source.validate("source")?;
    target.validate("target")?;
    let (group, topic, dry_run) = (req.group.as_str(), req.topic.as_deref(), req.dry_run);
    let (from_offset, limit) = (req.from_offset, req.limit);
    let admin = ClusterAdmin::new(Cluster::Source, source.clone(), runtime.clone());
    let letters = read(&admin, group, from_offset, limit).await;
    admin.close().await;
    let letters = letters.map_err(|e| admin_error(source, e))?;
    let mut producer = None;
    if !dry_run && !letters.is_empty() {
        let mut b = DefaultMQProducer::builder(runtime)
            .client_config(target.client_config(None))
            .producer_group(format!("rmq_migrate_dlq_resend_{}", std::process::id()))
            .name_server_addr(target.name_server_addr.clone());
        if let Some(hook) = target.rpc_hook(None) {
            b = b.rpc_hook(hook);
        }
        let mut p = b.build();
        p.start().await.map_err(|e| {
            MigrationError::new(
                ErrorKind::Start,
                Some(Cluster::Target),
                "start the resend producer",
            )
            .with_source(e)
        })?;
        producer = Some(p);
    }
    let mut out = Vec::new();
    for (l, m) in letters {
        let to_topic = match (&l.topic, topic) {
            (Some(t), Some(want)) if t != want => {
                let why = format!("first sent to {t}, not {want}");
                out.push(Resent {
                    letter: l,
                    to_topic: None,
                    outcome: ResendOutcome::Skipped(why),
                });
                continue;
            }
            (Some(t), _) => t.clone(),
            (None, Some(want)) => want.to_owned(),
            (None, None) => {
                out.push(Resent {
                    letter: l,
                    to_topic: None,
                    outcome: ResendOutcome::Skipped(
                        "the original topic is unknown (no RETRY_TOPIC property): give --topic"
                            .into(),
                    ),
                });
                continue;
            }
        };
        let outcome = match producer.as_mut() {
            None => ResendOutcome::WouldSend,
            Some(p) => match copy_of(&m, &to_topic) {
                Err(e) => ResendOutcome::Failed(e),
                Ok(msg) => match p.send_with_timeout(msg, 5_000).await {
                    Ok(Some(r)) => {
                        ResendOutcome::Sent(r.msg_id.map(|i| i.to_string()).unwrap_or_default())
                    }
                    Ok(None) => ResendOutcome::Failed("no send result".into()),
                    Err(e) => ResendOutcome::Failed(describe(&e)),
                },
            },
        };
        match &outcome {
            ResendOutcome::Failed(e) => {
                tracing::warn!(group, offset = l.offset, topic = %to_topic, error = %e, "dead letter not resent")
            }
            _ => {
                tracing::info!(group, offset = l.offset, topic = %to_topic, dry_run, "dead letter resent")
            }
        }
        out.push(Resent {
            letter: l,
            to_topic: Some(to_topic),
            outcome,
        });
    }
    if let Some(mut p) = producer {
        p.shutdown().await;
    }
    Ok(out)
}
