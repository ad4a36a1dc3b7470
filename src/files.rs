//! Writing files safely, for every transport and the ledger below them.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `path` through a temporary file in the same directory, fsynced and renamed,
/// so a crash never leaves half a file under the final name (and a full disk leaves
/// the old file as it was).
pub fn write_atomically(path: &Path, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    write_atomically_with_mode(path, 0o644, f)
}

/// [`write_atomically`] for a file only its owner may read (mode 0600 from the start:
/// users and tokens).
pub fn write_private(path: &Path, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    write_atomically_with_mode(path, 0o600, f)
}

fn write_atomically_with_mode(path: &Path, mode: u32, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::Usage(format!("{} — не имя файла", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io_error("creating", &tmp, e))?;
    let written = (|| -> Result<()> {
        let mut w = BufWriter::new(file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| io_error("writing", &tmp, e.into_error()))?;
        file.sync_all().map_err(|e| io_error("syncing", &tmp, e))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(match e {
            Error::Storage(m) if m.starts_with("i/o") => Error::Storage(format!("writing {}: {m}", path.display())),
            Error::NoSpace(_) => Error::NoSpace(tmp.display().to_string()),
            other => other,
        });
    }
    std::fs::rename(&tmp, path).map_err(|e| io_error("renaming", path, e))?;
    sync_dir(dir)
}

/// Maps an I/O error to the ledger's error, naming the file; a full disk says so.
pub fn io_error(doing: &str, path: &Path, e: std::io::Error) -> Error {
    if crate::error::is_disk_full(&e) {
        Error::NoSpace(path.display().to_string())
    } else {
        Error::storage(&format!("{doing} {}", path.display()), e)
    }
}

/// fsyncs a directory, so a file created or renamed in it survives a power loss.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error("syncing", dir, e))
}
