//! The SQL peer (benches/peer) gives the same P1 and P3.2 as caseledger on generated
//! histories with corrections and late entries, for several periods and cuts. This is
//! what lets the scale benchmark compare their speed on the same figure.

#[path = "../benches/peer/sqlite.rs"]
mod peer;

use caseledger::gen::{history, Params};
use caseledger::indicators::{self, Period};
use caseledger::ledger::{AppendOptions, Ledger};
use caseledger::project::{parse_known_at, Cut};
use caseledger::record::StateRules;

fn figures(ledger: &Ledger, from: &str, to: &str, known_at: Option<&str>) -> [i64; 4] {
    let defs = indicators::load_definitions(peer::P1_P32_DEFS.as_bytes(), "peer").unwrap();
    let period = Period { from: from.parse().unwrap(), to: to.parse().unwrap() };
    let cut = Cut { known_at: known_at.map(|k| parse_known_at(k).unwrap()), at_seq: None };
    let c = indicators::compute(ledger, period, cut, &defs).unwrap();
    let int = |v: &serde_json::Value| v.as_i64().unwrap();
    let f: Vec<serde_json::Value> = c.figures.iter().map(|f| f.to_json()).collect();
    [int(&f[0]["numerator"]), int(&f[0]["denominator"]), int(&f[1]["numerator"]), int(&f[1]["denominator"])]
}

#[test]
fn sqlite_computes_the_same_p1_and_p3_2() {
    for seed in [3, 11] {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
        let events = history(&Params { families: 1500, from_year: 2018, to_year: 2023, seed, corrections: true });
        let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
        let opts = AppendOptions { actor: "gen".into(), now: chrono::Utc::now() };
        ledger.append_jsonl(text.as_bytes(), &opts, &mut StateRules::new()).unwrap();
        let export = tmp.path().join("export.jsonl");
        ledger.export(&mut std::fs::File::create(&export).unwrap()).unwrap();
        let db = tmp.path().join("peer.sqlite");
        assert_eq!(peer::load(&db, &export).unwrap(), ledger.head().seq);
        let mut nonzero = 0;
        for (from, to) in [("2019-01-01", "2019-12-31"), ("2021-01-01", "2021-12-31"), ("2020-04-01", "2022-06-30")] {
            for known_at in [None, Some("2021-06-30T23:59:59Z"), Some("2022-01-31T23:59:59Z")] {
                let ours = figures(&ledger, from, to, known_at);
                let sql = peer::p1_p32(&db, from, to, known_at, None).unwrap();
                assert_eq!(sql, ours, "seed {seed}, {from}..{to}, known at {known_at:?}");
                nonzero += ours.iter().filter(|v| **v > 0).count();
            }
        }
        assert!(nonzero > 20, "the histories give real figures to compare");
    }
}
