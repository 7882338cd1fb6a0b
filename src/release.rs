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
use crate::error::{ErrorKind, MigrationError};

/// Unconsumed messages of one group on one topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Consumer group.
    pub group: String,
    /// Topic (retry topics included: their messages are still due; dead-letter topics are not).
    pub topic: String,
    /// Messages stored but not consumed by the group, over every master.
    pub unconsumed: u64,
}

/// Consumer lag per group and topic on `cluster`, from the admin API: every application group, or only `group`;
/// every topic, or only `topic`. Entries with no backlog are included (so a report shows what was checked).
pub async fn backlog(
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    group: Option<&str>,
    topic: Option<&str>,
) -> Result<Vec<Backlog>, MigrationError> {
    cluster.validate("cluster")?;
    let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
    let lag = admin.lag(group, topic).await;
    admin.close().await;
    let lag = lag.map_err(|e| {
        MigrationError::new(
            ErrorKind::Admin,
            None,
            format!("backlog on {}: {e}", cluster.name_server_addr),
        )
    })?;
    Ok(lag
        .into_iter()
        .filter(|((_, t), _)| {
            topic.is_none_or(|want| t == want || t.ends_with(&format!("%{want}")))
        })
        .map(|((group, topic), unconsumed)| Backlog {
            group,
            topic,
            unconsumed,
        })
        .collect())
}
