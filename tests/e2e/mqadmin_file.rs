//! An `mqadmin exportMetadata` file of a two-master cluster, as a real one looks: queue counts summed over the
//! masters (`BenchmarkTest` at 2,048), the broker's own topics and groups, cluster- and broker-name topics,
//! retry and dead-letter topics. Exactly the application's items are created, clamped, with their settings.

use std::collections::BTreeMap;
use std::time::Duration;

use rocketmq_migration::metadata::{
    self, Action, Cause, ImportOptions, ImportReport, ImportStatus, ItemResult, MetadataFile,
    QueueCounts, Selection, SourceFacts,
};
use rocketmq_migration::testkit::unique_name;
use rocketmq_protocol::protocol::subscription::group_retry_policy_type::GroupRetryPolicyType;

use crate::metadata::{group_on, put_topic, topic_on};
use crate::support::{client, run, shared};

fn fixture() -> MetadataFile {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mqadmin-two-masters.json"
    ))
    .unwrap();
    metadata::parse(&text, "mqadmin-two-masters.json").unwrap()
}

fn by_name(r: &ImportReport) -> BTreeMap<&str, &ItemResult> {
    r.items.iter().map(|i| (i.source.as_str(), i)).collect()
}

const APP_TOPICS: [&str; 4] = ["mm_audit", "mm_fifo", "mm_orders", "mm_pay"];
const APP_GROUPS: [&str; 2] = ["mm_fifo_cg", "mm_orders_cg"];

