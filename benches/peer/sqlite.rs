//! The SQL peer of issue 7: the same events in one SQLite table (the JSON payload as
//! text), and P1 / P3.2 computed by SQL from them (benches/peer/p1_p32.sql). Shared by
//! the scale benchmark and tests/sql_peer.rs.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;

use rusqlite::{params, Connection};

pub const P1_P32_SQL: &str = include_str!("p1_p32.sql");

/// P1 and P3.2 as `indicators/default.json` defines them, for the SQL's comparison.
pub const P1_P32_DEFS: &str = r#"[
 {"id": "P1", "title": "P1",
  "numerator": {"count": "family", "from": [{"rows": "cases", "where": {"all": [
    {"fact": "closed_in_period", "eq": true}, {"fact": "outcome", "eq": "stabilized"}]}}]},
  "denominator": {"count": "family", "from": [{"rows": "cases", "where": {"fact": "active_in_period", "eq": true}}]}},
 {"id": "P3.2", "title": "P3.2",
  "numerator": {"count": "family", "from": [{"rows": "cases", "where": {"all": [
    {"fact": "active_in_period", "eq": true}, {"fact": "efo_delta_latest", "gte": 1}]}}]},
  "denominator": {"count": "family", "from": [{"rows": "cases", "where": {"all": [
    {"fact": "active_in_period", "eq": true}, {"fact": "efo_entry", "present": true},
    {"fact": "efo_latest", "present": true}]}}]}}
]"#;

#[derive(serde::Deserialize)]
struct Line<'a> {
    seq: i64,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    occurred_on: &'a str,
    recorded_at: &'a str,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// Creates `events` in a new database file and loads an export (JSONL of stored
/// events) into it in one transaction. Returns the number of events.
pub fn load(db: &Path, export: &Path) -> rusqlite::Result<u64> {
    let mut conn = Connection::open(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                              occurred_on TEXT NOT NULL, recorded_at TEXT NOT NULL, data TEXT NOT NULL);",
    )?;
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut insert = tx.prepare("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
        let file = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(export).expect("export file"));
        for line in file.lines() {
            let line = line.expect("export line");
            let l: Line = serde_json::from_str(&line).expect("an exported event");
            insert.execute(params![l.seq, l.id, l.kind, l.occurred_on, l.recorded_at, l.data.get()])?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// `[P1 numerator, P1 denominator, P3.2 numerator, P3.2 denominator]` for [from, to]
/// as known at `known_at` (a stamp) and up to `at_seq`.
pub fn p1_p32(
    db: &Path,
    from: &str,
    to: &str,
    known_at: Option<&str>,
    at_seq: Option<u64>,
) -> rusqlite::Result<[i64; 4]> {
    let conn = Connection::open(db)?;
    let known = known_at.unwrap_or("9999-12-31T23:59:59Z");
    let seq = at_seq.map_or(i64::MAX, |s| s as i64);
    conn.query_row(P1_P32_SQL, params![from, to, known, seq], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))
}
