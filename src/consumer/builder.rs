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

use super::holdback::Holdback;
use super::listener::MergeShared;
use super::stats::TopicCounts;
use super::MigratingPushConsumer;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::control::ControlClient;
use crate::dedupe::{Deduplicator, KeyExtractor, MemoryDeduplicator, UniqKey};
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};
use crate::linger::LingerSettings;
use crate::route::PhaseHandle;

macro_rules! settings {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty ),* $(,)?) => {
        /// Settings forwarded to each cluster's `DefaultMQPushConsumer` builder.
        #[derive(Clone, Default)]
        pub(crate) struct ConsumerSettings {
            pub(crate) client_config: Option<ClientConfig>,
            pub(crate) rpc_hook: Option<Arc<dyn RPCHook>>,
            pub(crate) consume_from_where: Option<ConsumeFromWhere>,
            pub(crate) message_model: Option<MessageModel>,
            /// Reading a cluster on after a topic left its read set (not a raw client setting).
            pub(crate) linger: LingerSettings,
            $( pub(crate) $name: Option<$ty>, )*
        }

        impl ConsumerSettings {
            /// A raw consumer of `group` for `side`. The target side always starts a new group from the first
            /// offset, so nothing written before it attached is skipped.
            pub(crate) fn build_raw(
                &self,
                runtime: &Arc<ClientRuntime>,
                group: &str,
                side: Cluster,
                cluster: &ClusterConfig,
            ) -> (DefaultMQPushConsumer, String) {
                let mut b = DefaultMQPushConsumer::builder(runtime.clone());
                let mut cfg = cluster.client_config(self.client_config.as_ref());
                let broadcasting = matches!(self.message_model, Some(MessageModel::Broadcasting));
                cfg.instance_name =
                    crate::reads::instance_name(cfg.instance_name.as_str(), broadcasting, side).into();
                let client_id = cfg.build_mq_client_id();
                b = b.client_config(cfg);
                b = b.name_server_addr(cluster.name_server_addr.clone());
                b = b.consumer_group(group.to_owned());
                if let Some(m) = self.message_model {
                    b = b.message_model(m);
                }
                let from = match side {
                    Cluster::Source => self.consume_from_where,
                    Cluster::Target => Some(ConsumeFromWhere::ConsumeFromFirstOffset),
                };
                if let Some(f) = from {
                    b = b.consume_from_where(f);
                }
                $( if let Some(v) = &self.$name { b = b.$name(v.clone()); } )*
                let hook = cluster.rpc_hook(self.rpc_hook.as_ref());
                if hook.is_some() {
                    b = b.rpc_hook(hook);
                }
                (b.build(), client_id)
            }

            /// Whether the consumers read in broadcasting mode (no retry topic: a failed message is dropped).
            pub(crate) fn broadcasting(&self) -> bool {
                matches!(self.message_model, Some(MessageModel::Broadcasting))
            }
        }

        impl MigratingPushConsumerBuilder {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $name: $ty) -> Self {
                    self.settings.$name = Some($name);
                    self
                }
            )*
        }
    };
}

