//! The fact digests of the ledger "as known now", kept in the store and updated on
//! every append, so that figures for the current state read a few thousand compact
//! buckets instead of parsing every event.
//!
//! Layout: subjects are spread over [`SUMMARY_BUCKETS`] buckets by a BLAKE3 hash of
//! their key; a bucket is one sled value (a postcard-encoded `Bucket`), so an append
//! rewrites only the buckets of the subjects it touched (SLED-NOTES: a sled key costs
//! about as much as a 310-byte event; a key per subject would double a bulk append).
//! A mark names the chain prefix (seq, hash) the digests are of; it is written in the
//! same atomic batch as the buckets of an ordinary append, and for a rebuild (many
//! buckets, written in parts) removed before them and written after them.
//!
//! Invariants:
//! - the digests under a mark equal [`Digests::of_world`] of the events up to that
//!   mark (`verify --projections` recomputes and compares);
//! - a reader uses them only when the mark is the head; otherwise they are rebuilt
//!   from the events first. So a lost or lagging update (a crash after the commit,
//!   an append without the state rules) costs one rebuild, never a wrong figure.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet as HashSet;

use serde::{Deserialize, Serialize};

use crate::codec::Hash;
use crate::domain::payload::Code;
use crate::domain::Payload;
use crate::error::{Error, Result};
use crate::ledger::store::Store;
use crate::ledger::Ledger;
use crate::ledger::{SummaryArea, SummaryHeld};
use crate::limits::SUMMARY_BUCKETS;
use crate::project::digest::{
    case_digest_ref, expense_of, signal_digest_ref, CaseDigest, CaseItem, Digests, Expense, Item, SignalDigest,
    SignalItem,
};
use crate::project::{Cut, Effective, World};

/// The subjects of one bucket, each list sorted by key: codes owned (`String`), or
/// borrowed (`&str`, from a stored bucket's bytes and from the events of an append,
/// while the bucket is updated; the same bytes).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Bucket<S = String> {
    cases: Vec<(S, Vec<Item<CaseItem<S>>>)>,
    signals: Vec<(S, Vec<Item<SignalItem<S>>>)>,
    expenses: Vec<(u64, Item<Expense>)>,
}

impl<'b, S: Deserialize<'b>> Bucket<S> {
    fn is_empty(&self) -> bool {
        self.cases.is_empty() && self.signals.is_empty() && self.expenses.is_empty()
    }
    fn decode(bucket: u16, bytes: &'b [u8]) -> Result<Bucket<S>> {
        let b: Bucket<S> = postcard::from_bytes(bytes)
            .map_err(|e| Error::Storage(format!("digest bucket {bucket} does not decode: {e}")))?;
        // Every day must be a date: `Item::on` relies on it.
        let days = b.cases.iter().flat_map(|(_, d)| d.iter().map(|i| i.day));
        let days = days.chain(b.signals.iter().flat_map(|(_, d)| d.iter().map(|i| i.day)));
        let mut days = days.chain(b.expenses.iter().map(|(_, e)| e.day));
        if days.any(|d| chrono::NaiveDate::from_num_days_from_ce_opt(d).is_none()) {
            return Err(Error::Storage(format!("digest bucket {bucket} holds a day that is not a date")));
        }
        Ok(b)
    }
}

/// A [`Bucket`] borrowed from [`Digests`], for writing: the same bytes without a copy
/// of every digest (postcard encodes `&str` as `String` and `&T` as `T`).
#[derive(Default, Serialize)]
struct BucketRef<'a> {
    cases: Vec<(&'a str, &'a CaseDigest)>,
    signals: Vec<(&'a str, &'a SignalDigest)>,
    expenses: Vec<(u64, &'a Item<Expense>)>,
}

/// A bucket's stored bytes ([`Bucket`] and [`BucketRef`] encode alike).
fn encode(bucket: &impl Serialize) -> Vec<u8> {
    postcard::to_stdvec(bucket).expect("a bucket of plain data encodes")
}

/// Puts `value` under `key` in a sorted list (removes the key when `None`).
fn upsert<K: Ord, V>(list: &mut Vec<(K, V)>, key: K, value: Option<V>) {
    match (list.binary_search_by(|(k, _)| k.cmp(&key)), value) {
        (Ok(i), Some(v)) => list[i].1 = v,
        (Ok(i), None) => {
            list.remove(i);
        }
        (Err(i), Some(v)) => list.insert(i, (key, v)),
        (Err(_), None) => {}
    }
}

