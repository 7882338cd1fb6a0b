//! The control plane's HTTP API against a real server on 127.0.0.1:0 (and the shared clusters for its gates; the
//! tests of tokens and TLS alone run without clusters).

use std::time::Duration;

use reqwest::StatusCode;
use rocketmq_migration::control::wire::PhasesDoc;
use rocketmq_migration::control::ControlApi;
use rocketmq_migration::server::TlsFiles;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{ErrorKind, Phase};

use crate::support::plane::{self, refusal, rollback_when_ready, ADMIN_TOKEN};
use crate::support::{client, run, run_without_clusters, shared};

/// A topic that exists on both clusters.
async fn topic() -> String {
    let t = unique_name("ctl");
    shared()
        .pair
        .create_topic(&client(), &t, 2)
        .await
        .expect("create topic");
    t
}

#[test]
fn phases_carry_an_etag_answer_304_and_long_polls_wake_on_change() {
    run_without_clusters(Duration::from_secs(90), async {
        let p = plane::start_alone(|_| {}).await;
        let http = reqwest::Client::new();
        let url = format!("{}/v1/phases", p.url);
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let doc: PhasesDoc = r.json().await.unwrap();
        assert_eq!(etag, doc.etag());

        let r = http
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);

        // Nothing changes: a 1 s long-poll ends with 304.
        let r = http
            .get(format!("{url}?wait=1"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

        // A change wakes a 30 s long-poll with the new table.
        let poll = tokio::spawn({
            let (http, url, etag) = (http.clone(), url.clone(), etag.clone());
            async move {
                http.get(format!("{url}?wait=30"))
                    .header("if-none-match", etag)
                    .send()
                    .await
                    .unwrap()
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = unique_name("lp");
        p.admin.register(&[&t], None).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(20), poll)
            .await
            .expect("the long-poll answers on change, well before its 30 s wait")
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let doc: PhasesDoc = r.json().await.unwrap();
        assert_eq!(doc.version, 1);
        assert_eq!(doc.topics[&t].phase, Phase::Initial);

        let r = http.get(format!("{url}?wait=-1")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("\\\"wait\\\""));
    });
}

#[test]
fn mutations_without_the_admin_token_get_401_and_change_nothing() {
    run_without_clusters(Duration::from_secs(90), async {
        let p = plane::start_alone(|_| {}).await;
        let t = unique_name("ctl");
        p.admin.register(&[&t], None).await.unwrap();
        let before = p.admin.phases().await.unwrap();

        for token in [
            None,
            Some("wrong-token".to_owned()),
            Some(format!("{ADMIN_TOKEN}x")),
        ] {
            let anon = ControlApi::new(&p.url, token).unwrap();
            for e in [
                anon.register(&["other"], None).await.unwrap_err(),
                anon.advance(&t, Phase::Initial, false).await.unwrap_err(),
                anon.advance(&t, Phase::Initial, true).await.unwrap_err(),
                anon.set_write_ratio(&t, 0.9).await.unwrap_err(),
                anon.delete(&t).await.unwrap_err(),
            ] {
                assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
                assert_eq!(refusal(&e).status, 401);
            }
            // Reads stay open without a client token.
            assert_eq!(anon.phases().await.unwrap(), before);
        }
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/v1/topics", p.url))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "auth is checked before the body"
        );
        assert_eq!(r.headers()["www-authenticate"], "Bearer");

        assert_eq!(p.admin.phases().await.unwrap(), before);
        let audit = p.admin.audit(None, 100).await.unwrap();
        assert_eq!(audit.len(), 1, "only the registration: {audit:?}");
        let logs = p.admin.audit(Some(&t), 10).await.unwrap();
        assert_eq!(logs[0].action, "register");
        assert!(logs[0].actor.starts_with("e2e"));
    });
}

#[test]
fn client_token_guards_reads_when_configured() {
    run_without_clusters(Duration::from_secs(60), async {
        let p = plane::start_alone(|c| {
            c.client_token = rocketmq_migration::server::Token::new("reader");
        })
        .await;
        let anon = ControlApi::new(&p.url, None).unwrap();
        let e = anon.phases().await.unwrap_err();
        assert_eq!(refusal(&e).status, 401);
        let reader = ControlApi::new(&p.url, Some("reader".into())).unwrap();
        reader.phases().await.unwrap();
        let e = reader.register(&["x"], None).await.unwrap_err();
        assert_eq!(refusal(&e).status, 401, "the client token cannot mutate");
        p.admin.phases().await.unwrap();
    });
}

#[test]
fn moves_are_one_step_compare_and_set_and_concurrent_advances_have_one_winner() {
    run(Duration::from_secs(120), async {
        let p = plane::start(|_| {}).await;
        let t = topic().await;
        p.admin.register(&[&t], Some(0.25)).await.unwrap();

        let e = p
            .admin
            .advance(&t, Phase::DualRead, false)
            .await
            .unwrap_err();
        let r = refusal(&e);
        assert_eq!((r.status, r.body.error.as_str()), (409, "phase_mismatch"));
        assert_eq!(r.body.current, Some(Phase::Initial));
        let e = p
            .admin
            .rollback(&t, Phase::Initial, false)
            .await
            .unwrap_err();
        assert_eq!(refusal(&e).body.error, "no_step");

        let (a, b) = tokio::join!(
            p.admin.advance(&t, Phase::Initial, false),
            p.admin.advance(&t, Phase::Initial, false)
        );
        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            wins, 1,
            "exactly one of two concurrent advances succeeds: {a:?} {b:?}"
        );
        let loser = match (a, b) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            _ => unreachable!("one winner was asserted"),
        };
        assert_eq!(refusal(&loser).body.error, "phase_mismatch");
        let doc = p.admin.phases().await.unwrap();
        assert_eq!(doc.topics[&t].phase, Phase::DualRead, "one step only");
        assert_eq!(doc.topics[&t].write_ratio, 0.25);

        let moved =
            rollback_when_ready(&p.admin, &t, Phase::DualRead, Duration::from_secs(20)).await;
        assert_eq!((moved.from, moved.to), (Phase::DualRead, Phase::Initial));
        assert!(moved.checks.iter().any(|c| c.code == "target_backlog_zero"));
        let last = p.admin.audit(Some(&t), 1).await.unwrap();
        assert_eq!(last[0].action, "rollback");
        assert_eq!(
            last[0].checks, moved.checks,
            "the audit log holds the checks and results"
        );
    });
}

