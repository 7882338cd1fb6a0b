//! Migration monitoring: a bounded in-memory time-series store of what each topic does on each cluster, and of the
//! whole task (the sum over its topics).
//!
//! Per topic and for the task, per cluster: messages stored per second, consumed per second, backlog, and the shim
//! clients' send and receive counts; plus failovers and duplicates suppressed (not per cluster).
//!
//! * Input: once per tick the caller passes every topic's `TopicSample` (cumulative values as observed now) to
//!   `Monitor::record`, then calls `Monitor::end_tick`, which adds the tick's sum over topics to the task series.
//!   The store keeps each topic's previous sample and turns the two into one interval's deltas (`interval.rs`): a
//!   topic's first sample is only a baseline (no deltas); a broker total that is unknown at either end, or went
//!   down, is a gap (unknown, not zero); a shim counter that went down was reset (a client restarted or left), so
//!   its delta is its new value. In the task total a topic's gap counts as nothing.
//! * Time: slot `k` of a series covers `[origin + k·r, origin + (k+1)·r)` for resolution `r`, where the origin is
//!   the first tick. A tick at `t` delivers the interval ending at `t`, put in the slot whose end is nearest `t`,
//!   so a steady cadence with jitter below half a resolution fills each slot once. Ticks are expected at the fine
//!   resolution; faster ticks add into the same point, and slots no tick reached are gaps.
//! * Tiers (`MonitorConfig`): every series keeps fine points (10 s for 6 h) and coarse points aggregated from
//!   them (sum of deltas, last backlog; a delta some fine points lack is scaled up from the known ones): 1 min for
//!   7 d for the task, 10 min for 7 d per topic, which keeps memory bounded (`config.rs` has the figures: 152,064 B
//!   per topic when full, 152 MB for 1,000 topics).
//! * Points are compact (`point.rs`): 48 bytes for both clusters, no timestamp, `u32` deltas and backlog
//!   (saturating, `u32::MAX` for unknown), in rings that grow as points arrive (`ring.rs`).
//! * Queries: `Monitor::series` answers one topic or the task since a time, from the fine tier when that time
//!   is within its retention, else from the coarse tier (or as asked), with each point's start time in RFC 3339
//!   UTC and deltas as per-second rates; `Monitor::latest` is the newest fine point, for Prometheus.
//!
//! The store is plain data: the caller serializes access (a mutex) and drops topics that left the task with
//! `Monitor::retain`. It lives in memory only; a restarted control plane starts empty.

#[doc(hidden)]
pub mod bench;
mod config;
mod interval;
mod point;
mod ring;
mod sample;
mod series;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

pub(crate) use config::{MonitorConfig, Tier};
pub(crate) use sample::{ClusterSample, TopicSample};

use crate::control::wire::{MonitorDoc, MonitorPoint};
use crate::error::ConfigError;

use interval::Interval;
use series::{Series, TierKind};

/// The monitoring store: a series per topic and one for the task.
#[derive(Debug)]
pub(crate) struct Monitor {
    config: MonitorConfig,
    /// The first tick: slot 0 of every series starts here.
    origin: Option<SystemTime>,
    /// The newest tick.
    newest: Option<SystemTime>,
    topics: HashMap<String, Watched>,
    task: Series,
    /// The sum over topics of this tick's intervals so far.
    tick: Option<Interval>,
}

/// One topic: its series and the sample its next deltas start from.
#[derive(Debug)]
struct Watched {
    /// When `last` was observed.
    at: SystemTime,
    last: TopicSample,
    series: Series,
}

/// What [`Monitor::series`] answers: points of one resolution, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MonitorSeries {
    /// The time each point covers.
    pub(crate) resolution: Duration,
    /// The points; each one's `at` is the start of its interval (RFC 3339 UTC).
    pub(crate) points: Vec<MonitorPoint>,
}

impl MonitorSeries {
    /// The wire document for `topic` (`None`: the task).
    pub(crate) fn into_doc(self, topic: Option<String>) -> MonitorDoc {
        MonitorDoc {
            topic,
            resolution_s: self.resolution.as_secs(),
            points: self.points,
        }
    }
}

