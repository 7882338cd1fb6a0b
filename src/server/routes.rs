//! The HTTP routes: request parsing, authorization, and turning [`App`] results into answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::app::{ApiError, App};
use super::audit::rfc3339;
use super::auth::Access;
use super::limits::{self, Bounded};
use super::{adopt, metrics, scanner, task, watch};
use crate::cluster::Cluster;
use crate::control::wire::{
    AdoptRequest, BatchMoveRequest, ClientTable, ClusterNames, ClusterTraffic, CreateTask,
    Direction, DlqReviewRequest, Heartbeat, HeartbeatAnswer, MetadataRequest, MoveRequest,
    OrderlyRequest, PauseRequest, PhasesDoc, RatioRequest, RegisterTopics, Role, TaskAdvance,
    TopicView,
};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/v1/phases", get(phases))
        .route("/v1/topics", get(topics).post(register))
        .route("/v1/topics:advance", post(batch_advance))
        .route("/v1/topics:rollback", post(batch_rollback))
        .route("/v1/topics/{topic}", delete(delete_topic))
        .route("/v1/topics/{topic}/advance", post(advance))
        .route("/v1/topics/{topic}/rollback", post(rollback))
        .route("/v1/topics/{topic}/write-ratio", put(write_ratio))
        .route("/v1/topics/{topic}/orderly", put(orderly))
        .route("/v1/topics/{topic}/dlq-reviewed", post(dlq_reviewed))
        .route("/v1/topics/{topic}/health-check", post(health_check))
        .route("/v1/clients/heartbeat", post(heartbeat))
        .route("/v1/divergence", get(divergence))
        .route("/v1/adopt", post(adopt))
        .route("/v1/clients", get(clients))
        .route("/v1/groups", get(groups))
        .route("/v1/audit", get(audit))
        .route(
            "/v1/task",
            get(task_view).post(task_create).delete(task_delete),
        )
        .route("/v1/task/advance", post(task_advance))
        .route("/v1/task/pause", post(task_pause))
        .route("/v1/task/resume", post(task_resume))
        .route("/v1/task/endpoints", get(task_endpoints))
        .route("/v1/monitor", get(monitor))
        .route("/metrics", get(prometheus))
        .route("/healthz", get(healthz))
        .merge(super::console::router());
    // Bodies of at most 1 MiB, but for the metadata import, which carries a whole mqadmin export file.
    let metadata = Router::new().route("/v1/task/metadata", post(task_metadata));
    // A client's whole table, as large as a table a client reads.
    let client_table = Router::new().route("/v1/clients/table", post(client_table));
    limits::body_limit(api, limits::BODY_BYTES)
        .merge(limits::body_limit(metadata, limits::METADATA_BODY_BYTES))
        .merge(limits::body_limit(
            client_table,
            crate::control::MAX_TABLE_BYTES,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), count))
        .with_state(app)
}

/// Count every answer by route and status.
async fn count(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let r = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    app.metrics.request(route, r.status().as_u16());
    r
}

fn require(app: &App, headers: &HeaderMap, need: Access) -> Result<(), ApiError> {
    if app.tokens.allows(headers, need) {
        return Ok(());
    }
    let what = match need {
        Access::Admin => "this change needs the admin token",
        Access::Client => "this endpoint needs the client or admin token",
    };
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("missing or wrong Authorization: Bearer token ({what})"),
    ))
}

/// A JSON body within its limits (see [`limits`]).
fn body<T: Bounded>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    let t = b.map(|Json(t)| t).map_err(|e| {
        let (status, code) = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            _ => (StatusCode::BAD_REQUEST, "invalid_request"),
        };
        ApiError::new(status, code, format!("request body: {}", e.body_text()))
    })?;
    t.check().map_err(ApiError::invalid)?;
    Ok(t)
}

/// A JSON body that may be left out entirely (then `T::default()`).
fn optional_body<T: Default + Bounded>(b: &[u8]) -> Result<T, ApiError> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    limits::parse(b).map_err(ApiError::invalid)
}