fn bucket_of(tag: u8, key: &[u8]) -> u16 {
    let mut h = blake3::Hasher::new();
    h.update(&[tag]);
    h.update(key);
    let b = h.finalize();
    u16::from_be_bytes([b.as_bytes()[0], b.as_bytes()[1]]) % SUMMARY_BUCKETS
}
fn case_bucket(code: &str) -> u16 {
    bucket_of(b'c', code.as_bytes())
}
fn signal_bucket(code: &str) -> u16 {
    bucket_of(b's', code.as_bytes())
}
fn expense_bucket(seq: u64) -> u16 {
    bucket_of(b'x', &seq.to_be_bytes())
}

/// The digests of the ledger as known now and the prefix (seq, hash) they are of,
/// rebuilt from the events first when the stored ones are not of the head.
pub fn current(ledger: &Ledger) -> Result<(Digests, u64, Hash)> {
    let store = ledger.store();
    let held = store.summary_lock();
    let head = ledger.head();
    if held.mark()? == Some((head.seq, head.hash)) {
        match read_all(store) {
            Ok(d) => return Ok((d, head.seq, head.hash)),
            Err(e) => tracing::warn!("stored fact digests are unreadable ({e}); rebuilding them from the events"),
        }
    } else {
        tracing::info!(seq = head.seq, "fact digests are behind the head; rebuilding them from the events");
    }
    let world = World::load(ledger, Cut { known_at: None, at_seq: Some(head.seq) })?;
    let digests = Digests::of_world(&world);
    // Freed before the buckets are encoded, so the two do not add up (at 1 M events
    // the World is the larger part of this rebuild's memory).
    drop(world);
    crate::ledger::release_free_memory();
    write_all(store, &digests, (head.seq, head.hash))?;
    Ok((digests, head.seq, head.hash))
}

/// Reads every bucket (decoded on every core).
fn read_all(store: &Store) -> Result<Digests> {
    let raw: Vec<(u16, sled::IVec)> = store.summary_buckets().collect::<Result<_>>()?;
    let decoded = crate::parallel::ordered_map(&raw, |(b, bytes)| Bucket::decode(*b, bytes));
    let (mut cases, mut signals, mut expenses) = (Vec::new(), Vec::new(), Vec::new());
    for bucket in decoded {
        let bucket = bucket?;
        cases.extend(bucket.cases);
        signals.extend(bucket.signals);
        expenses.extend(bucket.expenses);
    }
    Ok(Digests {
        cases: BTreeMap::from_iter(cases),
        signals: BTreeMap::from_iter(signals),
        expenses: BTreeMap::from_iter(expenses),
    })
}

