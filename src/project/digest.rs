//! Digests: for each subject (case, signal, expense), the effective events that the
//! facts of SPEC §6 read, in a compact, period-free form — corrections applied, voided
//! events gone, in (`occurred_on`, `seq`) order, each with the seqs it came from.
//!
//! Facts for any period are a pure function of the digests (`indicators::facts`), and
//! digests are a pure function of a [`World`]: the same fold serves a historical cut
//! (a `World` loaded from the events) and the question "as known now" (digests kept in
//! the ledger by the `summary` module beside this one, updated on append).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::payload::{Channel, Code, Level, Outcome, Resolution, Stage};
use crate::domain::Payload;
use crate::project::case::case_timeline;
use crate::project::{Effective, World};

/// One effective event of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item<W> {
    /// Effective `occurred_on`, as days from 0001-01-01 (compact in the encoding).
    pub day: i32,
    pub seq: u64,
    /// Seqs of the amendments applied, in order.
    pub amended_by: Vec<u64>,
    pub what: W,
}

impl<W> Item<W> {
    fn of(e: &Effective, what: W) -> Item<W> {
        Item { day: day_number(e.occurred_on), seq: e.seq, amended_by: e.amended_by.clone(), what }
    }
    pub fn on(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.day).expect("a digest's day came from a valid date")
    }
}

pub fn day_number(d: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&d)
}

/// What a case event contributes to the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaseItem {
    Opened {
        case: String,
        family: String,
        program: String,
        curator: Option<String>,
        children: Vec<String>,
    },
    ChildAdded {
        child: String,
    },
    Curator {
        curator: String,
    },
    Efo {
        stage: Stage,
        weak: u64,
        children: Vec<(String, Level)>,
    },
    Plan {
        goals: u32,
        achieved: u32,
    },
    /// Kopecks, when the aid has a value.
    Aid {
        value: Option<i64>,
    },
    Service {
        sessions: Option<u32>,
    },
    ShelterAdmitted,
    ShelterExtended,
    ShelterLeft,
    Closed {
        outcome: Outcome,
        children: Vec<(String, bool)>,
    },
    FollowUp {
        stable: bool,
        children: Vec<(String, bool)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalItem {
    Received { signal: String, family: Option<String>, channel: Channel },
    Resolved { resolution: Resolution },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expense {
    pub program: String,
    /// Kopecks.
    pub amount: i64,
}

pub type CaseDigest = Vec<Item<CaseItem>>;
pub type SignalDigest = Vec<Item<SignalItem>>;

/// Every subject's digest, in code (and, for expenses, seq) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    pub cases: BTreeMap<String, CaseDigest>,
    pub signals: BTreeMap<String, SignalDigest>,
    /// Live expenses by seq.
    pub expenses: BTreeMap<u64, Item<Expense>>,
}

fn case_item(p: &Payload) -> Option<CaseItem> {
    let pairs = |v: &Option<Vec<crate::domain::payload::ChildInFamily>>| {
        v.iter().flatten().map(|c| (c.code.0.clone(), c.in_family)).collect()
    };
    Some(match p {
        Payload::CaseOpened(o) => CaseItem::Opened {
            case: o.case.0.clone(),
            family: o.family.0.clone(),
            program: o.program.0.clone(),
            curator: o.curator.as_ref().map(|c| c.0.clone()),
            children: o.children.iter().map(|c| c.code.0.clone()).collect(),
        },
        Payload::ChildAdded(c) => CaseItem::ChildAdded { child: c.child.code.0.clone() },
        Payload::CuratorAssigned(c) => CaseItem::Curator { curator: c.curator.0.clone() },
        Payload::EfoScored(s) => CaseItem::Efo {
            stage: s.stage,
            weak: s.weak_sides(),
            children: s.children.iter().flatten().map(|c| (c.code.0.clone(), c.level)).collect(),
        },
        Payload::PlanSet(s) => CaseItem::Plan { goals: s.goals.0, achieved: s.achieved.0 },
        Payload::AidIssued(a) => CaseItem::Aid { value: a.value.map(|v| v.0) },
        Payload::ServiceProvided(s) => CaseItem::Service { sessions: s.sessions.map(|n| n.0) },
        Payload::ShelterAdmitted(_) => CaseItem::ShelterAdmitted,
        Payload::ShelterExtended(_) => CaseItem::ShelterExtended,
        Payload::ShelterLeft(_) => CaseItem::ShelterLeft,
        Payload::CaseClosed(c) => CaseItem::Closed { outcome: c.outcome, children: pairs(&c.children) },
        Payload::FollowUpDone(f) => CaseItem::FollowUp { stable: f.stable, children: pairs(&f.children) },
        _ => return None,
    })
}

/// The digest of one case: its live events that facts read, in (`occurred_on`, `seq`)
/// order.
pub fn case_digest(world: &World, case: &Code) -> CaseDigest {
    case_timeline(world, case, None).into_iter().filter_map(|e| case_item(&e.payload).map(|w| Item::of(e, w))).collect()
}

/// The digest of one signal.
pub fn signal_digest(world: &World, signal: &Code) -> SignalDigest {
    let mut events: Vec<&Effective> = world.signal_events(signal).collect();
    events.sort_by_key(|e| (e.occurred_on, e.seq));
    events
        .into_iter()
        .filter_map(|e| match &e.payload {
            Payload::SignalReceived(p) => Some(Item::of(
                e,
                SignalItem::Received {
                    signal: p.signal.0.clone(),
                    family: p.family.as_ref().map(|f| f.0.clone()),
                    channel: p.channel,
                },
            )),
            Payload::SignalResolved(p) => Some(Item::of(e, SignalItem::Resolved { resolution: p.resolution })),
            _ => None,
        })
        .collect()
}

/// The expense an event is, if it is a live expense.
pub fn expense_of(e: &Effective) -> Option<Item<Expense>> {
    match &e.payload {
        Payload::ExpenseRecorded(p) if e.is_live() => {
            Some(Item::of(e, Expense { program: p.program.0.clone(), amount: p.amount.0 }))
        }
        _ => None,
    }
}

/// The non-empty digests of subjects, by code (computed on every core).
fn by_code<T: Send>(codes: Vec<&Code>, digest: impl Fn(&Code) -> Vec<T> + Sync) -> BTreeMap<String, Vec<T>> {
    let digests = crate::parallel::ordered_map(&codes, |c| digest(c));
    digests.into_iter().zip(codes).filter(|(d, _)| !d.is_empty()).map(|(d, c)| (c.0.clone(), d)).collect()
}

impl Digests {
    /// Every subject's digest in a world (built on every core).
    pub fn of_world(world: &World) -> Digests {
        Digests {
            cases: by_code(world.case_codes(), |c| case_digest(world, c)),
            signals: by_code(world.signal_codes(), |s| signal_digest(world, s)),
            expenses: world.other_events().filter_map(|e| expense_of(e).map(|x| (e.seq, x))).collect(),
        }
    }

    /// Events counted in the digests (for logs and checks).
    pub fn items(&self) -> usize {
        self.cases.values().map(Vec::len).sum::<usize>()
            + self.signals.values().map(Vec::len).sum::<usize>()
            + self.expenses.len()
    }
}
