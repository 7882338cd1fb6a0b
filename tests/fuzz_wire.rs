#![recursion_limit = "512"]
//! Fuzzing the wire documents, and the control plane's input limits over HTTP.
//!
//! * Every document the server parses (register, move, batch, ratio, orderly, dlq review, heartbeat, task create,
//!   advance, pause, metadata) goes through `server::limits::parse`, the server's JSON-then-limits reading: valid
//!   documents are accepted and round-trip; arbitrary bytes, arbitrary JSON and mutated valid documents never
//!   panic, and whatever is accepted is within the limits (checked here independently).
//! * Every document the client parses (the phase table, which the poller then applies with
//!   `PhaseHandle::apply_table`, and the admin API's answers) never panics and round-trips when valid.
//! * Random bodies, paths and query strings to a real control plane on loopback (clusters unreachable on purpose,
//!   no broker started): every answer is a 2xx or a 4xx JSON error, never a 5xx or a dropped connection.
//!
//! Cases per property: proptest's default of 256, or `PROPTEST_CASES`; the HTTP property runs a quarter of them.

use std::io::{Read, Write};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use rocketmq_migration::control::wire::{
    AuditEntry, BatchMoveRequest, BatchMoveResult, ClientView, CreateTask, DlqReviewRequest,
    DlqReviewResult, EndpointsView, ErrorBody, GroupsView, Heartbeat, MetadataRequest, MonitorDoc,
    MoveRequest, MoveResult, OrderlyRequest, PauseRequest, PhasesDoc, RatioRequest, RegisterTopics,
    TaskAdvance, TaskView, TopicView,
};
use rocketmq_migration::control::Registered;
use rocketmq_migration::server::limits::{self, parse, Bounded};
use rocketmq_migration::server::{ControlServer, ServerConfig, Token};
use rocketmq_migration::{ClusterConfig, MigrationRuntime, PhaseHandle};

const TOKEN: &str = "fuzz-token";
const PHASES: [&str; 5] = [
    "initial",
    "dual_read",
    "dual_read_write",
    "cutting_over",
    "completed",
];
const STEPS: [&str; 5] = ["connect", "metadata", "endpoints", "grayscale", "completed"];
/// Field names of the wire documents, so that generated objects hit real fields.
const FIELDS: &[&str] = &[
    "topics",
    "topic",
    "expected",
    "force",
    "actor",
    "write_ratio",
    "orderly",
    "select",
    "phase",
    "ready",
    "mode",
    "client_id",
    "application",
    "role",
    "group",
    "applied",
    "version",
    "counters",
    "per_topic",
    "status",
    "status_reason",
    "pinned",
    "broker_clients",
    "namespaces",
    "source",
    "target",
    "name",
    "reason",
    "file",
    "groups",
    "dry_run",
    "overwrite",
    "sealed",
    "dlq_reviewed",
];

fn config() -> Config {
    // `Config::default()` reads PROPTEST_CASES (default 256); nothing is written into the source tree.
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- generators -------------------------------------------------------------------------------------------------

fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_|%-]{1,40}",
        "[a-z]{1,8}%[a-zA-Z0-9_-]{1,30}",
        "[A-Z]{127}",
    ]
}

fn phase() -> impl Strategy<Value = Value> {
    proptest::sample::select(&PHASES[..]).prop_map(Value::from)
}

fn ratio() -> impl Strategy<Value = Value> {
    (0u32..=100).prop_map(|k| Value::from(f64::from(k) / 100.0))
}

fn actor() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~]{0,40}")
}

/// `v` with `key` set to `value` when there is one.
fn with(mut v: Value, key: &str, value: Option<Value>) -> Value {
    if let Some(x) = value {
        v[key] = x;
    }
    v
}

fn counters() -> impl Strategy<Value = Value> {
    let side = proptest::array::uniform5(any::<u64>()).prop_map(|n| {
        json!({"sent": n[0], "received": n[1], "failed_over": n[2], "failed": n[3], "duplicates_suppressed": n[4]})
    });
    (side.clone(), side).prop_map(|(s, t)| json!({"source": s, "target": t}))
}

fn register() -> BoxedStrategy<Value> {
    (
        proptest::collection::vec(topic(), 1..20),
        proptest::option::of(ratio()),
        any::<bool>(),
        actor(),
    )
        .prop_map(|(topics, r, orderly, a)| {
            let v = json!({"topics": topics, "orderly": orderly});
            with(with(v, "write_ratio", r), "actor", a.map(Value::from))
        })
        .boxed()
}

