//! Bearer tokens and roles (SPEC §12). The tokens file keeps only BLAKE3 hashes of
//! tokens, so a copy of it lets no one in; a token is shown once, when it is made.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The tokens file a ledger directory uses unless told otherwise.
pub fn default_tokens_path(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("tokens.json")
}

use serde::{Deserialize, Serialize};

use crate::codec::{hex, parse_hex, Hash};
use crate::error::{Error, Refusal, Result};
use crate::ledger::event::check_code;

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
            format!(
                "у {name} уже есть токен в {}; сначала удалите его (`caseledger token remove {name}`)",
                path.display()
            ),
        )));
    }
    // 244 random bits from the OS (two v4 UUIDs), as 64 hex digits.
    let token = format!("cl_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let created_at = crate::codec::format_stamp(&chrono::Utc::now());
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
        return Err(Error::refused(Refusal::new(None, format!("у {name} нет токена в {}", path.display()))));
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

// ---------------------------------------------------------------- users of the web pages

/// The users file a ledger directory uses (SPEC §16): argon2id hashes only, mode 0600.
pub fn default_users_path(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("users.json")
}

/// Shortest password `user add` and `user passwd` take.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest one (argon2 takes any length; this bounds the work of a hostile request).
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    role: Role,
    /// argon2id, in the PHC string format (`$argon2id$v=19$m=…`).
    hash: String,
    created_at: String,
    /// The curator code this login records as (SPEC §21 "my cases").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    curator: Option<String>,
    /// A disabled login is kept (its name stays the actor of what it recorded) but
    /// cannot log in, and its open sessions end at their next request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<UserEntry>,
}

fn read_users(path: &Path) -> Result<UsersFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Storage(format!("{}: not a users file: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile::default()),
        Err(e) => Err(Error::storage(&format!("reading {}", path.display()), e)),
    }
}

fn save_users(path: &Path, file: &UsersFile) -> Result<()> {
    let text = serde_json::to_string_pretty(file).map_err(std::io::Error::from)? + "\n";
    crate::files::write_private(path, |w| Ok(w.write_all(text.as_bytes())?))
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::refused(Refusal::new(
            None,
            format!(
                "в пароле {}, а нужно не меньше {MIN_PASSWORD_CHARS}",
                crate::domain::words::plural(n as u64, ("символ", "символа", "символов"))
            ),
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::refused(Refusal::new(None, format!("пароль длиннее {MAX_PASSWORD_CHARS} символов"))));
    }
    Ok(())
}

/// argon2id with the crate's default parameters (19 MiB, 2 passes), a fresh salt.
fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Storage(format!("hashing the password: {e}")))
}

/// Adds a user who logs in with `password` (SPEC §16 `user add NAME --role R`).
pub fn add_user(path: &Path, name: &str, role: Role, password: &str) -> Result<()> {
    check_code("name", name).map_err(|r| Error::Usage(format!("NAME: {}", r.reason)))?;
    check_password(password)?;
    let mut file = read_users(path)?;
    if file.users.iter().any(|u| u.name == name) {
        return Err(Error::refused(Refusal::new(
            None,
            format!("пользователь {name} уже есть; пароль меняют командой `caseledger user passwd {name}` или на странице «Пользователи»"),
        )));
    }
    let created_at = crate::codec::format_stamp(&chrono::Utc::now());
    file.users.push(UserEntry {
        name: name.into(),
        role,
        hash: hash_password(password)?,
        created_at,
        curator: None,
        disabled: false,
    });
    save_users(path, &file)
}

/// Ties `name` to a curator code (`/cases` then opens on that curator's open cases, and
/// `/due` lists their cases); `None` unties it.
pub fn set_curator(path: &Path, name: &str, curator: Option<&str>) -> Result<()> {
    if let Some(c) = curator {
        check_code("curator", c).map_err(|r| Error::Usage(format!("--curator: {}", r.reason)))?;
    }
    let mut file = read_users(path)?;
    let Some(user) = file.users.iter_mut().find(|u| u.name == name) else {
        return Err(Error::refused(Refusal::new(None, format!("пользователя {name} нет"))));
    };
    user.curator = curator.map(str::to_string);
    save_users(path, &file)
}

/// Sets a new password for `name`.
pub fn set_password(path: &Path, name: &str, password: &str) -> Result<()> {
    check_password(password)?;
    let mut file = read_users(path)?;
    let Some(user) = file.users.iter_mut().find(|u| u.name == name) else {
        return Err(Error::refused(Refusal::new(None, format!("пользователя {name} нет"))));
    };
    user.hash = hash_password(password)?;
    save_users(path, &file)
}

