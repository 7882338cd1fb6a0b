//! [`ControlClient`]: keeps a [`PhaseHandle`] in line with the control plane and reports what this process applied.
//!
//! * Watches `GET /v1/phases?wait=&watch=1` with `If-None-Match`: the control plane keeps the answer open for the
//!   wait and writes each new table to it as one JSON line, so a change arrives as soon as it is made, costs one
//!   read (no new request), and an unchanged table costs one request per poll period. A control plane without the
//!   stream answers it as the long-poll it also is (one table, or 304), and the client reads that answer as such;
//!   when no first line arrives within [`WATCH_FIRST_LINE`] (a proxy that buffers answers) the client long-polls
//!   instead for [`WATCH_RETRY_AFTER`]. [`ControlClientBuilder::watch`] turns the stream off.
//!   Each long-poll asks for a wait drawn from the upper fifth below `poll_wait`, so a fleet that a change (or a
//!   restart) woke in the same instant does not come back in lockstep every period.
//! * Fail-static: on errors it keeps the last good table (it never invents a phase) and retries with exponential
//!   backoff and jitter (a fleet's reconnects after a control plane restart spread over the backoff step). After
//!   `stale_after` without contact its status turns [`SyncStatus::Stale`]: logged at WARN, reported in every
//!   heartbeat (so `GET /v1/clients` and the server's `rmq_migration_client_stale` metric show it), and readable
//!   with [`ControlClient::status`]. A long-poll the server holds open is contact until it breaks: the grace counts
//!   from the first failed poll (from when that poll was sent if it timed out, as a hung server answers nothing),
//!   not from the last answer, which a 30 s long-poll puts up to 30 s back.
//! * 401/403 stop polling with an ERROR naming the endpoint ([`SyncStatus::Unauthorized`]).
//! * Tables older than the applied one are ignored; a topic that skips a phase is logged at ERROR and applied (the
//!   control plane is the authority, and its audit log says why).
//! * An optional cache file is written on every good table and read at start when the endpoint is down; with
//!   neither, [`ControlClientBuilder::build`] fails.
//! * Every `heartbeat_every`, each producer and consumer built with [`crate::MigratingProducerBuilder::control`] or
//!   [`crate::MigratingPushConsumerBuilder::control`] posts a heartbeat: applied phase and version per topic and
//!   per-cluster counters.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use tokio::task::JoinHandle;

use super::file::{read_json, replace_json};
use super::report::{ClientKind, Reporter};
use super::wire::{
    ClientTable, Heartbeat, HeartbeatAnswer, Namespaces, PhasesDoc, SyncStatus, WATCH_CONTENT_TYPE,
};
use crate::error::{ConfigError, ConfigErrorKind, ErrorKind, MigrationError};
use crate::route::PhaseHandle;
use crate::setters::setters;

/// Builder of a [`ControlClient`].
#[derive(Debug)]
pub struct ControlClientBuilder {
    endpoint: String,
    token: Option<String>,
    application: String,
    cache_file: Option<PathBuf>,
    phases: Option<PhaseHandle>,
    pins: Option<crate::Pins>,
    poll_wait: Duration,
    stale_after: Duration,
    heartbeat_every: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    ca_pem: Option<Vec<u8>>,
    watch: bool,
}

impl ControlClientBuilder {
    setters! {
        /// Bearer token for reads and heartbeats (the server's client token, when it has one).
        token(token: impl Into<String>) = Some(token.into());
        /// Application name, part of every client id and heartbeat (default `app`).
        application(application: impl Into<String>) = application.into();
        /// Write every good table to this file and start from it when the endpoint is down at start.
        cache_file(cache_file: impl Into<PathBuf>) = Some(cache_file.into());
        /// Keep this handle in line (default: a new one; get it with [`ControlClient::phases`]).
        phases(phases: PhaseHandle) = Some(phases);
        /// Pin topics of this instance to phases, ignoring the control plane for them (batch releases). The pins are
        /// reported in heartbeats. Ignored when [`ControlClientBuilder::phases`] supplies a handle (pin that one with
        /// [`PhaseHandle::with_pins`]).
        pins(pins: crate::Pins) = Some(pins);
        /// How long one long-poll waits for a change (default 30 s, at most 60 s); each poll asks for a wait drawn
        /// between 80 % and 100 % of it, so clients woken together drift apart. Polls that come back unchanged are
        /// at least [`MIN_POLL_INTERVAL`] apart, so a short or zero wait (or a server that does not long-poll) never
        /// makes a client hammer the endpoint.
        poll_wait(poll_wait: Duration) = poll_wait.min(Duration::from_secs(60));
        /// Without contact for this long the status turns STALE (default 30 s): counted from the first poll that gave
        /// no usable table (from when it was sent, if it timed out); a long-poll held open by the server is contact.
        stale_after(stale_after: Duration) = stale_after;
        /// Heartbeat period (default 5 s; keep it well under the server's client TTL).
        heartbeat_every(heartbeat_every: Duration) = heartbeat_every;
        /// Whether to ask for the watch stream (default `true`): each new table arrives on the open answer of a poll,
        /// without a new request. `false` long-polls only (one answer per poll), e.g. behind a proxy known to buffer
        /// answers; a client also falls back to long-polls by itself when the stream's first line does not arrive.
        watch(watch: bool) = watch;
    }

