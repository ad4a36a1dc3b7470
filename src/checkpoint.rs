//! Checkpoints, proofs and witnesses (SPEC §14), in the formats of C2SP so that tools
//! nobody here wrote can check them: the ledger's Ed25519 key and its signed notes
//! (`signed-note`, by Cloudflare's `signed_note`), checkpoints (`tlog-checkpoint`),
//! witness cosignatures (`tlog-cosignature/v1`), the witness policy file
//! (`tlog-policy`: `witness NAME VKEY URL` and `quorum N` lines) and the client of
//! `tlog-witness`'s `add-checkpoint`.
//!
//! `DIR/log.key` holds the signing key (mode 0600, never exported); `DIR/checkpoint`
//! the latest signed checkpoint with its cosignatures. The ledger never signs a
//! checkpoint its tree is not consistent with the last one, and every open checks the
//! tree against it: a ledger behind its own checkpoint, or different, is exit 3.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use signed_note::{Note, Signer, Verifier};

use crate::error::{Error, Result};
use crate::ledger::merkle::{self, Node};
use crate::ledger::tree;
use crate::ledger::Ledger;

const KEY_FILE: &str = "log.key";
const CHECKPOINT_FILE: &str = "checkpoint";
const POLICY_FILE: &str = "witnesses";
/// Signature algorithm bytes of C2SP signed-note keys.
const ALG_ED25519: u8 = 0x01;
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// How long a witness may take to answer.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest witness answer read.
const MAX_WITNESS_ANSWER: u64 = 64 * 1024;

static SIGNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn random_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Storage(format!("no randomness from the OS: {e}")))?;
    Ok(seed)
}

/// `NAME+KEYID+BASE64(alg ‖ public key)`: a C2SP verifier key.
pub fn vkey(name: &str, alg: u8, public: &ed25519_dalek::VerifyingKey) -> String {
    let key = [&[alg], public.as_bytes().as_slice()].concat();
    format!("{name}+{:08x}+{}", signed_note::key_id(name, &key), b64().encode(&key))
}

/// The key file: `PRIVATE+KEY+NAME+KEYID+BASE64(alg ‖ seed)` (Go's note format).
fn skey(name: &str, alg: u8, key: &ed25519_dalek::SigningKey) -> String {
    let public = [&[alg], key.verifying_key().as_bytes().as_slice()].concat();
    let private = [&[alg], key.to_bytes().as_slice()].concat();
    format!("PRIVATE+KEY+{name}+{:08x}+{}", signed_note::key_id(name, &public), b64().encode(private))
}

/// Reads a key file back: (name, algorithm, key).
fn read_skey(path: &Path) -> Result<(String, u8, ed25519_dalek::SigningKey)> {
    crate::ledger::keyfile::read(path)
}

fn write_key(path: &Path, text: &str) -> Result<()> {
    if path.exists() {
        return Err(Error::refused(crate::error::Refusal::new(
            None,
            format!("{} exists already; a key is made once (its checkpoints name it)", path.display()),
        )));
    }
    crate::files::write_private(path, |w| Ok(w.write_all(format!("{text}\n").as_bytes())?))
}

/// The default origin: `caseledger.local/` and 16 random hex digits.
fn default_origin() -> Result<String> {
    let r = random_seed()?;
    Ok(format!("caseledger.local/{}", &crate::codec::hex(&r)[..16]))
}

/// `key init`: makes the ledger's signing key; returns the verifier key.
pub fn key_init(dir: &Path, origin: Option<&str>) -> Result<String> {
    let origin = match origin {
        Some(o) => o.to_string(),
        None => default_origin()?,
    };
    if !signed_note::is_key_name_valid(&origin) {
        return Err(Error::Usage(format!("--origin: в «{origin}» пробел или знак «+»: в имени реестра их не бывает")));
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&random_seed()?);
    write_key(&dir.join(KEY_FILE), &skey(&origin, ALG_ED25519, &key))?;
    Ok(vkey(&origin, ALG_ED25519, &key.verifying_key()))
}

/// The ledger's signer, if it has a key.
pub struct LogKey {
    pub origin: String,
    key: ed25519_dalek::SigningKey,
}

