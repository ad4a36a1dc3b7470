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
mod signals;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::access::{LoginThrottle, Role, User, Users};
use crate::appender::Appender;
use crate::ledger::Ledger;

/// How long a session lives without a request.
pub const SESSION_IDLE_MINUTES: i64 = 30;

/// What every page handler shares.
#[derive(Clone)]
pub struct Web {
    pub ledger: Arc<Ledger>,
    pub appender: Appender,
    pub users: Arc<Users>,
    pub throttle: Arc<LoginThrottle>,
    cases: Arc<cases::CaseList>,
    signals: Arc<signals::SignalList>,
    verify: Arc<audit::VerifyJob>,
    imports: Arc<imports::Pending>,
    /// Whole-ledger reads at once (shared with the JSON API).
    pub heavy: Arc<tokio::sync::Semaphore>,
    /// `public_url` of config.toml: the address people type, behind a reverse proxy.
    pub public: Option<Arc<crate::config::PublicUrl>>,
}

impl Web {
    pub fn new(ledger: Arc<Ledger>, appender: Appender, users: Arc<Users>, heavy: Arc<tokio::sync::Semaphore>) -> Web {
        let dir = ledger.store().dir().to_path_buf();
        Web {
            ledger,
            appender,
            users,
            throttle: Arc::new(LoginThrottle::load(&dir)),
            cases: Arc::new(cases::CaseList::default()),
            signals: Arc::new(signals::SignalList::default()),
            verify: Arc::new(audit::VerifyJob::default()),
            imports: Arc::new(imports::Pending::default()),
            heavy,
            public: crate::config::Config::load(&dir).ok().and_then(|c| c.public_url).map(Arc::new),
        }
    }

    /// Builds the in-memory case and signal lists on a thread of its own, so the first
    /// person to open `/cases` after a start does not wait for it (seconds at a
    /// million events).
    pub fn warm_up(&self) {
        let web = self.clone();
        let _ = std::thread::Builder::new().name("caseledger-web-warm".into()).spawn(move || {
            let started = std::time::Instant::now();
            match web.cases.rows(&web).and_then(|_| web.signals.rows(&web)) {
                Ok(_) => tracing::info!(ms = started.elapsed().as_millis() as u64, "case and signal lists built"),
                Err(e) => tracing::warn!(error = %e, "building the case list failed; the first /cases will try again"),
            }
        });
    }

    /// Runs a read of the ledger on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        heavy: bool,
        f: impl FnOnce(&Web) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, Response> {
        let slot = if heavy { Some(self.heavy.clone().acquire_owned().await.expect("never closed")) } else { None };
        let web = self.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            f(&web)
        })
        .await
        .map_err(|_| page::failure("чтение реестра прервалось"))?
        .map_err(|e| page::failure(&e.to_string()))
    }
}

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
        .route("/login", get(login::form).post(login::submit).layer(crate::server::small()))
        .route("/logout", post(login::logout).layer(crate::server::small()))
        .route("/cases", get(cases::list))
        .route("/cases/{case}", get(cases::card))
        .route("/cases/{case}/print", get(cases::print))
        .route("/signals", get(signals::list))
        .route("/due", get(due::page))
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route("/admin/users", get(admin::users).post(admin::users_post).layer(crate::server::small()))
        .route(
            "/admin/organisation",
            get(admin::organisation).post(admin::organisation_post).layer(crate::server::small()),
        )
        .route("/indicators", get(figures::list))
        .route("/indicators/charts", get(figures::charts))
        .route("/explain/{id}", get(figures::explain))
        .route("/reports", get(reports::reports))
        .route(
            "/reports/verify",
            post(reports::verify).layer(axum::extract::DefaultBodyLimit::max(reports::MAX_UPLOAD_BYTES)),
        )
        .route("/reports/publish", post(reports::publish).layer(crate::server::small()))
        .route("/tables", get(reports::tables))
        .route("/import", get(imports::form))
        .route("/import/template", get(imports::template))
        .route(
            "/import/preview",
            post(imports::preview).layer(axum::extract::DefaultBodyLimit::max(imports::MAX_IMPORT_BYTES)),
        )
        .route("/import/confirm", post(imports::confirm).layer(crate::server::small()))
        .route("/audit", get(audit::list))
        .route("/audit.xlsx", get(audit::xlsx))
        .route("/verify", get(audit::verify_page).post(audit::verify_start).layer(crate::server::small()))
        .route("/verify/status", get(audit::verify_status))
        .route("/events/new", get(events::new))
        .route("/events", post(events::submit).layer(crate::server::small()))
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

const SESSION_USER: &str = "user";
const SESSION_CSRF: &str = "csrf";

