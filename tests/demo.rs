//! `caseledger demo`: the README's first command, on the «Мама рядом» replay.

mod common;
use common::*;

#[test]
fn demo_shows_the_2020_figures_then_and_now_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let demo_dir = tmp.path().join("demo");
    let events = include_str!("../replay/mama-ryadom-2019-2020/events.jsonl").lines().count();
    for _ in 0..2 {
        let r = run(&tmp.path().join("unused"), &["demo", "--dir", demo_dir.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        // Seed 001: P1 16 of 29 as reported (January 2021), 18 of 29 as known now.
        let p1 = r.stdout.lines().find(|l| l.starts_with("P1 ")).unwrap_or_default();
        assert!(p1.contains("16 из 29") && p1.contains("18 из 29") && p1.contains("изменилось"), "{p1}");
        let reach = r.stdout.lines().find(|l| l.starts_with("reach ")).unwrap_or_default();
        assert_eq!(reach.matches("89").count(), 2, "{reach}");
        // The events that changed P1 are named (recorded in spring 2021).
        assert!(r.stdout.contains("case_closed — дата события 2020-12-24, записано 2021-03-15"), "{}", r.stdout);
        assert!(r.stdout.contains("event_amended"), "{}", r.stdout);
        assert!(r.stdout.contains(&format!("Проверка цепочки: цела, событий {events},")), "{}", r.stdout);
        assert!(r.stdout.contains("последний хеш совпадает: да"));
        assert!(r.stdout.lines().count() < 60, "a screen or two");
    }
    assert_eq!(verified(&demo_dir).0 as usize, events);
}

#[test]
fn demo_never_deletes_a_directory_it_did_not_make() {
    let (_tmp, dir) = new_ledger();
    let r = run(&dir, &["demo", "--dir", dir.to_str().unwrap()], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a demo ledger"));
    assert_eq!(verified(&dir).0, 0);
}
