//! Bearer tokens and roles (SPEC §12). The tokens file keeps only BLAKE3 hashes of
//! tokens, so a copy of it lets no one in; a token is shown once, when it is made.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The tokens file a ledger directory uses unless told otherwise.
pub fn default_tokens_path(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("tokens.json")
}

use serde::{Deserialize, Serialize};

use crate::error::{Error, Refusal, Result};
use crate::ledger::event::{check_code, hex, parse_hex, Hash};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Appends events and reads cases.
    Recorder,
    /// Reads everything; indicators and reports.
    Analyst,
    /// Read-only: indicators, explain, reports, verify, export.
    Auditor,
    /// Everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Recorder, Role::Analyst, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Recorder => "recorder",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An authenticated user: the token's name (the `actor` of what they append) and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
}

/// One line of the tokens file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: Role,
    /// BLAKE3 of the token, hex.
    hash: String,
    created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<Entry>,
}

/// The tokens a server accepts, by hash.
#[derive(Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<Hash, User>,
}

/// Longest token accepted in a header (ours are 67 characters).
const MAX_TOKEN_CHARS: usize = 256;

fn token_hash(token: &str) -> Hash {
    *blake3::hash(token.as_bytes()).as_bytes()
}

fn read_file(path: &Path) -> Result<TokensFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Storage(format!("{}: not a tokens file: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokensFile::default()),
        Err(e) => Err(Error::storage(&format!("reading {}", path.display()), e)),
    }
}

impl Tokens {
    /// Reads the tokens file; a missing file means no tokens (only `/health` works).
    pub fn load(path: &Path) -> Result<Tokens> {
        let file = read_file(path)?;
        let mut by_hash = HashMap::new();
        for (i, e) in file.tokens.into_iter().enumerate() {
            let hash = parse_hex(&e.hash).ok_or_else(|| {
                Error::Storage(format!("{}: token {} ({}) has a damaged hash", path.display(), i + 1, e.name))
            })?;
            by_hash.insert(hash, User { name: e.name, role: e.role });
        }
        Ok(Tokens { by_hash })
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The user a presented token belongs to.
    pub fn user(&self, token: &str) -> Option<&User> {
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        self.by_hash.get(&token_hash(token))
    }
}

/// Makes a new token for `name` with `role`, stores its hash in the tokens file
/// (written atomically) and returns the token, which is nowhere else.
pub fn add(path: &Path, name: &str, role: Role) -> Result<String> {
    check_code("name", name).map_err(|r| Error::Usage(format!("NAME: {}", r.reason)))?;
    let mut file = read_file(path)?;
    if file.tokens.iter().any(|e| e.name == name) {
        return Err(Error::refused(Refusal::new(
            None,
            format!("{name} already has a token in {}; remove it first (token remove {name})", path.display()),
        )));
    }
    // 244 random bits from the OS (two v4 UUIDs), as 64 hex digits.
    let token = format!("cl_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let created_at = crate::ledger::event::format_stamp(&chrono::Utc::now());
    file.tokens.push(Entry { name: name.into(), role, hash: hex(&token_hash(&token)), created_at });
    save(path, &file)?;
    Ok(token)
}

/// Removes `name`'s token; refused when there is none.
pub fn remove(path: &Path, name: &str) -> Result<()> {
    let mut file = read_file(path)?;
    let before = file.tokens.len();
    file.tokens.retain(|e| e.name != name);
    if file.tokens.len() == before {
        return Err(Error::refused(Refusal::new(None, format!("{name} has no token in {}", path.display()))));
    }
    save(path, &file)
}

/// `(name, role, created_at)` of every token.
pub fn list(path: &Path) -> Result<Vec<(String, Role, String)>> {
    Ok(read_file(path)?.tokens.into_iter().map(|e| (e.name, e.role, e.created_at)).collect())
}

fn save(path: &Path, file: &TokensFile) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::storage(&format!("creating {}", dir.display()), e))?;
    }
    let text = serde_json::to_string_pretty(file).map_err(std::io::Error::from)? + "\n";
    crate::files::write_private(path, |w| Ok(w.write_all(text.as_bytes())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_stored_only_as_its_hash_and_finds_its_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let t = add(&path, "curator-1", Role::Recorder).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&t), "the token itself must not be stored");
        assert!(text.contains(&hex(&token_hash(&t))));
        let tokens = Tokens::load(&path).unwrap();
        assert_eq!(tokens.user(&t), Some(&User { name: "curator-1".into(), role: Role::Recorder }));
        assert_eq!(tokens.user(&format!("{t}x")), None);
        assert_eq!(tokens.user(""), None);
        assert!(matches!(add(&path, "curator-1", Role::Admin), Err(Error::Refused(..))));
        remove(&path, "curator-1").unwrap();
        assert!(Tokens::load(&path).unwrap().is_empty());
    }

    #[test]
    fn names_must_be_codes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(add(&dir.path().join("t.json"), "", Role::Admin), Err(Error::Usage(_))));
    }
}
