//! The one-miss table behind [`super::MemoryDeduplicator`]: bucketed open addressing with a key's tag, state and
//! timestamp in the same 64-byte cache line, read without a lock.
//!
//! A bucket is one cache line holding [`WAYS`] slots: a 64-bit tag word per slot (63 hash bits, the low bit set
//! once the key was consumed; 0 is an empty slot), a 32-bit millisecond timestamp per slot, and a sequence word.
//! Each key has two candidate buckets (two independent hash choices, tried together so their misses overlap);
//! it lives in exactly one of them. The table is split into regions, one per shard of the store: a writer holds
//! its shard's lock, so each bucket has one writer at a time, and bumps the bucket's sequence word around every
//! change (a seqlock). Readers take no lock: they read a bucket between two loads of its sequence word and retry
//! under the lock when a writer was active, so a lock-free answer is always one the table held at some instant.
//!
//! Entries never move between buckets; when both buckets of a new key are full of live entries, the oldest of
//! them is overwritten. That forgets a key early (a later delivery of it is let through), it never makes a new
//! key look held.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Slots per bucket: 5 × (8-byte tag + 4-byte time) + a 4-byte sequence word = 64 bytes.
pub(super) const WAYS: usize = 5;

/// The low bit of a tag word: set once the key was consumed.
pub(super) const CONSUMED: u64 = 1;

/// One cache line of slots.
#[repr(C, align(64))]
#[derive(Default)]
struct Bucket {
    tags: [AtomicU64; WAYS],
    ats: [AtomicU32; WAYS],
    // Odd while a writer changes the bucket.
    seq: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<Bucket>() == 64);

/// Where a key may live and what its slot must carry: the region (shard), its two candidate buckets (absolute
/// indexes) and its tag (low bit clear, never 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Probe {
    pub(super) region: usize,
    buckets: [usize; 2],
    tag: u64,
}

/// A slot's content: whether the key was consumed and the time of its last change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) consumed: bool,
    pub(super) at: u32,
}

/// A slot's address, valid while the region's lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlotRef {
    bucket: usize,
    way: usize,
}

impl SlotRef {
    /// The bucket index, kept in the store's order rows.
    pub(super) fn bucket(self) -> usize {
        self.bucket
    }
}

/// Answer of the lock-free [`Table::peek`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Peek {
    /// The key is held with this entry.
    Held(Entry),
    /// The key is not held.
    Absent,
    /// A writer was changing a bucket: ask again under the lock.
    Busy,
}

/// The table: `regions` × `per_region` buckets, allocated zeroed up front (the OS commits pages as they are
/// touched).
pub(super) struct Table {
    buckets: Box<[Bucket]>,
    region_mask: usize,
    region_bits: u32,
    bucket_mask: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("buckets", &self.buckets.len())
            .field("regions", &(self.region_mask + 1))
            .finish()
    }
}

impl Table {
    /// A table of `regions` regions (a power of two) of `per_region` buckets each (a power of two).
    pub(super) fn new(regions: usize, per_region: usize) -> Table {
        debug_assert!(regions.is_power_of_two() && per_region.is_power_of_two());
        Table {
            buckets: (0..regions * per_region)
                .map(|_| Bucket::default())
                .collect(),
            region_mask: regions - 1,
            region_bits: per_region.trailing_zeros(),
            bucket_mask: per_region - 1,
        }
    }

    /// Buckets per region that hold `keys` keys at most half full, so two choices almost never overflow.
    pub(super) fn buckets_for(keys: usize) -> usize {
        (keys.saturating_mul(2).div_ceil(WAYS))
            .max(2)
            .next_power_of_two()
    }

