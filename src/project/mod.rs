//! Projections: pure folds from stored events to what they mean, for a cut in
//! transaction time (SPEC §5: `--known-at`, `--at-seq`) and a day in valid time.
//!
//! [`World`] is the ledger as known inside a cut, corrections applied: every
//! non-correction event with its effective `occurred_on` and payload (the latest
//! amendment by seq), voided events flagged. Folds ([`case`]) read only a `World`, so
//! they can be tested from a list of events without storage.

pub mod card;
pub mod case;
pub mod digest;
pub mod due;
pub mod lists;
pub mod summary;
pub mod trail;

use rustc_hash::{FxHashMap as HashMap, FxHashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::codec::{parse_date, parse_stamp, Hash, ZERO_HASH};
use crate::domain::payload::Code;
use crate::domain::Payload;
use crate::error::{Error, Result};
use crate::ledger::event::Record;
use crate::ledger::Ledger;

/// A cut in transaction time: which events exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cut {
    /// Only events recorded at or before this instant.
    pub known_at: Option<DateTime<Utc>>,
    /// Only events with seq at or below this.
    pub at_seq: Option<u64>,
}

impl Cut {
    pub fn everything() -> Cut {
        Cut::default()
    }
    /// Whether the stored event at `seq` is inside the cut (its `recorded_at` is read
    /// only when the cut has a time). `recorded_at` never decreases along seq, so the
    /// first event outside ends a scan in seq order.
    pub fn admits(&self, seq: u64, canonical: &[u8]) -> Result<bool> {
        if self.at_seq.is_some_and(|n| seq > n) {
            return Ok(false);
        }
        let Some(t) = self.known_at else { return Ok(true) };
        let stamp = crate::ledger::event::recorded_at_of(canonical)
            .ok_or_else(|| Error::Integrity { seq, reason: "bad recorded_at".into() })?;
        Ok(stamp <= t)
    }
}

/// Parses `--known-at`: RFC 3339 (any offset, converted to UTC) or a date meaning
/// its end, 23:59:59Z.
pub fn parse_known_at(s: &str) -> Option<DateTime<Utc>> {
    if let Some(d) = parse_date(s) {
        return Some(d.and_hms_opt(23, 59, 59)?.and_utc());
    }
    parse_stamp(s).or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)))
}

/// One stored event as it stands after the corrections inside the cut.
#[derive(Debug, Clone)]
pub struct Effective {
    pub seq: u64,
    pub id: Uuid,
    pub hash: Hash,
    pub recorded_at: DateTime<Utc>,
    /// The latest amendment's `occurred_on`, else the event's own.
    pub occurred_on: NaiveDate,
    pub payload: Payload,
    /// Seqs of the amendments applied, in order (the last one gave the payload).
    pub amended_by: Vec<u64>,
    /// Seq of the void that cancelled this event.
    pub voided_by: Option<u64>,
}

impl Effective {
    pub fn is_live(&self) -> bool {
        self.voided_by.is_none()
    }
}

/// A stored event parsed into what a [`World`] holds.
pub struct ParsedRecord {
    pub seq: u64,
    pub id: Uuid,
    pub hash: Hash,
    pub recorded: DateTime<Utc>,
    pub occurred: NaiveDate,
    pub payload: Payload,
}

/// Parses a stored event straight from its canonical bytes (no intermediate `Value`).
pub fn parse_record(seq: u64, rec: &Record) -> Result<ParsedRecord> {
    #[derive(serde::Deserialize)]
    struct Stored<'a> {
        id: Uuid,
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        occurred_on: &'a str,
        #[serde(borrow)]
        recorded_at: &'a str,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let bad = |reason: String| Error::Integrity { seq, reason };
    let ev: Stored<'_> =
        serde_json::from_slice(&rec.canonical).map_err(|e| bad(format!("stored event is not readable: {e}")))?;
    let payload =
        Payload::from_json(&ev.kind, ev.data.get()).map_err(|r| bad(format!("stored event does not parse: {r}")))?;
    let occurred = parse_date(ev.occurred_on).ok_or_else(|| bad("bad occurred_on".into()))?;
    let recorded = parse_stamp(ev.recorded_at).ok_or_else(|| bad("bad recorded_at".into()))?;
    Ok(ParsedRecord { seq, id: ev.id, hash: rec.hash, recorded, occurred, payload })
}

