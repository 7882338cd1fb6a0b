//! `MigratingTransactionProducer::builder`: the settings of `TransactionMQProducer::builder`, plus the two clusters
//! and how long the source-side producer lingers for check-backs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    ArcTraceDispatcher, ClientConfig, ClientOptions, ClientRuntime, TransactionListener,
    TransactionMQProducer,
};
use rocketmq_model::common::compression::compression_type::CompressionType;
use rocketmq_protocol::common::compression::compressor::Compressor;
use rocketmq_transport::api::RPCHook;

use super::MigratingTransactionProducer;
use crate::config::ClusterConfig;
use crate::control::ControlClient;
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};
use crate::route::PhaseHandle;

/// Default [`MigratingTransactionProducerBuilder::min_linger`]: two check intervals of a broker with default
/// settings (30 s) — enough for a broker to ask about half messages an earlier process of the group left behind.
pub const DEFAULT_MIN_LINGER: Duration = Duration::from_secs(60);

/// Default [`MigratingTransactionProducerBuilder::max_linger`]: past a default broker's give-up point
/// (`transactionCheckMax` 15 × `transactionCheckInterval` 30 s = 7.5 min).
pub const DEFAULT_MAX_LINGER: Duration = Duration::from_secs(600);

/// Default [`MigratingTransactionProducerBuilder::unconfirmed_grace`]: a default broker checks a half message
/// older than `transactionTimeout` (6 s) at its next scan (every 30 s); 60 s covers both.
pub const DEFAULT_UNCONFIRMED_GRACE: Duration = Duration::from_secs(60);

macro_rules! settings {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty ),* $(,)?) => {
        /// Settings forwarded to each cluster's `TransactionMQProducer` builder.
        #[derive(Clone, Default)]
        pub(crate) struct TxSettings {
            pub(crate) client_config: Option<ClientConfig>,
            pub(crate) rpc_hook: Option<Arc<dyn RPCHook>>,
            pub(crate) compressor: Option<&'static (dyn Compressor + Send + Sync)>,
            $( pub(crate) $name: Option<$ty>, )*
        }

        impl TxSettings {
            /// A raw transactional producer for `cluster` with `listener`, configured with these settings.
            pub(crate) fn build_raw(
                &self,
                runtime: &Arc<ClientRuntime>,
                group: &str,
                cluster: &ClusterConfig,
                listener: impl TransactionListener,
            ) -> TransactionMQProducer {
                let mut b = TransactionMQProducer::builder(runtime.clone());
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
                b.transaction_listener(listener).build()
            }
        }

        impl MigratingTransactionProducerBuilder {
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
    /// Same as `TransactionMQProducer::builder().client_options(..)`.
    client_options: ClientOptions,
    /// Same as `TransactionMQProducer::builder().retry_response_codes(..)`.
    retry_response_codes: HashSet<i32>,
    /// Topics the producer publishes to (pre-fetches their routes), as in the raw builder. They also count as this
    /// producer's topics when deciding whether the source-side producer is still needed.
    topics: Vec<CheetahString>,
    /// Same as `TransactionMQProducer::builder().use_tls(..)`, for both clusters.
    use_tls: bool,
    /// Same as `TransactionMQProducer::builder().create_topic_key(..)`.
    create_topic_key: CheetahString,
    /// Same as `TransactionMQProducer::builder().default_topic_queue_nums(..)`.
    default_topic_queue_nums: u32,
    /// Send timeout in milliseconds (default 3000), as in the raw builder; also bounds a half send.
    send_msg_timeout: u32,
    /// Same as `TransactionMQProducer::builder().compress_msg_body_over_howmuch(..)`.
    compress_msg_body_over_howmuch: u32,
    /// Retries inside one cluster before a send fails, as in the raw builder.
    retry_times_when_send_failed: u32,
    /// Same as `TransactionMQProducer::builder().retry_times_when_send_async_failed(..)`.
    retry_times_when_send_async_failed: u32,
    /// Same as `TransactionMQProducer::builder().retry_another_broker_when_not_store_ok(..)`.
    retry_another_broker_when_not_store_ok: bool,
    /// Same as `TransactionMQProducer::builder().max_message_size(..)`.
    max_message_size: u32,
    /// Same as `TransactionMQProducer::builder().trace_dispatcher(..)`.
    trace_dispatcher: ArcTraceDispatcher,
    /// Same as `TransactionMQProducer::builder().auto_batch(..)`.
    auto_batch: bool,
    /// Same as `TransactionMQProducer::builder().enable_backpressure_for_async_mode(..)`.
    enable_backpressure_for_async_mode: bool,
    /// Same as `TransactionMQProducer::builder().back_pressure_for_async_send_num(..)`.
    back_pressure_for_async_send_num: u32,
    /// Same as `TransactionMQProducer::builder().back_pressure_for_async_send_size(..)`.
    back_pressure_for_async_send_size: u32,
    /// Same as `TransactionMQProducer::builder().compress_level(..)`.
    compress_level: i32,
    /// Same as `TransactionMQProducer::builder().compress_type(..)`.
    compress_type: CompressionType,
    /// Same as `TransactionMQProducer::builder().check_thread_pool_min_size(..)` (per cluster).
    check_thread_pool_min_size: u32,
    /// Same as `TransactionMQProducer::builder().check_thread_pool_max_size(..)` (per cluster).
    check_thread_pool_max_size: u32,
    /// Same as `TransactionMQProducer::builder().check_request_hold_max(..)` (per cluster).
    check_request_hold_max: u32,
}

/// How long the source-side producer stays up for check-backs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Linger {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) unconfirmed_grace: Duration,
}

