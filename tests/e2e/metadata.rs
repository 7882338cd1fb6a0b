//! Metadata export/import on the shared clusters, verified through the target's admin API.

use std::collections::HashMap;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{ConsumerAdmin, DefaultMQAdminExt, TopicAdmin};
use rocketmq_migration::metadata::{
    self, Action, Cause, ConflictPolicy, ExportOptions, ImportOptions, ImportStatus, MetadataFile,
    NamespaceMode, Selection, TopicEntry,
};
use rocketmq_migration::testkit::{unique_name, EmbeddedCluster};
use rocketmq_migration::{ErrorKind, ToolErrorKind};
use rocketmq_model::common::config::TopicConfig;
use rocketmq_protocol::protocol::subscription::subscription_group_config::SubscriptionGroupConfig;

use crate::support::{client, run, shared};

pub(crate) async fn admin(cluster: &EmbeddedCluster) -> DefaultMQAdminExt {
    let mut a = DefaultMQAdminExt::new(client());
    a.set_namesrv_addr(cluster.name_server_addr());
    a.client_config_mut()
        .set_instance_name(CheetahString::from(unique_name("e2e_admin")));
    a.start().await.unwrap();
    a
}

pub(crate) async fn put_topic(
    cluster: &EmbeddedCluster,
    name: &str,
    queues: u32,
    perm: u32,
    order: bool,
) {
    let a = admin(cluster).await;
    let mut c = TopicConfig::new(CheetahString::from(name));
    c.read_queue_nums = queues;
    c.write_queue_nums = queues;
    c.perm = perm;
    c.order = order;
    TopicAdmin::create_and_update_topic_config(&a, CheetahString::from(cluster.broker_addr()), c)
        .await
        .unwrap();
    let mut a = a;
    a.shutdown().await;
}

pub(crate) async fn put_group(cluster: &EmbeddedCluster, name: &str, orderly: bool, retries: i32) {
    let a = admin(cluster).await;
    let mut g = SubscriptionGroupConfig::new(CheetahString::from(name));
    g.set_consume_message_orderly(orderly);
    g.set_consume_broadcast_enable(false);
    g.set_retry_max_times(retries);
    ConsumerAdmin::create_and_update_subscription_group_config(
        &a,
        CheetahString::from(cluster.broker_addr()),
        g,
    )
    .await
    .unwrap();
    let mut a = a;
    a.shutdown().await;
}

pub(crate) async fn topic_on(cluster: &EmbeddedCluster, name: &str) -> Option<TopicConfig> {
    let mut a = admin(cluster).await;
    let r = TopicAdmin::examine_topic_config(
        &a,
        CheetahString::from(cluster.broker_addr()),
        CheetahString::from(name),
    )
    .await;
    a.shutdown().await;
    r.ok()
}

pub(crate) async fn group_on(
    cluster: &EmbeddedCluster,
    name: &str,
) -> Option<SubscriptionGroupConfig> {
    let mut a = admin(cluster).await;
    let r = ConsumerAdmin::examine_subscription_group_config(
        &a,
        CheetahString::from(cluster.broker_addr()),
        CheetahString::from(name),
    )
    .await;
    a.shutdown().await;
    r.ok()
}

/// Keep only the items whose names contain `tag` (the shared clusters hold other tests' topics too).
fn only(mut f: MetadataFile, tag: &str) -> MetadataFile {
    f.topic_config_table.retain(|k, _| k.contains(tag));
    f.subscription_group_table.retain(|k, _| k.contains(tag));
    f
}

