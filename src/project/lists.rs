//! The case list and the signal list "as known now", kept in memory (SPEC §16, §21):
//! built once from the events (the same fold as `cases`), then, when the ledger has
//! moved, brought up to date by folding again only the cases and signals the new
//! events touch (through the case and signal indexes). At a million events a page of
//! a list is then a filter and a sort in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use crate::codec::Hash;
use crate::domain::payload::{Code, Outcome};
use crate::domain::Payload;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::project::case::{fold, Status};
use crate::project::due::{signal_facts, SignalFacts};
use crate::project::{Cut, World};

// ---------------------------------------------------------------- cases

/// One case in the list.
#[derive(Clone, Debug)]
pub struct CaseRow {
    pub case: String,
    pub family: String,
    pub program: String,
    pub curator: Option<String>,
    pub status: Status,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub outcome: Option<Outcome>,
    pub children: Vec<String>,
    pub efo_entry: Option<u64>,
    pub efo_latest: Option<u64>,
    pub in_shelter: bool,
    /// The latest day anything happened in the case.
    pub last_on: NaiveDate,
    /// What `/due` reads of it.
    pub due: crate::project::due::CaseFacts,
}

fn case_row(world: &World, case: &Code, today: NaiveDate) -> Option<CaseRow> {
    let s = fold(world, case, Some(today))?;
    let last_on = crate::project::due::last_event_day(world, &s, today);
    let latest = s.efo.follow_up.as_ref().or(s.efo.exit.as_ref()).or(s.efo.interim.as_ref());
    Some(CaseRow {
        case: s.case.0.to_string(),
        family: s.family.0.to_string(),
        program: s.program.0.to_string(),
        curator: s.curator.as_ref().map(|c| c.0.to_string()),
        status: s.status,
        opened_on: s.opened_on,
        closed_on: s.closed_on,
        outcome: s.outcome,
        children: s.children.iter().map(|c| c.code.0.to_string()).collect(),
        efo_entry: s.efo.entry.as_ref().map(|e| e.weak_sides),
        efo_latest: latest.map(|e| e.weak_sides),
        in_shelter: s.shelter.in_shelter,
        last_on,
        due: crate::project::due::facts_of_state(&s, last_on),
    })
}

/// The rows, by case, of the chain prefix (seq, hash) they are of, and the same rows in
/// the order of case numbers, shared with the requests that read them.
struct CasesBuilt {
    seq: u64,
    hash: Hash,
    by_case: BTreeMap<String, CaseRow>,
    sorted: Arc<Vec<CaseRow>>,
}

/// The list "as known now".
#[derive(Default)]
pub struct CaseList {
    built: Mutex<Option<CasesBuilt>>,
}

fn in_number_order(by_case: &BTreeMap<String, CaseRow>) -> Arc<Vec<CaseRow>> {
    let mut rows: Vec<CaseRow> = by_case.values().cloned().collect();
    rows.sort_by_cached_key(|r| case_order(&r.case));
    Arc::new(rows)
}

impl CaseList {
    /// Every case's row as the ledger stands now, in the order of case numbers.
    pub fn rows(&self, ledger: &Ledger) -> Result<Arc<Vec<CaseRow>>> {
        let head = ledger.head();
        let today = chrono::Utc::now().date_naive();
        let mut guard = self.built.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(b) if (b.seq, b.hash) == (head.seq, head.hash) => return Ok(b.sorted.clone()),
            Some(b) if b.seq > 0 && b.seq < head.seq => {
                let mut changed = false;
                for case in touched(ledger, case_codes, b.seq + 1, head.seq)? {
                    let seqs = ledger.case_events(&case)?;
                    let world = World::load_seqs(ledger, &seqs, Cut::everything())?;
                    changed = true;
                    match case_row(&world, &Code::new(&case), today) {
                        Some(r) => b.by_case.insert(case, r),
                        None => b.by_case.remove(&case),
                    };
                }
                if changed {
                    b.sorted = in_number_order(&b.by_case);
                }
                (b.seq, b.hash) = (head.seq, head.hash);
                return Ok(b.sorted.clone());
            }
            _ => {}
        }
        let world = World::load(ledger, Cut::everything())?;
        let by_case: BTreeMap<String, CaseRow> = world
            .case_codes()
            .into_iter()
            .filter_map(|c| case_row(&world, c, today))
            .map(|r| (r.case.clone(), r))
            .collect();
        drop(world);
        let sorted = in_number_order(&by_case);
        *guard = Some(CasesBuilt { seq: head.seq, hash: head.hash, by_case, sorted: sorted.clone() });
        Ok(sorted)
    }
}

