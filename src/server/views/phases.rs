//! `GET /v1/phases`: the table with its version as the `ETag`, `304` when the request's `If-None-Match` names it,
//! a long-poll of up to `?wait=` seconds for the next table, or (`&watch=1`) the watch stream ([`super::watch`]).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::watch;
use crate::control::wire::PhasesDoc;
use crate::server::encoded::EncodedTable;
use crate::server::state::table::Published;

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

/// The table as the long-poll answers it: its JSON (encoded once per table, see [`crate::server::encoded`]) or `304`, with
/// its version as the `ETag`.
fn table_answer(encoded: &EncodedTable, doc: &Arc<PhasesDoc>, status: StatusCode) -> Response {
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
            encoded.json(doc),
        )
            .into_response()
    };
    r.headers_mut().insert(header::ETAG, etag);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The answer to `GET /v1/phases` with `headers`, a long-poll of `wait` (zero: none) and, with `watch`, as a
/// stream.
pub(crate) async fn answer(
    table: &Published,
    encoded: &Arc<EncodedTable>,
    headers: &HeaderMap,
    wait: Duration,
    watch: bool,
) -> Response {
    let matches = |doc: &PhasesDoc| if_none_match(headers, doc.version);
    let mut rx = table.watch();
    let current = rx.borrow_and_update().clone();
    if watch && !wait.is_zero() {
        let holds = matches(&current);
        return watch::answer(encoded.clone(), rx, current, holds, wait);
    }
    if !matches(&current) {
        return table_answer(encoded, &current, StatusCode::OK);
    }
    if !wait.is_zero() {
        let _ = tokio::time::timeout(wait, rx.changed()).await;
        let now = rx.borrow_and_update().clone();
        if !matches(&now) {
            return table_answer(encoded, &now, StatusCode::OK);
        }
    }
    table_answer(encoded, &current, StatusCode::NOT_MODIFIED)
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
