//! The forms of every event type (SPEC §4, §16): which fields each has, named by the
//! dot paths of `data` (`case`, `children.0.code`, `domains.housing_income`, …), how
//! they are shown, and how what a person typed becomes an input event's `data`.
//!
//! The form only reads what people type — `31.01.2021` or `2021-01-31`, `1 500,50` or
//! `1500.5` — into the one spelling events use, and says in Russian when it cannot
//! (a day that is not a day, a number that is not a number) or when a field the event
//! needs is empty. Every rule is the library's: the event goes to the same append as
//! `caseledger append`, and its refusals are shown beside their fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::domain::payload::{AidKind, Channel, Level, Outcome, Resolution, ServiceKind, Stage};
use crate::domain::words;

/// How one field is typed and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A code (case, family, child, signal, program, curator, contract).
    Code,
    /// Free text (a reason, a purpose).
    Text,
    /// A day: `ДД.ММ.ГГГГ` or `ГГГГ-ММ-ДД`.
    Date,
    /// A child's birth: a year, year-month or day.
    Born,
    /// Rubles: `1500`, `1500.5`, `1500,50`, `1 500,00`.
    Money,
    /// A whole number ≥ 0.
    Count,
    /// Yes or no.
    YesNo,
    /// One of a vocabulary: the member whose Russian names `words::value` gives, and
    /// the values.
    Choice(&'static str, &'static [&'static str]),
}

/// One field of a form.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The dot path inside `data` (the form field's name).
    pub path: &'static str,
    pub input: Input,
    /// SPEC §4 has no `?` on it.
    pub required: bool,
}

/// A part of a form: one field, or a list that grows (`children.N.…`), or the eight
/// ЕФО domains.
#[derive(Clone, Debug)]
pub enum Part {
    Field(Field),
    /// `children.N.<member>` rows: the members of one row.
    Rows {
        list: &'static str,
        members: Vec<Field>,
    },
    Domains,
}

const fn f(path: &'static str, input: Input, required: bool) -> Part {
    Part::Field(Field { path, input, required })
}

const fn m(path: &'static str, input: Input, required: bool) -> Field {
    Field { path, input, required }
}

fn names<T>(all: &'static [(&'static str, T)]) -> &'static [&'static str] {
    // The vocabularies are small and fixed: leaked once per process.
    let v: Vec<&'static str> = all.iter().map(|(n, _)| *n).collect();
    Box::leak(v.into_boxed_slice())
}

fn vocab(member: &'static str) -> Input {
    use std::sync::OnceLock;
    static SETS: OnceLock<BTreeMap<&'static str, &'static [&'static str]>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        let mut m = BTreeMap::new();
        m.insert("channel", names(Channel::ALL));
        m.insert("resolution", names(Resolution::ALL));
        m.insert("stage", names(Stage::ALL));
        m.insert("level", names(Level::ALL));
        m.insert("aid_kind", names(AidKind::ALL));
        m.insert("service_kind", names(ServiceKind::ALL));
        m.insert("outcome", names(Outcome::ALL));
        m
    });
    let word_member = match member {
        "aid_kind" | "service_kind" => "kind",
        other => other,
    };
    Input::Choice(word_member, sets[member])
}

