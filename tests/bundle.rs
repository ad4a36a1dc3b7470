//! The funder's bundle (SPEC §15): made from the seed replay (the 2020 report as known
//! 31.01.2021) with a witness on 127.0.0.1, and from a generated history; verified by
//! `bundle verify` and by the reference verifier `tools/verify_bundle.py` (Python,
//! written from SPEC alone); every kind of tampering refused by both (figure
//! re-derivation by the binary only); `bundle diff` of two bundles.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{new_ledger, run};
use serde_json::{json, Value};

const REPLAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/replay/mama-ryadom-2019-2020/events.jsonl");
const TOOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/verify_bundle.py");

fn members(zip: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

fn write_zip(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// A copy of the bundle with `edit` applied to its members (name → bytes, in order).
fn tampered(src: &Path, dst: &Path, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) {
    let mut files: Vec<(String, Vec<u8>)> = members(src).into_iter().collect();
    edit(&mut files);
    write_zip(dst, &files);
}

fn member<'a>(files: &'a mut [(String, Vec<u8>)], name: &str) -> &'a mut Vec<u8> {
    &mut files.iter_mut().find(|(n, _)| n == name).unwrap().1
}

/// The report's `hash` recomputed after an edit, as a forger would.
fn rehash(report: &mut Value) {
    let m = report.as_object_mut().unwrap();
    m.remove("hash");
    let h = blake3::hash(&caseledger::ledger::canonical::to_vec(report).unwrap()).to_hex().to_string();
    report.as_object_mut().unwrap().insert("hash".into(), json!(h));
}

fn edit_report(files: &mut [(String, Vec<u8>)], rehashed: bool, f: impl FnOnce(&mut Value)) {
    let bytes = member(files, "report.json");
    let mut r: Value = serde_json::from_slice(bytes).unwrap();
    f(&mut r);
    if rehashed {
        rehash(&mut r);
    }
    *bytes = serde_json::to_vec_pretty(&r).unwrap();
}

fn edit_lines(files: &mut [(String, Vec<u8>)], f: impl FnOnce(&mut Vec<String>)) {
    let bytes = member(files, "events.jsonl");
    let mut lines: Vec<String> = String::from_utf8(bytes.clone()).unwrap().lines().map(String::from).collect();
    f(&mut lines);
    *bytes = (lines.join("\n") + "\n").into_bytes();
}

/// `bundle verify` (exit code, stdout, stderr).
fn verify(zip: &Path, key: Option<&str>) -> common::Run {
    let mut args = vec!["bundle", "verify", zip.to_str().unwrap(), "--json"];
    if let Some(k) = key {
        args.extend(["--key", k]);
    }
    // No ledger is needed: point --ledger at a directory that does not exist.
    run(Path::new("/nonexistent/ledger"), &args, b"")
}

/// `tools/verify_bundle.py` (exit code, output), or `None` when python3 lacks its
/// packages (skipped with a note; CI fails instead).
fn python(zip: &Path, key: Option<&str>) -> Option<(i32, String)> {
    if !common::python_verifier_available() {
        return None;
    }
    let mut cmd = Command::new("python3");
    cmd.arg(TOOL).arg(zip);
    if let Some(k) = key {
        cmd.args(["--key", k]);
    }
    let out = cmd.output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.code().unwrap_or(-1), text))
}

