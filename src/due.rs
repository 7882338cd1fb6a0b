//! What a cluster still owes a topic's consumer groups besides the topic's own backlog: the group's retry topic,
//! messages still waiting in the broker's schedule (delay levels, and the timer wheel for `delay_secs` /
//! `deliver_time_ms` sends), and the group's dead letters. The control plane's gates and the batch-release
//! `backlog` count these before a cluster leaves a topic's read set.
//!
//! How the schedule is counted (rocketmq-broker 1.0.0, as Apache RocketMQ): a message with a delay level is
//! stored in `SCHEDULE_TOPIC_XXXX`, queue `level - 1`, with its destination in the `REAL_TOPIC` property; the
//! broker's runtime stats give, per level, `scheduleMessageOffset_<level> = "<next offset to deliver>,<max
//! offset>"`. Every message between the two is still waiting; each is read (admin pull, no offset committed) and
//! counted for the topic when `REAL_TOPIC` is the topic, or for group `G` when `REAL_TOPIC` is `%RETRY%G` and
//! `RETRY_TOPIC` is the topic (a consumer's retry waiting out its delay). A level the broker has not served yet
//! (no entry in its stats) is read from its queue's first offset, and a message there counts unless its store
//! time plus the level's default delay has passed. Timer messages pass through
//! `rmq_sys_wheel_timer`, whose consume queue has no "delivered up to" offset: every message there is read and
//! those whose delivery time (`TIMER_OUT_MS`) is later than now minus [`TIMER_GRACE`] count. Reading stops
//! after [`SCAN_LIMIT`] messages per cluster; the count is then reported as incomplete, and the check fails.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cheetah_string::CheetahString;
use rocketmq_client_rust::{MQAdminReadExt, PullStatus};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::admin::{describe, ClusterAdmin};

/// The broker's schedule topic (delay levels).
pub(crate) const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// The broker's timer topic (`delay_secs`, `delay_millis`, `deliver_time_ms`).
pub(crate) const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// Runtime-stats key prefix of a delay level's `"<delivered offset>,<max offset>"`.
const LEVEL_KEY: &str = "scheduleMessageOffset_";
/// Messages read at most per cluster and count; beyond it the count is incomplete.
pub(crate) const SCAN_LIMIT: u64 = 100_000;
/// A timer message due less than this long ago may still be on its way to its topic.
pub(crate) const TIMER_GRACE: Duration = Duration::from_secs(10);
/// Messages per admin pull.
const PULL_BATCH: i32 = 32;

/// The retry topic of consumer group `group`.
pub(crate) fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

/// The dead-letter topic of consumer group `group`.
pub(crate) fn dlq_topic(group: &str) -> String {
    format!("%DLQ%{group}")
}

/// Messages still waiting in one cluster's schedule for one topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scheduled {
    /// Sent to the topic with a delay level or a delivery time, not delivered yet.
    pub(crate) topic: u64,
    /// Retries of the topic's messages waiting out their delay, per consumer group.
    pub(crate) retries: BTreeMap<String, u64>,
    /// The latest delivery time among the counted timer messages (ms since the epoch), when any.
    pub(crate) latest_timer_ms: Option<i64>,
    /// Why the count may be short (scan limit reached, a broker that did not answer); empty when exact.
    pub(crate) incomplete: Vec<String>,
}

impl Scheduled {
    /// Everything counted: the topic's own scheduled messages and every group's scheduled retries.
    pub(crate) fn total(&self) -> u64 {
        self.topic + self.retries.values().sum::<u64>()
    }

    /// Add another count into this one.
    fn add(&mut self, other: Scheduled) {
        self.topic += other.topic;
        for (g, n) in other.retries {
            *self.retries.entry(g).or_default() += n;
        }
        self.latest_timer_ms = self.latest_timer_ms.max(other.latest_timer_ms);
        self.incomplete.extend(other.incomplete);
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn property<'m>(m: &'m MessageExt, key: &str) -> Option<&'m str> {
    m.properties().get(key).map(|v| v.as_str())
}

/// Count `m` (read from the schedule or the timer) towards `topic` into `out`.
fn count_for(m: &MessageExt, topic: &str, out: &mut Scheduled) {
    let Some(real) = property(m, "REAL_TOPIC") else {
        return;
    };
    if real == topic {
        out.topic += 1;
    } else if let Some(group) = real.strip_prefix("%RETRY%") {
        if property(m, "RETRY_TOPIC") == Some(topic) {
            *out.retries.entry(group.to_owned()).or_default() += 1;
        }
    }
}

