//! Bounds on everything the control plane reads from the network: request body sizes per route, path parameters,
//! query strings, names and counts in every request document, and the number of clients the registry holds.
//!
//! Every refusal answers with the API's JSON error ([`ErrorBody`]) naming the field and the value at fault (a long
//! value is shown cut short, with its length): `413 body_too_large` for a body over its route's limit, `400
//! invalid_request` for the rest, `503 too_many_clients` when the registry is full. Each kind of input has one
//! check here; the routes call them through `body_limit` (sizes, path parameters, query strings, extractor
//! rejections) and [`Bounded::check`] (documents, when a body is parsed).
//!
//! Limits and why:
//!
//! | input | limit | why |
//! |---|---|---|
//! | request body | [`BODY_BYTES`] (1 MiB) | moves, ratios, heartbeats, registrations are a few hundred bytes; the largest legitimate one (a heartbeat naming [`MAX_HEARTBEAT_TOPICS`] topics of 127 characters) stays below 1 MiB |
//! | metadata import body | [`METADATA_BODY_BYTES`] (64 MiB) | an `mqadmin exportMetadata` file weighs ~215 bytes per topic and ~450-590 per group: 100,000 topics and 60,000 groups fit |
//! | topic name | [`MAX_TOPIC_LEN`] (127), `[%\|a-zA-Z0-9_-]` | RocketMQ's `TopicValidator` (namespaced names carry `%`) |
//! | names in heartbeats and filters | [`MAX_NAME_LEN`] (255) | RocketMQ's `Validators.CHARACTER_MAX_LENGTH` for groups; reports are checked for length only, so a client is never made invisible by a name the broker took |
//! | client id | [`MAX_CLIENT_ID_LEN`] (512) | `<application>@<host>/<pid>/<role>-<n>`: an application name and a host name of 255 each |
//! | topics per registration | [`MAX_REGISTER`] (1,000) | one table version and one synced audit line per topic, like a batch move |
//! | per-topic entries per heartbeat | [`MAX_HEARTBEAT_TOPICS`] (1,024) | per list or map (`topics`, `applied`, `per_topic`, `pinned`) |
//! | clients held | [`MAX_CLIENTS`] (100,000) | ten times the 10,000 the control plane is sized for; clients no longer live are forgotten first |
//! | audit entries per request | [`MAX_AUDIT_LIMIT`] (10,000) | |
//! | query string | [`MAX_QUERY_BYTES`] (4 KiB) | the longest legitimate one names a topic and a time |

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, MatchedPath, RawPathParams, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{RequestExt, Router};
use serde::de::DeserializeOwned;

use super::error::{error_body, ApiError};
use super::registry::Registry;
use crate::control::wire::{
    AdoptRequest, BatchMoveRequest, ClientTable, CreateTask, DlqReviewRequest, ErrorBody,
    Heartbeat, MetadataRequest, MoveRequest, OrderlyRequest, PauseRequest, RatioRequest,
    RegisterTopics, TaskAdvance,
};

/// Most topics one batch move or registration names: one table version and one synced audit line per topic.
const MAX_BATCH: usize = 1_000;