#[test]
fn a_two_master_mqadmin_file_creates_exactly_the_application_items() {
    run(Duration::from_secs(180), async {
        let pair = &shared().pair;
        let target = pair.target.cluster_config();
        let file = fixture();
        let done = metadata::import(
            &file,
            &target,
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(done.status, ImportStatus::AllSucceeded, "{done:#?}");
        let items = by_name(&done);
        // Exactly the application's topics and groups are created...
        let created: Vec<&str> = done
            .items
            .iter()
            .filter(|i| i.action == Action::Create && i.applied)
            .map(|i| i.source.as_str())
            .collect();
        let mut want: Vec<&str> = APP_GROUPS
            .iter()
            .chain(APP_TOPICS.iter())
            .copied()
            .collect();
        want.sort();
        let mut got = created.clone();
        got.sort();
        assert_eq!(got, want, "{done:#?}");
        // ...and every other item is reported as a system item, with its reason.
        for (name, why) in [
            ("BenchmarkTest", "system topic"),
            ("TBW102", "system topic"),
            ("SCHEDULE_TOPIC_XXXX", "system topic"),
            ("rmq_sys_REVIVE_LOG_DefaultCluster", "system topic"),
            ("DefaultCluster", "cluster name"),
            ("DefaultCluster_REPLY_TOPIC", "request-reply topic"),
            ("broker-a", "inherit bit"),
            ("broker-b", "inherit bit"),
            ("%RETRY%mm_orders_cg", "retry or dead-letter"),
            ("%DLQ%mm_orders_cg", "retry or dead-letter"),
            ("TOOLS_CONSUMER", "built-in group"),
            ("SELF_TEST_C_GROUP", "built-in group"),
            ("CID_ONSAPI_OWNER", "built-in group"),
            ("FILTERSRV_CONSUMER", "built-in group"),
            ("CID_RMQ_SYS_TRANS", "built-in group"),
        ] {
            let i = items[name];
            assert_eq!(
                (i.action, i.cause, i.applied),
                (Action::Skip, Some(Cause::SystemItem), false),
                "{name}: {i:?}"
            );
            assert!(i.reason.contains(why), "{name}: {}", i.reason);
        }
        assert_eq!(
            done.items.len(),
            file.topic_config_table.len() + file.subscription_group_table.len(),
            "every item of the file is reported"
        );
        for name in [
            "broker-a",
            "broker-b",
            "DefaultCluster",
            "DefaultCluster_REPLY_TOPIC",
        ] {
            assert!(
                topic_on(&pair.target, name).await.is_none(),
                "{name} created"
            );
        }

        // Queue counts: the file's total over two masters, clamped into 3..=16 on creation.
        let q = items["mm_orders"].queues.as_ref().unwrap();
        assert_eq!(
            q.in_file,
            QueueCounts {
                read: 32,
                write: 32
            }
        );
        assert_eq!(
            q.created,
            QueueCounts {
                read: 16,
                write: 16
            }
        );
        assert!(q.per_master.is_empty(), "an mqadmin file does not say");
        assert!(items["mm_pay"]
            .clamped
            .as_deref()
            .unwrap()
            .contains("read 1 -> 3"));
        let t = topic_on(&pair.target, "mm_orders").await.unwrap();
        assert_eq!(
            (t.read_queue_nums, t.write_queue_nums, t.order),
            (16, 16, false)
        );
        let t = topic_on(&pair.target, "mm_fifo").await.unwrap();
        assert_eq!((t.read_queue_nums, t.order), (8, true), "order flag kept");
        let t = topic_on(&pair.target, "mm_audit").await.unwrap();
        assert_eq!((t.read_queue_nums, t.perm), (16, 4), "read-only kept");
        assert_eq!(
            topic_on(&pair.target, "mm_pay")
                .await
                .unwrap()
                .read_queue_nums,
            3
        );

        // Group settings kept, the retry policy included.
        let g = group_on(&pair.target, "mm_orders_cg").await.unwrap();
        assert!(!g.consume_broadcast_enable());
        assert_eq!(g.retry_max_times(), 5);
        assert_eq!(
            g.group_retry_policy().type_(),
            GroupRetryPolicyType::Exponential
        );
        let g = group_on(&pair.target, "mm_fifo_cg").await.unwrap();
        assert!(g.consume_message_orderly());
        assert_eq!((g.retry_max_times(), g.consume_timeout_minute()), (3, 30));

        // A second run changes nothing: the same skips, every imported item unchanged.
        let again = metadata::import(
            &file,
            &target,
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(again.changes, 0, "{again:#?}");
        for i in &again.items {
            let first = items[i.source.as_str()];
            if first.action == Action::Skip {
                assert_eq!((i.action, i.cause), (Action::Skip, first.cause));
            } else {
                assert_eq!(i.action, Action::Unchanged, "{i:?}");
            }
        }
    });
}

#[test]
fn retry_topics_and_broker_shaped_topics_come_in_only_when_asked() {
    run(Duration::from_secs(120), async {
        let target = shared().pair.target.cluster_config();
        let file = fixture();
        let opts = ImportOptions {
            include: ["broker-b".to_owned()].into(),
            include_retry_and_dlq: true,
            selection: Selection::only(
                [
                    "broker-a",
                    "broker-b",
                    "%RETRY%mm_orders_cg",
                    "BenchmarkTest",
                ],
                Vec::<String>::new(),
            ),
            ..Default::default()
        };
        let plan = metadata::plan(&file, &target, client(), &opts)
            .await
            .unwrap();
        let items = by_name(&plan);
        assert_eq!(
            items["broker-b"].action,
            Action::Create,
            "--include names it"
        );
        assert_eq!(
            items["broker-a"].action,
            Action::Create,
            "naming it in the selection asks for it too"
        );
        assert_eq!(items["%RETRY%mm_orders_cg"].action, Action::Create);
        assert_eq!(
            (items["BenchmarkTest"].action, items["BenchmarkTest"].cause),
            (Action::Skip, Some(Cause::SystemItem)),
            "certain system topics are never imported"
        );
        assert_eq!(plan.items.len(), 4, "only the selection: {plan:#?}");
    });
}

#[test]
fn the_source_says_which_names_are_its_brokers_and_how_many_queues_each_master_has() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let tag = unique_name("src").replace('_', "");
        let app = format!("app{tag}");
        put_topic(&pair.source, &app, 5, 6, false).await;
        let facts = SourceFacts::read(&pair.source.cluster_config(), client())
            .await
            .unwrap();
        let broker = pair.source.broker_name().to_owned();
        assert!(facts.names.contains(&broker), "{:?}", facts.names);
        assert_eq!(facts.queues[&app][&broker], [5, 5]);

        // A file holding the source's broker name as a plain topic (perm 6: no shape to go by), an application
        // topic, and a broker-shaped topic the source does not know as a broker.
        let text = format!(
            r#"{{"topicConfigTable":{{
                "{broker}":{{"readQueueNums":1,"writeQueueNums":1,"perm":6}},
                "{app}":{{"readQueueNums":5,"writeQueueNums":5,"perm":6}},
                "shaped{tag}":{{"readQueueNums":1,"writeQueueNums":1,"perm":7}},
                "bad.name{tag}":{{"readQueueNums":1,"writeQueueNums":1,"perm":6}}}}}}"#
        );
        let file = metadata::parse(&text, "src.json").unwrap();
        let target = pair.target.cluster_config();
        let without = metadata::plan(&file, &target, client(), &ImportOptions::default())
            .await
            .unwrap();
        let w = by_name(&without);
        assert_eq!(
            w[broker.as_str()].action,
            Action::Create,
            "the file alone cannot tell"
        );
        assert_eq!(
            w[format!("shaped{tag}").as_str()].cause,
            Some(Cause::SystemItem)
        );
        let bad = w[format!("bad.name{tag}").as_str()];
        assert_eq!(
            (bad.action, bad.cause),
            (Action::Fail, Some(Cause::InvalidName))
        );
        assert_eq!(without.status, ImportStatus::SomeFailed);

        let opts = ImportOptions {
            source: Some(facts),
            ..Default::default()
        };
        let with = metadata::plan(&file, &target, client(), &opts)
            .await
            .unwrap();
        let w = by_name(&with);
        let b = w[broker.as_str()];
        assert_eq!((b.action, b.cause), (Action::Skip, Some(Cause::SystemItem)));
        assert!(b.reason.contains("broker or cluster name"), "{}", b.reason);
        assert_eq!(
            w[format!("shaped{tag}").as_str()].action,
            Action::Create,
            "the source's word replaces the guess"
        );
        let q = w[app.as_str()].queues.as_ref().unwrap();
        assert_eq!(q.per_master_from.as_deref(), Some("source"));
        assert_eq!(q.per_master[&broker], QueueCounts { read: 5, write: 5 });
    });
}
