//! A full disk (SPEC §13), on a real small filesystem (a tmpfs mounted for the test;
//! it needs root, as CI has): an append that meets it exits 4 naming the file it was
//! writing (`no space left on device writing …`) and writes nothing (all or nothing);
//! `verify` and `export` still answer (from the journal when sled cannot even open);
//! once space is freed the ledger is usable again and holds exactly what was
//! acknowledged. The disk is filled to many different levels, so the failure lands in
//! sled's open, the journal, sled's commit and the acknowledged head.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Mount(PathBuf);

impl Mount {
    /// A small tmpfs at `at`; `None` when it cannot be mounted (not root), which
    /// only CI (`CASELEDGER_CI=1`, as root) treats as a failure.
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            assert!(
                !required_everywhere(),
                "this test mounts a small tmpfs to fill it, which needs root (CI runs as root)"
            );
            eprintln!("note: skipped: mounting a small tmpfs to fill it needs root");
            return None;
        }
        Some(Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A small tmpfs (`mnt`) in a temporary directory, and a ledger's place on it (`dir`);
/// `None` as for [`Mount::tmpfs`]. Unmounted before the directory is removed.
struct SmallDisk {
    _mount: Mount,
    mnt: PathBuf,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallDisk {
    fn new(size: &str) -> Option<SmallDisk> {
        let tmp = tempfile::tempdir().unwrap();
        let mnt = tmp.path().join("small");
        let mount = Mount::tmpfs(&mnt, size)?;
        let dir = mnt.join("ledger");
        Some(SmallDisk { _mount: mount, mnt, dir, _tmp: tmp })
    }
}

/// Fills the filesystem of `dir` until only about `leave` bytes are free.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let free = free_bytes(dir);
    let size = free.saturating_sub(leave);
    std::fs::write(&filler, vec![0u8; size as usize]).unwrap_or_else(|e| panic!("filling: {e}"));
    filler
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

#[test]
fn a_full_disk_is_named_writes_nothing_and_passes() {
    let Some(disk) = SmallDisk::new("12m") else { return };
    let (mnt, dir) = (disk.mnt.clone(), disk.dir.clone());
    assert_eq!(run(&dir, &["init"], b"").code, 0);
    let history = run(&dir, &["gen", "--families", "200", "--from", "2020", "--to", "2021", "--seed", "3"], b"").stdout;
    let lines: Vec<&str> = history.lines().collect();
    let first = lines.len() / 2;
    let r = run(&dir, &["append"], format!("{}\n", lines[..first].join("\n")).as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut acknowledged = verified(&dir);

    // The rest in batches of 40, each tried at a different level of free space.
    let mut failures = 0;
    for (i, batch) in lines[first..].chunks(40).enumerate() {
        let leave = [0u64, 4 << 10, 64 << 10, 300 << 10, 1 << 20, 2 << 20][i % 6];
        let filler = fill(&mnt, leave);
        let input = format!("{}\n", batch.join("\n"));
        let r = run(&dir, &["append"], input.as_bytes());
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        if r.code == 0 {
            acknowledged = (acknowledged.0 + batch.len() as u64, last_hash(&r.stdout));
        } else {
            failures += 1;
            assert_eq!(r.code, 4, "batch {i}: {}", r.stderr);
            let line = r
                .stderr
                .lines()
                .find(|l| l.starts_with("no space left on device writing "))
                .unwrap_or_else(|| panic!("batch {i}: the refusal does not say the disk is full: {}", r.stderr));
            assert!(line.contains(&*dir.to_string_lossy()), "batch {i}: names no file of the ledger: {line}");
            eprintln!("batch {i}, {leave} bytes free: {line}");
            assert!(r.stdout.is_empty(), "batch {i}: acknowledged something: {}", r.stdout);
        }
        // On the full disk, verify and export still answer, with what was acknowledged.
        let v = run(&dir, &["verify", "--json"], b"");
        assert_eq!(v.code, 0, "batch {i}: verify on a full disk: {} {}", v.stdout, v.stderr);
        let v: serde_json::Value = serde_json::from_str(v.stdout.trim()).unwrap();
        assert_eq!((v["seq"].as_u64().unwrap(), v["head"].as_str().unwrap().to_string()), acknowledged, "batch {i}");
        let e = run(&dir, &["export"], b"");
        assert_eq!(e.code, 0, "batch {i}: export on a full disk: {}", e.stderr);
        assert_eq!(e.stdout.lines().count() as u64, acknowledged.0, "batch {i}");
        // Space freed: the ledger holds exactly what was acknowledged, all or nothing.
        std::fs::remove_file(&filler).unwrap();
        assert_eq!(verified(&dir), acknowledged, "batch {i} after freeing space");
        if r.code != 0 {
            let again = run(&dir, &["append"], input.as_bytes());
            assert_eq!(again.code, 0, "batch {i} once space is free: {}", again.stderr);
            acknowledged = (acknowledged.0 + batch.len() as u64, last_hash(&again.stdout));
            assert_eq!(verified(&dir), acknowledged);
        }
    }
    eprintln!("disk full: {failures} appends met a full disk");
    assert!(failures >= 3, "too few appends met the full disk ({failures})");
}

fn last_hash(acks: &str) -> String {
    let last: serde_json::Value = serde_json::from_str(acks.lines().last().unwrap()).unwrap();
    last["hash"].as_str().unwrap().to_string()
}

/// A long append — one that writes parts of itself before its commit (more than
/// 50,000 events; the parts are written by a thread of the writer's own) — meeting a
/// full disk at different points: refused with exit 4 naming a file of the ledger,
/// nothing acknowledged, the ledger exactly as before once space is freed.
#[test]
fn a_long_append_meeting_a_full_disk_keeps_nothing_of_itself() {
    let Some(disk) = SmallDisk::new("128m") else { return };
    let (mnt, dir) = (disk.mnt.clone(), disk.dir.clone());
    assert_eq!(run(&dir, &["init"], b"").code, 0);
    assert_eq!(run(&dir, &["append"], signals(1, 1000).as_bytes()).code, 0);
    let mut acknowledged = verified(&dir);
    let mut failures = 0;
    for (round, leave_mib) in [4u64, 12, 20, 28, 90].into_iter().enumerate() {
        let input = signals(10 + round as u32, 60_000);
        let filler = fill(&mnt, leave_mib << 20);
        let r = run(&dir, &["append"], input.as_bytes());
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        if r.code == 0 {
            acknowledged = (acknowledged.0 + 60_000, last_hash(&r.stdout));
        } else {
            failures += 1;
            assert_eq!(r.code, 4, "{leave_mib} MiB free: {}", r.stderr);
            let line =
                r.stderr.lines().find(|l| l.starts_with("no space left on device writing ")).unwrap_or_else(|| {
                    panic!("{leave_mib} MiB free: the refusal does not say the disk is full: {}", r.stderr)
                });
            assert!(line.contains(&*dir.to_string_lossy()), "names no file of the ledger: {line}");
            assert!(r.stdout.is_empty(), "acknowledged something: {}", r.stdout);
            eprintln!("{leave_mib} MiB free: {line}");
        }
        std::fs::remove_file(&filler).unwrap();
        assert_eq!(verified(&dir), acknowledged, "{leave_mib} MiB free, after freeing space");
    }
    assert!(failures >= 2, "too few long appends met the full disk ({failures})");
    assert!(acknowledged.0 > 1000, "no long append passed with room enough");
}

/// The same in one process, as the service runs: a long append the full disk stops
/// (its spilled parts written by the writer's own thread, the last one perhaps still
/// writing when the commit begins) keeps nothing of itself. Once space is freed, the
/// next append passes — or, when it was sled that met the full disk (sled refuses every
/// write after an I/O error until it is opened again, and a commit that failed in sled
/// stops the process's writes on purpose), it is refused saying so, and the ledger
/// opened again is whole and takes it.
#[test]
fn a_long_append_stopped_by_a_full_disk_keeps_nothing_and_the_ledger_recovers() {
    use caseledger::ledger::{AppendOptions, Ledger};
    use caseledger::record::StateRules;
    let Some(disk) = SmallDisk::new("128m") else { return };
    let (mnt, dir) = (disk.mnt.clone(), disk.dir.clone());
    let mut ledger = Ledger::init(&dir).unwrap();
    let opts = AppendOptions { actor: "t".into(), now: chrono::Utc::now() };
    let (mut stopped, mut reopened, mut events) = (0, 0, 0);
    for (round, leave_mib) in [4u64, 12, 16, 20, 28, 90].into_iter().enumerate() {
        let filler = fill(&mnt, leave_mib << 20);
        let long = signals(10 + round as u32, 60_000);
        match ledger.append_jsonl(long.as_bytes(), &opts, &mut StateRules::new()) {
            Ok(_) => events += 60_000,
            Err(e) => {
                stopped += 1;
                assert!(matches!(e, caseledger::Error::NoSpace(_)), "{leave_mib} MiB free: {e}");
            }
        }
        assert_eq!(ledger.head().seq, events, "{leave_mib} MiB free: nothing of a stopped append kept");
        std::fs::remove_file(&filler).unwrap();
        let small = signals(100 + round as u32, 10);
        if let Err(e) = ledger.append_jsonl(small.as_bytes(), &opts, &mut StateRules::new()) {
            let e = e.to_string();
            assert!(e.contains("sled") || e.contains("writes nothing more"), "{leave_mib} MiB free, then freed: {e}");
            drop(ledger);
            ledger = Ledger::open(&dir).unwrap();
            reopened += 1;
            assert_eq!(ledger.verify().unwrap().seq, events, "{leave_mib} MiB free: reopened whole");
            ledger.append_jsonl(small.as_bytes(), &opts, &mut StateRules::new()).unwrap();
        }
        events += 10;
        assert_eq!(ledger.verify().unwrap().seq, events);
    }
    eprintln!("{stopped} long appends stopped, the ledger opened again after {reopened}");
    assert!(stopped >= 2 && events > 60_000, "{stopped} stopped, {events} events");
}
