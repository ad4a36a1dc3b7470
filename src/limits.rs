//! Every bound the program enforces, in one place (TigerStyle: put a limit on everything).
//! The README's "Limits" table is written from these constants; keep them in step.

/// Longest accepted input line (one event), in bytes. Longer lines are refused without
/// being held in memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Most events one `append` or `import` call accepts.
pub const MAX_BATCH_EVENTS: usize = 1_000_000;

/// Longest code (family, case, signal, child) and actor, in characters.
pub const MAX_CODE_CHARS: usize = 64;

/// Refusals listed one per line before the rest are summarised in a count.
pub const MAX_ERRORS_LISTED: usize = 100;

/// Integers in events must be exactly representable by any JSON reader (RFC 8785 uses
/// IEEE doubles): |n| ≤ 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A storage block holds at most this many events …
pub const BLOCK_MAX_EVENTS: usize = 64;
/// … and is closed once its payload reaches this many bytes (sled keeps values above
/// ~128 KiB in never-fsynced blob files, so a block must stay well below that even
/// with one maximal event in it).
pub const BLOCK_TARGET_BYTES: usize = 32 * 1024;

/// Events written per sled batch before a long append spills to disk ahead of its
/// head update (the head key is what commits an append).
pub const SPILL_EVENTS: usize = 50_000;

/// Id-index entries gathered before a long append merges them into their buckets.
pub const ID_MERGE_EVENTS: usize = 250_000;

/// sled's log segment. sled writes any page frame larger than a quarter segment to a
/// separate blob file that it never fsyncs. A leaf page holds up to 17 values; with
/// sled's default 512 KiB segments (128 KiB threshold) nearly every leaf of
/// uncompressed event blocks went to a blob. With LZ4 blocks (~10 KiB) and 2 MiB
/// segments (512 KiB threshold) a leaf of blocks is ~200 KiB; only a leaf of 17
/// single, near-64 KiB, incompressible events could exceed it, and `Store::sync`
/// fsyncs any blob file anyway. (8 MiB segments were measured too: sled's open reads
/// a whole segment, 0.05 → 0.19 s per command at 1 M events.)
pub const SLED_SEGMENT_BYTES: usize = 2 * 1024 * 1024;

/// sled's page cache. sled's default is 1 GiB; the ledger's memory bound is this plus
/// the working set of the command.
pub const SLED_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// Keys per sled batch where a write need not be atomic (derived indexes, the digest
/// buckets of a rebuild). sled pins one epoch for a whole `apply_batch`, so every
/// page version the batch replaces stays in memory until it ends: building the case
/// index of 1 M events in batches of ~26 k keys peaked at 1.02 GiB, in batches of 256
/// at 0.17 GiB, and ran faster (7.4 → 5.0 s).
pub const SLED_BATCH_KEYS: usize = 256;

/// Largest count in an event (quantity, sessions, goals, weak sides, months).
pub const MAX_COUNT: u32 = 1_000_000;

/// Longest free text (reason, purpose, redirected_to), in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

// ---- the HTTP service (`serve`) ----

/// Largest request body, in bytes (413 above it).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Largest body of a request that carries a question or a form, not events: a report
/// to verify, definitions, a login, a form of one event (per-route limits, issue 28).
pub const MAX_SMALL_BODY_BYTES: usize = 1024 * 1024;

/// Most events one `POST /v1/events` may carry (413 above it).
pub const MAX_HTTP_BATCH_EVENTS: usize = 10_000;

/// A group commit stops taking requests once it holds this many events …
pub const MAX_GROUP_EVENTS: usize = 20_000;
/// … or this many requests.
pub const MAX_GROUP_REQUESTS: usize = 1024;

/// Appends waiting for the writer before new ones wait to be queued.
pub const APPEND_QUEUE: usize = 4096;

/// A request that takes longer is answered 503. Appends are exempt: once queued an
/// append is stored, and its answer waits for that.
pub const REQUEST_TIMEOUT_SECS: u64 = 60;

/// Open connections; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;

/// Requests that project the whole ledger (cases, indicators, explain, reports,
/// verify, export, event pages) at once; more wait their turn. Each can take about a
/// GiB on a million events.
pub const MAX_HEAVY_READS: usize = 2;

/// Most events one `GET /v1/events` returns (default and cap).
pub const MAX_EVENTS_PAGE: usize = 100_000;

/// Memoised figure sets kept in the ledger (`indicators` answers a repeated question
/// from them); past this many, new ones are computed but not kept.
pub const MAX_MEMO_ENTRIES: usize = 2_000;

/// After SIGTERM/SIGINT, connections still open this long are closed (appends already
/// queued are still stored before the process exits).
pub const SHUTDOWN_GRACE_SECS: u64 = 30;

/// A connection that sends nothing for this long is closed (longer than any request
/// may take, so a slow answer is never cut off by it).
pub const IDLE_READ_SECS: u64 = 90;

/// Buckets the fact digests are spread over (`project::summary`): at 1M events
/// (≈230k subjects) a bucket holds ≈14 subjects, ≈1.3 KiB, so an append rewrites a
/// few small values (with 4096 buckets of ≈5 KiB, the service's durable appends fell
/// from 16.7k/s to 12.4k/s) and a full read is 16384 keys.
pub const SUMMARY_BUCKETS: u16 = 16384;

/// At most this many events' room is made ahead in a bulk append's tables, whatever
/// its input's length suggests (≈ 200 bytes of address space an event, 1 byte of it
/// touched until used: ≈ 0.8 GB of address space at most).
pub const BULK_RESERVE_EVENTS: usize = 4_000_000;

/// A journal segment (`DIR/journal/*.jsonl`) is closed once it holds this many bytes,
/// so no file grows without bound (≈ 200 k events of ≈ 330 bytes).
pub const JOURNAL_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// The most a bundle (or any zip this program reads) may expand to, all its entries
/// together (SPEC §19; `--max-bytes` raises it): a zip bomb is refused from its
/// declared sizes before anything is unpacked, and a lying one stops here.
pub const MAX_BUNDLE_BYTES: u64 = 256 * 1024 * 1024;

/// Daily log files of `serve` kept (SPEC §20: 30 days).
pub const LOG_FILES_KEPT: usize = 30;

/// How long a publication waits for the mirrors config.toml names to hold it before
/// its checkpoint goes to the witnesses (they pull every few seconds).
pub const MIRROR_WAIT_SECS: u64 = 30;

/// The body limit of a route that carries a question, not events.
pub fn small_body() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_SMALL_BODY_BYTES)
}
