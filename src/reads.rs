//! What each cluster's client of a migrating consumer reads, shared by the push and the lite pull consumer: the
//! read-set decision, the phases reported as applied, and the loop that follows phase changes.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rocketmq_client_rust::MessageSelector;

use crate::cluster::Cluster;
use crate::route::{PhaseHandle, PhaseTable};

/// A subscription as the application made it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Sub {
    /// A tag expression (`"*"`, `"TagA || TagB"`).
    Expression(String),
    /// A server-side selector (tag or SQL92).
    Selector(Option<MessageSelector>),
}

/// A tag expression as the raw client needs it: `"TagA || TagB"` becomes `"TagA||TagB"`.
///
/// rocketmq-protocol 1.0.0 (`FilterAPI::build_subscription_data`) trims each tag for the client-side tag set but
/// hashes it untrimmed for the broker's filter, so with the usual spaces around `||` the broker matches no tag
/// and the subscription receives nothing. Tags never contain spaces, so trimming changes nothing else.
pub(crate) fn tag_expression(expr: &str) -> std::borrow::Cow<'_, str> {
    if !expr.contains("||") {
        return std::borrow::Cow::Borrowed(expr.trim());
    }
    std::borrow::Cow::Owned(
        expr.split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("||"),
    )
}

/// How often subscriptions are reconciled even without a phase change (retries a cluster that was down).
pub(crate) const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// Longest wait for one topic's route when checking a cluster can really be read.
pub(crate) const VERIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// The instance name of a raw consumer of `side`, from the configured `name` (`DEFAULT` unless the application
/// set one). Two clients of one process must not share a client id, so explicit names (and the fixed one
/// broadcasting consumers keep, which also names their local offset store) get the side as a suffix; a clustering
/// consumer with the default name gets `<pid>#<nanos>-<side>`, as the client would make it, so that the id it
/// presents to the brokers (`<ip>@<instance name>`) is known before it starts and can be reported.
pub(crate) fn instance_name(name: &str, broadcasting: bool, side: Cluster) -> String {
    if broadcasting || name != "DEFAULT" {
        return format!("{name}-{side}");
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}#{nanos}-{side}", std::process::id())
}

/// The entries of `wanted` (keyed by topic) that `cluster`'s client should hold under `snapshot`: those whose
/// topic's phase reads `cluster`. `Completed` no longer reads the source, `Initial` not the target.
pub(crate) fn for_cluster<S: Clone>(
    wanted: &BTreeMap<String, S>,
    snapshot: &PhaseTable,
    cluster: Cluster,
) -> BTreeMap<String, S> {
    wanted
        .iter()
        .filter(|(t, _)| snapshot.phase(t).read_set().contains(cluster))
        .map(|(t, s)| (t.clone(), s.clone()))
        .collect()
}

/// The table to report as applied: a topic's state from `snapshot` once every cluster its phase reads has
/// answered for the topic's queues (`verified`, per cluster), else its `previous` applied state. Topics this
/// consumer does not read (`reads` is false) take the snapshot's state at once.
pub(crate) fn applied_table(
    snapshot: &PhaseTable,
    reads: impl Fn(&str) -> bool,
    verified: &[BTreeSet<String>; 2],
    previous: &PhaseTable,
) -> PhaseTable {
    let mut next = BTreeMap::new();
    for (topic, _) in snapshot.topics() {
        // The effective state: this instance's pins applied.
        let state = snapshot.topic(topic);
        let ready = !reads(topic)
            || Cluster::BOTH.iter().all(|c| {
                !state.phase.read_set().contains(*c) || verified[c.index()].contains(topic)
            });
        if ready {
            next.insert(topic.to_owned(), state);
        } else if let Some(prev) = previous.get(topic) {
            next.insert(topic.to_owned(), *prev);
        }
    }
    PhaseTable::from_topics(next)
}

/// Call `reconcile` on every phase change of `phases`, and every [`RECONCILE_EVERY`] to retry a cluster that
/// failed (or sooner, when `reconcile` returns a shorter wait); ends when `core` is dropped or the table is.
pub(crate) async fn follow<T, F, Fut>(core: Weak<T>, phases: PhaseHandle, reconcile: F)
where
    F: Fn(Arc<T>) -> Fut,
    Fut: Future<Output = Option<Duration>>,
{
    let mut changes = phases.subscribe_changes();
    let mut wait = RECONCILE_EVERY;
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(wait) => {}
        }
        let Some(core) = core.upgrade() else { return };
        wait = reconcile(core).await.unwrap_or(RECONCILE_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::Phase;

    #[test]
    fn tag_expressions_lose_the_spaces_the_raw_client_hashes() {
        assert_eq!(tag_expression("TagA || TagB"), "TagA||TagB");
        assert_eq!(tag_expression(" TagA ||TagB|| TagC "), "TagA||TagB||TagC");
        assert_eq!(tag_expression("*"), "*");
        assert_eq!(tag_expression(" TagA "), "TagA");
    }

    #[test]
    fn a_cluster_holds_the_topics_whose_phase_reads_it() {
        let phases = PhaseHandle::new();
        phases.set_phase("a", Phase::Completed).unwrap();
        phases.set_phase("b", Phase::DualRead).unwrap();
        let wanted: BTreeMap<String, ()> = ["a", "b", "c"]
            .iter()
            .map(|t| (t.to_string(), ()))
            .collect();
        let snap = phases.snapshot();
        let src: Vec<_> = for_cluster(&wanted, &snap, Cluster::Source)
            .into_keys()
            .collect();
        let tgt: Vec<_> = for_cluster(&wanted, &snap, Cluster::Target)
            .into_keys()
            .collect();
        assert_eq!(src, ["b", "c"]);
        assert_eq!(tgt, ["a", "b"]);
    }

    #[test]
    fn a_phase_is_applied_once_every_read_cluster_answered() {
        let phases = PhaseHandle::new();
        phases.set_phase("a", Phase::DualRead).unwrap();
        let snap = phases.snapshot();
        let mut verified: [BTreeSet<String>; 2] = Default::default();
        verified[0].insert("a".into());
        let prev = PhaseTable::default();
        let t = applied_table(&snap, |_| true, &verified, &prev);
        assert!(t.get("a").is_none(), "the target has not answered yet");
        verified[1].insert("a".into());
        let t = applied_table(&snap, |_| true, &verified, &prev);
        assert_eq!(t.phase("a"), Phase::DualRead);
        let t = applied_table(&snap, |_| false, &Default::default(), &prev);
        assert_eq!(
            t.phase("a"),
            Phase::DualRead,
            "a topic not read is applied at once"
        );
    }
}
