//! `case show` and `cases`: case state as of a day and a cut, as Russian tables or
//! JSON.

use std::io::Write;

use chrono::NaiveDate;

use crate::domain::payload::{Level, Outcome};
use crate::error::{Error, Refusal, Result};
use crate::ledger::Ledger;
use crate::project::case::{CaseState, EfoView, Status};

use crate::report::ru_date;

pub use crate::query::When;

pub fn show(ledger: &Ledger, case: &str, when: &When, json: bool, out: &mut dyn Write) -> Result<()> {
    let (on, cut) = when.resolve()?;
    let state = crate::project::case::state_of(ledger, case, on, cut)?.ok_or_else(|| {
        Error::refused(Refusal::new(None, format!("случай {case} не найден (на {} при данном срезе)", ru_date(on))))
    })?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &state).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_case(&state, on, out)?;
    }
    Ok(())
}

pub fn list(ledger: &Ledger, when: &When, json: bool, out: &mut dyn Write) -> Result<()> {
    let (on, cut) = when.resolve()?;
    let states = crate::project::case::states(ledger, on, cut)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &states).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "Случаи на {} ({} всего)", ru_date(on), states.len())?;
    writeln!(
        out,
        "{:<16} {:<6} {:<10} {:<10} {:<10} {:<26} {:>9} {:>6} {:>5}",
        "№ дела", "отдел", "семья", "открыт", "закрыт", "итог", "ЕФО вх→вых", "в КЦ", "дней"
    )?;
    for s in &states {
        writeln!(
            out,
            "{:<16} {:<6} {:<10} {:<10} {:<10} {:<26} {:>9} {:>6} {:>5}",
            s.case.0,
            s.program.0,
            s.family.0,
            ru_date(s.opened_on),
            s.closed_on.map(ru_date).unwrap_or_else(|| "—".into()),
            s.outcome.map(Outcome::ru).unwrap_or("—"),
            format!("{}→{}", weak(&s.efo.entry), weak(&s.efo.exit)),
            if s.shelter.in_shelter { "да" } else { "—" },
            s.shelter.days
        )?;
    }
    Ok(())
}

fn weak(v: &Option<EfoView>) -> String {
    v.as_ref().map_or("—".into(), |v| v.weak_sides.to_string())
}

pub fn level_ru(l: Level) -> &'static str {
    match l {
        Level::Crisis => "кризисный",
        Level::Unsatisfactory => "неудовлетворительный",
        Level::Satisfactory => "удовлетворительный",
        Level::Prosperous => "благополучный",
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("—".into(), ToString::to_string)
}