/// Largest request body of every route but the metadata import (1 MiB).
pub const BODY_BYTES: usize = 1 << 20;
/// Largest request body of `POST /v1/task/metadata`, which may carry a whole `mqadmin exportMetadata` file
/// (64 MiB).
pub const METADATA_BODY_BYTES: usize = 64 << 20;
/// Longest query string (4 KiB).
pub const MAX_QUERY_BYTES: usize = 4 << 10;
/// Longest topic name: RocketMQ's `TopicValidator.TOPIC_MAX_LENGTH`.
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest group, application, namespace or reported topic name: RocketMQ's `Validators.CHARACTER_MAX_LENGTH`.
pub const MAX_NAME_LEN: usize = 255;
/// Longest client id (a broker client id is shorter).
pub const MAX_CLIENT_ID_LEN: usize = 512;
/// Longest `actor` (the request field or the `X-Actor` header), as the audit log records it.
pub const MAX_ACTOR_LEN: usize = 256;
/// Longest free text: a task's cluster descriptions, a pause reason.
pub const MAX_TEXT_LEN: usize = 4 << 10;
/// Longest `status_reason` of a heartbeat (the reasons are short codes).
pub const MAX_STATUS_REASON_LEN: usize = 64;
/// Most topics one registration names (the same bound as a batch move).
pub const MAX_REGISTER: usize = MAX_BATCH;
/// Most topics one batch move lists.
pub const MAX_BATCH_TOPICS: usize = MAX_BATCH;
/// Most entries of each per-topic list or map of one heartbeat (`topics`, `applied`, `per_topic`, `pinned`).
pub const MAX_HEARTBEAT_TOPICS: usize = 1_024;
/// Most broker client ids one heartbeat lists per cluster.
pub const MAX_BROKER_CLIENTS: usize = 64;
/// Most topic or group names the metadata import's filters list.
pub const MAX_METADATA_FILTER: usize = 100_000;
/// Most clients the registry holds; beyond it a new client's heartbeat is refused (clients no longer live are
/// forgotten first).
pub const MAX_CLIENTS: usize = 100_000;
/// Most audit entries one `GET /v1/audit` returns.
pub const MAX_AUDIT_LIMIT: usize = 10_000;
/// Longest long-poll a client may ask for (`?wait=`; a longer one is cut to this).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A value as an error message shows it: quoted, cut after 64 characters with its length.
fn shown(value: &str) -> String {
    const SHOWN: usize = 64;
    match value.char_indices().nth(SHOWN) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} characters)",
            &value[..cut],
            value.chars().count()
        ),
    }
}

fn invalid(message: String) -> ErrorBody {
    error_body("invalid_request", message)
}

/// A topic to register or to act on: RocketMQ's rule, 1..=127 characters of `[%|a-zA-Z0-9_-]`.
pub(crate) fn topic_name(field: &str, topic: &str) -> Result<(), ErrorBody> {
    let ok = !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && topic
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'%' | b'|' | b'_' | b'-'));
    if ok {
        return Ok(());
    }
    Err(invalid(format!(
        "{field}: {} is not a valid topic name (1-{MAX_TOPIC_LEN} characters of A-Z a-z 0-9 % | _ -)",
        shown(topic)
    )))
}

/// A string of at most `max` characters (`required`: and not blank).
pub(crate) fn text(field: &str, value: &str, max: usize, required: bool) -> Result<(), ErrorBody> {
    if required && value.trim().is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    let n = value.chars().count();
    if n > max {
        return Err(invalid(format!(
            "{field} = {}: at most {max} characters",
            shown(value)
        )));
    }
    Ok(())
}

/// A list or map of `n` entries, at most `max`.
pub(crate) fn count(field: &str, n: usize, max: usize) -> Result<(), ErrorBody> {
    if n > max {
        return Err(invalid(format!("{field}: {n} entries, at most {max}")));
    }
    Ok(())
}

/// The optional `actor` of a request document.
pub(crate) fn actor(actor: Option<&str>) -> Result<(), ErrorBody> {
    actor.map_or(Ok(()), |a| text("field \"actor\"", a, MAX_ACTOR_LEN, false))
}

/// `?wait=` of `GET /v1/phases`: seconds, a long-poll of at most [`MAX_WAIT`] (a longer one is cut to it).
pub(crate) fn wait(value: Option<&str>) -> Result<Duration, ApiError> {
    let Some(w) = value else {
        return Ok(Duration::ZERO);
    };
    w.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        // Clamped before the conversion: `from_secs_f64` panics beyond `Duration::MAX`.
        .map(|s| Duration::from_secs_f64(s.min(MAX_WAIT.as_secs_f64())))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "query parameter \"wait\" = {}: must be a number of seconds within 0..={}",
                shown(w),
                MAX_WAIT.as_secs()
            ))
        })
}

/// A yes/no query parameter such as `?watch=`: absent, `0` or `false` is no, `1` or `true` is yes.
pub(crate) fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!(
            "query parameter {name:?} = {}: must be 1, 0, true or false",
            shown(v)
        ))),
    }
}

/// `?limit=` of `GET /v1/audit` (default 100, at most [`MAX_AUDIT_LIMIT`]).
pub(crate) fn audit_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if n <= MAX_AUDIT_LIMIT => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "query parameter \"limit\" = {n}: at most {MAX_AUDIT_LIMIT} entries per request"
        ))),
    }
}

