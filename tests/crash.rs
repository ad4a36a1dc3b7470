//! Crash test: `kill -9` appending processes at random moments, many times, and
//! processes that are only opening the ledger; then check that the chain verifies,
//! every acknowledged event is present with the acknowledged hash, no batch is
//! half-written, and retrying every batch neither loses nor duplicates anything.
//!
//! `CASELEDGER_CRASH_ROUNDS` (default 80) and `CASELEDGER_CRASH_SEED` (default: the
//! clock; printed, so a failure can be replayed) control the run.

mod common;
use common::*;

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_event() {
    let rounds: usize = std::env::var("CASELEDGER_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(80);
    let seed: u64 = std::env::var("CASELEDGER_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("crash test: CASELEDGER_CRASH_SEED={seed} CASELEDGER_CRASH_ROUNDS={rounds}");
    let mut rng = Rng(seed);
    let (tmp, dir) = new_ledger();

    // Batches of 1 to 3000 events, and two longer than one spill (50,000 events), so
    // that kills land inside a multi-part append too.
    let mut sizes: Vec<usize> = (0..24).map(|_| 1 + rng.below(3000) as usize).collect();
    sizes[5] = 60_000;
    sizes[17] = 55_000;
    let files: Vec<std::path::PathBuf> = sizes
        .iter()
        .enumerate()
        .map(|(b, n)| {
            let f = tmp.path().join(format!("batch-{b}.jsonl"));
            std::fs::write(&f, signals(b as u32 + 100, *n)).unwrap();
            f
        })
        .collect();

    // seq → hash of every acknowledged event.
    let mut acked: HashMap<u64, String> = HashMap::new();
    let mut acked_batches: HashSet<usize> = HashSet::new();
    let mut kills = 0;
    for round in 0..rounds {
        if round % 4 == 3 {
            // Kill a process while it opens the ledger (sled's snapshot trap).
            let mut child = Command::new(bin())
                .arg("--ledger")
                .arg(&dir)
                .arg("verify")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_micros(rng.below(15_000)));
            let _ = child.kill();
            let _ = child.wait();
        }
        let b = rng.below(files.len() as u64) as usize;
        let big = sizes[b] > 10_000;
        let mut child = Command::new(bin())
            .arg("--ledger")
            .arg(&dir)
            .arg("append")
            .arg(&files[b])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let delay = if big { rng.below(2_500_000) } else { rng.below(120_000) };
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let killed = out.status.signal() == Some(9);
        kills += usize::from(killed);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "round {round}: {stderr}");
        // Only whole lines count: a kill may cut the last one.
        for line in stdout.lines().filter(|l| l.ends_with('}')) {
            let ack: serde_json::Value = serde_json::from_str(line).unwrap();
            let seq = ack["seq"].as_u64().unwrap();
            let hash = ack["hash"].as_str().unwrap().to_string();
            if let Some(prev) = acked.insert(seq, hash.clone()) {
                assert_eq!(prev, hash, "seq {seq} was acknowledged with two different hashes");
            }
            acked_batches.insert(b);
        }
        if out.status.success() {
            acked_batches.insert(b);
        } else if out.status.code().is_some() {
            // Exited on its own with an error: only "in use" is acceptable here (a
            // killed predecessor's lock is released by the kernel at once).
            assert!(stderr.is_empty() || stderr.starts_with("ledger in use"), "round {round}: {stderr}");
        }
    }
    eprintln!("crash test: {kills} of {rounds} appends killed, {} batches acknowledged", acked_batches.len());
    assert!(kills > rounds / 4, "too few rounds killed a running append ({kills} of {rounds})");

    // 1. The chain verifies.
    let (count, _) = verified(&dir);
    // 2. Every acknowledged event is there, with the acknowledged hash.
    let evs = events(&dir);
    assert_eq!(evs.len() as u64, count);
    for (seq, hash) in &acked {
        assert_eq!(evs[*seq as usize - 1]["hash"].as_str().unwrap(), hash, "acknowledged seq {seq}");
    }
    // 3. No batch is half-written: each batch's signals are all there or none.
    let mut per_batch: HashMap<String, usize> = HashMap::new();
    for e in &evs {
        let signal = e["data"]["signal"].as_str().unwrap();
        let batch = signal.split('-').nth(1).unwrap().to_string();
        *per_batch.entry(batch).or_default() += 1;
    }
    for (b, n) in sizes.iter().enumerate() {
        let present = per_batch.get(&(b + 100).to_string()).copied().unwrap_or(0);
        assert!(present == 0 || present == *n, "batch {b}: {present} of {n} events present");
        if acked_batches.contains(&b) {
            assert_eq!(present, *n, "acknowledged batch {b} is incomplete");
        }
    }
    // 4. Retrying every batch after the kills neither loses nor duplicates.
    for f in &files {
        let r = run(&dir, &["append", f.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let (count, _) = verified(&dir);
    assert_eq!(count as usize, sizes.iter().sum::<usize>());
    let ids: HashSet<String> = events(&dir).iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), count as usize);
}

/// sled #1527/#1533: a kill during open can leave `snap.<lsn>.generating`, which a
/// later open takes for the latest snapshot. Plant one (a torn copy of a real
/// snapshot, as a kill mid-write leaves it) and check the ledger still opens whole.
#[test]
fn a_leftover_partial_snapshot_does_not_brick_the_ledger() {
    let (_tmp, dir) = new_ledger();
    run(&dir, &["append"], signals(1, 500).as_bytes());
    let before = verified(&dir);
    let sled_dir = dir.join("sled");
    let real = std::fs::read_dir(&sled_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("snap."));
    let torn = match real {
        Some(p) => {
            let bytes = std::fs::read(p).unwrap();
            bytes[..bytes.len() / 2].to_vec()
        }
        None => vec![0xAB; 100],
    };
    std::fs::write(sled_dir.join("snap.7FFFFFFFFFFFFFFF.generating"), torn).unwrap();
    assert_eq!(verified(&dir), before);
    let r = run(&dir, &["append"], signals(2, 1).as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!sled_dir.join("snap.7FFFFFFFFFFFFFFF.generating").exists());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// `recover` killed with SIGKILL at many moments (while it copies the old store,
/// rebuilds, swaps the directories): the next command finds a whole ledger — the old
/// one or the rebuilt one — and a second `recover` finishes the job.
#[test]
fn kill_9_during_recover_leaves_a_whole_ledger() {
    let (tmp, template) = new_ledger();
    let r = run(&template, &["append"], signals(7, 20_000).as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let whole = run(&template, &["export"], b"").stdout;
    let mut rng =
        Rng(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    // How long a recover takes here, so that the kills spread over it: the shorter
    // of two, since the other tests running beside this one may slow one of them (a
    // long probe put most kills after the recovers had ended).
    let took = (0..2)
        .map(|n| {
            let probe = tmp.path().join(format!("probe-{n}"));
            copy_dir(&template, &probe);
            let started = std::time::Instant::now();
            assert_eq!(run(&probe, &["recover"], b"").code, 0);
            started.elapsed().as_micros() as u64
        })
        .min()
        .unwrap();
    let mut killed = 0;
    for round in 0..12 {
        let dir = tmp.path().join(format!("round-{round}"));
        copy_dir(&template, &dir);
        let mut child = Command::new(bin())
            .arg("--ledger")
            .arg(&dir)
            .arg("recover")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(took + took / 5)));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        killed += usize::from(out.status.signal() == Some(9));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
        let e = run(&dir, &["export"], b"");
        assert_eq!(e.code, 0, "round {round}: export after a killed recover: {}", e.stderr);
        assert!(e.stdout == whole, "round {round}: the ledger is not whole after a killed recover");
        let again = run(&dir, &["recover"], b"");
        assert_eq!(again.code, 0, "round {round}: {}", again.stderr);
        assert!(run(&dir, &["export"], b"").stdout == whole, "round {round}");
        // Nothing left behind but the moved-aside copies.
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                ["sled", "journal", "ACKED", "LOCK", "FORMAT"].contains(&name.as_str()) || name.starts_with("damaged-"),
                "round {round}: {name} left behind"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!("recover took {took} µs; {killed} of 12 killed while running");
    assert!(killed > 3, "too few recovers were killed while running ({killed})");
}

/// `import` killed with SIGKILL at many moments: the ledger is empty or whole.
#[test]
fn kill_9_during_import_is_all_or_nothing() {
    let (tmp, source) = new_ledger();
    assert_eq!(run(&source, &["append"], signals(8, 60_000).as_bytes()).code, 0);
    let export = tmp.path().join("export.jsonl");
    let whole = run(&source, &["export"], b"").stdout;
    std::fs::write(&export, &whole).unwrap();
    let mut rng =
        Rng(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    let mut outcomes = HashSet::new();
    for round in 0..8 {
        let (_t, dir) = new_ledger();
        let mut child = Command::new(bin())
            .arg("--ledger")
            .arg(&dir)
            .arg("import")
            .arg(&export)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(1_500_000)));
        let _ = child.kill();
        let _ = child.wait();
        let e = run(&dir, &["export"], b"");
        assert_eq!(e.code, 0, "round {round}: {}", e.stderr);
        assert!(e.stdout.is_empty() || e.stdout == whole, "round {round}: a half-done import is visible");
        outcomes.insert(e.stdout.is_empty());
        verified(&dir);
    }
    eprintln!("import kills: empty afterwards {:?}", outcomes);
}

/// A bulk append killed after it spilled blocks and journal lines, then `recover` with
/// no open in between: the rebuilt ledger holds the append whole or not at all (lines
/// and blocks above the acknowledged and stored heads never committed).
#[test]
fn recover_after_a_killed_bulk_append_is_all_or_nothing() {
    let (tmp, template) = new_ledger();
    assert_eq!(run(&template, &["append"], signals(9, 1000).as_bytes()).code, 0);
    let big = tmp.path().join("big.jsonl");
    std::fs::write(&big, signals(10, 120_000)).unwrap();
    let mut rng =
        Rng(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    let mut partial_seen = 0;
    for round in 0..6 {
        let dir = tmp.path().join(format!("r{round}"));
        copy_dir(&template, &dir);
        let mut child = Command::new(bin())
            .arg("--ledger")
            .arg(&dir)
            .arg("append")
            .arg(&big)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(700_000 + rng.below(1_500_000)));
        let _ = child.kill();
        let _ = child.wait();
        let lines: usize = std::fs::read_dir(dir.join("journal"))
            .unwrap()
            .flatten()
            .map(|e| std::fs::read(e.path()).unwrap().iter().filter(|b| **b == b'\n').count())
            .sum();
        partial_seen += usize::from(lines > 1000 && lines < 121_000);
        let r = run(&dir, &["recover"], b"");
        assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        let (count, _) = verified(&dir);
        assert!(count == 1000 || count == 121_000, "round {round}: recover kept {count} events");
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!("{partial_seen} of 6 rounds left journal lines of the killed append");
}
