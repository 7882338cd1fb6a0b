//! The migration task end to end: its five steps walked on real clusters (the connect step failing first while the
//! target's broker is down), pause blocking moves, the claim refusing a second task against the same target.

use std::time::Duration;

use rocketmq_client_rust::MQPushConsumer;
use rocketmq_migration::control::wire::{
    BatchMoveRequest, BatchTopic, CreateTask, MetadataRequest, Role, TaskStep,
};
use rocketmq_migration::control::ControlApi;
use rocketmq_migration::metadata::ImportStatus;
use rocketmq_migration::server::ControlServer;
use rocketmq_migration::testkit::{unique_name, EmbeddedCluster};
use rocketmq_migration::{MigratingProducer, MigratingPushConsumer, Phase};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::support::clients::message;
use crate::support::listener::Recorder;
use crate::support::plane::{self, advance_when_ready, refusal};
use crate::support::{client, eventually, run, shared};

/// Advance the task from `expected`, retrying while its conditions fail (heartbeats take a moment).
async fn advance_task_when_ready(api: &ControlApi, expected: TaskStep, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match api.advance_task(expected, false).await {
            Ok(v) => {
                assert_eq!(Some(v.task.step), expected.next());
                return;
            }
            Err(e)
                if refusal(&e).body.error == "not_ready"
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            Err(e) => panic!("task advance from {expected}: {e}"),
        }
    }
}

