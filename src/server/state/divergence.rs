//! Restored or diverged state: live clients that hold a newer table than the control plane's own.
//!
//! A control plane restarted from an older state file (a backup, a volume snapshot, a lost write) or from none
//! answers tables older than the ones its clients applied. The clients ignore them (`older_table`), so the
//! operator's view and the fleet's silently disagree. Heartbeats say what each client applied: the version of its
//! whole table and, per topic, the phase and version it put into effect. A client is *ahead* when either is newer
//! than the control plane's table (a topic the control plane does not hold counts when the client has it past
//! `initial`; pinned topics never count). Its heartbeat's answer then asks for its table, which it sends once per
//! version (`POST /v1/clients/table`); the newest state of every topic over those tables is kept for
//! `rmq-migrate adopt`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use super::audit::rfc3339;
use crate::control::wire::{AppliedPhase, DivergenceView, Heartbeat, PhasesDoc, TopicAhead};
use crate::phase::Phase;
use crate::topic_state::TopicState;

/// Most clients and topics a [`DivergenceView`] lists.
const LIST_CLIENTS: usize = 10;
const LIST_TOPICS: usize = 100;

/// What one client reported ahead of the table, as of its last heartbeat.
struct Ahead {
    table_version: Option<u64>,
    /// Its applied topics (pinned ones left out), kept to re-check against later tables.
    applied: Vec<(String, AppliedPhase)>,
    seen: Instant,
    /// The table version it sent with `POST /v1/clients/table`, if any.
    table_sent: Option<u64>,
}

/// The tables clients ahead sent, merged: per topic the state with the newest version.
#[derive(Default, Clone)]
pub(crate) struct Reported {
    /// The newest whole-table version among them.
    pub(crate) version: u64,
    pub(crate) topics: BTreeMap<String, TopicState>,
    pub(crate) dlq_reviewed: BTreeMap<String, u64>,
}

#[derive(Default)]
struct State {
    ahead: HashMap<String, Ahead>,
    reported: Reported,
    since: Option<SystemTime>,
}

/// The clients ahead of the control plane's table; see the module docs.
#[derive(Default)]
pub(crate) struct Divergence {
    state: Mutex<State>,
}

/// Whether a client's `version` of `topic` (in `phase`) is newer than what `table` holds.
fn topic_ahead(table: &PhasesDoc, topic: &str, phase: Phase, version: u64) -> bool {
    match table.topics.get(topic) {
        Some(s) => version > s.version,
        None => phase != Phase::Initial,
    }
}

impl Ahead {
    /// The topics of this client still ahead of `table`.
    fn topics<'a>(
        &'a self,
        table: &'a PhasesDoc,
    ) -> impl Iterator<Item = &'a (String, AppliedPhase)> {
        self.applied
            .iter()
            .filter(|(t, a)| topic_ahead(table, t, a.phase, a.version))
    }

    fn is_ahead(&self, table: &PhasesDoc) -> bool {
        self.table_version.is_some_and(|v| v > table.version) || self.topics(table).next().is_some()
    }
}

impl Divergence {
    /// A heartbeat against the current `table`: returns whether to ask the client for its table.
    pub(crate) fn observe(&self, hb: &Heartbeat, table: &PhasesDoc) -> bool {
        let ahead = Ahead {
            table_version: hb.table_version,
            applied: hb
                .applied
                .iter()
                .filter(|(t, _)| !hb.pinned.contains(t))
                .map(|(t, a)| (t.clone(), *a))
                .collect(),
            seen: Instant::now(),
            table_sent: None,
        };
        let mut st = self.state.lock();
        if !ahead.is_ahead(table) {
            st.ahead.remove(&hb.client_id);
            return false;
        }
        if st.since.is_none() {
            st.since = Some(SystemTime::now());
            tracing::error!(client_id = %hb.client_id, client_table_version = ?hb.table_version,
                table_version = table.version,
                "DIVERGED: a client holds a newer phase table than this control plane (restored from an older state \
                 file?); table changes are refused until `rmq-migrate adopt` (or `adopt --force`)");
        }
        let sent = st.ahead.get(&hb.client_id).and_then(|a| a.table_sent);
        let ask = sent.is_none() || sent < hb.table_version;
        st.ahead.insert(
            hb.client_id.clone(),
            Ahead {
                table_sent: sent,
                ..ahead
            },
        );
        ask
    }

