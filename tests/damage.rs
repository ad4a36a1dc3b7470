//! Damage at rest (SPEC §13): a harness that really damages the files of a ledger
//! directory — one flipped bit, one zeroed 4 KiB page, or a cut at some offset, of sled's
//! log, its snapshot and its settings, the journal's segments and the acknowledged
//! head — and then uses the ledger as a person would. For every trial:
//!
//! - `export` exits 0 with exactly the acknowledged events (healed from the other
//!   copy), or exits 3/4 with the message of §13, after which `recover` exits 0 and
//!   `export` gives exactly the acknowledged events;
//! - nothing panics; and afterwards `verify` agrees on the acknowledged head, and a
//!   second `export` too (the healing lasted).
//!
//! Two ledgers are damaged: one made by two bulk appends (the second after an open, so
//! part of sled's log was written since the last open), one by HTTP appends to `serve`,
//! which is then killed with SIGKILL. `CASELEDGER_DAMAGE_TRIALS` (default 5 offsets per
//! file and kind of damage) and `CASELEDGER_DAMAGE_SEED` (printed) control the run.

mod common;
use common::server::{token, Server};
use common::*;

use std::path::{Path, PathBuf};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    FlipBit,
    ZeroPage,
    Truncate,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let kind = e.file_type().unwrap();
        if std::os::unix::fs::FileTypeExt::is_socket(&kind) {
            // The service's socket (`serve.sock`) is no file to copy.
            continue;
        }
        if kind.is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The files a trial may damage, relative to the ledger directory.
fn targets(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("ACKED"), PathBuf::from("sled/db"), PathBuf::from("sled/conf")];
    for sub in ["sled", "journal"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with("snap.") || name.ends_with(".jsonl") {
                out.push(Path::new(sub).join(name));
            }
        }
    }
    out
}

fn damage(path: &Path, how: Damage, rng: &mut Rng) -> u64 {
    let mut bytes = std::fs::read(path).unwrap();
    let off = rng.below(bytes.len() as u64);
    match how {
        Damage::FlipBit => bytes[off as usize] ^= 1 << rng.below(8),
        Damage::ZeroPage => {
            let start = (off / 4096 * 4096) as usize;
            let end = (start + 4096).min(bytes.len());
            bytes[start..end].fill(0);
        }
        Damage::Truncate => bytes.truncate(off as usize),
    }
    std::fs::write(path, bytes).unwrap();
    off
}

#[derive(Default, Debug)]
struct Tally {
    trials: usize,
    healed: usize,
    recovered: usize,
}

fn is_section_13_message(stderr: &str) -> bool {
    (stderr.contains(") is damaged (") || stderr.contains(" is damaged (")) && stderr.contains("run caseledger recover")
        || stderr.contains("integrity failure: events")
}

/// Damages copies of `template` at many offsets and checks every outcome.
fn trials(template: &Path, work: &Path, rng: &mut Rng, per: usize, tally: &mut Tally) {
    let pristine = run(template, &["export"], b"");
    assert_eq!(pristine.code, 0, "{}", pristine.stderr);
    let (seq, head) = verified_copy(template, work);
    for rel in targets(template) {
        for how in [Damage::FlipBit, Damage::ZeroPage, Damage::Truncate] {
            for _ in 0..per {
                let dir = work.join("trial");
                let _ = std::fs::remove_dir_all(&dir);
                copy_dir(template, &dir);
                let off = damage(&dir.join(&rel), how, rng);
                let what = format!("{} {how:?} at {off}", rel.display());
                tally.trials += 1;
                let r = run(&dir, &["export"], b"");
                assert!(!r.stderr.contains("panicked"), "{what}: a panic: {}", r.stderr);
                match r.code {
                    0 if !r.stderr.contains("run caseledger recover") => {
                        assert!(
                            r.stdout == pristine.stdout,
                            "{what}: SILENT LOSS: export exit 0 with other events\n{}",
                            r.stderr
                        );
                        tally.healed += 1;
                    }
                    // Read from the journal, the store still damaged: as exit 4, then.
                    0 | 3 | 4 => {
                        // A read that failed part way may have printed a prefix.
                        assert!(
                            pristine.stdout.starts_with(&r.stdout),
                            "{what}: exit {} with events that are not the acknowledged ones: {}",
                            r.code,
                            r.stderr
                        );
                        assert!(
                            is_section_13_message(&r.stderr),
                            "{what}: exit {} without the §13 message: {}",
                            r.code,
                            r.stderr
                        );
                        let rec = run(&dir, &["recover"], b"");
                        assert_eq!(rec.code, 0, "{what}: recover: {} {}", rec.stdout, rec.stderr);
                        let again = run(&dir, &["export"], b"");
                        assert_eq!(again.code, 0, "{what}: export after recover: {}", again.stderr);
                        assert!(again.stdout == pristine.stdout, "{what}: recover did not bring back every event");
                        tally.recovered += 1;
                    }
                    other => panic!("{what}: export exited {other}: {}", r.stderr),
                }
                // The healing lasted: the next commands see the same ledger.
                let v = run(&dir, &["verify", "--json"], b"");
                assert_eq!(v.code, 0, "{what}: verify after: {} {}", v.stdout, v.stderr);
                let v: serde_json::Value = serde_json::from_str(v.stdout.trim()).unwrap();
                assert_eq!((v["seq"].as_u64().unwrap(), v["head"].as_str().unwrap()), (seq, head.as_str()), "{what}");
                let last = run(&dir, &["export"], b"");
                assert!(last.code == 0 && last.stdout == pristine.stdout, "{what}: a second export differs");
                assert!(last.stderr.is_empty(), "{what}: still healing on the next open: {}", last.stderr);
            }
        }
    }
}

