//! `/due` (SPEC §21): what is due, soonest first, each with its action one click away —
//! a curator's own cases (all with `?all=1`), everyone's for analysts and admins. The
//! rule is `project::due`; the rows are the case and signal lists kept in memory.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::page::{self, Nav};
use super::page::{path_segment, urlencode};
use super::state::Web;
use super::viewer::Viewer;
use crate::domain::words;
use crate::project::due::{self, Due, Kind, SignalFacts};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    all: Option<String>,
}

/// The action of one item: where to go, and what the button says.
fn action(d: &Due) -> (String, &'static str) {
    let case = path_segment(&d.subject);
    let q = urlencode(&d.subject);
    match d.kind {
        Kind::Monitoring | Kind::MonitoringOverdue => {
            (format!("/events/new?type=follow_up_done&case={q}"), "Записать мониторинг")
        }
        Kind::Idle => (format!("/cases/{case}"), "Открыть случай"),
        Kind::Untriaged => ("/signals".to_string(), "Разобрать сигнал"),
        Kind::StayOver => (format!("/events/new?type=shelter_left&case={q}"), "Записать выход или продление"),
    }
}

pub async fn page(State(web): State<Web>, viewer: Viewer, Query(q): Query<DueQuery>) -> Response {
    if !(viewer.may_record() || viewer.may_see_figures()) {
        return page::forbidden(&viewer, "список дел ведут кураторы, методисты и администраторы");
    }
    let all = q.all.as_deref() == Some("1");
    let mine = viewer.curator.clone().filter(|_| !all && viewer.may_record());
    let curator = mine.clone();
    let list = match web
        .read(true, move |w| {
            let cases = w.cases.rows(&w.ledger)?;
            let facts: Vec<_> = cases.iter().map(|r| r.due.clone()).collect();
            let signals: Vec<SignalFacts> = w.signals.rows(&w.ledger)?;
            Ok(due::list(&facts, &signals, chrono::Utc::now().date_naive(), curator.as_deref()))
        })
        .await
    {
        Ok(list) => list,
        Err(r) => return r,
    };
    let body = html! {
        h1 { "Что сделать" }
        p.lead {
            @match &mine {
                Some(code) => { "Ваши случаи (куратор " (code) ") и неразобранные сигналы. " a href="/due?all=1" { "Показать по всем кураторам" } }
                None if viewer.may_record() && viewer.curator.is_some() => { "Все случаи. " a href="/due" { "Только мои" } }
                None => { "Все случаи и неразобранные сигналы." }
            }
        }
        p role="status" {
            @if list.is_empty() { "Сейчас ничего не просрочено и ничего не ждёт." }
            @else { (words::plural(list.len() as u64, ("дело", "дела", "дел"))) ", сначала самые срочные." }
        }
        ul.due {
            @for d in &list {
                @let (href, label) = action(d);
                li class={ "due-item" @if d.overdue_days > 0 { " late" } } {
                    div.due-when { strong { (words::date(d.due_on)) } " · " (d.when_words()) }
                    div.due-what {
                        span.tag { (d.kind.ru()) } " "
                        @if d.kind == Kind::Untriaged { "сигнал " (d.subject) }
                        @else { a href={ "/cases/" (path_segment(&d.subject)) } { (d.subject) } }
                        @if let Some(c) = &d.curator { " · куратор " (c) }
                    }
                    @if viewer.may_record() || d.kind == Kind::Idle {
                        a.button href=(href) { (label) }
                    }
                }
            }
        }
    };
    page::ok(page::layout("Что сделать", Some(&viewer), Nav::Due, body))
}
