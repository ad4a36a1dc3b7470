//! `caseledger demo`: the README's first command.

mod common;
use common::*;

#[test]
fn demo_builds_and_verifies_a_ledger_and_can_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let demo_dir = tmp.path().join("demo");
    let sample_lines = include_str!("../samples/quickstart.jsonl").lines().count();
    for _ in 0..2 {
        let r = run(&tmp.path().join("unused"), &["demo", "--dir", demo_dir.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains(&format!("Проверка цепочки: цела, событий {sample_lines},")), "{}", r.stdout);
        assert!(r.stdout.contains("проверена без реестра"));
    }
    // The ledger it leaves behind is an ordinary one.
    assert_eq!(verified(&demo_dir).0 as usize, sample_lines);
}

#[test]
fn demo_never_deletes_a_directory_it_did_not_make() {
    let (_tmp, dir) = new_ledger();
    let r = run(&dir, &["demo", "--dir", dir.to_str().unwrap()], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a demo ledger"));
    assert_eq!(verified(&dir).0, 0);
}
