//! Selector sends in DualReadWrite stay on one cluster per key, and an orderly listener sees each key in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, MQPushConsumer,
};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{consuming_cluster, Cluster, MigratingPushConsumer, Phase, PhaseHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;

use crate::support::clients::{by_key, cluster_of, message, producer};
use crate::support::{self, eventually};

/// key -> sequence numbers in delivery order, and the cluster they came from
type Seen = HashMap<String, (Vec<u32>, Option<Cluster>)>;

#[test]
fn keys_stick_to_one_cluster_and_orderly_listeners_keep_key_order() {
    support::run(Duration::from_secs(240), async {
        let pair = &support::shared().pair;
        let topic = unique_name("OrderTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualReadWrite).unwrap();
        phases.set_write_ratio(&topic, 0.5).unwrap();

        // key -> sequence numbers in delivery order, and the cluster they came from
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let mut consumer = MigratingPushConsumer::builder(support::client())
            .consumer_group(unique_name("order_cg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .phases(phases.clone())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        consumer.subscribe(topic.as_str(), "*").await.unwrap();
        let s2 = seen.clone();
        consumer.register_message_listener_orderly(
            move |msgs: &[&MessageExt],
                  _ctx: &mut ConsumeOrderlyContext|
                  -> ClientResult<ConsumeOrderlyStatus> {
                let mut s = s2.lock();
                for m in msgs {
                    let body = String::from_utf8_lossy(m.body_slice()).to_string();
                    let (key, seq) = body.split_once(':').unwrap();
                    let e = s.entry(key.to_owned()).or_default();
                    e.0.push(seq.parse().unwrap());
                    e.1 = consuming_cluster();
                }
                Ok(ConsumeOrderlyStatus::Success)
            },
        );
        consumer.start().await.unwrap();

        let mut p = producer(pair, &phases).await;
        let keys: Vec<String> = (0..20).map(|i| format!("order-{i}")).collect();
        let mut landed: HashMap<String, Vec<Cluster>> = HashMap::new();
        for seq in 0..10u32 {
            for key in &keys {
                let r = p
                    .send_with_selector(
                        message(&topic, &format!("{key}:{seq}")),
                        by_key,
                        key.clone(),
                    )
                    .await
                    .expect("send")
                    .expect("result");
                let broker = r.message_queue.unwrap().broker_name().to_string();
                landed
                    .entry(key.clone())
                    .or_default()
                    .push(cluster_of(pair, &broker));
            }
        }
        for (key, clusters) in &landed {
            assert!(
                clusters.iter().all(|c| *c == clusters[0]),
                "{key} moved between clusters: {clusters:?}"
            );
        }
        let first: Vec<Cluster> = landed.values().map(|c| c[0]).collect();
        assert!(
            first.contains(&Cluster::Source) && first.contains(&Cluster::Target),
            "ratio 0.5 uses both"
        );

        let all = eventually(Duration::from_secs(60), || {
            let s = seen.lock();
            keys.iter()
                .all(|k| s.get(k).is_some_and(|e| e.0.len() >= 10))
        })
        .await;
        assert!(all, "not all delivered");
        let s = seen.lock().clone();
        for (key, (seqs, cluster)) in &s {
            assert_eq!(
                seqs,
                &(0..10).collect::<Vec<u32>>(),
                "{key} out of order or duplicated"
            );
            assert_eq!(
                *cluster,
                Some(landed[key][0]),
                "{key}: consuming_cluster matches where it was stored"
            );
        }
        consumer.shutdown().await;
        p.shutdown().await;
    });
}
