//! The block codec: up to 64 consecutive events in one sled value (SLED-NOTES: a key
//! costs about as much as a ~310-byte event), LZ4-compressed, and their keys.

use crate::ledger::event::{Hash, Record};
use crate::limits::{BLOCK_MAX_EVENTS, BLOCK_TARGET_BYTES, SPILL_EVENTS};

/// The key prefix of blocks: `e` · first seq u64 BE (see `store.rs` for the layout).
pub(crate) const BLOCK_PREFIX: u8 = b'e';

/// Block formats: 1 = events as they are; 2 = the same bytes, LZ4-compressed (written
/// since issue 7: sled keeps the pages it touches in memory and rewrites whole leaves,
/// so smaller values mean less memory, fewer bytes written, and less disk).
pub(super) const BLOCK_VERSION: u8 = 1;

pub(super) const BLOCK_LZ4: u8 = 2;

/// Bound on a block's uncompressed size: 64 events, or one event of the largest size.
pub(super) const MAX_RAW_BLOCK_BYTES: usize = 4 * 1024 * 1024;

pub fn block_key(first_seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = BLOCK_PREFIX;
    k[1..].copy_from_slice(&first_seq.to_be_bytes());
    k
}

/// Where a writer's blocks end: before an event that would take the open block past
/// [`BLOCK_MAX_EVENTS`] or [`BLOCK_TARGET_BYTES`], and after every [`SPILL_EVENTS`]
/// events of an append, where a long append's part is spilled. The writer follows it,
/// and a bulk append's parsing thread follows it ahead of the writer (see `batch::Expected`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cut {
    events: usize,
    bytes: usize,
    since_spill: usize,
}

impl Cut {
    /// Before an event of `len` canonical bytes: whether the open block ends first.
    /// The event is then counted into the open block.
    pub fn before(&mut self, len: usize) -> bool {
        let ends = self.events > 0 && (self.events == BLOCK_MAX_EVENTS || self.bytes + len > BLOCK_TARGET_BYTES);
        if ends {
            (self.events, self.bytes) = (0, 0);
        }
        self.events += 1;
        self.bytes += len;
        ends
    }

    /// After the event: whether the append's part ends here (and its block with it).
    pub fn after(&mut self) -> bool {
        self.since_spill += 1;
        let ends = self.since_spill >= SPILL_EVENTS;
        if ends {
            *self = Cut::default();
        }
        ends
    }
}

/// A block encoded ahead of the writer, on a bulk append's parsing thread, for the
/// events it expects. The writer takes it for a block it closes only when the block's
/// first seq, its number of events and the hash of its last event are these: the
/// chain's hashes then make every byte of it the same.
#[derive(Debug)]
pub struct Packed {
    pub first_seq: u64,
    pub events: usize,
    pub last: Hash,
    pub value: Vec<u8>,
}

impl Packed {
    /// Whether this is the encoding of `records`, starting at `first_seq`.
    pub fn is_of(&self, first_seq: u64, records: &[Record]) -> bool {
        self.first_seq == first_seq
            && self.events == records.len()
            && records.last().is_some_and(|r| r.hash == self.last)
    }
}

/// A block's uncompressed form, built event by event.
pub struct RawBlock {
    bytes: Vec<u8>,
    events: u16,
}

impl RawBlock {
    pub fn with_capacity(bytes: usize) -> RawBlock {
        let mut out = Vec::with_capacity(3 + bytes);
        out.extend_from_slice(&[BLOCK_VERSION, 0, 0]);
        RawBlock { bytes: out, events: 0 }
    }
    pub fn push(&mut self, hash: &Hash, canonical: &[u8]) {
        self.bytes.extend_from_slice(hash);
        self.bytes.extend_from_slice(&u32::try_from(canonical.len()).expect("event fits u32").to_le_bytes());
        self.bytes.extend_from_slice(canonical);
        self.events = self.events.checked_add(1).expect("block count fits u16");
    }
    pub fn events(&self) -> usize {
        usize::from(self.events)
    }
    /// The bytes (version 1).
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes[1..3].copy_from_slice(&self.events.to_le_bytes());
        self.bytes
    }
}

/// Block encoding: version u8 · count u16 LE · count × (hash 32 · len u32 LE · bytes).
pub fn encode_block(records: &[Record]) -> Vec<u8> {
    pack(&encode_block_raw(records))
}

/// A block's uncompressed form (version 1), LZ4-compressed (version 2).
pub fn pack(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + raw.len() / 2);
    out.push(BLOCK_LZ4);
    out.extend_from_slice(&u32::try_from(raw.len()).expect("a block fits u32").to_le_bytes());
    out.extend_from_slice(&lz4_flex::block::compress(raw));
    out
}

/// The uncompressed form (version 1): count, then `hash · len · canonical` per event.
pub fn encode_block_raw(records: &[Record]) -> Vec<u8> {
    let size: usize = records.iter().map(|r| 36 + r.canonical.len()).sum();
    let mut out = RawBlock::with_capacity(size);
    for r in records {
        out.push(&r.hash, &r.canonical);
    }
    out.finish()
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
