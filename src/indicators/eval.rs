//! Evaluating definitions over fact rows (SPEC §7, §9), exactly: counts of distinct
//! keys, sums in kopecks or integers, a ratio rounded half-up to 4 digits with integer
//! arithmetic; and the lineage of a figure (`explain`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{json, Value};

use crate::codec::hex;
use crate::codec::Hash;
use crate::domain::payload::Money;
use crate::indicators::def::{Definition, Measure, Query};
use crate::indicators::facts::{Fact, Kind, Row, RowSet, Rows, Val};
use crate::project::World;

/// Where `explain` finds the id and hash of the event at a seq.
pub trait EventRefs {
    fn event_ref(&self, seq: u64) -> Option<(uuid::Uuid, Hash)>;
}

impl EventRefs for World {
    fn event_ref(&self, seq: u64) -> Option<(uuid::Uuid, Hash)> {
        World::event_ref(self, seq)
    }
}

impl EventRefs for rustc_hash::FxHashMap<u64, (uuid::Uuid, Hash)> {
    fn event_ref(&self, seq: u64) -> Option<(uuid::Uuid, Hash)> {
        self.get(&seq).copied()
    }
}

/// A numerator or denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    Count(u64),
    /// Kopecks.
    Money(i64),
    Int(i64),
}

impl Number {
    pub fn to_json(self) -> Value {
        match self {
            Number::Count(n) => json!(n),
            Number::Money(k) => json!(Money(k).to_string()),
            Number::Int(i) => json!(i),
        }
    }
    /// The value as a fraction `numerator / scale` (money is kopecks / 100).
    fn fraction(self) -> (i128, i128) {
        match self {
            Number::Count(n) => (i128::from(n), 1),
            Number::Money(k) => (i128::from(k), 100),
            Number::Int(i) => (i128::from(i), 1),
        }
    }
    fn is_zero(self) -> bool {
        self.fraction().0 == 0
    }
}

/// `a / b` as a decimal string with 4 fractional digits, rounded half away from zero.
pub fn ratio(a: Number, b: Number) -> Option<String> {
    if b.is_zero() {
        return None;
    }
    let ((an, ad), (bn, bd)) = (a.fraction(), b.fraction());
    // a/b = (an·bd) / (ad·bn); scaled by 10^4.
    let num = an * bd * 10_000;
    let den = ad * bn;
    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    // Half away from zero.
    let scaled = if num >= 0 {
        if 2 * r >= den {
            q + 1
        } else {
            q
        }
    } else if 2 * r > den {
        q + 1
    } else {
        q
    };
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    Some(format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000))
}

/// One figure of §9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub numerator: Number,
    pub denominator: Option<Number>,
    pub ratio: Option<String>,
}

impl Figure {
    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id, "title": self.title, "numerator": self.numerator.to_json()});
        if let Some(d) = self.denominator {
            v["denominator"] = d.to_json();
        }
        if let Some(r) = &self.ratio {
            v["ratio"] = json!(r);
        }
        v
    }
}

/// The key a row is shown under (a child as `case/child`).
fn key_of(row: &Row, f: Fact) -> Option<String> {
    key_joined(row, f, '/')
}

/// The key a row is counted by: a child by its (case, child) pair, joined by a
/// character no code may hold (codes may hold `/`: case `A/1` with child `2` and case
/// `A` with child `1/2` are two children).
fn count_key(row: &Row, f: Fact) -> Option<String> {
    key_joined(row, f, '\u{0}')
}

/// A row's value of `f`; for a child, its case and its code joined by `sep`.
fn key_joined(row: &Row, f: Fact, sep: char) -> Option<String> {
    let s = |f: Fact| match row.get(f) {
        Val::Str(s) => Some(s.as_str()),
        _ => None,
    };
    if f == Fact::Child {
        return Some(format!("{}{sep}{}", s(Fact::Case)?, s(Fact::Child)?));
    }
    s(f).map(str::to_string)
}

