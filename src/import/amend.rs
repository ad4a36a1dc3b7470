//! Corrections offered by a table (issue 27, `--amend`): a re-imported table whose
//! cells differ from what the ledger holds becomes one `event_amended` per changed
//! event — the event's full replacement `data` (SPEC §4.14) with the cells' values put
//! in, the reason «исправлено по таблице FILE, строка N» — previewed with each cell's
//! old and new value, and written only on confirmation like any import.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::place::Place;
use super::planned::{event_id, Known, Planned};
use crate::error::{Error, Result};
use crate::ledger::Ledger;

/// What a differing cell changes in its event.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A member of the event's `data`.
    Member(&'static str, Value),
    /// The day the event happened.
    Day(NaiveDate),
}

/// One differing cell, to become (part of) a correction of `target`.
#[derive(Debug, Clone)]
pub struct Amend {
    pub target: Uuid,
    pub place: Place,
    /// What differs, in words («шифр семьи»), the ledger's value and the table's.
    pub what: String,
    pub was: String,
    pub now: String,
    pub change: Change,
}

/// The corrections a row's differing cells make: one `event_amended` per target, in
/// the order the cells were met, dated `today`.
pub fn corrections(
    ledger: &Ledger,
    table: &str,
    file: &str,
    sheets: usize,
    known: &Known,
    amends: Vec<Amend>,
    today: NaiveDate,
) -> Result<Vec<Planned>> {
    let mut targets: Vec<Uuid> = Vec::new();
    for a in &amends {
        if !targets.contains(&a.target) {
            targets.push(a.target);
        }
    }
    let mut out = Vec::new();
    for target in targets {
        let cells: Vec<&Amend> = amends.iter().filter(|a| a.target == target).collect();
        let event = known.world.event(&target).ok_or_else(|| Error::Storage(format!("event {target} not loaded")))?;
        let (mut data, mut day) = (current_data(ledger, event)?, None);
        for a in &cells {
            match &a.change {
                Change::Member(name, v) => {
                    data.insert((*name).to_string(), v.clone());
                }
                Change::Day(d) => day = Some(*d).filter(|d| *d != event.occurred_on),
            }
        }
        let place = cells[0].place.clone();
        let sheet = if sheets > 1 { format!(" (лист «{}»)", place.sheet) } else { String::new() };
        let reason = format!("исправлено по таблице {file}, строка {}{sheet}", place.row);
        let mut body = Map::new();
        body.insert("target".into(), json!(target.to_string()));
        body.insert("reason".into(), json!(reason));
        if let Some(d) = day {
            body.insert("occurred_on".into(), json!(d.to_string()));
        }
        body.insert("data".into(), Value::Object(data));
        let body = Value::Object(body);
        let case = known.state.case.0.as_str();
        let key = format!("event_amended\u{0}{target}\u{0}{today}\u{0}{body}");
        let changes: Vec<String> = cells.iter().map(|a| format!("{}: {} → {}", a.what, a.was, a.now)).collect();
        out.push(Planned {
            place,
            id: event_id(table, case, &key),
            kind: "event_amended",
            occurred_on: today,
            data: body,
            changes: Some(changes.join("; ")),
        });
    }
    Ok(out)
}

/// An event's `data` as it stands: the latest correction's replacement, else its own.
fn current_data(ledger: &Ledger, event: &crate::project::Effective) -> Result<Map<String, Value>> {
    let (seq, amended) = match event.amended_by.last() {
        Some(&s) => (s, true),
        None => (event.seq, false),
    };
    let record = ledger.record(seq)?.ok_or_else(|| Error::Storage(format!("event {seq} missing")))?;
    let v: Value =
        serde_json::from_slice(&record.canonical).map_err(|e| Error::Storage(format!("event {seq}: {e}")))?;
    let data = if amended { &v["data"]["data"] } else { &v["data"] };
    data.as_object().cloned().ok_or_else(|| Error::Storage(format!("event {seq} has no data")))
}
