//! Which key identifies "the same message" for deduplication.

use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_ext::MessageExt;

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

/// The default key: the client unique key (`UNIQ_KEY` property) stamped by the producer before the first attempt.
#[derive(Clone, Copy, Debug, Default)]
pub struct UniqKey;

impl KeyExtractor for UniqKey {
    fn key(&self, msg: &MessageExt) -> Option<String> {
        MessageClientIDSetter::get_uniq_id(msg).map(|k| k.to_string())
    }
}
