//! `import-table` (SPEC §17): the hand-kept tables read back into events.
//!
//! The round trips compare what `table NAME` writes before and after; the seed test
//! compares figures with the hand-computed `replay/seed000-efo/expected.json`, and
//! the rows typed in below are copied from the seed's own tables.

mod common;
use common::*;

use std::path::Path;

use serde_json::Value;

const TABLES: [&str; 3] = ["contracts", "efo-dynamics", "shelter"];

fn table(dir: &Path, name: &str, period: &[&str], out: &Path) -> Vec<u8> {
    let mut args = vec!["table", name, "--out", out.to_str().unwrap()];
    args.extend_from_slice(period);
    ok(&run(dir, &args, b""), &format!("table {name}"));
    std::fs::read(out).unwrap()
}

/// The three tables of `from` for `period`, imported (XLSX, or CSV for the shelter
/// table) into an empty ledger in the order a practice would (the journal first, which
/// has the outcomes), give back the same three tables; importing them again appends
/// nothing.
fn round_trip(from: &Path, period: &[&str], tmp: &Path) -> usize {
    let (_t, to) = new_ledger();
    let mut rows = 0;
    let mut written: Vec<(String, Vec<u8>)> = Vec::new();
    for name in TABLES {
        let csv = table(from, name, period, &tmp.join(format!("{name}.csv")));
        rows += String::from_utf8_lossy(&csv).lines().count() - 1;
        let file = if name == "shelter" { tmp.join(format!("{name}.csv")) } else { tmp.join(format!("{name}.xlsx")) };
        table(from, name, period, &file);
        let r = import(&to, name, &file, &["--stable", "да"]);
        ok(&r, &format!("import {name}"));
        written.push((name.to_string(), csv));
    }
    for (name, csv) in &written {
        let again = table(&to, name, period, &tmp.join(format!("again-{name}.csv")));
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(csv),
            "{name} {period:?}: the same table back"
        );
    }
    let seq = head(&to);
    for name in TABLES {
        let ext = if name == "shelter" { "csv" } else { "xlsx" };
        let r = import(&to, name, &tmp.join(format!("{name}.{ext}")), &["--stable", "да"]);
        ok(&r, &format!("import {name} again"));
        assert!(r.stdout.contains("добавлять нечего"), "{}", r.stdout);
    }
    assert_eq!(head(&to), seq, "importing the same files again appends nothing");
    rows
}

#[test]
fn generated_histories_come_back_table_for_table() {
    let tmp = tempfile::tempdir().unwrap();
    for (seed, families, years, periods) in [
        (
            "3",
            "200",
            ("2019", "2021"),
            vec![vec!["--year", "2020"], vec!["--from", "2019-01-01", "--to", "2021-12-31"]],
        ),
        ("11", "150", ("2020", "2022"), vec![vec!["--quarter", "2021Q3"]]),
    ] {
        let (_t, from) = new_ledger();
        let gen = std::process::Command::new(bin())
            .args(["gen", "--families", families, "--from", years.0, "--to", years.1, "--seed", seed])
            .output()
            .unwrap();
        assert!(gen.status.success());
        ok(&run(&from, &["append"], &gen.stdout), "append");
        for period in periods {
            let rows = round_trip(&from, &period, tmp.path());
            assert!(rows > 20, "{period:?}: a real table ({rows} rows)");
        }
    }
}

#[test]
fn seed_replays_come_back_table_for_table() {
    let tmp = tempfile::tempdir().unwrap();
    for (replay, from, to) in [
        ("mama-ryadom-2019-2020", "2018-01-01", "2020-12-31"),
        ("seed000-efo", "2021-06-01", "2022-12-31"),
        ("seed004-cost", "2019-01-01", "2020-12-31"),
    ] {
        let (_t, dir) = new_ledger();
        let events = std::fs::read(format!("{}/replay/{replay}/events.jsonl", env!("CARGO_MANIFEST_DIR"))).unwrap();
        ok(&run(&dir, &["append"], &events), replay);
        let rows = round_trip(&dir, &["--from", from, "--to", to], tmp.path());
        assert!(rows >= 10, "{replay}: {rows} rows");
    }
}

