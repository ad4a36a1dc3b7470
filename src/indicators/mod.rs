//! Indicators: the fact rows of SPEC §6, the definition language of §7, evaluation
//! and lineage (§9). Pure over a [`crate::project::World`]: the command line,
//! reports and the HTTP service call the same functions.

pub mod because;
pub mod def;
pub mod eval;
pub mod facts;
pub mod memo;

use crate::error::{Error, Refusal, Result};
pub use def::{parse_file, Definition};
pub use eval::{evaluate, explain, EventRef, EventRefs, Excluded, Figure, Lineage, LineageRow, Number, Part, Subject};
pub use facts::{Period, RowSet, Rows};

/// The default set for «Мама рядом» (SPEC §7), built into the binary.
pub const DEFAULT_DEFINITIONS: &str = include_str!("../../indicators/default.json");

/// Parses a definition file; a bad file is refused (exit 1) naming the indicator and
/// the place. Read as every JSON entry point reads (SPEC §13): a UTF-8 byte-order mark
/// is skipped, another encoding is named, a member given twice is refused.
pub fn load_definitions(bytes: &[u8], name: &str) -> Result<Vec<Definition>> {
    let v = crate::ledger::json::read_file(bytes)
        .map_err(|e| Error::refused(Refusal::new(None, format!("{name}: {e}"))))?;
    parse_file(&v).map_err(|e| Error::refused(Refusal::new(None, format!("{name}: {e}"))))
}

pub fn default_definitions() -> Vec<Definition> {
    load_definitions(DEFAULT_DEFINITIONS.as_bytes(), "indicators/default.json")
        .expect("the built-in definitions parse (tested)")
}

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::codec::{format_date, format_stamp, hex, parse_date, parse_hex, parse_stamp, Hash, ZERO_HASH};
use crate::ledger::Ledger;
use crate::project::digest::Digests;
use crate::project::{summary, Cut, World};

/// Figures for a period and a cut, with what they were computed from; written as
/// `indicators --json` writes them (SPEC §9).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "ComputedJson", try_from = "ComputedJson")]
pub struct Computed {
    pub period: Period,
    pub known_at: Option<DateTime<Utc>>,
    /// The last event inside the cut (0 and 64 zeros when the cut is empty).
    pub seq: u64,
    pub head: Hash,
    pub figures: Vec<Figure>,
}

/// [`Computed`] as §9 writes it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ComputedJson {
    period: PeriodJson,
    known_at: Option<String>,
    ledger: LedgerJson,
    indicators: Vec<Figure>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PeriodJson {
    from: String,
    to: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LedgerJson {
    seq: u64,
    head: String,
}

impl From<Computed> for ComputedJson {
    fn from(c: Computed) -> Self {
        ComputedJson {
            period: PeriodJson { from: format_date(c.period.from), to: format_date(c.period.to) },
            known_at: c.known_at.map(|t| format_stamp(&t)),
            ledger: LedgerJson { seq: c.seq, head: hex(&c.head) },
            indicators: c.figures,
        }
    }
}

impl TryFrom<ComputedJson> for Computed {
    type Error = String;
    fn try_from(c: ComputedJson) -> std::result::Result<Self, String> {
        let day = |s: &str| parse_date(s).ok_or_else(|| format!("«{s}» is not a day"));
        Ok(Computed {
            period: Period { from: day(&c.period.from)?, to: day(&c.period.to)? },
            known_at: c
                .known_at
                .map(|s| parse_stamp(&s).ok_or_else(|| format!("«{s}» is not a moment")))
                .transpose()?,
            seq: c.ledger.seq,
            head: parse_hex(&c.ledger.head).ok_or("ledger.head is not a hash")?,
            figures: c.indicators,
        })
    }
}

impl Computed {
    /// `indicators --json` (SPEC §9).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("figures serialise")
    }

    /// The figure of a definition.
    pub fn figure(&self, id: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.id == id)
    }
}

pub fn period_json(p: Period) -> Value {
    json!({"from": p.from.format("%Y-%m-%d").to_string(), "to": p.to.format("%Y-%m-%d").to_string()})
}

