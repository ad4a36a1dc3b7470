//! `/cases` (the list, its filters and pages), `/cases/{case}` (the case card as of a
//! day and as known at a moment, with the timeline of its events: who recorded each and
//! when, late entries and corrections marked) and its print view (SPEC §16).
//!
//! The list is a view kept in memory for "now": built once from the events (the same
//! fold as `cases`), then, when the ledger has moved, brought up to date by folding
//! again only the cases the new events touch (through the case index). At a million
//! events a page of the list is then a filter and a sort in memory.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, dash, Nav};
use super::page::{path_segment, urlencode};
use super::state::Web;
use super::viewer::Viewer;
use crate::codec::hex;
use crate::domain::payload::{Outcome, Stage};
use crate::domain::words;
use crate::project::card::Line;
use crate::project::case::{CaseState, Status};
use crate::project::lists::CaseRow;
use crate::project::Cut;

/// Rows of the list per page.
pub const PAGE_ROWS: usize = 50;

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    status: Option<String>,
    program: Option<String>,
    curator: Option<String>,
    q: Option<String>,
    idle_days: Option<String>,
    sort: Option<String>,
    page: Option<usize>,
    saved: Option<u64>,
}

impl ListQuery {
    fn with(&self, sort: Option<&str>, page: Option<usize>) -> String {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: Option<&str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        };
        push("status", self.status.as_deref());
        push("program", self.program.as_deref());
        push("curator", self.curator.as_deref());
        push("q", self.q.as_deref());
        push("idle_days", self.idle_days.as_deref());
        push("sort", sort.or(self.sort.as_deref()));
        let page = page.map(|p| p.to_string());
        push("page", page.as_deref());
        if parts.is_empty() {
            "/cases".into()
        } else {
            format!("/cases?{}", parts.join("&"))
        }
    }
}

