//! Restored state: the control plane restarts from an older state file, then from none, while a producer's
//! control client holds newer versions. The control plane says `diverged`, refuses changes, and `adopt` (then
//! `adopt --force`) resolves it.

use std::time::Duration;

use rocketmq_migration::control::wire::{DivergenceView, SyncStatus};
use rocketmq_migration::control::ControlClient;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{MigratingProducer, Phase};

use crate::support::plane::{self, refusal, Plane};
use crate::support::{client, eventually, run, shared};

async fn health(p: &Plane) -> serde_json::Value {
    reqwest::get(format!("{}/healthz", p.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn metric(p: &Plane, name: &str) -> String {
    let text = reqwest::get(format!("{}/metrics", p.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .to_owned()
}

/// Wait until the control plane reports the divergence with at least one client table received.
async fn diverged_with_table(p: &Plane) -> DivergenceView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = p.admin.divergence().await.unwrap();
        if let Some(d) = d.filter(|d| d.tables_received > 0) {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the control plane reports the divergence and receives the client's table"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn caught_up(ctl: &ControlClient, version: u64) -> bool {
    eventually(Duration::from_secs(15), || {
        ctl.version() == version && ctl.status() == SyncStatus::Fresh
    })
    .await
}

#[test]
fn a_restore_from_an_older_or_missing_state_file_is_detected_refused_and_resolved_by_adopt() {
    run(Duration::from_secs(180), async {
        let mut p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let (a, b) = (unique_name("div-a"), unique_name("div-b"));
        for t in [&a, &b] {
            pair.create_topic(&client(), t, 2).await.unwrap();
        }
        p.admin.register(&[&a, &b], None).await.unwrap();
        let ctl = p.client("diverged-producer").await;
        let mut producer = MigratingProducer::builder(client())
            .producer_group(unique_name("pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&ctl)
            .build()
            .unwrap();
        producer.start().await.unwrap();

        // The backup an operator will restore: both topics initial, version 1.
        let backup = std::fs::read(&p.config.state_file).unwrap();
        p.admin.advance(&a, Phase::Initial, true).await.unwrap();
        let moved = p.admin.advance(&a, Phase::DualRead, true).await.unwrap();
        assert!(
            caught_up(&ctl, moved.state.version).await,
            "the client applies version {}",
            moved.state.version
        );
        assert!(p.admin.divergence().await.unwrap().is_none());
        assert_eq!(health(&p).await["status"], "ok");

        // Restart from the backup: the client holds version 3 (a in dual_read_write), the control plane 1.
        p.stop().await;
        std::fs::write(&p.config.state_file, &backup).unwrap();
        p.restart().await;
        let d = diverged_with_table(&p).await;
        assert_eq!(
            (d.table_version, d.newest_client_version),
            (1, moved.state.version)
        );
        assert_eq!(d.clients_ahead, 1);
        let ahead = d
            .topics
            .iter()
            .find(|t| t.topic == a)
            .expect("topic a is ahead");
        assert_eq!(ahead.client.phase, Phase::DualReadWrite);
        assert_eq!(ahead.control_plane.map(|c| c.phase), Some(Phase::Initial));
        assert!(
            d.topics.iter().all(|t| t.topic != b),
            "b is the same on both: {d:?}"
        );
        let h = health(&p).await;
        assert_eq!(h["status"], "diverged", "{h}");
        assert_eq!(h["diverged"]["clients_ahead"], 1, "{h}");
        assert_eq!(
            metric(&p, "rmq_migration_diverged").await,
            "rmq_migration_diverged 1"
        );
        assert_eq!(
            metric(&p, "rmq_migration_clients_ahead").await,
            "rmq_migration_clients_ahead 1"
        );
        // The client keeps its table and says why it ignores the control plane's.
        assert!(
            eventually(Duration::from_secs(10), || ctl.status()
                == SyncStatus::Stale)
            .await,
            "the client turns STALE"
        );
        assert_eq!(ctl.status_reason(), Some("older_table"));
        assert_eq!(
            ctl.phases().snapshot().phase(&a),
            Phase::DualReadWrite,
            "fail-static"
        );

        // Every change to the table is refused, and says what to do.
        let e = p.admin.advance(&b, Phase::Initial, true).await.unwrap_err();
        let r = refusal(&e);
        assert_eq!((r.status, r.body.error.as_str()), (409, "diverged"));
        assert!(
            r.body.message.contains("rmq-migrate adopt"),
            "{}",
            r.body.message
        );
        let e = p
            .admin
            .register(&[&unique_name("div-new")], None)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "diverged");
        let e = p.admin.set_write_ratio(&a, 0.5).await.unwrap_err();
        assert_eq!(refusal(&e).body.error, "diverged");
        assert_eq!(
            p.admin.phases().await.unwrap().version,
            1,
            "nothing changed"
        );

        // adopt: take the client's table.
        let adopted = p.admin.adopt(false).await.unwrap();
        assert!(!adopted.force);
        assert_eq!(adopted.from_version, 1);
        assert!(adopted.version > moved.state.version, "{adopted:?}");
        let changed: Vec<(&str, Option<Phase>, Phase)> = adopted
            .changed
            .iter()
            .map(|c| (c.topic.as_str(), c.from, c.to))
            .collect();
        assert_eq!(
            changed,
            [(a.as_str(), Some(Phase::Initial), Phase::DualReadWrite)]
        );
        let table = p.admin.phases().await.unwrap();
        assert_eq!(table.version, adopted.version);
        assert_eq!(table.topics[&a].phase, Phase::DualReadWrite);
        assert!(p.admin.divergence().await.unwrap().is_none());
        assert_eq!(health(&p).await["status"], "ok");
        assert!(
            caught_up(&ctl, adopted.version).await,
            "the client applies the adopted table"
        );
        assert_eq!(ctl.phases().snapshot().phase(&a), Phase::DualReadWrite);
        // Moves work again, and reach the client.
        let next = p.admin.advance(&b, Phase::Initial, true).await.unwrap();
        assert!(caught_up(&ctl, next.state.version).await);
        assert_eq!(ctl.phases().snapshot().phase(&b), Phase::DualRead);
        let audit = p.admin.audit(None, 50).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "adopt" && e.topic == a && e.to == Some(Phase::DualReadWrite)),
            "{audit:?}"
        );
        assert!(audit
            .iter()
            .any(|e| e.action == "adopt" && e.topic.is_empty() && e.detail.is_some()));
        let e = p.admin.adopt(false).await.unwrap_err();
        assert_eq!(
            refusal(&e).body.error,
            "not_diverged",
            "nothing to adopt once resolved"
        );

        // The state file is lost: the control plane starts empty (version 0) while the client holds both topics
        // past initial. `adopt --force` publishes the control plane's own (empty) table: both topics initial.
        p.stop().await;
        std::fs::remove_file(&p.config.state_file).unwrap();
        p.restart().await;
        let d = diverged_with_table(&p).await;
        assert_eq!(d.table_version, 0);
        let mut ahead: Vec<(&str, Phase)> = d
            .topics
            .iter()
            .map(|t| (t.topic.as_str(), t.client.phase))
            .collect();
        ahead.sort();
        let mut want = vec![
            (a.as_str(), Phase::DualReadWrite),
            (b.as_str(), Phase::DualRead),
        ];
        want.sort();
        assert_eq!(ahead, want);
        let e = p
            .admin
            .advance(&a, Phase::DualReadWrite, true)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "diverged");

        let forced = p.admin.adopt(true).await.unwrap();
        assert!(forced.force);
        assert!(forced.version > next.state.version, "{forced:?}");
        let mut changed: Vec<(&str, Option<Phase>, Phase)> = forced
            .changed
            .iter()
            .map(|c| (c.topic.as_str(), c.from, c.to))
            .collect();
        changed.sort();
        let mut want = vec![
            (a.as_str(), Some(Phase::DualReadWrite), Phase::Initial),
            (b.as_str(), Some(Phase::DualRead), Phase::Initial),
        ];
        want.sort();
        assert_eq!(changed, want);
        assert!(
            caught_up(&ctl, forced.version).await,
            "the client applies the forced table"
        );
        let snap = ctl.phases().snapshot();
        assert_eq!(
            (snap.phase(&a), snap.phase(&b)),
            (Phase::Initial, Phase::Initial)
        );
        assert!(p.admin.divergence().await.unwrap().is_none());
        assert_eq!(
            metric(&p, "rmq_migration_diverged").await,
            "rmq_migration_diverged 0"
        );
        let audit = p.admin.audit(None, 50).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "adopt_force" && e.forced && e.topic == a),
            "{audit:?}"
        );
        // And the table moves again from there.
        let again = p.admin.advance(&a, Phase::Initial, true).await.unwrap();
        assert!(caught_up(&ctl, again.state.version).await);
        assert_eq!(ctl.phases().snapshot().phase(&a), Phase::DualRead);
        producer.shutdown().await;
        ctl.shutdown();
    });
}
