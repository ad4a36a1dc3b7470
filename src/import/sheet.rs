//! Reading a table's file into sheets of cells: XLSX, XLS and ODS workbooks (within
//! the bounds of [`super::bounds`]) and CSV as Russian-locale Excel and Google Sheets
//! save it. Cells only: what the cells mean is the header's and the plan's to say.

use std::path::Path;

use chrono::NaiveDate;

use super::bounds::{self, HEADER_SEARCH_ROWS, MAX_ROWS};
use super::shape;
use crate::error::{Error, Refusal, Result};

/// A cell as read from a sheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Empty,
    /// A formula's error (`#REF!`, `#ЗНАЧ!`): refused wherever it is read.
    Error(String),
    Text(String),
    Number(f64),
    Date(NaiveDate),
}

/// One sheet: its rows with their numbers as the sheet shows them (1-based).
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The file it comes from (its name, for corrections' reasons).
    pub file: String,
    pub name: String,
    pub rows: Vec<(usize, Vec<Raw>)>,
    /// What of it a person does not see (nothing, in a CSV).
    pub unseen: Unseen,
}

/// What of a sheet that holds something a person does not see: the sheet itself, rows
/// or columns someone hid, rows a filter hides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unseen {
    pub sheet: bool,
    /// Hidden rows that hold something, by their numbers (1-based).
    pub rows: Vec<usize>,
    /// Hidden columns that hold something, by index (0-based).
    pub cols: Vec<usize>,
    /// A filter is on.
    pub filter: bool,
}

impl Unseen {
    pub fn any(&self) -> bool {
        self.sheet || !self.rows.is_empty() || !self.cols.is_empty()
    }

    /// In words: «скрыты строки 5, 8–9 (их скрывает фильтр) и столбец F».
    pub fn words(&self) -> String {
        use crate::domain::words::plural;
        let mut parts = Vec::new();
        if self.sheet {
            parts.push("лист скрыт".to_string());
        }
        if !self.rows.is_empty() {
            let mut ranges: Vec<(usize, usize)> = Vec::new();
            for &r in &self.rows {
                match ranges.last_mut() {
                    Some((_, b)) if *b + 1 == r => *b = r,
                    _ => ranges.push((r, r)),
                }
            }
            const SHOWN: usize = 10;
            let mut shown: Vec<String> = ranges
                .iter()
                .take(SHOWN)
                .map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}–{b}") })
                .collect();
            if ranges.len() > SHOWN {
                let rest: usize = ranges[SHOWN..].iter().map(|(a, b)| b - a + 1).sum();
                shown.push(format!("и ещё {}", plural(rest as u64, ("строка", "строки", "строк"))));
            }
            let word = if self.rows.len() == 1 { "скрыта строка" } else { "скрыты строки" };
            let filter = if self.filter { " (строки скрывает и фильтр)" } else { "" };
            parts.push(format!("{word} {}{filter}", shown.join(", ")));
        }
        if !self.cols.is_empty() {
            let letters: Vec<String> = self.cols.iter().map(|&c| column_letters(c)).collect();
            let word = if self.cols.len() == 1 { "скрыт столбец" } else { "скрыты столбцы" };
            parts.push(format!("{word} {}", letters.join(", ")));
        }
        parts.join("; ")
    }
}

/// A column's letters as Excel shows them: 0 → A, 26 → AA.
pub fn column_letters(mut c: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

impl Sheet {
    /// The sheet as a person sees it: without its hidden rows, its hidden columns
    /// emptied; `None` when the sheet itself is hidden.
    pub fn visible(&self) -> Option<Sheet> {
        if self.unseen.sheet {
            return None;
        }
        let rows = self
            .rows
            .iter()
            .filter(|(n, _)| self.unseen.rows.binary_search(n).is_err())
            .map(|(n, cells)| {
                let mut cells = cells.clone();
                for &c in &self.unseen.cols {
                    if let Some(v) = cells.get_mut(c) {
                        *v = Raw::Empty;
                    }
                }
                (*n, cells)
            })
            .collect();
        Some(Sheet { file: self.file.clone(), name: self.name.clone(), rows, unseen: Unseen::default() })
    }
}

/// Reads an XLSX/XLS/ODS workbook (every sheet) or a CSV file (one sheet named after
/// the file). `name` is the file's name, for the CSV's sheet and for messages.
pub fn read(name: &str, bytes: &[u8]) -> Result<Vec<Sheet>> {
    let ole = [0xD0, 0xCF, 0x11, 0xE0];
    if bytes.starts_with(b"PK") || bytes.starts_with(&ole) {
        read_workbook(name, bytes)
    } else {
        let stem = Path::new(name).file_stem().map_or(name.to_string(), |s| s.to_string_lossy().into_owned());
        let mut sheet = read_csv(&stem, bytes)?;
        sheet.file = name.to_string();
        Ok(vec![sheet])
    }
}

/// [`read`] of a file on disk.
pub fn read_path(path: &Path) -> Result<Vec<Sheet>> {
    let bytes = std::fs::read(path).map_err(|e| Error::Usage(crate::say::cannot_read(&path.display(), &e)))?;
    read(&path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()), &bytes)
}

