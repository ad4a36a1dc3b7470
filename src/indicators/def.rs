//! The indicator definition language of SPEC §7, parsed strictly: an unknown fact, op,
//! row set or member, or a value of the wrong kind, is refused with an error naming the
//! indicator and the place (`P1: numerator.from[0].where.all[1]: …`).

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::domain::payload::{Level, Money};
use crate::indicators::facts::{Fact, Kind, Row, RowSet, Val};

/// One indicator, as written and as parsed.
#[derive(Debug, Clone)]
pub struct Definition {
    pub id: String,
    pub title: String,
    pub numerator: Query,
    pub denominator: Option<Query>,
    /// The definition exactly as given (reports embed it).
    pub source: Value,
}

#[derive(Debug, Clone)]
pub enum Measure {
    /// Distinct non-null values of this key fact.
    Count(Fact),
    /// Sum of a money or integer fact (nulls skipped, rows not deduplicated).
    Sum(Fact),
}

#[derive(Debug, Clone)]
pub struct Source {
    pub rows: RowSet,
    pub filter: Option<Pred>,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub measure: Measure,
    pub from: Vec<Source>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Present,
}

const OPS: [(&str, Op); 8] = [
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("in", Op::In),
    ("gt", Op::Gt),
    ("gte", Op::Gte),
    ("lt", Op::Lt),
    ("lte", Op::Lte),
    ("present", Op::Present),
];

#[derive(Debug, Clone)]
pub enum Pred {
    All(Vec<Pred>),
    Any(Vec<Pred>),
    Not(Box<Pred>),
    Cmp { fact: Fact, op: Op, values: Vec<Val> },
    Present { fact: Fact, want: bool },
}

/// A refused definition: which indicator, where, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefError {
    pub indicator: String,
    pub place: String,
    pub reason: String,
}

impl std::fmt::Display for DefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "indicator {}: {}: {}", self.indicator, self.place, self.reason)
    }
}

struct Ctx<'a> {
    indicator: &'a str,
}

impl Ctx<'_> {
    fn err(&self, place: &str, reason: impl Into<String>) -> DefError {
        DefError { indicator: self.indicator.to_string(), place: place.to_string(), reason: reason.into() }
    }
}

fn object<'v>(c: &Ctx<'_>, v: &'v Value, place: &str, allowed: &[&str]) -> Result<&'v Map<String, Value>, DefError> {
    let m = v.as_object().ok_or_else(|| c.err(place, "must be a JSON object"))?;
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(c.err(place, format!("unknown member \"{k}\" (allowed: {})", allowed.join(", "))));
    }
    Ok(m)
}

/// Parses a definition file: a JSON array of definitions with unique ids.
pub fn parse_file(v: &Value) -> Result<Vec<Definition>, DefError> {
    let list = v.as_array().ok_or_else(|| DefError {
        indicator: "-".into(),
        place: "file".into(),
        reason: "a definition file is a JSON array of indicators".into(),
    })?;
    let mut out: Vec<Definition> = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        let def = parse(d, i)?;
        if out.iter().any(|o| o.id == def.id) {
            return Err(DefError { indicator: def.id, place: format!("[{i}]"), reason: "the id is used twice".into() });
        }
        out.push(def);
    }
    Ok(out)
}

/// Parses one definition (`index` names it when it has no id).
pub fn parse(v: &Value, index: usize) -> Result<Definition, DefError> {
    let fallback = format!("[{index}]");
    let id = v.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    let c = Ctx { indicator: id.as_deref().unwrap_or(&fallback) };
    let m = object(&c, v, "definition", &["id", "title", "numerator", "denominator"])?;
    let Some(id) = id.clone() else { return Err(c.err("id", "is required (a non-empty string)")) };
    let title =
        m.get("title").and_then(Value::as_str).ok_or_else(|| c.err("title", "is required (a string)"))?.to_string();
    let numerator = query(&c, m.get("numerator").ok_or_else(|| c.err("numerator", "is required"))?, "numerator")?;
    let denominator = match m.get("denominator") {
        None => None,
        Some(d) => Some(query(&c, d, "denominator")?),
    };
    Ok(Definition { id, title, numerator, denominator, source: v.clone() })
}