fn actor(given: Option<&str>, headers: &HeaderMap, peer: SocketAddr) -> String {
    given
        .or_else(|| headers.get("x-actor").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map_or_else(|| format!("peer {peer}"), |a| format!("{a} ({peer})"))
}

#[derive(Deserialize)]
struct PhasesQuery {
    wait: Option<String>,
    watch: Option<String>,
}

/// Whether an `If-None-Match` header names table version `version` (`"7"`, `W/"7"`, a list, or `*`). Compared
/// without allocating: this runs on every conditional poll.
fn if_none_match(headers: &HeaderMap, version: u64) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| {
            t == "*"
                || t.strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .is_some_and(|v| is_decimal(v, version))
        })
}

/// `v` is exactly the decimal form of `n` (no sign, no leading zeros), as `wire::etag` writes it.
fn is_decimal(v: &str, n: u64) -> bool {
    v.bytes().all(|b| b.is_ascii_digit())
        && (v == "0" || !v.starts_with('0'))
        && v.parse::<u64>() == Ok(n)
}

/// The table as the long-poll answers it: its JSON (encoded once per table, see [`super::encoded`]) or `304`, with
/// its version as the `ETag`.
fn phases_answer(app: &App, doc: &Arc<PhasesDoc>, status: StatusCode) -> Response {
    let etag =
        HeaderValue::from_str(&doc.etag()).expect("digits and quotes are a valid header value");
    let mut r = if status == StatusCode::NOT_MODIFIED {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            app.encoded.json(doc),
        )
            .into_response()
    };
    r.headers_mut().insert(header::ETAG, etag);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn phases(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<PhasesQuery>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let wait = limits::wait(q.wait.as_deref())?;
    let matches = |doc: &PhasesDoc| if_none_match(&headers, doc.version);
    let mut rx = app.watch();
    let current = rx.borrow_and_update().clone();
    if limits::flag("watch", q.watch.as_deref())? && !wait.is_zero() {
        let holds = matches(&current);
        return Ok(watch::answer(app, rx, current, holds, wait));
    }
    if !matches(&current) {
        return Ok(phases_answer(&app, &current, StatusCode::OK));
    }
    if !wait.is_zero() {
        let _ = tokio::time::timeout(wait, rx.changed()).await;
        let now = rx.borrow_and_update().clone();
        if !matches(&now) {
            return Ok(phases_answer(&app, &now, StatusCode::OK));
        }
    }
    Ok(phases_answer(&app, &current, StatusCode::NOT_MODIFIED))
}

async fn register(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<RegisterTopics>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let out = app
        .register(&req.topics, req.write_ratio, req.orderly, &who)
        .await?;
    let created = out.iter().any(|(_, _, new)| *new);
    if created {
        app.readiness.wake();
    }
    let json: Vec<serde_json::Value> = out
        .into_iter()
        .map(|(topic, state, new)| {
            serde_json::json!({ "topic": topic, "state": state, "registered": new })
        })
        .collect();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(serde_json::json!({ "topics": json }))).into_response())
}

