//! Runs the real binary under GNU time (`/usr/bin/time -v`): wall time, peak RSS and
//! what it printed. Shared by the benchmarks that go through the command line (each
//! uses a part of it).
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

pub struct Measured {
    pub seconds: f64,
    pub peak_mib: f64,
    pub stdout: Vec<u8>,
}

/// `caseledger ARGS…` with `stdin` (or none); panics if it fails.
pub fn measure(args: &[&str], stdin: Option<&[u8]>) -> Measured {
    measure_bin(env!("CARGO_BIN_EXE_caseledger"), args, stdin)
}

/// [`measure`] of another build of the binary (to compare builds in one run).
pub fn measure_bin(bin: &str, args: &[&str], stdin: Option<&[u8]>) -> Measured {
    let stats = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(stats.path())
        .arg(bin)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("GNU time at /usr/bin/time (Debian's package time)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?} failed");
    let text = std::fs::read_to_string(stats.path()).unwrap();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.rsplit(": ").next())
            .unwrap()
            .trim()
            .to_string()
    };
    let wall = field("Elapsed (wall clock) time");
    let seconds = wall.split(':').fold(0.0, |acc, part| acc * 60.0 + part.parse::<f64>().unwrap());
    let peak_mib = field("Maximum resident set size").parse::<f64>().unwrap() / 1024.0;
    Measured { seconds, peak_mib, stdout: out.stdout }
}
