//! Realistic synthetic histories (pseudonymous codes only) that append cleanly under
//! the state rules: signals with every resolution, cases in both programs with
//! children, ЕФО at entry/interim/exit/follow-up, plans, aid with values, services,
//! crisis-centre stays with extensions, closures with every outcome, follow-ups,
//! expenses, late entries, and corrections recorded weeks later.
//!
//! Deterministic for a seed (and, when `to_year` reaches the present, for the day it
//! runs: nothing happens after yesterday and nothing is recorded after now). Events
//! are returned in the order they must be appended (by `recorded_at`).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Params {
    pub families: usize,
    pub from_year: i32,
    pub to_year: i32,
    pub seed: u64,
    /// Amend or void a few percent of events, recorded weeks after their target.
    pub corrections: bool,
}

/// One generated input event.
#[derive(Debug, Clone)]
pub struct GenEvent {
    pub id: Uuid,
    pub kind: &'static str,
    pub occurred_on: NaiveDate,
    pub recorded_at: NaiveDateTime,
    pub data: Value,
}

impl GenEvent {
    pub fn to_json_line(&self) -> String {
        let v = json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "occurred_on": self.occurred_on.format("%Y-%m-%d").to_string(),
            "recorded_at": self.recorded_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "actor": "gen",
            "data": self.data,
        });
        v.to_string()
    }
}

/// SplitMix64: small, fast, and good enough for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct Builder {
    rng: Rng,
    events: Vec<GenEvent>,
    ids: u64,
    seed: u64,
}

impl Builder {
    /// Adds an event recorded `lag` after its day, but not before `after`.
    fn push(&mut self, kind: &'static str, on: NaiveDate, data: Value, after: Option<NaiveDateTime>) -> usize {
        let lag_days = match self.rng.below(10) {
            0..=5 => 0,
            6..=8 => self.rng.below(7),
            _ => 7 + self.rng.below(40), // late entry
        };
        let secs = 9 * 3600 + self.rng.below(9 * 3600);
        let mut recorded = on.and_hms_opt(0, 0, 0).expect("midnight")
            + Duration::days(lag_days as i64)
            + Duration::seconds(secs as i64);
        if let Some(a) = after {
            recorded = recorded.max(a + Duration::seconds(1 + self.rng.below(600) as i64));
        }
        self.ids += 1;
        // A UUIDv8 from (seed, counter): the same seed gives the same ids.
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.seed.to_be_bytes());
        bytes[8..].copy_from_slice(&self.ids.to_be_bytes());
        self.events.push(GenEvent { id: Uuid::new_v8(bytes), kind, occurred_on: on, recorded_at: recorded, data });
        self.events.len() - 1
    }
    fn rec(&self, i: usize) -> NaiveDateTime {
        self.events[i].recorded_at
    }
}

const AID: [&str; 11] = [
    "food",
    "hygiene",
    "baby_food",
    "diapers",
    "clothes",
    "furniture",
    "certificate",
    "housing_repair",
    "medical",
    "transport",
    "other",
];
const SERVICES: [&str; 9] = [
    "psychological",
    "legal",
    "specialist",
    "parent_school",
    "family_event",
    "home_visit",
    "employment",
    "camp",
    "other",
];
const CHANNELS: [&str; 6] = ["phone", "messenger", "social_media", "walk_in", "referral", "other"];
const LEVELS: [&str; 4] = ["crisis", "unsatisfactory", "satisfactory", "prosperous"];
const DOMAINS: [&str; 8] = [
    "housing_income",
    "health_safety",
    "self_care",
    "education",
    "identity",
    "emotional",
    "family_relations",
    "behaviour",
];

fn money(rng: &mut Rng, max_rub: u64) -> String {
    format!("{}.{:02}", 100 + rng.below(max_rub), rng.below(100))
}

