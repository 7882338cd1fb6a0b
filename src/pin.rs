//! Per-instance pinning for batch releases: an instance configured with pins uses the pinned phase for those topics
//! (or for all), whatever the control plane or code sets. A deployment can so move some consumer instances to read
//! both clusters, then some producers, then the rest, in the seed's order.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::phase::Phase;

/// Phases pinned per topic, and optionally for every topic.
///
/// ```
/// use rocketmq_migration::{Phase, Pins};
/// let pins: Pins = "orders=dual_read,*=initial".parse().unwrap();
/// assert_eq!(pins.phase_for("orders"), Some(Phase::DualRead));
/// assert_eq!(pins.phase_for("payments"), Some(Phase::Initial));
/// assert!("orders=halfway".parse::<Pins>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    all: Option<Phase>,
    topics: BTreeMap<String, Phase>,
}

impl Pins {
    /// No pins.
    pub fn new() -> Self {
        Pins::default()
    }

    /// Pin `topic` to `phase`.
    pub fn topic(mut self, topic: impl Into<String>, phase: Phase) -> Self {
        self.topics.insert(topic.into(), phase);
        self
    }

    /// Pin every topic not pinned by name to `phase`.
    pub fn all(mut self, phase: Phase) -> Self {
        self.all = Some(phase);
        self
    }

    /// The pinned phase of `topic`, if any.
    pub fn phase_for(&self, topic: &str) -> Option<Phase> {
        self.topics.get(topic).copied().or(self.all)
    }

    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.topics.is_empty()
    }

    /// Pinned topic names, with `*` standing for "every other topic".
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.topics.keys().cloned().collect();
        if self.all.is_some() {
            v.push("*".into());
        }
        v
    }
}

impl fmt::Display for Pins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .topics
            .iter()
            .map(|(t, p)| format!("{t}={p}"))
            .collect();
        if let Some(p) = self.all {
            parts.push(format!("*={p}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// `topic=phase[,topic=phase...]`, with `*` for every other topic (the form of the `RMQ_MIGRATE_PIN` convention).
impl FromStr for Pins {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pins = Pins::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((topic, phase)) = part.split_once('=') else {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "pins",
                    part,
                    "must be topic=phase (or *=phase)",
                ));
            };
            let phase: Phase = phase.trim().parse()?;
            match topic.trim() {
                "" => {
                    return Err(ConfigError::new(
                        ConfigErrorKind::InvalidValue,
                        "pins",
                        part,
                        "topic must not be empty",
                    ))
                }
                "*" => pins.all = Some(phase),
                t => {
                    pins.topics.insert(t.to_owned(), phase);
                }
            }
        }
        Ok(pins)
    }
}
