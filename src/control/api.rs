//! [`ControlApi`]: a typed client of the control plane's operator API (what `rmq-migrate status`, `advance`,
//! `rollback`, `ratio`, `clients`, `groups` and `audit` call).

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::wire::{
    AdoptRequest, AdoptResult, AuditEntry, BatchMoveRequest, BatchMoveResult, ClientView,
    DivergenceView, DlqReviewRequest, DlqReviewResult, ErrorBody, GroupsView, MonitorDoc,
    MoveRequest, MoveResult, OrderlyRequest, PhasesDoc, RatioRequest, RegisterTopics, TopicView,
};
#[cfg(feature = "admin")]
use super::wire::{
    CreateTask, EndpointsView, MetadataRequest, PauseRequest, TaskAdvance, TaskDoc, TaskStep,
    TaskView,
};
use crate::error::{ErrorKind, MigrationError};
use crate::phase::Phase;
use crate::topic_state::TopicState;

/// A non-2xx answer of the control plane: the HTTP status and its [`ErrorBody`]. Reach it from a
/// [`MigrationError`] of kind [`ErrorKind::Refused`] or [`ErrorKind::Unauthorized`] with [`Refusal::of`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// The error document.
    pub body: ErrorBody,
}

impl Refusal {
    /// The refusal behind `e`, if it is one.
    pub fn of(e: &MigrationError) -> Option<&Refusal> {
        std::error::Error::source(e)?.downcast_ref::<Refusal>()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {}: {}",
            self.status, self.body.error, self.body.message
        )?;
        for c in self.body.checks.iter().filter(|c| !c.passed) {
            write!(f, "; {} failed: {}", c.code, c.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// One registered topic in the answer to [`ControlApi::register`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Registered {
    /// The topic.
    pub topic: String,
    /// Its state.
    pub state: TopicState,
    /// Newly registered (false: it was already).
    pub registered: bool,
}

#[derive(Deserialize)]
struct RegisteredList {
    topics: Vec<Registered>,
}
#[derive(Deserialize)]
struct TopicsList {
    topics: Vec<TopicView>,
}
#[derive(Deserialize)]
struct ClientsList {
    clients: Vec<ClientView>,
}
#[derive(Deserialize)]
struct AuditList {
    entries: Vec<AuditEntry>,
}
#[derive(Deserialize)]
struct StateAnswer {
    state: TopicState,
}

/// Typed calls to the control plane's `/v1` API.
///
/// ```no_run
/// # async fn demo() -> Result<(), rocketmq_migration::MigrationError> {
/// use rocketmq_migration::control::ControlApi;
/// use rocketmq_migration::Phase;
///
/// let api = ControlApi::new("http://127.0.0.1:7080", Some("admin-token".into()))?;
/// api.register(&["orders"], None).await?;
/// let moved = api.advance("orders", Phase::Initial, false).await?;
/// println!("{} -> {}", moved.from, moved.to);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ControlApi {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    actor: Option<String>,
}

impl ControlApi {
    /// A client of the control plane at `endpoint` sending `token` as `Authorization: Bearer`.
    pub fn new(endpoint: &str, token: Option<String>) -> Result<ControlApi, MigrationError> {
        Self::with_http(endpoint, token, reqwest::Client::builder())
    }

    /// Like [`ControlApi::new`], trusting `ca_pem` (a PEM CA certificate) for `https://` endpoints.
    pub fn with_ca(
        endpoint: &str,
        token: Option<String>,
        ca_pem: &[u8],
    ) -> Result<ControlApi, MigrationError> {
        let cert = reqwest::Certificate::from_pem(ca_pem).map_err(|e| {
            MigrationError::new(ErrorKind::Config, None, "CA certificate is not PEM").with_source(e)
        })?;
        Self::with_http(
            endpoint,
            token,
            reqwest::Client::builder().add_root_certificate(cert),
        )
    }

