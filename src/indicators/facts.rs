//! The fact rows of SPEC §6 — cases, children, signals, expenses — for a period
//! [F, T], read from the subjects' [`Digests`] (which already fixed the cut and
//! applied corrections; a [`World`] gives its digests, and so do the ledger's stored
//! ones for the question "as known now").
//! Every fact reads only events with `occurred_on ≤ T`; "first" and "latest" follow
//! (`occurred_on`, `seq`). With `sources`, each fact also records the seqs of the
//! events it came from (and of the corrections applied to them), for `explain`.

use chrono::NaiveDate;

use crate::domain::payload::{Level, Outcome, Stage};
use crate::project::digest::{day_number, CaseDigest, CaseItem, Digests, Item, SignalDigest, SignalItem};
use crate::project::World;

/// A closed interval of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowSet {
    Cases,
    Children,
    Signals,
    Expenses,
}

impl RowSet {
    pub fn name(self) -> &'static str {
        match self {
            RowSet::Cases => "cases",
            RowSet::Children => "children",
            RowSet::Signals => "signals",
            RowSet::Expenses => "expenses",
        }
    }
    pub fn parse(s: &str) -> Option<RowSet> {
        [RowSet::Cases, RowSet::Children, RowSet::Signals, RowSet::Expenses].into_iter().find(|r| r.name() == s)
    }
}

/// How a fact's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Code,
    Date,
    Money,
    Int,
    Bool,
    Level,
    /// One of a fixed vocabulary (outcome, resolution, channel).
    Vocab(&'static [&'static str]),
}

macro_rules! facts {
    ($($variant:ident = $name:literal : $kind:expr),+ $(,)?) => {
        /// Every fact of SPEC §6.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fact { $($variant),+ }
        impl Fact {
            pub const ALL: &'static [Fact] = &[$(Fact::$variant),+];
            pub fn name(self) -> &'static str { match self { $(Fact::$variant => $name),+ } }
            pub fn kind(self) -> Kind { match self { $(Fact::$variant => $kind),+ } }
        }
    };
}

const OUTCOMES: &[&str] = &["stabilized", "terminated_by_family", "terminated_by_org", "transferred"];
const RESOLUTIONS: &[&str] = &["urgent_help", "redirected", "case_opened", "no_action"];
const CHANNELS: &[&str] = &["phone", "messenger", "social_media", "walk_in", "referral", "other"];

facts! {
    Case = "case": Kind::Code,
    Family = "family": Kind::Code,
    Program = "program": Kind::Code,
    Curator = "curator": Kind::Code,
    OpenedOn = "opened_on": Kind::Date,
    ClosedOn = "closed_on": Kind::Date,
    Outcome = "outcome": Kind::Vocab(OUTCOMES),
    ActiveInPeriod = "active_in_period": Kind::Bool,
    OpenedInPeriod = "opened_in_period": Kind::Bool,
    ClosedInPeriod = "closed_in_period": Kind::Bool,
    CarriedOver = "carried_over": Kind::Bool,
    EfoEntry = "efo_entry": Kind::Int,
    EfoExit = "efo_exit": Kind::Int,
    EfoFollowUp = "efo_follow_up": Kind::Int,
    EfoLatest = "efo_latest": Kind::Int,
    EfoDelta = "efo_delta": Kind::Int,
    EfoDeltaLatest = "efo_delta_latest": Kind::Int,
    ChildrenTotal = "children_total": Kind::Int,
    ChildrenRemoved = "children_removed": Kind::Int,
    FollowUpDone = "follow_up_done": Kind::Bool,
    FollowUpStable = "follow_up_stable": Kind::Bool,
    ShelterDaysInPeriod = "shelter_days_in_period": Kind::Int,
    AidValueInPeriod = "aid_value_in_period": Kind::Money,
    ServicesInPeriod = "services_in_period": Kind::Int,
    PlanGoals = "plan_goals": Kind::Int,
    PlanAchieved = "plan_achieved": Kind::Int,
    Child = "child": Kind::Code,
    LevelEntry = "level_entry": Kind::Level,
    LevelLatest = "level_latest": Kind::Level,
    InFamily = "in_family": Kind::Bool,
    Signal = "signal": Kind::Code,
    Channel = "channel": Kind::Vocab(CHANNELS),
    ReceivedOn = "received_on": Kind::Date,
    ReceivedInPeriod = "received_in_period": Kind::Bool,
    Resolution = "resolution": Kind::Vocab(RESOLUTIONS),
    ResolvedInPeriod = "resolved_in_period": Kind::Bool,
    Amount = "amount": Kind::Money,
}