impl LogKey {
    pub fn load(dir: &Path) -> Result<Option<LogKey>> {
        let path = dir.join(KEY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let (origin, alg, key) = read_skey(&path)?;
        if alg != ALG_ED25519 {
            return Err(Error::Storage(format!("{} is not a log key (algorithm {alg})", path.display())));
        }
        Ok(Some(LogKey { origin, key }))
    }

    pub fn vkey(&self) -> String {
        vkey(&self.origin, ALG_ED25519, &self.key.verifying_key())
    }

    fn public(&self) -> Vec<u8> {
        [&[ALG_ED25519], self.key.verifying_key().as_bytes().as_slice()].concat()
    }
}

impl Signer for LogKey {
    fn name(&self) -> &str {
        &self.origin
    }
    fn key_id(&self) -> u32 {
        signed_note::key_id(&self.origin, &self.public())
    }
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

// ---------------------------------------------------------------- checkpoints

/// A checkpoint: the body and its signed note (log signature and cosignatures).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Node,
    /// The whole signed note (body, blank line, signature lines).
    pub note: String,
}

/// The body of a checkpoint: origin, size, root (C2SP tlog-checkpoint).
pub fn body(origin: &str, size: u64, root: &Node) -> String {
    format!("{origin}\n{size}\n{}\n", merkle::b64(root))
}

impl Checkpoint {
    /// Reads a signed checkpoint's body (signatures are checked by [`verify_note`]).
    pub fn parse(note: &str) -> Result<Checkpoint> {
        let bad = |why: &str| Error::Mismatch(format!("not a checkpoint: {why}"));
        let (text, _) = note.split_once("\n\n").ok_or_else(|| bad("no signature lines"))?;
        let mut lines = text.lines();
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| bad("no origin line"))?;
        let size = lines.next().and_then(|l| l.parse::<u64>().ok()).ok_or_else(|| bad("no size line"))?;
        let root = lines.next().and_then(merkle::from_b64).ok_or_else(|| bad("no root hash line"))?;
        Ok(Checkpoint { origin: origin.to_string(), size, root, note: note.to_string() })
    }

    /// The latest checkpoint the ledger signed, if any.
    pub fn latest(dir: &Path) -> Result<Option<Checkpoint>> {
        match std::fs::read_to_string(dir.join(CHECKPOINT_FILE)) {
            Ok(t) => Checkpoint::parse(&t).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::storage("reading the checkpoint", e)),
        }
    }

    fn save(&self, dir: &Path) -> Result<()> {
        crate::files::write_atomically(&dir.join(CHECKPOINT_FILE), |w| Ok(w.write_all(self.note.as_bytes())?))
    }
}

/// Checks a signed checkpoint's text against the grammar of C2SP signed-note and
/// tlog-checkpoint, exactly (SPEC §19): the three body lines — origin, size in decimal
/// without leading zeros, root as base64 of 32 bytes — a blank line, then one or more
/// signature lines `— NAME BASE64`, each ending in a newline; no carriage return, no
/// trailing space, no other line, no signature line twice. The first thing wrong.
pub fn strict_note(note: &str) -> std::result::Result<(), String> {
    let bad = |why: String| Err(format!("контрольная точка записана не по правилам C2SP: {why}"));
    if note.contains('\r') {
        return bad("в ней есть возврат каретки (CR)".into());
    }
    let Some((body, sigs)) = note.split_once("\n\n") else { return bad("нет строк подписей".into()) };
    let lines: Vec<&str> = body.split('\n').collect();
    let [origin, size, root] = lines[..] else {
        return bad(format!("в теле {} строк, а должно быть три", lines.len()));
    };
    if origin.is_empty() || origin.contains(char::is_whitespace) || origin.contains('+') {
        return bad(format!("имя журнала «{origin}»"));
    }
    let canonical_size = size.parse::<u64>().is_ok_and(|n| n.to_string() == size);
    if !canonical_size {
        return bad(format!("размер «{size}» — не десятичное число без лишних нулей"));
    }
    if b64().decode(root).ok().filter(|r| r.len() == 32).is_none_or(|r| b64().encode(&r) != root) {
        return bad("корень дерева — не base64 32 байт".into());
    }
    if !sigs.ends_with('\n') {
        return bad("последняя строка подписи не кончается переводом строки".into());
    }
    let mut seen = std::collections::HashSet::new();
    for line in sigs[..sigs.len() - 1].split('\n') {
        let Some((name, sig)) = line.strip_prefix("— ").and_then(|l| l.split_once(' ')) else {
            return bad(format!("строка «{line}» — не подпись «— ИМЯ BASE64»"));
        };
        let sig_ok = b64().decode(sig).is_ok_and(|raw| raw.len() > 4 && b64().encode(&raw) == sig);
        if name.is_empty() || name.contains('+') || !sig_ok {
            return bad(format!("строка подписи «{line}»"));
        }
        // One signature per key: a reader checks the first and skips the rest, so a
        // second could say anything.
        if !seen.insert((name, key_id_of(sig))) {
            return bad(format!("подпись ключа «{name}» повторена"));
        }
    }
    Ok(())
}

