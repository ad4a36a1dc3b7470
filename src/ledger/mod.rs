//! The ledger: an append-only, hash-chained sequence of events (SPEC §3) over sled.
//!
//! This module owns the stored event, its canonical bytes and hash, the chain, and
//! storage. It knows nothing of what events mean beyond their envelope; the domain's
//! state rules are handed in through [`Rules`].

mod acked;
mod append;
mod areas;
mod batch;
pub(crate) mod block;
mod bulk;
mod expected;
pub use append::{Ack, AppendOptions, EnvelopeOnly, PendingEvent, Rules, Stop, View};
pub use batch::{parse_jsonl_line, Group, InputLine};
pub mod canonical;
pub(crate) mod chain;
pub mod event;
pub(crate) mod format;
pub(crate) mod guard;
pub(crate) mod heal;
mod ids;
pub(crate) mod journal;
pub mod json;
pub(crate) mod keyfile;
pub(crate) mod lines;
pub mod merkle;
mod open;
pub mod recover;
mod segments;
pub(crate) mod store;
mod subjects;
pub(crate) mod tree;
mod verify;
mod writer;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use uuid::Uuid;

use crate::error::{Error, Refusal, Result};
use crate::limits::{MAX_BATCH_EVENTS, MAX_LINE_BYTES};
pub use areas::{SummaryArea, SummaryHeld};
use chain::{examine, ChainChecker};
use event::{Hash, InputEvent, Record, StoredEvent};
use lines::LineReader;
use store::{unpack_block, Head, Store};
pub use writer::{Durable, Writer};

pub use format::STORE_FORMAT;
/// When the store cannot be opened: the chain read (and checked) from the journal alone,
/// and the one message a loss is said in (SPEC §13).
pub use heal::{lost_exactly, read_journal_alone};
/// Gives the allocator's free pages back after a whole-ledger read.
pub use store::release_free_memory;

/// Whether DIR holds a journal (what `verify` and `export` read when the store is
/// damaged).
pub fn journal_exists(dir: &Path) -> bool {
    journal::Journal::exists(dir)
}
/// The stored block (SPEC §13: up to 64 events, LZ4), for tools outside the ledger that
/// read a store's raw blocks or damage them on purpose (tests/tamper.rs).
pub use block::{block_key, decode_block, encode_block};
pub use store::Head as LedgerHead;

/// Summary of a chain that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub seq: u64,
    pub head: Hash,
    /// The Merkle tree's root (SPEC §14; only a ledger's own verify computes it).
    pub root: Option<merkle::Node>,
}

pub struct Ledger {
    store: Store,
}

impl Ledger {
    pub fn init(dir: &Path) -> Result<Ledger> {
        Ok(Ledger { store: Store::create(dir)? })
    }

    pub fn open(dir: &Path) -> Result<Ledger> {
        let store = Store::open(dir)?;
        tree::check_checkpoint(&store)?;
        Ok(Ledger { store })
    }

    /// Ends this process's use of the ledger without the teardown of a drop: waits
    /// for the work left behind (the digests' write) and writes sled's buffers to its
    /// file, then lets the ledger go unfreed (its memory and locks go with the
    /// process, which must end now). What this leaves unsynced is derived data only,
    /// which a crash may lose anyway (every commit is synced): a command that exits
    /// after it saves freeing sled's cache and a last fsync.
    pub fn leave(self: std::sync::Arc<Self>) {
        // (Derived data only: a failure here is the next reader's rebuild, never the
        // command's, whose work is durable already.)
        if let Err(e) = self.store.settle() {
            tracing::warn!("the ledger's derived data was not written out ({e}); it will be rebuilt when next read");
        }
        std::mem::forget(self);
    }

    pub(crate) fn from_store(store: Store) -> Ledger {
        Ledger { store }
    }

    /// A copy of the committed head.
    pub fn head(&self) -> Head {
        self.store.head()
    }

    /// How many events are acknowledged (durable in both copies): the head moves before
    /// the journal's fsync, so what vouches for the ledger — a checkpoint, a backup —
    /// covers only these.
    pub fn acknowledged_seq(&self) -> u64 {
        let head = self.head().seq;
        let acked = self.store.acked().0;
        if acked > 0 && acked < head {
            acked
        } else {
            head
        }
    }

    /// Appends JSONL input, all or nothing (SPEC §8 `append`).
    pub fn append_jsonl<I: BufRead + Send, R: Rules>(
        &self,
        input: I,
        opts: &AppendOptions,
        rules: &mut R,
    ) -> Result<Vec<Ack>> {
        self.run_jsonl(input, None, opts, rules, true)
    }

