//! One append, all or nothing (SPEC §8): input lines parsed and prepared on other
//! cores ahead of the check, each event checked against the ledger's rules and what
//! came before it in the batch (ids, idempotent repeats, transaction time), then
//! written by the one [`Writer`] and committed, or nothing at all; and [`Group`], the
//! group committer's batch of several appends.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::append::{Ack, AppendOptions, PendingEvent, Rules, Stop, View};
use super::block::Packed;
use super::canonical;
use super::event::{self, digest, Hash, InputEvent, Record};
use super::lines::Line;
use super::store::Head;
use super::writer::{Durable, Writer};
use crate::error::{Error, Refusal, Result};
use crate::limits::{MAX_BATCH_EVENTS, MAX_ERRORS_LISTED, MAX_LINE_BYTES};
use std::sync::atomic::{AtomicBool, Ordering};

/// One input line of an append: its 1-based number and the event parsed from it, or
/// why it did not parse.
pub type InputLine = (usize, std::result::Result<InputEvent, Refusal>);

/// Lines a bulk append parses per chunk, ahead of checking.
pub(super) const PARSE_CHUNK_LINES: usize = 2048;

/// A parsed line, prepared (`None`: blank).
pub(super) type PreparedLine<P> = (usize, Option<std::result::Result<Prepared<P>, Refusal>>);

/// An input event with what its check needs that does not depend on the ledger, so
/// it can be computed on another core ahead of the check: its payload parsed, its
/// content digest, its id (a new v7 id when none is given) and its canonical bytes up
/// to `prev`. Its `data` is dropped once canonical and parsed, on the thread that
/// prepares it.
pub(super) struct Prepared<P> {
    pub(super) ev: InputEvent,
    /// Whether the input gave the id.
    given: bool,
    id: Uuid,
    /// [`event::canonical_head`], with room for the tail; the whole canonical bytes
    /// when `ahead` is set.
    pub(super) head: Vec<u8>,
    /// How long the head is.
    head_len: usize,
    content: Hash,
    parsed: P,
    /// The event's place in the chain as the third stage expects it.
    pub(super) ahead: Option<Ahead>,
    /// Blocks the third stage encoded as it expects the writer to close them when
    /// this event is pushed (see [`Packed`]).
    pub(super) packed: Vec<Packed>,
}

/// An event's place in the chain computed ahead, on the third stage, as if every
/// event before it in the append were admitted as it came (see `expected::Expected`): its seq,
/// `prev`, transaction time and hash. The check uses it only when its own seq, `prev`
/// and time are these, so the canonical bytes are the same; otherwise it computes them.
pub(super) struct Ahead {
    pub(super) seq: u64,
    pub(super) prev: Hash,
    pub(super) recorded_at: DateTime<Utc>,
    pub(super) stamp: compact_str::CompactString,
    pub(super) hash: Hash,
}

/// Why an event's transaction time is refused (see [`transaction_time`]).
pub(super) enum TimeFault {
    /// The given time, before the last one recorded.
    Backwards(DateTime<Utc>, DateTime<Utc>),
    /// The given time, after now.
    Future(DateTime<Utc>),
    /// The time it would get, before the day it occurred.
    BeforeOccurred(DateTime<Utc>),
}

