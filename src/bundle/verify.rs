//! `bundle verify` and `bundle diff` (SPEC §15, §19), with no ledger: the zip read
//! strictly; the report's hash; every event's hash, place, link and exact stored form;
//! the Merkle root of events 1…S against the signed checkpoint of size S; the
//! publication M among them naming this report, its definitions, period, cut and files;
//! the cut bound to its moment; the log's signature, the witnesses' quorum and their
//! times; the lineage; the funder's own definitions when given; and the figures
//! re-derived from the events (in a temporary ledger loaded from the bundle).
//!
//! Failures are told in Russian, in words a funder understands, first failure first.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::archive::{self, MEMBERS};
use crate::checkpoint::{verify_note, Checkpoint, KeyVerifier, Policy};
use crate::codec::{hex, parse_stamp, Hash, ZERO_HASH};
use crate::domain::payload::{ReportPublished, Stamp};
use crate::error::{Error, Result};
use crate::indicators::Definition;
use crate::ledger::chain::{examine, read_export_line};
use crate::ledger::event::{Record, REPORT_PUBLISHED};
use crate::ledger::{merkle, Ledger};
use crate::report::publish::{self, Claim};
use crate::report::Publication;

/// What the funder pins (SPEC §19): the log's key, their own witness policy, their own
/// definitions, and how much a bundle may unpack to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pins<'a> {
    /// The log's verifier key as the organisation gave it (else the bundle's own).
    pub key: Option<&'a str>,
    /// The funder's witness policy, C2SP tlog-policy text (else the bundle's own).
    pub policy: Option<&'a str>,
    /// The funder's own definitions: a bundle whose definitions differ is refused.
    pub defs: Option<&'a [Definition]>,
    /// The most the bundle may unpack to (default [`crate::limits::MAX_BUNDLE_BYTES`]).
    pub max_bytes: Option<u64>,
}

impl Pins<'_> {
    fn max(&self) -> u64 {
        self.max_bytes.unwrap_or(crate::limits::MAX_BUNDLE_BYTES)
    }
}

/// What `bundle verify` found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The report's cut: events 1…seq.
    pub seq: u64,
    pub head: Option<Hash>,
    pub checkpoint_size: Option<u64>,
    pub figures_rederived: usize,
    /// In the order found; the first is the one to name.
    pub failures: Vec<String>,
    /// Where the log's key came from, in words.
    pub key_note: String,
    /// The log's key the checkpoint was checked with.
    pub vkey: String,
    /// The witnesses whose cosignatures verify.
    pub cosigned: Vec<String>,
    /// Where the log's key and the witness policy came from: "--key"/"--policy" or
    /// "bundle"; and whether `--defs` pinned the definitions.
    pub key_from: &'static str,
    pub policy_from: &'static str,
    pub defs_pinned: bool,
    /// The log's origin, from the checkpoint (who the bundle is from).
    pub origin: Option<String>,
    /// The report's publication in the bundle's events.
    pub published: Option<Publication>,
    /// The report and the events (for `bundle diff`, `aggregate`).
    pub report: Value,
    pub(super) events: Vec<u8>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// What a verified bundle proves, in one sentence.
    pub fn summary(&self) -> String {
        let witnesses = if self.cosigned.is_empty() {
            "свидетелей нет".to_string()
        } else {
            format!("заверили свидетели: {}", self.cosigned.join(", "))
        };
        format!(
            "Пакет верен: отчёт опубликован и не изменён; события 1–{} целы, идут подряд и подписаны журналом; отчёт сделан по событиям 1–{}; {witnesses}; показателей пересчитано и совпало: {}.",
            self.checkpoint_size.unwrap_or(0),
            self.seq,
            self.figures_rederived
        )
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
            "defs_pinned": self.defs_pinned,
            "cosigned": self.cosigned,
            "published": self.published.as_ref().map(Publication::to_json),
        })
    }
}

/// `bundle verify`: every check of SPEC §15 and §19, with no ledger.
pub fn verify(bytes: &[u8], pins: &Pins<'_>) -> Result<Verdict> {
    verify_keeping(bytes, pins, &mut None)
}