#[test]
fn bad_requests_name_the_field_and_change_nothing() {
    run(Duration::from_secs(90), async {
        let p = plane::start(|_| {}).await;
        let t = topic().await;
        p.admin.register(&[&t], None).await.unwrap();
        let before = p.admin.phases().await.unwrap();

        let e = p.admin.set_write_ratio(&t, 1.5).await.unwrap_err();
        assert!(refusal(&e).body.message.contains("write_ratio"), "{e}");
        let e = p
            .admin
            .register(&["ok_topic", "bad topic!"], None)
            .await
            .unwrap_err();
        assert!(refusal(&e).body.message.contains("\"bad topic!\""), "{e}");
        let e = p.admin.register(&[], None).await.unwrap_err();
        assert!(refusal(&e).body.message.contains("topics"), "{e}");
        let e = p
            .admin
            .advance("never_registered", Phase::Initial, false)
            .await
            .unwrap_err();
        assert_eq!(
            (refusal(&e).status, refusal(&e).body.error.as_str()),
            (404, "unknown_topic")
        );
        let r = reqwest::Client::new()
            .post(format!("{}/v1/topics/{t}/advance", p.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"expected":"halfway"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            p.admin.phases().await.unwrap(),
            before,
            "nothing changed, not even ok_topic"
        );

        // Delete only while Initial.
        p.admin.advance(&t, Phase::Initial, false).await.unwrap();
        let e = p.admin.delete(&t).await.unwrap_err();
        assert_eq!(refusal(&e).body.error, "not_initial");
        rollback_when_ready(&p.admin, &t, Phase::DualRead, Duration::from_secs(20)).await;
        p.admin.delete(&t).await.unwrap();
        assert!(!p.admin.phases().await.unwrap().topics.contains_key(&t));
    });
}

#[test]
fn missing_target_topic_refuses_dual_read_unless_forced_and_force_is_audited() {
    run(Duration::from_secs(90), async {
        let p = plane::start(|_| {}).await;
        let t = unique_name("nowhere");
        p.admin.register(&[&t], None).await.unwrap();
        let e = p
            .admin
            .advance(&t, Phase::Initial, false)
            .await
            .unwrap_err();
        let r = refusal(&e);
        assert_eq!(r.body.error, "not_ready");
        let c = r
            .body
            .checks
            .iter()
            .find(|c| c.code == "target_topic_exists")
            .unwrap();
        assert!(!c.passed && c.detail.contains(&t), "{c:?}");

        let moved = p.admin.advance(&t, Phase::Initial, true).await.unwrap();
        assert!(moved.forced);
        let audit = p.admin.audit(Some(&t), 10).await.unwrap();
        let outcomes: Vec<(&str, &str, bool)> = audit
            .iter()
            .map(|e| (e.action.as_str(), e.outcome.as_str(), e.forced))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                ("register", "applied", false),
                ("advance", "refused", false),
                ("advance", "applied", true)
            ]
        );
    });
}

