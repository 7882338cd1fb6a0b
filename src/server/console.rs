//! The web console: a single page over the `/v1` API, served at `/` from assets embedded in the binary.
//!
//! The files under `console/` (plain JavaScript modules, one stylesheet, and the vendored uPlot chart library in
//! `console/vendor/`) are compiled in with `include_str!`, so `rmq-migrate serve` needs no separate web server and the
//! page works offline: nothing is fetched from anywhere but the control plane itself. Every answer carries a
//! Content-Security-Policy that allows scripts, styles, images and connections from the control plane only.
//!
//! The page reads with the same API a script would; actions ask for the admin token, keep it in the browser's
//! session storage only, and send it as `Authorization: Bearer`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Only the control plane itself: no inline script, no CDN, no framing by another site.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// One embedded file: its path under `/`, its content type and its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every file of the console, as served.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../console/index.html"),
    },
    Asset {
        path: "/console/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/app.js"),
    },
    Asset {
        path: "/console/api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/api.js"),
    },
    Asset {
        path: "/console/views.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/views.js"),
    },
    Asset {
        path: "/console/console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/console.css"),
    },
    Asset {
        path: "/console/vendor/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "/console/vendor/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/vendor/uPlot.min.css"),
    },
];

/// The console's routes (`/` and `/console/...`), to merge into the API's router.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new();
    for a in ASSETS {
        r = r.route(a.path, get(move || async move { serve(a) }));
    }
    r
}

/// Answer one asset with its content type, the CSP, and no caching beyond revalidation (the binary may change).
fn serve(a: &'static Asset) -> Response {
    let mut r = (StatusCode::OK, a.body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_names_is_served() {
        let index = ASSETS[0].body;
        for a in &ASSETS[1..] {
            if a.path.ends_with(".js") && !a.path.contains("vendor") && a.path != "/console/app.js"
            {
                // Modules imported by app.js, not named by the page.
                let app = ASSETS.iter().find(|x| x.path == "/console/app.js").unwrap();
                let name = a.path.rsplit('/').next().unwrap();
                assert!(
                    app.body.contains(&format!("./{name}")),
                    "{name} is imported"
                );
                continue;
            }
            assert!(index.contains(a.path), "index.html names {}", a.path);
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_remote_asset() {
        let index = ASSETS[0].body;
        assert!(
            !index.contains("<script>"),
            "inline script is refused by the CSP"
        );
        assert!(!index.contains("http://") && !index.contains("https://"));
    }
}
