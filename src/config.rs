//! Connection settings of one cluster.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cheetah_string::CheetahString;
use rocketmq_client_rust::{AclClientRPCHook, ClientConfig, SessionCredentials};
use rocketmq_transport::api::RPCHook;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ConfigErrorKind};

/// How to reach one cluster: name servers, optional ACL credentials, optional namespace.
///
/// ```
/// use rocketmq_migration::ClusterConfig;
/// let source = ClusterConfig::new("10.0.0.1:9876;10.0.0.2:9876");
/// let target = ClusterConfig::new("rmq-xxx.example.com:8080").credentials("AK", "SK").namespace("prod");
/// assert_eq!(target.namespace.as_deref(), Some("prod"));
/// # let _ = source;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    /// Name server addresses, `host:port` separated by `;`.
    pub name_server_addr: String,
    /// ACL AccessKey; set together with `secret_key`.
    pub access_key: Option<String>,
    /// ACL SecretKey; set together with `access_key`.
    pub secret_key: Option<String>,
    /// Client namespace (prefixes resource names the way the wrapped client does).
    pub namespace: Option<String>,
}

impl ClusterConfig {
    /// A cluster reached through `name_server_addr`, without credentials or namespace.
    pub fn new(name_server_addr: impl Into<String>) -> Self {
        ClusterConfig {
            name_server_addr: name_server_addr.into(),
            ..Default::default()
        }
    }

    /// Use ACL credentials for this cluster.
    pub fn credentials(
        mut self,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.access_key = Some(access_key.into());
        self.secret_key = Some(secret_key.into());
        self
    }

    /// Use a namespace for this cluster.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The namespace names on this cluster are in: `None` without one (a blank one, which `validate` refuses,
    /// counts as none).
    pub(crate) fn namespace_in_use(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|n| !n.trim().is_empty())
    }

    /// The wrapped client's config for this cluster: `base` (or the default) with this cluster's namespace.
    pub(crate) fn client_config(&self, base: Option<&ClientConfig>) -> ClientConfig {
        let mut cfg = base.cloned().unwrap_or_default();
        // `namespace_initialized` is an Arc shared by clones; give each cluster its own.
        cfg.namespace_initialized = Arc::new(AtomicBool::new(false));
        cfg.namespace = self.namespace.clone().map(CheetahString::from);
        cfg
    }

    /// The RPC hook for this cluster: ACL credentials when set, else `fallback` (a hook for both clusters).
    pub(crate) fn rpc_hook(&self, fallback: Option<&Arc<dyn RPCHook>>) -> Option<Arc<dyn RPCHook>> {
        match (&self.access_key, &self.secret_key) {
            (Some(ak), Some(sk)) => Some(Arc::new(AclClientRPCHook::new(
                SessionCredentials::with_keys(ak.as_str(), sk.as_str()),
            ))),
            _ => fallback.cloned(),
        }
    }

    /// Check the settings; `field` names the builder field (`"source"` or `"target"`) in the error.
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let addrs: Vec<&str> = self.name_server_addr.split(';').map(str::trim).collect();
        if addrs.iter().all(|a| a.is_empty()) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                format!("{field}.name_server_addr"),
                &self.name_server_addr,
                "must list at least one host:port",
            ));
        }
        for a in addrs.iter().filter(|a| !a.is_empty()) {
            let ok = a
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    format!("{field}.name_server_addr"),
                    &self.name_server_addr,
                    format!("`{a}` is not host:port"),
                ));
            }
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        match (&self.access_key, &self.secret_key) {
            (None, None) => {}
            (ak, sk) if blank(ak) || blank(sk) => {
                let which = if blank(ak) {
                    "access_key"
                } else {
                    "secret_key"
                };
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    format!("{field}.{which}"),
                    "",
                    "access_key and secret_key must both be set and non-blank",
                ));
            }
            _ => {}
        }
        if self
            .namespace
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                format!("{field}.namespace"),
                "",
                "must not be blank when set",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        assert!(ClusterConfig::new("127.0.0.1:9876;127.0.0.2:9876")
            .validate("source")
            .is_ok());
        let e = ClusterConfig::new("").validate("source").unwrap_err();
        assert_eq!(e.field(), "source.name_server_addr");
        let e = ClusterConfig::new("localhost")
            .validate("target")
            .unwrap_err();
        assert_eq!(
            (e.field(), e.value()),
            ("target.name_server_addr", "localhost")
        );
        let mut c = ClusterConfig::new("h:1");
        c.access_key = Some("AK".into());
        assert_eq!(
            c.validate("target").unwrap_err().field(),
            "target.secret_key"
        );
        let e = ClusterConfig::new("h:1")
            .namespace(" ")
            .validate("target")
            .unwrap_err();
        assert_eq!(e.field(), "target.namespace");
    }
}
