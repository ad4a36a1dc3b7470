//! `DIR/FORMAT` (SPEC §20): the storage format's version, in a file a person can read
//! before anything opens the store — `caseledger-store-3` and the version of
//! caseledger that wrote it. A newer format is refused naming that version; an older
//! store is copied aside before it is upgraded in place.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The storage format this version reads and writes.
pub const STORE_FORMAT: u32 = 3;
const FILE: &str = "FORMAT";
const PREFIX: &str = "caseledger-store-";

/// What `DIR/FORMAT` says: the format and the caseledger version that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stated {
    pub format: u32,
    pub writer: String,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads `DIR/FORMAT` (None for a ledger made before it existed).
pub fn read(dir: &Path) -> Result<Option<Stated>> {
    let text = match std::fs::read_to_string(path(dir)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::storage(&format!("reading {}", path(dir).display()), e)),
    };
    let mut lines = text.lines();
    let format = lines
        .next()
        .and_then(|l| l.trim().strip_prefix(PREFIX))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::Storage(format!("{}: не «{PREFIX}N» в первой строке", path(dir).display())))?;
    let writer = lines.next().and_then(|l| l.trim().strip_prefix("caseledger ")).unwrap_or("?").to_string();
    Ok(Some(Stated { format, writer }))
}

/// Writes `DIR/FORMAT` for this version.
pub fn write(dir: &Path) -> Result<()> {
    let text = format!("{PREFIX}{STORE_FORMAT}\ncaseledger {}\n", env!("CARGO_PKG_VERSION"));
    crate::files::write_atomically(&path(dir), |w| Ok(w.write_all(text.as_bytes())?))
}

/// Refuses a store of a newer format than this version reads, naming the version
/// that wrote it.
pub fn check_not_newer(dir: &Path) -> Result<()> {
    match read(dir)? {
        Some(s) if s.format > STORE_FORMAT => Err(Error::Storage(format!(
            "{}: хранилище формата {} записала caseledger {}, а эта версия ({}) читает формат {STORE_FORMAT} и старше: \
             установите caseledger {} или новее (см. CHANGELOG.md); реестр не тронут",
            dir.display(),
            s.format,
            s.writer,
            env!("CARGO_PKG_VERSION"),
            s.writer
        ))),
        _ => Ok(()),
    }
}

/// Before an older store is upgraded in place: its files (the sled store, the
/// journal, the acknowledged head) copied to `DIR/before-upgrade-store-N-STAMP/`.
pub fn copy_aside(dir: &Path, from_format: u32) -> Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let to = dir.join(format!("before-upgrade-store-{from_format}-{stamp}"));
    for name in [super::store::SLED_DIR, super::segments::JOURNAL_DIR, "ACKED"] {
        let from = dir.join(name);
        if from.exists() {
            copy_tree(&from, &to.join(name))
                .map_err(|e| Error::storage(&format!("copying {} before the upgrade", from.display()), e))?;
        }
    }
    eprintln!(
        "хранилище формата {from_format} обновляется до формата {STORE_FORMAT}; прежние файлы сохранены в {}",
        to.display()
    );
    Ok(to)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
        std::fs::File::open(to)?.sync_all()?;
    }
    Ok(())
}
