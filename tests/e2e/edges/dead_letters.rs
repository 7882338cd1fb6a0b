//! Dead letters are not forgotten: counted per group and cluster, the move to `completed` waits for a review,
//! and `dlq resend` brings them to the target with their keys and properties.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rocketmq_client_rust::{ConsumeConcurrentlyStatus, MQPushConsumer};
use rocketmq_migration::dlq::{self, ResendOutcome, ResendRequest};
use rocketmq_migration::{Cluster, Phase};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;

use super::{body, prepare, shim_consumer, shim_producer, Prepared};
use crate::support::plane::{self, advance_when_ready, refusal};
use crate::support::{client, eventually, run, shared};

#[test]
fn dead_letters_are_counted_reviewed_and_resent_to_the_target() {
    run(Duration::from_secs(300), async {
        let p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let Prepared { topic, group, ctl } = prepare(&p, "edge_dlq", 2, "payments").await;
        let producer = shim_producer(&ctl).await;
        // The listener refuses "poison" while `refuse` holds; after one retry the broker moves it to the DLQ.
        let refuse = Arc::new(AtomicBool::new(true));
        // (body, cluster it came from, its orderId property)
        type Got = Vec<(String, Option<Cluster>, Option<String>)>;
        let got: Arc<Mutex<Got>> = Arc::default();
        let mut consumer = {
            let (refuse, got) = (refuse.clone(), got.clone());
            let mut c = shim_consumer(&ctl, &group)
                .max_reconsume_times(1)
                .build()
                .unwrap();
            c.subscribe(&topic, "*").await.unwrap();
            c.register_message_listener_concurrently(move |msgs: &[&MessageExt], _ctx: &_| {
                if refuse.load(Ordering::Acquire) && msgs.iter().any(|m| body(m) == "poison") {
                    return Ok(ConsumeConcurrentlyStatus::ReconsumeLater);
                }
                let mut g = got.lock();
                for m in msgs {
                    let order = m.properties().get("orderId").map(|v| v.to_string());
                    g.push((body(m), rocketmq_migration::consuming_cluster(), order));
                }
                Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
            });
            c.start().await.unwrap();
            c
        };
        let mut poison = Message::builder()
            .topic(&topic)
            .key("order-42")
            .tags("Pay")
            .body(b"poison".to_vec())
            .build()
            .unwrap();
        rocketmq_model::common::message::MessageTrait::put_user_property(
            &mut poison,
            "orderId".into(),
            "42".into(),
        )
        .unwrap();
        producer.send(poison).await.unwrap().expect("sent");
        producer
            .send(
                Message::builder()
                    .topic(&topic)
                    .body(b"fine".to_vec())
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();

        // First delivery and its retry (level 3, 10 s) fail: one dead letter on the source.
        let mut counted = None;
        for _ in 0..120 {
            let views = p.admin.topics().await.unwrap();
            let v = views.iter().find(|v| v.topic == topic).unwrap();
            if let Some(g) = v
                .dead_letters
                .iter()
                .find(|g| g.group == group && g.source == Some(1))
            {
                counted = Some(g.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let counted = counted.expect("the dead letter is counted on the source");
        assert_eq!(counted.target, Some(0));

        for from in [Phase::Initial, Phase::DualRead, Phase::DualReadWrite] {
            advance_when_ready(&p.admin, &topic, from, Duration::from_secs(60)).await;
        }
        assert!(
            eventually(Duration::from_secs(10), || ctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::CuttingOver)
            .await
        );
        // Completed waits for a review of the dead letter, and only for that.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let e = p
                .admin
                .advance(&topic, Phase::CuttingOver, false)
                .await
                .unwrap_err();
            let failing: Vec<_> = refusal(&e)
                .body
                .checks
                .iter()
                .filter(|c| !c.passed)
                .cloned()
                .collect();
            if failing.len() == 1 && failing[0].code == "source_dlq_reviewed" {
                assert!(
                    failing[0].detail.contains(&format!("%DLQ%{group}: 1")),
                    "{}",
                    failing[0].detail
                );
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{failing:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        let source = pair.source.cluster_config();
        let target = pair.target.cluster_config();
        let letters = dlq::list(&source, client(), &group, 100).await.unwrap();
        assert_eq!(letters.len(), 1, "{letters:?}");
        let l = &letters[0];
        assert_eq!(l.topic.as_deref(), Some(topic.as_str()));
        assert_eq!(l.keys.as_deref(), Some("order-42"));
        assert_eq!(l.tags.as_deref(), Some("Pay"));
        assert_eq!(l.properties.get("orderId").map(String::as_str), Some("42"));
        let select = ResendRequest::new(&group).limit(100);
        let dry = dlq::resend(&source, &target, client(), &select.clone().dry_run(true))
            .await
            .unwrap();
        assert_eq!(dry.len(), 1);
        assert_eq!(dry[0].outcome, ResendOutcome::WouldSend);
        assert_eq!(dry[0].to_topic.as_deref(), Some(topic.as_str()));

        // The application's bug is fixed; the dead letter goes to the target, where the consumer reads it.
        refuse.store(false, Ordering::Release);
        let sent = dlq::resend(&source, &target, client(), &select.topic(&topic))
            .await
            .unwrap();
        assert!(
            matches!(sent[0].outcome, ResendOutcome::Sent(_)),
            "{sent:?}"
        );
        assert!(
            eventually(Duration::from_secs(60), || got
                .lock()
                .iter()
                .any(|(b, c, o)| b == "poison" && *c == Some(Cluster::Target) && o.as_deref() == Some("42")))
            .await,
            "the resent dead letter reaches the listener from the target, with its properties: {:?}",
            got.lock()
        );
        let ack = p.admin.review_dead_letters(&topic).await.unwrap();
        assert_eq!(ack.reviewed, 1);
        advance_when_ready(
            &p.admin,
            &topic,
            Phase::CuttingOver,
            Duration::from_secs(60),
        )
        .await;
        let audit = p.admin.audit(Some(&topic), 100).await.unwrap();
        assert!(
            audit.iter().any(|e| e.action == "dlq_reviewed"),
            "{audit:?}"
        );
        consumer.shutdown().await;
        ctl.shutdown();
    });
}
