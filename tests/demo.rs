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
        // Each figure: its id and Russian title, then as known then → now.
        let lines: Vec<&str> = r.stdout.lines().collect();
        let at =
            |id: &str| lines.iter().position(|l| l.starts_with(&format!("{id} "))).unwrap_or_else(|| panic!("{id}"));
        let p1 = at("P1");
        assert!(lines[p1].contains("трудная жизненная ситуация стабилизирована"), "{}", lines[p1]);
        let p1 = lines[p1 + 1];
        assert!(
            p1.contains("16 из 29 (0,5517)") && p1.contains("18 из 29 (0,6207)") && p1.contains("изменилось"),
            "{p1}"
        );
        let reach = lines[at("reach") + 1];
        assert_eq!(reach.matches("89").count(), 2, "{reach}");
        assert!(!reach.contains("изменилось"), "{reach}");
        // The events that changed P1 are named (recorded in spring 2021), in Russian.
        assert!(
            r.stdout.contains("«Случай закрыт» — дата события 24.12.2020, записано 15.03.2021 12:00"),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("«Исправление записи»"), "{}", r.stdout);
        assert!(!r.stdout.contains("case_closed") && !r.stdout.contains("event_amended"), "{}", r.stdout);
        assert!(r.stdout.contains(&format!("Проверка цепочки: цела, {events} событи")), "{}", r.stdout);
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
    assert!(r.stderr.contains("это не демонстрационный реестр"), "{}", r.stderr);
    assert_eq!(verified(&dir).0, 0);
}
