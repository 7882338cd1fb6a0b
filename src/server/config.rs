//! What `rmq-migrate serve` is configured with: [`ServerConfig`] and its HTTPS files ([`TlsFiles`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::auth::Token;
use crate::config::ClusterConfig;

/// Certificate chain and private key (PEM files) for serving HTTPS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Everything `rmq-migrate serve` is configured with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:7080`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The state file (default `rmq-migrate-state.json` in the working directory).
    pub state_file: PathBuf,
    /// The audit log (default `rmq-migrate-audit.jsonl` in the working directory).
    pub audit_file: PathBuf,
    /// Token that mutations need.
    pub admin_token: Token,
    /// Token that reads and heartbeats need; `None` leaves them open.
    pub client_token: Option<Token>,
    /// The source cluster (admin API access for the gates and `/v1/groups`).
    pub source: ClusterConfig,
    /// The target cluster.
    pub target: ClusterConfig,
    /// A client is live while its heartbeats arrive within this (default 15 s).
    pub client_ttl: Duration,
    /// Dropping a cluster from a topic's read set needs no new message on it for this long (default 30 s).
    pub quiet_window: Duration,
    /// How often each topic's stored message count is sampled on both clusters (default 2 s).
    pub sample_every: Duration,
    /// How often every topic's readiness checks are run in the background, for `GET /v1/topics` to answer from
    /// (default 15 s).
    pub scan_every: Duration,
    /// How often the migration monitoring takes a point of every topic (default 10 s, a whole number of
    /// seconds that divides 60): stored and consumed rates per cluster, backlog, shim counters. Points are kept
    /// 6 h at this resolution, and 7 days coarser (see `GET /v1/monitor`).
    pub monitor_every: Duration,
    /// Serve HTTPS with these files instead of HTTP.
    pub tls: Option<TlsFiles>,
}

impl ServerConfig {
    /// Defaults for everything but the clusters and the admin token.
    pub fn new(source: ClusterConfig, target: ClusterConfig, admin_token: Token) -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7080)),
            state_file: PathBuf::from("rmq-migrate-state.json"),
            audit_file: PathBuf::from("rmq-migrate-audit.jsonl"),
            admin_token,
            client_token: None,
            source,
            target,
            client_ttl: Duration::from_secs(15),
            quiet_window: Duration::from_secs(30),
            sample_every: Duration::from_secs(2),
            scan_every: Duration::from_secs(15),
            monitor_every: Duration::from_secs(10),
            tls: None,
        }
    }
}