pub async fn list(State(web): State<Web>, viewer: Viewer, Query(mut q): Query<ListQuery>) -> Response {
    // A curator's login opens on their own open cases (SPEC §21); any filter chosen,
    // «все» included, shows what it says.
    let mine = viewer.curator.clone().filter(|_| {
        q.status.is_none() && q.program.is_none() && q.curator.is_none() && q.q.is_none() && q.idle_days.is_none()
    });
    if let Some(code) = &mine {
        q.status = Some("open".into());
        q.curator = Some(code.clone());
    }
    let idle = match q.idle_days.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if (0..=100_000).contains(&n) => Some(n),
            _ => return page::bad_request(&viewer, "idle_days: число дней без событий, например 30"),
        },
    };
    let rows = match web.read(true, |w| w.cases.rows(&w.ledger)).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    let today = chrono::Utc::now().date_naive();
    let programs: BTreeSet<&str> = rows.iter().map(|r| r.program.as_str()).collect();
    let mut curators: BTreeSet<&str> = rows.iter().filter_map(|r| r.curator.as_deref()).collect();
    curators.extend(viewer.curator.as_deref());
    let needle = q.q.as_deref().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let mut shown: Vec<&CaseRow> = rows
        .iter()
        .filter(|r| match q.status.as_deref() {
            Some("open") => r.status == Status::Open,
            Some("closed") => r.status == Status::Closed,
            _ => true,
        })
        .filter(|r| q.program.as_deref().is_none_or(|p| p.is_empty() || r.program == p))
        .filter(|r| q.curator.as_deref().is_none_or(|c| c.is_empty() || r.curator.as_deref() == Some(c)))
        .filter(|r| {
            needle.as_ref().is_none_or(|n| {
                r.case.to_lowercase().contains(n)
                    || r.family.to_lowercase().contains(n)
                    || r.children.iter().any(|c| c.to_lowercase().contains(n))
            })
        })
        .filter(|r| idle.is_none_or(|d| r.status == Status::Open && (today - r.last_on).num_days() >= d))
        .collect();
    let sort = q.sort.clone().unwrap_or_else(|| "number".into());
    // The rows come in the order of case numbers; a stable sort keeps it among equals.
    match sort.trim_start_matches('-') {
        "opened" => shown.sort_by_key(|r| r.opened_on),
        "last" => shown.sort_by_key(|r| r.last_on),
        _ => {}
    }
    if sort.starts_with('-') {
        shown.reverse();
    }
    let total = shown.len();
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let page_no = q.page.unwrap_or(1).clamp(1, pages);
    let from = (page_no - 1) * PAGE_ROWS;
    let slice = &shown[from.min(total)..(from + PAGE_ROWS).min(total)];
    let sort_link = |key: &str| {
        let next = if sort == key { format!("-{key}") } else { key.to_string() };
        q.with(Some(&next), None)
    };
    let sorted = |key: &str| -> Option<&'static str> {
        if sort == key {
            Some("ascending")
        } else if sort == format!("-{key}") {
            Some("descending")
        } else {
            None
        }
    };
    let body = html! {
        div.head-row {
            h1 { "Случаи" }
            @if viewer.may_record() { a.button.primary href="/events/new?type=case_opened" { "+ Новый случай" } }
        }
        @if let Some(seq) = q.saved { p.notice role="status" { "Записано: событие № " (seq) "." } }
        @if let Some(code) = &mine {
            p.lead { "Ваши открытые случаи (куратор " (code) "). " a href="/cases?status=&curator=" { "Показать все случаи" } " · " a href="/due" { "Что сделать" } }
        }
        form.filters method="get" action="/cases" role="search"
            hx-get="/cases" hx-target="#case-results" hx-select="#case-results" hx-swap="outerHTML"
            hx-trigger="change, input from:#q delay:400ms" hx-push-url="true" {
            div.field {
                label for="status" { "Состояние" }
                select #status name="status" {
                    option value="" selected[q.status.as_deref().unwrap_or("").is_empty()] { "все" }
                    option value="open" selected[q.status.as_deref() == Some("open")] { "открытые" }
                    option value="closed" selected[q.status.as_deref() == Some("closed")] { "закрытые" }
                }
            }
            div.field {
                label for="program" { "Отдел" }
                select #program name="program" {
                    option value="" { "все" }
                    @for p in &programs { option value=(p) selected[q.program.as_deref() == Some(*p)] { (p) } }
                }
            }
            div.field {
                label for="curator" { "Куратор" }
                select #curator name="curator" {
                    option value="" { "все" }
                    @for c in &curators { option value=(c) selected[q.curator.as_deref() == Some(*c)] { (c) } }
                }
            }
            div.field {
                label for="q" { "Поиск по шифру" }
                input #q name="q" type="search" value=(q.q.clone().unwrap_or_default()) placeholder="№ дела, шифр семьи или ребёнка";
            }
            div.field {
                label for="idle_days" { "Без событий, дней" }
                input #idle_days name="idle_days" type="number" min="0" value=(q.idle_days.clone().unwrap_or_default()) size="5";
            }
            input type="hidden" name="sort" value=(sort);
            button.secondary type="submit" { "Показать" }
        }
        div #case-results {
            p.count role="status" {
                @if total == 0 { "Случаев не найдено." }
                @else { "Показаны " (from + 1) "–" (from + slice.len()) " из " (words::plural(total as u64, ("случая", "случаев", "случаев"))) "." }
            }
            @if total > 0 {
                table.cases {
                    caption.sr { "Случаи, страница " (page_no) " из " (pages) }
                    thead { tr {
                        th scope="col" aria-sort=[sorted("number")] { a href=(sort_link("number")) { "№ дела" } }
                        th scope="col" { "Семья" }
                        th scope="col" { "Отдел" }
                        th scope="col" { "Куратор" }
                        th scope="col" aria-sort=[sorted("opened")] { a href=(sort_link("opened")) { "Открыт" } }
                        th scope="col" { "Состояние" }
                        th scope="col" { "Детей" }
                        th scope="col" { "ЕФО: вход → сейчас" }
                        th scope="col" aria-sort=[sorted("last")] { a href=(sort_link("last")) { "Последнее событие" } }
                    } }
                    tbody {
                        @for r in slice {
                            tr {
                                td { a href={ "/cases/" (path_segment(&r.case)) } { (r.case) } }
                                td { (r.family) }
                                td { (r.program) }
                                td { @if let Some(c) = &r.curator { (c) } @else { (dash()) } }
                                td { (words::date(r.opened_on)) }
                                td { (status_text(r.status, r.closed_on, r.outcome, r.in_shelter)) }
                                td.num { (r.children.len()) }
                                td.num { (efo_pair(r.efo_entry, r.efo_latest)) }
                                td { (words::date(r.last_on)) }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pager aria-label="Страницы" {
                        @if page_no > 1 { a href=(q.with(None, Some(page_no - 1))) rel="prev" { "← назад" } }
                        span { "страница " (page_no) " из " (pages) }
                        @if page_no < pages { a href=(q.with(None, Some(page_no + 1))) rel="next" { "дальше →" } }
                    }
                }
            }
        }
    };
    page::ok(page::layout("Случаи", Some(&viewer), Nav::Cases, body))
}

