//! A [`Deduplicator`] kept in Redis, shared by every instance of a consumer group.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ::redis::{Client, Connection, ConnectionLike, RedisError, Script};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{Begin, Deduplicator};
use crate::error::{ConfigError, ConfigErrorKind};

/// Shortest time between two WARN logs of one [`RedisDeduplicator`] about Redis failures; the failures in between
/// are counted and reported with the next log.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Value of a consumed mark.
const CONSUMED: &str = "consumed";
/// Prefix of a consuming mark's value; the instance token follows.
const CONSUMING: &str = "consuming:";
/// `SET NX` attempts of one `begin` when the key keeps vanishing between `SET` and `GET`.
const BEGIN_ATTEMPTS: usize = 3;

/// Deletes `KEYS[1]` only while it holds `ARGV[1]` (this instance's consuming mark).
const ABORT_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// What a [`RedisDeduplicator`] answers when Redis cannot be reached (refused, timed out, an error reply).
///
/// There is no default: choosing is part of configuring the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailurePolicy {
    /// Consume anyway ([`Begin::Proceed`]): availability first. While Redis is down a message stored on both
    /// clusters, or redelivered, can reach the listener more than once.
    FailOpen,
    /// Do not consume ([`Begin::Unavailable`]): the consumer retries the delivery later. Nothing reaches the
    /// listener twice, and nothing is consumed while Redis is down.
    FailClosed,
}

impl fmt::Display for RedisFailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedisFailurePolicy::FailOpen => "fail_open",
            RedisFailurePolicy::FailClosed => "fail_closed",
        })
    }
}

/// Settings of a [`RedisDeduplicator`].
///
/// `url`, `application` and `policy` are required ([`RedisDeduplicatorConfig::new`]); the other fields have
/// defaults. Deserializing requires the three as well.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RedisDeduplicatorConfig {
    /// Redis URL: `redis://[[user]:password@]host:port[/db]` (`rediss://` needs TLS support in the `redis`
    /// crate, which this crate does not enable).
    pub url: String,
    /// Application name, the second part of every key. Letters, digits, `.`, `_` and `-`; at most 128 characters.
    pub application: String,
    /// What `begin` answers when Redis cannot be reached.
    pub policy: RedisFailurePolicy,
    /// First part of every key. Default `rmq-dedupe`. Not empty, no whitespace.
    #[serde(default = "defaults::key_prefix")]
    pub key_prefix: String,
    /// How long a key may stay "consuming" before another delivery may take it over (a listener that never
    /// returned, an instance that crashed). Keep it above the listener timeout of the client (30 s by default).
    /// Default 60 s.
    #[serde(default = "defaults::consuming_ttl")]
    pub consuming_ttl: Duration,
    /// How long a consumed key is remembered; longer than `consuming_ttl`. It bounds how far apart two copies of a
    /// message may be delivered and still be recognised, and Redis memory (about 150 bytes per key). Default 1 h.
    #[serde(default = "defaults::consumed_ttl")]
    pub consumed_ttl: Duration,
    /// Longest wait for a new connection (TCP connect and handshake). Default 500 ms.
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: Duration,
    /// Longest wait for one command's reply, and for writing it. Default 500 ms.
    #[serde(default = "defaults::io_timeout")]
    pub io_timeout: Duration,
    /// After a failed connect, calls fail at once (no new connect attempt) for this long. Bounds the cost of an
    /// unreachable Redis for every listener thread. Default 1 s.
    #[serde(default = "defaults::reconnect_backoff")]
    pub reconnect_backoff: Duration,
    /// Most idle connections kept for reuse. Each listener thread calling at the same time uses one connection;
    /// more are opened when needed and closed when more than this are idle. Default 16.
    #[serde(default = "defaults::max_idle_connections")]
    pub max_idle_connections: usize,
}

mod defaults {
    use std::time::Duration;

    pub(super) fn key_prefix() -> String {
        "rmq-dedupe".to_owned()
    }
    pub(super) fn consuming_ttl() -> Duration {
        Duration::from_secs(60)
    }
    pub(super) fn consumed_ttl() -> Duration {
        Duration::from_secs(60 * 60)
    }
    pub(super) fn connect_timeout() -> Duration {
        Duration::from_millis(500)
    }
    pub(super) fn io_timeout() -> Duration {
        Duration::from_millis(500)
    }
    pub(super) fn reconnect_backoff() -> Duration {
        Duration::from_secs(1)
    }
    pub(super) fn max_idle_connections() -> usize {
        16
    }
}