    /// Retry delays after errors: from `min`, doubling, capped at `max`, each with jitter (default 250 ms..30 s).
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Trust this PEM CA certificate for an `https://` endpoint (besides the system roots).
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Fetch the table once (or read the cache file when the endpoint is down), then poll and send heartbeats in
    /// the background on the current tokio runtime.
    ///
    /// Fails with [`ErrorKind::Config`] for a malformed endpoint, [`ErrorKind::Unauthorized`] when the token is
    /// refused, and [`ErrorKind::Control`] when the endpoint is down and there is no cache file to start from.
    pub async fn build(self) -> Result<ControlClient, MigrationError> {
        let base = self.endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "endpoint",
                &self.endpoint,
                "must be an http:// or https:// URL of the control plane, e.g. http://10.0.0.5:7080",
            )
            .into());
        }
        if self.application.trim().is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "application",
                &self.application,
                "must not be empty",
            )
            .into());
        }
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90));
        if let Some(pem) = &self.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                MigrationError::from(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "ca_certificate_pem",
                    "<pem>",
                    "not a PEM certificate",
                ))
                .with_source(e)
            })?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| {
            MigrationError::new(ErrorKind::Control, None, "build HTTP client").with_source(e)
        })?;
        let inner = Arc::new(Inner {
            base,
            token: self.token,
            application: self.application,
            cache_file: self.cache_file,
            phases: self
                .phases
                .unwrap_or_else(|| PhaseHandle::with_pins(self.pins.unwrap_or_default())),
            http,
            poll_wait: self.poll_wait,
            stale_after: self.stale_after,
            heartbeat_every: self.heartbeat_every,
            backoff: (self.backoff_min, self.backoff_max),
            watch: self.watch,
            state: Mutex::new(SyncState::default()),
            status: StatusCell::new(SyncStatus::Fresh),
            reporters: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            tasks: Mutex::new(Vec::new()),
        });
        let built = Instant::now();
        let first = match inner.fetch(Duration::ZERO).await {
            Ok(Fetched::Table(doc, etag)) => inner.accept(doc, etag),
            other => other,
        };
        match first {
            Ok(_) => inner.good(),
            Err(Failure::Unauthorized(code)) => {
                return Err(MigrationError::new(
                    ErrorKind::Unauthorized,
                    None,
                    format!(
                        "control plane {} refused the token (HTTP {code}); set the client token the server expects",
                        inner.base
                    ),
                ))
            }
            Err(Failure::Unusable { reason, detail, .. }) => {
                let why = format!("{reason}: {detail}");
                let cached = match &inner.cache_file {
                    Some(p) => read_json::<PhasesDoc>(p)?,
                    None => None,
                };
                let Some(doc) = cached else {
                    return Err(MigrationError::new(
                        ErrorKind::Control,
                        None,
                        format!(
                            "control plane {} is unreachable ({why}) and there is no cache file to start from{}",
                            inner.base,
                            inner.cache_file.as_ref().map_or(String::new(), |p| format!(" ({} does not exist)", p.display()))
                        ),
                    ));
                };
                tracing::warn!(endpoint = %inner.base, error = %why, version = doc.version,
                    cache = ?inner.cache_file, "control plane unreachable at start: starting from the cache file");
                inner.phases.apply_table(&doc.to_table())?;
                let mut st = inner.state.lock();
                st.version = doc.version;
                st.no_contact_since = Some(built);
                st.table = Some(Arc::new(doc));
            }
        }
        let poller = tokio::spawn(poll_loop(Arc::downgrade(&inner)));
        let beats = tokio::spawn(heartbeat_loop(Arc::downgrade(&inner)));
        inner.tasks.lock().extend([poller, beats]);
        Ok(ControlClient { inner })
    }
}

