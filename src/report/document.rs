//! A report's document (SPEC §10): the members every report has, computed from the
//! events inside its cut, and its own hash.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::codec::{format_stamp, hex, Hash};
use crate::error::{Error, Refusal, Result};
use crate::indicators::{self, period_json, Definition, Period};
use crate::ledger::canonical;
use crate::ledger::Ledger;
use crate::project::Cut;

/// The report's own hash: BLAKE3 of the RFC 8785 form of its members but `hash` — and
/// but `checkpoint` in the published form of §19 (no `consistency`), whose checkpoint
/// is signed after the publication that names this hash.
pub(super) fn report_hash(report: &serde_json::Map<String, Value>) -> Result<Hash> {
    let mut body = report.clone();
    body.remove("hash");
    if !body.contains_key("consistency") {
        body.remove("checkpoint");
    }
    let bytes = canonical::to_vec(&Value::Object(body))
        .map_err(|e| Error::refused(Refusal::new(None, format!("the report has no canonical form: {}", e.reason))))?;
    Ok(*blake3::hash(&bytes).as_bytes())
}

/// The members every report has: period, cut, ledger, creation time, definitions and
/// the figures computed from the events inside the cut.
pub(super) fn body(
    ledger: &Ledger,
    period: Period,
    cut: Cut,
    defs: &[Definition],
    now: DateTime<Utc>,
) -> Result<(serde_json::Map<String, Value>, indicators::Computed)> {
    let computed = indicators::compute_from_events(ledger, period, cut, defs)?;
    let mut report = serde_json::Map::new();
    report.insert("period".into(), period_json(period));
    report.insert("known_at".into(), computed.known_at.map_or(Value::Null, |t| json!(format_stamp(&t))));
    report.insert("ledger".into(), json!({"seq": computed.seq, "head": hex(&computed.head)}));
    report.insert("created_at".into(), json!(format_stamp(&now)));
    report.insert("definitions".into(), Value::Array(defs.iter().map(|d| d.source.clone()).collect()));
    report.insert("figures".into(), Value::Array(computed.figures.iter().map(|f| f.to_json()).collect()));
    Ok((report, computed))
}
