//! Evaluating definitions over fact rows (SPEC §7, §9), exactly: counts of distinct
//! keys, sums in kopecks or integers, a ratio rounded half-up to 4 digits with integer
//! arithmetic; and the lineage of a figure (`explain`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// As §9 writes it: a count or an integer as a JSON number, money as a decimal string.
impl Serialize for Number {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Number::Count(n) => s.serialize_u64(n),
            Number::Money(k) => s.collect_str(&Money(k)),
            Number::Int(i) => s.serialize_i64(i),
        }
    }
}

/// Read back as written (a memoised answer): a non-negative integer is a count.
impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Count(u64),
            Int(i64),
            Money(String),
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Count(n) => Number::Count(n),
            Wire::Int(i) => Number::Int(i),
            Wire::Money(s) => Number::Money(
                Money::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("«{s}» is not an amount")))?.0,
            ),
        })
    }
}

impl Number {
    pub fn to_json(self) -> Value {
        serde_json::to_value(self).expect("a number serialises")
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub numerator: Number,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
}

impl Figure {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a figure serialises")
    }
}

/// An event a row of a lineage came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub seq: u64,
    pub id: String,
    /// Hex.
    pub hash: String,
}

/// One fact row in a lineage: its row set, its case, the facts the definition read
/// and the events they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineageRow {
    /// The row set's name (`cases`, `children`, `signals`, `expenses`).
    pub rows: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// Fact name → value as §6 writes it.
    pub facts: serde_json::Map<String, Value>,
    pub events: Vec<EventRef>,
}

/// A subject counted (or a row summed), with its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub key: String,
    pub rows: Vec<LineageRow>,
}

/// A numerator or denominator of a lineage: its value and its subjects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub value: Number,
    pub subjects: Vec<Subject>,
}

/// Why a subject of the denominator is not in the numerator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The row that failed: its row set, its case (written even when null) and the row.
    #[serde(flatten)]
    pub row: Option<FailedRow>,
    /// The predicate that failed, as the definition writes it.
    pub failed: String,
    /// The same in words.
    pub because: String,
}

/// The row a [`Reason`] names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedRow {
    pub rows: String,
    pub case: Option<String>,
    pub row: LineageRow,
}

/// A subject of the denominator the numerator did not count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    pub key: String,
    pub why: Vec<Reason>,
}

/// The lineage of one figure (SPEC §9 `explain --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lineage {
    pub id: String,
    pub numerator: Part,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denominator: Option<Part>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Vec<Excluded>>,
}

impl Lineage {
    /// §9's JSON (members in the order JSON objects keep here: sorted).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a lineage serialises")
    }

    /// The seqs of every event a part's rows came from.
    pub fn seqs(part: Option<&Part>) -> impl Iterator<Item = u64> + '_ {
        part.into_iter().flat_map(|p| &p.subjects).flat_map(|s| &s.rows).flat_map(|r| &r.events).map(|e| e.seq)
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

fn row_json(q: &Query, source: usize, row: &Row, world: &dyn EventRefs) -> LineageRow {
    let facts = facts_read(q, source);
    let mut seqs = BTreeSet::new();
    let mut shown = serde_json::Map::new();
    for f in &facts {
        shown.insert(f.name().to_string(), row.get(*f).to_json());
        seqs.extend(row.sources(*f));
    }
    let events = seqs
        .into_iter()
        .filter_map(|seq| world.event_ref(seq).map(|(id, hash)| EventRef { seq, id: id.to_string(), hash: hex(&hash) }))
        .collect();
    LineageRow { rows: row.set.name().to_string(), case: row.case().map(str::to_string), facts: shown, events }
}

fn subjects(q: &Query, rows: &Rows, world: &dyn EventRefs) -> (BTreeMap<String, Vec<LineageRow>>, Number) {
    let mut by_key: BTreeMap<String, Vec<LineageRow>> = BTreeMap::new();
    for (i, row) in selected(q, rows) {
        if matches!(q.measure, Measure::Count(_)) && subject_key(q, row).is_empty() {
            continue; // a null key is not counted
        }
        by_key.entry(subject_key(q, row)).or_default().push(row_json(q, i, row, world));
    }
    (by_key, measure(q, rows))
}

fn part(q: &Query, rows: &Rows, world: &dyn EventRefs) -> (Part, BTreeSet<String>) {
    let (by_key, value) = subjects(q, rows, world);
    let keys: BTreeSet<String> = by_key.keys().cloned().collect();
    let subjects = by_key.into_iter().map(|(key, rows)| Subject { key, rows }).collect();
    (Part { value, subjects }, keys)
}

/// The lineage of one figure (SPEC §9). With `excluded`, also the subjects of the
/// denominator that the numerator did not count, each with the predicate that failed.
pub fn explain(def: &Definition, rows: &Rows, world: &dyn EventRefs, excluded: bool) -> Lineage {
    let (numerator, num_keys) = part(&def.numerator, rows, world);
    let mut out = Lineage { id: def.id.clone(), numerator, denominator: None, excluded: None };
    if let Some(dq) = &def.denominator {
        let (denominator, den_keys) = part(dq, rows, world);
        out.denominator = Some(denominator);
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
                            let row = FailedRow {
                                rows: src.rows.name().to_string(),
                                case: row.case().map(str::to_string),
                                row: row_json(&def.numerator, i, row, world),
                            };
                            reasons.push(Reason { row: Some(row), failed: why, because });
                        }
                    }
                }
                if reasons.is_empty() {
                    reasons.push(Reason {
                        row: None,
                        failed: "no row of the numerator's row sets has this key".into(),
                        because: format!(
                            "{}: нет ни одной строки, которую считает числитель",
                            super::because::not_counted(counted)
                        ),
                    });
                }
                list.push(Excluded { key: key.clone(), why: reasons });
            }
            out.excluded = Some(list);
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
