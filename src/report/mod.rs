//! Audited grant reports (SPEC §10): a self-contained JSON report that names the
//! ledger's state it was computed from and carries its own hash; and its verification
//! months later — the hash, the ledger's history up to the report's seq, the figures
//! re-derived at the same cut, and how each figure reads now with the later events that
//! moved it (the lineage diff).

pub mod charts;
mod document;
pub mod html;
pub mod publish;
pub mod tables;

use std::collections::{BTreeSet, HashSet};

use document::{body, report_hash};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::codec::{format_stamp, hex, parse_hex, Hash};
use crate::error::Result;
use crate::indicators::{self, parse_file, Definition, Period, Rows};
use crate::ledger::Ledger;
use crate::project::{parse_known_at, Cut, World};

/// A JSON figure value as a person reads it: strings without their quotes.
pub fn plain(v: &Value) -> String {
    v.as_str().map(String::from).unwrap_or_else(|| v.to_string())
}

/// A figure's number (its §9 JSON numerator or denominator) as Russian documents
/// write it: counts grouped by thousands, money as `5 271 224,09 ₽`.
pub fn number(x: &Value) -> String {
    use serde::Deserialize;
    match x {
        Value::Null => "—".into(),
        // A number as §9 writes one reads as one; anything else is shown as it is.
        other => indicators::Number::deserialize(other).map_or_else(|_| plain(other), amount),
    }
}

/// A numerator or denominator as Russian documents write it: counts grouped by
/// thousands, money as `5 271 224,09 ₽`.
pub fn amount(n: indicators::Number) -> String {
    use crate::domain::words;
    match n {
        indicators::Number::Count(c) => words::grouped(c),
        indicators::Number::Money(k) => words::money(k),
        indicators::Number::Int(i) => u64::try_from(i).map_or_else(|_| i.to_string(), words::grouped),
    }
}

/// A figure as a person reads it: `16 из 29 (0,5517)`; money as `5 271 224,09 ₽`,
/// counts grouped by thousands.
pub fn figure_words(f: &indicators::Figure) -> String {
    let mut s = amount(f.numerator);
    if let Some(d) = f.denominator {
        s.push_str(&format!(" из {}", amount(d)));
    }
    if let Some(r) = &f.ratio {
        s.push_str(&format!(" ({})", ratio(&f.title, r)));
    }
    s
}

/// A figure (its §9 JSON) as a person reads it: `16 из 29 (0,5517)`; money as
/// `5 271 224,09 ₽`, counts grouped by thousands.
pub fn figure_text(v: &Value) -> String {
    let mut s = number(&v["numerator"]);
    if let Some(d) = v.get("denominator") {
        s.push_str(&format!(" из {}", number(d)));
    }
    if let Some(r) = v.get("ratio").and_then(Value::as_str) {
        s.push_str(&format!(" ({})", ratio(v["title"].as_str().unwrap_or(""), r)));
    }
    s
}

/// A figure's ratio as a person reads it: `0,5517`; for a cost (a title in ₽) the
/// amount, `329 454,01 ₽`.
pub fn ratio(title: &str, r: &str) -> String {
    match r.parse::<f64>() {
        Ok(rub) if title.contains('₽') => {
            crate::domain::words::money(crate::domain::payload::Money((rub * 100.0).round() as i64))
        }
        _ => r.replace('.', ","),
    }
}

/// An indicator's Russian title from the definitions (its id when it has none).
pub fn title_of(defs: &[Definition], id: &str) -> String {
    defs.iter().find(|d| d.id == id).map_or_else(|| id.to_string(), |d| d.title.clone())
}

/// A cut as people write it: `как известно на 31.01.2021` (a whole day's end is that
/// day; another moment has its time), `как известно на событие № 747`, or `по всем
/// записям реестра на …` (now).
pub fn cut_words(cut: Cut, now: DateTime<Utc>) -> String {
    let moment = |t: &DateTime<Utc>| {
        if t.format("%H:%M:%S").to_string() == "23:59:59" {
            ru_date(t.date_naive())
        } else {
            crate::domain::words::moment(t)
        }
    };
    match (cut.known_at, cut.at_seq) {
        (Some(t), _) => format!("как известно на {}", moment(&t)),
        (None, Some(n)) => format!("как известно на событие № {n}"),
        (None, None) => format!("по всем записям реестра на {}", moment(&now)),
    }
}

