//! The subject indexes: which events are about a case or a signal, for `log --case`,
//! `case show` and the state rules. Derived from the chain and caught up lazily, so a
//! bulk append does not pay for them; a catch-up works in chunks of
//! [`CHUNK`] events with one key per subject per chunk (seqs packed in the value), so
//! memory stays bounded and sled sees few keys. A correction is indexed under the
//! subjects of its target.

use std::borrow::Cow;
use std::collections::HashMap;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ledger::store::{Store, CASE_PREFIX, CASE_WATERMARK_KEY, SIGNAL_PREFIX};

const CHUNK: u64 = 100_000;

#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Case,
    Signal,
}

fn prefix(kind: Subject, code: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(code.len() + 10);
    k.push(match kind {
        Subject::Case => CASE_PREFIX,
        Subject::Signal => SIGNAL_PREFIX,
    });
    k.extend_from_slice(code.as_bytes());
    k.push(0); // codes hold no control characters, so 0x00 ends the code
    k
}

/// The subjects an event is about, read without parsing its whole payload.
#[derive(serde::Deserialize)]
struct Keys<'a> {
    #[serde(borrow)]
    data: DataKeys<'a>,
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct DataKeys<'a> {
    #[serde(borrow, default)]
    case: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target: Option<Cow<'a, str>>,
}

type Subjects = (Option<String>, Option<String>);

fn subjects_of(
    store: &Store,
    seq: u64,
    canonical: &[u8],
    chunk_ids: &HashMap<Uuid, Subjects>,
) -> Result<(Uuid, Subjects)> {
    let keys: Keys<'_> = serde_json::from_slice(canonical)
        .map_err(|e| Error::Integrity { seq, reason: format!("stored event is not readable: {e}") })?;
    let id = Uuid::try_parse(&keys.id).map_err(|_| Error::Integrity { seq, reason: "bad id".into() })?;
    let own = (keys.data.case.map(Cow::into_owned), keys.data.signal.map(Cow::into_owned));
    if own.0.is_some() || own.1.is_some() {
        return Ok((id, own));
    }
    // A correction: the subjects of its target (in this chunk, or already stored).
    let Some(target) = keys.data.target.and_then(|t| Uuid::try_parse(&t).ok()) else { return Ok((id, own)) };
    if let Some(s) = chunk_ids.get(&target) {
        return Ok((id, s.clone()));
    }
    let subjects = match store.record_by_id(&target)? {
        Some(rec) => {
            let k: Keys<'_> = serde_json::from_slice(&rec.canonical)
                .map_err(|e| Error::Integrity { seq, reason: format!("correction target unreadable: {e}") })?;
            (k.data.case.map(Cow::into_owned), k.data.signal.map(Cow::into_owned))
        }
        None => (None, None),
    };
    Ok((id, subjects))
}

fn watermark(store: &Store) -> Result<u64> {
    match store.db().get(CASE_WATERMARK_KEY)? {
        Some(v) => Ok(u64::from_be_bytes(
            v.as_ref().try_into().map_err(|_| Error::Storage("the subject index watermark is damaged".into()))?,
        )),
        None => Ok(0),
    }
}

/// Indexes the events appended since the last catch-up.
pub fn catch_up(store: &Store) -> Result<()> {
    let _one_at_a_time = store.subjects.lock().unwrap_or_else(|e| e.into_inner());
    catch_up_in_chunks(store, CHUNK)
}

fn catch_up_in_chunks(store: &Store, chunk: u64) -> Result<()> {
    let head = store.head_seq();
    let mut built = watermark(store)?;
    while built < head {
        let end = (built + chunk).min(head);
        let mut lists: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut chunk_ids: HashMap<Uuid, Subjects> = HashMap::new();
        let mut first_of: HashMap<Vec<u8>, u64> = HashMap::new();
        store.for_each_in(built + 1, |seq, rec| {
            if seq > end {
                return Ok(false);
            }
            let (id, subjects) = subjects_of(store, seq, &rec.canonical, &chunk_ids)?;
            for (kind, code) in [(Subject::Case, &subjects.0), (Subject::Signal, &subjects.1)] {
                if let Some(code) = code {
                    let p = prefix(kind, code);
                    first_of.entry(p.clone()).or_insert(seq);
                    lists.entry(p).or_default().extend_from_slice(&seq.to_be_bytes());
                }
            }
            chunk_ids.insert(id, subjects);
            Ok(true)
        })?;
        let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = lists
            .into_iter()
            .map(|(mut key, seqs)| {
                key.extend_from_slice(&first_of[&key].to_be_bytes());
                (key, Some(seqs))
            })
            .collect();
        writes.sort_unstable();
        // The watermark goes last. Derived data: it need not be durable before a read
        // answers; after a crash the chunk is indexed again (same keys, same values).
        writes.push((CASE_WATERMARK_KEY.to_vec(), Some(end.to_be_bytes().to_vec())));
        store.apply_in_parts(writes)?;
        // A large chunk is flushed (not fsynced), so sled may evict what it wrote, and
        // freed heap goes back to the system. (The catch-up before an ordinary append
        // indexes a few events: a flush there would cost more than the append.)
        if end - built >= chunk / 4 {
            store.db().flush()?;
            crate::ledger::store::release_free_memory();
        }
        built = end;
    }
    Ok(())
}

/// What rebuilding the subject indexes from scratch found.
#[derive(Debug, Default)]
pub struct IndexCheck {
    /// Subjects compared.
    pub checked: usize,
    /// Subjects whose stored list differs (at most 20 named).
    pub failures: Vec<String>,
}

