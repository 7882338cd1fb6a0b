//! Readiness gates end to end: real shim clients reporting to a real control plane on the shared clusters.

use std::time::Duration;

use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::control::ControlClient;
use rocketmq_migration::testkit::{free_port, unique_name};
use rocketmq_migration::{Cluster, ClusterConfig, MigratingProducer, MigratingPushConsumer, Phase};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::support::clients::{message, raw_send};
use crate::support::listener::Recorder;
use crate::support::plane::{self, advance_when_ready, refusal};
use crate::support::{client, eventually, run, shared};

async fn consumer(
    control: &ControlClient,
    group: &str,
    topic: &str,
    target: ClusterConfig,
    rec: &Recorder,
) -> MigratingPushConsumer {
    let pair = &shared().pair;
    let mut c = MigratingPushConsumer::builder(client())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(target)
        .control(control)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build()
        .unwrap();
    c.subscribe(topic, "*").await.unwrap();
    c.register_message_listener_concurrently(rec.listener());
    c.start().await.unwrap();
    c
}

/// A topic on both clusters and its group on the target.
async fn prepare(group: &str) -> String {
    let pair = &shared().pair;
    let topic = unique_name("gate");
    pair.create_topic(&client(), &topic, 2).await.unwrap();
    pair.target.create_group(&client(), group).await.unwrap();
    topic
}

#[test]
fn target_write_is_refused_while_a_consumer_has_not_applied_dual_read() {
    run(Duration::from_secs(180), async {
        let p = plane::start(|_| {}).await;
        let group = unique_name("cg");
        let topic = prepare(&group).await;
        p.admin.register(&[&topic], None).await.unwrap();

        let ok_ctl = p.client("good-app").await;
        let ok_rec = Recorder::default();
        let mut ok = consumer(
            &ok_ctl,
            &group,
            &topic,
            shared().pair.target.cluster_config(),
            &ok_rec,
        )
        .await;
        // This instance cannot reach the target (wrong name server, e.g. a firewall not yet opened).
        let cut_ctl = p.client("cut-off-app").await;
        let cut_rec = Recorder::default();
        let dead = ClusterConfig::new(format!("127.0.0.1:{}", free_port().unwrap()));
        let mut cut = consumer(&cut_ctl, &group, &topic, dead, &cut_rec).await;

        advance_when_ready(&p.admin, &topic, Phase::Initial, Duration::from_secs(30)).await;
        assert!(
            eventually(Duration::from_secs(10), || ok_ctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::DualRead)
            .await
        );
        tokio::time::sleep(Duration::from_secs(2)).await;

        let e = p
            .admin
            .advance(&topic, Phase::DualRead, false)
            .await
            .unwrap_err();
        let r = refusal(&e);
        assert_eq!(r.body.error, "not_ready", "{e}");
        let check = r
            .body
            .checks
            .iter()
            .find(|c| c.code == "consumers_applied")
            .expect("consumers_applied check");
        assert!(!check.passed);
        assert!(
            check.detail.contains("cut-off-app"),
            "names the client that is behind: {}",
            check.detail
        );
        assert!(!check.detail.contains("good-app"), "{}", check.detail);
        assert_eq!(
            p.admin.phases().await.unwrap().topics[&topic].phase,
            Phase::DualRead,
            "nothing changed"
        );

        // Once the cut-off instance is gone (its heartbeats stop, TTL 3 s), the gate opens.
        cut.shutdown().await;
        cut_ctl.shutdown();
        advance_when_ready(&p.admin, &topic, Phase::DualRead, Duration::from_secs(30)).await;
        let views = p.admin.topics().await.unwrap();
        let v = views.iter().find(|v| v.topic == topic).unwrap();
        assert_eq!(v.state.phase, Phase::DualReadWrite);
        assert_eq!(
            v.clients.len(),
            1,
            "only the live consumer: {:?}",
            v.clients
        );
        ok.shutdown().await;
        ok_ctl.shutdown();
    });
}

