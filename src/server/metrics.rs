//! The server's own counters: requests answered by route and status, and heartbeats received (`GET /metrics`
//! shows them, see [`crate::server::views::prometheus`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// Counters the server keeps about itself.
#[derive(Default)]
pub(crate) struct Metrics {
    // Route → status → count. A request takes the read lock and bumps an atomic; the write lock (and the route's
    // one allocation) is taken only the first time a route answers a status.
    requests: RwLock<HashMap<Box<str>, HashMap<u16, AtomicU64>>>,
    heartbeats: AtomicU64,
}

impl Metrics {
    /// `route` answered `status`.
    pub(crate) fn request(&self, route: &str, status: u16) {
        if let Some(n) = self.requests.read().get(route).and_then(|s| s.get(&status)) {
            n.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.requests
            .write()
            .entry(route.into())
            .or_default()
            .entry(status)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Every (route, status) count, sorted.
    pub(crate) fn requests(&self) -> BTreeMap<(String, u16), u64> {
        let mut out = BTreeMap::new();
        for (route, statuses) in self.requests.read().iter() {
            for (status, n) in statuses {
                out.insert((route.to_string(), *status), n.load(Ordering::Relaxed));
            }
        }
        out
    }

    /// A heartbeat arrived.
    pub(crate) fn heartbeat(&self) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
    }

    /// Heartbeats received since the server started.
    pub(crate) fn heartbeats(&self) -> u64 {
        self.heartbeats.load(Ordering::Relaxed)
    }
}
