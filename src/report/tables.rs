//! The tables these organisations keep by hand (seed 000, seed 001), from the ledger,
//! for a period and a cut: the ЕФО dynamics table, the crisis-centre table, the journal
//! of support contracts and the monthly monitoring table. Written as XLSX (Russian
//! headers, dates as dates, widths set, header frozen) or as CSV for Russian-locale
//! Excel (UTF-8 with BOM, `;`, decimal comma, dates `ДД.ММ.ГГГГ`).

use std::io::Write;
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use crate::domain::payload::Code;
use crate::domain::Payload;
use crate::error::{Error, Result};
use crate::indicators::facts::{Fact, Rows, Val};
use crate::indicators::Period;
use crate::ledger::Ledger;
use crate::project::case::{fold_all, CaseState};
use crate::project::{Cut, World};

pub const NAMES: [&str; 4] = ["efo-dynamics", "shelter", "contracts", "monitoring"];

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    /// Kopecks.
    Money(i64),
    Date(NaiveDate),
}

#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    /// The cut and the ledger's last event inside it (`как известно на 31.01.2021,
    /// последнее событие № 747`), printed on every page beside the title.
    pub about: String,
    pub headers: Vec<&'static str>,
    pub widths: Vec<f64>,
    pub rows: Vec<Vec<Cell>>,
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}
fn date(d: Option<NaiveDate>) -> Cell {
    d.map_or(Cell::Empty, Cell::Date)
}
fn int(v: Option<u64>) -> Cell {
    v.map_or(Cell::Empty, |v| Cell::Int(v as i64))
}
fn children(s: &CaseState) -> String {
    s.children.iter().map(|c| c.code.0.as_str()).collect::<Vec<_>>().join(", ")
}

/// Cases active in the period (opened by its end, not closed before its start), in
/// the order they were opened, optionally of one program.
fn active_cases(world: &World, period: Period, program: Option<&str>) -> Vec<CaseState> {
    let mut v: Vec<CaseState> = fold_all(world, Some(period.to))
        .into_iter()
        .filter(|s| s.closed_on.is_none_or(|c| c >= period.from))
        .filter(|s| program.is_none_or(|p| s.program.0 == p))
        .collect();
    v.sort_by(|a, b| (a.opened_on, &a.case).cmp(&(b.opened_on, &b.case)));
    v
}

fn dynamics(s: &CaseState) -> Cell {
    match (&s.efo.entry, &s.efo.exit) {
        (Some(a), Some(b)) => Cell::Int(a.weak_sides as i64 - b.weak_sides as i64),
        _ => Cell::Empty,
    }
}