impl Watched {
    /// Take `sample`, observed at `at`, and add its interval to fine slot `slot`; returns the interval. After more
    /// than `max_step` since the previous sample the sample is only a new baseline.
    fn observe(
        &mut self,
        at: SystemTime,
        slot: u64,
        sample: TopicSample,
        max_step: Duration,
    ) -> Interval {
        let step = at.duration_since(self.at).unwrap_or(Duration::ZERO);
        let iv = if step > max_step {
            Interval::baseline(&sample)
        } else {
            Interval::between(&self.last, &sample)
        };
        (self.at, self.last) = (at, sample);
        self.series.record(slot, &iv);
        iv
    }
}

impl Monitor {
    /// An empty store; fails when the tiers do not fit together ([`MonitorConfig::validate`]).
    pub(crate) fn new(config: MonitorConfig) -> Result<Monitor, ConfigError> {
        config.validate()?;
        Ok(Monitor {
            task: Self::new_series(&config, &config.task_coarse),
            config,
            origin: None,
            newest: None,
            topics: HashMap::new(),
            tick: None,
        })
    }

    /// Record `topic`'s cumulative values as observed at `at` (call for every topic of a tick, then
    /// [`Monitor::end_tick`]). A topic seen for the first time starts watching with this sample as its baseline.
    pub(crate) fn record(&mut self, at: SystemTime, topic: &str, sample: TopicSample) {
        self.record_first_as(at, topic, sample, Interval::baseline);
    }

    /// As [`Monitor::record`], where the caller began counting the shim counters of a topic seen for the first
    /// time when the topic appeared (not before it was watching): its first sample counts them from zero (sends
    /// made before a later tick are not lost to the baseline); its broker totals are still only a baseline.
    pub(crate) fn record_counted(&mut self, at: SystemTime, topic: &str, sample: TopicSample) {
        self.record_first_as(at, topic, sample, |now| {
            Interval::between(&TopicSample::default(), now)
        });
    }

    /// Record `sample`; for a topic seen for the first time, `first` makes its first interval.
    fn record_first_as(
        &mut self,
        at: SystemTime,
        topic: &str,
        sample: TopicSample,
        first: impl FnOnce(&TopicSample) -> Interval,
    ) {
        let slot = self.tick_slot(at);
        let max_step = self.config.max_step;
        let iv = match self.topics.get_mut(topic) {
            Some(watched) => watched.observe(at, slot, sample, max_step),
            None => {
                let mut series = Self::new_series(&self.config, &self.config.topic_coarse);
                let iv = first(&sample);
                series.record(slot, &iv);
                self.topics.insert(
                    topic.to_owned(),
                    Watched {
                        at,
                        last: sample,
                        series,
                    },
                );
                iv
            }
        };
        self.tick.get_or_insert_default().add(&iv);
    }

    /// End the tick at `at`: the sum over the topics recorded since the previous call becomes the task's point.
    /// A tick that recorded no topic adds nothing (the slot stays a gap).
    pub(crate) fn end_tick(&mut self, at: SystemTime) {
        if let Some(total) = self.tick.take() {
            let slot = self.tick_slot(at);
            self.task.record(slot, &total);
        }
    }

