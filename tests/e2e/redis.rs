//! The Redis deduplicator against a real `redis-server` (started per test) and the embedded brokers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::Commands;
use rocketmq_client_rust::{DefaultMQProducer, MQPushConsumer};
use rocketmq_migration::dedupe::{
    Begin, Deduplicator, KeyExtractor, RedisDeduplicator, RedisDeduplicatorConfig,
    RedisFailurePolicy, UniqKey,
};
use rocketmq_migration::testkit::{unique_name, ClusterPair};
use rocketmq_migration::{Cluster, MigratingPushConsumer, Phase, PhaseHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_client_id_setter::MessageClientIDSetter;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;

use crate::support::clients::message;
use crate::support::listener::Recorder;
use crate::support::redis::RedisServer;
use crate::support::{self, eventually};

fn dedupe(server: &RedisServer, app: &str, policy: RedisFailurePolicy) -> Arc<RedisDeduplicator> {
    let mut c = RedisDeduplicatorConfig::new(server.url(), app, policy);
    // Short enough that a stopped server is noticed quickly, long enough for a loaded 2-core CI machine.
    c.connect_timeout = Duration::from_secs(1);
    c.io_timeout = Duration::from_secs(1);
    c.reconnect_backoff = Duration::from_millis(200);
    Arc::new(RedisDeduplicator::new(c).expect("valid redis dedupe config"))
}

/// Poll `cond` every 50 ms until it holds or `limit` passes (for the tests that run without the brokers).
fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn redis_store_semantics_across_two_instances() {
    let server = RedisServer::start();
    let mut redis = server.connection();
    let app = unique_name("app");
    let (a, b) = (
        dedupe(&server, &app, RedisFailurePolicy::FailClosed),
        dedupe(&server, &app, RedisFailurePolicy::FailClosed),
    );
    let key = format!("rmq-dedupe:{app}:Orders:k1");
    assert_eq!(a.redis_key("Orders", "k1"), key);

    // A claim is visible to the other instance (another connection, as another process would have).
    assert_eq!(a.begin("Orders", "k1"), Begin::Proceed);
    assert_eq!(b.begin("Orders", "k1"), Begin::InFlight);
    assert_eq!(a.begin("Orders", "k1"), Begin::InFlight);
    let v: String = redis.get(&key).unwrap();
    assert!(v.starts_with("consuming:"), "{v}");
    let pttl: i64 = redis.pttl(&key).unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "consuming ttl 60 s: {pttl}");

    // Another instance's abort leaves the claim alone; the owner's abort releases it.
    b.abort("Orders", "k1");
    assert!(
        redis.exists::<_, bool>(&key).unwrap(),
        "b's abort kept a's claim"
    );
    assert_eq!(b.begin("Orders", "k1"), Begin::InFlight);
    a.abort("Orders", "k1");
    assert!(
        !redis.exists::<_, bool>(&key).unwrap(),
        "a's abort released it"
    );

    // Consumed by b: a duplicate for both, with the long TTL, and no abort erases it.
    assert_eq!(b.begin("Orders", "k1"), Begin::Proceed);
    b.commit("Orders", "k1");
    assert_eq!(redis.get::<_, String>(&key).unwrap(), "consumed");
    let pttl: i64 = redis.pttl(&key).unwrap();
    assert!(
        pttl > 60_000 && pttl <= 3_600_000,
        "consumed ttl 1 h: {pttl}"
    );
    assert_eq!(a.begin("Orders", "k1"), Begin::Duplicate);
    assert_eq!(b.begin("Orders", "k1"), Begin::Duplicate);
    a.abort("Orders", "k1");
    b.abort("Orders", "k1");
    assert_eq!(redis.get::<_, String>(&key).unwrap(), "consumed");
    assert_eq!(a.begin("Orders", "k1"), Begin::Duplicate);

    // Scoped by topic and by application.
    assert_eq!(a.begin("Payments", "k1"), Begin::Proceed);
    assert!(redis
        .exists::<_, bool>(format!("rmq-dedupe:{app}:Payments:k1"))
        .unwrap());
    let other = dedupe(&server, &unique_name("other"), RedisFailurePolicy::FailOpen);
    assert_eq!(other.begin("Orders", "k1"), Begin::Proceed);

    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(
        (sa.claimed, sa.duplicates, sa.in_flight),
        (2, 2, 1),
        "{sa:?}"
    );
    assert_eq!(
        (sb.claimed, sb.duplicates, sb.in_flight),
        (1, 1, 2),
        "{sb:?}"
    );
    assert_eq!(sa.store_errors + sb.store_errors, 0, "{sa:?} {sb:?}");
    assert_eq!(sa.connections_opened, 1, "one connection reused: {sa:?}");
}

