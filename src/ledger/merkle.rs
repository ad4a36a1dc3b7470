//! The ledger as a Merkle tree (SPEC §14; RFC 6962 / RFC 9162 §2.1, SHA-256): leaf `i`
//! is the 32 raw bytes of the hash of event `seq = i + 1`, its leaf hash
//! `SHA-256(0x00 ‖ bytes)`, an inner node `SHA-256(0x01 ‖ left ‖ right)`.
//!
//! The tree algorithms — roots, inclusion and consistency proofs and their checks —
//! are Cloudflare's `tlog_tiles` (a port of Go's `golang.org/x/mod/sumdb/tlog`), so
//! that Go's own package checks what this one proves. What is ours is where the
//! hashes live: the store keeps the root of every complete subtree of 256 leaves and
//! more (`m` · level · index, about one key per 128 events, written in the same batch
//! as the events); a node below that is computed from the events' hashes (at most 255
//! of them, four or five blocks). A proof therefore reads O(log n) stored hashes and a
//! few blocks.

use tlog_tiles::tlog::{self, Hash as TreeHash, HashReader};

use crate::error::{Error, Result};
use crate::ledger::event::Hash;
use crate::ledger::store::Store;

/// Subtrees of `2^STORED_LEVEL` leaves and more are kept in the store.
pub const STORED_LEVEL: u8 = 8;

pub use tlog::EMPTY_HASH;
pub use tlog_tiles::tlog::Hash as Node;

/// The leaf hash of an event's hash.
pub fn leaf(event: &Hash) -> TreeHash {
    tlog::record_hash(event)
}

/// The roots of the perfect subtrees of a tree, largest (leftmost) first: what is
/// needed to add the next leaf and to compute the root.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frontier {
    size: u64,
    /// (level, hash), levels strictly decreasing.
    nodes: Vec<(u8, TreeHash)>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next leaf; every complete subtree of `STORED_LEVEL` and more that it
    /// completes is given to `keep` as (level, index, hash).
    pub fn push(&mut self, leaf: TreeHash, mut keep: impl FnMut(u8, u64, TreeHash)) {
        let (mut level, mut hash, mut index) = (0u8, leaf, self.size);
        while let Some(&(l, left)) = self.nodes.last() {
            if l != level {
                break;
            }
            self.nodes.pop();
            hash = tlog::node_hash(left, hash);
            level += 1;
            index >>= 1;
            if level >= STORED_LEVEL {
                keep(level, index, hash);
            }
        }
        self.nodes.push((level, hash));
        self.size += 1;
    }

    /// The tree's root (RFC 6962 §2.1: the perfect subtrees folded from the right).
    pub fn root(&self) -> TreeHash {
        let mut it = self.nodes.iter().rev();
        let Some(&(_, mut h)) = it.next() else { return EMPTY_HASH };
        for &(_, left) in it {
            h = tlog::node_hash(left, h);
        }
        h
    }

    /// The frontier of the tree of `size` leaves, read from the store.
    pub fn of(store: &Store, size: u64) -> Result<Frontier> {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1u64 << level) == 0 {
                continue;
            }
            nodes.push((level, subtree(store, level, start >> level)?));
            start += 1u64 << level;
        }
        Ok(Frontier { size, nodes })
    }
}

/// The root of the complete subtree at `level` with index `n` (leaves
/// `[n·2^level, (n+1)·2^level)`): stored, or computed from the events' hashes.
fn subtree(store: &Store, level: u8, n: u64) -> Result<TreeHash> {
    if level >= STORED_LEVEL {
        return store.tree_node(level, n)?.map(tlog::Hash).ok_or_else(|| Error::Integrity {
            seq: 0,
            reason: format!("the tree's stored node {level}/{n} is missing"),
        });
    }
    let first = n << level;
    let hashes = store.event_hashes(first + 1, 1u64 << level)?;
    let mut f = Frontier::default();
    for h in &hashes {
        f.push(leaf(h), |_, _, _| {});
    }
    Ok(f.root())
}