/// A day as Russian documents write it: `ДД.ММ.ГГГГ`.
pub fn ru_date(d: chrono::NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

const MEMBERS: [&str; 10] = [
    "period",
    "known_at",
    "cut",
    "ledger",
    "created_at",
    "definitions",
    "figures",
    "checkpoint",
    "consistency",
    "hash",
];
/// Members a report made before checkpoints (§14) lacks; it still verifies, without them.
const SINCE_CHECKPOINTS: [&str; 2] = ["checkpoint", "consistency"];

/// Creates the report of SPEC §10 for a period and a cut (not published: §19's
/// [`publish::publish`] binds one to the log).
pub fn create(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition], now: DateTime<Utc>) -> Result<Value> {
    let (mut report, computed) = body(ledger, period, cut, defs, now)?;
    // The checkpoint that covers the report's prefix, and the proof that it extends it
    // (null, null when the ledger has no signing key).
    let (checkpoint, consistency) = match crate::checkpoint::for_report(ledger, computed.seq)? {
        Some((cp, proof)) => (json!(cp.note), json!(proof.iter().map(crate::ledger::merkle::b64).collect::<Vec<_>>())),
        None => (Value::Null, Value::Null),
    };
    report.insert("checkpoint".into(), checkpoint);
    report.insert("consistency".into(), consistency);
    let hash = report_hash(&report)?;
    report.insert("hash".into(), json!(hex(&hash)));
    Ok(Value::Object(report))
}

/// The outcome of `report verify`.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// What failed (empty: the report verifies).
    pub failures: Vec<String>,
    /// The last event of the report's cut (its `ledger.seq`), when the report reads.
    pub seq: Option<u64>,
    /// The size of the report's checkpoint, when it has one.
    pub checkpoint_size: Option<u64>,
    /// Figures that read differently as known now, each with the later events that
    /// moved it.
    pub changed: Vec<Change>,
    /// Every figure as known now.
    pub now: Vec<indicators::Figure>,
    /// The witnesses whose cosignatures of the report's checkpoint verify (None: the
    /// report has no checkpoint).
    pub cosigned: Option<Vec<String>>,
    /// The publication (SPEC §19) that names the report, when it is published.
    pub published: Option<Publication>,
}

/// A figure that reads differently now than in a report, and the events that moved it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub id: String,
    pub then: indicators::Figure,
    pub now: indicators::Figure,
    pub events: Vec<Mover>,
}

/// An event recorded after a report's cut that moved one of its figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mover {
    pub seq: u64,
    pub id: String,
    /// The event's type (its code).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A report's publication as the ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The `report_published` event.
    pub seq: u64,
    pub recorded_at: DateTime<Utc>,
    /// The earliest cosignature of the checkpoint that covers it (seconds since the
    /// epoch), when witnesses cosigned.
    pub cosigned_at: Option<u64>,
}

impl Publication {
    /// «Отчёт опубликован 05.02.2021 10:14 (событие № 812), заверен свидетелями не
    /// позднее 05.02.2021 10:15».
    pub fn words(&self, zone: chrono_tz::Tz) -> String {
        publish::words(self.seq, &self.recorded_at, self.cosigned_at, zone)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "recorded_at": format_stamp(&self.recorded_at),
            "cosigned_at": self.cosigned_at.and_then(|t| DateTime::from_timestamp(t as i64, 0)).map(|t| format_stamp(&t)),
        })
    }
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "failures": self.failures,
            "changed": serde_json::to_value(&self.changed).expect("changes serialise"),
            "cosigned": self.cosigned,
            "published": self.published.as_ref().map(Publication::to_json),
        })
    }
}

/// What a report carries to prove its history is the log's.
enum Evidence {
    /// Nothing (made before checkpoints, or by a ledger without a key).
    None,
    /// A checkpoint and the consistency proof from `seq` to its size (§14).
    Proved(String, Vec<crate::ledger::merkle::Node>),
    /// The published form (§19): a checkpoint that covers the report's publication.
    Published(String),
}

struct Parsed {
    period: Period,
    cut: Cut,
    seq: u64,
    head: Hash,
    defs: Vec<Definition>,
    figures: Vec<Value>,
    evidence: Evidence,
}

