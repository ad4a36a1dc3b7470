//! What an event says, in Russian, as its data (or an amendment's new data, which
//! may hold only some members) writes it: the timeline of a case card and the audit
//! trail read it.

use serde_json::Value;

use crate::domain::words;

fn text<'a>(data: &'a Value, member: &str) -> Option<&'a str> {
    data.get(member).and_then(Value::as_str)
}
fn vocab_of(data: &Value, member: &str) -> String {
    text(data, member).map(|v| words::value(member, v).unwrap_or(v).to_string()).unwrap_or_default()
}
fn day_of(data: &Value, member: &str) -> Option<String> {
    text(data, member).map(|d| crate::codec::parse_date(d).map_or_else(|| d.to_string(), words::date))
}
fn money_of(data: &Value, member: &str) -> Option<String> {
    text(data, member).and_then(crate::domain::payload::Money::parse).map(words::money)
}
/// `Р-1 (р. 2019), Р-2` / `Р-1: кризисный` / `Р-1 — да`.
fn children_of(data: &Value) -> String {
    let Some(list) = data.get("children").or_else(|| data.get("child")) else { return String::new() };
    let one = |c: &Value| {
        let code = text(c, "code").unwrap_or("");
        if let Some(b) = text(c, "born") {
            format!("{code} (р. {})", words::born(b))
        } else if let Some(l) = text(c, "level") {
            format!("{code}: {}", words::value("level", l).unwrap_or(l))
        } else if let Some(f) = c.get("in_family").and_then(Value::as_bool) {
            format!("{code} — {}", if f { "в семье" } else { "не в семье" })
        } else {
            code.to_string()
        }
    };
    match list {
        Value::Array(items) => items.iter().map(one).collect::<Vec<_>>().join(", "),
        other => one(other),
    }
}
/// What an event says, in Russian, without the case it is about.
pub fn describe(kind: &str, d: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !s.is_empty() {
            parts.push(s);
        }
    };
    let opt = |label: &str, v: Option<&str>| v.map(|v| format!("{label} {v}")).unwrap_or_default();
    match kind {
        "signal_received" => {
            add(opt("сигнал", text(d, "signal")));
            add(opt("семья", text(d, "family")));
            add(vocab_of(d, "channel"));
        }
        "signal_resolved" => {
            add(vocab_of(d, "resolution"));
            add(opt("куда:", text(d, "redirected_to")));
            add(opt("сигнал", text(d, "signal")));
        }
        "case_opened" => {
            add(opt("договор", text(d, "contract")));
            add(opt("семья", text(d, "family")));
            add(opt("отдел", text(d, "program")));
            add(opt("куратор", text(d, "curator")));
            add(opt("сигнал", text(d, "signal")));
            let ch = children_of(d);
            add(if ch.is_empty() { "детей нет".into() } else { format!("дети: {ch}") });
        }
        "child_added" => add(children_of(d)),
        "curator_assigned" => add(opt("куратор", text(d, "curator"))),
        "efo_scored" => {
            add(vocab_of(d, "stage"));
            let total = d.get("weak_total").and_then(Value::as_u64).or_else(|| {
                d.get("domains").and_then(Value::as_object).map(|m| m.values().filter_map(Value::as_u64).sum())
            });
            add(total.map(|t| format!("слабых сторон: {t}")).unwrap_or_default());
            let ch = children_of(d);
            add(if ch.is_empty() { String::new() } else { format!("дети: {ch}") });
        }
        "plan_set" => add(format!(
            "целей {}, достигнуто {}",
            d.get("goals").and_then(Value::as_u64).unwrap_or(0),
            d.get("achieved").and_then(Value::as_u64).unwrap_or(0)
        )),
        "aid_issued" | "service_provided" => {
            let mut s = vocab_of(d, "kind");
            if let Some(q) = d.get("quantity").and_then(Value::as_u64) {
                s.push_str(&format!(" × {q}"));
            }
            if let Some(n) = d.get("sessions").and_then(Value::as_u64) {
                s.push_str(&format!(", занятий: {n}"));
            }
            if let Some(m) = money_of(d, "value") {
                s.push_str(&format!(" на {m}"));
            }
            add(s);
            add(opt("семья", text(d, "family")));
            add(opt("сигнал", text(d, "signal")));
        }
        "shelter_admitted" | "shelter_extended" => {
            add(day_of(d, "until").map(|u| format!("до {u}")).unwrap_or_default())
        }
        "case_closed" => {
            add(vocab_of(d, "outcome"));
            add(children_of(d));
        }
        "follow_up_done" => {
            add(d.get("months").and_then(Value::as_u64).map(|m| format!("через {m} мес.")).unwrap_or_default());
            add(match d.get("stable").and_then(Value::as_bool) {
                Some(true) => "ситуация стабильна".into(),
                Some(false) => "ситуация не стабильна".into(),
                None => String::new(),
            });
            add(children_of(d));
        }
        "expense_recorded" => {
            add(format!("{}: {}", text(d, "program").unwrap_or(""), money_of(d, "amount").unwrap_or_default()));
            add(text(d, "purpose").unwrap_or("").to_string());
        }
        _ => {}
    }
    parts.join("; ")
}