/// Room in `registry` for a heartbeat of `client_id`: a known client always, a new one while fewer than
/// [`MAX_CLIENTS`] are held (after forgetting the clients no longer live).
pub(crate) fn registry_room(registry: &Registry, client_id: &str) -> Result<(), ApiError> {
    room(registry, client_id, MAX_CLIENTS)
}

fn room(registry: &Registry, client_id: &str, max: usize) -> Result<(), ApiError> {
    if registry.admits(client_id, max) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_clients",
        format!(
            "heartbeat of client_id {}: the control plane holds {max} live clients, its limit; it is \
             recorded once others stop",
            shown(client_id)
        ),
    ))
}

/// A request document whose names, texts and counts are bounded. The routes check it right after parsing.
#[doc(hidden)]
pub trait Bounded: DeserializeOwned {
    /// Whether the document is within the limits; the error names the field and the value at fault.
    fn check(&self) -> Result<(), ErrorBody>;
}

/// The server's reading of a request body: JSON into `T`, then [`Bounded::check`]. For the fuzz test
/// (`tests/fuzz_wire.rs`); the routes read with axum's `Json` and then check the same way.
#[doc(hidden)]
pub fn parse<T: Bounded>(body: &[u8]) -> Result<T, ErrorBody> {
    let doc: T = serde_json::from_slice(body).map_err(|e| invalid(format!("request body: {e}")))?;
    doc.check()?;
    Ok(doc)
}

impl Bounded for RegisterTopics {
    fn check(&self) -> Result<(), ErrorBody> {
        count("field \"topics\"", self.topics.len(), MAX_REGISTER)?;
        for t in &self.topics {
            topic_name("field \"topics\"", t)?;
        }
        actor(self.actor.as_deref())
    }
}

impl Bounded for BatchMoveRequest {
    fn check(&self) -> Result<(), ErrorBody> {
        count("field \"topics\"", self.topics.len(), MAX_BATCH_TOPICS)?;
        for t in &self.topics {
            topic_name("field \"topics\"", &t.topic)?;
        }
        actor(self.actor.as_deref())
    }
}

/// Documents whose only free input is their `actor`.
macro_rules! actor_only {
    ($($t:ty),+) => {$(
        impl Bounded for $t {
            fn check(&self) -> Result<(), ErrorBody> {
                actor(self.actor.as_deref())
            }
        }
    )+};
}

actor_only!(
    MoveRequest,
    RatioRequest,
    OrderlyRequest,
    DlqReviewRequest,
    TaskAdvance,
    AdoptRequest
);

impl Bounded for CreateTask {
    fn check(&self) -> Result<(), ErrorBody> {
        // The name's own rule (1-64 printable characters) is the task's: `task::create`.
        text("field \"name\"", &self.name, MAX_NAME_LEN, false)?;
        text(
            "field \"source_description\"",
            &self.source_description,
            MAX_TEXT_LEN,
            false,
        )?;
        text(
            "field \"target_description\"",
            &self.target_description,
            MAX_TEXT_LEN,
            false,
        )?;
        actor(self.actor.as_deref())
    }
}

impl Bounded for PauseRequest {
    fn check(&self) -> Result<(), ErrorBody> {
        if let Some(r) = &self.reason {
            text("field \"reason\"", r, MAX_TEXT_LEN, false)?;
        }
        actor(self.actor.as_deref())
    }
}

impl Bounded for MetadataRequest {
    fn check(&self) -> Result<(), ErrorBody> {
        // The file itself is bounded by the route's body size and read by `metadata::parse`.
        count("field \"topics\"", self.topics.len(), MAX_METADATA_FILTER)?;
        for t in &self.topics {
            text("field \"topics\"", t, MAX_NAME_LEN, true)?;
        }
        count("field \"groups\"", self.groups.len(), MAX_METADATA_FILTER)?;
        for g in &self.groups {
            text("field \"groups\"", g, MAX_NAME_LEN, true)?;
        }
        actor(self.actor.as_deref())
    }
}

