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

use super::MigratingLitePullConsumer;
use crate::cluster::Cluster;
use crate::config::ClusterConfig;
use crate::consumer::listener::MergeShared;
use crate::consumer::stats::TopicCounts;
use crate::control::ControlClient;
use crate::dedupe::{Deduplicator, KeyExtractor, MemoryDeduplicator, UniqKey};
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};
use crate::linger::LingerSettings;
use crate::route::PhaseHandle;

/// `DefaultLitePullConsumer`'s defaults for the settings this shim applies itself.
pub(crate) const DEFAULT_POLL_TIMEOUT_MILLIS: u64 = 5000;
pub(crate) const DEFAULT_AUTO_COMMIT_INTERVAL_MILLIS: u64 = 5000;
/// The raw consumer's lower bound for the auto-commit interval.
const MIN_AUTO_COMMIT_INTERVAL_MILLIS: u64 = 1000;

macro_rules! settings {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty ),* $(,)?) => {
        /// Settings forwarded to each cluster's `DefaultLitePullConsumer` builder.
        #[derive(Clone, Default)]
        pub(crate) struct LitePullSettings {
            pub(crate) instance_name: Option<String>,
            pub(crate) rpc_hook: Option<Arc<dyn RPCHook>>,
            pub(crate) consume_from_where: Option<ConsumeFromWhere>,
            pub(crate) message_model: Option<MessageModel>,
            pub(crate) enable_msg_trace: bool,
            $( pub(crate) $name: Option<$ty>, )*
        }

        impl LitePullSettings {
            /// A raw consumer of `group` for `side`. Auto-commit is always off on the raw consumers: the shim
            /// commits (see [`crate::MigratingLitePullConsumer`]). The target side starts a new group from the
            /// first offset, so nothing written before it attached is skipped.
            pub(crate) fn build_raw(
                &self,
                runtime: &Arc<ClientRuntime>,
                group: &str,
                side: Cluster,
                cluster: &ClusterConfig,
            ) -> ClientResult<(DefaultLitePullConsumer, String)> {
                let mut b = DefaultLitePullConsumer::builder(runtime.clone());
                $( if let Some(v) = &self.$name { b = b.$name(v.clone()); } )*
                b = b.name_server_addr(cluster.name_server_addr.clone());
                if let Some(ns) = &cluster.namespace {
                    b = b.namespace(ns.clone());
                }
                // Two clients of one process must not share a client id: suffix explicit instance names (and the
                // fixed one broadcasting consumers use) with the side.
                let broadcasting = matches!(self.message_model, Some(MessageModel::Broadcasting));
                let name = crate::reads::instance_name(
                    self.instance_name.as_deref().unwrap_or("DEFAULT"),
                    broadcasting,
                    side,
                );
                b = b.instance_name(name);
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
                if let Some(hook) = cluster.rpc_hook(self.rpc_hook.as_ref()) {
                    b = b.rpc_hook(hook);
                }
                if self.enable_msg_trace {
                    b = b.enable_msg_trace();
                }
                let consumer = b.auto_commit(false).build()?;
                // The id the brokers list this client under: the raw lite pull consumer's own config forms it, with
                // its stream request type (`...@STREAM`), which a plain client config would leave out.
                let client_id = consumer.client_config().build_mq_client_id();
                Ok((consumer, client_id))
            }
        }

        impl MigratingLitePullConsumerBuilder {
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
    /// Same as `DefaultLitePullConsumer::builder().client_options(..)`, for both clusters (the name server and
    /// namespace come from each [`ClusterConfig`]).
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

/// Builder of a [`MigratingLitePullConsumer`]: `DefaultLitePullConsumer::builder`'s settings plus `source`,
/// `target`, the phase table to follow and the dedupe hook.
///
/// Not mirrored: `name_server_addr`, `namespace` and `nameserver_discovery` (per cluster, in [`ClusterConfig`]),
/// `connect_broker_by_user` / `default_broker_id` (a broker id means nothing across two clusters).
pub struct MigratingLitePullConsumerBuilder {
    runtime: Arc<ClientRuntime>,
    group: Option<String>,
    source: Option<ClusterConfig>,
    target: Option<ClusterConfig>,
    phases: Option<PhaseHandle>,
    control: Option<ControlClient>,
    dedupe: Option<Option<Arc<dyn Deduplicator>>>,
    key: Option<Arc<dyn KeyExtractor>>,
    poll_timeout_millis: u64,
    auto_commit: bool,
    auto_commit_interval_millis: u64,
    settings: LitePullSettings,
    linger: LingerSettings,
}

impl std::fmt::Debug for MigratingLitePullConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigratingLitePullConsumerBuilder")
            .field("group", &self.group)
            .field("source", &self.source)
            .field("target", &self.target)
            .field("auto_commit", &self.auto_commit)
            .finish_non_exhaustive()
    }
}

/// What [`MigratingLitePullConsumerBuilder::build`] hands the consumer.
pub(crate) struct Parts {
    pub(crate) runtime: Arc<ClientRuntime>,
    pub(crate) group: String,
    pub(crate) clusters: [ClusterConfig; 2],
    pub(crate) phases: PhaseHandle,
    pub(crate) settings: LitePullSettings,
    pub(crate) shared: MergeShared,
    pub(crate) poll_timeout_millis: u64,
    pub(crate) auto_commit: bool,
    pub(crate) auto_commit_interval_millis: u64,
    pub(crate) linger: LingerSettings,
}

