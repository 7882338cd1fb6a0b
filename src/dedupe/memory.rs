//! A bounded in-memory [`Deduplicator`]: capacity- and TTL-limited, with consuming and consumed states.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use xxhash_rust::xxh3::{xxh3_128_with_seed, Xxh3};

use super::{Begin, Deduplicator};

/// Settings of a [`MemoryDeduplicator`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryDeduplicatorConfig {
    /// Most keys remembered (give or take a few, see [`MemoryDeduplicator`]); when full, each insert forgets the
    /// oldest key of its shard, so about the oldest overall.
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

/// Most shards a store is split into; each has its own lock, map and order queue.
const MAX_SHARDS: usize = 16;

/// A store gets one shard per this many keys of capacity (a small store keeps exact oldest-first eviction).
const KEYS_PER_SHARD: usize = 4096;

/// Longest TTL a store honours: timestamps are `u32` milliseconds, compared with wrapping arithmetic.
const MAX_TTL_MS: u32 = i32::MAX as u32;

/// The low bit of an entry's check word: set once the key was consumed.
const CONSUMED: u32 = 1;

/// A (topic, key) pair reduced to 128 bits of a seeded XXH3 hash: the map slot, a check word (whose low bit is
/// replaced by the state), and the shard. Two different pairs agree on all 95 compared bits with probability
/// 2^-95 per lookup; two pairs on the same slot with different checks simply replace each other (see
/// [`MemoryDeduplicator`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hashed {
    slot: u64,
    check: u32,
    shard: usize,
}

impl Hashed {
    fn of(seed: u64, shard_mask: usize, topic: &str, key: &str) -> Hashed {
        // One map key per (topic, key): the topic, a separator no topic name contains, the key. Short pairs are
        // hashed from a stack copy in one shot; long ones streamed (both give the same digest).
        let len = topic.len() + 1 + key.len();
        let mut buf = [0u8; 160];
        let h = if len <= buf.len() {
            buf[..topic.len()].copy_from_slice(topic.as_bytes());
            buf[topic.len()] = 1;
            buf[topic.len() + 1..len].copy_from_slice(key.as_bytes());
            xxh3_128_with_seed(&buf[..len], seed)
        } else {
            let mut x = Xxh3::with_seed(seed);
            x.update(topic.as_bytes());
            x.update(&[1]);
            x.update(key.as_bytes());
            x.digest128()
        };
        Hashed {
            slot: h as u64,
            check: ((h >> 64) as u32) & !CONSUMED,
            shard: ((h >> 96) as usize) & shard_mask,
        }
    }
}

/// An entry packed in 8 bytes: check word (low bit: consumed) in the high half, milliseconds since the store's
/// epoch at the last change in the low half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed(u64);

impl Packed {
    fn new(check: u32, consumed: bool, at: u32) -> Packed {
        Packed((u64::from(check | u32::from(consumed)) << 32) | u64::from(at))
    }
    fn check(self) -> u32 {
        ((self.0 >> 32) as u32) & !CONSUMED
    }
    fn consumed(self) -> bool {
        (self.0 >> 32) as u32 & CONSUMED != 0
    }
    fn at(self) -> u32 {
        self.0 as u32
    }
}

/// The slot value is already a well-mixed hash: hash it as itself.
#[derive(Default)]
struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 slots are hashed; keep a correct fallback anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// TTLs in milliseconds, as the shards compare them.
#[derive(Clone, Copy, Debug)]
struct Ttls {
    consumed: u32,
    consuming: u32,
}

impl Ttls {
    fn expired(self, e: Packed, now: u32) -> bool {
        let ttl = if e.consumed() {
            self.consumed
        } else {
            self.consuming
        };
        now.wrapping_sub(e.at()) >= ttl
    }
}