/// Keeps a [`PhaseHandle`] in line with the control plane and sends this process's heartbeats. Clones share one
/// poller; the background tasks end when the last clone is dropped or [`ControlClient::shutdown`] is called.
///
/// ```no_run
/// # #![recursion_limit = "512"]
/// # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), Box<dyn std::error::Error>> {
/// use rocketmq_migration::control::ControlClient;
/// use rocketmq_migration::{ClusterConfig, MigratingProducer};
///
/// let control = ControlClient::builder("http://10.0.0.5:7080")
///     .application("orders-service")
///     .cache_file("/var/lib/orders/phases.json")
///     .build()
///     .await?;
/// let mut producer = MigratingProducer::builder(rt)
///     .producer_group("orders_pg")
///     .source(ClusterConfig::new("10.0.0.1:9876"))
///     .target(ClusterConfig::new("10.1.0.1:9876"))
///     .control(&control)
///     .build()?;
/// producer.start().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ControlClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ControlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlClient")
            .field("endpoint", &self.inner.base)
            .field("status", &self.status())
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

/// What the poller knows of its contact with the control plane. Its [`SyncStatus`] is kept apart, in
/// [`Inner::status`], to be read without this lock; it is written only while this lock is held.
#[derive(Default)]
struct SyncState {
    etag: Option<String>,
    version: u64,
    /// Since when the client has had no contact: `None` while polls answer usable tables (a long-poll held open
    /// counts); set by the first failed poll after one ([`SyncState::no_contact`]).
    no_contact_since: Option<Instant>,
    /// Why the last poll gave no usable table (`None` after a usable answer).
    problem: Option<&'static str>,
    /// The problem last logged at WARN, and when: a reminder at most every [`LOG_REMINDER`].
    logged: Option<(&'static str, Instant)>,
    /// The table last applied (from the control plane or the cache file), sent when a heartbeat's answer asks
    /// for it (the control plane diverged).
    table: Option<Arc<PhasesDoc>>,
    /// The version of the table last sent that way (sent once per version).
    table_sent: Option<u64>,
    /// Long-poll without the stream until then: its first line did not arrive in time (a buffering proxy).
    no_watch_until: Option<Instant>,
}

impl SyncState {
    /// A poll failed at `at` (now, or when it was sent if it timed out): how long this client has had no contact.
    /// The first failure after a usable answer starts the clock; later ones keep it.
    fn no_contact(&mut self, at: Instant) -> Duration {
        self.no_contact_since.get_or_insert(at).elapsed()
    }
}

/// Largest phase table a client reads (a larger answer is refused as `oversized_table`).
pub const MAX_TABLE_BYTES: usize = 16 << 20;
/// How often a persisting poll problem is logged again at WARN (once when it starts; then at most this often).
const LOG_REMINDER: Duration = Duration::from_secs(60);
/// The watch stream's first line (the control plane writes it at once) must arrive within this; else a proxy
/// buffers the stream, and the client long-polls instead.
pub const WATCH_FIRST_LINE: Duration = Duration::from_secs(5);
/// How long a client whose stream was buffered long-polls before it asks for the stream again.
pub const WATCH_RETRY_AFTER: Duration = Duration::from_secs(600);

struct Inner {
    base: String,
    token: Option<String>,
    application: String,
    cache_file: Option<PathBuf>,
    phases: PhaseHandle,
    http: reqwest::Client,
    poll_wait: Duration,
    stale_after: Duration,
    heartbeat_every: Duration,
    backoff: (Duration, Duration),
    watch: bool,
    state: Mutex<SyncState>,
    /// The one record of this client's status (written only while `state` is locked).
    status: StatusCell,
    reporters: Mutex<Vec<Registered>>,
    next_id: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A [`SyncStatus`] readable without a lock (by [`ControlClient::status`] and the heartbeats).
struct StatusCell(AtomicU8);

impl StatusCell {
    fn new(status: SyncStatus) -> Self {
        StatusCell(AtomicU8::new(status as u8))
    }

