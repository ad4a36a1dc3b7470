//! The ledger's storage in sled.
//!
//! Layout (one sled tree, so that one `apply_batch` is one atomic write):
//!
//! | key | value |
//! |---|---|
//! | `meta` | format tag, written by `init` |
//! | `head` | `seq` u64 BE · `hash` 32 bytes · `recorded_at` 20 ASCII bytes |
//! | `e` · first seq u64 BE | a block of up to 64 consecutive events (format 2: LZ4 of format 1) |
//! | `i` · bucket u16 BE | the id index: sorted entries (id 16 bytes · seq u64 BE) of the ids hashing to that bucket |
//! | `c` · case UTF-8 · 0x00 · first seq u64 BE | seqs (u64 BE each) of events about the case: the case index (derived, caught up lazily in chunks; see `subjects.rs`) |
//! | `s` · signal UTF-8 · 0x00 · first seq u64 BE | the same for signals |
//! | `wc` | seq u64 BE up to which the subject indexes are built |
//! | `f` · key | derived: memoised figure sets (`indicators::memo`) |
//! | `g` · bucket u16 BE | derived: fact digests of the subjects hashing to the bucket (`project::summary`) |
//! | `wg` | seq u64 BE · hash · buckets u16 BE: the chain prefix the digests are of, and their bucket count (absent or another count: none kept) |
//!
//! Why blocks: SLED-NOTES measured that every sled key costs about as much as a
//! ~310-byte event, so one key per event caps bulk append near 80 k events/s, while
//! blocks of 64 events reach ~210 k/s. For the same reason the id index is not one key
//! per id (measured here: 74 k random-id keys/s, the whole budget of a bulk append)
//! but 4096 buckets of sorted entries, merged once per append (and every 250 k events
//! of a long one); at 1 M events a bucket is ~6 KiB, and it stays under sled's 128 KiB
//! blob threshold up to ~20 M events. The case index is built lazily so bulk append
//! does not pay for it.
//!
//! **The head key commits.** Events and index entries with a seq above the head are
//! not part of the ledger: a long append spills its blocks ahead of the head, and only
//! the final batch, which writes the head, makes them visible. A crash before that
//! leaves garbage above the head, which `open` removes (blocks) or lookups ignore
//! (id entries above the head; the first merge into a bucket drops them, and a caller
//! confirms an entry by reading the event at its seq).

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use super::acked::Acked;
use super::ids::{bucket_lookup, id_bucket, id_bucket_key, ID_ENTRY};
use super::journal::Journal;
use super::merkle::Frontier;
use crate::files::sync_dir;

pub use super::block::{block_key, block_ranges, decode_block, unpack_block, Unpacked};
use super::guard::sled_dir;
pub use super::guard::{damaged, guarded, release_free_memory};
pub(crate) use super::guard::{lock, set_current_dir, SLED_DIR};

use crate::error::{Error, Result};
use crate::ledger::event::{Hash, Record, ZERO_HASH};
use crate::limits::SLED_BATCH_KEYS;

