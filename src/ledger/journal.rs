//! The journal (SPEC §13): a second copy of every committed event, outside sled.
//!
//! `DIR/journal/` holds segment files named by the seq of their first event
//! (`00000000000000000001.jsonl`, 20 digits, so names sort in seq order). Each line is
//! one stored event exactly as `export` writes it, so the segments concatenated are an
//! export that `verify --export` or any outside verifier reads as it is.
//!
//! A write goes in two steps, like the store's: lines are appended past the committed
//! end (buffered, and written to the file as a long append goes), then
//! [`Journal::commit`] writes the rest and fsyncs — one write and one fsync for a short
//! append or a group commit. [`Journal::abort`] cuts the file back to the committed
//! end. Segments roll at [`JOURNAL_SEGMENT_BYTES`], so no file grows without bound.
//!
//! What the journal says is committed is decided at open, against the store and the
//! acknowledged head (`acked.rs`): see `heal.rs`. Lines past the last intact one (a torn
//! line after a crash, a damaged one) are never trusted.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ledger::event::{Hash, Record, ZERO_HASH};
use crate::ledger::lines::{Line, LineReader};
use crate::ledger::segments::{
    journal_dir, parse_line, record_seq, segment_first, segment_name, JournalSync, Lines, TmpSegment, WRITE_CHUNK,
};
use crate::limits::{JOURNAL_SEGMENT_BYTES, MAX_LINE_BYTES};

/// Bytes of a segment's end read to find its last line (a line is at most
/// `MAX_LINE_BYTES` plus the envelope, so this holds at least three).
const TAIL_WINDOW: u64 = 4 * (MAX_LINE_BYTES as u64 + 1024);

pub(crate) use crate::files::{io_error, sync_dir};

/// The last intact line of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub seq: u64,
    pub hash: Hash,
    /// Index in `segments` of the segment holding it, and the byte offset just past its
    /// newline. `None` when the journal holds no intact line.
    pub at: Option<(usize, u64)>,
    /// Bytes after it (a torn or damaged line), in its segment or later ones.
    pub trailing: bool,
}

pub struct Journal {
    dir: PathBuf,
    /// First seq of every segment, ascending.
    segments: Vec<u64>,
    /// The last segment, open for writing (`None` before the first event).
    file: Option<Arc<File>>,
    /// Committed bytes of the last segment, and the last committed seq and hash.
    committed_len: u64,
    committed_seq: u64,
    committed_hash: Hash,
    /// An append in progress: lines not yet written, bytes of the last segment written
    /// so far, the last seq pushed, segments it created, files it wrote to that need an
    /// fsync at commit.
    buf: Vec<u8>,
    written_len: u64,
    pushed_seq: u64,
    created: Vec<u64>,
    dirty: Vec<Arc<File>>,
    /// A long append's writes, done on another thread (see [`Background`]).
    background: Option<Background>,
}

/// The writes of a long append, on a thread of their own: the appending thread only
/// formats lines, and a segment the append has filled is fsynced there as soon as the
/// next one starts, so little is left for the commit's fsync.
struct Background {
    tx: std::sync::mpsc::SyncSender<(Arc<File>, PathBuf, Vec<u8>)>,
    /// Buffers the thread has written, back for reuse (fresh 4 MiB buffers cost page
    /// faults).
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    done: std::thread::JoinHandle<Result<()>>,
}

impl Background {
    fn start() -> Background {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Arc<File>, PathBuf, Vec<u8>)>(4);
        let (spare_tx, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let done = std::thread::spawn(move || -> Result<()> {
            let mut last: Option<(Arc<File>, PathBuf)> = None;
            for (file, path, mut bytes) in rx {
                if let Some((prev, prev_path)) = last.take().filter(|(p, _)| !Arc::ptr_eq(p, &file)) {
                    prev.sync_data().map_err(|e| io_error("syncing", &prev_path, e))?;
                }
                (&*file).write_all(&bytes).map_err(|e| io_error("writing", &path, e))?;
                bytes.clear();
                let _ = spare_tx.try_send(bytes);
                last = Some((file, path));
            }
            Ok(())
        });
        Background { tx, spare, done }
    }
}