fn selected<'r>(q: &Query, rows: &'r Rows) -> impl Iterator<Item = (usize, &'r Row)> + 'r {
    let sources: Vec<_> = q.from.iter().enumerate().map(|(i, s)| (i, s.rows, s.filter.clone())).collect();
    sources.into_iter().flat_map(move |(i, set, filter)| {
        rows.of(set).iter().filter(move |r| filter.as_ref().is_none_or(|p| p.eval(r))).map(move |r| (i, r))
    })
}

pub fn measure(q: &Query, rows: &Rows) -> Number {
    match q.measure {
        Measure::Count(f) => {
            let keys: HashSet<String> = selected(q, rows).filter_map(|(_, r)| count_key(r, f)).collect();
            Number::Count(keys.len() as u64)
        }
        Measure::Sum(f) => {
            let total: i64 = selected(q, rows)
                .map(|(_, r)| match r.get(f) {
                    Val::Int(i) | Val::Money(i) => *i,
                    _ => 0,
                })
                .sum();
            if f.kind() == Kind::Money {
                Number::Money(total)
            } else {
                Number::Int(total)
            }
        }
    }
}

pub fn evaluate(defs: &[Definition], rows: &Rows) -> Vec<Figure> {
    // Definitions are independent: each is evaluated on one of the cores.
    crate::parallel::ordered_map_each(defs, |d| {
        let numerator = measure(&d.numerator, rows);
        let denominator = d.denominator.as_ref().map(|q| measure(q, rows));
        let ratio = denominator.and_then(|den| ratio(numerator, den));
        Figure { id: d.id.clone(), title: d.title.clone(), numerator, denominator, ratio }
    })
}

/// The key a row is shown under in `explain` (for sums: the row's own key).
fn subject_key(q: &Query, row: &Row) -> String {
    match q.measure {
        Measure::Count(f) => key_of(row, f).unwrap_or_default(),
        Measure::Sum(_) => match row.set {
            RowSet::Cases => key_of(row, Fact::Case),
            RowSet::Children => key_of(row, Fact::Child),
            RowSet::Signals => key_of(row, Fact::Signal),
            RowSet::Expenses => row.sources(Fact::Amount).next().map(|s| format!("expense#{s}")),
        }
        .unwrap_or_default(),
    }
}

/// The facts a source's predicate reads, plus the counted or summed fact.
fn facts_read(q: &Query, source: usize) -> Vec<Fact> {
    let mut facts = vec![match q.measure {
        Measure::Count(f) | Measure::Sum(f) => f,
    }];
    if facts[0] == Fact::Child {
        facts.insert(0, Fact::Case);
    }
    if let Some(p) = &q.from[source].filter {
        p.facts(&mut facts);
    }
    facts
}

fn row_json(q: &Query, source: usize, row: &Row, world: &dyn EventRefs) -> Value {
    let facts = facts_read(q, source);
    let mut seqs = BTreeSet::new();
    let mut shown = serde_json::Map::new();
    for f in &facts {
        shown.insert(f.name().to_string(), row.get(*f).to_json());
        seqs.extend(row.sources(*f));
    }
    let events: Vec<Value> = seqs
        .into_iter()
        .filter_map(|s| {
            world.event_ref(s).map(|(id, hash)| json!({"seq": s, "id": id.to_string(), "hash": hex(&hash)}))
        })
        .collect();
    let mut v = json!({"rows": row.set.name(), "facts": shown, "events": events});
    if let Some(c) = row.case() {
        v["case"] = json!(c);
    }
    v
}

fn subjects(q: &Query, rows: &Rows, world: &dyn EventRefs) -> (BTreeMap<String, Vec<Value>>, Number) {
    let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (i, row) in selected(q, rows) {
        if matches!(q.measure, Measure::Count(_)) && subject_key(q, row).is_empty() {
            continue; // a null key is not counted
        }
        by_key.entry(subject_key(q, row)).or_default().push(row_json(q, i, row, world));
    }
    (by_key, measure(q, rows))
}

fn part(q: &Query, rows: &Rows, world: &dyn EventRefs) -> (Value, BTreeSet<String>) {
    let (by_key, value) = subjects(q, rows, world);
    let keys: BTreeSet<String> = by_key.keys().cloned().collect();
    let list: Vec<Value> = by_key.into_iter().map(|(k, rows)| json!({"key": k, "rows": rows})).collect();
    (json!({"value": value.to_json(), "subjects": list}), keys)
}

/// The lineage of one figure (SPEC §9). With `excluded`, also the subjects of the
/// denominator that the numerator did not count, each with the predicate that failed.
pub fn explain(def: &Definition, rows: &Rows, world: &dyn EventRefs, excluded: bool) -> Value {
    let (numerator, num_keys) = part(&def.numerator, rows, world);
    let mut out = json!({"id": def.id, "numerator": numerator});
    if let Some(dq) = &def.denominator {
        let (denominator, den_keys) = part(dq, rows, world);
        out["denominator"] = denominator;
        if excluded {
            let counted = match def.numerator.measure {
                Measure::Count(f) => f.name(),
                Measure::Sum(_) => "",
            };
            let mut list = Vec::new();
            // The numerator's rows by subject, once (not a scan of every row per key).
            let by_key: Vec<std::collections::HashMap<String, Vec<&Row>>> = def
                .numerator
                .from
                .iter()
                .map(|src| {
                    let mut m: std::collections::HashMap<String, Vec<&Row>> = std::collections::HashMap::new();
                    for r in rows.of(src.rows) {
                        m.entry(subject_key(&def.numerator, r)).or_default().push(r);
                    }
                    m
                })
                .collect();
            for key in den_keys.difference(&num_keys) {
                let mut reasons = Vec::new();
                for (i, src) in def.numerator.from.iter().enumerate() {
                    for row in by_key[i].get(key).into_iter().flatten().copied() {
                        let why = match &src.filter {
                            Some(p) => p.why_not(row, &format!("numerator.from[{i}].where")),
                            None => None,
                        };
                        if let Some(why) = why {
                            // The same failure in words (the first failing condition).
                            let words =
                                src.filter.as_ref().and_then(|p| super::because::why_not(p, row)).unwrap_or_default();
                            let because = format!("{}: {words}", super::because::not_counted(counted));
                            reasons.push(json!({"rows": src.rows.name(), "case": row.case(), "failed": why, "because": because, "row": row_json(&def.numerator, i, row, world)}));
                        }
                    }
                }
                if reasons.is_empty() {
                    reasons.push(json!({"failed": "no row of the numerator's row sets has this key",
                        "because": format!("{}: нет ни одной строки, которую считает числитель", super::because::not_counted(counted))}));
                }
                list.push(json!({"key": key, "why": reasons}));
            }
            out["excluded"] = Value::Array(list);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_half_up_to_four_digits() {
        assert_eq!(ratio(Number::Count(16), Number::Count(29)).as_deref(), Some("0.5517")); // 0.551724…
        assert_eq!(ratio(Number::Count(1), Number::Count(8)).as_deref(), Some("0.1250"));
        assert_eq!(ratio(Number::Count(1), Number::Count(3)).as_deref(), Some("0.3333"));
        assert_eq!(ratio(Number::Count(2), Number::Count(3)).as_deref(), Some("0.6667"));
        // 0.00005 rounds up: 1 / 20000.
        assert_eq!(ratio(Number::Count(1), Number::Count(20_000)).as_deref(), Some("0.0001"));
        assert_eq!(ratio(Number::Count(1), Number::Count(20_001)).as_deref(), Some("0.0000"));
        // Money over a count is rubles per subject: 5 271 224.09 / 12.
        assert_eq!(ratio(Number::Money(527_122_409), Number::Count(12)).as_deref(), Some("439268.6742"));
        assert_eq!(ratio(Number::Int(-1), Number::Count(8)).as_deref(), Some("-0.1250"));
        assert_eq!(ratio(Number::Count(5), Number::Count(0)), None);
    }
}