/// Format tag. Store 2 (issue 7) may hold LZ4 blocks and fact digests; a store-1
/// ledger is re-tagged when this version opens it, so an older binary refuses it by
/// its tag instead of failing on each new block.
pub(super) const FORMAT: &[u8] = b"caseledger-store-3";
pub(super) const FORMAT_1: &[u8] = b"caseledger-store-1";
/// Store 2 (issue 7) had no journal; store 3 (issue 14) is kept with `DIR/journal` and
/// `DIR/ACKED`, so an older binary, which would append without them, refuses it.
pub(super) const FORMAT_2: &[u8] = b"caseledger-store-2";
pub(super) const META_KEY: &[u8] = b"meta";
pub(super) const HEAD_KEY: &[u8] = b"head";
pub(crate) const CASE_WATERMARK_KEY: &[u8] = b"wc";
pub(crate) const CASE_PREFIX: u8 = b'c';
pub(crate) const SIGNAL_PREFIX: u8 = b's';
/// Derived data that callers above the ledger keep (memoised figures): `f` + key.
pub(super) const DERIVED_PREFIX: u8 = b'f';
/// The fact digests kept by `project::summary`: `g` + bucket u16 BE.
pub(super) const SUMMARY_PREFIX: u8 = b'g';
/// Seq u64 BE · hash 32 bytes · bucket count u16 BE: the prefix of the chain the
/// digests are of, and how many buckets they are spread over.
pub(super) const SUMMARY_MARK_KEY: &[u8] = b"wg";
/// The Merkle tree's kept nodes: `m` · level u8 · index u64 BE → 32 bytes (see
/// `merkle.rs`); written in the same batches as the events they cover.
pub(super) const TREE_PREFIX: u8 = b'm';
/// How many leaves the kept nodes cover (u64 BE), written with the head: a store made
/// before the tree (or a ledger whose tree was never built) has less, and is caught up.
pub(super) const TREE_MARK_KEY: &[u8] = b"wt";

/// The last committed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
    /// Empty for an empty ledger.
    pub recorded_at: String,
}

impl Head {
    pub(super) fn empty() -> Head {
        Head { seq: 0, hash: ZERO_HASH, recorded_at: String::new() }
    }
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(60);
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(self.recorded_at.as_bytes());
        v
    }
    pub(super) fn decode(b: &[u8]) -> Result<Head> {
        if b.len() != 40 && b.len() != 60 {
            return Err(Error::Integrity { seq: 0, reason: "the stored head record is damaged".into() });
        }
        let seq = u64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
        let hash: Hash = b[8..40].try_into().expect("32 bytes");
        let recorded_at = String::from_utf8(b[40..].to_vec())
            .map_err(|_| Error::Integrity { seq, reason: "the stored head record is damaged".into() })?;
        Ok(Head { seq, hash, recorded_at })
    }
}

/// [`Store::apply_in_parts`] on a handle of the store's database (a thread of the
/// writer's own writes a long append's spilled parts with it).
pub(super) fn apply_in_parts(db: &sled::Db, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        db.apply_batch(batch_of(writes.by_ref().take(SLED_BATCH_KEYS)))?;
    }
    Ok(())
}

/// One sled batch of writes (`None` removes).
pub(super) fn batch_of(writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for (key, value) in writes {
        match value {
            Some(v) => batch.insert(key, v),
            None => batch.remove(key),
        }
    }
    batch
}

pub struct Store {
    pub(super) db: sled::Db,
    /// sled's log file, fsynced after each flush (sled's own flush ends in
    /// `sync_file_range`, which does not survive power loss).
    pub(super) dbfile: File,
    /// The ledger directory.
    pub(super) dir: PathBuf,
    /// The committed head. Readers take a copy and read up to it: committed blocks
    /// never change, so a copy of the head is a consistent snapshot.
    pub(super) head: RwLock<Head>,
    /// Held by the one [`Writer`] at a time.
    pub(super) write: Mutex<()>,
    /// The second copy of every committed event (SPEC §13); written by the [`Writer`]
    /// that holds `write`.
    pub(crate) journal: Mutex<Journal>,
    /// The head last acknowledged, kept outside sled.
    pub(crate) acked: Mutex<Acked>,
    /// Set when a commit failed part way: sled's memory may then be ahead of its disk,
    /// so this process writes nothing more.
    pub(super) poisoned: AtomicBool,
    /// Held while the subject indexes catch up with the head.
    pub(crate) subjects: Mutex<()>,
    /// Held by a `verify` while it compares the journal with the store and heals it
    /// (two at once would rewrite under each other's reads).
    pub(crate) verifying: Mutex<()>,
    /// The Merkle tree's frontier at the head, kept by the writers.
    pub(super) frontier: Mutex<Option<Frontier>>,
    /// Held while the fact digests are read or brought up to date.
    /// (With the digests' write a holder left behind, if any: see `SummaryHeld`.)
    pub(super) summary: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// sled's blob directory and the blob files already fsynced (see [`Store::sync`]).
    pub(super) blobs: Mutex<(PathBuf, HashSet<std::ffi::OsString>)>,
    pub(super) _lock: File,
}

