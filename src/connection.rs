//! The connection check (the seed's step 1): can this tool reach a cluster with the given credentials, and if
//! not, why. `rmq-migrate check` prints it; `export`, `import` and `serve` run it first and log it; the control
//! plane's `/healthz` carries its result per cluster.
//!
//! In order, each step only when the one before passed:
//! 1. every name server address is connected to over TCP (`name_server_unreachable` when none answers; an
//!    address that does not answer while another does is reported, not fatal);
//! 2. the name server is asked for its brokers (`no_broker` when no master is registered);
//! 3. every master broker's address is connected to over TCP (`broker_unreachable`);
//! 4. every master is asked for its topic configs and its runtime stats, signed with the credentials
//!    (`authentication_failed` when the broker refuses them, `permission_denied` when it accepts them but the
//!    account may not make the call: with authorization on, runtime stats need `Get` on the cluster, which the
//!    readiness gates' scheduled-message count needs too).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rocketmq_client_rust::{ClientRuntime, MQAdminReadExt, TopicAdmin};
use serde::{Deserialize, Serialize};

use crate::admin::{trouble_of, AdminFailure, ClusterAdmin, Trouble};
use crate::cluster::Cluster;
use crate::config::ClusterConfig;

/// How long a TCP connect may take before the address counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an admin call of the check may take.
const CALL_TIMEOUT_MS: u64 = 5_000;

/// Why a cluster cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionCause {
    /// No name server address accepted a connection (or answered the cluster query).
    NameServerUnreachable,
    /// The name server answered, but no master broker is registered with it.
    NoBroker,
    /// A master broker registered with the name server does not accept connections.
    BrokerUnreachable,
    /// A broker refused the credentials (wrong or missing AccessKey/SecretKey).
    AuthenticationFailed,
    /// A broker accepted the credentials but refused the admin call (the account lacks the permission).
    PermissionDenied,
    /// A broker answered the admin call with another error.
    BrokerError,
}

impl ConnectionCause {
    /// The code as printed and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionCause::NameServerUnreachable => "name_server_unreachable",
            ConnectionCause::NoBroker => "no_broker",
            ConnectionCause::BrokerUnreachable => "broker_unreachable",
            ConnectionCause::AuthenticationFailed => "authentication_failed",
            ConnectionCause::PermissionDenied => "permission_denied",
            ConnectionCause::BrokerError => "broker_error",
        }
    }

    /// The exit code `rmq-migrate` uses for this cause: 8 name server unreachable, 9 no broker, 10 broker
    /// unreachable, 11 authentication failed, 12 permission denied, 13 another broker error.
    pub fn exit_code(self) -> u8 {
        match self {
            ConnectionCause::NameServerUnreachable => 8,
            ConnectionCause::NoBroker => 9,
            ConnectionCause::BrokerUnreachable => 10,
            ConnectionCause::AuthenticationFailed => 11,
            ConnectionCause::PermissionDenied => 12,
            ConnectionCause::BrokerError => 13,
        }
    }
}

impl std::fmt::Display for ConnectionCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of the check against one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// `name_server`, `cluster_info`, `broker`, `admin_call`.
    pub step: String,
    /// The address (and broker name, for brokers) probed.
    pub target: String,
    /// It passed.
    pub ok: bool,
    /// What happened, in words.
    pub detail: String,
}

/// The result of [`check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionReport {
    /// Name server address(es) checked.
    pub name_server: String,
    /// Whether credentials were given.
    pub with_credentials: bool,
    /// `None` when the cluster can be used; otherwise the first cause met.
    pub cause: Option<ConnectionCause>,
    /// One line: `ok: 2 brokers …` or the cause with its address and error.
    pub summary: String,
    /// Every step, in order.
    pub probes: Vec<Probe>,
    /// When the check ran, milliseconds since the epoch.
    pub checked_at_ms: u64,
}

impl ConnectionReport {
    /// The cluster can be used.
    pub fn is_ok(&self) -> bool {
        self.cause.is_none()
    }
}

async fn tcp(addr: &str) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

fn cause_of(trouble: Trouble) -> ConnectionCause {
    match trouble {
        Trouble::AuthenticationFailed => ConnectionCause::AuthenticationFailed,
        Trouble::PermissionDenied => ConnectionCause::PermissionDenied,
        Trouble::Unreachable => ConnectionCause::BrokerUnreachable,
        Trouble::Other => ConnectionCause::BrokerError,
    }
}