    /// Keep only the topics `keep` says yes to (the others left the task; their history goes with them, what they
    /// added to the task's points stays).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.topics.retain(|topic, _| keep(topic));
    }

    /// The points of `topic` (`None`: the task) from the one holding `since` to the newest. Without `resolution`,
    /// the fine tier answers when `since` is within its retention of the newest tick, the coarse tier otherwise;
    /// with one, the coarse tier answers when it is at least the coarse resolution, and points of the chosen tier
    /// are merged in buckets of `resolution` (rounded down to a whole number of that tier's points). `None` when
    /// the topic is not watched.
    pub(crate) fn series(
        &self,
        topic: Option<&str>,
        since: SystemTime,
        resolution: Option<Duration>,
    ) -> Option<MonitorSeries> {
        let (series, coarse) = self.series_of(topic)?;
        let (kind, tier) = self.pick(coarse, since, resolution);
        let step = resolution.map_or(1, |r| {
            u64::try_from(r.as_millis() / tier.resolution.as_millis())
                .unwrap_or(u64::MAX)
                .max(1)
        });
        let length = tier
            .resolution
            .saturating_mul(u32::try_from(step).unwrap_or(u32::MAX));
        let points = match self.origin {
            None => Vec::new(),
            Some(origin) => {
                let from = since.duration_since(origin).unwrap_or_default().as_millis()
                    / u128::from(tier.resolution_ms());
                let from = u64::try_from(from).unwrap_or(u64::MAX);
                series
                    .points(kind, from, step)
                    .into_iter()
                    .map(|(slot, iv)| iv.to_wire(start(origin, &tier, slot), length))
                    .collect()
            }
        };
        Some(MonitorSeries {
            resolution: length,
            points,
        })
    }

    /// The newest fine point of `topic` (`None`: the task): the last interval's rates, backlog and counts.
    pub(crate) fn latest(&self, topic: Option<&str>) -> Option<MonitorPoint> {
        let (series, _) = self.series_of(topic)?;
        let (slot, iv) = series.last()?;
        let fine = &self.config.fine;
        Some(iv.to_wire(start(self.origin?, fine, slot), fine.resolution))
    }

    /// Bytes the store holds now: every ring's allocated capacity, the topic map's entries and the topics' names
    /// (the map's own overhead is approximated by one control byte per entry).
    pub(crate) fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(String, Watched)>() + 1;
        let topics: usize = self
            .topics
            .iter()
            .map(|(name, w)| name.capacity() + w.series.heap_bytes())
            .sum();
        std::mem::size_of::<Self>()
            + self.task.heap_bytes()
            + self.topics.capacity() * entry
            + topics
    }

    /// Topics watched.
    pub(crate) fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// An empty series with this configuration's fine tier and `coarse`.
    fn new_series(config: &MonitorConfig, coarse: &Tier) -> Series {
        Series::new(config.fine.points(), coarse.points(), config.ratio(coarse))
    }

    /// The series of `topic` (`None`: the task) and its coarse tier.
    fn series_of(&self, topic: Option<&str>) -> Option<(&Series, Tier)> {
        match topic {
            None => Some((&self.task, self.config.task_coarse)),
            Some(t) => Some((&self.topics.get(t)?.series, self.config.topic_coarse)),
        }
    }

    /// The tier a query reads (see [`Monitor::series`]).
    fn pick(
        &self,
        coarse: Tier,
        since: SystemTime,
        resolution: Option<Duration>,
    ) -> (TierKind, Tier) {
        let use_coarse = match resolution {
            Some(r) => r >= coarse.resolution,
            None => self
                .newest
                .and_then(|n| n.checked_sub(self.config.fine.retention))
                .is_some_and(|fine_from| since < fine_from),
        };
        if use_coarse {
            (TierKind::Coarse, coarse)
        } else {
            (TierKind::Fine, self.config.fine)
        }
    }

    /// The fine slot of the interval a tick at `at` ends (the slot whose end is nearest `at`), starting the clock
    /// at the first tick. A tick before the origin (a clock set back) counts as slot 0.
    fn tick_slot(&mut self, at: SystemTime) -> u64 {
        let origin = *self.origin.get_or_insert(at);
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
        let res = self.config.fine.resolution_ms();
        let since = at.duration_since(origin).unwrap_or_default().as_millis();
        let since = u64::try_from(since).unwrap_or(u64::MAX);
        (since.saturating_add(res / 2) / res).saturating_sub(1)
    }
}

