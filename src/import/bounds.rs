//! A workbook read within bounds (issue 28): a spreadsheet is a zip of XML parts (XLSX,
//! ODS), and a 2 MB upload can expand to gigabytes — one inline-string cell of 2 GiB,
//! or an ODS cell repeated a hundred million times. Before calamine sees a workbook,
//! every part is inflated here into nothing, counting, up to a cap per part and for the
//! whole file (declared sizes are checked first, and a lie stops at the cap); an ODS
//! sheet's cells are counted from its repeat attributes; and a cell longer than Excel
//! holds (32 767 characters) is refused as it is read. So a bomb is refused quickly and
//! the memory a workbook costs stays bounded by what a real table can hold.

use std::io::Read;

use crate::error::{Error, Refusal, Result};

/// Rows searched for the header (a title or two and a blank line may sit above it).
pub(super) const HEADER_SEARCH_ROWS: usize = 30;
/// Rows a table may have (a practice's whole history is a few thousand).
pub const MAX_ROWS: usize = 200_000;

/// The most one part of a workbook may expand to (a 200 000-row table's sheet is well
/// under it).
pub const MAX_PART_BYTES: u64 = 128 << 20;
/// The most all the parts together may expand to.
pub const MAX_WORKBOOK_BYTES: u64 = 384 << 20;
/// The most characters a cell may hold: Excel's own limit.
pub const MAX_CELL_CHARS: usize = 32_767;
/// The most cells an ODS sheet's used area may span (calamine lays them out densely).
pub const MAX_ODS_CELLS: u64 = 5_000_000;

fn refused(name: &str, why: String) -> Error {
    Error::refused(Refusal::new(Some(format!("Файл «{name}»")), why))
}

/// Checks a workbook's bytes against the bounds above. A file that is not a zip (XLS,
/// CSV) has no parts to expand: its size is what the caller allowed.
pub fn check(name: &str, bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(());
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| refused(name, format!("не читается как таблица Excel или ODS ({e})")))?;
    let mib = |n: u64| n >> 20;
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| refused(name, format!("часть № {} не читается ({e})", i + 1)))?;
        if part.size() > MAX_PART_BYTES {
            let part_name = part.name().map(|n| n.to_string()).unwrap_or_default();
            return Err(refused(
                name,
                format!(
                    "часть «{part_name}» распаковывается в {} МиБ — больше, чем бывает у таблицы ({} МиБ)",
                    mib(part.size()),
                    mib(MAX_PART_BYTES)
                ),
            ));
        }
        declared = declared.saturating_add(part.size());
    }
    if declared > MAX_WORKBOOK_BYTES {
        return Err(refused(
            name,
            format!(
                "файл распаковывается в {} МиБ — больше, чем бывает у таблицы ({} МиБ)",
                mib(declared),
                mib(MAX_WORKBOOK_BYTES)
            ),
        ));
    }
    // Sizes can lie: every part inflated into nothing, counted.
    let mut total = 0u64;
    let mut ods = false;
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| refused(name, format!("часть № {} не читается ({e})", i + 1)))?;
        let part_name = part.name().map(|n| n.to_string()).unwrap_or_default();
        if part_name == "mimetype" {
            let mut kind = String::new();
            (&mut part).take(100).read_to_string(&mut kind).ok();
            ods = kind.trim() == "application/vnd.oasis.opendocument.spreadsheet";
            continue;
        }
        let n = std::io::copy(&mut (&mut part).take(MAX_PART_BYTES + 1), &mut std::io::sink())
            .map_err(|e| refused(name, format!("часть «{part_name}» повреждена ({e})")))?;
        if n > MAX_PART_BYTES {
            return Err(refused(
                name,
                format!(
                    "часть «{part_name}» распаковывается больше чем в {} МиБ — больше, чем бывает у таблицы",
                    mib(MAX_PART_BYTES)
                ),
            ));
        }
        total += n;
        if total > MAX_WORKBOOK_BYTES {
            return Err(refused(
                name,
                format!(
                    "файл распаковывается больше чем в {} МиБ — больше, чем бывает у таблицы",
                    mib(MAX_WORKBOOK_BYTES)
                ),
            ));
        }
    }
    if ods {
        let content =
            zip.by_name("content.xml").map_err(|e| refused(name, format!("content.xml не читается ({e})")))?;
        ods_cells(name, std::io::BufReader::new(content.take(MAX_PART_BYTES)))?;
    }
    Ok(())
}

