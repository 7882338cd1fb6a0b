//! After a cluster leaves a topic's read set (`Completed` drops the source, a rollback to `Initial` drops the
//! target), a migrating consumer keeps reading the topic on that cluster for a while: a clustering push consumer's
//! client there also reads the group's retry topic, so retries that come due late (a listener answered
//! `ReconsumeLater` just before the move) and messages sent with a delay before the move are still consumed.
//!
//! A lingering topic is released once
//! * no retry this instance asked for on that cluster is still outstanding (sent back, not yet seen again; each
//!   is forgotten once its delay level's time plus the quiet window has passed, as another instance of the group
//!   may have consumed it),
//! * for push consumers, the group's retry topic on that cluster is fully consumed (asked of the broker, covers
//!   every instance), and
//! * nothing of the topic came from that cluster for the quiet window (counted from when lingering began);
//!
//! or, whatever is left, after `max` (logged at WARN naming what was left). See [`LingerSettings`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::cluster::Cluster;

/// Default quiet window of a lingering topic.
pub const DEFAULT_LINGER_QUIET: Duration = Duration::from_secs(15);
/// Default longest linger.
pub const DEFAULT_LINGER_MAX: Duration = Duration::from_secs(600);

/// The broker's default delay levels (`messageDelayLevel`), level 1 first. A retry after `n` failed deliveries
/// waits level `3 + n`.
pub(crate) const DELAY_LEVELS: [u64; 18] = [
    1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
];

/// The broker's default number of deliveries before a message goes to the dead-letter topic.
pub(crate) const DEFAULT_MAX_RECONSUME: i32 = 16;

/// How long a consumer keeps reading a cluster after a topic left that cluster's read set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LingerSettings {
    /// Release once nothing of the topic came from the cluster for this long (and no retry is outstanding).
    /// Default [`DEFAULT_LINGER_QUIET`].
    pub quiet: Duration,
    /// Release after this long whatever is left (WARN). Default [`DEFAULT_LINGER_MAX`].
    pub max: Duration,
}

impl Default for LingerSettings {
    fn default() -> Self {
        LingerSettings {
            quiet: DEFAULT_LINGER_QUIET,
            max: DEFAULT_LINGER_MAX,
        }
    }
}

impl LingerSettings {
    /// No linger: a cluster is dropped the moment the phase stops reading it (what the consumers did before
    /// lingering existed; retries and delayed messages due later on that cluster are then left to the gates).
    pub fn off() -> Self {
        LingerSettings {
            quiet: Duration::ZERO,
            max: Duration::ZERO,
        }
    }
}

/// The wait of delay level `level` (1-based, clamped to the broker's 18) with the broker's default levels.
pub(crate) fn level_delay(level: i32) -> Duration {
    let level = level.clamp(1, DELAY_LEVELS.len() as i32) as usize;
    Duration::from_secs(DELAY_LEVELS[level - 1])
}

/// The wait of the retry after `reconsume_times` failed deliveries, with the broker's default levels.
fn retry_delay(reconsume_times: i32) -> Duration {
    level_delay(3 + reconsume_times.max(0))
}

/// What one consumer instance saw per cluster and topic: the last delivery (while anything lingers) and the
/// retries it asked for that have not come back.
#[derive(Default)]
pub(crate) struct Activity {
    /// Topics lingering anywhere; deliveries are timed only while this is above 0.
    watching: AtomicUsize,
    last: Mutex<HashMap<String, [Option<Instant>; 2]>>,
    /// Outstanding retries: (cluster, topic) → key → forget after.
    pending: Mutex<HashMap<(Cluster, String), HashMap<String, Instant>>>,
    pending_n: AtomicUsize,
}

impl Activity {
    /// A delivery of `topic` came from `c`.
    pub(crate) fn delivered(&self, c: Cluster, topic: &str) {
        if self.watching.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = Instant::now();
        let mut last = self.last.lock();
        match last.get_mut(topic) {
            Some(at) => at[c.index()] = Some(now),
            None => {
                let mut at = [None, None];
                at[c.index()] = Some(now);
                last.insert(topic.to_owned(), at);
            }
        }
    }