/// The last event inside a world's cut: its seq and hash ((0, zeros) when none).
pub fn last_inside(world: &World) -> (u64, Hash) {
    match world.event_ref(world.last_seq) {
        Some((_, hash)) if world.last_seq > 0 => (world.last_seq, hash),
        _ => (0, ZERO_HASH),
    }
}

/// The stored digests, when the cut holds the whole ledger as it is now (the question
/// "as known now"); `None` for a historical cut, which needs the events.
fn stored_digests(ledger: &Ledger, cut: Cut) -> Result<Option<(Digests, u64, Hash)>> {
    let inside = |seq: u64| -> Result<bool> {
        match ledger.record(seq)? {
            Some(rec) => cut.admits(seq, &rec.canonical),
            None => Ok(false),
        }
    };
    let head = ledger.head();
    if head.seq == 0 || !inside(head.seq)? {
        return Ok(None);
    }
    let (digests, seq, hash) = summary::current(ledger)?;
    // An append may have come in between: its events must be inside the cut too.
    if seq != head.seq && !inside(seq)? {
        return Ok(None);
    }
    Ok(Some((digests, seq, hash)))
}

/// Figures of `defs` for a period, as known inside a cut: from the stored digests
/// when the cut is the ledger as it is now, else from the events.
pub fn compute(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition]) -> Result<Computed> {
    let started = std::time::Instant::now();
    let Some((digests, seq, head)) = stored_digests(ledger, cut)? else {
        return compute_from_events(ledger, period, cut, defs);
    };
    let loaded = started.elapsed();
    let computed = computed_from(&digests, period, cut, (seq, head), defs);
    tracing::debug!(
        items = digests.items(),
        digests_ms = loaded.as_millis() as u64,
        rows_and_figures_ms = (started.elapsed() - loaded).as_millis() as u64,
        "figures computed from the stored digests"
    );
    std::thread::spawn(move || drop(digests));
    Ok(computed)
}

/// The figures of `defs` over digests of the events up to `last` (seq, hash).
fn computed_from(digests: &Digests, period: Period, cut: Cut, last: (u64, Hash), defs: &[Definition]) -> Computed {
    let rows = Rows::of_digests(digests, period, false);
    let (seq, head) = last;
    Computed { period, known_at: cut.known_at, seq, head, figures: evaluate(defs, &rows) }
}

/// Figures of `defs` for a period, as known inside a cut, from the events alone
/// (reports and `verify --projections` use this: no derived data is trusted).
pub fn compute_from_events(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition]) -> Result<Computed> {
    let started = std::time::Instant::now();
    let world = World::load(ledger, cut)?;
    let loaded = started.elapsed();
    let last = last_inside(&world);
    let events = world.events.len();
    let digests = Digests::of_world(&world);
    // The World (every event) is freed before the rows are built, and at once: a
    // caller that asks again (`verify --projections`, `report verify`) must not hold
    // two of them.
    drop(world);
    crate::ledger::release_free_memory();
    let computed = computed_from(&digests, period, cut, last, defs);
    tracing::debug!(
        events,
        load_ms = loaded.as_millis() as u64,
        rows_and_figures_ms = (started.elapsed() - loaded).as_millis() as u64,
        "figures computed from the events"
    );
    Ok(computed)
}

/// What the charts of a period show (the HTML report and `/indicators`): the ratios
/// of `defs` for each of `parts` (the period's quarters), and the ЕФО of the cases
/// closed in `period` that have one at entry and at exit, as a histogram.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Charted {
    /// Per part, each definition's ratio (`None`: it has none there).
    pub ratios: Vec<Vec<Option<String>>>,
    /// (weak sides, cases with that many at entry, cases with that many at exit),
    /// ascending.
    pub efo: Vec<(i64, u64, u64)>,
}

/// The ЕФО histogram of (weak sides at entry, at exit) pairs, one per case.
pub fn efo_histogram(pairs: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, u64, u64)> {
    let mut h = std::collections::BTreeMap::<i64, (u64, u64)>::new();
    for (a, b) in pairs {
        h.entry(a).or_default().0 += 1;
        h.entry(b).or_default().1 += 1;
    }
    h.into_iter().map(|(k, (a, b))| (k, a, b)).collect()
}