#[test]
fn state_and_audit_survive_a_restart() {
    run(Duration::from_secs(120), async {
        let mut p = plane::start(|_| {}).await;
        let t = topic().await;
        p.admin.register(&[&t], None).await.unwrap();
        p.admin.advance(&t, Phase::Initial, false).await.unwrap();
        p.admin.set_write_ratio(&t, 0.75).await.unwrap();
        let before = p.admin.phases().await.unwrap();
        let audit = p.admin.audit(None, 100).await.unwrap();
        assert_eq!(audit.len(), 3);

        p.restart().await;
        assert_eq!(p.admin.phases().await.unwrap(), before);
        assert_eq!(p.admin.audit(None, 100).await.unwrap(), audit);
        // Versions keep rising after the restart.
        let moved = p.admin.advance(&t, Phase::DualRead, false).await.unwrap();
        assert_eq!(moved.state.version, before.version + 1);
        assert_eq!(
            p.admin.audit(None, 100).await.unwrap().last().unwrap().seq,
            4
        );
        p.stop().await;
    });
}

#[test]
fn health_and_metrics_are_served() {
    run_without_clusters(Duration::from_secs(60), async {
        let p = plane::start_alone(|_| {}).await;
        let t = unique_name("m");
        p.admin.register(&[&t], Some(0.3)).await.unwrap();
        let http = reqwest::Client::new();
        let h: serde_json::Value = http
            .get(format!("{}/healthz", p.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(h["status"], "ok");
        assert_eq!(h["version"], 1);
        let m = http
            .get(format!("{}/metrics", p.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(m.contains("rmq_migration_table_version 1"), "{m}");
        assert!(
            m.contains(&format!(
                "rmq_migration_topic_phase{{topic=\"{t}\",phase=\"initial\"}} 0"
            )),
            "{m}"
        );
        assert!(
            m.contains(&format!(
                "rmq_migration_topic_write_ratio{{topic=\"{t}\"}} 0.3"
            )),
            "{m}"
        );
        assert!(
            m.contains("rmq_migration_http_requests_total{route=\"/v1/topics\",status=\"201\"} 1"),
            "{m}"
        );
    });
}

#[test]
fn tls_serves_the_api_over_https() {
    run_without_clusters(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let p = plane::start_alone(|c| {
            c.tls = Some(TlsFiles {
                cert: cert_path.clone(),
                key: key_path.clone(),
            })
        })
        .await;
        assert!(p.url.starts_with("https://"));
        let api = ControlApi::with_ca(&p.url, Some(ADMIN_TOKEN.into()), cert.cert.pem().as_bytes())
            .unwrap();
        api.register(&["tls_topic"], None).await.unwrap();
        assert_eq!(api.phases().await.unwrap().version, 1);
        // Without trusting the certificate the connection is refused.
        let untrusting = ControlApi::new(&p.url, None).unwrap();
        assert_eq!(
            untrusting.phases().await.unwrap_err().kind(),
            ErrorKind::Control
        );
        // The polling client verifies it too.
        let c = rocketmq_migration::control::ControlClient::builder(&p.url)
            .ca_certificate_pem(cert.cert.pem())
            .build()
            .await
            .unwrap();
        assert_eq!(c.version(), 1);
        assert_eq!(c.phases().snapshot().phase("tls_topic"), Phase::Initial);
        c.shutdown();
    });
}

#[test]
fn status_answers_from_the_background_scan_and_a_health_check_runs_the_checks_now() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        // A scan period far beyond the test: only what a request triggers fills the cache.
        let p = plane::start(|c| c.scan_every = Duration::from_secs(3600)).await;
        let t = unique_name("scan");
        pair.source.create_topic(&client(), &t, 2).await.unwrap();
        p.admin.register(&[&t], None).await.unwrap();
        let check = |v: &rocketmq_migration::control::wire::TopicView| {
            v.advance
                .iter()
                .find(|c| c.code == "target_topic_exists")
                .map(|c| c.passed)
        };
        let view = |views: Vec<rocketmq_migration::control::wire::TopicView>| {
            views.into_iter().find(|v| v.topic == t).unwrap()
        };
        // Registering woke the scanner: let that round finish (two answers from the same scan in a row).
        let mut first = view(p.admin.topics().await.unwrap());
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let next = view(p.admin.topics().await.unwrap());
            if next.checked_at == first.checked_at {
                break;
            }
            first = next;
        }
        assert_eq!(check(&first), Some(false), "{first:?}");
        assert!(first.checked_at.is_some());
        pair.target.create_topic(&client(), &t, 2).await.unwrap();
        // Status keeps answering from the cache: the same scan, still failing.
        let again = p.admin.topics().await.unwrap();
        let again = again.iter().find(|v| v.topic == t).unwrap().clone();
        assert_eq!(
            again.checked_at, first.checked_at,
            "answered from the cache"
        );
        assert_eq!(check(&again), Some(false));
        // A health check runs the checks now and refreshes the cache.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = p.admin.health_check(&t).await.unwrap();
        assert_eq!(check(&now), Some(true), "{now:?}");
        assert_ne!(now.checked_at, first.checked_at);
        let after = p.admin.topics().await.unwrap();
        let after = after.iter().find(|v| v.topic == t).unwrap().clone();
        assert_eq!(check(&after), Some(true));
        assert_eq!(after.checked_at, now.checked_at);
        let e = p
            .admin
            .health_check("never_registered_topic")
            .await
            .unwrap_err();
        assert_eq!(plane::refusal(&e).body.error, "unknown_topic");
        // A move re-checks its own topic, whatever the cache says.
        p.admin.advance(&t, Phase::Initial, false).await.unwrap();
        let moved = p.admin.topics().await.unwrap();
        let moved = moved.iter().find(|v| v.topic == t).unwrap().clone();
        assert_eq!(moved.state.phase, Phase::DualRead);
        assert!(!moved.rollback.is_empty(), "scanned for its new phase");
    });
}

