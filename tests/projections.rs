//! Stored projections against from-scratch folds: memoised figures equal freshly
//! computed ones on random histories, before and after more appends and for several
//! cuts; `verify --projections` recomputes them and the subject indexes, and catches a
//! tampered entry of either. The fact digests kept on append equal a from-scratch fold
//! after every append of a random history, and figures and lineage read from them
//! equal those computed from the events.

mod common;

use caseledger::gen::{history, Params};
use caseledger::indicators::{self, memo, Period};
use caseledger::ledger::{AppendOptions, Ledger};
use caseledger::project::{parse_known_at, summary, Cut, World};
use caseledger::record::StateRules;
use common::{new_ledger, run};

fn append(ledger: &Ledger, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let opts = AppendOptions { actor: "gen".into(), now: chrono::Utc::now() };
    ledger.append_jsonl(text.as_bytes(), &opts, &mut StateRules::new()).unwrap();
}

/// A generated history from 2018, with corrections, as input lines.
fn history_lines(families: usize, to_year: i32, seed: u64) -> Vec<String> {
    history(&Params { families, from_year: 2018, to_year, seed, corrections: true })
        .iter()
        .map(|e| e.to_json_line())
        .collect()
}

fn questions() -> Vec<(Period, Cut)> {
    let p = |a: &str, b: &str| Period { from: a.parse().unwrap(), to: b.parse().unwrap() };
    let k = |s: &str| Some(parse_known_at(s).unwrap());
    vec![
        (p("2021-01-01", "2021-12-31"), Cut::everything()),
        (p("2020-01-01", "2020-12-31"), Cut { known_at: k("2021-01-31"), at_seq: None }),
        (p("2019-04-01", "2022-03-31"), Cut { known_at: None, at_seq: Some(700) }),
        (p("2022-01-01", "2022-12-31"), Cut { known_at: k("2022-06-30T12:00:00Z"), at_seq: Some(5000) }),
    ]
}

#[test]
fn memoised_figures_equal_fresh_ones_before_and_after_appends() {
    let defs = indicators::default_definitions();
    for seed in [5, 19, 23] {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
        let lines = history_lines(400, 2023, seed);
        // The history in two appends: questions are asked between them and after.
        let half = lines.len() / 2;
        append(&ledger, &lines[..half]);
        let mut asked = Vec::new();
        for (period, cut) in questions() {
            let memo = memo::figures(&ledger, period, cut, &defs).unwrap().to_json();
            assert_eq!(memo, indicators::compute(&ledger, period, cut, &defs).unwrap().to_json(), "seed {seed}");
            let again = memo::figures(&ledger, period, cut, &defs).unwrap().to_json();
            assert_eq!(again, memo, "a repeated question gets the same answer");
            asked.push((period, cut, memo));
        }
        let kept = ledger.derived_count();
        assert!(kept >= 1 && kept <= questions().len(), "one entry per distinct question ({kept})");
        append(&ledger, &lines[half..]);
        for (period, cut, before) in &asked {
            let now = memo::figures(&ledger, *period, *cut, &defs).unwrap().to_json();
            let fresh = indicators::compute(&ledger, *period, *cut, &defs).unwrap().to_json();
            assert_eq!(now, fresh, "seed {seed}: after more appends, {period:?} {cut:?}");
            if cut.known_at.is_none() && cut.at_seq.is_none() {
                assert_ne!(now["ledger"], before["ledger"], "as known now moved with the head");
            }
        }
        // The charts' data is memoised the same way: equal to the data computed from
        // the events (a world loaded, no stored digests), and checked by verify_all.
        let defs4: Vec<_> = defs.iter().filter(|d| d.denominator.is_some()).take(4).cloned().collect();
        for (period, cut) in questions() {
            let parts: Vec<Period> = caseledger::report::charts::quarters(period).into_iter().map(|(_, q)| q).collect();
            let memoised = memo::charted(&ledger, period, &parts, cut, &defs4).unwrap();
            let world = caseledger::project::World::load(&ledger, cut).unwrap();
            assert_eq!(memoised, indicators::charted_in(&world, period, &parts, cut, &defs4), "seed {seed}");
            assert_eq!(memo::charted(&ledger, period, &parts, cut, &defs4).unwrap(), memoised);
            assert_eq!(memoised.ratios.len(), parts.len());
        }
        let check = memo::verify_all(&ledger).unwrap();
        assert!(check.failures.is_empty(), "{:?}", check.failures);
        assert!(check.checked > kept + questions().len());
    }
}