/// Removes `name`; refused when there is no such user.
pub fn remove_user(path: &Path, name: &str) -> Result<()> {
    let mut file = read_users(path)?;
    let before = file.users.len();
    file.users.retain(|u| u.name != name);
    if file.users.len() == before {
        return Err(Error::refused(Refusal::new(None, format!("пользователя {name} нет"))));
    }
    save_users(path, &file)
}

/// A user as `user list` and `/admin/users` show them (never a password or its hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curator: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// Every user, as `user list` shows them.
pub fn list_users(path: &Path) -> Result<Vec<UserInfo>> {
    Ok(read_users(path)?
        .users
        .into_iter()
        .map(|u| UserInfo {
            name: u.name,
            role: u.role,
            created_at: u.created_at,
            curator: u.curator,
            disabled: u.disabled,
        })
        .collect())
}

/// Disables (or enables again) `name`'s login.
pub fn set_disabled(path: &Path, name: &str, disabled: bool) -> Result<()> {
    let mut file = read_users(path)?;
    let Some(user) = file.users.iter_mut().find(|u| u.name == name) else {
        return Err(Error::refused(Refusal::new(None, format!("пользователя {name} нет"))));
    };
    user.disabled = disabled;
    save_users(path, &file)
}

/// The users of a running service: read from the file again whenever it changed, so
/// `user add`, `user remove` and `user passwd` take effect without a restart (and a
/// removed user's open sessions stop working at their next request).
pub struct Users {
    path: PathBuf,
    cached: std::sync::Mutex<(Option<std::time::SystemTime>, Vec<UserEntry>)>,
}

impl Users {
    pub fn new(path: PathBuf) -> Users {
        Users { path, cached: std::sync::Mutex::new((None, Vec::new())) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn entries(&self) -> Result<Vec<UserEntry>> {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if modified.is_none() || cached.0 != modified {
            cached.1 = read_users(&self.path)?.users;
            cached.0 = modified;
        }
        Ok(cached.1.clone())
    }

    /// The user `name` as the file says now.
    pub fn get(&self, name: &str) -> Result<Option<User>> {
        Ok(self.get_with_curator(name)?.map(|(u, _)| u))
    }

    /// The user `name` as the file says now, with the curator code they record as (one
    /// read of the file for both, as every page needs both).
    pub fn get_with_curator(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|u| u.name == name && !u.disabled)
            .map(|u| (User { name: u.name, role: u.role }, u.curator)))
    }

    /// Checks a password (argon2id, constant time in the hash); `None` when the user
    /// does not exist or the password is wrong. An unknown name costs the same work,
    /// so the time does not tell which.
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<User>> {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Ok(None);
        }
        let entries = self.entries()?;
        let found = entries.iter().find(|u| u.name == name);
        let hash = found.map_or_else(|| decoy_hash().to_string(), |u| u.hash.clone());
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::Storage(format!("{}: {e}", self.path.display())))?;
        let ok = argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(found.filter(|u| ok && !u.disabled).map(|u| User { name: u.name.clone(), role: u.role }))
    }
}

/// A hash no password matches, checked when the name is unknown.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy: no user has this password").unwrap_or_default())
}

/// Five failed logins for one user within 15 minutes lock that user's logins for 15
/// minutes (SPEC §16), whatever the password tried next.
///
/// The failures of the ledger's accounts are kept apart from those of names that are
/// no account, so that trying many other names can never make the table forget an
/// account (the review emptied the old, shared table with 10 000 names and then tried
/// 20 passwords for `admin`); they are kept in `DIR/logins.json`, so a restart does
/// not forget them either. Names that are no account are remembered in a bounded
/// table only so that they lock alike (no telling names apart). And a client address
/// that keeps failing is slowed down, whichever names it tries.
#[derive(Default)]
pub struct LoginThrottle {
    /// Where the accounts' failures are kept (none: in memory only).
    path: Option<PathBuf>,
    state: std::sync::Mutex<ThrottleState>,
}

#[derive(Default, Serialize, Deserialize)]
struct ThrottleState {
    /// Failed logins (seconds since the epoch) of each account, within the window.
    accounts: std::collections::BTreeMap<String, Vec<i64>>,
    #[serde(skip)]
    strangers: HashMap<String, Vec<i64>>,
    #[serde(skip)]
    clients: HashMap<std::net::IpAddr, Vec<i64>>,
}