/// One of the seed's two ЕФО tables: the shared columns around the table's own
/// `middle` ones (header, width); [`seed_row`] fills them in the same order.
fn seed_table(title: String, middle: &[(&'static str, f64)], rows: Vec<Vec<Cell>>) -> Table {
    let head = [
        ("№", 5.0),
        ("отдел", 8.0),
        ("шифр род.", 12.0),
        ("шифр реб.", 18.0),
        ("№ дела", 14.0),
        ("дата начала случая", 14.0),
    ];
    let tail = [("число слабых сторон, вход", 14.0), ("число слабых сторон, выход", 14.0), ("динамика", 10.0)];
    let (headers, widths) = head.iter().chain(middle).chain(&tail).copied().unzip();
    Table { title, about: String::new(), headers, widths, rows }
}

/// A row of the seed's two ЕФО tables: №, отдел, шифр род., шифр реб., № дела, дата
/// начала случая, then the table's own `middle` columns, then weak sides at entry and
/// exit and their difference.
fn seed_row(i: usize, s: &CaseState, middle: Vec<Cell>) -> Vec<Cell> {
    let mut row = vec![
        Cell::Int(i as i64 + 1),
        text(&s.program.0),
        text(&s.family.0),
        Cell::Text(children(s)),
        text(&s.case.0),
        Cell::Date(s.opened_on),
    ];
    row.extend(middle);
    row.extend([
        int(s.efo.entry.as_ref().map(|e| e.weak_sides)),
        int(s.efo.exit.as_ref().map(|e| e.weak_sides)),
        dynamics(s),
    ]);
    row
}

/// One of [`NAMES`] from a ledger, as known inside a cut, with the organisation's
/// name (if it has one) before the cut on every page.
pub fn of_ledger(ledger: &Ledger, name: &str, period: Period, cut: Cut, program: Option<&str>) -> Result<Table> {
    let world = World::load(ledger, cut)?;
    let mut t = build(name, &world, period, cut, program)?;
    if let Some(org) = ledger.organisation() {
        t.about = format!("{org} · {}", t.about);
    }
    Ok(t)
}

/// The tables a practice fills in by hand and imports (SPEC §17).
pub const TEMPLATES: [&str; 3] = ["contracts", "efo-dynamics", "shelter"];

/// Rows of an empty template that get date formats and drop-down lists.
const TEMPLATE_ROWS: u32 = 2000;

/// The empty table `name` for a practice to fill in: the headers of `table NAME`,
/// nothing else (its title says it is a template).
pub fn template(name: &str) -> Result<Table> {
    if !TEMPLATES.contains(&name) {
        return Err(Error::Usage(format!(
            "--template: шаблона `{name}` нет; шаблоны для заполнения есть у таблиц `{}`",
            TEMPLATES.join("`, `")
        )));
    }
    let any = Period { from: NaiveDate::MIN, to: NaiveDate::MIN };
    let mut t = build_rows(name, &World::default(), any, None)?;
    let base = t.title.rsplit_once(", ").map_or(t.title.as_str(), |(b, _)| b).to_string();
    t.title = format!("{base} — шаблон для заполнения");
    t.about = "заполните по строке на случай; даты — ДД.ММ.ГГГГ; итог — из списка".into();
    Ok(t)
}

/// An empty template as XLSX: the header row as [`write_xlsx`] writes it, dates
/// formatted `ДД.ММ.ГГГГ` in the date columns, and drop-down lists (data validation)
/// where the column holds a vocabulary: the outcome, a count of weak sides.
pub fn write_template(t: &Table, path: &Path) -> Result<()> {
    use rust_xlsxwriter::{DataValidation, DataValidationRule, Format};
    let xerr = |e: rust_xlsxwriter::XlsxError| Error::storage("writing the template", e);
    let mut book = workbook(t)?;
    let sheet = book.worksheet_from_index(0).map_err(xerr)?;
    let day = Format::new().set_num_format("dd.mm.yyyy").set_border(rust_xlsxwriter::FormatBorder::Thin);
    let outcomes: Vec<&str> = crate::domain::payload::Outcome::ALL.iter().map(|(_, o)| o.ru()).collect();
    for (c, h) in t.headers.iter().enumerate() {
        let c = c as u16;
        let rule = if h.contains("дата") || ["продление", "мониторинг через 6 месяцев"].contains(h)
        {
            for r in 1..=TEMPLATE_ROWS {
                sheet.write_blank(r, c, &day).map_err(xerr)?;
            }
            DataValidation::new()
                .allow_date(DataValidationRule::GreaterThan(
                    rust_xlsxwriter::ExcelDateTime::from_ymd(1990, 1, 1).map_err(xerr)?,
                ))
                .set_error_message("Дата в виде ДД.ММ.ГГГГ, не раньше 1990 года")
                .map_err(xerr)?
        } else if *h == "итог" {
            DataValidation::new().allow_list_strings(&outcomes).map_err(xerr)?
        } else if *h == STABLE {
            DataValidation::new().allow_list_strings(&["да", "нет"]).map_err(xerr)?
        } else if h.starts_with("число слабых сторон") {
            DataValidation::new()
                .allow_whole_number(DataValidationRule::Between(0, 200))
                .set_error_message("Целое число от 0 до 200")
                .map_err(xerr)?
        } else {
            continue;
        };
        sheet.add_data_validation(1, c, TEMPLATE_ROWS, c, &rule).map_err(xerr)?;
    }
    book.save(path).map_err(xerr)
}

/// Builds one of [`NAMES`].
pub fn build(name: &str, world: &World, period: Period, cut: Cut, program: Option<&str>) -> Result<Table> {
    let mut t = build_rows(name, world, period, program)?;
    t.about = format!(
        "{}, последнее событие № {}",
        super::cut_words(cut, chrono::Utc::now()),
        crate::domain::words::grouped(world.last_seq)
    );
    Ok(t)
}

fn build_rows(name: &str, world: &World, period: Period, program: Option<&str>) -> Result<Table> {
    let span = format!("{}–{}", super::ru_date(period.from), super::ru_date(period.to));
    let t = match name {
        "efo-dynamics" => seed_table(
            format!("Динамика ЕФО, {span}"),
            &[("дата закрытия", 14.0)],
            active_cases(world, period, program)
                .iter()
                .filter(|s| s.efo.entry.is_some())
                .enumerate()
                .map(|(i, s)| seed_row(i, s, vec![date(s.closed_on)]))
                .collect(),
        ),
        "shelter" => seed_table(
            format!("Кризисный центр, {span}"),
            &[
                ("продление", 14.0),
                ("дата выхода из КЦ, закрытие", 16.0),
                ("мониторинг через 6 месяцев", 16.0),
                (STABLE, 14.0),
            ],
            active_cases(world, period, program)
                .iter()
                .filter(|s| s.shelter.stays > 0)
                .enumerate()
                .map(|(i, s)| {
                    let middle = vec![
                        if s.shelter.extensions > 0 { date(s.shelter.until) } else { Cell::Empty },
                        date(s.shelter.left_on.or(s.closed_on)),
                        date(six_months(&s.follow_ups).map(|f| f.on)),
                        stable_cell(s),
                    ];
                    seed_row(i, s, middle)
                })
                .collect(),
        ),
        "contracts" => Table {
            title: format!("Журнал регистрации договоров о сопровождении, {span}"),
            about: String::new(),
            headers: vec![
                "№",
                "№ дела",
                "№ договора",
                "шифр семьи",
                "отдел",
                "куратор",
                "дата заключения",
                "дата закрытия",
                "итог",
                "мониторинг через 6 месяцев",
                STABLE,
            ],
            widths: vec![5.0, 14.0, 14.0, 12.0, 8.0, 10.0, 14.0, 14.0, 28.0, 16.0, 14.0],
            rows: active_cases(world, period, program)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    vec![
                        Cell::Int(i as i64 + 1),
                        text(&s.case.0),
                        s.contract.as_ref().map_or(Cell::Empty, |c| text(&c.0)),
                        text(&s.family.0),
                        text(&s.program.0),
                        s.curator.as_ref().map_or(Cell::Empty, |c| text(&c.0)),
                        Cell::Date(s.opened_on),
                        date(s.closed_on),
                        s.outcome.map_or(Cell::Empty, |o| text(o.ru())),
                        date(six_months(&s.follow_ups).map(|f| f.on)),
                        stable_cell(s),
                    ]
                })
                .collect(),
        },
        "monitoring" => monitoring(world, period, program, &span),
        other => {
            return Err(Error::Usage(format!("unknown table \"{other}\" (tables: {})", NAMES.join(", "))));
        }
    };
    Ok(t)
}

