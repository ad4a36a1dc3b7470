//! `/signals` (SPEC §16): the signals not yet resolved, oldest first, with the triage
//! actions — urgent help, redirect to another organisation, open a case, no action.
//! Kept in memory like the case list: built once, then only the signals new events
//! touch are folded again.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::page::urlencode;
use super::page::{self, dash, Nav};
use super::state::Web;
use super::viewer::Viewer;
use crate::domain::words;
use crate::project::due::SignalFacts;

#[derive(Deserialize, Default)]
pub struct SignalQuery {
    saved: Option<u64>,
}

pub async fn list(State(web): State<Web>, viewer: Viewer, Query(q): Query<SignalQuery>) -> Response {
    let rows = match web.read(true, |w| w.signals.rows(&w.ledger)).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    let today = chrono::Utc::now().date_naive();
    let mut open: Vec<&SignalFacts> = rows.iter().filter(|r| !r.resolved).collect();
    open.sort_by_key(|r| (r.received_on, r.signal.clone()));
    let body = html! {
        div.head-row {
            h1 { "Сигналы без решения" }
            @if viewer.may_record() { a.button.primary href="/events/new?type=signal_received" { "+ Новый сигнал" } }
        }
        @if let Some(seq) = q.saved { p.notice role="status" { "Записано: событие № " (seq) "." } }
        p.count { @if open.is_empty() { "Все сигналы разобраны." } @else { (words::plural(open.len() as u64, ("сигнал ждёт", "сигнала ждут", "сигналов ждут"))) " решения." } }
        @if !open.is_empty() {
            table.signals {
                thead { tr {
                    th scope="col" { "Сигнал" } th scope="col" { "Семья" } th scope="col" { "Канал" } th scope="col" { "Принят" } th scope="col" { "Ждёт, дней" }
                    @if viewer.may_record() { th scope="col" { "Решение" } }
                } }
                tbody {
                    @for r in &open {
                        @let sig = urlencode(&r.signal);
                        @let fam = r.family.as_deref().map(urlencode).unwrap_or_default();
                        tr {
                            td { (r.signal) }
                            td { @if let Some(f) = &r.family { (f) } @else { (dash()) } }
                            td { (words::value("channel", r.channel).unwrap_or(r.channel)) }
                            td { (words::date(r.received_on)) }
                            td.num { ((today - r.received_on).num_days().max(0)) }
                            @if viewer.may_record() {
                                td.actions {
                                    a.button href={ "/events/new?type=signal_resolved&signal=" (sig) "&resolution=urgent_help" } { "Срочная помощь" }
                                    a.button href={ "/events/new?type=signal_resolved&signal=" (sig) "&resolution=redirected" } { "Переадресовать" }
                                    a.button href={ "/events/new?type=case_opened&signal=" (sig) "&family=" (fam) } { "Открыть случай" }
                                    a.button href={ "/events/new?type=signal_resolved&signal=" (sig) "&resolution=no_action" } { "Без действий" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page::ok(page::layout("Сигналы", Some(&viewer), Nav::Signals, body))
}