const CASE_FACTS: &[Fact] = &[
    Fact::Case,
    Fact::Family,
    Fact::Program,
    Fact::Curator,
    Fact::OpenedOn,
    Fact::ClosedOn,
    Fact::Outcome,
    Fact::ActiveInPeriod,
    Fact::OpenedInPeriod,
    Fact::ClosedInPeriod,
    Fact::CarriedOver,
    Fact::EfoEntry,
    Fact::EfoExit,
    Fact::EfoFollowUp,
    Fact::EfoLatest,
    Fact::EfoDelta,
    Fact::EfoDeltaLatest,
    Fact::ChildrenTotal,
    Fact::ChildrenRemoved,
    Fact::FollowUpDone,
    Fact::FollowUpStable,
    Fact::ShelterDaysInPeriod,
    Fact::AidValueInPeriod,
    Fact::ServicesInPeriod,
    Fact::PlanGoals,
    Fact::PlanAchieved,
];

impl RowSet {
    /// Whether rows of this set have the fact.
    pub fn has(self, f: Fact) -> bool {
        match self {
            RowSet::Cases => CASE_FACTS.contains(&f),
            RowSet::Children => {
                CASE_FACTS.contains(&f)
                    || matches!(f, Fact::Child | Fact::LevelEntry | Fact::LevelLatest | Fact::InFamily)
            }
            RowSet::Signals => matches!(
                f,
                Fact::Signal
                    | Fact::Family
                    | Fact::Channel
                    | Fact::ReceivedOn
                    | Fact::ReceivedInPeriod
                    | Fact::Resolution
                    | Fact::ResolvedInPeriod
            ),
            RowSet::Expenses => matches!(f, Fact::Program | Fact::Amount),
        }
    }
}

/// A fact's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    /// Kopecks.
    Money(i64),
    Date(NaiveDate),
    Level(Level),
    Str(String),
}

impl Val {
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Val::Null => J::Null,
            Val::Bool(b) => J::Bool(*b),
            Val::Int(i) => J::from(*i),
            Val::Money(k) => J::String(crate::domain::payload::Money(*k).to_string()),
            Val::Date(d) => J::String(crate::codec::format_date(*d)),
            Val::Level(l) => J::String(l.as_str().into()),
            Val::Str(s) => J::String(s.clone()),
        }
    }
}

/// One row of facts.
#[derive(Debug, Clone)]
pub struct Row {
    pub set: RowSet,
    values: Vec<Val>,
    /// (fact, seq of an event it came from), only when asked for: a flat list, since a
    /// row's facts come from a handful of events (a set per fact cost ~1 GB at 1M
    /// events in `explain`).
    sources: Option<Vec<(Fact, u64)>>,
}

impl Row {
    fn new(set: RowSet, with_sources: bool) -> Row {
        Row { set, values: vec![Val::Null; Fact::ALL.len()], sources: with_sources.then(Vec::new) }
    }
    pub fn get(&self, f: Fact) -> &Val {
        &self.values[f as usize]
    }
    fn set(&mut self, f: Fact, v: Val) {
        self.values[f as usize] = v;
    }
    /// Records that fact `f` came from event `e` (and the corrections applied to it).
    fn from<W>(&mut self, f: Fact, e: &Item<W>) {
        if let Some(sources) = &mut self.sources {
            sources.push((f, e.seq));
            sources.extend(e.amended_by.iter().map(|a| (f, *a)));
        }
    }
    /// Seqs of the events any fact of the row came from (unordered, may repeat).
    pub fn all_sources(&self) -> impl Iterator<Item = u64> + '_ {
        self.sources.iter().flatten().map(|(_, s)| *s)
    }
    /// Seqs of the events a fact came from, ascending.
    pub fn sources(&self, f: Fact) -> impl Iterator<Item = u64> {
        let mut seqs: Vec<u64> = self.sources.iter().flatten().filter(|(g, _)| *g == f).map(|(_, s)| *s).collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.into_iter()
    }
    pub fn case(&self) -> Option<&str> {
        match self.get(Fact::Case) {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Val) -> Val {
    v.map_or(Val::Null, f)
}

/// The facts of every case opened by `period.to`, and of its children.
pub fn case_rows(digests: &Digests, period: Period, with_sources: bool) -> (Vec<Row>, Vec<Row>) {
    // Cases are independent of one another: their rows are built on every core, in
    // case-code order.
    let cases: Vec<&CaseDigest> = digests.cases.values().collect();
    let per_case = crate::parallel::ordered_map(&cases, |d| one_case(d, period, with_sources));
    let mut rows = Vec::with_capacity(per_case.len());
    let mut children = Vec::new();
    for (r, kids) in per_case.into_iter().flatten() {
        rows.push(r);
        children.extend(kids);
    }
    (rows, children)
}

type Src<'a> = &'a Item<CaseItem>;

struct ChildAcc<'a> {
    code: &'a str,
    added: Src<'a>,
    level_entry: Option<(Level, Src<'a>)>,
    level_latest: Option<(Level, Src<'a>)>,
    in_family: Option<(bool, Src<'a>)>,
}

impl<'a> ChildAcc<'a> {
    fn new(code: &'a str, added: Src<'a>) -> ChildAcc<'a> {
        ChildAcc { code, added, level_entry: None, level_latest: None, in_family: None }
    }
}

/// Sets each listed child's latest `in_family`.
fn in_family<'a>(kids: &mut [ChildAcc<'a>], listed: &'a [(String, bool)], e: Src<'a>) {
    for (code, b) in listed {
        if let Some(k) = kids.iter_mut().find(|k| k.code == code) {
            k.in_family = Some((*b, e));
        }
    }
}

