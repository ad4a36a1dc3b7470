//! What is due (SPEC §21): the work a day's list starts from, soonest first —
//! monitoring after a closing (due and overdue), cases with no event for 30 days,
//! signals not triaged after 3 days, crisis-centre stays past their agreed end.
//!
//! One rule for every transport: `/due` feeds it the rows its case and signal lists
//! keep in memory, `caseledger due` the states folded from a `World`.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::case::{case_timeline, fold, CaseState, Status};
use super::World;
use crate::domain::payload::{Code, Outcome};
use crate::domain::Payload;

/// Months after a closing that the monitoring visit is due (the practices' «через 6
/// месяцев»).
pub const MONITORING_MONTHS: u32 = 6;
/// Monitoring shows this many days before it is due.
pub const MONITORING_AHEAD_DAYS: i64 = 30;
/// An open case with no event for this many days is idle.
pub const IDLE_DAYS: i64 = 30;
/// A signal not triaged after this many days is late.
pub const UNTRIAGED_DAYS: i64 = 3;

/// What the due list needs of one case.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub case: String,
    pub curator: Option<String>,
    pub open: bool,
    pub closed_on: Option<NaiveDate>,
    pub outcome: Option<Outcome>,
    /// A monitoring visit recorded on or after the closing.
    pub followed_up: bool,
    /// The latest day anything happened in the case.
    pub last_on: NaiveDate,
    /// The agreed end of a stay the family is still in.
    pub stay_until: Option<NaiveDate>,
}

/// What the due list needs of one signal.
#[derive(Debug, Clone)]
pub struct SignalFacts {
    pub signal: String,
    /// The family the signal names, if any.
    pub family: Option<String>,
    /// How it came (the vocabulary code).
    pub channel: &'static str,
    pub received_on: NaiveDate,
    pub resolved: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Monitoring after a stabilised closing, due within `MONITORING_AHEAD_DAYS`.
    Monitoring,
    /// Monitoring past its day.
    MonitoringOverdue,
    Idle,
    Untriaged,
    StayOver,
}

impl Kind {
    /// As a person reads it.
    pub fn ru(self) -> &'static str {
        match self {
            Kind::Monitoring => "мониторинг через 6 месяцев",
            Kind::MonitoringOverdue => "мониторинг просрочен",
            Kind::Idle => "нет событий 30 дней",
            Kind::Untriaged => "сигнал не разобран",
            Kind::StayOver => "срок пребывания в КЦ истёк",
        }
    }
}

/// One thing to do.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub kind: Kind,
    /// The case (or, for a signal, the signal) it is about.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curator: Option<String>,
    /// The day it is (or was) due.
    pub due_on: NaiveDate,
    /// Days past that day (negative: days left).
    pub overdue_days: i64,
}

impl Due {
    /// How far it is from its day, in words: `3 дня` (overdue), `сегодня`, `через 2 дня`.
    pub fn days_words(&self) -> String {
        let days = |n: i64| crate::domain::words::plural(n.unsigned_abs(), ("день", "дня", "дней"));
        match self.overdue_days {
            n if n > 0 => days(n),
            0 => "сегодня".into(),
            n => format!("через {}", days(n)),
        }
    }

    /// As a list of what is due says it: `просрочено на 3 дня`, `сегодня`, `через 2 дня`.
    pub fn when_words(&self) -> String {
        if self.overdue_days > 0 {
            format!("просрочено на {}", self.days_words())
        } else {
            self.days_words()
        }
    }
}

/// The list for `today`, soonest (most overdue) first; with `curator`, only that
/// curator's cases (signals are everyone's until triaged).
pub fn list(cases: &[CaseFacts], signals: &[SignalFacts], today: NaiveDate, curator: Option<&str>) -> Vec<Due> {
    let mut out = Vec::new();
    let mut push = |kind, subject: &str, curator: Option<&String>, due_on: NaiveDate| {
        out.push(Due {
            kind,
            subject: subject.to_string(),
            curator: curator.cloned(),
            due_on,
            overdue_days: (today - due_on).num_days(),
        })
    };
    for c in cases.iter().filter(|c| curator.is_none_or(|k| c.curator.as_deref() == Some(k))) {
        if c.open {
            let idle_from = c.last_on + chrono::Duration::days(IDLE_DAYS);
            if idle_from <= today {
                push(Kind::Idle, &c.case, c.curator.as_ref(), idle_from);
            }
            if let Some(until) = c.stay_until.filter(|u| *u < today) {
                push(Kind::StayOver, &c.case, c.curator.as_ref(), until);
            }
        } else if let (Some(closed), Some(Outcome::Stabilized), false) = (c.closed_on, c.outcome, c.followed_up) {
            let due_on = closed.checked_add_months(Months::new(MONITORING_MONTHS)).unwrap_or(closed);
            let kind = if due_on < today { Kind::MonitoringOverdue } else { Kind::Monitoring };
            if (due_on - today).num_days() <= MONITORING_AHEAD_DAYS {
                push(kind, &c.case, c.curator.as_ref(), due_on);
            }
        }
    }
    for s in signals.iter().filter(|s| !s.resolved) {
        let late_from = s.received_on + chrono::Duration::days(UNTRIAGED_DAYS);
        if late_from <= today {
            push(Kind::Untriaged, &s.signal, None, late_from);
        }
    }
    out.sort_by(|a, b| a.due_on.cmp(&b.due_on).then_with(|| a.subject.cmp(&b.subject)));
    out
}

