//! Registered clients: the last heartbeat of every producer and consumer instance, and whether it is live.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::control::wire::{ClientView, Heartbeat, Role};

/// Clients silent for this many TTLs are forgotten.
const FORGET_AFTER_TTLS: u32 = 20;

struct Entry {
    heartbeat: Heartbeat,
    seen: Instant,
}

impl Entry {
    /// Whether this client is a `role` that sends to or subscribes to `topic`.
    fn serves(&self, topic: &str, role: Role) -> bool {
        self.heartbeat.role == role && self.heartbeat.topics.iter().any(|t| t == topic)
    }
}

/// Forgotten clients are swept out at most this often (a sweep visits every client, so sweeping on every
/// heartbeat made a heartbeat cost grow with the fleet: 10,000 clients heartbeating every 5 s took ~half a core).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The clients and when they were last swept.
struct Clients {
    by_id: HashMap<String, Entry>,
    swept: Instant,
}

/// Heartbeats by client id. A client is live while its heartbeats arrive within the TTL.
pub(crate) struct Registry {
    ttl: Duration,
    clients: Mutex<Clients>,
}

impl Registry {
    pub(crate) fn new(ttl: Duration) -> Self {
        Registry {
            ttl,
            clients: Mutex::new(Clients {
                by_id: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// How long a client stays live after its last heartbeat.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Record a heartbeat; returns whether the client is new.
    pub(crate) fn record(&self, heartbeat: Heartbeat) -> bool {
        let now = Instant::now();
        let mut clients = self.clients.lock();
        if now.saturating_duration_since(clients.swept) >= SWEEP_EVERY.min(self.ttl) {
            let forget = self.ttl * FORGET_AFTER_TTLS;
            clients
                .by_id
                .retain(|_, e| now.saturating_duration_since(e.seen) < forget);
            clients.swept = now;
        }
        clients
            .by_id
            .insert(
                heartbeat.client_id.clone(),
                Entry {
                    heartbeat,
                    seen: now,
                },
            )
            .is_none()
    }

    /// Whether a heartbeat of `client_id` may be recorded while at most `max` clients are held: a known client
    /// always, a new one while there is room, after forgetting the clients no longer live if need be (see
    /// `limits::registry_room`; concurrent new clients may pass it together, so the bound holds within the number
    /// of requests in flight).
    pub(crate) fn admits(&self, client_id: &str, max: usize) -> bool {
        let mut clients = self.clients.lock();
        let by_id = &mut clients.by_id;
        if by_id.len() < max || by_id.contains_key(client_id) {
            return true;
        }
        let now = Instant::now();
        by_id.retain(|_, e| now.saturating_duration_since(e.seen) <= self.ttl);
        by_id.len() < max
    }

    /// Every known client, live or not, sorted by id.
    pub(crate) fn views(&self) -> Vec<ClientView> {
        let now = Instant::now();
        let clients = self.clients.lock();
        let mut v: Vec<ClientView> = clients
            .by_id
            .values()
            .map(|e| {
                let ago = now.saturating_duration_since(e.seen);
                ClientView {
                    heartbeat: e.heartbeat.clone(),
                    live: ago <= self.ttl,
                    last_seen_ms: ago.as_millis() as u64,
                }
            })
            .collect();
        v.sort_by(|a, b| a.heartbeat.client_id.cmp(&b.heartbeat.client_id));
        v
    }

    /// The raw client ids every known shim client (live or recently seen) presents to `cluster`'s brokers.
    pub(crate) fn broker_clients(
        &self,
        cluster: crate::Cluster,
    ) -> std::collections::HashSet<String> {
        self.clients
            .lock()
            .by_id
            .values()
            .flat_map(|e| e.heartbeat.broker_clients.on(cluster).iter().cloned())
            .collect()
    }

    /// The groups of every known client (live or not) of `role` that sends to or subscribes to `topic`.
    pub(crate) fn groups_of(&self, topic: &str, role: Role) -> Vec<String> {
        self.clients
            .lock()
            .by_id
            .values()
            .filter(|e| e.serves(topic, role))
            .map(|e| e.heartbeat.group.clone())
            .collect()
    }

    /// Live clients of `role` that send to or subscribe to `topic`.
    pub(crate) fn live_of(&self, topic: &str, role: Role) -> Vec<Heartbeat> {
        let now = Instant::now();
        let clients = self.clients.lock();
        let mut v: Vec<Heartbeat> = clients
            .by_id
            .values()
            .filter(|e| now.saturating_duration_since(e.seen) <= self.ttl && e.serves(topic, role))
            .map(|e| e.heartbeat.clone())
            .collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(id: &str, topic: &str, role: Role) -> Heartbeat {
        Heartbeat {
            client_id: id.into(),
            application: "app".into(),
            role,
            group: "g".into(),
            topics: vec![topic.into()],
            applied: Default::default(),
            counters: Default::default(),
            per_topic: Default::default(),
            status: Default::default(),
            status_reason: None,
            pinned: Vec::new(),
            broker_clients: Default::default(),
            namespaces: Default::default(),
            table_version: None,
        }
    }

    #[test]
    fn silent_clients_are_forgotten_by_a_later_heartbeats_sweep() {
        let r = Registry::new(Duration::from_millis(2));
        assert!(r.record(hb("a", "t", Role::Producer)));
        assert!(!r.record(hb("a", "t", Role::Producer)));
        // Past FORGET_AFTER_TTLS × ttl (40 ms) and the sweep period (the ttl here): the next heartbeat sweeps.
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(r.views().len(), 1, "kept until a sweep");
        assert!(!r.views()[0].live);
        assert!(r.record(hb("b", "t", Role::Producer)));
        let ids: Vec<_> = r
            .views()
            .into_iter()
            .map(|v| v.heartbeat.client_id)
            .collect();
        assert_eq!(ids, ["b"]);
        // a is new again when it comes back.
        assert!(r.record(hb("a", "t", Role::Producer)));
    }

    #[test]
    fn live_of_lists_live_clients_of_the_role_and_topic_sorted() {
        let r = Registry::new(Duration::from_secs(60));
        for (id, topic, role) in [
            ("p2", "t", Role::Producer),
            ("p1", "t", Role::Producer),
            ("c1", "t", Role::Consumer),
            ("p3", "u", Role::Producer),
        ] {
            r.record(hb(id, topic, role));
        }
        let ids: Vec<_> = r
            .live_of("t", Role::Producer)
            .into_iter()
            .map(|h| h.client_id)
            .collect();
        assert_eq!(ids, ["p1", "p2"]);
        assert!(r.live_of("v", Role::Producer).is_empty());
        assert_eq!(r.groups_of("t", Role::Consumer), ["g"]);
        assert!(r.groups_of("u", Role::Consumer).is_empty());
    }
}
