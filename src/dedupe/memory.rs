//! A bounded in-memory [`Deduplicator`]: capacity- and TTL-limited, with consuming and consumed states.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use xxhash_rust::xxh3::{xxh3_128_with_seed, Xxh3};

use super::clock::Clock;
use super::table::{Entry, Peek, Probe, Table};
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

/// Most shards a store is split into; each has its own lock, table region and order queue.
const MAX_SHARDS: usize = 16;

/// A store gets one shard per this many keys of capacity (a small store keeps exact oldest-first eviction).
const KEYS_PER_SHARD: usize = 4096;

/// Longest TTL a store honours: timestamps are `u32` milliseconds, compared with wrapping arithmetic.
const MAX_TTL_MS: u32 = i32::MAX as u32;

/// The 128-bit seeded XXH3 hash of a (topic, key) pair: the tag and the table position (see [`Table::probe`]).
fn hash(seed: u64, topic: &str, key: &str) -> u128 {
    // One identity per (topic, key): the topic, a separator no topic name contains, the key. Short pairs are
    // hashed from a stack copy in one shot; long ones streamed (both give the same digest).
    let len = topic.len() + 1 + key.len();
    let mut buf = [0u8; 160];
    if len <= buf.len() {
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
    }
}

/// TTLs in milliseconds, as the shards compare them.
#[derive(Clone, Copy, Debug)]
struct Ttls {
    consumed: u32,
    consuming: u32,
}

impl Ttls {
    fn expired(self, e: Entry, now: u32) -> bool {
        let ttl = if e.consumed {
            self.consumed
        } else {
            self.consuming
        };
        now.wrapping_sub(e.at) >= ttl
    }
}

/// An order row: a key inserted at `at` into `bucket`, known there by `tag`. A row is current while its key's
/// entry carries the same `at`; a row whose entry changed since (commit) is moved to the back when it reaches the
/// front, and rows of removed or overwritten entries are dropped there.
#[derive(Clone, Copy, Debug)]
struct Row {
    tag: u64,
    bucket: u32,
    at: u32,
}

#[derive(Debug, Default)]
struct Shard {
    // Rows in insertion order, for expiry and eviction.
    order: VecDeque<Row>,
    // This shard's share of the capacity; only sizes the compaction of dead order rows (the capacity itself is
    // enforced over all shards by `MemoryDeduplicator::len`).
    nominal: usize,
}

