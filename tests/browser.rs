//! The web workspace in a real Chromium (Debian's `/usr/bin/chromium`, driven by the
//! pinned `playwright-core` of `tests/browser/package-lock.json`; no browser download):
//! the curator's journey of `tests/browser/curator.mjs`, axe-core on every page,
//! screenshots in `target/screenshots/`. Ignored by default (it needs Node.js, npm and
//! Chromium); `.ci/run` runs it: `cargo test --release --test browser -- --ignored`.

use std::path::Path;
use std::process::Command;

/// Runs one journey script with node and returns what it printed.
fn journey(script: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let s = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).status().expect("npm");
        assert!(s.success(), "npm ci failed");
    }
    let out = Command::new("node")
        .arg(dir.join(script))
        .env("CASELEDGER_BIN", env!("CARGO_BIN_EXE_caseledger"))
        .env("SCREENSHOTS", root.join("target/screenshots"))
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");
    stdout
}

#[test]
#[ignore = "needs Node.js, npm and Debian's chromium (CI installs them)"]
fn the_curators_journey_in_chromium() {
    let stdout = journey("curator.mjs");
    assert!(stdout.contains("curator journey: 11 events stored as К-07"), "{stdout}");
}

#[test]
#[ignore = "needs Node.js, npm and Debian's chromium (CI installs them)"]
fn the_auditors_journey_in_chromium() {
    let stdout = journey("auditor.mjs");
    assert!(
        stdout.contains("auditor journey: amendment № 757 by методист found; chain of 764 events verified"),
        "{stdout}"
    );
}

#[test]
#[ignore = "needs Node.js, npm and Debian's chromium (CI installs them)"]
fn the_methodists_journey_in_chromium() {
    let stdout = journey("methodist.mjs");
    // Seed 001: P1 is 16 of 29 as known 31.01.2021.
    assert!(
        stdout.contains("methodist journey: 15 figures equal indicators --json (then and now); P1 counts 16"),
        "{stdout}"
    );
}
