//! `MigratingProducer::builder`: the settings of `DefaultMQProducer::builder`, plus the two clusters.

use std::collections::HashSet;
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    ArcTraceDispatcher, ClientConfig, ClientOptions, ClientRuntime, DefaultMQProducer,
};
use rocketmq_model::common::compression::compression_type::CompressionType;
use rocketmq_protocol::common::compression::compressor::Compressor;
use rocketmq_transport::api::RPCHook;

use super::MigratingProducer;
use crate::config::ClusterConfig;
use crate::control::ControlClient;
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};
use crate::route::PhaseHandle;

macro_rules! settings {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty ),* $(,)?) => {
        /// Settings forwarded to each cluster's `DefaultMQProducer` builder.
        #[derive(Clone, Default)]
        pub(crate) struct ProducerSettings {
            pub(crate) client_config: Option<ClientConfig>,
            pub(crate) rpc_hook: Option<Arc<dyn RPCHook>>,
            pub(crate) compressor: Option<&'static (dyn Compressor + Send + Sync)>,
            $( pub(crate) $name: Option<$ty>, )*
        }

        impl ProducerSettings {
            /// A raw producer for `cluster`, configured with these settings.
            pub(crate) fn build_raw(
                &self,
                runtime: &Arc<ClientRuntime>,
                group: &str,
                cluster: &ClusterConfig,
            ) -> DefaultMQProducer {
                let mut b = DefaultMQProducer::builder(runtime.clone());
                b = b.client_config(cluster.client_config(self.client_config.as_ref()));
                b = b.name_server_addr(cluster.name_server_addr.clone());
                b = b.producer_group(group.to_owned());
                $( if let Some(v) = &self.$name { b = b.$name(v.clone()); } )*
                if let Some(hook) = cluster.rpc_hook(self.rpc_hook.as_ref()) {
                    b = b.rpc_hook(hook);
                }
                if let Some(c) = self.compressor {
                    b = b.compressor(c);
                }
                b.build()
            }
        }

        impl MigratingProducerBuilder {
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
    /// Same as `DefaultMQProducer::builder().client_options(..)`.
    client_options: ClientOptions,
    /// Same as `DefaultMQProducer::builder().retry_response_codes(..)`.
    retry_response_codes: HashSet<i32>,
    /// Topics the producer publishes to (pre-fetches their routes), as in the raw builder.
    topics: Vec<CheetahString>,
    /// Same as `DefaultMQProducer::builder().use_tls(..)`, for both clusters.
    use_tls: bool,
    /// Same as `DefaultMQProducer::builder().create_topic_key(..)`.
    create_topic_key: CheetahString,
    /// Same as `DefaultMQProducer::builder().default_topic_queue_nums(..)`.
    default_topic_queue_nums: u32,
    /// Send timeout in milliseconds (default 3000), as in the raw builder.
    send_msg_timeout: u32,
    /// Same as `DefaultMQProducer::builder().compress_msg_body_over_howmuch(..)`.
    compress_msg_body_over_howmuch: u32,
    /// Retries inside one cluster before a sync send fails (and may fail over), as in the raw builder.
    retry_times_when_send_failed: u32,
    /// Same as `DefaultMQProducer::builder().retry_times_when_send_async_failed(..)`.
    retry_times_when_send_async_failed: u32,
    /// Same as `DefaultMQProducer::builder().retry_another_broker_when_not_store_ok(..)`.
    retry_another_broker_when_not_store_ok: bool,
    /// Same as `DefaultMQProducer::builder().max_message_size(..)`.
    max_message_size: u32,
    /// Same as `DefaultMQProducer::builder().trace_dispatcher(..)`.
    trace_dispatcher: ArcTraceDispatcher,
    /// Same as `DefaultMQProducer::builder().auto_batch(..)`.
    auto_batch: bool,
    /// Same as `DefaultMQProducer::builder().enable_backpressure_for_async_mode(..)`.
    enable_backpressure_for_async_mode: bool,
    /// Same as `DefaultMQProducer::builder().back_pressure_for_async_send_num(..)`.
    back_pressure_for_async_send_num: u32,
    /// Same as `DefaultMQProducer::builder().back_pressure_for_async_send_size(..)`.
    back_pressure_for_async_send_size: u32,
    /// Same as `DefaultMQProducer::builder().compress_level(..)`.
    compress_level: i32,
    /// Same as `DefaultMQProducer::builder().compress_type(..)`.
    compress_type: CompressionType,
    /// Same as `DefaultMQProducer::builder().send_msg_max_timeout_per_request(..)`.
    send_msg_max_timeout_per_request: u32,
    /// Same as `DefaultMQProducer::builder().batch_max_delay_ms(..)`.
    batch_max_delay_ms: u32,
    /// Same as `DefaultMQProducer::builder().batch_max_bytes(..)`.
    batch_max_bytes: u64,
    /// Same as `DefaultMQProducer::builder().total_batch_max_bytes(..)`.
    total_batch_max_bytes: u64,
}

/// Builder of a [`MigratingProducer`]: `DefaultMQProducer::builder`'s settings plus `source`, `target` and the
/// phase table to follow.
///
/// Not mirrored: `name_server_addr` (given per cluster by [`ClusterConfig`]), `nameserver_discovery`
/// (per cluster) and `produce_accumulator` (one accumulator cannot serve two clusters).
pub struct MigratingProducerBuilder {
    runtime: Arc<ClientRuntime>,
    group: Option<String>,
    source: Option<ClusterConfig>,
    target: Option<ClusterConfig>,
    phases: Option<PhaseHandle>,
    control: Option<ControlClient>,
    settings: ProducerSettings,
}

impl std::fmt::Debug for MigratingProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigratingProducerBuilder")
            .field("group", &self.group)
            .field("source", &self.source)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl MigratingProducerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingProducerBuilder {
            runtime,
            group: None,
            source: None,
            target: None,
            phases: None,
            control: None,
            settings: ProducerSettings::default(),
        }
    }

    /// The producer group, used on both clusters.
    pub fn producer_group(mut self, producer_group: impl Into<CheetahString>) -> Self {
        self.group = Some(producer_group.into().to_string());
        self
    }

    /// The cluster being migrated away from. Required.
    pub fn source(mut self, source: ClusterConfig) -> Self {
        self.source = Some(source);
        self
    }

    /// The cluster being migrated to. Required; its client starts only when a topic first writes to it.
    pub fn target(mut self, target: ClusterConfig) -> Self {
        self.target = Some(target);
        self
    }

    /// The phase table to follow (share one handle between the producers and consumers of an application).
    /// Default: a new table where every topic is `Initial`.
    pub fn phases(mut self, phases: PhaseHandle) -> Self {
        self.phases = Some(phases);
        self
    }

    /// Follow the control plane: use `control`'s phase table and report this producer (topics written, applied
    /// phases, counters) in its heartbeats, so the control plane's gates can see it.
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
    pub fn rpc_hook(mut self, rpc_hook: Arc<dyn RPCHook>) -> Self {
        self.settings.rpc_hook = Some(rpc_hook);
        self
    }

    /// Same as `DefaultMQProducer::builder().compressor(..)`.
    pub fn compressor(mut self, compressor: &'static (dyn Compressor + Send + Sync)) -> Self {
        self.settings.compressor = Some(compressor);
        self
    }

    /// Validate and build. Nothing connects until [`MigratingProducer::start`].
    pub fn build(self) -> Result<MigratingProducer, MigrationError> {
        let source = self.source.ok_or_else(|| ConfigError::missing("source"))?;
        let target = self.target.ok_or_else(|| ConfigError::missing("target"))?;
        source.validate("source")?;
        target.validate("target")?;
        let group = self.group.unwrap_or_default();
        if group.trim().is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "producer_group",
                group,
                "is required",
            )
            .into());
        }
        Ok(MigratingProducer::from_parts(
            self.runtime,
            group,
            [source, target],
            self.phases.unwrap_or_default(),
            self.settings,
            self.control.as_ref(),
        ))
    }
}
