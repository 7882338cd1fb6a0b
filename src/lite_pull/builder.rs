//! `MigratingLitePullConsumer::builder`: the settings of `DefaultLitePullConsumer::builder`, plus the two clusters.

use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    AllocateMessageQueueStrategy, ArcTraceDispatcher, ClientOptions, ClientResult, ClientRuntime,
    DefaultLitePullConsumer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_enum::MessageRequestMode;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_transport::api::RPCHook;

use super::timing::PollSettings;
use crate::client::base::ClientBase;
use crate::client::builder::{
    common_builder, dedupe_setters, mirrored_settings, Checked, Common, DedupeChoice,
};
use crate::client::consumer_settings::{apply_read, read_setters, ReadSettings};
use crate::client::merge::MergeShared;
use crate::cluster::Cluster;
use crate::error::MigrationError;
use crate::setters::setters;

mirrored_settings! {
    /// The settings of `DefaultLitePullConsumer::builder` mirrored one to one.
    struct PullSettings via apply_pull, pull_setters {
        /// Same as `DefaultLitePullConsumer::builder().client_options(..)`, for both clusters (the name server and
        /// namespace come from each [`ClusterConfig`](crate::ClusterConfig)).
        client_options: ClientOptions,
        /// Same as `DefaultLitePullConsumer::builder().client_ip(..)`.
        client_ip: String,
        /// Same as `DefaultLitePullConsumer::builder().use_tls(..)`.
        use_tls: bool,
        /// Same as `DefaultLitePullConsumer::builder().consume_timestamp(..)` (source side).
        consume_timestamp: String,
        /// Same as `DefaultLitePullConsumer::builder().allocate_message_queue_strategy(..)`.
        allocate_message_queue_strategy: Arc<dyn AllocateMessageQueueStrategy + Send + Sync>,
        /// Same as `DefaultLitePullConsumer::builder().unit_mode(..)`.
        unit_mode: bool,
        /// Same as `DefaultLitePullConsumer::builder().pull_batch_size(..)`, per cluster.
        pull_batch_size: i32,
        /// Same as `DefaultLitePullConsumer::builder().pull_thread_nums(..)`, per cluster.
        pull_thread_nums: usize,
        /// Same as `DefaultLitePullConsumer::builder().pull_threshold_for_queue(..)`.
        pull_threshold_for_queue: i64,
        /// Same as `DefaultLitePullConsumer::builder().pull_threshold_size_for_queue(..)`.
        pull_threshold_size_for_queue: i32,
        /// Same as `DefaultLitePullConsumer::builder().pull_threshold_for_all(..)`, per cluster.
        pull_threshold_for_all: i64,
        /// Same as `DefaultLitePullConsumer::builder().consume_max_span(..)`.
        consume_max_span: i64,
        /// Same as `DefaultLitePullConsumer::builder().pull_time_delay_millis_when_exception(..)`.
        pull_time_delay_millis_when_exception: u64,
        /// Same as `DefaultLitePullConsumer::builder().pull_time_delay_millis_when_cache_flow_control(..)`.
        pull_time_delay_millis_when_cache_flow_control: u64,
        /// Same as `DefaultLitePullConsumer::builder().pull_time_delay_millis_when_broker_flow_control(..)`.
        pull_time_delay_millis_when_broker_flow_control: u64,
        /// Same as `DefaultLitePullConsumer::builder().broker_suspend_max_time_millis(..)`.
        broker_suspend_max_time_millis: u64,
        /// Same as `DefaultLitePullConsumer::builder().consumer_timeout_millis_when_suspend(..)`.
        consumer_timeout_millis_when_suspend: u64,
        /// Same as `DefaultLitePullConsumer::builder().consumer_pull_timeout_millis(..)`.
        consumer_pull_timeout_millis: u64,
        /// Same as `DefaultLitePullConsumer::builder().topic_metadata_check_interval_millis(..)`.
        topic_metadata_check_interval_millis: u64,
        /// Same as `DefaultLitePullConsumer::builder().message_request_mode(..)`.
        message_request_mode: MessageRequestMode,
        /// Same as `DefaultLitePullConsumer::builder().trace_dispatcher(..)`.
        trace_dispatcher: ArcTraceDispatcher,
    }
}

/// Settings forwarded to each cluster's `DefaultLitePullConsumer` builder.
#[derive(Clone, Default)]
pub(crate) struct LitePullSettings {
    pub(crate) instance_name: Option<String>,
    pub(crate) enable_msg_trace: bool,
    pub(crate) read: ReadSettings,
    pub(crate) mirrored: PullSettings,
}

