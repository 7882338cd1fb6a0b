//! The per-topic phase table and the routing decisions taken from one snapshot of it.
//!
//! The table is an immutable [`PhaseTable`] behind an `ArcSwap`: a send or a receive loads one snapshot and decides
//! from it, writers replace the whole table atomically. [`PhaseHandle`] is the writer side (code, or the control
//! plane poller) and is shared by every producer and consumer built with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::phase::Phase;
use crate::pin::Pins;
use crate::topic_map::TopicMap;
use crate::topic_state::{validate_ratio, TopicState};

/// An immutable snapshot of every migrating topic's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTable {
    topics: TopicMap,
    // This instance's pins, applied over the states above (never sent on the wire).
    #[serde(skip)]
    pins: Option<Arc<Pins>>,
}

impl PhaseTable {
    /// A table holding exactly `topics`.
    pub fn from_topics(topics: BTreeMap<String, TopicState>) -> Self {
        PhaseTable {
            topics: topics.into(),
            pins: None,
        }
    }

    /// The state of `topic`; topics not under migration are `Initial`.
    pub fn topic(&self, topic: &str) -> TopicState {
        let mut state = self.topics.get(topic).copied().unwrap_or_default();
        if let Some(p) = self.pins.as_ref().and_then(|p| p.phase_for(topic)) {
            state.phase = p;
        }
        state
    }

    /// The state of `topic` if it is under migration.
    pub fn get(&self, topic: &str) -> Option<&TopicState> {
        self.topics.get(topic)
    }

    /// The phase of `topic`; topics not under migration are `Initial`.
    pub fn phase(&self, topic: &str) -> Phase {
        self.topic(topic).phase
    }

    /// This instance's pins, if it has any.
    pub fn pins(&self) -> Option<&Pins> {
        self.pins.as_deref()
    }

    /// Every topic under migration, by name, as the control plane or code set it (pins not applied; use
    /// [`PhaseTable::topic`] for the effective state).
    pub fn topics(&self) -> impl Iterator<Item = (&str, &TopicState)> {
        self.topics.iter()
    }

    /// Highest version of any topic (0 when empty).
    pub fn max_version(&self) -> u64 {
        self.topics.values().map(|s| s.version).max().unwrap_or(0)
    }
}

/// What [`PhaseHandle::apply`] did with an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The update was newer and is now in the table.
    Updated,
    /// The update's version was not newer than the applied one; the table is unchanged.
    Stale,
}

/// Shared, atomically swapped phase table: the writer side, and the source of snapshots.
///
/// Cloning is cheap; clones share one table. Every producer and consumer built with a handle follows it.
///
/// ```
/// use rocketmq_migration::{Phase, PhaseHandle};
/// let h = PhaseHandle::new();
/// assert_eq!(h.snapshot().phase("orders"), Phase::Initial);
/// h.set_phase("orders", Phase::DualRead).unwrap();
/// assert_eq!(h.snapshot().phase("orders"), Phase::DualRead);
/// h.set_write_ratio("orders", 0.2).unwrap();
/// assert!(h.set_write_ratio("orders", 1.2).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct PhaseHandle {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    table: ArcSwap<PhaseTable>,
    // Serialises writers so a read-modify-write never loses a concurrent update.
    write_lock: Mutex<()>,
    changed: watch::Sender<u64>,
}

impl Default for PhaseHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl PhaseHandle {
    /// An empty table: every topic is `Initial`.
    pub fn new() -> Self {
        let (changed, _) = watch::channel(0);
        PhaseHandle {
            inner: Arc::new(Shared {
                table: ArcSwap::from_pointee(PhaseTable::default()),
                write_lock: Mutex::new(()),
                changed,
            }),
        }
    }

    /// A handle whose table applies `pins` over everything set into it: pinned topics keep their pinned phase
    /// whatever the control plane or code sets (batch releases).
    pub fn with_pins(pins: Pins) -> Self {
        let h = PhaseHandle::new();
        if !pins.is_empty() {
            tracing::warn!(%pins, "this instance is PINNED: these topics ignore the control plane");
            h.inner.table.store(Arc::new(PhaseTable {
                pins: Some(Arc::new(pins)),
                ..Default::default()
            }));
        }
        h
    }