    /// [`Ledger::append_jsonl`] of an input `bytes` long, when that is known (a file):
    /// once its first lines tell how long a line is, room is made for the events it
    /// holds.
    pub fn append_jsonl_sized<I: BufRead + Send, R: Rules>(
        &self,
        input: I,
        bytes: Option<u64>,
        opts: &AppendOptions,
        rules: &mut R,
    ) -> Result<Vec<Ack>> {
        self.run_jsonl(input, bytes, opts, rules, true)
    }

    /// Checks JSONL input exactly as [`Ledger::append_jsonl`] would, then writes
    /// nothing: the acks are the seqs and hashes the events would get now (a dry run).
    pub fn check_jsonl<I: BufRead + Send, R: Rules>(
        &self,
        input: I,
        opts: &AppendOptions,
        rules: &mut R,
    ) -> Result<Vec<Ack>> {
        self.run_jsonl(input, None, opts, rules, false)
    }

    /// Starts a group commit: several independent appends, each all or nothing,
    /// made durable by one flush (see [`Group`]). Waits for any other writer.
    pub fn group(&self) -> Result<Group<'_>> {
        subjects::catch_up(&self.store)?;
        Ok(Group { writer: self.store.writer()?, seen: HashMap::new() })
    }

    /// Derived data kept beside the chain (the store's `derived_get`); not durable
    /// until the next append's flush or a clean close, and never trusted by `verify`.
    pub fn derived_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.store.derived_get(key)?.map(|v| v.to_vec()))
    }
    pub fn derived_put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.store.derived_put(key, value)
    }
    pub fn derived_entries(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + '_ {
        self.store.derived_entries().map(|r| r.map(|(k, v)| (k, v.to_vec())))
    }
    pub fn derived_count(&self) -> usize {
        self.store.derived_count()
    }

    /// The store, for derived data kept beside the chain by callers above the ledger
    /// (the fact digests of `project::summary`).
    /// The organisation's name (`DIR/organisation`, its first line), if it has one.
    /// `organisation` in `config.toml` wins over the file.
    pub fn organisation(&self) -> Option<String> {
        if let Some(name) = crate::config::Config::load(self.store.dir()).ok().and_then(|c| c.organisation) {
            return check_organisation(&name).ok();
        }
        let text = std::fs::read_to_string(self.store.dir().join("organisation")).ok()?;
        let line = text.lines().next()?.trim();
        check_organisation(line).ok()
    }

    /// Keeps the organisation's name in `DIR/organisation`.
    pub fn set_organisation(&self, name: &str) -> Result<()> {
        let name = check_organisation(name)?;
        crate::files::write_atomically(&self.store.dir().join("organisation"), |w| {
            writeln!(w, "{name}").map_err(|e| Error::storage("writing the organisation's name", e))
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Makes everything written so far durable (every append already is when it
    /// returns; this is for a clean stop).
    pub fn sync(&self) -> Result<()> {
        self.store.sync()
    }

    /// The committed event at `seq`.
    pub fn record(&self, seq: u64) -> Result<Option<Record>> {
        self.store.record(seq)
    }

    /// The committed event with this id.
    pub fn record_by_id(&self, id: &Uuid) -> Result<Option<Record>> {
        self.store.record_by_id(id)
    }

    /// Visits committed events from `from_seq` on, in order.
    pub fn for_each(&self, from_seq: u64, mut f: impl FnMut(u64, Record) -> Result<()>) -> Result<()> {
        self.store.for_each_in(from_seq, |seq, rec| f(seq, rec).map(|()| true))
    }

    /// The id and hash of each event of `seqs` (ascending), read from only the blocks
    /// that hold one of them, on every core, without copying any event (what a
    /// lineage names its events by).
    pub fn refs(&self, seqs: &[u64]) -> Result<rustc_hash::FxHashMap<u64, (uuid::Uuid, Hash)>> {
        let Some(&first) = seqs.first() else { return Ok(Default::default()) };
        // Each block that holds a wanted seq, with those seqs: a block holds the seqs
        // from its key's up to the next block's.
        let mut blocks: Vec<(u64, sled::IVec, std::ops::Range<usize>)> = Vec::new();
        let mut next = 0usize; // the first wanted seq not yet given a block
        let mut held: Option<(u64, sled::IVec)> = None;
        let mut take = |start: u64, end: Option<u64>, bytes: sled::IVec, next: &mut usize| {
            let n = seqs[*next..].iter().take_while(|w| end.is_none_or(|e| **w < e)).count();
            if n > 0 {
                blocks.push((start, bytes, *next..*next + n));
                *next += n;
            }
        };
        for block in self.store.blocks(first) {
            let (start, bytes) = block?;
            if let Some((s, b)) = held.take() {
                take(s, Some(start), b, &mut next);
            }
            if next == seqs.len() {
                break;
            }
            held = Some((start, bytes));
        }
        if let Some((s, b)) = held {
            take(s, None, b, &mut next);
        }
        let found = crate::parallel::ordered_map(&blocks, |(start, bytes, these)| {
            let these = &seqs[these.clone()];
            let damaged = |reason: String| Error::Integrity { seq: *start, reason };
            let raw = unpack_block(bytes).map_err(damaged)?;
            let ranges = store::block_ranges(&raw).map_err(damaged)?;
            these
                .iter()
                .map(|&seq| {
                    let missing = || Error::Integrity { seq, reason: "a committed event is missing".into() };
                    let (hash, range) = ranges
                        .get(seq.checked_sub(*start).and_then(|i| usize::try_from(i).ok()).ok_or_else(missing)?)
                        .ok_or_else(missing)?;
                    let id = chain::event_id(&raw[range.clone()])
                        .ok_or_else(|| Error::Integrity { seq, reason: "stored event has no readable id".into() })?;
                    Ok((seq, (id, *hash)))
                })
                .collect::<Result<Vec<_>>>()
        });
        let mut out = rustc_hash::FxHashMap::default();
        out.reserve(seqs.len());
        for part in found {
            out.extend(part?);
        }
        match seqs.iter().find(|s| !out.contains_key(s)) {
            Some(&seq) => Err(Error::Integrity { seq, reason: "a committed event is missing".into() }),
            None => Ok(out),
        }
    }

    /// Visits committed events from `from_seq` on, in order, while `f` returns true.
    pub fn for_each_while(&self, from_seq: u64, f: impl FnMut(u64, Record) -> Result<bool>) -> Result<()> {
        self.store.for_each_in(from_seq, f)
    }

    /// Writes every stored event as one JSON line (SPEC §3).
    ///
    /// When the store cannot be read part way (sled finds damage it did not see at
    /// open), the rest comes from the journal, each line verified and linked, with a
    /// warning line: the output is still exactly the ledger's events.
    pub fn export(&self, out: &mut dyn Write) -> Result<u64> {
        let head = self.head();
        let mut buf = Vec::with_capacity(1 << 16);
        let mut last = (0u64, event::ZERO_HASH, Vec::new());
        let read = self.for_each(1, |seq, rec| {
            rec.to_json_line(&mut buf);
            if buf.len() >= 1 << 16 {
                out.write_all(&buf)?;
                buf.clear();
            }
            last = (seq, rec.hash, rec.canonical);
            Ok(())
        });
        match read {
            Ok(()) => {}
            Err(e @ (Error::Damaged { .. } | Error::Integrity { .. })) => {
                eprintln!("{e}; the events after seq {} were read from the journal", last.0);
                let recorded = event::recorded_at_of(&last.2).map(|t| event::format_stamp(&t)).unwrap_or_default();
                heal::journal_rest(&self.store, (last.0, last.1, &recorded), head.seq, |rec| {
                    rec.to_json_line(&mut buf);
                    if buf.len() >= 1 << 16 {
                        out.write_all(&buf)?;
                        buf.clear();
                    }
                    Ok(())
                })?;
            }
            Err(e) => return Err(e),
        }
        out.write_all(&buf)?;
        out.flush()?;
        Ok(head.seq)
    }

    /// Loads an export into this ledger, which must be empty. The file is verified as
    /// it is read; anything that does not verify leaves the ledger empty.
    pub fn import<I: BufRead, R: Rules>(&self, input: I, rules: &mut R) -> Result<Verified> {
        if self.head().seq != 0 {
            return Err(Error::refused(Refusal::new(
                None,
                "import needs an empty ledger; this one already holds events",
            )));
        }
        self.import_onto(input, rules)
    }

    /// Loads stored events that continue this ledger's chain (a mirror's pull, SPEC
    /// §13): the first must name this ledger's head as `prev`, each must verify, none
    /// may reuse a stored id; all or nothing.
    pub fn import_onto<I: BufRead, R: Rules>(&self, input: I, rules: &mut R) -> Result<Verified> {
        subjects::catch_up(&self.store)?;
        let head = self.head();
        let mut reader = LineReader::new(input, MAX_LINE_BYTES + 256);
        let mut checker = ChainChecker::continuing(head.seq, head.hash, &head.recorded_at);
        let mut writer = self.store.writer()?;
        let result = (|| -> Result<()> {
            while let Some((number, line)) = reader.next_line()? {
                let seq = checker.len() + 1;
                let at_line = |reason: String| Error::Integrity { seq, reason: format!("line {number}: {reason}") };
                let Some(bytes) = chain::export_line_bytes(line).map_err(at_line)? else { continue };
                if (checker.len() - head.seq) as usize >= MAX_BATCH_EVENTS {
                    return Err(Error::refused(
                        Refusal::new(
                            None,
                            format!(
                                "за один раз загружают не больше {} событий",
                                crate::say::grouped(MAX_BATCH_EVENTS as u64)
                            ),
                        )
                        .at_line(number),
                    ));
                }
                let (canonical, claimed, value) = chain::read_export_line(&bytes).map_err(at_line)?;
                let link = examine(&canonical, claimed);
                checker.push(link)?;
                let stored: StoredEvent = serde_json::from_value(value).map_err(|e| at_line(e.to_string()))?;
                if head.seq > 0 && self.store.record_by_id(&stored.id)?.is_some() {
                    return Err(at_line(format!("its id {} is already stored", stored.id)));
                }
                let input = check_stored_envelope(&stored).map_err(|r| Error::refused(r.at_line(number)))?;
                let recorded_at = input.recorded_at.expect("checked by the chain");
                let pending = PendingEvent {
                    seq,
                    id: stored.id,
                    hash: claimed,
                    kind: input.kind,
                    occurred_on: input.occurred_on,
                    recorded_at,
                };
                match rules.admit(&pending, R::parse(&input), &View { store: writer.store() }) {
                    Ok(()) => {}
                    Err(Stop::Refuse(r)) => return Err(Error::refused(r.at_line(number))),
                    Err(Stop::Fail(e)) => return Err(e),
                }
                let rec = Record { hash: claimed, canonical };
                writer.push(rec, &stored.id, &stored.recorded_at)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                writer.commit()?;
                Ok(Verified { seq: checker.len(), head: checker.head(), root: None })
            }
            Err(e) => {
                writer.abort()?;
                Err(e)
            }
        }
    }

    /// Seqs of the events about `case` (and the corrections of them), ascending.
    pub fn case_events(&self, case: &str) -> Result<Vec<u64>> {
        subjects::catch_up(&self.store)?;
        subjects::lookup(&self.store, subjects::Subject::Case, case)
    }

    /// Every case code the ledger holds (from the case index).
    pub fn case_codes(&self) -> Result<Vec<String>> {
        subjects::catch_up(&self.store)?;
        subjects::codes(&self.store, subjects::Subject::Case)
    }

    /// Seqs of the events about `signal` (and the corrections of them), ascending.
    pub fn signal_events(&self, signal: &str) -> Result<Vec<u64>> {
        subjects::catch_up(&self.store)?;
        subjects::lookup(&self.store, subjects::Subject::Signal, signal)
    }

    /// Rebuilds the case and signal indexes from the events and compares them with
    /// the stored ones (`verify --projections`).
    pub fn verify_subject_indexes(&self) -> Result<subjects::IndexCheck> {
        subjects::verify(&self.store)
    }
}

/// The envelope rules an imported event must meet, like an appended one; returns it
/// as an input event for the state rules.
fn check_stored_envelope(ev: &StoredEvent) -> std::result::Result<InputEvent, Refusal> {
    let kind = event::known_type(&ev.kind).ok_or_else(|| Refusal::field("type", crate::say::unknown_type(&ev.kind)))?;
    event::check_code("actor", &ev.actor)?;
    let data = ev.data.as_object().ok_or_else(|| Refusal::field("data", crate::say::NOT_AN_OBJECT))?.clone();
    let occurred_on =
        event::parse_date(&ev.occurred_on).ok_or_else(|| Refusal::field("occurred_on", crate::say::NOT_AN_ISO_DAY))?;
    let recorded_at =
        event::parse_stamp(&ev.recorded_at).ok_or_else(|| Refusal::field("recorded_at", crate::say::NOT_A_STAMP))?;
    Ok(InputEvent {
        id: Some(ev.id),
        kind,
        occurred_on,
        recorded_at: Some(recorded_at),
        actor: Some(ev.actor.as_str().into()),
        data,
    })
}

/// An organisation's name as kept: one line of at most 200 characters, no control
/// characters, not empty.
pub fn check_organisation(name: &str) -> Result<String> {
    let name = name.trim();
    let bad = |why: &str| Error::Usage(format!("--organisation: {why}"));
    if name.is_empty() {
        return Err(bad("название пустое"));
    }
    if name.chars().count() > 200 {
        return Err(bad("название длиннее 200 символов"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("в названии перевод строки или другой управляющий символ"));
    }
    if let Some(c) = event::invisible_char(name) {
        return Err(bad(&format!(
            "в названии невидимый символ U+{:04X}; наберите его заново без этого символа",
            u32::from(c)
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_line_is_the_serialised_ack_json() {
        for duplicate in [false, true] {
            let ack = Ack { seq: 42, id: Uuid::from_u128(0x0123_4567_89ab_cdef), hash: [0xa5; 32], duplicate };
            let mut line = Vec::new();
            ack.push_json_line(&mut line);
            let expected = format!("{}\n", serde_json::to_string(&ack.to_json()).unwrap());
            assert_eq!(String::from_utf8(line).unwrap(), expected);
        }
    }
}
