//! Case-domain benchmarks (issue 3), through the real binary on a generated valid
//! history: bulk append with the state rules, case projection of all cases (cold and
//! repeated), one case, and a single append to the big ledger (which loads the rules'
//! state). Wall time and peak RSS come from GNU time (`/usr/bin/time -v`).
//!
//! Run: `cargo bench --bench project` (`CASELEDGER_BENCH_FAMILIES`, default 116,000
//! families ≈ 1,000,000 events). Prints a Markdown table for BENCHMARKS.md.

use std::io::Write;

use caseledger::gen::{history, Params};

#[path = "common/time.rs"]
mod time;
use time::measure;

fn main() {
    let families: usize =
        std::env::var("CASELEDGER_BENCH_FAMILIES").ok().and_then(|v| v.parse().ok()).unwrap_or(116_000);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("history.jsonl");
    let events = history(&Params { families, from_year: 2017, to_year: 2024, seed: 2026, corrections: true });
    let n = events.len();
    let some_case =
        events.iter().find(|e| e.kind == "case_closed").map(|e| e.data["case"].as_str().unwrap().to_string()).unwrap();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for e in &events {
            writeln!(w, "{}", e.to_json_line()).unwrap();
        }
    }
    drop(events);
    let dir = tmp.path().join("ledger");
    let d = dir.to_str().unwrap();
    let path = input.to_str().unwrap();
    println!("| benchmark ({n} events, {families} families, 2017–2024) | wall | peak RSS |\n|---|---|---|");
    measure(&["--ledger", d, "init"], None);
    let m = measure(&["--ledger", d, "append", path], None);
    println!(
        "| `append` of the whole history, state rules on ({:.0} events/s) | {:.2} s | {:.0} MiB |",
        n as f64 / m.seconds,
        m.seconds,
        m.peak_mib
    );
    let m = measure(&["--ledger", d, "verify"], None);
    println!("| `verify` ({:.0} events/s) | {:.2} s | {:.0} MiB |", n as f64 / m.seconds, m.seconds, m.peak_mib);
    for run in ["cold (first after append)", "repeated"] {
        let m = measure(&["--ledger", d, "cases", "--json", "--on", "2024-12-31"], None);
        println!(
            "| `cases --json --on 2024-12-31`, {run}: every case projected ({} bytes out) | {:.2} s | {:.0} MiB |",
            m.stdout.len(),
            m.seconds,
            m.peak_mib
        );
    }
    let m = measure(&["--ledger", d, "cases", "--json", "--on", "2020-06-30", "--known-at", "2020-07-31"], None);
    println!("| `cases --json` as of 2020-06-30, known at 2020-07-31 | {:.2} s | {:.0} MiB |", m.seconds, m.peak_mib);
    for run in ["cold (first)", "repeated"] {
        let m = measure(&["--ledger", d, "indicators", "--year", "2022", "--json"], None);
        println!(
            "| `indicators --year 2022` (15 default indicators), {run} | {:.2} s | {:.0} MiB |",
            m.seconds, m.peak_mib
        );
    }
    let m = measure(&["--ledger", d, "indicators", "--year", "2020", "--known-at", "2021-01-31", "--json"], None);
    println!("| `indicators --year 2020 --known-at 2021-01-31` | {:.2} s | {:.0} MiB |", m.seconds, m.peak_mib);
    let m = measure(&["--ledger", d, "explain", "P1", "--year", "2022", "--json"], None);
    println!(
        "| `explain P1 --year 2022` ({} bytes out) | {:.2} s | {:.0} MiB |",
        m.stdout.len(),
        m.seconds,
        m.peak_mib
    );
    for run in ["first (builds the case index)", "repeated"] {
        let m = measure(&["--ledger", d, "case", "show", &some_case, "--json"], None);
        println!("| `case show` of one case, {run} | {:.2} s | {:.0} MiB |", m.seconds, m.peak_mib);
    }
    {
        // Where `indicators` spends its time, in process.
        use caseledger::indicators::{default_definitions, evaluate, Period, Rows};
        use caseledger::project::{Cut, World};
        let t = std::time::Instant::now();
        let ledger = caseledger::ledger::Ledger::open(&dir).unwrap();
        let open_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let world = World::load(&ledger, Cut::everything()).unwrap();
        let load_s = t.elapsed().as_secs_f64();
        let period = Period {
            from: chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2022, 12, 31).unwrap(),
        };
        let t = std::time::Instant::now();
        let rows = Rows::build(&world, period, false);
        let rows_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let figures = evaluate(&default_definitions(), &rows);
        let eval_s = t.elapsed().as_secs_f64();
        assert_eq!(figures.len(), 15);
        println!(
            "| `indicators --year 2022` in process: open {open_s:.2} s, read + parse {n} events into the World {load_s:.2} s, fact rows ({} cases, {} children, {} signals) {rows_s:.2} s, 15 definitions {eval_s:.3} s | {:.2} s | |",
            rows.cases.len(),
            rows.children.len(),
            rows.signals.len(),
            open_s + load_s + rows_s + eval_s
        );
    }
    let one = "{\"type\":\"expense_recorded\",\"occurred_on\":\"2025-01-10\",\"data\":{\"program\":\"КЦ\",\"amount\":\"100.00\"}}\n";
    let m = measure(&["--ledger", d, "append", "-"], Some(one.as_bytes()));
    println!(
        "| `append` of one event to this ledger (loads the rules' state) | {:.2} s | {:.0} MiB |",
        m.seconds, m.peak_mib
    );
}
