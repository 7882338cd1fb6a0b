//! `MigratingTransactionProducer::builder`: the settings of `TransactionMQProducer::builder` (mirrored in
//! [`crate::client::producer_settings`]), plus the two clusters and how long the source-side producer lingers for check-backs.

use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::{ClientRuntime, TransactionListener};

use crate::client::builder::{common_builder, Checked, Common};
use crate::client::producer_settings::{
    base_setters, check_setters, send_setters, ProducerSettings,
};
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};

/// Default [`MigratingTransactionProducerBuilder::min_linger`]: two check intervals of a broker with default
/// settings (30 s) — enough for a broker to ask about half messages an earlier process of the group left behind.
pub const DEFAULT_MIN_LINGER: Duration = Duration::from_secs(60);

/// Default [`MigratingTransactionProducerBuilder::max_linger`]: past a default broker's give-up point
/// (`transactionCheckMax` 15 × `transactionCheckInterval` 30 s = 7.5 min).
pub const DEFAULT_MAX_LINGER: Duration = Duration::from_secs(600);

/// Default [`MigratingTransactionProducerBuilder::unconfirmed_grace`]: a default broker checks a half message
/// older than `transactionTimeout` (6 s) at its next scan (every 30 s); 60 s covers both.
pub const DEFAULT_UNCONFIRMED_GRACE: Duration = Duration::from_secs(60);

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
///
/// The group is used on both clusters: a broker checks a half message back with a producer of this group
/// connected to the cluster that holds it.
///
/// [`MigratingTransactionProducer`]: crate::MigratingTransactionProducer
/// [`ClusterConfig`]: crate::ClusterConfig
pub struct MigratingTransactionProducerBuilder {
    common: Common,
    listener: Option<Arc<dyn TransactionListener>>,
    linger: Linger,
    pub(crate) settings: ProducerSettings,
}

common_builder!(MigratingTransactionProducerBuilder, producer_group, linger);
base_setters!(MigratingTransactionProducerBuilder);
send_setters!(MigratingTransactionProducerBuilder, send);
check_setters!(MigratingTransactionProducerBuilder, check);

impl MigratingTransactionProducerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingTransactionProducerBuilder {
            common: Common::new(runtime),
            listener: None,
            linger: Linger {
                min: DEFAULT_MIN_LINGER,
                max: DEFAULT_MAX_LINGER,
                unconfirmed_grace: DEFAULT_UNCONFIRMED_GRACE,
            },
            settings: ProducerSettings::default(),
        }
    }

    /// The listener that runs local transactions and answers check-backs from either cluster. Required.
    pub fn transaction_listener(mut self, transaction_listener: impl TransactionListener) -> Self {
        self.listener = Some(Arc::new(transaction_listener));
        self
    }

    /// The source-side producer stays up at least this long after [`MigratingTransactionProducer::start`], even
    /// when every topic is `Completed`, to answer check-backs for half messages that an earlier process of the
    /// same group left on the source (this process does not know them). Default [`DEFAULT_MIN_LINGER`].
    ///
    /// [`MigratingTransactionProducer::start`]: crate::MigratingTransactionProducer::start
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

    /// Checked parts for [`MigratingTransactionProducer`](super::MigratingTransactionProducer)'s `build`.
    pub(super) fn check(self) -> Result<Parts, MigrationError> {
        let listener = self
            .listener
            .ok_or_else(|| ConfigError::missing("transaction_listener"))?;
        let checked = self.common.check("producer_group")?;
        if self.linger.max < self.linger.min {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "max_linger",
                format!("{:?}", self.linger.max),
                format!("must not be below min_linger ({:?})", self.linger.min),
            )
            .into());
        }
        Ok(Parts {
            checked,
            settings: self.settings,
            listener,
            linger: self.linger,
        })
    }
}

/// What `build` hands the transactional producer.
pub(crate) struct Parts {
    pub(crate) checked: Checked,
    pub(crate) settings: ProducerSettings,
    pub(crate) listener: Arc<dyn TransactionListener>,
    pub(crate) linger: Linger,
}
