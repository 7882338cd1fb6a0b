//! The monitoring feed: every `monitor_every`, one point of every topic into the monitoring store
//! ([`crate::server::monitor`]). What it feeds each step: per topic and cluster the stored count (from the traffic sampler),
//! the committed offsets and backlog of the topic's consumer groups (asked of the brokers), and the shim clients'
//! per-topic counters (from their heartbeats).
//!
//! Inputs that can go down are made monotonic here, so the store sees cumulative totals that only grow: a client's
//! counters drop when it restarts, and the sum over clients drops when one leaves, so each client's counters are
//! turned into increments (a drop counts as a restart from zero); a group's committed offsets start as a baseline
//! when the group is first seen (a group that joins late does not count everything it skipped as consumed now),
//! and a drop (an offset reset) starts a new baseline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cluster::Cluster;
use crate::control::wire::{ClusterCounters, Counters};
use crate::server::app::App;
use crate::server::monitor::{ClusterSample, TopicSample};
use crate::server::moves::gates::Gates;

/// Topics whose groups are asked about at once.
const CONCURRENCY: usize = 8;

/// Cumulative, only-growing totals of one topic.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    sent: [u64; 2],
    received: [u64; 2],
    consumed: [u64; 2],
    failed_over: u64,
    duplicates: u64,
}

/// The feed's memory between steps.
#[derive(Default)]
struct Feed {
    /// Last counters seen per (client id, topic).
    clients: HashMap<(String, String), Counters>,
    /// Last committed offset sum per (topic, cluster, group).
    offsets: HashMap<(String, Cluster, String), u64>,
    totals: HashMap<String, Totals>,
    /// Whether a step has run: the first step's totals hold everything the clients counted before this control
    /// plane started, so they are only a baseline; a topic that appears later counts from when it appeared.
    stepped: bool,
}

/// `now - before`, or `now` when the counter went down (its client restarted).
fn grown(now: u64, before: u64) -> u64 {
    if now >= before {
        now - before
    } else {
        now
    }
}

fn add_counters(t: &mut Totals, now: &Counters, before: &Counters) {
    let side = |c: &Counters, i: usize| -> ClusterCounters {
        if i == 0 {
            c.source
        } else {
            c.target
        }
    };
    for i in 0..2 {
        let (n, b) = (side(now, i), side(before, i));
        t.sent[i] += grown(n.sent, b.sent);
        t.received[i] += grown(n.received, b.received);
        t.failed_over += grown(n.failed_over, b.failed_over);
        t.duplicates += grown(n.duplicates_suppressed, b.duplicates_suppressed);
    }
}

/// One cluster's consumption of one topic: per group its committed offset sum, and the backlog over groups.
type Consumption = Result<(Vec<(String, u64)>, u64), String>;

async fn consumption(app: &App, topic: &str, c: Cluster) -> Consumption {
    let groups = Gates::of(app).groups_of(topic, c).await?;
    let mut per_group = Vec::with_capacity(groups.len());
    let mut backlog = 0;
    for g in groups {
        let (consumed, behind) = app.admin[c.index()].consumption(&g, topic).await?;
        per_group.push((g, consumed));
        backlog += behind;
    }
    Ok((per_group, backlog))
}

