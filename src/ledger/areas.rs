//! The storage areas the layers above keep in the ledger's sled tree, behind one
//! interface: derived data (memoised figures, `f` + key) and the fact digests of
//! `project::summary` (`g` + bucket, with their mark `wg`). None of it is part of the
//! chain: it may be lost and is then rebuilt.

use std::collections::HashSet;
use std::sync::MutexGuard;
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::ledger::event::Hash;
use crate::limits::{SLED_BATCH_KEYS, SUMMARY_BUCKETS};

use super::store::{apply_in_parts, batch_of, Store, DERIVED_PREFIX, SUMMARY_MARK_KEY, SUMMARY_PREFIX};

/// The fact digests' lock, held: readers and maintainers of the digests one at a
/// time. It keeps the write a holder left to finish behind it, which the next holder
/// and the store's drop wait for.
pub struct SummaryHeld<'a>(MutexGuard<'a, Option<JoinHandle<()>>>, &'a Store);

impl SummaryHeld<'_> {
    /// The digests' mark, read by the holder (`Store::summary_mark` takes the lock).
    pub fn mark(&self) -> Result<Option<(u64, Hash)>> {
        self.1.read_summary_mark()
    }

    /// A stored bucket, read by the holder.
    pub fn bucket(&self, bucket: u16) -> Result<Option<sled::IVec>> {
        self.1.summary_bucket(bucket)
    }

    /// Lets the lock go before `write` has run: it runs on a thread of its own, and the
    /// next holder of the lock (and the store's drop) waits for it. So a bulk append
    /// answers while its digests are still being written, and no reader sees them half
    /// done. Without a thread to run it, nothing is written: the digests' mark then
    /// lags the head, and the next reader rebuilds them (as after any lost update).
    pub fn finish_behind(mut self, write: impl FnOnce() + Send + 'static) {
        match std::thread::Builder::new().name("caseledger-digests".into()).spawn(write) {
            Ok(thread) => *self.0 = Some(thread),
            Err(e) => tracing::warn!("fact digests not updated ({e}); they will be rebuilt when next read"),
        }
    }
}

/// The bucket of an id: a multiplicative hash of all its bits, so that time-ordered
/// UUIDv7 ids spread as evenly as random ones.
pub(super) fn derived_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(DERIVED_PREFIX);
    k.extend_from_slice(key);
    k
}

pub(super) fn summary_bucket_key(bucket: u16) -> [u8; 3] {
    let [a, b] = bucket.to_be_bytes();
    [SUMMARY_PREFIX, a, b]
}

/// The bucket a digest key names (`None`: a malformed key).
pub(super) fn summary_bucket_of(key: &[u8]) -> Option<u16> {
    key.get(1..3).and_then(|b| b.try_into().ok()).map(u16::from_be_bytes)
}

impl Store {
    /// Derived data (never part of the chain; may be lost and rebuilt): `f` + key.
    pub fn derived_get(&self, key: &[u8]) -> Result<Option<sled::IVec>> {
        Ok(self.db.get(derived_key(key))?)
    }

