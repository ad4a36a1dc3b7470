//! Ledger core benchmarks (issue 2). Run: `cargo bench --bench ledger` (set
//! `CASELEDGER_BENCH_EVENTS` to change the bulk size, default 1,000,000). Prints a
//! Markdown table for BENCHMARKS.md. Not a test: nothing here asserts a speed.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use caseledger::ledger::{AppendOptions, EnvelopeOnly, Ledger};

/// A deterministic mix of realistic event shapes, ~300 bytes stored each.
fn synthetic_input(n: usize, with_ids: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 220);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let fam = x % 50_000;
        let day = 1 + (i * 28 / n.max(1)) as u32 % 28;
        let id = if with_ids {
            format!(r#""id":"{}","#, uuid::Uuid::from_u128(u128::from(x) << 64 | i as u128))
        } else {
            String::new()
        };
        let body = match i % 4 {
            0 => format!(
                r#""type":"aid_issued","occurred_on":"2020-03-{day:02}","data":{{"case":"{fam}/2020_МР","kind":"food","quantity":{},"value":"{}.50"}}"#,
                1 + x % 5,
                x % 5000
            ),
            1 => format!(
                r#""type":"service_provided","occurred_on":"2020-03-{day:02}","data":{{"case":"{fam}/2020_МР","kind":"psychological","sessions":{}}}"#,
                1 + x % 3
            ),
            2 => format!(
                r#""type":"efo_scored","occurred_on":"2020-03-{day:02}","data":{{"case":"{fam}/2020_МР","stage":"interim","weak_total":{}}}"#,
                x % 40
            ),
            _ => format!(
                r#""type":"signal_received","occurred_on":"2020-03-{day:02}","data":{{"signal":"С-{i}","family":"Ф{fam}","channel":"phone"}}"#
            ),
        };
        writeln!(out, "{{{id}{body},\"actor\":\"curator-07\"}}").unwrap();
    }
    out
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok().map(|m| (e, m)))
                .map(|(e, m)| if m.is_dir() { dir_size(&e.path()) } else { m.len() })
                .sum()
        })
        .unwrap_or(0)
}

fn opts() -> AppendOptions {
    AppendOptions { actor: "bench".into(), now: chrono::Utc::now() }
}

fn main() {
    let n: usize = std::env::var("CASELEDGER_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    println!("| benchmark | result |\n|---|---|");

    for (label, with_ids) in [("client-supplied random ids", true), ("ledger-generated UUIDv7 ids", false)] {
        let input = synthetic_input(n, with_ids);
        let dir = tmp.path().join(format!("bulk-{with_ids}"));
        let ledger = Ledger::init(&dir).unwrap();
        let t = Instant::now();
        let acks = ledger.append_jsonl(&input[..], &opts(), &mut EnvelopeOnly).unwrap();
        let s = t.elapsed().as_secs_f64();
        assert_eq!(acks.len(), n);
        println!(
            "| bulk append, {n} events in one call, {label} | {:.0} events/s, {:.1} MB/s of input, {:.2} s |",
            n as f64 / s,
            input.len() as f64 / s / 1e6,
            s
        );
        drop(ledger);
        let disk = dir_size(&dir);
        println!(
            "| on-disk size after bulk append ({label}) | {:.0} bytes/event ({:.1} MB) |",
            disk as f64 / n as f64,
            disk as f64 / 1e6
        );

        let t = Instant::now();
        let ledger = Ledger::open(&dir).unwrap();
        let open_s = t.elapsed().as_secs_f64();
        println!("| open of the {n}-event ledger ({label}) | {:.3} s |", open_s);
        let t = Instant::now();
        let v = ledger.verify().unwrap();
        let s = t.elapsed().as_secs_f64();
        assert_eq!(v.seq as usize, n);
        println!("| verify, {n} events ({label}) | {:.0} events/s, {:.2} s |", n as f64 / s, s);
        let mut raw = 0u64;
        let mut bytes = Vec::new();
        ledger
            .for_each(1, |_, r| {
                raw += r.canonical.len() as u64;
                bytes.push(r);
                Ok(())
            })
            .unwrap();
        let t = Instant::now();
        for r in &bytes {
            std::hint::black_box(blake3::hash(&r.canonical));
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "| raw BLAKE3 over the same canonical bytes, one core | {:.0} events/s ({:.0} bytes/event) |",
            n as f64 / s,
            raw as f64 / n as f64
        );
    }

    // Durable single-event appends through the library, one append call each.
    let dir = tmp.path().join("single");
    let ledger = Ledger::init(&dir).unwrap();
    let one = synthetic_input(2000, false);
    let lines: Vec<&[u8]> = one.split_inclusive(|b| *b == b'\n').collect();
    let t = Instant::now();
    for line in &lines {
        ledger.append_jsonl(*line, &opts(), &mut EnvelopeOnly).unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "| durable single-event appends, one library call each (2000) | {:.0} appends/s, {:.2} ms each |",
        lines.len() as f64 / s,
        s * 1e3 / lines.len() as f64
    );
    drop(ledger);

    // The same 2000 events in one batch.
    let dir = tmp.path().join("batch");
    let ledger = Ledger::init(&dir).unwrap();
    let t = Instant::now();
    ledger.append_jsonl(&one[..], &opts(), &mut EnvelopeOnly).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "| the same 2000 events in one batch (one call, one flush) | {:.0} events/s, {:.2} ms in all |",
        2000.0 / s,
        s * 1e3
    );
    drop(ledger);

    // One process call per event: the command line as a curator's script would use it.
    let bin = env!("CARGO_BIN_EXE_caseledger");
    let dir = tmp.path().join("process");
    Ledger::init(&dir).unwrap();
    let calls = 200;
    let t = Instant::now();
    // The binary applies the state rules, so each call appends a valid standalone
    // event (an expense needs no case or signal).
    let standalone: Vec<String> = (0..calls)
        .map(|i| format!("{{\"type\":\"expense_recorded\",\"occurred_on\":\"2020-03-01\",\"data\":{{\"program\":\"КЦ\",\"amount\":\"{}.00\"}}}}\n", 100 + i))
        .collect();
    for line in &standalone {
        let mut child = Command::new(bin)
            .args(["--ledger", dir.to_str().unwrap(), "append", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(line.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }
    let s = t.elapsed().as_secs_f64();
    println!("| durable single-event appends, one `caseledger append` process each ({calls}, small ledger) | {:.0} appends/s, {:.2} ms each |", calls as f64 / s, s * 1e3 / calls as f64);
}
