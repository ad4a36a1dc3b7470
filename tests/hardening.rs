//! The hardening review (issue 28), items that are not storage: text that a
//! spreadsheet would run, and free text carrying invisible or direction-changing
//! characters.

mod common;
use common::*;

/// Codes a person may type — they are only codes to the ledger — that Excel or
/// LibreOffice would run as formulas if a CSV gave them as they are (OWASP "CSV
/// injection"): every CSV table writes them inert, with Excel's text mark `'`, keeps
/// numbers as numbers, and `import-table` reads the codes back unchanged.
#[test]
fn csv_tables_never_carry_a_live_formula() {
    let (tmp, dir) = new_ledger();
    let hostile = ["=HYPERLINK(\"http://evil.example\";\"отчёт\")", "+7", "-2+3", "@SUM(1)"];
    let mut input = String::new();
    for (i, code) in hostile.iter().enumerate() {
        let case = serde_json::json!({"type": "case_opened", "occurred_on": "2021-02-01",
            "data": {"case": code, "family": format!("-Ф{i}"), "program": "МР", "children": [{"code": format!("=Р{i}")}],
                     "contract": format!("@{i}")}});
        let closed = serde_json::json!({"type": "case_closed", "occurred_on": "2021-05-01",
            "data": {"case": code, "outcome": "stabilized"}});
        input.push_str(&format!("{case}\n{closed}\n"));
    }
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = tmp.path().join("contracts.csv");
    let r = run(&dir, &["table", "contracts", "--year", "2021", "--out", csv.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = String::from_utf8(std::fs::read(&csv).unwrap()).unwrap();
    let mut cells = 0;
    for line in text.trim_start_matches('\u{feff}').lines() {
        for cell in split_csv(line) {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a live formula: {cell:?} in {line}");
            if cell.starts_with('\'') {
                cells += 1;
            }
        }
    }
    assert!(cells >= 4 * 3, "every hostile case, family and child code marked: {text}");
    assert!(text.contains("'=HYPERLINK(\"\"http://evil.example\"\";\"\"отчёт\"\")"), "{text}");
    // Days stay days, counts stay numbers.
    assert!(text.contains("01.02.2021") && !text.contains("'01.02.2021"), "{text}");
    // Read back into an empty ledger: the same codes.
    let (_t2, other) = new_ledger();
    let r = run(&other, &["import-table", "contracts", csv.to_str().unwrap(), "--json"], b"");
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let cases = run(&other, &["cases", "--json"], b"").stdout;
    let cases: serde_json::Value = serde_json::from_str(&cases).unwrap();
    let mut codes: Vec<&str> = cases.as_array().unwrap().iter().map(|c| c["case"].as_str().unwrap()).collect();
    codes.sort();
    let mut want = hostile.to_vec();
    want.sort();
    assert_eq!(codes, want);
}

/// A `;`-separated CSV line, quotes undone.
fn split_csv(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (';', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Free text — a reason, a purpose, where a family was redirected, the organisation's
/// name — refuses characters a reader cannot see or that reverse what follows them
/// (U+202E), as codes already did, naming the field; nothing is written.
#[test]
fn free_text_refuses_invisible_and_direction_changing_characters() {
    let (_tmp, dir) = new_ledger();
    let signal = r#"{"type":"signal_received","occurred_on":"2021-02-01","data":{"signal":"С-1","channel":"phone"}}"#;
    assert_eq!(run(&dir, &["append"], format!("{signal}\n").as_bytes()).code, 0);
    for (what, ch) in
        [("right-to-left override", '\u{202e}'), ("zero-width space", '\u{200b}'), ("line separator", '\u{2028}')]
    {
        let redirected = serde_json::json!({"type": "signal_resolved", "occurred_on": "2021-02-02",
            "data": {"signal": "С-1", "resolution": "redirected", "redirected_to": format!("центр {ch}gnp.exe")}});
        let r = run(&dir, &["append"], format!("{redirected}\n").as_bytes());
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("data.redirected_to") && r.stderr.contains("невидимый символ"),
            "{what}: {}",
            r.stderr
        );
        let expense = serde_json::json!({"type": "expense_recorded", "occurred_on": "2021-02-02",
            "data": {"program": "КЦ", "amount": "10", "purpose": format!("продукты{ch}")}});
        let r = run(&dir, &["append"], format!("{expense}\n").as_bytes());
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(r.stderr.contains("data.purpose"), "{what}: {}", r.stderr);
    }
    assert_eq!(run(&dir, &["log", "--json"], b"").stdout.lines().count(), 1, "nothing written");
    let t2 = tempfile::tempdir().unwrap();
    let fresh = t2.path().join("l");
    let r = run(&fresh, &["init", "--organisation", "Фонд \u{202e}помощи"], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("U+202E"), "{}", r.stderr);
    // Text with line breaks and tabs, and Cyrillic, stays allowed.
    let reason = serde_json::json!({"type": "expense_recorded", "occurred_on": "2021-02-02",
        "data": {"program": "КЦ", "amount": "10", "purpose": "продукты\tи\nпамперсы «Любимые»"}});
    assert_eq!(run(&dir, &["append"], format!("{reason}\n").as_bytes()).code, 0);
}

/// A minimal XLSX of one sheet whose XML is `sheet` (written by `fill`, so a test can
/// stream hundreds of megabytes into it), deflated; `declare` patches the sheet's
/// declared unpacked size (a zip that lies).
fn xlsx(path: &std::path::Path, fill: impl FnOnce(&mut dyn std::io::Write), declare: Option<u32>) {
    use std::io::Write;
    let file = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Договоры" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
    ];
    for (name, text) in parts {
        z.start_file(name, opts).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
    fill(&mut z);
    z.finish().unwrap();
    if let Some(size) = declare {
        let mut bytes = std::fs::read(path).unwrap();
        let mut at = 0;
        while let Some(i) = bytes[at..].windows(4).position(|w| w == b"PK\x01\x02").map(|i| at + i) {
            let n = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
            if &bytes[i + 46..i + 46 + n] == b"xl/worksheets/sheet1.xml" {
                let local = u32::from_le_bytes(bytes[i + 42..i + 46].try_into().unwrap()) as usize;
                bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
            }
            at = i + 4;
        }
        std::fs::write(path, bytes).unwrap();
    }
}

const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// One inline-string cell of `mib` MiB.
fn one_huge_cell(mib: usize) -> impl FnOnce(&mut dyn std::io::Write) {
    move |w| {
        w.write_all(SHEET_HEAD.as_bytes()).unwrap();
        w.write_all(br#"<row r="1"><c r="A1" t="inlineStr"><is><t>"#).unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..mib {
            w.write_all(&block).unwrap();
        }
        w.write_all(b"</t></is></c></row>").unwrap();
        w.write_all(SHEET_TAIL.as_bytes()).unwrap();
    }
}

/// Spreadsheet bombs (issue 28, item 1): a small XLSX whose one cell expands to 300
/// MiB — declared, and lying about its size — and an ODS whose one cell is repeated
/// over a million rows are refused quickly, naming the file; a cell longer than Excel
/// holds is refused naming its sheet, row and column. Nothing is written. (The
/// service's peak memory on a 2 GiB bomb is in BENCHMARKS.md.)
#[test]
fn spreadsheet_bombs_are_refused_before_they_are_unpacked() {
    let (tmp, dir) = new_ledger();
    let import = |file: &std::path::Path| run(&dir, &["import-table", "contracts", file.to_str().unwrap()], b"");
    let bomb = tmp.path().join("bomb.xlsx");
    xlsx(&bomb, one_huge_cell(300), None);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 3 << 20, "a small file");
    let r = import(&bomb);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("Файл «bomb.xlsx»") && r.stderr.contains("распаковывается"), "{}", r.stderr);
    let liar = tmp.path().join("liar.xlsx");
    xlsx(&liar, one_huge_cell(300), Some(1000));
    let r = import(&liar);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("Файл «liar.xlsx»"), "{}", r.stderr);

    // A cell of 40 000 characters, in a file well under every size bound.
    let long = tmp.path().join("long.xlsx");
    xlsx(
        &long,
        |w| {
            w.write_all(SHEET_HEAD.as_bytes()).unwrap();
            write!(w, r#"<row r="3"><c r="B3" t="inlineStr"><is><t>{}</t></is></c></row>"#, "я".repeat(40_000))
                .unwrap();
            w.write_all(SHEET_TAIL.as_bytes()).unwrap();
        },
        None,
    );
    let r = import(&long);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("Лист «Договоры», строка 3, столбец 2") && r.stderr.contains("40000 символов"),
        "{}",
        r.stderr
    );

    // ODS: one cell repeated over 16 384 columns and a million rows (a few hundred bytes).
    let ods = tmp.path().join("repeated.ods");
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(&ods).unwrap());
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        z.start_file("mimetype", stored).unwrap();
        z.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
        z.start_file("META-INF/manifest.xml", stored).unwrap();
        z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
        z.start_file("content.xml", stored).unwrap();
        z.write_all(r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="Договоры"><table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="string" table:number-columns-repeated="16384"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    let started = std::time::Instant::now();
    let r = import(&ods);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("лист «Договоры» занимает"), "{}", r.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "refused at once");
    assert_eq!(run(&dir, &["log", "--json"], b"").stdout, "", "nothing written");
}
