//! Verifying the hash chain (SPEC §3): the same checks for the ledger's own store and
//! for an export file. Nothing here trusts a stored hash: every event's canonical
//! bytes are hashed again and the chain is linked from the recomputed hashes.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::Value;

use crate::error::Error;
use crate::ledger::canonical;
use crate::ledger::event::{digest, parse_date, parse_hex, parse_stamp, Hash, ZERO_HASH};
use crate::ledger::lines::Line;

/// What the chain needs from one event, read from its canonical bytes.
#[derive(Debug, Clone)]
pub struct Link {
    pub seq: u64,
    pub prev: Hash,
    pub id: u128,
    pub occurred_on: [u8; 10],
    pub recorded_at: [u8; 20],
    pub computed: Hash,
    pub stored: Hash,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[allow(dead_code)]
    data: IgnoredAny,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    occurred_on: Cow<'a, str>,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    #[serde(borrow)]
    recorded_at: Cow<'a, str>,
    seq: u64,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// Hashes one event's canonical bytes and reads the members the chain links by.
/// The result is independent of other events, so this part runs in parallel.
pub fn examine(canonical: &[u8], stored: Hash) -> Result<Link, String> {
    let computed = digest(canonical);
    let env = match envelope_fast(canonical) {
        Some(env) => env,
        None => {
            let env: Envelope<'_> =
                serde_json::from_slice(canonical).map_err(|e| format!("stored event is not a valid event: {e}"))?;
            if env.actor.is_empty() || env.kind.is_empty() {
                return Err("actor and type must not be empty".into());
            }
            Fields {
                seq: env.seq,
                prev: env.prev.into_owned().into_bytes().into(),
                id: env.id.into_owned().into_bytes().into(),
                occurred_on: env.occurred_on.into_owned().into_bytes().into(),
                recorded_at: env.recorded_at.into_owned().into_bytes().into(),
            }
        }
    };
    let prev = parse_hex(ascii(&env.prev)).ok_or("prev is not 64 lowercase hex digits")?;
    let id = uuid::Uuid::try_parse_ascii(&env.id).map_err(|_| "id is not a UUID")?.as_u128();
    let (Ok(occurred_on), Ok(recorded_at)) =
        (<[u8; 10]>::try_from(&env.occurred_on[..]), <[u8; 20]>::try_from(&env.recorded_at[..]))
    else {
        return Err("occurred_on or recorded_at has the wrong length".into());
    };
    if parse_date(ascii(&occurred_on)).is_none() {
        return Err("occurred_on is not a date YYYY-MM-DD".into());
    }
    if parse_stamp(ascii(&recorded_at)).is_none() {
        return Err("recorded_at is not YYYY-MM-DDTHH:MM:SSZ".into());
    }
    Ok(Link { seq: env.seq, prev, id, occurred_on, recorded_at, computed, stored })
}

/// The `id` of a stored event (read from the canonical tail when it has the usual
/// shape, else parsed), or `None` when the bytes are not an event.
pub fn event_id(canonical: &[u8]) -> Option<uuid::Uuid> {
    match envelope_fast(canonical) {
        Some(f) => uuid::Uuid::try_parse_ascii(&f.id).ok(),
        None => {
            let env: Envelope<'_> = serde_json::from_slice(canonical).ok()?;
            uuid::Uuid::try_parse(&env.id).ok()
        }
    }
}

fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// The link members of one event, as bytes.
struct Fields<'a> {
    seq: u64,
    prev: Cow<'a, [u8]>,
    id: Cow<'a, [u8]>,
    occurred_on: Cow<'a, [u8]>,
    recorded_at: Cow<'a, [u8]>,
}

