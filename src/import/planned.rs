//! The events an import plans: each with the place in the table it comes from, an id
//! that is the same whenever the same statement is imported again, and its words; and
//! a case as the ledger knows it now, which the plan compares the rows with.

use chrono::NaiveDate;
use serde_json::{json, Value};
use uuid::Uuid;

use super::cells::{outcome_of, ru_day};
use super::place::Place;
use crate::domain::payload::Code;
use crate::domain::Payload;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::project::case::{fold, CaseState};
use crate::project::{Cut, World};

/// One event an import appends.
#[derive(Debug, Clone)]
pub struct Planned {
    pub place: Place,
    pub id: Uuid,
    pub kind: &'static str,
    pub occurred_on: NaiveDate,
    pub data: Value,
    /// A correction's changes in words: «шифр семьи: «Ф1» → «Ф2»».
    pub changes: Option<String>,
}

impl Planned {
    /// The input event as a JSONL line (no `recorded_at`: the ledger's clock; no
    /// `actor`: the importing user).
    pub fn line(&self) -> String {
        json!({"id": self.id.to_string(), "type": self.kind, "occurred_on": self.occurred_on.to_string(), "data": self.data})
            .to_string()
    }

    /// The case the event is about (a correction's: its replacement data's).
    pub fn case(&self) -> &str {
        self.data["case"].as_str().or_else(|| self.data["data"]["case"].as_str()).unwrap_or("")
    }
}

impl Planned {
    /// The event in words: `Оценка ЕФО · 17/2021_ДД · 18.06.2021 · вход, слабых сторон 20`.
    pub fn words(&self) -> String {
        use crate::domain::words;
        let d = &self.data;
        let detail = match self.kind {
            "case_opened" => {
                format!("семья {}, отдел {}", d["family"].as_str().unwrap_or(""), d["program"].as_str().unwrap_or(""))
            }
            "child_added" => format!("ребёнок {}", d["child"]["code"].as_str().unwrap_or("")),
            "curator_assigned" => format!("куратор {}", d["curator"].as_str().unwrap_or("")),
            "efo_scored" => {
                format!("{}, слабых сторон {}", if d["stage"] == "entry" { "вход" } else { "выход" }, d["weak_total"])
            }
            "shelter_extended" => format!(
                "до {}",
                crate::codec::parse_date(d["until"].as_str().unwrap_or("")).map_or(String::new(), ru_day)
            ),
            "case_closed" => {
                outcome_of(d["outcome"].as_str().unwrap_or("")).map_or(String::new(), |o| o.ru().to_string())
            }
            "follow_up_done" => {
                format!("через 6 месяцев, устойчиво: {}", if d["stable"] == true { "да" } else { "нет" })
            }
            "event_amended" => self.changes.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let mut parts =
            vec![words::event_type(self.kind).to_string(), self.case().to_string(), ru_day(self.occurred_on)];
        if !detail.is_empty() {
            parts.push(detail);
        }
        parts.join(" · ")
    }
}

/// The id of an imported event: UUIDv8 of the table, the row's key (its case) and the
/// event's kind, so the same statement imported again is the same event.
pub fn event_id(table: &str, case: &str, kind: &str) -> Uuid {
    let mut h = blake3::Hasher::new();
    for part in ["caseledger import-table v1", table, case, kind] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Uuid::new_v8(bytes)
}

/// A case as the ledger knows it now, with the events it was folded from.
pub(super) struct Known {
    pub(super) world: World,
    pub(super) state: CaseState,
}

impl Known {
    /// The id of the case's latest live event matching `what`.
    pub(super) fn id_of(&self, what: impl Fn(&Payload) -> bool) -> Option<Uuid> {
        self.world
            .case_events(&self.state.case)
            .filter(|e| e.is_live() && what(&e.payload))
            .max_by_key(|e| e.seq)
            .map(|e| e.id)
    }
}

pub(super) fn known(ledger: &Ledger, case: &str) -> Result<Option<Known>> {
    let seqs = ledger.case_events(case)?;
    if seqs.is_empty() {
        return Ok(None);
    }
    let world = World::load_seqs(ledger, &seqs, Cut::everything())?;
    Ok(fold(&world, &Code::new(case), None).map(|state| Known { world, state }))
}
