//! `caseledger serve` end to end on 127.0.0.1 (SPEC §12): concurrency, crashes,
//! roles, bad requests, and reads that equal the command line's.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::server::{agent, call, token, try_post, Server};
use common::{new_ledger, ok, run, verified};
use serde_json::{json, Value};

/// One valid event about a new signal, without actor or recorded_at.
fn signal_event(tag: &str, i: usize, id: Option<uuid::Uuid>) -> String {
    let mut v = json!({
        "type": "signal_received",
        "occurred_on": "2021-03-01",
        "data": {"signal": format!("С-{tag}-{i}"), "family": format!("Ф-{tag}-{i}"), "channel": "phone"}
    });
    if let Some(id) = id {
        v["id"] = json!(id.to_string());
    }
    v.to_string()
}

/// The quickstart sample without actor and recorded_at (the service sets them).
fn quickstart_for_http() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/quickstart.jsonl")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("actor");
            o.remove("recorded_at");
            v.to_string() + "\n"
        })
        .collect()
}

fn stored_ids(dir: &Path) -> Vec<(u64, String, String)> {
    common::events(dir)
        .into_iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn thirty_two_clients_times_two_hundred_appends_are_all_stored_once() {
    let (_tmp, dir) = new_ledger();
    let tokens: Vec<String> = (0..4).map(|i| token(&dir, &format!("curator-{i}"), "recorder")).collect();
    let auditor = token(&dir, "auditor-1", "auditor");
    let server = Server::start(&dir);
    let url = server.url("/v1/events");
    let acks = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for c in 0..32 {
            let (url, tok, acks) = (url.clone(), tokens[c % 4].clone(), acks.clone());
            s.spawn(move || {
                let agent = agent();
                for i in 0..200 {
                    let r = call(
                        &agent,
                        &url,
                        "POST",
                        Some(&tok),
                        "application/json",
                        signal_event(&format!("c{c}"), i, None).as_bytes(),
                    );
                    assert_eq!(r.status, 200, "client {c} append {i}: {}", r.text);
                    let v = r.json();
                    assert_eq!(v["acks"].as_array().unwrap().len(), 1);
                    let a = &v["acks"][0];
                    acks.lock().unwrap().push((
                        a["seq"].as_u64().unwrap(),
                        a["id"].as_str().unwrap().to_string(),
                        c % 4,
                    ));
                }
            });
        }
    });
    let acks = acks.lock().unwrap().clone();
    assert_eq!(acks.len(), 6400);
    let seqs: HashSet<u64> = acks.iter().map(|a| a.0).collect();
    assert_eq!(seqs, (1..=6400).collect::<HashSet<u64>>(), "seqs are exactly 1..=6400");
    let v = server.get("/v1/verify", &auditor).json();
    assert_eq!((v["ok"].as_bool(), v["seq"].as_u64()), (Some(true), Some(6400)), "{v}");
    assert_eq!(server.stop("TERM"), Some(0));
    assert_eq!(verified(&dir).0, 6400);
    let stored = stored_ids(&dir);
    let ids: HashSet<&String> = stored.iter().map(|s| &s.1).collect();
    assert_eq!(ids.len(), 6400, "ids unique");
    for (seq, id, client) in acks {
        let (s, sid, actor) = &stored[seq as usize - 1];
        assert_eq!((*s, sid), (seq, &id), "ack names the stored event");
        assert_eq!(actor, &format!("curator-{client}"), "actor is the token's user");
    }
}