    fn get(&self) -> SyncStatus {
        SyncStatus::from_u8(self.0.load(Ordering::Acquire))
            .expect("a StatusCell holds only what set() stored")
    }

    fn set(&self, status: SyncStatus) {
        self.0.store(status as u8, Ordering::Release);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in self.tasks.get_mut().drain(..) {
            t.abort();
        }
    }
}

enum Fetched {
    Table(PhasesDoc, Option<String>),
    Unchanged,
    /// A watch stream ran to its end; the tables on it were applied as they came.
    Streamed,
}

enum Failure {
    Unauthorized(u16),
    /// No usable answer: `reason` is a code (`unreachable`, `http_error`, `older_table`, `invalid_table`,
    /// `unreadable_table`, `oversized_table`, `wrong_content_type`), `detail` says what happened; `timed_out`
    /// when nothing came back within the request's timeout (the server may have been gone since it was sent).
    Unusable {
        reason: &'static str,
        detail: String,
        timed_out: bool,
    },
}

fn unusable(reason: &'static str, detail: impl Into<String>) -> Failure {
    Failure::Unusable {
        reason,
        detail: detail.into(),
        timed_out: false,
    }
}

/// The request failed on the way (refused, reset, closed, timed out).
fn transport(e: &reqwest::Error) -> Failure {
    Failure::Unusable {
        reason: "unreachable",
        detail: error_chain(e),
        timed_out: e.is_timeout(),
    }
}

impl ControlClient {
    /// Start building a client of the control plane at `endpoint` (e.g. `http://10.0.0.5:7080`).
    pub fn builder(endpoint: impl Into<String>) -> ControlClientBuilder {
        ControlClientBuilder {
            endpoint: endpoint.into(),
            token: None,
            application: "app".into(),
            cache_file: None,
            phases: None,
            pins: None,
            poll_wait: Duration::from_secs(30),
            stale_after: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(5),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            ca_pem: None,
            watch: true,
        }
    }

    /// The handle this client keeps in line; give it to producers and consumers (or use their `control` setter).
    pub fn phases(&self) -> PhaseHandle {
        self.inner.phases.clone()
    }

    /// How fresh the table is.
    pub fn status(&self) -> SyncStatus {
        self.inner.status.get()
    }

    /// Why the last poll gave no usable table, as a code (`unreachable`, `http_error`, `older_table`,
    /// `invalid_table`, `unreadable_table`, `oversized_table`, `wrong_content_type`); `None` while polls answer
    /// usable tables. Heartbeats carry it (`Heartbeat::status_reason`) once the status is STALE.
    pub fn status_reason(&self) -> Option<&'static str> {
        self.inner.state.lock().problem
    }

    /// Version of the last table applied.
    pub fn version(&self) -> u64 {
        self.inner.state.lock().version
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    /// Stop polling and heartbeats. The handle keeps its last table.
    pub fn shutdown(&self) {
        for t in self.inner.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// Report `reporter` in heartbeats until it is dropped (held weakly); logs and returns its client id.
    pub(crate) fn register(
        &self,
        kind: ClientKind,
        group: &str,
        clusters: &[crate::ClusterConfig; 2],
        reporter: &Arc<dyn Reporter>,
    ) -> String {
        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!(
            "{}@{}/{}/{kind}-{group}-{n}",
            self.inner.application,
            hostname(),
            std::process::id()
        );
        self.inner.reporters.lock().push((
            id.clone(),
            Namespaces::of(clusters),
            Arc::downgrade(reporter),
        ));
        tracing::info!(client_id = %id, endpoint = %self.inner.base, "{kind} reports to the control plane");
        id
    }
}

/// A registered client: its id, its namespaces per cluster, and its reporter (held weakly).
type Registered = (String, Namespaces, Weak<dyn Reporter>);

/// This machine's host name (`localhost` when it cannot be read).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Inner {
    fn request(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.header(AUTHORIZATION, format!("Bearer {t}")),
            None => req,
        }
    }

    /// `POST` `body` as JSON to `path` of the control plane, with the token, giving up after `timeout`.
    async fn post(
        &self,
        path: &str,
        timeout: Duration,
        body: &impl serde::Serialize,
    ) -> reqwest::Result<reqwest::Response> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(timeout)
            .json(body);
        self.request(req).send().await
    }

