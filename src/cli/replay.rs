//! `replay DIR`: loads `DIR/events.jsonl` into a fresh temporary ledger and checks
//! every figure in `DIR/expected.json`:
//!
//! ```json
//! {"defs": "defs.json",            // optional, relative to DIR; default: built-in set
//!  "figures": [{"period": {"from": "2020-01-01", "to": "2020-12-31"},
//!               "known_at": "2021-01-31",   // or null for everything; or "at_seq": N
//!               "indicators": {"P1": {"numerator": 16, "denominator": 29, "ratio": "0.5517"}}}]}
//! ```
//!
//! Only the members written are checked. Exit 0 when all match, 3 when any differs.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Refusal, Result};
use crate::indicators::{self, Period};
use crate::ledger::{AppendOptions, Ledger};
use crate::project::{parse_known_at, Cut, World};
use crate::record::StateRules;

fn bad(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::refused(Refusal::new(None, format!("{}/expected.json: {what}", dir.display())))
}

pub fn run(dir: &Path, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let events = std::fs::File::open(dir.join("events.jsonl"))
        .map_err(|e| Error::Usage(crate::say::cannot_read(&dir.join("events.jsonl").display(), &e)))?;
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json"))
            .map_err(|e| Error::Usage(crate::say::cannot_read(&dir.join("expected.json").display(), &e)))?,
    )
    .map_err(|e| bad(dir, e))?;
    let defs = match expected.get("defs").and_then(Value::as_str) {
        Some(f) => crate::cli::figures::definitions(Some(&dir.join(f)))?,
        None => indicators::default_definitions(),
    };
    let tmp = std::env::temp_dir().join(format!(
        "caseledger-replay-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let result = (|| -> Result<(usize, Vec<Value>)> {
        let ledger = Ledger::init(&tmp)?;
        let opts = AppendOptions { actor: "replay".into(), now: chrono::Utc::now() };
        let (acks, _) =
            StateRules::append_with(&ledger, |r| ledger.append_jsonl(std::io::BufReader::new(events), &opts, r))?;
        let mut checks = Vec::new();
        let figures =
            expected.get("figures").and_then(Value::as_array).ok_or_else(|| bad(dir, "needs \"figures\": [...]"))?;
        for (i, fig) in figures.iter().enumerate() {
            let date = |k: &str| {
                fig["period"][k]
                    .as_str()
                    .and_then(crate::codec::parse_date)
                    .ok_or_else(|| bad(dir, format!("figures[{i}].period.{k} is not a date")))
            };
            let period = Period { from: date("from")?, to: date("to")? };
            let known_at = match fig.get("known_at").and_then(Value::as_str) {
                Some(s) => Some(parse_known_at(s).ok_or_else(|| bad(dir, format!("figures[{i}].known_at: \"{s}\"")))?),
                None => None,
            };
            let cut = Cut { known_at, at_seq: fig.get("at_seq").and_then(Value::as_u64) };
            let world = World::load(&ledger, cut)?;
            let computed = indicators::compute_in(&world, period, cut, &defs);
            let wanted = fig
                .get("indicators")
                .and_then(Value::as_object)
                .ok_or_else(|| bad(dir, format!("figures[{i}].indicators")))?;
            for (id, want) in wanted {
                let got = computed.figures.iter().find(|f| &f.id == id).map(|f| f.to_json());
                for (field, w) in want.as_object().ok_or_else(|| bad(dir, format!("figures[{i}].indicators.{id}")))? {
                    let g = got.as_ref().and_then(|g| g.get(field)).cloned().unwrap_or(Value::Null);
                    checks.push(json!({
                        "period": indicators::period_json(period),
                        "known_at": fig.get("known_at").cloned().unwrap_or(Value::Null),
                        "id": id, "field": field, "expected": w, "actual": g, "ok": &g == w,
                    }));
                }
            }
        }
        Ok((acks.len(), checks))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    let (events, checks) = result?;
    let failed = checks.iter().filter(|c| c["ok"] != true).count();
    if json_out {
        writeln!(
            out,
            "{}",
            json!({"dir": dir.display().to_string(), "events": events, "checks": checks, "ok": failed == 0})
        )?;
    } else {
        writeln!(out, "Воспроизведение {}: событий {events}, проверок {}", dir.display(), checks.len())?;
        for c in &checks {
            let mark = if c["ok"] == true { "✓" } else { "✗" };
            let known = c["known_at"].as_str().map(|k| format!(", как известно на {k}")).unwrap_or_default();
            writeln!(
                out,
                "  {mark} {} {} за {}–{}{known}: ожидалось {}, получено {}",
                c["id"].as_str().unwrap_or(""),
                c["field"].as_str().unwrap_or(""),
                c["period"]["from"].as_str().unwrap_or(""),
                c["period"]["to"].as_str().unwrap_or(""),
                c["expected"],
                c["actual"]
            )?;
        }
    }
    if failed > 0 {
        out.flush()?;
        return Err(Error::Mismatch(format!(
            "replay {}: {failed} of {} expected figures differ",
            dir.display(),
            checks.len()
        )));
    }
    Ok(())
}
