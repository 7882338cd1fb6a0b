//! Where imported topics and groups land: the seed's two namespace modes.

use serde::{Deserialize, Serialize};

/// Namespace used for names without one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// How names map to target namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum NamespaceMode {
    /// *Cluster migration*: everything is imported; the namespace is the part of a name before `%` (after
    /// stripping `%RETRY%` / `%DLQ%`), names without `%` belong to namespace `default`. Names are kept.
    Cluster,
    /// *Specified namespace*: items are imported into `namespace`: the target name is
    /// `<namespace>%<name without its old namespace>`. The seed's console picks the items: pair it with
    /// [`Selection::Only`](super::Selection::Only).
    Specified {
        /// Destination namespace.
        namespace: String,
    },
}

/// Split a name into its retry/DLQ prefix, namespace and base: `%RETRY%nsA%g` → (`%RETRY%`, `Some("nsA")`, `g`).
pub(crate) fn split(name: &str) -> (&str, Option<&str>, &str) {
    let (prefix, rest) = ["%RETRY%", "%DLQ%"]
        .iter()
        .find_map(|p| name.strip_prefix(p).map(|rest| (&name[..p.len()], rest)))
        .unwrap_or(("", name));
    match rest.split_once('%') {
        Some((ns, base)) if !ns.is_empty() && !base.is_empty() => (prefix, Some(ns), base),
        _ => (prefix, None, rest),
    }
}

/// The namespace a name belongs to in cluster mode.
pub(crate) fn namespace_of(name: &str) -> &str {
    split(name).1.unwrap_or(DEFAULT_NAMESPACE)
}

/// The target name of `name` imported into `namespace` (specified mode).
pub(crate) fn into_namespace(name: &str, namespace: &str) -> String {
    let (prefix, _, base) = split(name);
    format!("{prefix}{namespace}%{base}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_part_before_percent() {
        assert_eq!(namespace_of("nsA%orders"), "nsA");
        assert_eq!(namespace_of("%RETRY%nsB%cg"), "nsB");
        assert_eq!(namespace_of("%DLQ%cg"), "default");
        assert_eq!(namespace_of("orders"), "default");
        assert_eq!(into_namespace("orders", "prod"), "prod%orders");
        assert_eq!(into_namespace("nsA%orders", "prod"), "prod%orders");
        assert_eq!(into_namespace("%RETRY%nsA%cg", "prod"), "%RETRY%prod%cg");
    }
}