#[test]
fn redis_consuming_and_consumed_marks_expire() {
    let server = RedisServer::start();
    let app = unique_name("app");
    let short = |policy| {
        let mut c = RedisDeduplicatorConfig::new(server.url(), &app, policy);
        c.consuming_ttl = Duration::from_millis(300);
        c.consumed_ttl = Duration::from_millis(1500);
        RedisDeduplicator::new(c).unwrap()
    };
    let (a, b) = (
        short(RedisFailurePolicy::FailClosed),
        short(RedisFailurePolicy::FailClosed),
    );
    let mut redis = server.connection();
    let key = format!("rmq-dedupe:{app}:T:k");

    // A claim whose consumer never returns is taken over by another instance after consuming_ttl.
    assert_eq!(a.begin("T", "k"), Begin::Proceed);
    assert_eq!(b.begin("T", "k"), Begin::InFlight);
    assert!(wait_until(Duration::from_secs(10), || b.begin("T", "k")
        == Begin::Proceed));
    // The late owner's abort does not release b's claim.
    a.abort("T", "k");
    assert_eq!(a.begin("T", "k"), Begin::InFlight);
    b.commit("T", "k");
    let pttl: i64 = redis.pttl(&key).unwrap();
    assert!(pttl > 300 && pttl <= 1500, "consumed ttl: {pttl}");
    assert_eq!(a.begin("T", "k"), Begin::Duplicate);
    // The consumed mark is forgotten after consumed_ttl.
    assert!(wait_until(Duration::from_secs(10), || !redis
        .exists::<_, bool>(&key)
        .unwrap()));
    assert_eq!(a.begin("T", "k"), Begin::Proceed);
}

#[test]
fn redis_stopped_and_restarted_under_both_policies_store_level() {
    let mut server = RedisServer::start();
    let app = unique_name("app");
    let open = dedupe(&server, &app, RedisFailurePolicy::FailOpen);
    let closed = dedupe(&server, &app, RedisFailurePolicy::FailClosed);
    assert_eq!(open.begin("T", "before"), Begin::Proceed);
    open.commit("T", "before");
    assert_eq!(closed.begin("T", "before"), Begin::Duplicate);

    server.stop();
    assert_eq!(
        open.begin("T", "down"),
        Begin::Proceed,
        "fail-open consumes"
    );
    open.commit("T", "down");
    open.abort("T", "down");
    assert_eq!(
        closed.begin("T", "down"),
        Begin::Unavailable,
        "fail-closed retries later"
    );
    let (so, sc) = (open.stats(), closed.stats());
    assert_eq!(
        (so.failed_open, so.commit_errors, so.abort_errors),
        (1, 1, 1),
        "{so:?}"
    );
    assert_eq!(so.store_errors, 3, "{so:?}");
    assert_eq!((sc.failed_closed, sc.store_errors), (1, 1), "{sc:?}");

    // Back on the same port (empty): both reconnect on their own.
    server.restart();
    assert!(wait_until(Duration::from_secs(10), || closed
        .begin("T", "up")
        == Begin::Proceed));
    // (Within `reconnect_backoff` of its last failed connect the fail-open one still answers Proceed unclaimed.)
    assert!(wait_until(Duration::from_secs(10), || open
        .begin("T", "up")
        == Begin::InFlight));
    closed.commit("T", "up");
    assert_eq!(open.begin("T", "up"), Begin::Duplicate);

    // Restarted while idle: the pooled connections are stale; the next call notices and reconnects at once.
    let failed = closed.stats().failed_closed;
    server.restart();
    assert_eq!(closed.begin("T", "idle"), Begin::Proceed);
    assert_eq!(closed.stats().failed_closed, failed, "{:?}", closed.stats());
    assert!(open.stats().connections_opened >= 2, "{:?}", open.stats());
    assert!(
        closed.stats().connections_opened >= 2,
        "{:?}",
        closed.stats()
    );
}