impl Journal {
    /// Creates an empty journal directory (init).
    pub fn create(ledger_dir: &Path) -> Result<()> {
        let dir = journal_dir(ledger_dir);
        fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
        sync_dir(&dir)?;
        sync_dir(ledger_dir)
    }

    pub fn exists(ledger_dir: &Path) -> bool {
        journal_dir(ledger_dir).is_dir()
    }

    /// Opens the journal and finds its last intact line. Nothing is written: what is
    /// committed is set by [`Journal::settle`] once the caller compared it with the
    /// store.
    pub fn open(ledger_dir: &Path) -> Result<(Journal, Tail)> {
        let dir = journal_dir(ledger_dir);
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
            sync_dir(&dir)?;
        }
        let segments = list_segments(&dir)?;
        let journal = Journal {
            dir,
            segments,
            file: None,
            committed_len: 0,
            committed_seq: 0,
            committed_hash: ZERO_HASH,
            buf: Vec::new(),
            written_len: 0,
            pushed_seq: 0,
            created: Vec::new(),
            dirty: Vec::new(),
            background: None,
        };
        let tail = journal.find_tail()?;
        Ok((journal, tail))
    }

    fn path(&self, first: u64) -> PathBuf {
        self.dir.join(segment_name(first))
    }

    /// The segment files, in seq order.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|f| self.path(*f)).collect()
    }

    fn find_tail(&self) -> Result<Tail> {
        let mut trailing = false;
        for (index, first) in self.segments.iter().enumerate().rev() {
            let path = self.path(*first);
            let mut file = File::open(&path).map_err(|e| io_error("opening", &path, e))?;
            let len = file.metadata().map_err(|e| io_error("reading", &path, e))?.len();
            let mut from = len.saturating_sub(TAIL_WINDOW);
            loop {
                let mut bytes = Vec::with_capacity((len - from) as usize);
                file.seek(SeekFrom::Start(from)).map_err(|e| io_error("reading", &path, e))?;
                (&mut file).take(len - from).read_to_end(&mut bytes).map_err(|e| io_error("reading", &path, e))?;
                // Lines that end in this window, from the last; the first partial one
                // (when the window does not start the file) is not a line.
                let mut end = match bytes.iter().rposition(|b| *b == b'\n') {
                    Some(i) => {
                        trailing |= i + 1 < bytes.len();
                        i
                    }
                    None => {
                        trailing |= !bytes.is_empty();
                        if from == 0 {
                            break;
                        }
                        from = 0;
                        continue;
                    }
                };
                loop {
                    let start = bytes[..end].iter().rposition(|b| *b == b'\n').map(|i| i + 1);
                    let Some(start) = start.or((from == 0).then_some(0)) else { break };
                    if let Some(rec) = parse_line(&bytes[start..end]) {
                        if let Some(seq) = record_seq(&rec) {
                            let at = from + end as u64 + 1;
                            return Ok(Tail { seq, hash: rec.hash, at: Some((index, at)), trailing });
                        }
                    }
                    trailing = true;
                    if start == 0 {
                        break;
                    }
                    end = start - 1;
                }
                if from == 0 {
                    break;
                }
                // Every line in the window was damaged: read the whole segment.
                from = 0;
            }
            trailing |= len > 0;
        }
        Ok(Tail { seq: 0, hash: ZERO_HASH, at: None, trailing })
    }

    /// Sets the committed end to just past the line of `seq` (with hash `hash`), cutting
    /// off everything after it — torn lines, damaged ones, lines of an append that never
    /// committed — and removing later segments. `seq` 0 empties the journal.
    pub fn settle(&mut self, seq: u64, hash: Hash) -> Result<()> {
        let (index, end) = if seq == 0 { (None, 0) } else { self.locate_end(seq, &hash)? };
        self.settle_to(index, end, seq, hash)
    }

    /// [`Journal::settle`] at the tail [`Journal::open`] found (no search).
    pub fn settle_at(&mut self, tail: &Tail) -> Result<()> {
        let (index, end) = match tail.at {
            Some((i, end)) => (Some(i), end),
            None => (None, 0),
        };
        self.settle_to(index, end, tail.seq, tail.hash)
    }

    fn settle_to(&mut self, index: Option<usize>, end: u64, seq: u64, hash: Hash) -> Result<()> {
        let _ = self.finish_background();
        let keep = index.map_or(0, |i| i + 1);
        let mut changed = false;
        // Newest first, so a crash part way never leaves a gap before a segment.
        for first in self.segments.split_off(keep).into_iter().rev() {
            let path = self.path(first);
            fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
            changed = true;
        }
        self.file = None;
        if let Some(&first) = self.segments.last() {
            let path = self.path(first);
            let mut file = OpenOptions::new().write(true).open(&path).map_err(|e| io_error("opening", &path, e))?;
            let len = file.metadata().map_err(|e| io_error("reading", &path, e))?.len();
            if len != end {
                file.set_len(end).map_err(|e| io_error("truncating", &path, e))?;
                file.sync_all().map_err(|e| io_error("syncing", &path, e))?;
            }
            file.seek(SeekFrom::Start(end)).map_err(|e| io_error("reading", &path, e))?;
            self.file = Some(Arc::new(file));
        }
        if changed {
            sync_dir(&self.dir)?;
        }
        self.buf.clear();
        self.dirty.clear();
        self.created.clear();
        self.committed_len = end;
        self.written_len = end;
        self.committed_seq = seq;
        self.committed_hash = hash;
        self.pushed_seq = seq;
        Ok(())
    }

    /// The first seq of the segment a line for `seq` belongs in: the segment holding it,
    /// or `seq` itself when it would start a new one.
    pub fn segment_start_for(&self, seq: u64) -> u64 {
        match self.segments.partition_point(|f| *f <= seq) {
            0 => seq,
            i => self.segments[i - 1],
        }
    }

    /// The segment holding `seq` and the offset just past its line.
    fn locate_end(&self, seq: u64, hash: &Hash) -> Result<(Option<usize>, u64)> {
        let index = self.segments.partition_point(|f| *f <= seq);
        if index == 0 {
            return Err(Error::Storage(format!("the journal holds no segment with seq {seq}")));
        }
        let index = index - 1;
        let path = self.path(self.segments[index]);
        let mut reader = LineReader::new(
            BufReader::with_capacity(1 << 20, File::open(&path).map_err(|e| io_error("opening", &path, e))?),
            MAX_LINE_BYTES + 1024,
        );
        let mut offset = 0u64;
        while let Some((_, line)) = reader.next_line().map_err(|e| io_error("reading", &path, e))? {
            let Line::Text(bytes) = line else { break };
            offset += bytes.len() as u64 + 1;
            if let Some(rec) = parse_line(&bytes).filter(|r| record_seq(r) == Some(seq)) {
                if rec.hash != *hash {
                    break;
                }
                return Ok((Some(index), offset));
            }
        }
        Err(Error::Storage(format!("the journal's line for seq {seq} was not found intact in {}", path.display())))
    }

    /// Appends one event's line past the committed end (not durable until commit).
    pub fn push(&mut self, seq: u64, record: &Record) -> Result<()> {
        debug_assert_eq!(seq, self.pushed_seq + 1);
        if self.file.is_none() || self.written_len + self.buf.len() as u64 >= JOURNAL_SEGMENT_BYTES {
            self.roll(seq)?;
        }
        record.to_json_line(&mut self.buf);
        self.pushed_seq = seq;
        if self.buf.len() >= WRITE_CHUNK {
            // A long append: its writes go to the background thread from here on.
            self.background.get_or_insert_with(Background::start);
            self.write_buffered()?;
        }
        Ok(())
    }

    /// Starts a new segment whose first event is `seq`.
    fn roll(&mut self, seq: u64) -> Result<()> {
        self.write_buffered()?;
        let path = self.path(seq);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("creating", &path, e))?;
        if let Some(old) = self.file.replace(Arc::new(file)) {
            if self.written_len > self.committed_len || !self.dirty.is_empty() || !self.created.is_empty() {
                self.dirty.push(old);
            }
        }
        self.segments.push(seq);
        self.created.push(seq);
        self.written_len = 0;
        Ok(())
    }

    fn current_path(&self) -> PathBuf {
        self.segments.last().map_or_else(|| self.dir.clone(), |f| self.path(*f))
    }

    fn write_buffered(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = self.current_path();
        let file = self.file.clone().expect("a segment is open once a line is buffered");
        self.written_len += self.buf.len() as u64;
        match &self.background {
            Some(bg) => {
                let next = bg.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(WRITE_CHUNK + MAX_LINE_BYTES));
                let bytes = std::mem::replace(&mut self.buf, next);
                if bg.tx.send((file, path, bytes)).is_err() {
                    // The thread stopped on an error: finishing it reports the error.
                    return self.finish_background();
                }
            }
            None => {
                (&*file).write_all(&self.buf).map_err(|e| io_error("writing", &path, e))?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// Waits for the background writes (if any) and reports their first error.
    fn finish_background(&mut self) -> Result<()> {
        let Some(bg) = self.background.take() else { return Ok(()) };
        drop(bg.tx);
        bg.done.join().map_err(|_| Error::Storage("the journal's writer thread stopped".into()))?
    }

    /// Writes what is buffered to the files (the page cache), without an fsync, and
    /// returns what a later [`JournalSync::run`] must fsync to make it durable: the
    /// group committer's way of keeping the fsync off its path. A full disk is
    /// reported here, before the store commits (the filesystem reserves space when it
    /// takes a write).
    pub fn write_unsynced(&mut self) -> Result<JournalSync> {
        if self.pushed_seq == self.committed_seq {
            return Ok(JournalSync::default());
        }
        self.write_buffered()?;
        self.finish_background()?;
        let path = self.current_path();
        let mut files = Vec::with_capacity(self.dirty.len() + 1);
        for f in self.dirty.iter().chain(self.file.as_ref()) {
            files.push(f.try_clone().map_err(|e| io_error("opening", &path, e))?);
        }
        let dir = (!self.created.is_empty()).then(|| self.dir.clone());
        Ok(JournalSync { files, dir, path })
    }

    /// Makes the synced lines committed; `head_hash` is the hash of the last one.
    pub fn confirm(&mut self, head_hash: Hash) {
        self.dirty.clear();
        self.created.clear();
        self.committed_len = self.written_len;
        self.committed_seq = self.pushed_seq;
        self.committed_hash = head_hash;
    }

    /// [`Journal::write_unsynced`], its fsyncs, then [`Journal::confirm`] (the writer
    /// does them apart; the tests here do them at once).
    #[cfg(test)]
    pub fn commit(&mut self, head_hash: Hash) -> Result<()> {
        self.write_unsynced()?.run()?;
        self.confirm(head_hash);
        Ok(())
    }

    /// Drops every line pushed since the last commit: the last committed segment is cut
    /// back to its committed length and segments created since are removed.
    pub fn abort(&mut self) -> Result<()> {
        self.buf.clear();
        let _ = self.finish_background();
        if self.pushed_seq == self.committed_seq && self.written_len == self.committed_len {
            return Ok(());
        }
        self.dirty.clear();
        let created = std::mem::take(&mut self.created);
        let removed = !created.is_empty();
        for first in created {
            self.segments.retain(|f| *f != first);
            let path = self.path(first);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("removing", &path, e)),
            }
        }
        self.file = None;
        if let Some(&first) = self.segments.last() {
            let path = self.path(first);
            let mut file = OpenOptions::new().write(true).open(&path).map_err(|e| io_error("opening", &path, e))?;
            file.set_len(self.committed_len).map_err(|e| io_error("truncating", &path, e))?;
            file.sync_data().map_err(|e| io_error("syncing", &path, e))?;
            file.seek(SeekFrom::Start(self.committed_len)).map_err(|e| io_error("reading", &path, e))?;
            self.file = Some(Arc::new(file));
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        self.written_len = self.committed_len;
        self.pushed_seq = self.committed_seq;
        Ok(())
    }

    /// Reads the journal's lines from the segment holding `from_seq` on (see
    /// [`Lines`]).
    pub fn lines_from(&self, from_seq: u64) -> Lines {
        let start = self.segments.partition_point(|f| *f <= from_seq.max(1)).saturating_sub(1);
        Lines::new(self.segments[start..].iter().map(|f| self.path(*f)).collect())
    }

    /// Replaces every segment from `from_seq` on (which must start a segment, see
    /// [`Journal::segment_start_for`]) with the given records: each segment is written
    /// to a temporary file, fsynced, and renamed over the old one, and the committed
    /// end moves to the last line. Heals the journal from the store.
    pub fn rewrite_from(&mut self, from_seq: u64, records: impl Iterator<Item = Result<(u64, Record)>>) -> Result<u64> {
        debug_assert_eq!(self.segment_start_for(from_seq), from_seq);
        let _ = self.finish_background();
        // Every new segment is written and fsynced under a temporary name first; only
        // then are they renamed in, so a failure before leaves the journal as it was.
        let mut written: Vec<TmpSegment> = Vec::new();
        let mut count = 0u64;
        let mut line = Vec::with_capacity(1024);
        let staged = (|| -> Result<()> {
            for item in records {
                let (seq, rec) = item?;
                if written.last().is_none_or(|s| s.len >= JOURNAL_SEGMENT_BYTES) {
                    if let Some(s) = written.last_mut() {
                        s.sync()?;
                    }
                    written.push(TmpSegment::create(&self.dir, seq)?);
                }
                line.clear();
                rec.to_json_line(&mut line);
                written.last_mut().expect("created above").write(&line)?;
                count += 1;
            }
            if let Some(s) = written.last_mut() {
                s.sync()?;
            }
            Ok(())
        })();
        if let Err(e) = staged {
            for s in &written {
                let _ = fs::remove_file(&s.tmp);
            }
            return Err(e);
        }
        let start = self.segments.partition_point(|f| *f < from_seq);
        let old: Vec<u64> = self.segments[start..].to_vec();
        let swapped = (|| -> Result<()> {
            let firsts: Vec<u64> = written.iter().map(|s| s.first).collect();
            for s in written {
                s.rename_in(&self.dir)?;
            }
            // Newest first, so a crash part way never leaves a gap before a segment.
            for first in old.iter().rev().filter(|f| !firsts.contains(f)) {
                let path = self.path(*first);
                fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
            }
            sync_dir(&self.dir)
        })();
        // Whatever happened, the journal's idea of itself is read again from its files.
        let reloaded = self.reload();
        swapped?;
        reloaded?;
        Ok(count)
    }

    /// Reads the list of segments and the tail again from the files, and settles there.
    fn reload(&mut self) -> Result<()> {
        let _ = self.finish_background();
        self.segments = list_segments(&self.dir)?;
        self.file = None;
        self.dirty.clear();
        self.created.clear();
        self.buf.clear();
        let tail = self.find_tail()?;
        self.settle_at(&tail)
    }
}

