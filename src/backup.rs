//! `backup` and `restore` (SPEC §20): one archive of everything a ledger needs — its
//! events and the files beside them that no copy of the events holds (the signing
//! key, users, tokens, witnesses, the organisation's name, config.toml, the latest
//! checkpoint and what each witness has cosigned) — and a working ledger made of it.
//!
//! The archive is a zip: `manifest.json` (format, the events' count and head, each
//! member's BLAKE3), `events.jsonl` (the export of events 1…N) and the side files as
//! they are. It is consistent while `serve` appends: the side files are read first,
//! then N is fixed at the acknowledged head, so the checkpoint never covers more than
//! the archive holds. Restore refuses an archive whose members are not exactly the
//! manifest's, or differ from its hashes, and verifies every event as it loads them.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::ledger::Ledger;

/// The archive format, in its manifest.
pub const FORMAT: &str = "caseledger-backup/1";
/// The files beside the events that a backup keeps, when the ledger has them.
pub const SIDE_FILES: &[&str] =
    &["log.key", "users.json", "tokens.json", "witnesses", "organisation", "config.toml", "checkpoint", "witnessed"];
/// The largest side file (they are a few KB).
const MAX_SIDE_BYTES: u64 = 4 << 20;
const MANIFEST: &str = "manifest.json";
const EVENTS: &str = "events.jsonl";

/// What `backup` wrote.
#[derive(Debug)]
pub struct Made {
    pub seq: u64,
    pub head: [u8; 32],
    pub files: Vec<String>,
    pub bytes: u64,
}