impl Drop for Store {
    fn drop(&mut self) {
        // The digests' write left behind the lock holds a handle on sled: it ends
        // first, so that its buckets are flushed with the rest and sled can close.
        if let Some(writing) = self.summary.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writing.join();
        }
    }
}

impl Store {
    /// Waits for the digests' write left behind the lock, if any, and writes sled's
    /// buffers to its file (not fsynced: see `Ledger::leave`).
    pub(super) fn settle(&self) -> Result<()> {
        drop(self.summary_lock());
        self.db.flush()?;
        Ok(())
    }

    /// The committed event with this id.
    pub fn record_by_id(&self, id: &uuid::Uuid) -> Result<Option<Record>> {
        match self.lookup_id(id)? {
            Some(seq) => Ok(self.record(seq)?.filter(|r| r.parse().is_ok_and(|e| e.id == *id))),
            None => Ok(None),
        }
    }

    /// Visits committed events from `from_seq` on, in order, while `f` returns true.
    pub fn for_each_in(&self, from_seq: u64, mut f: impl FnMut(u64, Record) -> Result<bool>) -> Result<()> {
        let head = self.head_seq();
        for block in self.blocks(from_seq) {
            let (first, bytes) = block?;
            if first > head {
                break;
            }
            let records = decode_block(&bytes).map_err(|reason| Error::Integrity { seq: first, reason })?;
            for (i, rec) in records.into_iter().enumerate() {
                let seq = first + i as u64;
                if seq >= from_seq && seq <= head && !f(seq, rec)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn assemble(
        dir: &Path,
        db: sled::Db,
        dbfile: File,
        head: Head,
        journal: Journal,
        acked: Acked,
        lock: File,
    ) -> Store {
        Store {
            db,
            dbfile,
            dir: dir.to_path_buf(),
            blobs: Mutex::new((sled_dir(dir).join("blobs"), HashSet::new())),
            head: RwLock::new(head),
            write: Mutex::new(()),
            journal: Mutex::new(journal),
            acked: Mutex::new(acked),
            poisoned: AtomicBool::new(false),
            subjects: Mutex::new(()),
            verifying: Mutex::new(()),
            frontier: Mutex::new(None),
            summary: Mutex::new(None),
            _lock: lock,
        }
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed head's seq.
    pub fn head_seq(&self) -> u64 {
        self.head.read().unwrap_or_else(|e| e.into_inner()).seq
    }

    /// A copy of the committed head.
    pub fn head(&self) -> Head {
        self.head.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Removes blocks left above the head by an append that did not commit.
    pub(super) fn remove_blocks_above_head(&self) -> Result<()> {
        let mut removals = Vec::new();
        for item in self.db.range(block_key(self.head().seq + 1)..=block_key(u64::MAX)) {
            removals.push((item?.0.to_vec(), None));
        }
        if !removals.is_empty() {
            tracing::info!(blocks = removals.len(), "removing storage blocks of an append that did not commit");
            // Garbage above the head: no need to be atomic.
            self.apply_in_parts(removals)?;
        }
        Ok(())
    }

    /// Applies writes (`None` removes) in order, in batches of [`SLED_BATCH_KEYS`]:
    /// for derived data, where a crash part way is repaired by writing again.
    pub fn apply_in_parts(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        apply_in_parts(&self.db, writes)
    }

    /// Makes everything applied so far durable: sled's flush, then an fsync of its log.
    pub fn sync(&self) -> Result<()> {
        self.db.flush()?;
        self.dbfile.sync_data()?;
        self.sync_blobs()
    }

    /// fsyncs every sled blob file not fsynced yet. sled writes a page frame larger
    /// than a quarter segment to a blob file and never fsyncs it; the segment size
    /// keeps this program's pages below that (so the directory is empty and this costs
    /// one directory read), but a ledger made with smaller segments, or a leaf of
    /// several maximum-size incompressible events, would otherwise depend on an
    /// unsynced file.
    pub(super) fn sync_blobs(&self) -> Result<()> {
        let mut guard = self.blobs.lock().unwrap_or_else(|e| e.into_inner());
        let (dir, synced) = &mut *guard;
        let Ok(entries) = fs::read_dir(&*dir) else { return Ok(()) };
        let mut any = false;
        for entry in entries {
            let entry = entry?;
            if synced.contains(&entry.file_name()) {
                continue;
            }
            match File::open(entry.path()).and_then(|f| f.sync_data()) {
                Ok(()) => {
                    synced.insert(entry.file_name());
                    any = true;
                }
                // sled removes blobs it no longer needs.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::storage(&format!("syncing {}", entry.path().display()), e)),
            }
        }
        if any {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// The seq of the committed event with this id, if any.
    /// The seq the id index gives for this id, if any and committed. The caller
    /// confirms it by reading the event there (an entry left by an append that did not
    /// commit may name a seq that a later append reused).
    pub fn lookup_id(&self, id: &uuid::Uuid) -> Result<Option<u64>> {
        let Some(v) = self.db.get(id_bucket_key(id_bucket(id)))? else { return Ok(None) };
        if v.len() % ID_ENTRY != 0 {
            return Err(Error::Storage(format!("the id index bucket of {id} is damaged")));
        }
        Ok(bucket_lookup(&v, id.as_bytes()).filter(|seq| *seq >= 1 && *seq <= self.head_seq()))
    }

    /// The committed event at `seq`.
    pub fn record(&self, seq: u64) -> Result<Option<Record>> {
        if seq == 0 || seq > self.head_seq() {
            return Ok(None);
        }
        let Some(item) = self.db.range(block_key(1)..=block_key(seq)).next_back() else { return Ok(None) };
        let (k, v) = item?;
        let first = u64::from_be_bytes(k[1..9].try_into().expect("block key"));
        let mut records = decode_block(&v).map_err(|reason| Error::Integrity { seq: first, reason })?;
        let at = (seq - first) as usize;
        if at >= records.len() {
            return Ok(None);
        }
        Ok(Some(records.swap_remove(at)))
    }

    /// Committed blocks from the one holding `from_seq` on, in order, each with the
    /// seq its key names. Blocks are decoded by the caller.
    pub fn blocks(&self, from_seq: u64) -> impl Iterator<Item = Result<(u64, sled::IVec)>> + '_ {
        let head = self.head_seq();
        let range = (head > 0 && from_seq <= head).then(|| {
            // The block holding `from_seq` starts at or before it.
            let start = match self.db.range(block_key(1)..=block_key(from_seq.max(1))).next_back() {
                Some(Ok((k, _))) => k.to_vec(),
                _ => block_key(1).to_vec(),
            };
            self.db.range(start..=block_key(head).to_vec())
        });
        range.into_iter().flatten().map(|item| {
            let (k, v) = item?;
            if k.len() != 9 {
                return Err(Error::Integrity { seq: 0, reason: "a storage key is damaged".into() });
            }
            Ok((u64::from_be_bytes(k[1..9].try_into().expect("block key")), v))
        })
    }

    /// Refuses once a write failed part way in this process (sled's memory or the
    /// journal's bookkeeping may then be ahead of the disk).
    pub(crate) fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(Error::Storage(
                "an earlier write to this ledger failed part way; this process writes nothing more (run the \
                 command again, or restart the service)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Marks the store as written part way (see [`Store::check_poisoned`]).
    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
    }

    /// The acknowledged head, kept outside sled.
    pub fn acked(&self) -> (u64, Hash) {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::block::encode_block;
    use crate::ledger::ids::bucket_merge;

    #[test]
    fn block_round_trip_and_damage() {
        let recs = vec![
            Record { hash: [1; 32], canonical: b"{\"a\":1}".to_vec() },
            Record { hash: [2; 32], canonical: b"{}".to_vec() },
        ];
        let enc = encode_block(&recs);
        assert_eq!(decode_block(&enc).unwrap(), recs);
        assert!(decode_block(&enc[..enc.len() - 1]).is_err());
        let mut longer = enc.clone();
        longer.push(0);
        assert!(decode_block(&longer).is_err());
    }

    #[test]
    fn id_buckets_merge_sorted_and_drop_garbage() {
        let a = [1u8; 16];
        let b = [2u8; 16];
        let c = [3u8; 16];
        let first = bucket_merge(&[], 0, &[(a, 1), (c, 3)]);
        assert_eq!(bucket_lookup(&first, &a), Some(1));
        assert_eq!(bucket_lookup(&first, &b), None);
        // Entry c (seq 3) is above a committed head of 2: dropped on merge.
        let second = bucket_merge(&first, 2, &[(b, 2)]);
        assert_eq!(second.len(), 2 * ID_ENTRY);
        assert_eq!(bucket_lookup(&second, &b), Some(2));
        assert_eq!(bucket_lookup(&second, &c), None);
    }

    /// More buckets than one batch holds go in parts under the mark; a later write of
    /// a few with `replace_all` leaves only those.
    #[test]
    fn digest_buckets_written_in_parts_then_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::create(&tmp.path().join("l")).unwrap();
        let many = SLED_BATCH_KEYS * 2 + 3;
        let buckets = (0..many as u16).map(|b| (b, Some(vec![b as u8; 3]))).collect();
        store.summary_area().write(buckets, Some((7, [7; 32])), false).unwrap();
        assert_eq!(store.summary_mark().unwrap(), Some((7, [7; 32])));
        let stored: Vec<(u16, sled::IVec)> = store.summary_buckets().collect::<Result<_>>().unwrap();
        assert_eq!(stored.len(), many);
        assert!(stored.iter().all(|(b, v)| v.as_ref() == [*b as u8; 3]));

        store.summary_area().write(vec![(5, Some(vec![1])), (900, Some(vec![2]))], Some((8, [8; 32])), true).unwrap();
        assert_eq!(store.summary_mark().unwrap(), Some((8, [8; 32])));
        let stored: Vec<(u16, Vec<u8>)> =
            store.summary_buckets().map(|r| r.map(|(b, v)| (b, v.to_vec()))).collect::<Result<_>>().unwrap();
        assert_eq!(stored, vec![(5, vec![1]), (900, vec![2])]);
    }

    /// An append that spilled id entries and never committed leaves them in their
    /// buckets; once later commits pass their seqs they look committed. When the id is
    /// stored for real, only the new entry may remain.
    #[test]
    fn a_stale_entry_for_a_stored_id_is_replaced() {
        let (x, y) = ([7u8; 16], [9u8; 16]);
        let stale = bucket_merge(&[], 0, &[(x, 5), (y, 6)]);
        let merged = bucket_merge(&stale, 10, &[(x, 12)]);
        assert_eq!(merged.len(), 2 * ID_ENTRY);
        assert_eq!(bucket_lookup(&merged, &x), Some(12));
        assert_eq!(bucket_lookup(&merged, &y), Some(6));
    }

    #[test]
    pub(super) fn v7_ids_spread_over_buckets() {
        let mut seen = HashSet::new();
        for _ in 0..20_000 {
            seen.insert(id_bucket(&uuid::Uuid::now_v7()));
        }
        assert!(seen.len() > 4000, "only {} of 4096 buckets used", seen.len());
    }
}
