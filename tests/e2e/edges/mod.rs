//! Nothing lost at the edges: broker retries, delayed messages, dead letters, consumers outside the shim,
//! broadcasting and filtered subscriptions.

mod broadcast;
mod dead_letters;
mod retries;
mod unmanaged;

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus};
use rocketmq_migration::Cluster;
use rocketmq_model::common::message::message_ext::MessageExt;

/// What an application's listener saw: bodies consumed, and first deliveries it failed per cluster.
#[derive(Clone, Default)]
pub struct Ledger(pub Arc<Mutex<LedgerInner>>);

#[derive(Default)]
pub struct LedgerInner {
    pub consumed: HashSet<String>,
    /// Bodies consumed more than once.
    pub twice: Vec<String>,
    /// First deliveries answered with `ReconsumeLater`, per cluster.
    pub failed: [usize; 2],
    /// Bodies consumed from a redelivery (retry topic), per cluster.
    pub retried: [usize; 2],
}

impl Ledger {
    /// A listener consuming every message, except that first deliveries for which `fail(body)` holds are
    /// answered with `ReconsumeLater` (a routine transient failure).
    pub fn listener(
        &self,
        fail: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> impl Fn(
        &[&MessageExt],
        &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus>
           + Send
           + Sync
           + 'static {
        let me = self.clone();
        move |msgs, _ctx| {
            let cluster = rocketmq_migration::consuming_cluster().unwrap_or(Cluster::Source);
            let mut l = me.0.lock();
            if msgs
                .iter()
                .any(|m| m.reconsume_times == 0 && fail(&body(m)))
            {
                l.failed[cluster.index()] += 1;
                return Ok(ConsumeConcurrentlyStatus::ReconsumeLater);
            }
            for m in msgs {
                let b = body(m);
                if m.reconsume_times > 0 {
                    l.retried[cluster.index()] += 1;
                }
                if !l.consumed.insert(b.clone()) {
                    l.twice.push(b);
                }
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    /// Bodies of `acked` not consumed.
    pub fn missing(&self, acked: &HashSet<String>) -> Vec<String> {
        let l = self.0.lock();
        let mut v: Vec<String> = acked.difference(&l.consumed).cloned().collect();
        v.sort();
        v
    }
}

pub fn body(m: &MessageExt) -> String {
    String::from_utf8_lossy(m.body_slice()).into_owned()
}
