//! The Merkle tree as the store keeps it (SPEC §14): its kept nodes (`m` · level ·
//! index), the frontier at the head, the root, proofs read from the store, and the
//! checks of a signed checkpoint against it. The tree's arithmetic is `merkle.rs`.

use crate::error::{Error, Result};
use crate::ledger::event::Hash;

use tlog_tiles::tlog::{self, Hash as TreeHash, HashReader};

use super::block::{block_records, unpack_block};
use super::merkle::{self, from_b64, leaf, Frontier, STORED_LEVEL};
use super::store::{Store, TREE_MARK_KEY, TREE_PREFIX};

pub(super) fn tree_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = TREE_PREFIX;
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

impl Store {
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
    pub(super) fn frontier_at_head(&self) -> Result<Frontier> {
        let head = self.head_seq();
        if let Some(f) = self.frontier.lock().unwrap_or_else(|e| e.into_inner()).as_ref().filter(|f| f.size() == head) {
            return Ok(f.clone());
        }
        let mark = self.tree_mark()?.min(head);
        let mut frontier = frontier_of(self, mark)?;
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
}

/// The frontier of the tree of `size` leaves, read from the store.
pub fn frontier_of(store: &Store, size: u64) -> Result<Frontier> {
    let mut nodes = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1u64 << level) == 0 {
            continue;
        }
        nodes.push((level, subtree(store, level, start >> level)?));
        start += 1u64 << level;
    }
    Ok(Frontier::from_parts(size, nodes))
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
