//! Shared fixtures: one Tokio runtime, one client runtime and one source/target cluster pair per test process.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rocketmq_client_rust::ClientRuntime;
use rocketmq_migration::testkit::ClusterPair;
use rocketmq_migration::MigrationRuntime;

pub mod listener;
pub mod plane;
#[cfg(feature = "redis")]
pub mod redis;

pub struct Shared {
    pub rt: tokio::runtime::Runtime,
    pub pair: ClusterPair,
    pub client: MigrationRuntime,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// Store directories of the shared clusters. Statics are never dropped, so their temp dirs are removed at exit.
static SHARED_DIRS: parking_lot::Mutex<Vec<std::path::PathBuf>> =
    parking_lot::Mutex::new(Vec::new());

extern "C" fn remove_shared_dirs() {
    for dir in SHARED_DIRS.lock().drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// The process-wide fixtures, started on first use.
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        init_tracing();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .thread_name("e2e-shared")
            .build()
            .expect("test runtime");
        let pair = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(120), ClusterPair::start())
                .await
                .expect("clusters start within 120 s")
                .unwrap_or_else(|e| panic!("clusters start: {e}"))
        });
        SHARED_DIRS.lock().extend([
            pair.source.root_dir().to_owned(),
            pair.target.root_dir().to_owned(),
        ]);
        // SAFETY: registers a plain `extern "C" fn` without arguments, as atexit requires.
        unsafe { libc::atexit(remove_shared_dirs) };
        let client = MigrationRuntime::new().expect("client runtime");
        Shared { rt, pair, client }
    })
}

/// The shared client runtime.
pub fn client() -> Arc<ClientRuntime> {
    shared().client.client()
}

/// A client runtime of its own, for tests that need no cluster: unlike [`client`], it starts no broker.
pub fn client_without_clusters() -> Arc<ClientRuntime> {
    static RUNTIME: OnceLock<MigrationRuntime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| MigrationRuntime::new().expect("client runtime"))
        .client()
}

/// [`run`] for a test that needs no cluster (a fake endpoint, a control plane alone): its own runtime, so running
/// it alone (`cargo test --test e2e control::poller`) starts no broker.
pub fn run_without_clusters<F: Future<Output = ()> + Send>(limit: Duration, fut: F) {
    static LOCAL: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = LOCAL.get_or_init(|| {
        init_tracing();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("e2e-local")
            .build()
            .expect("test runtime")
    });
    rt.block_on(async {
        tokio::time::timeout(limit, Box::pin(fut))
            .await
            .unwrap_or_else(|_| panic!("test did not finish within {limit:?}"))
    })
}

/// Run `fut` on the shared runtime (where the shared clusters live), failing the test after `limit`.
///
/// The future runs on a thread of its own with a 16 MiB stack: a long test's future nests deeply in a debug
/// build, and a test thread's default stack (2 MiB) is not enough for it.
pub fn run<F: Future<Output = ()> + Send>(limit: Duration, fut: F) {
    let s = shared();
    std::thread::scope(|scope| {
        let body = std::thread::Builder::new()
            .name(std::thread::current().name().unwrap_or("e2e").to_owned())
            .stack_size(16 << 20)
            .spawn_scoped(scope, || {
                s.rt.block_on(async {
                    tokio::time::timeout(limit, Box::pin(fut))
                        .await
                        .unwrap_or_else(|_| panic!("test did not finish within {limit:?}"))
                })
            })
            .expect("spawn the test's thread");
        if let Err(panic) = body.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Poll `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Helpers that build shims and raw clients against the shared clusters.
pub mod clients {
    use rocketmq_client_rust::{DefaultMQProducer, MQPushConsumer};
    use rocketmq_migration::testkit::{unique_name, ClusterPair};
    use rocketmq_migration::{
        Cluster, LingerSettings, MigratingProducer, MigratingPushConsumer, PhaseHandle,
    };
    use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
    use rocketmq_model::common::message::message_queue::MessageQueue;
    use rocketmq_model::common::message::message_single::Message;

    use super::listener::Recorder;

    /// A hash selector: one key always picks the same queue index.
    // A selector is `Fn(&[MessageQueue], &M, &T)`; with `T = String` its argument is `&String`.
    #[allow(clippy::ptr_arg)]
    pub fn by_key(mqs: &[MessageQueue], _m: &Message, key: &String) -> Option<MessageQueue> {
        let h = key
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        mqs.get(h as usize % mqs.len()).cloned()
    }

    pub fn message(topic: &str, body: &str) -> Message {
        Message::builder()
            .topic(topic)
            .body(body.as_bytes().to_vec())
            .build()
            .expect("message")
    }

    pub async fn producer(pair: &ClusterPair, phases: &PhaseHandle) -> MigratingProducer {
        let mut p = MigratingProducer::builder(super::client())
            .producer_group(unique_name("pg"))
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .phases(phases.clone())
            .build()
            .expect("producer build");
        p.start().await.expect("producer start");
        p
    }

    pub async fn consumer(
        pair: &ClusterPair,
        phases: &PhaseHandle,
        group: &str,
        topic: &str,
        rec: &Recorder,
        dedupe: Option<std::sync::Arc<dyn rocketmq_migration::dedupe::Deduplicator>>,
    ) -> MigratingPushConsumer {
        consumer_lingering(
            pair,
            phases,
            group,
            topic,
            rec,
            dedupe,
            LingerSettings::default(),
        )
        .await
    }

    /// [`consumer`] with its linger after a cluster leaves the read set set to `linger`.
    pub async fn consumer_lingering(
        pair: &ClusterPair,
        phases: &PhaseHandle,
        group: &str,
        topic: &str,
        rec: &Recorder,
        dedupe: Option<std::sync::Arc<dyn rocketmq_migration::dedupe::Deduplicator>>,
        linger: LingerSettings,
    ) -> MigratingPushConsumer {
        let mut b = MigratingPushConsumer::builder(super::client())
            .consumer_group(group)
            .source(pair.source.cluster_config())
            .target(pair.target.cluster_config())
            .phases(phases.clone())
            .linger(linger)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset);
        if let Some(d) = dedupe {
            b = b.deduplicator(d);
        }
        let mut c = b.build().expect("consumer build");
        c.subscribe(topic, "*").await.expect("subscribe");
        c.register_message_listener_concurrently(rec.listener());
        c.start().await.expect("consumer start");
        c
    }

    /// Send one message straight to one cluster, bypassing the shim; returns its UNIQ_KEY.
    pub async fn raw_send(pair: &ClusterPair, side: Cluster, topic: &str, body: &str) -> String {
        let mut p = DefaultMQProducer::builder(super::client())
            .producer_group(unique_name("raw_pg"))
            .name_server_addr(pair.cluster(side).name_server_addr().to_owned())
            .build();
        p.start().await.expect("raw producer start");
        let r = p
            .send_with_timeout(message(topic, body), 5000)
            .await
            .expect("raw send")
            .expect("result");
        p.shutdown().await;
        r.msg_id.expect("msg id").to_string()
    }

    /// Which cluster a broker name belongs to.
    pub fn cluster_of(pair: &ClusterPair, broker: &str) -> Cluster {
        if broker == pair.source.broker_name() {
            Cluster::Source
        } else if broker == pair.target.broker_name() {
            Cluster::Target
        } else {
            panic!("unknown broker {broker}")
        }
    }
}