fn move_request() -> BoxedStrategy<Value> {
    (phase(), any::<bool>(), actor())
        .prop_map(|(p, force, a)| {
            with(
                json!({"expected": p, "force": force}),
                "actor",
                a.map(Value::from),
            )
        })
        .boxed()
}

fn batch() -> BoxedStrategy<Value> {
    let listed = proptest::collection::vec((topic(), phase()), 1..20)
        .prop_map(|t| {
            let mut seen = std::collections::HashSet::new();
            let items: Vec<Value> = t
                .into_iter()
                .filter(|(n, _)| seen.insert(n.clone()))
                .map(|(n, p)| json!({"topic": n, "expected": p}))
                .collect();
            json!({ "topics": items })
        })
        .boxed();
    let select = (proptest::option::of(phase()), any::<bool>())
        .prop_map(|(p, ready)| json!({"select": with(json!({"ready": ready}), "phase", p)}))
        .boxed();
    (
        prop_oneof![listed, select],
        proptest::sample::select(&["each", "all_or_nothing"][..]),
        any::<bool>(),
        actor(),
    )
        .prop_map(|(mut v, mode, force, a)| {
            v["mode"] = mode.into();
            v["force"] = force.into();
            with(v, "actor", a.map(Value::from))
        })
        .boxed()
}

fn ratio_request() -> BoxedStrategy<Value> {
    (ratio(), actor())
        .prop_map(|(r, a)| with(json!({ "write_ratio": r }), "actor", a.map(Value::from)))
        .boxed()
}

fn orderly() -> BoxedStrategy<Value> {
    (any::<bool>(), actor())
        .prop_map(|(o, a)| with(json!({ "orderly": o }), "actor", a.map(Value::from)))
        .boxed()
}

fn actor_only() -> BoxedStrategy<Value> {
    actor()
        .prop_map(|a| with(json!({}), "actor", a.map(Value::from)))
        .boxed()
}

fn heartbeat() -> BoxedStrategy<Value> {
    (
        "[a-z]{1,10}@[a-z0-9.-]{1,20}/[0-9]{1,6}/(producer|consumer)-[0-9]",
        "[a-zA-Z0-9_-]{0,30}",
        proptest::sample::select(&["producer", "consumer"][..]),
        "[a-zA-Z0-9_%-]{1,40}",
        proptest::collection::btree_map(topic(), (phase(), any::<u64>(), counters()), 0..12),
        counters(),
        proptest::sample::select(&["fresh", "stale", "unauthorized"][..]),
        proptest::collection::vec("[0-9.]{7,15}@[a-zA-Z0-9_#-]{1,30}", 0..3),
        proptest::option::of("[a-z]{1,10}"),
    )
        .prop_map(
            |(id, app, role, group, topics, total, status, brokers, ns)| {
                let names: Vec<&String> = topics.keys().collect();
                let applied: serde_json::Map<String, Value> = topics
                    .iter()
                    .map(|(t, (p, v, _))| (t.clone(), json!({"phase": p, "version": v})))
                    .collect();
                let per_topic: serde_json::Map<String, Value> = topics
                    .iter()
                    .map(|(t, (_, _, c))| (t.clone(), c.clone()))
                    .collect();
                let mut v = json!({
                    "client_id": id, "application": app, "role": role, "group": group, "topics": names,
                    "applied": applied, "counters": total, "per_topic": per_topic, "status": status,
                    "broker_clients": {"source": brokers.clone(), "target": brokers},
                });
                if let Some(ns) = ns {
                    v["namespaces"] = json!({ "target": ns });
                }
                v
            },
        )
        .boxed()
}

fn create_task() -> BoxedStrategy<Value> {
    (
        "[a-zA-Z0-9 _-]{1,40}",
        "[ -~]{0,60}",
        "[ -~]{0,60}",
        actor(),
    )
        .prop_map(|(n, s, t, a)| {
            with(
                json!({"name": n, "source_description": s, "target_description": t}),
                "actor",
                a.map(Value::from),
            )
        })
        .boxed()
}

fn task_advance() -> BoxedStrategy<Value> {
    (proptest::sample::select(&STEPS[..]), any::<bool>(), actor())
        .prop_map(|(s, force, a)| {
            with(
                json!({"expected": s, "force": force}),
                "actor",
                a.map(Value::from),
            )
        })
        .boxed()
}

fn pause() -> BoxedStrategy<Value> {
    (proptest::option::of("[ -~]{0,80}"), actor())
        .prop_map(|(r, a)| {
            with(
                with(json!({}), "reason", r.map(Value::from)),
                "actor",
                a.map(Value::from),
            )
        })
        .boxed()
}

