//! The raw producer settings both producers mirror (`DefaultMQProducer::builder` and
//! `TransactionMQProducer::builder` share most of them), their setters on both migrating builders, and the raw
//! producer of one cluster built from them.

use std::sync::Arc;

use rocketmq_client_rust::{
    ClientConfig, DefaultMQProducer, TransactionListener, TransactionMQProducer,
};
use rocketmq_protocol::common::compression::compressor::Compressor;
use rocketmq_transport::api::RPCHook;

use super::base::ClientBase;
use super::builder::mirrored_settings;
use crate::cluster::Cluster;

// Types are written out in full: the setters are expanded in the builders' modules.
mirrored_settings! {
    /// The settings both raw producer builders have.
    struct SendSettings via apply_send, send_setters {
    /// Same as the raw producer builder's `client_options(..)`.
    client_options: rocketmq_client_rust::ClientOptions,
    /// Same as the raw producer builder's `retry_response_codes(..)`.
    retry_response_codes: std::collections::HashSet<i32>,
    /// Topics the producer publishes to (pre-fetches their routes), as in the raw builder. A transactional
    /// producer also counts them as its topics when deciding whether the source-side producer is still needed.
    topics: Vec<cheetah_string::CheetahString>,
    /// Same as the raw producer builder's `use_tls(..)`, for both clusters.
    use_tls: bool,
    /// Same as the raw producer builder's `create_topic_key(..)`.
    create_topic_key: cheetah_string::CheetahString,
    /// Same as the raw producer builder's `default_topic_queue_nums(..)`.
    default_topic_queue_nums: u32,
    /// Send timeout in milliseconds (default 3000), as in the raw builder; also bounds a half send.
    send_msg_timeout: u32,
    /// Same as the raw producer builder's `compress_msg_body_over_howmuch(..)`.
    compress_msg_body_over_howmuch: u32,
    /// Retries inside one cluster before a sync send fails (and may fail over), as in the raw builder.
    retry_times_when_send_failed: u32,
    /// Same as the raw producer builder's `retry_times_when_send_async_failed(..)`.
    retry_times_when_send_async_failed: u32,
    /// Same as the raw producer builder's `retry_another_broker_when_not_store_ok(..)`.
    retry_another_broker_when_not_store_ok: bool,
    /// Same as the raw producer builder's `max_message_size(..)`.
    max_message_size: u32,
    /// Same as the raw producer builder's `trace_dispatcher(..)`.
    trace_dispatcher: rocketmq_client_rust::ArcTraceDispatcher,
    /// Same as the raw producer builder's `auto_batch(..)`.
    auto_batch: bool,
    /// Same as the raw producer builder's `enable_backpressure_for_async_mode(..)`.
    enable_backpressure_for_async_mode: bool,
    /// Same as the raw producer builder's `back_pressure_for_async_send_num(..)`.
    back_pressure_for_async_send_num: u32,
    /// Same as the raw producer builder's `back_pressure_for_async_send_size(..)`.
    back_pressure_for_async_send_size: u32,
    /// Same as the raw producer builder's `compress_level(..)`.
    compress_level: i32,
    /// Same as the raw producer builder's `compress_type(..)`.
    compress_type: rocketmq_model::common::compression::compression_type::CompressionType,
}}

mirrored_settings! {
    /// The batching settings only `DefaultMQProducer::builder` has.
    struct BatchSettings via apply_batch, batch_setters {
    /// Same as `DefaultMQProducer::builder().send_msg_max_timeout_per_request(..)`.
    send_msg_max_timeout_per_request: u32,
    /// Same as `DefaultMQProducer::builder().batch_max_delay_ms(..)`.
    batch_max_delay_ms: u32,
    /// Same as `DefaultMQProducer::builder().batch_max_bytes(..)`.
    batch_max_bytes: u64,
    /// Same as `DefaultMQProducer::builder().total_batch_max_bytes(..)`.
    total_batch_max_bytes: u64,
}}

