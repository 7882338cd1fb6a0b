//! `MigratingProducer::builder`: the settings of `DefaultMQProducer::builder` (mirrored in
//! [`crate::client::producer_settings`]), plus the two clusters.

use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;

use crate::client::builder::{common_builder, Checked, Common};
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

common_builder!(MigratingProducerBuilder, producer_group);
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

    /// Checked parts for [`MigratingProducer`](crate::MigratingProducer)'s `build`.
    pub(super) fn check(self) -> Result<(Checked, ProducerSettings), MigrationError> {
        Ok((self.common.check("producer_group")?, self.settings))
    }
}
