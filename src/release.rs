//! Batch release, the seed's data-flow migration without a control plane: move some consumer instances to read
//! both clusters, then some producers to the target, then the rest of the producers, check that the source has no
//! backlog, then move the remaining consumers. Each instance follows its own [`crate::Pins`] (from configuration,
//! e.g. `RMQ_MIGRATE_PIN=orders=dual_read`), and [`backlog`] (CLI: `rmq-migrate backlog`) is the gate before the
//! last consumers leave the source.
//!
//! | batch | pin | reads | writes |
//! |---|---|---|---|
//! | 1. some consumers | `dual_read` | source + target | — |
//! | 2. the other consumers | `dual_read` | source + target | — |
//! | 3. some producers | `cutting_over` | — | target |
//! | 4. the other producers | `cutting_over` | — | target |
//! | gate | `rmq-migrate backlog` on the source exits 0 | | |
//! | 5. all consumers | `completed` | target | — |

use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;
use serde::{Deserialize, Serialize};

use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::due::retry_topic;
use crate::error::{MigrationError, ToolErrorKind};

/// What a [`Backlog`] row counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BacklogKind {
    /// Messages of the topic stored but not consumed by the group.
    Unconsumed,
    /// Messages in the group's retry topic (`%RETRY%<group>`) not consumed yet.
    Retry,
    /// Messages still waiting in the broker's schedule: sent to the topic with a delay level or delivery time
    /// (group `*`: every group of the topic gets them), or retries of the group waiting out their delay (topic
    /// `%RETRY%<group>`).
    Scheduled,
}

/// Messages still due to one group on one topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Consumer group (`*` for scheduled messages of the topic, due to every group).
    pub group: String,
    /// Topic (retry topics included: their messages are still due; dead-letter topics are not).
    pub topic: String,
    /// What is counted.
    pub kind: BacklogKind,
    /// Messages still due, over every master.
    pub unconsumed: u64,
}

/// Messages still due per group and topic on `cluster`, from the admin API: every application group, or only
/// `group`; every topic, or only `topic`. Entries with nothing due are included (so a report shows what was
/// checked). A group's retry topic counts with it; with `topic`, messages still scheduled for the topic (delay
/// levels, timer) and the group's scheduled retries of it count too. A scheduled count that could not be made
/// complete (see the control plane's `source_scheduled_zero`) is an error: the backlog is unknown.
pub async fn backlog(
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    group: Option<&str>,
    topic: Option<&str>,
) -> Result<Vec<Backlog>, MigrationError> {
    cluster.validate("cluster")?;
    let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
    let result = async {
        let lag = admin.lag(group, topic).await?;
        let scheduled = match topic {
            Some(t) => Some(admin.scheduled(t).await?),
            None => None,
        };
        Ok::<_, String>((lag, scheduled))
    }
    .await;
    admin.close().await;
    let fail = |e: String| {
        MigrationError::new(
            ToolErrorKind::Admin,
            None,
            format!("backlog on {}: {e}", cluster.name_server_addr),
        )
    };
    let (lag, scheduled) = result.map_err(fail)?;
    let mut rows: Vec<Backlog> = lag
        .into_iter()
        .filter(|((g, t), _)| {
            topic.is_none_or(|want| {
                t == want || t.ends_with(&format!("%{want}")) || *t == retry_topic(g)
            })
        })
        .map(|((group, topic), unconsumed)| Backlog {
            kind: if topic.starts_with("%RETRY%") {
                BacklogKind::Retry
            } else {
                BacklogKind::Unconsumed
            },
            group,
            topic,
            unconsumed,
        })
        .collect();
    if let (Some(t), Some(s)) = (topic, scheduled) {
        if !s.incomplete.is_empty() {
            return Err(fail(format!(
                "the messages still scheduled for {t} could not all be counted: {}",
                s.incomplete.join("; ")
            )));
        }
        rows.push(Backlog {
            group: "*".into(),
            topic: t.to_owned(),
            kind: BacklogKind::Scheduled,
            unconsumed: s.topic,
        });
        for (g, n) in s.retries {
            if group.is_none_or(|want| want == g) {
                rows.push(Backlog {
                    topic: retry_topic(&g),
                    group: g,
                    kind: BacklogKind::Scheduled,
                    unconsumed: n,
                });
            }
        }
    }
    Ok(rows)
}
