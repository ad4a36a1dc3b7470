//! The case domain: what events mean. Payloads (SPEC §4) are plain serde types, with
//! their Russian words; the state rules that check an event against the ledger live
//! above the projections they read, in `record`.

pub mod describe;
pub mod payload;
pub mod words;

pub use payload::Payload;
