//! The load beside SQLite's, interleaved (issue 30): the scale suite times each once,
//! and on a 2-core machine whose speed drifts by ±15 % from minute to minute one pair
//! of runs can say 0.94 or 1.19. Here the bulk append of a generated history (through
//! the real binary, as the scale suite runs it: a fresh ledger, the acks read through
//! a pipe) and SQLite's load of the same events (`peer/sqlite.rs`, in process, as the
//! scale suite loads them) alternate, and each round's ratios are kept.
//!
//! Run: `cargo bench --bench load_peer` (`CASELEDGER_LOAD_EVENTS=370000`,
//! `CASELEDGER_LOAD_RUNS=10`; `CASELEDGER_LOAD_BINS=OLD,NEW` times other builds of the
//! binary in the same rounds instead of this one). Prints a Markdown table: each round,
//! then the medians.

#[path = "peer/sqlite.rs"]
mod peer;

#[path = "common/time.rs"]
mod time;

use std::io::Write;
use std::time::Instant;

use caseledger::gen::{history, Params};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let events = env_number("CASELEDGER_LOAD_EVENTS", 370_000);
    let runs = env_number("CASELEDGER_LOAD_RUNS", 10).max(1) as usize;
    let bins: Vec<String> = match std::env::var("CASELEDGER_LOAD_BINS") {
        Ok(list) => list.split(',').map(str::to_string).collect(),
        Err(_) => vec![env!("CARGO_BIN_EXE_caseledger").to_string()],
    };
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("history.jsonl");
    {
        // The scale suite's history: 116,000 families over 2017–2024 give ~1 M events.
        let families = ((events as f64) * 0.116).round().max(10.0) as usize;
        let history = history(&Params { families, from_year: 2017, to_year: 2024, seed: 2026, corrections: true });
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for e in &history {
            writeln!(w, "{}", e.to_json_line()).unwrap();
        }
    }
    let (input, ledger, export, db) = (
        input.to_str().unwrap(),
        work.path().join("ledger"),
        work.path().join("export.jsonl"),
        work.path().join("peer.sqlite"),
    );
    let dir = ledger.to_str().unwrap();
    // SQLite loads the ledger's export, as in the scale suite.
    time::measure_bin(&bins[0], &["--ledger", dir, "init"], None);
    time::measure_bin(&bins[0], &["--ledger", dir, "append", input], None);
    time::measure_bin(&bins[0], &["--ledger", dir, "export", export.to_str().unwrap()], None);
    let count = std::fs::read_to_string(&export).unwrap().lines().count() as u64;

    // Contestant 0 is SQLite, then each build of the binary.
    let run = |who: usize| -> f64 {
        if who == 0 {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            let t = Instant::now();
            assert_eq!(peer::load(&db, &export).unwrap(), count);
            t.elapsed().as_secs_f64()
        } else {
            let bin = &bins[who - 1];
            std::fs::remove_dir_all(&ledger).unwrap();
            time::measure_bin(bin, &["--ledger", dir, "init"], None);
            time::measure_bin(bin, &["--ledger", dir, "append", input], None).seconds
        }
    };
    let n = bins.len() + 1;
    println!(
        "{count} events, {runs} rounds; each round runs SQLite's load (in process, timed by a clock) and each \
         binary's append (a process, its wall time by GNU time), in an order that turns\n"
    );
    let names: Vec<String> = bins.iter().map(|b| format!("append ({b})")).collect();
    println!(
        "| round | SQLite load | {} | {} |",
        names.join(" | "),
        names.iter().map(|_| "÷ load").collect::<Vec<_>>().join(" | ")
    );
    println!("|---:|---:|{}", "---:|".repeat(2 * bins.len()));
    let mut times = vec![Vec::new(); n];
    let mut ratios = vec![Vec::new(); bins.len()];
    for round in 0..runs {
        let mut t = vec![0.0; n];
        for k in 0..n {
            let who = (round + k) % n;
            t[who] = run(who);
        }
        let r: Vec<f64> = t[1..].iter().map(|x| x / t[0]).collect();
        println!(
            "| {} | {:.2} s | {} | {} |",
            round + 1,
            t[0],
            t[1..].iter().map(|x| format!("{x:.2} s")).collect::<Vec<_>>().join(" | "),
            r.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" | ")
        );
        for (all, x) in times.iter_mut().zip(&t) {
            all.push(*x);
        }
        for (all, x) in ratios.iter_mut().zip(&r) {
            all.push(*x);
        }
    }
    let range = |v: &[f64]| {
        let (lo, hi) = (v.iter().copied().fold(f64::MAX, f64::min), v.iter().copied().fold(0.0, f64::max));
        format!("**{:.3}** ({lo:.3}–{hi:.3})", median(v.to_vec()))
    };
    println!(
        "| median | {:.2} s | {} | {} |",
        median(times[0].clone()),
        times[1..].iter().map(|v| format!("{:.2} s", median(v.clone()))).collect::<Vec<_>>().join(" | "),
        ratios.iter().map(|v| range(v)).collect::<Vec<_>>().join(" | ")
    );
}