/// Records which consumer instance saw a copy of which key, from which broker and queue, before dedupe.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Sighting>>>);

/// One copy of a message reaching a consumer instance.
struct Sighting {
    instance: usize,
    broker: String,
    queue: i32,
    key: String,
}

impl Seen {
    fn extractor(&self, instance: usize) -> Arc<dyn KeyExtractor> {
        let seen = self.clone();
        Arc::new(move |m: &MessageExt| {
            let key = UniqKey.key(m);
            if let Some(k) = &key {
                seen.0.lock().push(Sighting {
                    instance,
                    broker: m.broker_name.to_string(),
                    queue: m.queue_id,
                    key: k.clone(),
                });
            }
            key
        })
    }
}

async fn redis_consumer(
    pair: &ClusterPair,
    phases: &PhaseHandle,
    group: &str,
    topic: &str,
    rec: &Recorder,
    dedupe: Arc<RedisDeduplicator>,
    key: Option<Arc<dyn KeyExtractor>>,
) -> MigratingPushConsumer {
    let mut b = MigratingPushConsumer::builder(support::client())
        .consumer_group(group)
        .source(pair.source.cluster_config())
        .target(pair.target.cluster_config())
        .phases(phases.clone())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .deduplicator(dedupe);
    if let Some(k) = key {
        b = b.key_extractor(k);
    }
    let mut c = b.build().expect("consumer build");
    c.subscribe(topic, "*").await.expect("subscribe");
    c.register_message_listener_concurrently(rec.listener());
    c.start().await.expect("consumer start");
    c
}

/// One raw producer per cluster, so the same message (same UNIQ_KEY) can be stored on both.
struct RawPair(Vec<DefaultMQProducer>);

impl RawPair {
    async fn start(pair: &ClusterPair) -> RawPair {
        let mut v = Vec::new();
        for side in Cluster::BOTH {
            let mut p = DefaultMQProducer::builder(support::client())
                .producer_group(unique_name("redis_pg"))
                .name_server_addr(pair.cluster(side).name_server_addr().to_owned())
                .build();
            p.start().await.expect("raw producer start");
            v.push(p);
        }
        RawPair(v)
    }

    /// A message with a preset UNIQ_KEY, and the key.
    fn keyed(topic: &str, body: &str) -> (Message, String) {
        let mut msg = message(topic, body);
        MessageClientIDSetter::set_uniq_id(&mut msg);
        let key = MessageClientIDSetter::get_uniq_id(&msg)
            .unwrap()
            .to_string();
        (msg, key)
    }

    /// Store `msg` on `side`, on queue `queue` when given.
    async fn send(&self, pair: &ClusterPair, side: Cluster, msg: &Message, queue: Option<i32>) {
        let p = &self.0[side.index()];
        let r = match queue {
            Some(q) => {
                let mq = MessageQueue::from_parts(
                    msg.topic().clone(),
                    pair.cluster(side).broker_name(),
                    q,
                );
                p.send_to_queue_with_timeout(msg.clone(), mq, 5000).await
            }
            None => p.send_with_timeout(msg.clone(), 5000).await,
        };
        r.expect("send").expect("send result");
    }

    async fn shutdown(self) {
        for mut p in self.0 {
            p.shutdown().await;
        }
    }
}

async fn dual_read_topic(pair: &ClusterPair, prefix: &str) -> (String, PhaseHandle) {
    let topic = unique_name(prefix);
    pair.create_topic(&support::client(), &topic, 4)
        .await
        .expect("topic");
    let phases = PhaseHandle::new();
    phases.set_phase(&topic, Phase::DualRead).unwrap();
    (topic, phases)
}