settings! {
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

/// Builder of a [`MigratingPushConsumer`]: `DefaultMQPushConsumer::builder`'s settings plus `source`, `target`,
/// the phase table to follow and the dedupe hook.
///
/// Not mirrored: `name_server_addr` (per cluster, in [`ClusterConfig`]) and `nameserver_discovery` (per cluster).
pub struct MigratingPushConsumerBuilder {
    runtime: Arc<ClientRuntime>,
    group: Option<String>,
    source: Option<ClusterConfig>,
    target: Option<ClusterConfig>,
    phases: Option<PhaseHandle>,
    control: Option<ControlClient>,
    dedupe: Option<Option<Arc<dyn Deduplicator>>>,
    key: Option<Arc<dyn KeyExtractor>>,
    settings: ConsumerSettings,
}

impl std::fmt::Debug for MigratingPushConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigratingPushConsumerBuilder")
            .field("group", &self.group)
            .field("source", &self.source)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl MigratingPushConsumerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingPushConsumerBuilder {
            runtime,
            group: None,
            source: None,
            target: None,
            phases: None,
            control: None,
            dedupe: None,
            key: None,
            settings: ConsumerSettings::default(),
        }
    }

    /// The consumer group, used on both clusters.
    pub fn consumer_group(mut self, consumer_group: impl Into<CheetahString>) -> Self {
        self.group = Some(consumer_group.into().to_string());
        self
    }

    /// The cluster being migrated away from. Required.
    pub fn source(mut self, source: ClusterConfig) -> Self {
        self.source = Some(source);
        self
    }

    /// The cluster being migrated to. Required; its client starts when a topic is first read from it.
    pub fn target(mut self, target: ClusterConfig) -> Self {
        self.target = Some(target);
        self
    }

    /// The phase table to follow. Default: a new table where every topic is `Initial`.
    pub fn phases(mut self, phases: PhaseHandle) -> Self {
        self.phases = Some(phases);
        self
    }

    /// Replace the default deduplicator (a [`MemoryDeduplicator`] with default settings). Give consumer
    /// instances of one group a shared store to dedupe across instances.
    pub fn deduplicator(mut self, dedupe: Arc<dyn Deduplicator>) -> Self {
        self.dedupe = Some(Some(dedupe));
        self
    }

    /// Turn dedupe off: every delivery reaches the listener.
    pub fn without_dedupe(mut self) -> Self {
        self.dedupe = Some(None);
        self
    }

    /// Replace the dedupe key (default: [`UniqKey`], the client unique key).
    pub fn key_extractor(mut self, key: Arc<dyn KeyExtractor>) -> Self {
        self.key = Some(key);
        self
    }

    /// Follow the control plane: use `control`'s phase table and report this consumer (subscribed topics, the
    /// phases its subscriptions have been brought in line with, counters) in its heartbeats, so the control
    /// plane's gates can see it.
    pub fn control(mut self, control: &ControlClient) -> Self {
        self.phases = Some(control.phases());
        self.control = Some(control.clone());
        self
    }

    /// Base client settings for both clusters; the name server and namespace come from each [`ClusterConfig`].
    pub fn client_config(mut self, client_config: ClientConfig) -> Self {
        self.settings.client_config = Some(client_config);
        self
    }

    /// An RPC hook for both clusters; a cluster with credentials in its [`ClusterConfig`] uses those instead.
    pub fn rpc_hook(mut self, rpc_hook: Option<Arc<dyn RPCHook>>) -> Self {
        self.settings.rpc_hook = rpc_hook;
        self
    }

    /// Where a new group starts on the source (the target always starts a new group at the first offset).
    pub fn consume_from_where(mut self, consume_from_where: ConsumeFromWhere) -> Self {
        self.settings.consume_from_where = Some(consume_from_where);
        self
    }

    /// Clustering (default) or broadcasting, on both clusters.
    pub fn message_model(mut self, message_model: MessageModel) -> Self {
        self.settings.message_model = Some(message_model);
        self
    }

    /// How long the consumer keeps reading a cluster after a topic left its read set, for retries and delayed
    /// messages that come due there late (default: quiet 15 s, at most 10 minutes; see [`LingerSettings`]).
    pub fn linger(mut self, linger: LingerSettings) -> Self {
        self.settings.linger = linger;
        self
    }

    /// Validate and build. Nothing connects until `start`.
    pub fn build(self) -> Result<MigratingPushConsumer, MigrationError> {
        let source = self.source.ok_or_else(|| ConfigError::missing("source"))?;
        let target = self.target.ok_or_else(|| ConfigError::missing("target"))?;
        source.validate("source")?;
        target.validate("target")?;
        let group = self.group.unwrap_or_default();
        if group.trim().is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "consumer_group",
                group,
                "is required",
            )
            .into());
        }
        let dedupe = self.dedupe.unwrap_or_else(|| {
            Some(Arc::new(MemoryDeduplicator::default()) as Arc<dyn Deduplicator>)
        });
        let phases = self.phases.unwrap_or_default();
        let shared = MergeShared {
            dedupe,
            key: self.key.unwrap_or_else(|| Arc::new(UniqKey)),
            counters: Default::default(),
            topics: TopicCounts::for_clusters(&source, &target),
            holdback: Some(Holdback::new(phases.clone())),
            activity: Default::default(),
            retries: (!self.settings.broadcasting())
                .then(|| self.settings.max_reconsume_times.unwrap_or(-1)),
        };
        Ok(MigratingPushConsumer::from_parts(
            self.runtime,
            group,
            [source, target],
            phases,
            self.settings,
            shared,
            self.control.as_ref(),
        ))
    }
}
