//! The connection check's named causes, against real clusters: one as it is, one whose broker authenticates and
//! authorizes every request, one whose broker is gone, and a closed port.

use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    AclClientRPCHook, AuthAdmin, DefaultMQAdminExt, DefaultMQProducer, SessionCredentials,
};
use rocketmq_migration::acl::{self, AclFile};
use rocketmq_migration::connection::{check, ConnectionCause};
use rocketmq_migration::metadata::{
    self, Action, Cause, ConflictPolicy, ImportOptions, ImportStatus,
};
use rocketmq_migration::testkit::{free_port, unique_name, EmbeddedCluster, TestAuth};
use rocketmq_migration::{Cluster, ClusterConfig};
use rocketmq_model::common::message::message_single::Message;
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

const PLAIN_ACL: &str = r#"
globalWhiteRemoteAddresses:
  - 127.0.0.*
accounts:
  - accessKey: orders-app
    secretKey: orders-secret
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - orders=PUB|SUB
      - audit=SUB
    groupPerms:
      - orders_cg=SUB
  - accessKey: ops
    secretKey: ops-secret
    admin: true
  - accessKey: no-secret
    admin: false
"#;

#[test]
fn acl_accounts_from_a_plain_acl_file_are_created_checked_and_read_back() {
    run(Duration::from_secs(120), async {
        let auth = TestAuth::new("migrator", "s3cret-admin").with_authorization();
        let c = EmbeddedCluster::start_with_auth(&unique_name("acl"), auth)
            .await
            .unwrap();
        let target = c.cluster_config();
        let file = AclFile::parse(PLAIN_ACL, "plain_acl.yml").unwrap();
        let as_user =
            |ak: &str, sk: &str| ClusterConfig::new(c.name_server_addr()).credentials(ak, sk);

        let dry = acl::import(&file, &target, client(), ConflictPolicy::Skip, false)
            .await
            .unwrap();
        let actions: Vec<(Action, Option<Cause>)> =
            dry.accounts.iter().map(|a| (a.action, a.cause)).collect();
        assert_eq!(
            actions,
            [
                (Action::Create, None),
                (Action::Create, None),
                (Action::Fail, Some(Cause::MissingSecret))
            ]
        );
        let r = check(Cluster::Target, &as_user("ops", "ops-secret"), client()).await;
        assert_eq!(
            r.cause,
            Some(ConnectionCause::AuthenticationFailed),
            "a dry run creates nothing"
        );

        let done = acl::import(&file, &target, client(), ConflictPolicy::Skip, true)
            .await
            .unwrap();
        assert!(done.accounts[..2].iter().all(|a| a.applied), "{done:#?}");
        assert!(
            !format!("{done:?}").contains("orders-secret"),
            "results never carry a secret"
        );
        // The broker now knows both: the administrator passes every check; the application's account is
        // authenticated but may not read the cluster's runtime stats.
        let r = check(Cluster::Target, &as_user("ops", "ops-secret"), client()).await;
        assert!(r.is_ok(), "{r:#?}");
        let r = check(
            Cluster::Target,
            &as_user("orders-app", "orders-secret"),
            client(),
        )
        .await;
        assert_eq!(r.cause, Some(ConnectionCause::PermissionDenied), "{r:#?}");

        // The accounts take effect: the application may publish to `orders`, not to `audit` (subscribe only).
        let topics = metadata::parse(
            r#"{"topicConfigTable":{"orders":{"readQueueNums":4,"writeQueueNums":4},"audit":{"readQueueNums":4,"writeQueueNums":4}}}"#,
            "topics.json",
        )
        .unwrap();
        let created = metadata::import(
            &topics,
            &target,
            client(),
            &ImportOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(created.status, ImportStatus::AllSucceeded, "{created:#?}");
        let hook: Arc<dyn RPCHook> = Arc::new(AclClientRPCHook::new(
            SessionCredentials::with_keys("orders-app", "orders-secret"),
        ));
        let mut producer = DefaultMQProducer::builder(client())
            .producer_group(unique_name("acl_pg"))
            .name_server_addr(c.name_server_addr().to_owned())
            .rpc_hook(hook)
            .build();
        producer.start().await.unwrap();
        let send = |topic: &str| {
            Message::builder()
                .topic(topic)
                .body(b"acl".to_vec())
                .build()
                .unwrap()
        };
        let mut allowed = None;
        for _ in 0..50 {
            match producer.send_with_timeout(send("orders"), 3_000).await {
                Ok(r) => {
                    allowed = Some(r);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        assert!(allowed.is_some(), "orders-app may publish to orders");
        assert!(
            producer
                .send_with_timeout(send("audit"), 3_000)
                .await
                .is_err(),
            "orders-app may not publish to audit"
        );
        producer.shutdown().await;

        // Read back: the same accounts, permissions and all.
        let (back, left_out) = acl::export(&target, client()).await.unwrap();
        assert!(left_out.is_empty(), "{left_out:?}");
        let app = back
            .accounts
            .iter()
            .find(|a| a.access_key == "orders-app")
            .unwrap();
        assert_eq!(app.default_topic_perm.as_deref(), Some("DENY"));
        assert_eq!(app.default_group_perm.as_deref(), Some("SUB"));
        assert_eq!(app.topic_perms, vec!["audit=SUB", "orders=PUB|SUB"]);
        assert_eq!(app.group_perms, vec!["orders_cg=SUB"]);
        assert!(!app.admin);
        assert!(back
            .accounts
            .iter()
            .any(|a| a.access_key == "ops" && a.admin));

        // A second run changes nothing; a changed permission is a conflict, then overwritten on request.
        let again = acl::import(&file, &target, client(), ConflictPolicy::Skip, true)
            .await
            .unwrap();
        assert_eq!(again.accounts[0].action, Action::Unchanged, "{again:#?}");
        assert_eq!(again.accounts[1].action, Action::Unchanged, "{again:#?}");
        let mut changed = file.clone();
        changed.accounts[0].topic_perms = vec!["orders=PUB".into()];
        let skip = acl::import(&changed, &target, client(), ConflictPolicy::Skip, true)
            .await
            .unwrap();
        assert_eq!(
            (skip.accounts[0].action, skip.accounts[0].cause),
            (Action::Skip, Some(Cause::Conflict)),
            "{skip:#?}"
        );
        let over = acl::import(&changed, &target, client(), ConflictPolicy::Overwrite, true)
            .await
            .unwrap();
        assert_eq!(over.accounts[0].action, Action::Update, "{over:#?}");
        let (back, _) = acl::export(&target, client()).await.unwrap();
        let app = back
            .accounts
            .iter()
            .find(|a| a.access_key == "orders-app")
            .unwrap();
        assert_eq!(app.topic_perms, vec!["orders=PUB"]);
        c.shutdown().await;
    });
}