fn parse_report(report: &Value) -> std::result::Result<Parsed, String> {
    let m = report.as_object().ok_or("отчёт — не JSON-объект")?;
    let before_checkpoints = SINCE_CHECKPOINTS.iter().all(|k| !m.contains_key(*k));
    let published = publish::is_published_form(report);
    let optional = |k: &str| {
        k == "cut" || (before_checkpoints && SINCE_CHECKPOINTS.contains(&k)) || (published && k == "consistency")
    };
    if let Some(k) = MEMBERS.iter().find(|k| !(m.contains_key(**k) || optional(k))) {
        return Err(format!("в отчёте нет поля «{k}»"));
    }
    if let Some(k) = m.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!("в отчёте лишнее поле «{k}»"));
    }
    if m.contains_key("cut") && !published {
        return Err("поле «cut» бывает только у опубликованного отчёта".into());
    }
    let (period, cut) = period_and_cut(report)?;
    let seq = cut.at_seq.expect("period_and_cut pins the seq");
    let head = m["ledger"]["head"].as_str().and_then(parse_hex).ok_or("ledger.head — не хеш")?;
    let defs = parse_file(&m["definitions"]).map_err(|e| format!("определения показателей: {e}"))?;
    let figures = m["figures"].as_array().ok_or("figures — не список")?.clone();
    let evidence = match (m.get("checkpoint"), m.get("consistency")) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Evidence::None,
        (Some(Value::String(note)), None) => Evidence::Published(note.clone()),
        (Some(Value::String(note)), Some(Value::Array(list))) => {
            let proof: Option<Vec<_>> =
                list.iter().map(|h| h.as_str().and_then(crate::ledger::merkle::from_b64)).collect();
            Evidence::Proved(note.clone(), proof.ok_or("consistency — не список хешей base64")?)
        }
        (Some(Value::String(_)), _) => return Err("consistency — не список хешей base64".into()),
        _ => return Err("checkpoint — не подписанная запись (текст) и не null".into()),
    };
    Ok(Parsed { period, cut, seq, head, defs, figures, evidence })
}

/// Whether a report has exactly the members of its form, each of its kind (the first
/// thing wrong, in words).
pub fn check_shape(report: &Value) -> std::result::Result<(), String> {
    parse_report(report).map(|_| ())
}

/// A report's period and the cut it was made at: what was recorded by its `known_at`
/// and no later than its `ledger.seq` (events appended since lie outside it, whatever
/// their time).
pub fn period_and_cut(report: &Value) -> std::result::Result<(Period, Cut), String> {
    let date = |k: &str| {
        report["period"][k].as_str().and_then(crate::codec::parse_date).ok_or(format!("period.{k} — не дата"))
    };
    let period = Period { from: date("from")?, to: date("to")? };
    let known_at = match &report["known_at"] {
        Value::Null => None,
        Value::String(s) => Some(parse_known_at(s).ok_or("known_at — не момент времени")?),
        _ => return Err("known_at — не момент времени".into()),
    };
    let seq = report["ledger"]["seq"].as_u64().ok_or("ledger.seq — не число")?;
    Ok((period, Cut { known_at, at_seq: Some(seq) }))
}

/// Whether a report's `hash` is the BLAKE3 of its other members in RFC 8785 form.
pub fn hash_matches(report: &Value) -> bool {
    let claimed = report.get("hash").and_then(Value::as_str).and_then(parse_hex);
    let actual = report.as_object().map(report_hash).transpose().ok().flatten();
    claimed.is_some() && claimed == actual
}

/// Verifies a report against a ledger (SPEC §10), its checkpoint included (§14), and
/// its publication when it is published (§19).
pub fn verify(ledger: &Ledger, report: &Value) -> Result<Verification> {
    verify_with(ledger, report, true)
}

/// Verifies a report against a ledger made from a bundle's events (§15): the same
/// checks but the checkpoint's and the publication's, which the bundle checks without
/// any ledger.
pub fn verify_figures(ledger: &Ledger, report: &Value) -> Result<Verification> {
    verify_with(ledger, report, false)
}

