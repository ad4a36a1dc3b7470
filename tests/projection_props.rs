//! Property tests of the bitemporal projection (SPEC §5): for random valid histories
//! with random corrections and random lags between occurred and recorded, and any cut
//! (day D, knowledge T or seq N), the case states folded from the stored ledger equal
//! those folded from only the events inside the cut with the corrections applied by
//! hand here; voided events never show; the latest amendment wins.

use std::collections::{HashMap, HashSet};

use caseledger::domain::Payload;
use caseledger::gen::{history, GenEvent, Params};
use caseledger::ledger::event::parse_hex;
use caseledger::ledger::{AppendOptions, Ledger};
use caseledger::project::case::{fold, fold_all};
use caseledger::project::{Cut, World};
use caseledger::record::StateRules;
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

struct Loaded {
    _tmp: tempfile::TempDir,
    ledger: Ledger,
    events: Vec<GenEvent>,
    /// seq and hash of each generated event, by position.
    acks: Vec<(u64, [u8; 32])>,
}

fn load(seed: u64, families: usize) -> Loaded {
    let events = history(&Params { families, from_year: 2020, to_year: 2021, seed, corrections: true });
    let input: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
    let opts = AppendOptions { actor: "test".into(), now: Utc::now() };
    let mut rules = StateRules::new();
    let acks = match ledger.append_jsonl(input.as_bytes(), &opts, &mut rules) {
        Ok(acks) => acks,
        Err(e) => panic!("generated history (seed {seed}) must append cleanly: {e}"),
    };
    assert!(acks.iter().all(|a| !a.duplicate));
    let acks = acks.iter().map(|a| (a.seq, a.hash)).collect();
    Loaded { _tmp: tmp, ledger, events, acks }
}