impl ClusterAdmin {
    /// Messages of `topic` (and retries of its messages, per group) still waiting in this cluster's schedule.
    pub(crate) async fn scheduled(&self, topic: &str) -> Result<Scheduled, String> {
        // Scheduled messages carry the cluster's full names in REAL_TOPIC / RETRY_TOPIC.
        let topic = &self.full(topic);
        let admin = self.client().await?;
        let mut out = Scheduled::default();
        let mut budget = SCAN_LIMIT;
        for (broker, addr) in self.masters_of(&admin, None).await? {
            let stats = MQAdminReadExt::fetch_broker_runtime_stats(&*admin, addr.clone())
                .await
                .map_err(|e| {
                    format!("read runtime stats of {broker} ({addr}): {}", describe(&e))
                })?;
            let mut levels: Vec<(i32, i64, i64)> = stats
                .table
                .iter()
                .filter_map(|(k, v)| {
                    let level: i32 = k.as_str().strip_prefix(LEVEL_KEY)?.parse().ok()?;
                    let (done, max) = v.as_str().split_once(',')?;
                    Some((level, done.trim().parse().ok()?, max.trim().parse().ok()?))
                })
                .filter(|(_, done, max)| done < max)
                .collect();
            // A level the broker has not served since it started has no entry yet (its first message was
            // written moments ago, or the broker restarted without its delay offsets): read such a queue from its
            // first offset and count what is not due yet by the default level delays.
            let listed: Vec<i32> = levels.iter().map(|(l, _, _)| *l).collect();
            for (level, min, max) in self.schedule_queues(&admin, &broker, &addr).await? {
                if listed.contains(&level) || min >= max {
                    continue;
                }
                let mq = MessageQueue::from_parts(SCHEDULE_TOPIC, broker.as_str(), level - 1);
                let due_after = now_ms() - TIMER_GRACE.as_millis() as i64;
                let wait = crate::linger::level_delay(level).as_millis() as i64;
                let mut found = Scheduled::default();
                let short = self
                    .scan(&admin, &addr, &mq, min..max, &mut budget, |m| {
                        if m.store_timestamp + wait > due_after {
                            count_for(m, topic, &mut found)
                        }
                    })
                    .await?;
                out.add(found);
                out.incomplete.extend(short);
            }
            levels.sort_unstable();
            for (level, done, max) in levels {
                let mq = MessageQueue::from_parts(SCHEDULE_TOPIC, broker.as_str(), level - 1);
                let mut found = Scheduled::default();
                let short = self
                    .scan(&admin, &addr, &mq, done..max, &mut budget, |m| {
                        count_for(m, topic, &mut found)
                    })
                    .await?;
                out.add(found);
                out.incomplete.extend(short);
            }
            self.scan_timer(&admin, &broker, &addr, topic, &mut budget, &mut out)
                .await?;
        }
        // Groups as the application names them.
        out.retries = std::mem::take(&mut out.retries)
            .into_iter()
            .map(|(g, n)| (self.short(&g).unwrap_or(g), n))
            .collect();
        Ok(out)
    }

    /// `(level, min offset, max offset)` of each schedule queue on one broker (none without the schedule topic).
    async fn schedule_queues(
        &self,
        admin: &rocketmq_client_rust::DefaultMQAdminExt,
        broker: &str,
        addr: &CheetahString,
    ) -> Result<Vec<(i32, i64, i64)>, String> {
        match rocketmq_client_rust::TopicAdmin::examine_topic_stats(
            admin,
            SCHEDULE_TOPIC.into(),
            Some(addr.clone()),
        )
        .await
        {
            Ok(t) => Ok(t
                .get_offset_table()
                .iter()
                .filter(|(mq, _)| mq.broker_name().as_str() == broker)
                .map(|(mq, o)| (mq.queue_id() + 1, o.get_min_offset(), o.get_max_offset()))
                .collect()),
            Err(e) if crate::admin::response_code(&e) == Some(crate::admin::TOPIC_NOT_EXIST) => {
                Ok(Vec::new())
            }
            Err(e) => Err(format!(
                "read offsets of {SCHEDULE_TOPIC} on {broker} ({addr}): {}",
                describe(&e)
            )),
        }
    }