fn metadata() -> BoxedStrategy<Value> {
    (
        proptest::collection::vec(topic(), 0..10),
        proptest::collection::vec("[a-zA-Z0-9_%-]{1,40}", 0..10),
        any::<bool>(),
        any::<bool>(),
        actor(),
    )
        .prop_map(|(topics, groups, overwrite, dry_run, a)| {
            with(
                json!({"topics": topics, "groups": groups, "overwrite": overwrite, "dry_run": dry_run,
                    "file": {"topicConfigTable": {}, "subscriptionGroupTable": {}}}),
                "actor",
                a.map(Value::from),
            )
        })
        .boxed()
}

fn state() -> impl Strategy<Value = Value> {
    (phase(), ratio(), any::<u64>(), any::<bool>(), any::<bool>()).prop_map(
        |(p, r, v, o, s)| json!({"phase": p, "write_ratio": r, "version": v, "orderly": o, "sealed": s}),
    )
}

fn phases_doc() -> BoxedStrategy<Value> {
    (
        any::<u64>(),
        proptest::collection::btree_map(topic(), state(), 0..20),
        proptest::collection::btree_map(topic(), any::<u64>(), 0..4),
    )
        .prop_map(|(v, t, d)| json!({"version": v, "topics": t, "dlq_reviewed": d}))
        .boxed()
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Decimals of a few digits: serde_json reads them back exactly (a float of 17 digits may come back one
        // unit in the last place off without its `float_roundtrip` feature, which is not what is tested here).
        (-1_000_000_000i64..1_000_000_000).prop_map(|k| Value::from(k as f64 / 1000.0)),
        ".{0,20}".prop_map(Value::from),
        proptest::sample::select(&PHASES[..]).prop_map(Value::from),
        (1usize..600).prop_map(|n| Value::from("x".repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let key = prop_oneof![
            proptest::sample::select(FIELDS).prop_map(str::to_owned),
            "[a-z_]{1,12}"
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One change to a document: at the `at`-th node (pre-order), replace it, drop it, add a field, stretch a string,
/// or repeat an array's items past any count limit.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    AddField(usize, String, Value),
    Stretch(usize, usize),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, any_json()).prop_map(|(a, v)| Mutation::Replace(a, v)),
        at.prop_map(Mutation::Remove),
        (
            at,
            proptest::sample::select(FIELDS).prop_map(str::to_owned),
            any_json()
        )
            .prop_map(|(a, k, v)| Mutation::AddField(a, k, v)),
        (at, 1usize..400).prop_map(|(a, n)| Mutation::Stretch(a, n)),
        (at, prop_oneof![Just(2usize), Just(1_025), Just(1_100)])
            .prop_map(|(a, n)| Mutation::Repeat(a, n)),
    ]
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `i`-th node in pre-order.
fn node(v: &mut Value, i: usize) -> &mut Value {
    fn walk<'a>(v: &'a mut Value, i: &mut usize) -> Option<&'a mut Value> {
        if *i == 0 {
            return Some(v);
        }
        *i -= 1;
        match v {
            Value::Array(a) => a.iter_mut().find_map(|c| walk(c, i)),
            Value::Object(o) => o.values_mut().find_map(|c| walk(c, i)),
            _ => None,
        }
    }
    let mut i = i;
    walk(v, &mut i).expect("i < count_nodes")
}

fn mutate(mut v: Value, muts: &[Mutation]) -> Value {
    for m in muts {
        let n = count_nodes(&v);
        match m.clone() {
            Mutation::Replace(at, x) => *node(&mut v, at % n) = x,
            Mutation::Remove(at) => {
                // Drop a field or item of the node's parent: take the node's first child out.
                match node(&mut v, at % n) {
                    Value::Object(o) => {
                        if let Some(k) = o.keys().next().cloned() {
                            o.remove(&k);
                        }
                    }
                    Value::Array(a) if !a.is_empty() => {
                        a.remove(0);
                    }
                    other => *other = Value::Null,
                }
            }
            Mutation::AddField(at, k, x) => {
                if let Value::Object(o) = node(&mut v, at % n) {
                    o.insert(k, x);
                }
            }
            Mutation::Stretch(at, by) => {
                if let Value::String(s) = node(&mut v, at % n) {
                    let more = s.clone().repeat(by.min(4_000 / (s.len() + 1)) + 1);
                    s.push_str(&more);
                    s.push_str(". /é");
                }
            }
            Mutation::Repeat(at, times) => {
                if let Value::Array(a) = node(&mut v, at % n) {
                    if let Some(first) = a.first().cloned() {
                        a.resize(times, first);
                    }
                }
            }
        }
    }
    v
}

// ---- oracles ----------------------------------------------------------------------------------------------------

fn topic_ok(t: &str) -> bool {
    (1..=127).contains(&t.len())
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"%|_-".contains(&c))
}

