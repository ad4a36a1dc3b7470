//! The header of a table: which of the table's columns a sheet has and where, however
//! people spell, merge or split the header cells.

use std::collections::{HashMap, HashSet};

use super::bounds::HEADER_SEARCH_ROWS;
use super::sheet::{Raw, Sheet};
use crate::error::{Error, Result};
use crate::report::tables::TEMPLATES;

/// What a column of one of the tables holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Col {
    Num,
    Program,
    Family,
    Children,
    Case,
    Contract,
    Curator,
    Opened,
    Closed,
    Outcome,
    Entry,
    Exit,
    Dynamics,
    Extension,
    Left,
    Monitoring,
    Stable,
}

/// The headers `table NAME` writes, and what each column holds.
pub(super) const CANONICAL: [(&str, Col); 19] = [
    ("№", Col::Num),
    ("отдел", Col::Program),
    ("шифр род.", Col::Family),
    ("шифр семьи", Col::Family),
    ("шифр реб.", Col::Children),
    ("№ дела", Col::Case),
    ("№ договора", Col::Contract),
    ("куратор", Col::Curator),
    ("дата начала случая", Col::Opened),
    ("дата заключения", Col::Opened),
    ("дата закрытия", Col::Closed),
    ("итог", Col::Outcome),
    ("число слабых сторон, вход", Col::Entry),
    ("число слабых сторон, выход", Col::Exit),
    ("динамика", Col::Dynamics),
    ("продление", Col::Extension),
    ("дата выхода из КЦ, закрытие", Col::Left),
    ("мониторинг через 6 месяцев", Col::Monitoring),
    (crate::report::tables::STABLE, Col::Stable),
];

/// The column a header of `table NAME` names.
pub(super) fn col_of(header: &str) -> Option<Col> {
    CANONICAL.iter().find(|(h, _)| *h == header).map(|(_, c)| *c)
}

/// Other spellings people use (the seeds' among them).
pub(super) const ALIASES: [(&str, Col); 25] = [
    ("№/№", Col::Num),
    ("№ п/п", Col::Num),
    ("программа", Col::Program),
    ("шифр семьи", Col::Family),
    ("шифр род.", Col::Family),
    ("шифр родителя", Col::Family),
    ("шифр ребёнка", Col::Children),
    ("шифр детей", Col::Children),
    ("дети", Col::Children),
    ("номер дела", Col::Case),
    ("номер договора", Col::Contract),
    ("дата договора", Col::Opened),
    ("дата заключения договора", Col::Opened),
    ("дата начала", Col::Opened),
    ("дата открытия", Col::Opened),
    ("дата закрытия случая", Col::Closed),
    ("итог сопровождения", Col::Outcome),
    ("результат", Col::Outcome),
    ("дата выхода из КЦ", Col::Left),
    ("дата выхода", Col::Left),
    ("мониторинг", Col::Monitoring),
    ("мониторинг через полгода", Col::Monitoring),
    ("положение устойчиво", Col::Stable),
    ("ситуация стабильна", Col::Stable),
    ("мониторинг: положение устойчиво (да/нет)", Col::Stable),
];

/// A header's spelling reduced to what tells headers apart: lower case, ё as е, each
/// word's first four letters (so «дата начало случая» and «ДАТА начала случая», or
/// «шифр, род.» and «шифр род.», read alike).
pub(super) fn header_key(s: &str) -> String {
    s.to_lowercase()
        .replace('ё', "е")
        .replace('№', " № ")
        .split(|c: char| !(c.is_alphanumeric() || c == '№'))
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(4).collect::<String>())
        .collect()
}

/// The columns a table may have, by header key, and the ones it must have.
pub(super) struct Layout {
    pub(super) table: &'static str,
    pub(super) known: HashMap<String, Col>,
    /// Each column's name as `table NAME` writes it.
    pub(super) names: HashMap<Col, &'static str>,
    pub(super) required: Vec<Col>,
    pub(super) distinct: Vec<Col>,
    /// Header keys of the columns only another table has: a sheet with one of them is
    /// that table, not this one (the journal's columns are in the ЕФО table's too).
    pub(super) foreign: HashSet<String>,
}