    /// Timer messages of `topic` on one broker whose delivery time has not passed (less [`TIMER_GRACE`]).
    async fn scan_timer(
        &self,
        admin: &rocketmq_client_rust::DefaultMQAdminExt,
        broker: &str,
        addr: &CheetahString,
        topic: &str,
        budget: &mut u64,
        out: &mut Scheduled,
    ) -> Result<(), String> {
        let mq = MessageQueue::from_parts(TIMER_TOPIC, broker, 0);
        let (min, max) = match rocketmq_client_rust::TopicAdmin::examine_topic_stats(
            admin,
            TIMER_TOPIC.into(),
            Some(addr.clone()),
        )
        .await
        {
            Ok(t) => match t.get_offset_table().get(&mq) {
                Some(o) => (o.get_min_offset(), o.get_max_offset()),
                None => return Ok(()),
            },
            // A broker without the timer wheel has no timer topic: nothing can wait there.
            Err(e) if crate::admin::response_code(&e) == Some(crate::admin::TOPIC_NOT_EXIST) => {
                return Ok(())
            }
            Err(e) => {
                return Err(format!(
                    "read offsets of {TIMER_TOPIC} on {broker} ({addr}): {}",
                    describe(&e)
                ))
            }
        };
        if min >= max {
            return Ok(());
        }
        let due_after = now_ms() - TIMER_GRACE.as_millis() as i64;
        // A message rolled over the wheel is stored again: count each unique key once.
        let mut seen: HashSet<String> = HashSet::new();
        let mut found = Scheduled::default();
        let short = self
            .scan(admin, addr, &mq, min..max, budget, |m| {
                let due: Option<i64> = property(m, "TIMER_OUT_MS").and_then(|v| v.parse().ok());
                let Some(due) = due.filter(|d| *d > due_after) else {
                    return;
                };
                let key =
                    property(m, "UNIQ_KEY").map_or_else(|| m.msg_id.to_string(), str::to_owned);
                if !seen.insert(key) {
                    return;
                }
                let before = found.total();
                count_for(m, topic, &mut found);
                if found.total() > before {
                    found.latest_timer_ms = Some(found.latest_timer_ms.map_or(due, |l| l.max(due)));
                }
            })
            .await?;
        out.add(found);
        out.incomplete.extend(short);
        Ok(())
    }

    /// Read `mq`'s offsets `offsets` on `addr`, calling `each` per message, within `budget` messages. Returns why
    /// reading stopped short, if it did.
    pub(crate) async fn scan(
        &self,
        admin: &rocketmq_client_rust::DefaultMQAdminExt,
        addr: &CheetahString,
        mq: &MessageQueue,
        offsets: std::ops::Range<i64>,
        budget: &mut u64,
        mut each: impl FnMut(&MessageExt),
    ) -> Result<Option<String>, String> {
        let (mut offset, to) = (offsets.start, offsets.end);
        let at = |offset: i64| {
            format!(
                "{} queue {} on {} at offset {offset}",
                mq.topic(),
                mq.queue_id(),
                mq.broker_name()
            )
        };
        while offset < to {
            if *budget == 0 {
                return Ok(Some(format!(
                    "{}..{to} not read (limit of {SCAN_LIMIT} messages reached)",
                    at(offset)
                )));
            }
            let n = PULL_BATCH.min((to - offset) as i32).min(*budget as i32);
            let r = admin
                .pull_message_from_queue(addr.as_str(), mq, "*", offset, n, 5_000)
                .await
                .map_err(|e| format!("read {}: {}", at(offset), describe(&e)))?;
            match r.pull_status() {
                PullStatus::Found => {
                    let msgs = r.msg_found_list().unwrap_or_default();
                    for m in msgs.iter().filter(|m| m.queue_offset < to) {
                        each(m);
                    }
                    *budget = budget.saturating_sub(msgs.len() as u64);
                }
                // Offsets below the queue's minimum went with old commit-log files: go on from the minimum.
                PullStatus::OffsetIllegal => {}
                other => {
                    return Ok(Some(format!(
                        "{}: nothing readable (pull answered {other:?})",
                        at(offset)
                    )))
                }
            }
            let next = r.next_begin_offset() as i64;
            if next <= offset {
                return Ok(Some(format!(
                    "{}: the broker did not move past it",
                    at(offset)
                )));
            }
            offset = next;
        }
        Ok(None)
    }

    /// Unconsumed messages in `group`'s retry topic on this cluster (retries of every topic the group reads).
    pub(crate) async fn retry_backlog(&self, group: &str) -> Result<u64, String> {
        let topic = retry_topic(group);
        // A group that never failed a delivery here has no retry topic.
        if self.retained(&topic).await?.is_none() {
            return Ok(0);
        }
        self.backlog(group, &topic).await
    }

    /// Messages in `group`'s dead-letter topic on this cluster (0 when it has none).
    pub(crate) async fn dead_letters(&self, group: &str) -> Result<u64, String> {
        Ok(self.retained(&dlq_topic(group)).await?.unwrap_or(0))
    }
}
