//! `caseledger recover` (SPEC §13): the damaged store moved aside (never deleted), a
//! new one built in a staging directory from the journal and whatever the old store
//! still holds (read past its damaged pages), verified through the ledger, then
//! swapped in; the events acknowledged and held by neither copy named exactly.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::sync_dir;
use crate::ledger::acked::{Acked, AckedState};
use crate::ledger::chain::{examine, ChainChecker};
use crate::ledger::event::{hex, Hash, Record, ZERO_HASH};
use crate::ledger::journal::Journal;
use crate::ledger::segments::{JournalLine, Lines};

use super::heal::{
    finish_interrupted_recover, gaps, recover_was_interrupted, stranded, warn, RECOVERING, STAGING_PREFIX,
};
use super::store::{decode_block, guarded, Store};

/// What `recover` did.
#[derive(Debug)]
pub struct Recovered {
    /// Events in the rebuilt store.
    pub events: u64,
    pub head: Hash,
    /// How many came from the journal, and how many only from the old store.
    pub from_journal: u64,
    pub from_store: u64,
    /// Where the damaged store (and the old journal) went.
    pub moved_to: PathBuf,
    /// Acknowledged events that neither copy held intact, exactly (several ranges when
    /// the copies hold some in between).
    pub lost: Vec<(u64, u64)>,
    /// Intact events after the first lost one: the chain cannot take them back without
    /// the lost ones (they stay in `moved_to`).
    pub stranded: Option<(u64, u64)>,
}

