//! Faithful import (issue 27): tables kept the way people keep them never become events
//! that misstate them without a word. One test per class of file; each asserts the
//! exact events written (as the test's own rows define them) or the exact refusal,
//! and that nothing is written on refusal.
//!
//! The XLS and ODS workbooks in `tests/fixtures/import/` were made by LibreOffice from
//! the XLSX [`kept_shelter_book`] writes (`cargo test --release --test import_faithful
//! -- --ignored` makes them again where LibreOffice is installed).

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use rust_xlsxwriter::{Format, FormatAlign, Workbook};
use serde_json::Value;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// An event as compared here: type, case, day, and the data members that matter.
type Ev = (String, String, String, String);

fn written(dir: &Path, from: u64) -> BTreeSet<Ev> {
    events(dir)
        .into_iter()
        .filter(|e| e["seq"].as_u64().unwrap() > from)
        .map(|e| {
            let d = &e["data"];
            let detail = match e["type"].as_str().unwrap() {
                "case_opened" => format!("{} {} {}", d["family"], d["program"], d["children"]),
                "shelter_extended" => d["until"].to_string(),
                "case_closed" => d["outcome"].to_string(),
                "follow_up_done" => format!("{} {}", d["months"], d["stable"]),
                "efo_scored" => format!("{} {}", d["stage"], d["weak_total"]),
                "event_amended" => d["target"].to_string(),
                _ => String::new(),
            };
            (
                e["type"].as_str().unwrap().to_string(),
                d["case"].as_str().unwrap_or("").to_string(),
                e["occurred_on"].as_str().unwrap().to_string(),
                detail,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The crisis-centre table as it is kept: a title, a two-row header with «ДАТА» merged
// over «начало / продление / выхода», the department merged over its block of 32 rows,
// a row hidden as «не считать», a hidden notes column, a hidden draft sheet.

/// One row of the kept crisis-centre table.
struct Stay {
    case: String,
    family: String,
    child: String,
    start: NaiveDate,
    until: Option<NaiveDate>,
    exit: NaiveDate,
    monitoring: NaiveDate,
    stable: bool,
}

const ROWS: usize = 32;
/// The row hidden as «не считать» (0-based among the data rows): sheet row 10.
const HIDDEN: usize = 5;

fn stays() -> Vec<Stay> {
    (0..ROWS)
        .map(|i| {
            let start = day("2021-02-01") + Days::new(i as u64);
            let until = (i % 5 == 0).then(|| start + Days::new(60));
            let exit = start + Days::new(if until.is_some() { 90 } else { 30 });
            Stay {
                case: format!("{}/2021_КЦ", i + 1),
                family: format!("Ф-{}", 500 + i),
                child: format!("Р-{}", 500 + i),
                start,
                until,
                exit,
                monitoring: exit + Days::new(183),
                stable: i % 2 == 0,
            }
        })
        .collect()
}

/// The events a row states (an empty ledger, `--outcome stabilized`).
fn stay_events(s: &Stay) -> Vec<Ev> {
    let q = |v: &str| format!("\"{v}\"");
    let mut out = vec![
        (
            "case_opened".into(),
            s.case.clone(),
            s.start.to_string(),
            format!("{} {} [{{\"code\":{}}}]", q(&s.family), q("КЦ"), q(&s.child)),
        ),
        ("shelter_admitted".into(), s.case.clone(), s.start.to_string(), String::new()),
        ("shelter_left".into(), s.case.clone(), s.exit.to_string(), String::new()),
        ("case_closed".into(), s.case.clone(), s.exit.to_string(), q("stabilized")),
        ("follow_up_done".into(), s.case.clone(), s.monitoring.to_string(), format!("6 {}", s.stable)),
    ];
    if let Some(u) = s.until {
        out.push(("shelter_extended".into(), s.case.clone(), s.start.to_string(), q(&u.to_string())));
    }
    out
}

fn kept_shelter_book(path: &Path) {
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("dd.mm.yyyy");
    let center = Format::new().set_align(FormatAlign::Center).set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name("КЦ 2021").unwrap();
    sheet.merge_range(0, 0, 0, 9, "Кризисный центр: проживание семей, 2021 год", &center).unwrap();
    for (c, h) in ["№", "отдел", "шифр род.", "шифр реб.", "№ дела"].into_iter().enumerate()
    {
        sheet.merge_range(2, c as u16, 3, c as u16, h, &center).unwrap();
    }
    sheet.merge_range(2, 5, 2, 7, "ДАТА", &center).unwrap();
    for (c, h) in [(5, "начало"), (6, "продление"), (7, "выхода")] {
        sheet.write_string(3, c, h).unwrap();
    }
    sheet.merge_range(2, 8, 3, 8, "мониторинг через 6 месяцев", &center).unwrap();
    sheet.merge_range(2, 9, 3, 9, "положение устойчиво", &center).unwrap();
    sheet.write_string(3, 10, "примечание").unwrap();
    // The department over its whole block of rows.
    sheet.merge_range(4, 1, 4 + ROWS as u32 - 1, 1, "КЦ", &center).unwrap();
    for (i, s) in stays().iter().enumerate() {
        let r = 4 + i as u32;
        sheet.write_number(r, 0, (i + 1) as f64).unwrap();
        sheet.write_string(r, 2, &s.family).unwrap();
        sheet.write_string(r, 3, &s.child).unwrap();
        sheet.write_string(r, 4, &s.case).unwrap();
        let dt = |d: NaiveDate| {
            rust_xlsxwriter::ExcelDateTime::from_ymd(d.year_ce().1 as u16, d.month0() as u8 + 1, d.day0() as u8 + 1)
                .unwrap()
        };
        sheet.write_datetime_with_format(r, 5, dt(s.start), &date).unwrap();
        if let Some(u) = s.until {
            sheet.write_datetime_with_format(r, 6, dt(u), &date).unwrap();
        }
        sheet.write_datetime_with_format(r, 7, dt(s.exit), &date).unwrap();
        sheet.write_datetime_with_format(r, 8, dt(s.monitoring), &date).unwrap();
        sheet.write_string(r, 9, if s.stable { "да" } else { "нет" }).unwrap();
        if i == HIDDEN {
            sheet.write_string(r, 10, "не считать: семья не заселялась").unwrap();
            sheet.set_row_hidden(r).unwrap();
        }
    }
    sheet.set_column_hidden(10).unwrap();
    // A hidden draft sheet with the table's header and one more case.
    let draft = book.add_worksheet();
    draft.set_name("черновик").unwrap();
    for (c, h) in
        ["№ дела", "отдел", "шифр род.", "дата начала случая", "дата выхода из КЦ, закрытие"].into_iter().enumerate()
    {
        draft.write_string(0, c as u16, h).unwrap();
    }
    for (c, v) in ["99/2021_КЦ", "КЦ", "Ф-599", "01.03.2021", ""].into_iter().enumerate() {
        draft.write_string(1, c as u16, v).unwrap();
    }
    draft.set_hidden(true);
    book.save(path).unwrap();
}

use chrono::Datelike;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(name)
}

/// The refusal a workbook with hidden parts gets, the events each choice writes.
fn hidden_parts_and_merged_cells(file: &Path, hidden_column: bool) {
    let (_t, dir) = new_ledger();
    let r = import(&dir, "shelter", file, &["--outcome", "stabilized"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let column = if hidden_column { "; скрыт столбец K" } else { "" };
    assert!(
        r.stderr.contains(&format!(
            "Лист «КЦ 2021»: скрыта строка 10{column} — и в скрытом есть данные; выберите, читать ли скрытое: пропустить (--hidden skip) или читать как видимое (--hidden include)"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Лист «черновик»: лист скрыт — и в скрытом есть данные"), "{}", r.stderr);
    assert_eq!(head(&dir), 0, "nothing written");

    let all = stays();
    let want = |skip: bool| -> BTreeSet<Ev> {
        all.iter().enumerate().filter(|(i, _)| !(skip && *i == HIDDEN)).flat_map(|(_, s)| stay_events(s)).collect()
    };
    let r = import(&dir, "shelter", file, &["--outcome", "stabilized", "--hidden", "skip"]);
    ok(&r, "--hidden skip");
    assert!(r.stdout.contains(&format!("Лист «КЦ 2021» (кризисный центр): {} строка;", ROWS - 1)), "{}", r.stdout);
    assert!(r.stdout.contains("Не прочитано скрытое: лист «КЦ 2021» — скрыта строка 10"), "{}", r.stdout);
    assert_eq!(written(&dir, 0), want(true), "every visible row, the department read on each, «продление» read");

    let (_t2, dir) = new_ledger();
    let r = import(&dir, "shelter", file, &["--outcome", "stabilized", "--hidden", "include"]);
    ok(&r, "--hidden include");
    let mut with_hidden = want(false);
    with_hidden.insert(("case_opened".into(), "99/2021_КЦ".into(), "2021-03-01".into(), "\"Ф-599\" \"КЦ\" []".into()));
    with_hidden.insert(("shelter_admitted".into(), "99/2021_КЦ".into(), "2021-03-01".into(), String::new()));
    assert_eq!(written(&dir, 0), with_hidden, "the hidden row and the hidden sheet read as seen");
}

#[test]
fn xlsx_hidden_rows_columns_sheets_merged_headers_and_department_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("КЦ 2021.xlsx");
    kept_shelter_book(&file);
    hidden_parts_and_merged_cells(&file, true);
}

#[test]
fn xls_from_libreoffice_hidden_rows_columns_sheets_and_merged_cells() {
    hidden_parts_and_merged_cells(&fixture("kc-2021.xls"), true);
}

#[test]
fn ods_from_libreoffice_hidden_rows_columns_sheets_and_merged_cells() {
    hidden_parts_and_merged_cells(&fixture("kc-2021.ods"), true);
}

/// Makes the XLS and ODS fixtures from the XLSX, with LibreOffice.
#[test]
#[ignore]
fn make_the_libreoffice_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let xlsx = tmp.path().join("kc-2021.xlsx");
    kept_shelter_book(&xlsx);
    let out = fixture("");
    for (format, ext) in [("xls:MS Excel 97", "xls"), ("ods", "ods")] {
        let status = std::process::Command::new("soffice")
            .args(["--headless", "--convert-to", format, "--outdir"])
            .arg(tmp.path())
            .arg(&xlsx)
            .status()
            .expect("LibreOffice's soffice");
        assert!(status.success());
        std::fs::copy(tmp.path().join(format!("kc-2021.{ext}")), out.join(format!("kc-2021.{ext}"))).unwrap();
    }
}

/// A filter on: the rows it hides are named, and read only as the person says.
#[test]
fn an_active_filter_hides_rows_that_are_named_until_the_person_chooses() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ЕФО.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("МР").unwrap();
    let header = [
        "№ дела",
        "отдел",
        "шифр род.",
        "дата начала случая",
        "дата закрытия",
        "число слабых сторон, вход",
        "число слабых сторон, выход",
    ];
    for (c, h) in header.into_iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    let rows = [
        ["1/2022_МР", "МР", "Ф-701", "10.01.2022", "", "20", ""],
        ["2/2022_МР", "МП", "Ф-702", "11.01.2022", "", "18", ""],
        ["3/2022_МР", "МР", "Ф-703", "12.01.2022", "", "25", ""],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
            }
        }
    }
    sheet.autofilter(0, 0, 3, 6).unwrap();
    sheet.filter_column(1, &rust_xlsxwriter::FilterCondition::new().add_list_filter("МР")).unwrap();
    book.save(&file).unwrap();
    let (_t, dir) = new_ledger();
    let r = import(&dir, "efo-dynamics", &file, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("Лист «МР»: скрыта строка 3 (строки скрывает и фильтр) — и в скрытом есть данные"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&dir), 0);
    let r = import(&dir, "efo-dynamics", &file, &["--hidden", "skip"]);
    ok(&r, "skip");
    let cases: BTreeSet<String> = written(&dir, 0).into_iter().map(|e| e.1).collect();
    assert_eq!(cases, ["1/2022_МР", "3/2022_МР"].map(String::from).into_iter().collect());
}

// ---------------------------------------------------------------------------------

/// A stay with an exit date ends, whether or not the closing is already in the
/// ledger (the contracts journal imported first, as the README advises).
#[test]
fn a_stay_ends_when_the_closing_is_already_known() {
    let (tmp, dir) = new_ledger();
    let journal = tmp.path().join("журнал.csv");
    std::fs::write(
        &journal,
        "№ дела;шифр семьи;отдел;дата заключения;дата закрытия;итог\n1/2021_КЦ;Ф-801;КЦ;01.03.2021;15.04.2021;ТЖС стабилизирована\n",
    )
    .unwrap();
    ok(&import(&dir, "contracts", &journal, &[]), "journal");
    let seq = head(&dir);
    let kc = tmp.path().join("кц.csv");
    std::fs::write(
        &kc,
        "№ дела;шифр род.;отдел;дата начала случая;продление;дата выхода из КЦ, закрытие\n1/2021_КЦ;Ф-801;КЦ;01.03.2021;;15.04.2021\n",
    )
    .unwrap();
    ok(&import(&dir, "shelter", &kc, &[]), "shelter");
    let want: BTreeSet<Ev> = [("shelter_admitted", "2021-03-01"), ("shelter_left", "2021-04-15")]
        .into_iter()
        .map(|(t, d)| (t.to_string(), "1/2021_КЦ".to_string(), d.to_string(), String::new()))
        .collect();
    assert_eq!(written(&dir, seq), want);
    let r = run(&dir, &["cases", "--json", "--on", "2021-12-31"], b"");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let case = v.as_array().unwrap().iter().find(|c| c["case"] == "1/2021_КЦ").unwrap().clone();
    assert_eq!(case["shelter"]["in_shelter"], false, "{case}");
    assert_eq!(case["shelter"]["days"], 45, "{case}");
}

/// A code typed on an English layout is the known case mistyped, never a second case.
#[test]
fn latin_lookalike_codes_are_refused_naming_the_letters() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("журнал.csv");
    std::fs::write(&file, "№ дела;шифр семьи;отдел;дата заключения\n14/2018_МР;Ф-14;МР;01.02.2018\n").unwrap();
    ok(&import(&dir, "contracts", &file, &[]), "first");
    let seq = head(&dir);
    std::fs::write(
        &file,
        "№ дела;шифр семьи;отдел;дата заключения\n14/2018_MP;Ф-14;МР;01.02.2018\n15/2018_МР;Ф-15;MP;01.03.2018\n",
    )
    .unwrap();
    let r = import(&dir, "contracts", &file, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains(
        "Лист «журнал», строка 2, столбец «№ дела»: шифр дела «14/2018_MP» в реестре записан как «14/2018_МР»: они различаются только написанием букв (M — латинская, P — латинская); исправьте шифр в таблице"
    ), "{}", r.stderr);
    assert!(
        r.stderr.contains("Лист «журнал», строка 3, столбец «отдел»: шифр отдела «MP» выше в таблице записан как «МР»"),
        "{}",
        r.stderr
    );
    assert_eq!(head(&dir), seq, "nothing written");

    // A child's code too: against the case's children in the ledger, and the table's.
    let efo = tmp.path().join("ефо.csv");
    let header = "№ дела;отдел;шифр род.;шифр реб.;дата начала случая;дата закрытия;число слабых сторон, вход\n";
    std::fs::write(&efo, format!("{header}20/2018_МР;МР;Ф-20;Р-1, Р-2;01.02.2018;;20\n")).unwrap();
    ok(&import(&dir, "efo-dynamics", &efo, &[]), "children");
    let seq = head(&dir);
    std::fs::write(
        &efo,
        format!("{header}20/2018_МР;МР;Ф-20;P-1, Р-2;01.02.2018;;20\n21/2018_МР;МР;Ф-21;Р-3, p-3;01.02.2018;;20\n"),
    )
    .unwrap();
    let r = import(&dir, "efo-dynamics", &efo, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        r.stderr.trim_end(),
        "Лист «ефо», строка 2, столбец «шифр реб.»: шифр ребёнка «P-1» в реестре записан как «Р-1»: они различаются только написанием букв (P — латинская); исправьте шифр в таблице\n\
         Лист «ефо», строка 3, столбец «шифр реб.»: шифр ребёнка «p-3» выше в таблице записан как «Р-3»: они различаются только написанием букв (p — латинская); исправьте шифр в таблице"
    );
    assert_eq!(head(&dir), seq, "nothing written");
}

/// A Google Sheet in US locale: the column is read month first as a whole (13 is
/// a day), never a swapped day; a column either order reads is refused until the
/// person says; Russian ways of writing a day are read.
#[test]
fn dates_read_in_one_order_per_column_and_as_people_type_them() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("us.csv");
    std::fs::write(
        &file,
        "№ дела,шифр семьи,отдел,дата заключения\n1/2018_МР,Ф-1,МР,11/12/2018\n2/2018_МР,Ф-2,МР,11/13/2018\n",
    )
    .unwrap();
    ok(&import(&dir, "contracts", &file, &[]), "month first");
    let got: Vec<String> = written(&dir, 0).into_iter().map(|e| e.2).collect();
    assert_eq!(got, vec!["2018-11-12", "2018-11-13"], "11/12/2018 is 12 November in this column");

    let (_t, dir) = new_ledger();
    std::fs::write(
        &file,
        "№ дела,шифр семьи,отдел,дата заключения\n1/2018_МР,Ф-1,МР,11/12/2018\n2/2018_МР,Ф-2,МР,03/04/2018\n",
    )
    .unwrap();
    let r = import(&dir, "contracts", &file, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Лист «us», столбец «дата заключения»: даты с косой чертой в этом столбце читаются и как день/месяц, и как месяц/день: скажите, как читать (--dates дд.мм или --dates мм/дд)"), "{}", r.stderr);
    assert_eq!(head(&dir), 0);
    ok(&import(&dir, "contracts", &file, &["--dates", "мм/дд"]), "said");
    let got: Vec<String> = written(&dir, 0).into_iter().map(|e| e.2).collect();
    assert_eq!(got, vec!["2018-11-12", "2018-03-04"], "cases 1 and 2, month first");

    let (_t, dir) = new_ledger();
    std::fs::write(
        &file,
        "№ дела,шифр семьи,отдел,дата заключения\n1/2018_МР,Ф-1,МР,13/12/2018\n2/2018_МР,Ф-2,МР,12/13/2018\n",
    )
    .unwrap();
    let r = import(&dir, "contracts", &file, &[]);
    assert!(r.stderr.contains("в столбце даты с косой чертой записаны в разном порядке"), "{}", r.stderr);

    let (_t, dir) = new_ledger();
    let ru_file = tmp.path().join("ru.csv");
    std::fs::write(
        &ru_file,
        "№ дела;шифр семьи;отдел;дата заключения;дата закрытия;итог\n\
         1/2021_МР;'Ф-1 ;МР;01.02.21;1 февраля 2022 г.;ТЖС стабилизирована\n\
         2/2021_МР;Ф-2;МР;01.02.2021 14:30;15 мая 2021;ТЖС стабилизирована\n\
         3/2021_МР;Ф-3;МР;3 мар. 2021;31 декабря 2021 года;ТЖС стабилизирована\n",
    )
    .unwrap();
    ok(&import(&dir, "contracts", &ru_file, &[]), "Russian dates");
    let got: BTreeSet<(String, String, String)> = written(&dir, 0).into_iter().map(|e| (e.0, e.1, e.2)).collect();
    let want: BTreeSet<(String, String, String)> = [
        ("case_opened", "1/2021_МР", "2021-02-01"),
        ("case_closed", "1/2021_МР", "2022-02-01"),
        ("case_opened", "2/2021_МР", "2021-02-01"),
        ("case_closed", "2/2021_МР", "2021-05-15"),
        ("case_opened", "3/2021_МР", "2021-03-03"),
        ("case_closed", "3/2021_МР", "2021-12-31"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    let family = events(&dir).into_iter().find(|e| e["data"]["case"] == "1/2021_МР").unwrap()["data"]["family"].clone();
    assert_eq!(family, "Ф-1", "Excel's leading apostrophe and the trailing space are not the code's");
}

/// «Итого» rows are skipped with a note; `20,0` is a whole number; an unreadable date
/// is refused once, not again as «итог есть, а даты закрытия нет».
#[test]
fn totals_rows_whole_numbers_and_one_message_per_cell() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("ефо.csv");
    let text = "№ дела;отдел;шифр род.;дата начала случая;дата закрытия;число слабых сторон, вход;число слабых сторон, выход\n\
                1/2021_МР;МР;Ф-1;01.02.2021;01.08.2021;20,0;10\n\
                2/2021_МР;МР;Ф-2;02.02.2021;02.08.2021;30;12\n\
                Итого;;;;;50;22\n\
                Среднее;;;;;25;11\n";
    std::fs::write(&file, text).unwrap();
    let r = import(&dir, "efo-dynamics", &file, &["--outcome", "stabilized"]);
    ok(&r, "totals");
    assert!(r.stdout.contains("Пропущены строки итогов («Итого», «Всего», «Среднее»): 2."), "{}", r.stdout);
    let efo: BTreeSet<String> =
        written(&dir, 0).into_iter().filter(|e| e.0 == "efo_scored").map(|e| format!("{} {}", e.1, e.3)).collect();
    assert_eq!(
        efo,
        ["1/2021_МР \"entry\" 20", "1/2021_МР \"exit\" 10", "2/2021_МР \"entry\" 30", "2/2021_МР \"exit\" 12"]
            .map(String::from)
            .into_iter()
            .collect()
    );

    let (_t, dir) = new_ledger();
    let journal = tmp.path().join("журнал.csv");
    std::fs::write(&journal, "№ дела;шифр семьи;отдел;дата заключения;дата закрытия;итог\n1/2021_МР;Ф-1;МР;01.02.2021;31.06.2021;ТЖС стабилизирована\n").unwrap();
    let r = import(&dir, "contracts", &journal, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim_end(),
        "Лист «журнал», строка 2, столбец «дата закрытия»: «31.06.2021» — не дата; нужна дата ДД.ММ.ГГГГ",
        "one message for the cell"
    );
}

/// The crisis-centre table's own «положение устойчиво» column; `--stable` only fills
/// the rows that leave it empty.
#[test]
fn the_monitoring_result_is_read_per_row() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("кц.csv");
    std::fs::write(
        &file,
        "№ дела;шифр род.;отдел;дата начала случая;продление;дата выхода из КЦ, закрытие;мониторинг через 6 месяцев;положение устойчиво (да/нет)\n\
         1/2021_КЦ;Ф-1;КЦ;01.02.2021;;01.03.2021;01.09.2021;нет\n\
         2/2021_КЦ;Ф-2;КЦ;02.02.2021;;02.03.2021;02.09.2021;\n",
    )
    .unwrap();
    ok(&import(&dir, "shelter", &file, &["--outcome", "stabilized", "--stable", "да"]), "stable");
    let got: BTreeSet<String> =
        written(&dir, 0).into_iter().filter(|e| e.0 == "follow_up_done").map(|e| format!("{} {}", e.1, e.3)).collect();
    assert_eq!(got, ["1/2021_КЦ 6 false", "2/2021_КЦ 6 true"].map(String::from).into_iter().collect());
}

/// `--amend`: cells that differ from the ledger become one correction per event, the
/// reason naming the file and row; without it, refused; importing again, nothing.
#[test]
fn amend_offers_the_corrections_a_table_states() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("ЕФО 2021.csv");
    let text = "№ дела;отдел;шифр род.;дата начала случая;дата закрытия;число слабых сторон, вход;число слабых сторон, выход\n\
                1/2021_МР;МР;Ф-1;01.02.2021;01.08.2021;20;10\n";
    std::fs::write(&file, text).unwrap();
    ok(&import(&dir, "efo-dynamics", &file, &["--outcome", "stabilized"]), "first");
    let seq = head(&dir);
    let before = events(&dir);
    let opened = before.iter().find(|e| e["type"] == "case_opened").unwrap().clone();
    let entry = before.iter().find(|e| e["type"] == "efo_scored" && e["data"]["stage"] == "entry").unwrap().clone();
    std::fs::write(&file, text.replace(";Ф-1;", ";Ф-11;").replace(";20;", ";22;")).unwrap();
    let r = import(&dir, "efo-dynamics", &file, &["--outcome", "stabilized"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Лист «ЕФО 2021», строка 2, столбец «шифр род.»: в реестре у дела 1/2021_МР шифр семьи «Ф-1», в таблице — «Ф-11»; импорт не меняет записанное молча"), "{}", r.stderr);
    let r = import(&dir, "efo-dynamics", &file, &["--outcome", "stabilized", "--amend", "--dry-run"]);
    ok(&r, "preview");
    assert!(r.stdout.contains("Исправление записи · 1/2021_МР · "), "{}", r.stdout);
    assert!(r.stdout.contains("шифр семьи: «Ф-1» → «Ф-11»"), "{}", r.stdout);
    assert!(r.stdout.contains("число слабых сторон: 20 → 22"), "{}", r.stdout);
    assert_eq!(head(&dir), seq, "a preview writes nothing");
    ok(&import(&dir, "efo-dynamics", &file, &["--outcome", "stabilized", "--amend"]), "amend");
    let after = events(&dir);
    assert_eq!(after.len() as u64, seq + 2, "one correction per changed event");
    let fixes: Vec<&Value> = after.iter().skip(seq as usize).collect();
    let mut want_opened = opened["data"].clone();
    want_opened["family"] = "Ф-11".into();
    let mut want_entry = entry["data"].clone();
    want_entry["weak_total"] = 22.into();
    for (fix, target, data) in [(fixes[0], &opened, want_opened), (fixes[1], &entry, want_entry)] {
        assert_eq!(fix["type"], "event_amended");
        assert_eq!(fix["data"]["target"], target["id"]);
        assert_eq!(fix["data"]["reason"], "исправлено по таблице ЕФО 2021.csv, строка 2");
        assert_eq!(fix["data"]["data"], data);
        assert!(fix["data"].get("occurred_on").is_none(), "the day did not change");
    }
    let r = import(&dir, "efo-dynamics", &file, &["--outcome", "stabilized", "--amend"]);
    ok(&r, "again");
    assert!(r.stdout.contains("добавлять нечего"), "{}", r.stdout);
    assert_eq!(head(&dir), seq + 2);
    let r = run(&dir, &["case", "show", "1/2021_МР"], b"");
    assert!(r.stdout.contains("семья Ф-11"), "{}", r.stdout);
}

/// The ledger's own rules, when a row breaks them, in Russian: dates as 31.01.2021,
/// event types in words.
#[test]
fn rule_refusals_speak_russian() {
    let (tmp, dir) = new_ledger();
    let file = tmp.path().join("кц.csv");
    std::fs::write(
        &file,
        "№ дела;шифр род.;отдел;дата начала случая;продление;дата выхода из КЦ, закрытие\n1/2021_КЦ;Ф-1;КЦ;01.03.2021;;15.02.2021\n",
    )
    .unwrap();
    let r = import(&dir, "shelter", &file, &["--outcome", "stabilized"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Лист «кц», строка 2, столбец «дата выхода из КЦ, закрытие»: Выход из КЦ (1/2021_КЦ): 15.02.2021 — раньше открытия случая 1/2021_КЦ (01.03.2021)"),
        "{}",
        r.stderr
    );
    for code in ["shelter_left", "case_closed", "2021-02-15", "2021-03-01"] {
        assert!(!r.stderr.contains(code), "no {code} in a person's message: {}", r.stderr);
    }
    assert_eq!(head(&dir), 0);
}