/// The column of the 6-month monitoring's result: is the family's situation stable.
pub const STABLE: &str = "положение устойчиво (да/нет)";

/// The 6-month monitoring's result as the tables write it: да / нет (empty without one).
fn stable_cell(s: &CaseState) -> Cell {
    six_months(&s.follow_ups).map_or(Cell::Empty, |f| text(if f.stable { "да" } else { "нет" }))
}

/// The monitoring the crisis-centre table dates: the first 6-month one (or one whose
/// length was not recorded).
pub fn six_months(follow_ups: &[crate::project::case::FollowUpView]) -> Option<&crate::project::case::FollowUpView> {
    follow_ups.iter().find(|f| f.months.is_none_or(|m| m == 6))
}

fn months(period: Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut first = NaiveDate::from_ymd_opt(period.from.year(), period.from.month(), 1).expect("first of month");
    while first <= period.to {
        let next = first.checked_add_months(chrono::Months::new(1)).expect("next month");
        let last = next.pred_opt().expect("last of month");
        out.push(Period { from: first.max(period.from), to: last.min(period.to) });
        first = next;
    }
    out
}

fn monitoring(world: &World, period: Period, program: Option<&str>, span: &str) -> Table {
    let in_program = |case: Option<&Code>| -> bool {
        match program {
            None => true,
            Some(p) => case.and_then(|c| crate::project::case::fold(world, c, None)).is_some_and(|s| s.program.0 == p),
        }
    };
    let rows = months(period)
        .into_iter()
        .map(|m| {
            let facts = Rows::build(world, m, false);
            let is = |v: &Val, b: bool| *v == Val::Bool(b);
            let signals = |res: Option<&str>| {
                facts
                    .signals
                    .iter()
                    .filter(|r| match res {
                        None => is(r.get(Fact::ReceivedInPeriod), true),
                        Some(x) => {
                            is(r.get(Fact::ResolvedInPeriod), true) && *r.get(Fact::Resolution) == Val::Str(x.into())
                        }
                    })
                    .count() as i64
            };
            let cases: Vec<_> = facts
                .cases
                .iter()
                .filter(|r| program.is_none_or(|p| *r.get(Fact::Program) == Val::Str(p.into())))
                .collect();
            let count = |f: Fact| cases.iter().filter(|r| is(r.get(f), true)).count() as i64;
            let shelter: i64 =
                cases.iter().map(|r| if let Val::Int(d) = r.get(Fact::ShelterDaysInPeriod) { *d } else { 0 }).sum();
            let (mut sets, mut value, mut sessions) = (0i64, 0i64, 0i64);
            for e in world.events.iter().filter(|e| e.is_live() && m.contains(e.occurred_on)) {
                match &e.payload {
                    Payload::AidIssued(a) if in_program(a.case.as_ref()) => {
                        sets += 1;
                        value += a.value.map_or(0, |v| v.0);
                    }
                    Payload::ServiceProvided(s) if in_program(s.case.as_ref()) => {
                        sessions += i64::from(s.sessions.map_or(1, |c| c.0))
                    }
                    _ => {}
                }
            }
            vec![
                Cell::Text(m.from.format("%m.%Y").to_string()),
                Cell::Int(signals(None)),
                Cell::Int(signals(Some("urgent_help"))),
                Cell::Int(signals(Some("redirected"))),
                Cell::Int(count(Fact::OpenedInPeriod)),
                Cell::Int(count(Fact::ClosedInPeriod)),
                Cell::Int(sets),
                Cell::Money(value),
                Cell::Int(sessions),
                Cell::Int(shelter),
            ]
        })
        .collect();
    Table {
        title: format!("Мониторинговая таблица, {span}"),
        about: String::new(),
        headers: vec![
            "месяц",
            "принято сигналов",
            "срочная помощь",
            "переадресовано",
            "открыто случаев",
            "закрыто случаев",
            "наборов помощи",
            "стоимость помощи, ₽",
            "услуг (занятий)",
            "дней в КЦ",
        ],
        widths: vec![10.0, 12.0, 12.0, 14.0, 12.0, 12.0, 12.0, 16.0, 12.0, 10.0],
        rows,
    }
}

