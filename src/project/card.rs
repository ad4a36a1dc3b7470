//! A case card (SPEC §16): the case's state as of a day and as known at a cut, with the
//! timeline of its stored events — who recorded each and when, late entries marked,
//! and corrections beside what they correct, in words.

use chrono::NaiveDate;

use crate::codec::{Hash, ZERO_HASH};
use crate::domain::describe::describe;
use crate::domain::payload::Code;
use crate::domain::Payload;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::project::case::{fold, CaseState};
use crate::project::{Cut, World};

/// An event recorded this many days or more after it happened is marked a late entry.
pub const LATE_ENTRY_DAYS: i64 = 30;

/// A late entry: recorded `LATE_ENTRY_DAYS` or more after the day it happened.
pub fn is_late(recorded_at: &str, occurred_on: NaiveDate) -> bool {
    crate::codec::parse_stamp(recorded_at).is_some_and(|t| (t.date_naive() - occurred_on).num_days() >= LATE_ENTRY_DAYS)
}

/// What a correction in the timeline says.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    /// A void (else an amendment).
    pub voids: bool,
    /// The seq of the event it corrects, when that event is in the case's timeline.
    pub target_seq: Option<u64>,
    pub reason: String,
    /// An amendment's new data in words (as the corrected event's type says it).
    pub now: Option<String>,
}

/// A later correction of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectedBy {
    pub seq: u64,
    pub voids: bool,
}

/// One stored event of the case as the timeline shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub seq: u64,
    pub id: String,
    /// The event's type (its code).
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub recorded_at: String,
    pub actor: String,
    /// What the event says, in words (empty for a correction: see `correction`).
    pub said: String,
    /// The correction this event is.
    pub correction: Option<Correction>,
    /// Its later corrections.
    pub corrected_by: Vec<CorrectedBy>,
    /// Recorded `LATE_ENTRY_DAYS` or more after it happened.
    pub late: bool,
}

impl Line {
    /// Voided by a later event.
    pub fn voided(&self) -> bool {
        self.corrected_by.iter().any(|c| c.voids)
    }
}

/// A case card.
#[derive(Debug, Clone)]
pub struct Card {
    pub state: CaseState,
    /// The timeline, by the day each event happened, then by seq.
    pub lines: Vec<Line>,
    /// The case's signal when it is still unresolved.
    pub open_signal: Option<String>,
    /// The last event of the case inside the cut (seq, hash).
    pub head: (u64, Hash),
}

/// The card of `case` as of the day `on`, as known inside `cut` (`None`: no such case).
pub fn load(ledger: &Ledger, case: &str, on: NaiveDate, cut: Cut) -> Result<Option<Card>> {
    let seqs = ledger.case_events(case)?;
    let world = World::load_seqs(ledger, &seqs, cut)?;
    let Some(state) = fold(&world, &Code::new(case), Some(on)) else { return Ok(None) };
    // Each event with its payload (None: a type or data that no longer reads).
    let mut stored = Vec::new();
    let mut head = (0, ZERO_HASH);
    for seq in seqs {
        let Some(rec) = ledger.record(seq)? else { continue };
        if !cut.admits(seq, &rec.canonical)? {
            continue;
        }
        head = head.max((seq, rec.hash));
        let ev = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
        let payload = Payload::of_stored(&ev);
        stored.push((ev, payload));
    }
    let by_id = |id: uuid::Uuid| stored.iter().find(|(e, _)| e.id == id).map(|(e, _)| e);
    let mut corrections: std::collections::HashMap<uuid::Uuid, Vec<CorrectedBy>> = Default::default();
    for (c, p) in &stored {
        if let Some(of) = p.as_ref().and_then(Payload::correction) {
            corrections.entry(of.target).or_default().push(CorrectedBy { seq: c.seq, voids: of.voids });
        }
    }
    let mut lines: Vec<Line> = stored
        .iter()
        .map(|(ev, payload)| {
            let occurred_on = crate::codec::parse_date(&ev.occurred_on).unwrap_or(state.opened_on);
            let correction = payload.as_ref().and_then(Payload::correction).map(|c| {
                let target = by_id(c.target);
                Correction {
                    voids: c.voids,
                    target_seq: target.map(|t| t.seq),
                    reason: c.reason.to_string(),
                    now: c.data.map(|d| {
                        describe(target.map_or("", |t| t.kind.as_str()), &serde_json::Value::Object(d.clone()))
                    }),
                }
            });
            let corrected_by = corrections.get(&ev.id).cloned().unwrap_or_default();
            Line {
                seq: ev.seq,
                id: ev.id.to_string(),
                said: if correction.is_some() { String::new() } else { describe(&ev.kind, &ev.data) },
                kind: ev.kind.clone(),
                occurred_on,
                late: is_late(&ev.recorded_at, occurred_on),
                recorded_at: ev.recorded_at.clone(),
                actor: ev.actor.clone(),
                correction,
                corrected_by,
            }
        })
        .collect();
    lines.sort_by_key(|l| (l.occurred_on, l.seq));
    let open_signal = match &state.signal {
        Some(s) => {
            let resolved = ledger.signal_events(&s.0)?.into_iter().any(|seq| {
                ledger
                    .record(seq)
                    .ok()
                    .flatten()
                    .and_then(|r| r.parse().ok())
                    .is_some_and(|e| e.kind == "signal_resolved")
            });
            (!resolved).then(|| s.0.to_string())
        }
        None => None,
    };
    Ok(Some(Card { state, lines, open_signal, head }))
}

/// A stored event as it stands now, the latest amendment of it applied (SPEC §5): what
/// a correction's form starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub id: uuid::Uuid,
    pub seq: u64,
    /// Its type (its code).
    pub kind: String,
    /// The case its data names (as its subject, or as the case that resolved it).
    pub case: Option<String>,
    /// The signal its data names.
    pub signal: Option<String>,
    /// Its `data` as it stands now.
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Its day as it stands now (`YYYY-MM-DD`).
    pub occurred_on: String,
}

/// The event with this id as it stands now (`None`: no such event).
pub fn current(ledger: &Ledger, id: uuid::Uuid) -> Result<Option<Current>> {
    let Some(rec) = ledger.record_by_id(&id)? else { return Ok(None) };
    let ev = rec.parse().map_err(|reason| Error::Integrity { seq: 0, reason })?;
    let payload = Payload::of_stored(&ev);
    let named = |c: Option<&Code>| c.map(|c| c.0.to_string());
    let case = payload.as_ref().and_then(|p| named(p.case().or(p.case_reference())));
    let signal = payload.as_ref().and_then(|p| named(p.signal().or(p.signal_reference())));
    let mut now = Current {
        id: ev.id,
        seq: ev.seq,
        kind: ev.kind,
        case,
        signal,
        data: ev.data.as_object().cloned().unwrap_or_default(),
        occurred_on: ev.occurred_on,
    };
    // The latest amendment (by seq) gives the data and the day.
    let seqs = match (&now.case, &now.signal) {
        (Some(c), _) => ledger.case_events(c)?,
        (None, Some(s)) => ledger.signal_events(s)?,
        _ => Vec::new(),
    };
    for seq in seqs {
        let Some(r) = ledger.record(seq)? else { continue };
        let Ok(c) = r.parse() else { continue };
        if c.kind != "event_amended" {
            continue;
        }
        if let Some(Payload::EventAmended(a)) = Payload::of_stored(&c) {
            if a.target == now.id {
                now.data = a.data;
                if let Some(d) = a.occurred_on {
                    now.occurred_on = crate::codec::format_date(d.0);
                }
            }
        }
    }
    Ok(Some(now))
}
