//! Dedupe hooks for merged consumption.
//!
//! While a topic is read from both clusters, one logical message can arrive twice: a send that failed over after
//! the first attempt was in fact stored, a message re-delivered after a rebalance, or the same message written to
//! both clusters on purpose. The consumer asks a [`Deduplicator`] before calling the application's listener:
//!
//! * [`Begin::Proceed`]: first sight of the key; the listener runs, then the key is committed (success) or
//!   aborted (failure, so a redelivery can run it again).
//! * [`Begin::Duplicate`]: the key was consumed already; the message is acknowledged without the listener.
//! * [`Begin::InFlight`]: another delivery of the key is being consumed right now; this one is retried later.
//! * [`Begin::Unavailable`]: the store cannot answer (e.g. a shared store is unreachable) and its policy is to
//!   fail closed; the delivery is retried later. A fail-open store answers [`Begin::Proceed`] instead.
//!
//! Keys are scoped by topic: every call names the message's topic and its key, so one business key used on two
//! topics is two keys.
//!
//! The key comes from a [`KeyExtractor`]: by default the message's client unique key (`UNIQ_KEY`), which the
//! migrating producer stamps once before the first send attempt so both clusters' copies carry the same key.

mod clock;
mod key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod table;

#[cfg(feature = "redis")]
pub use self::redis::{
    RedisDedupeStats, RedisDeduplicator, RedisDeduplicatorConfig, RedisFailurePolicy, WARN_INTERVAL,
};
pub use key::{KeyExtractor, UniqKey, BATCH_KEY_PROPERTY};
pub use memory::{MemoryDeduplicator, MemoryDeduplicatorConfig};

/// Answer of [`Deduplicator::begin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// First delivery of this key (or an earlier attempt was aborted): consume it.
    Proceed,
    /// Already consumed: acknowledge without calling the listener.
    Duplicate,
    /// Being consumed by another delivery right now: retry this one later.
    InFlight,
    /// The store cannot tell (unreachable, timed out) and fails closed: retry this delivery later.
    Unavailable,
}

/// A store that remembers which message keys are being consumed and which were consumed.
///
/// Implementations must be safe to call from many listener threads at once. Calls are synchronous because
/// listeners are; a networked store should keep its calls short (they run on the client's blocking lane).
/// To share dedupe state across consumer instances of one group, give them one shared store.
pub trait Deduplicator: Send + Sync + 'static {
    /// Mark `key` of `topic` as being consumed, unless it is already consuming or consumed.
    fn begin(&self, topic: &str, key: &str) -> Begin;
    /// `key` of `topic` was consumed successfully: later deliveries are duplicates.
    fn commit(&self, topic: &str, key: &str);
    /// Consuming `key` of `topic` failed: release it so a redelivery is consumed again.
    fn abort(&self, topic: &str, key: &str);
}

impl<D: Deduplicator + ?Sized> Deduplicator for std::sync::Arc<D> {
    fn begin(&self, topic: &str, key: &str) -> Begin {
        (**self).begin(topic, key)
    }
    fn commit(&self, topic: &str, key: &str) {
        (**self).commit(topic, key)
    }
    fn abort(&self, topic: &str, key: &str) {
        (**self).abort(topic, key)
    }
}