pub(super) fn unreadable(name: &str, why: impl std::fmt::Display) -> Error {
    Error::refused(Refusal::new(
        Some(format!("Файл «{name}»")),
        format!("не читается как таблица Excel или CSV ({why})"),
    ))
}

/// Columns a sheet may have (a stray value further right is not read).
pub(super) const MAX_COLUMNS: usize = 256;

/// Rows a sheet is read to: a value below this refuses the file (never cut silently).
pub(super) const READ_ROWS: usize = MAX_ROWS + HEADER_SEARCH_ROWS;

pub(super) fn too_long(sheet: &str) -> Error {
    Error::refused(Refusal::new(
        Some(format!("Лист «{sheet}»")),
        format!("больше {MAX_ROWS} строк; разделите таблицу на части"),
    ))
}

/// A cell of a workbook as [`Raw`]: a formula's error is kept as an error; a date
/// outside the years Excel counts stays a number.
pub(super) fn raw(d: &calamine::Data) -> Raw {
    use calamine::Data as D;
    match d {
        D::Empty => Raw::Empty,
        D::Error(e) => Raw::Error(e.to_string()),
        D::String(s) | D::DateTimeIso(s) | D::DurationIso(s) => text_cell(s),
        D::Int(i) => Raw::Number(*i as f64),
        D::Float(f) => Raw::Number(*f),
        D::Bool(b) => Raw::Text(if *b { "да" } else { "нет" }.into()),
        D::DateTime(x) if (1.0..2_958_466.0).contains(&x.as_f64()) => {
            x.as_datetime().map_or(Raw::Number(x.as_f64()), |t| Raw::Date(t.date()))
        }
        D::DateTime(x) => Raw::Number(x.as_f64()),
    }
}

/// Reads a workbook's sheets. XLSX is read cell by cell (only the cells it has, so a
/// stray value far away costs nothing), up to [`READ_ROWS`] rows and [`MAX_COLUMNS`]
/// columns; XLS and ODS through calamine's ranges.
pub(super) fn read_workbook(name: &str, bytes: &[u8]) -> Result<Vec<Sheet>> {
    use calamine::Reader;
    // A zip bomb, or a sheet of a hundred million repeated cells, stops here.
    bounds::check(name, bytes)?;
    let mut book =
        calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| unreadable(name, e))?;
    let names = book.sheet_names();
    let mut shapes = shape::of(name, bytes, READ_ROWS as u32, MAX_COLUMNS as u32)?;
    let mut sheets = Vec::new();
    for sheet in names {
        let mut rows: Vec<Vec<Raw>> = Vec::new();
        let mut put = |r: usize, c: usize, v: Raw| -> Result<()> {
            if v == Raw::Empty || c >= MAX_COLUMNS {
                return Ok(());
            }
            if let Raw::Text(s) = &v {
                let chars = s.chars().count();
                if chars > bounds::MAX_CELL_CHARS {
                    return Err(bounds::long_cell(&sheet, r, c, chars));
                }
            }
            if r >= READ_ROWS {
                return Err(too_long(&sheet));
            }
            set(&mut rows, r, c, v);
            Ok(())
        };
        match &mut book {
            calamine::Sheets::Xlsx(x) => {
                let mut cells = x.worksheet_cells_reader(&sheet).map_err(|e| unreadable(name, e))?;
                while let Some(cell) = cells.next_cell().map_err(|e| unreadable(name, e))? {
                    let (r, c) = cell.get_position();
                    // A cell over Excel's limit is refused before it is copied.
                    let text: Option<&str> = match cell.get_value() {
                        calamine::DataRef::String(s) => Some(s),
                        calamine::DataRef::SharedString(s) => Some(s),
                        _ => None,
                    };
                    if let Some(s) = text.filter(|s| s.len() > 4 * bounds::MAX_CELL_CHARS) {
                        return Err(bounds::long_cell(&sheet, r as usize, c as usize, s.chars().count()));
                    }
                    put(r as usize, c as usize, raw(&cell.get_value().clone().into()))?;
                }
            }
            other => {
                let range = other.worksheet_range(&sheet).map_err(|e| unreadable(name, e))?;
                let (r0, c0) = range.start().unwrap_or((0, 0));
                for (r, c, d) in range.used_cells() {
                    put(r0 as usize + r, c0 as usize + c, raw(d))?;
                }
            }
        }
        let shape = shapes.remove(&sheet).unwrap_or_default();
        // A merged cell keeps its value in its top-left cell only: every cell of a
        // merged region reads as that value (a heading over its columns, a department
        // over its block of rows), within the rows the sheet has.
        let last = rows.len();
        let mut filled = 0usize;
        for &(top, left, bottom, right) in &shape.merged {
            let (top, left) = (top as usize, left as usize);
            let Some(value) = rows.get(top).and_then(|r| r.get(left)).filter(|v| **v != Raw::Empty).cloned() else {
                continue;
            };
            for r in top..=(bottom as usize).min(last.saturating_sub(1)) {
                for c in left..=(right as usize).min(MAX_COLUMNS - 1) {
                    filled += 1;
                    if filled > MAX_MERGED_CELLS {
                        return Err(Error::refused(Refusal::new(
                            Some(format!("Лист «{sheet}»")),
                            format!("объединённые ячейки занимают больше {MAX_MERGED_CELLS} ячеек — больше, чем бывает у таблицы"),
                        )));
                    }
                    set(&mut rows, r, c, value.clone());
                }
            }
        }
        // What a person does not see, where it holds something.
        let holds = |row: &Vec<Raw>| row.iter().any(|v| *v != Raw::Empty);
        let unseen = Unseen {
            sheet: shape.hidden && rows.iter().any(holds),
            rows: (0..rows.len()).filter(|&r| shape.row_hidden(r as u32) && holds(&rows[r])).map(|r| r + 1).collect(),
            cols: (0..MAX_COLUMNS)
                .filter(|&c| {
                    shape.col_hidden(c as u32) && rows.iter().any(|row| row.get(c).is_some_and(|v| *v != Raw::Empty))
                })
                .collect(),
            filter: shape.filter,
        };
        let rows = rows.into_iter().enumerate().map(|(i, row)| (i + 1, row)).collect();
        sheets.push(Sheet { file: name.to_string(), name: sheet, rows, unseen });
    }
    Ok(sheets)
}