    /// Load the current table. Decide one operation from one snapshot.
    pub fn snapshot(&self) -> Arc<PhaseTable> {
        self.inner.table.load_full()
    }

    /// The effective state of `topic` in the current table (pins applied): the per-send decision, without taking a
    /// reference on the table. Use [`PhaseHandle::snapshot`] to decide several things from one table.
    pub fn topic(&self, topic: &str) -> TopicState {
        self.inner.table.load().topic(topic)
    }

    /// A receiver that is notified after every change of the table.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Apply a versioned state for `topic`. Ignored (and `Stale` returned) unless `state.version` is newer than the
    /// applied one. The ratio is validated first; an invalid update changes nothing.
    pub fn apply(&self, topic: &str, state: TopicState) -> Result<Applied, ConfigError> {
        state.validate()?;
        validate_topic(topic)?;
        let _guard = self.inner.write_lock.lock();
        let current = self.inner.table.load();
        if let Some(old) = current.topics.get(topic) {
            if state.version <= old.version {
                tracing::debug!(
                    topic,
                    old = old.version,
                    new = state.version,
                    "ignoring stale phase update"
                );
                return Ok(Applied::Stale);
            }
        }
        let mut next = PhaseTable::clone(&current);
        let old_phase = next.phase(topic);
        next.topics.insert(topic, state);
        self.publish(next);
        tracing::info!(topic, from = %old_phase, to = %state.phase, ratio = state.write_ratio, version = state.version, "phase table updated");
        Ok(Applied::Updated)
    }

    /// Replace the whole table with `table`, topic by topic applying only newer versions. Topics absent from
    /// `table` are kept. Returns the number of topics that changed.
    pub fn apply_table(&self, table: &PhaseTable) -> Result<usize, ConfigError> {
        for (topic, state) in table.topics() {
            state.validate()?;
            validate_topic(topic)?;
        }
        let _guard = self.inner.write_lock.lock();
        let mut next = PhaseTable::clone(&self.inner.table.load());
        let mut changed = 0;
        for (topic, state) in table.topics() {
            let newer = next
                .topics
                .get(topic)
                .is_none_or(|old| state.version > old.version);
            if newer {
                next.topics.insert(topic, *state);
                changed += 1;
            }
        }
        if changed > 0 {
            self.publish(next);
        }
        Ok(changed)
    }

    /// Set `topic`'s phase directly (version = current + 1, ratio and orderly flag kept, `sealed` cleared when the
    /// phase changes).
    pub fn set_phase(&self, topic: &str, phase: Phase) -> Result<TopicState, ConfigError> {
        self.modify(topic, |s| {
            if s.phase != phase {
                s.sealed = false;
            }
            s.phase = phase
        })
    }

    /// Mark `topic` orderly or not (version = current + 1). See [`TopicState::orderly`].
    pub fn set_orderly(&self, topic: &str, orderly: bool) -> Result<TopicState, ConfigError> {
        self.modify(topic, |s| s.orderly = orderly)
    }

    /// Declare `topic`'s source sealed: every producer of it applied `CuttingOver`, nothing more is written to the
    /// source. The control plane does this itself; call it when driving phases from code. Refused unless the topic
    /// is in `CuttingOver`.
    pub fn seal(&self, topic: &str) -> Result<TopicState, ConfigError> {
        let phase = self.snapshot().phase(topic);
        if phase != Phase::CuttingOver {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidPhase,
                "phase",
                phase.to_string(),
                format!("topic {topic:?} can be sealed only in cutting_over"),
            ));
        }
        self.modify(topic, |s| s.sealed = true)
    }

    /// Set `topic`'s DualReadWrite write ratio directly (version = current + 1, phase kept).
    pub fn set_write_ratio(&self, topic: &str, ratio: f64) -> Result<TopicState, ConfigError> {
        validate_ratio(ratio)?;
        self.modify(topic, |s| s.write_ratio = ratio)
    }

    fn modify(
        &self,
        topic: &str,
        f: impl FnOnce(&mut TopicState),
    ) -> Result<TopicState, ConfigError> {
        validate_topic(topic)?;
        let _guard = self.inner.write_lock.lock();
        let mut next = PhaseTable::clone(&self.inner.table.load());
        let mut state = next.topics.get(topic).copied().unwrap_or_default();
        let from = state.phase;
        f(&mut state);
        state.version += 1;
        next.topics.insert(topic, state);
        self.publish(next);
        tracing::info!(topic, from = %from, to = %state.phase, ratio = state.write_ratio, version = state.version, "phase set");
        Ok(state)
    }

    fn publish(&self, table: PhaseTable) {
        self.inner.table.store(Arc::new(table));
        self.inner.changed.send_modify(|n| *n += 1);
    }
}

