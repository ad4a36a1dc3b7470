//! Claims that bind (SPEC §19): a report is published as an event of the signed,
//! witnessed log. Publishing computes the report at a cut that is bound to its moment,
//! appends `report_published` naming the report's hash, its definitions' hash, its
//! period, its cut and the hashes of the files that go with it, and then signs and
//! witnesses a checkpoint that covers the publication. The checks every verifier makes
//! of a published report — the publication names exactly this report, the cut is the
//! one its moment gives — live here too, so that `bundle verify` and `report verify`
//! apply one rule.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::checkpoint::{self, LogKey, Policy, Signed};
use crate::codec::{format_stamp, hex, parse_hex, parse_stamp, Hash};
use crate::error::{Error, Result};
use crate::indicators::{Definition, Period};
use crate::ledger::event::{InputEvent, REPORT_PUBLISHED};
use crate::ledger::{Ack, Ledger};
use crate::project::Cut;

/// What a published report's cut member says when its seq N and N + 1 were recorded in
/// the same second: the cut is by position, and `known_at` is `recorded_at(N)`.
pub const CUT_BY_SEQ: &str = "seq";

/// The longest a publication waits for the clock to pass its `known_at` (so that
/// nothing recorded later can carry that second).
const CLOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(1100);

/// A publication asked for.
pub struct Request<'a> {
    pub period: Period,
    /// As asked: a moment (`--known-at`), a position (`--at-seq`), or neither ("now").
    pub cut: Cut,
    pub defs: &'a [Definition],
}