    /// A client's table (`POST /v1/clients/table`): merged into the reported tables when the client is ahead.
    /// Returns whether it was kept.
    pub(crate) fn receive(&self, client_id: &str, doc: &PhasesDoc) -> bool {
        let mut st = self.state.lock();
        let Some(a) = st.ahead.get_mut(client_id) else {
            return false;
        };
        a.table_sent = Some(doc.version);
        let r = &mut st.reported;
        r.version = r.version.max(doc.version);
        for (t, s) in &doc.topics {
            if r.topics.get(t).is_none_or(|old| s.version > old.version) {
                r.topics.insert(t.clone(), *s);
            }
        }
        for (t, n) in &doc.dlq_reviewed {
            let e = r.dlq_reviewed.entry(t.clone()).or_default();
            *e = (*e).max(*n);
        }
        true
    }

    /// The divergence from `table` of the clients seen within `ttl`; `None` when no live client is ahead.
    pub(crate) fn view(&self, table: &PhasesDoc, ttl: Duration) -> Option<DivergenceView> {
        let st = self.state.lock();
        let mut clients: Vec<&str> = Vec::new();
        let mut newest = 0;
        let mut tables = 0;
        let mut topics: BTreeMap<&str, TopicAhead> = BTreeMap::new();
        for (id, a) in &st.ahead {
            if a.seen.elapsed() > ttl || !a.is_ahead(table) {
                continue;
            }
            clients.push(id);
            newest = newest.max(a.table_version.unwrap_or(0));
            tables += usize::from(a.table_sent.is_some());
            for (t, applied) in a.topics(table) {
                if topics
                    .get(t.as_str())
                    .is_none_or(|old| applied.version > old.client.version)
                {
                    topics.insert(
                        t,
                        TopicAhead {
                            topic: t.clone(),
                            control_plane: table.topics.get(t).map(|s| AppliedPhase {
                                phase: s.phase,
                                version: s.version,
                            }),
                            client: *applied,
                            client_id: id.clone(),
                        },
                    );
                }
            }
        }
        if clients.is_empty() {
            return None;
        }
        clients.sort_unstable();
        Some(DivergenceView {
            table_version: table.version,
            newest_client_version: newest,
            clients_ahead: clients.len(),
            clients: clients
                .iter()
                .take(LIST_CLIENTS)
                .map(|c| (*c).to_owned())
                .collect(),
            topics: topics.into_values().take(LIST_TOPICS).collect(),
            tables_received: tables,
            since: st.since.map(rfc3339).unwrap_or_default(),
        })
    }

    /// The clients' tables merged, and the newest version of anything a live client reported (whole table or
    /// topic).
    pub(crate) fn reported(&self, ttl: Duration) -> (Reported, u64) {
        let st = self.state.lock();
        let mut newest = st.reported.version;
        for a in st.ahead.values().filter(|a| a.seen.elapsed() <= ttl) {
            newest = newest.max(a.table_version.unwrap_or(0));
            newest = a
                .applied
                .iter()
                .map(|(_, p)| p.version)
                .fold(newest, u64::max);
        }
        newest = st
            .reported
            .topics
            .values()
            .map(|s| s.version)
            .fold(newest, u64::max);
        (st.reported.clone(), newest)
    }

