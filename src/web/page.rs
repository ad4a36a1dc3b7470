//! The frame every page shares (header, navigation, the user and a logout button) and
//! small pieces of markup. maud escapes every value it is given.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::state::Web;
use super::viewer::Viewer;

/// Which navigation item is the current page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Cases,
    Due,
    Signals,
    NewSignal,
    NewCase,
    Figures,
    Reports,
    Tables,
    Audit,
    Verify,
    Import,
    Admin,
    None,
}

/// A whole page.
pub fn layout(title: &str, viewer: Option<&Viewer>, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // htmx without inline styles or eval (the Content-Security-Policy allows
                // neither).
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
                title { (title) " — Реестр случаев" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/htmx.min.js" defer {}
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "К содержанию" }
                header.top {
                    a.brand href="/cases" { "Реестр случаев" }
                    @if let Some(v) = viewer {
                        nav aria-label="Разделы" {
                            a href="/cases" aria-current=[(nav == Nav::Cases).then_some("page")] { "Случаи" }
                            a href="/signals" aria-current=[(nav == Nav::Signals).then_some("page")] { "Сигналы" }
                            @if v.may_record() || v.may_see_figures() {
                                a href="/due" aria-current=[(nav == Nav::Due).then_some("page")] { "Что сделать" }
                            }
                            @if v.may_see_figures() {
                                a href="/indicators" aria-current=[(nav == Nav::Figures).then_some("page")] { "Показатели" }
                                a href="/reports" aria-current=[(nav == Nav::Reports).then_some("page")] { "Отчёты" }
                                a href="/tables" aria-current=[(nav == Nav::Tables).then_some("page")] { "Таблицы" }
                            }
                            @if v.may_audit() {
                                a href="/audit" aria-current=[(nav == Nav::Audit).then_some("page")] { "Журнал записей" }
                                a href="/verify" aria-current=[(nav == Nav::Verify).then_some("page")] { "Проверка" }
                            }
                            @if v.user.role == crate::access::Role::Admin {
                                a href="/admin/users" aria-current=[(nav == Nav::Admin).then_some("page")] { "Пользователи" }
                            }
                            @if v.may_record() {
                                a href="/events/new?type=signal_received" aria-current=[(nav == Nav::NewSignal).then_some("page")] { "Новый сигнал" }
                                a href="/events/new?type=case_opened" aria-current=[(nav == Nav::NewCase).then_some("page")] { "Новый случай" }
                                a href="/import" aria-current=[(nav == Nav::Import).then_some("page")] { "Загрузка таблиц" }
                            }
                        }
                        div.who {
                            span { (v.user.name) " · " (role_ru(v.user.role)) }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button.link type="submit" { "Выйти" }
                            }
                        }
                    }
                }
                main #main {
                    @if let Some(v) = viewer.filter(|v| !v.alerts.is_empty() && nav != Nav::Verify) {
                        div.alert role="alert" {
                            strong { "Страховка реестра не работает" }
                            ul { @for a in &v.alerts { li { (a) } } }
                            @if v.may_audit() { p { a href="/verify" { "Подробнее — на странице «Проверка»" } } }
                        }
                    }
                    (body)
                }
            }
        }
    }
}

pub fn role_ru(r: crate::access::Role) -> &'static str {
    use crate::access::Role;
    match r {
        Role::Recorder => "куратор (запись)",
        Role::Analyst => "методист",
        Role::Auditor => "аудитор",
        Role::Admin => "администратор",
    }
}

pub fn ok(markup: Markup) -> Response {
    (StatusCode::OK, axum::response::Html(markup.into_string())).into_response()
}

pub fn with_status(status: StatusCode, markup: Markup) -> Response {
    (status, axum::response::Html(markup.into_string())).into_response()
}

/// 403 for what the role may not do.
pub fn forbidden(viewer: &Viewer, why: &str) -> Response {
    with_status(
        StatusCode::FORBIDDEN,
        layout(
            "Нет доступа",
            Some(viewer),
            Nav::None,
            html! { h1 { "Нет доступа" } p { (why) "." } p { a href="/cases" { "К списку случаев" } } },
        ),
    )
}

/// 404 for a case or signal that is not there.
pub fn not_found(viewer: &Viewer, what: &str) -> Response {
    with_status(
        StatusCode::NOT_FOUND,
        layout(
            "Не найдено",
            Some(viewer),
            Nav::None,
            html! { h1 { "Не найдено" } p { (what) } p { a href="/cases" { "К списку случаев" } } },
        ),
    )
}

/// 404 for an address no page has (a mistyped or an old link).
pub fn missing() -> Response {
    with_status(
        StatusCode::NOT_FOUND,
        layout(
            "Страница не найдена",
            None,
            Nav::None,
            html! {
                h1 { "Страница не найдена" }
                p { "По этому адресу страницы нет: возможно, ссылка устарела или адрес набран с ошибкой." }
                p { a href="/cases" { "К списку случаев" } }
            },
        ),
    )
}

/// 500: the ledger failed (never for bad input).
pub fn failure(what: &str) -> Response {
    with_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        layout("Ошибка", None, Nav::None, html! { h1 { "Реестр не смог ответить" } p { (what) } }),
    )
}

/// A 400 for a query that does not parse (a date typed wrong in the address).
pub fn bad_request(viewer: &Viewer, what: &str) -> Response {
    with_status(
        StatusCode::BAD_REQUEST,
        layout(
            "Неверный запрос",
            Some(viewer),
            Nav::None,
            html! { h1 { "Неверный запрос" } p role="alert" { (what) } },
        ),
    )
}

/// An em dash for what is not known.
pub fn dash() -> Markup {
    html! { span.none aria-label="нет" { "—" } }
}

// ---------------------------------------------------------------- reads and links

impl Web {
    /// Runs a read of the ledger on a blocking thread.
    pub(super) async fn read<T: Send + 'static>(
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
        .map_err(|_| failure("чтение реестра прервалось"))?
        .map_err(|e| failure(&e.to_string()))
    }
}

impl Viewer {
    /// 403 unless the role may record.
    pub fn must_record(&self) -> Result<(), Response> {
        if self.may_record() {
            Ok(())
        } else {
            Err(forbidden(
                self,
                "записывать события могут только кураторы и специалисты (роль recorder) и администраторы",
            ))
        }
    }
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
