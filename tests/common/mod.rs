//! Helpers for end-to-end tests of the `caseledger` binary. Test data uses
//! pseudonymous codes only (Ф… families, Р… children, С… signals).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_caseledger")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `caseledger --ledger DIR ARGS…` with `stdin` as input.
pub fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(bin())
        .arg("--ledger")
        .arg(dir)
        .args(args)
        .env_remove("CASELEDGER_DIR")
        .env("CASELEDGER_ACTOR", "тест-куратор")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn caseledger");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    Run::from(out)
}

/// A fresh ledger directory, initialised.
pub fn new_ledger() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let r = run(&dir, &["init"], b"");
    assert_eq!(r.code, 0, "init: {}", r.stderr);
    (tmp, dir)
}

/// `n` valid input events about pseudonymous signals, with fixed ids derived from
/// `tag` so that a batch can be retried.
pub fn signals(tag: u32, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":\"{}\",\"type\":\"signal_received\",\"occurred_on\":\"2021-03-01\",\"data\":{{\"signal\":\"С-{tag}-{i}\",\"family\":\"Ф{i}\",\"channel\":\"phone\"}}}}\n",
                uuid::Uuid::from_u128((u128::from(tag) << 64) | i as u128 | (1 << 76))
            )
        })
        .collect()
}

/// Event count and head as `verify --json` reports them.
pub fn verified(dir: &Path) -> (u64, String) {
    let r = run(dir, &["verify", "--json"], b"");
    assert_eq!(r.code, 0, "verify: {} {}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    (v["seq"].as_u64().unwrap(), v["head"].as_str().unwrap().to_string())
}

/// The stored events, parsed from `log --json`.
pub fn events(dir: &Path) -> Vec<serde_json::Value> {
    let r = run(dir, &["log", "--json"], b"");
    assert_eq!(r.code, 0, "log: {}", r.stderr);
    r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}
pub mod server;

/// Opens a ledger's sled store directly (to tamper with it), with the segment size
/// the ledger creates stores with (sled refuses any other).
#[allow(dead_code)]
pub fn open_store(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir.join("sled"))
        .segment_size(caseledger::limits::SLED_SEGMENT_BYTES)
        .open()
        .expect("open sled directly")
}

/// Whether checks that need something outside the repository (Python packages, root
/// to mount a filesystem) must run: `.ci/run` sets `CASELEDGER_CI=1`, so there a
/// missing prerequisite fails the test; a user's plain `cargo test` skips them,
/// saying so on stderr.
pub fn required_everywhere() -> bool {
    std::env::var_os("CASELEDGER_CI").is_some_and(|v| v == "1")
}

/// Whether `python3` can run `tools/verify_bundle.py` (it needs `blake3`, `rfc8785`
/// and `cryptography`). Without them the Python half of a check is skipped with a
/// note, except under CI, where it fails.
pub fn python_verifier_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *AVAILABLE.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import blake3, rfc8785, cryptography"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !ok {
        assert!(
            !required_everywhere(),
            "CASELEDGER_CI=1 but python3 lacks blake3/rfc8785/cryptography (pip install blake3 rfc8785 cryptography)"
        );
        eprintln!("note: the Python verifier's half of this check is skipped: pip install blake3 rfc8785 cryptography");
    }
    ok
}

/// Asserts a run succeeded, showing its output when not.
pub fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}{}", r.stdout, r.stderr);
}

/// `import-table NAME FILE EXTRA…` on the ledger in `dir`.
pub fn import(dir: &Path, name: &str, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["import-table", name, file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(dir, &args, b"")
}

/// The ledger's head seq, verified.
pub fn head(dir: &Path) -> u64 {
    verified(dir).0
}

/// A `witness serve` child (killed when dropped) and its address.
pub struct Witness(pub std::process::Child, pub String);

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A witness named `name`, its key in `root/name`, cosigning the log `log_vkey`; with
/// its verifier key.
pub fn witness(root: &Path, name: &str, log_vkey: &str) -> (Witness, String) {
    use std::io::{BufRead, BufReader};
    let wdir = root.join(name);
    let init = Command::new(bin())
        .args(["witness", "init", "--dir", wdir.to_str().unwrap(), "--name", name])
        .output()
        .unwrap();
    assert!(init.status.success());
    let vkey = String::from_utf8(init.stdout).unwrap().trim().to_string();
    let mut child = Command::new(bin())
        .args(["witness", "serve", "--dir", wdir.to_str().unwrap(), "--addr", "127.0.0.1:0", "--log", log_vkey])
        .env("CASELEDGER_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap().to_string();
    (Witness(child, addr), vkey)
}
