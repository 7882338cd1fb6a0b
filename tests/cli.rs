#![recursion_limit = "512"]
//! The `rmq-migrate` binary against a real control plane on loopback: output, JSON, exit codes.
//!
//! The server's clusters are unreachable here on purpose: registration, forced moves, ratios and the audit log need
//! no cluster, and a gated move must be refused (exit 3) with the failing check named.

use std::process::{Command, Output};
use std::time::Duration;

use rocketmq_migration::control::wire::MoveResult;
use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
use rocketmq_migration::testkit::free_port;
use rocketmq_migration::{ClusterConfig, MigrationRuntime, Phase};

const TOKEN: &str = "cli-test-token";

fn cli(url: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"));
    c.args(args)
        .env("RMQ_MIGRATE_ENDPOINT", url)
        .env_remove("RMQ_MIGRATE_TOKEN")
        .env("USER", "cli-test");
    if let Some(t) = token {
        c.env("RMQ_MIGRATE_TOKEN", t);
    }
    c.output().expect("run rmq-migrate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn operator_commands_print_tables_and_json_and_exit_with_documented_codes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = MigrationRuntime::new().unwrap();
    let dead = |_: ()| ClusterConfig::new(format!("127.0.0.1:{}", free_port().unwrap()));
    let mut config = ServerConfig::new(dead(()), dead(()), Token::new(TOKEN).unwrap());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.state_file = dir.path().join("state.json");
    config.audit_file = dir.path().join("audit.jsonl");
    let server = rt
        .block_on(ControlServer::start(config, runtime.client()))
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    // The server runs on `rt`'s worker threads while the CLI runs as a child process.
    let _guard = rt.enter();

    let out = cli(&url, Some(TOKEN), &["register", "orders", "payments"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("orders"),
        "{}",
        text(&out.stdout)
    );

    let out = cli(&url, None, &["advance", "orders"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "no token: {}",
        text(&out.stderr)
    );

    let out = cli(&url, Some(TOKEN), &["advance", "orders"]);
    assert_eq!(out.status.code(), Some(3), "gated: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("target_topic_exists"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(
        &url,
        Some(TOKEN),
        &["advance", "orders", "--force", "--output", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let moved: MoveResult = serde_json::from_slice(&out.stdout).unwrap();
    assert!(moved.forced);
    assert_eq!(moved.to, Phase::DualRead);

    let out = cli(
        &url,
        Some(TOKEN),
        &["advance", "orders", "--expected", "initial"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "stale expectation is a conflict"
    );
    assert!(
        text(&out.stderr).contains("phase_mismatch"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&url, Some(TOKEN), &["ratio", "orders", "1.5"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("write_ratio"),
        "{}",
        text(&out.stderr)
    );
    let out = cli(&url, Some(TOKEN), &["ratio", "orders", "0.2"]);
    assert!(out.status.success());

    let out = cli(&url, None, &["status", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let topics: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let orders = topics
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == "orders")
        .unwrap();
    assert_eq!(orders["state"]["phase"], "dual_read");
    assert_eq!(orders["state"]["write_ratio"], 0.2);

    let out = cli(&url, None, &["status"]);
    assert!(text(&out.stdout)
        .lines()
        .any(|l| l.starts_with("payments") && l.contains("initial")));

    let out = cli(&url, None, &["audit", "--topic", "orders"]);
    let audit = text(&out.stdout);
    assert!(
        audit.contains("FORCED") && audit.contains("refused") && audit.contains("cli-test"),
        "{audit}"
    );

    let out = cli(&url, None, &["advance"]);
    assert_eq!(out.status.code(), Some(2), "usage error");

    let out = cli(
        &format!("http://127.0.0.1:{}", free_port().unwrap()),
        None,
        &["status"],
    );
    assert_eq!(out.status.code(), Some(1), "unreachable control plane");

    rt.block_on(async {
        server.shutdown().await;
        tokio::time::timeout(Duration::from_secs(30), runtime.shutdown())
            .await
            .ok();
    });
}