#[test]
fn redis_dedupe_is_shared_by_two_instances_of_one_group() {
    let server = RedisServer::start();
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let (topic, phases) = dual_read_topic(pair, "RedisShared").await;
        let group = unique_name("redis_shared_cg");
        let app = unique_name("app");
        let seen = Seen::default();
        let recs = [Recorder::default(), Recorder::default()];
        // Two instances of one group, each with its own deduplicator (own connections, own token).
        let stores = [
            dedupe(&server, &app, RedisFailurePolicy::FailClosed),
            dedupe(&server, &app, RedisFailurePolicy::FailClosed),
        ];
        let mut consumers = Vec::new();
        for i in 0..2 {
            let c = redis_consumer(
                pair,
                &phases,
                &group,
                &topic,
                &recs[i],
                stores[i].clone(),
                Some(seen.extractor(i)),
            )
            .await;
            consumers.push(c);
        }
        let raw = RawPair::start(pair).await;

        // Probe every queue of both clusters until both instances own queues on both clusters (rebalanced).
        let mut owner: HashMap<(String, i32), usize> = HashMap::new();
        let settled = 'probe: {
            for round in 0..30 {
                let mut probes = HashSet::new();
                for side in Cluster::BOTH {
                    for q in 0..4 {
                        let (msg, key) = RawPair::keyed(&topic, &format!("probe {round}"));
                        raw.send(pair, side, &msg, Some(q)).await;
                        probes.insert(key);
                    }
                }
                let all = eventually(Duration::from_secs(30), || {
                    let s = seen.0.lock();
                    probes.iter().all(|k| s.iter().any(|e| &e.key == k))
                })
                .await;
                assert!(all, "probes delivered");
                owner = seen
                    .0
                    .lock()
                    .iter()
                    .filter(|e| probes.contains(&e.key))
                    .map(|e| ((e.broker.clone(), e.queue), e.instance))
                    .collect();
                let both_own = |side: Cluster| {
                    let broker = pair.cluster(side).broker_name();
                    (0..2).all(|i| {
                        owner
                            .iter()
                            .any(|((b, _), o)| b.as_str() == broker && *o == i)
                    })
                };
                if both_own(Cluster::Source) && both_own(Cluster::Target) {
                    break 'probe true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            false
        };
        assert!(
            settled,
            "both instances own queues on both clusters: {owner:?}"
        );
        let queue_of = |side: Cluster, instance: usize| {
            let broker = pair.cluster(side).broker_name();
            owner
                .iter()
                .find(|((b, _), o)| b.as_str() == broker && **o == instance)
                .map(|((_, q), _)| *q)
                .unwrap()
        };

        // Each message is stored on both clusters; its source copy goes to a queue of one instance and its
        // target copy to a queue of the other. Source copies first (consumed and committed), then target copies.
        const N: usize = 20;
        let mut msgs = Vec::new();
        for i in 0..N {
            let (msg, key) = RawPair::keyed(&topic, &format!("shared {i}"));
            raw.send(
                pair,
                Cluster::Source,
                &msg,
                Some(queue_of(Cluster::Source, i % 2)),
            )
            .await;
            msgs.push((msg, key));
        }
        let keys: Vec<String> = msgs.iter().map(|(_, k)| k.clone()).collect();
        let delivered = eventually(Duration::from_secs(60), || {
            keys.iter().all(|k| recs[0].has(k) || recs[1].has(k))
        })
        .await;
        assert!(delivered, "source copies consumed");
        let mut redis = server.connection();
        let committed = eventually(Duration::from_secs(30), || {
            keys.iter().all(|k| {
                redis
                    .get::<_, Option<String>>(format!("rmq-dedupe:{app}:{topic}:{k}"))
                    .unwrap()
                    .as_deref()
                    == Some("consumed")
            })
        })
        .await;
        assert!(committed, "every key is marked consumed in Redis");
        let dups_before: u64 = stores.iter().map(|s| s.stats().duplicates).sum();

        for (i, (msg, _)) in msgs.iter().enumerate() {
            raw.send(
                pair,
                Cluster::Target,
                msg,
                Some(queue_of(Cluster::Target, (i + 1) % 2)),
            )
            .await;
        }
        let suppressed = eventually(Duration::from_secs(60), || {
            stores.iter().map(|s| s.stats().duplicates).sum::<u64>() - dups_before >= N as u64
        })
        .await;
        assert!(
            suppressed,
            "target copies suppressed: {:?} {:?}",
            stores[0].stats(),
            stores[1].stats()
        );

        // Every message reached the listeners exactly once in total.
        for k in &keys {
            let n = recs
                .iter()
                .map(|r| r.0.lock().seen.get(k).map_or(0, |e| e.0))
                .sum::<usize>();
            assert_eq!(n, 1, "key {k} reached the listeners {n} times");
        }
        // And the copies really met on different instances: the instance that consumed a key is not the one
        // that got its target copy.
        let target_broker = pair.target.broker_name().to_owned();
        let crossed =
            keys.iter()
                .filter(|k| {
                    let consumer = (0..2).find(|&i| recs[i].has(k)).unwrap();
                    seen.0.lock().iter().any(|e| {
                        &e.key == *k && e.broker == target_broker && e.instance != consumer
                    })
                })
                .count();
        assert!(crossed > 0, "no copy met another instance: {owner:?}");
        for s in &stores {
            assert_eq!(s.stats().store_errors, 0, "{:?}", s.stats());
        }
        eprintln!(
            "redis shared: {crossed} of {N} keys suppressed on the other instance; stores {:?} / {:?}",
            stores[0].stats(),
            stores[1].stats()
        );
        raw.shutdown().await;
        for mut c in consumers {
            c.shutdown().await;
        }
    });
}