#[test]
fn verify_projections_catches_a_tampered_memo_and_a_tampered_index() {
    let (_tmp, dir) = new_ledger();
    let quick = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/quickstart.jsonl")).unwrap();
    assert_eq!(run(&dir, &["append"], &quick).code, 0);
    let r = run(&dir, &["indicators", "--year", "2021", "--json"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ok = run(&dir, &["verify", "--projections", "--json"], b"");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v: serde_json::Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    assert_eq!((v["ok"].as_bool(), v["memo"].as_u64()), (Some(true), Some(1)), "{v}");
    assert!(v["subjects"].as_u64().unwrap() >= 2, "{v}");

    // A memo entry whose figures were changed (its question, and so its key, kept).
    {
        let db = common::open_store(&dir);
        let (k, val) = db.scan_prefix(b"f").next().unwrap().unwrap();
        let mut entry: serde_json::Value = serde_json::from_slice(&val).unwrap();
        entry["figures"]["indicators"][0]["numerator"] = serde_json::json!(999);
        db.insert(k, entry.to_string().as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let bad = run(&dir, &["verify", "--projections"], b"");
    assert_eq!(bad.code, 3, "{} {}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("memo") && bad.stderr.contains("differ"), "{}", bad.stderr);
    // (Plain `verify` checks the chain only: the chain is intact.)
    assert_eq!(run(&dir, &["verify"], b"").code, 0);

    // Remove the memo; then drop one seq from a case's index entry.
    {
        let db = common::open_store(&dir);
        for item in db.scan_prefix(b"f") {
            db.remove(item.unwrap().0).unwrap();
        }
        let (k, val) = db.scan_prefix(b"c").next().unwrap().unwrap();
        assert!(val.len() >= 16, "the case has several events");
        db.insert(k, &val[..val.len() - 8]).unwrap();
        db.flush().unwrap();
    }
    let bad = run(&dir, &["verify", "--projections"], b"");
    assert_eq!(bad.code, 3, "{} {}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("case index"), "{}", bad.stderr);
}

#[test]
fn verify_projections_catches_tampered_fact_digests() {
    let (_tmp, dir) = new_ledger();
    let quick = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/quickstart.jsonl")).unwrap();
    assert_eq!(run(&dir, &["append"], &quick).code, 0);
    let ok = run(&dir, &["verify", "--projections", "--json"], b"");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v: serde_json::Value = serde_json::from_str(ok.stdout.trim()).unwrap();
    assert!(v["digests"].as_u64().unwrap() >= 2, "the append kept digests: {v}");
    // Every bucket holds postcard-encoded digests; one subject's ЕФО weak sides are a
    // single varint byte after the stage. Changing any byte either breaks decoding or
    // changes a digest: both must be caught. Flip the last byte of every bucket.
    {
        let db = common::open_store(&dir);
        let buckets: Vec<_> = db.scan_prefix(b"g").map(|i| i.unwrap()).collect();
        assert!(!buckets.is_empty());
        for (k, val) in buckets {
            let mut bytes = val.to_vec();
            *bytes.last_mut().unwrap() ^= 0x01;
            db.insert(k, bytes).unwrap();
        }
        db.flush().unwrap();
    }
    let bad = run(&dir, &["verify", "--projections"], b"");
    assert_eq!(bad.code, 3, "{} {}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("fact digests"), "{}", bad.stderr);
}

/// Appends as the command line does: state rules, then the digests of what the
/// append touched.
fn append_keeping_digests(ledger: &Ledger, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let opts = AppendOptions { actor: "gen".into(), now: chrono::Utc::now() };
    StateRules::append_with(ledger, |r| ledger.append_jsonl(text.as_bytes(), &opts, r)).unwrap();
}

#[test]
fn digests_kept_on_append_equal_a_fresh_fold_and_give_the_same_figures() {
    let defs = indicators::default_definitions();
    let years = [
        Period { from: "2019-01-01".parse().unwrap(), to: "2019-12-31".parse().unwrap() },
        Period { from: "2021-04-01".parse().unwrap(), to: "2022-03-31".parse().unwrap() },
    ];
    let (mut appends, mut incremental) = (0, 0);
    for seed in [3u64, 11, 29] {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
        let lines = history_lines(300, 2022, seed);
        // Appends of uneven sizes (from 1 event to a few thousand), so corrections in
        // one append often target events stored by an earlier one.
        let mut at = 0;
        let mut step = (seed as usize * 37) % 50 + 1;
        while at < lines.len() {
            let end = (at + step).min(lines.len());
            append_keeping_digests(&ledger, &lines[at..end]);
            appends += 1;
            at = end;
            step = step * 7 % 613 + 1;
            let head = ledger.head();
            // Updated in place: they must equal the fold of every event so far. (A
            // dropped mark means the append corrected an expense stored earlier; the
            // next reader rebuilds them.)
            if let Some(mark) = ledger.store().summary_mark().unwrap() {
                assert_eq!(mark, (head.seq, head.hash), "seed {seed}: the mark follows the head");
                incremental += 1;
                let check = summary::verify(&ledger).unwrap();
                assert!(check.failures.is_empty(), "seed {seed} at seq {}: {:?}", head.seq, check.failures);
                assert!(check.checked > 0);
            }
        }
        for period in years {
            let now = Cut::everything();
            let stored = indicators::compute(&ledger, period, now, &defs).unwrap().to_json();
            assert_eq!(ledger.store().summary_mark().unwrap().map(|m| m.0), Some(ledger.head().seq));
            let fresh = indicators::compute_from_events(&ledger, period, now, &defs).unwrap().to_json();
            assert_eq!(stored, fresh, "seed {seed}, {period:?}: figures from the digests and from the events");
            let world = World::load(&ledger, now).unwrap();
            let rows = indicators::Rows::build(&world, period, true);
            for def in &defs {
                let from_digests = indicators::lineage(&ledger, period, now, def, true).unwrap();
                let from_events = indicators::explain(def, &rows, &world, true);
                assert_eq!(from_digests, from_events, "seed {seed}, {period:?}, {}: lineage", def.id);
            }
        }
    }
    // Only an append that corrects an expense stored earlier drops them.
    assert!(incremental * 10 >= appends * 9, "most appends update the digests in place ({incremental} of {appends})");
}

/// An event is indexed under its case and its signal, so loading one subject brings
/// in events that also belong to another. A correction of such an event must update
/// the other subject's digest too (found in review: the void of a resolution reached
/// through the case's index left the signal's digest saying "resolved").
#[test]
fn a_correction_reached_through_another_subjects_index_updates_both_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
    let id = |n: u32| format!("01780000-0000-7000-8000-{n:012}");
    let ev = |n: u32, kind: &str, on: &str, data: serde_json::Value| {
        serde_json::json!({"id": id(n), "type": kind, "occurred_on": on, "recorded_at": format!("{on}T10:00:00Z"), "data": data})
            .to_string()
    };
    let stored = vec![
        ev(1, "signal_received", "2021-03-01", serde_json::json!({"signal": "С1", "channel": "phone"})),
        ev(
            2,
            "case_opened",
            "2021-03-02",
            serde_json::json!({"case": "К1", "family": "Ф1", "program": "МР", "signal": "С1", "children": []}),
        ),
        ev(
            3,
            "signal_resolved",
            "2021-03-02",
            serde_json::json!({"signal": "С1", "resolution": "case_opened", "case": "К1"}),
        ),
        ev(4, "signal_received", "2021-03-03", serde_json::json!({"signal": "С2", "channel": "phone"})),
        ev(
            5,
            "case_opened",
            "2021-03-04",
            serde_json::json!({"case": "К2", "family": "Ф2", "program": "МР", "signal": "С2", "children": []}),
        ),
    ];
    append_keeping_digests(&ledger, &stored);
    assert!(summary::verify(&ledger).unwrap().failures.is_empty());
    // A: an event of К1 loads К1's index, which lists С1's resolution; then the
    // resolution is voided. С1's digest must lose it.
    // B: an event of С2 loads С2's index, which lists К2's opening; then the opening
    // is voided. К2's digest must be gone.
    let batch = vec![
        ev(10, "service_provided", "2021-03-05", serde_json::json!({"case": "К1", "kind": "legal"})),
        ev(11, "event_voided", "2021-03-05", serde_json::json!({"target": id(3), "reason": "ошибка ввода"})),
        ev(12, "signal_resolved", "2021-03-05", serde_json::json!({"signal": "С2", "resolution": "no_action"})),
        ev(13, "event_voided", "2021-03-05", serde_json::json!({"target": id(5), "reason": "ошибка ввода"})),
    ];
    append_keeping_digests(&ledger, &batch);
    let head = ledger.head();
    assert_eq!(ledger.store().summary_mark().unwrap(), Some((head.seq, head.hash)), "updated in place");
    let check = summary::verify(&ledger).unwrap();
    assert!(check.failures.is_empty(), "{:?}", check.failures);
}

#[test]
fn the_lists_kept_in_memory_equal_fresh_ones_after_more_appends() {
    use caseledger::project::lists::{CaseList, SignalList};
    for seed in [3, 11] {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
        let lines = history_lines(300, 2023, seed);
        assert!(lines.iter().any(|l| l.contains("\"event_voided\"")), "seed {seed}: the history corrects events");
        let third = lines.len() / 3;
        append(&ledger, &lines[..third]);
        let (cases, signals) = (CaseList::default(), SignalList::default());
        let (c0, s0) = (cases.rows(&ledger).unwrap(), signals.rows(&ledger).unwrap());
        // A closing from the first third, voided later: its case is touched only through
        // the correction's target.
        let closing = lines[..third].iter().find(|l| l.contains("\"case_closed\"")).expect("a closing");
        let id = serde_json::from_str::<serde_json::Value>(closing).unwrap()["id"].as_str().unwrap().to_string();
        let void = format!(
            r#"{{"type":"event_voided","occurred_on":"2024-01-15","data":{{"target":"{id}","reason":"ошибка в дате"}}}}"#
        );
        let mut last: Vec<String> = lines[2 * third..].to_vec();
        last.push(void);
        // Brought up to date twice, through only the subjects the new events touch.
        for part in [&lines[third..2 * third], &last[..]] {
            append(&ledger, part);
            let fresh_cases = CaseList::default().rows(&ledger).unwrap();
            let fresh_signals = SignalList::default().rows(&ledger).unwrap();
            assert_eq!(format!("{:?}", cases.rows(&ledger).unwrap()), format!("{fresh_cases:?}"), "seed {seed}");
            assert_eq!(format!("{:?}", signals.rows(&ledger).unwrap()), format!("{fresh_signals:?}"), "seed {seed}");
        }
        assert!(cases.rows(&ledger).unwrap().len() > c0.len() && signals.rows(&ledger).unwrap().len() > s0.len());
    }
}

/// `append FILE` ends without the ledger's teardown (`Ledger::leave`) while its
/// digests are written behind the summary lock: they must still be on disk, marked
/// with the head, and equal a fresh fold, for the next command. A second append (a
/// ledger no longer fresh) updates them in place the same way.
#[test]
fn the_digests_of_a_command_line_append_are_there_for_the_next_command() {
    let (tmp, dir) = new_ledger();
    let lines = history_lines(200, 2022, 7);
    let (first, second) = lines.split_at(lines.len() * 2 / 3);
    for (n, part) in [first, second].into_iter().enumerate() {
        let file = tmp.path().join(format!("part-{n}.jsonl"));
        std::fs::write(&file, part.join("\n") + "\n").unwrap();
        let r = run(&dir, &["append", file.to_str().unwrap()], b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout.lines().count(), part.len(), "one ack a line");
        let ledger = Ledger::open(&dir).unwrap();
        let head = ledger.head();
        assert_eq!(ledger.store().summary_mark().unwrap(), Some((head.seq, head.hash)), "part {n}");
        let check = summary::verify(&ledger).unwrap();
        assert!(check.failures.is_empty() && check.checked > 0, "part {n}: {:?}", check.failures);
    }
}