/// The oracle: only events inside the cut, corrections applied by hand, fed to an
/// empty world as plain events.
fn by_hand(l: &Loaded, inside: impl Fn(usize) -> bool) -> (World, HashSet<u64>) {
    let mut voided: HashSet<String> = HashSet::new();
    let mut amended: HashMap<String, (serde_json::Value, Option<String>)> = HashMap::new();
    for (i, e) in l.events.iter().enumerate() {
        if !inside(i) {
            continue;
        }
        let target = e.data.get("target").and_then(|t| t.as_str()).map(String::from);
        match e.kind {
            "event_voided" => {
                voided.insert(target.unwrap());
            }
            "event_amended" => {
                // Later lines have larger seqs: the last one seen wins.
                let day = e.data.get("occurred_on").and_then(|d| d.as_str()).map(String::from);
                let prev_day = amended.get(target.as_ref().unwrap()).and_then(|(_, d)| d.clone());
                amended.insert(target.unwrap(), (e.data["data"].clone(), day.or(prev_day)));
            }
            _ => {}
        }
    }
    let mut world = World::default();
    let mut voided_seqs = HashSet::new();
    for (i, e) in l.events.iter().enumerate() {
        if !inside(i) || e.kind.starts_with("event_") {
            continue;
        }
        let id = e.id.to_string();
        let (seq, hash) = l.acks[i];
        if voided.contains(&id) {
            voided_seqs.insert(seq);
            continue;
        }
        let (data, day) = match amended.get(&id) {
            Some((data, day)) => (data.clone(), day.clone()),
            None => (e.data.clone(), None),
        };
        let on = day.map_or(e.occurred_on, |d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").unwrap());
        let payload = Payload::parse(e.kind, data.as_object().unwrap()).unwrap();
        world.add(seq, e.id, hash, Utc.from_utc_datetime(&e.recorded_at), on, payload).unwrap();
    }
    (world, voided_seqs)
}

fn check(l: &mut Loaded, cut: Cut, inside: impl Fn(usize) -> bool, on: NaiveDate) {
    let stored = World::load(&l.ledger, cut).unwrap();
    let (oracle, voided) = by_hand(l, inside);
    let got = fold_all(&stored, Some(on));
    let want = fold_all(&oracle, Some(on));
    assert_eq!(got, want, "cut {cut:?}, day {on}");
    for state in &got {
        for seq in &state.events {
            assert!(!voided.contains(seq), "voided seq {seq} shows in case {}", state.case);
        }
        // `case show` reads one case through the case index: same state.
        let seqs = l.ledger.case_events(&state.case.0).unwrap();
        let one = World::load_seqs(&l.ledger, &seqs, cut).unwrap();
        assert_eq!(fold(&one, &state.case, Some(on)).as_ref(), Some(state), "case {} through the index", state.case);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn known_at_cut_equals_hand_applied_corrections(seed in any::<u64>(), families in 4usize..40, t in 0.0f64..1.0, d in 0.0f64..1.0) {
        let mut l = load(seed, families);
        let n = l.events.len();
        let last = ((n as f64) * t) as usize;
        let stamp = l.events[last.min(n - 1)].recorded_at;
        let known_at = Utc.from_utc_datetime(&stamp);
        let first_day = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let on = first_day + chrono::Duration::days((800.0 * d) as i64);
        let events = l.events.clone();
        check(&mut l, Cut { known_at: Some(known_at), at_seq: None }, |i| events[i].recorded_at <= stamp, on);
        // And everything, as of the same day.
        check(&mut l, Cut::everything(), |_| true, on);
    }

    #[test]
    fn at_seq_cut_equals_hand_applied_corrections(seed in any::<u64>(), families in 4usize..40, t in 0.0f64..1.0, d in 0.0f64..1.0) {
        let mut l = load(seed, families);
        let upto = 1 + ((l.events.len() as f64) * t) as u64;
        let on = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days((800.0 * d) as i64);
        let acks = l.acks.clone();
        check(&mut l, Cut { known_at: None, at_seq: Some(upto) }, |i| acks[i].0 <= upto, on);
    }
}

#[test]
fn the_latest_amendment_wins_and_its_day_moves_the_event() {
    // Find a seed whose history amends a plan with a new day, then check it directly.
    for seed in 0..200u64 {
        let l = load(seed, 30);
        let Some(am) = l.events.iter().find(|e| e.kind == "event_amended" && e.data.get("occurred_on").is_some())
        else {
            continue;
        };
        let target = am.data["target"].as_str().unwrap();
        let world = World::load(&l.ledger, Cut::everything()).unwrap();
        let ev = world.event(&target.parse().unwrap()).unwrap();
        assert_eq!(ev.occurred_on.format("%Y-%m-%d").to_string(), am.data["occurred_on"].as_str().unwrap());
        assert!(!ev.amended_by.is_empty());
        let Payload::PlanSet(p) = &ev.payload else { panic!("plan amendments only") };
        assert_eq!(serde_json::json!(p.goals.0), am.data["data"]["goals"]);
        return;
    }
    panic!("no seed in 0..200 amends a day; the generator changed");
}

#[test]
fn generated_histories_append_cleanly() {
    for seed in [1u64, 2, 3, 42, 4242] {
        let l = load(seed, 300);
        assert_eq!(l.acks.len(), l.events.len());
        let kinds: HashSet<&str> = l.events.iter().map(|e| e.kind).collect();
        for kind in caseledger::ledger::event::input_types() {
            assert!(kinds.contains(kind), "seed {seed}: no {kind} generated");
        }
        assert!(parse_hex(&caseledger::ledger::event::hex(&l.ledger.head().hash)).is_some());
        l.ledger.verify().unwrap();
    }
}

#[test]
fn histories_append_cleanly_in_small_batches_and_rules_still_bite() {
    // Every batch after the first finds its cases and signals only in storage (through
    // the subject indexes), including the targets of corrections.
    for seed in [5u64, 6] {
        let events = history(&Params { families: 150, from_year: 2020, to_year: 2021, seed, corrections: true });
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
        let opts = AppendOptions { actor: "test".into(), now: Utc::now() };
        for (i, chunk) in events.chunks(1 + (seed as usize * 7) % 13).enumerate() {
            let input: String = chunk.iter().map(|e| e.to_json_line() + "\n").collect();
            if let Err(e) = ledger.append_jsonl(input.as_bytes(), &opts, &mut StateRules::new()) {
                panic!("seed {seed}, batch {i}: {e}");
            }
        }
        assert_eq!(ledger.head().seq as usize, events.len());
        // A signal received again, in a later append, is refused from storage.
        let again = events.iter().find(|e| e.kind == "signal_received").unwrap();
        let line = format!("{{\"type\":\"signal_received\",\"occurred_on\":\"2021-12-01\",\"data\":{}}}\n", again.data);
        let err = ledger.append_jsonl(line.as_bytes(), &opts, &mut StateRules::new()).unwrap_err();
        assert!(err.to_string().contains("уже принят"), "{err}");
        // Correcting a stored correction is refused from storage too.
        if let Some(c) = events.iter().find(|e| e.kind == "event_voided") {
            let line = format!(
                "{{\"type\":\"event_voided\",\"occurred_on\":\"2022-01-10\",\"data\":{{\"target\":\"{}\",\"reason\":\"x\"}}}}\n",
                c.id
            );
            let err = ledger.append_jsonl(line.as_bytes(), &opts, &mut StateRules::new()).unwrap_err();
            assert!(err.to_string().contains("исправление не исправляют"), "{err}");
        }
    }
}

#[test]
fn the_parallel_load_equals_a_sequential_fold() {
    // Large enough for World::load to parse in parallel chunks.
    let l = load(77, 400);
    assert!(l.events.len() > 3000);
    let cut =
        Cut { known_at: Some(Utc.from_utc_datetime(&l.events[l.events.len() * 2 / 3].recorded_at)), at_seq: None };
    let parallel = World::load(&l.ledger, cut).unwrap();
    let mut sequential = World::default();
    l.ledger
        .for_each(1, |seq, rec| {
            let inside = caseledger::ledger::event::recorded_at_of(&rec.canonical).unwrap() <= cut.known_at.unwrap();
            if inside {
                sequential.add_record(seq, &rec)?;
            }
            Ok(())
        })
        .unwrap();
    for on in ["2020-06-30", "2021-12-31"] {
        let on = NaiveDate::parse_from_str(on, "%Y-%m-%d").unwrap();
        assert_eq!(fold_all(&parallel, Some(on)), fold_all(&sequential, Some(on)));
    }
    assert_eq!(parallel.last_seq, sequential.last_seq);
}
