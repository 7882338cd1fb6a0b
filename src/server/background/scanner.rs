//! Readiness scanned in the background: every topic's next-step and previous-step checks and its groups' dead
//! letters, evaluated on a schedule with bounded concurrency against the brokers and kept in the
//! [`crate::server::readiness`] cache, so `GET /v1/topics` answers from memory however many topics there are. A topic whose
//! phase or version moved since its last scan (or that was never scanned) is scanned when asked for; a move always
//! runs its own checks.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::worker;
use crate::server::app::App;
use crate::server::moves::gates::Gates;
use crate::server::readiness::Scanned;
use crate::topic_state::TopicState;

/// Topics scanned at once (each scan asks both clusters' brokers several questions).
pub(crate) const SCAN_CONCURRENCY: usize = 8;

/// Run `topic`'s checks for `state` now and cache them.
pub(crate) async fn scan(app: &App, topic: &str, state: TopicState) -> Scanned {
    let gates = Gates::of(app);
    let advance = match state.phase.next() {
        Some(to) => gates.run(topic, state.phase, to).await,
        None => Vec::new(),
    };
    let rollback = match state.phase.previous() {
        Some(to) => gates.run(topic, state.phase, to).await,
        None => Vec::new(),
    };
    let s = Scanned {
        state,
        advance,
        rollback,
        dead_letters: gates.dead_letters_both(topic).await,
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
    let table = app.state.table();
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
    app.readiness.set_last_round(took);
    tracing::debug!(
        topics = table.topics.len(),
        took_ms = took.as_millis() as u64,
        "readiness scan"
    );
}

/// Scan every `scan_every`, or sooner when woken, until `app` is dropped.
pub(crate) fn spawn(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    worker::spawn(
        app,
        |app| async move { round(&app).await },
        app.scan_every,
        Some(app.readiness.waker()),
    )
}
