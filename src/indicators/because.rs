//! Why a subject was not counted, in words (SPEC §16's `/explain`, `explain`): the
//! first condition of the numerator that its row fails, said as a methodist would say
//! it — `не засчитана: случай не закрыт в периоде` — instead of the predicate's path.

use super::def::{Op, Pred};
use super::facts::{Fact, Row, Val};
use crate::domain::words;

/// Two phrases for a yes/no fact: what it says when true, and when false.
fn yes_no(f: Fact) -> Option<(&'static str, &'static str)> {
    Some(match f {
        Fact::ActiveInPeriod => ("случай вёлся в периоде", "случай не вёлся в периоде"),
        Fact::OpenedInPeriod => ("случай открыт в периоде", "случай открыт не в периоде"),
        Fact::ClosedInPeriod => ("случай закрыт в периоде", "случай не закрыт в периоде"),
        Fact::CarriedOver => ("случай перешёл с прошлого периода", "случай не переходящий"),
        Fact::FollowUpDone => ("мониторинг проведён", "мониторинг не проведён"),
        Fact::FollowUpStable => ("по мониторингу положение устойчиво", "по мониторингу положение не устойчиво"),
        Fact::InFamily => ("ребёнок в семье", "ребёнок не в семье"),
        Fact::ReceivedInPeriod => ("сигнал получен в периоде", "сигнал получен не в периоде"),
        Fact::ResolvedInPeriod => ("решение по сигналу принято в периоде", "решение по сигналу не принято в периоде"),
        _ => return None,
    })
}

/// The Russian name of a fact.
pub fn fact_title(f: Fact) -> &'static str {
    match f {
        Fact::Case => "№ случая",
        Fact::Family => "семья",
        Fact::Program => "программа",
        Fact::Curator => "куратор",
        Fact::OpenedOn => "дата открытия",
        Fact::ClosedOn => "дата закрытия",
        Fact::Outcome => "итог случая",
        Fact::EfoEntry => "слабых сторон по ЕФО при входе",
        Fact::EfoExit => "слабых сторон по ЕФО при выходе",
        Fact::EfoFollowUp => "слабых сторон по ЕФО при мониторинге",
        Fact::EfoLatest => "слабых сторон по последней ЕФО",
        Fact::EfoDelta => "изменение ЕФО от входа к выходу",
        Fact::EfoDeltaLatest => "изменение ЕФО от входа к последней оценке",
        Fact::ChildrenTotal => "детей в семье",
        Fact::ChildrenRemoved => "детей изъято",
        Fact::ShelterDaysInPeriod => "дней в кризисном центре в периоде",
        Fact::AidValueInPeriod => "помощь в периоде",
        Fact::ServicesInPeriod => "услуг в периоде",
        Fact::PlanGoals => "целей ИПР",
        Fact::PlanAchieved => "целей ИПР достигнуто",
        Fact::Child => "ребёнок",
        Fact::LevelEntry => "уровень ребёнка при входе",
        Fact::LevelLatest => "последний уровень ребёнка",
        Fact::Signal => "сигнал",
        Fact::Channel => "канал сигнала",
        Fact::ReceivedOn => "дата сигнала",
        Fact::Resolution => "решение по сигналу",
        Fact::Amount => "сумма",
        other => yes_no(other).map_or("", |p| p.0),
    }
}

/// A value as a person reads it: vocabulary in Russian, dates `31.01.2021`, money `₽`.
fn value(f: Fact, v: &Val) -> String {
    match v {
        Val::Null => "нет данных".into(),
        Val::Bool(b) => if *b { "да" } else { "нет" }.into(),
        Val::Int(i) => i.to_string(),
        Val::Money(k) => words::money(crate::domain::payload::Money(*k)),
        Val::Date(d) => words::date(*d),
        Val::Level(l) => words::value("level", l.as_str()).map_or_else(|| l.as_str().to_string(), |w| format!("«{w}»")),
        Val::Str(s) => words::value(f.name(), s).map_or_else(|| s.clone(), |w| format!("«{w}»")),
    }
}