/// The log origin a bundle's report names in its checkpoint (its first line), read
/// without verifying anything: to pick the key to verify it with.
pub fn claimed_origin(bytes: &[u8], max_bytes: u64) -> Option<String> {
    let members = archive::read_strict(bytes, &MEMBERS, max_bytes).ok()?;
    let report: Value = serde_json::from_slice(members.get("report.json")?).ok()?;
    report["checkpoint"].as_str()?.lines().next().map(str::to_string)
}

/// One event of the bundle as the checks need it.
struct Held {
    hash: Hash,
    id: u128,
    recorded_at: [u8; 20],
}

/// [`verify`], and when the figures were re-derived, the temporary ledger holding the
/// bundle's events left in `kept` (removed when it is dropped): for `aggregate`'s
/// fact rows, read from what was verified.
pub fn verify_keeping(
    bytes: &[u8],
    pins: &Pins<'_>,
    kept: &mut Option<(tempfile::TempDir, Ledger)>,
) -> Result<Verdict> {
    let mut v = Verdict {
        policy_from: if pins.policy.is_some() { "--policy" } else { "bundle" },
        key_from: if pins.key.is_some() { "--key" } else { "bundle" },
        defs_pinned: pins.defs.is_some(),
        ..Verdict::default()
    };
    if let Err(why) = check(bytes, pins, &mut v) {
        v.failures.push(why);
        return Ok(v);
    }
    // The figures, re-derived from the events with the report's own definitions: the
    // events loaded again through the ledger's own rules (their meaning checked too).
    let loaded = load(&v.events).and_then(|(tmp, ledger)| {
        let r = crate::report::verify_figures(&ledger, &v.report)?;
        Ok((tmp, ledger, r))
    });
    match loaded {
        Ok((tmp, ledger, r)) => {
            v.figures_rederived = v.report["figures"].as_array().map_or(0, Vec::len);
            for f in r.failures {
                v.failures.push(format!("показатели не пересчитываются: {f}"));
            }
            *kept = Some((tmp, ledger));
        }
        Err(e @ (Error::Storage(_) | Error::NoSpace(_))) => return Err(e),
        Err(e) => v.failures.push(format!("события пакета не читаются как история реестра: {e}")),
    }
    Ok(v)
}

/// Every check but the re-derivation; the first failure.
fn check(bytes: &[u8], pins: &Pins<'_>, v: &mut Verdict) -> std::result::Result<(), String> {
    let mut members = archive::read_strict(bytes, &MEMBERS, pins.max())?;
    // The report: published, unchanged, of the right shape.
    let report = json_of(&members["report.json"], "report.json")?;
    if !publish::is_published_form(&report) {
        return Err("отчёт пакета не опубликован в журнале (пакет старого образца или изменён): такой пакет не связывает отчёт с подписанным журналом — попросите организацию выпустить пакет заново".into());
    }
    if !crate::report::hash_matches(&report) {
        return Err("отчёт изменён после выпуска: его хеш не совпадает с содержимым".into());
    }
    crate::report::check_shape(&report)?;
    let claim = publish::claim(&report)?;
    v.seq = claim.seq;
    v.head = Some(claim.head);

    // Every event: its exact stored form, its hash, its place, its link; and the
    // publication of this report among them.
    let events = &members["events.jsonl"];
    let (held, publication) = read_events(events, &claim)?;
    let count = held.len() as u64;

    // The checkpoint: the tree of exactly these events.
    let note = report["checkpoint"].as_str().ok_or("в отчёте нет подписанной контрольной точки")?;
    crate::checkpoint::strict_note(note)?;
    let cp = Checkpoint::parse(note).map_err(|e| format!("контрольная точка отчёта не читается: {e}"))?;
    v.checkpoint_size = Some(cp.size);
    v.origin = Some(cp.origin.clone());
    if cp.size != count {
        return Err(format!(
            "в пакете {} событий, а контрольная точка подписана для {}: история пакета укорочена или дополнена",
            count, cp.size
        ));
    }
    let mut frontier = merkle::Frontier::default();
    for h in &held {
        frontier.push(merkle::leaf(&h.hash), |_, _, _| {});
    }
    if frontier.root() != cp.root {
        return Err(format!("события пакета не сходятся с подписанной контрольной точкой (размер {})", cp.size));
    }

    // The report's cut is a prefix of them, bound to its moment.
    let n = claim.seq;
    let at_n = if n == 0 { Some(ZERO_HASH) } else { held.get(n as usize - 1).map(|h| h.hash) };
    if n >= count || at_n != Some(claim.head) {
        return Err(format!(
            "события пакета — не та история, по которой сделан отчёт (он назван событием № {n} с хешем {})",
            hex(&claim.head)
        ));
    }
    let stamp = |h: &Held| parse_stamp(std::str::from_utf8(&h.recorded_at).unwrap_or(""));
    publish::check_cut(&claim, n.checked_sub(1).map(|i| &held[i as usize]).and_then(stamp), stamp(&held[n as usize]))?;
    let Some((m, data)) = publication else {
        return Err(
            "в пакете нет события публикации этого отчёта (report_published с его хешем): отчёт не опубликован".into(),
        );
    };
    if m <= n {
        return Err(format!("событие публикации № {m} стоит до среза отчёта (№ {n})"));
    }
    let recorded_at = stamp(&held[m as usize - 1]).ok_or("у события публикации нет времени записи")?;
    if recorded_at < claim.known_at {
        return Err("отчёт опубликован раньше своего среза".into());
    }
    let files: BTreeMap<String, Vec<u8>> =
        crate::domain::payload::PUBLISHED_FILES.iter().filter_map(|name| members.remove_entry(*name)).collect();
    publish::check_publication(&claim, &data, Some(&files))?;

    // The signature and the witnesses.
    let cosigned_at = check_signatures(note, &cp, &files["policy.txt"], pins, &claim, v)?;
    v.published = Some(Publication { seq: m, recorded_at, cosigned_at });

    // The lineage names only events of the report's cut.
    let lineage = json_of(&files["lineage.json"], "lineage.json")?;
    if let Some(bad) = foreign_event(&lineage, &held[..n as usize]) {
        return Err(bad);
    }
    if let Some(defs) = pins.defs {
        same_definitions(&report["definitions"], defs)?;
    }
    v.report = report;
    v.events = members.remove("events.jsonl").unwrap_or_default();
    Ok(())
}

