//! `MigratingPushConsumer::builder`: the settings of `DefaultMQPushConsumer::builder`, plus the two clusters.

use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    AllocateMessageQueueStrategy, ArcMessageQueueListener, ArcTraceDispatcher, ClientConfig,
    ClientOptions, ClientRuntime, ConsumerTuningProfile, DefaultMQPushConsumer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_transport::api::RPCHook;

use crate::client::base::ClientBase;
use crate::client::builder::{
    common_builder, dedupe_setters, mirrored_settings, Checked, Common, DedupeChoice,
};
use crate::client::consumer_settings::{apply_read, read_setters, ReadSettings};
use crate::client::merge::MergeShared;
use crate::cluster::Cluster;
use crate::error::MigrationError;

mirrored_settings! {
    /// The settings of `DefaultMQPushConsumer::builder` mirrored one to one.
    struct PushSettings via apply_push, push_setters {
        /// Same as `DefaultMQPushConsumer::builder().client_options(..)`.
        client_options: ClientOptions,
        /// Same as `DefaultMQPushConsumer::builder().consume_timestamp(..)` (source side).
        consume_timestamp: CheetahString,
        /// Same as `DefaultMQPushConsumer::builder().allocate_message_queue_strategy(..)`.
        allocate_message_queue_strategy: Arc<dyn AllocateMessageQueueStrategy>,
        /// Same as `DefaultMQPushConsumer::builder().message_queue_listener(..)`.
        message_queue_listener: Option<ArcMessageQueueListener>,
        /// Same as `DefaultMQPushConsumer::builder().consume_thread_min(..)`, per cluster.
        consume_thread_min: u32,
        /// Same as `DefaultMQPushConsumer::builder().consume_thread_max(..)`, per cluster.
        consume_thread_max: u32,
        /// Same as `DefaultMQPushConsumer::builder().adjust_thread_pool_nums_threshold(..)`.
        adjust_thread_pool_nums_threshold: u64,
        /// Same as `DefaultMQPushConsumer::builder().consume_concurrently_max_span(..)`.
        consume_concurrently_max_span: u32,
        /// Same as `DefaultMQPushConsumer::builder().pull_threshold_for_queue(..)`.
        pull_threshold_for_queue: u32,
        /// Same as `DefaultMQPushConsumer::builder().pop_threshold_for_queue(..)`.
        pop_threshold_for_queue: u32,
        /// Same as `DefaultMQPushConsumer::builder().pull_threshold_size_for_queue(..)`.
        pull_threshold_size_for_queue: u32,
        /// Same as `DefaultMQPushConsumer::builder().pull_threshold_for_topic(..)`.
        pull_threshold_for_topic: i32,
        /// Same as `DefaultMQPushConsumer::builder().pull_threshold_size_for_topic(..)`.
        pull_threshold_size_for_topic: i32,
        /// Same as `DefaultMQPushConsumer::builder().pull_interval(..)`.
        pull_interval: u64,
        /// Same as `DefaultMQPushConsumer::builder().consume_message_batch_max_size(..)`.
        consume_message_batch_max_size: u32,
        /// Same as `DefaultMQPushConsumer::builder().pull_batch_size(..)`.
        pull_batch_size: u32,
        /// Same as `DefaultMQPushConsumer::builder().pull_batch_size_in_bytes(..)`.
        pull_batch_size_in_bytes: u32,
        /// Same as `DefaultMQPushConsumer::builder().post_subscription_when_pull(..)`.
        post_subscription_when_pull: bool,
        /// Same as `DefaultMQPushConsumer::builder().unit_mode(..)`.
        unit_mode: bool,
        /// Same as `DefaultMQPushConsumer::builder().max_reconsume_times(..)`.
        max_reconsume_times: i32,
        /// Same as `DefaultMQPushConsumer::builder().suspend_current_queue_time_millis(..)`.
        suspend_current_queue_time_millis: u64,
        /// Same as `DefaultMQPushConsumer::builder().consume_timeout(..)` (minutes).
        consume_timeout: u64,
        /// Same as `DefaultMQPushConsumer::builder().pop_invisible_time(..)`.
        pop_invisible_time: u64,
        /// Same as `DefaultMQPushConsumer::builder().pop_batch_nums(..)`.
        pop_batch_nums: u32,
        /// Same as `DefaultMQPushConsumer::builder().await_termination_millis_when_shutdown(..)`.
        await_termination_millis_when_shutdown: u64,
        /// Same as `DefaultMQPushConsumer::builder().trace_dispatcher(..)`.
        trace_dispatcher: Option<ArcTraceDispatcher>,
        /// Same as `DefaultMQPushConsumer::builder().client_rebalance(..)`.
        client_rebalance: bool,
        /// Same as `DefaultMQPushConsumer::builder().tuning_profile(..)`.
        tuning_profile: ConsumerTuningProfile,
    }
}