/// The area each ODS sheet's cells with content span, counted from the repeat
/// attributes (`table:number-rows-repeated`, `table:number-columns-repeated`) as
/// calamine will lay it out: refused past [`MAX_ODS_CELLS`].
fn ods_cells(name: &str, content: impl std::io::BufRead) -> Result<()> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(content);
    let mut buf = Vec::new();
    let bad = |e: &dyn std::fmt::Display| refused(name, format!("content.xml не читается ({e})"));
    let repeat = |e: &quick_xml::events::BytesStart<'_>, attr: &str| -> u64 {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == attr)
            .and_then(|a| a.value.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let has_value =
        |e: &quick_xml::events::BytesStart<'_>| e.attributes().flatten().any(|a| a.key.as_ref() == "office:value-type");
    // Per sheet: the row the next row starts at, the current row's repeat and column,
    // a cell open with its repeat, and the used area's bounds.
    let (mut sheet, mut row, mut row_repeat, mut col) = (String::new(), 0u64, 1u64, 0u64);
    let mut open_cell: Option<(u64, u64, bool)> = None; // (first column, repeat, content)
    let mut bounds: Option<(u64, u64, u64, u64)> = None;
    let mark = |bounds: &mut Option<(u64, u64, u64, u64)>, row: u64, row_repeat: u64, col: u64, n: u64| {
        let (r0, r1, c0, c1) = (row, row + row_repeat - 1, col, col + n - 1);
        *bounds = Some(match *bounds {
            None => (r0, r1, c0, c1),
            Some((a, b, c, d)) => (a.min(r0), b.max(r1), c.min(c0), d.max(c1)),
        });
    };
    let area =
        |b: Option<(u64, u64, u64, u64)>| b.map_or(0, |(r0, r1, c0, c1)| (r1 - r0 + 1).saturating_mul(c1 - c0 + 1));
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| bad(&e))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "table:table" => {
                sheet = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "table:name")
                    .map(|a| a.value.into_owned())
                    .unwrap_or_default();
                (row, bounds) = (0, None);
            }
            Event::Start(e) if e.name().as_ref() == "table:table-row" => {
                (row_repeat, col) = (repeat(&e, "table:number-rows-repeated"), 0);
            }
            Event::Empty(e) if e.name().as_ref() == "table:table-row" => {
                row += repeat(&e, "table:number-rows-repeated");
            }
            Event::End(e) if e.name().as_ref() == "table:table-row" => row += row_repeat,
            Event::Empty(e) if matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell") => {
                let n = repeat(&e, "table:number-columns-repeated");
                if has_value(&e) {
                    mark(&mut bounds, row, row_repeat, col, n);
                }
                col += n;
            }
            Event::Start(e) if matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell") => {
                open_cell = Some((col, repeat(&e, "table:number-columns-repeated"), has_value(&e)));
            }
            Event::Text(t) if open_cell.is_some() && !t.trim().is_empty() => {
                if let Some(c) = open_cell.as_mut() {
                    c.2 = true;
                }
            }
            Event::End(e) if matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell") => {
                if let Some((c, n, content)) = open_cell.take() {
                    if content {
                        mark(&mut bounds, row, row_repeat, c, n);
                    }
                    col = c + n;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if area(bounds) > MAX_ODS_CELLS {
            return Err(refused(
                name,
                format!("лист «{sheet}» занимает больше {MAX_ODS_CELLS} ячеек — больше, чем бывает у таблицы"),
            ));
        }
        buf.clear();
    }
    Ok(())
}

/// A cell longer than Excel holds, refused naming where it is.
pub fn long_cell(sheet: &str, row: usize, col: usize, chars: usize) -> Error {
    Error::refused(Refusal::new(
        Some(format!("Лист «{sheet}», строка {}, столбец {}", row + 1, col + 1)),
        format!("в ячейке {chars} символов — больше, чем Excel хранит в одной ячейке ({MAX_CELL_CHARS})"),
    ))
}