/// The order of the case list (SPEC §21): by the year of the number (`14/2021_МР` is
/// of 2021), then the number as people read it — so one year's cases stay together.
pub fn case_order(case: &str) -> (u32, Vec<(u8, u64, String)>) {
    let year = case
        .split_once('/')
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
        .filter(|y| y.len() == 4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(0);
    (year, natural_key(case))
}

/// A case number read as people read it: digit runs as numbers (`2/2021` before
/// `14/2021`), the rest as text.
pub fn natural_key(s: &str) -> Vec<(u8, u64, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(d);
                chars.next();
            }
            out.push((0, n.parse().unwrap_or(u64::MAX), String::new()));
        } else {
            let mut t = String::new();
            while let Some(&d) = chars.peek().filter(|d| !d.is_ascii_digit()) {
                t.extend(d.to_lowercase());
                chars.next();
            }
            out.push((1, 0, t));
        }
    }
    out
}

// ---------------------------------------------------------------- signals

/// The rows, by signal, of the chain prefix (seq, hash) they are of.
type SignalsBuilt = (u64, Hash, BTreeMap<String, SignalFacts>);

#[derive(Default)]
pub struct SignalList {
    built: Mutex<Option<SignalsBuilt>>,
}

impl SignalList {
    pub fn rows(&self, ledger: &Ledger) -> Result<Vec<SignalFacts>> {
        let head = ledger.head();
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = match built.as_mut() {
            Some((seq, hash, _)) if (*seq, *hash) == (head.seq, head.hash) => true,
            Some((seq, hash, rows)) if *seq > 0 && *seq < head.seq => {
                for signal in touched(ledger, signal_codes, *seq + 1, head.seq)? {
                    let seqs = ledger.signal_events(&signal)?;
                    let world = World::load_seqs(ledger, &seqs, Cut::everything())?;
                    match signal_facts(&world, &Code::new(&signal)) {
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
            let world = World::load(ledger, Cut::everything())?;
            let rows = world
                .signal_codes()
                .into_iter()
                .filter_map(|c| signal_facts(&world, c))
                .map(|r| (r.signal.clone(), r))
                .collect();
            *built = Some((head.seq, head.hash, rows));
        }
        Ok(built.as_ref().map(|(_, _, rows)| rows.values().cloned().collect()).unwrap_or_default())
    }
}

// ---------------------------------------------------------------- what new events touch

/// The cases an event is about or refers to.
fn case_codes(p: &Payload) -> [Option<&Code>; 2] {
    [p.case(), p.case_reference()]
}

/// The signals an event is about or refers to.
fn signal_codes(p: &Payload) -> [Option<&Code>; 2] {
    [p.signal(), p.signal_reference()]
}

/// The subjects (cases or signals, as `codes` picks them) events `from ..= to` are
/// about or refer to; for a correction, its target's.
fn touched(ledger: &Ledger, codes: fn(&Payload) -> [Option<&Code>; 2], from: u64, to: u64) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for seq in from..=to {
        let Some(rec) = ledger.record(seq)? else { continue };
        let parsed = crate::project::parse_record(seq, &rec)?;
        let payload = match parsed.payload.correction() {
            Some(c) => match ledger.record_by_id(&c.target)? {
                Some(r) => {
                    let s = crate::ledger::chain::examine(&r.canonical, r.hash).map(|l| l.seq).unwrap_or(0);
                    crate::project::parse_record(s, &r)?.payload
                }
                None => continue,
            },
            None => parsed.payload,
        };
        out.extend(codes(&payload).into_iter().flatten().map(|c| c.0.to_string()));
    }
    Ok(out)
}
