//! Verifying (SPEC §3, §13, §14): the whole chain recomputed from the stored bytes on
//! every core, the Merkle tree grown beside it, the journal compared with the store;
//! and an export file's chain checked without any ledger.

use std::io::BufRead;

use crate::error::{Error, Result};
use crate::limits::MAX_LINE_BYTES;

use super::chain::{self, examine, ChainChecker};
use super::lines::LineReader;
use super::store::unpack_block;
use super::{heal, merkle, store, tree, Ledger, Verified};

impl Ledger {
    /// Recomputes the whole chain from the stored bytes (SPEC §3). Hashing and
    /// parsing run on every core; linking is sequential.
    ///
    /// Beside it, a thread compares the journal with the store byte for byte; a journal
    /// line that differs (damaged, missing) is rewritten from the store once the store
    /// has verified.
    pub fn verify(&self) -> Result<Verified> {
        self.verify_with_progress(&std::sync::atomic::AtomicU64::new(0))
    }

    /// [`verify`](Self::verify), telling `progress` how many events are linked so far
    /// (the web page's progress bar).
    pub fn verify_with_progress(&self, progress: &std::sync::atomic::AtomicU64) -> Result<Verified> {
        let _one_at_a_time = self.store.verifying.lock().unwrap_or_else(|e| e.into_inner());
        let head = self.head();
        let mut checker = ChainChecker::whole(head.seq);
        let mut frontier = merkle::Frontier::default();
        let (chain, journal) = std::thread::scope(|s| {
            // The journal is compared with the blocks the pipeline has read, linked
            // and unpacked: the store is scanned once.
            let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Vec<store::Unpacked>>(4);
            let journal = s.spawn(|| heal::compare_journal(&self.store, head.seq, raw_rx.into_iter().flatten()));
            let chain = self.verify_pipelined(head.seq, &mut checker, &mut frontier, progress, raw_tx);
            (chain, journal.join())
        });
        chain?;
        checker.finish()?;
        let journal_bad = journal.map_err(|_| Error::Storage("the journal check stopped".into()))??;
        if checker.len() != head.seq {
            return Err(Error::Integrity {
                seq: checker.len() + 1,
                reason: format!("the ledger's head names seq {} but the chain ends at seq {}", head.seq, checker.len()),
            });
        }
        if checker.head() != head.hash {
            return Err(Error::Integrity {
                seq: head.seq,
                reason: "the ledger's head hash differs from the chain's last hash".into(),
            });
        }
        // The Merkle tree: the root recomputed from the chain is the stored tree's.
        let root = frontier.root();
        if tree::root(&self.store, head.seq)? != root {
            return Err(Error::Integrity {
                seq: head.seq,
                reason: "the stored Merkle tree's root differs from the one recomputed from the events".into(),
            });
        }
        if let Some(bad) = journal_bad {
            heal::heal_journal(&self.store, bad)?;
        }
        Ok(Verified { seq: head.seq, head: head.hash, root: Some(root) })
    }

