//! One interval of a series in plain numbers (what a stored point unpacks to) and the arithmetic on intervals:
//! deltas from two cumulative samples, successive ticks adding into one point, the sum over topics, aggregation
//! into longer intervals, and the wire form.

use std::time::{Duration, SystemTime};

use super::sample::{ClusterSample, TopicSample};
use crate::control::wire::{MonitorCluster, MonitorPoint};
use crate::server::state::audit::rfc3339;

/// One cluster over one interval. `None` is a gap: unknown, not zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ClusterInterval {
    /// Messages stored during the interval.
    pub(super) stored: Option<u64>,
    /// Messages consumed (committed) during the interval.
    pub(super) consumed: Option<u64>,
    /// Backlog at the end of the interval.
    pub(super) backlog: Option<u64>,
    /// Messages the shim clients sent during the interval.
    pub(super) sent: u64,
    /// Messages the shim clients received during the interval.
    pub(super) received: u64,
}

/// One interval of a series, both clusters. The default is a gap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Interval {
    /// On the source.
    pub(super) source: ClusterInterval,
    /// On the target.
    pub(super) target: ClusterInterval,
    /// Sends retried on the other cluster during the interval.
    pub(super) failed_over: u64,
    /// Duplicate deliveries suppressed during the interval.
    pub(super) duplicates: u64,
}

/// The growth of a cumulative count that only a reset takes back: a decrease means the counter started over, so
/// the new value is what was counted since.
fn counter_delta(prev: u64, now: u64) -> u64 {
    now.checked_sub(prev).unwrap_or(now)
}

/// The growth of a broker-side total: unknown when either end is unknown or it went down (a topic recreated, an
/// offset reset back, a group gone), since what happened in between cannot be told.
fn total_delta(prev: Option<u64>, now: Option<u64>) -> Option<u64> {
    now?.checked_sub(prev?)
}

