//! The funder's bundle (SPEC §15): one zip that verifies with no access to the
//! organisation — the report, the events it was derived from (1…`ledger.seq`), the
//! lineage of every figure, the witness policy and a README — and its verifier, which
//! needs no ledger: the events' hashes and links, the Merkle root of the events with
//! the report's consistency proof against the signed checkpoint, the signature and the
//! witnesses' quorum, the figures re-derived from the events with the report's own
//! definitions (in a temporary ledger loaded from the bundle), and the lineage.
//!
//! Failures are told in Russian, in words a funder understands, first failure first.

use std::io::{Read, Write};

use serde_json::{json, Value};
use signed_note::Verifier;

use crate::checkpoint::{verify_note, Checkpoint, KeyVerifier, LogKey, Policy};
use crate::error::{Error, Result};
use crate::indicators::{self, Definition, Period};
use crate::ledger::chain::{examine, read_export_line};
use crate::ledger::event::{hex, parse_hex, Hash, ZERO_HASH};
use crate::ledger::{merkle, Ledger};
use crate::project::Cut;

/// The members of a bundle, exactly.
pub const MEMBERS: [&str; 5] = ["report.json", "events.jsonl", "lineage.json", "policy.txt", "README.md"];
/// The most a bundle member may hold once unpacked (a zip bomb stops here).
const MAX_MEMBER_BYTES: u64 = 2 << 30;

/// Writes the bundle of a report for a period and a cut. The ledger must have a
/// signing key: a bundle without a signed checkpoint would prove nothing.
pub fn create(
    ledger: &Ledger,
    period: Period,
    cut: Cut,
    defs: &[Definition],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>> {
    let dir = ledger.store().dir().to_path_buf();
    let key = LogKey::load(&dir)?.ok_or_else(|| {
        Error::Usage(format!(
            "{} has no signing key, and a bundle without a signed checkpoint proves nothing: run caseledger key init",
            dir.display()
        ))
    })?;
    let report = crate::report::create(ledger, period, cut, defs, now)?;
    let seq = report["ledger"]["seq"].as_u64().unwrap_or(0);
    let mut events = Vec::new();
    if seq > 0 {
        ledger.for_each_while(1, |s, rec| {
            rec.to_json_line(&mut events);
            Ok(s < seq)
        })?;
    }
    // The lineage at exactly the report's cut (nothing appended since enters it).
    let pinned = Cut { known_at: cut.known_at, at_seq: Some(seq) };
    let lineage = indicators::lineages(ledger, period, pinned, defs)?;
    let policy = Policy::load(&dir)?.to_text(&key.vkey());
    let readme = readme(&report, &key.vkey());
    let report_text = serde_json::to_string_pretty(&report).map_err(std::io::Error::from)? + "\n";
    let lineage_text = serde_json::to_string(&lineage).map_err(std::io::Error::from)? + "\n";

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    use chrono::{Datelike, Timelike};
    let when = zip::DateTime::from_date_and_time(
        u16::try_from(now.year()).unwrap_or(1980),
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second() as u8,
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .last_modified_time(when)
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .large_file(events.len() > u32::MAX as usize / 2);
    let zip_err = |e: zip::result::ZipError| Error::Storage(format!("writing the bundle: {e}"));
    for (name, bytes) in [
        ("report.json", report_text.as_bytes()),
        ("events.jsonl", &events[..]),
        ("lineage.json", lineage_text.as_bytes()),
        ("policy.txt", policy.as_bytes()),
        ("README.md", readme.as_bytes()),
    ] {
        zip.start_file(name, options).map_err(zip_err)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish().map_err(zip_err)?.into_inner())
}

/// What `bundle verify` found.
#[derive(Debug, Default)]
pub struct Verdict {
    pub seq: u64,
    pub head: Option<Hash>,
    pub checkpoint_size: Option<u64>,
    pub figures_rederived: usize,
    /// In the order found; the first is the one to name.
    pub failures: Vec<String>,
    /// Where the log's key came from (`--key`, or the bundle's own policy).
    pub key_note: String,
    /// The witnesses whose cosignatures verify.
    pub cosigned: Vec<String>,
    /// Where the log's key and the witness policy came from: "--key"/"--policy" or
    /// "bundle".
    pub key_from: &'static str,
    pub policy_from: &'static str,
    /// The log's origin, from the checkpoint (who the bundle is from).
    pub origin: Option<String>,
    /// The report and the events (for `bundle diff`, `aggregate`).
    pub report: Value,
    events: Vec<u8>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "seq": self.seq,
            "head": self.head.map(|h| hex(&h)),
            "checkpoint_size": self.checkpoint_size,
            "figures_rederived": self.figures_rederived,
            "failures": self.failures,
            "key_from": self.key_from,
            "policy_from": self.policy_from,
            "cosigned": self.cosigned,
        })
    }
}