pub(super) fn layout(table: &str) -> Result<Layout> {
    let Some(table) = TEMPLATES.iter().copied().find(|t| *t == table) else {
        return Err(Error::Usage(format!("нет таблицы `{table}` для загрузки; есть: `{}`", TEMPLATES.join("`, `"))));
    };
    let headers = crate::report::tables::template(table)?.headers;
    let mut cols: Vec<(&'static str, Col)> =
        headers.iter().map(|h| (*h, col_of(h).expect("every template header is known"))).collect();
    if table != "contracts" {
        // The ЕФО and crisis-centre tables may carry the journal's outcome.
        cols.push(("итог", Col::Outcome));
    }
    let mut known: HashMap<String, Col> = cols.iter().map(|(h, c)| (header_key(h), *c)).collect();
    for (alias, col) in ALIASES {
        if cols.iter().any(|(_, c)| *c == col) {
            known.entry(header_key(alias)).or_insert(col);
        }
    }
    let names = cols.iter().map(|(h, c)| (*c, *h)).collect();
    let required = match table {
        "efo-dynamics" => vec![Col::Case, Col::Family, Col::Program, Col::Opened, Col::Entry, Col::Closed],
        _ => vec![Col::Case, Col::Family, Col::Program, Col::Opened],
    };
    // What tells this table's sheet from the others' (the crisis-centre table has the
    // ЕФО table's columns too): at least one of these.
    let distinct = match table {
        "shelter" => vec![Col::Extension, Col::Left],
        _ => Vec::new(),
    };
    let others: &[Col] = match table {
        "contracts" => &[Col::Entry, Col::Exit, Col::Dynamics, Col::Extension, Col::Left],
        "efo-dynamics" => &[Col::Extension, Col::Left],
        _ => &[],
    };
    let foreign = CANONICAL
        .iter()
        .chain(ALIASES.iter())
        .filter(|(_, c)| others.contains(c))
        .map(|(h, _)| header_key(h))
        .collect();
    Ok(Layout { table, known, names, required, distinct, foreign })
}

/// The header found on a sheet: the index of its (last) row in `Sheet::rows`, each
/// recognised column with its spelling there, and the headers not read.
pub(super) struct Header {
    pub(super) last: usize,
    pub(super) cols: Vec<(usize, Col, String)>,
    pub(super) ignored: Vec<String>,
}

pub(super) fn cell_text(c: &Raw) -> String {
    match c {
        Raw::Empty => String::new(),
        Raw::Text(s) => s.clone(),
        Raw::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Raw::Number(f) => f.to_string(),
        Raw::Date(d) => crate::report::ru_date(*d),
        Raw::Error(e) => e.clone(),
    }
}

/// The columns `names` name. Under a heading over several columns («ДАТА» over
/// «начало», «продление», «выхода»), a combined name the table does not know is tried
/// as its lower part alone (`lower`), so that every sub-column is read.
pub(super) fn recognise(
    layout: &Layout,
    names: &[String],
    lower: Option<&[String]>,
) -> (Vec<(usize, Col, String)>, Vec<String>) {
    let (mut cols, mut ignored): (Vec<(usize, Col, String)>, Vec<String>) = (Vec::new(), Vec::new());
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            continue;
        }
        let alone = || lower.and_then(|l| l.get(i)).filter(|l| !l.is_empty()).map(|l| header_key(l));
        match layout.known.get(&header_key(n)).or_else(|| alone().and_then(|k| layout.known.get(&k))) {
            Some(c) if !cols.iter().any(|(_, d, _)| d == c) => cols.push((i, *c, n.clone())),
            _ => ignored.push(n.clone()),
        }
    }
    (cols, ignored)
}

/// Finds the header: a row (or two rows, the upper one merged over the lower) that
/// names every required column; of several, the one naming most columns.
pub(super) fn find_header(layout: &Layout, sheet: &Sheet) -> std::result::Result<Header, Vec<Col>> {
    let mut best: Option<Header> = None;
    let mut fewest_missing: Vec<Col> = layout.required.clone();
    let top = sheet.rows.len().min(HEADER_SEARCH_ROWS);
    for i in 0..top {
        let lower: Vec<String> = sheet.rows[i].1.iter().map(cell_text).collect();
        let mut candidates: Vec<(Vec<String>, Option<&[String]>)> = vec![(lower.clone(), None)];
        if i > 0 {
            let mut upper: Vec<String> = sheet.rows[i - 1].1.iter().map(cell_text).collect();
            let width = upper.len().max(lower.len());
            upper.resize(width, String::new());
            // A heading over several columns (merged in Excel, in a CSV only over the
            // first): carried right while the lower row goes on under empty cells.
            for c in 1..width {
                let below = |k: usize| lower.get(k).is_some_and(|l| !l.is_empty());
                if upper[c].is_empty() && below(c) && below(c - 1) && !upper[c - 1].is_empty() {
                    upper[c] = upper[c - 1].clone();
                }
            }
            candidates.push((
                (0..width)
                    .map(|c| {
                        let u = upper.get(c).map_or("", String::as_str);
                        let l = lower.get(c).map_or("", String::as_str);
                        match (u.is_empty(), l.is_empty()) {
                            (false, false) if u != l => format!("{u}, {l}"),
                            (false, _) => u.to_string(),
                            _ => l.to_string(),
                        }
                    })
                    .collect(),
                Some(&lower),
            ));
        }
        for (names, lower) in &candidates {
            let (cols, ignored) = recognise(layout, names, *lower);
            let missing: Vec<Col> =
                layout.required.iter().copied().filter(|r| !cols.iter().any(|(_, c, _)| c == r)).collect();
            if missing.len() < fewest_missing.len() {
                fewest_missing = missing.clone();
            }
            let told =
                layout.distinct.is_empty() || layout.distinct.iter().any(|d| cols.iter().any(|(_, c, _)| c == d));
            if missing.is_empty() && told && best.as_ref().is_none_or(|b| cols.len() > b.cols.len()) {
                best = Some(Header { last: i, cols, ignored });
            }
        }
    }
    best.ok_or(fewest_missing)
}
