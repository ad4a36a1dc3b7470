//! Group commit at the library level: appends in one group are each all or nothing,
//! see the earlier accepted ones (rules and ids), and leave nothing of a refused one.

use caseledger::ledger::event::InputEvent;
use caseledger::ledger::{AppendOptions, InputLine, Ledger};
use caseledger::record::StateRules;
use caseledger::Error;

fn lines(events: &[String]) -> Vec<InputLine> {
    events.iter().enumerate().map(|(i, e)| (i + 1, InputEvent::parse(e.as_bytes()))).collect()
}

fn signal(code: &str, id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"signal_received","occurred_on":"2021-03-01","data":{{"signal":"{code}","family":"Ф-{code}","channel":"phone"}}}}"#
    )
}

fn open_case(case: &str, signal: &str) -> String {
    format!(
        r#"{{"type":"case_opened","occurred_on":"2021-03-02","data":{{"case":"{case}","family":"Ф-{signal}","program":"МР","signal":"{signal}","curator":"К-1","contract":"Д-1","children":[{{"code":"Р-1","born":"2019-05"}}]}}}}"#
    )
}

fn close_case(case: &str) -> String {
    format!(r#"{{"type":"case_closed","occurred_on":"2021-08-25","data":{{"case":"{case}","outcome":"stabilized"}}}}"#)
}

const A: &str = "01780000-0000-7000-8000-00000000000a";

#[test]
fn a_group_keeps_each_append_whole_and_sees_the_earlier_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
    let opts = AppendOptions { actor: "К-1".into(), now: chrono::Utc::now() };
    let mut rules = StateRules::new();
    let mut group = ledger.group().unwrap();

    // 1: a signal and a case on it.
    let first = group.add(lines(&[signal("С-1", A), open_case("1/2021_МР", "С-1")]), &opts, &mut rules).unwrap();
    let first = first.expect("accepted");
    assert_eq!(first.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2]);

    // 2: opens a second case, then fails on its second line: refused as a whole …
    let refused = group
        .add(
            lines(&[signal("С-2", "01780000-0000-7000-8000-00000000000b"), close_case("9/2021_МР")]),
            &opts,
            &mut rules,
        )
        .unwrap();
    assert!(matches!(refused, Err(Error::Refused(..))), "{refused:?}");
    // … so its signal is not there for the next append, whose case on С-2 is refused.
    let on_refused = group.add(lines(&[open_case("2/2021_МР", "С-2")]), &opts, &mut rules).unwrap();
    assert!(matches!(on_refused, Err(Error::Refused(..))), "{on_refused:?}");

    // 3: closes the case opened by append 1 (not yet committed) and repeats A.
    let third =
        group.add(lines(&[close_case("1/2021_МР"), signal("С-1", A)]), &opts, &mut rules).unwrap().expect("accepted");
    assert_eq!((third[0].seq, third[0].duplicate), (3, false));
    assert_eq!((third[1].seq, third[1].duplicate), (1, true), "the same id and content is a duplicate of seq 1");

    // 4: A again with other content: refused.
    let clash = group.add(lines(&[signal("С-other", A)]), &opts, &mut rules).unwrap();
    assert!(matches!(clash, Err(Error::Refused(..))), "{clash:?}");

    assert_eq!(group.events(), 3);
    assert_eq!(ledger.head().seq, 0, "nothing is visible before the commit");
    let head = group.commit().unwrap();
    assert_eq!(head.seq, 3);
    let v = ledger.verify().unwrap();
    assert_eq!((v.seq, v.head), (3, head.hash));
    let mut kinds = Vec::new();
    ledger
        .for_each(1, |_, rec| {
            kinds.push(rec.parse().unwrap().kind);
            Ok(())
        })
        .unwrap();
    assert_eq!(kinds, ["signal_received", "case_opened", "case_closed"]);
}
