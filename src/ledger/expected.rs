//! The chain as a bulk append's third stage expects it (see [`Expected`]): each
//! event's seq, `prev`, transaction time and hash, and the writer's blocks encoded,
//! computed ahead of the check as if every event before were admitted.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use super::batch::{transaction_time, Ahead, Prepared};
use super::block::{Cut, Packed, RawBlock};
use super::event::{self, digest, Hash};
use super::writer::Writer;
use crate::limits::BLOCK_TARGET_BYTES;

/// The chain as a bulk append's third stage expects it at the next event: the
/// chain's hash, the one serial step of a check, and the writer's blocks, LZ4
/// included, are computed there, beside the parsing, while the checking thread checks
/// the events before. After a refusal or an idempotent repeat the expected seqs run
/// ahead of the real ones and are never used again: the checking thread computes the
/// rest itself, and says so through `diverged`, which ends the expectation. (A line
/// that does not parse, or a time the rules refuse, ends it here.)
pub(super) struct Expected<'d> {
    seq: u64,
    prev: Hash,
    last_recorded: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    ended: bool,
    diverged: &'d AtomicBool,
    /// The writer's blocks as expected: where they end, the open one and its first seq.
    cut: Cut,
    block: RawBlock,
    block_first: u64,
}

/// Room for a block's uncompressed bytes, most of the time.
const RAW_BLOCK_ROOM: usize = BLOCK_TARGET_BYTES + 4096;

impl<'d> Expected<'d> {
    /// At the writer's head, for an append at `now`; `diverged` is set by the checking
    /// thread once the chain is not as expected.
    pub(super) fn at(writer: &Writer<'_>, now: DateTime<Utc>, diverged: &'d AtomicBool) -> Expected<'d> {
        let (cut, block_first) = writer.cut();
        Expected {
            seq: writer.next_seq(),
            prev: *writer.prev(),
            last_recorded: event::parse_stamp(writer.recorded_at()),
            now,
            ended: false,
            diverged,
            cut,
            block: RawBlock::with_capacity(RAW_BLOCK_ROOM),
            block_first,
        }
    }

    /// Encodes the open block, expected to end here, for the event being prepared.
    fn close_block(&mut self, packed: &mut Vec<Packed>) {
        let raw = std::mem::replace(&mut self.block, RawBlock::with_capacity(RAW_BLOCK_ROOM));
        let events = raw.events();
        if events > 0 {
            let value = super::block::pack(&raw.finish());
            packed.push(Packed { first_seq: self.block_first, events, last: self.prev, value });
            self.block_first += events as u64;
        }
    }

    /// Completes a prepared event's canonical bytes as the next in the chain, when the
    /// expectation holds; `None` (a line that does not parse) ends it.
    pub(super) fn next<P>(&mut self, prepared: Option<&mut Prepared<P>>) {
        let Some(p) = prepared.filter(|_| !self.ended && !self.diverged.load(Ordering::Relaxed)) else {
            self.ended = true;
            return;
        };
        // The check's transaction-time rule; an event it refuses ends the expectation.
        let Ok(recorded_at) = transaction_time(&p.ev, self.last_recorded, self.now) else {
            self.ended = true;
            return;
        };
        let stamp = crate::codec::format_stamp_inline(&recorded_at);
        event::canonical_tail(&self.prev, &stamp, self.seq, p.ev.kind, &mut p.head);
        let hash = digest(&p.head);
        p.ahead = Some(Ahead { seq: self.seq, prev: self.prev, recorded_at, stamp, hash });
        if self.cut.before(p.head.len()) {
            self.close_block(&mut p.packed);
        }
        self.block.push(&hash, &p.head);
        self.seq += 1;
        self.prev = hash;
        self.last_recorded = Some(recorded_at);
        if self.cut.after() {
            self.close_block(&mut p.packed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::append::EnvelopeOnly;
    use crate::ledger::batch::prepare_line;
    use crate::ledger::block::{encode_block, Cut};
    use crate::ledger::event::Record;
    use crate::ledger::lines::Line;
    use crate::ledger::Ledger;

    /// Lines of `n` events, some long enough to end blocks by size rather than count.
    fn lines(n: usize) -> Vec<Line> {
        (0..n)
            .map(|i| {
                let note = "н".repeat(if i % 97 == 5 { 9000 } else { i % 40 });
                let text = format!(
                    r#"{{"type":"signal_received","occurred_on":"2024-01-01","recorded_at":"2024-01-02T10:00:00Z","data":{{"signal":"С{i}","channel":"phone","note":"{note}"}}}}"#
                );
                Line::Text(text.into_bytes())
            })
            .collect()
    }

    #[test]
    fn blocks_encoded_ahead_are_the_writers_blocks() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&tmp.path().join("l")).unwrap();
        let writer = ledger.store().writer().unwrap();
        let now = "2024-06-01T00:00:00Z".parse().unwrap();
        let diverged = AtomicBool::new(false);
        let mut expected = Expected::at(&writer, now, &diverged);
        let (mut records, mut packed, mut cut) = (Vec::new(), Vec::new(), Cut::default());
        let mut ends = Vec::new();
        for line in lines(700) {
            let mut p = prepare_line::<EnvelopeOnly>(line.bytes(), "a").unwrap().unwrap();
            expected.next(Some(&mut p));
            let ahead = p.ahead.as_ref().expect("every event is expected");
            assert_eq!((ahead.seq, digest(&p.head)), (records.len() as u64 + 1, ahead.hash));
            // The writer's own cut, followed beside: where each block must end.
            if cut.before(p.head.len()) {
                ends.push(records.len());
            }
            records.push(Record { hash: ahead.hash, canonical: p.head.clone() });
            packed.append(&mut p.packed);
        }
        assert!(ends.len() >= 10, "{ends:?}");
        let mut first = 0;
        for (block, end) in packed.iter().zip(&ends) {
            assert_eq!((block.first_seq, block.events), (first as u64 + 1, end - first));
            assert!(block.is_of(block.first_seq, &records[first..*end]));
            assert_eq!(block.value, encode_block(&records[first..*end]), "block at seq {}", block.first_seq);
            first = *end;
        }
        assert_eq!(packed.len(), ends.len());
        // Once the checking thread says the chain is not as expected, nothing more is.
        diverged.store(true, Ordering::Relaxed);
        let mut p = prepare_line::<EnvelopeOnly>(lines(1)[0].bytes(), "a").unwrap().unwrap();
        expected.next(Some(&mut p));
        assert!(p.ahead.is_none() && p.packed.is_empty());
        writer.abort().unwrap();
    }
}