/// Builder of a [`MigratingTransactionProducer`]: `TransactionMQProducer::builder`'s settings plus `source`,
/// `target`, the phase table, and the source-side linger bounds.
///
/// Not mirrored: `name_server_addr` (given per cluster by [`ClusterConfig`]), `nameserver_discovery` (per
/// cluster), `produce_accumulator` (one accumulator cannot serve two clusters) and `default_mqproducer_impl`.
pub struct MigratingTransactionProducerBuilder {
    runtime: Arc<ClientRuntime>,
    group: Option<String>,
    source: Option<ClusterConfig>,
    target: Option<ClusterConfig>,
    phases: Option<PhaseHandle>,
    control: Option<ControlClient>,
    listener: Option<Arc<dyn TransactionListener>>,
    linger: Linger,
    settings: TxSettings,
}

impl std::fmt::Debug for MigratingTransactionProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigratingTransactionProducerBuilder")
            .field("group", &self.group)
            .field("source", &self.source)
            .field("target", &self.target)
            .field("linger", &self.linger)
            .finish_non_exhaustive()
    }
}

impl MigratingTransactionProducerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingTransactionProducerBuilder {
            runtime,
            group: None,
            source: None,
            target: None,
            phases: None,
            control: None,
            listener: None,
            linger: Linger {
                min: DEFAULT_MIN_LINGER,
                max: DEFAULT_MAX_LINGER,
                unconfirmed_grace: DEFAULT_UNCONFIRMED_GRACE,
            },
            settings: TxSettings::default(),
        }
    }

    /// The producer group, used on both clusters. The broker checks a half message back with a producer of this
    /// group connected to the cluster that holds it.
    pub fn producer_group(mut self, producer_group: impl Into<CheetahString>) -> Self {
        self.group = Some(producer_group.into().to_string());
        self
    }

    /// The listener that runs local transactions and answers check-backs from either cluster. Required.
    pub fn transaction_listener(mut self, transaction_listener: impl TransactionListener) -> Self {
        self.listener = Some(Arc::new(transaction_listener));
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

    /// Follow the control plane: use `control`'s phase table and report this producer in its heartbeats.
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

    /// Same as `TransactionMQProducer::builder().compressor(..)`.
    pub fn compressor(mut self, compressor: &'static (dyn Compressor + Send + Sync)) -> Self {
        self.settings.compressor = Some(compressor);
        self
    }

    /// The source-side producer stays up at least this long after [`MigratingTransactionProducer::start`], even
    /// when every topic is `Completed`, to answer check-backs for half messages that an earlier process of the
    /// same group left on the source (this process does not know them). Default [`DEFAULT_MIN_LINGER`].
    pub fn min_linger(mut self, min_linger: Duration) -> Self {
        self.linger.min = min_linger;
        self
    }

    /// Once every topic is `Completed`, wait at most this long for pending source transactions to be decided by
    /// check-backs; then log a WARN naming the undecided transaction ids and shut the source side down anyway.
    /// Default [`DEFAULT_MAX_LINGER`]; keep it above the source broker's `transactionCheckMax` ×
    /// `transactionCheckInterval`.
    pub fn max_linger(mut self, max_linger: Duration) -> Self {
        self.linger.max = max_linger;
        self
    }

    /// How long a source transaction decided at send time (commit/rollback, sent one-way and never confirmed by
    /// the broker) or a half send that failed after possibly reaching the broker stays pending: had the broker
    /// missed the decision, it would check back within this time. Default [`DEFAULT_UNCONFIRMED_GRACE`]; keep it
    /// above the source broker's `transactionTimeout` + `transactionCheckInterval`.
    pub fn unconfirmed_grace(mut self, unconfirmed_grace: Duration) -> Self {
        self.linger.unconfirmed_grace = unconfirmed_grace;
        self
    }

    /// Validate and build. Nothing connects until [`MigratingTransactionProducer::start`].
    pub fn build(self) -> Result<MigratingTransactionProducer, MigrationError> {
        let source = self.source.ok_or_else(|| ConfigError::missing("source"))?;
        let target = self.target.ok_or_else(|| ConfigError::missing("target"))?;
        source.validate("source")?;
        target.validate("target")?;
        let listener = self
            .listener
            .ok_or_else(|| ConfigError::missing("transaction_listener"))?;
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
        if self.linger.max < self.linger.min {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "max_linger",
                format!("{:?}", self.linger.max),
                format!("must not be below min_linger ({:?})", self.linger.min),
            )
            .into());
        }
        Ok(MigratingTransactionProducer::from_parts(
            super::Parts {
                runtime: self.runtime,
                group,
                clusters: [source, target],
                phases: self.phases.unwrap_or_default(),
                settings: self.settings,
                listener,
                linger: self.linger,
            },
            self.control.as_ref(),
        ))
    }
}
