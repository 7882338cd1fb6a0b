//! What the control plane observes of each topic on each cluster: the stored message count (sum of the queues' max
//! offsets), when it last changed, and since when it has been watched. The quiet-window gate reads this.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::admin::ClusterAdmin;
use crate::cluster::Cluster;

/// One topic on one cluster.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Observation {
    /// Messages ever stored; `None` when the topic does not exist there or the last sample failed.
    pub(crate) stored: Option<u64>,
    /// When `stored` last changed (or watching began).
    pub(crate) changed: Instant,
    /// When watching began (reset when a sample fails: a gap could hide writes).
    pub(crate) since: Instant,
}

impl Observation {
    /// How long the stored count has been seen unchanged.
    pub(crate) fn quiet_for(&self) -> Duration {
        self.changed.elapsed().min(self.since.elapsed())
    }
}

/// Observations by topic and cluster.
#[derive(Default)]
pub(crate) struct Traffic {
    seen: Mutex<HashMap<(String, Cluster), Observation>>,
}

impl Traffic {
    /// Record a successful sample.
    pub(crate) fn observe(&self, topic: &str, c: Cluster, stored: Option<u64>) {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        let e = seen.entry((topic.to_owned(), c)).or_insert(Observation {
            stored,
            changed: now,
            since: now,
        });
        if e.stored != stored {
            if e.stored.is_some() {
                tracing::debug!(topic, cluster = %c, from = ?e.stored, to = ?stored, "topic received messages");
            }
            e.stored = stored;
            e.changed = now;
        }
    }

    /// Read `topic`'s stored count on `c` through `admin` now and record it; a failed read is recorded as unknown
    /// and returned.
    pub(crate) async fn sample(
        &self,
        admin: &ClusterAdmin,
        topic: &str,
        c: Cluster,
    ) -> Result<(), String> {
        match admin.stored(topic).await {
            Ok(stored) => {
                self.observe(topic, c, stored);
                Ok(())
            }
            Err(e) => {
                self.unknown(topic, c);
                Err(e)
            }
        }
    }

    /// Record a failed sample: the quiet window starts over.
    pub(crate) fn unknown(&self, topic: &str, c: Cluster) {
        let now = Instant::now();
        self.seen.lock().insert(
            (topic.to_owned(), c),
            Observation {
                stored: None,
                changed: now,
                since: now,
            },
        );
    }

    /// The observation of `topic` on `c`, if any.
    pub(crate) fn get(&self, topic: &str, c: Cluster) -> Option<Observation> {
        self.seen.lock().get(&(topic.to_owned(), c)).copied()
    }
}
