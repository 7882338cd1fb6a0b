//! An in-process name server.

use std::path::Path;
use std::time::Duration;

use rocketmq_namesrv::bootstrap::Builder as NameServerBuilder;
use rocketmq_namesrv::NamesrvConfig;
use rocketmq_observability::TelemetryHandle;
use rocketmq_runtime::RuntimeContext;
use rocketmq_transport::api::ServerConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ports::free_port;
use crate::error::{MigrationError, ToolErrorKind};

pub(crate) struct EmbeddedNamesrv {
    pub(crate) addr: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    ctx: RuntimeContext,
}

impl EmbeddedNamesrv {
    pub(crate) async fn start(name: &str, root: &Path) -> Result<Self, MigrationError> {
        let err = |what: &str| {
            MigrationError::new(
                ToolErrorKind::Cluster,
                None,
                format!("namesrv {name}: {what}"),
            )
        };
        let port = free_port()?;
        let dir = root.join("namesrv");
        std::fs::create_dir_all(&dir).map_err(|e| err("create dir").with_source(e))?;
        let cfg = NamesrvConfig {
            rocketmq_home: root.to_string_lossy().into_owned(),
            kv_config_path: dir.join("kvConfig.json").to_string_lossy().into_owned(),
            config_store_path: dir
                .join("namesrv.properties")
                .to_string_lossy()
                .into_owned(),
            ..NamesrvConfig::default()
        };
        let server = ServerConfig {
            bind_address: "127.0.0.1".to_owned(),
            listen_port: u32::from(port),
            ..ServerConfig::default()
        };
        let ctx = RuntimeContext::try_from_current(format!("{name}-namesrv"))
            .map_err(|e| err("runtime context").with_source(e))?;
        let service = ctx.service_context("namesrv");
        let (tx, rx) = oneshot::channel::<()>();
        let label = name.to_owned();
        let task = tokio::spawn(async move {
            let result = NameServerBuilder::new(service, TelemetryHandle::noop())
                .set_name_server_config(cfg)
                .set_server_config(server)
                .build()
                .boot_with_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(cluster = %label, error = ?e, "embedded namesrv stopped with an error");
            }
        });
        let addr = format!("127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() > deadline || task.is_finished() {
                return Err(err(&format!("did not listen on {addr} within 20 s")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(EmbeddedNamesrv {
            addr,
            stop: Some(tx),
            task: Some(task),
            ctx,
        })
    }

    pub(crate) async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .is_err()
            {
                tracing::warn!(addr = %self.addr, "namesrv did not stop within 15 s");
            }
        }
        let _ = self.ctx.shutdown_tasks(Duration::from_secs(5)).await;
    }
}

impl Drop for EmbeddedNamesrv {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.ctx.shutdown_tasks_now();
    }
}