/// Writes the archive of `ledger` to `out` (atomically: a temporary file renamed).
pub fn backup(ledger: &Ledger, out: &Path) -> Result<Made> {
    let dir = ledger.store().dir().to_path_buf();
    // The side files first: the checkpoint read now covers at most the head read next.
    let mut side = Vec::new();
    for name in SIDE_FILES {
        match read_side(&dir.join(name)) {
            Ok(Some(bytes)) => side.push((*name, bytes)),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    let seq = ledger.acknowledged_seq();
    let mut last = crate::ledger::event::ZERO_HASH;
    let mut manifest_files = serde_json::Map::new();
    let made = crate::files::write_atomically(out, |w| {
        let mut zip = zip::ZipWriter::new_stream(w);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true)
            .unix_permissions(0o600);
        let zerr = |e: zip::result::ZipError| Error::Storage(format!("writing the backup: {e}"));
        zip.start_file(EVENTS, opts).map_err(zerr)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = Vec::with_capacity(1 << 16);
        let mut count = 0u64;
        if seq > 0 {
            ledger.for_each_while(1, |s, rec| {
                if s > seq {
                    return Ok(false);
                }
                rec.to_json_line(&mut buf);
                last = rec.hash;
                count = s;
                if buf.len() >= 1 << 16 {
                    hasher.update(&buf);
                    zip.write_all(&buf)?;
                    buf.clear();
                }
                Ok(true)
            })?;
        }
        hasher.update(&buf);
        zip.write_all(&buf)?;
        if count != seq {
            return Err(Error::Storage(format!("the backup read {count} events of {seq}")));
        }
        manifest_files.insert(EVENTS.into(), hasher.finalize().to_hex().as_str().into());
        for (name, bytes) in &side {
            zip.start_file(*name, opts).map_err(zerr)?;
            zip.write_all(bytes)?;
            manifest_files.insert((*name).into(), blake3::hash(bytes).to_hex().as_str().into());
        }
        let manifest = serde_json::json!({
            "format": FORMAT,
            "store": crate::ledger::STORE_FORMAT,
            "version": env!("CARGO_PKG_VERSION"),
            "seq": seq,
            "head": hex(&last),
            "made_at": crate::codec::format_stamp(&chrono::Utc::now()),
            "files": manifest_files,
        });
        zip.start_file(MANIFEST, opts).map_err(zerr)?;
        zip.write_all(serde_json::to_string_pretty(&manifest).map_err(std::io::Error::from)?.as_bytes())?;
        zip.finish().map_err(zerr)?;
        Ok(())
    });
    made?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let files = std::iter::once(EVENTS.to_string()).chain(side.iter().map(|(n, _)| n.to_string())).collect();
    Ok(Made { seq, head: last, files, bytes })
}

fn read_side(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::storage(&format!("reading {}", path.display()), e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIDE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::storage("reading", e))?;
    if bytes.len() as u64 > MAX_SIDE_BYTES {
        return Err(Error::Storage(format!("{} is larger than {} bytes", path.display(), MAX_SIDE_BYTES)));
    }
    Ok(Some(bytes))
}

/// What `restore` made.
#[derive(Debug)]
pub struct Restored {
    pub seq: u64,
    pub head: [u8; 32],
    /// Events the backup held (fewer than `seq` when `--events` brought later ones).
    pub from_backup: u64,
    pub files: Vec<String>,
    /// The restored checkpoint's size, when there is one.
    pub checkpoint: Option<u64>,
    /// Mirrors config.toml names, which must report again before checkpoints reach
    /// the witnesses.
    pub mirrors: Vec<String>,
}

/// Makes a ledger in `dir` (absent or empty) of a backup, optionally with its events
/// taken from `events` instead — an export that continues the backup's chain (of a
/// mirror, which may hold more than the backup). Verified: each event as it loads,
/// then the whole ledger opened and its checkpoint checked against its tree. On any
/// failure the directory is left as it was found.
pub fn restore(archive: &Path, dir: &Path, events: Option<&Path>) -> Result<Restored> {
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::Usage(format!(
            "{}: восстанавливают только в пустую или новую папку, а в этой уже есть файлы",
            dir.display()
        )));
    }
    let existed = dir.exists();
    let result = restore_into(archive, dir, events);
    if result.is_err() {
        if existed {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

fn restore_into(archive: &Path, dir: &Path, events: Option<&Path>) -> Result<Restored> {
    let name = archive.display().to_string();
    let bad = |why: String| Error::Mismatch(format!("{name}: {why}"));
    let file = std::fs::File::open(archive).map_err(|e| Error::Usage(crate::say::cannot_read(&name, &e)))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(format!("не архив резервной копии ({e})")))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(format!("имена в архиве не читаются ({e})")))?;
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    if unique.len() != names.len() {
        return Err(bad("в архиве одно имя встречается дважды".into()));
    }
    let manifest: serde_json::Value = {
        let entry = zip.by_name(MANIFEST).map_err(|_| bad("в архиве нет manifest.json".into()))?;
        let mut text = Vec::new();
        entry.take(MAX_SIDE_BYTES).read_to_end(&mut text).map_err(|e| bad(format!("manifest.json: {e}")))?;
        serde_json::from_slice(&text).map_err(|e| bad(format!("manifest.json не читается: {e}")))?
    };
    if manifest["format"] != FORMAT {
        return Err(bad(format!("формат {} — а эта версия читает {FORMAT}", manifest["format"])));
    }
    let seq = manifest["seq"].as_u64().ok_or_else(|| bad("в manifest.json нет seq".into()))?;
    let head = manifest["head"]
        .as_str()
        .and_then(crate::codec::parse_hex)
        .ok_or_else(|| bad("в manifest.json нет head".into()))?;
    let listed = manifest["files"].as_object().ok_or_else(|| bad("в manifest.json нет files".into()))?;
    let expected: std::collections::BTreeSet<&str> = listed.keys().map(String::as_str).chain([MANIFEST]).collect();
    let present: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
    if expected != present || !listed.contains_key(EVENTS) {
        return Err(bad(format!(
            "состав архива не совпадает с manifest.json (в архиве: {}; в manifest.json: {})",
            present.iter().copied().collect::<Vec<_>>().join(", "),
            expected.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut side = Vec::new();
    for (member, hash) in listed {
        if member == EVENTS {
            continue;
        }
        if !SIDE_FILES.contains(&member.as_str()) {
            return Err(bad(format!("неизвестный файл {member}")));
        }
        let entry = zip.by_name(member).map_err(|e| bad(format!("{member}: {e}")))?;
        let mut bytes = Vec::new();
        entry.take(MAX_SIDE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| bad(format!("{member}: {e}")))?;
        if bytes.len() as u64 > MAX_SIDE_BYTES || Some(blake3::hash(&bytes).to_hex().as_str()) != hash.as_str() {
            return Err(bad(format!("{member} не совпадает со своим хешем в manifest.json")));
        }
        side.push((member.clone(), bytes));
    }
    // The events: the archive's, hashed as they are read; they must be the manifest's.
    {
        let entry = zip.by_name(EVENTS).map_err(|e| bad(format!("{EVENTS}: {e}")))?;
        let mut hasher = blake3::Hasher::new();
        std::io::copy(&mut BufReader::new(entry), &mut hasher).map_err(|e| bad(format!("{EVENTS}: {e}")))?;
        if Some(hasher.finalize().to_hex().as_str()) != listed[EVENTS].as_str() {
            return Err(bad(format!("{EVENTS} не совпадает со своим хешем в manifest.json")));
        }
    }
    let ledger = Ledger::init(dir)?;
    let input: Box<dyn BufRead> = match events {
        None => Box::new(BufReader::with_capacity(1 << 16, zip.by_name(EVENTS).map_err(|e| bad(format!("{e}")))?)),
        Some(path) => Box::new(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(path).map_err(|e| Error::Usage(format!("--events {}: {e}", path.display())))?,
        )),
    };
    let (v, _) = crate::record::StateRules::append_with(&ledger, |r| ledger.import(input, r))?;
    // Events brought from elsewhere must continue the backup's chain: the backup's
    // last event is theirs too.
    if seq > 0 {
        let same = ledger.record(seq)?.is_some_and(|r| r.hash == head);
        if !same {
            return Err(Error::Mismatch(format!(
                "--events: событие № {seq} не то, что в резервной копии — это другая история реестра"
            )));
        }
    } else if v.seq > 0 && events.is_none() {
        return Err(bad("manifest.json говорит о пустом реестре, а события есть".into()));
    }
    for (member, bytes) in &side {
        crate::files::write_atomically(&dir.join(member), |w| Ok(w.write_all(bytes)?))?;
        if member == "log.key" || member == "users.json" || member == "tokens.json" {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.join(member), std::fs::Permissions::from_mode(0o600));
        }
    }
    ledger.sync()?;
    drop(ledger);
    // Opened again as any command would: the checkpoint is checked against the tree.
    let ledger = Ledger::open(dir)?;
    let verified = ledger.verify()?;
    let checkpoint = crate::checkpoint::Checkpoint::latest(dir)?.map(|c| c.size);
    if let Some(size) = checkpoint {
        if size > verified.seq {
            return Err(Error::Mismatch(format!(
                "контрольная точка покрывает {size} событий, а восстановлено {}",
                verified.seq
            )));
        }
    }
    let mirrors = crate::config::Config::load(dir).map(|c| c.mirrors).unwrap_or_default();
    Ok(Restored {
        seq: verified.seq,
        head: verified.head,
        from_backup: seq,
        files: side.into_iter().map(|(n, _)| n).collect(),
        checkpoint,
        mirrors,
    })
}
