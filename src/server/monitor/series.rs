//! One series (a topic, or the task total) in two tiers: fine points as ticks arrive, and coarse points, each the
//! aggregate of the fine points it covers, made when the fine tier moves past it. Slot numbers count resolutions
//! from the store's origin, so fine slot `k` lies in coarse slot `k / ratio`.

use std::ops::Range;

use super::interval::Interval;
use super::point::Point;
use super::ring::Ring;

/// Which tier of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TierKind {
    /// The fine tier.
    Fine,
    /// The coarse tier.
    Coarse,
}

/// A series' two tiers.
#[derive(Debug)]
pub(super) struct Series {
    fine: Ring,
    coarse: Ring,
    /// Fine points per coarse point.
    ratio: u64,
}

impl Series {
    /// An empty series holding at most `fine` and `coarse` points, `ratio` fine points to a coarse one.
    pub(super) fn new(fine: usize, coarse: usize, ratio: u64) -> Series {
        Series {
            fine: Ring::new(fine),
            coarse: Ring::new(coarse),
            ratio: ratio.max(1),
        }
    }

    /// Add `iv` to fine slot `slot`: into the newest point when `slot` is not after it (ticks faster than the
    /// resolution, or a clock set back), else as a new point, closing the coarse point the previous one was in
    /// when `slot` lies in a later one.
    pub(super) fn record(&mut self, slot: u64, iv: &Interval) {
        match self.fine.last_slot() {
            Some(last) if slot <= last => {
                let mut merged = self.fine.get(last).map(Interval::from).unwrap_or_default();
                merged.then(iv);
                self.fine.set_last(Point::from(&merged));
            }
            Some(last) if slot / self.ratio > last / self.ratio => {
                self.close(last / self.ratio);
                self.fine.put(slot, Point::from(iv));
            }
            _ => self.fine.put(slot, Point::from(iv)),
        }
    }

    /// The newest fine point and its slot.
    pub(super) fn last(&self) -> Option<(u64, Interval)> {
        let slot = self.fine.last_slot()?;
        Some((slot, self.fine.get(slot)?.into()))
    }

    /// The points of `tier` from the one holding slot `from` to the newest, `step` tier points to each returned
    /// one (buckets aligned on multiples of `step`), as (first slot of the bucket, aggregate). The coarse tier's
    /// newest point is the one still open, aggregated from the fine points so far.
    pub(super) fn points(&self, tier: TierKind, from: u64, step: u64) -> Vec<(u64, Interval)> {
        let step = step.max(1);
        let (Some(oldest), Some(newest)) = (self.oldest(tier), self.newest(tier)) else {
            return Vec::new();
        };
        let start = from.max(oldest) / step * step;
        (start..=newest)
            .step_by(usize::try_from(step).unwrap_or(usize::MAX))
            .map(|b| {
                let parts = (b..b + step).filter_map(|slot| self.get(tier, slot));
                (b, Interval::aggregate(parts, step))
            })
            .collect()
    }

    /// Heap bytes held by both tiers.
    pub(super) fn heap_bytes(&self) -> usize {
        self.fine.heap_bytes() + self.coarse.heap_bytes()
    }

    /// Oldest slot `tier` can answer for.
    fn oldest(&self, tier: TierKind) -> Option<u64> {
        let fine = self.fine.first_slot();
        match tier {
            TierKind::Fine => fine,
            TierKind::Coarse => self.coarse.first_slot().or(fine.map(|s| s / self.ratio)),
        }
    }

    /// Newest slot of `tier` (for the coarse tier, the open one).
    fn newest(&self, tier: TierKind) -> Option<u64> {
        let fine = self.fine.last_slot();
        match tier {
            TierKind::Fine => fine,
            TierKind::Coarse => fine.map(|s| s / self.ratio),
        }
    }

