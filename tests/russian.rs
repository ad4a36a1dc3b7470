//! SPEC §21: every refusal a person can see is Russian — no English words, no event
//! type's code, no day written `2021-01-31`. This walks every way an event's `data` can
//! be refused by its parser (one case per refusal of `domain::payload`), the ledger's
//! own checks of a day, and the command line's refusals of a period, a day and a role.
//! The state rules are walked by `tests/rules.rs`, whose every refusal passes the same
//! check ([`caseledger::say::slip`]); the web forms and the table import by theirs.

mod common;
use common::*;

use caseledger::domain::payload::Payload;
use caseledger::say::slip;

/// Parses `data` as an event of type `kind`; it must be refused on `field`, in Russian.
fn refused(kind: &str, data: &str, field: &str) -> String {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(data).expect("test data is JSON");
    let r = match Payload::parse(kind, &map) {
        Ok(_) => panic!("{kind} {data}: expected a refusal"),
        Err(r) => r,
    };
    assert_eq!(r.field.as_deref(), Some(field), "{kind} {data}: {}", r.reason);
    if let Some(why) = slip(&r.reason) {
        panic!("{kind} {data}: «{}» is not Russian: {why}", r.reason);
    }
    r.reason
}

const LONG: usize = caseledger::limits::MAX_TEXT_CHARS + 1;

