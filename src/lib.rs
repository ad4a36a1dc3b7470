//! caseledger: an event-sourced, hash-chained case ledger for family-support NGOs and
//! crisis centres. See ARCHITECTURE.md for the map of modules and their floors.
//!
//! The library's API, floor by floor (each call answers in types; the transports —
//! [`cli`], [`server`], [`web`] — render them, and make JSON of them by serde):
//!
//! - [`ledger::Ledger`]: `init`/`open`, `append_jsonl`/`check_jsonl` (with
//!   [`ledger::Rules`]), `verify`, `export`, `import`, `record`, `case_events`; the event
//!   envelope in [`ledger::event`]; the journal-alone reads when the store is damaged
//!   ([`ledger::read_journal_alone`]) and [`ledger::recover`]. The store, the journal,
//!   the healing and the tree are the ledger's own (`pub(crate)`).
//! - [`domain`]: what events mean ([`domain::Payload`]) and their Russian words.
//! - [`project`]: folds for a cut ([`project::World`], [`project::Cut`]); the case card
//!   ([`project::card`]), the lists kept in memory ([`project::lists`]), the audit
//!   trail ([`project::trail`]), what is due ([`project::due`]).
//! - [`indicators`]: figures ([`indicators::Computed`], memoised by
//!   [`indicators::memo::figures`]) and their lineage ([`indicators::Lineage`]).
//! - [`record::StateRules`]: the one way to append (check, append, update the digests).
//! - [`report`], [`bundle`], [`checkpoint`], [`import`], [`analysis`], [`backup`],
//!   [`mirror`]: reports and their verification ([`report::Verification`]), the funder's
//!   bundle, checkpoints and witnesses, table import, Parquet, backup and restore, mirrors.

pub mod access;
pub mod analysis;
pub mod appender;
pub mod backup;
pub mod bundle;
pub mod checkpoint;
pub mod cli;
pub mod codec;
pub mod config;
pub mod domain;
pub mod error;
pub mod files;
pub mod gen;
pub mod health;
pub mod import;
pub mod indicators;
pub mod ledger;
pub mod limits;
pub mod mirror;
pub mod panics;
pub mod parallel;
pub mod project;
pub mod query;
pub mod record;
pub mod report;
pub mod say;
pub mod server;
pub mod witness;
// Page handlers stop early with the page that says why (an axum `Response`).
#[allow(clippy::result_large_err)]
pub mod web;

pub use error::{Error, Refusal, Result};
