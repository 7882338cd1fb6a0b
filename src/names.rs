//! A cluster's names for the application's topics and groups: with a client namespace `ns`, the application's
//! `orders` is `ns%orders` on the brokers, its group `cg`'s retry topic `%RETRY%ns%cg`. The control plane, the
//! readiness gates and the admin tools keep the application's short names and speak each cluster's full names
//! to its brokers, formed exactly as the wrapped client forms them (`NamespaceUtil`); consumers count deliveries
//! under the short names too.

use rocketmq_protocol::protocol::namespace_util::NamespaceUtil;

/// The cluster's name of the application's `name` (a topic, a group, or a `%RETRY%` / `%DLQ%` topic of a
/// group) in `namespace` (see `ClusterConfig::namespace_in_use`). System topics and names already in the
/// namespace are kept.
// The admin side forms full names; the clients only take them apart (`short`).
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) fn full(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        None => name.to_owned(),
        Some(ns) => NamespaceUtil::wrap_namespace(ns, name).to_string(),
    }
}

/// The application's name of the cluster's `full` name; `None` when a namespace applies and `full` lies outside
/// it (another namespace's item, or one without a namespace).
pub(crate) fn short(namespace: Option<&str>, full: &str) -> Option<String> {
    match namespace {
        None => Some(full.to_owned()),
        Some(ns) if NamespaceUtil::is_already_with_namespace(full, ns) => {
            Some(NamespaceUtil::without_namespace_with_namespace(full, ns))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_formed_as_the_client_forms_them() {
        let ns = Some("MQ_INST_shop");
        assert_eq!(full(ns, "orders"), "MQ_INST_shop%orders");
        assert_eq!(full(ns, "%RETRY%cg"), "%RETRY%MQ_INST_shop%cg");
        assert_eq!(full(ns, "%DLQ%cg"), "%DLQ%MQ_INST_shop%cg");
        assert_eq!(full(ns, "MQ_INST_shop%orders"), "MQ_INST_shop%orders");
        assert_eq!(full(ns, "SCHEDULE_TOPIC_XXXX"), "SCHEDULE_TOPIC_XXXX");
        assert_eq!(full(None, "orders"), "orders");
        assert_eq!(full(Some(""), "orders"), "orders");
        assert_eq!(short(ns, "MQ_INST_shop%orders").as_deref(), Some("orders"));
        assert_eq!(
            short(ns, "%RETRY%MQ_INST_shop%cg").as_deref(),
            Some("%RETRY%cg")
        );
        assert_eq!(short(ns, "other%orders"), None);
        assert_eq!(short(ns, "orders"), None);
        assert_eq!(short(None, "other%orders").as_deref(), Some("other%orders"));
    }
}
