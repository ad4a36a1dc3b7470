//! Tamper tests: change the stored ledger through sled itself (bypassing the ledger
//! API) and change export files; `verify` must exit 3 naming the first bad seq.

mod common;
use common::*;

use caseledger::ledger::event::Record;
use caseledger::ledger::{block_key, decode_block, encode_block};
use std::path::Path;

/// A ledger of 200 events in 4 blocks (64 + 64 + 64 + 8).
fn ledger_200() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = new_ledger();
    let r = run(&dir, &["append"], signals(1, 200).as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verified(&dir).0, 200);
    (tmp, dir)
}

/// Rewrites the block that starts at `first` through sled directly.
fn tamper_block(dir: &Path, first: u64, f: impl FnOnce(&mut Vec<Record>)) {
    let db = open_store(dir);
    let key = block_key(first);
    let mut records = decode_block(&db.get(key).unwrap().expect("block")).unwrap();
    f(&mut records);
    db.insert(key, encode_block(&records)).unwrap();
    db.flush().unwrap();
}

fn assert_bad_at(dir: &Path, args: &[&str], seq: u64) {
    let r = run(dir, args, b"");
    assert_eq!(r.code, 3, "{args:?} should fail: {} {}", r.stdout, r.stderr);
    let expect = format!("integrity failure at seq {seq}:");
    assert!(r.stderr.starts_with(&expect), "{:?} should start with {expect:?}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
}

#[test]
fn a_changed_byte_in_the_store() {
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 65, |recs| {
        // seq 70 (input line 70) names family Ф69; it becomes Ф68.
        let c = &mut recs[5].canonical;
        let needle = "\"Ф69\"".as_bytes();
        let at = c.windows(needle.len()).position(|w| w == needle).expect("family code");
        c[at + 4] = b'8';
    });
    assert_bad_at(&dir, &["verify"], 70);
}

#[test]
fn a_flipped_bit_in_a_stored_hash() {
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 129, |recs| recs[0].hash[31] ^= 1);
    assert_bad_at(&dir, &["verify"], 129);
}

#[test]
fn a_removed_event_in_the_store() {
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 65, |recs| {
        recs.remove(10);
    });
    assert_bad_at(&dir, &["verify"], 75);
}

#[test]
fn a_removed_last_event_in_the_store() {
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 193, |recs| {
        recs.pop();
    });
    assert_bad_at(&dir, &["verify"], 200);
}

#[test]
fn two_swapped_events_in_the_store() {
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 1, |recs| recs.swap(20, 21));
    assert_bad_at(&dir, &["verify"], 21);
}

#[test]
fn an_inserted_event_in_the_store() {
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 129, |recs| {
        // A copy of seq 140 placed before it: position 140 now holds seq 140's twin,
        // position 141 holds seq 140 again.
        let twin = recs[11].clone();
        recs.insert(11, twin);
    });
    assert_bad_at(&dir, &["verify"], 141);
}

#[test]
fn a_forged_event_with_its_own_valid_hash() {
    // The forger recomputes the changed event's hash; the next event's prev exposes it.
    let (_tmp, dir) = ledger_200();
    tamper_block(&dir, 65, |recs| {
        let c = &mut recs[5].canonical;
        let at = c.windows(5).position(|w| w == b"phone").unwrap();
        c[at..at + 5].copy_from_slice(b"other");
        recs[5].hash = *blake3::hash(c).as_bytes();
    });
    assert_bad_at(&dir, &["verify"], 71);
}

fn exported(dir: &Path) -> Vec<String> {
    let r = run(dir, &["export"], b"");
    assert_eq!(r.code, 0);
    r.stdout.lines().map(String::from).collect()
}

fn verify_file(lines: &[String], seq: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("export.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    // No ledger is needed: point --ledger at nothing.
    assert_bad_at(&tmp.path().join("absent"), &["verify", "--export", file.to_str().unwrap()], seq);
    // And import refuses it, leaving the ledger empty.
    let target = tmp.path().join("target");
    run(&target, &["init"], b"");
    let r = run(&target, &["import", file.to_str().unwrap()], b"");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(verified(&target).0, 0);
}

#[test]
fn tampered_export_files() {
    let (_tmp, dir) = ledger_200();
    let lines = exported(&dir);
    assert_eq!(lines.len(), 200);

    let mut changed = lines.clone();
    changed[49] = changed[49].replace("\"phone\"", "\"other\"");
    verify_file(&changed, 50);

    let mut removed = lines.clone();
    removed.remove(49);
    verify_file(&removed, 50);

    let mut swapped = lines.clone();
    swapped.swap(49, 50);
    verify_file(&swapped, 50);

    let mut inserted = lines.clone();
    let twin = inserted[48].clone();
    inserted.insert(49, twin);
    verify_file(&inserted, 50);

    let mut truncated = lines.clone();
    truncated[99].truncate(40);
    verify_file(&truncated, 100);
}

#[test]
fn an_untouched_export_verifies_without_a_ledger() {
    let (tmp, dir) = ledger_200();
    let file = tmp.path().join("ok.jsonl");
    std::fs::write(&file, exported(&dir).join("\n") + "\n").unwrap();
    let r = run(&tmp.path().join("absent"), &["verify", "--export", file.to_str().unwrap(), "--json"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["seq"], 200);
    assert_eq!(v["head"].as_str().unwrap(), verified(&dir).1);
}
