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

    // Batches: all or nothing by default (the dead clusters fail every check), --each --force moves both.
    let out = cli(&url, Some(TOKEN), &["advance", "orders", "payments"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let table = text(&out.stdout);
    assert!(
        table.contains("refused (not_ready)")
            && table.contains("0 moved, 2 refused (AllOrNothing)"),
        "{table}"
    );
    let out = cli(
        &url,
        Some(TOKEN),
        &[
            "advance", "orders", "payments", "--each", "--force", "--output", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["moved"], 2, "{r}");
    assert_eq!(r["mode"], "each");

    // Remove: only while initial.
    let out = cli(&url, Some(TOKEN), &["register", "scratch"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&url, Some(TOKEN), &["remove", "scratch"]);
    assert!(out.status.success() && text(&out.stdout).contains("scratch: removed"));
    let out = cli(&url, Some(TOKEN), &["remove", "orders"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "orders left initial: {}",
        text(&out.stderr)
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

#[test]
fn export_import_compare_and_backlog_on_embedded_clusters() {
    use rocketmq_client_rust::DefaultMQProducer;
    use rocketmq_migration::testkit::ClusterPair;
    use rocketmq_model::common::message::message_single::Message;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let runtime = MigrationRuntime::new().unwrap();
    let pair = rt.block_on(ClusterPair::start()).unwrap();
    let (src, dst) = (
        pair.source.name_server_addr().to_owned(),
        pair.target.name_server_addr().to_owned(),
    );
    rt.block_on(async {
        pair.source
            .create_topic(&runtime.client(), "cli_orders", 4)
            .await
            .unwrap();
        pair.source
            .create_group(&runtime.client(), "cli_orders_cg")
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("meta.json");
    let file_s = file.to_str().unwrap();
    let run = |args: &[&str]| cli("http://unused", None, args);

    let out = run(&[
        "compare",
        "--source-namesrv",
        &src,
        "--target-namesrv",
        &dst,
    ]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "target lacks the topic: {}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("cli_orders"));

    let out = run(&["export", "--namesrv", &src, "--file", file_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["import", "--namesrv", &dst, "--file", file_s, "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("DRY RUN"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&[
        "import",
        "--namesrv",
        &dst,
        "--file",
        file_s,
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{:?} {} {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "all_succeeded");
    assert_eq!(report["changes"], 2, "{report}");
    let out = run(&["import", "--namesrv", &dst, "--file", file_s]);
    assert!(
        text(&out.stdout).contains("nothing changed"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&[
        "compare",
        "--source-namesrv",
        &src,
        "--target-namesrv",
        &dst,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // The connection check: a live cluster passes; a closed port is named, and stops an import before it starts.
    let dead = format!("127.0.0.1:{}", free_port().unwrap());
    let out = run(&["check", "--namesrv", &src]);
    assert!(
        out.status.success() && text(&out.stdout).contains("ok: 1 master broker answered"),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["check", "--namesrv", &dead, "--output", "json"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cause"], "name_server_unreachable");
    let out = run(&["import", "--namesrv", &dead, "--file", file_s]);
    assert_eq!(out.status.code(), Some(8));
    assert!(
        text(&out.stderr).contains("connection check of the target"),
        "{}",
        text(&out.stderr)
    );

    // A two-master mqadmin file, a subset chosen from a list: the chosen application topic is created, the
    // chosen system topic is skipped, a name the file lacks fails; --only-failed prints just that one.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mqadmin-two-masters.json"
    );
    let list = dir.path().join("topics.txt");
    std::fs::write(
        &list,
        "mm_orders\n# the broker's own:\nBenchmarkTest\nno_such_topic\n",
    )
    .unwrap();
    let out = run(&[
        "import",
        "--namesrv",
        &dst,
        "--file",
        fixture,
        "--topics-from",
        list.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stdout));
    let table = text(&out.stdout);
    for want in [
        "system_item",
        "not_in_file",
        "32 -> 16",
        "1 create, 0 update, 0 unchanged, 1 skip, 1 failed",
    ] {
        assert!(table.contains(want), "{want:?} in {table}");
    }
    assert!(!table.contains("mm_fifo"), "not chosen: {table}");
    let out = run(&[
        "import",
        "--namesrv",
        &dst,
        "--file",
        fixture,
        "--topics-from",
        list.to_str().unwrap(),
        "--only-failed",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(6));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{report}");
    assert_eq!(items[0]["cause"], "not_in_file");
    assert_eq!(items[0]["source"], "no_such_topic");

    std::fs::write(
        &file,
        "{\"topicConfigTable\": {\"x\": {\"readQueueNums\": -1}}}",
    )
    .unwrap();
    let out = run(&["import", "--namesrv", &dst, "--file", file_s]);
    assert_eq!(out.status.code(), Some(2), "malformed file");
    assert!(
        text(&out.stderr).contains("readQueueNums = -1"),
        "{}",
        text(&out.stderr)
    );

    // Backlog: 5 messages no consumer of the group has read.
    rt.block_on(async {
        let mut c = rocketmq_client_rust::DefaultMQPushConsumer::builder(runtime.client())
            .consumer_group("cli_orders_cg")
            .name_server_addr(src.clone())
            .consume_from_where(rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        use rocketmq_client_rust::MQPushConsumer;
        c.subscribe("cli_orders", "*").await.unwrap();
        c.register_message_listener_concurrently(|_: &[&rocketmq_model::common::message::message_ext::MessageExt], _: &rocketmq_client_rust::ConsumeConcurrentlyContext| {
            Ok(rocketmq_client_rust::ConsumeConcurrentlyStatus::ConsumeSuccess)
        });
        c.start().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        c.shutdown().await;
        let mut p = DefaultMQProducer::builder(runtime.client())
            .producer_group("cli_pg")
            .name_server_addr(src.clone())
            .build();
        p.start().await.unwrap();
        for i in 0..5 {
            let m = Message::builder().topic("cli_orders").body(format!("m{i}").into_bytes()).build().unwrap();
            p.send(m).await.unwrap();
        }
        p.shutdown().await;
    });
    let out = run(&[
        "backlog",
        "--namesrv",
        &src,
        "--group",
        "cli_orders_cg",
        "--topic",
        "cli_orders",
    ]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("5 message(s) still due")
            && text(&out.stdout).contains("scheduled"),
        "{}",
        text(&out.stdout)
    );
    rt.block_on(async {
        let mut c = rocketmq_client_rust::DefaultMQPushConsumer::builder(runtime.client())
            .consumer_group("cli_orders_cg")
            .name_server_addr(src.clone())
            .consume_from_where(rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        use rocketmq_client_rust::MQPushConsumer;
        c.subscribe("cli_orders", "*").await.unwrap();
        c.register_message_listener_concurrently(|_: &[&rocketmq_model::common::message::message_ext::MessageExt], _: &rocketmq_client_rust::ConsumeConcurrentlyContext| {
            Ok(rocketmq_client_rust::ConsumeConcurrentlyStatus::ConsumeSuccess)
        });
        c.start().await.unwrap();
        let mut drained = false;
        for _ in 0..100 {
            let out = tokio::task::block_in_place(|| run(&["backlog", "--namesrv", &src, "--group", "cli_orders_cg"]));
            if out.status.success() {
                drained = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert!(drained, "backlog exits 0 once the consumer drained the topic");
        c.shutdown().await;
    });

    // The migration task through the CLI: create, connect, metadata through the control plane, pause, resume.
    let mut config = ServerConfig::new(
        ClusterConfig::new(src.clone()),
        ClusterConfig::new(dst.clone()),
        Token::new(TOKEN).unwrap(),
    );
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.state_file = dir.path().join("state.json");
    config.audit_file = dir.path().join("audit.jsonl");
    let server = rt
        .block_on(ControlServer::start(config, runtime.client()))
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    let _guard = rt.enter();
    let task = |args: &[&str]| cli(&url, Some(TOKEN), args);
    let out = task(&["task", "show"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "no task yet: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("no_task"),
        "{}",
        text(&out.stderr)
    );
    let out = task(&["task", "create", "cli-task", "--source-description", "IDC"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("-> connect"),
        "{}",
        text(&out.stdout)
    );
    let out = task(&["task", "show"]);
    assert!(
        out.status.success(),
        "both clusters reachable: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.trim_start().starts_with("ok") && l.contains(" source_connection ")),
        "{}",
        text(&out.stdout)
    );
    let out = task(&["task", "advance"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("-> metadata"),
        "{}",
        text(&out.stdout)
    );
    let out = task(&["task", "metadata", "--topic", "cli_orders", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("dry run"),
        "{}",
        text(&out.stdout)
    );
    let out = task(&[
        "task",
        "metadata",
        "--topic",
        "cli_orders",
        "--group",
        "cli_orders_cg",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = task(&["task", "advance", "--expected", "metadata"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = task(&["task", "pause", "--reason", "change freeze"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = task(&["status"]);
    assert!(
        text(&out.stdout).contains("PAUSED by"),
        "{}",
        text(&out.stdout)
    );
    let out = task(&["task", "resume"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = task(&["audit"]);
    for action in [
        "task_create",
        "task_advance",
        "task_metadata",
        "pause",
        "resume",
    ] {
        assert!(
            text(&out.stdout).contains(action),
            "{action}: {}",
            text(&out.stdout)
        );
    }
    let out = task(&["task", "delete"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    rt.block_on(server.shutdown());

    rt.block_on(async {
        pair.shutdown().await;
        runtime.shutdown().await;
    });
}

/// One HTTP/1.1 request over a plain socket; returns the whole response.
fn http(addr: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_needs_a_token_serves_the_api_and_never_logs_the_token() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let bin = env!("CARGO_BIN_EXE_rmq-migrate");
    let dead = || format!("127.0.0.1:{}", free_port().unwrap());
    let out = Command::new(bin)
        .args([
            "serve",
            "--source-namesrv",
            &dead(),
            "--target-namesrv",
            &dead(),
        ])
        .env_remove("RMQ_MIGRATE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("token"), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-serve-token-4711";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--source-namesrv",
            &dead(),
            "--target-namesrv",
            &dead(),
        ])
        .arg("--token-file")
        .arg(&token_file)
        .arg("--state-file")
        .arg(dir.path().join("state.json"))
        .arg("--audit-file")
        .arg(dir.path().join("audit.jsonl"))
        .env_remove("RMQ_MIGRATE_TOKEN")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(line.contains("listening on"), "{line}");

    let health = http(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"status\":\"ok\""),
        "{health}"
    );
    // The connection check of both (dead) clusters lands in /healthz shortly after start.
    let mut checked = String::new();
    for _ in 0..100 {
        checked = http(
            &addr,
            "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        if checked.matches("name_server_unreachable").count() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        checked.contains("\"source\"") && checked.matches("name_server_unreachable").count() >= 2,
        "{checked}"
    );
    let body = r#"{"topics":["served"]}"#;
    let post = |auth: &str| {
        http(
            &addr,
            &format!(
                "POST /v1/topics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    assert!(post("Authorization: Bearer wrong\r\n").starts_with("HTTP/1.1 401"));
    assert!(post(&format!("Authorization: Bearer {token}\r\n")).starts_with("HTTP/1.1 201"));
    let phases = http(
        &addr,
        "GET /v1/phases HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(phases.contains("\"served\""), "{phases}");

    child.kill().unwrap();
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    let _ = child.wait();
    assert!(logs.contains("control plane listening"), "{logs}");
    assert!(logs.contains("connection check failed"), "{logs}");
    assert!(!logs.contains(token), "the token must never be logged");
}

#[test]
fn check_and_acl_against_a_broker_with_authentication() {
    use rocketmq_migration::testkit::{EmbeddedCluster, TestAuth};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cluster = rt
        .block_on(EmbeddedCluster::start_with_auth(
            "cliauth",
            TestAuth::new("migrator", "s3cret-admin").with_authorization(),
        ))
        .unwrap();
    let ns = cluster.name_server_addr().to_owned();
    let run = |args: &[&str], secret: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rmq-migrate"));
        c.args(args).env_remove("RMQ_MIGRATE_SECRET_KEY");
        if let Some(s) = secret {
            c.env("RMQ_MIGRATE_SECRET_KEY", s);
        }
        c.output().expect("run rmq-migrate")
    };
    let as_admin = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--access-key", "migrator"]);
        run(&all, Some("s3cret-admin"))
    };

    let out = run(&["check", "--namesrv", &ns], None);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("authentication_failed"),
        "{}",
        text(&out.stdout)
    );
    let out = as_admin(&["check", "--namesrv", &ns]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let dir = tempfile::tempdir().unwrap();
    let yml = dir.path().join("plain_acl.yml");
    std::fs::write(
        &yml,
        "accounts:\n  - accessKey: app\n    secretKey: app-secret-123\n    defaultTopicPerm: PUB|SUB\n  - accessKey: ops\n    secretKey: ops-secret-456\n    admin: true\n",
    )
    .unwrap();
    let yml_s = yml.to_str().unwrap();
    let out = as_admin(&[
        "acl",
        "import",
        "--namesrv",
        &ns,
        "--file",
        yml_s,
        "--dry-run",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("DRY RUN (nothing changed) — 2 create"),
        "{}",
        text(&out.stdout)
    );
    let out = as_admin(&["acl", "import", "--namesrv", &ns, "--file", yml_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        !text(&out.stdout).contains("app-secret-123"),
        "secrets are never printed"
    );
    let out = as_admin(&["acl", "import", "--namesrv", &ns, "--file", yml_s]);
    assert!(
        text(&out.stdout).contains("0 create, 0 update, 2 unchanged"),
        "{}",
        text(&out.stdout)
    );

    // Export: masked on standard output, whole (and private) in a file.
    let out = as_admin(&["acl", "export", "--namesrv", &ns]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("\"accessKey\": \"app\"") && shown.contains("******"),
        "{shown}"
    );
    assert!(!shown.contains("app-secret-123"), "{shown}");
    let saved = dir.path().join("accounts.json");
    let out = as_admin(&[
        "acl",
        "export",
        "--namesrv",
        &ns,
        "--file",
        saved.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&saved)
        .unwrap()
        .contains("app-secret-123"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The app account is a working credential now: authenticated, but not allowed the cluster's runtime stats.
    let out = run(
        &["check", "--namesrv", &ns, "--access-key", "app"],
        Some("app-secret-123"),
    );
    assert_eq!(out.status.code(), Some(12), "{}", text(&out.stdout));
    rt.block_on(cluster.shutdown());
}
