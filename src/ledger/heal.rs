//! Storage that never loses an acknowledged event (SPEC §13): every open compares the
//! store with the journal and the acknowledged head, and heals what one copy lacks
//! from the other; `recover` rebuilds a damaged store; `export` and `verify` read the
//! journal alone when the store cannot be opened.
//!
//! The three records and what each proves:
//! - the store (sled): commits an append atomically by its head key, but a damaged log
//!   makes sled silently cut everything after the damage, head included;
//! - the journal: the same events as lines, written and fsynced *before* the store's
//!   commit, so after a crash it may hold lines of an append that never committed —
//!   only above the acknowledged head;
//! - `DIR/ACKED`: the head last acknowledged, written after both copies are durable and
//!   before the answer; so nothing at or below it may be missing, and nothing above it
//!   was ever promised.
//!
//! At open, with `s` the store's head, `j` the journal's last intact line and `a` the
//! acknowledged head: the journal's lines `s+1 ..= max(s, a)` are restored to the store
//! (hash and link checked), lines above that are dropped (an append that did not
//! commit); the store's events `j+1 ..= s` are restored to the journal; anything
//! acknowledged that neither copy holds intact is exit 3, naming the range.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::files::sync_dir;
use crate::ledger::acked::{Acked, AckedState};
use crate::ledger::chain::{examine, ChainChecker};
use crate::ledger::event::{hex, Hash, Record};
use crate::ledger::journal::{Journal, Tail};
use crate::ledger::segments::{JournalLine, Lines};
use crate::ledger::store::{damaged, decode_block, Store};

/// One warning line on stderr (SPEC §13: the command goes on).
pub(super) fn warn(line: &str) {
    eprintln!("{line}");
}

fn differ(seq: u64) -> Error {
    Error::Lost(format!(
        "the store and the journal hold different events at seq {seq}; run caseledger recover to see what each holds"
    ))
}

fn lost(from: u64, to: u64) -> Error {
    lost_exactly(&[(from, to)], None, "")
}

/// The ranges of `from..=to` that `held` (ascending seqs) lacks.
pub(super) fn gaps(from: u64, to: u64, held: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut next = from;
    for &s in held.iter().filter(|s| (from..=to).contains(*s)) {
        if s > next {
            out.push((next, s - 1));
        }
        next = next.max(s + 1);
    }
    if next <= to {
        out.push((next, to));
    }
    out
}

/// The events neither copy holds intact, exactly (several ranges when the copies hold
/// some in between); `stranded`: intact events after the first loss, which the chain
/// cannot take back without the lost ones (they stay where they are).
pub fn lost_exactly(ranges: &[(u64, u64)], stranded: Option<(u64, u64)>, then: &str) -> Error {
    let names: Vec<String> = ranges.iter().map(|(a, b)| range(*a, *b)).collect();
    let after = match stranded {
        Some((a, b)) => format!(
            "; events {} are intact but come after the lost ones, so the ledger cannot go on with them",
            range(a, b)
        ),
        None => String::new(),
    };
    Error::Lost(format!("events {} are lost from both the store and the journal{after}{then}", names.join(", ")))
}

/// The intact journal lines' seqs in `from..=to`, in order.
fn journal_seqs(lines: &mut Lines, from: u64, to: u64) -> Result<Vec<u64>> {
    let mut held = Vec::new();
    while let Some(line) = lines.next_line()? {
        match line {
            JournalLine::Intact(s, _) if s > to => break,
            JournalLine::Intact(s, _) if s >= from => held.push(s),
            _ => {}
        }
    }
    Ok(held)
}

/// The first and last of `held` after the first gap of `from..=to`, if any.
pub(super) fn stranded(held: &[u64], gaps: &[(u64, u64)]) -> Option<(u64, u64)> {
    let first_gap = gaps.first()?;
    let after: Vec<u64> = held.iter().copied().filter(|s| *s > first_gap.1).collect();
    Some((*after.first()?, *after.last()?))
}