fn op_words(op: Op) -> &'static str {
    match op {
        Op::Eq => "",
        Op::Ne => "не ",
        Op::In => "одно из: ",
        Op::Gt => "больше ",
        Op::Gte => "не меньше ",
        Op::Lt => "меньше ",
        Op::Lte => "не больше ",
        Op::Present => "",
    }
}

/// A row set's name as a person reads it (`cases` → `случай`).
pub fn rows_title(name: &str) -> &str {
    match name {
        "cases" => "случай",
        "children" => "ребёнок",
        "signals" => "сигнал",
        "expenses" => "расход",
        other => other,
    }
}

/// A fact's value (its lineage JSON) as a person reads it (vocabulary in Russian, dates, money, yes/no).
pub fn fact_value(name: &str, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "нет данных".into(),
        serde_json::Value::Bool(b) => if *b { "да" } else { "нет" }.into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => {
            if let Some(w) = crate::domain::words::value(name, s).or_else(|| crate::domain::words::value("level", s)) {
                return w.to_string();
            }
            if let Some(d) = crate::codec::parse_date(s) {
                return crate::domain::words::date(d);
            }
            if s.contains('.') {
                if let Some(m) = crate::domain::payload::Money::parse(s) {
                    return crate::domain::words::money(m);
                }
            }
            s.clone()
        }
        other => other.to_string(),
    }
}

/// A fact's Russian name (its JSON name when it has none).
pub fn fact_name(name: &str) -> String {
    crate::indicators::facts::Fact::ALL
        .iter()
        .find(|f| f.name() == name)
        .map(|f| fact_title(*f))
        .filter(|t| !t.is_empty())
        .map_or_else(|| name.to_string(), str::to_string)
}

/// Why the predicate is false for the row, in words (the first failing condition of an
/// `all`), or `None` when it holds.
pub fn why_not(p: &Pred, row: &Row) -> Option<String> {
    if p.eval(row) {
        return None;
    }
    Some(match p {
        Pred::All(ps) => return ps.iter().find_map(|q| why_not(q, row)),
        Pred::Any(ps) => {
            let all: Vec<String> = ps.iter().filter_map(|q| why_not(q, row)).collect();
            format!("ни одно из условий не выполнено ({})", all.join("; "))
        }
        Pred::Not(q) => format!("не должно быть так: {}", holds(q)),
        Pred::Present { fact, want: true } => format!("{}: нет данных", fact_title(*fact)),
        Pred::Present { fact, want: false } => format!("{}: есть, а не должно быть", fact_title(*fact)),
        Pred::Cmp { fact, op, values } => {
            let actual = row.get(*fact);
            if let (Some((yes, no)), Val::Bool(b)) = (yes_no(*fact), actual) {
                return Some(if *b { yes } else { no }.to_string());
            }
            let wanted: Vec<String> = values.iter().map(|x| value(*fact, x)).collect();
            format!("{} — {}, а нужно {}{}", fact_title(*fact), value(*fact, actual), op_words(*op), wanted.join(", "))
        }
    })
}

/// What a predicate asks, in words (for a `not`).
fn holds(p: &Pred) -> String {
    match p {
        Pred::Cmp { fact, op, values } => {
            if let (Some((yes, no)), [Val::Bool(b)]) = (yes_no(*fact), values.as_slice()) {
                let want = if matches!(op, Op::Ne) { !*b } else { *b };
                return if want { yes } else { no }.to_string();
            }
            let wanted: Vec<String> = values.iter().map(|x| value(*fact, x)).collect();
            format!("{} {}{}", fact_title(*fact), op_words(*op), wanted.join(", "))
        }
        Pred::Present { fact, want } => format!("{}: {}", fact_title(*fact), if *want { "есть" } else { "нет" }),
        Pred::All(ps) => ps.iter().map(holds).collect::<Vec<_>>().join(" и "),
        Pred::Any(ps) => ps.iter().map(holds).collect::<Vec<_>>().join(" или "),
        Pred::Not(q) => format!("не ({})", holds(q)),
    }
}

/// `не засчитана` / `не засчитан` / `не засчитано`, by what the figure counts.
pub fn not_counted(count: &str) -> &'static str {
    match count {
        "family" => "не засчитана",
        "case" | "child" | "signal" => "не засчитан",
        _ => "не засчитано",
    }
}
