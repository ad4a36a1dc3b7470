//! The case domain: what events mean. Payloads (SPEC §4) are plain serde types;
//! [`StateRules`] checks each appended event's payload and the state rules against
//! the ledger as it is.

pub mod payload;
pub mod rules;
pub mod words;

pub use payload::Payload;
pub use rules::StateRules;