/// Start a consumer on a DualRead topic with a Redis deduplicator of `policy`, and check one message goes
/// through while Redis is up (so a pooled connection exists when Redis is stopped).
async fn warm_consumer(
    server: &RedisServer,
    policy: RedisFailurePolicy,
    prefix: &str,
) -> (
    String,
    MigratingPushConsumer,
    Recorder,
    Arc<RedisDeduplicator>,
    RawPair,
) {
    let pair = &support::shared().pair;
    let (topic, phases) = dual_read_topic(pair, prefix).await;
    let rec = Recorder::default();
    let store = dedupe(server, &unique_name("app"), policy);
    let c = redis_consumer(
        pair,
        &phases,
        &unique_name("redis_cg"),
        &topic,
        &rec,
        store.clone(),
        None,
    )
    .await;
    let raw = RawPair::start(pair).await;
    let (msg, key) = RawPair::keyed(&topic, "warm-up");
    raw.send(pair, Cluster::Source, &msg, None).await;
    let ok = eventually(Duration::from_secs(60), || rec.has(&key)).await;
    assert!(ok, "warm-up message consumed while Redis is up");
    assert!(store.stats().claimed >= 1, "{:?}", store.stats());
    (topic, c, rec, store, raw)
}

#[test]
fn redis_stopped_mid_test_fail_open_keeps_consuming() {
    let mut server = RedisServer::start();
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let (topic, mut c, rec, store, raw) =
            warm_consumer(&server, RedisFailurePolicy::FailOpen, "RedisFailOpen").await;

        server.stop();
        const N: usize = 10;
        let mut down = Vec::new();
        for i in 0..N {
            let (msg, key) = RawPair::keyed(&topic, &format!("down {i}"));
            raw.send(pair, Cluster::Source, &msg, None).await;
            down.push(key);
        }
        let all = eventually(Duration::from_secs(60), || down.iter().all(|k| rec.has(k))).await;
        assert!(
            all,
            "consumed while Redis is down: {:?} {:?}",
            c.stats(),
            store.stats()
        );
        let s = store.stats();
        assert!(s.failed_open >= N as u64, "{s:?}");
        assert!(s.store_errors >= N as u64, "{s:?}");
        assert_eq!(c.stats().store_unavailable, 0, "{:?}", c.stats());
        let opened_while_down = s.connections_opened;

        // Back up: dedupe works again (same message on both clusters reaches the listener once).
        server.restart();
        // Within its reconnect backoff the store still fails open; wait until it claims keys in Redis again.
        let mut probe = 0;
        let back = eventually(Duration::from_secs(30), || {
            probe += 1;
            let before = store.stats().claimed;
            store.begin("RedisProbe", &format!("probe-{probe}"));
            store.stats().claimed > before
        })
        .await;
        assert!(back, "claims again after the restart: {:?}", store.stats());
        let mut up = Vec::new();
        for i in 0..N {
            let (msg, key) = RawPair::keyed(&topic, &format!("up {i}"));
            raw.send(pair, Cluster::Source, &msg, None).await;
            up.push((msg, key));
        }
        let all = eventually(Duration::from_secs(60), || {
            up.iter().all(|(_, k)| rec.has(k))
        })
        .await;
        assert!(all, "consumed after Redis is back: {:?}", store.stats());
        let dups_before = store.stats().duplicates;
        for (msg, _) in &up {
            raw.send(pair, Cluster::Target, msg, None).await;
        }
        let suppressed = eventually(Duration::from_secs(60), || {
            store.stats().duplicates - dups_before >= N as u64
        })
        .await;
        assert!(suppressed, "target copies suppressed: {:?}", store.stats());
        assert!(
            store.stats().connections_opened > opened_while_down,
            "{:?}",
            store.stats()
        );
        assert!(rec.duplicates().is_empty(), "{:?}", rec.duplicates());
        assert_eq!(
            rec.count(),
            1 + 2 * N,
            "warm-up, down and up keys, each once"
        );
        raw.shutdown().await;
        c.shutdown().await;
    });
}

