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

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, body: &'static str) -> Self {
        Asset {
            path,
            content_type,
            body,
        }
    }
}

/// Every file of the console, as served.
#[rustfmt::skip]
const ASSETS: &[Asset] = &[
    Asset::new("/", HTML, include_str!("../../console/index.html")),
    Asset::new("/console/app.js", JS, include_str!("../../console/app.js")),
    Asset::new("/console/api.js", JS, include_str!("../../console/api.js")),
    Asset::new("/console/views.js", JS, include_str!("../../console/views.js")),
    Asset::new("/console/console.css", CSS, include_str!("../../console/console.css")),
    Asset::new("/console/vendor/uPlot.iife.min.js", JS, include_str!("../../console/vendor/uPlot.iife.min.js")),
    Asset::new("/console/vendor/uPlot.min.css", CSS, include_str!("../../console/vendor/uPlot.min.css")),
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
    for (name, value) in [
        (header::CONTENT_TYPE, a.content_type),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
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
