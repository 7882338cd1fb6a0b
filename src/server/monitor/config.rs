//! How finely and for how long the monitoring store keeps its points, and what that costs.
//!
//! Every point of a series holds both clusters of one interval in 48 bytes ([`super::point`]). With the defaults:
//!
//! | series | fine tier | coarse tier | bytes when full |
//! |---|---|---|---|
//! | one topic | 10 s for 6 h: 2,160 points, 103,680 B | 10 min for 7 d: 1,008 points, 48,384 B | 152,064 B (148.5 KiB) |
//! | the task total | 10 s for 6 h: 2,160 points, 103,680 B | 1 min for 7 d: 10,080 points, 483,840 B | 587,520 B (573.8 KiB) |
//!
//! A topic watched for 6 h holds its full fine tier and 36 coarse points: 105,408 B (102.9 KiB); after 7 d it holds
//! 152,064 B. For 1,000 topics: 105.4 MB (100.5 MiB) after 6 h and 152.1 MB (145.0 MiB) from 7 d on, plus the task
//! total (0.6 MB) and a few hundred bytes per topic for its name, its last sample and its map entry. Per topic the
//! coarse tier is 10 min rather than 1 min to keep that bound: at 1 min it would be 10,080 points (484 KB) per
//! topic, 484 MB for 1,000 topics. Rings grow as points arrive, so a young control plane holds far less.

use std::time::Duration;

use crate::error::{ConfigError, ConfigErrorKind};

/// One tier of a series: points of `resolution` each, kept for `retention`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tier {
    /// The time one point covers (whole seconds).
    pub(crate) resolution: Duration,
    /// How far back points are kept: `retention / resolution` points at most.
    pub(crate) retention: Duration,
}

impl Tier {
    /// Points of `resolution` kept for `retention`.
    pub(crate) const fn new(resolution: Duration, retention: Duration) -> Tier {
        Tier {
            resolution,
            retention,
        }
    }

    /// The most points this tier holds (`retention / resolution`, at least 1).
    pub(crate) fn points(&self) -> usize {
        let per = self.resolution.as_millis().max(1);
        usize::try_from(self.retention.as_millis() / per)
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// The resolution in milliseconds.
    pub(crate) fn resolution_ms(&self) -> u64 {
        u64::try_from(self.resolution.as_millis()).unwrap_or(u64::MAX)
    }
}

/// The tiers of the monitoring store. Defaults: fine 10 s for 6 h (task and topics), coarse 1 min for 7 d (task
/// total) and 10 min for 7 d (per topic); see the module docs for the memory this bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MonitorConfig {
    /// The fine tier of every series; ticks are expected at this cadence (faster ticks add into the same point).
    pub(crate) fine: Tier,
    /// The coarse tier of the task total.
    pub(crate) task_coarse: Tier,
    /// The coarse tier of each topic.
    pub(crate) topic_coarse: Tier,
    /// A topic sampled again after more than this has no deltas for that step (its counts cannot be placed in
    /// one point); the sample becomes the new baseline. Default 30 s.
    pub(crate) max_step: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        const HOUR: u64 = 3_600;
        const WEEK: Duration = Duration::from_secs(7 * 24 * HOUR);
        MonitorConfig {
            fine: Tier::new(Duration::from_secs(10), Duration::from_secs(6 * HOUR)),
            task_coarse: Tier::new(Duration::from_secs(60), WEEK),
            topic_coarse: Tier::new(Duration::from_secs(600), WEEK),
            max_step: Duration::from_secs(30),
        }
    }
}

impl MonitorConfig {
    /// The tiers for points every `every`: fine for 6 h, coarse as the defaults (1 min for the task, 10 min per
    /// topic, 7 days), a step of more than 3 points (at least 30 s) a gap.
    pub(crate) fn every(every: Duration) -> MonitorConfig {
        let d = MonitorConfig::default();
        MonitorConfig {
            fine: Tier::new(every, d.fine.retention),
            max_step: d.max_step.max(every * 3),
            ..d
        }
    }