/// Compares the opened store with the journal and the acknowledged head and heals
/// them (see the module's doc). Fast when all three agree: a few small reads.
pub(crate) fn reconcile(store: &Store, tail: Tail, acked: AckedState) -> Result<()> {
    let head = store.head();
    let (s, j) = (head.seq, tail.seq);
    let acknowledged = match acked {
        AckedState::Head(a, hash) => Some((a, hash)),
        _ => None,
    };
    if s == j && head.hash == tail.hash && acknowledged == Some((s, head.hash)) {
        // All agree; a torn line after the tail (a crash during a journal write whose
        // append never committed) is cut off.
        return store.journal.lock().unwrap_or_else(|e| e.into_inner()).settle_at(&tail);
    }
    if s == j && head.hash != tail.hash {
        return Err(differ(s));
    }

    // The journal holds more: restore what was acknowledged to the store.
    if j > s {
        let limit = match acknowledged {
            Some((a, _)) => j.min(a.max(s)),
            None => j,
        };
        let restored = restore_from_journal(store, limit)?;
        if restored > 0 {
            warn(&format!("restored {restored} events (seq {}) from the journal", range(s + 1, s + restored)));
        }
        let now = store.head();
        if now.seq < limit {
            // The line after the last restored one is damaged or missing in the journal,
            // and the store lacks it: keep the journal as it is (its later lines are the
            // only copy) and say what is lost.
            let to = acknowledged.map_or(j, |(a, _)| a.max(now.seq + 1));
            // Exactly what neither copy holds: the store stops at its head; the journal
            // may hold lines after its damaged one.
            let mut lines = store.journal.lock().unwrap_or_else(|e| e.into_inner()).lines_from(now.seq + 1);
            let held = journal_seqs(&mut lines, now.seq + 1, to)?;
            let missing = gaps(now.seq + 1, to, &held);
            return Err(lost_exactly(&missing, stranded(&held, &missing), ": run caseledger recover"));
        }
    }

    // The journal must now hold exactly the store's events. Lines it lacks come from
    // the store; so do lines above the acknowledged head when the store went beyond it
    // (the service writes journal lines before its store commit but fsyncs them after,
    // so after a crash they may be torn anywhere, not only at the end).
    let now = store.head();
    let (j_seq, j_hash) = (tail.seq, tail.hash);
    let trusted = match acknowledged {
        Some((a, _)) if now.seq > a => j_seq.min(a),
        _ => j_seq,
    };
    let mut journal = store.journal.lock().unwrap_or_else(|e| e.into_inner());
    if now.seq > trusted {
        if trusted == j_seq && j_seq > 0 {
            let at_j = store.record(j_seq)?.ok_or_else(|| damaged(store.dir(), format!("event {j_seq} is missing")))?;
            if at_j.hash != j_hash {
                return Err(differ(j_seq));
            }
        }
        let from = journal.segment_start_for(trusted + 1);
        journal.rewrite_from(from, store_records(store, from, now.seq))?;
        if now.seq > j_seq {
            warn(&format!("restored {} events (seq {}) to the journal", now.seq - j_seq, range(j_seq + 1, now.seq)));
        }
    } else if (tail.seq, tail.hash) == (now.seq, now.hash) {
        journal.settle_at(&tail)?;
    } else {
        // Lines above the store's head that were never acknowledged (an append that did
        // not commit) are cut off; when the line of the head itself is not found intact,
        // the segment holding it is written again from the store.
        if tail.seq > now.seq {
            tracing::info!(events = tail.seq - now.seq, "dropping journal lines of an append that did not commit");
        }
        if journal.settle(now.seq, now.hash).is_err() {
            let from = journal.segment_start_for(now.seq.max(1));
            journal.rewrite_from(from, store_records(store, from, now.seq))?;
        }
    }
    drop(journal);

    // Nothing acknowledged may be missing, and what was acknowledged must be what is here.
    let now = store.head();
    match acknowledged {
        Some((a, _)) if a > now.seq => return Err(lost(now.seq + 1, a)),
        Some((a, hash)) if a > 0 => {
            let at_a = store.record(a)?.map(|r| r.hash);
            if at_a != Some(hash) {
                return Err(Error::Lost(format!(
                    "the ledger differs from the head acknowledged at seq {a} (DIR/ACKED names hash {})",
                    hex(&hash)
                )));
            }
        }
        _ => {}
    }
    if acked == AckedState::Damaged {
        warn(&format!(
            "the acknowledged head in {} was damaged; it now names seq {}",
            Acked::path(store.dir()).display(),
            now.seq
        ));
    }
    if acknowledged != Some((now.seq, now.hash)) {
        store.acked.lock().unwrap_or_else(|e| e.into_inner()).write(now.seq, now.hash)?;
    }
    Ok(())
}

