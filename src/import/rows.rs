//! The rows of a table: what one row states about its case (its cells read and
//! checked, each refusal placed by sheet, row and column), and the events a row's
//! statement stands for that the ledger does not hold yet.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::amend;
use super::cells::{alike, check_code, code, count, day, lookalike_letters, outcome_of, ru_day, yes_no, SlashOrder};
use super::header::{cell_text, Col, Header, Layout};
use super::options::Options;
use super::place::{refusal, Place};
use super::planned::{event_id, Known, Planned};
use super::sheet::Raw;
use crate::domain::payload::{Outcome, Stage};
use crate::domain::Payload;
use crate::error::Refusal;

// ---------------------------------------------------------------------------------
// Rows

/// What one row of a table says about its case.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Stated {
    pub(super) case: String,
    pub(super) family: String,
    pub(super) program: String,
    pub(super) children: Option<Vec<String>>,
    pub(super) contract: Option<String>,
    pub(super) curator: Option<String>,
    pub(super) opened: Option<NaiveDate>,
    pub(super) closed: Option<NaiveDate>,
    pub(super) outcome: Option<Outcome>,
    pub(super) entry: Option<u32>,
    pub(super) exit: Option<u32>,
    pub(super) extension: Option<NaiveDate>,
    pub(super) left: Option<NaiveDate>,
    pub(super) monitoring: Option<NaiveDate>,
    pub(super) stable: Option<bool>,
}

