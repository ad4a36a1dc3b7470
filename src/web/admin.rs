//! Administration in the browser (SPEC §21), administrators only: `/admin/users` —
//! add, reset a password, tie to a curator code, unlock, disable and enable — and
//! `/admin/organisation` — the name and the time zone. Every change goes through the
//! same library calls as `caseledger user …` and into the same files (users.json,
//! config.toml); every form is a POST with the session's CSRF token.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, role_ru, Nav};
use super::session::check_post;
use super::state::Web;
use super::viewer::Viewer;
use crate::access::{self, Role};
use crate::domain::words;

fn must_admin(viewer: &Viewer) -> Result<(), Response> {
    if viewer.user.role == Role::Admin {
        Ok(())
    } else {
        Err(page::forbidden(viewer, "пользователей и организацию настраивают администраторы"))
    }
}

/// A form posted to an administrator's page: from this site with its CSRF token, by
/// an administrator.
fn admin_post(web: &Web, headers: &HeaderMap, viewer: &Viewer, csrf: Option<&str>) -> Result<(), Response> {
    check_post(web, headers, &viewer.csrf, csrf)?;
    must_admin(viewer)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Done {
    done: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct UserForm {
    csrf: Option<String>,
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    curator: String,
}

/// The page, with a notice (what was done) or a refusal (beside the form it is about).
fn users_page(
    web: &Web,
    viewer: &Viewer,
    notice: Option<&str>,
    refusal: Option<(&str, &str)>,
    kept: &UserForm,
) -> Markup {
    let list = access::list_users(web.users.path()).unwrap_or_default();
    let refusal_for = |action: &str, name: &str| {
        refusal.filter(|(a, _)| *a == format!("{action}:{name}") || *a == action).map(|(_, why)| why.to_string())
    };
    let form = |action: &str, name: &str, label: &str, fields: Markup| {
        html! {
            form.inline method="post" action="/admin/users" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="action" value=(action);
                input type="hidden" name="name" value=(name);
                (fields)
                button.secondary type="submit" { (label) }
            }
        }
    };
    let body = html! {
        h1 { "Пользователи" }
        p { a href="/admin/organisation" { "Организация: название и часовой пояс →" } }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p.lead { "Кто входит на эти страницы и что может. Вход отключённого пользователя не работает, а записи его остаются за ним." }
        ul.users {
            @for u in &list {
                @let locked = web.throttle.locked(&u.name);
                li.user-card {
                    div.user-head {
                        strong { (u.name) } " · " (role_ru(u.role))
                        @if let Some(c) = &u.curator { " · куратор " (c) }
                        @if u.disabled { " · " span.tag.late { "вход отключён" } }
                        @if let Some(left) = locked {
                            " · " span.tag.late { "заблокирован ещё на " (words::plural(left.as_secs().div_ceil(60).max(1), ("минуту", "минуты", "минут"))) }
                        }
                    }
                    @if let Some(why) = refusal_for("passwd", &u.name).or(refusal_for("curator", &u.name)).or(refusal_for("disable", &u.name)) {
                        p.error role="alert" { (why) }
                    }
                    div.user-actions {
                        (form("passwd", &u.name, "Сменить пароль", html! {
                            label.sr for={ "pw-" (u.name) } { "Новый пароль для " (u.name) }
                            input id={ "pw-" (u.name) } name="password" type="password" autocomplete="new-password" minlength="10" placeholder="новый пароль, от 10 символов";
                        }))
                        (form("curator", &u.name, "Сохранить куратора", html! {
                            label.sr for={ "cur-" (u.name) } { "Код куратора для " (u.name) }
                            input id={ "cur-" (u.name) } type="text" name="curator" value=(u.curator.clone().unwrap_or_default()) placeholder="код куратора, например К-01" size="14";
                        }))
                        @if locked.is_some() { (form("unlock", &u.name, "Разблокировать вход", html! {})) }
                        @if u.disabled { (form("enable", &u.name, "Включить вход", html! {})) }
                        @else if u.name != viewer.user.name { (form("disable", &u.name, "Отключить вход", html! {})) }
                    }
                }
            }
        }
        h2 { "Добавить пользователя" }
        @if let Some(why) = refusal_for("add", "") { p.error role="alert" { (why) } }
        form.stacked method="post" action="/admin/users" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            input type="hidden" name="action" value="add";
            div.field {
                label for="new-name" { "Имя для входа" }
                input #new-name type="text" name="name" required value=(kept.name) autocomplete="off" placeholder="например, К-07";
            }
            div.field {
                label for="new-role" { "Роль" }
                select #new-role name="role" {
                    @for r in Role::ALL { option value=(r.as_str()) selected[kept.role == r.as_str()] { (role_ru(r)) } }
                }
            }
            div.field {
                label for="new-curator" { "Код куратора (для кураторов)" }
                input #new-curator type="text" name="curator" value=(kept.curator) placeholder="например, К-01";
            }
            div.field {
                label for="new-password" { "Пароль (от 10 символов)" }
                input #new-password name="password" type="password" required minlength="10" autocomplete="new-password";
            }
            button.primary type="submit" { "Добавить" }
        }
    };
    page::layout("Пользователи", Some(viewer), Nav::Admin, body)
}