    async fn fetch(&self, wait: Duration) -> Result<Fetched, Failure> {
        let (etag, watch) = {
            let st = self.state.lock();
            let watch = self.watch
                && !wait.is_zero()
                && st.no_watch_until.is_none_or(|t| t <= Instant::now());
            (st.etag.clone(), watch)
        };
        let url = if wait.is_zero() {
            format!("{}/v1/phases", self.base)
        } else if watch {
            format!(
                "{}/v1/phases?wait={}&watch=1",
                self.base,
                wait.as_secs_f64()
            )
        } else {
            format!("{}/v1/phases?wait={}", self.base, wait.as_secs_f64())
        };
        let mut req = self.http.get(url).timeout(wait + Duration::from_secs(10));
        if let Some(e) = &etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        let mut resp = self.request(req).send().await.map_err(|e| transport(&e))?;
        match resp.status() {
            StatusCode::NOT_MODIFIED => Ok(Fetched::Unchanged),
            StatusCode::OK => {
                let tag = resp
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(ct) = resp.headers().get(CONTENT_TYPE) {
                    let ct = ct.to_str().unwrap_or_default();
                    if watch && ct.trim_start().starts_with(WATCH_CONTENT_TYPE) {
                        return self.stream(resp).await;
                    }
                    if !ct.trim_start().starts_with("application/json") {
                        return Err(unusable(
                            "wrong_content_type",
                            format!("answer of type {ct:?}, not application/json"),
                        ));
                    }
                }
                if resp
                    .content_length()
                    .is_some_and(|n| n > MAX_TABLE_BYTES as u64)
                {
                    return Err(unusable(
                        "oversized_table",
                        format!(
                            "answer of {} bytes, more than the {MAX_TABLE_BYTES} a table may have",
                            resp.content_length().unwrap_or_default()
                        ),
                    ));
                }
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&e))? {
                    if body.len() + chunk.len() > MAX_TABLE_BYTES {
                        return Err(unusable(
                            "oversized_table",
                            format!(
                                "answer longer than the {MAX_TABLE_BYTES} bytes a table may have"
                            ),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                let doc = serde_json::from_slice::<PhasesDoc>(&body)
                    .map_err(|e| unusable("unreadable_table", e.to_string()))?;
                Ok(Fetched::Table(doc, tag))
            }
            s if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN => {
                Err(Failure::Unauthorized(s.as_u16()))
            }
            s => Err(unusable("http_error", format!("HTTP {s}"))),
        }
    }

    /// Read a watch stream: one table per line (an empty line says the client holds the current table), each
    /// applied as it arrives, until the control plane ends the stream. A line that is not a usable newer table ends
    /// the stream as a failed poll would.
    async fn stream(&self, mut resp: reqwest::Response) -> Result<Fetched, Failure> {
        let first = match tokio::time::timeout(WATCH_FIRST_LINE, resp.chunk()).await {
            Ok(chunk) => chunk.map_err(|e| transport(&e))?,
            Err(_) => {
                self.state.lock().no_watch_until = Some(Instant::now() + WATCH_RETRY_AFTER);
                tracing::warn!(endpoint = %self.base, waited_s = WATCH_FIRST_LINE.as_secs(),
                    retry_after_s = WATCH_RETRY_AFTER.as_secs(),
                    "the control plane's watch stream sent nothing (a proxy that buffers answers?): long-polling \
                     instead; set `X-Accel-Buffering: no` or turn buffering off for /v1/phases to use the stream");
                return Ok(Fetched::Unchanged);
            }
        };
        let mut pending = Vec::new();
        let mut next = first;
        while let Some(chunk) = next {
            let mut rest = &chunk[..];
            while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                let line: &[u8] = if pending.is_empty() {
                    &rest[..end]
                } else {
                    pending.extend_from_slice(&rest[..end]);
                    &pending
                };
                if line.len() > MAX_TABLE_BYTES {
                    return Err(oversized_line());
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    self.good();
                } else {
                    let doc = serde_json::from_slice::<PhasesDoc>(line)
                        .map_err(|e| unusable("unreadable_table", e.to_string()))?;
                    self.accept(doc, None)?;
                    self.good();
                }
                pending.clear();
                rest = &rest[end + 1..];
            }
            if pending.len() + rest.len() > MAX_TABLE_BYTES {
                return Err(oversized_line());
            }
            pending.extend_from_slice(rest);
            next = resp.chunk().await.map_err(|e| transport(&e))?;
        }
        Ok(Fetched::Streamed)
    }

    /// Apply a newer table and remember it. The table already applied (a `200` where a `304` was due, as a
    /// proxy that strips `If-None-Match` produces) is `Unchanged`; an older or invalid one is not usable.
    fn accept(&self, doc: PhasesDoc, etag: Option<String>) -> Result<Fetched, Failure> {
        let applied = self.state.lock().version;
        if doc.version < applied {
            return Err(unusable(
                "older_table",
                format!(
                    "the control plane answered table version {} while this client applied {applied} (restored \
                     from an older state file?); keeping the applied one",
                    doc.version
                ),
            ));
        }
        if doc.version == applied && applied > 0 {
            return Ok(Fetched::Unchanged);
        }
        let before = self.phases.snapshot();
        for (topic, s) in &doc.topics {
            let old = before.phase(topic);
            if old.ordinal().abs_diff(s.phase.ordinal()) > 1 {
                tracing::error!(topic, from = %old, to = %s.phase, version = s.version,
                    "PHASE SKIP: the control plane moved this topic by more than one step since the last table this client saw");
            }
        }
        if let Err(e) = self.phases.apply_table(&doc.to_table()) {
            return Err(unusable(
                "invalid_table",
                format!(
                    "table version {}: {e}; keeping the last good one",
                    doc.version
                ),
            ));
        }
        {
            let mut st = self.state.lock();
            st.version = doc.version;
            st.etag = etag.or_else(|| Some(doc.etag()));
            st.table = Some(Arc::new(doc.clone()));
        }
        if let Some(p) = &self.cache_file {
            if let Err(e) = replace_json(p, &doc) {
                tracing::warn!(error = %e, "could not write the phase cache file");
            }
        }
        Ok(Fetched::Table(doc, None))
    }

    /// The control plane answered a heartbeat with `send_table`: it holds an older table than this client (restored
    /// from an older state file). Send the table this client applied, once per version, so that the operator can
    /// adopt it (`rmq-migrate adopt`).
    async fn send_table(&self, client_id: &str) {
        let table = {
            let st = self.state.lock();
            match &st.table {
                Some(t) if st.table_sent != Some(t.version) => t.clone(),
                _ => return,
            }
        };
        let doc = ClientTable::new(client_id, PhasesDoc::clone(&table));
        match self
            .post("/v1/clients/table", Duration::from_secs(30), &doc)
            .await
        {
            Ok(resp) if resp.status().is_success() => {
                self.state.lock().table_sent = Some(table.version);
                tracing::warn!(endpoint = %self.base, version = table.version,
                    "the control plane holds an older phase table than this client (diverged): sent this client's \
                     table so that it can be adopted");
            }
            Ok(resp) => {
                tracing::warn!(endpoint = %self.base, http_status = %resp.status(), "the control plane refused this client's table")
            }
            Err(e) => {
                tracing::warn!(endpoint = %self.base, error = %error_chain(&e), "could not send this client's table to the control plane")
            }
        }
    }

    fn good(&self) {
        let mut st = self.state.lock();
        st.no_contact_since = None;
        if self.status.get() == SyncStatus::Stale || st.logged.is_some() {
            tracing::info!(endpoint = %self.base, version = st.version, "control plane answers usable tables again: phase table fresh");
        }
        self.status.set(SyncStatus::Fresh);
        st.problem = None;
        st.logged = None;
    }

    /// A poll gave no usable table (`at`: now, or when it was sent if it timed out). Logged at WARN when the
    /// problem starts or changes, and then at most every [`LOG_REMINDER`]; never once per poll.
    fn failed(&self, reason: &'static str, detail: &str, at: Instant) {
        let mut st = self.state.lock();
        st.problem = Some(reason);
        let blind = st.no_contact(at);
        let turned_stale = self.status.get() == SyncStatus::Fresh && blind >= self.stale_after;
        if turned_stale {
            self.status.set(SyncStatus::Stale);
        }
        let remind = match st.logged {
            Some((r, at)) => r != reason || at.elapsed() >= LOG_REMINDER || turned_stale,
            None => true,
        };
        if remind {
            st.logged = Some((reason, Instant::now()));
            tracing::warn!(endpoint = %self.base, reason, detail, version = st.version, status = self.status.get().as_str(),
                no_usable_table_for_s = blind.as_secs(),
                "no usable phase table from the control plane; keeping the last good table and backing off");
        } else {
            tracing::debug!(endpoint = %self.base, reason, detail, "control plane poll gave no usable table; backing off");
        }
    }

    fn unauthorized(&self, code: u16) {
        let st = self.state.lock();
        self.status.set(SyncStatus::Unauthorized);
        tracing::error!(endpoint = %self.base, http_status = code, version = st.version,
            "control plane refused this client's token: polling STOPPED, keeping the last good table; fix the token and restart");
    }
}

fn oversized_line() -> Failure {
    unusable(
        "oversized_table",
        format!("watch stream line longer than the {MAX_TABLE_BYTES} bytes a table may have"),
    )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        s.push_str(": ");
        s.push_str(&c.to_string());
        next = c.source();
    }
    s
}

