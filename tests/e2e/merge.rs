//! The same message (same UNIQ_KEY) stored on both clusters reaches the listener once.

use std::time::Duration;

use rocketmq_client_rust::{DefaultMQProducer, MQPushConsumer};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, Phase, PhaseHandle};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;

use crate::support::clients::{consumer, message};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

#[test]
fn one_message_on_both_clusters_reaches_the_listener_once() {
    support::run(Duration::from_secs(240), async {
        let pair = &support::shared().pair;
        let topic = unique_name("MergeTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualRead).unwrap();
        let rec = Recorder::default();
        let mut c = consumer(pair, &phases, &unique_name("merge_cg"), &topic, &rec, None).await;

        let mut raw = Vec::new();
        for side in Cluster::BOTH {
            let mut p = DefaultMQProducer::builder(support::client())
                .producer_group(unique_name("merge_pg"))
                .name_server_addr(pair.cluster(side).name_server_addr().to_owned())
                .build();
            p.start().await.expect("start");
            raw.push(p);
        }
        let mut keys = Vec::new();
        for i in 0..20 {
            let mut msg = message(&topic, &format!("twice {i}"));
            MessageClientIDSetter::set_uniq_id(&mut msg);
            let key = MessageClientIDSetter::get_uniq_id(&msg)
                .unwrap()
                .to_string();
            for p in &raw {
                let r = p
                    .send_with_timeout(msg.clone(), 5000)
                    .await
                    .expect("send")
                    .expect("result");
                assert_eq!(
                    r.msg_id.unwrap().to_string(),
                    key,
                    "the raw client keeps a preset UNIQ_KEY"
                );
            }
            keys.push(key);
        }
        // Both copies of every key were delivered by the clusters; the listener saw each key once.
        let both = eventually(Duration::from_secs(60), || {
            let s = c.stats();
            s.received[0] >= 20 && s.received[1] >= 20
        })
        .await;
        assert!(both, "both copies delivered: {:?}", c.stats());
        assert!(keys.iter().all(|k| rec.has(k)));
        assert!(rec.duplicates().is_empty(), "{:?}", rec.duplicates());
        assert_eq!(c.stats().duplicates_suppressed, 20, "{:?}", c.stats());
        for mut p in raw {
            p.shutdown().await;
        }
        c.shutdown().await;
    });
}