fn status_text(status: Status, closed_on: Option<NaiveDate>, outcome: Option<Outcome>, in_shelter: bool) -> Markup {
    html! {
        @match (status, closed_on, outcome) {
            (Status::Closed, Some(d), Some(o)) => { "закрыт " (words::date(d)) ": " (words::value("outcome", o.as_str()).unwrap_or("")) }
            _ => { span.open { "открыт" } @if in_shelter { " · в КЦ" } }
        }
    }
}

fn efo_pair(entry: Option<u64>, latest: Option<u64>) -> Markup {
    html! {
        @match (entry, latest) {
            (Some(a), Some(b)) => { (a) " → " (b) }
            (Some(a), None) => { (a) }
            _ => { (dash()) }
        }
    }
}

// ---------------------------------------------------------------- the card

#[derive(Deserialize, Default, Clone)]
pub struct CardQuery {
    on: Option<String>,
    known_at: Option<String>,
    saved: Option<u64>,
}

fn when_of(viewer: &Viewer, q: &CardQuery) -> Result<(NaiveDate, Cut, Option<String>), Response> {
    let on = match q.on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => chrono::Utc::now().date_naive(),
        Some(s) => match super::forms::day(s).and_then(|d| crate::codec::parse_date(&d)) {
            Some(d) => d,
            None => return Err(page::bad_request(viewer, &format!("on: «{s}» — не дата (ДД.ММ.ГГГГ)"))),
        },
    };
    let known = q.known_at.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let cut = match known {
        None => Cut::everything(),
        Some(s) => {
            let iso = super::forms::day(s).unwrap_or_else(|| s.to_string());
            match crate::project::parse_known_at(&iso) {
                Some(t) => Cut { known_at: Some(t), at_seq: None },
                None => return Err(page::bad_request(viewer, &format!("known_at: «{s}» — не дата и не время"))),
            }
        }
    };
    // Shown as people write it: 31.01.2021, or 31.01.2021 09:15 UTC for a moment.
    let shown = known.map(|s| {
        let iso = super::forms::day(s).unwrap_or_else(|| s.to_string());
        match (crate::codec::parse_date(&iso), cut.known_at) {
            (Some(d), _) => words::date(d),
            (None, Some(t)) => words::moment(&t),
            (None, None) => s.to_string(),
        }
    });
    Ok((on, cut, shown))
}

