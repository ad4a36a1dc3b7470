//! One test per state rule of SPEC §4 and correction rule of §4.14: the refused line
//! gets exit 1, a one-line message naming the line and the field, and the head does
//! not move. The allowed neighbours of each rule (late entry, aid after closing, …)
//! are checked to pass.

mod common;
use common::*;

fn id(n: u32) -> String {
    format!("00000000-0000-7000-8000-{n:012}")
}

/// seq 1–7: signal С1 → case К1 (МР, children Р1 Р2, entry ЕФО, in the crisis centre
/// since 2021-03-04); case К2 (КЦ, child Р3) opened 2021-03-05, closed 2021-04-01.
fn base() -> String {
    let lines = [
        (1, "signal_received", "2021-03-01", r#"{"signal":"С1","family":"Ф1","channel":"phone"}"#.to_string()),
        (2, "case_opened", "2021-03-02", r#"{"case":"К1","family":"Ф1","program":"МР","signal":"С1","children":[{"code":"Р1"},{"code":"Р2","born":"2020-05"}]}"#.to_string()),
        (3, "signal_resolved", "2021-03-02", r#"{"signal":"С1","resolution":"case_opened","case":"К1"}"#.to_string()),
        (4, "efo_scored", "2021-03-03", r#"{"case":"К1","stage":"entry","weak_total":20,"children":[{"code":"Р1","level":"crisis"}]}"#.to_string()),
        (5, "shelter_admitted", "2021-03-04", r#"{"case":"К1","until":"2021-06-01"}"#.to_string()),
        (6, "case_opened", "2021-03-05", r#"{"case":"К2","family":"Ф2","program":"КЦ","children":[{"code":"Р3"}]}"#.to_string()),
        (7, "case_closed", "2021-04-01", r#"{"case":"К2","outcome":"stabilized"}"#.to_string()),
    ];
    lines
        .iter()
        .map(|(n, t, d, data)| {
            format!("{{\"id\":\"{}\",\"type\":\"{t}\",\"occurred_on\":\"{d}\",\"recorded_at\":\"{d}T12:00:00Z\",\"data\":{data}}}\n", id(*n))
        })
        .collect()
}

fn ev(t: &str, d: &str, data: &str) -> String {
    format!("{{\"type\":\"{t}\",\"occurred_on\":\"{d}\",\"data\":{data}}}\n")
}

fn with_base() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = new_ledger();
    let r = run(&dir, &["append"], base().as_bytes());
    assert_eq!(r.code, 0, "base history: {}", r.stderr);
    (tmp, dir)
}

/// Appends `input`; expects its line `line` refused on `field` with `words` in the
/// reason, and nothing written.
fn refused(input: &str, line: usize, field: &str, words: &str) {
    let (_tmp, dir) = with_base();
    let before = verified(&dir);
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 1, "expected a refusal: {}", r.stderr);
    let first = r.stderr.lines().next().unwrap_or_default();
    let expect = format!("line {line}: {field}: ");
    assert!(first.starts_with(&expect), "{first:?} should start with {expect:?}");
    assert!(first.contains(words), "{first:?} should say {words:?}");
    // SPEC §21: the reason is Russian (no English, no event codes, no ISO days).
    let reason = &first[expect.len()..];
    assert_eq!(caseledger::say::slip(reason), None, "{reason:?} is not Russian");
    assert_eq!(verified(&dir), before, "head unchanged");
}

fn accepted(input: &str) -> tempfile::TempDir {
    let (tmp, dir) = with_base();
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 0, "expected acceptance: {}", r.stderr);
    tmp
}

#[test]
fn event_about_an_unknown_case() {
    refused(&ev("plan_set", "2021-03-10", r#"{"case":"К9","goals":2,"achieved":0}"#), 1, "data.case", "не открыт");
    refused(
        &ev("aid_issued", "2021-03-10", r#"{"case":"К9","kind":"food","quantity":1}"#),
        1,
        "data.case",
        "не открыт",
    );
}

#[test]
fn event_about_an_unknown_signal() {
    refused(
        &ev("signal_resolved", "2021-03-10", r#"{"signal":"С9","resolution":"urgent_help"}"#),
        1,
        "data.signal",
        "не принят",
    );
    refused(
        &ev("aid_issued", "2021-03-10", r#"{"signal":"С9","kind":"food","quantity":1}"#),
        1,
        "data.signal",
        "не принят",
    );
    refused(
        &ev("case_opened", "2021-03-10", r#"{"case":"К5","family":"Ф5","program":"МР","signal":"С9","children":[]}"#),
        1,
        "data.signal",
        "не принят",
    );
}

#[test]
fn a_signal_is_received_once() {
    refused(
        &ev("signal_received", "2021-03-10", r#"{"signal":"С1","channel":"other"}"#),
        1,
        "data.signal",
        "уже принят",
    );
}

#[test]
fn a_signal_is_resolved_once() {
    refused(
        &ev("signal_resolved", "2021-03-10", r#"{"signal":"С1","resolution":"urgent_help"}"#),
        1,
        "data.signal",
        "уже отработан",
    );
}

#[test]
fn resolving_by_a_case_needs_the_case_opened() {
    let input = ev("signal_received", "2021-03-10", r#"{"signal":"С2","channel":"phone"}"#)
        + &ev("signal_resolved", "2021-03-10", r#"{"signal":"С2","resolution":"case_opened","case":"К9"}"#);
    refused(&input, 2, "data.case", "не открыт");
}

#[test]
fn a_case_is_opened_once() {
    refused(
        &ev("case_opened", "2021-03-10", r#"{"case":"К1","family":"Ф1","program":"МР","children":[]}"#),
        1,
        "data.case",
        "уже открыт",
    );
}

#[test]
fn nothing_before_the_opening_day() {
    refused(
        &ev("plan_set", "2021-03-01", r#"{"case":"К1","goals":2,"achieved":0}"#),
        1,
        "occurred_on",
        "раньше открытия",
    );
}

#[test]
fn after_closing_only_monitoring_aid_and_services() {
    refused(&ev("plan_set", "2021-04-02", r#"{"case":"К2","goals":2,"achieved":1}"#), 1, "occurred_on", "закрыт");
    refused(
        &ev("efo_scored", "2021-04-05", r#"{"case":"К2","stage":"exit","weak_total":3}"#),
        1,
        "occurred_on",
        "закрыт",
    );
    refused(&ev("shelter_admitted", "2021-04-05", r#"{"case":"К2"}"#), 1, "occurred_on", "закрыт");
    // Late entry of what happened before closing, and aid or services after it, pass.
    accepted(
        &(ev("plan_set", "2021-03-20", r#"{"case":"К2","goals":2,"achieved":2}"#)
            + &ev("efo_scored", "2021-04-01", r#"{"case":"К2","stage":"exit","weak_total":3}"#)
            + &ev("aid_issued", "2021-05-01", r#"{"case":"К2","kind":"clothes","quantity":2,"value":"800"}"#)
            + &ev("service_provided", "2021-05-02", r#"{"case":"К2","kind":"legal"}"#)
            + &ev("efo_scored", "2021-10-01", r#"{"case":"К2","stage":"follow_up","weak_total":2}"#)
            + &ev(
                "follow_up_done",
                "2021-10-01",
                r#"{"case":"К2","months":6,"stable":true,"children":[{"code":"Р3","in_family":true}]}"#,
            )),
    );
}

#[test]
fn monitoring_needs_a_closed_case() {
    refused(
        &ev("efo_scored", "2021-05-01", r#"{"case":"К1","stage":"follow_up","weak_total":3}"#),
        1,
        "data.case",
        "ещё не закрыт",
    );
    refused(&ev("follow_up_done", "2021-05-01", r#"{"case":"К1","stable":true}"#), 1, "data.case", "ещё не закрыт");
}

#[test]
fn monitoring_is_not_dated_before_closing() {
    refused(
        &ev("efo_scored", "2021-03-30", r#"{"case":"К2","stage":"follow_up","weak_total":3}"#),
        1,
        "occurred_on",
        "раньше закрытия",
    );
    refused(&ev("follow_up_done", "2021-03-31", r#"{"case":"К2","stable":true}"#), 1, "occurred_on", "раньше закрытия");
}

#[test]
fn child_codes_must_belong_to_the_case() {
    refused(
        &ev(
            "efo_scored",
            "2021-03-10",
            r#"{"case":"К1","stage":"interim","weak_total":15,"children":[{"code":"Р3","level":"crisis"}]}"#,
        ),
        1,
        "data.children[0].code",
        "не относится",
    );
    refused(
        &ev(
            "case_closed",
            "2021-03-10",
            r#"{"case":"К1","outcome":"stabilized","children":[{"code":"Р1","in_family":true},{"code":"Р9","in_family":true}]}"#,
        ),
        1,
        "data.children[1].code",
        "не относится",
    );
    // A child added during the case belongs to it from then on.
    accepted(
        &(ev("child_added", "2021-03-10", r#"{"case":"К1","child":{"code":"Р4","born":"2021-03-09"}}"#)
            + &ev(
                "efo_scored",
                "2021-03-11",
                r#"{"case":"К1","stage":"interim","weak_total":15,"children":[{"code":"Р4","level":"satisfactory"}]}"#,
            )),
    );
}

#[test]
fn a_child_is_added_once() {
    refused(
        &ev("child_added", "2021-03-10", r#"{"case":"К1","child":{"code":"Р1"}}"#),
        1,
        "data.child.code",
        "уже есть",
    );
}

#[test]
fn a_case_closes_once() {
    refused(&ev("case_closed", "2021-03-30", r#"{"case":"К2","outcome":"transferred"}"#), 1, "data.case", "уже закрыт");
}

#[test]
fn shelter_admission_only_when_not_in_the_shelter() {
    refused(&ev("shelter_admitted", "2021-03-10", r#"{"case":"К1"}"#), 1, "occurred_on", "уже в кризисном центре");
    // A late admission dated before an existing stay that never ended breaks the order.
    refused(&ev("shelter_admitted", "2021-03-03", r#"{"case":"К1"}"#), 1, "occurred_on", "уже в кризисном центре");
}

#[test]
fn shelter_extension_and_leaving_only_when_in_the_shelter() {
    let left = ev("shelter_left", "2021-03-10", r#"{"case":"К1"}"#);
    refused(
        &(left.clone() + &ev("shelter_extended", "2021-03-11", r#"{"case":"К1","until":"2021-07-01"}"#)),
        2,
        "occurred_on",
        "не в кризисном центре",
    );
    refused(
        &(left.clone() + &ev("shelter_left", "2021-03-12", r#"{"case":"К1"}"#)),
        2,
        "occurred_on",
        "не в кризисном центре",
    );
    accepted(
        &(ev("shelter_extended", "2021-03-09", r#"{"case":"К1","until":"2021-07-01"}"#)
            + &left
            + &ev("shelter_admitted", "2021-03-20", r#"{"case":"К1"}"#)),
    );
}

#[test]
fn rules_see_earlier_lines_of_the_same_batch() {
    let input = ev("signal_received", "2021-03-10", r#"{"signal":"С5","channel":"phone"}"#)
        + &ev("signal_received", "2021-03-10", r#"{"signal":"С5","channel":"phone"}"#);
    refused(&input, 2, "data.signal", "уже принят");
    accepted(
        &(ev("case_opened", "2021-03-10", r#"{"case":"К7","family":"Ф7","program":"МР","children":[]}"#)
            + &ev("plan_set", "2021-03-10", r#"{"case":"К7","goals":3,"achieved":0}"#)),
    );
}

fn void(target: &str) -> String {
    ev("event_voided", "2021-06-01", &format!(r#"{{"target":"{target}","reason":"ошибка ввода"}}"#))
}

fn amend(target: &str, extra: &str, data: &str) -> String {
    ev("event_amended", "2021-06-01", &format!(r#"{{"target":"{target}","reason":"уточнение"{extra},"data":{data}}}"#))
}

#[test]
fn a_correction_needs_an_existing_target() {
    refused(&void("00000000-0000-7000-8000-999999999999"), 1, "data.target", "нет события");
}

#[test]
fn a_correction_is_never_corrected() {
    let first = format!(
        "{{\"id\":\"{}\",\"type\":\"event_voided\",\"occurred_on\":\"2021-06-01\",\"data\":{{\"target\":\"{}\",\"reason\":\"ошибка\"}}}}\n",
        id(50),
        id(4)
    );
    refused(&(first.clone() + &void(&id(50))), 2, "data.target", "исправление не исправляют");
    refused(
        &(first + &amend(&id(50), "", r#"{"target":"x","reason":"y"}"#)),
        2,
        "data.target",
        "исправление не исправляют",
    );
}

#[test]
fn an_opening_is_not_voided_while_referred_to() {
    refused(&void(&id(2)), 1, "data.target", "нельзя отменить открытие");
    refused(&void(&id(1)), 1, "data.target", "нельзя отменить открытие");
    refused(&void(&id(6)), 1, "data.target", "нельзя отменить открытие");
    // Once nothing refers to it, it can be voided.
    accepted(&(void(&id(7)) + &void(&id(6))));
}

#[test]
fn an_amendment_keeps_the_case_and_signal() {
    refused(&amend(&id(4), "", r#"{"case":"К2","stage":"entry","weak_total":19}"#), 1, "data.data", "тому же случаю");
}

#[test]
fn an_amendment_is_a_valid_payload_of_the_target_type() {
    refused(&amend(&id(4), "", r#"{"case":"К1","stage":"entry"}"#), 1, "data.data.weak_total", "разделам ЕФО");
    refused(
        &amend(&id(4), "", r#"{"case":"К1","stage":"start","weak_total":1}"#),
        1,
        "data.data.stage",
        "нет такого значения `start`",
    );
}

#[test]
fn an_amended_day_is_not_after_the_amendment_is_recorded() {
    refused(
        &amend(&id(4), r#","occurred_on":"2999-01-01""#, r#"{"case":"К1","stage":"entry","weak_total":19}"#),
        1,
        "data.occurred_on",
        "позже дня записи",
    );
}

#[test]
fn an_amendment_obeys_the_state_rules() {
    // A late plan of the closed К2 may be amended in content, but not moved to a day
    // after the closing.
    let plan = format!(
        "{{\"id\":\"{}\",\"type\":\"plan_set\",\"occurred_on\":\"2021-03-20\",\"data\":{{\"case\":\"К2\",\"goals\":2,\"achieved\":1}}}}\n",
        id(60)
    );
    refused(
        &(plan.clone() + &amend(&id(60), r#","occurred_on":"2021-04-10""#, r#"{"case":"К2","goals":2,"achieved":2}"#)),
        2,
        "data.occurred_on",
        "закрыт",
    );
    accepted(&(plan + &amend(&id(60), "", r#"{"case":"К2","goals":2,"achieved":2}"#)));
}

#[test]
fn corrections_show_in_case_state_and_never_rewrite() {
    let tmp = accepted(&(amend(&id(4), "", r#"{"case":"К1","stage":"entry","weak_total":18}"#) + &void(&id(5))));
    let dir = tmp.path().join("ledger");
    let r = run(&dir, &["case", "show", "К1", "--json", "--on", "2021-05-01"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(state["efo"]["entry"]["weak_sides"], 18, "the amendment wins");
    assert_eq!(state["shelter"]["stays"], 0, "the voided admission is gone");
    assert!(!state["events"].as_array().unwrap().contains(&serde_json::json!(5)));
    // Known before the corrections were recorded (2021-06-01, by the clock now), the
    // original stands.
    let r = run(&dir, &["case", "show", "К1", "--json", "--on", "2021-05-01", "--at-seq", "7"], b"");
    let state: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(state["efo"]["entry"]["weak_sides"], 20);
    assert_eq!(state["shelter"]["stays"], 1);
    // 2021-03-04 through 2021-05-01 inclusive: 28 + 30 + 1 = 59 days (by hand).
    assert_eq!(state["shelter"]["days"], 59);
    // The stored events are untouched: 7 + 2 corrections.
    assert_eq!(events(&dir).len(), 9);
}

/// SPEC §21, slips a curator makes: a stay that ends before it starts, a case opened
/// before its signal came, a closing while the family is still in the crisis centre.
#[test]
fn slips_that_contradict_the_case_are_refused_with_the_reason() {
    // К2 is closed; a new case К3 in the crisis centre to try the stay's dates on.
    let k3 =
        ev("case_opened", "2021-05-01", r#"{"case":"К3","family":"Ф3","program":"КЦ","children":[{"code":"Р4"}]}"#);
    refused(
        &(k3.clone() + &ev("shelter_admitted", "2021-05-10", r#"{"case":"К3","until":"2021-05-01"}"#)),
        2,
        "data.until",
        "пребывание до 01.05.2021 — раньше заселения 10.05.2021",
    );
    refused(
        &ev("shelter_extended", "2021-04-10", r#"{"case":"К1","until":"2021-04-01"}"#),
        1,
        "data.until",
        "пребывание до 01.04.2021 — раньше продления 10.04.2021",
    );
    // С9 came on 10.05; a case opened from it on 05.05.
    let c9 = ev("signal_received", "2021-05-10", r#"{"signal":"С9","family":"Ф9","channel":"phone"}"#);
    refused(
        &(c9.clone()
            + &ev(
                "case_opened",
                "2021-05-05",
                r#"{"case":"К9","family":"Ф9","program":"МР","signal":"С9","children":[{"code":"Р9"}]}"#,
            )),
        2,
        "occurred_on",
        "случай открыт 05.05.2021 — раньше, чем принят сигнал С9 (10.05.2021)",
    );
    // К1 has been in the crisis centre since 04.03: no closing before the leaving.
    refused(
        &ev("case_closed", "2021-04-20", r#"{"case":"К1","outcome":"stabilized"}"#),
        1,
        "occurred_on",
        "на 20.04.2021 семья ещё в кризисном центре с 04.03.2021: сначала запишите «Выход из КЦ»",
    );
    // The same, in their order, are accepted.
    accepted(
        &(c9 + &ev(
            "case_opened",
            "2021-05-10",
            r#"{"case":"К9","family":"Ф9","program":"МР","signal":"С9","children":[{"code":"Р9"}]}"#,
        ) + &ev("shelter_left", "2021-04-19", r#"{"case":"К1"}"#)
            + &ev("case_closed", "2021-04-20", r#"{"case":"К1","outcome":"stabilized"}"#)
            + &k3
            + &ev("shelter_admitted", "2021-05-10", r#"{"case":"К3","until":"2021-08-10"}"#)),
    );
}

/// An amendment stored without the state rules (old data loaded as it was) may have
/// moved an event to another case; the event stays filed under its first case, and a
/// void of it changes that case. The rules keep each touched case's state as they go:
/// they must see the first case anew, as a fold from scratch does — here, open again.
#[test]
fn a_void_of_an_event_an_old_amendment_moved_reopens_its_first_case() {
    use caseledger::ledger::{AppendOptions, EnvelopeOnly, Ledger};
    use caseledger::record::StateRules;
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(tmp.path()).unwrap();
    let opts = AppendOptions { actor: "t".into(), now: chrono::Utc::now() };
    let line = |kind: &str, on: &str, data: &str| format!(r#"{{"type":"{kind}","occurred_on":"{on}","data":{data}}}"#);
    let x = "00000000-0000-7000-8000-0000000000aa";
    let old = [
        line("case_opened", "2021-03-01", r#"{"case":"К1","family":"Ф1","program":"МР","children":[]}"#),
        line("case_opened", "2021-03-01", r#"{"case":"К2","family":"Ф2","program":"МР","children":[]}"#),
        format!(
            r#"{{"id":"{x}","type":"case_closed","occurred_on":"2021-04-01","data":{{"case":"К1","outcome":"stabilized"}}}}"#
        ),
        line(
            "event_amended",
            "2021-04-02",
            &format!(r#"{{"target":"{x}","reason":"перенос","data":{{"case":"К2","outcome":"stabilized"}}}}"#),
        ),
    ];
    ledger.append_jsonl(format!("{}\n", old.join("\n")).as_bytes(), &opts, &mut EnvelopeOnly).unwrap();
    let new = [
        // Both cases touched (and loaded) first, К1 last and after its closing day:
        // К1 is closed on 01.04.2021 by the moved event, which is still filed under it.
        line("plan_set", "2021-03-10", r#"{"case":"К2","goals":2,"achieved":0}"#),
        line("service_provided", "2021-04-05", r#"{"case":"К1","kind":"legal"}"#),
        line("event_voided", "2021-05-01", &format!(r#"{{"target":"{x}","reason":"ошибка"}}"#)),
        line("plan_set", "2021-05-02", r#"{"case":"К1","goals":2,"achieved":1}"#),
    ];
    let acks = ledger.append_jsonl(format!("{}\n", new.join("\n")).as_bytes(), &opts, &mut StateRules::new());
    assert_eq!(acks.map(|a| a.len()).map_err(|e| e.to_string()), Ok(4));
}

/// The closing's crisis-centre rule within one append, where the case's running state
/// is kept: a stay admitted in the same input still holds on the closing day; a
/// leaving dated after the closing day does not count on it (the case is then folded
/// through that day, not read from its latest state).
#[test]
fn a_closing_in_the_same_append_as_the_stay_sees_the_stay_on_its_day() {
    let k5 =
        ev("case_opened", "2021-05-01", r#"{"case":"К5","family":"Ф5","program":"КЦ","children":[{"code":"Р5"}]}"#)
            + &ev("shelter_admitted", "2021-05-03", r#"{"case":"К5","until":"2021-06-01"}"#);
    refused(
        &(k5.clone() + &ev("case_closed", "2021-05-20", r#"{"case":"К5","outcome":"stabilized"}"#)),
        3,
        "occurred_on",
        "на 20.05.2021 семья ещё в кризисном центре с 03.05.2021",
    );
    refused(
        &(k5.clone()
            + &ev("shelter_left", "2021-05-25", r#"{"case":"К5"}"#)
            + &ev("case_closed", "2021-05-20", r#"{"case":"К5","outcome":"stabilized"}"#)),
        4,
        "occurred_on",
        "на 20.05.2021 семья ещё в кризисном центре с 03.05.2021",
    );
    accepted(
        &(k5 + &ev("shelter_left", "2021-05-19", r#"{"case":"К5"}"#)
            + &ev("case_closed", "2021-05-20", r#"{"case":"К5","outcome":"stabilized"}"#)),
    );
}