/// Reads one data row (`None`: nothing in it).
pub(super) fn stated(
    layout: &Layout,
    header: &Header,
    orders: &HashMap<Col, SlashOrder>,
    sheet: &str,
    row: usize,
    cells: &[Raw],
    problems: &mut Vec<Refusal>,
) -> Option<(Stated, HashMap<Col, Place>)> {
    let mut out = Stated::default();
    let mut places = HashMap::new();
    let mut any = false;
    for (i, col, name) in &header.cols {
        let cell = cells.get(*i).unwrap_or(&Raw::Empty);
        let place = Place { sheet: sheet.to_string(), row, column: name.clone() };
        if *cell != Raw::Empty && !matches!(col, Col::Num | Col::Dynamics) {
            any = true;
        }
        let mut read = || -> std::result::Result<(), Refusal> {
            if let (Raw::Error(e), false) = (cell, *col == Col::Num) {
                return Err(refusal(
                    &place,
                    format!("в ячейке ошибка формулы «{e}»; исправьте формулу или впишите значение"),
                ));
            }
            match col {
                Col::Num | Col::Dynamics => {}
                Col::Program => out.program = code(cell, &place)?.unwrap_or_default(),
                Col::Family => out.family = code(cell, &place)?.unwrap_or_default(),
                Col::Case => out.case = code(cell, &place)?.unwrap_or_default(),
                Col::Contract => out.contract = code(cell, &place)?,
                Col::Curator => out.curator = code(cell, &place)?,
                Col::Children => {
                    let list: Vec<String> = cell_text(cell)
                        .split([',', ';', '\n'])
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty())
                        .collect();
                    for c in &list {
                        check_code(c).map_err(|r| refusal(&place, format!("«{c}»: {r}")))?;
                    }
                    let mut seen = HashSet::new();
                    if let Some(c) = list.iter().find(|c| !seen.insert(c.as_str())) {
                        return Err(refusal(&place, format!("ребёнок «{c}» указан дважды")));
                    }
                    // An empty cell states nothing (not "no children").
                    out.children = (!list.is_empty()).then_some(list);
                }
                Col::Opened | Col::Closed | Col::Extension | Col::Left | Col::Monitoring => {
                    let order = orders.get(col).copied().unwrap_or_default();
                    let d = day(cell, &place, order)?;
                    match col {
                        Col::Opened => out.opened = d,
                        Col::Closed => out.closed = d,
                        Col::Extension => out.extension = d,
                        Col::Left => out.left = d,
                        _ => out.monitoring = d,
                    }
                }
                Col::Entry => out.entry = count(cell, &place)?,
                Col::Stable => {
                    out.stable = match cell {
                        Raw::Empty => None,
                        _ => Some(
                            yes_no(&cell_text(cell))
                                .ok_or_else(|| refusal(&place, format!("«{}» — ни «да», ни «нет»", cell_text(cell))))?,
                        ),
                    }
                }
                Col::Exit => out.exit = count(cell, &place)?,
                Col::Outcome => {
                    out.outcome = match cell {
                        Raw::Empty => None,
                        _ => Some(outcome_of(&cell_text(cell)).ok_or_else(|| {
                            let allowed: Vec<String> =
                                Outcome::ALL.iter().map(|(_, o)| format!("«{}»", o.ru())).collect();
                            refusal(
                                &place,
                                format!(
                                    "«{}» — нет такого итога; итог — один из: {}",
                                    cell_text(cell),
                                    allowed.join(", ")
                                ),
                            )
                        })?),
                    }
                }
            }
            Ok(())
        };
        if let Err(r) = read() {
            problems.push(r);
        }
        places.insert(*col, place);
    }
    if !any {
        return None;
    }
    // The columns every row needs, and the ЕФО table's own arithmetic.
    for col in &layout.required {
        let empty = match col {
            Col::Case => out.case.is_empty(),
            Col::Family => out.family.is_empty(),
            Col::Program => out.program.is_empty(),
            Col::Opened => out.opened.is_none(),
            Col::Entry => out.entry.is_none(),
            _ => false,
        };
        let cell_given =
            header.cols.iter().any(|(i, c, _)| c == col && cells.get(*i).is_some_and(|x| *x != Raw::Empty));
        if empty && !cell_given {
            problems.push(refusal(&places[col], "пусто, а в каждой строке таблицы это нужно"));
        }
    }
    if let Some((i, _, _)) = header.cols.iter().find(|(_, c, _)| *c == Col::Dynamics) {
        // «динамика» may be negative: read as a whole number of either sign.
        let given = match cells.get(*i) {
            Some(Raw::Text(s)) => s.trim().parse::<i64>().ok(),
            Some(Raw::Number(f)) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        };
        if let (Some(d), Some(a), Some(b)) = (given, out.entry, out.exit) {
            if d != i64::from(a) - i64::from(b) {
                problems.push(refusal(
                    &places[&Col::Dynamics],
                    format!(
                        "{d}, а вход − выход = {a} − {b} = {}; исправьте одно из чисел",
                        i64::from(a) - i64::from(b)
                    ),
                ));
            }
        }
    }
    // (Only when the closing cell is empty: an unreadable date is refused once.)
    let closing_empty = header
        .cols
        .iter()
        .find(|(_, c, _)| *c == Col::Closed)
        .is_none_or(|(i, _, _)| cells.get(*i).is_none_or(|x| *x == Raw::Empty));
    if layout.table == "contracts" && out.outcome.is_some() && out.closed.is_none() && closing_empty {
        problems.push(refusal(&places[&Col::Outcome], "итог есть, а даты закрытия нет"));
    }
    Some((out, places))
}

/// What a differing cell changes in the event it corrects (`None`: not a cell a
/// correction of one event can follow, such as a child missing from the table).
pub(super) fn change_of(s: &Stated, col: Col) -> Option<amend::Change> {
    use amend::Change::{Day, Member};
    Some(match col {
        Col::Family => Member("family", json!(s.family)),
        Col::Program => Member("program", json!(s.program)),
        Col::Contract => Member("contract", json!(s.contract.clone()?)),
        Col::Curator => Member("curator", json!(s.curator.clone()?)),
        Col::Entry => Member("weak_total", json!(s.entry?)),
        Col::Exit => Member("weak_total", json!(s.exit?)),
        Col::Extension => Member("until", json!(s.extension?.to_string())),
        Col::Outcome => Member("outcome", json!(s.outcome?.as_str())),
        Col::Stable => Member("stable", json!(s.stable?)),
        Col::Opened => Day(s.opened?),
        Col::Closed => Day(s.closed?),
        Col::Left => Day(s.left?),
        Col::Monitoring => Day(s.monitoring?),
        Col::Num | Col::Dynamics | Col::Case | Col::Children => return None,
    })
}

