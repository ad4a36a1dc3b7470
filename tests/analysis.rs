//! SPEC §18: `facts` and `export --parquet` read back with the parquet crate's own
//! reader (types, nulls, values against the ledger's JSON), and `aggregate` over
//! bundles of three organisations: totals are the sums of each organisation's own
//! `indicators --json`, a tampered bundle is refused naming it, and the facts land in
//! one dataset partitioned by origin. The SQL side (docs/sql in DuckDB) is checked by
//! tests/sql/check_duckdb.py in CI.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::Value;

/// (column name, physical type, logical type) of each column.
type Columns = Vec<(String, String, String)>;

/// A Parquet file's columns and rows.
fn read(path: &Path) -> (Columns, Vec<BTreeMap<String, Field>>) {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let cols = schema
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), format!("{:?}", c.physical_type()), format!("{:?}", c.logical_type_ref())))
        .collect();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().get_column_iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect();
    (cols, rows)
}

fn ledger_with(families: &str, seed: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = new_ledger();
    let gen = std::process::Command::new(bin())
        .args(["gen", "--families", families, "--from", "2020", "--to", "2021", "--seed", seed])
        .output()
        .unwrap();
    assert!(gen.status.success());
    let r = run(&dir, &["append"], &gen.stdout);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (tmp, dir)
}

