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

/// What a case event contributes to the facts. Its codes are `String`s, or `&str`
/// borrowed from the events while a digest is encoded (the same bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaseItem<S = String> {
    Opened {
        case: S,
        family: S,
        program: S,
        curator: Option<S>,
        children: Vec<S>,
    },
    ChildAdded {
        child: S,
    },
    Curator {
        curator: S,
    },
    Efo {
        stage: Stage,
        weak: u64,
        children: Vec<(S, Level)>,
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
        children: Vec<(S, bool)>,
    },
    FollowUp {
        stable: bool,
        children: Vec<(S, bool)>,
    },
}

impl CaseItem<&str> {
    pub fn to_owned(&self) -> CaseItem {
        let s = |s: &&str| s.to_string();
        let pairs = |v: &Vec<(&str, bool)>| v.iter().map(|(c, b)| (c.to_string(), *b)).collect();
        match self {
            CaseItem::Opened { case, family, program, curator, children } => CaseItem::Opened {
                case: s(case),
                family: s(family),
                program: s(program),
                curator: curator.as_ref().map(s),
                children: children.iter().map(s).collect(),
            },
            CaseItem::ChildAdded { child } => CaseItem::ChildAdded { child: s(child) },
            CaseItem::Curator { curator } => CaseItem::Curator { curator: s(curator) },
            CaseItem::Efo { stage, weak, children } => CaseItem::Efo {
                stage: *stage,
                weak: *weak,
                children: children.iter().map(|(c, l)| (c.to_string(), *l)).collect(),
            },
            CaseItem::Plan { goals, achieved } => CaseItem::Plan { goals: *goals, achieved: *achieved },
            CaseItem::Aid { value } => CaseItem::Aid { value: *value },
            CaseItem::Service { sessions } => CaseItem::Service { sessions: *sessions },
            CaseItem::ShelterAdmitted => CaseItem::ShelterAdmitted,
            CaseItem::ShelterExtended => CaseItem::ShelterExtended,
            CaseItem::ShelterLeft => CaseItem::ShelterLeft,
            CaseItem::Closed { outcome, children } => CaseItem::Closed { outcome: *outcome, children: pairs(children) },
            CaseItem::FollowUp { stable, children } => {
                CaseItem::FollowUp { stable: *stable, children: pairs(children) }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalItem<S = String> {
    Received { signal: S, family: Option<S>, channel: Channel },
    Resolved { resolution: Resolution },
}

impl SignalItem<&str> {
    pub fn to_owned(&self) -> SignalItem {
        match self {
            SignalItem::Received { signal, family, channel } => SignalItem::Received {
                signal: signal.to_string(),
                family: family.map(str::to_string),
                channel: *channel,
            },
            SignalItem::Resolved { resolution } => SignalItem::Resolved { resolution: *resolution },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expense<S = String> {
    pub program: S,
    /// Kopecks.
    pub amount: i64,
}

pub type CaseDigest = Vec<Item<CaseItem>>;
pub type SignalDigest = Vec<Item<SignalItem>>;
/// A digest borrowed from the events of a world (encoded as the owned one).
pub type CaseDigestRef<'a> = Vec<Item<CaseItem<&'a str>>>;
pub type SignalDigestRef<'a> = Vec<Item<SignalItem<&'a str>>>;

/// Every subject's digest, in code (and, for expenses, seq) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    pub cases: BTreeMap<String, CaseDigest>,
    pub signals: BTreeMap<String, SignalDigest>,
    /// Live expenses by seq.
    pub expenses: BTreeMap<u64, Item<Expense>>,
}

fn case_item(p: &Payload) -> Option<CaseItem<&str>> {
    fn pairs(v: &Option<Vec<crate::domain::payload::ChildInFamily>>) -> Vec<(&str, bool)> {
        v.iter().flatten().map(|c| (c.code.0.as_str(), c.in_family)).collect()
    }
    Some(match p {
        Payload::CaseOpened(o) => CaseItem::Opened {
            case: &o.case.0,
            family: &o.family.0,
            program: &o.program.0,
            curator: o.curator.as_ref().map(|c| c.0.as_str()),
            children: o.children.iter().map(|c| c.code.0.as_str()).collect(),
        },
        Payload::ChildAdded(c) => CaseItem::ChildAdded { child: &c.child.code.0 },
        Payload::CuratorAssigned(c) => CaseItem::Curator { curator: &c.curator.0 },
        Payload::EfoScored(s) => CaseItem::Efo {
            stage: s.stage,
            weak: s.weak_sides(),
            children: s.children.iter().flatten().map(|c| (c.code.0.as_str(), c.level)).collect(),
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
    case_items(world, case).map(|(e, w)| Item::of(e, w.to_owned())).collect()
}

/// [`case_digest`], borrowed from the world.
pub fn case_digest_ref<'a>(world: &'a World, case: &Code) -> CaseDigestRef<'a> {
    case_items(world, case).map(|(e, w)| Item::of(e, w)).collect()
}

/// A case's live events that facts read, in order, with what each contributes.
fn case_items<'a>(world: &'a World, case: &Code) -> impl Iterator<Item = (&'a Effective, CaseItem<&'a str>)> {
    case_timeline(world, case, None).into_iter().filter_map(|e| case_item(&e.payload).map(|w| (e, w)))
}

/// The digest of one signal.
pub fn signal_digest(world: &World, signal: &Code) -> SignalDigest {
    signal_items(world, signal).map(|(e, w)| Item::of(e, w.to_owned())).collect()
}

/// [`signal_digest`], borrowed from the world.
pub fn signal_digest_ref<'a>(world: &'a World, signal: &Code) -> SignalDigestRef<'a> {
    signal_items(world, signal).map(|(e, w)| Item::of(e, w)).collect()
}

/// A signal's live events that facts read, in (`occurred_on`, `seq`) order, with what
/// each contributes.
fn signal_items<'a>(world: &'a World, signal: &Code) -> impl Iterator<Item = (&'a Effective, SignalItem<&'a str>)> {
    let mut events: Vec<&Effective> = world.signal_events(signal).collect();
    events.sort_by_key(|e| (e.occurred_on, e.seq));
    events.into_iter().filter_map(|e| match &e.payload {
        Payload::SignalReceived(p) => Some((
            e,
            SignalItem::Received {
                signal: p.signal.0.as_str(),
                family: p.family.as_ref().map(|f| f.0.as_str()),
                channel: p.channel,
            },
        )),
        Payload::SignalResolved(p) => Some((e, SignalItem::Resolved { resolution: p.resolution })),
        _ => None,
    })
}

/// The expense an event is, if it is a live expense.
pub fn expense_of(e: &Effective) -> Option<Item<Expense>> {
    match &e.payload {
        Payload::ExpenseRecorded(p) if e.is_live() => {
            Some(Item::of(e, Expense { program: p.program.0.to_string(), amount: p.amount.0 }))
        }
        _ => None,
    }
}

/// The non-empty digests of subjects, by code (computed on every core).
fn by_code<T: Send>(codes: Vec<&Code>, digest: impl Fn(&Code) -> Vec<T> + Sync) -> BTreeMap<String, Vec<T>> {
    let digests = crate::parallel::ordered_map(&codes, |c| digest(c));
    digests.into_iter().zip(codes).filter(|(d, _)| !d.is_empty()).map(|(d, c)| (c.0.to_string(), d)).collect()
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