/// Copies the journal's lines after the store's head, up to `limit`, into the store
/// (each hash recomputed, each linked to the one before). Stops at the first line that
/// is damaged or missing. Returns how many were restored.
fn restore_from_journal(store: &Store, limit: u64) -> Result<u64> {
    let head = store.head();
    let mut lines = store.journal.lock().unwrap_or_else(|e| e.into_inner()).lines_from(head.seq + 1);
    let mut checker = ChainChecker::continuing(head.seq, head.hash, &head.recorded_at);
    let mut writer = store.writer_to(false)?;
    let mut next = head.seq + 1;
    while next <= limit {
        let Some(line) = lines.next_line()? else { break };
        let JournalLine::Intact(seq, rec) = line else { continue };
        if seq < next {
            continue;
        }
        if seq > next {
            break;
        }
        let link = examine(&rec.canonical, rec.hash).map_err(|_| differ(head.seq))?;
        if !checker.accepts(&link) {
            if seq == head.seq + 1 {
                return Err(differ(head.seq));
            }
            break;
        }
        let id = uuid::Uuid::from_u128(link.id);
        checker.push(Ok(link))?;
        let stamp = checker.last_recorded().to_string();
        writer.push(rec, &id, &stamp)?;
        next += 1;
    }
    let restored = next - head.seq - 1;
    if restored > 0 {
        writer.commit()?;
    }
    Ok(restored)
}

