//! The other send methods of the shim, in a split phase: callbacks, oneway, batches, queue-addressed sends.

use std::time::Duration;

use rocketmq_client_rust::{ArcSendCallback, ClientError, MQPushConsumer, SendResult};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, Phase, PhaseHandle};
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;

use crate::support::clients::{cluster_of, consumer, message, producer};
use crate::support::listener::Recorder;
use crate::support::{self, eventually};

/// A message whose UNIQ_KEY is known before sending (oneway and callback sends return no id).
fn keyed(topic: &str, body: &str) -> (Message, String) {
    let mut m = message(topic, body);
    MessageClientIDSetter::set_uniq_id(&mut m);
    let key = MessageClientIDSetter::get_uniq_id(&m).unwrap().to_string();
    (m, key)
}

#[test]
fn callback_oneway_batch_and_queue_sends_are_routed_and_consumed() {
    support::run(Duration::from_secs(240), async {
        let pair = &support::shared().pair;
        let topic = unique_name("ApiTopic");
        pair.create_topic(&support::client(), &topic, 4)
            .await
            .expect("topic");
        let phases = PhaseHandle::new();
        phases.set_phase(&topic, Phase::DualReadWrite).unwrap();
        let rec = Recorder::default();
        let mut c = consumer(pair, &phases, &unique_name("api_cg"), &topic, &rec, None).await;
        let mut p = producer(pair, &phases).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<String, String>>();
        let mut keys = Vec::new();
        let mut kinds = std::collections::HashMap::new();

        for i in 0..10 {
            let k = p
                .send(message(&topic, &format!("plain {i}")))
                .await
                .unwrap()
                .unwrap()
                .msg_id
                .unwrap()
                .to_string();
            kinds.insert(k.clone(), "plain");
            keys.push(k);

            let (m, k) = keyed(&topic, &format!("callback {i}"));
            kinds.insert(k.clone(), "callback");
            keys.push(k);
            let t = tx.clone();
            p.send_with_callback(m, move |r: Option<&SendResult>, e: Option<&ClientError>| {
                let _ = t.send(
                    r.and_then(|r| r.msg_id.as_ref().map(|x| x.to_string()))
                        .ok_or(format!("{e:?}")),
                );
            })
            .await
            .unwrap();

            let (m, k) = keyed(&topic, &format!("callback timeout {i}"));
            kinds.insert(k.clone(), "callback_timeout");
            keys.push(k);
            let t = tx.clone();
            p.send_with_callback_timeout(
                m,
                move |r: Option<&SendResult>, e: Option<&ClientError>| {
                    let _ = t.send(
                        r.and_then(|r| r.msg_id.as_ref().map(|x| x.to_string()))
                            .ok_or(format!("{e:?}")),
                    );
                },
                5000,
            )
            .await
            .unwrap();

            let (m, k) = keyed(&topic, &format!("oneway {i}"));
            kinds.insert(k.clone(), "oneway");
            keys.push(k);
            p.send_oneway(m).await.unwrap();

            let batch: Vec<(Message, String)> = (0..3)
                .map(|j| keyed(&topic, &format!("batch {i} {j}")))
                .collect();
            for (_, k) in &batch {
                kinds.insert(k.clone(), "batch");
                keys.push(k.clone());
            }
            p.send_batch(batch.into_iter().map(|(m, _)| m).collect())
                .await
                .unwrap();

            let (m, k) = keyed(&topic, &format!("selector callback {i}"));
            kinds.insert(k.clone(), "selector_callback");
            keys.push(k);
            let t = tx.clone();
            let cb: ArcSendCallback =
                std::sync::Arc::new(move |r: Option<&SendResult>, e: Option<&ClientError>| {
                    let _ = t.send(
                        r.and_then(|r| r.msg_id.as_ref().map(|x| x.to_string()))
                            .ok_or(format!("{e:?}")),
                    );
                });
            let key = format!("k{i}");
            p.send_with_selector_callback(
                m,
                |mqs: &[MessageQueue], _: &Message, k: &String| {
                    mqs.get(k.len() % mqs.len()).cloned()
                },
                key,
                Some(cb),
            )
            .await
            .unwrap();
        }
        // Queue-addressed sends: the queues of both clusters, each send lands on the queue's cluster.
        let queues = p.fetch_publish_message_queues(&topic).await.unwrap();
        let owners: Vec<Cluster> = queues
            .iter()
            .map(|q| cluster_of(pair, q.broker_name().as_str()))
            .collect();
        assert!(
            owners.contains(&Cluster::Source) && owners.contains(&Cluster::Target),
            "{owners:?}"
        );
        for (i, q) in queues.iter().enumerate() {
            let r = p
                .send_to_queue(message(&topic, &format!("queue {i}")), q.clone())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                r.message_queue.as_ref().unwrap().broker_name(),
                q.broker_name()
            );
            let k = r.msg_id.unwrap().to_string();
            kinds.insert(k.clone(), "queue");
            keys.push(k);
        }

        for _ in 0..30 {
            let r = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("callback")
                .unwrap();
            r.expect("callback reported success");
        }
        let all = eventually(Duration::from_secs(60), || keys.iter().all(|k| rec.has(k))).await;
        let missing: Vec<&str> = keys
            .iter()
            .filter(|k| !rec.has(k))
            .map(|k| kinds[k])
            .collect();
        assert!(
            all,
            "{} of {} received; missing {:?}",
            keys.len() - missing.len(),
            keys.len(),
            missing
        );
        let stats = p.stats();
        assert!(stats.sent[0] > 0 && stats.sent[1] > 0, "{stats:?}");
        c.shutdown().await;
        p.shutdown().await;
    });
}