pub async fn users(State(web): State<Web>, viewer: Viewer, Query(q): Query<Done>) -> Response {
    if let Err(r) = must_admin(&viewer) {
        return r;
    }
    page::ok(users_page(&web, &viewer, q.done.as_deref(), None, &UserForm::default()))
}

pub async fn users_post(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<UserForm>,
) -> Response {
    if let Err(r) = admin_post(&web, &headers, &viewer, f.csrf.as_deref()) {
        return r;
    }
    let path = web.users.path().to_path_buf();
    let name = f.name.trim().to_string();
    let curator = Some(f.curator.trim()).filter(|c| !c.is_empty()).map(str::to_string);
    let (action, who) = (f.action.clone(), name.clone());
    let password = f.password.clone();
    let role = f.role.clone();
    let me = viewer.user.name.clone();
    let throttle = web.throttle.clone();
    let done = tokio::task::spawn_blocking(move || -> crate::Result<String> {
        let say = |e: crate::Error| crate::Error::Usage(plain(&e));
        match action.as_str() {
            "add" => {
                let role = Role::parse(&role).ok_or_else(|| crate::Error::Usage("выберите роль".into()))?;
                if let Some(c) = &curator {
                    crate::ledger::event::check_code("curator", c)
                        .map_err(|r| crate::Error::Usage(format!("код куратора: {}", r.reason)))?;
                }
                crate::ledger::event::check_code("name", &who)
                    .map_err(|r| crate::Error::Usage(format!("имя для входа: {}", r.reason)))?;
                access::add_user(&path, &who, role, &password).map_err(say)?;
                if curator.is_some() {
                    access::set_curator(&path, &who, curator.as_deref()).map_err(say)?;
                }
                Ok(format!("Пользователь {who} добавлен ({}).", role_ru(role)))
            }
            "passwd" => {
                access::set_password(&path, &who, &password).map_err(say)?;
                Ok(format!("Пароль пользователя {who} изменён."))
            }
            "curator" => {
                access::set_curator(&path, &who, curator.as_deref()).map_err(say)?;
                Ok(match curator {
                    Some(c) => format!("{who} записывает как куратор {c}."),
                    None => format!("{who} больше не привязан к коду куратора."),
                })
            }
            "unlock" => {
                throttle.unlock(&who);
                Ok(format!("Вход пользователя {who} разблокирован."))
            }
            "disable" if who == me => Err(crate::Error::Usage("собственный вход отключить нельзя".into())),
            "disable" | "enable" => {
                access::set_disabled(&path, &who, action == "disable").map_err(say)?;
                Ok(if action == "disable" {
                    format!("Вход пользователя {who} отключён.")
                } else {
                    format!("Вход пользователя {who} включён.")
                })
            }
            _ => Err(crate::Error::Usage("неизвестное действие".into())),
        }
    })
    .await
    .unwrap_or_else(|_| Err(crate::Error::Storage("изменение прервалось".into())));
    match done {
        Ok(msg) => {
            tracing::info!(admin = %viewer.user.name, action = %f.action, user = %name, "users changed");
            Redirect::to(&format!("/admin/users?done={}", super::page::urlencode(&msg))).into_response()
        }
        Err(e) => {
            let key = if f.action == "add" { "add".to_string() } else { format!("{}:{name}", f.action) };
            let kept = UserForm { password: String::new(), ..f };
            let markup = users_page(&web, &viewer, None, Some((&key, &plain(&e))), &kept);
            page::with_status(StatusCode::UNPROCESSABLE_ENTITY, markup)
        }
    }
}