fn efo_data(rng: &mut Rng, case: &str, stage: &str, weak: u64, children: &[(String, usize)]) -> Value {
    let mut data = json!({"case": case, "stage": stage});
    if rng.chance(50) {
        // Spread `weak` over the 8 domains.
        let mut left = weak;
        let mut domains = serde_json::Map::new();
        for (i, d) in DOMAINS.iter().enumerate() {
            let n = if i == 7 { left } else { rng.below(left + 1).min(left / 2 + 1).min(left) };
            left -= n;
            domains.insert((*d).to_string(), json!(n));
        }
        data["domains"] = Value::Object(domains);
        if rng.chance(50) {
            data["weak_total"] = json!(weak);
        }
    } else {
        data["weak_total"] = json!(weak);
    }
    if !children.is_empty() {
        data["children"] =
            Value::Array(children.iter().map(|(c, l)| json!({"code": c, "level": LEVELS[*l]})).collect());
    }
    data
}

/// Generates a history; see the module documentation.
pub fn history(p: &Params) -> Vec<GenEvent> {
    let start = NaiveDate::from_ymd_opt(p.from_year, 1, 1).expect("from year");
    // Nothing happens after yesterday: a history up to the current year stops there.
    let now = chrono::Utc::now().naive_utc() - Duration::minutes(1);
    let end = NaiveDate::from_ymd_opt(p.to_year, 12, 31).expect("to year").min(now.date() - Duration::days(1));
    let span = (end - start).num_days().max(1) as u64;
    let mut b = Builder { rng: Rng(p.seed ^ 0x5EED), events: Vec::new(), ids: 0, seed: p.seed };
    for f in 0..p.families {
        let family = format!("Ф{f:05}");
        let signal = format!("С{f:05}");
        let day = start + Duration::days(b.rng.below(span) as i64);
        let mut sig_data = json!({"signal": signal, "channel": *b.rng.pick(&CHANNELS)});
        if b.rng.chance(80) {
            sig_data["family"] = json!(family);
        }
        let sig = b.push("signal_received", day, sig_data, None);
        let roll = b.rng.below(100);
        if roll < 30 {
            let r = b.push(
                "signal_resolved",
                day,
                json!({"signal": signal, "resolution": "urgent_help"}),
                Some(b.rec(sig)),
            );
            let kind = *b.rng.pick(&AID);
            let value = money(&mut b.rng, 3000);
            let quantity = 1 + b.rng.below(5);
            b.push(
                "aid_issued",
                day,
                json!({"signal": signal, "kind": kind, "quantity": quantity, "value": value}),
                Some(b.rec(r)),
            );
            continue;
        }
        if roll < 40 {
            b.push(
                "signal_resolved",
                day,
                json!({"signal": signal, "resolution": "redirected", "redirected_to": "другая организация"}),
                Some(b.rec(sig)),
            );
            continue;
        }
        if roll < 45 {
            b.push("signal_resolved", day, json!({"signal": signal, "resolution": "no_action"}), Some(b.rec(sig)));
            continue;
        }
        // A case.
        let program = if b.rng.chance(70) { "МР" } else { "КЦ" };
        let case = format!("{f}/{}_{program}", day.format("%Y"));
        let open_day = (day + Duration::days(b.rng.below(4) as i64)).min(end);
        let children: Vec<(String, usize)> =
            (0..b.rng.below(4)).map(|c| (format!("Р{f:05}-{c}"), b.rng.below(2) as usize)).collect();
        let kids: Vec<Value> = children
            .iter()
            .map(|(c, _)| {
                if b.rng.chance(50) {
                    json!({"code": c, "born": format!("{}", 2010 + b.rng.below(12))})
                } else {
                    json!({"code": c})
                }
            })
            .collect();
        let mut open_data =
            json!({"case": case, "family": family, "program": program, "signal": signal, "children": kids});
        if b.rng.chance(60) {
            open_data["curator"] = json!(format!("К-{:02}", b.rng.below(12)));
        }
        let opened = b.push("case_opened", open_day, open_data, Some(b.rec(sig)));
        let after_open = Some(b.rec(opened));
        b.push(
            "signal_resolved",
            open_day,
            json!({"signal": signal, "resolution": "case_opened", "case": case}),
            after_open,
        );
        let close_day = open_day + Duration::days(30 + b.rng.below(400) as i64);
        let closes = close_day <= end && b.rng.chance(85);
        let last_active = if closes { close_day } else { end };
        let within = |b: &mut Builder, lo: NaiveDate| {
            lo + Duration::days(b.rng.below((last_active - lo).num_days().max(0) as u64 + 1) as i64)
        };
        if b.rng.chance(30) {
            let d = within(&mut b, open_day);
            let curator = format!("К-{:02}", b.rng.below(12));
            b.push("curator_assigned", d, json!({"case": case, "curator": curator}), after_open);
        }
        let entry_weak = 8 + b.rng.below(35);
        let entry_day = (open_day + Duration::days(b.rng.below(7) as i64)).min(last_active);
        let entry = efo_data(&mut b.rng, &case, "entry", entry_weak, &children);
        let entry_i = b.push("efo_scored", entry_day, entry, after_open);
        let goals = 1 + b.rng.below(6);
        let plan_i = b.push("plan_set", entry_day, json!({"case": case, "goals": goals, "achieved": 0}), after_open);
        let mut shelter_after = after_open;
        let mut shelter_day = open_day;
        let mut in_shelter = false;
        if program == "КЦ" {
            let s = b.push(
                "shelter_admitted",
                open_day,
                json!({"case": case, "until": (open_day + Duration::days(90)).format("%Y-%m-%d").to_string()}),
                after_open,
            );
            shelter_after = Some(b.rec(s));
            in_shelter = true;
            if b.rng.chance(40) {
                let d = within(&mut b, open_day);
                shelter_day = d;
                let s = b.push(
                    "shelter_extended",
                    d,
                    json!({"case": case, "until": (d + Duration::days(60)).format("%Y-%m-%d").to_string()}),
                    shelter_after,
                );
                shelter_after = Some(b.rec(s));
            }
        }
        let mut aids = Vec::new();
        for _ in 0..b.rng.below(4) {
            let d = within(&mut b, open_day);
            let kind = *b.rng.pick(&AID);
            let value = money(&mut b.rng, 8000);
            let mut data = json!({"case": case, "kind": kind, "quantity": 1 + b.rng.below(6)});
            if b.rng.chance(85) {
                data["value"] = json!(value);
            }
            aids.push(b.push("aid_issued", d, data, after_open));
        }
        for _ in 0..b.rng.below(4) {
            let d = within(&mut b, open_day);
            let kind = *b.rng.pick(&SERVICES);
            let mut data = json!({"case": case, "kind": kind});
            if b.rng.chance(60) {
                data["sessions"] = json!(1 + b.rng.below(5));
            }
            b.push("service_provided", d, data, after_open);
        }
        if b.rng.chance(40) {
            let d = within(&mut b, entry_day);
            let w = entry_weak.saturating_sub(b.rng.below(10));
            let data = efo_data(&mut b.rng, &case, "interim", w, &[]);
            b.push("efo_scored", d, data, after_open);
        }
        let mut children = children;
        let mut kids_after = after_open;
        if b.rng.chance(15) {
            let d = within(&mut b, open_day);
            let code = format!("Р{f:05}-н");
            let added = b.push(
                "child_added",
                d,
                json!({"case": case, "child": {"code": code, "born": d.format("%Y-%m-%d").to_string()}}),
                after_open,
            );
            kids_after = Some(b.rec(added));
            children.push((code, 2));
        }
        let achieved = b.rng.below(goals + 1);
        let d = within(&mut b, entry_day);
        b.push("plan_set", d, json!({"case": case, "goals": goals, "achieved": achieved}), after_open);
        if in_shelter && (closes || b.rng.chance(50)) {
            let d = within(&mut b, shelter_day);
            let left = b.push("shelter_left", d, json!({"case": case}), shelter_after);
            // The closing is recorded after the leaving (a family still in the centre
            // is not closed).
            shelter_after = Some(b.rec(left));
        }
        if !closes {
            continue;
        }
        let exit_weak = entry_weak.saturating_sub(b.rng.below(entry_weak / 2 + 3));
        let exit_levels: Vec<(String, usize)> =
            children.iter().map(|(c, l)| (c.clone(), (*l + b.rng.below(3) as usize).min(3))).collect();
        let exit = efo_data(&mut b.rng, &case, "exit", exit_weak, &exit_levels);
        b.push("efo_scored", close_day, exit, kids_after);
        let outcome = *b.rng.pick(&[
            "stabilized",
            "stabilized",
            "stabilized",
            "terminated_by_family",
            "terminated_by_org",
            "transferred",
        ]);
        let in_family: Vec<Value> =
            children.iter().map(|(c, _)| json!({"code": c, "in_family": !b.rng.chance(8)})).collect();
        let mut close_data = json!({"case": case, "outcome": outcome});
        if !in_family.is_empty() {
            close_data["children"] = Value::Array(in_family);
        }
        let closed = b.push("case_closed", close_day, close_data, kids_after.max(shelter_after));
        let fu_day = close_day + Duration::days(180);
        if fu_day <= end && b.rng.chance(70) {
            let after_close = Some(b.rec(closed));
            let weak = exit_weak.saturating_sub(b.rng.below(3));
            let data = efo_data(&mut b.rng, &case, "follow_up", weak, &exit_levels);
            b.push("efo_scored", fu_day, data, after_close);
            let kids: Vec<Value> =
                children.iter().map(|(c, _)| json!({"code": c, "in_family": !b.rng.chance(5)})).collect();
            let mut data = json!({"case": case, "months": 6, "stable": b.rng.chance(80)});
            if !kids.is_empty() {
                data["children"] = Value::Array(kids);
            }
            b.push("follow_up_done", fu_day, data, after_close);
        }
        if p.corrections {
            // Amend the entry ЕФО or the first plan, or void an aid, weeks later.
            if b.rng.chance(15) {
                let target = b.events[entry_i].clone();
                let mut data = json!({"case": case, "stage": "entry", "weak_total": target_weak(&target.data) + 1});
                if let Some(ch) = target.data.get("children") {
                    data["children"] = ch.clone();
                }
                let when = target.occurred_on + Duration::days(14 + b.rng.below(40) as i64);
                b.push(
                    "event_amended",
                    when,
                    json!({"target": target.id.to_string(), "reason": "ошибка в подсчёте", "data": data}),
                    Some(target.recorded_at),
                );
            }
            if b.rng.chance(10) {
                let target = b.events[plan_i].clone();
                let when = target.occurred_on + Duration::days(7 + b.rng.below(30) as i64);
                let mut amended = json!({"target": target.id.to_string(), "reason": "уточнение ИПР", "data": {"case": case, "goals": goals + 1, "achieved": 0}});
                if b.rng.chance(50) {
                    amended["occurred_on"] = json!((target.occurred_on
                        + Duration::days(1).min(last_active - target.occurred_on))
                    .format("%Y-%m-%d")
                    .to_string());
                }
                b.push(
                    "event_amended",
                    when.max(target.occurred_on + Duration::days(1)),
                    amended,
                    Some(target.recorded_at),
                );
            }
            if let (true, Some(&i)) = (b.rng.chance(20), aids.first()) {
                let target = b.events[i].clone();
                let when = target.occurred_on + Duration::days(10 + b.rng.below(30) as i64);
                b.push(
                    "event_voided",
                    when,
                    json!({"target": target.id.to_string(), "reason": "выдача не состоялась"}),
                    Some(target.recorded_at),
                );
            }
        }
    }
    // Monthly expenses of each program.
    let mut month = start;
    while month <= end {
        for program in ["МР", "КЦ"] {
            let amount = money(&mut b.rng, 400_000);
            b.push(
                "expense_recorded",
                month,
                json!({"program": program, "amount": amount, "purpose": "расходы месяца"}),
                None,
            );
        }
        month = month.checked_add_months(chrono::Months::new(1)).expect("month");
    }
    let mut events = b.events;
    // Nothing is recorded in the future. Clamping keeps the order of what it clamps
    // (the sort is stable and every event was pushed after the events it depends on).
    for e in &mut events {
        e.recorded_at = e.recorded_at.min(now);
    }
    events.sort_by_key(|e| e.recorded_at);
    events
}

fn target_weak(data: &Value) -> u64 {
    data.get("weak_total").and_then(Value::as_u64).unwrap_or_else(|| {
        data.get("domains").and_then(Value::as_object).map_or(0, |d| d.values().filter_map(Value::as_u64).sum())
    })
}