impl LitePullSettings {
    /// A raw consumer of `base`'s group for `side` and the client id the brokers list it under. Auto-commit is always
    /// off on the raw consumers: the shim commits (see [`crate::MigratingLitePullConsumer`]).
    pub(crate) fn build_raw(
        &self,
        base: &ClientBase,
        side: Cluster,
    ) -> ClientResult<(DefaultLitePullConsumer, String)> {
        let cluster = base.cluster(side);
        let b = DefaultLitePullConsumer::builder(base.runtime.clone());
        let mut b = apply_pull!(self.mirrored, b);
        b = b.name_server_addr(cluster.name_server_addr.clone());
        if let Some(ns) = &cluster.namespace {
            b = b.namespace(ns.clone());
        }
        let name = self.instance_name.as_deref().unwrap_or("DEFAULT");
        b = b.instance_name(self.read.instance_name(name, side));
        b = b.consumer_group(base.group.clone());
        b = apply_read!(self.read, b, side);
        if let Some(hook) = cluster.rpc_hook(self.read.rpc_hook.as_ref()) {
            b = b.rpc_hook(hook);
        }
        if self.enable_msg_trace {
            b = b.enable_msg_trace();
        }
        let consumer = b.auto_commit(false).build()?;
        // The id the brokers list this client under: the raw lite pull consumer's own config forms it, with its
        // stream request type (`...@STREAM`), which a plain client config would leave out.
        let client_id = consumer.client_config().build_mq_client_id();
        Ok((consumer, client_id))
    }
}

/// Builder of a [`MigratingLitePullConsumer`]: `DefaultLitePullConsumer::builder`'s settings plus `source`,
/// `target`, the phase table to follow and the dedupe hook.
///
/// Not mirrored: `name_server_addr`, `namespace` and `nameserver_discovery` (per cluster, in [`ClusterConfig`]),
/// `connect_broker_by_user` / `default_broker_id` (a broker id means nothing across two clusters).
///
/// [`MigratingLitePullConsumer`]: crate::MigratingLitePullConsumer
/// [`ClusterConfig`]: crate::ClusterConfig
pub struct MigratingLitePullConsumerBuilder {
    common: Common,
    dedupe: DedupeChoice,
    poll: PollSettings,
    pub(crate) settings: LitePullSettings,
}

/// What [`MigratingLitePullConsumerBuilder::build`] hands the consumer.
pub(crate) struct Parts {
    pub(crate) checked: Checked,
    pub(crate) settings: LitePullSettings,
    pub(crate) shared: MergeShared,
    pub(crate) poll: PollSettings,
}

common_builder!(MigratingLitePullConsumerBuilder, consumer_group, poll);
dedupe_setters!(MigratingLitePullConsumerBuilder);
read_setters!(MigratingLitePullConsumerBuilder);
pull_setters!(MigratingLitePullConsumerBuilder, mirrored);

impl MigratingLitePullConsumerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingLitePullConsumerBuilder {
            common: Common::new(runtime),
            dedupe: DedupeChoice::default(),
            poll: PollSettings::default(),
            settings: LitePullSettings::default(),
        }
    }

    /// Same as `DefaultLitePullConsumer::builder().instance_name(..)`; each cluster's client gets
    /// `<name>-source` / `<name>-target`.
    pub fn instance_name(mut self, name: impl Into<CheetahString>) -> Self {
        self.settings.instance_name = Some(name.into().to_string());
        self
    }

    /// An RPC hook for both clusters; a cluster with credentials in its [`ClusterConfig`](crate::ClusterConfig)
    /// uses those instead.
    pub fn rpc_hook(mut self, hook: Arc<dyn RPCHook>) -> Self {
        self.settings.read.rpc_hook = Some(hook);
        self
    }

    /// Same as `DefaultLitePullConsumer::builder().enable_msg_trace()`, on both clusters.
    pub fn enable_msg_trace(mut self) -> Self {
        self.settings.enable_msg_trace = true;
        self
    }

    setters! {
        in poll;
        /// How long `poll()` waits for messages (default 5000 ms), as `DefaultLitePullConsumer`.
        poll_timeout_millis(poll_timeout_millis: u64) = poll_timeout_millis;
        /// Commit polled offsets (and count returned keys as consumed) automatically (default: true). See
        /// [`MigratingLitePullConsumer`] for when a key counts as consumed either way.
        ///
        /// [`MigratingLitePullConsumer`]: crate::MigratingLitePullConsumer
        auto_commit(auto_commit: bool) = auto_commit;
        /// The interval between automatic commits (default 5000 ms, at least 1000 ms; `build` refuses less).
        auto_commit_interval_millis(auto_commit_interval_millis: u64) = auto_commit_interval_millis;
    }

    /// Checked parts for [`MigratingLitePullConsumer`](super::MigratingLitePullConsumer)'s `build`.
    pub(super) fn check(self) -> Result<Parts, MigrationError> {
        let checked = self.common.check("consumer_group")?;
        self.poll.check()?;
        let shared = MergeShared::new(self.dedupe, &checked.base.clusters, None);
        Ok(Parts {
            checked,
            settings: self.settings,
            shared,
            poll: self.poll,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterConfig;

    #[test]
    fn the_reported_client_id_is_the_one_brokers_list() {
        let rt = crate::MigrationRuntime::new().expect("runtime");
        let settings = LitePullSettings::default();
        let base = ClientBase {
            runtime: rt.client(),
            group: "lp_id_cg".to_owned(),
            clusters: [
                ClusterConfig::new("127.0.0.1:1"),
                ClusterConfig::new("127.0.0.1:2"),
            ],
        };
        let (consumer, id) = settings
            .build_raw(&base, Cluster::Target)
            .expect("valid settings");
        assert_eq!(id, consumer.client_config().build_mq_client_id());
        assert!(id.ends_with("-target@STREAM"), "{id}");
    }
}