#[test]
fn every_refusal_of_a_payload_is_russian() {
    let long = "а".repeat(LONG);
    let cases: Vec<(&str, String, &str)> = vec![
        // Missing, unknown and mistyped members of every kind.
        ("signal_received", r#"{"family":"Ф1","channel":"phone"}"#.into(), "data.signal"),
        ("signal_received", r#"{"signal":"С1","channel":"pigeon"}"#.into(), "data.channel"),
        ("signal_received", r#"{"signal":"С1","channel":"phone","name":"x"}"#.into(), "data.name"),
        ("signal_received", r#"{"signal":5,"channel":"phone"}"#.into(), "data.signal"),
        ("signal_received", r#"{"signal":"","channel":"phone"}"#.into(), "data.signal"),
        ("signal_received", r#"{"signal":"С\u200b1","channel":"phone"}"#.into(), "data.signal"),
        ("signal_received", format!(r#"{{"signal":"{}","channel":"phone"}}"#, "С".repeat(200)), "data.signal"),
        ("signal_resolved", r#"{"signal":"С1","resolution":"case_opened"}"#.into(), "data.case"),
        ("signal_resolved", r#"{"signal":"С1","resolution":"redirected","redirected_to":""}"#.into(), "data.redirected_to"),
        ("signal_resolved", format!(r#"{{"signal":"С1","resolution":"redirected","redirected_to":"{long}"}}"#), "data.redirected_to"),
        ("signal_resolved", r#"{"signal":"С1","resolution":"redirected","redirected_to":"фонд\u0007"}"#.into(), "data.redirected_to"),
        ("signal_resolved", r#"{"signal":"С1","resolution":"redirected","redirected_to":"фонд\u202e"}"#.into(), "data.redirected_to"),
        ("case_opened", r#"{"case":"К1","family":"Ф1","program":"МР"}"#.into(), "data.children"),
        ("case_opened", r#"{"case":"К1","family":"Ф1","program":"МР","children":{}}"#.into(), "data.children"),
        ("case_opened", r#"{"case":"К1","family":"Ф1","program":"МР","children":[{"code":"Р1"},{"code":"Р1"}]}"#.into(), "data.children"),
        ("case_opened", r#"{"case":"К1","family":"Ф1","program":"МР","children":[{"code":"Р1","born":"31.13.2022"}]}"#.into(), "data.children[0].born"),
        ("child_added", r#"{"case":"К1","child":{"code":"Р1","born":"2020-13"}}"#.into(), "data.child.born"),
        ("curator_assigned", r#"{"case":"К1"}"#.into(), "data.curator"),
        ("efo_scored", r#"{"case":"К1","stage":"entry"}"#.into(), "data.weak_total"),
        ("efo_scored", r#"{"case":"К1","stage":"start","weak_total":3}"#.into(), "data.stage"),
        ("efo_scored", r#"{"case":"К1","stage":"entry","weak_total":-1}"#.into(), "data.weak_total"),
        ("efo_scored", r#"{"case":"К1","stage":"entry","weak_total":"3"}"#.into(), "data.weak_total"),
        ("efo_scored", r#"{"case":"К1","stage":"entry","weak_total":99,"domains":{"housing_income":2,"health_safety":2,"self_care":2,"education":2,"identity":2,"emotional":2,"family_relations":2,"behaviour":2}}"#.into(), "data.weak_total"),
        ("efo_scored", r#"{"case":"К1","stage":"entry","domains":{"housing_income":2}}"#.into(), "data.domains.health_safety"),
        ("efo_scored", r#"{"case":"К1","stage":"entry","weak_total":3,"children":[{"code":"Р1","level":"fine"}]}"#.into(), "data.children[0].level"),
        ("efo_scored", r#"{"case":"К1","stage":"entry","weak_total":3,"children":[{"code":"Р1","level":"crisis"},{"code":"Р1","level":"crisis"}]}"#.into(), "data.children"),
        ("plan_set", r#"{"case":"К1","goals":0,"achieved":0}"#.into(), "data.goals"),
        ("plan_set", r#"{"case":"К1","goals":2,"achieved":3}"#.into(), "data.achieved"),
        ("plan_set", r#"{"case":"К1","goals":true,"achieved":0}"#.into(), "data.goals"),
        ("aid_issued", r#"{"kind":"food","quantity":1}"#.into(), "data.case"),
        ("aid_issued", r#"{"case":"К1","kind":"food","quantity":0}"#.into(), "data.quantity"),
        ("aid_issued", r#"{"case":"К1","kind":"food","quantity":1,"value":"12.345"}"#.into(), "data.value"),
        ("aid_issued", r#"{"case":"К1","kind":"food","quantity":1,"value":"1 500"}"#.into(), "data.value"),
        ("aid_issued", r#"{"case":"К1","kind":"cake","quantity":1}"#.into(), "data.kind"),
        ("service_provided", r#"{"kind":"psychological"}"#.into(), "data.case"),
        ("service_provided", r#"{"case":"К1","kind":"psychological","sessions":0}"#.into(), "data.sessions"),
        ("shelter_admitted", r#"{"case":"К1","until":"2021-02-30"}"#.into(), "data.until"),
        ("shelter_extended", r#"{"case":"К1"}"#.into(), "data.until"),
        ("shelter_left", r#"{"case":["К1"]}"#.into(), "data.case"),
        ("case_closed", r#"{"case":"К1","outcome":"gone"}"#.into(), "data.outcome"),
        ("case_closed", r#"{"case":"К1","outcome":"stabilized","children":[{"code":"Р1","in_family":"да"}]}"#.into(), "data.children[0].in_family"),
        ("case_closed", r#"{"case":"К1","outcome":"stabilized","children":[{"code":"Р1","in_family":true},{"code":"Р1","in_family":true}]}"#.into(), "data.children"),
        ("follow_up_done", r#"{"case":"К1","months":6}"#.into(), "data.stable"),
        ("follow_up_done", r#"{"case":"К1","stable":true,"children":[{"code":"Р1","in_family":true},{"code":"Р1","in_family":false}]}"#.into(), "data.children"),
        ("expense_recorded", r#"{"program":"МР","amount":"1500,50"}"#.into(), "data.amount"),
        ("expense_recorded", r#"{"program":"МР","amount":1500}"#.into(), "data.amount"),
        ("event_voided", r#"{"target":"не-запись","reason":"ошибка"}"#.into(), "data.target"),
        ("event_voided", r#"{"target":"00000000-0000-7000-8000-000000000001","reason":" "}"#.into(), "data.reason"),
        ("event_amended", r#"{"target":"00000000-0000-7000-8000-000000000001","reason":"ошибка","occurred_on":"1.1.2021","data":{}}"#.into(), "data.occurred_on"),
        ("report_published", r#"{"report":"00","definitions":"00"}"#.into(), "data.definitions"),
        ("report_published", format!(r#"{{"report":"{h}","definitions":"{h}","period":{{"from":"2021-02-01","to":"2021-01-01"}},"known_at":"2021-03-01T00:00:00Z","seq":5,"files":{{}}}}"#, h = "a".repeat(64)), "data.period.to"),
        ("report_published", format!(r#"{{"report":"{h}","definitions":"{h}","period":{{"from":"2021-01-01","to":"2021-02-01"}},"known_at":"вчера","seq":5,"files":{{}}}}"#, h = "a".repeat(64)), "data.known_at"),
        ("report_published", format!(r#"{{"report":"{h}","definitions":"{h}","period":{{"from":"2021-01-01","to":"2021-02-01"}},"known_at":"2021-03-01T00:00:00Z","seq":-5,"files":{{}}}}"#, h = "a".repeat(64)), "data.seq"),
        ("report_published", format!(r#"{{"report":"{h}","definitions":"{h}","period":{{"from":"2021-01-01","to":"2021-02-01"}},"known_at":"2021-03-01T00:00:00Z","seq":5,"files":{{"evil.sh":"{h}"}}}}"#, h = "a".repeat(64)), "data.files.evil.sh"),
        ("no_such_type", "{}".into(), "type"),
    ];
    let mut reasons = std::collections::BTreeSet::new();
    for (kind, data, field) in &cases {
        reasons.insert(refused(kind, data, field));
    }
    // The walk meets many different refusals, not one message many times.
    assert!(reasons.len() >= 25, "only {} different refusals: {reasons:#?}", reasons.len());
}

#[test]
fn the_vocabulary_is_offered_in_words() {
    let why = refused("efo_scored", r#"{"case":"К1","stage":"start","weak_total":3}"#, "data.stage");
    assert!(why.contains("при входе") || why.contains("вход"), "{why}");
    assert!(why.contains("`entry`"), "the code to type is shown as code: {why}");
}

#[test]
fn the_ledger_and_the_command_line_refuse_in_russian() {
    let (_tmp, dir) = new_ledger();
    // A day after the day of recording.
    let r = run(&dir, &["append"], b"{\"type\":\"signal_received\",\"occurred_on\":\"2999-01-01\",\"data\":{\"signal\":\"C1\",\"channel\":\"phone\"}}\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let reason = r.stderr.lines().next().unwrap_or_default().splitn(3, ": ").nth(2).unwrap_or_default().to_string();
    assert!(reason.contains("01.01.2999"), "{reason}");
    assert_eq!(slip(&reason), None, "{reason}");
    // Periods, days and roles given on the command line.
    for args in [
        vec!["indicators", "--from", "31.13.2021", "--to", "2021-12-31"],
        vec!["indicators", "--year", "20x1"],
        vec!["indicators", "--quarter", "2021Q5"],
        vec!["indicators", "--from", "2021-12-31", "--to", "2021-01-01"],
        vec!["indicators"],
        vec!["cases", "--on", "вчера"],
        vec!["cases", "--known-at", "вчера"],
        vec!["user", "add", "кто-то", "--role", "boss"],
        vec!["due", "--on", "завтра"],
        vec!["case", "show", "К-404"],
    ] {
        let r = run(&dir, &args, b"");
        assert!(r.code == 1 || r.code == 2, "{args:?}: {} {}", r.code, r.stderr);
        let line = r.stderr.trim();
        assert!(!line.is_empty(), "{args:?}: says nothing");
        assert_eq!(slip(line), None, "{args:?}: «{line}» is not Russian");
    }
}

/// The envelope of an appended line (SPEC §3, §13): every refusal `append` gives a line
/// of JSONL before its `data` is read, in Russian but for SPEC §13's own English
/// phrases (`not UTF-8 (perhaps windows-1251: …)`, `one event per line (JSONL)`).
#[test]
fn every_refusal_of_an_appended_line_is_russian() {
    let (_tmp, dir) = new_ledger();
    let big = format!(
        r#"{{"type":"expense_recorded","occurred_on":"2021-01-01","data":{{"program":"{}"}}}}"#,
        "я".repeat(40_000)
    );
    let lines: Vec<Vec<u8>> = vec![
        b"[1,2]".to_vec(),
        b"{\"type\":\"signal_received\",\"occurred_on\":\"2021-01-01\",\"data\":{\"signal\":\"C1\",\"family\":null,\"channel\":\"phone\"}}".to_vec(),
        b"{\"type\":\"signal_received\",\"seq\":5,\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"type\":\"signal_received\",\"name\":\"x\",\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"type\":\"no_such\",\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"type\":\"report_published\",\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"id\":\"x-1\",\"type\":\"signal_received\",\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"type\":\"signal_received\",\"occurred_on\":\"01.01.2021\",\"data\":{}}".to_vec(),
        b"{\"type\":\"signal_received\",\"occurred_on\":\"2021-01-01\",\"recorded_at\":\"today\",\"data\":{}}".to_vec(),
        b"{\"type\":\"signal_received\",\"occurred_on\":\"2021-01-01\"}".to_vec(),
        b"{\"type\":\"signal_received\",\"occurred_on\":\"2021-01-01\",\"data\":[]}".to_vec(),
        b"{\"type\":5,\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"type\":\"aid_issued\",\"occurred_on\":\"2021-01-01\",\"data\":{\"quantity\":1.5}}".to_vec(),
        b"{\"type\":\"aid_issued\",\"occurred_on\":\"2021-01-01\",\"data\":{\"quantity\":9007199254740993}}".to_vec(),
        b"{\"type\":\"aid_issued\",\"type\":\"aid_issued\",\"occurred_on\":\"2021-01-01\",\"data\":{}}".to_vec(),
        b"{\"type\":\"signal_received\",\"occurred_on\":\"2021-01-01\",\"actor\":\"\",\"data\":{}}".to_vec(),
        b"{not json".to_vec(),
        big.into_bytes(),
        b"\xff\xfe".to_vec(),
        b"{".to_vec(),
    ];
    let mut said = std::collections::BTreeSet::new();
    for line in &lines {
        let mut input = line.clone();
        input.push(b'\n');
        let r = run(&dir, &["append"], &input);
        assert_eq!(r.code, 1, "{}: {}", String::from_utf8_lossy(line), r.stderr);
        let first = r.stderr.lines().next().unwrap_or_default();
        // `line 1: FIELD: reason` or `line 1: reason`: the field is what was typed.
        let rest = first.strip_prefix("line 1: ").unwrap_or(first);
        let reason = match rest.split_once(": ") {
            Some((field, reason)) if !field.contains(' ') => reason,
            _ => rest,
        };
        assert_eq!(caseledger::say::slip(reason), None, "«{first}» is not Russian");
        said.insert(reason.to_string());
    }
    assert_eq!(verified(&dir).0, 0, "nothing written");
    assert!(said.len() >= 18, "the walk met {} different refusals: {said:#?}", said.len());
}