/// A text cell as a spreadsheet must not run it: one that starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return would be read as a formula (OWASP "CSV injection"), so it
/// gets Excel's text mark, a leading `'` (which `import-table` drops again). Numbers,
/// money and dates are written as themselves.
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// CSV for Russian-locale Excel: UTF-8 with BOM, `;`, decimal comma; text that would
/// read as a formula made inert.
pub fn write_csv(t: &Table, out: &mut dyn Write) -> Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    let field = |s: String| {
        let s = inert(&s).into_owned();
        if s.contains([';', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    writeln!(out, "{}", t.headers.iter().map(|h| field(h.to_string())).collect::<Vec<_>>().join(";"))?;
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Empty => String::new(),
                Cell::Text(s) => field(s.clone()),
                Cell::Int(i) => i.to_string(),
                Cell::Money(k) => crate::domain::payload::Money(*k).to_string().replace('.', ","),
                Cell::Date(d) => super::ru_date(*d),
            })
            .collect();
        writeln!(out, "{}", cells.join(";"))?;
    }
    Ok(())
}

/// A sheet name of at most 31 characters (Excel's limit) that ends at a whole word,
/// without the characters Excel refuses.
fn sheet_name(title: &str) -> String {
    // The tables whose titles do not fit: a short whole name instead of a cut one
    // («Журнал регистрации договоров о…» was the contracts' sheet).
    for (start, short) in
        [("Журнал регистрации договоров", "Договоры о сопровождении"), ("Мониторинговая таблица", "Мониторинг")]
    {
        if title.starts_with(start) {
            return short.to_string();
        }
    }
    let clean: String = title.chars().filter(|c| !"[]:*?/\\".contains(*c)).collect();
    let mut name = String::new();
    for word in clean.split_whitespace() {
        let next = if name.is_empty() { word.to_string() } else { format!("{name} {word}") };
        if next.chars().count() > 31 {
            break;
        }
        name = next;
    }
    if name.is_empty() {
        name = clean.chars().take(31).collect();
    }
    name.trim_end_matches([',', ';', ' ', '–', '-']).to_string()
}