/// What a row says in one column, in words (for a refusal).
pub(super) fn shown(s: &Stated, col: Col) -> String {
    let quoted = |v: &Option<String>| v.as_ref().map_or("пусто".to_string(), |x| format!("«{x}»"));
    let day = |d: Option<NaiveDate>| d.map_or("пусто".to_string(), ru_day);
    match col {
        Col::Family => format!("«{}»", s.family),
        Col::Program => format!("«{}»", s.program),
        Col::Case => format!("«{}»", s.case),
        Col::Contract => quoted(&s.contract),
        Col::Curator => quoted(&s.curator),
        Col::Children => format!("«{}»", s.children.as_deref().unwrap_or_default().join(", ")),
        Col::Opened => day(s.opened),
        Col::Closed => day(s.closed),
        Col::Extension => day(s.extension),
        Col::Left => day(s.left),
        Col::Monitoring => day(s.monitoring),
        Col::Stable => s.stable.map_or("пусто".to_string(), |b| if b { "«да»" } else { "«нет»" }.to_string()),
        Col::Outcome => s.outcome.map_or("пусто".to_string(), |o| format!("«{}»", o.ru())),
        Col::Entry => s.entry.map_or("пусто".to_string(), |v| v.to_string()),
        Col::Exit => s.exit.map_or("пусто".to_string(), |v| v.to_string()),
        Col::Num | Col::Dynamics => String::new(),
    }
}

