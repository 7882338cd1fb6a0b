//! `ApiError`: a refusal or failure of the API, and the HTTP answer it becomes (the status, the JSON
//! [`ErrorBody`], and `WWW-Authenticate: Bearer` on a 401).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::control::wire::{DivergenceView, ErrorBody};
use crate::error::MigrationError;
use crate::phase::Phase;

/// A refusal or failure, as the HTTP answer it becomes.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) body: ErrorBody,
}

/// An error body naming `code`, with no phase and no checks.
pub(crate) fn error_body(code: &str, message: impl Into<String>) -> ErrorBody {
    ErrorBody {
        error: code.to_owned(),
        message: message.into(),
        current: None,
        checks: Vec::new(),
    }
}

impl ApiError {
    /// An answer of `status` naming `code`.
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: error_body(code, message),
        }
    }

    /// `400 invalid_request`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A document refused by its limits (400).
    pub(crate) fn invalid(body: ErrorBody) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body,
        }
    }

    /// `409` naming `code`: the change cannot be made in the current state.
    pub(crate) fn conflict(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// `502 cluster_unavailable`: a cluster could not be asked.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_GATEWAY, "cluster_unavailable", message)
    }

    /// `404 unknown_topic`.
    pub(crate) fn unknown_topic(topic: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_topic",
            format!("topic {topic:?} is not registered for migration"),
        )
    }

    /// `404 no_task`: no migration task was created.
    pub(crate) fn no_task() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_task",
            "no migration task: create one with POST /v1/task (rmq-migrate task create)",
        )
    }

    /// The same error, naming the topic's current phase.
    pub(crate) fn at(mut self, phase: Phase) -> Self {
        self.body.current = Some(phase);
        self
    }

    /// The state file could not be replaced: nothing changed (logged).
    pub(crate) fn storage(e: MigrationError) -> Self {
        tracing::error!(error = %e, "control plane: state change not saved; nothing changed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage",
            format!("state not saved, nothing changed: {e}"),
        )
    }

    /// The refusal of a table change while clients hold a newer table.
    pub(crate) fn diverged(d: &DivergenceView) -> Self {
        ApiError::conflict(
            "diverged",
            format!(
                "{} live client(s) (e.g. {}) hold a newer phase table than this control plane (version {}; newest \
                 client version {}): it was restored from an older or missing state file. Nothing changed. Run \
                 `rmq-migrate adopt` to take the clients' newest table, or `rmq-migrate adopt --force` to publish this \
                 control plane's own table above theirs",
                d.clients_ahead,
                d.clients.first().map_or("?", String::as_str),
                d.table_version,
                d.newest_client_version
            ),
        )
    }
}

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