/// The parts of the form of an event type's `data` (SPEC §4), in the order shown.
pub fn parts(kind: &str) -> Vec<Part> {
    use Input::*;
    match kind {
        "signal_received" => {
            vec![f("signal", Code, true), f("family", Code, false), f("channel", vocab("channel"), true)]
        }
        "signal_resolved" => vec![
            f("signal", Code, true),
            f("resolution", vocab("resolution"), true),
            f("redirected_to", Text, false),
            f("case", Code, false),
        ],
        "case_opened" => vec![
            f("case", Code, true),
            f("contract", Code, false),
            f("family", Code, true),
            f("program", Code, true),
            f("curator", Code, false),
            f("signal", Code, false),
            Part::Rows { list: "children", members: vec![m("code", Code, true), m("born", Born, false)] },
        ],
        "child_added" => vec![f("case", Code, true), f("child.code", Code, true), f("child.born", Born, false)],
        "curator_assigned" => vec![f("case", Code, true), f("curator", Code, true)],
        "efo_scored" => vec![
            f("case", Code, true),
            f("stage", vocab("stage"), true),
            Part::Domains,
            f("weak_total", Count, false),
            Part::Rows { list: "children", members: vec![m("code", Code, true), m("level", vocab("level"), true)] },
        ],
        "plan_set" => vec![f("case", Code, true), f("goals", Count, true), f("achieved", Count, true)],
        "aid_issued" => vec![
            f("case", Code, false),
            f("family", Code, false),
            f("signal", Code, false),
            f("kind", vocab("aid_kind"), true),
            f("quantity", Count, true),
            f("value", Money, false),
        ],
        "service_provided" => vec![
            f("case", Code, false),
            f("family", Code, false),
            f("kind", vocab("service_kind"), true),
            f("sessions", Count, false),
        ],
        "shelter_admitted" => vec![f("case", Code, true), f("until", Date, false)],
        "shelter_extended" => vec![f("case", Code, true), f("until", Date, true)],
        "shelter_left" => vec![f("case", Code, true)],
        "case_closed" => vec![
            f("case", Code, true),
            f("outcome", vocab("outcome"), true),
            Part::Rows { list: "children", members: vec![m("code", Code, true), m("in_family", YesNo, true)] },
        ],
        "follow_up_done" => vec![
            f("case", Code, true),
            f("months", Count, false),
            f("stable", YesNo, true),
            Part::Rows { list: "children", members: vec![m("code", Code, true), m("in_family", YesNo, true)] },
        ],
        "expense_recorded" => vec![f("program", Code, true), f("amount", Money, true), f("purpose", Text, false)],
        _ => Vec::new(),
    }
}

/// The label of a field: its last member's Russian name.
pub fn label(path: &str) -> &'static str {
    let last = path.rsplit('.').next().unwrap_or(path);
    match last {
        "code" if path.starts_with("child.") => "Шифр ребёнка",
        other => words::member(other),
    }
}

/// What was typed, by field name.
pub type Values = BTreeMap<String, String>;

/// A problem with one field (`None`: with the whole form), in Russian.
pub type Problems = Vec<(Option<String>, String)>;

/// Rows a list shows: those typed (by the highest index present), at least `min`.
pub fn rows(values: &Values, prefix: &str, list: &str, min: usize) -> usize {
    let head = format!("{prefix}{list}.");
    let typed = values
        .keys()
        .filter_map(|k| k.strip_prefix(&head)?.split('.').next()?.parse::<usize>().ok())
        .max()
        .map_or(0, |i| i + 1);
    typed.max(min)
}

/// A day as typed: `ДД.ММ.ГГГГ` or `ГГГГ-ММ-ДД` (also with `/` or a two-digit day or
/// month), as `YYYY-MM-DD`.
pub fn day(typed: &str) -> Option<String> {
    crate::say::typed_day(typed).map(crate::codec::format_date)
}

/// Rubles as typed, in the event's spelling (`1500.50`); spaces (also no-break ones)
/// between thousands and a decimal comma are read.
pub fn rubles(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202f}' && *c != '\u{a0}' && *c != '₽')
        .collect::<String>()
        .replace(',', ".")
}

fn typed<'a>(values: &'a Values, name: &str) -> Option<&'a str> {
    values.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// One field's value for `data`, or a problem with what was typed.
fn value_of(input: Input, raw: &str) -> Result<Value, String> {
    Ok(match input {
        Input::Code | Input::Text => Value::String(raw.to_string()),
        Input::Born => Value::String(match day(raw) {
            Some(d) if raw.len() > 7 => d,
            _ => raw.to_string(),
        }),
        Input::Date => Value::String(day(raw).ok_or("дата в виде ДД.ММ.ГГГГ, например 31.01.2021")?),
        Input::Money => Value::String(rubles(raw)),
        Input::Count => Value::from(
            raw.replace(['\u{a0}', ' '], "")
                .parse::<u64>()
                .map_err(|_| "целое число не меньше 0, например 3".to_string())?,
        ),
        Input::YesNo => Value::Bool(match raw {
            "true" | "да" | "on" => true,
            "false" | "нет" => false,
            _ => return Err("выберите «да» или «нет»".into()),
        }),
        Input::Choice(_, values) => {
            if !values.contains(&raw) {
                return Err("выберите из списка".into());
            }
            Value::String(raw.to_string())
        }
    })
}

fn put(data: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            data.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let inner = data.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = inner {
                put(m, rest, v);
            }
        }
    }
}