#[test]
fn the_background_scan_refreshes_readiness_without_being_asked() {
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let p = plane::start(|_| {}).await; // test planes scan every 250 ms
        let t = unique_name("scanbg");
        pair.source.create_topic(&client(), &t, 2).await.unwrap();
        p.admin.register(&[&t], None).await.unwrap();
        let ready = |views: Vec<rocketmq_migration::control::wire::TopicView>| {
            views
                .iter()
                .find(|v| v.topic == t)
                .and_then(|v| v.advance.iter().find(|c| c.code == "target_topic_exists"))
                .map(|c| c.passed)
        };
        assert_eq!(ready(p.admin.topics().await.unwrap()), Some(false));
        pair.target.create_topic(&client(), &t, 2).await.unwrap();
        let mut seen = false;
        for _ in 0..100 {
            if ready(p.admin.topics().await.unwrap()) == Some(true) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(seen, "the scanner saw the topic appear on the target");
        let h: serde_json::Value = reqwest::get(format!("{}/healthz", p.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(h["readiness_scan_ms"].is_u64(), "{h}");
    });
}

#[test]
fn batch_moves_report_per_topic_and_all_or_nothing_moves_none_when_one_cannot() {
    use rocketmq_migration::control::wire::{
        BatchMode, BatchMoveRequest, BatchSelector, BatchTopic,
    };
    run(Duration::from_secs(120), async {
        let pair = &shared().pair;
        let p = plane::start(|_| {}).await;
        let (a, b, c) = (unique_name("ba"), unique_name("bb"), unique_name("bc"));
        pair.create_topic(&client(), &a, 2).await.unwrap();
        pair.create_topic(&client(), &b, 2).await.unwrap();
        pair.source.create_topic(&client(), &c, 2).await.unwrap(); // not on the target
        p.admin.register(&[&a, &b, &c], None).await.unwrap();
        let listed = |mode| {
            BatchMoveRequest::listed(
                [&a, &b, &c]
                    .iter()
                    .map(|t| BatchTopic::new(t.to_string(), Phase::Initial)),
            )
            .with_mode(mode)
        };
        let before = p.admin.phases().await.unwrap().version;

        // All or nothing: c cannot move, so nothing does.
        let r = p
            .admin
            .advance_batch(listed(BatchMode::AllOrNothing))
            .await
            .unwrap();
        assert_eq!((r.moved, r.refused), (0, 3), "{r:#?}");
        let why = |t: &str| {
            r.results
                .iter()
                .find(|i| i.topic == t)
                .and_then(|i| i.refused.clone())
                .unwrap()
        };
        assert_eq!(why(&c).error, "not_ready");
        assert!(why(&c)
            .checks
            .iter()
            .any(|k| k.code == "target_topic_exists" && !k.passed));
        assert_eq!(why(&a).error, "batch_not_applied");
        assert_eq!(
            p.admin.phases().await.unwrap().version,
            before,
            "nothing changed"
        );

        // Each: a and b move in one table version, c is refused with its checks.
        let r = p
            .admin
            .advance_batch(listed(BatchMode::Each))
            .await
            .unwrap();
        assert_eq!((r.moved, r.refused), (2, 1), "{r:#?}");
        let table = p.admin.phases().await.unwrap();
        assert_eq!(table.version, before + 1, "one version for the batch");
        assert_eq!(table.topics[&a].phase, Phase::DualRead);
        assert_eq!(table.topics[&b].phase, Phase::DualRead);
        assert_eq!(table.topics[&c].phase, Phase::Initial);

        // A stale expectation is refused per topic; the others still move. (Rolling back to initial drops the
        // target from the read set: its quiet window, 1 s in tests, must have been observed first.)
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let r = p
            .admin
            .rollback_batch(
                BatchMoveRequest::listed([
                    BatchTopic::new(a.clone(), Phase::DualRead),
                    BatchTopic::new(c.clone(), Phase::DualRead),
                ])
                .with_mode(BatchMode::Each),
            )
            .await
            .unwrap();
        assert_eq!((r.moved, r.refused), (1, 1), "{r:#?}");
        let refused = r.results.iter().find(|i| i.topic == c).unwrap();
        assert_eq!(refused.refused.as_ref().unwrap().error, "phase_mismatch");

        // Selectors: every ready topic (from the last scan) of the phase.
        let mut moved = None;
        for _ in 0..50 {
            let r = p
                .admin
                .advance_batch(
                    BatchMoveRequest::selected(BatchSelector::new(Phase::Initial, true))
                        .with_mode(BatchMode::Each),
                )
                .await
                .unwrap();
            if r.results.iter().any(|i| i.topic == a) {
                moved = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let r = moved.expect("a is ready again and selected");
        assert!(
            r.results.iter().all(|i| i.topic != c),
            "c is not ready: {r:#?}"
        );
        let table = p.admin.phases().await.unwrap();
        assert_eq!(table.topics[&a].phase, Phase::DualRead);
        assert_eq!(table.topics[&c].phase, Phase::Initial);

        // Refusals are audited like single moves.
        let audit = p.admin.audit(Some(&c), 20).await.unwrap();
        assert!(audit.iter().any(|e| e.outcome == "refused"), "{audit:?}");
        // A bad request names the field.
        let e = p
            .admin
            .advance_batch(BatchMoveRequest::default())
            .await
            .unwrap_err();
        assert!(refusal(&e).body.message.contains("topics"), "{e}");
    });
}

/// `rmq_migration_http_requests_total` for `GET /v1/phases` with `status`.
async fn phases_answered(url: &str, status: u16) -> u64 {
    let m = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series =
        format!("rmq_migration_http_requests_total{{route=\"/v1/phases\",status=\"{status}\"}} ");
    m.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[test]
fn a_client_follows_changes_on_one_open_watch_stream_and_a_long_poll_client_beside_it() {
    run_without_clusters(Duration::from_secs(90), async {
        let p = plane::start_alone(|_| {}).await;
        let base = unique_name("watch");
        p.admin.register(&[&base], None).await.unwrap();
        let watching = rocketmq_migration::control::ControlClient::builder(&p.url)
            .application("watching")
            .poll_wait(Duration::from_secs(30))
            .build()
            .await
            .unwrap();
        // The build's fetch, then the stream the poller keeps open.
        for _ in 0..100 {
            if phases_answered(&p.url, 200).await >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(phases_answered(&p.url, 200).await, 2);
        let mut version = watching.version();
        for i in 0..3 {
            let t = format!("{base}_{i}");
            version = p.admin.register(&[&t], None).await.unwrap()[0]
                .state
                .version;
            assert!(
                crate::support::eventually(Duration::from_secs(5), || watching.version()
                    == version)
                .await,
                "change {i} arrives on the stream"
            );
            assert_eq!(watching.phases().snapshot().phase(&t), Phase::Initial);
        }
        assert_eq!(
            (
                phases_answered(&p.url, 200).await,
                phases_answered(&p.url, 304).await
            ),
            (2, 0),
            "three changes, no new request"
        );
        // A client with the stream off long-polls the same server: one answer per change.
        let polling = rocketmq_migration::control::ControlClient::builder(&p.url)
            .application("polling")
            .poll_wait(Duration::from_secs(30))
            .watch(false)
            .build()
            .await
            .unwrap();
        assert_eq!(polling.version(), version);
        let t = format!("{base}_last");
        let last = p.admin.register(&[&t], None).await.unwrap()[0]
            .state
            .version;
        assert!(
            crate::support::eventually(Duration::from_secs(5), || polling.version() == last
                && watching.version() == last)
            .await
        );
        // The long-poll client's build and the answer to its parked poll; the stream is still the same one.
        assert_eq!(phases_answered(&p.url, 200).await, 4);
        // A stream asked without a wait is a plain answer; a bad flag is refused with its name.
        let http = reqwest::Client::new();
        let plain = http
            .get(format!("{}/v1/phases?watch=1", p.url))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.headers()["content-type"], "application/json");
        let bad = http
            .get(format!("{}/v1/phases?wait=1&watch=yes", p.url))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = bad.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("\"watch\" = \"yes\""), "{message}");
        watching.shutdown();
        polling.shutdown();
    });
}