/// A member's JSON, read as every JSON of the program is (no member twice, no unsafe
/// integer); the refusal in words.
fn json_of(bytes: &[u8], what: &str) -> std::result::Result<Value, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value = crate::ledger::json::parse(bytes).map_err(|e| {
        if e.reason.contains(crate::ledger::json::TWICE) {
            format!("{what}: поле «{}» дважды", e.path)
        } else {
            format!("{what} не читается: {e}")
        }
    })?;
    crate::ledger::canonical::check_numbers(&value, &mut String::new())
        .map_err(|e| format!("{what}: число в {} — не целое или слишком большое", e.path.trim_start_matches('.')))?;
    Ok(value)
}

/// Reads events.jsonl: each line exactly an event as stored (SPEC §3), its hash
/// recomputed, at its place, linked to the one before; and the publication of the
/// report (its seq and data).
#[allow(clippy::type_complexity)]
fn read_events(events: &[u8], claim: &Claim) -> std::result::Result<(Vec<Held>, Option<(u64, Value)>), String> {
    if !events.is_empty() && !events.ends_with(b"\n") {
        return Err("events.jsonl не кончается переводом строки: файл обрезан".into());
    }
    let want = hex(&claim.hash);
    let (mut held, mut prev, mut publication) = (Vec::new(), ZERO_HASH, None);
    for (i, line) in events.split_inclusive(|b| *b == b'\n').enumerate() {
        let n = i as u64 + 1;
        let (canonical, claimed, body) = read_export_line(&line[..line.len() - 1])
            .map_err(|why| format!("событие № {n} в events.jsonl не читается: {why}"))?;
        let link =
            examine(&canonical, claimed).map_err(|why| format!("событие № {n} в events.jsonl не читается: {why}"))?;
        if link.seq != n {
            return Err(format!(
                "на месте события № {n} в events.jsonl стоит событие № {}: события пропущены, переставлены или вставлены",
                link.seq
            ));
        }
        if link.computed != link.stored {
            return Err(format!("событие № {n} изменено: хеш не совпадает"));
        }
        if link.prev != prev {
            return Err(format!(
                "событие № {n} не продолжает цепочку (его prev — не хеш события № {}): события пропущены, переставлены или вставлены",
                n - 1
            ));
        }
        let mut exact = Vec::with_capacity(line.len());
        Record { hash: link.computed, canonical }.to_json_line(&mut exact);
        if exact != line || body["id"].as_str() != Some(uuid::Uuid::from_u128(link.id).to_string().as_str()) {
            return Err(format!("событие № {n} в events.jsonl записано не в том виде, в каком его хранит журнал"));
        }
        // Time runs forward along the chain (the cut rule relies on it), and nothing
        // happened after it was recorded.
        if held.last().is_some_and(|h: &Held| h.recorded_at > link.recorded_at) {
            return Err(format!("событие № {n} записано раньше события № {}: время записи идёт назад", n - 1));
        }
        if link.occurred_on[..] > link.recorded_at[..10] {
            return Err(format!("событие № {n} произошло позже, чем записано"));
        }
        if publication.is_none()
            && body["type"] == REPORT_PUBLISHED
            && body["data"]["report"].as_str() == Some(want.as_str())
        {
            publication = Some((n, body["data"].clone()));
        }
        prev = link.computed;
        held.push(Held { hash: link.computed, id: link.id, recorded_at: link.recorded_at });
    }
    Ok((held, publication))
}

