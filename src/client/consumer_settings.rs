//! What both consumers' builders set besides their raw builder's mirrored settings (hook, where a new group
//! starts, clustering or broadcasting, lingering), its setters, and how each cluster's raw consumer uses it.

use std::sync::Arc;

use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_transport::api::RPCHook;

use crate::cluster::Cluster;
use crate::linger::LingerSettings;

/// The read settings both consumers share.
#[derive(Clone, Default)]
pub(crate) struct ReadSettings {
    pub(crate) rpc_hook: Option<Arc<dyn RPCHook>>,
    pub(crate) consume_from_where: Option<ConsumeFromWhere>,
    pub(crate) message_model: Option<MessageModel>,
    /// Reading a cluster on after a topic left its read set (not a raw client setting).
    pub(crate) linger: LingerSettings,
}

impl ReadSettings {
    /// Whether the consumers read in broadcasting mode (no retry topic: a failed message is dropped).
    pub(crate) fn broadcasting(&self) -> bool {
        matches!(self.message_model, Some(MessageModel::Broadcasting))
    }

    /// Where a new group starts on `side`: the target always at the first offset, so nothing written before it
    /// attached is skipped.
    pub(crate) fn consume_from(&self, side: Cluster) -> Option<ConsumeFromWhere> {
        match side {
            Cluster::Source => self.consume_from_where,
            Cluster::Target => Some(ConsumeFromWhere::ConsumeFromFirstOffset),
        }
    }

    /// The instance name of `side`'s client, from the one the application gave (`base`): two clients of one
    /// process must not share a client id.
    pub(crate) fn instance_name(&self, base: &str, side: Cluster) -> String {
        crate::reads::instance_name(base, self.broadcasting(), side)
    }
}

/// The message model and where a new group starts, on a raw consumer builder for `$side` (both raw consumer
/// builders have these setters; they are different types).
macro_rules! apply_read {
    ($read:expr, $b:expr, $side:expr) => {{
        let mut b = $b;
        if let Some(m) = $read.message_model {
            b = b.message_model(m);
        }
        if let Some(f) = $read.consume_from($side) {
            b = b.consume_from_where(f);
        }
        b
    }};
}
pub(crate) use apply_read;

/// The setters of [`ReadSettings`] but the hook (whose type differs between the raw builders), on a consumer's
/// builder with `settings.read`.
macro_rules! read_setters {
    ($builder:ident) => {
        impl $builder {
            /// Where a new group starts on the source (the target always starts a new group at the first offset).
            pub fn consume_from_where(mut self, consume_from_where: ConsumeFromWhere) -> Self {
                self.settings.read.consume_from_where = Some(consume_from_where);
                self
            }

            /// Clustering (default) or broadcasting, on both clusters.
            pub fn message_model(mut self, message_model: MessageModel) -> Self {
                self.settings.read.message_model = Some(message_model);
                self
            }

            /// How long the consumer keeps reading a cluster after a topic left its read set, for retries and
            /// delayed messages that come due there late (default: quiet 15 s, at most 10 minutes; see
            /// [`LingerSettings`](crate::LingerSettings)).
            pub fn linger(mut self, linger: $crate::LingerSettings) -> Self {
                self.settings.read.linger = linger;
                self
            }
        }
    };
}
pub(crate) use read_setters;
