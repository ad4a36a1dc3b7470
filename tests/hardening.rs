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
            r.stderr.contains("data.redirected_to") && r.stderr.contains("invisible character"),
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