pub async fn card(
    State(web): State<Web>,
    viewer: Viewer,
    Path(case): Path<String>,
    Query(q): Query<CardQuery>,
) -> Response {
    let (on, cut, known) = match when_of(&viewer, &q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let c = case.clone();
    let card = match web.read(false, move |w| crate::project::card::load(&w.ledger, &c, on, cut)).await {
        Ok(Some(card)) => card,
        Ok(None) => {
            return page::not_found(&viewer, &format!("Случай {case} не найден на {} при этом срезе.", words::date(on)))
        }
        Err(r) => return r,
    };
    let s = &card.state;
    let now = q.on.is_none() && known.is_none();
    let body = html! {
        nav.crumbs aria-label="Путь" { a href="/cases" { "Случаи" } " › Случай " (s.case) }
        div.head-row {
            h1 { "Случай " (s.case) }
            div.actions {
                a.button href={ "/cases/" (path_segment(&s.case.0)) "/print" @if !now { "?" (card_query(&q)) } } { "Версия для печати" }
            }
        }
        @if let Some(seq) = q.saved { p.notice role="status" { "Записано: событие № " (seq) "." } }
        form.asof method="get" action={ "/cases/" (path_segment(&s.case.0)) } {
            div.field { label for="on" { "Состояние на день" } input #on name="on" type="text" inputmode="numeric" placeholder="ДД.ММ.ГГГГ" value=(q.on.clone().unwrap_or_default()) size="10"; }
            div.field { label for="known_at" { "Как было известно на" } input #known_at name="known_at" type="text" placeholder="ДД.ММ.ГГГГ" value=(q.known_at.clone().unwrap_or_default()) size="10"; }
            button.secondary type="submit" { "Показать" }
            @if !now { a href={ "/cases/" (path_segment(&s.case.0)) } { "сейчас" } }
        }
        @if !now {
            p.lead { "Состояние на " (words::date(on)) @if let Some(k) = &known { ", как было известно на " (k) } "." }
        }
        @if let (Some(sig), true) = (&card.open_signal, viewer.may_record()) {
            p.notice {
                "Сигнал " (sig) " ещё не закрыт решением. "
                a.button href={ "/events/new?type=signal_resolved&signal=" (urlencode(sig)) "&resolution=case_opened&case=" (urlencode(&s.case.0)) } { "Отметить: открыт случай" }
            }
        }
        // On a phone the record buttons are a screen or two down: one tap away from the top.
        @if viewer.may_record() && now { p.phoneonly { a.button.primary href="#next-h" { "Записать событие ↓" } } }
        (state_sections(s, on))
        @if viewer.may_record() && now {
            section aria-labelledby="next-h" {
                h2 #next-h { "Записать" }
                div.next { @for (label, href) in next_events(s) { a.button href=(href) { (label) } } }
            }
        }
        section aria-labelledby="tl-h" {
            h2 #tl-h { "Хронология: " (words::plural(card.lines.len() as u64, ("событие", "события", "событий"))) }
            (timeline(&card.lines, viewer.may_record() && now))
        }
        p.meta { "Реестр: последнее событие случая № " (card.head.0) ", хеш " code { (hex(&card.head.1)[..16]) "…" } }
    };
    page::ok(page::layout(&format!("Случай {}", s.case), Some(&viewer), Nav::Cases, body))
}

fn card_query(q: &CardQuery) -> String {
    let mut parts = Vec::new();
    if let Some(on) = q.on.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("on={}", urlencode(on)));
    }
    if let Some(k) = q.known_at.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("known_at={}", urlencode(k)));
    }
    parts.join("&")
}

/// The events the case's state allows next, with the form that records each.
fn next_events(s: &CaseState) -> Vec<(&'static str, String)> {
    let case = urlencode(&s.case.0);
    let link = |kind: &str, extra: &str| format!("/events/new?type={kind}&case={case}{extra}");
    let mut out = Vec::new();
    match s.status {
        Status::Open => {
            if s.efo.entry.is_none() {
                out.push(("Оценка ЕФО: входная", link("efo_scored", "&stage=entry")));
            } else {
                out.push(("Оценка ЕФО: промежуточная", link("efo_scored", "&stage=interim")));
                out.push(("Оценка ЕФО: итоговая", link("efo_scored", "&stage=exit")));
            }
            out.push(("ИПР", link("plan_set", "")));
            out.push(("Помощь", link("aid_issued", "")));
            out.push(("Услуга", link("service_provided", "")));
            if s.shelter.in_shelter {
                out.push(("Продление в КЦ", link("shelter_extended", "")));
                out.push(("Выход из КЦ", link("shelter_left", "")));
            } else {
                out.push(("Заселение в КЦ", link("shelter_admitted", "")));
            }
            out.push(("Ребёнок", link("child_added", "")));
            out.push(("Куратор", link("curator_assigned", "")));
            out.push(("Закрыть случай", link("case_closed", "")));
        }
        Status::Closed => {
            out.push(("Мониторинг после закрытия", link("follow_up_done", "")));
            out.push(("ЕФО мониторинга", link("efo_scored", &format!("&stage={}", Stage::FollowUp.as_str()))));
            out.push(("Помощь", link("aid_issued", "")));
            out.push(("Услуга", link("service_provided", "")));
        }
    }
    out
}

