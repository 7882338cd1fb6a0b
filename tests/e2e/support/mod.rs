//! Shared fixtures: one Tokio runtime, one client runtime and one source/target cluster pair per test process.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rocketmq_client_rust::ClientRuntime;
use rocketmq_migration::testkit::ClusterPair;
use rocketmq_migration::MigrationRuntime;

pub mod listener;

pub struct Shared {
    pub rt: tokio::runtime::Runtime,
    pub pair: ClusterPair,
    pub client: MigrationRuntime,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

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
                .expect("clusters start")
        });
        let client = MigrationRuntime::new().expect("client runtime");
        Shared { rt, pair, client }
    })
}

/// The shared client runtime.
pub fn client() -> Arc<ClientRuntime> {
    shared().client.client()
}

/// Run `fut` on the shared runtime (where the shared clusters live), failing the test after `limit`.
pub fn run<F: Future<Output = ()>>(limit: Duration, fut: F) {
    let s = shared();
    s.rt.block_on(async {
        tokio::time::timeout(limit, fut)
            .await
            .unwrap_or_else(|_| panic!("test did not finish within {limit:?}"))
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
