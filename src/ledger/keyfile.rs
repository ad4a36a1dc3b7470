//! The signing key files of the log (`DIR/log.key`) and of a witness, in Go's note
//! format: `PRIVATE+KEY+NAME+KEYID+BASE64(alg ‖ seed)` (written by `checkpoint`). Read
//! here, at the ledger's floor, because every open checks `DIR/checkpoint` — and must
//! tell a damaged file (its signature no longer verifies) from a ledger that went back
//! behind what it signed.

use std::path::Path;

use base64::Engine;

use crate::error::{Error, Result};

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Reads a key file (`PRIVATE+KEY+NAME+KEYID+BASE64(alg ‖ seed)`, Go's note format)
/// back: (name, algorithm, key).
pub fn read(path: &Path) -> Result<(String, u8, ed25519_dalek::SigningKey)> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Usage(format!(
            "{} нет: сначала создайте ключ (`caseledger key init` или `caseledger witness init`)",
            path.display()
        )),
        _ => Error::storage(&format!("reading {}", path.display()), e),
    })?;
    let bad = || Error::Storage(format!("{} is not a key file", path.display()));
    let parts: Vec<&str> = text.trim().splitn(5, '+').collect();
    let [priv1, priv2, name, _id, key] = parts[..] else { return Err(bad()) };
    if priv1 != "PRIVATE" || priv2 != "KEY" {
        return Err(bad());
    }
    let bytes = b64().decode(key).map_err(|_| bad())?;
    let (alg, seed) = bytes.split_first().ok_or_else(bad)?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| bad())?;
    Ok((name.to_string(), *alg, ed25519_dalek::SigningKey::from_bytes(&seed)))
}

/// Whether a signed note carries a valid signature of the ledger's own key
/// (`DIR/log.key`): `None` when there is no key to check it with.
pub fn signed_by_own_key(dir: &Path, note: &str) -> Option<bool> {
    use ed25519_dalek::Verifier as _;
    let path = dir.join("log.key");
    if !path.exists() {
        return None;
    }
    let (name, alg, key) = read(&path).ok()?;
    if alg != 0x01 {
        return None;
    }
    let public = [&[alg], key.verifying_key().as_bytes().as_slice()].concat();
    let id = signed_note::key_id(&name, &public).to_be_bytes();
    let Some((body, sigs)) = note.split_once("\n\n") else { return Some(false) };
    let signature = sigs.lines().find_map(|l| {
        let (who, sig) = l.strip_prefix("— ")?.split_once(' ')?;
        let raw = b64().decode(sig).ok()?;
        (who == name && raw.get(..4) == Some(&id[..])).then_some(raw)
    });
    let Some(raw) = signature else { return Some(false) };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw[4..]) else { return Some(false) };
    Some(key.verifying_key().verify(format!("{body}\n").as_bytes(), &sig).is_ok())
}
