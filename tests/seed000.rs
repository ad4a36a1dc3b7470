//! The ten 2021–22 cases of seed 000 load and show as the seed's tables print them.
//! The expected rows below are copied from the seed's tables (not from this program).

mod common;
use common::*;

use serde_json::Value;

/// (program, parent code, child codes, case №, start, close/exit, weak sides in, out,
/// the seed's «динамика» column, monitoring date).
type Row = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
    u64,
    u64,
    i64,
    Option<&'static str>,
);

const SEED_ROWS: [Row; 10] = [
    ("МР", "ИЗ", &["С24"], "17/2021_ДД", "2021-06-18", "2022-09-18", 20, 10, 10, None),
    ("МР", "С29", &["С32"], "26/2021_ДД", "2021-11-02", "2022-11-02", 26, 10, 16, None),
    ("МР", "С33", &["С34", "Т8", "Т9", "С35"], "27/2021_ДД", "2021-11-11", "2022-05-26", 25, 10, 15, None),
    ("МР", "Д25", &["Д28"], "29/2021_ДД", "2021-09-19", "2022-11-19", 38, 10, 28, None),
    ("МР", "П25", &["В4", "П26", "П27", "П28"], "18/2021_ДД", "2021-06-15", "2022-06-30", 41, 10, 31, None),
    ("КЦ", "319", &["320"], "1", "2021-08-17", "2021-09-20", 12, 11, 1, Some("2022-03-30")),
    ("КЦ", "М35", &["Е6"], "2", "2021-09-30", "2022-03-08", 10, 9, 1, Some("2022-09-08")),
    ("КЦ", "С36", &["С37"], "3", "2021-10-04", "2022-01-24", 13, 12, 1, Some("2022-07-24")),
    ("КЦ", "М37", &["М36"], "4", "2021-11-03", "2022-03-08", 14, 10, 4, Some("2022-09-08")),
    ("КЦ", "С38", &["С39"], "5", "2021-11-18", "2021-12-20", 12, 11, 1, Some("2022-06-20")),
];