    /// Total slots (for tests and sizing).
    #[cfg(test)]
    pub(super) fn slots(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// The probe of a 128-bit key hash: the high half is the tag, the low half picks region and buckets.
    pub(super) fn probe(&self, h: u128) -> Probe {
        let lo = h as u64;
        let tag = ((h >> 64) as u64 & !CONSUMED).max(2);
        let region = (lo >> 58) as usize & self.region_mask;
        let base = region << self.region_bits;
        Probe {
            region,
            buckets: [
                base | (lo as usize & self.bucket_mask),
                base | ((lo >> 29) as usize & self.bucket_mask),
            ],
            tag,
        }
    }

    /// Look `p` up without a lock. Both candidate buckets are loaded before either is searched, so their cache
    /// misses overlap.
    pub(super) fn peek(&self, p: &Probe) -> Peek {
        let [a, b] = p.buckets.map(|i| &self.buckets[i]);
        let sa = a.seq.load(Ordering::Acquire);
        let sb = b.seq.load(Ordering::Acquire);
        if (sa | sb) & 1 != 0 {
            return Peek::Busy;
        }
        let found = scan(a, p.tag).or_else(|| scan(b, p.tag));
        // Seqlock read side: the relaxed slot loads above happen before the re-check of the sequence words.
        fence(Ordering::Acquire);
        if a.seq.load(Ordering::Relaxed) != sa || b.seq.load(Ordering::Relaxed) != sb {
            return Peek::Busy;
        }
        match found {
            Some((_, e)) => Peek::Held(e),
            None => Peek::Absent,
        }
    }

    /// Find `p`'s slot. The caller holds the region's lock.
    pub(super) fn find(&self, p: &Probe) -> Option<(SlotRef, Entry)> {
        p.buckets.iter().find_map(|&bucket| {
            scan(&self.buckets[bucket], p.tag).map(|(way, e)| (SlotRef { bucket, way }, e))
        })
    }

    /// Find the slot of the tag `tag` in bucket `bucket` (an order row). The caller holds the region's lock.
    pub(super) fn find_in(&self, bucket: usize, tag: u64) -> Option<(SlotRef, Entry)> {
        scan(&self.buckets[bucket], tag).map(|(way, e)| (SlotRef { bucket, way }, e))
    }

    /// A slot for the new key `p` (not held): an empty one, else one whose entry `expired` says may go, else the
    /// oldest of both buckets. Empty slots and the less loaded bucket are preferred, so keys spread evenly.
    /// Returns the slot and the entry it held, if any (the caller drops it from its count). The caller holds the
    /// region's lock.
    pub(super) fn vacancy(
        &self,
        p: &Probe,
        now: u32,
        expired: impl Fn(Entry) -> bool,
    ) -> (SlotRef, Option<Entry>) {
        let mut empty: Option<(SlotRef, usize)> = None;
        let mut stale = None;
        let mut oldest: Option<(SlotRef, Entry)> = None;
        for &bucket in &p.buckets {
            let bk = &self.buckets[bucket];
            let mut free = None;
            let mut used = 0;
            for way in 0..WAYS {
                let t = bk.tags[way].load(Ordering::Relaxed);
                if t == 0 {
                    free.get_or_insert(way);
                    continue;
                }
                used += 1;
                let e = entry(t, bk.ats[way].load(Ordering::Relaxed));
                let slot = SlotRef { bucket, way };
                if stale.is_none() && expired(e) {
                    stale = Some((slot, e));
                }
                if oldest.is_none_or(|(_, o)| now.wrapping_sub(e.at) > now.wrapping_sub(o.at)) {
                    oldest = Some((slot, e));
                }
            }
            if let Some(way) = free {
                if empty.is_none_or(|(_, u)| used < u) {
                    empty = Some((SlotRef { bucket, way }, used));
                }
            }
        }
        if let Some((slot, _)) = empty {
            return (slot, None);
        }
        let (slot, e) = stale.or(oldest).unwrap_or((
            SlotRef {
                bucket: p.buckets[0],
                way: 0,
            },
            Entry {
                consumed: false,
                at: now,
            },
        ));
        (slot, Some(e))
    }

    /// Store `p`'s key in `slot` with `e`. The caller holds the region's lock.
    pub(super) fn set(&self, slot: SlotRef, p: &Probe, e: Entry) {
        let tag = p.tag | if e.consumed { CONSUMED } else { 0 };
        self.write(slot, tag, e.at);
    }

    /// Empty `slot`. The caller holds the region's lock.
    pub(super) fn clear(&self, slot: SlotRef) {
        self.write(slot, 0, 0);
    }

    /// The tag of `p`, kept in the store's order rows.
    pub(super) fn tag(p: &Probe) -> u64 {
        p.tag
    }

    /// Every held entry, for tests.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.buckets
            .iter()
            .flat_map(|b| b.tags.iter())
            .filter(|t| t.load(Ordering::Relaxed) != 0)
            .count()
    }