/// The `data` of an event of type `kind` from what was typed into fields named
/// `prefix` + path (`prefix` is `data.` on an amendment's form). An empty optional
/// field is left out; an empty row of a list is skipped.
pub fn data(kind: &str, values: &Values, prefix: &str) -> (Map<String, Value>, Problems) {
    let mut data = Map::new();
    let mut problems = Problems::new();
    let mut one = |data: &mut Map<String, Value>, name: String, path: &str, field: &Field| match typed(values, &name) {
        Some(raw) => match value_of(field.input, raw) {
            Ok(v) => put(data, path, v),
            Err(why) => problems.push((Some(name), why)),
        },
        None if field.required => problems.push((Some(name), "нужно заполнить".into())),
        None => {}
    };
    for part in parts(kind) {
        match part {
            Part::Field(field) => one(&mut data, format!("{prefix}{}", field.path), field.path, &field),
            Part::Domains => {
                let any =
                    words::EFO_DOMAINS.iter().any(|(d, _)| typed(values, &format!("{prefix}domains.{d}")).is_some());
                if any {
                    for (d, _) in words::EFO_DOMAINS {
                        let field = Field { path: "", input: Input::Count, required: true };
                        one(&mut data, format!("{prefix}domains.{d}"), &format!("domains.{d}"), &field);
                    }
                }
            }
            Part::Rows { list, members } => {
                let members = &members;
                let mut items = Vec::new();
                for i in 0..rows(values, prefix, list, 0) {
                    let is_typed = |mm: &Field| typed(values, &format!("{prefix}{list}.{i}.{}", mm.path)).is_some();
                    // A row counts once something beyond a (prefilled) child code is
                    // chosen, or, when nothing else is required, once the code is typed.
                    let others_required = members.iter().any(|mm| mm.path != "code" && mm.required);
                    let row_typed = if others_required {
                        members.iter().filter(|mm| mm.path != "code").any(is_typed)
                    } else {
                        members.iter().any(is_typed)
                    };
                    if !row_typed {
                        continue;
                    }
                    let mut item = Map::new();
                    for mm in members.iter() {
                        one(&mut item, format!("{prefix}{list}.{i}.{}", mm.path), mm.path, mm);
                    }
                    items.push(Value::Object(item));
                }
                if !items.is_empty() || kind == "case_opened" {
                    data.insert(list.to_string(), Value::Array(items));
                }
            }
        }
    }
    (data, problems)
}

/// The form field a refusal of the library names (`data.children[1].code` →
/// `children.1.code`); `None` when no field of the form is meant.
pub fn field_of(refused: &str, prefix: &str, known: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut name = refused.to_string();
    // `data.x` of an event is the field `x`; an amendment's replacement `data.data.x` is
    // the field `data.x`.
    if let Some(rest) = name.strip_prefix("data.") {
        name = rest.to_string();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '[' => out.push('.'),
            ']' => {}
            other => out.push(other),
        }
    }
    let _ = prefix;
    [out.clone(), format!("{prefix}{out}")].into_iter().find(|n| known(n))
}

