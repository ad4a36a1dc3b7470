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

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use super::journal::{Acked, AckedState, Journal, JournalSync};
use super::merkle::{self, Frontier};

use crate::error::{Error, Result};
use crate::ledger::event::{Hash, Record, ZERO_HASH};
use crate::limits::{
    BLOCK_MAX_EVENTS, BLOCK_TARGET_BYTES, ID_MERGE_EVENTS, SLED_BATCH_KEYS, SLED_CACHE_BYTES, SLED_SEGMENT_BYTES,
    SPILL_EVENTS, SUMMARY_BUCKETS,
};
use std::collections::{HashMap, HashSet};

/// Format tag. Store 2 (issue 7) may hold LZ4 blocks and fact digests; a store-1
/// ledger is re-tagged when this version opens it, so an older binary refuses it by
/// its tag instead of failing on each new block.
const FORMAT: &[u8] = b"caseledger-store-3";
const FORMAT_1: &[u8] = b"caseledger-store-1";
/// Store 2 (issue 7) had no journal; store 3 (issue 14) is kept with `DIR/journal` and
/// `DIR/ACKED`, so an older binary, which would append without them, refuses it.
const FORMAT_2: &[u8] = b"caseledger-store-2";
const META_KEY: &[u8] = b"meta";
const HEAD_KEY: &[u8] = b"head";
pub(crate) const CASE_WATERMARK_KEY: &[u8] = b"wc";
const BLOCK_PREFIX: u8 = b'e';
const ID_PREFIX: u8 = b'i';
pub(crate) const CASE_PREFIX: u8 = b'c';
pub(crate) const SIGNAL_PREFIX: u8 = b's';
/// Derived data that callers above the ledger keep (memoised figures): `f` + key.
const DERIVED_PREFIX: u8 = b'f';
/// The fact digests kept by `project::summary`: `g` + bucket u16 BE.
const SUMMARY_PREFIX: u8 = b'g';
/// Seq u64 BE · hash 32 bytes · bucket count u16 BE: the prefix of the chain the
/// digests are of, and how many buckets they are spread over.
const SUMMARY_MARK_KEY: &[u8] = b"wg";
/// The Merkle tree's kept nodes: `m` · level u8 · index u64 BE → 32 bytes (see
/// `merkle.rs`); written in the same batches as the events they cover.
const TREE_PREFIX: u8 = b'm';
/// How many leaves the kept nodes cover (u64 BE), written with the head: a store made
/// before the tree (or a ledger whose tree was never built) has less, and is caught up.
const TREE_MARK_KEY: &[u8] = b"wt";
/// Block formats: 1 = events as they are; 2 = the same bytes, LZ4-compressed (written
/// since issue 7: sled keeps the pages it touches in memory and rewrites whole leaves,
/// so smaller values mean less memory, fewer bytes written, and less disk).
const BLOCK_VERSION: u8 = 1;
const BLOCK_LZ4: u8 = 2;
/// Bound on a block's uncompressed size: 64 events, or one event of the largest size.
const MAX_RAW_BLOCK_BYTES: usize = 4 * 1024 * 1024;

/// Returns freed heap pages to the system (glibc keeps them otherwise: a bulk append
/// of a million events held ~400 MB of RSS over its live heap).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only releases free memory back to the system; it has no
        // preconditions and is thread-safe in glibc.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The last committed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
    /// Empty for an empty ledger.
    pub recorded_at: String,
}

impl Head {
    fn empty() -> Head {
        Head { seq: 0, hash: ZERO_HASH, recorded_at: String::new() }
    }
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(60);
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(self.recorded_at.as_bytes());
        v
    }
    fn decode(b: &[u8]) -> Result<Head> {
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

pub fn block_key(first_seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = BLOCK_PREFIX;
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

/// Number of id-index buckets (a power of two).
const ID_BUCKETS: u64 = 4096;
const ID_ENTRY: usize = 24;

/// The bucket of an id: a multiplicative hash of all its bits, so that time-ordered
/// UUIDv7 ids spread as evenly as random ones.
fn derived_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(DERIVED_PREFIX);
    k.extend_from_slice(key);
    k
}

fn tree_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = TREE_PREFIX;
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

fn summary_bucket_key(bucket: u16) -> [u8; 3] {
    let [a, b] = bucket.to_be_bytes();
    [SUMMARY_PREFIX, a, b]
}

/// The bucket a digest key names (`None`: a malformed key).
fn summary_bucket_of(key: &[u8]) -> Option<u16> {
    key.get(1..3).and_then(|b| b.try_into().ok()).map(u16::from_be_bytes)
}

/// One sled batch of writes (`None` removes).
fn batch_of(writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for (key, value) in writes {
        match value {
            Some(v) => batch.insert(key, v),
            None => batch.remove(key),
        }
    }
    batch
}

fn id_bucket(id: &uuid::Uuid) -> u16 {
    let x = id.as_u128();
    let folded = (x as u64) ^ ((x >> 64) as u64);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - ID_BUCKETS.trailing_zeros())) as u16
}