/// A correction event inside the cut.
#[derive(Debug, Clone)]
pub struct Correction {
    pub seq: u64,
    pub id: Uuid,
    pub hash: Hash,
    pub target: Uuid,
    pub voids: bool,
}

/// Events kept in chunks of a fixed size: adding one never moves the others. (A bulk
/// append adds hundreds of thousands to its rules' world; a doubling `Vec` copied
/// them again and again, a tenth of the appending thread's time.)
#[derive(Debug, Default, Clone)]
pub struct Events {
    chunks: Vec<Vec<Effective>>,
    len: usize,
}

const EVENTS_CHUNK: usize = 4096;

impl Events {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn push(&mut self, e: Effective) {
        match self.chunks.last_mut().filter(|c| c.len() < EVENTS_CHUNK) {
            Some(chunk) => chunk.push(e),
            None => {
                let mut chunk = Vec::with_capacity(EVENTS_CHUNK);
                chunk.push(e);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }
    pub fn last(&self) -> Option<&Effective> {
        self.chunks.last().and_then(|c| c.last())
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Effective> + Clone + '_ {
        self.chunks.iter().flatten()
    }
}

impl std::ops::Index<usize> for Events {
    type Output = Effective;
    fn index(&self, i: usize) -> &Effective {
        &self.chunks[i / EVENTS_CHUNK][i % EVENTS_CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Events {
    fn index_mut(&mut self, i: usize) -> &mut Effective {
        &mut self.chunks[i / EVENTS_CHUNK][i % EVENTS_CHUNK]
    }
}

/// The ledger inside a cut, corrections applied.
#[derive(Debug, Default, Clone)]
pub struct World {
    /// Every non-correction event, in seq order.
    pub events: Events,
    pub corrections: Vec<Correction>,
    by_id: HashMap<Uuid, usize>,
    by_case: HashMap<Code, Vec<usize>>,
    by_signal: HashMap<Code, Vec<usize>>,
    /// Events that refer to a case or signal without being about it.
    case_refs: HashMap<Code, Vec<usize>>,
    signal_refs: HashMap<Code, Vec<usize>>,
    correction_ids: FxHashSet<Uuid>,
    /// seq → (is a correction, index into `events` or `corrections`): built on the
    /// first lookup (only `explain` needs it; a million-event append or load would
    /// spend ~50 MB on it), dropped by every `add`.
    by_seq: std::sync::OnceLock<HashMap<u64, (bool, usize)>>,
    pub last_seq: u64,
}

/// What adding an event to a [`World`] can fail on (only for corrupt stored data;
/// appends are checked by the rules first).
#[derive(Debug)]
pub struct BadCorrection(pub String);

impl World {
    /// Makes room for about `events` more events in the id index.
    pub fn reserve(&mut self, events: usize) {
        self.by_id.reserve(events);
    }

    /// Adds an event. A correction is applied to its target, which must be in the
    /// world. Events of one subject must come in seq order (a full load adds all in
    /// seq order; the rules load one subject at a time).
    pub fn add(
        &mut self,
        seq: u64,
        id: Uuid,
        hash: Hash,
        recorded_at: DateTime<Utc>,
        occurred_on: NaiveDate,
        payload: Payload,
    ) -> std::result::Result<(), BadCorrection> {
        self.last_seq = self.last_seq.max(seq);
        self.by_seq.take();
        match payload {
            Payload::EventVoided(v) => {
                let at = *self
                    .by_id
                    .get(&v.target)
                    .ok_or_else(|| BadCorrection(format!("voids unknown event {}", v.target)))?;
                let target = &mut self.events[at];
                target.voided_by.get_or_insert(seq);
                self.correction_ids.insert(id);
                self.corrections.push(Correction { seq, id, hash, target: v.target, voids: true });
            }
            Payload::EventAmended(a) => {
                let at = *self
                    .by_id
                    .get(&a.target)
                    .ok_or_else(|| BadCorrection(format!("amends unknown event {}", a.target)))?;
                let kind = self.events[at].payload.kind();
                let replacement = Payload::parse(kind, &a.data)
                    .map_err(|r| BadCorrection(format!("amendment of {}: {r}", a.target)))?;
                let target = &mut self.events[at];
                target.payload = replacement;
                if let Some(day) = a.occurred_on {
                    target.occurred_on = day.0;
                }
                target.amended_by.push(seq);
                self.correction_ids.insert(id);
                self.corrections.push(Correction { seq, id, hash, target: a.target, voids: false });
            }
            payload => {
                let at = self.events.len();
                // Most events are about a subject already seen: look it up before
                // paying for a copy of its code.
                fn index(map: &mut HashMap<Code, Vec<usize>>, code: Option<&Code>, at: usize) {
                    let Some(code) = code else { return };
                    match map.get_mut(code) {
                        Some(list) => list.push(at),
                        None => {
                            map.insert(code.clone(), vec![at]);
                        }
                    }
                }
                index(&mut self.by_case, payload.case(), at);
                index(&mut self.by_signal, payload.signal(), at);
                index(&mut self.case_refs, payload.case_reference(), at);
                index(&mut self.signal_refs, payload.signal_reference(), at);
                self.by_id.insert(id, at);
                self.events.push(Effective {
                    seq,
                    id,
                    hash,
                    recorded_at,
                    occurred_on,
                    payload,
                    amended_by: Vec::new(),
                    voided_by: None,
                });
            }
        }
        Ok(())
    }

    /// Adds a stored event, parsed straight from its canonical bytes.
    pub fn add_record(&mut self, seq: u64, rec: &Record) -> Result<()> {
        let p = parse_record(seq, rec)?;
        self.add_parsed(p)
    }

    fn add_parsed(&mut self, p: ParsedRecord) -> Result<()> {
        let seq = p.seq;
        self.add(p.seq, p.id, p.hash, p.recorded, p.occurred, p.payload)
            .map_err(|e| Error::Integrity { seq, reason: e.0 })
    }

    /// Builds the world of a ledger inside a cut: a full scan in seq order. Two
    /// stages overlap: this thread reads chunks of events and parses each on every
    /// core; a second thread adds the parsed chunks to the world in seq order.
    pub fn load(ledger: &Ledger, cut: Cut) -> Result<World> {
        const CHUNK: usize = 16_384;
        let mut world = World::default();
        // Whole-ledger loads hold every event: size the tables once.
        let expected = cut.at_seq.map_or(ledger.head().seq, |n| n.min(ledger.head().seq)) as usize;
        world.by_id.reserve(expected);
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<ParsedRecord>>>(2);
            let adder = s.spawn(move || -> Result<World> {
                for chunk in rx {
                    for parsed in chunk {
                        world.add_parsed(parsed?)?;
                    }
                }
                Ok(world)
            });
            let mut pending: Vec<(u64, Record)> = Vec::with_capacity(CHUNK);
            // False when the adder has stopped (it failed; its error is returned below).
            let send = |pending: &mut Vec<(u64, Record)>| -> bool {
                let parsed = crate::parallel::ordered_map(pending, |(seq, r)| parse_record(*seq, r));
                pending.clear();
                tx.send(parsed).is_ok()
            };
            let read = ledger.for_each_while(1, |seq, rec| {
                if !cut.admits(seq, &rec.canonical)? {
                    return Ok(false);
                }
                pending.push((seq, rec));
                Ok(pending.len() < CHUNK || send(&mut pending))
            });
            if read.is_ok() && !pending.is_empty() {
                send(&mut pending);
            }
            drop(tx);
            let world = adder.join().expect("the world's adder thread panicked");
            read?;
            world
        })
    }

    /// Builds the world of the events at `seqs` (ascending) inside a cut: the events
    /// of one case, found through the case index, with the corrections of them.
    pub fn load_seqs(ledger: &Ledger, seqs: &[u64], cut: Cut) -> Result<World> {
        let mut world = World::default();
        for &seq in seqs {
            let rec = ledger
                .record(seq)?
                .ok_or_else(|| Error::Integrity { seq, reason: "indexed event is missing".into() })?;
            if !cut.admits(seq, &rec.canonical)? {
                break;
            }
            world.add_record(seq, &rec)?;
        }
        Ok(world)
    }

    /// The event with this id, if it is a non-correction event in the world.
    pub fn event(&self, id: &Uuid) -> Option<&Effective> {
        self.by_id.get(id).map(|i| &self.events[*i])
    }
    pub fn event_mut(&mut self, id: &Uuid) -> Option<&mut Effective> {
        self.by_id.get(id).map(|i| &mut self.events[*i])
    }
    /// Whether an id names a correction event in the world.
    pub fn is_correction(&self, id: &Uuid) -> bool {
        self.correction_ids.contains(id)
    }

    /// Live events about a case, in seq order.
    pub fn case_events<'a>(&'a self, case: &Code) -> impl Iterator<Item = &'a Effective> + 'a {
        self.live(self.by_case.get(case))
    }
    /// Live events about a signal, in seq order.
    pub fn signal_events<'a>(&'a self, signal: &Code) -> impl Iterator<Item = &'a Effective> + 'a {
        self.live(self.by_signal.get(signal))
    }
    /// Live events that refer to a case without being about it.
    pub fn case_referrers<'a>(&'a self, case: &Code) -> impl Iterator<Item = &'a Effective> + 'a {
        self.live(self.case_refs.get(case))
    }
    /// Live events that refer to a signal without being about it.
    pub fn signal_referrers<'a>(&'a self, signal: &Code) -> impl Iterator<Item = &'a Effective> + 'a {
        self.live(self.signal_refs.get(signal))
    }
    fn live<'a>(&'a self, list: Option<&'a Vec<usize>>) -> impl Iterator<Item = &'a Effective> + 'a {
        list.into_iter().flatten().map(|i| &self.events[*i]).filter(|e| e.is_live())
    }

    /// Every signal code that has an event, sorted.
    pub fn signal_codes(&self) -> Vec<&Code> {
        let mut v: Vec<&Code> = self.by_signal.keys().collect();
        v.sort();
        v
    }

    /// Live events about neither a case nor a signal (expenses, aid or services to a
    /// family alone), in seq order.
    pub fn other_events(&self) -> impl Iterator<Item = &Effective> + '_ {
        self.events.iter().filter(|e| e.is_live() && e.payload.case().is_none() && e.payload.signal().is_none())
    }

    /// The stored event (or correction) at `seq`: its id and hash.
    pub fn event_ref(&self, seq: u64) -> Option<(Uuid, Hash)> {
        // The last event of a load in seq order (the head of a cut) needs no index.
        if let Some(e) = self.events.last().filter(|e| e.seq == seq) {
            return Some((e.id, e.hash));
        }
        if let Some(c) = self.corrections.last().filter(|c| c.seq == seq) {
            return Some((c.id, c.hash));
        }
        let by_seq = self.by_seq.get_or_init(|| {
            let events = self.events.iter().enumerate().map(|(i, e)| (e.seq, (false, i)));
            events.chain(self.corrections.iter().enumerate().map(|(i, c)| (c.seq, (true, i)))).collect()
        });
        match by_seq.get(&seq)? {
            (false, i) => Some((self.events[*i].id, self.events[*i].hash)),
            (true, i) => Some((self.corrections[*i].id, self.corrections[*i].hash)),
        }
    }

    /// Every case code that has an event, sorted.
    pub fn case_codes(&self) -> Vec<&Code> {
        let mut v: Vec<&Code> = self.by_case.keys().collect();
        v.sort();
        v
    }
}

/// The last seq inside a cut and that event's hash: a binary search over the chain,
/// since the events inside any cut are a prefix.
pub fn resolve_cut(ledger: &Ledger, cut: Cut) -> Result<(u64, Hash)> {
    let record = |seq: u64| {
        ledger.record(seq)?.ok_or_else(|| Error::Integrity { seq, reason: "a committed event is missing".into() })
    };
    let head = ledger.head();
    let top = cut.at_seq.map_or(head.seq, |n| n.min(head.seq));
    if cut.known_at.is_none() {
        return Ok(match top {
            0 => (0, ZERO_HASH),
            n => (n, record(n)?.hash),
        });
    }
    // Invariant: `inside` is in the cut (or 0), `outside` is not (or past the top);
    // `hash` is the hash of `inside`.
    let (mut inside, mut outside, mut hash) = (0, top + 1, ZERO_HASH);
    while outside - inside > 1 {
        let mid = inside + (outside - inside) / 2;
        let rec = record(mid)?;
        if cut.admits(mid, &rec.canonical)? {
            (inside, hash) = (mid, rec.hash);
        } else {
            outside = mid;
        }
    }
    Ok((inside, hash))
}