/// Verifies a copy of the template (verify writes nothing the template would lack, but
/// the template must stay exactly as the appends left it).
fn verified_copy(template: &Path, work: &Path) -> (u64, String) {
    let dir = work.join("verify-copy");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(template, &dir);
    verified(&dir)
}

fn seed_and_trials() -> (Rng, usize) {
    let seed: u64 = std::env::var("CASELEDGER_DAMAGE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    let per = std::env::var("CASELEDGER_DAMAGE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    eprintln!("damage test: CASELEDGER_DAMAGE_SEED={seed} CASELEDGER_DAMAGE_TRIALS={per}");
    (Rng(seed), per)
}

#[test]
fn damage_after_bulk_appends_is_healed_or_recovered_never_silent() {
    let (mut rng, per) = seed_and_trials();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    assert_eq!(run(&dir, &["init"], b"").code, 0);
    let history = run(&dir, &["gen", "--families", "300", "--from", "2020", "--to", "2021", "--seed", "5"], b"");
    let lines: Vec<&str> = history.stdout.lines().collect();
    let (first, second) = lines.split_at(lines.len() * 4 / 5);
    for part in [first, second] {
        let r = run(&dir, &["append"], format!("{}\n", part.join("\n")).as_bytes());
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut tally = Tally::default();
    trials(&dir, tmp.path(), &mut rng, per, &mut tally);
    eprintln!("damage after bulk appends: {tally:?}");
    assert!(tally.healed > 0 && tally.recovered > 0, "both paths exercised: {tally:?}");
}

#[test]
fn damage_after_http_appends_is_healed_or_recovered_never_silent() {
    let (mut rng, per) = seed_and_trials();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    assert_eq!(run(&dir, &["init"], b"").code, 0);
    let history = run(&dir, &["gen", "--families", "120", "--from", "2020", "--to", "2021", "--seed", "9"], b"");
    let bulk: Vec<&str> = history.stdout.lines().collect();
    let (first, rest) = bulk.split_at(bulk.len() / 2);
    assert_eq!(run(&dir, &["append"], format!("{}\n", first.join("\n")).as_bytes()).code, 0);
    let tok = token(&dir, "К-07", "recorder");
    let server = Server::start(&dir);
    // The rest over HTTP, in requests of 25 events (recorded_at and actor are the
    // service's: strip them from the generated lines).
    for chunk in rest.chunks(25) {
        let body: Vec<serde_json::Value> = chunk
            .iter()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("recorded_at");
                o.remove("actor");
                v
            })
            .collect();
        let r = server.post_json("/v1/events", &tok, &serde_json::Value::Array(body).to_string());
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Killed, not stopped: only what was acknowledged is promised.
    server.stop("KILL");
    let mut tally = Tally::default();
    trials(&dir, tmp.path(), &mut rng, per, &mut tally);
    eprintln!("damage after HTTP appends: {tally:?}");
    assert!(tally.healed > 0 && tally.recovered > 0, "both paths exercised: {tally:?}");
}

/// A one-byte change anywhere in sled's settings file is repaired and never read as
/// another segment size (which would print the "small segments" migration advice).
#[test]
fn a_changed_byte_in_sleds_settings_is_repaired_not_misread() {
    let (tmp, dir) = new_ledger();
    assert_eq!(run(&dir, &["append"], signals(4, 300).as_bytes()).code, 0);
    let pristine = run(&dir, &["export"], b"").stdout;
    let conf = std::fs::read(dir.join("sled/conf")).unwrap();
    for at in 0..conf.len() {
        for change in [0x01u8, 0x20, 0xff] {
            let trial = tmp.path().join("trial");
            let _ = std::fs::remove_dir_all(&trial);
            copy_dir(&dir, &trial);
            let mut bytes = conf.clone();
            bytes[at] ^= change;
            std::fs::write(trial.join("sled/conf"), &bytes).unwrap();
            let r = run(&trial, &["export"], b"");
            assert!(!r.stderr.contains("small sled segments"), "byte {at} ^ {change:#x}: {}", r.stderr);
            assert_eq!(r.code, 0, "byte {at} ^ {change:#x}: {}", r.stderr);
            assert!(r.stdout == pristine, "byte {at} ^ {change:#x}");
            assert!(r.stderr.contains("sled's settings file"), "byte {at}: the repair is said: {}", r.stderr);
            assert_eq!(std::fs::read(trial.join("sled/conf")).unwrap(), conf, "byte {at}: written back as it was");
        }
    }
}