fn id_bucket_key(bucket: u16) -> [u8; 3] {
    let b = bucket.to_be_bytes();
    [ID_PREFIX, b[0], b[1]]
}

/// Finds an id in a bucket's sorted entries.
fn bucket_lookup(bucket: &[u8], id: &[u8; 16]) -> Option<u64> {
    let n = bucket.len() / ID_ENTRY;
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let e = &bucket[mid * ID_ENTRY..(mid + 1) * ID_ENTRY];
        match e[..16].cmp(&id[..]) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(u64::from_be_bytes(e[16..].try_into().expect("8 bytes"))),
        }
    }
    None
}

/// Merges new sorted entries into a bucket, keeping existing entries with seq ≤
/// `keep_upto` (entries above it are garbage of an append that never committed). An
/// existing entry with the id of a new one is dropped: a stored id is never pushed
/// again (an append acks it as a duplicate), so that entry is garbage of an append
/// that never committed whose seq a later commit has since reached — left, it could
/// be found instead of the new one, and the id could then be stored twice.
fn bucket_merge(existing: &[u8], keep_upto: u64, new: &[([u8; 16], u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(existing.len() + new.len() * ID_ENTRY);
    let old = existing
        .chunks_exact(ID_ENTRY)
        .filter(|e| u64::from_be_bytes(e[16..].try_into().expect("8 bytes")) <= keep_upto);
    let mut old = old.peekable();
    let mut new = new.iter().peekable();
    loop {
        let take_old = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(o), Some(n)) if o[..16] == n.0[..] => {
                old.next();
                continue;
            }
            (Some(o), Some(n)) => o[..16] < n.0[..],
        };
        if take_old {
            out.extend_from_slice(old.next().expect("peeked"));
        } else {
            let (id, seq) = new.next().expect("peeked");
            out.extend_from_slice(id);
            out.extend_from_slice(&seq.to_be_bytes());
        }
    }
    out
}

/// Block encoding: version u8 · count u16 LE · count × (hash 32 · len u32 LE · bytes).
pub fn encode_block(records: &[Record]) -> Vec<u8> {
    let raw = encode_block_raw(records);
    let mut out = Vec::with_capacity(5 + raw.len() / 2);
    out.push(BLOCK_LZ4);
    out.extend_from_slice(&u32::try_from(raw.len()).expect("a block fits u32").to_le_bytes());
    out.extend_from_slice(&lz4_flex::block::compress(&raw));
    out
}

/// The uncompressed form (version 1): count, then `hash · len · canonical` per event.
pub fn encode_block_raw(records: &[Record]) -> Vec<u8> {
    let size: usize = records.iter().map(|r| 36 + r.canonical.len()).sum();
    let mut out = Vec::with_capacity(3 + size);
    out.push(BLOCK_VERSION);
    out.extend_from_slice(&u16::try_from(records.len()).expect("block count fits u16").to_le_bytes());
    for r in records {
        out.extend_from_slice(&r.hash);
        out.extend_from_slice(&u32::try_from(r.canonical.len()).expect("event fits u32").to_le_bytes());
        out.extend_from_slice(&r.canonical);
    }
    out
}

/// Decodes a block, refusing any framing that does not add up.
pub fn decode_block(b: &[u8]) -> std::result::Result<Vec<Record>, String> {
    let raw = unpack_block(b)?;
    Ok(block_records(&raw)?.into_iter().map(|(hash, c)| Record { hash, canonical: c.to_vec() }).collect())
}

/// A block unpacked and split: its bytes and each record's hash and canonical bytes'
/// range in them (what `verify` reads once and hands on to the journal's comparison).
pub struct Unpacked {
    pub bytes: Vec<u8>,
    pub records: Vec<(Hash, std::ops::Range<usize>)>,
}

/// A block's uncompressed form: version 1 as stored, version 2 decompressed (at most
/// [`MAX_RAW_BLOCK_BYTES`]; a damaged block is refused, never trusted).
pub fn unpack_block(b: &[u8]) -> std::result::Result<std::borrow::Cow<'_, [u8]>, String> {
    match b.first() {
        Some(&BLOCK_VERSION) => Ok(std::borrow::Cow::Borrowed(b)),
        Some(&BLOCK_LZ4) if b.len() >= 5 => {
            let len = u32::from_le_bytes(b[1..5].try_into().expect("4 bytes")) as usize;
            if len > MAX_RAW_BLOCK_BYTES {
                return Err("storage block is damaged (its stated size is too large)".into());
            }
            match lz4_flex::block::decompress(&b[5..], len) {
                Ok(raw) if raw.len() == len => Ok(std::borrow::Cow::Owned(raw)),
                _ => Err("storage block is damaged (it does not decompress)".into()),
            }
        }
        _ => Err("storage block has an unknown format".into()),
    }
}