impl Bounded for ClientTable {
    fn check(&self) -> Result<(), ErrorBody> {
        // The body is bounded by its route (a client's table, at most `MAX_TABLE_BYTES`); each state must be one
        // the control plane could have published.
        text(
            "field \"client_id\"",
            &self.client_id,
            MAX_CLIENT_ID_LEN,
            true,
        )?;
        for (t, s) in &self.table.topics {
            topic_name("field \"table.topics\"", t)?;
            s.validate()
                .map_err(|e| invalid(format!("field \"table.topics\" {t:?}: {e}")))?;
        }
        for t in self.table.dlq_reviewed.keys() {
            topic_name("field \"table.dlq_reviewed\"", t)?;
        }
        Ok(())
    }
}

impl Bounded for Heartbeat {
    fn check(&self) -> Result<(), ErrorBody> {
        // Lengths only: a report is never refused for a name the brokers accepted.
        text(
            "heartbeat field \"client_id\"",
            &self.client_id,
            MAX_CLIENT_ID_LEN,
            true,
        )?;
        text("heartbeat field \"group\"", &self.group, MAX_NAME_LEN, true)?;
        text(
            "heartbeat field \"application\"",
            &self.application,
            MAX_NAME_LEN,
            false,
        )?;
        fn topics<'a>(
            field: &str,
            mut names: impl ExactSizeIterator<Item = &'a String>,
        ) -> Result<(), ErrorBody> {
            count(field, names.len(), MAX_HEARTBEAT_TOPICS)?;
            names.try_for_each(|t| text(field, t, MAX_NAME_LEN, true))
        }
        topics("heartbeat field \"topics\"", self.topics.iter())?;
        topics("heartbeat field \"applied\"", self.applied.keys())?;
        topics("heartbeat field \"per_topic\"", self.per_topic.keys())?;
        topics("heartbeat field \"pinned\"", self.pinned.iter())?;
        if let Some(r) = &self.status_reason {
            text(
                "heartbeat field \"status_reason\"",
                r,
                MAX_STATUS_REASON_LEN,
                false,
            )?;
        }
        for (field, ids) in [
            (
                "heartbeat field \"broker_clients.source\"",
                &self.broker_clients.source,
            ),
            (
                "heartbeat field \"broker_clients.target\"",
                &self.broker_clients.target,
            ),
        ] {
            count(field, ids.len(), MAX_BROKER_CLIENTS)?;
            ids.iter()
                .try_for_each(|id| text(field, id, MAX_CLIENT_ID_LEN, false))?;
        }
        for (field, ns) in [
            (
                "heartbeat field \"namespaces.source\"",
                &self.namespaces.source,
            ),
            (
                "heartbeat field \"namespaces.target\"",
                &self.namespaces.target,
            ),
        ] {
            if let Some(ns) = ns {
                text(field, ns, MAX_NAME_LEN, false)?;
            }
        }
        Ok(())
    }
}

/// Bound `router`'s requests: bodies at `limit` bytes (axum's [`DefaultBodyLimit`], and [`guard`] for the JSON
/// answer), path parameters and query strings; add routes after this call to give them another limit.
pub(crate) fn body_limit<S>(router: Router<S>, limit: usize) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(limit, guard))
}