    /// Writes and flushes (no fsync: derived data may be lost in a crash and is
    /// then recomputed).
    pub fn derived_put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.insert(derived_key(key), value)?;
        self.db.flush()?;
        Ok(())
    }

    /// Every derived entry: (key without the prefix, value).
    pub fn derived_entries(&self) -> impl Iterator<Item = Result<(Vec<u8>, sled::IVec)>> + '_ {
        self.db.scan_prefix([DERIVED_PREFIX]).map(|item| {
            let (k, v) = item?;
            Ok((k[1..].to_vec(), v))
        })
    }

    pub fn derived_count(&self) -> usize {
        self.db.scan_prefix([DERIVED_PREFIX]).count()
    }

    /// Serialises readers and maintainers of the fact digests. A write left to finish
    /// behind the last holder ([`SummaryHeld::finish_behind`]) is waited for first.
    pub fn summary_lock(&self) -> SummaryHeld<'_> {
        let mut held = self.summary.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writing) = held.take() {
            // (A panic there has been reported; the mark it left decides what is read.)
            let _ = writing.join();
        }
        SummaryHeld(held, self)
    }

    /// The chain prefix (seq, hash) the stored digests are of, if any (and if they
    /// were spread over the same number of buckets as now), once the write left
    /// behind the lock, if any, is done. (A holder of the lock reads
    /// [`SummaryHeld::mark`]: this takes the lock.)
    pub fn summary_mark(&self) -> Result<Option<(u64, Hash)>> {
        self.summary_lock().mark()
    }

    fn read_summary_mark(&self) -> Result<Option<(u64, Hash)>> {
        Ok(self.db.get(SUMMARY_MARK_KEY)?.and_then(|v| {
            let seq = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
            let hash: Hash = v.get(8..40)?.try_into().ok()?;
            let buckets = u16::from_be_bytes(v.get(40..42)?.try_into().ok()?);
            (v.len() == 42 && buckets == SUMMARY_BUCKETS).then_some((seq, hash))
        }))
    }

    fn summary_bucket(&self, bucket: u16) -> Result<Option<sled::IVec>> {
        Ok(self.db.get(summary_bucket_key(bucket))?)
    }

    /// Every stored bucket: (bucket, bytes).
    pub fn summary_buckets(&self) -> impl Iterator<Item = Result<(u16, sled::IVec)>> + '_ {
        self.db.scan_prefix([SUMMARY_PREFIX]).map(|item| {
            let (k, v) = item?;
            summary_bucket_of(&k)
                .map(|b| (b, v))
                .ok_or_else(|| Error::Storage("a digest bucket key is malformed".into()))
        })
    }

    /// The digests' area, written through (from another thread too: see
    /// [`SummaryHeld::finish_behind`]).
    pub fn summary_area(&self) -> SummaryArea {
        SummaryArea { db: self.db.clone() }
    }
}

/// The fact digests' storage area, apart from the store: what a write that finishes
/// after its lock was let go holds.
pub struct SummaryArea {
    db: sled::Db,
}

impl SummaryArea {
    /// Writes buckets (`None` removes one) and the new mark; with `replace_all`, every
    /// other bucket is removed. A few buckets go in one atomic batch with the mark;
    /// more go in parts (see [`SLED_BATCH_KEYS`]) between a batch that removes the
    /// mark and one that writes it, so a crash in between leaves no mark (and the
    /// digests are rebuilt), never a mark over half-written buckets. Flushed with the
    /// next commit (a crash may lose it; the mark then lags and the digests are
    /// rebuilt).
    pub fn write(
        &self,
        buckets: Vec<(u16, Option<Vec<u8>>)>,
        mark: Option<(u64, Hash)>,
        replace_all: bool,
    ) -> Result<()> {
        let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(buckets.len() + 1);
        if replace_all {
            let listed: HashSet<u16> = buckets.iter().map(|(b, _)| *b).collect();
            for item in self.db.scan_prefix([SUMMARY_PREFIX]) {
                let key = item?.0;
                if !summary_bucket_of(&key).is_some_and(|b| listed.contains(&b)) {
                    writes.push((key.to_vec(), None));
                }
            }
        }
        writes.extend(buckets.into_iter().map(|(bucket, value)| (summary_bucket_key(bucket).to_vec(), value)));
        let mark_write = match mark {
            Some((seq, hash)) => {
                let mut v = seq.to_be_bytes().to_vec();
                v.extend_from_slice(&hash);
                v.extend_from_slice(&SUMMARY_BUCKETS.to_be_bytes());
                (SUMMARY_MARK_KEY.to_vec(), Some(v))
            }
            None => (SUMMARY_MARK_KEY.to_vec(), None),
        };
        if writes.len() >= SLED_BATCH_KEYS {
            apply_in_parts(&self.db, vec![(SUMMARY_MARK_KEY.to_vec(), None)])?;
            // In two halves side by side: sled takes most of a bulk append's digests
            // (16 384 keys) on one core otherwise.
            let mut second = writes;
            let first: Vec<_> = second.drain(..second.len() / 2).collect();
            std::thread::scope(|s| {
                let db = &self.db;
                let spawned = std::thread::Builder::new().spawn_scoped(s, move || apply_in_parts(db, first));
                let two = apply_in_parts(db, second);
                // (No thread to be had: the mark stays removed, and the digests are
                // rebuilt when next read.)
                let one = match spawned {
                    Ok(one) => one.join().unwrap_or_else(|_| Err(Error::Storage("the digests' writer stopped".into()))),
                    Err(e) => Err(Error::storage("starting a thread to write the digests", e)),
                };
                one.and(two)
            })?;
            apply_in_parts(&self.db, vec![mark_write])
        } else {
            writes.push(mark_write);
            Ok(self.db.apply_batch(batch_of(writes))?)
        }
    }
}