    /// The listener failed these messages from `c`: the client sends each back as a retry on `c`, unless it has
    /// used up its deliveries (`max_reconsume`, broker default when negative) and goes to the dead letters.
    pub(crate) fn failed<'a>(
        &self,
        c: Cluster,
        max_reconsume: i32,
        msgs: impl Iterator<Item = (&'a str, String, i32)>,
    ) {
        let max = if max_reconsume < 0 {
            DEFAULT_MAX_RECONSUME
        } else {
            max_reconsume
        };
        let now = Instant::now();
        let mut pending = self.pending.lock();
        for (topic, key, reconsume_times) in msgs {
            if reconsume_times >= max {
                tracing::warn!(cluster = %c, topic, key, deliveries = reconsume_times + 1,
                    "delivery failed again: the broker moves the message to the group's dead-letter topic");
                continue;
            }
            // Forgotten well after it should have come back: another instance of the group may have consumed it.
            let forget = now + retry_delay(reconsume_times) * 2 + Duration::from_secs(30);
            let keys = pending.entry((c, topic.to_owned())).or_default();
            if keys.insert(key, forget).is_none() {
                self.pending_n.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// These messages from `c` were consumed (or acknowledged as duplicates): their retries are settled.
    pub(crate) fn settled<'a>(&self, c: Cluster, msgs: impl Iterator<Item = (&'a str, String)>) {
        if self.pending_n.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut pending = self.pending.lock();
        for (topic, key) in msgs {
            if let Some(keys) = pending.get_mut(&(c, topic.to_owned())) {
                if keys.remove(&key).is_some() {
                    self.pending_n.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Retries of `topic` on `c` still outstanding (expired ones are dropped).
    pub(crate) fn outstanding(&self, c: Cluster, topic: &str) -> usize {
        let now = Instant::now();
        let mut pending = self.pending.lock();
        let Some(keys) = pending.get_mut(&(c, topic.to_owned())) else {
            return 0;
        };
        let before = keys.len();
        keys.retain(|_, forget| *forget > now);
        self.pending_n
            .fetch_sub(before - keys.len(), Ordering::Relaxed);
        keys.len()
    }

    fn last_delivery(&self, c: Cluster, topic: &str) -> Option<Instant> {
        self.last.lock().get(topic).and_then(|at| at[c.index()])
    }
}

/// What to do with a lingering topic now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep reading; the reason, for logs.
    Keep(String),
    /// Nothing more is due: stop reading.
    Release,
    /// The maximum linger passed; stop reading and say what was left.
    GiveUp(String),
}

/// The topics lingering on each cluster, and since when.
#[derive(Default)]
pub(crate) struct Lingering {
    since: Mutex<HashMap<(Cluster, String), Instant>>,
}

impl Lingering {
    /// `topic` left `c`'s read set now (no-op if it already lingers).
    pub(crate) fn begin(
        &self,
        c: Cluster,
        topic: &str,
        activity: &Activity,
        settings: &LingerSettings,
    ) {
        let mut since = self.since.lock();
        if since.contains_key(&(c, topic.to_owned())) {
            return;
        }
        since.insert((c, topic.to_owned()), Instant::now());
        activity.watching.fetch_add(1, Ordering::Relaxed);
        tracing::info!(cluster = %c, topic, quiet = ?settings.quiet, max = ?settings.max,
            "topic left this cluster's read set: still reading it (and the group's retry topic) there until \
             nothing more is due");
    }

    /// Stop lingering `topic` on `c` (released, given up, back in the read set, or unsubscribed).
    pub(crate) fn end(&self, c: Cluster, topic: &str, activity: &Activity) {
        if self.since.lock().remove(&(c, topic.to_owned())).is_some() {
            activity.watching.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Whether `topic` lingers on `c`.
    #[cfg(test)]
    pub(crate) fn contains(&self, c: Cluster, topic: &str) -> bool {
        self.since.lock().contains_key(&(c, topic.to_owned()))
    }

    /// The topics lingering on `c`.
    fn topics_on(&self, c: Cluster) -> Vec<String> {
        self.since
            .lock()
            .keys()
            .filter(|(lc, _)| *lc == c)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Review what `c`'s client reads now (`held`) against what the phases want there (`want`): a held topic the
    /// phases dropped from `c` while the application still subscribes it (`subs`) begins lingering; a lingering
    /// topic back in `want` stops. Returns every lingering topic of `c` with its verdict, for the caller to
    /// act on with [`Lingering::apply`] (which keeps the `Keep` ones in its wanted set and ends the others).
    fn review<'h, S>(
        &self,
        c: Cluster,
        want: &BTreeMap<String, S>,
        held: impl Iterator<Item = &'h String>,
        subs: &BTreeMap<String, S>,
        activity: &Activity,
        settings: &LingerSettings,
    ) -> Vec<(String, Verdict)> {
        for t in &self.topics_on(c) {
            if want.contains_key(t) || !subs.contains_key(t) {
                self.end(c, t, activity);
            }
        }
        if settings.max.is_zero() {
            return Vec::new();
        }
        for t in held {
            if !want.contains_key(t) && subs.contains_key(t) {
                self.begin(c, t, activity, settings);
            }
        }
        self.topics_on(c)
            .into_iter()
            .map(|t| {
                let v = self.verdict(c, &t, activity, settings);
                (t, v)
            })
            .collect()
    }

    /// Act on the reviewed `verdicts` of `c` (see [`Lingering::review`]; logged as `group`'s): each topic kept
    /// goes back into `want`, subscribed as the application subscribes it (`subs`); the others end, with a log
    /// line saying why.
    fn apply<S: Clone>(
        &self,
        (group, c): (&str, Cluster),
        verdicts: Vec<(String, Verdict)>,
        (want, subs): (&mut BTreeMap<String, S>, &BTreeMap<String, S>),
        activity: &Activity,
    ) {
        for (topic, verdict) in verdicts {
            match verdict {
                Verdict::Keep(why) => {
                    tracing::debug!(group, cluster = %c, topic, why, "still lingering");
                    if let Some(sub) = subs.get(&topic) {
                        want.insert(topic, sub.clone());
                    }
                    continue;
                }
                Verdict::Release => tracing::info!(group, cluster = %c, topic,
                    "nothing more is due on this cluster: stopped reading the topic there"),
                Verdict::GiveUp(left) => tracing::warn!(group, cluster = %c, topic, left = %left,
                    "maximum linger reached: stopped reading the topic on this cluster with messages possibly still \
                     due there (rmq-migrate backlog shows them)"),
            }
            self.end(c, &topic, activity);
        }
    }

    /// One linger pass on `c`: [`review`](Self::review) what its client reads now (`held`), let `hold` keep the
    /// topics about to be released (asked only when there are some; it names why, as the push consumer does
    /// while its group's retry topic there is not consumed), then [`apply`](Self::apply) the verdicts.
    pub(crate) async fn pass<'h, S, Fut>(
        &self,
        (group, c): (&str, Cluster),
        held: impl Iterator<Item = &'h String>,
        (want, subs): (&mut BTreeMap<String, S>, &BTreeMap<String, S>),
        (activity, settings): (&Activity, &LingerSettings),
        hold: impl FnOnce() -> Fut,
    ) where
        S: Clone,
        Fut: Future<Output = Option<String>>,
    {
        let mut verdicts = self.review(c, want, held, subs, activity, settings);
        let releases = |v: &Verdict| *v == Verdict::Release;
        if verdicts.iter().any(|(_, v)| releases(v)) {
            if let Some(why) = hold().await {
                for (_, v) in verdicts.iter_mut().filter(|(_, v)| releases(v)) {
                    *v = Verdict::Keep(why.clone());
                }
            }
        }
        self.apply((group, c), verdicts, (want, subs), activity);
    }

    /// The verdict for `topic` on `c` from this instance's own view (the push consumer also asks the broker
    /// about the group's retry topic before releasing).
    pub(crate) fn verdict(
        &self,
        c: Cluster,
        topic: &str,
        activity: &Activity,
        settings: &LingerSettings,
    ) -> Verdict {
        let Some(since) = self.since.lock().get(&(c, topic.to_owned())).copied() else {
            return Verdict::Release;
        };
        let outstanding = activity.outstanding(c, topic);
        let last = activity
            .last_delivery(c, topic)
            .map_or(since, |l| l.max(since));
        if since.elapsed() >= settings.max {
            if outstanding == 0 && last.elapsed() >= settings.quiet {
                return Verdict::Release;
            }
            return Verdict::GiveUp(format!(
                "{outstanding} retry(ies) this instance asked for not seen again; last delivery {:.1} s ago",
                last.elapsed().as_secs_f64()
            ));
        }
        if outstanding > 0 {
            return Verdict::Keep(format!("{outstanding} retry(ies) outstanding"));
        }
        if last.elapsed() < settings.quiet {
            return Verdict::Keep(format!(
                "quiet for {:.1} s of {:.1} s",
                last.elapsed().as_secs_f64(),
                settings.quiet.as_secs_f64()
            ));
        }
        Verdict::Release
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No activity, nothing lingering, and settings of `quiet` and `max`.
    fn fresh(quiet: Duration, max: Duration) -> (Activity, Lingering, LingerSettings) {
        let settings = LingerSettings { quiet, max };
        (Activity::default(), Lingering::default(), settings)
    }

    #[test]
    fn retry_delays_follow_the_broker_levels() {
        assert_eq!(retry_delay(0), Duration::from_secs(10));
        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(15), Duration::from_secs(7200));
        assert_eq!(retry_delay(40), Duration::from_secs(7200));
    }

    #[test]
    fn a_topic_lingers_while_a_retry_is_outstanding_and_until_quiet() {
        let (activity, lingering, settings) =
            fresh(Duration::from_millis(50), Duration::from_secs(60));
        let c = Cluster::Source;
        assert_eq!(
            lingering.verdict(c, "t", &activity, &settings),
            Verdict::Release
        );
        activity.failed(c, -1, [("t", "k1".to_owned(), 0)].into_iter());
        lingering.begin(c, "t", &activity, &settings);
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(
            lingering.verdict(c, "t", &activity, &settings),
            Verdict::Keep(_)
        ));
        activity.settled(c, [("t", "k1".to_owned())].into_iter());
        assert_eq!(activity.outstanding(c, "t"), 0);
        activity.delivered(c, "t");
        assert!(matches!(
            lingering.verdict(c, "t", &activity, &settings),
            Verdict::Keep(_)
        ));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(
            lingering.verdict(c, "t", &activity, &settings),
            Verdict::Release
        );
        lingering.end(c, "t", &activity);
        assert!(!lingering.contains(c, "t"));
    }

    #[test]
    fn a_message_out_of_deliveries_is_not_waited_for_and_max_gives_up() {
        let activity = Activity::default();
        activity.failed(Cluster::Target, 2, [("t", "k".to_owned(), 2)].into_iter());
        assert_eq!(activity.outstanding(Cluster::Target, "t"), 0);
        activity.failed(Cluster::Target, -1, [("t", "k".to_owned(), 0)].into_iter());
        let lingering = Lingering::default();
        let settings = LingerSettings {
            quiet: Duration::ZERO,
            max: Duration::ZERO,
        };
        lingering.begin(Cluster::Target, "t", &activity, &settings);
        assert!(matches!(
            lingering.verdict(Cluster::Target, "t", &activity, &settings),
            Verdict::GiveUp(_)
        ));
        let off = LingerSettings::off();
        activity.settled(Cluster::Target, [("t", "k".to_owned())].into_iter());
        assert_eq!(
            lingering.verdict(Cluster::Target, "t", &activity, &off),
            Verdict::Release
        );
    }

    #[test]
    fn a_reviewed_topic_kept_stays_wanted_and_a_released_one_ends() {
        use std::collections::BTreeMap;
        let (activity, lingering, settings) =
            fresh(Duration::from_secs(60), Duration::from_secs(600));
        let c = Cluster::Source;
        let subs: BTreeMap<String, u8> =
            [("kept".to_owned(), 1), ("released".to_owned(), 2)].into();
        let mut want = BTreeMap::new();
        // Both held on `c`, neither wanted there any more: both begin lingering, both kept (not quiet yet).
        let held = ["kept".to_owned(), "released".to_owned()];
        let mut verdicts = lingering.review(c, &want, held.iter(), &subs, &activity, &settings);
        assert_eq!(verdicts.len(), 2);
        assert!(verdicts.iter().all(|(_, v)| matches!(v, Verdict::Keep(_))));
        // The caller overrules one (as the push consumer does after looking at the retry topic).
        verdicts
            .iter_mut()
            .filter(|(t, _)| t == "released")
            .for_each(|(_, v)| *v = Verdict::Release);
        lingering.apply(("g", c), verdicts, (&mut want, &subs), &activity);
        assert_eq!(want, BTreeMap::from([("kept".to_owned(), 1)]));
        assert!(lingering.contains(c, "kept"));
        assert!(!lingering.contains(c, "released"));
    }
}
