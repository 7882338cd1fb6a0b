//! Typed errors.
//!
//! * [`ConfigError`]: bad input (a builder field, a write ratio, a phase name). Names the field and the value;
//!   nothing is applied when it is returned.
//! * [`MigrationError`]: a runtime operation of the shim (starting a client, changing subscriptions) failed;
//!   records which cluster failed and keeps the client error as its `source`.
//!
//! Send methods keep the wrapped client's signatures and therefore return its `ClientError`.

use std::error::Error as StdError;
use std::fmt;

use crate::cluster::Cluster;

/// What kind of bad input a [`ConfigError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A required builder field was not set.
    Missing,
    /// A write ratio outside `0.0..=1.0` (or not a number).
    InvalidRatio,
    /// A phase name that is not one of the five phases.
    InvalidPhase,
    /// Any other invalid value (empty group name, empty name server address, ...).
    InvalidValue,
}

/// Bad input: names the field, the value and why it was refused.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    field: String,
    value: String,
    reason: String,
}

impl ConfigError {
    /// A `kind` error about `field` holding `value`, with the rule it broke.
    pub fn new(
        kind: ConfigErrorKind,
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError {
            kind,
            field: field.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(field: impl Into<String>) -> Self {
        ConfigError::new(ConfigErrorKind::Missing, field, "", "is required")
    }

    /// The kind of problem.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The field that was refused, e.g. `"source"` or `"write_ratio"`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The refused value as text (empty for a missing field).
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigErrorKind::Missing => write!(f, "`{}` {}", self.field, self.reason),
            _ => write!(
                f,
                "invalid `{}` = {:?}: {}",
                self.field, self.value, self.reason
            ),
        }
    }
}

impl StdError for ConfigError {}

/// What kind of runtime failure a [`MigrationError`] reports.
///
/// All kinds but [`ErrorKind::Tool`] are the SDK's: what the four migrating clients, the control client and the
/// control API return. The operator tools (metadata, ACL and dead-letter migration, `backlog`, the control plane
/// server, the embedded test cluster) report [`ErrorKind::Tool`] with a [`ToolErrorKind`] of their own, so the
/// tools' kinds can grow without the SDK's changing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input; the source is a [`ConfigError`].
    Config,
    /// A client of one cluster failed to start.
    Start,
    /// A subscription change on one cluster failed.
    Subscribe,
    /// The operation needs a started client and the shim is not started (or already shut down).
    NotStarted,
    /// The control plane could not be reached or answered with something unusable (and no cache file could stand
    /// in for it).
    Control,
    /// The control plane refused the credentials (HTTP 401 or 403). Polling stops; the last good table is kept.
    Unauthorized,
    /// The control plane refused a request (a conflict, a failed readiness check, an unknown topic); the context
    /// holds its error code and message.
    Refused,
    /// Reading or writing a state, audit or cache file failed.
    Storage,
    /// A message queue could not be mapped to one cluster by its broker name: no cluster's route has that broker,
    /// or both clusters have a broker of that name. The context names the queue.
    QueueCluster,
    /// An operator tool failed (never returned by the migrating clients); the tool's own kind says how.
    Tool(ToolErrorKind),
}

/// How an operator tool failed: the kinds of [`ErrorKind::Tool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// A metadata or ACL file is malformed; the context names the item and field.
    Metadata,
    /// A cluster's admin API failed (listing, reading or writing topics, groups, offsets or ACL accounts).
    Admin,
    /// The control plane server failed to bind, to load its TLS material, or to reach a cluster's admin API.
    Server,
    /// The embedded test cluster failed (test kit only).
    Cluster,
}

impl From<ToolErrorKind> for ErrorKind {
    fn from(kind: ToolErrorKind) -> Self {
        ErrorKind::Tool(kind)
    }
}

/// A runtime failure of the shim, with the cluster it happened on.
#[derive(Debug)]
pub struct MigrationError {
    kind: ErrorKind,
    cluster: Option<Cluster>,
    context: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl MigrationError {
    /// An error of `kind`, about `cluster` when it concerns one, with a human-readable context.
    pub fn new(
        kind: impl Into<ErrorKind>,
        cluster: Option<Cluster>,
        context: impl Into<String>,
    ) -> Self {
        MigrationError {
            kind: kind.into(),
            cluster,
            context: context.into(),
            source: None,
        }
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Put `outer` in front of the context (what was being done when this happened).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn with_context(mut self, outer: impl Into<String>) -> Self {
        self.context = format!("{}: {}", outer.into(), self.context);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The cluster the failure happened on, when it is specific to one.
    pub fn cluster(&self) -> Option<Cluster> {
        self.cluster
    }

    /// The configuration error behind a [`ErrorKind::Config`] failure.
    pub fn config_error(&self) -> Option<&ConfigError> {
        self.source.as_ref()?.downcast_ref::<ConfigError>()
    }
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cluster {
            Some(c) => write!(f, "{} cluster: {}", c, self.context)?,
            None => f.write_str(&self.context)?,
        }
        // Client errors redact details in Display; walk the chain so a log line tells the whole story.
        let mut next: Option<&(dyn StdError + 'static)> = self.source.as_deref().map(|s| s as _);
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl StdError for MigrationError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl From<ConfigError> for MigrationError {
    fn from(e: ConfigError) -> Self {
        MigrationError::new(ErrorKind::Config, None, "invalid configuration").with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_error_names_field_and_value() {
        let e = ConfigError::new(
            ConfigErrorKind::InvalidRatio,
            "write_ratio",
            "1.5",
            "must be within 0.0..=1.0",
        );
        assert_eq!(
            e.to_string(),
            "invalid `write_ratio` = \"1.5\": must be within 0.0..=1.0"
        );
        let m: MigrationError = e.clone().into();
        assert_eq!(m.kind(), ErrorKind::Config);
        assert_eq!(m.config_error(), Some(&e));
        assert!(m.to_string().contains("write_ratio"));
        assert_eq!(
            ConfigError::missing("source").to_string(),
            "`source` is required"
        );
    }

    #[test]
    fn tool_failures_have_their_own_kinds_under_tool() {
        let e = MigrationError::new(ToolErrorKind::Metadata, None, "topic `a`: bad perm");
        assert_eq!(e.kind(), ErrorKind::Tool(ToolErrorKind::Metadata));
        assert_ne!(e.kind(), ErrorKind::Config);
        assert_eq!(e.to_string(), "topic `a`: bad perm");
        let sdk = MigrationError::new(ErrorKind::Start, Some(Cluster::Target), "start consumer");
        assert!(!matches!(sdk.kind(), ErrorKind::Tool(_)));
    }
}
