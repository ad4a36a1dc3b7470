//! `append`: envelope refusals (one test each), all-or-nothing, idempotency, limits.

mod common;
use common::*;

/// Appends one line expected to be refused; checks exit 1, a one-line error naming
/// line and field, and that nothing was written.
fn refused(line: &str, field: &str) {
    let (_tmp, dir) = new_ledger();
    run(&dir, &["append"], signals(1, 2).as_bytes());
    let before = verified(&dir);
    let input = format!("{}{line}\n", signals(2, 1));
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 1, "expected refusal of {line}: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    let expect = format!("line 2: {field}: ");
    assert!(r.stderr.starts_with(&expect), "{:?} should start with {expect:?}", r.stderr);
    assert!(r.stdout.is_empty(), "no acks on refusal");
    assert_eq!(verified(&dir), before, "nothing written");
}

#[test]
fn refuses_unknown_type() {
    refused(r#"{"type":"case_reopened","occurred_on":"2021-03-01","data":{}}"#, "type");
}

#[test]
fn refuses_malformed_date() {
    refused(
        r#"{"type":"plan_set","occurred_on":"2021-02-30","data":{"case":"К1","goals":2,"achieved":0}}"#,
        "occurred_on",
    );
}

#[test]
fn refuses_float_anywhere_in_data() {
    refused(
        r#"{"type":"aid_issued","occurred_on":"2021-03-01","data":{"case":"К1","kind":"food","quantity":1.0}}"#,
        "data.quantity",
    );
}

#[test]
fn refuses_unknown_envelope_member() {
    refused(
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","data":{"program":"КЦ","amount":"100.00"},"note":"x"}"#,
        "note",
    );
}

#[test]
fn refuses_ledger_assigned_members() {
    refused(
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","data":{"program":"КЦ","amount":"100.00"},"hash":"00"}"#,
        "hash",
    );
}

#[test]
fn refuses_missing_data() {
    refused(r#"{"type":"plan_set","occurred_on":"2021-03-01"}"#, "data");
}

#[test]
fn refuses_bad_id_and_bad_actor() {
    refused(
        r#"{"id":"not-a-uuid","type":"expense_recorded","occurred_on":"2021-03-01","data":{"program":"КЦ","amount":"100.00"}}"#,
        "id",
    );
    refused(
        r#"{"actor":"","type":"expense_recorded","occurred_on":"2021-03-01","data":{"program":"КЦ","amount":"100.00"}}"#,
        "actor",
    );
}

#[test]
fn refuses_recorded_at_in_the_future() {
    refused(
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","recorded_at":"2999-01-01T00:00:00Z","data":{"program":"КЦ","amount":"100.00"}}"#,
        "recorded_at",
    );
}

#[test]
fn refuses_recorded_at_before_the_head() {
    // The head was recorded now; history before it cannot be appended after it.
    refused(
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","recorded_at":"2021-03-02T10:00:00Z","data":{"program":"КЦ","amount":"100.00"}}"#,
        "recorded_at",
    );
}

#[test]
fn refuses_recorded_at_going_back_within_a_batch() {
    let (_tmp, dir) = new_ledger();
    let input = concat!(
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","recorded_at":"2021-03-05T10:00:00Z","data":{"program":"КЦ","amount":"100.00"}}"#,
        "\n",
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","recorded_at":"2021-03-04T10:00:00Z","data":{"program":"КЦ","amount":"100.00"}}"#,
        "\n"
    );
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(
            "line 2: recorded_at: 04.03.2021 13:00 — раньше времени записи предыдущего события (05.03.2021 13:00)"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(verified(&dir).0, 0);
}

#[test]
fn refuses_occurred_on_after_the_recorded_day() {
    refused(
        r#"{"type":"expense_recorded","occurred_on":"2999-01-01","data":{"program":"КЦ","amount":"100.00"}}"#,
        "occurred_on",
    );
    let (_tmp, dir) = new_ledger();
    let r = run(
        &dir,
        &["append"],
        r#"{"type":"expense_recorded","occurred_on":"2021-03-02","recorded_at":"2021-03-01T23:59:59Z","data":{"program":"КЦ","amount":"100.00"}}"#.as_bytes(),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("line 1: occurred_on: 02.03.2021 — позже дня записи (01.03.2021)"), "{}", r.stderr);
}

#[test]
fn refuses_invalid_json_naming_the_line() {
    let (_tmp, dir) = new_ledger();
    let r = run(&dir, &["append"], b"{\"type\":\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("line 1: строка — не JSON"), "{}", r.stderr);
}

#[test]
fn a_5mb_line_is_refused_in_one_line_without_writing() {
    let (_tmp, dir) = new_ledger();
    let huge = format!(
        "{}{{\"type\":\"plan_set\",\"occurred_on\":\"2021-03-01\",\"data\":{{\"x\":\"{}\"}}}}\n",
        signals(1, 1),
        "я".repeat(2_600_000)
    );
    assert!(huge.len() > 5_000_000);
    let r = run(&dir, &["append"], huge.as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    assert!(r.stderr.starts_with("line 2: строка — 5\u{202f}200"), "{}", r.stderr);
    assert!(r.stderr.contains("не больше 65\u{202f}536 байт"), "{}", r.stderr);
    assert_eq!(verified(&dir).0, 0);
}

#[test]
fn all_or_nothing_lists_every_bad_line() {
    let (_tmp, dir) = new_ledger();
    let mut input = signals(1, 3);
    input.push_str("{\"type\":\"nope\",\"occurred_on\":\"2021-03-01\",\"data\":{}}\n");
    input.push_str(&signals(2, 2));
    input.push_str("{\"type\":\"plan_set\",\"occurred_on\":\"2021-3-1\",\"data\":{}}\n");
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 1);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert!(lines[0].starts_with("line 4: type:"));
    assert!(lines[1].starts_with("line 7: occurred_on:"));
    assert!(r.stdout.is_empty());
    assert_eq!(verified(&dir).0, 0);
    assert!(events(&dir).is_empty());
}

#[test]
fn append_is_idempotent_by_id() {
    let (_tmp, dir) = new_ledger();
    let batch = signals(7, 5);
    let first = run(&dir, &["append"], batch.as_bytes());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let head = verified(&dir);
    let again = run(&dir, &["append"], batch.as_bytes());
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(verified(&dir), head, "a repeat writes nothing");
    let first_acks: Vec<serde_json::Value> = first.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let again_acks: Vec<serde_json::Value> = again.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(again_acks.len(), 5);
    for (a, b) in first_acks.iter().zip(&again_acks) {
        assert_eq!(a["seq"], b["seq"]);
        assert_eq!(a["hash"], b["hash"]);
        assert_eq!(a.get("duplicate"), None);
        assert_eq!(b["duplicate"], true);
    }
    // A repeat mixed with new events: the repeats are no-ops, the new ones are added.
    let mixed = format!("{}{}", signals(7, 2), signals(8, 1));
    let r = run(&dir, &["append"], mixed.as_bytes());
    assert_eq!(r.code, 0);
    assert_eq!(verified(&dir).0, 6);
}

#[test]
fn same_id_with_different_content_is_refused() {
    let (_tmp, dir) = new_ledger();
    run(&dir, &["append"], signals(7, 1).as_bytes());
    let changed = signals(7, 1).replace("\"phone\"", "\"messenger\"");
    let r = run(&dir, &["append"], changed.as_bytes());
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("line 1: id: ") && r.stderr.contains("уже хранится (событие № 1)"), "{}", r.stderr);
    // Within one batch, too.
    let twice = format!("{}{}", signals(9, 1), signals(9, 1).replace("\"phone\"", "\"other\""));
    let r = run(&dir, &["append"], twice.as_bytes());
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("line 2: id: ") && r.stderr.contains("в строке 1"), "{}", r.stderr);
    assert_eq!(verified(&dir).0, 1);
}

#[test]
fn recorded_at_and_actor_are_filled_by_the_ledger() {
    let (_tmp, dir) = new_ledger();
    let r = run(&dir, &["append", "--actor", "к-12"], signals(1, 1).as_bytes());
    assert_eq!(r.code, 0);
    let line = r#"{"type":"expense_recorded","occurred_on":"2021-03-01","actor":"к-99","data":{"program":"КЦ","amount":"100.00"}}"#;
    run(&dir, &["append"], line.as_bytes());
    let evs = events(&dir);
    assert_eq!(evs[0]["actor"], "к-12");
    assert_eq!(evs[1]["actor"], "к-99", "an input's own actor wins");
    let stamp = evs[0]["recorded_at"].as_str().unwrap();
    assert_eq!(stamp.len(), 20);
    assert!(stamp.ends_with('Z'));
    assert!(evs[1]["recorded_at"].as_str().unwrap() >= stamp);
    // Ids the input leaves out are UUIDv7.
    assert_eq!(evs[1]["id"].as_str().unwrap().as_bytes()[14], b'7');
}

#[test]
fn a_second_process_gets_ledger_in_use() {
    use std::io::Write;
    let (_tmp, dir) = new_ledger();
    // An append reading stdin holds the ledger until its input ends.
    let mut holder = std::process::Command::new(bin())
        .arg("--ledger")
        .arg(&dir)
        .arg("append")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut tries = 0;
    let r = loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let r = run(&dir, &["verify"], b"");
        tries += 1;
        if r.code != 0 || tries > 100 {
            break r;
        }
    };
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.starts_with("ledger in use:"), "{}", r.stderr);
    holder.stdin.take().unwrap().write_all(signals(1, 1).as_bytes()).unwrap();
    assert!(holder.wait().unwrap().success());
    assert_eq!(verified(&dir).0, 1);
}

#[test]
fn init_refuses_an_existing_ledger_and_commands_need_one() {
    let (tmp, dir) = new_ledger();
    run(&dir, &["append"], signals(1, 1).as_bytes());
    let r = run(&dir, &["init"], b"");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already holds a ledger"));
    assert_eq!(verified(&dir).0, 1);
    let r = run(&tmp.path().join("none"), &["verify"], b"");
    assert_eq!(r.code, 4);
    assert!(r.stderr.starts_with("no ledger at"));
    let r = run(&dir, &["frobnicate"], b"");
    assert_eq!(r.code, 2);
}

#[test]
fn reproduces_the_shared_test_vector() {
    // tests/vectors/chain-2.jsonl (a copy of the shared vector): hashes computed outside this project.
    let vector = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/chain-2.jsonl"))
        .expect("tests/vectors/chain-2.jsonl");
    let (_tmp, dir) = new_ledger();
    let mut input = String::new();
    let mut hashes = Vec::new();
    for line in vector.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object_mut().unwrap();
        hashes.push(obj.remove("hash").unwrap());
        obj.remove("seq");
        obj.remove("prev");
        input.push_str(&v.to_string());
        input.push('\n');
    }
    let r = run(&dir, &["append"], input.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let acks: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(acks.iter().map(|a| a["hash"].clone()).collect::<Vec<_>>(), hashes);
    let r =
        run(&dir, &["verify", "--export", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/chain-2.jsonl")], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn export_import_round_trip_keeps_every_byte() {
    let (tmp, dir) = new_ledger();
    run(&dir, &["append"], signals(1, 150).as_bytes());
    run(&dir, &["append"], signals(2, 3).as_bytes());
    let file = tmp.path().join("export.jsonl");
    let r = run(&dir, &["export", file.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let other = tmp.path().join("copy");
    run(&other, &["init"], b"");
    let r = run(&other, &["import", file.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verified(&other), verified(&dir));
    let again = run(&other, &["export"], b"");
    assert_eq!(again.stdout, std::fs::read_to_string(&file).unwrap());
    // Import only into an empty ledger.
    let r = run(&other, &["import", file.to_str().unwrap()], b"");
    assert_eq!(r.code, 1);
    // Idempotency survives the move: the imported ids are known.
    let r = run(&other, &["append"], signals(2, 3).as_bytes());
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.matches("\"duplicate\":true").count(), 3);
}

#[test]
fn log_filters_by_case() {
    let (_tmp, dir) = new_ledger();
    let input = concat!(
        r#"{"type":"case_opened","occurred_on":"2021-03-01","data":{"case":"1/2021","family":"Ф1","program":"МР","children":[]}}"#,
        "\n",
        r#"{"type":"case_opened","occurred_on":"2021-03-01","data":{"case":"2/2021","family":"Ф2","program":"КЦ","children":[]}}"#,
        "\n",
        r#"{"type":"plan_set","occurred_on":"2021-03-02","data":{"case":"1/2021","goals":3,"achieved":0}}"#,
        "\n"
    );
    assert_eq!(run(&dir, &["append"], input.as_bytes()).code, 0);
    let r = run(&dir, &["log", "--case", "1/2021", "--json"], b"");
    let seqs: Vec<u64> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 3]);
    // The index catches up with later appends.
    run(
        &dir,
        &["append"],
        br#"{"type":"plan_set","occurred_on":"2021-03-03","data":{"case":"1/2021","goals":3,"achieved":1}}"#,
    );
    let r = run(&dir, &["log", "--case", "1/2021", "--json"], b"");
    assert_eq!(r.stdout.lines().count(), 3);
    let r = run(&dir, &["log", "--case", "2/2021"], b"");
    assert_eq!(r.stdout.lines().count(), 2, "header and one event: {}", r.stdout);
}

#[test]
fn refuses_bad_payloads_naming_the_data_field() {
    // One line per kind of payload refusal; the domain's own unit tests cover every type.
    refused(
        r#"{"type":"signal_received","occurred_on":"2021-03-01","data":{"signal":"С-9","channel":"fax"}}"#,
        "data.channel",
    );
    refused(
        r#"{"type":"signal_received","occurred_on":"2021-03-01","data":{"signal":"С-9","channel":"phone","фио":"x"}}"#,
        "data.фио",
    );
    refused(
        r#"{"type":"expense_recorded","occurred_on":"2021-03-01","data":{"program":"КЦ","amount":"100,50"}}"#,
        "data.amount",
    );
    refused(
        r#"{"type":"plan_set","occurred_on":"2021-03-01","data":{"case":"К1","goals":2,"achieved":3}}"#,
        "data.achieved",
    );
    refused(
        r#"{"type":"efo_scored","occurred_on":"2021-03-01","data":{"case":"К1","stage":"entry","weak_total":99999999}}"#,
        "data.weak_total",
    );
}

/// sled writes a page frame larger than a quarter of its log segment to a blob file
/// it never fsyncs. Blocks of events fill leaves of several hundred KiB, so the
/// store's segment size must keep every leaf in the log: after a bulk append and more
/// small appends (leaves rewritten), there is no blob file at all.
#[test]
fn committed_events_never_go_to_sled_blob_files() {
    let (_tmp, dir) = new_ledger();
    let gen = run(&dir, &["gen", "--families", "2500", "--from", "2019", "--to", "2022", "--seed", "7"], b"");
    assert_eq!(gen.code, 0, "{}", gen.stderr);
    let lines: Vec<&str> = gen.stdout.lines().collect();
    assert!(lines.len() > 20_000, "enough events to fill many leaves ({})", lines.len());
    let (bulk, rest) = lines.split_at(lines.len() - 200);
    assert_eq!(run(&dir, &["append"], (bulk.join("\n") + "\n").as_bytes()).code, 0);
    for chunk in rest.chunks(50) {
        let r = run(&dir, &["append"], (chunk.join("\n") + "\n").as_bytes());
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let blobs = dir.join("sled").join("blobs");
    let count = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count, 0, "{} holds {count} blob files", blobs.display());
    assert_eq!(run(&dir, &["verify"], b"").code, 0);
}

/// A bulk append computes each event's place in the chain ahead, on its parsing
/// thread, as if every event were admitted as it came; an idempotent repeat (of an
/// event of the same append, or of a stored one) shifts the seqs after it, and the
/// checking thread must then compute them itself. The ledger comes out exactly as when
/// the same events go through the service's group commit, which computes nothing ahead.
#[test]
fn a_bulk_append_with_repeats_chains_as_the_group_commit_does() {
    use caseledger::ledger::event::InputEvent;
    use caseledger::ledger::{AppendOptions, Ledger};
    use caseledger::record::StateRules;

    let opts = AppendOptions { actor: "куратор".into(), now: chrono::Utc::now() };
    let first = signals(1, 100);
    let new: Vec<String> = signals(2, 150).lines().map(|l| format!("{l}\n")).collect();
    let stored_line = first.lines().nth(4).unwrap();
    let second = [
        new[..50].concat(),
        new[9].clone(),
        new[50..100].concat(),
        format!("{stored_line}\n"),
        "\n".into(),
        new[100..].concat(),
    ]
    .concat();
    let tmp = tempfile::tempdir().unwrap();
    let (bulk, group) =
        (Ledger::init(&tmp.path().join("bulk")).unwrap(), Ledger::init(&tmp.path().join("group")).unwrap());
    let mut acks = Vec::new();
    for (ledger, bulk_path) in [(&bulk, true), (&group, false)] {
        let mut all = Vec::new();
        for input in [&first, &second] {
            let got = if bulk_path {
                ledger.append_jsonl(input.as_bytes(), &opts, &mut StateRules::new()).unwrap()
            } else {
                let events = input
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                    .map(|(i, l)| (i + 1, InputEvent::parse(l.as_bytes())))
                    .collect();
                StateRules::append_events(ledger, events, &opts).unwrap()
            };
            all.extend(got.into_iter().map(|a| (a.seq, a.id, a.hash, a.duplicate)));
        }
        assert_eq!(ledger.verify().unwrap().seq, 250);
        acks.push(all);
    }
    assert_eq!(acks[0].iter().filter(|a| a.3).count(), 2, "two repeats acknowledged as such");
    assert_eq!(acks[0], acks[1], "the bulk path's acks are the group commit's");
    assert_eq!(bulk.head().hash, group.head().hash);
}
