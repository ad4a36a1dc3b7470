//! Table import benchmark (issue 19): `import-table` of the three hand-kept tables,
//! each of ≥ 10,000 rows, into an empty ledger — read (calamine / CSV), compared with
//! the ledger, appended all or nothing — and the same file imported again (nothing
//! to append). Run:
//!
//! ```text
//! cargo bench --bench import
//! ```
//!
//! The source is a generated history of `CASELEDGER_BENCH_FAMILIES` families (default
//! 19,000; 2017–2024). Prints a Markdown table for BENCHMARKS.md. Not a test: nothing
//! here asserts a speed.

use std::process::Command;
use std::time::{Duration, Instant};

use caseledger::import;
use caseledger::indicators::Period;
use caseledger::ledger::{AppendOptions, Ledger};
use caseledger::project::Cut;
use caseledger::report::tables;
use chrono::NaiveDate;

fn p50(mut d: Vec<Duration>) -> String {
    d.sort();
    format!(
        "p50 {:.3} s (min {:.3}, max {:.3}; {} runs)",
        d[d.len() / 2].as_secs_f64(),
        d[0].as_secs_f64(),
        d[d.len() - 1].as_secs_f64(),
        d.len()
    )
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let families = std::env::var("CASELEDGER_BENCH_FAMILIES").unwrap_or_else(|_| "19000".into());
    let source = tmp.path().join("source");
    let input = tmp.path().join("gen.jsonl");
    let bin = env!("CARGO_BIN_EXE_caseledger");
    let gen = ["gen", "--families", &families, "--from", "2017", "--to", "2024", "--seed", "19", "--out"];
    assert!(Command::new(bin).args(gen).arg(&input).status().unwrap().success());
    assert!(Command::new(bin).arg("--ledger").arg(&source).arg("init").status().unwrap().success());
    let append = Command::new(bin).arg("--ledger").arg(&source).arg("append").arg(&input).output().unwrap();
    assert!(append.status.success());
    let period = Period {
        from: NaiveDate::from_ymd_opt(2017, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
    };
    let opts = AppendOptions { actor: "bench".into(), now: chrono::Utc::now() };
    let options = import::Options {
        outcome: Some(caseledger::domain::payload::Outcome::Stabilized),
        stable: Some(true),
        ..Default::default()
    };
    println!("| table (file) | rows | events appended | import into an empty ledger | the same file again |");
    println!("|---|---|---|---|---|");
    let files: Vec<(&str, std::path::PathBuf)> = {
        let ledger = Ledger::open(&source).unwrap();
        ["contracts", "efo-dynamics", "shelter"]
            .into_iter()
            .flat_map(|name| {
                let t = tables::of_ledger(&ledger, name, period, Cut::everything(), None).unwrap();
                let xlsx = tmp.path().join(format!("{name}.xlsx"));
                let csv = tmp.path().join(format!("{name}.csv"));
                tables::write_xlsx(&t, &xlsx).unwrap();
                let mut out = Vec::new();
                tables::write_csv(&t, &mut out).unwrap();
                std::fs::write(&csv, out).unwrap();
                [(name, xlsx), (name, csv)]
            })
            .collect()
    };
    for (name, file) in files {
        let (mut first, mut again, mut rows, mut events) = (Vec::new(), Vec::new(), 0, 0);
        for run in 0..5 {
            let dir = tmp.path().join(format!("to-{}-{run}", file.file_name().unwrap().to_string_lossy()));
            let ledger = Ledger::init(&dir).unwrap();
            for pass in 0..2 {
                let started = Instant::now();
                let sheets = import::read_path(&file).unwrap();
                let plan = import::plan(&ledger, name, &sheets, options).unwrap();
                let acks = import::apply(&ledger, &plan, &opts, true).unwrap();
                let took = started.elapsed();
                if pass == 0 {
                    (rows, events) = (plan.rows, acks.len());
                    first.push(took);
                } else {
                    assert!(acks.is_empty(), "the same file again appends nothing");
                    again.push(took);
                }
            }
        }
        println!(
            "| {name} ({}) | {rows} | {events} | {} | {} |",
            file.extension().unwrap().to_string_lossy(),
            p50(first),
            p50(again)
        );
    }
}