/// Reads the link members without parsing `data`. RFC 8785 sorts members, so an event
/// made by this program is `{"actor":"…","data":{…},"id":"…","occurred_on":"…",
/// "prev":"…","recorded_at":"…","seq":N,"type":"…"}`: every member after `data` has
/// a fixed shape and is read from the end. `None` when the bytes are not of exactly
/// that shape (the caller then parses them fully, and names what is wrong). The
/// bytes themselves are covered by the recomputed hash either way.
fn envelope_fast(c: &[u8]) -> Option<Fields<'_>> {
    let mut end = c.len().checked_sub(2)?;
    if &c[end..] != b"\"}" {
        return None;
    }
    let kind_start = end - c[..end].iter().rev().take_while(|b| b.is_ascii_lowercase() || **b == b'_').count();
    if kind_start == end {
        return None;
    }
    end = kind_start.checked_sub(9)?;
    if &c[end..kind_start] != b",\"type\":\"" {
        return None;
    }
    let seq_start = end - c[..end].iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let digits = &c[seq_start..end];
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let seq = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let mut at = seq_start.checked_sub(7)?;
    if &c[at..seq_start] != b",\"seq\":" {
        return None;
    }
    // Each fixed string member, read backwards: `,"name":"` + value + `"`.
    let mut member = |name: &[u8], len: usize| -> Option<usize> {
        let close = at.checked_sub(1)?;
        let open = close.checked_sub(len)?;
        let key = open.checked_sub(name.len() + 5)?;
        if c[close] != b'"' || c[key] != b',' || c[key + 1] != b'"' || &c[key + 2..key + 2 + name.len()] != name {
            return None;
        }
        if &c[key + 2 + name.len()..open] != b"\":\"" {
            return None;
        }
        at = key;
        Some(open)
    };
    let recorded = member(b"recorded_at", 20)?;
    let prev = member(b"prev", 64)?;
    let occurred = member(b"occurred_on", 10)?;
    let id = member(b"id", 36)?;
    let data_end = at;
    // The head: `{"actor":"<non-empty string>","data":{`, and data closes before `,"id"`.
    if !c.starts_with(b"{\"actor\":\"") || c.get(10) == Some(&b'"') || data_end == 0 || c[data_end - 1] != b'}' {
        return None;
    }
    let mut i = 10;
    while i < data_end && c[i] != b'"' {
        i += if c[i] == b'\\' { 2 } else { 1 };
    }
    if !c.get(i..)?.starts_with(b"\",\"data\":{") {
        return None;
    }
    Some(Fields {
        seq,
        prev: Cow::Borrowed(&c[prev..prev + 64]),
        id: Cow::Borrowed(&c[id..id + 36]),
        occurred_on: Cow::Borrowed(&c[occurred..occurred + 10]),
        recorded_at: Cow::Borrowed(&c[recorded..recorded + 20]),
    })
}

/// Links events in order and reports the first one that breaks the chain.
pub struct ChainChecker {
    next_seq: u64,
    prev: Hash,
    last_recorded: [u8; 20],
    /// Ids seen so far (FxHash: ids are UUIDs, and a million of them are hashed).
    ids: rustc_hash::FxHashSet<u128>,
    /// For a whole chain checked at once ([`ChainChecker::whole`]): the ids in order,
    /// their repeats looked for by sorting at the end or at the first other failure
    /// (a hash set of a million ids costs more than the rest of linking).
    in_order: Option<Vec<u128>>,
}

impl Default for ChainChecker {
    fn default() -> Self {
        ChainChecker {
            next_seq: 1,
            prev: ZERO_HASH,
            last_recorded: [b'0'; 20],
            ids: rustc_hash::FxHashSet::default(),
            in_order: None,
        }
    }
}

impl ChainChecker {
    /// A checker that continues a chain whose last event is `seq` with hash `prev`
    /// recorded at `recorded_at` (ids before it are not known to it).
    pub fn continuing(seq: u64, prev: Hash, recorded_at: &str) -> ChainChecker {
        let mut last_recorded = [b'0'; 20];
        if recorded_at.len() == 20 {
            last_recorded.copy_from_slice(recorded_at.as_bytes());
        }
        ChainChecker { next_seq: seq + 1, prev, last_recorded, ids: rustc_hash::FxHashSet::default(), in_order: None }
    }

    /// A checker for a whole chain of about `events` events that ends with
    /// [`ChainChecker::finish`], which reports a repeated id; it reports the same first
    /// failure as [`ChainChecker::default`] does.
    pub fn whole(events: u64) -> ChainChecker {
        let capacity = usize::try_from(events).unwrap_or(0).min(1 << 26);
        ChainChecker { in_order: Some(Vec::with_capacity(capacity)), ..ChainChecker::default() }
    }

    /// The first event of a [`ChainChecker::whole`] chain whose id repeats an earlier
    /// one's, as its error.
    pub(crate) fn first_repeat(&self) -> Option<Error> {
        let ids = self.in_order.as_ref()?;
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if sorted.windows(2).all(|w| w[0] != w[1]) {
            return None;
        }
        let mut seen = rustc_hash::FxHashSet::default();
        let at = ids.iter().position(|id| !seen.insert(*id))?;
        Some(Error::Integrity { seq: at as u64 + 1, reason: "its id repeats an earlier event's id".into() })
    }

    /// Ends a [`ChainChecker::whole`] chain: the first repeated id, if any.
    pub fn finish(&self) -> Result<(), Error> {
        self.first_repeat().map_or(Ok(()), Err)
    }

    /// Whether [`ChainChecker::push`] would take this event (not for a
    /// [`ChainChecker::whole`] chain, whose repeats are found at the end).
    pub fn accepts(&self, link: &Link) -> bool {
        link.seq == self.next_seq
            && link.computed == link.stored
            && link.prev == self.prev
            && link.recorded_at >= self.last_recorded
            && link.occurred_on[..] <= link.recorded_at[..10]
            && !self.ids.contains(&link.id)
    }

