//! Sessions: who a request comes from (a page without a session goes to `/login`),
//! the session's CSRF token, and the check every POST from a browser passes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::page::{self, urlencode};
use super::state::Web;
use super::viewer::Viewer;
use crate::access::Role;

pub(super) const SESSION_USER: &str = "user";
pub(super) const SESSION_CSRF: &str = "csrf";

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
        Ok(Viewer { user, csrf, alerts, curator })
    }
}

/// The session's CSRF token, made on first use (32 random bytes from the OS, hex).
pub(super) async fn csrf_token(session: &Session) -> Result<String, Response> {
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