    /// One point of `tier`: stored, or for the open coarse slot aggregated from the fine tier.
    fn get(&self, tier: TierKind, slot: u64) -> Option<Interval> {
        match tier {
            TierKind::Fine => self.fine.get(slot).map(Interval::from),
            TierKind::Coarse => match self.coarse.get(slot) {
                Some(p) => Some(p.into()),
                None if Some(slot) == self.newest(TierKind::Coarse) => Some(self.aggregate(slot)),
                None => None,
            },
        }
    }

    /// Coarse slot `coarse` is over: store the aggregate of its fine points.
    fn close(&mut self, coarse: u64) {
        let iv = self.aggregate(coarse);
        self.coarse.put(coarse, Point::from(&iv));
    }

    /// The aggregate of the fine points of coarse slot `coarse`.
    fn aggregate(&self, coarse: u64) -> Interval {
        let slots: Range<u64> = coarse * self.ratio..(coarse + 1) * self.ratio;
        Interval::aggregate(
            slots.filter_map(|s| self.fine.get(s).map(Interval::from)),
            self.ratio,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: u64) -> Interval {
        let mut i = Interval::default();
        i.source.stored = Some(n);
        i.source.backlog = Some(n * 100);
        i.duplicates = 1;
        i
    }

    #[test]
    fn coarse_points_aggregate_the_fine_points_they_cover() {
        let mut s = Series::new(12, 4, 3);
        for slot in 0..7 {
            s.record(slot, &stored(slot + 1));
        }
        // Coarse 0 = fine 0..3, coarse 1 = fine 3..6 are closed; coarse 2 is open (fine 6 so far).
        let coarse = s.points(TierKind::Coarse, 0, 1);
        assert_eq!(coarse.len(), 3);
        assert_eq!(coarse[0].1.source.stored, Some(1 + 2 + 3));
        assert_eq!(coarse[0].1.source.backlog, Some(300));
        assert_eq!(coarse[0].1.duplicates, 3);
        assert_eq!(coarse[1].1.source.stored, Some(4 + 5 + 6));
        // The open point: one fine point of three known so far, its rate stands for the whole.
        assert_eq!(coarse[2], (2, Interval::aggregate([stored(7)], 3)));
        assert_eq!(coarse[2].1.source.stored, Some(21));
        assert_eq!(s.coarse.len(), 2);
    }

    #[test]
    fn ticks_within_a_slot_add_up() {
        let mut s = Series::new(12, 4, 3);
        s.record(0, &stored(2));
        s.record(0, &stored(3));
        s.record(0, &Interval::default());
        let (slot, last) = s.last().unwrap();
        assert_eq!(slot, 0);
        assert_eq!(last.source.stored, Some(5));
        assert_eq!(last.source.backlog, Some(300));
        assert_eq!(last.duplicates, 2);
    }

    #[test]
    fn query_buckets_and_bounds() {
        let mut s = Series::new(6, 4, 3);
        for slot in 0..10 {
            s.record(slot, &stored(1));
        }
        let fine = s.points(TierKind::Fine, 0, 1);
        assert_eq!(
            fine.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [4, 5, 6, 7, 8, 9]
        );
        let from7 = s.points(TierKind::Fine, 7, 1);
        assert_eq!(from7.len(), 3);
        // Buckets of two fine points, aligned on even slots.
        let pairs = s.points(TierKind::Fine, 0, 2);
        assert_eq!(pairs.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [4, 6, 8]);
        assert!(pairs.iter().all(|(_, iv)| iv.source.stored == Some(2)));
        assert!(Series::new(6, 4, 3)
            .points(TierKind::Coarse, 0, 1)
            .is_empty());
    }

    #[test]
    fn a_jump_leaves_gaps_in_both_tiers() {
        let mut s = Series::new(12, 8, 3);
        s.record(0, &stored(1));
        s.record(10, &stored(1));
        let coarse = s.points(TierKind::Coarse, 0, 1);
        assert_eq!(coarse.len(), 4);
        assert_eq!(coarse[0].1.source.stored, Some(3));
        assert_eq!(coarse[1].1.source.stored, None);
        assert_eq!(coarse[2].1.source.stored, None);
        assert_eq!(coarse[3].1.source.stored, Some(3));
    }
}