/// Seed 000's two tables as the seed prints them: its header spellings («№/№», «шифр,
/// род.», «ДАТА начало случая», «дата закрытие»), the unlabelled «ЕФО» column, the
/// crisis centre's empty «продление». The only change: the КЦ rows print the case
/// number inside the date cell («1 17.08.2021»); typed here into «№ ДЕЛА».
const SEED_MR: &str = "№/№;;отдел;шифр, род.;Шифр,реб;№ ДЕЛА;ДАТА начало случая;дата закрытие;число слабых сторон, вход;число слабых сторон выход;динамика
1;ЕФО;МР;ИЗ;С24;17/2021_ДД;18.06.2021;18.09.2022;20;10;10
2;ЕФО;МР;С29;С32;26/2021_ДД;02.11.2021;02.11.2022;26;10;16
3;ЕФО;МР;С33;С34,Т8,Т9,С35;27/2021_ДД;11.11.2021;26.05.2022;25;10;15
4;ЕФО;МР;Д25;Д28;29/2021_ДД;19.09.2021;19.11.2022;38;10;28
5;ЕФО;МР;П25;В4,П26,П27,П28;18/2021_ДД;15.06.2021;30.06.2022;41;10;31
";
const SEED_KC: &str = "№/№;;ОТДЕЛ;шифр, род.;Шифр, реб;№ ДЕЛА;ДАТА начало случая;продление;дата выхода из КЦ, закрытие;мониторинг через 6 месяцев;число слабых сторон, вход;число слабых сторон, выход;динамика
1;1 ЕФО;КЦ;319;320;1;17.08.2021;;20.09.2021;30.03.2022;12;11;1
2;1 ЕФО;КЦ;М35;Е6;2;30.09.2021;;08.03.2022;08.09.2022;10;9;1
3;1 ЕФО;КЦ;С36;С37;3;04.10.2021;;24.01.2022;24.07.2022;13;12;1
4;1 ЕФО;КЦ;М37;М36;4;03.11.2021;;08.03.2022;08.09.2022;14;10;4
5;1 ЕФО;КЦ;С38;С39;5;18.11.2021;;20.12.2021;20.06.2022;12;11;1
";

