//! Readiness scanned in the background: every topic's next-step and previous-step checks and its groups' dead
//! letters, evaluated on a schedule with bounded concurrency against the brokers and kept with their time, so
//! `GET /v1/topics` answers from memory however many topics there are. A topic whose phase or version moved since
//! its last scan (or that was never scanned) is scanned when asked for; a move always runs its own checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use super::app::App;
use super::gates;
use crate::control::wire::{CheckResult, GroupDeadLetters};
use crate::route::TopicState;

/// Topics scanned at once (each scan asks both clusters' brokers several questions).
pub(crate) const SCAN_CONCURRENCY: usize = 8;

/// One topic's checks as of one scan.
#[derive(Clone, Debug)]
pub(crate) struct Scanned {
    /// The state the checks were run for.
    pub(crate) state: TopicState,
    /// Checks for the next step forward.
    pub(crate) advance: Vec<CheckResult>,
    /// Checks for one step back.
    pub(crate) rollback: Vec<CheckResult>,
    /// Dead letters of the topic's groups per cluster.
    pub(crate) dead_letters: Vec<GroupDeadLetters>,
    /// When the scan finished.
    pub(crate) at: SystemTime,
}

/// The cache of scans, and what wakes the scanner early.
#[derive(Default)]
pub(crate) struct Readiness {
    scans: RwLock<HashMap<String, Scanned>>,
    wake: Notify,
    /// Duration of the last full scan, milliseconds (0 before the first).
    last_round_ms: std::sync::atomic::AtomicU64,
}

impl Readiness {
    /// The cached scan of `topic` if it was made for `state`.
    pub(crate) fn get(&self, topic: &str, state: &TopicState) -> Option<Scanned> {
        self.scans
            .read()
            .get(topic)
            .filter(|s| s.state.phase == state.phase && s.state.version == state.version)
            .cloned()
    }

    fn put(&self, topic: &str, s: Scanned) {
        self.scans.write().insert(topic.to_owned(), s);
    }

    /// Forget topics no longer in the table.
    fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.scans.write().retain(|t, _| keep(t));
    }

    /// Scan again soon (a topic was registered, or an operator asked).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// How long the last full scan took.
    pub(crate) fn last_round(&self) -> Duration {
        Duration::from_millis(
            self.last_round_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

/// Run `topic`'s checks for `state` now and cache them.
pub(crate) async fn scan(app: &App, topic: &str, state: TopicState) -> Scanned {
    let advance = match state.phase.next() {
        Some(to) => gates::run(app, topic, state.phase, to).await,
        None => Vec::new(),
    };
    let rollback = match state.phase.previous() {
        Some(to) => gates::run(app, topic, state.phase, to).await,
        None => Vec::new(),
    };
    let s = Scanned {
        state,
        advance,
        rollback,
        dead_letters: gates::dead_letters_both(app, topic).await,
        at: SystemTime::now(),
    };
    app.readiness.put(topic, s.clone());
    s
}

/// The cached scan of `topic` in `state`, or a scan made now when there is none for that state.
pub(crate) async fn current(app: &App, topic: &str, state: TopicState) -> Scanned {
    match app.readiness.get(topic, &state) {
        Some(s) => s,
        None => scan(app, topic, state).await,
    }
}

/// Scan every topic of the table, `SCAN_CONCURRENCY` at a time.
async fn round(app: &Arc<App>) {
    let table = app.table();
    app.readiness.retain(|t| table.topics.contains_key(t));
    let started = std::time::Instant::now();
    let limit = Arc::new(Semaphore::new(SCAN_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (topic, state) in table.topics.iter() {
        let (app, topic, state, limit) = (app.clone(), topic.clone(), *state, limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            scan(&app, &topic, state).await;
        });
    }
    while tasks.join_next().await.is_some() {}
    let took = started.elapsed();
    app.readiness.last_round_ms.store(
        took.as_millis() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    tracing::debug!(
        topics = table.topics.len(),
        took_ms = took.as_millis() as u64,
        "readiness scan"
    );
}

/// Scan every `every`, or sooner when woken, until `app` is dropped.
pub(crate) fn spawn(app: &Arc<App>, every: Duration) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    let readiness = app.readiness.clone();
    tokio::spawn(async move {
        loop {
            let Some(app) = weak.upgrade() else { return };
            round(&app).await;
            drop(app);
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = readiness.wake.notified() => {}
            }
        }
    })
}
