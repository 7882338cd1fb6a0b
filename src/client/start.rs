//! Starting one cluster's raw client, the same way for the four clients: a raw client that fails to start is shut
//! down again (it may already hold threads and connections) and the failure is logged with the client's group,
//! cluster and name server before it is returned.

use rocketmq_client_rust::{
    ClientResult, DefaultLitePullConsumer, DefaultMQProducer, DefaultMQPushConsumer,
    TransactionMQProducer,
};

use super::base::ClientBase;
use crate::cluster::Cluster;
use crate::error::{ErrorKind, MigrationError};

/// The start and shutdown calls of a raw client.
#[allow(async_fn_in_trait)]
pub(crate) trait RawClient {
    /// Start it.
    async fn start_raw(&mut self) -> ClientResult<()>;
    /// Shut it down.
    async fn shutdown_raw(&mut self);
}

/// Start `client`, the raw client of `what` (e.g. "migrating producer") of `base`'s group on `cluster`. One that
/// fails to start is shut down again and the failure logged at WARN; the caller logs the success with what it
/// knows of the client.
pub(crate) async fn start<C: RawClient>(
    client: &mut C,
    what: &str,
    base: &ClientBase,
    cluster: Cluster,
) -> ClientResult<()> {
    let group = base.group.as_str();
    let namesrv = base.cluster(cluster).name_server_addr.as_str();
    let started = client.start_raw().await;
    if let Err(e) = &started {
        tracing::warn!(group, %cluster, namesrv, error = ?e, "{what}: client failed to start");
        client.shutdown_raw().await;
    }
    started
}

/// As [`start`], for a consumer's raw client on `cluster`: a failure is a [`MigrationError`] of kind `Start` on
/// that cluster, saying "start <what>".
pub(crate) async fn start_consumer<C: RawClient>(
    client: &mut C,
    what: &str,
    base: &ClientBase,
    cluster: Cluster,
) -> Result<(), MigrationError> {
    start(client, what, base, cluster).await.map_err(|e| {
        MigrationError::new(ErrorKind::Start, Some(cluster), format!("start {what}")).with_source(e)
    })
}

/// `RawClient` for raw clients whose own `start` and `shutdown` have these signatures.
macro_rules! raw_client {
    ($($raw:ty),+) => {$(
        impl RawClient for $raw {
            async fn start_raw(&mut self) -> ClientResult<()> {
                self.start().await
            }

            async fn shutdown_raw(&mut self) {
                self.shutdown().await
            }
        }
    )+};
}

raw_client!(
    DefaultMQProducer,
    TransactionMQProducer,
    DefaultMQPushConsumer,
    DefaultLitePullConsumer
);
