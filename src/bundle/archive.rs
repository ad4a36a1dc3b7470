//! A bundle's zip, read strictly (SPEC §19): a zip can say two things at once — two
//! entries of one name (a reader keeps the first, another the last), a name or a size
//! in the central directory that differs from the one in front of the data, an entry
//! hidden between two others, an extra field that renames a member for some readers,
//! entries that overlap, or sizes that lie — and a verifier must never check one thing
//! while a person unpacks another. So before anything is unpacked, the central
//! directory and every local header are read here and must agree field for field: each
//! name once, exactly the expected members, entries back to back from the first byte
//! to the directory, no extra fields, no comments, no encryption or data descriptors,
//! stored or deflated only, no ZIP64. The declared sizes must fit the cap; then each
//! entry is unpacked by the `zip` crate (which checks its CRC), reading at most its
//! declared size and one byte more, so a lying size stops there too.
//! `tools/verify_bundle.py` applies the same rules.

use std::collections::BTreeMap;
use std::io::Read;

/// The members of a bundle, exactly.
pub const MEMBERS: [&str; 6] =
    ["report.json", "events.jsonl", "lineage.json", "policy.txt", "README.md", "verify_bundle.py"];

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END_LEN: usize = 22;

/// One entry as the central directory and its local header describe it.
#[derive(Debug)]
struct Entry {
    name: String,
    method: u16,
    compressed: u64,
    size: u64,
    local: u64,
    data: u64,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The end-of-central-directory record: the last 22 bytes of the file (a bundle's zip
/// has no comment). Its offset.
fn find_end(bytes: &[u8]) -> Result<usize, String> {
    if let Some(at) = bytes.len().checked_sub(END_LEN).filter(|at| u32_at(bytes, *at) == Some(END)) {
        return Ok(at);
    }
    // An end record followed by a comment: said so (`unzip` prints a comment to whoever
    // unpacks the file).
    let last = bytes.len().saturating_sub(END_LEN);
    let commented = (last.saturating_sub(u16::MAX as usize)..last).rev().any(|at| {
        u32_at(bytes, at) == Some(END) && at + END_LEN + usize::from(u16_at(bytes, at + 20).unwrap_or(0)) == bytes.len()
    });
    Err(if commented {
        "у архива есть комментарий: у пакета его не бывает".into()
    } else {
        "файл не читается как zip-архив пакета: нет оглавления архива в его конце".into()
    })
}

/// General-purpose flags a bundle's entry may have: the deflate options (bits 1, 2)
/// and UTF-8 names (bit 11).
const ALLOWED_FLAGS: u16 = 0x0806;

/// Reads the central directory and the local headers; every disagreement is a
/// failure, in words.
fn entries(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let end = find_end(bytes)?;
    let field16 = |at: usize| u16_at(bytes, end + at).unwrap_or(0);
    let (disk, cd_disk, here, total) = (field16(4), field16(6), field16(8), field16(10));
    let cd_size = u64::from(u32_at(bytes, end + 12).unwrap_or(0));
    let cd_offset = u64::from(u32_at(bytes, end + 16).unwrap_or(0));
    if end >= 20 && u32_at(bytes, end - 20) == Some(ZIP64_LOCATOR)
        || total == u16::MAX
        || cd_size == u64::from(u32::MAX)
        || cd_offset == u64::from(u32::MAX)
    {
        return Err("архив в формате ZIP64 (больше 4 ГиБ или 65 535 файлов): пакет таким не бывает".into());
    }
    if disk != 0 || cd_disk != 0 || here != total {
        return Err("архив разбит на части: пакет — один файл".into());
    }
    if field16(20) != 0 {
        return Err("у архива есть комментарий: у пакета его не бывает".into());
    }
    if cd_offset + cd_size != end as u64 {
        return Err("оглавление архива не там, где сказано: между ним и концом архива есть лишние данные".into());
    }
    let mut list: Vec<Entry> = Vec::with_capacity(usize::from(total));
    let mut at = cd_offset as usize;
    for i in 0..total {
        let bad = |what: &str| format!("запись № {} оглавления архива {what}", i + 1);
        if u32_at(bytes, at) != Some(CENTRAL) || at + 46 > end {
            return Err(bad("не читается"));
        }
        let here = at;
        let c16 = |o: usize| u16_at(bytes, here + o).unwrap_or(0);
        let c32 = |o: usize| u32_at(bytes, here + o).unwrap_or(0);
        let (version, flags, method) = (c16(6), c16(8), c16(10));
        let (crc, compressed, size) = (c32(16), u64::from(c32(20)), u64::from(c32(24)));
        let (name_len, extra_len, comment_len) = (usize::from(c16(28)), c16(30), c16(32));
        let local = u64::from(c32(42));
        if at + 46 + name_len > end {
            return Err(bad("выходит за оглавление"));
        }
        let raw_name = &bytes[at + 46..at + 46 + name_len];
        let name = std::str::from_utf8(raw_name).map_err(|_| bad("называет файл не в UTF-8"))?.to_string();
        if name.chars().any(char::is_control) {
            return Err(bad("называет файл с управляющим символом"));
        }
        at += 46 + name_len;
        if extra_len != 0 || comment_len != 0 || c16(34) != 0 {
            return Err(format!("у файла «{name}» в оглавлении архива есть дополнительные поля или комментарий"));
        }
        if flags & 0x0041 != 0 {
            return Err(format!("файл «{name}» в архиве зашифрован"));
        }
        if flags & !ALLOWED_FLAGS != 0 || version > 20 {
            return Err(format!("файл «{name}» записан в архив с необычными флагами ({flags:#06x}, версия {version})"));
        }
        if method != 0 && method != 8 {
            return Err(format!("файл «{name}» сжат способом {method}: пакет сжимают только deflate"));
        }
        // The local header in front of the data must say the same, field for field.
        let l = local as usize;
        if u32_at(bytes, l) != Some(LOCAL) || l + 30 > end {
            return Err(format!("у файла «{name}» нет заголовка там, где его называет оглавление архива"));
        }
        let l16 = |o: usize| u16_at(bytes, l + o).unwrap_or(0);
        let l32 = |o: usize| u32_at(bytes, l + o).unwrap_or(0);
        let (l_name_len, l_extra_len) = (usize::from(l16(26)), l16(28));
        let l_name =
            bytes.get(l + 30..l + 30 + l_name_len).ok_or_else(|| format!("заголовок файла «{name}» обрывается"))?;
        if l_name != raw_name {
            return Err(format!(
                "имя файла в оглавлении архива («{name}») и в его заголовке («{}») различаются",
                String::from_utf8_lossy(l_name)
            ));
        }
        let same = l16(4) == version
            && l16(6) == flags
            && l16(8) == method
            && l32(14) == crc
            && u64::from(l32(18)) == compressed
            && u64::from(l32(22)) == size
            && l_extra_len == 0;
        if !same {
            return Err(format!(
                "оглавление архива и заголовок файла «{name}» расходятся (размер, контрольная сумма, сжатие или доп. поля)"
            ));
        }
        let data = local + 30 + l_name_len as u64;
        list.push(Entry { name, method, compressed, size, local, data });
    }
    if at != end {
        return Err("в оглавлении архива больше записей, чем сказано в его конце".into());
    }
    // The entries lie back to back, from the first byte of the file to the directory:
    // nothing hidden between them, none overlapping another.
    let mut by_place: Vec<&Entry> = list.iter().collect();
    by_place.sort_by_key(|e| e.local);
    let mut next = 0u64;
    for e in &by_place {
        if e.local != next {
            return Err(if e.local < next {
                format!("файл «{}» в архиве наложен на другой файл", e.name)
            } else if next == 0 {
                "перед первым файлом архива лишние данные".to_string()
            } else {
                format!("перед файлом «{}» в архиве лишние данные", e.name)
            });
        }
        next = e.data + e.compressed;
    }
    if next != cd_offset {
        return Err("между последним файлом архива и его оглавлением лишние данные".into());
    }
    Ok(list)
}

/// The members of a bundle's zip, read strictly: exactly `expected`, each once, at
/// most `max_total` bytes unpacked together. The first failure, in words.
pub fn read_strict(bytes: &[u8], expected: &[&str], max_total: u64) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let list = entries(bytes)?;
    let mut seen = std::collections::HashSet::new();
    for e in &list {
        if !seen.insert(e.name.as_str()) {
            return Err(format!("файл «{}» дважды в пакете", e.name));
        }
        if !expected.contains(&e.name.as_str()) {
            return Err(format!("в пакете лишний файл «{}»: пакет изменён после выпуска", e.name));
        }
    }
    if let Some(m) = expected.iter().find(|m| !seen.contains(**m)) {
        return Err(format!("в пакете нет файла «{m}»"));
    }
    let declared: u64 = list.iter().map(|e| e.size).fold(0, u64::saturating_add);
    let too_big = || {
        format!(
            "пакет распаковывается больше чем в {} МиБ: такой не проверяется (больший предел — --max-bytes)",
            max_total >> 20
        )
    };
    if declared > max_total {
        return Err(too_big());
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("файл не читается как zip-архив пакета: {e}"))?;
    let mut out = BTreeMap::new();
    let mut left = max_total;
    for e in &list {
        let mut file = zip.by_name(&e.name).map_err(|err| format!("файл «{}» пакета не читается: {err}", e.name))?;
        let mut data = Vec::with_capacity(e.size.min(left) as usize);
        (&mut file)
            .take(left.min(e.size) + 1)
            .read_to_end(&mut data)
            .map_err(|err| format!("файл «{}» пакета повреждён: {err}", e.name))?;
        if data.len() as u64 > e.size {
            return Err(format!("файл «{}» распаковывается больше заявленного в архиве размера", e.name));
        }
        if (data.len() as u64) < e.size {
            return Err(format!("файл «{}» распаковывается меньше заявленного в архиве размера", e.name));
        }
        left -= data.len() as u64;
        debug_assert!(e.method == 0 || e.method == 8);
        out.insert(e.name.clone(), data);
    }
    Ok(out)
}

/// Writes a bundle's zip: each member once, deflated, in the order given.
pub fn write(members: &[(&str, &[u8])], when: chrono::DateTime<chrono::Utc>) -> crate::Result<Vec<u8>> {
    use chrono::{Datelike, Timelike};
    use std::io::Write;
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(when.year()).unwrap_or(1980),
        when.month() as u8,
        when.day() as u8,
        when.hour() as u8,
        when.minute() as u8,
        when.second() as u8,
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .last_modified_time(stamp)
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6));
    let zip_err = |e: zip::result::ZipError| crate::Error::Storage(format!("writing the bundle: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in members {
        zip.start_file(*name, options).map_err(zip_err)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish().map_err(zip_err)?.into_inner())
}
