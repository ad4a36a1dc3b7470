//! `caseledger mirror` (SPEC §13) against a real `serve` on 127.0.0.1: a copy that
//! follows the source, survives the source being killed mid-pull (and itself being
//! killed), and refuses a source whose history differs, writing nothing.

mod common;
use common::server::{token, Server};
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mirror_cmd(dir: &Path, url: &str, token_file: &Path, every: Option<&str>) -> Command {
    let mut c = Command::new(bin());
    c.arg("--ledger").arg(dir).args(["mirror", "--from", url, "--token-file"]).arg(token_file);
    if let Some(e) = every {
        c.args(["--every", e]);
    }
    c.env_remove("CASELEDGER_DIR").stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn export(dir: &Path) -> String {
    let r = run(dir, &["export"], b"");
    assert_eq!(r.code, 0, "export: {}", r.stderr);
    r.stdout
}

/// A source ledger of a generated history (about `families` × 8.6 events).
fn source(tmp: &Path, families: &str, seed: &str) -> std::path::PathBuf {
    let dir = tmp.join(format!("source-{seed}"));
    assert_eq!(run(&dir, &["init"], b"").code, 0);
    let h = run(&dir, &["gen", "--families", families, "--from", "2020", "--to", "2022", "--seed", seed], b"");
    let r = run(&dir, &["append"], h.stdout.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

#[test]
fn a_mirror_survives_the_source_killed_mid_pull_and_catches_up() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), "4000", "11");
    let tok = token(&src, "auditor-m", "auditor");
    let tok_file = tmp.path().join("token");
    std::fs::write(&tok_file, &tok).unwrap();
    let whole = export(&src);
    let mirror = tmp.path().join("mirror");

    // Kill the source at a few moments into the pull; each time the copy must verify
    // and be a prefix of the source, and the mirror must not claim success.
    let mut cut_short = 0;
    for delay_ms in [40u64, 120, 250] {
        let server = Server::start(&src);
        let child = mirror_cmd(&mirror, &format!("http://{}", server.addr), &tok_file, None).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        server.stop("KILL");
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        if out.status.code() != Some(0) {
            cut_short += 1;
            assert_eq!(out.status.code(), Some(4), "{stderr}");
            assert!(stderr.contains("cannot pull from"), "{stderr}");
        }
        if mirror.join("sled").exists() {
            let (seq, _) = verified(&mirror);
            let copy = export(&mirror);
            assert!(whole.starts_with(&copy), "the copy is not a prefix of the source");
            assert_eq!(copy.lines().count() as u64, seq);
        }
    }
    assert!(cut_short > 0, "no pull was cut short by the kill");

    // The mirror itself killed mid-pull: still a verified prefix.
    let server = Server::start(&src);
    let url = format!("http://{}", server.addr);
    let mut child = mirror_cmd(&mirror, &url, &tok_file, None).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let _ = child.kill();
    let _ = child.wait();
    verified(&mirror);
    assert!(whole.starts_with(&export(&mirror)));

    // Once the source answers, one pull completes the copy.
    let out = mirror_cmd(&mirror, &url, &tok_file, None).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(export(&mirror), whole);
    drop(server);
}

#[test]
fn a_mirror_follows_a_served_ledger_until_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), "300", "12");
    let aud = token(&src, "auditor-m", "auditor");
    let rec = token(&src, "К-07", "recorder");
    let tok_file = tmp.path().join("token");
    std::fs::write(&tok_file, &aud).unwrap();
    let server = Server::start(&src);
    let mirror = tmp.path().join("mirror");
    let mut follower = mirror_cmd(&mirror, &format!("http://{}", server.addr), &tok_file, Some("1")).spawn().unwrap();
    // New events at the source while the mirror follows.
    for i in 0..5 {
        let ev = format!(
            r#"{{"type":"signal_received","occurred_on":"2022-06-0{}","data":{{"signal":"С-М-{i}","channel":"phone"}}}}"#,
            i + 1
        );
        assert_eq!(server.post_json("/v1/events", &rec, &ev).status, 200);
        std::thread::sleep(Duration::from_millis(300));
    }
    let want = server.get("/health", &aud).json()["seq"].as_u64().unwrap();
    let started = Instant::now();
    // The mirror holds its ledger while it runs: wait on its output instead.
    let deadline = Duration::from_secs(30);
    let stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut last = 0;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.split("копия до № ").nth(1).and_then(|r| r.split(' ').next()) {
                last = n.parse().unwrap();
                if last >= want {
                    break;
                }
            }
        }
        last
    });
    while !reader.is_finished() && started.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(reader.is_finished(), "the mirror did not catch up within {deadline:?}");
    assert_eq!(reader.join().unwrap(), want);
    let s = Command::new("kill").args(["-s", "TERM", &follower.id().to_string()]).status().unwrap();
    assert!(s.success());
    let status = follower.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the mirror stops cleanly on SIGTERM");
    drop(server);
    let src_export = export(&src);
    assert_eq!(export(&mirror), src_export);
}

#[test]
fn a_source_whose_history_differs_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let a = source(tmp.path(), "200", "13");
    let tok = token(&a, "auditor-m", "auditor");
    let tok_file = tmp.path().join("token");
    std::fs::write(&tok_file, &tok).unwrap();
    let mirror = tmp.path().join("mirror");
    {
        let server = Server::start(&a);
        let out = mirror_cmd(&mirror, &format!("http://{}", server.addr), &tok_file, None).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let before = export(&mirror);
    // B shares A's first 500 events, then goes its own way.
    let b = tmp.path().join("other");
    assert_eq!(run(&b, &["init"], b"").code, 0);
    let first: String = before.lines().take(500).map(|l| format!("{l}\n")).collect();
    let imp = tmp.path().join("first.jsonl");
    std::fs::write(&imp, first).unwrap();
    assert_eq!(run(&b, &["import", imp.to_str().unwrap()], b"").code, 0);
    let other =
        r#"{"type":"signal_received","occurred_on":"2022-01-01","data":{"signal":"С-чужой","channel":"phone"}}"#;
    assert_eq!(run(&b, &["append"], other.as_bytes()).code, 0);
    let tok_b = token(&b, "auditor-m", "auditor");
    std::fs::write(&tok_file, &tok_b).unwrap();
    let server = Server::start(&b);
    let out = mirror_cmd(&mirror, &format!("http://{}", server.addr), &tok_file, None).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the source's history differs from the mirror at seq 501"), "{stderr}");
    assert_eq!(export(&mirror), before, "nothing was written");
}
