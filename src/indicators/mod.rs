//! Indicators: the fact rows of SPEC §6, the definition language of §7, evaluation
//! and lineage (§9). Pure over a [`World`](crate::project::World): the command line,
//! reports and the HTTP service call the same functions.

pub mod def;
pub mod eval;
pub mod facts;
pub mod memo;

use crate::error::{Error, Refusal, Result};
pub use def::{parse_file, Definition};
pub use eval::{evaluate, explain, Figure};
pub use facts::{Period, Rows};

/// The default set for «Мама рядом» (SPEC §7), built into the binary.
pub const DEFAULT_DEFINITIONS: &str = include_str!("../../indicators/default.json");

/// Parses a definition file's text; a bad file is refused (exit 1) naming the
/// indicator and the place.
pub fn load_definitions(text: &str, name: &str) -> Result<Vec<Definition>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::refused(Refusal::new(None, format!("{name}: not valid JSON: {e}"))))?;
    parse_file(&v).map_err(|e| Error::refused(Refusal::new(None, format!("{name}: {e}"))))
}

pub fn default_definitions() -> Vec<Definition> {
    load_definitions(DEFAULT_DEFINITIONS, "indicators/default.json").expect("the built-in definitions parse (tested)")
}

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::ledger::event::{format_stamp, hex, Hash, ZERO_HASH};
use crate::ledger::Ledger;
use crate::project::{Cut, World};

/// Figures for a period and a cut, with what they were computed from.
#[derive(Debug, Clone)]
pub struct Computed {
    pub period: Period,
    pub known_at: Option<DateTime<Utc>>,
    /// The last event inside the cut (0 and 64 zeros when the cut is empty).
    pub seq: u64,
    pub head: Hash,
    pub figures: Vec<Figure>,
}

impl Computed {
    /// `indicators --json` (SPEC §9).
    pub fn to_json(&self) -> Value {
        json!({
            "period": period_json(self.period),
            "known_at": self.known_at.map(|t| format_stamp(&t)),
            "ledger": {"seq": self.seq, "head": hex(&self.head)},
            "indicators": self.figures.iter().map(Figure::to_json).collect::<Vec<_>>(),
        })
    }
}

pub fn period_json(p: Period) -> Value {
    json!({"from": p.from.format("%Y-%m-%d").to_string(), "to": p.to.format("%Y-%m-%d").to_string()})
}

fn last_inside(world: &World) -> (u64, Hash) {
    match world.event_ref(world.last_seq) {
        Some((_, hash)) if world.last_seq > 0 => (world.last_seq, hash),
        _ => (0, ZERO_HASH),
    }
}

/// Figures of `defs` for a period, as known inside a cut.
pub fn compute(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition]) -> Result<Computed> {
    let started = std::time::Instant::now();
    let world = World::load(ledger, cut)?;
    let loaded = started.elapsed();
    let computed = compute_in(&world, period, cut, defs);
    tracing::debug!(
        events = world.events.len(),
        load_ms = loaded.as_millis() as u64,
        rows_and_figures_ms = (started.elapsed() - loaded).as_millis() as u64,
        "figures computed"
    );
    // Freeing millions of small allocations takes a noticeable fraction of a second;
    // the answer need not wait for it (a process that exits first just skips it).
    std::thread::spawn(move || drop(world));
    Ok(computed)
}

/// As [`compute`], over an already loaded world.
pub fn compute_in(world: &World, period: Period, cut: Cut, defs: &[Definition]) -> Computed {
    let rows = Rows::build(world, period, false);
    let (seq, head) = last_inside(world);
    Computed { period, known_at: cut.known_at, seq, head, figures: evaluate(defs, &rows) }
}

/// The lineage of one indicator (SPEC §9 `explain --json`).
pub fn lineage(ledger: &Ledger, period: Period, cut: Cut, def: &Definition, excluded: bool) -> Result<Value> {
    let world = World::load(ledger, cut)?;
    let rows = Rows::build(&world, period, true);
    Ok(explain(def, &rows, &world, excluded))
}