/// A signal's state: when it came and whether it is triaged.
pub fn signal_facts(world: &World, signal: &Code) -> Option<SignalFacts> {
    let mut facts: Option<SignalFacts> = None;
    let mut resolved = false;
    for e in world.signal_events(signal).filter(|e| e.is_live()) {
        match &e.payload {
            Payload::SignalReceived(p) => {
                facts = Some(SignalFacts {
                    signal: p.signal.0.to_string(),
                    family: p.family.as_ref().map(|f| f.0.to_string()),
                    channel: p.channel.as_str(),
                    received_on: e.occurred_on,
                    resolved: false,
                })
            }
            Payload::SignalResolved(_) => resolved = true,
            _ => {}
        }
    }
    facts.map(|f| SignalFacts { resolved, ..f })
}

/// A case's facts as of `today`.
pub fn case_facts(world: &World, case: &Code, today: NaiveDate) -> Option<CaseFacts> {
    let s = fold(world, case, Some(today))?;
    Some(facts_of_state(&s, last_event_day(world, &s, today)))
}

/// The latest day anything happened in a folded case by `today` (its opening day when
/// nothing did since).
pub fn last_event_day(world: &World, s: &CaseState, today: NaiveDate) -> NaiveDate {
    case_timeline(world, &s.case, Some(today)).iter().map(|e| e.occurred_on).max().unwrap_or(s.opened_on)
}

/// The facts of a folded case whose latest event happened on `last_on`.
pub fn facts_of_state(s: &CaseState, last_on: NaiveDate) -> CaseFacts {
    CaseFacts {
        case: s.case.0.to_string(),
        curator: s.curator.as_ref().map(|c| c.0.to_string()),
        open: s.status == Status::Open,
        closed_on: s.closed_on,
        outcome: s.outcome,
        followed_up: s.closed_on.is_some_and(|d| s.follow_ups.iter().any(|f| f.on >= d)),
        last_on,
        stay_until: s.shelter.until.filter(|_| s.shelter.in_shelter),
    }
}

/// The list of a whole `World` (the command line's way).
pub fn of_world(world: &World, today: NaiveDate, curator: Option<&str>) -> Vec<Due> {
    let cases: Vec<CaseFacts> = world.case_codes().into_iter().filter_map(|c| case_facts(world, c, today)).collect();
    let signals: Vec<SignalFacts> = world.signal_codes().into_iter().filter_map(|s| signal_facts(world, s)).collect();
    list(&cases, &signals, today, curator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn case(code: &str, curator: &str) -> CaseFacts {
        CaseFacts {
            case: code.into(),
            curator: Some(curator.into()),
            open: true,
            closed_on: None,
            outcome: None,
            followed_up: false,
            last_on: day("2026-12-01"),
            stay_until: None,
        }
    }

    #[test]
    fn each_kind_is_due_on_its_day_soonest_first_and_by_curator() {
        let today = day("2026-12-06");
        let closed = |code: &str, on: &str, outcome, followed_up| CaseFacts {
            open: false,
            closed_on: Some(day(on)),
            outcome: Some(outcome),
            followed_up,
            ..case(code, "К-01")
        };
        let cases = vec![
            // Idle since 06.11 + 30 days = 06.12: due today.
            CaseFacts { last_on: day("2026-11-06"), ..case("1/2026_МР", "К-01") },
            // 29 days: not yet.
            CaseFacts { last_on: day("2026-11-07"), ..case("2/2026_МР", "К-01") },
            CaseFacts { stay_until: Some(day("2026-12-01")), ..case("3/2026_КЦ", "К-02") },
            CaseFacts { stay_until: Some(day("2026-12-06")), ..case("4/2026_КЦ", "К-02") },
            closed("5/2026_МР", "2026-05-20", Outcome::Stabilized, false), // due 20.11: overdue
            closed("6/2026_МР", "2026-07-01", Outcome::Stabilized, false), // due 01.01.2027: in 26 days
            closed("7/2026_МР", "2026-08-01", Outcome::Stabilized, false), // due 01.02.2027: later
            closed("8/2026_МР", "2026-05-20", Outcome::Stabilized, true),  // done
            closed("9/2026_МР", "2026-05-20", Outcome::TerminatedByFamily, false),
        ];
        let signals = vec![
            SignalFacts {
                signal: "С-1".into(),
                family: None,
                channel: "phone",
                received_on: day("2026-12-03"),
                resolved: false,
            },
            SignalFacts {
                signal: "С-2".into(),
                family: None,
                channel: "phone",
                received_on: day("2026-12-04"),
                resolved: false,
            },
            SignalFacts {
                signal: "С-3".into(),
                family: None,
                channel: "phone",
                received_on: day("2026-11-01"),
                resolved: true,
            },
        ];
        let all = list(&cases, &signals, today, None);
        let got: Vec<(Kind, &str, i64)> = all.iter().map(|d| (d.kind, d.subject.as_str(), d.overdue_days)).collect();
        assert_eq!(
            got,
            vec![
                (Kind::MonitoringOverdue, "5/2026_МР", 16),
                (Kind::StayOver, "3/2026_КЦ", 5),
                (Kind::Idle, "1/2026_МР", 0),
                (Kind::Untriaged, "С-1", 0),
                (Kind::Monitoring, "6/2026_МР", -26),
            ]
        );
        let mine = list(&cases, &signals, today, Some("К-02"));
        let mine: Vec<&str> = mine.iter().map(|d| d.subject.as_str()).collect();
        assert_eq!(mine, vec!["3/2026_КЦ", "С-1"]);
    }
}
