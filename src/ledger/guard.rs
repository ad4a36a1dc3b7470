//! What stands between the ledger and sled: the lock on the ledger's directory; sled
//! opened with its conf checked, a partial or damaged snapshot moved aside and a panic
//! caught; the directory messages about the open store name; and sled's and the
//! operating system's errors said as the ledger's (SPEC §13).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{is_disk_full, Error, Result};
use crate::files::sync_dir;
use crate::limits::{SLED_CACHE_BYTES, SLED_SEGMENT_BYTES};

/// Returns freed heap pages to the system (glibc keeps them otherwise: a bulk append
/// of a million events held ~400 MB of RSS over its live heap), from mimalloc's heap
/// (the binary's allocator) and from glibc's (what a library user allocates).
pub fn release_free_memory() {
    // SAFETY: mi_collect only frees pages mimalloc holds but no allocation uses; it is
    // thread-safe and harmless when mimalloc is not the allocator (its heap is empty).
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only releases free memory back to the system; it has no
        // preconditions and is thread-safe in glibc.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// mimalloc's option for how long freed pages stay before going back to the system
/// (`mi_option_purge_delay`, milliseconds; the binary sets it to 0).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed pages stay with the allocator during a bulk append.
const BULK_PURGE_DELAY_MS: std::os::raw::c_long = 2000;

/// While it lives, pages freed on the heap stay with mimalloc for two seconds before
/// going back to the system, instead of at once: a bulk append frees and allocates
/// the same pages over and over, and taking each one back from the system cost about
/// a twentieth of its time (100 ms: ~40 MB more at its peak; 2 s: a fifth fewer page
/// faults again, ~20 MB more; BENCHMARKS.md, issue 30). The option is the process's: bulk appends to several ledgers at once
/// share it, and the last one to finish puts the setting back and returns the free
/// pages. A setting of "never" (negative) is left as it is.
pub struct BulkMemory(());

/// Bulk appends holding the option, and its value before the first of them.
static BULK_HOLDERS: std::sync::Mutex<(usize, std::os::raw::c_long)> = std::sync::Mutex::new((0, 0));

impl BulkMemory {
    pub fn hold() -> BulkMemory {
        let mut held = BULK_HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        if held.0 == 0 {
            // SAFETY: mi_option_get/set read and store one option's value; mimalloc
            // reads it each time it schedules a purge, from any thread. Harmless when
            // mimalloc is not the allocator.
            held.1 = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
            if held.1 >= 0 {
                unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, BULK_PURGE_DELAY_MS.max(held.1)) };
            }
        }
        held.0 += 1;
        BulkMemory(())
    }
}

impl Drop for BulkMemory {
    fn drop(&mut self) {
        let mut held = BULK_HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        held.0 -= 1;
        if held.0 > 0 {
            return;
        }
        // SAFETY: as in `hold`.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, held.1) };
        drop(held);
        release_free_memory();
    }
}

/// The ledger directory of the store this process opened last, for messages about it
/// that are made far from the open (a sled error met while reading).
pub fn current_dir() -> String {
    crate::panics::watched_store()
}

pub(crate) fn set_current_dir(dir: &Path) {
    crate::panics::watch_store(dir);
}

/// "The store in DIR is damaged (…); run caseledger recover".
pub fn damaged(dir: &Path, detail: impl Into<String>) -> Error {
    Error::Damaged { dir: dir.display().to_string(), detail: detail.into() }
}

/// Runs `f`, turning a panic inside it (sled panics on some damaged files) into the
/// damaged-store error.
pub fn guarded<T>(dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::panics::quietly(f).unwrap_or_else(|detail| Err(damaged(dir, format!("sled failed: {detail}"))))
}

/// The sled store's directory under the ledger's.
pub(crate) const SLED_DIR: &str = "sled";

pub(super) fn sled_dir(dir: &Path) -> PathBuf {
    dir.join(SLED_DIR)
}

/// Takes the ledger's own lock before sled is touched (see SLED-NOTES: a second
/// process must get a clear error, and a leftover snapshot must be removed only by
/// the process that holds the lock).
pub(crate) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::storage(&format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::InUse(dir.display().to_string())),
        Err(fs::TryLockError::Error(e)) => Err(Error::storage(&format!("locking {}", path.display()), e)),
    }
}