fn fact_named(c: &Ctx<'_>, name: &str, place: &str) -> Result<Fact, DefError> {
    Fact::ALL.iter().copied().find(|f| f.name() == name).ok_or_else(|| c.err(place, format!("unknown fact \"{name}\"")))
}

fn query(c: &Ctx<'_>, v: &Value, place: &str) -> Result<Query, DefError> {
    let m = object(c, v, place, &["count", "sum", "from"])?;
    let from_v = m.get("from").ok_or_else(|| c.err(place, "needs \"from\": a list of row sources"))?;
    let list = from_v
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| c.err(&format!("{place}.from"), "must be a non-empty list"))?;
    let mut from = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let sp = format!("{place}.from[{i}]");
        let sm = object(c, s, &sp, &["rows", "where"])?;
        let rows_name = sm.get("rows").and_then(Value::as_str).ok_or_else(|| c.err(&sp, "needs \"rows\""))?;
        let rows = RowSet::parse(rows_name).ok_or_else(|| {
            c.err(
                &format!("{sp}.rows"),
                format!("unknown row set \"{rows_name}\" (cases, children, signals, expenses)"),
            )
        })?;
        let filter = match sm.get("where") {
            None => None,
            Some(w) => Some(pred(c, w, &format!("{sp}.where"), rows)?),
        };
        from.push(Source { rows, filter });
    }
    let measure = match (m.get("count"), m.get("sum")) {
        (Some(k), None) => {
            let name = k.as_str().ok_or_else(|| c.err(&format!("{place}.count"), "must be a fact name"))?;
            let f = match name {
                "family" => Fact::Family,
                "case" => Fact::Case,
                "child" => Fact::Child,
                "signal" => Fact::Signal,
                other => {
                    return Err(c.err(
                        &format!("{place}.count"),
                        format!("cannot count \"{other}\" (family, case, child, signal)"),
                    ))
                }
            };
            for (i, s) in from.iter().enumerate() {
                if !s.rows.has(f) {
                    return Err(c.err(
                        &format!("{place}.from[{i}]"),
                        format!("{} rows have no fact \"{name}\" to count", s.rows.name()),
                    ));
                }
            }
            Measure::Count(f)
        }
        (None, Some(k)) => {
            let name = k.as_str().ok_or_else(|| c.err(&format!("{place}.sum"), "must be a fact name"))?;
            let f = fact_named(c, name, &format!("{place}.sum"))?;
            if !matches!(f.kind(), Kind::Money | Kind::Int) {
                return Err(c.err(&format!("{place}.sum"), format!("\"{name}\" is not money or an integer")));
            }
            for (i, s) in from.iter().enumerate() {
                if !s.rows.has(f) {
                    return Err(c.err(
                        &format!("{place}.from[{i}]"),
                        format!("{} rows have no fact \"{name}\"", s.rows.name()),
                    ));
                }
            }
            Measure::Sum(f)
        }
        _ => return Err(c.err(place, "needs exactly one of \"count\" and \"sum\"")),
    };
    Ok(Query { measure, from })
}