/// An event's transaction time, after `last` (the append's or the ledger's latest):
/// the `recorded_at` it gives, which never goes backwards nor into the future, or the
/// later of `last` and `now`; never before the day the event occurred. The check
/// refuses by it, and a bulk append's expectation follows it ahead.
pub(super) fn transaction_time(
    ev: &InputEvent,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, TimeFault> {
    let recorded_at = match ev.recorded_at {
        Some(t) => match last.filter(|last| t < *last) {
            Some(last) => return Err(TimeFault::Backwards(t, last)),
            None if t > now => return Err(TimeFault::Future(t)),
            None => t,
        },
        None => last.map_or(now, |last| last.max(now)),
    };
    match ev.occurred_on > recorded_at.date_naive() {
        true => Err(TimeFault::BeforeOccurred(recorded_at)),
        false => Ok(recorded_at),
    }
}

/// Prepares an event; `actor` is the append's, for an event that names none.
pub(super) fn prepare<R: Rules>(mut ev: InputEvent, actor: &str) -> Prepared<R::Parsed> {
    let data_canonical = ev.data_canonical();
    let parsed = R::parse(&ev);
    ev.data = serde_json::Map::new();
    prepared::<R>(ev, data_canonical, parsed, actor)
}

/// Reads and prepares one line of a bulk append (its bytes, or the length of a line
/// too long; `None`: blank): the quick reading when it takes the line and the rules
/// read their payload from its tree, else the strict one, which gives the same event
/// or names the refusal.
pub(super) fn prepare_line<R: Rules>(
    line: std::result::Result<&[u8], usize>,
    actor: &str,
) -> Option<std::result::Result<Prepared<R::Parsed>, Refusal>> {
    if let Some(text) = line.ok().and_then(|b| std::str::from_utf8(b).ok()) {
        if let Some((ev, data, data_canonical)) = InputEvent::read_quick(text) {
            if let Some(parsed) = R::parse_quick(ev.kind, &data) {
                return Some(Ok(prepared::<R>(ev, data_canonical, parsed, actor)));
            }
        }
    }
    parse_line(line).map(|r| r.map(|ev| prepare::<R>(ev, actor)))
}

/// A prepared event from its envelope (`ev`, without data), its data's canonical bytes
/// and what the rules read from them.
fn prepared<R: Rules>(ev: InputEvent, data_canonical: Vec<u8>, parsed: R::Parsed, actor: &str) -> Prepared<R::Parsed> {
    let occurred = event::format_date(ev.occurred_on);
    let content = content_digest(ev.kind, &occurred, &data_canonical);
    let given = ev.id.is_some();
    let id = ev.id.unwrap_or_else(Uuid::now_v7);
    let actor = ev.actor.as_deref().unwrap_or(actor);
    let mut head = Vec::with_capacity(data_canonical.len() + actor.len() + 100 + event::CANONICAL_TAIL_BYTES);
    event::canonical_head(actor, &data_canonical, &id, &occurred, &mut head);
    let head_len = head.len();
    Prepared { ev, given, id, head, head_len, content, parsed, ahead: None, packed: Vec::new() }
}

/// Reads one line of JSONL input; `None` for a blank line.
pub fn parse_jsonl_line(line: &Line) -> Option<std::result::Result<InputEvent, Refusal>> {
    parse_line(line.bytes())
}

/// [`parse_jsonl_line`] of a line's bytes, or of the length of a line too long.
fn parse_line(line: std::result::Result<&[u8], usize>) -> Option<std::result::Result<InputEvent, Refusal>> {
    match line {
        Err(len) => Some(Err(Refusal::new(
            None,
            format!(
                "строка — {} байт, а событие — не больше {} байт",
                crate::say::grouped(len as u64),
                crate::say::grouped(MAX_LINE_BYTES as u64)
            ),
        ))),
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => None,
        Ok(bytes) => Some(InputEvent::parse(bytes)),
    }
}

pub(super) fn commit_or_abort(writer: Writer<'_>, outcome: Result<Vec<Ack>>) -> Result<Vec<Ack>> {
    match outcome {
        Ok(acks) => {
            writer.commit()?;
            Ok(acks)
        }
        Err(e) => {
            writer.abort()?;
            Err(e)
        }
    }
}

/// A group commit in progress: appends are checked one after another, each against
/// the ledger plus the appends accepted before it in the group, and each is all or
/// nothing on its own. Nothing is durable, or visible to readers, until
/// [`Group::commit`], which makes every accepted append durable with one flush.
///
/// The rules carry the group's accepted appends from one to the next; a refused
/// append's effect on them is undone from a copy taken before it.
pub struct Group<'s> {
    pub(super) writer: Writer<'s>,
    /// Ids accepted earlier in the group: seq, hash, content digest.
    pub(super) seen: HashMap<Uuid, (u64, Hash, Hash)>,
}