/// The first seqs of the segments in a journal directory, ascending; leftover temporary
/// files of an interrupted rewrite are removed.
fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error("reading", dir, e))? {
        let entry = entry.map_err(|e| io_error("reading", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(first) = segment_first(&name) {
            segments.push(first);
        } else if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::segments::tests::chain;
    use crate::ledger::segments::JOURNAL_DIR;

    #[test]
    fn commit_abort_tail_and_settle() {
        let tmp = tempfile::tempdir().unwrap();
        Journal::create(tmp.path()).unwrap();
        let (mut j, tail) = Journal::open(tmp.path()).unwrap();
        assert_eq!((tail.seq, tail.at, tail.trailing), (0, None, false));
        j.settle(0, ZERO_HASH).unwrap();
        let recs = chain(10);
        for (i, r) in recs[..6].iter().enumerate() {
            j.push(i as u64 + 1, r).unwrap();
        }
        j.commit(recs[5].hash).unwrap();
        for (i, r) in recs[6..].iter().enumerate() {
            j.push(i as u64 + 7, r).unwrap();
        }
        j.write_buffered().unwrap();
        j.abort().unwrap();
        let (_, tail) = Journal::open(tmp.path()).unwrap();
        assert_eq!((tail.seq, tail.hash, tail.trailing), (6, recs[5].hash, false));

        // A torn last line is trailing, and settle cuts it off.
        let seg = tmp.path().join(JOURNAL_DIR).join(segment_name(1));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"actor\":\"x").unwrap();
        let (mut j, tail) = Journal::open(tmp.path()).unwrap();
        assert_eq!((tail.seq, tail.trailing), (6, true));
        j.settle(4, recs[3].hash).unwrap();
        let (_, tail) = Journal::open(tmp.path()).unwrap();
        assert_eq!((tail.seq, tail.trailing), (4, false));
    }
}
