//! Which key identifies "the same message" for deduplication.

use cheetah_string::CheetahString;
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::MessageTrait;

/// A copy of each batched message's `UNIQ_KEY`, stamped by the migrating producer.
///
/// The rocketmq-rust 1.0.0 broker stores every message of a batch with the batch's `UNIQ_KEY`, so three messages
/// sent in one batch arrive with one key; the copy keeps each message's own key (user properties survive).
pub const BATCH_KEY_PROPERTY: &str = "MIGRATION_UNIQ_KEY";

/// Extracts the dedupe key of a received message. `None` means "do not deduplicate this message".
///
/// Closures `Fn(&MessageExt) -> Option<String>` implement it, e.g. a business key:
///
/// ```
/// use rocketmq_migration::dedupe::KeyExtractor;
/// use rocketmq_model::common::message::message_ext::MessageExt;
/// let by_keys = |m: &MessageExt| m.keys().and_then(|k| k.into_iter().next());
/// let _: &dyn KeyExtractor = &by_keys;
/// ```
pub trait KeyExtractor: Send + Sync + 'static {
    /// The key of `msg`, or `None` to let it through unchecked.
    fn key(&self, msg: &MessageExt) -> Option<String>;
}

impl<F> KeyExtractor for F
where
    F: Fn(&MessageExt) -> Option<String> + Send + Sync + 'static,
{
    fn key(&self, msg: &MessageExt) -> Option<String> {
        self(msg)
    }
}

/// The default key: the client unique key stamped by the producer before the first attempt — the
/// [`BATCH_KEY_PROPERTY`] copy when present (batched messages), else the `UNIQ_KEY` property.
#[derive(Clone, Copy, Debug, Default)]
pub struct UniqKey;

impl KeyExtractor for UniqKey {
    fn key(&self, msg: &MessageExt) -> Option<String> {
        msg.property(&CheetahString::from_static_str(BATCH_KEY_PROPERTY))
            .or_else(|| MessageClientIDSetter::get_uniq_id(msg))
            .map(|k| k.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_copy_wins_over_the_broker_assigned_uniq_key() {
        let mut m = MessageExt::default();
        assert_eq!(UniqKey.key(&m), None);
        MessageClientIDSetter::set_uniq_id(&mut m);
        let batch_level = MessageClientIDSetter::get_uniq_id(&m).map(|k| k.to_string());
        assert_eq!(UniqKey.key(&m), batch_level);
        m.put_property(
            CheetahString::from_static_str(BATCH_KEY_PROPERTY),
            "own-key".into(),
        );
        assert_eq!(UniqKey.key(&m).as_deref(), Some("own-key"));
    }
}
