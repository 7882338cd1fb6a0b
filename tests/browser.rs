//! The web console in a real headless Chromium, against a live control plane on embedded clusters.
//!
//! The test starts two embedded clusters, a control plane (`ControlServer`, monitoring every second), a shim
//! producer and consumer on one topic, and drives the console served at `/` through the DevTools protocol
//! (`chromiumoxide`): the topic list and phases load, an advance clicked in the page (with the admin token typed
//! into the page's dialog) changes the phase on the server, a refused move shows its failing checks, and the
//! monitoring charts have points. Screenshots of every view go to `target/console-screenshots/`; with
//! `RMQ_CONSOLE_DOCS=1` two of them are copied to `docs/` for the README.
//!
//! Chromium is found as `$CHROMIUM`, or `chromium` / `chromium-browser` / `google-chrome` on the `PATH`; without
//! one the test prints why and passes (`.ci/run` installs Debian's `chromium`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use futures::StreamExt;
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, MQPushConsumer,
};
use rocketmq_migration::control::wire::CreateTask;
use rocketmq_migration::control::{ControlApi, ControlClient};
use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
use rocketmq_migration::testkit::ClusterPair;
use rocketmq_migration::{MigratingProducer, MigratingPushConsumer, MigrationRuntime, Phase};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use serde::de::DeserializeOwned;

const TOKEN: &str = "console-admin-token";
/// Exists on both clusters, with a shim producer and consumer: its first move is allowed.
const MOVED: &str = "console_orders";
/// Registered, but missing on the target: its first move is refused with `target_topic_exists`.
const BLOCKED: &str = "console_blocked";

/// The Chromium binary to drive, if this machine has one.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Where the screenshots go: `<target dir>/console-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Evaluate `js` in the page and decode its value.
async fn eval<T: DeserializeOwned>(page: &Page, js: &str) -> T {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("evaluate {js}: {e}"))
        .into_value()
        .unwrap_or_else(|e| panic!("value of {js}: {e}"))
}

