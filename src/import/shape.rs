//! What a workbook shows a person beyond its cells (issue 27): sheets, rows and columns
//! someone hid (by hand or by a filter), and merged cells. calamine reads the cells;
//! these are read here from the formats themselves — the sheet XML of an XLSX
//! (`<row hidden>`, `<col hidden>`, `<autoFilter>`, `<mergeCell>`, the workbook's
//! `state="hidden"`), the BIFF8 records of an XLS (ROW, COLINFO, FILTERMODE/AUTOFILTER,
//! MERGECELLS, BOUNDSHEET) and an ODS's `content.xml` (`table:visibility`, spans,
//! `table:display="false"`) — so that nothing a person hid becomes events unseen, and a
//! department merged over its block of rows is read on every row of it.
//!
//! Everything is bounded: rows past the ones a table is read to and columns past the
//! ones read are passed over, and a workbook with more merged regions than a table
//! has is refused.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Refusal, Result};

/// The most merged regions a workbook may have.
pub const MAX_MERGES: usize = 100_000;

/// A rectangle of cells, 0-based and inclusive: (first row, first column, last row,
/// last column).
pub type Area = (u32, u32, u32, u32);

/// One sheet's shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// The sheet itself is hidden.
    pub hidden: bool,
    /// Hidden rows, as 0-based inclusive ranges.
    pub rows: Vec<(u32, u32)>,
    /// Hidden columns, as 0-based inclusive ranges.
    pub cols: Vec<(u32, u32)>,
    /// A filter is on: some rows are hidden by it.
    pub filter: bool,
    /// Merged regions.
    pub merged: Vec<Area>,
}

impl Shape {
    pub fn row_hidden(&self, r: u32) -> bool {
        self.rows.iter().any(|&(a, b)| (a..=b).contains(&r))
    }
    pub fn col_hidden(&self, c: u32) -> bool {
        self.cols.iter().any(|&(a, b)| (a..=b).contains(&c))
    }
}

/// The shapes of a workbook's sheets, by sheet name. `rows` and `cols` bound what is
/// kept (a range starting past them is dropped).
pub fn of(name: &str, bytes: &[u8], rows: u32, cols: u32) -> Result<HashMap<String, Shape>> {
    let bad = |why: String| Error::refused(Refusal::new(Some(format!("Файл «{name}»")), why));
    let limits = Limits { rows, cols };
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return xls(bytes, limits).map_err(bad);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut part = |path: &str| -> std::result::Result<Option<String>, String> {
        let Ok(f) = zip.by_name(path) else { return Ok(None) };
        let mut s = String::new();
        // The parts' sizes were bounded before (bounds::check).
        f.take(super::bounds::MAX_PART_BYTES).read_to_string(&mut s).map_err(|e| format!("«{path}»: {e}"))?;
        Ok(Some(s))
    };
    if let Some(content) = part("content.xml").map_err(bad)? {
        return ods(&content, limits).map_err(bad);
    }
    let workbook = part("xl/workbook.xml").map_err(bad)?.unwrap_or_default();
    let rels = part("xl/_rels/workbook.xml.rels").map_err(bad)?.unwrap_or_default();
    let mut out = HashMap::new();
    for (sheet, hidden, target) in xlsx_sheets(&workbook, &rels).map_err(bad)? {
        let Some(xml) = part(&target).map_err(bad)? else { continue };
        let mut shape = xlsx_sheet(&xml, limits).map_err(|e| bad(format!("лист «{sheet}»: {e}")))?;
        shape.hidden = hidden;
        out.insert(sheet, shape);
    }
    check_merges(&out).map_err(bad)?;
    Ok(out)
}

#[derive(Clone, Copy)]
struct Limits {
    rows: u32,
    cols: u32,
}

impl Limits {
    fn push(&self, list: &mut Vec<(u32, u32)>, first: u32, last: u32, cols: bool) {
        let cap = if cols { self.cols } else { self.rows };
        if first < cap {
            list.push((first, last.min(cap - 1)));
        }
    }
}

fn check_merges(shapes: &HashMap<String, Shape>) -> std::result::Result<(), String> {
    let n: usize = shapes.values().map(|s| s.merged.len()).sum();
    if n > MAX_MERGES {
        return Err(format!("в книге больше {MAX_MERGES} объединённых ячеек — больше, чем бывает у таблицы"));
    }
    Ok(())
}

/// The part of a name after its namespace prefix.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.as_ref() == key).map(|a| a.value.into_owned())
}