/// Reads the members of a bundle; a missing or extra member is a failure.
fn unpack(bytes: &[u8], failures: &mut Vec<String>) -> Option<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            failures.push(format!("файл не читается как zip-архив пакета: {e}"));
            return None;
        }
    };
    let mut members = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("файл № {} архива не читается: {e}", i + 1));
                return None;
            }
        };
        let name = match file.name() {
            Ok(n) => n.to_string(),
            Err(e) => {
                failures.push(format!("имя файла № {} архива не читается: {e}", i + 1));
                return None;
            }
        };
        if !MEMBERS.contains(&name.as_str()) {
            failures.push(format!("в пакете лишний файл «{name}»: пакет изменён после выпуска"));
            continue;
        }
        let mut data = Vec::new();
        if let Err(e) = (&mut file).take(MAX_MEMBER_BYTES + 1).read_to_end(&mut data) {
            failures.push(format!("файл «{name}» пакета не читается: {e}"));
            return None;
        }
        if data.len() as u64 > MAX_MEMBER_BYTES {
            failures.push(format!(
                "файл «{name}» пакета больше {} ГиБ: такой пакет не проверяется",
                MAX_MEMBER_BYTES >> 30
            ));
            return None;
        }
        if members.insert(name.clone(), data).is_some() {
            failures.push(format!("файл «{name}» дважды в пакете"));
        }
    }
    for m in MEMBERS {
        if !members.contains_key(m) {
            failures.push(format!("в пакете нет файла «{m}»"));
        }
    }
    Some(members)
}

/// `bundle verify`: every check of SPEC §15, with no ledger. `key` is the log's
/// verifier key as the funder got it from the organisation; without it the bundle's
/// own `policy.txt` names it (and the verdict says so).
/// `policy` is the funder's own witness policy (C2SP tlog-policy text); without it the
/// bundle's `policy.txt` names the witnesses and the quorum (and the verdict says so:
/// a log showing different histories could ship a policy with no witnesses).
pub fn verify(bytes: &[u8], key: Option<&str>, policy: Option<&str>) -> Result<Verdict> {
    verify_keeping(bytes, key, policy, &mut None)
}

/// The log origin a bundle's report names in its checkpoint (its first line), read
/// without verifying anything: to pick the key to verify it with.
pub fn claimed_origin(bytes: &[u8]) -> Option<String> {
    let members = unpack(bytes, &mut Vec::new())?;
    let report: Value = serde_json::from_slice(members.get("report.json")?).ok()?;
    report["checkpoint"].as_str()?.lines().next().map(str::to_string)
}