/// A report published: the report (with the checkpoint that covers its publication),
/// the publishing event and the signed checkpoint.
pub struct Published {
    pub report: Value,
    /// The last event of the report's cut (its `ledger.seq`).
    pub seq: u64,
    /// The seq of the `report_published` event.
    pub event: u64,
    pub recorded_at: DateTime<Utc>,
    pub signed: Signed,
    /// The earliest witness cosignature of the checkpoint that covers it (seconds since
    /// the epoch), when witnesses cosigned.
    pub cosigned_at: Option<u64>,
    /// The files named in the publication, with their bytes.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Publishes a report. `files` makes the files that go with the report (a bundle's
/// lineage, README, policy and verifier; nothing for `report create --publish`) from
/// the report and its exact cut, before anything is written; `append` appends the
/// publishing event as the caller's user (directly, or through the service's writer).
///
/// Nothing is written when the ledger has no signing key, when the cut cannot be
/// bound, or when the witnesses do not answer before the publication; once the event
/// is appended, a checkpoint covering it is signed and witnessed.
pub fn publish(
    ledger: &Ledger,
    req: &Request<'_>,
    files: impl FnOnce(&Value, Cut) -> Result<Vec<(&'static str, Vec<u8>)>>,
    append: &dyn Fn(InputEvent) -> Result<Ack>,
) -> Result<Published> {
    let dir = ledger.store().dir().to_path_buf();
    if LogKey::load(&dir)?.is_none() {
        return Err(Error::Usage(format!(
            "у реестра {} нет ключа подписи, а опубликованный отчёт без подписанной контрольной точки ничего не связывает: выполните caseledger key init",
            dir.display()
        )));
    }
    // The witnesses answer before anything is written: a publication they cannot
    // cosign would be a claim nobody can check.
    let policy = Policy::load(&dir)?;
    if !policy.witnesses.is_empty() {
        witnessed(checkpoint::sign(ledger, &dir)?, None)?;
    }
    let (known_at, seq, by_seq) = bind_cut(ledger, req.cut)?;
    let cut = Cut { known_at: Some(known_at), at_seq: Some(seq) };
    let now = Utc::now();
    let (mut report, computed) = super::document::body(ledger, req.period, cut, req.defs, now)?;
    if computed.seq != seq {
        return Err(Error::Storage(format!("срез отчёта сдвинулся с события № {seq} на № {}", computed.seq)));
    }
    if by_seq {
        report.insert("cut".into(), json!(CUT_BY_SEQ));
    }
    let hash = super::document::report_hash(&report)?;
    report.insert("hash".into(), json!(hex(&hash)));
    let mut report = Value::Object(report);
    let files = files(&report, cut)?;
    let data = json!({
        "report": hex(&hash),
        "definitions": hex(&definitions_hash(&report["definitions"])?),
        "period": report["period"],
        "known_at": format_stamp(&known_at),
        "seq": seq,
        "files": files.iter().map(|(n, b)| (n.to_string(), json!(blake3::hash(b).to_hex().as_str()))).collect::<serde_json::Map<_, _>>(),
    });
    let event = InputEvent {
        id: None,
        kind: REPORT_PUBLISHED,
        occurred_on: now.date_naive(),
        recorded_at: None,
        actor: None,
        data: data.as_object().cloned().unwrap_or_default(),
    };
    let ack = append(event)?;
    let recorded_at = ledger
        .record(ack.seq)?
        .and_then(|r| crate::ledger::event::recorded_at_of(&r.canonical))
        .ok_or_else(|| Error::Integrity { seq: ack.seq, reason: "the publication just appended is missing".into() })?;
    wait_for_mirrors(ledger, &dir, ack.seq);
    let signed = witnessed(checkpoint::sign(ledger, &dir)?, Some(ack.seq))?;
    report["checkpoint"] = json!(signed.checkpoint.note);
    let note = &signed.checkpoint.note;
    let cosigned_at = cosignature_times(note, &cosigners(note, &policy)).iter().map(|(_, t)| *t).min();
    Ok(Published { report, seq, event: ack.seq, recorded_at, signed, cosigned_at, files })
}

/// A signed checkpoint, once it is known to be witnessed by the quorum (and to cover
/// the publication `covers`, when given).
fn witnessed(signed: Signed, covers: Option<u64>) -> Result<Signed> {
    if !signed.inconsistent.is_empty() {
        return Err(Error::Lost(format!(
            "свидетель хранит другую историю журнала: {}",
            signed.inconsistent.join("; ")
        )));
    }
    let after = match covers {
        Some(m) => format!("публикация (событие № {m}) записана, но "),
        None => "ничего не опубликовано: ".into(),
    };
    if let Some(m) = covers.filter(|m| signed.checkpoint.size < *m) {
        let why = signed.held_back.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        return Err(Error::Storage(format!(
            "{after}контрольная точка покрывает {} событий, без события № {m}{why}: опубликуйте отчёт ещё раз через минуту",
            signed.checkpoint.size
        )));
    }
    if signed.cosigned.len() < signed.quorum {
        return Err(Error::Storage(format!(
            "{after}контрольную точку заверили свидетелей: {} из {} нужных ({}); повторите, когда свидетели ответят",
            signed.cosigned.len(),
            signed.quorum,
            signed.unavailable.join("; ")
        )));
    }
    Ok(signed)
}

/// When config.toml names mirrors, a publication's checkpoint can cover it only once
/// every mirror holds it: waits for them (they pull every few seconds) up to
/// `MIRROR_WAIT_SECS`.
fn wait_for_mirrors(ledger: &Ledger, dir: &std::path::Path, seq: u64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(crate::limits::MIRROR_WAIT_SECS);
    while checkpoint::coverable(ledger, dir).is_ok_and(|(n, held)| held.is_some() && n < seq)
        && std::time::Instant::now() < until
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The cut of a publication: its `known_at`, its seq N, and whether it is by position
/// (N and N + 1 recorded in the same second). After this, the clock is past
/// `known_at`, so every event appended later — the publication among them — is
/// recorded after it: `recorded_at(N) ≤ known_at < recorded_at(N + 1)`.
fn bind_cut(ledger: &Ledger, asked: Cut) -> Result<(DateTime<Utc>, u64, bool)> {
    let recorded = |seq: u64| -> Result<Option<DateTime<Utc>>> {
        Ok(ledger.record(seq)?.and_then(|r| crate::ledger::event::recorded_at_of(&r.canonical)))
    };
    match (asked.known_at, asked.at_seq) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "опубликованный отчёт режут либо по моменту (--known-at), либо по событию (--at-seq), но не по обоим сразу"
                .into(),
        )),
        (None, Some(n)) => {
            let head = ledger.head().seq;
            if n == 0 || n > head {
                return Err(Error::Usage(format!("--at-seq {n}: в реестре события 1–{head}")));
            }
            let at = recorded(n)?.ok_or_else(|| Error::Integrity { seq: n, reason: "no recorded_at".into() })?;
            wait_past(at);
            let by_seq = recorded(n + 1)? == Some(at);
            Ok((at, n, by_seq))
        }
        (known_at, None) => {
            let now = Utc::now();
            let at = match known_at {
                Some(t) if t.timestamp() > now.timestamp() => {
                    return Err(Error::Usage(format!(
                        "--known-at {}: этот момент ещё не наступил, отчёт на него не опубликовать",
                        format_stamp(&t)
                    )))
                }
                Some(t) => t,
                None => DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
            };
            wait_past(at);
            let (seq, _) = crate::project::resolve_cut(ledger, Cut { known_at: Some(at), at_seq: None })?;
            Ok((at, seq, false))
        }
    }
}

