//! A recording listener: which keys reached the application, from which cluster, how often.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus};
use rocketmq_migration::dedupe::{KeyExtractor, UniqKey};
use rocketmq_model::common::message::message_ext::MessageExt;

#[derive(Default)]
pub struct Record {
    /// UNIQ_KEY -> (deliveries to the listener, broker name of the first delivery)
    pub seen: HashMap<String, (usize, String)>,
    pub deliveries: usize,
    /// Deliveries that were redeliveries (reconsume_times > 0).
    pub redelivered: usize,
}

#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Record>>);

impl Recorder {
    pub fn record(&self, msgs: &[&MessageExt]) {
        let mut r = self.0.lock();
        for m in msgs {
            // The application-level identity of a message: the shim's default dedupe key.
            let key = UniqKey.key(m).unwrap_or_default();
            r.deliveries += 1;
            if m.reconsume_times > 0 {
                r.redelivered += 1;
            }
            let broker = m.broker_name.to_string();
            r.seen.entry(key).or_insert((0, broker)).0 += 1;
        }
    }

    pub fn listener(
        &self,
    ) -> impl Fn(
        &[&MessageExt],
        &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus>
           + Send
           + Sync
           + 'static {
        let me = self.clone();
        move |msgs, _ctx| {
            me.record(msgs);
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.lock().seen.contains_key(key)
    }

    pub fn count(&self) -> usize {
        self.0.lock().seen.len()
    }

    pub fn duplicates(&self) -> Vec<(String, usize)> {
        self.0
            .lock()
            .seen
            .iter()
            .filter(|(_, v)| v.0 > 1)
            .map(|(k, v)| (k.clone(), v.0))
            .collect()
    }
}