#[test]
fn a_task_walks_its_five_steps_with_pause_and_one_claim_per_target() {
    run(Duration::from_secs(300), async {
        let pair = &shared().pair;
        // A target of its own: its broker is stopped and started again.
        let mut target = EmbeddedCluster::start(&unique_name("task_tgt"))
            .await
            .unwrap();
        let target_config = target.cluster_config();
        let topic = unique_name("task");
        let group = unique_name("task_cg");
        pair.source
            .create_topic(&client(), &topic, 2)
            .await
            .unwrap();
        pair.source.create_group(&client(), &group).await.unwrap();
        target.stop_broker().await;

        let tc = target_config.clone();
        let mut p = plane::start(move |c| c.target = tc).await;
        let e = p.admin.task(false).await.unwrap_err();
        assert_eq!(refusal(&e).body.error, "no_task");
        let created = p
            .admin
            .create_task(
                CreateTask::new("orders to cloud")
                    .with_source_description("IDC")
                    .with_target_description("cloud"),
            )
            .await
            .unwrap();
        assert_eq!(created.task.step, TaskStep::Connect);
        assert_eq!(created.task.target.name_server, target.name_server_addr());
        assert_eq!(created.next, Some(TaskStep::Metadata));
        let again = p
            .admin
            .create_task(CreateTask::new("twice"))
            .await
            .unwrap_err();
        assert_eq!(refusal(&again).body.error, "task_exists");

        // A second control plane against the same target may not start a task there.
        let tc = target_config.clone();
        let mut other = plane::start(move |c| c.target = tc).await;
        let e = other
            .admin
            .create_task(CreateTask::new("rival"))
            .await
            .unwrap_err();
        let r = refusal(&e);
        assert_eq!(r.body.error, "target_claimed", "{e}");
        assert!(r.body.message.contains("orders to cloud"), "{e}");
        // Nor start with a task of its own in its state file (another task id against the claimed target).
        other.stop().await;
        let mut state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p.config.state_file).unwrap()).unwrap();
        state["task"]["id"] = "another-task".into();
        std::fs::write(
            &other.config.state_file,
            serde_json::to_string(&state).unwrap(),
        )
        .unwrap();
        let e = ControlServer::start(other.config.clone(), client())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("claimed by"), "{e}");

        // Step 1: the target's broker is down, so connect is refused with its cause; once it is up, it passes.
        let e = p
            .admin
            .advance_task(TaskStep::Connect, false)
            .await
            .unwrap_err();
        let r = refusal(&e);
        assert_eq!(r.body.error, "not_ready", "{e}");
        let failing: Vec<&str> = r
            .body
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(failing, ["target_connection"], "{e}");
        let kept = p.admin.task(false).await.unwrap().task;
        assert_eq!(kept.step, TaskStep::Connect);
        assert!(
            kept.connections.iter().any(|c| c.cause.is_some()),
            "the failed check is kept with the task: {:?}",
            kept.connections
        );
        target.restart_broker().await.unwrap();
        advance_task_when_ready(&p.admin, TaskStep::Connect, Duration::from_secs(30)).await;

        // Step 2: metadata is imported through the control plane (from the source, this topic and group).
        let e = p
            .admin
            .advance_task(TaskStep::Metadata, false)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.checks[0].code, "metadata_imported");
        let report = p
            .admin
            .run_metadata(
                MetadataRequest::default()
                    .with_topics(vec![topic.clone()])
                    .with_groups(vec![group.clone()]),
            )
            .await
            .unwrap();
        assert_eq!(report.status, ImportStatus::AllSucceeded, "{report:?}");
        assert_eq!(report.changes, 2, "{report:?}");
        advance_task_when_ready(&p.admin, TaskStep::Metadata, Duration::from_secs(10)).await;

        // Step 3: the topic is registered; no phase moves outside grayscale; endpoints wait for shim clients.
        p.admin.register(&[&topic], None).await.unwrap();
        let e = p
            .admin
            .advance(&topic, Phase::Initial, false)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "task_step", "{e}");
        let e = p
            .admin
            .advance_task(TaskStep::Endpoints, false)
            .await
            .unwrap_err();
        let switched = refusal(&e)
            .body
            .checks
            .iter()
            .find(|c| c.code == "endpoints_switched")
            .cloned()
            .unwrap();
        assert!(!switched.passed);
        assert!(
            switched.detail.contains("no live shim client"),
            "{switched:?}"
        );

        let ctl = p.client("orders-app").await;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("task_pg"))
            .source(pair.source.cluster_config())
            .target(target_config.clone())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();
        let rec = Recorder::default();
        let mut consumer = MigratingPushConsumer::builder(client())
            .consumer_group(&group)
            .source(pair.source.cluster_config())
            .target(target_config.clone())
            .control(&ctl)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build()
            .unwrap();
        consumer.subscribe(&topic, "*").await.unwrap();
        consumer.register_message_listener_concurrently(rec.listener());
        consumer.start().await.unwrap();
        producer.send(message(&topic, "first")).await.unwrap();
        advance_task_when_ready(&p.admin, TaskStep::Endpoints, Duration::from_secs(30)).await;
        let endpoints = p.admin.endpoints().await.unwrap();
        let mine = &endpoints.topics[0];
        assert!(mine.switched, "{mine:?}");
        assert!(mine
            .clients
            .iter()
            .any(|c| c.role == Role::Producer && c.live));
        assert!(mine
            .clients
            .iter()
            .any(|c| c.role == Role::Consumer && c.live));

        // Step 4: grayscale. A pause refuses every move (one topic or a batch) until resumed.
        let paused = p.admin.pause(Some("change freeze")).await.unwrap();
        assert_eq!(
            paused.paused.as_ref().unwrap().reason.as_deref(),
            Some("change freeze")
        );
        let e = p
            .admin
            .advance(&topic, Phase::Initial, false)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "paused", "{e}");
        let e = p
            .admin
            .advance_batch(BatchMoveRequest::listed([BatchTopic::new(
                topic.clone(),
                Phase::Initial,
            )]))
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "paused", "{e}");
        let e = p.admin.set_write_ratio(&topic, 0.3).await.unwrap_err();
        assert_eq!(refusal(&e).body.error, "paused", "{e}");
        assert_eq!(
            p.admin.phases().await.unwrap().topics[&topic].phase,
            Phase::Initial
        );
        let metrics = reqwest::get(format!("{}/metrics", p.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("rmq_migration_task_paused{task=\"orders to cloud\"} 1"),
            "{metrics}"
        );
        // The pause survives a restart of the control plane.
        p.restart().await;
        assert!(p.admin.task(false).await.unwrap().task.paused.is_some());
        let e = p
            .admin
            .advance(&topic, Phase::Initial, false)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "paused", "{e}");
        p.admin.resume().await.unwrap();

        let mut sent = vec!["first".to_owned()];
        for from in [
            Phase::Initial,
            Phase::DualRead,
            Phase::DualReadWrite,
            Phase::CuttingOver,
        ] {
            let body = format!("in-{from}");
            producer.send(message(&topic, &body)).await.unwrap();
            sent.push(body);
            advance_when_ready(&p.admin, &topic, from, Duration::from_secs(60)).await;
        }
        producer.send(message(&topic, "completed")).await.unwrap();
        sent.push("completed".into());
        assert!(
            eventually(Duration::from_secs(60), || rec.count() == sent.len()).await,
            "every message consumed: {} of {}",
            rec.count(),
            sent.len()
        );

        // Step 5: every topic completed; the decommission checklist is recorded; the claim is released.
        advance_task_when_ready(&p.admin, TaskStep::Grayscale, Duration::from_secs(60)).await;
        let done = p.admin.task(true).await.unwrap();
        assert_eq!(done.task.step, TaskStep::Completed);
        assert!(done.task.completed_at.is_some());
        let codes: Vec<&str> = done
            .task
            .decommission
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "all_topics_completed",
                "no_source_consumers",
                "nothing_due_on_source"
            ]
        );
        assert!(
            done.task.decommission.iter().all(|c| c.passed),
            "{:?}",
            done.task.decommission
        );
        assert_eq!(done.next, None);
        let steps: Vec<TaskStep> = done.task.steps.iter().map(|s| s.step).collect();
        assert_eq!(steps, TaskStep::ALL);

        // The audit log has every task action, the refused ones too.
        let actions: Vec<(String, String)> = p
            .admin
            .audit(None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.topic.is_empty())
            .map(|e| (e.action, e.outcome))
            .collect();
        for want in [
            ("task_create", "applied"),
            ("task_advance", "refused"),
            ("task_metadata", "applied"),
            ("pause", "applied"),
            ("resume", "applied"),
        ] {
            assert!(
                actions.iter().any(|(a, o)| a == want.0 && o == want.1),
                "{want:?} in {actions:?}"
            );
        }
        assert_eq!(
            actions
                .iter()
                .filter(|(a, o)| a == "task_advance" && o == "applied")
                .count(),
            4
        );

        // The target is free for another task now.
        other.config.state_file = other._dir.path().join("fresh-state.json");
        other.restart().await;
        other
            .admin
            .create_task(CreateTask::new("next"))
            .await
            .unwrap();
        other.admin.delete_task().await.unwrap();

        consumer.shutdown().await;
        producer.shutdown().await;
        ctl.shutdown();
        p.stop().await;
        other.stop().await;
        target.shutdown().await;
    });
}
