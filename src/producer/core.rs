//! The producer's shared state: the two clusters' raw producers (each started on first use), routing, and the
//! queue lists of the queue and selector sends; the one send path every send method runs through.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rocketmq_client_rust::{ClientError, ClientResult, DefaultMQProducer};
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::OnceCell;

use crate::client::base::ClientBase;
use crate::client::dispatch::{dispatch_on, Route};
use crate::client::producer_settings::ProducerSettings;
use crate::client::start::start;
use crate::client::writes::Writes;
use crate::cluster::Cluster;
use crate::control::report::{Report, Reporter};

/// Fetch time and queue list, per cluster and topic.
pub(crate) type QueueLists = HashMap<(Cluster, String), (Instant, Arc<Vec<MessageQueue>>)>;

#[derive(Default)]
pub(crate) struct QueueCache {
    pub(crate) lists: Mutex<QueueLists>,
    // broker name -> [known on source, known on target]
    pub(crate) owners: Mutex<HashMap<String, [bool; 2]>>,
}

pub(crate) struct Core {
    /// Group, clusters and runtime.
    pub(crate) base: ClientBase,
    pub(crate) settings: ProducerSettings,
    pub(crate) clients: [OnceCell<DefaultMQProducer>; 2],
    pub(crate) started: AtomicBool,
    pub(crate) stopped: AtomicBool,
    pub(crate) queues: QueueCache,
    pub(crate) writes: Writes,
}

impl Core {
    /// The started raw producer of `cluster`, starting it on first use.
    pub(crate) async fn client(&self, cluster: Cluster) -> ClientResult<DefaultMQProducer> {
        if self.stopped.load(Ordering::Acquire) || !self.started.load(Ordering::Acquire) {
            return Err(ClientError::not_started());
        }
        let cell = &self.clients[cluster.index()];
        let p = cell
            .get_or_try_init(|| async {
                let cfg = self.base.cluster(cluster);
                let mut p = self.settings.build_plain(&self.base, cluster);
                start(&mut p, "migrating producer", &self.base, cluster).await?;
                tracing::info!(group = %self.base.group, %cluster, namesrv = %cfg.name_server_addr,
                    "migrating producer: client started");
                Ok::<_, ClientError>(p)
            })
            .await?;
        Ok(p.clone())
    }

    /// Run `op` as `route` says, with this producer's clients: on `route.first`, and once more with `spare` (a
    /// copy of the payload) on the other cluster where the phase and the error allow.
    pub(crate) fn dispatch<'a, P, R, F, Fut>(
        &'a self,
        route: Route<'a>,
        payload: P,
        spare: Option<P>,
        op: F,
    ) -> impl Future<Output = ClientResult<R>> + use<'a, P, R, F, Fut>
    where
        F: Fn(DefaultMQProducer, P) -> Fut,
        Fut: Future<Output = ClientResult<R>>,
    {
        dispatch_on(route, payload, spare, |c| self.client(c), op)
    }
}

impl Reporter for Core {
    fn report(&self) -> Report {
        self.writes.report(&self.base.group)
    }
}
