//! Creating and opening a ledger's store: the lock, the format tag, an interrupted
//! `recover` finished, sled opened through the guard, then the store compared with the
//! journal and the acknowledged head and healed (`heal.rs`) before anything reads it.

use std::fs::{self, File};
use std::path::Path;

use crate::error::{Error, Result};
use crate::files::sync_dir;
use crate::ledger::event::ZERO_HASH;

use super::acked::{Acked, AckedState};
use super::guard::{damaged, guarded, lock, open_sled, remove_partial_snapshots, set_current_dir, sled_dir};
use super::journal::Journal;
use super::store::{Head, Store, FORMAT, FORMAT_1, FORMAT_2, HEAD_KEY, META_KEY};

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
}