    fn write(&self, slot: SlotRef, tag: u64, at: u32) {
        let bk = &self.buckets[slot.bucket];
        // Seqlock write side (one writer per bucket: the region's lock): odd, release fence, data, even.
        let s = bk.seq.load(Ordering::Relaxed);
        bk.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        bk.tags[slot.way].store(tag, Ordering::Relaxed);
        bk.ats[slot.way].store(at, Ordering::Relaxed);
        bk.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

fn entry(tag: u64, at: u32) -> Entry {
    Entry {
        consumed: tag & CONSUMED != 0,
        at,
    }
}

/// The way and entry of `tag` (low bit ignored) in `bk`.
#[inline(always)]
fn scan(bk: &Bucket, tag: u64) -> Option<(usize, Entry)> {
    (0..WAYS).find_map(|way| {
        let t = bk.tags[way].load(Ordering::Relaxed);
        (t & !CONSUMED == tag).then(|| (way, entry(t, bk.ats[way].load(Ordering::Relaxed))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        assert_eq!(std::mem::align_of::<Bucket>(), 64);
        let t = Table::new(4, 8);
        assert_eq!(t.buckets.as_ptr() as usize % 64, 0);
        assert_eq!(t.slots(), 4 * 8 * WAYS);
    }

    #[test]
    fn set_find_peek_clear() {
        let t = Table::new(2, 4);
        let p = t.probe(0xDEAD_BEEF_0123_4567_89AB_CDEF_0011_2233);
        assert!(p.buckets.iter().all(|b| b >> 2 == p.region));
        assert_eq!(t.peek(&p), Peek::Absent);
        let (slot, old) = t.vacancy(&p, 10, |_| false);
        assert_eq!(old, None);
        let e = Entry {
            consumed: true,
            at: 7,
        };
        t.set(slot, &p, e);
        assert_eq!(t.peek(&p), Peek::Held(e));
        assert_eq!(t.find(&p), Some((slot, e)));
        assert_eq!(t.find_in(slot.bucket(), Table::tag(&p)), Some((slot, e)));
        t.clear(slot);
        assert_eq!(t.peek(&p), Peek::Absent);
        assert_eq!(t.held(), 0);
    }

    #[test]
    fn a_busy_bucket_is_not_read() {
        let t = Table::new(1, 2);
        let p = t.probe(1);
        t.buckets[p.buckets[0]].seq.store(1, Ordering::Relaxed);
        assert_eq!(t.peek(&p), Peek::Busy);
    }

    #[test]
    fn a_full_pair_gives_up_an_expired_slot_first_then_the_oldest() {
        // One region of one bucket: both choices are the same bucket.
        let t = Table::new(1, 1);
        for i in 0..WAYS as u128 {
            let p = t.probe((i + 1) << 64);
            let (slot, old) = t.vacancy(&p, 100, |_| false);
            assert_eq!(old, None);
            t.set(
                slot,
                &p,
                Entry {
                    consumed: true,
                    at: 50 + i as u32,
                },
            );
        }
        let p = t.probe(99 << 64);
        let (_, old) = t.vacancy(&p, 100, |e| e.at == 52);
        assert_eq!(old.map(|e| e.at), Some(52), "an expired slot goes first");
        let (_, old) = t.vacancy(&p, 100, |_| false);
        assert_eq!(old.map(|e| e.at), Some(50), "else the oldest");
    }
}