struct WitnessProc(Child, String);

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn witness(root: &Path, name: &str, log_vkey: &str) -> (WitnessProc, String) {
    let wdir = root.join(name);
    let init = Command::new(common::bin())
        .args(["witness", "init", "--dir", wdir.to_str().unwrap(), "--name", name])
        .output()
        .unwrap();
    assert!(init.status.success());
    let vkey = String::from_utf8(init.stdout).unwrap().trim().to_string();
    let mut child = Command::new(common::bin())
        .args(["witness", "serve", "--dir", wdir.to_str().unwrap(), "--addr", "127.0.0.1:0", "--log", log_vkey])
        .env("CASELEDGER_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap().to_string();
    (WitnessProc(child, addr), vkey)
}

/// The seed replay with a key and one witness (quorum 1); the 2020 report as known
/// 31.01.2021, bundled.
struct Seed {
    _tmp: tempfile::TempDir,
    _witness: WitnessProc,
    dir: PathBuf,
    vkey: String,
    zip: PathBuf,
}

fn seed() -> Seed {
    let (tmp, dir) = new_ledger();
    assert_eq!(run(&dir, &["append", REPLAY], b"").code, 0);
    let vkey =
        run(&dir, &["key", "init", "--origin", "ledger.mama-ryadom.example/2020"], b"").stdout.trim().to_string();
    let (w, wkey) = witness(tmp.path(), "fund.example/witness", &vkey);
    std::fs::write(dir.join("witnesses"), format!("witness fund.example/witness {wkey} http://{}\nquorum 1\n", w.1))
        .unwrap();
    let zip = tmp.path().join("bundle-2020.zip");
    let r = run(
        &dir,
        &["report", "bundle", "--year", "2020", "--known-at", "2021-01-31", "--out", zip.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    Seed { _tmp: tmp, _witness: w, dir, vkey, zip }
}

#[test]
fn a_bundle_of_the_seed_replay_verifies_offline_with_both_verifiers() {
    let s = seed();
    let files = members(&s.zip);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["README.md", "events.jsonl", "lineage.json", "policy.txt", "report.json"]);
    let report: Value = serde_json::from_slice(&files["report.json"]).unwrap();
    // Seed 001 as reported: P1 16 of 29 as known 31.01.2021.
    let p1 = report["figures"].as_array().unwrap().iter().find(|f| f["id"] == "P1").unwrap();
    assert_eq!((p1["numerator"].as_u64(), p1["denominator"].as_u64()), (Some(16), Some(29)));
    let seq = report["ledger"]["seq"].as_u64().unwrap();
    assert_eq!(String::from_utf8_lossy(&files["events.jsonl"]).lines().count() as u64, seq);
    // The whole prefix and nothing after it: the ledger's own export, cut at seq.
    let export = run(&s.dir, &["export"], b"").stdout;
    let prefix: String = export.lines().take(seq as usize).map(|l| format!("{l}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&files["events.jsonl"]), prefix);
    let policy = String::from_utf8_lossy(&files["policy.txt"]);
    assert!(policy.starts_with(&format!("log {}\n", s.vkey)), "{policy}");
    assert!(policy.contains("witness fund.example/witness ") && policy.contains("quorum 1"));
    let readme = String::from_utf8_lossy(&files["README.md"]);
    assert!(readme.contains("Что вы увидите в пакете") && readme.contains("In English"));
    assert!(readme.contains(&s.vkey) && readme.contains(report["hash"].as_str().unwrap()));

    let r = verify(&s.zip, Some(&s.vkey));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["seq"], seq);
    assert_eq!(v["head"], report["ledger"]["head"]);
    assert_eq!(v["figures_rederived"], report["figures"].as_array().unwrap().len());
    assert!(v["checkpoint_size"].as_u64().unwrap() >= seq);
    // Without --key it says whose key it used.
    let r = run(Path::new("/nonexistent/ledger"), &["bundle", "verify", s.zip.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Пакет верен") && r.stdout.contains("взят из самого пакета"), "{}", r.stdout);
    if let Some((code, text)) = python(&s.zip, Some(&s.vkey)) {
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("\"cosigned\": [\"fund.example/witness\"]"), "{text}");
    }
}

/// A log showing one funder a history its witnesses never saw ships a bundle with the
/// cosignatures left out and a policy of no witnesses: only the bundle's own policy
/// accepts it; the funder's own `--policy` refuses it, in both verifiers.
#[test]
fn the_funders_own_policy_decides_the_witnesses() {
    let s = seed();
    let dir = s.zip.parent().unwrap().to_path_buf();
    let theirs = dir.join("funder-policy.txt");
    std::fs::write(&theirs, &members(&s.zip)["policy.txt"]).unwrap();
    let vkey = s.vkey.clone();
    let bad = dir.join("no-witnesses.zip");
    tampered(&s.zip, &bad, |f| {
        *member(f, "policy.txt") = format!("log {vkey}\nquorum 0\n").into_bytes();
        edit_report(f, true, |r| {
            let note = r["checkpoint"].as_str().unwrap();
            let kept: Vec<&str> = note.lines().filter(|l| !l.starts_with("— fund.example/witness ")).collect();
            r["checkpoint"] = json!(kept.join("\n") + "\n");
        });
    });
    let r = verify(&bad, Some(&s.vkey));
    assert_eq!(r.code, 0, "the bundle's own policy asks for no witness: {}", r.stdout);
    assert!(r.stdout.contains("\"policy_from\":\"bundle\""), "{}", r.stdout);
    let args =
        ["bundle", "verify", bad.to_str().unwrap(), "--key", &s.vkey, "--policy", theirs.to_str().unwrap(), "--json"];
    let r = run(Path::new("/nonexistent/ledger"), &args, b"");
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("заверили свидетелей: 0 из 1"), "{}", r.stdout);
    if common::python_verifier_available() {
        let out = Command::new("python3")
            .args([TOOL, bad.to_str().unwrap(), "--key", &s.vkey, "--policy", theirs.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The untouched bundle passes the funder's policy.
    let args = ["bundle", "verify", s.zip.to_str().unwrap(), "--key", &s.vkey, "--policy", theirs.to_str().unwrap()];
    assert_eq!(run(Path::new("/nonexistent/ledger"), &args, b"").code, 0);
}

#[test]
fn every_kind_of_tampering_is_refused_by_both_verifiers() {
    let s = seed();
    let dir = s.zip.parent().unwrap().to_path_buf();
    let export = run(&s.dir, &["export"], b"").stdout;
    let after_cut = export.lines().nth(747).unwrap().to_string();
    // Another log key of the same name, and another witness key of the same name.
    let (_t2, other) = new_ledger();
    run(&other, &["key", "init", "--origin", "ledger.mama-ryadom.example/2020"], b"");
    let foreign = caseledger::checkpoint::LogKey::load(&other).unwrap().unwrap();
    let w2 = dir.join("other-witness");
    Command::new(common::bin())
        .args(["witness", "init", "--dir", w2.to_str().unwrap(), "--name", "fund.example/witness"])
        .output()
        .unwrap();
    let foreign_witness = caseledger::checkpoint::WitnessKey::load(&w2).unwrap();

    type Edit = Box<dyn FnOnce(&mut Vec<(String, Vec<u8>)>)>;
    let cases: Vec<(&str, Edit, &str, bool)> = vec![
        (
            "an event changed",
            Box::new(|f| {
                edit_lines(f, |l| l[411] = l[411].replacen("\"occurred_on\":\"20", "\"occurred_on\":\"19", 1))
            }),
            "событие № 412 изменено: хеш не совпадает",
            true,
        ),
        (
            "an event dropped",
            Box::new(|f| edit_lines(f, |l| drop(l.remove(99)))),
            "пропущены, переставлены или вставлены",
            true,
        ),
        (
            "two events reordered",
            Box::new(|f| edit_lines(f, |l| l.swap(10, 11))),
            "пропущены, переставлены или вставлены",
            true,
        ),
        (
            "an event inserted",
            Box::new(|f| edit_lines(f, |l| l.insert(50, l[49].clone()))),
            "пропущены, переставлены или вставлены",
            true,
        ),
        (
            "an event appended after the cut",
            Box::new(move |f| edit_lines(f, |l| l.push(after_cut))),
            "после среза отчёта",
            true,
        ),
        (
            "a figure edited (hash left)",
            Box::new(|f| edit_report(f, false, |r| r["figures"][0]["numerator"] = json!(99))),
            "отчёт изменён после выпуска",
            true,
        ),
        (
            "a figure edited (report re-hashed)",
            Box::new(|f| edit_report(f, true, |r| r["figures"][0]["numerator"] = json!(99))),
            "показатели не пересчитываются",
            false,
        ),
        (
            "a definition edited (report re-hashed)",
            Box::new(|f| {
                edit_report(f, true, |r| {
                    let d = &mut r["definitions"][0];
                    d["title"] = json!("Другое название");
                    d["numerator"]["count"] = json!("child");
                })
            }),
            "показатели не пересчитываются",
            false,
        ),
        (
            "the checkpoint re-signed by another key",
            Box::new(move |f| {
                edit_report(f, true, |r| {
                    let note = r["checkpoint"].as_str().unwrap();
                    let body = note.split_once("\n\n").unwrap().0.to_string() + "\n";
                    let mut n = signed_note::Note::new(body.as_bytes(), &[]).unwrap();
                    n.add_sigs(&[&foreign]).unwrap();
                    r["checkpoint"] = json!(String::from_utf8(n.to_bytes()).unwrap());
                })
            }),
            "подпись контрольной точки не от ключа",
            true,
        ),
        (
            "a witness cosignature from an unknown key",
            Box::new(move |f| {
                edit_report(f, true, |r| {
                    let note = r["checkpoint"].as_str().unwrap().to_string();
                    let body = note.split_once("\n\n").unwrap().0.to_string() + "\n";
                    let line = foreign_witness.cosign(&body, 1_700_000_000);
                    r["checkpoint"] = json!(note + &line);
                })
            }),
            "от неизвестного ключа",
            true,
        ),
        (
            "a lineage naming an event outside the bundle",
            Box::new(|f| {
                let l = member(f, "lineage.json");
                let text = String::from_utf8(l.clone()).unwrap();
                let at = text.find("\"seq\":").unwrap();
                let end = at + 6 + text[at + 6..].find(|c: char| !c.is_ascii_digit()).unwrap();
                *l = format!("{}\"seq\":9999{}", &text[..at], &text[end..]).into_bytes();
            }),
            "которого нет в пакете",
            true,
        ),
        (
            "an extra member",
            Box::new(|f| f.push(("note-from-organisation.txt".into(), b"trust us".to_vec()))),
            "лишний файл",
            true,
        ),
        ("a missing member", Box::new(|f| f.retain(|(n, _)| n != "lineage.json")), "нет файла «lineage.json»", true),
    ];
    for (i, (what, edit, words, python_too)) in cases.into_iter().enumerate() {
        let bad = dir.join(format!("tampered-{i}.zip"));
        tampered(&s.zip, &bad, edit);
        let r = verify(&bad, Some(&s.vkey));
        assert_eq!(r.code, 3, "{what}: bundle verify gave {}: {} {}", r.code, r.stdout, r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(v["ok"], false, "{what}");
        let first = v["failures"][0].as_str().unwrap();
        assert!(first.contains(words), "{what}: the first failure is «{first}», not about «{words}»");
        assert!(r.stderr.contains(words), "{what}: stderr names it: {}", r.stderr);
        let Some((code, text)) = python(&bad, Some(&s.vkey)) else { continue };
        if python_too {
            assert_eq!(code, 3, "{what}: verify_bundle.py gave {code}: {text}");
        } else {
            // Figures are re-derived by the binary only: the reference verifier's
            // checks all still hold.
            assert_eq!(code, 0, "{what}: {text}");
        }
    }
}

#[test]
fn bundles_of_a_generated_history_and_their_diff() {
    let (tmp, dir) = new_ledger();
    let gen = tmp.path().join("gen.jsonl");
    let r = run(
        &dir,
        &["gen", "--families", "150", "--from", "2021", "--to", "2022", "--seed", "5", "--out", gen.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The history up to the end of 2021 first, the rest later.
    let text = std::fs::read_to_string(&gen).unwrap();
    let (early, late): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.contains("\"recorded_at\":\"2021"));
    assert!(!early.is_empty() && !late.is_empty());
    assert_eq!(run(&dir, &["append"], (early.join("\n") + "\n").as_bytes()).code, 0);
    // No key: no bundle (it would prove nothing), said plainly.
    let old = tmp.path().join("old.zip");
    let r = run(&dir, &["report", "bundle", "--year", "2021", "--out", old.to_str().unwrap()], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("key init"), "{}", r.stderr);
    let vkey = run(&dir, &["key", "init"], b"").stdout.trim().to_string();
    assert_eq!(run(&dir, &["report", "bundle", "--year", "2021", "--out", old.to_str().unwrap()], b"").code, 0);
    assert_eq!(run(&dir, &["append"], (late.join("\n") + "\n").as_bytes()).code, 0);
    // …and an event the old report counted, voided as entered by mistake (the first
    // that the rules let be voided).
    let lineage: Value = serde_json::from_slice(&members(&old)["lineage.json"]).unwrap();
    let counted: Vec<String> = lineage[0]["numerator"]["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["rows"].as_array().unwrap().iter().flat_map(|r| r["events"].as_array().unwrap().clone()))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let voided = counted.iter().take(30).any(|id| {
        let line = json!({"type": "event_voided", "occurred_on": "2022-12-30",
            "data": {"target": id, "reason": "внесено по ошибке"}});
        run(&dir, &["append"], format!("{line}\n").as_bytes()).code == 0
    });
    assert!(voided, "one of the counted events can be voided");
    let new = tmp.path().join("new.zip");
    assert_eq!(run(&dir, &["report", "bundle", "--year", "2021", "--out", new.to_str().unwrap()], b"").code, 0);
    for z in [&old, &new] {
        let r = verify(z, Some(&vkey));
        assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
        assert!(python(z, Some(&vkey)).is_none_or(|(code, _)| code == 0));
    }
    // NEW extends OLD; the figures of 2021 that late entries and corrections moved are
    // listed with the events that moved them — the same as report verify says.
    let d = run(
        Path::new("/nonexistent/ledger"),
        &["bundle", "diff", old.to_str().unwrap(), new.to_str().unwrap(), "--json"],
        b"",
    );
    assert_eq!(d.code, 0, "{}", d.stderr);
    let d: Value = serde_json::from_str(d.stdout.trim()).unwrap();
    assert_eq!(d["extends"], true);
    assert!(!d["changed"].as_array().unwrap().is_empty(), "late entries of 2022 moved some 2021 figure: {d}");
    let report: Value = serde_json::from_slice(&members(&old)["report.json"]).unwrap();
    let file = tmp.path().join("old-report.json");
    std::fs::write(&file, report.to_string()).unwrap();
    let rv = run(&dir, &["report", "verify", file.to_str().unwrap(), "--json"], b"");
    assert_eq!(rv.code, 0, "{}", rv.stdout);
    let rv: Value = serde_json::from_str(rv.stdout.trim()).unwrap();
    assert_eq!(d["changed"], rv["changed"]);
    // Reversed, NEW does not come before OLD.
    let d =
        run(Path::new("/nonexistent/ledger"), &["bundle", "diff", new.to_str().unwrap(), old.to_str().unwrap()], b"");
    assert_eq!(d.code, 3, "{}", d.stdout);
    assert!(d.stderr.contains("не продолжает историю"), "{}", d.stderr);
}

#[test]
fn bundles_over_http() {
    let (tmp, dir) = new_ledger();
    assert_eq!(run(&dir, &["append", REPLAY], b"").code, 0);
    let vkey = run(&dir, &["key", "init"], b"").stdout.trim().to_string();
    let analyst = common::server::token(&dir, "analyst-1", "analyst");
    let recorder = common::server::token(&dir, "rec-1", "recorder");
    let server = common::server::Server::start(&dir);
    let body = r#"{"from":"2020-01-01","to":"2020-12-31","known_at":"2021-01-31"}"#;
    assert_eq!(server.post_json("/v1/bundles", &recorder, body).status, 403);
    let r = server.post_json("/v1/bundles", &analyst, body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/zip");
    let zip = tmp.path().join("http.zip");
    std::fs::write(&zip, &r.bytes).unwrap();
    let v = verify(&zip, Some(&vkey));
    assert_eq!(v.code, 0, "{} {}", v.stdout, v.stderr);
    let report: Value = serde_json::from_slice(&members(&zip)["report.json"]).unwrap();
    let p1 = report["figures"].as_array().unwrap().iter().find(|f| f["id"] == "P1").unwrap();
    assert_eq!((p1["numerator"].as_u64(), p1["denominator"].as_u64()), (Some(16), Some(29)));
}