/// The body size, path parameters and query string of a request, before its handler runs; and the extractors'
/// plain-text rejections after it, turned into the API's JSON error.
async fn guard(State(limit): State<usize>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let what = format!("{} {route}", req.method());
    let too_large = |size: String| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body of {size}: {what} accepts at most {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        if n > limit as u64 {
            return too_large(format!("{n} bytes")).into_response();
        }
    } else if req.body().size_hint().exact() != Some(0) {
        // No length declared (chunked): read it here, up to the limit, to answer with the size.
        let mut body = std::mem::take(req.body_mut());
        let mut read = Vec::new();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let Ok(frame) = frame else {
                return ApiError::bad_request("request body: could not be read to its end")
                    .into_response();
            };
            if let Ok(data) = frame.into_data() {
                if read.len() + data.len() > limit {
                    return too_large(format!("more than {limit} bytes (sent without a length)"))
                        .into_response();
                }
                read.extend_from_slice(&data);
            }
        }
        *req.body_mut() = Body::from(read);
    }
    if let Some(a) = req.headers().get("x-actor") {
        if let Err(e) = text(
            "header \"X-Actor\"",
            &String::from_utf8_lossy(a.as_bytes()),
            MAX_ACTOR_LEN,
            false,
        ) {
            return ApiError::invalid(e).into_response();
        }
    }
    if let Some(q) = req.uri().query() {
        if q.len() > MAX_QUERY_BYTES {
            return ApiError::bad_request(format!(
                "query string of {} bytes: at most {MAX_QUERY_BYTES}",
                q.len()
            ))
            .into_response();
        }
    }
    match req.extract_parts::<RawPathParams>().await {
        Ok(params) => {
            for (name, value) in &params {
                if name == "topic" {
                    if let Err(e) = topic_name("path parameter \"topic\"", value) {
                        return ApiError::invalid(e).into_response();
                    }
                }
            }
        }
        Err(e) => return ApiError::bad_request(format!("path: {}", e.body_text())).into_response(),
    }
    as_json_error(next.run(req).await).await
}