    /// `recorded_at` of the last event linked.
    pub fn last_recorded(&self) -> &str {
        std::str::from_utf8(&self.last_recorded).unwrap_or("")
    }

    /// Number of events linked so far.
    pub fn len(&self) -> u64 {
        self.next_seq - 1
    }
    /// Hash of the last event linked (64 zeros before the first).
    pub fn head(&self) -> Hash {
        self.prev
    }

    /// Links the next event, or names the seq where the chain breaks.
    pub fn push(&mut self, examined: Result<Link, String>) -> Result<(), Error> {
        let linked = self.link(examined);
        match (&linked, &self.in_order) {
            (Err(_), Some(_)) => self.first_repeat().map_or(linked, Err),
            _ => linked,
        }
    }

    fn link(&mut self, examined: Result<Link, String>) -> Result<(), Error> {
        let seq = self.next_seq;
        let bad = |reason: String| Error::Integrity { seq, reason };
        let link = examined.map_err(bad)?;
        if link.seq != seq {
            return Err(bad(format!(
                "found seq {} where seq {seq} was expected (an event was removed, inserted or moved)",
                link.seq
            )));
        }
        if link.computed != link.stored {
            return Err(bad("the stored hash does not match the event's bytes (the event was changed)".into()));
        }
        if link.prev != self.prev {
            return Err(bad(format!(
                "prev does not match the hash of seq {} (events were removed, inserted or reordered)",
                seq - 1
            )));
        }
        if link.recorded_at < self.last_recorded {
            return Err(bad("recorded_at is earlier than the previous event's".into()));
        }
        if link.occurred_on[..] > link.recorded_at[..10] {
            return Err(bad("occurred_on is after the day the event was recorded".into()));
        }
        match &mut self.in_order {
            Some(ids) => ids.push(link.id),
            None if !self.ids.insert(link.id) => return Err(bad("its id repeats an earlier event's id".into())),
            None => {}
        }
        self.next_seq += 1;
        self.prev = link.computed;
        self.last_recorded = link.recorded_at;
        Ok(())
    }
}

/// The exact members of an exported event.
const STORED_MEMBERS: [&str; 9] = ["seq", "id", "type", "occurred_on", "recorded_at", "actor", "data", "prev", "hash"];