async fn delete_topic(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(topic): Path<String>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    app.delete(&topic, &actor(None, &headers, peer)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn move_topic(
    app: Arc<App>,
    peer: SocketAddr,
    headers: HeaderMap,
    topic: String,
    b: Result<Json<MoveRequest>, JsonRejection>,
    dir: Direction,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let r = app.move_topic(&topic, dir, &req, &who).await?;
    // The moved topic's next checks differ: have the scanner look again now.
    app.readiness.wake();
    Ok(Json(r).into_response())
}

async fn batch_move(
    app: Arc<App>,
    peer: SocketAddr,
    headers: HeaderMap,
    b: Result<Json<BatchMoveRequest>, JsonRejection>,
    dir: Direction,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let r = app.move_batch(dir, &req, &who).await?;
    if r.moved > 0 {
        app.readiness.wake();
    }
    Ok(Json(r).into_response())
}

async fn batch_advance(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<BatchMoveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    batch_move(app, peer, headers, b, Direction::Advance).await
}

async fn batch_rollback(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<BatchMoveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    batch_move(app, peer, headers, b, Direction::Rollback).await
}

async fn advance(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    b: Result<Json<MoveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    move_topic(app, peer, headers, topic, b, Direction::Advance).await
}

async fn rollback(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    b: Result<Json<MoveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    move_topic(app, peer, headers, topic, b, Direction::Rollback).await
}

async fn write_ratio(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    b: Result<Json<RatioRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let state = app.set_ratio(&topic, req.write_ratio, &who).await?;
    Ok(Json(serde_json::json!({ "topic": topic, "state": state })).into_response())
}

async fn orderly(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    b: Result<Json<OrderlyRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let state = app.set_orderly(&topic, req.orderly, &who).await?;
    Ok(Json(serde_json::json!({ "topic": topic, "state": state })).into_response())
}

async fn dlq_reviewed(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    b: Result<Json<DlqReviewRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    Ok(Json(app.review_dead_letters(&topic, &who).await?).into_response())
}

async fn heartbeat(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    b: Result<Json<Heartbeat>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let hb = body(b)?;
    limits::registry_room(&app.registry, &hb.client_id)?;
    app.metrics.heartbeat();
    let (id, role, group, status) = (hb.client_id.clone(), hb.role, hb.group.clone(), hb.status);
    let table = app.table();
    let send_table = app.divergence.observe(&hb, &table);
    if app.registry.record(hb) {
        tracing::info!(client_id = %id, role = role.as_str(), group, "client registered");
    }
    app.heartbeat_seen();
    Ok(Json(HeartbeatAnswer {
        ok: true,
        version: table.version,
        status,
        send_table,
    })
    .into_response())
}

/// `POST /v1/clients/table`: the table of a client whose heartbeat was answered `send_table`.
async fn client_table(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    b: Result<Json<ClientTable>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let t = body(b)?;
    let kept = app.divergence.receive(&t.client_id, &t.table);
    if kept {
        tracing::warn!(client_id = %t.client_id, client_table_version = t.table.version,
            topics = t.table.topics.len(), "received the newer table of a client ahead of this control plane");
    }
    Ok(Json(serde_json::json!({ "kept": kept })).into_response())
}

/// `GET /v1/divergence`: the clients ahead of this control plane's table (`null` when none).
async fn divergence(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    Ok(Json(app.diverged()).into_response())
}

/// `POST /v1/adopt`: resolve a divergence (`force`: publish this control plane's own table).
async fn adopt(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<AdoptRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    Ok(Json(adopt::adopt(&app, &req, &who).await?).into_response())
}

async fn topics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let table = app.table();
    let clients = app.registry.views();
    let mut out = Vec::with_capacity(table.topics.len());
    for (topic, state) in &table.topics {
        let scanned = scanner::current(&app, topic, *state).await;
        out.push(topic_view(&app, topic, &clients, scanned));
    }
    Ok(Json(serde_json::json!({
        "version": table.version,
        "topics": out,
        "task": task_summary(&app),
        "diverged": app.diverged(),
    }))
    .into_response())
}

/// The task in one line for `/healthz` and `GET /v1/topics`: name, step, paused (`null` without a task).
fn task_summary(app: &App) -> serde_json::Value {
    app.task().map_or(
        serde_json::Value::Null,
        |t| serde_json::json!({ "name": t.name, "step": t.step, "paused": t.paused }),
    )
}

/// `POST /v1/topics/{topic}/health-check`: run the topic's checks now (not from the last scan).
async fn health_check(
    State(app): State<Arc<App>>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let table = app.table();
    let Some(state) = table.topics.get(&topic) else {
        return Err(ApiError::unknown_topic(&topic));
    };
    let scanned = scanner::scan(&app, &topic, *state).await;
    let clients = app.registry.views();
    Ok(Json(topic_view(&app, &topic, &clients, scanned)).into_response())
}

/// One topic as `GET /v1/topics` shows it: state, checks as of `scanned`, live clients, traffic, names.
fn topic_view(
    app: &App,
    topic: &str,
    clients: &[crate::control::wire::ClientView],
    scanned: scanner::Scanned,
) -> TopicView {
    let mine: Vec<_> = clients
        .iter()
        .filter(|v| v.live && v.heartbeat.topics.iter().any(|t| t == topic))
        .collect();
    let traffic = |c: Cluster| {
        let o = app.traffic.get(topic, c);
        // This topic's counters only (a client's totals cover all its topics); a client too old to report them
        // counts for none.
        let counters = |v: &&crate::control::wire::ClientView| {
            let t = v
                .heartbeat
                .per_topic
                .get(topic)
                .copied()
                .unwrap_or_default();
            match c {
                Cluster::Source => t.source,
                Cluster::Target => t.target,
            }
        };
        ClusterTraffic {
            stored: o.and_then(|o| o.stored),
            last_write_ms: o
                .filter(|o| o.changed > o.since)
                .map(|o| o.changed.elapsed().as_millis() as u64),
            sent_by_clients: mine
                .iter()
                .filter(|v| v.heartbeat.role == Role::Producer)
                .map(|v| counters(v).sent)
                .sum(),
            received_by_clients: mine
                .iter()
                .filter(|v| v.heartbeat.role == Role::Consumer)
                .map(|v| counters(v).received)
                .sum(),
        }
    };
    TopicView {
        topic: topic.to_owned(),
        state: scanned.state,
        advance: scanned.advance,
        rollback: scanned.rollback,
        clients: mine.iter().map(|v| v.heartbeat.client_id.clone()).collect(),
        source: traffic(Cluster::Source),
        target: traffic(Cluster::Target),
        dead_letters: scanned.dead_letters,
        names: ClusterNames {
            source: app.admin[Cluster::Source.index()].full(topic),
            target: app.admin[Cluster::Target.index()].full(topic),
        },
        checked_at: Some(rfc3339(scanned.at)),
    }
}

async fn clients(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    Ok(Json(serde_json::json!({ "clients": app.registry.views() })).into_response())
}

async fn groups(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    Ok(Json(super::groups::compare(&app).await?).into_response())
}

#[derive(Deserialize)]
struct TaskQuery {
    /// `false`: leave out the next step's conditions (they ask the brokers).
    checks: Option<bool>,
}

async fn task_view(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TaskQuery>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    Ok(Json(task::view(&app, q.checks.unwrap_or(true)).await?).into_response())
}

async fn task_create(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<CreateTask>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let view = task::create(&app, &req, &who).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn task_delete(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    task::delete(&app, &actor(None, &headers, peer)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn task_advance(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<TaskAdvance>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req = body(b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    let view = task::advance(&app, &req, &who).await?;
    app.readiness.wake();
    Ok(Json(view).into_response())
}

async fn task_pause_or_resume(
    app: Arc<App>,
    peer: SocketAddr,
    headers: HeaderMap,
    b: axum::body::Bytes,
    pause: bool,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req: PauseRequest = optional_body(&b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    Ok(Json(task::pause(&app, pause, &req, &who).await?).into_response())
}

async fn task_pause(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: axum::body::Bytes,
) -> Result<Response, ApiError> {
    task_pause_or_resume(app, peer, headers, b, true).await
}

async fn task_resume(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: axum::body::Bytes,
) -> Result<Response, ApiError> {
    task_pause_or_resume(app, peer, headers, b, false).await
}

async fn task_metadata(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    b: axum::body::Bytes,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Admin)?;
    let req: MetadataRequest = optional_body(&b)?;
    let who = actor(req.actor.as_deref(), &headers, peer);
    Ok(Json(task::run_metadata(&app, &req, &who).await?).into_response())
}

async fn task_endpoints(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    Ok(Json(task::endpoints(&app).await).into_response())
}

#[derive(Deserialize)]
struct MonitorQuery {
    topic: Option<String>,
    since: Option<String>,
    resolution: Option<u64>,
}

/// `since`: unix milliseconds, or a time ago as `<n>s`, `<n>m`, `<n>h`, `<n>d` (default `1h`).
fn parse_since(v: Option<&str>) -> Result<std::time::SystemTime, ApiError> {
    let v = v.unwrap_or("1h").trim();
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "query parameter \"since\" = {v:?}: give unix milliseconds, or a time ago such as 600s, 30m, 6h, 7d"
            ),
        )
    };
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(std::time::UNIX_EPOCH + Duration::from_millis(ms));
    }
    let unit = match v.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3_600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let n: u64 = v[..v.len() - 1].parse().map_err(|_| bad())?;
    let ago = Duration::from_secs(n.checked_mul(unit).ok_or_else(bad)?);
    Ok(std::time::SystemTime::now()
        .checked_sub(ago)
        .unwrap_or(std::time::UNIX_EPOCH))
}

/// `GET /v1/monitor?topic=&since=&resolution=`: the migration monitoring series of a topic, or of the whole task.
async fn monitor(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<MonitorQuery>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let since = parse_since(q.since.as_deref())?;
    if let Some(t) = &q.topic {
        if !app.table().topics.contains_key(t) {
            return Err(ApiError::unknown_topic(t));
        }
    }
    let resolution = match q.resolution {
        Some(0) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "query parameter \"resolution\" = 0: give a number of seconds, at least 1",
            ))
        }
        r => r.map(Duration::from_secs),
    };
    let series = app
        .monitor
        .lock()
        .series(q.topic.as_deref(), since, resolution);
    let doc = match series {
        Some(s) => s.into_doc(q.topic.clone()),
        // Registered but not watched yet (before its first point).
        None => crate::control::wire::MonitorDoc {
            topic: q.topic.clone(),
            resolution_s: app.monitor_every().as_secs(),
            points: Vec::new(),
        },
    };
    Ok(Json(doc).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    topic: Option<String>,
    limit: Option<usize>,
}

