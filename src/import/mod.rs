//! SPEC §17: the tables an organisation already keeps — `contracts`, `efo-dynamics`,
//! `shelter`, as `table NAME` writes them or as people type them — read back into
//! the events they state, all or nothing.
//!
//! A sheet is read leniently where people differ and strictly where meaning does:
//! a title above the header, empty rows and columns, trailing spaces, merged header
//! cells, dates typed as text and headers spelled a little differently are all read;
//! an unknown outcome, a date that is not a date, a case twice with different data, or
//! a row that says something else than the ledger already does, are refused, each
//! named `Лист «…», строка N, столбец «…»: …`.
//!
//! What a row states is compared with the case as the ledger knows it now: what is
//! already there is left alone (so importing a file again appends nothing), what is
//! missing becomes an event with an id derived from the table, the case and the
//! event's kind (UUIDv8), and what differs is refused with the correction to record
//! instead (`event_amended` of the named event).

mod amend;
mod bounds;
mod cells;
mod header;
mod options;
mod place;
mod planned;
mod rows;
mod shape;
mod sheet;
use std::collections::{HashMap, HashSet};

use crate::error::{Error, Refusal, Result};
use crate::ledger::{Ack, AppendOptions, Ledger};
use crate::record::StateRules;

use bounds::HEADER_SEARCH_ROWS;
pub use bounds::MAX_ROWS;
use cells::{fold_text, slash_order};
pub use cells::{lookalike_letters, outcome_of, yes_no, SlashOrder};
use header::{cell_text, find_header, header_key, layout, Col, Header};
pub use options::{Hidden, Options};
use place::refusal;
pub use place::Place;
use planned::known;
pub use planned::{event_id, Planned};
use rows::{row_events, stated, Stated};
use sheet::too_long;
pub use sheet::{read, read_path, Raw, Sheet};

/// Refusals listed; the rest are counted.
const MAX_LISTED: usize = 200;

// ---------------------------------------------------------------------------------
// The plan: what the rows state that the ledger does not know yet

/// What an import of one sheet would append.
#[derive(Debug, Clone)]
pub struct Plan {
    pub table: String,
    pub sheet: String,
    /// Data rows read.
    pub rows: usize,
    /// Rows whose every statement the ledger already holds.
    pub unchanged: usize,
    /// Headers on the sheet that no column of the table matches (not read).
    pub ignored: Vec<String>,
    /// What was passed over, in words: totals rows, sheets of another table.
    pub notes: Vec<String>,
    pub events: Vec<Planned>,
    /// Cells that differ from the ledger, corrected by the plan's `event_amended`s.
    pub corrections: usize,
    /// What the rows say that cannot be imported (the whole file is then refused).
    pub refused: Vec<Refusal>,
}

/// Whether a row is a totals row people add under a table («Итого», «Всего»,
/// «Среднее», «Итого за год»): a cell of it says so, and it names no case.
fn totals_row(cells: &[Raw]) -> bool {
    cells.iter().any(|c| {
        let t = fold_text(&cell_text(c));
        ["итого", "всего", "среднее", "в среднем", "итог за", "итого:"]
            .iter()
            .any(|w| t == *w || t.starts_with(&format!("{w} ")))
    })
}