    fn with_http(
        endpoint: &str,
        token: Option<String>,
        http: reqwest::ClientBuilder,
    ) -> Result<ControlApi, MigrationError> {
        let http = http
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| {
                MigrationError::new(ErrorKind::Control, None, "build HTTP client").with_source(e)
            })?;
        Ok(ControlApi {
            base: endpoint.trim_end_matches('/').to_owned(),
            token,
            http,
            actor: None,
        })
    }

    /// Name the operator in the audit log of every change made through this client.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, MigrationError> {
        let url = format!("{}{}", self.base, path);
        let request = || {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            req
        };
        let what = format!("{method} {path}");
        let sent = match request().send().await {
            // A read sent on a kept-alive connection that the control plane closed (it restarted, or an idle
            // timeout between here and there) fails before any answer: send it once more, on a new connection.
            // Not when connecting failed (a new connection would fail the same way) or timed out. Only reads: a
            // change is never sent twice (its outcome is unknown, and a move is compare-and-set).
            Err(e) if method == Method::GET && !e.is_connect() && !e.is_timeout() => {
                tracing::debug!(error = %e, "{what}: retrying once on a new connection");
                request().send().await
            }
            other => other,
        };
        let resp = sent.map_err(|e| {
            MigrationError::new(ErrorKind::Control, None, format!("{what} at {}", self.base))
                .with_source(e)
        })?;
        let status = resp.status();
        if status.is_success() {
            if status == StatusCode::NO_CONTENT {
                return serde_json::from_str("null").map_err(|e| {
                    MigrationError::new(ErrorKind::Control, None, format!("{what}: empty answer"))
                        .with_source(e)
                });
            }
            return resp.json::<T>().await.map_err(|e| {
                MigrationError::new(
                    ErrorKind::Control,
                    None,
                    format!("{what}: unreadable answer"),
                )
                .with_source(e)
            });
        }
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str::<ErrorBody>(&text)
            .unwrap_or_else(|_| ErrorBody::new("http", text));
        let kind = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            ErrorKind::Unauthorized
        } else {
            ErrorKind::Refused
        };
        Err(MigrationError::new(kind, None, what).with_source(Refusal {
            status: status.as_u16(),
            body,
        }))
    }

    /// `GET /v1/phases`.
    pub async fn phases(&self) -> Result<PhasesDoc, MigrationError> {
        self.call(Method::GET, "/v1/phases", None::<&()>).await
    }

    /// `GET /v1/topics`: every topic with its readiness checks, clients and traffic.
    pub async fn topics(&self) -> Result<Vec<TopicView>, MigrationError> {
        Ok(self
            .call::<TopicsList>(Method::GET, "/v1/topics", None::<&()>)
            .await?
            .topics)
    }

    /// `POST /v1/topics/{topic}/health-check`: run the topic's readiness checks now (`GET /v1/topics` answers from
    /// the last background scan).
    pub async fn health_check(&self, topic: &str) -> Result<TopicView, MigrationError> {
        self.call(
            Method::POST,
            &topic_path(topic, "/health-check"),
            None::<&()>,
        )
        .await
    }

    /// `POST /v1/topics`.
    pub async fn register(
        &self,
        topics: &[&str],
        write_ratio: Option<f64>,
    ) -> Result<Vec<Registered>, MigrationError> {
        self.register_topics(RegisterTopics {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            write_ratio,
            ..Default::default()
        })
        .await
    }

    /// `POST /v1/topics` with every field of the request (e.g. `orderly`). The client's actor is used when the
    /// request names none.
    pub async fn register_topics(
        &self,
        mut req: RegisterTopics,
    ) -> Result<Vec<Registered>, MigrationError> {
        if req.actor.is_none() {
            req.actor = self.actor.clone();
        }
        Ok(self
            .call::<RegisteredList>(Method::POST, "/v1/topics", Some(&req))
            .await?
            .topics)
    }

    /// `PUT /v1/topics/{topic}/orderly`: mark `topic` orderly or not (only in `initial` or `dual_read`; 409
    /// `orderly_locked` otherwise).
    pub async fn set_orderly(
        &self,
        topic: &str,
        orderly: bool,
    ) -> Result<TopicState, MigrationError> {
        let req = OrderlyRequest {
            orderly,
            actor: self.actor.clone(),
        };
        self.put_topic(topic, "orderly", &req).await
    }

    /// `POST /v1/topics/{topic}/dlq-reviewed`: acknowledge the source's dead letters of the topic's groups as
    /// reviewed (check `source_dlq_reviewed` passes until more arrive).
    pub async fn review_dead_letters(
        &self,
        topic: &str,
    ) -> Result<DlqReviewResult, MigrationError> {
        let req = DlqReviewRequest {
            actor: self.actor.clone(),
        };
        self.call::<DlqReviewResult>(
            Method::POST,
            &topic_path(topic, "/dlq-reviewed"),
            Some(&req),
        )
        .await
    }

    /// `DELETE /v1/topics/{topic}` (only while `Initial`).
    pub async fn delete(&self, topic: &str) -> Result<(), MigrationError> {
        self.call::<()>(Method::DELETE, &topic_path(topic, ""), None::<&()>)
            .await
    }

    /// `POST /v1/topics/{topic}/advance`.
    pub async fn advance(
        &self,
        topic: &str,
        expected: Phase,
        force: bool,
    ) -> Result<MoveResult, MigrationError> {
        self.move_topic(topic, "advance", expected, force).await
    }

    /// `POST /v1/topics/{topic}/rollback`.
    pub async fn rollback(
        &self,
        topic: &str,
        expected: Phase,
        force: bool,
    ) -> Result<MoveResult, MigrationError> {
        self.move_topic(topic, "rollback", expected, force).await
    }

    async fn move_topic(
        &self,
        topic: &str,
        verb: &str,
        expected: Phase,
        force: bool,
    ) -> Result<MoveResult, MigrationError> {
        let req = MoveRequest {
            expected,
            force,
            actor: self.actor.clone(),
        };
        self.call(
            Method::POST,
            &topic_path(topic, &format!("/{verb}")),
            Some(&req),
        )
        .await
    }

    /// `POST /v1/topics:advance`: several topics one step forward in one table version (see
    /// [`BatchMoveRequest`]); per-topic results. The request's actor defaults to this API's.
    pub async fn advance_batch(
        &self,
        req: BatchMoveRequest,
    ) -> Result<BatchMoveResult, MigrationError> {
        self.move_batch("advance", req).await
    }

    /// `POST /v1/topics:rollback`: several topics one step back.
    pub async fn rollback_batch(
        &self,
        req: BatchMoveRequest,
    ) -> Result<BatchMoveResult, MigrationError> {
        self.move_batch("rollback", req).await
    }

    async fn move_batch(
        &self,
        verb: &str,
        mut req: BatchMoveRequest,
    ) -> Result<BatchMoveResult, MigrationError> {
        req.actor = req.actor.or_else(|| self.actor.clone());
        self.call(Method::POST, &format!("/v1/topics:{verb}"), Some(&req))
            .await
    }

    /// `PUT /v1/topics/{topic}/write-ratio`.
    pub async fn set_write_ratio(
        &self,
        topic: &str,
        write_ratio: f64,
    ) -> Result<TopicState, MigrationError> {
        let req = RatioRequest {
            write_ratio,
            actor: self.actor.clone(),
        };
        self.put_topic(topic, "write-ratio", &req).await
    }

    /// `PUT /v1/topics/{topic}/{setting}` with `req`: the topic's new state.
    async fn put_topic(
        &self,
        topic: &str,
        setting: &str,
        req: &impl Serialize,
    ) -> Result<TopicState, MigrationError> {
        Ok(self
            .call::<StateAnswer>(
                Method::PUT,
                &topic_path(topic, &format!("/{setting}")),
                Some(req),
            )
            .await?
            .state)
    }

    /// `GET /v1/clients`.
    pub async fn clients(&self) -> Result<Vec<ClientView>, MigrationError> {
        Ok(self
            .call::<ClientsList>(Method::GET, "/v1/clients", None::<&()>)
            .await?
            .clients)
    }

    /// `GET /v1/groups`.
    pub async fn groups(&self) -> Result<GroupsView, MigrationError> {
        self.call(Method::GET, "/v1/groups", None::<&()>).await
    }

    /// `GET /v1/monitor`: the migration monitoring series of `topic` (`None`: the whole task) since `since`
    /// (unix milliseconds, or a time ago such as `30m`, `6h`, `7d`), optionally merged into points of
    /// `resolution_s` seconds.
    pub async fn monitor(
        &self,
        topic: Option<&str>,
        since: &str,
        resolution_s: Option<u64>,
    ) -> Result<MonitorDoc, MigrationError> {
        let mut path = format!("/v1/monitor?since={}", segment(since));
        if let Some(t) = topic {
            path.push_str(&format!("&topic={}", segment(t)));
        }
        if let Some(r) = resolution_s {
            path.push_str(&format!("&resolution={r}"));
        }
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// `GET /v1/audit`, optionally for one topic, the last `limit` entries.
    pub async fn audit(
        &self,
        topic: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, MigrationError> {
        let mut path = format!("/v1/audit?limit={limit}");
        if let Some(t) = topic {
            path.push_str(&format!("&topic={}", segment(t)));
        }
        Ok(self
            .call::<AuditList>(Method::GET, &path, None::<&()>)
            .await?
            .entries)
    }

    /// `GET /v1/divergence`: live clients holding a newer table than the control plane (`None` when none).
    pub async fn divergence(&self) -> Result<Option<DivergenceView>, MigrationError> {
        self.call(Method::GET, "/v1/divergence", None::<&()>).await
    }

    /// `POST /v1/adopt`: resolve a divergence: take the clients' newest table, or (`force`) publish the control
    /// plane's own above every client's version. Refused (`not_diverged`) when no live client is ahead.
    pub async fn adopt(&self, force: bool) -> Result<AdoptResult, MigrationError> {
        let req = AdoptRequest {
            force,
            actor: self.actor.clone(),
        };
        self.call(Method::POST, "/v1/adopt", Some(&req)).await
    }
}

/// The migration task (`/v1/task...`; feature `admin`, as the task carries metadata and connection reports).
#[cfg(feature = "admin")]
impl ControlApi {
    /// `GET /v1/task`: the task and its next step's conditions checked now (`checks = false`: without them,
    /// which asks no broker).
    pub async fn task(&self, checks: bool) -> Result<TaskView, MigrationError> {
        let path = if checks {
            "/v1/task"
        } else {
            "/v1/task?checks=false"
        };
        self.call(Method::GET, path, None::<&()>).await
    }

    /// `POST /v1/task`: create the migration task (step `connect`) and claim the target. The request's actor
    /// defaults to this API's.
    pub async fn create_task(&self, mut req: CreateTask) -> Result<TaskView, MigrationError> {
        req.actor = req.actor.or_else(|| self.actor.clone());
        self.call(Method::POST, "/v1/task", Some(&req)).await
    }

    /// `POST /v1/task/advance`: enter the step after `expected` (refused with the failing conditions unless
    /// `force`).
    pub async fn advance_task(
        &self,
        expected: TaskStep,
        force: bool,
    ) -> Result<TaskView, MigrationError> {
        let req = TaskAdvance {
            expected,
            force,
            actor: self.actor.clone(),
        };
        self.call(Method::POST, "/v1/task/advance", Some(&req))
            .await
    }

    /// `POST /v1/task/pause`: refuse every phase move and write-ratio change until [`ControlApi::resume`].
    pub async fn pause(&self, reason: Option<&str>) -> Result<TaskDoc, MigrationError> {
        let req = PauseRequest {
            reason: reason.map(str::to_owned),
            actor: self.actor.clone(),
        };
        self.call(Method::POST, "/v1/task/pause", Some(&req)).await
    }

    /// `POST /v1/task/resume`.
    pub async fn resume(&self) -> Result<TaskDoc, MigrationError> {
        let req = PauseRequest {
            reason: None,
            actor: self.actor.clone(),
        };
        self.call(Method::POST, "/v1/task/resume", Some(&req)).await
    }

    /// `POST /v1/task/metadata`: import topics and groups into the target through the control plane; the report
    /// is kept with the task (unless a dry run). The request's actor defaults to this API's.
    pub async fn run_metadata(
        &self,
        mut req: MetadataRequest,
    ) -> Result<crate::metadata::ImportReport, MigrationError> {
        req.actor = req.actor.or_else(|| self.actor.clone());
        self.call(Method::POST, "/v1/task/metadata", Some(&req))
            .await
    }

    /// `GET /v1/task/endpoints`: per topic, its shim clients and the consumers outside the shim.
    pub async fn endpoints(&self) -> Result<EndpointsView, MigrationError> {
        self.call(Method::GET, "/v1/task/endpoints", None::<&()>)
            .await
    }

    /// `DELETE /v1/task`: drop the task and its claim on the target (while every topic is `initial`, or once the
    /// task is completed).
    pub async fn delete_task(&self) -> Result<(), MigrationError> {
        self.call(Method::DELETE, "/v1/task", None::<&()>).await
    }
}

/// The path of `topic`'s resource, `/v1/topics/{topic}` followed by `rest` (e.g. `/advance`).
fn topic_path(topic: &str, rest: &str) -> String {
    format!("/v1/topics/{}{rest}", segment(topic))
}

/// Percent-encode a topic name for a URL path segment or query value (names may hold `%` and `|`).
fn segment(topic: &str) -> String {
    let mut out = String::with_capacity(topic.len());
    for b in topic.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// Read one request's head (no body: the reads here have none); `false` when the peer closed first.
    fn read_head(conn: &mut BufReader<TcpStream>) -> bool {
        let mut line = String::new();
        loop {
            line.clear();
            match conn.read_line(&mut line) {
                Ok(0) | Err(_) => return false,
                Ok(_) if line == "\r\n" => return true,
                Ok(_) => {}
            }
        }
    }

    const ANSWER: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4\r\n\r\nnull";

    /// A control plane that restarted under a kept-alive connection: the first connection answers one request
    /// and closes on the next without an answer (what a client sees when the old server went away after the
    /// connection went back to the pool); every later connection answers normally.
    fn restarting_endpoint() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let stream = conn.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                while read_head(&mut reader) {
                    if n == 0 && w.write_all(ANSWER).is_ok() && read_head(&mut reader) {
                        // The second request on the first connection: closed unanswered.
                        break;
                    }
                    if n > 0 && w.write_all(ANSWER).is_err() {
                        break;
                    }
                }
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_read_on_a_connection_the_server_dropped_is_sent_again_on_a_new_one() {
        let api = ControlApi::new(&restarting_endpoint(), None).unwrap();
        assert!(api.divergence().await.unwrap().is_none());
        // Sent on the kept-alive first connection, which closes without answering: answered on a second one.
        assert!(api.divergence().await.unwrap().is_none());
        assert!(api.divergence().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_change_is_never_sent_twice() {
        let api = ControlApi::new(&restarting_endpoint(), Some("t".into())).unwrap();
        assert!(api.divergence().await.unwrap().is_none());
        let e = api.delete_task().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Control, "{e}");
    }
}
