//! `/audit` and `/verify` (SPEC §16), for auditors and administrators: who recorded or
//! corrected what, and when — every event, filtered by actor, type, case and
//! recorded dates, newest first, corrections shown with what they correct, late entries
//! flagged, the filtered list as XLSX; and the chain checked (with progress), the
//! latest checkpoint and its witnesses' cosignatures.

use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, Nav};
use super::state::{JobState, VerifyJob, Web};
use super::viewer::Viewer;
use crate::domain::words;
use crate::ledger::event::EVENT_TYPES;
use crate::project::trail::{entries, Entry, Filter};

/// Rows on one page of `/audit`.
const PAGE_ROWS: usize = 100;
/// The most rows the XLSX export holds.
const MAX_EXPORT_ROWS: usize = 200_000;

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    actor: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    case: Option<String>,
    /// Recorded on or after this day (ДД.ММ.ГГГГ or ГГГГ-ММ-ДД).
    from: Option<String>,
    /// Recorded on or before this day.
    to: Option<String>,
    page: Option<usize>,
}

fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditQuery {
    /// The recorded days, or the refusal naming the field.
    fn check(&self) -> Result<(), String> {
        AuditQuery::day(&self.from, "записано с")?;
        AuditQuery::day(&self.to, "по")?;
        Ok(())
    }

    fn day(s: &Option<String>, field: &str) -> Result<Option<NaiveDate>, String> {
        match given(s) {
            None => Ok(None),
            Some(t) => super::forms::day(t)
                .and_then(|d| crate::codec::parse_date(&d))
                .map(Some)
                .ok_or_else(|| format!("«{t}» в поле «{field}» — не дата (ДД.ММ.ГГГГ)")),
        }
    }

    /// The trail's filter (the days already checked: a bad one reads as none).
    fn filter(&self) -> Filter<'_> {
        Filter {
            actor: given(&self.actor),
            kind: given(&self.kind),
            case: given(&self.case),
            from: AuditQuery::day(&self.from, "").ok().flatten(),
            to: AuditQuery::day(&self.to, "").ok().flatten(),
        }
    }

    fn link(&self, page: usize, path: &str) -> String {
        let mut parts = Vec::new();
        for (k, v) in
            [("actor", &self.actor), ("type", &self.kind), ("case", &self.case), ("from", &self.from), ("to", &self.to)]
        {
            if let Some(v) = given(v) {
                parts.push(format!("{k}={}", super::page::urlencode(v)));
            }
        }
        if page > 0 {
            parts.push(format!("page={page}"));
        }
        format!("{path}?{}", parts.join("&"))
    }
}

fn occurred(day: &str) -> String {
    crate::codec::parse_date(day).map_or_else(|| day.to_string(), words::date)
}

/// The subject of an event: its case, or its signal.
fn subject(x: &Entry) -> String {
    match (&x.case, &x.signal) {
        (Some(c), _) => format!("случай {c}"),
        (None, Some(s)) => format!("сигнал {s}"),
        (None, None) => String::new(),
    }
}

/// What the row says an event is (a correction names what it corrects).
fn what(x: &Entry) -> String {
    let e = &x.event;
    match (&x.target, e.kind.as_str(), &x.published) {
        (Some((seq, kind)), "event_voided", _) => format!("Отмена записи № {seq} ({})", words::event_type(kind)),
        (Some((seq, kind)), _, _) => format!("Исправление записи № {seq} ({})", words::event_type(kind)),
        (None, _, Some(p)) => format!(
            "Отчёт опубликован: {}–{}, как известно на {} (по событие № {})",
            words::date(p.period.from.0),
            words::date(p.period.to.0),
            words::moment(&p.known_at.0),
            p.seq.0
        ),
        _ => words::event_type(&e.kind).to_string(),
    }
}