#[test]
fn redis_stopped_mid_test_fail_closed_delivers_nothing_until_it_is_back() {
    let mut server = RedisServer::start();
    support::run(Duration::from_secs(300), async {
        let pair = &support::shared().pair;
        let (topic, mut c, rec, store, raw) =
            warm_consumer(&server, RedisFailurePolicy::FailClosed, "RedisFailClosed").await;

        server.stop();
        let down_at = Instant::now();
        const N: usize = 10;
        let mut msgs = Vec::new();
        for i in 0..N {
            let (msg, key) = RawPair::keyed(&topic, &format!("closed {i}"));
            raw.send(pair, Cluster::Source, &msg, None).await;
            msgs.push((msg, key));
        }
        let refused = eventually(Duration::from_secs(60), || {
            c.stats().store_unavailable >= N as u64
        })
        .await;
        assert!(
            refused,
            "deliveries refused: {:?} {:?}",
            c.stats(),
            store.stats()
        );
        assert_eq!(
            rec.count(),
            1,
            "nothing but the warm-up reached the listener while Redis is down"
        );
        assert!(
            store.stats().failed_closed >= N as u64,
            "{:?}",
            store.stats()
        );

        server.restart();
        let up_at = Instant::now();
        let all = eventually(Duration::from_secs(120), || {
            msgs.iter().all(|(_, k)| rec.has(k))
        })
        .await;
        assert!(
            all,
            "every message delivered after Redis is back: {:?} {:?}",
            c.stats(),
            store.stats()
        );
        eprintln!(
            "redis fail-closed: down {:?}, all delivered {:?} after restart",
            up_at - down_at,
            up_at.elapsed()
        );
        // The same messages on the other cluster are duplicates now; none reaches the listener twice.
        let dups_before = store.stats().duplicates;
        for (msg, _) in &msgs {
            raw.send(pair, Cluster::Target, msg, None).await;
        }
        let suppressed = eventually(Duration::from_secs(60), || {
            store.stats().duplicates - dups_before >= N as u64
        })
        .await;
        assert!(suppressed, "target copies suppressed: {:?}", store.stats());
        assert!(rec.duplicates().is_empty(), "{:?}", rec.duplicates());
        assert_eq!(rec.count(), 1 + N);
        assert!(
            rec.0.lock().redelivered >= N,
            "the refused deliveries came back as retries"
        );
        raw.shutdown().await;
        c.shutdown().await;
    });
}
