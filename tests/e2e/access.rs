//! The connection check's named causes, against real clusters: one as it is, one whose broker authenticates and
//! authorizes every request, one whose broker is gone, and a closed port.

use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{AclClientRPCHook, AuthAdmin, DefaultMQAdminExt, SessionCredentials};
use rocketmq_migration::connection::{check, ConnectionCause};
use rocketmq_migration::testkit::{free_port, unique_name, EmbeddedCluster, TestAuth};
use rocketmq_migration::{Cluster, ClusterConfig};
use rocketmq_transport::api::RPCHook;

use crate::support::{client, run, shared};

/// An admin client signed as `user`.
pub(crate) async fn signed_admin(
    cluster: &EmbeddedCluster,
    user: &str,
    secret: &str,
) -> DefaultMQAdminExt {
    let hook: Arc<dyn RPCHook> = Arc::new(AclClientRPCHook::new(SessionCredentials::with_keys(
        user, secret,
    )));
    let mut a = DefaultMQAdminExt::with_rpc_hook(client(), hook);
    a.set_namesrv_addr(cluster.name_server_addr());
    a.client_config_mut()
        .set_instance_name(CheetahString::from(unique_name("e2e_signed")));
    a.start().await.unwrap();
    a
}

#[test]
fn a_reachable_cluster_passes_every_step() {
    run(Duration::from_secs(60), async {
        let pair = &shared().pair;
        let r = check(Cluster::Source, &pair.source.cluster_config(), client()).await;
        assert!(r.is_ok(), "{r:#?}");
        let steps: Vec<&str> = r.probes.iter().map(|p| p.step.as_str()).collect();
        assert_eq!(
            steps,
            ["name_server", "cluster_info", "broker", "admin_call"]
        );
        assert!(
            r.summary.starts_with("ok: 1 master broker answered"),
            "{}",
            r.summary
        );
    });
}

#[test]
fn a_closed_port_is_an_unreachable_name_server_named_with_its_address() {
    run(Duration::from_secs(60), async {
        let port = free_port().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let r = check(Cluster::Target, &ClusterConfig::new(addr.clone()), client()).await;
        assert_eq!(
            r.cause,
            Some(ConnectionCause::NameServerUnreachable),
            "{r:#?}"
        );
        assert_eq!(r.cause.unwrap().exit_code(), 8);
        assert!(r.summary.contains(&addr), "{}", r.summary);
        // One dead address beside a live one is reported but does not fail the check.
        let live = shared().pair.source.name_server_addr().to_owned();
        let r = check(
            Cluster::Source,
            &ClusterConfig::new(format!("{addr};{live}")),
            client(),
        )
        .await;
        assert!(r.is_ok(), "{r:#?}");
        assert!(r.probes.iter().any(|p| p.target == addr && !p.ok));
    });
}

#[test]
fn a_name_server_without_brokers_and_a_stopped_broker_are_told_apart() {
    run(Duration::from_secs(120), async {
        let mut c = EmbeddedCluster::start(&unique_name("nobroker"))
            .await
            .unwrap();
        let config = c.cluster_config();
        assert!(check(Cluster::Source, &config, client()).await.is_ok());
        c.stop_broker().await;
        let r = check(Cluster::Source, &config, client()).await;
        // A broker that shut down unregisters itself: the name server lists none.
        assert_eq!(r.cause, Some(ConnectionCause::NoBroker), "{r:#?}");
        assert_eq!(r.cause.unwrap().exit_code(), 9);
        c.shutdown().await;
    });
}

#[test]
fn wrong_or_missing_credentials_and_missing_permission_are_named() {
    run(Duration::from_secs(120), async {
        let auth = TestAuth::new("migrator", "s3cret-admin").with_authorization();
        let c = EmbeddedCluster::start_with_auth(&unique_name("auth"), auth)
            .await
            .unwrap();
        let ok = check(Cluster::Target, &c.cluster_config(), client()).await;
        assert!(ok.is_ok(), "the super user passes: {ok:#?}");

        let anonymous = ClusterConfig::new(c.name_server_addr());
        let r = check(Cluster::Target, &anonymous, client()).await;
        assert_eq!(
            r.cause,
            Some(ConnectionCause::AuthenticationFailed),
            "{r:#?}"
        );
        assert_eq!(r.cause.unwrap().exit_code(), 11);

        let wrong = ClusterConfig::new(c.name_server_addr()).credentials("migrator", "not-it");
        let r = check(Cluster::Target, &wrong, client()).await;
        assert_eq!(
            r.cause,
            Some(ConnectionCause::AuthenticationFailed),
            "{r:#?}"
        );

        // A known user without an ACL for admin calls.
        let mut admin = signed_admin(&c, "migrator", "s3cret-admin").await;
        AuthAdmin::create_user(
            &admin,
            c.broker_addr().into(),
            "reader".into(),
            "reader-secret".into(),
            "Normal".into(),
        )
        .await
        .unwrap();
        admin.shutdown().await;
        let reader =
            ClusterConfig::new(c.name_server_addr()).credentials("reader", "reader-secret");
        let r = check(Cluster::Target, &reader, client()).await;
        assert_eq!(r.cause, Some(ConnectionCause::PermissionDenied), "{r:#?}");
        assert_eq!(r.cause.unwrap().exit_code(), 12);
        c.shutdown().await;
    });
}