/// The records of a block, as (hash, canonical bytes) borrowed from it.
pub fn block_records(b: &[u8]) -> std::result::Result<Vec<(Hash, &[u8])>, String> {
    Ok(block_ranges(b)?.into_iter().map(|(hash, range)| (hash, &b[range])).collect())
}

/// [`block_records`] as byte ranges of the block (to hand the block on with them).
pub fn block_ranges(b: &[u8]) -> std::result::Result<Vec<(Hash, std::ops::Range<usize>)>, String> {
    if b.len() < 3 || b[0] != BLOCK_VERSION {
        return Err("storage block has an unknown format".into());
    }
    let count = usize::from(u16::from_le_bytes([b[1], b[2]]));
    let mut out = Vec::with_capacity(count);
    let mut at = 3;
    for _ in 0..count {
        if b.len() < at + 36 {
            return Err("storage block is truncated".into());
        }
        let hash: Hash = b[at..at + 32].try_into().expect("32 bytes");
        let len = u32::from_le_bytes(b[at + 32..at + 36].try_into().expect("4 bytes")) as usize;
        at += 36;
        if b.len() < at + len {
            return Err("storage block is truncated".into());
        }
        out.push((hash, at..at + len));
        at += len;
    }
    if at != b.len() {
        return Err("storage block has trailing bytes".into());
    }
    Ok(out)
}

pub struct Store {
    db: sled::Db,
    /// sled's log file, fsynced after each flush (sled's own flush ends in
    /// `sync_file_range`, which does not survive power loss).
    dbfile: File,
    /// The ledger directory.
    dir: PathBuf,
    /// The committed head. Readers take a copy and read up to it: committed blocks
    /// never change, so a copy of the head is a consistent snapshot.
    head: RwLock<Head>,
    /// Held by the one [`Writer`] at a time.
    write: Mutex<()>,
    /// The second copy of every committed event (SPEC §13); written by the [`Writer`]
    /// that holds `write`.
    pub(crate) journal: Mutex<Journal>,
    /// The head last acknowledged, kept outside sled.
    pub(crate) acked: Mutex<Acked>,
    /// Set when a commit failed part way: sled's memory may then be ahead of its disk,
    /// so this process writes nothing more.
    poisoned: AtomicBool,
    /// Held while the subject indexes catch up with the head.
    pub(crate) subjects: Mutex<()>,
    /// Held by a `verify` while it compares the journal with the store and heals it
    /// (two at once would rewrite under each other's reads).
    pub(crate) verifying: Mutex<()>,
    /// The Merkle tree's frontier at the head, kept by the writers.
    frontier: Mutex<Option<Frontier>>,
    /// Held while the fact digests are read or brought up to date.
    summary: Mutex<()>,
    /// sled's blob directory and the blob files already fsynced (see [`Store::sync`]).
    blobs: Mutex<(PathBuf, HashSet<std::ffi::OsString>)>,
    _lock: File,
}

/// The ledger directory of the store this process opened last, for messages about it
/// that are made far from the open (a sled error met while reading).
static CURRENT_DIR: Mutex<Option<String>> = Mutex::new(None);

pub fn current_dir() -> String {
    CURRENT_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| "the ledger directory".into())
}

pub(crate) fn set_current_dir(dir: &Path) {
    *CURRENT_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.display().to_string());
}

/// "The store in DIR is damaged (…); run caseledger recover".
pub fn damaged(dir: &Path, detail: impl Into<String>) -> Error {
    Error::Damaged { dir: dir.display().to_string(), detail: detail.into() }
}

/// Runs `f`, turning a panic inside it (sled panics on some damaged files) into the
/// damaged-store error.
pub fn guarded<T>(dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::panics::quietly(f).unwrap_or_else(|detail| Err(damaged(dir, format!("sled failed: {detail}"))))
}

/// The sled store's directory under the ledger's.
pub(crate) const SLED_DIR: &str = "sled";

fn sled_dir(dir: &Path) -> PathBuf {
    dir.join(SLED_DIR)
}

use super::journal::sync_dir;

/// Takes the ledger's own lock before sled is touched (see SLED-NOTES: a second
/// process must get a clear error, and a leftover snapshot must be removed only by
/// the process that holds the lock).
pub(crate) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::storage(&format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::InUse(dir.display().to_string())),
        Err(fs::TryLockError::Error(e)) => Err(Error::storage(&format!("locking {}", path.display()), e)),
    }
}

