//! `/import` (SPEC §17 in the web workspace): a hand-kept table uploaded, its events
//! and refusals previewed (checked against the ledger, nothing written), then appended
//! on confirmation through the appender, all or nothing — the same `import` library
//! calls as `caseledger import-table`.

use std::time::Instant;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, Nav};
use super::state::{Upload, Web};
use super::viewer::Viewer;
use crate::error::Error;
use crate::import::{self, Options, Plan};
use crate::ledger::{AppendOptions, InputLine};
use crate::limits::MAX_HTTP_BATCH_EVENTS;

/// The largest table uploaded (a practice's whole journal is well under this).
pub const MAX_IMPORT_BYTES: usize = 32 << 20;
/// Planned events shown in a preview (all are checked; the rest are counted).
const SHOWN: usize = 500;

const TITLES: [(&str, &str); 3] =
    [("contracts", "Журнал регистрации договоров"), ("efo-dynamics", "Динамика ЕФО"), ("shelter", "Кризисный центр")];

/// `GET /import`: the form, and the empty templates to fill in.
pub async fn form(viewer: Viewer) -> Response {
    if let Err(r) = viewer.must_record() {
        return r;
    }
    let outcomes = crate::domain::payload::Outcome::ALL;
    let body = html! {
        h1 { "Загрузка таблиц" }
        p.lead { "Таблица, которую организация вела в Excel, — в реестр: журнал договоров, динамика ЕФО, кризисный центр. Сначала проверка: что будет добавлено и что не подходит; записывается только после подтверждения, вся таблица целиком или ничего." }
        form #import-upload method="post" action="/import/preview" data-upload data-result="import-result" data-csrf=(viewer.csrf) {
            div.field {
                label for="name" { "Таблица" }
                select #name name="name" { @for (n, t) in TITLES { option value=(n) { (t) } } }
            }
            div.field {
                label for="upload" { "Файл (XLSX, XLS, ODS или CSV)" }
                input #upload name="upload" type="file" accept=".xlsx,.xls,.ods,.csv,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            }
            div.field {
                label for="outcome" { "Итог закрытий, если в таблице его нет" }
                select #outcome name="outcome" {
                    option value="" { "— не указывать" }
                    @for (code, o) in outcomes { option value=(code) { (o.ru()) } }
                }
            }
            div.field {
                label for="stable" { "Мониторинг через 6 месяцев: положение устойчиво, если в таблице не сказано?" }
                select #stable name="stable" {
                    option value="" { "— не указывать" }
                    option value="да" { "да" }
                    option value="нет" { "нет" }
                }
            }
            div.field {
                label for="dates" { "Даты с косой чертой (11/12/2018)" }
                select #dates name="dates" {
                    option value="" { "— понять по столбцу" }
                    option value="дд.мм" { "день первым: 11/12/2018 — 11 декабря" }
                    option value="мм/дд" { "месяц первым (Google Таблицы, США): 11/12/2018 — 12 ноября" }
                }
            }
            div.field {
                label for="hidden" { "Скрытые строки, столбцы и листы, фильтры" }
                select #hidden name="hidden" {
                    option value="" { "— спросить, если они есть" }
                    option value="skip" { "пропустить скрытое" }
                    option value="include" { "читать скрытое как видимое" }
                }
            }
            div.field.check {
                input #amend name="amend" type="checkbox" value="да";
                label for="amend" { "Исправить записанное по таблице: где ячейка расходится с реестром, предложить исправление записи" }
            }
            button.primary type="submit" { "Проверить" }
        }
        div #import-result aria-live="polite" {}
        h2 { "Пустые таблицы для заполнения" }
        p { "С заголовками, форматом дат и списком итогов:" }
        ul {
            @for (n, t) in TITLES { li { a href={"/import/template?name=" (n)} { (t) " (XLSX)" } } }
        }
    };
    page::ok(page::layout("Загрузка таблиц", Some(&viewer), Nav::Import, body))
}

#[derive(Deserialize)]
pub struct TemplateQuery {
    name: String,
}

