//! Where a command runs — alone, opening the ledger itself, or inside the service that
//! holds it — and whom it acts as.

use std::path::Path;

use crate::error::{Error, Result};
use crate::ledger::Ledger;

/// Where a command finds its ledger: it opens it itself, or (a reading command while
/// `serve` holds the ledger) it runs inside the service, on the service's ledger.
pub(crate) enum Ctx {
    Local,
    Served(std::sync::Arc<Ledger>),
}

impl Ctx {
    pub(crate) fn open(&self, dir: &Path) -> Result<std::sync::Arc<Ledger>> {
        match self {
            Ctx::Local => Ledger::open(dir).map(std::sync::Arc::new),
            Ctx::Served(ledger) => Ok(ledger.clone()),
        }
    }
}

/// `--actor`, else `$CASELEDGER_ACTOR` (both through clap), else the OS user.
pub(crate) fn resolve_actor(actor: Option<String>) -> Result<String> {
    let actor = actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").map(|m| format!("uid{}", m.uid())).unwrap_or_else(|_| "unknown".into())
        });
    crate::ledger::event::check_code("actor", &actor).map_err(|r| Error::Usage(format!("--actor: {}", r.reason)))?;
    Ok(actor)
}