/// The next retry delay: doubled, capped, then drawn from its upper half (jitter spreads a fleet's retries).
fn next_backoff(prev: Duration, (min, max): (Duration, Duration)) -> (Duration, Duration) {
    let base = if prev.is_zero() {
        min
    } else {
        (prev * 2).min(max)
    };
    let jittered = base.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    (base, jittered)
}

/// Shortest time between two polls that found the table unchanged.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The wait one long-poll asks for: between 80 % and 100 % of `wait`. Clients that a change or a restart woke in
/// the same instant would otherwise come back together every period for as long as they run.
fn jittered_wait(wait: Duration) -> Duration {
    wait.mul_f64(0.8 + rand::random::<f64>() * 0.2)
}

/// The next poll after a new table waits up to this long (uniformly drawn).
const REPOLL_SPREAD: Duration = Duration::from_millis(500);

/// How long to wait before polling again after a new table. A move answers every parked long-poll of the fleet
/// at once; coming straight back would put ten thousand new polls on the control plane while it is still sending
/// the move's answers. A table newer still is answered at once when the poll arrives, so nothing is missed.
fn repoll_delay() -> Duration {
    REPOLL_SPREAD.mul_f64(rand::random::<f64>())
}

async fn poll_loop(inner: Weak<Inner>) {
    let mut backoff = Duration::ZERO;
    loop {
        let Some(me) = inner.upgrade() else { return };
        let started = tokio::time::Instant::now();
        let sent = Instant::now();
        let outcome = match me.fetch(jittered_wait(me.poll_wait)).await {
            Ok(Fetched::Table(doc, etag)) => me.accept(doc, etag),
            other => other,
        };
        match outcome {
            Ok(Fetched::Table(..)) => {
                me.good();
                backoff = Duration::ZERO;
                drop(me);
                tokio::time::sleep(repoll_delay()).await;
            }
            Ok(Fetched::Unchanged | Fetched::Streamed) => {
                me.good();
                backoff = Duration::ZERO;
                drop(me);
                tokio::time::sleep_until(started + MIN_POLL_INTERVAL).await;
            }
            Err(Failure::Unauthorized(code)) => {
                me.unauthorized(code);
                return;
            }
            Err(Failure::Unusable {
                reason,
                detail,
                timed_out,
            }) => {
                me.failed(
                    reason,
                    &detail,
                    if timed_out { sent } else { Instant::now() },
                );
                let (base, sleep) = next_backoff(backoff, me.backoff);
                backoff = base;
                drop(me);
                tokio::time::sleep(sleep).await;
            }
        }
    }
}

