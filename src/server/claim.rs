//! The claim a control plane holds on its target cluster while it runs a migration task: one name server KV
//! entry (`RMQ_MIGRATION` / `task_claim`) naming the task, the control plane and when it last renewed the claim.
//! A second task against the same target (from another control plane, or this one after its state file was
//! lost) is refused while the claim is live, as the seed requires: one migration task per target.
//!
//! The claim lives on the target itself rather than beside the control plane: two control planes with separate
//! state files can only meet there, and the name server persists its KV table (`kvConfig.json`) across restarts.
//! The claim is renewed every [`RENEW_EVERY`]; one not renewed for [`CLAIM_TTL`] belongs to a control plane that
//! is gone, and may be taken over.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::admin::ClusterAdmin;

/// The name server KV namespace of the claim.
pub(crate) const KV_NAMESPACE: &str = "RMQ_MIGRATION";
/// The name server KV key of the claim.
pub(crate) const KV_KEY: &str = "task_claim";
/// How often a control plane renews its claim.
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(15);
/// A claim not renewed for this long is stale.
pub(crate) const CLAIM_TTL: Duration = Duration::from_secs(60);

/// What the KV entry holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claim {
    /// The task's id.
    task_id: String,
    /// The task's name.
    task: String,
    /// The control plane: `<host> <listen address>`.
    control_plane: String,
    /// Milliseconds since the epoch of the last renewal.
    renewed_ms: u64,
}

impl Claim {
    /// A claim by task `task_id` renewed now.
    pub(crate) fn now(task_id: &str, task: &str, control_plane: &str) -> Self {
        Claim {
            task_id: task_id.to_owned(),
            task: task.to_owned(),
            control_plane: control_plane.to_owned(),
            renewed_ms: now_ms(),
        }
    }

    /// Renewed within [`CLAIM_TTL`].
    pub(crate) fn is_live(&self) -> bool {
        now_ms().saturating_sub(self.renewed_ms) < CLAIM_TTL.as_millis() as u64
    }

    /// Seconds since the last renewal.
    pub(crate) fn age_s(&self) -> u64 {
        now_ms().saturating_sub(self.renewed_ms) / 1000
    }
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task {:?} (id {}) of the control plane at {}, renewed {} s ago",
            self.task,
            self.task_id,
            self.control_plane,
            self.age_s()
        )
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Why a claim could not be taken.
#[derive(Debug)]
pub(crate) enum ClaimError {
    /// Another task holds a live claim.
    Held(Claim),
    /// The target's name server could not be asked or written.
    Unavailable(String),
}

/// The claim on `target`, if any (an unreadable entry counts as none, and is logged).
pub(crate) async fn read(target: &ClusterAdmin) -> Result<Option<Claim>, String> {
    let Some(text) = target.kv_get(KV_NAMESPACE, KV_KEY).await? else {
        return Ok(None);
    };
    match serde_json::from_str(&text) {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            tracing::warn!(entry = %text, error = %e, "unreadable task claim on the target's name server: ignored");
            Ok(None)
        }
    }
}

/// Take or renew the claim for `mine`: refused while another task's claim is live.
pub(crate) async fn acquire(target: &ClusterAdmin, mine: &Claim) -> Result<(), ClaimError> {
    match read(target).await.map_err(ClaimError::Unavailable)? {
        Some(other) if other.task_id != mine.task_id && other.is_live() => {
            return Err(ClaimError::Held(other))
        }
        Some(other) if other.task_id != mine.task_id => {
            tracing::warn!(stale = %other, "taking over a stale task claim on the target");
        }
        _ => {}
    }
    let text = serde_json::to_string(mine).expect("a claim serializes");
    target
        .kv_put(KV_NAMESPACE, KV_KEY, &text)
        .await
        .map_err(ClaimError::Unavailable)
}

/// Drop the claim of task `task_id` (left alone when another task holds it).
pub(crate) async fn release(target: &ClusterAdmin, task_id: &str) -> Result<(), String> {
    match read(target).await? {
        Some(c) if c.task_id == task_id => target.kv_delete(KV_NAMESPACE, KV_KEY).await,
        _ => Ok(()),
    }
}

/// `<host> <listen address>`, as a claim names its control plane.
pub(crate) fn control_plane_name(listen: std::net::SocketAddr) -> String {
    format!("{} {listen}", crate::control::hostname())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_live_until_its_ttl() {
        let mut c = Claim::now("id", "t", "h 127.0.0.1:1");
        assert!(c.is_live());
        c.renewed_ms -= CLAIM_TTL.as_millis() as u64 + 1;
        assert!(!c.is_live());
        assert!(c.to_string().contains("task \"t\" (id id)"), "{c}");
    }
}
