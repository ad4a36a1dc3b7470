//! Property (issue 4): figures as known at T on the full ledger equal the figures on a
//! ledger holding only the events recorded by T — for random histories with
//! corrections, random T and several periods; the cut's ledger seq and head match too.

use caseledger::gen::{history, Params};
use caseledger::indicators::{compute, default_definitions, Period};
use caseledger::ledger::{AppendOptions, Ledger};
use caseledger::project::Cut;
use caseledger::record::StateRules;
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

fn ledger_of(lines: &[String], dir: &std::path::Path) -> Ledger {
    let l = Ledger::init(dir).unwrap();
    if !lines.is_empty() {
        let opts = AppendOptions { actor: "t".into(), now: Utc::now() };
        l.append_jsonl(lines.concat().as_bytes(), &opts, &mut StateRules::new()).unwrap();
    }
    l
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn known_at_equals_the_prefix_ledger(seed in any::<u64>(), families in 5usize..60, t in 0.0f64..1.0) {
        let events = history(&Params { families, from_year: 2020, to_year: 2021, seed, corrections: true });
        let lines: Vec<String> = events.iter().map(|e| e.to_json_line() + "\n").collect();
        let tmp = tempfile::tempdir().unwrap();
        let full = ledger_of(&lines, &tmp.path().join("full"));
        let k = ((events.len() as f64) * t) as usize;
        let stamp = events[k.min(events.len() - 1)].recorded_at;
        let prefix: Vec<String> = events.iter().zip(&lines).filter(|(e, _)| e.recorded_at <= stamp).map(|(_, l)| l.clone()).collect();
        let part = ledger_of(&prefix, &tmp.path().join("prefix"));
        let defs = default_definitions();
        let known_at = Some(Utc.from_utc_datetime(&stamp));
        for (from, to) in [("2020-01-01", "2020-12-31"), ("2021-01-01", "2021-12-31"), ("2020-07-01", "2020-09-30"), ("2020-01-01", "2021-12-31")] {
            let p = Period { from: NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap(), to: NaiveDate::parse_from_str(to, "%Y-%m-%d").unwrap() };
            let a = compute(&full, p, Cut { known_at, at_seq: None }, &defs).unwrap();
            let b = compute(&part, p, Cut::everything(), &defs).unwrap();
            prop_assert_eq!(&a.figures, &b.figures, "period {}–{}, known at {}", from, to, stamp);
            prop_assert_eq!((a.seq, a.head), (b.seq, b.head));
        }
    }
}