/// What `tlog_tiles` reads proofs and roots from: any "stored hash" of Go's tlog
/// numbering, stored or computed.
pub struct Reader<'a> {
    pub store: &'a Store,
}

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<TreeHash>, tlog::Error> {
        indexes
            .iter()
            .map(|i| {
                let (level, n) = tlog::split_stored_hash_index(*i);
                subtree(self.store, level, n).map_err(|_| tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// The root of the tree of the first `size` events.
pub fn root(store: &Store, size: u64) -> Result<TreeHash> {
    tlog::tree_hash(size, &Reader { store }).map_err(|e| Error::Storage(format!("the tree's root at {size}: {e}")))
}

/// The inclusion proof of event `seq` in the tree of `size` events (RFC 9162 §2.1.3).
pub fn inclusion(store: &Store, seq: u64, size: u64) -> Result<Vec<TreeHash>> {
    tlog::prove_record(size, seq - 1, &Reader { store })
        .map_err(|e| Error::Storage(format!("the inclusion proof of {seq} in {size}: {e}")))
}

/// The consistency proof from the tree of `old` events to that of `size` (§2.1.4).
pub fn consistency(store: &Store, old: u64, size: u64) -> Result<Vec<TreeHash>> {
    if old == 0 || old == size {
        return Ok(Vec::new());
    }
    tlog::prove_tree(size, old, &Reader { store })
        .map_err(|e| Error::Storage(format!("the consistency proof from {old} to {size}: {e}")))
}

/// Checks an inclusion proof.
pub fn check_inclusion(proof: &[TreeHash], size: u64, root: TreeHash, seq: u64, event: &Hash) -> bool {
    seq >= 1 && seq <= size && tlog::check_record(&proof.to_vec(), size, root, seq - 1, leaf(event)).is_ok()
}

/// Checks a consistency proof (an empty tree is consistent with every tree).
pub fn check_consistency(proof: &[TreeHash], size: u64, root: TreeHash, old: u64, old_root: TreeHash) -> bool {
    match (old, old == size) {
        (0, _) => proof.is_empty(),
        (_, true) => proof.is_empty() && root == old_root,
        _ => old < size && tlog::check_tree(&proof.to_vec(), size, root, old, old_root).is_ok(),
    }
}

/// The rollback check of SPEC §14, at every open: the ledger's tree against the
/// latest checkpoint it signed (`DIR/checkpoint`; its body's size and root — the
/// signature is the checkpoint's own business). Behind it, or another tree at its
/// size: exit 3. This is what catches a whole ledger directory restored from an older
/// copy, which the store, the journal and `ACKED` cannot (they agree with each other).
pub fn check_checkpoint(store: &Store) -> Result<()> {
    let path = store.dir().join("checkpoint");
    let text = match std::fs::read(&path) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::storage(&format!("reading {}", path.display()), e)),
    };
    let mut lines = text.lines();
    let (_origin, size, root) =
        (lines.next(), lines.next().and_then(|l| l.parse::<u64>().ok()), lines.next().and_then(from_b64));
    // A file the ledger's own key no longer verifies is damaged, not a checkpoint the
    // ledger fell behind: it is moved aside and the ledger goes on (the next
    // `checkpoint` signs a new one; witnesses, which remember what they saw, still
    // catch a ledger restored from an older copy).
    let damage = match (super::keyfile::signed_by_own_key(store.dir(), &text), size, root) {
        (Some(false), _, _) => Some("its signature does not verify with the ledger's key"),
        (_, None, _) | (_, _, None) => Some("it is not a checkpoint"),
        _ => None,
    };
    if let Some(why) = damage {
        let aside = store.dir().join(format!("damaged-checkpoint-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.fZ")));
        std::fs::rename(&path, &aside).map_err(|e| Error::storage(&format!("moving {} aside", path.display()), e))?;
        eprintln!(
            "{} was damaged ({why}): moved to {}; the next `caseledger checkpoint` signs a new one",
            path.display(),
            aside.display()
        );
        return Ok(());
    }
    let (Some(size), Some(root)) = (size, root) else { unreachable!("checked above") };
    check_prefix(store, size, root)
}

/// The ledger is not behind a checkpoint of `size` leaves and has its `root` at that
/// size (exit 3 otherwise): the check of every open and of every new signature.
pub fn check_prefix(store: &Store, size: u64, root: TreeHash) -> Result<()> {
    let head = store.head_seq();
    if head < size {
        return Err(Error::Lost(format!(
            "the ledger is behind its checkpoint of size {size} (it holds {head} events): was it restored from an older copy?"
        )));
    }
    if self::root(store, size)? != root {
        return Err(Error::Lost(format!("the ledger differs from its checkpoint of size {size}")));
    }
    Ok(())
}

pub fn b64(h: &TreeHash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(h.0)
}

pub fn from_b64(s: &str) -> Option<TreeHash> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()?;
    Some(tlog::Hash(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<TreeHash> {
        (0..n).map(|i| leaf(&[i as u8; 32])).collect()
    }

    /// The frontier's root is RFC 6962's MTH, computed the textbook way.
    #[test]
    fn the_frontier_root_is_the_rfc_6962_tree_hash() {
        fn mth(l: &[TreeHash]) -> TreeHash {
            match l.len() {
                0 => EMPTY_HASH,
                1 => l[0],
                n => {
                    let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                    tlog::node_hash(mth(&l[..k]), mth(&l[k..]))
                }
            }
        }
        for n in [0u64, 1, 2, 3, 5, 8, 255, 256, 257, 600, 1024, 1300] {
            let ls = leaves(n);
            let mut f = Frontier::default();
            let mut kept = Vec::new();
            for l in &ls {
                f.push(*l, |level, index, h| kept.push((level, index, h)));
            }
            assert_eq!(f.root(), mth(&ls), "n = {n}");
            for (level, index, h) in kept {
                let lo = (index << level) as usize;
                assert_eq!(h, mth(&ls[lo..lo + (1 << level)]), "node {level}/{index}");
            }
        }
    }
}