/// What an accepted document must satisfy, checked here independently of `server::limits`.
trait Oracle {
    fn within_limits(&self) -> bool {
        true
    }
}

impl Oracle for RegisterTopics {
    fn within_limits(&self) -> bool {
        self.topics.len() <= limits::MAX_REGISTER && self.topics.iter().all(|t| topic_ok(t))
    }
}
impl Oracle for BatchMoveRequest {
    fn within_limits(&self) -> bool {
        self.topics.len() <= limits::MAX_BATCH_TOPICS
            && self.topics.iter().all(|t| topic_ok(&t.topic))
    }
}
impl Oracle for Heartbeat {
    fn within_limits(&self) -> bool {
        let chars = |s: &str| s.chars().count();
        !self.client_id.trim().is_empty()
            && chars(&self.client_id) <= limits::MAX_CLIENT_ID_LEN
            && !self.group.trim().is_empty()
            && chars(&self.group) <= limits::MAX_NAME_LEN
            && self.topics.len() <= limits::MAX_HEARTBEAT_TOPICS
            && self.applied.len() <= limits::MAX_HEARTBEAT_TOPICS
            && self.per_topic.len() <= limits::MAX_HEARTBEAT_TOPICS
            && self.topics.iter().all(|t| chars(t) <= limits::MAX_NAME_LEN)
    }
}
impl Oracle for MoveRequest {}
impl Oracle for RatioRequest {}
impl Oracle for OrderlyRequest {}
impl Oracle for DlqReviewRequest {}
impl Oracle for CreateTask {}
impl Oracle for TaskAdvance {}
impl Oracle for PauseRequest {}
impl Oracle for MetadataRequest {
    fn within_limits(&self) -> bool {
        self.topics.len() <= limits::MAX_METADATA_FILTER
            && self.groups.len() <= limits::MAX_METADATA_FILTER
    }
}

/// Equal documents, floats within a few units in the last place: serde_json reads a float of 17 digits back
/// "best effort" (exactly only with its `float_roundtrip` feature), and a ratio of `1.3e19` is refused later anyway.
fn same<T: Serialize>(a: &T, b: &T) -> bool {
    fn eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x == y || (x - y).abs() <= 1e-14 * x.abs().max(y.abs())
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| eq(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
            }
            _ => a == b,
        }
    }
    eq(
        &serde_json::to_value(a).unwrap(),
        &serde_json::to_value(b).unwrap(),
    )
}

/// The server reads `bytes` as a `T`: no panic; refused with an `invalid_request` naming something, or accepted
/// within the limits and round-tripping through its own serialization.
fn server_reads<T>(bytes: &[u8]) -> Result<Option<T>, TestCaseError>
where
    T: Bounded + Oracle + Serialize + PartialEq + std::fmt::Debug,
{
    match parse::<T>(bytes) {
        Err(e) => {
            prop_assert_eq!(&e.error, "invalid_request");
            prop_assert!(!e.message.is_empty());
            Ok(None)
        }
        Ok(doc) => {
            prop_assert!(doc.within_limits(), "accepted beyond the limits: {:?}", doc);
            let again: T = parse(&serde_json::to_vec(&doc).unwrap())
                .map_err(|e| TestCaseError::fail(format!("own serialization refused: {e:?}")))?;
            prop_assert!(same(&again, &doc), "{:?} came back as {:?}", doc, again);
            Ok(Some(doc))
        }
    }
}

/// A document the client reads: no panic; when it parses, its serialization parses to the same.
fn client_reads<T>(bytes: &[u8]) -> Result<Option<T>, TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(doc) = serde_json::from_slice::<T>(bytes) else {
        return Ok(None);
    };
    let again: T = serde_json::from_slice(&serde_json::to_vec(&doc).unwrap())
        .map_err(|e| TestCaseError::fail(format!("own serialization refused: {e}")))?;
    prop_assert!(same(&again, &doc), "{:?} came back as {:?}", doc, again);
    Ok(Some(doc))
}

