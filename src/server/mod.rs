//! The control plane (`rmq-migrate serve`): the phase table over HTTP, readiness gates on every move, a registry of
//! the shim clients, and the audit trail.
//!
//! * State: per topic phase, write ratio and version, persisted to a JSON state file by atomic replace; every
//!   change (and every refused move) is appended to a JSON-lines audit log and synced before the answer goes out.
//! * API under `/v1` (see [`crate::control::wire`] for the documents): `GET /v1/phases` (ETag, `If-None-Match`,
//!   `?wait=` long-poll, `&watch=1` for a stream of tables, one JSON line each), `POST /v1/topics`, `DELETE /v1/topics/{topic}`, `POST /v1/topics/{topic}/advance` and
//!   `/rollback`, `PUT /v1/topics/{topic}/write-ratio`, `POST /v1/clients/heartbeat`, `GET /v1/topics`,
//!   `GET /v1/clients`, `GET /v1/groups`, `GET /v1/audit`, plus `GET /metrics` and `GET /healthz`.
//! * Mutations need `Authorization: Bearer <admin token>`; reads and heartbeats need the client token when one is
//!   configured.
//!
//! Inside, data flows one way: the HTTP routes (`routes`, reading requests through `extract`) call the read-only
//! answers (`views/`) and the changes (`moves/`: readiness gates, phase moves, topic changes, adoption, the task);
//! the background tasks (`background/`: sampler, sealer, readiness scanner, monitoring feed, claim renewal) use the
//! gates too; all of them work on the `App` of one running server, which holds the state (`state/`: the phase table
//! and the task with their state file, the audit log, the divergence) and the other shared parts.
//!
//! ```no_run
//! # #![recursion_limit = "512"]
//! # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), Box<dyn std::error::Error>> {
//! use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
//! use rocketmq_migration::ClusterConfig;
//!
//! let config = ServerConfig::new(
//!     ClusterConfig::new("10.0.0.1:9876"),
//!     ClusterConfig::new("10.1.0.1:9876"),
//!     Token::new(std::env::var("RMQ_MIGRATE_TOKEN")?).expect("a non-empty token"),
//! );
//! let server = ControlServer::start(config, rt).await?;
//! println!("control plane on {}", server.local_addr());
//! server.wait().await?;
//! # Ok(()) }
//! ```

mod app;
mod auth;
mod background;
mod claim;
mod config;
mod console;
mod encoded;
mod error;
mod extract;
pub mod limits;
mod metrics;
#[doc(hidden)]
pub mod monitor;
mod moves;
mod readiness;
mod registry;
mod routes;
mod state;
mod traffic;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;
use tokio::task::JoinHandle;

pub use auth::Token;
pub use config::{ServerConfig, TlsFiles};

use crate::cluster::Cluster;
use crate::error::{MigrationError, ToolErrorKind};
use app::App;

/// A running control plane. Dropping it does not stop it; call [`ControlServer::shutdown`].
pub struct ControlServer {
    addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    serve: JoinHandle<std::io::Result<()>>,
    app: Arc<App>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Bind with `SO_REUSEADDR`, as Tokio's and most servers' listeners do: a control plane restarted right after a
/// crash binds its port again although the old process's connections are still in TIME_WAIT (a plain `bind` fails
/// with "address in use" for a minute, while every client is retrying).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

impl ControlServer {
    /// Load the state file and audit log, bind, and serve in the background. Fails with
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) when a file cannot be read and [`ToolErrorKind::Server`]
    /// when the address cannot be bound or the TLS files cannot be loaded.
    pub async fn start(
        config: ServerConfig,
        runtime: Arc<ClientRuntime>,
    ) -> Result<ControlServer, MigrationError> {
        config.source.validate("source")?;
        config.target.validate("target")?;
        let app = App::open(&config, runtime.clone())?;
        let listener = bind(config.listen).map_err(|e| {
            MigrationError::new(
                ToolErrorKind::Server,
                None,
                format!("bind control plane to {}", config.listen),
            )
            .with_source(e)
        })?;
        listener.set_nonblocking(true).map_err(|e| {
            MigrationError::new(ToolErrorKind::Server, None, "set listener non-blocking")
                .with_source(e)
        })?;
        let addr = listener.local_addr().map_err(|e| {
            MigrationError::new(ToolErrorKind::Server, None, "read bound address").with_source(e)
        })?;
        *app.name.lock() = claim::control_plane_name(addr);
        background::renewal::claim_at_start(&app).await?;
        let handle = axum_server::Handle::new();
        let service =
            routes::router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let bind_err = |e: std::io::Error| {
            MigrationError::new(ToolErrorKind::Server, None, format!("serve on {addr}"))
                .with_source(e)
        };
        let serve = match &config.tls {
            None => {
                let server = axum_server::from_tcp(listener)
                    .map_err(bind_err)?
                    .handle(handle.clone());
                tokio::spawn(server.serve(service))
            }
            Some(tls) => {
                let rustls =
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                        .await
                        .map_err(|e| {
                            MigrationError::new(
                                ToolErrorKind::Server,
                                None,
                                format!(
                                    "load TLS certificate {} and key {}",
                                    tls.cert.display(),
                                    tls.key.display()
                                ),
                            )
                            .with_source(e)
                        })?;
                let server = axum_server::from_tcp_rustls(listener, rustls)
                    .map_err(bind_err)?
                    .handle(handle.clone());
                tokio::spawn(server.serve(service))
            }
        };
        background::spawn(&app);
        // The connection check of both clusters, logged and kept for `/healthz`; serving does not wait for it.
        let (checked, clusters) = (
            app.clone(),
            [
                (Cluster::Source, config.source.clone()),
                (Cluster::Target, config.target.clone()),
            ],
        );
        tokio::spawn(async move {
            for (side, cluster) in clusters {
                let report = crate::connection::check(side, &cluster, runtime.clone()).await;
                checked.connections.lock().push((side, report));
            }
        });
        tracing::info!(%addr, tls = config.tls.is_some(), state = %config.state_file.display(),
            audit = %config.audit_file.display(), source = %config.source.name_server_addr,
            target = %config.target.name_server_addr, "control plane listening");
        Ok(ControlServer {
            addr,
            handle,
            serve,
            app,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until the server stops (an I/O error, or [`ControlServer::shutdown`] from elsewhere).
    pub async fn wait(self) -> Result<(), MigrationError> {
        let r = self.serve.await;
        self.app.close().await;
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(MigrationError::new(ToolErrorKind::Server, None, "serve").with_source(e))
            }
            Err(e) => {
                Err(MigrationError::new(ToolErrorKind::Server, None, "server task").with_source(e))
            }
        }
    }

    /// Stop accepting, close connections (long-polls end), and release the admin clients.
    pub async fn shutdown(self) {
        self.handle.shutdown();
        let _ = self.serve.await;
        self.app.close().await;
        tracing::info!(addr = %self.addr, "control plane stopped");
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[tokio::test]
    async fn binds_again_while_the_old_connections_are_in_time_wait() {
        let first = super::bind(([127, 0, 0, 1], 0).into()).unwrap();
        let addr = first.local_addr().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let (accepted, _) = loop {
            match first.accept() {
                Ok(a) => break a,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        // The server side closes first (as a crashed control plane does): its end goes to TIME_WAIT.
        drop(accepted);
        drop(first);
        client.write_all(b"x").ok();
        let _ = client.read(&mut [0u8; 1]);
        drop(client);
        super::bind(addr).expect("bind the same port again at once");
    }
}