/// `GET /import/template?name=…`: the empty table (`table NAME --template`).
pub async fn template(State(web): State<Web>, viewer: Viewer, Query(q): Query<TemplateQuery>) -> Response {
    if let Err(r) = viewer.must_record() {
        return r;
    }
    let name = q.name.clone();
    let made = web
        .read(false, move |_| {
            let t = crate::report::tables::template(&name)?;
            let tmp = tempfile::Builder::new()
                .suffix(".xlsx")
                .tempfile()
                .map_err(|e| Error::storage("a temporary file for the template", e))?;
            crate::report::tables::write_template(&t, tmp.path())?;
            std::fs::read(tmp.path()).map_err(|e| Error::storage("reading the template back", e))
        })
        .await;
    match made {
        Ok(bytes) => super::reports::download(
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &format!("{}-шаблон.xlsx", q.name),
        ),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    name: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    stable: String,
    #[serde(default)]
    dates: String,
    #[serde(default)]
    hidden: String,
    #[serde(default)]
    amend: String,
}

fn options(q: &PreviewQuery) -> Result<Options, String> {
    let mut opts = Options::from_words(&q.outcome, &q.stable, &q.dates, &q.hidden)?;
    opts.amend = matches!(q.amend.as_str(), "да" | "on" | "1" | "true");
    Ok(opts)
}

/// Reads, plans and checks an upload against the ledger; writes nothing.
fn check(
    web: &Web,
    table: &str,
    file: &str,
    bytes: &[u8],
    opts: Options,
) -> crate::Result<(Plan, Vec<crate::ledger::Ack>)> {
    let sheets = import::read(file, bytes)?;
    let plan = import::plan(&web.ledger, table, &sheets, opts)?;
    let append = AppendOptions { actor: "preview".into(), now: chrono::Utc::now() };
    let acks = import::apply(&web.ledger, &plan, &append, false)?;
    Ok((plan, acks))
}

/// `POST /import/preview?name=…&file=…&outcome=…&stable=…`: the file's bytes (sent by
/// app.js with the form's CSRF token); answers the preview as an HTML fragment.
pub async fn preview(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(q): Query<PreviewQuery>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = viewer.must_record() {
        return r;
    }
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if let Err(r) = super::session::check_post(&web, &headers, &viewer.csrf, token) {
        return r;
    }
    let opts = match options(&q) {
        Ok(o) => o,
        Err(e) => return page::ok(refusals(&[e])),
    };
    if body.is_empty() {
        return page::ok(refusals(&["Файл пуст: выберите таблицу.".to_string()]));
    }
    let bytes = body.to_vec();
    let (table, file) = (q.name.clone(), q.file.clone());
    let checked = web
        .read(true, move |w| {
            Ok(match check(w, &table, &file, &bytes, opts) {
                Ok((plan, acks)) => Ok((plan, acks, bytes)),
                Err(Error::Refused(list, total)) => Err(refusal_lines(&list, total)),
                Err(Error::Usage(m)) => Err(vec![m]),
                Err(e) => return Err(e),
            })
        })
        .await;
    let (plan, acks, bytes) = match checked {
        Ok(Ok(x)) => x,
        Ok(Err(lines)) => return page::ok(refusals(&lines)),
        Err(r) => return r,
    };
    let too_many = plan.events.len() > MAX_HTTP_BATCH_EVENTS;
    let token = uuid::Uuid::new_v4().to_string();
    if !plan.events.is_empty() && !too_many {
        web.imports.put(Upload {
            token: token.clone(),
            user: viewer.user.name.clone(),
            at: Instant::now(),
            table: q.name.clone(),
            file: q.file.clone(),
            opts,
            bytes,
        });
    }
    page::ok(html! {
        div.verdict.ok role="status" { p { (plan.summary(&acks, true)) } }
        @if too_many {
            p.verdict.error role="alert" {
                "В вебе за один раз загружается не больше " (crate::domain::words::grouped(MAX_HTTP_BATCH_EVENTS as u64))
                " событий; разделите таблицу или загрузите её командой "
                code { "caseledger import-table" } "."
            }
        } @else if !plan.events.is_empty() {
            form method="post" action="/import/confirm" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="token" value=(token);
                button.primary type="submit" { "Записать в реестр" }
            }
        }
        @if !plan.events.is_empty() {
            (events_table(&plan, &acks))
        }
    })
}

fn refusal_lines(list: &[crate::error::Refusal], total: usize) -> Vec<String> {
    let mut lines: Vec<String> = list.iter().map(ToString::to_string).collect();
    if total > list.len() {
        lines.push(format!(
            "… и ещё {}",
            crate::domain::words::plural((total - list.len()) as u64, ("отказ", "отказа", "отказов"))
        ));
    }
    lines
}

