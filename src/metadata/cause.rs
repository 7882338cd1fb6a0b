//! Why an item of an import failed or was skipped, as a code a script can filter on.

use serde::{Deserialize, Serialize};

use crate::admin::Trouble;

/// The cause of a failed or skipped item (`import --output json` carries it as `cause`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// The broker's own item (system topic or group, broker- or cluster-name topic, reply topic, retry or
    /// dead-letter topic): left out.
    SystemItem,
    /// On the target with other settings, and the conflict policy is `skip`.
    Conflict,
    /// Over the per-run limit of topics or groups.
    LimitExceeded,
    /// The name is not one a broker accepts (empty, too long, or characters outside `%|a-zA-Z0-9_-`).
    InvalidName,
    /// Selected with `--topic` / `--group`, but the file does not hold it.
    NotInFile,
    /// The target's name server or broker could not be reached.
    Unreachable,
    /// The target refused the credentials.
    AuthenticationFailed,
    /// The credentials lack the permission to read or write this item.
    PermissionDenied,
    /// The target's broker answered with another error (the reason has it).
    BrokerError,
    /// An ACL account without its secret (exported without secrets) cannot be created.
    MissingSecret,
}

impl Cause {
    /// The code as printed and serialized (`system_item`, `conflict`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::SystemItem => "system_item",
            Cause::Conflict => "conflict",
            Cause::LimitExceeded => "limit_exceeded",
            Cause::InvalidName => "invalid_name",
            Cause::NotInFile => "not_in_file",
            Cause::Unreachable => "unreachable",
            Cause::AuthenticationFailed => "authentication_failed",
            Cause::PermissionDenied => "permission_denied",
            Cause::BrokerError => "broker_error",
            Cause::MissingSecret => "missing_secret",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Trouble> for Cause {
    fn from(t: Trouble) -> Self {
        match t {
            Trouble::Unreachable => Cause::Unreachable,
            Trouble::AuthenticationFailed => Cause::AuthenticationFailed,
            Trouble::PermissionDenied => Cause::PermissionDenied,
            Trouble::Other => Cause::BrokerError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_printed() {
        for c in [
            Cause::SystemItem,
            Cause::Conflict,
            Cause::LimitExceeded,
            Cause::InvalidName,
            Cause::NotInFile,
            Cause::Unreachable,
            Cause::AuthenticationFailed,
            Cause::PermissionDenied,
            Cause::BrokerError,
            Cause::MissingSecret,
        ] {
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().into())
            );
        }
    }
}
