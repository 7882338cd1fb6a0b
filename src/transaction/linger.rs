//! The task that shuts the source-side producer down once no topic needs it and no source transaction is pending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rocketmq_client_rust::{ClientError, ClientResult};

use super::core::TxCore;
use crate::cluster::Cluster;

/// How often the task looks at the phases and the pending transactions.
const TICK: Duration = Duration::from_millis(200);

/// Spawn the watcher on the current Tokio runtime; it ends when the producer shuts down or is dropped.
pub(crate) fn spawn_watcher(core: &Arc<TxCore>) -> ClientResult<()> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| {
        ClientError::invalid_state("called inside a Tokio runtime", "no Tokio runtime")
    })?;
    let weak = Arc::downgrade(core);
    handle.spawn(async move {
        let mut waiting_since = None;
        loop {
            tokio::time::sleep(TICK).await;
            let Some(core) = weak.upgrade() else {
                return;
            };
            if core.stopped.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            core.linger_step(&mut waiting_since).await;
        }
    });
    Ok(())
}

impl TxCore {
    /// One look: retire the source side if nothing needs it; `waiting_since` is when waiting for pending
    /// transactions began.
    async fn linger_step(&self, waiting_since: &mut Option<Instant>) {
        let running = self.shared.counters.running[Cluster::Source.index()]
            .load(std::sync::atomic::Ordering::Acquire);
        if !running || self.source_needed() {
            *waiting_since = None;
            return;
        }
        let started = self.started_at.lock().unwrap_or_else(Instant::now);
        if started.elapsed() < self.linger.min {
            return;
        }
        let now = Instant::now();
        let pending = self.shared.pending.live(now);
        if pending.is_empty() {
            *waiting_since = None;
            self.retire("every topic is Completed and no source transaction is pending")
                .await;
            return;
        }
        let since = *waiting_since.get_or_insert_with(|| {
            tracing::info!(group = %self.base.group, pending = pending.len(), max_linger = ?self.linger.max,
                "every topic is Completed; the source-side transaction producer stays up for check-backs");
            now
        });
        if now.duration_since(since) >= self.linger.max {
            let ids: Vec<&str> = pending.iter().map(|(id, _)| id.as_str()).collect();
            tracing::warn!(group = %self.base.group, max_linger = ?self.linger.max, transaction_ids = ?ids,
                "source transactions still undecided after the maximum linger; shutting the source side down \
                 (the source broker checks them back with another producer of the group, if any, until its \
                 transactionCheckMax)");
            self.shared.counters.abandoned(pending.len() as u64);
            self.shared.pending.clear();
            *waiting_since = None;
            self.retire("maximum linger reached").await;
        }
    }

    async fn retire(&self, why: &str) {
        // A send may have brought a topic back to the source meanwhile.
        if self.source_needed() {
            return;
        }
        if self.stop_client(Cluster::Source).await {
            self.shared.counters.retired();
            tracing::info!(group = %self.base.group, reason = why,
                "source-side transaction producer retired");
        }
    }
}
