//! Which key identifies "the same message" for deduplication.

use std::borrow::Cow;

use rocketmq_model::common::message::message_ext::MessageExt;

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

    /// [`Self::key`], borrowed from `msg` where the key is stored in it as is: the consumers ask this once per
    /// delivered message, and a borrowed key costs no allocation. It must give what `key` gives; the default
    /// calls `key`.
    fn key_ref<'m>(&self, msg: &'m MessageExt) -> Option<Cow<'m, str>> {
        self.key(msg).map(Cow::Owned)
    }
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

/// The client unique key property (`MessageConst::PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`).
const UNIQ_KEY: &str = "UNIQ_KEY";

impl KeyExtractor for UniqKey {
    fn key(&self, msg: &MessageExt) -> Option<String> {
        self.key_ref(msg).map(Cow::into_owned)
    }

    fn key_ref<'m>(&self, msg: &'m MessageExt) -> Option<Cow<'m, str>> {
        let p = msg.properties();
        p.get(BATCH_KEY_PROPERTY)
            .or_else(|| p.get(UNIQ_KEY))
            .map(|k| Cow::Borrowed(k.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use cheetah_string::CheetahString;
    use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
    use rocketmq_model::common::message::MessageTrait;

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

    #[test]
    fn the_borrowed_key_is_the_key_and_borrows_the_property() {
        let mut m = MessageExt::default();
        assert_eq!(UniqKey.key_ref(&m), None);
        MessageClientIDSetter::set_uniq_id(&mut m);
        let uniq = MessageClientIDSetter::get_uniq_id(&m).expect("stamped");
        assert_eq!(UniqKey.key_ref(&m).as_deref(), Some(uniq.as_str()));
        assert!(matches!(UniqKey.key_ref(&m), Some(Cow::Borrowed(_))));
        m.put_property(
            CheetahString::from_static_str(BATCH_KEY_PROPERTY),
            "own-key".into(),
        );
        assert_eq!(UniqKey.key_ref(&m).as_deref(), Some("own-key"));
        assert_eq!(UniqKey.key(&m).as_deref(), Some("own-key"));
        // A closure's key is its own String, the default `key_ref`.
        let business = |m: &MessageExt| {
            m.property(&CheetahString::from_static_str("biz"))
                .map(|k| k.to_string())
        };
        m.put_property(CheetahString::from_static_str("biz"), "b-1".into());
        assert_eq!(business.key_ref(&m).as_deref(), Some("b-1"));
    }
}