/// An extractor's rejection (a 4xx in plain text: a query string that does not parse, a body of the wrong type)
/// as the API's JSON error; any other answer as it is.
async fn as_json_error(r: Response) -> Response {
    let plain = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !r.status().is_client_error() || !plain {
        return r;
    }
    let status = r.status();
    let text = axum::body::to_bytes(r.into_body(), 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        "invalid_request"
    };
    ApiError::new(status, code, text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<(), ErrorBody>) -> String {
        r.err().map(|e| e.error).unwrap_or_default()
    }

    #[test]
    fn topic_names_follow_rocketmqs_rule() {
        for ok in [
            "orders",
            "ns%orders",
            "a|b",
            "A-z_09",
            &"t".repeat(MAX_TOPIC_LEN),
        ] {
            assert!(topic_name("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a.b",
            "a b",
            "ordérs",
            "a/b",
            &"t".repeat(MAX_TOPIC_LEN + 1),
        ] {
            assert_eq!(kind(topic_name("f", bad)), "invalid_request", "{bad:?}");
        }
        let e = topic_name("field \"topics\"", &"x".repeat(1000)).unwrap_err();
        assert!(
            e.message.contains("field \"topics\"") && e.message.contains("1000 characters"),
            "{}",
            e.message
        );
        assert!(e.message.len() < 300, "the value is cut: {}", e.message);
    }

    #[test]
    fn texts_and_counts_are_bounded() {
        assert!(text("f", "abc", 3, true).is_ok());
        assert!(text("f", "ééé", 3, true).is_ok(), "characters, not bytes");
        assert_eq!(kind(text("f", "abcd", 3, true)), "invalid_request");
        assert_eq!(kind(text("f", "  ", 3, true)), "invalid_request");
        assert!(text("f", "", 3, false).is_ok());
        assert!(count("f", 3, 3).is_ok());
        assert_eq!(kind(count("f", 4, 3)), "invalid_request");
        assert!(actor(None).is_ok());
        assert_eq!(
            kind(actor(Some(&"a".repeat(MAX_ACTOR_LEN + 1)))),
            "invalid_request"
        );
    }

    #[test]
    fn registrations_are_bounded_in_count_and_names() {
        let reg = |topics: Vec<String>| RegisterTopics {
            topics,
            ..Default::default()
        };
        assert!(reg(vec!["a".into(), "ns%b".into()]).check().is_ok());
        let many = (0..=MAX_REGISTER).map(|i| format!("t{i}")).collect();
        let e = reg(many).check().unwrap_err();
        assert!(
            e.message.contains(&format!("{} entries", MAX_REGISTER + 1)),
            "{}",
            e.message
        );
        assert_eq!(kind(reg(vec!["a.b".into()]).check()), "invalid_request");
    }

    fn heartbeat() -> Heartbeat {
        serde_json::from_value(serde_json::json!({
            "client_id": "app@host/1/producer-0", "application": "app", "role": "producer", "group": "g",
            "topics": ["orders"], "applied": {"orders": {"phase": "initial", "version": 1}},
            "counters": {"source": {"sent": 0, "received": 0, "failed_over": 0, "failed": 0,
                "duplicates_suppressed": 0}, "target": {"sent": 0, "received": 0, "failed_over": 0, "failed": 0,
                "duplicates_suppressed": 0}}
        }))
        .unwrap()
    }

    #[test]
    fn heartbeats_are_bounded_in_lengths_and_entries() {
        assert!(heartbeat().check().is_ok());
        let mut hb = heartbeat();
        hb.client_id = " ".into();
        assert!(hb.check().unwrap_err().message.contains("client_id"));
        let mut hb = heartbeat();
        hb.group = "g".repeat(MAX_NAME_LEN + 1);
        assert!(hb.check().unwrap_err().message.contains("group"));
        let mut hb = heartbeat();
        hb.topics = (0..=MAX_HEARTBEAT_TOPICS)
            .map(|i| format!("t{i}"))
            .collect();
        assert!(hb.check().unwrap_err().message.contains("\"topics\""));
        let mut hb = heartbeat();
        hb.broker_clients.target = vec!["x".into(); MAX_BROKER_CLIENTS + 1];
        assert!(hb
            .check()
            .unwrap_err()
            .message
            .contains("broker_clients.target"));
        let mut hb = heartbeat();
        hb.status_reason = Some("r".repeat(MAX_STATUS_REASON_LEN + 1));
        assert!(hb.check().unwrap_err().message.contains("status_reason"));
    }

    #[test]
    fn parse_refuses_bad_json_and_out_of_bounds_documents() {
        assert!(parse::<RegisterTopics>(br#"{"topics":["a"]}"#).is_ok());
        assert_eq!(
            parse::<RegisterTopics>(b"{").unwrap_err().error,
            "invalid_request"
        );
        assert_eq!(
            parse::<RegisterTopics>(br#"{"topics":["a b"]}"#)
                .unwrap_err()
                .error,
            "invalid_request"
        );
    }

    #[test]
    fn wait_is_clamped_and_never_panics() {
        assert_eq!(wait(None).unwrap(), Duration::ZERO);
        assert_eq!(wait(Some("1.5")).unwrap(), Duration::from_millis(1500));
        assert_eq!(wait(Some("1e300")).unwrap(), MAX_WAIT);
        for bad in ["-1", "NaN", "inf", "x", ""] {
            assert_eq!(wait(Some(bad)).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_flag_is_one_of_four_words_and_an_error_names_the_parameter() {
        assert!(!flag("watch", None).unwrap());
        assert!(!flag("watch", Some("0")).unwrap());
        assert!(!flag("watch", Some("false")).unwrap());
        assert!(flag("watch", Some("1")).unwrap());
        assert!(flag("watch", Some("true")).unwrap());
        let e = flag("watch", Some("yes")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.body.message.contains("\"watch\"") && e.body.message.contains("\"yes\""),
            "{}",
            e.body.message
        );
    }

    #[test]
    fn audit_limit_is_bounded() {
        assert_eq!(audit_limit(None).unwrap(), 100);
        assert_eq!(audit_limit(Some(MAX_AUDIT_LIMIT)).unwrap(), MAX_AUDIT_LIMIT);
        let e = audit_limit(Some(MAX_AUDIT_LIMIT + 1)).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.body.message.contains("\"limit\" = 10001"));
    }

    #[test]
    fn the_registry_admits_known_clients_and_refuses_new_ones_beyond_the_bound() {
        let registry = Registry::new(Duration::from_secs(60));
        for i in 0..3 {
            let mut hb = heartbeat();
            hb.client_id = format!("c{i}");
            assert!(room(&registry, &hb.client_id, 3).is_ok());
            registry.record(hb);
        }
        assert!(room(&registry, "c1", 3).is_ok(), "a known client");
        let e = room(&registry, "c3", 3).unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.body.error, "too_many_clients");
        assert!(e.body.message.contains("\"c3\""));
    }

    #[test]
    fn clients_no_longer_live_make_room() {
        let registry = Registry::new(Duration::from_millis(1));
        let mut hb = heartbeat();
        hb.client_id = "old".into();
        registry.record(hb);
        std::thread::sleep(Duration::from_millis(5));
        assert!(room(&registry, "new", 1).is_ok());
    }
}