/// Settings forwarded to each cluster's `DefaultMQPushConsumer` builder.
#[derive(Clone, Default)]
pub(crate) struct ConsumerSettings {
    pub(crate) client_config: Option<ClientConfig>,
    pub(crate) read: ReadSettings,
    pub(crate) mirrored: PushSettings,
}

impl ConsumerSettings {
    /// A raw consumer of `base`'s group for `side` and the client id the brokers list it under.
    pub(crate) fn build_raw(
        &self,
        base: &ClientBase,
        side: Cluster,
    ) -> (DefaultMQPushConsumer, String) {
        let cluster = base.cluster(side);
        let mut cfg = cluster.client_config(self.client_config.as_ref());
        cfg.instance_name = self
            .read
            .instance_name(cfg.instance_name.as_str(), side)
            .into();
        let client_id = cfg.build_mq_client_id();
        let mut b = DefaultMQPushConsumer::builder(base.runtime.clone())
            .client_config(cfg)
            .name_server_addr(cluster.name_server_addr.clone())
            .consumer_group(base.group.clone());
        b = apply_read!(self.read, b, side);
        b = apply_push!(self.mirrored, b);
        let hook = cluster.rpc_hook(self.read.rpc_hook.as_ref());
        if hook.is_some() {
            b = b.rpc_hook(hook);
        }
        (b.build(), client_id)
    }
}

/// Builder of a [`MigratingPushConsumer`]: `DefaultMQPushConsumer::builder`'s settings plus `source`, `target`,
/// the phase table to follow and the dedupe hook.
///
/// Not mirrored: `name_server_addr` (per cluster, in [`ClusterConfig`]) and `nameserver_discovery` (per cluster).
///
/// [`MigratingPushConsumer`]: crate::MigratingPushConsumer
/// [`ClusterConfig`]: crate::ClusterConfig
pub struct MigratingPushConsumerBuilder {
    common: Common,
    dedupe: DedupeChoice,
    pub(crate) settings: ConsumerSettings,
}

common_builder!(MigratingPushConsumerBuilder, consumer_group);
dedupe_setters!(MigratingPushConsumerBuilder);
read_setters!(MigratingPushConsumerBuilder);
push_setters!(MigratingPushConsumerBuilder, mirrored);

impl MigratingPushConsumerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingPushConsumerBuilder {
            common: Common::new(runtime),
            dedupe: DedupeChoice::default(),
            settings: ConsumerSettings::default(),
        }
    }

    /// Base client settings for both clusters; the name server and namespace come from each
    /// [`ClusterConfig`](crate::ClusterConfig).
    pub fn client_config(mut self, client_config: ClientConfig) -> Self {
        self.settings.client_config = Some(client_config);
        self
    }

    /// An RPC hook for both clusters; a cluster with credentials in its [`ClusterConfig`](crate::ClusterConfig)
    /// uses those instead.
    pub fn rpc_hook(mut self, rpc_hook: Option<Arc<dyn RPCHook>>) -> Self {
        self.settings.read.rpc_hook = rpc_hook;
        self
    }

    /// Checked parts for [`MigratingPushConsumer`](super::MigratingPushConsumer)'s `build`.
    pub(super) fn check(self) -> Result<(Checked, ConsumerSettings, MergeShared), MigrationError> {
        let checked = self.common.check("consumer_group")?;
        let retries = (!self.settings.read.broadcasting())
            .then(|| self.settings.mirrored.max_reconsume_times.unwrap_or(-1));
        let shared = MergeShared::new(self.dedupe, &checked.base.clusters, retries);
        Ok((checked, self.settings, shared))
    }
}
