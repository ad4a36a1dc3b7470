//! The journal's files (SPEC §13): segments named by their first seq, a line read
//! back into the stored event it holds, the lines of every segment in order, a
//! segment rewritten under a temporary name, and the fsyncs a commit leaves for later.
//! What the journal decides — its committed end, its tail — is `journal.rs`.

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::files::{io_error, sync_dir};
use crate::ledger::event::{digest, parse_hex, Record};
use crate::ledger::lines::{Line, LineReader};
use crate::limits::MAX_LINE_BYTES;

pub const JOURNAL_DIR: &str = "journal";
const SUFFIX: &str = ".jsonl";
/// `,"hash":"` + 64 hex digits + `"}`: how every stored line ends.
const HASH_TAIL: usize = 9 + 64 + 2;
/// Buffered lines are written to the file once they reach this size.
pub(super) const WRITE_CHUNK: usize = 4 << 20;

pub fn journal_dir(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join(JOURNAL_DIR)
}

pub(super) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The first seq a segment's file name gives, or `None` for any other file.
pub(super) fn segment_first(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// Reads one journal line back into the stored event (the exact inverse of
/// [`Record::to_json_line`]). `None` when the line is not one this program wrote or its
/// bytes no longer hash to the hash it names (damaged).
pub fn parse_line(line: &[u8]) -> Option<Record> {
    let n = line.len();
    if n < HASH_TAIL + 2 || &line[n - 2..] != b"\"}" || &line[n - HASH_TAIL..n - 66] != b",\"hash\":\"" {
        return None;
    }
    let hash = parse_hex(std::str::from_utf8(&line[n - 66..n - 2]).ok()?)?;
    let mut canonical = Vec::with_capacity(n - HASH_TAIL + 1);
    canonical.extend_from_slice(&line[..n - HASH_TAIL]);
    canonical.push(b'}');
    (digest(&canonical) == hash).then_some(Record { hash, canonical })
}

/// The seq an intact record names (read from its canonical tail).
pub fn record_seq(rec: &Record) -> Option<u64> {
    crate::ledger::chain::examine(&rec.canonical, rec.hash).ok().map(|l| l.seq)
}

/// The fsyncs a commit left for later (see [`Journal::write_unsynced`]).
#[derive(Default)]
pub struct JournalSync {
    pub(super) files: Vec<File>,
    pub(super) dir: Option<PathBuf>,
    pub(super) path: PathBuf,
}

impl JournalSync {
    pub fn run(&self) -> Result<()> {
        for f in &self.files {
            f.sync_data().map_err(|e| io_error("syncing", &self.path, e))?;
        }
        if let Some(dir) = &self.dir {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

/// A segment being rewritten, under a temporary name until it is complete.
pub(super) struct TmpSegment {
    pub(super) first: u64,
    pub(super) tmp: PathBuf,
    out: std::io::BufWriter<File>,
    pub(super) len: u64,
}

impl TmpSegment {
    pub(super) fn create(dir: &Path, first: u64) -> Result<TmpSegment> {
        let tmp = dir.join(format!(".{}.tmp", segment_name(first)));
        let file = File::create(&tmp).map_err(|e| io_error("creating", &tmp, e))?;
        Ok(TmpSegment { first, tmp, out: std::io::BufWriter::with_capacity(WRITE_CHUNK, file), len: 0 })
    }

    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| io_error("writing", &self.tmp, e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub(super) fn sync(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| io_error("writing", &self.tmp, e))?;
        self.out.get_ref().sync_all().map_err(|e| io_error("syncing", &self.tmp, e))
    }

    /// Renames it to its final name (over the segment it replaces).
    pub(super) fn rename_in(self, dir: &Path) -> Result<()> {
        let path = dir.join(segment_name(self.first));
        fs::rename(&self.tmp, &path).map_err(|e| io_error("renaming", &path, e))
    }
}

/// One line of the journal as read back.
#[derive(Debug)]
pub enum JournalLine {
    /// An intact event and its seq.
    Intact(u64, Record),
    /// A line whose bytes do not hash to the hash it names, or that is no event.
    Damaged,
}

/// The journal's lines in order, across segments.
pub struct Lines {
    paths: Vec<PathBuf>,
    next: usize,
    reader: Option<(PathBuf, LineReader<BufReader<File>>)>,
}

impl Lines {
    pub(super) fn new(paths: Vec<PathBuf>) -> Lines {
        Lines { paths, next: 0, reader: None }
    }

    /// The next line (`None` at the end). A line cut off at the end of a segment is
    /// reported as damaged.
    pub fn next_line(&mut self) -> Result<Option<JournalLine>> {
        loop {
            if self.reader.is_none() {
                let Some(path) = self.paths.get(self.next).cloned() else { return Ok(None) };
                self.next += 1;
                let file = File::open(&path).map_err(|e| io_error("opening", &path, e))?;
                self.reader =
                    Some((path, LineReader::new(BufReader::with_capacity(1 << 20, file), MAX_LINE_BYTES + 1024)));
            }
            let (path, reader) = self.reader.as_mut().expect("set above");
            match reader.next_line().map_err(|e| io_error("reading", path, e))? {
                None => self.reader = None,
                Some((_, Line::TooLong(_))) => return Ok(Some(JournalLine::Damaged)),
                Some((_, Line::Text(bytes))) => {
                    return Ok(Some(match parse_line(&bytes) {
                        Some(rec) => match record_seq(&rec) {
                            Some(seq) => JournalLine::Intact(seq, rec),
                            None => JournalLine::Damaged,
                        },
                        None => JournalLine::Damaged,
                    }))
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ledger::event::{canonical_event, EventFields, Hash, ZERO_HASH};

    pub(in crate::ledger) fn record(seq: u64, prev: &Hash) -> Record {
        let mut canonical = Vec::new();
        let id = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(seq));
        canonical_event(
            &EventFields {
                actor: "к",
                data_canonical: "{\"signal\":\"С1\"}".as_bytes(),
                id: &id,
                occurred_on: "2021-03-01",
                prev,
                recorded_at: "2021-03-02T10:00:00Z",
                seq,
                kind: "signal_received",
            },
            &mut canonical,
        );
        Record { hash: digest(&canonical), canonical }
    }

    pub(in crate::ledger) fn chain(n: u64) -> Vec<Record> {
        let mut prev = ZERO_HASH;
        (1..=n)
            .map(|s| {
                let r = record(s, &prev);
                prev = r.hash;
                r
            })
            .collect()
    }

    #[test]
    fn a_line_reads_back_exactly_and_damage_is_seen() {
        let r = record(7, &[3; 32]);
        let mut line = Vec::new();
        r.to_json_line(&mut line);
        line.pop();
        assert_eq!(parse_line(&line), Some(r.clone()));
        assert_eq!(record_seq(&r), Some(7));
        for i in [0, 10, line.len() / 2, line.len() - 3] {
            let mut bad = line.clone();
            bad[i] ^= 0x04;
            assert_eq!(parse_line(&bad), None, "flip at {i}");
        }
        assert_eq!(parse_line(&line[..line.len() - 1]), None);
    }
}
