//! A case's state as of a day (valid time), folded from the live events of a
//! [`World`] (which already fixed the transaction-time cut and the corrections).
//! Events are folded in (`occurred_on`, `seq`) order, so "first" and "latest" follow
//! SPEC §6.

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::payload::{Code, Domains, Level, Money, Outcome, Stage};
use crate::domain::Payload;
use crate::project::{Effective, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildState {
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub born: Option<String>,
    /// Level at the first `entry` ЕФО that lists the child.
    pub level_entry: Option<Level>,
    /// Level at the latest `exit` / `follow_up` ЕФО that lists the child.
    pub level_latest: Option<Level>,
    /// Level at the latest ЕФО of any stage that lists the child (the case card's
    /// «уровень сейчас»; not a fact of SPEC §6, so not in the JSON).
    #[serde(skip)]
    pub level_now: Option<Level>,
    /// Latest known from `case_closed` / `follow_up_done`.
    pub in_family: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EfoView {
    pub on: NaiveDate,
    pub seq: u64,
    pub weak_sides: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domains: Option<Domains>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EfoState {
    /// The first `entry` assessment.
    pub entry: Option<EfoView>,
    /// The latest assessment of each other stage.
    pub interim: Option<EfoView>,
    pub exit: Option<EfoView>,
    pub follow_up: Option<EfoView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShelterState {
    /// In the crisis centre at the end of the day the state is for.
    pub in_shelter: bool,
    /// Admission day of the current (or last) stay.
    pub admitted_on: Option<NaiveDate>,
    /// The stay's agreed end (from admission or the latest extension).
    pub until: Option<NaiveDate>,
    /// Extensions (продление) of all stays.
    pub extensions: u32,
    pub left_on: Option<NaiveDate>,
    pub stays: u32,
    /// Days in the crisis centre up to and including the day the state is for: a stay
    /// covers its admission day through the day before leaving.
    pub days: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanView {
    pub goals: u32,
    pub achieved: u32,
    pub on: NaiveDate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AidTotals {
    /// Aid events (sets issued).
    pub sets: u32,
    pub quantity: u64,
    pub value: Money,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceTotals {
    pub events: u32,
    pub sessions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpView {
    pub on: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    pub stable: bool,
}

/// A case as of a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseState {
    pub case: Code,
    pub family: Code,
    pub program: Code,
    pub curator: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Code>,
    pub status: Status,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub outcome: Option<Outcome>,
    pub children: Vec<ChildState>,
    pub shelter: ShelterState,
    pub efo: EfoState,
    pub plan: Option<PlanView>,
    pub aid: AidTotals,
    pub services: ServiceTotals,
    pub follow_ups: Vec<FollowUpView>,
    /// Seqs of the events this state was folded from.
    pub events: Vec<u64>,
}

fn efo_view(e: &Effective, p: &crate::domain::payload::EfoScored) -> EfoView {
    EfoView { on: e.occurred_on, seq: e.seq, weak_sides: p.weak_sides(), domains: p.domains.clone() }
}

/// The live events of a case with `occurred_on ≤ on` (all when `on` is `None`), in
/// (`occurred_on`, `seq`) order.
pub fn case_timeline<'a>(world: &'a World, case: &Code, on: Option<NaiveDate>) -> Vec<&'a Effective> {
    let mut events: Vec<&Effective> =
        world.case_events(case).filter(|e| on.is_none_or(|d| e.occurred_on <= d)).collect();
    events.sort_by_key(|e| (e.occurred_on, e.seq));
    events
}

/// The state of `case` as of the end of day `on` (the latest known when `None`), or
/// `None` when the case is not opened by then.
pub fn fold(world: &World, case: &Code, on: Option<NaiveDate>) -> Option<CaseState> {
    let timeline = case_timeline(world, case, on);
    let mut s = unfinished(&timeline)?;
    // A stay not left by the day: covered through that day inclusive (or through the
    // latest event's day when no day is given).
    let through = on.or_else(|| timeline.last().map(|e| e.occurred_on));
    count_open_stay(&mut s, through);
    Some(s)
}

fn count_open_stay(s: &mut CaseState, through: Option<NaiveDate>) {
    if let (true, Some(from)) = (s.shelter.in_shelter, s.shelter.admitted_on) {
        let through = through.unwrap_or(from);
        s.shelter.days += (through - from).num_days().max(0) as u64 + 1;
    }
}

/// A case's latest state kept up to date event by event (the rules keep one for each
/// case an append touches): the fold of its timeline so far, all but the last step of
/// [`fold`] — `shelter.days` leaves out a stay not yet left. An event dated on or
/// after the last one folded comes last in the case's order (its seq is the highest)
/// and is stepped in; anything else — a late entry, a correction — needs a new fold.
#[derive(Debug, Clone)]
pub struct Running {
    state: CaseState,
    last_day: NaiveDate,
}

impl Running {
    /// The case as its live events have it now (`None`: not opened).
    pub fn of(world: &World, case: &Code) -> Option<Running> {
        let timeline = case_timeline(world, case, None);
        let state = unfinished(&timeline)?;
        let last_day = timeline.last().map_or(state.opened_on, |e| e.occurred_on);
        Some(Running { state, last_day })
    }

    /// The state so far (an open stay's days not counted).
    pub fn state(&self) -> &CaseState {
        &self.state
    }

    /// The day of the case's latest live event (of its opening, if none other).
    pub fn last_day(&self) -> NaiveDate {
        self.last_day
    }

    /// [`Running::state`], kept by the caller.
    pub fn into_state(self) -> CaseState {
        self.state
    }

    /// Steps in a new live event of the case when it comes last in the case's order;
    /// `false` (and nothing changed) when it does not.
    #[must_use]
    pub fn step(&mut self, e: &Effective) -> bool {
        if e.occurred_on < self.last_day || !e.is_live() {
            return false;
        }
        self.last_day = e.occurred_on;
        step(&mut self.state, e);
        true
    }
}

/// The fold of a timeline, before an open stay's days are counted.
fn unfinished(timeline: &[&Effective]) -> Option<CaseState> {
    let (open_ev, open) = timeline.iter().find_map(|e| match &e.payload {
        Payload::CaseOpened(p) => Some((e, p)),
        _ => None,
    })?;
    let mut s = CaseState {
        case: open.case.clone(),
        family: open.family.clone(),
        program: open.program.clone(),
        curator: open.curator.clone(),
        contract: open.contract.clone(),
        signal: open.signal.clone(),
        status: Status::Open,
        opened_on: open_ev.occurred_on,
        closed_on: None,
        outcome: None,
        children: Vec::new(),
        shelter: ShelterState::default(),
        efo: EfoState::default(),
        plan: None,
        aid: AidTotals::default(),
        services: ServiceTotals::default(),
        follow_ups: Vec::new(),
        events: Vec::new(),
    };
    for e in timeline {
        step(&mut s, e);
    }
    Some(s)
}

fn add_child(s: &mut CaseState, code: &Code, born: Option<String>) {
    if !s.children.iter().any(|c| &c.code == code) {
        s.children.push(ChildState {
            code: code.clone(),
            born,
            level_entry: None,
            level_latest: None,
            level_now: None,
            in_family: None,
        });
    }
}

/// One event folded into a case's state.
fn step(s: &mut CaseState, e: &Effective) {
    s.events.push(e.seq);
    match &e.payload {
        Payload::CaseOpened(p) => {
            for c in &p.children {
                add_child(s, &c.code, c.born.as_ref().map(|b| b.0.clone()));
            }
        }
        Payload::ChildAdded(p) => add_child(s, &p.child.code, p.child.born.as_ref().map(|b| b.0.clone())),
        Payload::CuratorAssigned(p) => s.curator = Some(p.curator.clone()),
        Payload::EfoScored(p) => {
            let view = efo_view(e, p);
            match p.stage {
                Stage::Entry => {
                    if s.efo.entry.is_none() {
                        s.efo.entry = Some(view);
                    }
                }
                Stage::Interim => s.efo.interim = Some(view),
                Stage::Exit => s.efo.exit = Some(view),
                Stage::FollowUp => s.efo.follow_up = Some(view),
            }
            for cl in p.children.iter().flatten() {
                if let Some(child) = s.children.iter_mut().find(|c| c.code == cl.code) {
                    child.level_now = Some(cl.level);
                    match p.stage {
                        Stage::Entry if child.level_entry.is_none() => child.level_entry = Some(cl.level),
                        Stage::Exit | Stage::FollowUp => child.level_latest = Some(cl.level),
                        _ => {}
                    }
                }
            }
        }
        Payload::PlanSet(p) => s.plan = Some(PlanView { goals: p.goals.0, achieved: p.achieved.0, on: e.occurred_on }),
        Payload::AidIssued(p) => {
            s.aid.sets += 1;
            s.aid.quantity += u64::from(p.quantity.0);
            s.aid.value = Money(s.aid.value.0 + p.value.map_or(0, |v| v.0));
        }
        Payload::ServiceProvided(p) => {
            s.services.events += 1;
            s.services.sessions += u64::from(p.sessions.map_or(1, |c| c.0));
        }
        Payload::ShelterAdmitted(p) => {
            s.shelter.in_shelter = true;
            s.shelter.admitted_on = Some(e.occurred_on);
            s.shelter.until = p.until.map(|d| d.0);
            s.shelter.left_on = None;
            s.shelter.stays += 1;
        }
        Payload::ShelterExtended(p) => {
            s.shelter.until = Some(p.until.0);
            s.shelter.extensions += 1;
        }
        Payload::ShelterLeft(_) => {
            if let (true, Some(from)) = (s.shelter.in_shelter, s.shelter.admitted_on) {
                s.shelter.days += (e.occurred_on - from).num_days().max(0) as u64;
            }
            s.shelter.in_shelter = false;
            s.shelter.left_on = Some(e.occurred_on);
        }
        Payload::CaseClosed(p) => {
            s.status = Status::Closed;
            s.closed_on = Some(e.occurred_on);
            s.outcome = Some(p.outcome);
            set_in_family(s, p.children.as_deref());
        }
        Payload::FollowUpDone(p) => {
            s.follow_ups.push(FollowUpView { on: e.occurred_on, months: p.months.map(|m| m.0), stable: p.stable });
            set_in_family(s, p.children.as_deref());
        }
        _ => {}
    }
}

fn set_in_family(s: &mut CaseState, children: Option<&[crate::domain::payload::ChildInFamily]>) {
    for cf in children.into_iter().flatten() {
        if let Some(child) = s.children.iter_mut().find(|c| c.code == cf.code) {
            child.in_family = Some(cf.in_family);
        }
    }
}

/// Every case opened by `on`, sorted by case code.
pub fn fold_all(world: &World, on: Option<NaiveDate>) -> Vec<CaseState> {
    world.case_codes().into_iter().filter_map(|c| fold(world, c, on)).collect()
}

/// One case's state on day `on` as known at `cut` (`None`: no such case then). Reads
/// only the case's events (and their corrections), through the case index.
pub fn state_of(
    ledger: &crate::ledger::Ledger,
    case: &str,
    on: NaiveDate,
    cut: super::Cut,
) -> crate::error::Result<Option<CaseState>> {
    let seqs = ledger.case_events(case)?;
    let world = World::load_seqs(ledger, &seqs, cut)?;
    Ok(fold(&world, &Code::new(case), Some(on)))
}

/// Every case opened by `on`, as known at `cut`.
pub fn states(ledger: &crate::ledger::Ledger, on: NaiveDate, cut: super::Cut) -> crate::error::Result<Vec<CaseState>> {
    let world = World::load(ledger, cut)?;
    Ok(fold_all(&world, Some(on)))
}
