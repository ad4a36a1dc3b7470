//! The funder's bundle (SPEC §15, §19): made by publishing the seed replay's 2020 report
//! as known 31.01.2021, with a witness on 127.0.0.1; verified by `bundle verify` and by
//! the reference verifier `tools/verify_bundle.py` (Python, written from SPEC alone).
//! Every forgery the outside review made — and the others §19 names — is built here
//! and refused by BOTH verifiers with exit 3 and a Russian reason (the figures'
//! re-derivation by the binary alone); `bundle diff` of two bundles and of two logs.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{new_ledger, run};
use serde_json::{json, Value};

const REPLAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/replay/mama-ryadom-2019-2020/events.jsonl");
const TOOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/verify_bundle.py");
const ORIGIN: &str = "ledger.mama-ryadom.example/2020";

type Files = Vec<(String, Vec<u8>)>;

fn members(zip: &Path) -> Files {
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

/// One entry of a zip written byte by byte (stored): what the central directory says
/// and what the local header says, which no zip library lets differ.
#[derive(Clone, Copy)]
struct Raw<'a> {
    name: &'a str,
    local_name: &'a str,
    data: &'a [u8],
    /// Listed in the central directory (else hidden between the entries).
    listed: bool,
    /// An extra field, in both headers.
    extra: &'a [u8],
    /// The size the local header claims, when it lies.
    local_size: Option<u32>,
}

impl<'a> Raw<'a> {
    fn new(name: &'a str, data: &'a [u8]) -> Raw<'a> {
        Raw { name, local_name: name, data, listed: true, extra: b"", local_size: None }
    }
}