#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<u64, Packed, BuildHasherDefault<SlotHasher>>,
    // (slot, at) in insertion order, for expiry and eviction. A row is current while its slot's entry carries the
    // same `at`; a row whose entry changed since (commit) is moved to the back when it reaches the front, and rows
    // of removed entries are dropped there.
    order: VecDeque<(u64, u32)>,
    // This shard's share of the capacity; only sizes the compaction of dead order rows (the capacity itself is
    // enforced over all shards by `MemoryDeduplicator::len`).
    nominal: usize,
}

impl Shard {
    /// Drop expired keys from the front, and the `need` oldest keys even if live (the store is full). Returns how
    /// many keys were dropped; an expired key dropped counts towards `need`.
    fn trim(&mut self, ttls: Ttls, now: u32, mut need: usize) -> usize {
        let mut removed = 0;
        while let Some(&(slot, at)) = self.order.front() {
            match self.entries.get(&slot).copied() {
                Some(e) if e.at() != at => {
                    // Changed since this row was queued: requeue it under its current time.
                    self.order.pop_front();
                    self.order.push_back((slot, e.at()));
                }
                Some(e) => {
                    let expired = ttls.expired(e, now);
                    if !expired && need == 0 {
                        break;
                    }
                    if !expired && !e.consumed() {
                        tracing::warn!(
                            "dedupe store full: evicting a key that is still being consumed; raise the capacity"
                        );
                    }
                    self.order.pop_front();
                    self.entries.remove(&slot);
                    removed += 1;
                    need = need.saturating_sub(1);
                }
                None => {
                    self.order.pop_front();
                }
            }
        }
        if self.order.len() > 2 * self.nominal + 16 {
            // Rows of aborted or replaced keys pile up behind a live front row; compact them.
            let Shard { entries, order, .. } = self;
            order.retain(|(slot, at)| entries.get(slot).is_some_and(|e| e.at() == *at));
        }
        removed
    }
}

/// Bounded in-memory deduplicator, the default of the migrating consumer.
///
/// It dedupes within one process. Consumer instances in different processes need a shared store.
///
/// It holds no strings: a (topic, key) pair is kept as 96 bits of a seeded XXH3-128 hash and a 32-bit
/// timestamp, about 50 bytes per key held, in up to 16 independently locked shards. Two different pairs would
/// have to agree on 95 hash bits to be mistaken for each other (about 2^-75 per lookup with a million keys held);
/// when two pairs share a map slot but not the check bits, the newer replaces the older, so the cost of a
/// collision is at most a duplicate delivered, never a message withheld. TTLs are capped at 24 days.
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
pub struct MemoryDeduplicator {
    config: MemoryDeduplicatorConfig,
    ttls: Ttls,
    seed: u64,
    epoch: Instant,
    shards: Box<[Mutex<Shard>]>,
    // Keys held over all shards. A full store evicts the oldest key of the shard it inserts into; shards fill
    // evenly (the hash spreads keys), so that key is about as old as the oldest overall.
    len: AtomicUsize,
}

impl std::fmt::Debug for MemoryDeduplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDeduplicator")
            .field("config", &self.config)
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryDeduplicator {
    fn default() -> Self {
        Self::new(MemoryDeduplicatorConfig::default())
    }
}

fn ttl_ms(name: &str, ttl: Duration) -> u32 {
    let ms = u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX);
    if ms > MAX_TTL_MS {
        tracing::warn!(
            field = name,
            requested_ms = %ttl.as_millis(),
            capped_ms = MAX_TTL_MS,
            "dedupe ttl above 24 days is capped"
        );
    }
    ms.clamp(1, MAX_TTL_MS)
}