/// A verifier for a C2SP vkey of type 0x01 (a log's key) or 0x04 (a witness's
/// cosignature/v1 key).
pub struct KeyVerifier {
    name: String,
    id: u32,
    alg: u8,
    key: ed25519_dalek::VerifyingKey,
}

impl KeyVerifier {
    pub fn parse(vkey: &str) -> Result<KeyVerifier> {
        let bad = || Error::Usage(format!("«{vkey}» — не ключ проверки вида ИМЯ+KEYID+BASE64"));
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        // The key ID exactly as C2SP writes it: eight lowercase hex digits.
        if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| bad())?;
        let bytes = b64().decode(key).map_err(|_| bad())?;
        let (alg, public) = bytes.split_first().ok_or_else(bad)?;
        let key = ed25519_dalek::VerifyingKey::try_from(public).map_err(|_| bad())?;
        if signed_note::key_id(name, &bytes) != id || !matches!(*alg, ALG_ED25519 | ALG_COSIGNATURE_V1) {
            return Err(bad());
        }
        Ok(KeyVerifier { name: name.to_string(), id, alg: *alg, key })
    }

    pub fn is_cosigner(&self) -> bool {
        self.alg == ALG_COSIGNATURE_V1
    }
}

impl Verifier for KeyVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        let (signed, sig) = match self.alg {
            // timestamp u64 BE ‖ signature, over `cosignature/v1\ntime T\n` ‖ body.
            ALG_COSIGNATURE_V1 => {
                let Some((ts, sig)) = sig.split_first_chunk::<8>() else { return false };
                let t = u64::from_be_bytes(*ts);
                let mut m = format!("cosignature/v1\ntime {t}\n").into_bytes();
                m.extend_from_slice(msg);
                (m, sig)
            }
            _ => (msg.to_vec(), sig),
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else { return false };
        self.key.verify(&signed, &sig).is_ok()
    }
}

/// Which signatures of a signed note verify: the names of the keys among `keys` that
/// signed it (a signature by an unknown key is ignored; one that fails is refused).
pub fn verify_note(note: &str, keys: Vec<KeyVerifier>) -> Result<Vec<String>> {
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| Error::Mismatch(format!("not a signed note: {e}")))?;
    let list = signed_note::VerifierList::new(keys.into_iter().map(|k| Box::new(k) as Box<dyn Verifier>).collect());
    match parsed.verify(&list) {
        Ok((verified, _)) => Ok(verified.iter().map(|s| s.name().to_string()).collect()),
        Err(signed_note::NoteError::UnverifiedNote) => Ok(Vec::new()),
        Err(e) => Err(Error::Mismatch(format!("a signature does not verify: {e}"))),
    }
}

// ---------------------------------------------------------------- witnesses

/// One line `witness NAME VKEY URL` of the policy.
#[derive(Debug, Clone)]
pub struct Witness {
    pub name: String,
    pub vkey: String,
    pub url: String,
}

/// `DIR/witnesses` (C2SP tlog-policy): the witnesses and how many must cosign.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub witnesses: Vec<Witness>,
    pub quorum: usize,
}

