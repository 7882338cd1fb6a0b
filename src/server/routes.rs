//! The HTTP routes: which handler answers each path, the request count per route and status, and the handlers,
//! each turning its request ([`super::extract`]) into a call of `moves` or `views` and the result into an answer.

use std::sync::Arc;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::app::App;
use super::error::ApiError;
use super::extract::{Change, NoBody, Reader};
use super::limits;
use super::moves::{adopt, phases, steps, task, topics};
use super::views::{self, prometheus};
use crate::control::wire::{
    AdoptRequest, BatchMoveRequest, ClientTable, CreateTask, Direction, DlqReviewRequest,
    Heartbeat, HeartbeatAnswer, MetadataRequest, MoveRequest, OrderlyRequest, PauseRequest,
    RatioRequest, RegisterTopics, TaskAdvance,
};
use crate::topic_state::TopicState;

/// Every route of the control plane, with its body limit, counting every answer.
pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/v1/phases", get(get_phases))
        .route("/v1/topics", get(get_topics).post(register))
        .route("/v1/topics:advance", post(batch_move::<Forward>))
        .route("/v1/topics:rollback", post(batch_move::<Backward>))
        .route("/v1/topics/{topic}", delete(delete_topic))
        .route("/v1/topics/{topic}/advance", post(move_topic::<Forward>))
        .route("/v1/topics/{topic}/rollback", post(move_topic::<Backward>))
        .route("/v1/topics/{topic}/write-ratio", put(write_ratio))
        .route("/v1/topics/{topic}/orderly", put(orderly))
        .route("/v1/topics/{topic}/dlq-reviewed", post(dlq_reviewed))
        .route("/v1/topics/{topic}/health-check", post(health_check))
        .route("/v1/clients/heartbeat", post(heartbeat))
        .route("/v1/divergence", get(divergence))
        .route("/v1/adopt", post(post_adopt))
        .route("/v1/clients", get(clients))
        .route("/v1/groups", get(groups))
        .route("/v1/audit", get(audit))
        .route(
            "/v1/task",
            get(task_view).post(task_create).delete(task_delete),
        )
        .route("/v1/task/advance", post(task_advance))
        .route("/v1/task/pause", post(task_pause::<true>))
        .route("/v1/task/resume", post(task_pause::<false>))
        .route("/v1/task/endpoints", get(task_endpoints))
        .route("/v1/monitor", get(monitor))
        .route("/metrics", get(metrics))
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

/// A handler's answer: a JSON document, or the error.
type Answer<T> = Result<Json<T>, ApiError>;

/// The direction of a move route.
trait Way {
    const DIR: Direction;
}

/// `advance` routes.
struct Forward;

impl Way for Forward {
    const DIR: Direction = Direction::Advance;
}

/// `rollback` routes.
struct Backward;

impl Way for Backward {
    const DIR: Direction = Direction::Rollback;
}

#[derive(Deserialize)]
struct PhasesQuery {
    wait: Option<String>,
    watch: Option<String>,
}

async fn get_phases(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<PhasesQuery>,
    _: Reader,
) -> Result<Response, ApiError> {
    let wait = limits::wait(q.wait.as_deref())?;
    let watch = limits::flag("watch", q.watch.as_deref())?;
    Ok(views::phases::answer(app.state.published(), &app.encoded, &headers, wait, watch).await)
}