impl Feed {
    /// Observe everything for one step and record it into the app's monitoring store at `at`.
    async fn step(&mut self, app: &Arc<App>, at: SystemTime) {
        let table = app.state.table();
        let topics: Vec<String> = table.topics.keys().cloned().collect();

        // The shim clients' counters, as increments per topic.
        let views = app.registry.views();
        let known: HashSet<&str> = views
            .iter()
            .map(|v| v.heartbeat.client_id.as_str())
            .collect();
        self.clients
            .retain(|(id, _), _| known.contains(id.as_str()));
        for v in &views {
            for (topic, now) in &v.heartbeat.per_topic {
                let key = (v.heartbeat.client_id.clone(), topic.clone());
                let before = self.clients.get(&key).copied().unwrap_or_default();
                // A topic not (yet) in the table is followed too, so that once it is registered only what its
                // clients count from then on is added.
                if table.topics.contains_key(topic) {
                    add_counters(self.totals.entry(topic.clone()).or_default(), now, &before);
                }
                self.clients.insert(key, *now);
            }
        }

        // The consumer groups' offsets and backlog, CONCURRENCY topics at a time.
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        let mut asked = JoinSet::new();
        for topic in &topics {
            let (app, topic, limit) = (app.clone(), topic.clone(), limit.clone());
            asked.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let mut out = Vec::with_capacity(2);
                for c in Cluster::BOTH {
                    out.push((c, consumption(&app, &topic, c).await));
                }
                (topic, out)
            });
        }
        let mut observed: HashMap<String, Vec<(Cluster, Consumption)>> = HashMap::new();
        while let Some(r) = asked.join_next().await {
            if let Ok((topic, out)) = r {
                observed.insert(topic, out);
            }
        }

        let mut samples = Vec::with_capacity(topics.len());
        for topic in &topics {
            let mut clusters = [ClusterSample::default(); 2];
            let mut known_consumption = [false; 2];
            let mut backlog = [None; 2];
            for (c, r) in observed.remove(topic).unwrap_or_default() {
                match r {
                    Ok((groups, behind)) => {
                        let totals = self.totals.entry(topic.clone()).or_default();
                        for (g, now) in groups {
                            let key = (topic.clone(), c, g);
                            if let Some(before) = self.offsets.insert(key, now) {
                                if now >= before {
                                    totals.consumed[c.index()] += now - before;
                                }
                            }
                        }
                        known_consumption[c.index()] = true;
                        backlog[c.index()] = Some(behind);
                    }
                    Err(e) => {
                        tracing::debug!(topic, cluster = %c, error = %e, "monitor: consumption not read")
                    }
                }
            }
            let t = self.totals.get(topic).copied().unwrap_or_default();
            for c in Cluster::BOTH {
                let i = c.index();
                clusters[i] = ClusterSample {
                    stored: app.traffic.get(topic, c).and_then(|o| o.stored),
                    consumed: known_consumption[i].then_some(t.consumed[i]),
                    backlog: backlog[i],
                    sent: t.sent[i],
                    received: t.received[i],
                };
            }
            samples.push((
                topic.clone(),
                TopicSample {
                    source: clusters[0],
                    target: clusters[1],
                    failed_over: t.failed_over,
                    duplicates: t.duplicates,
                },
            ));
        }

        let keep: HashSet<&str> = topics.iter().map(String::as_str).collect();
        self.totals.retain(|t, _| keep.contains(t.as_str()));
        self.offsets
            .retain(|(t, _, _), _| keep.contains(t.as_str()));
        let mut store = app.monitor.lock();
        for (topic, sample) in samples {
            if self.stepped {
                store.record_counted(at, &topic, sample);
            } else {
                store.record(at, &topic, sample);
            }
        }
        self.stepped = true;
        store.end_tick(at);
        store.retain(|t| keep.contains(t));
    }
}

/// Take a monitoring point of every topic every `monitor_every`, until the app is dropped.
pub(crate) fn spawn(app: &Arc<App>) -> tokio::task::JoinHandle<()> {
    let every = app.monitor_every;
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut feed = Feed::default();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(app) = app.upgrade() else { return };
            feed.step(&app, SystemTime::now()).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_counter_that_drops_counts_as_a_restart() {
        assert_eq!(grown(10, 4), 6);
        assert_eq!(grown(3, 10), 3);
        let mut t = Totals::default();
        let c = |sent| Counters {
            source: ClusterCounters {
                sent,
                ..Default::default()
            },
            ..Default::default()
        };
        add_counters(&mut t, &c(5), &c(0));
        add_counters(&mut t, &c(8), &c(5));
        add_counters(&mut t, &c(2), &c(8));
        assert_eq!(t.sent, [10, 0]);
    }
}