impl Policy {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(POLICY_FILE)
    }

    pub fn parse(text: &str) -> Result<Policy> {
        let mut p = Policy::default();
        let mut quorum = None;
        for (i, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let bad = || {
                Error::Usage(format!(
                    "witnesses, строка {}: «{line}»: ожидается `witness NAME VKEY URL`, `log VKEY` или `quorum N`",
                    i + 1
                ))
            };
            match words.as_slice() {
                [] => {}
                [c, ..] if c.starts_with('#') => {}
                ["witness", name, vkey, url] => {
                    let v = KeyVerifier::parse(vkey)?;
                    if v.name != *name || !v.is_cosigner() {
                        return Err(Error::Usage(format!(
                            "witnesses, строка {}: ключ {name} — не ключ `cosignature/v1` с именем {name}",
                            i + 1
                        )));
                    }
                    if p.witnesses.iter().any(|w| w.name == *name || w.vkey == *vkey) {
                        return Err(Error::Usage(format!("witnesses, строка {}: {name} назван дважды", i + 1)));
                    }
                    p.witnesses.push(Witness { name: name.to_string(), vkey: vkey.to_string(), url: url.to_string() });
                }
                ["log", _] | ["log", _, _] => {}
                ["quorum", n] if n.bytes().all(|b| b.is_ascii_digit()) => {
                    quorum = Some(n.parse::<usize>().map_err(|_| bad())?)
                }
                _ => return Err(bad()),
            }
        }
        p.quorum = quorum.unwrap_or(p.witnesses.len());
        if p.quorum > p.witnesses.len() {
            return Err(Error::Usage(format!(
                "witnesses: кворум {}, а свидетелей только {}",
                p.quorum,
                p.witnesses.len()
            )));
        }
        Ok(p)
    }

    pub fn load(dir: &Path) -> Result<Policy> {
        match std::fs::read_to_string(Policy::path(dir)) {
            Ok(t) => Policy::parse(&t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
            Err(e) => Err(Error::storage("reading the witnesses file", e)),
        }
    }

    /// The log's verifier key named by a `log VKEY` line (a bundle's policy has one).
    pub fn log_key(text: &str) -> Option<String> {
        text.lines().find_map(|l| l.strip_prefix("log ")).and_then(|k| k.split_whitespace().next()).map(String::from)
    }

    /// The policy as C2SP tlog-policy text (a bundle carries it).
    pub fn to_text(&self, log_vkey: &str) -> String {
        let mut out = format!("log {log_vkey}\n");
        for w in &self.witnesses {
            out.push_str(&format!("witness {} {} {}\n", w.name, w.vkey, w.url));
        }
        out.push_str(&format!("quorum {}\n", self.quorum));
        out
    }
}

/// What a witness said to a checkpoint.
#[derive(Debug)]
pub enum WitnessAnswer {
    /// Its cosignature line(s).
    Cosigned(String),
    /// It holds a different tree (a bad proof, or another root at a size it saw).
    Inconsistent(String),
    /// It could not be asked, or answered something else.
    Unavailable(String),
}