fn print_case(s: &CaseState, on: NaiveDate, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "Случай {} — отдел {}, семья {} (на {})", s.case, s.program, s.family, ru_date(on))?;
    let status = match (s.status, s.closed_on, s.outcome) {
        (Status::Closed, Some(d), Some(o)) => format!("закрыт {}: {}", ru_date(d), o.ru()),
        _ => "открыт, сопровождается".into(),
    };
    writeln!(out, "  Статус:       {status}")?;
    writeln!(
        out,
        "  Открыт:       {} (договор {}, сигнал {})",
        ru_date(s.opened_on),
        opt(&s.contract),
        opt(&s.signal)
    )?;
    writeln!(out, "  Куратор:      {}", opt(&s.curator))?;
    writeln!(
        out,
        "  Дети:         {}",
        if s.children.is_empty() {
            "нет (например, беременность)".to_string()
        } else {
            s.children.len().to_string()
        }
    )?;
    for c in &s.children {
        writeln!(
            out,
            "    {} (рожд. {}): уровень при входе {}, последний {}; в кровной семье: {}",
            c.code,
            c.born.as_deref().map_or_else(|| "—".into(), crate::domain::words::born),
            c.level_entry.map(level_ru).unwrap_or("—"),
            c.level_latest.map(level_ru).unwrap_or("—"),
            c.in_family.map(|b| if b { "да" } else { "нет" }).unwrap_or("—")
        )?;
    }
    let view = |name: &str, v: &Option<EfoView>, out: &mut dyn Write| -> Result<()> {
        if let Some(v) = v {
            let mut line = format!("    {name}: слабых сторон {} ({}", v.weak_sides, ru_date(v.on));
            if let Some(d) = &v.domains {
                let weak: Vec<String> = [
                    ("жильё, доход", d.housing_income.0),
                    ("здоровье и безопасность", d.health_safety.0),
                    ("самообслуживание", d.self_care.0),
                    ("образование", d.education.0),
                    ("идентичность", d.identity.0),
                    ("эмоциональное развитие", d.emotional.0),
                    ("отношения в семье", d.family_relations.0),
                    ("поведение", d.behaviour.0),
                ]
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(n, k)| format!("{n} {k}"))
                .collect();
                line.push_str(&format!("; {}", weak.join(", ")));
            }
            line.push(')');
            writeln!(out, "{line}")?;
        }
        Ok(())
    };
    writeln!(out, "  ЕФО:")?;
    view("вход", &s.efo.entry, out)?;
    view("промежуточная", &s.efo.interim, out)?;
    view("выход", &s.efo.exit, out)?;
    view("мониторинг", &s.efo.follow_up, out)?;
    if let (Some(a), Some(b)) = (&s.efo.entry, &s.efo.exit) {
        writeln!(out, "    динамика вход→выход: {}", a.weak_sides as i64 - b.weak_sides as i64)?;
    }
    let sh = &s.shelter;
    if sh.stays > 0 {
        writeln!(
            out,
            "  КЦ:           {}; заселение {}, до {}, продлений {}, выход {}; дней в КЦ {}",
            if sh.in_shelter { "проживает" } else { "не проживает" },
            sh.admitted_on.map(ru_date).unwrap_or_else(|| "—".into()),
            sh.until.map(ru_date).unwrap_or_else(|| "—".into()),
            sh.extensions,
            sh.left_on.map(ru_date).unwrap_or_else(|| "—".into()),
            sh.days
        )?;
    }
    if let Some(p) = &s.plan {
        writeln!(out, "  ИПР:          целей {}, достигнуто {} (на {})", p.goals, p.achieved, ru_date(p.on))?;
    }
    writeln!(
        out,
        "  Помощь:       наборов {}, единиц {}, на сумму {}",
        s.aid.sets,
        s.aid.quantity,
        crate::domain::words::money(s.aid.value)
    )?;
    writeln!(out, "  Услуги:       {} (занятий {})", s.services.events, s.services.sessions)?;
    for f in &s.follow_ups {
        writeln!(
            out,
            "  Мониторинг:   {}{}: {}",
            ru_date(f.on),
            f.months.map(|m| format!(" ({m} мес.)")).unwrap_or_default(),
            if f.stable { "ситуация стабильна" } else { "ситуация не стабильна" }
        )?;
    }
    let seqs: Vec<String> = s.events.iter().map(ToString::to_string).collect();
    writeln!(out, "  События №:    {}", seqs.join(", "))?;
    Ok(())
}

/// `import-table`: the summary, then each event (with the seq it got or would get).
pub fn print_import(
    plan: &crate::import::Plan,
    acks: &[crate::ledger::Ack],
    dry_run: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if json {
        let events: Vec<serde_json::Value> = plan
            .events
            .iter()
            .zip(acks)
            .map(|(e, a)| {
                serde_json::json!({
                    "seq": a.seq, "id": e.id.to_string(), "type": e.kind, "occurred_on": e.occurred_on.to_string(),
                    "data": e.data, "row": e.place.row, "column": e.place.column,
                })
            })
            .collect();
        let v = serde_json::json!({
            "table": plan.table, "sheet": plan.sheet, "rows": plan.rows, "unchanged": plan.unchanged,
            "ignored_columns": plan.ignored, "notes": plan.notes, "corrections": plan.corrections,
            "dry_run": dry_run, "events": events,
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    writeln!(out, "{}", plan.summary(acks, dry_run))?;
    for (e, a) in plan.events.iter().zip(acks) {
        writeln!(out, "{:>8}  строка {:<5} {}", a.seq, e.place.row, e.words())?;
    }
    Ok(())
}

/// `due`: what is due on a day, soonest first (SPEC §21).
pub fn print_due(ledger: &Ledger, curator: Option<&str>, when: &When, json: bool, out: &mut dyn Write) -> Result<()> {
    let (on, cut) = when.resolve()?;
    let world = crate::project::World::load(ledger, cut)?;
    let list = crate::project::due::of_world(&world, on, curator);
    if json {
        serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let whose = curator.map(|c| format!(", куратор {c}")).unwrap_or_default();
    writeln!(
        out,
        "Что сделать на {}{whose}: {}",
        ru_date(on),
        crate::domain::words::plural(list.len() as u64, ("дело", "дела", "дел"))
    )?;
    if list.is_empty() {
        return Ok(());
    }
    writeln!(out, "{:<10}  {:<28}  {:<16}  {:<8}  просрочено", "срок", "что", "дело / сигнал", "куратор")?;
    for d in &list {
        let late = d.days_words();
        writeln!(
            out,
            "{:<10}  {:<28}  {:<16}  {:<8}  {late}",
            ru_date(d.due_on),
            d.kind.ru(),
            d.subject,
            d.curator.as_deref().unwrap_or("—")
        )?;
    }
    Ok(())
}