async fn audit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    require(&app, &headers, Access::Client)?;
    let limit = limits::audit_limit(q.limit)?;
    Ok(
        Json(serde_json::json!({ "entries": app.audit(q.topic.as_deref(), limit) }))
            .into_response(),
    )
}

async fn prometheus(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&app),
    )
        .into_response()
}

/// The control plane answers; `clusters` carries the connection check of each cluster made at start (absent
/// until it has run), with its cause when a cluster cannot be used.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let t = app.table();
    let clusters: serde_json::Map<String, serde_json::Value> = app
        .connections
        .lock()
        .iter()
        .map(|(side, r)| {
            (
                side.to_string(),
                serde_json::to_value(r).unwrap_or_default(),
            )
        })
        .collect();
    let diverged = app.diverged();
    Json(serde_json::json!({
        "status": if diverged.is_some() { "diverged" } else { "ok" },
        "diverged": diverged,
        "version": t.version,
        "topics": t.topics.len(),
        "readiness_scan_ms": app.readiness.last_round().as_millis() as u64,
        "clusters": clusters,
        "task": task_summary(&app),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inm(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_names_the_version_exactly() {
        assert!(if_none_match(&inm(&["\"7\""]), 7));
        assert!(if_none_match(&inm(&["W/\"7\""]), 7));
        assert!(if_none_match(&inm(&["\"3\", \"7\""]), 7));
        assert!(if_none_match(&inm(&["\"3\"", "\"7\""]), 7));
        assert!(if_none_match(&inm(&["*"]), 7));
        assert!(if_none_match(&inm(&["\"0\""]), 0));
        assert!(!if_none_match(&inm(&[]), 7));
        assert!(!if_none_match(&inm(&["\"8\""]), 7));
        assert!(!if_none_match(&inm(&["\"07\""]), 7));
        assert!(!if_none_match(&inm(&["\"+7\""]), 7));
        assert!(!if_none_match(&inm(&["7"]), 7));
        assert_eq!(wire_etag(7), "\"7\"");
    }

    fn wire_etag(v: u64) -> String {
        crate::control::wire::etag(v)
    }
}