/// The log's signature (with the pinned key or the bundle's own), no signature from an
/// unknown key, the witnesses' quorum, and their cosignatures not older than the cut.
/// The earliest cosignature time.
fn check_signatures(
    note: &str,
    cp: &Checkpoint,
    own_policy: &[u8],
    pins: &Pins<'_>,
    claim: &Claim,
    v: &mut Verdict,
) -> std::result::Result<Option<u64>, String> {
    let own_policy = std::str::from_utf8(own_policy).map_err(|_| "policy.txt не в UTF-8")?;
    plain_lines(own_policy, "policy.txt")?;
    Policy::parse(own_policy).map_err(|e| format!("policy.txt не читается: {e}"))?;
    if let Some(p) = pins.policy {
        plain_lines(p, "--policy")?;
    }
    let policy_text = pins.policy.unwrap_or(own_policy);
    let policy = Policy::parse(policy_text).map_err(|e| format!("политика свидетелей не читается: {e}"))?;
    // The log's key: --key, else the `log` line of the funder's own policy, else the
    // bundle's (said so). Two pins that differ are refused.
    let funders = pins.policy.and_then(Policy::log_key);
    if let (Some(k), Some(p)) = (pins.key, &funders) {
        if k.trim() != p {
            return Err(format!("ключ журнала в --key ({k}) и в вашей политике --policy ({p}) различаются"));
        }
    }
    let (vkey, from) = match (pins.key, funders, Policy::log_key(own_policy)) {
        (Some(k), _, _) => (k.trim().to_string(), "ключ журнала дан в --key".to_string()),
        (None, Some(k), _) => (k, "ключ журнала — из строки `log` вашей политики (--policy)".to_string()),
        (None, None, Some(k)) => (
            k.clone(),
            format!(
                "ключ журнала взят из самого пакета (policy.txt: {k}); сверьте его с ключом, полученным от организации"
            ),
        ),
        (None, None, None) => {
            return Err("policy.txt не называет ключ журнала (строка `log VKEY`), и --key не дан".into())
        }
    };
    v.key_note = if pins.policy.is_some() {
        from
    } else {
        format!("{from}; свидетели и кворум — из policy.txt самого пакета (своя политика: --policy FILE)")
    };
    v.vkey = vkey.clone();
    let log_key = match KeyVerifier::parse(&vkey) {
        Ok(k) if !k.is_cosigner() => k,
        _ => return Err(format!("«{vkey}» — не ключ журнала (NAME+KEYID+BASE64, тип 0x01)")),
    };
    use signed_note::Verifier;
    if cp.origin != log_key.name() {
        return Err(format!("контрольная точка журнала «{}», а ключ — журнала «{}»", cp.origin, log_key.name()));
    }
    let known: Vec<(String, u32)> = std::iter::once((log_key.name().to_string(), log_key.key_id()))
        .chain(
            policy
                .witnesses
                .iter()
                .filter_map(|w| KeyVerifier::parse(&w.vkey).ok())
                .map(|k| (k.name().to_string(), k.key_id())),
        )
        .collect();
    match verify_note(note, vec![KeyVerifier::parse(&vkey).map_err(|e| e.to_string())?]) {
        Ok(names) if names.contains(&cp.origin) => {}
        _ => return Err(format!("подпись контрольной точки не от ключа {vkey}")),
    }
    for (name, id) in signature_lines(note) {
        if !known.contains(&(name.clone(), id)) {
            return Err(format!("контрольная точка несёт подпись «{name}» от неизвестного ключа {id:08x}"));
        }
    }
    let witnesses: Vec<KeyVerifier> =
        policy.witnesses.iter().filter_map(|w| KeyVerifier::parse(&w.vkey).ok()).collect();
    if !witnesses.is_empty() {
        v.cosigned =
            verify_note(note, witnesses).map_err(|e| format!("подпись свидетеля не проходит проверку: {e}"))?;
    }
    if v.cosigned.len() < policy.quorum {
        return Err(format!("контрольную точку заверили свидетелей: {} из {} нужных", v.cosigned.len(), policy.quorum));
    }
    let times = publish::cosignature_times(note, &publish::cosigners(note, &policy));
    publish::check_cosignature_times(claim, &times)?;
    Ok(times.iter().map(|(_, t)| *t).min())
}

