//! `/login` and `/logout` (SPEC §16): a form with `username` and `password`; a
//! success sets the session cookie and redirects (303); five failures for one user
//! within 15 minutes lock that user's logins for 15 minutes.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use tower_sessions::Session;

use super::page::{self, Nav};
use super::session::{check_post, csrf_token, SESSION_CSRF, SESSION_USER};
use super::state::Web;

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a path of these pages may follow a login. A browser drops tabs and line breaks
/// from a URL before reading it (`/\t/evil.example` is `//evil.example`, another
/// site), so they are dropped here first; then the path must start with one `/` not
/// followed by `/` or `\`, and hold no backslash and no control character. Anything
/// else goes to `/`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else { return "/".into() };
    let n: String = n.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let ok = n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.chars().any(char::is_control);
    if !ok {
        return "/".into();
    }
    // A `Location` header is ASCII: a Cyrillic case code or a space travels encoded.
    const ENCODED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'"');
    percent_encoding::utf8_percent_encode(&n, ENCODED).to_string()
}

fn render(csrf: &str, next: &str, username: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        div.login {
            h1 { "Вход" }
            p.lead { "Реестр случаев сопровождения семей. Войдите под своим именем пользователя." }
            @if let Some(e) = error {
                p.error role="alert" id="login-error" { (e) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="username" { "Имя пользователя" }
                    input #username name="username" type="text" autocomplete="username" required value=(username)
                        aria-describedby=[error.map(|_| "login-error")];
                }
                div.field {
                    label for="password" { "Пароль" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                }
                button.primary type="submit" { "Войти" }
            }
        }
    };
    page::with_status(status, page::layout("Вход", None, Nav::None, body))
}

pub async fn form(session: Session, Query(q): Query<NextQuery>) -> Response {
    if let Ok(Some(_)) = session.get::<String>(SESSION_USER).await {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let csrf = match csrf_token(&session).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    render(&csrf, &safe_next(q.next.as_deref()), "", None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

pub async fn submit(
    State(web): State<Web>,
    session: Session,
    headers: HeaderMap,
    client: Option<axum::Extension<axum::extract::ConnectInfo<crate::access::Client>>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let client = client.map(|c| c.0 .0 .0.ip());
    // An address that keeps failing waits before every answer, whichever names it tries.
    let wait = web.throttle.slowdown(client);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let csrf = match csrf_token(&session).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = check_post(&web, &headers, &csrf, f.csrf.as_deref()) {
        return r;
    }
    let next = safe_next(f.next.as_deref());
    let name = f.username.trim().to_string();
    if let Some(left) = web.throttle.locked(&name) {
        let minutes = left.as_secs().div_ceil(60).max(1);
        let msg = format!(
            "Вход для пользователя «{name}» заблокирован после 5 неудачных попыток. Попробуйте через {}.",
            crate::domain::words::plural(minutes, ("минуту", "минуты", "минут"))
        );
        return render(&csrf, &next, &name, Some(&msg), StatusCode::TOO_MANY_REQUESTS);
    }
    let users = web.users.clone();
    let (n, p) = (name.clone(), f.password);
    // argon2 takes tens of milliseconds: off the async threads.
    let verified = tokio::task::spawn_blocking(move || users.verify(&n, &p)).await;
    match verified {
        Ok(Ok(Some(user))) => {
            web.throttle.succeeded(&name);
            // A new session id for the logged-in session (no fixation), a new token.
            if session.cycle_id().await.is_err()
                || session.insert(SESSION_USER, &user.name).await.is_err()
                || session.remove::<String>(SESSION_CSRF).await.is_err()
            {
                return page::failure("не удалось начать сеанс");
            }
            tracing::info!(user = %user.name, "logged in");
            Redirect::to(&next).into_response()
        }
        Ok(Ok(None)) => {
            let account = web.users.get(&name).ok().flatten().is_some();
            web.throttle.failed(&name, account, client);
            render(&csrf, &next, &name, Some("Неверное имя пользователя или пароль."), StatusCode::UNAUTHORIZED)
        }
        Ok(Err(e)) => page::failure(&e.to_string()),
        Err(_) => page::failure("проверка пароля прервалась"),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(web): State<Web>,
    session: Session,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    let csrf = match csrf_token(&session).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = check_post(&web, &headers, &csrf, f.csrf.as_deref()) {
        return r;
    }
    let _ = session.flush().await;
    Redirect::to("/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    /// Every `next` a browser would follow off this site goes to `/`; what stays is a
    /// path of this site, ASCII, as a `Location` header must be.
    #[test]
    fn next_is_a_path_of_this_site_or_nothing() {
        for off_site in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\t//evil.example",
            "/\\evil.example",
            "/\r\\evil.example",
            "https://evil.example/",
            "evil.example",
            "javascript:alert(1)",
            "/cases\\..\\x",
            "/\u{0}x",
            "/\u{85}x",
            "",
        ] {
            assert_eq!(safe_next(Some(off_site)), "/", "{off_site:?}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("/cases?status=open")), "/cases?status=open");
        assert_eq!(safe_next(Some("/ca\tses")), "/cases", "a tab dropped, as a browser drops it");
        assert_eq!(safe_next(Some("/cases/14/2021_МР")), "/cases/14/2021_%D0%9C%D0%A0");
        assert_eq!(safe_next(Some("/cases\r\nSet-Cookie: a=b")), "/casesSet-Cookie:%20a=b", "no header injected");
        for n in ["/cases", "/cases/14/2021_МР?q=a b", "/ca\nses"] {
            let out = safe_next(Some(n));
            assert!(axum::http::HeaderValue::from_str(&out).is_ok(), "{out}");
        }
    }
}
