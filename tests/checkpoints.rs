//! Checkpoints, proofs and witnesses (SPEC §14), driven through the binary: the tree's
//! roots against a reference written from RFC 9162's definition (SHA-256 from the
//! `sha2` crate, nothing of caseledger's), proofs checked by Go's algorithm as ported
//! in `tlog_tiles`, two real witnesses on 127.0.0.1 (quorum, one down, a rewritten
//! history refused), the rollback check, and reports that carry a checkpoint.
//! (Go's own sumdb/note and sumdb/tlog check the same outputs in CI: tests/interop.)

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use common::{events, new_ledger, run, signals};
use sha2::{Digest, Sha256};

fn hash_bytes(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex_text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// RFC 9162 §2.1.1, recursively: MTH({}) = SHA-256(), MTH({d}) = SHA-256(0x00 ‖ d),
/// MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])), k the largest power of two < n.
fn reference_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(leaves[0]);
            h.finalize().into()
        }
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(reference_root(&leaves[..k]));
            h.update(reference_root(&leaves[k..]));
            h.finalize().into()
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str) -> [u8; 32] {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap().try_into().unwrap()
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let r = run(dir, args, b"");
    assert_eq!(r.code, 0, "{args:?}: {} {}", r.stdout, r.stderr);
    serde_json::from_str(r.stdout.trim()).unwrap()
}

fn append(dir: &Path, tag: u32, n: usize) {
    let r = run(dir, &["append"], signals(tag, n).as_bytes());
    assert_eq!(r.code, 0, "append: {}", r.stderr);
}

fn leaves(dir: &Path) -> Vec<[u8; 32]> {
    events(dir).iter().map(|e| hash_bytes(e["hash"].as_str().unwrap())).collect()
}

#[test]
fn roots_and_proofs_agree_with_rfc_9162() {
    let (_tmp, dir) = new_ledger();
    // Past 512 events, so that stored nodes of level 8 and 9 are read, not only
    // hashes computed from the events.
    append(&dir, 1, 300);
    append(&dir, 2, 470);
    let leaves = leaves(&dir);
    assert_eq!(leaves.len(), 770);
    for size in [1usize, 2, 3, 255, 256, 257, 511, 512, 513, 700, 770] {
        let p = json(&dir, &["proof", "consistency", "1", "--size", &size.to_string(), "--json"]);
        assert_eq!(p["root"], b64(&reference_root(&leaves[..size])), "root of size {size}");
        assert_eq!(p["old_root"], b64(&reference_root(&leaves[..1])));
    }
    // `verify --json` names the root of the whole chain.
    let v = json(&dir, &["verify", "--json"]);
    assert_eq!(v["root"], b64(&reference_root(&leaves)));

    // Inclusion proofs: checked with tlog_tiles (a port of Go's sumdb/tlog) against
    // the reference root.
    for (seq, size) in [(1u64, 1u64), (1, 770), (256, 770), (257, 770), (700, 770), (770, 770), (5, 513)] {
        let p = json(&dir, &["proof", "inclusion", &seq.to_string(), "--size", &size.to_string(), "--json"]);
        assert_eq!(p["index"], seq - 1);
        assert_eq!(p["size"], size);
        let leaf = hash_bytes(p["leaf"].as_str().unwrap());
        assert_eq!(leaf, leaves[seq as usize - 1]);
        let proof: Vec<tlog_tiles::Hash> =
            p["hashes"].as_array().unwrap().iter().map(|h| tlog_tiles::Hash(unb64(h.as_str().unwrap()))).collect();
        let root = tlog_tiles::Hash(reference_root(&leaves[..size as usize]));
        let record = tlog_tiles::record_hash(&leaf);
        assert!(tlog_tiles::check_record(&proof, size, root, seq - 1, record).is_ok(), "inclusion {seq} in {size}");
        // One changed byte of the proof: refused.
        if let Some(first) = proof.first() {
            let mut bad = proof.clone();
            bad[0] = tlog_tiles::Hash({
                let mut b = first.0;
                b[0] ^= 1;
                b
            });
            assert!(tlog_tiles::check_record(&bad, size, root, seq - 1, record).is_err());
        }
    }
    for (old, size) in [(1u64, 770u64), (255, 256), (256, 770), (300, 770), (511, 513), (770, 770)] {
        let p = json(&dir, &["proof", "consistency", &old.to_string(), "--size", &size.to_string(), "--json"]);
        let proof: Vec<tlog_tiles::Hash> =
            p["hashes"].as_array().unwrap().iter().map(|h| tlog_tiles::Hash(unb64(h.as_str().unwrap()))).collect();
        let new_root = tlog_tiles::Hash(reference_root(&leaves[..size as usize]));
        let old_root = tlog_tiles::Hash(reference_root(&leaves[..old as usize]));
        assert!(tlog_tiles::check_tree(&proof, size, new_root, old, old_root).is_ok(), "consistency {old}→{size}");
        let mut other = old_root;
        other.0[31] ^= 0x80;
        assert!(tlog_tiles::check_tree(&proof, size, new_root, old, other).is_err());
    }
    // Out of range: a usage error naming the size.
    let r = run(&dir, &["proof", "inclusion", "771", "--json"], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("770"), "{}", r.stderr);
}

