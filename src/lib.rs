//! caseledger: an event-sourced, hash-chained case ledger for family-support NGOs and
//! crisis centres. See ARCHITECTURE.md for the map of modules.

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
