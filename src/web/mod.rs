//! The web workspace (SPEC §16): Russian pages served by `serve` on the same address
//! as the JSON API. A transport like `server/`: handlers read the request, check the
//! user's role and call the library (the same calls as the command line and the API);
//! a recorded form becomes the same input event `append` and `POST /v1/events` take and
//! goes through the same group committer. Pages are maud templates (compiled, escaped by
//! maud), with a stylesheet, a small script and htmx built into the binary.
//!
//! Security: sessions by tower-sessions (HttpOnly, SameSite=Strict cookie, idle
//! expiry); passwords by argon2id (`access`); every POST checks `Origin` /
//! `Sec-Fetch-Site` and the form's CSRF token; every page carries a
//! Content-Security-Policy with no inline script and nothing from outside the binary.

mod admin;
mod audit;
mod cases;
mod due;
mod events;
mod figures;
mod forms;
mod imports;
mod login;
pub(crate) mod page;
mod reports;
mod session;
mod signals;
mod state;
mod viewer;

pub use state::Web;

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// How long a session lives without a request.
pub const SESSION_IDLE_MINUTES: i64 = 30;

/// The pages' routes, with sessions and the security headers.
pub fn router(web: Web) -> axum::Router {
    use axum::routing::{get, post};
    use tower_sessions::cookie::SameSite;
    let sessions = tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
        .with_name("caseledger_session")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        // Behind an https:// proxy (config.toml `public_url`) the cookie only travels
        // encrypted.
        .with_secure(web.public.as_ref().is_some_and(|p| p.secure))
        .with_expiry(tower_sessions::Expiry::OnInactivity(tower_sessions::cookie::time::Duration::minutes(
            SESSION_IDLE_MINUTES,
        )));
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/cases") }))
        .route("/login", get(login::form).post(login::submit).layer(crate::limits::small_body()))
        .route("/logout", post(login::logout).layer(crate::limits::small_body()))
        .route("/cases", get(cases::list))
        .route("/cases/{case}", get(cases::card))
        .route("/cases/{case}/print", get(cases::print))
        .route("/signals", get(signals::list))
        .route("/due", get(due::page))
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route("/admin/users", get(admin::users).post(admin::users_post).layer(crate::limits::small_body()))
        .route(
            "/admin/organisation",
            get(admin::organisation).post(admin::organisation_post).layer(crate::limits::small_body()),
        )
        .route("/indicators", get(figures::list))
        .route("/indicators/charts", get(figures::charts))
        .route("/explain/{id}", get(figures::explain))
        .route("/reports", get(reports::reports))
        .route(
            "/reports/verify",
            post(reports::verify).layer(axum::extract::DefaultBodyLimit::max(reports::MAX_UPLOAD_BYTES)),
        )
        .route("/reports/publish", post(reports::publish).layer(crate::limits::small_body()))
        .route("/tables", get(reports::tables))
        .route("/import", get(imports::form))
        .route("/import/template", get(imports::template))
        .route(
            "/import/preview",
            post(imports::preview).layer(axum::extract::DefaultBodyLimit::max(imports::MAX_IMPORT_BYTES)),
        )
        .route("/import/confirm", post(imports::confirm).layer(crate::limits::small_body()))
        .route("/audit", get(audit::list))
        .route("/audit.xlsx", get(audit::xlsx))
        .route("/verify", get(audit::verify_page).post(audit::verify_start).layer(crate::limits::small_body()))
        .route("/verify/status", get(audit::verify_status))
        .route("/events/new", get(events::new))
        .route("/events", post(events::submit).layer(crate::limits::small_body()))
        .route("/assets/{file}", get(asset))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(sessions)
        .with_state(web)
}

/// Every page: a Content-Security-Policy with no inline script and nothing from
/// outside, no framing, no sniffing, no caching of pages with people's cases.
async fn security_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");
/// htmx 2.0.4 (npm `htmx.org`), vendored: sha256 e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447.
const HTMX: &str = include_str!("assets/htmx-2.0.4.min.js");

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

// ---------------------------------------------------------------- who is asking