/// Start of slot `slot` of `tier`.
fn start(origin: SystemTime, tier: &Tier, slot: u64) -> SystemTime {
    let offset = Duration::from_millis(tier.resolution_ms().saturating_mul(slot));
    origin.checked_add(offset).unwrap_or(origin)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::server::state::audit::rfc3339;

    /// `secs` seconds into the test's day.
    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_651_200 + secs)
    }

    /// A topic storing `stored` messages on the source (consumed half of them) with `sent` shim sends.
    fn sample(stored: Option<u64>, sent: u64) -> TopicSample {
        TopicSample {
            source: ClusterSample {
                stored,
                consumed: stored.map(|s| s / 2),
                backlog: stored.map(|s| s - s / 2),
                sent,
                received: sent,
            },
            target: ClusterSample::default(),
            failed_over: sent / 100,
            duplicates: 0,
        }
    }

    #[test]
    fn a_topic_that_appears_later_counts_its_shim_counters_from_zero() {
        let mut m = Monitor::new(small()).unwrap();
        tick(&mut m, 10, "old", sample(Some(100), 5));
        // "new" appears at the second tick with 7 sends already counted; its broker totals are a baseline.
        m.record(t(20), "old", sample(Some(100), 5));
        m.record_counted(t(20), "new", sample(Some(40), 7));
        m.end_tick(t(20));
        m.record(t(30), "old", sample(Some(100), 5));
        m.record_counted(t(30), "new", sample(Some(50), 9));
        m.end_tick(t(30));
        let new = m.series(Some("new"), t(0), None).unwrap();
        let sent: Vec<u64> = new.points.iter().map(|p| p.source.sent).collect();
        assert_eq!(sent, [7, 2]);
        let stored: Vec<Option<f64>> = new.points.iter().map(|p| p.source.stored_per_s).collect();
        assert_eq!(
            stored,
            [None, Some(1.0)],
            "stored: a baseline, then 10 in 10 s"
        );
        let task = m.series(None, t(0), None).unwrap();
        let task_sent: u64 = task.points.iter().map(|p| p.source.sent).sum();
        assert_eq!(
            task_sent, 9,
            "the task counts the new topic's sends; the old topic's first sample is a baseline"
        );
        // `record` keeps a first sample as a baseline: what a restarted caller sees is not counted again.
        let mut fresh = Monitor::new(small()).unwrap();
        tick(&mut fresh, 10, "a", sample(Some(100), 5));
        tick(&mut fresh, 20, "a", sample(Some(100), 8));
        let a = fresh.series(Some("a"), t(0), None).unwrap();
        assert_eq!(a.points.iter().map(|p| p.source.sent).sum::<u64>(), 3);
    }

    /// One tick of one topic.
    fn tick(m: &mut Monitor, secs: u64, topic: &str, s: TopicSample) {
        m.record(t(secs), topic, s);
        m.end_tick(t(secs));
    }

    fn small() -> MonitorConfig {
        let secs = Duration::from_secs;
        MonitorConfig {
            fine: Tier::new(secs(10), secs(60)),
            task_coarse: Tier::new(secs(20), secs(600)),
            topic_coarse: Tier::new(secs(30), secs(600)),
            max_step: secs(30),
        }
    }

    fn stored_rates(s: &MonitorSeries) -> Vec<Option<f64>> {
        s.points.iter().map(|p| p.source.stored_per_s).collect()
    }

    #[test]
    fn cumulative_values_become_rates_per_interval() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        tick(&mut m, 0, "a", sample(Some(1_000), 0));
        // The first sample is a baseline: no deltas yet, but its backlog.
        let first = m.latest(Some("a")).unwrap();
        assert_eq!(first.source.stored_per_s, None);
        assert_eq!(first.source.backlog, Some(500));
        tick(&mut m, 10, "a", sample(Some(1_100), 40));
        tick(&mut m, 20, "a", sample(Some(1_300), 90));
        let s = m.series(Some("a"), t(0), None).unwrap();
        assert_eq!(s.resolution, Duration::from_secs(10));
        assert_eq!(stored_rates(&s), [Some(10.0), Some(20.0)]);
        assert_eq!(s.points[0].at, rfc3339(t(0)));
        assert_eq!(s.points[1].at, rfc3339(t(10)));
        assert_eq!(s.points[1].source.consumed_per_s, Some(10.0));
        assert_eq!(s.points[1].source.backlog, Some(650));
        assert_eq!((s.points[0].source.sent, s.points[1].source.sent), (40, 50));
        assert_eq!(s.points[1].target.stored_per_s, None);
        assert_eq!(m.latest(Some("a")), s.points.last().cloned());
    }

    #[test]
    fn a_counter_going_down_is_a_reset_and_unknown_values_are_gaps() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        tick(&mut m, 0, "a", sample(Some(100), 500));
        tick(&mut m, 10, "a", sample(None, 20)); // client restarted; broker total unknown
        tick(&mut m, 20, "a", sample(Some(300), 70));
        tick(&mut m, 30, "a", sample(Some(400), 80));
        let s = m.series(Some("a"), t(0), None).unwrap();
        assert_eq!(
            s.points.iter().map(|p| p.source.sent).collect::<Vec<_>>(),
            [20, 50, 10]
        );
        assert_eq!(stored_rates(&s), [None, None, Some(10.0)]);
        // The slot's last known backlog: the baseline's, as the restart's sample had none.
        assert_eq!(s.points[0].source.backlog, Some(50));
        let json = serde_json::to_string(&s.points[0]).unwrap();
        assert!(json.contains("\"stored_per_s\":null"), "{json}");
    }

    #[test]
    fn a_long_pause_is_a_gap_not_a_spike() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        tick(&mut m, 0, "a", sample(Some(0), 0));
        tick(&mut m, 10, "a", sample(Some(100), 10));
        tick(&mut m, 310, "a", sample(Some(30_100), 3_010));
        tick(&mut m, 320, "a", sample(Some(30_200), 3_020));
        let s = m.series(Some("a"), t(0), None).unwrap();
        assert_eq!(s.points.len(), 32);
        assert!(stored_rates(&s)[1..31].iter().all(Option::is_none));
        assert_eq!(s.points[30].source.sent, 0);
        assert_eq!(stored_rates(&s)[31], Some(10.0));
    }

    #[test]
    fn rings_keep_their_capacity_and_drop_the_oldest() {
        let mut m = Monitor::new(small()).unwrap();
        for i in 0..20 {
            tick(&mut m, i * 10, "a", sample(Some(i * 100), i));
        }
        let bytes = m.memory_bytes();
        let fine = Some(Duration::from_secs(10));
        let s = m.series(Some("a"), t(0), fine).unwrap();
        assert_eq!(s.points.len(), 6);
        assert_eq!(s.points[0].at, rfc3339(t(130)));
        assert_eq!(s.points[5].at, rfc3339(t(180)));
        for i in 20..200 {
            tick(&mut m, i * 10, "a", sample(Some(i * 100), i));
        }
        assert_eq!(
            m.memory_bytes(),
            bytes + 18 * 48,
            "the coarse rings grew, the fine ones did not"
        );
        for i in 200..400 {
            tick(&mut m, i * 10, "a", sample(Some(i * 100), i));
        }
        assert_eq!(m.memory_bytes(), bytes + 18 * 48, "every ring is full");
        assert_eq!(m.series(Some("a"), t(0), fine).unwrap().points.len(), 6);
    }

    #[test]
    fn coarse_points_aggregate_fine_ones() {
        let mut m = Monitor::new(small()).unwrap();
        for i in 0..=12 {
            tick(&mut m, i * 10, "a", sample(Some(i * 60), i));
        }
        // Topic coarse: 30 s = three fine points each; 6 stored per second throughout.
        let s = m
            .series(Some("a"), t(0), Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(s.resolution, Duration::from_secs(30));
        assert_eq!(stored_rates(&s), [Some(6.0); 4]);
        assert_eq!(s.points[0].source.sent, 3);
        assert_eq!(s.points[0].source.backlog, Some(90));
        assert_eq!(s.points[1].at, rfc3339(t(30)));
        // Task coarse: 20 s.
        let task = m.series(None, t(0), Some(Duration::from_secs(20))).unwrap();
        assert_eq!(task.resolution, Duration::from_secs(20));
        assert_eq!(stored_rates(&task), [Some(6.0); 6]);
        // A fine query in buckets.
        let fine = m
            .series(Some("a"), t(60), Some(Duration::from_secs(20)))
            .unwrap();
        assert_eq!(fine.resolution, Duration::from_secs(20));
        assert_eq!(fine.points.len(), 3);
        assert_eq!(fine.points[0].at, rfc3339(t(60)));
    }

    #[test]
    fn the_tier_follows_since() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let ticks = 7 * 360; // 7 h of 10 s ticks
        for i in 0..=ticks {
            tick(&mut m, i * 10, "a", sample(Some(i * 10), i));
        }
        let newest = t(ticks * 10);
        let hour = Duration::from_secs(3_600);
        let recent = m.series(None, newest - hour, None).unwrap();
        assert_eq!(recent.resolution, Duration::from_secs(10));
        assert_eq!(recent.points.len(), 360);
        let day = m.series(None, newest - 24 * hour, None).unwrap();
        assert_eq!(day.resolution, Duration::from_secs(60));
        assert_eq!(day.points.len(), 7 * 60);
        assert!(day
            .points
            .iter()
            .all(|p| p.source.stored_per_s == Some(1.0)));
        let topic_day = m.series(Some("a"), newest - 24 * hour, None).unwrap();
        assert_eq!(topic_day.resolution, Duration::from_secs(600));
        assert_eq!(topic_day.points.len(), 42);
        let six_hours = m.series(Some("a"), newest - 6 * hour, None).unwrap();
        assert_eq!(six_hours.resolution, Duration::from_secs(10));
        assert_eq!(six_hours.points.len(), 2_160);
        let hourly = m.series(None, t(0), Some(hour)).unwrap();
        assert_eq!(hourly.resolution, hour);
        assert_eq!(hourly.points.len(), 7);
    }

    #[test]
    fn the_task_is_the_sum_of_its_topics() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        for i in 0..3u64 {
            m.record(t(i * 10), "a", sample(Some(i * 100), i * 10));
            m.record(t(i * 10), "b", sample(Some(i * 300), i * 5));
            let mut c = sample(None, 0);
            c.target.stored = Some(i * 50);
            c.target.backlog = Some(7);
            m.record(t(i * 10), "c", c);
            m.end_tick(t(i * 10));
        }
        let task = m.series(None, t(0), None).unwrap();
        let topics: Vec<MonitorSeries> = ["a", "b", "c"]
            .map(|x| m.series(Some(x), t(0), None).unwrap())
            .into();
        assert_eq!(task.points.len(), 2);
        for (k, p) in task.points.iter().enumerate() {
            let sum = |f: &dyn Fn(&MonitorPoint) -> Option<f64>| {
                topics.iter().filter_map(|s| f(&s.points[k])).sum::<f64>()
            };
            assert_eq!(p.source.stored_per_s, Some(sum(&|q| q.source.stored_per_s)));
            assert_eq!(p.target.stored_per_s, Some(sum(&|q| q.target.stored_per_s)));
            assert_eq!(
                p.source.backlog.map(|b| b as f64),
                Some(sum(&|q| q.source.backlog.map(|b| b as f64)))
            );
            assert_eq!(p.target.backlog, Some(7));
            assert_eq!(p.source.sent as f64, sum(&|q| Some(q.source.sent as f64)));
            assert_eq!(
                p.failed_over,
                topics.iter().map(|s| s.points[k].failed_over).sum::<u64>()
            );
        }
        assert_eq!(task.points[1].source.stored_per_s, Some(40.0));
        assert_eq!(task.points[1].target.stored_per_s, Some(5.0));
    }

    #[test]
    fn retain_drops_topics_that_left() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        for i in 0..3 {
            for topic in ["a", "b"] {
                m.record(t(i * 10), topic, sample(Some(i * 10), i));
            }
            m.end_tick(t(i * 10));
        }
        let before = m.memory_bytes();
        m.retain(|topic| topic != "b");
        assert_eq!(m.topic_count(), 1);
        assert!(m.series(Some("b"), t(0), None).is_none());
        assert!(m.latest(Some("b")).is_none());
        assert!(m.series(Some("a"), t(0), None).is_some());
        assert!(m.memory_bytes() < before);
        assert_eq!(m.series(None, t(0), None).unwrap().points.len(), 2);
    }

    #[test]
    fn an_empty_store_answers_empty_and_the_document_round_trips() {
        let m = Monitor::new(MonitorConfig::default()).unwrap();
        assert!(m.latest(None).is_none());
        let empty = m.series(None, t(0), None).unwrap();
        assert!(empty.points.is_empty());
        assert!(m.memory_bytes() < 1_024);

        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        tick(&mut m, 0, "a", sample(Some(0), 0));
        tick(&mut m, 10, "a", sample(Some(25), 3));
        let doc = m
            .series(Some("a"), t(0), None)
            .unwrap()
            .into_doc(Some("a".into()));
        assert_eq!(doc.resolution_s, 10);
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(serde_json::from_str::<MonitorDoc>(&json).unwrap(), doc);
    }

    #[test]
    fn jittery_ticks_fill_each_slot_once_and_fast_ticks_add_up() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let jitter: [i64; 5] = [0, 3_900, -3_800, 4_200, -4_100]; // ms off a 10 s cadence, either way
        for (i, j) in (0u64..).zip(jitter) {
            let on_time = t(100 + i * 10);
            let at = match u64::try_from(j) {
                Ok(late) => on_time + Duration::from_millis(late),
                Err(_) => on_time - Duration::from_millis(j.unsigned_abs()),
            };
            m.record(at, "a", sample(Some(i * 100), 0));
            m.end_tick(at);
        }
        let s = m.series(Some("a"), t(0), None).unwrap();
        assert_eq!(s.points.len(), 4);

        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        for i in 0..=12u64 {
            tick(&mut m, i * 2, "a", sample(Some(i * 20), i)); // every 2 s, 10 per second
        }
        let s = m.series(Some("a"), t(0), None).unwrap();
        assert_eq!(s.points.iter().map(|p| p.source.sent).sum::<u64>(), 12);
        assert_eq!(stored_rates(&s)[1], Some(10.0));
    }
}