fn refusals(lines: &[String]) -> Markup {
    html! {
        div.verdict.error role="alert" {
            p { strong { "Таблица не загружена — ничего не записано. Исправьте и загрузите снова:" } }
            ul { @for l in lines { li { (l) } } }
        }
    }
}

fn events_table(plan: &Plan, acks: &[crate::ledger::Ack]) -> Markup {
    html! {
        div.wide { table.rows.import {
            thead { tr { th { "№ события" } th { "строка" } th { "событие" } th { "дело" } th { "дата" } th { "подробно" } } }
            tbody {
                @for (e, a) in plan.events.iter().zip(acks).take(SHOWN) {
                    @let words = e.words();
                    @let parts: Vec<&str> = words.splitn(4, " · ").collect();
                    tr {
                        td { (a.seq) }
                        td { (e.place.row) }
                        td { (parts.first().copied().unwrap_or("")) }
                        td { (e.case()) }
                        td { (crate::report::ru_date(e.occurred_on)) }
                        td { (parts.get(3).copied().unwrap_or("")) }
                    }
                }
            }
        } }
        @if plan.events.len() > SHOWN {
            p.lead { "Показаны первые " (SHOWN) " из " (crate::domain::words::grouped(plan.events.len() as u64)) "." }
        }
    }
}

#[derive(Deserialize)]
pub struct Confirm {
    csrf: String,
    token: String,
}

/// `POST /import/confirm`: the previewed upload, planned again against the ledger as
/// it is now, appended through the appender, all or nothing.
pub async fn confirm(State(web): State<Web>, viewer: Viewer, headers: HeaderMap, Form(c): Form<Confirm>) -> Response {
    if let Err(r) = viewer.must_record() {
        return r;
    }
    if let Err(r) = super::session::check_post(&web, &headers, &viewer.csrf, Some(&c.csrf)) {
        return r;
    }
    let done = |title: &str, body: Markup| page::ok(page::layout(title, Some(&viewer), Nav::Import, body));
    let Some(upload) = web.imports.take(&c.token, &viewer.user.name) else {
        return done(
            "Загрузка таблиц",
            html! { h1 { "Загрузка таблиц" } p { "Проверенный файл больше не ждёт подтверждения: после него проверялся другой файл, прошло больше 30 минут или сервис перезапускался. " a href="/import" { "Загрузите его снова" } "." } },
        );
    };
    let (table, file, opts, bytes) = (upload.table, upload.file, upload.opts, upload.bytes);
    let planned = web
        .read(true, move |w| {
            let sheets = import::read(&file, &bytes)?;
            import::plan(&w.ledger, &table, &sheets, opts)
        })
        .await;
    let plan = match planned {
        Ok(p) => p,
        Err(r) => return r,
    };
    let outcome = if plan.events.len() > MAX_HTTP_BATCH_EVENTS {
        Err(Error::Usage(format!(
            "В вебе за один раз загружается не больше {} событий; загрузите таблицу командой caseledger import-table.",
            crate::domain::words::grouped(MAX_HTTP_BATCH_EVENTS as u64)
        )))
    } else if let Some(e) = plan.refusal() {
        Err(e)
    } else if plan.events.is_empty() {
        Ok(Vec::new())
    } else {
        let lines: Vec<InputLine> = plan
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (i + 1, crate::ledger::event::InputEvent::parse(e.line().as_bytes())))
            .collect();
        match web.appender.append(lines, viewer.user.name.clone()).await {
            Some(r) => r.map_err(|e| import::placed(&plan, e)),
            None => Err(Error::Storage("Сервис перестал принимать записи; обратитесь к администратору.".into())),
        }
    };
    match outcome {
        Ok(acks) => done(
            "Таблица загружена",
            html! {
                h1 { "Таблица загружена" }
                div.verdict.ok role="status" { p { (plan.summary(&acks, false)) } }
                p { a href="/import" { "Загрузить ещё одну таблицу" } " · " a href="/cases" { "К списку случаев" } }
            },
        ),
        Err(Error::Refused(list, total)) => done(
            "Таблица не загружена",
            html! {
                h1 { "Таблица не загружена" }
                p { "Пока файл ждал подтверждения, реестр изменился, и таблица с ним больше не сходится." }
                (refusals(&refusal_lines(&list, total)))
                p { a href="/import" { "Загрузить снова" } }
            },
        ),
        Err(Error::Usage(m)) => done("Таблица не загружена", html! { h1 { "Таблица не загружена" } p { (m) } }),
        Err(e) => page::failure(&e.to_string()),
    }
}