/// Catches the indexes up, rebuilds them from every event in memory, and compares
/// them with what is stored, subject by subject.
pub fn verify(store: &Store) -> Result<IndexCheck> {
    catch_up(store)?;
    let _one_at_a_time = store.subjects.lock().unwrap_or_else(|e| e.into_inner());
    let head = store.head_seq();
    let mut want: HashMap<Vec<u8>, Vec<u64>> = HashMap::new();
    let none = HashMap::new();
    store.for_each_in(1, |seq, rec| {
        let (_, subjects) = subjects_of(store, seq, &rec.canonical, &none)?;
        for (kind, code) in [(Subject::Case, &subjects.0), (Subject::Signal, &subjects.1)] {
            if let Some(code) = code {
                want.entry(prefix(kind, code)).or_default().push(seq);
            }
        }
        Ok(true)
    })?;
    let mut stored: HashMap<Vec<u8>, Vec<u64>> = HashMap::new();
    for p in [CASE_PREFIX, SIGNAL_PREFIX] {
        for item in store.db().scan_prefix([p]) {
            let (k, v) = item?;
            let Some(end) = k.iter().position(|b| *b == 0) else {
                return Err(Error::Storage("a subject index key is damaged".into()));
            };
            let seqs = stored.entry(k[..=end].to_vec()).or_default();
            seqs.extend(
                v.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes"))).filter(|s| *s <= head),
            );
        }
    }
    let mut check = IndexCheck::default();
    let mut keys: Vec<&Vec<u8>> = want.keys().chain(stored.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        check.checked += 1;
        let mut got = stored.get(key).cloned().unwrap_or_default();
        got.sort_unstable();
        if want.get(key).map(Vec::as_slice).unwrap_or(&[]) != got.as_slice() && check.failures.len() < 20 {
            let name = String::from_utf8_lossy(&key[1..key.len() - 1]).into_owned();
            let kind = if key[0] == CASE_PREFIX { "case" } else { "signal" };
            check.failures.push(format!("the {kind} index of {name} differs from the events"));
        }
    }
    Ok(check)
}

/// Seqs of the committed events about a subject, ascending.
pub fn lookup(store: &Store, kind: Subject, code: &str) -> Result<Vec<u64>> {
    if code.is_empty() || code.chars().any(char::is_control) {
        return Ok(Vec::new()); // no stored code holds one, and 0x00 ends a key's code
    }
    let head = store.head_seq();
    if head == 0 {
        return Ok(Vec::new()); // nothing committed (a first bulk load asks for every subject)
    }
    let mut out = Vec::new();
    for item in store.db().scan_prefix(prefix(kind, code)) {
        let (_, v) = item?;
        if v.len() % 8 != 0 {
            return Err(Error::Storage(format!("the index entry of {code} is damaged")));
        }
        out.extend(
            v.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes"))).filter(|s| *s <= head),
        );
    }
    Ok(out)
}

/// The first indexed code of this kind for which `same` holds (a scan of every key of
/// the index: only for a refusal's suggestion).
pub fn find_code(store: &Store, kind: Subject, same: impl Fn(&str) -> bool) -> Result<Option<String>> {
    let mut found = None;
    each_code(store, kind, |code| {
        if same(code) {
            found = Some(code.to_string());
        }
        found.is_none()
    })?;
    Ok(found)
}

/// Every case (or signal) code the index holds, once each.
pub fn codes(store: &Store, kind: Subject) -> Result<Vec<String>> {
    let mut all = Vec::new();
    each_code(store, kind, |code| {
        all.push(code.to_string());
        true
    })?;
    Ok(all)
}

/// Each code of the index, in key order, once, until `f` says stop.
fn each_code(store: &Store, kind: Subject, mut f: impl FnMut(&str) -> bool) -> Result<()> {
    let tag = prefix(kind, "")[0];
    let mut last: Option<Vec<u8>> = None;
    for item in store.db().scan_prefix([tag]) {
        let (k, _) = item?;
        let Some(end) = k[1..].iter().position(|b| *b == 0) else { continue };
        let code = &k[1..1 + end];
        if last.as_deref() == Some(code) {
            continue;
        }
        if let Ok(text) = std::str::from_utf8(code) {
            if !f(text) {
                return Ok(());
            }
        }
        last = Some(code.to_vec());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{history, Params};
    use crate::ledger::{AppendOptions, Ledger};
    use crate::record::StateRules;

    /// A catch-up in chunks of 7 events indexes exactly what one chunk does (whose
    /// keys, more than `SLED_BATCH_KEYS`, are written in several batches).
    #[test]
    fn chunked_catch_up_equals_one_pass() {
        let events = history(&Params { families: 200, from_year: 2020, to_year: 2021, seed: 9, corrections: true });
        let input: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
        let tmp = tempfile::tempdir().unwrap();
        let opts = AppendOptions { actor: "t".into(), now: chrono::Utc::now() };
        let mut ledgers = Vec::new();
        for (name, chunk) in [("small", 7), ("one", u64::MAX / 2)] {
            let l = Ledger::init(&tmp.path().join(name)).unwrap();
            l.append_jsonl(input.as_bytes(), &opts, &mut StateRules::new()).unwrap();
            catch_up_in_chunks(&l.store, chunk).unwrap();
            ledgers.push(l);
        }
        let mut subjects = 0;
        for e in &events {
            for (kind, key) in [(Subject::Case, "case"), (Subject::Signal, "signal")] {
                if let Some(code) = e.data.get(key).and_then(|v| v.as_str()) {
                    let a = lookup(&ledgers[0].store, kind, code).unwrap();
                    assert_eq!(a, lookup(&ledgers[1].store, kind, code).unwrap(), "{code}");
                    assert!(a.windows(2).all(|w| w[0] < w[1]), "{code}: ascending");
                    subjects += 1;
                }
            }
        }
        assert!(subjects > 2 * crate::limits::SLED_BATCH_KEYS);
    }
}