/// Reads every sheet of `file` that holds table `table` (a sheet per year is one
/// table) and works out the events it states that the ledger does not hold yet. Every
/// refusal is collected; any refusal refuses the whole file.
pub fn plan(ledger: &Ledger, table: &str, sheets: &[Sheet], opts: Options) -> Result<Plan> {
    let layout = layout(table)?;
    let mut missing_best: Option<(String, Vec<Col>)> = None;
    let mut found: Vec<(&Sheet, Header)> = Vec::new();
    let mut notes = Vec::new();
    // What a person hid is read only as they say: left out (a copy of the sheet without
    // it), read as if seen, or — until they say — the file is refused naming it.
    let visible: Vec<std::borrow::Cow<'_, Sheet>> = sheets
        .iter()
        .filter_map(|s| match opts.hidden {
            Some(Hidden::Skip) if s.unseen.any() => s.visible().map(std::borrow::Cow::Owned),
            _ => Some(std::borrow::Cow::Borrowed(s)),
        })
        .collect();
    let mut undecided = Vec::new();
    for sheet in sheets.iter().filter(|s| s.unseen.any()) {
        match opts.hidden {
            Some(Hidden::Skip) => {
                notes.push(format!("не прочитано скрытое: лист «{}» — {}", sheet.name, sheet.unseen.words()))
            }
            Some(Hidden::Include) => {
                notes.push(format!("скрытое прочитано как видимое: лист «{}» — {}", sheet.name, sheet.unseen.words()))
            }
            None => undecided.push(sheet),
        }
    }
    for sheet in &visible {
        let sheet: &Sheet = sheet;
        match find_header(&layout, sheet) {
            // A sheet of another of the tables (the ЕФО table's columns are in the
            // crisis-centre table too; the journal's in both) is not this one.
            Ok(h) if h.ignored.iter().any(|n| layout.foreign.contains(&header_key(n))) => {
                notes.push(format!("лист «{}» — другая таблица, не прочитан", sheet.name));
                undecided.retain(|s| s.name != sheet.name);
            }
            Ok(h) => found.push((sheet, h)),
            Err(missing) => {
                undecided.retain(|s| s.name != sheet.name);
                if missing_best.as_ref().is_none_or(|(_, m)| missing.len() < m.len()) {
                    missing_best = Some((sheet.name.clone(), missing));
                }
            }
        }
    }
    if !undecided.is_empty() {
        return Err(refused(
            undecided
                .iter()
                .map(|s| {
                    Refusal::new(
                        Some(format!("Лист «{}»", s.name)),
                        format!(
                            "{} — и в скрытом есть данные; выберите, читать ли скрытое: пропустить (--hidden skip) или читать как видимое (--hidden include)",
                            s.unseen.words()
                        ),
                    )
                })
                .collect(),
        ));
    }
    if found.is_empty() {
        let (name, missing) = missing_best.unwrap_or_else(|| ("—".into(), layout.required.clone()));
        let names: Vec<String> = missing.iter().map(|c| format!("«{}»", layout.names[c])).collect();
        return Err(Error::refused(Refusal::new(
            Some(format!("Лист «{name}»")),
            format!(
                "не найдена строка заголовков таблицы {}: нет столбцов {} (первые {HEADER_SEARCH_ROWS} строк просмотрены)",
                layout.table,
                names.join(", ")
            ),
        )));
    }
    let mut problems = Vec::new();
    // Each row: its place, what it states, where each column is, and whether every
    // cell of it was read (only those are compared with the ledger).
    let mut rows: Vec<(Place, Stated, HashMap<Col, Place>, bool)> = Vec::new();
    let mut by_case: HashMap<String, usize> = HashMap::new();
    let mut totals = 0usize;
    let mut ignored: Vec<String> = Vec::new();
    for (sheet, header) in &found {
        for name in &header.ignored {
            if !ignored.contains(name) {
                ignored.push(name.clone());
            }
        }
        let data = &sheet.rows[header.last + 1..];
        // Each date column is read in one order of day and month: decided from the
        // whole column, never row by row.
        let mut orders = HashMap::new();
        for (i, col, name) in &header.cols {
            if matches!(col, Col::Opened | Col::Closed | Col::Extension | Col::Left | Col::Monitoring) {
                let cells: Vec<&Raw> = data.iter().filter_map(|(_, r)| r.get(*i)).collect();
                match slash_order(&cells, opts.dates) {
                    Ok(o) => {
                        orders.insert(*col, o);
                    }
                    Err(why) => {
                        problems.push(Refusal::new(Some(format!("Лист «{}», столбец «{name}»", sheet.name)), why))
                    }
                }
            }
        }
        for (number, cells) in data {
            if rows.len() >= MAX_ROWS {
                return Err(too_long(&sheet.name));
            }
            if totals_row(cells) {
                totals += 1;
                continue;
            }
            let before = problems.len();
            let Some((s, places)) = stated(&layout, header, &orders, &sheet.name, *number, cells, &mut problems) else {
                continue;
            };
            let readable = problems.len() == before;
            if s.case.is_empty() {
                continue;
            }
            if let Some(&first) = by_case.get(&s.case) {
                let (at, earlier, _, _) = &rows[first];
                if *earlier != s {
                    let where_ = if at.sheet == sheet.name {
                        format!("в строке {}", at.row)
                    } else {
                        format!("на листе «{}», в строке {}", at.sheet, at.row)
                    };
                    problems.push(refusal(
                        &places[&Col::Case],
                        format!("дело {} уже есть {where_} с другими данными; у дела одна строка", s.case),
                    ));
                }
                continue;
            }
            by_case.insert(s.case.clone(), rows.len());
            let at = Place { sheet: sheet.name.clone(), row: *number, column: String::new() };
            rows.push((at, s, places, readable));
        }
    }
    if totals > 0 {
        notes.push(format!("пропущены строки итогов («Итого», «Всего», «Среднее»): {totals}"));
    }
    // Corrections (`--amend`) name the file and are of today.
    let file = sheets.first().map_or("", |s| s.file.as_str());
    let today = chrono::Utc::now().date_naive();
    let mut plan = Plan {
        table: layout.table.to_string(),
        sheet: found.iter().map(|(s, _)| s.name.clone()).collect::<Vec<_>>().join("», «"),
        rows: rows.len(),
        unchanged: 0,
        ignored,
        notes,
        events: Vec::new(),
        corrections: 0,
        refused: Vec::new(),
    };
    // Codes that look like codes already known — the ledger's cases, or codes of
    // earlier rows — but are spelled otherwise are mistyped, not new: refused, naming
    // the letters that differ.
    let mut cases = Spellings::default();
    for code in ledger.case_codes()? {
        cases.0.insert(crate::domain::words::skeleton(&code), code);
    }
    let (mut families, mut programs) = (Spellings::default(), Spellings::default());
    let (mut children, mut contracts, mut curators) =
        (Spellings::default(), Spellings::default(), Spellings::default());
    let mut spelled_wrong = HashSet::new();
    for (_, s, places, _) in &rows {
        let mut checks: Vec<(Col, &str, &mut Spellings, &str)> = vec![
            (Col::Case, s.case.as_str(), &mut cases, "дела"),
            (Col::Family, s.family.as_str(), &mut families, "семьи"),
            (Col::Program, s.program.as_str(), &mut programs, "отдела"),
        ];
        if let Some(c) = &s.contract {
            checks.push((Col::Contract, c.as_str(), &mut contracts, "договора"));
        }
        if let Some(c) = &s.curator {
            checks.push((Col::Curator, c.as_str(), &mut curators, "куратора"));
        }
        for child in s.children.iter().flatten() {
            if let Some(other) = children.other(child) {
                problems.push(refusal(
                    &places[&Col::Children],
                    format!(
                        "шифр ребёнка «{child}» выше в таблице записан как «{other}»: они различаются только написанием букв ({}); исправьте шифр в таблице",
                        lookalike_letters(child, &other)
                    ),
                ));
                spelled_wrong.insert(s.case.clone());
            }
        }
        for (col, code, seen, what) in checks {
            if code.is_empty() {
                continue;
            }
            if let Some(other) = seen.other(code) {
                let whose = if col == Col::Case && known(ledger, &other)?.is_some() {
                    "в реестре"
                } else {
                    "выше в таблице"
                };
                problems.push(refusal(
                    &places[&col],
                    format!(
                        "шифр {what} «{code}» {whose} записан как «{other}»: они различаются только написанием букв ({}); исправьте шифр в таблице",
                        lookalike_letters(code, &other)
                    ),
                ));
                spelled_wrong.insert(s.case.clone());
            }
        }
    }
    // Rows with unreadable cells are already refused; the others are still compared
    // with the ledger, so that one run lists every refusal.
    for (_, s, places, readable) in &rows {
        if *readable && !spelled_wrong.contains(&s.case) {
            let before = plan.events.len();
            let k = known(ledger, &s.case)?;
            let amends = row_events(&layout, s, places, k.as_ref(), opts, &mut plan.events, &mut problems);
            if let (Some(k), false) = (&k, amends.is_empty()) {
                plan.corrections += amends.len();
                let fixes = amend::corrections(ledger, layout.table, file, found.len(), k, amends, today)?;
                plan.events.extend(fixes);
            }
            if plan.events.len() == before {
                plan.unchanged += 1;
            }
        }
    }
    plan.refused = problems;
    Ok(plan)
}