/// Wait until `js` evaluates to `true` in the page, up to `limit`; panics with `what` and the page's notice.
async fn until(page: &Page, js: &str, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        if page
            .evaluate(js)
            .await
            .ok()
            .and_then(|v| v.into_value::<bool>().ok())
            == Some(true)
        {
            return;
        }
        if Instant::now() > deadline {
            let notice: String = eval(page, "document.getElementById('notice').innerText").await;
            let status: String = eval(page, "document.getElementById('status').innerText").await;
            let errors: String = eval(page, "JSON.stringify(window.__errors || [])").await;
            let view: String = eval(
                page,
                "document.getElementById('view').innerText.slice(0, 2000)",
            )
            .await;
            panic!(
                "{what}: not within {limit:?} (notice: {notice:?}, status: {status:?}, page errors: {errors}, \
                 view: {view:?})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Click the element `selector` with the mouse, finding it again when a live update replaced it meanwhile.
async fn click(page: &Page, selector: &str) {
    let mut last = None;
    for _ in 0..20 {
        match page.find_element(selector).await {
            Ok(e) => match e.click().await {
                Ok(_) => return,
                Err(err) => last = Some(err.to_string()),
            },
            Err(err) => last = Some(err.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("click {selector}: {last:?}");
}

async fn shot(page: &Page, dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(format!("{name}.png"));
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &file)
        .await
        .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    file
}

async fn show_view(page: &Page, view: &str, ready_js: &str) {
    page.evaluate(format!("location.hash = '#{view}'"))
        .await
        .expect("navigate");
    until(
        page,
        &format!(
            "document.querySelector('#nav a.active')?.dataset.view === '{view}' && ({ready_js})"
        ),
        Duration::from_secs(20),
        &format!("view {view} shows"),
    )
    .await;
}

#[test]
fn console_in_headless_chromium_drives_a_live_control_plane() {
    let Some(chrome) = chromium() else {
        println!(
            "SKIPPED console_in_headless_chromium_drives_a_live_control_plane: no Chromium found (set CHROMIUM, or \
             install Debian's `chromium`; .ci/run does)"
        );
        return;
    };
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(chrome));
    println!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}

async fn run(chrome: PathBuf) {
    let runtime = MigrationRuntime::new().unwrap();
    let rt = runtime.client();
    let pair = ClusterPair::start().await.unwrap();
    pair.create_topic(&rt, MOVED, 4).await.unwrap();
    pair.source.create_topic(&rt, BLOCKED, 4).await.unwrap();
    let group = format!("{MOVED}_cg");
    pair.target.create_group(&rt, &group).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(
        pair.source.cluster_config(),
        pair.target.cluster_config(),
        Token::new(TOKEN).unwrap(),
    );
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.state_file = dir.path().join("state.json");
    config.audit_file = dir.path().join("audit.jsonl");
    config.client_ttl = Duration::from_secs(5);
    config.quiet_window = Duration::from_secs(1);
    config.sample_every = Duration::from_millis(250);
    config.scan_every = Duration::from_secs(1);
    config.monitor_every = Duration::from_secs(1);
    let server = ControlServer::start(config, rt.clone()).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let api = ControlApi::new(&url, Some(TOKEN.into()))
        .unwrap()
        .actor("browser-test");
    let mut topics = vec![MOVED.to_owned(), BLOCKED.to_owned()];
    topics.extend((1..=60).map(|i| format!("topic_{i:03}")));
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    api.register(&names, Some(0.3)).await.unwrap();

    // A shim producer and consumer on MOVED, so the monitor, the clients and the groups have something to show.
    let control = ControlClient::builder(&url)
        .application("console-app")
        .poll_wait(Duration::from_secs(2))
        .heartbeat_every(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let mut producer = MigratingProducer::builder(rt.clone())
        .producer_group(format!("{MOVED}_pg"))
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .control(&control)
        .build()
        .unwrap();
    producer.start().await.unwrap();
    let mut consumer = MigratingPushConsumer::builder(rt.clone())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .control(&control)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build()
        .unwrap();
    consumer.subscribe(MOVED, "*").await.unwrap();
    consumer.register_message_listener_concurrently(
        |_: &[&MessageExt],
         _: &ConsumeConcurrentlyContext|
         -> ClientResult<ConsumeConcurrentlyStatus> {
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        },
    );
    consumer.start().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (p, stop) = (producer.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                let msg = Message::builder()
                    .topic(MOVED)
                    .body(format!("console {i}").into_bytes())
                    .build()
                    .unwrap();
                let _ = p.send(msg).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // The browser: headless, its own profile, a desktop-sized viewport.
    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(&chrome)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1440, 1000)
        .viewport(Viewport {
            width: 1440,
            height: 1000,
            ..Default::default()
        })
        .arg("--disable-dev-shm-usage")
        .arg("--disable-gpu")
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.expect("launch Chromium");
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let shots = screenshot_dir();
    let mut files: HashMap<&str, PathBuf> = HashMap::new();

    let page = browser.new_page("about:blank").await.expect("a page");
    // Collect the page's script errors, to show them when a step fails.
    page.evaluate_on_new_document(
        "window.__errors = []; \
         addEventListener('error', e => window.__errors.push(String(e.message))); \
         addEventListener('unhandledrejection', e => window.__errors.push(String(e.reason)));",
    )
    .await
    .expect("error hook");
    page.goto(format!("{url}/#topics"))
        .await
        .expect("open the console");

    // 1. The console loads (no token: reads are open) and shows the topics with their phases.
    until(
        &page,
        &format!(
            "!!document.querySelector('tr[data-topic=\"{MOVED}\"] .phase-initial') && \
             !!document.querySelector('tr[data-topic=\"{BLOCKED}\"] .phase-initial')"
        ),
        Duration::from_secs(30),
        "topics with phases",
    )
    .await;
    let info: String = eval(&page, "document.getElementById('page-info').innerText").await;
    assert!(info.contains("62 of 62 topics"), "{info}");
    assert!(info.contains("page 1 / 2"), "50 a page: {info}");
    let csp: bool = eval(
        &page,
        "fetch('/').then(r => (r.headers.get('content-security-policy') || '').includes(\"default-src 'self'\"))",
    )
    .await;
    assert!(csp, "the page is served with a CSP allowing 'self' only");

    // 2. An advance done in the page, with the admin token typed into the page, changes the phase on the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = api.health_check(MOVED).await.unwrap();
        if !v.advance.is_empty() && v.advance.iter().all(|c| c.passed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{MOVED} never became ready: {:?}",
            v.advance
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    until(
        &page,
        &format!("!!document.querySelector('tr[data-topic=\"{MOVED}\"] .readiness .ready')"),
        Duration::from_secs(20),
        "the page shows the topic ready",
    )
    .await;
    click(
        &page,
        &format!("button[data-act=\"advance\"][data-topic=\"{MOVED}\"]"),
    )
    .await;
    until(
        &page,
        "document.getElementById('token-dialog').open",
        Duration::from_secs(5),
        "the token dialog opens",
    )
    .await;
    page.find_element("#token-input")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(TOKEN)
        .await
        .unwrap();
    click(&page, "#token-ok").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let phases = api.phases().await.unwrap();
        if phases.topics[MOVED].phase == Phase::DualRead {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page's advance did not reach the server: {:?}",
            phases.topics[MOVED]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until(
        &page,
        &format!("!!document.querySelector('tr[data-topic=\"{MOVED}\"] .phase-dual_read')"),
        Duration::from_secs(15),
        "the page shows the new phase",
    )
    .await;
    let kept: bool = eval(
        &page,
        "sessionStorage.getItem('rmq-migrate.admin-token') !== null && localStorage.length === 0",
    )
    .await;
    assert!(kept, "the token is kept in session storage only");

    // 3. A refused move shows the server's refusal and its failing checks.
    click(
        &page,
        &format!("button[data-act=\"advance\"][data-topic=\"{BLOCKED}\"]"),
    )
    .await;
    until(
        &page,
        "document.getElementById('notice').classList.contains('error') && \
         document.getElementById('notice').dataset.error === 'not_ready' && \
         !!document.querySelector('#notice li.fail[data-check=\"target_topic_exists\"]')",
        Duration::from_secs(15),
        "the refusal with its failing check",
    )
    .await;
    assert_eq!(
        api.phases().await.unwrap().topics[BLOCKED].phase,
        Phase::Initial
    );
    // Filter down to the two topics for a readable picture.
    page.find_element("#filter")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("console_")
        .await
        .unwrap();
    files.insert("topics", shot(&page, &shots, "topics").await);

    // 4. The monitoring charts have points (one a second from the sampler).
    tokio::time::sleep(Duration::from_secs(3)).await;
    show_view(
        &page,
        "monitoring",
        "Number(document.getElementById('chart-stored')?.dataset.points || 0) >= 3 && \
         Number(document.getElementById('chart-stored')?.dataset.values || 0) >= 1 && \
         document.querySelectorAll('.uplot canvas').length === 3",
    )
    .await;
    // Live: the charts take the new points a few seconds later without a reload.
    let before: u32 = eval(
        &page,
        "Number(document.getElementById('chart-stored').dataset.points)",
    )
    .await;
    until(
        &page,
        &format!(
            "Number(document.getElementById('chart-stored').dataset.points) > {before} && \
             document.querySelectorAll('.uplot canvas').length === 3"
        ),
        Duration::from_secs(20),
        "the charts update live",
    )
    .await;
    files.insert("monitoring", shot(&page, &shots, "monitoring").await);

    // 5. Every other view, for the pictures; each shows what it is about.
    show_view(
        &page,
        "clients",
        "document.getElementById('clients-table')?.innerText.includes('console-app')",
    )
    .await;
    files.insert("clients", shot(&page, &shots, "clients").await);
    show_view(
        &page,
        "groups",
        &format!("document.getElementById('groups-body')?.innerText.includes('{MOVED}_cg')"),
    )
    .await;
    files.insert("groups", shot(&page, &shots, "groups").await);
    show_view(
        &page,
        "audit",
        "document.querySelectorAll('#audit-table tr.outcome-refused').length >= 1",
    )
    .await;
    files.insert("audit", shot(&page, &shots, "audit").await);
    // A task last: with one, moves are made in step grayscale only.
    api.create_task(
        CreateTask::new("orders to cloud")
            .with_source_description("IDC")
            .with_target_description("cloud"),
    )
    .await
    .unwrap();
    show_view(
        &page,
        "task",
        "!!document.querySelector('.step-current[data-step=\"connect\"]') && !!document.querySelector('svg.arch')",
    )
    .await;
    files.insert("task", shot(&page, &shots, "task").await);

    // The README's two pictures are refreshed only when asked (a test run leaves tracked files alone).
    if std::env::var_os("RMQ_CONSOLE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["topics", "monitoring"] {
            std::fs::copy(&files[name], docs.join(format!("console-{name}.png"))).unwrap();
        }
    }
    println!("screenshots in {}", shots.display());

    browser.close().await.ok();
    browser.wait().await.ok();
    events.abort();
    stop.store(true, Ordering::Release);
    sender.await.ok();
    consumer.shutdown().await;
    producer.shutdown().await;
    control.shutdown();
    server.shutdown().await;
    runtime.shutdown().await;
    pair.shutdown().await;
}