/// sled writes `snap.<lsn>.generating` while opening; a kill at that moment leaves a
/// file that later opens mistake for a snapshot (sled #1527, #1533). The snapshot is
/// only a cache of the log, so removing a leftover one loses nothing.
fn remove_partial_snapshots(sdir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(sdir) else { return Ok(()) };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".generating") {
            tracing::info!(file = %entry.path().display(), "removing a partial sled snapshot (a crash or a full disk stopped sled writing it)");
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The segment size a store was created with (sled refuses to open it with another),
/// read from sled's `conf` file: `Ok(None)` for a new store; an error when the file
/// fails its own checksum (sled would only log that, then trust a damaged size).
fn stored_segment_size(dir: &Path, sdir: &Path) -> Result<Option<usize>> {
    let path = sdir.join("conf");
    let conf = match fs::read(&path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(super::journal::io_error("reading", &path, e)),
    };
    // sled's layout: the settings as text lines, then their CRC-32, little-endian.
    let damaged_conf = || damaged(dir, format!("sled's settings file {} is damaged", path.display()));
    let intact = conf.len() > 8 && {
        let (text, crc) = conf.split_at(conf.len() - 4);
        crc32fast::hash(text).to_le_bytes() == crc
    };
    if !intact {
        // The file says only what this program told sled; when the damaged bytes still
        // tell which of the two settings it ever used they were, it is written again.
        let size = guess_conf(&conf).ok_or_else(damaged_conf)?;
        crate::files::write_atomically(&path, |w| Ok(w.write_all(&sled_conf(size))?))?;
        eprintln!("sled's settings file {} was damaged; it was written again (segment_size {size})", path.display());
        return Ok(Some(size));
    }
    let text = std::str::from_utf8(&conf[..conf.len() - 4]).map_err(|_| damaged_conf())?;
    let size = text.lines().find_map(|l| l.strip_prefix("segment_size: ")).and_then(|n| n.trim().parse().ok());
    size.map(Some).ok_or_else(damaged_conf)
}

/// Opens sled. When sled cannot read its files and a snapshot is there, the snapshot
/// (only a cache of sled's log) is moved aside to `DIR/damaged-<stamp>/` and sled is
/// opened once more, rebuilding it from the log; what the log then holds is compared
/// with the journal like any other open.
/// sled 0.34's `conf` for a segment size, byte for byte as sled writes it.
fn sled_conf(segment_size: usize) -> Vec<u8> {
    let mut out = format!("segment_size: {segment_size}\nuse_compression: false\nversion: 0.34\n").into_bytes();
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Which of the segment sizes this program gave sled (2 MiB now, sled's 512 KiB
/// before) a damaged `conf` was written for: the one it differs from in at most 4
/// bytes, or of which it is a prefix long enough to tell them apart.
fn guess_conf(damaged: &[u8]) -> Option<usize> {
    let fits = |size: usize| {
        let want = sled_conf(size);
        if damaged.len() == want.len() {
            want.iter().zip(damaged).filter(|(a, b)| a != b).count() <= 4
        } else {
            damaged.len() >= 16 && damaged.len() < want.len() && want.starts_with(damaged)
        }
    };
    let sizes: Vec<usize> = [SLED_SEGMENT_BYTES, 512 * 1024].into_iter().filter(|s| fits(*s)).collect();
    (sizes.len() == 1).then(|| sizes[0])
}

fn open_sled(dir: &Path, sdir: &Path) -> Result<sled::Db> {
    match open_sled_once(dir, sdir) {
        Err(first @ Error::Damaged { .. }) => {
            let Some(moved) = move_snapshots_aside(dir, sdir)? else { return Err(first) };
            let db = open_sled_once(dir, sdir).map_err(|_| first)?;
            eprintln!(
                "sled could not read its files in {}; its snapshot (a cache of its log) was moved to {} and \
                 sled read its log again",
                sdir.display(),
                moved.display()
            );
            Ok(db)
        }
        other => other,
    }
}

fn move_snapshots_aside(dir: &Path, sdir: &Path) -> Result<Option<PathBuf>> {
    let snapshots: Vec<PathBuf> = fs::read_dir(sdir)
        .map_err(|e| super::journal::io_error("reading", sdir, e))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
        .map(|e| e.path())
        .collect();
    if snapshots.is_empty() {
        return Ok(None);
    }
    let moved = dir.join(format!("damaged-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")));
    fs::create_dir_all(&moved).map_err(|e| super::journal::io_error("creating", &moved, e))?;
    for snap in snapshots {
        let to = moved.join(snap.file_name().unwrap_or_default());
        fs::rename(&snap, &to).map_err(|e| super::journal::io_error("moving", &snap, e))?;
    }
    sync_dir(sdir)?;
    sync_dir(dir)?;
    Ok(Some(moved))
}

fn open_sled_once(dir: &Path, sdir: &Path) -> Result<sled::Db> {
    let segment = stored_segment_size(dir, sdir)?.unwrap_or(SLED_SEGMENT_BYTES);
    if segment < SLED_SEGMENT_BYTES {
        tracing::warn!(
            segment,
            "this ledger's store was made with small sled segments: its larger pages go to sled blob files, \
             which sled does not fsync; move it to a new ledger by `export` then `import`"
        );
    }
    let config = sled::Config::new()
        .path(sdir)
        .segment_size(segment)
        .cache_capacity(SLED_CACHE_BYTES)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput);
    // The caller holds the ledger's own LOCK, so no other process has this store. sled's
    // IO threads may still hold its file for a moment after the same process dropped
    // an earlier handle (seen as a rare WouldBlock when reopening in process): wait
    // for them, briefly, instead of failing.
    let mut waited = 0;
    loop {
        match guarded(dir, || Ok(config.open()))? {
            // sled reports it as an `Other` error whose text names the lock.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && waited < SLED_REOPEN_WAIT_MS =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
                waited += 10;
            }
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if crate::error::is_disk_full(&e) => {
                return Err(Error::NoSpace(sdir.join("db").display().to_string()))
            }
            Err(sled::Error::Io(e)) => {
                return Err(Error::storage(&format!("opening the store in {}", sdir.display()), e))
            }
            Err(sled::Error::Corruption { .. }) => {
                return Err(damaged(dir, "sled cannot read its own files: they fail its checksums"))
            }
            Err(e) => return Err(damaged(dir, e.to_string())),
        }
    }
}

