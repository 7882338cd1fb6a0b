//! Broadcasting groups and tag-filtered subscriptions keep their semantics on both clusters through every phase
//! and a rollback: every broadcasting instance sees every message once; a tag filter applies on both clusters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientConfig, ConsumeConcurrentlyStatus, MQPushConsumer};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{LingerSettings, MigratingPushConsumer, Phase, PhaseHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;

use super::body;
use crate::support::clients::producer;
use crate::support::{client, eventually, run, shared};

/// Deliveries per body.
#[derive(Clone, Default)]
struct Counts(Arc<Mutex<HashMap<String, usize>>>);

impl Counts {
    fn listener(
        &self,
    ) -> impl Fn(
        &[&MessageExt],
        &rocketmq_client_rust::ConsumeConcurrentlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus>
           + Send
           + Sync
           + 'static {
        let me = self.clone();
        move |msgs, _ctx| {
            let mut m = me.0.lock();
            for x in msgs {
                *m.entry(body(x)).or_default() += 1;
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    fn get(&self) -> HashMap<String, usize> {
        self.0.lock().clone()
    }
}

async fn consumer(
    phases: &PhaseHandle,
    group: &str,
    topic: &str,
    expression: &str,
    broadcasting_as: Option<&str>,
    counts: &Counts,
) -> MigratingPushConsumer {
    let pair = &shared().pair;
    let mut b = MigratingPushConsumer::builder(client())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .linger(LingerSettings::off())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset);
    if let Some(instance) = broadcasting_as {
        // Broadcasting instances in one process need their own instance names (the client keeps "DEFAULT").
        let cfg = ClientConfig {
            instance_name: format!("{instance}-{}", std::process::id()).into(),
            ..Default::default()
        };
        b = b
            .message_model(MessageModel::Broadcasting)
            .client_config(cfg);
    }
    let mut c = b.build().unwrap();
    c.subscribe(topic, expression).await.unwrap();
    c.register_message_listener_concurrently(counts.listener());
    c.start().await.unwrap();
    c
}

#[test]
fn broadcasting_and_tag_filters_hold_on_both_clusters_through_every_phase_and_a_rollback() {
    run(Duration::from_secs(420), async {
        let pair = &shared().pair;
        let topic = unique_name("edge_bcast");
        pair.create_topic(&client(), &topic, 2).await.unwrap();
        let phases = PhaseHandle::new();
        let bgroup = unique_name("edge_bcast_cg");
        let fgroup = unique_name("edge_filter_cg");
        let (b1, b2, filtered) = (Counts::default(), Counts::default(), Counts::default());
        let mut c1 = consumer(&phases, &bgroup, &topic, "*", Some("bc1"), &b1).await;
        let mut c2 = consumer(&phases, &bgroup, &topic, "*", Some("bc2"), &b2).await;
        let mut cf = consumer(&phases, &fgroup, &topic, "TagA || TagB", None, &filtered).await;
        let p = producer(pair, &phases).await;
        tokio::time::sleep(Duration::from_secs(3)).await;

        let mut sent: Vec<(String, &str)> = Vec::new();
        let walk = [
            Phase::Initial,
            Phase::DualRead,
            Phase::DualReadWrite,
            Phase::CuttingOver,
            Phase::Completed,
            Phase::CuttingOver,
            Phase::DualReadWrite,
        ];
        let mut landed = [0usize; 2];
        for (step, phase) in walk.into_iter().enumerate() {
            phases.set_phase(&topic, phase).unwrap();
            for c in [&c1, &c2, &cf] {
                c.reconcile().await.unwrap();
            }
            for i in 0..12 {
                let tag = ["TagA", "TagB", "TagC"][i % 3];
                let b = format!("{step}-{phase}-{i}-{tag}");
                let m = Message::builder()
                    .topic(&topic)
                    .tags(tag)
                    .body(b.as_bytes().to_vec())
                    .build()
                    .unwrap();
                let r = p.send(m).await.unwrap().expect("sent");
                let broker = r.message_queue.expect("queue").broker_name().to_string();
                landed[crate::support::clients::cluster_of(pair, &broker).index()] += 1;
                sent.push((b, tag));
            }
        }
        assert!(
            landed[0] > 0 && landed[1] > 0,
            "both clusters written: {landed:?}"
        );
        let wanted: Vec<&String> = sent
            .iter()
            .filter(|(_, t)| *t != "TagC")
            .map(|(b, _)| b)
            .collect();
        let done = eventually(Duration::from_secs(150), || {
            let (g1, g2, gf) = (b1.get(), b2.get(), filtered.get());
            sent.iter()
                .all(|(b, _)| g1.contains_key(b) && g2.contains_key(b))
                && wanted.iter().all(|b| gf.contains_key(*b))
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        for (name, counts) in [("bc1", &b1), ("bc2", &b2)] {
            let got = counts.get();
            let missing: Vec<_> = sent.iter().filter(|(b, _)| !got.contains_key(b)).collect();
            assert!(
                missing.is_empty(),
                "{name} missed {} of {}: {missing:?}",
                missing.len(),
                sent.len()
            );
            let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
            assert!(twice.is_empty(), "{name} saw messages twice: {twice:?}");
        }
        let gf = filtered.get();
        let missing: Vec<_> = wanted.iter().filter(|b| !gf.contains_key(**b)).collect();
        assert!(
            missing.is_empty(),
            "filtered consumer missed {} of {}: {missing:?}",
            missing.len(),
            wanted.len()
        );
        let leaked: Vec<_> = gf.keys().filter(|b| b.ends_with("-TagC")).collect();
        assert!(leaked.is_empty(), "TagC passed the filter: {leaked:?}");
        assert!(
            gf.values().all(|n| *n == 1),
            "filtered consumer saw a message twice"
        );
        assert!(done, "every consumer got what it should within the wait");
        for c in [&mut c1, &mut c2, &mut cf] {
            c.shutdown().await;
        }
    });
}