/// Every field name a form of type `kind` shows, for `rows` rows of each list.
pub fn field_names(kind: &str, prefix: &str, values: &Values) -> Vec<String> {
    let mut out = Vec::new();
    for part in parts(kind) {
        match part {
            Part::Field(field) => out.push(format!("{prefix}{}", field.path)),
            Part::Domains => out.extend(words::EFO_DOMAINS.iter().map(|(d, _)| format!("{prefix}domains.{d}"))),
            Part::Rows { list, members } => {
                for i in 0..rows(values, prefix, list, 1) {
                    out.extend(members.iter().map(|mm| format!("{prefix}{list}.{i}.{}", mm.path)));
                }
                out.push(format!("{prefix}{list}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Payload;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn people_type_days_and_money_their_way() {
        assert_eq!(day("31.01.2021").as_deref(), Some("2021-01-31"));
        assert_eq!(day("2021-01-31").as_deref(), Some("2021-01-31"));
        assert_eq!(day("1.2.2021").as_deref(), Some("2021-02-01"));
        assert_eq!(day("31.02.2021"), None);
        assert_eq!(day("вчера"), None);
        for (typed, want) in [
            ("1500", "1500"),
            ("1500.5", "1500.5"),
            ("1500,50", "1500.50"),
            ("1 500,00", "1500.00"),
            ("1\u{a0}500,00 ₽", "1500.00"),
        ] {
            assert_eq!(rubles(typed), want, "{typed}");
        }
    }

    /// A form filled in completely gives a payload the library accepts; leaving out a
    /// field the form calls required is a problem, and so the parser refuses it too;
    /// leaving out one it calls optional is accepted by the parser (the form's
    /// required marks are SPEC §4's, checked against the one parser).
    #[test]
    fn required_marks_agree_with_the_parser() {
        let full: &[(&str, &[(&str, &str)])] = &[
            ("signal_received", &[("signal", "С-1"), ("family", "Ф-1"), ("channel", "phone")]),
            (
                "signal_resolved",
                &[("signal", "С-1"), ("resolution", "redirected"), ("redirected_to", "ЦСПСиД"), ("case", "1")],
            ),
            (
                "case_opened",
                &[
                    ("case", "1"),
                    ("contract", "Д-1"),
                    ("family", "Ф"),
                    ("program", "МР"),
                    ("curator", "К"),
                    ("signal", "С"),
                    ("children.0.code", "Р-1"),
                    ("children.0.born", "2019"),
                ],
            ),
            ("child_added", &[("case", "1"), ("child.code", "Р-2"), ("child.born", "01.05.2021")]),
            ("curator_assigned", &[("case", "1"), ("curator", "К-2")]),
            ("plan_set", &[("case", "1"), ("goals", "4"), ("achieved", "1")]),
            (
                "aid_issued",
                &[
                    ("case", "1"),
                    ("family", "Ф"),
                    ("signal", "С"),
                    ("kind", "food"),
                    ("quantity", "2"),
                    ("value", "1 500,50"),
                ],
            ),
            ("service_provided", &[("case", "1"), ("family", "Ф"), ("kind", "legal"), ("sessions", "2")]),
            ("shelter_admitted", &[("case", "1"), ("until", "31.03.2021")]),
            ("shelter_extended", &[("case", "1"), ("until", "30.04.2021")]),
            ("shelter_left", &[("case", "1")]),
            (
                "case_closed",
                &[
                    ("case", "1"),
                    ("outcome", "stabilized"),
                    ("children.0.code", "Р-1"),
                    ("children.0.in_family", "true"),
                ],
            ),
            (
                "follow_up_done",
                &[
                    ("case", "1"),
                    ("months", "6"),
                    ("stable", "true"),
                    ("children.0.code", "Р-1"),
                    ("children.0.in_family", "false"),
                ],
            ),
            ("expense_recorded", &[("program", "КЦ"), ("amount", "5 271 224,09"), ("purpose", "аренда")]),
        ];
        for (kind, pairs) in full {
            let v = values(pairs);
            let (d, problems) = data(kind, &v, "");
            assert!(problems.is_empty(), "{kind}: {problems:?}");
            Payload::parse(kind, &d).unwrap_or_else(|r| panic!("{kind}: {r}"));
            for part in parts(kind) {
                let Part::Field(field) = part else { continue };
                let mut without = v.clone();
                without.remove(field.path);
                let (d, problems) = data(kind, &without, "");
                let parses = Payload::parse(kind, &d).is_ok();
                if field.required {
                    assert!(!problems.is_empty() && !parses, "{kind}.{}: required", field.path);
                } else {
                    assert!(problems.is_empty() && parses, "{kind}.{}: optional", field.path);
                }
            }
        }
        // ЕФО: the eight domains, or the total.
        let mut efo =
            values(&[("case", "1"), ("stage", "entry"), ("children.0.code", "Р-1"), ("children.0.level", "crisis")]);
        for (d, _) in words::EFO_DOMAINS {
            efo.insert(format!("domains.{d}"), "2".into());
        }
        let (d, problems) = data("efo_scored", &efo, "");
        assert!(problems.is_empty());
        assert!(Payload::parse("efo_scored", &d).is_ok());
        efo.remove("domains.behaviour");
        let (_, problems) = data("efo_scored", &efo, "");
        assert_eq!(problems[0].0.as_deref(), Some("domains.behaviour"));
    }

    #[test]
    fn a_refusal_finds_its_field() {
        let known = |n: &str| ["case", "children.1.code", "data.goals", "occurred_on"].contains(&n);
        assert_eq!(field_of("data.case", "", &known).as_deref(), Some("case"));
        assert_eq!(field_of("data.children[1].code", "", &known).as_deref(), Some("children.1.code"));
        assert_eq!(field_of("occurred_on", "", &known).as_deref(), Some("occurred_on"));
        assert_eq!(field_of("data.data.goals", "data.", &known).as_deref(), Some("data.goals"));
        assert_eq!(field_of("data.weak_total", "", &known), None);
    }
}