/// The logged-in person, as `users.json` says now (a removed user is logged out, a
/// changed role applies at once). Pages without one redirect to `/login`.
pub struct Viewer {
    pub user: User,
    pub csrf: String,
    pub session: Session,
    /// What auditors and admins must be told on every page (`health::alerts`): a
    /// mirror or a witness failing for longer than three checkpoint periods.
    pub alerts: Vec<String>,
    /// The curator code this login records as (`user add --curator`), if any.
    pub curator: Option<String>,
}

impl Viewer {
    pub fn may_record(&self) -> bool {
        matches!(self.user.role, Role::Recorder | Role::Admin)
    }
    /// The trail of who recorded what, and the chain check (SPEC §12's auditor, admin).
    pub fn may_audit(&self) -> bool {
        matches!(self.user.role, Role::Auditor | Role::Admin)
    }
    pub fn may_see_figures(&self) -> bool {
        matches!(self.user.role, Role::Analyst | Role::Auditor | Role::Admin)
    }
    /// Publishing a report (SPEC §19): analysts and administrators; auditors read and
    /// verify.
    pub fn may_publish(&self) -> bool {
        matches!(self.user.role, Role::Analyst | Role::Admin)
    }
    /// 403 unless the role may record.
    pub fn must_record(&self) -> Result<(), Response> {
        if self.may_record() {
            Ok(())
        } else {
            Err(page::forbidden(
                self,
                "записывать события могут только кураторы и специалисты (роль recorder) и администраторы",
            ))
        }
    }
}

impl FromRequestParts<Web> for Viewer {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, web).await.map_err(|(s, m)| (s, m).into_response())?;
        let to_login = || {
            let next = parts.uri.path_and_query().map_or("/cases", |p| p.as_str());
            let next = if parts.method == Method::GET { next } else { "/cases" };
            let target = format!("/login?next={}", urlencode(next));
            Redirect::to(&target).into_response()
        };
        let name: Option<String> = session.get(SESSION_USER).await.ok().flatten();
        let Some(name) = name else { return Err(to_login()) };
        let found = web.users.get_with_curator(&name).map_err(|e| page::failure(&e.to_string()))?;
        let Some((user, curator)) = found else {
            let _ = session.flush().await;
            return Err(to_login());
        };
        let csrf = csrf_token(&session).await?;
        let alerts = if matches!(user.role, Role::Auditor | Role::Admin) {
            crate::health::alerts(web.ledger.store().dir(), chrono::Utc::now())
        } else {
            Vec::new()
        };
        Ok(Viewer { user, csrf, session, alerts, curator })
    }
}

/// The session's CSRF token, made on first use (32 random bytes from the OS, hex).
async fn csrf_token(session: &Session) -> Result<String, Response> {
    if let Ok(Some(t)) = session.get::<String>(SESSION_CSRF).await {
        return Ok(t);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| page::failure(&format!("no randomness from the OS: {e}")))?;
    let token = crate::codec::hex(&bytes);
    session.insert(SESSION_CSRF, &token).await.map_err(|e| page::failure(&e.to_string()))?;
    Ok(token)
}

/// A POST from a browser must come from these pages: the `Origin` (when sent) is this
/// host — or, behind a reverse proxy, exactly `public_url` of config.toml —,
/// `Sec-Fetch-Site` (when sent) is same-origin, and the form carries the session's CSRF
/// token. Anything else is 403.
pub fn check_post(
    web: &Web,
    parts_headers: &axum::http::HeaderMap,
    session_token: &str,
    form_token: Option<&str>,
) -> Result<(), Response> {
    let forbidden = |why: &str| {
        (StatusCode::FORBIDDEN, maud::html! { p { "Запрос отклонён: " (why) } }.into_string()).into_response()
    };
    if let Some(site) = parts_headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return Err(forbidden("он пришёл с другого сайта"));
        }
    }
    if let Some(origin) = parts_headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let same = match &web.public {
            Some(public) => origin == public.origin,
            None => {
                let host = parts_headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
                origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
            }
        };
        if !same {
            return Err(forbidden("он пришёл с другого сайта"));
        }
    }
    use subtle::ConstantTimeEq;
    let ok = form_token
        .is_some_and(|t| t.len() == session_token.len() && bool::from(t.as_bytes().ct_eq(session_token.as_bytes())));
    if !ok {
        return Err(forbidden("форма устарела или открыта не здесь (нет проверочного кода); обновите страницу"));
    }
    Ok(())
}

/// Characters a query value or path segment keeps as they are (RFC 3986 unreserved).
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The same, with `/` kept (for `next=/cases/…`).
const UNRESERVED_AND_SLASH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');

/// A query value, percent-encoded (`/` kept, for `next=/cases/…`).
pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED_AND_SLASH).to_string()
}

/// A path segment, percent-encoded (`/` too: case numbers such as `14/2021_МР`).
pub fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}