fn pred(c: &Ctx<'_>, v: &Value, place: &str, rows: RowSet) -> Result<Pred, DefError> {
    let m = v.as_object().ok_or_else(|| c.err(place, "a predicate must be a JSON object"))?;
    let list = |key: &str, items: &Value| -> Result<Vec<Pred>, DefError> {
        let items = items.as_array().ok_or_else(|| c.err(&format!("{place}.{key}"), "must be a list of predicates"))?;
        items.iter().enumerate().map(|(i, p)| pred(c, p, &format!("{place}.{key}[{i}]"), rows)).collect()
    };
    if m.len() == 1 {
        if let Some(items) = m.get("all") {
            return Ok(Pred::All(list("all", items)?));
        }
        if let Some(items) = m.get("any") {
            return Ok(Pred::Any(list("any", items)?));
        }
        if let Some(p) = m.get("not") {
            return Ok(Pred::Not(Box::new(pred(c, p, &format!("{place}.not"), rows)?)));
        }
    }
    let name = m.get("fact").and_then(Value::as_str).ok_or_else(|| {
        c.err(place, "a predicate is {\"all\": [..]}, {\"any\": [..]}, {\"not\": P} or {\"fact\": NAME, OP: VALUE}")
    })?;
    let fact = fact_named(c, name, &format!("{place}.fact"))?;
    if !rows.has(fact) {
        return Err(c.err(&format!("{place}.fact"), format!("{} rows have no fact \"{name}\"", rows.name())));
    }
    let ops: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.as_str() != "fact").collect();
    let [(op_name, value)] = ops.as_slice() else {
        return Err(c.err(place, "needs exactly one operator besides \"fact\" (eq, ne, in, gt, gte, lt, lte, present)"));
    };
    let op = OPS
        .iter()
        .find(|(n, _)| n == op_name)
        .map(|(_, o)| *o)
        .ok_or_else(|| c.err(place, format!("unknown operator \"{op_name}\"")))?;
    let vp = format!("{place}.{op_name}");
    match op {
        Op::Present => {
            let want = value.as_bool().ok_or_else(|| c.err(&vp, "present takes true or false"))?;
            Ok(Pred::Present { fact, want })
        }
        Op::In => {
            let items = value.as_array().ok_or_else(|| c.err(&vp, "in takes a list of values"))?;
            let values = items.iter().map(|v| literal(c, fact, v, &vp)).collect::<Result<_, _>>()?;
            Ok(Pred::Cmp { fact, op, values })
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte
            if !matches!(fact.kind(), Kind::Date | Kind::Money | Kind::Int | Kind::Level) =>
        {
            Err(c.err(&vp, format!("\"{name}\" has no order; use eq, ne or in")))
        }
        _ => Ok(Pred::Cmp { fact, op, values: vec![literal(c, fact, value, &vp)?] }),
    }
}

/// A definition's value, read as the fact's kind.
fn literal(c: &Ctx<'_>, fact: Fact, v: &Value, place: &str) -> Result<Val, DefError> {
    let wrong =
        |what: &str| c.err(place, format!("\"{}\" is {}; {v} is not {what}", fact.name(), describe(fact.kind())));
    match fact.kind() {
        Kind::Bool => v.as_bool().map(Val::Bool).ok_or_else(|| wrong("a boolean")),
        Kind::Int => v.as_i64().filter(|_| v.is_i64() || v.is_u64()).map(Val::Int).ok_or_else(|| wrong("an integer")),
        Kind::Money => match v {
            Value::String(s) => Money::parse(s).map(|m| Val::Money(m.0)).ok_or_else(|| wrong("money")),
            Value::Number(n) if n.is_i64() || n.is_u64() => {
                n.as_i64().and_then(|r| r.checked_mul(100)).map(Val::Money).ok_or_else(|| wrong("money"))
            }
            _ => Err(wrong("money")),
        },
        Kind::Date => v.as_str().and_then(crate::codec::parse_date).map(Val::Date).ok_or_else(|| wrong("a date")),
        Kind::Level => v
            .as_str()
            .and_then(|s| Level::ALL.iter().find(|(n, _)| *n == s).map(|(_, l)| Val::Level(*l)))
            .ok_or_else(|| wrong("a level")),
        Kind::Code => v.as_str().map(|s| Val::Str(s.to_string())).ok_or_else(|| wrong("a code")),
        Kind::Vocab(words) => v
            .as_str()
            .filter(|s| words.contains(s))
            .map(|s| Val::Str(s.to_string()))
            .ok_or_else(|| c.err(place, format!("\"{}\" is one of {}; {v} is not", fact.name(), words.join(", ")))),
    }
}

fn describe(k: Kind) -> &'static str {
    match k {
        Kind::Code => "a code",
        Kind::Date => "a date (\"YYYY-MM-DD\")",
        Kind::Money => "money (a string such as \"1500.50\", or an integer of rubles)",
        Kind::Int => "an integer",
        Kind::Bool => "a boolean",
        Kind::Level => "a level (crisis, unsatisfactory, satisfactory, prosperous)",
        Kind::Vocab(_) => "a word of a fixed list",
    }
}