pub async fn list(State(web): State<Web>, viewer: Viewer, Query(q): Query<AuditQuery>) -> Response {
    if !viewer.may_audit() {
        return page::forbidden(&viewer, "журнал записей видят аудиторы и администраторы");
    }
    if let Err(why) = q.check() {
        return page::bad_request(&viewer, &why);
    }
    let page_no = q.page.unwrap_or(0).min(10_000);
    let query = q.clone();
    let rows = web.read(true, move |w| entries(&w.ledger, &query.filter(), page_no * PAGE_ROWS, PAGE_ROWS)).await;
    let (rows, more) = match rows {
        Ok(r) => r,
        Err(r) => return r,
    };
    let value = |s: &Option<String>| s.clone().unwrap_or_default();
    let body = html! {
        h1 { "Журнал записей" }
        p.lead { "Кто что записал или исправил и когда — все события реестра, новые сверху." }
        form.filters method="get" action="/audit" {
            div.field { label for="actor" { "Кто записал" } input #actor name="actor" type="text" value=(value(&q.actor)) size="14"; }
            div.field {
                label for="type" { "Событие" }
                select #type name="type" {
                    option value="" { "любое" }
                    @for t in EVENT_TYPES {
                        option value=(t) selected[given(&q.kind) == Some(t)] { (words::event_type(t)) }
                    }
                }
            }
            div.field { label for="case" { "№ случая" } input #case name="case" type="text" value=(value(&q.case)) size="12"; }
            div.field { label for="from" { "Записано с" } input #from name="from" type="text" placeholder="ДД.ММ.ГГГГ" value=(value(&q.from)) size="10"; }
            div.field { label for="to" { "по" } input #to name="to" type="text" placeholder="ДД.ММ.ГГГГ" value=(value(&q.to)) size="10"; }
            button.secondary type="submit" { "Показать" }
            a.button.secondary href=(q.link(0, "/audit.xlsx")) download { "Скачать XLSX" }
        }
        @if rows.is_empty() { p { "Таких записей нет." } }
        @else {
            table.timeline.audit {
                thead { tr {
                    th scope="col" { "№" } th scope="col" { "Записано" } th scope="col" { "Кто" }
                    th scope="col" { "Событие" } th scope="col" { "О чём" } th scope="col" { "Дата события" }
                } }
                tbody {
                    @for x in &rows {
                        @let e = &x.event;
                        tr.correction[x.target.is_some()] {
                            td.num { (e.seq) }
                            td { (words::stamp(&e.recorded_at)) }
                            td { (e.actor) }
                            td {
                                strong { (what(x)) }
                                @if let Some(r) = &x.reason { br; span.reason { "Причина: " (r) } }
                            }
                            td {
                                @let s = subject(x);
                                @if let Some(c) = &x.case {
                                    a href={ "/cases/" (super::page::path_segment(c)) } { (s) }
                                } @else { (s) }
                            }
                            td {
                                (occurred(&e.occurred_on))
                                @if x.late { br; span.tag.late title="Записано намного позже, чем произошло" { "поздняя запись" } }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Страницы" {
                @if page_no > 0 { a href=(q.link(page_no - 1, "/audit")) { "← Новее" } }
                span { "Страница " (page_no + 1) }
                @if more { a href=(q.link(page_no + 1, "/audit")) { "Старше →" } }
            }
        }
    };
    page::ok(page::layout("Журнал записей", Some(&viewer), Nav::Audit, body))
}

/// `/audit.xlsx`: the filtered trail as a workbook.
pub async fn xlsx(State(web): State<Web>, viewer: Viewer, Query(q): Query<AuditQuery>) -> Response {
    if !viewer.may_audit() {
        return page::forbidden(&viewer, "журнал записей видят аудиторы и администраторы");
    }
    if let Err(why) = q.check() {
        return page::bad_request(&viewer, &why);
    }
    let bytes = web
        .read(true, move |w| {
            let (rows, _) = entries(&w.ledger, &q.filter(), 0, MAX_EXPORT_ROWS)?;
            workbook(&rows)
        })
        .await;
    match bytes {
        Ok(b) => super::reports::download(
            b,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "журнал-записей.xlsx",
        ),
        Err(r) => r,
    }
}

fn workbook(rows: &[Entry]) -> crate::Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| crate::Error::Storage(format!("writing the workbook: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Журнал записей").map_err(err)?;
    let head = Format::new().set_bold().set_text_wrap().set_border(FormatBorder::Thin);
    let cell = Format::new().set_text_wrap().set_border(FormatBorder::Thin);
    let titles = ["№", "Записано", "Кто", "Событие", "Причина", "О чём", "Дата события", "Поздняя запись", "id"];
    let widths = [8.0, 18.0, 14.0, 36.0, 30.0, 22.0, 12.0, 10.0, 38.0];
    for (i, (t, w)) in titles.iter().zip(widths).enumerate() {
        sheet.write_with_format(0, i as u16, *t, &head).map_err(err)?;
        sheet.set_column_width(i as u16, w).map_err(err)?;
    }
    for (r, x) in rows.iter().enumerate() {
        let e = &x.event;
        let row = r as u32 + 1;
        let reason = x.reason.as_deref().unwrap_or("");
        let cells = [
            e.seq.to_string(),
            words::stamp(&e.recorded_at),
            e.actor.clone(),
            what(x),
            reason.to_string(),
            subject(x),
            occurred(&e.occurred_on),
            if x.late { "да".into() } else { String::new() },
            e.id.to_string(),
        ];
        for (c, v) in cells.iter().enumerate() {
            if c == 0 {
                sheet.write_number_with_format(row, 0, e.seq as f64, &cell).map_err(err)?;
            } else {
                sheet.write_with_format(row, c as u16, v, &cell).map_err(err)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    sheet.set_landscape().set_print_fit_to_pages(1, 0).set_repeat_rows(0, 0).map_err(err)?;
    book.save_to_buffer().map_err(err)
}

// ---------------------------------------------------------------- /verify

pub async fn verify_page(State(web): State<Web>, viewer: Viewer) -> Response {
    if !viewer.may_audit() {
        return page::forbidden(&viewer, "проверку реестра запускают аудиторы и администраторы");
    }
    let dir = web.ledger.store().dir().to_path_buf();
    let (checkpoint, policy) = match web
        .read(false, move |_| {
            Ok((crate::checkpoint::Checkpoint::latest(&dir)?, crate::checkpoint::Policy::load(&dir).ok()))
        })
        .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cosigned: Vec<String> = match (&checkpoint, &policy) {
        (Some(cp), Some(p)) if !p.witnesses.is_empty() => {
            let keys = p.witnesses.iter().filter_map(|w| crate::checkpoint::KeyVerifier::parse(&w.vkey).ok()).collect();
            crate::checkpoint::verify_note(&cp.note, keys).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let head = web.ledger.head();
    let mirrors = crate::mirror::heads::load(web.ledger.store().dir());
    let body = html! {
        h1 { "Проверка реестра" }
        p.lead {
            "В реестре " (words::plural(head.seq, ("событие", "события", "событий")))
            ". Проверка заново считает хеш каждого события, сверяет цепочку и корень дерева Меркла."
        }
        div #verify-status { (status_markup(&web.verify)) }
        form method="post" action="/verify" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button.primary type="submit" { "Проверить цепочку" }
        }
        h2 { "Зеркала и свидетели" }
        @if viewer.alerts.is_empty() {
            p.ok { "Зеркала из config.toml сообщают, сколько хранят, а свидетели заверяют контрольные точки — сбоев дольше трёх периодов подписи нет." }
        } @else {
            ul.errors { @for a in &viewer.alerts { li.error { (a) } } }
        }
        @if !mirrors.is_empty() {
            table {
                thead { tr { th { "Зеркало" } th { "Хранит" } th { "Сообщило" } } }
                tbody {
                    @for (name, h) in &mirrors {
                        tr { td { (name) } td { (words::plural(h.seq, ("событие", "события", "событий"))) } td { (words::stamp(&h.at)) } }
                    }
                }
            }
        }
        h2 { "Контрольная точка" }
        @match &checkpoint {
            None => p { "Реестр ещё не подписал ни одной контрольной точки (нужен ключ: " code { "caseledger key init" } ")." },
            Some(cp) => {
                p {
                    "Последняя подписанная контрольная точка: журнал " code { (cp.origin) } ", "
                    (words::plural(cp.size, ("событие", "события", "событий"))) ", корень "
                    code.hash { (crate::ledger::merkle::b64(&cp.root)) } "."
                }
                @match &policy {
                    Some(p) if !p.witnesses.is_empty() => {
                        p { "Свидетели (нужно подписей: " (p.quorum) "):" }
                        ul {
                            @for w in &p.witnesses {
                                li { (w.name) " — " @if cosigned.contains(&w.name) { span.tag.ok { "заверил" } } @else { span.tag.late { "подписи нет" } } }
                            }
                        }
                    }
                    _ => p { "Свидетели не назначены (файл witnesses в каталоге реестра)." },
                }
                details { summary { "Текст контрольной точки" } pre.note { (cp.note) } }
            }
        }
    };
    page::ok(page::layout("Проверка реестра", Some(&viewer), Nav::Verify, body))
}

fn status_markup(job: &VerifyJob) -> Markup {
    let state = job.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let (done, total) = (job.progress.load(Ordering::Relaxed), job.total.load(Ordering::Relaxed).max(1));
    html! {
        @match state {
            JobState::Idle => p { "Проверка ещё не запускалась." },
            JobState::Running => div hx-get="/verify/status" hx-trigger="every 1s" hx-swap="outerHTML" {
                p role="status" { "Идёт проверка: " (words::grouped(done)) " из " (words::plural(total, ("события", "событий", "событий"))) "." }
                progress max=(total) value=(done) aria-label="Ход проверки" {}
            },
            JobState::Done(Ok(text)) => p.ok role="status" { (text) },
            JobState::Done(Err(text)) => p.error role="alert" { "Проверка НЕ пройдена: " (text) },
        }
    }
}

pub async fn verify_status(State(web): State<Web>, viewer: Viewer) -> Response {
    if !viewer.may_audit() {
        return page::forbidden(&viewer, "проверку реестра запускают аудиторы и администраторы");
    }
    page::ok(html! { div #verify-status { (status_markup(&web.verify)) } })
}

/// `POST /verify`: starts the check on a thread of its own (unless one runs) and
/// returns to the page, which follows its progress.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn verify_start(
    State(web): State<Web>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if !viewer.may_audit() {
        return page::forbidden(&viewer, "проверку реестра запускают аудиторы и администраторы");
    }
    if let Err(r) = super::session::check_post(&web, &headers, &viewer.csrf, f.csrf.as_deref()) {
        return r;
    }
    {
        let mut state = web.verify.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, JobState::Running) {
            return Redirect::to("/verify").into_response();
        }
        *state = JobState::Running;
    }
    web.verify.progress.store(0, Ordering::Relaxed);
    web.verify.total.store(web.ledger.head().seq, Ordering::Relaxed);
    let w = web.clone();
    std::thread::spawn(move || {
        let result = crate::panics::quietly(|| w.ledger.verify_with_progress(&w.verify.progress));
        let done = match result {
            Ok(Ok(v)) => Ok(format!(
                "Цепочка цела: проверено {}; хеш последнего {}, корень дерева {}.",
                words::plural(v.seq, ("событие", "события", "событий")),
                crate::codec::hex(&v.head),
                v.root.map(|r| crate::ledger::merkle::b64(&r)).unwrap_or_default()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(panic),
        };
        *w.verify.state.lock().unwrap_or_else(|e| e.into_inner()) = JobState::Done(done);
    });
    Redirect::to("/verify").into_response()
}