fn charted_from(
    digests: &Digests,
    period: Period,
    parts: &[Period],
    cut: Cut,
    last: (u64, Hash),
    defs: &[Definition],
) -> Charted {
    let ratios = parts
        .iter()
        .map(|p| computed_from(digests, *p, cut, last, defs).figures.into_iter().map(|f| f.ratio).collect())
        .collect();
    let rows = Rows::of_sets(digests, period, false, &[RowSet::Cases]);
    let efo = efo_histogram(
        rows.cases.iter().filter(|r| r.get(facts::Fact::ClosedInPeriod) == &facts::Val::Bool(true)).filter_map(|r| {
            match (r.get(facts::Fact::EfoEntry), r.get(facts::Fact::EfoExit)) {
                (facts::Val::Int(a), facts::Val::Int(b)) => Some((*a, *b)),
                _ => None,
            }
        }),
    );
    Charted { ratios, efo }
}

/// [`Charted`] as known inside a cut: from the stored digests when the cut is the
/// ledger as it is now, else from the events.
pub fn charted(ledger: &Ledger, period: Period, parts: &[Period], cut: Cut, defs: &[Definition]) -> Result<Charted> {
    if let Some((digests, seq, head)) = stored_digests(ledger, cut)? {
        return Ok(charted_from(&digests, period, parts, cut, (seq, head), defs));
    }
    let world = World::load(ledger, cut)?;
    Ok(charted_in(&world, period, parts, cut, defs))
}

/// [`Charted`] over an already loaded world (a report trusts no derived data).
pub fn charted_in(world: &World, period: Period, parts: &[Period], cut: Cut, defs: &[Definition]) -> Charted {
    charted_from(&Digests::of_world(world), period, parts, cut, last_inside(world), defs)
}

/// As [`compute`], over an already loaded world.
pub fn compute_in(world: &World, period: Period, cut: Cut, defs: &[Definition]) -> Computed {
    computed_from(&Digests::of_world(world), period, cut, last_inside(world), defs)
}

/// The lineage of one indicator (SPEC §9 `explain --json`).
pub fn lineage(ledger: &Ledger, period: Period, cut: Cut, def: &Definition, excluded: bool) -> Result<Lineage> {
    if let Some((digests, seq, _)) = stored_digests(ledger, cut)? {
        let sets: Vec<RowSet> =
            def.numerator.from.iter().chain(def.denominator.iter().flat_map(|d| &d.from)).map(|s| s.rows).collect();
        let rows = Rows::of_sets(&digests, period, true, &sets);
        // Freed beside the rest (a million events' digests take a tenth of a second).
        std::thread::spawn(move || drop(digests));
        let refs = event_refs(ledger, &rows, seq)?;
        return Ok(explain(def, &rows, &refs, excluded));
    }
    let world = World::load(ledger, cut)?;
    let rows = Rows::build(&world, period, true);
    Ok(explain(def, &rows, &world, excluded))
}

/// The lineage of every definition at one cut (a bundle's `lineage.json`): the events
/// are loaded and the rows built once for all of them.
pub fn lineages(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition]) -> Result<Vec<Lineage>> {
    let world = World::load(ledger, cut)?;
    let rows = Rows::build(&world, period, true);
    Ok(defs.iter().map(|def| explain(def, &rows, &world, false)).collect())
}

/// The ids and hashes of every event the rows came from (up to `last`), read from
/// only the blocks that hold them.
fn event_refs(ledger: &Ledger, rows: &Rows, last: u64) -> Result<rustc_hash::FxHashMap<u64, (uuid::Uuid, Hash)>> {
    let sets = [RowSet::Cases, RowSet::Children, RowSet::Signals, RowSet::Expenses];
    let mut wanted: Vec<u64> =
        sets.iter().flat_map(|s| rows.of(*s)).flat_map(|r| r.all_sources()).filter(|s| *s <= last).collect();
    wanted.sort_unstable();
    wanted.dedup();
    ledger.refs(&wanted)
}