impl MemoryDeduplicator {
    /// A deduplicator with `config`. A capacity of 0 is treated as 1; TTLs are capped at 24 days (with a WARN).
    pub fn new(mut config: MemoryDeduplicatorConfig) -> Self {
        config.capacity = config.capacity.max(1);
        let ttls = Ttls {
            consumed: ttl_ms("ttl", config.ttl),
            consuming: ttl_ms("consuming_ttl", config.consuming_ttl),
        };
        let shards = (config.capacity / KEYS_PER_SHARD)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        let per_shard = config.capacity.div_ceil(shards);
        MemoryDeduplicator {
            ttls,
            seed: rand::random(),
            epoch: Instant::now(),
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        nominal: per_shard,
                        ..Shard::default()
                    })
                })
                .collect(),
            len: AtomicUsize::new(0),
            config,
        }
    }

    /// Number of keys remembered right now (consuming + consumed).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remember `h` in `shard` (the shard's lock held): expired keys at its front go first, and when the store is
    /// full its oldest key too. The store can exceed its capacity by a few keys: one per concurrent caller, and one
    /// per shard that was empty when the store was full.
    fn insert(&self, shard: &mut Shard, h: Hashed, consumed: bool, now: u32) {
        let grows = !shard.entries.contains_key(&h.slot);
        let need = usize::from(grows && self.len.load(Ordering::Relaxed) >= self.config.capacity);
        let removed = shard.trim(self.ttls, now, need);
        self.len.fetch_sub(removed, Ordering::Relaxed);
        if shard
            .entries
            .insert(h.slot, Packed::new(h.check, consumed, now))
            .is_none()
        {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        shard.order.push_back((h.slot, now));
    }

    fn hashed(&self, topic: &str, key: &str) -> Hashed {
        Hashed::of(self.seed, self.shards.len() - 1, topic, key)
    }

    /// Milliseconds since the store was made, wrapping every 49.7 days (TTLs are at most half of that).
    fn now(&self) -> u32 {
        self.epoch.elapsed().as_millis() as u32
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn begin(&self, topic: &str, key: &str) -> Begin {
        let h = self.hashed(topic, key);
        let now = self.now();
        let mut shard = self.shards[h.shard].lock();
        if let Some(e) = shard.entries.get(&h.slot).copied() {
            if e.check() == h.check && !self.ttls.expired(e, now) {
                return if e.consumed() {
                    Begin::Duplicate
                } else {
                    Begin::InFlight
                };
            }
        }
        self.insert(&mut shard, h, false, now);
        Begin::Proceed
    }

    fn commit(&self, topic: &str, key: &str) {
        let h = self.hashed(topic, key);
        let now = self.now();
        let mut shard = self.shards[h.shard].lock();
        match shard.entries.get_mut(&h.slot) {
            // Updated in place; its order row is requeued when it reaches the front.
            Some(e) if e.check() == h.check => *e = Packed::new(h.check, true, now),
            _ => self.insert(&mut shard, h, true, now),
        }
    }

    fn abort(&self, topic: &str, key: &str) {
        let h = self.hashed(topic, key);
        let mut shard = self.shards[h.shard].lock();
        if shard
            .entries
            .get(&h.slot)
            .is_some_and(|e| e.check() == h.check && !e.consumed())
        {
            shard.entries.remove(&h.slot);
            self.len.fetch_sub(1, Ordering::Relaxed);
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
    fn capacity_holds_over_all_shards_and_the_newest_keys_stay() {
        let d = small(20_000, 60_000);
        assert_eq!(d.shards.len(), 4);
        for i in 0..30_000 {
            let k = format!("k{i}");
            assert_eq!(d.begin("t", &k), Begin::Proceed);
            d.commit("t", &k);
        }
        let held: usize = d.shards.iter().map(|s| s.lock().entries.len()).sum();
        assert_eq!(held, d.len());
        assert!((20_000..=20_004).contains(&d.len()), "{}", d.len());
        for i in 29_000..30_000 {
            assert_eq!(d.begin("t", &format!("k{i}")), Begin::Duplicate, "k{i}");
        }
        let forgotten = (0..1_000)
            .filter(|i| d.begin("t", &format!("k{i}")) == Begin::Proceed)
            .count();
        // Each shard evicts its own oldest key, so eviction is oldest-first per shard and about oldest-first overall.
        assert!(
            forgotten >= 950,
            "the oldest keys were evicted: {forgotten} of 1000"
        );
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
        assert!(d.shards[0].lock().order.len() <= 2 * 10 + 17);
    }
}
