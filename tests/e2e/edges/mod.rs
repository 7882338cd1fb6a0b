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
use rocketmq_migration::control::ControlClient;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{
    Cluster, MigratingProducer, MigratingPushConsumer, MigratingPushConsumerBuilder,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;

use crate::support::plane::Plane;
use crate::support::{client, shared};

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

/// A topic created on both clusters and registered with the control plane, its consumer group created on the
/// target, and a control client for the application.
pub struct Prepared {
    pub topic: String,
    pub group: String,
    pub ctl: ControlClient,
}

/// Prepare `<name>` (topic) and `<name>_cg` (group) for application `app`.
pub async fn prepare(p: &Plane, name: &str, queues: i32, app: &str) -> Prepared {
    let pair = &shared().pair;
    let topic = unique_name(name);
    let group = unique_name(&format!("{name}_cg"));
    pair.create_topic(&client(), &topic, queues).await.unwrap();
    pair.target.create_group(&client(), &group).await.unwrap();
    p.admin.register(&[&topic], None).await.unwrap();
    let ctl = p.client(app).await;
    Prepared { topic, group, ctl }
}

/// A started shim producer following `ctl`.
pub async fn shim_producer(ctl: &ControlClient) -> MigratingProducer {
    let pair = &shared().pair;
    let mut producer = MigratingProducer::builder(client())
        .producer_group(unique_name("edge_pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .control(ctl)
        .build()
        .unwrap();
    producer.start().await.unwrap();
    producer
}

/// A shim consumer builder of `group` following `ctl`, reading a new group from the first offset.
pub fn shim_consumer(ctl: &ControlClient, group: &str) -> MigratingPushConsumerBuilder {
    let pair = &shared().pair;
    MigratingPushConsumer::builder(client())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .control(ctl)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
}
