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

#[test]
fn a_message_sent_back_returns_through_the_cluster_that_delivered_it() {
    use std::sync::Arc;

    use parking_lot::Mutex;
    use rocketmq_client_rust::{ConsumeConcurrentlyStatus, MQConsumer};
    use rocketmq_migration::consuming_cluster;
    use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
    use rocketmq_model::common::message::message_ext::MessageExt;

    use crate::support::clients::raw_send;

    support::run(Duration::from_secs(240), async {
        let pair = &support::shared().pair;
        let topic = unique_name("BackTopic");
        pair.create_topic(&support::client(), &topic, 2)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualRead).unwrap();
        type Seen = Vec<(MessageExt, Option<Cluster>)>;
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let mut c = rocketmq_migration::MigratingPushConsumer::builder(support::client())
            .consumer_group(unique_name("back_cg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .phases(phases.clone())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .expect("consumer build");
        c.subscribe(&topic, "*").await.expect("subscribe");
        c.register_message_listener_concurrently({
            let seen = seen.clone();
            move |msgs: &[&MessageExt], _: &_| {
                let mut seen = seen.lock();
                seen.extend(msgs.iter().map(|m| ((*m).clone(), consuming_cluster())));
                Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
            }
        });
        c.start().await.expect("consumer start");

        // The topic's queues on both clusters, as the raw client's call returns them.
        let queues = c
            .fetch_subscribe_message_queues(&topic)
            .await
            .expect("queues");
        for side in Cluster::BOTH {
            let broker = pair.cluster(side).broker_name();
            assert!(
                queues.iter().any(|q| q.broker_name().as_str() == broker),
                "{side}'s queues listed: {queues:?}"
            );
        }

        raw_send(pair, Cluster::Target, &topic, "back").await;
        assert!(eventually(Duration::from_secs(60), || !seen.lock().is_empty()).await);
        let (ext, from) = seen.lock()[0].clone();
        assert_eq!(from, Some(Cluster::Target));
        assert_eq!(ext.body().as_deref(), Some(&b"back"[..]));

        // Sent back (delay level 1: one second) to the broker that delivered it: the retry copy comes back from the
        // target, carries the key already consumed, and is suppressed as a duplicate; the source sees nothing.
        c.send_message_back(ext, 1, pair.target.broker_name())
            .await
            .expect("send back");
        let back = eventually(Duration::from_secs(60), || {
            c.stats().duplicates_from[Cluster::Target.index()] >= 1
        })
        .await;
        let s = c.stats();
        assert!(back, "the retry copy returned from the target: {s:?}");
        assert_eq!(s.received[Cluster::Source.index()], 0, "{s:?}");
        assert_eq!(seen.lock().len(), 1, "the listener saw the message once");
        c.shutdown().await;
    });
}