#[test]
fn seed_000_tables_typed_in_give_the_seeds_efo_figures() {
    let (tmp, dir) = new_ledger();
    let mr = tmp.path().join("Комплексное сопровождение.csv");
    let kc = tmp.path().join("Кризисный центр.csv");
    std::fs::write(&mr, format!("\u{feff}{SEED_MR}")).unwrap();
    std::fs::write(&kc, format!("\u{feff}{SEED_KC}")).unwrap();
    // The seed's tables have no outcome: without one, every closing is refused.
    let r = import(&dir, "efo-dynamics", &mr, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.stderr.lines().filter(|l| l.contains("итога в таблице нет")).count(), 5, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "Лист «Комплексное сопровождение», строка 2, столбец «дата закрытие»: дело 17/2021_ДД закрыто 18.09.2022"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(head(&dir), 0, "nothing written");
    // The seed reports every case as a success (replay/seed000-efo/README.md).
    ok(&import(&dir, "efo-dynamics", &mr, &["--outcome", "ТЖС стабилизирована"]), "МР");
    ok(&import(&dir, "shelter", &kc, &["--outcome", "stabilized", "--stable", "да"]), "КЦ");
    let defs = format!("{}/replay/seed000-efo/defs.json", env!("CARGO_MANIFEST_DIR"));
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/replay/seed000-efo/expected.json", env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap();
    let mut compared = 0;
    for case in expected["figures"].as_array().unwrap() {
        // Imported events are recorded now: a cut in the past does not see them.
        if !case["known_at"].is_null() {
            continue;
        }
        let (from, to) = (case["period"]["from"].as_str().unwrap(), case["period"]["to"].as_str().unwrap());
        let r = run(&dir, &["--json", "indicators", "--defs", &defs, "--from", from, "--to", to], b"");
        ok(&r, "indicators");
        let got: Value = serde_json::from_str(&r.stdout).unwrap();
        for (id, want) in case["indicators"].as_object().unwrap() {
            let fig =
                got["indicators"].as_array().unwrap().iter().find(|f| f["id"] == *id).unwrap_or_else(|| panic!("{id}"));
            for part in ["numerator", "denominator", "ratio"] {
                if let Some(w) = want.get(part) {
                    assert_eq!(
                        fig[part].to_string().trim_matches('"'),
                        w.to_string().trim_matches('"'),
                        "{id} {part} {from}–{to}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared >= 20, "compared {compared} numbers");
}

/// What people do to a sheet — a title and an empty row above the header, an empty
/// first column, merged header cells over two rows, trailing spaces, dates typed as
/// text, an empty row between rows — is read as the clean table is.
/// отдел, шифр род., шифр реб., № дела, opened (y, m, d), дата закрытия as typed,
/// weak sides in, out.
type MessyRow =
    (&'static str, &'static str, &'static str, &'static str, (u16, u8, u8), Option<&'static str>, u32, Option<u32>);

#[test]
fn a_sheet_as_people_keep_it_reads_like_the_clean_one() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("messy.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Журнал").unwrap();
    sheet.write_string(0, 1, "Динамика ЕФО за 2021 год").unwrap();
    let plain = Format::new();
    // Row 3–4: a two-row header; «число слабых сторон» merged over «вход» / «выход»,
    // the others merged down both rows.
    for (c, h) in [
        (1, "№"),
        (2, "Отдел "),
        (3, "шифр род."),
        (4, "шифр реб."),
        (5, "№ дела"),
        (6, "Дата начала случая"),
        (7, "дата закрытия"),
    ] {
        sheet.merge_range(2, c, 3, c, h, &plain).unwrap();
    }
    sheet.merge_range(2, 8, 2, 9, "Число слабых сторон", &plain).unwrap();
    sheet.write_string(3, 8, "вход").unwrap();
    sheet.write_string(3, 9, "выход").unwrap();
    sheet.write_string(2, 10, "примечание").unwrap();
    let day = Format::new().set_num_format("dd.mm.yyyy");
    let rows: [MessyRow; 3] = [
        ("МР ", "Ф9001", "Р9001, Р9002", "1/2021_МР", (2021, 3, 1), Some("15.12.2021 "), 30, Some(12)),
        ("МР", "Ф9002", "Р9003", "2/2021_МР", (2021, 4, 2), None, 25, None),
        ("КЦ", "Ф9003", "", " 3/2021_КЦ", (2021, 5, 3), Some("2021-11-30"), 14, Some(9)),
    ];
    for (i, (program, family, children, case, opened, closed, entry, exit)) in rows.iter().enumerate() {
        let r = 4 + i as u32 * 2; // an empty row after each
        sheet.write_number(r, 1, i as f64 + 1.0).unwrap();
        sheet.write_string(r, 2, *program).unwrap();
        sheet.write_string(r, 3, *family).unwrap();
        sheet.write_string(r, 4, *children).unwrap();
        sheet.write_string(r, 5, *case).unwrap();
        let d = ExcelDateTime::from_ymd(opened.0, opened.1, opened.2).unwrap();
        sheet.write_date_with_format(r, 6, &d, &day).unwrap();
        if let Some(c) = closed {
            sheet.write_string(r, 7, *c).unwrap();
        }
        sheet.write_number(r, 8, f64::from(*entry)).unwrap();
        if let Some(x) = exit {
            sheet.write_number(r, 9, f64::from(*x)).unwrap();
        }
    }
    book.save(&path).unwrap();
    let (_t, dir) = new_ledger();
    let r = import(&dir, "efo-dynamics", &path, &["--outcome", "stabilized", "--dry-run"]);
    ok(&r, "dry run");
    assert!(r.stdout.contains("Лист «Журнал» (динамика ЕФО): 3 строки"), "{}", r.stdout);
    assert!(r.stdout.contains("Не прочитаны столбцы: «примечание»"), "{}", r.stdout);
    assert!(r.stdout.contains("будет добавлено 10 событий (№ 1–10); ничего не записано"), "{}", r.stdout);
    assert_eq!(head(&dir), 0, "a dry run writes nothing");
    let r = import(&dir, "efo-dynamics", &path, &["--outcome", "stabilized"]);
    ok(&r, "import");
    // Then the ledger's own table says what the messy one said.
    let csv = table(&dir, "efo-dynamics", &["--year", "2021"], &tmp.path().join("back.csv"));
    let csv = String::from_utf8(csv).unwrap();
    let want = "\u{feff}№;отдел;шифр род.;шифр реб.;№ дела;дата начала случая;дата закрытия;число слабых сторон, вход;число слабых сторон, выход;динамика
1;МР;Ф9001;Р9001, Р9002;1/2021_МР;01.03.2021;15.12.2021;30;12;18
2;МР;Ф9002;Р9003;2/2021_МР;02.04.2021;;25;;
3;КЦ;Ф9003;;3/2021_КЦ;03.05.2021;30.11.2021;14;9;5
";
    assert_eq!(csv, want);
}

/// Strict where meaning changes: every refusal listed with sheet, row and column;
/// nothing written; and a changed row names the event to amend.
#[test]
fn what_changes_meaning_is_refused_and_nothing_is_written() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("журнал.csv");
    let good = "№;№ дела;№ договора;шифр семьи;отдел;куратор;дата заключения;дата закрытия;итог
1;1/2021_МР;Д-1;Ф9101;МР;К-01;11.01.2021;30.06.2021;ТЖС стабилизирована
2;2/2021_МР;Д-2;Ф9102;МР;К-02;12.01.2021;;
";
    std::fs::write(&file, good).unwrap();
    ok(&import(&dir, "contracts", &file, &[]), "import");
    let seq = head(&dir);
    assert_eq!(seq, 3);
    let bad = "№;№ дела;№ договора;шифр семьи;отдел;куратор;дата заключения;дата закрытия;итог
1;1/2021_МР;Д-1;Ф9101;МР;К-01;11.01.2021;01.07.2021;ТЖС стабилизирована
2;2/2021_МР;Д-2;Ф9102;МР;К-02;12.01.2021;;
3;3/2021_МР;Д-3;Ф9103;МР;К-01;31.02.2021;;
4;4/2021_МР;Д-4;Ф9104;МР;К-01;01.03.2021;01.04.2021;всё хорошо
5;5/2021_МР;Д-5;Ф9105;МР;К-01;01.03.2021;;
6;5/2021_МР;Д-5;Ф9105;МР;К-02;01.03.2021;;
7;6/2021_МР;Д-6;Ф9106;МР;К-01;01.03.2021;01.04.2021;
8;7/2021_МР;Д-7;Ф9107;МР;К-01;01.03.2021;01.02.2021;договор расторгнут семьёй
";
    std::fs::write(&file, bad).unwrap();
    let r = import(&dir, "contracts", &file, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let lines: Vec<&str> = r.stderr.lines().collect();
    for line in &lines {
        assert_eq!(caseledger::say::slip(line), None, "SPEC §21: {line}");
    }
    let closing = events(&dir).into_iter().find(|e| e["type"] == "case_closed").unwrap();
    let expect = [
        "Лист «журнал», строка 2, столбец «дата закрытия»: в реестре у дела 1/2021_МР дата закрытия 30.06.2021, в таблице — 01.07.2021; импорт не меняет записанное молча: исправить реестр по таблице — --amend".to_string(),
        "Лист «журнал», строка 4, столбец «дата заключения»: «31.02.2021» — не дата; нужна дата ДД.ММ.ГГГГ".to_string(),
        "Лист «журнал», строка 5, столбец «итог»: «всё хорошо» — нет такого итога".to_string(),
        "Лист «журнал», строка 7, столбец «№ дела»: дело 5/2021_МР уже есть в строке 6 с другими данными".to_string(),
        "Лист «журнал», строка 8, столбец «дата закрытия»: дело 6/2021_МР закрыто 01.04.2021, но итога нет: заполните «итог»".to_string(),
    ];
    for want in &expect {
        assert!(lines.iter().any(|l| l.starts_with(want.as_str())), "missing {want}\n{}", r.stderr);
    }
    // The ledger's own rule, named by the row the event came from.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Лист «журнал», строка 9, столбец «дата закрытия»: Случай закрыт (7/2021_МР): 01.02.2021 — раньше открытия случая 7/2021_МР (01.03.2021)")),
        "{}",
        r.stderr
    );
    assert_eq!(head(&dir), seq, "nothing written");

    // With --amend, the differing closing date becomes the correction of the closing.
    let fixed: String = bad.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, fixed).unwrap();
    let r = import(&dir, "contracts", &file, &["--amend"]);
    ok(&r, "--amend");
    assert!(
        r.stdout.contains("Исправление записи · 1/2021_МР · ")
            && r.stdout.contains("дата закрытия: 30.06.2021 → 01.07.2021"),
        "{}",
        r.stdout
    );
    let all = events(&dir);
    assert_eq!(all.len() as u64, seq + 1);
    let fix = &all[seq as usize];
    assert_eq!(fix["type"], "event_amended");
    assert_eq!(fix["data"]["target"], closing["id"]);
    assert_eq!(fix["data"]["occurred_on"], "2021-07-01");
    assert_eq!(fix["data"]["reason"], "исправлено по таблице журнал.csv, строка 2");
    assert_eq!(fix["data"]["data"], closing["data"], "the closing's own data, unchanged but for the day");
}

/// A Windows-1251 CSV (what Excel on a Russian Windows saves as «CSV») reads too.
#[test]
fn a_windows_1251_csv_reads() {
    let (tmp, dir) = new_ledger();
    let text =
        "Журнал договоров\r\n\r\n№;№ дела;шифр семьи;отдел;дата заключения\r\n1;1/2022_КЦ;Ф9201;КЦ;03.02.2022\r\n";
    let (bytes, _, bad) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!bad);
    let file = tmp.path().join("cp1251.csv");
    std::fs::write(&file, &bytes).unwrap();
    let r = import(&dir, "contracts", &file, &[]);
    ok(&r, "import");
    let e = events(&dir);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["data"]["case"], "1/2022_КЦ");
    assert_eq!(e[0]["data"]["program"], "КЦ");
    assert_eq!(e[0]["occurred_on"], "2022-02-03");
}

/// A workbook of several sheets: each table is read from its own sheet (the
/// crisis-centre table has the ЕФО table's columns too), two sheets of one table are
/// refused naming both, a formula's error is refused, a stray value in the sheet's last
/// cell is refused without reading a million empty rows.
#[test]
fn workbooks_of_several_sheets_errors_and_stray_cells() {
    use rust_xlsxwriter::Workbook;
    let tmp = tempfile::tempdir().unwrap();
    let write = |path: &Path, sheets: &[(&str, &str)], extra: &dyn Fn(&mut rust_xlsxwriter::Worksheet)| {
        let mut book = Workbook::new();
        for (name, csv) in sheets {
            let sheet = book.add_worksheet();
            sheet.set_name(*name).unwrap();
            for (r, line) in csv.lines().enumerate() {
                for (c, cell) in line.split(';').enumerate() {
                    if !cell.is_empty() {
                        sheet.write_string(r as u32, c as u16, cell).unwrap();
                    }
                }
            }
            extra(sheet);
        }
        book.save(path).unwrap();
    };
    let book = tmp.path().join("ЕФО 2021.xlsx");
    write(&book, &[("МР", SEED_MR), ("КЦ", SEED_KC)], &|_| {});
    let (_t, dir) = new_ledger();
    let r = import(&dir, "shelter", &book, &["--outcome", "stabilized", "--stable", "да", "--dry-run"]);
    ok(&r, "shelter from the КЦ sheet");
    assert!(r.stdout.starts_with("Лист «КЦ» (кризисный центр): 5 строк;"), "{}", r.stdout);
    let r = import(&dir, "efo-dynamics", &book, &["--outcome", "stabilized", "--dry-run"]);
    ok(&r, "efo from the МР sheet");
    assert!(r.stdout.starts_with("Лист «МР» (динамика ЕФО): 5 строк;"), "{}", r.stdout);

    // A sheet per year is one table: a case carried over to the next year's sheet
    // with the same cells is one case; with other cells it is refused, naming both.
    let lines: Vec<&str> = SEED_MR.lines().collect();
    let y2021 = [lines[0], lines[1], lines[2], lines[3]].join("\n");
    let y2022 = [lines[0], lines[3], lines[4], lines[5]].join("\n");
    let twice = tmp.path().join("two years.xlsx");
    write(&twice, &[("2021", &y2021), ("2022", &y2022)], &|_| {});
    let r = import(&dir, "efo-dynamics", &twice, &["--outcome", "stabilized", "--dry-run"]);
    ok(&r, "a sheet per year");
    assert!(r.stdout.starts_with("Лист «2021», «2022» (динамика ЕФО): 5 строк;"), "{}", r.stdout);
    let y2022 = y2022.replace("26.05.2022", "27.05.2022");
    write(&twice, &[("2021", &y2021), ("2022", &y2022)], &|_| {});
    let r = import(&dir, "efo-dynamics", &twice, &["--outcome", "stabilized"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "Лист «2022», строка 2, столбец «№ ДЕЛА»: дело 27/2021_ДД уже есть на листе «2021», в строке 4 с другими данными"
        ),
        "{}",
        r.stderr
    );

    let stray = tmp.path().join("stray.xlsx");
    write(&stray, &[("МР", SEED_MR)], &|s| {
        s.write_string(1_048_575, 3, "x").unwrap();
        s.write_string(5, 16_383, "далеко справа: не читается").unwrap();
    });
    let r = import(&dir, "efo-dynamics", &stray, &["--outcome", "stabilized"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("Лист «МР»: больше 200000 строк"), "{}", r.stderr);

    let broken = tmp.path().join("broken.csv");
    std::fs::write(&broken, SEED_MR.replace("18.09.2022", "#ССЫЛКА!")).unwrap();
    let r = import(&dir, "efo-dynamics", &broken, &["--outcome", "stabilized"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Лист «broken», строка 2, столбец «дата закрытие»: в ячейке ошибка формулы «#ССЫЛКА!»"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&dir), 0, "nothing written by any of them");
}

/// A CSV as Excel saves a two-row header (the heading over «вход» / «выход» only above
/// the first), and a cell of two lines: the exit column is read, and rows are numbered
/// as Excel shows them. An imported event voided, then the file imported again: not
/// counted as added.
#[test]
fn csv_split_headers_multiline_cells_and_voided_rows() {
    let (tmp, dir) = new_ledger();
    let csv = "№;№ дела;шифр род.;шифр реб.;отдел;дата начала случая;дата закрытия;число слабых сторон;\n\
               ;;;;;;;вход;выход\n\
               1;1/2021_МР;Ф9301;\"Р9301,\nР9302\";МР;01.02.2021;;30;20\n\
               2;2/2021_МР;Ф9302;Р9303;МР;31.02.2021;;25;\n";
    let file = tmp.path().join("split.csv");
    std::fs::write(&file, csv).unwrap();
    let r = import(&dir, "efo-dynamics", &file, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Лист «split», строка 4, столбец «дата начала случая»: «31.02.2021» — не дата"),
        "the record after a two-line cell is Excel's row 4: {}",
        r.stderr
    );
    std::fs::write(&file, csv.replace("31.02.2021", "28.02.2021")).unwrap();
    let r = import(&dir, "efo-dynamics", &file, &[]);
    ok(&r, "import");
    assert!(r.stdout.contains("добавлено 5 событий"), "{}", r.stdout);
    let exit = events(&dir).into_iter().find(|e| e["data"]["stage"] == "exit").expect("the exit column read");
    assert_eq!(exit["data"]["weak_total"], 20);
    assert_eq!(exit["data"]["case"], "1/2021_МР");
    let codes: Vec<Value> = events(&dir)[0]["data"]["children"].as_array().unwrap().clone();
    assert_eq!(codes, [serde_json::json!({"code": "Р9301"}), serde_json::json!({"code": "Р9302"})]);
    // The exit score voided; the same file again re-sends it under the same id.
    let void = format!(
        "{{\"type\":\"event_voided\",\"occurred_on\":\"2021-03-01\",\"data\":{{\"target\":\"{}\",\"reason\":\"ошибка\"}}}}\n",
        exit["id"].as_str().unwrap()
    );
    ok(&run(&dir, &["append"], void.as_bytes()), "void");
    let seq = head(&dir);
    let r = import(&dir, "efo-dynamics", &file, &[]);
    ok(&r, "again");
    assert!(
        r.stdout.contains("добавлять нечего") && r.stdout.contains("Ещё 1 событие из таблицы в реестре уже есть"),
        "{}",
        r.stdout
    );
    assert_eq!(head(&dir), seq);
}
