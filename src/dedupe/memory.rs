//! A bounded in-memory [`Deduplicator`]: capacity- and TTL-limited, with consuming and consumed states.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{Begin, Deduplicator};

/// Settings of a [`MemoryDeduplicator`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryDeduplicatorConfig {
    /// Most keys remembered; the oldest are forgotten first when full.
    pub capacity: usize,
    /// How long a consumed key is remembered.
    pub ttl: Duration,
    /// How long a key may stay "consuming" before another delivery may take it over (a listener that never
    /// returned). Keep it above the listener timeout of the client (30 s by default).
    pub consuming_ttl: Duration,
}

impl Default for MemoryDeduplicatorConfig {
    fn default() -> Self {
        MemoryDeduplicatorConfig {
            capacity: 100_000,
            ttl: Duration::from_secs(60 * 60),
            consuming_ttl: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Consuming,
    Consumed,
}

#[derive(Debug)]
struct Entry {
    state: State,
    at: Instant,
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Arc<str>, Entry>,
    // Insertion order for expiry and eviction; stale rows (older generation) are skipped lazily.
    order: VecDeque<(Arc<str>, u64)>,
    generation: u64,
}

/// Bounded in-memory deduplicator, the default of the migrating consumer.
///
/// It dedupes within one process. Consumer instances in different processes need a shared store.
///
/// ```
/// use rocketmq_migration::dedupe::{Begin, Deduplicator, MemoryDeduplicator};
/// let d = MemoryDeduplicator::default();
/// assert_eq!(d.begin("Orders", "k"), Begin::Proceed);
/// assert_eq!(d.begin("Orders", "k"), Begin::InFlight);
/// d.commit("Orders", "k");
/// assert_eq!(d.begin("Orders", "k"), Begin::Duplicate);
/// assert_eq!(d.begin("Payments", "k"), Begin::Proceed, "keys are scoped by topic");
/// ```
#[derive(Debug)]
pub struct MemoryDeduplicator {
    config: MemoryDeduplicatorConfig,
    inner: Mutex<Inner>,
}

impl Default for MemoryDeduplicator {
    fn default() -> Self {
        Self::new(MemoryDeduplicatorConfig::default())
    }
}

impl MemoryDeduplicator {
    /// A deduplicator with `config`. A capacity of 0 is treated as 1.
    pub fn new(mut config: MemoryDeduplicatorConfig) -> Self {
        config.capacity = config.capacity.max(1);
        MemoryDeduplicator {
            config,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Number of keys remembered right now (consuming + consumed).
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        let ttl = match e.state {
            State::Consuming => self.config.consuming_ttl,
            State::Consumed => self.config.ttl,
        };
        now.duration_since(e.at) >= ttl
    }

    fn insert(&self, inner: &mut Inner, key: &str, state: State, now: Instant) {
        // Forget expired keys from the front, then the oldest ones while full.
        let grows = usize::from(!inner.entries.contains_key(key));
        while let Some((k, g)) = inner.order.front().cloned() {
            let drop_it = match inner.entries.get(&k) {
                Some(e) if e.generation == g => {
                    let full = inner.entries.len() + grows > self.config.capacity;
                    if full && !self.expired(e, now) && e.state == State::Consuming {
                        tracing::warn!(key = %k, capacity = self.config.capacity,
                            "dedupe store full: evicting a key that is still being consumed; raise the capacity");
                    }
                    full || self.expired(e, now)
                }
                _ => true, // stale row
            };
            if !drop_it {
                break;
            }
            inner.order.pop_front();
            if inner.entries.get(&k).is_some_and(|e| e.generation == g) {
                inner.entries.remove(&k);
            }
        }
        if inner.order.len() > 2 * self.config.capacity + 16 {
            // Rows of re-inserted or aborted keys pile up behind a live front row; compact them.
            let Inner { entries, order, .. } = inner;
            order.retain(|(k, g)| entries.get(k).is_some_and(|e| e.generation == *g));
        }
        inner.generation += 1;
        let generation = inner.generation;
        let key: Arc<str> = Arc::from(key);
        inner.order.push_back((key.clone(), generation));
        inner.entries.insert(
            key,
            Entry {
                state,
                at: now,
                generation,
            },
        );
    }
}

/// One map key per (topic, key): the topic, a separator no topic name contains, the key.
fn scoped(topic: &str, key: &str) -> String {
    let mut s = String::with_capacity(topic.len() + 1 + key.len());
    s.push_str(topic);
    s.push('\u{1}');
    s.push_str(key);
    s
}

impl Deduplicator for MemoryDeduplicator {
    fn begin(&self, topic: &str, key: &str) -> Begin {
        let key = &scoped(topic, key);
        let now = Instant::now();
        let mut inner = self.inner.lock();
        if let Some(e) = inner.entries.get(key.as_str()) {
            if !self.expired(e, now) {
                return match e.state {
                    State::Consuming => Begin::InFlight,
                    State::Consumed => Begin::Duplicate,
                };
            }
        }
        self.insert(&mut inner, key, State::Consuming, now);
        Begin::Proceed
    }

    fn commit(&self, topic: &str, key: &str) {
        let key = &scoped(topic, key);
        let now = Instant::now();
        let mut inner = self.inner.lock();
        self.insert(&mut inner, key, State::Consumed, now);
    }

    fn abort(&self, topic: &str, key: &str) {
        let key = scoped(topic, key);
        let mut inner = self.inner.lock();
        if inner
            .entries
            .get(key.as_str())
            .is_some_and(|e| e.state == State::Consuming)
        {
            inner.entries.remove(key.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(capacity: usize, ttl_ms: u64) -> MemoryDeduplicator {
        MemoryDeduplicator::new(MemoryDeduplicatorConfig {
            capacity,
            ttl: Duration::from_millis(ttl_ms),
            consuming_ttl: Duration::from_millis(ttl_ms),
        })
    }

    #[test]
    fn consuming_then_consumed() {
        let d = MemoryDeduplicator::default();
        assert_eq!(d.begin("t", "a"), Begin::Proceed);
        assert_eq!(d.begin("t", "a"), Begin::InFlight);
        d.commit("t", "a");
        assert_eq!(d.begin("t", "a"), Begin::Duplicate);
        assert_eq!(d.begin("t", "b"), Begin::Proceed);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn one_key_on_two_topics_is_two_keys() {
        let d = MemoryDeduplicator::default();
        assert_eq!(d.begin("t", "a"), Begin::Proceed);
        d.commit("t", "a");
        assert_eq!(d.begin("u", "a"), Begin::Proceed);
        assert_eq!(d.begin("t", "a"), Begin::Duplicate);
    }

    #[test]
    fn abort_releases_the_key_but_not_a_consumed_one() {
        let d = MemoryDeduplicator::default();
        assert_eq!(d.begin("t", "a"), Begin::Proceed);
        d.abort("t", "a");
        assert_eq!(d.begin("t", "a"), Begin::Proceed);
        d.commit("t", "a");
        d.abort("t", "a");
        assert_eq!(d.begin("t", "a"), Begin::Duplicate);
    }

    #[test]
    fn capacity_bounds_memory_and_forgets_the_oldest() {
        let d = small(3, 60_000);
        for k in ["a", "b", "c", "d"] {
            assert_eq!(d.begin("t", k), Begin::Proceed);
            d.commit("t", k);
        }
        assert_eq!(d.len(), 3);
        assert_eq!(d.begin("t", "d"), Begin::Duplicate);
        assert_eq!(d.begin("t", "a"), Begin::Proceed, "oldest was forgotten");
        assert!(d.len() <= 3);
    }

    #[test]
    fn ttl_expires_consumed_and_stuck_consuming_keys() {
        let d = small(100, 30);
        assert_eq!(d.begin("t", "a"), Begin::Proceed);
        assert_eq!(d.begin("t", "b"), Begin::Proceed);
        d.commit("t", "b");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(
            d.begin("t", "a"),
            Begin::Proceed,
            "stuck consuming key taken over"
        );
        assert_eq!(
            d.begin("t", "b"),
            Begin::Proceed,
            "consumed key forgotten after ttl"
        );
        assert_eq!(d.len(), 2, "expired rows are dropped on insert");
    }

    #[test]
    fn repeated_commits_do_not_grow_the_order_queue_unbounded() {
        let d = small(10, 60_000);
        d.commit("t", "pinned-front");
        for _ in 0..1000 {
            d.commit("t", "same");
            assert_eq!(d.begin("t", "other"), Begin::Proceed);
            d.abort("t", "other");
        }
        assert_eq!(d.len(), 2);
        assert!(d.inner.lock().order.len() <= 2 * 10 + 17);
    }
}
