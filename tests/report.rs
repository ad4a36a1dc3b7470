//! `report create` / `report verify` (SPEC §10) on the «Мама рядом» replay: a report
//! made in January 2021 verifies, keeps verifying after the spring-2021 corrections,
//! names exactly the events that moved P1, and fails against a foreign history and
//! after a hand edit.

mod common;
use common::*;

use std::path::{Path, PathBuf};

const REPLAY: &str = include_str!("../replay/mama-ryadom-2019-2020/events.jsonl");

/// The replay's events recorded by 2021-01-31 (the report's day; see its README).
fn split() -> (String, String) {
    let (mut then, mut later) = (String::new(), String::new());
    for line in REPLAY.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let target = if v["recorded_at"].as_str().unwrap() <= "2021-01-31T23:59:59Z" { &mut then } else { &mut later };
        target.push_str(line);
        target.push('\n');
    }
    (then, later)
}

fn create(dir: &Path, file: &Path) {
    let r = run(
        dir,
        &["report", "create", "--year", "2020", "--known-at", "2021-01-31", "--out", file.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn verify(dir: &Path, file: &Path) -> (i32, serde_json::Value, String) {
    let r = run(dir, &["report", "verify", file.to_str().unwrap(), "--json"], b"");
    (r.code, serde_json::from_str(r.stdout.trim()).unwrap_or_default(), r.stderr)
}

fn january_report() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let (tmp, dir) = new_ledger();
    let (then, later) = split();
    assert_eq!(run(&dir, &["append"], then.as_bytes()).code, 0);
    let file = tmp.path().join("report-2020.json");
    create(&dir, &file);
    (tmp, dir, file, later)
}

#[test]
fn a_report_verifies_and_keeps_verifying_after_corrections() {
    let (_tmp, dir, file, later) = january_report();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut members: Vec<&str> = report.as_object().unwrap().keys().map(String::as_str).collect();
    members.sort();
    assert_eq!(
        members,
        ["checkpoint", "consistency", "created_at", "definitions", "figures", "hash", "known_at", "ledger", "period"]
    );
    // No signing key: no checkpoint (SPEC §14), and both members say so.
    assert!(report["checkpoint"].is_null() && report["consistency"].is_null());
    let p1 = report["figures"].as_array().unwrap().iter().find(|f| f["id"] == "P1").unwrap();
    assert_eq!(
        (p1["numerator"].as_u64(), p1["denominator"].as_u64()),
        (Some(16), Some(29)),
        "seed 001: 16 of 29 as reported"
    );
    let (code, v, _) = verify(&dir, &file);
    assert_eq!(code, 0);
    assert_eq!(v["ok"], true);
    assert_eq!(v["changed"], serde_json::json!([]));
    // The spring-2021 corrections, and an unrelated expense, are appended later.
    assert_eq!(run(&dir, &["append"], later.as_bytes()).code, 0);
    let expense = r#"{"type":"expense_recorded","occurred_on":"2021-06-30","data":{"program":"МР","amount":"100"}}"#;
    assert_eq!(run(&dir, &["append"], expense.as_bytes()).code, 0);
    let (code, v, stderr) = verify(&dir, &file);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["ok"], true);
    let changed = v["changed"].as_array().unwrap();
    let p1 = changed.iter().find(|c| c["id"] == "P1").expect("P1 moved");
    assert_eq!(p1["now"]["numerator"], 18, "seed 001: 18 of 29 as known now");
    // The replay's README: case 9/2020_МР's closing of 24.12.2020 entered late (seq
    // 753, recorded 2021-03-15); case 11/2020_МР's closing (seq 747, recorded
    // 2021-01-20 — inside the report — but dated 14.01.2021) amended to 29.12.2020 on
    // 2021-04-20 (seq 757). Those two later events, and nothing else, moved P1.
    let seqs: Vec<u64> = p1["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [753, 757]);
    let types: Vec<&str> = p1["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["case_closed", "event_amended"]);
    assert_eq!(
        v["changed"].as_array().unwrap().iter().find(|c| c["id"] == "P1_carried_over").unwrap()["events"],
        p1["events"]
    );
    // Figures that did not move are not listed.
    assert!(changed.iter().all(|c| c["id"] != "reach" && c["id"] != "P2"));
}

#[test]
fn a_report_fails_against_a_different_history() {
    let (tmp, _dir, file, _) = january_report();
    // Another ledger: the same events but one family's code changed early on.
    let (then, _) = split();
    let foreign = then.replacen("Ф-18-001", "Ф-18-999", 1);
    let other = tmp.path().join("other");
    run(&other, &["init"], b"");
    assert_eq!(run(&other, &["append"], foreign.as_bytes()).code, 0);
    let (code, v, stderr) = verify(&other, &file);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(v["ok"], false);
    assert!(v["failures"][0].as_str().unwrap().contains("история другая"), "{v}");
    // And against a shorter one.
    let short = tmp.path().join("short");
    run(&short, &["init"], b"");
    run(&short, &["append"], then.lines().take(10).collect::<Vec<_>>().join("\n").as_bytes());
    let (code, v, _) = verify(&short, &file);
    assert_eq!(code, 3);
    assert!(v["failures"][0].as_str().unwrap().contains("в реестре нет события"), "{v}");
}

#[test]
fn a_report_edited_by_hand_fails() {
    let (tmp, dir, file, _) = january_report();
    let text = std::fs::read_to_string(&file).unwrap();
    // A figure changed in the file: the hash no longer matches.
    let mut report: serde_json::Value = serde_json::from_str(&text).unwrap();
    for f in report["figures"].as_array_mut().unwrap() {
        if f["id"] == "P1" {
            f["numerator"] = serde_json::json!(18);
        }
    }
    let edited = tmp.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    let (code, v, _) = verify(&dir, &edited);
    assert_eq!(code, 3);
    assert!(v["failures"][0].as_str().unwrap().contains("хеш не совпадает"), "{v}");
    assert!(
        v["failures"].as_array().unwrap().iter().any(|f| f.as_str().unwrap().contains("показатель P1 пересчитывается")),
        "{v}"
    );
    // Human output names what failed too.
    let r = run(&dir, &["report", "verify", edited.to_str().unwrap()], b"");
    assert_eq!(r.code, 3);
    assert!(r.stdout.contains("НЕ проходит проверку"));
    // A definition edited by hand (a different figure would follow): hash fails.
    let loose = text.replacen("\"stabilized\"", "\"transferred\"", 1);
    std::fs::write(&edited, loose).unwrap();
    assert_eq!(verify(&dir, &edited).0, 3);
    // Not JSON at all.
    std::fs::write(&edited, "{").unwrap();
    assert_eq!(run(&dir, &["report", "verify", edited.to_str().unwrap()], b"").code, 3);
}