/// sled writes `snap.<lsn>.generating` while opening; a kill at that moment leaves a
/// file that later opens mistake for a snapshot (sled #1527, #1533). The snapshot is
/// only a cache of the log, so removing a leftover one loses nothing.
pub(super) fn remove_partial_snapshots(sdir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(sdir) else { return Ok(()) };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".generating") {
            tracing::info!(file = %entry.path().display(), "removing a partial sled snapshot (a crash or a full disk stopped sled writing it)");
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The segment size a store was created with (sled refuses to open it with another),
/// read from sled's `conf` file: `Ok(None)` for a new store; an error when the file
/// fails its own checksum (sled would only log that, then trust a damaged size).
pub(super) fn stored_segment_size(dir: &Path, sdir: &Path) -> Result<Option<usize>> {
    let path = sdir.join("conf");
    let conf = match fs::read(&path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(super::journal::io_error("reading", &path, e)),
    };
    // sled's layout: the settings as text lines, then their CRC-32, little-endian.
    let damaged_conf = || damaged(dir, format!("sled's settings file {} is damaged", path.display()));
    let intact = conf.len() > 8 && {
        let (text, crc) = conf.split_at(conf.len() - 4);
        crc32fast::hash(text).to_le_bytes() == crc
    };
    if !intact {
        // The file says only what this program told sled; when the damaged bytes still
        // tell which of the two settings it ever used they were, it is written again.
        let size = guess_conf(&conf).ok_or_else(damaged_conf)?;
        crate::files::write_atomically(&path, |w| Ok(w.write_all(&sled_conf(size))?))?;
        eprintln!("sled's settings file {} was damaged; it was written again (segment_size {size})", path.display());
        return Ok(Some(size));
    }
    let text = std::str::from_utf8(&conf[..conf.len() - 4]).map_err(|_| damaged_conf())?;
    let size = text.lines().find_map(|l| l.strip_prefix("segment_size: ")).and_then(|n| n.trim().parse().ok());
    size.map(Some).ok_or_else(damaged_conf)
}

/// Opens sled. When sled cannot read its files and a snapshot is there, the snapshot
/// (only a cache of sled's log) is moved aside to `DIR/damaged-<stamp>/` and sled is
/// opened once more, rebuilding it from the log; what the log then holds is compared
/// with the journal like any other open.
/// sled 0.34's `conf` for a segment size, byte for byte as sled writes it.
pub(super) fn sled_conf(segment_size: usize) -> Vec<u8> {
    let mut out = format!("segment_size: {segment_size}\nuse_compression: false\nversion: 0.34\n").into_bytes();
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Which of the segment sizes this program gave sled (2 MiB now, sled's 512 KiB
/// before) a damaged `conf` was written for: the one it differs from in at most 4
/// bytes, or of which it is a prefix long enough to tell them apart.
pub(super) fn guess_conf(damaged: &[u8]) -> Option<usize> {
    let fits = |size: usize| {
        let want = sled_conf(size);
        if damaged.len() == want.len() {
            want.iter().zip(damaged).filter(|(a, b)| a != b).count() <= 4
        } else {
            damaged.len() >= 16 && damaged.len() < want.len() && want.starts_with(damaged)
        }
    };
    let sizes: Vec<usize> = [SLED_SEGMENT_BYTES, 512 * 1024].into_iter().filter(|s| fits(*s)).collect();
    (sizes.len() == 1).then(|| sizes[0])
}

pub(super) fn open_sled(dir: &Path, sdir: &Path) -> Result<sled::Db> {
    match open_sled_once(dir, sdir) {
        Err(first @ Error::Damaged { .. }) => {
            let Some(moved) = move_snapshots_aside(dir, sdir)? else { return Err(first) };
            let db = open_sled_once(dir, sdir).map_err(|_| first)?;
            eprintln!(
                "sled could not read its files in {}; its snapshot (a cache of its log) was moved to {} and \
                 sled read its log again",
                sdir.display(),
                moved.display()
            );
            Ok(db)
        }
        other => other,
    }
}

pub(super) fn move_snapshots_aside(dir: &Path, sdir: &Path) -> Result<Option<PathBuf>> {
    let snapshots: Vec<PathBuf> = fs::read_dir(sdir)
        .map_err(|e| super::journal::io_error("reading", sdir, e))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
        .map(|e| e.path())
        .collect();
    if snapshots.is_empty() {
        return Ok(None);
    }
    let moved = dir.join(format!("damaged-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")));
    fs::create_dir_all(&moved).map_err(|e| super::journal::io_error("creating", &moved, e))?;
    for snap in snapshots {
        let to = moved.join(snap.file_name().unwrap_or_default());
        fs::rename(&snap, &to).map_err(|e| super::journal::io_error("moving", &snap, e))?;
    }
    sync_dir(sdir)?;
    sync_dir(dir)?;
    Ok(Some(moved))
}

pub(super) fn open_sled_once(dir: &Path, sdir: &Path) -> Result<sled::Db> {
    let segment = stored_segment_size(dir, sdir)?.unwrap_or(SLED_SEGMENT_BYTES);
    if segment < SLED_SEGMENT_BYTES {
        tracing::warn!(
            segment,
            "this ledger's store was made with small sled segments: its larger pages go to sled blob files, \
             which sled does not fsync; move it to a new ledger by `export` then `import`"
        );
    }
    let config = sled::Config::new()
        .path(sdir)
        .segment_size(segment)
        .cache_capacity(SLED_CACHE_BYTES)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput);
    // The caller holds the ledger's own LOCK, so no other process has this store. sled's
    // IO threads may still hold its file for a moment after the same process dropped
    // an earlier handle (seen as a rare WouldBlock when reopening in process): wait
    // for them, briefly, instead of failing.
    let mut waited = 0;
    loop {
        match guarded(dir, || Ok(config.open()))? {
            // sled reports it as an `Other` error whose text names the lock.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && waited < SLED_REOPEN_WAIT_MS =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
                waited += 10;
            }
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if crate::error::is_disk_full(&e) => {
                return Err(Error::NoSpace(sdir.join("db").display().to_string()))
            }
            Err(sled::Error::Io(e)) => {
                return Err(Error::storage(&format!("opening the store in {}", sdir.display()), e))
            }
            Err(sled::Error::Corruption { .. }) => {
                return Err(damaged(dir, "sled cannot read its own files: they fail its checksums"))
            }
            Err(e) => return Err(damaged(dir, e.to_string())),
        }
    }
}

/// How long an open waits for this process's own sled IO threads to let go of a store.
pub(super) const SLED_REOPEN_WAIT_MS: u64 = 2_000;

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        let dir = current_dir();
        match e {
            sled::Error::Corruption { .. } => {
                Error::Damaged { dir, detail: "sled read data that fails its checksums".into() }
            }
            sled::Error::Io(io) if is_disk_full(&io) => Error::NoSpace(format!("{dir}/sled/db")),
            other => Error::storage("storage", other),
        }
    }
}

/// An I/O error met where no file was named (`files::io_error` names one): a full disk
/// is the open ledger's.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if is_disk_full(&e) {
            return Error::NoSpace(current_dir());
        }
        Error::storage("i/o", e)
    }
}
