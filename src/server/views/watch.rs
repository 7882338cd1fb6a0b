//! The watch stream: `GET /v1/phases?wait=<s>&watch=1` answers once and keeps the answer open, writing every newly
//! published table to it as one line of JSON (`application/x-ndjson`) until the wait is over.
//!
//! A long-poll costs a client a response and a new request per move, and the control plane a response, a request
//! parse and a parked handler: with ten thousand clients, a move is ten thousand of each within a second. On the
//! stream a move is one write to each open answer and one read in each client (the way Kubernetes watches work).
//!
//! The first line goes out at once: the current table when the request's `If-None-Match` does not name it, else an
//! empty line. A client that sees nothing within a few seconds is behind a proxy that buffers answers and falls
//! back to long-polls (`X-Accel-Buffering: no` asks nginx not to). Lines are the bytes the long-poll answers
//! ([`crate::server::encoded`]): a move is still encoded once. The stream ends when the wait is over (the client asks
//! again at once, as after a long-poll that ended unchanged) or when the control plane stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch::Receiver;
use tokio::time::Instant;

use crate::control::wire::{PhasesDoc, WATCH_CONTENT_TYPE};
use crate::server::encoded::EncodedTable;

/// What the stream still has to do.
struct Open {
    encoded: Arc<EncodedTable>,
    rx: Receiver<Arc<PhasesDoc>>,
    /// The first line, until it is written.
    first: Option<Bytes>,
    /// The version last written or already held by the client: a table of the same version is not written again.
    sent: u64,
    until: Instant,
}

/// The answer to a watch: `current` is the table `rx` last marked seen, written first unless the client `holds`
/// it. A table published since is written next: the stream counts from `current`, not from what `rx` holds now.
pub(crate) fn answer(
    encoded: Arc<EncodedTable>,
    rx: Receiver<Arc<PhasesDoc>>,
    current: Arc<PhasesDoc>,
    holds: bool,
    wait: Duration,
) -> Response {
    let sent = current.version;
    let first = Some(if holds {
        Bytes::from_static(b"\n")
    } else {
        encoded.line(&current)
    });
    let open = Open {
        encoded,
        rx,
        first,
        sent,
        until: Instant::now() + wait,
    };
    let lines = futures_util::stream::unfold(open, |mut s| async move {
        if let Some(line) = s.first.take() {
            return Some((Ok::<_, Infallible>(line), s));
        }
        loop {
            match tokio::time::timeout_at(s.until, s.rx.changed()).await {
                Ok(Ok(())) => {
                    let doc = s.rx.borrow_and_update().clone();
                    if doc.version != s.sent {
                        s.sent = doc.version;
                        let line = s.encoded.line(&doc);
                        return Some((Ok(line), s));
                    }
                }
                // The wait is over, or the control plane is closing.
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    });
    let mut r = Body::from_stream(lines).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(WATCH_CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}
