//! `/signals` (SPEC §16): the signals not yet resolved, oldest first, with the triage
//! actions — urgent help, redirect to another organisation, open a case, no action.
//! Kept in memory like the case list: built once, then only the signals new events
//! touch are folded again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;

use super::page::{self, dash, Nav};
use super::{urlencode, Viewer, Web};
use crate::codec::Hash;
use crate::domain::payload::Code;
use crate::domain::words;
use crate::domain::Payload;
use crate::project::{Cut, World};

#[derive(Clone, Debug)]
pub struct SignalRow {
    pub signal: String,
    pub family: Option<String>,
    pub channel: &'static str,
    pub received_on: NaiveDate,
    pub resolved: bool,
}

fn row_of(world: &World, signal: &Code) -> Option<SignalRow> {
    let mut row: Option<SignalRow> = None;
    let mut resolved = false;
    for e in world.signal_events(signal).filter(|e| e.is_live()) {
        match &e.payload {
            Payload::SignalReceived(p) => {
                row = Some(SignalRow {
                    signal: p.signal.0.clone(),
                    family: p.family.as_ref().map(|f| f.0.clone()),
                    channel: p.channel.as_str(),
                    received_on: e.occurred_on,
                    resolved: false,
                })
            }
            Payload::SignalResolved(_) => resolved = true,
            _ => {}
        }
    }
    row.map(|r| SignalRow { resolved, ..r })
}

/// The rows, by signal, of the chain prefix (seq, hash) they are of.
type Built = (u64, Hash, BTreeMap<String, SignalRow>);

#[derive(Default)]
pub struct SignalList {
    built: Mutex<Option<Built>>,
}

impl SignalList {
    pub fn rows(&self, web: &Web) -> crate::Result<Vec<SignalRow>> {
        let head = web.ledger.head();
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = match built.as_mut() {
            Some((seq, hash, _)) if (*seq, *hash) == (head.seq, head.hash) => true,
            Some((seq, hash, rows)) if *seq > 0 && *seq < head.seq => {
                for signal in touched(web, *seq + 1, head.seq)? {
                    let seqs = web.ledger.signal_events(&signal)?;
                    let world = World::load_seqs(&web.ledger, &seqs, Cut::everything())?;
                    match row_of(&world, &Code(signal.clone())) {
                        Some(r) => rows.insert(signal, r),
                        None => rows.remove(&signal),
                    };
                }
                (*seq, *hash) = (head.seq, head.hash);
                true
            }
            _ => false,
        };
        if !fresh {
            let world = World::load(&web.ledger, Cut::everything())?;
            let rows = world
                .signal_codes()
                .into_iter()
                .filter_map(|c| row_of(&world, c))
                .map(|r| (r.signal.clone(), r))
                .collect();
            *built = Some((head.seq, head.hash, rows));
        }
        Ok(built.as_ref().map(|(_, _, rows)| rows.values().cloned().collect()).unwrap_or_default())
    }
}

/// The signals events `from ..= to` are about or refer to (a correction: its target's).
fn touched(web: &Web, from: u64, to: u64) -> crate::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for seq in from..=to {
        let Some(rec) = web.ledger.record(seq)? else { continue };
        let parsed = crate::project::parse_record(seq, &rec)?;
        let target = match &parsed.payload {
            Payload::EventVoided(v) => Some(v.target),
            Payload::EventAmended(a) => Some(a.target),
            _ => None,
        };
        let payload = match target {
            Some(t) => match web.ledger.record_by_id(&t)? {
                Some(r) => {
                    let s = crate::ledger::chain::examine(&r.canonical, r.hash).map(|l| l.seq).unwrap_or(0);
                    crate::project::parse_record(s, &r)?.payload
                }
                None => continue,
            },
            None => parsed.payload,
        };
        for s in [payload.signal(), payload.signal_reference()].into_iter().flatten() {
            out.insert(s.0.clone());
        }
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
pub struct SignalQuery {
    saved: Option<u64>,
}

pub async fn list(State(web): State<Web>, viewer: Viewer, Query(q): Query<SignalQuery>) -> Response {
    let rows = match web.read(true, |w| w.signals.rows(w)).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    let today = chrono::Utc::now().date_naive();
    let mut open: Vec<&SignalRow> = rows.iter().filter(|r| !r.resolved).collect();
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