impl RedisDeduplicatorConfig {
    /// Settings for `application` on the Redis at `url`, failing per `policy`; the other fields at their defaults.
    pub fn new(
        url: impl Into<String>,
        application: impl Into<String>,
        policy: RedisFailurePolicy,
    ) -> Self {
        RedisDeduplicatorConfig {
            url: url.into(),
            application: application.into(),
            policy,
            key_prefix: defaults::key_prefix(),
            consuming_ttl: defaults::consuming_ttl(),
            consumed_ttl: defaults::consumed_ttl(),
            connect_timeout: defaults::connect_timeout(),
            io_timeout: defaults::io_timeout(),
            reconnect_backoff: defaults::reconnect_backoff(),
            max_idle_connections: defaults::max_idle_connections(),
        }
    }

    /// Check every field; the error names the first one refused and its value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, value: String, reason: &str| {
            Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                field,
                value,
                reason,
            ))
        };
        let app = &self.application;
        if app.is_empty() || app.len() > 128 {
            return invalid("application", app.clone(), "must be 1 to 128 characters");
        }
        if let Some(c) = app
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return invalid(
                "application",
                app.clone(),
                &format!("may hold only letters, digits, '.', '_' and '-', not {c:?}"),
            );
        }
        let prefix = &self.key_prefix;
        if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid(
                "key_prefix",
                prefix.clone(),
                "must be non-empty, without whitespace",
            );
        }
        if self.consuming_ttl < Duration::from_millis(1) {
            return invalid(
                "consuming_ttl",
                format!("{:?}", self.consuming_ttl),
                "must be at least 1 ms",
            );
        }
        if self.consumed_ttl <= self.consuming_ttl {
            return invalid(
                "consumed_ttl",
                format!("{:?}", self.consumed_ttl),
                &format!(
                    "must be longer than consuming_ttl ({:?})",
                    self.consuming_ttl
                ),
            );
        }
        for (field, d) in [
            ("connect_timeout", self.connect_timeout),
            ("io_timeout", self.io_timeout),
        ] {
            if d < Duration::from_millis(1) {
                return invalid(field, format!("{d:?}"), "must be at least 1 ms");
            }
        }
        if self.max_idle_connections == 0 {
            return invalid("max_idle_connections", "0".to_owned(), "must be at least 1");
        }
        if let Err(e) = Client::open(self.url.as_str()) {
            return invalid("url", redact(&self.url), &format!("not a Redis URL: {e}"));
        }
        Ok(())
    }
}

impl fmt::Debug for RedisDeduplicatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDeduplicatorConfig")
            .field("url", &redact(&self.url))
            .field("application", &self.application)
            .field("policy", &self.policy)
            .field("key_prefix", &self.key_prefix)
            .field("consuming_ttl", &self.consuming_ttl)
            .field("consumed_ttl", &self.consumed_ttl)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("max_idle_connections", &self.max_idle_connections)
            .finish()
    }
}

/// `url` with the password (anything between `://` and `@`) replaced, for logs and errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// A snapshot of a [`RedisDeduplicator`]'s counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisDedupeStats {
    /// `begin` calls answered [`Begin::Proceed`] because the key was claimed in Redis.
    pub claimed: u64,
    /// `begin` calls answered [`Begin::Duplicate`].
    pub duplicates: u64,
    /// `begin` calls answered [`Begin::InFlight`].
    pub in_flight: u64,
    /// `begin` calls answered [`Begin::Proceed`] without a claim because Redis could not be reached (fail-open).
    pub failed_open: u64,
    /// `begin` calls answered [`Begin::Unavailable`] because Redis could not be reached (fail-closed).
    pub failed_closed: u64,
    /// `commit` calls that could not write the consumed mark.
    pub commit_errors: u64,
    /// `abort` calls that could not remove the consuming mark (it expires after `consuming_ttl`).
    pub abort_errors: u64,
    /// Every call that failed on Redis: refused or timed-out connects, I/O errors, error replies, unexpected values.
    pub store_errors: u64,
    /// Connections opened (the first one, and one after each dropped connection or connect failure).
    pub connections_opened: u64,
}