/// Waits until the clock's second is past `t` (at most about a second: only when `t`
/// is the current second).
fn wait_past(t: DateTime<Utc>) {
    let deadline = std::time::Instant::now() + CLOCK_WAIT;
    while Utc::now().timestamp() <= t.timestamp() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// BLAKE3 of the RFC 8785 form of a report's `definitions`.
pub fn definitions_hash(definitions: &Value) -> Result<Hash> {
    let bytes = crate::ledger::canonical::to_vec(definitions)
        .map_err(|e| Error::Mismatch(format!("the definitions have no canonical form: {}", e.reason)))?;
    Ok(*blake3::hash(&bytes).as_bytes())
}

// ---------------------------------------------------------------- what verifiers check

/// What a published report claims, read from it: the publication must name exactly
/// this.
#[derive(Debug, Clone)]
pub struct Claim {
    pub hash: Hash,
    pub definitions: Hash,
    pub period: Value,
    pub known_at: DateTime<Utc>,
    pub seq: u64,
    pub head: Hash,
    /// The cut is by position (`"cut": "seq"`).
    pub by_seq: bool,
}

/// Whether a report is in the published form of §19: a checkpoint and no consistency
/// proof (the checkpoint is not under its hash; the publication is).
pub fn is_published_form(report: &Value) -> bool {
    report.get("checkpoint").is_some() && report.get("consistency").is_none()
}

/// The claim of a report in the published form (its hash already checked).
pub fn claim(report: &Value) -> std::result::Result<Claim, String> {
    let hash = report["hash"].as_str().and_then(parse_hex).ok_or("в отчёте нет хеша")?;
    let known_at = report["known_at"]
        .as_str()
        .and_then(parse_stamp)
        .ok_or("у опубликованного отчёта нет среза known_at (момент в виде ГГГГ-ММ-ДДTЧЧ:ММ:ССZ)")?;
    let seq = report["ledger"]["seq"].as_u64().ok_or("в отчёте нет ledger.seq")?;
    let head = report["ledger"]["head"].as_str().and_then(parse_hex).ok_or("в отчёте нет ledger.head")?;
    let by_seq = match report.get("cut") {
        None => false,
        Some(Value::String(s)) if s == CUT_BY_SEQ => true,
        Some(other) => return Err(format!("срез отчёта «cut» — {other}, а бывает только \"seq\"")),
    };
    let definitions = definitions_hash(&report["definitions"]).map_err(|e| e.to_string())?;
    Ok(Claim { hash, definitions, period: report["period"].clone(), known_at, seq, head, by_seq })
}

/// Checks a `report_published` event's `data` against the claim, and the files'
/// hashes against `files` (name → bytes) when the files are at hand.
pub fn check_publication(
    claim: &Claim,
    data: &Value,
    files: Option<&BTreeMap<String, Vec<u8>>>,
) -> std::result::Result<(), String> {
    let members = ["report", "definitions", "period", "known_at", "seq", "files"];
    if data.as_object().is_none_or(|m| m.len() != members.len() || !members.iter().all(|k| m.contains_key(*k))) {
        return Err("в событии публикации не те поля".into());
    }
    let named = |k: &str| data.get(k).cloned().unwrap_or(Value::Null);
    if named("definitions").as_str() != Some(hex(&claim.definitions).as_str()) {
        return Err(
            "определения показателей не те, что опубликованы: их хеш не совпадает с названным в событии публикации"
                .into(),
        );
    }
    if named("period") != claim.period {
        return Err("период отчёта не тот, что опубликован".into());
    }
    if named("known_at").as_str() != Some(format_stamp(&claim.known_at).as_str()) {
        return Err("срез отчёта (known_at) не тот, что опубликован".into());
    }
    if named("seq").as_u64() != Some(claim.seq) {
        return Err(format!("отчёт сделан по событиям 1–{}, а опубликован другой срез: {}", claim.seq, named("seq")));
    }
    let Some(files) = files else { return Ok(()) };
    let listed = data.get("files").and_then(Value::as_object).ok_or("событие публикации не называет файлы")?;
    for (name, bytes) in files {
        match listed.get(name).and_then(Value::as_str) {
            Some(h) if h == blake3::hash(bytes).to_hex().as_str() => {}
            Some(_) => return Err(format!("файл «{name}» изменён после публикации: его хеш не совпадает")),
            None => return Err(format!("файл «{name}» не назван в событии публикации")),
        }
    }
    if listed.keys().any(|n| !files.contains_key(n)) {
        return Err("в событии публикации названы лишние файлы".into());
    }
    Ok(())
}

/// The cut rule of §19 on the recorded moments of events N and N + 1 (`None`: there is
/// no such event; N = 0 has none).
pub fn check_cut(
    claim: &Claim,
    at_n: Option<DateTime<Utc>>,
    at_next: Option<DateTime<Utc>>,
) -> std::result::Result<(), String> {
    let (n, t) = (claim.seq, claim.known_at);
    let words = |x: &DateTime<Utc>| format_stamp(x);
    if n > 0 {
        let Some(a) = at_n else {
            return Err(format!("события № {n}, по которое сделан отчёт, нет"));
        };
        if a > t || (claim.by_seq && a != t) {
            return Err(format!("событие № {n} записано {}, позже среза отчёта {}", words(&a), words(&t)));
        }
    }
    let Some(b) = at_next else {
        return Err(format!("нет события № {}, которое показало бы, что срез отчёта полный", n + 1));
    };
    if b < t || (b == t && !claim.by_seq) {
        return Err(format!(
            "событие № {} записано {}, не позже среза отчёта {}, а в отчёт не вошло: срез сдвинут",
            n + 1,
            words(&b),
            words(&t)
        ));
    }
    Ok(())
}

/// Finds the publication of a report in the ledger: the `report_published` event after
/// its cut that names its hash. (seq, recorded_at, data).
pub fn find_in_ledger(ledger: &Ledger, claim: &Claim) -> Result<Option<(u64, DateTime<Utc>, Value)>> {
    let mut found = None;
    let want = hex(&claim.hash);
    ledger.for_each_while(claim.seq + 1, |seq, rec| {
        if rec.canonical.ends_with(br#","type":"report_published"}"#) {
            let ev = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
            if ev.data["report"].as_str() == Some(want.as_str()) {
                let at = parse_stamp(&ev.recorded_at)
                    .ok_or_else(|| Error::Integrity { seq, reason: "bad recorded_at".into() })?;
                found = Some((seq, at, ev.data));
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    Ok(found)
}

/// The time of each witness cosignature of a checkpoint (seconds since the epoch), by
/// witness name: the first line of each witness key given as (name, key ID) — the line
/// a signed-note reader verifies (a bundle's note may hold no second one).
pub fn cosignature_times(note: &str, witnesses: &[(String, u32)]) -> Vec<(String, u64)> {
    use base64::Engine;
    let Some((_, sigs)) = note.split_once("\n\n") else { return Vec::new() };
    let mut out: Vec<(String, u64)> = Vec::new();
    for (name, b64) in sigs.lines().filter_map(|l| l.strip_prefix("— ")).filter_map(|l| l.split_once(' ')) {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else { continue };
        let (Some(id), Some(t)) = (raw.get(..4), raw.get(4..12)) else { continue };
        let id = u32::from_be_bytes(id.try_into().expect("4 bytes"));
        let known = witnesses.iter().any(|(n, i)| n == name && *i == id);
        if known && !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), u64::from_be_bytes(t.try_into().expect("8 bytes"))));
        }
    }
    out
}

/// The (name, key ID) of each witness of a policy whose cosignature of `note` verifies.
pub fn cosigners(note: &str, policy: &crate::checkpoint::Policy) -> Vec<(String, u32)> {
    use signed_note::Verifier;
    let keys: Vec<crate::checkpoint::KeyVerifier> =
        policy.witnesses.iter().filter_map(|w| crate::checkpoint::KeyVerifier::parse(&w.vkey).ok()).collect();
    let ids: Vec<(String, u32)> = keys.iter().map(|k| (k.name().to_string(), k.key_id())).collect();
    let verified = if keys.is_empty() { Vec::new() } else { checkpoint::verify_note(note, keys).unwrap_or_default() };
    ids.into_iter().filter(|(n, _)| verified.contains(n)).collect()
}

/// Cosignatures older than the report's cut: a witness cannot have seen, before the
/// cut's moment, a log that holds the publication of a report cut at it.
pub fn check_cosignature_times(claim: &Claim, times: &[(String, u64)]) -> std::result::Result<(), String> {
    match times.iter().find(|(_, t)| (*t as i64) < claim.known_at.timestamp()) {
        Some((name, t)) => Err(format!(
            "свидетель {name} заверил контрольную точку {}, раньше среза отчёта {}",
            DateTime::from_timestamp(*t as i64, 0).map_or_else(|| t.to_string(), |d| format_stamp(&d)),
            format_stamp(&claim.known_at)
        )),
        None => Ok(()),
    }
}

/// «Отчёт опубликован 05.02.2021 10:14 (событие № 812), заверен свидетелями не позднее
/// 05.02.2021 10:15» (SPEC §19), in the given time zone.
pub fn words(seq: u64, recorded_at: &DateTime<Utc>, cosigned_at: Option<u64>, zone: chrono_tz::Tz) -> String {
    let at = crate::domain::words::local_moment(recorded_at, zone);
    match cosigned_at.and_then(|t| DateTime::from_timestamp(t as i64, 0)) {
        Some(w) => format!(
            "Отчёт опубликован {at} (событие № {seq}), заверен свидетелями не позднее {}",
            crate::domain::words::local_moment(&w, zone)
        ),
        None => format!("Отчёт опубликован {at} (событие № {seq}); свидетелей у журнала нет"),
    }
}