fn verify_with(ledger: &Ledger, report: &Value, with_checkpoint: bool) -> Result<Verification> {
    let mut v = Verification::default();
    let claimed = report.get("hash").and_then(Value::as_str).and_then(parse_hex);
    let actual = match report.as_object().map(report_hash).transpose() {
        Ok(h) => h,
        Err(e) => {
            // A float or an unsafe integer put in by hand: it fails, it is not refused.
            v.failures.push(format!("отчёт изменён: {e}"));
            return Ok(v);
        }
    };
    if claimed.is_none() || claimed != actual {
        v.failures.push("отчёт изменён после выпуска: его хеш не совпадает с содержимым".into());
    }
    let p = match parse_report(report) {
        Ok(p) => p,
        Err(why) => {
            v.failures.push(why);
            return Ok(v);
        }
    };
    v.seq = Some(p.seq);
    v.checkpoint_size = match &p.evidence {
        Evidence::Proved(note, _) | Evidence::Published(note) => note.lines().nth(1).and_then(|s| s.parse().ok()),
        Evidence::None => None,
    };
    // The ledger still holds the history the report was computed from; if not,
    // nothing else can be compared.
    let failures_before = v.failures.len();
    let at_seq = if p.seq == 0 { Some([0u8; 32]) } else { ledger.record(p.seq)?.map(|r| r.hash) };
    match at_seq {
        None => v.failures.push(format!(
            "в реестре нет события № {} (в нём {}): история другая или короче",
            p.seq,
            ledger.head().seq
        )),
        Some(h) if h != p.head => v.failures.push(format!(
            "у события № {} в реестре хеш {}, а отчёт называет {}: история другая",
            p.seq,
            hex(&h),
            hex(&p.head)
        )),
        Some(_) => {}
    }
    if v.failures.len() > failures_before {
        return Ok(v);
    }
    match &p.evidence {
        // The checkpoint: signed by the ledger's key, extending the report's prefix,
        // and today's ledger still consistent with it.
        Evidence::Proved(note, proof) if with_checkpoint => {
            let (failures, cosigned) = crate::checkpoint::check_report(ledger, p.seq, note, proof);
            v.failures.extend(failures);
            v.cosigned = Some(cosigned);
        }
        Evidence::Published(note) if with_checkpoint => check_published(ledger, report, note, &mut v)?,
        _ => {}
    }
    // Re-derive at the same cut with the embedded definitions.
    let then_world = World::load(ledger, p.cut)?;
    let then = indicators::compute_in(&then_world, p.period, p.cut, &p.defs);
    let then_json: Vec<Value> = then.figures.iter().map(|f| f.to_json()).collect();
    for (i, want) in p.figures.iter().enumerate() {
        let id = want["id"].as_str().unwrap_or("?");
        match then_json.iter().find(|f| f["id"] == want["id"]) {
            Some(got) if got == want => {}
            Some(got) => v.failures.push(format!("показатель {id} пересчитывается как {got}, а в отчёте {want}")),
            None => v.failures.push(format!("показателя № {} ({id}) нет среди определений отчёта", i + 1)),
        }
    }
    if then_json.len() != p.figures.len() {
        v.failures.push(format!("в отчёте показателей: {}, а определений: {}", p.figures.len(), then_json.len()));
    }
    // As known now, and what moved each figure that changed.
    let now_world = World::load(ledger, Cut::everything())?;
    let now = indicators::compute_in(&now_world, p.period, Cut::everything(), &p.defs);
    v.now = now.figures.clone();
    if then.figures == now.figures {
        return Ok(v);
    }
    // Rows that remember their source events cost far more than the figures: only
    // when something moved.
    let then_rows = Rows::build(&then_world, p.period, true);
    let now_rows = Rows::build(&now_world, p.period, true);
    for (def, (a, b)) in p.defs.iter().zip(then.figures.iter().zip(&now.figures)) {
        if a == b {
            continue;
        }
        let events = movers(def, &then_rows, &then_world, &now_rows, &now_world, p.seq);
        v.changed.push(Change { id: def.id.clone(), then: a.clone(), now: b.clone(), events });
    }
    Ok(v)
}

