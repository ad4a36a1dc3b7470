//! The id index: 4096 buckets of sorted (id, seq) entries, merged once per append, so
//! that a bulk append does not pay a sled key per id (see `store.rs`).

/// The key prefix of the id index's buckets: `i` · bucket u16 BE.
pub(super) const ID_PREFIX: u8 = b'i';

/// Number of id-index buckets (a power of two; bucket numbers are u16).
pub(super) const ID_BUCKETS: u64 = 4096;
const _: () = assert!(ID_BUCKETS.is_power_of_two() && ID_BUCKETS <= 1 << 16);

pub(super) const ID_ENTRY: usize = 24;

pub(super) fn id_bucket(id: &uuid::Uuid) -> u16 {
    let x = id.as_u128();
    let folded = (x as u64) ^ ((x >> 64) as u64);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - ID_BUCKETS.trailing_zeros())) as u16
}

pub(super) fn id_bucket_key(bucket: u16) -> [u8; 3] {
    let b = bucket.to_be_bytes();
    [ID_PREFIX, b[0], b[1]]
}

/// Finds an id in a bucket's sorted entries.
pub(super) fn bucket_lookup(bucket: &[u8], id: &[u8; 16]) -> Option<u64> {
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
pub(super) fn bucket_merge(existing: &[u8], keep_upto: u64, new: &[([u8; 16], u64)]) -> Vec<u8> {
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