impl Shard {
    /// Drop expired keys from the front, and the `need` oldest keys even if live (the store is full). Returns how
    /// many keys were dropped; an expired key dropped counts towards `need`. The shard's lock is held (`&mut`).
    fn trim(&mut self, table: &Table, ttls: Ttls, now: u32, mut need: usize) -> usize {
        let mut removed = 0;
        while let Some(&row) = self.order.front() {
            match table.find_in(row.bucket as usize, row.tag) {
                Some((_, e)) if e.at != row.at => {
                    // Changed since this row was queued: requeue it under its current time.
                    self.order.pop_front();
                    self.order.push_back(Row { at: e.at, ..row });
                }
                Some((slot, e)) => {
                    let expired = ttls.expired(e, now);
                    if !expired && need == 0 {
                        break;
                    }
                    if !expired && !e.consumed {
                        tracing::warn!(
                            "dedupe store full: evicting a key that is still being consumed; raise the capacity"
                        );
                    }
                    self.order.pop_front();
                    table.clear(slot);
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
            self.order.retain(|r| {
                table
                    .find_in(r.bucket as usize, r.tag)
                    .is_some_and(|(_, e)| e.at == r.at)
            });
        }
        removed
    }
}

/// Bounded in-memory deduplicator, the default of the migrating consumer.
///
/// It dedupes within one process. Consumer instances in different processes need a shared store.
///
/// It holds no strings: a (topic, key) pair is kept as a 63-bit tag of a seeded XXH3-128 hash, a state bit and a
/// 32-bit timestamp in a cache-line-sized bucket of a table allocated up front (the OS commits its pages as they
/// are used), plus a 16-byte row of an insertion-order queue: about 48 bytes per key of capacity, in up to 16
/// independently locked shards. Checking a held key reads one or two cache lines and takes no lock.
///
/// Two different pairs would have to agree on all 63 tag bits in the same bucket to be mistaken for each other
/// (about 2^-60 per lookup); when the two buckets a new pair may use are full, the oldest pair in them is
/// forgotten, so the cost of any other collision is at most a duplicate delivered, never a message withheld. TTLs
/// are capped at 24 days.
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
    clock: Clock,
    table: Table,
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
            .field("table", &self.table)
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
    pub fn new(config: MemoryDeduplicatorConfig) -> Self {
        let per_shard = Self::shards_for(config.capacity.max(1)).1;
        Self::with_buckets(config, Table::buckets_for(per_shard))
    }

    /// (shards, keys per shard) for `capacity`.
    fn shards_for(capacity: usize) -> (usize, usize) {
        let shards = (capacity / KEYS_PER_SHARD)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        (shards, capacity.div_ceil(shards))
    }

    /// [`Self::new`] with `buckets` table buckets per shard (a power of two; tests force collisions with few).
    fn with_buckets(mut config: MemoryDeduplicatorConfig, buckets: usize) -> Self {
        config.capacity = config.capacity.max(1);
        let ttls = Ttls {
            consumed: ttl_ms("ttl", config.ttl),
            consuming: ttl_ms("consuming_ttl", config.consuming_ttl),
        };
        let (shards, per_shard) = Self::shards_for(config.capacity);
        MemoryDeduplicator {
            ttls,
            seed: rand::random(),
            clock: Clock::new(),
            table: Table::new(shards, buckets),
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        nominal: per_shard,
                        order: VecDeque::new(),
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

    /// Remember the new key `p` (not held; its shard's lock held): expired keys at the shard's front go first, and
    /// when the store is full its oldest key too. The store can exceed its capacity by a few keys: one per
    /// concurrent caller, and one per shard that was empty when the store was full.
    fn insert(&self, shard: &mut Shard, p: &Probe, consumed: bool, now: u32) {
        let need = usize::from(self.len.load(Ordering::Relaxed) >= self.config.capacity);
        let removed = shard.trim(&self.table, self.ttls, now, need);
        let (slot, old) = self.table.vacancy(p, now, |e| self.ttls.expired(e, now));
        // An overwritten entry (expired, or the oldest of two full buckets) is forgotten; its row dies.
        self.len
            .fetch_sub(removed + usize::from(old.is_some()), Ordering::Relaxed);
        self.table.set(slot, p, Entry { consumed, at: now });
        self.len.fetch_add(1, Ordering::Relaxed);
        shard.order.push_back(Row {
            tag: Table::tag(p),
            bucket: slot.bucket() as u32,
            at: now,
        });
    }

    fn probe(&self, topic: &str, key: &str) -> Probe {
        self.table.probe(hash(self.seed, topic, key))
    }

    /// Milliseconds since the store was made, wrapping every 49.7 days (TTLs are at most half of that).
    fn now(&self) -> u32 {
        self.clock.now()
    }

    fn held(&self, e: Entry) -> Begin {
        if e.consumed {
            Begin::Duplicate
        } else {
            Begin::InFlight
        }
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn begin(&self, topic: &str, key: &str) -> Begin {
        let p = self.probe(topic, key);
        // Lock-free first: a held, live key is answered from one read of its buckets.
        if let Peek::Held(e) = self.table.peek(&p) {
            if !self.ttls.expired(e, self.now()) {
                return self.held(e);
            }
        }
        let mut shard = self.shards[p.region].lock();
        let now = self.now();
        match self.table.find(&p) {
            Some((_, e)) if !self.ttls.expired(e, now) => self.held(e),
            Some((slot, _)) => {
                // Expired: taken over in place, under a new row (the old one is requeued or dropped).
                self.table.set(
                    slot,
                    &p,
                    Entry {
                        consumed: false,
                        at: now,
                    },
                );
                shard.order.push_back(Row {
                    tag: Table::tag(&p),
                    bucket: slot.bucket() as u32,
                    at: now,
                });
                Begin::Proceed
            }
            None => {
                self.insert(&mut shard, &p, false, now);
                Begin::Proceed
            }
        }
    }

    fn commit(&self, topic: &str, key: &str) {
        let p = self.probe(topic, key);
        let mut shard = self.shards[p.region].lock();
        let now = self.now();
        match self.table.find(&p) {
            // Updated in place; its order row is requeued when it reaches the front.
            Some((slot, _)) => self.table.set(
                slot,
                &p,
                Entry {
                    consumed: true,
                    at: now,
                },
            ),
            None => self.insert(&mut shard, &p, true, now),
        }
    }

    fn abort(&self, topic: &str, key: &str) {
        let p = self.probe(topic, key);
        let _shard = self.shards[p.region].lock();
        if let Some((slot, e)) = self.table.find(&p) {
            if !e.consumed {
                self.table.clear(slot);
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
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
        assert_eq!(d.table.held(), d.len());
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
        std::thread::sleep(Duration::from_millis(50));
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

    fn tiny_table(capacity: usize, buckets: usize) -> MemoryDeduplicator {
        MemoryDeduplicator::with_buckets(
            MemoryDeduplicatorConfig {
                capacity,
                ..Default::default()
            },
            buckets,
        )
    }

    #[test]
    fn collisions_never_withhold_a_message() {
        // One bucket of 5 slots for 10,000 keys: every key collides with every other on its bucket, and a full
        // bucket forgets its oldest key. A new key is never taken for a held one; old ones may be let through.
        let d = tiny_table(10_000, 1);
        assert_eq!(d.table.slots(), super::super::table::WAYS * d.shards.len());
        for i in 0..10_000 {
            let k = format!("k{i}");
            assert_eq!(d.begin("t", &k), Begin::Proceed, "new key {k} withheld");
            if i % 3 == 0 {
                d.abort("t", &k);
            } else {
                d.commit("t", &k);
                assert_eq!(d.begin("t", &k), Begin::Duplicate, "the newest key is held");
            }
            assert_eq!(d.table.held(), d.len());
        }
        assert!(d.len() <= d.table.slots());
        // Consuming keys crowded out of the bucket are given up too: a later delivery proceeds, none is stuck.
        let d = tiny_table(100, 1);
        for i in 0..50 {
            assert_eq!(d.begin("t", &format!("c{i}")), Begin::Proceed);
        }
        let proceed = (0..50)
            .filter(|i| d.begin("t", &format!("c{i}")) == Begin::Proceed)
            .count();
        assert!(proceed >= 45, "{proceed}");
    }

    #[test]
    fn a_small_table_keeps_the_newest_keys_of_each_bucket() {
        // 4 buckets (20 slots) for a capacity of 1,000: the table, not the capacity, bounds what is held.
        let d = tiny_table(1_000, 4);
        for i in 0..200 {
            let k = format!("k{i}");
            assert_eq!(d.begin("t", &k), Begin::Proceed, "{k}");
            d.commit("t", &k);
        }
        assert_eq!(d.len(), d.table.held());
        assert!(d.len() <= 20);
        assert_eq!(
            d.begin("t", "k199"),
            Begin::Duplicate,
            "the newest key stays"
        );
    }

    #[test]
    fn the_default_table_is_at_most_half_full_at_capacity() {
        let d = small(1_000_000, 60_000);
        assert_eq!(d.shards.len(), 16);
        assert!(d.table.slots() >= 2 * 1_000_000);
        assert!(
            d.table.slots() * 64 / super::super::table::WAYS <= 32 << 20,
            "table at most 32 MiB"
        );
    }

    #[test]
    fn capacity_eviction_goes_through_the_order_queue_not_the_buckets() {
        // A table far larger than the capacity: what is forgotten is decided by insertion order alone.
        let d = small(1_000, 60_000);
        for i in 0..3_000 {
            let k = format!("k{i}");
            assert_eq!(d.begin("t", &k), Begin::Proceed);
            d.commit("t", &k);
        }
        assert_eq!(d.len(), 1_000);
        assert_eq!(d.table.held(), 1_000);
        // A row whose key was committed in a later millisecond than it began is requeued behind newer keys (as
        // before this table), so the cut is oldest-first give or take the keys of a millisecond.
        for i in 2_100..3_000 {
            assert_eq!(d.begin("t", &format!("k{i}")), Begin::Duplicate, "k{i}");
        }
        let forgotten = (0..2_000)
            .filter(|i| {
                let k = format!("k{i}");
                let b = d.begin("t", &k);
                d.abort("t", &k);
                b == Begin::Proceed
            })
            .count();
        assert!(forgotten >= 1_900, "{forgotten}");
    }

    #[test]
    fn ttl_expiry_in_place_and_on_insert() {
        let d = MemoryDeduplicator::new(MemoryDeduplicatorConfig {
            capacity: 100,
            ttl: Duration::from_millis(30),
            consuming_ttl: Duration::from_secs(60),
        });
        assert_eq!(d.begin("t", "consumed"), Begin::Proceed);
        d.commit("t", "consumed");
        assert_eq!(d.begin("t", "consuming"), Begin::Proceed);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            d.begin("t", "consuming"),
            Begin::InFlight,
            "consuming_ttl is longer"
        );
        // The expired key is taken over in its own slot: the store does not grow.
        assert_eq!(d.begin("t", "consumed"), Begin::Proceed);
        assert_eq!(d.len(), 2);
        assert_eq!(d.table.held(), 2);
        d.commit("t", "consumed");
        assert_eq!(d.begin("t", "consumed"), Begin::Duplicate);
    }

    #[test]
    fn concurrent_begins_admit_each_key_once() {
        let d = std::sync::Arc::new(small(100_000, 60_000));
        let admitted: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let d = d.clone();
                    s.spawn(move || {
                        (0..20_000)
                            .filter(|i| {
                                let k = format!("k{i}");
                                let b = d.begin("t", &k);
                                if b == Begin::Proceed {
                                    d.commit("t", &k);
                                }
                                b == Begin::Proceed
                            })
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("no panic")).sum()
        });
        assert_eq!(admitted, 20_000);
        assert_eq!(d.len(), 20_000);
    }
}