fn order(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) | (Val::Money(x), Val::Money(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Level(x), Val::Level(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Pred {
    /// Two-valued: every operator but `present` is false on a null; `not` negates.
    pub fn eval(&self, row: &Row) -> bool {
        match self {
            Pred::All(ps) => ps.iter().all(|p| p.eval(row)),
            Pred::Any(ps) => ps.iter().any(|p| p.eval(row)),
            Pred::Not(p) => !p.eval(row),
            Pred::Present { fact, want } => (*row.get(*fact) != Val::Null) == *want,
            Pred::Cmp { fact, op, values } => {
                let v = row.get(*fact);
                if *v == Val::Null {
                    return false;
                }
                use std::cmp::Ordering::*;
                match op {
                    Op::Eq => order(v, &values[0]) == Some(Equal),
                    Op::Ne => order(v, &values[0]).is_some_and(|o| o != Equal),
                    Op::In => values.iter().any(|x| order(v, x) == Some(Equal)),
                    Op::Gt => order(v, &values[0]) == Some(Greater),
                    Op::Gte => matches!(order(v, &values[0]), Some(Greater | Equal)),
                    Op::Lt => order(v, &values[0]) == Some(Less),
                    Op::Lte => matches!(order(v, &values[0]), Some(Less | Equal)),
                    Op::Present => unreachable!("parsed as Pred::Present"),
                }
            }
        }
    }

    /// The facts this predicate reads.
    pub fn facts(&self, out: &mut Vec<Fact>) {
        match self {
            Pred::All(ps) | Pred::Any(ps) => ps.iter().for_each(|p| p.facts(out)),
            Pred::Not(p) => p.facts(out),
            Pred::Cmp { fact, .. } | Pred::Present { fact, .. } => {
                if !out.contains(fact) {
                    out.push(*fact)
                }
            }
        }
    }

    /// The first leaf (in order) that makes this predicate false for the row: why a
    /// row was excluded. `None` when the predicate holds.
    pub fn why_not(&self, row: &Row, place: &str) -> Option<String> {
        if self.eval(row) {
            return None;
        }
        match self {
            Pred::All(ps) => ps.iter().enumerate().find_map(|(i, p)| p.why_not(row, &format!("{place}.all[{i}]"))),
            _ => Some(format!("{place}: {}", self.describe())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Pred::All(_) => "all of …".into(),
            Pred::Any(ps) => format!("none of {} alternatives holds", ps.len()),
            Pred::Not(p) => format!("not ({})", p.describe()),
            Pred::Present { fact, want } => format!("{} present = {want}", fact.name()),
            Pred::Cmp { fact, op, values } => {
                let op = OPS.iter().find(|(_, o)| o == op).map_or("?", |(n, _)| n);
                let vals: Vec<String> = values.iter().map(|v| v.to_json().to_string()).collect();
                format!("{} {op} {}", fact.name(), vals.join(", "))
            }
        }
    }
}

/// Dates of a period given as `--from/--to`, `--year` or `--quarter`.
pub fn quarter(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, q) = s.split_once(['Q', 'q'])?;
    let y: i32 = y.parse().ok()?;
    let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
    let from = NaiveDate::from_ymd_opt(y, 3 * q - 2, 1)?;
    let to = if q == 4 {
        NaiveDate::from_ymd_opt(y, 12, 31)?
    } else {
        NaiveDate::from_ymd_opt(y, 3 * q + 1, 1)?.pred_opt()?
    };
    Some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(numerator: Value) -> String {
        parse(&json!({"id": "P9", "title": "t", "numerator": numerator}), 0).unwrap_err().to_string()
    }

    #[test]
    fn refusals_name_the_indicator_and_the_place() {
        let cases = [
            (
                json!({"count": "family", "from": [{"rows": "cases", "where": {"fact": "outcom", "eq": "x"}}]}),
                "indicator P9: numerator.from[0].where.fact: unknown fact \"outcom\"",
            ),
            (
                json!({"count": "family", "from": [{"rows": "cases", "where": {"fact": "outcome", "like": "x"}}]}),
                "indicator P9: numerator.from[0].where: unknown operator \"like\"",
            ),
            (
                json!({"count": "family", "from": [{"rows": "families"}]}),
                "indicator P9: numerator.from[0].rows: unknown row set \"families\"",
            ),
            (
                json!({"count": "family", "from": [{"rows": "cases", "where": {"all": [{"fact": "active_in_period", "eq": "yes"}]}}]}),
                "indicator P9: numerator.from[0].where.all[0].eq: \"active_in_period\" is a boolean",
            ),
            (
                json!({"count": "family", "from": [{"rows": "cases", "where": {"fact": "opened_on", "gte": "2020-13-01"}}]}),
                "numerator.from[0].where.gte: \"opened_on\" is a date",
            ),
            (
                json!({"count": "family", "from": [{"rows": "cases", "where": {"fact": "outcome", "eq": "success"}}]}),
                "\"outcome\" is one of stabilized",
            ),
            (
                json!({"count": "child", "from": [{"rows": "cases"}]}),
                "numerator.from[0]: cases rows have no fact \"child\"",
            ),
            (
                json!({"sum": "outcome", "from": [{"rows": "cases"}]}),
                "numerator.sum: \"outcome\" is not money or an integer",
            ),
            (
                json!({"count": "family", "from": [{"rows": "cases", "where": {"fact": "carried_over", "gt": true}}]}),
                "\"carried_over\" has no order",
            ),
            (
                json!({"count": "family", "from": [{"rows": "cases"}], "extra": 1}),
                "numerator: unknown member \"extra\"",
            ),
            (
                json!({"count": "family", "sum": "amount", "from": [{"rows": "cases"}]}),
                "exactly one of \"count\" and \"sum\"",
            ),
            (json!({"count": "family", "from": [{"rows": "expenses"}]}), "expenses rows have no fact \"family\""),
        ];
        for (numerator, want) in cases {
            let got = err(numerator.clone());
            assert!(got.contains(want), "{numerator}: {got:?} should contain {want:?}");
        }
    }

    #[test]
    fn values_compare_by_kind() {
        // Money as a string or as an integer of rubles; levels by their order.
        let ok = |p: Value| {
            parse(
                &json!({"id": "x", "title": "t", "numerator": {"count": "case", "from": [{"rows": "children", "where": p}]}}),
                0,
            )
        };
        assert!(ok(json!({"fact": "aid_value_in_period", "gte": 1000})).is_ok());
        assert!(ok(json!({"fact": "aid_value_in_period", "gte": "999.99"})).is_ok());
        assert!(ok(json!({"fact": "aid_value_in_period", "gte": 1.5})).is_err());
        assert!(ok(json!({"fact": "level_entry", "lt": "satisfactory"})).is_ok());
        assert!(ok(json!({"fact": "level_entry", "lt": "good"})).is_err());
        assert!(ok(json!({"fact": "efo_delta", "in": [1, 2, "3"]})).is_err());
        assert!(Level::Unsatisfactory < Level::Satisfactory);
    }

    #[test]
    fn quarters() {
        assert_eq!(
            quarter("2020Q1"),
            Some((NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2020, 3, 31).unwrap()))
        );
        assert_eq!(
            quarter("2020Q3"),
            Some((NaiveDate::from_ymd_opt(2020, 7, 1).unwrap(), NaiveDate::from_ymd_opt(2020, 9, 30).unwrap()))
        );
        assert_eq!(quarter("2020Q4").unwrap().1, NaiveDate::from_ymd_opt(2020, 12, 31).unwrap());
        assert_eq!(quarter("2020Q5"), None);
    }

    #[test]
    fn the_default_set_parses_and_has_the_seed_ids() {
        let defs = crate::indicators::default_definitions();
        for id in [
            "reach",
            "urgent_help",
            "redirected",
            "complex_support",
            "P1",
            "P1_unsuccessful",
            "P1_carried_over",
            "P2",
            "P3.1",
            "P3.2",
            "efo_dynamics",
            "follow_up_stable",
            "cost_per_family",
        ] {
            assert!(defs.iter().any(|d| d.id == id), "{id}");
        }
    }
}
