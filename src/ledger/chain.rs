//! Verifying the hash chain (SPEC §3): the same checks for the ledger's own store and
//! for an export file. Nothing here trusts a stored hash: every event's canonical
//! bytes are hashed again and the chain is linked from the recomputed hashes.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::IgnoredAny;
use serde_json::Value;

use crate::error::Error;
use crate::ledger::canonical;
use crate::ledger::event::{digest, parse_date, parse_hex, parse_stamp, Hash, ZERO_HASH};

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
    let env: Envelope<'_> =
        serde_json::from_slice(canonical).map_err(|e| format!("stored event is not a valid event: {e}"))?;
    let prev = parse_hex(&env.prev).ok_or("prev is not 64 lowercase hex digits")?;
    let id = uuid::Uuid::try_parse(&env.id).map_err(|_| "id is not a UUID")?.as_u128();
    if parse_date(&env.occurred_on).is_none() {
        return Err("occurred_on is not a date YYYY-MM-DD".into());
    }
    if parse_stamp(&env.recorded_at).is_none() {
        return Err("recorded_at is not YYYY-MM-DDTHH:MM:SSZ".into());
    }
    if env.actor.is_empty() || env.kind.is_empty() {
        return Err("actor and type must not be empty".into());
    }
    let mut occurred_on = [0u8; 10];
    occurred_on.copy_from_slice(env.occurred_on.as_bytes());
    let mut recorded_at = [0u8; 20];
    recorded_at.copy_from_slice(env.recorded_at.as_bytes());
    Ok(Link { seq: env.seq, prev, id, occurred_on, recorded_at, computed, stored })
}

/// Links events in order and reports the first one that breaks the chain.
pub struct ChainChecker {
    next_seq: u64,
    prev: Hash,
    last_recorded: [u8; 20],
    ids: HashSet<u128>,
}

impl Default for ChainChecker {
    fn default() -> Self {
        ChainChecker { next_seq: 1, prev: ZERO_HASH, last_recorded: [b'0'; 20], ids: HashSet::new() }
    }
}

impl ChainChecker {
    /// Number of events linked so far.
    pub fn len(&self) -> u64 {
        self.next_seq - 1
    }
    pub fn is_empty(&self) -> bool {
        self.next_seq == 1
    }
    /// Hash of the last event linked (64 zeros before the first).
    pub fn head(&self) -> Hash {
        self.prev
    }

    /// Links the next event, or names the seq where the chain breaks.
    pub fn push(&mut self, examined: Result<Link, String>) -> Result<(), Error> {
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
        if !self.ids.insert(link.id) {
            return Err(bad("its id repeats an earlier event's id".into()));
        }
        self.next_seq += 1;
        self.prev = link.computed;
        self.last_recorded = link.recorded_at;
        Ok(())
    }
}

/// The exact members of an exported event.
const STORED_MEMBERS: [&str; 9] = ["seq", "id", "type", "occurred_on", "recorded_at", "actor", "data", "prev", "hash"];

/// Reads one line of an export: checks its members, recomputes its canonical bytes
/// from the parsed object (the line's own formatting is not trusted) and returns them
/// with the hash the line claims.
pub fn read_export_line(line: &[u8]) -> Result<(Vec<u8>, Hash, Value), String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}"))?;
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