/// Sends the checkpoint to one witness (C2SP tlog-witness `add-checkpoint`), with a
/// consistency proof from the size it holds; when it says it holds another size
/// (409), asks again once from that size.
pub fn ask_witness(ledger: &Ledger, w: &Witness, cp: &Checkpoint, from: u64) -> WitnessAnswer {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(WITNESS_TIMEOUT)).build().into();
    let url = format!("{}/add-checkpoint", w.url.trim_end_matches('/'));
    let mut old = from.min(cp.size);
    for _ in 0..2 {
        let proof = match tree::consistency(ledger.store(), old, cp.size) {
            Ok(p) => p,
            Err(e) => return WitnessAnswer::Unavailable(e.to_string()),
        };
        let mut body = format!("old {old}\n");
        for h in &proof {
            body.push_str(&merkle::b64(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&cp.note);
        let answer = agent.post(&url).content_type("text/plain").send(body.as_bytes());
        let mut res = match answer {
            Ok(r) => r,
            Err(e) => return WitnessAnswer::Unavailable(format!("{} ({}): {e}", w.name, w.url)),
        };
        let status = res.status().as_u16();
        let text = res.body_mut().with_config().limit(MAX_WITNESS_ANSWER).read_to_string().unwrap_or_default();
        match status {
            200 => return WitnessAnswer::Cosigned(text),
            409 => {
                let theirs = text.trim().parse::<u64>().ok();
                match theirs {
                    Some(t) if t > cp.size => {
                        return WitnessAnswer::Inconsistent(format!(
                            "{} has seen this log at size {t}, larger than this ledger's {}",
                            w.name, cp.size
                        ))
                    }
                    Some(t) if t != old => old = t,
                    Some(_) => {
                        return WitnessAnswer::Inconsistent(format!(
                            "{} says it holds another tree of size {old} than this ledger",
                            w.name
                        ))
                    }
                    None => {
                        return WitnessAnswer::Unavailable(format!(
                            "{} answered 409 without a size: {}",
                            w.name,
                            text.trim().chars().take(200).collect::<String>()
                        ))
                    }
                }
            }
            422 => {
                return WitnessAnswer::Inconsistent(format!(
                "{} refused the consistency proof from size {old}: its tree of that size differs from this ledger's",
                w.name
            ))
            }
            other => return WitnessAnswer::Unavailable(format!("{} answered {other}: {}", w.name, text.trim())),
        }
    }
    WitnessAnswer::Unavailable(format!("{} keeps answering 409", w.name))
}

/// What signing and witnessing a checkpoint gave.
#[derive(Debug)]
pub struct Signed {
    pub checkpoint: Checkpoint,
    /// Witnesses that cosigned.
    pub cosigned: Vec<String>,
    pub quorum: usize,
    /// Witnesses that proved the ledger inconsistent, and those that did not answer.
    pub inconsistent: Vec<String>,
    pub unavailable: Vec<String>,
    /// Why it covers less than the ledger holds (mirrors behind), when it does.
    pub held_back: Option<String>,
}

/// `caseledger checkpoint`: signs a checkpoint of the current head (or takes the
/// latest one when the ledger has not grown), sends it to the witnesses, keeps the
/// cosignatures. Never signs a tree its last checkpoint is not a prefix of.
pub fn sign(ledger: &Ledger, dir: &Path) -> Result<Signed> {
    let key = LogKey::load(dir)?.ok_or_else(|| {
        Error::Usage(format!("у {} нет ключа подписи: выполните `caseledger key init`", dir.display()))
    })?;
    let policy = Policy::load(dir)?;
    // One signer at a time in this process (serve's timer, reports, the command);
    // sled keeps other processes out of the ledger.
    let _one = SIGNING.lock().unwrap_or_else(|e| e.into_inner());
    // Only what is acknowledged (durable in both copies): the head moves before the
    // journal's fsync, and a checkpoint must never cover an event that could vanish.
    let (size, held_back) = coverable(ledger, dir)?;
    if let (0, Some(why)) = (size, &held_back) {
        return Err(Error::Storage(why.clone()));
    }
    let root = tree::root(ledger.store(), size)?;
    let last = Checkpoint::latest(dir)?;
    if let Some(l) = &last {
        check_against(ledger, l)?;
    }
    let checkpoint = match last.filter(|l| l.size >= size) {
        Some(same) => same,
        None => {
            let text = body(&key.origin, size, &root);
            let mut note = Note::new(text.as_bytes(), &[]).map_err(|e| Error::Storage(format!("signing: {e}")))?;
            note.add_sigs(&[&key]).map_err(|e| Error::Storage(format!("signing: {e}")))?;
            let cp = Checkpoint {
                origin: key.origin.clone(),
                size,
                root,
                note: String::from_utf8(note.to_bytes()).expect("a note is UTF-8"),
            };
            cp.save(dir)?;
            cp
        }
    };
    let mut signed = witness(ledger, dir, &policy, checkpoint)?;
    signed.held_back = held_back;
    Ok(signed)
}

/// How many events a checkpoint may cover now (SPEC §13, §20): only what is
/// acknowledged (durable in both copies: the head moves before the journal's fsync),
/// and, when config.toml names mirrors, only what every one of them has said it holds
/// — so a ledger restored from a mirror is never behind what witnesses have seen.
/// With the reason, in Russian, when the mirrors hold it back.
pub fn coverable(ledger: &Ledger, dir: &Path) -> Result<(u64, Option<String>)> {
    let size = ledger.acknowledged_seq();
    let mirrors = crate::config::Config::load(dir)?.mirrors;
    match crate::mirror::heads::floor(dir, &mirrors) {
        Some((floor, name)) if floor < size => Ok((
            floor,
            Some(format!(
                "зеркало {name} хранит {} из {size}: контрольная точка для свидетелей покрывает только то,                  что есть у каждого зеркала из config.toml (mirrors)",
                crate::domain::words::plural(floor, ("событие", "события", "событий"))
            )),
        )),
        _ => Ok((size, None)),
    }
}

/// Collects the witnesses' cosignatures of a checkpoint and keeps them with it.
fn witness(ledger: &Ledger, dir: &Path, policy: &Policy, mut cp: Checkpoint) -> Result<Signed> {
    let mut signed = Signed {
        checkpoint: cp.clone(),
        cosigned: Vec::new(),
        quorum: policy.quorum,
        inconsistent: Vec::new(),
        unavailable: Vec::new(),
        held_back: None,
    };
    let keys = |names: &[&Witness]| -> Result<Vec<KeyVerifier>> {
        names.iter().map(|w| KeyVerifier::parse(&w.vkey)).collect()
    };
    let already = verify_note(&cp.note, keys(&policy.witnesses.iter().collect::<Vec<_>>())?)?;
    let mut lines = String::new();
    let mut answers: Vec<(String, std::result::Result<(), String>)> = Vec::new();
    // Every witness is asked, even one whose cosignature the checkpoint already has:
    // a witness that has seen a larger tree of this log is how a ledger directory
    // restored whole from an older copy (its checkpoint file with it) is found out.
    for w in &policy.witnesses {
        let has = already.contains(&w.name);
        let from = last_witnessed(dir, &w.name);
        let answer = ask_witness(ledger, w, &cp, from);
        answers.push((
            w.name.clone(),
            match &answer {
                WitnessAnswer::Cosigned(_) => Ok(()),
                WitnessAnswer::Inconsistent(why) | WitnessAnswer::Unavailable(why) => Err(why.clone()),
            },
        ));
        match answer {
            WitnessAnswer::Cosigned(_) if has => signed.cosigned.push(w.name.clone()),
            WitnessAnswer::Cosigned(text) => {
                // Only this witness's own line (its name and key ID), and only when it
                // verifies: anything else it answered is dropped, so a witness cannot
                // put another key's signature into the ledger's checkpoint.
                let verifier = KeyVerifier::parse(&w.vkey)?;
                let own = text.lines().find(|l| {
                    l.strip_prefix("— ")
                        .and_then(|l| l.split_once(' '))
                        .is_some_and(|(name, sig)| name == w.name && key_id_of(sig) == Some(verifier.key_id()))
                });
                let candidate = own.map(|l| format!("{}{l}\n", cp.note));
                let ok =
                    candidate.as_deref().map(|c| verify_note(c, vec![verifier]).is_ok_and(|v| v.contains(&w.name)));
                if let (Some(true), Some(line)) = (ok, own) {
                    lines.push_str(line);
                    lines.push('\n');
                    remember_witnessed(dir, &w.name, cp.size);
                    signed.cosigned.push(w.name.clone());
                } else {
                    signed.unavailable.push(format!("{} answered a cosignature that does not verify", w.name));
                }
            }
            WitnessAnswer::Inconsistent(why) => signed.inconsistent.push(why),
            // Its earlier cosignature of this very checkpoint still counts.
            WitnessAnswer::Unavailable(_) if has => signed.cosigned.push(w.name.clone()),
            WitnessAnswer::Unavailable(why) => signed.unavailable.push(why),
        }
    }
    if !lines.is_empty() {
        cp.note.push_str(&lines);
        cp.save(dir)?;
    }
    if let Err(e) = crate::health::record_witnesses(dir, &answers) {
        tracing::warn!(error = %e, "keeping the witnesses' answers failed");
    }
    signed.checkpoint = cp;
    Ok(signed)
}

/// The key ID a signature line's base64 starts with.
pub fn key_id_of(sig_b64: &str) -> Option<u32> {
    let raw = b64().decode(sig_b64.trim()).ok()?;
    raw.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The size each witness last cosigned, as this ledger remembers it
/// (`DIR/witnessed`, one `NAME SIZE` line each; only a hint: a witness's 409 says
/// the truth).
fn last_witnessed(dir: &Path, name: &str) -> u64 {
    std::fs::read_to_string(dir.join("witnessed"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(n, _)| *n == name)
        .and_then(|(_, s)| s.trim().parse().ok())
        .unwrap_or(0)
}

fn remember_witnessed(dir: &Path, name: &str, size: u64) {
    let path = dir.join("witnessed");
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split_once(' ').is_some_and(|(n, _)| n != name))
        .map(String::from)
        .collect();
    lines.push(format!("{name} {size}"));
    let text = lines.join("\n") + "\n";
    if let Err(e) = crate::files::write_atomically(&path, |w| Ok(w.write_all(text.as_bytes())?)) {
        tracing::warn!(error = %e, "could not remember what the witnesses cosigned");
    }
}

/// Checks the ledger against a checkpoint it signed: not behind it, and the same tree
/// up to its size (exit 3 otherwise).
pub fn check_against(ledger: &Ledger, cp: &Checkpoint) -> Result<()> {
    tree::check_prefix(ledger.store(), cp.size, cp.root)
}

// ---------------------------------------------------------------- the witness

/// A witness's own key, cosignature/v1 (type 0x04).
pub struct WitnessKey {
    pub name: String,
    key: ed25519_dalek::SigningKey,
}

impl WitnessKey {
    pub fn init(dir: &Path, name: &str) -> Result<String> {
        if !signed_note::is_key_name_valid(name) {
            return Err(Error::Usage(format!("--name: в «{name}» пробел или знак «+»")));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::storage(&format!("creating {}", dir.display()), e))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&random_seed()?);
        write_key(&dir.join("witness.key"), &skey(name, ALG_COSIGNATURE_V1, &key))?;
        Ok(vkey(name, ALG_COSIGNATURE_V1, &key.verifying_key()))
    }

    pub fn load(dir: &Path) -> Result<WitnessKey> {
        let (name, alg, key) = read_skey(&dir.join("witness.key"))?;
        if alg != ALG_COSIGNATURE_V1 {
            return Err(Error::Storage("witness.key is not a cosignature/v1 key".into()));
        }
        Ok(WitnessKey { name, key })
    }

    pub fn vkey(&self) -> String {
        vkey(&self.name, ALG_COSIGNATURE_V1, &self.key.verifying_key())
    }

    /// The cosignature line of a checkpoint body at `time` (seconds since the epoch).
    pub fn cosign(&self, body: &str, time: u64) -> String {
        use ed25519_dalek::Signer as _;
        let mut msg = format!("cosignature/v1\ntime {time}\n").into_bytes();
        msg.extend_from_slice(body.as_bytes());
        let sig = self.key.sign(&msg);
        let public = [&[ALG_COSIGNATURE_V1], self.key.verifying_key().as_bytes().as_slice()].concat();
        let id = signed_note::key_id(&self.name, &public);
        let mut blob = id.to_be_bytes().to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("— {} {}\n", self.name, b64().encode(blob))
    }
}

// ---------------------------------------------------------------- reports

/// What a report carries of §14: the latest checkpoint whose size is at least `seq`
/// (signing a fresh one, witnessed as far as the witnesses answer, when the latest is
/// older), and the consistency proof from `seq` to its size. `None` when the ledger
/// has no signing key.
pub fn for_report(ledger: &Ledger, seq: u64) -> Result<Option<(Checkpoint, Vec<Node>)>> {
    let dir = ledger.store().dir().to_path_buf();
    if LogKey::load(&dir)?.is_none() {
        return Ok(None);
    }
    // Through `sign`, under its lock: the latest checkpoint when it covers `seq`, else a
    // new one; either way the witnesses are asked, so one that was down at the last
    // round cosigns it now.
    let s = sign(ledger, &dir)?;
    if !s.inconsistent.is_empty() {
        return Err(Error::Lost(format!("a witness holds another history: {}", s.inconsistent.join("; "))));
    }
    for why in &s.unavailable {
        tracing::warn!(witness = %why, "a witness did not cosign the report's checkpoint");
    }
    let cp = s.checkpoint;
    if cp.size < seq {
        return Err(Error::Storage(format!(
            "the ledger's latest checkpoint covers {} events, the report {seq}: try again in a moment",
            cp.size
        )));
    }
    let proof = tree::consistency(ledger.store(), seq, cp.size)?;
    Ok(Some((cp, proof)))
}

/// What `report verify` finds of a report's checkpoint against the ledger: the
/// failures (empty: it holds), and the witnesses that cosigned it.
pub fn check_report(ledger: &Ledger, seq: u64, note: &str, proof: &[Node]) -> (Vec<String>, Vec<String>) {
    let (cp, mut failures, cosigned) = match check_signed(ledger, note) {
        Ok(x) => x,
        Err(e) => return (vec![e], Vec::new()),
    };
    if seq > cp.size {
        failures.push(format!("the checkpoint's size {} is smaller than the report's ledger.seq {seq}", cp.size));
        return (failures, Vec::new());
    }
    // The tree of the report's own prefix, from the ledger's events (whose event at
    // `seq` the report's `head` has already matched).
    match tree::root(ledger.store(), seq) {
        Ok(old_root) => {
            if !merkle::check_consistency(proof, cp.size, cp.root, seq, old_root) {
                failures.push(format!(
                    "the consistency proof from size {seq} to the checkpoint's size {} does not verify",
                    cp.size
                ));
            }
        }
        Err(e) => failures.push(format!("the ledger's tree at size {seq}: {e}")),
    }
    (failures, cosigned)
}

/// A checkpoint against the ledger: signed by its key, and today's ledger has its
/// root at its size. The checkpoint, the failures, and the witnesses (of the ledger's
/// policy) whose cosignatures verify; `Err` when it is not a checkpoint at all.
pub fn check_signed(
    ledger: &Ledger,
    note: &str,
) -> std::result::Result<(Checkpoint, Vec<String>, Vec<String>), String> {
    let mut failures = Vec::new();
    let dir = ledger.store().dir();
    let cp = Checkpoint::parse(note).map_err(|e| format!("checkpoint: {e}"))?;
    match LogKey::load(dir) {
        Ok(Some(key)) => {
            let signed = KeyVerifier::parse(&key.vkey()).and_then(|k| verify_note(note, vec![k]));
            if !signed.is_ok_and(|names| names.contains(&key.origin)) {
                failures.push(format!("the checkpoint is not signed by this ledger's key ({})", key.vkey()));
            }
        }
        Ok(None) => failures.push("the ledger has no signing key to check the report's checkpoint with".into()),
        Err(e) => failures.push(format!("the ledger's key: {e}")),
    }
    if let Err(e) = check_against(ledger, &cp) {
        failures.push(format!("today's ledger is not consistent with the report's checkpoint: {e}"));
    }
    let witnesses = Policy::load(dir)
        .ok()
        .map(|p| p.witnesses.iter().filter_map(|w| KeyVerifier::parse(&w.vkey).ok()).collect::<Vec<_>>())
        .unwrap_or_default();
    let cosigned = if witnesses.is_empty() { Vec::new() } else { verify_note(note, witnesses).unwrap_or_default() };
    Ok((cp, failures, cosigned))
}

// ---------------------------------------------------------------- proofs as JSON

fn size_or_head(ledger: &Ledger, size: Option<u64>) -> Result<u64> {
    let head = ledger.head().seq;
    let size = size.unwrap_or(head);
    if size > head {
        return Err(Error::Usage(format!("--size {size}: в реестре {head} событий")));
    }
    Ok(size)
}

/// `proof inclusion SEQ [--size N] --json` (SPEC §14).
pub fn inclusion_json(ledger: &Ledger, seq: u64, size: Option<u64>) -> Result<serde_json::Value> {
    let size = size_or_head(ledger, size)?;
    if seq == 0 || seq > size {
        return Err(Error::Usage(format!("события № {seq} нет в дереве размера {size}")));
    }
    let event = ledger.record(seq)?.ok_or_else(|| Error::Integrity { seq, reason: "the event is missing".into() })?;
    let hashes = tree::inclusion(ledger.store(), seq, size)?;
    let root = tree::root(ledger.store(), size)?;
    Ok(serde_json::json!({
        "index": seq - 1,
        "size": size,
        "leaf": crate::codec::hex(&event.hash),
        "root": merkle::b64(&root),
        "hashes": hashes.iter().map(merkle::b64).collect::<Vec<_>>(),
    }))
}

/// `proof consistency OLD [--size N] --json` (SPEC §14).
pub fn consistency_json(ledger: &Ledger, old: u64, size: Option<u64>) -> Result<serde_json::Value> {
    let size = size_or_head(ledger, size)?;
    if old > size {
        return Err(Error::Usage(format!("старый размер {old} больше размера дерева {size}")));
    }
    let hashes = tree::consistency(ledger.store(), old, size)?;
    Ok(serde_json::json!({
        "old": old,
        "size": size,
        "old_root": merkle::b64(&tree::root(ledger.store(), old)?),
        "root": merkle::b64(&tree::root(ledger.store(), size)?),
        "hashes": hashes.iter().map(merkle::b64).collect::<Vec<_>>(),
    }))
}