#[test]
fn export_then_import_carries_namespaced_and_plain_topics_and_groups() {
    run(Duration::from_secs(180), async {
        let pair = &shared().pair;
        let tag = unique_name("md").replace('_', "");
        let (ns_a, ns_b) = (format!("nsA{tag}"), format!("nsB{tag}"));
        let orders = format!("{ns_a}%orders");
        let pay = format!("{ns_b}%pay");
        let plain = format!("plain{tag}");
        put_topic(&pair.source, &orders, 4, 6, false).await;
        put_topic(&pair.source, &pay, 2, 4, true).await; // read-only, ordered, 2 queues: clamped to 3
        put_topic(&pair.source, &plain, 20, 6, false).await; // 20 queues: clamped to 16
        let group = format!("{ns_a}%cg{tag}");
        put_group(&pair.source, &group, true, 3).await;

        let exported = metadata::export(
            &pair.source.cluster_config(),
            client(),
            &ExportOptions::default(),
        )
        .await
        .unwrap();
        let notes = exported.export_notes.clone().unwrap();
        assert!(
            notes.left_out.keys().any(|k| k == "topic TBW102"),
            "system topics left out: {:?}",
            notes.left_out
        );
        assert!(notes.left_out.keys().any(|k| k == "group TOOLS_CONSUMER"));
        assert!(!exported.topic_config_table.contains_key("TBW102"));
        assert!(
            notes.topics[&plain].derivation.contains("one master"),
            "{:?}",
            notes.topics[&plain]
        );
        // The file round-trips through JSON in mqadmin's shape.
        let text = serde_json::to_string(&exported).unwrap();
        assert!(
            text.contains("\"topicConfigTable\"")
                && text.contains("\"subscriptionGroupTable\"")
                && text.contains("\"exportTime\"")
        );
        let file = only(metadata::parse(&text, "export.json").unwrap(), &tag);
        assert_eq!(file.topic_config_table.len(), 3);
        assert_eq!(file.subscription_group_table.len(), 1);

        let target = pair.target.cluster_config();
        let dry = metadata::plan(&file, &target, client(), &ImportOptions::default())
            .await
            .unwrap();
        assert!(dry.dry_run);
        assert_eq!(dry.changes, 4);
        assert!(
            dry.items
                .iter()
                .all(|i| i.action == Action::Create && i.reason == "not on the target"),
            "{dry:?}"
        );
        assert!(
            topic_on(&pair.target, &orders).await.is_none(),
            "a dry run creates nothing"
        );

        let done = metadata::import(
            &file,
            &target,
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(done.status, ImportStatus::AllSucceeded, "{done:?}");
        let item = |name: &str| done.items.iter().find(|i| i.source == name).unwrap();
        assert_eq!(item(&orders).namespace, ns_a);
        assert_eq!(item(&plain).namespace, "default");
        assert!(item(&pay)
            .clamped
            .as_deref()
            .unwrap()
            .contains("read 2 -> 3"));
        assert!(item(&plain)
            .clamped
            .as_deref()
            .unwrap()
            .contains("read 20 -> 16"));
        assert!(item(&orders).clamped.is_none());
        // Our export's notes say how many queues each master held.
        let q = item(&plain).queues.as_ref().unwrap();
        assert_eq!(q.per_master_from.as_deref(), Some("file"));
        assert_eq!(q.per_master.values().map(|c| c.read).sum::<u32>(), 20);

        let t = topic_on(&pair.target, &pay).await.expect("created");
        assert_eq!(
            (t.read_queue_nums, t.write_queue_nums, t.perm, t.order),
            (3, 3, 4, true)
        );
        let t = topic_on(&pair.target, &plain).await.unwrap();
        assert_eq!((t.read_queue_nums, t.write_queue_nums), (16, 16));
        assert_eq!(
            topic_on(&pair.target, &orders)
                .await
                .unwrap()
                .read_queue_nums,
            4
        );
        let g = group_on(&pair.target, &group).await.expect("group created");
        assert!(g.consume_message_orderly() && !g.consume_broadcast_enable());
        assert_eq!(g.retry_max_times(), 3);

        // Re-running changes nothing and says so.
        let again = metadata::import(
            &file,
            &target,
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(again.changes, 0);
        assert!(
            again.items.iter().all(|i| i.action == Action::Unchanged),
            "{again:?}"
        );

        // A same-name topic with other settings: skipped, or overwritten on request.
        let mut changed = file.clone();
        changed
            .topic_config_table
            .get_mut(&orders)
            .unwrap()
            .read_queue_nums = 8;
        changed
            .topic_config_table
            .get_mut(&orders)
            .unwrap()
            .write_queue_nums = 8;
        let skip = metadata::import(
            &changed,
            &target,
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        let s = skip.items.iter().find(|i| i.source == orders).unwrap();
        assert_eq!(s.action, Action::Skip);
        assert_eq!(s.cause, Some(Cause::Conflict));
        assert!(s.reason.contains("readQueueNums 4 -> 8"), "{}", s.reason);
        assert_eq!(
            topic_on(&pair.target, &orders)
                .await
                .unwrap()
                .read_queue_nums,
            4
        );
        let opts = ImportOptions {
            on_conflict: ConflictPolicy::Overwrite,
            ..Default::default()
        };
        let over = metadata::import(&changed, &target, client(), &opts, &|_, _| {})
            .await
            .unwrap();
        assert_eq!(
            over.items
                .iter()
                .find(|i| i.source == orders)
                .unwrap()
                .action,
            Action::Update
        );
        assert_eq!(
            topic_on(&pair.target, &orders)
                .await
                .unwrap()
                .read_queue_nums,
            8
        );

        // The other clusters agree now.
        let after = metadata::export(&target, client(), &ExportOptions::default())
            .await
            .unwrap();
        let c = metadata::compare(&file, &only(after, &tag));
        assert!(
            c.topics_missing_on_target.is_empty() && c.groups_missing_on_target.is_empty(),
            "{c:?}"
        );
    });
}

#[test]
fn specified_namespace_imports_only_the_chosen_items_under_the_namespace() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let tag = unique_name("sp").replace('_', "");
        let text = format!(
            r#"{{"topicConfigTable":{{
                "a{tag}":{{"readQueueNums":4,"writeQueueNums":4,"perm":6}},
                "old%b{tag}":{{"readQueueNums":4,"writeQueueNums":4,"perm":6}}}},
              "subscriptionGroupTable":{{"g{tag}":{{"retryMaxTimes":5}},"h{tag}":{{}}}},
              "exportTime":0}}"#
        );
        let file = metadata::parse(&text, "chosen.json").unwrap();
        let ns = format!("prod{tag}");
        let opts = ImportOptions {
            namespace: NamespaceMode::Specified {
                namespace: ns.clone(),
            },
            selection: Selection::only(
                [format!("old%b{tag}"), format!("missing{tag}")],
                [format!("g{tag}")],
            ),
            ..Default::default()
        };
        let r = metadata::import(
            &file,
            &pair.target.cluster_config(),
            client(),
            &opts,
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(r.status, ImportStatus::SomeFailed);
        let by: HashMap<&str, (&str, Action)> = r
            .items
            .iter()
            .map(|i| (i.source.as_str(), (i.target.as_str(), i.action)))
            .collect();
        assert_eq!(
            by[format!("old%b{tag}").as_str()],
            (format!("{ns}%b{tag}").as_str(), Action::Create)
        );
        assert_eq!(
            by[format!("g{tag}").as_str()],
            (format!("{ns}%g{tag}").as_str(), Action::Create)
        );
        assert_eq!(by[format!("missing{tag}").as_str()].1, Action::Fail);
        let missing = r
            .items
            .iter()
            .find(|i| i.source == format!("missing{tag}"))
            .unwrap();
        assert_eq!(missing.cause, Some(Cause::NotInFile));
        assert!(
            !by.contains_key(format!("a{tag}").as_str())
                && !by.contains_key(format!("h{tag}").as_str()),
            "not chosen"
        );
        assert!(topic_on(&pair.target, &format!("{ns}%b{tag}"))
            .await
            .is_some());
        assert_eq!(
            group_on(&pair.target, &format!("{ns}%g{tag}"))
                .await
                .unwrap()
                .retry_max_times(),
            5
        );
    });
}