impl MigratingLitePullConsumerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingLitePullConsumerBuilder {
            runtime,
            group: None,
            source: None,
            target: None,
            phases: None,
            control: None,
            dedupe: None,
            key: None,
            poll_timeout_millis: DEFAULT_POLL_TIMEOUT_MILLIS,
            auto_commit: true,
            auto_commit_interval_millis: DEFAULT_AUTO_COMMIT_INTERVAL_MILLIS,
            linger: LingerSettings::default(),
            settings: LitePullSettings::default(),
        }
    }

    /// How long the consumer keeps reading a cluster after a topic left its read set, for delayed messages that
    /// come due there late (default: quiet 15 s, at most 10 minutes; see [`LingerSettings`]).
    pub fn linger(mut self, linger: LingerSettings) -> Self {
        self.linger = linger;
        self
    }

    /// The consumer group, used on both clusters.
    pub fn consumer_group(mut self, group: impl Into<CheetahString>) -> Self {
        self.group = Some(group.into().to_string());
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

    /// Follow the control plane: use `control`'s phase table and report this consumer (topics, the phases its
    /// clients have been brought in line with, counters) in its heartbeats, so the control plane's gates see it.
    pub fn control(mut self, control: &ControlClient) -> Self {
        self.phases = Some(control.phases());
        self.control = Some(control.clone());
        self
    }

    /// Replace the default deduplicator (a [`MemoryDeduplicator`] with default settings). Give consumer
    /// instances of one group a shared store to dedupe across instances.
    pub fn deduplicator(mut self, dedupe: Arc<dyn Deduplicator>) -> Self {
        self.dedupe = Some(Some(dedupe));
        self
    }

    /// Turn dedupe off: `poll` returns every message either cluster returns.
    pub fn without_dedupe(mut self) -> Self {
        self.dedupe = Some(None);
        self
    }

    /// Replace the dedupe key (default: [`UniqKey`], the client unique key).
    pub fn key_extractor(mut self, key: Arc<dyn KeyExtractor>) -> Self {
        self.key = Some(key);
        self
    }

    /// Same as `DefaultLitePullConsumer::builder().instance_name(..)`; each cluster's client gets
    /// `<name>-source` / `<name>-target`.
    pub fn instance_name(mut self, name: impl Into<CheetahString>) -> Self {
        self.settings.instance_name = Some(name.into().to_string());
        self
    }

    /// An RPC hook for both clusters; a cluster with credentials in its [`ClusterConfig`] uses those instead.
    pub fn rpc_hook(mut self, hook: Arc<dyn RPCHook>) -> Self {
        self.settings.rpc_hook = Some(hook);
        self
    }

    /// Where a new group starts on the source (the target always starts a new group at the first offset).
    pub fn consume_from_where(mut self, consume_from: ConsumeFromWhere) -> Self {
        self.settings.consume_from_where = Some(consume_from);
        self
    }

    /// Clustering (default) or broadcasting, on both clusters.
    pub fn message_model(mut self, model: MessageModel) -> Self {
        self.settings.message_model = Some(model);
        self
    }

    /// Same as `DefaultLitePullConsumer::builder().enable_msg_trace()`, on both clusters.
    pub fn enable_msg_trace(mut self) -> Self {
        self.settings.enable_msg_trace = true;
        self
    }

    /// How long `poll()` waits for messages (default 5000 ms), as `DefaultLitePullConsumer`.
    pub fn poll_timeout_millis(mut self, timeout: u64) -> Self {
        self.poll_timeout_millis = timeout;
        self
    }

    /// Commit polled offsets (and count returned keys as consumed) automatically (default: true). See
    /// [`MigratingLitePullConsumer`] for when a key counts as consumed either way.
    pub fn auto_commit(mut self, enable: bool) -> Self {
        self.auto_commit = enable;
        self
    }

    /// The interval between automatic commits (default 5000 ms, at least 1000 ms; `build` refuses less).
    pub fn auto_commit_interval_millis(mut self, interval: u64) -> Self {
        self.auto_commit_interval_millis = interval;
        self
    }

    /// Validate and build. Nothing connects until `start`.
    pub fn build(self) -> Result<MigratingLitePullConsumer, MigrationError> {
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
        if self.auto_commit_interval_millis < MIN_AUTO_COMMIT_INTERVAL_MILLIS {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "auto_commit_interval_millis",
                self.auto_commit_interval_millis.to_string(),
                "must be at least 1000 ms (the raw consumer's minimum)",
            )
            .into());
        }
        let dedupe = self.dedupe.unwrap_or_else(|| {
            Some(Arc::new(MemoryDeduplicator::default()) as Arc<dyn Deduplicator>)
        });
        let shared = MergeShared {
            dedupe,
            key: self.key.unwrap_or_else(|| Arc::new(UniqKey)),
            counters: Default::default(),
            topics: TopicCounts::for_clusters(&source, &target),
            holdback: None,
            activity: Default::default(),
            retries: None,
        };
        Ok(MigratingLitePullConsumer::from_parts(
            Parts {
                runtime: self.runtime,
                group,
                clusters: [source, target],
                phases: self.phases.unwrap_or_default(),
                settings: self.settings,
                shared,
                poll_timeout_millis: self.poll_timeout_millis,
                auto_commit: self.auto_commit,
                auto_commit_interval_millis: self.auto_commit_interval_millis,
                linger: self.linger,
            },
            self.control.as_ref(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_client_id_is_the_one_brokers_list() {
        let rt = crate::MigrationRuntime::new().expect("runtime");
        let settings = LitePullSettings::default();
        let (consumer, id) = settings
            .build_raw(
                &rt.client(),
                "lp_id_cg",
                Cluster::Target,
                &ClusterConfig::new("127.0.0.1:1"),
            )
            .expect("valid settings");
        assert_eq!(id, consumer.client_config().build_mq_client_id());
        assert!(id.ends_with("-target@STREAM"), "{id}");
    }
}