fn validate_topic(topic: &str) -> Result<(), ConfigError> {
    if topic.trim().is_empty() {
        return Err(ConfigError::new(
            ConfigErrorKind::InvalidValue,
            "topic",
            topic,
            "must not be empty",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_needs_cutting_over_and_any_phase_move_clears_it() {
        let h = PhaseHandle::new();
        h.set_orderly("t", true).unwrap();
        assert_eq!(
            h.seal("t").unwrap_err().kind(),
            ConfigErrorKind::InvalidPhase
        );
        h.set_phase("t", Phase::CuttingOver).unwrap();
        assert!(h.seal("t").unwrap().sealed);
        let back = h.set_phase("t", Phase::DualReadWrite).unwrap();
        assert!(!back.sealed && back.orderly);
    }

    #[test]
    fn stale_versions_are_ignored() {
        let h = PhaseHandle::new();
        let v5 = TopicState {
            phase: Phase::DualRead,
            write_ratio: 0.5,
            version: 5,
            ..Default::default()
        };
        assert_eq!(h.apply("t", v5).unwrap(), Applied::Updated);
        let v4 = TopicState {
            phase: Phase::Completed,
            version: 4,
            ..v5
        };
        assert_eq!(h.apply("t", v4).unwrap(), Applied::Stale);
        assert_eq!(h.apply("t", v5).unwrap(), Applied::Stale);
        assert_eq!(h.snapshot().topic("t"), v5);
        let mut table = PhaseTable::default();
        table.topics.insert("t", v4);
        table.topics.insert("u", TopicState { version: 1, ..v4 });
        assert_eq!(h.apply_table(&table).unwrap(), 1);
        assert_eq!(h.snapshot().phase("t"), Phase::DualRead);
        assert_eq!(h.snapshot().phase("u"), Phase::Completed);
    }

    #[test]
    fn invalid_updates_change_nothing() {
        let h = PhaseHandle::new();
        h.set_phase("t", Phase::DualReadWrite).unwrap();
        let before = h.snapshot();
        for bad in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
            let err = h.set_write_ratio("t", bad).unwrap_err();
            assert_eq!(err.kind(), ConfigErrorKind::InvalidRatio);
            assert_eq!(err.field(), "write_ratio");
            let err = h
                .apply(
                    "t",
                    TopicState {
                        write_ratio: bad,
                        version: 99,
                        ..Default::default()
                    },
                )
                .unwrap_err();
            assert_eq!(err.kind(), ConfigErrorKind::InvalidRatio);
        }
        assert_eq!(*h.snapshot(), *before);
        assert_eq!(
            h.set_phase(" ", Phase::DualRead).unwrap_err().kind(),
            ConfigErrorKind::InvalidValue
        );
    }

    #[test]
    fn direct_sets_bump_the_version_and_notify() {
        let h = PhaseHandle::new();
        let mut rx = h.subscribe_changes();
        let a = h.set_phase("t", Phase::DualRead).unwrap();
        let b = h.set_write_ratio("t", 0.7).unwrap();
        assert_eq!((a.version, b.version), (1, 2));
        assert_eq!(b.phase, Phase::DualRead);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        assert_eq!(h.snapshot().max_version(), 2);
    }
}