/// A policy's text as both verifiers read it: lines split at `\n` only, no other
/// control character (a carriage return, U+001C, … would end a line for one reader and
/// not for another).
fn plain_lines(text: &str, what: &str) -> std::result::Result<(), String> {
    match text.split('\n').enumerate().find(|(_, l)| l.chars().any(char::is_control)) {
        Some((i, _)) => Err(format!(
            "{what}, строка {}: управляющий символ (строки политики разделяет только перевод строки)",
            i + 1
        )),
        None => Ok(()),
    }
}

/// The funder's own definitions (`--defs`) against the report's: the first indicator
/// that differs, is missing, or is extra.
fn same_definitions(report_defs: &Value, mine: &[Definition]) -> std::result::Result<(), String> {
    let canonical = |v: &Value| crate::ledger::canonical::to_vec(v).ok();
    let theirs: Vec<&Value> = report_defs.as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let id_of = |v: &Value| v["id"].as_str().unwrap_or_default().to_string();
    for d in mine {
        match theirs.iter().find(|t| id_of(t) == d.id) {
            None => return Err(format!("в пакете нет показателя «{}» из ваших определений (--defs)", d.id)),
            Some(t) if canonical(t) != canonical(&d.source) => {
                return Err(format!("определение показателя «{}» в пакете отличается от вашего (--defs)", d.id))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = theirs.iter().map(|t| id_of(t)).find(|id| !mine.iter().any(|d| &d.id == id)) {
        return Err(format!("в пакете показатель «{extra}», которого нет в ваших определениях (--defs)"));
    }
    Ok(())
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

/// The first event a lineage names that the report's cut does not hold, in words. An
/// object with both `seq` and `hash` names an event: its `seq` one of 1…N, its `hash`
/// that event's, and its `id`, when given, that event's exactly.
fn foreign_event(v: &Value, held: &[Held]) -> Option<String> {
    match v {
        Value::Array(items) => items.iter().find_map(|x| foreign_event(x, held)),
        Value::Object(m) => {
            if let (Some(seq), Some(hash)) = (m.get("seq"), m.get("hash")) {
                let at = seq.as_u64().and_then(|s| s.checked_sub(1)).and_then(|i| held.get(i as usize));
                let same = at.is_some_and(|h| {
                    let id = uuid::Uuid::from_u128(h.id).to_string();
                    hash.as_str() == Some(hex(&h.hash).as_str())
                        && m.get("id").is_none_or(|given| given.as_str() == Some(id.as_str()))
                });
                if !same {
                    return Some(format!(
                        "расшифровка показателей называет событие № {seq}, которого нет в срезе отчёта"
                    ));
                }
            }
            m.values().find_map(|x| foreign_event(x, held))
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
    crate::record::StateRules::append_with(&ledger, |r| ledger.import(events, r))?;
    Ok((tmp, ledger))
}

/// What `bundle diff` found.
#[derive(Debug)]
pub struct Diff {
    pub old: (u64, Hash),
    pub new: (u64, Hash),
    /// How many events each bundle holds (S).
    pub sizes: (u64, u64),
    /// The publications recorded after OLD's and up to NEW's.
    pub publications: Vec<Between>,
    /// Figures of OLD that read differently in NEW, each with the events that moved it.
    pub changed: Vec<crate::report::Change>,
}

/// A publication recorded between two bundles: its event, the period and cut of the
/// report it names, and that report's hash.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Between {
    pub seq: u64,
    pub recorded_at: crate::domain::payload::Stamp,
    pub period: crate::domain::payload::PublishedPeriod,
    pub known_at: crate::domain::payload::Stamp,
    /// The last event of the report's cut.
    pub cut_seq: u64,
    pub report: crate::domain::payload::HashHex,
}

impl Diff {
    pub fn to_json(&self) -> Value {
        json!({
            "extends": true,
            "old": {"seq": self.old.0, "head": hex(&self.old.1), "size": self.sizes.0},
            "new": {"seq": self.new.0, "head": hex(&self.new.1), "size": self.sizes.1},
            "publications": serde_json::to_value(&self.publications).expect("publications serialise"),
            "changed": serde_json::to_value(&self.changed).expect("changes serialise"),
        })
    }
}

/// `bundle diff OLD NEW`: both verify, with one log key; NEW's history extends OLD's;
/// the publications between them; the figures of OLD as NEW's events give them now.
pub fn diff(old: &[u8], new: &[u8], pins: &Pins<'_>) -> Result<Diff> {
    let a = verify(old, pins)?;
    if let Some(f) = a.failures.first() {
        return Err(Error::Mismatch(format!("старый пакет не проходит проверку: {f}")));
    }
    let b = verify(new, pins)?;
    if let Some(f) = b.failures.first() {
        return Err(Error::Mismatch(format!("новый пакет не проходит проверку: {f}")));
    }
    if a.vkey != b.vkey {
        return Err(Error::Mismatch(format!(
            "пакеты подписаны разными ключами журнала: старый — {}, новый — {}; это разные журналы, и один не продолжает другой",
            a.vkey, b.vkey
        )));
    }
    let (old_head, new_head) = (a.head.unwrap_or(ZERO_HASH), b.head.unwrap_or(ZERO_HASH));
    let old_size = a.checkpoint_size.unwrap_or(0);
    let new_size = b.checkpoint_size.unwrap_or(0);
    // Both chains verified, so NEW extends OLD exactly when its event at OLD's last seq
    // has the hash of OLD's last event.
    let old_last = nth_line(&a.events, old_size).and_then(|l| read_export_line(l).ok()).map(|(_, h, _)| h);
    let new_at = nth_line(&b.events, old_size).and_then(|l| read_export_line(l).ok()).map(|(_, h, _)| h);
    if old_size > new_size || old_last != new_at {
        return Err(Error::Mismatch(format!(
            "новый пакет не продолжает историю старого: в нём нет события № {old_size} старого пакета"
        )));
    }
    let from = a.published.as_ref().map_or(0, |p| p.seq);
    let to = b.published.as_ref().map_or(new_size, |p| p.seq);
    let mut publications = Vec::new();
    for (i, line) in b.events.split(|c| *c == b'\n').enumerate() {
        let seq = i as u64 + 1;
        if seq <= from || seq > to || !is_publication(line) {
            continue;
        }
        if let Ok((_, _, body)) = read_export_line(line) {
            let published = body.get("data").and_then(|d| serde_json::from_value::<ReportPublished>(d.clone()).ok());
            let recorded_at = body.get("recorded_at").and_then(|r| serde_json::from_value::<Stamp>(r.clone()).ok());
            if let (true, Some(d), Some(recorded_at)) = (body["type"] == REPORT_PUBLISHED, published, recorded_at) {
                publications.push(Between {
                    seq,
                    recorded_at,
                    period: d.period,
                    known_at: d.known_at,
                    cut_seq: d.seq.0,
                    report: d.report,
                });
            }
        }
    }
    let (_tmp, ledger) = load(&b.events)?;
    let now = crate::report::verify_figures(&ledger, &a.report)?;
    Ok(Diff {
        old: (a.seq, old_head),
        new: (b.seq, new_head),
        sizes: (old_size, new_size),
        publications,
        changed: now.changed,
    })
}

/// Whether a stored event line is a publication (its type is the last member before
/// its hash).
fn is_publication(line: &[u8]) -> bool {
    line.windows(br#","type":"report_published""#.len()).any(|w| w == br#","type":"report_published""#)
}

/// Line `seq` (1-based) of an events.jsonl, already verified.
fn nth_line(events: &[u8], seq: u64) -> Option<&[u8]> {
    if seq == 0 {
        return None;
    }
    events.split(|b| *b == b'\n').nth(seq as usize - 1)
}