async fn heartbeat_loop(inner: Weak<Inner>) {
    let mut warned = false;
    loop {
        let Some(me) = inner.upgrade() else { return };
        let every = me.heartbeat_every;
        if me.status.get() == SyncStatus::Unauthorized {
            return;
        }
        let live: Vec<(String, Namespaces, Arc<dyn Reporter>)> = {
            let mut r = me.reporters.lock();
            r.retain(|(_, _, w)| w.strong_count() > 0);
            r.iter()
                .filter_map(|(id, ns, w)| w.upgrade().map(|a| (id.clone(), ns.clone(), a)))
                .collect()
        };
        let status = me.status.get();
        let (status_reason, table_version) = {
            let st = me.state.lock();
            let reason = match status {
                SyncStatus::Stale => st.problem.map(str::to_owned),
                _ => None,
            };
            (reason, (st.version > 0).then_some(st.version))
        };
        for (id, namespaces, reporter) in live {
            let r = reporter.report();
            let hb = Heartbeat {
                client_id: id,
                application: me.application.clone(),
                role: r.role,
                group: r.group,
                topics: r.topics,
                applied: r.applied,
                counters: r.counters,
                per_topic: r.per_topic,
                status,
                status_reason: status_reason.clone(),
                pinned: r.pinned,
                broker_clients: r.broker_clients,
                namespaces,
                table_version,
            };
            match me
                .post("/v1/clients/heartbeat", Duration::from_secs(5), &hb)
                .await
            {
                Ok(resp) if resp.status().is_success() => {
                    warned = false;
                    // Older control planes answer other JSON: no request for the table then.
                    let asks = resp
                        .json::<HeartbeatAnswer>()
                        .await
                        .is_ok_and(|a| a.send_table);
                    if asks {
                        me.send_table(&hb.client_id).await;
                    }
                }
                Ok(resp) => {
                    if !warned {
                        tracing::warn!(endpoint = %me.base, http_status = %resp.status(), "heartbeat refused");
                        warned = true;
                    }
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(endpoint = %me.base, error = %error_chain(&e), "heartbeat failed; the control plane will see this client as gone until it returns");
                        warned = true;
                    }
                }
            }
        }
        drop(me);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
        let bounds = (Duration::from_millis(100), Duration::from_millis(1_000));
        let mut prev = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (base, sleep) = next_backoff(prev, bounds);
            assert!(sleep <= base && sleep >= base / 2, "{sleep:?} vs {base:?}");
            seen.push(base.as_millis());
            prev = base;
        }
        assert_eq!(seen, vec![100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn long_poll_waits_are_spread_over_the_upper_fifth() {
        let wait = Duration::from_secs(30);
        let waits: Vec<Duration> = (0..1_000).map(|_| jittered_wait(wait)).collect();
        assert!(waits
            .iter()
            .all(|w| *w >= Duration::from_secs(24) && *w <= wait));
        let (lo, hi) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*hi - *lo > Duration::from_secs(4), "{lo:?}..{hi:?}: spread");
        assert_eq!(jittered_wait(Duration::ZERO), Duration::ZERO);
        let delays: Vec<Duration> = (0..1_000).map(|_| repoll_delay()).collect();
        assert!(delays.iter().all(|d| *d < REPOLL_SPREAD));
        assert!(
            delays.iter().any(|d| *d < REPOLL_SPREAD / 4)
                && delays.iter().any(|d| *d > REPOLL_SPREAD * 3 / 4)
        );
    }

    fn state() -> SyncState {
        SyncState {
            version: 1,
            ..SyncState::default()
        }
    }

    #[test]
    fn the_status_cell_gives_back_every_status_it_is_set_to() {
        let cell = StatusCell::new(SyncStatus::Fresh);
        assert_eq!(cell.get(), SyncStatus::Fresh);
        for s in [
            SyncStatus::Stale,
            SyncStatus::Unauthorized,
            SyncStatus::Fresh,
        ] {
            cell.set(s);
            assert_eq!(cell.get(), s);
        }
        assert_eq!(SyncStatus::from_u8(u8::MAX), None);
    }

    #[test]
    fn no_contact_counts_from_the_first_failure_not_the_last_answer() {
        // A long-poll held 29 s breaks when the control plane restarts: no contact for ~0 s, not 29 s.
        let mut st = state();
        assert!(st.no_contact(Instant::now()) < Duration::from_secs(1));
        // Later failures (the retries while it is down) keep the clock of the first one.
        let first = st.no_contact_since.unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(st.no_contact(Instant::now()) >= Duration::from_millis(20));
        assert_eq!(st.no_contact_since, Some(first));
        // A poll that timed out counts from when it was sent: the server may have hung right after it.
        let mut st = state();
        let sent = Instant::now() - Duration::from_secs(40);
        assert!(st.no_contact(sent) >= Duration::from_secs(40));
    }
}
