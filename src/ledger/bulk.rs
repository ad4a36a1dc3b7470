//! The bulk append (`append FILE`, [`Ledger::append_jsonl`]): three stages, chunk by
//! chunk, on three threads — reading and preparing lines, the chain expected ahead
//! (`expected.rs`), and the check and write in order.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::limits::MAX_LINE_BYTES;

use super::batch::{commit_or_abort, prepare_line, Batch, PreparedLine, PARSE_CHUNK_LINES};
use super::expected::Expected;
use super::lines::LineReader;
use super::{guard, subjects, Ack, AppendOptions, Ledger, Rules, View};

/// The shortest line an event can be (`{"type":"…","occurred_on":"YYYY-MM-DD","data":{}}`
/// is longer): no input holds more events than its length over this.
const MIN_EVENT_LINE_BYTES: u64 = 48;

impl Ledger {
    pub(super) fn run_jsonl<I: BufRead + Send, R: Rules>(
        &self,
        input: I,
        bytes: Option<u64>,
        opts: &AppendOptions,
        rules: &mut R,
        commit: bool,
    ) -> Result<Vec<Ack>> {
        subjects::catch_up(&self.store)?;
        let _memory = guard::BulkMemory::hold();
        let mut writer = self.store.writer()?;
        let diverged = AtomicBool::new(false);
        let stop = AtomicBool::new(false);
        let stop = &stop;
        // Events the input holds, as its first chunk of lines tells (0: not known).
        let estimate = AtomicUsize::new(0);
        let estimate = &estimate;
        // Three stages, chunk by chunk: a thread reads lines and prepares their events
        // (parsed, payloads included); a second computes the chain ahead as it expects
        // it, blocks included (see `Expected`); this one checks the events in order
        // and writes them. Only the check needs the ledger.
        let outcome = std::thread::scope(|s| {
            // (`None` ends the input: without it, the input was not all read.)
            type Chunk<P> = std::io::Result<Option<Vec<PreparedLine<P>>>>;
            let (prepared_tx, prepared_rx) = std::sync::mpsc::sync_channel::<Chunk<R::Parsed>>(4);
            let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<Chunk<R::Parsed>>(4);
            // Chunks checked come back empty to be filled again: a fresh one each time
            // cost the reading thread a page fault every few lines.
            let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<PreparedLine<R::Parsed>>>(4);
            let actor = opts.actor.as_str();
            let mut expected = Expected::at(&writer, opts.now, &diverged);
            s.spawn(move || {
                let mut reader = LineReader::new(input, MAX_LINE_BYTES);
                let mut line = Vec::new();
                let (mut read_bytes, mut estimated) = (0u64, false);
                loop {
                    let mut chunk = empty_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(PARSE_CHUNK_LINES));
                    let read = loop {
                        match reader.next_into(&mut line) {
                            Ok(Some((n, too_long))) => {
                                read_bytes += too_long.unwrap_or(line.len()) as u64 + 1;
                                chunk.push((n, prepare_line::<R>(too_long.map_or(Ok(&line[..]), Err), actor)))
                            }
                            other => break other.map(|_| ()),
                        }
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if chunk.len() == PARSE_CHUNK_LINES {
                            break Ok(());
                        }
                    };
                    let last = chunk.len() < PARSE_CHUNK_LINES || read.is_err();
                    if let (Some(total), false) = (bytes, last || estimated) {
                        // Events, not lines (blank lines are bytes without events), and
                        // never more than the file could hold at its shortest events.
                        let events = chunk.iter().filter(|(_, p)| p.is_some()).count() as u128;
                        let guess = events * u128::from(total) / u128::from(read_bytes.max(1));
                        let guess = guess.min(u128::from(total / MIN_EVENT_LINE_BYTES));
                        estimate.store(usize::try_from(guess).unwrap_or(usize::MAX), Ordering::Relaxed);
                        estimated = true;
                    }
                    let sent = match read {
                        Ok(()) if chunk.is_empty() => Ok(()),
                        Ok(()) => prepared_tx.send(Ok(Some(chunk))),
                        Err(e) => prepared_tx.send(Err(e)),
                    };
                    if last || sent.is_err() {
                        if last && sent.is_ok() {
                            let _ = prepared_tx.send(Ok(None));
                        }
                        break;
                    }
                }
            });
            s.spawn(move || {
                for mut chunk in prepared_rx {
                    for (_, prepared) in chunk.iter_mut().flatten().flatten() {
                        match prepared {
                            None => {}
                            Some(Ok(p)) => expected.next(Some(p)),
                            Some(Err(_)) => expected.next::<R::Parsed>(None),
                        }
                    }
                    if parsed_tx.send(chunk).is_err() {
                        break;
                    }
                }
            });
            // However this thread leaves, the reading stops at the next line (not at the
            // end of a chunk: the input may be a pipe that is slow to end).
            let _stop = StopOnDrop(stop);
            let mut batch = Batch::new(&mut writer, None, opts, rules, true).telling(&diverged);
            let mut read = false;
            for chunk in parsed_rx {
                match chunk? {
                    Some(mut chunk) => {
                        for (number, parsed) in chunk.drain(..) {
                            batch.add_prepared(number, parsed)?;
                        }
                        let _ = empty_tx.try_send(chunk);
                        // (Stored before the first chunk was sent, so seen here.)
                        let expected = estimate.swap(0, Ordering::Relaxed);
                        if expected > 0 {
                            batch.reserve(expected.min(crate::limits::BULK_RESERVE_EVENTS));
                        }
                    }
                    None => read = true,
                }
            }
            if !read {
                return Err(Error::Storage("the append's parsing thread stopped".into()));
            }
            batch.finish()
        });
        match outcome {
            Ok(acks) if commit => {
                rules.commit(&View { store: &self.store }, move || writer.commit())?;
                Ok(acks)
            }
            Ok(_) => {
                writer.abort()?;
                outcome
            }
            Err(_) => commit_or_abort(writer, outcome),
        }
    }
}

/// Sets its flag when dropped: tells a bulk append's reading thread that the check
/// has ended, however it ended.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