/// The most cells merged regions may fill (a department over 50 000 rows is 50 000).
const MAX_MERGED_CELLS: usize = 1_000_000;

/// Puts `v` at (`r`, `c`) of a sheet's rows, growing them to reach it.
pub(super) fn set(rows: &mut Vec<Vec<Raw>>, r: usize, c: usize, v: Raw) {
    if rows.len() <= r {
        rows.resize(r + 1, Vec::new());
    }
    if rows[r].len() <= c {
        rows[r].resize(c + 1, Raw::Empty);
    }
    rows[r][c] = v;
}

/// Excel's formula errors, English and Russian, as a CSV shows them.
pub(super) const FORMULA_ERRORS: [&str; 16] = [
    "#NULL!",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#N/A",
    "#GETTING_DATA",
    "#ПУСТО!",
    "#ДЕЛ/0!",
    "#ЗНАЧ!",
    "#ССЫЛКА!",
    "#ИМЯ?",
    "#ЧИСЛО!",
    "#Н/Д",
    "#SPILL!",
];

pub(super) fn text_cell(s: &str) -> Raw {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}');
    // A leading apostrophe is Excel's mark of text (and what `table … .csv` writes before
    // a cell that would read as a formula): not part of the value.
    let t = t.strip_prefix('\'').map_or(t, |rest| rest.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}'));
    if t.is_empty() {
        Raw::Empty
    } else if FORMULA_ERRORS.contains(&t) {
        Raw::Error(t.to_string())
    } else {
        Raw::Text(t.to_string())
    }
}

/// CSV as Russian-locale Excel saves it: UTF-8 with or without a BOM, or Windows-1251;
/// `;` (or a tab, or a comma when the header has more of them), quotes doubled.
pub(super) fn read_csv(name: &str, bytes: &[u8]) -> Result<Sheet> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => encoding_rs::WINDOWS_1251.decode(bytes).0,
    };
    let head: String = text.lines().take(HEADER_SEARCH_ROWS).collect::<Vec<_>>().join("\n");
    let delimiter = [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|d| (head.bytes().filter(|b| b == d).count(), *d == b';'))
        .expect("three candidates");
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text.as_bytes());
    // Rows numbered as Excel shows the file: a record is one row however many lines
    // its quoted cells span, and an empty line (which the reader skips) is a row too.
    let mut rows = Vec::new();
    let (mut row, mut next_line) = (0usize, 1usize);
    for record in reader.records() {
        let record = record.map_err(|e| unreadable(name, e))?;
        let line = record.position().map_or(next_line, |p| p.line() as usize);
        row += 1 + line.saturating_sub(next_line);
        next_line = line + 1 + record.iter().map(|f| f.matches('\n').count()).sum::<usize>();
        rows.push((row, record.iter().map(text_cell).collect()));
        if row > READ_ROWS {
            return Err(too_long(name));
        }
    }
    Ok(Sheet { file: String::new(), name: name.to_string(), rows, unseen: Unseen::default() })
}
