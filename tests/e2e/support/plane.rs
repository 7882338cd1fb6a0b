//! A control plane server for one test: its own state dir, a free loopback port, short windows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::ClientRuntime;

use rocketmq_migration::control::wire::MoveResult;
use rocketmq_migration::control::{ControlApi, ControlClient, Refusal};
use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
use rocketmq_migration::{ClusterConfig, ErrorKind, MigrationError, Phase};

pub const ADMIN_TOKEN: &str = "e2e-admin-token";

pub struct Plane {
    pub server: Option<ControlServer>,
    pub config: ServerConfig,
    pub url: String,
    pub admin: ControlApi,
    pub _dir: tempfile::TempDir,
    runtime: Arc<ClientRuntime>,
}

/// Start a server for the shared clusters with test-sized windows; `tweak` adjusts the config first.
pub async fn start(tweak: impl FnOnce(&mut ServerConfig)) -> Plane {
    let pair = &super::shared().pair;
    let (source, target) = (pair.source.cluster_config(), pair.target.cluster_config());
    start_on(source, target, super::client(), tweak).await
}

/// Start a server whose clusters are not there (closed loopback ports), for tests of the HTTP API alone (tokens,
/// TLS, input checks): with [`super::run_without_clusters`] they start no broker. Its readiness checks fail.
pub async fn start_alone(tweak: impl FnOnce(&mut ServerConfig)) -> Plane {
    let nowhere = |port: u16| ClusterConfig::new(format!("127.0.0.1:{port}"));
    start_on(
        nowhere(1),
        nowhere(2),
        super::client_without_clusters(),
        tweak,
    )
    .await
}

async fn start_on(
    source: ClusterConfig,
    target: ClusterConfig,
    runtime: Arc<ClientRuntime>,
    tweak: impl FnOnce(&mut ServerConfig),
) -> Plane {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(source, target, Token::new(ADMIN_TOKEN).unwrap());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.state_file = dir.path().join("state.json");
    config.audit_file = dir.path().join("audit.jsonl");
    config.client_ttl = Duration::from_secs(3);
    config.quiet_window = Duration::from_secs(1);
    config.sample_every = Duration::from_millis(250);
    config.scan_every = Duration::from_millis(250);
    tweak(&mut config);
    let server = ControlServer::start(config.clone(), runtime.clone())
        .await
        .expect("control plane starts");
    let addr = server.local_addr();
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{addr}");
    let admin = ControlApi::new(&url, Some(ADMIN_TOKEN.into()))
        .unwrap()
        .actor("e2e");
    // Later restarts bind the same address.
    config.listen = addr;
    Plane {
        server: Some(server),
        config,
        url,
        admin,
        _dir: dir,
        runtime,
    }
}

impl Plane {
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    /// Start again on the same address and files.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut last = None;
        for _ in 0..50 {
            match ControlServer::start(self.config.clone(), self.runtime.clone()).await {
                Ok(s) => {
                    self.server = Some(s);
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("control plane restart: {last:?}");
    }

    /// A polling client of this server with test-sized timings.
    pub async fn client(&self, app: &str) -> ControlClient {
        ControlClient::builder(&self.url)
            .application(app)
            .poll_wait(Duration::from_secs(2))
            .heartbeat_every(Duration::from_millis(300))
            .stale_after(Duration::from_secs(1))
            .backoff(Duration::from_millis(100), Duration::from_millis(500))
            .build()
            .await
            .expect("control client")
    }
}

/// The refusal behind `e`, failing the test when it is something else.
pub fn refusal(e: &MigrationError) -> &Refusal {
    assert!(
        matches!(e.kind(), ErrorKind::Refused | ErrorKind::Unauthorized),
        "expected a refusal, got {e}"
    );
    Refusal::of(e).unwrap_or_else(|| panic!("no refusal behind {e}"))
}

/// Advance `topic` from `expected`, retrying while readiness checks fail (heartbeats and samples take a moment),
/// up to `limit`. Panics with the last refusal otherwise.
pub async fn advance_when_ready(
    api: &ControlApi,
    topic: &str,
    expected: Phase,
    limit: Duration,
) -> MoveResult {
    when_ready(api, topic, expected, limit, false).await
}

/// Like [`advance_when_ready`], one step back.
pub async fn rollback_when_ready(
    api: &ControlApi,
    topic: &str,
    expected: Phase,
    limit: Duration,
) -> MoveResult {
    when_ready(api, topic, expected, limit, true).await
}

async fn when_ready(
    api: &ControlApi,
    topic: &str,
    expected: Phase,
    limit: Duration,
    back: bool,
) -> MoveResult {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let r = if back {
            api.rollback(topic, expected, false).await
        } else {
            api.advance(topic, expected, false).await
        };
        match r {
            Ok(m) => return m,
            Err(e)
                if refusal(&e).body.error == "not_ready"
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("move {topic} from {expected} (back: {back}): {e}"),
        }
    }
}