#[test]
fn completed_is_refused_while_the_source_has_backlog_and_accepted_once_drained() {
    run(Duration::from_secs(240), async {
        let p = plane::start(|_| {}).await;
        let group = unique_name("cg");
        let topic = prepare(&group).await;
        p.admin.register(&[&topic], None).await.unwrap();
        let ctl = p.client("backlog-app").await;
        let pair = &shared().pair;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let rec = Recorder::default();
        let mut c1 = consumer(&ctl, &group, &topic, pair.target.cluster_config(), &rec).await;
        for i in 0..10 {
            producer
                .send(message(&topic, &format!("initial-{i}")))
                .await
                .unwrap();
        }
        assert!(eventually(Duration::from_secs(30), || rec.count() == 10).await);

        for from in [Phase::Initial, Phase::DualRead, Phase::DualReadWrite] {
            advance_when_ready(&p.admin, &topic, from, Duration::from_secs(30)).await;
        }
        assert!(
            eventually(Duration::from_secs(10), || ctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::CuttingOver)
            .await
        );
        producer
            .send(message(&topic, "after-cutover"))
            .await
            .unwrap();
        assert_eq!(producer.stats().sent_to(Cluster::Target), 1);

        // The group's consumers go away, and a straggler writes 20 messages straight to the source.
        c1.shutdown().await;
        let mut stragglers = Vec::new();
        for i in 0..20 {
            stragglers
                .push(raw_send(pair, Cluster::Source, &topic, &format!("straggler-{i}")).await);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let e = p
            .admin
            .advance(&topic, Phase::CuttingOver, false)
            .await
            .unwrap_err();
        let r = refusal(&e);
        let backlog = r
            .body
            .checks
            .iter()
            .find(|c| c.code == "source_backlog_zero")
            .unwrap();
        assert!(!backlog.passed);
        assert!(
            backlog.detail.contains(&format!("{group}: 20")),
            "{}",
            backlog.detail
        );
        let producers = r
            .body
            .checks
            .iter()
            .find(|c| c.code == "producers_applied")
            .unwrap();
        assert!(producers.passed, "{producers:?}");
        assert_eq!(
            p.admin.phases().await.unwrap().topics[&topic].phase,
            Phase::CuttingOver
        );

        // A consumer of the group drains the source; then the move is accepted.
        let rec2 = Recorder::default();
        let mut c2 = consumer(&ctl, &group, &topic, pair.target.cluster_config(), &rec2).await;
        assert!(
            eventually(Duration::from_secs(60), || stragglers
                .iter()
                .all(|k| rec2.has(k)))
            .await,
            "the stragglers are consumed"
        );
        advance_when_ready(
            &p.admin,
            &topic,
            Phase::CuttingOver,
            Duration::from_secs(60),
        )
        .await;
        let last = p.admin.audit(Some(&topic), 1).await.unwrap();
        assert_eq!(
            (last[0].to, last[0].forced),
            (Some(Phase::Completed), false)
        );
        assert!(
            last[0].checks.iter().all(|c| c.passed),
            "{:?}",
            last[0].checks
        );
        c2.shutdown().await;
        producer.shutdown().await;
        ctl.shutdown();
    });
}

#[test]
fn groups_view_lists_groups_missing_on_the_target_and_consumers_outside_the_shim() {
    run(Duration::from_secs(120), async {
        let p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let topic = unique_name("grp");
        pair.create_topic(&client(), &topic, 2).await.unwrap();

        // A consumer that does not use the shim, connected to the source only.
        let outsider = unique_name("raw_cg");
        let mut raw = rocketmq_client_rust::DefaultMQPushConsumer::builder(client())
            .consumer_group(outsider.clone())
            .name_server_addr(pair.source.name_server_addr().to_owned())
            .build();
        raw.subscribe(topic.as_str(), "*").await.unwrap();
        raw.register_message_listener_concurrently(Recorder::default().listener());
        raw.start().await.unwrap();
        // A shim consumer, registered through its heartbeats.
        let managed = unique_name("shim_cg");
        pair.target.create_group(&client(), &managed).await.unwrap();
        let ctl = p.client("groups-app").await;
        let rec = Recorder::default();
        let mut shim = consumer(&ctl, &managed, &topic, pair.target.cluster_config(), &rec).await;

        let mut view = None;
        for _ in 0..100 {
            let v = p.admin.groups().await.unwrap();
            if v.unmanaged_on_source.contains(&outsider) && v.managed.contains(&managed) {
                view = Some(v);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let v = view.expect("the outsider shows up as unmanaged and the shim group as managed");
        assert!(v.missing_on_target.contains(&outsider), "{v:?}");
        assert!(!v.missing_on_target.contains(&managed), "{v:?}");
        assert!(!v.unmanaged_on_source.contains(&managed), "{v:?}");
        assert!(
            v.source
                .iter()
                .all(|g| !g.starts_with("CID_RMQ_SYS_") && g != "TOOLS_CONSUMER"),
            "system groups left out: {v:?}"
        );
        // Per group: where it exists, who is connected (the raw consumer counted outside the shim), the topics it
        // reads with their phases, and whether it is switched.
        let row = |g: &str| v.clients.iter().find(|r| r.group == g).cloned().unwrap();
        let raw_row = row(&outsider);
        assert_eq!((raw_row.source, raw_row.source_shim), (1, 0), "{raw_row:?}");
        assert_eq!(raw_row.target, 0, "{raw_row:?}");
        assert!(!raw_row.on_target && !raw_row.switched, "{raw_row:?}");
        assert_eq!(raw_row.outside_shim.len(), 1, "{raw_row:?}");
        assert_eq!(raw_row.topics.len(), 1, "{raw_row:?}");
        assert_eq!(raw_row.topics[0].topic, topic);
        assert_eq!(raw_row.topics[0].phase, None, "not registered: {raw_row:?}");
        assert!(v.not_switched.contains(&outsider), "{v:?}");
        p.admin.register(&[&topic], None).await.unwrap();
        // The shim consumer's broker client ids arrive with its heartbeats: wait until they are known.
        let mut v = p.admin.groups().await.unwrap();
        for _ in 0..100 {
            if v.clients
                .iter()
                .any(|r| r.group == managed && r.switched && r.source_shim >= 1)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            v = p.admin.groups().await.unwrap();
        }
        let shim_row = v.clients.iter().find(|r| r.group == managed).unwrap();
        assert!(shim_row.on_target && shim_row.switched, "{shim_row:?}");
        assert_eq!(shim_row.source, shim_row.source_shim, "{shim_row:?}");
        assert!(shim_row.source_shim >= 1, "{shim_row:?}");
        assert_eq!(
            shim_row.topics[0].phase,
            Some(Phase::Initial),
            "{shim_row:?}"
        );
        assert!(!v.not_switched.contains(&managed), "{v:?}");
        raw.shutdown().await;
        shim.shutdown().await;
        ctl.shutdown();
    });
}
