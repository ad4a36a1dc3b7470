//! Every folder in replay/ replays: its events load into a fresh ledger and every
//! figure in its expected.json (from the seeds or hand calculation beside it) comes out.

mod common;
use common::*;

use std::path::PathBuf;

fn replay_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/replay"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expected.json").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_replay_folder_reproduces_its_figures() {
    let dirs = replay_dirs();
    assert!(dirs.len() >= 2, "replay folders: {dirs:?}");
    for dir in dirs {
        let tmp = tempfile::tempdir().unwrap();
        let r = run(&tmp.path().join("unused"), &["replay", dir.to_str().unwrap(), "--json"], b"");
        assert_eq!(r.code, 0, "{}: {}\n{}", dir.display(), r.stderr, r.stdout);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(v["ok"], true);
        assert!(v["checks"].as_array().unwrap().len() >= 4, "{}: too few checks", dir.display());
    }
}

#[test]
fn a_replay_with_a_wrong_figure_fails_with_exit_3() {
    let src = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/replay/seed004-cost"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wrong");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(src.join("events.jsonl"), dir.join("events.jsonl")).unwrap();
    // The seed's printed (wrong) 2020 figure instead of the exact division.
    let expected = std::fs::read_to_string(src.join("expected.json")).unwrap().replace("550078.6520", "550070.6500");
    std::fs::write(dir.join("expected.json"), expected).unwrap();
    let r = run(&tmp.path().join("unused"), &["replay", dir.to_str().unwrap()], b"");
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("✗ cost_per_family ratio"), "{}", r.stdout);
    assert!(r.stderr.contains("1 of 14 expected figures differ"), "{}", r.stderr);
}