async fn register(
    State(app): State<Arc<App>>,
    Change { doc: req, who }: Change<RegisterTopics>,
) -> Result<Response, ApiError> {
    let out = topics::register(&app, &req.topics, req.write_ratio, req.orderly, &who).await?;
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
    Path(topic): Path<String>,
    c: Change<NoBody>,
) -> Result<StatusCode, ApiError> {
    topics::delete(&app, &topic, &c.who).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn move_topic<W: Way>(
    State(app): State<Arc<App>>,
    Path(topic): Path<String>,
    c: Change<MoveRequest>,
) -> Answer<crate::control::wire::MoveResult> {
    let r = phases::move_topic(&app, &topic, W::DIR, &c.doc, &c.who).await?;
    // The moved topic's next checks differ: have the scanner look again now.
    app.readiness.wake();
    Ok(Json(r))
}

async fn batch_move<W: Way>(
    State(app): State<Arc<App>>,
    c: Change<BatchMoveRequest>,
) -> Answer<crate::control::wire::BatchMoveResult> {
    let r = phases::move_batch(&app, W::DIR, &c.doc, &c.who).await?;
    if r.moved > 0 {
        app.readiness.wake();
    }
    Ok(Json(r))
}

/// A topic's new state, as the write-ratio and orderly routes answer it.
fn topic_state(topic: &str, state: TopicState) -> serde_json::Value {
    serde_json::json!({ "topic": topic, "state": state })
}

/// Handlers of a change to one topic (`/v1/topics/{topic}/...`) that answer a JSON document:
/// `name(document) -> answer = |app, topic, document, who| answer`.
macro_rules! topic_changes {
    ($($(#[$attr:meta])* $name:ident($d:ty) -> $out:ty = |$app:ident, $topic:ident, $req:ident, $who:ident| $body:expr;)+) => {$(
        $(#[$attr])*
        async fn $name(
            State($app): State<Arc<App>>,
            Path($topic): Path<String>,
            Change { doc: $req, who: $who }: Change<$d>,
        ) -> Answer<$out> {
            Ok(Json($body))
        }
    )+};
}

topic_changes! {
    /// `PUT /v1/topics/{topic}/write-ratio`.
    write_ratio(RatioRequest) -> serde_json::Value = |app, topic, req, who|
        topic_state(&topic, topics::set_ratio(&app, &topic, req.write_ratio, &who).await?);
    /// `PUT /v1/topics/{topic}/orderly`.
    orderly(OrderlyRequest) -> serde_json::Value = |app, topic, req, who|
        topic_state(&topic, topics::set_orderly(&app, &topic, req.orderly, &who).await?);
    /// `POST /v1/topics/{topic}/dlq-reviewed`.
    dlq_reviewed(DlqReviewRequest) -> crate::control::wire::DlqReviewResult = |app, topic, _req, who|
        topics::review_dead_letters(&app, &topic, &who).await?;
}

async fn heartbeat(
    State(app): State<Arc<App>>,
    Change { doc: hb, .. }: Change<Heartbeat>,
) -> Answer<HeartbeatAnswer> {
    limits::registry_room(&app.registry, &hb.client_id)?;
    app.metrics.heartbeat();
    let (id, role, group, status) = (hb.client_id.clone(), hb.role, hb.group.clone(), hb.status);
    let table = app.state.table();
    let send_table = app.state.divergence().observe(&hb, &table);
    if app.registry.record(hb) {
        tracing::info!(client_id = %id, role = role.as_str(), group, "client registered");
    }
    // Producers may have applied `cutting_over`.
    app.wake_sealer();
    Ok(Json(HeartbeatAnswer {
        ok: true,
        version: table.version,
        status,
        send_table,
    }))
}

/// `POST /v1/clients/table`: the table of a client whose heartbeat was answered `send_table`.
async fn client_table(
    State(app): State<Arc<App>>,
    Change { doc: t, .. }: Change<ClientTable>,
) -> Answer<serde_json::Value> {
    let kept = app.state.divergence().receive(&t.client_id, &t.table);
    if kept {
        tracing::warn!(client_id = %t.client_id, client_table_version = t.table.version,
            topics = t.table.topics.len(), "received the newer table of a client ahead of this control plane");
    }
    Ok(Json(serde_json::json!({ "kept": kept })))
}

/// `GET /v1/divergence`: the clients ahead of this control plane's table (`null` when none).
async fn divergence(
    State(app): State<Arc<App>>,
    _: Reader,
) -> Json<Option<crate::control::wire::DivergenceView>> {
    Json(app.state.diverged())
}

/// `POST /v1/adopt`: resolve a divergence (`force`: publish this control plane's own table).
async fn post_adopt(
    State(app): State<Arc<App>>,
    c: Change<AdoptRequest>,
) -> Answer<crate::control::wire::AdoptResult> {
    Ok(Json(adopt::adopt(&app.state, &c.doc, &c.who).await?))
}

async fn get_topics(State(app): State<Arc<App>>, _: Reader) -> Json<serde_json::Value> {
    Json(views::topics::list(&app).await)
}

/// `POST /v1/topics/{topic}/health-check`: run the topic's checks now (not from the last scan).
async fn health_check(
    State(app): State<Arc<App>>,
    Path(topic): Path<String>,
    _: Reader,
) -> Answer<crate::control::wire::TopicView> {
    Ok(Json(views::topics::health_check(&app, &topic).await?))
}

async fn clients(State(app): State<Arc<App>>, _: Reader) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "clients": app.registry.views() }))
}