#[derive(Debug, Default)]
struct Counters {
    claimed: AtomicU64,
    duplicates: AtomicU64,
    in_flight: AtomicU64,
    failed_open: AtomicU64,
    failed_closed: AtomicU64,
    commit_errors: AtomicU64,
    abort_errors: AtomicU64,
    store_errors: AtomicU64,
    connections_opened: AtomicU64,
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Why a call to Redis failed.
#[derive(Debug)]
enum StoreError {
    /// Not connecting until the backoff after a failed connect has passed.
    Backoff(Duration),
    /// The Redis client failed (connect, I/O, timeout, error reply).
    Redis(RedisError),
    /// The key held a value this store never writes.
    Unexpected(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Backoff(left) => write!(
                f,
                "not reconnecting for another {left:?} after a failed connect"
            ),
            StoreError::Redis(e) => write!(f, "{e}"),
            StoreError::Unexpected(v) => {
                write!(f, "unexpected value {v:?} (not written by a deduplicator)")
            }
        }
    }
}

#[derive(Debug, Default)]
struct WarnGate {
    last: Option<Instant>,
    suppressed: u64,
}

/// A [`Deduplicator`] in Redis, shared by every consumer instance (process) of a group that points at the same
/// Redis and application name: a message stored on both clusters and delivered to two instances reaches a listener
/// once.
///
/// Calls are synchronous (they run on the listener threads): each is one or two round trips on a reused
/// connection, bounded by `connect_timeout` and `io_timeout`. When Redis cannot be reached the configured
/// [`RedisFailurePolicy`] decides; connections are opened again once Redis is back.
///
/// Connections: a small pool of blocking connections, one per listener thread calling at the same time, kept
/// idle for reuse (up to `max_idle_connections`). The `redis` crate's multiplexed connection is async-only: using
/// it here would need a runtime to block on from listener threads, and one stuck command would stall every
/// thread behind it; a blocking connection per caller keeps each call's time bounded by its own socket timeouts.
/// A connection that failed (I/O error, timeout) is dropped, never reused with an unread reply in it.
///
/// # Keys and values
///
/// One Redis string per message key: `<key_prefix>:<application>:<topic>:<key>`, for example
/// `rmq-dedupe:billing:Orders:7F0000011B2C18B4AAC2...`. RocketMQ topic names contain no `:`, and the application
/// name is checked to contain none either, so two (application, topic, key) triples never share a Redis key.
///
/// * `consuming:<token>` while a delivery is being consumed, with the short `consuming_ttl` (a listener that
///   never returned — a crashed instance — lets another delivery take the key over after it). `<token>` is
///   random per [`RedisDeduplicator`], so an abort only removes its own claim.
/// * `consumed` once consumed, with the longer `consumed_ttl`: later deliveries of the key are duplicates.
///
/// # Calls
///
/// * `begin`: `SET <k> consuming:<token> NX PX <consuming_ttl>`; when the key exists, `GET` it: `consumed` is a
///   [`Begin::Duplicate`], `consuming:*` a [`Begin::InFlight`]. When the key vanished between the two
///   (expired or aborted), the `SET` is tried again.
/// * `commit`: `SET <k> consumed PX <consumed_ttl>`.
/// * `abort`: a Lua compare-and-delete: the key is deleted only while it still holds this instance's
///   `consuming:<token>`, never a consumed mark or another instance's claim.
///
/// # When Redis cannot be reached
///
/// The [`RedisFailurePolicy`] is a required setting: [`FailOpen`](RedisFailurePolicy::FailOpen) consumes (a
/// message stored on both clusters may then reach the listener twice), [`FailClosed`](RedisFailurePolicy::FailClosed)
/// answers [`Begin::Unavailable`] and the consumer retries the delivery later (nothing is consumed while Redis is
/// down). Either way the failure is counted ([`RedisDeduplicator::stats`]) and logged at WARN, at most once per
/// [`WARN_INTERVAL`] per deduplicator. A failed `commit` or `abort` is counted and logged the same way; the
/// consuming mark then expires after `consuming_ttl`.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use rocketmq_migration::dedupe::{
///     Begin, Deduplicator, RedisDeduplicator, RedisDeduplicatorConfig, RedisFailurePolicy,
/// };
///
/// let mut config =
///     RedisDeduplicatorConfig::new("redis://127.0.0.1:6379/0", "billing", RedisFailurePolicy::FailClosed);
/// config.consumed_ttl = Duration::from_secs(6 * 60 * 60);
/// let dedupe = Arc::new(RedisDeduplicator::new(config)?);
/// // Give it to the consumer: `MigratingPushConsumer::builder(rt).deduplicator(dedupe.clone())`.
/// assert_eq!(dedupe.begin("Orders", "k1"), Begin::Proceed);
/// dedupe.commit("Orders", "k1");
/// assert_eq!(dedupe.begin("Orders", "k1"), Begin::Duplicate);
/// println!("{:?}", dedupe.stats());
/// # Ok::<(), rocketmq_migration::ConfigError>(())
/// ```
pub struct RedisDeduplicator {
    config: RedisDeduplicatorConfig,
    client: Client,
    /// This instance's consuming mark: `consuming:<random token>`.
    consuming_value: String,
    abort_script: Script,
    idle: Mutex<Vec<Connection>>,
    /// After a failed connect: no new connect attempt before this instant.
    retry_at: Mutex<Option<Instant>>,
    counters: Counters,
    warn: Mutex<WarnGate>,
}