/// The poller's reading of a phase table: JSON, then `apply_table` on a handle (which validates every state).
fn client_reads_table(bytes: &[u8]) -> Result<Option<PhasesDoc>, TestCaseError> {
    let Some(doc) = client_reads::<PhasesDoc>(bytes)? else {
        return Ok(None);
    };
    let handle = PhaseHandle::new();
    let valid = doc.topics.iter().all(|(t, s)| {
        !t.trim().is_empty() && s.write_ratio.is_finite() && (0.0..=1.0).contains(&s.write_ratio)
    });
    match handle.apply_table(&doc.to_table()) {
        Ok(changed) => {
            prop_assert!(valid, "an invalid table was applied: {:?}", doc);
            prop_assert_eq!(changed, doc.topics.len());
            for (t, s) in &doc.topics {
                prop_assert_eq!(handle.topic(t), *s);
            }
        }
        Err(_) => prop_assert!(!valid, "a valid table was refused: {:?}", doc),
    }
    Ok(Some(doc))
}

type Reader = fn(&[u8]) -> Result<bool, TestCaseError>;

fn reader<T>() -> Reader
where
    T: Bounded + Oracle + Serialize + PartialEq + std::fmt::Debug,
{
    |b| server_reads::<T>(b).map(|d| d.is_some())
}

/// Every document the server parses, with a generator of valid ones.
fn server_docs() -> Vec<(&'static str, BoxedStrategy<Value>, Reader)> {
    vec![
        ("register", register(), reader::<RegisterTopics>()),
        ("move", move_request(), reader::<MoveRequest>()),
        ("batch", batch(), reader::<BatchMoveRequest>()),
        ("ratio", ratio_request(), reader::<RatioRequest>()),
        ("orderly", orderly(), reader::<OrderlyRequest>()),
        ("dlq review", actor_only(), reader::<DlqReviewRequest>()),
        ("heartbeat", heartbeat(), reader::<Heartbeat>()),
        ("task create", create_task(), reader::<CreateTask>()),
        ("task advance", task_advance(), reader::<TaskAdvance>()),
        ("pause", pause(), reader::<PauseRequest>()),
        ("metadata", metadata(), reader::<MetadataRequest>()),
    ]
}

/// Every document the client parses (the phase table, and the admin API's answers).
fn client_readers() -> Vec<(&'static str, Reader)> {
    fn r<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>() -> Reader {
        |b| client_reads::<T>(b).map(|d| d.is_some())
    }
    vec![
        (
            "phases",
            (|b| client_reads_table(b).map(|d| d.is_some())) as Reader,
        ),
        ("error", r::<ErrorBody>()),
        ("move result", r::<MoveResult>()),
        ("batch result", r::<BatchMoveResult>()),
        ("registered", r::<Registered>()),
        ("topic view", r::<TopicView>()),
        ("client view", r::<ClientView>()),
        ("groups", r::<GroupsView>()),
        ("task view", r::<TaskView>()),
        ("endpoints", r::<EndpointsView>()),
        ("audit entry", r::<AuditEntry>()),
        ("monitor", r::<MonitorDoc>()),
        ("dlq result", r::<DlqReviewResult>()),
    ]
}

// ---- parser properties ------------------------------------------------------------------------------------------