    /// The divergence was resolved (a table above every reported version was published): start over.
    pub(crate) fn clear(&self) {
        *self.state.lock() = State::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::wire::{Role, SyncStatus};

    /// `(topic, phase, version)` triples as a map of `make(phase, version)` by topic.
    fn by_topic<T>(
        list: &[(&str, Phase, u64)],
        make: impl Fn(Phase, u64) -> T,
    ) -> BTreeMap<String, T> {
        list.iter()
            .map(|(t, p, v)| ((*t).to_owned(), make(*p, *v)))
            .collect()
    }

    fn table(version: u64, topics: &[(&str, Phase, u64)]) -> PhasesDoc {
        PhasesDoc {
            version,
            topics: by_topic(topics, |phase, version| TopicState {
                phase,
                version,
                ..TopicState::default()
            }),
            dlq_reviewed: BTreeMap::new(),
        }
    }

    fn hb(id: &str, table_version: Option<u64>, applied: &[(&str, Phase, u64)]) -> Heartbeat {
        Heartbeat {
            client_id: id.into(),
            application: "app".into(),
            role: Role::Producer,
            group: "pg".into(),
            topics: applied.iter().map(|(t, _, _)| (*t).to_owned()).collect(),
            applied: by_topic(applied, |phase, version| AppliedPhase { phase, version }),
            counters: Default::default(),
            per_topic: BTreeMap::new(),
            status: SyncStatus::Stale,
            status_reason: Some("older_table".into()),
            pinned: Vec::new(),
            broker_clients: Default::default(),
            namespaces: Default::default(),
            table_version,
        }
    }

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn clients_at_or_behind_the_table_are_not_ahead() {
        let d = Divergence::default();
        let t = table(5, &[("a", Phase::DualRead, 4)]);
        assert!(!d.observe(&hb("c1", Some(5), &[("a", Phase::DualRead, 4)]), &t));
        assert!(!d.observe(&hb("c2", Some(3), &[("a", Phase::Initial, 2)]), &t));
        // A topic deleted on the control plane stays `initial` in clients' tables: not ahead.
        assert!(!d.observe(&hb("c3", Some(5), &[("gone", Phase::Initial, 3)]), &t));
        // Clients older than the check send no table version.
        assert!(!d.observe(&hb("c4", None, &[("a", Phase::DualRead, 4)]), &t));
        assert_eq!(d.view(&t, TTL), None);
    }

    #[test]
    fn a_newer_table_or_topic_version_is_ahead_and_its_table_is_asked_for_once() {
        let d = Divergence::default();
        let t = table(5, &[("a", Phase::DualRead, 4)]);
        // Newer whole table.
        assert!(d.observe(&hb("c1", Some(8), &[("a", Phase::DualRead, 4)]), &t));
        // Older whole table but a newer topic (the control plane was changed after a restore).
        assert!(d.observe(&hb("c2", Some(4), &[("a", Phase::DualReadWrite, 7)]), &t));
        // A topic the control plane lost, past initial.
        assert!(d.observe(&hb("c3", None, &[("lost", Phase::CuttingOver, 3)]), &t));
        let v = d.view(&t, TTL).expect("diverged");
        assert_eq!(v.clients_ahead, 3);
        assert_eq!(v.newest_client_version, 8);
        assert_eq!(v.clients, ["c1", "c2", "c3"]);
        let topics: Vec<(&str, u64)> = v
            .topics
            .iter()
            .map(|t| (t.topic.as_str(), t.client.version))
            .collect();
        assert_eq!(topics, [("a", 7), ("lost", 3)]);
        assert_eq!(v.topics[0].control_plane.map(|a| a.version), Some(4));
        assert_eq!(v.tables_received, 0);

        // c1 sends its table: not asked again for the same version; asked again once it holds a newer one.
        assert!(d.receive(
            "c1",
            &table(
                8,
                &[("a", Phase::DualReadWrite, 6), ("b", Phase::DualRead, 8)]
            )
        ));
        assert!(!d.observe(&hb("c1", Some(8), &[("a", Phase::DualRead, 4)]), &t));
        assert!(d.observe(&hb("c1", Some(9), &[("a", Phase::DualRead, 4)]), &t));
        assert_eq!(d.view(&t, TTL).unwrap().tables_received, 1);
        // A client not ahead has its table refused.
        assert!(!d.receive("c9", &table(99, &[])));

        let (r, newest) = d.reported(TTL);
        assert_eq!(r.version, 8);
        assert_eq!(r.topics["a"].version, 6);
        assert_eq!(newest, 9);
    }

    #[test]
    fn pinned_topics_do_not_count_and_a_newer_table_ends_it() {
        let d = Divergence::default();
        let t = table(5, &[("a", Phase::Initial, 2)]);
        let mut pinned = hb("c1", Some(5), &[("a", Phase::Completed, 9)]);
        pinned.pinned = vec!["a".into()];
        assert!(!d.observe(&pinned, &t));
        assert!(d.observe(&hb("c2", Some(7), &[("a", Phase::DualRead, 6)]), &t));
        assert!(d.view(&t, TTL).is_some());
        // Gone quiet for longer than the TTL: not counted.
        assert!(d.view(&t, Duration::ZERO).is_none());
        // The control plane published above it: resolved without waiting for the next heartbeat.
        let after = table(10, &[("a", Phase::DualRead, 10)]);
        assert!(d.view(&after, TTL).is_none());
        // The same client caught up: removed.
        assert!(!d.observe(&hb("c2", Some(10), &[("a", Phase::DualRead, 10)]), &after));
    }
}