impl RedisDeduplicator {
    /// A deduplicator with `config`, checked first ([`RedisDeduplicatorConfig::validate`]). Does not connect:
    /// the first call does, so a consumer can start while Redis is down (the policy then applies).
    pub fn new(config: RedisDeduplicatorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let client = Client::open(config.url.as_str()).map_err(|e| {
            ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "url",
                redact(&config.url),
                format!("not a Redis URL: {e}"),
            )
        })?;
        let token = format!(
            "{:016x}{:016x}-{}",
            rand::random::<u64>(),
            rand::random::<u64>(),
            std::process::id()
        );
        Ok(RedisDeduplicator {
            consuming_value: format!("{CONSUMING}{token}"),
            config,
            client,
            abort_script: Script::new(ABORT_SCRIPT),
            idle: Mutex::new(Vec::new()),
            retry_at: Mutex::new(None),
            counters: Counters::default(),
            warn: Mutex::new(WarnGate::default()),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &RedisDeduplicatorConfig {
        &self.config
    }

    /// The Redis key of message `key` on `topic`: `<key_prefix>:<application>:<topic>:<key>`.
    pub fn redis_key(&self, topic: &str, key: &str) -> String {
        let c = &self.config;
        format!("{}:{}:{topic}:{key}", c.key_prefix, c.application)
    }

    /// The counters so far.
    pub fn stats(&self) -> RedisDedupeStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RedisDedupeStats {
            claimed: l(&c.claimed),
            duplicates: l(&c.duplicates),
            in_flight: l(&c.in_flight),
            failed_open: l(&c.failed_open),
            failed_closed: l(&c.failed_closed),
            commit_errors: l(&c.commit_errors),
            abort_errors: l(&c.abort_errors),
            store_errors: l(&c.store_errors),
            connections_opened: l(&c.connections_opened),
        }
    }

    /// A new connection, unless a recent connect failed and the backoff has not passed.
    fn connect(&self) -> Result<Connection, StoreError> {
        if let Some(at) = *self.retry_at.lock() {
            let now = Instant::now();
            if now < at {
                return Err(StoreError::Backoff(at - now));
            }
        }
        let c = &self.config;
        let opened = self
            .client
            .get_connection_with_timeout(c.connect_timeout)
            .and_then(|conn| {
                conn.set_read_timeout(Some(c.io_timeout))?;
                conn.set_write_timeout(Some(c.io_timeout))?;
                Ok(conn)
            });
        match opened {
            Ok(conn) => {
                bump(&self.counters.connections_opened);
                let was_down = self.retry_at.lock().take().is_some();
                if was_down {
                    tracing::info!(redis = %redact(&c.url), application = %c.application,
                        "dedupe store: connected to Redis again");
                }
                Ok(conn)
            }
            Err(e) => {
                *self.retry_at.lock() = Some(Instant::now() + c.reconnect_backoff);
                Err(StoreError::Redis(e))
            }
        }
    }

    /// Run `f` on one connection and put the connection back in the pool unless it failed below the reply level
    /// (I/O, timeout, unparsable reply), where an unread reply may be left in it.
    fn run_on<T>(
        &self,
        mut conn: Connection,
        f: &impl Fn(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, RedisError> {
        let r = f(&mut conn);
        let reusable = conn.is_open()
            && match &r {
                Ok(_) => true,
                Err(e) => matches!(
                    e.kind(),
                    ::redis::ErrorKind::Server(_) | ::redis::ErrorKind::Extension
                ),
            };
        if reusable {
            let mut idle = self.idle.lock();
            if idle.len() < self.config.max_idle_connections {
                idle.push(conn);
            }
        }
        r
    }

    /// Run `f` on an idle connection, or on a new one when none is idle.
    ///
    /// An idle connection can be stale (Redis restarted, or closed it after its `timeout`): when one turns out
    /// dropped (reset, closed — not a timeout, where the command may have run), the idle ones are discarded and `f`
    /// runs once more on a new connection. `f` is a single command, safe to send again when the first never
    /// reached a live server.
    fn with_conn<T>(
        &self,
        f: impl Fn(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().pop();
        let Some(conn) = pooled else {
            return self.run_on(self.connect()?, &f).map_err(StoreError::Redis);
        };
        match self.run_on(conn, &f) {
            Err(e) if e.is_connection_dropped() && !e.is_timeout() => {
                let stale = std::mem::take(&mut *self.idle.lock()).len();
                tracing::debug!(error = %e, stale_idle_connections = stale,
                    "dedupe store: idle Redis connection was dropped; retrying on a new one");
                self.run_on(self.connect()?, &f).map_err(StoreError::Redis)
            }
            r => r.map_err(StoreError::Redis),
        }
    }

    fn try_begin(&self, rkey: &str) -> Result<Begin, StoreError> {
        let ttl_ms = millis(self.config.consuming_ttl);
        for _ in 0..BEGIN_ATTEMPTS {
            let set: Option<String> = self.with_conn(|conn| {
                ::redis::cmd("SET")
                    .arg(rkey)
                    .arg(&self.consuming_value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query(conn)
            })?;
            if set.is_some() {
                return Ok(Begin::Proceed);
            }
            let value: Option<String> =
                self.with_conn(|conn| ::redis::cmd("GET").arg(rkey).query(conn))?;
            match value.as_deref() {
                Some(CONSUMED) => return Ok(Begin::Duplicate),
                Some(v) if v.starts_with(CONSUMING) => return Ok(Begin::InFlight),
                Some(v) => return Err(StoreError::Unexpected(v.to_owned())),
                // Expired or aborted between SET and GET: claim it again.
                None => continue,
            }
        }
        // The key keeps changing hands: somebody else is busy with it; try again later.
        Ok(Begin::InFlight)
    }

    /// Count a failed call in `store_errors` and in its own `counter`, and log it (rate-limited).
    fn failed(&self, op: &str, counter: &AtomicU64, rkey: &str, e: &StoreError, outcome: &str) {
        bump(&self.counters.store_errors);
        bump(counter);
        let suppressed = {
            let mut w = self.warn.lock();
            let now = Instant::now();
            if w.last
                .is_some_and(|t| now.duration_since(t) < WARN_INTERVAL)
            {
                w.suppressed += 1;
                return;
            }
            w.last = Some(now);
            std::mem::take(&mut w.suppressed)
        };
        let c = &self.config;
        tracing::warn!(
            redis = %redact(&c.url),
            application = %c.application,
            policy = %c.policy,
            op,
            key = rkey,
            error = %e,
            outcome,
            similar_failures_not_logged = suppressed,
            "dedupe store: Redis call failed"
        );
    }
}

impl fmt::Debug for RedisDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDeduplicator")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// `d` in whole milliseconds, at least 1 (what `PX` takes).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Deduplicator for RedisDeduplicator {
    fn begin(&self, topic: &str, key: &str) -> Begin {
        let rkey = self.redis_key(topic, key);
        let c = &self.counters;
        match self.try_begin(&rkey) {
            Ok(b) => {
                bump(match b {
                    Begin::Proceed => &c.claimed,
                    Begin::Duplicate => &c.duplicates,
                    Begin::InFlight | Begin::Unavailable => &c.in_flight,
                });
                b
            }
            Err(e) => match self.config.policy {
                RedisFailurePolicy::FailOpen => {
                    let outcome = "consumed without dedupe (fail-open)";
                    self.failed("begin", &c.failed_open, &rkey, &e, outcome);
                    Begin::Proceed
                }
                RedisFailurePolicy::FailClosed => {
                    let outcome = "delivery retried later (fail-closed)";
                    self.failed("begin", &c.failed_closed, &rkey, &e, outcome);
                    Begin::Unavailable
                }
            },
        }
    }

    fn commit(&self, topic: &str, key: &str) {
        let rkey = self.redis_key(topic, key);
        let ttl_ms = millis(self.config.consumed_ttl);
        let r: Result<(), _> = self.with_conn(|conn| {
            ::redis::cmd("SET")
                .arg(&rkey)
                .arg(CONSUMED)
                .arg("PX")
                .arg(ttl_ms)
                .query(conn)
        });
        if let Err(e) = r {
            let outcome = "consumed mark not written: a later copy may be consumed again";
            self.failed("commit", &self.counters.commit_errors, &rkey, &e, outcome);
        }
    }

    fn abort(&self, topic: &str, key: &str) {
        let rkey = self.redis_key(topic, key);
        let r: Result<i64, _> = self.with_conn(|conn| {
            self.abort_script
                .key(&rkey)
                .arg(&self.consuming_value)
                .invoke(conn as &mut dyn ConnectionLike)
        });
        if let Err(e) = r {
            let outcome = "consuming mark left: it expires after consuming_ttl";
            self.failed("abort", &self.counters.abort_errors, &rkey, &e, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RedisDeduplicatorConfig {
        RedisDeduplicatorConfig::new(
            "redis://127.0.0.1:6379/0",
            "billing",
            RedisFailurePolicy::FailClosed,
        )
    }

    #[test]
    fn defaults_are_valid_and_the_key_layout_is_prefix_application_topic_key() {
        let d = RedisDeduplicator::new(config()).unwrap();
        assert_eq!(d.redis_key("Orders", "K1"), "rmq-dedupe:billing:Orders:K1");
        assert!(d.consuming_value.starts_with(CONSUMING));
        assert_ne!(
            d.consuming_value,
            RedisDeduplicator::new(config()).unwrap().consuming_value,
            "each instance has its own token"
        );
    }

    #[test]
    fn bad_settings_name_the_field_and_the_value() {
        type Change = fn(&mut RedisDeduplicatorConfig);
        let cases: Vec<(Change, &str, &str)> = vec![
            (|c| c.application = String::new(), "application", ""),
            (
                |c| c.application = "bill ing".into(),
                "application",
                "bill ing",
            ),
            (|c| c.application = "a:b".into(), "application", "a:b"),
            (|c| c.key_prefix = " ".into(), "key_prefix", " "),
            (|c| c.consuming_ttl = Duration::ZERO, "consuming_ttl", "0ns"),
            (
                |c| c.consumed_ttl = Duration::from_secs(60),
                "consumed_ttl",
                "60s",
            ),
            (|c| c.io_timeout = Duration::ZERO, "io_timeout", "0ns"),
            (|c| c.max_idle_connections = 0, "max_idle_connections", "0"),
            (
                |c| c.url = "http://u:secret@h:1".into(),
                "url",
                "http://***@h:1",
            ),
        ];
        for (change, field, value) in cases {
            let mut c = config();
            change(&mut c);
            let e = RedisDeduplicator::new(c).unwrap_err();
            assert_eq!(e.kind(), ConfigErrorKind::InvalidValue, "{e}");
            assert_eq!((e.field(), e.value()), (field, value), "{e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }

    #[test]
    fn the_policy_is_required_when_deserializing() {
        let e = serde_json::from_str::<RedisDeduplicatorConfig>(
            r#"{"url": "redis://127.0.0.1:6379", "application": "billing"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("policy"), "{e}");
        let c: RedisDeduplicatorConfig = serde_json::from_str(
            r#"{"url": "redis://127.0.0.1:6379", "application": "billing", "policy": "fail_open"}"#,
        )
        .unwrap();
        assert_eq!(c.policy, RedisFailurePolicy::FailOpen);
        assert_eq!(c.consumed_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mut c = config();
        c.url = "redis://:hunter2@127.0.0.1:6379/0".into();
        let d = RedisDeduplicator::new(c).unwrap();
        let s = format!("{d:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("redis://***@127.0.0.1:6379/0"), "{s}");
    }
}
