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

/// Heartbeats by client id. A client is live while its heartbeats arrive within the TTL.
pub(crate) struct Registry {
    ttl: Duration,
    clients: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    pub(crate) fn new(ttl: Duration) -> Self {
        Registry {
            ttl,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long a client stays live after its last heartbeat.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Record a heartbeat; returns whether the client is new.
    pub(crate) fn record(&self, heartbeat: Heartbeat) -> bool {
        let mut clients = self.clients.lock();
        let forget = self.ttl * FORGET_AFTER_TTLS;
        clients.retain(|_, e| e.seen.elapsed() < forget);
        clients
            .insert(
                heartbeat.client_id.clone(),
                Entry {
                    heartbeat,
                    seen: Instant::now(),
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
        if clients.len() < max || clients.contains_key(client_id) {
            return true;
        }
        clients.retain(|_, e| e.seen.elapsed() <= self.ttl);
        clients.len() < max
    }

    /// Every known client, live or not, sorted by id.
    pub(crate) fn views(&self) -> Vec<ClientView> {
        let clients = self.clients.lock();
        let mut v: Vec<ClientView> = clients
            .values()
            .map(|e| ClientView {
                heartbeat: e.heartbeat.clone(),
                live: e.seen.elapsed() <= self.ttl,
                last_seen_ms: e.seen.elapsed().as_millis() as u64,
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
            .values()
            .flat_map(|e| e.heartbeat.broker_clients.on(cluster).iter().cloned())
            .collect()
    }

    /// Live clients of `role` that send to or subscribe to `topic`.
    pub(crate) fn live_of(&self, topic: &str, role: Role) -> Vec<Heartbeat> {
        self.views()
            .into_iter()
            .filter(|v| v.live && v.heartbeat.role == role)
            .map(|v| v.heartbeat)
            .filter(|h| h.topics.iter().any(|t| t == topic))
            .collect()
    }
}