/// The store's events `from ..= to`, each checked against its own hash.
fn store_records(store: &Store, from: u64, to: u64) -> impl Iterator<Item = Result<(u64, Record)>> + '_ {
    let dir = store.dir().to_path_buf();
    store
        .blocks(from)
        .map(move |block| -> Result<Vec<(u64, Record)>> {
            let (first, bytes) = block?;
            let records = decode_block(&bytes).map_err(|reason| damaged(&dir, format!("block {first}: {reason}")))?;
            Ok(records.into_iter().enumerate().map(|(i, r)| (first + i as u64, r)).collect())
        })
        .flat_map(|r| match r {
            Ok(v) => v.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
        .filter(move |r| r.as_ref().map_or(true, |(seq, _)| (from..=to).contains(seq)))
        .map(move |r| {
            let (seq, rec) = r?;
            if crate::ledger::event::digest(&rec.canonical) != rec.hash {
                return Err(Error::Integrity {
                    seq,
                    reason: "the stored event does not match its hash; run caseledger recover".into(),
                });
            }
            Ok((seq, rec))
        })
}

/// Compares every journal line up to `upto` with the store's event of the same seq,
/// byte for byte, without hashing (the store's own hashes are checked by `verify`,
/// which runs this beside its pipeline and hands it each block it has already read and
/// unpacked, in order). Returns the first seq whose line is missing, damaged or
/// different. A line's length is known from the store, so the comparison does not
/// search for its newline.
pub(crate) fn compare_journal(
    store: &Store,
    upto: u64,
    blocks: impl IntoIterator<Item = super::store::Unpacked>,
) -> Result<Option<u64>> {
    use std::io::Read;
    let paths = store.journal.lock().unwrap_or_else(|e| e.into_inner()).segment_paths();
    let mut files = paths.into_iter();
    // The journal's bytes not yet compared are `buf[at..end]`; `buf` is allocated
    // once (zeroing a fresh 4 MiB for every read cost more than comparing them).
    let mut buf: Vec<u8> = vec![0; 4 << 20];
    let (mut at, mut end) = (0usize, 0usize);
    let mut file: Option<std::fs::File> = None;
    let mut seq = 0u64;
    // The next `len` bytes and a newline, across segment files; `None` when the
    // journal ends first or a segment ends part way through a line.
    let mut next_line =
        |buf: &mut Vec<u8>, at: &mut usize, end: &mut usize, len: usize| -> Result<Option<std::ops::Range<usize>>> {
            loop {
                if *end - *at > len {
                    let line = *at..*at + len;
                    if buf[*at + len] != b'\n' {
                        return Ok(None);
                    }
                    *at += len + 1;
                    return Ok(Some(line));
                }
                // Keep the partial line, read more.
                buf.copy_within(*at..*end, 0);
                *end -= *at;
                *at = 0;
                if buf.len() <= len + 1 {
                    buf.resize(len + 1 + (1 << 20), 0);
                }
                if file.is_none() {
                    if *end > 0 {
                        return Ok(None); // a segment ends without a newline
                    }
                    match files.next() {
                        Some(p) => {
                            file =
                                Some(std::fs::File::open(&p).map_err(|e| super::journal::io_error("opening", &p, e))?)
                        }
                        None => return Ok(None),
                    }
                }
                let f = file.as_mut().expect("opened above");
                let n = f.read(&mut buf[*end..]).map_err(|e| Error::storage("reading the journal", e))?;
                *end += n;
                if n == 0 {
                    file = None;
                }
            }
        };
    for block in blocks {
        for (hash, range) in &block.records {
            let canonical = &block.bytes[range.clone()];
            seq += 1;
            if seq > upto {
                return Ok(None);
            }
            // The stored line: the canonical bytes without their closing brace, then
            // `,"hash":"<64 hex>"}`.
            let body = canonical.len() - 1;
            let Some(range) = next_line(&mut buf, &mut at, &mut end, body + 75)? else { return Ok(Some(seq)) };
            let line = &buf[range];
            let same = line[..body] == canonical[..body]
                && &line[body..body + 9] == b",\"hash\":\""
                && line[body + 9..body + 73] == crate::ledger::event::hex_bytes(hash)
                && &line[body + 73..] == b"\"}";
            if !same {
                return Ok(Some(seq));
            }
        }
    }
    Ok(if seq < upto { Some(seq + 1) } else { None })
}

/// Rewrites the journal from the segment holding `bad` on, from the store (with the
/// warning line of SPEC §13). Returns how many events were rewritten.
pub(crate) fn heal_journal(store: &Store, bad: u64) -> Result<u64> {
    let mut journal = store.journal.lock().unwrap_or_else(|e| e.into_inner());
    // No writer is active while the journal is held: the head is stable.
    let head = store.head();
    if bad > head.seq {
        return Ok(0);
    }
    let from = journal.segment_start_for(bad);
    if let Err(e) = journal.rewrite_from(from, store_records(store, from, head.seq)) {
        store.poison();
        return Err(e);
    }
    let restored = head.seq + 1 - bad;
    warn(&format!("restored {restored} events (seq {}) to the journal", range(bad, head.seq)));
    Ok(restored)
}

// ---------------------------------------------------------------- the journal alone

/// The journal's events after `after` (seq, hash, recorded_at) up to `upto`, each
/// verified and linked, given to `f` in order: what a read of the store could not
/// finish. Exit 3 when the journal lacks one of them too.
pub(crate) fn journal_rest(
    store: &Store,
    after: (u64, Hash, &str),
    upto: u64,
    mut f: impl FnMut(&Record) -> Result<()>,
) -> Result<()> {
    let mut lines = store.journal.lock().unwrap_or_else(|e| e.into_inner()).lines_from(after.0 + 1);
    let mut checker = ChainChecker::continuing(after.0, after.1, after.2);
    // The intact line that could not follow (a gap before it), if any.
    let mut unlinked = None;
    while checker.len() < upto {
        let Some(line) = lines.next_line()? else { break };
        let JournalLine::Intact(seq, rec) = line else { continue };
        if seq <= checker.len() {
            continue;
        }
        let link = examine(&rec.canonical, rec.hash).map_err(|reason| Error::Integrity { seq, reason })?;
        if !checker.accepts(&link) {
            unlinked = Some(seq);
            break;
        }
        checker.push(Ok(link))?;
        f(&rec)?;
    }
    if checker.len() < upto {
        // Which lines the journal lacks, exactly: it may hold later ones.
        let from = checker.len() + 1;
        let mut held: Vec<u64> = unlinked.into_iter().collect();
        held.extend(journal_seqs(&mut lines, from, upto)?);
        held.retain(|s| *s > from);
        let missing = gaps(from, upto, &held);
        let names: Vec<String> = missing.iter().map(|(a, b)| range(*a, *b)).collect();
        return Err(Error::Lost(format!(
            "events {} are missing from the journal and the store cannot be read there{}; run caseledger recover, which reads every readable part of the store",
            names.join(", "),
            stranded(&held, &missing)
                .map(|(a, b)| format!(" (the journal holds {} after them)", range(a, b)))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// Reads the journal alone, for `export` and `verify` when the store cannot be opened
/// (damaged, or the disk is full): every line verified and linked, up to the head that
/// was acknowledged (or every intact line when that is not known). `out` receives each
/// line as it verifies. Returns the last seq and hash.
pub fn read_journal_alone(dir: &Path, mut out: Option<&mut dyn Write>) -> Result<(u64, Hash)> {
    let _lock = crate::ledger::store::lock(dir)?;
    if !Journal::exists(dir) {
        return Err(Error::Storage(format!("{} has no journal to read instead of the store", dir.display())));
    }
    let (journal, _) = Journal::open(dir)?;
    let (acked, _) = Acked::read(dir)?;
    let limit = match acked {
        AckedState::Head(a, _) => a,
        _ => u64::MAX,
    };
    let mut lines = journal.lines_from(1);
    let mut checker = ChainChecker::default();
    let mut line = Vec::with_capacity(1024);
    while checker.len() < limit {
        let seq = checker.len() + 1;
        match lines.next_line()? {
            None => break,
            Some(JournalLine::Damaged) if limit == u64::MAX => break,
            Some(JournalLine::Damaged) => {
                return Err(Error::Integrity {
                    seq,
                    reason: "the journal's line is damaged and the store cannot be read; run caseledger recover".into(),
                })
            }
            Some(JournalLine::Intact(_, rec)) => {
                checker.push(examine(&rec.canonical, rec.hash))?;
                if let Some(out) = out.as_deref_mut() {
                    line.clear();
                    rec.to_json_line(&mut line);
                    out.write_all(&line)?;
                }
            }
        }
    }
    if let AckedState::Head(a, hash) = acked {
        if checker.len() < a {
            return Err(Error::Lost(format!(
                "events {} are missing from the journal, and the store cannot be read; run caseledger recover",
                range(checker.len() + 1, a)
            )));
        }
        if checker.head() != hash {
            return Err(Error::Lost(format!("the journal differs from the head acknowledged at seq {a}")));
        }
    }
    if let Some(out) = out {
        out.flush()?;
    }
    Ok((checker.len(), checker.head()))
}

// ---------------------------------------------------------------- recover

pub(super) const RECOVERING: &str = "RECOVERING";
pub(super) const STAGING_PREFIX: &str = ".recover-";

/// Whether a recover was interrupted after it began to swap directories.
pub fn recover_was_interrupted(dir: &Path) -> bool {
    dir.join(RECOVERING).exists()
}

/// Finishes the directory swap of a recover that was interrupted (idempotent: each
/// rename is atomic), or removes the staging area of one interrupted before it.
pub fn finish_interrupted_recover(dir: &Path) -> Result<()> {
    let marker = dir.join(RECOVERING);
    let text = match fs::read_to_string(&marker) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            remove_staging(dir)?;
            return Ok(());
        }
        Err(e) => return Err(crate::ledger::journal::io_error("reading", &marker, e)),
    };
    let mut lines = text.lines();
    let stamp = lines.next().unwrap_or_default().to_string();
    let staging = dir.join(format!("{STAGING_PREFIX}{stamp}"));
    let moved = dir.join(format!("damaged-{stamp}"));
    swap_in(dir, &staging, &moved)?;
    if let Some((seq, hash)) = lines.next().and_then(|l| {
        let (seq, hash) = l.split_once(' ')?;
        Some((seq.parse::<u64>().ok()?, crate::ledger::event::parse_hex(hash)?))
    }) {
        Acked::open(dir, (seq, hash))?;
    }
    remove_staging(dir)?;
    fs::remove_file(&marker).map_err(|e| crate::ledger::journal::io_error("removing", &marker, e))?;
    sync_dir(dir)
}

pub(super) fn remove_staging(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
            fs::remove_dir_all(entry.path())
                .map_err(|e| crate::ledger::journal::io_error("removing", &entry.path(), e))?;
        }
    }
    Ok(())
}

/// Moves `dir/sled` and `dir/journal` into `moved` and the staged ones into `dir`.
pub(super) fn swap_in(dir: &Path, staging: &Path, moved: &Path) -> Result<()> {
    for name in ["sled", "journal"] {
        let staged = staging.join(name);
        if !staged.exists() {
            continue;
        }
        let live = dir.join(name);
        if live.exists() {
            fs::create_dir_all(moved).map_err(|e| crate::ledger::journal::io_error("creating", moved, e))?;
            let mut target = moved.join(name);
            let mut n = 1;
            while target.exists() {
                target = moved.join(format!("{name}.{n}"));
                n += 1;
            }
            fs::rename(&live, &target).map_err(|e| crate::ledger::journal::io_error("moving", &live, e))?;
            sync_dir(moved)?;
        }
        fs::rename(&staged, &live).map_err(|e| crate::ledger::journal::io_error("moving", &staged, e))?;
        sync_dir(dir)?;
    }
    Ok(())
}

/// `A–B` for a seq range, as SPEC §13 writes it (even when A = B).
pub fn range(from: u64, to: u64) -> String {
    format!("{from}–{to}")
}
