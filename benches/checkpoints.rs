//! Checkpoint benchmarks (issue 16), in process, on a ledger of realistic events:
//! `verify` including the Merkle root, inclusion and consistency proofs at the head,
//! and signing a checkpoint. Run:
//!
//! ```text
//! CASELEDGER_BENCH_LEDGER=/path/to/ledger cargo bench --bench checkpoints
//! ```
//!
//! (a ledger made with `caseledger gen … | caseledger append`; without the variable a
//! ledger of `CASELEDGER_BENCH_FAMILIES` generated families, default 116,000 ≈ 1 M
//! events, is built first). The ledger gets a signing key if it has none. Prints a
//! Markdown table for BENCHMARKS.md. Not a test: nothing here asserts a speed.

use std::process::Command;
use std::time::{Duration, Instant};

use caseledger::ledger::{AppendOptions, EnvelopeOnly, Ledger};

fn stats(mut d: Vec<Duration>) -> String {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1e3;
    let mean = d.iter().map(|x| ms(*x)).sum::<f64>() / d.len() as f64;
    format!(
        "mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} runs)",
        mean,
        ms(d[d.len() / 2]),
        ms(d[d.len() * 99 / 100]),
        ms(d[d.len() - 1]),
        d.len()
    )
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("CASELEDGER_BENCH_LEDGER") {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let families = std::env::var("CASELEDGER_BENCH_FAMILIES").unwrap_or_else(|_| "116000".into());
            let dir = tmp.path().join("ledger");
            let input = tmp.path().join("gen.jsonl");
            let bin = env!("CARGO_BIN_EXE_caseledger");
            let gen = ["gen", "--families", &families, "--from", "2017", "--to", "2024", "--seed", "2026", "--out"];
            assert!(Command::new(bin).args(gen).arg(&input).status().unwrap().success());
            assert!(Command::new(bin).arg("--ledger").arg(&dir).arg("init").status().unwrap().success());
            assert!(Command::new(bin).arg("--ledger").arg(&dir).arg("append").arg(&input).status().unwrap().success());
            dir
        }
    };
    if caseledger::checkpoint::LogKey::load(&dir).unwrap().is_none() {
        caseledger::checkpoint::key_init(&dir, Some("bench.caseledger.example/checkpoints")).unwrap();
    }
    println!("| benchmark | result |\n|---|---|");
    let t = Instant::now();
    let ledger = Ledger::open(&dir).unwrap();
    let n = ledger.head().seq;
    println!("| open, {n} events | {:.3} s |", t.elapsed().as_secs_f64());

    // Three runs (the machine drifts); the median is the figure.
    let mut runs = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let v = ledger.verify().unwrap();
        runs.push(t.elapsed().as_secs_f64());
        assert_eq!(v.seq, n);
        assert!(v.root.is_some());
    }
    let all = runs.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", ");
    runs.sort_by(f64::total_cmp);
    let s = runs[1];
    println!(
        "| verify including the Merkle root, {n} events (median of 3 runs: {all} s) | {:.0} events/s, {s:.2} s |",
        n as f64 / s
    );

    // Random positions, the same every run.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        1 + x % m
    };
    let (mut inc, mut con) = (Vec::new(), Vec::new());
    for _ in 0..2000 {
        let seq = next(n);
        let t = Instant::now();
        std::hint::black_box(caseledger::checkpoint::inclusion_json(&ledger, seq, None).unwrap());
        inc.push(t.elapsed());
        let old = next(n);
        let t = Instant::now();
        std::hint::black_box(caseledger::checkpoint::consistency_json(&ledger, old, None).unwrap());
        con.push(t.elapsed());
    }
    println!(
        "| inclusion proof at size {n} (JSON, as `proof inclusion` and the HTTP route give it) | {} |",
        stats(inc)
    );
    println!("| consistency proof to size {n} (JSON, with both roots) | {} |", stats(con));

    // Signing: the ledger grows by one event, then a checkpoint of the new head.
    let opts = AppendOptions { actor: "bench".into(), now: chrono::Utc::now() };
    let mut sign = Vec::new();
    for i in 0..50 {
        let line = format!(
            "{{\"type\":\"signal_received\",\"occurred_on\":\"2024-12-01\",\"data\":{{\"signal\":\"С-bench-{i}-{n}\",\"family\":\"Ф-bench\",\"channel\":\"phone\"}}}}\n"
        );
        ledger.append_jsonl(line.as_bytes(), &opts, &mut EnvelopeOnly).unwrap();
        let t = Instant::now();
        let s = caseledger::checkpoint::sign(&ledger, &dir).unwrap();
        sign.push(t.elapsed());
        assert_eq!(s.checkpoint.size, ledger.head().seq);
    }
    println!(
        "| checkpoint signed (root, Ed25519 note, written durably), at {n} events, no witnesses | {} |",
        stats(sign)
    );
}
