//! What an append is given and answers: the options that fill what the input leaves
//! out, the acknowledgement of each event, and the state rules an append checks every
//! event against (with the read-only view of the committed ledger they read, the event
//! they are shown, and why checking stopped).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::event::{self, Hash, InputEvent, Record};
use super::json::Node;
use super::store::{Head, Store};
use super::subjects;
use crate::error::{Error, Refusal, Result};

/// One acknowledged input event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub id: Uuid,
    pub hash: Hash,
    pub duplicate: bool,
}

impl Ack {
    /// `{"seq","id","hash"}` plus `"duplicate": true` (SPEC §8).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"seq": self.seq, "id": self.id.to_string(), "hash": event::hex(&self.hash)});
        if self.duplicate {
            v["duplicate"] = serde_json::Value::Bool(true);
        }
        v
    }

    /// The bytes of [`Ack::to_json`] (keys in serde_json's sorted order) and a newline,
    /// added to `line` without building a JSON value: a bulk append prints a million.
    pub fn push_json_line(&self, line: &mut Vec<u8>) {
        line.push(b'{');
        if self.duplicate {
            line.extend_from_slice(b"\"duplicate\":true,");
        }
        line.extend_from_slice(b"\"hash\":\"");
        line.extend_from_slice(&crate::codec::hex_bytes(&self.hash));
        line.extend_from_slice(b"\",\"id\":\"");
        line.extend_from_slice(self.id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes());
        line.extend_from_slice(b"\",\"seq\":");
        crate::codec::push_decimal(self.seq, line);
        line.extend_from_slice(b"}\n");
    }
}

/// How an append fills what the input leaves out.
#[derive(Debug, Clone)]
pub struct AppendOptions {
    /// `actor` of events that do not name one.
    pub actor: String,
    /// The ledger's clock: `recorded_at` of events that do not carry one, and the
    /// latest `recorded_at` an input may supply.
    pub now: DateTime<Utc>,
}

/// State rules checked on append, event by event, against the ledger as it is plus the
/// earlier events of the same batch. The domain implements this; the ledger alone
/// checks only the envelope.
pub trait Rules {
    /// What the rules read from an event's own `type` and `data`, worked out without
    /// the ledger. A bulk append computes it on its parsing thread, ahead of `admit`;
    /// a refusal in it must wait inside this value, so that `admit` reports it in the
    /// same order as any other (the envelope's refusals come first).
    type Parsed: Send + 'static;
    fn parse(input: &InputEvent) -> Self::Parsed;
    /// As [`Rules::parse`], from the event's `data` as a bulk append's quick reading
    /// read it (see [`Node`]); `None` when this reading does not decide it, and the
    /// event is read the strict way. What it gives must equal [`Rules::parse`]'s.
    fn parse_quick(_kind: &'static str, _data: &Node<'_>) -> Option<Self::Parsed> {
        None
    }
    /// Checks one event that is about to be appended; on success the event counts as
    /// part of the ledger for the events after it in the batch. `view` reads the
    /// committed ledger (its subject indexes are caught up).
    fn admit(&mut self, event: &PendingEvent, parsed: Self::Parsed, view: &View<'_>) -> std::result::Result<(), Stop>;
    /// The append expects about `events` more events (an estimate from its input's
    /// length): room may be made for them ahead.
    fn reserve(&mut self, _events: usize) {}
    /// Commits a bulk append whose events are all admitted: runs `commit` on this
    /// thread and returns the head it made. The rules may work beside it on other
    /// cores, and finish after it knowing that head (the state rules encode their
    /// fact digests so). By default: the commit alone.
    fn commit(&mut self, view: &View<'_>, commit: impl FnOnce() -> Result<Head>) -> Result<Head> {
        let _ = view;
        commit()
    }
}

/// No state rules: the envelope only.
pub struct EnvelopeOnly;

impl Rules for EnvelopeOnly {
    type Parsed = ();
    fn parse(_: &InputEvent) {}
    fn parse_quick(_: &'static str, _: &Node<'_>) -> Option<()> {
        Some(())
    }
    fn admit(&mut self, _: &PendingEvent, _: (), _: &View<'_>) -> std::result::Result<(), Stop> {
        Ok(())
    }
}

/// Read-only access to the committed ledger, for rules that check an append.
pub struct View<'a> {
    pub(super) store: &'a Store,
}

impl<'a> View<'a> {
    /// The store, for rules that keep derived data in it.
    pub(crate) fn store(&self) -> &'a Store {
        self.store
    }
    pub fn record(&self, seq: u64) -> Result<Option<Record>> {
        self.store.record(seq)
    }
    pub fn record_by_id(&self, id: &Uuid) -> Result<Option<Record>> {
        self.store.record_by_id(id)
    }
    /// Seqs of the committed events about a case (and their corrections).
    pub fn case_events(&self, case: &str) -> Result<Vec<u64>> {
        subjects::lookup(self.store, subjects::Subject::Case, case)
    }
    /// Seqs of the committed events about a signal (and their corrections).
    pub fn signal_events(&self, signal: &str) -> Result<Vec<u64>> {
        subjects::lookup(self.store, subjects::Subject::Signal, signal)
    }
    /// A stored case (or, with `signal`, signal) code for which `same` holds, if any.
    pub fn find_code(&self, signal: bool, same: impl Fn(&str) -> bool) -> Result<Option<String>> {
        let kind = if signal { subjects::Subject::Signal } else { subjects::Subject::Case };
        subjects::find_code(self.store, kind, same)
    }
}

/// An event that passed the envelope checks and is about to be given a seq (what its
/// `type` and `data` say reaches the rules through [`Rules::parse`]).
pub struct PendingEvent {
    pub seq: u64,
    pub id: Uuid,
    /// The hash the event will be stored with.
    pub hash: Hash,
    pub kind: &'static str,
    pub occurred_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// Why checking an event stopped: a refusal of that input line, or a failure of the
/// ledger itself (which ends the whole append).
#[derive(Debug)]
pub enum Stop {
    Refuse(Refusal),
    Fail(Error),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Self {
        Stop::Refuse(r)
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fail(e)
    }
}
