//! What a route reads of a request besides its path and query: the token it needs, the document in its body
//! (parsed and bounded, see [`super::limits`]) and who asks, for the audit log. [`Reader`] guards a read;
//! [`Change`] reads a request [`Document`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::app::App;
use super::auth::Access;
use super::error::ApiError;
use super::limits::{self, Bounded};
use crate::control::wire::{
    AdoptRequest, BatchMoveRequest, ClientTable, CreateTask, DlqReviewRequest, Heartbeat,
    MetadataRequest, MoveRequest, OrderlyRequest, PauseRequest, RatioRequest, RegisterTopics,
    TaskAdvance,
};

/// `401 unauthorized` unless the request's token grants `need`.
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

/// Who asks, as the audit log names them: the request's `actor` (or else its `X-Actor` header) and its peer.
fn actor(given: Option<&str>, headers: &HeaderMap, peer: SocketAddr) -> String {
    given
        .or_else(|| headers.get("x-actor").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map_or_else(|| format!("peer {peer}"), |a| format!("{a} ({peer})"))
}

/// The caller of a read: it holds the client token (or the admin token) when one is configured.
pub(crate) struct Reader;

impl FromRequestParts<Arc<App>> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        require(app, &parts.headers, Access::Client).map(|()| Reader)
    }
}

/// A body as read, made into the document `T` within its limits.
pub(crate) trait Parse<T> {
    /// The document, or the answer refusing it.
    fn parse(self) -> Result<T, ApiError>;
}

/// A JSON body within its limits (see [`limits`]).
impl<T: Bounded> Parse<T> for Result<Json<T>, JsonRejection> {
    fn parse(self) -> Result<T, ApiError> {
        let t = self.map(|Json(t)| t).map_err(|e| {
            let (status, code) = match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
                _ => (StatusCode::BAD_REQUEST, "invalid_request"),
            };
            ApiError::new(status, code, format!("request body: {}", e.body_text()))
        })?;
        t.check().map_err(ApiError::invalid)?;
        Ok(t)
    }
}

/// A JSON body that may be left out entirely (then `T::default()`).
impl<T: Default + Bounded> Parse<T> for Bytes {
    fn parse(self) -> Result<T, ApiError> {
        if self.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        limits::parse(&self).map_err(ApiError::invalid)
    }
}

/// No document: the body is not read.
pub(crate) struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = Infallible;

    async fn from_request(_: Request, _: &S) -> Result<Self, Infallible> {
        Ok(NoBody)
    }
}

impl Parse<NoBody> for NoBody {
    fn parse(self) -> Result<NoBody, ApiError> {
        Ok(self)
    }
}

/// A request document a route reads from its body.
pub(crate) trait Document: Sized + Send {
    /// The token a request with this document needs.
    const ACCESS: Access;
    /// The body as read (before the token is checked, as every route always did).
    type Raw: FromRequest<Arc<App>> + Parse<Self> + Send;

    /// The `actor` the document names.
    fn actor(&self) -> Option<&str> {
        None
    }
}

/// A JSON body.
type JsonBody<T> = Result<Json<T>, JsonRejection>;

/// Documents of changes, which need the admin token and may name their actor: `document => raw body`.
macro_rules! changes {
    ($($t:ty => $raw:ty),+ $(,)?) => {$(
        impl Document for $t {
            const ACCESS: Access = Access::Admin;
            type Raw = $raw;

            fn actor(&self) -> Option<&str> {
                self.actor.as_deref()
            }
        }
    )+};
}

changes!(
    RegisterTopics => JsonBody<RegisterTopics>,
    MoveRequest => JsonBody<MoveRequest>,
    BatchMoveRequest => JsonBody<BatchMoveRequest>,
    RatioRequest => JsonBody<RatioRequest>,
    OrderlyRequest => JsonBody<OrderlyRequest>,
    DlqReviewRequest => JsonBody<DlqReviewRequest>,
    AdoptRequest => JsonBody<AdoptRequest>,
    CreateTask => JsonBody<CreateTask>,
    TaskAdvance => JsonBody<TaskAdvance>,
    PauseRequest => Bytes,
    MetadataRequest => Bytes,
);

/// A change without a document (`DELETE`).
impl Document for NoBody {
    const ACCESS: Access = Access::Admin;
    type Raw = NoBody;
}

/// A client's report.
impl Document for Heartbeat {
    const ACCESS: Access = Access::Client;
    type Raw = JsonBody<Heartbeat>;
}

/// A client's table.
impl Document for ClientTable {
    const ACCESS: Access = Access::Client;
    type Raw = JsonBody<ClientTable>;
}

/// A request's document `D`: the body read, the token checked, the document parsed within its limits; for a
/// change, who asks (`who`, for the audit log; empty for a client's document).
pub(crate) struct Change<D> {
    /// The document.
    pub(crate) doc: D,
    /// Who asks, as the audit log names them.
    pub(crate) who: String,
}

impl<D: Document> FromRequest<Arc<App>> for Change<D> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let peer = match D::ACCESS {
            Access::Admin => Some(
                ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, app)
                    .await
                    .map_err(IntoResponse::into_response)?
                    .0,
            ),
            Access::Client => None,
        };
        let headers = parts.headers.clone();
        let raw = D::Raw::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(IntoResponse::into_response)?;
        let checked = require(app, &headers, D::ACCESS).and_then(|()| raw.parse());
        let doc = checked.map_err(IntoResponse::into_response)?;
        let who = peer.map_or_else(String::new, |peer| actor(doc.actor(), &headers, peer));
        Ok(Change { doc, who })
    }
}
