//! Writing: the one [`Writer`] at a time puts events into blocks (spilled ahead of
//! the head on a long append), the id index and the tree's nodes, and commits them:
//! journal fsync, one sled batch with the head, fsync, ACKED ([`Durable`] when the
//! journal's fsync is left to the group committer).

use rustc_hash::FxHashSet as HashSet;
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use crate::error::Result;
use crate::ledger::event::{Hash, Record};
use crate::limits::ID_MERGE_EVENTS;

use super::block::{block_key, encode_block, Cut, Packed};
use super::guard::release_free_memory;
use super::ids::{bucket_merge, id_bucket, id_bucket_key, ID_BUCKETS};
use super::journal::Journal;
use super::merkle::{self, Frontier};
use super::segments::JournalSync;
use super::store::{apply_in_parts, batch_of, Head, Store, HEAD_KEY, TREE_MARK_KEY};
use super::tree::tree_key;

impl Store {
    /// Starts a write that is kept in the store and the journal. Nothing becomes
    /// visible until [`Writer::commit`]. Waits for any other writer to finish first.
    pub fn writer(&self) -> Result<Writer<'_>> {
        self.writer_to(true)
    }

    /// A writer whose events go to the store only: restoring events the journal
    /// already holds (see `heal.rs`).
    pub(crate) fn writer_to(&self, journaled: bool) -> Result<Writer<'_>> {
        let guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
        self.check_poisoned()?;
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let head = self.head();
        let frontier = self.frontier_at_head()?;
        Ok(Writer {
            _guard: guard,
            frontier,
            journal,
            journaled,
            finished: false,
            next_seq: head.seq + 1,
            prev: head.hash,
            recorded_at: head.recorded_at.clone(),
            store: self,
            batch: Vec::new(),
            spilled: false,
            cut: Cut::default(),
            block: Vec::new(),
            block_first: head.seq + 1,
            packed: std::collections::VecDeque::new(),
            ids: vec![Vec::new(); ID_BUCKETS as usize],
            ids_pending: 0,
            merged_buckets: HashSet::default(),
            spilling: None,
        })
    }
}