fn local_attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes().flatten().find(|a| local(a.key.as_ref()) == key).map(|a| a.value.into_owned())
}

fn truthy(v: Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true"))
}

/// An A1 reference: (row, column), 0-based.
fn a1(s: &str) -> Option<(u32, u32)> {
    let s = s.trim().replace('$', "");
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut col = 0u32;
    for b in letters.bytes() {
        if !b.is_ascii_alphabetic() {
            return None;
        }
        col = col * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1);
    }
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col - 1))
}

fn area(s: &str) -> Option<Area> {
    let (a, b) = s.split_once(':').unwrap_or((s, s));
    let ((r0, c0), (r1, c1)) = (a1(a)?, a1(b)?);
    Some((r0.min(r1), c0.min(c1), r0.max(r1), c0.max(c1)))
}

/// The workbook's sheets in order: name, hidden, and the path of its part.
fn xlsx_sheets(workbook: &str, rels: &str) -> std::result::Result<Vec<(String, bool, String)>, String> {
    let mut targets = HashMap::new();
    let mut reader = quick_xml::Reader::from_str(rels);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) if local(e.name().as_ref()) == "Relationship" => {
                if let (Some(id), Some(t)) = (attr(&e, "Id"), attr(&e, "Target")) {
                    let path = match t.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{t}"),
                    };
                    targets.insert(id, path);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut reader = quick_xml::Reader::from_str(workbook);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) if local(e.name().as_ref()) == "sheet" => {
                let name = attr(&e, "name").unwrap_or_default();
                let hidden = matches!(attr(&e, "state").as_deref(), Some("hidden" | "veryHidden"));
                if let Some(path) = local_attr(&e, "id").and_then(|id| targets.get(&id).cloned()) {
                    out.push((name, hidden, path));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// One XLSX sheet part: hidden rows and columns, the filter, merged regions.
fn xlsx_sheet(xml: &str, limits: Limits) -> std::result::Result<Shape, String> {
    let mut shape = Shape::default();
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut next_row = 0u32;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) => match local(e.name().as_ref()) {
                "row" => {
                    let r = attr(&e, "r").and_then(|r| r.parse::<u32>().ok()).map_or(next_row, |r| r.saturating_sub(1));
                    next_row = r + 1;
                    if truthy(attr(&e, "hidden")) {
                        limits.push(&mut shape.rows, r, r, false);
                    }
                }
                "col" if truthy(attr(&e, "hidden")) => {
                    let n = |k| attr(&e, k).and_then(|v| v.parse::<u32>().ok()).filter(|v| *v >= 1);
                    if let (Some(min), Some(max)) = (n("min"), n("max")) {
                        limits.push(&mut shape.cols, min - 1, max.max(min) - 1, true);
                    }
                }
                "sheetPr" if truthy(attr(&e, "filterMode")) => shape.filter = true,
                "filterColumn" => shape.filter = true,
                "mergeCell" => {
                    if let Some(a) = attr(&e, "ref").and_then(|r| area(&r)) {
                        shape.merged.push(a);
                        if shape.merged.len() > MAX_MERGES {
                            return Err(format!("больше {MAX_MERGES} объединённых ячеек"));
                        }
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(shape)
}

/// An ODS `content.xml`: each table's hidden rows and columns (`table:visibility`
/// «collapse» or «filter»), hidden tables (a table style with `table:display="false"`)
/// and merged regions (`table:number-rows-spanned`, `…-columns-spanned`).
fn ods(content: &str, limits: Limits) -> std::result::Result<HashMap<String, Shape>, String> {
    let mut out = HashMap::new();
    let mut hidden_styles = HashSet::new();
    let mut style: Option<String> = None;
    let mut reader = quick_xml::Reader::from_str(content);
    let repeat = |e: &BytesStart<'_>, key: &str| -> u32 {
        attr(e, key).and_then(|v| v.parse::<u32>().ok()).unwrap_or(1).clamp(1, 1 << 24)
    };
    let (mut sheet, mut shape) = (String::new(), Shape::default());
    let (mut row, mut col, mut column) = (0u32, 0u32, 0u32);
    let mut row_repeat = 1u32;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "style:style" => style = attr(&e, "style:name"),
                "style:table-properties" if attr(&e, "table:display").as_deref() == Some("false") => {
                    if let Some(s) = &style {
                        hidden_styles.insert(s.clone());
                    }
                }
                "table:table" => {
                    sheet = attr(&e, "table:name").unwrap_or_default();
                    shape = Shape {
                        hidden: attr(&e, "table:style-name").is_some_and(|s| hidden_styles.contains(&s)),
                        ..Shape::default()
                    };
                    (row, column) = (0, 0);
                    if empty {
                        out.insert(std::mem::take(&mut sheet), std::mem::take(&mut shape));
                    }
                }
                "table:table-column" => {
                    let n = repeat(&e, "table:number-columns-repeated");
                    if let Some(v) = attr(&e, "table:visibility").filter(|v| v != "visible") {
                        limits.push(&mut shape.cols, column, column.saturating_add(n - 1), true);
                        shape.filter |= v == "filter";
                    }
                    column = column.saturating_add(n);
                }
                "table:table-row" => {
                    row_repeat = repeat(&e, "table:number-rows-repeated");
                    col = 0;
                    if let Some(v) = attr(&e, "table:visibility").filter(|v| v != "visible") {
                        limits.push(&mut shape.rows, row, row.saturating_add(row_repeat - 1), false);
                        shape.filter |= v == "filter";
                    }
                    if empty {
                        row = row.saturating_add(row_repeat);
                    }
                }
                "table:table-cell" | "table:covered-table-cell" => {
                    let n = repeat(&e, "table:number-columns-repeated");
                    let (down, across) =
                        (repeat(&e, "table:number-rows-spanned"), repeat(&e, "table:number-columns-spanned"));
                    if (down > 1 || across > 1) && row < limits.rows && col < limits.cols {
                        shape.merged.push((row, col, row.saturating_add(down - 1), col.saturating_add(across - 1)));
                        if shape.merged.len() > MAX_MERGES {
                            return Err(format!("больше {MAX_MERGES} объединённых ячеек"));
                        }
                    }
                    col = col.saturating_add(n);
                }
                _ => {}
            },
            Event::End(e) => match e.name().as_ref() {
                "table:table-row" => row = row.saturating_add(row_repeat),
                "table:table" => {
                    out.insert(std::mem::take(&mut sheet), std::mem::take(&mut shape));
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    check_merges(&out)?;
    Ok(out)
}

/// BIFF8 record types read here.
mod biff {
    pub const BOF: u16 = 0x0809;
    pub const EOF: u16 = 0x000A;
    pub const BOUNDSHEET: u16 = 0x0085;
    pub const ROW: u16 = 0x0208;
    pub const COLINFO: u16 = 0x007D;
    pub const FILTERMODE: u16 = 0x009B;
    pub const AUTOFILTER: u16 = 0x009E;
    pub const MERGECELLS: u16 = 0x00E5;
}

/// The records of a BIFF stream from `at`: (type, data), up to the substream's EOF.
fn records(stream: &[u8], mut at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done || at + 4 > stream.len() {
            return None;
        }
        let kind = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        let data = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        done = kind == biff::EOF;
        Some((kind, data))
    })
}

fn u16_at(d: &[u8], i: usize) -> Option<u32> {
    d.get(i..i + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
}

/// An XLS (BIFF8) workbook: each worksheet's hidden rows (ROW's fDyZero), hidden
/// columns (COLINFO's fHidden), filter (FILTERMODE, AUTOFILTER), merged regions
/// (MERGECELLS), and whether the sheet is hidden (BOUNDSHEET's hsState).
fn xls(bytes: &[u8], limits: Limits) -> std::result::Result<HashMap<String, Shape>, String> {
    let mut file = cfb::CompoundFile::open(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let name = ["/Workbook", "/Book"].into_iter().find(|n| file.is_stream(n)).ok_or("нет потока Workbook")?;
    let mut stream = Vec::new();
    file.open_stream(name).map_err(|e| e.to_string())?.read_to_end(&mut stream).map_err(|e| e.to_string())?;
    let mut sheets = Vec::new();
    for (kind, d) in records(&stream, 0) {
        if kind == biff::BOUNDSHEET && d.len() >= 8 {
            let at = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize;
            let (hidden, worksheet) = (d[4] & 0x03 != 0, d[5] == 0);
            let (cch, wide) = (usize::from(d[6]), d[7] & 0x01 != 0);
            let name = if wide {
                let units: Vec<u16> =
                    d[8..].chunks_exact(2).take(cch).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                String::from_utf16_lossy(&units)
            } else {
                d[8..].iter().take(cch).map(|&b| char::from(b)).collect()
            };
            if worksheet {
                sheets.push((name, hidden, at));
            }
        }
    }
    let mut out = HashMap::new();
    for (name, hidden, at) in sheets {
        let mut shape = Shape { hidden, ..Shape::default() };
        for (kind, d) in records(&stream, at).skip_while(|(k, _)| *k != biff::BOF).skip(1) {
            match kind {
                biff::ROW => {
                    if let (Some(r), Some(flags)) = (u16_at(d, 0), u16_at(d, 12)) {
                        if flags & 0x20 != 0 {
                            limits.push(&mut shape.rows, r, r, false);
                        }
                    }
                }
                biff::COLINFO => {
                    if let (Some(a), Some(b), Some(flags)) = (u16_at(d, 0), u16_at(d, 2), u16_at(d, 8)) {
                        if flags & 0x01 != 0 {
                            limits.push(&mut shape.cols, a, b.max(a), true);
                        }
                    }
                }
                biff::FILTERMODE | biff::AUTOFILTER => shape.filter = true,
                biff::MERGECELLS => {
                    let n = u16_at(d, 0).unwrap_or(0) as usize;
                    for i in 0..n {
                        let at = 2 + 8 * i;
                        if let (Some(r0), Some(r1), Some(c0), Some(c1)) =
                            (u16_at(d, at), u16_at(d, at + 2), u16_at(d, at + 4), u16_at(d, at + 6))
                        {
                            shape.merged.push((r0.min(r1), c0.min(c1), r0.max(r1), c0.max(c1)));
                        }
                    }
                    if shape.merged.len() > MAX_MERGES {
                        return Err(format!("больше {MAX_MERGES} объединённых ячеек"));
                    }
                }
                _ => {}
            }
        }
        out.insert(name, shape);
    }
    check_merges(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_references() {
        assert_eq!(a1("A1"), Some((0, 0)));
        assert_eq!(a1("$C$5"), Some((4, 2)));
        assert_eq!(a1("AA10"), Some((9, 26)));
        assert_eq!(a1("1A"), None);
        assert_eq!(area("C5:C40"), Some((4, 2, 39, 2)));
        assert_eq!(area("B2"), Some((1, 1, 1, 1)));
    }

    #[test]
    fn xlsx_sheet_xml() {
        let xml = r#"<worksheet><sheetPr filterMode="1"/><cols><col min="2" max="3" hidden="1"/><col min="4" max="4"/></cols>
            <sheetData><row r="1"/><row r="5" hidden="1"/><row hidden="true"/></sheetData>
            <autoFilter ref="A1:F9"><filterColumn colId="1"/></autoFilter><mergeCells><mergeCell ref="C5:C40"/></mergeCells></worksheet>"#;
        let s = xlsx_sheet(xml, Limits { rows: 100, cols: 10 }).unwrap();
        assert_eq!(s.rows, vec![(4, 4), (5, 5)]);
        assert_eq!(s.cols, vec![(1, 2)]);
        assert!(s.filter);
        assert_eq!(s.merged, vec![(4, 2, 39, 2)]);
        let capped = xlsx_sheet(xml, Limits { rows: 5, cols: 2 }).unwrap();
        assert_eq!((capped.rows, capped.cols), (vec![(4, 4)], vec![(1, 1)]));
    }

    #[test]
    fn ods_content() {
        let xml = r#"<office:document-content><office:automatic-styles>
            <style:style style:name="ta2" style:family="table"><style:table-properties table:display="false"/></style:style>
            </office:automatic-styles><office:body><office:spreadsheet>
            <table:table table:name="Видимый"><table:table-column table:number-columns-repeated="2"/><table:table-column table:visibility="collapse"/>
            <table:table-row><table:table-cell table:number-rows-spanned="3"><text:p>МР</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/></table:table-row>
            <table:table-row table:number-rows-repeated="2" table:visibility="filter"><table:covered-table-cell/></table:table-row>
            <table:table-row table:visibility="collapse"/>
            </table:table><table:table table:name="Скрытый" table:style-name="ta2"/></office:spreadsheet></office:body></office:document-content>"#;
        let shapes = ods(xml, Limits { rows: 100, cols: 10 }).unwrap();
        let s = &shapes["Видимый"];
        assert_eq!(s.cols, vec![(2, 2)]);
        assert_eq!(s.rows, vec![(1, 2), (3, 3)]);
        assert!(s.filter && !s.hidden);
        assert_eq!(s.merged, vec![(0, 0, 2, 0)]);
        assert!(shapes["Скрытый"].hidden);
    }
}
