//! The audit trail (SPEC §16): who recorded or corrected what, and when — the events a
//! filter admits, newest first, each correction with what it corrects.

use chrono::NaiveDate;

use crate::domain::payload::ReportPublished;
use crate::domain::Payload;
use crate::error::{Error, Result};
use crate::ledger::event::StoredEvent;
use crate::ledger::Ledger;
use crate::project::card::is_late;
use crate::project::{resolve_cut, Cut};

/// Events read per step while scanning backwards.
const SCAN_CHUNK: u64 = 4096;

/// What the trail is filtered by (each `None`: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub actor: Option<&'a str>,
    /// An event type.
    pub kind: Option<&'a str>,
    pub case: Option<&'a str>,
    /// Recorded on or after this day.
    pub from: Option<NaiveDate>,
    /// Recorded on or before this day.
    pub to: Option<NaiveDate>,
}

/// One row of the trail.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: StoredEvent,
    /// For a correction: the corrected event's seq and type.
    pub target: Option<(u64, String)>,
    /// The case it is about (or that resolved its signal).
    pub case: Option<String>,
    /// The signal it is about.
    pub signal: Option<String>,
    /// A correction's reason.
    pub reason: Option<String>,
    /// A publication's report, period and cut.
    pub published: Option<ReportPublished>,
    /// A late entry (see [`is_late`]).
    pub late: bool,
}

/// The events the filter admits, newest first, skipping `skip` and taking `take`;
/// and whether more follow. Recorded dates narrow the seqs by binary search (recorded_at
/// never decreases along seq); a case reads its index; actor and type are matched while
/// reading backwards in chunks.
pub fn entries(ledger: &Ledger, f: &Filter<'_>, skip: usize, take: usize) -> Result<(Vec<Entry>, bool)> {
    let (from, to) = (f.from, f.to);
    let head = ledger.head().seq;
    let end_of = |d: NaiveDate| d.and_hms_opt(23, 59, 59).expect("a valid time").and_utc();
    let hi = match to {
        Some(d) => resolve_cut(ledger, Cut { known_at: Some(end_of(d)), at_seq: None })?.0,
        None => head,
    };
    let lo = match from.and_then(|d| d.pred_opt()) {
        Some(d) => resolve_cut(ledger, Cut { known_at: Some(end_of(d)), at_seq: None })?.0 + 1,
        None => 1,
    };
    let (actor, kind) = (f.actor, f.kind);
    let admits = |e: &StoredEvent| actor.is_none_or(|a| e.actor == a) && kind.is_none_or(|k| e.kind == k);
    let mut found: Vec<StoredEvent> = Vec::new();
    let want = skip + take + 1;
    if let Some(case) = f.case {
        for seq in ledger.case_events(case)?.into_iter().rev().filter(|s| (lo..=hi).contains(s)) {
            let Some(rec) = ledger.record(seq)? else { continue };
            let e = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
            if admits(&e) {
                found.push(e);
                if found.len() >= want {
                    break;
                }
            }
        }
    } else {
        let mut top = hi;
        while top >= lo && found.len() < want {
            let start = top.saturating_sub(SCAN_CHUNK - 1).max(lo);
            let mut chunk = Vec::new();
            ledger.for_each_while(start, |seq, rec| {
                let e = rec.parse().map_err(|reason| Error::Integrity { seq, reason })?;
                if admits(&e) {
                    chunk.push(e);
                }
                Ok(seq < top)
            })?;
            found.extend(chunk.into_iter().rev());
            if start <= 1 {
                break;
            }
            top = start - 1;
        }
    }
    let more = found.len() > skip + take;
    let page: Vec<StoredEvent> = found.into_iter().skip(skip).take(take).collect();
    let mut out = Vec::with_capacity(page.len());
    for event in page {
        let payload = Payload::of_stored(&event);
        let correction = payload.as_ref().and_then(Payload::correction);
        let target = match correction.map(|c| ledger.record_by_id(&c.target)).transpose()? {
            Some(Some(rec)) => rec.parse().ok().map(|t| (t.seq, t.kind)),
            _ => None,
        };
        let code = |c: Option<&crate::domain::payload::Code>| c.map(|c| c.0.to_string());
        let case = payload.as_ref().and_then(|p| code(p.case().or(p.case_reference())));
        let signal = payload.as_ref().and_then(|p| code(p.signal()));
        let reason = correction.map(|c| c.reason.to_string());
        let published = match payload {
            Some(Payload::ReportPublished(p)) => Some(*p),
            _ => None,
        };
        let late = crate::codec::parse_date(&event.occurred_on).is_some_and(|d| is_late(&event.recorded_at, d));
        out.push(Entry { event, target, case, signal, reason, published, late });
    }
    Ok((out, more))
}