#[test]
fn a_run_imports_at_most_1000_topics_and_fails_the_rest_with_the_limit() {
    run(Duration::from_secs(300), async {
        let pair = &shared().pair;
        let tag = unique_name("lim").replace('_', "");
        let mut file = MetadataFile::default();
        for i in 0..1_001 {
            let name = format!("{tag}t{i:04}");
            file.topic_config_table.insert(
                name.clone(),
                TopicEntry {
                    topic_name: name,
                    read_queue_nums: 3,
                    write_queue_nums: 3,
                    perm: 6,
                    topic_filter_type: "SINGLE_TAG".into(),
                    topic_sys_flag: 0,
                    order: false,
                    attributes: Default::default(),
                },
            );
        }
        let r = metadata::import(
            &file,
            &pair.target.cluster_config(),
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(r.status, ImportStatus::SomeFailed);
        let created = r
            .items
            .iter()
            .filter(|i| i.action == Action::Create && i.applied)
            .count();
        let failed: Vec<_> = r
            .items
            .iter()
            .filter(|i| i.action == Action::Fail)
            .collect();
        assert_eq!(created, 1_000);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].source, format!("{tag}t1000"));
        assert_eq!(failed[0].cause, Some(Cause::LimitExceeded));
        assert!(
            failed[0].reason.contains("per-run limit of 1000 topics"),
            "{}",
            failed[0].reason
        );
        assert!(topic_on(&pair.target, &format!("{tag}t0999"))
            .await
            .is_some());
        assert!(topic_on(&pair.target, &format!("{tag}t1000"))
            .await
            .is_none());
    });
}

#[test]
fn a_hand_written_mqadmin_file_imports_and_a_malformed_one_creates_nothing() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mqadmin-export.json"
        ))
        .unwrap();
        let file = metadata::parse(&text, "mqadmin-export.json").unwrap();
        let r = metadata::import(
            &file,
            &pair.target.cluster_config(),
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(r.status, ImportStatus::AllSucceeded, "{r:?}");
        // mqadmin summed 2 masters × 8 queues: 16 stays within range.
        let t = topic_on(&pair.target, "fixture_Orders").await.unwrap();
        assert_eq!((t.read_queue_nums, t.perm), (16, 6));
        let t = topic_on(&pair.target, "fixtureNs%Payments").await.unwrap();
        assert!(t.order);
        let g = group_on(&pair.target, "fixtureNs%payments_cg")
            .await
            .unwrap();
        assert!(g.consume_message_orderly());
        assert_eq!(g.retry_max_times(), 5);
        assert!(r
            .items
            .iter()
            .any(|i| i.source == "fixtureNs%Payments" && i.namespace == "fixtureNs"));

        let bad = text
            .replace("\"readQueueNums\": 16", "\"readQueueNums\": -16")
            .replace("fixture_", "fixtureBad_");
        let e = metadata::parse(&bad, "bad.json").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tool(ToolErrorKind::Metadata));
        assert!(
            e.to_string()
                .contains("topicConfigTable[\"fixtureBad_Orders\"].readQueueNums = -16"),
            "{e}"
        );
        assert!(topic_on(&pair.target, "fixtureBad_Orders").await.is_none());
    });
}
