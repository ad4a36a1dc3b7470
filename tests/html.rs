//! `report html`: one self-contained page with the figures, the cut and the head, and
//! inline SVG charts; and (in CI, where Chromium is installed) a real rendering check.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

const REPLAY: &str = include_str!("../replay/mama-ryadom-2019-2020/events.jsonl");

fn page(tmp: &Path) -> (PathBuf, String) {
    let dir = tmp.join("ledger");
    assert_eq!(run(&dir, &["init"], b"").code, 0);
    assert_eq!(run(&dir, &["append"], REPLAY.as_bytes()).code, 0);
    let file = tmp.join("report-2020.html");
    let r = run(
        &dir,
        &["report", "html", "--year", "2020", "--known-at", "2021-01-31", "--out", file.to_str().unwrap()],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&file).unwrap();
    (file, html)
}

#[test]
fn the_page_is_self_contained_and_names_its_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, html) = page(tmp.path());
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"ru\">"));
    // Seed 001, 2020 as reported: P1 16 of 29, P2 18 of 20.
    let row = |cells: &[&str]| cells.iter().map(|c| format!("<td class=\"n\">{c}</td>")).collect::<String>();
    assert!(html.contains("<td>P1</td>") && html.contains(&row(&["16", "29", "55,2 %"])), "P1 row");
    assert!(html.contains(&row(&["18", "20", "90,0 %"])), "P2 row");
    assert!(html.contains("как известно на 31.01.2021"), "the cut as people write it");
    assert!(!html.contains("T23:59:59Z"));
    assert!(html.contains("последнее событие среза № "));
    assert_eq!(html.matches("role=\"img\"").count(), 2, "ЕФО dynamics and quarters");
    // The legend names the indicators in words, not by their ids.
    assert!(
        html.contains("<ul class=\"legend\">") && html.contains("в которых трудная жизненная ситуация стабилизирована")
    );
    // Nothing is fetched: no scripts, links, images or external styles.
    for needle in ["<script", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(needle), "{needle} in a self-contained page");
    }
    // The only URL is the SVG namespace.
    assert_eq!(html.matches("http").count(), html.matches("http://www.w3.org/2000/svg").count());
}

fn chromium(args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("chromium (Debian package chromium; .ci/run installs it)")
}

/// Renders the page in headless Chromium: as a screenshot, and printed to PDF whose
/// text (pdftotext) must hold the figures. Needs Debian's chromium and poppler-utils,
/// which .ci/run installs; run with `cargo test --release --test html -- --ignored`.
#[test]
#[ignore = "needs chromium and poppler-utils (installed by .ci/run)"]
fn chromium_renders_the_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = page(tmp.path());
    let url = format!("file://{}", file.display());
    let png = match std::env::var_os("CASELEDGER_SCREENSHOTS") {
        Some(d) => std::path::Path::new(&d).join("report-html.png"),
        None => tmp.path().join("page.png"),
    };
    let out = chromium(&["--window-size=1100,1500", &format!("--screenshot={}", png.display()), &url]);
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(bytes.len() > 30_000, "a blank page would be tiny ({} bytes)", bytes.len());
    let pdf = tmp.path().join("page.pdf");
    chromium(&["--no-pdf-header-footer", &format!("--print-to-pdf={}", pdf.display()), &url]);
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    for words in [
        "Показатели социальных результатов за 01.01.2020",
        "31.12.2020",
        "55,2 %",
        "90,0 %",
        "Динамика ЕФО",
        "Доли по кварталам",
    ] {
        assert!(text.contains(words), "{words:?} not rendered; the PDF says:\n{text}");
    }
}
