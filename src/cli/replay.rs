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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Refusal, Result};
use crate::indicators::{self, Period};
use crate::ledger::{AppendOptions, Ledger};
use crate::project::{parse_known_at, Cut, World};
use crate::record::StateRules;

/// `DIR/expected.json`.
#[derive(Deserialize)]
struct Expected {
    /// A definitions file relative to DIR (default: the built-in set).
    #[serde(default)]
    defs: Option<String>,
    figures: Vec<Wanted>,
}

/// The figures expected for one period and cut.
#[derive(Deserialize)]
struct Wanted {
    period: Days,
    #[serde(default)]
    known_at: Option<String>,
    #[serde(default)]
    at_seq: Option<u64>,
    /// Indicator id → member (`numerator`, `denominator`, `ratio`) → its value.
    indicators: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Deserialize, Serialize, Clone)]
struct Days {
    from: String,
    to: String,
}

/// One member of one expected figure, checked (members in alphabetical order: the
/// order `--json` has always written them in).
#[derive(Serialize)]
struct Check {
    actual: Value,
    expected: Value,
    field: String,
    id: String,
    known_at: Option<String>,
    ok: bool,
    period: Days,
}

/// What `replay --json` writes.
#[derive(Serialize)]
struct Replayed<'a> {
    checks: &'a [Check],
    dir: String,
    events: usize,
    ok: bool,
}

fn bad(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::refused(Refusal::new(None, format!("{}/expected.json: {what}", dir.display())))
}

pub fn run(dir: &Path, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let events = std::fs::File::open(dir.join("events.jsonl"))
        .map_err(|e| Error::Usage(crate::say::cannot_read(&dir.join("events.jsonl").display(), &e)))?;
    let expected: Expected = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json"))
            .map_err(|e| Error::Usage(crate::say::cannot_read(&dir.join("expected.json").display(), &e)))?,
    )
    .map_err(|e| bad(dir, e))?;
    let defs = match &expected.defs {
        Some(f) => crate::cli::figures::definitions(Some(&dir.join(f)))?,
        None => indicators::default_definitions(),
    };
    let tmp = std::env::temp_dir().join(format!(
        "caseledger-replay-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let result = (|| -> Result<(usize, Vec<Check>)> {
        let ledger = Ledger::init(&tmp)?;
        let opts = AppendOptions { actor: "replay".into(), now: chrono::Utc::now() };
        let (acks, _) =
            StateRules::append_with(&ledger, |r| ledger.append_jsonl(std::io::BufReader::new(events), &opts, r))?;
        let mut checks = Vec::new();
        for (i, fig) in expected.figures.iter().enumerate() {
            let date = |k: &str, s: &str| {
                crate::codec::parse_date(s).ok_or_else(|| bad(dir, format!("figures[{i}].period.{k} is not a date")))
            };
            let period = Period { from: date("from", &fig.period.from)?, to: date("to", &fig.period.to)? };
            let known_at = match &fig.known_at {
                Some(s) => Some(parse_known_at(s).ok_or_else(|| bad(dir, format!("figures[{i}].known_at: \"{s}\"")))?),
                None => None,
            };
            let cut = Cut { known_at, at_seq: fig.at_seq };
            let world = World::load(&ledger, cut)?;
            let computed = indicators::compute_in(&world, period, cut, &defs);
            for (id, want) in &fig.indicators {
                // The figure as `indicators --json` writes it: its members by name.
                let got = computed.figure(id).map(|f| f.to_json());
                for (field, w) in want {
                    let g = got.as_ref().and_then(|g| g.get(field)).cloned().unwrap_or(Value::Null);
                    checks.push(Check {
                        period: Days {
                            from: crate::codec::format_date(period.from),
                            to: crate::codec::format_date(period.to),
                        },
                        known_at: fig.known_at.clone(),
                        id: id.clone(),
                        field: field.clone(),
                        ok: &g == w,
                        expected: w.clone(),
                        actual: g,
                    });
                }
            }
        }
        Ok((acks.len(), checks))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    let (events, checks) = result?;
    let failed = checks.iter().filter(|c| !c.ok).count();
    if json_out {
        let replayed = Replayed { checks: &checks, dir: dir.display().to_string(), events, ok: failed == 0 };
        writeln!(out, "{}", serde_json::to_string(&replayed).map_err(std::io::Error::from)?)?;
    } else {
        writeln!(out, "Воспроизведение {}: событий {events}, проверок {}", dir.display(), checks.len())?;
        for c in &checks {
            let mark = if c.ok { "✓" } else { "✗" };
            let known = c.known_at.as_ref().map(|k| format!(", как известно на {k}")).unwrap_or_default();
            writeln!(
                out,
                "  {mark} {} {} за {}–{}{known}: ожидалось {}, получено {}",
                c.id, c.field, c.period.from, c.period.to, c.expected, c.actual
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