#[test]
fn facts_are_typed_parquet_with_their_cut() {
    let (tmp, dir) = ledger_with("200", "4");
    let out = tmp.path().join("facts");
    let r = run(&dir, &["facts", "--year", "2021", "--known-at", "2021-10-01", "--out", out.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cut: Value = serde_json::from_slice(&std::fs::read(out.join("cut.json")).unwrap()).unwrap();
    assert_eq!(cut["period"], serde_json::json!({"from": "2021-01-01", "to": "2021-12-31"}));
    assert_eq!(cut["known_at"], "2021-10-01T23:59:59Z", "a day as known_at is its end");
    assert!(cut["origin"].is_null(), "no signing key, no origin");
    let (cols, rows) = read(&out.join("cases.parquet"));
    let col = |n: &str| cols.iter().find(|c| c.0 == n).unwrap_or_else(|| panic!("{n}")).clone();
    assert_eq!(col("opened_on").1, "INT32");
    assert!(col("opened_on").2.contains("Date"), "{:?}", col("opened_on"));
    assert_eq!(col("aid_value_in_period").1, "INT64");
    assert!(col("aid_value_in_period").2.contains("Decimal") && col("aid_value_in_period").2.contains("precision: 18"));
    assert_eq!(col("active_in_period").1, "BOOLEAN");
    assert_eq!(col("efo_entry").1, "INT64");
    assert!(col("outcome").2.contains("String"));
    // The rows are the cases as known at the cut, each with the ledger's own values.
    let seq = cut["ledger"]["seq"].as_u64().unwrap();
    let shown = run(&dir, &["cases", "--json", "--on", "2021-12-31", "--at-seq", &seq.to_string()], b"");
    let cases: Vec<Value> = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(rows.len(), cases.len());
    assert!(rows.len() > 50);
    let mut nulls = 0;
    for c in &cases {
        let row = rows.iter().find(|r| r["case"] == Field::Str(c["case"].as_str().unwrap().into())).unwrap();
        assert_eq!(row["family"], Field::Str(c["family"].as_str().unwrap().into()));
        let opened = chrono::NaiveDate::parse_from_str(c["opened_on"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let days = (opened - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
        assert_eq!(row["opened_on"], Field::Date(days));
        match c["closed_on"].as_str() {
            Some(d) if d <= "2021-12-31" => assert!(matches!(row["closed_on"], Field::Date(_))),
            _ => {
                assert_eq!(row["closed_on"], Field::Null);
                nulls += 1;
            }
        }
    }
    assert!(nulls > 0, "open cases have a null closing day");
    for set in ["children", "signals", "expenses"] {
        let (cols, rows) = read(&out.join(format!("{set}.parquet")));
        assert!(!cols.is_empty() && !rows.is_empty(), "{set}");
    }
}

#[test]
fn the_events_as_parquet_are_the_export() {
    let (tmp, dir) = ledger_with("60", "7");
    let file = tmp.path().join("events.parquet");
    let r = run(&dir, &["export", "--parquet", file.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (cols, rows) = read(&file);
    let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "seq",
            "id",
            "type",
            "occurred_on",
            "recorded_at",
            "actor",
            "case",
            "signal",
            "family",
            "data",
            "prev",
            "hash"
        ]
    );
    assert!(cols[4].2.contains("Timestamp"), "{:?}", cols[4]);
    let exported = events(&dir);
    assert_eq!(rows.len(), exported.len());
    for (row, e) in rows.iter().zip(&exported) {
        assert_eq!(row["seq"], Field::Long(e["seq"].as_i64().unwrap()));
        assert_eq!(row["id"], Field::Str(e["id"].as_str().unwrap().into()));
        assert_eq!(row["type"], Field::Str(e["type"].as_str().unwrap().into()));
        assert_eq!(row["hash"], Field::Str(e["hash"].as_str().unwrap().into()));
        assert_eq!(row["prev"], Field::Str(e["prev"].as_str().unwrap().into()));
        let Field::Str(data) = &row["data"] else { panic!("data is text") };
        assert_eq!(serde_json::from_str::<Value>(data).unwrap(), e["data"]);
        match e["data"]["case"].as_str() {
            Some(c) => assert_eq!(row["case"], Field::Str(c.into())),
            None => assert_eq!(row["case"], Field::Null),
        }
        let at = chrono::DateTime::parse_from_rfc3339(e["recorded_at"].as_str().unwrap()).unwrap();
        assert_eq!(row["recorded_at"], Field::TimestampMicros(at.timestamp_micros()));
    }
}

/// Three organisations, each with its own key, bundle their 2021 figures: (ledger,
/// bundle, the log's verifier key).
fn organisations(tmp: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf, String)> {
    (1..=3)
        .map(|i| {
            let dir = tmp.join(format!("org{i}"));
            assert_eq!(run(&dir, &["init"], b"").code, 0);
            let gen = std::process::Command::new(bin())
                .args(["gen", "--families", "120", "--from", "2020", "--to", "2021", "--seed", &format!("{}", 40 + i)])
                .output()
                .unwrap();
            assert_eq!(run(&dir, &["append"], &gen.stdout).code, 0);
            let r = run(&dir, &["key", "init", "--origin", &format!("ngo{i}.example/ledger")], b"");
            assert_eq!(r.code, 0, "{}", r.stderr);
            let vkey = r.stdout.trim().to_string();
            let zip = tmp.join(format!("org{i}.zip"));
            let r = run(&dir, &["report", "bundle", "--year", "2021", "--out", zip.to_str().unwrap()], b"");
            assert_eq!(r.code, 0, "{}", r.stderr);
            (dir, zip, vkey)
        })
        .collect()
}

/// `a / b` half up to four places, in integers (the test's own arithmetic).
fn ratio(a: u64, b: u64) -> String {
    let scaled = (a as u128 * 100_000 / b as u128 + 5) / 10;
    format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
}

#[test]
fn aggregate_sums_verified_bundles_and_refuses_a_tampered_one() {
    let tmp = tempfile::tempdir().unwrap();
    let orgs = organisations(tmp.path());
    let zips: Vec<&str> = orgs.iter().map(|(_, z, _)| z.to_str().unwrap()).collect();
    let json = tmp.path().join("region.json");
    let xlsx = tmp.path().join("region.xlsx");
    let facts = tmp.path().join("facts");
    let mut args = vec!["aggregate"];
    args.extend(&zips);
    args.extend(["--out", json.to_str().unwrap(), "--facts", facts.to_str().unwrap()]);
    let r = run(tmp.path(), &args, b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("Сводка за 01.01.2021–31.12.2021: 3 пакета проверены"), "{}", r.stdout);
    assert!(r.stdout.contains("Ключи журналов взяты из самих пакетов"), "{}", r.stdout);
    let agg: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // Each organisation's own figures, asked of its own ledger.
    let own: Vec<Vec<Value>> = orgs
        .iter()
        .map(|(dir, _, _)| {
            let r = run(dir, &["--json", "indicators", "--year", "2021"], b"");
            serde_json::from_str::<Value>(&r.stdout).unwrap()["indicators"].as_array().unwrap().clone()
        })
        .collect();
    let p1 = agg["indicators"].as_array().unwrap().iter().find(|t| t["id"] == "P1").unwrap();
    let (mut n, mut d) = (0, 0);
    for (i, figs) in own.iter().enumerate() {
        let mine = figs.iter().find(|f| f["id"] == "P1").unwrap();
        let row = &p1["organisations"][i];
        assert_eq!(row["origin"], format!("ngo{}.example/ledger", i + 1));
        assert_eq!((&row["numerator"], &row["denominator"]), (&mine["numerator"], &mine["denominator"]));
        n += mine["numerator"].as_u64().unwrap();
        d += mine["denominator"].as_u64().unwrap();
    }
    assert!(n > 0 && d > n);
    assert_eq!(p1["total"]["numerator"].as_u64(), Some(n));
    assert_eq!(p1["total"]["denominator"].as_u64(), Some(d));
    assert_eq!(p1["total"]["ratio"].as_str(), Some(ratio(n, d).as_str()));
    // Money sums too: the cost numerator is the organisations' expenses together.
    let cost = agg["indicators"].as_array().unwrap().iter().find(|t| t["id"] == "cost_per_family").unwrap();
    let kopecks = |v: &Value| -> i64 {
        let (r, k) = v.as_str().unwrap().split_once('.').unwrap_or((v.as_str().unwrap(), "0"));
        r.parse::<i64>().unwrap() * 100 + format!("{k:0<2}").parse::<i64>().unwrap()
    };
    let spent: i64 =
        own.iter().map(|figs| kopecks(&figs.iter().find(|f| f["id"] == "cost_per_family").unwrap()["numerator"])).sum();
    assert_eq!(kopecks(&cost["total"]["numerator"]), spent);
    // The facts, one partition per origin, each with its cut.
    for i in 1..=3 {
        let part = facts.join(format!("origin=ngo{i}.example%2Fledger"));
        let cut: Value = serde_json::from_slice(&std::fs::read(part.join("cut.json")).unwrap()).unwrap();
        assert_eq!(cut["origin"], format!("ngo{i}.example/ledger"));
        let (_, rows) = read(&part.join("cases.parquet"));
        assert!(!rows.is_empty());
    }
    // XLSX: the same table for print.
    let mut args = vec!["aggregate"];
    args.extend(&zips);
    args.extend(["--out", xlsx.to_str().unwrap()]);
    assert_eq!(run(tmp.path(), &args, b"").code, 0);
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let total = range.rows().find(|r| r[0] == "P1" && r[1].to_string().starts_with("Итого")).unwrap();
    assert_eq!(total[1].to_string(), "Итого: 3 организации");
    assert_eq!((total[2].to_string(), total[3].to_string()), (n.to_string(), d.to_string()));

    // One event of the second bundle changed: the whole aggregate is refused, naming it.
    let bad = tmp.path().join("org2-changed.zip");
    {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&orgs[1].1).unwrap()).unwrap();
        let mut w = zip::ZipWriter::new(std::fs::File::create(&bad).unwrap());
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().to_string();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
            if name == "events.jsonl" {
                let text = String::from_utf8(bytes).unwrap().replacen("\"quantity\":1", "\"quantity\":2", 1);
                bytes = text.into_bytes();
            }
            w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut w, &bytes).unwrap();
        }
        w.finish().unwrap();
    }
    let out = tmp.path().join("refused.json");
    let fresh = tmp.path().join("facts-refused");
    let (o, f) = (out.to_str().unwrap(), fresh.to_str().unwrap());
    let r = run(tmp.path(), &["aggregate", zips[0], bad.to_str().unwrap(), zips[2], "--out", o, "--facts", f], b"");
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stderr.contains(&format!("пакет {} не проходит проверку: событие №", bad.display())), "{}", r.stderr);
    assert!(!out.exists(), "nothing written");
    assert!(
        !fresh.exists() && !tmp.path().join("facts-refused.partial").exists(),
        "no facts of the verified ones either"
    );
    // The organisations' keys pinned: the same figures; a bundle whose origin is not
    // in --keys, or whose checkpoint another key signed, is refused.
    let keys = tmp.path().join("keys.txt");
    let vkeys: Vec<&str> = orgs.iter().map(|(_, _, k)| k.as_str()).collect();
    assert!(vkeys.iter().all(|k| k.starts_with("ngo")), "{vkeys:?}");
    std::fs::write(&keys, format!("# the region's organisations\n{}\n", vkeys.join("\n"))).unwrap();
    let k = keys.to_str().unwrap();
    let r = run(tmp.path(), &["aggregate", zips[0], zips[1], zips[2], "--keys", k], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Ключи журналов — из --keys"), "{}", r.stdout);
    std::fs::write(&keys, format!("{}\n{}\n", vkeys[0], vkeys[2])).unwrap();
    let r = run(tmp.path(), &["aggregate", zips[0], zips[1], zips[2], "--keys", k], b"");
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("журнал «ngo2.example/ledger» не назван в --keys"), "{}", r.stderr);
    let impostor = tmp.path().join("impostor");
    assert_eq!(run(&impostor, &["init"], b"").code, 0);
    let other = run(&impostor, &["key", "init", "--origin", "ngo2.example/ledger"], b"").stdout.trim().to_string();
    std::fs::write(&keys, format!("{}\n{other}\n{}\n", vkeys[0], vkeys[2])).unwrap();
    let r = run(tmp.path(), &["aggregate", zips[0], zips[1], zips[2], "--keys", k], b"");
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains(&format!("пакет {} не проходит проверку: подпись", zips[1])), "{}", r.stderr);
    // An earlier dataset is never mixed with a new one.
    let r = run(tmp.path(), &["aggregate", zips[0], "--facts", facts.to_str().unwrap()], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("не пуста"), "{}", r.stderr);
}

/// A child is counted by its (case, child) pair, whatever the codes hold: case `A/1`
/// with child `2` and case `A` with child `1/2` are two children, in `indicators` as in
/// SQL's `DISTINCT "case", child`.
#[test]
fn children_are_counted_by_case_and_child_whatever_the_codes_hold() {
    let (tmp, dir) = new_ledger();
    let open = |case: &str, family: &str, child: &str| {
        serde_json::json!({"type": "case_opened", "occurred_on": "2021-02-01",
            "data": {"case": case, "family": family, "program": "МР", "children": [{"code": child}]}})
        .to_string()
    };
    let events = format!("{}\n{}\n", open("A/1", "Ф1", "2"), open("A", "Ф2", "1/2"));
    let r = run(&dir, &["append"], events.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let defs = tmp.path().join("defs.json");
    std::fs::write(
        &defs,
        r#"[{"id":"kids","title":"Дети","numerator":{"count":"child","from":[{"rows":"children","where":{"fact":"active_in_period","eq":true}}]}}]"#,
    )
    .unwrap();
    let r = run(&dir, &["--json", "indicators", "--defs", defs.to_str().unwrap(), "--year", "2021"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["indicators"][0]["numerator"], 2);
}