/// Codes seen so far by how they look: a code that looks like one seen before but is
/// spelled otherwise (a Latin M typed for a Cyrillic М, another letter case) is the
/// same code mistyped, never a new one (SPEC §13's look-alike rule, for tables).
#[derive(Default)]
struct Spellings(HashMap<String, String>);

impl Spellings {
    /// The other spelling `code` looks like, if it differs from it; else remembers it.
    fn other(&mut self, code: &str) -> Option<String> {
        let key = crate::domain::words::skeleton(code);
        match self.0.get(&key) {
            Some(seen) if seen != code => Some(seen.clone()),
            Some(_) => None,
            None => {
                self.0.insert(key, code.to_string());
                None
            }
        }
    }
}

/// Refusals in the order of the sheet's rows (a stable sort: a row's own order kept),
/// the first [`MAX_LISTED`] of them listed.
fn refused(mut list: Vec<Refusal>) -> Error {
    list.sort_by_key(|r| {
        r.field
            .as_deref()
            .and_then(|f| f.split("строка ").nth(1))
            .and_then(|t| t.split(',').next())
            .and_then(|n| n.parse::<usize>().ok())
    });
    let total = list.len();
    list.truncate(MAX_LISTED);
    Error::Refused(list, total)
}

/// Appends a plan, all or nothing (`commit: false`: checks it exactly so and writes
/// nothing). A refusal of the ledger's rules is named by the row and column its
/// event came from.
///
/// A plan with refusals is refused whole; its events are still checked against the
/// ledger's rules (nothing written) so that the one answer lists every refusal.
pub fn apply(ledger: &Ledger, plan: &Plan, opts: &AppendOptions, commit: bool) -> Result<Vec<Ack>> {
    if !plan.refused.is_empty() {
        let mut list = plan.refused.clone();
        match append_events(ledger, plan, opts, false) {
            Ok(_) => {}
            Err(Error::Refused(more, _)) => list.extend(more),
            Err(other) => return Err(other),
        }
        return Err(refused(list));
    }
    append_events(ledger, plan, opts, commit)
}

