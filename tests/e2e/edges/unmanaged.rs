//! A consumer group read on the source by the raw client (a legacy service nobody migrated) keeps the write split
//! refused until it is gone.

use std::time::Duration;

use rocketmq_client_rust::{DefaultMQPushConsumer, MQPushConsumer};
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::Phase;

use super::{prepare, shim_consumer, Prepared};
use crate::support::listener::Recorder;
use crate::support::plane::{self, advance_when_ready, refusal};
use crate::support::{client, eventually, run, shared};

#[test]
fn a_raw_consumer_outside_the_shim_blocks_the_write_split_until_it_stops() {
    run(Duration::from_secs(240), async {
        let p = plane::start(|_| {}).await;
        let pair = &shared().pair;
        let Prepared { topic, group, ctl } = prepare(&p, "edge_legacy", 2, "billing").await;
        let legacy = unique_name("edge_legacy_cg");
        pair.target.create_group(&client(), &legacy).await.unwrap();
        let rec = Recorder::default();
        let mut shim = shim_consumer(&ctl, &group).build().unwrap();
        shim.subscribe(&topic, "*").await.unwrap();
        shim.register_message_listener_concurrently(rec.listener());
        shim.start().await.unwrap();

        let legacy_rec = Recorder::default();
        let mut raw = DefaultMQPushConsumer::builder(client())
            .consumer_group(legacy.clone())
            .name_server_addr(pair.source.name_server_addr().to_owned())
            .build();
        raw.subscribe(topic.as_str(), "*").await.unwrap();
        raw.register_message_listener_concurrently(legacy_rec.listener());
        raw.start().await.unwrap();

        advance_when_ready(&p.admin, &topic, Phase::Initial, Duration::from_secs(60)).await;
        // The refusal names the legacy group and its client, and never the shim's own clients.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let check = loop {
            let e = p
                .admin
                .advance(&topic, Phase::DualRead, false)
                .await
                .expect_err("the write split is refused while a raw consumer reads the source");
            let r = refusal(&e);
            let failing: Vec<_> = r
                .body
                .checks
                .iter()
                .filter(|c| !c.passed)
                .cloned()
                .collect();
            // (A shim client just started is not known until its next heartbeat: wait for a settled answer.)
            if failing.len() == 1
                && failing[0].code == "unmanaged_consumers"
                && !failing[0].detail.contains(&group)
            {
                break failing[0].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{failing:?}; clients {:?}",
                p.admin.clients().await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert!(
            check
                .detail
                .contains(&format!("group {legacy} on the source: client ")),
            "{}",
            check.detail
        );
        assert!(
            !check.detail.contains(&group),
            "{}; clients {:?}",
            check.detail,
            p.admin.clients().await
        );
        let groups = p.admin.groups().await.unwrap();
        let row = groups
            .clients
            .iter()
            .find(|c| c.group == legacy)
            .unwrap_or_else(|| panic!("{:?}", groups.clients));
        assert_eq!((row.source, row.source_shim, row.switched), (1, 0, false));
        let shim_row = groups.clients.iter().find(|c| c.group == group).unwrap();
        assert!(
            shim_row.switched && shim_row.source == shim_row.source_shim,
            "{shim_row:?}"
        );
        assert_eq!(
            p.admin.phases().await.unwrap().topics[&topic].phase,
            Phase::DualRead
        );

        // The legacy service is stopped (or rebuilt with the shim): the move goes through.
        raw.shutdown().await;
        advance_when_ready(&p.admin, &topic, Phase::DualRead, Duration::from_secs(60)).await;
        assert!(
            eventually(Duration::from_secs(10), || ctl
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::DualReadWrite)
            .await
        );
        shim.shutdown().await;
        ctl.shutdown();
    });
}
