//! The acknowledged head (SPEC §13): `DIR/ACKED`, outside sled, read at open against
//! the store and the journal (see `heal.rs`).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::files::{io_error, sync_dir};
use crate::ledger::event::{Hash, ZERO_HASH};

/// The head that was last acknowledged (SPEC §13), kept outside sled in `DIR/ACKED`,
/// so that a store and a journal that are both merely shorter are never taken for the
/// whole truth. Two 64-byte slots, written alternately and each checksummed, so a torn
/// or damaged write leaves the other: magic · generation u64 · seq u64 · hash ·
/// first 8 bytes of BLAKE3 of the rest.
pub struct Acked {
    file: File,
    path: PathBuf,
    generation: u64,
    head: (u64, Hash),
}

const ACKED_FILE: &str = "ACKED";
const ACKED_MAGIC: &[u8; 8] = b"CLACKED1";
const SLOT: usize = 64;

/// What the acknowledged-head file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckedState {
    /// No such file (a ledger made before the journal existed, or it was removed).
    Missing,
    /// Neither slot is intact.
    Damaged,
    Head(u64, Hash),
}

fn encode_slot(generation: u64, seq: u64, hash: &Hash) -> [u8; SLOT] {
    let mut s = [0u8; SLOT];
    s[..8].copy_from_slice(ACKED_MAGIC);
    s[8..16].copy_from_slice(&generation.to_le_bytes());
    s[16..24].copy_from_slice(&seq.to_le_bytes());
    s[24..56].copy_from_slice(hash);
    let check = blake3::hash(&s[..56]);
    s[56..64].copy_from_slice(&check.as_bytes()[..8]);
    s
}

fn decode_slot(s: &[u8]) -> Option<(u64, u64, Hash)> {
    if s.len() != SLOT || &s[..8] != ACKED_MAGIC || blake3::hash(&s[..56]).as_bytes()[..8] != s[56..64] {
        return None;
    }
    let generation = u64::from_le_bytes(s[8..16].try_into().ok()?);
    let seq = u64::from_le_bytes(s[16..24].try_into().ok()?);
    Some((generation, seq, s[24..56].try_into().ok()?))
}

impl Acked {
    pub fn path(ledger_dir: &Path) -> PathBuf {
        ledger_dir.join(ACKED_FILE)
    }

    /// Reads the file without changing it.
    pub fn read(ledger_dir: &Path) -> Result<(AckedState, u64)> {
        let path = Acked::path(ledger_dir);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((AckedState::Missing, 0)),
            Err(e) => return Err(io_error("reading", &path, e)),
        };
        let best = bytes.chunks(SLOT).filter_map(decode_slot).max_by_key(|(g, _, _)| *g);
        Ok(match best {
            Some((generation, seq, hash)) => (AckedState::Head(seq, hash), generation),
            None => (AckedState::Damaged, 0),
        })
    }

    /// Opens the file for writing, writing `head` into it first when it does not say
    /// so already (a missing or damaged file, or one behind a healed ledger).
    pub fn open(ledger_dir: &Path, head: (u64, Hash)) -> Result<Acked> {
        let (mut acked, state) = Acked::opened(ledger_dir)?;
        match state {
            AckedState::Head(seq, hash) if (seq, hash) == head => {}
            AckedState::Head(..) => acked.write(head.0, head.1)?,
            AckedState::Missing | AckedState::Damaged => {
                // Both slots, so that neither holds an old or damaged value.
                acked.write(head.0, head.1)?;
                acked.write(head.0, head.1)?;
                sync_dir(ledger_dir)?;
            }
        }
        Ok(acked)
    }

    /// Opens the file for writing as it is (created empty when missing); the caller
    /// has read it and writes what it decides.
    pub fn open_unchecked(ledger_dir: &Path) -> Result<Acked> {
        Ok(Acked::opened(ledger_dir)?.0)
    }

    /// The file opened for writing (created empty when missing), holding the head it
    /// says (none: `u64::MAX`), and what it said.
    fn opened(ledger_dir: &Path) -> Result<(Acked, AckedState)> {
        let (state, generation) = Acked::read(ledger_dir)?;
        let path = Acked::path(ledger_dir);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("opening", &path, e))?;
        let head = match state {
            AckedState::Head(seq, hash) => (seq, hash),
            _ => (u64::MAX, ZERO_HASH),
        };
        Ok((Acked { file, path, generation, head }, state))
    }

    /// Records `seq`/`hash` as acknowledged, durably.
    pub fn write(&mut self, seq: u64, hash: Hash) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let generation = self.generation + 1;
        let slot = encode_slot(generation, seq, &hash);
        let at = (generation % 2) * SLOT as u64;
        self.file.write_all_at(&slot, at).map_err(|e| io_error("writing", &self.path, e))?;
        self.file.sync_data().map_err(|e| io_error("syncing", &self.path, e))?;
        self.generation = generation;
        self.head = (seq, hash);
        Ok(())
    }

    pub fn head(&self) -> (u64, Hash) {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acked_slots_survive_one_damaged_slot() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = Acked::open(tmp.path(), (0, ZERO_HASH)).unwrap();
        a.write(5, [5; 32]).unwrap();
        a.write(6, [6; 32]).unwrap();
        assert_eq!(Acked::read(tmp.path()).unwrap().0, AckedState::Head(6, [6; 32]));
        let path = Acked::path(tmp.path());
        let mut bytes = fs::read(&path).unwrap();
        // The newest slot (generation 4 → slot 0) damaged: the older one is read.
        bytes[20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(Acked::read(tmp.path()).unwrap().0, AckedState::Head(5, [5; 32]));
        bytes[SLOT + 30] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(Acked::read(tmp.path()).unwrap().0, AckedState::Damaged);
    }
}