impl Group<'_> {
    /// Checks one append. `Ok(Ok(acks))`: accepted, durable once the group commits;
    /// `Ok(Err(e))`: refused, nothing of it kept (`rules` are put back as they were
    /// before it); `Err(e)`: the ledger failed, and the whole group must be dropped.
    pub fn add<R: Rules + Clone>(
        &mut self,
        events: Vec<InputLine>,
        opts: &AppendOptions,
        rules: &mut R,
    ) -> Result<std::result::Result<Vec<Ack>, Error>> {
        let before = rules.clone();
        let mut batch = Batch::<R>::new(&mut self.writer, Some(&self.seen), opts, rules, false);
        for (line, ev) in events {
            batch.add(line, Some(ev))?;
        }
        let fresh: Vec<(Uuid, (u64, Hash, Hash))> = batch
            .seen
            .iter()
            .filter_map(|(id, v)| batch.acks.get(v.ack as usize).map(|a| (*id, (a.seq, a.hash, v.content))))
            .collect();
        match batch.finish() {
            Ok(acks) => {
                self.seen.extend(fresh);
                Ok(Ok(acks))
            }
            Err(e @ (Error::Refused(..) | Error::Usage(_))) => {
                *rules = before;
                Ok(Err(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Events accepted so far.
    pub fn events(&self) -> u64 {
        self.writer.pushed()
    }

    /// Makes every accepted append durable (one flush) and visible.
    pub fn commit(self) -> Result<Head> {
        self.writer.commit()
    }

    /// Commits to the store, leaving the journal's fsync and the acknowledged head to
    /// [`Durable::complete`] on another thread (see [`Writer::commit_then_sync`]).
    pub fn commit_then_sync(self) -> Result<(Head, Durable)> {
        self.writer.commit_then_sync()
    }
}

/// One append in progress: validates each event as it comes, and holds the events
/// while the append is clean. A direct append hands them to the writer as it goes; a
/// group member hands them over only once the whole append passed.
pub(super) struct Batch<'a, 's, R: Rules> {
    writer: &'a mut Writer<'s>,
    /// Ids accepted earlier in the same group.
    earlier: Option<&'a HashMap<Uuid, (u64, Hash, Hash)>>,
    direct: bool,
    opts: &'a AppendOptions,
    rules: &'a mut R,
    refusals: Vec<Refusal>,
    refused: usize,
    events: usize,
    last_recorded: Option<DateTime<Utc>>,
    /// Ids seen in this batch (56 bytes an entry: a bulk append of a million events
    /// holds a million).
    seen: rustc_hash::FxHashMap<Uuid, Seen>,
    acks: Vec<Ack>,
    /// Checked events not yet handed to the writer: record, id, recorded_at.
    held: Vec<(Record, Uuid, compact_str::CompactString, Vec<Packed>)>,
    /// Set once the chain is not as a bulk append's parsing thread expects it.
    diverged: Option<&'a AtomicBool>,
}

/// An id seen earlier in a batch.
#[derive(Clone, Copy)]
pub(super) struct Seen {
    line: u32,
    /// Index of its ack (its seq and hash), or `NO_ACK` once the batch is refused.
    ack: u32,
    content: Hash,
}

pub(super) const NO_ACK: u32 = u32::MAX;

/// Events a direct append holds before handing them to the writer.
pub(super) const HELD_EVENTS: usize = 1024;

pub(super) fn content_digest(kind: &str, occurred_on: &str, data_canonical: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(kind.as_bytes());
    h.update(&[0]);
    h.update(occurred_on.as_bytes());
    h.update(&[0]);
    h.update(data_canonical);
    *h.finalize().as_bytes()
}

impl<'a, 's, R: Rules> Batch<'a, 's, R> {
    pub(super) fn new(
        writer: &'a mut Writer<'s>,
        earlier: Option<&'a HashMap<Uuid, (u64, Hash, Hash)>>,
        opts: &'a AppendOptions,
        rules: &'a mut R,
        direct: bool,
    ) -> Self {
        let last_recorded = event::parse_stamp(writer.recorded_at());
        Batch {
            writer,
            earlier,
            direct,
            opts,
            rules,
            refusals: Vec::new(),
            refused: 0,
            events: 0,
            last_recorded,
            seen: rustc_hash::FxHashMap::default(),
            acks: Vec::new(),
            held: Vec::new(),
            diverged: None,
        }
    }

    /// Makes room for about `events` more events (an estimate): the tables of a bulk
    /// append then grow once, not by doubling.
    pub(super) fn reserve(&mut self, events: usize) {
        self.seen.reserve(events);
        self.acks.reserve(events);
        self.rules.reserve(events);
    }

    /// A batch that tells the bulk append's parsing thread when its expectation ends.
    pub(super) fn telling(mut self, diverged: &'a AtomicBool) -> Self {
        self.diverged = Some(diverged);
        self
    }

    fn next_seq(&self) -> u64 {
        self.writer.next_seq() + self.held.len() as u64
    }

    fn prev(&self) -> Hash {
        self.held.last().map_or(*self.writer.prev(), |(r, _, _, _)| r.hash)
    }

    fn hand_over(&mut self) -> Result<()> {
        for (record, id, stamp, packed) in self.held.drain(..) {
            self.writer.push_packed(record, &id, &stamp, packed)?;
        }
        Ok(())
    }

    /// Records an id whose ack is pushed next.
    fn remember(&mut self, id: Uuid, line: usize, content: Hash) {
        let ack = u32::try_from(self.acks.len()).expect("a batch holds fewer than 2^32 events");
        self.seen.insert(id, Seen { line: line as u32, ack, content });
    }

    fn refuse(&mut self, r: Refusal) {
        self.refused += 1;
        if self.refusals.len() < MAX_ERRORS_LISTED {
            self.refusals.push(r);
        }
    }

    /// Checks the event of input line `line` (`None`: a blank line).
    fn add(&mut self, line: usize, parsed: Option<std::result::Result<InputEvent, Refusal>>) -> Result<()> {
        let actor = &self.opts.actor;
        self.add_prepared(line, parsed.map(|r| r.map(|ev| prepare::<R>(ev, actor))))
    }

    pub(super) fn add_prepared(
        &mut self,
        line: usize,
        parsed: Option<std::result::Result<Prepared<R::Parsed>, Refusal>>,
    ) -> Result<()> {
        let Some(parsed) = parsed else { return Ok(()) };
        self.events += 1;
        if self.events == MAX_BATCH_EVENTS + 1 {
            self.refuse(
                Refusal::new(
                    None,
                    format!(
                        "за один раз добавляют не больше {} событий: разделите файл",
                        crate::say::grouped(MAX_BATCH_EVENTS as u64)
                    ),
                )
                .at_line(line),
            );
        }
        let outcome = match parsed {
            Ok(ev) => self.check(line, ev),
            Err(r) => Err(Stop::Refuse(r)),
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Stop::Refuse(r)) => {
                self.refuse(r.at_line(line));
                Ok(())
            }
            Err(Stop::Fail(e)) => Err(e),
        }
    }

    fn check(&mut self, line: usize, prepared: Prepared<R::Parsed>) -> std::result::Result<(), Stop> {
        let Prepared { ev, given, id, head: mut canonical, head_len, content, parsed, ahead, packed } = prepared;
        if ahead.as_ref().is_some_and(|a| a.seq != self.next_seq()) {
            // An earlier event was not admitted as expected: nothing expected holds now.
            if let Some(diverged) = self.diverged {
                diverged.store(true, Ordering::Relaxed);
            }
        }
        // (A fresh v7 id cannot be stored already: only a given id is looked up.)

        // Idempotency: the same id with the same content is a no-op.
        if let Some(&Seen { line: first_line, ack, content: seen_content }) = self.seen.get(&id) {
            if seen_content != content {
                return Err(Refusal::field(
                    "id",
                    format!("`{id}` уже назван в строке {first_line} для другого события"),
                )
                .into());
            }
            let (seq, hash) = self.acks.get(ack as usize).map_or((0, [0; 32]), |a| (a.seq, a.hash));
            self.acks.push(Ack { seq, id, hash, duplicate: true });
            return Ok(());
        }
        if let Some(&(seq, hash, seen_content)) = self.earlier.and_then(|e| e.get(&id)) {
            if seen_content != content {
                return Err(
                    Refusal::field("id", format!("`{id}` уже хранится (событие № {seq}) для другого события")).into()
                );
            }
            self.remember(id, line, content);
            self.acks.push(Ack { seq, id, hash, duplicate: true });
            return Ok(());
        }
        // (An empty ledger stores no id: a first bulk load or import skips the lookups.)
        let stored = given && self.writer.store().head_seq() > 0;
        if let Some(seq) = if stored { self.writer.store().lookup_id(&id)? } else { None } {
            let rec = self.writer.store().record(seq)?;
            if let Some(stored) = rec.as_ref().and_then(|r| r.parse().ok()).filter(|s| s.id == id) {
                let stored_data = canonical::to_vec(&stored.data).map_err(|e| Error::Integrity {
                    seq,
                    reason: format!("stored data has no canonical form: {}", e.reason),
                })?;
                if content_digest(&stored.kind, &stored.occurred_on, &stored_data) != content {
                    return Err(Refusal::field(
                        "id",
                        format!("`{id}` уже хранится (событие № {seq}) для другого события"),
                    )
                    .into());
                }
                let hash = rec.expect("record was read").hash;
                self.remember(id, line, content);
                self.acks.push(Ack { seq, id, hash, duplicate: true });
                return Ok(());
            }
        }

        let now = self.opts.now;
        let recorded_at = transaction_time(&ev, self.last_recorded, now).map_err(|fault| match fault {
            TimeFault::Backwards(t, last) => Refusal::field(
                "recorded_at",
                format!(
                    "{} — раньше времени записи предыдущего события ({}): время записи в реестре \
                     не идёт назад. Прошлые годы загружают до текущих записей — в пустой реестр \
                     (`caseledger append` событий с прошлым `recorded_at`), а в реестр, где уже ведут \
                     записи, — таблицами (`caseledger import-table`), без `recorded_at`",
                    crate::say::moment(&t),
                    crate::say::moment(&last)
                ),
            ),
            TimeFault::Future(t) => Refusal::field(
                "recorded_at",
                format!(
                    "{} — в будущем (сейчас {}): время записи ставит реестр",
                    crate::say::moment(&t),
                    crate::say::moment(&now)
                ),
            ),
            TimeFault::BeforeOccurred(t) => {
                Refusal::field("occurred_on", crate::say::after_recording(ev.occurred_on, t.date_naive()))
            }
        })?;
        let seq = self.next_seq();
        let prev = self.prev();
        let (stamp, hash) = match ahead.filter(|a| a.seq == seq && a.prev == prev && a.recorded_at == recorded_at) {
            // The same members as below: the same canonical bytes, computed ahead.
            Some(a) => (a.stamp, a.hash),
            None => {
                canonical.truncate(head_len);
                let stamp = crate::codec::format_stamp_inline(&recorded_at);
                event::canonical_tail(&prev, &stamp, seq, ev.kind, &mut canonical);
                let hash = digest(&canonical);
                (stamp, hash)
            }
        };
        let pending = PendingEvent { seq, id, hash, kind: ev.kind, occurred_on: ev.occurred_on, recorded_at };
        self.rules.admit(&pending, parsed, &View { store: self.writer.store() })?;
        self.last_recorded = Some(recorded_at);
        if self.refused > 0 {
            // Keep checking the rest so every error is listed, but write nothing more.
            self.seen.insert(id, Seen { line: line as u32, ack: NO_ACK, content });
            return Ok(());
        }
        let record = Record { hash, canonical };
        self.held.push((record, id, stamp, packed));
        if self.direct && self.held.len() >= HELD_EVENTS {
            self.hand_over()?;
        }
        self.remember(id, line, content);
        self.acks.push(Ack { seq, id, hash, duplicate: false });
        Ok(())
    }

    /// Hands over the held events if the append passed; the caller commits (or, on an
    /// error, aborts).
    pub(super) fn finish(mut self) -> Result<Vec<Ack>> {
        if self.refused > 0 {
            return Err(Error::Refused(self.refusals, self.refused));
        }
        if self.events == 0 {
            return Err(Error::refused(Refusal::new(None, "во входных данных нет ни одного события")));
        }
        self.hand_over()?;
        Ok(self.acks)
    }
}