/// An append in progress: events are packed into blocks and batched, and their lines
/// go to the journal; the commit makes the journal durable, then writes the head in
/// the store's final batch (which commits them all at once), then records the new
/// head as acknowledged.
pub struct Writer<'s> {
    _guard: MutexGuard<'s, ()>,
    /// The Merkle tree with the pushed events in it.
    frontier: Frontier,
    journal: MutexGuard<'s, Journal>,
    /// Whether pushed events go to the journal too.
    journaled: bool,
    /// Committed or aborted (otherwise dropping the writer aborts).
    finished: bool,
    store: &'s Store,
    /// Writes not yet applied: one atomic batch at commit, unless the append spilled.
    batch: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    spilled: bool,
    /// Where the open block ends (and the append's part).
    cut: Cut,
    block: Vec<Record>,
    block_first: u64,
    /// Blocks encoded ahead (by a bulk append's parsing thread), oldest first: taken
    /// for the blocks they are, dropped once passed.
    packed: std::collections::VecDeque<Packed>,
    next_seq: u64,
    prev: Hash,
    recorded_at: String,
    /// Id-index entries not yet merged into their buckets, by bucket (indexed: a hash
    /// map's entry per event cost a cache miss more).
    ids: Vec<Vec<([u8; 16], u64)>>,
    ids_pending: usize,
    /// Buckets this append already merged into (their garbage is gone).
    merged_buckets: HashSet<u16>,
    /// The last spilled part, being written by a thread of its own while this one
    /// goes on (at most one at a time; waited for before ids are merged, before the
    /// commit and before an abort).
    spilling: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Writer<'_> {
    /// The seq the next pushed event must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    /// The hash the next pushed event must name as `prev`.
    pub fn prev(&self) -> &Hash {
        &self.prev
    }
    pub fn store(&self) -> &Store {
        self.store
    }
    /// `recorded_at` of the last pushed event (or of the head).
    pub fn recorded_at(&self) -> &str {
        &self.recorded_at
    }
    /// Events pushed and not yet committed.
    pub fn pushed(&self) -> u64 {
        self.next_seq - self.store.head_seq() - 1
    }

    /// Adds the next event. The caller built `record.canonical` with `seq =
    /// next_seq()` and `prev = prev()`.
    pub fn push(&mut self, record: Record, id: &uuid::Uuid, recorded_at: &str) -> Result<()> {
        self.push_packed(record, id, recorded_at, Vec::new())
    }

    /// [`Writer::push`], with blocks encoded ahead (see `block::Packed`) for this writer to
    /// take if they are the blocks it closes.
    pub fn push_packed(
        &mut self,
        record: Record,
        id: &uuid::Uuid,
        recorded_at: &str,
        packed: Vec<Packed>,
    ) -> Result<()> {
        debug_assert_eq!(record.hash, crate::ledger::event::digest(&record.canonical));
        self.packed.extend(packed);
        debug_assert!(recorded_at >= self.recorded_at.as_str());
        if self.journaled {
            self.journal.push(self.next_seq, &record)?;
        }
        let batch = &mut self.batch;
        self.frontier.push(merkle::leaf(&record.hash), |level, index, node| {
            batch.push((tree_key(level, index).to_vec(), Some(node.0.to_vec())));
        });
        if self.cut.before(record.canonical.len()) {
            self.close_block();
        }
        self.ids[usize::from(id_bucket(id))].push((*id.as_bytes(), self.next_seq));
        self.ids_pending += 1;
        self.prev = record.hash;
        self.block.push(record);
        self.next_seq += 1;
        self.recorded_at.clear();
        self.recorded_at.push_str(recorded_at);
        if self.cut.after() {
            self.close_block();
            self.wait_for_spill()?;
            if self.ids_pending >= ID_MERGE_EVENTS {
                self.merge_ids()?;
            }
            // Above the head until the commit: no need to be atomic, nor to wait.
            // (Encoding its blocks there too was tried: 6 % slower on 2 cores.)
            let (db, writes) = (self.store.db.clone(), std::mem::take(&mut self.batch));
            self.spilling = Some(
                std::thread::Builder::new()
                    .name("caseledger-spill".into())
                    .spawn(move || {
                        apply_in_parts(&db, writes)?;
                        db.flush()?;
                        Ok(())
                    })
                    .map_err(|e| crate::error::Error::storage("starting the thread that writes a long append", e))?,
            );
            release_free_memory();
            self.spilled = true;
        }
        Ok(())
    }

    /// Waits for the spilled part being written, and says how it went.
    fn wait_for_spill(&mut self) -> Result<()> {
        match self.spilling.take() {
            None => Ok(()),
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(crate::error::Error::Storage("the thread writing a long append's part stopped".into()))
            }),
        }
    }

    /// The first step of a commit: waits for the spilled part being written. One that
    /// failed is an append that failed, dropped like one (not a failed commit).
    fn spill_or_cleanup(&mut self) -> Result<()> {
        let spilled = self.wait_for_spill();
        if spilled.is_err() {
            self.cleanup();
        }
        spilled
    }

    /// Merges pending id entries into their buckets, in the current batch.
    fn merge_ids(&mut self) -> Result<()> {
        let committed = self.store.head().seq;
        for (bucket, entries) in (0u16..).zip(self.ids.iter_mut()).filter(|(_, e)| !e.is_empty()) {
            entries.sort_unstable();
            let existing = self.store.db.get(id_bucket_key(bucket))?;
            let existing = existing.as_deref().unwrap_or(&[]);
            // Before this append's first merge, entries above the head are garbage of
            // an append that never committed; after it, they are this append's own.
            let keep = if self.merged_buckets.insert(bucket) { committed } else { u64::MAX };
            self.batch.push((id_bucket_key(bucket).to_vec(), Some(bucket_merge(existing, keep, entries))));
            entries.clear();
        }
        self.ids_pending = 0;
        Ok(())
    }

    fn close_block(&mut self) {
        if self.block.is_empty() {
            return;
        }
        while self.packed.front().is_some_and(|p| p.first_seq < self.block_first) {
            self.packed.pop_front();
        }
        let value = match self.packed.front().is_some_and(|p| p.is_of(self.block_first, &self.block)) {
            true => self.packed.pop_front().expect("looked at").value,
            false => encode_block(&self.block),
        };
        self.batch.push((block_key(self.block_first).to_vec(), Some(value)));
        self.block_first += self.block.len() as u64;
        self.block.clear();
    }

    /// Where the open block ends, and the first seq of the next block closed.
    pub(super) fn cut(&self) -> (Cut, u64) {
        (self.cut, self.block_first)
    }

    /// Makes the pushed events part of the ledger, durably, and returns the new head.
    /// The journal's lines are written (a full disk is met here, before anything is
    /// committed); then the journal's fsync runs on another thread while the store's
    /// blocks and head are written and fsynced; once both are durable, the head is
    /// recorded as acknowledged. A crash before that leaves, above the acknowledged
    /// head, journal lines the store lacks (the next open drops them) or a store
    /// commit the journal may lack (the next open copies it to the journal): an
    /// append is all or nothing, and nothing is acknowledged before both hold it.
    pub fn commit(mut self) -> Result<Head> {
        let Some((head, journal)) = self.begin_commit()? else { return Ok(self.store.head()) };
        // The two fsyncs side by side: a bulk append's tail waited for each in turn.
        let (synced, committed) = std::thread::scope(|s| {
            let syncing = std::thread::Builder::new()
                .name("caseledger-journal-sync".into())
                .spawn_scoped(s, || journal.run())
                .ok();
            let committed = self.commit_store_or_poison(&head);
            let synced = match syncing {
                Some(t) => {
                    t.join().unwrap_or_else(|_| Err(crate::error::Error::Storage("the journal's sync stopped".into())))
                }
                // (No thread to be had: one after the other, as before.)
                None => journal.run(),
            };
            (synced, committed)
        });
        committed?;
        if let Err(e) = synced {
            // The store holds what the journal may not: nothing more is written, and
            // the next open copies the store's events to the journal.
            self.store.poisoned.store(true, Ordering::SeqCst);
            let first = self.store.head().seq + 1;
            return Err(crate::error::Error::Storage(format!(
                "{e} — after the store had committed seq {first}–{}: they were not acknowledged, \
                 and the next open copies them to the journal (run `caseledger verify`; appending \
                 the same input again answers them as duplicates)",
                head.seq
            )));
        }
        // (Events restored from the journal are in it already, and were acknowledged
        // before: the caller settles both, after comparing with what was acknowledged.)
        *self.store.head.write().unwrap_or_else(|e| e.into_inner()) = head.clone();
        if self.journaled {
            self.journal.confirm(head.hash);
            let acked = self.store.acked.lock().unwrap_or_else(|e| e.into_inner()).write(head.seq, head.hash);
            if acked.is_err() {
                self.store.poisoned.store(true, Ordering::SeqCst);
            }
            acked?;
        }
        Ok(head)
    }

    /// As [`Writer::commit`], for the group committer of the service: the journal's
    /// lines are written (the page cache) before the store's commit as always, but their
    /// fsync and the acknowledged head are left to [`Durable::complete`], which another
    /// thread runs while this one checks the next group. The answers wait for it.
    /// A crash before it leaves store events the journal may lack, above the
    /// acknowledged head: the next open copies them to the journal.
    pub fn commit_then_sync(mut self) -> Result<(Head, Durable)> {
        let Some((head, journal)) = self.begin_commit()? else {
            let head = self.store.head();
            return Ok((head.clone(), Durable { journal: JournalSync::default(), head: (head.seq, head.hash) }));
        };
        self.commit_store_or_poison(&head)?;
        self.journal.confirm(head.hash);
        *self.store.head.write().unwrap_or_else(|e| e.into_inner()) = head.clone();
        Ok((head.clone(), Durable { journal, head: (head.seq, head.hash) }))
    }

    /// What both commits do first: waits for the spilled part; then, unless nothing
    /// was pushed (`None`), the new head and the journal's lines written (a full disk
    /// is met here, and the append dropped), with the fsyncs they still need.
    fn begin_commit(&mut self) -> Result<Option<(Head, JournalSync)>> {
        self.store.check_poisoned()?;
        self.finished = true;
        self.spill_or_cleanup()?;
        if self.next_seq == self.store.head().seq + 1 {
            return Ok(None);
        }
        let head = Head { seq: self.next_seq - 1, hash: self.prev, recorded_at: self.recorded_at.clone() };
        if !self.journaled {
            return Ok(Some((head, JournalSync::default())));
        }
        match self.journal.write_unsynced() {
            Ok(journal) => Ok(Some((head, journal))),
            Err(e) => {
                self.cleanup();
                Err(e)
            }
        }
    }

    /// [`Writer::commit_store`]; when it fails, sled may hold the batch in memory
    /// without it being on disk: this process writes nothing more, and the journal's
    /// pending lines are dropped.
    fn commit_store_or_poison(&mut self, head: &Head) -> Result<()> {
        let committed = self.commit_store(head);
        if committed.is_err() {
            self.store.poisoned.store(true, Ordering::SeqCst);
            let _ = self.journal.abort();
        }
        committed
    }

    fn commit_store(&mut self, head: &Head) -> Result<()> {
        self.close_block();
        debug_assert!(self.spilling.is_none(), "the commit waited for the spilled part first");
        self.merge_ids()?;
        if self.spilled {
            // Every spilled block must be durable before the head that names it.
            self.store.apply_in_parts(std::mem::take(&mut self.batch))?;
            self.store.sync()?;
        }
        // The head, with whatever is left (all of a short append): one atomic batch.
        let mut batch = batch_of(std::mem::take(&mut self.batch));
        batch.insert(HEAD_KEY, head.encode());
        batch.insert(TREE_MARK_KEY, &head.seq.to_be_bytes());
        self.store.db.apply_batch(batch)?;
        self.store.sync()?;
        *self.store.frontier.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.frontier.clone());
        Ok(())
    }

    /// Drops the pushed events: the journal's lines are cut off, and spilled blocks
    /// above the head are removed (the next open removes them if this fails).
    pub fn abort(mut self) -> Result<()> {
        self.finished = true;
        self.cleanup_result()
    }

    fn cleanup_result(&mut self) -> Result<()> {
        // Whatever became of the spilled part being written, its blocks go with the
        // rest (and the reason for the abort is the caller's, not the part's).
        let _ = self.wait_for_spill();
        let journal = self.journal.abort();
        if self.spilled {
            self.store.remove_blocks_above_head()?;
        }
        journal
    }

    fn cleanup(&mut self) {
        if let Err(e) = self.cleanup_result() {
            // The journal's bookkeeping may not match its files any more.
            self.store.poisoned.store(true, Ordering::SeqCst);
            tracing::warn!(error = %e, "could not remove the lines and blocks of an append that did not commit; the next open will");
        }
    }
}

/// What is left of a commit to acknowledge it: the journal's fsync, then the head
/// recorded as acknowledged. Run in commit order.
pub struct Durable {
    journal: JournalSync,
    head: (u64, Hash),
}

impl Durable {
    pub fn complete(self, store: &Store) -> Result<()> {
        // After a failed fsync, a later one on the same file may report success for
        // pages that never reached the disk: nothing more is acknowledged.
        store.check_poisoned()?;
        let done = self.journal.run().and_then(|()| {
            let mut acked = store.acked.lock().unwrap_or_else(|e| e.into_inner());
            if acked.head() == self.head {
                return Ok(());
            }
            acked.write(self.head.0, self.head.1)
        });
        if done.is_err() {
            // The store is ahead of what the journal holds durably: write nothing more.
            store.poisoned.store(true, Ordering::SeqCst);
        }
        done
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.cleanup();
        }
    }
}