/// Excel's limit on a page header, in UTF-16 units.
const MAX_HEADER: usize = 255;

/// `text` cut to at most `room` UTF-16 units, with "…" when cut (never inside an
/// `&&`, which would leave a lone header code).
fn shortened(text: &str, room: usize) -> String {
    if text.encode_utf16().count() <= room {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if out.encode_utf16().count() + c.len_utf16() + 1 > room {
            break;
        }
        out.push(c);
    }
    if out.chars().rev().take_while(|c| *c == '&').count() % 2 == 1 {
        out.pop();
    }
    out.push('…');
    out
}

/// The widest a column grows to fit its text (characters); longer text wraps.
const MAX_COLUMN_WIDTH: f64 = 40.0;

/// XLSX: Russian headers in bold, frozen; dates as dates; widths set; print-ready.
pub fn write_xlsx(t: &Table, path: &Path) -> Result<()> {
    let mut book = workbook(t)?;
    book.save(path).map_err(|e| Error::storage("writing the workbook", e))
}

/// The workbook of [`write_xlsx`], not yet saved.
fn workbook(t: &Table) -> Result<rust_xlsxwriter::Workbook> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let xerr = |e: rust_xlsxwriter::XlsxError| Error::storage("writing the workbook", e);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name(&t.title)).map_err(xerr)?;
    // Print-ready: landscape A4, one page wide, the header row on every page, the
    // title (with its period) and page numbers in the page header and footer. The
    // header stays the sheet's first row, so a table written here reads back as it is.
    sheet.set_landscape();
    sheet.set_paper_size(9);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(0, 0).map_err(xerr)?;
    // The page header: the title (with its period) and, under it, the organisation
    // and the cut. Excel keeps a header of at most 255 characters (UTF-16), codes
    // included: a long organisation's name is shortened to fit, never the header lost.
    let title = t.title.replace('&', "&&");
    let about = t.about.replace('&', "&&");
    let codes = "&C&\"-,Bold\"&\"-,Regular\"\n";
    let room = MAX_HEADER.saturating_sub(codes.encode_utf16().count() + title.encode_utf16().count());
    sheet.set_header(format!("&C&\"-,Bold\"{title}&\"-,Regular\"\n{}", shortened(&about, room)));
    sheet.set_footer("&Cстр. &P из &N");
    sheet.set_print_gridlines(false);
    let border = rust_xlsxwriter::FormatBorder::Thin;
    let bold = Format::new().set_bold().set_text_wrap().set_border(border).set_background_color("#EEF1F5");
    let plain = Format::new().set_text_wrap().set_border(border);
    let number = Format::new().set_border(border);
    let day = Format::new().set_num_format("dd.mm.yyyy").set_border(border);
    let money = Format::new().set_num_format("#,##0.00").set_border(border);
    let mut widths = Vec::with_capacity(t.headers.len());
    for (c, (h, w)) in t.headers.iter().zip(&t.widths).enumerate() {
        // Wide enough for the longest text in the column (a list of children's codes),
        // up to a limit: a printed cell shows its text whole, one page wide.
        let longest = t
            .rows
            .iter()
            .filter_map(|r| match r.get(c) {
                Some(Cell::Text(s)) => Some(s.chars().count() as f64 + 1.0),
                _ => None,
            })
            .fold(0.0, f64::max);
        let c = c as u16;
        let width = w.max(longest.min(MAX_COLUMN_WIDTH));
        sheet.write_string_with_format(0, c, *h, &bold).map_err(xerr)?;
        sheet.set_column_width(c, width).map_err(xerr)?;
        widths.push(width);
    }
    sheet.set_freeze_panes(1, 0).map_err(xerr)?;
    // Two lines of header text (the longest headers wrap once).
    sheet.set_row_height(0, 30).map_err(xerr)?;
    for (r, row) in t.rows.iter().enumerate() {
        let r = r as u32 + 1;
        // A text longer than its column wraps: the row grows to show every line (no
        // spreadsheet program measures it on opening).
        let lines = row
            .iter()
            .zip(&widths)
            .filter_map(|(cell, w)| match cell {
                Cell::Text(s) => Some((s.chars().count() as f64 / (w - 1.0).max(1.0)).ceil()),
                _ => None,
            })
            .fold(1.0, f64::max);
        if lines > 1.0 {
            sheet.set_row_height(r, 15.0 * lines).map_err(xerr)?;
        }
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Empty => {
                    sheet.write_blank(r, c, &plain).map_err(xerr)?;
                }
                Cell::Text(s) => {
                    sheet.write_string_with_format(r, c, s, &plain).map_err(xerr)?;
                }
                Cell::Int(i) => {
                    sheet.write_number_with_format(r, c, *i as f64, &number).map_err(xerr)?;
                }
                Cell::Money(k) => {
                    sheet.write_number_with_format(r, c, *k as f64 / 100.0, &money).map_err(xerr)?;
                }
                Cell::Date(d) => {
                    let x = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).map_err(xerr)?;
                    sheet.write_date_with_format(r, c, &x, &day).map_err(xerr)?;
                }
            }
        }
    }
    Ok(book)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_header_is_shortened_to_what_excel_keeps() {
        let about = format!("{} && Co · как известно на 31.01.2021", "Г".repeat(120));
        for room in [10, 50, 100, 121, 122, 123, 200] {
            let s = shortened(&about, room);
            assert!(s.encode_utf16().count() <= room, "{room}: {s}");
            let amps = s.trim_end_matches('…').chars().rev().take_while(|c| *c == '&').count();
            assert_eq!(amps % 2, 0, "no lone header code: {s}");
        }
        assert_eq!(shortened("коротко", 50), "коротко");
        // A whole workbook with a 200-character organisation keeps its header.
        let t = Table {
            title: "Журнал регистрации договоров о сопровождении, 01.01.2020–31.12.2020".into(),
            about: format!(
                "{} · по всем записям реестра на 30.11.2026 10:00 UTC, последнее событие № 1 000 000",
                "О".repeat(200)
            ),
            headers: vec!["№"],
            widths: vec![5.0],
            rows: vec![vec![Cell::Int(1)]],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.xlsx");
        write_xlsx(&t, &path).unwrap();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
        assert!(sheet.contains("<oddHeader>") && sheet.contains("Журнал регистрации договоров"), "{sheet}");
    }
}