/// Clients append with their own ids while the server is killed with SIGKILL; after
/// each kill every acknowledged id is stored at the seq its ack named, and the chain
/// verifies. Three rounds over the same ledger.
#[test]
fn kill_9_under_load_loses_no_acknowledged_append() {
    let (_tmp, dir) = new_ledger();
    let tok = token(&dir, "curator-1", "recorder");
    let mut acked: Vec<(u64, String)> = Vec::new();
    for round in 0..3 {
        let server = Server::start(&dir);
        let url = server.url("/v1/events");
        let stop = Arc::new(AtomicBool::new(false));
        let round_acks = Arc::new(Mutex::new(Vec::new()));
        std::thread::scope(|s| {
            for c in 0..16 {
                let (url, tok, stop, acks) = (url.clone(), tok.clone(), stop.clone(), round_acks.clone());
                s.spawn(move || {
                    let agent = agent();
                    let mut i = 0;
                    while !stop.load(Ordering::SeqCst) {
                        // Batches of 1–3 events, each request all or nothing.
                        let n = 1 + i % 3;
                        let body: String = (0..n)
                            .map(|k| {
                                let id = uuid::Uuid::new_v4();
                                signal_event(&format!("r{round}c{c}"), i * 3 + k, Some(id)) + "\n"
                            })
                            .collect();
                        match try_post(&agent, &url, &tok, "application/x-ndjson", body.as_bytes()) {
                            Some(r) if r.status == 200 => {
                                for a in r.json()["acks"].as_array().unwrap() {
                                    acks.lock()
                                        .unwrap()
                                        .push((a["seq"].as_u64().unwrap(), a["id"].as_str().unwrap().to_string()));
                                }
                            }
                            Some(r) => panic!("unexpected answer {}: {}", r.status, r.text),
                            None => return, // the server is gone
                        }
                        i += 1;
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(400 + 300 * round as u64));
            let pid = server.child.id().to_string();
            assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
            stop.store(true, Ordering::SeqCst);
        });
        drop(server);
        let got = round_acks.lock().unwrap().clone();
        assert!(got.len() > 50, "round {round}: the load ran ({} acks)", got.len());
        acked.extend(got);
        let (seq, _) = verified(&dir);
        let stored = stored_ids(&dir);
        assert_eq!(stored.len() as u64, seq);
        for (seq, id) in &acked {
            assert_eq!(&stored[*seq as usize - 1].1, id, "round {round}: acknowledged seq {seq} holds its event");
        }
    }
}

/// What each role may do (SPEC §12's table), asked of the live service.
#[test]
fn each_role_is_refused_what_it_may_not_do() {
    let (_tmp, dir) = new_ledger();
    let roles = ["recorder", "analyst", "auditor", "admin"];
    let toks: Vec<String> = roles.iter().map(|r| token(&dir, &format!("{r}-1"), r)).collect();
    let server = Server::start(&dir);
    let r = server.call("POST", "/v1/events", Some(&toks[0]), "application/x-ndjson", quickstart_for_http().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let report = server.post_json("/v1/reports", &toks[3], r#"{"from":"2021-01-01","to":"2021-12-31"}"#);
    assert_eq!(report.status, 200, "{}", report.text);
    // (method, path, body, roles allowed: recorder, analyst, auditor, admin)
    let n = std::sync::atomic::AtomicUsize::new(0);
    let next_event = || signal_event("roles", n.fetch_add(1, Ordering::SeqCst), None);
    let cases: Vec<(&str, String, String, [bool; 4])> = vec![
        ("POST", "/v1/events".into(), String::new(), [true, false, false, true]),
        ("GET", "/v1/events?limit=5".into(), String::new(), [true; 4]),
        ("GET", "/v1/cases?on=2021-06-01".into(), String::new(), [true; 4]),
        ("GET", "/v1/cases/14%2F2021_%D0%9C%D0%A0?on=2021-06-01".into(), String::new(), [true; 4]),
        ("GET", "/v1/indicators?year=2021".into(), String::new(), [false, true, true, true]),
        ("POST", "/v1/indicators?year=2021".into(), json!({"defs": [{"id": "n", "title": "t", "numerator": {"count": "family", "from": [{"rows": "cases", "where": {"fact": "active_in_period", "eq": true}}]}}]}).to_string(), [false, true, true, true]),
        ("GET", "/v1/explain/reach?year=2021".into(), String::new(), [false, true, true, true]),
        ("POST", "/v1/reports".into(), r#"{"from":"2021-01-01","to":"2021-12-31"}"#.into(), [false, true, false, true]),
        ("POST", "/v1/reports/verify".into(), report.text.clone(), [false, true, true, true]),
        ("GET", "/v1/verify".into(), String::new(), [false, false, true, true]),
        ("GET", "/v1/export".into(), String::new(), [false, false, true, true]),
    ];
    for (method, path, body, allowed) in &cases {
        for (k, tok) in toks.iter().enumerate() {
            let body = if *method == "POST" && path == "/v1/events" { next_event() } else { body.clone() };
            let r = server.call(
                method,
                path,
                Some(tok),
                if *method == "POST" { "application/json" } else { "" },
                body.as_bytes(),
            );
            if allowed[k] {
                assert_eq!(r.status, 200, "{} {method} {path}: {}", roles[k], r.text);
            } else {
                assert_eq!(r.status, 403, "{} {method} {path}: {}", roles[k], r.text);
                assert!(r.json()["error"].as_str().unwrap().contains(roles[k]), "{}", r.text);
            }
        }
        // No token, and a wrong token: 401 with a JSON error, whatever the role table says.
        for tok in [None, Some("cl_not-a-token"), Some(&toks[3][..toks[3].len() - 1])] {
            let r = server.call(method, path, tok, if *method == "POST" { "application/json" } else { "" }, b"{}");
            assert_eq!(r.status, 401, "{method} {path} with {tok:?}: {}", r.text);
            assert!(r.json()["error"].is_string());
        }
    }
    // Health needs no token.
    let h = server.call("GET", "/health", None, "", b"");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["ok"], json!(true));
}

/// A client can set neither `actor` nor `recorded_at`: refused, naming the field, and
/// nothing is written.
#[test]
fn a_forged_actor_or_recorded_at_is_refused() {
    let (_tmp, dir) = new_ledger();
    let tok = token(&dir, "curator-1", "recorder");
    let server = Server::start(&dir);
    let mut forged_actor: Value = serde_json::from_str(&signal_event("f", 1, None)).unwrap();
    forged_actor["actor"] = json!("admin-1");
    let mut forged_time: Value = serde_json::from_str(&signal_event("f", 2, None)).unwrap();
    forged_time["recorded_at"] = json!("2021-03-01T10:00:00Z");
    for (ev, field) in [(forged_actor, "actor"), (forged_time, "recorded_at")] {
        // Alone, and as the second event of a batch whose first is valid.
        let batch = json!([serde_json::from_str::<Value>(&signal_event("f", 3, None)).unwrap(), ev]);
        for (body, line) in [(ev.to_string(), 1), (batch.to_string(), 2)] {
            let r = server.post_json("/v1/events", &tok, &body);
            assert_eq!(r.status, 422, "{}", r.text);
            let v = r.json();
            assert_eq!((v["field"].as_str(), v["line"].as_u64()), (Some(field), Some(line)), "{v}");
        }
    }
    assert_eq!(server.get("/health", &tok).json()["seq"], json!(0), "nothing written");
    // The same event without them is stored with the token's user and the server's clock.
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let r = server.post_json("/v1/events", &tok, &signal_event("f", 1, None));
    assert_eq!(r.status, 200, "{}", r.text);
    let ev: Value = serde_json::from_str(server.get("/v1/events", &tok).text.lines().next().unwrap()).unwrap();
    assert_eq!(ev["actor"], json!("curator-1"));
    let at = chrono::DateTime::parse_from_rfc3339(ev["recorded_at"].as_str().unwrap()).unwrap();
    assert!(at >= before && at <= chrono::Utc::now(), "recorded_at is the server's clock: {at}");
}

/// Malformed JSON, oversized bodies, unknown fields, wrong content types, unknown
/// routes: a 4xx with a JSON error, never a 5xx or a hang, and nothing written.
#[test]
fn bad_requests_get_a_4xx_json_error() {
    let (_tmp, dir) = new_ledger();
    let tok = token(&dir, "admin-1", "admin");
    let server = Server::start(&dir);
    let big = vec![b' '; 17 * 1024 * 1024];
    let too_many: String = (0..10_001).map(|i| signal_event("many", i, None) + "\n").collect();
    let unknown_member = r#"{"type":"signal_received","occurred_on":"2021-03-01","data":{"signal":"С-1","family":"Ф-1","channel":"phone"},"color":"red"}"#;
    let unknown_data = r#"{"type":"signal_received","occurred_on":"2021-03-01","data":{"signal":"С-1","family":"Ф-1","channel":"phone","name":"x"}}"#;
    let bad_line = format!("{}\n{{\"type\": \n", signal_event("b", 1, None));
    // (method, path, content type, body, status, field, line)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, Option<&'a str>, Option<u64>);
    let cases: Vec<Case> = vec![
        ("POST", "/v1/events", "application/json", b"{\"type\": ".to_vec(), 400, None, None),
        ("POST", "/v1/events", "application/json", b"".to_vec(), 400, None, None),
        ("POST", "/v1/events", "application/json", b"42".to_vec(), 400, None, None),
        ("POST", "/v1/events", "application/x-ndjson", bad_line.into_bytes(), 400, None, Some(2)),
        ("POST", "/v1/events", "application/x-ndjson", too_many.into_bytes(), 413, None, None),
        ("POST", "/v1/events", "application/json", unknown_member.as_bytes().to_vec(), 422, Some("color"), Some(1)),
        ("POST", "/v1/events", "application/json", unknown_data.as_bytes().to_vec(), 422, Some("data.name"), Some(1)),
        ("POST", "/v1/events", "application/json", b"[]".to_vec(), 422, None, None),
        ("POST", "/v1/events", "text/plain", signal_event("t", 1, None).into_bytes(), 415, None, None),
        ("POST", "/v1/events", "", signal_event("t", 1, None).into_bytes(), 415, None, None),
        ("POST", "/v1/indicators?year=2021", "text/plain", b"{}".to_vec(), 415, None, None),
        ("POST", "/v1/indicators?year=2021", "application/json", b"{\"defs\": [], \"x\": 1}".to_vec(), 400, None, None),
        (
            "POST",
            "/v1/indicators?year=2021",
            "application/json",
            b"{\"defs\": [{\"id\": \"x\"}]}".to_vec(),
            422,
            Some("defs"),
            None,
        ),
        ("GET", "/v1/indicators?year=2021&colour=red", "", vec![], 400, None, None),
        ("GET", "/v1/indicators?from=2021-13-01&to=2021-12-31", "", vec![], 400, None, None),
        ("GET", "/v1/indicators", "", vec![], 400, None, None),
        ("GET", "/v1/indicators?year=2021&known_at=2021-01-01&at_seq=3", "", vec![], 400, None, None),
        ("GET", "/v1/indicators?year=abc", "", vec![], 400, None, None),
        ("GET", "/v1/events?limit=0", "", vec![], 400, None, None),
        ("GET", "/v1/explain/NOPE?year=2021", "", vec![], 422, None, None),
        ("GET", "/v1/indicators?year=10000", "", vec![], 400, None, None),
        ("GET", "/v1/indicators?quarter=10000Q1", "", vec![], 400, None, None),
        ("GET", "/v1/cases?known_at=2021-01-01&at_seq=3", "", vec![], 400, None, None),
        ("GET", "/v1/cases/NOPE", "", vec![], 404, None, None),
        ("GET", "/v1/cases?on=yesterday", "", vec![], 400, None, None),
        ("GET", "/v1/nothing", "", vec![], 404, None, None),
        ("DELETE", "/v1/events", "", vec![], 405, None, None),
        ("POST", "/v1/reports", "application/json", b"{\"from\": \"2021-01-01\"}".to_vec(), 400, None, None),
        ("POST", "/v1/reports/verify", "application/json", b"[1,".to_vec(), 400, None, None),
    ];
    for (method, path, ct, body, status, field, line) in cases {
        let r = server.call(method, path, Some(&tok), ct, &body);
        assert_eq!(r.status, status, "{method} {path} ({ct}): {}", r.text);
        assert!(r.content_type.starts_with("application/json"), "{method} {path}: {}", r.content_type);
        let v = r.json();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        assert_eq!(v["field"].as_str(), field, "{method} {path}: {v}");
        assert_eq!(v["line"].as_u64(), line, "{method} {path}: {v}");
    }
    // The oversized body: the answer is read while the body is still being sent.
    let r = server.post_oversized("/v1/events", &tok, "application/json", big);
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.content_type.starts_with("application/json"), "{}", r.content_type);
    assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", r.text);
    // A route that takes a question or a report takes 1 MiB (issue 28): a 2 MiB report
    // to verify is refused before it is read whole.
    let report = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 << 20));
    for path in ["/v1/reports/verify", "/v1/reports", "/v1/indicators?year=2021", "/v1/bundles"] {
        let r = server.post_oversized(path, &tok, "application/json", report.clone().into_bytes());
        assert_eq!(r.status, 413, "{path}: {}", r.text);
    }
    let h = server.get("/health", &tok).json();
    assert_eq!(h["seq"], json!(0), "nothing was written: {h}");
    // A control character never names a case (0x00 ends the code in the index keys).
    let r = server.get("/v1/events?case=a%00%00", &tok);
    assert_eq!((r.status, r.text.as_str()), (200, ""));
}

/// A client that sent half a request does not keep the service from stopping.
#[test]
fn a_half_sent_request_does_not_block_shutdown() {
    use std::io::Write;
    let (_tmp, dir) = new_ledger();
    let server = Server::start(&dir);
    let mut half = std::net::TcpStream::connect(&server.addr).unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert_eq!(server.stop("TERM"), Some(0));
    assert!(started.elapsed() < Duration::from_secs(45), "stopped after {:?}", started.elapsed());
    drop(half);
}

/// The service answers as the command line does over the same ledger.
#[test]
fn reads_equal_the_command_line() {
    let (_tmp, dir) = new_ledger();
    let (rec, aud) = (token(&dir, "curator-1", "recorder"), token(&dir, "auditor-1", "auditor"));
    let server = Server::start(&dir);
    let r = server.call("POST", "/v1/events", Some(&rec), "application/x-ndjson", quickstart_for_http().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let http = [
        server.get("/v1/cases/14%2F2021_%D0%9C%D0%A0?on=2021-06-01", &rec).json(),
        server.get("/v1/cases?on=2021-09-01", &rec).json(),
        server.get("/v1/indicators?from=2021-01-01&to=2021-12-31&at_seq=9", &aud).json(),
        server.get("/v1/explain/P1?year=2021", &aud).json(),
    ];
    let log = server.get("/v1/events", &rec).text;
    let page = server.get("/v1/events?from_seq=3&limit=4", &rec);
    let by_case = server.get("/v1/events?case=14%2F2021_%D0%9C%D0%A0", &rec).text;
    let export = server.get("/v1/export", &aud).text;
    let verify = server.get("/v1/verify", &aud).json();
    assert_eq!(server.stop("INT"), Some(0));
    let cli = |args: &[&str]| {
        let r = run(&dir, args, b"");
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    };
    let json = |s: String| serde_json::from_str::<Value>(&s).unwrap();
    assert_eq!(http[0], json(cli(&["case", "show", "14/2021_МР", "--on", "2021-06-01", "--json"])));
    assert_eq!(http[1], json(cli(&["cases", "--on", "2021-09-01", "--json"])));
    assert_eq!(
        http[2],
        json(cli(&["indicators", "--from", "2021-01-01", "--to", "2021-12-31", "--at-seq", "9", "--json"]))
    );
    assert_eq!(http[3], json(cli(&["explain", "P1", "--year", "2021", "--json"])));
    let all = cli(&["log", "--json"]);
    assert_eq!(log, all);
    assert_eq!(page.text, all.lines().skip(2).take(4).map(|l| format!("{l}\n")).collect::<String>());
    assert_eq!(by_case, cli(&["log", "--case", "14/2021_МР", "--json"]));
    assert_eq!(export, cli(&["export"]));
    let (seq, head) = verified(&dir);
    assert_eq!((verify["seq"].as_u64(), verify["head"].as_str()), (Some(seq), Some(head.as_str())));
    // The independent reading of the export: every line's hash links to the next.
    let lines: Vec<Value> = export.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, seq);
    for w in lines.windows(2) {
        assert_eq!(w[1]["prev"], w[0]["hash"]);
    }
}

/// Reports made over HTTP verify over HTTP; an edited one does not (200 either way).
#[test]
fn reports_are_made_and_verified_over_http() {
    let (_tmp, dir) = new_ledger();
    let (rec, an) = (token(&dir, "curator-1", "recorder"), token(&dir, "analyst-1", "analyst"));
    let server = Server::start(&dir);
    let r = server.call("POST", "/v1/events", Some(&rec), "application/x-ndjson", quickstart_for_http().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let report = server.post_json("/v1/reports", &an, r#"{"from":"2021-01-01","to":"2021-12-31"}"#).json();
    let members: HashSet<&str> = report.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        members,
        HashSet::from([
            "period",
            "known_at",
            "ledger",
            "created_at",
            "definitions",
            "figures",
            "checkpoint",
            "consistency",
            "hash"
        ])
    );
    let v = server.post_json("/v1/reports/verify", &an, &report.to_string());
    assert_eq!(v.status, 200);
    assert_eq!(v.json()["ok"], json!(true), "{}", v.text);
    let mut edited = report.clone();
    edited["figures"][0]["numerator"] = json!(999);
    let v = server.post_json("/v1/reports/verify", &an, &edited.to_string());
    assert_eq!(v.status, 200);
    let v = v.json();
    assert_eq!(v["ok"], json!(false));
    assert!(!v["failures"].as_array().unwrap().is_empty(), "{v}");
    // An edit that leaves no canonical form (a float) fails too; it is not refused.
    let mut floated = report.clone();
    floated["ledger"]["seq"] = json!(3.5);
    let v = server.post_json("/v1/reports/verify", &an, &floated.to_string());
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.json()["ok"], json!(false), "{}", v.text);
}

/// SIGTERM under load: the service stops accepting, finishes what is in flight, exits
/// 0; every append that was answered 200 is stored.
#[test]
fn sigterm_finishes_in_flight_appends_and_exits_zero() {
    let (_tmp, dir) = new_ledger();
    let tok = token(&dir, "curator-1", "recorder");
    let server = Server::start(&dir);
    let url = server.url("/v1/events");
    let acks = Arc::new(Mutex::new(Vec::new()));
    let code = std::thread::scope(|s| {
        for c in 0..8 {
            let (url, tok, acks) = (url.clone(), tok.clone(), acks.clone());
            s.spawn(move || {
                let agent = agent();
                for i in 0.. {
                    let id = uuid::Uuid::new_v4();
                    match try_post(
                        &agent,
                        &url,
                        &tok,
                        "application/json",
                        signal_event(&format!("t{c}"), i, Some(id)).as_bytes(),
                    ) {
                        Some(r) if r.status == 200 => acks.lock().unwrap().push(id.to_string()),
                        Some(r) => assert_eq!(r.status, 503, "{}", r.text),
                        None => return,
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        server.stop("TERM")
    });
    assert_eq!(code, Some(0));
    let stored: HashSet<String> = stored_ids(&dir).into_iter().map(|s| s.1).collect();
    let acks = acks.lock().unwrap();
    assert!(acks.len() > 20, "the load ran");
    for id in acks.iter() {
        assert!(stored.contains(id), "acknowledged {id} is stored");
    }
    verified(&dir);
}

/// While the service holds the ledger, a reading command runs through it (SPEC §20), a
/// writing one is sent to the service (exit 4), and a process that cannot reach the
/// service's socket still gets "ledger in use" (exit 4): the store is never opened twice.
#[test]
fn the_ledger_is_in_use_while_served() {
    let (_tmp, dir) = new_ledger();
    let server = Server::start(&dir);
    ok(&run(&dir, &["verify"], b""), "verify through the service");
    let r = run(&dir, &["append"], common::signals(1, 1).as_bytes());
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("открыт сервисом"), "{}", r.stderr);
    std::fs::remove_file(dir.join("serve.sock")).unwrap();
    let r = run(&dir, &["verify"], b"");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("in use"), "{}", r.stderr);
    assert_eq!(server.stop("TERM"), Some(0));
    assert_eq!(run(&dir, &["verify"], b"").code, 0);
}