/// `caseledger recover` (SPEC §13): rebuilds the store (and the journal) from the
/// journal and whatever is readable in the old store, in a staging directory; then
/// moves the old store and journal aside to `DIR/damaged-<stamp>/` (never deleting
/// them) and the rebuilt ones in. With `accept_loss`, a rebuilt ledger shorter than
/// what was acknowledged becomes the new acknowledged head; without it, every later
/// command keeps refusing (exit 3) to work on fewer events than were acknowledged.
pub fn recover(dir: &Path, accept_loss: bool) -> Result<Recovered> {
    if !dir.join("sled").exists() && !Journal::exists(dir) && !recover_was_interrupted(dir) {
        return Err(Error::Storage(format!("no ledger at {} to recover", dir.display())));
    }
    let lock = crate::ledger::store::lock(dir)?;
    crate::ledger::store::set_current_dir(dir);
    finish_interrupted_recover(dir)?;
    let mut stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut n = 1;
    while dir.join(format!("damaged-{stamp}")).exists() || dir.join(format!("{STAGING_PREFIX}{stamp}")).exists() {
        stamp = format!("{}-{n}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
        n += 1;
    }
    let staging = dir.join(format!("{STAGING_PREFIX}{stamp}"));
    let moved = dir.join(format!("damaged-{stamp}"));
    let (acked, _) = Acked::read(dir)?;

    // A copy of the old store to read (sled writes as it opens; the original is kept
    // exactly as it was found).
    let old_copy = staging.join("old-sled");
    fs::create_dir_all(&staging).map_err(|e| crate::ledger::journal::io_error("creating", &staging, e))?;
    if dir.join("sled").exists() {
        copy_dir(&dir.join("sled"), &old_copy)?;
    }
    let mut old_store = OldStore::open(dir, &old_copy);
    let mut journal_lines = if Journal::exists(dir) { Some(Journal::open(dir)?.0.lines_from(1)) } else { None };
    // Nothing above what was committed: the acknowledged head, or the old store's own
    // head when it is higher (a commit not yet acknowledged). Journal lines and spilled
    // blocks above both are an append that never committed. Only when neither is
    // known is every linked event taken.
    let limit = match (acked, old_store.head) {
        (AckedState::Head(a, _), Some(h)) => a.max(h),
        (AckedState::Head(a, _), None) => a,
        _ => u64::MAX,
    };
    old_store.limit = old_store.head.unwrap_or(u64::MAX);

    // The staging ledger, filled from both sources.
    let rebuilt = staging.join("ledger");
    let mut j_next: Option<(u64, Record)> = None;
    let (events, head, from_journal, from_store, at_acked) = {
        let store = Store::create(&rebuilt)?;
        let mut writer = store.writer()?;
        let mut checker = ChainChecker::default();
        let (mut from_journal, mut from_store) = (0u64, 0u64);
        let acked_seq = match acked {
            AckedState::Head(a, _) => a,
            _ => 0,
        };
        let mut at_acked = ZERO_HASH;
        while checker.len() < limit {
            let seq = checker.len() + 1;
            let from_j = take_at(&mut journal_lines, &mut j_next, seq)?;
            let from_s = old_store.take_at(seq);
            let chosen = [from_j.map(|r| (r, true)), from_s.map(|r| (r, false))].into_iter().flatten().find_map(
                |(rec, journal)| {
                    let link = examine(&rec.canonical, rec.hash).ok()?;
                    checker.accepts(&link).then_some((rec, link, journal))
                },
            );
            let Some((rec, link, journal)) = chosen else { break };
            let id = uuid::Uuid::from_u128(link.id);
            checker.push(Ok(link))?;
            let stamp = checker.last_recorded().to_string();
            if checker.len() == acked_seq {
                at_acked = rec.hash;
            }
            writer.push(rec, &id, &stamp)?;
            if journal {
                from_journal += 1;
            } else {
                from_store += 1;
            }
        }
        writer.commit()?;
        let ledger = crate::ledger::Ledger::from_store(store);
        let v = ledger.verify()?;
        (v.seq, v.head, from_journal, from_store, at_acked)
    };
    // What was acknowledged and is missing, exactly: the rest of both copies read for
    // the events they still hold after the first gap.
    let (lost, stranded) = match acked {
        AckedState::Head(a, _) if a > events => {
            let mut held = Vec::new();
            for seq in events + 1..=a {
                let intact =
                    |r: &Record| examine(&r.canonical, r.hash).is_ok_and(|l| l.seq == seq && l.computed == l.stored);
                let in_journal = take_at(&mut journal_lines, &mut j_next, seq)?.is_some_and(|r| intact(&r));
                if in_journal || old_store.take_at(seq).is_some_and(|r| intact(&r)) {
                    held.push(seq);
                }
            }
            let missing = gaps(events + 1, a, &held);
            let stranded = stranded(&held, &missing);
            (missing, stranded)
        }
        _ => (Vec::new(), None),
    };
    crate::ledger::store::set_current_dir(dir);
    // Dropping sled may flush, and sled panics on some damaged files.
    let _ = guarded(dir, || {
        drop(old_store);
        Ok(())
    });

    if let AckedState::Head(a, hash) = acked {
        if a <= events && a > 0 && at_acked != hash {
            return Err(Error::Lost(format!(
                "what could be read differs from the head acknowledged at seq {a}; nothing was changed (compare \
                 `export` of this ledger with a copy you trust)"
            )));
        }
    }
    // The new acknowledged head: the rebuilt one, unless acknowledged events are lost
    // and the loss is not accepted.
    let new_acked = if lost.is_empty() || accept_loss { Some((events, head)) } else { None };
    let marker = dir.join(RECOVERING);
    let mut text = format!("{stamp}\n");
    if let Some((seq, hash)) = new_acked {
        text.push_str(&format!("{seq} {}\n", hex(&hash)));
    }
    // The staged store and journal sit where a swap expects them.
    for name in ["sled", "journal"] {
        let from = rebuilt.join(name);
        let to = staging.join(name);
        fs::rename(&from, &to).map_err(|e| crate::ledger::journal::io_error("moving", &from, e))?;
    }
    sync_dir(&staging)?;
    crate::files::write_atomically(&marker, |w| Ok(w.write_all(text.as_bytes())?))?;
    finish_interrupted_recover(dir)?;
    drop(lock);
    Ok(Recovered { events, head, from_journal, from_store, moved_to: moved, lost, stranded })
}

/// Takes the journal's line for `seq`, skipping damaged lines and lines before it.
fn take_at(lines: &mut Option<Lines>, held: &mut Option<(u64, Record)>, seq: u64) -> Result<Option<Record>> {
    loop {
        if let Some((s, _)) = held {
            if *s > seq {
                return Ok(None);
            }
            let (s, rec) = held.take().expect("held");
            if s == seq {
                return Ok(Some(rec));
            }
            continue;
        }
        let Some(reader) = lines.as_mut() else { return Ok(None) };
        match reader.next_line()? {
            None => {
                *lines = None;
                return Ok(None);
            }
            Some(JournalLine::Damaged) => {}
            Some(JournalLine::Intact(s, rec)) => *held = Some((s, rec)),
        }
    }
}

/// The old store, read block by block: each seq is looked up in the block that holds
/// it, so a block sled cannot read (a damaged page) costs only the events in it — the
/// blocks after it are still read.
struct OldStore {
    dir: PathBuf,
    db: Option<sled::Db>,
    /// Its head record, when it can be read.
    head: Option<u64>,
    /// Blocks above this seq are not read (above the head: never committed).
    limit: u64,
    /// The last block read: its events by seq.
    block: std::collections::VecDeque<(u64, Record)>,
    /// Seqs below this are not looked up again (in a block that could not be read).
    skip_below: u64,
    /// Reads that failed; past a bound the store is given up.
    failures: u32,
}

/// Failed reads of a damaged store after which the rest is read from the journal alone.
const OLD_STORE_FAILURES: u32 = 10_000;

impl OldStore {
    fn open(ledger: &Path, copy: &Path) -> OldStore {
        let db = if copy.join("db").exists() {
            let opened = guarded(ledger, || {
                let mut config =
                    sled::Config::new().path(copy).cache_capacity(crate::limits::SLED_CACHE_BYTES).flush_every_ms(None);
                if let Some(size) = segment_size_of(copy) {
                    config = config.segment_size(size);
                }
                config.open().map_err(Error::from)
            });
            match opened {
                Ok(db) => Some(db),
                Err(e) => {
                    warn(&format!("the old store could not be opened ({e}); rebuilding from the journal alone"));
                    None
                }
            }
        } else {
            None
        };
        let head = db.as_ref().and_then(|db| {
            guarded(ledger, || Ok(db.get(b"head")?)).ok().flatten().and_then(|v| {
                (v.len() == 40 || v.len() == 60).then(|| u64::from_be_bytes(v[..8].try_into().expect("8 bytes")))
            })
        });
        OldStore {
            dir: ledger.to_path_buf(),
            db,
            head,
            limit: u64::MAX,
            block: Default::default(),
            skip_below: 0,
            failures: 0,
        }
    }

    fn take_at(&mut self, seq: u64) -> Option<Record> {
        while let Some((s, _)) = self.block.front() {
            if *s < seq {
                self.block.pop_front();
            } else if *s == seq {
                return self.block.pop_front().map(|(_, r)| r);
            } else {
                break;
            }
        }
        if seq > self.limit || seq < self.skip_below {
            return None;
        }
        let db = self.db.as_ref()?;
        // The block holding `seq`: the last block key at or before it.
        let (low, high) = (crate::ledger::store::block_key(0).to_vec(), crate::ledger::store::block_key(seq).to_vec());
        let item = guarded(&self.dir, || Ok(db.range(low..=high).next_back().transpose()?));
        let bound = crate::limits::BLOCK_MAX_EVENTS as u64;
        let (key, value) = match item {
            Ok(Some(kv)) => kv,
            Ok(None) => return None,
            Err(_) => {
                // A page sled cannot read: the events of its block are not here; the
                // next block is tried past them.
                self.failures += 1;
                if self.failures > OLD_STORE_FAILURES {
                    self.db = None;
                }
                self.skip_below = seq + bound;
                return None;
            }
        };
        let first = key.get(1..9).and_then(|k| k.try_into().ok()).map(u64::from_be_bytes)?;
        match decode_block(&value) {
            Ok(records) => {
                let limit = self.limit;
                self.block = records
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| (first + i as u64, r))
                    .filter(|(s, _)| *s >= seq && *s <= limit)
                    .collect();
                if self.block.front().is_some_and(|(s, _)| *s == seq) {
                    return self.block.pop_front().map(|(_, r)| r);
                }
                None
            }
            Err(_) => {
                self.skip_below = first + bound;
                None
            }
        }
    }
}

/// The segment size in a sled `conf` file, if it can be read.
fn segment_size_of(sdir: &Path) -> Option<usize> {
    let conf = fs::read(sdir.join("conf")).ok()?;
    let text = String::from_utf8_lossy(&conf[..conf.len().saturating_sub(4)]).into_owned();
    text.lines().find_map(|l| l.strip_prefix("segment_size: ")).and_then(|n| n.trim().parse().ok())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| crate::ledger::journal::io_error("creating", to, e))?;
    for entry in fs::read_dir(from).map_err(|e| crate::ledger::journal::io_error("reading", from, e))? {
        let entry = entry.map_err(|e| crate::ledger::journal::io_error("reading", from, e))?;
        let target = to.join(entry.file_name());
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .map_err(|e| crate::ledger::journal::io_error("copying", &entry.path(), e))?;
        }
    }
    Ok(())
}