/// An error as a person reads it: its message, without the line and field prefixes.
fn plain(e: &crate::Error) -> String {
    match e {
        crate::Error::Refused(list, _) => list.first().map(|r| r.reason.clone()).unwrap_or_default(),
        crate::Error::Usage(m) => m.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct OrgForm {
    csrf: Option<String>,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    timezone: String,
}

/// Zones offered first: Russia's, west to east.
const ZONES: &[(&str, &str)] = &[
    ("Europe/Kaliningrad", "Калининград (МСК−1)"),
    ("Europe/Moscow", "Москва (МСК)"),
    ("Europe/Samara", "Самара (МСК+1)"),
    ("Asia/Yekaterinburg", "Екатеринбург (МСК+2)"),
    ("Asia/Omsk", "Омск (МСК+3)"),
    ("Asia/Novosibirsk", "Новосибирск (МСК+4)"),
    ("Asia/Krasnoyarsk", "Красноярск (МСК+4)"),
    ("Asia/Irkutsk", "Иркутск (МСК+5)"),
    ("Asia/Yakutsk", "Якутск (МСК+6)"),
    ("Asia/Vladivostok", "Владивосток (МСК+7)"),
    ("Asia/Magadan", "Магадан (МСК+8)"),
    ("Asia/Kamchatka", "Камчатка (МСК+9)"),
];

fn org_page(web: &Web, viewer: &Viewer, notice: Option<&str>, refusal: Option<&str>) -> Markup {
    let name = web.ledger.organisation().unwrap_or_default();
    let zone = words::zone();
    let body = html! {
        h1 { "Организация" }
        p { a href="/admin/users" { "← Пользователи" } }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        @if let Some(why) = refusal { p.error role="alert" { (why) } }
        p.lead { "Название печатается на таблицах, отчётах и распечатках; время везде показывается в часовом поясе организации (хранится в UTC)." }
        form.stacked method="post" action="/admin/organisation" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            div.field {
                label for="organisation" { "Название организации" }
                input #organisation type="text" name="organisation" required value=(name) size="50";
            }
            div.field {
                label for="timezone" { "Часовой пояс" }
                select #timezone name="timezone" {
                    @if !ZONES.iter().any(|(z, _)| *z == zone.name()) { option value=(zone.name()) selected { (zone.name()) } }
                    @for (z, label) in ZONES { option value=(z) selected[*z == zone.name()] { (label) } }
                }
            }
            p { "Сейчас: " (words::moment(&chrono::Utc::now())) "." }
            button.primary type="submit" { "Сохранить" }
        }
    };
    page::layout("Организация", Some(viewer), Nav::Admin, body)
}

pub async fn organisation(State(web): State<Web>, viewer: Viewer, Query(q): Query<Done>) -> Response {
    if let Err(r) = must_admin(&viewer) {
        return r;
    }
    page::ok(org_page(&web, &viewer, q.done.as_deref(), None))
}

pub async fn organisation_post(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<OrgForm>,
) -> Response {
    if let Err(r) = admin_post(&web, &headers, &viewer, f.csrf.as_deref()) {
        return r;
    }
    let dir = web.ledger.store().dir().to_path_buf();
    let (name, zone) = (f.organisation.trim().to_string(), f.timezone.trim().to_string());
    let saved = tokio::task::spawn_blocking(move || -> crate::Result<chrono_tz::Tz> {
        let name = crate::ledger::check_organisation(&name).map_err(|e| {
            crate::Error::Usage(format!("название: {}", plain(&e).trim_start_matches("--organisation: ")))
        })?;
        let tz: chrono_tz::Tz = zone.parse().map_err(|_| crate::Error::Usage(format!("«{zone}» — не часовой пояс")))?;
        crate::config::set_string(&dir, "organisation", &name)?;
        crate::config::set_string(&dir, "timezone", tz.name())?;
        Ok(tz)
    })
    .await
    .unwrap_or_else(|_| Err(crate::Error::Storage("изменение прервалось".into())));
    match saved {
        Ok(tz) => {
            words::set_zone(tz);
            tracing::info!(admin = %viewer.user.name, "organisation changed");
            Redirect::to(&format!("/admin/organisation?done={}", super::page::urlencode("Сохранено."))).into_response()
        }
        Err(e) => page::with_status(StatusCode::UNPROCESSABLE_ENTITY, org_page(&web, &viewer, None, Some(&plain(&e)))),
    }
}