#[test]
fn valid_server_documents_are_accepted_and_round_trip() {
    for (name, valid, read) in server_docs() {
        TestRunner::new(config())
            .run(&valid, |v| {
                let accepted = read(&serde_json::to_vec(&v).unwrap())?;
                prop_assert!(accepted, "{name}: a valid document was refused: {v}");
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn mutated_server_documents_never_panic_and_nothing_beyond_the_limits_is_accepted() {
    for (name, valid, read) in server_docs() {
        let cases = (valid, proptest::collection::vec(mutation(), 1..4));
        TestRunner::new(config())
            .run(&cases, |(v, muts)| {
                read(&serde_json::to_vec(&mutate(v, &muts)).unwrap())?;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn arbitrary_bytes_and_json_never_panic_a_parser() {
    let input = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        any_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ];
    let readers: Vec<(&str, Reader)> = server_docs()
        .into_iter()
        .map(|(n, _, r)| (n, r))
        .chain(client_readers())
        .collect();
    TestRunner::new(config())
        .run(&input, |bytes| {
            for (_, read) in &readers {
                read(&bytes)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn phase_tables_round_trip_and_invalid_ones_are_refused_by_the_client() {
    let tables = prop_oneof![
        phases_doc(),
        (phases_doc(), proptest::collection::vec(mutation(), 1..4))
            .prop_map(|(v, m)| mutate(v, &m)),
    ];
    TestRunner::new(config())
        .run(&tables, |v| {
            client_reads_table(&serde_json::to_vec(&v).unwrap())?;
            Ok(())
        })
        .unwrap();
    TestRunner::new(config())
        .run(&phases_doc(), |v| {
            let doc = client_reads_table(&serde_json::to_vec(&v).unwrap())?;
            prop_assert!(doc.is_some(), "a valid table did not parse: {v}");
            Ok(())
        })
        .unwrap();
}

// ---- over HTTP --------------------------------------------------------------------------------------------------

struct Plane {
    rt: tokio::runtime::Runtime,
    server: Option<ControlServer>,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _runtime: MigrationRuntime,
}

impl Plane {
    /// A control plane on loopback whose clusters are unreachable (no broker is started).
    fn start() -> Plane {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runtime = MigrationRuntime::new().unwrap();
        // Port 1 on loopback: nothing listens there, connections are refused at once.
        let dead = ClusterConfig::new("127.0.0.1:1");
        let mut config = ServerConfig::new(dead.clone(), dead, Token::new(TOKEN).unwrap());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.state_file = dir.path().join("state.json");
        config.audit_file = dir.path().join("audit.jsonl");
        let server = rt
            .block_on(ControlServer::start(config, runtime.client()))
            .unwrap();
        Plane {
            url: format!("http://{}", server.local_addr()),
            server: Some(server),
            http: reqwest::Client::new(),
            rt,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// Send; the status and the body.
    fn send(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(30))
            .body(body);
        self.rt.block_on(async {
            let r = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
            let status = r.status().as_u16();
            (status, r.bytes().await.unwrap().to_vec())
        })
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// `status` is a 4xx with the API's JSON error.
fn json_error(status: u16, body: &[u8]) -> ErrorBody {
    assert!((400..500).contains(&status), "HTTP {status}");
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "HTTP {status} without the JSON error ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })
}

fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn random_requests_to_a_live_control_plane_get_a_2xx_or_a_4xx_json_error() {
    let plane = Plane::start();
    // (method, path with `{t}` for a topic, the valid documents of its body)
    let routes: Vec<(&str, &str, BoxedStrategy<Value>)> = vec![
        ("POST", "/v1/topics", register()),
        ("POST", "/v1/topics:advance", batch()),
        ("POST", "/v1/topics:rollback", batch()),
        ("POST", "/v1/topics/{t}/advance", move_request()),
        ("POST", "/v1/topics/{t}/rollback", move_request()),
        ("PUT", "/v1/topics/{t}/write-ratio", ratio_request()),
        ("PUT", "/v1/topics/{t}/orderly", orderly()),
        ("POST", "/v1/topics/{t}/dlq-reviewed", actor_only()),
        ("DELETE", "/v1/topics/{t}", actor_only()),
        ("POST", "/v1/clients/heartbeat", heartbeat()),
        ("POST", "/v1/task", create_task()),
        ("POST", "/v1/task/advance", task_advance()),
        ("POST", "/v1/task/pause", pause()),
        ("POST", "/v1/task/resume", pause()),
        ("POST", "/v1/task/metadata", metadata()),
    ];
    let body = |valid: BoxedStrategy<Value>| {
        prop_oneof![
            valid.clone().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            (valid, proptest::collection::vec(mutation(), 1..3))
                .prop_map(|(v, m)| serde_json::to_vec(&mutate(v, &m)).unwrap()),
            proptest::collection::vec(any::<u8>(), 0..128),
        ]
    };
    // Path topics are never registered ones (`r…` are registered by the bodies, these start with `p`).
    let path_topic = prop_oneof![
        "p[a-zA-Z0-9_-]{0,30}".prop_map(|t| t.to_string()),
        ".{0,40}".prop_map(|t| percent_encoded(&format!("p{t}"))),
        Just("p%FF%FE".to_owned()),
        Just("p".repeat(128)),
    ];
    let cases = (0..routes.len())
        .prop_flat_map(|i| (Just(i), body(routes[i].2.clone()), path_topic.clone()));
    let cfg = Config {
        cases: (config().cases / 4).max(16),
        ..config()
    };
    TestRunner::new(cfg)
        .run(&cases, |(i, body, topic)| {
            let (method, path, _) = &routes[i];
            // Registered topics start with `r`, so that moves by `select` and path topics never meet.
            let body = if *path == "/v1/topics" {
                rename_topics(body)
            } else {
                body
            };
            let path = path.replace("{t}", &topic);
            let (status, answer) = plane.send(method, &path, body.clone());
            if (200..300).contains(&status) {
                return Ok(());
            }
            if status == 502 && path == "/v1/task" && parse::<CreateTask>(&body).is_ok() {
                // A valid task reaches for the target's name server to claim it; this test has none.
                let e: ErrorBody = serde_json::from_slice(&answer).unwrap();
                prop_assert_eq!(e.error, "cluster_unavailable");
                return Ok(());
            }
            prop_assert!(
                (400..500).contains(&status),
                "{} {}: HTTP {}: {}",
                method,
                path,
                status,
                String::from_utf8_lossy(&answer)
            );
            let e: ErrorBody = serde_json::from_slice(&answer).map_err(|e| {
                TestCaseError::fail(format!(
                    "{method} {path}: HTTP {status} without the JSON error ({e}): {}",
                    String::from_utf8_lossy(&answer)
                ))
            })?;
            prop_assert!(!e.error.is_empty() && !e.message.is_empty());
            Ok(())
        })
        .unwrap();

    // Query strings of the reads.
    let query = prop_oneof![
        Just(String::new()),
        ".{0,30}".prop_map(|q| percent_encoded(&q)),
        "[a-z]{1,8}=[ -~]{0,20}".prop_map(|q| q.replace(['#', ' '], "+")),
        (any::<u64>(), any::<f64>()).prop_map(|(n, f)| format!("limit={n}&wait={f}&since={n}")),
        Just("wait=1e300".to_owned()),
        Just("wait=1&wait=2".to_owned()),
    ];
    let reads = [
        "/v1/phases",
        "/v1/audit",
        "/v1/monitor",
        "/v1/task",
        "/v1/clients",
    ];
    let cases = (0..reads.len(), query);
    let cfg = Config {
        cases: (config().cases / 4).max(16),
        ..config()
    };
    TestRunner::new(cfg)
        .run(&cases, |(i, q)| {
            let path = format!("{}?{q}", reads[i]);
            let (status, answer) = plane.send("GET", &path, Vec::new());
            if !(200..300).contains(&status) {
                json_error(status, &answer);
            }
            Ok(())
        })
        .unwrap();
}

/// A register body whose topics (when it has a list of strings) start with `r`.
fn rename_topics(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    if let Some(Value::Array(topics)) = v.get_mut("topics") {
        for t in topics {
            if let Value::String(s) = t {
                *s = format!("r{s}");
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

// ---- the limits over HTTP ---------------------------------------------------------------------------------------

#[test]
fn over_limit_inputs_get_a_json_error_naming_the_limit_the_field_and_the_value() {
    let plane = Plane::start();

    // A body over the route's limit: 413 naming the limit and the size, before anything is parsed.
    let big = vec![b' '; limits::BODY_BYTES + 1];
    let (status, body) = plane.send("POST", "/v1/topics/orders/advance", big);
    assert_eq!(status, 413);
    let e = json_error(status, &body);
    assert_eq!(e.error, "body_too_large");
    assert!(
        e.message
            .contains(&format!("{} bytes", limits::BODY_BYTES + 1))
            && e.message.contains(&limits::BODY_BYTES.to_string()),
        "{}",
        e.message
    );

    // The same, sent without a length (chunked).
    let size = limits::BODY_BYTES + 10;
    let e = raw(
        &plane.url,
        "/v1/clients/heartbeat",
        "Transfer-Encoding: chunked",
        |s| {
            let chunk = vec![b' '; 64 << 10];
            let mut sent = 0;
            while sent < size {
                let n = chunk.len().min(size - sent);
                // The server may answer and close before the whole body is sent.
                if s.write_all(format!("{n:x}\r\n").as_bytes()).is_err()
                    || s.write_all(&chunk[..n]).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return;
                }
                sent += n;
            }
            let _ = s.write_all(b"0\r\n\r\n");
        },
    );
    assert_eq!(e.error, "body_too_large");
    assert!(
        e.message.contains(&limits::BODY_BYTES.to_string()),
        "{}",
        e.message
    );

    // The metadata import takes more than the others: 2 MiB pass the size check (and find no task).
    let mut doc = br#"{"dry_run": true}"#.to_vec();
    doc.resize(2 << 20, b' ');
    let (status, body) = plane.send("POST", "/v1/task/metadata", doc);
    assert_eq!(json_error(status, &body).error, "no_task", "HTTP {status}");
    // Over its limit, the answer comes before the body is read: only the length is sent here (a client that
    // writes 64 MiB may see the connection closed before it reads the answer).
    let e = raw(
        &plane.url,
        "/v1/task/metadata",
        &format!("Content-Length: {}", limits::METADATA_BODY_BYTES + 1),
        |_| {},
    );
    assert_eq!(e.error, "body_too_large");
    assert!(
        e.message
            .contains(&format!("{} bytes", limits::METADATA_BODY_BYTES + 1)),
        "{}",
        e.message
    );

    // A topic name over 127 characters: 400 naming the field and the value.
    let long = "t".repeat(limits::MAX_TOPIC_LEN + 1);
    let (status, body) = plane.send(
        "POST",
        "/v1/topics",
        serde_json::to_vec(&json!({ "topics": [long] })).unwrap(),
    );
    let e = json_error(status, &body);
    assert_eq!((status, e.error.as_str()), (400, "invalid_request"));
    assert!(
        e.message.contains("field \"topics\"") && e.message.contains("128 characters"),
        "{}",
        e.message
    );
    // The same in a path.
    let (status, body) = plane.send(
        "POST",
        &format!("/v1/topics/{long}/advance"),
        b"{}".to_vec(),
    );
    let e = json_error(status, &body);
    assert!(
        e.message.contains("path parameter \"topic\""),
        "{}",
        e.message
    );
    // A name outside RocketMQ's characters.
    let (status, body) = plane.send(
        "POST",
        "/v1/topics",
        br#"{"topics":["orders.eu"]}"#.to_vec(),
    );
    assert!(json_error(status, &body).message.contains("\"orders.eu\""));

    // Too many topics in one registration.
    let many: Vec<String> = (0..=limits::MAX_REGISTER)
        .map(|i| format!("t{i}"))
        .collect();
    let (status, body) = plane.send(
        "POST",
        "/v1/topics",
        serde_json::to_vec(&json!({ "topics": many })).unwrap(),
    );
    let e = json_error(status, &body);
    assert_eq!(status, 400);
    assert!(
        e.message
            .contains(&format!("{} entries, at most", limits::MAX_REGISTER + 1)),
        "{}",
        e.message
    );

    // A heartbeat with too many topics, and one with an over-long client id.
    let mut hb = json!({
        "client_id": "app@h/1/producer-0", "application": "app", "role": "producer", "group": "g",
        "topics": [], "applied": {}, "counters": {"source": {"sent": 0, "received": 0, "failed_over": 0,
        "failed": 0, "duplicates_suppressed": 0}, "target": {"sent": 0, "received": 0, "failed_over": 0,
        "failed": 0, "duplicates_suppressed": 0}}
    });
    let (status, _) = plane.send(
        "POST",
        "/v1/clients/heartbeat",
        serde_json::to_vec(&hb).unwrap(),
    );
    assert_eq!(status, 200);
    hb["topics"] = json!((0..=limits::MAX_HEARTBEAT_TOPICS)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>());
    let (status, body) = plane.send(
        "POST",
        "/v1/clients/heartbeat",
        serde_json::to_vec(&hb).unwrap(),
    );
    assert!(json_error(status, &body)
        .message
        .contains("heartbeat field \"topics\""));
    hb["topics"] = json!([]);
    hb["client_id"] = json!("c".repeat(limits::MAX_CLIENT_ID_LEN + 1));
    let (status, body) = plane.send(
        "POST",
        "/v1/clients/heartbeat",
        serde_json::to_vec(&hb).unwrap(),
    );
    assert!(json_error(status, &body).message.contains("client_id"));

    // Query strings: the audit limit, a value that does not parse, a long-poll too long to be a duration.
    let (status, body) = plane.send(
        "GET",
        &format!("/v1/audit?limit={}", limits::MAX_AUDIT_LIMIT + 1),
        Vec::new(),
    );
    assert!(json_error(status, &body).message.contains("\"limit\""));
    let (status, body) = plane.send("GET", "/v1/audit?limit=many", Vec::new());
    assert!(json_error(status, &body).message.contains("limit"));
    let (status, _) = plane.send("GET", "/v1/phases?wait=1e300", Vec::new());
    assert_eq!(
        status, 200,
        "a wait beyond a Duration is cut to the longest"
    );
}

/// POST to `path` over a raw connection with the `framing` header, `send` writing the body (or not); the 413
/// JSON error answered.
fn raw(
    url: &str,
    path: &str,
    framing: &str,
    send: impl FnOnce(&mut std::net::TcpStream),
) -> ErrorBody {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    send(&mut s);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}