async fn groups(
    State(app): State<Arc<App>>,
    _: Reader,
) -> Answer<crate::control::wire::GroupsView> {
    Ok(Json(views::groups::compare(&app).await?))
}

#[derive(Deserialize)]
struct TaskQuery {
    /// `false`: leave out the next step's conditions (they ask the brokers).
    checks: Option<bool>,
}

async fn task_view(
    State(app): State<Arc<App>>,
    Query(q): Query<TaskQuery>,
    _: Reader,
) -> Answer<crate::control::wire::TaskView> {
    Ok(Json(
        views::task::view(&app, q.checks.unwrap_or(true)).await?,
    ))
}

async fn task_create(
    State(app): State<Arc<App>>,
    c: Change<CreateTask>,
) -> Result<Response, ApiError> {
    let created = task::create(&app, &c.doc, &c.who).await?;
    let view = views::task::view_of(&app, created).await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn task_delete(
    State(app): State<Arc<App>>,
    c: Change<NoBody>,
) -> Result<StatusCode, ApiError> {
    task::delete(&app, &c.who).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn task_advance(
    State(app): State<Arc<App>>,
    c: Change<TaskAdvance>,
) -> Answer<crate::control::wire::TaskView> {
    let advanced = task::advance(&app, &c.doc, &c.who).await?;
    let view = views::task::view_of(&app, advanced).await;
    app.readiness.wake();
    Ok(Json(view))
}

/// `POST /v1/task/pause` (`PAUSE`) and `/resume`.
async fn task_pause<const PAUSE: bool>(
    State(app): State<Arc<App>>,
    c: Change<PauseRequest>,
) -> Answer<crate::control::wire::TaskDoc> {
    Ok(Json(task::pause(&app.state, PAUSE, &c.doc, &c.who).await?))
}

async fn task_metadata(
    State(app): State<Arc<App>>,
    c: Change<MetadataRequest>,
) -> Answer<crate::metadata::ImportReport> {
    Ok(Json(task::run_metadata(&app, &c.doc, &c.who).await?))
}

async fn task_endpoints(
    State(app): State<Arc<App>>,
    _: Reader,
) -> Json<crate::control::wire::EndpointsView> {
    Json(steps::endpoints(&app).await)
}

#[derive(Deserialize)]
struct MonitorQuery {
    topic: Option<String>,
    since: Option<String>,
    resolution: Option<u64>,
}

/// `GET /v1/monitor?topic=&since=&resolution=`: the migration monitoring series of a topic, or of the whole task.
async fn monitor(
    State(app): State<Arc<App>>,
    Query(q): Query<MonitorQuery>,
    _: Reader,
) -> Answer<crate::control::wire::MonitorDoc> {
    let doc = views::monitoring::series(&app, q.topic, q.since.as_deref(), q.resolution)?;
    Ok(Json(doc))
}

#[derive(Deserialize)]
struct AuditQuery {
    topic: Option<String>,
    limit: Option<usize>,
}

async fn audit(
    State(app): State<Arc<App>>,
    Query(q): Query<AuditQuery>,
    _: Reader,
) -> Answer<serde_json::Value> {
    let limit = limits::audit_limit(q.limit)?;
    let entries = app.state.journal().entries(q.topic.as_deref(), limit);
    Ok(Json(serde_json::json!({ "entries": entries })))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let table = app.state.table();
    let text = prometheus::render(&prometheus::Exposed {
        table: &table,
        scan_took: app.readiness.last_round(),
        traffic: &app.traffic,
        task: app.state.task(),
        monitor: &app.monitor,
        clients: &app.registry.views(),
        diverged: app.state.diverged(),
        heartbeats: app.metrics.heartbeats(),
        audit_failures: app.state.journal().failures(),
        requests: app.metrics.requests(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The control plane answers; `clusters` carries the connection check of each cluster made at start (absent
/// until it has run), with its cause when a cluster cannot be used.
async fn healthz(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(views::health::health(&app))
}