/// A `witness serve` child.
struct WitnessProc {
    child: Child,
    addr: String,
}

impl WitnessProc {
    fn start(dir: &Path, addr: &str, logs: &[&str]) -> WitnessProc {
        let mut args = vec!["witness", "serve", "--dir", dir.to_str().unwrap(), "--addr", addr];
        for l in logs {
            args.extend(["--log", l]);
        }
        let mut child = Command::new(common::bin())
            .args(&args)
            .env("CASELEDGER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("witness said {line:?}")).to_string();
        WitnessProc { child, addr }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn post(&self, body: &str) -> (u16, String, String) {
        let agent = common::server::agent();
        let r = common::server::call(
            &agent,
            &format!("{}/add-checkpoint", self.url()),
            "POST",
            None,
            "text/plain",
            body.as_bytes(),
        );
        (r.status, r.content_type, r.text)
    }
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn witness_init(root: &Path, name: &str) -> (PathBuf, String) {
    let wdir = root.join(name);
    let r = Command::new(common::bin())
        .args(["witness", "init", "--dir", wdir.to_str().unwrap(), "--name", name])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let vkey = String::from_utf8(r.stdout).unwrap().trim().to_string();
    assert!(vkey.starts_with(&format!("{name}+")), "{vkey}");
    (wdir, vkey)
}

fn key_init(dir: &Path, origin: &str) -> String {
    let r = run(dir, &["key", "init", "--origin", origin], b"");
    assert_eq!(r.code, 0, "key init: {}", r.stderr);
    let vkey = r.stdout.trim().to_string();
    let show = run(dir, &["key", "show"], b"");
    assert_eq!(show.stdout.trim(), vkey);
    vkey
}

fn write_policy(dir: &Path, witnesses: &[(&str, &str, &str)], quorum: usize) {
    let mut text = String::new();
    for (name, vkey, url) in witnesses {
        text.push_str(&format!("witness {name} {vkey} {url}\n"));
    }
    text.push_str(&format!("quorum {quorum}\n"));
    std::fs::write(dir.join("witnesses"), text).unwrap();
}

fn cosigners(note: &str) -> Vec<String> {
    let origin = note.lines().next().unwrap();
    note.split("\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("— "))
        .filter_map(|l| l.split(' ').next())
        .filter(|n| *n != origin)
        .map(String::from)
        .collect()
}

#[test]
fn two_witnesses_quorum_outage_and_a_rewritten_history() {
    let (tmp, dir) = new_ledger();
    let origin = "ledger.test.example/witnessed";
    let log_vkey = key_init(&dir, origin);
    let (w1dir, w1key) = witness_init(tmp.path(), "w1");
    let (w2dir, w2key) = witness_init(tmp.path(), "w2");
    let w1 = WitnessProc::start(&w1dir, "127.0.0.1:0", &[&log_vkey]);
    let w2 = WitnessProc::start(&w2dir, "127.0.0.1:0", &[&log_vkey]);
    write_policy(&dir, &[("w1", &w1key, &w1.url()), ("w2", &w2key, &w2.url())], 2);

    // Quorum met, twice (the second time with a consistency proof from 40).
    append(&dir, 1, 40);
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 0, "checkpoint: {}", r.stderr);
    assert!(r.stdout.starts_with(&format!("{origin}\n40\n")), "{}", r.stdout);
    assert_eq!(cosigners(&r.stdout), ["w1", "w2"]);
    append(&dir, 2, 25);
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 0, "checkpoint: {}", r.stderr);
    assert!(r.stdout.starts_with(&format!("{origin}\n65\n")), "{}", r.stdout);
    assert_eq!(cosigners(&r.stdout), ["w1", "w2"]);

    // The witness kept what it cosigned, durably: its state names size 65.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w1dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["logs"][origin][0], 65);

    // A witness down: exit 4, the checkpoint signed and kept, the ledger still works.
    let w2addr = w2.addr.clone();
    w2.kill();
    append(&dir, 3, 5);
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 4, "one witness of two down: {} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("w2"), "names the witness: {}", r.stderr);
    assert!(r.stdout.starts_with(&format!("{origin}\n70\n")));
    append(&dir, 4, 5);
    assert_eq!(common::verified(&dir).0, 75);
    // Back up (same address, state kept): cosigns again from the size it holds.
    let w2 = WitnessProc::start(&w2dir, &w2addr, &[&log_vkey]);
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with(&format!("{origin}\n75\n")));
    assert_eq!(cosigners(&r.stdout), ["w1", "w2"]);

    // Another ledger with the same key and a rewritten event 10: both witnesses,
    // which saw the old history, refuse it; `checkpoint` is exit 3.
    let mut stored = events(&dir);
    let (tmp2, forged) = new_ledger();
    let _keep = tmp2;
    std::fs::copy(dir.join("log.key"), forged.join("log.key")).unwrap();
    std::fs::copy(dir.join("witnesses"), forged.join("witnesses")).unwrap();
    let mut input = String::new();
    for (i, e) in stored.iter_mut().enumerate() {
        let mut e =
            serde_json::json!({"id": e["id"], "type": e["type"], "occurred_on": e["occurred_on"], "data": e["data"]});
        if i == 9 {
            e["data"]["channel"] = serde_json::json!("walk_in");
        }
        input.push_str(&e.to_string());
        input.push('\n');
    }
    let r = run(&forged, &["append"], input.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&forged, &["checkpoint"], b"");
    assert_eq!(r.code, 3, "a rewritten history: {} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("w1") && r.stderr.contains("w2"), "{}", r.stderr);
    // …and the witnesses still hold the true history.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w1dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["logs"][origin][0], 75);
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    drop(w1);
    drop(w2);
}

#[test]
fn the_witness_protocol_answers_as_c2sp_says() {
    let (tmp, dir) = new_ledger();
    let origin = "ledger.test.example/protocol";
    let log_vkey = key_init(&dir, origin);
    let (wdir, wkey) = witness_init(tmp.path(), "w");
    append(&dir, 1, 10);
    let first = run(&dir, &["checkpoint"], b"");
    assert_eq!(first.code, 0, "no witnesses, quorum 0: {}", first.stderr);
    let note10 = first.stdout.clone();
    let w = WitnessProc::start(&wdir, "127.0.0.1:0", &[&log_vkey]);

    // Malformed: 400.
    assert_eq!(w.post("hello").0, 400);
    assert_eq!(w.post(&format!("old x\n\n{note10}")).0, 400);
    // A first checkpoint, from size 0 with an empty proof: cosigned.
    let (status, _, text) = w.post(&format!("old 0\n\n{note10}"));
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("— w "), "a cosignature line: {text}");
    // Its cosignature verifies as the witness key says (signed_note with the vkey).
    let verifier = caseledger::checkpoint::KeyVerifier::parse(&wkey).unwrap();
    let names = caseledger::checkpoint::verify_note(&format!("{note10}{text}"), vec![verifier]).unwrap();
    assert_eq!(names, ["w"]);

    append(&dir, 2, 7);
    let second = run(&dir, &["checkpoint"], b"");
    let note17 = second.stdout.clone();
    let proof = json(&dir, &["proof", "consistency", "10", "--json"]);
    let lines: Vec<&str> = proof["hashes"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    // `old` not the size it holds: 409 with its size.
    let (status, ctype, text) = w.post(&format!("old 0\n\n{note17}"));
    assert_eq!((status, ctype.as_str(), text.trim()), (409, "text/x.tlog.size", "10"));
    // A wrong proof: 422.
    let mut bad = lines.clone();
    let swapped = b64(&[7u8; 32]);
    bad[0] = &swapped;
    let (status, _, _) = w.post(&format!("old 10\n{}\n\n{note17}", bad.join("\n")));
    assert_eq!(status, 422);
    // A checkpoint whose body was changed after signing: 403.
    let forged = note17.replacen("\n17\n", "\n18\n", 1);
    assert_eq!(w.post(&format!("old 10\n{}\n\n{forged}", lines.join("\n"))).0, 403);
    // The right proof: 200; the size is recorded before the answer.
    let (status, _, text) = w.post(&format!("old 10\n{}\n\n{note17}", lines.join("\n")));
    assert_eq!(status, 200, "{text}");
    // After a restart (kill -9), the witness still holds 17.
    let addr = w.addr.clone();
    w.kill();
    let w = WitnessProc::start(&wdir, &addr, &[&log_vkey]);
    let (status, _, text) = w.post(&format!("old 10\n{}\n\n{note17}", lines.join("\n")));
    assert_eq!((status, text.trim()), (409, "17"));
    // A log it was not told of: 403.
    let (_tmp3, other) = new_ledger();
    key_init(&other, "ledger.test.example/unknown");
    let unknown = run(&other, &["checkpoint"], b"").stdout;
    assert_eq!(w.post(&format!("old 0\n\n{unknown}")).0, 403);
}

#[test]
fn a_ledger_behind_its_checkpoint_is_refused_on_open() {
    let (tmp, dir) = new_ledger();
    key_init(&dir, "ledger.test.example/rollback");
    append(&dir, 1, 30);
    // A backup of the store and the journal at 30 events…
    let backup = tmp.path().join("backup");
    copy_dir(&dir, &backup);
    append(&dir, 2, 20);
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    // …restored over the ledger, its checkpoint of 50 left in place.
    for part in ["sled", "journal", "ACKED"] {
        let p = dir.join(part);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else if p.exists() {
            std::fs::remove_file(&p).unwrap();
        }
        let from = backup.join(part);
        if from.is_dir() {
            copy_dir(&from, &p);
        } else if from.exists() {
            std::fs::copy(&from, &p).unwrap();
        }
    }
    for args in [&["verify"][..], &["log"][..], &["append"][..]] {
        let r = run(&dir, args, b"");
        assert_eq!(r.code, 3, "{args:?}: {} {}", r.stdout, r.stderr);
        assert!(r.stderr.contains("behind its checkpoint of size 50"), "{}", r.stderr);
    }
}

#[test]
fn a_whole_directory_restored_is_found_out_by_a_witness() {
    let (tmp, dir) = new_ledger();
    let log_vkey = key_init(&dir, "ledger.test.example/restored");
    let (wdir, wkey) = witness_init(tmp.path(), "w");
    let w = WitnessProc::start(&wdir, "127.0.0.1:0", &[&log_vkey]);
    write_policy(&dir, &[("w", &wkey, &w.url())], 1);
    append(&dir, 1, 30);
    assert_eq!(run(&dir, &["checkpoint"], b"").code, 0);
    let backup = tmp.path().join("backup");
    copy_dir(&dir, &backup);
    append(&dir, 2, 20);
    assert_eq!(run(&dir, &["checkpoint"], b"").code, 0);
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&backup, &dir);
    // The directory agrees with itself (its checkpoint is of 30 too)…
    assert_eq!(run(&dir, &["verify"], b"").code, 0);
    // …but the witness has seen 50.
    let r = run(&dir, &["checkpoint"], b"");
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("50"), "{}", r.stderr);
    drop(w);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn reports_carry_a_checkpoint_that_report_verify_checks() {
    let (_tmp, dir) = new_ledger();
    append(&dir, 1, 20);
    // Without a key: both members are null, and the report verifies.
    let r = run(&dir, &["report", "create", "--year", "2021"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plain: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(plain["checkpoint"].is_null() && plain["consistency"].is_null());

    let vkey = key_init(&dir, "ledger.test.example/reports");
    let seq = common::verified(&dir).0;
    let r = run(&dir, &["report", "create", "--year", "2021"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let note = report["checkpoint"].as_str().unwrap();
    assert!(note.starts_with(&format!("ledger.test.example/reports\n{seq}\n")), "{note}");
    assert_eq!(report["ledger"]["seq"], seq);
    // A checkpoint made for the report is kept as the ledger's latest.
    assert_eq!(std::fs::read_to_string(dir.join("checkpoint")).unwrap(), note);
    let verifier = caseledger::checkpoint::KeyVerifier::parse(&vkey).unwrap();
    assert_eq!(caseledger::checkpoint::verify_note(note, vec![verifier]).unwrap(), ["ledger.test.example/reports"]);
    let file = dir.parent().unwrap().join("report.json");
    std::fs::write(&file, &r.stdout).unwrap();
    let v = run(&dir, &["report", "verify", file.to_str().unwrap()], b"");
    assert_eq!(v.code, 0, "{} {}", v.stdout, v.stderr);

    // The ledger grows: the old report still verifies (its checkpoint is a prefix),
    // and a new report at an older cut takes the latest checkpoint with a proof.
    append(&dir, 9, 12);
    let v = run(&dir, &["report", "verify", file.to_str().unwrap()], b"");
    assert_eq!(v.code, 0, "{} {}", v.stdout, v.stderr);
    assert_eq!(run(&dir, &["checkpoint"], b"").code, 0);
    let r = run(&dir, &["report", "create", "--year", "2021", "--at-seq", &seq.to_string()], b"");
    let later: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(later["checkpoint"].as_str().unwrap().starts_with(&format!("ledger.test.example/reports\n{}\n", seq + 12)));
    assert!(!later["consistency"].as_array().unwrap().is_empty());

    // A proof hash changed (and the report's own hash recomputed, as a forger would):
    // the proof fails.
    let mut forged = later.clone();
    forged["consistency"][0] = serde_json::json!(b64(&[9u8; 32]));
    let forged = rehash(forged);
    let ffile = dir.parent().unwrap().join("forged.json");
    std::fs::write(&ffile, forged.to_string()).unwrap();
    let v = run(&dir, &["report", "verify", ffile.to_str().unwrap(), "--json"], b"");
    assert_eq!(v.code, 3, "{}", v.stdout);
    assert!(v.stdout.contains("consistency proof"), "{}", v.stdout);
    // A checkpoint signed by another key: refused.
    let (_tmp4, other) = new_ledger();
    key_init(&other, "ledger.test.example/reports");
    let foreign = run(&other, &["checkpoint"], b"").stdout;
    let mut forged = later.clone();
    forged["checkpoint"] = serde_json::json!(foreign);
    let forged = rehash(forged);
    std::fs::write(&ffile, forged.to_string()).unwrap();
    let v = run(&dir, &["report", "verify", ffile.to_str().unwrap(), "--json"], b"");
    assert_eq!(v.code, 3, "{}", v.stdout);
    assert!(v.stdout.contains("not signed by this ledger's key"), "{}", v.stdout);
}

/// The report's `hash` recomputed over its other members (RFC 8785, BLAKE3), as
/// someone forging a report would.
fn rehash(mut report: serde_json::Value) -> serde_json::Value {
    let m = report.as_object_mut().unwrap();
    m.remove("hash");
    let bytes = caseledger::ledger::canonical::to_vec(&report).unwrap();
    let hash = blake3::hash(&bytes).to_hex().to_string();
    report.as_object_mut().unwrap().insert("hash".into(), serde_json::json!(hash));
    report
}

#[test]
fn serve_signs_checkpoints_while_appends_come_in() {
    let (_tmp, dir) = new_ledger();
    let vkey = key_init(&dir, "ledger.test.example/served");
    let recorder = common::server::token(&dir, "rec", "recorder");
    let server = common::server::Server::start_with(&dir, &["--checkpoint-every", "1"]);
    // No checkpoint yet: 404, without a token.
    assert_eq!(server.call("GET", "/v1/checkpoint", None, "", b"").status, 404);
    let r = server.call("POST", "/v1/events", Some(&recorder), "application/x-ndjson", signals(5, 33).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    // Within a few ticks, a checkpoint of all 33 events, signed by the ledger's key.
    let mut note = String::new();
    for _ in 0..200 {
        let r = server.call("GET", "/v1/checkpoint", None, "", b"");
        if r.status == 200 && r.text.lines().nth(1) == Some("33") {
            note = r.text;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!note.is_empty(), "serve signed no checkpoint of 33 events");
    let verifier = caseledger::checkpoint::KeyVerifier::parse(&vkey).unwrap();
    assert_eq!(caseledger::checkpoint::verify_note(&note, vec![verifier]).unwrap(), ["ledger.test.example/served"]);
    // Proofs over HTTP check against that checkpoint's root.
    let root = tlog_tiles::Hash(unb64(note.lines().nth(2).unwrap()));
    let p = server.get("/v1/proof/inclusion?seq=7", &recorder).json();
    let proof: Vec<tlog_tiles::Hash> =
        p["hashes"].as_array().unwrap().iter().map(|h| tlog_tiles::Hash(unb64(h.as_str().unwrap()))).collect();
    let record = tlog_tiles::record_hash(&hash_bytes(p["leaf"].as_str().unwrap()));
    assert!(tlog_tiles::check_record(&proof, 33, root, 6, record).is_ok());
    assert_eq!(server.get("/v1/proof/inclusion?seq=34", &recorder).status, 400);
    let c = server.get("/v1/proof/consistency?old=20&size=33", &recorder).json();
    assert_eq!(c["root"], note.lines().nth(2).unwrap());
    drop(server);
}