impl Plan {
    /// The plan's own refusals as the one error that lists them (in the sheet's row
    /// order), or `None` when it has none.
    pub fn refusal(&self) -> Option<Error> {
        (!self.refused.is_empty()).then(|| refused(self.refused.clone()))
    }
}

/// Appends (or with `commit: false`, checks) a plan's events, its own refusals aside.
fn append_events(ledger: &Ledger, plan: &Plan, opts: &AppendOptions, commit: bool) -> Result<Vec<Ack>> {
    if plan.events.is_empty() {
        return Ok(Vec::new());
    }
    let mut text = String::with_capacity(plan.events.len() * 160);
    for e in &plan.events {
        text.push_str(&e.line());
        text.push('\n');
    }
    let result = if commit {
        StateRules::append_with(ledger, |r| ledger.append_jsonl(text.as_bytes(), opts, r)).map(|(acks, _)| acks)
    } else {
        ledger.check_jsonl(text.as_bytes(), opts, &mut StateRules::new())
    };
    result.map_err(|e| placed(plan, e))
}

/// A ledger's refusal of plan lines, named by the rows and columns they came from.
pub fn placed(plan: &Plan, e: Error) -> Error {
    match e {
        Error::Refused(list, total) => Error::Refused(
            list.into_iter()
                .map(|r| match r.line.and_then(|n| plan.events.get(n.wrapping_sub(1))) {
                    Some(p) => refusal(
                        &p.place,
                        format!("{} ({}): {}", crate::domain::words::event_type(p.kind), p.case(), r.reason),
                    ),
                    None => r,
                })
                .collect(),
            total,
        ),
        other => other,
    }
}

impl Plan {
    /// What the import did (or, in a dry run, would do), in one sentence.
    pub fn summary(&self, acks: &[Ack], dry_run: bool) -> String {
        use crate::domain::words::plural;
        // An event the ledger already holds under its id (imported before, then voided
        // by an event_voided) is acknowledged as a duplicate: not added again.
        let again = acks.iter().filter(|a| a.duplicate).count();
        let added: Vec<&Ack> = acks.iter().filter(|a| !a.duplicate).collect();
        let rows = plural(self.rows as u64, ("строка", "строки", "строк"));
        let same = if self.unchanged > 0 {
            format!(", из них уже в реестре целиком: {}", self.unchanged)
        } else {
            String::new()
        };
        let done = match (added.first(), added.last()) {
            (Some(a), Some(b)) => {
                let n = plural(added.len() as u64, ("событие", "события", "событий"));
                let seqs = if a.seq == b.seq { format!("№ {}", a.seq) } else { format!("№ {}–{}", a.seq, b.seq) };
                if dry_run {
                    format!("будет добавлено {n} ({seqs}); ничего не записано (проверка)")
                } else {
                    format!("добавлено {n} ({seqs})")
                }
            }
            _ => "добавлять нечего: всё, что говорит таблица, уже есть в реестре".to_string(),
        };
        let title = match self.table.as_str() {
            "contracts" => "журнал договоров",
            "efo-dynamics" => "динамика ЕФО",
            _ => "кризисный центр",
        };
        let mut s = format!("Лист «{}» ({title}): {rows}{same}; {done}.", self.sheet);
        if again > 0 {
            s.push_str(&format!(
                " Ещё {} из таблицы в реестре уже есть под теми же номерами и отменены (event_voided): не добавлены снова.",
                plural(again as u64, ("событие", "события", "событий"))
            ));
        }
        if self.corrections > 0 {
            let fixes = self.events.iter().filter(|e| e.kind == "event_amended").count();
            s.push_str(&format!(
                " Из них исправления записанного по таблице: {} ({} с другим значением).",
                plural(fixes as u64, ("исправление", "исправления", "исправлений")),
                plural(self.corrections as u64, ("ячейка", "ячейки", "ячеек"))
            ));
        }
        if !self.ignored.is_empty() {
            let names: Vec<String> = self.ignored.iter().map(|h| format!("«{h}»")).collect();
            s.push_str(&format!(" Не прочитаны столбцы: {}.", names.join(", ")));
        }
        for note in &self.notes {
            let mut chars = note.chars();
            let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
            s.push_str(&format!(" {first}{}.", chars.as_str()));
        }
        s
    }
}