/// Failed logins that lock a user, and the window they are counted in and the lock
/// lasts.
pub const LOGIN_FAILURES: usize = 5;
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Names that are no account, and client addresses, remembered at most (the oldest
/// are forgotten first; an account never is).
const THROTTLE_NAMES: usize = 10_000;
/// Failed logins from one address within the window before each further answer is
/// slowed down, and the longest it is slowed.
const CLIENT_FAILURES: usize = 10;
const CLIENT_DELAY_MAX: std::time::Duration = std::time::Duration::from_secs(8);
/// The accounts' failures, beside the users.
const THROTTLE_FILE: &str = "logins.json";

fn epoch_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Failures within the window, oldest first.
fn recent(list: &mut Vec<i64>, now: i64) {
    list.retain(|t| now - *t < LOGIN_WINDOW.as_secs() as i64);
}

/// Keeps a bounded map bounded: first what is out of the window goes, then, if it is
/// still full, the older half (by last failure) — at once, so that a flood of names
/// costs little per name.
fn bound<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Vec<i64>>, now: i64) {
    if map.len() < THROTTLE_NAMES {
        return;
    }
    map.retain(|_, l| l.last().is_some_and(|t| now - *t < LOGIN_WINDOW.as_secs() as i64));
    if map.len() >= THROTTLE_NAMES {
        let mut lasts: Vec<i64> = map.values().map(|l| l.last().copied().unwrap_or(0)).collect();
        let (_, median, _) = lasts.select_nth_unstable(THROTTLE_NAMES / 2);
        let median = *median;
        map.retain(|_, l| l.last().copied().unwrap_or(0) > median);
    }
}

impl LoginThrottle {
    /// The throttle of a ledger directory: the accounts' failures read back from
    /// `DIR/logins.json` (a damaged file is set aside with a warning: it only slows
    /// people down).
    pub fn load(dir: &Path) -> LoginThrottle {
        let path = dir.join(THROTTLE_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "the login failures could not be read; starting afresh");
                ThrottleState::default()
            }),
            Err(_) => ThrottleState::default(),
        };
        LoginThrottle { path: Some(path), state: std::sync::Mutex::new(state) }
    }

    fn save(&self, state: &ThrottleState) {
        let Some(path) = &self.path else { return };
        let written = serde_json::to_vec(state)
            .map_err(std::io::Error::from)
            .map_err(|e| Error::storage("writing the login failures", e))
            .and_then(|bytes| crate::files::write_private(path, |w| Ok(w.write_all(&bytes)?)));
        if let Err(e) = written {
            tracing::warn!(error = %e, "the login failures could not be kept");
        }
    }

    /// How long `name`'s logins stay locked, if they are.
    pub fn locked(&self, name: &str) -> Option<std::time::Duration> {
        let now = epoch_now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let list = match state.accounts.get_mut(name) {
            Some(l) => l,
            None => state.strangers.get_mut(name)?,
        };
        recent(list, now);
        // Locked for the window after the failure that made five.
        let last = *list.last()?;
        let left = LOGIN_WINDOW.as_secs().saturating_sub((now - last).max(0) as u64);
        (list.len() >= LOGIN_FAILURES).then(|| std::time::Duration::from_secs(left.max(1)))
    }

    /// A failed login for `name`, which `account` says is one of the ledger's users,
    /// from `client` when known.
    pub fn failed(&self, name: &str, account: bool, client: Option<std::net::IpAddr>) {
        let now = epoch_now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if account {
            let list = state.accounts.entry(name.to_string()).or_default();
            recent(list, now);
            list.push(now);
        } else {
            bound(&mut state.strangers, now);
            let list = state.strangers.entry(name.to_string()).or_default();
            recent(list, now);
            list.push(now);
        }
        if let Some(ip) = client {
            bound(&mut state.clients, now);
            let list = state.clients.entry(ip).or_default();
            recent(list, now);
            list.push(now);
        }
        if account {
            state.accounts.retain(|_, l| l.last().is_some_and(|t| now - *t < LOGIN_WINDOW.as_secs() as i64));
            self.save(&state);
        }
    }

    /// An administrator lifts `name`'s lock (SPEC §21, /admin/users).
    pub fn unlock(&self, name: &str) {
        self.succeeded(name);
    }

    pub fn succeeded(&self, name: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.accounts.remove(name).is_some() {
            self.save(&state);
        }
        state.strangers.remove(name);
    }

    /// How long to hold the answer to a login from `client`: nothing until it has
    /// failed `CLIENT_FAILURES` times within the window, then doubling from a quarter
    /// of a second up to `CLIENT_DELAY_MAX`.
    pub fn slowdown(&self, client: Option<std::net::IpAddr>) -> std::time::Duration {
        let Some(ip) = client else { return std::time::Duration::ZERO };
        let now = epoch_now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = state.clients.get_mut(&ip) else { return std::time::Duration::ZERO };
        recent(list, now);
        let over = list.len().saturating_sub(CLIENT_FAILURES);
        if over == 0 {
            return std::time::Duration::ZERO;
        }
        let delay = std::time::Duration::from_millis(250).saturating_mul(1 << over.min(8) as u32);
        delay.min(CLIENT_DELAY_MAX)
    }
}