/// One line of an export as the line reader gives it: its bytes, `None` for a blank
/// line, or why it cannot hold an event.
pub fn export_line_bytes(line: Line) -> Result<Option<Vec<u8>>, String> {
    match line {
        Line::TooLong(len) => Err(format!("line is {len} bytes, longer than any event")),
        Line::Text(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Line::Text(b) => Ok(Some(b)),
    }
}

/// Reads one line of an export: checks its members, recomputes its canonical bytes
/// from the parsed object (the line's own formatting is not trusted) and returns them
/// with the hash the line claims.
pub fn read_export_line(line: &[u8]) -> Result<(Vec<u8>, Hash, Value), String> {
    let value: Value = crate::ledger::json::parse(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err("not a JSON object".into());
    };
    for m in STORED_MEMBERS {
        if !obj.contains_key(m) {
            return Err(format!("member {m} is missing"));
        }
    }
    if let Some(extra) = obj.keys().find(|k| !STORED_MEMBERS.contains(&k.as_str())) {
        return Err(format!("unexpected member {extra}"));
    }
    let claimed = match obj.remove("hash") {
        Some(Value::String(h)) => parse_hex(&h).ok_or("hash is not 64 lowercase hex digits")?,
        _ => return Err("hash is not a string".into()),
    };
    let mut path = String::new();
    let body = Value::Object(obj);
    canonical::check_numbers(&body, &mut path)
        .map_err(|e| format!("{} {}", e.path.trim_start_matches('.'), e.reason))?;
    let bytes = canonical::to_vec(&body).map_err(|e| e.reason.to_string())?;
    Ok((bytes, claimed, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::event::{canonical_event, EventFields};

    fn event(actor: &str, data: &str, seq: u64, kind: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let id = uuid::Uuid::from_u128(0x0178_0000_0000_7000_8000_0000_0000_00ab);
        canonical_event(
            &EventFields {
                actor,
                data_canonical: data.as_bytes(),
                id: &id,
                occurred_on: "2021-03-01",
                prev: &[7; 32],
                recorded_at: "2021-03-02T10:00:00Z",
                seq,
                kind,
            },
            &mut out,
        );
        out
    }

    fn slow(c: &[u8]) -> Link {
        let env: Envelope<'_> = serde_json::from_slice(c).unwrap();
        Link {
            seq: env.seq,
            prev: parse_hex(&env.prev).unwrap(),
            id: uuid::Uuid::try_parse(&env.id).unwrap().as_u128(),
            occurred_on: env.occurred_on.as_bytes().try_into().unwrap(),
            recorded_at: env.recorded_at.as_bytes().try_into().unwrap(),
            computed: digest(c),
            stored: [0; 32],
        }
    }

    #[test]
    fn the_fast_reading_agrees_with_the_full_parse() {
        let cases = [
            ("К-07", r#"{"case":"1/2021_МР"}"#, 1, "case_closed"),
            (r#"a"b\c"#, r#"{"reason":"\"seq\":5,\"type\":\"x\"}","target":"t"}"#, 12_345, "event_voided"),
            ("x", r#"{"nested":{"prev":"0","id":"1"},"list":[1,2,{"a":"}"}]}"#, u64::from(u32::MAX) * 7, "aid_issued"),
            ("\u{1}", "{}", 10, "signal_received"),
        ];
        for (actor, data, seq, kind) in cases {
            let c = event(actor, data, seq, kind);
            let fast = envelope_fast(&c).unwrap_or_else(|| panic!("fast path refused {}", String::from_utf8_lossy(&c)));
            let link = examine(&c, [0; 32]).unwrap();
            let want = slow(&c);
            assert_eq!((fast.seq, link.seq, link.prev, link.id), (seq, want.seq, want.prev, want.id));
            assert_eq!((link.occurred_on, link.recorded_at), (want.occurred_on, want.recorded_at));
        }
    }

    #[test]
    fn other_shapes_fall_back_to_the_full_parse() {
        let good = event("a", "{}", 3, "case_closed");
        let text = String::from_utf8(good.clone()).unwrap();
        for bad in [
            text.replace("\"seq\":3", "\"seq\":03"),
            text.replace("\"seq\":3", "\"seq\": 3"),
            text.replace("{\"actor\":\"a\"", "{\"actor\":\"\""),
            text.replace("\"type\":\"case_closed\"", "\"type\":\"Case\""),
            text.replace(",\"data\":{}", ",\"data\":[]"),
            text.replace("2021-03-01", "2021-3-01"),
            text[..text.len() - 1].to_string(),
        ] {
            assert!(envelope_fast(bad.as_bytes()).is_none(), "fast path took {bad}");
        }
        // An empty actor is refused by the full parse too.
        let empty = text.replace("{\"actor\":\"a\"", "{\"actor\":\"\"");
        assert!(examine(empty.as_bytes(), [0; 32]).is_err());
    }

    /// A chain of `n` links; `ids[i]` is the id of seq `i + 1`.
    fn links(ids: &[u128]) -> Vec<Link> {
        let mut prev = ZERO_HASH;
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                let computed = [i as u8 + 1; 32];
                let link = Link {
                    seq: i as u64 + 1,
                    prev,
                    id: *id,
                    occurred_on: *b"2021-03-01",
                    recorded_at: *b"2021-03-02T10:00:00Z",
                    computed,
                    stored: computed,
                };
                prev = computed;
                link
            })
            .collect()
    }

    fn first_failure(mut checker: ChainChecker, links: Vec<Link>) -> Option<(u64, String)> {
        for l in links {
            if let Err(Error::Integrity { seq, reason }) = checker.push(Ok(l)) {
                return Some((seq, reason));
            }
        }
        match checker.finish() {
            Err(Error::Integrity { seq, reason }) => Some((seq, reason)),
            _ => None,
        }
    }

    /// `verify`'s checker, which finds repeated ids by sorting at the end, names the
    /// same first failure as the one that looks each id up as it links.
    #[test]
    fn a_whole_chain_names_the_same_first_failure() {
        let repeat = |ids: &[u128]| links(ids);
        let mut broken = repeat(&[1, 2, 3, 2, 5, 6]);
        broken[5].prev = [9; 32]; // seq 6 breaks the chain after seq 4 repeats seq 2's id
        let mut broken_first = repeat(&[1, 2, 3, 4, 5, 4]);
        broken_first[2].prev = [9; 32]; // seq 3 breaks before seq 6 repeats an id
        let cases = [
            (repeat(&[1, 2, 3, 4]), None),
            (repeat(&[1, 2, 3, 2, 5]), Some(4)),
            (repeat(&[7, 7]), Some(2)),
            (broken, Some(4)),
            (broken_first, Some(3)),
        ];
        for (chain, expected) in cases {
            let n = chain.len() as u64;
            let one_by_one = first_failure(ChainChecker::default(), chain.clone());
            let whole = first_failure(ChainChecker::whole(n), chain);
            assert_eq!(one_by_one.as_ref().map(|f| f.0), expected);
            assert_eq!(whole, one_by_one);
        }
    }
}
