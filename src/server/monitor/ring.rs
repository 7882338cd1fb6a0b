//! A bounded ring of points addressed by slot number (slot `k` starts at the series' origin plus `k`
//! resolutions), so points carry no timestamp. It grows as points arrive, doubling up to its bound, and once full
//! each new point replaces the oldest.

use super::point::Point;

/// Fewest points a ring allocates once it holds any.
const FIRST_ALLOCATION: usize = 16;

/// Points of consecutive slots, at most `max`.
#[derive(Debug)]
pub(super) struct Ring {
    points: Vec<Point>,
    max: usize,
    /// Index in `points` of the oldest point (0 until the ring is full).
    head: usize,
    /// Slot of the oldest point.
    first: u64,
}

impl Ring {
    /// An empty ring of at most `max` points (at least 1); nothing is allocated yet.
    pub(super) fn new(max: usize) -> Ring {
        Ring {
            points: Vec::new(),
            max: max.max(1),
            head: 0,
            first: 0,
        }
    }

    /// Points held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.points.len()
    }

    /// Slot of the oldest point held.
    pub(super) fn first_slot(&self) -> Option<u64> {
        (!self.points.is_empty()).then_some(self.first)
    }

    /// Slot of the newest point held.
    pub(super) fn last_slot(&self) -> Option<u64> {
        (!self.points.is_empty()).then(|| self.first + self.points.len() as u64 - 1)
    }

    /// The point of `slot`, if held.
    pub(super) fn get(&self, slot: u64) -> Option<Point> {
        let offset = usize::try_from(slot.checked_sub(self.first)?).ok()?;
        (offset < self.points.len()).then(|| self.points[(self.head + offset) % self.points.len()])
    }

    /// Replace the newest point (no-op on an empty ring).
    pub(super) fn set_last(&mut self, p: Point) {
        if let Some(last) = self.last_slot() {
            let i = (self.head + (last - self.first) as usize) % self.points.len();
            self.points[i] = p;
        }
    }

    /// Put `p` at `slot`, after the newest point: slots skipped in between become gaps, and a skip of the whole
    /// ring or more starts it over at `slot`. A `slot` at or before the newest one replaces the newest.
    pub(super) fn put(&mut self, slot: u64, p: Point) {
        let Some(last) = self.last_slot() else {
            self.first = slot;
            self.push(p);
            return;
        };
        if slot <= last {
            self.set_last(p);
            return;
        }
        let skipped = slot - last - 1;
        if skipped >= self.max as u64 {
            self.points.clear();
            self.head = 0;
            self.first = slot;
        } else {
            for _ in 0..skipped {
                self.push(Point::GAP);
            }
        }
        self.push(p);
    }

    /// Heap bytes held (allocated capacity, used or not).
    pub(super) fn heap_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
    }

    /// Append the next slot's point, growing (doubling, capped at `max`) or dropping the oldest.
    fn push(&mut self, p: Point) {
        if self.points.len() < self.max {
            if self.points.len() == self.points.capacity() {
                let want = (self.points.capacity() * 2)
                    .max(FIRST_ALLOCATION)
                    .min(self.max);
                self.points.reserve_exact(want - self.points.len());
            }
            self.points.push(p);
        } else {
            self.points[self.head] = p;
            self.head = (self.head + 1) % self.max;
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::monitor::interval::Interval;

    fn point(n: u64) -> Point {
        Point::from(&Interval {
            duplicates: n,
            ..Interval::default()
        })
    }

    fn value(r: &Ring, slot: u64) -> Option<u64> {
        r.get(slot).map(|p| Interval::from(p).duplicates)
    }

    #[test]
    fn grows_lazily_up_to_its_bound() {
        let mut r = Ring::new(40);
        assert_eq!(r.heap_bytes(), 0);
        r.put(5, point(1));
        assert_eq!(r.heap_bytes(), 16 * 48);
        for s in 6..100 {
            r.put(s, point(s));
        }
        assert_eq!(r.len(), 40);
        assert_eq!(r.heap_bytes(), 40 * 48);
        assert_eq!(r.first_slot(), Some(60));
        assert_eq!(r.last_slot(), Some(99));
    }

    #[test]
    fn wraps_around_dropping_the_oldest() {
        let mut r = Ring::new(4);
        for s in 0..10 {
            r.put(s, point(s));
        }
        assert_eq!(r.len(), 4);
        assert_eq!(value(&r, 5), None);
        assert_eq!(
            (6..10).map(|s| value(&r, s)).collect::<Vec<_>>(),
            [6, 7, 8, 9].map(Some)
        );
        assert_eq!(value(&r, 10), None);
        r.set_last(point(42));
        assert_eq!(value(&r, 9), Some(42));
    }

    #[test]
    fn skipped_slots_are_gaps_and_a_long_skip_starts_over() {
        let mut r = Ring::new(8);
        r.put(0, point(1));
        r.put(3, point(4));
        assert_eq!(r.get(1), Some(Point::GAP));
        assert_eq!(r.get(2), Some(Point::GAP));
        assert_eq!(value(&r, 3), Some(4));
        r.put(2, point(9)); // not after the newest: replaces it
        assert_eq!(value(&r, 3), Some(9));
        r.put(1_000_000, point(5));
        assert_eq!(r.len(), 1);
        assert_eq!(r.first_slot(), Some(1_000_000));
        assert_eq!(value(&r, 1_000_000), Some(5));
    }
}
