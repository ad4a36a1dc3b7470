//! The ledger's signing key, its checkpoints, proofs, and a witness's own key
//! (SPEC §14).

use std::io::Write;
use std::path::Path;

use super::args::{KeyCommand, ProofCommand};
use super::context::Ctx;
use crate::error::{Error, Result};

/// `caseledger key init|show`.
pub(super) fn key(ctx: &Ctx, dir: &Path, cmd: KeyCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        KeyCommand::Init { origin } => {
            ctx.open(dir)?;
            let vkey = crate::checkpoint::key_init(dir, origin.as_deref())?;
            writeln!(out, "{vkey}")?;
        }
        KeyCommand::Show => {
            let key = crate::checkpoint::LogKey::load(dir)?.ok_or_else(|| {
                Error::Usage(format!("у {} нет ключа: выполните `caseledger key init`", dir.display()))
            })?;
            writeln!(out, "{}", key.vkey())?;
        }
    }
    Ok(())
}

/// `caseledger checkpoint`: signs one for the head, asks the witnesses, prints it.
pub(super) fn checkpoint(ctx: &Ctx, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let ledger = ctx.open(dir)?;
    let s = crate::checkpoint::sign(&ledger, dir)?;
    out.write_all(s.checkpoint.note.as_bytes())?;
    out.flush()?;
    for why in &s.unavailable {
        eprintln!("witness unavailable: {why}");
    }
    if let Some(why) = &s.held_back {
        eprintln!("{why}");
    }
    if !s.inconsistent.is_empty() {
        return Err(Error::Lost(format!("a witness holds another history: {}", s.inconsistent.join("; "))));
    }
    if s.cosigned.len() < s.quorum {
        return Err(Error::Storage(format!(
            "{} of the {} witnesses needed cosigned (see above); the checkpoint is kept, ask again later",
            s.cosigned.len(),
            s.quorum
        )));
    }
    Ok(())
}

/// `caseledger proof inclusion|consistency`.
pub(super) fn proof(ctx: &Ctx, dir: &Path, cmd: ProofCommand, json: bool, out: &mut dyn Write) -> Result<()> {
    let ledger = ctx.open(dir)?;
    let v = match cmd {
        ProofCommand::Inclusion { seq, size } => crate::checkpoint::inclusion_json(&ledger, seq, size)?,
        ProofCommand::Consistency { old, size } => crate::checkpoint::consistency_json(&ledger, old, size)?,
    };
    if json {
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&v).map_err(std::io::Error::from)?)?;
    }
    Ok(())
}