/// How long an open waits for this process's own sled IO threads to let go of a store.
const SLED_REOPEN_WAIT_MS: u64 = 2_000;

impl Store {
    /// Creates an empty ledger in `dir` (which may exist but must not hold a ledger):
    /// the journal and the acknowledged head first, then the store.
    pub fn create(dir: &Path) -> Result<Store> {
        if sled_dir(dir).exists() {
            return Err(Error::refused(crate::error::Refusal::new(
                None,
                format!("{} already holds a ledger; init refuses to touch it", dir.display()),
            )));
        }
        fs::create_dir_all(dir).map_err(|e| super::journal::io_error("creating", dir, e))?;
        let lock = lock(dir)?;
        set_current_dir(dir);
        Journal::create(dir)?;
        let acked = Acked::open(dir, (0, ZERO_HASH))?;
        let db = open_sled(dir, &sled_dir(dir))?;
        let mut batch = sled::Batch::default();
        batch.insert(META_KEY, FORMAT);
        batch.insert(HEAD_KEY, Head::empty().encode());
        db.apply_batch(batch)?;
        db.flush()?;
        let dbfile = File::open(sled_dir(dir).join("db"))?;
        dbfile.sync_all()?;
        sync_dir(&sled_dir(dir))?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        let (mut journal, _) = Journal::open(dir)?;
        journal.settle(0, ZERO_HASH)?;
        super::format::write(dir)?;
        Ok(Store::assemble(dir, db, dbfile, Head::empty(), journal, acked, lock))
    }

    /// Opens an existing ledger for exclusive use: takes the lock, opens the store, and
    /// compares it with the journal and the acknowledged head, healing what one copy
    /// lacks from the other (see `heal.rs`).
    pub fn open(dir: &Path) -> Result<Store> {
        let sdir = sled_dir(dir);
        let interrupted = super::heal::recover_was_interrupted(dir);
        if !sdir.join("db").exists() && !interrupted {
            return Err(Error::Storage(if Journal::exists(dir) {
                format!(
                    "the store in {} is missing; run caseledger recover to rebuild it from the journal",
                    dir.display()
                )
            } else {
                format!("no ledger at {} (create one with `caseledger init`, or pass --ledger DIR)", dir.display())
            }));
        }
        let lock = lock(dir)?;
        set_current_dir(dir);
        let stated = super::format::read(dir)?;
        super::format::check_not_newer(dir)?;
        super::heal::finish_interrupted_recover(dir)?;
        remove_partial_snapshots(&sdir)?;
        let db = open_sled(dir, &sdir)?;
        let store = guarded(dir, || Store::open_db(dir, db, lock))?;
        if stated.is_none_or(|s| s.format != super::format::STORE_FORMAT) {
            super::format::write(dir)?;
        }
        Ok(store)
    }

