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

use tlog_tiles::tlog::{self, Hash as TreeHash};

use crate::ledger::event::Hash;

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
    /// The frontier of `size` leaves from its complete subtrees' roots, largest first
    /// (read from the store by `tree::frontier_of`).
    pub fn from_parts(size: u64, nodes: Vec<(u8, TreeHash)>) -> Frontier {
        Frontier { size, nodes }
    }
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