mirrored_settings! {
    /// The check-back settings only `TransactionMQProducer::builder` has.
    struct CheckSettings via apply_check, check_setters {
    /// Same as `TransactionMQProducer::builder().check_thread_pool_min_size(..)` (per cluster).
    check_thread_pool_min_size: u32,
    /// Same as `TransactionMQProducer::builder().check_thread_pool_max_size(..)` (per cluster).
    check_thread_pool_max_size: u32,
    /// Same as `TransactionMQProducer::builder().check_request_hold_max(..)` (per cluster).
    check_request_hold_max: u32,
}}

/// Everything a producer builder forwards to each cluster's raw producer builder.
#[derive(Clone, Default)]
pub(crate) struct ProducerSettings {
    pub(crate) client_config: Option<ClientConfig>,
    pub(crate) rpc_hook: Option<Arc<dyn RPCHook>>,
    pub(crate) compressor: Option<&'static (dyn Compressor + Send + Sync)>,
    pub(crate) send: SendSettings,
    pub(crate) batch: BatchSettings,
    pub(crate) check: CheckSettings,
}

/// A raw producer builder for `$base`'s group on `$cluster` with these settings' client config, mirrored settings,
/// hook and compressor (both raw builders have these setters; they are different types).
macro_rules! raw_builder {
    ($settings:expr, $b:expr, $base:expr, $cluster:expr) => {{
        let (s, base) = ($settings, $base);
        let cluster = base.cluster($cluster);
        let mut b = $b;
        b = b.client_config(cluster.client_config(s.client_config.as_ref()));
        b = b.name_server_addr(cluster.name_server_addr.clone());
        b = b.producer_group(base.group.clone());
        b = apply_send!(s.send, b);
        if let Some(hook) = cluster.rpc_hook(s.rpc_hook.as_ref()) {
            b = b.rpc_hook(hook);
        }
        if let Some(c) = s.compressor {
            b = b.compressor(c);
        }
        b
    }};
}

impl ProducerSettings {
    /// The topics given with `topics(..)`.
    pub(crate) fn topics(&self) -> impl Iterator<Item = String> + '_ {
        self.send.topics.iter().flatten().map(|t| t.to_string())
    }

    /// A raw producer of `base`'s group for `cluster`.
    pub(crate) fn build_plain(&self, base: &ClientBase, cluster: Cluster) -> DefaultMQProducer {
        let b = DefaultMQProducer::builder(base.runtime.clone());
        let b = raw_builder!(self, b, base, cluster);
        apply_batch!(self.batch, b).build()
    }

    /// A raw transactional producer of `base`'s group for `cluster` with `listener`.
    pub(crate) fn build_transactional(
        &self,
        base: &ClientBase,
        cluster: Cluster,
        listener: impl TransactionListener,
    ) -> TransactionMQProducer {
        let b = TransactionMQProducer::builder(base.runtime.clone());
        let b = raw_builder!(self, b, base, cluster);
        apply_check!(self.check, b)
            .transaction_listener(listener)
            .build()
    }
}

/// The setters of [`ProducerSettings`]' own fields, on a producer builder.
macro_rules! base_setters {
    ($builder:ident) => {
        impl $builder {
            /// Base client settings for both clusters; the name server and namespace come from each
            /// [`ClusterConfig`](crate::ClusterConfig).
            pub fn client_config(mut self, client_config: rocketmq_client_rust::ClientConfig) -> Self {
                self.settings.client_config = Some(client_config);
                self
            }

            /// An RPC hook for both clusters; a cluster with credentials in its
            /// [`ClusterConfig`](crate::ClusterConfig) uses those instead.
            pub fn rpc_hook(mut self, rpc_hook: std::sync::Arc<dyn rocketmq_transport::api::RPCHook>) -> Self {
                self.settings.rpc_hook = Some(rpc_hook);
                self
            }

            /// Same as the raw producer builder's `compressor(..)`.
            pub fn compressor(
                mut self,
                compressor: &'static (dyn rocketmq_protocol::common::compression::compressor::Compressor
                              + Send
                              + Sync),
            ) -> Self {
                self.settings.compressor = Some(compressor);
                self
            }
        }
    };
}
pub(crate) use base_setters;