fn one_case(digest: &CaseDigest, period: Period, with_sources: bool) -> Option<(Row, Vec<Row>)> {
    // Only what happened by T: the digest is in (occurred_on, seq) order.
    let to = day_number(period.to);
    let timeline = &digest[..digest.partition_point(|e| e.day <= to)];
    let (open_ev, (case, family, program, open_curator)) = timeline.iter().find_map(|e| match &e.what {
        CaseItem::Opened { case, family, program, curator, .. } => Some((e, (case, family, program, curator))),
        _ => None,
    })?;
    let mut r = Row::new(RowSet::Cases, with_sources);
    let mut kids: Vec<ChildAcc<'_>> = Vec::new();
    let mut curator: Option<(&str, Src<'_>)> = open_curator.as_deref().map(|c| (c, open_ev));
    let mut closed: Option<(Src<'_>, Outcome)> = None;
    let (mut entry, mut exit, mut follow) = (None::<(i64, Src<'_>)>, None::<(i64, Src<'_>)>, None::<(i64, Src<'_>)>);
    let mut follow_ups: Vec<(Src<'_>, bool)> = Vec::new();
    let mut plan: Option<(u32, u32, Src<'_>)> = None;
    let (mut aid, mut services) = (0i64, 0i64);
    let mut aid_src = Vec::new();
    let mut service_src = Vec::new();
    let mut shelter_src = Vec::new();
    let mut stays: Vec<(NaiveDate, Option<NaiveDate>)> = Vec::new();
    for e in timeline {
        match &e.what {
            CaseItem::Opened { children, .. } => {
                for c in children {
                    if !kids.iter().any(|k| k.code == c) {
                        kids.push(ChildAcc::new(c, e));
                    }
                }
            }
            CaseItem::ChildAdded { child } if !kids.iter().any(|k| k.code == child) => {
                kids.push(ChildAcc::new(child, e));
            }
            CaseItem::Curator { curator: c } => curator = Some((c, e)),
            CaseItem::Efo { stage, weak, children } => {
                let w = *weak as i64;
                match stage {
                    Stage::Entry if entry.is_none() => entry = Some((w, e)),
                    Stage::Exit => exit = Some((w, e)),
                    Stage::FollowUp => follow = Some((w, e)),
                    _ => {}
                }
                for (code, level) in children {
                    if let Some(k) = kids.iter_mut().find(|k| k.code == code) {
                        match stage {
                            Stage::Entry if k.level_entry.is_none() => k.level_entry = Some((*level, e)),
                            Stage::Exit | Stage::FollowUp => k.level_latest = Some((*level, e)),
                            _ => {}
                        }
                    }
                }
            }
            CaseItem::Plan { goals, achieved } => plan = Some((*goals, *achieved, e)),
            CaseItem::Aid { value } if period.contains(e.on()) => {
                aid += value.unwrap_or(0);
                aid_src.push(e);
            }
            CaseItem::Service { sessions } if period.contains(e.on()) => {
                services += i64::from(sessions.unwrap_or(1));
                service_src.push(e);
            }
            CaseItem::ShelterAdmitted => {
                stays.push((e.on(), None));
                shelter_src.push(e);
            }
            CaseItem::ShelterExtended => shelter_src.push(e),
            CaseItem::ShelterLeft => {
                if let Some(last) = stays.last_mut().filter(|s| s.1.is_none()) {
                    last.1 = Some(e.on());
                }
                shelter_src.push(e);
            }
            CaseItem::Closed { outcome, children } => {
                closed = Some((e, *outcome));
                in_family(&mut kids, children, e);
            }
            CaseItem::FollowUp { stable, children } => {
                follow_ups.push((e, *stable));
                in_family(&mut kids, children, e);
            }
            _ => {}
        }
    }
    let opened_on = open_ev.on();
    let closed_on = closed.map(|(e, _)| e.on());
    let active = opened_on <= period.to && closed_on.is_none_or(|c| c >= period.from);
    r.set(Fact::Case, Val::Str(case.clone()));
    r.set(Fact::Family, Val::Str(family.clone()));
    r.set(Fact::Program, Val::Str(program.clone()));
    r.set(Fact::Curator, opt(curator, |(c, _)| Val::Str(c.to_string())));
    r.set(Fact::OpenedOn, Val::Date(opened_on));
    r.set(Fact::ClosedOn, opt(closed_on, Val::Date));
    r.set(Fact::Outcome, opt(closed, |(_, o)| Val::Str(o.as_str().into())));
    r.set(Fact::ActiveInPeriod, Val::Bool(active));
    r.set(Fact::OpenedInPeriod, Val::Bool(period.contains(opened_on)));
    r.set(Fact::ClosedInPeriod, Val::Bool(closed_on.is_some_and(|c| period.contains(c))));
    r.set(Fact::CarriedOver, Val::Bool(active && closed_on.is_none()));
    let weak = |v: Option<(i64, Src<'_>)>| opt(v, |(w, _)| Val::Int(w));
    let latest = follow.or(exit);
    r.set(Fact::EfoEntry, weak(entry));
    r.set(Fact::EfoExit, weak(exit));
    r.set(Fact::EfoFollowUp, weak(follow));
    r.set(Fact::EfoLatest, weak(latest));
    let delta = |a: Option<(i64, Src<'_>)>, b: Option<(i64, Src<'_>)>| match (a, b) {
        (Some((x, _)), Some((y, _))) => Val::Int(x - y),
        _ => Val::Null,
    };
    r.set(Fact::EfoDelta, delta(entry, exit));
    r.set(Fact::EfoDeltaLatest, delta(entry, latest));
    r.set(Fact::ChildrenTotal, Val::Int(kids.len() as i64));
    r.set(
        Fact::ChildrenRemoved,
        Val::Int(kids.iter().filter(|k| matches!(k.in_family, Some((false, _)))).count() as i64),
    );
    r.set(Fact::FollowUpDone, Val::Bool(!follow_ups.is_empty()));
    r.set(Fact::FollowUpStable, opt(follow_ups.last(), |(_, s)| Val::Bool(*s)));
    let days: i64 = stays
        .iter()
        .map(|(from, left)| {
            // Covered: from the admission day through the day before leaving, or
            // through T when not left by T; counted inside [F, T].
            let last = left.map_or(period.to, |l| l - chrono::Duration::days(1));
            let lo = (*from).max(period.from);
            let hi = last.min(period.to);
            (hi - lo).num_days() + 1
        })
        .filter(|d| *d > 0)
        .sum();
    r.set(Fact::ShelterDaysInPeriod, Val::Int(days));
    r.set(Fact::AidValueInPeriod, Val::Money(aid));
    r.set(Fact::ServicesInPeriod, Val::Int(services));
    r.set(Fact::PlanGoals, opt(plan, |(g, _, _)| Val::Int(i64::from(g))));
    r.set(Fact::PlanAchieved, opt(plan, |(_, a, _)| Val::Int(i64::from(a))));
    if with_sources {
        for f in [Fact::Case, Fact::Family, Fact::Program, Fact::OpenedOn, Fact::OpenedInPeriod] {
            r.from(f, open_ev);
        }
        for f in [Fact::ActiveInPeriod, Fact::CarriedOver] {
            r.from(f, open_ev);
            if let Some((e, _)) = closed {
                r.from(f, e);
            }
        }
        if let Some((e, _)) = closed {
            for f in [Fact::ClosedOn, Fact::Outcome, Fact::ClosedInPeriod] {
                r.from(f, e);
            }
        }
        if let Some((_, e)) = curator {
            r.from(Fact::Curator, e);
        }
        let efo =
            [(Fact::EfoEntry, entry), (Fact::EfoExit, exit), (Fact::EfoFollowUp, follow), (Fact::EfoLatest, latest)];
        for (f, v) in efo {
            if let Some((_, e)) = v {
                r.from(f, e);
            }
        }
        for (f, a, b) in [(Fact::EfoDelta, entry, exit), (Fact::EfoDeltaLatest, entry, latest)] {
            for (_, e) in [a, b].into_iter().flatten() {
                r.from(f, e);
            }
        }
        for k in &kids {
            r.from(Fact::ChildrenTotal, k.added);
            if let Some((false, e)) = k.in_family {
                r.from(Fact::ChildrenRemoved, e);
            }
        }
        for (e, _) in &follow_ups {
            r.from(Fact::FollowUpDone, *e);
        }
        if let Some((e, _)) = follow_ups.last() {
            r.from(Fact::FollowUpStable, *e);
        }
        for e in shelter_src {
            r.from(Fact::ShelterDaysInPeriod, e);
        }
        for e in aid_src {
            r.from(Fact::AidValueInPeriod, e);
        }
        for e in service_src {
            r.from(Fact::ServicesInPeriod, e);
        }
        if let Some((_, _, e)) = plan {
            r.from(Fact::PlanGoals, e);
            r.from(Fact::PlanAchieved, e);
        }
    }
    let child_rows = kids
        .iter()
        .map(|k| {
            let mut c = r.clone();
            c.set = RowSet::Children;
            c.set(Fact::Child, Val::Str(k.code.to_string()));
            c.set(Fact::LevelEntry, opt(k.level_entry, |(l, _)| Val::Level(l)));
            c.set(Fact::LevelLatest, opt(k.level_latest, |(l, _)| Val::Level(l)));
            c.set(Fact::InFamily, opt(k.in_family, |(b, _)| Val::Bool(b)));
            c.from(Fact::Child, k.added);
            for (f, v) in [(Fact::LevelEntry, k.level_entry), (Fact::LevelLatest, k.level_latest)] {
                if let Some((_, e)) = v {
                    c.from(f, e);
                }
            }
            if let Some((_, e)) = k.in_family {
                c.from(Fact::InFamily, e);
            }
            c
        })
        .collect();
    Some((r, child_rows))
}

/// One row per signal received by `period.to`.
pub fn signal_rows(digests: &Digests, period: Period, with_sources: bool) -> Vec<Row> {
    let signals: Vec<&SignalDigest> = digests.signals.values().collect();
    crate::parallel::ordered_map(&signals, |d| signal_row(d, period, with_sources)).into_iter().flatten().collect()
}

fn signal_row(digest: &SignalDigest, period: Period, with_sources: bool) -> Option<Row> {
    let to = day_number(period.to);
    let timeline = &digest[..digest.partition_point(|e| e.day <= to)];
    let mut received = None;
    let mut resolved = None;
    for e in timeline {
        match &e.what {
            SignalItem::Received { signal, family, channel } if received.is_none() => {
                received = Some((e, signal, family, channel))
            }
            SignalItem::Resolved { resolution } => resolved = Some((e, resolution)),
            _ => {}
        }
    }
    let (re, signal, family, channel) = received?;
    let mut r = Row::new(RowSet::Signals, with_sources);
    r.set(Fact::Signal, Val::Str(signal.clone()));
    r.set(Fact::Family, opt(family.as_ref(), |f| Val::Str(f.clone())));
    r.set(Fact::Channel, Val::Str(channel.as_str().into()));
    r.set(Fact::ReceivedOn, Val::Date(re.on()));
    r.set(Fact::ReceivedInPeriod, Val::Bool(period.contains(re.on())));
    r.set(Fact::Resolution, opt(resolved, |(_, p)| Val::Str(p.as_str().into())));
    r.set(Fact::ResolvedInPeriod, Val::Bool(resolved.is_some_and(|(e, _)| period.contains(e.on()))));
    for f in [Fact::Signal, Fact::Family, Fact::Channel, Fact::ReceivedOn, Fact::ReceivedInPeriod] {
        r.from(f, re);
    }
    if let Some((e, _)) = resolved {
        r.from(Fact::Resolution, e);
        r.from(Fact::ResolvedInPeriod, e);
    }
    Some(r)
}

/// One row per expense with `occurred_on` in the period.
pub fn expense_rows(digests: &Digests, period: Period, with_sources: bool) -> Vec<Row> {
    digests
        .expenses
        .values()
        .filter(|e| period.contains(e.on()))
        .map(|e| {
            let mut r = Row::new(RowSet::Expenses, with_sources);
            r.set(Fact::Program, Val::Str(e.what.program.clone()));
            r.set(Fact::Amount, Val::Money(e.what.amount));
            r.from(Fact::Program, e);
            r.from(Fact::Amount, e);
            r
        })
        .collect()
}

/// All four row sets.
pub struct Rows {
    pub cases: Vec<Row>,
    pub children: Vec<Row>,
    pub signals: Vec<Row>,
    pub expenses: Vec<Row>,
}

impl Rows {
    /// The rows of a world (its digests first).
    pub fn build(world: &World, period: Period, with_sources: bool) -> Rows {
        Rows::of_digests(&Digests::of_world(world), period, with_sources)
    }
    pub fn of_digests(digests: &Digests, period: Period, with_sources: bool) -> Rows {
        Rows::of_sets(
            digests,
            period,
            with_sources,
            &[RowSet::Cases, RowSet::Children, RowSet::Signals, RowSet::Expenses],
        )
    }
    /// Only the row sets named (the others are left empty): `explain` of one
    /// definition builds, with sources, just the sets it reads.
    pub fn of_sets(digests: &Digests, period: Period, with_sources: bool, sets: &[RowSet]) -> Rows {
        let wants = |s: RowSet| sets.contains(&s);
        let (cases, children) = if wants(RowSet::Cases) || wants(RowSet::Children) {
            let (cases, children) = case_rows(digests, period, with_sources);
            (
                if wants(RowSet::Cases) { cases } else { Vec::new() },
                if wants(RowSet::Children) { children } else { Vec::new() },
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Rows {
            cases,
            children,
            signals: if wants(RowSet::Signals) { signal_rows(digests, period, with_sources) } else { Vec::new() },
            expenses: if wants(RowSet::Expenses) { expense_rows(digests, period, with_sources) } else { Vec::new() },
        }
    }
    pub fn of(&self, set: RowSet) -> &[Row] {
        match set {
            RowSet::Cases => &self.cases,
            RowSet::Children => &self.children,
            RowSet::Signals => &self.signals,
            RowSet::Expenses => &self.expenses,
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per fact family of SPEC §6, each on a hand-built world; expected values
    //! are worked out in the comments.
    use super::*;
    use crate::domain::Payload;
    use chrono::TimeZone;
    use serde_json::json;

    fn d(s: &str) -> NaiveDate {
        crate::codec::parse_date(s).unwrap()
    }

    /// A world from (type, occurred_on, data) in seq order.
    fn world(events: &[(&str, &str, serde_json::Value)]) -> World {
        let mut w = World::default();
        for (i, (kind, on, data)) in events.iter().enumerate() {
            let payload = Payload::parse(kind, data.as_object().unwrap()).unwrap();
            let id = uuid::Uuid::from_u128(i as u128 + 1);
            let rec = chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
            w.add(i as u64 + 1, id, [i as u8; 32], rec, d(on), payload).unwrap();
        }
        w
    }

    fn period(f: &str, t: &str) -> Period {
        Period { from: d(f), to: d(t) }
    }

    fn case_row(w: &World, p: Period) -> Row {
        let (mut cases, _) = case_rows(&Digests::of_world(w), p, true);
        assert_eq!(cases.len(), 1);
        cases.remove(0)
    }

    fn opened(case: &str) -> (&'static str, &'static str, serde_json::Value) {
        (
            "case_opened",
            "2020-03-01",
            json!({"case": case, "family": "Ф1", "program": "МР", "curator": "К-1", "children": [{"code": "Р1"}, {"code": "Р2"}]}),
        )
    }

    #[test]
    fn period_flags_and_closing() {
        let w = world(&[opened("К1"), ("case_closed", "2020-06-30", json!({"case": "К1", "outcome": "stabilized"}))]);
        // Closed before the period starts: not active.
        let r = case_row(&w, period("2020-07-01", "2020-12-31"));
        assert_eq!(r.get(Fact::ActiveInPeriod), &Val::Bool(false));
        assert_eq!(r.get(Fact::ClosedInPeriod), &Val::Bool(false));
        assert_eq!(r.get(Fact::OpenedInPeriod), &Val::Bool(false));
        // Closed on the period's first day: active and closed in it.
        let r = case_row(&w, period("2020-06-30", "2020-12-31"));
        assert_eq!(r.get(Fact::ActiveInPeriod), &Val::Bool(true));
        assert_eq!(r.get(Fact::ClosedInPeriod), &Val::Bool(true));
        assert_eq!(r.get(Fact::CarriedOver), &Val::Bool(false));
        assert_eq!(r.get(Fact::Outcome), &Val::Str("stabilized".into()));
        // Closed after the period ends: closed_on and outcome are null, carried over.
        let r = case_row(&w, period("2020-01-01", "2020-05-31"));
        assert_eq!(r.get(Fact::ClosedOn), &Val::Null);
        assert_eq!(r.get(Fact::Outcome), &Val::Null);
        assert_eq!(r.get(Fact::CarriedOver), &Val::Bool(true));
        assert_eq!(r.get(Fact::OpenedInPeriod), &Val::Bool(true));
        // Opened after the period: no row at all.
        assert!(case_rows(&Digests::of_world(&w), period("2019-01-01", "2019-12-31"), false).0.is_empty());
    }

    #[test]
    fn efo_first_entry_latest_exit_and_follow_up() {
        let w = world(&[
            opened("К1"),
            ("efo_scored", "2020-03-05", json!({"case": "К1", "stage": "entry", "weak_total": 20})),
            ("efo_scored", "2020-03-06", json!({"case": "К1", "stage": "entry", "weak_total": 30})),
            // Domains only: weak sides are their sum, 1+2+0+0+0+0+0+3 = 6.
            (
                "efo_scored",
                "2020-09-01",
                json!({"case": "К1", "stage": "exit", "domains": {"housing_income": 1, "health_safety": 2, "self_care": 0, "education": 0, "identity": 0, "emotional": 0, "family_relations": 0, "behaviour": 3}}),
            ),
            // Same day, larger seq: this one is the latest exit.
            ("efo_scored", "2020-09-01", json!({"case": "К1", "stage": "exit", "weak_total": 8})),
            ("case_closed", "2020-09-02", json!({"case": "К1", "outcome": "stabilized"})),
            ("efo_scored", "2021-03-01", json!({"case": "К1", "stage": "follow_up", "weak_total": 5})),
        ]);
        let r = case_row(&w, period("2020-01-01", "2020-12-31"));
        assert_eq!(r.get(Fact::EfoEntry), &Val::Int(20), "the first entry");
        assert_eq!(r.get(Fact::EfoExit), &Val::Int(8), "the latest exit by (occurred_on, seq)");
        assert_eq!(r.get(Fact::EfoFollowUp), &Val::Null, "follow-up is after T");
        assert_eq!(r.get(Fact::EfoLatest), &Val::Int(8));
        assert_eq!(r.get(Fact::EfoDelta), &Val::Int(12));
        assert_eq!(r.get(Fact::EfoDeltaLatest), &Val::Int(12));
        let r = case_row(&w, period("2021-01-01", "2021-12-31"));
        assert_eq!(r.get(Fact::EfoLatest), &Val::Int(5), "follow-up if present");
        assert_eq!(r.get(Fact::EfoDeltaLatest), &Val::Int(15));
        assert_eq!(r.get(Fact::EfoDelta), &Val::Int(12));
        let sources: Vec<u64> = r.sources(Fact::EfoEntry).collect();
        assert_eq!(sources, vec![2]);
    }

    #[test]
    fn nulls_are_null_and_predicates_are_false_on_them() {
        let w = world(&[opened("К1")]);
        let r = case_row(&w, period("2020-01-01", "2020-12-31"));
        for f in [
            Fact::EfoEntry,
            Fact::EfoExit,
            Fact::EfoDelta,
            Fact::FollowUpStable,
            Fact::PlanGoals,
            Fact::ClosedOn,
            Fact::Outcome,
        ] {
            assert_eq!(r.get(f), &Val::Null, "{}", f.name());
        }
        assert_eq!(r.get(Fact::FollowUpDone), &Val::Bool(false));
        assert_eq!(r.get(Fact::ChildrenRemoved), &Val::Int(0));
        let parse = |p: serde_json::Value| {
            let def = json!({"id": "x", "title": "x", "numerator": {"count": "case", "from": [{"rows": "cases", "where": p}]}});
            crate::indicators::def::parse(&def, 0).unwrap().numerator.from[0].filter.clone().unwrap()
        };
        assert!(!parse(json!({"fact": "efo_delta", "gte": 0})).eval(&r));
        assert!(!parse(json!({"fact": "efo_delta", "ne": 3})).eval(&r), "ne is false on null too");
        assert!(parse(json!({"not": {"fact": "outcome", "eq": "stabilized"}})).eval(&r));
        assert!(parse(json!({"fact": "efo_entry", "present": false})).eval(&r));
    }

    #[test]
    fn shelter_days_in_period() {
        let w = world(&[
            opened("К1"),
            // Left on the admission day: no day.
            ("shelter_admitted", "2020-03-10", json!({"case": "К1"})),
            ("shelter_left", "2020-03-10", json!({"case": "К1"})),
            // 01.04 through 10.04 (the day before leaving).
            ("shelter_admitted", "2020-04-01", json!({"case": "К1"})),
            ("shelter_extended", "2020-04-05", json!({"case": "К1", "until": "2020-05-01"})),
            ("shelter_left", "2020-04-11", json!({"case": "К1"})),
            // Not left: through T.
            ("shelter_admitted", "2020-12-20", json!({"case": "К1"})),
        ]);
        // Period 05.04–25.12: 05.04..10.04 = 6 days, 20.12..25.12 = 6 days.
        let r = case_row(&w, period("2020-04-05", "2020-12-25"));
        assert_eq!(r.get(Fact::ShelterDaysInPeriod), &Val::Int(12));
        // Whole year: 10 + (20.12..31.12 = 12) = 22.
        let r = case_row(&w, period("2020-01-01", "2020-12-31"));
        assert_eq!(r.get(Fact::ShelterDaysInPeriod), &Val::Int(22));
        // T before the leaving: the April stay runs through T = 08.04 (8 days).
        let r = case_row(&w, period("2020-01-01", "2020-04-08"));
        assert_eq!(r.get(Fact::ShelterDaysInPeriod), &Val::Int(8));
    }

    #[test]
    fn aid_money_and_services_in_period() {
        let w = world(&[
            opened("К1"),
            ("aid_issued", "2020-02-01", json!({"case": "К1", "kind": "food", "quantity": 1, "value": "1000"})),
            ("aid_issued", "2020-04-01", json!({"case": "К1", "kind": "food", "quantity": 1, "value": "100.50"})),
            ("aid_issued", "2020-04-02", json!({"case": "К1", "kind": "diapers", "quantity": 2, "value": "0.55"})),
            ("aid_issued", "2020-04-03", json!({"case": "К1", "kind": "clothes", "quantity": 1})),
            ("service_provided", "2020-04-04", json!({"case": "К1", "kind": "legal"})),
            ("service_provided", "2020-04-05", json!({"case": "К1", "kind": "psychological", "sessions": 4})),
        ]);
        // In April: 100.50 + 0.55 = 101.05 (the February aid is outside; no value adds 0);
        // sessions 1 (default) + 4 = 5.
        let r = case_row(&w, period("2020-04-01", "2020-04-30"));
        assert_eq!(r.get(Fact::AidValueInPeriod), &Val::Money(10105));
        assert_eq!(r.get(Fact::ServicesInPeriod), &Val::Int(5));
        assert_eq!(r.get(Fact::AidValueInPeriod).to_json(), json!("101.05"));
    }

    #[test]
    fn children_levels_in_family_and_removed() {
        let w = world(&[
            opened("К1"),
            ("child_added", "2020-04-01", json!({"case": "К1", "child": {"code": "Р3"}})),
            (
                "efo_scored",
                "2020-03-02",
                json!({"case": "К1", "stage": "entry", "weak_total": 9, "children": [{"code": "Р1", "level": "crisis"}]}),
            ),
            (
                "efo_scored",
                "2020-04-02",
                json!({"case": "К1", "stage": "entry", "weak_total": 9, "children": [{"code": "Р1", "level": "prosperous"}, {"code": "Р3", "level": "unsatisfactory"}]}),
            ),
            (
                "efo_scored",
                "2020-08-01",
                json!({"case": "К1", "stage": "exit", "weak_total": 4, "children": [{"code": "Р1", "level": "satisfactory"}]}),
            ),
            (
                "case_closed",
                "2020-08-02",
                json!({"case": "К1", "outcome": "stabilized", "children": [{"code": "Р1", "in_family": true}, {"code": "Р2", "in_family": true}]}),
            ),
            (
                "follow_up_done",
                "2021-02-01",
                json!({"case": "К1", "stable": false, "children": [{"code": "Р2", "in_family": false}]}),
            ),
        ]);
        let (cases, children) = case_rows(&Digests::of_world(&w), period("2021-01-01", "2021-12-31"), false);
        assert_eq!(cases[0].get(Fact::ChildrenTotal), &Val::Int(3));
        assert_eq!(cases[0].get(Fact::ChildrenRemoved), &Val::Int(1), "Р2's latest in_family is false");
        assert_eq!(cases[0].get(Fact::FollowUpStable), &Val::Bool(false));
        let child = |code: &str| children.iter().find(|r| r.get(Fact::Child) == &Val::Str(code.into())).unwrap();
        assert_eq!(child("Р1").get(Fact::LevelEntry), &Val::Level(Level::Crisis), "the first entry listing the child");
        assert_eq!(child("Р1").get(Fact::LevelLatest), &Val::Level(Level::Satisfactory));
        assert_eq!(child("Р3").get(Fact::LevelEntry), &Val::Level(Level::Unsatisfactory));
        assert_eq!(child("Р3").get(Fact::LevelLatest), &Val::Null);
        assert_eq!(child("Р2").get(Fact::InFamily), &Val::Bool(false));
        assert_eq!(child("Р3").get(Fact::InFamily), &Val::Null);
        assert_eq!(child("Р3").get(Fact::Family), &Val::Str("Ф1".into()), "case facts on children rows");
        // Known only to 2020: the follow-up is after T, so Р2 is still in the family.
        let (cases, _) = case_rows(&Digests::of_world(&w), period("2020-01-01", "2020-12-31"), false);
        assert_eq!(cases[0].get(Fact::ChildrenRemoved), &Val::Int(0));
    }

    #[test]
    fn curator_and_plan_are_the_latest() {
        let w = world(&[
            opened("К1"),
            ("curator_assigned", "2020-05-01", json!({"case": "К1", "curator": "К-2"})),
            ("plan_set", "2020-03-02", json!({"case": "К1", "goals": 4, "achieved": 0})),
            ("plan_set", "2020-06-01", json!({"case": "К1", "goals": 4, "achieved": 3})),
        ]);
        let r = case_row(&w, period("2020-01-01", "2020-04-30"));
        assert_eq!(r.get(Fact::Curator), &Val::Str("К-1".into()));
        assert_eq!(r.get(Fact::PlanAchieved), &Val::Int(0));
        let r = case_row(&w, period("2020-01-01", "2020-12-31"));
        assert_eq!(r.get(Fact::Curator), &Val::Str("К-2".into()));
        assert_eq!(r.get(Fact::PlanAchieved), &Val::Int(3));
        assert_eq!(r.get(Fact::PlanGoals), &Val::Int(4));
    }

    #[test]
    fn signals_and_expenses() {
        let w = world(&[
            ("signal_received", "2020-12-30", json!({"signal": "С1", "family": "Ф1", "channel": "phone"})),
            ("signal_resolved", "2021-01-05", json!({"signal": "С1", "resolution": "urgent_help"})),
            ("signal_received", "2021-01-02", json!({"signal": "С2", "channel": "messenger"})),
            ("expense_recorded", "2020-12-31", json!({"program": "КЦ", "amount": "10"})),
            ("expense_recorded", "2021-01-01", json!({"program": "КЦ", "amount": "20.05"})),
        ]);
        let p2020 = period("2020-01-01", "2020-12-31");
        let s = signal_rows(&Digests::of_world(&w), p2020, false);
        assert_eq!(s.len(), 1, "С2 is received after T");
        assert_eq!(s[0].get(Fact::ReceivedInPeriod), &Val::Bool(true));
        assert_eq!(s[0].get(Fact::Resolution), &Val::Null, "resolved after T");
        let s = signal_rows(&Digests::of_world(&w), period("2021-01-01", "2021-12-31"), false);
        let s1 = s.iter().find(|r| r.get(Fact::Signal) == &Val::Str("С1".into())).unwrap();
        assert_eq!(s1.get(Fact::ReceivedInPeriod), &Val::Bool(false));
        assert_eq!(s1.get(Fact::ResolvedInPeriod), &Val::Bool(true));
        assert_eq!(s1.get(Fact::Resolution), &Val::Str("urgent_help".into()));
        let s2 = s.iter().find(|r| r.get(Fact::Signal) == &Val::Str("С2".into())).unwrap();
        assert_eq!(s2.get(Fact::Family), &Val::Null);
        let e = expense_rows(&Digests::of_world(&w), p2020, false);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].get(Fact::Amount), &Val::Money(1000));
    }
}
