//! The case domain: what events mean. Payloads (SPEC §4) are plain serde types;
//! [`PayloadRules`] plugs their checks into the ledger's append.

pub mod payload;

use crate::error::Refusal;
use crate::ledger::{PendingEvent, Rules};
pub use payload::Payload;

/// The payload checks of SPEC §4 for every appended event. (The state rules — unknown
/// cases, closed cases, corrections — build on this; see issue 3.)
pub struct PayloadRules;

impl Rules for PayloadRules {
    fn admit(&mut self, event: &PendingEvent<'_>) -> Result<(), Refusal> {
        Payload::parse(event.input.kind, &event.input.data).map(|_| ())
    }
}