/// A published report against the ledger (SPEC §19): its publication is there and
/// names it, its cut is the one its moment gives, and the checkpoint that covers the
/// publication is the ledger's, witnessed after the cut.
fn check_published(ledger: &Ledger, report: &Value, note: &str, v: &mut Verification) -> Result<()> {
    let claim = match publish::claim(report) {
        Ok(c) => c,
        Err(why) => {
            v.failures.push(why);
            return Ok(());
        }
    };
    let Some((m, recorded_at, data)) = publish::find_in_ledger(ledger, &claim)? else {
        v.failures.push(
            "отчёт не опубликован в этом реестре: в нём нет события публикации (report_published) с хешем этого отчёта"
                .into(),
        );
        return Ok(());
    };
    if let Err(why) = publish::check_publication(&claim, &data, None) {
        v.failures.push(why);
    }
    let recorded = |seq: u64| -> Result<Option<DateTime<Utc>>> {
        Ok(ledger.record(seq)?.and_then(|r| crate::ledger::event::recorded_at_of(&r.canonical)))
    };
    let at_n = if claim.seq == 0 { None } else { recorded(claim.seq)? };
    if let Err(why) = publish::check_cut(&claim, at_n, recorded(claim.seq + 1)?) {
        v.failures.push(why);
    }
    if let Err(why) = crate::checkpoint::strict_note(note) {
        v.failures.push(why);
        return Ok(());
    }
    let (cp, failures, cosigned) = match crate::checkpoint::check_signed(ledger, note) {
        Ok(x) => x,
        Err(why) => {
            v.failures.push(why);
            return Ok(());
        }
    };
    v.failures.extend(failures);
    if cp.size < m {
        v.failures
            .push(format!("контрольная точка отчёта (размер {}) не покрывает его публикацию (событие № {m})", cp.size));
    }
    let policy = crate::checkpoint::Policy::load(ledger.store().dir()).unwrap_or_default();
    let times = publish::cosignature_times(note, &publish::cosigners(note, &policy));
    if let Err(why) = publish::check_cosignature_times(&claim, &times) {
        v.failures.push(why);
    }
    v.cosigned = Some(cosigned);
    v.published = Some(Publication { seq: m, recorded_at, cosigned_at: times.iter().map(|(_, t)| *t).min() });
    Ok(())
}

/// The events recorded after the report's seq that moved a figure: events now read by
/// its predicates (for every subject counted now, and for the subjects that left the
/// numerator, the rows that excluded them), and corrections of events it read then.
fn movers(
    def: &Definition,
    then_rows: &Rows,
    then_world: &World,
    now_rows: &Rows,
    now_world: &World,
    cut_seq: u64,
) -> Vec<Mover> {
    let seqs_of = |l: &indicators::Lineage| -> BTreeSet<u64> {
        indicators::Lineage::seqs(Some(&l.numerator)).chain(indicators::Lineage::seqs(l.denominator.as_ref())).collect()
    };
    let then = indicators::explain(def, then_rows, then_world, false);
    let now = indicators::explain(def, now_rows, now_world, true);
    let mut moved: BTreeSet<u64> = seqs_of(&now).into_iter().filter(|s| *s > cut_seq).collect();
    // Subjects counted then but not now, still in the denominator: why they left.
    let keys =
        |l: &indicators::Lineage| -> HashSet<String> { l.numerator.subjects.iter().map(|s| s.key.clone()).collect() };
    let (then_keys, now_keys) = (keys(&then), keys(&now));
    for x in now.excluded.iter().flatten() {
        if then_keys.contains(&x.key) && !now_keys.contains(&x.key) {
            let rows = x.why.iter().filter_map(|w| w.row.as_ref());
            moved.extend(rows.flat_map(|r| &r.row.events).map(|e| e.seq).filter(|s| *s > cut_seq));
        }
    }
    // Corrections recorded later of events the figure read then (a void hides them).
    let read_then: HashSet<u64> = seqs_of(&then).into_iter().collect();
    for c in now_world.corrections.iter().filter(|c| c.seq > cut_seq) {
        if let Some(target) = now_world.event(&c.target) {
            if read_then.contains(&target.seq) {
                moved.insert(c.seq);
            }
        }
    }
    moved
        .into_iter()
        .filter_map(|s| {
            let (id, _) = now_world.event_ref(s)?;
            let kind = now_world.event(&id).map(|e| e.payload.kind()).or_else(|| {
                now_world.corrections.iter().find(|c| c.seq == s).map(|c| {
                    if c.voids {
                        "event_voided"
                    } else {
                        "event_amended"
                    }
                })
            })?;
            Some(Mover { seq: s, id: id.to_string(), kind: kind.to_string() })
        })
        .collect()
}