    /// The three stages of `verify`, overlapped: one thread reads blocks from sled, a
    /// worker per core hashes and reads every event of a batch of blocks in place, and
    /// the caller's thread links the batches in order. Any failure stops the reader;
    /// the channels are drained so no thread is left waiting.
    /// The leaf hashes of the Merkle tree are computed by the workers too, and the
    /// tree is grown in order beside the chain (`frontier`). Each batch's unpacked
    /// blocks go on to `linked` once linked (the journal's comparison).
    fn verify_pipelined(
        &self,
        head_seq: u64,
        checker: &mut ChainChecker,
        frontier: &mut merkle::Frontier,
        progress: &std::sync::atomic::AtomicU64,
        linked: std::sync::mpsc::SyncSender<Vec<store::Unpacked>>,
    ) -> Result<()> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{mpsc, Mutex};
        type Batch = (usize, Result<Vec<sled::IVec>>);
        type Leaf = (std::result::Result<chain::Link, String>, merkle::Node);
        type Block = std::result::Result<(Vec<Leaf>, store::Unpacked), String>;
        type Examined = (usize, Result<Vec<Block>>);
        const BLOCKS_PER_BATCH: usize = 64;
        let workers = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8);
        let stop = AtomicBool::new(false);
        let (work_tx, work_rx) = mpsc::sync_channel::<Batch>(2 * workers);
        let work_rx = Mutex::new(work_rx);
        let (done_tx, done_rx) = mpsc::sync_channel::<Examined>(2 * workers);
        std::thread::scope(|s| {
            let stop = &stop;
            // The reader owns the sending end: when it ends, the workers' queue closes.
            s.spawn(move || {
                let mut batch = Vec::with_capacity(BLOCKS_PER_BATCH);
                let mut index = 0;
                for block in self.store.blocks(1) {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match block {
                        Ok((first, _)) if first > head_seq => break, // written after the head was read
                        Ok((_, bytes)) => batch.push(bytes),
                        Err(e) => {
                            let _ = work_tx.send((index, Err(e)));
                            return;
                        }
                    }
                    if batch.len() == BLOCKS_PER_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BLOCKS_PER_BATCH));
                        if work_tx.send((index, Ok(full))).is_err() {
                            return;
                        }
                        index += 1;
                    }
                }
                let _ = work_tx.send((index, Ok(batch)));
            });
            for _ in 0..workers {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                s.spawn(move || loop {
                    let next = work_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((index, batch)) = next else { return };
                    let examined = batch.map(|blocks| {
                        blocks
                            .iter()
                            .map(|bytes| {
                                let raw = unpack_block(bytes)?;
                                let records = store::block_ranges(&raw)?;
                                let leaves = records
                                    .iter()
                                    .map(|(hash, c)| (examine(&raw[c.clone()], *hash), merkle::leaf(hash)))
                                    .collect();
                                Ok((leaves, store::Unpacked { bytes: raw.into_owned(), records }))
                            })
                            .collect()
                    });
                    if done_tx.send((index, examined)).is_err() {
                        return;
                    }
                });
            }
            drop(done_tx);
            // Link in order; batches may finish out of order.
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0;
            let mut outcome = Ok(());
            for (index, examined) in done_rx.iter() {
                if outcome.is_err() {
                    continue; // draining
                }
                waiting.insert(index, examined);
                while let Some(examined) = waiting.remove(&next) {
                    next += 1;
                    let done = examined.and_then(|blocks| {
                        let mut raws = Vec::with_capacity(blocks.len());
                        for block in blocks {
                            let (links, raw) =
                                block.map_err(|reason| Error::Integrity { seq: checker.len() + 1, reason })?;
                            for (link, leaf) in links {
                                checker.push(link)?;
                                frontier.push(leaf, |_, _, _| {});
                            }
                            raws.push(raw);
                            progress.store(checker.len(), Ordering::Relaxed);
                        }
                        // The journal's thread may have stopped on its own error; it
                        // is reported after the chain's.
                        let _ = linked.send(raws);
                        Ok(())
                    });
                    if let Err(e) = done {
                        stop.store(true, Ordering::Relaxed);
                        // A failure outside `push` (a damaged block, a read error)
                        // still comes after an earlier repeated id.
                        outcome = Err(checker.first_repeat().unwrap_or(e));
                        break;
                    }
                }
            }
            outcome
        })
    }

    /// Reads an export file and verifies its chain without any ledger.
    pub fn verify_export<R: BufRead>(input: R) -> Result<Verified> {
        let mut reader = LineReader::new(input, MAX_LINE_BYTES + 256);
        let mut checker = ChainChecker::default();
        while let Some((number, line)) = reader.next_line()? {
            let seq = checker.len() + 1;
            let at_line = |reason: String| Error::Integrity { seq, reason: format!("line {number}: {reason}") };
            let Some(bytes) = chain::export_line_bytes(line).map_err(at_line)? else { continue };
            let (canonical, claimed, _) = chain::read_export_line(&bytes).map_err(at_line)?;
            checker.push(examine(&canonical, claimed))?;
        }
        Ok(Verified { seq: checker.len(), head: checker.head(), root: None })
    }
}
