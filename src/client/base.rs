//! [`ClientBase`]: what each of the four clients is, whatever its flavour: its group, the two clusters it migrates
//! between, and the runtime its raw clients run on. The builders' checks produce it; each client's core holds it.

use std::fmt::{Debug, DebugStruct, Formatter};
use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;

use crate::cluster::Cluster;
use crate::config::ClusterConfig;

/// A client's group, clusters and runtime.
#[derive(Clone)]
pub(crate) struct ClientBase {
    /// The runtime its raw clients run on (the argument the raw builders take).
    pub(crate) runtime: Arc<ClientRuntime>,
    /// The producer or consumer group, the same on both clusters.
    pub(crate) group: String,
    /// Source, then target.
    pub(crate) clusters: [ClusterConfig; 2],
}

impl ClientBase {
    /// The connection settings of `c`.
    pub(crate) fn cluster(&self, c: Cluster) -> &ClusterConfig {
        &self.clusters[c.index()]
    }

    /// `name { group, source, target, .. }` (the clusters by name server) for a client's `Debug`.
    pub(crate) fn debug<'a, 'b>(
        &self,
        f: &'a mut Formatter<'b>,
        name: &str,
    ) -> DebugStruct<'a, 'b> {
        let [source, target] = &self.clusters;
        let clusters: (&dyn Debug, &dyn Debug) =
            (&source.name_server_addr, &target.name_server_addr);
        debug_client(f, name, &self.group, clusters)
    }
}

/// `name { group, source, target, .. }`: how a client, or a builder, starts its `Debug`.
pub(crate) fn debug_client<'a, 'b>(
    f: &'a mut Formatter<'b>,
    name: &str,
    group: &dyn Debug,
    (source, target): (&dyn Debug, &dyn Debug),
) -> DebugStruct<'a, 'b> {
    let mut d = f.debug_struct(name);
    d.field("group", group)
        .field("source", source)
        .field("target", target);
    d
}

/// `Debug` for one of the four clients: `Name { group, source, target, stats, .. }` from its core's
/// [`ClientBase`] and its `stats()`; credentials are never shown.
macro_rules! client_debug {
    ($client:ident) => {
        impl std::fmt::Debug for $client {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let stats = self.stats();
                self.core
                    .base
                    .debug(f, stringify!($client))
                    .field("stats", &stats)
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use client_debug;

/// The way in and out of a builder, the same for the four clients: `Client::builder(runtime)` (the argument the
/// raw client's builder, `$raw`, takes) and `Builder::build`, which hands what the builder's `check` returns to
/// `Client::from_parts`.
macro_rules! client_entry {
    ($client:ident, $builder:ident, $raw:literal) => {
        impl $builder {
            /// Validate and build. Nothing connects until `start`.
            pub fn build(self) -> Result<$client, $crate::MigrationError> {
                Ok($client::from_parts(self.check()?))
            }
        }

        impl $client {
            #[doc = concat!("Start building on `runtime` (the argument `", $raw, "::builder` takes).")]
            pub fn builder(runtime: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> $builder {
                $builder::new(runtime)
            }
        }
    };
}

pub(crate) use client_entry;

/// The accessors both consumers share: the phase table they follow, and each cluster's client (running, and what
/// it reads), from the core's `phases` and `sides`.
macro_rules! consumer_accessors {
    ($consumer:ident) => {
        impl $consumer {
            /// The phase table this consumer follows.
            pub fn phases(&self) -> &$crate::PhaseHandle {
                &self.core.phases
            }

            /// Whether the client of `cluster` is running.
            pub fn is_connected(&self, cluster: $crate::Cluster) -> bool {
                self.core.sides.is_running(cluster)
            }

            /// The topics `cluster`'s client reads right now (subscribed, or for a lite pull consumer also with
            /// assigned queues).
            pub async fn subscribed_topics(&self, cluster: $crate::Cluster) -> Vec<String> {
                self.core.sides.reading(cluster).await
            }
        }
    };
}

pub(crate) use consumer_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose `Debug` is its base's.
    struct Shown(ClientBase);

    impl Debug for Shown {
        fn fmt(&self, f: &mut Formatter<'_>) -> std::fmt::Result {
            self.0.debug(f, "Client").finish_non_exhaustive()
        }
    }

    #[test]
    fn a_client_shows_its_group_and_name_servers_but_not_its_credentials() {
        let rt = crate::MigrationRuntime::new().expect("runtime");
        let base = ClientBase {
            runtime: rt.client(),
            group: "orders_pg".to_owned(),
            clusters: [
                ClusterConfig::new("10.0.0.1:9876").credentials("ak", "source-secret"),
                ClusterConfig::new("10.1.0.1:9876"),
            ],
        };
        assert_eq!(
            base.cluster(Cluster::Target).name_server_addr,
            "10.1.0.1:9876"
        );
        assert_eq!(
            format!("{:?}", Shown(base)),
            r#"Client { group: "orders_pg", source: "10.0.0.1:9876", target: "10.1.0.1:9876", .. }"#
        );
    }
}
