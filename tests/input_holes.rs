//! The input holes an outside schema cross-check and fuzzer found (issue 14, SPEC §13),
//! each refused or normalised the same way at every JSON entry point.

mod common;
use common::server::{token, Server};
use common::*;

use std::io::Read;
use std::process::{Command, Stdio};

const SIGNAL: &str = r#"{"id":"0192f3a4-5b6c-7d8e-9f01-000000000001","type":"signal_received","occurred_on":"2021-03-01","data":{"signal":"С-01","channel":"phone"}}"#;

fn refused(dir: &std::path::Path, input: &[u8]) -> String {
    let r = run(dir, &["append"], input);
    assert_eq!(r.code, 1, "should be refused: {}", r.stdout);
    assert!(r.stdout.is_empty());
    r.stderr
}

#[test]
fn an_optional_member_given_as_null_is_refused_and_the_same_event_without_it_is_stored() {
    let (_t, dir) = new_ledger();
    let with_null = SIGNAL.replace(r#""channel":"phone""#, r#""channel":"phone","family":null"#);
    let e = refused(&dir, with_null.as_bytes());
    assert!(e.starts_with("line 1: data.family: пустое значение (`null`) не хранится"), "{e}");
    let e = refused(&dir, SIGNAL.replace(r#""type""#, r#""actor":null,"type""#).as_bytes());
    assert!(e.starts_with("line 1: actor: пустое значение (`null`) не хранится"), "{e}");
    assert_eq!(verified(&dir).0, 0, "nothing written");
    // Without it: stored, and stored again is a duplicate, not a different event.
    assert_eq!(run(&dir, &["append"], SIGNAL.as_bytes()).code, 0);
    let again = run(&dir, &["append"], SIGNAL.as_bytes());
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("\"duplicate\":true"), "{}", again.stdout);
}

#[test]
fn a_correction_target_is_stored_lowercase_hyphenated_whatever_its_spelling() {
    let (_t, dir) = new_ledger();
    assert_eq!(run(&dir, &["append"], SIGNAL.as_bytes()).code, 0);
    let spellings = [
        "urn:uuid:0192F3A4-5B6C-7D8E-9F01-000000000001",
        "{0192f3a4-5b6c-7d8e-9f01-000000000001}",
        "0192f3a45b6c7d8e9f01000000000001",
    ];
    let void = |target: &str| {
        format!(
            r#"{{"id":"0192f3a4-5b6c-7d8e-9f01-0000000000aa","type":"event_voided","occurred_on":"2021-03-02","data":{{"target":"{target}","reason":"ошибка"}}}}"#
        )
    };
    let r = run(&dir, &["append"], void(spellings[0]).as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored = events(&dir);
    assert_eq!(stored[1]["data"]["target"], "0192f3a4-5b6c-7d8e-9f01-000000000001");
    // The same correction in another spelling is the same event: a duplicate.
    for s in &spellings[1..] {
        let r = run(&dir, &["append"], void(s).as_bytes());
        assert_eq!(r.code, 0, "{s}: {}", r.stderr);
        assert!(r.stdout.contains("\"duplicate\":true"), "{s}: {}", r.stdout);
    }
    assert_eq!(verified(&dir).0, 2);
}

#[test]
fn duplicate_member_names_are_refused_everywhere() {
    let (_t, dir) = new_ledger();
    for (input, field) in [
        (SIGNAL.replace(r#""type":"signal_received""#, r#""type":"signal_received","type":"case_opened""#), "type"),
        (SIGNAL.replace(r#""id":"#, r#""id":"0192f3a4-5b6c-7d8e-9f01-000000000002","id":"#), "id"),
        (SIGNAL.replace(r#""data":{"#, r#""data":{"signal":"С-02"},"data":{"#), "data"),
        (SIGNAL.replace(r#""channel":"phone""#, r#""channel":"phone","channel":"other""#), "data.channel"),
    ] {
        let e = refused(&dir, input.as_bytes());
        assert!(e.starts_with(&format!("line 1: {field}: поле `")), "{field}: {e}");
    }
    // Import and verify --export read exports strictly too.
    assert_eq!(run(&dir, &["append"], SIGNAL.as_bytes()).code, 0);
    let export = run(&dir, &["export"], b"").stdout;
    let doubled = export.replacen(r#""actor":"#, r#""actor":"x","actor":"#, 1);
    let file = dir.parent().unwrap().join("doubled.jsonl");
    std::fs::write(&file, &doubled).unwrap();
    let v = run(&dir, &["verify", "--export", file.to_str().unwrap()], b"");
    assert_eq!(v.code, 3, "{}", v.stderr);
    assert!(v.stderr.contains("встречается в объекте дважды"), "{}", v.stderr);
    let (_t2, other) = new_ledger();
    let i = run(&other, &["import", file.to_str().unwrap()], b"");
    assert_eq!(i.code, 3, "{}", i.stderr);
    assert_eq!(verified(&other).0, 0);
    // --defs files.
    let defs = dir.parent().unwrap().join("defs.json");
    std::fs::write(
        &defs,
        r#"[{"id":"X","id":"Y","title":"t","numerator":{"count":"case","from":[{"rows":"cases"}]}}]"#,
    )
    .unwrap();
    let r = run(&dir, &["indicators", "--year", "2021", "--defs", defs.to_str().unwrap()], b"");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("[0].id: поле `id` встречается в объекте дважды"), "{}", r.stderr);
}

#[test]
fn encodings_layouts_and_huge_integers_get_hints() {
    let (_t, dir) = new_ledger();
    // A byte-order mark at the start of the file is skipped.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(SIGNAL.as_bytes());
    let r = run(&dir, &["append"], &bom);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // windows-1251 (С-02 as that code page writes it).
    let cp1251 = SIGNAL.replace("С-01", "\u{0}").replace("000000000001", "000000000002");
    let mut bytes = cp1251.into_bytes();
    let at = bytes.iter().position(|b| *b == 0).unwrap();
    bytes.splice(at..=at, [0xD1, b'-', b'0', b'2']);
    let e = refused(&dir, &bytes);
    assert_eq!(e.trim(), "line 1: not UTF-8 (perhaps windows-1251: convert with iconv -f cp1251 -t utf-8)");
    // A pretty-printed object.
    let pretty = "{\n  \"type\": \"signal_received\",\n  \"occurred_on\": \"2021-03-01\"\n}\n";
    let e = refused(&dir, pretty.as_bytes());
    assert!(e.lines().next().unwrap().ends_with("one event per line (JSONL)"), "{e}");
    // An integer too large for every JSON reader is named as an integer.
    let big = r#"{"type":"aid_issued","occurred_on":"2021-03-02","data":{"signal":"С-01","kind":"food","quantity":123456789012345678901234567890}}"#;
    let e = refused(&dir, big.as_bytes());
    assert_eq!(e.trim(), "line 1: data.quantity: целое число вне ±9007199254740991");
}

#[test]
fn invisible_characters_and_look_alike_codes() {
    let (_t, dir) = new_ledger();
    assert_eq!(run(&dir, &["append"], SIGNAL.as_bytes()).code, 0);
    for bad in ["С\u{200b}-02", "С-02\u{2028}", "\u{feff}С-02", "С-0\u{2060}2"] {
        let input = SIGNAL.replace("С-01", bad).replace("000000000001", "000000000003");
        let e = refused(&dir, input.as_bytes());
        assert!(e.contains("data.signal: код содержит невидимый символ U+"), "{bad:?}: {e}");
    }
    // A Latin C typed for the Cyrillic С, and another letter case.
    for typed in ["C-01", "с-01"] {
        let resolve = format!(
            r#"{{"type":"signal_resolved","occurred_on":"2021-03-02","data":{{"signal":"{typed}","resolution":"urgent_help"}}}}"#
        );
        let e = refused(&dir, resolve.as_bytes());
        assert!(e.trim_end().ends_with("did you mean «С-01»?"), "{typed}: {e}");
    }
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let (_t, dir) = new_ledger();
    assert_eq!(run(&dir, &["append"], signals(3, 20_000).as_bytes()).code, 0);
    for args in [&["log"][..], &["log", "--json"], &["export"]] {
        let mut child = Command::new(bin())
            .arg("--ledger")
            .arg(&dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 100];
        child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        drop(child.stdout.take()); // `| head -c 100`
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
fn the_http_api_refuses_the_same_holes() {
    let (_t, dir) = new_ledger();
    let tok = token(&dir, "К-07", "recorder");
    let server = Server::start(&dir);
    let body = SIGNAL.replace(r#""channel":"phone""#, r#""channel":"phone","channel":"other""#);
    let r = server.post_json("/v1/events", &tok, &body);
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["field"], "data.channel");
    let r = server.post_json("/v1/events", &tok, &SIGNAL.replace(r#""channel""#, r#""family":null,"channel""#));
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["field"], "data.family");
    let r =
        server.post_json("/v1/events", &tok, &format!("[{}]", SIGNAL.replace("\"data\":{", "\"data\":{\"x\":1e400,")));
    assert!(r.status == 400 || r.status == 422, "{}", r.text);
    let r = server.post_json("/v1/events", &tok, SIGNAL);
    assert_eq!(r.status, 200, "{}", r.text);
}