/// Check `cluster` (`side` names it in logs). Never fails: every problem is a cause in the report.
pub async fn check(
    side: Cluster,
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
) -> ConnectionReport {
    let mut probes = Vec::new();
    let cause = run(cluster, runtime, &mut probes).await;
    let summary = match &cause {
        None => {
            let brokers = probes.iter().filter(|p| p.step == "admin_call").count();
            format!(
                "ok: {brokers} master broker{} answered{}",
                if brokers == 1 { "" } else { "s" },
                if cluster.access_key.is_some() {
                    " and accepted the credentials"
                } else {
                    " without credentials"
                }
            )
        }
        Some(c) => {
            let failed: Vec<String> = probes
                .iter()
                .filter(|p| !p.ok)
                .map(|p| format!("{}: {}", p.target, p.detail))
                .collect();
            format!("{c}: {}", failed.join("; "))
        }
    };
    match &cause {
        None => {
            tracing::info!(cluster = %side, namesrv = %cluster.name_server_addr, %summary, "connection check")
        }
        Some(_) => {
            tracing::warn!(cluster = %side, namesrv = %cluster.name_server_addr, %summary, "connection check failed")
        }
    }
    ConnectionReport {
        name_server: cluster.name_server_addr.clone(),
        with_credentials: cluster.access_key.is_some(),
        cause,
        summary,
        probes,
        checked_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64,
    }
}

async fn run(
    cluster: &ClusterConfig,
    runtime: Arc<ClientRuntime>,
    probes: &mut Vec<Probe>,
) -> Option<ConnectionCause> {
    let mut probe = |step: &str, target: String, result: Result<String, String>| {
        let ok = result.is_ok();
        probes.push(Probe {
            step: step.into(),
            target,
            ok,
            detail: result.unwrap_or_else(|e| e),
        });
        ok
    };
    let addrs: Vec<&str> = cluster
        .name_server_addr
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    let mut reachable = 0;
    for a in &addrs {
        if probe(
            "name_server",
            (*a).to_owned(),
            tcp(a).await.map(|()| "accepts connections".into()),
        ) {
            reachable += 1;
        }
    }
    if reachable == 0 {
        return Some(ConnectionCause::NameServerUnreachable);
    }
    let admin = ClusterAdmin::new(Cluster::Source, cluster.clone(), runtime);
    let cause = async {
        let client = match admin.client().await {
            Ok(c) => c,
            Err(e) => {
                probe("cluster_info", cluster.name_server_addr.clone(), Err(e));
                return Some(ConnectionCause::NameServerUnreachable);
            }
        };
        let masters = match admin.masters_of(&client, None).await {
            Ok(m) => m,
            Err(AdminFailure { trouble, text }) => {
                let no_broker = text.contains("no master broker");
                probe("cluster_info", cluster.name_server_addr.clone(), Err(text));
                return Some(match (no_broker, trouble) {
                    (true, _) => ConnectionCause::NoBroker,
                    (_, Trouble::AuthenticationFailed) => ConnectionCause::AuthenticationFailed,
                    (_, Trouble::PermissionDenied) => ConnectionCause::PermissionDenied,
                    _ => ConnectionCause::NameServerUnreachable,
                });
            }
        };
        probe(
            "cluster_info",
            cluster.name_server_addr.clone(),
            Ok(format!("{} master broker(s) registered", masters.len())),
        );
        for (broker, addr) in &masters {
            let target = format!("{broker} ({addr})");
            if !probe(
                "broker",
                target,
                tcp(addr).await.map(|()| "accepts connections".into()),
            ) {
                return Some(ConnectionCause::BrokerUnreachable);
            }
        }
        for (broker, addr) in &masters {
            let target = format!("{broker} ({addr})");
            let calls = async {
                TopicAdmin::get_all_topic_config(&*client, addr.clone(), CALL_TIMEOUT_MS)
                    .await
                    .map_err(|e| ("list topic configs", e))?;
                MQAdminReadExt::fetch_broker_runtime_stats(&*client, addr.clone())
                    .await
                    .map_err(|e| ("read runtime stats", e))?;
                Ok::<_, (&str, rocketmq_client_rust::ClientError)>(())
            };
            match calls.await {
                Ok(()) => {
                    probe(
                        "admin_call",
                        target,
                        Ok("listed topic configs, read runtime stats".into()),
                    );
                }
                Err((what, e)) => {
                    let cause = cause_of(trouble_of(&e));
                    probe(
                        "admin_call",
                        target,
                        Err(format!("{what}: {}", crate::admin::describe(&e))),
                    );
                    return Some(cause);
                }
            }
        }
        None
    }
    .await;
    admin.close().await;
    cause
}