/// [`verify`], and when the figures were re-derived, the temporary ledger holding the
/// bundle's events left in `kept` (removed when it is dropped): for `aggregate`'s
/// fact rows, read from what was verified.
pub fn verify_keeping(
    bytes: &[u8],
    key: Option<&str>,
    policy: Option<&str>,
    kept: &mut Option<(tempfile::TempDir, Ledger)>,
) -> Result<Verdict> {
    let mut v = Verdict::default();
    let Some(members) = unpack(bytes, &mut v.failures) else { return Ok(v) };
    if !v.failures.is_empty() {
        return Ok(v);
    }
    // The report and its own hash.
    let report = match crate::ledger::json::read_file(&members["report.json"]) {
        Ok(r) => r,
        Err(e) => {
            v.failures.push(format!("report.json не читается: {e}"));
            return Ok(v);
        }
    };
    if !crate::report::hash_matches(&report) {
        v.failures.push("отчёт изменён после выпуска: его хеш не совпадает с содержимым".into());
        return Ok(v);
    }
    let seq = report["ledger"]["seq"].as_u64();
    let head = report["ledger"]["head"].as_str().and_then(parse_hex);
    let (Some(seq), Some(head)) = (seq, head) else {
        v.failures.push("в отчёте нет ledger.seq и ledger.head".into());
        return Ok(v);
    };
    v.seq = seq;
    v.head = Some(head);

    // Every event: its hash, its place, its link.
    let mut frontier = merkle::Frontier::default();
    let mut checker = crate::ledger::chain::ChainChecker::default();
    let mut prev = ZERO_HASH;
    let mut hashes: Vec<Hash> = Vec::new();
    let mut ids: Vec<u128> = Vec::new();
    let mut n = 0u64;
    for line in members["events.jsonl"].split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        n += 1;
        let link = match read_export_line(line).and_then(|(canonical, claimed, _)| examine(&canonical, claimed)) {
            Ok(l) => l,
            Err(why) => {
                v.failures.push(format!("событие № {n} в events.jsonl не читается: {why}"));
                return Ok(v);
            }
        };
        if link.seq != n {
            v.failures.push(format!(
                "на месте события № {n} в events.jsonl стоит событие № {}: события пропущены, переставлены или вставлены",
                link.seq
            ));
            return Ok(v);
        }
        if link.computed != link.stored {
            v.failures.push(format!("событие № {n} изменено: хеш не совпадает"));
            return Ok(v);
        }
        if link.prev != prev {
            v.failures.push(format!(
                "событие № {n} не продолжает цепочку (его prev — не хеш события № {}): события пропущены, переставлены или вставлены",
                n - 1
            ));
            return Ok(v);
        }
        if let Err(e) = checker.push(Ok(link.clone())) {
            v.failures.push(format!("событие № {n}: {e}"));
            return Ok(v);
        }
        prev = link.computed;
        frontier.push(merkle::leaf(&link.computed), |_, _, _| {});
        hashes.push(link.computed);
        ids.push(link.id);
    }
    let count = hashes.len() as u64;
    if count > seq {
        v.failures.push(format!(
            "в пакете есть события после среза отчёта: отчёт сделан по событиям 1–{seq}, в пакете {count}"
        ));
        return Ok(v);
    }
    if count < seq || (seq > 0 && hashes[seq as usize - 1] != head) || (seq == 0 && count != 0) {
        v.failures.push(format!(
            "события пакета — не та история, по которой сделан отчёт (он назван событием № {seq} с хешем {})",
            hex(&head)
        ));
        return Ok(v);
    }

    // The checkpoint: the events' tree with the consistency proof gives its root.
    let Some(note) = report["checkpoint"].as_str() else {
        v.failures.push("в отчёте нет подписанной контрольной точки".into());
        return Ok(v);
    };
    let cp = match Checkpoint::parse(note) {
        Ok(cp) => cp,
        Err(e) => {
            v.failures.push(format!("контрольная точка отчёта не читается: {e}"));
            return Ok(v);
        }
    };
    v.checkpoint_size = Some(cp.size);
    v.origin = Some(cp.origin.clone());
    let proof: Option<Vec<merkle::Node>> = report["consistency"]
        .as_array()
        .map(|l| l.iter().map(|h| h.as_str().and_then(merkle::from_b64)).collect())
        .unwrap_or(None);
    let consistent = proof.is_some_and(|p| merkle::check_consistency(&p, cp.size, cp.root, seq, frontier.root()));
    if cp.size < seq || !consistent {
        v.failures.push(format!(
            "события пакета не сходятся с подписанной контрольной точкой (размер {}): доказательство согласованности не проходит",
            cp.size
        ));
    }

    // The signature, and the witnesses.
    let policy_text = match policy {
        Some(p) => p.to_string(),
        None => String::from_utf8_lossy(&members["policy.txt"]).into_owned(),
    };
    v.policy_from = if policy.is_some() { "--policy" } else { "bundle" };
    v.key_from = if key.is_some() { "--key" } else { "bundle" };
    let own_key = Policy::log_key(&policy_text);
    let (vkey, from) = match (key, own_key) {
        (Some(k), _) => (k.to_string(), "ключ журнала дан в --key".to_string()),
        (None, Some(k)) => (
            k.clone(),
            format!(
                "ключ журнала взят из самого пакета (policy.txt: {k}); сверьте его с ключом, полученным от организации"
            ),
        ),
        (None, None) => {
            v.failures.push("policy.txt не называет ключ журнала (строка `log VKEY`), и --key не дан".into());
            return Ok(v);
        }
    };
    v.key_note = if policy.is_some() {
        from
    } else {
        format!("{from}; свидетели и кворум — из policy.txt самого пакета (своя политика: --policy FILE)")
    };
    let log_key = match KeyVerifier::parse(&vkey) {
        Ok(k) if !k.is_cosigner() => k,
        _ => {
            v.failures.push(format!("«{vkey}» — не ключ журнала (NAME+KEYID+BASE64, тип 0x01)"));
            return Ok(v);
        }
    };
    if cp.origin != log_key.name() {
        v.failures.push(format!("контрольная точка журнала «{}», а ключ — журнала «{}»", cp.origin, log_key.name()));
    }
    let policy = match Policy::parse(&policy_text) {
        Ok(p) => p,
        Err(e) => {
            v.failures.push(format!("policy.txt не читается: {e}"));
            return Ok(v);
        }
    };
    let known: Vec<(String, u32)> = std::iter::once(&log_key)
        .map(|k| (k.name().to_string(), k.key_id()))
        .chain(
            policy
                .witnesses
                .iter()
                .filter_map(|w| KeyVerifier::parse(&w.vkey).ok())
                .map(|k| (k.name().to_string(), k.key_id())),
        )
        .collect();
    match verify_note(note, vec![KeyVerifier::parse(&vkey)?]) {
        Ok(names) if names.contains(&cp.origin) => {}
        _ => v.failures.push(format!("подпись контрольной точки не от ключа {vkey}")),
    }
    for (name, id) in signature_lines(note) {
        if !known.contains(&(name.clone(), id)) {
            v.failures.push(format!("контрольная точка несёт подпись «{name}» от неизвестного ключа {id:08x}"));
        }
    }
    let witnesses: Vec<KeyVerifier> =
        policy.witnesses.iter().filter_map(|w| KeyVerifier::parse(&w.vkey).ok()).collect();
    if !witnesses.is_empty() {
        match verify_note(note, witnesses) {
            Ok(names) => v.cosigned = names,
            Err(e) => v.failures.push(format!("подпись свидетеля не проходит проверку: {e}")),
        }
    }
    if v.cosigned.len() < policy.quorum {
        v.failures.push(format!(
            "контрольную точку заверили свидетелей: {} из {} нужных",
            v.cosigned.len(),
            policy.quorum
        ));
    }

    // The lineage names only events of the bundle.
    match serde_json::from_slice::<Value>(&members["lineage.json"]) {
        Ok(lineage) => {
            if let Some(bad) = foreign_event(&lineage, &hashes, &ids) {
                v.failures.push(bad);
            }
        }
        Err(e) => v.failures.push(format!("lineage.json не читается: {e}")),
    }
    v.report = report;
    v.events = members.into_iter().find(|(k, _)| k == "events.jsonl").map(|(_, b)| b).unwrap_or_default();
    if !v.failures.is_empty() {
        return Ok(v);
    }

    // The figures, re-derived from the events with the report's own definitions.
    let (tmp, ledger) = load(&v.events)?;
    let r = crate::report::verify_figures(&ledger, &v.report)?;
    v.figures_rederived = v.report["figures"].as_array().map_or(0, Vec::len);
    for f in r.failures {
        v.failures.push(format!("показатели не пересчитываются: {f}"));
    }
    *kept = Some((tmp, ledger));
    Ok(v)
}

