//! Memoised figures (and the charts' data, asked the same way): a figure set depends only on (the events inside the cut, the
//! period, the definitions), and the events inside a cut are a prefix of the chain
//! (`recorded_at` never decreases along seq), named by its last seq and that event's
//! hash. Append-only storage never changes a prefix, so a memo entry never goes stale:
//! an append moves the head and the next question as known now is a new key.
//!
//! Entries live in the ledger's derived keyspace with the question that produced them,
//! so `verify --projections` can recompute each from the events and compare.

use serde_json::{json, Value};

use crate::codec::{format_stamp, hex, Hash, ZERO_HASH};
use crate::error::{Error, Result};
use crate::indicators::{compute, period_json, Charted, Computed, Definition, Period};
use crate::ledger::canonical;
use crate::ledger::Ledger;
use crate::limits::MAX_MEMO_ENTRIES;
use crate::project::{resolve_cut, Cut};

/// The question, in a canonical form: what the key is the hash of.
fn question(defs: &[Definition], period: Period, cut: Cut, seq: u64, hash: &Hash) -> Value {
    json!({
        "defs": defs.iter().map(|d| d.source.clone()).collect::<Vec<_>>(),
        "period": period_json(period),
        "known_at": cut.known_at.map(|t| format_stamp(&t)),
        "at_seq": cut.at_seq,
        "ledger": {"seq": seq, "head": hex(hash)},
    })
}

fn key_of(question: &Value) -> Result<Hash> {
    let bytes = canonical::to_vec(question).map_err(|e| Error::Storage(format!("memo key: {}", e.reason)))?;
    Ok(*blake3::hash(&bytes).as_bytes())
}

/// The figures as [`compute`] gives them, answered from the memo when the same
/// question was asked of the same prefix before.
pub fn figures(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition]) -> Result<Computed> {
    let (seq, hash) = resolve_cut(ledger, cut)?;
    let q = question(defs, period, cut, seq, &hash);
    // Only events up to the resolved seq: an append between the search and the load
    // must not enter the answer.
    let bounded = Cut { known_at: cut.known_at, at_seq: Some(seq) };
    let value = remembered(ledger, q, || Ok(compute(ledger, period, bounded, defs)?.to_json()))?;
    serde_json::from_value(value).map_err(|e| Error::Storage(format!("memoised figures: {e}")))
}

/// The charts' data of a period ([`Charted`]), memoised as figures are; the question
/// names the parts (quarters) too.
pub fn charted(ledger: &Ledger, period: Period, parts: &[Period], cut: Cut, defs: &[Definition]) -> Result<Charted> {
    let (seq, hash) = resolve_cut(ledger, cut)?;
    let mut q = question(defs, period, cut, seq, &hash);
    q["charts"] = Value::Array(parts.iter().map(|p| period_json(*p)).collect());
    let bounded = Cut { known_at: cut.known_at, at_seq: Some(seq) };
    let value = remembered(ledger, q, || {
        serde_json::to_value(crate::indicators::charted(ledger, period, parts, bounded, defs)?)
            .map_err(|e| Error::Storage(format!("charts: {e}")))
    })?;
    serde_json::from_value(value).map_err(|e| Error::Storage(format!("memoised charts: {e}")))
}

/// The answer to `question` from the memo, or `compute`d and kept (below the memo's
/// limit).
fn remembered(ledger: &Ledger, q: Value, compute: impl FnOnce() -> Result<Value>) -> Result<Value> {
    let key = key_of(&q)?;
    if let Some(bytes) = ledger.derived_get(&key)? {
        if let Ok(entry) = serde_json::from_slice::<Value>(&bytes) {
            if entry["question"] == q {
                return Ok(entry["figures"].clone());
            }
        }
        tracing::warn!("a memoised answer did not read back; recomputing it");
    }
    let figures = compute()?;
    if ledger.derived_count() < MAX_MEMO_ENTRIES {
        let entry = json!({"question": q, "figures": figures});
        ledger.derived_put(&key, entry.to_string().as_bytes())?;
    }
    Ok(figures)
}

/// What `verify --projections` found.
#[derive(Debug, Default)]
pub struct MemoCheck {
    pub checked: usize,
    /// One line per entry that does not recompute to what it holds.
    pub failures: Vec<String>,
}

/// Recomputes every memoised figure set from the events and compares.
pub fn verify_all(ledger: &Ledger) -> Result<MemoCheck> {
    let mut check = MemoCheck::default();
    for entry in ledger.derived_entries() {
        let (key, bytes) = entry?;
        check.checked += 1;
        let name = hex(&key.clone().try_into().unwrap_or(ZERO_HASH));
        let mut fail = |why: String| check.failures.push(format!("memo {}…: {why}", &name[..12]));
        let Ok(entry) = serde_json::from_slice::<Value>(&bytes) else {
            fail("not readable".into());
            continue;
        };
        let q = &entry["question"];
        if key_of(q).ok().map(|h| h.to_vec()) != Some(key.clone()) {
            fail("its key is not the hash of its question".into());
            continue;
        }
        match recompute(ledger, q) {
            Ok(fresh) if fresh == entry["figures"] => {}
            Ok(_) => fail("its figures differ from the figures recomputed from the events".into()),
            Err(e) => fail(format!("cannot be recomputed: {e}")),
        }
    }
    Ok(check)
}

fn recompute(ledger: &Ledger, q: &Value) -> Result<Value> {
    let defs = crate::indicators::def::parse_file(&q["defs"]).map_err(|e| Error::Storage(e.to_string()))?;
    let day = |v: &Value| v.as_str().and_then(crate::codec::parse_date);
    let period = match (day(&q["period"]["from"]), day(&q["period"]["to"])) {
        (Some(from), Some(to)) => Period { from, to },
        _ => return Err(Error::Storage("bad period".into())),
    };
    let known_at = match q["known_at"].as_str() {
        Some(s) => Some(crate::codec::parse_stamp(s).ok_or_else(|| Error::Storage("bad known_at".into()))?),
        None => None,
    };
    let seq = q["ledger"]["seq"].as_u64().ok_or_else(|| Error::Storage("bad seq".into()))?;
    // The entry answers for the prefix up to its seq (later appends may have grown the
    // cut it was asked with, as for a question "as known now").
    let (at, hash) = resolve_cut(ledger, Cut { known_at, at_seq: Some(seq) })?;
    if at != seq || hex(&hash) != q["ledger"]["head"].as_str().unwrap_or("") {
        return Err(Error::Storage(format!("the ledger's prefix at seq {seq} is not the one it was computed from")));
    }
    let cut = Cut { known_at, at_seq: Some(seq) };
    if let Some(parts) = q.get("charts").and_then(Value::as_array) {
        let parts = parts
            .iter()
            .map(|p| match (day(&p["from"]), day(&p["to"])) {
                (Some(from), Some(to)) => Ok(Period { from, to }),
                _ => Err(Error::Storage("bad part".into())),
            })
            .collect::<Result<Vec<_>>>()?;
        let world = crate::project::World::load(ledger, cut)?;
        let charted = crate::indicators::charted_in(&world, period, &parts, cut, &defs);
        return serde_json::to_value(charted).map_err(|e| Error::Storage(e.to_string()));
    }
    Ok(crate::indicators::compute_from_events(ledger, period, cut, &defs)?.to_json())
}
