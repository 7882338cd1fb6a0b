//! Namespaced clusters end to end (the seed's TDMQ target names things `MQ_INST_x%orders`): metadata imported into
//! the namespace, the application and the control plane both told the namespace, the topic walked through every
//! phase with the gates on and a rollback on the way, nothing lost. Both directions.

use std::collections::HashSet;
use std::time::Duration;

use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::metadata::{self, ImportOptions, ImportStatus, NamespaceMode, Selection};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{ClusterConfig, MigratingProducer, MigratingPushConsumer, Phase};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_single::Message;

use crate::edges::Ledger;
use crate::support::plane::{self, advance_when_ready, rollback_when_ready};
use crate::support::{client, eventually, run, shared};

/// Send `n` messages through `producer`; the bodies acknowledged.
async fn send(producer: &MigratingProducer, topic: &str, tag: &str, n: usize) -> HashSet<String> {
    let mut acked = HashSet::new();
    for i in 0..n {
        let b = format!("{tag}-{i}");
        let m = Message::builder()
            .topic(topic)
            .body(b.clone().into_bytes())
            .build()
            .unwrap();
        if producer.send(m).await.is_ok() {
            acked.insert(b);
        }
    }
    acked
}

/// Walk `topic` (short name) from `initial` to `completed` with a rollback on the way, the application's clusters
/// being `source` and `target` (with their namespaces) and the control plane told the same.
async fn walk(source: ClusterConfig, target: ClusterConfig, topic: &str, group: &str) {
    let (s, t) = (source.clone(), target.clone());
    let p = plane::start(move |c| {
        c.source = s;
        c.target = t;
    })
    .await;
    p.admin.register(&[topic], None).await.unwrap();
    let ctl = p.client("ns-app").await;
    let mut producer = MigratingProducer::builder(client())
        .producer_group(unique_name("ns_pg"))
        .source(source.clone())
        .target(target.clone())
        .control(&ctl)
        .build()
        .unwrap();
    producer.start().await.unwrap();
    let ledger = Ledger::default();
    let mut consumer = MigratingPushConsumer::builder(client())
        .consumer_group(group)
        .source(source.clone())
        .target(target.clone())
        .control(&ctl)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build()
        .unwrap();
    consumer.subscribe(topic, "*").await.unwrap();
    consumer.register_message_listener_concurrently(ledger.listener(|_| false));
    consumer.start().await.unwrap();

    let mut acked = HashSet::new();
    let limit = Duration::from_secs(60);
    // Six moves: four forward, one back, then forward to completed (its gates need the source drained and quiet).
    let steps: [(Phase, bool); 6] = [
        (Phase::Initial, false),
        (Phase::DualRead, false),
        (Phase::DualReadWrite, true), // back to dual_read
        (Phase::DualRead, false),
        (Phase::DualReadWrite, false),
        (Phase::CuttingOver, false),
    ];
    for (i, (from, back)) in steps.into_iter().enumerate() {
        acked.extend(send(&producer, topic, &format!("s{i}"), 20).await);
        let moved = if back {
            rollback_when_ready(&p.admin, topic, from, limit).await
        } else {
            advance_when_ready(&p.admin, topic, from, limit).await
        };
        let ns_check = moved
            .checks
            .iter()
            .find(|c| c.code == "namespaces_match")
            .expect("namespaces_match runs on every move");
        assert!(ns_check.passed, "{ns_check:?}");
    }
    // The last move (cutting_over -> completed) needed the source drained and quiet; now only the target.
    acked.extend(send(&producer, topic, "done", 20).await);
    assert!(acked.len() >= 130, "sends acknowledged: {}", acked.len());
    assert!(
        eventually(Duration::from_secs(60), || ledger
            .missing(&acked)
            .is_empty())
        .await,
        "lost: {:?}",
        ledger.missing(&acked)
    );
    assert!(
        ledger.0.lock().twice.is_empty(),
        "{:?}",
        ledger.0.lock().twice
    );

    // Where things live: the status shows each cluster's full names, the groups view the short ones.
    let status = p.admin.topics().await.unwrap();
    let view = status.iter().find(|v| v.topic == topic).unwrap();
    assert_eq!(view.state.phase, Phase::Completed);
    let full = |c: &ClusterConfig| match &c.namespace {
        Some(ns) => format!("{ns}%{topic}"),
        None => topic.to_owned(),
    };
    assert_eq!(view.names.source, full(&source));
    assert_eq!(view.names.target, full(&target));
    let groups = p.admin.groups().await.unwrap();
    assert_eq!(groups.namespaces.target, target.namespace);
    assert_eq!(groups.namespaces.source, source.namespace);
    let g = groups.clients.iter().find(|g| g.group == group);
    assert!(g.is_some(), "{groups:?}");
    consumer.shutdown().await;
    producer.shutdown().await;
    let mut p = p;
    p.stop().await;
}