    /// Check the tiers fit together: whole-second resolutions, each retention at least one point, coarse
    /// resolutions whole multiples of the fine one and no longer than the fine retention (a coarse point is built
    /// from the fine points it covers), and `max_step` at least the fine resolution.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let tiers = [
            ("monitor.fine", self.fine),
            ("monitor.task_coarse", self.task_coarse),
            ("monitor.topic_coarse", self.topic_coarse),
        ];
        for (field, tier) in tiers {
            check_tier(field, &tier)?;
        }
        for (field, coarse) in &tiers[1..] {
            check_coarse(field, &self.fine, coarse)?;
        }
        if self.max_step < self.fine.resolution {
            return Err(invalid(
                "monitor.max_step",
                self.max_step,
                "must be at least the fine resolution",
            ));
        }
        Ok(())
    }

    /// Fine points per point of the coarse tier `coarse` (valid configurations only).
    pub(crate) fn ratio(&self, coarse: &Tier) -> u64 {
        coarse.resolution_ms() / self.fine.resolution_ms().max(1)
    }
}

/// A tier on its own: a whole number of seconds (at least one) kept for at least one point.
fn check_tier(field: &str, tier: &Tier) -> Result<(), ConfigError> {
    let res = tier.resolution;
    if res < Duration::from_secs(1) || res.subsec_nanos() != 0 {
        return Err(invalid(
            field,
            res,
            "resolution must be a whole number of seconds, at least 1",
        ));
    }
    if tier.retention < res {
        return Err(invalid(
            field,
            tier.retention,
            "retention must hold at least one point",
        ));
    }
    Ok(())
}

/// A coarse tier against the fine tier its points are built from.
fn check_coarse(field: &str, fine: &Tier, coarse: &Tier) -> Result<(), ConfigError> {
    if !coarse.resolution_ms().is_multiple_of(fine.resolution_ms()) {
        return Err(invalid(
            field,
            coarse.resolution,
            "resolution must be a whole multiple of the fine resolution",
        ));
    }
    if coarse.resolution > fine.retention {
        return Err(invalid(
            field,
            coarse.resolution,
            "resolution must not exceed the fine retention",
        ));
    }
    Ok(())
}

/// An invalid-value error about `field`.
fn invalid(field: &str, value: Duration, reason: &str) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::InvalidValue,
        field,
        format!("{value:?}"),
        reason,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_sized_as_documented() {
        let c = MonitorConfig::default();
        c.validate().unwrap();
        assert_eq!(c.fine.points(), 2_160);
        assert_eq!(c.task_coarse.points(), 10_080);
        assert_eq!(c.topic_coarse.points(), 1_008);
        assert_eq!(c.ratio(&c.task_coarse), 6);
        assert_eq!(c.ratio(&c.topic_coarse), 60);
    }

    #[test]
    fn mismatched_tiers_are_refused() {
        let secs = Duration::from_secs;
        let mut c = MonitorConfig::default();
        c.topic_coarse.resolution = secs(25);
        assert_eq!(c.validate().unwrap_err().field(), "monitor.topic_coarse");

        let mut c = MonitorConfig::default();
        c.fine.resolution = Duration::from_millis(1_500);
        assert_eq!(c.validate().unwrap_err().field(), "monitor.fine");

        let mut c = MonitorConfig::default();
        c.fine.retention = secs(300);
        assert_eq!(c.validate().unwrap_err().field(), "monitor.topic_coarse");

        let mut c = MonitorConfig::default();
        c.task_coarse.retention = secs(30);
        assert_eq!(c.validate().unwrap_err().field(), "monitor.task_coarse");

        let c = MonitorConfig {
            max_step: secs(5),
            ..MonitorConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field(), "monitor.max_step");
    }
}
