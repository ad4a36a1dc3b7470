//! What every handler of the service shares, and who is calling.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::access::{Tokens, User};
use crate::ledger::Ledger;

/// What every handler shares.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) ledger: Arc<Ledger>,
    pub(super) tokens: Arc<Tokens>,
    pub(super) appender: crate::appender::Appender,
    pub(super) heavy: Arc<Semaphore>,
    pub(super) shutting_down: Arc<AtomicBool>,
}

/// Who is calling, as the middleware found it.
#[derive(Debug, Clone)]
pub(super) enum Caller {
    Missing,
    Unknown,
    User(User),
}
