//! The test kit itself: clusters accept sends and deliver them; a broker stops and restarts.

use std::time::Duration;

use rocketmq_client_rust::{DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_single::Message;

use crate::support::{self, eventually, listener::Recorder};

async fn send_n(ns: &str, topic: &str, n: usize) -> Vec<String> {
    let mut p = DefaultMQProducer::builder(support::client())
        .producer_group(unique_name("kit_pg"))
        .name_server_addr(ns.to_owned())
        .build();
    p.start().await.expect("producer start");
    let mut ids = vec![];
    for i in 0..n {
        let msg = Message::builder()
            .topic(topic)
            .body(format!("m{i}").into_bytes())
            .build()
            .unwrap();
        let r = p
            .send_with_timeout(msg, 5000)
            .await
            .expect("send")
            .expect("sync result");
        ids.push(r.msg_id.expect("msg id").to_string());
    }
    p.shutdown().await;
    ids
}

#[test]
fn clusters_deliver_what_they_accept_and_survive_a_broker_restart() {
    support::run(Duration::from_secs(240), async {
        let mut pair = ClusterPair::start().await.expect("pair");
        let topic = unique_name("KitTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let mut ids = send_n(pair.source.name_server_addr(), &topic, 20).await;
        pair.source.stop_broker().await;
        assert!(!pair.source.broker_running());
        pair.source.restart_broker().await.expect("restart");
        ids.extend(send_n(pair.source.name_server_addr(), &topic, 20).await);

        let rec = Recorder::default();
        let mut c = DefaultMQPushConsumer::builder(support::client())
            .consumer_group(unique_name("kit_cg"))
            .name_server_addr(pair.source.name_server_addr().to_owned())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        c.subscribe(topic.as_str(), "*").await.expect("subscribe");
        c.register_message_listener_concurrently(rec.listener());
        c.start().await.expect("consumer start");
        let all = eventually(Duration::from_secs(60), || ids.iter().all(|k| rec.has(k))).await;
        c.shutdown().await;
        assert!(all, "received {} of {}", rec.count(), ids.len());
        pair.shutdown().await;
    });
}
