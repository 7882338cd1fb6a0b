//! `rmq-migrate serve`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use rocketmq_migration::server::{ControlServer, ServerConfig, TlsFiles, Token};
use rocketmq_migration::{
    ClusterConfig, ConfigError, ConfigErrorKind, MigrationError, MigrationRuntime,
};

use crate::files::read_text;
use crate::CliResult;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7080")]
    listen: SocketAddr,
    /// State file (phase table), replaced atomically on every change.
    #[arg(long, default_value = "rmq-migrate-state.json")]
    state_file: PathBuf,
    /// Append-only audit log.
    #[arg(long, default_value = "rmq-migrate-audit.jsonl")]
    audit_file: PathBuf,
    /// Source cluster name server address(es), `host:port[;host:port]`.
    #[arg(long, env = "RMQ_MIGRATE_SOURCE_NAMESRV")]
    source_namesrv: String,
    /// Target cluster name server address(es).
    #[arg(long, env = "RMQ_MIGRATE_TARGET_NAMESRV")]
    target_namesrv: String,
    /// Source AccessKey (with --source-secret-key).
    #[arg(long, env = "RMQ_MIGRATE_SOURCE_ACCESS_KEY")]
    source_access_key: Option<String>,
    /// Source SecretKey.
    #[arg(long, env = "RMQ_MIGRATE_SOURCE_SECRET_KEY", hide_env_values = true)]
    source_secret_key: Option<String>,
    /// Target AccessKey (with --target-secret-key).
    #[arg(long, env = "RMQ_MIGRATE_TARGET_ACCESS_KEY")]
    target_access_key: Option<String>,
    /// Target SecretKey.
    #[arg(long, env = "RMQ_MIGRATE_TARGET_SECRET_KEY", hide_env_values = true)]
    target_secret_key: Option<String>,
    /// The source's client namespace (`MQ_INST_x`): the table keeps short names, the source's brokers are asked
    /// for `<namespace>%<name>`.
    #[arg(long, env = "RMQ_MIGRATE_SOURCE_NAMESPACE")]
    source_namespace: Option<String>,
    /// The target's client namespace.
    #[arg(long, env = "RMQ_MIGRATE_TARGET_NAMESPACE")]
    target_namespace: Option<String>,
    /// Admin token (mutations). Prefer --token-file; never passed on a command line in production.
    #[arg(long, env = "RMQ_MIGRATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the admin token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// File holding the client token (reads and heartbeats); without it they are open.
    #[arg(long)]
    client_token_file: Option<PathBuf>,
    /// Seconds a client stays live after its last heartbeat.
    #[arg(long, default_value_t = 15.0)]
    client_ttl: f64,
    /// Seconds without a new message a cluster must show before it leaves a topic's read set.
    #[arg(long, default_value_t = 30.0)]
    quiet_window: f64,
    /// Seconds between traffic samples of each topic.
    #[arg(long, default_value_t = 2.0)]
    sample_every: f64,
    /// Seconds between background scans of every topic's readiness checks (status answers from the last scan).
    #[arg(long, default_value_t = 15.0)]
    scan_every: f64,
    /// Seconds between migration monitoring points (whole seconds dividing 60; kept 6 h at this resolution and
    /// 7 days coarser).
    #[arg(long, default_value_t = 10)]
    monitor_every: u64,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn read_token(field: &str, path: &Path) -> Result<Token, MigrationError> {
    let text = read_text(field, path)?;
    Token::new(text).ok_or_else(|| {
        ConfigError::new(
            ConfigErrorKind::InvalidValue,
            field,
            path.display().to_string(),
            "holds an empty token",
        )
        .into()
    })
}

fn seconds(field: &str, s: f64) -> Result<Duration, MigrationError> {
    if s.is_finite() && s > 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::InvalidValue,
            field,
            s.to_string(),
            "must be a positive number of seconds",
        )
        .into())
    }
}

fn cluster(
    addr: &str,
    ak: &Option<String>,
    sk: &Option<String>,
    namespace: &Option<String>,
) -> ClusterConfig {
    crate::metadata::in_namespace(crate::metadata::cluster(addr, ak, sk), namespace)
}

pub(crate) async fn run(a: ServeArgs) -> CliResult {
    let admin_token = match (&a.token, &a.token_file) {
        (_, Some(path)) => read_token("token_file", path)?,
        (Some(t), None) => Token::new(t.clone()).ok_or_else(|| {
            MigrationError::from(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "token",
                "",
                "must not be empty",
            ))
        })?,
        (None, None) => return Err(ConfigError::new(
            ConfigErrorKind::Missing,
            "token",
            "",
            "set RMQ_MIGRATE_TOKEN or --token-file: changes to the phase table need an admin token",
        )
        .into()),
    };
    let mut config = ServerConfig::new(
        cluster(
            &a.source_namesrv,
            &a.source_access_key,
            &a.source_secret_key,
            &a.source_namespace,
        ),
        cluster(
            &a.target_namesrv,
            &a.target_access_key,
            &a.target_secret_key,
            &a.target_namespace,
        ),
        admin_token,
    );
    config.listen = a.listen;
    config.state_file = a.state_file;
    config.audit_file = a.audit_file;
    config.client_token = match &a.client_token_file {
        Some(p) => Some(read_token("client_token_file", p)?),
        None => None,
    };
    config.client_ttl = seconds("client_ttl", a.client_ttl)?;
    config.quiet_window = seconds("quiet_window", a.quiet_window)?;
    config.sample_every = seconds("sample_every", a.sample_every)?;
    config.scan_every = seconds("scan_every", a.scan_every)?;
    config.monitor_every = std::time::Duration::from_secs(a.monitor_every);
    config.tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let runtime = MigrationRuntime::new()?;
    let server = ControlServer::start(config, runtime.client()).await?;
    println!("control plane listening on {}", server.local_addr());
    tokio::select! {
        r = server.wait() => r?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: stopping");
        }
    }
    runtime.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