/// (name, key id) of every signature line of a signed note.
fn signature_lines(note: &str) -> Vec<(String, u32)> {
    let Some((_, sigs)) = note.split_once("\n\n") else { return Vec::new() };
    sigs.lines()
        .filter_map(|l| l.strip_prefix("— "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, b64)| (name.to_string(), crate::checkpoint::key_id_of(b64).unwrap_or(0)))
        .collect()
}

/// The first event a lineage names that the bundle does not hold (by seq, id and
/// hash), in words.
fn foreign_event(v: &Value, hashes: &[Hash], ids: &[u128]) -> Option<String> {
    match v {
        Value::Array(items) => items.iter().find_map(|x| foreign_event(x, hashes, ids)),
        Value::Object(m) => {
            if let (Some(seq), Some(hash)) =
                (m.get("seq").and_then(Value::as_u64), m.get("hash").and_then(Value::as_str))
            {
                let i = seq.checked_sub(1).map(|i| i as usize);
                let held = i.and_then(|i| hashes.get(i).map(|h| (hex(h) == hash, ids[i])));
                let same_id = |id: u128| {
                    m.get("id")
                        .and_then(Value::as_str)
                        .is_none_or(|s| uuid::Uuid::parse_str(s).is_ok_and(|u| u.as_u128() == id))
                };
                match held {
                    Some((true, id)) if same_id(id) => {}
                    _ => {
                        return Some(format!("расшифровка показателей называет событие № {seq}, которого нет в пакете"))
                    }
                }
            }
            m.values().find_map(|x| foreign_event(x, hashes, ids))
        }
        _ => None,
    }
}

