//! `MigratingProducer::builder`: the settings of `DefaultMQProducer::builder` (mirrored in
//! [`crate::client::producer_settings`]), plus the two clusters.

use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::ClientRuntime;

use crate::client::builder::{common_setters, Checked, Common};
use crate::client::producer_settings::{
    base_setters, batch_setters, send_setters, ProducerSettings,
};
use crate::error::MigrationError;

/// Builder of a [`MigratingProducer`](crate::MigratingProducer): `DefaultMQProducer::builder`'s settings plus
/// `source`, `target` and the phase table to follow.
///
/// Not mirrored: `name_server_addr` (given per cluster by [`ClusterConfig`](crate::ClusterConfig)),
/// `nameserver_discovery` (per cluster) and `produce_accumulator` (one accumulator cannot serve two clusters).
pub struct MigratingProducerBuilder {
    common: Common,
    pub(crate) settings: ProducerSettings,
}

impl std::fmt::Debug for MigratingProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.common
            .debug(f, "MigratingProducerBuilder")
            .finish_non_exhaustive()
    }
}

common_setters!(MigratingProducerBuilder);
base_setters!(MigratingProducerBuilder);
send_setters!(MigratingProducerBuilder, send);
batch_setters!(MigratingProducerBuilder, batch);

impl MigratingProducerBuilder {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        MigratingProducerBuilder {
            common: Common::new(runtime),
            settings: ProducerSettings::default(),
        }
    }

    /// The producer group, used on both clusters.
    pub fn producer_group(mut self, producer_group: impl Into<CheetahString>) -> Self {
        self.common.group = Some(producer_group.into().to_string());
        self
    }

    /// Checked parts for [`MigratingProducer`](crate::MigratingProducer)'s `build`.
    pub(super) fn check(self) -> Result<(Checked, ProducerSettings), MigrationError> {
        Ok((self.common.check("producer_group")?, self.settings))
    }
}