fn load() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = new_ledger();
    let input = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/replay/seed000-efo/events.jsonl")).unwrap();
    let r = run(&dir, &["append"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (tmp, dir)
}

#[test]
fn the_ten_cases_of_seed_000_show_as_in_the_seed() {
    let (_tmp, dir) = load();
    let r = run(&dir, &["cases", "--json", "--on", "2022-12-31"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cases: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(cases.len(), 10);
    for (program, family, children, case, start, close, w_in, w_out, dynamics, monitoring) in SEED_ROWS {
        // The seed's own arithmetic: «динамика» = in − out in every row.
        assert_eq!(w_in as i64 - w_out as i64, dynamics, "seed row {case}");
        let s = cases.iter().find(|c| c["case"] == case).unwrap_or_else(|| panic!("case {case} missing"));
        assert_eq!(s["program"], program, "{case}");
        assert_eq!(s["family"], family, "{case}");
        let codes: Vec<&str> = s["children"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
        assert_eq!(codes, children, "{case}");
        assert_eq!(s["opened_on"], start, "{case}");
        assert_eq!(s["closed_on"], close, "{case}");
        assert_eq!(s["status"], "closed", "{case}");
        assert_eq!(s["efo"]["entry"]["weak_sides"], w_in, "{case}");
        assert_eq!(s["efo"]["exit"]["weak_sides"], w_out, "{case}");
        if program == "КЦ" {
            assert_eq!(s["shelter"]["admitted_on"], start, "{case}");
            assert_eq!(s["shelter"]["left_on"], close, "{case}");
            assert_eq!(s["shelter"]["extensions"], 0, "{case}: продление is empty in the seed");
            assert_eq!(s["shelter"]["in_shelter"], false, "{case}");
            assert_eq!(s["follow_ups"][0]["on"], monitoring.unwrap(), "{case}");
        } else {
            assert_eq!(s["shelter"]["stays"], 0, "{case}");
        }
    }
    // Days in the crisis centre, by hand: case 1 from 17.08 through 19.09.2021 =
    // 15 (Aug 17–31) + 19 = 34; case 5 from 18.11 through 19.12.2021 = 13 + 19 = 32.
    let days = |case: &str| cases.iter().find(|c| c["case"] == case).unwrap()["shelter"]["days"].clone();
    assert_eq!(days("1"), 34);
    assert_eq!(days("5"), 32);
}

#[test]
fn as_of_a_day_inside_the_cases() {
    let (_tmp, dir) = load();
    // On 2021-12-31: every МР case is open; КЦ case 5 has left (20.12.2021); cases 2–4
    // are still in the crisis centre.
    let r = run(&dir, &["cases", "--json", "--on", "2021-12-31"], b"");
    let cases: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(cases.len(), 10);
    let get = |case: &str| cases.iter().find(|c| c["case"] == case).unwrap().clone();
    assert_eq!(get("17/2021_ДД")["status"], "open");
    assert_eq!(get("17/2021_ДД")["efo"]["exit"], Value::Null);
    assert_eq!(get("5")["status"], "closed");
    assert_eq!(get("2")["shelter"]["in_shelter"], true);
    // Case 2 in the crisis centre from 30.09 through 31.12.2021: 1 + 31 + 30 + 31 = 93.
    assert_eq!(get("2")["shelter"]["days"], 93);
    // Before the first case opened, there are none.
    let r = run(&dir, &["cases", "--json", "--on", "2021-06-14"], b"");
    assert_eq!(serde_json::from_str::<Vec<Value>>(&r.stdout).unwrap().len(), 0);
}

#[test]
fn case_show_prints_the_seed_row_in_russian() {
    let (_tmp, dir) = load();
    let r = run(&dir, &["case", "show", "27/2021_ДД", "--on", "2022-12-31"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for words in [
        "отдел МР",
        "семья С33",
        "закрыт 26.05.2022",
        "Открыт:       11.11.2021",
        "вход: слабых сторон 25",
        "выход: слабых сторон 10",
        "динамика вход→выход: 15",
        "Т8",
        "С35",
    ] {
        assert!(r.stdout.contains(words), "{words:?} missing in:\n{}", r.stdout);
    }
    let r = run(&dir, &["case", "show", "99/2021"], b"");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("случай 99/2021 не найден"));
}

fn ru(d: &str) -> String {
    let p: Vec<&str> = d.split('-').collect();
    format!("{}.{}.{}", p[2], p[1], p[0])
}

/// The two tables of seed 000 come out of the ledger row for row (as CSV for
/// Russian-locale Excel), compared as sets of rows: the seed lists them in no order
/// of date or number, the ledger in the order the cases opened.
#[test]
fn the_seed_000_tables_row_for_row() {
    let (tmp, dir) = load();
    let period = ["--from", "2021-06-01", "--to", "2022-12-31"];
    let csv = |args: &[&str], name: &str| -> Vec<Vec<String>> {
        let file = tmp.path().join(name);
        let mut all = args.to_vec();
        all.extend(["--out", file.to_str().unwrap()]);
        let r = run(&dir, &all, b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with('\u{feff}'), "UTF-8 with BOM for Excel");
        text.trim_start_matches('\u{feff}').lines().map(|l| l.split(';').map(String::from).collect()).collect()
    };
    let mut args = vec!["table", "efo-dynamics"];
    args.extend(period);
    args.extend(["--program", "МР"]);
    let efo = csv(&args, "efo.csv");
    assert_eq!(efo[0][4], "№ дела");
    let mut got: Vec<Vec<String>> = efo[1..].iter().map(|r| r[1..].to_vec()).collect();
    let mut want: Vec<Vec<String>> = SEED_ROWS
        .iter()
        .filter(|r| r.0 == "МР")
        .map(|(p, f, kids, case, start, close, w_in, w_out, dynamics, _)| {
            vec![
                p.to_string(),
                f.to_string(),
                kids.join(", "),
                case.to_string(),
                ru(start),
                ru(close),
                w_in.to_string(),
                w_out.to_string(),
                dynamics.to_string(),
            ]
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    let mut args = vec!["table", "shelter"];
    args.extend(period);
    let kc = csv(&args, "kc.csv");
    assert_eq!(kc[0][6], "продление");
    let mut got: Vec<Vec<String>> = kc[1..].iter().map(|r| r[1..].to_vec()).collect();
    let mut want: Vec<Vec<String>> = SEED_ROWS
        .iter()
        .filter(|r| r.0 == "КЦ")
        .map(|(p, f, kids, case, start, close, w_in, w_out, dynamics, mon)| {
            vec![
                p.to_string(),
                f.to_string(),
                kids.join(", "),
                case.to_string(),
                ru(start),
                String::new(),
                ru(close),
                ru(mon.unwrap()),
                // The replay records every monitoring as `stable: true` (its README).
                "да".to_string(),
                w_in.to_string(),
                w_out.to_string(),
                dynamics.to_string(),
            ]
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn the_xlsx_opens_with_russian_headers_dates_as_dates() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let (tmp, dir) = load();
    // The organisation's name, as an administrator keeps it (`init --organisation`).
    std::fs::write(dir.join("organisation"), "АНО «Тестовый центр» & Co\n").unwrap();
    let file = tmp.path().join("shelter.xlsx");
    let r = run(
        &dir,
        &["table", "shelter", "--from", "2021-06-01", "--to", "2022-12-31", "--out", file.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut book: Xlsx<_> = open_workbook(&file).expect("a readable workbook");
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 6, "header and five КЦ cases");
    assert_eq!(rows[0][4], Data::String("№ дела".into()));
    assert_eq!(rows[0][7], Data::String("дата выхода из КЦ, закрытие".into()));
    // The first case (by opening): 319 / 320, case 1, 17.08.2021 → 20.09.2021, 12 → 11.
    let first = rows[1];
    assert_eq!(first[2], Data::String("319".into()));
    assert_eq!(first[4], Data::String("1".into()));
    let serial = |d: &str| {
        (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
            - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap())
        .num_days() as f64
    };
    match &first[5] {
        Data::DateTime(x) => assert_eq!(x.as_f64(), serial("2021-08-17")),
        other => panic!("a date cell, not {other:?}"),
    }
    assert!(matches!(first[6], Data::Empty), "no продление");
    assert_eq!(rows[0][9], Data::String("положение устойчиво (да/нет)".into()));
    assert_eq!(first[9], Data::String("да".into()));
    assert_eq!(first[10], Data::Float(12.0));
    assert_eq!(first[12], Data::Float(1.0));

    // Print-ready: landscape A4, one page wide, the header row repeated on every page,
    // the title with its period in the page header; a sheet name that ends at a word.
    let names = book.sheet_names();
    assert_eq!(names, ["Кризисный центр"], "«Кризисный центр, 01.06.2021–31.12.2022» cut at a whole word");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    let sheet = read("xl/worksheets/sheet1.xml");
    assert!(sheet.contains("orientation=\"landscape\"") && sheet.contains("paperSize=\"9\""), "{sheet}");
    assert!(sheet.contains("fitToPage=\"1\"") && sheet.contains("fitToHeight=\"0\""), "{sheet}");
    assert!(sheet.contains("Кризисный центр, 01.06.2021–31.12.2022"), "the title in the page header");
    assert!(sheet.contains("по всем записям реестра на "), "the cut under the title: {sheet}");
    assert!(sheet.contains("АНО «Тестовый центр» &amp;&amp; Co · по всем"), "the organisation before the cut: {sheet}");
    let verified: serde_json::Value =
        serde_json::from_str(run(&dir, &["--json", "verify"], b"").stdout.trim()).unwrap();
    let seq = verified["seq"].as_u64().expect("verify --json names the head's seq");
    assert!(seq < 1000, "a number without thousands' spaces here");
    assert!(sheet.contains(&format!("последнее событие № {seq}")), "the ledger's last event ({seq}): {sheet}");
    let workbook = read("xl/workbook.xml");
    assert!(workbook.contains("_xlnm.Print_Titles") && workbook.contains("$1:$1"), "{workbook}");
}

#[test]
fn tables_refuse_unknown_names_and_formats() {
    let (tmp, dir) = load();
    let out = tmp.path().join("x.xlsx");
    let r = run(&dir, &["table", "budget", "--year", "2021", "--out", out.to_str().unwrap()], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown table \"budget\""));
    let r =
        run(&dir, &["table", "shelter", "--year", "2021", "--out", tmp.path().join("x.pdf").to_str().unwrap()], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(".xlsx или .csv"));
}

#[test]
fn the_monitoring_table_counts_by_month() {
    let (tmp, dir) = load();
    let file = tmp.path().join("m.csv");
    let r = run(
        &dir,
        &["table", "monitoring", "--from", "2021-08-01", "--to", "2021-09-30", "--out", file.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    // By hand from the seed's dates. August: КЦ case 1 opens 17.08 (1 opened, none
    // closed), in the crisis centre 17–31.08 = 15 days. September: 29/2021_ДД opens
    // 19.09 and КЦ case 2 on 30.09 (2 opened), КЦ case 1 leaves and closes 20.09
    // (1 closed); days: case 1 on 1–19.09 = 19, case 2 on 30.09 = 1, total 20.
    // No signals, aid or services in the seed.
    assert_eq!(rows, ["08.2021;0;0;0;1;0;0;0,00;0;15", "09.2021;0;0;0;2;1;0;0,00;0;20"]);
}

#[test]
fn init_keeps_the_organisations_name_and_refuses_a_bad_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let r = run(&dir, &["init", "--organisation", "АНО «Мама рядом»\nвторая строка"], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--organisation") && r.stderr.trim().lines().count() == 1, "{}", r.stderr);
    assert!(!dir.exists(), "nothing written");
    let r = run(&dir, &["init", "--organisation", "  АНО «Мама рядом»  "], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("organisation")).unwrap(), "АНО «Мама рядом»\n");
}

/// `table NAME --template`: the headers of `table NAME`, date columns formatted and
/// checked, the outcome as a drop-down list of the journal's words (SPEC §17).
#[test]
fn templates_have_the_tables_headers_and_drop_down_lists() {
    use calamine::{open_workbook, Reader, Xlsx};
    let (tmp, dir) = load();
    let headers = |file: &std::path::Path| -> Vec<String> {
        let mut book: Xlsx<_> = open_workbook(file).unwrap();
        let range = book.worksheet_range_at(0).unwrap().unwrap();
        range.rows().next().unwrap().iter().map(|c| c.to_string()).collect()
    };
    for name in ["contracts", "efo-dynamics", "shelter"] {
        let table = tmp.path().join(format!("{name}.xlsx"));
        let r = run(&dir, &["table", name, "--year", "2021", "--out", table.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        let template = tmp.path().join(format!("{name}-template.xlsx"));
        let r = run(&dir, &["table", name, "--template", "--out", template.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(headers(&template), headers(&table), "{name}: the same headers");
        let mut book: Xlsx<_> = open_workbook(&template).unwrap();
        assert_eq!(book.worksheet_range_at(0).unwrap().unwrap().rows().count(), 1, "{name}: nothing but headers");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&template).unwrap()).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
        assert!(sheet.contains("type=\"date\""), "{name}: dates are checked");
        if name == "contracts" {
            let list =
                "\"ТЖС стабилизирована,договор расторгнут семьёй,договор расторгнут НКО,передан в др. организацию\"";
            assert!(sheet.contains("type=\"list\"") && sheet.contains(list), "{sheet}");
        } else {
            assert!(sheet.contains("type=\"whole\""), "{name}: weak sides are whole numbers");
        }
    }
    let out = tmp.path().join("m.xlsx");
    let r = run(&dir, &["table", "monitoring", "--template", "--out", out.to_str().unwrap()], b"");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("шаблоны для заполнения есть у таблиц `contracts`, `efo-dynamics`, `shelter`"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}