/// The events one row states that `known` lacks; a statement that contradicts it is a
/// refusal naming the event to amend.
pub(super) fn row_events(
    layout: &Layout,
    s: &Stated,
    places: &HashMap<Col, Place>,
    known: Option<&Known>,
    opts: Options,
    out: &mut Vec<Planned>,
    problems: &mut Vec<Refusal>,
) -> Vec<amend::Amend> {
    let mut amends = Vec::new();
    let table = layout.table;
    let case = s.case.as_str();
    let opened = s.opened.expect("required column checked");
    let mut push = |col: Col, kind: &'static str, key: String, on: NaiveDate, data: Value| {
        out.push(Planned {
            place: places[&col].clone(),
            id: event_id(table, case, &key),
            kind,
            occurred_on: on,
            data,
            changes: None,
        });
    };
    let mut conflicts = Vec::new();
    let mut differ = |col: Col, what: &str, ledger: String, target: Option<Uuid>| {
        match (target, change_of(s, col)) {
            (Some(target), Some(change)) if opts.amend => amends.push(amend::Amend {
                target,
                place: places[&col].clone(),
                what: what.trim_end_matches(':').to_string(),
                was: ledger,
                now: shown(s, col),
                change,
            }),
            (Some(_), Some(_)) => conflicts.push(refusal(
                &places[&col],
                format!(
                    "в реестре у дела {case} {what} {ledger}, в таблице — {}; импорт не меняет записанное молча: \
                     исправить реестр по таблице — --amend (на странице загрузки — «исправить записанное по таблице»)",
                    shown(s, col)
                ),
            )),
            _ => conflicts.push(refusal(
                &places[&col],
                format!(
                    "в реестре у дела {case} {what} {ledger}, в таблице — {}; это исправляют в карточке случая, не таблицей",
                    shown(s, col)
                ),
            )),
        }
    };
    let st = known.map(|k| &k.state);
    let opening = |k: &Known| k.id_of(|p| matches!(p, Payload::CaseOpened(_)));
    // Opening, curator, children.
    match known {
        None => {
            let mut data = Map::new();
            data.insert("case".into(), json!(case));
            data.insert("family".into(), json!(s.family));
            data.insert("program".into(), json!(s.program));
            let children: Vec<Value> = s.children.iter().flatten().map(|c| json!({"code": c})).collect();
            data.insert("children".into(), Value::Array(children));
            if let Some(c) = &s.curator {
                data.insert("curator".into(), json!(c));
            }
            if let Some(c) = &s.contract {
                data.insert("contract".into(), json!(c));
            }
            push(Col::Case, "case_opened", "case_opened".into(), opened, Value::Object(data));
        }
        Some(k) => {
            let st = &k.state;
            if st.family.0 != s.family {
                differ(
                    Col::Family,
                    "шифр семьи",
                    format!("«{}»{}", st.family.0, alike(&s.family, &st.family.0)),
                    opening(k),
                );
            }
            if st.program.0 != s.program {
                differ(
                    Col::Program,
                    "отдел",
                    format!("«{}»{}", st.program.0, alike(&s.program, &st.program.0)),
                    opening(k),
                );
            }
            if st.opened_on != opened {
                differ(Col::Opened, "дата открытия", ru_day(st.opened_on), opening(k));
            }
            if let Some(c) = &s.contract {
                if st.contract.as_ref().map(|x| x.0.as_str()) != Some(c.as_str()) {
                    let was = st.contract.as_ref().map_or("не указан".to_string(), |x| format!("«{}»", x.0));
                    differ(Col::Contract, "№ договора", was, opening(k));
                }
            }
            if let Some(c) = &s.curator {
                match &st.curator {
                    None => push(
                        Col::Curator,
                        "curator_assigned",
                        "curator_assigned".into(),
                        opened,
                        json!({"case": case, "curator": c}),
                    ),
                    Some(x) if x.0 != *c => differ(
                        Col::Curator,
                        "куратор",
                        format!("«{}»", x.0),
                        k.id_of(|p| matches!(p, Payload::CuratorAssigned(_) | Payload::CaseOpened(_))),
                    ),
                    _ => {}
                }
            }
            if let Some(list) = &s.children {
                let alike_in_table = |code: &str| {
                    let skeleton = crate::domain::words::skeleton(code);
                    list.iter().any(|c| crate::domain::words::skeleton(c) == skeleton)
                };
                if let Some(extra) = st.children.iter().find(|c| !alike_in_table(&c.code.0)) {
                    differ(Col::Children, "есть ребёнок", format!("«{}»", extra.code.0), None);
                }
                for c in list.iter().filter(|c| !st.children.iter().any(|x| x.code.0 == **c)) {
                    let skeleton = crate::domain::words::skeleton(c);
                    if let Some(x) = st.children.iter().find(|x| crate::domain::words::skeleton(&x.code.0) == skeleton)
                    {
                        problems.push(refusal(
                            &places[&Col::Children],
                            format!(
                                "шифр ребёнка «{c}» в реестре записан как «{}»: они различаются только написанием букв ({}); исправьте шифр в таблице",
                                x.code.0,
                                lookalike_letters(c, &x.code.0)
                            ),
                        ));
                        continue;
                    }
                    push(
                        Col::Children,
                        "child_added",
                        format!("child_added\u{0}{c}"),
                        opened,
                        json!({"case": case, "child": {"code": c}}),
                    );
                }
            }
        }
    }
    // The day the table says the case (or the stay) ended.
    let outcome = s.outcome.or(opts.outcome);
    let closing = match table {
        "shelter" => s.left.filter(|_| outcome.is_some()),
        _ => s.closed,
    };
    let ended = s.closed.or(s.left).or(st.and_then(|x| x.closed_on));
    let efo = |stage: Stage| move |p: &Payload| matches!(p, Payload::EfoScored(e) if e.stage == stage);
    // ЕФО at entry (on the opening day) and at exit (on the closing day).
    for (col, stage, given, had, on) in [
        (Col::Entry, Stage::Entry, s.entry, st.and_then(|x| x.efo.entry.as_ref()), opened),
        (Col::Exit, Stage::Exit, s.exit, st.and_then(|x| x.efo.exit.as_ref()), ended.unwrap_or(opened)),
    ] {
        let Some(w) = given else { continue };
        match had {
            Some(v) if v.weak_sides != u64::from(w) => {
                differ(col, "число слабых сторон", v.weak_sides.to_string(), known.and_then(|k| k.id_of(efo(stage))))
            }
            Some(_) => {}
            None => push(
                col,
                "efo_scored",
                format!("efo_scored\u{0}{}", stage.as_str()),
                on,
                json!({"case": case, "stage": stage.as_str(), "weak_total": w}),
            ),
        }
    }
    // The crisis-centre stay: admission on the opening day, extension, leaving.
    if table == "shelter" {
        let shelter = st.map(|x| &x.shelter);
        if shelter.is_none_or(|x| x.stays == 0) {
            push(Col::Case, "shelter_admitted", "shelter_admitted".into(), opened, json!({"case": case}));
        }
        if let Some(until) = s.extension {
            match shelter {
                Some(x) if x.extensions > 0 && x.until != Some(until) => differ(
                    Col::Extension,
                    "продление до",
                    x.until.map_or("—".into(), ru_day),
                    known.and_then(|k| k.id_of(|p| matches!(p, Payload::ShelterExtended(_)))),
                ),
                Some(x) if x.extensions > 0 => {}
                _ => push(
                    Col::Extension,
                    "shelter_extended",
                    "shelter_extended".into(),
                    shelter.and_then(|x| x.admitted_on).unwrap_or(opened),
                    json!({"case": case, "until": until.to_string()}),
                ),
            }
        }
        // A stay with an exit date ends, whatever else the ledger knows of the case (a
        // closing imported first from the contracts journal does not end a stay).
        if let Some(left) = s.left {
            match shelter.and_then(|x| x.left_on) {
                Some(was) if was == left => {}
                Some(was) => differ(
                    Col::Left,
                    "выход из КЦ",
                    ru_day(was),
                    known.and_then(|k| k.id_of(|p| matches!(p, Payload::ShelterLeft(_)))),
                ),
                None => push(Col::Left, "shelter_left", "shelter_left".into(), left, json!({"case": case})),
            }
        }
    }
    // The closing.
    let closing_col = if table == "shelter" { Col::Left } else { Col::Closed };
    let closed_event = |k: &Known| k.id_of(|p| matches!(p, Payload::CaseClosed(_)));
    if let Some(on) = closing {
        match st.and_then(|x| x.closed_on.map(|c| (c, x.outcome))) {
            Some((c, _)) if c != on => {
                differ(closing_col, "дата закрытия", ru_day(c), known.and_then(closed_event));
            }
            Some((_, had)) => {
                if let (Some(o), Some(h)) = (s.outcome, had) {
                    if o != h {
                        differ(Col::Outcome, "итог", format!("«{}»", h.ru()), known.and_then(closed_event));
                    }
                }
            }
            None => match outcome {
                Some(o) => push(
                    closing_col,
                    "case_closed",
                    "case_closed".into(),
                    on,
                    json!({"case": case, "outcome": o.as_str()}),
                ),
                None => problems.push(refusal(
                    &places[&closing_col],
                    if table == "contracts" {
                        format!("дело {case} закрыто {}, но итога нет: заполните «итог»", ru_day(on))
                    } else {
                        format!(
                            "дело {case} закрыто {}, но итога в таблице нет: добавьте столбец «итог», \
                             укажите итог всех закрытий этой таблицы (--outcome) или загрузите сначала журнал договоров",
                            ru_day(on)
                        )
                    },
                )),
            },
        }
    }
    // Monitoring 6 months after the closing.
    if let Some(m) = s.monitoring {
        match st.and_then(|x| crate::report::tables::six_months(&x.follow_ups)) {
            Some(f) if f.on != m => differ(
                Col::Monitoring,
                "мониторинг",
                ru_day(f.on),
                known.and_then(|k| k.id_of(|p| matches!(p, Payload::FollowUpDone(_)))),
            ),
            Some(f) if s.stable.is_some_and(|b| b != f.stable) => differ(
                Col::Stable,
                "по итогам мониторинга положение устойчиво:",
                if f.stable { "«да»" } else { "«нет»" }.to_string(),
                known.and_then(|k| k.id_of(|p| matches!(p, Payload::FollowUpDone(_)))),
            ),
            Some(_) => {}
            None => match s.stable.or(opts.stable) {
                Some(stable) => push(
                    Col::Monitoring,
                    "follow_up_done",
                    "follow_up_done".into(),
                    m,
                    json!({"case": case, "months": 6, "stable": stable}),
                ),
                None => problems.push(refusal(
                    &places[&Col::Monitoring],
                    "таблица даёт только дату мониторинга; скажите, устойчиво ли положение семей по его итогам (--stable да|нет)",
                )),
            },
        }
    }
    problems.extend(conflicts);
    amends
}