/// The client's address, as the listener accepted the connection (`ConnectInfo`): the
/// login throttle slows down an address that keeps failing.
#[derive(Clone, Copy, Debug)]
pub struct Client(pub std::net::SocketAddr);

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
    fn users_keep_only_argon2id_hashes_and_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        add_user(&path, "К-07", Role::Recorder, "верный-пароль-1").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("верный-пароль-1") && text.contains("$argon2id$"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let users = Users::new(path.clone());
        assert_eq!(
            users.verify("К-07", "верный-пароль-1").unwrap(),
            Some(User { name: "К-07".into(), role: Role::Recorder })
        );
        assert_eq!(users.verify("К-07", "неверный-пароль").unwrap(), None);
        assert_eq!(users.verify("никто", "верный-пароль-1").unwrap(), None);
        assert!(matches!(add_user(&path, "К-08", Role::Admin, "короткий"), Err(Error::Refused(..))));
        set_password(&path, "К-07", "новый-пароль-22").unwrap();
        assert_eq!(users.verify("К-07", "верный-пароль-1").unwrap(), None);
        assert!(users.verify("К-07", "новый-пароль-22").unwrap().is_some());
        remove_user(&path, "К-07").unwrap();
        assert_eq!(users.get("К-07").unwrap(), None);
    }

    #[test]
    fn five_failures_lock_a_user() {
        let t = LoginThrottle::default();
        for _ in 0..4 {
            t.failed("к", true, None);
        }
        assert!(t.locked("к").is_none());
        t.failed("к", true, None);
        assert!(t.locked("к").is_some_and(|d| d > std::time::Duration::from_secs(14 * 60)));
        assert!(t.locked("другой").is_none());
        t.succeeded("к");
        assert!(t.locked("к").is_none());
        // A name that is no account locks alike (no telling names apart).
        for _ in 0..5 {
            t.failed("никто", false, None);
        }
        assert!(t.locked("никто").is_some());
    }

    /// The review's attack: 100 000 failed logins under other names, then wrong
    /// passwords for `admin`. The account still locks after five, and a restart (a new
    /// throttle over the same directory) remembers it.
    #[test]
    fn other_names_cannot_flush_an_account_and_a_restart_remembers_it() {
        let dir = tempfile::tempdir().unwrap();
        let t = LoginThrottle::load(dir.path());
        for _ in 0..3 {
            t.failed("admin", true, None);
        }
        let attacker: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        for i in 0..100_000 {
            t.failed(&format!("имя-{i}"), false, Some(attacker));
        }
        assert!(t.state.lock().unwrap().strangers.len() <= THROTTLE_NAMES, "bounded");
        for _ in 0..2 {
            t.failed("admin", true, Some(attacker));
        }
        assert!(t.locked("admin").is_some(), "the account's failures were not flushed");
        assert_eq!(t.slowdown(Some(attacker)), CLIENT_DELAY_MAX, "the address is slowed down");
        assert_eq!(t.slowdown(Some("198.51.100.1".parse().unwrap())), std::time::Duration::ZERO);
        drop(t);
        let again = LoginThrottle::load(dir.path());
        assert!(again.locked("admin").is_some(), "a restart remembers the lock");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(THROTTLE_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        again.succeeded("admin");
        assert!(LoginThrottle::load(dir.path()).locked("admin").is_none());
    }

    #[test]
    fn names_must_be_codes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(add(&dir.path().join("t.json"), "", Role::Admin), Err(Error::Usage(_))));
    }
}