/// The sum of the known values; unknown only when both are.
fn sum_known(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

/// Known values of one field over several intervals, for an aggregate.
#[derive(Default)]
struct Tally {
    sum: u64,
    known: u64,
}

impl Tally {
    fn add(&mut self, v: Option<u64>) {
        if let Some(v) = v {
            self.sum = self.sum.saturating_add(v);
            self.known += 1;
        }
    }

    /// The sum scaled to `n` intervals: the known intervals' average times `n` (so the rate over the aggregate is
    /// the rate over its known part); unknown when no interval was known.
    fn scaled(&self, n: u64) -> Option<u64> {
        let known = u128::from(self.known);
        (known > 0).then(|| {
            let v = (u128::from(self.sum) * u128::from(n) + known / 2) / known;
            u64::try_from(v).unwrap_or(u64::MAX)
        })
    }
}

/// [`Tally`]s of one cluster's deltas, plus its last known backlog and summed counts.
#[derive(Default)]
struct ClusterTally {
    stored: Tally,
    consumed: Tally,
    backlog: Option<u64>,
    sent: u64,
    received: u64,
}

impl ClusterTally {
    fn add(&mut self, c: &ClusterInterval) {
        self.stored.add(c.stored);
        self.consumed.add(c.consumed);
        self.backlog = c.backlog.or(self.backlog);
        self.sent = self.sent.saturating_add(c.sent);
        self.received = self.received.saturating_add(c.received);
    }

    fn finish(&self, n: u64) -> ClusterInterval {
        ClusterInterval {
            stored: self.stored.scaled(n),
            consumed: self.consumed.scaled(n),
            backlog: self.backlog,
            sent: self.sent,
            received: self.received,
        }
    }
}

impl ClusterInterval {
    /// The deltas from `prev` to `now` (see [`Interval::between`]).
    fn between(prev: &ClusterSample, now: &ClusterSample) -> Self {
        ClusterInterval {
            stored: total_delta(prev.stored, now.stored),
            consumed: total_delta(prev.consumed, now.consumed),
            backlog: now.backlog,
            sent: counter_delta(prev.sent, now.sent),
            received: counter_delta(prev.received, now.received),
        }
    }

    /// Only the backlog of `now`: no deltas without an earlier sample.
    fn baseline(now: &ClusterSample) -> Self {
        ClusterInterval {
            backlog: now.backlog,
            ..ClusterInterval::default()
        }
    }

    /// `later` happened after `self` within the same interval.
    fn then(&mut self, later: &ClusterInterval) {
        self.stored = sum_known(self.stored, later.stored);
        self.consumed = sum_known(self.consumed, later.consumed);
        self.backlog = later.backlog.or(self.backlog);
        self.sent = self.sent.saturating_add(later.sent);
        self.received = self.received.saturating_add(later.received);
    }

    /// `other` is another topic over the same interval.
    fn add(&mut self, other: &ClusterInterval) {
        self.stored = sum_known(self.stored, other.stored);
        self.consumed = sum_known(self.consumed, other.consumed);
        self.backlog = sum_known(self.backlog, other.backlog);
        self.sent = self.sent.saturating_add(other.sent);
        self.received = self.received.saturating_add(other.received);
    }

    /// The wire form: deltas as rates over `secs`.
    fn to_wire(self, secs: f64) -> MonitorCluster {
        let rate = |d: Option<u64>| d.map(|d| d as f64 / secs);
        MonitorCluster {
            stored_per_s: rate(self.stored),
            consumed_per_s: rate(self.consumed),
            backlog: self.backlog,
            sent: self.sent,
            received: self.received,
        }
    }
}

impl Interval {
    /// The interval from sample `prev` to sample `now`: broker totals' deltas (unknown when either end is, or when
    /// they went down), the backlog of `now`, and the shim counters' growth (a decrease is a reset: the delta is
    /// the new value).
    pub(super) fn between(prev: &TopicSample, now: &TopicSample) -> Self {
        Interval {
            source: ClusterInterval::between(&prev.source, &now.source),
            target: ClusterInterval::between(&prev.target, &now.target),
            failed_over: counter_delta(prev.failed_over, now.failed_over),
            duplicates: counter_delta(prev.duplicates, now.duplicates),
        }
    }

    /// A first sample (or one after too long a pause): only its backlog is known; it is the baseline of the next.
    pub(super) fn baseline(now: &TopicSample) -> Self {
        Interval {
            source: ClusterInterval::baseline(&now.source),
            target: ClusterInterval::baseline(&now.target),
            ..Interval::default()
        }
    }

    /// Add `later`, which happened after `self` within the same point: deltas and counts add (a gap on one side
    /// leaves the other's value), the later known backlog wins.
    pub(super) fn then(&mut self, later: &Interval) {
        self.source.then(&later.source);
        self.target.then(&later.target);
        self.failed_over = self.failed_over.saturating_add(later.failed_over);
        self.duplicates = self.duplicates.saturating_add(later.duplicates);
    }

    /// Add another topic's interval: everything adds, backlog too; a topic's gap counts as nothing, and a value
    /// is unknown only when it is unknown for every topic.
    pub(super) fn add(&mut self, other: &Interval) {
        self.source.add(&other.source);
        self.target.add(&other.target);
        self.failed_over = self.failed_over.saturating_add(other.failed_over);
        self.duplicates = self.duplicates.saturating_add(other.duplicates);
    }

    /// One interval for `n` consecutive intervals of which `parts` are those present, oldest first (absent ones
    /// are gaps): counts add, the last known backlog is kept, and each delta is the known parts' sum scaled to
    /// `n` (equal to the plain sum when none is a gap), so its rate is the rate over the known part.
    pub(super) fn aggregate(parts: impl IntoIterator<Item = Interval>, n: u64) -> Self {
        let (mut source, mut target) = (ClusterTally::default(), ClusterTally::default());
        let (mut failed_over, mut duplicates) = (0u64, 0u64);
        for p in parts {
            source.add(&p.source);
            target.add(&p.target);
            failed_over = failed_over.saturating_add(p.failed_over);
            duplicates = duplicates.saturating_add(p.duplicates);
        }
        Interval {
            source: source.finish(n),
            target: target.finish(n),
            failed_over,
            duplicates,
        }
    }

    /// The wire form of this interval, starting at `at` and lasting `length`: deltas become per-second rates.
    pub(super) fn to_wire(self, at: SystemTime, length: Duration) -> MonitorPoint {
        let secs = length.as_secs_f64().max(f64::MIN_POSITIVE);
        MonitorPoint {
            at: rfc3339(at),
            source: self.source.to_wire(secs),
            target: self.target.to_wire(secs),
            failed_over: self.failed_over,
            duplicates: self.duplicates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(stored: Option<u64>, sent: u64) -> TopicSample {
        let mut s = TopicSample::default();
        s.source.stored = stored;
        s.source.consumed = stored.map(|v| v / 2);
        s.source.backlog = Some(7);
        s.source.sent = sent;
        s.failed_over = sent / 10;
        s
    }

    #[test]
    fn deltas_come_from_cumulative_values() {
        let iv = Interval::between(&sample(Some(100), 50), &sample(Some(160), 80));
        assert_eq!(iv.source.stored, Some(60));
        assert_eq!(iv.source.consumed, Some(30));
        assert_eq!(iv.source.backlog, Some(7));
        assert_eq!(iv.source.sent, 30);
        assert_eq!(iv.failed_over, 3);
        assert_eq!(iv.target.stored, None);
    }

    #[test]
    fn a_counter_that_drops_was_reset_and_a_total_that_drops_is_a_gap() {
        let iv = Interval::between(&sample(Some(100), 500), &sample(Some(40), 20));
        assert_eq!(iv.source.sent, 20);
        assert_eq!(iv.failed_over, 2);
        assert_eq!(iv.source.stored, None);
        let iv = Interval::between(&sample(None, 0), &sample(Some(40), 0));
        assert_eq!(iv.source.stored, None);
    }

    #[test]
    fn aggregation_sums_and_scales_over_gaps() {
        let part = |stored: Option<u64>, backlog: Option<u64>| {
            let mut i = Interval::default();
            i.source.stored = stored;
            i.source.backlog = backlog;
            i.source.sent = 1;
            i
        };
        let full = Interval::aggregate([part(Some(10), Some(1)), part(Some(20), Some(2))], 2);
        assert_eq!(full.source.stored, Some(30));
        assert_eq!(full.source.backlog, Some(2));
        assert_eq!(full.source.sent, 2);
        // Half known: the known half's rate stands for the whole.
        let half = Interval::aggregate([part(Some(10), Some(1)), part(None, None)], 2);
        assert_eq!(half.source.stored, Some(20));
        assert_eq!(half.source.backlog, Some(1));
        let none = Interval::aggregate([part(None, None)], 4);
        assert_eq!(none.source.stored, None);
        assert_eq!(Interval::aggregate([], 3), Interval::default());
    }

    #[test]
    fn wire_rates_are_per_second_and_gaps_stay_gaps() {
        let mut i = Interval::default();
        i.target.consumed = Some(25);
        let w = i.to_wire(std::time::UNIX_EPOCH, Duration::from_secs(10));
        assert_eq!(w.at, "1970-01-01T00:00:00.000Z");
        assert_eq!(w.target.consumed_per_s, Some(2.5));
        assert_eq!(w.target.stored_per_s, None);
        assert_eq!(w.source.backlog, None);
    }
}