    fn open_db(dir: &Path, db: sled::Db, lock: File) -> Result<Store> {
        let sdir = sled_dir(dir);
        let (journal, tail) = Journal::open(dir)?;
        let (acked_state, _) = Acked::read(dir)?;
        let holds_events = tail.seq > 0 || matches!(acked_state, AckedState::Head(seq, _) if seq > 0);
        match db.get(META_KEY)? {
            Some(v) if v.as_ref() == FORMAT => {
                if acked_state == AckedState::Missing {
                    // A ledger with a journal always has it: someone removed it, or this
                    // directory was put together from parts of a backup.
                    eprintln!(
                        "the acknowledged head {} was missing; it is written again from the store and the \
                         journal, which cannot tell whether both lost their latest events",
                        Acked::path(dir).display()
                    );
                }
            }
            Some(v) if v.as_ref() == FORMAT_1 || v.as_ref() == FORMAT_2 => {
                // Upgraded in place, after a copy of what was there.
                db.flush()?;
                super::format::copy_aside(dir, if v.as_ref() == FORMAT_1 { 1 } else { 2 })?;
                db.insert(META_KEY, FORMAT)?;
            }
            Some(_) => return Err(Error::Storage(format!("{} holds a ledger of an unknown format", dir.display()))),
            // sled cut its log back to before init: the journal holds the ledger.
            None if holds_events => {
                let mut batch = sled::Batch::default();
                batch.insert(META_KEY, FORMAT);
                batch.insert(HEAD_KEY, Head::empty().encode());
                db.apply_batch(batch)?;
            }
            None => {
                return Err(Error::Storage(format!(
                    "{} holds an unfinished ledger (init was interrupted): remove the directory and init again",
                    dir.display()
                )))
            }
        }
        let head = match db.get(HEAD_KEY)? {
            Some(v) => Head::decode(&v).map_err(|_| damaged(dir, "the stored head record does not decode"))?,
            // Written with the format tag in one batch (and by the repair above): a
            // cut log never leaves one without the other.
            None => return Err(damaged(dir, "the store's head record is missing")),
        };
        let dbfile = File::open(sdir.join("db"))?;
        let acked = Acked::open_unchecked(dir)?;
        let store = Store::assemble(dir, db, dbfile, head, journal, acked, lock);
        store.remove_blocks_above_head()?;
        super::heal::reconcile(&store, tail, acked_state)?;
        Ok(store)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
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
            summary: Mutex::new(()),
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
    fn remove_blocks_above_head(&self) -> Result<()> {
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

    /// Serialises readers and maintainers of the fact digests.
    pub fn summary_lock(&self) -> MutexGuard<'_, ()> {
        self.summary.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The chain prefix (seq, hash) the stored digests are of, if any (and if they
    /// were spread over the same number of buckets as now).
    pub fn summary_mark(&self) -> Result<Option<(u64, Hash)>> {
        Ok(self.db.get(SUMMARY_MARK_KEY)?.and_then(|v| {
            let seq = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
            let hash: Hash = v.get(8..40)?.try_into().ok()?;
            let buckets = u16::from_be_bytes(v.get(40..42)?.try_into().ok()?);
            (v.len() == 42 && buckets == SUMMARY_BUCKETS).then_some((seq, hash))
        }))
    }
    pub fn summary_bucket(&self, bucket: u16) -> Result<Option<sled::IVec>> {
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
    /// Writes buckets (`None` removes one) and the new mark; with `replace_all`, every
    /// other bucket is removed. A few buckets go in one atomic batch with the mark;
    /// more go in parts (see [`SLED_BATCH_KEYS`]) between a batch that removes the
    /// mark and one that writes it, so a crash in between leaves no mark (and the
    /// digests are rebuilt), never a mark over half-written buckets. Flushed with the
    /// next commit (a crash may lose it; the mark then lags and the digests are
    /// rebuilt).
    pub fn summary_write(
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
            self.apply_in_parts(vec![(SUMMARY_MARK_KEY.to_vec(), None)])?;
            self.apply_in_parts(writes)?;
            self.apply_in_parts(vec![mark_write])
        } else {
            writes.push(mark_write);
            Ok(self.db.apply_batch(batch_of(writes))?)
        }
    }

    /// Applies writes (`None` removes) in order, in batches of [`SLED_BATCH_KEYS`]:
    /// for derived data, where a crash part way is repaired by writing again.
    pub fn apply_in_parts(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        let mut writes = writes.into_iter().peekable();
        while writes.peek().is_some() {
            self.db.apply_batch(batch_of(writes.by_ref().take(SLED_BATCH_KEYS)))?;
        }
        Ok(())
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
    fn sync_blobs(&self) -> Result<()> {
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

    /// The Merkle tree's kept node `level`/`index`, if stored.
    pub fn tree_node(&self, level: u8, index: u64) -> Result<Option<[u8; 32]>> {
        Ok(self.db.get(tree_key(level, index))?.and_then(|v| v.as_ref().try_into().ok()))
    }

    /// The hashes of the committed events `from_seq ..` (`count` of them).
    pub fn event_hashes(&self, from_seq: u64, count: u64) -> Result<Vec<Hash>> {
        let to = from_seq + count - 1;
        if count == 0 || to > self.head_seq() {
            return Err(Error::Integrity {
                seq: to,
                reason: format!("events {from_seq}–{to} are not all in the ledger"),
            });
        }
        let mut out = Vec::with_capacity(count as usize);
        for block in self.blocks(from_seq) {
            let (first, bytes) = block?;
            if first > to {
                break;
            }
            let raw = unpack_block(&bytes).map_err(|reason| Error::Integrity { seq: first, reason })?;
            for (i, (hash, _)) in
                block_records(&raw).map_err(|reason| Error::Integrity { seq: first, reason })?.into_iter().enumerate()
            {
                let seq = first + i as u64;
                if (from_seq..=to).contains(&seq) {
                    out.push(hash);
                }
            }
        }
        if out.len() as u64 != count {
            return Err(Error::Integrity { seq: from_seq, reason: "events of the tree are missing".into() });
        }
        Ok(out)
    }

    /// How many leaves the stored tree nodes cover.
    fn tree_mark(&self) -> Result<u64> {
        Ok(self.db.get(TREE_MARK_KEY)?.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes))
    }

    /// The tree's frontier at the head, building the tree's kept nodes first when the
    /// store lacks them (a ledger made before the tree). Called under the write lock.
    fn frontier_at_head(&self) -> Result<Frontier> {
        let head = self.head_seq();
        if let Some(f) = self.frontier.lock().unwrap_or_else(|e| e.into_inner()).as_ref().filter(|f| f.size() == head) {
            return Ok(f.clone());
        }
        let mark = self.tree_mark()?.min(head);
        let mut frontier = Frontier::of(self, mark)?;
        if mark < head {
            tracing::info!(from = mark + 1, to = head, "building the ledger's Merkle tree");
            let mut writes = Vec::new();
            let mut seq = mark + 1;
            while seq <= head {
                let n = (head - seq + 1).min(100_000);
                for h in self.event_hashes(seq, n)? {
                    frontier.push(merkle::leaf(&h), |level, index, node| {
                        writes.push((tree_key(level, index).to_vec(), Some(node.0.to_vec())));
                    });
                }
                seq += n;
            }
            writes.push((TREE_MARK_KEY.to_vec(), Some(head.to_be_bytes().to_vec())));
            self.apply_in_parts(writes)?;
        }
        *self.frontier.lock().unwrap_or_else(|e| e.into_inner()) = Some(frontier.clone());
        Ok(frontier)
    }

    /// The tree's frontier at the head (for `verify` and checkpoints: the root).
    pub fn tree_root(&self) -> Result<merkle::Node> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.frontier_at_head()?.root())
    }

    /// Rebuilds the tree's kept nodes from the events and compares them with the stored
    /// ones (`verify --projections`): how many were checked, and what differs.
    pub fn verify_tree(&self) -> Result<(u64, Vec<String>)> {
        let head = self.head_seq();
        let mut frontier = Frontier::default();
        let (mut checked, mut failures) = (0u64, Vec::new());
        let mut seq = 1;
        while seq <= head {
            let n = (head - seq + 1).min(100_000);
            for h in self.event_hashes(seq, n)? {
                let mut found = Ok(());
                frontier.push(merkle::leaf(&h), |level, index, node| {
                    checked += 1;
                    match self.tree_node(level, index) {
                        Ok(Some(stored)) if stored == node.0 => {}
                        Ok(_) => {
                            failures.push(format!("the Merkle tree's node {level}/{index} differs from the events"))
                        }
                        Err(e) => found = Err(e),
                    }
                });
                found?;
            }
            seq += n;
        }
        Ok((checked, failures))
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
            in_batch: 0,
            spilled: false,
            block: Vec::new(),
            block_bytes: 0,
            block_first: head.seq + 1,
            ids: HashMap::new(),
            ids_pending: 0,
            merged_buckets: HashSet::new(),
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
    in_batch: usize,
    spilled: bool,
    block: Vec<Record>,
    block_bytes: usize,
    block_first: u64,
    next_seq: u64,
    prev: Hash,
    recorded_at: String,
    /// Id-index entries not yet merged into their buckets.
    ids: HashMap<u16, Vec<([u8; 16], u64)>>,
    ids_pending: usize,
    /// Buckets this append already merged into (their garbage is gone).
    merged_buckets: HashSet<u16>,
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
        debug_assert_eq!(record.hash, crate::ledger::event::digest(&record.canonical));
        debug_assert!(recorded_at >= self.recorded_at.as_str());
        if self.journaled {
            self.journal.push(self.next_seq, &record)?;
        }
        let batch = &mut self.batch;
        self.frontier.push(merkle::leaf(&record.hash), |level, index, node| {
            batch.push((tree_key(level, index).to_vec(), Some(node.0.to_vec())));
        });
        if !self.block.is_empty()
            && (self.block.len() == BLOCK_MAX_EVENTS || self.block_bytes + record.canonical.len() > BLOCK_TARGET_BYTES)
        {
            self.close_block();
        }
        self.ids.entry(id_bucket(id)).or_default().push((*id.as_bytes(), self.next_seq));
        self.ids_pending += 1;
        self.block_bytes += record.canonical.len();
        self.prev = record.hash;
        self.block.push(record);
        self.next_seq += 1;
        self.in_batch += 1;
        self.recorded_at.clear();
        self.recorded_at.push_str(recorded_at);
        if self.in_batch >= SPILL_EVENTS {
            self.close_block();
            if self.ids_pending >= ID_MERGE_EVENTS {
                self.merge_ids()?;
            }
            // Above the head until the commit: no need to be atomic.
            self.store.apply_in_parts(std::mem::take(&mut self.batch))?;
            self.store.db.flush()?;
            release_free_memory();
            self.in_batch = 0;
            self.spilled = true;
        }
        Ok(())
    }

    /// Merges pending id entries into their buckets, in the current batch.
    fn merge_ids(&mut self) -> Result<()> {
        let committed = self.store.head().seq;
        for (bucket, mut entries) in self.ids.drain() {
            entries.sort_unstable();
            let existing = self.store.db.get(id_bucket_key(bucket))?;
            let existing = existing.as_deref().unwrap_or(&[]);
            // Before this append's first merge, entries above the head are garbage of
            // an append that never committed; after it, they are this append's own.
            let keep = if self.merged_buckets.insert(bucket) { committed } else { u64::MAX };
            self.batch.push((id_bucket_key(bucket).to_vec(), Some(bucket_merge(existing, keep, &entries))));
        }
        self.ids_pending = 0;
        Ok(())
    }

    fn close_block(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let value = encode_block(&self.block);
        self.batch.push((block_key(self.block_first).to_vec(), Some(value)));
        self.block_first += self.block.len() as u64;
        self.block.clear();
        self.block_bytes = 0;
    }

    /// Makes the pushed events part of the ledger, durably, and returns the new head.
    /// In order: the journal's lines are written and fsynced; the store's blocks and
    /// head are written and fsynced; the head is recorded as acknowledged. A crash
    /// before the store's commit leaves journal lines the store lacks above the
    /// acknowledged head: the next open drops them, so an append is all or nothing.
    pub fn commit(mut self) -> Result<Head> {
        self.store.check_poisoned()?;
        self.finished = true;
        if self.next_seq == self.store.head().seq + 1 {
            return Ok(self.store.head());
        }
        let head = Head { seq: self.next_seq - 1, hash: self.prev, recorded_at: self.recorded_at.clone() };
        if self.journaled {
            if let Err(e) = self.journal.sync_pending() {
                self.cleanup();
                return Err(e);
            }
        }
        if let Err(e) = self.commit_store(&head) {
            // sled may hold the batch in memory without it being on disk.
            self.store.poisoned.store(true, Ordering::SeqCst);
            let _ = self.journal.abort();
            return Err(e);
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
        self.store.check_poisoned()?;
        self.finished = true;
        if self.next_seq == self.store.head().seq + 1 {
            let head = self.store.head();
            return Ok((head.clone(), Durable { journal: JournalSync::default(), head: (head.seq, head.hash) }));
        }
        let head = Head { seq: self.next_seq - 1, hash: self.prev, recorded_at: self.recorded_at.clone() };
        let journal = match self.journal.write_unsynced() {
            Ok(j) => j,
            Err(e) => {
                self.cleanup();
                return Err(e);
            }
        };
        if let Err(e) = self.commit_store(&head) {
            self.store.poisoned.store(true, Ordering::SeqCst);
            let _ = self.journal.abort();
            return Err(e);
        }
        self.journal.confirm(head.hash);
        *self.store.head.write().unwrap_or_else(|e| e.into_inner()) = head.clone();
        Ok((head.clone(), Durable { journal, head: (head.seq, head.hash) }))
    }

    fn commit_store(&mut self, head: &Head) -> Result<()> {
        self.close_block();
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

#[cfg(test)]
mod tests {
    use super::*;

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
        store.summary_write(buckets, Some((7, [7; 32])), false).unwrap();
        assert_eq!(store.summary_mark().unwrap(), Some((7, [7; 32])));
        let stored: Vec<(u16, sled::IVec)> = store.summary_buckets().collect::<Result<_>>().unwrap();
        assert_eq!(stored.len(), many);
        assert!(stored.iter().all(|(b, v)| v.as_ref() == [*b as u8; 3]));

        store.summary_write(vec![(5, Some(vec![1])), (900, Some(vec![2]))], Some((8, [8; 32])), true).unwrap();
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
    fn v7_ids_spread_over_buckets() {
        let mut seen = HashSet::new();
        for _ in 0..20_000 {
            seen.insert(id_bucket(&uuid::Uuid::now_v7()));
        }
        assert!(seen.len() > 4000, "only {} of 4096 buckets used", seen.len());
    }
}