/// A temporary ledger holding a bundle's events (each verified again on the way in),
/// for re-deriving figures. Removed when the returned directory is dropped.
fn load(events: &[u8]) -> Result<(tempfile::TempDir, Ledger)> {
    let tmp = tempfile::Builder::new()
        .prefix("caseledger-bundle-")
        .tempdir()
        .map_err(|e| Error::storage("making a temporary ledger for the bundle", e))?;
    let ledger = Ledger::init(&tmp.path().join("ledger"))?;
    crate::domain::rules::StateRules::append_with(&ledger, |r| ledger.import(events, r))?;
    Ok((tmp, ledger))
}

/// What `bundle diff` found.
#[derive(Debug)]
pub struct Diff {
    pub old: (u64, Hash),
    pub new: (u64, Hash),
    /// Figures of OLD that read differently in NEW, each with the events that moved it.
    pub changed: Vec<Value>,
}

impl Diff {
    pub fn to_json(&self) -> Value {
        json!({
            "extends": true,
            "old": {"seq": self.old.0, "head": hex(&self.old.1)},
            "new": {"seq": self.new.0, "head": hex(&self.new.1)},
            "changed": self.changed,
        })
    }
}

/// `bundle diff OLD NEW`: both verify, NEW's history extends OLD's, and the figures of
/// OLD as NEW's events give them now.
pub fn diff(old: &[u8], new: &[u8], key: Option<&str>, policy: Option<&str>) -> Result<Diff> {
    let a = verify(old, key, policy)?;
    if let Some(f) = a.failures.first() {
        return Err(Error::Mismatch(format!("старый пакет не проходит проверку: {f}")));
    }
    let b = verify(new, key, policy)?;
    if let Some(f) = b.failures.first() {
        return Err(Error::Mismatch(format!("новый пакет не проходит проверку: {f}")));
    }
    let (old_head, new_head) = (a.head.unwrap_or(ZERO_HASH), b.head.unwrap_or(ZERO_HASH));
    // Both chains verified, so NEW extends OLD exactly when its event at OLD's seq has
    // OLD's head hash.
    let extends = a.seq <= b.seq && (a.seq == 0 || nth_hash(&b.events, a.seq) == Some(old_head));
    if !extends {
        return Err(Error::Mismatch(format!(
            "новый пакет не продолжает историю старого: в нём нет события № {} с хешем {}",
            a.seq,
            hex(&old_head)
        )));
    }
    let (_tmp, ledger) = load(&b.events)?;
    let now = crate::report::verify_figures(&ledger, &a.report)?;
    Ok(Diff { old: (a.seq, old_head), new: (b.seq, new_head), changed: now.changed })
}

/// The stored hash of event `seq` of an events.jsonl (already verified).
fn nth_hash(events: &[u8], seq: u64) -> Option<Hash> {
    let line = events.split(|b| *b == b'\n').filter(|l| !l.is_empty()).nth(seq as usize - 1)?;
    read_export_line(line).ok().map(|(_, h, _)| h)
}

/// The bundle's README.md: what each file is and how to check it by hand, in Russian
/// and in English, with this bundle's own numbers as the worked example.
fn readme(report: &Value, vkey: &str) -> String {
    let seq = report["ledger"]["seq"].as_u64().unwrap_or(0);
    let head = report["ledger"]["head"].as_str().unwrap_or("");
    let hash = report["hash"].as_str().unwrap_or("");
    let note = report["checkpoint"].as_str().unwrap_or("");
    let mut body = note.lines();
    let (origin, size, root) = (body.next().unwrap_or(""), body.next().unwrap_or(""), body.next().unwrap_or(""));
    let from = report["period"]["from"].as_str().unwrap_or("");
    let to = report["period"]["to"].as_str().unwrap_or("");
    let known_at = report["known_at"].as_str().unwrap_or("всё записанное к моменту отчёта / everything recorded");
    let figures = report["figures"].as_array().map_or(0, Vec::len);
    include_str!("bundle_readme.md")
        .replace("{SEQ}", &seq.to_string())
        .replace("{HEAD}", head)
        .replace("{HASH}", hash)
        .replace("{ORIGIN}", origin)
        .replace("{SIZE}", size)
        .replace("{ROOT}", root)
        .replace("{VKEY}", vkey)
        .replace("{FROM}", from)
        .replace("{TO}", to)
        .replace("{KNOWN_AT}", known_at)
        .replace("{FIGURES}", &figures.to_string())
}
