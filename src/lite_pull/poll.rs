//! `poll`: what both clusters' raw consumers returned, merged and deduplicated.
//!
//! Each cluster's raw consumer is polled in its own task, so a slow or empty cluster never holds back the other
//! and a raw poll is never cancelled half-way (that would lose the batch it took). A batch that arrives after a
//! `poll` returned is returned by the next one.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::time::Instant;

use super::core::Core;
use crate::cluster::Cluster;

impl Core {
    /// Wait up to `timeout_millis` for messages from the clusters being read; returns as soon as some arrived.
    pub(crate) async fn poll(&self, timeout_millis: u64) -> Vec<Arc<MessageExt>> {
        let mut rx = self.results_rx.lock().await;
        if !self.started.load(Ordering::Acquire) {
            return Vec::new();
        }
        let auto = self.poll.auto_commit();
        if auto {
            self.maybe_auto_commit().await;
        }
        let deadline = Instant::now() + Duration::from_millis(timeout_millis);
        let mut out: Vec<Arc<MessageExt>> = self
            .claims
            .retry_parked(auto)
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        // A cluster is polled again within this call only after it returned messages (all may be duplicates).
        let mut may_poll = [true; 2];
        loop {
            while let Ok((c, msgs)) = rx.try_recv() {
                if !msgs.is_empty() {
                    may_poll[c.index()] = true;
                }
                out.extend(self.take(c, msgs, auto));
            }
            if !out.is_empty() || Instant::now() >= deadline {
                return out;
            }
            for c in Cluster::BOTH {
                if may_poll[c.index()] && self.spawn_poll(c, deadline) {
                    may_poll[c.index()] = false;
                }
            }
            if let Ok(Some((c, msgs))) = tokio::time::timeout_at(deadline, rx.recv()).await {
                if !msgs.is_empty() {
                    may_poll[c.index()] = true;
                }
                out.extend(self.take(c, msgs, auto));
            }
        }
    }

    /// What `poll` returns of a batch from `c`: messages of paused queues are held back until `resume` (a raw
    /// consumer's pull already in flight when `pause` was called still returns them), the rest pass dedupe.
    fn take(&self, c: Cluster, msgs: Vec<Arc<MessageExt>>, auto: bool) -> Vec<Arc<MessageExt>> {
        let msgs = {
            let paused = self.paused.lock();
            if paused.is_empty() {
                msgs
            } else {
                let (held, rest): (Vec<_>, Vec<_>) = msgs
                    .into_iter()
                    .partition(|m| paused.contains(&(c, super::claims::queue_of(m))));
                if !held.is_empty() {
                    self.held.lock().extend(held.into_iter().map(|m| (c, m)));
                }
                rest
            }
        };
        self.claims.admit(c, msgs, auto)
    }

    /// `resume`: stop holding back `c`'s `queues` and queue what was held for the next poll.
    pub(crate) fn release(&self, c: Cluster, queues: &[MessageQueue]) {
        let mut paused = self.paused.lock();
        for q in queues {
            paused.remove(&(c, q.clone()));
        }
        let mut held = self.held.lock();
        let (back, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut *held)
            .into_iter()
            .partition(|(hc, m)| *hc == c && queues.contains(&super::claims::queue_of(m)));
        *held = keep;
        if !back.is_empty() {
            let _ = self
                .results_tx
                .send((c, back.into_iter().map(|(_, m)| m).collect()));
        }
    }

    /// Start a raw poll on `c` until `deadline` unless one is running; whether one was started.
    fn spawn_poll(&self, c: Cluster, deadline: Instant) -> bool {
        if self.polling[c.index()].load(Ordering::Acquire) {
            return false;
        }
        // A side being started or changed is skipped this round; the other cluster is polled meanwhile.
        let Ok(side) = self.sides[c].try_lock() else {
            return false;
        };
        let Some(raw) = side.as_ref().map(|s| s.consumer.clone()) else {
            return false;
        };
        drop(side);
        self.polling[c.index()].store(true, Ordering::Release);
        let flag = self.polling.clone();
        let tx = self.results_tx.clone();
        let millis = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64;
        tokio::spawn(async move {
            let msgs = raw.poll_with_timeout_zero_copy(millis).await;
            let _ = tx.send((c, msgs));
            flag[c.index()].store(false, Ordering::Release);
        });
        true
    }

    /// Commit both clusters when the auto-commit interval has passed.
    async fn maybe_auto_commit(&self) {
        if !self.poll.commit_due(Instant::now()) {
            return;
        }
        if let Err(e) = self.commit_all().await {
            tracing::warn!(group = %self.base.group, error = %e, "auto-commit failed; will retry at the next interval");
        }
    }
}