fn state_sections(s: &CaseState, on: NaiveDate) -> Markup {
    let level = |l: Option<crate::domain::payload::Level>| l.and_then(|l| words::value("level", l.as_str()));
    html! {
        section.summary aria-labelledby="sum-h" {
            h2 #sum-h .sr { "Сведения о случае" }
            dl.facts {
                dt { "Семья" } dd { (s.family) }
                dt { "Отдел" } dd { (s.program) }
                dt { "Куратор" } dd { @if let Some(c) = &s.curator { (c) } @else { (dash()) } }
                @if let Some(c) = &s.contract { dt { "Договор" } dd { (c) } }
                @if let Some(sig) = &s.signal { dt { "Сигнал" } dd { (sig) } }
                dt { "Открыт" } dd { (words::date(s.opened_on)) }
                dt { "Состояние" } dd { (status_text(s.status, s.closed_on, s.outcome, s.shelter.in_shelter)) }
            }
        }
        div.efo-and-children {
            section aria-labelledby="children-h" {
                h2 #children-h { "Дети" }
                @if s.children.is_empty() { p { "Дети не указаны (например, беременность)." } }
                @else {
                    table {
                        thead { tr { th scope="col" { "Шифр" } th scope="col" { "Рождение" } th scope="col" { "Уровень при входе" } th scope="col" { "Уровень сейчас" } th scope="col" { "В кровной семье" } } }
                        tbody { @for c in &s.children { tr {
                            td { (c.code) }
                            td { @if let Some(b) = &c.born { (words::born(b)) } @else { (dash()) } }
                            td { @if let Some(l) = level(c.level_entry) { (l) } @else { (dash()) } }
                            td { @if let Some(l) = level(c.level_now) { (l) } @else { (dash()) } }
                            td { @match c.in_family { Some(true) => "да", Some(false) => "нет", None => (dash()) } }
                        } } }
                    }
                }
            }
            section aria-labelledby="efo-h" {
                h2 #efo-h { "Оценка ЕФО (число слабых сторон)" }
                @let stages = [("входная", &s.efo.entry), ("промежуточная", &s.efo.interim), ("итоговая", &s.efo.exit), ("мониторинг", &s.efo.follow_up)];
                @if stages.iter().all(|(_, v)| v.is_none()) { p { "Оценок ещё нет." } }
                @else {
                    table.efo {
                        thead { tr { th scope="col" { "Раздел" } @for (name, v) in &stages { @if let Some(v) = v { th scope="col" { (name) br; small { (words::date(v.on)) } } } } } }
                        tbody {
                            @for (d, name) in words::EFO_DOMAINS {
                                tr { th scope="row" { (name) } @for (_, v) in &stages { @if let Some(v) = v { td.num { @if let Some(ds) = &v.domains { (domain(ds, d)) } @else { (dash()) } } } } }
                            }
                            tr.total { th scope="row" { "Всего" } @for (_, v) in &stages { @if let Some(v) = v { td.num { strong { (v.weak_sides) } } } } }
                        }
                    }
                }
            }
        }
        section.two aria-label="Проживание, план и помощь" {
            div {
                h2 { "Кризисный центр" }
                @if s.shelter.stays == 0 { p { "Не заселялись." } }
                @else {
                    dl.facts {
                        dt { "Сейчас" } dd { @if s.shelter.in_shelter { "в КЦ" } @else { "не в КЦ" } }
                        @if let Some(d) = s.shelter.admitted_on { dt { "Заселение" } dd { (words::date(d)) } }
                        @if let Some(d) = s.shelter.until { dt { "Срок до" } dd { (words::date(d)) } }
                        @if let Some(d) = s.shelter.left_on { dt { "Выход" } dd { (words::date(d)) } }
                        dt { "Дней в КЦ на " (words::date(on)) } dd { (s.shelter.days) }
                        dt { "Продлений" } dd { (s.shelter.extensions) }
                    }
                }
            }
            div {
                h2 { "ИПР, помощь, услуги" }
                dl.facts {
                    dt { "ИПР" } dd { @if let Some(p) = &s.plan { "достигнуто " (p.achieved) " из " (p.goals) " (" (words::date(p.on)) ")" } @else { (dash()) } }
                    dt { "Помощь" } dd { (words::plural(u64::from(s.aid.sets), ("выдача", "выдачи", "выдач"))) ", на " (words::money(s.aid.value)) }
                    dt { "Услуги" } dd { (words::plural(s.services.sessions, ("занятие", "занятия", "занятий"))) }
                    @for f in &s.follow_ups {
                        dt { "Мониторинг " (words::date(f.on)) } dd { @if f.stable { "ситуация стабильна" } @else { "ситуация не стабильна" } }
                    }
                }
            }
        }
    }
}

