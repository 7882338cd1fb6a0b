//! A stored point: one interval of one series, both clusters, in 48 bytes. No timestamp (a ring knows the slot of
//! its oldest point and the resolution); deltas and counts are `u32`, saturating; an unknown value is
//! [`UNKNOWN`] (`u32::MAX`), so known values saturate one below it.

use super::interval::{ClusterInterval, Interval};

/// The sentinel for an unknown delta or backlog.
pub(super) const UNKNOWN: u32 = u32::MAX;

/// One cluster of a stored point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ClusterPoint {
    stored: u32,
    consumed: u32,
    backlog: u32,
    sent: u32,
    received: u32,
}

/// One interval of a series, packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Point {
    source: ClusterPoint,
    target: ClusterPoint,
    failed_over: u32,
    duplicates: u32,
}

const _: () = assert!(std::mem::size_of::<Point>() == 48);

impl Point {
    /// An interval nothing is known about: unknown deltas and backlog, no counts.
    pub(super) const GAP: Point = Point {
        source: ClusterPoint::GAP,
        target: ClusterPoint::GAP,
        failed_over: 0,
        duplicates: 0,
    };
}

impl ClusterPoint {
    const GAP: ClusterPoint = ClusterPoint {
        stored: UNKNOWN,
        consumed: UNKNOWN,
        backlog: UNKNOWN,
        sent: 0,
        received: 0,
    };
}

/// A known value saturates at `UNKNOWN - 1`; `None` packs to [`UNKNOWN`].
fn pack(v: Option<u64>) -> u32 {
    v.map_or(UNKNOWN, |v| {
        u32::try_from(v).unwrap_or(UNKNOWN - 1).min(UNKNOWN - 1)
    })
}

/// [`UNKNOWN`] unpacks to `None`.
fn unpack(v: u32) -> Option<u64> {
    (v != UNKNOWN).then_some(u64::from(v))
}

/// A count saturates at `u32::MAX` (counts are never unknown).
fn count(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl From<&ClusterInterval> for ClusterPoint {
    fn from(c: &ClusterInterval) -> Self {
        ClusterPoint {
            stored: pack(c.stored),
            consumed: pack(c.consumed),
            backlog: pack(c.backlog),
            sent: count(c.sent),
            received: count(c.received),
        }
    }
}

impl From<ClusterPoint> for ClusterInterval {
    fn from(c: ClusterPoint) -> Self {
        ClusterInterval {
            stored: unpack(c.stored),
            consumed: unpack(c.consumed),
            backlog: unpack(c.backlog),
            sent: u64::from(c.sent),
            received: u64::from(c.received),
        }
    }
}

impl From<&Interval> for Point {
    fn from(i: &Interval) -> Self {
        Point {
            source: ClusterPoint::from(&i.source),
            target: ClusterPoint::from(&i.target),
            failed_over: count(i.failed_over),
            duplicates: count(i.duplicates),
        }
    }
}

impl From<Point> for Interval {
    fn from(p: Point) -> Self {
        Interval {
            source: p.source.into(),
            target: p.target.into(),
            failed_over: u64::from(p.failed_over),
            duplicates: u64::from(p.duplicates),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_gaps_and_saturates() {
        let mut i = Interval::default();
        i.source.stored = Some(12);
        i.source.backlog = Some(u64::MAX);
        i.target.consumed = Some(u64::from(u32::MAX));
        i.target.sent = u64::MAX;
        i.duplicates = 3;
        let back = Interval::from(Point::from(&i));
        assert_eq!(back.source.stored, Some(12));
        assert_eq!(back.source.consumed, None);
        assert_eq!(back.source.backlog, Some(u64::from(UNKNOWN - 1)));
        assert_eq!(back.target.consumed, Some(u64::from(UNKNOWN - 1)));
        assert_eq!(back.target.stored, None);
        assert_eq!(back.target.sent, u64::from(u32::MAX));
        assert_eq!(back.duplicates, 3);
        assert_eq!(Interval::from(Point::GAP), Interval::default());
    }
}
