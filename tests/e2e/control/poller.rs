//! The SDK's polling client against a fake control endpoint whose answers the test scripts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use parking_lot::Mutex;
use rocketmq_migration::control::wire::{Heartbeat, PhasesDoc, Role, SyncStatus};
use rocketmq_migration::control::ControlClient;
use rocketmq_migration::testkit::unique_name;
use rocketmq_migration::{Cluster, ErrorKind, MigratingProducer, Phase, TopicState};

use crate::support::clients::message;
use crate::support::{client, eventually, run, run_without_clusters, shared};

#[derive(Clone, PartialEq)]
enum Mode {
    Normal,
    Down,
    Unauthorized,
    /// Every poll gets this answer (status, content type, body), whatever its headers.
    Answer(u16, &'static str, Vec<u8>),
    /// Every poll that asks for the watch stream gets these chunks as a stream, 50 ms apart.
    Stream(Vec<Vec<u8>>),
    /// Every poll that asks for the watch stream gets the stream's headers and then nothing (as through a proxy
    /// that buffers answers); other polls are answered as in `Normal`.
    Hold,
}

struct Fake {
    doc: Mutex<PhasesDoc>,
    mode: Mutex<Mode>,
    polls: AtomicUsize,
    conditional: AtomicUsize,
    /// Polls that asked for the watch stream (`watch=1`), and long-polls that did not.
    watches: AtomicUsize,
    plain_waits: AtomicUsize,
    heartbeats: Mutex<Vec<Heartbeat>>,
}

struct FakeServer {
    fake: Arc<Fake>,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

fn doc(version: u64, topics: &[(&str, Phase, f64)]) -> PhasesDoc {
    PhasesDoc::new(
        version,
        topics
            .iter()
            .map(|(t, phase, ratio)| {
                (
                    t.to_string(),
                    TopicState {
                        phase: *phase,
                        write_ratio: *ratio,
                        version,
                        ..Default::default()
                    },
                )
            })
            .collect::<BTreeMap<_, _>>(),
    )
}

async fn phases(
    State(f): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    f.polls.fetch_add(1, Ordering::SeqCst);
    let watch = q.get("watch").is_some_and(|w| w == "1");
    if watch {
        f.watches.fetch_add(1, Ordering::SeqCst);
    } else if q.contains_key("wait") {
        f.plain_waits.fetch_add(1, Ordering::SeqCst);
    }
    let mode = f.mode.lock().clone();
    let ndjson = [("content-type", "application/x-ndjson")];
    match mode {
        Mode::Stream(chunks) if watch => {
            let body = futures::stream::iter(chunks).then(|c| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, std::convert::Infallible>(c)
            });
            return (ndjson, Body::from_stream(body)).into_response();
        }
        Mode::Hold if watch => {
            let never = futures::stream::pending::<Result<Vec<u8>, std::convert::Infallible>>();
            return (ndjson, Body::from_stream(never)).into_response();
        }
        Mode::Stream(_) | Mode::Hold => {}
        Mode::Down => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::Unauthorized => return StatusCode::UNAUTHORIZED.into_response(),
        Mode::Answer(status, content_type, body) => {
            return (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", content_type)],
                body,
            )
                .into_response()
        }
        Mode::Normal => {}
    }
    let inm = headers
        .get("if-none-match")
        .map(|v| v.to_str().unwrap().to_owned());
    if inm.is_some() {
        f.conditional.fetch_add(1, Ordering::SeqCst);
    }
    let current = f.doc.lock().clone();
    if inm.as_deref() == Some(current.etag().as_str()) {
        // A short stand-in for a long-poll.
        if q.contains_key("wait") {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let now = f.doc.lock().clone();
        if now.etag() == current.etag() {
            return (StatusCode::NOT_MODIFIED, [("etag", now.etag())]).into_response();
        }
        return ([("etag", now.etag())], Json(now)).into_response();
    }
    ([("etag", current.etag())], Json(current)).into_response()
}

async fn heartbeat(State(f): State<Arc<Fake>>, Json(hb): Json<Heartbeat>) -> Response {
    f.heartbeats.lock().push(hb);
    Json(serde_json::json!({"ok": true})).into_response()
}

async fn fake(initial: PhasesDoc) -> FakeServer {
    let fake = Arc::new(Fake {
        doc: Mutex::new(initial),
        mode: Mutex::new(Mode::Normal),
        polls: AtomicUsize::new(0),
        conditional: AtomicUsize::new(0),
        watches: AtomicUsize::new(0),
        plain_waits: AtomicUsize::new(0),
        heartbeats: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/v1/phases", get(phases))
        .route("/v1/clients/heartbeat", post(heartbeat))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    FakeServer { fake, url, task }
}

fn builder(url: &str) -> rocketmq_migration::control::ControlClientBuilder {
    ControlClient::builder(url)
        .application("poller-test")
        .poll_wait(Duration::from_secs(1))
        .stale_after(Duration::from_millis(500))
        .heartbeat_every(Duration::from_millis(200))
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
}

#[test]
fn follows_changes_with_conditional_polls_and_ignores_older_tables() {
    run_without_clusters(Duration::from_secs(60), async {
        let f = fake(doc(1, &[("orders", Phase::DualRead, 0.5)])).await;
        let c = builder(&f.url).build().await.unwrap();
        assert_eq!(c.phases().snapshot().phase("orders"), Phase::DualRead);
        assert_eq!(c.version(), 1);
        assert!(
            eventually(Duration::from_secs(5), || f
                .fake
                .conditional
                .load(Ordering::SeqCst)
                >= 2)
            .await,
            "later polls carry If-None-Match"
        );
        // They ask for the watch stream; this endpoint answers as a control plane without it does (a long-poll
        // answer), and the client reads that as one.
        assert!(f.fake.watches.load(Ordering::SeqCst) >= 2);
        assert_eq!(f.fake.plain_waits.load(Ordering::SeqCst), 0);

        *f.fake.doc.lock() = doc(2, &[("orders", Phase::DualReadWrite, 0.3)]);
        assert!(
            eventually(Duration::from_secs(5), || c
                .phases()
                .snapshot()
                .phase("orders")
                == Phase::DualReadWrite)
            .await
        );
        assert_eq!(c.phases().snapshot().topic("orders").write_ratio, 0.3);

        // An older table (a control plane restored from an older state file, say) is not applied, and is not a
        // usable answer: the client backs off and turns STALE with the reason.
        *f.fake.doc.lock() = doc(1, &[("orders", Phase::DualRead, 0.5)]);
        assert!(
            eventually(Duration::from_secs(5), || c.status() == SyncStatus::Stale).await,
            "STALE after the grace"
        );
        assert_eq!(c.status_reason(), Some("older_table"));
        assert_eq!(c.phases().snapshot().phase("orders"), Phase::DualReadWrite);
        assert_eq!(c.version(), 2);
        c.shutdown();
        f.task.abort();
    });
}

#[test]
fn errors_back_off_exponentially() {
    run_without_clusters(Duration::from_secs(60), async {
        let f = fake(doc(1, &[("t", Phase::DualRead, 0.5)])).await;
        let c = builder(&f.url).build().await.unwrap();
        *f.fake.mode.lock() = Mode::Down;
        let start = f.fake.polls.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let n = f.fake.polls.load(Ordering::SeqCst) - start;
        // 100 ms doubling to a 1 s cap, each drawn from its upper half: 0.1+0.2+0.4+0.8+1+1 s > 3 s at most 7
        // attempts, at least 4. Without backoff a failing endpoint would be asked hundreds of times.
        assert!((3..=8).contains(&n), "{n} polls in 3 s of errors");
        c.shutdown();
        f.task.abort();
    });
}

#[test]
fn outage_keeps_the_last_table_turns_stale_and_resyncs() {
    run(Duration::from_secs(90), async {
        let topic = unique_name("fs");
        shared()
            .pair
            .create_topic(&client(), &topic, 2)
            .await
            .unwrap();
        let f = fake(doc(3, &[(&topic, Phase::DualRead, 0.5)])).await;
        let c = builder(&f.url).build().await.unwrap();
        // A real producer reports through this client.
        let pair = &shared().pair;
        let mut p = MigratingProducer::builder(client())
            .producer_group(unique_name("pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .control(&c)
            .build()
            .unwrap();
        p.start().await.unwrap();
        p.send(message(&topic, "one")).await.unwrap();

        *f.fake.mode.lock() = Mode::Down;
        assert!(eventually(Duration::from_secs(5), || c.status() == SyncStatus::Stale).await);
        assert_eq!(
            c.phases().snapshot().phase(&topic),
            Phase::DualRead,
            "fail-static"
        );
        p.send(message(&topic, "two"))
            .await
            .expect("sends go on while stale");
        assert_eq!(p.stats().sent_to(Cluster::Source), 2);
        assert!(
            eventually(Duration::from_secs(5), || f
                .fake
                .heartbeats
                .lock()
                .iter()
                .any(|h| h.status == SyncStatus::Stale))
            .await,
            "heartbeats report STALE"
        );

        *f.fake.doc.lock() = doc(4, &[(&topic, Phase::DualReadWrite, 1.0)]);
        *f.fake.mode.lock() = Mode::Normal;
        assert!(eventually(Duration::from_secs(10), || c.status() == SyncStatus::Fresh).await);
        assert!(
            eventually(Duration::from_secs(5), || c
                .phases()
                .snapshot()
                .phase(&topic)
                == Phase::DualReadWrite)
            .await
        );
        p.send(message(&topic, "three")).await.unwrap();
        assert_eq!(
            p.stats().sent_to(Cluster::Target),
            1,
            "ratio 1.0 sends to the target"
        );

        assert!(
            eventually(Duration::from_secs(5), || {
                f.fake.heartbeats.lock().iter().rev().any(|h| {
                    h.role == Role::Producer
                        && h.status == SyncStatus::Fresh
                        && h.topics.contains(&topic)
                        && h.applied
                            .get(&topic)
                            .is_some_and(|a| a.phase == Phase::DualReadWrite && a.version == 4)
                        && h.counters.source.sent == 2
                        && h.counters.target.sent == 1
                })
            })
            .await,
            "heartbeat carries topics, applied phase and version, and per-cluster counters"
        );
        p.shutdown().await;
        c.shutdown();
        f.task.abort();
    });
}

#[test]
fn unauthorized_fails_the_build_or_stops_polling() {
    run_without_clusters(Duration::from_secs(60), async {
        let f = fake(doc(1, &[("t", Phase::DualRead, 0.5)])).await;
        *f.fake.mode.lock() = Mode::Unauthorized;
        let e = builder(&f.url).token("nope").build().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert!(
            e.to_string().contains(&f.url) && e.to_string().contains("401"),
            "{e}"
        );

        *f.fake.mode.lock() = Mode::Normal;
        let c = builder(&f.url).build().await.unwrap();
        *f.fake.mode.lock() = Mode::Unauthorized;
        assert!(
            eventually(Duration::from_secs(5), || c.status()
                == SyncStatus::Unauthorized)
            .await
        );
        let polls = f.fake.polls.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            f.fake.polls.load(Ordering::SeqCst),
            polls,
            "polling stopped"
        );
        assert_eq!(
            c.phases().snapshot().phase("t"),
            Phase::DualRead,
            "last good table kept"
        );
        f.task.abort();
    });
}

#[test]
fn cache_file_stands_in_when_the_endpoint_is_down_at_start() {
    run_without_clusters(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("phases.json");
        let f = fake(doc(7, &[("t", Phase::CuttingOver, 0.5)])).await;
        let c = builder(&f.url).cache_file(&cache).build().await.unwrap();
        assert!(cache.exists(), "written on a good answer");
        c.shutdown();
        let url = f.url.clone();
        f.task.abort();
        let _ = f.task.await;

        let c = builder(&url).cache_file(&cache).build().await.unwrap();
        assert_eq!(c.phases().snapshot().phase("t"), Phase::CuttingOver);
        assert_eq!(c.version(), 7);
        c.shutdown();

        let e = builder(&url).build().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Control);
        assert!(
            e.to_string().contains(&url) && e.to_string().contains("no cache file"),
            "{e}"
        );
        let e = builder(&url)
            .cache_file(dir.path().join("absent.json"))
            .build()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("absent.json"), "{e}");

        let e = ControlClient::builder("localhost:7080")
            .build()
            .await
            .unwrap_err();
        assert_eq!(e.config_error().map(|c| c.field()), Some("endpoint"), "{e}");
    });
}

/// Polls in `window` while the endpoint keeps answering `mode`.
async fn polls_during(f: &FakeServer, mode: Mode, window: Duration) -> usize {
    *f.fake.mode.lock() = mode;
    let start = f.fake.polls.load(Ordering::SeqCst);
    tokio::time::sleep(window).await;
    f.fake.polls.load(Ordering::SeqCst) - start
}

#[test]
fn answers_that_are_not_a_usable_newer_table_back_off_and_say_why() {
    run_without_clusters(Duration::from_secs(90), async {
        let f = fake(doc(3, &[("t", Phase::DualRead, 0.5)])).await;
        let c = builder(&f.url).build().await.unwrap();
        assert_eq!(c.version(), 3);
        let json = "application/json";
        let table = |d: &PhasesDoc| serde_json::to_vec(d).unwrap();
        let mut invalid = doc(4, &[("t", Phase::DualReadWrite, 0.5)]);
        invalid.topics.get_mut("t").unwrap().write_ratio = 7.5;
        let cases: Vec<(Mode, &str)> = vec![
            (
                Mode::Answer(200, json, table(&doc(2, &[("t", Phase::Initial, 0.5)]))),
                "older_table",
            ),
            (Mode::Answer(200, json, table(&invalid)), "invalid_table"),
            (
                Mode::Answer(200, json, b"{not json".to_vec()),
                "unreadable_table",
            ),
            (
                Mode::Answer(200, "text/html", b"<html>login</html>".to_vec()),
                "wrong_content_type",
            ),
            (
                Mode::Answer(
                    200,
                    json,
                    vec![b' '; rocketmq_migration::control::MAX_TABLE_BYTES + 1],
                ),
                "oversized_table",
            ),
            (Mode::Answer(500, json, b"{}".to_vec()), "http_error"),
        ];
        for (mode, reason) in cases {
            // Fresh again first, so each case starts from a usable table.
            *f.fake.mode.lock() = Mode::Normal;
            assert!(eventually(Duration::from_secs(5), || c.status() == SyncStatus::Fresh).await);
            // 100 ms doubling to 1 s, drawn from the upper half: at most 8 polls in 3 s (an immediate re-poll
            // would be ~100).
            let n = polls_during(&f, mode, Duration::from_secs(3)).await;
            assert!(n <= 8, "{reason}: {n} polls in 3 s");
            assert_eq!(c.status(), SyncStatus::Stale, "{reason}");
            assert_eq!(c.status_reason(), Some(reason));
            assert_eq!(c.version(), 3, "{reason}: the applied table is kept");
            assert_eq!(
                c.phases().snapshot().phase("t"),
                Phase::DualRead,
                "{reason}"
            );
        }

        // A 200 with the version already applied (a proxy that strips If-None-Match) waits the minimum interval
        // like a 304, and the client stays fresh.
        *f.fake.mode.lock() = Mode::Normal;
        assert!(eventually(Duration::from_secs(5), || c.status() == SyncStatus::Fresh).await);
        let same = Mode::Answer(200, json, table(&doc(3, &[("t", Phase::DualRead, 0.5)])));
        let n = polls_during(&f, same, Duration::from_secs(3)).await;
        assert!(n <= 4, "{n} polls in 3 s of unchanged 200 answers");
        assert_eq!(c.status(), SyncStatus::Fresh);
        assert_eq!(c.status_reason(), None);
        c.shutdown();
        f.task.abort();
    });
}

/// One line of the watch stream: the table's JSON and a newline.
fn line(d: &PhasesDoc) -> Vec<u8> {
    let mut l = serde_json::to_vec(d).unwrap();
    l.push(b'\n');
    l
}

#[test]
fn a_watch_stream_applies_each_table_however_it_is_cut_and_an_older_one_ends_it() {
    run_without_clusters(Duration::from_secs(60), async {
        let f = fake(doc(1, &[("orders", Phase::DualRead, 0.5)])).await;
        let c = builder(&f.url).build().await.unwrap();
        let (v2, v3) = (
            line(&doc(2, &[("orders", Phase::DualReadWrite, 0.3)])),
            line(&doc(3, &[("orders", Phase::DualReadWrite, 0.9)])),
        );
        // An empty line (the client holds the current table), a table cut in two chunks, the next table sharing a
        // chunk with the end of the one before, then an older table.
        let mut joined = v2[20..].to_vec();
        joined.extend_from_slice(&v3);
        let chunks = vec![
            b"\n".to_vec(),
            v2[..20].to_vec(),
            joined,
            line(&doc(1, &[("orders", Phase::DualRead, 0.5)])),
        ];
        *f.fake.mode.lock() = Mode::Stream(chunks);
        assert!(
            eventually(Duration::from_secs(5), || c.version() == 3).await,
            "both tables applied from the stream"
        );
        assert_eq!(c.phases().snapshot().topic("orders").write_ratio, 0.9);
        // The older table is not applied and is not usable: the client backs off (100 ms doubling to 1 s) and
        // says why, as it does for a long-poll answering one.
        assert!(
            eventually(Duration::from_secs(5), || c.status_reason()
                == Some("older_table"))
            .await
        );
        let start = f.fake.polls.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let n = f.fake.polls.load(Ordering::SeqCst) - start;
        assert!((2..=8).contains(&n), "{n} streams in 3 s of older tables");
        assert_eq!(c.version(), 3);
        assert_eq!(c.phases().snapshot().topic("orders").write_ratio, 0.9);
        // An unreadable line ends it the same way.
        *f.fake.mode.lock() = Mode::Stream(vec![b"{\"version\": 4, \"topics\": 7}\n".to_vec()]);
        assert!(
            eventually(Duration::from_secs(5), || c.status_reason()
                == Some("unreadable_table"))
            .await
        );
        assert_eq!(c.version(), 3);
        c.shutdown();
        f.task.abort();
    });
}

#[test]
fn a_watch_stream_that_sends_nothing_is_given_up_for_long_polls() {
    run_without_clusters(Duration::from_secs(60), async {
        let f = fake(doc(1, &[("orders", Phase::DualRead, 0.5)])).await;
        *f.fake.mode.lock() = Mode::Hold;
        let c = builder(&f.url).build().await.unwrap();
        assert!(
            eventually(Duration::from_secs(3), || f
                .fake
                .watches
                .load(Ordering::SeqCst)
                == 1)
            .await
        );
        // Nothing arrives on the stream: after WATCH_FIRST_LINE the client long-polls without it, and keeps
        // following changes. Holding the answer open is not a failure: the client stays fresh meanwhile.
        assert!(
            eventually(
                rocketmq_migration::control::WATCH_FIRST_LINE + Duration::from_secs(3),
                || f.fake.plain_waits.load(Ordering::SeqCst) >= 1
            )
            .await,
            "falls back to long-polls"
        );
        assert_eq!(c.status(), SyncStatus::Fresh);
        assert_eq!(
            f.fake.watches.load(Ordering::SeqCst),
            1,
            "does not ask again at once"
        );
        *f.fake.doc.lock() = doc(2, &[("orders", Phase::DualReadWrite, 0.3)]);
        assert!(eventually(Duration::from_secs(5), || c.version() == 2).await);
        assert_eq!(f.fake.watches.load(Ordering::SeqCst), 1);
        c.shutdown();
        f.task.abort();
    });
}