fn domain(d: &crate::domain::payload::Domains, name: &str) -> u32 {
    match name {
        "housing_income" => d.housing_income.0,
        "health_safety" => d.health_safety.0,
        "self_care" => d.self_care.0,
        "education" => d.education.0,
        "identity" => d.identity.0,
        "emotional" => d.emotional.0,
        "family_relations" => d.family_relations.0,
        _ => d.behaviour.0,
    }
}

fn timeline(lines: &[Line], may_correct: bool) -> Markup {
    html! {
        @if lines.is_empty() { p { "Событий нет." } }
        @else {
            table.timeline {
                thead { tr {
                    th scope="col" { "№" } th scope="col" { "Дата" } th scope="col" { "Событие" } th scope="col" { "Кто записал и когда" }
                    @if may_correct { th scope="col" { span.sr { "Исправления" } } }
                } }
                tbody {
                    @for l in lines {
                        @let voided = l.voided();
                        @let correction = l.kind.starts_with("event_");
                        tr.voided[voided].correction[correction] {
                            td.num { (l.seq) }
                            td { (words::date(l.occurred_on)) }
                            td {
                                @if let Some(c) = &l.correction {
                                    strong { @if c.voids { "Отмена" } @else { "Исправление" } }
                                    " записи № " (c.target_seq.map_or_else(|| "?".to_string(), |s| s.to_string()))
                                    br; span.reason { "Причина: " (c.reason) }
                                    @if let Some(now) = &c.now { br; span.detail { "Теперь: " (now) } }
                                } @else {
                                    strong { (words::event_type(&l.kind)) }
                                    @if !l.said.is_empty() { br; span.detail { (l.said) } }
                                }
                                @for c in &l.corrected_by {
                                    br; span.tag.corr { @if c.voids { "отменено записью № " (c.seq) } @else { "исправлено записью № " (c.seq) } }
                                }
                            }
                            td.who {
                                (l.actor) br; small { (words::stamp(&l.recorded_at)) }
                                @if l.late { br; span.tag.late title="Записано намного позже, чем произошло" { "поздняя запись" } }
                            }
                            @if may_correct {
                                td.actions {
                                    @if !correction && !voided {
                                        a href={ "/events/new?type=event_amended&target=" (l.id) } { "Исправить" }
                                        " "
                                        a href={ "/events/new?type=event_voided&target=" (l.id) } { "Отменить" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The print view: one case on A4.
pub async fn print(
    State(web): State<Web>,
    viewer: Viewer,
    Path(case): Path<String>,
    Query(q): Query<CardQuery>,
) -> Response {
    let (on, cut, known) = match when_of(&viewer, &q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let c = case.clone();
    let card = match web.read(false, move |w| crate::project::card::load(&w.ledger, &c, on, cut)).await {
        Ok(Some(card)) => card,
        Ok(None) => return page::not_found(&viewer, &format!("Случай {case} не найден.")),
        Err(r) => return r,
    };
    let s = &card.state;
    let printed = words::moment(&chrono::Utc::now());
    let organisation = web.ledger.organisation();
    let body = html! {
        div.print-page {
            div.noprint.actions {
                button.primary type="button" data-print { "Печать" }
                a.button href={ "/cases/" (path_segment(&s.case.0)) } { "К карточке" }
            }
            @if let Some(org) = &organisation { p.org { (org) } }
            h1 { "Карточка случая № " (s.case) }
            p.meta {
                "Состояние на " (words::date(on))
                @if let Some(k) = &known { ", как было известно на " (k) }
                ". Сформировано " (printed) " пользователем " (viewer.user.name) ". Реестр: событие № " (card.head.0) ", хеш " (hex(&card.head.1)[..16]) "…"
            }
            (state_sections(s, on))
            h2 { "Хронология" }
            (timeline(&card.lines, false))
        }
    };
    page::ok(page::layout(&format!("Печать: случай {}", s.case), Some(&viewer), Nav::None, body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_numbers_sort_as_numbers() {
        let mut v = vec!["14/2021_МР", "2/2021_МР", "1/2022_КЦ", "10/2021_МР", "2/2021_КЦ"];
        v.sort_by_key(|s| crate::project::lists::natural_key(s));
        assert_eq!(v, ["1/2022_КЦ", "2/2021_КЦ", "2/2021_МР", "10/2021_МР", "14/2021_МР"]);
    }
}