fn write_all(store: &Store, d: &Digests, mark: (u64, Hash)) -> Result<()> {
    let mut buckets: BTreeMap<u16, BucketRef<'_>> = BTreeMap::new();
    for (code, digest) in &d.cases {
        buckets.entry(case_bucket(code)).or_default().cases.push((code, digest));
    }
    for (code, digest) in &d.signals {
        buckets.entry(signal_bucket(code)).or_default().signals.push((code, digest));
    }
    for (seq, e) in &d.expenses {
        buckets.entry(expense_bucket(*seq)).or_default().expenses.push((*seq, e));
    }
    // Pushed in key order, so every list is sorted.
    let list: Vec<(u16, BucketRef<'_>)> = buckets.into_iter().collect();
    let encoded = crate::parallel::ordered_map(&list, |(b, bucket)| (*b, Some(encode(bucket))));
    drop(list);
    store.summary_area().write(encoded, Some(mark), true)
}

/// A subject an append touched.
enum Touched<'a> {
    Case(&'a Code),
    Signal(&'a Code),
    Expense(&'a Effective),
}

/// After an append committed: updates the digests of the subjects it touched, when
/// the stored digests were of the head before it. `world` holds the append's events
/// and, complete, every subject in `cases` and `signals` (what the state rules
/// loaded). A failure here never fails the append: the mark is dropped and the next
/// reader rebuilds. The caller holds the summary lock (a writer takes it before its
/// commit, so no reader sees the new head with the old digests and rebuilds).
pub fn after_append(
    ledger: &Ledger,
    held: &SummaryHeld<'_>,
    before: (u64, Hash),
    after: (u64, Hash),
    world: &World,
    cases: &HashSet<Code>,
    signals: &HashSet<Code>,
) {
    if before == after {
        return;
    }
    let store = ledger.store();
    write(&store.summary_area(), plan(held, before, world, cases, signals), after);
}

/// Commits an append (`commit`, on this thread) while the digests of the subjects it
/// touched are encoded on the other cores, then writes them under the head the commit
/// made, on a thread of its own: the append answers meanwhile. The summary lock is
/// held throughout, as the HTTP writer holds it, and its next holder waits for that
/// write (see `SummaryHeld::finish_behind`), so no reader rebuilds the digests in
/// between. The append's events are all in `world`, admitted (see [`after_append`]
/// for the rest).
pub fn around_commit(
    store: &Store,
    world: &World,
    cases: &HashSet<Code>,
    signals: &HashSet<Code>,
    commit: impl FnOnce() -> Result<crate::ledger::LedgerHead>,
) -> Result<crate::ledger::LedgerHead> {
    let held = store.summary_lock();
    let head = store.head();
    let before = (head.seq, head.hash);
    let (planned, head) = std::thread::scope(|s| {
        let planned = s.spawn(|| plan(&held, before, world, cases, signals));
        let head = commit();
        (planned.join(), head)
    });
    let head = head?;
    let planned = planned.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let after = (head.seq, head.hash);
    if before != after {
        let area = store.summary_area();
        held.finish_behind(move || write(&area, planned, after));
    }
    Ok(head)
}

/// What an append does to the stored digests.
enum Plan {
    /// Nothing: they were behind already (or ahead: a reader rebuilt first); a
    /// reader rebuilds.
    Behind,
    /// Drop the mark: the append corrected a stored expense, whose earlier
    /// corrections are not in its world, so its digest cannot be made here.
    Unknown,
    /// These buckets, encoded (`None`: emptied); `fresh`: they are all there are.
    Buckets(Vec<(u16, Option<Vec<u8>>)>, bool),
}

/// Writes what was planned under the mark `after`; a failure (here or in the plan)
/// never fails the append: the mark is dropped, and the next reader rebuilds.
fn write(area: &SummaryArea, planned: Result<Plan>, after: (u64, Hash)) {
    let written = planned.and_then(|plan| match plan {
        Plan::Behind => Ok(()),
        Plan::Unknown => area.write(Vec::new(), None, false),
        Plan::Buckets(writes, fresh) => area.write(writes, Some(after), fresh),
    });
    if let Err(e) = written {
        tracing::warn!("fact digests not updated after the append ({e}); they will be rebuilt when next read");
        if let Err(e) = area.write(Vec::new(), None, false) {
            tracing::warn!("could not drop the fact digests' mark: {e}");
        }
    }
}

/// The digests of the subjects an append touched, encoded in their buckets, from the
/// stored digests of `before`.
fn plan(
    held: &SummaryHeld<'_>,
    before: (u64, Hash),
    world: &World,
    cases: &HashSet<Code>,
    signals: &HashSet<Code>,
) -> Result<Plan> {
    let mark = held.mark()?;
    let fresh = before.0 == 0;
    if !(mark == Some(before) || fresh) {
        return Ok(Plan::Behind);
    }
    let is_expense = |e: &&Effective| matches!(e.payload, Payload::ExpenseRecorded(_));
    if world.events.iter().filter(is_expense).any(|e| e.seq <= before.0) {
        return Ok(Plan::Unknown);
    }
    // Subjects by bucket (references only); then each bucket is read, updated and
    // encoded on its own, on every core, so only encoded buckets are held at once.
    let mut by_bucket: BTreeMap<u16, Vec<Touched<'_>>> = BTreeMap::new();
    for c in cases {
        by_bucket.entry(case_bucket(&c.0)).or_default().push(Touched::Case(c));
    }
    for s in signals {
        by_bucket.entry(signal_bucket(&s.0)).or_default().push(Touched::Signal(s));
    }
    for e in world.events.iter().filter(is_expense) {
        by_bucket.entry(expense_bucket(e.seq)).or_default().push(Touched::Expense(e));
    }
    let list: Vec<(u16, Vec<Touched<'_>>)> = by_bucket.into_iter().collect();
    let writes = crate::parallel::ordered_map(&list, |(b, subjects)| -> Result<(u16, Option<Vec<u8>>)> {
        // (A fresh ledger has no buckets to read.)
        let stored = if fresh { None } else { held.bucket(*b)? };
        let mut bucket: Bucket<&str> = match &stored {
            Some(bytes) => Bucket::decode(*b, bytes)?,
            None => Bucket::default(),
        };
        for subject in subjects {
            match subject {
                Touched::Case(c) => {
                    let d = case_digest_ref(world, c);
                    upsert(&mut bucket.cases, c.0.as_str(), (!d.is_empty()).then_some(d));
                }
                Touched::Signal(s) => {
                    let d = signal_digest_ref(world, s);
                    upsert(&mut bucket.signals, s.0.as_str(), (!d.is_empty()).then_some(d));
                }
                Touched::Expense(e) => upsert(&mut bucket.expenses, e.seq, expense_of(e)),
            }
        }
        Ok((*b, (!bucket.is_empty()).then(|| encode(&bucket))))
    });
    let writes = writes.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Plan::Buckets(writes, fresh))
}

/// What `verify --projections` found for the digests.
#[derive(Debug, Default)]
pub struct SummaryCheck {
    /// Subjects compared (0 when none are stored).
    pub checked: usize,
    pub failures: Vec<String>,
}

/// Recomputes the stored digests from the events up to their mark and compares.
pub fn verify(ledger: &Ledger) -> Result<SummaryCheck> {
    let store = ledger.store();
    let held = store.summary_lock();
    let mut check = SummaryCheck::default();
    let Some((seq, hash)) = held.mark()? else { return Ok(check) };
    let at = if seq == 0 { Some(hash) } else { ledger.record(seq)?.map(|r| r.hash) };
    if at != Some(hash) {
        check.failures.push(format!("fact digests: their mark (seq {seq}) is not a prefix of the chain"));
        return Ok(check);
    }
    // The events' World is dropped before the stored digests are read: the two are
    // the bulk of this check's memory.
    let fresh = Digests::of_world(&World::load(ledger, Cut { known_at: None, at_seq: Some(seq) })?);
    let stored = match read_all(store) {
        Ok(d) => d,
        Err(e) => {
            check.failures.push(format!("fact digests: {e}"));
            return Ok(check);
        }
    };
    check.checked = fresh.cases.len() + fresh.signals.len() + fresh.expenses.len();
    let mut fail = |what: String| check.failures.push(format!("fact digests: {what} differs from the events"));
    diff(&stored.cases, &fresh.cases, "case", &mut fail);
    diff(&stored.signals, &fresh.signals, "signal", &mut fail);
    diff(&stored.expenses, &fresh.expenses, "expense at seq", &mut fail);
    Ok(check)
}

/// Names each key whose value differs (or is on one side only), at most ten.
fn diff<K: Ord + std::fmt::Display, V: PartialEq>(
    stored: &BTreeMap<K, V>,
    fresh: &BTreeMap<K, V>,
    what: &str,
    fail: &mut impl FnMut(String),
) {
    let keys: std::collections::BTreeSet<&K> = stored.keys().chain(fresh.keys()).collect();
    for k in keys.into_iter().filter(|k| stored.get(k) != fresh.get(k)).take(10) {
        fail(format!("{what} {k}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::digest::CaseItem;

    /// A bucket written from borrowed digests reads back as the owned one.
    #[test]
    fn a_borrowed_bucket_encodes_as_the_owned_one() {
        let case: CaseDigest =
            vec![Item { day: 738_000, seq: 5, amended_by: vec![9], what: CaseItem::Aid { value: Some(250_000) } }];
        let expense =
            Item { day: 738_001, seq: 6, amended_by: vec![], what: Expense { program: "МР".into(), amount: 12_345 } };
        let owned =
            Bucket { cases: vec![("К1".into(), case.clone())], signals: vec![], expenses: vec![(6, expense.clone())] };
        let borrowed = BucketRef { cases: vec![("К1", &case)], signals: vec![], expenses: vec![(6, &expense)] };
        let bytes = encode(&borrowed);
        assert_eq!(bytes, postcard::to_stdvec(&owned).unwrap());
        let back = Bucket::decode(0, &bytes).unwrap();
        assert_eq!(back.cases, owned.cases);
        assert_eq!(back.expenses, owned.expenses);
    }
}