/// A zip of stored entries, with `comment` after its end record.
fn raw_zip(entries: &[Raw<'_>], comment: &[u8]) -> Vec<u8> {
    let (mut out, mut central, mut listed) = (Vec::new(), Vec::new(), 0u16);
    for e in entries {
        let crc = crc32fast::hash(e.data);
        let offset = out.len() as u32;
        let header = |sig: u32, name: &str, central: bool, size: u32| {
            let mut h = sig.to_le_bytes().to_vec();
            if central {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend([0u8; 4]); // flags, method: stored
            h.extend([0u8; 4]); // time, date
            h.extend(crc.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend((e.extra.len() as u16).to_le_bytes());
            if central {
                h.extend([0u8; 6]); // comment, disk, internal attributes
                h.extend([0u8; 4]); // external attributes
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h.extend(e.extra);
            h
        };
        let size = e.data.len() as u32;
        out.extend(header(0x0403_4b50, e.local_name, false, e.local_size.unwrap_or(size)));
        out.extend_from_slice(e.data);
        if e.listed {
            central.extend(header(0x0201_4b50, e.name, true, size));
            listed += 1;
        }
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(listed.to_le_bytes());
    out.extend(listed.to_le_bytes());
    out.extend(cd_size.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend((comment.len() as u16).to_le_bytes());
    out.extend(comment);
    out
}

fn member<'a>(files: &'a mut [(String, Vec<u8>)], name: &str) -> &'a mut Vec<u8> {
    &mut files.iter_mut().find(|(n, _)| n == name).unwrap().1
}

/// The report's `hash` recomputed after an edit, as a forger would (SPEC §19: over the
/// report without `hash` and `checkpoint`).
fn rehash(report: &mut Value) {
    let m = report.as_object_mut().unwrap();
    m.remove("hash");
    let mut body = m.clone();
    body.remove("checkpoint");
    let h = blake3::hash(&caseledger::ledger::canonical::to_vec(&Value::Object(body)).unwrap()).to_hex().to_string();
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

/// `bundle verify ZIP ARGS… --json` with no ledger (exit code, stdout, stderr).
fn verify(zip: &Path, args: &[&str]) -> common::Run {
    let mut all = vec!["bundle", "verify", zip.to_str().unwrap(), "--json"];
    all.extend(args);
    run(Path::new("/nonexistent/ledger"), &all, b"")
}

/// `tools/verify_bundle.py ZIP ARGS…` (exit code, stdout + stderr), or `None` when
/// python3 lacks its packages (skipped with a note; CI fails instead).
fn python(zip: &Path, args: &[&str]) -> Option<(i32, String)> {
    if !common::python_verifier_available() {
        return None;
    }
    let out = Command::new("python3").arg(TOOL).arg(zip).args(args).output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.code().unwrap_or(-1), text))
}

/// Both verifiers refuse `zip` (exit 3) naming `words` (the binary: its first failure;
/// Python: its one line).
fn refused_by_both(what: &str, zip: &Path, args: &[&str], words: &str) {
    let r = verify(zip, args);
    assert_eq!(r.code, 3, "{what}: bundle verify gave {}: {} {}", r.code, r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|_| panic!("{what}: {}", r.stdout));
    assert_eq!(v["ok"], false, "{what}");
    let first = v["failures"][0].as_str().unwrap();
    assert!(first.contains(words), "{what}: the binary's first failure is «{first}», not about «{words}»");
    assert!(r.stderr.contains(words), "{what}: stderr names it: {}", r.stderr);
    if let Some((code, text)) = python(zip, args) {
        assert_eq!(code, 3, "{what}: verify_bundle.py gave {code}: {text}");
        assert!(text.contains(words), "{what}: verify_bundle.py says «{text}», not about «{words}»");
    }
}

/// The seed replay with a key and one witness (quorum 1); the 2020 report as known
/// 31.01.2021, published as a bundle.
struct Seed {
    tmp: tempfile::TempDir,
    _witness: common::Witness,
    dir: PathBuf,
    vkey: String,
    zip: PathBuf,
}

impl Seed {
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

fn seed() -> Seed {
    let (tmp, dir) = new_ledger();
    assert_eq!(run(&dir, &["append", REPLAY], b"").code, 0);
    let vkey = run(&dir, &["key", "init", "--origin", ORIGIN], b"").stdout.trim().to_string();
    let (w, wkey) = common::witness(tmp.path(), "fund.example/witness", &vkey);
    std::fs::write(dir.join("witnesses"), format!("witness fund.example/witness {wkey} http://{}\nquorum 1\n", w.1))
        .unwrap();
    let zip = tmp.path().join("bundle-2020.zip");
    let r = run(
        &dir,
        &["report", "bundle", "--year", "2020", "--known-at", "2021-01-31", "--out", zip.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    Seed { tmp, _witness: w, dir, vkey, zip }
}

#[test]
fn a_published_bundle_of_the_seed_replay_verifies_offline_with_both_verifiers() {
    let s = seed();
    let files = members(&s.zip);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["report.json", "events.jsonl", "lineage.json", "README.md", "verify_bundle.py", "policy.txt"]);
    let get = |n: &str| files.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let report: Value = serde_json::from_slice(&get("report.json")).unwrap();
    // Seed 001 as reported: P1 16 of 29 as known 31.01.2021; the cut is bound to its
    // moment (known_at never null), and the report carries no consistency proof.
    let p1 = report["figures"].as_array().unwrap().iter().find(|f| f["id"] == "P1").unwrap();
    assert_eq!((p1["numerator"].as_u64(), p1["denominator"].as_u64()), (Some(16), Some(29)));
    assert_eq!(report["known_at"], "2021-01-31T23:59:59Z");
    assert!(report.get("consistency").is_none(), "{report}");
    let seq = report["ledger"]["seq"].as_u64().unwrap();
    assert_eq!(seq, 747);
    // Events 1…S: the whole history up to the signed checkpoint, the publication in it.
    let export = run(&s.dir, &["export"], b"").stdout;
    assert_eq!(String::from_utf8_lossy(&get("events.jsonl")), export);
    let events: Vec<Value> = export.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let size = report["checkpoint"].as_str().unwrap().lines().nth(1).unwrap().parse::<usize>().unwrap();
    assert_eq!(size, events.len());
    let m = events.iter().find(|e| e["type"] == "report_published").expect("the publication is in the bundle");
    assert_eq!(m["seq"], 765);
    assert_eq!(m["data"]["report"], report["hash"]);
    assert_eq!(m["data"]["seq"], 747);
    assert_eq!(m["data"]["known_at"], "2021-01-31T23:59:59Z");
    assert_eq!(m["data"]["period"], json!({"from": "2020-01-01", "to": "2020-12-31"}));
    let defs_hash = blake3::hash(&caseledger::ledger::canonical::to_vec(&report["definitions"]).unwrap());
    assert_eq!(m["data"]["definitions"], defs_hash.to_hex().as_str());
    for f in ["lineage.json", "README.md", "verify_bundle.py", "policy.txt"] {
        assert_eq!(m["data"]["files"][f], blake3::hash(&get(f)).to_hex().as_str(), "{f}");
    }
    assert_eq!(get("verify_bundle.py"), std::fs::read(TOOL).unwrap(), "the bundle carries the project's verifier");
    let readme = String::from_utf8_lossy(&get("README.md")).into_owned();
    assert!(readme.contains("Отчёт **опубликован**") && readme.contains("In English"), "{readme}");
    for pin in ["--key", "--policy", "--defs"] {
        assert!(readme.matches(pin).count() >= 2, "the README says what {pin} pins, in both languages");
    }

    let r = verify(&s.zip, &["--key", &s.vkey]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!((v["ok"].as_bool(), v["seq"].as_u64()), (Some(true), Some(747)));
    assert_eq!(v["checkpoint_size"], size);
    assert_eq!(v["figures_rederived"], report["figures"].as_array().unwrap().len());
    assert_eq!(v["published"]["seq"], 765);
    assert_eq!(v["cosigned"], json!(["fund.example/witness"]));
    // In words: published when, by which event, witnessed no later than when.
    let r = run(Path::new("/nonexistent/ledger"), &["bundle", "verify", s.zip.to_str().unwrap()], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let words = regex::Regex::new(
        r"Отчёт опубликован \d\d\.\d\d\.\d{4} \d\d:\d\d \(событие № 765\), заверен свидетелями не позднее \d\d\.\d\d\.\d{4} \d\d:\d\d",
    )
    .unwrap();
    assert!(words.is_match(&r.stdout), "{}", r.stdout);
    assert!(r.stdout.contains("Пакет верен") && r.stdout.contains("взят из самого пакета"), "{}", r.stdout);
    if let Some((code, text)) = python(&s.zip, &["--key", &s.vkey]) {
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("\"cosigned\": [\"fund.example/witness\"]"), "{text}");
        assert!(words.is_match(&text), "{text}");
    }
    // The funder's own definitions (the built-in ones, as a file) pin them.
    let defs = s.path("funder-defs.json");
    std::fs::write(&defs, serde_json::to_vec(&report["definitions"]).unwrap()).unwrap();
    let r = verify(&s.zip, &["--key", &s.vkey, "--defs", defs.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(python(&s.zip, &["--defs", defs.to_str().unwrap()]).map_or(0, |(c, _)| c), 0);

    // The ledger knows the publication: report verify says so; /audit words.
    let file = s.path("report.json");
    std::fs::write(&file, get("report.json")).unwrap();
    let rv = run(&s.dir, &["report", "verify", file.to_str().unwrap()], b"");
    assert_eq!(rv.code, 0, "{} {}", rv.stdout, rv.stderr);
    assert!(words.is_match(&rv.stdout), "{}", rv.stdout);
}

/// The funder's own witness policy decides: a bundle checked with a policy naming a
/// witness that did not cosign is refused by both; the untouched one passes.
#[test]
fn the_funders_own_policy_decides_the_witnesses() {
    let s = seed();
    let (_w2, other_witness) = common::witness(s.tmp.path(), "other.example/witness", &s.vkey);
    let theirs = s.path("funder-policy.txt");
    let own = String::from_utf8(members(&s.zip).into_iter().find(|(n, _)| n == "policy.txt").unwrap().1).unwrap();
    std::fs::write(&theirs, &own).unwrap();
    let policy = theirs.to_str().unwrap();
    assert_eq!(verify(&s.zip, &["--key", &s.vkey, "--policy", policy]).code, 0);
    assert_eq!(python(&s.zip, &["--key", &s.vkey, "--policy", policy]).map_or(0, |(c, _)| c), 0);
    // The funder wants two witnesses: only one cosigned.
    let own_witness = own.lines().find(|l| l.starts_with("witness ")).unwrap();
    let two = s.path("two-witnesses.txt");
    std::fs::write(
        &two,
        format!("{own_witness}\nwitness other.example/witness {other_witness} http://127.0.0.1:1\nquorum 2\n"),
    )
    .unwrap();
    refused_by_both(
        "a policy of two witnesses",
        &s.zip,
        &["--key", &s.vkey, "--policy", two.to_str().unwrap()],
        "заверили свидетелей: 1 из 2",
    );
    // A policy that does not know the bundle's witness: its line is a signature from
    // an unlisted key.
    let stranger = s.path("stranger-policy.txt");
    std::fs::write(&stranger, format!("witness other.example/witness {other_witness} http://127.0.0.1:1\nquorum 1\n"))
        .unwrap();
    refused_by_both(
        "a policy of another witness",
        &s.zip,
        &["--key", &s.vkey, "--policy", stranger.to_str().unwrap()],
        "от неизвестного ключа",
    );
}

#[test]
fn every_forgery_of_the_review_is_refused_by_both_verifiers() {
    let s = seed();
    let export = run(&s.dir, &["export"], b"").stdout;
    let extra_event = export.lines().nth(5).unwrap().to_string();
    // Another log key of the same name, and another witness key of the same name.
    let (_t2, other) = new_ledger();
    run(&other, &["key", "init", "--origin", ORIGIN], b"");
    let foreign = caseledger::checkpoint::LogKey::load(&other).unwrap().unwrap();
    let w2 = s.path("other-witness");
    Command::new(common::bin())
        .args(["witness", "init", "--dir", w2.to_str().unwrap(), "--name", "fund.example/witness"])
        .output()
        .unwrap();
    let foreign_witness = caseledger::checkpoint::WitnessKey::load(&w2).unwrap();
    let own_witness = caseledger::checkpoint::WitnessKey::load(&s.path("fund.example/witness")).unwrap();

    type Edit = Box<dyn FnOnce(&mut Files)>;
    let note_edit = |f: Box<dyn FnOnce(String) -> String>| -> Edit {
        // The checkpoint is not under the report's hash (the publication is): a note
        // edited needs no re-hash.
        Box::new(move |files: &mut Files| {
            edit_report(files, false, |r| r["checkpoint"] = json!(f(r["checkpoint"].as_str().unwrap().to_string())))
        })
    };
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "an event changed",
            Box::new(|f| {
                edit_lines(f, |l| l[411] = l[411].replacen("\"occurred_on\":\"20", "\"occurred_on\":\"19", 1))
            }),
            "событие № 412 изменено: хеш не совпадает",
        ),
        (
            "an event dropped",
            Box::new(|f| edit_lines(f, |l| drop(l.remove(99)))),
            "пропущены, переставлены или вставлены",
        ),
        (
            "two events reordered",
            Box::new(|f| edit_lines(f, |l| l.swap(10, 11))),
            "пропущены, переставлены или вставлены",
        ),
        (
            "an event inserted",
            Box::new(move |f| edit_lines(f, |l| l.insert(50, extra_event))),
            "пропущены, переставлены или вставлены",
        ),
        (
            "a third party cuts the history back, keeping the genuine checkpoint",
            Box::new(|f| edit_lines(f, |l| l.truncate(760))),
            "история пакета укорочена или дополнена",
        ),
        (
            "a figure edited (hash left)",
            Box::new(|f| edit_report(f, false, |r| r["figures"][0]["numerator"] = json!(99))),
            "отчёт изменён после выпуска",
        ),
        (
            "a figure edited and the report re-hashed",
            Box::new(|f| edit_report(f, true, |r| r["figures"][0]["numerator"] = json!(99))),
            "нет события публикации этого отчёта",
        ),
        (
            "definitions changed, P1 re-derived as 25/29, the report re-hashed",
            Box::new(|f| {
                edit_report(f, true, |r| {
                    let defs = r["definitions"].as_array_mut().unwrap();
                    let p1 = defs.iter_mut().find(|d| d["id"] == "P1").unwrap();
                    p1["numerator"]["from"][0]["where"] = json!({"fact": "active_in_period", "eq": true});
                    let fig = r["figures"].as_array_mut().unwrap().iter_mut().find(|x| x["id"] == "P1").unwrap();
                    fig["numerator"] = json!(25);
                })
            }),
            "нет события публикации этого отчёта",
        ),
        (
            "the period moved, re-hashed",
            Box::new(|f| edit_report(f, true, |r| r["period"]["to"] = json!("2020-06-30"))),
            "нет события публикации этого отчёта",
        ),
        (
            "the cut's moment moved within the same events, re-hashed",
            Box::new(|f| edit_report(f, true, |r| r["known_at"] = json!("2021-02-01T00:00:00Z"))),
            "нет события публикации этого отчёта",
        ),
        (
            "the cut's moment moved past later events, re-hashed",
            Box::new(|f| edit_report(f, true, |r| r["known_at"] = json!("2021-03-31T23:59:59Z"))),
            "срез сдвинут",
        ),
        (
            "lineage.json edited",
            Box::new(|f| {
                let l = member(f, "lineage.json");
                *l = String::from_utf8(l.clone()).unwrap().replacen("\"seq\":", "\"seq\": ", 1).into_bytes();
            }),
            "файл «lineage.json» изменён после публикации",
        ),
        (
            "README.md edited",
            Box::new(|f| member(f, "README.md").extend_from_slice(b"\nVerified by the organisation.\n")),
            "файл «README.md» изменён после публикации",
        ),
        (
            "verify_bundle.py replaced",
            Box::new(|f| *member(f, "verify_bundle.py") = b"print('{\"ok\": true}')\n".to_vec()),
            "файл «verify_bundle.py» изменён после публикации",
        ),
        (
            "policy.txt stripped of its witnesses",
            Box::new(|f| {
                let p = String::from_utf8(member(f, "policy.txt").clone()).unwrap();
                *member(f, "policy.txt") = (p.lines().next().unwrap().to_string() + "\nquorum 0\n").into_bytes();
            }),
            "файл «policy.txt» изменён после публикации",
        ),
        (
            "an integer written 6.0",
            Box::new(|f| edit_lines(f, |l| l[5] = l[5].replacen("\"seq\":6,", "\"seq\":6.0,", 1))),
            "событие № 6",
        ),
        (
            "an integer written 6e0",
            Box::new(|f| edit_lines(f, |l| l[5] = l[5].replacen("\"seq\":6,", "\"seq\":6e0,", 1))),
            "событие № 6",
        ),
        (
            "a duplicate member in report.json",
            Box::new(|f| {
                let text = String::from_utf8(member(f, "report.json").clone()).unwrap();
                *member(f, "report.json") =
                    text.replacen("{\n", "{\n  \"created_at\": \"2030-01-01T00:00:00Z\",\n", 1).into_bytes();
            }),
            "дважды",
        ),
        (
            "a carriage return in the signatures",
            note_edit(Box::new(|n| n.replace('\n', "\r\n"))),
            "не по правилам C2SP",
        ),
        (
            "a trailing space after a signature",
            note_edit(Box::new(|n| n.trim_end_matches('\n').to_string() + " \n")),
            "не по правилам C2SP",
        ),
        ("a junk line among the signatures", note_edit(Box::new(|n| n + "junk\n")), "не по правилам C2SP"),
        (
            "a signature line twice",
            note_edit(Box::new(|n| {
                let last = n.lines().last().unwrap().to_string();
                n + &last + "\n"
            })),
            "не по правилам C2SP",
        ),
        (
            "the checkpoint re-signed by another key of the same name",
            note_edit(Box::new(move |n| {
                let body = n.split_once("\n\n").unwrap().0.to_string() + "\n";
                let mut note = signed_note::Note::new(body.as_bytes(), &[]).unwrap();
                note.add_sigs(&[&foreign]).unwrap();
                String::from_utf8(note.to_bytes()).unwrap()
            })),
            "подпись контрольной точки не от ключа",
        ),
        (
            "a witness cosignature from an unknown key",
            note_edit(Box::new(move |n| {
                let body = n.split_once("\n\n").unwrap().0.to_string() + "\n";
                n.clone() + &foreign_witness.cosign(&body, 1_900_000_000)
            })),
            "от неизвестного ключа",
        ),
        (
            "the witness's cosignature dated before the cut",
            note_edit(Box::new(move |n| {
                let body = n.split_once("\n\n").unwrap().0.to_string() + "\n";
                let kept: String =
                    n.lines().filter(|l| !l.starts_with("— fund.example/witness ")).map(|l| format!("{l}\n")).collect();
                kept + &own_witness.cosign(&body, 1_600_000_000)
            })),
            "раньше среза отчёта",
        ),
        (
            "an extra member",
            Box::new(|f| f.push(("note-from-organisation.txt".into(), b"trust us".to_vec()))),
            "лишний файл",
        ),
        ("a missing member", Box::new(|f| f.retain(|(n, _)| n != "lineage.json")), "нет файла «lineage.json»"),
    ];
    for (i, (what, edit, words)) in cases.into_iter().enumerate() {
        let bad = s.path(&format!("forged-{i}.zip"));
        let mut files = members(&s.zip);
        edit(&mut files);
        write_zip(&bad, &files);
        refused_by_both(what, &bad, &["--key", &s.vkey], words);
    }
}

/// What no zip library writes on purpose, and a zip could say two ways: two entries of
/// one name (the forged report first, the genuine last — a reader that keeps the last
/// sees the genuine one); a local header that names another file, or claims another
/// size, than the central directory (a streaming unzip reads the local one); an entry
/// hidden between two listed ones; an extra field (some readers rename a member by
/// one); a comment (`unzip` prints it).
#[test]
fn zips_that_say_two_things_are_refused_by_both_verifiers() {
    let s = seed();
    let files = members(&s.zip);
    let get = |n: &str| files.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let mut forged: Value = serde_json::from_slice(&get("report.json")).unwrap();
    forged["figures"][0]["numerator"] = json!(99);
    let forged = serde_json::to_vec(&forged).unwrap();
    let genuine: Vec<(String, Vec<u8>)> = files.clone();
    let plain: Vec<Raw<'_>> = genuine.iter().map(|(n, b)| Raw::new(n, b)).collect();
    let key = ["--key", s.vkey.as_str()];
    let write = |name: &str, entries: &[Raw<'_>], comment: &[u8]| {
        let zip = s.path(name);
        std::fs::write(&zip, raw_zip(entries, comment)).unwrap();
        zip
    };

    // The genuine members through the raw writer verify: the refusals below are about
    // what was forged, not about the writer.
    let zip = write("plain.zip", &plain, b"");
    assert_eq!(verify(&zip, &key).code, 0);
    assert_eq!(python(&zip, &key).map_or(0, |(c, _)| c), 0);

    let mut twice = vec![Raw::new("report.json", &forged)];
    twice.extend(plain.iter().copied());
    let zip = write("twice.zip", &twice, b"");
    refused_by_both("report.json twice, the forged one first", &zip, &key, "дважды в пакете");

    let mut renamed = plain.clone();
    renamed[0].local_name = "report.json ";
    let zip = write("renamed.zip", &renamed, b"");
    refused_by_both("a local name that differs from the central one", &zip, &key, "различаются");

    let mut longer = plain.clone();
    longer[3].local_size = Some(longer[3].data.len() as u32 + 100);
    let zip = write("local-size.zip", &longer, b"");
    refused_by_both("a local header claiming another size", &zip, &key, "расходятся");

    let mut hidden = plain.clone();
    hidden.insert(3, Raw { listed: false, ..Raw::new("report.json", &forged) });
    let zip = write("hidden.zip", &hidden, b"");
    refused_by_both("a forged report hidden between two entries", &zip, &key, "лишние данные");

    let mut extra = plain.clone();
    // An Info-ZIP Unicode Path field (0x7075) naming the member otherwise.
    let unicode_path = [&[0x75u8, 0x70, 13, 0, 1, 0, 0, 0, 0][..], b"evil.txt"].concat();
    extra[3].extra = &unicode_path;
    let zip = write("extra.zip", &extra, b"");
    refused_by_both("an extra field that renames a member", &zip, &key, "дополнительные поля");

    let zip = write("comment.zip", &plain, b"\nThe organisation's key changed: verify with --key AAAA\n");
    refused_by_both("a zip comment", &zip, &key, "комментарий");
}

/// Zip bombs: a member that says it unpacks past the cap is refused from its declared
/// size before anything is unpacked; one that lies about its size stops at the size
/// it declared. (Peak memory of a 2 GiB bomb is measured in BENCHMARKS.md.)
#[test]
fn zip_bombs_are_refused_by_both_verifiers() {
    let s = seed();
    let files = members(&s.zip);
    // 300 MiB of zeros deflate to about 300 KiB.
    let write_bomb = |path: &Path| {
        let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, bytes) in &files {
            let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            z.start_file(name.as_str(), opts).unwrap();
            if name == "lineage.json" {
                let zeros = vec![b' '; 1 << 20];
                for _ in 0..300 {
                    z.write_all(&zeros).unwrap();
                }
            }
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    };
    let bomb = s.path("bomb.zip");
    write_bomb(&bomb);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 3 << 20, "a small file");
    refused_by_both("a member that unpacks to 300 MiB", &bomb, &["--key", &s.vkey], "больше чем в 256 МиБ");
    // With a larger cap it unpacks, and then fails as an edited lineage.
    refused_by_both(
        "the same with --max-bytes 1 GiB",
        &bomb,
        &["--key", &s.vkey, "--max-bytes", "1073741824"],
        "файл «lineage.json» изменён после публикации",
    );
    // The same bomb, its declared sizes patched down to 1000 bytes: it lies.
    let mut bytes = std::fs::read(&bomb).unwrap();
    let (mut at, mut patched) = (0, 0);
    while let Some(i) = bytes[at..].windows(4).position(|w| w == b"PK\x01\x02").map(|i| at + i) {
        let name_len = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
        if &bytes[i + 46..i + 46 + name_len] == b"lineage.json" {
            let local = u32::from_le_bytes(bytes[i + 42..i + 46].try_into().unwrap()) as usize;
            bytes[i + 24..i + 28].copy_from_slice(&1000u32.to_le_bytes());
            bytes[local + 22..local + 26].copy_from_slice(&1000u32.to_le_bytes());
            patched += 1;
        }
        at = i + 4;
    }
    assert_eq!(patched, 1);
    let liar = s.path("liar.zip");
    std::fs::write(&liar, bytes).unwrap();
    let r = verify(&liar, &["--key", &s.vkey]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("lineage.json"), "{}", r.stdout);
    if let Some((code, text)) = python(&liar, &["--key", &s.vkey]) {
        assert_eq!(code, 3, "{text}");
        assert!(text.contains("lineage.json"), "{text}");
    }
}

/// The organisation itself, with its own key, publishing a report whose cut it moved:
/// made at seq 700 but stamped «as known 31.01.2021», although events 701–747 were
/// recorded before that day; and one whose figure it changed. It can sign anything;
/// the cut rule and the re-derivation still catch it.
#[test]
fn the_organisation_cannot_move_the_cut_or_the_figures_of_what_it_publishes() {
    let s = seed();
    let genuine = members(&s.zip);
    let get = |n: &str| genuine.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let genuine_report: Value = serde_json::from_slice(&get("report.json")).unwrap();

    // A report at seq 700 with the figures of that prefix, stamped 31.01.2021.
    let at700 = run(&s.dir, &["report", "create", "--year", "2020", "--at-seq", "700"], b"");
    assert_eq!(at700.code, 0, "{}", at700.stderr);
    let mut moved: Value = serde_json::from_str(&at700.stdout).unwrap();
    moved["known_at"] = json!("2021-01-31T23:59:59Z");
    moved.as_object_mut().unwrap().remove("consistency");
    rehash(&mut moved);
    let zip = forge_published(&s, &genuine, moved);
    refused_by_both("the cut moved by its own organisation", &zip, &["--key", &s.vkey], "срез сдвинут");

    // The genuine cut with a figure changed: every signature holds, so only the
    // binary, which re-derives the figures, refuses it.
    let mut inflated = genuine_report.clone();
    let p1 = inflated["figures"].as_array_mut().unwrap().iter_mut().find(|f| f["id"] == "P1").unwrap();
    p1["numerator"] = json!(25);
    rehash(&mut inflated);
    let zip = forge_published(&s, &genuine, inflated);
    let r = verify(&zip, &["--key", &s.vkey]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("показатели не пересчитываются") && r.stdout.contains("P1"), "{}", r.stdout);
    if let Some((code, text)) = python(&zip, &["--key", &s.vkey]) {
        assert_eq!(code, 0, "the reference verifier does not re-derive figures: {text}");
    }
    // …and the funder's own definitions: a report published with other ones.
    let mut other_defs = genuine_report.clone();
    let d = other_defs["definitions"].as_array_mut().unwrap().iter_mut().find(|d| d["id"] == "P1").unwrap();
    d["title"] = json!("Семьи, с которыми работали");
    rehash(&mut other_defs);
    let zip = forge_published(&s, &genuine, other_defs);
    let defs = s.path("funder-defs.json");
    std::fs::write(&defs, serde_json::to_vec(&genuine_report["definitions"]).unwrap()).unwrap();
    refused_by_both(
        "a report published with other definitions, checked against the funder's",
        &zip,
        &["--key", &s.vkey, "--defs", defs.to_str().unwrap()],
        "определение показателя «P1» в пакете отличается от вашего (--defs)",
    );
}

/// A bundle as its organisation could sign it by hand: the publication (the last
/// event) rewritten to name `report`, the chain's hashes recomputed, the tree's new
/// root signed with the organisation's key and cosigned with its witness's key.
fn forge_published(s: &Seed, genuine: &Files, report: Value) -> PathBuf {
    let get = |n: &str| genuine.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let text = String::from_utf8(get("events.jsonl")).unwrap();
    let mut events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = events.last_mut().unwrap();
    assert_eq!(last["type"], "report_published");
    let defs = blake3::hash(&caseledger::ledger::canonical::to_vec(&report["definitions"]).unwrap());
    last["data"]["report"] = report["hash"].clone();
    last["data"]["definitions"] = json!(defs.to_hex().as_str());
    last["data"]["seq"] = report["ledger"]["seq"].clone();
    last["data"]["known_at"] = report["known_at"].clone();
    forge(s, genuine, events, report)
}

/// The organisation signing `events` (their links and hashes recomputed) with its key
/// and its witness's, `report` carrying the new checkpoint, the other files genuine.
fn forge(s: &Seed, genuine: &Files, mut events: Vec<Value>, report: Value) -> PathBuf {
    let mut frontier = caseledger::ledger::merkle::Frontier::default();
    let (mut bytes, mut prev) = (Vec::new(), "0".repeat(64));
    for (i, e) in events.iter_mut().enumerate() {
        let obj = e.as_object_mut().unwrap();
        obj.remove("hash");
        obj.insert("seq".into(), json!(i + 1));
        obj.insert("prev".into(), json!(prev));
        let body = caseledger::ledger::canonical::to_vec(e).unwrap();
        let hash = blake3::hash(&body);
        frontier.push(caseledger::ledger::merkle::leaf(hash.as_bytes()), |_, _, _| {});
        bytes.extend_from_slice(&body[..body.len() - 1]);
        bytes.extend_from_slice(format!(",\"hash\":\"{}\"}}\n", hash.to_hex()).as_bytes());
        prev = hash.to_hex().to_string();
    }
    let body = caseledger::checkpoint::body(ORIGIN, events.len() as u64, &frontier.root());
    let key = caseledger::checkpoint::LogKey::load(&s.dir).unwrap().unwrap();
    let mut note = signed_note::Note::new(body.as_bytes(), &[]).unwrap();
    note.add_sigs(&[&key]).unwrap();
    let witness = caseledger::checkpoint::WitnessKey::load(&s.path("fund.example/witness")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let note = String::from_utf8(note.to_bytes()).unwrap() + &witness.cosign(&body, now);
    let mut report = report;
    report["checkpoint"] = json!(note);
    let mut files: Files = genuine.clone();
    *member(&mut files, "report.json") = serde_json::to_vec_pretty(&report).unwrap();
    *member(&mut files, "events.jsonl") = bytes;
    let path = s.path(&format!("org-forged-{}.zip", &blake3::hash(&files[1].1).to_hex()[..8]));
    write_zip(&path, &files);
    path
}

/// The organisation backdating: an event stamped 31.01.2021 appended after events of
/// February–June, so that a report «as known 31.01.2021» takes them in; and an event of
/// no known type, signed (only re-deriving reads events' meaning: the binary refuses it
/// with a verdict, not an error).
#[test]
fn the_organisation_cannot_backdate_or_sign_nonsense() {
    let s = seed();
    let genuine = members(&s.zip);
    let get = |n: &str| genuine.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let text = String::from_utf8(get("events.jsonl")).unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (history, publication) = events.split_at(events.len() - 1);
    let mut backdated = history.to_vec();
    let mut late = history[5].clone();
    late["id"] = json!("00000000-0000-4000-8000-000000000001");
    late["recorded_at"] = json!("2021-01-31T12:00:00Z");
    late["occurred_on"] = json!("2021-01-31");
    backdated.push(late);
    let mut report: Value = serde_json::from_slice(&get("report.json")).unwrap();
    report["ledger"]["seq"] = json!(backdated.len());
    rehash(&mut report);
    let mut p = publication[0].clone();
    p["data"]["report"] = report["hash"].clone();
    p["data"]["seq"] = json!(backdated.len());
    backdated.push(p);
    let zip = forge(&s, &genuine, backdated, report);
    refused_by_both("an event backdated by its own organisation", &zip, &["--key", &s.vkey], "время записи идёт назад");

    let mut nonsense = history.to_vec();
    let mut odd = nonsense[5].clone();
    odd["type"] = json!("family_blessed");
    odd["id"] = json!("00000000-0000-4000-8000-000000000002");
    odd["recorded_at"] = history.last().unwrap()["recorded_at"].clone();
    nonsense.push(odd);
    let report: Value = serde_json::from_slice(&get("report.json")).unwrap();
    let mut p = publication[0].clone();
    p["data"]["report"] = report["hash"].clone();
    nonsense.push(p);
    let zip = forge(&s, &genuine, nonsense, report);
    let r = verify(&zip, &["--key", &s.vkey]);
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("a verdict, in JSON");
    assert!(v["failures"][0].as_str().unwrap().contains("не читаются как история реестра"), "{v}");
}

/// What the funder pins holds against what the bundle says: their policy's `log` line
/// names the key when --key is not given (and must agree with --key when both are); a
/// policy line hiding a quorum behind a control character is refused by both readers
/// alike; a second, unsigned line for the witness cannot change its time.
#[test]
fn the_funders_pins_and_the_witness_lines_cannot_be_worked_around() {
    let s = seed();
    let own = String::from_utf8(members(&s.zip).into_iter().find(|(n, _)| n == "policy.txt").unwrap().1).unwrap();
    let witness_line = own.lines().find(|l| l.starts_with("witness ")).unwrap().to_string();
    let pinned = s.path("pinned.txt");
    std::fs::write(&pinned, format!("log {}\n{witness_line}\nquorum 1\n", s.vkey)).unwrap();
    let r = run(
        Path::new("/nonexistent/ledger"),
        &["bundle", "verify", s.zip.to_str().unwrap(), "--policy", pinned.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("из строки `log` вашей политики"), "{}", r.stdout);
    assert_eq!(python(&s.zip, &["--policy", pinned.to_str().unwrap()]).map_or(0, |(c, _)| c), 0);
    let (_t, other) = new_ledger();
    let other_key = run(&other, &["key", "init", "--origin", ORIGIN], b"").stdout.trim().to_string();
    let wrong = s.path("wrong-log.txt");
    std::fs::write(&wrong, format!("log {other_key}\n{witness_line}\nquorum 1\n")).unwrap();
    refused_by_both(
        "the funder's policy names another log key",
        &s.zip,
        &["--policy", wrong.to_str().unwrap()],
        "подпись контрольной точки не от ключа",
    );
    refused_by_both(
        "--key and the funder's policy disagree",
        &s.zip,
        &["--key", &s.vkey, "--policy", wrong.to_str().unwrap()],
        "различаются",
    );
    let hidden = s.path("hidden-quorum.txt");
    std::fs::write(&hidden, format!("{witness_line}\n# note\u{1c}quorum 0\n")).unwrap();
    refused_by_both(
        "a quorum hidden behind U+001C",
        &s.zip,
        &["--key", &s.vkey, "--policy", hidden.to_str().unwrap()],
        "управляющий символ",
    );

    // A second line for the witness, unsigned, dated at the cut.
    let dir = s.zip.parent().unwrap();
    let mut files = members(&s.zip);
    edit_report(&mut files, false, |r| {
        let note = r["checkpoint"].as_str().unwrap().to_string();
        let line = note.lines().find(|l| l.starts_with("— fund.example/witness ")).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut blob = b64.decode(line.rsplit(' ').next().unwrap()).unwrap();
        blob[4..12].copy_from_slice(&1_612_137_599u64.to_be_bytes());
        blob[12..].fill(0);
        r["checkpoint"] = json!(format!("{note}— fund.example/witness {}\n", b64.encode(blob)));
    });
    let bad = dir.join("second-witness-line.zip");
    write_zip(&bad, &files);
    refused_by_both("a second, unsigned witness line", &bad, &["--key", &s.vkey], "повторена");
}

/// A bundle made before SPEC §19 (its report unpublished, with a consistency proof,
/// events 1…seq only) no longer verifies: it binds nothing.
#[test]
fn an_unpublished_bundle_of_the_old_kind_is_refused() {
    let s = seed();
    let files = members(&s.zip);
    let get = |n: &str| files.iter().find(|(m, _)| m == n).unwrap().1.clone();
    let r = run(&s.dir, &["report", "create", "--year", "2020", "--known-at", "2021-01-31"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let old: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(old.get("consistency").is_some());
    let events: String =
        String::from_utf8(get("events.jsonl")).unwrap().lines().take(747).map(|l| format!("{l}\n")).collect();
    let mut old_files: Files = files.clone();
    *member(&mut old_files, "report.json") = serde_json::to_vec_pretty(&old).unwrap();
    *member(&mut old_files, "events.jsonl") = events.into_bytes();
    let zip = s.path("old.zip");
    write_zip(&zip, &old_files);
    refused_by_both("a bundle of the old kind", &zip, &["--key", &s.vkey], "не опубликован");
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
    // No key: nothing is published (it would prove nothing), said plainly, nothing written.
    let old = tmp.path().join("old.zip");
    let head = run(&dir, &["log", "--json"], b"").stdout.lines().count();
    let r = run(&dir, &["report", "bundle", "--year", "2021", "--out", old.to_str().unwrap()], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("key init"), "{}", r.stderr);
    assert_eq!(run(&dir, &["log", "--json"], b"").stdout.lines().count(), head);
    let vkey = run(&dir, &["key", "init"], b"").stdout.trim().to_string();
    assert_eq!(run(&dir, &["report", "bundle", "--year", "2021", "--out", old.to_str().unwrap()], b"").code, 0);
    // The publication is recorded now: what comes later is recorded after it (a
    // history loaded with past times goes only into an empty ledger).
    let late: String = late
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("recorded_at");
            format!("{v}\n")
        })
        .collect();
    let r = run(&dir, &["append"], late.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    // …and an event the old report counted, voided as entered by mistake (the first
    // that the rules let be voided).
    let lineage: Value =
        serde_json::from_slice(&members(&old).into_iter().find(|(n, _)| n == "lineage.json").unwrap().1).unwrap();
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
    // A publication cannot be corrected.
    let publication = run(&dir, &["log", "--json"], b"")
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "report_published")
        .unwrap();
    let void = json!({"type": "event_voided", "occurred_on": "2022-12-30", "data": {"target": publication["id"], "reason": "отзываем"}});
    let r = run(&dir, &["append"], format!("{void}\n").as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("публикацию отчёта нельзя исправить или отменить"), "{}", r.stderr);
    // A middle publication (report create --publish), then the new bundle.
    let r = run(&dir, &["report", "create", "--year", "2022", "--publish"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new = tmp.path().join("new.zip");
    assert_eq!(run(&dir, &["report", "bundle", "--year", "2021", "--out", new.to_str().unwrap()], b"").code, 0);
    for z in [&old, &new] {
        let r = verify(z, &["--key", &vkey]);
        assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
        assert!(python(z, &["--key", &vkey]).is_none_or(|(code, _)| code == 0));
    }
    // NEW extends OLD; the publications between them are listed; the figures of 2021
    // that late entries and corrections moved, with the events that moved them — the
    // same as report verify says.
    let d = run(
        Path::new("/nonexistent/ledger"),
        &["bundle", "diff", old.to_str().unwrap(), new.to_str().unwrap(), "--json"],
        b"",
    );
    assert_eq!(d.code, 0, "{}", d.stderr);
    let d: Value = serde_json::from_str(d.stdout.trim()).unwrap();
    assert_eq!(d["extends"], true);
    let pubs = d["publications"].as_array().unwrap();
    assert_eq!(pubs.len(), 2, "the 2022 report and the new bundle's own: {d}");
    assert_eq!(pubs[0]["period"]["from"], "2022-01-01");
    assert_eq!(pubs[1]["period"]["from"], "2021-01-01");
    assert!(!d["changed"].as_array().unwrap().is_empty(), "late entries of 2022 moved some 2021 figure: {d}");
    let report: Value =
        serde_json::from_slice(&members(&old).into_iter().find(|(n, _)| n == "report.json").unwrap().1).unwrap();
    let file = tmp.path().join("old-report.json");
    std::fs::write(&file, report.to_string()).unwrap();
    let rv = run(&dir, &["report", "verify", file.to_str().unwrap(), "--json"], b"");
    assert_eq!(rv.code, 0, "{}", rv.stdout);
    let rv: Value = serde_json::from_str(rv.stdout.trim()).unwrap();
    assert_eq!(d["changed"], rv["changed"]);
    assert!(rv["published"]["seq"].as_u64().is_some(), "{rv}");
    // Reversed, NEW does not come before OLD.
    let d =
        run(Path::new("/nonexistent/ledger"), &["bundle", "diff", new.to_str().unwrap(), old.to_str().unwrap()], b"");
    assert_eq!(d.code, 3, "{}", d.stdout);
    assert!(d.stderr.contains("не продолжает историю"), "{}", d.stderr);

    // Another log, under the same look-alike origin, with its own key: diff refuses
    // it with or without --key, though each bundle verifies on its own.
    let (t3, third) = new_ledger();
    assert_eq!(run(&third, &["append"], (early.join("\n") + "\n").as_bytes()).code, 0);
    let origin = vkey.split('+').next().unwrap().to_string();
    let look_alike = origin.replacen('c', "с", 1);
    assert_ne!(look_alike, origin);
    run(&third, &["key", "init", "--origin", &look_alike], b"");
    let theirs = t3.path().join("theirs.zip");
    assert_eq!(run(&third, &["report", "bundle", "--year", "2021", "--out", theirs.to_str().unwrap()], b"").code, 0);
    assert_eq!(verify(&theirs, &[]).code, 0);
    let d = run(
        Path::new("/nonexistent/ledger"),
        &["bundle", "diff", old.to_str().unwrap(), theirs.to_str().unwrap()],
        b"",
    );
    assert_eq!(d.code, 3, "{}", d.stdout);
    assert!(d.stderr.contains("разными ключами журнала"), "{}", d.stderr);
    let d = run(
        Path::new("/nonexistent/ledger"),
        &["bundle", "diff", old.to_str().unwrap(), theirs.to_str().unwrap(), "--key", &vkey],
        b"",
    );
    assert_eq!(d.code, 3, "{}", d.stdout);
}

#[test]
fn publishing_over_http_is_for_analysts_and_administrators() {
    let (tmp, dir) = new_ledger();
    assert_eq!(run(&dir, &["append", REPLAY], b"").code, 0);
    let vkey = run(&dir, &["key", "init"], b"").stdout.trim().to_string();
    let analyst = common::server::token(&dir, "analyst-1", "analyst");
    let recorder = common::server::token(&dir, "rec-1", "recorder");
    let auditor = common::server::token(&dir, "audit-1", "auditor");
    let server = common::server::Server::start(&dir);
    let body = r#"{"from":"2020-01-01","to":"2020-12-31","known_at":"2021-01-31"}"#;
    assert_eq!(server.post_json("/v1/bundles", &recorder, body).status, 403);
    assert_eq!(server.post_json("/v1/bundles", &auditor, body).status, 403);
    let published = r#"{"from":"2020-01-01","to":"2020-12-31","publish":true}"#;
    assert_eq!(server.post_json("/v1/reports", &auditor, published).status, 403);
    // An input line may never carry a publication.
    let forged = r#"{"type":"report_published","occurred_on":"2021-02-01","data":{}}"#;
    let r = server.post_json("/v1/events", &recorder, forged);
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["field"], "type");
    let r = server.post_json("/v1/bundles", &analyst, body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/zip");
    let zip = tmp.path().join("http.zip");
    std::fs::write(&zip, &r.bytes).unwrap();
    let v = verify(&zip, &["--key", &vkey]);
    assert_eq!(v.code, 0, "{} {}", v.stdout, v.stderr);
    let files = members(&zip);
    let events = String::from_utf8(files.iter().find(|(n, _)| n == "events.jsonl").unwrap().1.clone()).unwrap();
    let m: Value = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "report_published")
        .unwrap();
    assert_eq!(m["actor"], "analyst-1", "the publication is recorded as the token's user");
    // report create with publish: the published form, with a known_at bound to now.
    let r = server.post_json("/v1/reports", &analyst, published);
    assert_eq!(r.status, 200, "{}", r.text);
    let report = r.json();
    assert!(report["known_at"].is_string() && report.get("consistency").is_none(), "{report}");
    let file = tmp.path().join("r.json");
    std::fs::write(&file, r.text).unwrap();
    drop(server);
    let rv = run(&dir, &["report", "verify", file.to_str().unwrap(), "--json"], b"");
    assert_eq!(rv.code, 0, "{}", rv.stdout);
    let rv: Value = serde_json::from_str(rv.stdout.trim()).unwrap();
    assert_eq!(rv["published"]["seq"].as_u64(), Some(m["seq"].as_u64().unwrap() + 1), "{rv}");
    // An input line from the command line is refused too.
    let r = run(&dir, &["append"], format!("{forged}\n").as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("report bundle"), "{}", r.stderr);
}

/// A publication nobody can witness is not made: with the witness down, `report bundle`
/// exits 4 saying so, and nothing is appended.
#[test]
fn nothing_is_published_while_the_witnesses_do_not_answer() {
    let (tmp, dir) = new_ledger();
    assert_eq!(run(&dir, &["append", REPLAY], b"").code, 0);
    let vkey = run(&dir, &["key", "init", "--origin", ORIGIN], b"").stdout.trim().to_string();
    let (w, wkey) = common::witness(tmp.path(), "fund.example/witness", &vkey);
    drop(w);
    std::fs::write(
        dir.join("witnesses"),
        format!("witness fund.example/witness {wkey} http://127.0.0.1:9\nquorum 1\n"),
    )
    .unwrap();
    let zip = tmp.path().join("b.zip");
    let r = run(&dir, &["report", "bundle", "--year", "2020", "--out", zip.to_str().unwrap()], b"");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("ничего не опубликовано"), "{}", r.stderr);
    assert!(!zip.exists());
    assert_eq!(run(&dir, &["log", "--json"], b"").stdout.lines().count(), 764, "no publication appended");
}