/// Create `topic` and `group` on `from` (plain names) and import them into `namespace` on `to`, as
/// `rmq-migrate import --namespace NS --topic T --group G` does.
async fn import_into(
    from: &ClusterConfig,
    to: &ClusterConfig,
    namespace: &str,
    topic: &str,
    group: &str,
) {
    let file = metadata::export(from, client(), &Default::default())
        .await
        .unwrap();
    let opts = ImportOptions {
        namespace: NamespaceMode::Specified {
            namespace: namespace.to_owned(),
        },
        selection: Selection::only([topic], [group]),
        ..Default::default()
    };
    let r = metadata::import(&file, to, client(), &opts, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(r.status, ImportStatus::AllSucceeded, "{r:#?}");
}

#[test]
fn a_topic_moves_into_a_namespaced_target_with_the_gates_on_and_loses_nothing() {
    run(Duration::from_secs(300), async {
        let pair = &shared().pair;
        let ns = unique_name("MQ_INST_shop");
        let topic = unique_name("orders_acc");
        let group = unique_name("orders-cg");
        pair.source
            .create_topic(&client(), &topic, 4)
            .await
            .unwrap();
        pair.source.create_group(&client(), &group).await.unwrap();
        import_into(
            &pair.source.cluster_config(),
            &pair.target.cluster_config(),
            &ns,
            &topic,
            &group,
        )
        .await;
        walk(
            pair.source.cluster_config(),
            pair.target.cluster_config().namespace(ns.clone()),
            &topic,
            &group,
        )
        .await;
    });
}

#[test]
fn a_topic_moves_out_of_a_namespaced_source_into_another_namespace() {
    run(Duration::from_secs(300), async {
        let pair = &shared().pair;
        let (ns_src, ns_dst) = (unique_name("MQ_INST_src"), unique_name("MQ_INST_dst"));
        let topic = unique_name("pay");
        let group = unique_name("pay-cg");
        // The source's items live in its namespace, the way its applications created them.
        pair.source
            .create_topic(&client(), &format!("{ns_src}%{topic}"), 4)
            .await
            .unwrap();
        pair.source
            .create_group(&client(), &format!("{ns_src}%{group}"))
            .await
            .unwrap();
        // Export the source's namespace under short names, import into the target's namespace.
        import_into(
            &pair.source.cluster_config().namespace(ns_src.clone()),
            &pair.target.cluster_config(),
            &ns_dst,
            &topic,
            &group,
        )
        .await;
        walk(
            pair.source.cluster_config().namespace(ns_src.clone()),
            pair.target.cluster_config().namespace(ns_dst.clone()),
            &topic,
            &group,
        )
        .await;
    });
}

#[test]
fn a_client_in_another_namespace_than_the_control_plane_fails_the_check_with_both_named() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let topic = unique_name("nsmis");
        pair.create_topic(&client(), &topic, 2).await.unwrap();
        let p =
            plane::start(|c| c.target = pair.target.cluster_config().namespace("MQ_INST_cp")).await;
        p.admin.register(&[&topic], None).await.unwrap();
        let ctl = p.client("ns-mismatch").await;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("nsm_pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config().namespace("MQ_INST_app"))
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let m = Message::builder()
            .topic(&topic)
            .body(b"x".to_vec())
            .build()
            .unwrap();
        producer.send(m).await.unwrap();
        let mut detail = String::new();
        let mut ok = false;
        for _ in 0..100 {
            let view = p.admin.topics().await.unwrap();
            let c = view.iter().find(|v| v.topic == topic).and_then(|v| {
                v.advance
                    .iter()
                    .find(|c| c.code == "namespaces_match")
                    .cloned()
            });
            if let Some(c) = c.filter(|c| !c.passed) {
                detail = c.detail;
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(ok, "the mismatch is seen");
        assert!(
            detail.contains("\"MQ_INST_app\" on the target, the control plane \"MQ_INST_cp\""),
            "{detail}"
        );
        producer.shutdown().await;
    });
}

#[test]
fn a_namespaced_groups_dead_letters_are_counted_listed_and_resent_by_short_names() {
    run(Duration::from_secs(180), async {
        let pair = &shared().pair;
        let ns = unique_name("MQ_INST_dl");
        let topic = unique_name("dl");
        let group = unique_name("dl-cg");
        pair.source
            .create_topic(&client(), &format!("{ns}%{topic}"), 2)
            .await
            .unwrap();
        pair.source
            .create_group(&client(), &format!("{ns}%{group}"))
            .await
            .unwrap();
        let source = pair.source.cluster_config().namespace(ns.clone());
        let s = source.clone();
        let p = plane::start(move |c| c.source = s).await;
        p.admin.register(&[&topic], None).await.unwrap();
        let ctl = p.client("ns-dlq").await;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("nsdl_pg"))
            .source(source.clone())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let mut consumer = MigratingPushConsumer::builder(client())
            .consumer_group(&group)
            .source(source.clone())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .max_reconsume_times(1)
            .build()
            .unwrap();
        consumer.subscribe(&topic, "*").await.unwrap();
        // Every delivery of "poison" fails: the first, and its redelivery from %RETRY%<ns>%<group>; then the
        // broker moves it to the group's DLQ.
        consumer.register_message_listener_concurrently(
            |msgs: &[&rocketmq_model::common::message::message_ext::MessageExt], _: &_| {
                Ok(if msgs.iter().any(|m| m.body_slice() == b"poison") {
                    rocketmq_client_rust::ConsumeConcurrentlyStatus::ReconsumeLater
                } else {
                    rocketmq_client_rust::ConsumeConcurrentlyStatus::ConsumeSuccess
                })
            },
        );
        consumer.start().await.unwrap();
        let poison = Message::builder()
            .topic(&topic)
            .body(b"poison".to_vec())
            .build()
            .unwrap();
        producer.send(poison).await.unwrap();

        // The control plane counts it under the group's short name, read from %DLQ%<ns>%<group>.
        let mut counted = false;
        for _ in 0..120 {
            let views = p.admin.topics().await.unwrap();
            let v = views.iter().find(|v| v.topic == topic).unwrap();
            if v.dead_letters
                .iter()
                .any(|g| g.group == group && g.source == Some(1))
            {
                counted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if !counted {
            let views = p.admin.topics().await.unwrap();
            let v = views.iter().find(|v| v.topic == topic).unwrap();
            let all = metadata::export(
                &pair.source.cluster_config(),
                client(),
                &metadata::ExportOptions {
                    include_retry_and_dlq: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let related: Vec<_> = all
                .topic_config_table
                .keys()
                .filter(|k| k.contains(&group) || k.contains(&topic))
                .collect();
            panic!(
                "the dead letter is counted on the namespaced source: {:?} clients {:?}; source topics {related:?}",
                v.dead_letters, v.clients
            );
        }
        let letters = rocketmq_migration::dlq::list(&source, client(), &group, 10)
            .await
            .unwrap();
        assert_eq!(letters.len(), 1, "{letters:?}");
        assert_eq!(
            letters[0].topic.as_deref(),
            Some(topic.as_str()),
            "the short name"
        );
        let dry = rocketmq_migration::dlq::resend(
            &source,
            &pair.target.cluster_config().namespace("MQ_INST_elsewhere"),
            client(),
            &rocketmq_migration::dlq::ResendRequest::new(&group)
                .limit(10)
                .dry_run(true),
        )
        .await
        .unwrap();
        assert_eq!(dry[0].to_topic.as_deref(), Some(topic.as_str()));
        consumer.shutdown().await;
        producer.shutdown().await;
    });
}
