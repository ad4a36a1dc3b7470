//! `caseledger gen`: every generated history appends cleanly under the state rules,
//! for several seeds, including one that reaches the present year.

mod common;
use common::*;

#[test]
fn generated_files_append_cleanly() {
    let this_year = chrono::Utc::now().format("%Y").to_string();
    for (seed, from, to) in [("1", "2019", "2020"), ("7", "2021", "2022"), ("42", "2024", this_year.as_str())] {
        let (tmp, dir) = new_ledger();
        let file = tmp.path().join("history.jsonl");
        let r = run(
            &dir,
            &["gen", "--families", "300", "--from", from, "--to", to, "--seed", seed, "--out", file.to_str().unwrap()],
            b"",
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = std::fs::read_to_string(&file).unwrap();
        let lines = text.lines().count();
        assert!(lines > 1000, "seed {seed}: {lines} events");
        for kind in [
            "\"type\":\"event_amended\"",
            "\"type\":\"event_voided\"",
            "\"type\":\"shelter_extended\"",
            "\"type\":\"follow_up_done\"",
        ] {
            assert!(text.contains(kind) || to == this_year.as_str(), "seed {seed}: no {kind}");
        }
        let r = run(&dir, &["append", file.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "seed {seed} ({from}–{to}): {}", r.stderr.lines().next().unwrap_or_default());
        assert_eq!(verified(&dir).0 as usize, lines);
        // The same seed gives the same history.
        let again = run(&dir, &["gen", "--families", "300", "--from", from, "--to", to, "--seed", seed], b"");
        if to != this_year.as_str() {
            assert_eq!(again.stdout, text);
        }
    }
}

#[test]
fn gen_refuses_a_backward_span() {
    let (_tmp, dir) = new_ledger();
    let r = run(&dir, &["gen", "--from", "2022", "--to", "2020"], b"");
    assert_eq!(r.code, 2);
}
